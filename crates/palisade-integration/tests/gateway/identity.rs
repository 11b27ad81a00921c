//! The shipped identity example (`examples/identity/palisade.toml`) through the
//! whole gateway: JWT on /api/**, admin scope, per-principal limit shared
//! through a real Redis, login brute-force defence, identity headers.

use crate::common::*;
use http::Method;
use palisade_test_util::redis::RedisServer;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/identity/palisade.toml")
}

fn token(sub: &str, scope: Option<&str>) -> String {
    let key_path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/identity/keys/test-signing-key.pem");
    let pem = std::fs::read(key_path).expect("test key");
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(&pem).expect("rsa key");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs();
    let mut claims = serde_json::json!({
        "iss": "https://issuer.example", "aud": "palisade-demo", "sub": sub,
        "iat": now, "nbf": now, "exp": now + 600,
    });
    if let Some(s) = scope {
        claims["scope"] = serde_json::Value::String(s.into());
    }
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("palisade-demo-test-1".into());
    jsonwebtoken::encode(&header, &claims, &key).expect("sign")
}

fn bearer(t: &str) -> String {
    format!("Bearer {t}")
}

/// `GET url`, with `Authorization: <authorization>` when given.
async fn get_as(c: &TestClient, url: &str, authorization: Option<&str>) -> Reply {
    let headers: Vec<(&str, &str)> = authorization
        .map(|a| ("authorization", a))
        .into_iter()
        .collect();
    send(c, Method::GET, url, &headers, b"").await
}

