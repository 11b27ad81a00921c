//! The demo API over real sockets.

use bytes::Bytes;
use http::{header, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use palisade_demo::{spawn_on_loopback, spawn_on_loopback_with, DemoOptions, DEMO_USERS};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

struct Api {
    addr: SocketAddr,
    client: HttpClient,
}

struct Reply {
    status: StatusCode,
    headers: http::HeaderMap,
    body: Value,
    raw: Bytes,
}

impl Api {
    fn new(addr: SocketAddr) -> Api {
        Api {
            addr,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("http://{}{}", self.addr, path));
        if let Some(token) = token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let payload = match body {
            Some(value) => {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
                Bytes::from(value.to_string())
            }
            None => Bytes::new(),
        };
        let request = builder.body(Full::new(payload)).expect("request");
        let response = self.client.request(request).await.expect("response");
        let status = response.status();
        let headers = response.headers().clone();
        let raw = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            raw,
        }
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(Method::GET, path, token, None).await
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::POST, path, token, Some(body)).await
    }

    async fn login(&self, username: &str) -> String {
        let user = DEMO_USERS
            .iter()
            .find(|u| u.username == username)
            .expect("seeded user");
        let reply = self
            .post(
                "/api/login",
                None,
                json!({"username": user.username, "password": user.password}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        reply.body["token"].as_str().expect("token").to_string()
    }
}

#[tokio::test]
async fn login_issues_distinct_tokens_and_rejects_bad_credentials() {
    let (addr, handle) = spawn_on_loopback().await.expect("spawn");
    let api = Api::new(addr);

    let first = api.login("alice").await;
    let second = api.login("alice").await;
    assert_ne!(first, second, "one token per session");
    assert_eq!(first.len(), 64);

    let me = api.get("/api/users/me", Some(&first)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["username"], "alice");
    assert_eq!(me.body["role"], "user");

    let wrong = api
        .post(
            "/api/login",
            None,
            json!({"username": "alice", "password": "bob-builder-2"}),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body["error"].is_string());
    let unknown = api
        .post(
            "/api/login",
            None,
            json!({"username": "mallory", "password": "x"}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    let malformed = api.call(Method::POST, "/api/login", None, None).await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);

    let anonymous = api.get("/api/users/me", None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert!(anonymous.headers.contains_key(header::WWW_AUTHENTICATE));
    let forged = api.get("/api/users/me", Some(&"0".repeat(64))).await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);

    let logout = api
        .call(Method::POST, "/api/logout", Some(&first), None)
        .await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    assert_eq!(
        api.get("/api/users/me", Some(&first)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        api.get("/api/users/me", Some(&second)).await.status,
        StatusCode::OK
    );
    handle.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn every_response_advertises_the_upstream_stack() {
    let (addr, handle) = spawn_on_loopback().await.expect("spawn");
    let api = Api::new(addr);
    for path in ["/healthz", "/api/products", "/nope", "/api/debug/crash"] {
        let reply = api.get(path, None).await;
        assert_eq!(reply.headers[header::SERVER], "demo-api/1.0", "{path}");
        assert_eq!(reply.headers["x-powered-by"], "Express", "{path}");
    }
    assert_eq!(api.get("/nope", None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        api.get("/healthz", None).await.body,
        json!({"status": "ok"})
    );
    handle.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn user_endpoints_over_expose_sensitive_fields() {
    let (addr, handle) = spawn_on_loopback().await.expect("spawn");
    let api = Api::new(addr);
    let token = api.login("bob").await;
    let alice = api.get("/api/users/1", Some(&token)).await;
    assert_eq!(alice.status, StatusCode::OK);
    assert_eq!(alice.body["email"], "alice@demo-shop.example");
    assert!(alice.body["password_hash"]
        .as_str()
        .is_some_and(|h| h.starts_with("sha256$")));
    assert!(alice.body["internal_notes"].is_string());
    let raw = String::from_utf8_lossy(&alice.raw);
    assert!(
        !raw.contains("alice-wonderland-1"),
        "never the password itself"
    );
    assert_eq!(
        api.get("/api/users/99", Some(&token)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.get("/api/users/abc", Some(&token)).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        api.get("/api/users/1", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    handle.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn bola_and_bfla_weaknesses_exist_as_documented() {
    let (addr, handle) = spawn_on_loopback().await.expect("spawn");
    let api = Api::new(addr);
    let alice = api.login("alice").await;

    // Order 2 is bob's; alice reads it anyway.
    let foreign = api.get("/api/orders/2", Some(&alice)).await;
    assert_eq!(foreign.status, StatusCode::OK);
    assert_eq!(foreign.body["user_id"], 2);
    assert!(foreign.body["shipping_address"]
        .as_str()
        .is_some_and(|a| a.contains("Bristol")));

    // Her own listing only shows her orders.
    let mine = api.get("/api/orders", Some(&alice)).await;
    let owners: Vec<&Value> = mine.body["orders"]
        .as_array()
        .expect("orders")
        .iter()
        .map(|o| &o["user_id"])
        .collect();
    assert_eq!(owners, vec![&json!(1)]);

    // Admin function with an ordinary user's token.
    let admin_list = api.get("/api/admin/users", Some(&alice)).await;
    assert_eq!(admin_list.status, StatusCode::OK);
    assert_eq!(admin_list.body["users"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        api.get("/api/admin/users", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        api.get("/api/orders/2", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    handle.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn products_search_filter_limit_and_deprecated_listing() {
    let (addr, handle) = spawn_on_loopback().await.expect("spawn");
    let api = Api::new(addr);
    let all = api.get("/api/products", None).await;
    assert_eq!(all.body["count"], 12);
    let books = api.get("/api/products?category=books", None).await;
    assert_eq!(books.body["count"], 3);
    assert!(books.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .all(|p| p["category"] == "books"));
    let search = api.get("/api/products?q=KEYBOARD", None).await;
    assert_eq!(search.body["count"], 1);
    let limited = api.get("/api/products?limit=2", None).await;
    assert_eq!(limited.body["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        api.get("/api/products?limit=0", None).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        api.get("/api/products?limit=abc", None).await.status,
        StatusCode::BAD_REQUEST
    );
    let one = api.get("/api/products/4", None).await;
    assert_eq!(one.body["name"], "Mechanical Keyboard");
    assert_eq!(
        api.get("/api/products/999", None).await.status,
        StatusCode::NOT_FOUND
    );
    let old = api.get("/api/v1/products?limit=5", None).await;
    assert_eq!(old.status, StatusCode::OK);
    assert_eq!(old.headers["deprecation"], "true");
    assert_eq!(old.body.as_array().map(Vec::len), Some(5));
    handle.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn ordering_checks_stock_and_quantity() {
    let (addr, handle) = spawn_on_loopback().await.expect("spawn");
    let api = Api::new(addr);
    let bob = api.login("bob").await;
    let order = api
        .post(
            "/api/orders",
            Some(&bob),
            json!({"product_id": 7, "quantity": 2}),
        )
        .await;
    assert_eq!(order.status, StatusCode::CREATED, "{:?}", order.body);
    assert_eq!(order.body["user_id"], 2);
    assert_eq!(order.body["total_cents"], 2 * 39_900);
    assert_eq!(order.body["status"], "placed");
    let id = order.body["id"].as_u64().expect("id");
    assert_eq!(
        api.get(&format!("/api/orders/{id}"), Some(&bob)).await.body["product_id"],
        7
    );
    let product = api.get("/api/products/7", None).await;
    assert_eq!(product.body["stock"], 4);
    let too_many = api
        .post(
            "/api/orders",
            Some(&bob),
            json!({"product_id": 7, "quantity": 5}),
        )
        .await;
    assert_eq!(too_many.status, StatusCode::CONFLICT);
    let zero = api
        .post(
            "/api/orders",
            Some(&bob),
            json!({"product_id": 7, "quantity": 0}),
        )
        .await;
    assert_eq!(zero.status, StatusCode::BAD_REQUEST);
    let mass_assignment = api
        .post(
            "/api/orders",
            Some(&bob),
            json!({"product_id": 1, "total_cents": 1}),
        )
        .await;
    assert_eq!(mass_assignment.status, StatusCode::BAD_REQUEST);
    let anonymous = api
        .post("/api/orders", None, json!({"product_id": 1}))
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    handle.shutdown().await.expect("shutdown");
}

fn seat_status(seats: &Value, id: &str) -> String {
    seats["seats"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["id"] == id))
        .and_then(|s| s["status"].as_str())
        .unwrap_or("missing")
        .to_string()
}

#[tokio::test]
async fn reservation_then_payment_sells_the_seat() {
    let (addr, handle) = spawn_on_loopback().await.expect("spawn");
    let api = Api::new(addr);
    let alice = api.login("alice").await;
    let bob = api.login("bob").await;

    assert_eq!(
        seat_status(&api.get("/api/seats", None).await.body, "B3"),
        "available"
    );
    let held = api
        .post("/api/reservations", Some(&alice), json!({"seat_id": "B3"}))
        .await;
    assert_eq!(held.status, StatusCode::CREATED, "{:?}", held.body);
    assert_eq!(held.body["status"], "held");
    let hold_ms = held.body["expires_at_ms"].as_i64().unwrap_or(0)
        - held.body["created_at_ms"].as_i64().unwrap_or(0);
    assert_eq!(hold_ms, 600_000, "ten-minute hold");
    let id = held.body["id"].as_u64().expect("id");
    assert_eq!(
        seat_status(&api.get("/api/seats", None).await.body, "B3"),
        "held"
    );

    let taken = api
        .post("/api/reservations", Some(&bob), json!({"seat_id": "B3"}))
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    let bob_pays = api
        .call(
            Method::POST,
            &format!("/api/reservations/{id}/pay"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(
        bob_pays.status,
        StatusCode::NOT_FOUND,
        "not his reservation"
    );

    let paid = api
        .call(
            Method::POST,
            &format!("/api/reservations/{id}/pay"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(paid.status, StatusCode::OK);
    assert_eq!(paid.body["status"], "paid");
    assert!(paid.body["paid_at_ms"].is_i64());
    assert_eq!(
        seat_status(&api.get("/api/seats", None).await.body, "B3"),
        "sold"
    );
    let again = api
        .call(
            Method::POST,
            &format!("/api/reservations/{id}/pay"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let read_back = api
        .get(&format!("/api/reservations/{id}"), Some(&alice))
        .await;
    assert_eq!(read_back.body["status"], "paid");

    let unknown_seat = api
        .post("/api/reservations", Some(&alice), json!({"seat_id": "Z9"}))
        .await;
    assert_eq!(unknown_seat.status, StatusCode::NOT_FOUND);
    handle.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn unpaid_holds_expire_and_free_the_seat() {
    let (addr, handle) = spawn_on_loopback_with(DemoOptions {
        reservation_hold: Duration::from_millis(200),
        ..DemoOptions::default()
    })
    .await
    .expect("spawn");
    let api = Api::new(addr);
    let alice = api.login("alice").await;
    let bob = api.login("bob").await;
    let held = api
        .post("/api/reservations", Some(&alice), json!({"seat_id": "A1"}))
        .await;
    let id = held.body["id"].as_u64().expect("id");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        seat_status(&api.get("/api/seats", None).await.body, "A1"),
        "available"
    );
    let late = api
        .call(
            Method::POST,
            &format!("/api/reservations/{id}/pay"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(late.status, StatusCode::CONFLICT);
    let bob_holds = api
        .post("/api/reservations", Some(&bob), json!({"seat_id": "A1"}))
        .await;
    assert_eq!(bob_holds.status, StatusCode::CREATED);
    handle.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn comments_store_text_verbatim() {
    let (addr, handle) = spawn_on_loopback().await.expect("spawn");
    let api = Api::new(addr);
    let payload = "<script>alert(1)</script>' OR 1=1 --";
    let anonymous = api
        .post("/api/comments", None, json!({"text": payload}))
        .await;
    assert_eq!(anonymous.status, StatusCode::CREATED);
    assert_eq!(anonymous.body["author"], "anonymous");
    let alice = api.login("alice").await;
    let signed = api
        .post("/api/comments", Some(&alice), json!({"text": "nice"}))
        .await;
    assert_eq!(signed.body["author"], "alice");
    let list = api.get("/api/comments", None).await;
    assert_eq!(list.body["comments"][0]["text"], payload);
    let empty = api.post("/api/comments", None, json!({"text": ""})).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    handle.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn crash_body_carries_every_leak_marker() {
    let (addr, handle) = spawn_on_loopback().await.expect("spawn");
    let api = Api::new(addr);
    let crash = api.get("/api/debug/crash", None).await;
    assert_eq!(crash.status, StatusCode::INTERNAL_SERVER_ERROR);
    let text = String::from_utf8_lossy(&crash.raw);
    for marker in palisade_demo::CRASH_LEAK_MARKERS {
        // The body is JSON: compare against the JSON-escaped marker.
        let escaped = serde_json::to_string(marker).expect("escape");
        let inner = escaped.trim_matches('"');
        assert!(text.contains(inner), "missing {marker:?} in {text}");
    }
    assert!(text.contains("\\tat com.demoshop"));
    handle.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn echo_reflects_method_path_query_headers_and_body() {
    let (addr, handle) = spawn_on_loopback().await.expect("spawn");
    let api = Api::new(addr);
    let request = Request::builder()
        .method(Method::PUT)
        .uri(format!("http://{addr}/api/echo?a=1&b=%27x"))
        .header("x-forwarded-for", "203.0.113.9")
        .header("x-multi", "one")
        .header("x-multi", "two")
        .body(Full::new(Bytes::from_static(b"{\"hello\":\"world\"}")))
        .expect("request");
    let response = api.client.request(request).await.expect("response");
    let body: Value = serde_json::from_slice(
        &response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes(),
    )
    .expect("json");
    assert_eq!(body["method"], "PUT");
    assert_eq!(body["path"], "/api/echo");
    assert_eq!(body["query"], "a=1&b=%27x");
    assert_eq!(body["headers"]["x-forwarded-for"], json!(["203.0.113.9"]));
    assert_eq!(body["headers"]["x-multi"], json!(["one", "two"]));
    assert_eq!(body["body"], "{\"hello\":\"world\"}");
    assert_eq!(body["body_bytes"], 17);
    assert!(body["peer"]
        .as_str()
        .is_some_and(|p| p.starts_with("127.0.0.1:")));
    handle.shutdown().await.expect("shutdown");
}

async fn raw_exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write");
    let mut response = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response));
    read.await.expect("server closes").expect("read");
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test]
async fn echo_shows_hop_by_hop_headers_as_received() {
    let (addr, handle) = spawn_on_loopback().await.expect("spawn");
    let response = raw_exchange(
        addr,
        b"GET /api/echo HTTP/1.1\r\nHost: demo\r\nConnection: close, x-secret-hop\r\n\
          Keep-Alive: timeout=5\r\nX-Secret-Hop: 1\r\nTE: trailers\r\n\r\n",
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body)
        .unwrap_or_default();
    let echo: Value = serde_json::from_str(body).expect("json body");
    assert_eq!(
        echo["headers"]["connection"],
        json!(["close, x-secret-hop"])
    );
    assert_eq!(echo["headers"]["keep-alive"], json!(["timeout=5"]));
    assert_eq!(echo["headers"]["x-secret-hop"], json!(["1"]));
    assert_eq!(echo["headers"]["te"], json!(["trailers"]));
    assert_eq!(echo["version"], "HTTP/1.1");
    handle.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn slow_sleeps_within_its_cap() {
    let (addr, handle) = spawn_on_loopback_with(DemoOptions {
        slow_cap: Duration::from_millis(300),
        ..DemoOptions::default()
    })
    .await
    .expect("spawn");
    let api = Api::new(addr);
    let started = Instant::now();
    let reply = api.get("/api/slow?ms=150", None).await;
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(reply.body["slept_ms"], 150);
    let started = Instant::now();
    let capped = api.get("/api/slow?ms=60000", None).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(capped.body["slept_ms"], 300);
    assert_eq!(
        api.get("/api/slow?ms=-1", None).await.status,
        StatusCode::BAD_REQUEST
    );
    handle.shutdown().await.expect("shutdown");
}

/// Minimal client side of RFC 6455: handshake, one masked text frame, one
/// unmasked frame back.
#[tokio::test]
async fn websocket_echoes_text() {
    let (addr, handle) = spawn_on_loopback().await.expect("spawn");
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(
            b"GET /ws HTTP/1.1\r\nHost: demo\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .await
        .expect("handshake");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).await.expect("read head");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="));

    let message = b"hello palisade";
    let mask = [0x12u8, 0x34, 0x56, 0x78];
    let mut frame = vec![0x81, 0x80 | message.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(message.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    stream.write_all(&frame).await.expect("send frame");

    let mut header = [0u8; 2];
    stream.read_exact(&mut header).await.expect("frame header");
    assert_eq!(header[0], 0x81, "final text frame");
    assert_eq!(
        usize::from(header[1]),
        message.len(),
        "unmasked, same length"
    );
    let mut payload = vec![0u8; message.len()];
    stream.read_exact(&mut payload).await.expect("payload");
    assert_eq!(payload, message);
    handle.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn serves_cleartext_http2() {
    let (addr, handle) = spawn_on_loopback().await.expect("spawn");
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let request = Request::builder()
        .uri(format!("http://{addr}/api/echo"))
        .body(Full::new(Bytes::new()))
        .expect("request");
    let response = client.request(request).await.expect("h2 response");
    assert_eq!(response.version(), http::Version::HTTP_2);
    let body: Value = serde_json::from_slice(
        &response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes(),
    )
    .expect("json");
    assert_eq!(body["version"], "HTTP/2.0");
    handle.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn dropping_the_handle_stops_the_server() {
    let (addr, handle) = spawn_on_loopback().await.expect("spawn");
    assert!(TcpStream::connect(addr).await.is_ok());
    drop(handle);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if TcpStream::connect(addr).await.is_err() {
            break;
        }
        assert!(Instant::now() < deadline, "server still accepting");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn serve_stops_on_the_shutdown_future() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(palisade_demo::serve(listener, async move {
        let _ = stopped.await;
    }));
    let api = Api::new(addr);
    assert_eq!(api.get("/healthz", None).await.status, StatusCode::OK);
    drop(api);
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("server stops")
        .expect("join")
        .expect("clean exit");
}
