//! Joining the reports of several runs (the `--partition` shards of one suite, or several
//! targets) into one: JUnit XML into JUnit, JSON into JSON, totals recomputed, every case kept
//! once and cases of different targets kept apart.
//!
//! A case is known by (target, group, id). The same case in two inputs of the same kind is
//! accepted only when both give the same outcome (verdict, reason and failure messages: a re-run
//! of a shard), and it is kept once; otherwise the inputs contradict each other. A JUnit and a
//! JSON input may describe the same run; they must then agree on each shared case's verdict.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use quick_junit::{Report, TestCase, TestCaseStatus, TestSuite};

use crate::case::source::{SourceError, read_regular_file};
use crate::run::verdict::{Totals, Verdict};

use super::json::FORMAT;
use super::junit::{NAME_PREFIX, verdict_of};

/// Largest input report accepted, in bytes.
pub const MAX_INPUT_BYTES: u64 = 256 * 1024 * 1024;

/// Why inputs could not be merged (every one is bad input).
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// Missing, unreadable, special or too large.
    #[error("{0}")]
    Read(#[from] SourceError),
    /// Neither XML nor JSON.
    #[error(
        "{0}: neither a JUnit XML report nor a JSON report (expected `<` or `{{` as its first character)"
    )]
    UnknownKind(PathBuf),
    /// Not UTF-8, or not well-formed XML / JSON.
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong there.
        message: String,
    },
    /// Well-formed, but not a report wirecheck wrote.
    #[error("{path}: not a wirecheck {kind} report: {message}")]
    Shape {
        /// The file.
        path: PathBuf,
        /// `JUnit` or `JSON`.
        kind: &'static str,
        /// What is missing or wrong.
        message: String,
    },
    /// The same case with different outcomes in two inputs.
    #[error(
        "case {case} is in {first} ({first_outcome}) and in {second} ({second_outcome}): the inputs contradict each other; merge the reports of one run per shard and target"
    )]
    Conflict {
        /// target/group/id.
        case: String,
        /// The first file holding it.
        first: PathBuf,
        /// Its outcome there.
        first_outcome: String,
        /// The second file.
        second: PathBuf,
        /// Its outcome there.
        second_outcome: String,
    },
}

/// One loaded input report.
pub enum Input {
    /// A JUnit XML report.
    Junit {
        /// Its file.
        path: PathBuf,
        /// Its content.
        report: Report,
    },
    /// A JSON report (format 2).
    Json {
        /// Its file.
        path: PathBuf,
        /// Its target name.
        target: String,
        /// Its run id.
        run_id: String,
        /// Its cases, as written.
        cases: Vec<serde_json::Map<String, serde_json::Value>>,
    },
}

/// Reads and parses one input; its kind is told by its first character.
pub fn load(path: &Path) -> Result<Input, MergeError> {
    let bytes = read_regular_file(path, MAX_INPUT_BYTES, "report")?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        syntax(path, e.as_bytes(), offset, "not UTF-8 text".into())
    })?;
    match text.trim_start().chars().next() {
        Some('<') => load_junit(path, &text),
        Some('{') => load_json(path, &text),
        _ => Err(MergeError::UnknownKind(path.to_path_buf())),
    }
}

fn syntax(path: &Path, text: &[u8], offset: usize, message: String) -> MergeError {
    let before = &text[..offset.min(text.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    MergeError::Syntax {
        path: path.to_path_buf(),
        line,
        column,
        message,
    }
}

fn load_junit(path: &Path, text: &str) -> Result<Input, MergeError> {
    // quick-junit's reader says what is wrong but not where: a well-formedness pass first.
    let mut reader = quick_xml::Reader::from_str(text);
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => {
                let at = usize::try_from(reader.error_position()).unwrap_or(usize::MAX);
                return Err(syntax(
                    path,
                    text.as_bytes(),
                    at,
                    format!("not well-formed XML: {e}"),
                ));
            }
        }
    }
    let report = Report::deserialize_from_str(text).map_err(|e| MergeError::Shape {
        path: path.to_path_buf(),
        kind: "JUnit",
        message: e.to_string(),
    })?;
    Ok(Input::Junit {
        path: path.to_path_buf(),
        report,
    })
}

