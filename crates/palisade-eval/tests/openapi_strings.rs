//! Generalisation guard: descriptions and examples from real public API
//! descriptions (read from `../shared/openapi-specs` (beside the repository) when present, never
//! copied into the repository) are benign traffic the detectors never saw.
//! Sent as a JSON string and as a query parameter, they must pass.

use palisade_core::{DecisionPolicy, Detector};
use palisade_detect::NativeDetector;
use palisade_eval::{evaluate_cases, Case, Label};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn collect(value: &serde_json::Value, out: &mut BTreeSet<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                if matches!(k.as_str(), "description" | "summary" | "example") {
                    if let serde_json::Value::String(s) = v {
                        if s.len() <= 4096 {
                            out.insert(s.clone());
                        }
                    }
                }
                collect(v, out);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
        _ => {}
    }
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json")
            && entry.metadata().is_ok_and(|m| m.len() <= 4_000_000)
        {
            out.push(path);
        }
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn api_description_strings_pass() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/openapi-specs");
    if !dir.is_dir() {
        println!("skipping: {} is absent", dir.display());
        return;
    }
    let mut files = Vec::new();
    json_files(&dir, &mut files);
    files.sort();
    let mut strings = BTreeSet::new();
    for file in files.iter().take(120) {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        if let Ok(doc) = serde_json::from_str::<serde_json::Value>(&text) {
            collect(&doc, &mut strings);
        }
    }
    let mut cases = Vec::new();
    for (n, s) in strings.iter().take(4000).enumerate() {
        let body = serde_json::json!({ "value": s }).to_string();
        let line = if n % 2 == 0 {
            serde_json::json!({"id": format!("spec-{n}"), "label": "benign", "category": "api_descriptions",
                "method": "POST", "target": "/v1/items", "headers": [["content-type", "application/json"]], "body": body})
        } else {
            serde_json::json!({"id": format!("spec-{n}"), "label": "benign", "category": "api_descriptions",
                "method": "GET", "target": format!("/v1/items?value={}", encode(s))})
        };
        cases.push(Case::from_json(&line.to_string()).expect("case"));
    }
    assert!(cases.iter().all(|c| c.label == Label::Benign));
    println!(
        "{} strings from {} files",
        cases.len(),
        files.len().min(120)
    );
    let detectors: Vec<Arc<dyn Detector>> = vec![Arc::new(NativeDetector::default())];
    let report = evaluate_cases(&cases, &detectors, &DecisionPolicy::default());
    for o in report.false_positives().take(20) {
        let case = cases.iter().find(|c| c.id == o.id).expect("case");
        println!(
            "false positive {} {:?}: {:.200}",
            o.id, o.rules, case.target
        );
    }
    println!("{}", report.render());
    let tnr = report.overall.tnr().expect("benign cases");
    assert!(
        tnr >= 0.995,
        "TNR {:.2}% on API description strings",
        tnr * 100.0
    );
}
