//! `wirecheck run`: load → plan → preflight → run → reports → exit code.

use std::sync::Arc;
use std::time::Instant;

use super::{CliError, RunArgs, exit, load_selection};
use crate::report::{console, json, junit};
use crate::run::engine::{RunOptions, new_run_id};
use crate::run::scheduler::run_all;
use crate::run::verdict::Totals;
use crate::target::{Target, TargetOptions};
use crate::transport::ConnectOptions;

/// Runs the selection; returns the exit code.
pub async fn run(args: &RunArgs) -> Result<u8, CliError> {
    let cases = load_selection(&args.selection)?;
    if let Some(ca) = &args.ca
        && !ca.is_file()
    {
        return Err(CliError::BadInput(format!(
            "--ca {}: expected a readable PEM file",
            ca.display()
        )));
    }
    let topts = TargetOptions {
        protocol: args.protocol.map(Into::into),
        domain: args.domain.clone(),
        faults: args.faults.clone(),
    };
    let target = Target::resolve(args.target.as_deref(), &topts)
        .await
        .map_err(|e| CliError::BadInput(e.to_string()))?;
    let connect = ConnectOptions {
        subprotocol: None,
        insecure: args.insecure,
        ca_file: args.ca.clone(),
        timeout: args.connect_timeout,
    };
    preflight(&target, &cases, &connect).await?;

    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);
    let opts = RunOptions {
        jobs,
        default_timeout: args.timeout,
        connect,
        run_id: new_run_id(),
        ..RunOptions::default()
    };
    let style = console::Style::detect();
    eprintln!(
        "wirecheck {}: {} cases against {} (run {}, {} at once)",
        env!("CARGO_PKG_VERSION"),
        cases.len(),
        target.describe(),
        opts.run_id,
        jobs
    );
    let started = Instant::now();
    let progress = Arc::new(console::Progress::new(cases.len(), style));
    let p2 = progress.clone();
    let target = Arc::new(target);
    let snapshot_cases = cases.clone();
    let mut results = run_all(cases, target.clone(), Arc::new(opts.clone()), move |r| {
        p2.done(r)
    })
    .await;
    progress.finish();
    snapshots(args, &snapshot_cases, &mut results, &target)?;
    let elapsed = started.elapsed();

    if let Some(path) = &args.junit {
        junit::write(path, &target.name, &results)
            .map_err(|e| CliError::BadInput(e.to_string()))?;
    }
    if let Some(path) = &args.json {
        json::write(path, &target.name, &opts.run_id, &results)
            .map_err(|e| CliError::BadInput(e.to_string()))?;
    }
    print!(
        "{}",
        console::summary(&results, style, &target.name, elapsed)
    );
    if let Some(path) = &args.junit {
        println!("JUnit report: {}", path.display());
    }
    if let Some(path) = &args.json {
        println!("JSON report: {}", path.display());
    }
    let t = Totals::of(&results);
    Ok(if t.failed > 0 {
        exit::FAILED
    } else if t.errors > 0 {
        exit::UNREACHABLE
    } else {
        exit::OK
    })
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
async fn preflight(
    target: &Target,
    cases: &[crate::case::Case],
    connect: &ConnectOptions,
) -> Result<(), CliError> {
    let mut endpoints = Vec::new();
    for p in crate::run::registry::protocols() {
        if cases.iter().any(|c| c.protocol.to_string() == p.name())
            && let Some(ep) = p.endpoint(target)
        {
            endpoints.push(ep.clone());
        }
    }
    for ep in endpoints {
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
    }
    Ok(())
}
