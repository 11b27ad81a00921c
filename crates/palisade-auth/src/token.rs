//! Credential extraction from request headers.

use crate::config::TokenLocation;
use http::header::{AUTHORIZATION, COOKIE};
use http::{HeaderMap, HeaderValue};

/// Longest credential accepted from any location.
pub const MAX_CREDENTIAL_LEN: usize = 16 * 1024;

/// Why a credential could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    #[error("more than one credential of the same kind")]
    Ambiguous,
    #[error("credential is not well formed")]
    Malformed,
    #[error("credential too long")]
    TooLong,
}

/// A token and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractedToken {
    pub token: String,
    /// `header.authorization`, `cookie.session`... (for finding locations).
    pub location: String,
}

/// Reads a bearer token from the first configured location that has one.
/// `Ok(None)` means no location carried a token.
pub fn extract_token(
    headers: &HeaderMap,
    locations: &[TokenLocation],
) -> Result<Option<ExtractedToken>, ExtractError> {
    for location in locations {
        let found = match location {
            TokenLocation::Bearer => {
                bearer_token(headers)?.map(|t| (t, "header.authorization".to_owned()))
            }
            TokenLocation::Header { name } => single_header(headers, name)?.map(|t| {
                (
                    t.trim().to_owned(),
                    format!("header.{}", name.to_ascii_lowercase()),
                )
            }),
            TokenLocation::Cookie { name } => {
                cookie_value(headers, name)?.map(|t| (t, format!("cookie.{name}")))
            }
        };
        if let Some((token, location)) = found {
            if token.is_empty() {
                return Err(ExtractError::Malformed);
            }
            if token.len() > MAX_CREDENTIAL_LEN {
                return Err(ExtractError::TooLong);
            }
            return Ok(Some(ExtractedToken { token, location }));
        }
    }
    Ok(None)
}

/// `Authorization: Bearer <b64token>` (RFC 6750 §2.1). Other schemes yield `None`.
pub fn bearer_token(headers: &HeaderMap) -> Result<Option<String>, ExtractError> {
    let Some(value) = single_value(headers, &AUTHORIZATION)? else {
        return Ok(None);
    };
    let Some(token) = bearer_credential(value.as_bytes()) else {
        // Another scheme: not ours, but a value a header may not carry is
        // still refused.
        return match value.to_str() {
            Ok(_) => Ok(None),
            Err(_) => Err(ExtractError::Malformed),
        };
    };
    // A b64token is visible ASCII, so checking its alphabet also checks
    // what `HeaderValue::to_str` would.
    if !is_b64token(token) {
        return Err(ExtractError::Malformed);
    }
    std::str::from_utf8(token)
        .map(|t| Some(t.to_owned()))
        .map_err(|_| ExtractError::Malformed)
}

/// The credential of a single `Authorization: Bearer` header, as raw bytes
/// and unchecked: for looking up tokens already verified (whose bytes were
/// checked then). Anything unusual (no header, two headers, another scheme)
/// gives `None` and is left to [`bearer_token`].
pub fn bearer_bytes(headers: &HeaderMap) -> Option<&[u8]> {
    let value = single_value(headers, &AUTHORIZATION).ok()??;
    bearer_credential(value.as_bytes())
}

/// What follows `Bearer` and its spaces in an `Authorization` value, or
/// `None` for another scheme.
fn bearer_credential(value: &[u8]) -> Option<&[u8]> {
    let value = value.trim_ascii();
    let at = value.iter().position(|&b| b == b' ')?;
    if !value[..at].eq_ignore_ascii_case(b"bearer") {
        return None;
    }
    let rest = &value[at + 1..];
    Some(&rest[rest.iter().take_while(|&&b| b == b' ').count()..])
}

/// The b64token alphabet of RFC 6750 §2.1, as a table (this runs over every
/// byte of every bearer token).
const B64TOKEN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] =
            c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
        b += 1;
    }
    table
};

fn is_b64token(token: &[u8]) -> bool {
    let padding = token.iter().rev().take_while(|&&b| b == b'=').count();
    let body = &token[..token.len() - padding];
    !body.is_empty() && body.iter().all(|&b| B64TOKEN[usize::from(b)])
}

/// The value of a header that must appear at most once.
pub fn single_header(headers: &HeaderMap, name: &str) -> Result<Option<String>, ExtractError> {
    Ok(single_header_str(headers, name)?.map(str::to_owned))
}

/// [`single_header`], borrowed from the request.
fn single_header_str<'h>(
    headers: &'h HeaderMap,
    name: &str,
) -> Result<Option<&'h str>, ExtractError> {
    match single_value(headers, name)? {
        Some(value) => value
            .to_str()
            .map(Some)
            .map_err(|_| ExtractError::Malformed),
        None => Ok(None),
    }
}

/// The one value of a header that must appear at most once, within the
/// credential size limit.
fn single_value(
    headers: &HeaderMap,
    name: impl http::header::AsHeaderName,
) -> Result<Option<&HeaderValue>, ExtractError> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ExtractError::Ambiguous);
    }
    if first.len() > MAX_CREDENTIAL_LEN {
        return Err(ExtractError::TooLong);
    }
    Ok(Some(first))
}

