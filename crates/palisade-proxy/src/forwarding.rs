//! Rewriting request and response heads between client and upstream:
//! hop-by-hop headers (RFC 9110 §7.6.1) are dropped, and the upstream learns who
//! the client is through `X-Forwarded-For`, `Forwarded`, `X-Forwarded-Proto`
//! and `X-Request-Id`, built from what Palisade verified, not what the client claimed.

use crate::header_names::{X_FORWARDED_FOR, X_FORWARDED_HOST, X_FORWARDED_PROTO, X_REQUEST_ID};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use palisade_core::remove_headers_where;
use std::cell::RefCell;
use std::net::IpAddr;

const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// How many headers [`set_forwarding_headers`] may add.
pub const FORWARDING_HEADERS_ADDED: usize = 5;

fn is_hop_by_hop(name: &HeaderName) -> bool {
    HOP_BY_HOP.contains(name)
}

/// The client's headers as the upstream gets them: hop-by-hop ones left
/// out (see [`strip_hop_by_hop`]), with room for `room` more.
///
/// A fresh map sized once: a clone of the request's map has no spare room
/// for entries whatever `reserve` says when its index table is already
/// large enough, so the headers added next would reallocate it twice.
pub fn upstream_request_headers(
    original: &HeaderMap,
    keep_upgrade: bool,
    room: usize,
) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(original.len() + room);
    for (name, value) in original {
        headers.append(name.clone(), value.clone());
    }
    strip_hop_by_hop(&mut headers, keep_upgrade);
    headers
}

/// Removes hop-by-hop headers, including those the `Connection` header names.
/// With `keep_upgrade`, `Connection: upgrade` and `Upgrade` survive (WebSocket).
pub fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    // `Connection` is itself hop-by-hop: with none of these present, no
    // header is named by it either.
    if !headers.keys().any(is_hop_by_hop) {
        return;
    }
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .filter(|name| !is_protected(name))
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
    // Never let a client use Connection to strip what we add ourselves
    // (`named` holds no protected name).
    remove_headers_where(headers, |name| is_hop_by_hop(name) || named.contains(name));
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

/// `X-Forwarded-For` and `Forwarded` values last built on this thread for a
/// peer that is not a trusted proxy. Those depend on the peer, the scheme and
/// the `Host` only, which stay the same request after request on a
/// connection; formatting an address costs far more than comparing them.
struct UntrustedPeerValues {
    peer_ip: IpAddr,
    tls: bool,
    host: Option<HeaderValue>,
    xff: Option<HeaderValue>,
    forwarded: Option<HeaderValue>,
}

thread_local! {
    static LAST_UNTRUSTED: RefCell<Option<UntrustedPeerValues>> = const { RefCell::new(None) };
}

/// Sets `X-Forwarded-For`, `Forwarded`, `X-Forwarded-Proto`, `X-Forwarded-Host`
/// and `X-Request-Id` on a request about to go upstream.
pub fn set_forwarding_headers(headers: &mut HeaderMap, f: ForwardedFor<'_>) {
    let host = headers.get(header::HOST).cloned();
    let (xff, forwarded) = if f.peer_trusted {
        forwarding_values(headers, &f, host.as_ref())
    } else {
        LAST_UNTRUSTED.with_borrow_mut(|last| {
            match last {
                Some(v) if v.peer_ip == f.peer_ip && v.tls == f.tls && v.host == host => {}
                _ => {
                    let (xff, forwarded) = forwarding_values(headers, &f, host.as_ref());
                    *last = Some(UntrustedPeerValues {
                        peer_ip: f.peer_ip,
                        tls: f.tls,
                        // A copy: the request's own value points into the
                        // connection's read buffer, which would stay
                        // allocated for as long as the memo held it.
                        host: host
                            .as_ref()
                            .and_then(|h| HeaderValue::from_bytes(h.as_bytes()).ok()),
                        xff,
                        forwarded,
                    });
                }
            }
            let v = last.as_ref().expect("just set");
            (v.xff.clone(), v.forwarded.clone())
        })
    };
    let proto = if f.tls { "https" } else { "http" };
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(proto));
    for (name, value) in [
        (X_FORWARDED_FOR, xff),
        (header::FORWARDED, forwarded),
        (X_REQUEST_ID, HeaderValue::from_str(f.request_id).ok()),
        (X_FORWARDED_HOST, host),
    ] {
        // `insert` replaces every earlier value of the name.
        match value {
            Some(v) => {
                headers.insert(name, v);
            }
            None => {
                headers.remove(name);
            }
        }
    }
    let _ = f.client_ip;
}

