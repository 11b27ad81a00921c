//! Efficacy harness: replays a labelled corpus of HTTP requests through a set
//! of [`Detector`]s and the decision stage, and reports how many attacks were
//! blocked and how many benign requests were let through.
//!
//! # Corpus format
//!
//! A corpus is a directory tree of JSON Lines files (`*.jsonl`), read in
//! sorted path order. Each line is one case:
//!
//! ```json
//! {"id": "sqli-0001", "label": "attack", "category": "sql_injection",
//!  "method": "GET", "target": "/api/items?id=1%27%20or%201%3D1--",
//!  "headers": [["user-agent", "curl/8.0"]], "body": null}
//! ```
//!
//! * `label`: `attack` or `benign`.
//! * `category`: for attacks, the attack class (a [`palisade_core::Category`]
//!   name such as `sql_injection`); for benign cases, the kind of traffic
//!   (`names`, `markdown`, ...) or the attack class it resembles. Rows of the
//!   report are per category name.
//! * `target`: path and query exactly as sent on the request line.
//! * `headers`: optional list of `[name, value]` pairs.
//! * `body`: optional UTF-8 body; `body_base64` carries binary bodies instead.
//!
//! Blank lines and lines starting with `//` are ignored.
//!
//! # What counts as a detection
//!
//! A case is *detected* when the decision stage ([`DecisionPolicy::decide`])
//! condemns it (blocks it, or would block it in monitor mode) after the
//! request-head phase or after the request-body phase. Findings that do not
//! reach the policy threshold do not count.
//!
//! # CRS regression payloads
//!
//! [`crs::load_regression_cases`] turns the OWASP CRS regression tests
//! (go-ftw YAML) into [`Case`]s for [`evaluate_cases`], as an extra labelled
//! source.
//!
//! # Figures
//!
//! True-positive rate (TPR) is the share of attack cases detected,
//! true-negative rate (TNR) the share of benign cases not detected, balanced
//! accuracy (BA) their mean. [`Report::render`] prints them as percentages
//! with two decimals; its last line is exactly `BA x.xx TPR x.xx TNR x.xx`.

pub mod crs;

use bytes::Bytes;
use palisade_core::{Action, DecisionPolicy, Detector, Phase, RequestHead, Transaction};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Errors loading a corpus.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("corpus {0} holds no cases")]
    Empty(PathBuf),
}

/// Whether a case is an attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    Attack,
    Benign,
}

/// One labelled request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    pub id: String,
    pub label: Label,
    pub category: String,
    pub method: String,
    /// Path and query as sent on the request line.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    id: String,
    label: Label,
    category: String,
    #[serde(default = "default_method")]
    method: String,
    target: String,
    #[serde(default)]
    headers: Vec<(String, String)>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    body_base64: Option<String>,
    /// Free-form note for corpus readers; ignored.
    #[serde(default)]
    #[allow(dead_code)]
    note: Option<String>,
}

fn default_method() -> String {
    "GET".to_string()
}

impl Case {
    /// Parses one JSON Lines record.
    pub fn from_json(line: &str) -> Result<Case, String> {
        let raw: RawCase = serde_json::from_str(line).map_err(|e| e.to_string())?;
        let body = match (raw.body, raw.body_base64) {
            (Some(_), Some(_)) => return Err("both body and body_base64".into()),
            (Some(b), None) => Some(b.into_bytes()),
            (None, Some(b64)) => {
                use base64::Engine;
                Some(
                    base64::engine::general_purpose::STANDARD
                        .decode(b64.trim())
                        .map_err(|e| format!("body_base64: {e}"))?,
                )
            }
            (None, None) => None,
        };
        Ok(Case {
            id: raw.id,
            label: raw.label,
            category: raw.category,
            method: raw.method,
            target: raw.target,
            headers: raw.headers,
            body,
        })
    }

    /// The transaction this case replays, before any phase ran.
    pub fn transaction(&self) -> Result<Transaction, String> {
        let method = http::Method::from_bytes(self.method.as_bytes()).map_err(|e| e.to_string())?;
        let uri: http::Uri = self
            .target
            .parse()
            .map_err(|e: http::uri::InvalidUri| e.to_string())?;
        let mut head = RequestHead::synthetic(method, "/");
        head.uri = uri;
        for (name, value) in &self.headers {
            let name = http::HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
            let value =
                http::HeaderValue::from_bytes(value.as_bytes()).map_err(|e| e.to_string())?;
            head.headers.append(name, value);
        }
        let mut tx = Transaction::new(head);
        tx.request_body = self.body.clone().map(Bytes::from);
        Ok(tx)
    }
}

/// A loaded corpus.
#[derive(Debug, Clone, Default)]
pub struct Corpus {
    pub cases: Vec<Case>,
}

