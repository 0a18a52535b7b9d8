//! Command-line interface: clap definitions and one module per subcommand.

pub mod audit;
pub mod coverage;
pub mod fuzz;
pub mod list;
pub mod merge;
pub mod run;
pub mod serve;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::case::Protocol;

/// Exit codes, stable across releases (documented in README.md and `wirecheck --help`).
pub mod exit {
    /// Every case that ran passed (or failed only where a declared deviation says it would).
    pub const OK: u8 = 0;
    /// A check failed: the target does not conform; or a declared deviation was not observed
    /// (xpass) and `--allow-xpass` was not given.
    pub const FAILED: u8 = 1;
    /// Bad input: case file, profile, command line, URL, report path.
    pub const BAD_INPUT: u8 = 2;
    /// The target could not be reached.
    pub const UNREACHABLE: u8 = 3;
    /// Nothing ran: no case was selected, or every selected case was skipped (`--allow-empty`
    /// turns this into 0).
    pub const NOTHING_RAN: u8 = 4;
    /// A case could not be run: the error verdict (setup or infrastructure problem, not a
    /// conformance failure).
    pub const CASE_ERROR: u8 = 5;
    /// The run was interrupted (SIGINT / SIGTERM).
    pub const INTERRUPTED: u8 = 130;
}

/// The exit code table shown at the end of `--help` (one text for both help pages).
macro_rules! exit_codes_help {
    () => {
        "Exit codes:
  0    every case that ran passed (or is a declared deviation)
  1    a check failed: the target does not conform; or a case passed although
       the profile declares a deviation for it (xpass: the declaration is stale;
       --allow-xpass accepts that)
  2    bad input: case file, profile, command line, URL or report path
  3    the target could not be reached
  4    nothing ran: no case selected, or every case skipped (see --allow-empty)
  5    a case could not be run (error verdict: setup or infrastructure problem)
  130  interrupted (Ctrl-C / SIGTERM)"
    };
}

/// The exit code table of `wirecheck --help`.
const EXIT_CODES_HELP: &str = exit_codes_help!();

/// Largest `-j` accepted: far more cases at once than any server or machine benefits from.
pub const MAX_JOBS: usize = 1024;

/// Cases run at once when `-j` is not given: cases spend their time waiting on the server, not
/// on the CPU, so the default does not follow the number of CPUs.
pub const DEFAULT_JOBS: usize = 8;

/// Conformance test suite for MQTT 3.1.1 (TCP, TLS, WebSocket) and XMPP over WebSocket (RFC 7395).
#[derive(Debug, Parser)]
#[command(
    name = "wirecheck",
    version,
    about = "Conformance test suite for MQTT 3.1.1 (over TCP, TLS and WebSocket) and XMPP over WebSocket (RFC 7395)",
    long_about = None,
    after_help = EXIT_CODES_HELP
)]
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
    #[command(after_help = RUN_AFTER_HELP)]
    Run(RunArgs),
    /// Audit a live endpoint: facts (TLS, limits, mechanisms) and the non-destructive cases.
    #[command(after_help = AUDIT_AFTER_HELP)]
    Audit(AuditArgs),
    /// List the selected cases with their tags and spec ids.
    List(ListArgs),
    /// Serve the built-in reference target on loopback ports until Ctrl-C.
    Serve(ServeArgs),
    /// Report which server-binding statements the cases check, per spec (Markdown or JSON).
    Coverage(CoverageArgs),
    /// Replay cases with mutated messages against a live server; write failures as cases.
    #[command(after_help = FUZZ_AFTER_HELP)]
    Fuzz(FuzzArgs),
    /// Join the JUnit and/or JSON reports of several runs (shards, targets) into one.
    #[command(after_help = MERGE_AFTER_HELP)]
    Merge(MergeArgs),
}

/// Extra help of `wirecheck merge`.
const MERGE_AFTER_HELP: &str =
    "Inputs are reports `wirecheck run` wrote (--junit, --json), told apart by their
first character; JUnit inputs merge into --junit, JSON inputs into --json. A case is known by its
target, group and id: cases of different targets are kept apart (JUnit: suite and classname become
TARGET.GROUP). The same case in two inputs of one kind must have the same outcome (verdict, reason,
messages: a re-run of a shard) and is kept once; different outcomes are bad input. A JUnit and a
JSON input of the same case must agree on its verdict.

