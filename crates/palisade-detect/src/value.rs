//! Where a value came from and what it looks like: the context half of the
//! scoring model.

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
#[derive(Debug, Clone, Copy)]
pub struct ValueContext<'a> {
    pub source: Source,
    /// Parameter, key or header name (empty when none), lowercase not guaranteed.
    pub name: &'a str,
    /// The value reads as natural-language text (several words, mostly letters).
    pub prose: bool,
}

/// Values whose shape alone clears them: numbers, UUIDs, dates, e-mail
/// addresses, booleans, plain identifiers. No attack in any category fits
/// these shapes.
pub fn is_inert_shape(v: &[u8]) -> bool {
    let v = v.trim_ascii();
    if v.is_empty() {
        return true;
    }
    // Plain tokens: identifiers, numbers, dates, versions, emails, UUIDs,
    // decimal and signed numbers. Spaces are excluded on purpose: SQL
    // keywords separated by spaces need no other character.
    v.iter().all(|&b| {
        b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'@' | b'+' | b',' | b':')
            || (b >= 0x80 && b != 0xc0 && b != 0xc1)
    }) && !has_scheme(v)
}

fn has_scheme(v: &[u8]) -> bool {
    // `javascript:...`-like values are not inert even when made only of word characters.
    memchr::memchr(b':', v).is_some_and(|p| {
        p > 1
            && v.get(..p)
                .is_some_and(|s| s.iter().all(|b| b.is_ascii_alphabetic()))
    })
}

/// Whether a value reads as prose: at least four words, most bytes letters
/// or spaces.
pub fn is_prose(v: &[u8]) -> bool {
    if v.len() < 16 {
        return false;
    }
    let mut words = 0;
    let mut in_word = false;
    let mut letters_or_space = 0usize;
    for &b in v {
        let letter = b.is_ascii_alphabetic() || b >= 0x80;
        if letter || b == b' ' || b == b'\n' {
            letters_or_space += 1;
        }
        if letter && !in_word {
            words += 1;
        }
        in_word = letter || b == b'\'';
    }
    words >= 4 && letters_or_space * 100 >= v.len() * 70
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
        assert!(is_prose(b"I really liked this product, it's great for my kitchen"));
        assert!(!is_prose(b"' or 1=1--"));
        assert!(!is_prose(b"; cat /etc/passwd"));
    }
}
