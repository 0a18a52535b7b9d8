//! JUnit XML via quick-junit: one testcase per case, failure / error / skipped, transcript in
//! system-out (quick-junit escapes `]]>` and control bytes correctly).

use std::path::Path;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::run::engine::transcript_text;
use crate::run::verdict::{CaseResult, Verdict};

use super::{ReportError, failure_text};

/// Builds the JUnit report of a run.
pub fn build(run_name: &str, results: &[CaseResult]) -> Report {
    let mut report = Report::new(format!("wirecheck {run_name}"));
    let mut groups: Vec<String> = results.iter().map(|r| r.group.clone()).collect();
    groups.sort();
    groups.dedup();
    for group in groups {
        let mut suite = TestSuite::new(group.clone());
        for r in results.iter().filter(|r| r.group == group) {
            let status = match r.verdict {
                Verdict::Pass => TestCaseStatus::success(),
                Verdict::Xpass => {
                    // A stale deviation fails the run (unless --allow-xpass): a failure here too.
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    if let TestCaseStatus::NonSuccess { message, ty, .. } = &mut s {
                        let reason = r.reason.clone().unwrap_or_default();
                        *message = Some(format!("xpass: {reason}").into());
                        *ty = Some("xpass".into());
                    }
                    s
                }
                Verdict::Fail | Verdict::Error => {
                    let kind = if r.verdict == Verdict::Fail {
                        NonSuccessKind::Failure
                    } else {
                        NonSuccessKind::Error
                    };
                    let mut s = TestCaseStatus::non_success(kind);
                    if let TestCaseStatus::NonSuccess {
                        message,
                        ty,
                        description,
                        ..
                    } = &mut s
                    {
                        let first = r.failures.first();
                        *message = first
                            .map(|f| {
                                if f.spec.is_empty() {
                                    f.message.clone()
                                } else {
                                    format!("[{}] {}", f.spec.join(", "), f.message)
                                }
                            })
                            .map(Into::into);
                        *ty = Some(
                            if r.verdict == Verdict::Fail {
                                "nonconformance"
                            } else {
                                "infrastructure"
                            }
                            .into(),
                        );
                        *description = Some(
                            r.failures
                                .iter()
                                .map(failure_text)
                                .collect::<Vec<_>>()
                                .join("\n\n")
                                .into(),
                        );
                    }
                    s
                }
                Verdict::Skip | Verdict::Xfail | Verdict::Interrupted => {
                    let mut s = TestCaseStatus::skipped();
                    if let TestCaseStatus::Skipped { message, .. } = &mut s {
                        let reason = r.reason.clone().unwrap_or_default();
                        *message = Some(format!("{}: {reason}", r.verdict.name()).into());
                    }
                    s
                }
            };
            let mut tc = TestCase::new(r.id.clone(), status);
            tc.set_classname(group.clone());
            tc.set_time(r.duration);
            tc.extra.insert("file".into(), r.path.clone().into());
            tc.set_system_out(transcript_text(r));
            suite.add_test_case(tc);
        }
        report.add_test_suite(suite);
    }
    report
}

/// Writes the JUnit report to `path` (creating its folder).
pub fn write(path: &Path, run_name: &str, results: &[CaseResult]) -> Result<(), ReportError> {
    let report = build(run_name, results);
    let xml = report
        .to_string()
        .map_err(|e| ReportError::Serialize(e.to_string()))?;
    super::write_file(path, xml.as_bytes())
}