/// The value of cookie `name`; the same cookie twice is ambiguous.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Result<Option<String>, ExtractError> {
    let mut found = None;
    for header in headers.get_all(COOKIE) {
        let Ok(text) = header.to_str() else {
            continue;
        };
        for pair in text.split(';') {
            let Some((k, v)) = pair.split_once('=') else {
                continue;
            };
            if k.trim() == name {
                if found.is_some() {
                    return Err(ExtractError::Ambiguous);
                }
                let v = v.trim();
                let v = v
                    .strip_prefix('"')
                    .and_then(|x| x.strip_suffix('"'))
                    .unwrap_or(v);
                found = Some(v.to_owned());
            }
        }
    }
    Ok(found)
}

/// The value of query parameter `name` (percent-decoded); twice is ambiguous.
pub fn query_value(query: Option<&str>, name: &str) -> Result<Option<String>, ExtractError> {
    let Some(query) = query else {
        return Ok(None);
    };
    let mut found = None;
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = percent_encoding::percent_decode_str(&k.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned();
        if k == name {
            if found.is_some() {
                return Err(ExtractError::Ambiguous);
            }
            let v = percent_encoding::percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned();
            if v.len() > MAX_CREDENTIAL_LEN {
                return Err(ExtractError::TooLong);
            }
            found = Some(v);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use proptest::prelude::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn bearer_variants() {
        let h = headers(&[("authorization", "Bearer abc.def.ghi")]);
        assert_eq!(bearer_token(&h).unwrap().as_deref(), Some("abc.def.ghi"));
        let h = headers(&[("authorization", "bearer   abc")]);
        assert_eq!(bearer_token(&h).unwrap().as_deref(), Some("abc"));
        let h = headers(&[("authorization", "Basic dXNlcjpwYXNz")]);
        assert_eq!(bearer_token(&h).unwrap(), None);
        let h = headers(&[("authorization", "Bearer a b")]);
        assert_eq!(bearer_token(&h), Err(ExtractError::Malformed));
        let h = headers(&[("authorization", "Bearer a"), ("authorization", "Bearer b")]);
        assert_eq!(bearer_token(&h), Err(ExtractError::Ambiguous));
    }

    #[test]
    fn cookies_and_locations() {
        let h = headers(&[("cookie", "a=1; session=tok; b=2")]);
        assert_eq!(cookie_value(&h, "session").unwrap().as_deref(), Some("tok"));
        let h = headers(&[("cookie", "session=1"), ("cookie", "session=2")]);
        assert_eq!(cookie_value(&h, "session"), Err(ExtractError::Ambiguous));
        let h = headers(&[("x-token", "t1"), ("cookie", "s=t2")]);
        let locs = vec![
            TokenLocation::Bearer,
            TokenLocation::Cookie { name: "s".into() },
            TokenLocation::Header {
                name: "x-token".into(),
            },
        ];
        let got = extract_token(&h, &locs).unwrap().unwrap();
        assert_eq!(got.token, "t2");
        assert_eq!(got.location, "cookie.s");
    }

    #[test]
    fn query_parameters() {
        assert_eq!(
            query_value(Some("a=1&key=pk%5Fx"), "key")
                .unwrap()
                .as_deref(),
            Some("pk_x")
        );
        assert_eq!(
            query_value(Some("key=1&key=2"), "key"),
            Err(ExtractError::Ambiguous)
        );
        assert_eq!(query_value(None, "key").unwrap(), None);
    }

    /// Bearer extraction as RFC 6750 states it, step by step: the header
    /// must be text, the scheme `Bearer`, the credential a b64token.
    fn bearer_by_the_rfc(headers: &HeaderMap) -> Result<Option<String>, ExtractError> {
        let Some(value) = single_header(headers, "authorization")? else {
            return Ok(None);
        };
        let Some((scheme, rest)) = value.trim().split_once(' ') else {
            return Ok(None);
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Ok(None);
        }
        let token = rest.trim_start_matches(' ');
        let body = token.trim_end_matches('=');
        let alphabet = |b: u8| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        };
        if body.is_empty() || !body.bytes().all(alphabet) {
            return Err(ExtractError::Malformed);
        }
        Ok(Some(token.to_owned()))
    }

    proptest! {
        #[test]
        fn bearer_extraction_follows_the_rfc(
            scheme in prop::sample::select(vec!["Bearer", "bearer", "BEARER", "Basic", "Bear", ""]),
            tail in prop::collection::vec(prop::sample::select(
                b"ab.=-_~+/ \t\x80\xff!,".to_vec()), 0..12),
        ) {
            let mut value = scheme.as_bytes().to_vec();
            value.extend_from_slice(&tail);
            let mut h = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_bytes(&value) {
                h.insert("authorization", v);
            }
            prop_assert_eq!(bearer_token(&h), bearer_by_the_rfc(&h));
            // The raw bytes used to find verified tokens are the same token.
            if let Ok(Some(token)) = bearer_token(&h) {
                prop_assert_eq!(bearer_bytes(&h), Some(token.as_bytes()));
            }
        }

        #[test]
        fn extraction_never_panics(auth in "\\PC{0,200}", cookie in "\\PC{0,200}", q in "\\PC{0,200}") {
            let mut h = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(&auth) { h.insert("authorization", v); }
            if let Ok(v) = HeaderValue::from_str(&cookie) { h.insert("cookie", v); }
            let locs = vec![TokenLocation::Bearer, TokenLocation::Cookie { name: "s".into() }];
            let _ = extract_token(&h, &locs);
            let _ = query_value(Some(&q), "k");
        }
    }
}
