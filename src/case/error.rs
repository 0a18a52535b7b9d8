//! Load errors that point into the case file like a compiler error.

use std::fmt;
use std::path::{Path, PathBuf};

/// A place in a source file (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SourceLoc {
    /// The file as the user named it.
    pub path: PathBuf,
    /// 1-based line.
    pub line: u64,
    /// 1-based column.
    pub col: u64,
}

impl fmt::Display for SourceLoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.path.display(), self.line, self.col)
    }
}

/// Why a case file (or a folder of them) could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file or folder could not be read.
    #[error("error: cannot read {path}: {source}")]
    Io {
        /// What we tried to read.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not a valid case; points at the place.
    #[error("{}", render(.message, .loc, .snippet.as_deref()))]
    Invalid {
        /// What is wrong, naming the field.
        message: String,
        /// Where.
        loc: SourceLoc,
        /// The offending source line, when known.
        snippet: Option<String>,
    },
    /// Two cases share an id.
    #[error("error: duplicate case id `{id}`\n  --> {second}\n  first defined at {first}")]
    DuplicateId {
        /// The id.
        id: String,
        /// Where it was first defined.
        first: SourceLoc,
        /// Where it is defined again.
        second: SourceLoc,
    },
}

impl LoadError {
    /// Builds an `Invalid` error at `line:col` of `path`, quoting that line from `source`.
    pub fn at(path: &Path, source: &str, line: u64, col: u64, message: impl Into<String>) -> Self {
        let snippet = if line >= 1 {
            source.lines().nth((line - 1) as usize).map(str::to_string)
        } else {
            None
        };
        LoadError::Invalid {
            message: message.into(),
            loc: SourceLoc {
                path: path.to_path_buf(),
                line: line.max(1),
                col: col.max(1),
            },
            snippet,
        }
    }
}

impl LoadError {
    /// Converts a serde-saphyr error on `source` (read from `path`) into a located error.
    pub fn from_yaml(path: &Path, source: &str, e: &serde_saphyr::Error) -> Self {
        let (line, col) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((1, 1));
        let text = e.without_snippet().to_string();
        let first = text.lines().next().unwrap_or("").trim().to_string();
        // serde-saphyr appends " at line N, column M"; the location line says it already.
        let message = match first.rfind(" at line ") {
            Some(i) => first[..i].to_string(),
            None => first,
        };
        LoadError::at(path, source, line, col, message)
    }
}

fn render(message: &str, loc: &SourceLoc, snippet: Option<&str>) -> String {
    let mut out = format!("error: {message}\n  --> {loc}");
    if let Some(line) = snippet {
        let num = loc.line.to_string();
        let pad = " ".repeat(num.len());
        let caret_pad = " ".repeat(loc.col.saturating_sub(1) as usize);
        out.push_str(&format!("\n{pad} |\n{num} | {line}\n{pad} | {caret_pad}^"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_a_compiler() {
        let e = LoadError::at(
            Path::new("cases/a.yaml"),
            "id: x\nsteps: 3\n",
            2,
            8,
            "invalid type for `steps`",
        );
        let text = e.to_string();
        assert_eq!(
            text,
            "error: invalid type for `steps`\n  --> cases/a.yaml:2:8\n  |\n2 | steps: 3\n  |        ^"
        );
    }
}
