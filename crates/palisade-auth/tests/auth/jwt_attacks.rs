//! JWT attack suite against a real engine, with keys served by a local JWKS
//! server that counts every request it receives.

use crate::common::*;
use http::{Method, StatusCode};
use jsonwebtoken::{Algorithm, EncodingKey};
use palisade_auth::{AuthConfig, AuthEngine, AuthOutcome};
use palisade_core::{Action, Category, DecisionPolicy, Phase, RequestHead, Transaction};
use serde_json::json;

struct Setup {
    server: TestServer,
    engine: AuthEngine,
}

const HS_SECRET: &str = "an-hmac-secret-of-at-least-32-bytes!!";

async fn setup(extra_issuer_toml: &str) -> Setup {
    let server = TestServer::start().await;
    server.serve("/jwks.json", 200, jwks_document());
    std::env::set_var("PALISADE_TEST_HS_SECRET", HS_SECRET);
    let toml_text = format!(
        r#"
realm = "palisade-demo"
[[issuers]]
issuer = "{ISSUER}"
audiences = ["{AUDIENCE}"]
algorithms = ["RS256", "PS256"]
jwks_url = "{jwks}"
jwks_min_refetch_seconds = 30
leeway_seconds = 30
{extra_issuer_toml}

[[rules]]
path = "/api/login"
methods = ["POST"]
access = "anonymous"

[[rules]]
path = "/api/admin/**"
scopes = ["admin"]

[[rules]]
path = "/api/**"
"#,
        jwks = server.url("/jwks.json")
    );
    let config: AuthConfig = toml::from_str(&toml_text).unwrap();
    let engine = AuthEngine::from_config(&config, &example_dir()).unwrap();
    assert!(engine.refresh_jwks().await.is_empty());
    assert_eq!(server.hits("/jwks.json"), 1);
    Setup { server, engine }
}

fn request(method: Method, path: &str, token: Option<&str>) -> Transaction {
    let mut head = RequestHead::synthetic(method, path);
    if let Some(t) = token {
        head.headers.insert(
            "authorization",
            http::HeaderValue::from_str(&format!("Bearer {t}")).unwrap(),
        );
    }
    Transaction::new(head)
}

/// Runs the async authentication and the detector; returns the transaction.
async fn run(engine: &AuthEngine, mut tx: Transaction) -> Transaction {
    engine.authenticate(&mut tx).await;
    palisade_core::Detector::inspect(engine, Phase::RequestHead, &mut tx);
    tx
}

fn status(tx: &Transaction) -> Option<StatusCode> {
    let d = DecisionPolicy::default().decide(Phase::RequestHead, &tx.findings);
    match d.action {
        Action::Blocked => d.enforcement.map(|e| e.status),
        _ => None,
    }
}

fn failure_code(tx: &Transaction) -> Option<&'static str> {
    match tx.state.get::<AuthOutcome>() {
        Some(AuthOutcome::Failed(f)) => Some(f.code),
        _ => None,
    }
}

fn www_authenticate(tx: &Transaction) -> String {
    let d = DecisionPolicy::default().decide(Phase::RequestHead, &tx.findings);
    d.enforcement
        .and_then(|e| {
            e.headers
                .iter()
                .find(|(n, _)| n == http::header::WWW_AUTHENTICATE)
                .map(|(_, v)| v.to_str().unwrap().to_owned())
        })
        .unwrap_or_default()
}

async fn assert_refused(s: &Setup, token: &str, code: &str) {
    let tx = run(&s.engine, request(Method::GET, "/api/orders", Some(token))).await;
    assert_eq!(
        status(&tx),
        Some(StatusCode::UNAUTHORIZED),
        "token accepted; expected {code}"
    );
    assert_eq!(failure_code(&tx), Some(code));
    assert!(tx.principal.is_none());
    assert!(www_authenticate(&tx).contains("error=\"invalid_token\""));
    assert!(tx
        .findings
        .iter()
        .all(|f| f.category == Category::BrokenAuthentication));
    // The token never appears in findings.
    let serialized = serde_json::to_string(&tx.findings).unwrap();
    assert!(!serialized.contains(token), "token leaked into a finding");
}

