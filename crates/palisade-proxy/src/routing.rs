//! Route selection: exact host beats wildcard host beats any host, then the
//! longest path prefix on a segment boundary (`/api` matches `/api/x`, not `/apix`).

use std::sync::Arc;

#[derive(Debug, Clone)]
pub enum HostMatch {
    Any,
    Exact(String),
    /// `*.example.com` stored as `.example.com`.
    Suffix(String),
}

impl HostMatch {
    pub fn parse(host: Option<&str>) -> HostMatch {
        match host {
            None => HostMatch::Any,
            Some(h) => {
                let h = h.to_ascii_lowercase();
                match h.strip_prefix('*') {
                    Some(rest) => HostMatch::Suffix(rest.to_string()),
                    None => HostMatch::Exact(h),
                }
            }
        }
    }

    fn rank(&self, host: &str) -> Option<u8> {
        match self {
            HostMatch::Exact(h) if h == host => Some(2),
            HostMatch::Suffix(s) if host.ends_with(s.as_str()) && host.len() > s.len() => Some(1),
            HostMatch::Any => Some(0),
            _ => None,
        }
    }
}

#[derive(Debug)]
pub struct RouteTable<T> {
    routes: Vec<(HostMatch, String, Arc<T>)>,
}

impl<T> RouteTable<T> {
    pub fn new(routes: Vec<(HostMatch, String, Arc<T>)>) -> Self {
        RouteTable { routes }
    }

    /// `host` is the request authority without port, lowercased.
    pub fn find(&self, host: &str, path: &str) -> Option<&Arc<T>> {
        let mut best: Option<(u8, usize, &Arc<T>)> = None;
        for (hm, prefix, route) in &self.routes {
            let Some(rank) = hm.rank(host) else { continue };
            if !prefix_matches(prefix, path) {
                continue;
            }
            let key = (rank, prefix.len());
            if best.is_none_or(|(r, l, _)| key > (r, l)) {
                best = Some((rank, prefix.len(), route));
            }
        }
        best.map(|(_, _, r)| r)
    }
}

fn prefix_matches(prefix: &str, path: &str) -> bool {
    if prefix == "/" {
        return true;
    }
    let p = prefix.trim_end_matches('/');
    path == p || (path.starts_with(p) && path.as_bytes().get(p.len()) == Some(&b'/'))
}

/// Host of a request: the URI authority (HTTP/2, absolute-form) or the Host
/// header, without port, lowercased.
pub fn request_host(uri: &http::Uri, headers: &http::HeaderMap) -> String {
    if let Some(a) = uri.authority() {
        return a
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
    }
    let h = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    strip_port(h).to_ascii_lowercase()
}

fn strip_port(h: &str) -> &str {
    if let Some(rest) = h.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match h.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => h,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_and_host_rank() {
        let t = RouteTable::new(vec![
            (HostMatch::Any, "/".into(), Arc::new("root")),
            (HostMatch::Any, "/api".into(), Arc::new("api")),
            (
                HostMatch::parse(Some("*.example.com")),
                "/api".into(),
                Arc::new("wild"),
            ),
            (
                HostMatch::parse(Some("admin.example.com")),
                "/".into(),
                Arc::new("admin"),
            ),
        ]);
        assert_eq!(**t.find("x.test", "/api/users").unwrap(), "api");
        assert_eq!(**t.find("x.test", "/apix").unwrap(), "root");
        assert_eq!(**t.find("a.example.com", "/api/x").unwrap(), "wild");
        assert_eq!(**t.find("admin.example.com", "/api/x").unwrap(), "admin");
    }

    #[test]
    fn host_header_port_removed() {
        let mut h = http::HeaderMap::new();
        h.insert("host", "API.test:8080".parse().unwrap());
        assert_eq!(request_host(&"/x".parse().unwrap(), &h), "api.test");
        h.insert("host", "[::1]:8080".parse().unwrap());
        assert_eq!(request_host(&"/x".parse().unwrap(), &h), "::1");
    }
}
