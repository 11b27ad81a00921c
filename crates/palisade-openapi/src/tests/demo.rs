//! The demo shop API's own description (crates/palisade-demo/openapi.yaml).

use super::real_specs::{check_spec, run_request};
use crate::{ApiSpec, OpenApiDetector, OpenApiPolicy, ResponseMode};
use http::{HeaderValue, Method, StatusCode};
use palisade_core::{Category, Detector, Phase, RequestHead, ResponseHead, Transaction};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;

fn demo_spec() -> Option<Arc<ApiSpec>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../palisade-demo/openapi.yaml");
    if !path.is_file() {
        eprintln!("notice: {} absent; demo tests skipped", path.display());
        return None;
    }
    Some(Arc::new(
        ApiSpec::load(&path).expect("demo description loads"),
    ))
}

fn post_json(
    d: &OpenApiDetector,
    uri: &str,
    body: Value,
) -> Vec<(String, Category, Option<StatusCode>)> {
    let (findings, _) = run_request(
        d,
        Method::POST,
        uri,
        &[],
        Some(("application/json", serde_json::to_vec(&body).unwrap())),
    );
    findings
        .into_iter()
        .map(|f| {
            (
                f.location.0.clone(),
                f.category,
                f.enforcement.map(|e| e.status),
            )
        })
        .collect()
}

#[test]
fn demo_generated_requests_and_responses() {
    let Some(spec) = demo_spec() else { return };
    check_spec("palisade-demo/openapi.yaml", &spec);
}

#[test]
fn demo_feature_cases() {
    let Some(spec) = demo_spec() else { return };
    let d = OpenApiDetector::new(spec.clone(), OpenApiPolicy::default());
    assert!(post_json(&d, "/api/orders", json!({"product_id": 1, "quantity": 2})).is_empty());
    let f = post_json(
        &d,
        "/api/orders",
        json!({"product_id": 1, "total_cents": 0}),
    );
    assert!(
        f.iter().any(|(l, c, s)| l == "json.$.total_cents"
            && *c == Category::MassAssignment
            && *s == Some(StatusCode::BAD_REQUEST)),
        "{f:?}"
    );
    let f = post_json(
        &d,
        "/api/orders",
        json!({"product_id": 1, "quantity": 1000}),
    );
    assert!(
        f.iter()
            .any(|(l, c, _)| l == "json.$.quantity" && *c == Category::SchemaViolation),
        "{f:?}"
    );
    let f = post_json(&d, "/api/orders", json!({"product_id": "1 OR 1=1"}));
    assert!(f.iter().any(|(l, ..)| l == "json.$.product_id"), "{f:?}");
    let (f, _) = run_request(&d, Method::GET, "/api/users/abc", &[], None);
    assert!(
        f.iter()
            .any(|f| f.location.0 == "path.id" && f.enforcement.is_some()),
        "{f:?}"
    );
    let (f, _) = run_request(&d, Method::PUT, "/api/orders", &[], None);
    assert!(f.iter().any(|f| f
        .enforcement
        .as_ref()
        .is_some_and(|e| e.status == StatusCode::METHOD_NOT_ALLOWED)));
    let (f, _) = run_request(&d, Method::GET, "/api/internal/config", &[], None);
    assert!(f.iter().any(|f| f.category == Category::ShadowEndpoint));
    let mut tx = Transaction::new(RequestHead::synthetic(Method::GET, "/api/v1/products"));
    d.inspect(Phase::RequestHead, &mut tx);
    assert!(tx
        .findings
        .iter()
        .any(|f| f.category == Category::ZombieEndpoint && f.message.contains("listProductsV1")));
}

fn user_response(d: &OpenApiDetector, body: Value) -> Transaction {
    let mut tx = Transaction::new(RequestHead::synthetic(Method::GET, "/api/users/7"));
    d.inspect(Phase::RequestHead, &mut tx);
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    tx.response = Some(ResponseHead {
        status: StatusCode::OK,
        version: http::Version::HTTP_11,
        headers,
    });
    tx.response_body = Some(bytes::Bytes::from(serde_json::to_vec(&body).unwrap()));
    d.inspect(Phase::ResponseHead, &mut tx);
    d.inspect(Phase::ResponseBody, &mut tx);
    tx
}

#[test]
fn demo_excessive_data_exposure() {
    let Some(spec) = demo_spec() else { return };
    let leaked = json!({"id": 7, "username": "bob", "email": "bob@example.com", "role": "user",
        "created_at_ms": 1, "password_hash": "abc", "api_key": "k"});
    let documented = json!({"id": 7, "username": "bob", "email": "bob@example.com", "role": "user", "created_at_ms": 1});
    let strip = OpenApiDetector::new(
        spec.clone(),
        OpenApiPolicy {
            response_mode: ResponseMode::Strip,
            ..OpenApiPolicy::default()
        },
    );
    let tx = user_response(&strip, leaked.clone());
    let (body, _) = tx.response_edit.replace_body.clone().expect("stripped");
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), documented);
    let block = OpenApiDetector::new(
        spec,
        OpenApiPolicy {
            response_mode: ResponseMode::Block,
            ..OpenApiPolicy::default()
        },
    );
    let tx = user_response(&block, leaked);
    assert!(tx
        .findings
        .iter()
        .any(|f| f.category == Category::ExcessiveDataExposure
            && f.location.0 == "json.$.password_hash"
            && f.enforcement
                .as_ref()
                .is_some_and(|e| e.status == StatusCode::BAD_GATEWAY)));
    assert!(user_response(&block, documented).findings.is_empty());
}
