//! The request pipeline, phase by phase:
//! connection facts → routing → protocol limits → request-head detectors →
//! decision → body buffering → request-body detectors → decision → upstream →
//! response-head detectors → response buffering → response-body detectors →
//! decision and response edits → event.

use crate::body::{self, BodyError, BodyLimits, Buffered, PrefixedBody};
use crate::forwarding::{self, ForwardedFor};
use crate::header_names::X_REQUEST_ID;
use crate::hygiene;
use crate::json_limits;
use crate::problem::problem_response;
use crate::routing::request_host;
use crate::runtime::{RouteRuntime, Runtime};
use crate::upstream::{BoxError, ProxyBody};
use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use palisade_config::OverCap;
use palisade_core::{
    Action, Category, Decision, Enforcement, Finding, Latencies, Location, Phase, Principal,
    RequestHead, ResponseHead, SecurityEvent, Severity, Transaction,
};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Facts about the connection a request arrived on.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub peer_ip: IpAddr,
    pub tls: bool,
    /// `Strict-Transport-Security` value for TLS listeners.
    pub hsts: Option<HeaderValue>,
    /// Plain listener that redirects everything to HTTPS on this port.
    pub redirect_https_port: Option<u16>,
    /// Identity from a verified client certificate (mTLS).
    pub client_principal: Option<Principal>,
}

struct Timer {
    start: Instant,
    inspection: Duration,
    upstream: Duration,
}

impl Timer {
    fn latencies(&self) -> Latencies {
        Latencies {
            total_us: micros(self.start.elapsed()),
            inspection_us: micros(self.inspection),
            upstream_us: micros(self.upstream),
        }
    }
}

/// Room left in an upstream request's headers for the identity headers of
/// access control (subject, issuer, scopes, kind and a few claims).
const IDENTITY_HEADERS_ROOM: usize = 6;

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// 128 random bits as 32 lowercase hex digits.
fn new_request_id() -> Arc<str> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bits = rand::random::<u128>();
    let mut text = [0u8; 32];
    for (i, digit) in text.iter_mut().enumerate() {
        let nibble = (bits >> (124 - 4 * i)) & 0xf;
        *digit = HEX[nibble as usize];
    }
    Arc::from(std::str::from_utf8(&text).unwrap_or_default())
}

/// Runs detectors for `phase`, timing them.
fn run_phase(route: &RouteRuntime, phase: Phase, tx: &mut Transaction, timer: &mut Timer) {
    run_phase_since(Instant::now(), route, phase, tx, timer);
}

/// Runs detectors for `phase`; inspection time counts from `started` (work
/// already done for the phase shares the two clock reads).
fn run_phase_since(
    started: Instant,
    route: &RouteRuntime,
    phase: Phase,
    tx: &mut Transaction,
    timer: &mut Timer,
) {
    for d in &route.detectors {
        if d.wants(phase) {
            d.inspect(phase, tx);
        }
    }
    timer.inspection += started.elapsed();
}

fn decide(route: &RouteRuntime, phase: Phase, tx: &mut Transaction, from: usize) -> Decision {
    // Exclusions apply to everything found so far; only this side's findings count.
    let before = tx.findings.len();
    route.policy.apply_exclusions(&mut tx.findings);
    let from = from.min(tx.findings.len()).min(before);
    route.policy.decide(phase, &tx.findings[from..])
}