#[tokio::test]
async fn valid_token_is_accepted() {
    let s = setup("").await;
    let token = mint_rs256(&claims("alice", "orders:read"));
    let tx = run(&s.engine, request(Method::GET, "/api/orders", Some(&token))).await;
    assert_eq!(status(&tx), None, "{:?}", tx.findings);
    let p = tx.principal.unwrap();
    assert_eq!(&*p.subject, "alice");
    assert_eq!(p.issuer.as_deref(), Some(ISSUER));
    assert!(p.has_scope("orders:read"));
    assert_eq!(s.server.hits("/jwks.json"), 1);
}

#[tokio::test]
async fn alg_none_is_refused_in_every_spelling() {
    let s = setup("").await;
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = json!({"alg": alg, "typ": "JWT", "kid": KID});
        let body = claims("mallory", "admin");
        let unsigned = format!(
            "{}.{}.",
            b64(header.to_string().as_bytes()),
            b64(body.to_string().as_bytes())
        );
        assert_refused(&s, &unsigned, "alg_none").await;
        let with_junk_sig = format!("{unsigned}c2ln");
        assert_refused(&s, &with_junk_sig, "alg_none").await;
    }
}

#[tokio::test]
async fn hs_rs_confusion_with_public_key_as_secret() {
    // Issuer allowing RS256 only: HS256 is not on the allow-list.
    let s = setup("").await;
    let public_pem = rsa_public_pem();
    let body = claims("mallory", "admin");
    for kid in [Some(KID), None] {
        let mut header = json!({"alg": "HS256", "typ": "JWT"});
        if let Some(k) = kid {
            header["kid"] = json!(k);
        }
        let forged = forge_hs256(&header, &body, Some(&public_pem));
        assert_refused(&s, &forged, "alg_not_allowed").await;
    }
}

#[tokio::test]
async fn hs_rs_confusion_when_the_issuer_also_allows_hmac() {
    // A second issuer allows both RS256 and HS256 with a configured secret and
    // the RSA public key: the RSA key must never serve as an HMAC secret.
    let s = setup(&format!(
        r#"
[[issuers]]
issuer = "https://mixed.example"
algorithms = ["RS256", "HS256"]
[[issuers.keys]]
kid = "{KID}"
pem_file = "keys/test-signing-key.pub.pem"
[[issuers.keys]]
kid = "hmac-1"
secret_env = "PALISADE_TEST_HS_SECRET"
"#
    ))
    .await;
    let mut body = claims("mallory", "admin");
    body["iss"] = json!("https://mixed.example");
    let public_pem = rsa_public_pem();
    // kid of the RSA key: there is no HMAC key with that kid.
    let forged = forge_hs256(
        &json!({"alg": "HS256", "kid": KID}),
        &body,
        Some(&public_pem),
    );
    assert_refused(&s, &forged, "unknown_kid").await;
    // No kid: only HMAC secrets are tried, and the public key is not one.
    let forged = forge_hs256(&json!({"alg": "HS256"}), &body, Some(&public_pem));
    assert_refused(&s, &forged, "bad_signature").await;
    // The same issuer accepts its genuine HMAC and RSA tokens.
    let genuine = forge_hs256(
        &json!({"alg": "HS256", "kid": "hmac-1"}),
        &body,
        Some(HS_SECRET.as_bytes()),
    );
    let tx = run(
        &s.engine,
        request(Method::GET, "/api/orders", Some(&genuine)),
    )
    .await;
    assert_eq!(status(&tx), None, "{:?}", tx.state.get::<AuthOutcome>());
    let rsa = mint(
        Algorithm::RS256,
        Some(KID),
        &EncodingKey::from_rsa_pem(&rsa_private_pem()).unwrap(),
        &body,
    );
    let tx = run(&s.engine, request(Method::GET, "/api/orders", Some(&rsa))).await;
    assert_eq!(status(&tx), None);
}

