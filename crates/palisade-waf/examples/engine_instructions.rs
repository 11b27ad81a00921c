//! Runs the engine bench's requests through a CRS directory a given number
//! of times, for counting instructions with cachegrind, which unlike time
//! does not vary with the machine's load (`bench/engine_instructions.sh`).
//!
//! Usage: `engine_instructions CRS_DIR get|1k|16k TRANSACTIONS`

use palisade_waf::{Waf, WafConfig};
use std::hint::black_box;
use std::path::PathBuf;
use std::process::ExitCode;

#[path = "../benches/support/requests.rs"]
mod requests;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [crs, mix, count] = args.as_slice() else {
        eprintln!("usage: engine_instructions CRS_DIR get|1k|16k TRANSACTIONS");
        return ExitCode::from(2);
    };
    let Ok(count) = count.parse::<usize>() else {
        eprintln!("TRANSACTIONS must be a number, not {count:?}");
        return ExitCode::from(2);
    };
    let (request, body) = match mix.as_str() {
        "get" => (requests::get_5_params(), Vec::new()),
        "1k" => (requests::json_post(), requests::json_body(1024)),
        "16k" => (requests::json_post(), requests::json_body(16 * 1024)),
        other => {
            eprintln!("unknown mix {other:?}: get, 1k or 16k");
            return ExitCode::from(2);
        }
    };
    let waf = match Waf::load(&WafConfig::crs(PathBuf::from(crs), 1)) {
        Ok(waf) => waf,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    for _ in 0..count {
        let mut tx = waf.transaction();
        tx.process_request_headers(black_box(&request));
        tx.process_request_body(black_box(&body));
        black_box(tx.matched_rules().len());
    }
    ExitCode::SUCCESS
}
