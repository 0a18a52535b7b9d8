//! Command-line interface: clap definitions and one module per subcommand.

pub mod list;
pub mod run;
pub mod serve;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::case::Protocol;

/// Exit codes, stable across releases.
pub mod exit {
    /// Every case passed (or was a declared deviation).
    pub const OK: u8 = 0;
    /// A check failed: the target does not conform.
    pub const FAILED: u8 = 1;
    /// Bad input: case file, profile, command line.
    pub const BAD_INPUT: u8 = 2;
    /// The target could not be reached.
    pub const UNREACHABLE: u8 = 3;
}

/// Conformance test suite and fuzzer for XMPP over WebSocket and MQTT.
#[derive(Debug, Parser)]
#[command(name = "wirecheck", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once; boxing would only add noise
pub enum Command {
    /// Run cases against a target (default: the built-in reference target).
    Run(RunArgs),
    /// List the selected cases with their tags and spec ids.
    List(ListArgs),
    /// Serve the built-in reference target on loopback ports until Ctrl-C.
    Serve(ServeArgs),
}

/// Protocol names for `--protocol`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ProtocolArg {
    /// MQTT.
    Mqtt,
    /// XMPP over WebSocket.
    Xmpp,
}

impl From<ProtocolArg> for Protocol {
    fn from(p: ProtocolArg) -> Self {
        match p {
            ProtocolArg::Mqtt => Protocol::Mqtt,
            ProtocolArg::Xmpp => Protocol::Xmpp,
        }
    }
}

/// Which cases.
#[derive(Debug, Args, Clone)]
pub struct Selection {
    /// Case files or folders [default: cases/].
    pub paths: Vec<PathBuf>,
    /// Only cases with this tag (repeatable: any of them).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Only cases checking this statement id (repeatable).
    #[arg(long = "spec", value_name = "ID")]
    pub specs: Vec<String>,
    /// Only cases whose id matches this glob (repeatable).
    #[arg(long = "case", value_name = "GLOB")]
    pub cases: Vec<String>,
    /// Run one stable slice of the suite: hash:K/N.
    #[arg(long, value_name = "hash:K/N")]
    pub partition: Option<String>,
}

/// `wirecheck run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Cases to run.
    #[command(flatten)]
    pub selection: Selection,
    /// Target: mqtt://, mqtts://, ws://, wss:// URL, a profile file, or `builtin`.
    #[arg(long, short = 't', value_name = "URL|PROFILE")]
    pub target: Option<String>,
    /// Protocol of a ws:// or wss:// target when the path does not tell.
    #[arg(long, value_enum)]
    pub protocol: Option<ProtocolArg>,
    /// XMPP domain of a URL target [default: the URL's host].
    #[arg(long)]
    pub domain: Option<String>,
    /// Break one rule of the built-in target (repeatable); see `wirecheck serve --list-faults`.
    #[arg(long = "fault", value_name = "NAME")]
    pub faults: Vec<String>,
    /// Cases run at once [default: number of CPUs].
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// Default deadline of every wait, e.g. 5s or 500ms.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg, default_value = "5s")]
    pub timeout: std::time::Duration,
    /// Deadline to connect (TCP + TLS + WebSocket handshake).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg, default_value = "5s")]
    pub connect_timeout: std::time::Duration,
    /// Do not verify TLS certificates.
    #[arg(long)]
    pub insecure: bool,
    /// Trust this CA certificate file (PEM) instead of the system roots.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write a JSON report here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Snapshot expectations: check (record where none exists), update, or off.
    #[arg(
        long,
        value_enum,
        value_name = "MODE",
        default_value = "check",
        env = "WIRECHECK_SNAPSHOTS"
    )]
    pub snapshots: crate::snapshot::Mode,
    /// Folder of the snapshots, one subfolder per profile.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "snapshots",
        env = "WIRECHECK_SNAPSHOT_DIR"
    )]
    pub snapshot_dir: PathBuf,
}

/// `wirecheck list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Cases to list.
    #[command(flatten)]
    pub selection: Selection,
}

/// `wirecheck serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Break one rule (repeatable).
    #[arg(long = "fault", value_name = "NAME")]
    pub faults: Vec<String>,
    /// Print the fault switches and exit.
    #[arg(long)]
    pub list_faults: bool,
    /// MQTT TCP port (0 = any free port).
    #[arg(long, default_value_t = 0)]
    pub mqtt_port: u16,
    /// XMPP WebSocket port (0 = any free port).
    #[arg(long, default_value_t = 0)]
    pub xmpp_port: u16,
}

fn parse_duration_arg(s: &str) -> Result<std::time::Duration, String> {
    crate::case::duration::parse_duration(s)
}

/// A subcommand failure with the exit code it maps to.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Exit 2.
    #[error("{0}")]
    BadInput(String),
    /// Exit 3.
    #[error("{0}")]
    Unreachable(String),
}

impl CliError {
    /// The exit code.
    pub fn code(&self) -> u8 {
        match self {
            CliError::BadInput(_) => exit::BAD_INPUT,
            CliError::Unreachable(_) => exit::UNREACHABLE,
        }
    }
}

/// Loads and filters the selection; every load error is printed.
pub fn load_selection(sel: &Selection) -> Result<Vec<crate::case::Case>, CliError> {
    let paths = if sel.paths.is_empty() {
        vec![PathBuf::from("cases")]
    } else {
        sel.paths.clone()
    };
    let filter =
        crate::run::plan::Filter::new(&sel.tags, &sel.specs, &sel.cases, sel.partition.as_deref())
            .map_err(|e| CliError::BadInput(e.to_string()))?;
    let cases = crate::case::load_all(&paths).map_err(|errs| {
        let n = errs.len();
        let mut text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        text.push(format!(
            "{n} case file{} could not be loaded",
            if n == 1 { "" } else { "s" }
        ));
        CliError::BadInput(text.join("\n\n"))
    })?;
    Ok(filter.apply(cases))
}
