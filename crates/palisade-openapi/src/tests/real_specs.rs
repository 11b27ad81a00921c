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

fn build(spec: &ApiSpec, index: usize) -> Option<Built> {
    let op = spec.operations.get(index)?;
    let gen = Generator {
        arena: &spec.arena,
        optional: 2,
    };
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
        let schema = p.schema?;
        if p.json_content || p.location == ParamIn::Cookie {
            return None;
        }
        let value = gen.value(schema)?;
        match (p.location, shape(&spec.arena, schema)) {
            (ParamIn::Path, Shape::Primitive) if p.style == Style::Simple => {
                let text = scalar_text(&value)?;
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
            (ParamIn::Query, Shape::Primitive) => {
                query.push(format!("{}={}", enc(&p.name), enc(&scalar_text(&value)?)))
            }
            (ParamIn::Query, Shape::Array) if p.style == Style::Form && p.explode => {
                for item in value.as_array()? {
                    query.push(format!("{}={}", enc(&p.name), enc(&scalar_text(item)?)));
                }
            }
            (ParamIn::Header, Shape::Primitive) => {
                headers.push((leak(&p.name), scalar_text(&value)?))
            }
            _ => return None,
        }
    }
    if path.contains('{') {
        return None;
    }
    let body = match &op.request_body {
        None => None,
        Some(rb) => {
            let content = rb.contents.iter().find(|c| {
                c.schema.is_some() && matches!(c.kind, BodyKind::Json | BodyKind::Form)
            })?;
            let value = gen.value(content.schema?)?;
            if content.kind == BodyKind::Form
                && !value
                    .as_object()?
                    .values()
                    .all(|v| scalar_text(v).is_some())
            {
                return None;
            }
            let media = if content.range.contains('*') {
                "application/json".to_owned()
            } else {
                content.range.clone()
            };
            Some((media, value, content.kind))
        }
    };
    Some(Built {
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

fn encode_body(kind: BodyKind, value: &Value) -> Vec<u8> {
    match kind {
        BodyKind::Form => value
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        format!("{}={}", enc(k), enc(&scalar_text(v).unwrap_or_default()))
                    })
                    .collect::<Vec<_>>()
                    .join("&")
            })
            .unwrap_or_default()
            .into_bytes(),
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

fn check_document(name: &str) {
    let Some(spec) = loaded(name) else { return };
    let detector = OpenApiDetector::new(spec.clone(), OpenApiPolicy::default());
    let (mut tried, mut valid_failures, mut mutations, mut mutation_failures) =
        (0, Vec::new(), 0, Vec::new());
    for index in 0..spec.operations.len() {
        let Some(built) = build(&spec, index) else {
            continue;
        };
        tried += 1;
        let op_name = spec.operations[index].name();
        let body = built.body.as_ref().map(|(_, v, _)| v.clone());
        let findings = send(&detector, &built, body.as_ref(), &built.path);
        if !findings.is_empty() {
            valid_failures.push(format!(
                "{op_name}: {:?}",
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
        let Some((_, Value::Object(map), BodyKind::Json)) = &built.body else {
            continue;
        };
        let Some(schema) = spec.operations[index]
            .request_body
            .as_ref()
            .and_then(|rb| rb.contents.iter().find(|c| c.kind == BodyKind::Json))
            .and_then(|c| c.schema)
        else {
            continue;
        };
        let (closed, typed) = closed_root(&spec, schema);
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
                f.location.as_str() == want || f.location.as_str().starts_with(&format!("json.$['"))
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

macro_rules! document_tests {
    ($($test:ident => $file:expr),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                check_document($file);
            }
        )*
    };
}

document_tests! {
    generated_requests_stripe => "stripe/spec3.yaml",
    generated_requests_okta => "okta/management-oneOfInheritance.yaml",
    generated_requests_box => "box/openapi.json",
    generated_requests_digitalocean => "digitalocean/specification/DigitalOcean-public.v2.yaml",
    generated_requests_twilio => "twilio/twilio_api_v2010.json",
    generated_requests_kratos => "ory-kratos/api.json",
    generated_requests_petstore => "oai-examples/v3.0/petstore-expanded.yaml",
    generated_requests_callback => "oai-examples/v3.0/callback-example.yaml",
    generated_requests_link => "oai-examples/v3.0/link-example.yaml",
    generated_requests_webhook => "oai-examples/v3.1/webhook-example.yaml",
    generated_requests_scopes => "oai-examples/v3.1/non-oauth-scopes.yaml",
    generated_requests_openai => "openai/openapi.json",
    generated_requests_letta => "letta/openapi.json",
    generated_requests_svix => "svix/lib-openapi.json",
    generated_requests_adyen_checkout => "adyen/CheckoutService-v71.json",
    generated_requests_adyen_balance => "adyen/BalancePlatformService-v2.json",
    generated_requests_adyen_management => "adyen/ManagementService-v3.json",
    generated_requests_adyen_transfer => "adyen/TransferService-v4.json",
    generated_requests_adyen_webhooks => "adyen/Webhooks-v1.json",
    generated_requests_hatchet => "hatchet/openapi/openapi.yaml",
    generated_requests_museum => "redocly-museum/openapi.yaml",
}

#[test]
fn every_listed_document_is_tested() {
    assert_eq!(REAL_SPECS.len(), 21);
}
