//! `wirecheck audit TARGET`: find the endpoint, learn the facts (TLS, WebSocket answer, versions,
//! limits, mechanisms, anonymous access), run the safe cases, judge each area, report.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use super::run::{
    ReportFiles, exit_code, preflight, probe, read_ca, report_failed, stop_on_signals,
};
use super::{AuditArgs, CliError, exit};
use crate::audit::discover::{AuditTarget, websocket_of_domain, websocket_protocol};
use crate::audit::{AuditError, areas, summary};
use crate::case::{Case, Protocol};
use crate::facts::{Area, Fact, Status};
use crate::report::{console, html, json, junit};
use crate::run::engine::{RunOptions, blank_result, new_run_id};
use crate::run::scheduler::run_all;
use crate::run::stop::Stop;
use crate::run::verdict::{Totals, Verdict};
use crate::target::pool::{Account, AccountPool};
use crate::target::secret::Secret;
use crate::target::{Target, TargetOptions};
use crate::transport::inspect::{ChainTrust, inspect};
use crate::transport::{ConnectOptions, Endpoint, TransportKind};

/// Tag of the cases an audit runs without `--full`.
pub const SAFE_TAG: &str = "safe";

fn audit_error(e: AuditError) -> CliError {
    match e {
        AuditError::BadTarget(m) => CliError::BadInput(m),
        AuditError::Unreachable(m) => CliError::Unreachable(format!("target unreachable: {m}")),
    }
}

