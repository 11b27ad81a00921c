//! String and number `format`s checked by the validator. Formats not listed
//! here (`binary`, `password`, vendor formats...) are annotations and pass.

use base64::Engine;
use std::net::{Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Int32,
    Int64,
    Float,
    Uuid,
    DateTime,
    Date,
    Time,
    Email,
    Uri,
    UriReference,
    Hostname,
    Ipv4,
    Ipv6,
    Byte,
}

impl Format {
    pub(crate) fn parse(name: &str) -> Option<Format> {
        Some(match name {
            "int32" => Format::Int32,
            "int64" => Format::Int64,
            "float" => Format::Float,
            "uuid" => Format::Uuid,
            "date-time" => Format::DateTime,
            "date" => Format::Date,
            "time" => Format::Time,
            "email" => Format::Email,
            "uri" | "url" => Format::Uri,
            "uri-reference" => Format::UriReference,
            "hostname" => Format::Hostname,
            "ipv4" => Format::Ipv4,
            "ipv6" => Format::Ipv6,
            "byte" => Format::Byte,
            _ => return None,
        })
    }

    pub(crate) fn check_number(self, number: crate::json_tree::Num) -> bool {
        match self {
            Format::Int32 => number.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
            Format::Int64 => {
                number.as_i64().is_some() || {
                    let f = number.as_f64();
                    f.fract() == 0.0 && f.abs() < 9.2e18
                }
            }
            Format::Float => {
                let f = number.as_f64();
                f.is_finite() && f.abs() <= f64::from(f32::MAX)
            }
            _ => true,
        }
    }

    pub(crate) fn check_string(self, s: &str) -> bool {
        match self {
            Format::Uuid => is_uuid(s),
            Format::DateTime => is_date_time(s),
            Format::Date => is_date(s),
            Format::Time => is_time(s),
            Format::Email => is_email(s),
            Format::Uri => is_uri(s),
            Format::UriReference => !s.chars().any(|c| c.is_whitespace() || c.is_control()),
            Format::Hostname => is_hostname(s),
            Format::Ipv4 => is_ipv4(s),
            Format::Ipv6 => s.parse::<Ipv6Addr>().is_ok(),
            Format::Byte => {
                base64::engine::general_purpose::STANDARD.decode(s).is_ok()
                    || base64::engine::general_purpose::URL_SAFE.decode(s).is_ok()
            }
            Format::Int32 | Format::Int64 | Format::Float => true,
        }
    }
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return false;
    }
    let (Some(year), Some(month), Some(day)) = (
        s.get(0..4).and_then(digits),
        s.get(5..7).and_then(digits),
        s.get(8..10).and_then(digits),
    ) else {
        return false;
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

fn is_time(s: &str) -> bool {
    // hh:mm:ss[.frac](Z|±hh:mm)
    let b = s.as_bytes();
    if b.len() < 9 || b.get(2) != Some(&b':') || b.get(5) != Some(&b':') {
        return false;
    }
    let (Some(h), Some(m), Some(sec)) = (
        s.get(0..2).and_then(digits),
        s.get(3..5).and_then(digits),
        s.get(6..8).and_then(digits),
    ) else {
        return false;
    };
    if h > 23 || m > 59 || sec > 60 {
        return false;
    }
    let mut rest = s.get(8..).unwrap_or("");
    if let Some(frac) = rest.strip_prefix('.') {
        let end = frac
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(frac.len());
        if end == 0 {
            return false;
        }
        rest = frac.get(end..).unwrap_or("");
    }
    match rest {
        "Z" | "z" => true,
        offset => {
            let ob = offset.as_bytes();
            ob.len() == 6
                && matches!(ob.first(), Some(b'+' | b'-'))
                && ob.get(3) == Some(&b':')
                && offset.get(1..3).and_then(digits).is_some_and(|h| h <= 23)
                && offset.get(4..6).and_then(digits).is_some_and(|m| m <= 59)
        }
    }
}

fn is_date_time(s: &str) -> bool {
    match s.find(['T', 't', ' ']) {
        Some(10) => s.get(..10).is_some_and(is_date) && s.get(11..).is_some_and(is_time),
        _ => false,
    }
}

fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && !local
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '@')
        && is_hostname(domain)
        && domain.contains('.')
}

fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.trim_end_matches('.').split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn is_ipv4(s: &str) -> bool {
    // Rejects leading zeros and other non-canonical forms, as the std parser does.
    s.parse::<Ipv4Addr>().is_ok()
}

fn is_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let mut scheme_chars = scheme.chars();
    scheme_chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && scheme_chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.chars().any(|c| {
            c.is_whitespace()
                || c.is_control()
                || matches!(c, '<' | '>' | '"' | '\\' | '^' | '`' | '{' | '|' | '}')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_accept_and_refuse() {
        assert!(Format::Uuid.check_string("123e4567-e89b-12d3-a456-426614174000"));
        assert!(!Format::Uuid.check_string("123e4567-e89b-12d3-a456-42661417400"));
        assert!(Format::DateTime.check_string("2024-02-29T12:00:00.5+02:00"));
        assert!(!Format::DateTime.check_string("2023-02-29T12:00:00Z"));
        assert!(!Format::DateTime.check_string("Assigned"));
        assert!(Format::Date.check_string("2024-01-31"));
        assert!(Format::Email.check_string("a.b@example.com"));
        assert!(!Format::Email.check_string("a b@example.com"));
        assert!(Format::Uri.check_string("https://x.test/a?b=c"));
        assert!(!Format::Uri.check_string("/relative"));
        assert!(Format::Ipv4.check_string("10.0.0.1"));
        assert!(!Format::Ipv4.check_string("10.0.0.256"));
        assert!(Format::Ipv6.check_string("::1"));
        assert!(Format::Byte.check_string("aGVsbG8="));
        assert!(!Format::Byte.check_string("not base64!"));
        use crate::json_tree::Num;
        assert!(Format::Int32.check_number(Num::Unsigned(2147483647)));
        assert!(!Format::Int32.check_number(Num::Unsigned(2147483648)));
        assert!(Format::Int32.check_number(Num::Negative(-2147483648)));
        assert!(!Format::Int32.check_number(Num::Float(1.5)));
    }
}
