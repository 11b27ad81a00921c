//! From a [`Config`] to running listeners.

use anyhow::{anyhow, bail, Context, Result};
use http::HeaderValue;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use palisade_config::{Config, OpenApiConfig, Overrides, UpstreamConfig};
use palisade_core::{Detector, SecurityEvent};
use palisade_detect::NativeDetector;
use palisade_events::{EventPipeline, EventSink, EventsConfig};
use palisade_openapi::{ApiSpec, OpenApiDetector};
use palisade_proxy::admin::{run_admin, AdminState};
use palisade_proxy::balance::Balancer;
use palisade_proxy::conn::{ConnLimits, HandedOver, ListenerSpec, ListenerTls};
use palisade_proxy::hygiene::ErrorScrubber;
use palisade_proxy::workers::{spawn_workers, worker_count, BoundListener};
use palisade_proxy::{EventRecorder, Gateway, Runtime};
use palisade_ratelimit::LocalState;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How to start a gateway.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Config file; absent means defaults plus overrides.
    pub config_path: Option<PathBuf>,
    pub overrides: Overrides,
    /// Events configuration used when the file has none (the CLI's `--events-db`).
    pub events: Option<EventsConfig>,
}

/// A started gateway.
pub struct RunningGateway {
    pub listen_addrs: Vec<SocketAddr>,
    pub admin_addr: Option<SocketAddr>,
    pub gateway: Gateway,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    events: Arc<EventPipeline>,
    reload: Arc<dyn Fn() -> Result<String, String> + Send + Sync>,
    balancer: Arc<Balancer<HandedOver>>,
}

impl std::fmt::Debug for RunningGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningGateway")
            .field("listen_addrs", &self.listen_addrs)
            .finish()
    }
}

impl RunningGateway {
    /// Client connections each worker serves now.
    pub fn connections_per_worker(&self) -> Vec<usize> {
        self.balancer.loads()
    }

    /// Re-reads the configuration and swaps it in; an invalid one is refused
    /// and the current one keeps serving.
    pub fn reload(&self) -> Result<String, String> {
        (self.reload)()
    }

    /// Events written so far are durable after this returns true.
    pub fn flush_events(&self, timeout: std::time::Duration) -> bool {
        self.events.flush(timeout)
    }

    pub fn events(&self) -> &EventPipeline {
        &self.events
    }

    /// Stops accepting, drains in-flight requests, flushes events.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        if let Err(e) = self.events.flush_and_close() {
            tracing::warn!(error = %e, "events not fully written at shutdown");
        }
    }
}

struct PipelineRecorder(Arc<EventPipeline>);

impl EventRecorder for PipelineRecorder {
    fn record(&self, event: SecurityEvent) {
        // Drops are counted by the pipeline; the data path never waits.
        let _ = self.0.try_record(event);
    }
}

/// The process-wide Prometheus recorder (installed once).
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[
                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                1.0, 2.5, 5.0, 10.0,
            ])
            .map(|b| b.build_recorder())
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let handle = recorder.handle();
        // Another recorder may already be installed (tests); ours then only renders.
        let _ = metrics::set_global_recorder(recorder);
        palisade_events::describe_metrics();
        handle
    })
}

/// Reads the configuration named by `opts` and applies the overrides.
pub fn load_config(opts: &Options) -> Result<Config> {
    // Overrides apply before validation: `--upstream` may supply the upstream a file's routes name.
    let (mut config, text, file) = match &opts.config_path {
        Some(p) => {
            let file = p.display().to_string();
            let text =
                std::fs::read_to_string(p).with_context(|| format!("{file}: cannot read"))?;
            (
                Config::from_toml(&text, &file).map_err(|e| anyhow!("{e}"))?,
                text,
                file,
            )
        }
        None => (
            Config::default(),
            String::new(),
            "<command line>".to_string(),
        ),
    };
    config.apply_overrides(&opts.overrides);
    config.validate(&text, &file).map_err(|e| anyhow!("{e}"))?;
    if config.upstreams.is_empty() || config.routes.is_empty() {
        bail!("no upstream configured: pass --upstream URL or define [[upstreams]] and [[routes]] in the config file");
    }
    Ok(config)
}