/// Handles one request end to end.
pub async fn handle(
    rt: Arc<Runtime>,
    conn: Arc<ConnInfo>,
    req: Request<Incoming>,
) -> Response<ProxyBody> {
    let mut timer = Timer {
        start: Instant::now(),
        inspection: Duration::ZERO,
        upstream: Duration::ZERO,
    };
    let request_id = new_request_id();
    let (mut parts, body) = req.into_parts();
    let client_ip = rt.trusted.client_ip(conn.peer_ip, &parts.headers);
    let peer_trusted = rt.trusted.contains(conn.peer_ip);

    if let Some(port) = conn.redirect_https_port {
        return https_redirect(&parts.uri, &parts.headers, port, &request_id);
    }

    let host = request_host(&parts.uri, &parts.headers);
    let Some(route) = rt.routes.find(&host, parts.uri.path()).cloned() else {
        metrics::counter!("palisade_requests_total", "route" => "none", "action" => "not_found")
            .increment(1);
        return finish_plain(
            problem_response_body(
                StatusCode::NOT_FOUND,
                "No route for this request",
                &request_id,
            ),
            &rt,
            &conn,
        );
    };

    let upgrade = is_upgrade(&parts.method, &parts.headers);
    let on_client_upgrade = if upgrade {
        parts.extensions.remove::<hyper::upgrade::OnUpgrade>()
    } else {
        None
    };
    let declared_len = content_length(&parts.headers);
    let has_body = declared_len.is_some_and(|l| l > 0)
        || parts.headers.contains_key(header::TRANSFER_ENCODING)
        || (parts.version == http::Version::HTTP_2 && !http_body::Body::is_end_stream(&body));

    let head = RequestHead {
        method: parts.method.clone(),
        uri: parts.uri.clone(),
        version: parts.version,
        headers: std::mem::take(&mut parts.headers),
        client_ip,
        peer_ip: conn.peer_ip,
        tls: conn.tls,
        request_id: request_id.clone(),
        route: route.name.clone(),
        path_segments: Default::default(),
    };
    let mut tx = Transaction::new(head);
    tx.principal = conn.client_principal.clone();

    protocol_checks(&rt, &route, &mut tx, has_body);
    let inspection_started = Instant::now();
    if let Some(access) = &rt.access {
        if !access.on_request_head_now(&mut tx) {
            access.on_request_head(&mut tx).await;
        }
    }
    run_phase_since(
        inspection_started,
        &route,
        Phase::RequestHead,
        &mut tx,
        &mut timer,
    );
    let decision = decide(&route, Phase::RequestHead, &mut tx, 0);
    if decision.action == Action::Blocked {
        if has_body && !upgrade {
            tokio::spawn(body::linger(body));
        }
        return respond_blocked(&rt, &conn, &route, tx, decision, &timer);
    }

    // Body: buffer for inspection before anything reaches the upstream.
    let mut upstream_body: ProxyBody = body::empty();
    if has_body && !upgrade {
        let limits = BodyLimits {
            max_total: route.max_body,
            inspect_cap: route.inspect_body,
            stream_over_cap: route.over_cap == OverCap::Stream,
            min_rate: rt.limits.min_body_rate.0,
            grace: rt.limits.body_grace.0,
        };
        let buffered = match body::declared_too_large(declared_len, limits) {
            Some(refusal) => {
                tokio::spawn(body::linger(body));
                Err(refusal)
            }
            None => body::buffer(body, declared_len, limits).await,
        };
        match buffered {
            Ok(Buffered::Complete(bytes)) => {
                json_structure_check(&rt, &mut tx, &bytes);
                tx.request_body = Some(bytes.clone());
                upstream_body = body::full(bytes);
            }
            Ok(Buffered::Partial { prefix, rest }) => {
                tx.request_body_uninspected = true;
                tx.report(
                    Finding::new(
                        "palisade.body.uninspected",
                        Category::ResourceLimit,
                        Severity::Info,
                        Location::new("body"),
                        "",
                        format!("request body above the {} byte inspection cap was streamed uninspected", route.inspect_body),
                    )
                    .with_score(0),
                );
                upstream_body = PrefixedBody::new(prefix, rest, route.max_body).boxed_unsync();
            }
            Err(e) => {
                let (status, title, close) = match &e {
                    BodyError::TooLarge(_) => (
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "Request body too large",
                        false,
                    ),
                    BodyError::TooSlow => (
                        StatusCode::REQUEST_TIMEOUT,
                        "Request body sent too slowly",
                        true,
                    ),
                    BodyError::Read(_) => (StatusCode::BAD_REQUEST, "Malformed request body", true),
                };
                tx.report(
                    Finding::new(
                        match &e {
                            BodyError::TooLarge(_) => "palisade.limits.body_size",
                            BodyError::TooSlow => "palisade.limits.body_rate",
                            BodyError::Read(_) => "palisade.protocol.body",
                        },
                        if matches!(e, BodyError::Read(_)) {
                            Category::ProtocolViolation
                        } else {
                            Category::ResourceLimit
                        },
                        Severity::Error,
                        Location::new("body"),
                        "",
                        e.to_string(),
                    )
                    .enforce(Enforcement::new(status, title)),
                );
                // Limits on framing hold in monitor mode too: there is nothing coherent to forward.
                let decision = Decision {
                    action: Action::Blocked,
                    score: tx.anomaly_score(),
                    enforcement: Some(Enforcement::new(status, title)),
                };
                let mut resp = respond_blocked(&rt, &conn, &route, tx, decision, &timer);
                if close {
                    resp.headers_mut()
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
                return resp;
            }
        }
        if tx.request_body.is_some() {
            if let Some(access) = &rt.access {
                access.on_request_body(&mut tx).await;
            }
            run_phase(&route, Phase::RequestBody, &mut tx, &mut timer);
            let decision = decide(&route, Phase::RequestBody, &mut tx, 0);
            if decision.action == Action::Blocked {
                return respond_blocked(&rt, &conn, &route, tx, decision, &timer);
            }
        }
    } else if upgrade {
        drop(body);
    } else {
        if let Some(access) = &rt.access {
            access.on_request_body(&mut tx).await;
        }
        run_phase(&route, Phase::RequestBody, &mut tx, &mut timer);
        let decision = decide(&route, Phase::RequestBody, &mut tx, 0);
        if decision.action == Action::Blocked {
            return respond_blocked(&rt, &conn, &route, tx, decision, &timer);
        }
    }
    let inbound = decide(&route, Phase::RequestBody, &mut tx, 0);
    let inbound_findings = tx.findings.len();

    // Upstream.
    let room = forwarding::FORWARDING_HEADERS_ADDED
        + rt.access.as_ref().map_or(0, |_| IDENTITY_HEADERS_ROOM);
    let mut headers = forwarding::upstream_request_headers(&tx.request.headers, upgrade, room);
    if let Some(access) = &rt.access {
        access.upstream_headers(&tx, &mut headers);
    }
    forwarding::set_forwarding_headers(
        &mut headers,
        ForwardedFor {
            client_ip,
            peer_ip: conn.peer_ip,
            peer_trusted,
            tls: conn.tls,
            request_id: &request_id,
        },
    );
    let mut up_req = Request::new(upstream_body);
    *up_req.method_mut() = tx.request.method.clone();
    *up_req.uri_mut() = tx.request.uri.clone();
    *up_req.headers_mut() = headers;
    let t_up = Instant::now();
    let result = route.upstream.send(up_req).await;
    timer.upstream = t_up.elapsed();
    let resp = match result {
        Ok(r) => r,
        Err(e) => {
            metrics::counter!("palisade_upstream_errors_total", "upstream" => route.upstream.name.clone(), "kind" => e.kind())
                .increment(1);
            tracing::warn!(request_id = %request_id, upstream = %route.upstream.name, error = %e, "upstream failed");
            let status = match e {
                crate::upstream::UpstreamError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
                crate::upstream::UpstreamError::Failed(_) => StatusCode::BAD_GATEWAY,
            };
            let resp = problem_response_body(
                status,
                status.canonical_reason().unwrap_or("Upstream error"),
                &request_id,
            );
            return finish(&rt, &conn, &route, tx, resp, inbound.action, &timer);
        }
    };

    let (mut rparts, rbody) = resp.into_parts();
    if let Some(access) = &rt.access {
        access.on_response(&mut tx, rparts.status.as_u16()).await;
    }
    if upgrade && rparts.status == StatusCode::SWITCHING_PROTOCOLS {
        let up_resp = Response::from_parts(rparts.clone(), rbody);
        if let Some(client) = on_client_upgrade {
            tokio::spawn(tunnel(client, up_resp));
        }
        let resp = Response::from_parts(rparts, body::empty());
        return finish(&rt, &conn, &route, tx, resp, inbound.action, &timer);
    }

    forwarding::strip_hop_by_hop(&mut rparts.headers, false);
    // The detectors read the response head from the transaction; the headers
    // move there and come back once every detector has run.
    tx.response = Some(ResponseHead {
        status: rparts.status,
        version: rparts.version,
        headers: std::mem::take(&mut rparts.headers),
    });
    run_phase(&route, Phase::ResponseHead, &mut tx, &mut timer);

    let wants_body = route.detectors.iter().any(|d| d.wants(Phase::ResponseBody));
    let mut out_body: ProxyBody = rbody
        .map_err(|e| -> BoxError { Box::new(e) })
        .boxed_unsync();
    if wants_body
        && rparts.status != StatusCode::NO_CONTENT
        && rparts.status != StatusCode::NOT_MODIFIED
        && tx.request.method != Method::HEAD
    {
        let limits = BodyLimits {
            max_total: u64::MAX,
            inspect_cap: rt.limits.inspect_response.0,
            stream_over_cap: route.over_cap == OverCap::Stream,
            min_rate: 0,
            grace: Duration::ZERO,
        };
        let declared_length = tx
            .response
            .as_ref()
            .and_then(|r| content_length(&r.headers));
        match body::buffer(out_body, declared_length, limits).await {
            Ok(Buffered::Complete(bytes)) => {
                tx.response_body = Some(bytes.clone());
                out_body = body::full(bytes);
                run_phase(&route, Phase::ResponseBody, &mut tx, &mut timer);
            }
            Ok(Buffered::Partial { prefix, rest }) => {
                tx.response_body_uninspected = true;
                tx.report(
                    Finding::new(
                        "palisade.response.uninspected",
                        Category::ResourceLimit,
                        Severity::Info,
                        Location::new("response.body"),
                        "",
                        "response body above the inspection cap was streamed uninspected",
                    )
                    .with_score(0),
                );
                out_body = PrefixedBody::new(prefix, rest, u64::MAX).boxed_unsync();
            }
            Err(e) => {
                let status = StatusCode::BAD_GATEWAY;
                let title = match e {
                    BodyError::TooLarge(_) => "Upstream response too large to inspect",
                    _ => "Upstream response could not be read",
                };
                let resp = problem_response_body(status, title, &request_id);
                return finish(&rt, &conn, &route, tx, resp, inbound.action, &timer);
            }
        }
    }

    let outbound = decide(&route, Phase::ResponseBody, &mut tx, inbound_findings);
    if outbound.action == Action::Blocked {
        let e = outbound.enforcement.clone().unwrap_or_else(|| {
            Enforcement::new(
                StatusCode::BAD_GATEWAY,
                "Response blocked by security policy",
            )
        });
        let resp = enforcement_response(&e, &request_id);
        return finish(&rt, &conn, &route, tx, resp, Action::Blocked, &timer);
    }

    if let Some(head) = tx.response.as_mut() {
        rparts.headers = std::mem::take(&mut head.headers);
    }
    let edit = std::mem::take(&mut tx.response_edit);
    for name in &edit.remove_headers {
        rparts.headers.remove(name);
    }
    if let Some(status) = edit.replace_status {
        rparts.status = status;
    }
    if let Some((bytes, content_type)) = edit.replace_body {
        rparts.headers.remove(header::CONTENT_LENGTH);
        rparts.headers.remove(header::CONTENT_ENCODING);
        rparts.headers.remove(header::ETAG);
        if let Ok(v) = HeaderValue::from_str(&content_type) {
            rparts.headers.insert(header::CONTENT_TYPE, v);
        }
        out_body = body::full(bytes);
    }
    let action = if outbound.action == Action::Monitored {
        Action::Monitored
    } else {
        inbound.action
    };
    let resp = Response::from_parts(rparts, out_body);
    finish(&rt, &conn, &route, tx, resp, action, &timer)
}

/// Depth and member-count limits on JSON bodies, before any detector parses them.
fn json_structure_check(rt: &Runtime, tx: &mut Transaction, bytes: &[u8]) {
    let is_json = tx
        .request
        .media_type()
        .is_some_and(|m| json_limits::is_json_media_type(&m));
    if !is_json {
        return;
    }
    if let Err(e) = json_limits::check(bytes, rt.limits.json_max_depth, rt.limits.json_max_keys) {
        let (rule, msg) = match e {
            json_limits::JsonLimitExceeded::Depth(d) => (
                "palisade.limits.json_depth",
                format!("JSON nested deeper than {d}"),
            ),
            json_limits::JsonLimitExceeded::Keys(k) => (
                "palisade.limits.json_keys",
                format!("JSON has more than {k} members"),
            ),
        };
        tx.report(
            Finding::new(
                rule,
                Category::ResourceLimit,
                Severity::Error,
                Location::new("body"),
                "",
                msg.clone(),
            )
            .enforce(Enforcement::new(
                StatusCode::BAD_REQUEST,
                "JSON body exceeds structural limits",
            )),
        );
    }
}

/// Route-level protocol rules: URI length, header count, method and media type allow-lists.
fn protocol_checks(rt: &Runtime, route: &RouteRuntime, tx: &mut Transaction, has_body: bool) {
    let uri_len = tx
        .request
        .uri
        .path_and_query()
        .map_or(0, |p| p.as_str().len()) as u64;
    if uri_len > rt.limits.max_uri_bytes.0 {
        tx.report(
            Finding::new(
                "palisade.limits.uri_length",
                Category::ResourceLimit,
                Severity::Error,
                Location::new("uri"),
                "",
                format!("URI of {uri_len} bytes exceeds the limit"),
            )
            .enforce(Enforcement::new(StatusCode::URI_TOO_LONG, "URI too long")),
        );
    }
    if tx.request.headers.len() > rt.limits.max_header_count {
        tx.report(
            Finding::new(
                "palisade.limits.header_count",
                Category::ResourceLimit,
                Severity::Error,
                Location::new("headers"),
                "",
                "too many request headers",
            )
            .enforce(Enforcement::new(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "Too many request headers",
            )),
        );
    }
    if !route.methods.is_empty() && !route.methods.contains(&tx.request.method) {
        let allow = route
            .methods
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let mut e = Enforcement::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not allowed on this route",
        );
        if let Ok(v) = HeaderValue::from_str(&allow) {
            e = e.with_header(header::ALLOW, v);
        }
        let method = tx.request.method.to_string();
        tx.report(
            Finding::new(
                "palisade.route.method",
                Category::MethodOrContentType,
                Severity::Error,
                Location::new("method"),
                &method,
                format!("method {method} is not allowed on this route"),
            )
            .enforce(e),
        );
    }
    if has_body && !route.content_types.is_empty() {
        let media = tx.request.media_type().unwrap_or_default();
        if !route.content_types.iter().any(|allowed| *allowed == *media) {
            tx.report(
                Finding::new(
                    "palisade.route.content_type",
                    Category::MethodOrContentType,
                    Severity::Error,
                    Location::header("content-type"),
                    &media,
                    "content type is not allowed on this route",
                )
                .enforce(Enforcement::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "Unsupported media type",
                )),
            );
        }
    }
}

