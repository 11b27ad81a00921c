//! `cargo run -p palisade-waf --example rules_test -- CRS_DIR TESTS_DIR [PARANOIA] [SETUP_FILE]`
//!
//! Replays a go-ftw regression suite in-process and prints per-file results;
//! the last line is `passed X of Y (Z.Z%)`.

use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(crs), Some(tests)) = (args.first(), args.get(1)) else {
        eprintln!("usage: rules_test CRS_DIR TESTS_DIR [PARANOIA] [SETUP_FILE]");
        std::process::exit(2);
    };
    let paranoia = args.get(2).and_then(|p| p.parse().ok()).unwrap_or(4);
    let setup = args.get(3).map(PathBuf::from);
    match palisade_waf::conformance::run_suite(
        crs.as_ref(),
        tests.as_ref(),
        paranoia,
        setup.as_deref(),
    ) {
        Ok(report) => println!("{}", report.render()),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
