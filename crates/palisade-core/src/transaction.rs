use crate::state::StateMap;
use crate::{Finding, PathSegment, PathSegments, Principal};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, Method, StatusCode, Uri, Version};
use std::net::IpAddr;
use std::sync::Arc;

/// The request line and headers as received, plus what the connection told us.
#[derive(Debug, Clone)]
pub struct RequestHead {
    pub method: Method,
    pub uri: Uri,
    pub version: Version,
    pub headers: HeaderMap,
    /// Client address after trusted-proxy resolution.
    pub client_ip: IpAddr,
    /// Address of the TCP peer.
    pub peer_ip: IpAddr,
    /// True when the request arrived over TLS.
    pub tls: bool,
    pub request_id: Arc<str>,
    /// Name of the route the request matched.
    pub route: Arc<str>,
    /// The path's normalised segments, computed once for every stage that matches paths.
    pub path_segments: PathSegments,
}

impl RequestHead {
    /// Minimal head for tests and offline evaluation.
    pub fn synthetic(method: Method, uri: &str) -> Self {
        let ip = IpAddr::from([127, 0, 0, 1]);
        RequestHead {
            method,
            uri: uri.parse().unwrap_or_else(|_| Uri::from_static("/")),
            version: Version::HTTP_11,
            headers: HeaderMap::new(),
            client_ip: ip,
            peer_ip: ip,
            tls: false,
            request_id: Arc::from("synthetic"),
            route: Arc::from("default"),
            path_segments: PathSegments::default(),
        }
    }

    pub fn path(&self) -> &str {
        self.uri.path()
    }

    /// The path split into normalised segments (see [`crate::normalize_path`]).
    pub fn normalized_segments(&self) -> &[PathSegment] {
        self.path_segments.get_or_compute(self.uri.path())
    }

    pub fn query(&self) -> Option<&str> {
        self.uri.query()
    }

    /// The `Content-Type` media type, lowercased and without parameters.
    /// Borrowed from the header when it is lowercase already (the usual
    /// spelling): several stages ask for it on every request with a body.
    pub fn media_type(&self) -> Option<std::borrow::Cow<'_, str>> {
        let ct = self
            .headers
            .get(http::header::CONTENT_TYPE)?
            .to_str()
            .ok()?;
        let essence = ct.split(';').next().unwrap_or("").trim();
        Some(if essence.bytes().any(|b| b.is_ascii_uppercase()) {
            std::borrow::Cow::Owned(essence.to_ascii_lowercase())
        } else {
            std::borrow::Cow::Borrowed(essence)
        })
    }
}

/// The response status and headers from the upstream.
#[derive(Debug, Clone)]
pub struct ResponseHead {
    pub status: StatusCode,
    pub version: Version,
    pub headers: HeaderMap,
}

/// Changes detectors ask the proxy to make to the response before it goes to
/// the client (response hygiene, excessive-data-exposure stripping).
#[derive(Debug, Clone, Default)]
pub struct ResponseEdit {
    /// Replace the body, with this content type.
    pub replace_body: Option<(Bytes, String)>,
    /// Replace the status code.
    pub replace_status: Option<StatusCode>,
    pub remove_headers: Vec<HeaderName>,
}

/// One request/response exchange going through the inspection pipeline.
///
/// The proxy fills it phase by phase; detectors read it and append findings.
/// Per-detector state that must live across phases (the SecLang `TX`
/// collection, say) goes in [`Transaction::state`].
#[derive(Debug)]
pub struct Transaction {
    pub request: RequestHead,
    /// Buffered request body, when it was inspected.
    pub request_body: Option<Bytes>,
    /// True when the body was larger than the inspection cap and was not inspected.
    pub request_body_uninspected: bool,
    pub response: Option<ResponseHead>,
    pub response_body: Option<Bytes>,
    pub response_body_uninspected: bool,
    /// Verified identity, set by the identity phase.
    pub principal: Option<Principal>,
    /// Name of the API operation the request matched, when an API description is loaded.
    pub operation: Option<String>,
    pub findings: Vec<Finding>,
    pub response_edit: ResponseEdit,
    /// Type map for detector state that spans phases.
    pub state: StateMap,
}

impl Transaction {
    pub fn new(request: RequestHead) -> Self {
        Transaction {
            request,
            request_body: None,
            request_body_uninspected: false,
            response: None,
            response_body: None,
            response_body_uninspected: false,
            principal: None,
            operation: None,
            findings: Vec::new(),
            response_edit: ResponseEdit::default(),
            state: StateMap::new(),
        }
    }

    pub fn report(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    pub fn anomaly_score(&self) -> u32 {
        self.findings.iter().map(|f| f.score).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_type_is_the_lowercased_essence() {
        let mut head = RequestHead::synthetic(http::Method::POST, "/api/orders");
        assert_eq!(head.media_type(), None);
        for (header, media) in [
            ("application/json", "application/json"),
            ("application/json; charset=utf-8", "application/json"),
            ("  Application/JSON ;charset=UTF-8", "application/json"),
            ("multipart/form-data; boundary=X", "multipart/form-data"),
        ] {
            head.headers.insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static(header),
            );
            assert_eq!(head.media_type().as_deref(), Some(media), "{header}");
        }
    }
}
