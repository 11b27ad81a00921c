//! Prints what the native detector reports for a value placed in a query
//! parameter and in a JSON body: `cargo run --example probe -- 'VALUE'`.

use palisade_core::{Detector, Phase, RequestHead, Transaction};
use palisade_detect::NativeDetector;

fn main() {
    let detector = NativeDetector::default();
    for value in std::env::args().skip(1) {
        let encoded: String = value
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let mut tx = Transaction::new(RequestHead::synthetic(
            http::Method::POST,
            &format!("/probe?q={encoded}"),
        ));
        tx.request.headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        let body = format!("{{\"text\":{}}}", json_string(&value));
        tx.request_body = Some(bytes::Bytes::from(body));
        detector.inspect(Phase::RequestHead, &mut tx);
        detector.inspect(Phase::RequestBody, &mut tx);
        println!("{value:?}");
        for f in &tx.findings {
            println!(
                "  {} {} score={} {} [{}]",
                f.rule_id,
                f.location,
                f.score,
                f.message,
                f.evidence.as_str()
            );
        }
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
