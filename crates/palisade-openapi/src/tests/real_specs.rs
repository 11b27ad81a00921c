use super::generate::Generator;
use super::{shared_specs, REAL_SPECS};
use crate::params::{shape, Shape};
use crate::spec::{BodyKind, ParamIn, Style};
use crate::{ApiSpec, OpenApiDetector, OpenApiPolicy};
use http::{HeaderValue, Method};
use palisade_core::{Category, Detector, Finding, Phase, RequestHead, Transaction};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Each document is loaded once per test process.
fn loaded(name: &str) -> Option<Arc<ApiSpec>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<ApiSpec>>>> = OnceLock::new();
    let dir = shared_specs()?;
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(spec) = cache.lock().ok()?.get(name) {
        return Some(spec.clone());
    }
    let spec = Arc::new(ApiSpec::load(&dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}")));
    cache.lock().ok()?.insert(name.to_owned(), spec.clone());
    Some(spec)
}

pub(crate) fn run_request(
    detector: &OpenApiDetector,
    method: Method,
    uri: &str,
    headers: &[(&str, String)],
    body: Option<(&str, Vec<u8>)>,
) -> (Vec<Finding>, Option<String>) {
    let mut head = RequestHead::synthetic(method, uri);
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            head.headers.append(n, v);
        }
    }
    if let Some((ct, _)) = &body {
        head.headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_str(ct).unwrap(),
        );
    }
    let mut tx = Transaction::new(head);
    detector.inspect(Phase::RequestHead, &mut tx);
    tx.request_body = body.map(|(_, b)| bytes::Bytes::from(b));
    detector.inspect(Phase::RequestBody, &mut tx);
    let findings = tx
        .findings
        .into_iter()
        .filter(|f| f.category != Category::ZombieEndpoint)
        .collect();
    (findings, tx.operation)
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

struct Built {
    method: Method,
    path: String,
    query: String,
    headers: Vec<(&'static str, String)>,
    body: Option<(String, Value, BodyKind)>,
    /// Path parameters with an integer schema: a non-numeric value must be refused.
    integer_path_param: Option<String>,
}

/// A valid request for operation `index`, or why none could be made.
fn build(spec: &ApiSpec, index: usize) -> Result<Built, &'static str> {
    let op = spec.operations.get(index).ok_or("no operation")?;
    let gen = Generator::new(&spec.arena, 2);
    let mut path = format!(
        "{}{}",
        op.base_path,
        crate::spec::routing_template(&op.template)
    );
    let mut query: Vec<String> = op
        .template
        .split_once('?')
        .map(|(_, q)| q.split('&').map(str::to_owned).collect())
        .unwrap_or_default();
    let mut headers = Vec::new();
    let mut integer_path_param = None;
    for p in &op.parameters {
        if !p.required && p.location != ParamIn::Path {
            continue;
        }
        let schema = p.schema.ok_or("parameter without schema")?;
        if p.json_content || p.location == ParamIn::Cookie {
            return Err("content or cookie parameter");
        }
        let value = gen.value(schema).ok_or("parameter value")?;
        match (p.location, shape(&spec.arena, schema)) {
            (ParamIn::Path, Shape::Primitive) if p.style == Style::Simple => {
                let text = scalar_text(&value).ok_or("non-scalar parameter")?;
                if value.is_number()
                    && crate::params::shape(&spec.arena, schema) == Shape::Primitive
                {
                    let node = spec.arena.node(schema);
                    if node.types.is_some_and(|t| {
                        t.0 == TypeSet::INTEGER | TypeSet::NUMBER || t.0 == TypeSet::INTEGER
                    }) {
                        integer_path_param = Some(p.name.clone());
                    }
                }
                path = path.replace(&format!("{{{}}}", p.name), &enc(&text));
            }
            (ParamIn::Query, Shape::Primitive) => query.push(format!(
                "{}={}",
                enc(&p.name),
                enc(&scalar_text(&value).ok_or("non-scalar parameter")?)
            )),
            (ParamIn::Query, Shape::Array) if p.style == Style::Form && p.explode => {
                for item in value.as_array().ok_or("non-array parameter")? {
                    query.push(format!(
                        "{}={}",
                        enc(&p.name),
                        enc(&scalar_text(item).ok_or("non-scalar item")?)
                    ));
                }
            }
            (ParamIn::Header, Shape::Primitive) => headers.push((
                leak(&p.name),
                scalar_text(&value).ok_or("non-scalar parameter")?,
            )),
            _ => return Err("parameter style"),
        }
    }
    if path.contains('{') {
        return Err("undeclared path variable");
    }
    let body = match &op.request_body {
        None => None,
        Some(rb) => {
            let content = rb
                .contents
                .iter()
                .find(|c| c.schema.is_some() && matches!(c.kind, BodyKind::Json | BodyKind::Form))
                .ok_or("no JSON or form body")?;
            let value = gen
                .value(content.schema.ok_or("body schema")?)
                .ok_or("body value")?;
            if content.kind == BodyKind::Form && !value.is_object() {
                return Err("form body not an object");
            }
            let media = if content.range.contains('*') {
                "application/json".to_owned()
            } else {
                content.range.clone()
            };
            Some((media, value, content.kind))
        }
    };
    Ok(Built {
        method: op.method.clone(),
        path,
        query: query.join("&"),
        headers,
        body,
        integer_path_param,
    })
}

