//! Reads case files and folders into validated [`Case`]s, with file:line:col errors.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::{LoadError, SourceLoc};
use super::model::{ActorDoc, CaseDoc, Protocol, Step};
use super::{source, validate};
use crate::spec::SpecSet;

/// A loaded, validated case.
#[derive(Debug, Clone)]
pub struct Case {
    /// The file, as found from the paths the user gave.
    pub path: PathBuf,
    /// Unique id.
    pub id: String,
    /// One-line title.
    pub title: String,
    /// Protocol.
    pub protocol: Protocol,
    /// MQTT version string ("3.1.1"), if MQTT.
    pub version: Option<String>,
    /// The statements the case checks.
    pub spec: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Capabilities the target must have.
    pub requires: Vec<crate::capability::Capability>,
    /// Default deadline for waits, if the case sets one.
    pub timeout: Option<Duration>,
    /// Actors by name.
    pub actors: BTreeMap<String, ActorDoc>,
    /// Steps with their places in the file.
    pub steps: Vec<CaseStep>,
    /// Where the `id:` value is (for reports).
    pub loc: SourceLoc,
    /// Extra snapshot redactions of this case (after the profile's).
    pub snapshot_redact: Vec<crate::snapshot::RedactDoc>,
    /// Why the case has no snapshot, if it has none.
    pub snapshot_skip: Option<String>,
}

impl Case {
    /// How many accounts the case leases: one per actor, except actors that share another's.
    pub fn accounts_needed(&self) -> usize {
        self.actors
            .values()
            .filter(|a| a.same_account_as.is_none())
            .count()
    }

    /// The statement list this case's ids belong to.
    pub fn spec_set(&self) -> SpecSet {
        spec_set(self.protocol, self.version.as_deref())
    }

    /// `mqtt/v311` or `xmpp`: the group used as JUnit classname.
    pub fn group(&self) -> String {
        match (self.protocol, self.version.as_deref()) {
            (Protocol::Mqtt, Some("5.0")) => "mqtt.v5".into(),
            (Protocol::Mqtt, _) => "mqtt.v311".into(),
            (Protocol::Xmpp, _) => "xmpp".into(),
        }
    }
}

/// One step and where it is written.
#[derive(Debug, Clone)]
pub struct CaseStep {
    /// The step.
    pub step: Step,
    /// Its place in the case file.
    pub loc: SourceLoc,
}

/// The spec list for a protocol and version.
pub fn spec_set(protocol: Protocol, version: Option<&str>) -> SpecSet {
    match (protocol, version) {
        (Protocol::Mqtt, Some("5.0")) => SpecSet::Mqtt50,
        (Protocol::Mqtt, _) => SpecSet::Mqtt311,
        (Protocol::Xmpp, _) => SpecSet::Xmpp,
    }
}

/// Largest case file accepted (a bound against accidents, not a limit anyone should meet).
pub const MAX_CASE_BYTES: u64 = 4 * 1024 * 1024;

/// Loads one case file.
pub fn load_file(path: &Path) -> Result<Case, LoadError> {
    let source = read_source(path, MAX_CASE_BYTES, "case")?;
    load_str(path, &source)
}

/// Reads a regular UTF-8 text file of at most `limit` bytes; `what` names the kind of file.
pub fn read_source(path: &Path, limit: u64, what: &'static str) -> Result<String, LoadError> {
    let bytes = source::read_regular_file(path, limit, what)?;
    source::utf8_text(bytes)
        .map_err(|bad| LoadError::at(path, &bad.valid_prefix, bad.line, bad.col, bad.message()))
}

/// Parses and validates case text as if read from `path`.
pub fn load_str(path: &Path, source: &str) -> Result<Case, LoadError> {
    let doc: CaseDoc = parse_yaml(path, source, "case file")?;
    validate::validate(path, source, doc)
}

/// Deserializes one YAML document (a case or a profile; `kind` names it in messages) with
/// strict booleans, refusing YAML tags; errors point into the file.
pub fn parse_yaml<T: serde::de::DeserializeOwned>(
    path: &Path,
    source: &str,
    kind: &str,
) -> Result<T, LoadError> {
    let options = serde_saphyr::options! {
        strict_booleans: true,
        with_snippet: false,
    };
    let parsed = serde_saphyr::from_str_with_options(source, options)
        .map_err(|e| LoadError::from_yaml(path, source, &e, kind));
    // Tags are checked only on text that parses: a syntax error is the better message.
    let value = parsed?;
    reject_tags(path, source, kind)?;
    Ok(value)
}

