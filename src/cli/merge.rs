//! `wirecheck merge`: load the input reports → merge → write the merged reports → the exit code
//! `run` would have given for the union.

use std::io::Write;

use super::{CliError, MergeArgs};
use crate::report::merge::{Input, load, merge as merge_reports};
use crate::report::{junit, write_file};

/// Merges the inputs; returns the exit code.
pub fn merge(args: &MergeArgs) -> Result<u8, CliError> {
    if let (Some(a), Some(b)) = (&args.junit, &args.json)
        && a == b
    {
        return Err(CliError::BadInput(format!(
            "--junit and --json both name {}; give each report its own file",
            a.display()
        )));
    }
    let bad = |e: crate::report::merge::MergeError| CliError::BadInput(e.to_string());
    let inputs = args
        .inputs
        .iter()
        .map(|p| load(p))
        .collect::<Result<Vec<Input>, _>>()
        .map_err(bad)?;
    let count = |junit: bool| {
        inputs
            .iter()
            .filter(|i| matches!(i, Input::Junit { .. }) == junit)
            .count()
    };
    for (flag, wanted, n) in [
        ("--junit", &args.junit, count(true)),
        ("--json", &args.json, count(false)),
    ] {
        if wanted.is_some() && n == 0 {
            return Err(CliError::BadInput(format!(
                "{flag} was given, but no input is a {} report",
                if flag == "--junit" {
                    "JUnit XML"
                } else {
                    "JSON"
                }
            )));
        }
    }
    let merged = merge_reports(&inputs).map_err(bad)?;
    let write_failed = |e: crate::report::ReportError| CliError::BadInput(e.to_string());
    let mut out = std::io::stdout().lock();
    if let (Some(path), Some(report)) = (&args.junit, &merged.junit) {
        let xml = junit::to_xml(report).map_err(write_failed)?;
        write_file(path, xml.as_bytes()).map_err(write_failed)?;
        let _ = writeln!(out, "JUnit report: {}", path.display());
    }
    if let (Some(path), Some(doc)) = (&args.json, &merged.json) {
        let text = serde_json::to_string_pretty(doc)
            .map_err(|e| CliError::BadInput(format!("cannot serialise the JSON report: {e}")))?;
        write_file(path, text.as_bytes()).map_err(write_failed)?;
        let _ = writeln!(out, "JSON report: {}", path.display());
    }
    let t = &merged.totals;
    let _ = writeln!(
        out,
        "merged {} report(s) of {}: {} cases: {} passed, {} failed, {} errors, {} skipped, {} xfail, {} xpass, {} interrupted",
        inputs.len(),
        merged.targets.join(", "),
        t.passed + t.failed + t.errors + t.skipped + t.xfailed + t.xpassed + t.interrupted,
        t.passed,
        t.failed,
        t.errors,
        t.skipped,
        t.xfailed,
        t.xpassed,
        t.interrupted
    );
    let _ = out.flush();
    let code = super::run::exit_code(t, args.allow_empty, args.allow_xpass);
    if code == super::exit::NOTHING_RAN {
        eprintln!(
            "error: nothing ran: the inputs hold no case that ran (pass --allow-empty to accept that)"
        );
    }
    Ok(code)
}
