//! Ctrl-C (SIGINT) ends a run gracefully: the finished cases keep their verdicts, the running
//! ones are marked interrupted after their cleanup ran (retained messages cleared on the broker),
//! the reports are written and the exit code is 130. Against a real mosquitto, since the check
//! of what is left behind must outlive the wirecheck process.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::RealServer;

fn case(dir: &std::path::Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn sigint_keeps_the_report_cleans_up_and_exits_130() {
    let Some(server) = RealServer::start("mosquitto") else {
        return;
    };
    let url = server.var("WIRECHECK_MOSQUITTO_URL").to_string();
    let token = format!(
        "{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    );
    let topic = format!("wirecheck-interrupt/{token}/r");
    let dir = tempfile::tempdir().unwrap();
    case(
        dir.path(),
        "quick.yaml",
        r#"id: interrupt.quick
title: PINGREQ gets PINGRESP
protocol: mqtt
version: "3.1.1"
spec: [MQTT-3.12.4-1]
actors: { c: {} }
steps:
  - connect: c
  - send: { actor: c, packet: { type: pingreq } }
  - expect: { actor: c, packet: { type: pingresp } }
"#,
    );
    case(
        dir.path(),
        "slow.yaml",
        &format!(
            r#"id: interrupt.slow
title: leaves a retained message, then waits far longer than the test
protocol: mqtt
version: "3.1.1"
spec: [MQTT-3.3.1-5]
actors: {{ p: {{}} }}
steps:
  - connect: p
  - send: {{ actor: p, packet: {{ type: publish, qos: 1, id: 1, retain: true, topic: "{topic}", payload: left }} }}
  - expect: {{ actor: p, packet: {{ type: puback, id: 1 }} }}
  - sleep: 60s
"#
        ),
    );
    let reports = tempfile::tempdir().unwrap();
    let junit = reports.path().join("junit.xml");
    let json = reports.path().join("report.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_wirecheck"))
        .args(["run", "-j", "2", "--target", &url, "--junit"])
        .arg(&junit)
        .arg("--json")
        .arg(&json)
        .arg(dir.path())
        .env("NO_COLOR", "1")
        // Temporary cases must not leave snapshots in the repository.
        .env("WIRECHECK_SNAPSHOTS", "off")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Long enough for the quick case to finish and the slow one to leave its message.
    std::thread::sleep(Duration::from_millis(1500));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("wirecheck did not stop within 20 s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(status.code(), Some(130), "{text}");
    assert!(
        text.contains("1 passed") && text.contains("1 interrupted"),
        "{text}"
    );

    let xml = std::fs::read_to_string(&junit).unwrap_or_else(|e| panic!("no JUnit ({e}):\n{text}"));
    assert!(xml.contains("name=\"interrupt.quick\""), "{xml}");
    assert!(xml.contains("interrupted:"), "{xml}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let verdicts: Vec<(String, String)> = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        verdicts.contains(&("interrupt.quick".into(), "pass".into())),
        "{verdicts:?}"
    );
    assert!(
        verdicts.contains(&("interrupt.slow".into(), "interrupted".into())),
        "{verdicts:?}"
    );

    // The slow case's cleanup ran: a new subscriber gets no retained message on its topic.
    let check = tempfile::tempdir().unwrap();
    case(
        check.path(),
        "nothing-left.yaml",
        &format!(
            r#"id: interrupt.nothing-left
title: no retained message is left behind
protocol: mqtt
version: "3.1.1"
spec: [MQTT-3.3.1-10]
actors: {{ s: {{}} }}
steps:
  - connect: s
  - send: {{ actor: s, packet: {{ type: subscribe, id: 1, filters: [{{ topic: "{topic}", qos: 0 }}] }} }}
  - expect: {{ actor: s, packet: {{ type: suback, id: 1 }} }}
  - expect_none: {{ actor: s, for: 500ms }}
"#
        ),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_wirecheck"))
        .args(["run", "--target", &url])
        .arg(check.path())
        .env("NO_COLOR", "1")
        // Temporary cases must not leave snapshots in the repository.
        .env("WIRECHECK_SNAPSHOTS", "off")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "a retained message was left behind:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
