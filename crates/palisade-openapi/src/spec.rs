//! The compiled description: operations, their parameters, bodies and
//! responses, the route table and the schema arena.

use crate::error::{SpecError, SpecLocation};
use crate::loader::{pointer_get, Documents, Loc};
use crate::router::Router;
use crate::schema::{SchemaArena, SchemaCompiler, SchemaId};
use http::Method;
use palisade_core::{CredentialScheme, OperationSecurity, SchemeRequirement, SecurityAlternative};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// Request enforcement mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EnforceMode {
    /// Refuse with a 4xx response.
    Block,
    /// Forward; report a zero-score finding.
    Log,
}

/// Response enforcement mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResponseMode {
    /// Replace a non-conforming response by a 502.
    Block,
    /// Remove undeclared and writeOnly fields, then forward.
    Strip,
    /// Forward; report a zero-score finding.
    Log,
    /// No response checks.
    Off,
}

/// Whether undeclared request properties are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strictness {
    /// Objects that declare properties accept no others.
    Strict,
    /// Plain JSON Schema: undeclared properties pass unless `additionalProperties: false`.
    Lenient,
}

/// Modes set by `x-palisade-*` extensions; `None` where the document is silent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Overrides {
    pub(crate) request: Option<EnforceMode>,
    pub(crate) response: Option<ResponseMode>,
    pub(crate) unknown_endpoints: Option<EnforceMode>,
    pub(crate) strictness: Option<Strictness>,
}

impl Overrides {
    fn read(docs: &Documents, loc: &Loc, value: &Value) -> Result<Overrides, SpecError> {
        let get = |key: &str| value.get(key).map(|v| (v, loc.child(key)));
        let enforce = |key: &str| -> Result<Option<EnforceMode>, SpecError> {
            match get(key) {
                None => Ok(None),
                Some((v, at)) => match v.as_str() {
                    Some("block") => Ok(Some(EnforceMode::Block)),
                    Some("log") => Ok(Some(EnforceMode::Log)),
                    _ => Err(docs.invalid(&at, format!("{key} must be `block` or `log`"))),
                },
            }
        };
        let response = match get("x-palisade-response-mode") {
            None => None,
            Some((v, at)) => Some(match v.as_str() {
                Some("block") => ResponseMode::Block,
                Some("strip") => ResponseMode::Strip,
                Some("log") => ResponseMode::Log,
                Some("off") => ResponseMode::Off,
                _ => {
                    return Err(docs.invalid(
                        &at,
                        "x-palisade-response-mode must be `block`, `strip`, `log` or `off`",
                    ))
                }
            }),
        };
        let strictness = match get("x-palisade-strictness") {
            None => None,
            Some((v, at)) => Some(match v.as_str() {
                Some("strict") => Strictness::Strict,
                Some("lenient") => Strictness::Lenient,
                _ => {
                    return Err(
                        docs.invalid(&at, "x-palisade-strictness must be `strict` or `lenient`")
                    )
                }
            }),
        };
        Ok(Overrides {
            request: enforce("x-palisade-request-mode")?,
            response,
            unknown_endpoints: enforce("x-palisade-unknown-endpoints")?,
            strictness,
        })
    }

