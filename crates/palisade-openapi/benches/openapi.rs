//! Request validation cost, route matching and spec loading.
//!
//! `cargo bench -p palisade-openapi --bench openapi`

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use http::{HeaderValue, Method};
use palisade_core::{Detector, Phase, RequestHead, Transaction};
use palisade_openapi::{ApiSpec, OpenApiDetector, OpenApiPolicy};
use std::fmt::Write;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const ORDER_SPEC: &str = r##"
openapi: 3.0.3
info: {title: orders, version: "1"}
paths:
  /orders/{orderId}:
    put:
      parameters:
        - {name: orderId, in: path, required: true, schema: {type: string, format: uuid}}
        - {name: dryRun, in: query, schema: {type: boolean}}
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Order"}
      responses: {"200": {description: ok}}
components:
  schemas:
    Order:
      type: object
      required: [customer, items, currency]
      properties:
        id: {type: string, readOnly: true}
        customer:
          type: object
          required: [email]
          properties:
            email: {type: string, format: email}
            name: {type: string, maxLength: 100}
            phone: {type: string, pattern: "^\\+?[0-9 ]{6,20}$"}
        currency: {type: string, enum: [EUR, USD, GBP]}
        note: {type: string, nullable: true, maxLength: 500}
        items:
          type: array
          maxItems: 100
          items:
            type: object
            required: [sku, quantity, price]
            properties:
              sku: {type: string, pattern: "^[A-Z]{3}-[0-9]{4}$"}
              quantity: {type: integer, minimum: 1, maximum: 1000}
              price: {type: number, minimum: 0, exclusiveMinimum: true}
              gift: {type: boolean}
        payment:
          oneOf:
            - {$ref: "#/components/schemas/Card"}
            - {$ref: "#/components/schemas/Transfer"}
          discriminator: {propertyName: method}
    Card:
      type: object
      required: [method, last4]
      properties:
        method: {type: string}
        last4: {type: string, pattern: "^[0-9]{4}$"}
    Transfer:
      type: object
      required: [method, iban]
      properties:
        method: {type: string}
        iban: {type: string, minLength: 15, maxLength: 34}
"##;

fn order_body() -> Vec<u8> {
    let mut items = String::new();
    for i in 0..14 {
        if i > 0 {
            items.push(',');
        }
        let _ = write!(
            items,
            r#"{{"sku":"ABC-{:04}","quantity":{},"price":{}.5,"gift":false}}"#,
            1000 + i,
            i + 1,
            10 + i
        );
    }
    format!(
        r#"{{"customer":{{"email":"ann@example.com","name":"Ann Example","phone":"+33 1 23 45 67 89"}},"currency":"EUR","note":null,"items":[{items}],"payment":{{"method":"Card","last4":"4242"}}}}"#
    )
    .into_bytes()
}

fn bench_validation(c: &mut Criterion) {
    let spec = ApiSpec::from_str(ORDER_SPEC, Path::new(".")).expect("bench spec loads");
    let detector = OpenApiDetector::new(Arc::new(spec), OpenApiPolicy::default());
    let body = bytes::Bytes::from(order_body());
    assert!(
        (900..1200).contains(&body.len()),
        "body is {} bytes",
        body.len()
    );
    let uri = "/orders/123e4567-e89b-12d3-a456-426614174000?dryRun=false";
    let make = || {
        let mut head = RequestHead::synthetic(Method::PUT, uri);
        head.headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        Transaction::new(head)
    };
    let mut check = make();
    detector.inspect(Phase::RequestHead, &mut check);
    check.request_body = Some(body.clone());
    detector.inspect(Phase::RequestBody, &mut check);
    assert!(check.findings.is_empty(), "{:?}", check.findings);
    // Reference points: parsing the same body into a `serde_json::Value`,
    // and into the borrowed tree the validator reads.
    c.bench_function("json_parse_only_1kib", |b| {
        b.iter(|| {
            black_box(
                serde_json::from_slice::<serde_json::Value>(black_box(&body))
                    .map(|v| v.is_object()),
            )
        })
    });
    // What request bodies are parsed into for validation.
    c.bench_function("json_tree_parse_only_1kib", |b| {
        b.iter(|| {
            black_box(
                palisade_openapi::json_tree::JsonTree::parse_bytes(black_box(&body), 64)
                    .map(|t| t.root().len()),
            )
        })
    });
    let head_only = || {
        let mut tx = make();
        detector.inspect(Phase::RequestHead, &mut tx);
        tx
    };
    c.bench_function("request_head_only", |b| {
        b.iter_batched(
            make,
            |mut tx| {
                detector.inspect(Phase::RequestHead, &mut tx);
                black_box(tx.findings.len())
            },
            BatchSize::SmallInput,
        )
    });
    c.bench_function("request_body_only_1kib_json", |b| {
        b.iter_batched(
            head_only,
            |mut tx| {
                tx.request_body = Some(body.clone());
                detector.inspect(Phase::RequestBody, &mut tx);
                black_box(tx.findings.len())
            },
            BatchSize::SmallInput,
        )
    });
    c.bench_function("request_validation_1kib_json", |b| {
        b.iter_batched(
            make,
            |mut tx| {
                detector.inspect(Phase::RequestHead, &mut tx);
                tx.request_body = Some(body.clone());
                detector.inspect(Phase::RequestBody, &mut tx);
                black_box(tx.findings.len())
            },
            BatchSize::SmallInput,
        )
    });
}

