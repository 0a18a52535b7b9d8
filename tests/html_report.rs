//! `wirecheck run --html`: the real binary against the built-in target with faults (a packet
//! difference and a snapshot-only difference), the file checked statically against the run's
//! JSON report, then loaded by headless Chromium: screenshot, DOM after the scripts ran, and the
//! filter driven from the URL fragment.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Deadline of one wirecheck run or one Chromium call.
const DEADLINE: Duration = Duration::from_secs(60);

const CHROMIUM: &str = "/usr/bin/chromium";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Waits for `child` and its output until [`DEADLINE`]; past it the child is killed and the
/// test fails.
fn wait_bounded(child: Child, what: &str) -> Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(out) => out.unwrap_or_else(|e| panic!("{what}: {e}")),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!(
                "{what} did not finish within {}s; killed",
                DEADLINE.as_secs()
            );
        }
    }
}

/// Whether Chromium is there: with CI=true its absence fails the test, otherwise a loud notice.
fn require_chromium() -> bool {
    let ok = Command::new(CHROMIUM)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map(|c| wait_bounded(c, "chromium --version").status.success())
        .unwrap_or(false);
    if ok {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "CI (CI=true) requires Chromium at {CHROMIUM} for the HTML report test; \
             run scripts/servers/install.sh"
        );
    }
    let bar = "=".repeat(72);
    let _ = writeln!(
        std::io::stderr(),
        "\n{bar}\nSKIPPED: Chromium ({CHROMIUM}) is not installed; run scripts/servers/install.sh\n\
         (the HTML report was checked statically only, NOT in a browser; with CI=true this fails)\n{bar}\n"
    );
    false
}

/// Runs headless Chromium on `url` with `extra` flags; returns its stdout.
fn chromium(url: &str, extra: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(CHROMIUM);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--virtual-time-budget=2000",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .args(extra)
    .arg(url)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let out = wait_bounded(cmd.spawn().expect("chromium starts"), "chromium");
    assert!(
        out.status.success(),
        "chromium {extra:?} {url} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Copies the reference snapshots whose case ids start with one of `prefixes` into `to`.
fn copy_snapshots(prefixes: &[&str], to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(root().join("snapshots/reference")).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".snap") && prefixes.iter().any(|p| name.starts_with(p)) {
            std::fs::copy(e.path(), to.join(&name)).unwrap();
        }
    }
}

/// Every `<tr class="case-row ...">` start tag of a document.
fn case_rows(html: &str) -> Vec<String> {
    let re = regex::Regex::new(r#"<tr class="case-row[^"]*"[^>]*>"#).unwrap();
    re.find_iter(html).map(|m| m.as_str().to_string()).collect()
}

fn attr_of<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    tag[start..].split('"').next()
}

fn is_hidden(row: &str) -> bool {
    row.contains(" hidden")
}