fn enforcement_response(e: &Enforcement, request_id: &str) -> Response<ProxyBody> {
    let mut resp: Response<ProxyBody> = problem_response_body(e.status, &e.title, request_id);
    for (name, value) in &e.headers {
        resp.headers_mut().append(name.clone(), value.clone());
    }
    resp
}

fn problem_response_body(status: StatusCode, title: &str, request_id: &str) -> Response<ProxyBody> {
    let r: Response<Bytes> = problem_response(status, title, request_id);
    r.map(body::full)
}

fn respond_blocked(
    rt: &Runtime,
    conn: &ConnInfo,
    route: &RouteRuntime,
    tx: Transaction,
    decision: Decision,
    timer: &Timer,
) -> Response<ProxyBody> {
    let e = decision.enforcement.clone().unwrap_or_else(|| {
        Enforcement::new(StatusCode::FORBIDDEN, "Request blocked by security policy")
    });
    let resp = enforcement_response(&e, &tx.request.request_id);
    finish(rt, conn, route, tx, resp, Action::Blocked, timer)
}

/// Final touches on every response, then the event and metrics.
fn finish(
    rt: &Runtime,
    conn: &ConnInfo,
    route: &RouteRuntime,
    tx: Transaction,
    resp: Response<ProxyBody>,
    action: Action,
    timer: &Timer,
) -> Response<ProxyBody> {
    let mut resp = finish_plain(resp, rt, conn);
    if let Some(access) = &rt.access {
        access.response_headers(&tx, resp.headers_mut());
    }
    if let Ok(v) = HeaderValue::from_str(&tx.request.request_id) {
        resp.headers_mut().insert(X_REQUEST_ID, v);
    }
    let status = resp.status().as_u16();
    let latencies = timer.latencies();
    match action {
        Action::Allowed => route.metrics.allowed.increment(1),
        Action::Blocked => route.metrics.blocked.increment(1),
        Action::Monitored => route.metrics.monitored.increment(1),
    }
    route
        .metrics
        .duration
        .record(latencies.total_us as f64 / 1e6);
    if latencies.inspection_us > 0 {
        route
            .metrics
            .inspection
            .record(latencies.inspection_us as f64 / 1e6);
    }
    for f in &tx.findings {
        metrics::counter!("palisade_findings_total", "category" => f.category.as_str(), "rule" => f.rule_id.clone()).increment(1);
    }
    if action == Action::Blocked {
        // The finding that decided: one with its own enforcement, else the highest score.
        let decisive = tx
            .findings
            .iter()
            .max_by_key(|f| (f.enforcement.is_some(), f.score));
        let category = decisive.map_or("other", |f| f.category.as_str());
        let rule = decisive.map_or_else(|| "-".to_string(), |f| f.rule_id.clone());
        metrics::counter!("palisade_blocks_total", "route" => route.name.to_string(), "category" => category, "rule" => rule)
            .increment(1);
    }
    let record = !tx.findings.is_empty()
        || action != Action::Allowed
        || (rt.access_log_sample > 0.0 && rand::random::<f64>() < rt.access_log_sample);
    if record {
        let time_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let score = tx.anomaly_score();
        let event = SecurityEvent {
            time_ms,
            request_id: tx.request.request_id.to_string(),
            client_ip: tx.request.client_ip.to_string(),
            peer_ip: tx.request.peer_ip.to_string(),
            route: route.name.to_string(),
            method: tx.request.method.to_string(),
            path: tx.request.uri.path().to_string(),
            operation: tx.operation.clone(),
            principal: tx.principal.as_ref().map(|p| p.subject.to_string()),
            status,
            action,
            score,
            findings: tx.findings,
            latencies,
        };
        rt.events.record(event);
    }
    resp
}

