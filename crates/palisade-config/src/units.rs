//! Human-friendly units in configuration: `"10s"`, `"250ms"`, `"2m"`; `"16KiB"`, `"1MiB"`.
//! Plain integers are accepted too (seconds and bytes).

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;
use std::time::Duration;

/// A duration written as `"500ms"`, `"10s"`, `"5m"`, `"1h"`, or an integer number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span(pub Duration);

/// A size written as `"512"`, `"16KiB"`, `"1MiB"`, `"1GiB"` (also `KB`/`MB`, read as powers of 1024),
/// or an integer number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Size(pub u64);

impl Span {
    pub fn secs(s: u64) -> Span {
        Span(Duration::from_secs(s))
    }
    pub fn millis(ms: u64) -> Span {
        Span(Duration::from_millis(ms))
    }
}

impl Size {
    pub fn bytes(&self) -> u64 {
        self.0
    }
    pub fn as_usize(&self) -> usize {
        usize::try_from(self.0).unwrap_or(usize::MAX)
    }
}

pub fn parse_span(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("invalid duration `{s}`: expected e.g. `10s`, `250ms`"))?;
    let d = match unit.trim() {
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        "d" => Duration::from_secs(n.saturating_mul(86400)),
        other => {
            return Err(format!(
                "invalid duration unit `{other}` in `{s}` (use ms, s, m, h, d)"
            ))
        }
    };
    Ok(d)
}

pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("invalid size `{s}`: expected e.g. `16KiB`, `1MiB`"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => {
            return Err(format!(
                "invalid size unit `{other}` in `{s}` (use B, KiB, MiB, GiB)"
            ))
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size `{s}` is too large"))
}

struct SpanVisitor;
impl Visitor<'_> for SpanVisitor {
    type Value = Span;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a duration such as \"10s\" or \"250ms\", or whole seconds")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Span, E> {
        u64::try_from(v)
            .map(Span::secs)
            .map_err(|_| E::custom("duration must not be negative"))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Span, E> {
        Ok(Span::secs(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Span, E> {
        parse_span(v).map(Span).map_err(E::custom)
    }
}
impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SpanVisitor)
    }
}

struct SizeVisitor;
impl Visitor<'_> for SizeVisitor {
    type Value = Size;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a size such as \"16KiB\" or \"1MiB\", or whole bytes")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Size, E> {
        u64::try_from(v)
            .map(Size)
            .map_err(|_| E::custom("size must not be negative"))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Size, E> {
        Ok(Size(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Size, E> {
        parse_size(v).map(Size).map_err(E::custom)
    }
}
impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SizeVisitor)
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        if b >= 1 << 20 && b.is_multiple_of(1 << 20) {
            write!(f, "{}MiB", b >> 20)
        } else if b >= 1 << 10 && b.is_multiple_of(1 << 10) {
            write!(f, "{}KiB", b >> 10)
        } else {
            write!(f, "{b}B")
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms.is_multiple_of(1000) {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn spans_and_sizes() {
        assert_eq!(parse_span("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_span("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_size("16KiB").unwrap(), 16384);
        assert_eq!(parse_size("1mb").unwrap(), 1 << 20);
        assert!(parse_size("1TB").is_err());
        assert!(parse_span("ten seconds").is_err());
        assert!(parse_size("99999999999999999999GiB").is_err());
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in ".{0,24}") {
            let _ = parse_span(&s);
            let _ = parse_size(&s);
        }
        #[test]
        fn size_display_round_trips(n in 0u64..(1u64 << 40)) {
            prop_assert_eq!(parse_size(&Size(n).to_string()).unwrap(), n);
        }
    }
}
