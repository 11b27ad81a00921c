//! Loads `examples/identity/palisade.toml` with the identity and abuse
//! sections and checks the behaviour its README promises.

use http::{HeaderValue, Method, StatusCode};
use palisade_auth::{AuthConfig, AuthEngine};
use palisade_core::{Action, DecisionPolicy, Detector, Phase, RequestHead, Transaction};
use palisade_ratelimit::{
    Backend, Counters, IdentitySpreadConfig, LoginGuard, LoginProtectionConfig, LoginVerdict,
    RateLimitConfig, RateLimiter, RedisConfig, SharedStore,
};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(serde::Deserialize)]
struct ExampleConfig {
    auth: AuthConfig,
    redis: RedisConfig,
    rate_limits: Vec<RateLimitConfig>,
    login_protection: Vec<LoginProtectionConfig>,
    identity_spread: IdentitySpreadConfig,
}

fn example_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/identity")
}

fn load() -> ExampleConfig {
    let text = std::fs::read_to_string(example_dir().join("palisade.toml")).unwrap();
    toml::from_str(&text).unwrap()
}

fn token(sub: &str, scope: &str) -> String {
    let pem = std::fs::read(example_dir().join("keys/test-signing-key.pem")).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = serde_json::json!({
        "iss": "https://issuer.example", "aud": "palisade-demo", "sub": sub,
        "scope": scope, "iat": now, "exp": now + 600
    });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("palisade-demo-test-1".into());
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_rsa_pem(&pem).unwrap(),
    )
    .unwrap()
}

fn request(method: Method, path: &str, bearer: Option<&str>) -> Transaction {
    let mut head = RequestHead::synthetic(method, path);
    if let Some(t) = bearer {
        head.headers.insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {t}")).unwrap(),
        );
    }
    Transaction::new(head)
}

fn blocked_status(tx: &Transaction) -> Option<StatusCode> {
    let d = DecisionPolicy::default().decide(Phase::RequestHead, &tx.findings);
    (d.action == Action::Blocked)
        .then(|| d.enforcement.map(|e| e.status))
        .flatten()
}

#[test]
fn example_access_rules() {
    let config = load();
    assert_eq!(config.identity_spread.max_ips_per_principal, 20);
    let engine = AuthEngine::from_config(&config.auth, &example_dir()).unwrap();
    let run = |mut tx: Transaction| {
        engine.inspect(Phase::RequestHead, &mut tx);
        tx
    };
    assert_eq!(
        blocked_status(&run(request(Method::POST, "/api/login", None))),
        None
    );
    assert_eq!(
        blocked_status(&run(request(Method::GET, "/api/orders", None))),
        Some(StatusCode::UNAUTHORIZED)
    );
    let user = token("alice", "orders:read");
    let admin = token("root", "admin");
    assert_eq!(
        blocked_status(&run(request(Method::GET, "/api/orders", Some(&user)))),
        None
    );
    assert_eq!(
        blocked_status(&run(request(Method::GET, "/api/admin/users", Some(&user)))),
        Some(StatusCode::FORBIDDEN)
    );
    assert_eq!(
        blocked_status(&run(request(Method::GET, "/api/admin/users", Some(&admin)))),
        None
    );
    assert_eq!(blocked_status(&run(request(Method::GET, "/", None))), None);
}

#[tokio::test]
async fn example_limits_and_login_protection_through_redis() {
    let Some(redis) = palisade_test_util::redis::RedisServer::start() else {
        return;
    };
    let mut config = load();
    assert_eq!(config.redis.url, "redis://127.0.0.1:6379");
    config.redis.url = redis.url();
    let store = Arc::new(SharedStore::new(config.redis.clone()).unwrap());
    let limiter = RateLimiter::new(&config.rate_limits, Some(Arc::clone(&store))).unwrap();
    let engine = AuthEngine::from_config(&config.auth, &example_dir()).unwrap();
    let mut tx = request(Method::GET, "/api/limited", Some(&token("alice", "")));
    engine.inspect(Phase::RequestHead, &mut tx);
    let principal = tx.principal.clone().unwrap();
    let mut admitted = 0;
    for _ in 0..8 {
        let o = limiter.check(&tx.request, Some(&principal)).await;
        assert_eq!(o.status.as_ref().unwrap().backend, Backend::Redis);
        if o.allowed {
            admitted += 1;
        } else {
            assert_eq!(
                o.finding().unwrap().enforcement.unwrap().status,
                StatusCode::TOO_MANY_REQUESTS
            );
        }
    }
    assert_eq!(admitted, 5);
    let guard = LoginGuard::new(
        &config.login_protection,
        Arc::new(Counters::new(Some(store))),
    )
    .unwrap();
    let login = |user: &str| {
        let mut tx = request(Method::POST, "/api/login", None);
        tx.request_body = Some(bytes::Bytes::from(format!(
            r#"{{"username":"{user}","password":"nope"}}"#
        )));
        tx
    };
    for _ in 0..5 {
        let a = guard.attempt(&login("mallory-target")).unwrap();
        guard.record(&a, 401).await;
    }
    let a = guard.attempt(&login("mallory-target")).unwrap();
    assert!(matches!(
        guard.check(&a).await,
        LoginVerdict::Blocked { .. }
    ));
}
