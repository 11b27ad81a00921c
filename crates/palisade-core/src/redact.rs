//! Evidence redaction: findings carry enough of what matched to be useful to an
//! operator, and never enough to replay a credential.

use serde::{Deserialize, Serialize};

/// Longest evidence excerpt kept, in characters.
pub const EVIDENCE_MAX_CHARS: usize = 96;

/// A redacted, bounded excerpt of request or response data.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Evidence(pub String);

impl Evidence {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

const SECRET_NAMES: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "api-key",
    "x-api-key",
    "session",
    "credential",
    "private_key",
];

fn names_a_secret(location: &str) -> bool {
    let lower = location.to_ascii_lowercase();
    // Only the last component names the value (`json.$.user.password`).
    let last = lower.rsplit(['.', '[']).next().unwrap_or(&lower);
    SECRET_NAMES.iter().any(|s| last.contains(s)) || lower.starts_with("cookie.")
}

fn looks_like_jwt(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3
        && parts[0].starts_with("eyJ")
        && parts.iter().all(|p| {
            p.len() >= 2
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=')
        })
}

/// Redacts `raw` found at `location`.
///
/// Values whose location names a secret (passwords, tokens, cookies,
/// authorization headers) are reduced to their length; JWT-shaped strings keep
/// only their first characters; everything else is cut to
/// [`EVIDENCE_MAX_CHARS`] characters with control characters escaped.
pub fn redact_evidence(location: &str, raw: &str) -> Evidence {
    if raw.is_empty() {
        return Evidence::default();
    }
    if names_a_secret(location) {
        return Evidence(format!("[redacted {} bytes]", raw.len()));
    }
    let mut out = String::new();
    for word in raw.split_inclusive(char::is_whitespace) {
        if looks_like_jwt(word.trim()) {
            out.push_str(&word[..word.len().min(6)]);
            out.push_str("…[jwt redacted]");
            if word.ends_with(char::is_whitespace) {
                out.push(' ');
            }
        } else {
            out.push_str(word);
        }
    }
    let mut bounded = String::with_capacity(out.len().min(EVIDENCE_MAX_CHARS * 2));
    for (n, ch) in out.chars().enumerate() {
        if n >= EVIDENCE_MAX_CHARS {
            bounded.push('…');
            break;
        }
        if ch.is_control() {
            bounded.extend(ch.escape_default());
        } else {
            bounded.push(ch);
        }
    }
    Evidence(bounded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn secrets_are_reduced_to_length() {
        assert_eq!(
            redact_evidence("json.$.password", "hunter2' OR 1=1").0,
            "[redacted 15 bytes]"
        );
        assert_eq!(
            redact_evidence("header.authorization", "Bearer abc").0,
            "[redacted 10 bytes]"
        );
        assert_eq!(redact_evidence("cookie.sid", "x").0, "[redacted 1 bytes]");
    }

    #[test]
    fn jwts_are_cut() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
        let e = redact_evidence("query.q", &format!("token {jwt} end"));
        assert!(!e.0.contains("eyJzdWIiOiIxIn0"), "{}", e.0);
        assert!(e.0.contains("jwt redacted"));
    }

    #[test]
    fn control_bytes_escaped() {
        let e = redact_evidence("query.q", "a\r\nb");
        assert_eq!(e.0, "a\\r\\nb");
    }

    proptest! {
        #[test]
        fn evidence_is_bounded(loc in ".{0,20}", raw in ".{0,400}") {
            let e = redact_evidence(&loc, &raw);
            // escaped control chars can be up to 6 chars ("\u{7f}" style) each
            prop_assert!(e.0.chars().count() <= EVIDENCE_MAX_CHARS * 10 + 32);
        }
    }
}
