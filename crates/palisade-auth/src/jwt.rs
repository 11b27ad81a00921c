//! JWT verification.
//!
//! The checks run in an order that refuses the classic attacks before any
//! cryptography happens:
//!
//! 1. shape: three non-empty base64url segments, bounded length (JWE and
//!    unsigned tokens with a stripped signature are refused);
//! 2. `alg`: `none` in any spelling is refused; the algorithm must be on the
//!    issuer's allow-list;
//! 3. `crit` header parameters are refused (no extension is understood);
//!    `jku`, `x5u`, `x5c` and `jwk` are ignored: keys only ever come from the
//!    configuration or the issuer's configured JWKS;
//! 4. the key is chosen by `kid` (an opaque lookup string, nothing else) among
//!    the issuer's keys *of the algorithm's family*: an RSA or EC public key
//!    can never be handed to the HMAC verifier, which closes algorithm
//!    confusion; HMAC keys exist only when configured as secrets;
//! 5. signature verification (the `jsonwebtoken` crate, RustCrypto backend);
//! 6. claims: `iss`, `aud`, `exp`/`nbf`/`iat` with leeway, maximum age,
//!    required claims.

use crate::error::JwtError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, Validation};
use palisade_core::{Principal, PrincipalKind};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::str::FromStr;

/// Longest token accepted; real tokens are a few hundred bytes to a few KiB.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;
/// Longest `kid` looked up.
pub const MAX_KID_LEN: usize = 256;
/// Claims copied into a principal, at most.
const MAX_CLAIMS: usize = 64;
/// Longest claim value copied into a principal.
const MAX_CLAIM_VALUE: usize = 1024;
/// Keys tried for a token without `kid`.
const MAX_KEYS_TRIED: usize = 8;

type PemParser = fn(&[u8]) -> jsonwebtoken::errors::Result<DecodingKey>;

/// A verification key bound to one algorithm family (and possibly one algorithm).
#[derive(Clone)]
pub struct VerificationKey {
    pub kid: Option<String>,
    pub family: AlgorithmFamily,
    /// When set, the only algorithm this key verifies.
    pub algorithm: Option<Algorithm>,
    key: DecodingKey,
}

