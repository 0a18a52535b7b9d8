//! Real servers for integration tests: starts `scripts/servers/<name>.sh` into a fresh temp dir.
//!
//! Use from an integration test with `mod support;` and `support::RealServer::start("mosquitto")`.
//! The scripts bind only loopback, pick free ports, and write `DIR/env` (`KEY=VALUE` lines).
#![allow(dead_code)]

pub mod pki;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Exit code the server scripts use for "the server binary is not installed" (sysexits EX_UNAVAILABLE).
const NOT_INSTALLED: i32 = 69;

/// Distinguishes the temp dirs of servers started by one test process.
static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A real server started by scripts/servers/<name>.sh for one test; stopped (script `stop`) on drop.
pub struct RealServer {
    /// Which script started it: "mosquitto" or "prosody".
    pub name: String,
    /// The server's own temp dir: config, data, logs, `pid` and `env`.
    pub dir: PathBuf,
    /// `DIR/env` parsed, in file order, e.g. `("WIRECHECK_MOSQUITTO_URL", "mqtt://127.0.0.1:PORT")`.
    pub env: Vec<(String, String)>,
}

impl RealServer {
    /// Starts `name` ("mosquitto" | "prosody"). When the server binary is not installed: if env CI == "true", panics with a message saying CI requires it; otherwise prints a loud multi-line notice to stderr ("SKIPPED: mosquitto not installed; run scripts/servers/install.sh") and returns None. Any other start failure panics with the script's output.
    pub fn start(name: &str) -> Option<RealServer> {
        Self::start_with_env(name, &[])
    }

    /// [`RealServer::start`] with extra environment for the start script, e.g.
    /// `WIRECHECK_TLS_CERT` / `WIRECHECK_TLS_KEY` for the TLS listeners.
    pub fn start_with_env(name: &str, envs: &[(&str, &str)]) -> Option<RealServer> {
        let script = script_path(name);
        assert!(
            script.is_file(),
            "RealServer::start({name:?}): no such script {}",
            script.display()
        );
        let dir = fresh_dir(name);
        let out = run_script_with_env(&script, "start", &dir, envs);
        match out.status.code() {
            Some(0) => {}
            Some(NOT_INSTALLED) => {
                let _ = std::fs::remove_dir_all(&dir);
                let why = String::from_utf8_lossy(&out.stderr);
                if std::env::var("CI").as_deref() == Ok("true") {
                    panic!(
                        "{name} is not installed, and CI (CI=true) requires it: \
                         .ci/run runs scripts/servers/install.sh first.\n{}",
                        why.trim_end()
                    );
                }
                let bar = "=".repeat(72);
                // Written to the stderr handle, not with eprintln!, so libtest's capture cannot hide it.
                let _ = writeln!(
                    std::io::stderr(),
                    "\n{bar}\nSKIPPED: {name} not installed; run scripts/servers/install.sh\n\
                     (this test ran NO checks against a real {name}; with CI=true it would fail)\n\
                     {}\n{bar}\n",
                    why.trim_end()
                );
                return None;
            }
            _ => {
                // Stop whatever may have come up, keep the dir for inspection.
                let _ = run_script(&script, "stop", &dir);
                panic!(
                    "{} start {} failed ({}); files kept in {}\n{}",
                    script.display(),
                    dir.display(),
                    out.status,
                    dir.display(),
                    describe(&out)
                );
            }
        }
        let env_file = dir.join("env");
        let text = std::fs::read_to_string(&env_file).unwrap_or_else(|e| {
            let _ = run_script(&script, "stop", &dir);
            panic!(
                "{} start succeeded but {} is unreadable: {e}\n{}",
                script.display(),
                env_file.display(),
                describe(&out)
            )
        });
        Some(RealServer {
            name: name.to_string(),
            dir,
            env: parse_env(&text),
        })
    }

    /// The value of `key` from `DIR/env`; panics (listing the keys there) when it is absent.
    pub fn var(&self, key: &str) -> &str {
        match self.env.iter().find(|(k, _)| k == key) {
            Some((_, v)) => v,
            None => {
                let keys: Vec<&str> = self.env.iter().map(|(k, _)| k.as_str()).collect();
                panic!(
                    "{}: no {key} in {}/env (it has {keys:?})",
                    self.name,
                    self.dir.display()
                )
            }
        }
    }
}