Exit codes: those `wirecheck run` would give for the union of the inputs (0 pass, 1 a check
failed or an xpass, 4 nothing ran, 5 an error verdict, 130 an interrupted case); 2 bad input: a
missing, unreadable or malformed input (named with line:col), contradicting inputs, or an output
that cannot be written.";

/// Extra help of `wirecheck fuzz`.
const FUZZ_AFTER_HELP: &str =
    "--spawn \"CMD\": the fuzzer starts the server itself (CMD runs under sh -c), waits until
its port accepts, restarts it after a crash, hang or --max-rss excess, and writes its stderr to
files under --out. `{port}` in CMD and in --target is replaced by a free loopback port the fuzzer
picked, e.g.
  wirecheck fuzz --spawn \"wirecheck serve --fault crash-mqtt5-deep --mqtt-port {port}\" \\
                 --target mqtt://127.0.0.1:{port} cases/mqtt/v5
(--target defaults to mqtt://127.0.0.1:{port} with --spawn). Only loopback targets are accepted.

Exit codes: 0 no finding, 1 findings written, 2 bad input, 3 target unreachable or the spawned
server did not start, 4 no case selected, 130 interrupted.";

/// Extra help of `wirecheck run`: environment and exit codes.
const RUN_AFTER_HELP: &str = concat!(
    "Environment:
  WIRECHECK_XMPP_ACCOUNTS  user:password[,user:password...]: the XMPP account pool of a ws:// or
                           wss:// URL target (or of a profile without `accounts`); a case leases one
                           account per actor, so the pool needs as many accounts as the largest
                           selected XMPP case has actors
  WIRECHECK_LOG            log filter for diagnostics, e.g. debug

",
    exit_codes_help!()
);

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
    /// Leave out cases with this tag (repeatable), e.g. `--exclude-tag slow`.
    #[arg(long = "exclude-tag", value_name = "TAG")]
    pub excluded_tags: Vec<String>,
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
    /// Target: mqtt://, mqtts://, ws://, wss:// URL, a profile file, `builtin`, or `builtin:ws` (the built-in target with MQTT over WebSocket).
    #[arg(long, short = 't', value_name = "URL|PROFILE")]
    pub target: Option<String>,
    /// Protocol of a ws:// or wss:// target when the path does not tell.
    #[arg(long, value_enum)]
    pub protocol: Option<ProtocolArg>,
    /// XMPP domain of a URL target [default: the URL's host].
    #[arg(long)]
    pub domain: Option<String>,
    /// MQTT user name for an mqtt://, mqtts:// or MQTT ws:// URL target (needs --password-env).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Environment variable that holds the MQTT password of --user (never on the command line).
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// Break one rule of the built-in target (repeatable); see `wirecheck serve --list-faults`.
    #[arg(long = "fault", value_name = "NAME")]
    pub faults: Vec<String>,
    /// Cases run at once, 1 to 1024 [default: 8; cases mostly wait on the server].
    #[arg(long, short = 'j', value_name = "N", value_parser = parse_jobs_arg)]
    pub jobs: Option<usize>,
    /// Deadline of every wait, e.g. 5s, 500ms or 2m (more than 0, at most 24h) [default: 5s].
    /// When given, it overrides the cases' own `timeout:`; a step's `timeout:` still wins.
    #[arg(long, value_name = "DURATION", value_parser = parse_deadline_arg)]
    pub timeout: Option<std::time::Duration>,
    /// Deadline to connect (TCP + TLS + WebSocket handshake), e.g. 5s (more than 0, at most 24h).
    #[arg(long, value_name = "DURATION", value_parser = parse_deadline_arg, default_value = "5s")]
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
    /// Write a self-contained HTML report here (one file, no external assets).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Exit 0 when nothing ran (no case selected, or every case skipped) instead of 4.
    #[arg(long)]
    pub allow_empty: bool,
    /// Do not exit 1 when a case passes although the profile declares a deviation for it (xpass).
    #[arg(long)]
    pub allow_xpass: bool,
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

/// Extra help of `wirecheck audit`.
const AUDIT_AFTER_HELP: &str = concat!(
    "TARGET is mqtt://HOST[:PORT], mqtts://HOST[:PORT], ws://HOST[:PORT]/PATH, wss://HOST[:PORT]/PATH,
or a bare XMPP domain (chat.example.com; domain:PORT for host-meta on another HTTPS port),
whose WebSocket endpoint is found through /.well-known/host-meta(.json) (XEP-0156).
A ws:// or wss:// endpoint is offered the subprotocols xmpp and mqtt; the one it selects
decides the protocol (--protocol overrides). Only cases tagged `safe` run: no malformed input,
no load, nothing left behind; --full runs every case (only against a server you own).
Credentials: --user NAME --password-env VAR (MQTT login, or the XMPP account; XMPP cases with
more actors than accounts are skipped: WIRECHECK_XMPP_ACCOUNTS adds accounts). The password is
read from the environment and never printed.

",
    exit_codes_help!()
);

/// `wirecheck audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// mqtt://, mqtts://, ws:// or wss:// URL, or a bare XMPP domain.
    pub target: String,
    /// Case files or folders to choose the safe cases from [default: cases/].
    #[arg(long = "cases", value_name = "PATH")]
    pub cases: Vec<PathBuf>,
    /// Run every case, not only those tagged `safe` (malformed input: only on a server you own).
    #[arg(long)]
    pub full: bool,
    /// Take the known deviations (`deviations:`) of this profile: those cases are xfail.
    #[arg(long, value_name = "PROFILE")]
    pub deviations: Option<PathBuf>,
    /// Protocol of a ws:// or wss:// endpoint, instead of asking it.
    #[arg(long, value_enum)]
    pub protocol: Option<ProtocolArg>,
    /// XMPP domain [default: the domain given, or the URL's host].
    #[arg(long)]
    pub domain: Option<String>,
    /// User name: the MQTT login, or the XMPP account (needs --password-env).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Environment variable that holds the password of --user (never on the command line).
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// Do not verify TLS certificates: an untrusted chain is a warning, not a finding (expiry and
    /// host name are still judged).
    #[arg(long)]
    pub insecure: bool,
    /// Trust this CA certificate file (PEM) instead of the system roots.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Cases run at once, 1 to 1024 [default: 8].
    #[arg(long, short = 'j', value_name = "N", value_parser = parse_jobs_arg)]
    pub jobs: Option<usize>,
    /// Deadline of every wait, e.g. 5s [default: each case's own].
    #[arg(long, value_name = "DURATION", value_parser = parse_deadline_arg)]
    pub timeout: Option<std::time::Duration>,
    /// Deadline to connect (TCP + TLS + WebSocket handshake), e.g. 5s.
    #[arg(long, value_name = "DURATION", value_parser = parse_deadline_arg, default_value = "5s")]
    pub connect_timeout: std::time::Duration,
    /// Write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write a JSON report (with the facts and area verdicts) here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write a self-contained HTML report (facts, area verdicts, cases) here.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

/// `wirecheck fuzz`.
#[derive(Debug, Args)]
pub struct FuzzArgs {
    /// Seed cases.
    #[command(flatten)]
    pub selection: Selection,
    /// Target: a loopback mqtt:// or ws:// URL, a profile file, or `builtin` [default: builtin,
    /// or mqtt://127.0.0.1:{port} with --spawn].
    #[arg(long, short = 't', value_name = "URL|PROFILE")]
    pub target: Option<String>,
    /// Protocol of a ws:// target when the path does not tell.
    #[arg(long, value_enum)]
    pub protocol: Option<ProtocolArg>,
    /// XMPP domain of a URL target [default: the URL's host].
    #[arg(long)]
    pub domain: Option<String>,
    /// Break one rule of the built-in target (repeatable).
    #[arg(long = "fault", value_name = "NAME")]
    pub faults: Vec<String>,
    /// Seed of the campaign: iteration K draws from seed + K [default: 0].
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Stop after this long, e.g. 60s or 2m [default: 60s].
    #[arg(long, value_name = "DURATION", value_parser = parse_deadline_arg, conflicts_with = "iterations")]
    pub duration: Option<std::time::Duration>,
    /// Stop after this many iterations.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub iterations: Option<u64>,
    /// Start the server under test with this shell command (see below for `{port}`).
    #[arg(long, value_name = "CMD")]
    pub spawn: Option<String>,
    /// Iterations at once, 1 to 1024 [default: 8].
    #[arg(long, short = 'j', value_name = "N", value_parser = parse_jobs_arg)]
    pub jobs: Option<usize>,
    /// Folder for finding cases and findings.json.
    #[arg(long, value_name = "DIR", default_value = "reports/findings")]
    pub out: PathBuf,
    /// Deadline of every wait inside an iteration, e.g. 300ms.
    #[arg(long, value_name = "DURATION", value_parser = parse_deadline_arg, default_value = "300ms")]
    pub timeout: std::time::Duration,
    /// Deadline of the liveness probe after each batch (hang oracle).
    #[arg(long, value_name = "DURATION", value_parser = parse_deadline_arg, default_value = "2s")]
    pub probe_timeout: std::time::Duration,
    /// Resource oracle: largest resident set size of the spawned server, in MiB.
    #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_rss: Option<u64>,
    /// Stop once this many findings are written.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(usize))]
    pub max_findings: Option<usize>,
}

/// `wirecheck merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Reports to join: JUnit XML and/or JSON files of `wirecheck run`.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Write the merged JUnit XML report (of the JUnit inputs) here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write the merged JSON report (of the JSON inputs) here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Exit 0 when nothing ran in any input instead of 4.
    #[arg(long)]
    pub allow_empty: bool,
    /// Do not exit 1 for cases that passed despite a declared deviation (xpass).
    #[arg(long)]
    pub allow_xpass: bool,
}

