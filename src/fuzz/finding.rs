//! Findings: a failure the oracles saw, written as a case that replays the iteration's messages
//! raw (`send: {bytes}` / `send: {text}`, logins kept as `login` steps), reads each actor's
//! answers (`drain`, so the always-on checks judge them) and ends with a probe session, plus
//! the campaign's findings.json summary.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::FuzzError;
use super::mutate::{Sent, Wire};
use crate::case::{Case, Protocol, Step};

/// The actor of the probe session at the end of a finding case.
pub const PROBE_ACTOR: &str = "fuzz_probe";

/// How long a finding case reads the sender's answers after each message.
const SETTLE: &str = "20ms";

/// How long it reads every actor's answers after the last message.
const LAST_DRAIN: &str = "100ms";

/// One deduplicated finding.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// crash, hang, liveness, rss or spec.
    pub oracle: String,
    /// What the oracle saw: exit status or signal, probe error, violation ids.
    pub signature: String,
    /// The campaign seed.
    pub seed: u64,
    /// The iteration (rerun alone with `--seed S --iterations 1` after skipping to it: seed + iteration).
    pub iteration: u64,
    /// The seed case.
    pub case: String,
    /// Mutators applied in the minimised case.
    pub mutators: Vec<String>,
    /// Messages in the finding case.
    pub messages: usize,
    /// Whether the written case was seen to reproduce the failure.
    pub reproduced: bool,
    /// The case file.
    pub file: PathBuf,
    /// Seconds from the campaign's start until the finding was written.
    pub after_s: f64,
}

/// The YAML text of a case replaying `sent` (in order) from seed case `seed`.
pub fn case_yaml(id: &str, title: &str, seed: &Case, sent: &[Sent]) -> String {
    let mut actors: Vec<&str> = Vec::new();
    for s in sent {
        if s.actor != "cleanup" && !actors.contains(&s.actor.as_str()) {
            actors.push(&s.actor);
        }
    }
    let mut y = String::new();
    let _ = writeln!(y, "id: {id}");
    let _ = writeln!(
        y,
        "title: {}",
        serde_json::to_string(title).unwrap_or_default()
    );
    let _ = writeln!(y, "protocol: {}", seed.protocol);
    if let Some(v) = &seed.version {
        let _ = writeln!(y, "version: \"{v}\"");
    }
    let _ = writeln!(
        y,
        "spec: [{}]",
        seed.spec
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(y, "tags: [fuzz]");
    let _ = writeln!(
        y,
        "snapshot_skip: \"a fuzzer finding: raw replay of mutated messages\""
    );
    let _ = writeln!(y, "actors:");
    for a in actors.iter().chain([&PROBE_ACTOR]) {
        let _ = writeln!(y, "  {a}: {{}}");
    }
    let _ = writeln!(y, "steps:");
    let mut logged_in: Vec<usize> = Vec::new();
    for s in sent.iter().filter(|s| s.actor != "cleanup") {
        let login_step = s.step.filter(|i| {
            seed.protocol == Protocol::Xmpp
                && matches!(seed.steps.get(*i).map(|c| &c.step), Some(Step::Login(_)))
        });
        if let Some(i) = login_step {
            if !logged_in.contains(&i) {
                logged_in.push(i);
                let _ = writeln!(y, "  - login: {}", s.actor);
            }
            continue;
        }
        let Some(wire) = &s.wire else { continue };
        match wire {
            Wire::Bytes(b) => {
                let _ = writeln!(
                    y,
                    "  - send: {{ actor: {}, bytes: \"{}\" }}",
                    s.actor,
                    hex::encode(b)
                );
            }
            Wire::Text(t) => {
                let _ = writeln!(
                    y,
                    "  - send: {{ actor: {}, text: {} }}",
                    s.actor,
                    serde_json::to_string(t).unwrap_or_default()
                );
            }
        }
        let _ = writeln!(y, "  - drain: {{ actor: {}, for: {SETTLE} }}", s.actor);
    }
    for a in &actors {
        let _ = writeln!(y, "  - drain: {{ actor: {a}, for: {LAST_DRAIN} }}");
    }
    match seed.protocol {
        Protocol::Mqtt => {
            let _ = writeln!(y, "  - connect: {PROBE_ACTOR}");
        }
        Protocol::Xmpp => {
            let _ = writeln!(y, "  - login: {PROBE_ACTOR}");
        }
    }
    let _ = writeln!(y, "  - disconnect: {PROBE_ACTOR}");
    y
}

/// Writes a finding case under `dir`; returns its path.
pub fn write_case(dir: &Path, name: &str, yaml: &str) -> Result<PathBuf, FuzzError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| FuzzError::Write(format!("{}: {e}", dir.display())))?;
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, yaml)
        .map_err(|e| FuzzError::Write(format!("{}: {e}", path.display())))?;
    Ok(path)
}

/// Writes findings.json under `dir`.
pub fn write_summary(dir: &Path, findings: &[Finding]) -> Result<PathBuf, FuzzError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| FuzzError::Write(format!("{}: {e}", dir.display())))?;
    let path = dir.join("findings.json");
    let text =
        serde_json::to_string_pretty(findings).map_err(|e| FuzzError::Write(e.to_string()))?;
    std::fs::write(&path, text)
        .map_err(|e| FuzzError::Write(format!("{}: {e}", path.display())))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finding_case_loads_and_replays_the_bytes() {
        let seed = crate::case::load_str(
            Path::new("s.yaml"),
            "id: s\ntitle: t\nprotocol: mqtt\nversion: \"5.0\"\nspec: [MQTT-3.8.4-3]\nactors: { a: {} }\nsteps:\n  - connect: a\n",
        )
        .unwrap();
        let sent = vec![Sent {
            actor: "a".into(),
            step: Some(0),
            wire: Some(Wire::Bytes(vec![0x10, 0x00])),
            mutator: Some("length-zero".into()),
            kind: "CONNECT".into(),
            at: std::time::Instant::now(),
        }];
        let y = case_yaml("fuzz.crash.x", "a crash", &seed, &sent);
        let case =
            crate::case::load_str(Path::new("f.yaml"), &y).unwrap_or_else(|e| panic!("{e}\n{y}"));
        assert_eq!(case.actors.len(), 2);
        assert!(y.contains("bytes: \"1000\""), "{y}");
        assert!(y.contains("drain: { actor: a, for: 100ms }"), "{y}");
    }
}
