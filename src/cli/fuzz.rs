//! `wirecheck fuzz`: loads the seed cases, starts the server (`--spawn`), resolves the target and
//! runs a campaign; prints the findings.

use std::io::Write;
use std::time::Duration;

use super::{CliError, FuzzArgs, exit, load_selection};
use crate::fuzz::spawn::{Server, free_port};
use crate::fuzz::{Campaign, Config, Limit};
use crate::run::stop::Stop;
use crate::target::{Target, TargetOptions};
use crate::transport::ConnectOptions;

/// Campaign length when neither --duration nor --iterations is given.
const DEFAULT_DURATION: Duration = Duration::from_secs(60);

/// Whether a target string names only loopback hosts (profiles and `builtin` are checked later
/// by their endpoints).
fn loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h == "localhost"
        || h.parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

/// Runs the fuzz command; returns the exit code.
pub async fn fuzz(args: &FuzzArgs) -> Result<u8, CliError> {
    let cases = load_selection(&args.selection)?;
    if cases.is_empty() {
        return Err(CliError::NothingRan(
            "error: no case selected: the seeds of a campaign are the selected cases".into(),
        ));
    }
    if args.target.as_deref().is_some_and(|t| t.contains("{port}")) && args.spawn.is_none() {
        return Err(CliError::BadInput(
            "--target has `{port}` but no --spawn: `{port}` is the port picked for the spawned server".into(),
        ));
    }
    let (server, target_text) = match &args.spawn {
        Some(cmd) => {
            if !cmd.contains("{port}") {
                return Err(CliError::BadInput(
                    "--spawn CMD needs `{port}` where the server's listening port goes, e.g. \"wirecheck serve --mqtt-port {port}\"".into(),
                ));
            }
            let port = free_port().map_err(|e| CliError::Unreachable(e.to_string()))?;
            let server = Server::start(cmd, port, &args.out.join("server"))
                .map_err(|e| CliError::Unreachable(format!("--spawn: {e}")))?;
            let t = args
                .target
                .clone()
                .unwrap_or_else(|| "mqtt://127.0.0.1:{port}".into())
                .replace("{port}", &port.to_string());
            (Some(server), Some(t))
        }
        None => (None, args.target.clone()),
    };
    let topts = TargetOptions {
        protocol: args.protocol.map(Into::into),
        domain: args.domain.clone(),
        faults: args.faults.clone(),
        ..TargetOptions::default()
    };
    let target = Target::resolve(target_text.as_deref(), &topts)
        .await
        .map_err(|e| CliError::BadInput(e.to_string()))?;
    for ep in [
        target.mqtt.as_ref().map(|m| &m.endpoint),
        target.xmpp.as_ref().map(|x| &x.endpoint),
    ]
    .into_iter()
    .flatten()
    {
        if !loopback_host(&ep.host) {
            return Err(CliError::BadInput(format!(
                "wirecheck fuzz sends malformed traffic: only loopback targets (127.0.0.0/8, ::1, localhost) are accepted, not {}",
                ep.host
            )));
        }
    }
    let seeds: Vec<_> = cases
        .into_iter()
        .filter(|c| {
            crate::run::registry::find(&c.protocol.to_string())
                .is_some_and(|p| p.endpoint(&target).is_some())
        })
        .collect();
    if seeds.is_empty() {
        return Err(CliError::NothingRan(format!(
            "error: no selected case speaks a protocol of target {}",
            target.name
        )));
    }
    let limit = match (args.iterations, args.duration) {
        (Some(n), _) => Limit::Iterations(n),
        (None, Some(d)) => Limit::Duration(d),
        (None, None) => Limit::Duration(DEFAULT_DURATION),
    };
    let jobs = args.jobs.unwrap_or(super::DEFAULT_JOBS);
    let cfg = Config {
        seed: args.seed,
        limit,
        jobs,
        out: args.out.clone(),
        timeout: args.timeout,
        probe_deadline: args.probe_timeout,
        max_rss_kib: args.max_rss.map(|m| m * 1024),
        extra: 0.05,
        connect: ConnectOptions::default(),
        progress: true,
        max_findings: args.max_findings,
    };
    eprintln!(
        "wirecheck fuzz: {} seed cases against {} (seed {}, {} at once){}",
        seeds.len(),
        target.name,
        args.seed,
        jobs,
        server
            .as_ref()
            .map(|s| format!(", spawned server on port {}", s.port()))
            .unwrap_or_default()
    );
    let stop = Stop::new();
    let s2 = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            s2.trigger();
        }
    });
    let summary = Campaign::new(cfg, seeds, target, server)
        .run(stop.clone())
        .await
        .map_err(|e| match e {
            crate::fuzz::FuzzError::Write(w) => CliError::BadInput(w),
            other => CliError::Unreachable(other.to_string()),
        })?;
    let mut out = std::io::stdout().lock();
    let secs = summary.elapsed.as_secs_f64().max(0.001);
    let _ = writeln!(
        out,
        "{} iterations in {:.1}s ({:.0}/s), {} messages ({:.0}/s), {} mutated ({:.0}/s), {} signatures, {} server restarts",
        summary.iterations,
        secs,
        summary.iterations as f64 / secs,
        summary.messages,
        summary.messages as f64 / secs,
        summary.mutated,
        summary.mutated as f64 / secs,
        summary.signatures,
        summary.restarts
    );
    let kinds: Vec<String> = summary
        .mutated_kinds
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    let _ = writeln!(out, "mutated: {}", kinds.join(", "));
    let n = summary.iterations.max(1) as f64;
    let _ = writeln!(
        out,
        "iterations took {:.0} ms on average; the {} slots were {:.0}% busy",
        summary.busy.as_secs_f64() * 1000.0 / n,
        jobs,
        100.0 * summary.busy.as_secs_f64() / (secs * jobs as f64)
    );
    for f in &summary.findings {
        let _ = writeln!(
            out,
            "FINDING {} ({}) after {:.1}s, iteration {} from {}: {}{}",
            f.oracle,
            f.signature,
            f.after_s,
            f.iteration,
            f.case,
            f.file.display(),
            if f.reproduced {
                ""
            } else {
                " (not reproduced alone)"
            }
        );
    }
    let _ = writeln!(
        out,
        "{} finding(s); summary in {}",
        summary.findings.len(),
        args.out.join("findings.json").display()
    );
    if stop.is_set() {
        return Ok(exit::INTERRUPTED);
    }
    Ok(if summary.findings.is_empty() {
        exit::OK
    } else {
        exit::FAILED
    })
}