impl Drop for RealServer {
    fn drop(&mut self) {
        // Never panic here: a drop during unwinding would abort the test binary.
        let out = match try_run_script(&script_path(&self.name), "stop", &self.dir) {
            Ok(out) => out,
            Err(e) => {
                let _ = writeln!(
                    std::io::stderr(),
                    "RealServer({}): cannot run the stop script: {e}; files kept in {}",
                    self.name,
                    self.dir.display()
                );
                return;
            }
        };
        if out.status.success() {
            if let Err(e) = std::fs::remove_dir_all(&self.dir) {
                let _ = writeln!(
                    std::io::stderr(),
                    "RealServer({}): could not remove {}: {e}",
                    self.name,
                    self.dir.display()
                );
            }
        } else {
            let _ = writeln!(
                std::io::stderr(),
                "RealServer({}): stop failed ({}); files kept in {}\n{}",
                self.name,
                out.status,
                self.dir.display(),
                describe(&out)
            );
        }
    }
}

/// `<crate root>/scripts/servers/<name>.sh`.
fn script_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join("servers")
        .join(format!("{name}.sh"))
}

/// Creates a new empty dir `wirecheck-<name>-<pid>-<n>` under the system temp dir.
fn fresh_dir(name: &str) -> PathBuf {
    let base = std::env::temp_dir();
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!("wirecheck-{name}-{}-{n}", std::process::id()));
        match std::fs::create_dir(&dir) {
            Ok(()) => return dir,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => panic!("cannot create {}: {e}", dir.display()),
        }
    }
}

/// Runs `bash SCRIPT ACTION DIR` and collects its output (the server itself writes only to DIR).
fn try_run_script(script: &Path, action: &str, dir: &Path) -> std::io::Result<Output> {
    try_run_script_with_env(script, action, dir, &[])
}

/// [`try_run_script`] with extra environment variables.
fn try_run_script_with_env(
    script: &Path,
    action: &str,
    dir: &Path,
    envs: &[(&str, &str)],
) -> std::io::Result<Output> {
    Command::new("bash")
        .arg(script)
        .arg(action)
        .arg(dir)
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .output()
}

/// [`try_run_script`], panicking when bash cannot be run at all.
fn run_script(script: &Path, action: &str, dir: &Path) -> Output {
    run_script_with_env(script, action, dir, &[])
}

/// [`try_run_script_with_env`], panicking when bash cannot be run at all.
fn run_script_with_env(script: &Path, action: &str, dir: &Path, envs: &[(&str, &str)]) -> Output {
    try_run_script_with_env(script, action, dir, envs)
        .unwrap_or_else(|e| panic!("cannot run bash {} {action}: {e}", script.display()))
}

/// The script's stdout and stderr, for failure messages.
fn describe(out: &Output) -> String {
    format!(
        "--- stdout ---\n{}--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Parses `KEY=VALUE` lines; skips blanks and `#` comments, accepts `export `, and undoes the
/// scripts' shell single-quoting (`'it'\''s'`).
fn parse_env(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let l = l.strip_prefix("export ").unwrap_or(l);
            let (k, v) = l.split_once('=')?;
            Some((k.trim().to_string(), unquote(v)))
        })
        .collect()
}

/// Undoes POSIX single-quoting as written by the scripts; other values are returned as they are.
fn unquote(v: &str) -> String {
    if !(v.len() >= 2 && v.starts_with('\'') && v.ends_with('\'')) {
        return v.to_string();
    }
    // 'a'\''b' -> a'b : quoted runs separated by \'
    let mut out = String::new();
    let mut rest = v;
    while let Some(r) = rest.strip_prefix('\'') {
        let Some(end) = r.find('\'') else {
            return v.to_string();
        };
        out.push_str(&r[..end]);
        rest = &r[end + 1..];
        if let Some(r2) = rest.strip_prefix("\\'") {
            out.push('\'');
            rest = r2;
        } else if !rest.is_empty() {
            return v.to_string();
        }
    }
    if rest.is_empty() { out } else { v.to_string() }
}
