//! The `palisade_core::Detector` that enforces a loaded description.

use crate::json_tree::{JsonError, JsonTree};
use crate::params::{self, Malformed, Shape};
use crate::spec::{
    media_matches, ApiSpec, BodyKind, EnforceMode, MediaContent, Operation, ParamIn, ResponseMode,
    RouteLookup, Strictness,
};
use crate::stream_check::{self, Streamable};
use crate::strip::strip;
use crate::validate::{Direction, Instance, Options, Validator, Violation, ViolationKind};
use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use palisade_core::{
    Category, Detector, Enforcement, Finding, Location, Phase, Severity, Transaction,
};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::sync::Arc;

/// Size and shape limits, always on.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest request body inspected; larger bodies are refused (413).
    pub max_body_bytes: usize,
    /// Deepest JSON nesting accepted in a request or response body.
    pub max_json_depth: usize,
    /// Most violations reported for one request or response.
    pub max_violations: usize,
    /// Most parts in a multipart body.
    pub max_multipart_parts: usize,
    /// Most query parameters (pairs) in one request.
    pub max_query_pairs: usize,
    /// A request whose body was too large for the proxy to buffer.
    pub uninspected_request: EnforceMode,
    /// A response whose body was too large for the proxy to buffer.
    pub uninspected_response: EnforceMode,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1 << 20,
            max_json_depth: 64,
            max_violations: 8,
            max_multipart_parts: 256,
            max_query_pairs: 512,
            uninspected_request: EnforceMode::Block,
            uninspected_response: EnforceMode::Log,
        }
    }
}

/// What the detector does with what the description does not allow.
///
/// `x-palisade-request-mode`, `x-palisade-response-mode`,
/// `x-palisade-unknown-endpoints` and `x-palisade-strictness` in the document
/// take precedence: on an operation first, then its path item, then the root;
/// these fields apply where the document is silent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpenApiPolicy {
    /// Parameter, content-type and body violations.
    pub request_mode: EnforceMode,
    /// Undocumented status codes, content types and body violations in responses.
    pub response_mode: ResponseMode,
    /// Paths or methods absent from the description (shadow endpoints).
    pub unknown_endpoints: EnforceMode,
    /// Operations marked `deprecated: true` (zombie endpoints).
    pub deprecated_endpoints: EnforceMode,
    /// Whether undeclared properties are violations: request properties and
    /// query parameters, and response properties in `block`/`log` response modes.
    pub strictness: Strictness,
    pub limits: Limits,
}

impl Default for OpenApiPolicy {
    fn default() -> Self {
        OpenApiPolicy {
            request_mode: EnforceMode::Block,
            response_mode: ResponseMode::Log,
            unknown_endpoints: EnforceMode::Block,
            deprecated_endpoints: EnforceMode::Log,
            strictness: Strictness::Strict,
            limits: Limits::default(),
        }
    }
}

/// Carried in `tx.state` from the request head to the later phases.
#[derive(Debug, Clone, Copy)]
struct MatchedOperation(usize);

/// Operations sharing the matched path and method, when there are several.
#[derive(Debug, Clone)]
struct Alternatives(Vec<usize>);

fn operation_name(op: &Operation) -> String {
    match &op.operation_id {
        Some(id) => id.clone(),
        None => format!("{} {}", op.method, op.template),
    }
}

/// Enforces an OpenAPI description on requests and responses.
pub struct OpenApiDetector {
    spec: Arc<ApiSpec>,
    policy: OpenApiPolicy,
    root_unknown: Option<EnforceMode>,
    /// False when no operation checks responses, so the proxy need not buffer them.
    inspects_responses: bool,
    /// Which schemas a JSON body can be proven valid against in one pass.
    streamable: Streamable,
}

impl std::fmt::Debug for OpenApiDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenApiDetector")
            .field("operations", &self.spec.operation_count())
            .field("policy", &self.policy)
            .finish()
    }
}

struct Report<'a> {
    mode: EnforceMode,
    status: StatusCode,
    rule: &'static str,
    category: Category,
    location: Location,
    title: String,
    message: String,
    /// Raw excerpt of the offending value; `Finding::new` redacts it.
    evidence: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    _lifetime: std::marker::PhantomData<&'a ()>,
}

