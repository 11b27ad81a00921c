//! Turning the wire forms of parameters and non-JSON bodies into JSON values
//! the schema validator checks (with string coercion: `"5"` may be an integer).

use crate::schema::{SchemaArena, SchemaId, TypeSet};
use crate::spec::{Parameter, Style};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// Bound on bracket nesting in `a[b][c]` keys.
const MAX_BRACKET_DEPTH: usize = 16;

/// Why a wire value could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Malformed(pub(crate) &'static str);

/// A decoded name and value from a query string, form body or cookie header.
pub(crate) type Pair<'a> = (Cow<'a, str>, Cow<'a, str>);

/// Percent-decodes `raw`, with `+` as space when `plus_is_space`; borrows
/// `raw` when there is nothing to decode (most names and values).
pub(crate) fn decode(raw: &str, plus_is_space: bool) -> Cow<'_, str> {
    let plain = !raw
        .bytes()
        .any(|b| b == b'%' || (plus_is_space && b == b'+'));
    if plain {
        return Cow::Borrowed(raw);
    }
    if plus_is_space && raw.contains('+') {
        let spaced = raw.replace('+', " ");
        return Cow::Owned(
            percent_encoding::percent_decode_str(&spaced)
                .decode_utf8_lossy()
                .into_owned(),
        );
    }
    percent_encoding::percent_decode_str(raw).decode_utf8_lossy()
}

/// `a=1&b=2` into decoded pairs, in order.
pub(crate) fn parse_pairs(query: &str) -> Vec<Pair<'_>> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (decode(k, true), decode(v, true)),
            None => (decode(pair, true), Cow::Borrowed("")),
        })
        .collect()
}

/// The JSON shape a parameter's schema expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    Primitive,
    Array,
    Object,
}

pub(crate) fn shape(arena: &SchemaArena, id: SchemaId) -> Shape {
    let bits = type_bits(arena, id, 0);
    let primitive = TypeSet::STRING | TypeSet::INTEGER | TypeSet::NUMBER | TypeSet::BOOLEAN;
    if bits & TypeSet::ARRAY != 0 && bits & primitive == 0 {
        Shape::Array
    } else if bits & TypeSet::OBJECT != 0 && bits & (primitive | TypeSet::ARRAY) == 0 {
        Shape::Object
    } else {
        Shape::Primitive
    }
}

fn type_bits(arena: &SchemaArena, id: SchemaId, depth: usize) -> u8 {
    if depth > 16 {
        return 0;
    }
    let node = arena.node(id);
    let mut bits = node.types.map_or(0, |t| t.0);
    if bits == 0
        && (node.declares_properties() || node.additional != crate::schema::Extra::Unspecified)
    {
        bits |= TypeSet::OBJECT;
    }
    if bits == 0 && node.items.is_some() {
        bits |= TypeSet::ARRAY;
    }
    for child in node.reference.iter().chain(&node.all_of) {
        bits |= type_bits(arena, *child, depth + 1);
    }
    for child in node.any_of.iter().chain(&node.one_of) {
        bits |= type_bits(arena, *child, depth + 1);
    }
    bits
}

fn split_list(text: &str, separator: char) -> Value {
    Value::Array(
        text.split(separator)
            .map(|s| Value::String(s.to_owned()))
            .collect(),
    )
}

fn pairs_to_object(items: &[&str]) -> Result<Value, Malformed> {
    if !items.len().is_multiple_of(2) {
        return Err(Malformed("style"));
    }
    let mut map = Map::new();
    for pair in items.chunks(2) {
        if let [k, v] = pair {
            map.insert((*k).to_owned(), Value::String((*v).to_owned()));
        }
    }
    Ok(Value::Object(map))
}

fn exploded_object(items: &[&str]) -> Result<Value, Malformed> {
    let mut map = Map::new();
    for item in items {
        let (k, v) = item.split_once('=').ok_or(Malformed("style"))?;
        map.insert(k.to_owned(), Value::String(v.to_owned()));
    }
    Ok(Value::Object(map))
}

/// A `simple`-style value (path, header) into JSON.
fn simple(text: &str, shape: Shape, explode: bool) -> Result<Value, Malformed> {
    Ok(match shape {
        Shape::Primitive => Value::String(text.to_owned()),
        Shape::Array => split_list(text, ','),
        Shape::Object => {
            let items: Vec<&str> = text.split(',').collect();
            if explode {
                exploded_object(&items)?
            } else {
                pairs_to_object(&items)?
            }
        }
    })
}