    fn or(self, fallback: Overrides) -> Overrides {
        Overrides {
            request: self.request.or(fallback.request),
            response: self.response.or(fallback.response),
            unknown_endpoints: self.unknown_endpoints.or(fallback.unknown_endpoints),
            strictness: self.strictness.or(fallback.strictness),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParamIn {
    Path,
    Query,
    Header,
    Cookie,
}

impl ParamIn {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ParamIn::Path => "path",
            ParamIn::Query => "query",
            ParamIn::Header => "header",
            ParamIn::Cookie => "cookie",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Simple,
    Label,
    Matrix,
    Form,
    SpaceDelimited,
    PipeDelimited,
    DeepObject,
}

#[derive(Debug, Clone)]
pub(crate) struct Parameter {
    pub(crate) name: String,
    pub(crate) location: ParamIn,
    pub(crate) required: bool,
    pub(crate) style: Style,
    pub(crate) explode: bool,
    pub(crate) schema: Option<SchemaId>,
    /// `content: {application/json: ...}` instead of a schema: the value is JSON text.
    pub(crate) json_content: bool,
    pub(crate) allow_empty: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyKind {
    Json,
    Form,
    Multipart,
    Text,
    /// Any other media type: only the type itself is checked.
    Opaque,
}

#[derive(Debug, Clone)]
pub(crate) struct PartEncoding {
    pub(crate) property: String,
    pub(crate) content_type: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct MediaContent {
    /// Lowercased media range as written (`application/json`, `image/*`, `*/*`).
    pub(crate) range: String,
    pub(crate) kind: BodyKind,
    pub(crate) schema: Option<SchemaId>,
    pub(crate) encodings: Vec<PartEncoding>,
}

#[derive(Debug, Clone)]
pub(crate) struct RequestBody {
    pub(crate) required: bool,
    pub(crate) contents: Vec<MediaContent>,
}

#[derive(Debug, Clone)]
pub(crate) struct ResponseSpec {
    pub(crate) contents: Vec<MediaContent>,
}

#[derive(Debug, Clone)]
pub(crate) enum StatusKey {
    Exact(u16),
    Range(u16),
    Default,
}

#[derive(Debug, Clone)]
pub(crate) struct Operation {
    pub(crate) method: Method,
    /// Path template as written under `paths`.
    pub(crate) template: String,
    pub(crate) operation_id: Option<String>,
    pub(crate) deprecated: bool,
    pub(crate) parameters: Vec<Parameter>,
    pub(crate) request_body: Option<RequestBody>,
    pub(crate) responses: Vec<(StatusKey, ResponseSpec)>,
    pub(crate) overrides: Overrides,
    /// First base path the operation is mounted under (`/v1`), or empty.
    pub(crate) base_path: String,
    /// Template variables of `base_path + template`, in order.
    pub(crate) variables: Vec<String>,
    /// Index of the route the operation is served by.
    pub(crate) route: usize,
    /// The operation's `security`, or the document's; `None` when neither says.
    pub(crate) security: Option<Arc<OperationSecurity>>,
}

impl Operation {
    pub(crate) fn name(&self) -> String {
        match &self.operation_id {
            Some(id) => format!("{id} ({} {})", self.method, self.template),
            None => format!("{} {}", self.method, self.template),
        }
    }

    pub(crate) fn response_for(&self, status: u16) -> Option<&ResponseSpec> {
        let exact = self
            .responses
            .iter()
            .find(|(k, _)| matches!(k, StatusKey::Exact(s) if *s == status));
        let range = || {
            self.responses
                .iter()
                .find(|(k, _)| matches!(k, StatusKey::Range(r) if *r == status / 100))
        };
        let default = || {
            self.responses
                .iter()
                .find(|(k, _)| matches!(k, StatusKey::Default))
        };
        exact.or_else(range).or_else(default).map(|(_, r)| r)
    }
}

/// A path template and its operations, one slot per method.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub(crate) template: String,
    pub(crate) methods: Vec<(Method, usize)>,
}

/// OpenAPI major-minor version of the loaded document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OasVersion {
    V3_0,
    V3_1,
}

/// A loaded, compiled OpenAPI description.
#[derive(Debug)]
pub struct ApiSpec {
    pub(crate) version: OasVersion,
    pub(crate) arena: SchemaArena,
    pub(crate) operations: Vec<Operation>,
    pub(crate) routes: Vec<Route>,
    pub(crate) router: Router,
    pub(crate) webhook_count: usize,
    pub(crate) file_count: usize,
    /// Root `x-palisade-unknown-endpoints`, for paths that match no operation.
    pub(crate) root_unknown_endpoints: Option<EnforceMode>,
}

/// The operation a request addresses.
#[derive(Debug, Clone)]
pub struct OperationMatch<'s, 'p> {
    pub(crate) index: usize,
    /// `operationId`, when the document gives one.
    pub operation_id: Option<&'s str>,
    /// Path template as written under `paths` (without the server base path).
    pub template: &'s str,
    pub method: &'s Method,
    /// Template variables, still percent-encoded.
    pub path_params: Vec<(&'s str, &'p str)>,
    pub deprecated: bool,
}

/// How a request path relates to the route table.
pub(crate) enum RouteLookup<'s, 'p> {
    Found(OperationMatch<'s, 'p>),
    MethodNotAllowed(&'s Route),
    NotFound,
}

const METHODS: [(&str, Method); 8] = [
    ("get", Method::GET),
    ("put", Method::PUT),
    ("post", Method::POST),
    ("delete", Method::DELETE),
    ("options", Method::OPTIONS),
    ("head", Method::HEAD),
    ("patch", Method::PATCH),
    ("trace", Method::TRACE),
];

impl ApiSpec {
    /// Loads a description from a YAML or JSON file, following relative `$ref`s.
    pub fn load(path: &Path) -> Result<ApiSpec, SpecError> {
        let docs = Documents::from_file(path)?;
        Builder::new(docs).build()
    }

    /// Loads a description from text; relative `$ref`s resolve against `base_dir`.
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(text: &str, base_dir: &Path) -> Result<ApiSpec, SpecError> {
        let docs = Documents::from_text(text, base_dir)?;
        Builder::new(docs).build()
    }

    pub fn version(&self) -> OasVersion {
        self.version
    }

    /// Number of operations under `paths` (webhooks are not routed).
    pub fn operation_count(&self) -> usize {
        self.operations.len()
    }

    pub fn webhook_count(&self) -> usize {
        self.webhook_count
    }

    /// Number of files the description was read from.
    pub fn file_count(&self) -> usize {
        self.file_count
    }

    /// `(method, template, operationId)` of every routed operation.
    pub fn operations(&self) -> impl Iterator<Item = (&Method, &str, Option<&str>)> {
        self.operations
            .iter()
            .map(|o| (&o.method, o.template.as_str(), o.operation_id.as_deref()))
    }

    /// The security requirements of the operation `method path` addresses:
    /// `None` when the path matches no operation or the document declares
    /// no `security` for it.
    pub fn operation_security(
        &self,
        method: &Method,
        path: &str,
    ) -> Option<&Arc<OperationSecurity>> {
        let found = self.match_operation(method, path)?;
        self.operations.get(found.index)?.security.as_ref()
    }

    /// The operation `method path` addresses; `path` excludes the query string.
    pub fn match_operation<'s, 'p>(
        &'s self,
        method: &Method,
        path: &'p str,
    ) -> Option<OperationMatch<'s, 'p>> {
        match self.lookup(method, path) {
            RouteLookup::Found(m) => Some(m),
            _ => None,
        }
    }

    /// Among operations sharing `index`'s route and method, the one whose
    /// template's fixed query (`/responses?beta=true`) the request carries.
    pub(crate) fn refine_by_query(&self, index: usize, query: Option<&str>) -> usize {
        let Some(op) = self.operations.get(index) else {
            return index;
        };
        let Some(route) = self.routes.get(op.route) else {
            return index;
        };
        let candidates: Vec<usize> = route
            .methods
            .iter()
            .filter(|(m, _)| *m == op.method)
            .map(|(_, i)| *i)
            .collect();
        if candidates.len() < 2 {
            return index;
        }
        let pairs: Vec<&str> = query.map(|q| q.split('&').collect()).unwrap_or_default();
        let mut best = (0usize, index);
        for candidate in candidates {
            let Some(fixed) = self
                .operations
                .get(candidate)
                .and_then(|o| o.template.split_once('?'))
                .map(|(_, q)| q)
            else {
                continue;
            };
            let wanted: Vec<&str> = fixed.split('&').collect();
            if wanted.iter().all(|w| pairs.contains(w)) && wanted.len() > best.0 {
                best = (wanted.len(), candidate);
            }
        }
        best.1
    }

    /// Every operation sharing `index`'s route and method and not told apart
    /// by a fixed query, `index` first; empty when it is alone.
    pub(crate) fn alternatives(&self, index: usize) -> Vec<usize> {
        let Some(op) = self.operations.get(index) else {
            return Vec::new();
        };
        let Some(route) = self.routes.get(op.route) else {
            return Vec::new();
        };
        let fixed_query = |i: usize| {
            self.operations
                .get(i)
                .is_some_and(|o| o.template.contains('?'))
        };
        if fixed_query(index) {
            return Vec::new();
        }
        let others = || {
            route
                .methods
                .iter()
                .filter(|(m, i)| *m == op.method && *i != index && !fixed_query(*i))
                .map(|(_, i)| *i)
        };
        if others().next().is_none() {
            return Vec::new();
        }
        std::iter::once(index).chain(others()).collect()
    }

    pub(crate) fn lookup<'s, 'p>(&'s self, method: &Method, path: &'p str) -> RouteLookup<'s, 'p> {
        let pick = |route: &Route, m: &Method| {
            route
                .methods
                .iter()
                .find(|(rm, _)| rm == m)
                .map(|(_, i)| *i)
        };
        let pick_with_head = |route: &Route| {
            pick(route, method).or_else(|| {
                (*method == Method::HEAD)
                    .then(|| pick(route, &Method::GET))
                    .flatten()
            })
        };
        let accept = |index: usize| self.routes.get(index).and_then(pick_with_head).is_some();
        let Some((found, _)) = self.router.lookup(path, &accept) else {
            return RouteLookup::NotFound;
        };
        let Some(route) = self.routes.get(found.route) else {
            return RouteLookup::NotFound;
        };
        let index = pick_with_head(route);
        match index.and_then(|i| self.operations.get(i).map(|op| (i, op))) {
            Some((index, op)) => RouteLookup::Found(OperationMatch {
                index,
                operation_id: op.operation_id.as_deref(),
                template: &op.template,
                method: &op.method,
                path_params: op
                    .variables
                    .iter()
                    .map(String::as_str)
                    .zip(found.params.into_iter().map(|(_, v)| v))
                    .collect(),
                deprecated: op.deprecated,
            }),
            None => RouteLookup::MethodNotAllowed(route),
        }
    }
}

struct Builder {
    docs: Documents,
    compiler: SchemaCompiler,
    operations: Vec<Operation>,
    routes: Vec<Route>,
    router: Router,
    /// `components.securitySchemes`: name to kind.
    schemes: HashMap<String, CredentialScheme>,
    /// The document's top-level `security`.
    root_security: Option<Vec<SecurityAlternative>>,
}

fn as_object<'v>(
    docs: &Documents,
    loc: &Loc,
    v: &'v Value,
) -> Result<&'v serde_json::Map<String, Value>, SpecError> {
    v.as_object()
        .ok_or_else(|| docs.invalid(loc, "expected an object"))
}

impl Builder {
    fn new(docs: Documents) -> Self {
        Builder {
            docs,
            compiler: SchemaCompiler::new(),
            operations: Vec::new(),
            routes: Vec::new(),
            router: Router::new(),
            schemes: HashMap::new(),
            root_security: None,
        }
    }

    /// Reads `components.securitySchemes` (each may be a `$ref`).
    fn security_schemes(&mut self, root_loc: &Loc, root: &Value) -> Result<(), SpecError> {
        let Some(components) = root.get("components") else {
            return Ok(());
        };
        if components.get("securitySchemes").is_none() && components.get("$ref").is_none() {
            return Ok(());
        }
        let (comp_loc, comp_file) = self.docs.deref(&root_loc.child("components"))?;
        let comp = pointer_get(&comp_file, &comp_loc.pointer)
            .cloned()
            .unwrap_or(Value::Null);
        let Some(schemes) = comp.get("securitySchemes") else {
            return Ok(());
        };
        let schemes_loc = comp_loc.child("securitySchemes");
        let names: Vec<String> = as_object(&self.docs, &schemes_loc, schemes)?
            .keys()
            .cloned()
            .collect();
        for name in names {
            let (loc, file) = self.docs.deref(&schemes_loc.child(&name))?;
            let scheme = pointer_get(&file, &loc.pointer)
                .cloned()
                .unwrap_or(Value::Null);
            let map = as_object(&self.docs, &loc, &scheme)?;
            let kind = match map.get("type").and_then(Value::as_str) {
                Some("http") => {
                    let http = map.get("scheme").and_then(Value::as_str).unwrap_or("");
                    if http.eq_ignore_ascii_case("bearer") {
                        CredentialScheme::Bearer
                    } else {
                        CredentialScheme::OtherHttp
                    }
                }
                Some("apiKey") => CredentialScheme::ApiKey,
                Some("oauth2") => CredentialScheme::OAuth2,
                Some("openIdConnect") => CredentialScheme::OpenIdConnect,
                Some("mutualTLS") => CredentialScheme::MutualTls,
                Some(_) => CredentialScheme::Unknown,
                None => return Err(self.docs.invalid(&loc, "a security scheme needs a `type`")),
            };
            self.schemes.insert(name, kind);
        }
        Ok(())
    }

    /// Parses a `security` array: a list of `{scheme: [scopes]}` alternatives.
    fn security_requirements(
        &self,
        loc: &Loc,
        value: &Value,
    ) -> Result<Vec<SecurityAlternative>, SpecError> {
        let Value::Array(items) = value else {
            return Err(self
                .docs
                .invalid(loc, "`security` must be an array of requirement objects"));
        };
        let mut alternatives = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let item_loc = loc.index(i);
            let map = as_object(&self.docs, &item_loc, item)?;
            let mut schemes = Vec::with_capacity(map.len());
            for (name, scopes) in map {
                let Value::Array(scopes) = scopes else {
                    return Err(self.docs.invalid(
                        &item_loc.child(name),
                        "a security requirement lists its scopes in an array",
                    ));
                };
                schemes.push(SchemeRequirement {
                    name: name.clone(),
                    // An undefined scheme is the document's mistake; it still
                    // requires some credential rather than none.
                    scheme: self
                        .schemes
                        .get(name)
                        .copied()
                        .unwrap_or(CredentialScheme::Unknown),
                    scopes: scopes
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect(),
                });
            }
            alternatives.push(SecurityAlternative { schemes });
        }
        Ok(alternatives)
    }

    fn build(mut self) -> Result<ApiSpec, SpecError> {
        let root_loc = Loc {
            file: self.docs.root(),
            pointer: String::new(),
        };
        let root = self.docs.file_value(root_loc.file);
        let root_map = as_object(&self.docs, &root_loc, &root)?;
        let version = match root_map.get("openapi").and_then(Value::as_str) {
            Some(v) if v.starts_with("3.0.") || v == "3.0" => OasVersion::V3_0,
            Some(v) if v.starts_with("3.1.") || v == "3.1" => OasVersion::V3_1,
            Some(v) => {
                return Err(SpecError::UnsupportedVersion {
                    at: self.docs.describe(&root_loc.child("openapi")),
                    version: v.to_owned(),
                })
            }
            None => {
                let version = root_map
                    .get("swagger")
                    .and_then(Value::as_str)
                    .map(|v| format!("swagger {v}"))
                    .unwrap_or_else(|| "missing `openapi` field".to_owned());
                return Err(SpecError::UnsupportedVersion {
                    at: SpecLocation {
                        pointer: String::new(),
                        ..self.docs.describe(&root_loc)
                    },
                    version,
                });
            }
        };
        let root_overrides = Overrides::read(&self.docs, &root_loc, &root)?;
        self.security_schemes(&root_loc, &root)?;
        if let Some(security) = root_map.get("security") {
            self.root_security =
                Some(self.security_requirements(&root_loc.child("security"), security)?);
        }
        let root_bases = self.base_paths(&root_loc, root_map.get("servers"))?;
        if root_map.contains_key("paths") {
            let (paths_loc, paths_file) = self.docs.deref(&root_loc.child("paths"))?;
            let paths_value = pointer_get(&paths_file, &paths_loc.pointer)
                .cloned()
                .unwrap_or(Value::Null);
            let paths = as_object(&self.docs, &paths_loc, &paths_value)?.clone();
            for template in paths.keys() {
                if template.starts_with("x-") {
                    continue;
                }
                if !template.starts_with('/') {
                    return Err(self.docs.invalid(
                        &paths_loc.child(template),
                        "path templates must start with `/`",
                    ));
                }
                self.path_item(
                    &paths_loc.child(template),
                    template,
                    &root_bases,
                    root_overrides,
                    true,
                )?;
            }
        }
        let mut webhook_count = 0;
        if let Some(Value::Object(hooks)) = root_map.get("webhooks") {
            let hooks_loc = root_loc.child("webhooks");
            for name in hooks.keys() {
                // Webhooks are calls the API makes; their schemas are compiled
                // so errors surface at load, but they are not routed.
                let before = self.operations.len();
                self.path_item(&hooks_loc.child(name), name, &[], root_overrides, false)?;
                webhook_count += self.operations.len() - before;
                self.operations.truncate(before);
            }
        }
        self.compiler.drain(&mut self.docs)?;
        Ok(ApiSpec {
            version,
            arena: self.compiler.finish(),
            operations: self.operations,
            routes: self.routes,
            router: self.router,
            webhook_count,
            file_count: self.docs.file_count(),
            root_unknown_endpoints: root_overrides.unknown_endpoints,
        })
    }

    fn base_paths(&mut self, at: &Loc, servers: Option<&Value>) -> Result<Vec<String>, SpecError> {
        let Some(Value::Array(servers)) = servers else {
            return Ok(Vec::new());
        };
        let mut bases = Vec::new();
        for (i, server) in servers.iter().enumerate() {
            let loc = at.child("servers").index(i);
            let url = server
                .get("url")
                .and_then(Value::as_str)
                .ok_or_else(|| self.docs.invalid(&loc, "server needs a url"))?;
            let mut expanded = url.to_owned();
            if let Some(Value::Object(vars)) = server.get("variables") {
                for (name, var) in vars {
                    let default = var.get("default").and_then(Value::as_str).unwrap_or("");
                    expanded = expanded.replace(&format!("{{{name}}}"), default);
                }
            }
            let path = match expanded.find("://") {
                Some(i) => {
                    let after = expanded.get(i + 3..).unwrap_or("");
                    after
                        .find('/')
                        .map(|p| after.get(p..).unwrap_or(""))
                        .unwrap_or("")
                        .to_owned()
                }
                None => expanded,
            };
            let path = path
                .split(['?', '#'])
                .next()
                .unwrap_or("")
                .trim_end_matches('/')
                .to_owned();
            if path.contains('{') {
                return Err(self.docs.unsupported(
                    &loc,
                    "server variable without default",
                    "every server variable needs a default",
                ));
            }
            let path = if path.is_empty() || path.starts_with('/') {
                path
            } else {
                format!("/{path}")
            };
            if !bases.contains(&path) {
                bases.push(path);
            }
        }
        Ok(bases)
    }

    fn path_item(
        &mut self,
        at: &Loc,
        template: &str,
        bases: &[String],
        inherited: Overrides,
        routed: bool,
    ) -> Result<(), SpecError> {
        let (item_loc, item_file) = self.docs.deref(at)?;
        let item = pointer_get(&item_file, &item_loc.pointer)
            .cloned()
            .unwrap_or(Value::Null);
        let item_map = as_object(&self.docs, &item_loc, &item)?;
        let item_overrides = Overrides::read(&self.docs, &item_loc, &item)?.or(inherited);
        let common = self.parameters(&item_loc, item_map.get("parameters"))?;
        let item_bases = match item_map.get("servers") {
            Some(servers) => self.base_paths(&item_loc, Some(servers))?,
            None => bases.to_vec(),
        };
        let route_index = self.routes.len();
        let mut route = Route {
            template: template.to_owned(),
            methods: Vec::new(),
        };
        let mut op_bases = item_bases.clone();
        for (name, method) in METHODS.iter() {
            if !item_map.contains_key(*name) {
                continue;
            }
            let (op_loc, op_file) = self.docs.deref(&item_loc.child(name))?;
            let op = pointer_get(&op_file, &op_loc.pointer)
                .cloned()
                .unwrap_or(Value::Null);
            let op_map = as_object(&self.docs, &op_loc, &op)?;
            let mut parameters = self.parameters(&op_loc, op_map.get("parameters"))?;
            for p in &common {
                if !parameters
                    .iter()
                    .any(|q| q.name == p.name && q.location == p.location)
                {
                    parameters.push(p.clone());
                }
            }
            if op_map.contains_key("servers") {
                let own = self.base_paths(&op_loc, op_map.get("servers"))?;
                for b in own {
                    if !op_bases.contains(&b) {
                        op_bases.push(b);
                    }
                }
            }
            let request_body = match op_map.get("requestBody") {
                Some(_) => Some(self.request_body(&op_loc.child("requestBody"))?),
                None => None,
            };
            let responses = match op_map.get("responses") {
                Some(_) => self.responses(&op_loc.child("responses"))?,
                None => Vec::new(),
            };
            let overrides = Overrides::read(&self.docs, &op_loc, &op)?.or(item_overrides);
            let alternatives = match op_map.get("security") {
                Some(security) => {
                    Some(self.security_requirements(&op_loc.child("security"), security)?)
                }
                None => self.root_security.clone(),
            };
            let operation_id = op_map
                .get("operationId")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let security = alternatives.map(|alternatives| {
                Arc::new(OperationSecurity {
                    operation: operation_id
                        .clone()
                        .unwrap_or_else(|| format!("{method} {template}")),
                    alternatives,
                })
            });
            route.methods.push((method.clone(), self.operations.len()));
            self.operations.push(Operation {
                method: method.clone(),
                template: template.to_owned(),
                operation_id,
                deprecated: op_map
                    .get("deprecated")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                parameters,
                request_body,
                responses,
                overrides,
                base_path: String::new(),
                variables: Vec::new(),
                route: route_index,
                security,
            });
        }
        if !routed {
            return Ok(());
        }
        if op_bases.is_empty() {
            op_bases.push(String::new());
        }
        for (_, index) in &route.methods {
            if let (Some(op), Some(base)) = (self.operations.get_mut(*index), op_bases.first()) {
                op.base_path = base.clone();
                op.variables = crate::router::template_variables(&format!(
                    "{base}{}",
                    routing_template(template)
                ));
            }
        }
        let mut merged_into = None;
        for base in &op_bases {
            let full = format!("{base}{}", routing_template(template));
            if let Some(existing) = self.router.insert(&full, route_index) {
                merged_into = Some(existing);
            }
        }
        match merged_into {
            // Two templates differing only in variable names (`/a/{id}`, `/a/{name}`):
            // one route, methods merged.
            Some(existing) if existing != route_index => {
                for (_, index) in &route.methods {
                    if let Some(op) = self.operations.get_mut(*index) {
                        op.route = existing;
                    }
                }
                if let Some(target) = self.routes.get_mut(existing) {
                    // A second operation for the same method stays as an
                    // alternative, chosen by its template's fixed query.
                    target.methods.extend(route.methods);
                }
                // Keep indices aligned even though this route is unused.
                self.routes.push(Route {
                    template: template.to_owned(),
                    methods: Vec::new(),
                });
            }
            _ => self.routes.push(route),
        }
        Ok(())
    }

    fn parameters(&mut self, at: &Loc, value: Option<&Value>) -> Result<Vec<Parameter>, SpecError> {
        let Some(value) = value else {
            return Ok(Vec::new());
        };
        let list_loc = at.child("parameters");
        let count = value
            .as_array()
            .ok_or_else(|| self.docs.invalid(&list_loc, "parameters must be an array"))?
            .len();
        let mut out: Vec<Parameter> = Vec::with_capacity(count);
        for i in 0..count {
            let (loc, file) = self.docs.deref(&list_loc.index(i))?;
            let p = pointer_get(&file, &loc.pointer)
                .cloned()
                .unwrap_or(Value::Null);
            let name = p
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| self.docs.invalid(&loc, "parameter needs a name"))?
                .to_owned();
            let location = match p.get("in").and_then(Value::as_str) {
                Some("path") => ParamIn::Path,
                Some("query") => ParamIn::Query,
                Some("header") => ParamIn::Header,
                Some("cookie") => ParamIn::Cookie,
                Some("querystring") => {
                    return Err(self.docs.unsupported(
                        &loc.child("in"),
                        "in: querystring",
                        "OpenAPI 3.2 parameters are not supported",
                    ))
                }
                _ => {
                    return Err(self.docs.invalid(
                        &loc.child("in"),
                        "`in` must be path, query, header or cookie",
                    ))
                }
            };
            if location == ParamIn::Header
                && ["accept", "content-type", "authorization"]
                    .contains(&name.to_ascii_lowercase().as_str())
            {
                // Ignored by the OpenAPI specification itself.
                continue;
            }
            let style = match p.get("style").and_then(Value::as_str) {
                None => match location {
                    ParamIn::Path | ParamIn::Header => Style::Simple,
                    ParamIn::Query | ParamIn::Cookie => Style::Form,
                },
                Some("simple") => Style::Simple,
                Some("label") => Style::Label,
                Some("matrix") => Style::Matrix,
                Some("form") => Style::Form,
                Some("spaceDelimited") => Style::SpaceDelimited,
                Some("pipeDelimited") => Style::PipeDelimited,
                Some("deepObject") => Style::DeepObject,
                Some(other) => {
                    return Err(self.docs.unsupported(
                        &loc.child("style"),
                        other,
                        "unknown parameter style",
                    ))
                }
            };
            let explode = p
                .get("explode")
                .and_then(Value::as_bool)
                .unwrap_or(style == Style::Form);
            let (schema, json_content) = if p.get("schema").is_some() {
                (
                    Some(self.compiler.schema(&mut self.docs, &loc.child("schema"))?),
                    false,
                )
            } else if let Some(Value::Object(content)) = p.get("content") {
                let Some((media, _)) = content.iter().next() else {
                    return Err(self.docs.invalid(
                        &loc.child("content"),
                        "parameter content must name one media type",
                    ));
                };
                let media_loc = loc.child("content").child(media);
                let schema = if content.get(media).and_then(|m| m.get("schema")).is_some() {
                    Some(
                        self.compiler
                            .schema(&mut self.docs, &media_loc.child("schema"))?,
                    )
                } else {
                    None
                };
                (schema, is_json(media))
            } else {
                (None, false)
            };
            let param = Parameter {
                name,
                location,
                required: location == ParamIn::Path
                    || p.get("required").and_then(Value::as_bool).unwrap_or(false),
                style,
                explode,
                schema,
                json_content,
                allow_empty: p
                    .get("allowEmptyValue")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            };
            out.retain(|q| !(q.name == param.name && q.location == param.location));
            out.push(param);
        }
        Ok(out)
    }

