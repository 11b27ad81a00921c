//! Conformance runner: replays the CRS regression tests (go-ftw YAML) against
//! the engine in-process.
//!
//! Both formats are read: the CRS 4 format (`rule_id`, `tests[].test_id`,
//! `stages[].input/output`, `output.log.expect_ids/no_expect_ids`,
//! `output.status`) and the older ftw format of CRS 3 (`test_title`,
//! `stages[].stage`, `output.log_contains/no_log_contains` regular
//! expressions such as `id "942100"`).
//!
//! How a test runs:
//!
//! * the rule set is loaded with the settings the CRS test suites use:
//!   `SecRuleEngine DetectionOnly`, the requested paranoia level, and the
//!   argument/file limits of the CRS test configuration;
//! * each stage builds a request from `method`, `uri`, `version`, `headers`
//!   and `data` (a list of lines is joined with CRLF), or decodes
//!   `encoded_request`/`raw_request`. As go-ftw does, unless
//!   `autocomplete_headers: false`, a body gets `Content-Length` and, when
//!   missing, `Content-Type: application/x-www-form-urlencoded`. Chunked
//!   bodies are de-chunked like a web server would;
//! * the backend is simulated: `POST /reflect` with a JSON body behaves like
//!   the CRS test backend, answering with the `status`, `headers` and `body`
//!   (or base64 `encodedBody`) it was given, so response rules (RESPONSE-95x)
//!   inspect the request's payload. Any other request gets `200` with an
//!   empty `text/html` body;
//! * the "log" checked by `expect_ids`, `log_contains` and `match_regex` is
//!   one ModSecurity-style line per logging rule match
//!   (`[id "942100"] [msg "..."] [data "..."] [severity "CRITICAL"]`);
//! * the status is the interruption's status when a rule interrupted,
//!   otherwise the backend's.
//!
//! The suite was written against Apache httpd, which refuses some requests
//! before ModSecurity sees them; the runner answers those 400 the same way
//! (malformed or HTTP/0.9 version, whitespace in the method, a request
//! target with a fragment, a space, or not starting with `/`, a CONNECT target without
//! a port, a non-numeric `Content-Length`, a malformed `Host`, CR/LF/NUL in
//! a header value). Like httpd it joins repeated headers with `, ` and drops
//! `Content-Length` when `Transfer-Encoding` is present.

use crate::engine::{RequestInput, ResponseInput};
use crate::{LoadError, Waf, WafConfig};
use base64::Engine as _;
use serde_yaml::Value;
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Settings of the CRS test configuration (limits the tests exercise).
pub const TEST_SETTINGS: &str = "SecAction \"id:99010,phase:1,pass,nolog,\
setvar:tx.crs_validate_utf8_encoding=1,setvar:tx.arg_name_length=100,\
setvar:tx.arg_length=400,setvar:tx.total_arg_length=64000,setvar:tx.max_num_args=255,\
setvar:tx.max_file_size=64100,setvar:tx.combined_file_sizes=65535\"\n";

/// Outcome of one test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestOutcome {
    /// `942100-1` (CRS 4: `rule_id-test_id`; CRS 3: `test_title`).
    pub id: String,
    pub passed: bool,
    /// Why it failed (empty when it passed).
    pub detail: String,
}

/// Outcomes of one YAML file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    /// Path relative to the tests directory.
    pub file: String,
    pub tests: Vec<TestOutcome>,
}

impl FileReport {
    pub fn passed(&self) -> usize {
        self.tests.iter().filter(|t| t.passed).count()
    }
}

/// Outcomes of a whole suite.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SuiteReport {
    pub files: Vec<FileReport>,
    /// Files that could not be read or parsed.
    pub file_errors: Vec<String>,
}

impl SuiteReport {
    pub fn total(&self) -> usize {
        self.files.iter().map(|f| f.tests.len()).sum::<usize>() + self.file_errors.len()
    }

    pub fn passed(&self) -> usize {
        self.files.iter().map(FileReport::passed).sum()
    }

    /// Percentage passed, 0 when there are no tests.
    pub fn pass_rate(&self) -> f64 {
        let total = self.total();
        if total == 0 {
            0.0
        } else {
            self.passed() as f64 * 100.0 / total as f64
        }
    }

