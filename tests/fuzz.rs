//! `wirecheck fuzz`: the same seed gives the same iterations; the crash faults of the reference
//! target are found from the stock cases in 3 of 3 seeded runs, and each finding case
//! reproduces the crash with `wirecheck run` (the acceptance runs only in `cargo test --release`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wirecheck::fuzz::{Campaign, Config, Limit};
use wirecheck::run::stop::Stop;
use wirecheck::target::{Target, TargetOptions};

const BIN: &str = env!("CARGO_BIN_EXE_wirecheck");
const PASSWORD: &str = "fuzz-test-password";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn config(seed: u64, iterations: u64, out: &Path) -> Config {
    Config {
        seed,
        limit: Limit::Iterations(iterations),
        jobs: iterations as usize,
        out: out.to_path_buf(),
        timeout: Duration::from_millis(300),
        probe_deadline: Duration::from_secs(2),
        max_rss_kib: None,
        extra: 0.05,
        connect: Default::default(),
        progress: false,
        max_findings: None,
    }
}

async fn trace(seed: u64) -> Vec<String> {
    let cases = wirecheck::case::load_all(&[root().join("cases/mqtt/v311")]).expect("cases load");
    let target = Target::resolve(None, &TargetOptions::default())
        .await
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let summary = Campaign::new(config(seed, 16, out.path()), cases, target, None)
        .run(Stop::new())
        .await
        .expect("campaign runs");
    assert_eq!(summary.iterations, 16);
    assert!(summary.mutated > 0, "{summary:?}");
    summary
        .trace
        .iter()
        .map(|t| t.split(" [").next().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_plans_the_same_iterations() {
    let a = trace(42).await;
    let b = trace(42).await;
    assert_eq!(a, b);
    let c = trace(43).await;
    assert_ne!(a, c, "another seed plans other iterations");
}

/// One campaign of the binary against a spawned faulty reference server; returns the findings.
fn campaign(fault: &str, seed: u64, out: &Path) -> (Vec<serde_json::Value>, Duration) {
    // Seeds: stock cases of one area (the subscribe cases of 5.0; the iq cases of XMPP).
    let (spawn, target, extra, seeds): (String, &str, &[&str], &[&str]) = if fault.contains("xmpp")
    {
        (
            format!("{BIN} serve --fault {fault} --xmpp-port {{port}}"),
            "ws://127.0.0.1:{port}/xmpp-websocket",
            &[
                "--protocol",
                "xmpp",
                "--domain",
                "localhost",
                "--timeout",
                "1s",
                "-j",
                "8",
            ],
            &["cases/xmpp/iq"],
        )
    } else {
        (
            format!("{BIN} serve --fault {fault} --mqtt-port {{port}}"),
            "mqtt://127.0.0.1:{port}",
            &["-j", "64"],
            &["cases/mqtt/v5", "--tag", "subscribe"],
        )
    };
    let started = Instant::now();
    let status = Command::new(BIN)
        .current_dir(root())
        .args([
            "fuzz",
            "--spawn",
            &spawn,
            "--target",
            target,
            "--seed",
            &seed.to_string(),
        ])
        .args(["--duration", "120s", "--max-findings", "1", "--out"])
        .arg(out)
        .args(extra)
        .args(seeds)
        .env("WIRECHECK_SNAPSHOTS", "off")
        .env("WIRECHECK_REFERENCE_PASSWORD", PASSWORD)
        .env("WIRECHECK_XMPP_ACCOUNTS", accounts())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("wirecheck fuzz runs");
    let took = started.elapsed();
    assert!(
        status.code().is_some(),
        "wirecheck fuzz itself was killed: {status:?}"
    );
    let text = std::fs::read_to_string(out.join("findings.json")).unwrap_or_else(|_| "[]".into());
    (serde_json::from_str(&text).unwrap(), took)
}

fn accounts() -> String {
    (1..=wirecheck::reference::POOL_SIZE)
        .map(|i| format!("wc{i}:{PASSWORD}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Runs a finding case with `wirecheck run` against a fresh server with `faults`; returns
/// (run's exit code, the server's signal if it died).
fn replay(case: &Path, faults: &[&str], xmpp: bool) -> (i32, Option<i32>) {
    use std::os::unix::process::ExitStatusExt;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut serve = Command::new(BIN);
    serve
        .arg("serve")
        .env("WIRECHECK_REFERENCE_PASSWORD", PASSWORD);
    for f in faults {
        serve.args(["--fault", f]);
    }
    serve.args([
        if xmpp { "--xmpp-port" } else { "--mqtt-port" },
        &port.to_string(),
    ]);
    let mut server = serve
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    let target = if xmpp {
        format!("ws://127.0.0.1:{port}/xmpp-websocket")
    } else {
        format!("mqtt://127.0.0.1:{port}")
    };
    let mut run = Command::new(BIN);
    run.args(["run", "--target", &target, "--timeout", "2s"]);
    if xmpp {
        run.args(["--protocol", "xmpp", "--domain", "localhost"]);
    }
    let code = run
        .arg(case)
        .env("WIRECHECK_SNAPSHOTS", "off")
        .env("WIRECHECK_XMPP_ACCOUNTS", accounts())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .code()
        .unwrap_or(-1);
    std::thread::sleep(Duration::from_millis(200));
    let signal = match server.try_wait().unwrap() {
        Some(status) => status.signal(),
        None => {
            let _ = server.kill();
            let _ = server.wait();
            None
        }
    };
    (code, signal)
}

/// How many seeded campaigns each crash test runs: 3 (the acceptance), or
/// `WIRECHECK_FUZZ_SEEDS` (CI runs one, to stay within its time budget).
fn seeds() -> u64 {
    std::env::var("WIRECHECK_FUZZ_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| (1..=10).contains(n))
        .unwrap_or(3)
}

fn finds_and_reproduces(fault: &str) {
    let xmpp = fault.contains("xmpp");
    for seed in 1..=seeds() {
        let out = tempfile::tempdir().unwrap();
        let (findings, took) = campaign(fault, seed, out.path());
        let crash = findings
            .iter()
            .find(|f| f["oracle"] == "crash")
            .unwrap_or_else(|| {
                panic!("{fault}, seed {seed}: no crash found in {took:?}: {findings:?}")
            });
        assert_eq!(crash["reproduced"], true, "{crash}");
        let after = crash["after_s"].as_f64().unwrap();
        assert!(after < 120.0, "{fault}, seed {seed}: found after {after}s");
        eprintln!(
            "{fault} seed {seed}: found after {after:.1}s (iteration {}), {} message(s) in the case",
            crash["iteration"], crash["messages"]
        );
        let case = PathBuf::from(crash["file"].as_str().unwrap());
        let (code, signal) = replay(&case, &[fault], xmpp);
        assert_eq!(
            signal,
            Some(6),
            "{fault}: the finding case aborts a fresh faulty server (run exit {code})"
        );
        assert_ne!(
            code, 0,
            "{fault}: the finding case fails against the faulty server"
        );
        let (code, signal) = replay(&case, &[], xmpp);
        assert_eq!(
            (code, signal),
            (0, None),
            "{fault}: the finding case passes against a server without the fault"
        );
    }
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "takes minutes in a debug build: run with cargo test --release"
)]
fn crash_mqtt5_deep_is_found_in_three_seeded_runs() {
    finds_and_reproduces("crash-mqtt5-deep");
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "takes minutes in a debug build: run with cargo test --release"
)]
fn crash_xmpp_after_login_is_found_in_three_seeded_runs() {
    finds_and_reproduces("crash-xmpp-after-login");
}

/// A spec finding (a reply the strict decoder flags) is replayed alone, minimised, and written
/// as a case that fails with that statement against the faulty server and passes without it.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "takes a minute in a debug build: run with cargo test --release"
)]
fn a_spec_finding_is_confirmed_minimised_and_replays() {
    let fault = "oversize-packet-sent";
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(BIN)
        .current_dir(root())
        .args(["fuzz", "--spawn"])
        .arg(format!("{BIN} serve --fault {fault} --mqtt-port {{port}}"))
        .args(["--target", "mqtt://127.0.0.1:{port}", "--seed", "1"])
        .args(["--duration", "60s", "--max-findings", "1", "-j", "16"])
        .arg("--out")
        .arg(out.path())
        .args(["cases/mqtt/v5", "--case", "mqtt5.limits.max-packet-size-q*"])
        .env("WIRECHECK_SNAPSHOTS", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("wirecheck fuzz runs");
    assert_eq!(status.code(), Some(1), "a finding exits 1");
    let text = std::fs::read_to_string(out.path().join("findings.json")).unwrap();
    let findings: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    let spec = findings
        .iter()
        .find(|f| f["oracle"] == "spec")
        .unwrap_or_else(|| panic!("no spec finding: {findings:?}"));
    assert!(
        spec["signature"]
            .as_str()
            .unwrap()
            .contains("MQTT-3.1.2-24"),
        "{spec}"
    );
    assert_eq!(spec["reproduced"], true, "{spec}");
    let case = PathBuf::from(spec["file"].as_str().unwrap());
    let yaml = std::fs::read_to_string(&case).unwrap();
    assert!(yaml.contains("- drain: {"), "{yaml}");
    let (code, _) = replay(&case, &[fault], false);
    assert_eq!(code, 1, "the finding case fails against the faulty server");
    let (code, signal) = replay(&case, &[], false);
    assert_eq!(
        (code, signal),
        (0, None),
        "the finding case passes against a server without the fault"
    );
}
