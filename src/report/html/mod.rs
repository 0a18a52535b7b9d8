//! The self-contained HTML report: one file with inline CSS and JS (no external asset, works
//! offline from file://): a header with totals, optional fact tables (for the audit), a
//! filterable summary table of the cases (filter state also read from the URL fragment, e.g.
//! `#verdict=fail&group=mqtt.v5`) and each case's detail with failures, diffs and transcript.

mod case;
mod statements;
mod text;

use std::fmt::Write as _;
use std::path::Path;

use crate::case::Case;
use crate::run::verdict::{CaseResult, Totals, Verdict};

use self::case::{CaseView, statement_id};
use self::statements::StatementIndex;
use self::text::{attr, text};
use super::ReportError;

pub use self::case::{MAX_TRANSCRIPT_BYTES, MAX_TRANSCRIPT_ENTRIES};

const CSS: &str = include_str!("report.css");
const JS: &str = include_str!("report.js");

/// Every verdict, in the order the report lists them.
const VERDICTS: [Verdict; 7] = [
    Verdict::Pass,
    Verdict::Fail,
    Verdict::Error,
    Verdict::Skip,
    Verdict::Xfail,
    Verdict::Xpass,
    Verdict::Interrupted,
];

/// What an HTML report shows.
pub struct HtmlReport<'a> {
    /// Page title and heading.
    pub title: String,
    /// Target name.
    pub target: String,
    /// Run id (`{run}`).
    pub run_id: String,
    /// The case results.
    pub results: &'a [CaseResult],
    /// The loaded cases, to find the step a failure location names (may be empty: then the
    /// last step a case's transcript saw run is marked).
    pub cases: &'a [Case],
    /// Fact tables shown above the cases.
    pub sections: Vec<HtmlSection>,
}

/// A table of facts above the cases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HtmlSection {
    /// The table's heading.
    pub heading: String,
    /// Its rows.
    pub rows: Vec<HtmlFact>,
}

/// One row of a fact table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HtmlFact {
    /// What the fact is about.
    pub label: String,
    /// The fact.
    pub value: String,
    /// How good it is, if that can be said.
    pub status: Option<FactStatus>,
}

/// How good a fact is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactStatus {
    /// As it should be.
    Ok,
    /// Worth a look.
    Warn,
    /// Wrong.
    Bad,
}

impl FactStatus {
    fn name(self) -> &'static str {
        match self {
            FactStatus::Ok => "ok",
            FactStatus::Warn => "warn",
            FactStatus::Bad => "bad",
        }
    }
}

impl<'a> HtmlReport<'a> {
    /// A report of `results` with no cases to locate steps in and no fact tables.
    pub fn new(
        title: impl Into<String>,
        target: impl Into<String>,
        run_id: impl Into<String>,
        results: &'a [CaseResult],
    ) -> Self {
        Self {
            title: title.into(),
            target: target.into(),
            run_id: run_id.into(),
            results,
            cases: &[],
            sections: Vec::new(),
        }
    }
}

/// The group a result is listed under: `mqtt.v311`, `mqtt.v5`, or `xmpp.AREA` from an XMPP
/// case id `xmpp.AREA.NAME`.
fn shown_group(r: &CaseResult) -> String {
    if r.group == "xmpp"
        && let Some(rest) = r.id.strip_prefix("xmpp.")
        && let Some((area, _)) = rest.split_once('.')
    {
        return format!("xmpp.{area}");
    }
    r.group.clone()
}

/// The protocol of a group (`mqtt.v5` → `mqtt`).
fn protocol_of(group: &str) -> &str {
    group.split('.').next().unwrap_or(group)
}

fn count(t: &Totals, v: Verdict) -> usize {
    match v {
        Verdict::Pass => t.passed,
        Verdict::Fail => t.failed,
        Verdict::Error => t.errors,
        Verdict::Skip => t.skipped,
        Verdict::Xfail => t.xfailed,
        Verdict::Xpass => t.xpassed,
        Verdict::Interrupted => t.interrupted,
    }
}

