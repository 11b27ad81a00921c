//! The native detector alone, under the default policy, must meet the
//! efficacy bar on the repository corpus.

use palisade_core::{DecisionPolicy, Detector};
use palisade_detect::NativeDetector;
use palisade_eval::{evaluate, Corpus};
use std::path::PathBuf;
use std::sync::Arc;

#[test]
fn native_detector_meets_the_bar_on_the_corpus() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../eval");
    let corpus = Corpus::load(&dir).expect("corpus loads");
    let detectors: Vec<Arc<dyn Detector>> = vec![Arc::new(NativeDetector::default())];
    let report = evaluate(&corpus, &detectors, &DecisionPolicy::default());
    println!("{}", report.render());
    let show = std::env::var("PALISADE_EVAL_SHOW").is_ok();
    let mut problems = Vec::new();
    for o in report.misses().take(if show { 400 } else { 20 }) {
        problems.push(format!(
            "missed {} score={} rules={:?}",
            o.id, o.score, o.rules
        ));
    }
    for o in report.false_positives().take(if show { 400 } else { 20 }) {
        problems.push(format!(
            "false positive {} ({}) score={} rules={:?}",
            o.id, o.category, o.score, o.rules
        ));
    }
    for p in &problems {
        println!("{p}");
    }
    assert!(
        report.outcomes.iter().all(|o| o.error.is_none()),
        "cases failed to replay"
    );
    let tnr = report.overall.tnr().expect("benign cases");
    assert!(
        report.balanced_accuracy() >= 0.995,
        "balanced accuracy below 99.5%"
    );
    assert!(tnr >= 0.995, "true-negative rate below 99.5%");
    for (category, counts) in &report.per_category {
        if let Some(tpr) = counts.tpr() {
            assert!(tpr >= 0.98, "{category}: TPR {:.2}% below 98%", tpr * 100.0);
        }
    }
}
