//! Splitting request parts into named values: query strings and urlencoded
//! forms, cookies, multipart bodies, GraphQL documents.

use crate::decode::percent_decode_into;

fn at(input: &[u8], i: usize) -> u8 {
    input.get(i).copied().unwrap_or(0)
}

/// `raw` percent-decoded (`+` as space) into `scratch`, or `raw` itself
/// when it has nothing to decode.
fn decoded<'a>(raw: &'a [u8], scratch: &'a mut Vec<u8>) -> &'a [u8] {
    if raw.iter().any(|&b| b == b'%' || b == b'+') {
        percent_decode_into(raw, true, scratch);
        scratch
    } else {
        raw
    }
}

/// Calls `visit(name, value)` for each `name=value` pair of a query string or
/// urlencoded form, both decoded once (`+` is a space). At most `max` pairs
/// (empty ones are skipped without counting, so padding cannot use up the
/// limit); returns whether pairs were left unvisited.
pub fn for_each_pair(input: &[u8], max: usize, visit: &mut dyn FnMut(&[u8], &[u8])) -> bool {
    let mut name = Vec::new();
    let mut value = Vec::new();
    let mut visited = 0;
    for pair in input.split(|b| *b == b'&') {
        if pair.is_empty() {
            continue;
        }
        if visited >= max {
            return true;
        }
        visited += 1;
        let (raw_name, raw_value) = match memchr::memchr(b'=', pair) {
            Some(p) => (
                pair.get(..p).unwrap_or(&[]),
                pair.get(p + 1..).unwrap_or(&[]),
            ),
            None => (pair, &[][..]),
        };
        visit(decoded(raw_name, &mut name), decoded(raw_value, &mut value));
    }
    false
}

/// Calls `visit(name, value)` for each cookie of a `Cookie` header value, at
/// most `max` (empty items are skipped without counting); returns whether
/// cookies were left unvisited.
pub fn for_each_cookie(header: &[u8], max: usize, visit: &mut dyn FnMut(&[u8], &[u8])) -> bool {
    let mut visited = 0;
    for item in header.split(|b| *b == b';') {
        let item = item.trim_ascii();
        if item.is_empty() {
            continue;
        }
        if visited >= max {
            return true;
        }
        visited += 1;
        match memchr::memchr(b'=', item) {
            Some(p) => {
                let value = item.get(p + 1..).unwrap_or(&[]);
                let value = value
                    .strip_prefix(b"\"")
                    .and_then(|v| v.strip_suffix(b"\""))
                    .unwrap_or(value);
                visit(item.get(..p).unwrap_or(&[]).trim_ascii(), value)
            }
            None => visit(b"", item),
        }
    }
    false
}

/// A parameter of a header value such as `boundary` in a content type or
/// `filename` in a content disposition. Quoted values may contain `;`.
pub fn header_parameter<'a>(header: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let mut i = memchr::memchr(b';', header)? + 1;
    while i < header.len() {
        while matches!(at(header, i), b' ' | b'\t' | b';') {
            i += 1;
        }
        let name_start = i;
        while i < header.len() && !matches!(at(header, i), b'=' | b';') {
            i += 1;
        }
        let param = header.get(name_start..i)?.trim_ascii();
        if at(header, i) != b'=' {
            continue;
        }
        i += 1;
        let (value, next) = if at(header, i) == b'"' {
            let start = i + 1;
            let mut j = start;
            while j < header.len() && at(header, j) != b'"' {
                if at(header, j) == b'\\' {
                    j += 1;
                }
                j += 1;
            }
            (header.get(start..j.min(header.len()))?, j + 1)
        } else {
            let start = i;
            let end = memchr::memchr(b';', header.get(i..)?).map_or(header.len(), |p| i + p);
            (header.get(start..end)?.trim_ascii(), end)
        };
        if param.eq_ignore_ascii_case(name) {
            return Some(value);
        }
        i = next;
    }
    None
}

/// One part of a multipart body.
#[derive(Debug)]
pub struct Part<'a> {
    pub name: &'a [u8],
    pub filename: Option<&'a [u8]>,
    pub content_type: &'a [u8],
    pub body: &'a [u8],
}

