//! Validates one of the side-by-side benchmark's request bodies N times, for
//! counting instructions with cachegrind (`bench/openapi_instructions.sh`):
//!
//!     body_instructions SPEC BODY PATH N
//!
//! The body is sent as `POST PATH` with `Content-Type: application/json`;
//! every run must be accepted (a refusal would measure the error path).

use bytes::Bytes;
use http::{HeaderValue, Method};
use palisade_core::{Detector, Phase, RequestHead, Transaction};
use palisade_openapi::{ApiSpec, OpenApiDetector, OpenApiPolicy};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, spec, body, path, count] = args.as_slice() else {
        eprintln!("usage: body_instructions SPEC BODY PATH N");
        return ExitCode::from(2);
    };
    let spec = match ApiSpec::load(Path::new(spec)) {
        Ok(spec) => spec,
        Err(e) => {
            eprintln!("{spec}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let body = match std::fs::read(body) {
        Ok(bytes) => Bytes::from(bytes),
        Err(e) => {
            eprintln!("{body}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Ok(count) = count.parse::<usize>() else {
        eprintln!("N must be a number");
        return ExitCode::from(2);
    };
    let detector = OpenApiDetector::new(Arc::new(spec), OpenApiPolicy::default());
    for _ in 0..count {
        let mut head = RequestHead::synthetic(Method::POST, path);
        head.headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let mut tx = Transaction::new(head);
        detector.inspect(Phase::RequestHead, &mut tx);
        tx.request_body = Some(body.clone());
        detector.inspect(Phase::RequestBody, &mut tx);
        if !tx.findings.is_empty() {
            eprintln!("refused: {:?}", tx.findings);
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
