//! HMAC-SHA256 request signatures.
//!
//! A client signs each request with a shared secret and sends four headers
//! (names configurable): `x-palisade-key-id`, `x-palisade-timestamp` (unix
//! seconds), `x-palisade-nonce` (8 to 128 characters of `[A-Za-z0-9_-]`) and
//! `x-palisade-signature` (the HMAC as lowercase hex or base64/base64url).
//!
//! The signed message is the **canonical string**, lines joined by `\n` with no
//! trailing newline:
//!
//! ```text
//! PALISADE-HMAC-SHA256
//! <METHOD, uppercase>
//! <path and query exactly as sent on the request line>
//! <timestamp>
//! <nonce>
//! <signed header 1 name, lowercase>:<its value, trimmed; several values joined by ",">
//! ...one line per configured signed header, in configuration order (empty value if absent)
//! <lowercase hex SHA-256 of the body (of the empty string when there is none)>
//! ```
//!
//! The request is accepted when the key id is known, the timestamp is within
//! the skew window of now, the nonce was not seen for this key within the
//! window, and the HMAC matches (compared in constant time). A nonce is only
//! remembered once the signature verified, so unsigned junk cannot fill the cache.

use crate::config::SignaturesConfig;
use crate::error::ConfigError;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use http::{HeaderMap, Method};
use palisade_core::{Principal, PrincipalKind};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::Mutex;

type HmacSha256 = Hmac<Sha256>;

/// First line of the canonical string (algorithm and version).
pub const CANONICAL_PREFIX: &str = "PALISADE-HMAC-SHA256";

/// Why a signed request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("signature headers missing")]
    Missing,
    #[error("signature headers malformed")]
    Malformed,
    #[error("unknown signing key")]
    UnknownKey,
    #[error("timestamp outside the allowed clock skew")]
    Skew,
    #[error("nonce already used")]
    Replay,
    #[error("signature does not match")]
    Mismatch,
}

impl SignatureError {
    pub fn code(self) -> &'static str {
        match self {
            SignatureError::Missing => "missing",
            SignatureError::Malformed => "malformed",
            SignatureError::UnknownKey => "unknown_key",
            SignatureError::Skew => "skew",
            SignatureError::Replay => "replay",
            SignatureError::Mismatch => "mismatch",
        }
    }
}

/// The signature fields read from the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureParams {
    pub key_id: String,
    pub timestamp: u64,
    pub nonce: String,
    pub signature: Vec<u8>,
}

struct SigningKey {
    secret: Vec<u8>,
    owner: String,
    scopes: Vec<String>,
}

/// Bounded replay cache: `(key id, nonce)` pairs with their expiry.
struct NonceCache {
    capacity: usize,
    seen: HashMap<(String, String), u64>,
    order: VecDeque<((String, String), u64)>,
}

impl NonceCache {
    /// Records the nonce; false when it was already there and still live.
    fn insert(&mut self, key: (String, String), expires_at: u64, now: u64) -> bool {
        if self.seen.get(&key).is_some_and(|e| *e > now) {
            return false;
        }
        // Drop expired entries from the front; when full, evict the oldest
        // even if live (forcing that takes valid signatures, i.e. the secret).
        while let Some((_, exp)) = self.order.front() {
            let full = self.seen.len() >= self.capacity;
            if *exp > now && !full {
                break;
            }
            if let Some((old, old_exp)) = self.order.pop_front() {
                if self.seen.get(&old) == Some(&old_exp) {
                    self.seen.remove(&old);
                }
            }
        }
        self.seen.insert(key.clone(), expires_at);
        self.order.push_back((key, expires_at));
        true
    }
}

/// Verifies signed requests.
pub struct SignatureVerifier {
    keys: HashMap<String, SigningKey>,
    signed_headers: Vec<String>,
    max_skew: u64,
    header_names: [String; 4],
    nonces: Mutex<NonceCache>,
}