/// Runs the audit; returns the exit code.
pub async fn audit(args: &AuditArgs) -> Result<u8, CliError> {
    if args.insecure && args.ca.is_some() {
        return Err(CliError::BadInput(
            "--insecure and --ca contradict each other: --insecure trusts any certificate, --ca trusts only that CA; give one".into(),
        ));
    }
    let password = read_password(args)?;
    let ca = match &args.ca {
        Some(path) => Some(Arc::new(read_ca(path)?)),
        None => None,
    };
    let reports = ReportFiles::prepare(
        args.junit.as_deref(),
        args.json.as_deref(),
        args.html.as_deref(),
    )?;
    let paths = if args.cases.is_empty() {
        vec![PathBuf::from("cases")]
    } else {
        args.cases.clone()
    };
    let all_cases = crate::case::load_all(&paths).map_err(|errs| {
        let mut text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        text.push(format!("{} case file(s) could not be loaded", errs.len()));
        CliError::BadInput(text.join("\n\n"))
    })?;
    let mut connect = ConnectOptions {
        subprotocol: None,
        insecure: args.insecure,
        trusted: ca.clone(),
        timeout: args.connect_timeout,
    };
    let mut facts: Vec<Fact> = Vec::new();

    // Where to connect.
    let (url, discovered_domain) = match AuditTarget::parse(&args.target).map_err(audit_error)? {
        AuditTarget::Url(u) => (u, None),
        AuditTarget::Domain { domain, port } => {
            let (href, found) = websocket_of_domain(&domain, port, &connect, args.connect_timeout)
                .await
                .map_err(audit_error)?;
            facts.extend(found);
            (href, Some(domain))
        }
    };
    let endpoint = Endpoint::parse(&url).map_err(|e| CliError::BadInput(e.to_string()))?;
    if endpoint.kind.is_tls() {
        let alpn: &[&[u8]] = match endpoint.kind {
            TransportKind::Tls => &[b"mqtt"],
            _ => &[b"http/1.1"],
        };
        let tls = inspect(&endpoint, alpn, ca.as_deref(), args.connect_timeout)
            .await
            .map_err(|e| CliError::Unreachable(format!("target unreachable: {e}")))?;
        facts.extend(crate::audit::tls::facts(
            &tls,
            &endpoint.host,
            args.insecure,
        ));
        if !args.insecure && tls.trust != ChainTrust::Trusted {
            // The certificate is reported; the remaining checks still say what they can.
            connect.insecure = true;
            connect.trusted = None;
            facts.push(Fact::info(
                Area::Security,
                "Certificate verification",
                "off for the cases, because the certificate is not trusted",
            ));
        }
    } else {
        facts.push(Fact::new(
            Area::Security,
            "Transport",
            format!("not encrypted ({}://)", endpoint.kind.scheme()),
            Status::Warn,
        ));
    }
    let protocol = match (args.protocol, endpoint.kind.is_websocket()) {
        (Some(p), _) => p.into(),
        (None, false) => Protocol::Mqtt,
        (None, true) => {
            let (p, found) = websocket_protocol(&endpoint, &connect, args.connect_timeout)
                .await
                .map_err(audit_error)?;
            facts.extend(found);
            p
        }
    };

    // The target, as `run` would build it from the URL.
    let is_xmpp = protocol == Protocol::Xmpp;
    let topts = TargetOptions {
        protocol: Some(protocol),
        domain: args
            .domain
            .clone()
            .or(if is_xmpp { discovered_domain } else { None }),
        faults: Vec::new(),
        user: if is_xmpp { None } else { args.user.clone() },
        password_env: if is_xmpp {
            None
        } else {
            args.password_env.clone()
        },
    };
    let mut target = Target::resolve(Some(&url), &topts)
        .await
        .map_err(|e| CliError::BadInput(e.to_string()))?;
    if let Some(path) = &args.deviations {
        let profile = crate::target::profile::load_profile(path)
            .map_err(|e| CliError::BadInput(format!("--deviations: {e}")))?;
        target.deviations = profile.deviations();
    }
    if let (Some(x), Some(user), Some(pw)) = (target.xmpp.as_mut(), &args.user, &password) {
        let mut accounts = vec![Account {
            user: user.clone(),
            password: pw.clone(),
        }];
        let more =
            crate::target::accounts_from_env().map_err(|e| CliError::BadInput(e.to_string()))?;
        accounts.extend(more.into_iter().filter(|a| &a.user != user));
        x.pool = AccountPool::new(accounts);
    }

    // Which cases.
    let mut chosen: Vec<Case> = all_cases
        .iter()
        .filter(|c| c.protocol == protocol && (args.full || c.tags.iter().any(|t| t == SAFE_TAG)))
        .cloned()
        .collect();
    chosen.sort_by(|a, b| a.id.cmp(&b.id));
    let accounts = target.xmpp.as_ref().map_or(usize::MAX, |x| x.pool.len());
    let (runnable, too_big): (Vec<Case>, Vec<Case>) = chosen
        .into_iter()
        .partition(|c| c.protocol != Protocol::Xmpp || c.accounts_needed() <= accounts);

    preflight(&target, &runnable, &connect).await?;
    probe(&mut target, &runnable, &connect).await;
    if let Some(p) = crate::run::registry::find(&protocol.to_string()) {
        let deadline = tokio::time::Instant::now() + args.connect_timeout * 4;
        facts.extend(p.audit_facts(&target, &connect, deadline).await);
    }

    let jobs = args
        .jobs
        .unwrap_or(super::DEFAULT_JOBS)
        .clamp(1, super::MAX_JOBS);
    let stop = Stop::new();
    let opts = RunOptions {
        jobs,
        timeout_override: args.timeout,
        connect: connect.clone(),
        run_id: new_run_id(),
        stop: stop.clone(),
        ..RunOptions::default()
    };
    stop_on_signals(stop);
    let style = console::Style::detect();
    eprintln!(
        "wirecheck {} audit: {} {} cases against {} (run {}, {} at once)",
        env!("CARGO_PKG_VERSION"),
        runnable.len(),
        if args.full { "" } else { "safe" },
        url,
        opts.run_id,
        jobs
    );
    let started = Instant::now();
    let progress = Arc::new(console::Progress::new(runnable.len(), style));
    let p2 = progress.clone();
    let target = Arc::new(target);
    let cases_run = runnable.clone();
    let mut results = run_all(runnable, target.clone(), Arc::new(opts.clone()), move |r| {
        p2.done(r)
    })
    .await;
    progress.finish();
    for c in &too_big {
        let mut r = blank_result(c);
        r.verdict = Verdict::Skip;
        r.reason = Some(format!(
            "needs {} XMPP accounts; the audit has {accounts} (give --user/--password-env, or more in WIRECHECK_XMPP_ACCOUNTS)",
            c.accounts_needed()
        ));
        results.push(r);
    }
    let elapsed = started.elapsed();
    let mut all_run: Vec<Case> = cases_run;
    all_run.extend(too_big);
    let verdicts = areas::judge(&all_run, &results, &facts);

    let mut out = std::io::stdout().lock();
    let _ = write!(out, "{}", console::summary(&results, style, &url, elapsed));
    let _ = write!(
        out,
        "{}",
        summary::render(&url, &protocol.to_string(), &facts, &verdicts, style)
    );
    let mut code = audit_exit_code(&Totals::of(&results), &verdicts, !facts.is_empty());
    if let Some(path) = &reports.junit {
        match junit::write(path, &url, &results) {
            Ok(()) => {
                let _ = writeln!(out, "JUnit report: {}", path.display());
            }
            Err(e) => {
                eprintln!("error: {e}");
                code = report_failed(code);
            }
        }
    }
    if let Some(path) = &reports.json {
        let audit = serde_json::json!({
            "endpoint": url,
            "protocol": protocol.to_string(),
            "facts": facts,
            "areas": verdicts,
        });
        match json::write_with_audit(path, &url, &opts.run_id, &results, Some(audit)) {
            Ok(()) => {
                let _ = writeln!(out, "JSON report: {}", path.display());
            }
            Err(e) => {
                eprintln!("error: {e}");
                code = report_failed(code);
            }
        }
    }
    if let Some(path) = &reports.html {
        let report = html::HtmlReport {
            cases: &all_run,
            sections: html_sections(&protocol.to_string(), &facts, &verdicts),
            ..html::HtmlReport::new(
                format!("wirecheck audit of {url}"),
                &url,
                &opts.run_id,
                &results,
            )
        };
        match html::write(path, &report) {
            Ok(()) => {
                let _ = writeln!(out, "HTML report: {}", path.display());
            }
            Err(e) => {
                eprintln!("error: {e}");
                code = report_failed(code);
            }
        }
    }
    let _ = out.flush();
    Ok(code)
}

