//! In-process limits, response headers and brute-force defence (no Redis).

use http::Method;
use palisade_core::{
    Category, DecisionPolicy, Detector, Phase, Principal, PrincipalKind, RequestHead, Transaction,
};
use palisade_ratelimit::{
    Backend, Counters, IdentitySpread, IdentitySpreadConfig, LoginGuard, LoginProtectionConfig,
    LoginVerdict, RateLimitConfig, RateLimitState, RateLimiter,
};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

fn limits(toml_text: &str) -> RateLimiter {
    #[derive(serde::Deserialize)]
    struct Doc {
        rate_limits: Vec<RateLimitConfig>,
    }
    let doc: Doc = toml::from_str(toml_text).unwrap();
    RateLimiter::new(&doc.rate_limits, None).unwrap()
}

fn head(method: Method, path: &str, ip: &str) -> RequestHead {
    let mut h = RequestHead::synthetic(method, path);
    h.client_ip = ip.parse().unwrap();
    h
}

fn principal(sub: &str) -> Principal {
    Principal::new(PrincipalKind::Jwt, sub)
}

/// The headers of `outcome` (allowed) or of its refusal, by name.
fn header_of(outcome: &palisade_ratelimit::RateLimitOutcome, name: &str) -> Option<String> {
    let headers = match outcome.finding() {
        Some(f) => f.enforcement.unwrap().headers,
        None => outcome.headers(),
    };
    let mut values = headers
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.to_str().unwrap().to_owned());
    let first = values.next();
    assert!(values.next().is_none(), "{name} sent twice");
    first
}