use crate::schema::TypeSet;

fn leak(name: &str) -> &'static str {
    Box::leak(name.to_owned().into_boxed_str())
}

/// `a[b][]=x` form encoding, as deepObject-style bodies expect.
fn flatten_form(prefix: &str, value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}[{k}]")
                };
                flatten_form(&key, v, out);
            }
        }
        Value::Array(items) => {
            for v in items {
                flatten_form(&format!("{prefix}[]"), v, out);
            }
        }
        other => out.push(format!(
            "{}={}",
            enc(prefix),
            enc(&scalar_text(other).unwrap_or_default())
        )),
    }
}

fn encode_body(kind: BodyKind, value: &Value) -> Vec<u8> {
    match kind {
        BodyKind::Form => {
            let mut pairs = Vec::new();
            flatten_form("", value, &mut pairs);
            pairs.join("&").into_bytes()
        }
        _ => serde_json::to_vec(value).unwrap_or_default(),
    }
}

fn send(detector: &OpenApiDetector, b: &Built, body: Option<&Value>, path: &str) -> Vec<Finding> {
    let uri = if b.query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", b.query)
    };
    let payload = match (&b.body, body) {
        (Some((media, _, kind)), Some(v)) => Some((media.as_str(), encode_body(*kind, v))),
        _ => None,
    };
    run_request(detector, b.method.clone(), &uri, &b.headers, payload).0
}

/// Root-level properties a mutation may target: declared by schemas always
/// applied at the root (no `oneOf`/`anyOf` in between), not accepting arrays.
fn closed_root(spec: &ApiSpec, id: crate::schema::SchemaId) -> (bool, Vec<String>) {
    let mut applied = Vec::new();
    let mut stack = vec![id];
    let mut composed = false;
    while let Some(s) = stack.pop() {
        if applied.contains(&s) {
            continue;
        }
        applied.push(s);
        let n = spec.arena.node(s);
        composed |= !n.one_of.is_empty()
            || !n.any_of.is_empty()
            || n.discriminator.is_some()
            || n.condition.is_some();
        stack.extend(n.reference.iter().chain(&n.all_of));
    }
    if composed {
        return (false, Vec::new());
    }
    let nodes: Vec<_> = applied.iter().map(|s| spec.arena.node(*s)).collect();
    let declares = nodes.iter().any(|n| n.declares_properties());
    let open = nodes.iter().any(|n| {
        use crate::schema::Extra;
        matches!(n.additional, Extra::Allow | Extra::Schema(_))
            || matches!(n.unevaluated, Extra::Allow | Extra::Schema(_))
    }) || nodes.iter().any(|n| !n.pattern_properties.is_empty());
    let mut typed = Vec::new();
    for n in &nodes {
        for (name, child) in &n.properties {
            let bits = crate::params::shape(&spec.arena, *child);
            let child_node = spec.arena.node(*child);
            let accepts_arrays = bits == Shape::Array
                || child_node.types.is_none()
                    && child_node.reference.is_none()
                    && child_node.all_of.is_empty()
                    && child_node.one_of.is_empty()
                    && child_node.any_of.is_empty();
            if !accepts_arrays && !typed.contains(&name.to_string()) {
                typed.push(name.to_string());
            }
        }
    }
    (declares && !open, typed)
}