fn find(haystack: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack.get(from..)?, needle).map(|p| from + p)
}

/// Splits a multipart body on `boundary`, at most `max` parts.
pub fn for_each_part(body: &[u8], boundary: &[u8], max: usize, visit: &mut dyn FnMut(&Part<'_>)) {
    if boundary.is_empty() || boundary.len() > 200 {
        return;
    }
    let mut delimiter = Vec::with_capacity(boundary.len() + 2);
    delimiter.extend_from_slice(b"--");
    delimiter.extend_from_slice(boundary);
    let Some(mut pos) = find(body, 0, &delimiter) else {
        return;
    };
    let mut count = 0;
    while count < max {
        let mut start = pos + delimiter.len();
        if body.get(start..start + 2) == Some(b"--") {
            return;
        }
        // skip transport padding and the line break after the delimiter
        while matches!(at(body, start), b' ' | b'\t') {
            start += 1;
        }
        if at(body, start) == b'\r' {
            start += 1;
        }
        if at(body, start) == b'\n' {
            start += 1;
        }
        let next = find(body, start, &delimiter).unwrap_or(body.len());
        let part = body.get(start..next).unwrap_or(&[]);
        let (head, content) = match find(part, 0, b"\r\n\r\n") {
            Some(p) => (
                part.get(..p).unwrap_or(&[]),
                part.get(p + 4..).unwrap_or(&[]),
            ),
            None => match find(part, 0, b"\n\n") {
                Some(p) => (
                    part.get(..p).unwrap_or(&[]),
                    part.get(p + 2..).unwrap_or(&[]),
                ),
                None => (part, &[][..]),
            },
        };
        let content = content
            .strip_suffix(b"\r\n")
            .or_else(|| content.strip_suffix(b"\n"))
            .unwrap_or(content);
        let mut name: &[u8] = b"";
        let mut filename = None;
        let mut content_type: &[u8] = b"";
        for line in head.split(|b| *b == b'\n') {
            let line = line.trim_ascii();
            let Some(colon) = memchr::memchr(b':', line) else {
                continue;
            };
            let header = line.get(..colon).unwrap_or(&[]).trim_ascii();
            let value = line.get(colon + 1..).unwrap_or(&[]).trim_ascii();
            if header.eq_ignore_ascii_case(b"content-disposition") {
                name = header_parameter(value, b"name").unwrap_or(b"");
                filename = header_parameter(value, b"filename")
                    .or_else(|| header_parameter(value, b"filename*"));
            } else if header.eq_ignore_ascii_case(b"content-type") {
                content_type = value;
            }
        }
        visit(&Part {
            name,
            filename,
            content_type,
            body: content,
        });
        count += 1;
        if next >= body.len() {
            return;
        }
        pos = next;
    }
}

/// Calls `visit` with every string literal of a GraphQL document (`"..."`
/// with escapes resolved, and `"""block"""` strings), at most `max`.
pub fn for_each_graphql_string(doc: &[u8], max: usize, visit: &mut dyn FnMut(&[u8])) {
    let mut buf = Vec::new();
    let mut i = 0;
    let mut count = 0;
    while i < doc.len() && count < max {
        match at(doc, i) {
            b'#' => {
                i = memchr::memchr(b'\n', doc.get(i..).unwrap_or(&[])).map_or(doc.len(), |p| i + p);
            }
            b'"' if doc.get(i..i + 3) == Some(b"\"\"\"") => {
                let end = find(doc, i + 3, b"\"\"\"").unwrap_or(doc.len());
                visit(doc.get(i + 3..end).unwrap_or(&[]));
                count += 1;
                i = end + 3;
            }
            b'"' => {
                buf.clear();
                let mut j = i + 1;
                while j < doc.len() && at(doc, j) != b'"' {
                    if at(doc, j) == b'\\' {
                        match at(doc, j + 1) {
                            b'n' => buf.push(b'\n'),
                            b't' => buf.push(b'\t'),
                            b'r' => buf.push(b'\r'),
                            b'u' => {
                                let hex = doc
                                    .get(j + 2..j + 6)
                                    .and_then(|h| std::str::from_utf8(h).ok());
                                match hex
                                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                                    .and_then(char::from_u32)
                                {
                                    Some(ch) => {
                                        let mut tmp = [0u8; 4];
                                        buf.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
                                        j += 4;
                                    }
                                    None => buf.extend_from_slice(b"\\u"),
                                }
                            }
                            other => buf.push(other),
                        }
                        j += 2;
                        continue;
                    }
                    buf.push(at(doc, j));
                    j += 1;
                }
                visit(&buf);
                count += 1;
                i = j + 1;
            }
            _ => i += 1,
        }
    }
}

/// Whether a string looks like a GraphQL document rather than data.
pub fn looks_like_graphql(s: &[u8]) -> bool {
    let t = s.trim_ascii_start();
    t.starts_with(b"{")
        || t.starts_with(b"query")
        || t.starts_with(b"mutation")
        || t.starts_with(b"subscription")
        || t.starts_with(b"fragment")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn pairs() {
        let mut out = Vec::new();
        for_each_pair(b"a=1&b=x+y%27&&c&user%5B%24ne%5D=1", 10, &mut |n, v| {
            out.push((
                String::from_utf8_lossy(n).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            ))
        });
        assert_eq!(
            out,
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y'".into()),
                ("c".into(), "".into()),
                ("user[$ne]".into(), "1".into())
            ]
        );
    }

    #[test]
    fn multipart() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nhello\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"../../a.php\"\r\nContent-Type: text/plain\r\n\r\ndata\r\n--XyZ--\r\n";
        let mut parts = Vec::new();
        for_each_part(body, b"XyZ", 10, &mut |p| {
            parts.push((
                p.name.to_vec(),
                p.filename.map(<[u8]>::to_vec),
                p.body.to_vec(),
            ))
        });
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], (b"title".to_vec(), None, b"hello".to_vec()));
        assert_eq!(parts[1].1.as_deref(), Some(&b"../../a.php"[..]));
        assert_eq!(parts[1].2, b"data");
        let cd = b"form-data; name=\"file\"; filename=\"a.pdf; cat /etc/passwd\"";
        assert_eq!(
            header_parameter(cd, b"filename"),
            Some(&b"a.pdf; cat /etc/passwd"[..])
        );
        assert_eq!(
            header_parameter(b"multipart/form-data; boundary=xyz", b"boundary"),
            Some(&b"xyz"[..])
        );
    }

    #[test]
    fn graphql_strings() {
        let mut out = Vec::new();
        for_each_graphql_string(
            br#"query { user(name: "O\"Brien", bio: """multi""") { id } } # "comment""#,
            10,
            &mut |s| out.push(s.to_vec()),
        );
        assert_eq!(out, vec![b"O\"Brien".to_vec(), b"multi".to_vec()]);
    }

    proptest! {
        /// Names and values without `%` or `+` are visited as they stand:
        /// the same pairs as decoding every one of them.
        #[test]
        fn pairs_are_decoded_as_each_part_would_be(input in "[a-z0-9%+=&;. -]{0,40}") {
            let mut seen = Vec::new();
            for_each_pair(input.as_bytes(), 100, &mut |n, v| seen.push((n.to_vec(), v.to_vec())));
            let mut expected = Vec::new();
            for pair in input.split('&').filter(|p| !p.is_empty()) {
                let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
                let (mut dn, mut dv) = (Vec::new(), Vec::new());
                percent_decode_into(n.as_bytes(), true, &mut dn);
                percent_decode_into(v.as_bytes(), true, &mut dv);
                expected.push((dn, dv));
            }
            prop_assert_eq!(seen, expected);
        }
    }

    proptest! {
        #[test]
        fn extractors_never_panic(input in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut n = 0;
            for_each_pair(&input, 20, &mut |_, _| n += 1);
            for_each_cookie(&input, 20, &mut |_, _| n += 1);
            for_each_part(&input, b"b", 20, &mut |_| n += 1);
            for_each_graphql_string(&input, 20, &mut |_| n += 1);
            prop_assert!(n <= 80);
        }
    }
}
