use std::path::PathBuf;
use thiserror::Error;

/// Where in the description a problem was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecLocation {
    /// File the construct lives in.
    pub file: PathBuf,
    /// JSON pointer inside that file (`/paths/~1pets/get`).
    pub pointer: String,
    /// 1-based line, when it could be located in the source text.
    pub line: Option<usize>,
}

impl std::fmt::Display for SpecLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, " at #{}", self.pointer)
    }
}

/// Why an OpenAPI description could not be loaded.
#[derive(Debug, Error)]
pub enum SpecError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: syntax error{}: {message}", line.map(|l| format!(" at line {l}")).unwrap_or_default())]
    Syntax {
        file: PathBuf,
        line: Option<usize>,
        message: String,
    },
    #[error("{at}: unsupported OpenAPI version `{version}` (3.0.x and 3.1.x are supported)")]
    UnsupportedVersion { at: SpecLocation, version: String },
    #[error("{at}: unresolvable $ref `{reference}`: {reason}")]
    BadReference {
        at: SpecLocation,
        reference: String,
        reason: String,
    },
    #[error("{at}: invalid document: {message}")]
    Invalid { at: SpecLocation, message: String },
    #[error("{at}: unsupported construct `{construct}`: {detail}")]
    Unsupported {
        at: SpecLocation,
        construct: String,
        detail: String,
    },
    #[error("{at}: pattern `{pattern}` cannot run on a linear-time regex engine: {reason}")]
    UnsupportedPattern {
        at: SpecLocation,
        pattern: String,
        reason: String,
    },
}
