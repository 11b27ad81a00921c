//! Feature suites on a small description written for them.

use super::real_specs::run_request;
use crate::{ApiSpec, OpenApiDetector, OpenApiPolicy};
use http::{HeaderValue, Method, StatusCode};
use palisade_core::{Category, Detector, Phase, RequestHead, ResponseHead, Transaction};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;

const SHOP: &str = r##"
openapi: 3.0.3
info: {title: shop, version: "1"}
servers: [{url: "https://shop.example/api/v1"}]
paths:
  /users:
    post:
      operationId: createUser
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: "#/components/schemas/User"}
          application/x-www-form-urlencoded:
            schema: {$ref: "#/components/schemas/User"}
      responses:
        "201":
          description: created
          content:
            application/json:
              schema: {$ref: "#/components/schemas/User"}
  /users/me:
    get:
      operationId: me
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {$ref: "#/components/schemas/User"}
  /users/{id}:
    parameters:
      - {name: id, in: path, required: true, schema: {type: integer, format: int32, minimum: 1}}
    get:
      operationId: getUser
      x-palisade-response-mode: strip
      parameters:
        - {name: fields, in: query, schema: {type: array, items: {type: string, enum: [name, email]}}, explode: false}
        - {name: X-Trace, in: header, schema: {type: string, format: uuid}}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {$ref: "#/components/schemas/User"}
    delete:
      operationId: deleteUser
      deprecated: true
      responses: {"204": {description: gone}}
  /pets:
    post:
      operationId: createPet
      x-palisade-response-mode: block
      requestBody:
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Pet"}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Pet"}
  /uploads:
    post:
      operationId: upload
      requestBody:
        content:
          multipart/form-data:
            schema:
              type: object
              required: [title, file]
              properties:
                title: {type: string, maxLength: 10}
                count: {type: integer}
                meta: {type: object, properties: {tag: {type: string}}}
                file: {type: string, format: binary}
            encoding:
              meta: {contentType: application/json}
      responses: {"200": {description: ok}}
  /search:
    get:
      operationId: search
      parameters:
        - {name: filter, in: query, style: deepObject, explode: true, schema: {type: object, properties: {age: {type: integer}, name: {type: string}}}}
        - {name: q, in: query, required: true, schema: {type: string, pattern: "^(?!admin)[a-z]+$"}}
      responses: {"200": {description: ok}}
components:
  schemas:
    User:
      type: object
      required: [name]
      properties:
        id: {type: integer, readOnly: true}
        name: {type: string, minLength: 1, maxLength: 20}
        email: {type: string, format: email, nullable: true}
        password: {type: string, writeOnly: true}
        role: {type: string, enum: [user, admin]}
        tags: {type: array, items: {type: string}, maxItems: 3}
        address:
          type: object
          properties:
            city: {type: string}
            zip: {type: string, pattern: "^[0-9]{5}$"}
    Pet:
      oneOf:
        - $ref: "#/components/schemas/Cat"
        - $ref: "#/components/schemas/Dog"
      discriminator:
        propertyName: kind
        mapping:
          cat: "#/components/schemas/Cat"
    Cat:
      type: object
      required: [kind, lives]
      properties:
        kind: {type: string}
        lives: {type: integer, maximum: 9}
    Dog:
      type: object
      required: [kind]
      properties:
        kind: {type: string}
        bark: {type: boolean}
"##;

fn detector(policy: OpenApiPolicy) -> OpenApiDetector {
    static SPEC: std::sync::OnceLock<Arc<ApiSpec>> = std::sync::OnceLock::new();
    let spec = SPEC.get_or_init(|| {
        Arc::new(ApiSpec::from_str(SHOP, Path::new(".")).expect("shop spec loads"))
    });
    OpenApiDetector::new(spec.clone(), policy)
}

