//! TLS transports: mqtts:// and wss:// through a TLS terminator in front of the reference
//! target. Certificates are verified by default; `--ca` trusts a file, `--insecure` skips.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output};

use support::pki::{TestCa, tls_proxy};
use wirecheck::reference::Reference;

fn wirecheck(args: &[&str], envs: &[(&str, String)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wirecheck"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        // URL targets on free ports: no snapshots left in the repository.
        .env("WIRECHECK_SNAPSHOTS", "off")
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("wirecheck runs")
}

/// Runs the binary off the async runtime, so the TLS proxies keep serving meanwhile.
async fn wirecheck_async(args: Vec<&str>, envs: &[(&str, String)]) -> Output {
    let args: Vec<String> = args.into_iter().map(str::to_string).collect();
    let envs: Vec<(String, String)> = envs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let envs: Vec<(&str, String)> = envs.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        wirecheck(&args, &envs)
    })
    .await
    .expect("wirecheck task")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtts_and_wss_verify_certificates() {
    let authority = TestCa::new("wirecheck test CA");
    let cert = authority.issue(&["localhost"], -1, 30);
    let dir = tempfile::tempdir().unwrap();
    let ca = authority.write(dir.path()).to_str().unwrap().to_string();

    let reference = Reference::start(&[]).await.unwrap();
    let mqtt_back: SocketAddr = format!("127.0.0.1:{}", reference.mqtt_endpoint().port)
        .parse()
        .unwrap();
    let xmpp_back: SocketAddr = format!("127.0.0.1:{}", reference.xmpp_endpoint().port)
        .parse()
        .unwrap();
    let mqtt_port = tls_proxy(mqtt_back, &cert).await;
    let xmpp_port = tls_proxy(xmpp_back, &cert).await;
    let mqtts = format!("mqtts://localhost:{mqtt_port}");
    let wss = format!("wss://localhost:{xmpp_port}/xmpp-websocket");
    let accounts: Vec<String> = reference
        .accounts()
        .iter()
        .map(|a| format!("{}:{}", a.user, a.password.expose()))
        .collect();
    let env = [("WIRECHECK_XMPP_ACCOUNTS", accounts.join(","))];
    let mqtt_cases = Path::new("cases/mqtt/v311/publish-qos1.yaml")
        .to_str()
        .unwrap();
    let xmpp_cases = "cases/xmpp/presence";

    let out = wirecheck_async(
        vec!["run", "--target", &mqtts, "--ca", &ca, mqtt_cases],
        &[],
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "mqtts with --ca:\n{}",
        text(&out)
    );

    let out = wirecheck_async(vec!["run", "--target", &mqtts, mqtt_cases], &[]).await;
    assert_eq!(
        out.status.code(),
        Some(3),
        "untrusted certificate must not pass:\n{}",
        text(&out)
    );
    assert!(text(&out).contains("TLS"), "{}", text(&out));

    let out = wirecheck_async(
        vec!["run", "--target", &mqtts, "--insecure", mqtt_cases],
        &[],
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "mqtts --insecure:\n{}",
        text(&out)
    );

    let args = vec![
        "run",
        "--target",
        &wss,
        "--ca",
        &ca,
        "--domain",
        "localhost",
        xmpp_cases,
    ];
    let out = wirecheck_async(args, &env).await;
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "wss with --ca:\n{t}");
    assert!(
        !t.contains(&reference.accounts()[0].password.expose().to_string()),
        "password leaked"
    );
}