impl std::fmt::Debug for SignatureVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureVerifier")
            .field("keys", &self.keys.len())
            .field("signed_headers", &self.signed_headers)
            .finish_non_exhaustive()
    }
}

impl SignatureVerifier {
    pub fn from_config(config: &SignaturesConfig, base_dir: &Path) -> Result<Self, ConfigError> {
        let mut keys = HashMap::new();
        for k in &config.keys {
            let secret =
                crate::read_secret(base_dir, k.secret_env.as_deref(), k.secret_file.as_deref())
                    .map_err(|e| ConfigError::Invalid(format!("signature key {}: {e}", k.id)))?;
            if secret.len() < 32 {
                return Err(ConfigError::Invalid(format!(
                    "signature key {}: secrets must be at least 32 bytes",
                    k.id
                )));
            }
            keys.insert(
                k.id.clone(),
                SigningKey {
                    secret,
                    owner: k.owner.clone(),
                    scopes: k.scopes.clone(),
                },
            );
        }
        Ok(Self::new(
            keys.into_iter()
                .map(|(id, k)| (id, k.secret, k.owner, k.scopes))
                .collect(),
            config.signed_headers.clone(),
            config.max_skew_seconds,
            config.nonce_cache_entries,
            [
                config.key_id_header.clone(),
                config.timestamp_header.clone(),
                config.nonce_header.clone(),
                config.signature_header.clone(),
            ],
        ))
    }

    /// `keys`: `(id, secret, owner, scopes)`.
    pub fn new(
        keys: Vec<(String, Vec<u8>, String, Vec<String>)>,
        signed_headers: Vec<String>,
        max_skew: u64,
        nonce_capacity: usize,
        header_names: [String; 4],
    ) -> Self {
        SignatureVerifier {
            keys: keys
                .into_iter()
                .map(|(id, secret, owner, scopes)| {
                    (
                        id,
                        SigningKey {
                            secret,
                            owner,
                            scopes,
                        },
                    )
                })
                .collect(),
            signed_headers: signed_headers
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            max_skew,
            header_names: header_names.map(|h| h.to_ascii_lowercase()),
            nonces: Mutex::new(NonceCache {
                capacity: nonce_capacity.max(16),
                seen: HashMap::new(),
                order: VecDeque::new(),
            }),
        }
    }

    /// True when the request carries a signature header (verification then
    /// waits for the body).
    pub fn is_signed(&self, headers: &HeaderMap) -> bool {
        headers.contains_key(self.header_names[3].as_str())
    }

    /// Reads the signature headers.
    pub fn params(&self, headers: &HeaderMap) -> Result<SignatureParams, SignatureError> {
        let get = |name: &str| -> Result<String, SignatureError> {
            let mut values = headers.get_all(name).iter();
            let first = values.next().ok_or(SignatureError::Missing)?;
            if values.next().is_some() {
                return Err(SignatureError::Malformed);
            }
            first
                .to_str()
                .map(|s| s.trim().to_owned())
                .map_err(|_| SignatureError::Malformed)
        };
        parse_params(
            &get(&self.header_names[0])?,
            &get(&self.header_names[1])?,
            &get(&self.header_names[2])?,
            &get(&self.header_names[3])?,
        )
    }

