//! JUnit XML via quick-junit, in the shape Jenkins' JUnit schema and GitLab accept: one testcase
//! per case (classname = group, name = case id), failure / error / skipped, the transcript in
//! system-out, bounded per case so that a suite of hundreds of cases stays far below GitLab's
//! 30 MB (quick-junit escapes `]]>` and drops control bytes).

use std::path::Path;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::run::engine::transcript_text;
use crate::run::verdict::{CaseResult, Verdict};

use super::{ReportError, failure_text};

/// Largest XML-escaped size of one testcase's system-out (the transcript), in bytes.
pub const MAX_SYSTEM_OUT: usize = 32 * 1024;

/// Largest XML-escaped size of one failure or error description, in bytes.
pub const MAX_DESCRIPTION: usize = 8 * 1024;

/// Largest XML-escaped size of one `message` attribute, in bytes.
pub const MAX_MESSAGE: usize = 1024;

/// Prefix of the report name: `wirecheck <target>`.
pub const NAME_PREFIX: &str = "wirecheck ";

/// The `type` of the failure element of an xpass (a stale deviation fails the run).
const XPASS_TYPE: &str = "xpass";

/// Builds the JUnit report of a run.
pub fn build(run_name: &str, results: &[CaseResult]) -> Report {
    let mut report = Report::new(format!("{NAME_PREFIX}{run_name}"));
    let mut groups: Vec<String> = results.iter().map(|r| r.group.clone()).collect();
    groups.sort();
    groups.dedup();
    for group in groups {
        let mut suite = TestSuite::new(group.clone());
        let mut time = Duration::ZERO;
        for r in results.iter().filter(|r| r.group == group) {
            let mut tc = TestCase::new(r.id.clone(), status_of(r));
            tc.set_classname(group.clone());
            tc.set_time(r.duration);
            time += r.duration;
            // The schema Jenkins applies has no `file` attribute on a testcase: the case file
            // heads the output instead.
            let out = format!("case file: {}\n{}", r.path, transcript_text(r));
            tc.set_system_out(bounded(&out, MAX_SYSTEM_OUT, "transcript"));
            suite.add_test_case(tc);
        }
        suite.set_time(time);
        report.add_test_suite(suite);
    }
    report
}

/// The testcase status of a verdict, with its message, type and (bounded) description.
fn status_of(r: &CaseResult) -> TestCaseStatus {
    let reason = r.reason.clone().unwrap_or_default();
    match r.verdict {
        Verdict::Pass => TestCaseStatus::success(),
        Verdict::Xpass => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(bounded(&format!("xpass: {reason}"), MAX_MESSAGE, "message"));
            s.set_type(XPASS_TYPE);
            s
        }
        Verdict::Fail | Verdict::Error => {
            let (kind, ty) = if r.verdict == Verdict::Fail {
                (NonSuccessKind::Failure, "nonconformance")
            } else {
                (NonSuccessKind::Error, "infrastructure")
            };
            let mut s = TestCaseStatus::non_success(kind);
            if let Some(f) = r.failures.first() {
                let first = if f.spec.is_empty() {
                    f.message.clone()
                } else {
                    format!("[{}] {}", f.spec.join(", "), f.message)
                };
                s.set_message(bounded(&first, MAX_MESSAGE, "message"));
            }
            s.set_type(ty);
            let description = r
                .failures
                .iter()
                .map(failure_text)
                .collect::<Vec<_>>()
                .join("\n\n");
            s.set_description(bounded(&description, MAX_DESCRIPTION, "failures"));
            s
        }
        Verdict::Skip | Verdict::Xfail | Verdict::Interrupted => {
            let mut s = TestCaseStatus::skipped();
            let message = format!("{}: {reason}", r.verdict.name());
            s.set_message(bounded(&message, MAX_MESSAGE, "message"));
            s
        }
    }
}