impl Corpus {
    /// Loads every `*.jsonl` file under `dir`, in sorted path order.
    pub fn load(dir: &Path) -> Result<Corpus, EvalError> {
        let mut files = Vec::new();
        collect_files(dir, &mut files)?;
        files.sort();
        let mut cases = Vec::new();
        for path in files {
            let text = std::fs::read_to_string(&path).map_err(|source| EvalError::Io {
                path: path.clone(),
                source,
            })?;
            for (n, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with("//") {
                    continue;
                }
                let case = Case::from_json(line).map_err(|message| EvalError::Parse {
                    path: path.clone(),
                    line: n + 1,
                    message,
                })?;
                cases.push(case);
            }
        }
        if cases.is_empty() {
            return Err(EvalError::Empty(dir.to_path_buf()));
        }
        Ok(Corpus { cases })
    }
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), EvalError> {
    let entries = std::fs::read_dir(dir).map_err(|source| EvalError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| EvalError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "jsonl") {
            out.push(path);
        }
    }
    Ok(())
}

/// Counts for one category.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub attacks: usize,
    pub detected: usize,
    pub benign: usize,
    /// Benign cases that were blocked.
    pub false_positives: usize,
}

impl Counts {
    /// True-positive rate as a fraction, `None` without attack cases.
    pub fn tpr(&self) -> Option<f64> {
        (self.attacks > 0).then(|| self.detected as f64 / self.attacks as f64)
    }
    /// True-negative rate as a fraction, `None` without benign cases.
    pub fn tnr(&self) -> Option<f64> {
        (self.benign > 0).then(|| (self.benign - self.false_positives) as f64 / self.benign as f64)
    }
    /// Balanced accuracy; with only one label present, the rate of that label.
    pub fn balanced_accuracy(&self) -> Option<f64> {
        match (self.tpr(), self.tnr()) {
            (Some(t), Some(n)) => Some((t + n) / 2.0),
            (Some(t), None) => Some(t),
            (None, Some(n)) => Some(n),
            (None, None) => None,
        }
    }
    fn add(&mut self, other: &Counts) {
        self.attacks += other.attacks;
        self.detected += other.detected;
        self.benign += other.benign;
        self.false_positives += other.false_positives;
    }
}

/// The outcome of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub id: String,
    pub label: Label,
    pub category: String,
    pub detected: bool,
    /// Total anomaly score of the findings (after exclusions).
    pub score: u32,
    /// Rule ids that fired.
    pub rules: Vec<String>,
    /// Set when the case could not be replayed (invalid method, URI or header).
    pub error: Option<String>,
}

/// Per-category and overall figures of one evaluation.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub per_category: BTreeMap<String, Counts>,
    pub overall: Counts,
    pub outcomes: Vec<Outcome>,
}

fn percent(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{:.2}", v * 100.0))
}

impl Report {
    /// Overall balanced accuracy as a fraction.
    pub fn balanced_accuracy(&self) -> f64 {
        (self.overall.tpr().unwrap_or(1.0) + self.overall.tnr().unwrap_or(1.0)) / 2.0
    }

    /// Attack cases that were not detected.
    pub fn misses(&self) -> impl Iterator<Item = &Outcome> {
        self.outcomes
            .iter()
            .filter(|o| o.label == Label::Attack && !o.detected)
    }

    /// Benign cases that were detected.
    pub fn false_positives(&self) -> impl Iterator<Item = &Outcome> {
        self.outcomes
            .iter()
            .filter(|o| o.label == Label::Benign && o.detected)
    }

    /// A table per category, then the overall line. Rates are percentages
    /// with two decimals; the last line is `BA x.xx TPR x.xx TNR x.xx`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<28} {:>7} {:>8} {:>7} {:>8} {:>8}",
            "category", "attacks", "TPR %", "benign", "TNR %", "BA %"
        );
        for (category, c) in &self.per_category {
            let _ = writeln!(
                out,
                "{:<28} {:>7} {:>8} {:>7} {:>8} {:>8}",
                category,
                c.attacks,
                percent(c.tpr()),
                c.benign,
                percent(c.tnr()),
                percent(c.balanced_accuracy())
            );
        }
        let o = &self.overall;
        let _ = writeln!(
            out,
            "{:<28} {:>7} {:>8} {:>7} {:>8} {:>8}",
            "overall",
            o.attacks,
            percent(o.tpr()),
            o.benign,
            percent(o.tnr()),
            percent(Some(self.balanced_accuracy()))
        );
        let errors = self.outcomes.iter().filter(|o| o.error.is_some()).count();
        if errors > 0 {
            let _ = writeln!(
                out,
                "{errors} case(s) could not be replayed and count as not detected"
            );
        }
        let _ = write!(
            out,
            "BA {:.2} TPR {:.2} TNR {:.2}",
            self.balanced_accuracy() * 100.0,
            o.tpr().unwrap_or(1.0) * 100.0,
            o.tnr().unwrap_or(1.0) * 100.0
        );
        out
    }
}

