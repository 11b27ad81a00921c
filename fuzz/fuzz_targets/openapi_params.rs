#![no_main]
//! Arbitrary paths, query strings, headers and cookies against a description
//! that uses every parameter style.

use libfuzzer_sys::fuzz_target;
use palisade_core::{Detector, Phase, RequestHead, Transaction};
use palisade_openapi::{ApiSpec, OpenApiDetector, OpenApiPolicy};
use std::sync::{Arc, OnceLock};

const SPEC: &str = r#"
openapi: 3.1.0
info: {title: fuzz, version: "1"}
paths:
  /items/{id}/{label}/{matrix}/{file}.json:
    get:
      parameters:
        - {name: id, in: path, required: true, schema: {type: integer, format: int32}}
        - {name: label, in: path, required: true, style: label, explode: true, schema: {type: array, items: {type: string}}}
        - {name: matrix, in: path, required: true, style: matrix, schema: {type: object, properties: {a: {type: integer}}}}
        - {name: file, in: path, required: true, schema: {type: string, pattern: "^(?!x)[a-z]+$"}}
        - {name: ids, in: query, schema: {type: array, items: {type: string, format: uuid}}}
        - {name: csv, in: query, explode: false, schema: {type: array, items: {type: number}}}
        - {name: pipes, in: query, style: pipeDelimited, schema: {type: array, items: {type: boolean}}}
        - {name: spaces, in: query, style: spaceDelimited, schema: {type: array, items: {type: string}}}
        - {name: filter, in: query, style: deepObject, schema: {type: object, properties: {a: {type: object, properties: {b: {type: array, items: {type: integer}}}}}}}
        - {name: json, in: query, content: {application/json: {schema: {type: object}}}}
        - {name: X-Num, in: header, schema: {type: array, items: {type: integer}}}
        - {name: session, in: cookie, schema: {type: string, format: date-time}}
      responses: {"200": {description: ok}}
"#;

fn detector() -> &'static OpenApiDetector {
    static DETECTOR: OnceLock<OpenApiDetector> = OnceLock::new();
    DETECTOR.get_or_init(|| {
        let spec = ApiSpec::from_str(SPEC, std::path::Path::new(".")).expect("fuzz spec loads");
        OpenApiDetector::new(Arc::new(spec), OpenApiPolicy::default())
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut pieces = text.splitn(4, '\n');
    let path = pieces.next().unwrap_or("");
    let query = pieces.next().unwrap_or("");
    let header = pieces.next().unwrap_or("");
    let cookie = pieces.next().unwrap_or("");
    let uri = format!("/items/{path}?{query}");
    let mut head = RequestHead::synthetic(http::Method::GET, &uri);
    if let Ok(v) = http::HeaderValue::from_str(header) {
        head.headers.insert("x-num", v);
    }
    if let Ok(v) = http::HeaderValue::from_str(cookie) {
        head.headers.insert(http::header::COOKIE, v);
    }
    let mut tx = Transaction::new(head);
    detector().inspect(Phase::RequestHead, &mut tx);
});
