//! Variables (rule targets), selectors and macro expansion syntax.

use regex::bytes::Regex;

macro_rules! variables {
    ($($variant:ident => $name:literal, $collection:literal;)*) => {
        /// A SecLang variable.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Var { $($variant,)* }

        impl Var {
            /// Canonical upper-case name.
            pub fn name(self) -> &'static str {
                match self { $(Var::$variant => $name,)* }
            }
            /// Whether the variable is a collection that takes `:selector`.
            pub fn is_collection(self) -> bool {
                match self { $(Var::$variant => $collection,)* }
            }
            /// Looks a variable up by name (case-insensitive).
            pub fn from_name(name: &str) -> Option<Var> {
                let upper = name.to_ascii_uppercase();
                match upper.as_str() {
                    $($name => Some(Var::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

variables! {
    Args => "ARGS", true;
    ArgsGet => "ARGS_GET", true;
    ArgsPost => "ARGS_POST", true;
    ArgsNames => "ARGS_NAMES", true;
    ArgsGetNames => "ARGS_GET_NAMES", true;
    ArgsPostNames => "ARGS_POST_NAMES", true;
    ArgsCombinedSize => "ARGS_COMBINED_SIZE", false;
    RequestHeaders => "REQUEST_HEADERS", true;
    RequestHeadersNames => "REQUEST_HEADERS_NAMES", true;
    RequestCookies => "REQUEST_COOKIES", true;
    RequestCookiesNames => "REQUEST_COOKIES_NAMES", true;
    RequestUri => "REQUEST_URI", false;
    RequestUriRaw => "REQUEST_URI_RAW", false;
    RequestFilename => "REQUEST_FILENAME", false;
    RequestBasename => "REQUEST_BASENAME", false;
    RequestLine => "REQUEST_LINE", false;
    RequestMethod => "REQUEST_METHOD", false;
    RequestProtocol => "REQUEST_PROTOCOL", false;
    QueryString => "QUERY_STRING", false;
    RequestBody => "REQUEST_BODY", false;
    RequestBodyLength => "REQUEST_BODY_LENGTH", false;
    FullRequest => "FULL_REQUEST", false;
    FullRequestLength => "FULL_REQUEST_LENGTH", false;
    PathInfo => "PATH_INFO", false;
    Files => "FILES", true;
    FilesNames => "FILES_NAMES", true;
    FilesSizes => "FILES_SIZES", true;
    FilesTmpNames => "FILES_TMPNAMES", true;
    FilesTmpContent => "FILES_TMP_CONTENT", true;
    FilesCombinedSize => "FILES_COMBINED_SIZE", false;
    MultipartPartHeaders => "MULTIPART_PART_HEADERS", true;
    MultipartFilename => "MULTIPART_FILENAME", false;
    MultipartName => "MULTIPART_NAME", false;
    MultipartStrictError => "MULTIPART_STRICT_ERROR", false;
    MultipartUnmatchedBoundary => "MULTIPART_UNMATCHED_BOUNDARY", false;
    MultipartBoundaryQuoted => "MULTIPART_BOUNDARY_QUOTED", false;
    MultipartBoundaryWhitespace => "MULTIPART_BOUNDARY_WHITESPACE", false;
    MultipartDataBefore => "MULTIPART_DATA_BEFORE", false;
    MultipartDataAfter => "MULTIPART_DATA_AFTER", false;
    MultipartHeaderFolding => "MULTIPART_HEADER_FOLDING", false;
    MultipartLfLine => "MULTIPART_LF_LINE", false;
    MultipartCrlfLfLines => "MULTIPART_CRLF_LF_LINES", false;
    MultipartMissingSemicolon => "MULTIPART_MISSING_SEMICOLON", false;
    MultipartInvalidQuoting => "MULTIPART_INVALID_QUOTING", false;
    MultipartInvalidPart => "MULTIPART_INVALID_PART", false;
    MultipartInvalidHeaderFolding => "MULTIPART_INVALID_HEADER_FOLDING", false;
    MultipartFileLimitExceeded => "MULTIPART_FILE_LIMIT_EXCEEDED", false;
    ReqbodyError => "REQBODY_ERROR", false;
    ReqbodyErrorMsg => "REQBODY_ERROR_MSG", false;
    ReqbodyProcessor => "REQBODY_PROCESSOR", false;
    ReqbodyProcessorError => "REQBODY_PROCESSOR_ERROR", false;
    ReqbodyProcessorErrorMsg => "REQBODY_PROCESSOR_ERROR_MSG", false;
    UrlencodedError => "URLENCODED_ERROR", false;
    InboundDataError => "INBOUND_DATA_ERROR", false;
    OutboundDataError => "OUTBOUND_DATA_ERROR", false;
    Xml => "XML", true;
    Tx => "TX", true;
    Ip => "IP", true;
    Global => "GLOBAL", true;
    Session => "SESSION", true;
    User => "USER", true;
    Resource => "RESOURCE", true;
    Geo => "GEO", true;
    Env => "ENV", true;
    Rule => "RULE", true;
    MatchedVar => "MATCHED_VAR", false;
    MatchedVarName => "MATCHED_VAR_NAME", false;
    MatchedVars => "MATCHED_VARS", true;
    MatchedVarsNames => "MATCHED_VARS_NAMES", true;
    ResponseHeaders => "RESPONSE_HEADERS", true;
    ResponseHeadersNames => "RESPONSE_HEADERS_NAMES", true;
    ResponseStatus => "RESPONSE_STATUS", false;
    ResponseProtocol => "RESPONSE_PROTOCOL", false;
    ResponseBody => "RESPONSE_BODY", false;
    ResponseContentType => "RESPONSE_CONTENT_TYPE", false;
    ResponseContentLength => "RESPONSE_CONTENT_LENGTH", false;
    StatusLine => "STATUS_LINE", false;
    RemoteAddr => "REMOTE_ADDR", false;
    RemoteHost => "REMOTE_HOST", false;
    RemotePort => "REMOTE_PORT", false;
    RemoteUser => "REMOTE_USER", false;
    ServerAddr => "SERVER_ADDR", false;
    ServerName => "SERVER_NAME", false;
    ServerPort => "SERVER_PORT", false;
    AuthType => "AUTH_TYPE", false;
    UniqueId => "UNIQUE_ID", false;
    Duration => "DURATION", false;
    HighestSeverity => "HIGHEST_SEVERITY", false;
    WebserverErrorLog => "WEBSERVER_ERROR_LOG", false;
    Time => "TIME", false;
    TimeDay => "TIME_DAY", false;
    TimeEpoch => "TIME_EPOCH", false;
    TimeHour => "TIME_HOUR", false;
    TimeMin => "TIME_MIN", false;
    TimeMon => "TIME_MON", false;
    TimeSec => "TIME_SEC", false;
    TimeWday => "TIME_WDAY", false;
    TimeYear => "TIME_YEAR", false;
}

impl Var {
    /// Persistent-style collections whose keys are set by `setvar`.
    pub fn is_mutable_collection(self) -> bool {
        matches!(
            self,
            Var::Tx | Var::Ip | Var::Global | Var::Session | Var::User | Var::Resource
        )
    }
}

/// Which members of a collection a target names.
#[derive(Debug, Clone)]
pub enum Selector {
    All,
    /// Exact key, compared case-insensitively (stored lowercased).
    Key(Vec<u8>),
    Regex(Regex),
}

impl Selector {
    pub fn matches(&self, key: &[u8]) -> bool {
        match self {
            Selector::All => true,
            Selector::Key(k) => k.eq_ignore_ascii_case(key),
            Selector::Regex(re) => re.is_match(key),
        }
    }
}

impl PartialEq for Selector {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Selector::All, Selector::All) => true,
            (Selector::Key(a), Selector::Key(b)) => a == b,
            (Selector::Regex(a), Selector::Regex(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

/// One entry of a rule's target list.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub var: Var,
    pub selector: Selector,
    /// `&VAR`: the number of values instead of the values.
    pub count: bool,
    /// `!VAR:sel`: removes matching values from the other targets.
    pub exclude: bool,
}

/// Parses a `VAR|!VAR:sel|&VAR` target list.
pub fn parse_targets(text: &str) -> Result<Vec<Target>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        while i < chars.len() && (chars[i] == '|' || chars[i].is_whitespace()) {
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        let mut exclude = false;
        let mut count = false;
        match chars[i] {
            '!' => {
                exclude = true;
                i += 1;
            }
            '&' => {
                count = true;
                i += 1;
            }
            _ => {}
        }
        let name_start = i;
        while i < chars.len() && chars[i] != ':' && chars[i] != '|' {
            i += 1;
        }
        let name: String = chars[name_start..i].iter().collect::<String>();
        let name = name.trim();
        let var = Var::from_name(name).ok_or_else(|| format!("unknown variable `{name}`"))?;
        let mut selector = Selector::All;
        if chars.get(i) == Some(&':') {
            i += 1;
            let raw: String;
            let quoted_regex;
            match chars.get(i) {
                Some('/') if var != Var::Xml => {
                    let start = i + 1;
                    let mut j = start;
                    while j < chars.len() && chars[j] != '/' {
                        if chars[j] == '\\' {
                            j += 1;
                        }
                        j += 1;
                    }
                    raw = chars[start..j.min(chars.len())].iter().collect();
                    i = j + 1;
                    quoted_regex = true;
                }
                Some('\'') => {
                    let start = i + 1;
                    let mut j = start;
                    while j < chars.len() && chars[j] != '\'' {
                        j += 1;
                    }
                    let inner: String = chars[start..j.min(chars.len())].iter().collect();
                    i = j + 1;
                    if inner.len() >= 2 && inner.starts_with('/') && inner.ends_with('/') {
                        raw = inner[1..inner.len() - 1].to_string();
                        quoted_regex = true;
                    } else {
                        raw = inner;
                        quoted_regex = false;
                    }
                }
                _ => {
                    let start = i;
                    while i < chars.len() && chars[i] != '|' {
                        i += 1;
                    }
                    raw = chars[start..i].iter().collect();
                    quoted_regex = false;
                }
            }
            if quoted_regex {
                let (re, _) = crate::regex_compat::compile(&format!("(?i){raw}"))
                    .map_err(|e| format!("bad selector regex /{raw}/: {e}"))?;
                selector = Selector::Regex(re);
            } else if !raw.is_empty() {
                let key = if var == Var::Xml {
                    raw.trim().to_string()
                } else {
                    raw.trim().to_ascii_lowercase()
                };
                selector = Selector::Key(key.into_bytes());
            }
        }
        if !matches!(selector, Selector::All) && !var.is_collection() {
            return Err(format!("variable `{}` takes no selector", var.name()));
        }
        out.push(Target {
            var,
            selector,
            count,
            exclude,
        });
    }
    if out.is_empty() {
        return Err("empty target list".into());
    }
    Ok(out)
}

/// A string with `%{VAR.key}` references, expanded at run time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Macro {
    pub parts: Vec<MacroPart>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MacroPart {
    Literal(Vec<u8>),
    Variable { var: Var, key: Option<Vec<u8>> },
}

impl Macro {
    /// Parses macro text; an unknown variable name is an error.
    pub fn parse(text: &str) -> Result<Macro, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        let mut literal = Vec::new();
        while let Some(start) = rest.find("%{") {
            let Some(end) = rest[start..].find('}') else {
                break;
            };
            literal.extend_from_slice(&rest.as_bytes()[..start]);
            let reference = &rest[start + 2..start + end];
            let (name, key) = match reference.split_once(['.', ':']) {
                Some((n, k)) => (n, Some(k.to_ascii_lowercase().into_bytes())),
                None => (reference, None),
            };
            let var =
                Var::from_name(name).ok_or_else(|| format!("unknown macro variable `{name}`"))?;
            if !literal.is_empty() {
                parts.push(MacroPart::Literal(std::mem::take(&mut literal)));
            }
            parts.push(MacroPart::Variable { var, key });
            rest = &rest[start + end + 1..];
        }
        literal.extend_from_slice(rest.as_bytes());
        if !literal.is_empty() {
            parts.push(MacroPart::Literal(literal));
        }
        Ok(Macro { parts })
    }

    /// The text when it contains no variable.
    pub fn as_literal(&self) -> Option<&[u8]> {
        match self.parts.as_slice() {
            [] => Some(b""),
            [MacroPart::Literal(l)] => Some(l),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_lists() {
        let t = parse_targets(
            "REQUEST_COOKIES|!REQUEST_COOKIES:/__utm/|&ARGS|ARGS:foo|XML:/*|TX:'/^a|b/'",
        )
        .unwrap();
        assert_eq!(t.len(), 6);
        assert!(t[1].exclude);
        assert!(matches!(t[1].selector, Selector::Regex(_)));
        assert!(t[2].count);
        assert_eq!(t[3].selector, Selector::Key(b"foo".to_vec()));
        assert_eq!(t[4].selector, Selector::Key(b"/*".to_vec()));
        assert!(t[5].selector.matches(b"B"));
        assert!(parse_targets("NOPE").is_err());
        assert!(parse_targets("REQUEST_URI:x").is_err());
    }

    #[test]
    fn macros() {
        let m = Macro::parse("a %{tx.Score} b %{MATCHED_VAR}").unwrap();
        assert_eq!(m.parts.len(), 4);
        assert_eq!(
            m.parts[1],
            MacroPart::Variable {
                var: Var::Tx,
                key: Some(b"score".to_vec())
            }
        );
        assert!(Macro::parse("%{nope.x}").is_err());
        assert_eq!(
            Macro::parse("plain").unwrap().as_literal(),
            Some(&b"plain"[..])
        );
    }
}