/// Detectors shared by every route, built once per configuration.
struct SharedDetectors {
    openapi: Option<Arc<dyn Detector>>,
    native: Option<Arc<dyn Detector>>,
    crs: Option<Arc<dyn Detector>>,
    scrubber: Option<Arc<dyn Detector>>,
}

/// The API descriptions of one configuration: the global one and each route's own.
#[derive(Default)]
pub(crate) struct Specs {
    global: Option<(Arc<ApiSpec>, Arc<dyn Detector>)>,
    /// Route name to the description in force on it (its own or the global one).
    pub(crate) by_route: HashMap<String, Arc<ApiSpec>>,
    own_detectors: HashMap<String, Arc<dyn Detector>>,
}

fn load_spec(section: &OpenApiConfig, base: &Path) -> Result<Arc<ApiSpec>> {
    let path = if section.spec.is_relative() {
        base.join(&section.spec)
    } else {
        section.spec.clone()
    };
    let spec = ApiSpec::load(&path).map_err(|e| anyhow!("OpenAPI {}: {e}", path.display()))?;
    Ok(Arc::new(spec))
}

impl Specs {
    fn load(config: &Config, base: &Path) -> Result<Specs> {
        let mut specs = Specs::default();
        if let Some(section) = &config.openapi {
            let spec = load_spec(section, base)?;
            let detector: Arc<dyn Detector> =
                Arc::new(OpenApiDetector::new(spec.clone(), section.policy.clone()));
            specs.global = Some((spec, detector));
        }
        for route in &config.routes {
            match &route.openapi {
                Some(section) => {
                    let spec = load_spec(section, base)
                        .with_context(|| format!("route `{}`", route.name))?;
                    specs.own_detectors.insert(
                        route.name.clone(),
                        Arc::new(OpenApiDetector::new(spec.clone(), section.policy.clone())),
                    );
                    specs.by_route.insert(route.name.clone(), spec);
                }
                None => {
                    if let Some((spec, _)) = &specs.global {
                        specs.by_route.insert(route.name.clone(), spec.clone());
                    }
                }
            }
        }
        Ok(specs)
    }
}

/// Loads the SecLang rules (relative paths against the config file's directory).
pub fn load_crs(config: &palisade_waf::WafConfig, base: &Path) -> Result<Arc<dyn Detector>> {
    let mut config = config.clone();
    let resolve = |p: &mut Option<PathBuf>| {
        if let Some(path) = p.as_mut() {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        }
    };
    resolve(&mut config.rules_dir);
    resolve(&mut config.setup_file);
    let waf = palisade_waf::Waf::load(&config).map_err(|e| anyhow!("CRS: {e}"))?;
    Ok(Arc::new(palisade_waf::WafDetector::new(waf)))
}

impl SharedDetectors {
    fn build(config: &Config, base: &Path, specs: &Specs) -> Result<SharedDetectors> {
        Ok(SharedDetectors {
            openapi: specs.global.as_ref().map(|(_, d)| d.clone()),
            native: config.detect.enabled.then(|| {
                Arc::new(NativeDetector::new(config.detect.native.clone())) as Arc<dyn Detector>
            }),
            crs: config.crs.as_ref().map(|c| load_crs(c, base)).transpose()?,
            scrubber: config
                .response
                .scrub_errors
                .then(|| Arc::new(ErrorScrubber::new()) as Arc<dyn Detector>),
        })
    }