/// The visible rows of a DOM dump, as (verdict, group).
fn visible(dom: &str) -> Vec<(String, String)> {
    case_rows(dom)
        .iter()
        .filter(|r| !is_hidden(r))
        .map(|r| {
            (
                attr_of(r, "data-verdict").unwrap().to_string(),
                attr_of(r, "data-group").unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn html_report_of_a_failing_run_renders_and_filters_in_chromium() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    // A copy of the reference snapshots: a difference writes its .snap.new there, not in the tree.
    let snaps = dir.path().join("snapshots");
    copy_snapshots(
        &["mqtt311.", "xmpp.iq.", "xmpp.presence."],
        &snaps.join("reference"),
    );
    let html_path = dir.path().join("report").join("run.html");
    let json_path = dir.path().join("run.json");
    let child = Command::new(env!("CARGO_BIN_EXE_wirecheck"))
        .current_dir(root())
        .args([
            "run",
            // PUBACK with the wrong id: a packet difference (expected vs actual).
            "--fault",
            "wrong-puback-id",
            // An extra attribute only the snapshot sees: a unified snapshot diff.
            "--fault",
            "extra-presence-attribute",
            "--snapshot-dir",
        ])
        .arg(&snaps)
        .arg("--json")
        .arg(&json_path)
        .arg("--html")
        .arg(&html_path)
        .args([
            "cases/mqtt/v311/publish-qos1.yaml",
            "cases/mqtt/v311/connect-accepted.yaml",
            "cases/mqtt/v311/subscribe-suback.yaml",
            "cases/xmpp/presence/initial-reflected.yaml",
            "cases/xmpp/iq",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wirecheck starts");
    let out = wait_bounded(child, "wirecheck run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed check exits 1\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("HTML report: {}", html_path.display())),
        "{stdout}"
    );
    let html = std::fs::read_to_string(&html_path).expect("the HTML report was written");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();

    // Self-contained: no tag refers to anything outside the file (escaped text cannot open a tag).
    let remote = regex::Regex::new(
        r#"(?i)<[a-z][^>]*\s(src|href|action|srcset|poster|data)\s*=\s*["']?\s*([a-z][a-z0-9+.-]*:|//)"#,
    )
    .unwrap();
    assert!(
        remote.find(&html).is_none(),
        "external reference: {:?}",
        remote.find(&html).map(|m| m.as_str())
    );
    assert!(!html.contains("<link") && !html.contains("<script src") && !html.contains("@import"));

    // The counts agree with the JSON report of the same run.
    let cases = json["cases"].as_array().unwrap();
    let rows = case_rows(&html);
    assert_eq!(rows.len(), cases.len());
    assert_eq!(html.matches("<details class=\"case\"").count(), cases.len());
    assert_eq!(
        json["run_id"].as_str(),
        Some(extract(&html, "run-id").as_str())
    );
    let totals = &json["totals"];
    for (verdict, key) in [
        ("pass", "passed"),
        ("fail", "failed"),
        ("error", "errors"),
        ("skip", "skipped"),
        ("xfail", "xfailed"),
        ("xpass", "xpassed"),
        ("interrupted", "interrupted"),
    ] {
        let want = totals[key].as_u64().unwrap() as usize;
        assert_eq!(
            extract(&html, &format!("total-{verdict}"))
                .parse::<usize>()
                .unwrap(),
            want,
            "header total {verdict}"
        );
        let in_rows = rows
            .iter()
            .filter(|r| attr_of(r, "data-verdict") == Some(verdict))
            .count();
        assert_eq!(in_rows, want, "rows with verdict {verdict}");
    }
    let failed = totals["failed"].as_u64().unwrap() as usize;
    let passed = totals["passed"].as_u64().unwrap() as usize;
    assert!(failed >= 2 && passed >= 1, "{totals}");

    // The packet difference, its location and statement texts; the snapshot diff.
    assert!(
        html.contains("<ins class=\"diff-add\">4</ins>"),
        "PUBACK id highlighted"
    );
    assert!(html.contains("<code class=\"loc\">cases/mqtt/v311/publish-qos1.yaml:"));
    assert!(html.contains("(MQTT 3.1.1)\">MQTT-2.3.1-6</abbr>"));
    assert!(
        html.contains("<span class=\"diff-add\">+&lt;&lt; &lt;presence")
            && html.contains("xml:lang='en'/&gt;</span>"),
        "snapshot diff line highlighted"
    );
    // The failing step's transcript entries are marked and linked.
    let link = regex::Regex::new(r##"href="#(case-\d+-step-\d+)""##).unwrap();
    let anchor = link.captures(&html).expect("a failure links its step")[1].to_string();
    assert!(html.contains(&format!("id=\"{anchor}\"")));
    assert!(html.contains("class=\"entry received failing-step\""));

    if require_chromium() {
        let url = format!("file://{}", html_path.display());
        let shot = dir.path().join("shot.png");
        chromium(
            &url,
            &[
                "--window-size=1280,2000",
                &format!("--screenshot={}", shot.display()),
            ],
        );
        let bytes = std::fs::read(&shot).expect("chromium wrote the screenshot");
        assert!(
            bytes.len() > 1000 && bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            "a non-empty PNG"
        );
        std::fs::create_dir_all(root().join("target")).unwrap();
        std::fs::write(root().join("target/html-report.png"), &bytes).unwrap();
        if let Some(extra) = std::env::var_os("WIRECHECK_HTML_SCREENSHOT") {
            std::fs::write(&extra, &bytes).unwrap();
        }

        let dom = chromium(&url, &["--dump-dom"]);
        assert!(dom.contains("data-filtered=\"yes\""), "the script ran");
        assert_eq!(case_rows(&dom).len(), cases.len());
        assert_eq!(
            visible(&dom).len(),
            cases.len(),
            "no filter: every row shown"
        );
        assert!(dom.contains("<ins class=\"diff-add\">4</ins>"));
        assert!(dom.contains("<span class=\"diff-add\">+&lt;&lt; &lt;presence"));
        assert!(dom.contains(&format!("{0} of {0} cases shown", cases.len())));

        let dom = chromium(&format!("{url}#verdict=fail"), &["--dump-dom"]);
        let shown = visible(&dom);
        assert_eq!(shown.len(), failed, "only failing rows visible");
        assert!(shown.iter().all(|(v, _)| v == "fail"));
        assert_eq!(
            case_rows(&dom).iter().filter(|r| is_hidden(r)).count(),
            cases.len() - failed
        );

        let dom = chromium(
            &format!("{url}#verdict=pass,fail&group=xmpp"),
            &["--dump-dom"],
        );
        let want = cases
            .iter()
            .filter(|c| {
                c["group"] == "xmpp" && matches!(c["verdict"].as_str(), Some("pass" | "fail"))
            })
            .count();
        let shown = visible(&dom);
        assert_eq!(
            shown.len(),
            want,
            "group xmpp holds xmpp.iq and xmpp.presence"
        );
        assert!(shown.iter().all(|(_, g)| g.starts_with("xmpp.")));

        let dom = chromium(&format!("{url}#group=mqtt.v5"), &["--dump-dom"]);
        assert_eq!(visible(&dom).len(), 0, "no MQTT 5.0 case ran");
    }
    let _ = writeln!(
        std::io::stderr(),
        "html_report: {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

/// The text of the element with this id.
fn extract(html: &str, id: &str) -> String {
    let start = html
        .find(&format!("id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no #{id}"));
    let rest = &html[start + id.len() + 6..];
    rest[..rest.find('<').unwrap()].to_string()
}

#[test]
fn html_path_must_differ_from_the_other_reports() {
    let dir = tempfile::tempdir().unwrap();
    let same = dir.path().join("r.out");
    let child = Command::new(env!("CARGO_BIN_EXE_wirecheck"))
        .current_dir(root())
        .args(["run", "cases/mqtt/v311/connect-accepted.yaml", "--json"])
        .arg(&same)
        .arg("--html")
        .arg(&same)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_bounded(child, "wirecheck run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "--json and --html both name {}; give each report its own file",
            same.display()
        )),
        "{stderr}"
    );
    assert!(!same.exists());
}
