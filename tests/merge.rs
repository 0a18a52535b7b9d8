//! `wirecheck merge`: the three `--partition hash:K/3` shards of the built-in target's suite
//! merge into the reports of the unsharded run, case for case, with the same totals and exit
//! code; a failing shard makes the merge exit 1; bad inputs are refused with exit 2.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

fn wirecheck(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wirecheck"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs the suite (or `paths`) with extra args, writing `NAME.xml` and `NAME.json` into `dir`.
fn run(dir: &Path, name: &str, extra: &[&str]) -> (i32, PathBuf, PathBuf) {
    let junit = dir.join(format!("{name}.xml"));
    let json = dir.join(format!("{name}.json"));
    let mut args = vec![
        "run",
        "--snapshots",
        "off",
        "--junit",
        junit.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let started = Instant::now();
    let out = wirecheck(&args);
    eprintln!(
        "run {name}: exit {} in {:?}; JUnit {} bytes, JSON {} bytes",
        code(&out),
        started.elapsed(),
        std::fs::metadata(&junit).map_or(0, |m| m.len()),
        std::fs::metadata(&json).map_or(0, |m| m.len())
    );
    (code(&out), junit, json)
}

/// (suite, classname, name, verdict, message) of every testcase of a JUnit report.
fn junit_cases(path: &Path) -> BTreeSet<(String, String, String, String, String)> {
    let xml = std::fs::read_to_string(path).unwrap();
    let report = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    let mut out = BTreeSet::new();
    for s in &report.test_suites {
        for tc in &s.test_cases {
            let message = match &tc.status {
                quick_junit::TestCaseStatus::Success { .. } => None,
                quick_junit::TestCaseStatus::NonSuccess { message, .. }
                | quick_junit::TestCaseStatus::Skipped { message, .. } => message.clone(),
            };
            let fresh = out.insert((
                s.name.as_str().to_string(),
                tc.classname.as_ref().unwrap().as_str().to_string(),
                tc.name.as_str().to_string(),
                wirecheck::report::junit::verdict_of(&tc.status)
                    .name()
                    .to_string(),
                message.map(|m| m.as_str().to_string()).unwrap_or_default(),
            ));
            assert!(fresh, "{} twice in {}", tc.name.as_str(), path.display());
        }
    }
    out
}

/// The JUnit report's counts: tests, failures, errors, skipped.
fn junit_totals(path: &Path) -> (usize, usize, usize, usize) {
    let xml = std::fs::read_to_string(path).unwrap();
    let r = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    (
        r.tests,
        r.failures,
        r.errors,
        r.test_suites.iter().map(|s| s.skipped).sum(),
    )
}

/// (group, id, verdict, reason, first failure message) of every case of a JSON report, and its
/// totals.
fn json_cases(path: &Path) -> (BTreeSet<[String; 5]>, serde_json::Value) {
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let cases = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            [
                text(&c["group"]),
                text(&c["id"]),
                text(&c["verdict"]),
                text(&c["reason"]),
                text(&c["failures"][0]["message"]),
            ]
        })
        .collect();
    (cases, doc["totals"].clone())
}

#[test]
fn three_shards_merge_into_the_unsharded_run() {
    let dir = tempfile::tempdir().unwrap();
    let (whole_code, whole_xml, whole_json) = run(dir.path(), "whole", &[]);
    let mut shard_files = Vec::new();
    let mut shard_cases = 0;
    for k in 1..=3 {
        let part = format!("hash:{k}/3");
        let (c, xml, json) = run(dir.path(), &format!("shard{k}"), &["--partition", &part]);
        assert_eq!(c, 0, "shard {k}");
        shard_cases += junit_totals(&xml).0;
        shard_files.push(xml);
        shard_files.push(json);
    }
    let merged_xml = dir.path().join("merged.xml");
    let merged_json = dir.path().join("merged.json");
    let mut args = vec![
        "merge".to_string(),
        "--junit".into(),
        merged_xml.display().to_string(),
        "--json".into(),
        merged_json.display().to_string(),
    ];
    args.extend(shard_files.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let started = Instant::now();
    let out = wirecheck(&args);
    eprintln!(
        "merge of 6 reports: exit {} in {:?}; JUnit {} bytes, JSON {} bytes\n{}",
        code(&out),
        started.elapsed(),
        std::fs::metadata(&merged_xml).map_or(0, |m| m.len()),
        std::fs::metadata(&merged_json).map_or(0, |m| m.len()),
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(code(&out), whole_code, "{}", stderr(&out));

    let whole = junit_cases(&whole_xml);
    assert!(whole.len() > 400, "{} cases", whole.len());
    assert_eq!(shard_cases, whole.len(), "the shards split the suite");
    assert_eq!(junit_cases(&merged_xml), whole);
    assert_eq!(junit_totals(&merged_xml), junit_totals(&whole_xml));

    let (whole_cases, whole_totals) = json_cases(&whole_json);
    let (merged_cases, merged_totals) = json_cases(&merged_json);
    assert_eq!(merged_cases, whole_cases);
    assert_eq!(merged_totals, whole_totals);
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&merged_json).unwrap()).unwrap();
    assert_eq!(doc["format"], 2);
    assert_eq!(doc["target"], "reference");
}

