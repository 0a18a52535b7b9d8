//! Capability skips and the xpass policy against the built-in target: every report (console,
//! JUnit, JSON) carries skip, xfail and xpass reasons; an xpass exits 1 unless --allow-xpass.

use std::path::Path;
use std::process::Command;

const PING: &str = r#"id: cap.ping
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

/// Runs `wirecheck run` in `dir` with the profile text and extra flags; (exit, stdout, junit, json).
fn run(dir: &Path, profile: &str, flags: &[&str]) -> (i32, String, String, serde_json::Value) {
    std::fs::write(dir.join("p.yaml"), profile).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_wirecheck"))
        .current_dir(dir)
        .env("WIRECHECK_SNAPSHOTS", "off")
        .args([
            "run", "--target", "p.yaml", "--junit", "r.xml", "--json", "r.json",
        ])
        .args(flags)
        .arg("cases")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let junit = std::fs::read_to_string(dir.join("r.xml"))
        .unwrap_or_else(|_| panic!("no JUnit report: {stdout}\n{stderr}"));
    let json = serde_json::from_str(&std::fs::read_to_string(dir.join("r.json")).unwrap()).unwrap();
    (out.status.code().unwrap_or(-1), stdout, junit, json)
}

fn cases(files: &[(&str, String)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("cases")).unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join("cases").join(name), text).unwrap();
    }
    dir
}

fn case_json<'a>(json: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    json["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {json}"))
}

#[test]
fn a_case_requiring_what_the_profile_lacks_is_skipped_with_the_reason() {
    let needs = PING
        .replace("cap.ping", "cap.needs-qos2")
        .replace("actors:", "requires: [retain, qos2]\nactors:");
    let dir = cases(&[("ping.yaml", PING.into()), ("needs.yaml", needs)]);
    let profile = "name: r\nurl: \"builtin:\"\ncapabilities: { qos2: false, retain: true }\n";
    let (code, stdout, junit, json) = run(dir.path(), profile, &[]);
    assert_eq!(code, 0, "{stdout}");
    let reason = "target lacks qos2 (profile)";
    assert!(
        stdout.contains(&format!("skip: cap.needs-qos2 ({reason})")),
        "{stdout}"
    );
    assert!(stdout.contains("1 passed, 0 failed, 1 skipped"), "{stdout}");
    assert!(junit.contains(&format!("skip: {reason}")), "{junit}");
    let c = case_json(&json, "cap.needs-qos2");
    assert_eq!(c["verdict"], "skip");
    assert_eq!(c["reason"], reason);
    assert_eq!(case_json(&json, "cap.ping")["verdict"], "pass");
    // Marked available (or not mentioned), the requirement is met and the case runs.
    let (code, stdout, _, json) = run(dir.path(), "name: r\nurl: \"builtin:\"\n", &[]);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(case_json(&json, "cap.needs-qos2")["verdict"], "pass");
}

#[test]
fn a_stale_deviation_exits_1_unless_allowed_and_reports_carry_reasons() {
    // The wrong expectation fails against a conforming server: that is the declared deviation.
    let wrong = PING
        .replace("cap.ping", "cap.wrong")
        .replace("type: pingresp", "type: puback, id: 1");
    let dir = cases(&[("ping.yaml", PING.into()), ("wrong.yaml", wrong)]);
    let profile = r#"name: r
url: "builtin:"
deviations:
  - { case: cap.ping, reason: "said to drop PINGREQ" }
  - { case: cap.wrong, reason: "answers PINGREQ oddly" }
"#;
    let (code, stdout, junit, json) = run(dir.path(), profile, &[]);
    assert_eq!(code, 1, "{stdout}");
    let xpass = "declared deviation not observed: said to drop PINGREQ";
    assert!(
        stdout.contains(&format!("xpass: cap.ping ({xpass})")),
        "{stdout}"
    );
    assert!(
        stdout.contains("xfail: cap.wrong (answers PINGREQ oddly)"),
        "{stdout}"
    );
    assert!(junit.contains(&format!("xpass: {xpass}")), "{junit}");
    assert!(junit.contains("xfail: answers PINGREQ oddly"), "{junit}");
    assert_eq!(case_json(&json, "cap.ping")["verdict"], "xpass");
    assert_eq!(case_json(&json, "cap.ping")["reason"], xpass);
    assert_eq!(case_json(&json, "cap.wrong")["verdict"], "xfail");
    assert_eq!(
        case_json(&json, "cap.wrong")["reason"],
        "answers PINGREQ oddly"
    );
    let (code, stdout, _, _) = run(dir.path(), profile, &["--allow-xpass"]);
    assert_eq!(code, 0, "{stdout}");
}
