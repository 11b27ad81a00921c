//! Identity and access control for the Palisade gateway.
//!
//! The engine turns a credential into a verified [`palisade_core::Principal`]
//! and decides, per route, whether that principal may call it:
//!
//! * **JWT** ([`jwt`], [`issuer`]): HS256/384/512, RS256/384/512,
//!   PS256/384/512, ES256/384 and EdDSA through the `jsonwebtoken` crate with
//!   its pure-Rust (RustCrypto) backend. Per issuer an algorithm allow-list;
//!   `none` is always refused; keys are bound to their algorithm family so a
//!   public RSA/EC key can never verify an HMAC token (algorithm confusion);
//!   `jku`, `x5u`, `x5c` and `jwk` headers are never followed; `kid` is only a
//!   map key. Keys come from PEM or JWK files, a JWKS file, or a JWKS URL
//!   cached in memory, refreshed on a schedule and on an unknown `kid` (at
//!   most once per `jwks_min_refetch_seconds`).
//! * **Opaque tokens** ([`introspection`]): RFC 7662 introspection behind a
//!   trait, with a bounded TTL cache keyed by the token's hash.
//! * **API keys** ([`apikey`]): `pk_<id>_<secret>`, stored as SHA-256 only in
//!   an embedded SQLite store (create / revoke / list), verified against an
//!   in-memory snapshot.
//! * **mTLS** ([`mtls`]): a verified client certificate maps to a principal
//!   (SAN URI, CN, SAN DNS or e-mail).
//! * **Signed requests** ([`signature`]): HMAC-SHA256 over method, path,
//!   timestamp, nonce, selected headers and body digest, with a replay cache
//!   and a clock-skew window.
//! * **Authorization** ([`authz`]): ordered rules by path pattern and method
//!   requiring authentication, scopes and claim values. Missing or refused
//!   credentials give a `BrokenAuthentication` finding enforced as 401 with an
//!   RFC 6750 `WWW-Authenticate` challenge; insufficient rights give a
//!   `BrokenFunctionAuthorization` finding enforced as 403. Where no rule
//!   applies and an OpenAPI description covers the request, the operation's
//!   `security` requirements decide ([`authz::authorize_operation`]): any
//!   alternative suffices; bearer/OAuth 2/OpenID Connect schemes need a token
//!   with the listed scopes, `apiKey` an API key, `mutualTLS` a client
//!   certificate; `security: []` or an empty alternative makes the operation
//!   public; schemes the gateway cannot verify (HTTP basic) are left to the
//!   upstream.
//! * **Identity headers** ([`identity_headers`]): client copies stripped,
//!   verified values set for the upstream.
//!
//! [`AuthEngine`] ties these together; it is a [`palisade_core::Detector`]
//! (sync, no I/O) with an optional async [`AuthEngine::authenticate`] step for
//! JWKS refetches and introspection.
//!
//! # Driving it from the proxy
//!
//! ```text
//! let engine = Arc::new(AuthEngine::from_config(&config.auth, config_dir)?);
//! engine.refresh_jwks().await;             // once at start-up
//! engine.spawn_background_tasks();         // JWKS schedule, API key store reload
//! // per request, before the detector pipeline:
//! tx.state.insert(PeerCertificate(der));   // when the TLS layer verified a client cert
//! engine.authenticate(&mut tx).await;      // JWKS refetch on unknown kid, introspection
//! // the pipeline runs engine.inspect(Phase::RequestHead / RequestBody, &mut tx)
//! // before forwarding upstream:
//! engine.apply_identity_headers(&mut upstream_headers, tx.principal.as_ref());
//! ```
//!
//! Refusals are findings carrying an [`palisade_core::Enforcement`] (401 with
//! `WWW-Authenticate`, or 403); `palisade_core::DecisionPolicy::decide` turns
//! them into the response. The API key store behind `palisade keys
//! create|revoke|list` is [`ApiKeyStore`] (`open`, `create`, `revoke`, `list`).
//!
//! Verified JWTs are cached ([`verified_cache`]) so a client repeating its
//! token does not pay for an RSA verification on every request.
//!
//! JWKS and introspection endpoints are fetched by [`fetch::HyperFetcher`]
//! over `http://` or `https://` (rustls, ring provider, system roots plus an
//! optional `tls_ca_file`), or by any [`fetch::HttpFetcher`] the gateway supplies.
//!
//! Known limits: encrypted tokens (JWE) are refused.
//! The RSA implementation (RustCrypto `rsa`) is only used for public-key
//! verification, where its known timing side channel (RUSTSEC-2023-0071,
//! private-key operations) does not apply.

pub mod apikey;
pub mod authz;
pub mod config;
pub mod engine;
pub mod error;
pub mod fetch;
pub mod identity_headers;
pub mod introspection;
pub mod issuer;
pub mod jwt;
pub mod mtls;
pub mod signature;
pub mod token;
pub mod verified_cache;

pub use apikey::{ApiKeyIndex, ApiKeyRecord, ApiKeyStore, CreatedApiKey, NewApiKey};
pub use authz::{AuthzDecision, PathPattern, RuleSet};
pub use config::AuthConfig;
pub use engine::{AuthEngine, AuthFailure, AuthOutcome};
pub use error::{ConfigError, FetchError, JwtError, KeyStoreError};
pub use identity_headers::IdentityHeaders;
pub use mtls::{principal_from_certificate, PeerCertificate};

use std::path::Path;

/// Reads a secret from an environment variable or a file (relative to
/// `base_dir`), trimming one trailing newline from files.
pub fn read_secret(
    base_dir: &Path,
    env: Option<&str>,
    file: Option<&Path>,
) -> Result<Vec<u8>, ConfigError> {
    match (env, file) {
        (Some(var), None) => std::env::var(var)
            .map(String::into_bytes)
            .map_err(|_| ConfigError::Invalid(format!("environment variable {var} is not set"))),
        (None, Some(path)) => {
            let full = base_dir.join(path);
            let mut bytes = std::fs::read(&full).map_err(|source| ConfigError::Io {
                path: full.display().to_string(),
                source,
            })?;
            if bytes.last() == Some(&b'\n') {
                bytes.pop();
                if bytes.last() == Some(&b'\r') {
                    bytes.pop();
                }
            }
            Ok(bytes)
        }
        _ => Err(ConfigError::Invalid(
            "set exactly one of secret_env and secret_file".into(),
        )),
    }
}
