//! The compiled form of a [`Config`]: what a request needs, resolved once.
//! A reload builds a new `Runtime` and swaps it in atomically; requests keep
//! the one they started with.

use crate::client_ip::TrustedProxies;
use crate::routing::{HostMatch, RouteTable};
use crate::upstream::Upstream;
use crate::EventRecorder;
use http::{HeaderName, Method};
use palisade_config::{Config, LimitsConfig, OverCap, UpstreamConfig};
use palisade_core::{DecisionPolicy, Detector, WorkerCounter, WorkerHistogram};
use std::collections::HashMap;
use std::sync::Arc;

pub struct RouteRuntime {
    pub name: Arc<str>,
    pub upstream: Arc<Upstream>,
    pub policy: DecisionPolicy,
    /// Empty: any method.
    pub methods: Vec<Method>,
    /// Empty: any media type.
    pub content_types: Vec<String>,
    pub max_body: u64,
    pub inspect_body: u64,
    pub over_cap: OverCap,
    /// Detectors of this route, in pipeline order.
    pub detectors: Vec<Arc<dyn Detector>>,
    /// Metric handles registered once, so the request path does no label lookups.
    pub metrics: RouteMetrics,
}

/// Per-route metric handles.
pub struct RouteMetrics {
    pub allowed: WorkerCounter,
    pub blocked: WorkerCounter,
    pub monitored: WorkerCounter,
    pub duration: WorkerHistogram,
    /// Time spent in detectors (one series for every route).
    pub inspection: WorkerHistogram,
}

impl RouteMetrics {
    pub fn new(route: &str) -> Self {
        let r = route.to_string();
        RouteMetrics {
            allowed: WorkerCounter::new(
                metrics::counter!("palisade_requests_total", "route" => r.clone(), "action" => "allowed"),
            ),
            blocked: WorkerCounter::new(
                metrics::counter!("palisade_requests_total", "route" => r.clone(), "action" => "blocked"),
            ),
            monitored: WorkerCounter::new(
                metrics::counter!("palisade_requests_total", "route" => r.clone(), "action" => "monitored"),
            ),
            duration: WorkerHistogram::new(
                metrics::histogram!("palisade_request_duration_seconds", "route" => r),
            ),
            inspection: WorkerHistogram::new(metrics::histogram!(
                "palisade_inspection_duration_seconds"
            )),
        }
    }
}

impl std::fmt::Debug for RouteRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteRuntime")
            .field("name", &self.name)
            .finish()
    }
}

/// Everything the request path needs, built from one configuration.
pub struct Runtime {
    pub routes: RouteTable<RouteRuntime>,
    pub trusted: TrustedProxies,
    pub limits: LimitsConfig,
    pub strip_headers: Vec<HeaderName>,
    pub nosniff: bool,
    pub events: Arc<dyn EventRecorder>,
    /// Fraction of clean requests also recorded as events (access log).
    pub access_log_sample: f64,
    /// Identity, authorization and abuse limits, when configured.
    pub access: Option<Arc<dyn crate::AccessControl>>,
    /// Monotonic generation number, bumped by every reload.
    pub generation: u64,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("generation", &self.generation)
            .finish()
    }
}

/// Gives one route its detectors, in pipeline order.
pub type DetectorsFor<'a> =
    &'a dyn Fn(&palisade_config::RouteConfig) -> Result<Vec<Arc<dyn Detector>>, String>;

/// Builds the TLS client configuration used towards one upstream.
pub type UpstreamTlsBuilder<'a> =
    &'a dyn Fn(&UpstreamConfig) -> Result<Arc<rustls::ClientConfig>, String>;

impl Runtime {
    /// `detectors_for` gives each route its detectors, in pipeline order.
    pub fn build(
        config: &Config,
        detectors_for: DetectorsFor<'_>,
        events: Arc<dyn EventRecorder>,
        upstream_tls: UpstreamTlsBuilder<'_>,
        generation: u64,
    ) -> Result<Runtime, String> {
        let mut upstreams = HashMap::new();
        for u in &config.upstreams {
            let tls = upstream_tls(u)?;
            upstreams.insert(u.name.clone(), Arc::new(Upstream::new(u, tls)?));
        }
        let mut routes = Vec::new();
        for r in &config.routes {
            let upstream = upstreams.get(&r.upstream).cloned().ok_or_else(|| {
                format!("route `{}` names unknown upstream `{}`", r.name, r.upstream)
            })?;
            let mut exclusions = config.decision.exclusions.clone();
            exclusions.extend(r.exclusions.iter().cloned());
            let policy = DecisionPolicy {
                mode: r.mode.unwrap_or(config.decision.mode),
                inbound_threshold: r
                    .inbound_threshold
                    .unwrap_or(config.decision.inbound_threshold),
                outbound_threshold: r
                    .outbound_threshold
                    .unwrap_or(config.decision.outbound_threshold),
                exclusions,
            };
            let methods = r
                .methods
                .iter()
                .map(|m| {
                    Method::from_bytes(m.to_ascii_uppercase().as_bytes()).map_err(|e| e.to_string())
                })
                .collect::<Result<Vec<_>, _>>()?;
            let max_body = r.max_body.unwrap_or(config.limits.max_body).0;
            let route = RouteRuntime {
                name: Arc::from(r.name.as_str()),
                upstream,
                policy,
                methods,
                content_types: r
                    .content_types
                    .iter()
                    .map(|c| c.to_ascii_lowercase())
                    .collect(),
                max_body,
                inspect_body: r
                    .inspect_body
                    .unwrap_or(config.limits.inspect_body)
                    .0
                    .min(max_body),
                over_cap: r.over_inspect_cap.unwrap_or(config.limits.over_inspect_cap),
                detectors: detectors_for(r)?,
                metrics: RouteMetrics::new(&r.name),
            };
            routes.push((
                HostMatch::parse(r.host.as_deref()),
                r.path_prefix.clone(),
                Arc::new(route),
            ));
        }
        let strip_headers = config
            .response
            .strip_headers
            .iter()
            .map(|h| {
                HeaderName::from_bytes(h.to_ascii_lowercase().as_bytes())
                    .map_err(|e| format!("response.strip_headers: `{h}`: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Runtime {
            routes: RouteTable::new(routes),
            trusted: TrustedProxies::new(config.trusted_proxies.clone()),
            limits: config.limits.clone(),
            strip_headers,
            nosniff: config.response.nosniff,
            events,
            access_log_sample: 0.0,
            access: None,
            generation,
        })
    }
}