fn json_request(
    d: &OpenApiDetector,
    method: Method,
    uri: &str,
    body: Value,
) -> Vec<(String, Category, Option<StatusCode>, String)> {
    let (findings, _) = run_request(
        d,
        method,
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
                f.enforcement.as_ref().map(|e| e.status),
                f.enforcement.map(|e| e.title).unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn valid_request_passes_and_names_the_operation() {
    let d = detector(OpenApiPolicy::default());
    let (findings, operation) = run_request(
        &d,
        Method::POST,
        "/api/v1/users",
        &[],
        Some((
            "application/json",
            br#"{"name":"ann","email":null,"address":{"zip":"12345"}}"#.to_vec(),
        )),
    );
    assert!(findings.is_empty(), "{findings:?}");
    assert_eq!(operation.as_deref(), Some("createUser"));
    let m = d
        .spec()
        .match_operation(&Method::GET, "/api/v1/users/me")
        .unwrap();
    assert_eq!(m.operation_id, Some("me"));
    let m = d
        .spec()
        .match_operation(&Method::GET, "/api/v1/users/7")
        .unwrap();
    assert_eq!(
        (m.template, m.path_params.clone()),
        ("/users/{id}", vec![("id", "7")])
    );
}

#[test]
fn mass_assignment_and_read_only_are_refused() {
    let d = detector(OpenApiPolicy::default());
    let f = json_request(
        &d,
        Method::POST,
        "/api/v1/users",
        json!({"name": "a", "isAdmin": true}),
    );
    assert!(
        f.iter().any(|(l, c, s, _)| l == "json.$.isAdmin"
            && *c == Category::MassAssignment
            && *s == Some(StatusCode::BAD_REQUEST)),
        "{f:?}"
    );
    let f = json_request(
        &d,
        Method::POST,
        "/api/v1/users",
        json!({"name": "a", "id": 5}),
    );
    assert!(
        f.iter().any(|(l, c, _, t)| l == "json.$.id"
            && *c == Category::MassAssignment
            && t.contains("readOnly")),
        "{f:?}"
    );
    let f = json_request(
        &d,
        Method::POST,
        "/api/v1/users",
        json!({"name": "a", "address": {"city": "x", "evil": 1}}),
    );
    assert!(f.iter().any(|(l, ..)| l == "json.$.address.evil"), "{f:?}");
    // Lenient: unknown properties pass, readOnly still refused.
    let lenient = detector(OpenApiPolicy {
        strictness: crate::Strictness::Lenient,
        ..OpenApiPolicy::default()
    });
    assert!(json_request(
        &lenient,
        Method::POST,
        "/api/v1/users",
        json!({"name": "a", "isAdmin": true})
    )
    .is_empty());
    assert!(!json_request(
        &lenient,
        Method::POST,
        "/api/v1/users",
        json!({"name": "a", "id": 1})
    )
    .is_empty());
}

#[test]
fn every_duplicate_member_is_validated() {
    // Parsers disagree on which duplicate wins, so each one must be valid:
    // `{"role":"user","role":"root"}` must not pass on the strength of the first.
    let d = detector(OpenApiPolicy::default());
    let raw = |body: &[u8]| {
        run_request(
            &d,
            Method::POST,
            "/api/v1/users",
            &[],
            Some(("application/json", body.to_vec())),
        )
        .0
    };
    let f = raw(br#"{"name":"a","role":"user","role":"root"}"#);
    assert!(
        f.iter().any(|f| f.location.as_str() == "json.$.role"),
        "{f:?}"
    );
    let f = raw(br#"{"name":"a","role":"root","role":"user"}"#);
    assert!(
        f.iter().any(|f| f.location.as_str() == "json.$.role"),
        "{f:?}"
    );
    assert!(raw(br#"{"name":"a","name":"b"}"#).is_empty());
    // A required property named twice is still one property: it does not
    // stand in for another required one (`Cat` requires `kind` and `lives`).
    let (f, _) = run_request(
        &d,
        Method::POST,
        "/api/v1/pets",
        &[],
        Some((
            "application/json",
            br#"{"kind":"cat","kind":"cat"}"#.to_vec(),
        )),
    );
    assert!(
        f.iter().any(|f| f.location.as_str() == "json.$.lives"),
        "{f:?}"
    );
}

#[test]
fn schema_violations_name_location_and_keyword_without_the_value() {
    let d = detector(OpenApiPolicy::default());
    let f = json_request(
        &d,
        Method::POST,
        "/api/v1/users",
        json!({"name": "a", "tags": ["x", 3], "role": "<script>"}),
    );
    assert!(
        f.iter()
            .any(|(l, _, _, t)| l == "json.$.tags[1]" && t.contains("`type`")),
        "{f:?}"
    );
    assert!(
        f.iter().any(|(l, _, _, t)| l == "json.$.role"
            && t.contains("`enum`")
            && !t.contains("script")),
        "{f:?}"
    );
    let f = json_request(&d, Method::POST, "/api/v1/users", json!({"email": "nope"}));
    assert!(
        f.iter()
            .any(|(l, _, _, t)| l == "json.$.name" && t.contains("`required`")),
        "{f:?}"
    );
    assert!(
        f.iter()
            .any(|(l, _, _, t)| l == "json.$.email" && t.contains("`format`")),
        "{f:?}"
    );
}

#[test]
fn discriminator_selects_the_branch() {
    let d = detector(OpenApiPolicy::default());
    assert!(json_request(
        &d,
        Method::POST,
        "/api/v1/pets",
        json!({"kind": "cat", "lives": 3})
    )
    .is_empty());
    assert!(json_request(
        &d,
        Method::POST,
        "/api/v1/pets",
        json!({"kind": "Dog", "bark": true})
    )
    .is_empty());
    let f = json_request(
        &d,
        Method::POST,
        "/api/v1/pets",
        json!({"kind": "cat", "lives": 12}),
    );
    assert!(
        f.iter()
            .any(|(l, _, _, t)| l == "json.$.lives" && t.contains("maximum")),
        "{f:?}"
    );
    let f = json_request(&d, Method::POST, "/api/v1/pets", json!({"kind": "cow"}));
    assert!(
        f.iter()
            .any(|(l, _, _, t)| l == "json.$.kind" && t.contains("discriminator")),
        "{f:?}"
    );
}

#[test]
fn shadow_zombie_method_and_content_type() {
    let d = detector(OpenApiPolicy::default());
    let (f, _) = run_request(&d, Method::GET, "/api/v1/admin", &[], None);
    assert!(f.iter().any(|f| f.category == Category::ShadowEndpoint
        && f.enforcement.as_ref().unwrap().status == StatusCode::NOT_FOUND));
    let (f, _) = run_request(&d, Method::PUT, "/api/v1/users/me", &[], None);
    let e = f.iter().find_map(|f| f.enforcement.clone()).unwrap();
    assert_eq!(e.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(e
        .headers
        .iter()
        .any(|(n, v)| n == http::header::ALLOW && v == "GET"));
    // Deprecated: logged (score 0) by default, with the operation named.
    let mut tx = Transaction::new(RequestHead::synthetic(Method::DELETE, "/api/v1/users/4"));
    d.inspect(Phase::RequestHead, &mut tx);
    let zombie = tx
        .findings
        .iter()
        .find(|f| f.category == Category::ZombieEndpoint)
        .unwrap();
    assert!(
        zombie.message.contains("deleteUser") && zombie.score == 0 && zombie.enforcement.is_none()
    );
    let (f, _) = run_request(
        &d,
        Method::POST,
        "/api/v1/users",
        &[],
        Some(("text/xml", b"<a/>".to_vec())),
    );
    assert!(f.iter().any(|f| f
        .enforcement
        .as_ref()
        .is_some_and(|e| e.status == StatusCode::UNSUPPORTED_MEDIA_TYPE)));
    let log = detector(OpenApiPolicy {
        unknown_endpoints: crate::EnforceMode::Log,
        ..OpenApiPolicy::default()
    });
    let (f, _) = run_request(&log, Method::GET, "/api/v1/admin", &[], None);
    assert!(f.iter().all(|f| f.enforcement.is_none() && f.score == 0) && !f.is_empty());
}

#[test]
fn parameters_are_typed_and_styled() {
    let d = detector(OpenApiPolicy::default());
    let ok =
        |uri: &str, headers: &[(&str, String)]| run_request(&d, Method::GET, uri, headers, None).0;
    assert!(ok(
        "/api/v1/users/5?fields=name,email",
        &[("x-trace", "123e4567-e89b-12d3-a456-426614174000".into())]
    )
    .is_empty());
    let f = ok("/api/v1/users/0", &[]);
    assert!(
        f.iter()
            .any(|f| f.location.0 == "path.id" && f.message.contains("minimum")),
        "{f:?}"
    );
    let f = ok("/api/v1/users/99999999999", &[]);
    assert!(
        f.iter()
            .any(|f| f.location.0 == "path.id" && f.message.contains("format")),
        "{f:?}"
    );
    let f = ok("/api/v1/users/5?fields=name,password", &[]);
    assert!(
        f.iter()
            .any(|f| f.location.0 == "query.fields[1]" && f.message.contains("enum")),
        "{f:?}"
    );
    let f = ok("/api/v1/users/5", &[("x-trace", "nope".into())]);
    assert!(f.iter().any(|f| f.location.0 == "header.X-Trace"), "{f:?}");
    let f = ok("/api/v1/users/5?debug=1", &[]);
    assert!(
        f.iter()
            .any(|f| f.category == Category::MassAssignment && f.location.0 == "query.debug"),
        "{f:?}"
    );
    assert!(ok("/api/v1/search?q=abc&filter[age]=4&filter[name]=x", &[]).is_empty());
    let f = ok("/api/v1/search?q=abc&filter[age]=old", &[]);
    assert!(
        f.iter().any(|f| f.location.0 == "query.filter.age"),
        "{f:?}"
    );
    let f = ok("/api/v1/search?q=adminx", &[]);
    assert!(
        f.iter()
            .any(|f| f.location.0 == "query.q" && f.message.contains("pattern")),
        "{f:?}"
    );
    let f = ok("/api/v1/search", &[]);
    assert!(
        f.iter()
            .any(|f| f.location.0 == "query.q" && f.message.contains("required")),
        "{f:?}"
    );
}

#[test]
fn form_and_multipart_bodies() {
    let d = detector(OpenApiPolicy::default());
    let form = |body: &str| {
        run_request(
            &d,
            Method::POST,
            "/api/v1/users",
            &[],
            Some((
                "application/x-www-form-urlencoded",
                body.as_bytes().to_vec(),
            )),
        )
        .0
    };
    assert!(form("name=ann&tags[]=a&tags[]=b&address[zip]=12345").is_empty());
    let f = form("name=ann&address[zip]=1");
    assert!(
        f.iter().any(|f| f.location.0 == "form.address.zip"),
        "{f:?}"
    );
    let f = form("name=ann&is_admin=true");
    assert!(
        f.iter().any(|f| f.category == Category::MassAssignment),
        "{f:?}"
    );
    let multipart = |body: &str| {
        run_request(
            &d,
            Method::POST,
            "/api/v1/uploads",
            &[],
            Some((
                "multipart/form-data; boundary=B",
                body.replace('\n', "\r\n").into_bytes(),
            )),
        )
        .0
    };
    let good = "--B\nContent-Disposition: form-data; name=\"title\"\n\nhello\n--B\nContent-Disposition: form-data; name=\"count\"\n\n3\n--B\nContent-Disposition: form-data; name=\"meta\"\nContent-Type: application/json\n\n{\"tag\":\"x\"}\n--B\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\nContent-Type: application/octet-stream\n\n\u{1}\u{2}\n--B--\n";
    assert!(multipart(good).is_empty(), "{:?}", multipart(good));
    let f = multipart(&good.replace("name=\"count\"\n\n3", "name=\"count\"\n\nthree"));
    assert!(f.iter().any(|f| f.location.0 == "form.count"), "{f:?}");
    let f = multipart(&good.replace("Content-Type: application/json", "Content-Type: text/plain"));
    assert!(
        f.iter()
            .any(|f| f.category == Category::MethodOrContentType),
        "{f:?}"
    );
    // A part without Content-Type for an object property is JSON by default.
    let f = multipart(&good.replace("Content-Type: application/json\n", ""));
    assert!(f.is_empty(), "{f:?}");
    let f = multipart("--B\nContent-Disposition: form-data; name=\"title\"\n\nhello\n--B--\n");
    assert!(
        f.iter()
            .any(|f| f.location.0 == "form.file" && f.message.contains("required")),
        "{f:?}"
    );
}

fn respond(
    d: &OpenApiDetector,
    method: Method,
    uri: &str,
    status: u16,
    body: Value,
) -> Transaction {
    let mut tx = Transaction::new(RequestHead::synthetic(method, uri));
    d.inspect(Phase::RequestHead, &mut tx);
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    tx.response = Some(ResponseHead {
        status: StatusCode::from_u16(status).unwrap(),
        version: http::Version::HTTP_11,
        headers,
    });
    tx.response_body = Some(bytes::Bytes::from(serde_json::to_vec(&body).unwrap()));
    d.inspect(Phase::ResponseHead, &mut tx);
    d.inspect(Phase::ResponseBody, &mut tx);
    tx
}

#[test]
fn strip_removes_exactly_undeclared_and_write_only_fields() {
    let d = detector(OpenApiPolicy::default());
    let upstream = json!({
        "id": 1, "name": "ann", "password": "hunter2", "ssn": "123",
        "address": {"city": "x", "internal": true}, "tags": ["a"]
    });
    let tx = respond(&d, Method::GET, "/api/v1/users/1", 200, upstream);
    let (body, _) = tx.response_edit.replace_body.clone().expect("stripped");
    let got: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        got,
        json!({"id": 1, "name": "ann", "address": {"city": "x"}, "tags": ["a"]})
    );
    assert!(tx
        .findings
        .iter()
        .any(|f| f.category == Category::ExcessiveDataExposure && f.message.contains("Removed 3")));
    let clean = respond(
        &d,
        Method::GET,
        "/api/v1/users/1",
        200,
        json!({"id": 1, "name": "ann"}),
    );
    assert!(clean.response_edit.replace_body.is_none());
}

#[test]
fn block_mode_refuses_bad_responses_with_502() {
    let d = detector(OpenApiPolicy::default());
    let tx = respond(
        &d,
        Method::POST,
        "/api/v1/pets",
        200,
        json!({"kind": "cat", "lives": "nine"}),
    );
    assert!(
        tx.findings.iter().any(|f| f
            .enforcement
            .as_ref()
            .is_some_and(|e| e.status == StatusCode::BAD_GATEWAY)
            && f.location.0 == "json.$.lives"),
        "{:?}",
        tx.findings
    );
    let tx = respond(&d, Method::POST, "/api/v1/pets", 500, json!({}));
    assert!(tx
        .findings
        .iter()
        .any(|f| f.rule_id == "openapi.response.status" && f.enforcement.is_some()));
    // Log mode (the policy default for other operations): findings carry no score.
    let tx = respond(&d, Method::GET, "/api/v1/users/me", 200, json!({"name": 3}));
    assert!(
        !tx.findings.is_empty()
            && tx
                .findings
                .iter()
                .all(|f| f.score == 0 && f.enforcement.is_none())
    );
}

#[test]
fn load_errors_are_named_and_located() {
    let err = ApiSpec::from_str("openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      parameters:\n        - {name: q, in: query, schema: {type: string, pattern: '(a)\\1'}}\n      responses: {}\n", Path::new(".")).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("backreference")
            && text.contains("/paths/~1a/get/parameters/0/schema/pattern")
            && text.contains(":7"),
        "{text}"
    );
    let err = ApiSpec::from_str("openapi: 3.0.0\npaths:\n  /a:\n    get:\n      responses:\n        '200': {$ref: '#/components/responses/Missing'}\n", Path::new(".")).unwrap_err();
    assert!(
        matches!(err, crate::SpecError::BadReference { .. }),
        "{err}"
    );
    let err = ApiSpec::from_str("swagger: '2.0'\n", Path::new(".")).unwrap_err();
    assert!(matches!(err, crate::SpecError::UnsupportedVersion { .. }));
    let err = ApiSpec::from_str("openapi: 3.1.0\npaths:\n  /a:\n    get:\n      responses:\n        '200':\n          description: x\n          content:\n            application/json:\n              schema: {$dynamicRef: '#x'}\n", Path::new(".")).unwrap_err();
    assert!(matches!(err, crate::SpecError::Unsupported { .. }), "{err}");
}

#[test]
fn openapi_31_type_arrays_and_const() {
    let spec = r#"{"openapi":"3.1.0","info":{"title":"t","version":"1"},"paths":{"/a":{"post":{
      "requestBody":{"content":{"application/json":{"schema":{"type":"object","properties":{
        "v":{"type":["string","null"]},"k":{"const":"fixed"},"n":{"type":"number","exclusiveMinimum":0}},
        "unevaluatedProperties":false}}}},"responses":{"200":{"description":"ok"}}}}}}"#;
    let d = OpenApiDetector::new(
        Arc::new(ApiSpec::from_str(spec, Path::new(".")).unwrap()),
        OpenApiPolicy::default(),
    );
    assert!(json_request(
        &d,
        Method::POST,
        "/a",
        json!({"v": null, "k": "fixed", "n": 0.5})
    )
    .is_empty());
    assert!(!json_request(&d, Method::POST, "/a", json!({"v": 1})).is_empty());
    assert!(!json_request(&d, Method::POST, "/a", json!({"k": "other"})).is_empty());
    assert!(!json_request(&d, Method::POST, "/a", json!({"n": 0})).is_empty());
}

/// Independent check of what `User` allows, written from the schema by hand.
fn user_is_valid(v: &Value) -> bool {
    let Some(map) = v.as_object() else {
        return false;
    };
    let allowed = ["name", "email", "role", "tags", "address", "password"];
    if !map.keys().all(|k| allowed.contains(&k.as_str())) {
        return false;
    }
    let name_ok = map
        .get("name")
        .and_then(Value::as_str)
        .is_some_and(|s| (1..=20).contains(&s.chars().count()));
    let email_ok = map.get("email").is_none_or(|e| {
        e.is_null()
            || e.as_str()
                .is_some_and(|s| s.contains('@') && s.contains('.'))
    });
    let role_ok = map.get("role").is_none_or(|r| r == "user" || r == "admin");
    let tags_ok = map.get("tags").is_none_or(|t| {
        t.as_array()
            .is_some_and(|a| a.len() <= 3 && a.iter().all(Value::is_string))
    });
    let password_ok = map.get("password").is_none_or(Value::is_string);
    let address_ok = map.get("address").is_none_or(|a| {
        a.as_object().is_some_and(|m| {
            m.keys().all(|k| k == "city" || k == "zip")
                && m.get("city").is_none_or(Value::is_string)
                && m.get("zip").is_none_or(|z| {
                    z.as_str()
                        .is_some_and(|s| s.len() == 5 && s.bytes().all(|b| b.is_ascii_digit()))
                })
        })
    });
    name_ok && email_ok && role_ok && tags_ok && password_ok && address_ok
}

fn arb_user() -> impl Strategy<Value = Value> {
    let scalar = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|i| json!(i)),
        "[a-z@.]{0,24}".prop_map(Value::String),
        // Two- and four-byte characters: lengths count characters, not bytes.
        "[aé😀]{0,24}".prop_map(Value::String),
        "[0-9]{4,6}".prop_map(Value::String),
        Just(json!("user")),
        Just(json!("a@b.co")),
    ];
    let leaf = scalar.clone();
    let field = prop_oneof![
        scalar.clone(),
        prop::collection::vec(leaf.clone(), 0..5).prop_map(Value::Array),
        prop::collection::btree_map(
            prop_oneof![
                Just("city".to_owned()),
                Just("zip".to_owned()),
                Just("x".to_owned())
            ],
            leaf,
            0..3
        )
        .prop_map(|m| Value::Object(m.into_iter().collect())),
    ];
    let key = prop_oneof![
        Just("name".to_owned()),
        Just("email".to_owned()),
        Just("role".to_owned()),
        Just("tags".to_owned()),
        Just("address".to_owned()),
        Just("password".to_owned()),
        Just("id".to_owned()),
        Just("extra".to_owned()),
    ];
    prop::collection::btree_map(key, field, 0..6)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn accepted_requests_are_schema_valid(body in arb_user()) {
        let d = detector(OpenApiPolicy::default());
        let findings = json_request(&d, Method::POST, "/api/v1/users", body.clone());
        if findings.is_empty() {
            prop_assert!(user_is_valid(&body), "accepted but invalid: {body}");
        }
        if user_is_valid(&body) {
            prop_assert!(findings.is_empty(), "valid but refused: {body} {findings:?}");
        }
    }

    #[test]
    fn stripped_responses_keep_only_declared_fields(body in arb_user()) {
        let d = detector(OpenApiPolicy::default());
        let tx = respond(&d, Method::GET, "/api/v1/users/1", 200, body.clone());
        let out: Value = match &tx.response_edit.replace_body {
            Some((b, _)) => serde_json::from_slice(b).unwrap(),
            None => body.clone(),
        };
        let map = out.as_object().unwrap();
        prop_assert!(map.keys().all(|k| ["id", "name", "email", "role", "tags", "address"].contains(&k.as_str())));
        if let Some(Value::Object(a)) = map.get("address") {
            prop_assert!(a.keys().all(|k| k == "city" || k == "zip"));
        }
        for (k, v) in map {
            if k != "address" { prop_assert_eq!(Some(v), body.get(k)); }
        }
    }

    #[test]
    fn arbitrary_text_never_panics_the_loader(text in ".{0,400}") {
        let _ = ApiSpec::from_str(&text, Path::new("."));
    }

    #[test]
    fn arbitrary_queries_and_forms_never_panic(query in "[a-z\\[\\]=&%0-9,.|]{0,80}") {
        let d = detector(OpenApiPolicy::default());
        let _ = run_request(&d, Method::GET, &format!("/api/v1/search?{query}"), &[], None);
        let _ = run_request(&d, Method::POST, "/api/v1/users", &[], Some(("application/x-www-form-urlencoded", query.clone().into_bytes())));
        let _ = run_request(&d, Method::POST, "/api/v1/uploads", &[], Some(("multipart/form-data; boundary=a", query.into_bytes())));
    }
}

