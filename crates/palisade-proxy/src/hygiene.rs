//! Response hygiene: upstream 5xx bodies that leak stack traces, SQL errors or
//! file paths are replaced with a generic problem document (the original is
//! only summarised, redacted, in the event), version-revealing headers are
//! stripped, and security headers are added.

use crate::problem::{problem_body, PROBLEM_JSON};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use palisade_core::{Category, Detector, Finding, Location, Phase, Severity, Transaction};

/// Markers of server internals in an error body, with what they reveal.
const LEAK_MARKERS: &[(&str, &str)] = &[
    ("traceback (most recent call last)", "python stack trace"),
    ("exception in thread", "java stack trace"),
    ("\tat java.", "java stack trace"),
    ("\n    at ", "stack trace"),
    ("\n\tat ", "stack trace"),
    (".java:", "java source location"),
    ("java.lang.", "java exception"),
    ("javax.servlet", "java exception"),
    ("org.springframework", "java framework internals"),
    ("system.nullreferenceexception", ".net exception"),
    ("stack trace:", "stack trace"),
    ("stacktrace", "stack trace"),
    ("panicked at", "rust panic"),
    ("goroutine ", "go stack trace"),
    ("node_modules/", "node.js path"),
    ("sqlstate", "sql error"),
    ("you have an error in your sql syntax", "sql error"),
    ("syntax error at or near", "sql error"),
    ("unclosed quotation mark", "sql error"),
    ("ora-0", "oracle error"),
    ("pg::", "postgres error"),
    ("psycopg2.", "postgres error"),
    ("sqlite3.", "sqlite error"),
    ("sqlite_error", "sqlite error"),
    ("mysql_fetch", "mysql error"),
    ("microsoft ole db", "sql server error"),
    ("odbc driver", "odbc error"),
    ("fatal error: ", "php error"),
    ("warning: include(", "php error"),
    ("on line <b>", "php error"),
    ("/var/www/", "file path"),
    ("/home/", "file path"),
    ("/usr/local/lib/", "file path"),
    ("/srv/", "file path"),
    ("c:\\", "file path"),
    ("c:/", "file path"),
];

pub struct ErrorScrubber {
    /// None only if the fixed marker list failed to compile, which it cannot.
    matcher: Option<AhoCorasick>,
}

impl Default for ErrorScrubber {
    fn default() -> Self {
        Self::new()
    }
}

impl ErrorScrubber {
    pub fn new() -> Self {
        let matcher = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostFirst)
            .build(LEAK_MARKERS.iter().map(|(m, _)| m))
            .ok();
        ErrorScrubber { matcher }
    }

    /// The first leak found in `body`: what it reveals and a short excerpt.
    pub fn find_leak(&self, body: &[u8]) -> Option<(&'static str, String)> {
        let m = self.matcher.as_ref()?.find(body)?;
        let what = LEAK_MARKERS[m.pattern().as_usize()].1;
        let start = m.start().saturating_sub(16);
        let end = (m.end() + 48).min(body.len());
        Some((
            what,
            String::from_utf8_lossy(&body[start..end]).into_owned(),
        ))
    }
}

impl Detector for ErrorScrubber {
    fn name(&self) -> &'static str {
        "hygiene"
    }

    fn wants(&self, phase: Phase) -> bool {
        phase == Phase::ResponseBody
    }

    fn inspect(&self, phase: Phase, tx: &mut Transaction) {
        if phase != Phase::ResponseBody {
            return;
        }
        let Some(status) = tx.response.as_ref().map(|r| r.status) else {
            return;
        };
        if !status.is_server_error() {
            return;
        }
        let Some(body) = tx.response_body.as_ref() else {
            return;
        };
        if let Some((what, excerpt)) = self.find_leak(body) {
            let finding = Finding::new(
                "palisade.response.error_leak",
                Category::InformationLeak,
                Severity::Warning,
                Location::new("response.body"),
                &excerpt,
                format!(
                    "upstream {} response leaked a {what}; body replaced",
                    status.as_u16()
                ),
            )
            .with_score(0);
            tx.report(finding);
            let title = status.canonical_reason().unwrap_or("Upstream error");
            tx.response_edit.replace_body = Some((
                problem_body(status, title, &tx.request.request_id),
                PROBLEM_JSON.to_string(),
            ));
        }
    }
}

const X_CONTENT_TYPE_OPTIONS: HeaderName = HeaderName::from_static("x-content-type-options");

/// Removes configured response headers and adds security headers.
pub fn harden_response_headers(
    headers: &mut HeaderMap,
    strip: &[HeaderName],
    nosniff: bool,
    hsts: Option<&HeaderValue>,
) {
    palisade_core::remove_headers_where(headers, |name| strip.contains(name));
    if nosniff {
        headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    }
    if let Some(v) = hsts {
        headers.insert(http::header::STRICT_TRANSPORT_SECURITY, v.clone());
    }
}

/// True for status codes whose body the scrubber looks at.
pub fn scrubbable(status: StatusCode) -> bool {
    status.is_server_error()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;
    use palisade_core::{RequestHead, ResponseHead};

    fn tx_with(status: u16, body: &'static str) -> Transaction {
        let mut tx = Transaction::new(RequestHead::synthetic(Method::GET, "/x"));
        tx.response = Some(ResponseHead {
            status: StatusCode::from_u16(status).unwrap(),
            version: http::Version::HTTP_11,
            headers: HeaderMap::new(),
        });
        tx.response_body = Some(bytes::Bytes::from_static(body.as_bytes()));
        tx
    }

    #[test]
    fn java_trace_is_scrubbed() {
        let s = ErrorScrubber::new();
        let mut tx = tx_with(500, "Exception in thread \"main\" java.lang.NullPointerException\n\tat com.shop.Orders.get(Orders.java:42)");
        s.inspect(Phase::ResponseBody, &mut tx);
        assert_eq!(tx.findings.len(), 1);
        let (body, ct) = tx.response_edit.replace_body.unwrap();
        assert_eq!(ct, PROBLEM_JSON);
        assert!(!String::from_utf8_lossy(&body).contains("java"));
    }

    #[test]
    fn sql_error_and_paths_found() {
        let s = ErrorScrubber::new();
        assert!(s
            .find_leak(b"ERROR: syntax error at or near \"'\"")
            .is_some());
        assert!(s
            .find_leak(b"cannot open /var/www/app/config.php")
            .is_some());
        assert!(s.find_leak(b"{\"error\":\"internal\"}").is_none());
    }

    #[test]
    fn success_bodies_untouched() {
        let s = ErrorScrubber::new();
        let mut tx = tx_with(200, "see /home/alice for java.lang docs");
        s.inspect(Phase::ResponseBody, &mut tx);
        assert!(tx.findings.is_empty());
        assert!(tx.response_edit.replace_body.is_none());
    }
}
