#![allow(dead_code)]

use palisade_core::{Action, Category, Finding, Latencies, Location, SecurityEvent, Severity};

pub fn finding(rule: &str, category: Category) -> Finding {
    Finding::new(
        rule,
        category,
        Severity::Critical,
        Location::query("q"),
        "' or 1=1 --",
        "matched",
    )
}

pub fn event(
    time_ms: i64,
    client_ip: &str,
    rules: &[(&str, Category)],
    action: Action,
) -> SecurityEvent {
    let findings: Vec<Finding> = rules.iter().map(|(r, c)| finding(r, *c)).collect();
    SecurityEvent {
        time_ms,
        request_id: format!("req-{time_ms}-{client_ip}"),
        client_ip: client_ip.to_string(),
        peer_ip: "10.0.0.1".to_string(),
        route: "api".to_string(),
        method: "GET".to_string(),
        path: "/api/products/{id}".to_string(),
        operation: Some("getProduct".to_string()),
        principal: None,
        status: if action == Action::Blocked { 403 } else { 200 },
        score: findings.iter().map(|f| f.score).sum(),
        action,
        findings,
        latencies: Latencies {
            total_us: 900,
            inspection_us: 120,
            upstream_us: 700,
        },
    }
}

pub fn simple(time_ms: i64) -> SecurityEvent {
    event(
        time_ms,
        "198.51.100.1",
        &[("942100", Category::SqlInjection)],
        Action::Blocked,
    )
}
