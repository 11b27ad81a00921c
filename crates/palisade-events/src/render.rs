//! Output forms of stored events for `palisade events query` and `tail`.

use crate::store::StoredEvent;
use serde_json::Value;
use std::fmt::Write;

/// One human-readable line:
/// `2026-11-23T09:30:00.123Z #42 blocked 403 score=10 203.0.113.7 GET /api/users/{id} route=api rules=942100,941100 req=7f3a...`
///
/// Request-controlled text (path, route, principal, rule ids) has control
/// characters escaped so a crafted path cannot drive the terminal.
pub fn render_line(event: &StoredEvent) -> String {
    let mut line = String::with_capacity(160);
    line.push_str(&format_time_ms(event.time_ms));
    let _ = write!(
        line,
        " #{} {} {} score={} ",
        event.id, event.action, event.status, event.score
    );
    push_sanitized(&mut line, &event.client_ip);
    line.push(' ');
    push_sanitized(&mut line, &event.method);
    line.push(' ');
    push_sanitized(&mut line, &event.path);
    line.push_str(" route=");
    push_sanitized(&mut line, &event.route);
    if let Some(principal) = &event.principal {
        line.push_str(" principal=");
        push_sanitized(&mut line, principal);
    }
    if !event.rules.is_empty() {
        line.push_str(" rules=");
        for (index, rule) in event.rules.iter().enumerate() {
            if index > 0 {
                line.push(',');
            }
            push_sanitized(&mut line, &rule.rule_id);
        }
    }
    line.push_str(" req=");
    push_sanitized(&mut line, &event.request_id);
    line
}

/// One JSON object per line: the full event with its store `id` and chain
/// `hash` added.
pub fn render_json(event: &StoredEvent) -> String {
    let mut object = match &event.event {
        Value::Object(map) => map.clone(),
        other => {
            let mut map = serde_json::Map::new();
            map.insert("event".into(), other.clone());
            map
        }
    };
    object.insert("id".into(), Value::from(event.id));
    object.insert("hash".into(), Value::from(event.hash.clone()));
    Value::Object(object).to_string()
}

/// RFC 3339 UTC with milliseconds; the raw number when out of range.
pub fn format_time_ms(time_ms: i64) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(time_ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| time_ms.to_string())
}

fn push_sanitized(out: &mut String, text: &str) {
    for ch in text.chars() {
        if ch.is_control() || ch == '\u{7f}' {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(ch));
        } else {
            out.push(ch);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoredRule;
    use serde_json::json;

    fn sample() -> StoredEvent {
        StoredEvent {
            id: 7,
            time_ms: 1_700_000_000_123,
            request_id: "req-1".into(),
            client_ip: "203.0.113.7".into(),
            peer_ip: "10.0.0.1".into(),
            route: "api".into(),
            method: "GET".into(),
            path: "/a\u{1b}[31mred".into(),
            status: 403,
            action: "blocked".into(),
            score: 10,
            principal: Some("alice".into()),
            rules: vec![
                StoredRule {
                    rule_id: "942100".into(),
                    category: "sql_injection".into(),
                },
                StoredRule {
                    rule_id: "941100".into(),
                    category: "xss".into(),
                },
            ],
            event: json!({"request_id": "req-1", "status": 403}),
            hash: "ab".into(),
        }
    }

    #[test]
    fn human_line_has_the_essentials_and_no_escape_codes() {
        let line = render_line(&sample());
        assert_eq!(
            line,
            "2023-11-14T22:13:20.123Z #7 blocked 403 score=10 203.0.113.7 GET /a\\u{1b}[31mred \
             route=api principal=alice rules=942100,941100 req=req-1"
        );
        assert!(!line.contains('\u{1b}'));
    }

    #[test]
    fn json_line_adds_id_and_hash() {
        let parsed: Value = serde_json::from_str(&render_json(&sample())).unwrap_or(Value::Null);
        assert_eq!(
            parsed,
            json!({"request_id": "req-1", "status": 403, "id": 7, "hash": "ab"})
        );
    }

    #[test]
    fn out_of_range_time_prints_raw() {
        assert_eq!(format_time_ms(i64::MAX), i64::MAX.to_string());
    }
}
