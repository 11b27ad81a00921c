//! Route authorization (BFLA), API keys, signed requests, introspection and
//! identity headers through the engine.

use crate::common::*;
use http::{HeaderValue, Method, StatusCode};
use palisade_auth::apikey::NewApiKey;
use palisade_auth::signature::{canonical_string, sign};
use palisade_auth::{ApiKeyStore, AuthConfig, AuthEngine, AuthOutcome, PeerCertificate};
use palisade_core::{Action, Category, DecisionPolicy, Detector, Phase, RequestHead, Transaction};
use serde_json::json;
use std::sync::Arc;

fn engine(extra: &str, dir: &std::path::Path) -> AuthEngine {
    let toml_text = format!(
        r#"
realm = "palisade-demo"
[[issuers]]
issuer = "{ISSUER}"
audiences = ["{AUDIENCE}"]
algorithms = ["RS256"]
keys = [{{ kid = "{KID}", pem_file = "{pem}" }}]

[[rules]]
path = "/api/login"
methods = ["POST"]
access = "anonymous"

[[rules]]
path = "/api/admin/**"
scopes = ["admin"]

[[rules]]
path = "/api/reports/**"
claims = {{ role = ["auditor", "admin"] }}

[[rules]]
path = "/api/partners/**"
accept = ["api_key", "signed_request", "client_certificate"]

[[rules]]
path = "/api/internal/**"
access = "deny"

[[rules]]
path = "/api/**"
{extra}
"#,
        pem = example_dir()
            .join("keys/test-signing-key.pub.pem")
            .display()
    );
    let config: AuthConfig = toml::from_str(&toml_text).unwrap();
    AuthEngine::from_config(&config, dir).unwrap()
}

