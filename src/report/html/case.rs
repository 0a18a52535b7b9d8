//! One case's detail in the HTML report: verdict and reason, its statements with their texts,
//! the failures (location, actor, expected vs actual, diff) and the transcript, bounded, with the
//! entries of each failing step marked.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::case::Case;
use crate::run::verdict::{CaseResult, Failure, FailureKind, Verdict};
use crate::seam::transcript::{Direction, Entry};

use super::statements::StatementIndex;
use super::text::{attr, expected_actual, push_text, text, unified_diff};

/// Most transcript entries shown per case; the rest is left out with a note.
pub const MAX_TRANSCRIPT_ENTRIES: usize = 2_000;

/// Most bytes of transcript text shown per case; the rest is left out with a note.
pub const MAX_TRANSCRIPT_BYTES: usize = 1024 * 1024;

/// What the detail of one case needs besides its result.
pub struct CaseView<'a> {
    /// Its number in the report (anchors are `case-N`).
    pub n: usize,
    /// The result.
    pub result: &'a CaseResult,
    /// The loaded case, when known: links failure locations to step indices.
    pub case: Option<&'a Case>,
    /// The group shown (`mqtt.v311`, `xmpp.presence`).
    pub group: &'a str,
    /// The protocol shown.
    pub protocol: &'a str,
}

/// A statement id as HTML with its text as a tooltip.
pub fn statement_id(index: &StatementIndex, group: &str, id: &str) -> String {
    let title = match index.lookup(group, id) {
        Some(s) => format!("{} ({})", s.excerpt, s.list),
        None => "not in wirecheck's statement lists".to_string(),
    };
    format!(
        "<abbr class=\"stmt\" title=\"{}\">{}</abbr>",
        attr(&title),
        text(id)
    )
}

/// The step a failure happened in: the step written at its location (when the case is known),
/// else the last step the transcript saw run. None for failures of no step (snapshot, set-up).
pub fn failing_step(f: &Failure, case: Option<&Case>, result: &CaseResult) -> Option<usize> {
    if f.kind == FailureKind::Snapshot {
        return None;
    }
    let loc = f.location.as_ref()?;
    match case {
        Some(c) => c.steps.iter().position(|s| s.loc == *loc),
        None => result.transcript.iter().filter_map(|e| e.step).max(),
    }
}

/// The `<details>` of one case.
pub fn render(out: &mut String, view: &CaseView<'_>, index: &StatementIndex) {
    let r = view.result;
    let n = view.n;
    let verdict = r.verdict.name();
    let open = if matches!(r.verdict, Verdict::Fail | Verdict::Error | Verdict::Xpass) {
        " open"
    } else {
        ""
    };
    let _ = write!(
        out,
        "<details class=\"case\" id=\"case-{n}\" data-verdict=\"{verdict}\" \
         data-group=\"{}\" data-protocol=\"{}\"{open}>\n<summary><span class=\"verdict v-{verdict}\">{verdict}</span> \
         <code>{}</code> — {}</summary>\n<div class=\"case-body\">\n",
        attr(view.group),
        attr(view.protocol),
        text(&r.id),
        text(&r.title)
    );
    let _ = writeln!(
        out,
        "<p class=\"meta\"><code class=\"path\">{}</code> · {} · {} · {:.1} ms · {} checks held</p>",
        text(&r.path),
        text(view.group),
        text(view.protocol),
        r.duration.as_secs_f64() * 1000.0,
        r.checks_passed
    );
    if let Some(reason) = &r.reason {
        let _ = writeln!(
            out,
            "<p class=\"reason\"><span class=\"verdict v-{verdict}\">{verdict}</span> {}</p>",
            text(reason)
        );
    }
    statements(out, view, index);
    let steps: Vec<Option<usize>> = r
        .failures
        .iter()
        .map(|f| failing_step(f, view.case, r))
        .collect();
    failures(out, view, index, &steps);
    transcript(out, view, &steps);
    out.push_str("</div>\n</details>\n");
}

