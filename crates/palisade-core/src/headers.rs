//! Header-map helpers shared by the stages that rewrite heads.

use http::{HeaderMap, HeaderName};

/// Removes every header whose name `doomed` picks. Looks among the few names
/// present rather than removing each candidate by name: a removal hashes and
/// probes even when the name is absent, which it nearly always is.
pub fn remove_headers_where(headers: &mut HeaderMap, doomed: impl Fn(&HeaderName) -> bool) {
    while let Some(name) = headers.keys().find(|n| doomed(n)).cloned() {
        headers.remove(&name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_every_value_of_every_picked_name_and_nothing_else() {
        let mut headers = HeaderMap::new();
        headers.append("x-a", "1".parse().unwrap());
        headers.append("x-a", "2".parse().unwrap());
        headers.insert("x-b", "3".parse().unwrap());
        headers.insert("x-c", "4".parse().unwrap());
        remove_headers_where(&mut headers, |n| n == "x-a" || n == "x-c");
        assert_eq!(headers.len(), 1);
        assert_eq!(headers["x-b"], "3");
    }
}
