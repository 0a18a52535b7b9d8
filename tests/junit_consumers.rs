//! JUnit reports parse with real consumers (python junitparser, xmllint), even when a
//! transcript carries `]]>` and control bytes, as fuzz transcripts do.

use std::process::Command;
use std::time::Duration;

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