impl<'a> Report<'a> {
    fn new(
        mode: EnforceMode,
        status: StatusCode,
        rule: &'static str,
        category: Category,
        location: Location,
        title: String,
    ) -> Self {
        Report {
            mode,
            status,
            rule,
            category,
            location,
            message: title.clone(),
            title,
            evidence: String::new(),
            headers: Vec::new(),
            _lifetime: std::marker::PhantomData,
        }
    }

    fn finding(self) -> Finding {
        let finding = Finding::new(
            self.rule,
            self.category,
            Severity::Error,
            self.location,
            &self.evidence,
            self.message,
        );
        match self.mode {
            EnforceMode::Block => {
                let mut enforcement = Enforcement::new(self.status, self.title);
                for (name, value) in self.headers {
                    enforcement = enforcement.with_header(name, value);
                }
                finding.enforce(enforcement)
            }
            EnforceMode::Log => Finding {
                severity: Severity::Notice,
                ..finding
            }
            .with_score(0),
        }
    }
}

impl OpenApiDetector {
    pub fn new(spec: Arc<ApiSpec>, policy: OpenApiPolicy) -> Self {
        let root_unknown = spec.root_unknown_endpoints;
        let inspects_responses = spec
            .operations
            .iter()
            .any(|op| op.overrides.response.unwrap_or(policy.response_mode) != ResponseMode::Off);
        OpenApiDetector {
            streamable: Streamable::new(&spec.arena),
            spec,
            policy,
            root_unknown,
            inspects_responses,
        }
    }

    pub fn spec(&self) -> &Arc<ApiSpec> {
        &self.spec
    }

    fn operation(&self, tx: &Transaction) -> Option<&Operation> {
        let MatchedOperation(index) = tx.state.get::<MatchedOperation>()?;
        self.spec.operations.get(*index)
    }

    fn request_mode(&self, op: &Operation) -> EnforceMode {
        op.overrides.request.unwrap_or(self.policy.request_mode)
    }

    fn response_mode(&self, op: &Operation) -> ResponseMode {
        op.overrides.response.unwrap_or(self.policy.response_mode)
    }

    fn strict(&self, op: &Operation) -> bool {
        op.overrides.strictness.unwrap_or(self.policy.strictness) == Strictness::Strict
    }

    fn options(&self, op: &Operation, direction: Direction, coerce: bool) -> Options {
        Options {
            direction,
            strict: self.strict(op),
            coerce,
            max_errors: self.policy.limits.max_violations.max(1),
        }
    }