#[tokio::test]
async fn kid_injection_is_only_a_lookup_key() {
    let s = setup(
        r#"
[[issuers]]
issuer = "https://hmac.example"
algorithms = ["HS256"]
[[issuers.keys]]
kid = "hmac-1"
secret_env = "PALISADE_TEST_HS_SECRET"
"#,
    )
    .await;
    let mut body = claims("mallory", "admin");
    body["iss"] = json!("https://hmac.example");
    for kid in [
        "../../../../../../dev/null",
        "/dev/null",
        "/proc/self/environ",
        "' UNION SELECT 'secret' -- ",
        "hmac-1' OR '1'='1",
        "hmac-1\u{0000}",
        "|cat /etc/passwd",
    ] {
        // Signed with the empty key (what /dev/null would yield) and with "secret".
        for secret in [&b""[..], &b"secret"[..]] {
            let forged = forge_hs256(&json!({"alg": "HS256", "kid": kid}), &body, Some(secret));
            assert_refused(&s, &forged, "unknown_kid").await;
        }
    }
    let forged = forge_hs256(
        &json!({"alg": "HS256", "kid": {"$ne": ""}}),
        &body,
        Some(b""),
    );
    assert_refused(&s, &forged, "malformed").await;
}

#[tokio::test]
async fn time_claims_are_enforced() {
    let s = setup("").await;
    let now = now();
    let mut expired = claims("alice", "");
    expired["exp"] = json!(now - 120);
    assert_refused(&s, &mint_rs256(&expired), "expired").await;
    // Within leeway (30 s) an expired token still passes.
    let mut in_leeway = claims("alice", "");
    in_leeway["exp"] = json!(now - 10);
    let tx = run(
        &s.engine,
        request(Method::GET, "/api/x", Some(&mint_rs256(&in_leeway))),
    )
    .await;
    assert_eq!(status(&tx), None);
    let mut future = claims("alice", "");
    future["nbf"] = json!(now + 3600);
    assert_refused(&s, &mint_rs256(&future), "not_yet_valid").await;
    let mut issued_later = claims("alice", "");
    issued_later["iat"] = json!(now + 3600);
    assert_refused(&s, &mint_rs256(&issued_later), "iat_future").await;
    let mut no_exp = claims("alice", "");
    no_exp.as_object_mut().unwrap().remove("exp");
    assert_refused(&s, &mint_rs256(&no_exp), "missing_claim").await;
    let mut string_exp = claims("alice", "");
    string_exp["exp"] = json!("never");
    assert_refused(&s, &mint_rs256(&string_exp), "invalid_claim").await;
}

#[tokio::test]
async fn audience_and_issuer_are_enforced() {
    let s = setup("").await;
    let mut wrong_aud = claims("alice", "");
    wrong_aud["aud"] = json!("another-api");
    assert_refused(&s, &mint_rs256(&wrong_aud), "wrong_audience").await;
    let mut aud_list = claims("alice", "");
    aud_list["aud"] = json!(["another-api", AUDIENCE]);
    let tx = run(
        &s.engine,
        request(Method::GET, "/api/x", Some(&mint_rs256(&aud_list))),
    )
    .await;
    assert_eq!(status(&tx), None);
    let mut no_aud = claims("alice", "");
    no_aud.as_object_mut().unwrap().remove("aud");
    assert_refused(&s, &mint_rs256(&no_aud), "wrong_audience").await;
    let mut wrong_iss = claims("alice", "");
    wrong_iss["iss"] = json!("https://evil.example");
    assert_refused(&s, &mint_rs256(&wrong_iss), "unknown_issuer").await;
    let mut no_iss = claims("alice", "");
    no_iss.as_object_mut().unwrap().remove("iss");
    // A single issuer is assumed, but the claim check still requires iss.
    assert_refused(&s, &mint_rs256(&no_iss), "wrong_issuer").await;
}

