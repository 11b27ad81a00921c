//! SecLang configuration syntax: logical lines, quoting and `Include`.
//!
//! The rules follow the Apache configuration reader ModSecurity relies on:
//! a line whose last non-blank character is `\` continues on the next line
//! (the backslash is dropped, the next line's leading blanks are kept); lines
//! starting with `#` are comments; arguments are separated by blanks and may be
//! quoted with `"` or `'`. As in Apache's reader, a backslash escapes only
//! a backslash or the quote character (`\\` becomes `\`, `\"` becomes `"`);
//! every other backslash is kept verbatim, which is what regular expressions
//! need.

use crate::LoadError;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One directive as written, before interpretation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub name: String,
    pub args: Vec<String>,
    pub file: Arc<Path>,
    pub line: usize,
}

impl Directive {
    pub fn location(&self) -> String {
        format!("{}:{}", self.file.display(), self.line)
    }
}

/// Deepest `Include` nesting accepted (guards against include cycles).
const MAX_INCLUDE_DEPTH: usize = 16;

/// Parses SecLang text into directives. `Include` is not followed here.
pub fn parse_text(text: &str, file: &Arc<Path>) -> Result<Vec<Directive>, LoadError> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text.split('\n').collect();
    let mut index = 0;
    while index < lines.len() {
        let start_line = index + 1;
        let mut logical = String::new();
        loop {
            let raw = lines.get(index).copied().unwrap_or("");
            index += 1;
            let trimmed = raw.trim_end_matches(['\r', ' ', '\t']);
            if let Some(body) = trimmed.strip_suffix('\\') {
                logical.push_str(body);
                if index >= lines.len() {
                    break;
                }
            } else {
                logical.push_str(trimmed);
                break;
            }
        }
        let content = logical.trim_start();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let words = split_words(content).map_err(|msg| LoadError::Syntax {
            location: format!("{}:{}", file.display(), start_line),
            message: msg,
        })?;
        let mut words = words.into_iter();
        let Some(name) = words.next() else { continue };
        out.push(Directive {
            name,
            args: words.collect(),
            file: file.clone(),
            line: start_line,
        });
    }
    Ok(out)
}

/// Splits a logical line into words, honouring quotes.
pub fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        let mut word = String::new();
        if first == '"' || first == '\'' {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                if c == '\\' && (chars.peek() == Some(&first) || chars.peek() == Some(&'\\')) {
                    word.extend(chars.next());
                } else if c == first {
                    closed = true;
                    break;
                } else {
                    word.push(c);
                }
            }
            if !closed {
                return Err(format!("unterminated {first} quote"));
            }
            // A quoted word must be followed by a blank or the end of the line.
            if chars.peek().is_some_and(|c| !c.is_whitespace()) {
                return Err(format!("unexpected text after closing {first} quote"));
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                chars.next();
                if c == '\\' && chars.peek() == Some(&'\\') {
                    chars.next();
                }
                word.push(c);
            }
        }
        words.push(word);
    }
    Ok(words)
}

/// Reads `path` and every file it includes, in order.
pub fn load_file(path: &Path) -> Result<Vec<Directive>, LoadError> {
    let mut out = Vec::new();
    load_into(path, 0, &mut out, None)?;
    Ok(out)
}

fn load_into(
    path: &Path,
    depth: usize,
    out: &mut Vec<Directive>,
    from: Option<&Directive>,
) -> Result<(), LoadError> {
    if depth > MAX_INCLUDE_DEPTH {
        return Err(LoadError::Syntax {
            location: from.map(Directive::location).unwrap_or_default(),
            message: format!("Include nested deeper than {MAX_INCLUDE_DEPTH} levels"),
        });
    }
    let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        location: from.map(Directive::location),
        source,
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let file: Arc<Path> = Arc::from(path);
    for directive in parse_text(&text, &file)? {
        let lowered = directive.name.to_ascii_lowercase();
        if lowered == "include" || lowered == "includeoptional" {
            let optional = lowered == "includeoptional";
            let Some(pattern) = directive.args.first() else {
                return Err(LoadError::Syntax {
                    location: directive.location(),
                    message: "Include needs a path".into(),
                });
            };
            let resolved = resolve_relative(path, pattern);
            let files = expand_glob(&resolved, &directive)?;
            if files.is_empty() && !optional && !has_glob_chars(pattern) {
                return Err(LoadError::Io {
                    path: resolved,
                    location: Some(directive.location()),
                    source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
                });
            }
            for file in files {
                load_into(&file, depth + 1, out, Some(&directive))?;
            }
        } else {
            out.push(directive);
        }
    }
    Ok(())
}

fn has_glob_chars(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

/// Resolves `target` against the directory of the file that names it.
pub fn resolve_relative(including_file: &Path, target: &str) -> PathBuf {
    let target_path = Path::new(target);
    if target_path.is_absolute() {
        return target_path.to_path_buf();
    }
    including_file
        .parent()
        .map(|dir| dir.join(target_path))
        .unwrap_or_else(|| target_path.to_path_buf())
}

fn expand_glob(pattern: &Path, directive: &Directive) -> Result<Vec<PathBuf>, LoadError> {
    let text = pattern.to_string_lossy();
    if !has_glob_chars(&text) {
        return Ok(if pattern.exists() {
            vec![pattern.to_path_buf()]
        } else {
            Vec::new()
        });
    }
    let entries = glob::glob(&text).map_err(|e| LoadError::Syntax {
        location: directive.location(),
        message: format!("bad Include pattern: {e}"),
    })?;
    let mut files: Vec<PathBuf> = entries.filter_map(Result::ok).collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Vec<Directive> {
        parse_text(text, &Arc::from(Path::new("t.conf"))).unwrap()
    }

    #[test]
    fn continuation_and_quotes() {
        let d = parse("# c\nSecRule ARGS \"@rx a\\\"b\\\\d\" \\\n    \"id:1,\\\n    pass\"\n");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].name, "SecRule");
        assert_eq!(d[0].args[0], "ARGS");
        assert_eq!(d[0].args[1], "@rx a\"b\\d");
        assert_eq!(d[0].args[2], "id:1,    pass");
        assert_eq!(d[0].line, 2);
    }

    #[test]
    fn single_quotes_and_comments() {
        let d = parse("  # comment\n\nSecMarker 'END-X'\nSecRuleEngine On\r\n");
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].args, vec!["END-X"]);
        assert_eq!(d[1].line, 4);
        assert_eq!(d[1].args, vec!["On"]);
    }

    #[test]
    fn unterminated_quote_is_located() {
        let err =
            parse_text("\nSecRule ARGS \"@rx a", &Arc::from(Path::new("x.conf"))).unwrap_err();
        assert!(err.to_string().contains("x.conf:2"), "{err}");
    }
}
