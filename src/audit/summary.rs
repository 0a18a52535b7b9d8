//! The audit's terminal report: the facts by area, then one line per area with its verdict and
//! the statements that failed, then the overall verdict.

use crate::facts::{Area, Fact, Status};
use crate::report::console::Style;

use super::areas::{AreaOutcome, AreaVerdict};

/// The facts and area verdicts as text; `protocol` is `mqtt` or `xmpp`.
pub fn render(
    endpoint: &str,
    protocol: &str,
    facts: &[Fact],
    areas: &[AreaVerdict],
    style: Style,
) -> String {
    let mut out = format!(
        "\n{} {endpoint} ({})\n",
        style.paint("1", "Audit of"),
        if protocol == "xmpp" {
            "XMPP over WebSocket"
        } else {
            "MQTT"
        }
    );
    for area in Area::ALL {
        let mine: Vec<&Fact> = facts.iter().filter(|f| f.area == area).collect();
        if mine.is_empty() {
            continue;
        }
        out.push_str(&format!("\n{}\n", style.paint("1", area.heading(protocol))));
        for f in mine {
            let word = f.status.name();
            let shown = match f.status {
                Status::Finding => style.paint("31", &format!("{word:<8}")),
                Status::Warn => style.paint("33", &format!("{word:<8}")),
                Status::Ok => style.paint("32", &format!("{word:<8}")),
                Status::Info => format!("{word:<8}"),
            };
            out.push_str(&format!("  {shown} {f}\n"));
        }
    }
    out.push_str(&format!("\n{}\n", style.paint("1", "Verdict per area")));
    let width = areas
        .iter()
        .map(|a| a.area.heading(protocol).len())
        .max()
        .unwrap_or(0);
    for a in areas {
        let word = a.outcome.name();
        let shown = match a.outcome {
            AreaOutcome::Fail => style.paint("31;1", &format!("{word:<18}")),
            AreaOutcome::Error | AreaOutcome::Warn => style.paint("33", &format!("{word:<18}")),
            AreaOutcome::Pass => style.paint("32", &format!("{word:<18}")),
            AreaOutcome::NotTested => format!("{word:<18}"),
        };
        let mut counts = vec![format!("{} passed", a.passed)];
        for (n, what) in [
            (a.failed, "failed"),
            (a.errors, "error"),
            (a.skipped, "skipped"),
        ] {
            if n > 0 {
                counts.push(format!("{n} {what}"));
            }
        }
        out.push_str(&format!(
            "  {:<width$}  {shown} {}\n",
            a.area.heading(protocol),
            counts.join(", ")
        ));
        if !a.failing.is_empty() {
            out.push_str(&format!(
                "  {:<width$}    failing: {}\n",
                "",
                a.failing.join(", ")
            ));
        }
        for c in &a.failed_cases {
            out.push_str(&format!("  {:<width$}    case {c}\n", ""));
        }
        for n in &a.notes {
            out.push_str(&format!("  {:<width$}    {n}\n", ""));
        }
    }
    let failed = areas
        .iter()
        .filter(|a| a.outcome == AreaOutcome::Fail)
        .count();
    let verdict = if failed > 0 {
        style.paint(
            "31;1",
            &format!(
                "FAIL: {failed} area{} failed",
                if failed == 1 { "" } else { "s" }
            ),
        )
    } else if areas.iter().any(|a| a.outcome == AreaOutcome::Error) {
        style.paint("33;1", "ERROR: some cases could not run")
    } else {
        style.paint("32;1", "PASS")
    };
    out.push_str(&format!("\nAudit verdict: {verdict}\n"));
    out
}