    fn contents(
        &mut self,
        at: &Loc,
        value: Option<&Value>,
    ) -> Result<Vec<MediaContent>, SpecError> {
        let Some(value) = value.filter(|v| !v.is_null()) else {
            // `content:` left empty (null) declares no media types.
            return Ok(Vec::new());
        };
        let content_loc = at.child("content");
        let (content_loc, file) = self.docs.deref(&content_loc)?;
        let map = as_object(
            &self.docs,
            &content_loc,
            pointer_get(&file, &content_loc.pointer).unwrap_or(value),
        )?
        .clone();
        let mut out = Vec::with_capacity(map.len());
        for (media, media_value) in &map {
            let (media_loc, media_file) = self.docs.deref(&content_loc.child(media))?;
            let media_value = pointer_get(&media_file, &media_loc.pointer)
                .cloned()
                .unwrap_or_else(|| media_value.clone());
            let range = media
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            let kind = if is_json(&range) {
                BodyKind::Json
            } else if range == "application/x-www-form-urlencoded" {
                BodyKind::Form
            } else if range == "multipart/form-data" || range == "multipart/mixed" {
                BodyKind::Multipart
            } else if range == "text/plain" {
                BodyKind::Text
            } else {
                BodyKind::Opaque
            };
            let schema = if media_value.get("schema").is_some() {
                Some(
                    self.compiler
                        .schema(&mut self.docs, &media_loc.child("schema"))?,
                )
            } else {
                None
            };
            let mut encodings = Vec::new();
            if let Some(Value::Object(enc)) = media_value.get("encoding") {
                for (property, e) in enc {
                    encodings.push(PartEncoding {
                        property: property.clone(),
                        content_type: e
                            .get("contentType")
                            .and_then(Value::as_str)
                            .map(|s| s.to_ascii_lowercase()),
                    });
                }
            }
            out.push(MediaContent {
                range,
                kind,
                schema,
                encodings,
            });
        }
        Ok(out)
    }