/// The `WWW-Authenticate` challenge of a reply, or "".
fn challenge(r: &Reply) -> String {
    r.headers
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_example_works_end_to_end() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let h = Harness::with_config_file(example(), Some(redis.url())).await;
    let c = client();
    let alice = bearer(&token("alice", None));
    let admin = bearer(&token("root", Some("admin")));

    // Missing token: 401 with a Bearer challenge.
    let r = get_as(&c, &h.url("/api/products"), None).await;
    assert_eq!(r.status, 401);
    assert!(challenge(&r).starts_with("Bearer"), "{:?}", r.headers);
    // alg=none forgery: 401.
    let none = format!("Bearer {}.{}.", b64("{\"alg\":\"none\",\"typ\":\"JWT\"}"), b64("{\"sub\":\"root\",\"scope\":\"admin\",\"iss\":\"https://issuer.example\",\"aud\":\"palisade-demo\",\"exp\":9999999999}"));
    assert_eq!(
        get_as(&c, &h.url("/api/admin/users"), Some(&none))
            .await
            .status,
        401
    );
    // A user: allowed, but not on admin functions (BFLA).
    assert_eq!(
        get_as(&c, &h.url("/api/products"), Some(&alice))
            .await
            .status,
        200
    );
    assert_eq!(
        get_as(&c, &h.url("/api/admin/users"), Some(&alice))
            .await
            .status,
        403
    );
    assert_eq!(
        get_as(&c, &h.url("/api/ADMIN/users"), Some(&alice))
            .await
            .status,
        403
    );
    assert_ne!(
        get_as(&c, &h.url("/api/admin/users"), Some(&admin))
            .await
            .status,
        403
    );
    // Identity headers come from the verified token; a client's copy is replaced.
    let r = send(
        &c,
        Method::GET,
        &h.url("/api/echo"),
        &[("authorization", &alice), ("x-palisade-subject", "root")],
        b"",
    )
    .await;
    assert_eq!(
        r.json()["headers"]["x-palisade-subject"][0],
        "alice",
        "{}",
        r.text()
    );
    // Login stays open without a token.
    let r = send(
        &c,
        Method::POST,
        &h.url("/api/login"),
        &[("content-type", "application/json")],
        br#"{"username":"alice","password":"alice-wonderland-1"}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

fn b64(s: &str) -> String {
    use std::fmt::Write;
    // base64url without padding, written out to keep the test free of another dependency.
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let b = s.as_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, x)| acc | (u32::from(*x) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            let _ = out.write_char(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_principal_limit_is_shared_by_two_gateways() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let a = Harness::with_config_file(example(), Some(redis.url())).await;
    let b = Harness::with_config_file(example(), Some(redis.url())).await;
    let c = client();
    let alice = bearer(&token("alice-shared", None));
    // 5 requests/second, burst 5, for principal alice, across both gateways.
    let start = Instant::now();
    let mut admitted = 0u32;
    let mut limited = 0u32;
    let mut i = 0;
    while start.elapsed() < Duration::from_secs(3) {
        let h = if i % 2 == 0 { &a } else { &b };
        i += 1;
        let r = send(
            &c,
            Method::GET,
            &h.url("/api/limited"),
            &[("authorization", &alice)],
            b"",
        )
        .await;
        if r.status == 429 {
            limited += 1;
            assert!(r.headers.contains_key("retry-after"));
            assert!(r.headers.contains_key("ratelimit"));
        } else {
            admitted += 1;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let secs = start.elapsed().as_secs_f64();
    // GCRA admits the burst plus the rate over the elapsed time.
    let expected = 5.0 + 5.0 * secs;
    assert!(limited > 0, "never limited");
    // Both outcomes are counted per limit on the admin listener.
    let m = metrics(&a.gw).await;
    for result in ["allowed", "limited"] {
        let series = format!(
            "palisade_ratelimit_decisions_total{{limit=\"limited-per-principal\",result=\"{result}\"}}"
        );
        assert!(m.contains(&series), "{series} missing from:\n{m}");
    }
    assert!(
        (f64::from(admitted) - expected).abs() <= expected * 0.05 + 1.0,
        "admitted {admitted}, expected about {expected:.1}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_brute_force_is_blocked_and_other_users_unaffected() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let h = Harness::with_config_file(example(), Some(redis.url())).await;
    let c = client();
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let r = send(
            &c,
            Method::POST,
            &h.url("/api/login"),
            &[("content-type", "application/json")],
            br#"{"username":"bob","password":"guess"}"#,
        )
        .await;
        statuses.push(r.status);
    }
    assert!(statuses.contains(&429), "never blocked: {statuses:?}");
    let r = send(
        &c,
        Method::POST,
        &h.url("/api/login"),
        &[("content-type", "application/json")],
        br#"{"username":"alice","password":"alice-wonderland-1"}"#,
    )
    .await;
    assert_eq!(r.status, 200, "another user is unaffected: {}", r.text());
}

/// Security requirements declared in the OpenAPI description apply where no
/// configured access rule does: the configuration only names the issuer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_security_requirements_are_enforced() {
    let spec_dir = tempfile::tempdir().expect("tempdir");
    let spec = spec_dir.path().join("api.yaml");
    std::fs::write(
        &spec,
        r#"openapi: 3.0.3
info: {title: shop, version: "1"}
security:
  - bearerAuth: []
components:
  securitySchemes:
    bearerAuth: {type: http, scheme: bearer}
    basicAuth: {type: http, scheme: basic}
    oauth:
      type: oauth2
      flows:
        clientCredentials:
          tokenUrl: https://issuer.example/token
          scopes: {admin: administration}
paths:
  /api/login:
    post:
      security: []
      requestBody:
        content:
          application/json:
            schema: {type: object}
      responses: {"200": {description: ok}}
  /api/products:
    get:
      responses: {"200": {description: ok}}
  /api/admin/users:
    get:
      security:
        - oauth: [admin]
      responses: {"200": {description: ok}}
  /api/seats:
    get:
      security:
        - {}
        - bearerAuth: []
      responses: {"200": {description: ok}}
  /api/users/me:
    get:
      security:
        - basicAuth: []
      responses: {"200": {description: ok}}
"#,
    )
    .expect("write spec");
    let jwks = example().with_file_name("jwks.json");
    let config = format!(
        r#"
[auth]
default_access = "anonymous"

[[auth.issuers]]
issuer = "https://issuer.example"
audiences = ["palisade-demo"]
algorithms = ["RS256"]
jwks_file = "{}"

[openapi]
spec = "{}"

[openapi.policy]
response_mode = "off"
"#,
        jwks.display(),
        spec.display()
    );
    let h = Harness::with_config(&config).await;
    let c = client();
    let alice = bearer(&token("alice", None));
    let admin = bearer(&token("root", Some("admin")));
    let status = |r: &Reply| r.status;
    // The document-wide requirement: a bearer token.
    let r = get_as(&c, &h.url("/api/products"), None).await;
    assert_eq!(status(&r), 401, "{}", r.text());
    assert!(challenge(&r).starts_with("Bearer"));
    let r = get_as(&c, &h.url("/api/products"), Some(&alice)).await;
    assert_eq!(status(&r), 200, "{}", r.text());
    // An operation's own requirement: the admin scope (BFLA).
    let r = get_as(&c, &h.url("/api/admin/users"), Some(&alice)).await;
    assert_eq!(status(&r), 403, "{}", r.text());
    assert!(challenge(&r).contains("insufficient_scope"));
    let r = get_as(&c, &h.url("/api/admin/users"), Some(&admin)).await;
    assert_ne!(status(&r), 403, "{}", r.text());
    // `security: []`: public; `{}` among the alternatives: optional.
    let r = send(
        &c,
        Method::POST,
        &h.url("/api/login"),
        &[("content-type", "application/json")],
        br#"{"username":"alice","password":"alice-wonderland-1"}"#,
    )
    .await;
    assert_eq!(status(&r), 200, "{}", r.text());
    let r = get_as(&c, &h.url("/api/seats"), None).await;
    assert_eq!(status(&r), 200, "{}", r.text());
    // HTTP basic is the upstream's to check: the gateway lets it through.
    let r = get_as(&c, &h.url("/api/users/me"), None).await;
    let from_gateway = r
        .headers
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    assert!(!from_gateway, "{} {}", r.status, r.text());
}

/// A configuration reload neither gives a client a fresh allowance nor lifts
/// a limit that already refuses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_survive_a_reload() {
    let h = Harness::with_config(
        r#"
[[rate_limits]]
name = "per-ip"
path = "/api/products"
key = ["ip"]
rate = 2
per = "hour"
burst = 2
"#,
    )
    .await;
    let c = client();
    for _ in 0..2 {
        let r = send(&c, Method::GET, &h.url("/api/products"), &[], b"").await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let r = send(&c, Method::GET, &h.url("/api/products"), &[], b"").await;
    assert_eq!(r.status, 429, "{}", r.text());
    h.gw.reload().expect("reload");
    let r = send(&c, Method::GET, &h.url("/api/products"), &[], b"").await;
    assert_eq!(r.status, 429, "after the reload: {}", r.text());
}
