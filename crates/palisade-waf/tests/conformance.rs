//! CRS regression suites replayed in-process, checked against the
//! checked-in known-failures lists. Skips with a notice when the suites or
//! rules are not present.

use palisade_waf::conformance::{check_known_failures, parse_known_failures, run_suite};
use std::path::{Path, PathBuf};

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn shared(rel: &str) -> PathBuf {
    crate_dir().join("../../../shared").join(rel)
}

fn run(crs: &Path, tests: &Path, setup: Option<&Path>, known_failures: &str, minimum_rate: f64) {
    if !crs.is_dir() || !tests.is_dir() || setup.is_some_and(|s| !s.is_file()) {
        eprintln!(
            "skipping: {} or {} not present",
            crs.display(),
            tests.display()
        );
        return;
    }
    let report = run_suite(crs, tests, 4, setup).unwrap_or_else(|e| panic!("{e}"));
    let rendered = report.render();
    let last_line = rendered.lines().last().unwrap_or_default().to_string();
    eprintln!("{last_line}");
    assert!(last_line.starts_with("passed "), "{last_line}");
    assert!(report.file_errors.is_empty(), "{:?}", report.file_errors);
    assert!(
        report.pass_rate() >= minimum_rate,
        "pass rate {:.1}% below {minimum_rate}%\n{rendered}",
        report.pass_rate()
    );
    let list = std::fs::read_to_string(crate_dir().join("conformance").join(known_failures))
        .unwrap_or_else(|e| panic!("{known_failures}: {e}"));
    let known = parse_known_failures(&list);
    assert!(
        known.iter().all(|(_, reason)| !reason.is_empty()),
        "every known failure needs a reason"
    );
    let check = check_known_failures(&report, &known);
    assert!(
        check.is_clean(),
        "regressions: {:?}\nunexpected passes (remove them from {known_failures}): {:?}\nlisted but not run: {:?}\n{rendered}",
        check.regressions,
        check.unexpected_passes,
        check.unknown
    );
}

#[test]
fn crs_v4_regression_suite() {
    let crs = shared("crs-v4.28.0");
    run(
        &crs,
        &crs.join("tests/regression/tests"),
        None,
        "known-failures-crs-v4.txt",
        97.0,
    );
}

#[test]
fn crs_v3_regression_suite_against_debian_rules() {
    run(
        Path::new("/usr/share/modsecurity-crs"),
        &shared("crs-v3.3.4/tests/regression/tests"),
        Some(Path::new("/etc/modsecurity/crs/crs-setup.conf")),
        "known-failures-crs-v3.txt",
        95.0,
    );
}