#[tokio::test]
async fn stripped_or_tampered_signature_is_refused() {
    let s = setup("").await;
    let token = mint_rs256(&claims("alice", ""));
    let (signing_input, _) = token.rsplit_once('.').unwrap();
    assert_refused(&s, &format!("{signing_input}."), "missing_signature").await;
    assert_refused(&s, signing_input, "malformed").await;
    // Payload swapped for one granting admin, original signature kept.
    let (header, rest) = token.split_once('.').unwrap();
    let (_, sig) = rest.split_once('.').unwrap();
    let evil_payload = b64(claims("alice", "admin").to_string().as_bytes());
    assert_refused(
        &s,
        &format!("{header}.{evil_payload}.{sig}"),
        "bad_signature",
    )
    .await;
    // Five-part JWE-shaped tokens and garbage.
    assert_refused(&s, "a.b.c.d.e", "malformed").await;
    assert_refused(&s, "eyJhbGciOiJSUzI1NiJ9.e30.%%%", "malformed").await;
}

#[tokio::test]
async fn key_url_headers_are_never_followed() {
    let s = setup("").await;
    // The attacker publishes their own EC key and points the token at it.
    let attacker = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let attacker_key = EncodingKey::from_ec_pem(attacker.serialize_pem().as_bytes()).unwrap();
    s.server.serve("/evil/jwks.json", 200, r#"{"keys":[]}"#);
    let body = claims("mallory", "admin");
    for (param, value) in [
        ("jku", json!(s.server.url("/evil/jwks.json"))),
        ("x5u", json!(s.server.url("/evil/cert.pem"))),
    ] {
        for alg in [Algorithm::RS256, Algorithm::ES256] {
            let mut header = jsonwebtoken::Header::new(alg);
            header.kid = Some("attacker-key".into());
            match param {
                "jku" => header.jku = value.as_str().map(str::to_owned),
                _ => header.x5u = value.as_str().map(str::to_owned),
            }
            let token = if alg == Algorithm::ES256 {
                jsonwebtoken::encode(&header, &body, &attacker_key).unwrap()
            } else {
                jsonwebtoken::encode(
                    &header,
                    &body,
                    &EncodingKey::from_rsa_pem(&rsa_private_pem()).unwrap(),
                )
                .unwrap()
            };
            let tx = run(&s.engine, request(Method::GET, "/api/orders", Some(&token))).await;
            assert_eq!(status(&tx), Some(StatusCode::UNAUTHORIZED));
        }
    }
    // An embedded `jwk` header carrying the attacker's key, with the real kid.
    let mut header = jsonwebtoken::Header::new(Algorithm::ES256);
    header.kid = Some(KID.into());
    header.jwk = Some(
        jsonwebtoken::jwk::Jwk::from_encoding_key(&attacker_key, Algorithm::ES256).unwrap_or_else(
            |_| {
                serde_json::from_value(json!({"kty":"EC","crv":"P-256","x":"AA","y":"AA"})).unwrap()
            },
        ),
    );
    let token = jsonwebtoken::encode(&header, &body, &attacker_key).unwrap();
    assert_refused(&s, &token, "alg_not_allowed").await;
    assert_eq!(s.server.hits("/evil/jwks.json"), 0, "jku was followed");
    assert_eq!(s.server.hits("/evil/cert.pem"), 0, "x5u was followed");
}

#[tokio::test]
async fn unknown_kid_refetches_once_then_refuses() {
    let s = setup("").await;
    let key = EncodingKey::from_rsa_pem(&rsa_private_pem()).unwrap();
    let token = mint(
        Algorithm::RS256,
        Some("rotated-key-2"),
        &key,
        &claims("alice", ""),
    );
    assert_refused(&s, &token, "unknown_kid").await;
    assert_eq!(s.server.hits("/jwks.json"), 2, "exactly one refetch");
    for _ in 0..5 {
        assert_refused(&s, &token, "unknown_kid").await;
    }
    let other = mint(
        Algorithm::RS256,
        Some("rotated-key-3"),
        &key,
        &claims("alice", ""),
    );
    assert_refused(&s, &other, "unknown_kid").await;
    assert_eq!(s.server.hits("/jwks.json"), 2, "refetches are rate limited");
}

#[tokio::test]
async fn key_rotation_is_picked_up_by_one_refetch() {
    let s = setup("").await;
    let new_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let encoding = EncodingKey::from_ec_pem(new_key.serialize_pem().as_bytes()).unwrap();
    let mut jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&encoding, Algorithm::ES256).unwrap();
    jwk.common.key_id = Some("ec-2".into());
    let mut doc: serde_json::Value = serde_json::from_str(&jwks_document()).unwrap();
    doc["keys"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::to_value(&jwk).unwrap());
    s.server.serve("/jwks.json", 200, doc.to_string());
    // ES256 is not on the allow-list of this issuer: refused without any fetch.
    let token = mint(
        Algorithm::ES256,
        Some("ec-2"),
        &encoding,
        &claims("alice", ""),
    );
    assert_refused(&s, &token, "alg_not_allowed").await;
    assert_eq!(s.server.hits("/jwks.json"), 1);
    // A rotated RSA kid that the new document carries is found after one refetch.
    let mut doc2: serde_json::Value = serde_json::from_str(&jwks_document()).unwrap();
    let mut rotated = doc2["keys"][0].clone();
    rotated["kid"] = json!("rsa-2");
    doc2["keys"].as_array_mut().unwrap().push(rotated);
    s.server.serve("/jwks.json", 200, doc2.to_string());
    let rsa = EncodingKey::from_rsa_pem(&rsa_private_pem()).unwrap();
    let token = mint(Algorithm::RS256, Some("rsa-2"), &rsa, &claims("alice", ""));
    let tx = run(&s.engine, request(Method::GET, "/api/orders", Some(&token))).await;
    assert_eq!(status(&tx), None, "{:?}", tx.state.get::<AuthOutcome>());
    assert_eq!(s.server.hits("/jwks.json"), 2);
}

