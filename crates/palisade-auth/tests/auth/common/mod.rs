//! Test support: a local HTTP server that counts hits per path, and token minting.
#![allow(dead_code)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

/// Documents served by path, and the number of requests each path received.
#[derive(Clone, Default)]
pub struct TestServer {
    pub addr: String,
    pub documents: Arc<Mutex<HashMap<String, (u16, String)>>>,
    pub hits: Arc<Mutex<HashMap<String, usize>>>,
    pub last_request: Arc<Mutex<Option<(String, String)>>>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = TestServer {
            addr,
            ..Default::default()
        };
        let s = server.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let s = s.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                        let s = s.clone();
                        async move {
                            let path = req.uri().path().to_owned();
                            let auth = req
                                .headers()
                                .get("authorization")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("")
                                .to_owned();
                            let body = req
                                .into_body()
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            *s.last_request.lock().unwrap() =
                                Some((auth, String::from_utf8_lossy(&body).into_owned()));
                            *s.hits.lock().unwrap().entry(path.clone()).or_insert(0) += 1;
                            let (status, doc) = s
                                .documents
                                .lock()
                                .unwrap()
                                .get(&path)
                                .cloned()
                                .unwrap_or((404, String::new()));
                            let mut resp = Response::new(Full::new(Bytes::from(doc)));
                            *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                            Ok::<_, std::convert::Infallible>(resp)
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn serve(&self, path: &str, status: u16, body: impl Into<String>) {
        self.documents
            .lock()
            .unwrap()
            .insert(path.to_owned(), (status, body.into()));
    }

    pub fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    pub fn total_hits(&self) -> usize {
        self.hits.lock().unwrap().values().sum()
    }
}

pub fn example_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/identity")
}

pub fn rsa_private_pem() -> Vec<u8> {
    std::fs::read(example_dir().join("keys/test-signing-key.pem")).unwrap()
}

pub fn rsa_public_pem() -> Vec<u8> {
    std::fs::read(example_dir().join("keys/test-signing-key.pub.pem")).unwrap()
}

pub fn jwks_document() -> String {
    std::fs::read_to_string(example_dir().join("jwks.json")).unwrap()
}

pub const KID: &str = "palisade-demo-test-1";
pub const ISSUER: &str = "https://issuer.example";
pub const AUDIENCE: &str = "palisade-demo";

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Claims of a valid token for `sub` with `scope`.
pub fn claims(sub: &str, scope: &str) -> serde_json::Value {
    let now = now();
    serde_json::json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": sub, "scope": scope,
        "iat": now, "nbf": now - 5, "exp": now + 600
    })
}

/// Signs with `jsonwebtoken`.
pub fn mint(
    alg: jsonwebtoken::Algorithm,
    kid: Option<&str>,
    key: &jsonwebtoken::EncodingKey,
    claims: &serde_json::Value,
) -> String {
    let mut header = jsonwebtoken::Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

pub fn mint_rs256(claims: &serde_json::Value) -> String {
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(&rsa_private_pem()).unwrap();
    mint(jsonwebtoken::Algorithm::RS256, Some(KID), &key, claims)
}

/// A token with an arbitrary header, HMAC-SHA256-signed with `secret`
/// (`None`: empty signature).
pub fn forge_hs256(
    header: &serde_json::Value,
    claims: &serde_json::Value,
    secret: Option<&[u8]>,
) -> String {
    use hmac::{Hmac, Mac};
    let signing_input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig = match secret {
        Some(s) => {
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(s).unwrap();
            mac.update(signing_input.as_bytes());
            b64(&mac.finalize().into_bytes())
        }
        None => String::new(),
    };
    format!("{signing_input}.{sig}")
}