/// The verdict a testcase status written by [`build`] stands for (the inverse of its mapping:
/// xpass is a failure of type `xpass`; xfail and interrupted are skipped with their name first).
pub fn verdict_of(status: &TestCaseStatus) -> Verdict {
    match status {
        TestCaseStatus::Success { .. } => Verdict::Pass,
        TestCaseStatus::NonSuccess { kind, ty, .. } => match kind {
            NonSuccessKind::Error => Verdict::Error,
            NonSuccessKind::Failure if ty.as_ref().is_some_and(|t| t.as_str() == XPASS_TYPE) => {
                Verdict::Xpass
            }
            NonSuccessKind::Failure => Verdict::Fail,
        },
        TestCaseStatus::Skipped { message, .. } => {
            let m = message.as_ref().map(|m| m.as_str()).unwrap_or_default();
            [Verdict::Xfail, Verdict::Interrupted]
                .into_iter()
                .find(|v| m.starts_with(&format!("{}:", v.name())))
                .unwrap_or(Verdict::Skip)
        }
    }
}

/// Bytes `c` takes once XML-escaped (quick-xml escapes all five special characters).
fn escaped_len(c: char) -> usize {
    match c {
        '&' => 5,
        '<' | '>' => 4,
        '"' | '\'' => 6,
        c => c.len_utf8(),
    }
}

/// `text` cut so that its XML-escaped form, with the truncation note, fits in `bound` bytes; the
/// note names how much of `what` is shown and where the rest is.
pub fn bounded(text: &str, bound: usize, what: &str) -> String {
    let total: usize = text.chars().map(escaped_len).sum();
    if total <= bound {
        return text.to_string();
    }
    let note = |shown: usize| {
        format!(
            "\n[truncated: {shown} of {} bytes shown; the JSON report holds the full {what}]",
            text.len()
        )
    };
    // The note's own escaped size, with room for the digits of `shown`.
    let room = bound.saturating_sub(note(text.len()).chars().map(escaped_len).sum());
    let mut used = 0;
    let mut end = 0;
    for (i, c) in text.char_indices() {
        used += escaped_len(c);
        if used > room {
            break;
        }
        end = i + c.len_utf8();
    }
    format!("{}{}", &text[..end], note(end))
}

/// The report as XML text, in the shape the Jenkins schema accepts: quick-junit writes a
/// `skipped` count on the `testsuites` root, which that schema does not allow there (each
/// `testsuite` keeps its own), so it is left out.
pub fn to_xml(report: &Report) -> Result<String, ReportError> {
    let xml = report
        .to_string()
        .map_err(|e| ReportError::Serialize(e.to_string()))?;
    let Some(start) = xml.find("<testsuites") else {
        return Ok(xml);
    };
    // Attribute values are escaped, so the first `>` after the root's name ends its start tag.
    let end = start + xml[start..].find('>').unwrap_or(0);
    let tag = &xml[start..end];
    let skipped = format!(" skipped=\"{}\"", report.skipped);
    if !tag.contains(&skipped) {
        return Ok(xml);
    }
    Ok(format!(
        "{}{}{}",
        &xml[..start],
        tag.replacen(&skipped, "", 1),
        &xml[end..]
    ))
}

/// Writes the JUnit report to `path` (creating its folder).
pub fn write(path: &Path, run_name: &str, results: &[CaseResult]) -> Result<(), ReportError> {
    let xml = to_xml(&build(run_name, results))?;
    super::write_file(path, xml.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept_whole() {
        assert_eq!(bounded("a <b> & 'c'", 100, "transcript"), "a <b> & 'c'");
    }

    #[test]
    fn long_text_is_cut_within_the_escaped_bound_with_a_note() {
        let text = "\"quoted\" é ".repeat(10_000);
        let cut = bounded(&text, 4096, "transcript");
        let escaped: usize = cut.chars().map(escaped_len).sum();
        assert!(escaped <= 4096, "{escaped} escaped bytes over the bound");
        let shown = cut.find("\n[truncated").unwrap();
        assert!(text.starts_with(&cut[..shown]));
        assert!(cut.ends_with(&format!(
            "[truncated: {shown} of {} bytes shown; the JSON report holds the full transcript]",
            text.len()
        )));
    }

    #[test]
    fn the_root_loses_only_its_skipped_count() {
        let mut report = Report::new("wirecheck t");
        let mut suite = TestSuite::new("g");
        suite.add_test_case(TestCase::new("a", TestCaseStatus::skipped()));
        report.add_test_suite(suite);
        let xml = to_xml(&report).unwrap();
        let root = xml.lines().find(|l| l.contains("<testsuites")).unwrap();
        assert!(!root.contains("skipped="), "{root}");
        let suite = xml.lines().find(|l| l.contains("<testsuite ")).unwrap();
        assert!(suite.contains("skipped=\"1\""), "{suite}");
    }
}
