//! Request handlers.

use crate::state::{
    new_token, now_ms, Comment, Order, Product, Reservation, ReservationState, Store, User,
};
use crate::DemoOptions;
use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

pub(crate) struct AppState {
    store: Mutex<Store>,
    pub(crate) options: DemoOptions,
}

pub(crate) type Shared = Arc<AppState>;

impl AppState {
    pub(crate) fn new(options: DemoOptions) -> Shared {
        Arc::new(AppState {
            store: Mutex::new(Store::seeded()),
            options,
        })
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        // A panicking handler cannot leave the store half-updated in a way
        // that matters for a demo; keep serving.
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A JSON error response: `{"error": "..."}`.
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
    fn unauthorized() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "authentication required")
    }
    fn not_found(what: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, format!("{what} not found"))
    }
    fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
    fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({ "error": self.message }))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"demo-shop\""),
            );
        }
        response
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// Parses a JSON body whatever its Content-Type says: the demo API is as
/// lenient as many real ones, so the gateway's content-type rules have work.
fn parse_body<T: DeserializeOwned>(body: &Bytes) -> ApiResult<T> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

fn parse_id(raw: &str, what: &str) -> ApiResult<u64> {
    raw.parse()
        .map_err(|_| ApiError::bad_request(format!("{what} id must be a positive integer")))
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The logged-in user's id, from `Authorization: Bearer <token>`.
fn session_user(store: &Store, headers: &HeaderMap) -> ApiResult<u64> {
    let token = bearer_token(headers).ok_or_else(ApiError::unauthorized)?;
    store
        .sessions
        .get(token)
        .copied()
        .ok_or_else(ApiError::unauthorized)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    username: String,
    password: String,
}

pub(crate) async fn login(State(state): State<Shared>, body: Bytes) -> ApiResult<Json<Value>> {
    let request: LoginRequest = parse_body(&body)?;
    let mut store = state.store();
    let user = store
        .authenticate(&request.username, &request.password)
        .map(|u| (u.id, u.username.clone(), u.role.clone()));
    let Some((id, username, role)) = user else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid credentials",
        ));
    };
    let token = new_token();
    store.sessions.insert(token.clone(), id);
    Ok(Json(json!({
        "token": token,
        "token_type": "Bearer",
        "user": { "id": id, "username": username, "role": role },
    })))
}

pub(crate) async fn logout(
    State(state): State<Shared>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let mut store = state.store();
    session_user(&store, &headers)?;
    if let Some(token) = bearer_token(&headers) {
        store.sessions.remove(token);
    }
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn me(State(state): State<Shared>, headers: HeaderMap) -> ApiResult<Json<User>> {
    let store = state.store();
    let id = session_user(&store, &headers)?;
    store
        .user(id)
        .cloned()
        .map(Json)
        .ok_or_else(|| ApiError::not_found("user"))
}

pub(crate) async fn user_by_id(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(raw_id): Path<String>,
) -> ApiResult<Json<User>> {
    let id = parse_id(&raw_id, "user")?;
    let store = state.store();
    session_user(&store, &headers)?;
    store
        .user(id)
        .cloned()
        .map(Json)
        .ok_or_else(|| ApiError::not_found("user"))
}

/// BFLA target: checks that the caller is logged in, never that they are an admin.
pub(crate) async fn admin_users(
    State(state): State<Shared>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let store = state.store();
    session_user(&store, &headers)?;
    Ok(Json(json!({ "users": store.users })))
}

const DEFAULT_PRODUCT_LIMIT: usize = 20;
const MAX_PRODUCT_LIMIT: usize = 100;

fn search_products(store: &Store, params: &HashMap<String, String>) -> ApiResult<Vec<Product>> {
    let limit = match params.get("limit") {
        None => DEFAULT_PRODUCT_LIMIT,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PRODUCT_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!("limit must be between 1 and {MAX_PRODUCT_LIMIT}"))
            })?,
    };
    let needle = params
        .get("q")
        .map(|q| q.to_lowercase())
        .filter(|q| !q.is_empty());
    let category = params.get("category").filter(|c| !c.is_empty());
    Ok(store
        .products
        .iter()
        .filter(|p| category.is_none_or(|c| &p.category == c))
        .filter(|p| {
            needle.as_deref().is_none_or(|n| {
                p.name.to_lowercase().contains(n) || p.description.to_lowercase().contains(n)
            })
        })
        .take(limit)
        .cloned()
        .collect())
}