fn tx(method: Method, path: &str, headers: &[(&'static str, String)]) -> Transaction {
    let mut head = RequestHead::synthetic(method, path);
    for (k, v) in headers {
        head.headers.append(*k, HeaderValue::from_str(v).unwrap());
    }
    Transaction::new(head)
}

fn bearer(token: &str) -> (&'static str, String) {
    ("authorization", format!("Bearer {token}"))
}

fn decide(engine: &AuthEngine, mut t: Transaction) -> (Option<StatusCode>, Transaction) {
    engine.inspect(Phase::RequestHead, &mut t);
    if engine.wants(Phase::RequestBody) {
        engine.inspect(Phase::RequestBody, &mut t);
    }
    let d = DecisionPolicy::default().decide(Phase::RequestHead, &t.findings);
    let status = match d.action {
        Action::Blocked => d.enforcement.map(|e| e.status),
        _ => None,
    };
    (status, t)
}

fn challenge(t: &Transaction) -> String {
    t.findings
        .iter()
        .filter_map(|f| f.enforcement.as_ref())
        .flat_map(|e| e.headers.iter())
        .find(|(n, _)| n == http::header::WWW_AUTHENTICATE)
        .map(|(_, v)| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[test]
fn bfla_normal_user_cannot_call_admin_operations() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine("", dir.path());
    let user = mint_rs256(&claims("bob", "orders:read orders:write"));
    let admin = mint_rs256(&claims("root", "admin orders:read"));
    for (method, path) in [
        (Method::GET, "/api/admin/users"),
        (Method::DELETE, "/api/admin/users/7"),
        (Method::POST, "/api/admin"),
        (Method::GET, "/api/%61dmin/users"),
        (Method::GET, "/API/Admin/users"),
        (Method::GET, "/api/orders/../admin/users"),
        (Method::GET, "/api/admin;x=1/users"),
    ] {
        let (status, t) = decide(&e, tx(method.clone(), path, &[bearer(&user)]));
        assert_eq!(status, Some(StatusCode::FORBIDDEN), "{method} {path}");
        assert!(t
            .findings
            .iter()
            .any(|f| f.category == Category::BrokenFunctionAuthorization));
        assert!(challenge(&t).contains("error=\"insufficient_scope\", scope=\"admin\""));
        let (status, _) = decide(&e, tx(method.clone(), path, &[bearer(&admin)]));
        assert_eq!(status, None, "admin refused on {method} {path}");
        let (status, t) = decide(&e, tx(method.clone(), path, &[]));
        assert_eq!(status, Some(StatusCode::UNAUTHORIZED));
        assert_eq!(challenge(&t), "Bearer realm=\"palisade-demo\"");
    }
    let (status, _) = decide(&e, tx(Method::GET, "/api/orders", &[bearer(&user)]));
    assert_eq!(status, None);
}

#[test]
fn login_is_open_only_for_post_and_deny_rules_close() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine("", dir.path());
    assert_eq!(decide(&e, tx(Method::POST, "/api/login", &[])).0, None);
    assert_eq!(
        decide(&e, tx(Method::GET, "/api/login", &[])).0,
        Some(StatusCode::UNAUTHORIZED)
    );
    let admin = mint_rs256(&claims("root", "admin"));
    let (status, t) = decide(
        &e,
        tx(Method::GET, "/api/internal/metrics", &[bearer(&admin)]),
    );
    assert_eq!(status, Some(StatusCode::FORBIDDEN));
    assert!(t
        .findings
        .iter()
        .any(|f| f.rule_id == "palisade.authz.denied"));
    // No rule matches outside /api: default access is anonymous.
    assert_eq!(decide(&e, tx(Method::GET, "/health", &[])).0, None);
    // A forged token on an open route is reported without blocking.
    let forged = forge_hs256(&json!({"alg": "none"}), &claims("x", "admin"), None);
    let (status, t) = decide(&e, tx(Method::POST, "/api/login", &[bearer(&forged)]));
    assert_eq!(status, None);
    assert!(t
        .findings
        .iter()
        .any(|f| f.rule_id == "palisade.auth.alg_none"));
}

#[test]
fn claim_rules() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine("", dir.path());
    let mut c = claims("carol", "");
    c["role"] = json!("user");
    let (status, t) = decide(
        &e,
        tx(Method::GET, "/api/reports/q3", &[bearer(&mint_rs256(&c))]),
    );
    assert_eq!(status, Some(StatusCode::FORBIDDEN));
    assert!(t
        .findings
        .iter()
        .any(|f| f.rule_id == "palisade.authz.claim"));
    c["role"] = json!(["user", "auditor"]);
    assert_eq!(
        decide(
            &e,
            tx(Method::GET, "/api/reports/q3", &[bearer(&mint_rs256(&c))])
        )
        .0,
        None
    );
    c.as_object_mut().unwrap().remove("role");
    assert_eq!(
        decide(
            &e,
            tx(Method::GET, "/api/reports/q3", &[bearer(&mint_rs256(&c))])
        )
        .0,
        Some(StatusCode::FORBIDDEN)
    );
}

#[test]
fn api_keys_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = ApiKeyStore::open(&dir.path().join("keys.db")).unwrap();
    let created = store
        .create(NewApiKey {
            owner: "partner-a".into(),
            scopes: vec!["partners".into()],
            rate_limit: Some("10/second".into()),
            expires_at: None,
        })
        .unwrap();
    let e = engine("", dir.path());
    let toml_text = r#"
[api_keys]
store = "keys.db"
query = "api_key"
[[rules]]
path = "/api/partners/**"
accept = ["api_key"]
scopes = ["partners"]
"#;
    let config: AuthConfig = toml::from_str(toml_text).unwrap();
    let keyed = AuthEngine::from_config(&config, dir.path()).unwrap();
    let (status, t) = decide(
        &keyed,
        tx(
            Method::GET,
            "/api/partners/x",
            &[("x-api-key", created.plaintext.clone())],
        ),
    );
    assert_eq!(status, None, "{:?}", t.state.get::<AuthOutcome>());
    let p = t.principal.unwrap();
    assert_eq!(&*p.subject, "partner-a");
    assert_eq!(p.claims["api_key_id"], created.record.id);
    let (status, _) = decide(
        &keyed,
        tx(
            Method::GET,
            &format!("/api/partners/x?api_key={}", created.plaintext),
            &[],
        ),
    );
    assert_eq!(status, None);
    let (status, t) = decide(
        &keyed,
        tx(
            Method::GET,
            "/api/partners/x",
            &[(
                "x-api-key",
                "pk_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
            )],
        ),
    );
    assert_eq!(status, Some(StatusCode::UNAUTHORIZED));
    assert!(challenge(&t).contains("invalid_token"));
    store.revoke(&created.record.id).unwrap();
    keyed.reload_api_keys().unwrap();
    let (status, t) = decide(
        &keyed,
        tx(
            Method::GET,
            "/api/partners/x",
            &[("x-api-key", created.plaintext.clone())],
        ),
    );
    assert_eq!(status, Some(StatusCode::UNAUTHORIZED));
    assert!(
        matches!(t.state.get::<AuthOutcome>(), Some(AuthOutcome::Failed(f)) if f.code == "revoked")
    );
    // A JWT is not accepted where only API keys are.
    let user = mint_rs256(&claims("bob", "partners"));
    assert_eq!(
        decide(&e, tx(Method::GET, "/api/partners/x", &[bearer(&user)])).0,
        Some(StatusCode::FORBIDDEN)
    );
}