/// The audit's tables for the HTML report: the verdict per area, then the facts of each area.
fn html_sections(
    protocol: &str,
    facts: &[Fact],
    verdicts: &[areas::AreaVerdict],
) -> Vec<html::HtmlSection> {
    let status = |s: Status| match s {
        Status::Ok => Some(html::FactStatus::Ok),
        Status::Warn => Some(html::FactStatus::Warn),
        Status::Finding => Some(html::FactStatus::Bad),
        Status::Info => None,
    };
    let mut out = vec![html::HtmlSection {
        heading: "Verdict per area".into(),
        rows: verdicts
            .iter()
            .map(|v| {
                let mut value = format!(
                    "{}: {} passed, {} failed, {} error, {} skipped",
                    v.outcome.name(),
                    v.passed,
                    v.failed,
                    v.errors,
                    v.skipped
                );
                if !v.failing.is_empty() {
                    value.push_str(&format!("; failing {}", v.failing.join(", ")));
                }
                for note in &v.notes {
                    value.push_str(&format!("; {note}"));
                }
                html::HtmlFact {
                    label: v.area.heading(protocol).to_string(),
                    value,
                    status: match v.outcome {
                        areas::AreaOutcome::Pass => Some(html::FactStatus::Ok),
                        areas::AreaOutcome::Warn | areas::AreaOutcome::Error => {
                            Some(html::FactStatus::Warn)
                        }
                        areas::AreaOutcome::Fail => Some(html::FactStatus::Bad),
                        areas::AreaOutcome::NotTested => None,
                    },
                }
            })
            .collect(),
    }];
    for area in Area::ALL {
        let rows: Vec<html::HtmlFact> = facts
            .iter()
            .filter(|f| f.area == area)
            .map(|f| html::HtmlFact {
                label: f.name.clone(),
                value: match &f.spec {
                    Some(id) => format!("{} [{id}]", f.value),
                    None => f.value.clone(),
                },
                status: status(f.status),
            })
            .collect();
        if !rows.is_empty() {
            out.push(html::HtmlSection {
                heading: format!("Facts: {}", area.heading(protocol)),
                rows,
            });
        }
    }
    out
}

/// The password of `--user` from `--password-env`, checked before anything connects.
fn read_password(args: &AuditArgs) -> Result<Option<Secret>, CliError> {
    match (&args.user, &args.password_env) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(CliError::BadInput(
            "--user needs --password-env VAR: the environment variable that holds the password (a password is never given on the command line)".into(),
        )),
        (None, Some(_)) => Err(CliError::BadInput(
            "--password-env needs --user NAME: the user name to log in with".into(),
        )),
        (Some(user), Some(var)) => {
            if user.is_empty() {
                return Err(CliError::BadInput("--user: the user name is empty".into()));
            }
            std::env::var(var).map(|p| Some(Secret::new(p))).map_err(|_| {
                CliError::BadInput(format!(
                    "--password-env {var}: environment variable {var} is not set (it should hold the password of `{user}`)"
                ))
            })
        }
    }
}

/// The exit code of an audit: as `run` for the cases, and 1 when an area fails on a finding;
/// facts count as something that ran.
fn audit_exit_code(t: &Totals, areas: &[areas::AreaVerdict], had_facts: bool) -> u8 {
    let code = exit_code(t, had_facts, false);
    if code == exit::INTERRUPTED {
        return code;
    }
    if areas.iter().any(|a| a.outcome == areas::AreaOutcome::Fail) {
        return exit::FAILED;
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::areas::{AreaOutcome, AreaVerdict};

    fn area(outcome: AreaOutcome) -> AreaVerdict {
        AreaVerdict {
            area: Area::Security,
            outcome,
            passed: 0,
            failed: 0,
            errors: 0,
            skipped: 0,
            failing: Vec::new(),
            failed_cases: Vec::new(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn a_finding_fails_the_audit_even_when_every_case_passed() {
        let t = Totals {
            passed: 3,
            ..Totals::default()
        };
        assert_eq!(
            audit_exit_code(&t, &[area(AreaOutcome::Pass)], true),
            exit::OK
        );
        assert_eq!(
            audit_exit_code(&t, &[area(AreaOutcome::Fail)], true),
            exit::FAILED
        );
        let none = Totals::default();
        assert_eq!(
            audit_exit_code(&none, &[area(AreaOutcome::Pass)], true),
            exit::OK
        );
        assert_eq!(audit_exit_code(&none, &[], false), exit::NOTHING_RAN);
    }
}
