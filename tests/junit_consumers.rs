//! JUnit reports parse with real consumers (python junitparser, xmllint), even when a
//! transcript carries `]]>` and control bytes, as fuzz transcripts do; they validate against the
//! JUnit schema Jenkins applies (tests/junit-jenkins.xsd) and keep GitLab's rules (classname on
//! every testcase, classname + name unique, bounded size).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use wirecheck::run::transcript::{MessageData, Raw, Transcript};
use wirecheck::run::verdict::{CaseResult, Failure, Verdict};

fn result(id: &str, verdict: Verdict, text: &str) -> CaseResult {
    let transcript = Transcript::new();
    transcript.recorder("pub").received(
        Some(MessageData {
            data: serde_json::json!({ "text": text }),
            summary: text.into(),
        }),
        Some(Raw::bounded(&[0, 1, 0x1b, 0xff])),
        true,
    );
    CaseResult {
        id: id.into(),
        title: "hostile transcript".into(),
        group: "mqtt.v311".into(),
        path: "cases/x.yaml".into(),
        spec: vec!["MQTT-3.3.1-4".into()],
        verdict,
        reason: None,
        failures: if verdict == Verdict::Fail {
            vec![
                Failure::check(vec!["MQTT-3.3.1-4".into()], format!("bad {text}"))
                    .with_diff("a]]>b", text),
            ]
        } else {
            Vec::new()
        },
        checks_passed: 1,
        duration: Duration::from_millis(3),
        transcript: transcript.entries().0,
        transcript_dropped: 0,
        generated: Default::default(),
    }
}

fn tool_available(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

fn require(cmd: &str, args: &[&str], what: &str) -> bool {
    if tool_available(cmd, args) {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("CI requires {what}; run scripts/servers/install.sh");
    }
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!!!!!!!\nSKIPPED: {what} is not installed; run scripts/servers/install.sh\n!!!!!!!!!!\n"
    );
    false
}

