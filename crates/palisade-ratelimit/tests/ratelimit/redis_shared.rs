//! Shared limits and brute-force counting against a real redis-server.

use http::Method;
use palisade_core::{Category, Principal, PrincipalKind, RequestHead, Transaction};
use palisade_ratelimit::{
    Backend, Counters, FailurePolicy, LoginGuard, LoginProtectionConfig, LoginVerdict,
    RateLimitConfig, RateLimiter, RedisConfig, SharedStore,
};
use palisade_test_util::redis::RedisServer;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn redis_config(url: &str, policy: FailurePolicy, prefix: &str) -> RedisConfig {
    RedisConfig {
        url: url.to_owned(),
        key_prefix: prefix.to_owned(),
        on_error: policy,
        connect_timeout_ms: 200,
        response_timeout_ms: 200,
        retry_interval_ms: 200,
    }
}

fn limit(rate: u64, burst: u64) -> RateLimitConfig {
    toml::from_str(&format!(
        "name = \"shared\"\npath = \"/api/limited\"\nkey = [\"principal\"]\nrate = {rate}\nper = \"second\"\nburst = {burst}\n"
    ))
    .unwrap()
}

fn limiter(url: &str, policy: FailurePolicy, prefix: &str, rate: u64, burst: u64) -> RateLimiter {
    let store = Arc::new(SharedStore::new(redis_config(url, policy, prefix)).unwrap());
    RateLimiter::new(&[limit(rate, burst)], Some(store)).unwrap()
}

fn fail_closed_store(redis: &RedisServer, prefix: &str) -> Arc<SharedStore> {
    Arc::new(
        SharedStore::new(redis_config(
            &redis.url(),
            FailurePolicy::FailClosed,
            prefix,
        ))
        .unwrap(),
    )
}

fn principal(sub: &str) -> Principal {
    let mut p = Principal::new(PrincipalKind::Jwt, sub);
    p.issuer = Some("https://issuer.example".into());
    p
}

