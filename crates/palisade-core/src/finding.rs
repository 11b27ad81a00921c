use crate::{redact_evidence, Category, Evidence};
use http::{HeaderName, HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};
use std::fmt;

/// How bad a finding is. Each level carries a default anomaly score, the same
/// scale as the OWASP CRS (critical 5, error 4, warning 3, notice 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Notice,
    Warning,
    Error,
    Critical,
}

impl Severity {
    /// Default anomaly score contributed by a finding of this severity.
    pub fn default_score(self) -> u32 {
        match self {
            Severity::Info => 0,
            Severity::Notice => 2,
            Severity::Warning => 3,
            Severity::Error => 4,
            Severity::Critical => 5,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Notice => "notice",
            Severity::Warning => "warning",
            Severity::Error => "error",
            Severity::Critical => "critical",
        }
    }
}

/// Where in the exchange a finding was made, in a dotted notation that names the
/// source first: `query.id`, `path[2]`, `header.user-agent`, `cookie.session`,
/// `json.$.user.name`, `form.comment`, `multipart.avatar.filename`, `xml./a/b`,
/// `body`, `response.body`, `connection`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Location(pub String);

impl Location {
    pub fn new(s: impl Into<String>) -> Self {
        Location(s.into())
    }
    pub fn query(name: &str) -> Self {
        Location(format!("query.{name}"))
    }
    pub fn header(name: &str) -> Self {
        Location(format!("header.{}", name.to_ascii_lowercase()))
    }
    pub fn cookie(name: &str) -> Self {
        Location(format!("cookie.{name}"))
    }
    pub fn path_segment(index: usize) -> Self {
        Location(format!("path[{index}]"))
    }
    /// `pointer` is a JSONPath-like string starting with `$`.
    pub fn json(pointer: &str) -> Self {
        Location(format!("json.{pointer}"))
    }
    pub fn form(name: &str) -> Self {
        Location(format!("form.{name}"))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// True when this location is `prefix` or lies below it (`json.$.a` is below `json`).
    pub fn starts_with(&self, prefix: &str) -> bool {
        self.0 == prefix
            || (self.0.starts_with(prefix)
                && matches!(self.0.as_bytes().get(prefix.len()), Some(b'.' | b'[')))
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A finding that must be answered with a specific response rather than the
/// anomaly-score threshold: 401 with `WWW-Authenticate`, 429 with `Retry-After`,
/// 405 with `Allow`, 413, 415...
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enforcement {
    pub status: StatusCode,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Short human title for the problem+json body. Never contains request data.
    pub title: String,
}

impl Enforcement {
    pub fn new(status: StatusCode, title: impl Into<String>) -> Self {
        Enforcement {
            status,
            headers: Vec::new(),
            title: title.into(),
        }
    }
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }
}

/// One thing a detector noticed about a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable rule identifier: `palisade.sqli.tautology`, a CRS id such as `942100`...
    pub rule_id: String,
    pub category: Category,
    pub severity: Severity,
    /// Anomaly score this finding adds to the request's total.
    pub score: u32,
    pub location: Location,
    /// Redacted excerpt of what matched; never a whole token, password or cookie.
    pub evidence: Evidence,
    pub message: String,
    /// Set when the finding dictates the response on its own (in block mode).
    #[serde(skip)]
    pub enforcement: Option<Enforcement>,
}

impl Finding {
    /// A finding with the severity's default score and evidence redacted from `raw`.
    pub fn new(
        rule_id: impl Into<String>,
        category: Category,
        severity: Severity,
        location: Location,
        raw_evidence: &str,
        message: impl Into<String>,
    ) -> Self {
        let evidence = redact_evidence(location.as_str(), raw_evidence);
        Finding {
            rule_id: rule_id.into(),
            category,
            severity,
            score: severity.default_score(),
            location,
            evidence,
            message: message.into(),
            enforcement: None,
        }
    }

    pub fn with_score(mut self, score: u32) -> Self {
        self.score = score;
        self
    }

    pub fn enforce(mut self, enforcement: Enforcement) -> Self {
        self.enforcement = Some(enforcement);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_prefixes() {
        let l = Location::json("$.user.name");
        assert!(l.starts_with("json"));
        assert!(l.starts_with("json.$.user"));
        assert!(!l.starts_with("json.$.us"));
        assert!(Location::header("User-Agent").starts_with("header.user-agent"));
    }

    #[test]
    fn severity_scores_follow_crs() {
        assert_eq!(Severity::Critical.default_score(), 5);
        assert_eq!(Severity::Notice.default_score(), 2);
        assert!(Severity::Critical > Severity::Warning);
    }
}