/// Loads `name`, checks its operation and webhook counts against the shared
/// README, then sends generated and mutated requests and responses.
fn check_document(name: &str, operations: usize, webhooks: usize) {
    let Some(spec) = loaded(name) else { return };
    assert_eq!(
        (spec.operation_count(), spec.webhook_count()),
        (operations, webhooks),
        "{name}"
    );
    check_spec(name, &spec);
}

/// Generated valid requests pass, mutated ones are refused at the mutated
/// location, generated responses pass and strip exactly what was injected.
/// Request bodies are validated on a borrowed tree, everything else on a
/// `serde_json::Value`: both readings must give the same violations.
/// Returns whether the one-pass check proved the value valid (strict mode).
fn same_verdict_on_tree_and_value(
    spec: &ApiSpec,
    schema: crate::schema::SchemaId,
    value: &Value,
) -> bool {
    use crate::validate::{Direction, Options, Validator};
    let options = Options {
        direction: Direction::Request,
        strict: true,
        coerce: false,
        max_errors: 50,
    };
    let mut on_value = Validator::new(&spec.arena, options);
    let value_ok = on_value.validate(schema, value);
    let text = value.to_string();
    let tree = crate::json_tree::JsonTree::parse(&text, 10_000).expect("serde_json output parses");
    let mut on_tree = Validator::new(&spec.arena, options);
    let tree_ok = on_tree.validate(schema, tree.root());
    assert_eq!(value_ok, tree_ok, "{text}");
    assert_eq!(on_value.errors, on_tree.errors, "{text}");
    // The one-pass check may only ever confirm the full validator's "valid".
    let streamable = crate::stream_check::Streamable::new(&spec.arena);
    let mut proven_strict = false;
    for strict in [true, false] {
        let options = Options { strict, ..options };
        let proven = crate::stream_check::proves_valid(
            &spec.arena,
            &streamable,
            schema,
            text.as_bytes(),
            options,
            10_000,
        );
        if proven {
            let mut full = Validator::new(&spec.arena, options);
            assert!(
                full.validate(schema, tree.root()),
                "one pass proved valid what the validator refuses (strict {strict}): {text}"
            );
        }
        proven_strict |= proven && strict;
    }
    proven_strict
}