/// Records a request the HTTP/1 framing guard refused before it was parsed.
pub fn record_connection_violation(
    rt: &Runtime,
    conn: &ConnInfo,
    code: &str,
    message: &str,
    status: u16,
) {
    let finding = Finding::new(
        format!("palisade.protocol.{code}"),
        Category::ProtocolViolation,
        Severity::Critical,
        Location::new("connection"),
        "",
        message.to_string(),
    );
    let time_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    metrics::counter!("palisade_findings_total", "category" => Category::ProtocolViolation.as_str(), "rule" => finding.rule_id.clone())
        .increment(1);
    metrics::counter!("palisade_blocks_total", "route" => "-", "category" => Category::ProtocolViolation.as_str()).increment(1);
    rt.events.record(SecurityEvent {
        time_ms,
        request_id: new_request_id().to_string(),
        client_ip: conn.peer_ip.to_string(),
        peer_ip: conn.peer_ip.to_string(),
        route: "-".into(),
        method: String::new(),
        path: String::new(),
        operation: None,
        principal: None,
        status,
        action: Action::Blocked,
        score: finding.score,
        findings: vec![finding],
        latencies: Latencies::default(),
    });
}

/// Security headers and header stripping, applied to every response.
fn finish_plain(
    mut resp: Response<ProxyBody>,
    rt: &Runtime,
    conn: &ConnInfo,
) -> Response<ProxyBody> {
    hygiene::harden_response_headers(
        resp.headers_mut(),
        &rt.strip_headers,
        rt.nosniff,
        conn.hsts.as_ref(),
    );
    resp
}