#[tokio::test]
async fn every_supported_algorithm_verifies() {
    let ec256 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let ec384 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    let ed = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ec256.pem"), ec256.public_key_pem()).unwrap();
    std::fs::write(dir.path().join("ec384.pem"), ec384.public_key_pem()).unwrap();
    std::fs::write(dir.path().join("ed.pem"), ed.public_key_pem()).unwrap();
    std::fs::write(dir.path().join("rsa.pem"), rsa_public_pem()).unwrap();
    std::fs::write(dir.path().join("hs.secret"), format!("{HS_SECRET}\n")).unwrap();
    let toml_text = format!(
        r#"
[[issuers]]
issuer = "{ISSUER}"
audiences = ["{AUDIENCE}"]
algorithms = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA", "HS256", "HS384", "HS512"]
keys = [
  {{ kid = "rsa", pem_file = "rsa.pem" }},
  {{ kid = "ec256", pem_file = "ec256.pem" }},
  {{ kid = "ec384", pem_file = "ec384.pem" }},
  {{ kid = "ed", pem_file = "ed.pem" }},
  {{ kid = "hs", secret_file = "hs.secret" }},
]
[[rules]]
path = "/**"
"#
    );
    let config: AuthConfig = toml::from_str(&toml_text).unwrap();
    let engine = AuthEngine::from_config(&config, dir.path()).unwrap();
    let rsa = EncodingKey::from_rsa_pem(&rsa_private_pem()).unwrap();
    let cases: Vec<(Algorithm, &str, EncodingKey)> = vec![
        (Algorithm::RS256, "rsa", rsa.clone()),
        (Algorithm::RS384, "rsa", rsa.clone()),
        (Algorithm::RS512, "rsa", rsa.clone()),
        (Algorithm::PS256, "rsa", rsa.clone()),
        (Algorithm::PS384, "rsa", rsa.clone()),
        (Algorithm::PS512, "rsa", rsa),
        (
            Algorithm::ES256,
            "ec256",
            EncodingKey::from_ec_pem(ec256.serialize_pem().as_bytes()).unwrap(),
        ),
        (
            Algorithm::ES384,
            "ec384",
            EncodingKey::from_ec_pem(ec384.serialize_pem().as_bytes()).unwrap(),
        ),
        (
            Algorithm::EdDSA,
            "ed",
            EncodingKey::from_ed_pem(ed.serialize_pem().as_bytes()).unwrap(),
        ),
        (
            Algorithm::HS256,
            "hs",
            EncodingKey::from_secret(HS_SECRET.as_bytes()),
        ),
        (
            Algorithm::HS384,
            "hs",
            EncodingKey::from_secret(HS_SECRET.as_bytes()),
        ),
        (
            Algorithm::HS512,
            "hs",
            EncodingKey::from_secret(HS_SECRET.as_bytes()),
        ),
    ];
    for (alg, kid, key) in &cases {
        let token = mint(*alg, Some(kid), key, &claims("alice", ""));
        let tx = run(&engine, request(Method::GET, "/x", Some(&token))).await;
        assert_eq!(
            status(&tx),
            None,
            "{alg:?}: {:?}",
            tx.state.get::<AuthOutcome>()
        );
        // The same token under another key's kid fails (keys are bound to their family/curve).
        let wrong_kid = if *kid == "ec256" { "ec384" } else { "ec256" };
        let token = mint(*alg, Some(wrong_kid), key, &claims("alice", ""));
        let tx = run(&engine, request(Method::GET, "/x", Some(&token))).await;
        assert_eq!(
            status(&tx),
            Some(StatusCode::UNAUTHORIZED),
            "{alg:?} verified with kid {wrong_kid}"
        );
    }
}

