//! Rewriting request and response heads between client and upstream:
//! hop-by-hop headers (RFC 9110 §7.6.1) are dropped, and the upstream learns who
//! the client is through `X-Forwarded-For`, `Forwarded`, `X-Forwarded-Proto`
//! and `X-Request-Id`, built from what Palisade verified, not what the client claimed.

use crate::header_names::{X_FORWARDED_FOR, X_FORWARDED_HOST, X_FORWARDED_PROTO, X_REQUEST_ID};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use std::net::IpAddr;

const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Removes hop-by-hop headers, including those the `Connection` header names.
/// With `keep_upgrade`, `Connection: upgrade` and `Upgrade` survive (WebSocket).
pub fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    let upgrade = if keep_upgrade {
        headers.get(header::UPGRADE).cloned()
    } else {
        None
    };
    let te_trailers = headers.get_all(header::TE).iter().any(|v| {
        v.to_str().is_ok_and(|s| {
            s.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("trailers"))
        })
    });
    for name in named {
        // Never let a client use Connection to strip what we add ourselves.
        if !is_protected(&name) {
            headers.remove(&name);
        }
    }
    for name in HOP_BY_HOP {
        headers.remove(*name);
    }
    if let Some(up) = upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, up);
    }
    if te_trailers {
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
    }
}

fn is_protected(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "x-forwarded-for"
            | "forwarded"
            | "x-forwarded-proto"
            | "x-forwarded-host"
            | "x-request-id"
            | "host"
    ) || name.as_str().starts_with("x-palisade-")
}

/// What the upstream is told about the client.
#[derive(Debug, Clone, Copy)]
pub struct ForwardedFor<'a> {
    pub client_ip: IpAddr,
    pub peer_ip: IpAddr,
    /// The peer is a trusted proxy, so its forwarding headers are extended, not replaced.
    pub peer_trusted: bool,
    pub tls: bool,
    pub request_id: &'a str,
}

fn fmt_for(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("\"[{v6}]\""),
    }
}

/// Sets `X-Forwarded-For`, `Forwarded`, `X-Forwarded-Proto`, `X-Forwarded-Host`
/// and `X-Request-Id` on a request about to go upstream.
pub fn set_forwarding_headers(headers: &mut HeaderMap, f: ForwardedFor<'_>) {
    let host = headers.get(header::HOST).cloned();
    let (xff, fwd) = if f.peer_trusted {
        let prior_xff = join_values(headers, &X_FORWARDED_FOR);
        let prior_fwd = join_values(headers, &header::FORWARDED);
        (
            if prior_xff.is_empty() {
                f.peer_ip.to_string()
            } else {
                format!("{prior_xff}, {}", f.peer_ip)
            },
            prior_fwd,
        )
    } else {
        (f.peer_ip.to_string(), String::new())
    };
    let proto = if f.tls { "https" } else { "http" };
    let mut element = format!("for={};proto={proto}", fmt_for(f.peer_ip));
    if let Some(h) = host.as_ref().and_then(|h| h.to_str().ok()) {
        if h.bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b';' && b != b',')
        {
            element.push_str(";host=\"");
            element.push_str(h);
            element.push('"');
        }
    }
    let forwarded = if fwd.is_empty() {
        element
    } else {
        format!("{fwd}, {element}")
    };
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(proto));
    for (name, value) in [
        (X_FORWARDED_FOR, xff.as_str()),
        (header::FORWARDED, forwarded.as_str()),
        (X_REQUEST_ID, f.request_id),
    ] {
        // `insert` replaces every earlier value of the name.
        match HeaderValue::from_str(value) {
            Ok(v) => {
                headers.insert(name, v);
            }
            Err(_) => {
                headers.remove(name);
            }
        }
    }
    match host {
        Some(h) => {
            headers.insert(X_FORWARDED_HOST, h);
        }
        None => {
            headers.remove(X_FORWARDED_HOST);
        }
    }
    let _ = f.client_ip;
}

fn join_values(headers: &HeaderMap, name: &HeaderName) -> String {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_named_headers_are_removed_but_ours_are_protected() {
        let mut h = HeaderMap::new();
        h.insert(
            "connection",
            "keep-alive, x-secret, x-forwarded-for".parse().unwrap(),
        );
        h.insert("x-secret", "1".parse().unwrap());
        h.insert("keep-alive", "timeout=5".parse().unwrap());
        h.insert("te", "trailers, deflate".parse().unwrap());
        h.insert("x-forwarded-for", "1.2.3.4".parse().unwrap());
        strip_hop_by_hop(&mut h, false);
        assert!(h.get("x-secret").is_none());
        assert!(h.get("keep-alive").is_none());
        assert!(h.get("connection").is_none());
        assert_eq!(h.get("te").unwrap(), "trailers");
        assert!(h.get("x-forwarded-for").is_some());
    }

    #[test]
    fn spoofed_xff_from_untrusted_peer_is_replaced() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "6.6.6.6".parse().unwrap());
        h.insert("host", "api.test".parse().unwrap());
        let peer: IpAddr = "192.0.2.10".parse().unwrap();
        set_forwarding_headers(
            &mut h,
            ForwardedFor {
                client_ip: peer,
                peer_ip: peer,
                peer_trusted: false,
                tls: true,
                request_id: "r1",
            },
        );
        assert_eq!(h.get("x-forwarded-for").unwrap(), "192.0.2.10");
        assert_eq!(
            h.get("forwarded").unwrap(),
            "for=192.0.2.10;proto=https;host=\"api.test\""
        );
        assert_eq!(h.get("x-request-id").unwrap(), "r1");
    }

    #[test]
    fn trusted_peer_chain_is_extended() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "198.51.100.7".parse().unwrap());
        let peer: IpAddr = "10.0.0.2".parse().unwrap();
        set_forwarding_headers(
            &mut h,
            ForwardedFor {
                client_ip: "198.51.100.7".parse().unwrap(),
                peer_ip: peer,
                peer_trusted: true,
                tls: false,
                request_id: "r",
            },
        );
        assert_eq!(h.get("x-forwarded-for").unwrap(), "198.51.100.7, 10.0.0.2");
    }
}
