//! The OWASP CRS regression tests (go-ftw YAML) as an extra labelled source.
//!
//! Each stage of a test in the attack families (`REQUEST-930` to
//! `REQUEST-944`) becomes one [`Case`]: an attack when the stage expects a
//! rule to fire (`expect_ids`), benign when it only lists rules that must not
//! fire (`no_expect_ids`). Stages sent as raw encoded requests are skipped.
//! The category comes from the rule file's family.
//!
//! Expectations are about one CRS rule, not about the request as a whole: a
//! "benign" stage (one that must not trigger rule X) is often an attack for
//! another rule, and many attack stages are paranoia-level fragments
//! (`sleep(`, `<f o r m`). Treat the figures as a coverage cross-check, not
//! as an efficacy measure.

use crate::{Case, EvalError, Label};
use std::path::{Path, PathBuf};

/// Attack families replayed, by rule file prefix, with the category reported.
const FAMILIES: &[(&str, &str)] = &[
    ("REQUEST-930", "path_traversal"),
    ("REQUEST-931", "remote_file_inclusion"),
    ("REQUEST-932", "command_injection"),
    ("REQUEST-933", "code_injection"),
    ("REQUEST-934", "generic_injection"),
    ("REQUEST-941", "xss"),
    ("REQUEST-942", "sql_injection"),
    ("REQUEST-943", "session_fixation"),
    ("REQUEST-944", "java_injection"),
];

/// Loads the regression stages under `tests_dir` (the CRS `tests/regression/tests`
/// directory, or the CRS root). Returns the cases and how many stages were skipped.
pub fn load_regression_cases(tests_dir: &Path) -> Result<(Vec<Case>, usize), EvalError> {
    let root = if tests_dir.join("tests/regression/tests").is_dir() {
        tests_dir.join("tests/regression/tests")
    } else {
        tests_dir.to_path_buf()
    };
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .map_err(|source| EvalError::Io {
            path: root.clone(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut cases = Vec::new();
    let mut skipped = 0;
    for dir in dirs {
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let Some((_, category)) = FAMILIES.iter().find(|(prefix, _)| name.starts_with(prefix))
        else {
            continue;
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|source| EvalError::Io {
                path: dir.clone(),
                source,
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file).map_err(|source| EvalError::Io {
                path: file.clone(),
                source,
            })?;
            let doc: serde_yaml::Value =
                serde_yaml::from_str(&text).map_err(|e| EvalError::Parse {
                    path: file.clone(),
                    line: e.location().map_or(0, |l| l.line()),
                    message: e.to_string(),
                })?;
            let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("crs");
            skipped += cases_from_test_file(&doc, stem, category, &mut cases);
        }
    }
    Ok((cases, skipped))
}

fn cases_from_test_file(
    doc: &serde_yaml::Value,
    stem: &str,
    category: &str,
    out: &mut Vec<Case>,
) -> usize {
    let mut skipped = 0;
    let Some(tests) = doc.get("tests").and_then(|t| t.as_sequence()) else {
        return 0;
    };
    for test in tests {
        let test_id = test
            .get("test_id")
            .and_then(|t| t.as_u64())
            .map_or_else(|| "?".to_string(), |t| t.to_string());
        let Some(stages) = test.get("stages").and_then(|s| s.as_sequence()) else {
            continue;
        };
        for (n, stage) in stages.iter().enumerate() {
            let stage = stage.get("stage").unwrap_or(stage);
            match case_from_stage(stage, category) {
                Some(mut case) => {
                    case.id = format!("crs-{stem}-{test_id}-{n}");
                    out.push(case);
                }
                None => skipped += 1,
            }
        }
    }
    skipped
}

fn case_from_stage(stage: &serde_yaml::Value, category: &str) -> Option<Case> {
    let input = stage.get("input")?;
    if input.get("encoded_request").is_some() {
        return None;
    }
    let log = stage.get("output")?.get("log")?;
    let expects = log
        .get("expect_ids")
        .and_then(|e| e.as_sequence())
        .is_some_and(|e| !e.is_empty());
    let label = if expects {
        Label::Attack
    } else if log.get("no_expect_ids").is_some() {
        Label::Benign
    } else {
        return None;
    };
    let method = input
        .get("method")
        .and_then(|m| m.as_str())
        .unwrap_or("GET")
        .to_string();
    let uri = input.get("uri").and_then(|u| u.as_str()).unwrap_or("/");
    let mut headers = Vec::new();
    if let Some(map) = input.get("headers").and_then(|h| h.as_mapping()) {
        for (k, v) in map {
            let (Some(k), Some(v)) = (k.as_str(), yaml_scalar(v)) else {
                continue;
            };
            if http::HeaderName::from_bytes(k.as_bytes()).is_ok()
                && http::HeaderValue::from_bytes(v.as_bytes()).is_ok()
            {
                headers.push((k.to_ascii_lowercase(), v));
            }
        }
    }
    let body = input.get("data").and_then(yaml_scalar);
    if body.is_some() && !headers.iter().any(|(k, _)| k == "content-type") {
        headers.push((
            "content-type".to_string(),
            "application/x-www-form-urlencoded".to_string(),
        ));
    }
    Some(Case {
        id: String::new(),
        label,
        category: category.to_string(),
        method,
        target: sanitize_target(uri),
        headers,
        body: body.map(String::into_bytes),
    })
}

fn yaml_scalar(v: &serde_yaml::Value) -> Option<String> {
    match v {
        serde_yaml::Value::String(s) => Some(s.clone()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Percent-encodes the bytes an HTTP request target cannot carry literally
/// (spaces, quotes, braces, non-ASCII...), keeping everything else as sent.
pub fn sanitize_target(uri: &str) -> String {
    let mut out = String::with_capacity(uri.len());
    for b in uri.bytes() {
        let keep = b.is_ascii_graphic()
            && !matches!(
                b,
                b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}'
            );
        if keep {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if !out.starts_with('/') && !out.starts_with("http") {
        out.insert(0, '/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_become_cases() {
        let yaml = r#"
rule_id: 942100
tests:
  - test_id: 1
    stages:
      - input:
          method: POST
          uri: "/post?a=b c"
          headers:
            Host: localhost
          data: "var=1 OR 1=1"
        output:
          log:
            expect_ids: [942100]
  - test_id: 2
    stages:
      - input:
          uri: "/get"
        output:
          log:
            no_expect_ids: [942100]
      - input:
          encoded_request: "R0VUIC8gSFRUUC8xLjENCg=="
        output:
          log:
            expect_ids: [942100]
"#;
        let doc: serde_yaml::Value = serde_yaml::from_str(yaml).expect("yaml");
        let mut cases = Vec::new();
        let skipped = cases_from_test_file(&doc, "942100", "sql_injection", &mut cases);
        assert_eq!(skipped, 1);
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[0].label, Label::Attack);
        assert_eq!(cases[0].target, "/post?a=b%20c");
        assert!(cases[0]
            .headers
            .iter()
            .any(|(k, v)| k == "content-type" && v.contains("urlencoded")));
        assert_eq!(cases[1].label, Label::Benign);
        assert_eq!(cases[1].id, "crs-942100-2-0");
    }
}