#[tokio::test]
async fn config_refuses_none_and_unknown_fields() {
    let bad_alg = r#"
[[issuers]]
issuer = "x"
algorithms = ["none"]
keys = [{ pem_file = "keys/test-signing-key.pub.pem" }]
"#;
    let config: AuthConfig = toml::from_str(bad_alg).unwrap();
    assert!(AuthEngine::from_config(&config, &example_dir()).is_err());
    assert!(toml::from_str::<AuthConfig>(
        "[[issuers]]\nissuer = \"x\"\nalgorithms = [\"RS256\"]\nalgorithm = \"RS256\"\n"
    )
    .is_err());
    let private_as_public = r#"
[[issuers]]
issuer = "x"
algorithms = ["RS256"]
keys = [{ pem_file = "keys/test-signing-key.pem" }]
"#;
    let config: AuthConfig = toml::from_str(private_as_public).unwrap();
    assert!(AuthEngine::from_config(&config, &example_dir()).is_err());
    let short_secret = r#"
[[issuers]]
issuer = "x"
algorithms = ["HS256"]
keys = [{ secret_env = "PALISADE_TEST_SHORT" }]
"#;
    std::env::set_var("PALISADE_TEST_SHORT", "short");
    let config: AuthConfig = toml::from_str(short_secret).unwrap();
    assert!(AuthEngine::from_config(&config, &example_dir()).is_err());
}

#[tokio::test]
async fn cached_tokens_stop_verifying_when_their_key_is_withdrawn() {
    let s = setup("").await;
    let token = mint_rs256(&claims("alice", ""));
    for _ in 0..3 {
        let tx = run(&s.engine, request(Method::GET, "/api/orders", Some(&token))).await;
        assert_eq!(status(&tx), None);
    }
    // The issuer rotates its key out; the next scheduled refresh sees it.
    s.server.serve("/jwks.json", 200, r#"{"keys":[]}"#);
    assert!(s.engine.refresh_jwks().await.is_empty());
    let tx = run(&s.engine, request(Method::GET, "/api/orders", Some(&token))).await;
    assert_eq!(status(&tx), Some(StatusCode::UNAUTHORIZED));
}
