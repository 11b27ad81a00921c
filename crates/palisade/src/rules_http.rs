//! `palisade rules test --http`: the go-ftw regression suite replayed over
//! real HTTP through a gateway started in this process, in front of a test
//! backend, with the SecLang engine as its only detector (monitor mode, as
//! the in-process runner is detection-only). Rule ids come from the
//! gateway's security events.

use crate::assemble::{start, Options, RunningGateway};
use anyhow::{anyhow, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use palisade_config::Overrides;
use palisade_core::Mode;
use palisade_events::{EventQuery, EventStore};
use palisade_waf::conformance::{backend_answer, run_suite_http, HttpTarget, SuiteReport};
use std::collections::{BTreeSet, HashMap};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Runs the suite in `tests` against the CRS in `crs` through a gateway.
pub fn run(crs: &Path, tests: &Path, paranoia: u8, setup: Option<&Path>) -> Result<SuiteReport> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let work = TempDir::new()?;
    let settings = work.0.join("test-settings.conf");
    std::fs::write(&settings, palisade_waf::conformance::TEST_SETTINGS)
        .with_context(|| format!("writing {}", settings.display()))?;
    let events_db = work.0.join("events.db");
    let config = work.0.join("palisade.toml");
    let mut text = format!(
        "[detect]\nenabled = false\n\n[response]\nscrub_errors = false\n\n[crs]\nrules_dir = {}\nparanoia = {paranoia}\nextra_files = [{}]\n",
        toml_string(crs),
        toml_string(&settings)
    );
    if let Some(setup) = setup {
        text.push_str(&format!("setup_file = {}\n", toml_string(setup)));
    }
    text.push_str(&format!(
        "\n[events]\nsqlite_path = {}\n",
        toml_string(&events_db)
    ));
    std::fs::write(&config, text).with_context(|| format!("writing {}", config.display()))?;

    let backend = runtime.block_on(spawn_backend())?;
    let gateway = runtime.block_on(start(Options {
        config_path: Some(config),
        overrides: Overrides {
            listen: Some("127.0.0.1:0".parse()?),
            upstream: Some(format!("http://{backend}")),
            admin: Some("127.0.0.1:0".parse()?),
            mode: Some(Mode::Monitor),
            ..Overrides::default()
        },
        events: None,
    }))?;
    let mut target = GatewayTarget {
        addr: gateway.listen_addrs[0],
        gateway: &gateway,
        events_db,
    };
    let report = run_suite_http(tests, &mut target).map_err(|e| anyhow!("{e}"));
    runtime.block_on(gateway.shutdown());
    report
}

fn toml_string(path: &Path) -> String {
    toml::Value::String(path.display().to_string()).to_string()
}

/// A private directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<TempDir> {
        let base = std::env::temp_dir();
        for n in 0..1000u32 {
            let dir = base.join(format!("palisade-rules-{}-{n}", std::process::id()));
            if std::fs::create_dir(&dir).is_ok() {
                return Ok(TempDir(dir));
            }
        }
        Err(anyhow!(
            "cannot create a directory under {}",
            base.display()
        ))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The test backend: answers as the in-process runner's simulated backend
/// does, and echoes the gateway's `X-Request-Id` so every answer carries it.
async fn spawn_backend() -> Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(|req: http::Request<Incoming>| async move {
                        let (parts, body) = req.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        let uri = parts
                            .uri
                            .path_and_query()
                            .map(|p| p.as_str().as_bytes().to_vec())
                            .unwrap_or_default();
                        let (status, headers, answer) = backend_answer(&uri, &body);
                        let mut resp = http::Response::new(Full::new(Bytes::from(answer)));
                        *resp.status_mut() =
                            http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
                        for (name, value) in headers {
                            if let (Ok(n), Ok(v)) = (
                                http::HeaderName::from_bytes(&name),
                                http::HeaderValue::from_bytes(&value),
                            ) {
                                resp.headers_mut().append(n, v);
                            }
                        }
                        if let Some(id) = parts.headers.get("x-request-id") {
                            resp.headers_mut().insert("x-request-id", id.clone());
                        }
                        Ok::<_, std::convert::Infallible>(resp)
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    Ok(addr)
}

struct GatewayTarget<'a> {
    addr: SocketAddr,
    gateway: &'a RunningGateway,
    events_db: PathBuf,
}

impl HttpTarget for GatewayTarget<'_> {
    fn send(&mut self, raw: &[u8]) -> (u16, Option<String>) {
        exchange(self.addr, raw).unwrap_or((0, None))
    }

    fn logged_ids(&mut self) -> Result<HashMap<String, BTreeSet<u64>>, String> {
        if !self.gateway.flush_events(Duration::from_secs(30)) {
            return Err("events were not all written within 30 s".into());
        }
        let store = EventStore::open(&self.events_db).map_err(|e| e.to_string())?;
        let events = store
            .query(&EventQuery {
                limit: usize::MAX,
                ..EventQuery::default()
            })
            .map_err(|e| e.to_string())?;
        let mut out: HashMap<String, BTreeSet<u64>> = HashMap::new();
        for event in events {
            let ids = out.entry(event.request_id).or_default();
            ids.extend(
                event
                    .rules
                    .iter()
                    .filter_map(|r| r.rule_id.parse::<u64>().ok()),
            );
        }
        Ok(out)
    }
}

/// Sends one raw request and reads the answer's head: (status, request id).
fn exchange(addr: SocketAddr, raw: &[u8]) -> std::io::Result<(u16, Option<String>)> {
    let mut tcp = TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
    tcp.set_write_timeout(Some(Duration::from_secs(5)))?;
    // The gateway may answer (400) before reading everything: a failed write is not the end.
    let _ = tcp.write_all(raw);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match tcp.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                head.extend_from_slice(&buf[..n]);
                if head.windows(4).any(|w| w == b"\r\n\r\n") || head.len() > 65536 {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse::<u16>().ok())
        .unwrap_or(0);
    let request_id = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case("x-request-id"))
        .map(|(_, v)| v.trim().to_owned());
    Ok((status, request_id))
}