#[test]
fn signed_requests_through_the_engine() {
    let dir = tempfile::tempdir().unwrap();
    std::env::set_var(
        "PALISADE_TEST_SIG_SECRET",
        "partner-signing-secret-0123456789abcdef",
    );
    let toml_text = r#"
[signatures]
signed_headers = ["host", "content-type"]
keys = [{ id = "partner-a-1", owner = "partner-a", scopes = ["partners"], secret_env = "PALISADE_TEST_SIG_SECRET" }]
[[rules]]
path = "/api/partners/**"
accept = ["signed_request"]
"#;
    let config: AuthConfig = toml::from_str(toml_text).unwrap();
    let e = AuthEngine::from_config(&config, dir.path()).unwrap();
    let now = now();
    let body = br#"{"order":42}"#;
    let mut t = tx(
        Method::POST,
        "/api/partners/orders?dry=1",
        &[
            ("host", "api.example".into()),
            ("content-type", "application/json".into()),
        ],
    );
    let canonical = canonical_string(
        &Method::POST,
        "/api/partners/orders?dry=1",
        now,
        "n-0000000001",
        &["host".into(), "content-type".into()],
        &t.request.headers,
        body,
    );
    let sig = sign(b"partner-signing-secret-0123456789abcdef", &canonical);
    for (k, v) in [
        ("x-palisade-key-id", "partner-a-1".to_owned()),
        ("x-palisade-timestamp", now.to_string()),
        ("x-palisade-nonce", "n-0000000001".to_owned()),
        ("x-palisade-signature", sig),
    ] {
        t.request
            .headers
            .insert(k, HeaderValue::from_str(&v).unwrap());
    }
    let replay_headers = t.request.headers.clone();
    t.request_body = Some(bytes::Bytes::from_static(body));
    let (status, t) = decide(&e, t);
    assert_eq!(status, None, "{:?}", t.state.get::<AuthOutcome>());
    assert_eq!(&*t.principal.unwrap().subject, "partner-a");
    let mut replay = tx(Method::POST, "/api/partners/orders?dry=1", &[]);
    replay.request.headers = replay_headers;
    replay.request_body = Some(bytes::Bytes::from_static(body));
    let (status, t) = decide(&e, replay);
    assert_eq!(status, Some(StatusCode::UNAUTHORIZED));
    assert!(
        matches!(t.state.get::<AuthOutcome>(), Some(AuthOutcome::Failed(f)) if f.code == "replay")
    );
}

