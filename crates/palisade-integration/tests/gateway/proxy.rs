//! Proxying basics: forwarding, forwarding headers, hop-by-hop headers,
//! client address resolution and response hygiene.

use crate::common::*;
use http::Method;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwards_and_sets_forwarding_headers() {
    let h = Harness::new().await;
    let c = client();
    let r = send(
        &c,
        Method::GET,
        &h.url("/api/echo?x=1"),
        &[
            ("x-forwarded-for", "6.6.6.6"),
            ("connection", "keep-alive, x-hop"),
            ("x-hop", "secret"),
            ("x-keep", "yes"),
        ],
        b"",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let echo = r.json();
    let headers = &echo["headers"];
    // The client is not a trusted proxy: its X-Forwarded-For is replaced.
    assert_eq!(headers["x-forwarded-for"][0], "127.0.0.1", "{echo}");
    assert!(
        headers["forwarded"][0]
            .as_str()
            .unwrap_or("")
            .starts_with("for=127.0.0.1;proto=http"),
        "{echo}"
    );
    assert!(
        headers.get("x-hop").is_none() || headers["x-hop"].is_null(),
        "hop-by-hop header forwarded: {echo}"
    );
    assert_eq!(headers["x-keep"][0], "yes");
    let rid = headers["x-request-id"][0]
        .as_str()
        .expect("request id forwarded");
    assert_eq!(rid.len(), 32);
    assert_eq!(r.headers["x-request-id"], rid);
    // Response hygiene.
    assert!(r.headers.get("server").is_none(), "Server header leaked");
    assert!(
        r.headers.get("x-powered-by").is_none(),
        "X-Powered-By leaked"
    );
    assert_eq!(r.headers["x-content-type-options"], "nosniff");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_proxy_xff_is_believed() {
    let h = Harness::with_config("trusted_proxies = [\"127.0.0.0/8\"]\n").await;
    let r = send(
        &client(),
        Method::GET,
        &h.url("/api/echo"),
        &[("x-forwarded-for", "6.6.6.6, 198.51.100.7")],
        b"",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json()["headers"]["x-forwarded-for"][0],
        "6.6.6.6, 198.51.100.7, 127.0.0.1"
    );
    // The event (if any) would name 198.51.100.7; the monitor path is checked in events tests.
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_stack_traces_are_scrubbed() {
    let h = Harness::new().await;
    let r = get(&h.url("/api/debug/crash")).await;
    assert_eq!(r.status, 500);
    assert_eq!(r.headers["content-type"], "application/problem+json");
    let text = r.text();
    for marker in palisade_demo::CRASH_LEAK_MARKERS {
        assert!(!text.contains(marker), "leak marker {marker:?} in {text}");
    }
    h.gw.flush_events(std::time::Duration::from_secs(5));
    let store = palisade_events::EventStore::open(&h.events_db()).expect("store");
    let events = store
        .query(&palisade_events::EventQuery {
            rule: Some("palisade.response.error_leak".into()),
            limit: 10,
            ..Default::default()
        })
        .expect("query");
    assert_eq!(events.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_route_is_404_problem() {
    let h = Harness::with_config(
        "[[upstreams]]\nname = \"api\"\naddresses = [\"{api}\"]\n[[routes]]\nname = \"api\"\npath_prefix = \"/api\"\nupstream = \"api\"\n",
    )
    .await;
    let r = get(&h.url("/other")).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["status"], 404);
    let r = get(&h.url("/api/products")).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_down_is_502_then_ejected_address_skipped() {
    // One dead address and the demo API: round robin with passive health.
    let h = Harness::with_config(
        "[[upstreams]]\nname = \"api\"\naddresses = [\"http://127.0.0.1:1\", \"{api}\"]\nconnect_timeout = \"1s\"\neject_after_failures = 1\neject_for = \"60s\"\n[[routes]]\nname = \"api\"\nupstream = \"api\"\n",
    )
    .await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(get(&h.url("/api/products")).await.status);
    }
    // At most one request hits the dead address before it is ejected.
    assert!(
        statuses.iter().filter(|s| **s == 502).count() <= 1,
        "{statuses:?}"
    );
    assert!(statuses[2..].iter().all(|s| *s == 200), "{statuses:?}");
    let m = metrics(&h.gw).await;
    assert!(m.contains("palisade_requests_total"), "{m}");
    if statuses.contains(&502) {
        assert!(m.contains("palisade_upstream_errors_total"), "{m}");
    }
}
