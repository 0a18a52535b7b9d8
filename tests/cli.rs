//! The binary's contract: exit codes, located load errors, bad flags and URLs, reports.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn wirecheck(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wirecheck"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        // Temporary cases must not leave snapshots in the repository (tests/snapshots.rs covers them).
        .env("WIRECHECK_SNAPSHOTS", "off")
        .output()
        .expect("wirecheck runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const GOOD_CASE: &str = r#"id: cli.sample
title: PINGREQ gets PINGRESP
protocol: mqtt
version: "3.1.1"
spec: [MQTT-3.12.4-1]
actors: { c: {} }
steps:
  - connect: c
  - send: { actor: c, packet: { type: pingreq } }
  - expect: { actor: c, packet: { type: pingresp } }
"#;

fn case_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn broken_case_files_name_file_line_col_and_field_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let variants = [
        // unknown field
        (
            "unknown.yaml",
            GOOD_CASE.replace("packet: { type: pingreq }", "pakket: { type: pingreq }"),
            "unknown.yaml:9:",
            "pakket",
        ),
        // wrong type
        (
            "wrongtype.yaml",
            GOOD_CASE.replace("actors: { c: {} }", "actors: 5"),
            "wrongtype.yaml:6:",
            "actors",
        ),
        // bad indentation
        (
            "indent.yaml",
            GOOD_CASE.replace("  - send:", "    - send:"),
            "indent.yaml:",
            "",
        ),
        // unknown actor (semantic)
        (
            "actor.yaml",
            GOOD_CASE.replace(
                "actor: c, packet: { type: pingresp }",
                "actor: d, packet: { type: pingresp }",
            ),
            "actor.yaml:10:5",
            "unknown actor `d`",
        ),
    ];
    for (name, text, place, field) in variants {
        let p = case_file(dir.path(), name, &text);
        let out = wirecheck(&["list", p.to_str().unwrap()]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(place), "{name}: no `{place}` in:\n{err}");
        assert!(err.contains(field), "{name}: no `{field}` in:\n{err}");
        assert!(err.contains("error:"), "{name}: {err}");
    }
}