    /// Ids of failed tests.
    pub fn failed_ids(&self) -> Vec<String> {
        self.files
            .iter()
            .flat_map(|f| f.tests.iter())
            .filter(|t| !t.passed)
            .map(|t| t.id.clone())
            .collect()
    }

    /// Ids of passed tests.
    pub fn passed_ids(&self) -> BTreeSet<String> {
        self.files
            .iter()
            .flat_map(|f| f.tests.iter())
            .filter(|t| t.passed)
            .map(|t| t.id.clone())
            .collect()
    }

    /// Per-file results, failures with their reason, and a last line that is
    /// exactly `passed X of Y (Z.Z%)`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for file in &self.files {
            let _ = writeln!(
                out,
                "{} {}/{}",
                if file.passed() == file.tests.len() {
                    "ok  "
                } else {
                    "FAIL"
                },
                file.passed(),
                file.tests.len()
            );
            let _ = writeln!(out, "     {}", file.file);
            for test in file.tests.iter().filter(|t| !t.passed) {
                let _ = writeln!(out, "     - {}: {}", test.id, test.detail);
            }
        }
        for error in &self.file_errors {
            let _ = writeln!(out, "ERROR {error}");
        }
        let _ = write!(
            out,
            "passed {} of {} ({:.1}%)",
            self.passed(),
            self.total(),
            // Rounded down, so that 100.0% means every test passed.
            (self.pass_rate() * 10.0).floor() / 10.0
        );
        out
    }
}

/// Regressions and unexpected passes against a known-failures list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KnownFailureCheck {
    /// Tests that failed but are not listed.
    pub regressions: Vec<String>,
    /// Tests that are listed but passed (the list must be updated).
    pub unexpected_passes: Vec<String>,
    /// Listed ids that did not run at all.
    pub unknown: Vec<String>,
}

impl KnownFailureCheck {
    pub fn is_clean(&self) -> bool {
        self.regressions.is_empty() && self.unexpected_passes.is_empty() && self.unknown.is_empty()
    }
}

/// Parses a known-failures file: one `test-id reason...` per line, `#`
/// comments. Returns (id, reason) pairs.
pub fn parse_known_failures(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once(char::is_whitespace) {
            Some((id, reason)) => (id.to_string(), reason.trim().to_string()),
            None => (l.to_string(), String::new()),
        })
        .collect()
}

/// Compares a report with the known failures.
pub fn check_known_failures(report: &SuiteReport, known: &[(String, String)]) -> KnownFailureCheck {
    let known_ids: BTreeSet<&str> = known.iter().map(|(id, _)| id.as_str()).collect();
    let passed = report.passed_ids();
    let failed: BTreeSet<String> = report.failed_ids().into_iter().collect();
    KnownFailureCheck {
        regressions: failed
            .iter()
            .filter(|id| !known_ids.contains(id.as_str()))
            .cloned()
            .collect(),
        unexpected_passes: known_ids
            .iter()
            .filter(|id| passed.contains(**id))
            .map(|id| id.to_string())
            .collect(),
        unknown: known_ids
            .iter()
            .filter(|id| !passed.contains(**id) && !failed.contains(**id))
            .map(|id| id.to_string())
            .collect(),
    }
}

/// Errors running a suite.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error("loading rules: {0}")]
    Load(#[from] LoadError),
    #[error("reading tests in {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Loads a CRS directory with the test-suite settings.
pub fn load_for_tests(
    crs_dir: &Path,
    paranoia: u8,
    setup_file: Option<&Path>,
) -> Result<Waf, LoadError> {
    let config = WafConfig {
        rules_dir: Some(crs_dir.to_path_buf()),
        setup_file: setup_file.map(Path::to_path_buf),
        paranoia,
        detection_only: true,
        ..WafConfig::default()
    };
    crate::Waf::load_with_text(&config, TEST_SETTINGS)
}

/// Runs every `*.yaml`/`*.yml` under `tests_dir` against the CRS in
/// `crs_dir` (setup file: `setup_file`, else the one in `crs_dir`).
pub fn run_suite(
    crs_dir: &Path,
    tests_dir: &Path,
    paranoia: u8,
    setup_file: Option<&Path>,
) -> Result<SuiteReport, SuiteError> {
    let waf = load_for_tests(crs_dir, paranoia, setup_file)?;
    let mut files = Vec::new();
    collect_yaml(tests_dir, &mut files)?;
    files.sort();
    let mut report = SuiteReport::default();
    for file in files {
        let relative = relative_name(&file, tests_dir);
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                report.file_errors.push(format!("{relative}: {e}"));
                continue;
            }
        };
        match run_file(&waf, &text, &file) {
            Ok(tests) => report.files.push(FileReport {
                file: relative,
                tests,
            }),
            Err(e) => report.file_errors.push(format!("{relative}: {e}")),
        }
    }
    Ok(report)
}

