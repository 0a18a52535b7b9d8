//! `wirecheck run`: load → plan → preflight → run → reports → exit code.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use super::{CliError, RunArgs, exit, load_and_select};
use crate::case::{Case, Protocol};
use crate::report::{console, html, json, junit};
use crate::run::engine::{RunOptions, new_run_id};
use crate::run::scheduler::run_all;
use crate::run::stop::Stop;
use crate::run::verdict::Totals;
use crate::spec::SpecSet;
use crate::target::{Target, TargetOptions};
use crate::transport::ConnectOptions;
use crate::transport::tls::CaRoots;

/// Largest `--ca` file accepted.
const MAX_CA_BYTES: u64 = 1024 * 1024;

/// Runs the selection; returns the exit code.
pub async fn run(args: &RunArgs) -> Result<u8, CliError> {
    let (loaded, cases) = load_and_select(&args.selection)?;
    if args.insecure && args.ca.is_some() {
        return Err(CliError::BadInput(
            "--insecure and --ca contradict each other: --insecure trusts any certificate, --ca trusts only that CA; give one".into(),
        ));
    }
    let ca = match &args.ca {
        Some(path) => Some(Arc::new(read_ca(path)?)),
        None => None,
    };
    let topts = TargetOptions {
        protocol: args.protocol.map(Into::into),
        domain: args.domain.clone(),
        faults: args.faults.clone(),
        user: args.user.clone(),
        password_env: args.password_env.clone(),
    };
    let target = Target::resolve(args.target.as_deref(), &topts)
        .await
        .map_err(|e| CliError::BadInput(e.to_string()))?;
    let tls = [
        target.mqtt.as_ref().map(|m| &m.endpoint),
        target.xmpp.as_ref().map(|x| &x.endpoint),
    ]
    .into_iter()
    .flatten()
    .any(|ep| ep.kind.is_tls());
    if !tls && (args.insecure || args.ca.is_some()) {
        let flag = if args.insecure { "--insecure" } else { "--ca" };
        eprintln!("warning: {flag} has no effect: no endpoint of the target uses TLS");
    }
    let reports = ReportFiles::prepare(
        args.junit.as_deref(),
        args.json.as_deref(),
        args.html.as_deref(),
    )?;
    if cases.is_empty() {
        let why = nothing_selected(&args.selection, &loaded);
        if args.allow_empty {
            eprintln!("note: {why}; --allow-empty accepts that");
            return Ok(exit::OK);
        }
        return Err(CliError::NothingRan(format!(
            "error: {why} (pass --allow-empty to accept an empty run)"
        )));
    }
    check_pool(&target, &cases)?;
    let connect = ConnectOptions {
        subprotocol: None,
        insecure: args.insecure,
        trusted: ca,
        timeout: args.connect_timeout,
    };
    preflight(&target, &cases, &connect).await?;
    let mut target = target;
    probe(&mut target, &cases, &connect).await;

    let opts = run_options(args.jobs, args.timeout, connect);
    let style = console::Style::detect();
    eprintln!(
        "wirecheck {}: {} cases against {} (run {}, {} at once)",
        env!("CARGO_PKG_VERSION"),
        cases.len(),
        target.describe(),
        opts.run_id,
        opts.jobs
    );
    let started = Instant::now();
    let target = Arc::new(target);
    let snapshot_cases = cases.clone();
    let mut results = run_with_progress(cases, target.clone(), &opts, style).await;
    snapshots(args, &snapshot_cases, &mut results, &target)?;
    let elapsed = started.elapsed();

    // The summary first: a report that cannot be written must not hide it.
    let mut out = std::io::stdout().lock();
    let _ = write!(
        out,
        "{}",
        console::summary(&results, style, &target.name, elapsed)
    );
    let mut code = exit_code(&Totals::of(&results), args.allow_empty, args.allow_xpass);
    if code == exit::NOTHING_RAN {
        eprintln!(
            "error: nothing ran: every selected case was skipped (pass --allow-empty to accept that)"
        );
    }
    if let Some(path) = &reports.junit {
        let written = junit::write(path, &target.name, &results);
        code = report_outcome(&mut out, "JUnit", path, written, code);
    }
    if let Some(path) = &reports.json {
        let written = json::write(path, &target.name, &opts.run_id, &results);
        code = report_outcome(&mut out, "JSON", path, written, code);
    }
    if let Some(path) = &reports.html {
        let report = html::HtmlReport {
            cases: &snapshot_cases,
            ..html::HtmlReport::new(
                format!("wirecheck run against {}", target.name),
                &target.name,
                &opts.run_id,
                &results,
            )
        };
        let written = html::write(path, &report);
        code = report_outcome(&mut out, "HTML", path, written, code);
    }
    let _ = out.flush();
    Ok(code)
}

