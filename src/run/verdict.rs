//! Verdicts of cases and the failures that explain them.

use std::time::Duration;

use crate::case::SourceLoc;
use crate::run::transcript::Entry;

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
        }
    }
}

/// Whether a failure is the server's (non-conformance) or the setup's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureKind {
    /// A check failed.
    Check,
    /// Infrastructure.
    Infra,
}

/// One failed check (or infrastructure problem), located in the case file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Failure {
    /// Check or infra.
    pub kind: FailureKind,
    /// Statement ids the check verifies.
    pub spec: Vec<String>,
    /// What went wrong, in one line.
    pub message: String,
    /// What was expected, if it can be said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// What arrived instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
    /// The step in the case file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<SourceLoc>,
    /// The actor concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

impl Failure {
    /// A failed check.
    pub fn check(spec: Vec<String>, message: impl Into<String>) -> Self {
        Self {
            kind: FailureKind::Check,
            spec,
            message: message.into(),
            expected: None,
            actual: None,
            location: None,
            actor: None,
        }
    }
    /// An infrastructure problem.
    pub fn infra(message: impl Into<String>) -> Self {
        Self {
            kind: FailureKind::Infra,
            ..Self::check(Vec::new(), message)
        }
    }
    /// Adds the expected / actual pair.
    pub fn with_diff(mut self, expected: impl Into<String>, actual: impl Into<String>) -> Self {
        self.expected = Some(expected.into());
        self.actual = Some(actual.into());
        self
    }
    /// Adds what actually arrived.
    pub fn with_actual(mut self, actual: impl Into<String>) -> Self {
        self.actual = Some(actual.into());
        self
    }
    /// Sets the statements when none are set yet.
    pub fn or_spec(mut self, spec: &[String]) -> Self {
        if self.spec.is_empty() {
            self.spec = spec.to_vec();
        }
        self
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
}

impl CaseResult {
    /// Messages sent and received in this case (transcript entries that are not events).
    pub fn exchanges(&self) -> usize {
        use crate::run::transcript::Direction;
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
}

impl Totals {
    /// Counts verdicts.
    pub fn of(results: &[CaseResult]) -> Self {
        let mut t = Totals::default();
        for r in results {
            match r.verdict {
                Verdict::Pass => t.passed += 1,
                Verdict::Fail => t.failed += 1,
                Verdict::Error => t.errors += 1,
                Verdict::Skip => t.skipped += 1,
                Verdict::Xfail => t.xfailed += 1,
            }
        }
        t
    }
}