/// `wirecheck list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Cases to list.
    #[command(flatten)]
    pub selection: Selection,
}

/// Output formats of `wirecheck coverage`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CoverageFormat {
    /// A Markdown summary table and the missing statements.
    Md,
    /// The same content as JSON.
    Json,
}

/// `wirecheck coverage`.
#[derive(Debug, Args)]
pub struct CoverageArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "md")]
    pub format: CoverageFormat,
    /// Folder of the case files.
    #[arg(long, value_name = "DIR", default_value = "cases")]
    pub cases: PathBuf,
    /// One statement list: mqtt-3.1.1, mqtt-5.0, rfc7395, rfc6120, rfc6121, or all [default: all].
    #[arg(long, value_name = "SPEC", value_parser = coverage::parse_spec_arg)]
    pub spec: Option<String>,
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

/// A deadline flag: a duration that is more than zero.
fn parse_deadline_arg(s: &str) -> Result<std::time::Duration, String> {
    let d = crate::case::duration::parse_duration(s)?;
    if d.is_zero() {
        return Err(format!(
            "`{s}` is zero: a deadline of 0 fails every wait; give e.g. 5s"
        ));
    }
    Ok(d)
}

/// `-j N`: 1 to [`MAX_JOBS`].
fn parse_jobs_arg(s: &str) -> Result<usize, String> {
    let n: u128 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number of cases to run at once (1 to {MAX_JOBS})"))?;
    match n {
        0 => Err(format!(
            "0 cases at once would run nothing; give 1 to {MAX_JOBS}"
        )),
        n if n > MAX_JOBS as u128 => Err(format!(
            "{n} is more than the {MAX_JOBS} cases at once wirecheck allows"
        )),
        n => Ok(n as usize),
    }
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
    /// Exit 4: no case selected.
    #[error("{0}")]
    NothingRan(String),
}

