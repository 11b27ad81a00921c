//! Request body processors: URL-encoded forms, JSON, XML and multipart.
//!
//! Each processor turns a body into named values (`ARGS_POST` and friends)
//! or reports why it could not (`REQBODY_ERROR`).

use crate::transforms::url_decode;
use quick_xml::events::Event;

/// A name/value pair.
pub type Pair = (Vec<u8>, Vec<u8>);

/// Appends `name: value` lines and the blank line that ends a header block,
/// as they stand in an HTTP/1.1 message.
pub(crate) fn push_header_block(out: &mut Vec<u8>, headers: &[Pair]) {
    for (name, value) in headers {
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Splits `a=1&b=2` into URL-decoded pairs. Returns the pairs and whether an
/// invalid `%` escape was seen.
pub fn parse_urlencoded(input: &[u8], separator: u8) -> (Vec<Pair>, bool) {
    let mut invalid = false;
    let mut out = Vec::new();
    for piece in input.split(|&b| b == separator) {
        if piece.is_empty() {
            continue;
        }
        let (name, value) = match memchr::memchr(b'=', piece) {
            Some(eq) => (&piece[..eq], &piece[eq + 1..]),
            None => (piece, &b""[..]),
        };
        invalid |= has_invalid_escape(name) || has_invalid_escape(value);
        out.push((url_decode(name, false), url_decode(value, false)));
    }
    (out, invalid)
}

fn has_invalid_escape(input: &[u8]) -> bool {
    let mut i = 0;
    while let Some(pos) = memchr::memchr(b'%', &input[i..]) {
        let at = i + pos;
        match (input.get(at + 1), input.get(at + 2)) {
            (Some(a), Some(b)) if a.is_ascii_hexdigit() && b.is_ascii_hexdigit() => i = at + 3,
            _ => return true,
        }
        if i >= input.len() {
            break;
        }
    }
    false
}

/// Deepest JSON nesting accepted.
pub const JSON_MAX_DEPTH: usize = 64;

/// Flattens a JSON document into `json.a.b` / `json.list.0` names.
pub fn parse_json(input: &[u8]) -> Result<Vec<Pair>, String> {
    let value: serde_json::Value =
        serde_json::from_slice(input).map_err(|e| format!("JSON parsing error: {e}"))?;
    let mut out = Vec::new();
    let mut name = b"json".to_vec();
    flatten_json(&value, &mut name, 0, &mut out)?;
    Ok(out)
}

fn flatten_json(
    value: &serde_json::Value,
    name: &mut Vec<u8>,
    depth: usize,
    out: &mut Vec<Pair>,
) -> Result<(), String> {
    use serde_json::Value;
    if depth > JSON_MAX_DEPTH {
        return Err(format!("JSON nesting deeper than {JSON_MAX_DEPTH}"));
    }
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let len = name.len();
                name.push(b'.');
                name.extend_from_slice(key.as_bytes());
                flatten_json(child, name, depth + 1, out)?;
                name.truncate(len);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                let len = name.len();
                name.push(b'.');
                name.extend_from_slice(index.to_string().as_bytes());
                flatten_json(child, name, depth + 1, out)?;
                name.truncate(len);
            }
        }
        Value::String(s) => out.push((name.clone(), s.as_bytes().to_vec())),
        Value::Number(n) => out.push((name.clone(), n.to_string().into_bytes())),
        Value::Bool(b) => out.push((name.clone(), b.to_string().into_bytes())),
        Value::Null => out.push((name.clone(), Vec::new())),
    }
    Ok(())
}

/// What the XML processor keeps of a document for the `XML:` XPath subset.
#[derive(Debug, Clone, Default)]
pub struct XmlDocument {
    /// Elements in document order: path of local names and text content
    /// (all descendant text).
    pub elements: Vec<(Vec<String>, Vec<u8>)>,
    /// Attributes: owner path, attribute name, value.
    pub attributes: Vec<(Vec<String>, String, Vec<u8>)>,
}

/// Deepest XML nesting accepted.
pub const XML_MAX_DEPTH: usize = 256;

