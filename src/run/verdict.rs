//! Verdicts of cases, judged in one place from the failures a run collected, and the results
//! that carry them with the transcript and the generated values a normaliser would redact.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::case::Case;
use crate::seam::transcript::{Direction, Entry};
pub use crate::seam::{Failure, FailureKind};
use crate::target::Target;

/// The outcome of one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every check held.
    Pass,
    /// A check failed: the server does not conform.
    Fail,
    /// Infrastructure problem: refused connection, setup timeout, bad profile for this case.
    Error,
    /// Not run: capability missing, protocol not spoken by the target.
    Skip,
    /// Failed, but the profile declares it as a known deviation.
    Xfail,
    /// Passed, although the profile declares a deviation for it: the declaration is stale.
    Xpass,
    /// Stopped by a signal before it could finish (or before it started).
    Interrupted,
}

impl Verdict {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Error => "error",
            Verdict::Skip => "skip",
            Verdict::Xfail => "xfail",
            Verdict::Xpass => "xpass",
            Verdict::Interrupted => "interrupted",
        }
    }
}

/// The result of running one case.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseResult {
    /// Case id.
    pub id: String,
    /// Case title.
    pub title: String,
    /// `mqtt.v311` or `xmpp`.
    pub group: String,
    /// The case file.
    pub path: String,
    /// The statements the case checks.
    pub spec: Vec<String>,
    /// Verdict.
    pub verdict: Verdict,
    /// Why skipped / why xfail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Failed checks or the infrastructure error.
    pub failures: Vec<Failure>,
    /// Checks that held.
    pub checks_passed: usize,
    /// Wall time.
    #[serde(serialize_with = "ser_secs")]
    pub duration: Duration,
    /// Transcript entries.
    pub transcript: Vec<Entry>,
    /// Transcript entries dropped over the bound.
    pub transcript_dropped: usize,
    /// Values generated for this run and case (run id, `{ns}`, client ids, JIDs, stream ids,
    /// captures), by variable name: what a normaliser replaces with placeholders.
    pub generated: BTreeMap<String, String>,
}

impl CaseResult {
    /// Messages sent and received in this case (transcript entries that are not events).
    pub fn exchanges(&self) -> usize {
        self.transcript
            .iter()
            .filter(|e| e.direction != Direction::Event)
            .count()
    }
}

fn ser_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Counts of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Totals {
    /// Passed cases.
    pub passed: usize,
    /// Failed cases.
    pub failed: usize,
    /// Errored cases.
    pub errors: usize,
    /// Skipped cases.
    pub skipped: usize,
    /// Known deviations.
    pub xfailed: usize,
    /// Declared deviations that passed.
    pub xpassed: usize,
    /// Cases a signal stopped.
    pub interrupted: usize,
}

impl Totals {
    /// Counts verdicts.
    pub fn of(results: &[CaseResult]) -> Self {
        let mut t = Totals::default();
        for r in results {
            t.add(r.verdict);
        }
        t
    }

    /// Counts one more case with this verdict.
    pub fn add(&mut self, verdict: Verdict) {
        let count = match verdict {
            Verdict::Pass => &mut self.passed,
            Verdict::Fail => &mut self.failed,
            Verdict::Error => &mut self.errors,
            Verdict::Skip => &mut self.skipped,
            Verdict::Xfail => &mut self.xfailed,
            Verdict::Xpass => &mut self.xpassed,
            Verdict::Interrupted => &mut self.interrupted,
        };
        *count += 1;
    }
}

/// Judges a case from the failures its run collected: an infrastructure failure makes it an
/// error; a snapshot difference, or a failure that no declared deviation covers, makes it fail; failures that deviations
/// cover one by one make it xfail; a pass of a case with a declared deviation is an xpass.
/// Returns the verdict and its reason.
pub fn judge(case: &Case, target: &Target, failures: &[Failure]) -> (Verdict, Option<String>) {
    if failures.iter().any(|f| f.kind == FailureKind::Infra) {
        return (Verdict::Error, None);
    }
    // A snapshot difference is reported like any other, even on a declared deviation.
    if failures.iter().any(|f| f.kind == FailureKind::Snapshot) {
        return (Verdict::Fail, None);
    }
    if !failures.is_empty() {
        let per_failure: Vec<Vec<String>> = failures.iter().map(|f| f.spec.clone()).collect();
        return match target.covering_deviations(case, &per_failure) {
            Some(reasons) => (Verdict::Xfail, Some(reasons.join("; "))),
            None => (Verdict::Fail, None),
        };
    }
    match target.deviation_for(case, &case.spec) {
        Some(d) if d.case.is_some() && d.intermittent => (
            Verdict::Pass,
            Some(format!(
                "intermittent deviation not seen this run: {}",
                d.reason
            )),
        ),
        Some(d) if d.case.is_some() => (
            Verdict::Xpass,
            Some(format!("declared deviation not observed: {}", d.reason)),
        ),
        _ => (Verdict::Pass, None),
    }
}