/// `X-Forwarded-For` and `Forwarded` for this hop (`None`: not a valid value).
fn forwarding_values(
    headers: &HeaderMap,
    f: &ForwardedFor<'_>,
    host: Option<&HeaderValue>,
) -> (Option<HeaderValue>, Option<HeaderValue>) {
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
    if let Some(h) = host.and_then(|h| h.to_str().ok()) {
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
    (
        HeaderValue::from_str(&xff).ok(),
        HeaderValue::from_str(&forwarded).ok(),
    )
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

    /// Sets the forwarding headers for a direct client (not a trusted proxy).
    fn forward_from_untrusted(h: &mut HeaderMap, peer: &str, tls: bool, request_id: &str) {
        let peer: IpAddr = peer.parse().unwrap();
        set_forwarding_headers(
            h,
            ForwardedFor {
                client_ip: peer,
                peer_ip: peer,
                peer_trusted: false,
                tls,
                request_id,
            },
        );
    }

    #[test]
    fn spoofed_xff_from_untrusted_peer_is_replaced() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "6.6.6.6".parse().unwrap());
        h.insert("host", "api.test".parse().unwrap());
        forward_from_untrusted(&mut h, "192.0.2.10", true, "r1");
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

    #[test]
    fn upstream_copy_keeps_end_to_end_headers_in_order_and_drops_hop_by_hop_ones() {
        let mut plain = HeaderMap::new();
        plain.insert("host", "api.test".parse().unwrap());
        plain.append("accept", "a/b".parse().unwrap());
        plain.append("accept", "c/d".parse().unwrap());
        plain.insert("x-custom", "1".parse().unwrap());
        let copy = upstream_request_headers(&plain, false, 3);
        assert_eq!(copy, plain);
        assert!(copy.capacity() >= plain.len() + 3);
        let accepts: Vec<_> = copy.get_all("accept").iter().collect();
        assert_eq!(accepts, ["a/b", "c/d"]);

        let mut hop = plain.clone();
        hop.insert("connection", "x-custom, upgrade".parse().unwrap());
        hop.insert("upgrade", "websocket".parse().unwrap());
        hop.insert("proxy-authorization", "Basic abc".parse().unwrap());
        let copy = upstream_request_headers(&hop, false, 3);
        assert!(copy.get("x-custom").is_none());
        assert!(copy.get("upgrade").is_none());
        assert!(copy.get("proxy-authorization").is_none());
        assert!(copy.get("connection").is_none());
        assert_eq!(copy.get_all("accept").iter().count(), 2);
        let copy = upstream_request_headers(&hop, true, 0);
        assert_eq!(copy.get("upgrade").unwrap(), "websocket");
        assert_eq!(copy.get("connection").unwrap(), "upgrade");
        assert!(hop.get("x-custom").is_some(), "the original is left alone");
    }

    #[test]
    fn forwarding_values_follow_peer_scheme_and_host_request_after_request() {
        let forwarded = |peer: &str, tls: bool, host: &str| {
            let mut h = HeaderMap::new();
            h.insert("host", host.parse().unwrap());
            forward_from_untrusted(&mut h, peer, tls, "r");
            (
                h["x-forwarded-for"].to_str().unwrap().to_owned(),
                h["forwarded"].to_str().unwrap().to_owned(),
            )
        };
        for _ in 0..2 {
            assert_eq!(
                forwarded("192.0.2.1", false, "a.test"),
                (
                    "192.0.2.1".into(),
                    "for=192.0.2.1;proto=http;host=\"a.test\"".into()
                )
            );
        }
        assert_eq!(
            forwarded("192.0.2.1", false, "b.test").1,
            "for=192.0.2.1;proto=http;host=\"b.test\""
        );
        assert_eq!(
            forwarded("192.0.2.1", true, "b.test").1,
            "for=192.0.2.1;proto=https;host=\"b.test\""
        );
        assert_eq!(
            forwarded("2001:db8::7", true, "b.test"),
            (
                "2001:db8::7".into(),
                "for=\"[2001:db8::7]\";proto=https;host=\"b.test\"".into()
            )
        );
    }
}