/// A test file's name as reports show it: relative to the tests directory.
fn relative_name(file: &Path, tests_dir: &Path) -> String {
    file.strip_prefix(tests_dir)
        .unwrap_or(file)
        .display()
        .to_string()
}

fn collect_yaml(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), SuiteError> {
    let entries = std::fs::read_dir(dir).map_err(|source| SuiteError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            collect_yaml(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
    Ok(())
}

fn get<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    value.as_mapping()?.get(Value::String(key.to_string()))
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

/// A test's name as the suite reports it.
fn test_name(test: &Value, rule_id: &str, index: usize) -> String {
    match (get(test, "test_title"), get(test, "test_id")) {
        (Some(title), _) => scalar_text(title).unwrap_or_default(),
        (None, Some(n)) => format!("{rule_id}-{}", scalar_text(n).unwrap_or_default()),
        (None, None) => format!("{rule_id}-{}", index + 1),
    }
}

/// The rule id a YAML document tests and its `tests` list (`None` for a file
/// that is all comments).
fn parse_document(text: &str, path: &Path) -> Result<Option<(String, Vec<Value>)>, String> {
    let doc: Value = serde_yaml::from_str(text).map_err(|e| format!("YAML: {e}"))?;
    if doc.is_null() {
        return Ok(None);
    }
    let rule_id = get(&doc, "rule_id")
        .and_then(scalar_text)
        .or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let tests = get(&doc, "tests")
        .and_then(Value::as_sequence)
        .ok_or("no `tests` list")?
        .clone();
    Ok(Some((rule_id, tests)))
}

/// Runs the tests of one YAML document.
pub fn run_file(waf: &Waf, text: &str, path: &Path) -> Result<Vec<TestOutcome>, String> {
    let Some((rule_id, tests)) = parse_document(text, path)? else {
        return Ok(Vec::new());
    };
    let mut outcomes = Vec::new();
    for (index, test) in tests.iter().enumerate() {
        let id = test_name(test, &rule_id, index);
        let stages = get(test, "stages").and_then(Value::as_sequence);
        let mut detail = String::new();
        match stages {
            None => detail = "no stages".into(),
            Some(stages) => {
                for (n, stage) in stages.iter().enumerate() {
                    let legacy = get(stage, "stage").is_some();
                    let stage = get(stage, "stage").unwrap_or(stage);
                    if let Err(why) = run_stage(waf, stage, legacy) {
                        detail = if stages.len() > 1 {
                            format!("stage {}: {why}", n + 1)
                        } else {
                            why
                        };
                        break;
                    }
                }
            }
        }
        outcomes.push(TestOutcome {
            id,
            passed: detail.is_empty(),
            detail,
        });
    }
    Ok(outcomes)
}

struct BuiltRequest {
    input: RequestInput,
    body: Vec<u8>,
    /// The request as a client puts it on the wire (the HTTP mode sends this).
    raw: Vec<u8>,
}

fn build_request(input: &Value, legacy: bool) -> Result<BuiltRequest, String> {
    if let Some(encoded) = get(input, "encoded_request").and_then(scalar_text) {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(encoded.split_whitespace().collect::<String>())
            .map_err(|e| format!("encoded_request: {e}"))?;
        return parse_raw_request(&raw);
    }
    if let Some(raw) = get(input, "raw_request").and_then(scalar_text) {
        return parse_raw_request(raw.as_bytes());
    }
    let method = get(input, "method")
        .and_then(scalar_text)
        .unwrap_or_else(|| "GET".into());
    let uri = get(input, "uri")
        .and_then(scalar_text)
        .unwrap_or_else(|| "/".into());
    let version = get(input, "version")
        .and_then(scalar_text)
        .unwrap_or_else(|| "HTTP/1.1".into());
    let mut request = RequestInput::new(&method, &uri);
    request.protocol = version.into_bytes();
    if let Some(headers) = get(input, "headers").and_then(Value::as_mapping) {
        for (name, value) in headers {
            let (Some(name), Some(value)) = (scalar_text(name), scalar_text(value)) else {
                continue;
            };
            request
                .headers
                .push((name.into_bytes(), value.into_bytes()));
        }
    }
    let body: Vec<u8> = match get(input, "data") {
        Some(Value::Sequence(lines)) => lines
            .iter()
            .filter_map(scalar_text)
            .collect::<Vec<_>>()
            .join("\r\n")
            .into_bytes(),
        Some(other) => scalar_text(other).unwrap_or_default().into_bytes(),
        None => Vec::new(),
    };
    let autocomplete = get(input, "autocomplete_headers")
        .and_then(Value::as_bool)
        .unwrap_or(true)
        && !get(input, "stop_magic")
            .and_then(Value::as_bool)
            .unwrap_or(false);
    let has = |request: &RequestInput, name: &str| {
        request
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
    };
    // go-ftw sends `Content-Length: 0` on body methods; the old ftw did not.
    let sends_body = !legacy
        && matches!(
            method.to_ascii_uppercase().as_str(),
            "POST" | "PUT" | "PATCH"
        );
    if autocomplete && (!body.is_empty() || sends_body) {
        if !has(&request, "content-type") && !body.is_empty() {
            request.headers.push((
                b"Content-Type".to_vec(),
                b"application/x-www-form-urlencoded".to_vec(),
            ));
        }
        if !has(&request, "content-length") && !has(&request, "transfer-encoding") {
            request.headers.push((
                b"Content-Length".to_vec(),
                body.len().to_string().into_bytes(),
            ));
        }
    }
    let mut raw = Vec::with_capacity(256 + body.len());
    raw.extend_from_slice(&request.method);
    raw.push(b' ');
    raw.extend_from_slice(&request.uri);
    if !request.protocol.is_empty() {
        raw.push(b' ');
        raw.extend_from_slice(&request.protocol);
    }
    raw.extend_from_slice(b"\r\n");
    crate::body::push_header_block(&mut raw, &request.headers);
    raw.extend_from_slice(&body);
    let body = server_body(&request, body);
    Ok(BuiltRequest {
        input: request,
        body,
        raw,
    })
}

/// The body a web server hands to the WAF: de-chunked, and cut to
/// `Content-Length` when that header is shorter than the data.
fn server_body(request: &RequestInput, body: Vec<u8>) -> Vec<u8> {
    let header = |name: &str| {
        request
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| String::from_utf8_lossy(v).trim().to_ascii_lowercase())
    };
    if header("transfer-encoding").is_some_and(|te| te.contains("chunked")) {
        return dechunk(&body);
    }
    match header("content-length").and_then(|l| l.parse::<usize>().ok()) {
        Some(length) if length < body.len() => body[..length].to_vec(),
        Some(_) => body,
        // HTTP/1.x without a length: the server reads no body.
        None => Vec::new(),
    }
}

fn dechunk(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(line_end) = memchr::memmem::find(rest, b"\r\n") {
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or("").trim().to_string();
        let Ok(size) = usize::from_str_radix(&size_text, 16) else {
            break;
        };
        rest = &rest[line_end + 2..];
        if size == 0 || size > rest.len() {
            break;
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size..];
        rest = rest.strip_prefix(b"\r\n").unwrap_or(rest);
    }
    out
}

fn parse_raw_request(raw: &[u8]) -> Result<BuiltRequest, String> {
    let (head, body) = match memchr::memmem::find(raw, b"\r\n\r\n") {
        Some(p) => (&raw[..p], &raw[p + 4..]),
        None => match memchr::memmem::find(raw, b"\n\n") {
            Some(p) => (&raw[..p], &raw[p + 2..]),
            None => (raw, &b""[..]),
        },
    };
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let request_line = lines.next().ok_or("empty raw request")?;
    let parts: Vec<&[u8]> = request_line
        .split(|&b| b == b' ')
        .filter(|p| !p.is_empty())
        .collect();
    let (method, uri, protocol) = match parts.as_slice() {
        [m, u, p] => (m.to_vec(), u.to_vec(), p.to_vec()),
        [m, u] => (m.to_vec(), u.to_vec(), Vec::new()),
        _ => (request_line.to_vec(), Vec::new(), Vec::new()),
    };
    let mut input = RequestInput::new("GET", "/");
    input.method = method;
    input.uri = uri;
    input.protocol = protocol;
    for line in lines {
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            input.headers.push((
                line[..colon].trim_ascii().to_vec(),
                line[colon + 1..].trim_ascii().to_vec(),
            ));
        }
    }
    let server = server_body(&input, body.to_vec());
    Ok(BuiltRequest {
        input,
        body: server,
        raw: raw.to_vec(),
    })
}

