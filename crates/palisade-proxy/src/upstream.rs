//! Upstream clusters: pooled keep-alive connections (hyper-util's client),
//! round robin over addresses, and passive health checking: an address that
//! fails `eject_after_failures` times in a row is left out for `eject_for`.
//!
//! Each worker thread has its own pool (see [`crate::workers`]): a pooled
//! connection is driven by a task on the runtime that opened it, so sharing one
//! pool between workers would bounce every request between threads.

use crate::workers::current_worker;
use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use palisade_config::UpstreamConfig;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type ProxyBody = UnsyncBoxBody<Bytes, BoxError>;

#[derive(Debug)]
struct Endpoint {
    scheme: http::uri::Scheme,
    authority: http::uri::Authority,
    consecutive_failures: AtomicU32,
    /// Milliseconds since the cluster's epoch until which this address is ejected.
    ejected_until_ms: AtomicU64,
}

/// Why an upstream exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("upstream connect or protocol error: {0}")]
    Failed(String),
    #[error("upstream did not answer within {0:?}")]
    Timeout(Duration),
}

impl UpstreamError {
    pub fn kind(&self) -> &'static str {
        match self {
            UpstreamError::Failed(_) => "error",
            UpstreamError::Timeout(_) => "timeout",
        }
    }
}

pub struct Upstream {
    pub name: String,
    endpoints: Vec<Endpoint>,
    next: AtomicUsize,
    eject_after: u32,
    eject_for: Duration,
    read_timeout: Duration,
    epoch: Instant,
    connector: HttpsConnector<HttpConnector>,
    pool_max_idle: usize,
    /// One pool per worker thread, indexed by [`current_worker`], opened on first use.
    clients: Box<[OnceLock<UpstreamClient>]>,
}

type UpstreamClient = Client<HttpsConnector<HttpConnector>, ProxyBody>;

/// Pools kept per upstream; workers beyond this share pools (modulo).
const MAX_POOLS: usize = 128;

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("name", &self.name)
            .field("endpoints", &self.endpoints)
            .finish()
    }
}

impl Upstream {
    /// Builds a cluster. `tls` verifies `https://` addresses.
    pub fn new(cfg: &UpstreamConfig, tls: Arc<rustls::ClientConfig>) -> Result<Upstream, String> {
        let mut endpoints = Vec::new();
        for a in &cfg.addresses {
            let uri: Uri = a
                .parse()
                .map_err(|e| format!("upstream `{}`: bad address `{a}`: {e}", cfg.name))?;
            let (Some(scheme), Some(authority)) = (uri.scheme().cloned(), uri.authority().cloned())
            else {
                return Err(format!(
                    "upstream `{}`: `{a}` needs a scheme and host",
                    cfg.name
                ));
            };
            endpoints.push(Endpoint {
                scheme,
                authority,
                consecutive_failures: AtomicU32::new(0),
                ejected_until_ms: AtomicU64::new(0),
            });
        }
        if endpoints.is_empty() {
            return Err(format!("upstream `{}` has no addresses", cfg.name));
        }
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(cfg.connect_timeout.0));
        let builder = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*tls).clone())
            .https_or_http();
        // A configured server name is verified instead of the address host.
        let builder = match cfg.tls.as_ref().and_then(|t| t.server_name.clone()) {
            Some(name) => {
                let name = rustls::pki_types::ServerName::try_from(name).map_err(|e| {
                    format!("upstream `{}`: invalid tls.server_name: {e}", cfg.name)
                })?;
                builder.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name))
            }
            None => builder,
        };
        let connector = builder.enable_http1().wrap_connector(http);
        Ok(Upstream {
            name: cfg.name.clone(),
            endpoints,
            next: AtomicUsize::new(0),
            eject_after: cfg.eject_after_failures.max(1),
            eject_for: cfg.eject_for.0,
            read_timeout: cfg.read_timeout.0,
            epoch: Instant::now(),
            connector,
            pool_max_idle: cfg.pool_max_idle,
            clients: (0..MAX_POOLS).map(|_| OnceLock::new()).collect(),
        })
    }

    fn client(&self) -> &UpstreamClient {
        self.clients[current_worker() % MAX_POOLS].get_or_init(|| {
            Client::builder(TokioExecutor::new())
                .pool_max_idle_per_host(self.pool_max_idle)
                .pool_idle_timeout(Duration::from_secs(60))
                .build(self.connector.clone())
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Round robin over healthy addresses; when all are ejected, over all of them.
    fn pick(&self) -> usize {
        let n = self.endpoints.len();
        if n == 1 {
            // Nothing to choose: no shared counter to bump, no clock to read
            // (an ejected sole address is still the only one to try).
            return 0;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let now = self.now_ms();
        (0..n)
            .map(|i| (start + i) % n)
            .find(|&i| self.endpoints[i].ejected_until_ms.load(Ordering::Relaxed) <= now)
            .unwrap_or(start % n)
    }

    fn record(&self, idx: usize, ok: bool) {
        let ep = &self.endpoints[idx];
        if ok {
            // Written only when there is something to reset: a write per
            // request would bounce this line between the workers' cores.
            if ep.consecutive_failures.load(Ordering::Relaxed) != 0 {
                ep.consecutive_failures.store(0, Ordering::Relaxed);
            }
            return;
        }
        let fails = ep.consecutive_failures.fetch_add(1, Ordering::Relaxed) + 1;
        if fails >= self.eject_after {
            let until =
                self.now_ms() + u64::try_from(self.eject_for.as_millis()).unwrap_or(u64::MAX / 2);
            ep.ejected_until_ms.store(until, Ordering::Relaxed);
            ep.consecutive_failures.store(0, Ordering::Relaxed);
            metrics::counter!("palisade_upstream_ejections_total", "upstream" => self.name.clone())
                .increment(1);
            tracing::warn!(upstream = %self.name, address = %ep.authority, "upstream address ejected after {fails} failures");
        }
    }

    /// Sends `req` (whose URI holds only path and query) to the next address.
    pub async fn send(
        &self,
        mut req: Request<ProxyBody>,
    ) -> Result<Response<Incoming>, UpstreamError> {
        let idx = self.pick();
        let ep = &self.endpoints[idx];
        let pq = req.uri().path_and_query().cloned();
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(ep.scheme.clone());
        parts.authority = Some(ep.authority.clone());
        parts.path_and_query = pq.or_else(|| Some(http::uri::PathAndQuery::from_static("/")));
        *req.uri_mut() =
            Uri::from_parts(parts).map_err(|e| UpstreamError::Failed(e.to_string()))?;
        *req.version_mut() = http::Version::HTTP_11;
        let result = tokio::time::timeout(self.read_timeout, self.client().request(req)).await;
        match result {
            Ok(Ok(resp)) => {
                self.record(idx, true);
                Ok(resp)
            }
            Ok(Err(e)) => {
                self.record(idx, false);
                Err(UpstreamError::Failed(error_chain(&e)))
            }
            Err(_) => {
                self.record(idx, false);
                Err(UpstreamError::Timeout(self.read_timeout))
            }
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}