fn load_json(path: &Path, text: &str) -> Result<Input, MergeError> {
    let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| MergeError::Syntax {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: format!("not valid JSON: {e}"),
    })?;
    let shape = |message: String| MergeError::Shape {
        path: path.to_path_buf(),
        kind: "JSON",
        message,
    };
    if doc["format"].as_u64() != Some(u64::from(FORMAT)) {
        return Err(shape(format!(
            "`format` is {}, expected {FORMAT}",
            doc["format"]
        )));
    }
    let target = doc["target"]
        .as_str()
        .ok_or_else(|| shape("no `target` name".into()))?
        .to_string();
    let run_id = doc["run_id"].as_str().unwrap_or_default().to_string();
    let Some(items) = doc["cases"].as_array() else {
        return Err(shape("no `cases` list".into()));
    };
    let mut cases = Vec::with_capacity(items.len());
    for (i, c) in items.iter().enumerate() {
        let Some(map) = c.as_object() else {
            return Err(shape(format!("cases[{i}] is not an object")));
        };
        for field in ["id", "group", "verdict"] {
            if !map.get(field).is_some_and(|v| v.is_string()) {
                return Err(shape(format!("cases[{i}] has no `{field}` text")));
            }
        }
        if verdict_named(map["verdict"].as_str().unwrap_or_default()).is_none() {
            return Err(shape(format!(
                "cases[{i}]: unknown verdict {}",
                map["verdict"]
            )));
        }
        cases.push(map.clone());
    }
    Ok(Input::Json {
        path: path.to_path_buf(),
        target,
        run_id,
        cases,
    })
}

/// The verdict with this lower-case name.
fn verdict_named(name: &str) -> Option<Verdict> {
    [
        Verdict::Pass,
        Verdict::Fail,
        Verdict::Error,
        Verdict::Skip,
        Verdict::Xfail,
        Verdict::Xpass,
        Verdict::Interrupted,
    ]
    .into_iter()
    .find(|v| v.name() == name)
}

/// The merged reports and the totals of the union.
pub struct Merged {
    /// The JUnit report, when any input was JUnit.
    pub junit: Option<Report>,
    /// The JSON report, when any input was JSON.
    pub json: Option<serde_json::Value>,
    /// Counts over every distinct case of every input.
    pub totals: Totals,
    /// The targets, in the order they were first seen.
    pub targets: Vec<String>,
}

/// A case's identity across inputs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct CaseKey {
    target: String,
    group: String,
    id: String,
}

impl std::fmt::Display for CaseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.target, self.group, self.id)
    }
}

/// Where a case was first seen in each kind of input, with its outcome there.
struct Seen {
    verdict: Verdict,
    junit: Option<(PathBuf, String)>,
    json: Option<(PathBuf, String)>,
}

/// The cases seen so far, checking each new sighting against the earlier ones.
#[derive(Default)]
struct Ledger {
    cases: BTreeMap<CaseKey, Seen>,
}

impl Ledger {
    /// Records a sighting; true when the case is new for this kind of input (to be kept).
    fn record(
        &mut self,
        key: &CaseKey,
        junit: bool,
        verdict: Verdict,
        outcome: String,
        path: &Path,
    ) -> Result<bool, MergeError> {
        let here = (path.to_path_buf(), outcome);
        let Some(seen) = self.cases.get_mut(key) else {
            let (j, s) = if junit {
                (Some(here), None)
            } else {
                (None, Some(here))
            };
            self.cases.insert(
                key.clone(),
                Seen {
                    verdict,
                    junit: j,
                    json: s,
                },
            );
            return Ok(true);
        };
        let conflict = |(first, first_outcome): &(PathBuf, String), here: (PathBuf, String)| {
            MergeError::Conflict {
                case: key.to_string(),
                first: first.clone(),
                first_outcome: first_outcome.clone(),
                second: here.0,
                second_outcome: here.1,
            }
        };
        let (same_kind, other_kind) = if junit {
            (&mut seen.junit, &seen.json)
        } else {
            (&mut seen.json, &seen.junit)
        };
        if let Some(first) = same_kind {
            return if first.1 == here.1 {
                Ok(false)
            } else {
                Err(conflict(first, here))
            };
        }
        if verdict != seen.verdict
            && let Some(other) = other_kind
        {
            return Err(conflict(other, here));
        }
        *same_kind = Some(here);
        Ok(true)
    }

    fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for seen in self.cases.values() {
            t.add(seen.verdict);
        }
        t
    }
}