/// Refuses explicit YAML tags (`!!binary`, `!!str`, `!custom`): no case or profile needs them, and
/// `!!binary` silently turns text into other bytes.
fn reject_tags(path: &Path, source: &str, kind: &str) -> Result<(), LoadError> {
    use serde_saphyr::granit_parser::{Event, Parser};
    for item in Parser::new_from_str(source) {
        let Ok((event, span)) = item else {
            return Ok(());
        };
        let tagged = match &event {
            Event::Scalar(_, _, _, tag) => tag.is_some(),
            Event::SequenceStart(_, _, tag) | Event::MappingStart(_, _, tag) => tag.is_some(),
            _ => false,
        };
        if tagged {
            let at = span.tag_start.unwrap_or(span.start);
            let line = at.line() as u64;
            let col = at.col() as u64 + 1;
            let token: String = source
                .lines()
                .nth(line.saturating_sub(1) as usize)
                .unwrap_or("")
                .chars()
                .skip(at.col())
                .take_while(|c| !c.is_whitespace())
                .take(40)
                .collect();
            return Err(LoadError::at(
                path,
                source,
                line,
                col,
                format!(
                    "YAML tag `{token}` is not used in a {kind}: write the value as plain text (quote it if it looks like a number)"
                ),
            ));
        }
    }
    Ok(())
}

/// Expands files and folders into case files (`*.yaml`, `*.yml`), sorted, README excluded.
/// A folder reached twice (a symlink loop, or a link to a folder already walked) is walked once.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, LoadError> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|source| LoadError::Io {
            path: p.clone(),
            source,
        })?;
        if meta.is_dir() {
            walk(p, &mut out, &mut seen)?;
        } else {
            out.push(p.clone());
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, seen: &mut HashSet<PathBuf>) -> Result<(), LoadError> {
    let io = |source| LoadError::Io {
        path: dir.to_path_buf(),
        source,
    };
    if !seen.insert(std::fs::canonicalize(dir).map_err(io)?) {
        return Ok(());
    }
    let rd = std::fs::read_dir(dir).map_err(io)?;
    for entry in rd {
        let entry = entry.map_err(io)?;
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out, seen)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml") | Some("yml")
        ) {
            out.push(path);
        }
    }
    Ok(())
}

/// Loads every case under `paths`; all errors are collected, ids must be unique.
pub fn load_all(paths: &[PathBuf]) -> Result<Vec<Case>, Vec<LoadError>> {
    let files = discover(paths).map_err(|e| vec![e])?;
    let mut cases = Vec::new();
    let mut errors = Vec::new();
    let mut seen: HashMap<String, SourceLoc> = HashMap::new();
    for f in files {
        match load_file(&f) {
            Ok(c) => {
                if let Some(first) = seen.get(&c.id) {
                    errors.push(LoadError::DuplicateId {
                        id: c.id.clone(),
                        first: first.clone(),
                        second: c.loc.clone(),
                    });
                } else {
                    seen.insert(c.id.clone(), c.loc.clone());
                    cases.push(c);
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(cases)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"id: mqtt311.sample
title: sample
protocol: mqtt
version: "3.1.1"
spec: [MQTT-3.1.0-1]
actors: { sub: {} }
steps:
  - connect: sub
  - send: { actor: sub, packet: { type: pingreq } }
  - expect: { actor: sub, packet: { type: pingresp } }
  - expect_none: { actor: sub, for: 300ms }
  - disconnect: sub
"#;

    fn err(text: &str) -> String {
        load_str(Path::new("c.yaml"), text).unwrap_err().to_string()
    }

    #[test]
    fn loads_a_case_with_step_locations() {
        let c = load_str(Path::new("c.yaml"), GOOD).unwrap();
        assert_eq!(c.id, "mqtt311.sample");
        assert_eq!(c.steps.len(), 5);
        assert_eq!((c.steps[0].loc.line, c.steps[0].loc.col), (8, 5));
        assert_eq!((c.steps[2].loc.line, c.steps[2].loc.col), (10, 5));
    }

    #[test]
    fn unknown_field_names_place_and_field() {
        let e = err(&GOOD.replace("for: 300ms", "fro: 300ms"));
        assert!(e.contains("c.yaml:11:"), "{e}");
        assert!(e.contains("fro"), "{e}");
    }

    #[test]
    fn wrong_type_and_bad_indentation() {
        let e = err(&GOOD.replace("steps:\n", "steps: 3\n"));
        assert!(e.contains("c.yaml:"), "{e}");
        let e = err(&GOOD.replace("actors: { sub: {} }", "actors:\n sub: {}\n  x: 1"));
        assert!(e.contains("c.yaml:"), "{e}");
    }

    #[test]
    fn semantic_errors_point_at_the_step() {
        let e = err(&GOOD.replace("actor: sub, for", "actor: pub, for"));
        assert!(
            e.contains("c.yaml:11:5") && e.contains("unknown actor `pub`"),
            "{e}"
        );
        let e = err(&GOOD.replace("MQTT-3.1.0-1", "MQTT-9.9.9-9"));
        assert!(e.contains("not a MQTT 3.1.1 statement id"), "{e}");
        let e = err(&GOOD.replace("  - connect: sub\n", "  - login: sub\n"));
        assert!(e.contains("`login` is for xmpp cases"), "{e}");
    }
}
