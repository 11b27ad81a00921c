//! Replays the CRS regression tests through the native detector:
//! `cargo run --example crs_cases -- /path/to/crs [--show]`.

use palisade_core::{DecisionPolicy, Detector};
use palisade_detect::NativeDetector;
use palisade_eval::{crs, evaluate_cases};
use std::sync::Arc;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .unwrap_or_else(|| "../shared/crs-v4.28.0".to_string());
    let show = args.next().is_some();
    let (cases, skipped) = match crs::load_regression_cases(std::path::Path::new(&dir)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let detectors: Vec<Arc<dyn Detector>> = vec![Arc::new(NativeDetector::default())];
    let report = evaluate_cases(&cases, &detectors, &DecisionPolicy::default());
    if show {
        for o in report.misses() {
            println!(
                "missed {} ({}) score={} rules={:?}",
                o.id, o.category, o.score, o.rules
            );
        }
        for o in report.false_positives() {
            println!(
                "false positive {} ({}) rules={:?}",
                o.id, o.category, o.rules
            );
        }
    }
    println!("{skipped} encoded stage(s) skipped");
    println!("{}", report.render());
}
