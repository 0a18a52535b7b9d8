//! `--spawn`: starts the server under test (its `{port}` filled with a free loopback port),
//! waits until the port accepts, notices its death (exit status or signal) and restarts it.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::FuzzError;

/// How long a started server may take before its port accepts connections.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// A free loopback TCP port (bound, then released).
pub fn free_port() -> Result<u16, FuzzError> {
    let l =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| FuzzError::Spawn(e.to_string()))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| FuzzError::Spawn(e.to_string()))
}

/// How a spawned server ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Death {
    /// Exit code, if it exited.
    pub code: Option<i32>,
    /// Signal number, if a signal killed it.
    pub signal: Option<i32>,
}

impl Death {
    /// `exit 3` or `signal 6 (SIGABRT)`.
    pub fn describe(&self) -> String {
        match (self.code, self.signal) {
            (_, Some(6)) => "signal 6 (SIGABRT)".into(),
            (_, Some(11)) => "signal 11 (SIGSEGV)".into(),
            (_, Some(s)) => format!("signal {s}"),
            (Some(c), None) => format!("exit {c}"),
            (None, None) => "ended".into(),
        }
    }
}

/// A server process the campaign owns.
pub struct Server {
    command: String,
    port: u16,
    log_dir: PathBuf,
    child: Option<Child>,
    starts: usize,
}

impl Server {
    /// Starts `command` (with `{port}` replaced by `port`) and waits until it accepts.
    pub fn start(command: &str, port: u16, log_dir: &Path) -> Result<Server, FuzzError> {
        let mut s = Server {
            command: command.replace("{port}", &port.to_string()),
            port,
            log_dir: log_dir.to_path_buf(),
            child: None,
            starts: 0,
        };
        s.restart()?;
        Ok(s)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The file its stderr goes to.
    pub fn stderr_path(&self) -> PathBuf {
        self.log_dir.join(format!("server-{}.stderr", self.starts))
    }

    /// (Re)starts the server: a server that exits before its port accepts is a startup failure.
    pub fn restart(&mut self) -> Result<(), FuzzError> {
        self.stop();
        self.starts += 1;
        std::fs::create_dir_all(&self.log_dir).map_err(|e| FuzzError::Spawn(e.to_string()))?;
        let err = File::create(self.stderr_path()).map_err(|e| FuzzError::Spawn(e.to_string()))?;
        let out = File::create(self.log_dir.join(format!("server-{}.stdout", self.starts)))
            .map_err(|e| FuzzError::Spawn(e.to_string()))?;
        let child = Command::new("sh")
            .arg("-c")
            .arg(format!("exec {}", self.command))
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .map_err(|e| FuzzError::Spawn(format!("cannot run `{}`: {e}", self.command)))?;
        self.child = Some(child);
        let started = Instant::now();
        loop {
            if let Some(d) = self.dead() {
                return Err(FuzzError::Spawn(format!(
                    "`{}` ended before accepting connections on port {} ({}); its stderr is in {}",
                    self.command,
                    self.port,
                    d.describe(),
                    self.stderr_path().display()
                )));
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            if started.elapsed() > READY_WITHIN {
                self.stop();
                return Err(FuzzError::Spawn(format!(
                    "`{}` did not accept connections on port {} within {}s",
                    self.command,
                    self.port,
                    READY_WITHIN.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// How it ended, if it has.
    pub fn dead(&mut self) -> Option<Death> {
        use std::os::unix::process::ExitStatusExt;
        let status = self.child.as_mut()?.try_wait().ok()??;
        Some(Death {
            code: status.code(),
            signal: status.signal(),
        })
    }

    /// Waits up to `within` for it to end.
    pub fn dies_within(&mut self, within: Duration) -> Option<Death> {
        let until = Instant::now() + within;
        loop {
            if let Some(d) = self.dead() {
                return Some(d);
            }
            if Instant::now() >= until {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Resident set size in KiB (VmRSS of /proc/PID/status).
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// Kills it (if running) and reaps it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}
