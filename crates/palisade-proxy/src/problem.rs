//! `application/problem+json` (RFC 9457) responses. They carry the request id so
//! an operator can find the event, and never any request data or internal detail.

use crate::header_names::X_REQUEST_ID;
use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};

pub const PROBLEM_JSON: &str = "application/problem+json";

/// The problem document for `status`, as bytes.
pub fn problem_body(status: StatusCode, title: &str, request_id: &str) -> Bytes {
    let doc = serde_json::json!({
        "type": "about:blank",
        "title": title,
        "status": status.as_u16(),
        "request_id": request_id,
    });
    Bytes::from(doc.to_string())
}

/// A complete problem response with the given body type.
pub fn problem_response<B: From<Bytes>>(
    status: StatusCode,
    title: &str,
    request_id: &str,
) -> Response<B> {
    let body = problem_body(status, title, request_id);
    let mut resp = Response::new(B::from(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert(X_REQUEST_ID, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_has_no_request_data() {
        let b = problem_body(
            StatusCode::FORBIDDEN,
            "Request blocked by security policy",
            "abc",
        );
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["status"], 403);
        assert_eq!(v["request_id"], "abc");
    }
}
