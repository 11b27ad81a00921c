//! Validation of complete request-head lines (request line and field lines, CRLF already removed).

use crate::{GuardLimits, Violation};

/// RFC 9110 `tchar`.
pub(crate) const fn is_tchar(byte: u8) -> bool {
    matches!(byte,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
        | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

pub(crate) fn is_token(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(|&b| is_tchar(b))
}

/// Field values may hold HTAB, SP, visible ASCII and obs-text; every other control byte is refused.
pub(crate) const fn is_field_value_byte(byte: u8) -> bool {
    byte == b'\t' || (byte >= 0x20 && byte != 0x7f)
}

/// True when every byte may appear in a field value. Bearer tokens and
/// cookies make values of hundreds of bytes on every request: the check runs
/// over blocks without stopping early inside one, which the compiler turns
/// into vector comparisons instead of a branch per byte.
fn is_field_value(value: &[u8]) -> bool {
    value.chunks(32).all(|block| {
        block.iter().fold(0u8, |refused, &b| {
            refused | u8::from(!is_field_value_byte(b))
        }) == 0
    })
}

fn is_ows(byte: u8) -> bool {
    byte == b' ' || byte == b'\t'
}

fn trim_ows(mut value: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = value {
        if !is_ows(*first) {
            break;
        }
        value = rest;
    }
    while let [rest @ .., last] = value {
        if !is_ows(*last) {
            break;
        }
        value = rest;
    }
    value
}

/// Compares a field name with a lowercase framing name, treating `_` as `-`.
///
/// Returns `(matches_loosely, matches_exactly)`.
fn name_matches(name: &[u8], lowercase: &[u8]) -> (bool, bool) {
    if name.len() != lowercase.len() {
        return (false, false);
    }
    let mut exact = true;
    for (&got, &want) in name.iter().zip(lowercase) {
        let got = got.to_ascii_lowercase();
        if got == want {
            continue;
        }
        if got == b'_' && want == b'-' {
            exact = false;
            continue;
        }
        return (false, false);
    }
    (true, exact)
}

/// Framing-relevant field names, checked for exact and `_`-obfuscated spellings.
const FRAMING_FIELDS: [&[u8]; 3] = [b"content-length", b"transfer-encoding", b"host"];

/// Whether a field name is, or mimics with `_`, a field that changes framing or routing.
pub(crate) fn is_framing_field(name: &[u8]) -> bool {
    FRAMING_FIELDS
        .iter()
        .any(|field| name_matches(name, field).0)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestKind {
    Plain,
    /// Carries `Upgrade`: the response may switch protocols.
    Upgrade,
    /// CONNECT: a 2xx response turns the connection into a tunnel.
    Connect,
}

/// What the framing state machine needs to know about a validated head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeadSummary {
    pub(crate) body: BodyFraming,
    pub(crate) kind: RequestKind,
    pub(crate) is_head_method: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyFraming {
    None,
    Length(u64),
    Chunked,
}

/// Accumulates the meaning of a head line by line.
#[derive(Debug, Default)]
pub(crate) struct HeadFacts {
    http10: bool,
    is_connect: bool,
    is_head_method: bool,
    content_length: Option<u64>,
    chunked: bool,
    host_count: u32,
    upgrade: bool,
    fields: usize,
}

impl HeadFacts {
    pub(crate) fn request_line(
        &mut self,
        line: &[u8],
        limits: &GuardLimits,
    ) -> Result<(), Violation> {
        let first_space = memchr::memchr(b' ', line).ok_or(Violation::InvalidRequestLine)?;
        let (method, rest) = line.split_at(first_space);
        let rest = rest.get(1..).unwrap_or_default();
        let second_space = memchr::memchr(b' ', rest).ok_or(Violation::InvalidRequestLine)?;
        let (target, version) = rest.split_at(second_space);
        let version = version.get(1..).unwrap_or_default();

        if method.is_empty() || target.is_empty() {
            return Err(Violation::InvalidRequestLine);
        }
        if !is_token(method) {
            return Err(Violation::InvalidMethod);
        }
        if target.len() > limits.max_uri_bytes {
            return Err(Violation::UriTooLong);
        }
        if version.contains(&b' ') {
            return Err(Violation::InvalidRequestTarget);
        }
        if !target.iter().all(|&b| (0x21..0x7f).contains(&b)) {
            return Err(Violation::InvalidRequestTarget);
        }
        self.http10 = match version {
            b"HTTP/1.1" => false,
            b"HTTP/1.0" => true,
            _ => return Err(Violation::UnsupportedVersion),
        };
        self.is_connect = method == b"CONNECT";
        self.is_head_method = method == b"HEAD";
        if !target_fits_method(method, target) {
            return Err(Violation::InvalidRequestTarget);
        }
        Ok(())
    }

    pub(crate) fn field_line(
        &mut self,
        line: &[u8],
        limits: &GuardLimits,
    ) -> Result<(), Violation> {
        self.fields += 1;
        if self.fields > limits.max_headers {
            return Err(Violation::TooManyHeaders);
        }
        let (name, value) = split_field_line(line)?;
        if is_framing_field(name) {
            self.framing_field(name, value)?;
        } else if name.eq_ignore_ascii_case(b"upgrade") {
            self.upgrade = true;
        }
        Ok(())
    }

    fn framing_field(&mut self, name: &[u8], value: &[u8]) -> Result<(), Violation> {
        let value = trim_ows(value);
        let (cl, cl_exact) = name_matches(name, b"content-length");
        let (te, te_exact) = name_matches(name, b"transfer-encoding");
        if (cl && !cl_exact) || (te && !te_exact) {
            return Err(Violation::ObfuscatedFramingHeader);
        }
        if cl {
            let length = parse_content_length(value)?;
            if self.content_length.is_some() {
                return Err(Violation::DuplicateContentLength);
            }
            self.content_length = Some(length);
        } else if te {
            if self.chunked {
                return Err(Violation::DuplicateTransferEncoding);
            }
            if !value.eq_ignore_ascii_case(b"chunked") {
                return Err(Violation::UnsupportedTransferEncoding);
            }
            self.chunked = true;
        } else {
            self.host_count += 1;
            if self.host_count > 1 {
                return Err(Violation::DuplicateHost);
            }
        }
        Ok(())
    }

    pub(crate) fn finish(&self) -> Result<HeadSummary, Violation> {
        if self.chunked && self.http10 {
            return Err(Violation::TransferEncodingInHttp10);
        }
        if self.chunked && self.content_length.is_some() {
            return Err(Violation::ContentLengthWithTransferEncoding);
        }
        if !self.http10 && self.host_count == 0 {
            return Err(Violation::MissingHost);
        }
        let body = match (self.chunked, self.content_length) {
            (true, _) => BodyFraming::Chunked,
            (false, Some(0) | None) => BodyFraming::None,
            (false, Some(length)) => BodyFraming::Length(length),
        };
        let kind = if self.is_connect {
            RequestKind::Connect
        } else if self.upgrade && !self.http10 {
            RequestKind::Upgrade
        } else {
            RequestKind::Plain
        };
        Ok(HeadSummary {
            body,
            kind,
            is_head_method: self.is_head_method,
        })
    }
}

/// Splits `name: value`, enforcing the field-line syntax shared by headers and trailers.
pub(crate) fn split_field_line(line: &[u8]) -> Result<(&[u8], &[u8]), Violation> {
    if line.first().is_some_and(|&b| is_ows(b)) {
        return Err(Violation::ObsFold);
    }
    let colon = memchr::memchr(b':', line).ok_or(Violation::InvalidHeaderName)?;
    let (name, value) = line.split_at(colon);
    let value = value.get(1..).unwrap_or_default();
    if name.last().is_some_and(|&b| is_ows(b)) {
        return Err(Violation::WhitespaceBeforeColon);
    }
    if !is_token(name) {
        return Err(Violation::InvalidHeaderName);
    }
    if !is_field_value(value) {
        return Err(Violation::InvalidHeaderValue);
    }
    Ok((name, value))
}

fn parse_content_length(value: &[u8]) -> Result<u64, Violation> {
    if value.is_empty() {
        return Err(Violation::InvalidContentLength);
    }
    value.iter().try_fold(0u64, |acc, &b| {
        if !b.is_ascii_digit() {
            return Err(Violation::InvalidContentLength);
        }
        acc.checked_mul(10)
            .and_then(|acc| acc.checked_add(u64::from(b - b'0')))
            .ok_or(Violation::InvalidContentLength)
    })
}

/// RFC 9112 §3.2 request-target forms: origin-form for most methods, asterisk-form only for
/// OPTIONS, authority-form only (and always) for CONNECT, absolute-form for any but CONNECT.
fn target_fits_method(method: &[u8], target: &[u8]) -> bool {
    if method == b"CONNECT" {
        return is_authority_form(target);
    }
    match target.first() {
        Some(b'/') => true,
        Some(b'*') => target.len() == 1 && method == b"OPTIONS",
        _ => is_absolute_form(target),
    }
}

fn is_absolute_form(target: &[u8]) -> bool {
    let Some(colon) = memchr::memchr(b':', target) else {
        return false;
    };
    let (scheme, _) = target.split_at(colon);
    let scheme_ok = scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    scheme_ok && target.get(colon..colon + 3) == Some(b"://".as_slice())
}

fn is_authority_form(target: &[u8]) -> bool {
    let Some(colon) = memchr::memrchr(b':', target) else {
        return false;
    };
    let (host, port) = target.split_at(colon);
    let port = port.get(1..).unwrap_or_default();
    !host.is_empty()
        && !port.is_empty()
        && port.iter().all(u8::is_ascii_digit)
        && !host.iter().any(|&b| matches!(b, b'/' | b'?' | b'#' | b'@'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_line(line: &[u8]) -> Result<HeadFacts, Violation> {
        let mut facts = HeadFacts::default();
        facts
            .request_line(line, &GuardLimits::default())
            .map(|()| facts)
    }

    fn field(line: &[u8]) -> Result<HeadFacts, Violation> {
        let mut facts = HeadFacts::default();
        facts
            .field_line(line, &GuardLimits::default())
            .map(|()| facts)
    }

    #[test]
    fn request_lines() {
        assert!(request_line(b"GET /a?b=c HTTP/1.1").is_ok());
        assert!(request_line(b"OPTIONS * HTTP/1.1").is_ok());
        assert!(request_line(b"GET http://example.com/ HTTP/1.0").is_ok());
        assert!(request_line(b"CONNECT example.com:443 HTTP/1.1").is_ok());
        assert_eq!(
            request_line(b"GET /").err(),
            Some(Violation::InvalidRequestLine)
        );
        assert_eq!(
            request_line(b"GET  / HTTP/1.1").err(),
            Some(Violation::InvalidRequestLine)
        );
        assert_eq!(
            request_line(b" GET / HTTP/1.1").err(),
            Some(Violation::InvalidRequestLine)
        );
        assert_eq!(
            request_line(b"G(T / HTTP/1.1").err(),
            Some(Violation::InvalidMethod)
        );
        assert_eq!(
            request_line(b"GET /a b HTTP/1.1").err(),
            Some(Violation::InvalidRequestTarget)
        );
        assert_eq!(
            request_line(b"GET /a\x00 HTTP/1.1").err(),
            Some(Violation::InvalidRequestTarget)
        );
        assert_eq!(
            request_line(b"GET /a\x7f HTTP/1.1").err(),
            Some(Violation::InvalidRequestTarget)
        );
        assert_eq!(
            request_line(b"GET * HTTP/1.1").err(),
            Some(Violation::InvalidRequestTarget)
        );
        assert_eq!(
            request_line(b"GET example.com:80 HTTP/1.1").err(),
            Some(Violation::InvalidRequestTarget)
        );
        assert_eq!(
            request_line(b"CONNECT / HTTP/1.1").err(),
            Some(Violation::InvalidRequestTarget)
        );
        assert_eq!(
            request_line(b"GET / HTTP/2.0").err(),
            Some(Violation::UnsupportedVersion)
        );
        assert_eq!(
            request_line(b"GET / HTTP/1.2").err(),
            Some(Violation::UnsupportedVersion)
        );
        assert_eq!(
            request_line(b"GET / http/1.1").err(),
            Some(Violation::UnsupportedVersion)
        );
        let long = [b"GET /".as_slice(), &[b'a'; 9000], b" HTTP/1.1"].concat();
        assert_eq!(request_line(&long).err(), Some(Violation::UriTooLong));
    }

    #[test]
    fn field_values_are_checked_to_the_last_byte() {
        for len in 0..100 {
            let mut value = vec![b'a'; len];
            assert!(is_field_value(&value));
            for at in 0..len {
                for bad in [0u8, 0x0b, 0x1f, 0x7f] {
                    value[at] = bad;
                    assert!(!is_field_value(&value), "{len} {at} {bad}");
                }
                value[at] = 0x80;
                assert!(is_field_value(&value), "obs-text");
                value[at] = b'a';
            }
        }
    }

    #[test]
    fn field_lines() {
        assert!(field(b"X-A: b\tc").is_ok());
        assert!(field(b"X-A:").is_ok());
        assert!(field(b"X-A: caf\xc3\xa9").is_ok());
        assert_eq!(field(b" X-A: b").err(), Some(Violation::ObsFold));
        assert_eq!(
            field(b"X-A : b").err(),
            Some(Violation::WhitespaceBeforeColon)
        );
        assert_eq!(field(b"X A: b").err(), Some(Violation::InvalidHeaderName));
        assert_eq!(field(b": b").err(), Some(Violation::InvalidHeaderName));
        assert_eq!(field(b"no colon").err(), Some(Violation::InvalidHeaderName));
        assert_eq!(
            field(b"X-A: b\x00").err(),
            Some(Violation::InvalidHeaderValue)
        );
        assert_eq!(
            field(b"X-A: b\x0b").err(),
            Some(Violation::InvalidHeaderValue)
        );
        assert_eq!(
            field(b"Transfer_Encoding: chunked").err(),
            Some(Violation::ObfuscatedFramingHeader)
        );
        assert_eq!(
            field(b"content_length: 5").err(),
            Some(Violation::ObfuscatedFramingHeader)
        );
    }

    #[test]
    fn framing_fields() {
        assert_eq!(
            field(b"Content-Length: 012")
                .ok()
                .and_then(|f| f.content_length),
            Some(12)
        );
        for bad in [
            &b"Content-Length: +5"[..],
            b"Content-Length: -5",
            b"Content-Length: 0x5",
            b"Content-Length: 5, 5",
            b"Content-Length: 1 2",
            b"Content-Length:",
            b"Content-Length: 99999999999999999999999",
        ] {
            assert_eq!(
                field(bad).err(),
                Some(Violation::InvalidContentLength),
                "{bad:?}"
            );
        }
        assert!(field(b"transfer-encoding:  CHUNKED \t").is_ok());
        for bad in [
            &b"Transfer-Encoding: xchunked"[..],
            b"Transfer-Encoding: chunked, identity",
            b"Transfer-Encoding: identity",
            b"Transfer-Encoding: gzip, chunked",
            b"Transfer-Encoding: \"chunked\"",
        ] {
            assert_eq!(
                field(bad).err(),
                Some(Violation::UnsupportedTransferEncoding),
                "{bad:?}"
            );
        }
        let mut facts = HeadFacts::default();
        let limits = GuardLimits::default();
        assert!(facts.field_line(b"Content-Length: 5", &limits).is_ok());
        assert_eq!(
            facts.field_line(b"content-length: 5", &limits),
            Err(Violation::DuplicateContentLength)
        );
        assert!(facts.field_line(b"Host: a", &limits).is_ok());
        assert_eq!(
            facts.field_line(b"host: a", &limits),
            Err(Violation::DuplicateHost)
        );
    }

    #[test]
    fn finish_checks_combinations() {
        let limits = GuardLimits::default();
        let mut facts = HeadFacts::default();
        assert!(facts.request_line(b"POST / HTTP/1.1", &limits).is_ok());
        assert_eq!(facts.finish().err(), Some(Violation::MissingHost));
        assert!(facts.field_line(b"Host: a", &limits).is_ok());
        assert!(facts
            .field_line(b"Transfer-Encoding: chunked", &limits)
            .is_ok());
        assert_eq!(facts.finish().map(|s| s.body), Ok(BodyFraming::Chunked));
        assert!(facts.field_line(b"Content-Length: 3", &limits).is_ok());
        assert_eq!(
            facts.finish().err(),
            Some(Violation::ContentLengthWithTransferEncoding)
        );

        let mut facts = HeadFacts::default();
        assert!(facts.request_line(b"POST / HTTP/1.0", &limits).is_ok());
        assert!(facts
            .field_line(b"Transfer-Encoding: chunked", &limits)
            .is_ok());
        assert_eq!(
            facts.finish().err(),
            Some(Violation::TransferEncodingInHttp10)
        );
    }
}