pub(crate) fn check_spec(name: &str, spec: &Arc<ApiSpec>) {
    let spec = spec.clone();
    let detector = OpenApiDetector::new(spec.clone(), OpenApiPolicy::default());
    let mut skipped: std::collections::BTreeMap<&str, usize> = Default::default();
    let (mut tried, mut valid_failures, mut mutations, mut mutation_failures) =
        (0, Vec::new(), 0, Vec::new());
    // Generated JSON bodies, and those the one-pass check proved valid.
    let (mut bodies, mut proven) = (0usize, 0usize);
    for index in 0..spec.operations.len() {
        let built = match build(&spec, index) {
            Ok(built) => built,
            Err(reason) => {
                *skipped.entry(reason).or_insert(0usize) += 1;
                continue;
            }
        };
        tried += 1;
        let op_name = spec.operations[index].name();
        let body = built.body.as_ref().map(|(_, v, _)| v.clone());
        let findings = send(&detector, &built, body.as_ref(), &built.path);
        if !findings.is_empty() {
            valid_failures.push(format!(
                "{op_name}: {} {:?}",
                body.as_ref()
                    .map(|b| b.to_string().chars().take(600).collect::<String>())
                    .unwrap_or_default(),
                findings
                    .iter()
                    .map(|f| (f.location.as_str().to_owned(), f.message.clone()))
                    .collect::<Vec<_>>()
            ));
            continue;
        }
        if let Some(param) = &built.integer_path_param {
            let template = &spec.operations[index].template;
            // Rebuild the path with a non-numeric value in this variable only.
            let op = &spec.operations[index];
            let mut mutated = format!(
                "{}{}",
                op.base_path,
                crate::spec::routing_template(template)
            );
            let segments_ok = built.path.split('/').count() == mutated.split('/').count();
            if segments_ok {
                let concrete: Vec<&str> = built.path.split('/').collect();
                let templ: Vec<&str> = mutated.split('/').collect();
                mutated = templ
                    .iter()
                    .zip(&concrete)
                    .map(|(t, c)| {
                        if *t == format!("{{{param}}}") {
                            "notanumber"
                        } else {
                            *c
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("/");
                mutations += 1;
                let findings = send(&detector, &built, body.as_ref(), &mutated);
                let want = format!("path.{param}");
                if !findings
                    .iter()
                    .any(|f| f.location.as_str() == want && f.enforcement.is_some())
                {
                    mutation_failures.push(format!(
                        "{op_name}: integer path `{param}` accepted: {findings:?}"
                    ));
                }
            }
        }
        let Some((_, Value::Object(map), kind)) = &built.body else {
            continue;
        };
        let kind = *kind;
        if kind == BodyKind::Form {
            let Some(schema) = spec.operations[index]
                .request_body
                .as_ref()
                .and_then(|rb| rb.contents.iter().find(|c| c.kind == BodyKind::Form))
                .and_then(|c| c.schema)
            else {
                continue;
            };
            if closed_root(&spec, schema).0 {
                mutations += 1;
                let mut extra = map.clone();
                extra.insert("palisade_injected".into(), Value::String("1".into()));
                let findings = send(&detector, &built, Some(&Value::Object(extra)), &built.path);
                if !findings.iter().any(|f| {
                    f.location.as_str() == "form.palisade_injected"
                        && f.category == Category::MassAssignment
                }) {
                    mutation_failures.push(format!(
                        "{op_name}: unknown form field accepted: {findings:?}"
                    ));
                }
            }
            continue;
        }
        let Some(schema) = spec.operations[index]
            .request_body
            .as_ref()
            .and_then(|rb| rb.contents.iter().find(|c| c.kind == BodyKind::Json))
            .and_then(|c| c.schema)
        else {
            continue;
        };
        let (closed, typed) = closed_root(&spec, schema);
        bodies += 1;
        if same_verdict_on_tree_and_value(&spec, schema, &Value::Object(map.clone())) {
            proven += 1;
        }
        let mut extra = map.clone();
        extra.insert("palisade_injected".into(), Value::Bool(true));
        same_verdict_on_tree_and_value(&spec, schema, &Value::Object(extra));
        if let Some(prop) = typed.first() {
            let mut wrong = map.clone();
            wrong.insert(prop.clone(), serde_json::json!([["palisade"]]));
            same_verdict_on_tree_and_value(&spec, schema, &Value::Object(wrong));
        }
        if closed {
            mutations += 1;
            let mut extra = map.clone();
            extra.insert("palisade_injected".into(), Value::Bool(true));
            let findings = send(&detector, &built, Some(&Value::Object(extra)), &built.path);
            if !findings.iter().any(|f| {
                f.location.as_str() == "json.$.palisade_injected"
                    && f.category == Category::MassAssignment
            }) {
                mutation_failures.push(format!(
                    "{op_name}: unknown property accepted: {findings:?}"
                ));
            }
        }
        if let Some(prop) = typed.iter().find(|p| map.contains_key(p.as_str())) {
            mutations += 1;
            let mut wrong = map.clone();
            wrong.insert(prop.clone(), serde_json::json!([["palisade"]]));
            let findings = send(&detector, &built, Some(&Value::Object(wrong)), &built.path);
            let want = format!("json.$.{prop}");
            let shown_ok = findings.iter().any(|f| {
                f.location.as_str() == want || f.location.as_str().starts_with("json.$['")
            });
            if !shown_ok || findings.iter().any(|f| f.enforcement.is_none()) {
                mutation_failures.push(format!(
                    "{op_name}: wrong type at {prop} not located: {findings:?}"
                ));
            }
        }
    }
    eprintln!(
        "{name}: {tried}/{} operations generated, {} valid refused; {mutations} mutations, {} accepted",
        spec.operations.len(),
        valid_failures.len(),
        mutation_failures.len()
    );
    if !skipped.is_empty() {
        eprintln!("  not generated: {skipped:?}");
    }
    eprintln!("  {proven} of {bodies} generated JSON bodies proven valid in one pass");
    let (responses, response_failures) = check_responses(&spec);
    eprintln!(
        "  {responses} responses checked, {} failures",
        response_failures.len()
    );
    for f in response_failures.iter().take(6) {
        eprintln!("  {f}");
    }
    assert!(
        response_failures.len() * 20 <= responses,
        "{name}: response checks failed, see above"
    );
    for f in valid_failures.iter().chain(&mutation_failures).take(6) {
        eprintln!("  {f}");
    }
    // Every mutation must be refused at the right place. Generated valid
    // requests may still be refused where the generator's heuristics
    // (allOf-merged enums, operations sharing a route through `#fragment` or
    // `?query` templates) produce something the document does not allow;
    // those are listed above and bounded here.
    assert!(
        mutation_failures.is_empty(),
        "{name}: mutated requests accepted, see above"
    );
    assert!(
        valid_failures.len() * 20 <= tried,
        "{name}: too many generated requests refused, see above"
    );
    assert!(
        spec.operations.is_empty() || tried > 0,
        "{name}: no request could be generated"
    );
}

/// Generated valid responses pass block mode untouched; strip mode removes
/// exactly an injected undeclared property and nothing else.
fn check_responses(spec: &Arc<ApiSpec>) -> (usize, Vec<String>) {
    let mut gen = Generator::new(&spec.arena, 2);
    gen.direction = crate::validate::Direction::Response;
    let block = OpenApiDetector::new(
        spec.clone(),
        OpenApiPolicy {
            response_mode: crate::ResponseMode::Block,
            ..OpenApiPolicy::default()
        },
    );
    let strip = OpenApiDetector::new(
        spec.clone(),
        OpenApiPolicy {
            response_mode: crate::ResponseMode::Strip,
            ..OpenApiPolicy::default()
        },
    );
    let mut checked = 0;
    let mut failures = Vec::new();
    for (index, op) in spec.operations.iter().enumerate() {
        if op.overrides.response.is_some() {
            continue;
        }
        let Ok(built) = build(spec, index) else {
            continue;
        };
        let Some((status, schema)) = op.responses.iter().find_map(|(key, r)| {
            let crate::spec::StatusKey::Exact(code) = key else {
                return None;
            };
            let content = r
                .contents
                .iter()
                .find(|c| c.kind == BodyKind::Json && c.range == "application/json")?;
            ((200..300).contains(code)).then_some((*code, content.schema?))
        }) else {
            continue;
        };
        let Some(body) = gen.value(schema) else {
            continue;
        };
        checked += 1;
        let uri = if built.query.is_empty() {
            built.path.clone()
        } else {
            format!("{}?{}", built.path, built.query)
        };
        let respond = |d: &OpenApiDetector, body: &Value| {
            let mut head = RequestHead::synthetic(built.method.clone(), &uri);
            for (n, v) in &built.headers {
                if let (Ok(n), Ok(v)) = (
                    http::HeaderName::from_bytes(n.as_bytes()),
                    HeaderValue::from_str(v),
                ) {
                    head.headers.append(n, v);
                }
            }
            let mut tx = Transaction::new(head);
            d.inspect(Phase::RequestHead, &mut tx);
            let mut headers = http::HeaderMap::new();
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            tx.response = Some(palisade_core::ResponseHead {
                status: http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK),
                version: http::Version::HTTP_11,
                headers,
            });
            tx.response_body = Some(bytes::Bytes::from(
                serde_json::to_vec(body).unwrap_or_default(),
            ));
            d.inspect(Phase::ResponseHead, &mut tx);
            d.inspect(Phase::ResponseBody, &mut tx);
            tx
        };
        let tx = respond(&block, &body);
        let response_findings: Vec<_> = tx
            .findings
            .iter()
            .filter(|f| f.rule_id.starts_with("openapi.response"))
            .collect();
        if !response_findings.is_empty() {
            failures.push(format!(
                "{}: valid response refused: {body} {response_findings:?}",
                op.name()
            ));
            continue;
        }
        let tx = respond(&strip, &body);
        if tx.response_edit.replace_body.is_some() {
            failures.push(format!(
                "{}: valid response stripped: {body} -> {:?}",
                op.name(),
                tx.response_edit
                    .replace_body
                    .as_ref()
                    .map(|(b, _)| String::from_utf8_lossy(b).into_owned())
            ));
            continue;
        }
        if let Value::Object(map) = &body {
            if closed_root(spec, schema).0 {
                let mut extra = map.clone();
                extra.insert("palisade_internal".into(), serde_json::json!({"secret": 1}));
                let tx = respond(&strip, &Value::Object(extra));
                let stripped: Option<Value> = tx
                    .response_edit
                    .replace_body
                    .as_ref()
                    .and_then(|(b, _)| serde_json::from_slice(b).ok());
                if stripped.as_ref() != Some(&body) {
                    failures.push(format!(
                        "{}: strip did not restore the documented body: {stripped:?}",
                        op.name()
                    ));
                }
            }
        }
    }
    (checked, failures)
}

macro_rules! document_tests {
    ($($test:ident => $file:expr, $ops:expr, $hooks:expr;)*) => {
        $(
            #[test]
            fn $test() {
                check_document($file, $ops, $hooks);
            }
        )*
    };
}

document_tests! {
    generated_requests_stripe => "stripe/spec3.yaml", 452, 0;
    generated_requests_okta => "okta/management-oneOfInheritance.yaml", 732, 0;
    generated_requests_box => "box/openapi.json", 296, 0;
    generated_requests_digitalocean => "digitalocean/specification/DigitalOcean-public.v2.yaml", 659, 0;
    generated_requests_twilio => "twilio/twilio_api_v2010.json", 197, 0;
    generated_requests_kratos => "ory-kratos/api.json", 60, 0;
    generated_requests_petstore => "oai-examples/v3.0/petstore-expanded.yaml", 4, 0;
    generated_requests_callback => "oai-examples/v3.0/callback-example.yaml", 1, 0;
    generated_requests_link => "oai-examples/v3.0/link-example.yaml", 6, 0;
    generated_requests_webhook => "oai-examples/v3.1/webhook-example.yaml", 0, 1;
    generated_requests_scopes => "oai-examples/v3.1/non-oauth-scopes.yaml", 1, 0;
    generated_requests_openai => "openai/openapi.json", 288, 16;
    generated_requests_letta => "letta/openapi.json", 302, 0;
    generated_requests_svix => "svix/lib-openapi.json", 252, 14;
    generated_requests_adyen_checkout => "adyen/CheckoutService-v71.json", 28, 0;
    generated_requests_adyen_balance => "adyen/BalancePlatformService-v2.json", 91, 0;
    generated_requests_adyen_management => "adyen/ManagementService-v3.json", 134, 0;
    generated_requests_adyen_transfer => "adyen/TransferService-v4.json", 12, 0;
    generated_requests_adyen_webhooks => "adyen/Webhooks-v1.json", 0, 48;
    generated_requests_hatchet => "hatchet/openapi/openapi.yaml", 148, 0;
    generated_requests_museum => "redocly-museum/openapi.yaml", 8, 1;
}

#[test]
fn every_listed_document_is_tested() {
    assert_eq!(REAL_SPECS.len(), 21);
}