/// The outcome of a testcase as compared between inputs: verdict, message and type.
fn junit_outcome(status: &TestCaseStatus) -> String {
    let verdict = verdict_of(status);
    let (message, ty) = match status {
        TestCaseStatus::Success { .. } => (None, None),
        TestCaseStatus::NonSuccess { message, ty, .. } => (message.as_ref(), ty.as_ref()),
        TestCaseStatus::Skipped { message, ty, .. } => (message.as_ref(), ty.as_ref()),
    };
    let mut out = verdict.name().to_string();
    for part in [message, ty].into_iter().flatten() {
        out.push_str(": ");
        out.push_str(part.as_str());
    }
    out
}

/// The outcome of a JSON case as compared between inputs: verdict, reason, failure messages.
fn json_outcome(case: &serde_json::Map<String, serde_json::Value>) -> String {
    let mut out = case["verdict"].as_str().unwrap_or_default().to_string();
    if let Some(reason) = case.get("reason").and_then(|r| r.as_str()) {
        out.push_str(&format!(": {reason}"));
    }
    for f in case
        .get("failures")
        .and_then(|f| f.as_array())
        .into_iter()
        .flatten()
    {
        out.push_str(&format!("; {}", f["message"].as_str().unwrap_or_default()));
    }
    out
}

/// The target a JUnit report is of: its name without the `wirecheck ` prefix.
fn junit_target(report: &Report) -> String {
    let name = report.name.as_ref().map(|n| n.as_str()).unwrap_or_default();
    name.strip_prefix(NAME_PREFIX).unwrap_or(name).to_string()
}

/// Merges the inputs (in the given order; a case kept is the first sighting).
pub fn merge(inputs: &[Input]) -> Result<Merged, MergeError> {
    let mut targets: Vec<String> = Vec::new();
    for input in inputs {
        let t = match input {
            Input::Junit { report, .. } => junit_target(report),
            Input::Json { target, .. } => target.clone(),
        };
        if !targets.contains(&t) {
            targets.push(t);
        }
    }
    let several = targets.len() > 1;
    let prefixed = |target: &str, name: &str| {
        if several {
            format!("{target}.{name}")
        } else {
            name.to_string()
        }
    };
    let mut ledger = Ledger::default();
    let mut suites: BTreeMap<String, Vec<TestCase>> = BTreeMap::new();
    let mut json_cases: Vec<(CaseKey, serde_json::Map<String, serde_json::Value>)> = Vec::new();
    let mut run_ids: Vec<String> = Vec::new();
    let (mut any_junit, mut any_json) = (false, false);
    for input in inputs {
        match input {
            Input::Junit { path, report } => {
                any_junit = true;
                let target = junit_target(report);
                for suite in &report.test_suites {
                    for tc in &suite.test_cases {
                        let group = tc
                            .classname
                            .as_ref()
                            .map_or(suite.name.as_str(), |c| c.as_str());
                        let key = CaseKey {
                            target: target.clone(),
                            group: group.to_string(),
                            id: tc.name.as_str().to_string(),
                        };
                        let verdict = verdict_of(&tc.status);
                        if ledger.record(&key, true, verdict, junit_outcome(&tc.status), path)? {
                            let mut kept = tc.clone();
                            kept.set_classname(prefixed(&target, group));
                            suites
                                .entry(prefixed(&target, suite.name.as_str()))
                                .or_default()
                                .push(kept);
                        }
                    }
                }
            }
            Input::Json {
                path,
                target,
                run_id,
                cases,
            } => {
                any_json = true;
                if !run_id.is_empty() && !run_ids.contains(run_id) {
                    run_ids.push(run_id.clone());
                }
                for case in cases {
                    let key = CaseKey {
                        target: target.clone(),
                        group: case["group"].as_str().unwrap_or_default().into(),
                        id: case["id"].as_str().unwrap_or_default().into(),
                    };
                    let verdict = verdict_named(case["verdict"].as_str().unwrap_or_default())
                        .unwrap_or(
                            Verdict::Error, // load() refused unknown verdicts
                        );
                    if ledger.record(&key, false, verdict, json_outcome(case), path)? {
                        let mut kept = case.clone();
                        if several {
                            kept.insert("target".into(), target.clone().into());
                        }
                        json_cases.push((key, kept));
                    }
                }
            }
        }
    }
    let joined = targets.join("+");
    let junit = any_junit.then(|| junit_report(&joined, suites));
    let json = any_json.then(|| {
        json_cases.sort_by(|a, b| a.0.cmp(&b.0));
        let mut totals = Totals::default();
        for (_, c) in &json_cases {
            if let Some(v) = verdict_named(c["verdict"].as_str().unwrap_or_default()) {
                totals.add(v);
            }
        }
        serde_json::json!({
            "format": FORMAT,
            "wirecheck": env!("CARGO_PKG_VERSION"),
            "target": joined,
            "run_id": run_ids.join(","),
            "totals": totals,
            "cases": json_cases.into_iter().map(|(_, c)| c).collect::<Vec<_>>(),
        })
    });
    Ok(Merged {
        junit,
        json,
        totals: ledger.totals(),
        targets,
    })
}

