//! Reports: console, JUnit XML, JSON, HTML, and merging the reports of several runs.

pub mod console;
pub mod html;
pub mod json;
pub mod junit;
pub mod merge;

use std::path::{Path, PathBuf};

use crate::run::verdict::Failure;

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// File system.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Serialisation.
    #[error("cannot serialise report: {0}")]
    Serialize(String),
}

/// Writes `bytes` to `path`, creating its folder.
pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let io = |source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    std::fs::write(path, bytes).map_err(io)
}

/// A failure as text, compiler style:
/// `[MQTT-3.8.4-1] packet differs ...` / `--> file:line:col` / expected / actual.
pub fn failure_text(f: &Failure) -> String {
    let mut out = String::new();
    if f.spec.is_empty() {
        out.push_str(&f.message);
    } else {
        out.push_str(&format!("[{}] {}", f.spec.join(", "), f.message));
    }
    if let Some(loc) = &f.location {
        out.push_str(&format!("\n  --> {loc}"));
        if let Some(a) = &f.actor {
            out.push_str(&format!(" (actor {a})"));
        }
    }
    if let Some(e) = &f.expected {
        out.push_str(&format!("\n  expected: {e}"));
    }
    if let Some(a) = &f.actual {
        out.push_str(&format!("\n  actual:   {a}"));
    }
    if let Some(d) = &f.diff {
        for line in d.lines() {
            out.push_str(&format!("\n    {line}"));
        }
    }
    out
}
