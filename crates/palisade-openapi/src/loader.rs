//! Reading description files and resolving JSON References between them.
//!
//! Every file is parsed once into a `serde_json::Value` (YAML mappings with
//! non-string keys, such as `200:` response codes, get their keys stringified).
//! A `$ref` may appear anywhere, including in the middle of a pointer walk
//! (`components.schemas: {$ref: _index.yaml}` makes `#/components/schemas/X`
//! go through another file), so pointer walks follow references they meet.

use crate::error::{SpecError, SpecLocation};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Longest chain of references followed before giving up (cycles of pure refs).
const MAX_REF_HOPS: usize = 64;
/// Bound on the number of files one description may pull in.
const MAX_FILES: usize = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FileId(pub(crate) u32);

/// A place in the loaded documents: a file and a JSON pointer inside it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Loc {
    pub(crate) file: FileId,
    pub(crate) pointer: String,
}

impl Loc {
    pub(crate) fn child(&self, segment: &str) -> Loc {
        let mut pointer = String::with_capacity(self.pointer.len() + segment.len() + 1);
        pointer.push_str(&self.pointer);
        pointer.push('/');
        for ch in segment.chars() {
            match ch {
                '~' => pointer.push_str("~0"),
                '/' => pointer.push_str("~1"),
                c => pointer.push(c),
            }
        }
        Loc {
            file: self.file,
            pointer,
        }
    }

    pub(crate) fn index(&self, index: usize) -> Loc {
        Loc {
            file: self.file,
            pointer: format!("{}/{index}", self.pointer),
        }
    }
}

struct SourceFile {
    path: PathBuf,
    text: String,
    value: Arc<Value>,
}

/// All files of one description, loaded on demand as references reach them.
pub(crate) struct Documents {
    files: Vec<SourceFile>,
    by_path: HashMap<PathBuf, FileId>,
    /// Nesting of `resolve_ref` calls, bounded so reference loops through
    /// pointer walks end in an error instead of exhausting the stack.
    resolving_depth: usize,
}

impl Documents {
    pub(crate) fn from_file(path: &Path) -> Result<Documents, SpecError> {
        let mut docs = Documents {
            files: Vec::new(),
            by_path: HashMap::new(),
            resolving_depth: 0,
        };
        docs.load_file(path)?;
        Ok(docs)
    }

    pub(crate) fn from_text(text: &str, base_dir: &Path) -> Result<Documents, SpecError> {
        let mut docs = Documents {
            files: Vec::new(),
            by_path: HashMap::new(),
            resolving_depth: 0,
        };
        let path = base_dir.join("<inline>");
        let value = parse_text(&path, text)?;
        docs.files.push(SourceFile {
            path: path.clone(),
            text: text.to_owned(),
            value: Arc::new(value),
        });
        docs.by_path.insert(path, FileId(0));
        Ok(docs)
    }

    pub(crate) fn root(&self) -> FileId {
        FileId(0)
    }

    pub(crate) fn file_count(&self) -> usize {
        self.files.len()
    }

