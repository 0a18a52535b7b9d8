//! The suite against real servers started by scripts/servers/*.sh: mosquitto (TCP and
//! WebSocket) and prosody. Without the server installed these skip loudly; with CI=true they fail.

mod support;

use std::process::Command;

use support::RealServer;

fn run_suite(server: &RealServer, args: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let out = Command::new(env!("CARGO_BIN_EXE_wirecheck"))
        .arg("run")
        .args(args)
        .arg("--junit")
        .arg(&junit)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .envs(server.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .expect("wirecheck runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let xml = std::fs::read_to_string(&junit).unwrap_or_default();
    assert!(
        xml.contains("<testsuites"),
        "no JUnit report written:\n{text}"
    );
    (out.status.code(), text)
}

#[test]
fn mosquitto_passes_the_mqtt_suite_over_tcp() {
    let Some(server) = RealServer::start("mosquitto") else {
        return;
    };
    let (code, text) = run_suite(
        &server,
        &["--target", "targets/mosquitto.yaml", "cases/mqtt"],
    );
    eprintln!("{text}");
    assert_eq!(code, Some(0), "mosquitto over TCP:\n{text}");
    assert!(text.contains(" passed, 0 failed"), "{text}");
}

#[test]
fn mosquitto_passes_the_mqtt_suite_over_websocket() {
    let Some(server) = RealServer::start("mosquitto") else {
        return;
    };
    let (code, text) = run_suite(
        &server,
        &["--target", "targets/mosquitto-ws.yaml", "cases/mqtt"],
    );
    eprintln!("{text}");
    assert_eq!(code, Some(0), "mosquitto over WebSocket:\n{text}");
}

#[test]
fn prosody_passes_the_xmpp_suite() {
    let Some(server) = RealServer::start("prosody") else {
        return;
    };
    let (code, text) = run_suite(&server, &["--target", "targets/prosody.yaml", "cases/xmpp"]);
    eprintln!("{text}");
    assert_eq!(code, Some(0), "prosody:\n{text}");
    assert!(text.contains(" passed, 0 failed"), "{text}");
}

/// A broker that requires a password: with the profile's credentials every case passes and the
/// password shows in no output or report; without them every case is a set-up error (exit 5),
/// not a conformance failure.
#[test]
fn mosquitto_with_a_password_listener() {
    let Some(server) = RealServer::start("mosquitto") else {
        return;
    };
    let password = server.var("WIRECHECK_MQTT_PASSWORD").to_string();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let (code, text) = run_suite(
        &server,
        &[
            "--target",
            "targets/mosquitto-auth.yaml",
            "--json",
            json.to_str().unwrap(),
            "cases/mqtt",
        ],
    );
    eprintln!("{text}");
    assert_eq!(code, Some(0), "mosquitto with a password:\n{text}");
    assert!(!text.contains(&password), "the password was printed");
    let report = std::fs::read_to_string(&json).unwrap();
    assert!(
        !report.contains(&password),
        "the password is in the JSON report"
    );
    assert!(
        report.contains("\"username\": \"wcuser\""),
        "the CONNECTs did not carry the user name"
    );

    let url = server.var("WIRECHECK_MOSQUITTO_AUTH_URL").to_string();
    let (code, text) = run_suite(
        &server,
        &[
            "--target",
            &url,
            "--case",
            "mqtt311.publish.qos1",
            "cases/mqtt",
        ],
    );
    assert_eq!(
        code,
        Some(5),
        "anonymous against the password listener:\n{text}"
    );
    assert!(text.contains("refused the connection"), "{text}");
    assert!(text.contains("0 failed"), "{text}");
}