fn head(ip: [u8; 4]) -> RequestHead {
    let mut h = RequestHead::synthetic(Method::GET, "/api/limited");
    h.client_ip = std::net::IpAddr::from(ip);
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_one_limit_within_five_percent() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let rate = 100;
    let burst = 10;
    let a = Arc::new(limiter(
        &redis.url(),
        FailurePolicy::FailClosed,
        "t1:",
        rate,
        burst,
    ));
    let b = Arc::new(limiter(
        &redis.url(),
        FailurePolicy::FailClosed,
        "t1:",
        rate,
        burst,
    ));
    let p = principal("alice");
    // Warm both connections so the measured window has no connect time.
    let warm = RequestHead::synthetic(Method::GET, "/api/limited");
    let other = principal("warmup");
    a.check(&warm, Some(&other)).await;
    b.check(&warm, Some(&other)).await;
    let run_for = Duration::from_secs(3);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (i, lim) in [a.clone(), b.clone()].into_iter().enumerate() {
        let p = p.clone();
        tasks.push(tokio::spawn(async move {
            let mut admitted = 0u64;
            let mut sent = 0u64;
            // Different client IPs per instance: the limit follows the principal.
            let h = head([10, 0, 0, i as u8 + 1]);
            while start.elapsed() < run_for {
                let outcome = lim.check(&h, Some(&p)).await;
                let status = outcome.status.as_ref().unwrap();
                assert_eq!(status.backend, Backend::Redis);
                sent += 1;
                if outcome.allowed {
                    admitted += 1;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            (admitted, sent)
        }));
    }
    let mut admitted = 0;
    let mut sent = 0;
    for t in tasks {
        let (ad, s) = t.await.unwrap();
        admitted += ad;
        sent += s;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let expected = burst as f64 + rate as f64 * elapsed;
    let error = (admitted as f64 - expected).abs() / expected;
    eprintln!("two instances: sent {sent}, admitted {admitted}, expected {expected:.1} over {elapsed:.2}s, error {:.2}%", error * 100.0);
    assert!(
        sent as f64 > expected * 2.0,
        "the test must offer well above the limit"
    );
    assert!(error <= 0.05, "admitted {admitted}, expected {expected:.1}");
}

/// A fast shared limit is leased in slices: far fewer script calls than
/// requests while it is not refusing, and still within 5 % once it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_limits_are_leased_and_stay_within_five_percent() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let (rate, burst) = (2_000u64, 2_000u64);
    let stores: Vec<Arc<SharedStore>> = (0..2)
        .map(|_| fail_closed_store(&redis, "t-lease:"))
        .collect();
    let limiters: Vec<Arc<RateLimiter>> = stores
        .iter()
        .map(|s| Arc::new(RateLimiter::new(&[limit(rate, burst)], Some(s.clone())).unwrap()))
        .collect();
    let warm = principal("warmup");
    for l in &limiters {
        l.check(
            &RequestHead::synthetic(Method::GET, "/api/limited"),
            Some(&warm),
        )
        .await;
    }
    let calls_before: u64 = stores.iter().map(|s| s.calls()).sum();

    // Well below the limit: 600 requests spread over 0.6 s by two instances.
    let light = principal("light");
    for round in 0..300 {
        for (i, l) in limiters.iter().enumerate() {
            let outcome = l.check(&head([10, 0, 1, i as u8 + 1]), Some(&light)).await;
            assert!(outcome.allowed, "round {round}: {outcome:?}");
            assert_eq!(outcome.status.unwrap().backend, Backend::Redis);
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let calls: u64 = stores.iter().map(|s| s.calls()).sum::<u64>() - calls_before;
    eprintln!("600 requests under the limit made {calls} script calls");
    assert!(calls < 100, "{calls} script calls for 600 requests");

    // Well above the limit: both instances, eight tasks each, for two seconds.
    let heavy = principal("heavy");
    let run_for = Duration::from_secs(2);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (i, l) in limiters.iter().enumerate() {
        for t in 0..8u8 {
            let (l, heavy) = (l.clone(), heavy.clone());
            tasks.push(tokio::spawn(async move {
                let h = head([10, 0, 2 + i as u8, t + 1]);
                let (mut admitted, mut sent) = (0u64, 0u64);
                while start.elapsed() < run_for {
                    let outcome = l.check(&h, Some(&heavy)).await;
                    sent += 1;
                    admitted += u64::from(outcome.allowed);
                    if sent % 32 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
                (admitted, sent)
            }));
        }
    }
    let (mut admitted, mut sent) = (0u64, 0u64);
    for t in tasks {
        let (a, s) = t.await.unwrap();
        admitted += a;
        sent += s;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let expected = burst as f64 + rate as f64 * elapsed;
    let error = (admitted as f64 - expected).abs() / expected;
    eprintln!(
        "leased, over the limit: sent {sent}, admitted {admitted}, expected {expected:.0} over {elapsed:.2}s, error {:.2}%",
        error * 100.0
    );
    assert!(
        sent as f64 > expected * 2.0,
        "the test must offer well above the limit"
    );
    assert!(error <= 0.05, "admitted {admitted}, expected {expected:.0}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_follows_policy_and_recovers() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let open_store = Arc::new(
        SharedStore::new(redis_config(&redis.url(), FailurePolicy::FailOpen, "t2:")).unwrap(),
    );
    let open = RateLimiter::new(&[limit(5, 5)], Some(Arc::clone(&open_store))).unwrap();
    let closed = limiter(&redis.url(), FailurePolicy::FailClosed, "t2:", 5, 5);
    let h = head([192, 0, 2, 1]);
    let alice = principal("alice");
    let bob = principal("bob");
    let o = open.check(&h, Some(&alice)).await;
    assert!(o.allowed);
    assert_eq!(o.status.unwrap().backend, Backend::Redis);

    redis.kill();
    // Fail-open: served from the local fallback with the same limit (5 burst).
    let mut admitted = 0;
    for _ in 0..10 {
        let o = open.check(&h, Some(&bob)).await;
        assert_eq!(o.status.as_ref().unwrap().backend, Backend::LocalFallback);
        if o.allowed {
            admitted += 1;
        } else {
            assert!(o.finding().is_some());
        }
    }
    assert_eq!(admitted, 5, "fail-open keeps enforcing the limit locally");
    assert!(!open_store.is_healthy(), "the outage is visible");
    // Fail-closed: refused with 503.
    let started = Instant::now();
    for _ in 0..5 {
        let c = closed.check(&h, Some(&bob)).await;
        assert!(!c.allowed);
        assert_eq!(c.status.as_ref().unwrap().backend, Backend::Unavailable);
        let f = c.finding().unwrap();
        assert_eq!(
            f.enforcement.unwrap().status,
            http::StatusCode::SERVICE_UNAVAILABLE
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a dead redis must not stall requests"
    );

    redis.restart();
    let restarted = Instant::now();
    // Within the retry interval plus a reconnect, both resume shared counting.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let o = open.check(&h, Some(&principal("carol"))).await;
        let c = closed.check(&h, Some(&principal("carol"))).await;
        if o.status.unwrap().backend == Backend::Redis
            && c.status.unwrap().backend == Backend::Redis
        {
            break;
        }
        assert!(Instant::now() < deadline, "did not recover");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(open_store.is_healthy());
    eprintln!(
        "shared limiting resumed {:?} after redis restarted",
        restarted.elapsed()
    );
    // Shared again: the two instances draw from one allowance for dave.
    let dave = principal("dave");
    let mut admitted = 0;
    for i in 0..10 {
        let lim = if i % 2 == 0 { &open } else { &closed };
        let o = lim.check(&h, Some(&dave)).await;
        assert_eq!(o.status.as_ref().unwrap().backend, Backend::Redis);
        if o.allowed {
            admitted += 1;
        }
    }
    assert_eq!(admitted, 5);
}

fn login_config() -> LoginProtectionConfig {
    toml::from_str(
        r#"
name = "login"
path = "/api/login"
username = { json_pointer = "/username" }
max_failures_per_username = 5
max_failures_per_ip = 50
delay_after = 3
delay_base_ms = 100
block_seconds = 60
distinct_usernames_per_ip = 3
"#,
    )
    .unwrap()
}

fn login_tx(user: &str, ip: [u8; 4]) -> Transaction {
    let mut h = RequestHead::synthetic(Method::POST, "/api/login");
    h.client_ip = std::net::IpAddr::from(ip);
    let mut tx = Transaction::new(h);
    tx.request_body = Some(bytes::Bytes::from(format!(
        r#"{{"username":"{user}","password":"x"}}"#
    )));
    tx
}

#[tokio::test]
async fn brute_force_counts_are_shared_across_instances() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let guard = |prefix: &str| {
        let store = Arc::new(
            SharedStore::new(redis_config(&redis.url(), FailurePolicy::FailOpen, prefix)).unwrap(),
        );
        LoginGuard::new(&[login_config()], Arc::new(Counters::new(Some(store)))).unwrap()
    };
    let a = guard("t3:");
    let b = guard("t3:");
    let mut findings = Vec::new();
    for i in 0..5u8 {
        let g = if i % 2 == 0 { &a } else { &b };
        // Rotating IPs does not help: the username is counted.
        let attempt = g
            .attempt(&login_tx("victim@example.com", [203, 0, 113, i]))
            .unwrap();
        assert!(!matches!(
            g.check(&attempt).await,
            LoginVerdict::Blocked { .. }
        ));
        findings.extend(g.record(&attempt, 401).await);
    }
    assert!(
        findings
            .iter()
            .any(|f| f.rule_id == "palisade.bruteforce.username"
                && f.category == Category::BruteForce)
    );
    for g in [&a, &b] {
        let attempt = g
            .attempt(&login_tx("VICTIM@example.com", [198, 51, 100, 7]))
            .unwrap();
        let verdict = g.check(&attempt).await;
        assert!(
            matches!(verdict, LoginVerdict::Blocked { .. }),
            "{verdict:?}"
        );
        let f = verdict.finding().unwrap();
        assert_eq!(
            f.enforcement.unwrap().status,
            http::StatusCode::TOO_MANY_REQUESTS
        );
        // Other users are unaffected.
        let other = g
            .attempt(&login_tx("someone-else", [198, 51, 100, 7]))
            .unwrap();
        assert_eq!(g.check(&other).await, LoginVerdict::Allow);
    }
}

/// Concurrent steps travel to Redis in batches; every one still gets an
/// exact decision: with a burst of 50 and a negligible rate, 300 concurrent
/// requests on one key (plus 100 on another) admit exactly 50 each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_steps_are_batched_and_exact() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let store = fail_closed_store(&redis, "batch:");
    let params = palisade_ratelimit::GcraParams::new(1, Duration::from_secs(3600), 50);
    let mut tasks = Vec::new();
    for i in 0..400 {
        let store = store.clone();
        let key = if i % 4 == 3 { "batch:b" } else { "batch:a" };
        tasks.push(tokio::spawn(async move {
            (key, store.gcra(key, params, 1).await)
        }));
    }
    let (mut a, mut b) = (0, 0);
    for t in tasks {
        let (key, decision) = t.await.unwrap();
        let decision = decision.expect("redis answers");
        if decision.allowed {
            if key == "batch:a" {
                a += 1;
            } else {
                b += 1;
            }
        }
    }
    assert_eq!((a, b), (50, 50));
}

/// Requests cancelled while waiting for, leading or being handed a batch
/// (clients that disconnect) never leave the queue stuck.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_steps_never_stall_the_queue() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let store = fail_closed_store(&redis, "cancel:");
    let params = palisade_ratelimit::GcraParams::new(1_000_000, Duration::from_secs(1), 1_000_000);
    for round in 0..20u64 {
        let mut tasks = Vec::new();
        for i in 0..60u64 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store.gcra("cancel:k", params, 1).await
            }));
            if (i + round).is_multiple_of(3) {
                tokio::task::yield_now().await;
            }
        }
        for (i, t) in tasks.iter().enumerate() {
            if (i as u64 + round).is_multiple_of(2) {
                t.abort();
            }
        }
        for t in tasks {
            let _ = t.await;
        }
        let after =
            tokio::time::timeout(Duration::from_secs(2), store.gcra("cancel:k", params, 1)).await;
        assert!(
            matches!(after, Ok(Ok(ref d)) if d.allowed),
            "round {round}: {after:?}"
        );
    }
}
