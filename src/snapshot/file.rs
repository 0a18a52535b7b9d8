//! The `.snap` file format of insta, written and read by hand: a YAML header between `---`
//! lines (`source`, `description`, `expression`, in insta's order and quoting), then the
//! contents. `cargo insta review` and `cargo insta accept` read what this writes.

use std::path::{Path, PathBuf};

/// A snapshot file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// File system.
    #[error("snapshot {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Not in insta's format.
    #[error("snapshot {0}: not an insta snapshot (expected a `---` header)")]
    Format(PathBuf),
}

/// One snapshot: its header fields and contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapFile {
    /// The case file the snapshot belongs to (insta: the source file).
    pub source: String,
    /// What the snapshot is of (case id and target).
    pub description: String,
    /// The command that made it.
    pub expression: String,
    /// The normalised transcript.
    pub contents: String,
}

impl SnapFile {
    /// The file's text exactly as insta writes it.
    pub fn to_text(&self) -> String {
        let mut out = String::from("---\n");
        for (k, v) in [
            ("source", &self.source),
            ("description", &self.description),
            ("expression", &self.expression),
        ] {
            out.push_str(&format!("{k}: {}\n", yaml_str(v)));
        }
        out.push_str("---\n");
        out.push_str(&normalized(&self.contents));
        out.push('\n');
        out
    }

    /// Parses a file's text (the header fields it knows; the rest is kept out).
    pub fn parse(text: &str) -> Option<SnapFile> {
        let rest = text.strip_prefix("---\n")?;
        let end = rest.find("\n---\n")?;
        let (header, body) = (&rest[..end], &rest[end + 5..]);
        let mut snap = SnapFile {
            source: String::new(),
            description: String::new(),
            expression: String::new(),
            contents: normalized(body),
        };
        for line in header.lines() {
            let Some((k, v)) = line.split_once(": ") else {
                continue;
            };
            let v = unquote(v.trim());
            match k {
                "source" => snap.source = v,
                "description" => snap.description = v,
                "expression" => snap.expression = v,
                _ => {}
            }
        }
        Some(snap)
    }

    /// Reads a snapshot file; `Ok(None)` when it does not exist.
    pub fn read(path: &Path) -> Result<Option<SnapFile>, FileError> {
        match std::fs::read_to_string(path) {
            Ok(text) => SnapFile::parse(&text)
                .map(Some)
                .ok_or_else(|| FileError::Format(path.to_path_buf())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(FileError::Io {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Writes the file, creating its folder.
    pub fn write(&self, path: &Path) -> Result<(), FileError> {
        let io = |source| FileError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        std::fs::write(path, self.to_text()).map_err(io)
    }
}

/// Contents as insta compares them: trailing whitespace trimmed, CRLF as LF.
pub fn normalized(contents: &str) -> String {
    contents.trim_end().replace("\r\n", "\n")
}

/// The pending file beside a snapshot: `x.snap` → `x.snap.new`.
pub fn pending_path(snap: &Path) -> PathBuf {
    let mut p = snap.as_os_str().to_owned();
    p.push(".new");
    PathBuf::from(p)
}

/// A string as insta's YAML emitter writes it: plain when safe, else double-quoted.
fn yaml_str(s: &str) -> String {
    if !needs_quotes(s) {
        return s.to_string();
    }
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x08' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\x0c' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// insta's rule for quoting a YAML string.
fn needs_quotes(s: &str) -> bool {
    s.is_empty()
        || s.starts_with(' ')
        || s.ends_with(' ')
        || s.starts_with(['&', '*', '?', '|', '-', '<', '>', '=', '!', '%', '@'])
        || s.contains(|c: char| {
            matches!(c, ':' | '{' | '}' | '[' | ']' | ',' | '#' | '`' | '"' | '\'' | '\\'
                | '\0'..='\x06' | '\t' | '\n' | '\r' | '\x0e'..='\x1a' | '\x1c'..='\x1f')
        })
        || [
            "yes", "Yes", "YES", "no", "No", "NO", "True", "TRUE", "true", "False", "FALSE",
            "false", "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL", "~",
        ]
        .contains(&s)
        || s.starts_with('.')
        || s.starts_with("0x")
        || s.parse::<i64>().is_ok()
        || s.parse::<f64>().is_ok()
}

fn unquote(v: &str) -> String {
    let Some(inner) = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return v.to_string();
    };
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('b') => out.push('\x08'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                if let Some(c) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    out.push(c);
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_in_insta_layout() {
        let s = SnapFile {
            source: "cases/mqtt/v311/ping.yaml".into(),
            description: "mqtt311.ping against reference: mqtt \"x\"".into(),
            expression: "wirecheck run --target reference".into(),
            contents: "[c]\n>> PINGREQ\n\n".into(),
        };
        let text = s.to_text();
        assert_eq!(
            text,
            "---\nsource: cases/mqtt/v311/ping.yaml\n\
             description: \"mqtt311.ping against reference: mqtt \\\"x\\\"\"\n\
             expression: wirecheck run --target reference\n---\n[c]\n>> PINGREQ\n"
        );
        let back = SnapFile::parse(&text).unwrap();
        assert_eq!(back.description, s.description);
        assert_eq!(back.contents, "[c]\n>> PINGREQ");
        assert_eq!(
            pending_path(Path::new("snapshots/r/a.b.snap")),
            PathBuf::from("snapshots/r/a.b.snap.new")
        );
    }
}
