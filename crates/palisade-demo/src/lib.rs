//! The demo shop/booking API: the upstream Palisade protects in `palisade
//! demo` and in every integration test.
//!
//! A small JSON API with in-memory state, fresh for each [`router`]:
//! users and login, products, orders, seat reservations with a pay step,
//! comments, plus test helpers (`/api/echo`, `/api/slow`, `/ws`). Its
//! OpenAPI 3.1 description is [`OPENAPI_YAML`].
//!
//! # Deliberate weaknesses
//!
//! The API is vulnerable on purpose, so the gateway has something to defend:
//!
//! * `GET /api/orders/{id}` lets any logged-in user read any order (BOLA,
//!   OWASP API1).
//! * `GET /api/admin/users` checks for a login but not for the admin role
//!   (BFLA, API5).
//! * `GET /api/users/{id}` and `GET /api/users/me` return `password_hash` and
//!   `internal_notes`, which the OpenAPI description does not promise
//!   (excessive data exposure, API3).
//! * `POST /api/reservations` holds a seat for 10 minutes without payment,
//!   so seats can be hoarded (business flow abuse, API6).
//! * `POST /api/comments` stores any text (stored XSS, injection payloads).
//! * `GET /api/debug/crash` answers 500 with a Java stack trace, an SQL error
//!   and a file path ([`CRASH_LEAK_MARKERS`]).
//! * Every response carries `Server: demo-api/1.0` and `X-Powered-By: Express`.
//! * `GET /api/v1/products` is deprecated but still served (zombie endpoint).
//! * JSON bodies are accepted whatever their `Content-Type`.
//!
//! # Seeded accounts (demo only: these passwords are public)
//!
//! | username | password             | role  |
//! |----------|----------------------|-------|
//! | alice    | `alice-wonderland-1` | user  |
//! | bob      | `bob-builder-2`      | user  |
//! | admin    | `admin-demo-3`       | admin |
//!
//! Orders 1, 2 and 3 belong to alice, bob and admin. Seats are `A1`..`C8`.
//! `POST /api/login` returns an opaque bearer token for
//! `Authorization: Bearer <token>`.
//!
//! # Test helpers
//!
//! * `GET|POST|PUT|PATCH|DELETE /api/echo` reflects method, path, query,
//!   headers (as received, hop-by-hop ones included), the TCP peer and the body.
//! * `GET /api/slow?ms=N` answers after N ms (capped, 10 s by default).
//! * `GET /ws` is a WebSocket echo.
//! * `GET /healthz`.
//!
//! [`script`] holds the traffic `palisade demo --attack` sends and the table
//! it prints.

mod api;
pub mod script;
mod state;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

pub use api::{CRASH_LEAK_MARKERS, ECHO_BODY_LIMIT};
pub use state::{DemoUser, DEMO_USERS};

/// The demo API's OpenAPI 3.1 description.
pub const OPENAPI_YAML: &str = include_str!("../openapi.yaml");

/// `Server` header value on every response.
pub const SERVER_HEADER: &str = "demo-api/1.0";
/// `X-Powered-By` header value on every response.
pub const POWERED_BY_HEADER: &str = "Express";

/// Behaviour knobs, for tests that cannot wait ten minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoOptions {
    /// How long `POST /api/reservations` holds a seat before it frees again.
    pub reservation_hold: Duration,
    /// Longest sleep `GET /api/slow` grants.
    pub slow_cap: Duration,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            reservation_hold: Duration::from_secs(600),
            slow_cap: Duration::from_secs(10),
        }
    }
}

/// The demo API with fresh state and default options.
pub fn router() -> Router {
    router_with(DemoOptions::default())
}

/// The demo API with fresh state.
pub fn router_with(options: DemoOptions) -> Router {
    let state = api::AppState::new(options);
    Router::new()
        .route("/healthz", get(api::healthz))
        .route("/api/login", post(api::login))
        .route("/api/logout", post(api::logout))
        .route("/api/users/me", get(api::me))
        .route("/api/users/{id}", get(api::user_by_id))
        .route("/api/admin/users", get(api::admin_users))
        .route("/api/products", get(api::products))
        .route("/api/v1/products", get(api::products_v1))
        .route("/api/products/{id}", get(api::product_by_id))
        .route("/api/orders", post(api::create_order).get(api::my_orders))
        .route("/api/orders/{id}", get(api::order_by_id))
        .route("/api/seats", get(api::seats))
        .route("/api/reservations", post(api::create_reservation))
        .route("/api/reservations/{id}", get(api::reservation_by_id))
        .route("/api/reservations/{id}/pay", post(api::pay_reservation))
        .route(
            "/api/comments",
            post(api::create_comment).get(api::comments),
        )
        .route("/api/debug/crash", get(api::crash))
        .route(
            "/api/echo",
            get(api::echo)
                .post(api::echo)
                .put(api::echo)
                .patch(api::echo)
                .delete(api::echo),
        )
        .route("/api/slow", get(api::slow))
        .route("/ws", get(websocket))
        .fallback(api::not_found)
        .with_state(state)
        .layer(DefaultBodyLimit::max(ECHO_BODY_LIMIT))
        .layer(axum::middleware::map_response(upstream_headers))
}

async fn upstream_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::SERVER, HeaderValue::from_static(SERVER_HEADER));
    headers.insert("x-powered-by", HeaderValue::from_static(POWERED_BY_HEADER));
    response
}

async fn websocket(upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(echo_socket)
}

async fn echo_socket(mut socket: WebSocket) {
    while let Some(Ok(message)) = socket.recv().await {
        let reply = match message {
            Message::Text(_) | Message::Binary(_) => message,
            Message::Close(_) => break,
            // Pings are answered by the protocol layer.
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        if socket.send(reply).await.is_err() {
            break;
        }
    }
}

/// Serves the demo API (HTTP/1.1 and cleartext HTTP/2) on `listener` until
/// `shutdown` completes, then finishes in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, DemoOptions::default(), shutdown).await
}

/// [`serve`] with options.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    options: DemoOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let service = router_with(options).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown)
        .await
}

/// A demo API running in the background; stopped by [`DemoHandle::shutdown`]
/// or when dropped.
#[derive(Debug)]
pub struct DemoHandle {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl DemoHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets in-flight requests finish and waits for the server.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(std::io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for DemoHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            // Without an await point here, make sure a stuck connection cannot
            // keep the server alive after the test that owned it.
            task.abort();
        }
    }
}

/// Starts the demo API on `127.0.0.1` with an ephemeral port, on the current
/// tokio runtime.
pub async fn spawn_on_loopback() -> std::io::Result<(SocketAddr, DemoHandle)> {
    spawn_on_loopback_with(DemoOptions::default()).await
}

/// [`spawn_on_loopback`] with options.
pub async fn spawn_on_loopback_with(
    options: DemoOptions,
) -> std::io::Result<(SocketAddr, DemoHandle)> {
    let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve_with(listener, options, async move {
        let _ = stopped.await;
    }));
    Ok((
        addr,
        DemoHandle {
            addr,
            stop: Some(stop),
            task: Some(task),
        },
    ))
}