/// The case's statements (and those its failures name) with their texts.
fn statements(out: &mut String, view: &CaseView<'_>, index: &StatementIndex) {
    let mut ids: Vec<&str> = view.result.spec.iter().map(String::as_str).collect();
    for f in &view.result.failures {
        for id in &f.spec {
            if !ids.contains(&id.as_str()) {
                ids.push(id);
            }
        }
    }
    if ids.is_empty() {
        return;
    }
    out.push_str("<h4>Statements</h4>\n<dl class=\"statements\">\n");
    for id in ids {
        let (excerpt, list) = match index.lookup(view.group, id) {
            Some(s) => (s.excerpt, s.list),
            None => ("(not in wirecheck's statement lists)", ""),
        };
        let _ = writeln!(
            out,
            "<dt>{}</dt><dd>{} <span class=\"list\">{}</span></dd>",
            statement_id(index, view.group, id),
            text(excerpt),
            text(list)
        );
    }
    out.push_str("</dl>\n");
}

fn failures(
    out: &mut String,
    view: &CaseView<'_>,
    index: &StatementIndex,
    steps: &[Option<usize>],
) {
    let r = view.result;
    if r.failures.is_empty() {
        return;
    }
    out.push_str("<h4>Failures</h4>\n<ol class=\"failures\">\n");
    for (f, step) in r.failures.iter().zip(steps) {
        let kind = match f.kind {
            FailureKind::Expectation => "expectation",
            FailureKind::Violation => "violation",
            FailureKind::Infra => "infra",
            FailureKind::Snapshot => "snapshot",
        };
        let _ = write!(
            out,
            "<li class=\"failure kind-{kind}\">\n<p class=\"message\"><span class=\"kind\">{kind}</span> "
        );
        if !f.spec.is_empty() {
            let ids: Vec<String> = f
                .spec
                .iter()
                .map(|id| statement_id(index, view.group, id))
                .collect();
            let _ = write!(out, "[{}] ", ids.join(", "));
        }
        push_text(out, &cut(&f.message));
        out.push_str("</p>\n");
        if f.location.is_some() || f.actor.is_some() || step.is_some() {
            out.push_str("<p class=\"where\">");
            if let Some(loc) = &f.location {
                let _ = write!(
                    out,
                    "at <code class=\"loc\">{}</code>",
                    text(&loc.to_string())
                );
            }
            if let Some(a) = &f.actor {
                let _ = write!(out, " · actor <code>{}</code>", text(a));
            }
            if let Some(s) = step {
                let _ = write!(
                    out,
                    " · <a href=\"#case-{}-step-{s}\">step #{} in the transcript</a>",
                    view.n,
                    s + 1
                );
            }
            out.push_str("</p>\n");
        }
        match (&f.expected, &f.actual) {
            (Some(e), Some(a)) => {
                let (e, a) = expected_actual(&cut(e), &cut(a));
                let _ = writeln!(
                    out,
                    "<table class=\"expected-actual\"><tr><th>expected</th><td><pre>{e}</pre></td></tr>\
                     <tr><th>actual</th><td><pre>{a}</pre></td></tr></table>"
                );
            }
            (e, a) => {
                for (label, v) in [("expected", e), ("actual", a)] {
                    if let Some(v) = v {
                        let _ = writeln!(
                            out,
                            "<table class=\"expected-actual\"><tr><th>{label}</th><td><pre>{}</pre></td></tr></table>",
                            text(&cut(v))
                        );
                    }
                }
            }
        }
        if let Some(d) = &f.diff {
            out.push_str(&unified_diff(d));
            out.push('\n');
        }
        out.push_str("</li>\n");
    }
    out.push_str("</ol>\n");
}

/// Bounds one failure field like a transcript entry.
fn cut(s: &str) -> String {
    crate::seam::transcript::cut_text(s.to_string())
}