    fn request_head(&self, tx: &mut Transaction) {
        let method = tx.request.method.clone();
        let path = tx.request.path().to_owned();
        let found = match self.spec.lookup(&method, &path) {
            RouteLookup::NotFound => {
                let mode = self.root_unknown.unwrap_or(self.policy.unknown_endpoints);
                tx.report(
                    Report::new(
                        mode,
                        StatusCode::NOT_FOUND,
                        "openapi.shadow_endpoint",
                        Category::ShadowEndpoint,
                        Location::new("path"),
                        "Endpoint not in the API description".into(),
                    )
                    .finding(),
                );
                return;
            }
            RouteLookup::MethodNotAllowed(route) => {
                let mode = route
                    .methods
                    .iter()
                    .filter_map(|(_, i)| self.spec.operations.get(*i))
                    .find_map(|op| op.overrides.unknown_endpoints)
                    .or(self.root_unknown)
                    .unwrap_or(self.policy.unknown_endpoints);
                let allow = route
                    .methods
                    .iter()
                    .map(|(m, _)| m.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                let mut report = Report::new(
                    mode,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "openapi.method_not_allowed",
                    Category::ShadowEndpoint,
                    Location::new("method"),
                    format!("Method not in the API description for {}", route.template),
                );
                if let Ok(value) = HeaderValue::from_str(&allow) {
                    report.headers.push((http::header::ALLOW, value));
                }
                tx.report(report.finding());
                return;
            }
            RouteLookup::Found(found) => found,
        };
        let mut index = self.spec.refine_by_query(found.index, tx.request.query());
        let alternatives = self.spec.alternatives(index);
        let Some(op) = self.spec.operations.get(index) else {
            return;
        };
        let path_params: Vec<(&str, &str)> = op
            .variables
            .iter()
            .zip(found.path_params.iter())
            .map(|(name, (_, value))| (name.as_str(), *value))
            .collect();
        let mut findings = self.check_parameters(op, tx, &path_params);
        if !findings.is_empty() {
            // Operations sharing this path and method: the first whose
            // parameters accept the request.
            for alternative in alternatives.iter().copied().filter(|a| *a != index) {
                let Some(other) = self.spec.operations.get(alternative) else {
                    continue;
                };
                if self.check_parameters(other, tx, &path_params).is_empty() {
                    index = alternative;
                    findings.clear();
                    break;
                }
            }
        }
        let Some(op) = self.spec.operations.get(index) else {
            return;
        };
        tx.operation = Some(operation_name(op));
        tx.state.insert(MatchedOperation(index));
        if alternatives.len() > 1 {
            tx.state.insert(Alternatives(alternatives));
        }
        if op.deprecated {
            tx.report(
                Report::new(
                    self.policy.deprecated_endpoints,
                    StatusCode::GONE,
                    "openapi.zombie_endpoint",
                    Category::ZombieEndpoint,
                    Location::new("path"),
                    format!("Deprecated operation {} called", op.name()),
                )
                .finding(),
            );
        }
        for f in findings {
            tx.report(f);
        }
        if let Some(media) = tx.request.media_type() {
            let candidates: Vec<&Operation> = match tx.state.get::<Alternatives>() {
                Some(Alternatives(list)) => list
                    .iter()
                    .filter_map(|i| self.spec.operations.get(*i))
                    .collect(),
                None => vec![op],
            };
            let refused = candidates.iter().all(|candidate| {
                let declared = candidate
                    .request_body
                    .as_ref()
                    .map(|b| b.contents.as_slice())
                    .unwrap_or(&[]);
                !declared.is_empty() && !declared.iter().any(|c| media_matches(&c.range, &media))
            });
            if refused {
                tx.report(self.unsupported_media(op));
            }
        }
    }

    fn unsupported_media(&self, op: &Operation) -> Finding {
        Report::new(
            self.request_mode(op),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "openapi.content_type",
            Category::MethodOrContentType,
            Location::header("content-type"),
            "Content-Type not accepted by this operation".into(),
        )
        .finding()
    }

    fn check_parameters(
        &self,
        op: &Operation,
        tx: &Transaction,
        path_params: &[(&str, &str)],
    ) -> Vec<Finding> {
        let mode = self.request_mode(op);
        let mut findings = Vec::new();
        let mut pairs = tx
            .request
            .query()
            .map(params::parse_pairs)
            .unwrap_or_default();
        if pairs.len() > self.policy.limits.max_query_pairs {
            findings.push(
                Report::new(
                    mode,
                    StatusCode::BAD_REQUEST,
                    "openapi.limit",
                    Category::ResourceLimit,
                    Location::new("query"),
                    "Too many query parameters".into(),
                )
                .finding(),
            );
            pairs.truncate(self.policy.limits.max_query_pairs);
        }
        let cookies: Vec<params::Pair<'_>> = tx
            .request
            .headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(params::cookie_pairs)
            .collect();
        let mut absorbs_unknown_query = false;
        // One validator for every parameter: its buffers are reused.
        let mut validator =
            Validator::new(&self.spec.arena, self.options(op, Direction::Request, true));
        for param in &op.parameters {
            let shape = param
                .schema
                .filter(|_| !param.json_content)
                .map_or(Shape::Primitive, |s| params::shape(&self.spec.arena, s));
            let properties: Vec<&str> = param
                .schema
                .filter(|_| shape == Shape::Object)
                .map(|s| {
                    self.spec
                        .arena
                        .node(s)
                        .properties
                        .iter()
                        .map(|(k, _)| k.as_ref())
                        .collect()
                })
                .unwrap_or_default();
            if param.location == ParamIn::Query
                && shape == Shape::Object
                && param.explode
                && properties.is_empty()
            {
                absorbs_unknown_query = true;
            }
            let label = || format!("{}.{}", param.location.as_str(), param.name);
            let raw: Result<Option<Value>, Malformed> = match param.location {
                ParamIn::Path => match path_params.iter().find(|(n, _)| *n == param.name) {
                    Some((_, raw)) if param.json_content => {
                        Ok(Some(Value::String(params::decode(raw, false).into_owned())))
                    }
                    Some((_, raw)) => params::path_value(param, raw, shape).map(Some),
                    None => Ok(None),
                },
                ParamIn::Query | ParamIn::Cookie => {
                    let source = if param.location == ParamIn::Query {
                        &pairs
                    } else {
                        &cookies
                    };
                    params::query_value(
                        param,
                        source,
                        if param.json_content {
                            Shape::Primitive
                        } else {
                            shape
                        },
                        &properties,
                    )
                }
                ParamIn::Header => {
                    let values: Vec<&str> = tx
                        .request
                        .headers
                        .get_all(param.name.as_str())
                        .iter()
                        .filter_map(|v| v.to_str().ok())
                        .collect();
                    if values.is_empty() {
                        Ok(None)
                    } else if param.json_content {
                        Ok(Some(Value::String(values.join(", "))))
                    } else {
                        params::header_value(param, &values.join(", "), shape).map(Some)
                    }
                }
            };
            let value = match raw {
                Err(Malformed(what)) => {
                    findings.push(self.param_finding(
                        mode,
                        Location::new(label()),
                        format!("Parameter {} is malformed ({what})", label()),
                    ));
                    continue;
                }
                Ok(None) => {
                    if param.required {
                        findings.push(self.param_finding(
                            mode,
                            Location::new(label()),
                            format!("Parameter {} violates `required`", label()),
                        ));
                    }
                    continue;
                }
                Ok(Some(v)) => v,
            };
            let value = if param.json_content {
                match value.as_str().map(serde_json::from_str::<Value>) {
                    Some(Ok(v)) => v,
                    _ => {
                        findings.push(self.param_finding(
                            mode,
                            Location::new(label()),
                            format!("Parameter {} is not valid JSON", label()),
                        ));
                        continue;
                    }
                }
            } else {
                value
            };
            if param.location == ParamIn::Query && param.allow_empty && value.as_str() == Some("") {
                // `allowEmptyValue`: `?flag=` is the parameter sent without a value.
                continue;
            }
            let Some(schema) = param.schema else { continue };
            validator.set_options(self.options(op, Direction::Request, !param.json_content));
            if !validator.validate(schema, &value) {
                for violation in validator.errors.drain(..) {
                    let sub = violation.location.strip_prefix('$').unwrap_or("");
                    let where_ = format!("{}{sub}", label());
                    findings.push(self.violation_finding(
                        mode,
                        Location::new(where_.clone()),
                        &where_,
                        &violation,
                        Direction::Request,
                    ));
                }
            }
        }
        if self.strict(op) && !absorbs_unknown_query {
            let fixed_query = op.template.split_once('?').map(|(_, q)| q);
            for (key, _) in &pairs {
                let base = key.split('[').next().unwrap_or(key);
                let fixed_in_template = fixed_query
                    .is_some_and(|q| q.split('&').any(|kv| kv.split('=').next() == Some(base)));
                let known = fixed_in_template
                    || op
                        .parameters
                        .iter()
                        .any(|p| p.location == ParamIn::Query && p.name == base);
                if !known {
                    let mut shown = String::from("query");
                    crate::validate::push_key(&mut shown, base);
                    findings.push(
                        Report::new(
                            mode,
                            StatusCode::BAD_REQUEST,
                            "openapi.unknown_parameter",
                            Category::MassAssignment,
                            Location::new(shown.clone()),
                            format!("Parameter {shown} is not declared"),
                        )
                        .finding(),
                    );
                }
            }
        }
        findings
    }

    fn param_finding(&self, mode: EnforceMode, location: Location, title: String) -> Finding {
        Report::new(
            mode,
            StatusCode::BAD_REQUEST,
            "openapi.parameter",
            Category::SchemaViolation,
            location,
            title,
        )
        .finding()
    }

    fn violation_finding(
        &self,
        mode: EnforceMode,
        location: Location,
        shown: &str,
        v: &Violation,
        direction: Direction,
    ) -> Finding {
        let side = match direction {
            Direction::Request => "Request",
            Direction::Response => "Response",
        };
        let (rule, category, title) = match (v.kind, direction) {
            (ViolationKind::UnknownProperty, Direction::Request) => (
                "openapi.mass_assignment",
                Category::MassAssignment,
                format!(
                    "{side} {shown} is not a declared property (`{}`)",
                    v.keyword
                ),
            ),
            (ViolationKind::Complexity, _) => (
                "openapi.complexity",
                Category::ResourceLimit,
                format!("{side} {shown} is too complex to validate"),
            ),
            (ViolationKind::ReadOnly, _) => (
                "openapi.mass_assignment",
                Category::MassAssignment,
                format!("{side} {shown} is readOnly (`readOnly`)"),
            ),
            (ViolationKind::UnknownProperty | ViolationKind::WriteOnly, Direction::Response) => (
                "openapi.response.exposure",
                Category::ExcessiveDataExposure,
                format!(
                    "{side} {shown} is not a documented property (`{}`)",
                    v.keyword
                ),
            ),
            (_, Direction::Request) => (
                "openapi.schema",
                Category::SchemaViolation,
                format!("{side} {shown} violates `{}`", v.keyword),
            ),
            (_, Direction::Response) => (
                "openapi.response.schema",
                Category::SchemaViolation,
                format!("{side} {shown} violates `{}`", v.keyword),
            ),
        };
        let status = match direction {
            Direction::Request => StatusCode::BAD_REQUEST,
            Direction::Response => StatusCode::BAD_GATEWAY,
        };
        let mut report = Report::new(mode, status, rule, category, location, title);
        report.evidence = v.evidence.clone();
        report.finding()
    }

    fn request_body(&self, tx: &mut Transaction) {
        let Some(MatchedOperation(chosen)) = tx.state.get::<MatchedOperation>().copied() else {
            return;
        };
        let Some(op) = self.spec.operations.get(chosen) else {
            return;
        };
        let findings = self.body_findings(op, tx);
        let alternatives = if findings.is_empty() {
            Vec::new()
        } else {
            tx.state
                .get::<Alternatives>()
                .map(|a| a.0.clone())
                .unwrap_or_default()
        };
        if findings.is_empty() || alternatives.is_empty() {
            for f in findings {
                tx.report(f);
            }
            return;
        }
        // Operations sharing this path and method (`/x#add`, `/x#update`):
        // the request is fine if one of them accepts it.
        for alternative in alternatives {
            let Some(other) = self.spec.operations.get(alternative) else {
                continue;
            };
            if alternative != chosen && self.body_findings(other, tx).is_empty() {
                tx.state.insert(MatchedOperation(alternative));
                tx.operation = Some(operation_name(other));
                return;
            }
        }
        for f in findings {
            tx.report(f);
        }
    }

    fn body_findings(&self, op: &Operation, tx: &Transaction) -> Vec<Finding> {
        let mode = self.request_mode(op);
        let limits = &self.policy.limits;
        if tx.request_body_uninspected {
            return vec![Report::new(
                limits.uninspected_request,
                StatusCode::PAYLOAD_TOO_LARGE,
                "openapi.body_uninspected",
                Category::ResourceLimit,
                Location::new("body"),
                "Request body too large to inspect".into(),
            )
            .finding()];
        }
        let body = tx.request_body.clone().unwrap_or_default();
        let Some(spec_body) = &op.request_body else {
            if !body.is_empty() {
                return vec![Report::new(
                    mode,
                    StatusCode::BAD_REQUEST,
                    "openapi.body",
                    Category::SchemaViolation,
                    Location::new("body"),
                    "This operation takes no request body".into(),
                )
                .finding()];
            }
            return Vec::new();
        };
        if body.is_empty() {
            if spec_body.required {
                return vec![Report::new(
                    mode,
                    StatusCode::BAD_REQUEST,
                    "openapi.body",
                    Category::SchemaViolation,
                    Location::new("body"),
                    "Request body violates `required`".into(),
                )
                .finding()];
            }
            return Vec::new();
        }
        if body.len() > limits.max_body_bytes {
            return vec![Report::new(
                mode,
                StatusCode::PAYLOAD_TOO_LARGE,
                "openapi.limit",
                Category::ResourceLimit,
                Location::new("body"),
                "Request body exceeds the size limit".into(),
            )
            .finding()];
        }
        let media = tx.request.media_type().unwrap_or_default();
        let Some(content) = spec_body
            .contents
            .iter()
            .find(|c| media_matches(&c.range, &media))
        else {
            if !spec_body.contents.is_empty() {
                return vec![self.unsupported_media(op)];
            }
            return Vec::new();
        };
        let content_type = tx
            .request
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        self.check_body(op, content, &body, content_type, Direction::Request, mode)
    }

    /// A JSON text as an owned `Value` (for multipart parts and responses to
    /// strip), or `None` when it is not JSON or nests deeper than the limit.
    fn json_value(&self, bytes: &[u8]) -> Option<Value> {
        JsonTree::parse_bytes(bytes, self.policy.limits.max_json_depth)
            .ok()
            .map(|tree| tree.root().to_value())
    }

    /// Parses and validates one body; returns the findings.
    fn check_body(
        &self,
        op: &Operation,
        content: &MediaContent,
        body: &[u8],
        content_type: &str,
        direction: Direction,
        mode: EnforceMode,
    ) -> Vec<Finding> {
        let (status, side) = match direction {
            Direction::Request => (StatusCode::BAD_REQUEST, "Request"),
            Direction::Response => (StatusCode::BAD_GATEWAY, "Response"),
        };
        let malformed = |title: String, category: Category| {
            vec![Report::new(
                mode,
                status,
                "openapi.body",
                category,
                Location::new("body"),
                title,
            )
            .finding()]
        };
        let (value, coerce, prefix) = match content.kind {
            BodyKind::Opaque => return Vec::new(),
            BodyKind::Json => {
                let options = self.options(op, direction, false);
                let max_depth = self.policy.limits.max_json_depth;
                if content.schema.is_some_and(|schema| {
                    stream_check::proves_valid(
                        &self.spec.arena,
                        &self.streamable,
                        schema,
                        body,
                        options,
                        max_depth,
                    )
                }) {
                    return Vec::new();
                }
                return match JsonTree::parse_bytes(body, max_depth) {
                    Ok(tree) => {
                        self.validate_body(op, content, tree.root(), false, "json", mode, direction)
                    }
                    Err(JsonError::TooDeep) => malformed(
                        format!("{side} body nests deeper than the limit"),
                        Category::ResourceLimit,
                    ),
                    Err(JsonError::Syntax(_)) => malformed(
                        format!("{side} body is not valid JSON"),
                        Category::SchemaViolation,
                    ),
                };
            }
            BodyKind::Text => match std::str::from_utf8(body) {
                Ok(s) => (Value::String(s.to_owned()), false, "body"),
                Err(_) => {
                    return malformed(
                        format!("{side} body is not UTF-8 text"),
                        Category::SchemaViolation,
                    )
                }
            },
            BodyKind::Form => {
                let Ok(text) = std::str::from_utf8(body) else {
                    return malformed(
                        format!("{side} form body is not UTF-8"),
                        Category::SchemaViolation,
                    );
                };
                match params::form_object(text) {
                    Ok(v) => (v, true, "form"),
                    Err(Malformed(what)) => {
                        return malformed(
                            format!("{side} form body is malformed ({what})"),
                            Category::SchemaViolation,
                        )
                    }
                }
            }
            BodyKind::Multipart => {
                let boundary = content_type
                    .split(';')
                    .filter_map(|p| p.trim().strip_prefix("boundary="))
                    .next()
                    .unwrap_or("")
                    .trim_matches('"');
                let parts = match params::multipart_parts(
                    body,
                    boundary,
                    self.policy.limits.max_multipart_parts,
                ) {
                    Ok(parts) => parts,
                    Err(Malformed(what)) => {
                        return malformed(
                            format!("{side} multipart body is malformed ({what})"),
                            Category::SchemaViolation,
                        )
                    }
                };
                let mut map = Map::new();
                let mut findings = Vec::new();
                for part in parts {
                    // Without its own Content-Type, a part for an object or array
                    // property is JSON (the OpenAPI default encoding).
                    let structured = || {
                        content
                            .schema
                            .and_then(|s| self.spec.arena.node(s).property(&part.name))
                            .is_some_and(|p| params::shape(&self.spec.arena, p) != Shape::Primitive)
                    };
                    let default_type = if structured() {
                        "application/json"
                    } else {
                        "text/plain"
                    };
                    if let Some(expected) = content
                        .encodings
                        .iter()
                        .find(|e| e.property == part.name)
                        .and_then(|e| e.content_type.as_deref())
                    {
                        let actual = part.content_type.as_deref().unwrap_or(default_type);
                        let accepted = expected
                            .split(',')
                            .any(|range| media_matches(range.trim(), actual));
                        if !accepted {
                            let mut shown = String::from("form");
                            crate::validate::push_key(&mut shown, &part.name);
                            findings.push(
                                Report::new(
                                    mode,
                                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                                    "openapi.content_type",
                                    Category::MethodOrContentType,
                                    Location::new(shown.clone()),
                                    format!("{side} part {shown} has a Content-Type the encoding does not allow"),
                                )
                                .finding(),
                            );
                        }
                    }
                    let is_json_part = match part.content_type.as_deref() {
                        Some(ct) => crate::spec::is_json(ct),
                        None => structured(),
                    };
                    let value = if is_json_part {
                        match self.json_value(&part.body) {
                            Some(v) => v,
                            None => {
                                return malformed(
                                    format!("{side} multipart JSON part is not valid JSON"),
                                    Category::SchemaViolation,
                                );
                            }
                        }
                    } else {
                        Value::String(String::from_utf8_lossy(&part.body).into_owned())
                    };
                    match map.get_mut(&part.name) {
                        None => {
                            map.insert(part.name, value);
                        }
                        Some(Value::Array(items)) => items.push(value),
                        Some(existing) => {
                            let first = std::mem::take(existing);
                            *existing = Value::Array(vec![first, value]);
                        }
                    }
                }
                if !findings.is_empty() {
                    return findings;
                }
                (Value::Object(map), true, "form")
            }
        };
        self.validate_body(op, content, &value, coerce, prefix, mode, direction)
    }

    /// Validates a parsed body against the media type's schema.
    #[allow(clippy::too_many_arguments)]
    fn validate_body<'v, I: Instance<'v>>(
        &self,
        op: &Operation,
        content: &MediaContent,
        value: I,
        coerce: bool,
        prefix: &str,
        mode: EnforceMode,
        direction: Direction,
    ) -> Vec<Finding> {
        let Some(schema) = content.schema else {
            return Vec::new();
        };
        let mut validator = Validator::new(&self.spec.arena, self.options(op, direction, coerce));
        if validator.validate(schema, value) {
            return Vec::new();
        }
        validator
            .errors
            .iter()
            .map(|v| {
                let sub = v.location.strip_prefix('$').unwrap_or("");
                let location = match prefix {
                    "json" => Location::json(&v.location),
                    other => Location::new(format!("{other}{sub}")),
                };
                let shown = format!(
                    "body{}",
                    if prefix == "json" {
                        format!(".{}", v.location)
                    } else {
                        sub.to_owned()
                    }
                );
                self.violation_finding(mode, location, &shown, v, direction)
            })
            .collect()
    }

    fn response_head(&self, tx: &mut Transaction) {
        let Some(op) = self.operation(tx) else { return };
        let mode = self.response_mode(op);
        if mode == ResponseMode::Off || op.responses.is_empty() {
            return;
        }
        let Some(response) = &tx.response else { return };
        let status = response.status.as_u16();
        let enforce = match mode {
            ResponseMode::Block => EnforceMode::Block,
            _ => EnforceMode::Log,
        };
        let Some(spec) = op.response_for(status) else {
            let f = Report::new(
                enforce,
                StatusCode::BAD_GATEWAY,
                "openapi.response.status",
                Category::SchemaViolation,
                Location::new("response.status"),
                format!(
                    "Response status {status} is not documented for {}",
                    op.name()
                ),
            )
            .finding();
            tx.report(f);
            return;
        };
        let media = response
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            });
        if let Some(media) = media {
            if !spec.contents.is_empty()
                && !spec
                    .contents
                    .iter()
                    .any(|c| media_matches(&c.range, &media))
            {
                let f = Report::new(
                    enforce,
                    StatusCode::BAD_GATEWAY,
                    "openapi.response.content_type",
                    Category::SchemaViolation,
                    Location::header("content-type"),
                    format!("Response Content-Type is not documented for {}", op.name()),
                )
                .finding();
                tx.report(f);
            }
        }
    }

    fn response_body(&self, tx: &mut Transaction) {
        let Some(op) = self.operation(tx) else { return };
        let mode = self.response_mode(op);
        if mode == ResponseMode::Off {
            return;
        }
        let Some(response) = &tx.response else { return };
        if tx.response_body_uninspected {
            let f = Report::new(
                self.policy.limits.uninspected_response,
                StatusCode::BAD_GATEWAY,
                "openapi.response.uninspected",
                Category::ResourceLimit,
                Location::new("response.body"),
                "Response body too large to inspect".into(),
            )
            .finding();
            tx.report(f);
            return;
        }
        let Some(spec) = op.response_for(response.status.as_u16()) else {
            return;
        };
        let content_type = response
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let media = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let Some(content) = spec
            .contents
            .iter()
            .find(|c| media_matches(&c.range, &media))
        else {
            return;
        };
        let body = tx.response_body.clone().unwrap_or_default();
        if body.is_empty() {
            return;
        }
        let enforce = match mode {
            ResponseMode::Block => EnforceMode::Block,
            _ => EnforceMode::Log,
        };
        if mode == ResponseMode::Strip {
            if let (BodyKind::Json, Some(schema)) = (content.kind, content.schema) {
                if let Some(mut value) = self.json_value(&body) {
                    let removed = strip(&self.spec.arena, &[schema], &mut value);
                    if removed > 0 {
                        if let Ok(bytes) = serde_json::to_vec(&value) {
                            tx.response_edit.replace_body =
                                Some((Bytes::from(bytes), content_type.clone()));
                        }
                        let f = Report::new(
                                EnforceMode::Log,
                                StatusCode::BAD_GATEWAY,
                                "openapi.response.stripped",
                                Category::ExcessiveDataExposure,
                                Location::new("response.body"),
                                format!("Removed {removed} undocumented or writeOnly properties from the response of {}", op.name()),
                            )
                            .finding();
                        tx.report(f);
                    }
                    // What remains is checked against the schema too, for the log.
                    let mut validator = Validator::new(
                        &self.spec.arena,
                        self.options(op, Direction::Response, false),
                    );
                    if !validator.validate(schema, &value) {
                        for v in &validator.errors {
                            let shown = format!("body.{}", v.location);
                            let f = self.violation_finding(
                                EnforceMode::Log,
                                Location::json(&v.location),
                                &shown,
                                v,
                                Direction::Response,
                            );
                            tx.report(f);
                        }
                    }
                    return;
                }
            }
        }
        let findings = self.check_body(
            op,
            content,
            &body,
            &content_type,
            Direction::Response,
            enforce,
        );
        for f in findings {
            tx.report(f);
        }
    }
}

impl Detector for OpenApiDetector {
    fn name(&self) -> &'static str {
        "openapi"
    }

    fn wants(&self, phase: Phase) -> bool {
        phase.is_request() || self.inspects_responses
    }

    fn inspect(&self, phase: Phase, tx: &mut Transaction) {
        match phase {
            Phase::RequestHead => self.request_head(tx),
            Phase::RequestBody => self.request_body(tx),
            Phase::ResponseHead => self.response_head(tx),
            Phase::ResponseBody => self.response_body(tx),
        }
    }
}