/// The side-by-side benchmark's spec and bodies (bench/), so the gateway
/// figures can be read against the validator's own cost.
fn bench_gateway_bodies(c: &mut Criterion) {
    let bench_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../bench");
    let spec = ApiSpec::load(&bench_dir.join("openapi.yaml")).expect("bench/openapi.yaml loads");
    let detector = OpenApiDetector::new(Arc::new(spec), OpenApiPolicy::default());
    for (name, path, file) in [
        ("bench_order_1kib", "/api/orders", "order-1k.json"),
        (
            "bench_catalog_16kib",
            "/api/products/import",
            "catalog-16k.json",
        ),
    ] {
        let body = bytes::Bytes::from(
            std::fs::read(bench_dir.join("wrk").join(file)).expect("bench body present"),
        );
        let make = || {
            let mut head = RequestHead::synthetic(Method::POST, path);
            head.headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            let mut tx = Transaction::new(head);
            detector.inspect(Phase::RequestHead, &mut tx);
            tx
        };
        let mut check = make();
        check.request_body = Some(body.clone());
        detector.inspect(Phase::RequestBody, &mut check);
        assert!(check.findings.is_empty(), "{name}: {:?}", check.findings);
        c.bench_function(name, |b| {
            b.iter_batched(
                make,
                |mut tx| {
                    tx.request_body = Some(body.clone());
                    detector.inspect(Phase::RequestBody, &mut tx);
                    black_box(tx.findings.len())
                },
                BatchSize::SmallInput,
            )
        });
    }
}

/// 1,000 paths × 2 methods, with literal and templated segments mixed.
fn generated_spec(operations: usize) -> String {
    let mut out = String::from("openapi: 3.0.3\ninfo: {title: big, version: '1'}\nservers: [{url: 'https://api.example/v2'}]\npaths:\n");
    for i in 0..operations / 2 {
        let group = i % 40;
        let path = match i % 4 {
            0 => format!("/group{group}/resource{i}"),
            1 => format!("/group{group}/resource{i}/{{id}}"),
            2 => format!("/group{group}/{{parent}}/child{i}"),
            _ => format!("/group{group}/resource{i}/{{id}}/sub/{{subId}}"),
        };
        let params: Vec<String> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|n| {
                format!(
                    "        - {{name: {n}, in: path, required: true, schema: {{type: string}}}}\n"
                )
            })
            .collect();
        let _ = write!(
            out,
            "  {path}:\n    parameters:\n{}    get:\n      operationId: get{i}\n      responses: {{'200': {{description: ok, content: {{application/json: {{schema: {{$ref: '#/components/schemas/Item'}}}}}}}}}}\n    post:\n      operationId: post{i}\n      requestBody: {{content: {{application/json: {{schema: {{$ref: '#/components/schemas/Item'}}}}}}}}\n      responses: {{'201': {{description: created}}}}\n",
            if params.is_empty() { "        []\n".to_owned() } else { params.concat() }
        );
    }
    out.push_str("components:\n  schemas:\n    Item:\n      type: object\n      properties:\n        id: {type: string}\n        name: {type: string}\n");
    out.replace("    parameters:\n        []\n", "")
}

fn bench_routing_and_loading(c: &mut Criterion) {
    let text = generated_spec(2000);
    let spec = ApiSpec::from_str(&text, Path::new(".")).expect("generated spec loads");
    assert_eq!(spec.operation_count(), 2000);
    let paths = [
        "/v2/group7/resource7/abc/sub/def",
        "/v2/group36/resource996",
        "/v2/group38/xyz/child998",
        "/v2/group37/resource997/abc",
    ];
    for p in paths {
        assert!(spec.match_operation(&Method::GET, p).is_some(), "{p}");
    }
    c.bench_function("route_match_2000_operations", |b| {
        let mut i = 0usize;
        b.iter(|| {
            i = (i + 1) % paths.len();
            black_box(
                spec.match_operation(&Method::GET, black_box(paths[i]))
                    .map(|m| m.template.len()),
            )
        })
    });
    let mut group = c.benchmark_group("spec_load");
    group.sample_size(10);
    group.bench_function("generated_2000_operations", |b| {
        b.iter(|| black_box(ApiSpec::from_str(&text, Path::new(".")).map(|s| s.operation_count())))
    });
    let stripe = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/openapi-specs/stripe/spec3.yaml");
    if stripe.is_file() {
        group.bench_function("stripe_spec3_yaml_452_operations", |b| {
            b.iter(|| black_box(ApiSpec::load(&stripe).map(|s| s.operation_count())))
        });
    } else {
        eprintln!(
            "notice: {} absent; stripe load bench skipped",
            stripe.display()
        );
    }
    let okta = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/openapi-specs/okta/management-oneOfInheritance.yaml");
    if okta.is_file() {
        group.bench_function("okta_yaml_732_operations", |b| {
            b.iter(|| black_box(ApiSpec::load(&okta).map(|s| s.operation_count())))
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    bench_validation,
    bench_gateway_bodies,
    bench_routing_and_loading
);
criterion_main!(benches);