impl std::fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationKey")
            .field("kid", &self.kid)
            .field("family", &self.family)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl VerificationKey {
    /// An HMAC secret. Only configured secrets become HMAC keys.
    pub fn hmac_secret(kid: Option<String>, secret: &[u8]) -> Self {
        VerificationKey {
            kid,
            family: AlgorithmFamily::Hmac,
            algorithm: None,
            key: DecodingKey::from_secret(secret),
        }
    }

    /// A public key in PEM: RSA (SPKI or PKCS#1), EC (SPKI) or Ed25519 (SPKI).
    pub fn from_public_pem(kid: Option<String>, pem: &[u8]) -> Result<Self, JwtError> {
        let text = std::str::from_utf8(pem)
            .map_err(|_| JwtError::KeyMaterial("PEM is not UTF-8".into()))?;
        if text.contains("PRIVATE KEY") {
            return Err(JwtError::KeyMaterial(
                "a private key was given where a public key is expected".into(),
            ));
        }
        let attempts: [(AlgorithmFamily, PemParser); 3] = [
            (AlgorithmFamily::Rsa, DecodingKey::from_rsa_pem),
            (AlgorithmFamily::Ec, DecodingKey::from_ec_pem),
            (AlgorithmFamily::Ed, DecodingKey::from_ed_pem),
        ];
        for (family, parse) in attempts {
            if let Ok(key) = parse(pem) {
                let algorithm = if family == AlgorithmFamily::Ec {
                    ec_algorithm_from_spki_pem(text)
                } else {
                    None
                };
                return Ok(VerificationKey {
                    kid,
                    family,
                    algorithm,
                    key,
                });
            }
        }
        Err(JwtError::KeyMaterial("unrecognised public key PEM".into()))
    }

    /// A public JWK. Symmetric (`oct`) JWKs are refused: a key published in
    /// a JWK document is public and must never act as an HMAC secret.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, JwtError> {
        let (family, curve_alg) = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => (AlgorithmFamily::Rsa, None),
            AlgorithmParameters::EllipticCurve(p) => match p.curve {
                EllipticCurve::P256 => (AlgorithmFamily::Ec, Some(Algorithm::ES256)),
                EllipticCurve::P384 => (AlgorithmFamily::Ec, Some(Algorithm::ES384)),
                _ => return Err(JwtError::KeyMaterial("unsupported EC curve".into())),
            },
            AlgorithmParameters::OctetKeyPair(p) => match p.curve {
                EllipticCurve::Ed25519 => (AlgorithmFamily::Ed, Some(Algorithm::EdDSA)),
                _ => return Err(JwtError::KeyMaterial("unsupported OKP curve".into())),
            },
            AlgorithmParameters::OctetKey(_) => {
                return Err(JwtError::KeyMaterial(
                    "symmetric JWKs are not accepted as verification keys".into(),
                ))
            }
            _ => return Err(JwtError::KeyMaterial("unsupported JWK key type".into())),
        };
        if let Some(jsonwebtoken::jwk::PublicKeyUse::Encryption) = jwk.common.public_key_use {
            return Err(JwtError::KeyMaterial("JWK is an encryption key".into()));
        }
        let declared = match jwk.common.key_algorithm {
            Some(ka) => Some(
                Algorithm::from_str(&format!("{ka:?}"))
                    .map_err(|_| JwtError::KeyMaterial("unsupported JWK alg".into()))?,
            ),
            None => None,
        };
        if let Some(alg) = declared {
            if alg.family() != family {
                return Err(JwtError::KeyMaterial(
                    "JWK alg does not match its key type".into(),
                ));
            }
            if curve_alg.is_some_and(|c| c != alg) {
                return Err(JwtError::KeyMaterial(
                    "JWK alg does not match its curve".into(),
                ));
            }
        }
        let key = DecodingKey::from_jwk(jwk).map_err(|e| JwtError::KeyMaterial(e.to_string()))?;
        Ok(VerificationKey {
            kid: jwk.common.key_id.clone(),
            family,
            algorithm: declared.or(curve_alg),
            key,
        })
    }

    fn usable_with(&self, alg: Algorithm) -> bool {
        self.family == alg.family() && self.algorithm.is_none_or(|a| a == alg)
    }
}

/// Reads the named curve of an EC SPKI PEM so a P-256 key is never offered to ES384.
fn ec_algorithm_from_spki_pem(text: &str) -> Option<Algorithm> {
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .ok()?;
    // DER encodings of the curve OIDs prime256v1 and secp384r1.
    const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    const P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
    if der.windows(P256.len()).any(|w| w == P256) {
        Some(Algorithm::ES256)
    } else if der.windows(P384.len()).any(|w| w == P384) {
        Some(Algorithm::ES384)
    } else {
        None
    }
}

/// Parses a JWKS document, keeping every usable key and skipping the rest
/// (one unsupported key must not disable an issuer).
pub fn parse_jwks(document: &[u8]) -> Result<Vec<VerificationKey>, JwtError> {
    let value: Value = serde_json::from_slice(document)
        .map_err(|e| JwtError::KeyMaterial(format!("JWKS is not JSON: {e}")))?;
    let keys = value
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| JwtError::KeyMaterial("JWKS has no `keys` array".into()))?;
    let mut out = Vec::new();
    for entry in keys.iter().take(256) {
        let Ok(jwk) = serde_json::from_value::<Jwk>(entry.clone()) else {
            tracing::debug!("skipping unparseable JWK");
            continue;
        };
        match VerificationKey::from_jwk(&jwk) {
            Ok(k) => out.push(k),
            Err(e) => tracing::debug!(error = %e, "skipping unusable JWK"),
        }
    }
    Ok(out)
}

/// The parts of a token read before verification. Nothing here is trusted
/// except as a lookup key.
#[derive(Debug, Clone)]
pub struct UnverifiedToken {
    pub algorithm: Algorithm,
    pub kid: Option<String>,
    /// The unverified `iss`, used only to choose which issuer verifies it.
    pub issuer: Option<String>,
}

