//! `wirecheck audit` against real servers started by scripts/servers (mosquitto, prosody), plain
//! and over TLS with a CA and certificates the test makes (rcgen): the untrusted, expired and
//! wrongly named certificates are each reported, the trusted one passes; host-meta discovery
//! through a local HTTPS server; the password never appears in any output.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::RealServer;
use support::pki::{ServerCert, TestCa, https_pages, tls_proxy};

fn wirecheck(args: &[String], envs: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wirecheck"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .env_remove("WIRECHECK_XMPP_ACCOUNTS")
        .envs(envs.iter().copied())
        .output()
        .expect("wirecheck runs")
}

/// Runs the binary off the async runtime, so the test's TLS servers keep serving meanwhile.
async fn audit(args: &[&str], envs: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut all = vec!["audit".to_string()];
    all.extend(args.iter().map(|a| a.to_string()));
    let envs: Vec<(String, String)> = envs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let out = tokio::task::spawn_blocking(move || {
        let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        wirecheck(&all, &envs)
    })
    .await
    .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// The status word of fact `name` in the audit output (`ok`, `info`, `warn`, `finding`).
fn fact<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        let mut words = l.split_whitespace();
        let status = words.next()?;
        let rest = l.trim_start()[status.len()..].trim_start();
        rest.starts_with(&format!("{name}:")).then_some(status)
    })
}