/// Runs one case through the detectors and the decision stage.
pub fn run_case(case: &Case, detectors: &[Arc<dyn Detector>], policy: &DecisionPolicy) -> Outcome {
    let mut outcome = Outcome {
        id: case.id.clone(),
        label: case.label,
        category: case.category.clone(),
        detected: false,
        score: 0,
        rules: Vec::new(),
        error: None,
    };
    let mut tx = match case.transaction() {
        Ok(tx) => tx,
        Err(e) => {
            outcome.error = Some(e);
            return outcome;
        }
    };
    for phase in [Phase::RequestHead, Phase::RequestBody] {
        if phase == Phase::RequestBody && tx.request_body.is_none() {
            break;
        }
        for detector in detectors {
            if detector.wants(phase) {
                detector.inspect(phase, &mut tx);
            }
        }
        policy.apply_exclusions(&mut tx.findings);
        let decision = policy.decide(phase, &tx.findings);
        outcome.score = decision.score;
        if matches!(decision.action, Action::Blocked | Action::Monitored) {
            outcome.detected = true;
            break;
        }
    }
    outcome.rules = tx.findings.iter().map(|f| f.rule_id.clone()).collect();
    outcome
}

/// Evaluates a loaded corpus.
pub fn evaluate(
    corpus: &Corpus,
    detectors: &[Arc<dyn Detector>],
    policy: &DecisionPolicy,
) -> Report {
    evaluate_cases(&corpus.cases, detectors, policy)
}

/// Evaluates any labelled cases (an extra source such as regression payloads).
pub fn evaluate_cases(
    cases: &[Case],
    detectors: &[Arc<dyn Detector>],
    policy: &DecisionPolicy,
) -> Report {
    let mut report = Report::default();
    for case in cases {
        let outcome = run_case(case, detectors, policy);
        let mut counts = Counts::default();
        match (outcome.label, outcome.detected) {
            (Label::Attack, detected) => {
                counts.attacks = 1;
                counts.detected = usize::from(detected);
            }
            (Label::Benign, detected) => {
                counts.benign = 1;
                counts.false_positives = usize::from(detected);
            }
        }
        report
            .per_category
            .entry(outcome.category.clone())
            .or_default()
            .add(&counts);
        report.overall.add(&counts);
        report.outcomes.push(outcome);
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_core::{Category, Finding, Location, Severity};

    /// Flags any request whose target contains `EVIL`.
    struct Marker;
    impl Detector for Marker {
        fn name(&self) -> &'static str {
            "marker"
        }
        fn wants(&self, phase: Phase) -> bool {
            phase == Phase::RequestHead
        }
        fn inspect(&self, _phase: Phase, tx: &mut Transaction) {
            if tx.request.uri.to_string().contains("EVIL") {
                tx.report(Finding::new(
                    "m",
                    Category::Other,
                    Severity::Critical,
                    Location::new("uri"),
                    "EVIL",
                    "m",
                ));
            }
        }
    }

    fn case(id: &str, label: Label, target: &str) -> Case {
        Case::from_json(&format!(
            r#"{{"id":"{id}","label":"{}","category":"c","target":"{target}"}}"#,
            if label == Label::Attack {
                "attack"
            } else {
                "benign"
            }
        ))
        .expect("case")
    }

    #[test]
    fn figures_and_last_line() {
        let cases = vec![
            case("a1", Label::Attack, "/EVIL"),
            case("a2", Label::Attack, "/fine"),
            case("b1", Label::Benign, "/fine"),
            case("b2", Label::Benign, "/EVIL"),
            case("b3", Label::Benign, "/ok"),
            case("b4", Label::Benign, "/ok2"),
        ];
        let detectors: Vec<Arc<dyn Detector>> = vec![Arc::new(Marker)];
        let report = evaluate_cases(&cases, &detectors, &DecisionPolicy::default());
        assert_eq!(report.overall.detected, 1);
        assert_eq!(report.overall.false_positives, 1);
        let rendered = report.render();
        assert_eq!(
            rendered.lines().last(),
            Some("BA 62.50 TPR 50.00 TNR 75.00")
        );
        assert_eq!(report.misses().count(), 1);
        assert_eq!(
            report.false_positives().next().map(|o| o.id.as_str()),
            Some("b2")
        );
    }

    #[test]
    fn parse_errors_name_the_line() {
        let dir = std::env::temp_dir().join(format!("palisade-eval-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(
            dir.join("a.jsonl"),
            "{\"id\":\"x\",\"label\":\"attack\",\"category\":\"c\",\"target\":\"/\"}\n{bad\n",
        )
        .expect("write");
        let err = Corpus::load(&dir).expect_err("must fail");
        assert!(err.to_string().contains("a.jsonl:2"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn binary_bodies() {
        let c = Case::from_json(r#"{"id":"x","label":"benign","category":"c","method":"POST","target":"/u","body_base64":"AAEC"}"#).expect("case");
        assert_eq!(c.body.as_deref(), Some(&[0u8, 1, 2][..]));
    }
}