/// Checks shape and header of `token` and reads the fields needed to choose a key.
pub fn inspect_token(token: &str) -> Result<UnverifiedToken, JwtError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JwtError::Malformed("token too long"));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed("not a three-part compact JWS"));
    };
    if header.is_empty() || payload.is_empty() {
        return Err(JwtError::Malformed("empty header or payload"));
    }
    let header_json = decode_segment(header)?;
    let header_obj = header_json
        .as_object()
        .ok_or(JwtError::Malformed("header is not a JSON object"))?;
    let alg = header_obj
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(JwtError::Malformed("header has no alg"))?;
    if alg.eq_ignore_ascii_case("none") {
        return Err(JwtError::AlgorithmNone);
    }
    if signature.is_empty() {
        return Err(JwtError::MissingSignature);
    }
    if header_obj.contains_key("crit") {
        return Err(JwtError::UnsupportedCritical);
    }
    let algorithm =
        Algorithm::from_str(alg).map_err(|_| JwtError::AlgorithmNotAllowed(truncate(alg, 16)))?;
    let kid = match header_obj.get("kid") {
        None => None,
        Some(Value::String(k)) if k.len() <= MAX_KID_LEN => Some(k.clone()),
        Some(_) => return Err(JwtError::Malformed("kid is not a short string")),
    };
    let payload_json = decode_segment(payload)?;
    if !payload_json.is_object() {
        return Err(JwtError::Malformed("payload is not a JSON object"));
    }
    let issuer = payload_json
        .get("iss")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(UnverifiedToken {
        algorithm,
        kid,
        issuer,
    })
}

fn decode_segment(segment: &str) -> Result<Value, JwtError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| JwtError::Malformed("segment is not base64url"))?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed("segment is not JSON"))
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Claim checks of one issuer.
#[derive(Debug, Clone)]
pub struct ClaimPolicy {
    pub issuer: String,
    pub audiences: Vec<String>,
    pub leeway: u64,
    pub max_age: Option<u64>,
    pub required: Vec<String>,
    pub subject_claim: String,
    pub scope_claims: Vec<String>,
}

/// Verifies `token` against `keys` for an issuer whose allow-list is
/// `allowed` and claim policy is `policy`, at unix time `now`.
///
/// Returns [`JwtError::UnknownKid`] when the token names a `kid` none of the
/// keys carries, so the caller can refresh a JWKS and retry once.
pub fn verify_token(
    token: &str,
    header: &UnverifiedToken,
    allowed: &[Algorithm],
    keys: &[VerificationKey],
    policy: &ClaimPolicy,
    now: u64,
) -> Result<VerifiedJwt, JwtError> {
    let alg = header.algorithm;
    if !allowed.contains(&alg) {
        return Err(JwtError::AlgorithmNotAllowed(format!("{alg:?}")));
    }
    let candidates: Vec<&VerificationKey> = match &header.kid {
        Some(kid) => keys
            .iter()
            .filter(|k| k.kid.as_deref() == Some(kid.as_str()) && k.usable_with(alg))
            .collect(),
        None => keys
            .iter()
            .filter(|k| k.usable_with(alg))
            .take(MAX_KEYS_TRIED)
            .collect(),
    };
    if candidates.is_empty() {
        return Err(match &header.kid {
            Some(kid) => JwtError::UnknownKid(truncate(kid, 64)),
            None => JwtError::NoKey,
        });
    }
    let mut validation = Validation::new(alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let mut claims = None;
    for key in candidates {
        if let Ok(data) = jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation) {
            claims = Some(data.claims);
            break;
        }
    }
    let claims = claims.ok_or(JwtError::BadSignature)?;
    check_claims(&claims, policy, now)?;
    let (valid_from, valid_until) = validity_window(&claims, policy)?;
    Ok(VerifiedJwt {
        principal: principal_from_claims(&claims, policy, PrincipalKind::Jwt)?,
        valid_from,
        valid_until,
    })
}