/// The first Ctrl-C or SIGTERM stops the run gracefully (running cases clean up, reports are
/// written, exit 130); a second one exits at once.
fn stop_on_signals(stop: Stop) {
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let mut signal = async || {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async {
                    match term.as_mut() {
                        Some(t) => { t.recv().await; }
                        None => std::future::pending::<()>().await,
                    }
                } => {}
            }
        };
        signal().await;
        eprintln!(
            "\ninterrupted: stopping the running cases, cleaning up and writing the reports \
             (interrupt again to exit at once)"
        );
        stop.trigger();
        signal().await;
        eprintln!("interrupted twice: exiting at once");
        std::process::exit(i32::from(exit::INTERRUPTED));
    });
}

/// The options of one run (`-j`, `--timeout`, the connection); the first Ctrl-C or SIGTERM
/// stops it gracefully.
pub(super) fn run_options(
    jobs: Option<usize>,
    timeout: Option<std::time::Duration>,
    connect: ConnectOptions,
) -> RunOptions {
    let stop = Stop::new();
    stop_on_signals(stop.clone());
    RunOptions {
        jobs: jobs
            .unwrap_or(super::DEFAULT_JOBS)
            .clamp(1, super::MAX_JOBS),
        timeout_override: timeout,
        connect,
        run_id: new_run_id(),
        stop,
        ..RunOptions::default()
    }
}

/// Runs `cases` with a progress bar on the terminal.
pub(super) async fn run_with_progress(
    cases: Vec<Case>,
    target: Arc<Target>,
    opts: &RunOptions,
    style: console::Style,
) -> Vec<crate::run::verdict::CaseResult> {
    let progress = Arc::new(console::Progress::new(cases.len(), style));
    let p2 = progress.clone();
    let results = run_all(cases, target, Arc::new(opts.clone()), move |r| p2.done(r)).await;
    progress.finish();
    results
}

/// Says where a report went, or why it could not be written (then the exit code becomes
/// [`report_failed`]'s).
pub(super) fn report_outcome(
    out: &mut impl Write,
    kind: &str,
    path: &Path,
    written: Result<(), crate::report::ReportError>,
    code: u8,
) -> u8 {
    match written {
        Ok(()) => {
            let _ = writeln!(out, "{kind} report: {}", path.display());
            code
        }
        Err(e) => {
            eprintln!("error: {e}");
            report_failed(code)
        }
    }
}

/// A report could not be written after all: that is bad input, unless the run already has a
/// worse story to tell (a failed check, an error verdict), which it keeps.
fn report_failed(code: u8) -> u8 {
    if code == exit::OK {
        exit::BAD_INPUT
    } else {
        code
    }
}

/// The exit code of a finished run: interrupted (130) before a failed check or an xpass (1,
/// unless `allow_xpass` for the xpass) before an error verdict (5) before nothing having run (4,
/// unless `allow_empty`) before success (0).
pub(crate) fn exit_code(t: &Totals, allow_empty: bool, allow_xpass: bool) -> u8 {
    if t.interrupted > 0 {
        exit::INTERRUPTED
    } else if t.failed > 0 || (t.xpassed > 0 && !allow_xpass) {
        exit::FAILED
    } else if t.errors > 0 {
        exit::CASE_ERROR
    } else if t.passed + t.xfailed + t.xpassed == 0 && !allow_empty {
        exit::NOTHING_RAN
    } else {
        exit::OK
    }
}

/// Why the selection is empty, with hints for filters that match nothing.
fn nothing_selected(sel: &super::Selection, loaded: &[Case]) -> String {
    if loaded.is_empty() {
        return "no case selected: the given paths hold no case files (*.yaml, *.yml)".into();
    }
    let mut hints = Vec::new();
    for id in &sel.specs {
        let known = [SpecSet::Mqtt311, SpecSet::Xmpp]
            .iter()
            .any(|set| set.contains(id));
        if !known {
            hints.push(format!("--spec {id} is not a statement id wirecheck knows"));
        } else if !loaded
            .iter()
            .any(|c| c.spec.contains(id) || c.steps.iter().any(|s| s.step.spec().contains(id)))
        {
            hints.push(format!("no loaded case checks --spec {id}"));
        }
    }
    for tag in &sel.tags {
        if !loaded.iter().any(|c| c.tags.contains(tag)) {
            hints.push(format!("no loaded case has --tag {tag}"));
        }
    }
    let mut text = format!(
        "no case selected: {} case{} loaded, none matches the filters",
        loaded.len(),
        if loaded.len() == 1 { "" } else { "s" }
    );
    if !hints.is_empty() {
        text.push_str(&format!(" ({})", hints.join("; ")));
    }
    text
}

