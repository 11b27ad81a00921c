//! Who the client is: the socket peer, unless the peer is a configured trusted
//! proxy, in which case the rightmost untrusted address of `X-Forwarded-For`
//! (or `Forwarded: for=`) is. A client that is not a trusted proxy cannot
//! change its address by sending those headers.

use crate::header_names::X_FORWARDED_FOR;
use http::{HeaderMap, HeaderValue};
use ipnet::IpNet;
use std::net::{IpAddr, Ipv6Addr};

#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
}

impl TrustedProxies {
    pub fn new(nets: Vec<IpNet>) -> Self {
        TrustedProxies { nets }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// The client address for a request from `peer` carrying `headers`.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.contains(peer) {
            return peer;
        }
        let chain = forwarded_chain(headers);
        // Walk from the nearest hop outwards; the first address we do not trust
        // is the client. If every hop is trusted, the farthest one is.
        let mut client = peer;
        for ip in chain.iter().rev() {
            client = *ip;
            if !self.contains(*ip) {
                break;
            }
        }
        client
    }
}

/// IPv4-mapped IPv6 addresses are treated as the IPv4 address they carry.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// The key a per-client limit uses: the address for IPv4, its /64 for IPv6
/// (one subscriber usually holds a whole /64).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// Addresses listed in `X-Forwarded-For`, or failing that `Forwarded: for=`, in
/// order (client first). Unparseable entries end the chain where they stand, so
/// garbage cannot be used to skip over an address.
fn forwarded_chain(headers: &HeaderMap) -> Vec<IpAddr> {
    let mut out = Vec::new();
    let xff: Vec<&HeaderValue> = headers.get_all(X_FORWARDED_FOR).iter().collect();
    if !xff.is_empty() {
        for v in xff {
            let Ok(s) = v.to_str() else { return out };
            for part in s.split(',') {
                match parse_node(part.trim()) {
                    Some(ip) => out.push(ip),
                    None => out.clear(),
                }
            }
        }
        return out;
    }
    for v in headers.get_all(http::header::FORWARDED) {
        let Ok(s) = v.to_str() else { return out };
        for element in s.split(',') {
            for pair in element.split(';') {
                let mut kv = pair.splitn(2, '=');
                let key = kv.next().unwrap_or("").trim();
                let val = kv.next().unwrap_or("").trim().trim_matches('"');
                if key.eq_ignore_ascii_case("for") {
                    match parse_node(val) {
                        Some(ip) => out.push(ip),
                        None => out.clear(),
                    }
                }
            }
        }
    }
    out
}

/// Parses `1.2.3.4`, `1.2.3.4:80`, `[::1]`, `[::1]:80`, `::1`.
fn parse_node(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Some(rest) = s.strip_prefix('[') {
        let end = rest.find(']')?;
        return rest[..end].parse::<IpAddr>().ok().map(canonical);
    }
    let (host, port) = s.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdrs(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().unwrap());
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn untrusted_peer_is_the_client_whatever_it_says() {
        let t = TrustedProxies::new(vec!["10.0.0.0/8".parse().unwrap()]);
        assert_eq!(
            t.client_ip(ip("203.0.113.9"), &hdrs("1.1.1.1")),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn rightmost_untrusted_hop_wins() {
        let t = TrustedProxies::new(vec!["10.0.0.0/8".parse().unwrap()]);
        // The client prepended a fake address; the LB appended the real one.
        let h = hdrs("6.6.6.6, 198.51.100.7, 10.0.0.3");
        assert_eq!(t.client_ip(ip("10.0.0.2"), &h), ip("198.51.100.7"));
    }

    #[test]
    fn forwarded_header_supported() {
        let t = TrustedProxies::new(vec!["127.0.0.0/8".parse().unwrap()]);
        let mut h = HeaderMap::new();
        h.insert(
            "forwarded",
            "for=\"[2001:db8::1]:4711\";proto=https, for=127.0.0.5"
                .parse()
                .unwrap(),
        );
        assert_eq!(t.client_ip(ip("127.0.0.1"), &h), ip("2001:db8::1"));
    }

    #[test]
    fn garbage_cannot_hide_an_address() {
        let t = TrustedProxies::new(vec!["10.0.0.0/8".parse().unwrap()]);
        let h = hdrs("198.51.100.7, nonsense, 10.0.0.3");
        assert_eq!(t.client_ip(ip("10.0.0.2"), &h), ip("10.0.0.3"));
    }

    #[test]
    fn v6_keyed_by_64() {
        assert_eq!(client_key(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(client_key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
    }
}