pub(crate) async fn products(
    State(state): State<Shared>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let store = state.store();
    let items = search_products(&store, &params)?;
    Ok(Json(json!({ "count": items.len(), "items": items })))
}

/// The old listing, still served: a bare array and a `Deprecation` header.
pub(crate) async fn products_v1(
    State(state): State<Shared>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let store = state.store();
    let items = search_products(&store, &params)?;
    let mut response = Json(items).into_response();
    response
        .headers_mut()
        .insert("deprecation", HeaderValue::from_static("true"));
    response.headers_mut().insert(
        header::LINK,
        HeaderValue::from_static("</api/products>; rel=\"successor-version\""),
    );
    Ok(response)
}

pub(crate) async fn product_by_id(
    State(state): State<Shared>,
    Path(raw_id): Path<String>,
) -> ApiResult<Json<Product>> {
    let id = parse_id(&raw_id, "product")?;
    let store = state.store();
    store
        .products
        .iter()
        .find(|p| p.id == id)
        .cloned()
        .map(Json)
        .ok_or_else(|| ApiError::not_found("product"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrderRequest {
    product_id: u64,
    #[serde(default = "one")]
    quantity: u64,
    #[serde(default)]
    shipping_address: Option<String>,
}

fn one() -> u64 {
    1
}

const MAX_ORDER_QUANTITY: u64 = 100;

pub(crate) async fn create_order(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Order>)> {
    let mut store = state.store();
    let user_id = session_user(&store, &headers)?;
    let request: OrderRequest = parse_body(&body)?;
    if !(1..=MAX_ORDER_QUANTITY).contains(&request.quantity) {
        return Err(ApiError::bad_request(format!(
            "quantity must be between 1 and {MAX_ORDER_QUANTITY}"
        )));
    }
    let product = store
        .products
        .iter_mut()
        .find(|p| p.id == request.product_id)
        .ok_or_else(|| ApiError::not_found("product"))?;
    if product.stock < request.quantity {
        return Err(ApiError::conflict("not enough stock"));
    }
    product.stock -= request.quantity;
    let total_cents = product.price_cents * request.quantity;
    let id = store.next_order_id;
    store.next_order_id += 1;
    let order = Order {
        id,
        user_id,
        product_id: request.product_id,
        quantity: request.quantity,
        total_cents,
        status: "placed",
        shipping_address: request.shipping_address.unwrap_or_default(),
        created_at_ms: now_ms(),
    };
    store.orders.insert(id, order.clone());
    Ok((StatusCode::CREATED, Json(order)))
}

pub(crate) async fn my_orders(
    State(state): State<Shared>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let store = state.store();
    let user_id = session_user(&store, &headers)?;
    let orders: Vec<&Order> = store
        .orders
        .values()
        .filter(|o| o.user_id == user_id)
        .collect();
    Ok(Json(json!({ "orders": orders })))
}

/// BOLA target: any logged-in user reads any order; ownership is never checked.
pub(crate) async fn order_by_id(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(raw_id): Path<String>,
) -> ApiResult<Json<Order>> {
    let id = parse_id(&raw_id, "order")?;
    let store = state.store();
    session_user(&store, &headers)?;
    store
        .orders
        .get(&id)
        .cloned()
        .map(Json)
        .ok_or_else(|| ApiError::not_found("order"))
}

pub(crate) async fn seats(State(state): State<Shared>) -> Json<Value> {
    let store = state.store();
    let now = Instant::now();
    let seats: Vec<Value> = store
        .seats
        .iter()
        .map(|seat| {
            json!({
                "id": seat.id,
                "row": seat.row,
                "number": seat.number,
                "price_cents": seat.price_cents,
                "status": store.seat_status(&seat.id, now),
            })
        })
        .collect();
    Json(json!({ "seats": seats }))
}

fn reservation_json(reservation: &Reservation, now: Instant) -> Value {
    json!({
        "id": reservation.id,
        "seat_id": reservation.seat_id,
        "user_id": reservation.user_id,
        "price_cents": reservation.price_cents,
        "status": reservation.status(now),
        "expires_at_ms": reservation.expires_at_ms,
        "created_at_ms": reservation.created_at_ms,
        "paid_at_ms": reservation.paid_at_ms,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReservationRequest {
    seat_id: String,
}

pub(crate) async fn create_reservation(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let mut store = state.store();
    let user_id = session_user(&store, &headers)?;
    let request: ReservationRequest = parse_body(&body)?;
    let now = Instant::now();
    let price_cents = store
        .seats
        .iter()
        .find(|s| s.id == request.seat_id)
        .map(|s| s.price_cents)
        .ok_or_else(|| ApiError::not_found("seat"))?;
    if store.seat_status(&request.seat_id, now) != "available" {
        return Err(ApiError::conflict("seat is not available"));
    }
    let hold = state.options.reservation_hold;
    let created_at_ms = now_ms();
    let id = store.next_reservation_id;
    store.next_reservation_id += 1;
    let reservation = Reservation {
        id,
        seat_id: request.seat_id,
        user_id,
        price_cents,
        state: ReservationState::Held,
        expires_at: now + hold,
        expires_at_ms: created_at_ms.saturating_add(Store::hold_duration_ms(hold)),
        created_at_ms,
        paid_at_ms: None,
    };
    let body = reservation_json(&reservation, now);
    store.reservations.insert(id, reservation);
    Ok((StatusCode::CREATED, Json(body)))
}

/// Owners only: other users get 404, as if the reservation did not exist.
fn owned_reservation<'a>(
    store: &'a mut Store,
    user_id: u64,
    raw_id: &str,
) -> ApiResult<&'a mut Reservation> {
    let id = parse_id(raw_id, "reservation")?;
    store
        .reservations
        .get_mut(&id)
        .filter(|r| r.user_id == user_id)
        .ok_or_else(|| ApiError::not_found("reservation"))
}

pub(crate) async fn reservation_by_id(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(raw_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let mut store = state.store();
    let user_id = session_user(&store, &headers)?;
    let reservation = owned_reservation(&mut store, user_id, &raw_id)?;
    Ok(Json(reservation_json(reservation, Instant::now())))
}

pub(crate) async fn pay_reservation(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(raw_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let mut store = state.store();
    let user_id = session_user(&store, &headers)?;
    let now = Instant::now();
    let reservation = owned_reservation(&mut store, user_id, &raw_id)?;
    match reservation.status(now) {
        "paid" => return Err(ApiError::conflict("reservation is already paid")),
        "expired" => return Err(ApiError::conflict("reservation hold has expired")),
        _ => {}
    }
    reservation.state = ReservationState::Paid;
    reservation.paid_at_ms = Some(now_ms());
    Ok(Json(reservation_json(reservation, now)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommentRequest {
    text: String,
}

const MAX_COMMENT_CHARS: usize = 2_000;

/// Stores free text as given: the stored-XSS and injection playground.
pub(crate) async fn create_comment(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Comment>)> {
    let request: CommentRequest = parse_body(&body)?;
    let length = request.text.chars().count();
    if length == 0 || length > MAX_COMMENT_CHARS {
        return Err(ApiError::bad_request(format!(
            "text must have 1 to {MAX_COMMENT_CHARS} characters"
        )));
    }
    let mut store = state.store();
    let author = session_user(&store, &headers)
        .ok()
        .and_then(|id| store.user(id))
        .map_or_else(|| "anonymous".to_string(), |u| u.username.clone());
    let comment = Comment {
        id: store.next_comment_id,
        author,
        text: request.text,
        created_at_ms: now_ms(),
    };
    store.next_comment_id += 1;
    store.comments.push(comment.clone());
    Ok((StatusCode::CREATED, Json(comment)))
}

pub(crate) async fn comments(State(state): State<Shared>) -> Json<Value> {
    let store = state.store();
    Json(json!({ "comments": store.comments }))
}

/// Fragments of the crash body that must never reach a client through the gateway.
pub const CRASH_LEAK_MARKERS: &[&str] = &[
    "java.lang.NullPointerException",
    "at com.demoshop.orders.OrderService.findOrder(OrderService.java:142)",
    "You have an error in your SQL syntax",
    "/var/www/demo-shop/src/main/java/com/demoshop/orders/OrderService.java",
    "SELECT * FROM orders WHERE id = ",
];

pub(crate) async fn crash() -> Response {
    let trace = "java.lang.NullPointerException: Cannot invoke \"Order.getUser()\" because \"order\" is null\n\
        \tat com.demoshop.orders.OrderService.findOrder(OrderService.java:142)\n\
        \tat com.demoshop.orders.OrderController.get(OrderController.java:57)\n\
        \tat org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:897)\n\
        \tat org.apache.catalina.core.ApplicationFilterChain.doFilter(ApplicationFilterChain.java:166)\n\
        Caused by: java.sql.SQLSyntaxErrorException: You have an error in your SQL syntax; check the \
        manual that corresponds to your MySQL server version for the right syntax to use near ''1'' at line 1\n\
        \tat com.mysql.cj.jdbc.exceptions.SQLError.createSQLException(SQLError.java:120)";
    let body = json!({
        "error": "Internal Server Error",
        "exception": "java.lang.NullPointerException",
        "message": "You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version for the right syntax to use near ''1'' at line 1",
        "query": "SELECT * FROM orders WHERE id = '1''",
        "file": "/var/www/demo-shop/src/main/java/com/demoshop/orders/OrderService.java",
        "trace": trace,
    });
    (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
}

/// Largest body the echo endpoint reads.
pub const ECHO_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// Reflects the request exactly as this server received it.
pub(crate) async fn echo(request: Request) -> ApiResult<Json<Value>> {
    let (parts, body) = request.into_parts();
    let mut headers: Map<String, Value> = Map::new();
    let mut ordered: Vec<Value> = Vec::new();
    for (name, value) in &parts.headers {
        let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
        ordered.push(json!([name.as_str(), text.clone()]));
        match headers.entry(name.as_str()) {
            serde_json::map::Entry::Vacant(slot) => {
                slot.insert(Value::Array(vec![Value::String(text)]));
            }
            serde_json::map::Entry::Occupied(mut slot) => {
                if let Value::Array(values) = slot.get_mut() {
                    values.push(Value::String(text));
                }
            }
        }
    }
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.to_string());
    let bytes = to_bytes(Body::new(body), ECHO_BODY_LIMIT)
        .await
        .map_err(|_| ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body too large"))?;
    Ok(Json(json!({
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": parts.uri.query(),
        "uri": parts.uri.to_string(),
        "version": format!("{:?}", parts.version),
        "headers": headers,
        "header_list": ordered,
        "peer": peer,
        "body": String::from_utf8_lossy(&bytes),
        "body_bytes": bytes.len(),
    })))
}

pub(crate) async fn slow(
    State(state): State<Shared>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let requested: u64 = match params.get("ms") {
        None => 0,
        Some(raw) => raw
            .parse()
            .map_err(|_| ApiError::bad_request("ms must be a non-negative integer"))?,
    };
    let cap = u64::try_from(state.options.slow_cap.as_millis()).unwrap_or(u64::MAX);
    let slept = requested.min(cap);
    tokio::time::sleep(Duration::from_millis(slept)).await;
    Ok(Json(
        json!({ "requested_ms": requested, "slept_ms": slept }),
    ))
}

pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found("resource")
}