/// Reads and parses `--ca` once, before anything connects.
pub(super) fn read_ca(path: &Path) -> Result<CaRoots, CliError> {
    let bytes = crate::case::source::read_regular_file(path, MAX_CA_BYTES, "CA certificate (PEM)")
        .map_err(|e| CliError::BadInput(format!("--ca: {e}")))?;
    CaRoots::from_pem(path, &bytes).map_err(|e| CliError::BadInput(format!("--ca: {e}")))
}

/// The report files, checked to be writable before the run starts.
pub(super) struct ReportFiles {
    pub(super) junit: Option<PathBuf>,
    pub(super) json: Option<PathBuf>,
    pub(super) html: Option<PathBuf>,
}

impl ReportFiles {
    /// Creates missing parent folders (saying so) and opens each file for writing, so an
    /// unwritable path is bad input now rather than a lost report after the run.
    pub(super) fn prepare(
        junit: Option<&Path>,
        json: Option<&Path>,
        html: Option<&Path>,
    ) -> Result<ReportFiles, CliError> {
        let named = [("--junit", junit), ("--json", json), ("--html", html)];
        for (i, (flag_a, a)) in named.iter().enumerate() {
            for (flag_b, b) in &named[i + 1..] {
                if let (Some(a), Some(b)) = (a, b)
                    && a == b
                {
                    return Err(CliError::BadInput(format!(
                        "{flag_a} and {flag_b} both name {}; give each report its own file",
                        a.display()
                    )));
                }
            }
        }
        for (flag, path) in named {
            if let Some(p) = path {
                check_writable(flag, p)?;
            }
        }
        Ok(ReportFiles {
            junit: junit.map(Path::to_path_buf),
            json: json.map(Path::to_path_buf),
            html: html.map(Path::to_path_buf),
        })
    }
}