/// A path variable (raw, percent-encoded) into JSON.
pub(crate) fn path_value(param: &Parameter, raw: &str, shape: Shape) -> Result<Value, Malformed> {
    let text = decode(raw, false);
    match param.style {
        Style::Simple => simple(&text, shape, param.explode),
        Style::Label => {
            let body = text.strip_prefix('.').ok_or(Malformed("style"))?;
            let separator = if param.explode { '.' } else { ',' };
            Ok(match shape {
                Shape::Primitive => Value::String(body.to_owned()),
                Shape::Array => split_list(body, separator),
                Shape::Object => {
                    let items: Vec<&str> = body.split(separator).collect();
                    if param.explode {
                        exploded_object(&items)?
                    } else {
                        pairs_to_object(&items)?
                    }
                }
            })
        }
        Style::Matrix => {
            let body = text.strip_prefix(';').ok_or(Malformed("style"))?;
            if param.explode && shape != Shape::Primitive {
                let items: Vec<&str> = body.split(';').collect();
                return match shape {
                    Shape::Array => Ok(Value::Array(
                        items
                            .iter()
                            .map(|i| {
                                i.strip_prefix(&format!("{}=", param.name))
                                    .map(|v| Value::String(v.to_owned()))
                                    .ok_or(Malformed("style"))
                            })
                            .collect::<Result<_, _>>()?,
                    )),
                    _ => exploded_object(&items),
                };
            }
            let value = body
                .strip_prefix(&param.name)
                .and_then(|r| {
                    if r.is_empty() {
                        Some("")
                    } else {
                        r.strip_prefix('=')
                    }
                })
                .ok_or(Malformed("style"))?;
            simple(value, shape, false)
        }
        _ => Err(Malformed("style")),
    }
}

/// A header value into JSON.
pub(crate) fn header_value(
    param: &Parameter,
    text: &str,
    shape: Shape,
) -> Result<Value, Malformed> {
    simple(text.trim(), shape, param.explode)
}

/// A query (or cookie) parameter from all decoded pairs; `None` when absent.
pub(crate) fn query_value(
    param: &Parameter,
    pairs: &[Pair<'_>],
    shape: Shape,
    schema_properties: &[&str],
) -> Result<Option<Value>, Malformed> {
    let name = param.name.as_str();
    if param.style == Style::DeepObject {
        let mut root = Value::Object(Map::new());
        let mut found = false;
        for (key, value) in pairs {
            if let Some(rest) = key.strip_prefix(name).filter(|r| r.starts_with('[')) {
                found = true;
                insert_bracketed(&mut root, rest, value.clone().into_owned())?;
            }
        }
        return Ok(found.then_some(root));
    }
    if shape == Shape::Object && param.style == Style::Form && param.explode {
        // Each property is its own query key.
        let mut map = Map::new();
        for (key, value) in pairs {
            if schema_properties.contains(&key.as_ref()) {
                map.insert(
                    key.clone().into_owned(),
                    Value::String(value.clone().into_owned()),
                );
            }
        }
        return Ok((!map.is_empty()).then_some(Value::Object(map)));
    }
    // `name` or `name[]`.
    let mut values = pairs
        .iter()
        .filter(|(k, _)| {
            k.strip_prefix(name)
                .is_some_and(|rest| rest.is_empty() || rest == "[]")
        })
        .map(|(_, v)| v.as_ref());
    let Some(first) = values.next() else {
        return Ok(None);
    };
    let separator = match param.style {
        Style::SpaceDelimited => ' ',
        Style::PipeDelimited => '|',
        _ => ',',
    };
    // Every form but exploded arrays takes the parameter once: given twice,
    // which one the upstream reads is ambiguous (parameter pollution).
    let exploded_array = shape == Shape::Array && param.explode && param.style == Style::Form;
    if !exploded_array && values.next().is_some() {
        return Err(match shape {
            Shape::Primitive => Malformed("parameter pollution"),
            _ => Malformed("style"),
        });
    }
    Ok(Some(match shape {
        Shape::Array if exploded_array => Value::Array(
            std::iter::once(first)
                .chain(values)
                .map(|v| Value::String(v.to_owned()))
                .collect(),
        ),
        Shape::Array => split_list(first, separator),
        Shape::Object => {
            let items: Vec<&str> = first.split(separator).collect();
            pairs_to_object(&items)?
        }
        Shape::Primitive => Value::String(first.to_owned()),
    }))
}

/// `Cookie: a=1; b=2` into pairs.
pub(crate) fn cookie_pairs(header: &str) -> impl Iterator<Item = Pair<'_>> {
    header.split(';').filter_map(|c| {
        let (k, v) = c.trim().split_once('=')?;
        Some((
            Cow::Borrowed(k.trim()),
            decode(v.trim().trim_matches('"'), false),
        ))
    })
}