/// What the web server in front of the WAF does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServerVerdict {
    Accept,
    /// Answered 400 before the WAF runs.
    Reject,
    /// An HTTP/0.9-style request line (no version): the WAF runs, but the
    /// client cannot read the response.
    AcceptThenError,
}

/// Mirrors what Apache httpd (the suite's reference server) refuses before
/// ModSecurity sees a request.
fn server_verdict(request: &RequestInput) -> ServerVerdict {
    let protocol = request.protocol.as_slice();
    let version_ok = protocol.len() == 8
        && protocol.starts_with(b"HTTP/")
        && protocol[5].is_ascii_digit()
        && protocol[6] == b'.'
        && protocol[7].is_ascii_digit()
        || matches!(protocol, b"HTTP/2" | b"HTTP/3");
    let major_zero = protocol.starts_with(b"HTTP/0");
    if major_zero || (!protocol.is_empty() && !version_ok) {
        return ServerVerdict::Reject;
    }
    let method_ok =
        !request.method.is_empty() && request.method.iter().all(|b| b.is_ascii_graphic());
    let uri = &request.uri;
    let target_ok = if request.method.eq_ignore_ascii_case(b"CONNECT") {
        uri.contains(&b':')
    } else {
        // A bare `?query` target is what the old ftw sent for "no path".
        matches!(uri.first(), Some(b'/' | b'?'))
            || uri.as_slice() == b"*"
            || memchr::memmem::find(uri, b"://").is_some_and(|p| p > 0)
    };
    if !method_ok || !target_ok || uri.contains(&b'#') || uri.contains(&b' ') {
        return ServerVerdict::Reject;
    }
    for (name, value) in &request.headers {
        if value.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0) {
            return ServerVerdict::Reject;
        }
        if name.eq_ignore_ascii_case(b"content-length")
            && (value.is_empty() || !value.iter().all(u8::is_ascii_digit))
        {
            return ServerVerdict::Reject;
        }
        if name.eq_ignore_ascii_case(b"host")
            && ((value.is_empty() && protocol != b"HTTP/1.0")
                || value.iter().any(|&b| {
                    b == b'%' || b == b'/' || b.is_ascii_whitespace() || b.is_ascii_control()
                }))
        {
            return ServerVerdict::Reject;
        }
    }
    if protocol.is_empty() {
        ServerVerdict::AcceptThenError
    } else {
        ServerVerdict::Accept
    }
}

