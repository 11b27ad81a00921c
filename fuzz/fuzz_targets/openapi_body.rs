#![no_main]
//! Arbitrary request and response bodies in every supported media type,
//! validated and (for responses) stripped, against a schema with
//! applicators and one the one-pass check takes.

use libfuzzer_sys::fuzz_target;
use palisade_core::{Detector, Phase, RequestHead, ResponseHead, Transaction};
use palisade_openapi::{ApiSpec, OpenApiDetector, OpenApiPolicy};
use std::sync::{Arc, OnceLock};

const SPEC: &str = r##"
openapi: 3.0.3
info: {title: fuzz, version: "1"}
paths:
  /things:
    post:
      x-palisade-response-mode: strip
      requestBody:
        content:
          application/json: {schema: {$ref: "#/components/schemas/Thing"}}
          application/x-www-form-urlencoded: {schema: {$ref: "#/components/schemas/Thing"}}
          multipart/form-data:
            schema: {$ref: "#/components/schemas/Thing"}
            encoding: {child: {contentType: application/json}}
          text/plain: {schema: {type: string, maxLength: 64}}
      responses:
        "200":
          description: ok
          content:
            application/json: {schema: {$ref: "#/components/schemas/Thing"}}
  /plain:
    post:
      requestBody:
        content:
          application/json: {schema: {$ref: "#/components/schemas/Plain"}}
      responses:
        "200":
          description: ok
          content:
            application/json: {schema: {$ref: "#/components/schemas/Plain"}}
components:
  schemas:
    # Plain keywords only: bodies are first checked in one pass.
    Plain:
      type: object
      required: [id]
      properties:
        id: {type: integer, minimum: 1}
        name: {type: string, maxLength: 8, pattern: "^[a-z]+$"}
        note: {type: string, nullable: true, readOnly: true}
        tags: {type: array, maxItems: 3, items: {type: string}}
        child: {$ref: "#/components/schemas/Plain"}
        extra: {type: object, additionalProperties: {type: number}}
    Thing:
      type: object
      required: [kind]
      properties:
        kind: {type: string, enum: [a, b]}
        n: {type: integer, minimum: 0, multipleOf: 3}
        tags: {type: array, uniqueItems: true, items: {type: string, pattern: "^[a-z]{1,8}$"}}
        secret: {type: string, writeOnly: true}
        child: {$ref: "#/components/schemas/Thing"}
        any: {anyOf: [{type: string, format: email}, {type: number, nullable: true}]}
      oneOf:
        - {properties: {kind: {const: a}}}
        - {properties: {kind: {const: b}}, required: [n]}
"##;

const MEDIA: [&str; 4] = [
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=zz",
    "text/plain",
];

fn detector() -> &'static OpenApiDetector {
    static DETECTOR: OnceLock<OpenApiDetector> = OnceLock::new();
    DETECTOR.get_or_init(|| {
        let spec = ApiSpec::from_str(SPEC, std::path::Path::new(".")).expect("fuzz spec loads");
        OpenApiDetector::new(Arc::new(spec), OpenApiPolicy::default())
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((selector, body)) = data.split_first() else {
        return;
    };
    let media = MEDIA[usize::from(*selector) % MEDIA.len()];
    let path = if selector & 0x80 == 0 { "/things" } else { "/plain" };
    let mut head = RequestHead::synthetic(http::Method::POST, path);
    head.headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(media),
    );
    let mut tx = Transaction::new(head);
    let d = detector();
    d.inspect(Phase::RequestHead, &mut tx);
    tx.request_body = Some(bytes::Bytes::copy_from_slice(body));
    d.inspect(Phase::RequestBody, &mut tx);
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    tx.response = Some(ResponseHead {
        status: http::StatusCode::OK,
        version: http::Version::HTTP_11,
        headers,
    });
    tx.response_body = Some(bytes::Bytes::copy_from_slice(body));
    d.inspect(Phase::ResponseHead, &mut tx);
    d.inspect(Phase::ResponseBody, &mut tx);
});
