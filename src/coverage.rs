//! `wirecheck coverage`: which server-binding statements the cases check, which a client cannot
//! observe, which are missing, per statement list; rendered as Markdown or JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::case::Case;
use crate::spec::statements::{NotObservable, SpecList, Statement};

/// A server-binding statement some case checks.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Checked {
    /// Statement id.
    pub id: &'static str,
    /// Text excerpt.
    pub excerpt: &'static str,
    /// Ids of the cases that check it.
    pub cases: Vec<String>,
}

/// The coverage of one statement list.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SpecCoverage {
    /// The list's key (`mqtt-5.0`).
    pub spec: &'static str,
    /// Its name.
    pub title: &'static str,
    /// Statements that bind a server.
    pub binding: usize,
    /// Of those, how many a client cannot observe.
    pub not_observable_count: usize,
    /// binding − not observable.
    pub observable: usize,
    /// Observable statements some case checks.
    pub checked_count: usize,
    /// Observable statements no case checks.
    pub missing_count: usize,
    /// checked / observable × 100 (0 when nothing is observable), one decimal.
    pub percent: f64,
    /// The checked statements with their cases.
    pub checked: Vec<Checked>,
    /// The not-observable statements with their reasons.
    pub not_observable: Vec<NotObservable>,
    /// The missing statements.
    pub missing: Vec<Statement>,
}

/// Computes the coverage of `list` by `cases`.
pub fn of(list: &SpecList, cases: &[Case]) -> SpecCoverage {
    let mut by_id: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for c in cases {
        let ids = c
            .spec
            .iter()
            .chain(c.steps.iter().flat_map(|s| s.step.spec().iter()));
        for id in ids {
            if list.counts(c.protocol, c.version.as_deref(), id) {
                let v = by_id.entry(id.as_str()).or_default();
                if !v.contains(&c.id) {
                    v.push(c.id.clone());
                }
            }
        }
    }
    let not_observable = list.not_observable();
    let binding: Vec<Statement> = list
        .statements()
        .into_iter()
        .filter(|s| s.binds.server())
        .collect();
    let mut checked = Vec::new();
    let mut missing = Vec::new();
    for s in &binding {
        if not_observable.iter().any(|n| n.id == s.id) {
            continue;
        }
        match by_id.get(s.id) {
            Some(cases) => checked.push(Checked {
                id: s.id,
                excerpt: s.excerpt,
                cases: cases.clone(),
            }),
            None => missing.push(s.clone()),
        }
    }
    let observable = checked.len() + missing.len();
    SpecCoverage {
        spec: list.key,
        title: list.title,
        binding: binding.len(),
        not_observable_count: binding.len() - observable,
        observable,
        checked_count: checked.len(),
        missing_count: missing.len(),
        percent: percent(checked.len(), observable),
        checked,
        not_observable,
        missing,
    }
}

/// `part` of `whole` in percent, one decimal.
pub fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 * 1000.0 / whole as f64).round() / 10.0
    }
}

/// The Markdown report: a summary table, then per list the missing statements.
pub fn markdown(report: &[SpecCoverage]) -> String {
    let mut s = String::from("# Statement coverage\n\n");
    s.push_str("| spec | binding a server | not observable | observable | checked | missing | % checked |\n");
    s.push_str("|---|---:|---:|---:|---:|---:|---:|\n");
    for c in report {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {:.1} |",
            c.title,
            c.binding,
            c.not_observable_count,
            c.observable,
            c.checked_count,
            c.missing_count,
            c.percent
        );
    }
    for c in report {
        let _ = writeln!(s, "\n## {}: missing ({})\n", c.title, c.missing_count);
        for m in &c.missing {
            let _ = writeln!(s, "- `{}` {}", m.id, m.excerpt.replace('|', "\\|"));
        }
        if !c.not_observable.is_empty() {
            let _ = writeln!(s, "\nNot observable from a client:\n");
            for n in &c.not_observable {
                let _ = writeln!(s, "- `{}`: {}", n.id, n.reason);
            }
        }
    }
    s
}

/// The JSON report: the same content, machine-readable.
pub fn json(report: &[SpecCoverage]) -> String {
    let value = serde_json::json!({ "specs": report });
    serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
}