impl CliError {
    /// The exit code.
    pub fn code(&self) -> u8 {
        match self {
            CliError::BadInput(_) => exit::BAD_INPUT,
            CliError::Unreachable(_) => exit::UNREACHABLE,
            CliError::NothingRan(_) => exit::NOTHING_RAN,
        }
    }
}

/// Loads and filters the selection; every load error is printed.
pub fn load_selection(sel: &Selection) -> Result<Vec<crate::case::Case>, CliError> {
    load_and_select(sel).map(|(_, selected)| selected)
}

/// Loads the cases under the selection's paths; returns (all loaded, those selected).
pub fn load_and_select(
    sel: &Selection,
) -> Result<(Vec<crate::case::Case>, Vec<crate::case::Case>), CliError> {
    let paths = if sel.paths.is_empty() {
        vec![PathBuf::from("cases")]
    } else {
        sel.paths.clone()
    };
    let filter =
        crate::run::plan::Filter::new(&sel.tags, &sel.specs, &sel.cases, sel.partition.as_deref())
            .map_err(|e| CliError::BadInput(e.to_string()))?
            .excluding_tags(&sel.excluded_tags);
    let cases = crate::case::load_all(&paths).map_err(|errs| {
        let n = errs.len();
        let mut text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        text.push(format!(
            "{n} case file{} could not be loaded",
            if n == 1 { "" } else { "s" }
        ));
        CliError::BadInput(text.join("\n\n"))
    })?;
    let selected = filter.apply(cases.clone());
    Ok((cases, selected))
}