    fn request_body(&mut self, at: &Loc) -> Result<RequestBody, SpecError> {
        let (loc, file) = self.docs.deref(at)?;
        let body = pointer_get(&file, &loc.pointer)
            .cloned()
            .unwrap_or(Value::Null);
        Ok(RequestBody {
            required: body
                .get("required")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            contents: self.contents(&loc, body.get("content"))?,
        })
    }

    fn responses(&mut self, at: &Loc) -> Result<Vec<(StatusKey, ResponseSpec)>, SpecError> {
        let (loc, file) = self.docs.deref(at)?;
        let responses = pointer_get(&file, &loc.pointer)
            .cloned()
            .unwrap_or(Value::Null);
        let map = as_object(&self.docs, &loc, &responses)?;
        let mut out = Vec::new();
        for code in map.keys() {
            if code.starts_with("x-") {
                continue;
            }
            let key = if code == "default" {
                StatusKey::Default
            } else if code.len() == 3 && (code.ends_with("XX") || code.ends_with("xx")) {
                let digit = code.chars().next().and_then(|c| c.to_digit(10));
                match digit {
                    Some(d) => StatusKey::Range(d as u16),
                    None => return Err(self.docs.invalid(&loc.child(code), "bad status range")),
                }
            } else {
                match code.parse::<u16>() {
                    Ok(s) if (100..600).contains(&s) => StatusKey::Exact(s),
                    _ => {
                        return Err(self
                            .docs
                            .invalid(&loc.child(code), format!("bad response status `{code}`")))
                    }
                }
            };
            let (rloc, rfile) = self.docs.deref(&loc.child(code))?;
            let response = pointer_get(&rfile, &rloc.pointer)
                .cloned()
                .unwrap_or(Value::Null);
            let contents = self.contents(&rloc, response.get("content"))?;
            out.push((key, ResponseSpec { contents }));
        }
        Ok(out)
    }
}

/// Some documents key several operations on one path with a fragment
/// (`/schema#add`) or a fixed query (`/responses?beta=true`); routing uses
/// the path alone.
pub(crate) fn routing_template(template: &str) -> &str {
    template.split(['#', '?']).next().unwrap_or(template)
}

pub(crate) fn is_json(media: &str) -> bool {
    let essence = media.split(';').next().unwrap_or("").trim();
    essence == "application/json" || essence.ends_with("+json")
}

/// Whether concrete media type `actual` falls in range `range`.
pub(crate) fn media_matches(range: &str, actual: &str) -> bool {
    if range == actual || range == "*/*" {
        return true;
    }
    match range.strip_suffix("/*") {
        Some(top) => actual.split('/').next() == Some(top),
        None => false,
    }
}