#[test]
fn a_failing_shard_fails_the_merge() {
    let dir = tempfile::tempdir().unwrap();
    let (bad, bad_xml, _) = run(
        dir.path(),
        "faulted",
        &[
            "--fault",
            "wrong-puback-id",
            "--partition",
            "hash:1/2",
            "cases/mqtt/v311",
        ],
    );
    assert_eq!(bad, 1);
    let (good, good_xml, _) = run(
        dir.path(),
        "clean",
        &["--partition", "hash:2/2", "cases/mqtt/v311"],
    );
    assert_eq!(good, 0);
    let merged = dir.path().join("merged.xml");
    let out = wirecheck(&[
        "merge",
        "--junit",
        merged.to_str().unwrap(),
        bad_xml.to_str().unwrap(),
        good_xml.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let (b, g, m) = (
        junit_totals(&bad_xml),
        junit_totals(&good_xml),
        junit_totals(&merged),
    );
    assert_eq!(m, (b.0 + g.0, b.1 + g.1, b.2 + g.2, b.3 + g.3));
    assert!(m.1 > 0, "the fault failed cases");
}

#[test]
fn two_targets_stay_apart() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("other.yaml");
    std::fs::write(&profile, "name: other\nurl: \"builtin:\"\ndeviations: []\n").unwrap();
    let one = ["--case", "mqtt311.connect.*", "cases/mqtt/v311"];
    let (_, a_xml, a_json) = run(dir.path(), "a", &one);
    let mut two = vec!["-t", profile.to_str().unwrap()];
    two.extend_from_slice(&one);
    let (_, b_xml, b_json) = run(dir.path(), "b", &two);
    let merged_xml = dir.path().join("m.xml");
    let merged_json = dir.path().join("m.json");
    let out = wirecheck(&[
        "merge",
        "--junit",
        merged_xml.to_str().unwrap(),
        "--json",
        merged_json.to_str().unwrap(),
        a_xml.to_str().unwrap(),
        b_xml.to_str().unwrap(),
        a_json.to_str().unwrap(),
        b_json.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let cases = junit_cases(&merged_xml);
    let n = junit_cases(&a_xml).len();
    assert_eq!(cases.len(), 2 * n);
    let classes: BTreeSet<&str> = cases.iter().map(|c| c.1.as_str()).collect();
    assert_eq!(
        classes,
        BTreeSet::from(["other.mqtt.v311", "reference.mqtt.v311"])
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&merged_json).unwrap()).unwrap();
    assert_eq!(doc["target"], "reference+other");
    assert_eq!(doc["cases"].as_array().unwrap().len(), 2 * n);
    assert!(
        doc["cases"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["target"].is_string())
    );
}

#[test]
fn bad_inputs_are_refused_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let (_, xml, json) = run(dir.path(), "small", &["--case", "mqtt311.connect.accepted"]);
    let d = |name: &str| dir.path().join(name).display().to_string();
    let bad = |args: &[&str], wanted: &str| {
        let out = wirecheck(args);
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{args:?}: {err}");
        assert!(err.contains(wanted), "{args:?}: `{wanted}` not in: {err}");
    };
    bad(&["merge", &d("missing.xml")], &d("missing.xml"));
    std::fs::write(d("broken.xml"), "<testsuites>\n<testsuite name=\"a\"\n").unwrap();
    bad(
        &["merge", &d("broken.xml")],
        &format!("{}:", d("broken.xml")),
    );
    std::fs::write(d("broken.json"), "{\"format\": 2,\n  \"cases\": [,]}").unwrap();
    bad(
        &["merge", &d("broken.json")],
        &format!("{}:2:", d("broken.json")),
    );
    std::fs::write(d("plain.txt"), "hello").unwrap();
    bad(
        &["merge", &d("plain.txt")],
        "neither a JUnit XML report nor a JSON report",
    );
    let json_only = ["merge", "--junit", &d("out.xml"), json.to_str().unwrap()];
    bad(&json_only, "no input is a JUnit XML report");

    // The same case with another outcome: the verdict edited from pass to fail.
    let text = std::fs::read_to_string(&json).unwrap();
    assert!(text.contains("\"verdict\": \"pass\""));
    std::fs::write(
        d("edited.json"),
        text.replace("\"verdict\": \"pass\"", "\"verdict\": \"fail\""),
    )
    .unwrap();
    bad(
        &["merge", json.to_str().unwrap(), &d("edited.json")],
        "reference/mqtt.v311/mqtt311.connect.accepted",
    );
    // The same report twice is one run given twice: kept once.
    let out = wirecheck(&[
        "merge",
        "--junit",
        &d("twice.xml"),
        xml.to_str().unwrap(),
        xml.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(junit_totals(Path::new(&d("twice.xml"))).0, 1);
    // Nothing that ran: exit 4, or 0 with --allow-empty.
    std::fs::write(d("empty.xml"), "<testsuites name=\"wirecheck reference\" tests=\"0\" failures=\"0\" errors=\"0\"></testsuites>").unwrap();
    assert_eq!(code(&wirecheck(&["merge", &d("empty.xml")])), 4);
    assert_eq!(
        code(&wirecheck(&["merge", "--allow-empty", &d("empty.xml")])),
        0
    );
}
