//! Evaluates the native detector on a corpus directory and prints the report
//! and the cases it got wrong: `cargo run --example eval_dir -- DIR`.

use palisade_core::{DecisionPolicy, Detector};
use palisade_detect::NativeDetector;
use palisade_eval::{evaluate, Corpus};
use std::sync::Arc;

fn main() {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "eval".to_string());
    let corpus = match Corpus::load(std::path::Path::new(&dir)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let detectors: Vec<Arc<dyn Detector>> = vec![Arc::new(NativeDetector::default())];
    let report = evaluate(&corpus, &detectors, &DecisionPolicy::default());
    for o in report.misses() {
        println!(
            "missed {} ({}) score={} rules={:?}",
            o.id, o.category, o.score, o.rules
        );
    }
    for o in report.false_positives() {
        println!(
            "false positive {} ({}) score={} rules={:?}",
            o.id, o.category, o.score, o.rules
        );
    }
    println!("{}", report.render());
}