/// Inserts `value` under a bracket path such as `[a][b][]` or `[0]`.
fn insert_bracketed(root: &mut Value, path: &str, value: String) -> Result<(), Malformed> {
    let mut keys = Vec::new();
    let mut rest = path;
    while let Some(after) = rest.strip_prefix('[') {
        let close = after.find(']').ok_or(Malformed("style"))?;
        keys.push(after.get(..close).unwrap_or(""));
        rest = after.get(close + 1..).unwrap_or("");
        if keys.len() > MAX_BRACKET_DEPTH {
            return Err(Malformed("depth"));
        }
    }
    if !rest.is_empty() {
        return Err(Malformed("style"));
    }
    let mut current = root;
    for (i, key) in keys.iter().enumerate() {
        let last = i + 1 == keys.len();
        if key.is_empty() {
            if !current.is_array() {
                if current.as_object().is_some_and(Map::is_empty) {
                    *current = Value::Array(Vec::new());
                } else {
                    return Err(Malformed("style"));
                }
            }
            let Value::Array(items) = current else {
                return Err(Malformed("style"));
            };
            if last {
                items.push(Value::String(value));
                return Ok(());
            }
            // `a[][x]=1&a[][y]=2` is one element; a repeated path starts the next.
            let rest = keys.get(i + 1..).unwrap_or(&[]);
            let reuse = items
                .last()
                .is_some_and(|last| last.is_object() && !contains_path(last, rest));
            if !reuse {
                items.push(Value::Object(Map::new()));
            }
            current = items.last_mut().ok_or(Malformed("style"))?;
            continue;
        }
        let Value::Object(map) = current else {
            return Err(Malformed("style"));
        };
        if last {
            if map.contains_key(*key) {
                return Err(Malformed("parameter pollution"));
            }
            map.insert((*key).to_owned(), Value::String(value));
            return Ok(());
        }
        current = map
            .entry((*key).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    Ok(())
}

fn contains_path(value: &Value, keys: &[&str]) -> bool {
    match keys.split_first() {
        None => true,
        Some((first, rest)) => match value {
            Value::Object(map) => map.get(*first).is_some_and(|v| contains_path(v, rest)),
            Value::Array(_) if first.is_empty() => true,
            _ => false,
        },
    }
}

/// An `application/x-www-form-urlencoded` body (with `a[b]=` nesting and
/// repeated keys as arrays) into a JSON object.
pub(crate) fn form_object(body: &str) -> Result<Value, Malformed> {
    let mut root = Value::Object(Map::new());
    for (key, value) in parse_pairs(body) {
        match key.find('[') {
            Some(open) if open > 0 && key.ends_with(']') => {
                let (name, brackets) = key.split_at(open);
                let Value::Object(map) = &mut root else {
                    return Err(Malformed("style"));
                };
                let slot = map
                    .entry(name.to_owned())
                    .or_insert_with(|| Value::Object(Map::new()));
                insert_bracketed(slot, brackets, value.into_owned())?;
            }
            _ => {
                let Value::Object(map) = &mut root else {
                    return Err(Malformed("style"));
                };
                let value = Value::String(value.into_owned());
                match map.get_mut(key.as_ref()) {
                    None => {
                        map.insert(key.into_owned(), value);
                    }
                    Some(Value::Array(items)) => items.push(value),
                    Some(existing) => {
                        let first = std::mem::take(existing);
                        *existing = Value::Array(vec![first, value]);
                    }
                }
            }
        }
    }
    Ok(root)
}

/// One multipart part.
#[derive(Debug)]
pub(crate) struct Part {
    pub(crate) name: String,
    pub(crate) content_type: Option<String>,
    pub(crate) body: Vec<u8>,
}

/// Splits a `multipart/form-data` body by its boundary.
pub(crate) fn multipart_parts(
    body: &[u8],
    boundary: &str,
    max_parts: usize,
) -> Result<Vec<Part>, Malformed> {
    if boundary.is_empty() || boundary.len() > 200 {
        return Err(Malformed("boundary"));
    }
    let delimiter = format!("--{boundary}");
    let finder = memchr::memmem::Finder::new(delimiter.as_bytes());
    let mut position = finder.find(body).ok_or(Malformed("boundary"))? + delimiter.len();
    let mut parts = Vec::new();
    loop {
        let rest = body.get(position..).ok_or(Malformed("boundary"))?;
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        let rest = rest
            .strip_prefix(b"\r\n")
            .or_else(|| rest.strip_prefix(b"\n"))
            .ok_or(Malformed("boundary"))?;
        let next = finder.find(rest).ok_or(Malformed("boundary"))?;
        let mut content = rest.get(..next).ok_or(Malformed("boundary"))?;
        content = content
            .strip_suffix(b"\r\n")
            .or_else(|| content.strip_suffix(b"\n"))
            .unwrap_or(content);
        let header_end = memchr::memmem::find(content, b"\r\n\r\n")
            .map(|i| (i, 4))
            .or_else(|| memchr::memmem::find(content, b"\n\n").map(|i| (i, 2)));
        let (headers, part_body) = match header_end {
            Some((i, len)) => (
                content.get(..i).unwrap_or(&[]),
                content.get(i + len..).unwrap_or(&[]),
            ),
            None => (content, &[][..]),
        };
        let headers = String::from_utf8_lossy(headers);
        let mut name = None;
        let mut content_type = None;
        for line in headers.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let key = key.trim().to_ascii_lowercase();
            if key == "content-disposition" {
                for attr in value.split(';') {
                    if let Some(n) = attr.trim().strip_prefix("name=") {
                        name = Some(n.trim_matches('"').to_owned());
                    }
                }
            } else if key == "content-type" {
                content_type = Some(
                    value
                        .split(';')
                        .next()
                        .unwrap_or("")
                        .trim()
                        .to_ascii_lowercase(),
                );
            }
        }
        parts.push(Part {
            name: name.ok_or(Malformed("content-disposition"))?,
            content_type,
            body: part_body.to_vec(),
        });
        if parts.len() > max_parts {
            return Err(Malformed("too many parts"));
        }
        position = body.len() - rest.len() + next + delimiter.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_nest_and_repeat() {
        let v = form_object("a=1&b[c]=2&b[d][]=3&b[d][]=4&e=5&e=6&f[0]=x").unwrap();
        assert_eq!(
            v,
            serde_json::json!({"a":"1","b":{"c":"2","d":["3","4"]},"e":["5","6"],"f":{"0":"x"}})
        );
        assert!(form_object("a[b]=1&a[b]=2").is_err());
        let v = form_object("i[][p]=1&i[][d][c]=2&i[][d][x]=3&i[][p]=4&i[][d][c]=5").unwrap();
        assert_eq!(
            v,
            serde_json::json!({"i":[{"p":"1","d":{"c":"2","x":"3"}},{"p":"4","d":{"c":"5"}}]})
        );
    }

    #[test]
    fn multipart_parts_are_split() {
        let body = b"--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nhello\r\n--XX\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.json\"\r\nContent-Type: application/json\r\n\r\n{\"k\":1}\r\n--XX--\r\n";
        let parts = multipart_parts(body, "XX", 10).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "a");
        assert_eq!(parts[0].body, b"hello");
        assert_eq!(parts[1].content_type.as_deref(), Some("application/json"));
        assert!(multipart_parts(b"garbage", "XX", 10).is_err());
    }
}

#[cfg(test)]
mod style_tests {
    use super::*;
    use crate::spec::{ParamIn, Parameter, Style};
    use serde_json::json;

    fn param(style: Style, explode: bool) -> Parameter {
        Parameter {
            name: "id".into(),
            location: ParamIn::Path,
            required: true,
            style,
            explode,
            schema: None,
            json_content: false,
            allow_empty: false,
        }
    }

    #[test]
    fn path_styles() {
        let simple = param(Style::Simple, false);
        assert_eq!(
            path_value(&simple, "a%2Cb,c", Shape::Array).unwrap(),
            json!(["a", "b", "c"])
        );
        assert_eq!(
            path_value(&simple, "x,1,y,2", Shape::Object).unwrap(),
            json!({"x": "1", "y": "2"})
        );
        let exploded = param(Style::Simple, true);
        assert_eq!(
            path_value(&exploded, "x=1,y=2", Shape::Object).unwrap(),
            json!({"x": "1", "y": "2"})
        );
        let label = param(Style::Label, false);
        assert_eq!(
            path_value(&label, ".a,b", Shape::Array).unwrap(),
            json!(["a", "b"])
        );
        assert!(path_value(&label, "a,b", Shape::Array).is_err());
        let label_exploded = param(Style::Label, true);
        assert_eq!(
            path_value(&label_exploded, ".a.b", Shape::Array).unwrap(),
            json!(["a", "b"])
        );
        let matrix = param(Style::Matrix, false);
        assert_eq!(
            path_value(&matrix, ";id=5", Shape::Primitive).unwrap(),
            json!("5")
        );
        assert_eq!(
            path_value(&matrix, ";id=a,b", Shape::Array).unwrap(),
            json!(["a", "b"])
        );
        let matrix_exploded = param(Style::Matrix, true);
        assert_eq!(
            path_value(&matrix_exploded, ";id=a;id=b", Shape::Array).unwrap(),
            json!(["a", "b"])
        );
        assert!(path_value(&matrix, ";other=5", Shape::Primitive).is_err());
    }

    #[test]
    fn query_styles() {
        let pairs =
            parse_pairs("ids=1&ids=2&csv=a,b&pipes=x|y&sp=m%20n&one=1&one=2&f[a][]=1&f[b]=z");
        let mut p = param(Style::Form, true);
        p.location = ParamIn::Query;
        p.name = "ids".into();
        assert_eq!(
            query_value(&p, &pairs, Shape::Array, &[]).unwrap(),
            Some(json!(["1", "2"]))
        );
        p.name = "csv".into();
        p.explode = false;
        assert_eq!(
            query_value(&p, &pairs, Shape::Array, &[]).unwrap(),
            Some(json!(["a", "b"]))
        );
        p.name = "pipes".into();
        p.style = Style::PipeDelimited;
        assert_eq!(
            query_value(&p, &pairs, Shape::Array, &[]).unwrap(),
            Some(json!(["x", "y"]))
        );
        p.name = "sp".into();
        p.style = Style::SpaceDelimited;
        assert_eq!(
            query_value(&p, &pairs, Shape::Array, &[]).unwrap(),
            Some(json!(["m", "n"]))
        );
        p.name = "one".into();
        p.style = Style::Form;
        assert_eq!(
            query_value(&p, &pairs, Shape::Primitive, &[]),
            Err(Malformed("parameter pollution"))
        );
        p.name = "f".into();
        p.style = Style::DeepObject;
        assert_eq!(
            query_value(&p, &pairs, Shape::Object, &[]).unwrap(),
            Some(json!({"a": ["1"], "b": "z"}))
        );
        p.name = "absent".into();
        assert_eq!(query_value(&p, &pairs, Shape::Object, &[]).unwrap(), None);
        assert_eq!(
            cookie_pairs("a=1; b=\"x%20y\"").collect::<Vec<_>>(),
            vec![("a".into(), "1".into()), ("b".into(), "x y".into())]
        );
        p.name = "ids".into();
        p.style = Style::Form;
        p.explode = true;
        let bracketed = parse_pairs("ids[]=1&ids[]=2&idsx=3");
        assert_eq!(
            query_value(&p, &bracketed, Shape::Array, &[]).unwrap(),
            Some(json!(["1", "2"]))
        );
        p.explode = false;
        assert_eq!(
            query_value(&p, &bracketed, Shape::Array, &[]),
            Err(Malformed("style"))
        );
    }

    proptest::proptest! {
        /// Borrowing when there is nothing to decode changes no result:
        /// the same text as decoding every value.
        #[test]
        fn decode_matches_percent_decoding(
            raw in "[a-zA-Z0-9%+=&._~ -]{0,24}|(%[0-9a-fA-F]{2}|[a-z+]){0,8}",
            plus_is_space in proptest::bool::ANY,
        ) {
            let spaced = if plus_is_space { raw.replace('+', " ") } else { raw.clone() };
            let expected = percent_encoding::percent_decode_str(&spaced)
                .decode_utf8_lossy()
                .into_owned();
            let decoded = decode(&raw, plus_is_space);
            proptest::prop_assert_eq!(decoded.as_ref(), expected.as_str());
        }
    }
}