#[test]
fn operations_sharing_a_path_are_alternatives() {
    let text = r#"
openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /schema#add:
    put:
      operationId: addOption
      requestBody:
        content:
          application/json:
            schema: {type: object, required: [op], properties: {op: {const: add}, value: {type: string}}}
      responses: {"200": {description: ok}}
  /schema#remove:
    put:
      operationId: removeOption
      parameters:
        - {name: force, in: query, schema: {type: boolean}}
      requestBody:
        content:
          application/json-patch+json:
            schema: {type: object, required: [op], properties: {op: {const: remove}, key: {type: integer}}}
      responses: {"200": {description: ok}}
  /beta:
    post:
      operationId: stable
      requestBody: {content: {application/json: {schema: {type: object, properties: {a: {type: string}}}}}}
      responses: {"200": {description: ok}}
  /beta?beta=true:
    post:
      operationId: beta
      requestBody: {content: {application/json: {schema: {type: object, properties: {b: {type: string}}}}}}
      responses: {"200": {description: ok}}
"#;
    let d = OpenApiDetector::new(
        Arc::new(ApiSpec::from_str(text, Path::new(".")).unwrap()),
        OpenApiPolicy::default(),
    );
    let (f, op) = run_request(
        &d,
        Method::PUT,
        "/schema",
        &[],
        Some(("application/json", br#"{"op":"add","value":"x"}"#.to_vec())),
    );
    assert!(
        f.is_empty() && op.as_deref() == Some("addOption"),
        "{f:?} {op:?}"
    );
    let (f, op) = run_request(
        &d,
        Method::PUT,
        "/schema?force=true",
        &[],
        Some((
            "application/json-patch+json",
            br#"{"op":"remove","key":3}"#.to_vec(),
        )),
    );
    assert!(
        f.is_empty() && op.as_deref() == Some("removeOption"),
        "{f:?} {op:?}"
    );
    let (f, _) = run_request(
        &d,
        Method::PUT,
        "/schema",
        &[],
        Some(("application/json", br#"{"op":"remove","key":3}"#.to_vec())),
    );
    assert!(!f.is_empty());
    let (f, op) = run_request(
        &d,
        Method::POST,
        "/beta?beta=true",
        &[],
        Some(("application/json", br#"{"b":"x"}"#.to_vec())),
    );
    assert!(
        f.is_empty() && op.as_deref() == Some("beta"),
        "{f:?} {op:?}"
    );
    let (f, _) = run_request(
        &d,
        Method::POST,
        "/beta",
        &[],
        Some(("application/json", br#"{"b":"x"}"#.to_vec())),
    );
    assert!(f.iter().any(|f| f.location.0 == "json.$.b"), "{f:?}");
}

#[test]
fn recursive_schemas_and_reference_cycles() {
    let text = r##"
openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /tree:
    post:
      requestBody:
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Node"}
      responses: {"200": {description: ok}}
components:
  schemas:
    Node:
      type: object
      properties:
        name: {type: string}
        children: {type: array, items: {$ref: "#/components/schemas/Node"}}
"##;
    let d = OpenApiDetector::new(
        Arc::new(ApiSpec::from_str(text, Path::new(".")).unwrap()),
        OpenApiPolicy::default(),
    );
    assert!(json_request(
        &d,
        Method::POST,
        "/tree",
        json!({"name": "a", "children": [{"name": "b", "children": [{"name": "c"}]}]})
    )
    .is_empty());
    let f = json_request(
        &d,
        Method::POST,
        "/tree",
        json!({"children": [{"children": [{"name": 3}]}]}),
    );
    assert!(
        f.iter()
            .any(|(l, ..)| l == "json.$.children[0].children[0].name"),
        "{f:?}"
    );
    let deep = (0..100).fold(json!({}), |inner, _| json!({"children": [inner]}));
    let f = json_request(&d, Method::POST, "/tree", deep);
    assert!(
        f.iter().any(|(_, c, ..)| *c == Category::ResourceLimit),
        "{f:?}"
    );
    let cyclic = "openapi: 3.0.0\npaths:\n  /a:\n    get:\n      responses:\n        '200':\n          description: x\n          content:\n            application/json:\n              schema: {$ref: '#/components/schemas/A'}\ncomponents:\n  schemas:\n    A: {$ref: '#/components/schemas/B'}\n    B: {$ref: '#/components/schemas/A'}\n";
    let err = ApiSpec::from_str(cyclic, Path::new(".")).unwrap_err();
    assert!(err.to_string().contains("cyclic"), "{err}");
}

#[test]
fn root_extensions_apply_and_operations_override_them() {
    let text = r#"
openapi: 3.0.3
info: {title: t, version: "1"}
x-palisade-unknown-endpoints: log
x-palisade-request-mode: log
x-palisade-strictness: lenient
servers: [{url: "/api/{version}", variables: {version: {default: v3}}}]
paths:
  /a:
    post:
      requestBody: {content: {application/json: {schema: {type: object, properties: {n: {type: integer}}}}}}
      responses: {"200": {description: ok}}
  /b:
    servers: [{url: "https://other.example/b-root"}]
    post:
      x-palisade-request-mode: block
      x-palisade-strictness: strict
      requestBody: {content: {application/json: {schema: {type: object, properties: {n: {type: integer}}}}}}
      responses: {"200": {description: ok}}
"#;
    let d = OpenApiDetector::new(
        Arc::new(ApiSpec::from_str(text, Path::new(".")).unwrap()),
        OpenApiPolicy::default(),
    );
    // Root: unknown endpoints and violations are logged, unknown properties pass.
    let (f, _) = run_request(&d, Method::GET, "/api/v3/nope", &[], None);
    assert!(
        !f.is_empty() && f.iter().all(|f| f.enforcement.is_none() && f.score == 0),
        "{f:?}"
    );
    assert!(json_request(
        &d,
        Method::POST,
        "/api/v3/a",
        json!({"n": 1, "extra": true})
    )
    .is_empty());
    let f = json_request(&d, Method::POST, "/api/v3/a", json!({"n": "x"}));
    assert!(f.len() == 1 && f[0].2.is_none(), "{f:?}");
    // Operation: block and strict; mounted under its path-item server.
    let f = json_request(
        &d,
        Method::POST,
        "/b-root/b",
        json!({"n": 1, "extra": true}),
    );
    assert!(
        f.iter().any(|(l, c, s, _)| l == "json.$.extra"
            && *c == Category::MassAssignment
            && s.is_some()),
        "{f:?}"
    );
    assert!(d
        .spec()
        .match_operation(&Method::POST, "/api/v3/b")
        .is_none());
}

#[test]
fn evidence_goes_to_the_event_redacted_never_to_the_title() {
    let d = detector(OpenApiPolicy::default());
    let (findings, _) = run_request(
        &d,
        Method::POST,
        "/api/v1/users",
        &[],
        Some((
            "application/json",
            br#"{"name":"a","role":"<script>x","password":7}"#.to_vec(),
        )),
    );
    let role = findings
        .iter()
        .find(|f| f.location.0 == "json.$.role")
        .unwrap();
    assert_eq!(role.evidence.as_str(), "<script>x");
    assert!(!role.enforcement.as_ref().unwrap().title.contains("script"));
    let password = findings
        .iter()
        .find(|f| f.location.0 == "json.$.password")
        .unwrap();
    assert!(
        password.evidence.as_str().starts_with("[redacted"),
        "{:?}",
        password.evidence
    );
}

#[test]
fn nested_one_of_trials_are_bounded() {
    // Each level tries both branches of a recursive oneOf: exponential without a budget.
    let text = r##"
openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /filter:
    post:
      requestBody:
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Filter"}
      responses: {"200": {description: ok}}
components:
  schemas:
    Filter:
      oneOf:
        - type: object
          properties: {and: {type: array, items: {$ref: "#/components/schemas/Filter"}}, tag: {const: a}}
        - type: object
          properties: {and: {type: array, items: {$ref: "#/components/schemas/Filter"}}, tag: {const: b}}
"##;
    let d = OpenApiDetector::new(
        Arc::new(ApiSpec::from_str(text, Path::new(".")).unwrap()),
        OpenApiPolicy::default(),
    );
    let nested = (0..25).fold(json!({"tag": "c"}), |inner, _| json!({"and": [inner]}));
    let started = std::time::Instant::now();
    let f = json_request(&d, Method::POST, "/filter", nested);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(
        f.iter()
            .any(|(_, c, s, _)| *c == Category::ResourceLimit && s.is_some()),
        "{f:?}"
    );
    assert!(json_request(
        &d,
        Method::POST,
        "/filter",
        json!({"tag": "a", "and": [{"tag": "b"}]})
    )
    .is_empty());
}

#[test]
fn policy_deserialises_strictly_and_drives_wants() {
    let policy: OpenApiPolicy = serde_json::from_value(json!({
        "request_mode": "log", "response_mode": "off", "strictness": "lenient",
        "limits": {"max_json_depth": 8}
    }))
    .unwrap();
    assert_eq!(policy.request_mode, crate::EnforceMode::Log);
    assert_eq!(policy.limits.max_json_depth, 8);
    assert_eq!(
        policy.limits.max_body_bytes,
        crate::Limits::default().max_body_bytes
    );
    assert!(serde_json::from_value::<OpenApiPolicy>(json!({"reponse_mode": "strip"})).is_err());
    assert!(serde_json::from_value::<OpenApiPolicy>(json!({"limits": {"max_depth": 3}})).is_err());
    // The shop document sets response modes on two operations: responses stay wanted.
    let d = detector(policy.clone());
    assert!(d.wants(Phase::ResponseBody));
    let bare = ApiSpec::from_str(
        "openapi: 3.0.0\npaths:\n  /a:\n    get:\n      responses: {}\n",
        Path::new("."),
    )
    .unwrap();
    let d = OpenApiDetector::new(Arc::new(bare), policy);
    assert!(d.wants(Phase::RequestBody) && !d.wants(Phase::ResponseBody));
}

const SECURED: &str = r##"
openapi: 3.1.0
info: {title: secured, version: "1"}
security: [{bearer: []}]
components:
  securitySchemes:
    bearer: {type: http, scheme: Bearer}
    key: {type: apiKey, in: header, name: X-Key}
    oauth: {$ref: "#/components/x-schemes/oauth"}
    cert: {type: mutualTLS}
  x-schemes:
    oauth:
      type: oauth2
      flows: {clientCredentials: {tokenUrl: "https://id.example/t", scopes: {admin: a, read: r}}}
paths:
  /items:
    get: {responses: {"200": {description: ok}}}
    post:
      security: [{oauth: [admin, read]}, {key: [], cert: []}]
      responses: {"200": {description: ok}}
  /public:
    get:
      security: []
      responses: {"200": {description: ok}}
  /optional:
    get:
      security: [{}, {undefined: [x]}]
      responses: {"200": {description: ok}}
"##;

#[test]
fn security_requirements_are_read_per_operation_with_the_document_default() {
    use palisade_core::CredentialScheme as S;
    let spec = ApiSpec::from_str(SECURED, Path::new(".")).expect("loads");
    let get = spec
        .operation_security(&Method::GET, "/items")
        .expect("inherits the document's security");
    assert_eq!(get.alternatives.len(), 1);
    assert_eq!(get.alternatives[0].schemes[0].scheme, S::Bearer);
    assert!(!get.allows_anonymous());

    let post = spec
        .operation_security(&Method::POST, "/items")
        .expect("own security");
    assert_eq!(post.alternatives.len(), 2);
    let oauth = &post.alternatives[0].schemes[0];
    assert_eq!(
        (oauth.scheme, oauth.scopes.clone()),
        (S::OAuth2, vec!["admin".to_owned(), "read".to_owned()])
    );
    let mut kinds: Vec<&str> = post.alternatives[1]
        .schemes
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    kinds.sort_unstable();
    assert_eq!(kinds, vec!["cert", "key"]);
    assert!(post.alternatives[1].schemes.iter().all(|s| s.scheme
        == if s.name == "key" {
            S::ApiKey
        } else {
            S::MutualTls
        }));

    let public = spec
        .operation_security(&Method::GET, "/public")
        .expect("declared");
    assert!(public.alternatives.is_empty() && public.allows_anonymous());
    let optional = spec
        .operation_security(&Method::GET, "/optional")
        .expect("declared");
    assert!(optional.allows_anonymous());
    assert_eq!(optional.alternatives[1].schemes[0].scheme, S::Unknown);
    assert!(spec.operation_security(&Method::GET, "/nowhere").is_none());
}

#[test]
fn security_without_a_document_default_is_none_and_bad_shapes_are_errors() {
    let spec = ApiSpec::from_str(SHOP, Path::new(".")).expect("loads");
    assert!(spec
        .operation_security(&Method::GET, "/api/v1/users/me")
        .is_none());

    for bad in [
        "security: {bearer: []}",
        "security: [{bearer: read}]",
        "security: [[]]",
    ] {
        let text =
            format!("openapi: 3.0.3\ninfo: {{title: t, version: '1'}}\n{bad}\npaths: {{}}\n");
        let err = ApiSpec::from_str(&text, Path::new(".")).expect_err(bad);
        assert!(err.to_string().contains("security"), "{bad}: {err}");
    }
    let no_type = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\ncomponents: {securitySchemes: {x: {scheme: bearer}}}\npaths: {}\n";
    let err = ApiSpec::from_str(no_type, Path::new(".")).expect_err("scheme without type");
    assert!(err.to_string().contains("type"), "{err}");
}