/// Header normalisation a server performs: repeated headers are joined with
/// `, ` and `Content-Length` is dropped when `Transfer-Encoding` is present.
fn server_headers(headers: &[(Vec<u8>, Vec<u8>)]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let chunked = headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case(b"transfer-encoding"));
    let mut out: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for (name, value) in headers {
        if chunked && name.eq_ignore_ascii_case(b"content-length") {
            continue;
        }
        match out.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            Some((_, existing)) => {
                existing.extend_from_slice(b", ");
                existing.extend_from_slice(value);
            }
            None => out.push((name.clone(), value.clone())),
        }
    }
    out
}

/// Header name/value pairs.
pub type Headers = Vec<(Vec<u8>, Vec<u8>)>;

/// What the test backend answers to a request for `uri` with `body`: a 200
/// `text/html` page, except `/reflect`, which answers the status, headers and
/// body described by the JSON it is sent (the suite's RESPONSE-95x tests).
pub fn backend_answer(uri: &[u8], body: &[u8]) -> (u16, Headers, Vec<u8>) {
    let mut input = RequestInput::new("GET", "/");
    input.uri = uri.to_vec();
    backend_response(&BuiltRequest {
        input,
        body: body.to_vec(),
        raw: Vec::new(),
    })
}

/// The simulated backend's response: (status, headers, body).
fn backend_response(request: &BuiltRequest) -> (u16, Headers, Vec<u8>) {
    let path = request
        .input
        .uri
        .split(|&b| b == b'?')
        .next()
        .unwrap_or(&[])
        .to_vec();
    let default = || {
        (
            200,
            vec![(b"Content-Type".to_vec(), b"text/html".to_vec())],
            Vec::new(),
        )
    };
    if path != b"/reflect" {
        return default();
    }
    let Ok(spec) = serde_json::from_slice::<serde_json::Value>(&request.body) else {
        return default();
    };
    let status = spec
        .get("status")
        .and_then(serde_json::Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .unwrap_or(200);
    let mut headers = Vec::new();
    if let Some(map) = spec.get("headers").and_then(serde_json::Value::as_object) {
        for (k, v) in map {
            let value = v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            headers.push((k.as_bytes().to_vec(), value.into_bytes()));
        }
    }
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case(b"content-type"))
    {
        headers.push((b"Content-Type".to_vec(), b"text/plain".to_vec()));
    }
    let body = match (spec.get("body"), spec.get("encodedBody")) {
        (Some(serde_json::Value::String(s)), _) => s.as_bytes().to_vec(),
        (_, Some(serde_json::Value::String(b64))) => base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    (status, headers, body)
}

fn ids_of(value: Option<&Value>) -> Vec<u64> {
    value
        .and_then(Value::as_sequence)
        .map(|seq| {
            seq.iter()
                .filter_map(|v| scalar_text(v)?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Escapes control bytes as `\xHH`, as ModSecurity does in its log.
fn log_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

fn log_regex(pattern: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(pattern).map_err(|e| format!("bad log pattern {pattern:?}: {e}"))
}

fn run_stage(waf: &Waf, stage: &Value, legacy: bool) -> Result<(), String> {
    let input = get(stage, "input").ok_or("stage has no input")?;
    let output = get(stage, "output").ok_or("stage has no output")?;
    let request = build_request(input, legacy)?;
    let verdict = server_verdict(&request.input);
    let (status, log, logged_ids) = if verdict == ServerVerdict::Reject {
        (400, String::new(), BTreeSet::new())
    } else {
        let mut tx = waf.transaction();
        let mut server_input = request.input.clone();
        server_input.headers = server_headers(&request.input.headers);
        if verdict == ServerVerdict::AcceptThenError {
            server_input.protocol = b"HTTP/0.9".to_vec();
        }
        tx.process_request_headers(&server_input);
        if tx.interruption().is_none() {
            tx.process_request_body(&request.body);
        }
        let (mut status, headers, body) = backend_response(&request);
        if tx.interruption().is_none() {
            tx.process_response_headers(&ResponseInput {
                status,
                protocol: b"HTTP/1.1".to_vec(),
                headers,
            });
        }
        if tx.interruption().is_none() {
            tx.process_response_body(&body);
        }
        if let Some(interruption) = tx.interruption() {
            status = interruption.status;
        }
        let mut log = String::new();
        let mut ids = BTreeSet::new();
        for m in tx.matched_rules().iter().filter(|m| m.logged) {
            ids.insert(m.id);
            let _ = writeln!(
                log,
                "ModSecurity: Warning. [id \"{}\"] [msg \"{}\"] [data \"{}\"] [severity \"{}\"] [hostname \"localhost\"] [uri \"{}\"]",
                m.id,
                log_escape(&m.message),
                log_escape(&m.logdata),
                m.severity.map(crate::engine::severity_name).unwrap_or(""),
                String::from_utf8_lossy(&request.input.uri),
            );
        }
        (status, log, ids)
    };
    check_output(
        output,
        status,
        &log,
        &logged_ids,
        verdict != ServerVerdict::Accept,
    )
}

/// Compares what happened with a stage's `output` expectations.
fn check_output(
    output: &Value,
    status: u16,
    log: &str,
    logged_ids: &BTreeSet<u64>,
    errored: bool,
) -> Result<(), String> {
    let mut problems = Vec::new();
    if let Some(expected) = get(output, "status") {
        let allowed: Vec<u64> = match expected {
            Value::Sequence(list) => list.iter().filter_map(Value::as_u64).collect(),
            other => other.as_u64().into_iter().collect(),
        };
        if !allowed.is_empty() && !allowed.contains(&u64::from(status)) {
            problems.push(format!("status {status}, expected {allowed:?}"));
        }
    }
    let log_section = get(output, "log");
    for id in ids_of(log_section.and_then(|l| get(l, "expect_ids"))) {
        if !logged_ids.contains(&id) {
            problems.push(format!("expected id {id} not logged"));
        }
    }
    for id in ids_of(log_section.and_then(|l| get(l, "no_expect_ids"))) {
        if logged_ids.contains(&id) {
            problems.push(format!("id {id} logged but not expected"));
        }
    }
    let patterns = [
        (log_section.and_then(|l| get(l, "match_regex")), true),
        (log_section.and_then(|l| get(l, "no_match_regex")), false),
        (get(output, "log_contains"), true),
        (get(output, "no_log_contains"), false),
    ];
    for (pattern, should_match) in patterns {
        let Some(pattern) = pattern.and_then(scalar_text) else {
            continue;
        };
        let matched = log_regex(&pattern)?.is_match(log);
        if matched != should_match {
            problems.push(if should_match {
                format!("log does not match {pattern:?}")
            } else {
                format!("log matches {pattern:?}")
            });
        }
    }
    if get(output, "expect_error").and_then(Value::as_bool) == Some(true) && !errored {
        problems.push("expected the server to refuse the request".into());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        let mut ids: Vec<String> = logged_ids.iter().map(u64::to_string).collect();
        ids.truncate(12);
        Err(format!(
            "{} (logged: {})",
            problems.join("; "),
            ids.join(",")
        ))
    }
}

/// A running gateway that the HTTP mode of the conformance runner sends the
/// test requests to (see `palisade rules test --http`).
pub trait HttpTarget {
    /// Sends one request exactly as the test writes it and returns the
    /// response status (0 when the connection failed or was closed without an
    /// answer) and the request id the gateway gave it (`X-Request-Id`).
    fn send(&mut self, raw: &[u8]) -> (u16, Option<String>);
    /// The rule ids the gateway recorded, by request id, once every request
    /// has been sent.
    fn logged_ids(&mut self) -> Result<HashMap<String, BTreeSet<u64>>, String>;
}

/// A test's name and its stages as sent, or why a stage could not be built.
type SentTest = (String, Result<Vec<SentStage>, String>);

/// What one stage sent and got back over HTTP, checked once the gateway's
/// events are in.
struct SentStage {
    output: Value,
    status: u16,
    request_id: Option<String>,
}

/// Replays a go-ftw suite over real HTTP through a running gateway. Rule ids
/// come from the gateway's security events; the log the expectations match
/// against holds one `[id "N"]` line per recorded rule.
pub fn run_suite_http(
    tests_dir: &Path,
    target: &mut dyn HttpTarget,
) -> Result<SuiteReport, SuiteError> {
    let mut files = Vec::new();
    collect_yaml(tests_dir, &mut files)?;
    files.sort();
    let mut report = SuiteReport::default();
    let mut sent: Vec<(String, Vec<SentTest>)> = Vec::new();
    for file in files {
        let relative = relative_name(&file, tests_dir);
        let parsed = std::fs::read_to_string(&file)
            .map_err(|e| e.to_string())
            .and_then(|text| parse_document(&text, &file));
        let (rule_id, tests) = match parsed {
            Ok(Some(doc)) => doc,
            Ok(None) => continue,
            Err(e) => {
                report.file_errors.push(format!("{relative}: {e}"));
                continue;
            }
        };
        let mut file_tests = Vec::new();
        for (index, test) in tests.iter().enumerate() {
            let name = test_name(test, &rule_id, index);
            let stages = get(test, "stages").and_then(Value::as_sequence);
            let result = match stages {
                None => Err("no stages".to_owned()),
                Some(stages) => send_stages(stages, target),
            };
            file_tests.push((name, result));
        }
        sent.push((relative, file_tests));
    }
    let logged = target.logged_ids().unwrap_or_else(|e| {
        report.file_errors.push(format!("events: {e}"));
        HashMap::new()
    });
    let none = BTreeSet::new();
    for (file, tests) in sent {
        let mut outcomes = Vec::new();
        for (id, result) in tests {
            let detail = match result {
                Err(why) => why,
                Ok(stages) => {
                    let count = stages.len();
                    stages
                        .iter()
                        .enumerate()
                        .find_map(|(n, stage)| {
                            let ids = stage
                                .request_id
                                .as_ref()
                                .and_then(|r| logged.get(r))
                                .unwrap_or(&none);
                            let log: String = ids
                                .iter()
                                .map(|id| format!("ModSecurity: Warning. [id \"{id}\"]\n"))
                                .collect();
                            let errored = stage.status == 400 || stage.status == 0;
                            check_output(&stage.output, stage.status, &log, ids, errored)
                                .err()
                                .map(|why| {
                                    if count > 1 {
                                        format!("stage {}: {why}", n + 1)
                                    } else {
                                        why
                                    }
                                })
                        })
                        .unwrap_or_default()
                }
            };
            outcomes.push(TestOutcome {
                id,
                passed: detail.is_empty(),
                detail,
            });
        }
        report.files.push(FileReport {
            file,
            tests: outcomes,
        });
    }
    Ok(report)
}

fn send_stages(stages: &[Value], target: &mut dyn HttpTarget) -> Result<Vec<SentStage>, String> {
    let mut out = Vec::with_capacity(stages.len());
    for stage in stages {
        let legacy = get(stage, "stage").is_some();
        let stage = get(stage, "stage").unwrap_or(stage);
        let input = get(stage, "input").ok_or("stage has no input")?;
        let output = get(stage, "output").ok_or("stage has no output")?;
        let request = build_request(input, legacy)?;
        let (status, request_id) = target.send(&request.raw);
        out.push(SentStage {
            output: output.clone(),
            status,
            request_id,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_failure_check() {
        let report = SuiteReport {
            files: vec![FileReport {
                file: "a.yaml".into(),
                tests: vec![
                    TestOutcome {
                        id: "1-1".into(),
                        passed: true,
                        detail: String::new(),
                    },
                    TestOutcome {
                        id: "1-2".into(),
                        passed: false,
                        detail: "x".into(),
                    },
                    TestOutcome {
                        id: "1-3".into(),
                        passed: false,
                        detail: "y".into(),
                    },
                ],
            }],
            file_errors: vec![],
        };
        assert!(report.render().ends_with("passed 1 of 3 (33.3%)"));
        let known = parse_known_failures("# c\n1-2 reason here\n1-1 fixed\n9-9 gone\n");
        let check = check_known_failures(&report, &known);
        assert_eq!(check.regressions, vec!["1-3"]);
        assert_eq!(check.unexpected_passes, vec!["1-1"]);
        assert_eq!(check.unknown, vec!["9-9"]);
    }

    #[test]
    fn chunked_and_raw_requests() {
        assert_eq!(dechunk(b"7\r\nfoo=bar\r\n0\r\n\r\n"), b"foo=bar");
        let built = parse_raw_request(
            b"POST /x?a=1 HTTP/1.0\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcdef",
        )
        .unwrap();
        assert_eq!(built.input.uri, b"/x?a=1");
        assert_eq!(built.body, b"abc");
        let verdict = |raw: &[u8]| server_verdict(&parse_raw_request(raw).unwrap().input);
        assert_eq!(verdict(b"GET / JUNK/1.0\r\n\r\n"), ServerVerdict::Reject);
        assert_eq!(
            verdict(b"GET / HTTP/1.1\r\nContent-Length: 3x\r\n\r\n"),
            ServerVerdict::Reject
        );
        assert_eq!(verdict(b"GET /a#b HTTP/1.1\r\n\r\n"), ServerVerdict::Reject);
        assert_eq!(
            verdict(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
            ServerVerdict::Accept
        );
        assert_eq!(verdict(b"GET /\r\n\r\n"), ServerVerdict::AcceptThenError);
    }
}
