//! `wirecheck audit TARGET`: find the endpoint, learn the facts (TLS, WebSocket answer, versions,
//! limits, mechanisms, anonymous access), run the safe cases, judge each area, report.

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use super::run::{
    ReportFiles, exit_code, preflight, probe, read_ca, report_outcome, run_options,
    run_with_progress,
};
use super::{AuditArgs, CliError, exit};
use crate::audit::discover::{AuditTarget, websocket_of_domain, websocket_protocol};
use crate::audit::{AuditError, areas, summary};
use crate::case::{Case, Protocol};
use crate::facts::{Area, Fact, Status};
use crate::report::{console, html, json, junit};
use crate::run::engine::blank_result;
use crate::run::verdict::{Totals, Verdict};
use crate::target::pool::{Account, AccountPool};
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
    let login = TargetOptions {
        user: args.user.clone(),
        password_env: args.password_env.clone(),
        ..TargetOptions::default()
    }
    .credentials_of("user")
    .map_err(|e| CliError::BadInput(e.to_string()))?;
    let ca = match &args.ca {
        Some(path) => Some(Arc::new(read_ca(path)?)),
        None => None,
    };
    let reports = ReportFiles::prepare(
        args.junit.as_deref(),
        args.json.as_deref(),
        args.html.as_deref(),
    )?;
    let safe = if args.full {
        Vec::new()
    } else {
        vec![SAFE_TAG.to_string()]
    };
    let selected = super::load_selection(&super::Selection {
        paths: args.cases.clone(),
        tags: safe,
        excluded_tags: Vec::new(),
        specs: Vec::new(),
        cases: Vec::new(),
        partition: None,
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
    if let (Some(x), Some(login)) = (target.xmpp.as_mut(), &login) {
        let user = &login.username;
        let mut accounts = vec![Account {
            user: user.clone(),
            password: login.password.clone(),
        }];
        let more =
            crate::target::accounts_from_env().map_err(|e| CliError::BadInput(e.to_string()))?;
        accounts.extend(more.into_iter().filter(|a| &a.user != user));
        x.pool = AccountPool::new(accounts);
    }

    // Which cases.
    let mut chosen: Vec<Case> = selected
        .into_iter()
        .filter(|c| c.protocol == protocol)
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

    let opts = run_options(args.jobs, args.timeout, connect.clone());
    let style = console::Style::detect();
    eprintln!(
        "wirecheck {} audit: {} {} cases against {} (run {}, {} at once)",
        env!("CARGO_PKG_VERSION"),
        runnable.len(),
        if args.full { "" } else { "safe" },
        url,
        opts.run_id,
        opts.jobs
    );
    let started = Instant::now();
    let cases_run = runnable.clone();
    let mut results = run_with_progress(runnable, Arc::new(target), &opts, style).await;
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
        let written = junit::write(path, &url, &results);
        code = report_outcome(&mut out, "JUnit", path, written, code);
    }
    if let Some(path) = &reports.json {
        let audit = serde_json::json!({
            "endpoint": url,
            "protocol": protocol.to_string(),
            "facts": facts,
            "areas": verdicts,
        });
        let written = json::write_with_audit(path, &url, &opts.run_id, &results, Some(audit));
        code = report_outcome(&mut out, "JSON", path, written, code);
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
        let written = html::write(path, &report);
        code = report_outcome(&mut out, "HTML", path, written, code);
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
            outcome,
            ..AreaVerdict::new(Area::Security)
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