fn https_redirect(
    uri: &http::Uri,
    headers: &http::HeaderMap,
    port: u16,
    request_id: &str,
) -> Response<ProxyBody> {
    let host = request_host(uri, headers);
    let pq = uri.path_and_query().map_or("/", |p| p.as_str());
    let authority = if port == 443 {
        host
    } else if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let location = format!("https://{authority}{pq}");
    let mut resp = Response::new(body::empty());
    *resp.status_mut() = StatusCode::PERMANENT_REDIRECT;
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert(X_REQUEST_ID, v);
    }
    resp
}

fn is_upgrade(method: &Method, headers: &http::HeaderMap) -> bool {
    *method == Method::GET
        && headers.contains_key(header::UPGRADE)
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| {
                v.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
            })
}

fn content_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Splices an upgraded client connection to the upgraded upstream connection.
async fn tunnel(client: hyper::upgrade::OnUpgrade, upstream: Response<Incoming>) {
    let (client, upstream) = match tokio::try_join!(client, hyper::upgrade::on(upstream)) {
        Ok(pair) => pair,
        Err(e) => {
            tracing::debug!(error = %e, "upgrade failed");
            return;
        }
    };
    let mut client = hyper_util::rt::TokioIo::new(client);
    let mut upstream = hyper_util::rt::TokioIo::new(upstream);
    if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
        tracing::debug!(error = %e, "tunnel closed");
    }
}

#[cfg(test)]
mod tests {
    use super::new_request_id;

    #[test]
    fn request_ids_are_32_lowercase_hex_digits_and_differ() {
        let a = new_request_id();
        let b = new_request_id();
        assert_eq!(a.len(), 32);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)));
        assert_ne!(a, b);
        // Every nibble position is used: over many ids each position takes
        // more than one value.
        let ids: Vec<_> = (0..64).map(|_| new_request_id()).collect();
        for position in 0..32 {
            let first = ids[0].as_bytes()[position];
            assert!(ids.iter().any(|id| id.as_bytes()[position] != first));
        }
    }
}