    fn load_file(&mut self, path: &Path) -> Result<FileId, SpecError> {
        let canonical = std::fs::canonicalize(path).map_err(|source| SpecError::Io {
            path: path.to_owned(),
            source,
        })?;
        if let Some(id) = self.by_path.get(&canonical) {
            return Ok(*id);
        }
        if self.files.len() >= MAX_FILES {
            return Err(SpecError::Invalid {
                at: SpecLocation {
                    file: canonical,
                    pointer: String::new(),
                    line: None,
                },
                message: format!("more than {MAX_FILES} files referenced"),
            });
        }
        let bytes = std::fs::read(&canonical).map_err(|source| SpecError::Io {
            path: canonical.clone(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|e| SpecError::Syntax {
            file: canonical.clone(),
            line: None,
            message: format!("not UTF-8: {e}"),
        })?;
        let value = parse_text(&canonical, &text)?;
        let id = FileId(self.files.len() as u32);
        self.files.push(SourceFile {
            path: canonical.clone(),
            text,
            value: Arc::new(value),
        });
        self.by_path.insert(canonical, id);
        Ok(id)
    }

    pub(crate) fn file_value(&self, file: FileId) -> Arc<Value> {
        self.files
            .get(file.0 as usize)
            .map(|f| f.value.clone())
            .unwrap_or_else(|| Arc::new(Value::Null))
    }

    /// File and pointer of `loc`, with the line when it can be found.
    pub(crate) fn describe(&self, loc: &Loc) -> SpecLocation {
        let file = self.files.get(loc.file.0 as usize);
        SpecLocation {
            file: file.map(|f| f.path.clone()).unwrap_or_default(),
            pointer: loc.pointer.clone(),
            line: file.and_then(|f| locate_line(&f.text, &loc.pointer)),
        }
    }

    pub(crate) fn invalid(&self, loc: &Loc, message: impl Into<String>) -> SpecError {
        SpecError::Invalid {
            at: self.describe(loc),
            message: message.into(),
        }
    }

    pub(crate) fn unsupported(&self, loc: &Loc, construct: &str, detail: &str) -> SpecError {
        SpecError::Unsupported {
            at: self.describe(loc),
            construct: construct.to_owned(),
            detail: detail.to_owned(),
        }
    }

    /// Resolves a `$ref` string found at `at` to the location it names.
    pub(crate) fn resolve_ref(&mut self, at: &Loc, reference: &str) -> Result<Loc, SpecError> {
        let bad = |docs: &Documents, reason: String| SpecError::BadReference {
            at: docs.describe(at),
            reference: reference.to_owned(),
            reason,
        };
        let (file_part, fragment) = match reference.split_once('#') {
            Some((f, frag)) => (f, frag),
            None => (reference, ""),
        };
        let file = if file_part.is_empty() {
            at.file
        } else {
            if file_part.contains("://") || file_part.starts_with("//") {
                return Err(SpecError::Unsupported {
                    at: self.describe(at),
                    construct: "remote $ref".into(),
                    detail: format!(
                        "`{reference}` points outside the local files; only local and relative-file references are loaded"
                    ),
                });
            }
            let decoded = percent_encoding::percent_decode_str(file_part)
                .decode_utf8()
                .map_err(|e| bad(self, format!("bad percent-encoding: {e}")))?
                .into_owned();
            let base_dir = self
                .files
                .get(at.file.0 as usize)
                .and_then(|f| f.path.parent())
                .map(Path::to_path_buf)
                .unwrap_or_default();
            self.load_file(&base_dir.join(decoded))
                .map_err(|e| bad(self, e.to_string()))?
        };
        let pointer = percent_encoding::percent_decode_str(fragment)
            .decode_utf8()
            .map_err(|e| bad(self, format!("bad percent-encoding: {e}")))?
            .into_owned();
        if !pointer.is_empty() && !pointer.starts_with('/') {
            return Err(SpecError::Unsupported {
                at: self.describe(at),
                construct: "$anchor reference".into(),
                detail: format!("`{reference}`: only JSON-pointer fragments are supported"),
            });
        }
        let target = Loc { file, pointer };
        if self.resolving_depth > MAX_REF_HOPS {
            return Err(bad(self, "reference chain too long or cyclic".into()));
        }
        self.resolving_depth += 1;
        let resolved = self.canonical(&target);
        self.resolving_depth -= 1;
        resolved.map_err(|e| match e {
            SpecError::BadReference { reason, .. } => bad(self, reason),
            SpecError::Invalid { message, .. } => bad(self, message),
            other => other,
        })
    }

    /// Walks `loc`'s pointer from its file's root, following any `$ref` met on
    /// the way, and returns where the walk really ended.
    pub(crate) fn canonical(&mut self, loc: &Loc) -> Result<Loc, SpecError> {
        let segments = split_pointer(&loc.pointer);
        let mut current = Loc {
            file: loc.file,
            pointer: String::new(),
        };
        let mut hops = 0usize;
        let mut next = 0usize;
        loop {
            let file_value = self.file_value(current.file);
            let value = pointer_get(&file_value, &current.pointer).ok_or_else(|| {
                self.invalid(
                    &current,
                    format!("pointer `{}` does not exist", loc.pointer),
                )
            })?;
            if next == segments.len() {
                return Ok(current);
            }
            if let Some(reference) = ref_of(value) {
                hops += 1;
                if hops > MAX_REF_HOPS {
                    return Err(self.invalid(&current, "reference chain too long or cyclic"));
                }
                let reference = reference.to_owned();
                current = self.resolve_ref(&current, &reference)?;
                continue;
            }
            let Some(segment) = segments.get(next) else {
                return Ok(current);
            };
            let exists = match value {
                Value::Object(map) => map.contains_key(segment.as_str()),
                Value::Array(items) => segment
                    .parse::<usize>()
                    .is_ok_and(|index| index < items.len()),
                _ => false,
            };
            if !exists {
                return Err(SpecError::BadReference {
                    at: self.describe(&current),
                    reference: loc.pointer.clone(),
                    reason: format!("no member `{segment}`"),
                });
            }
            current = current.child(segment);
            next += 1;
        }
    }

    /// Follows `$ref` objects starting at `loc` until a non-reference value.
    pub(crate) fn deref(&mut self, loc: &Loc) -> Result<(Loc, Arc<Value>), SpecError> {
        let mut current = self.canonical(loc)?;
        for _ in 0..MAX_REF_HOPS {
            let file_value = self.file_value(current.file);
            let reference = match pointer_get(&file_value, &current.pointer) {
                Some(value) => ref_of(value).map(str::to_owned),
                None => return Err(self.invalid(&current, "pointer does not exist")),
            };
            match reference {
                Some(reference) => current = self.resolve_ref(&current, &reference)?,
                None => return Ok((current, file_value)),
            }
        }
        Err(self.invalid(loc, "reference chain too long or cyclic"))
    }
}

/// The `$ref` string of a reference object.
pub(crate) fn ref_of(value: &Value) -> Option<&str> {
    value.as_object()?.get("$ref")?.as_str()
}

pub(crate) fn split_pointer(pointer: &str) -> Vec<String> {
    if pointer.is_empty() {
        return Vec::new();
    }
    pointer
        .trim_start_matches('/')
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// Direct pointer lookup, no reference following.
pub(crate) fn pointer_get<'v>(root: &'v Value, pointer: &str) -> Option<&'v Value> {
    if pointer.is_empty() {
        return Some(root);
    }
    let mut current = root;
    for segment in split_pointer(pointer) {
        current = match current {
            Value::Object(map) => map.get(&segment)?,
            Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

fn parse_text(path: &Path, text: &str) -> Result<Value, SpecError> {
    let looks_json = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        || text.trim_start().starts_with('{');
    if looks_json {
        match serde_json::from_str::<Value>(text) {
            Ok(v) => return Ok(v),
            Err(e) if path.extension().is_some_and(|e| e == "json") => {
                return Err(SpecError::Syntax {
                    file: path.to_owned(),
                    line: Some(e.line()),
                    message: e.to_string(),
                })
            }
            Err(_) => {}
        }
    }
    let yaml: serde_yaml::Value = match serde_yaml::from_str(text) {
        Ok(v) => v,
        // The YAML reader cannot hold integers beyond 64 bits; read them as floats.
        Err(e) if e.to_string().contains("as u128") || e.to_string().contains("as i128") => {
            serde_yaml::from_str(&widen_big_integers(text)).map_err(|e| SpecError::Syntax {
                file: path.to_owned(),
                line: e.location().map(|l| l.line()),
                message: e.to_string(),
            })?
        }
        Err(e) => {
            return Err(SpecError::Syntax {
                file: path.to_owned(),
                line: e.location().map(|l| l.line()),
                message: e.to_string(),
            })
        }
    };
    yaml_to_json(yaml, 0).map_err(|message| SpecError::Syntax {
        file: path.to_owned(),
        line: None,
        message,
    })
}

/// Appends `.0` to plain integer scalars of 20 digits or more, line by line.
fn widen_big_integers(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let ending = line.get(body.len()..).unwrap_or("");
        let scalar_start = body.rfind(": ").map(|i| i + 2).or_else(|| {
            body.trim_start()
                .starts_with("- ")
                .then(|| body.len() - body.trim_start().len() + 2)
        });
        let widened = scalar_start.and_then(|start| {
            let scalar = body.get(start..)?.trim();
            let digits = scalar.strip_prefix('-').unwrap_or(scalar);
            (digits.len() >= 20 && digits.bytes().all(|b| b.is_ascii_digit()))
                .then(|| format!("{}{}.0", body.get(..start).unwrap_or(""), scalar))
        });
        out.push_str(widened.as_deref().unwrap_or(body));
        out.push_str(ending);
    }
    out
}

fn yaml_to_json(value: serde_yaml::Value, depth: usize) -> Result<Value, String> {
    if depth > 512 {
        return Err("YAML nested too deeply".into());
    }
    Ok(match value {
        serde_yaml::Value::Null => Value::Null,
        serde_yaml::Value::Bool(b) => Value::Bool(b),
        serde_yaml::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .unwrap_or(Value::Null)
            }
        }
        serde_yaml::Value::String(s) => Value::String(s),
        serde_yaml::Value::Sequence(items) => Value::Array(
            items
                .into_iter()
                .map(|v| yaml_to_json(v, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        serde_yaml::Value::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = match k {
                    serde_yaml::Value::String(s) => s,
                    serde_yaml::Value::Number(n) => n.to_string(),
                    serde_yaml::Value::Bool(b) => b.to_string(),
                    serde_yaml::Value::Null => "null".to_owned(),
                    _ => return Err("mapping key is not a scalar".into()),
                };
                out.insert(key, yaml_to_json(v, depth + 1)?);
            }
            Value::Object(out)
        }
        serde_yaml::Value::Tagged(tagged) => yaml_to_json(tagged.value, depth + 1)?,
    })
}

/// Best-effort line of `pointer` in a YAML or JSON source: finds each
/// segment's key in turn, each search starting where the previous key was.
fn locate_line(text: &str, pointer: &str) -> Option<usize> {
    let mut position = 0usize;
    for segment in split_pointer(pointer) {
        if segment.parse::<usize>().is_ok() {
            continue;
        }
        let rest = text.get(position..)?;
        let quoted = format!("\"{segment}\"");
        let plain = format!("{segment}:");
        let mut found = None;
        for candidate in [quoted.as_str(), plain.as_str()] {
            let mut from = 0usize;
            while let Some(offset) = rest.get(from..).and_then(|r| r.find(candidate)) {
                let at = from + offset;
                let before = rest.get(..at).and_then(|b| b.chars().last());
                let boundary = matches!(
                    before,
                    None | Some(' ' | '\n' | '\t' | '{' | ',' | '\'' | '"' | '-')
                );
                if boundary {
                    found = Some(found.map_or(at, |f: usize| f.min(at)));
                    break;
                }
                from = at + 1;
            }
        }
        position += found?;
        position += 1;
    }
    Some(text.get(..position)?.matches('\n').count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_located_in_yaml_and_json() {
        let yaml = "openapi: 3.0.0\npaths:\n  /a:\n    get:\n      responses: {}\n";
        assert_eq!(locate_line(yaml, "/paths/~1a/get"), Some(4));
        let json = "{\n \"paths\": {\n  \"/a\": {\n   \"get\": {}\n  }\n }\n}";
        assert_eq!(locate_line(json, "/paths/~1a/get"), Some(4));
    }

    #[test]
    fn yaml_integer_keys_become_strings() {
        let v = parse_text(
            Path::new("x.yaml"),
            "responses:\n  200:\n    description: ok\n",
        )
        .unwrap();
        assert!(v["responses"]["200"].is_object());
    }
}