    /// Verifies a request at unix time `now`.
    pub fn verify(
        &self,
        method: &Method,
        path_and_query: &str,
        headers: &HeaderMap,
        body: &[u8],
        now: u64,
    ) -> Result<Principal, SignatureError> {
        let params = self.params(headers)?;
        let key = self
            .keys
            .get(&params.key_id)
            .ok_or(SignatureError::UnknownKey)?;
        if params.timestamp.abs_diff(now) > self.max_skew {
            return Err(SignatureError::Skew);
        }
        let canonical = canonical_string(
            method,
            path_and_query,
            params.timestamp,
            &params.nonce,
            &self.signed_headers,
            headers,
            body,
        );
        let mut mac =
            HmacSha256::new_from_slice(&key.secret).map_err(|_| SignatureError::UnknownKey)?;
        mac.update(canonical.as_bytes());
        mac.verify_slice(&params.signature)
            .map_err(|_| SignatureError::Mismatch)?;
        let fresh = self
            .nonces
            .lock()
            .map(|mut cache| {
                cache.insert(
                    (params.key_id.clone(), params.nonce.clone()),
                    params
                        .timestamp
                        .saturating_add(self.max_skew)
                        .saturating_add(1),
                    now,
                )
            })
            .unwrap_or(false);
        if !fresh {
            return Err(SignatureError::Replay);
        }
        let mut principal = Principal::new(PrincipalKind::SignedRequest, key.owner.clone());
        principal.scopes = key.scopes.as_slice().into();
        std::sync::Arc::make_mut(&mut principal.claims).insert("key_id".into(), params.key_id);
        Ok(principal)
    }
}

/// Parses the four header values.
pub fn parse_params(
    key_id: &str,
    timestamp: &str,
    nonce: &str,
    signature: &str,
) -> Result<SignatureParams, SignatureError> {
    if key_id.is_empty() || key_id.len() > 128 {
        return Err(SignatureError::Malformed);
    }
    if timestamp.is_empty()
        || timestamp.len() > 12
        || !timestamp.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(SignatureError::Malformed);
    }
    let timestamp: u64 = timestamp.parse().map_err(|_| SignatureError::Malformed)?;
    let nonce_ok = (8..=128).contains(&nonce.len())
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !nonce_ok {
        return Err(SignatureError::Malformed);
    }
    let signature = decode_signature(signature).ok_or(SignatureError::Malformed)?;
    Ok(SignatureParams {
        key_id: key_id.to_owned(),
        timestamp,
        nonce: nonce.to_owned(),
        signature,
    })
}

fn decode_signature(s: &str) -> Option<Vec<u8>> {
    if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return hex::decode(s).ok();
    }
    let engines = [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    engines
        .iter()
        .find_map(|e| e.decode(s).ok())
        .filter(|bytes| bytes.len() == 32)
}

/// Builds the canonical string described in the module documentation.
pub fn canonical_string(
    method: &Method,
    path_and_query: &str,
    timestamp: u64,
    nonce: &str,
    signed_headers: &[String],
    headers: &HeaderMap,
    body: &[u8],
) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(CANONICAL_PREFIX);
    out.push('\n');
    out.push_str(&method.as_str().to_ascii_uppercase());
    out.push('\n');
    out.push_str(path_and_query);
    out.push('\n');
    out.push_str(&timestamp.to_string());
    out.push('\n');
    out.push_str(nonce);
    out.push('\n');
    for name in signed_headers {
        let values: Vec<String> = headers
            .get_all(name.as_str())
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
            .collect();
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    out.push_str(&hex::encode(Sha256::digest(body)));
    out
}