#[test]
fn bad_flags_and_urls_exit_2_saying_what_was_expected() {
    let out = wirecheck(&["run", "--jobs", "many"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--jobs"));
    let out = wirecheck(&["run", "--timeout", "5"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no unit"), "{}", stderr(&out));
    let out = wirecheck(&["run", "--target", "http://127.0.0.1:1/", "cases/mqtt"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("expected mqtt, mqtts, ws or wss"),
        "{}",
        stderr(&out)
    );
    let out = wirecheck(&["run", "--target", "ws://127.0.0.1:1/", "cases/mqtt"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--protocol"), "{}", stderr(&out));
    let out = wirecheck(&["run", "--fault", "no-such-fault", "cases/mqtt"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("known faults"), "{}", stderr(&out));
}

#[test]
fn unreachable_target_exits_3_within_the_connect_timeout() {
    // A port that was just free: connecting is refused.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("mqtt://127.0.0.1:{port}");
    let started = Instant::now();
    let out = wirecheck(&[
        "run",
        "--target",
        &url,
        "--connect-timeout",
        "2s",
        "cases/mqtt",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("target unreachable"),
        "{}",
        stderr(&out)
    );
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[test]
fn run_on_the_builtin_target_passes_and_writes_reports() {
    let dir = tempfile::tempdir().unwrap();
    let p = case_file(dir.path(), "ping.yaml", GOOD_CASE);
    let junit = dir.path().join("r/junit.xml");
    let json = dir.path().join("r/report.json");
    let out = wirecheck(&[
        "run",
        p.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("1 passed, 0 failed"),
        "{}",
        stdout(&out)
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<testcase name=\"cli.sample\""), "{xml}");
    assert!(xml.contains("classname=\"mqtt.v311\""), "{xml}");
    assert!(xml.contains("PINGRESP"), "transcript in system-out: {xml}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(doc["totals"]["passed"], 1);
    assert_eq!(doc["cases"][0]["verdict"], "pass");
    // One time unit, named in the field: milliseconds.
    assert_eq!(doc["format"], 2);
    assert!(doc["cases"][0]["duration_ms"].is_number(), "{doc}");
    assert!(doc["cases"][0].get("duration").is_none(), "{doc}");
    assert!(
        doc["cases"][0]["transcript"][0]["at_ms"].is_number(),
        "{doc}"
    );
}

#[test]
fn a_failing_check_exits_1_and_names_statement_and_place() {
    let dir = tempfile::tempdir().unwrap();
    let p = case_file(
        dir.path(),
        "wrong.yaml",
        &GOOD_CASE.replace(
            "packet: { type: pingresp }",
            "packet: { type: puback, id: 1 }, spec: [MQTT-3.12.4-1], timeout: 300ms",
        ),
    );
    let out = wirecheck(&["run", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("[MQTT-3.12.4-1]"), "{text}");
    assert!(text.contains("wrong.yaml:10:5"), "{text}");
    assert!(text.contains("0 passed, 1 failed"), "{text}");
}

#[test]
fn list_prints_selected_cases_with_tags_and_spec() {
    let out = wirecheck(&["list", "--case", "mqtt311.*", "cases"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.lines()
            .any(|l| l.starts_with("mqtt311.") && l.contains("spec: MQTT-")),
        "{text}"
    );
    assert!(!text.contains("xmpp."), "{text}");
}

#[test]
fn mqtt_credentials_are_taken_and_never_printed() {
    // The built-in broker over its URL stands in for a broker; it does not ask for a login, so the
    // run passes, and no output or report may show the password.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let reference = rt
        .block_on(wirecheck::reference::Reference::start(&[]))
        .unwrap();
    let url = reference.mqtt_endpoint().to_string();
    let dir = tempfile::tempdir().unwrap();
    let p = case_file(dir.path(), "ping.yaml", GOOD_CASE);
    let junit = dir.path().join("junit.xml");
    let json = dir.path().join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_wirecheck"))
        .env("WIRECHECK_SNAPSHOTS", "off")
        .args(["run", "--target", &url, "--user", "tester"])
        .args(["--password-env", "WC_TEST_MQTT_PASSWORD"])
        .arg(&p)
        .arg("--junit")
        .arg(&junit)
        .arg("--json")
        .arg(&json)
        .env("WC_TEST_MQTT_PASSWORD", "s3cr3t-hunter2")
        .env("WIRECHECK_LOG", "debug")
        .output()
        .unwrap();
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(0), "{all}");
    for text in [
        all,
        std::fs::read_to_string(&junit).unwrap(),
        std::fs::read_to_string(&json).unwrap(),
    ] {
        assert!(
            !text.contains("s3cr3t-hunter2"),
            "password printed:\n{text}"
        );
    }
    drop(reference);
}

/// `skip_unless`: a packet that arrives but differs makes the case not applicable (skip, with the
/// reason); a packet that never arrives still fails.
#[test]
fn skip_unless_skips_on_a_different_packet_but_fails_on_silence() {
    let dir = tempfile::tempdir().unwrap();
    let case = |pattern: &str| {
        format!(
            r#"id: cli.skip
title: a lower grant makes the case not applicable
protocol: mqtt
version: "3.1.1"
spec: [MQTT-3.8.4-1]
actors: {{ c: {{}} }}
steps:
  - connect: c
  - send: {{ actor: c, packet: {{ type: subscribe, id: 1, filters: [{{ topic: "{{ns}}/t", qos: 1 }}] }} }}
  - expect: {{ actor: c, packet: {pattern}, skip_unless: "needs QoS 2", timeout: 300ms }}
"#
        )
    };
    // the reference grants QoS 1: a pattern asking for QoS 2 is unmet, so the case is skipped
    let p = case_file(
        dir.path(),
        "lower.yaml",
        &case("{ type: suback, id: 1, reasons: [granted_qos_2] }"),
    );
    let out = wirecheck(&["run", "--allow-empty", p.to_str().unwrap()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    let progress = stderr(&out);
    assert!(
        progress.contains("SKIP  cli.skip (not applicable: needs QoS 2"),
        "{progress}"
    );
    assert!(text.contains("0 passed, 0 failed, 1 skipped"), "{text}");
    // nothing of that type ever arrives: a failure, not a skip
    let p = case_file(
        dir.path(),
        "silent.yaml",
        &case("{ type: unsuback, id: 1 }"),
    );
    let out = wirecheck(&["run", p.to_str().unwrap()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(text.contains("0 passed, 1 failed"), "{text}");
}