/// Parses XML. DTDs are not processed and entities other than the five
/// predefined ones are left as written, so external entities never load.
pub fn parse_xml(input: &[u8]) -> Result<XmlDocument, String> {
    let mut reader = quick_xml::Reader::from_reader(input);
    reader.config_mut().check_end_names = true;
    let mut doc = XmlDocument::default();
    let mut stack: Vec<usize> = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let mut buf = Vec::new();
    let mut saw_root = false;
    loop {
        let event = reader.read_event_into(&mut buf).map_err(|e| {
            format!(
                "XML parsing error at byte {}: {e}",
                reader.buffer_position()
            )
        })?;
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                let self_closing = matches!(event, Event::Empty(_));
                if stack.is_empty() && saw_root {
                    return Err("XML parsing error: more than one root element".into());
                }
                saw_root = true;
                let local = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                path.push(local);
                if path.len() > XML_MAX_DEPTH {
                    return Err(format!("XML nesting deeper than {XML_MAX_DEPTH}"));
                }
                for attribute in start.attributes() {
                    let attribute = attribute.map_err(|e| format!("XML attribute error: {e}"))?;
                    let key =
                        String::from_utf8_lossy(attribute.key.local_name().as_ref()).into_owned();
                    let value = attribute
                        .unescape_value()
                        .map(|v| v.as_bytes().to_vec())
                        .unwrap_or_else(|_| attribute.value.to_vec());
                    doc.attributes.push((path.clone(), key, value));
                }
                doc.elements.push((path.clone(), Vec::new()));
                stack.push(doc.elements.len() - 1);
                if self_closing {
                    stack.pop();
                    path.pop();
                }
            }
            Event::End(_) => {
                stack.pop();
                path.pop();
            }
            Event::Text(text) => {
                let decoded = text
                    .decode()
                    .map(|t| t.into_owned().into_bytes())
                    .unwrap_or_else(|_| text.to_vec());
                let unescaped = quick_xml::escape::unescape(&String::from_utf8_lossy(&decoded))
                    .map(|c| c.into_owned().into_bytes())
                    .unwrap_or(decoded);
                append_text(&mut doc, &stack, &unescaped);
            }
            Event::CData(data) => {
                let bytes = data.into_inner().to_vec();
                append_text(&mut doc, &stack, &bytes);
            }
            Event::GeneralRef(reference) => {
                let name = String::from_utf8_lossy(reference.as_ref()).into_owned();
                let resolved = match name.as_str() {
                    "lt" => "<".to_string(),
                    "gt" => ">".to_string(),
                    "amp" => "&".to_string(),
                    "quot" => "\"".to_string(),
                    "apos" => "'".to_string(),
                    other => match reference.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string(),
                        _ => format!("&{other};"),
                    },
                };
                append_text(&mut doc, &stack, resolved.as_bytes());
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !stack.is_empty() {
        return Err("XML parsing error: unclosed element".into());
    }
    if !saw_root {
        return Err("XML parsing error: no root element".into());
    }
    Ok(doc)
}

fn append_text(doc: &mut XmlDocument, stack: &[usize], text: &[u8]) {
    for &index in stack {
        if let Some((_, content)) = doc.elements.get_mut(index) {
            content.extend_from_slice(text);
        }
    }
}