fn check_writable(flag: &str, path: &Path) -> Result<(), CliError> {
    let bad = |what: String| CliError::BadInput(format!("{flag} {}: {what}", path.display()));
    if path.is_dir() {
        return Err(bad("is a directory; give a file name".into()));
    }
    if let Ok(meta) = std::fs::metadata(path)
        && !meta.is_file()
    {
        return Err(bad("exists and is not a regular file".into()));
    }
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
        && !dir.is_dir()
    {
        if dir.exists() {
            return Err(bad(format!(
                "its directory {} is a file, not a directory",
                dir.display()
            )));
        }
        std::fs::create_dir_all(dir).map_err(|e| {
            bad(format!(
                "cannot create its directory {}: {e}",
                dir.display()
            ))
        })?;
        eprintln!("note: created directory {} for {flag}", dir.display());
    }
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| bad(format!("cannot be written: {e}")))?;
    if !existed {
        // Leave no empty report behind if the run stops early; it is written at the end.
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// An XMPP case leases one account per actor (bar `same_account_as` actors): the pool must hold
/// enough for the largest case.
fn check_pool(target: &Target, cases: &[Case]) -> Result<(), CliError> {
    let Some(x) = &target.xmpp else {
        return Ok(());
    };
    let Some(biggest) = cases
        .iter()
        .filter(|c| c.protocol == Protocol::Xmpp)
        .max_by_key(|c| c.accounts_needed())
    else {
        return Ok(());
    };
    let wanted = biggest.accounts_needed();
    let have = x.pool.len();
    if have >= wanted {
        return Ok(());
    }
    let how = if target.name.contains("://") {
        format!(
            "set {}=user1:pass1,user2:pass2,... with at least {wanted} accounts that exist on the server",
            crate::target::ACCOUNTS_ENV
        )
    } else {
        format!(
            "list at least {wanted} accounts under `accounts:` in the profile, or set {}=user1:pass1,...",
            crate::target::ACCOUNTS_ENV
        )
    };
    Err(CliError::BadInput(format!(
        "the selected XMPP cases need {wanted} account{} (case `{}` has {} actors{}), but the target's account pool has {have}: {how}",
        if wanted == 1 { "" } else { "s" },
        biggest.id,
        biggest.actors.len(),
        if biggest.actors.len() == wanted {
            String::new()
        } else {
            format!(" on {wanted} accounts")
        }
    )))
}

/// Compares, records or updates the snapshots of the results (`--snapshots`); notices on stderr.
fn snapshots(
    args: &RunArgs,
    cases: &[crate::case::Case],
    results: &mut [crate::run::verdict::CaseResult],
    target: &crate::target::Target,
) -> Result<(), CliError> {
    let settings = crate::snapshot::Settings {
        mode: args.snapshots,
        root: args.snapshot_dir.clone(),
    };
    let outcome = crate::snapshot::apply(cases, results, target, &settings)
        .map_err(|e| CliError::BadInput(e.to_string()))?;
    for n in &outcome.notices {
        eprintln!("{n}");
    }
    if outcome.differed > 0 {
        eprintln!(
            "{} snapshot(s) differ: review with `cargo insta review`, or accept all with `cargo insta accept`",
            outcome.differed
        );
    }
    Ok(())
}

/// Checks that every endpoint the selected cases need accepts a connection at all.
/// Asks each protocol the selection uses what the target can do; a failed probe is a warning
/// (its cases run as if nothing had been learned).
pub(super) async fn probe(
    target: &mut Target,
    cases: &[crate::case::Case],
    connect: &ConnectOptions,
) {
    for p in crate::run::registry::protocols() {
        if !cases.iter().any(|c| c.protocol.to_string() == p.name()) || p.endpoint(target).is_none()
        {
            continue;
        }
        let deadline = tokio::time::Instant::now() + connect.timeout * 2;
        match p.probe(target, connect, deadline).await {
            Ok(learned) => {
                let lacks: Vec<&str> = learned
                    .capabilities
                    .iter()
                    .filter(|(_, available)| !**available)
                    .map(|(c, _)| c.name())
                    .collect();
                if !lacks.is_empty() {
                    eprintln!(
                        "note: the target lacks {} (learned from {}); cases requiring them are skipped",
                        lacks.join(", "),
                        learned.from
                    );
                }
                target.capabilities.learn(&learned);
            }
            Err(f) => eprintln!(
                "warning: could not learn the {} capabilities of the target: {}",
                p.name(),
                f.message
            ),
        }
    }
}

pub(super) async fn preflight(
    target: &Target,
    cases: &[crate::case::Case],
    connect: &ConnectOptions,
) -> Result<(), CliError> {
    let mut endpoints = Vec::new();
    for p in crate::run::registry::protocols() {
        if cases.iter().any(|c| c.protocol.to_string() == p.name())
            && let Some(ep) = p.endpoint(target)
        {
            endpoints.push((ep.clone(), p.name()));
        }
    }
    for (ep, subprotocol) in endpoints {
        let addr = (ep.host.clone(), ep.port);
        match tokio::time::timeout(connect.timeout, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                return Err(CliError::Unreachable(format!(
                    "target unreachable: {ep}: {e}"
                )));
            }
            Err(_) => {
                return Err(CliError::Unreachable(format!(
                    "target unreachable: {ep}: no answer within {:.1}s",
                    connect.timeout.as_secs_f64()
                )));
            }
        }
        // A certificate that is not trusted fails every case the same way: say it once, now.
        if ep.kind.is_tls() {
            let opts = ConnectOptions {
                subprotocol: Some(subprotocol.to_string()),
                ..connect.clone()
            };
            match crate::transport::Channel::connect(&ep, &opts).await {
                // Dropped unused: the preflight sends nothing a server could take for a case.
                Ok(ch) => drop(ch),
                Err(e) => {
                    return Err(CliError::Unreachable(format!(
                        "target unreachable: {ep}: {e}"
                    )));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_documented_order() {
        let t = |passed, failed, errors, skipped, xfailed| Totals {
            passed,
            failed,
            errors,
            skipped,
            xfailed,
            ..Totals::default()
        };
        assert_eq!(exit_code(&t(3, 1, 1, 0, 0), false, false), exit::FAILED);
        assert_eq!(exit_code(&t(3, 0, 1, 0, 0), false, false), exit::CASE_ERROR);
        assert_eq!(
            exit_code(&t(0, 0, 0, 4, 0), false, false),
            exit::NOTHING_RAN
        );
        assert_eq!(exit_code(&t(0, 0, 0, 4, 0), true, false), exit::OK);
        assert_eq!(exit_code(&t(0, 0, 0, 1, 2), false, false), exit::OK);
        assert_eq!(exit_code(&t(5, 0, 0, 1, 0), false, false), exit::OK);
        let interrupted = Totals {
            failed: 1,
            interrupted: 1,
            ..Totals::default()
        };
        assert_eq!(exit_code(&interrupted, false, false), exit::INTERRUPTED);
        assert_eq!(report_failed(exit::FAILED), exit::FAILED);
        assert_eq!(report_failed(exit::OK), exit::BAD_INPUT);
    }
}