#[test]
fn refusal_carries_retry_after_and_ratelimit_headers() {
    let l = limits(
        r#"
[[rate_limits]]
name = "per-principal"
path = "/api/limited"
rate = 5
per = "second"
"#,
    );
    let h = head(Method::GET, "/api/limited", "192.0.2.1");
    let p = principal("alice");
    for i in 0..5 {
        let o = l.check_local(&h, Some(&p));
        assert!(o.allowed, "request {i}");
        assert_eq!(
            header_of(&o, "ratelimit-policy").as_deref(),
            Some(r#""per-principal";q=5;w=1"#)
        );
        assert_eq!(
            header_of(&o, "ratelimit").unwrap(),
            format!(r#""per-principal";r={};t=1"#, 4 - i)
        );
        assert!(header_of(&o, "ratelimit-remaining").is_none());
        assert!(header_of(&o, "retry-after").is_none());
    }
    let o = l.check_local(&h, Some(&p));
    assert!(!o.allowed);
    let f = o.finding().unwrap();
    assert_eq!(f.category, Category::RateLimit);
    let e = f.enforcement.clone().unwrap();
    assert_eq!(e.status, http::StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header_of(&o, "retry-after").as_deref(), Some("1"));
    assert_eq!(
        header_of(&o, "ratelimit").as_deref(),
        Some(r#""per-principal";r=0;t=1"#)
    );
    // Other paths are not limited.
    assert!(l
        .check_local(&head(Method::GET, "/api/other", "192.0.2.1"), Some(&p))
        .status
        .is_none());
}

#[test]
fn header_styles_choose_the_fields() {
    let l = limits(
        r#"
[[rate_limits]]
name = "legacy"
path = "/legacy"
rate = 5
per = "second"
burst = 7
headers = "legacy"

[[rate_limits]]
name = "both \"quoted\""
path = "/both"
rate = 1200
per = "minute"
headers = "both"

[[rate_limits]]
name = "silent"
path = "/none"
rate = 1
per = "hour"
headers = "none"
"#,
    );
    let p = principal("alice");
    let o = l.check_local(&head(Method::GET, "/legacy", "192.0.2.1"), Some(&p));
    assert_eq!(header_of(&o, "ratelimit-limit").as_deref(), Some("7"));
    assert_eq!(header_of(&o, "ratelimit-remaining").as_deref(), Some("6"));
    assert_eq!(header_of(&o, "ratelimit-reset").as_deref(), Some("1"));
    assert_eq!(
        header_of(&o, "ratelimit-policy").as_deref(),
        Some("5;w=1;burst=7")
    );
    assert!(header_of(&o, "ratelimit").is_none());

    let o = l.check_local(&head(Method::GET, "/both", "192.0.2.1"), Some(&p));
    assert_eq!(
        header_of(&o, "ratelimit-policy").as_deref(),
        Some(r#""both \"quoted\"";q=1200;w=60"#)
    );
    assert_eq!(
        header_of(&o, "ratelimit").as_deref(),
        Some(r#""both \"quoted\"";r=1199;t=1"#)
    );
    assert_eq!(header_of(&o, "ratelimit-limit").as_deref(), Some("1200"));
    assert_eq!(
        header_of(&o, "ratelimit-remaining").as_deref(),
        Some("1199")
    );

    let h = head(Method::GET, "/none", "192.0.2.1");
    let o = l.check_local(&h, Some(&p));
    assert!(o.allowed);
    assert!(o.headers().is_empty());
    let refused = l.check_local(&h, Some(&p));
    assert!(!refused.allowed);
    assert_eq!(header_of(&refused, "retry-after").as_deref(), Some("3600"));
    assert!(header_of(&refused, "ratelimit").is_none());
}

#[test]
fn limits_follow_the_principal_not_the_ip() {
    let l = limits(
        r#"
[[rate_limits]]
name = "p"
rate = 3
per = "minute"
key = ["principal"]
"#,
    );
    let p = principal("alice");
    let admitted = (0..10)
        .filter(|i| {
            l.check_local(
                &head(Method::GET, "/x", &format!("198.51.100.{i}")),
                Some(&p),
            )
            .allowed
        })
        .count();
    assert_eq!(
        admitted, 3,
        "rotating IPs must not help an authenticated client"
    );
    // Anonymous clients are counted per IP.
    assert!(
        l.check_local(&head(Method::GET, "/x", "198.51.100.1"), None)
            .allowed
    );
}

#[test]
fn ipv6_clients_are_grouped_by_64() {
    let l = limits(
        r#"
[[rate_limits]]
name = "ip"
rate = 2
per = "minute"
key = ["ip"]
"#,
    );
    let admitted = (0..10)
        .filter(|i| {
            l.check_local(
                &head(Method::GET, "/x", &format!("2001:db8:0:1::{i:x}")),
                None,
            )
            .allowed
        })
        .count();
    assert_eq!(admitted, 2);
    assert!(
        l.check_local(&head(Method::GET, "/x", "2001:db8:0:2::1"), None)
            .allowed
    );
}

#[test]
fn weighted_daily_quota_and_several_limits() {
    let l = limits(
        r#"
[[rate_limits]]
name = "export-quota"
path = "/api/export/**"
methods = ["POST"]
key = ["claim:tenant"]
rate = 100
per = "day"
cost = 30

[[rate_limits]]
name = "burst"
path = "/api/**"
key = ["ip", "method"]
rate = 10
per = "second"
"#,
    );
    let mut p = principal("alice");
    std::sync::Arc::make_mut(&mut p.claims).insert("tenant".into(), "acme".into());
    let mut q = principal("bob");
    std::sync::Arc::make_mut(&mut q.claims).insert("tenant".into(), "acme".into());
    let h = head(Method::POST, "/api/export/run", "192.0.2.9");
    assert!(l.check_local(&h, Some(&p)).allowed);
    assert!(l.check_local(&h, Some(&q)).allowed);
    assert!(l.check_local(&h, Some(&p)).allowed);
    let o = l.check_local(&h, Some(&q));
    assert!(!o.allowed, "tenant quota of 100 units spent by 3 x 30 + 30");
    let s = o.status.unwrap();
    assert_eq!(s.name, "export-quota");
    assert!(s.retry_after.unwrap() > Duration::from_secs(3600));
    // Without the claim the quota does not apply, only the burst limit.
    let o = l.check_local(&h, Some(&principal("carol")));
    assert!(o.allowed);
    assert_eq!(o.status.unwrap().name, "burst");
}

#[test]
fn api_keys_carry_their_own_rate() {
    let l = limits(
        r#"
[[rate_limits]]
name = "keys"
key = ["api_key"]
rate = 100
per = "second"
rate_from_claim = "rate_limit"
"#,
    );
    let mut p = Principal::new(PrincipalKind::ApiKey, "partner");
    std::sync::Arc::make_mut(&mut p.claims).insert("api_key_id".into(), "0123456789ab".into());
    std::sync::Arc::make_mut(&mut p.claims).insert("rate_limit".into(), "2/minute".into());
    let h = head(Method::GET, "/x", "192.0.2.1");
    let admitted = (0..5)
        .filter(|_| l.check_local(&h, Some(&p)).allowed)
        .count();
    assert_eq!(admitted, 2);
    // No API key: the limit does not apply.
    assert!(l
        .check_local(&h, Some(&principal("jwt-user")))
        .status
        .is_none());
}

#[test]
fn detector_path_records_outcome_and_429() {
    let l = limits(
        r#"
[[rate_limits]]
name = "d"
rate = 1
per = "minute"
key = ["ip"]
"#,
    );
    let mut tx = Transaction::new(head(Method::GET, "/", "192.0.2.3"));
    l.inspect(Phase::RequestHead, &mut tx);
    assert!(tx.findings.is_empty());
    assert_eq!(
        tx.state
            .get::<RateLimitState>()
            .unwrap()
            .0
            .status
            .as_ref()
            .unwrap()
            .backend,
        Backend::Local
    );
    let mut tx = Transaction::new(head(Method::GET, "/", "192.0.2.3"));
    l.inspect(Phase::RequestHead, &mut tx);
    let d = DecisionPolicy::default().decide(Phase::RequestHead, &tx.findings);
    assert_eq!(
        d.enforcement.unwrap().status,
        http::StatusCode::TOO_MANY_REQUESTS
    );
}

#[test]
fn invalid_limits_are_refused() {
    let bad = |t: &str| {
        #[derive(serde::Deserialize)]
        struct Doc {
            rate_limits: Vec<RateLimitConfig>,
        }
        let doc: Doc = toml::from_str(t).unwrap();
        RateLimiter::new(&doc.rate_limits, None).is_err()
    };
    assert!(bad("[[rate_limits]]\nname = \"a\"\nrate = 0\n"));
    assert!(bad(
        "[[rate_limits]]\nname = \"a\"\nrate = 1\npath = \"nope\"\n"
    ));
    assert!(bad(
        "[[rate_limits]]\nname = \"a\"\nrate = 1\n[[rate_limits]]\nname = \"a\"\nrate = 2\n"
    ));
}

fn guard() -> LoginGuard {
    let c: LoginProtectionConfig = toml::from_str(
        r#"
name = "login"
path = "/api/login"
username = { form_field = "username" }
max_failures_per_username = 5
max_failures_per_ip = 30
delay_after = 2
delay_base_ms = 100
delay_max_ms = 1000
block_seconds = 60
distinct_usernames_per_ip = 4
distinct_ips_per_username = 3
"#,
    )
    .unwrap();
    LoginGuard::new(&[c], Arc::new(Counters::new(None))).unwrap()
}

fn login(user: &str, ip: &str) -> Transaction {
    let mut tx = Transaction::new(head(Method::POST, "/api/login", ip));
    tx.request_body = Some(bytes::Bytes::from(format!(
        "username={user}&password=guess"
    )));
    tx
}

#[tokio::test]
async fn failures_delay_then_block_the_username_only() {
    let g = guard();
    let mut delays = Vec::new();
    for _ in 0..5 {
        let a = g.attempt(&login("alice", "192.0.2.1")).unwrap();
        match g.check(&a).await {
            LoginVerdict::Allow => delays.push(Duration::ZERO),
            LoginVerdict::Delay(d) => delays.push(d),
            v => panic!("blocked too early: {v:?}"),
        }
        g.record(&a, 401).await;
    }
    assert_eq!(
        delays,
        vec![
            Duration::ZERO,
            Duration::ZERO,
            Duration::from_millis(100),
            Duration::from_millis(200),
            Duration::from_millis(400)
        ]
    );
    let a = g.attempt(&login("alice", "192.0.2.99")).unwrap();
    let v = g.check(&a).await;
    assert!(
        matches!(
            v,
            LoginVerdict::Blocked {
                scope: palisade_ratelimit::BlockScope::Username,
                ..
            }
        ),
        "{v:?}"
    );
    let e = v.finding().unwrap().enforcement.unwrap();
    assert_eq!(e.status, http::StatusCode::TOO_MANY_REQUESTS);
    assert!(e
        .headers
        .iter()
        .any(|(n, v)| n == http::header::RETRY_AFTER
            && v.to_str().unwrap().parse::<u64>().unwrap() > 50));
    // Another user from a fresh IP is unaffected.
    let b = g.attempt(&login("bob", "192.0.2.50")).unwrap();
    assert_eq!(g.check(&b).await, LoginVerdict::Allow);
    // Non-login requests are not attempts.
    assert!(g
        .attempt(&Transaction::new(head(
            Method::GET,
            "/api/login",
            "192.0.2.1"
        )))
        .is_none());
}

#[tokio::test]
async fn success_resets_the_username_counter() {
    let g = guard();
    for _ in 0..4 {
        let a = g.attempt(&login("carol", "192.0.2.7")).unwrap();
        g.record(&a, 401).await;
    }
    let a = g.attempt(&login("carol", "192.0.2.7")).unwrap();
    g.record(&a, 200).await;
    let a = g.attempt(&login("carol", "192.0.2.8")).unwrap();
    assert_eq!(g.check(&a).await, LoginVerdict::Allow);
}

#[tokio::test]
async fn credential_stuffing_and_distributed_guessing_signals() {
    let g = guard();
    let mut findings = Vec::new();
    for i in 0..6 {
        let a = g
            .attempt(&login(&format!("user{i}"), "203.0.113.5"))
            .unwrap();
        findings.extend(g.record(&a, 401).await);
    }
    let stuffing: Vec<_> = findings
        .iter()
        .filter(|f| f.rule_id == "palisade.bruteforce.credential_stuffing")
        .collect();
    assert_eq!(
        stuffing.len(),
        1,
        "reported once when crossing the threshold"
    );
    assert_eq!(stuffing[0].category, Category::AutomatedThreat);
    let mut findings = Vec::new();
    for i in 0..5 {
        let a = g
            .attempt(&login("dave", &format!("198.51.100.{i}")))
            .unwrap();
        findings.extend(g.record(&a, 403).await);
    }
    assert!(findings
        .iter()
        .any(|f| f.rule_id == "palisade.bruteforce.distributed"
            && f.category == Category::BruteForce));
}

#[tokio::test]
async fn identity_spread_signals() {
    let spread = IdentitySpread::new(
        IdentitySpreadConfig {
            window_seconds: 60,
            max_ips_per_principal: 3,
            max_principals_per_ip: 3,
        },
        Arc::new(Counters::new(None)),
        false,
    );
    let p = principal("shared-account");
    let mut findings = Vec::new();
    for i in 0..6 {
        let ip: IpAddr = format!("192.0.2.{i}").parse().unwrap();
        findings.extend(spread.observe(&p, ip).await);
    }
    assert_eq!(
        findings
            .iter()
            .filter(|f| f.rule_id == "palisade.abuse.principal_many_ips")
            .count(),
        1
    );
    let ip: IpAddr = "198.51.100.1".parse().unwrap();
    let mut findings = Vec::new();
    for i in 0..5 {
        findings.extend(spread.observe(&principal(&format!("user{i}")), ip).await);
    }
    assert_eq!(
        findings
            .iter()
            .filter(|f| f.rule_id == "palisade.abuse.ip_many_principals")
            .count(),
        1
    );
}