impl XmlDocument {
    /// Evaluates the XPath subset CRS uses: `/*`, `//*`, `//@*`, `//@name`,
    /// `//name`, `/a/b` and `/a/b/@c`.
    pub fn select(&self, xpath: &str) -> Vec<Vec<u8>> {
        let xpath = xpath.trim();
        if xpath == "/*" {
            return self
                .elements
                .first()
                .map(|(_, t)| vec![t.clone()])
                .unwrap_or_default();
        }
        if xpath == "//*" {
            return self.elements.iter().map(|(_, t)| t.clone()).collect();
        }
        if let Some(attr) = xpath.strip_prefix("//@") {
            return self
                .attributes
                .iter()
                .filter(|(_, name, _)| attr == "*" || name == attr)
                .map(|(_, _, v)| v.clone())
                .collect();
        }
        if let Some(name) = xpath.strip_prefix("//") {
            return self
                .elements
                .iter()
                .filter(|(path, _)| path.last().is_some_and(|l| l == name || name == "*"))
                .map(|(_, t)| t.clone())
                .collect();
        }
        if let Some(rest) = xpath.strip_prefix('/') {
            let mut steps: Vec<&str> = rest.split('/').collect();
            let attribute = steps
                .last()
                .and_then(|s| s.strip_prefix('@'))
                .map(str::to_string);
            if attribute.is_some() {
                steps.pop();
            }
            let path_matches = |path: &[String]| {
                path.len() == steps.len()
                    && path.iter().zip(&steps).all(|(p, s)| *s == "*" || p == s)
            };
            return match attribute {
                Some(attr) => self
                    .attributes
                    .iter()
                    .filter(|(path, name, _)| path_matches(path) && (attr == "*" || *name == attr))
                    .map(|(_, _, v)| v.clone())
                    .collect(),
                None => self
                    .elements
                    .iter()
                    .filter(|(path, _)| path_matches(path))
                    .map(|(_, t)| t.clone())
                    .collect(),
            };
        }
        Vec::new()
    }
}

/// Strictness flags raised while parsing multipart bodies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MultipartFlags {
    pub boundary_quoted: bool,
    pub boundary_whitespace: bool,
    pub data_before: bool,
    pub data_after: bool,
    pub header_folding: bool,
    pub lf_line: bool,
    pub crlf_line: bool,
    pub missing_semicolon: bool,
    pub invalid_quoting: bool,
    pub invalid_part: bool,
    pub invalid_header_folding: bool,
    pub file_limit_exceeded: bool,
    pub unmatched_boundary: bool,
}

impl MultipartFlags {
    pub fn crlf_lf_lines(&self) -> bool {
        self.lf_line && self.crlf_line
    }

    pub fn any(&self) -> bool {
        self.boundary_quoted
            || self.boundary_whitespace
            || self.data_before
            || self.data_after
            || self.header_folding
            || self.lf_line
            || self.missing_semicolon
            || self.invalid_quoting
            || self.invalid_part
            || self.invalid_header_folding
            || self.file_limit_exceeded
    }
}

/// One uploaded file.
#[derive(Debug, Clone, Default)]
pub struct UploadedFile {
    pub field: Vec<u8>,
    pub filename: Vec<u8>,
    pub size: usize,
}

/// Result of parsing a multipart body.
#[derive(Debug, Clone, Default)]
pub struct Multipart {
    pub args: Vec<Pair>,
    pub files: Vec<UploadedFile>,
    /// Part name and each header line of the part.
    pub part_headers: Vec<Pair>,
    pub flags: MultipartFlags,
    /// Set when the body cannot be parsed at all.
    pub error: Option<String>,
}

/// Most parts accepted in one body.
pub const MULTIPART_MAX_PARTS: usize = 1024;

/// Extracts the boundary from a `multipart/form-data` content type.
fn boundary_of(content_type: &[u8], flags: &mut MultipartFlags) -> Result<Vec<u8>, String> {
    let text = String::from_utf8_lossy(content_type);
    let lower = text.to_ascii_lowercase();
    let Some(pos) = lower.find("boundary") else {
        return Err("Multipart: boundary not found in Content-Type".into());
    };
    let after = text[pos + "boundary".len()..].trim_start();
    let Some(value) = after.strip_prefix('=') else {
        return Err("Multipart: malformed boundary".into());
    };
    if after.len() != text[pos + "boundary".len()..].len() || value.starts_with([' ', '\t']) {
        flags.boundary_whitespace = true;
    }
    let value = value.trim_start();
    let boundary = if let Some(quoted) = value.strip_prefix('"') {
        flags.boundary_quoted = true;
        match quoted.find('"') {
            Some(end) => quoted[..end].to_string(),
            None => return Err("Multipart: unterminated quoted boundary".into()),
        }
    } else {
        value.split(';').next().unwrap_or("").trim_end().to_string()
    };
    if boundary.is_empty() {
        return Err("Multipart: empty boundary".into());
    }
    if boundary.contains([' ', '\t']) {
        flags.boundary_whitespace = true;
    }
    if boundary.len() > 70 || boundary.bytes().any(|b| !(0x20..=0x7E).contains(&b)) {
        return Err("Multipart: invalid boundary".into());
    }
    Ok(boundary.into_bytes())
}

