//! Configuration reload under load, refused invalid configurations, the event
//! store and the admin endpoints.

use crate::common::*;
use http::Method;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BASE: &str = "[[upstreams]]\nname = \"api\"\naddresses = [\"{api}\"]\n[[routes]]\nname = \"api\"\nupstream = \"api\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_under_load_loses_no_request() {
    let h = Harness::with_config(BASE).await;
    let api = format!("http://{}", h.api_addr);
    let ok = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let stop = Instant::now() + Duration::from_secs(3);
    let mut workers = Vec::new();
    for _ in 0..4 {
        let url = h.url("/api/products");
        let (ok, failed) = (ok.clone(), failed.clone());
        workers.push(tokio::spawn(async move {
            let c = client();
            while Instant::now() < stop {
                let r = send(&c, Method::GET, &url, &[], b"").await;
                if r.status == 200 {
                    ok.fetch_add(1, Ordering::Relaxed)
                } else {
                    failed.fetch_add(1, Ordering::Relaxed)
                };
            }
        }));
    }
    for i in 0..10 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let text = format!(
            "{}\n[decision]\ninbound_threshold = {}\n",
            BASE.replace("{api}", &api),
            5 + i
        );
        std::fs::write(h.config_path(), text).expect("write");
        h.gw.reload().expect("valid reload accepted");
    }
    for w in workers {
        w.await.expect("worker");
    }
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "requests failed during reloads"
    );
    assert!(
        ok.load(Ordering::Relaxed) > 50,
        "too little load: {}",
        ok.load(Ordering::Relaxed)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_config_is_refused_and_old_keeps_serving() {
    let h = Harness::with_config(BASE).await;
    std::fs::write(
        h.config_path(),
        "[[routes]]\nname = \"api\"\nupstream = \"nope\"\nbogus_key = 1\n",
    )
    .expect("write");
    let err = h.gw.reload().expect_err("invalid config refused");
    assert!(
        err.contains("palisade.toml:4"),
        "error names file and line: {err}"
    );
    assert_eq!(get(&h.url("/api/products")).await.status, 200);
    // Through the admin endpoint too.
    let admin = h.gw.admin_addr.expect("admin");
    let r = send(
        &client(),
        Method::POST,
        &format!("http://{admin}/reload"),
        &[],
        b"",
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(metrics(&h.gw)
        .await
        .contains("palisade_config_reloads_total"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_requests_finish_on_their_config() {
    let h = Harness::with_config(BASE).await;
    let api = format!("http://{}", h.api_addr);
    let url = h.url("/api/slow?ms=800");
    let slow = tokio::spawn(async move { get(&url).await.status });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let text = format!("{}methods = [\"POST\"]\n", BASE.replace("{api}", &api));
    std::fs::write(h.config_path(), text).expect("write");
    h.gw.reload().expect("reload");
    assert_eq!(
        slow.await.expect("slow request"),
        200,
        "in-flight request kept its config"
    );
    assert_eq!(
        get(&h.url("/api/products")).await.status,
        405,
        "new requests use the new config"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_written_and_queryable() {
    let h = Harness::with_config(&format!("{BASE}methods = [\"GET\"]\n")).await;
    let c = client();
    for _ in 0..3 {
        assert_eq!(
            send(&c, Method::DELETE, &h.url("/api/orders/7"), &[], b"")
                .await
                .status,
            405
        );
    }
    assert_eq!(get(&h.url("/api/products")).await.status, 200);
    assert!(h.gw.flush_events(Duration::from_secs(5)));
    let store = palisade_events::EventStore::open(&h.events_db()).expect("store");
    let by_rule = store
        .query(&palisade_events::EventQuery {
            rule: Some("palisade.route.method".into()),
            limit: 10,
            ..Default::default()
        })
        .expect("query");
    assert_eq!(by_rule.len(), 3);
    let e = &by_rule[0];
    assert_eq!(e.event["status"], 405, "{:?}", e.event);
    assert_eq!(e.event["action"], "blocked");
    assert_eq!(e.event["client_ip"], "127.0.0.1");
    let by_ip = store
        .query(&palisade_events::EventQuery {
            ip: Some("127.0.0.1".into()),
            limit: 2,
            ..Default::default()
        })
        .expect("query");
    assert_eq!(by_ip.len(), 2, "limit honoured");
    let none = store
        .query(&palisade_events::EventQuery {
            ip: Some("10.9.9.9".into()),
            limit: 10,
            ..Default::default()
        })
        .expect("query");
    assert!(none.is_empty());
    assert!(store.verify_chain().expect("verify").is_intact());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_endpoints_and_metrics() {
    let h = Harness::with_config(&format!("{BASE}methods = [\"GET\"]\n")).await;
    let admin = h.gw.admin_addr.expect("admin");
    assert_eq!(get(&format!("http://{admin}/healthz")).await.status, 200);
    assert_eq!(get(&format!("http://{admin}/readyz")).await.status, 200);
    get(&h.url("/api/products")).await;
    send(&client(), Method::DELETE, &h.url("/api/products"), &[], b"").await;
    let m = metrics(&h.gw).await;
    for name in [
        "palisade_requests_total",
        "palisade_request_duration_seconds",
        "palisade_findings_total",
        "palisade_blocks_total",
        "palisade_connections_active",
        "palisade_inspection_duration_seconds",
    ] {
        assert!(m.contains(name), "metric {name} missing from:\n{m}");
    }
}