#[test]
fn client_certificates_become_principals() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine("", dir.path());
    let mut params = rcgen::CertificateParams::new(vec!["billing.internal".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "billing");
    let key = rcgen::KeyPair::generate().unwrap();
    let der = params.self_signed(&key).unwrap().der().to_vec();
    let mut t = tx(Method::GET, "/api/partners/x", &[]);
    t.state.insert(PeerCertificate(Arc::from(der)));
    let (status, t) = decide(&e, t);
    assert_eq!(status, None);
    assert_eq!(&*t.principal.unwrap().subject, "billing");
}

#[test]
fn identity_headers_strip_spoofed_values() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine("", dir.path());
    let user = mint_rs256(&claims("bob", "orders:read"));
    let (_, t) = decide(
        &e,
        tx(
            Method::GET,
            "/api/orders",
            &[
                bearer(&user),
                ("x-palisade-subject", "root".into()),
                ("x-palisade-scopes", "admin".into()),
            ],
        ),
    );
    let mut upstream = t.request.headers.clone();
    e.apply_identity_headers(&mut upstream, t.principal.as_ref());
    assert_eq!(upstream["x-palisade-subject"], "bob");
    assert_eq!(upstream["x-palisade-scopes"], "orders:read");
    assert_eq!(upstream.get_all("x-palisade-subject").iter().count(), 1);
    let mut anonymous = tx(
        Method::POST,
        "/api/login",
        &[("x-palisade-subject", "root".into())],
    )
    .request
    .headers;
    e.apply_identity_headers(&mut anonymous, None);
    assert!(anonymous.get("x-palisade-subject").is_none());
}

#[tokio::test]
async fn opaque_tokens_are_introspected_and_cached() {
    let server = TestServer::start().await;
    server.serve(
        "/introspect",
        200,
        json!({"active": true, "sub": "svc-reporting", "scope": "admin reports", "aud": "palisade-demo", "exp": now() + 600}).to_string(),
    );
    std::env::set_var("PALISADE_TEST_INTROSPECTION_SECRET", "s3cret");
    let toml_text = format!(
        r#"
[introspection]
url = "{}"
client_id = "palisade"
client_secret_env = "PALISADE_TEST_INTROSPECTION_SECRET"
audiences = ["palisade-demo"]
[[rules]]
path = "/api/admin/**"
scopes = ["admin"]
"#,
        server.url("/introspect")
    );
    let config: AuthConfig = toml::from_str(&toml_text).unwrap();
    let e = AuthEngine::from_config(&config, std::path::Path::new(".")).unwrap();
    for _ in 0..3 {
        let mut t = tx(Method::GET, "/api/admin/x", &[bearer("opaque-token-abc")]);
        e.authenticate(&mut t).await;
        e.inspect(Phase::RequestHead, &mut t);
        assert!(t.findings.is_empty(), "{:?}", t.findings);
        assert_eq!(&*t.principal.as_ref().unwrap().subject, "svc-reporting");
    }
    assert_eq!(server.hits("/introspect"), 1, "answers are cached");
    let (auth, body) = server.last_request.lock().unwrap().clone().unwrap();
    assert_eq!(auth, "Basic cGFsaXNhZGU6czNjcmV0");
    assert!(body.starts_with("token=opaque%2Dtoken%2Dabc"));
    server.serve("/introspect", 200, r#"{"active": false}"#);
    let mut t = tx(Method::GET, "/api/admin/x", &[bearer("revoked-token")]);
    e.authenticate(&mut t).await;
    e.inspect(Phase::RequestHead, &mut t);
    let d = DecisionPolicy::default().decide(Phase::RequestHead, &t.findings);
    assert_eq!(
        d.enforcement.map(|x| x.status),
        Some(StatusCode::UNAUTHORIZED)
    );
    // Without the async step, an uncached token cannot be verified: refused.
    let mut t = tx(Method::GET, "/api/admin/x", &[bearer("never-seen")]);
    e.inspect(Phase::RequestHead, &mut t);
    assert!(
        matches!(t.state.get::<AuthOutcome>(), Some(AuthOutcome::Failed(f)) if f.code == "introspection_unavailable")
    );
}