/// A verified token: its principal and the unix-time window (leeway
/// included) in which its time claims hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedJwt {
    pub principal: Principal,
    pub valid_from: u64,
    pub valid_until: u64,
}

fn validity_window(
    claims: &Map<String, Value>,
    policy: &ClaimPolicy,
) -> Result<(u64, u64), JwtError> {
    let leeway = policy.leeway;
    let nbf = numeric_claim(claims, "nbf")?.unwrap_or(0);
    let iat = numeric_claim(claims, "iat")?;
    let from = nbf.max(iat.unwrap_or(0)).saturating_sub(leeway);
    let mut until = numeric_claim(claims, "exp")?.map_or(u64::MAX, |e| e.saturating_add(leeway));
    if let (Some(max_age), Some(iat)) = (policy.max_age, iat) {
        until = until.min(iat.saturating_add(max_age).saturating_add(leeway));
    }
    Ok((from, until))
}

fn numeric_claim(claims: &Map<String, Value>, name: &'static str) -> Result<Option<u64>, JwtError> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => match v.as_f64() {
            Some(n) if n.is_finite() && n >= 0.0 => Ok(Some(n as u64)),
            _ => Err(JwtError::InvalidClaim(name)),
        },
    }
}

/// Time, issuer, audience and presence checks.
pub fn check_claims(
    claims: &Map<String, Value>,
    policy: &ClaimPolicy,
    now: u64,
) -> Result<(), JwtError> {
    for name in &policy.required {
        if !claims.contains_key(name.as_str()) {
            return Err(JwtError::MissingClaim(truncate(name, 64)));
        }
    }
    let leeway = policy.leeway;
    if let Some(exp) = numeric_claim(claims, "exp")? {
        if now > exp.saturating_add(leeway) {
            return Err(JwtError::Expired);
        }
    }
    if let Some(nbf) = numeric_claim(claims, "nbf")? {
        if nbf > now.saturating_add(leeway) {
            return Err(JwtError::NotYetValid);
        }
    }
    let iat = numeric_claim(claims, "iat")?;
    if let Some(iat) = iat {
        if iat > now.saturating_add(leeway) {
            return Err(JwtError::IssuedInFuture);
        }
    }
    if let Some(max_age) = policy.max_age {
        let iat = iat.ok_or_else(|| JwtError::MissingClaim("iat".into()))?;
        if now.saturating_sub(iat) > max_age.saturating_add(leeway) {
            return Err(JwtError::Expired);
        }
    }
    match claims.get("iss").and_then(Value::as_str) {
        Some(iss) if iss == policy.issuer => {}
        _ => return Err(JwtError::WrongIssuer),
    }
    if !policy.audiences.is_empty() {
        let ok = match claims.get("aud") {
            Some(Value::String(a)) => policy.audiences.iter().any(|x| x == a),
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .any(|a| policy.audiences.iter().any(|x| x == a)),
            _ => false,
        };
        if !ok {
            return Err(JwtError::WrongAudience);
        }
    }
    Ok(())
}

/// Builds the principal of verified claims: subject, issuer, scopes, and the
/// scalar claims flattened (`realm_access.roles` for nested objects, array
/// elements joined with `,`).
pub fn principal_from_claims(
    claims: &Map<String, Value>,
    policy: &ClaimPolicy,
    kind: PrincipalKind,
) -> Result<Principal, JwtError> {
    let subject = match claims.get(policy.subject_claim.as_str()) {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(JwtError::MissingClaim(truncate(&policy.subject_claim, 64))),
    };
    let mut principal = Principal::new(kind, truncate(&subject, MAX_CLAIM_VALUE));
    principal.issuer = claims
        .get("iss")
        .and_then(Value::as_str)
        .map(std::sync::Arc::from);
    let mut scopes: Vec<String> = Vec::new();
    for name in &policy.scope_claims {
        match claims.get(name.as_str()) {
            Some(Value::String(s)) => scopes.extend(s.split_ascii_whitespace().map(str::to_owned)),
            Some(Value::Array(items)) => {
                scopes.extend(items.iter().filter_map(Value::as_str).map(str::to_owned))
            }
            _ => {}
        }
    }
    scopes.sort();
    scopes.dedup();
    scopes.truncate(MAX_CLAIMS);
    principal.scopes = scopes.into();
    principal.claims = std::sync::Arc::new(flatten_claims(claims));
    Ok(principal)
}