#[test]
fn hostile_transcripts_give_valid_junit() {
    let hostile = "payload ]]> and <![CDATA[ x ]]> \u{1}\u{8}\u{1b}[31m \u{0} end";
    let results = vec![
        result("a.fail", Verdict::Fail, hostile),
        result("a.pass", Verdict::Pass, hostile),
        result("a.skip", Verdict::Skip, hostile),
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junit.xml");
    wirecheck::report::junit::write(&path, "test", &results).unwrap();
    let xml = std::fs::read_to_string(&path).unwrap();
    assert!(
        !xml.contains('\u{1}') && !xml.contains('\u{0}'),
        "raw control bytes in XML"
    );

    if require(
        "python3",
        &["-c", "import junitparser"],
        "python3 junitparser",
    ) {
        let script = r#"
import sys, junitparser
x = junitparser.JUnitXml.fromfile(sys.argv[1])
cases = [c for s in x for c in s]
kinds = sorted(type(r).__name__ for c in cases for r in c.result)
print(len(cases), kinds)
assert len(cases) == 3, len(cases)
assert kinds == ['Failure', 'Skipped'], kinds
out = [c.system_out for c in cases]
assert all(']]>' in (o or '') for o in out), out
"#;
        let out = Command::new("python3")
            .args(["-c", script, path.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "junitparser rejected the report: {}{}\n{xml}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    if require("xmllint", &["--version"], "xmllint (libxml2-utils)") {
        let out = Command::new("xmllint")
            .args(["--noout", path.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "xmllint rejected the report: {}\n{xml}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The Jenkins JUnit schema the reports must validate against.
fn xsd() -> String {
    format!("{}/tests/junit-jenkins.xsd", env!("CARGO_MANIFEST_DIR"))
}

/// Validates `path` against the Jenkins schema with xmllint (false when xmllint is missing).
fn validate_against_jenkins_schema(path: &Path) -> bool {
    if !require("xmllint", &["--version"], "xmllint (libxml2-utils)") {
        return false;
    }
    let out = Command::new("xmllint")
        .args(["--noout", "--schema", &xsd(), path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} does not validate against tests/junit-jenkins.xsd:\n{}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

/// Runs the binary from the repository root; returns its exit code.
fn wirecheck(args: &[&str]) -> i32 {
    let out = Command::new(env!("CARGO_BIN_EXE_wirecheck"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    out.status.code().unwrap_or_else(|| {
        panic!(
            "wirecheck {args:?} was killed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// (classname, name) of every testcase, and the kinds of result elements, read with quick-junit.
fn testcases(path: &Path) -> (Vec<(Option<String>, String)>, BTreeSet<String>) {
    let xml = std::fs::read_to_string(path).unwrap();
    let report = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    let mut cases = Vec::new();
    let mut kinds = BTreeSet::new();
    for suite in &report.test_suites {
        for tc in &suite.test_cases {
            cases.push((
                tc.classname.as_ref().map(|c| c.as_str().to_string()),
                tc.name.as_str().to_string(),
            ));
            kinds.insert(
                wirecheck::report::junit::verdict_of(&tc.status)
                    .name()
                    .to_string(),
            );
        }
    }
    (cases, kinds)
}

#[test]
fn a_real_run_with_every_verdict_validates_against_the_jenkins_schema() {
    // A profile of the built-in target that declares one deviation the fault makes true (xfail)
    // and one on a case that passes (xpass); the fault fails other cases; the ws cases skip.
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("reference-xsd.yaml");
    std::fs::write(
        &profile,
        r#"name: reference-xsd
url: "builtin:"
deviations:
  - { case: "mqtt311.publish.qos1", reason: "the fault switch breaks it (xfail)" }
  - { case: "mqtt311.connect.accepted", reason: "declared, but it passes (xpass)" }
"#,
    )
    .unwrap();
    let junit = dir.path().join("junit.xml");
    let started = Instant::now();
    let code = wirecheck(&[
        "run",
        "-t",
        profile.to_str().unwrap(),
        "--fault",
        "wrong-puback-id",
        "--snapshots",
        "off",
        "--junit",
        junit.to_str().unwrap(),
        "cases/mqtt/v311",
        "cases/mqtt/ws",
    ]);
    eprintln!("run with a fault: exit {code} in {:?}", started.elapsed());
    assert_eq!(code, 1, "a failed check exits 1");
    let (cases, kinds) = testcases(&junit);
    let want: BTreeSet<String> = ["pass", "fail", "skip", "xfail", "xpass"]
        .map(String::from)
        .into();
    assert_eq!(kinds, want, "every verdict a real run can give occurs");
    assert!(cases.len() > 100, "{} testcases", cases.len());
    validate_against_jenkins_schema(&junit);
}

#[test]
fn synthetic_error_and_interrupted_verdicts_validate_against_the_jenkins_schema() {
    // The built-in target's faults break rules, not the run: error and interrupted verdicts do
    // not occur in a real run of it, so these two come from results built here.
    let mut error = result("a.error", Verdict::Error, "refused");
    error.failures = vec![Failure::infra("connection refused")];
    let mut interrupted = result("a.interrupted", Verdict::Interrupted, "stopped");
    interrupted.reason = Some("SIGINT".into());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junit.xml");
    wirecheck::report::junit::write(&path, "test", &[error, interrupted]).unwrap();
    let (_, kinds) = testcases(&path);
    let want: BTreeSet<String> = ["error", "interrupted"].map(String::from).into();
    assert_eq!(kinds, want);
    validate_against_jenkins_schema(&path);
}

#[test]
fn the_whole_suite_keeps_gitlabs_rules() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let started = Instant::now();
    let code = wirecheck(&[
        "run",
        "--snapshots",
        "off",
        "--junit",
        junit.to_str().unwrap(),
    ]);
    let size = std::fs::metadata(&junit).unwrap().len();
    eprintln!(
        "whole suite: exit {code} in {:?}, JUnit {size} bytes",
        started.elapsed()
    );
    assert_eq!(code, 0);
    let (cases, _) = testcases(&junit);
    assert!(cases.len() > 400, "{} testcases", cases.len());
    let mut seen = BTreeSet::new();
    for (classname, name) in &cases {
        let classname = classname
            .as_ref()
            .unwrap_or_else(|| panic!("testcase {name} has no classname"));
        assert!(
            seen.insert((classname.clone(), name.clone())),
            "classname {classname} + name {name} twice"
        );
    }
    assert!(size < 30 * 1024 * 1024, "{size} bytes: over GitLab's 30 MB");
    validate_against_jenkins_schema(&junit);
}

#[test]
fn a_huge_transcript_and_failure_are_truncated_with_a_note() {
    use wirecheck::report::junit::{MAX_DESCRIPTION, MAX_SYSTEM_OUT};
    // 4 MB of payload, quotes and angle brackets included (they grow when escaped).
    let huge = "<\"payload\"> & ".repeat(300_000);
    let results: Vec<CaseResult> = (0..5)
        .map(|i| result(&format!("a.huge{i}"), Verdict::Fail, &huge))
        .collect();
    let full: usize = wirecheck::run::engine::transcript_text(&results[0]).len();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junit.xml");
    wirecheck::report::junit::write(&path, "test", &results).unwrap();
    let size = std::fs::metadata(&path).unwrap().len() as usize;
    // Five cases: each at most its bounds plus a few hundred bytes of tags and attributes.
    let per_case = MAX_SYSTEM_OUT + MAX_DESCRIPTION + 4096;
    assert!(size < 5 * per_case, "{size} bytes for 5 cases");
    let xml = std::fs::read_to_string(&path).unwrap();
    assert!(
        xml.contains(" bytes shown; the JSON report holds the full transcript]")
            && xml.contains(&format!(
                " of {} bytes shown",
                full + "case file: cases/x.yaml\n".len()
            )),
        "no truncation note naming the transcript's {full} bytes"
    );
    assert!(xml.contains("the JSON report holds the full failures]"));
    // 500 cases at the bounds (about 22 MiB) stay below three quarters of GitLab's 30 MB.
    assert!(500 * per_case < 30 * 1024 * 1024 * 3 / 4);
    validate_against_jenkins_schema(&path);
}