/// The transcript table, bounded, each failing step's entries marked; a failing step that
/// recorded nothing gets a marker row where it would have been.
fn transcript(out: &mut String, view: &CaseView<'_>, steps: &[Option<usize>]) {
    let r = view.result;
    let n = view.n;
    // Failing step -> the failure numbers (1-based) that happened in it.
    let mut failing: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, s) in steps.iter().enumerate() {
        if let Some(s) = s {
            failing.entry(*s).or_default().push(i + 1);
        }
    }
    let _ = writeln!(
        out,
        "<h4>Transcript <span class=\"count\">({} entries)</span></h4>",
        r.transcript.len()
    );
    if r.transcript.is_empty() && failing.is_empty() {
        out.push_str("<p class=\"note\">nothing was recorded</p>\n");
        return;
    }
    out.push_str(
        "<table class=\"transcript\"><thead><tr><th>ms</th><th>step</th><th>actor</th><th></th>\
         <th>message</th></tr></thead>\n<tbody>\n",
    );
    let mut anchored: Vec<usize> = Vec::new();
    let mut in_steps = false;
    let mut bytes = 0;
    let mut shown = 0;
    for e in &r.transcript {
        // A failing step with no entries of its own is marked before the first entry after it.
        let after = match e.step {
            Some(s) => Some(s),
            None if in_steps => Some(usize::MAX),
            None => None,
        };
        if let Some(after) = after {
            in_steps = true;
            for (s, fs) in failing.range(..after) {
                if !anchored.contains(s) {
                    marker_row(out, n, *s, fs);
                    anchored.push(*s);
                }
            }
        }
        let row = entry_row(e, n, &failing, &mut anchored);
        if shown == MAX_TRANSCRIPT_ENTRIES || bytes + row.len() > MAX_TRANSCRIPT_BYTES {
            break;
        }
        bytes += row.len();
        shown += 1;
        out.push_str(&row);
    }
    for (s, fs) in &failing {
        if !anchored.contains(s) {
            marker_row(out, n, *s, fs);
        }
    }
    out.push_str("</tbody></table>\n");
    if shown < r.transcript.len() {
        let _ = writeln!(
            out,
            "<p class=\"note truncated\">transcript truncated: {} more entries not shown \
             (this report shows at most {MAX_TRANSCRIPT_ENTRIES} entries or {} KiB per case; \
             the JSON report has them all)</p>",
            r.transcript.len() - shown,
            MAX_TRANSCRIPT_BYTES / 1024
        );
    }
    if r.transcript_dropped > 0 {
        let _ = writeln!(
            out,
            "<p class=\"note truncated\">{} more entries were dropped while recording (over the \
             recording bound)</p>",
            r.transcript_dropped
        );
    }
}

fn failure_label(failures: &[usize]) -> String {
    let list: Vec<String> = failures.iter().map(|f| format!("failure {f}")).collect();
    list.join(", ")
}

fn marker_row(out: &mut String, n: usize, step: usize, failures: &[usize]) {
    let _ = writeln!(
        out,
        "<tr class=\"entry failing-step marker\" id=\"case-{n}-step-{step}\" data-step=\"{step}\">\
         <td></td><td>#{}</td><td></td><td></td><td>step #{} failed here ({}); it recorded nothing</td></tr>",
        step + 1,
        step + 1,
        failure_label(failures)
    );
}

