//! Shared set-up for the end-to-end tests: the demo API as upstream and a
//! Palisade gateway in front of it, both on loopback ports chosen by the OS.
#![allow(dead_code)]

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use palisade::{start, Options, RunningGateway};
use palisade_config::Overrides;
use palisade_demo::DemoHandle;
use palisade_events::EventsConfig;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct Harness {
    pub gw: RunningGateway,
    pub api: DemoHandle,
    pub api_addr: SocketAddr,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
}

impl Harness {
    /// Demo API plus a gateway configured by `toml`, in which `{api}` stands for
    /// the demo API's address. Without `[[upstreams]]` in it, the demo API is
    /// given as `--upstream`. Listener and admin ports are chosen by the OS.
    pub async fn with_config(toml: &str) -> Harness {
        let (api_addr, api) = palisade_demo::spawn_on_loopback().await.expect("demo api");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("palisade.toml");
        let text = toml.replace("{api}", &format!("http://{api_addr}"));
        std::fs::write(&path, &text).expect("write config");
        let upstream = (!text.contains("[[upstreams]]")).then(|| format!("http://{api_addr}"));
        let gw = start_gateway(Some(path), upstream, &dir).await;
        let addr = gw.listen_addrs[0];
        Harness {
            gw,
            api,
            api_addr,
            addr,
            dir,
        }
    }

    /// Demo API plus a gateway started from an existing config file, with
    /// `--upstream` (the demo API) and optionally `--redis`.
    pub async fn with_config_file(path: PathBuf, redis: Option<String>) -> Harness {
        let (api_addr, api) = palisade_demo::spawn_on_loopback().await.expect("demo api");
        let dir = tempfile::tempdir().expect("tempdir");
        let gw =
            start_gateway_with(Some(path), Some(format!("http://{api_addr}")), redis, &dir).await;
        let addr = gw.listen_addrs[0];
        Harness {
            gw,
            api,
            api_addr,
            addr,
            dir,
        }
    }

    pub async fn new() -> Harness {
        Harness::with_config("").await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn events_db(&self) -> PathBuf {
        self.dir.path().join("events.db")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("palisade.toml")
    }
}

pub async fn start_gateway(
    config: Option<PathBuf>,
    upstream: Option<String>,
    dir: &tempfile::TempDir,
) -> RunningGateway {
    start_gateway_with(config, upstream, None, dir).await
}

/// A gateway on OS-chosen ports with its events in `dir`, optionally sharing
/// state through the Redis at `redis`.
pub async fn start_gateway_with(
    config: Option<PathBuf>,
    upstream: Option<String>,
    redis: Option<String>,
    dir: &tempfile::TempDir,
) -> RunningGateway {
    let events = EventsConfig {
        sqlite_path: Some(dir.path().join("events.db")),
        ..EventsConfig::default()
    };
    start(Options {
        config_path: config,
        overrides: Overrides {
            listen: Some("127.0.0.1:0".parse().expect("addr")),
            upstream,
            mode: None,
            admin: Some("127.0.0.1:0".parse().expect("addr")),
            openapi: None,
            redis,
            crs: None,
            paranoia: None,
        },
        events: Some(events),
    })
    .await
    .expect("gateway starts")
}

pub type TestClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

pub fn client() -> TestClient {
    Client::builder(TokioExecutor::new()).build_http()
}

pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub async fn send(
    client: &TestClient,
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut b = Request::builder().method(method).uri(url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = b
        .body(Full::new(Bytes::copy_from_slice(body)))
        .expect("request");
    let resp: Response<_> = tokio::time::timeout(Duration::from_secs(30), client.request(req))
        .await
        .expect("response in time")
        .expect("response");
    let (parts, body) = resp.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    Reply {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
    }
}

pub async fn get(url: &str) -> Reply {
    send(&client(), Method::GET, url, &[], b"").await
}

/// Writes raw bytes and reads until the server closes or `wait` passes.
pub async fn raw_exchange(addr: SocketAddr, bytes: &[u8], wait: Duration) -> String {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(bytes).await.expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(wait, s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// Body of the admin `/metrics` page.
pub async fn metrics(gw: &RunningGateway) -> String {
    let admin = gw.admin_addr.expect("admin listener");
    get(&format!("http://{admin}/metrics")).await.text()
}