/// One testsuite per (target and) group, its cases by name, its time their sum.
fn junit_report(target: &str, suites: BTreeMap<String, Vec<TestCase>>) -> Report {
    let mut report = Report::new(format!("{NAME_PREFIX}{target}"));
    for (name, mut cases) in suites {
        cases.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
        let mut suite = TestSuite::new(name);
        let time: Duration = cases.iter().filter_map(|c| c.time).sum();
        suite.add_test_cases(cases);
        suite.set_time(time);
        report.add_test_suite(suite);
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn junit(path: &str, target: &str, cases: &[(&str, TestCaseStatus)]) -> Input {
        let mut report = Report::new(format!("{NAME_PREFIX}{target}"));
        let mut suite = TestSuite::new("mqtt.v311");
        for (id, status) in cases {
            let mut tc = TestCase::new(*id, status.clone());
            tc.set_classname("mqtt.v311");
            suite.add_test_case(tc);
        }
        report.add_test_suite(suite);
        Input::Junit {
            path: path.into(),
            report,
        }
    }

    fn failed(message: &str) -> TestCaseStatus {
        let mut s = TestCaseStatus::non_success(quick_junit::NonSuccessKind::Failure);
        s.set_message(message);
        s
    }

    #[test]
    fn shards_join_and_totals_add_up() {
        let merged = merge(&[
            junit("a.xml", "t", &[("x", TestCaseStatus::success())]),
            junit("b.xml", "t", &[("y", failed("bad"))]),
        ])
        .unwrap();
        let report = merged.junit.unwrap();
        assert_eq!((report.tests, report.failures), (2, 1));
        assert_eq!(report.test_suites.len(), 1);
        assert_eq!(merged.totals.passed, 1);
        assert_eq!(merged.totals.failed, 1);
    }

    #[test]
    fn an_identical_duplicate_is_kept_once_a_different_one_is_refused() {
        let same = merge(&[
            junit("a.xml", "t", &[("x", failed("bad"))]),
            junit("b.xml", "t", &[("x", failed("bad"))]),
        ])
        .unwrap();
        assert_eq!(same.junit.unwrap().tests, 1);
        let err = merge(&[
            junit("a.xml", "t", &[("x", failed("bad"))]),
            junit("b.xml", "t", &[("x", TestCaseStatus::success())]),
        ])
        .err()
        .expect("a conflict");
        let text = err.to_string();
        assert!(
            text.contains("t/mqtt.v311/x") && text.contains("b.xml"),
            "{text}"
        );
    }

    #[test]
    fn targets_stay_apart_with_prefixed_names() {
        let merged = merge(&[
            junit("a.xml", "one", &[("x", TestCaseStatus::success())]),
            junit("b.xml", "two", &[("x", failed("bad"))]),
        ])
        .unwrap();
        let report = merged.junit.unwrap();
        let names: Vec<&str> = report.test_suites.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["one.mqtt.v311", "two.mqtt.v311"]);
        let classes: Vec<&str> = report
            .test_suites
            .iter()
            .flat_map(|s| &s.test_cases)
            .filter_map(|c| c.classname.as_ref().map(|c| c.as_str()))
            .collect();
        assert_eq!(classes, ["one.mqtt.v311", "two.mqtt.v311"]);
        assert_eq!(merged.targets, ["one", "two"]);
    }

    #[test]
    fn syntax_errors_name_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.xml");
        std::fs::write(
            &path,
            "<testsuites>\n  <testsuite name=\"a\">\n</testsuites>\n",
        )
        .unwrap();
        let text = load(&path).err().expect("refused").to_string();
        assert!(
            text.starts_with(&format!("{}:3:", path.display())),
            "{text}"
        );
        let path = dir.path().join("bad.json");
        std::fs::write(&path, "{\n  \"format\": 2,\n  oops\n}").unwrap();
        let text = load(&path).err().expect("refused").to_string();
        assert!(
            text.starts_with(&format!("{}:3:3", path.display())),
            "{text}"
        );
    }
}