/// A real server started with TLS listeners on a certificate for localhost and 127.0.0.1 that
/// a CA of the test's own signed.
struct TlsServer {
    server: RealServer,
    ca: TestCa,
    cert: ServerCert,
    ca_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl TlsServer {
    /// Starts `name` (None: not installed, and not CI).
    fn start(name: &str) -> Option<TlsServer> {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new("wirecheck audit test CA");
        let cert = ca.issue(&["localhost", "127.0.0.1"], -1, 90);
        let (cert_file, key_file) = cert.write(dir.path(), "server");
        let ca_file = ca.write(dir.path());
        let server = RealServer::start_with_env(
            name,
            &[
                ("WIRECHECK_TLS_CERT", cert_file.to_str().unwrap()),
                ("WIRECHECK_TLS_KEY", key_file.to_str().unwrap()),
            ],
        )?;
        Some(TlsServer {
            server,
            ca,
            cert,
            ca_file,
            _dir: dir,
        })
    }
}

fn addr(url: &str) -> SocketAddr {
    let hostport = url.split("://").nth(1).unwrap().split('/').next().unwrap();
    hostport.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_plain_tls_and_bad_certificates() {
    let Some(tls) = TlsServer::start("mosquitto") else {
        return;
    };
    let (server, ca) = (&tls.server, &tls.ca);
    let ca_file = tls.ca_file.to_str().unwrap();
    let plain = server.var("WIRECHECK_MOSQUITTO_URL").to_string();
    let mqtts = server.var("WIRECHECK_MOSQUITTO_TLS_URL").to_string();
    let wss = server.var("WIRECHECK_MOSQUITTO_WSS_URL").to_string();

    let (code, text) = audit(&[&plain], &[]).await;
    assert_eq!(code, Some(0), "plain mqtt:// audit:\n{text}");
    assert_eq!(fact(&text, "Transport"), Some("warn"), "{text}");
    assert_eq!(fact(&text, "Anonymous clients"), Some("warn"), "{text}");
    assert_eq!(fact(&text, "MQTT 5.0"), Some("ok"), "{text}");
    assert!(text.contains("Receive maximum:"), "{text}");
    assert!(text.contains("Audit verdict: PASS"), "{text}");

    let (code, text) = audit(&[&mqtts], &[]).await;
    assert_eq!(code, Some(1), "an untrusted certificate must fail:\n{text}");
    assert_eq!(fact(&text, "Certificate chain"), Some("finding"), "{text}");
    assert!(
        text.contains("not among the system's trusted roots"),
        "{text}"
    );
    assert_eq!(fact(&text, "Certificate host name"), Some("ok"), "{text}");
    assert!(text.contains("security") && text.contains("FAIL"), "{text}");

    let (code, text) = audit(&[&mqtts, "--insecure"], &[]).await;
    assert_eq!(code, Some(0), "--insecure accepts the chain:\n{text}");
    assert_eq!(fact(&text, "Certificate chain"), Some("warn"), "{text}");

    let (code, text) = audit(&[&mqtts, "--ca", ca_file], &[]).await;
    assert_eq!(code, Some(0), "trusted with --ca:\n{text}");
    assert_eq!(fact(&text, "Certificate chain"), Some("ok"), "{text}");
    assert_eq!(fact(&text, "Certificate expiry"), Some("ok"), "{text}");
    assert_eq!(fact(&text, "TLS version"), Some("ok"), "{text}");
    assert!(text.contains("Audit verdict: PASS"), "{text}");

    let (code, text) = audit(&[&wss, "--ca", ca_file], &[]).await;
    assert_eq!(code, Some(0), "wss:// with --ca:\n{text}");
    assert!(
        text.contains("WebSocket subprotocol: offered xmpp, mqtt; selected mqtt"),
        "{text}"
    );

    // The same broker behind a TLS terminator with an expired and a wrongly named certificate.
    let backend = addr(&plain);
    let expired = ca.issue(&["localhost", "127.0.0.1"], -60, -2);
    let port = tls_proxy(backend, &expired).await;
    let url = format!("mqtts://127.0.0.1:{port}");
    let (code, text) = audit(&[&url, "--ca", ca_file], &[]).await;
    assert_eq!(code, Some(1), "an expired certificate must fail:\n{text}");
    assert_eq!(fact(&text, "Certificate expiry"), Some("finding"), "{text}");
    assert!(text.contains("outside its validity"), "{text}");
    assert!(text.contains("has expired"), "{text}");

    let misnamed = ca.issue(&["wrong.example"], -1, 90);
    let port = tls_proxy(backend, &misnamed).await;
    let url = format!("mqtts://127.0.0.1:{port}");
    let (code, text) = audit(&[&url, "--ca", ca_file], &[]).await;
    assert_eq!(code, Some(1), "a hostname mismatch must fail:\n{text}");
    assert_eq!(
        fact(&text, "Certificate host name"),
        Some("finding"),
        "{text}"
    );
    assert!(
        text.contains("does not match 127.0.0.1 (the certificate names wrong.example)"),
        "{text}"
    );
    assert_eq!(fact(&text, "Certificate expiry"), Some("ok"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_credentials_stay_secret() {
    let Some(server) = RealServer::start("mosquitto") else {
        return;
    };
    let url = server.var("WIRECHECK_MOSQUITTO_AUTH_URL").to_string();
    let user = server.var("WIRECHECK_MQTT_USER").to_string();
    let password = server.var("WIRECHECK_MQTT_PASSWORD").to_string();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("audit.json");
    let junit = dir.path().join("audit.xml");
    let html = dir.path().join("audit.html");
    let (code, text) = audit(
        &[
            &url,
            "--user",
            &user,
            "--password-env",
            "WC_AUDIT_PW",
            "--json",
            json.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
        ],
        &[("WC_AUDIT_PW", &password)],
    )
    .await;
    assert_eq!(code, Some(0), "audit with credentials:\n{text}");
    assert_eq!(fact(&text, "Anonymous clients"), Some("ok"), "{text}");
    assert!(text.contains("refused"), "{text}");
    for (what, body) in [
        ("console", text.clone()),
        ("JSON", std::fs::read_to_string(&json).unwrap()),
        ("JUnit", std::fs::read_to_string(&junit).unwrap()),
        ("HTML", std::fs::read_to_string(&html).unwrap()),
    ] {
        assert!(
            !body.contains(&password),
            "the password appears in the {what} output"
        );
    }
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(doc["audit"]["protocol"], "mqtt");
    assert!(doc["audit"]["areas"].as_array().unwrap().len() == 4);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("Verdict per area") && page.contains("Anonymous clients"),
        "the HTML report lacks the audit tables"
    );

    // Without the credentials the broker refuses: a setup problem, said as such.
    let (code, text) = audit(&[&url], &[]).await;
    assert_ne!(code, Some(0), "{text}");
    assert!(text.contains("give --user and --password-env"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prosody_plain_tls_and_host_meta_discovery() {
    let Some(tls) = TlsServer::start("prosody") else {
        return;
    };
    let (server, good) = (&tls.server, &tls.cert);
    let ca_file = tls.ca_file.to_str().unwrap();
    let ws = server.var("WIRECHECK_PROSODY_URL").to_string();
    let wss = server.var("WIRECHECK_PROSODY_WSS_URL").to_string();
    let password = server.var("WIRECHECK_XMPP_PASSWORD").to_string();
    let deviations = Path::new(env!("CARGO_MANIFEST_DIR")).join("targets/prosody.yaml");
    let deviations = deviations.to_str().unwrap();
    let pw = [("WC_AUDIT_PW", password.as_str())];
    let login = ["--user", "wc1", "--password-env", "WC_AUDIT_PW"];

    // Plain ws://: prosody (consider_websocket_secure) offers PLAIN without TLS: a finding.
    let mut args = vec![
        ws.as_str(),
        "--domain",
        "localhost",
        "--deviations",
        deviations,
    ];
    args.extend(login);
    let (code, text) = audit(&args, &pw).await;
    assert_eq!(
        code,
        Some(1),
        "PLAIN over ws:// must fail security:\n{text}"
    );
    assert_eq!(fact(&text, "SASL PLAIN"), Some("finding"), "{text}");
    assert!(
        text.contains("WebSocket subprotocol: offered xmpp, mqtt; selected xmpp"),
        "{text}"
    );
    assert!(
        text.contains("Features after authentication: resource binding"),
        "{text}"
    );

    // wss:// with the CA: everything passes (prosody's known bugs as declared deviations).
    let mut args = vec![
        wss.as_str(),
        "--ca",
        ca_file,
        "--domain",
        "localhost",
        "--deviations",
        deviations,
    ];
    args.extend(login);
    let (code, text) = audit(&args, &pw).await;
    assert_eq!(code, Some(0), "wss:// with --ca:\n{text}");
    assert_eq!(fact(&text, "SASL PLAIN"), Some("ok"), "{text}");
    assert_eq!(fact(&text, "Certificate chain"), Some("ok"), "{text}");
    assert!(
        !text.contains(&password),
        "the password appears in the output"
    );

    // Without --ca the certificate is untrusted.
    let mut args = vec![
        wss.as_str(),
        "--domain",
        "localhost",
        "--deviations",
        deviations,
    ];
    args.extend(login);
    let (code, text) = audit(&args, &pw).await;
    assert_eq!(code, Some(1), "{text}");
    assert_eq!(fact(&text, "Certificate chain"), Some("finding"), "{text}");

    // A bare domain: host-meta over HTTPS names the wss:// endpoint (JSON form first, then XRD).
    let rel = "urn:xmpp:alt-connections:websocket";
    let jrd = format!(r#"{{"links":[{{"rel":"{rel}","href":"{wss}"}}]}}"#);
    let xrd = format!(
        "<?xml version='1.0'?><XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'><Link rel='{rel}' href='{wss}'/></XRD>"
    );
    for pages in [
        vec![("/.well-known/host-meta.json".to_string(), jrd)],
        vec![("/.well-known/host-meta".to_string(), xrd)],
    ] {
        let port = https_pages(good, pages).await;
        let domain = format!("localhost:{port}");
        let mut args = vec![domain.as_str(), "--ca", ca_file, "--deviations", deviations];
        args.extend(login);
        let (code, text) = audit(&args, &pw).await;
        assert_eq!(code, Some(0), "audit of the domain {domain}:\n{text}");
        assert_eq!(fact(&text, "Endpoint discovery"), Some("ok"), "{text}");
        assert!(text.contains(&format!("names {wss}")), "{text}");
    }

    // A domain whose HTTPS server has no host-meta: unreachable (3), saying what was tried.
    let port = https_pages(good, Vec::new()).await;
    let (code, text) = audit(&[&format!("localhost:{port}"), "--ca", ca_file], &[]).await;
    assert_eq!(code, Some(3), "{text}");
    assert!(
        text.contains("host-meta") && text.contains("HTTP 404"),
        "{text}"
    );
}

#[test]
fn bad_targets_are_bad_input() {
    for (target, says) in [
        ("ftp://x", "scheme"),
        ("not a domain", "neither a URL"),
        ("host:0", "neither a URL"),
    ] {
        let out = wirecheck(&["audit".to_string(), target.to_string()], &[]);
        let text = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{target}: {text}");
        assert!(text.contains(says), "{target}: {text}");
    }
}