/// Flattens JSON claims into the string map principals carry.
pub fn flatten_claims(claims: &Map<String, Value>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    flatten_into(&mut out, "", claims, 0);
    out
}

fn flatten_into(
    out: &mut BTreeMap<String, String>,
    prefix: &str,
    obj: &Map<String, Value>,
    depth: usize,
) {
    for (name, value) in obj {
        if out.len() >= MAX_CLAIMS {
            return;
        }
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        match value {
            Value::String(s) => {
                out.insert(key, truncate(s, MAX_CLAIM_VALUE));
            }
            Value::Number(n) => {
                out.insert(key, n.to_string());
            }
            Value::Bool(b) => {
                out.insert(key, b.to_string());
            }
            Value::Array(items) => {
                let joined: Vec<String> = items
                    .iter()
                    .filter_map(|v| match v {
                        Value::String(s) => Some(s.clone()),
                        Value::Number(n) => Some(n.to_string()),
                        Value::Bool(b) => Some(b.to_string()),
                        _ => None,
                    })
                    .collect();
                out.insert(key, truncate(&joined.join(","), MAX_CLAIM_VALUE));
            }
            Value::Object(inner) if depth < 2 => flatten_into(out, &key, inner, depth + 1),
            _ => {}
        }
    }
}

/// Parses an algorithm name of the configuration. `none` is an error.
pub fn parse_algorithm(name: &str) -> Result<Algorithm, JwtError> {
    if name.eq_ignore_ascii_case("none") {
        return Err(JwtError::AlgorithmNone);
    }
    Algorithm::from_str(name).map_err(|_| JwtError::AlgorithmNotAllowed(truncate(name, 16)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn header_checks() {
        let seg = |v: &str| URL_SAFE_NO_PAD.encode(v);
        let tok = |h: &str, sig: &str| format!("{}.{}.{sig}", seg(h), seg("{}"));
        assert_eq!(
            inspect_token(&tok(r#"{"alg":"none"}"#, "")).unwrap_err(),
            JwtError::AlgorithmNone
        );
        assert_eq!(
            inspect_token(&tok(r#"{"alg":"RS256"}"#, "")).unwrap_err(),
            JwtError::MissingSignature
        );
        assert_eq!(
            inspect_token(&tok(r#"{"alg":"RS256","crit":["b64"]}"#, "x")).unwrap_err(),
            JwtError::UnsupportedCritical
        );
        assert!(matches!(
            inspect_token(&tok(r#"{"alg":"XS256"}"#, "x")),
            Err(JwtError::AlgorithmNotAllowed(_))
        ));
        assert!(matches!(
            inspect_token(&tok(r#"{"alg":"RS256","kid":7}"#, "x")),
            Err(JwtError::Malformed(_))
        ));
        assert!(inspect_token(&tok(r#"{"alg":"RS256","kid":"k"}"#, "x")).is_ok());
        assert!(matches!(
            inspect_token(&"a".repeat(MAX_TOKEN_LEN + 1)),
            Err(JwtError::Malformed(_))
        ));
    }

    proptest! {
        #[test]
        fn inspection_never_panics(token in "\\PC{0,300}") {
            let _ = inspect_token(&token);
        }

        #[test]
        fn inspection_of_structured_tokens_never_panics(
            header in "\\PC{0,60}", payload in "\\PC{0,60}", sig in "[A-Za-z0-9_-]{0,20}"
        ) {
            let token = format!("{}.{}.{sig}", URL_SAFE_NO_PAD.encode(&header), URL_SAFE_NO_PAD.encode(&payload));
            let _ = inspect_token(&token);
        }
    }
}