fn entry_row(
    e: &Entry,
    n: usize,
    failing: &BTreeMap<usize, Vec<usize>>,
    anchored: &mut Vec<usize>,
) -> String {
    let (dir, arrow) = match e.direction {
        Direction::Sent => ("sent", "&gt;&gt;"),
        Direction::Received => ("received", "&lt;&lt;"),
        Direction::Event => ("event", "--"),
    };
    let mut class = format!("entry {dir}");
    let mut id = String::new();
    let mut title = String::new();
    if e.flagged {
        class.push_str(" flagged");
    }
    if let Some(s) = e.step
        && let Some(fs) = failing.get(&s)
    {
        class.push_str(" failing-step");
        title = format!(
            " title=\"{}\"",
            attr(&format!("step of {}", failure_label(fs)))
        );
        if !anchored.contains(&s) {
            anchored.push(s);
            id = format!(" id=\"case-{n}-step-{s}\"");
        }
    }
    let step = e.step.map(|s| format!("#{}", s + 1)).unwrap_or_default();
    let data_step = e
        .step
        .map(|s| format!(" data-step=\"{s}\""))
        .unwrap_or_default();
    let mut row = format!(
        "<tr class=\"{class}\"{id}{data_step}{title}><td class=\"at\">{:.3}</td><td>{step}</td>\
         <td>{}</td><td class=\"dir\">{arrow}</td><td><code>{}</code>",
        e.at.as_secs_f64() * 1000.0,
        text(&e.actor),
        text(&e.summary())
    );
    if let Some(raw) = &e.raw
        && (e.message.is_none() || e.flagged)
    {
        let _ = write!(row, "<div class=\"hex\">{}", hex::encode(&raw.bytes));
        if raw.truncated > 0 {
            let _ = write!(
                row,
                " <span class=\"note\">(+{} bytes)</span>",
                raw.truncated
            );
        }
        row.push_str("</div>");
    }
    row.push_str("</td></tr>\n");
    row
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::case::SourceLoc;
    use crate::seam::transcript::{MessageData, Transcript};

    fn result(entries: usize) -> CaseResult {
        let t = Transcript::new();
        let rec = t.recorder("alice");
        t.set_step(Some(0));
        rec.note("first step");
        t.set_step(Some(1));
        for i in 0..entries {
            rec.received(
                Some(MessageData {
                    data: serde_json::Value::Null,
                    summary: format!("<m n='{i}'/> ]]> \u{1}"),
                }),
                None,
                false,
            );
        }
        t.set_step(None);
        rec.note("cleanup");
        let mut f = Failure::check(vec!["RFC6120-8.4-12".into()], "no <reply/>");
        f.location = Some(SourceLoc {
            path: "cases/x.yaml".into(),
            line: 9,
            col: 5,
        });
        CaseResult {
            id: "xmpp.iq.x".into(),
            title: "t <b>".into(),
            group: "xmpp".into(),
            path: "cases/x.yaml".into(),
            spec: vec!["RFC6120-8.4-12".into()],
            verdict: Verdict::Fail,
            reason: None,
            failures: vec![f],
            checks_passed: 1,
            duration: Duration::from_millis(2),
            transcript: t.entries().0,
            transcript_dropped: 3,
            generated: Default::default(),
        }
    }

    fn html(r: &CaseResult) -> String {
        let mut out = String::new();
        let view = CaseView {
            n: 4,
            result: r,
            case: None,
            group: "xmpp.iq",
            protocol: "xmpp",
        };
        render(&mut out, &view, &StatementIndex::load());
        out
    }

    #[test]
    fn the_failing_step_is_marked_and_text_escaped() {
        let r = result(3);
        let out = html(&r);
        // Without the case, the last step the transcript saw is the failing one.
        assert_eq!(failing_step(&r.failures[0], None, &r), Some(1));
        assert_eq!(out.matches("failing-step").count(), 3);
        assert_eq!(out.matches("id=\"case-4-step-1\"").count(), 1);
        assert!(out.contains("href=\"#case-4-step-1\""));
        assert!(out.contains("&lt;m n='0'/&gt; ]]&gt; <span class=\"ctl\">\\u{1}</span>"));
        assert!(out.contains("t &lt;b&gt;"));
        assert!(!out.contains("<m ") && !out.contains("<b>") && !out.contains('\u{1}'));
        assert!(out.contains("3 more entries were dropped while recording"));
        assert!(out.contains("<code class=\"loc\">cases/x.yaml:9:5</code>"));
    }

    #[test]
    fn a_long_transcript_is_truncated_with_a_note() {
        let r = result(MAX_TRANSCRIPT_ENTRIES + 10);
        let out = html(&r);
        let rows = out.matches("<tr class=\"entry").count();
        assert_eq!(rows, MAX_TRANSCRIPT_ENTRIES);
        // 1 note + 2_010 messages + 1 cleanup note recorded; 2_000 shown.
        assert!(out.contains("transcript truncated: 12 more entries not shown"));

        let t = Transcript::new();
        let rec = t.recorder("a");
        let big = "x".repeat(crate::seam::transcript::MAX_ENTRY_BYTES - 100);
        for _ in 0..100 {
            rec.note(big.clone());
        }
        let mut r = result(0);
        r.transcript = t.entries().0;
        let out = html(&r);
        assert!(out.len() < MAX_TRANSCRIPT_BYTES + 64 * 1024);
        assert!(out.contains("transcript truncated:"));
    }

    #[test]
    fn a_failing_step_without_entries_gets_a_marker_row() {
        let mut r = result(0);
        // Step 1 recorded nothing: the failure in it is marked before the cleanup entry.
        r.transcript.retain(|e| e.step != Some(1));
        let case_less_step = Some(1);
        let steps = vec![case_less_step];
        let mut out = String::new();
        let view = CaseView {
            n: 1,
            result: &r,
            case: None,
            group: "xmpp.iq",
            protocol: "xmpp",
        };
        transcript(&mut out, &view, &steps);
        let marker = out.find("step #2 failed here (failure 1)").unwrap();
        let cleanup = out.find("cleanup").unwrap();
        let first = out.find("first step").unwrap();
        assert!(first < marker && marker < cleanup, "{out}");
    }
}