/// Client side: the hex signature of a request (for tests, SDKs and tools).
pub fn sign(secret: &[u8], canonical: &str) -> String {
    // HMAC accepts keys of any length; this cannot fail.
    match HmacSha256::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(canonical.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use proptest::prelude::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn verifier() -> SignatureVerifier {
        SignatureVerifier::new(
            vec![(
                "k1".into(),
                SECRET.to_vec(),
                "partner-a".into(),
                vec!["orders".into()],
            )],
            vec!["host".into(), "content-type".into()],
            300,
            1000,
            [
                "x-palisade-key-id".into(),
                "x-palisade-timestamp".into(),
                "x-palisade-nonce".into(),
                "x-palisade-signature".into(),
            ],
        )
    }

    fn signed(ts: u64, nonce: &str, body: &[u8], secret: &[u8]) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("api.example"));
        h.insert("content-type", HeaderValue::from_static("application/json"));
        let canonical = canonical_string(
            &Method::POST,
            "/orders?x=1",
            ts,
            nonce,
            &["host".into(), "content-type".into()],
            &h,
            body,
        );
        h.insert("x-palisade-key-id", HeaderValue::from_static("k1"));
        h.insert(
            "x-palisade-timestamp",
            HeaderValue::from_str(&ts.to_string()).unwrap(),
        );
        h.insert("x-palisade-nonce", HeaderValue::from_str(nonce).unwrap());
        h.insert(
            "x-palisade-signature",
            HeaderValue::from_str(&sign(secret, &canonical)).unwrap(),
        );
        h
    }

    #[test]
    fn canonical_string_is_exact() {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static(" api.example "));
        let c = canonical_string(
            &Method::GET,
            "/a?b=1",
            42,
            "nonce123",
            &["host".into(), "x-missing".into()],
            &h,
            b"",
        );
        assert_eq!(
            c,
            "PALISADE-HMAC-SHA256\nGET\n/a?b=1\n42\nnonce123\nhost:api.example\nx-missing:\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn valid_signature_accepted_once() {
        let v = verifier();
        let now = 1_700_000_000;
        let h = signed(now, "nonce-0001", b"{\"a\":1}", SECRET);
        let p = v
            .verify(&Method::POST, "/orders?x=1", &h, b"{\"a\":1}", now + 10)
            .unwrap();
        assert_eq!(&*p.subject, "partner-a");
        assert_eq!(p.kind, PrincipalKind::SignedRequest);
        assert_eq!(
            v.verify(&Method::POST, "/orders?x=1", &h, b"{\"a\":1}", now + 11),
            Err(SignatureError::Replay)
        );
    }

    #[test]
    fn tampering_and_skew_refused() {
        let v = verifier();
        let now = 1_700_000_000;
        let h = signed(now, "nonce-0002", b"{\"a\":1}", SECRET);
        assert_eq!(
            v.verify(&Method::POST, "/orders?x=1", &h, b"{\"a\":2}", now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            v.verify(&Method::PUT, "/orders?x=1", &h, b"{\"a\":1}", now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            v.verify(&Method::POST, "/orders?x=2", &h, b"{\"a\":1}", now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            v.verify(&Method::POST, "/orders?x=1", &h, b"{\"a\":1}", now + 301),
            Err(SignatureError::Skew)
        );
        let wrong = signed(now, "nonce-0003", b"", b"another-secret-another-secret-xx");
        assert_eq!(
            v.verify(&Method::POST, "/orders?x=1", &wrong, b"", now),
            Err(SignatureError::Mismatch)
        );
        let mut other_host = signed(now, "nonce-0004", b"", SECRET);
        other_host.insert("host", HeaderValue::from_static("evil.example"));
        assert_eq!(
            v.verify(&Method::POST, "/orders?x=1", &other_host, b"", now),
            Err(SignatureError::Mismatch)
        );
        // The failed attempts did not burn the nonce.
        let h = signed(now, "nonce-0002", b"{\"a\":1}", SECRET);
        assert!(v
            .verify(&Method::POST, "/orders?x=1", &h, b"{\"a\":1}", now)
            .is_ok());
        assert_eq!(
            v.verify(&Method::POST, "/x", &HeaderMap::new(), b"", now),
            Err(SignatureError::Missing)
        );
    }

    #[test]
    fn nonce_cache_stays_bounded() {
        let mut cache = NonceCache {
            capacity: 16,
            seen: HashMap::new(),
            order: VecDeque::new(),
        };
        for i in 0..1000u64 {
            assert!(cache.insert(("k".into(), format!("n{i}")), 10_000, 100));
            assert!(cache.seen.len() <= 16);
        }
    }

    proptest! {
        #[test]
        fn param_parsing_never_panics(a in "\\PC{0,80}", b in "\\PC{0,20}", c in "\\PC{0,140}", d in "\\PC{0,100}") {
            let _ = parse_params(&a, &b, &c, &d);
        }
    }
}