/// Splits `input` into lines, noting which line endings were used.
fn split_lines<'a>(input: &'a [u8], flags: &mut MultipartFlags) -> Vec<&'a [u8]> {
    let mut lines = Vec::new();
    let mut start = 0;
    while let Some(pos) = memchr::memchr(b'\n', &input[start..]) {
        let end = start + pos;
        if end > start && input[end - 1] == b'\r' {
            flags.crlf_line = true;
            lines.push(&input[start..end - 1]);
        } else {
            flags.lf_line = true;
            lines.push(&input[start..end]);
        }
        start = end + 1;
    }
    lines.push(&input[start..]);
    lines
}

/// `name` and `filename` of a part's `Content-Disposition`.
type Disposition = (Option<Vec<u8>>, Option<Vec<u8>>);

/// Parses a `Content-Disposition` header value, returning (name, filename).
fn parse_disposition(value: &[u8], flags: &mut MultipartFlags) -> Result<Disposition, String> {
    let text = value;
    let mut rest = text;
    // Disposition type.
    let type_end = rest.iter().position(|&b| b == b';').unwrap_or(rest.len());
    let disposition_type = rest[..type_end].trim_ascii();
    if !disposition_type.eq_ignore_ascii_case(b"form-data") {
        return Err("Multipart: Content-Disposition is not form-data".into());
    }
    rest = &rest[type_end..];
    let mut name = None;
    let mut filename = None;
    while !rest.is_empty() {
        if rest[0] == b';' {
            rest = &rest[1..];
        } else {
            flags.missing_semicolon = true;
        }
        rest = rest.trim_ascii_start();
        if rest.is_empty() {
            break;
        }
        let eq = rest
            .iter()
            .position(|&b| b == b'=')
            .ok_or("Multipart: malformed parameter")?;
        let key = rest[..eq].trim_ascii().to_ascii_lowercase();
        rest = rest[eq + 1..].trim_ascii_start();
        let value: Vec<u8>;
        if rest.first() == Some(&b'"') {
            let mut j = 1;
            let mut v = Vec::new();
            let mut closed = false;
            while j < rest.len() {
                match rest[j] {
                    b'\\' if j + 1 < rest.len() && matches!(rest[j + 1], b'"' | b'\\') => {
                        v.push(rest[j + 1]);
                        j += 2;
                    }
                    b'"' => {
                        closed = true;
                        j += 1;
                        break;
                    }
                    other => {
                        v.push(other);
                        j += 1;
                    }
                }
            }
            if !closed {
                flags.invalid_quoting = true;
                return Err("Multipart: unterminated quoted parameter".into());
            }
            value = v;
            rest = &rest[j..];
            let trimmed = rest.trim_ascii_start();
            if !trimmed.is_empty() && trimmed[0] != b';' {
                flags.invalid_quoting = true;
            }
            rest = trimmed;
        } else {
            let end = rest.iter().position(|&b| b == b';').unwrap_or(rest.len());
            let v = rest[..end].trim_ascii();
            if v.contains(&b'\'') || v.contains(&b'"') {
                flags.invalid_quoting = true;
            }
            value = v.to_vec();
            rest = &rest[end..];
        }
        match key.as_slice() {
            b"name" => {
                if name.replace(value).is_some() {
                    return Err("Multipart: duplicate name parameter".into());
                }
            }
            b"filename" => {
                if filename.replace(value).is_some() {
                    return Err("Multipart: duplicate filename parameter".into());
                }
            }
            b"filename*" => {
                // RFC 5987 names are refused by ModSecurity's strict parser.
                return Err("Multipart: filename* parameter not accepted".into());
            }
            _ => return Err("Multipart: unknown Content-Disposition parameter".into()),
        }
    }
    Ok((name, filename))
}

