//! A lenient, linear XML scanner reporting element text and attribute
//! values with their paths (`/order/item/@sku`), plus the DOCTYPE.
//!
//! It does not resolve entities or validate: it reads what an XML parser
//! would hand to the application, and reports DTD declarations so the XXE
//! check can judge them.

/// One thing found in the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XmlItemKind {
    Text,
    Attribute,
    /// The whole `<!DOCTYPE ...>` declaration, internal subset included.
    Doctype,
    /// A processing instruction other than the XML declaration.
    ProcessingInstruction,
}

#[derive(Debug)]
pub struct XmlItem<'a> {
    pub kind: XmlItemKind,
    /// `/a/b` for text, `/a/b/@attr` for attributes.
    pub path: &'a str,
    pub value: &'a [u8],
}

const MAX_PATH_LEN: usize = 256;

fn at(input: &[u8], i: usize) -> u8 {
    input.get(i).copied().unwrap_or(0)
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn find_from(input: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(input.get(from..)?, needle).map(|p| from + p)
}

/// Scans `input`, calling `visit` for text, attributes, the DOCTYPE and
/// processing instructions, until `max_items` items were reported.
/// Returns the number of items reported.
pub fn scan(input: &[u8], max_items: usize, visit: &mut dyn FnMut(&XmlItem<'_>)) -> usize {
    let mut path = String::new();
    let mut stack: Vec<usize> = Vec::new();
    let mut text: Vec<u8> = Vec::new();
    let mut items = 0;
    let mut i = 0;
    let emit_text =
        |text: &mut Vec<u8>, path: &str, items: &mut usize, visit: &mut dyn FnMut(&XmlItem<'_>)| {
            if !text.trim_ascii().is_empty() && *items < max_items {
                *items += 1;
                visit(&XmlItem {
                    kind: XmlItemKind::Text,
                    path: if path.is_empty() { "/" } else { path },
                    value: text,
                });
            }
            text.clear();
        };
    while i < input.len() && items < max_items {
        let Some(lt) = memchr::memchr(b'<', input.get(i..).unwrap_or(&[])) else {
            text.extend_from_slice(input.get(i..).unwrap_or(&[]));
            break;
        };
        text.extend_from_slice(input.get(i..i + lt).unwrap_or(&[]));
        i += lt;
        let rest = input.get(i..).unwrap_or(&[]);
        if rest.starts_with(b"<!--") {
            i = find_from(input, i + 4, b"-->").map_or(input.len(), |p| p + 3);
        } else if rest.starts_with(b"<![CDATA[") {
            let end = find_from(input, i + 9, b"]]>").unwrap_or(input.len());
            text.extend_from_slice(input.get(i + 9..end).unwrap_or(&[]));
            i = end + 3;
        } else if rest.len() >= 9
            && rest
                .get(..9)
                .is_some_and(|h| h.eq_ignore_ascii_case(b"<!doctype"))
        {
            // The internal subset may contain '>' inside declarations: end at
            // the `]` closing it, then the next '>'.
            let mut j = i + 9;
            let mut bracket = 0i32;
            while j < input.len() {
                match at(input, j) {
                    b'[' => bracket += 1,
                    b']' => bracket -= 1,
                    b'>' if bracket <= 0 => break,
                    _ => {}
                }
                j += 1;
            }
            items += 1;
            visit(&XmlItem {
                kind: XmlItemKind::Doctype,
                path: "/",
                value: input.get(i..(j + 1).min(input.len())).unwrap_or(&[]),
            });
            i = j + 1;
        } else if rest.starts_with(b"<?") {
            let end = find_from(input, i + 2, b"?>").unwrap_or(input.len());
            let pi = input.get(i..(end + 2).min(input.len())).unwrap_or(&[]);
            if !pi.get(2..5).is_some_and(|t| t.eq_ignore_ascii_case(b"xml"))
                || pi.get(5).is_some_and(|b| !is_space(*b))
            {
                items += 1;
                visit(&XmlItem {
                    kind: XmlItemKind::ProcessingInstruction,
                    path: "/",
                    value: pi,
                });
            }
            i = end + 2;
        } else if rest.starts_with(b"</") {
            emit_text(&mut text, &path, &mut items, visit);
            if let Some(len) = stack.pop() {
                path.truncate(len);
            }
            i = memchr::memchr(b'>', rest).map_or(input.len(), |p| i + p + 1);
        } else if rest.starts_with(b"<!") {
            i = memchr::memchr(b'>', rest).map_or(input.len(), |p| i + p + 1);
        } else {
            emit_text(&mut text, &path, &mut items, visit);
            let mut j = i + 1;
            while j < input.len() && !is_space(at(input, j)) && !matches!(at(input, j), b'>' | b'/')
            {
                j += 1;
            }
            let name = String::from_utf8_lossy(input.get(i + 1..j).unwrap_or(&[]));
            let parent_len = path.len();
            if path.len() < MAX_PATH_LEN {
                path.push('/');
                path.push_str(&name.chars().take(64).collect::<String>());
            }
            // attributes
            loop {
                while j < input.len() && is_space(at(input, j)) {
                    j += 1;
                }
                if j >= input.len() {
                    break;
                }
                match at(input, j) {
                    b'>' => {
                        stack.push(parent_len);
                        j += 1;
                        break;
                    }
                    b'/' if at(input, j + 1) == b'>' => {
                        path.truncate(parent_len);
                        j += 2;
                        break;
                    }
                    b'/' => {
                        j += 1;
                        continue;
                    }
                    _ => {}
                }
                let name_start = j;
                while j < input.len()
                    && !is_space(at(input, j))
                    && !matches!(at(input, j), b'=' | b'>' | b'/')
                {
                    j += 1;
                }
                let attr =
                    String::from_utf8_lossy(input.get(name_start..j).unwrap_or(&[])).into_owned();
                while j < input.len() && is_space(at(input, j)) {
                    j += 1;
                }
                if at(input, j) != b'=' {
                    if j == name_start {
                        j += 1;
                    }
                    continue;
                }
                j += 1;
                while j < input.len() && is_space(at(input, j)) {
                    j += 1;
                }
                let (value, next) = match at(input, j) {
                    q @ (b'"' | b'\'') => {
                        let end = memchr::memchr(q, input.get(j + 1..).unwrap_or(&[]))
                            .map_or(input.len(), |p| j + 1 + p);
                        (input.get(j + 1..end).unwrap_or(&[]), end + 1)
                    }
                    _ => {
                        let start = j;
                        while j < input.len() && !is_space(at(input, j)) && at(input, j) != b'>' {
                            j += 1;
                        }
                        (input.get(start..j).unwrap_or(&[]), j)
                    }
                };
                if items < max_items {
                    items += 1;
                    let attr_path =
                        format!("{path}/@{}", attr.chars().take(64).collect::<String>());
                    visit(&XmlItem {
                        kind: XmlItemKind::Attribute,
                        path: &attr_path,
                        value,
                    });
                }
                j = next;
            }
            i = j;
        }
    }
    emit_text(&mut text, &path, &mut items, visit);
    items
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn collect(input: &str) -> Vec<(XmlItemKind, String, String)> {
        let mut out = Vec::new();
        scan(input.as_bytes(), 100, &mut |item| {
            out.push((
                item.kind,
                item.path.to_string(),
                String::from_utf8_lossy(item.value).into_owned(),
            ))
        });
        out
    }

    #[test]
    fn text_attributes_doctype() {
        let items = collect(
            r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r a="1"><b c='x y'>hi &amp; <![CDATA[<raw>]]></b><e/></r>"#,
        );
        assert_eq!(items[0].0, XmlItemKind::Doctype);
        assert!(items[0].2.contains("ENTITY"));
        assert!(items.contains(&(XmlItemKind::Attribute, "/r/@a".into(), "1".into())));
        assert!(items.contains(&(XmlItemKind::Attribute, "/r/b/@c".into(), "x y".into())));
        assert!(items.contains(&(XmlItemKind::Text, "/r/b".into(), "hi &amp; <raw>".into())));
    }

    proptest! {
        #[test]
        fn never_panics(input in proptest::collection::vec(any::<u8>(), 0..400)) {
            let n = scan(&input, 40, &mut |_| {});
            prop_assert!(n <= 41);
        }
    }
}
