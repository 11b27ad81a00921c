//! The `--since 10m` duration syntax.

use std::time::Duration;

/// Longest accepted input; anything longer is certainly a mistake.
pub const MAX_SINCE_LEN: usize = 64;

/// Largest accepted duration: 100 years of 365 days.
pub const MAX_SINCE_SECS: u64 = 100 * 365 * 86_400;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinceError {
    #[error("empty duration (expected e.g. `30s`, `10m`, `2h`, `7d` or `1h30m`)")]
    Empty,
    #[error("duration is longer than {MAX_SINCE_LEN} characters")]
    TooLong,
    #[error("missing number before unit `{0}` (expected e.g. `10m`)")]
    MissingNumber(char),
    #[error("missing unit after `{0}` (use s, m, h or d)")]
    MissingUnit(u64),
    #[error("unknown duration unit `{0}` (use s, m, h or d)")]
    UnknownUnit(char),
    #[error("duration exceeds 100 years")]
    TooLarge,
}

fn unit_seconds(unit: char) -> Option<u64> {
    match unit {
        's' => Some(1),
        'm' => Some(60),
        'h' => Some(3_600),
        'd' => Some(86_400),
        _ => None,
    }
}

/// Parses a duration written as one or more `<number><unit>` groups with units
/// `s`, `m`, `h` and `d`: `45s`, `10m`, `2h`, `7d`, `1h30m`. Surrounding
/// whitespace is ignored; anything else is an error.
pub fn parse_since(input: &str) -> Result<Duration, SinceError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(SinceError::Empty);
    }
    if text.len() > MAX_SINCE_LEN {
        return Err(SinceError::TooLong);
    }
    let mut total: u64 = 0;
    let mut number: Option<u64> = None;
    for ch in text.chars() {
        if let Some(digit) = ch.to_digit(10) {
            let value = number
                .unwrap_or(0)
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(digit)))
                .filter(|n| *n <= MAX_SINCE_SECS)
                .ok_or(SinceError::TooLarge)?;
            number = Some(value);
            continue;
        }
        let per_unit = unit_seconds(ch).ok_or(SinceError::UnknownUnit(ch))?;
        let count = number.take().ok_or(SinceError::MissingNumber(ch))?;
        total = count
            .checked_mul(per_unit)
            .and_then(|secs| total.checked_add(secs))
            .filter(|t| *t <= MAX_SINCE_SECS)
            .ok_or(SinceError::TooLarge)?;
    }
    if let Some(dangling) = number {
        return Err(SinceError::MissingUnit(dangling));
    }
    Ok(Duration::from_secs(total))
}

/// The Unix time in milliseconds that lies `since` before `now_ms`.
pub fn cutoff_ms(now_ms: i64, since: Duration) -> i64 {
    let back = i64::try_from(since.as_millis()).unwrap_or(i64::MAX);
    now_ms.saturating_sub(back)
}

/// The current Unix time in milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_documented_forms() {
        assert_eq!(parse_since("45s"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_since("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_since(" 2h "), Ok(Duration::from_secs(7_200)));
        assert_eq!(parse_since("7d"), Ok(Duration::from_secs(604_800)));
        assert_eq!(parse_since("1h30m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse_since("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_malformed_input() {
        assert_eq!(parse_since(""), Err(SinceError::Empty));
        assert_eq!(parse_since("   "), Err(SinceError::Empty));
        assert_eq!(parse_since("10"), Err(SinceError::MissingUnit(10)));
        assert_eq!(parse_since("m"), Err(SinceError::MissingNumber('m')));
        assert_eq!(parse_since("10x"), Err(SinceError::UnknownUnit('x')));
        assert_eq!(parse_since("-5m"), Err(SinceError::UnknownUnit('-')));
        assert_eq!(parse_since("1 m"), Err(SinceError::UnknownUnit(' ')));
        assert_eq!(parse_since("10mm"), Err(SinceError::MissingNumber('m')));
        assert_eq!(
            parse_since("99999999999999999999999s"),
            Err(SinceError::TooLarge)
        );
        assert_eq!(parse_since("36501d"), Err(SinceError::TooLarge));
        assert_eq!(parse_since(&"1".repeat(65)), Err(SinceError::TooLong));
        assert_eq!(parse_since("５m"), Err(SinceError::UnknownUnit('５')));
    }

    #[test]
    fn cutoff_saturates() {
        assert_eq!(cutoff_ms(10_000, Duration::from_secs(3)), 7_000);
        assert_eq!(cutoff_ms(i64::MIN + 1, Duration::from_secs(10)), i64::MIN);
    }

    proptest! {
        #[test]
        fn never_panics(input in "\\PC{0,80}") {
            let _ = parse_since(&input);
        }

        #[test]
        fn sums_groups(groups in proptest::collection::vec((0u64..100_000, 0usize..4), 1..5)) {
            let units = ['s', 'm', 'h', 'd'];
            let mut text = String::new();
            let mut expected = 0u64;
            for (count, unit) in &groups {
                let unit_char = units[*unit];
                text.push_str(&format!("{count}{unit_char}"));
                expected += count * unit_seconds(unit_char).unwrap_or(0);
            }
            let parsed = parse_since(&text);
            if expected <= MAX_SINCE_SECS {
                prop_assert_eq!(parsed, Ok(Duration::from_secs(expected)));
            } else {
                prop_assert_eq!(parsed, Err(SinceError::TooLarge));
            }
        }
    }
}