/// Parses a multipart/form-data body strictly.
pub fn parse_multipart(content_type: &[u8], body: &[u8], max_files: usize) -> Multipart {
    let mut result = Multipart::default();
    let boundary = match boundary_of(content_type, &mut result.flags) {
        Ok(b) => b,
        Err(e) => {
            result.error = Some(e);
            return result;
        }
    };
    let mut delimiter = b"--".to_vec();
    delimiter.extend_from_slice(&boundary);
    let lines = split_lines(body, &mut result.flags);
    let mut index = 0;
    // Preamble before the first boundary.
    while index < lines.len() && !lines[index].starts_with(&delimiter) {
        if !lines[index].is_empty() {
            result.flags.data_before = true;
        }
        index += 1;
    }
    if index >= lines.len() {
        result.error = Some("Multipart: no boundary found in body".into());
        return result;
    }
    let mut finished = false;
    let mut parts = 0usize;
    while index < lines.len() {
        let line = lines[index];
        let after = &line[delimiter.len().min(line.len())..];
        if after.starts_with(b"--") {
            finished = true;
            if !after[2..].trim_ascii().is_empty() {
                result.flags.data_after = true;
            }
            index += 1;
            break;
        }
        if !after.trim_ascii().is_empty() {
            result.flags.unmatched_boundary = true;
            result.error = Some("Multipart: invalid boundary line".into());
            return result;
        }
        index += 1;
        parts += 1;
        if parts > MULTIPART_MAX_PARTS {
            result.error = Some("Multipart: too many parts".into());
            return result;
        }
        // Part headers.
        let mut headers: Vec<Vec<u8>> = Vec::new();
        loop {
            let Some(&header) = lines.get(index) else {
                result.error = Some("Multipart: final boundary missing".into());
                return result;
            };
            index += 1;
            if header.is_empty() {
                break;
            }
            if header[0] == b' ' || header[0] == b'\t' {
                result.flags.header_folding = true;
                match headers.last_mut() {
                    Some(last) => {
                        last.push(b' ');
                        last.extend_from_slice(header.trim_ascii());
                    }
                    None => {
                        result.flags.invalid_header_folding = true;
                        result.error = Some("Multipart: invalid header folding".into());
                        return result;
                    }
                }
                continue;
            }
            if !header.contains(&b':') {
                result.flags.invalid_part = true;
                result.error = Some("Multipart: invalid part header".into());
                return result;
            }
            headers.push(header.to_vec());
        }
        // Part content, up to the next delimiter line.
        let content_start = index;
        while index < lines.len() && !lines[index].starts_with(&delimiter) {
            index += 1;
        }
        let mut content = Vec::new();
        for (n, line) in lines[content_start..index].iter().enumerate() {
            if n > 0 {
                content.extend_from_slice(b"\r\n");
            }
            content.extend_from_slice(line);
        }
        let mut name = None;
        let mut filename = None;
        let mut saw_disposition = false;
        for header in &headers {
            let colon = header.iter().position(|&b| b == b':').unwrap_or(0);
            let header_name = header[..colon].trim_ascii();
            let header_value = header[colon + 1..].trim_ascii();
            if header_name.eq_ignore_ascii_case(b"content-disposition") {
                if saw_disposition {
                    result.error = Some("Multipart: duplicate Content-Disposition".into());
                    return result;
                }
                saw_disposition = true;
                match parse_disposition(header_value, &mut result.flags) {
                    Ok((n, f)) => {
                        name = n;
                        filename = f;
                    }
                    Err(e) => {
                        result.error = Some(e);
                        return result;
                    }
                }
            }
        }
        let Some(name) = name else {
            result.flags.invalid_part = true;
            result.error = Some("Multipart: part without a name".into());
            return result;
        };
        for header in headers {
            result.part_headers.push((name.clone(), header));
        }
        match filename {
            Some(filename) => {
                if result.files.len() >= max_files {
                    result.flags.file_limit_exceeded = true;
                    continue;
                }
                result.files.push(UploadedFile {
                    field: name,
                    filename,
                    size: content.len(),
                });
            }
            None => result.args.push((name, content)),
        }
    }
    if !finished {
        result.error = Some("Multipart: final boundary missing".into());
    }
    if index < lines.len() && lines[index..].iter().any(|l| !l.is_empty()) {
        result.flags.data_after = true;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencoded() {
        let (pairs, invalid) = parse_urlencoded(b"a=1&b=x+y%21&c&=d", b'&');
        assert_eq!(
            pairs,
            vec![
                (b"a".to_vec(), b"1".to_vec()),
                (b"b".to_vec(), b"x y!".to_vec()),
                (b"c".to_vec(), Vec::new()),
                (Vec::new(), b"d".to_vec()),
            ]
        );
        assert!(!invalid);
        assert!(parse_urlencoded(b"a=%zz", b'&').1);
    }

    #[test]
    fn json_names() {
        let pairs = parse_json(br#"{"a":{"b":"x"},"l":[1,true,null]}"#).unwrap();
        let names: Vec<String> = pairs
            .iter()
            .map(|(n, _)| String::from_utf8_lossy(n).into_owned())
            .collect();
        assert_eq!(names, vec!["json.a.b", "json.l.0", "json.l.1", "json.l.2"]);
        assert_eq!(pairs[2].1, b"true");
        assert!(parse_json(b"{bad").is_err());
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert!(parse_json(deep.as_bytes()).is_err());
    }

    #[test]
    fn xml_xpath_subset() {
        let doc = parse_xml(br#"<a x="1"><b y="2">hi</b><c>there &amp; <![CDATA[<z>]]></c></a>"#)
            .unwrap();
        assert_eq!(doc.select("/*"), vec![b"hithere & <z>".to_vec()]);
        assert_eq!(doc.select("//@*"), vec![b"1".to_vec(), b"2".to_vec()]);
        assert_eq!(doc.select("//b"), vec![b"hi".to_vec()]);
        assert_eq!(doc.select("/a/b/@y"), vec![b"2".to_vec()]);
        assert!(parse_xml(b"<a><b></a>").is_err());
        assert!(parse_xml(b"").is_err());
    }

    #[test]
    fn multipart_strict() {
        let body = b"--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue\r\n--XX\r\nContent-Disposition: form-data; name=\"f\"; filename=\"t.txt\"\r\nContent-Type: text/plain\r\n\r\nfile\r\ndata\r\n--XX--\r\n";
        let m = parse_multipart(b"multipart/form-data; boundary=XX", body, 100);
        assert_eq!(m.error, None);
        assert_eq!(m.args, vec![(b"a".to_vec(), b"value".to_vec())]);
        assert_eq!(m.files.len(), 1);
        assert_eq!(m.files[0].filename, b"t.txt");
        assert_eq!(m.files[0].size, 10);
        assert_eq!(m.part_headers.len(), 3);
        assert!(!m.flags.any());

        let lf = b"--XX\nContent-Disposition: form-data; name=a\n\nv\n--XX--\n";
        let m = parse_multipart(b"multipart/form-data; boundary=\"XX\"", lf, 100);
        assert!(m.flags.lf_line && m.flags.boundary_quoted);
        assert_eq!(m.args[0].1, b"v");

        let unfinished = b"--XX\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n";
        assert!(
            parse_multipart(b"multipart/form-data; boundary=XX", unfinished, 1)
                .error
                .is_some()
        );
        let bad_quote = b"--XX\r\nContent-Disposition: form-data; name=\"a\"x\r\n\r\nv\r\n--XX--";
        assert!(
            parse_multipart(b"multipart/form-data; boundary=XX", bad_quote, 1)
                .flags
                .invalid_quoting
        );
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(input in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let _ = parse_json(&input);
            let _ = parse_xml(&input);
            let _ = parse_urlencoded(&input, b'&');
            let _ = parse_multipart(b"multipart/form-data; boundary=a", &input, 4);
        }
    }
}