/// The report as one HTML document.
pub fn render(report: &HtmlReport<'_>) -> String {
    let index = StatementIndex::load();
    let groups: Vec<String> = report.results.iter().map(shown_group).collect();
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n",
        text(&report.title)
    );
    header(&mut out, report);
    for s in &report.sections {
        section(&mut out, s);
    }
    summary(&mut out, report, &groups, &index);
    out.push_str("<section id=\"details\">\n<h2>Cases in detail</h2>\n");
    for (n, (r, group)) in report.results.iter().zip(&groups).enumerate() {
        let view = CaseView {
            n,
            result: r,
            case: report.cases.iter().find(|c| c.id == r.id),
            group,
            protocol: protocol_of(group),
        };
        case::render(&mut out, &view, &index);
    }
    let _ = write!(
        out,
        "</section>\n<script>\n{JS}</script>\n</body>\n</html>\n"
    );
    out
}

fn header(out: &mut String, report: &HtmlReport<'_>) {
    let totals = Totals::of(report.results);
    let _ = write!(
        out,
        "<header>\n<h1>{}</h1>\n<dl class=\"run\"><dt>target</dt><dd id=\"target\">{}</dd>\
         <dt>run id</dt><dd id=\"run-id\">{}</dd><dt>wirecheck</dt><dd id=\"version\">{}</dd>\
         <dt>cases</dt><dd id=\"total-cases\">{}</dd></dl>\n<ul class=\"totals\">",
        text(&report.title),
        text(&report.target),
        text(&report.run_id),
        env!("CARGO_PKG_VERSION"),
        report.results.len()
    );
    for v in VERDICTS {
        let name = v.name();
        let _ = write!(
            out,
            "<li class=\"v-{name}\"><span class=\"n\" id=\"total-{name}\">{}</span> {name}</li>",
            count(&totals, v)
        );
    }
    out.push_str("</ul>\n</header>\n");
}

fn section(out: &mut String, s: &HtmlSection) {
    let _ = write!(
        out,
        "<section class=\"facts\">\n<h2>{}</h2>\n<table><tbody>\n",
        text(&s.heading)
    );
    for f in &s.rows {
        let status = f.status.map(FactStatus::name);
        let _ = writeln!(
            out,
            "<tr class=\"fact{}\"><th>{}</th><td>{}</td><td class=\"status\">{}</td></tr>",
            status.map(|s| format!(" fact-{s}")).unwrap_or_default(),
            text(&f.label),
            text(&f.value),
            status.unwrap_or("")
        );
    }
    out.push_str("</tbody></table>\n</section>\n");
}

fn summary(out: &mut String, report: &HtmlReport<'_>, groups: &[String], index: &StatementIndex) {
    out.push_str("<section id=\"summary\">\n<h2>Cases</h2>\n<form id=\"filters\">\n<fieldset><legend>verdict</legend>");
    for v in VERDICTS {
        let name = v.name();
        let _ = write!(
            out,
            "<label class=\"v-{name}\"><input type=\"checkbox\" name=\"verdict\" value=\"{name}\" checked> {name}</label> "
        );
    }
    out.push_str("</fieldset>\n");
    let mut protocols: Vec<&str> = groups.iter().map(|g| protocol_of(g)).collect();
    protocols.sort_unstable();
    protocols.dedup();
    let mut all_groups: Vec<&str> = groups.iter().map(String::as_str).collect();
    all_groups.sort_unstable();
    all_groups.dedup();
    for (name, values) in [("protocol", &protocols), ("group", &all_groups)] {
        let _ = write!(
            out,
            "<label>{name} <select name=\"{name}\"><option value=\"\">all</option>"
        );
        for v in values.iter() {
            let _ = write!(out, "<option value=\"{0}\">{1}</option>", attr(v), text(v));
        }
        out.push_str("</select></label>\n");
    }
    let _ = write!(
        out,
        "<output id=\"shown\">{0} of {0} cases shown</output>\n</form>\n\
         <table id=\"cases\"><thead><tr><th>id</th><th>group</th><th>protocol</th><th>verdict</th>\
         <th>duration</th><th>failing statements</th></tr></thead>\n<tbody>\n",
        report.results.len()
    );
    for (n, (r, group)) in report.results.iter().zip(groups).enumerate() {
        let verdict = r.verdict.name();
        let mut failing: Vec<&str> = Vec::new();
        for id in r.failures.iter().flat_map(|f| &f.spec) {
            if !failing.contains(&id.as_str()) {
                failing.push(id);
            }
        }
        let failing: Vec<String> = failing
            .into_iter()
            .map(|id| statement_id(index, group, id))
            .collect();
        let _ = writeln!(
            out,
            "<tr class=\"case-row\" data-case=\"{n}\" data-verdict=\"{verdict}\" data-group=\"{}\" \
             data-protocol=\"{}\"><td><a href=\"#case-{n}\">{}</a><div class=\"title\">{}</div></td>\
             <td>{}</td><td>{}</td><td><span class=\"verdict v-{verdict}\">{verdict}</span></td>\
             <td class=\"num\">{:.1} ms</td><td>{}</td></tr>",
            attr(group),
            attr(protocol_of(group)),
            text(&r.id),
            text(&r.title),
            text(group),
            text(protocol_of(group)),
            r.duration.as_secs_f64() * 1000.0,
            failing.join(" ")
        );
    }
    out.push_str("</tbody></table>\n</section>\n");
}