    /// Pipeline order for one route: validation, then detection, then response hygiene.
    fn for_route(
        &self,
        route: &palisade_config::RouteConfig,
        specs: &Specs,
    ) -> Result<Vec<Arc<dyn Detector>>, String> {
        let mut out: Vec<Arc<dyn Detector>> = Vec::new();
        match specs.own_detectors.get(&route.name) {
            Some(own) => out.push(own.clone()),
            None => out.extend(self.openapi.clone()),
        }
        out.extend(self.native.clone());
        out.extend(self.crs.clone());
        out.extend(self.scrubber.clone());
        Ok(out)
    }
}

fn upstream_tls(u: &UpstreamConfig) -> Result<Arc<rustls::ClientConfig>, String> {
    let needs_tls = u.tls.is_some() || u.addresses.iter().any(|a| a.starts_with("https://"));
    if needs_tls {
        let cfg = u.tls.clone().unwrap_or_default();
        return palisade_tls::build_client_config(&cfg)
            .map_err(|e| format!("upstream `{}`: {e}", u.name));
    }
    // Plain-HTTP upstreams never use it; an empty trust store makes sure of that.
    let cfg = rustls::ClientConfig::builder_with_provider(palisade_tls::crypto_provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

fn build_runtime(
    config: &Config,
    base: &Path,
    events: Arc<dyn EventRecorder>,
    generation: u64,
    sample: f64,
    limits_state: &LocalState,
) -> Result<Runtime> {
    let specs = Specs::load(config, base)?;
    let shared = SharedDetectors::build(config, base, &specs)?;
    let detectors_for = |r: &palisade_config::RouteConfig| shared.for_route(r, &specs);
    let mut rt = Runtime::build(config, &detectors_for, events, &upstream_tls, generation)
        .map_err(|e| anyhow!(e))?;
    rt.access_log_sample = sample;
    rt.access = crate::access::Access::build(config, base, specs.by_route, limits_state)?
        .map(|a| a as Arc<dyn palisade_proxy::AccessControl>);
    Ok(rt)
}

fn listener_spec(l: &palisade_config::ListenerConfig) -> Result<ListenerSpec> {
    let tls = match &l.tls {
        None => None,
        Some(t) => {
            let built = palisade_tls::build_server_config_checked(t)
                .with_context(|| format!("listener {}", l.address))?;
            for w in &built.warnings {
                tracing::warn!(listener = %l.address, "{w}");
            }
            let hsts = (l.hsts_max_age.0.as_secs() > 0)
                .then(|| {
                    HeaderValue::from_str(&format!(
                        "max-age={}; includeSubDomains",
                        l.hsts_max_age.0.as_secs()
                    ))
                    .ok()
                })
                .flatten();
            Some(ListenerTls {
                acceptor: tokio_rustls::TlsAcceptor::from(built.config),
                hsts,
                handshake_timeout: l.tls_handshake_timeout.0,
            })
        }
    };
    Ok(ListenerSpec {
        tls,
        redirect_https_port: l.redirect_to_https_port,
    })
}

/// Directory relative paths in the configuration are resolved against.
fn config_base(opts: &Options) -> PathBuf {
    opts.config_path
        .as_ref()
        .and_then(|p| p.parent())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Starts a gateway: binds every listener (port 0 allowed), the admin
/// listener, and returns once they accept connections.
pub async fn start(opts: Options) -> Result<RunningGateway> {
    let config = load_config(&opts)?;
    // The command line's event settings win over the file's.
    let events_cfg = opts
        .events
        .clone()
        .or_else(|| config.events.clone())
        .unwrap_or_default();
    let pipeline =
        Arc::new(EventPipeline::from_config(&events_cfg).map_err(|e| anyhow!("events: {e}"))?);
    let recorder: Arc<dyn EventRecorder> = Arc::new(PipelineRecorder(pipeline.clone()));
    let sample = events_cfg.access_log_sample_rate;
    let prom = prometheus();

    let base = config_base(&opts);
    // Rate-limit allowances and brute-force counts outlive configuration reloads.
    let limits_state = LocalState::default();
    let runtime = build_runtime(&config, &base, recorder.clone(), 1, sample, &limits_state)?;
    let gateway = Gateway::new(runtime);
    let conn_limits = ConnLimits::new(&config.limits);
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    let mut listen_addrs = Vec::new();
    let mut bound = Vec::new();
    for l in &config.listeners {
        let spec = listener_spec(l)?;
        // tokio's bind sets SO_REUSEADDR and a backlog of 1024 (std's is 128).
        let socket = TcpListener::bind(l.address)
            .await
            .and_then(TcpListener::into_std)
            .with_context(|| format!("cannot listen on {}", l.address))?;
        listen_addrs.push(socket.local_addr()?);
        bound.push(BoundListener { socket, spec });
    }
    let workers = worker_count(config.workers);
    let (balancer, stopped) = spawn_workers(
        workers,
        config.worker_pinning,
        &bound,
        &gateway,
        &conn_limits,
        &shutdown_rx,
    )
    .context("starting worker threads")?;
    for done in stopped {
        tasks.push(tokio::spawn(done));
    }
    // The workers hold their own clones of the sockets.
    drop(bound);
    tracing::debug!(workers, "serving");

    let generation = Arc::new(AtomicU64::new(1));
    let reload_lock = Arc::new(Mutex::new(()));
    let reload: Arc<dyn Fn() -> Result<String, String> + Send + Sync> = {
        let gateway = gateway.clone();
        let opts = opts.clone();
        let recorder = recorder.clone();
        let listeners: Vec<SocketAddr> = config.listeners.iter().map(|l| l.address).collect();
        Arc::new(move || {
            let _guard = reload_lock
                .lock()
                .map_err(|_| "reload lock poisoned".to_string())?;
            let config = load_config(&opts).map_err(|e| format!("{e:#}"))?;
            let new_listeners: Vec<SocketAddr> =
                config.listeners.iter().map(|l| l.address).collect();
            let generation = generation.fetch_add(1, Ordering::SeqCst) + 1;
            let rt = build_runtime(
                &config,
                &config_base(&opts),
                recorder.clone(),
                generation,
                sample,
                &limits_state,
            )
            .map_err(|e| format!("{e:#}"))?;
            gateway.swap(rt);
            metrics::counter!("palisade_config_reloads_total", "result" => "ok").increment(1);
            let mut msg = format!("configuration generation {generation} in force");
            if new_listeners != listeners {
                msg.push_str(" (listener changes take effect after a restart)");
            }
            tracing::info!("{msg}");
            Ok(msg)
        })
    };
    let reload_counted: Arc<dyn Fn() -> Result<String, String> + Send + Sync> = {
        let inner = reload.clone();
        Arc::new(move || {
            let r = inner();
            if let Err(e) = &r {
                metrics::counter!("palisade_config_reloads_total", "result" => "refused")
                    .increment(1);
                tracing::error!("reload refused, previous configuration still serving: {e}");
            }
            r
        })
    };

    let mut admin_addr = None;
    if config.admin.enabled {
        let listener = TcpListener::bind(config.admin.address)
            .await
            .with_context(|| format!("cannot listen on admin address {}", config.admin.address))?;
        admin_addr = Some(listener.local_addr()?);
        let state = AdminState {
            metrics: Arc::new(move || {
                palisade_core::flush_worker_metrics();
                prom.render()
            }),
            ready: Arc::new(AtomicBool::new(true)),
            reload: reload_counted.clone(),
        };
        tasks.push(tokio::spawn(run_admin(
            listener,
            state,
            shutdown_rx.clone(),
        )));
    }

    Ok(RunningGateway {
        listen_addrs,
        admin_addr,
        gateway,
        shutdown: shutdown_tx,
        tasks,
        events: pipeline,
        reload: reload_counted,
        balancer,
    })
}