/// Writes the HTML report to `path` (creating its folder).
pub fn write(path: &Path, report: &HtmlReport<'_>) -> Result<(), ReportError> {
    super::write_file(path, render(report).as_bytes())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::run::verdict::Failure;

    fn result(id: &str, group: &str, verdict: Verdict) -> CaseResult {
        CaseResult {
            id: id.into(),
            title: format!("{id} <i>title</i>"),
            group: group.into(),
            path: format!("cases/{id}.yaml"),
            spec: vec!["MQTT-3.1.0-1".into()],
            verdict,
            reason: (verdict == Verdict::Skip).then(|| "no <tls>".into()),
            failures: if verdict == Verdict::Fail {
                vec![Failure::check(vec!["MQTT-3.1.0-1".into()], "bad").with_diff("a", "b")]
            } else {
                Vec::new()
            },
            checks_passed: 0,
            duration: Duration::from_millis(5),
            transcript: Vec::new(),
            transcript_dropped: 0,
            generated: Default::default(),
        }
    }

    #[test]
    fn the_page_is_self_contained_and_counts_every_case() {
        let results = vec![
            result("mqtt5.connect.a", "mqtt.v5", Verdict::Fail),
            result("mqtt311.connect.b", "mqtt.v311", Verdict::Pass),
            result("xmpp.presence.c", "xmpp", Verdict::Skip),
        ];
        let mut report = HtmlReport::new("run <x>", "ref\"erence", "abc123", &results);
        report.sections.push(HtmlSection {
            heading: "Audit <h>".into(),
            rows: vec![HtmlFact {
                label: "pool".into(),
                value: "3 <accounts>".into(),
                status: Some(FactStatus::Warn),
            }],
        });
        let html = render(&report);
        assert!(!html.contains("http://") && !html.contains("https://"));
        assert_eq!(html.matches("<tr class=\"case-row\"").count(), 3);
        assert_eq!(html.matches("<details class=\"case\"").count(), 3);
        assert!(html.contains("<span class=\"n\" id=\"total-fail\">1</span>"));
        assert!(html.contains("<span class=\"n\" id=\"total-skip\">1</span>"));
        assert!(html.contains("data-group=\"xmpp.presence\" data-protocol=\"xmpp\""));
        assert!(html.contains("<option value=\"mqtt.v5\">mqtt.v5</option>"));
        assert!(
            html.contains("<tr class=\"fact fact-warn\"><th>pool</th><td>3 &lt;accounts&gt;</td>")
        );
        assert!(html.contains("<title>run &lt;x&gt;</title>"));
        assert!(html.contains("<dd id=\"target\">ref\"erence</dd>"));
        assert!(!html.contains("<i>") && !html.contains("<tls>") && !html.contains("<h>"));
        // MQTT-3.1.0-1 is read with each case's version.
        let v5 = html.find("(MQTT 5.0)").unwrap();
        let v311 = html.find("(MQTT 3.1.1)").unwrap();
        assert!(v5 < v311);
    }
}
