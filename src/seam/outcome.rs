//! What a step can end in besides success: a failed expectation, an always-on protocol
//! violation, or an infrastructure error — each located in the case file and, where known,
//! naming the statement that broke.

use crate::case::SourceLoc;
use crate::violation::Violation;

/// Why a check did not hold, as the verdict needs to tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureKind {
    /// A step's expectation did not hold (wrong message, nothing arrived, no close).
    Expectation,
    /// An always-on rule (strict decoder, framing, WebSocket) was broken by the server.
    Violation,
    /// Infrastructure or setup: refused connection, too few accounts, refused credentials.
    Infra,
    /// The normalised transcript differs from the recorded snapshot (never a declared deviation).
    Snapshot,
}

/// One failed check (or infrastructure problem), located in the case file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Failure {
    /// Expectation, violation or infra.
    pub kind: FailureKind,
    /// The statement ids the failed check verifies (empty when none is known).
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
    /// A unified diff (snapshot failures).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// Whether `spec` was set by the check itself (true) or is still open for the step's or the
    /// case's statements (false).
    #[serde(skip)]
    pub spec_fixed: bool,
    /// The awaited message arrived but did not match its pattern (what `skip_unless` acts on).
    #[serde(skip)]
    pub mismatched: bool,
    /// The awaited message did not arrive before the deadline (what `exactly_one_of` acts on).
    #[serde(skip)]
    pub nothing_arrived: bool,
    /// The case does not apply to this target (an optional feature it lacks): the verdict is
    /// skip with this reason, not a failure.
    #[serde(skip)]
    pub not_applicable: Option<String>,
}

impl Failure {
    /// A failed expectation; an empty `spec` is filled from the step or the case later.
    pub fn check(spec: Vec<String>, message: impl Into<String>) -> Self {
        Self {
            kind: FailureKind::Expectation,
            spec_fixed: !spec.is_empty(),
            spec,
            message: message.into(),
            expected: None,
            actual: None,
            location: None,
            actor: None,
            diff: None,
            mismatched: false,
            nothing_arrived: false,
            not_applicable: None,
        }
    }
    /// A failed expectation that names exactly `spec` (possibly none): never blamed on the case's
    /// other statements.
    pub fn check_only(spec: Vec<String>, message: impl Into<String>) -> Self {
        Self {
            spec_fixed: true,
            ..Self::check(spec, message)
        }
    }
    /// A broken always-on rule.
    pub fn violation(v: &Violation) -> Self {
        Self {
            kind: FailureKind::Violation,
            ..Self::check_only(vec![v.spec.clone()], v.detail.clone())
        }
    }
    /// A snapshot difference (its diff goes in `diff`).
    pub fn snapshot(message: impl Into<String>) -> Self {
        Self {
            kind: FailureKind::Snapshot,
            ..Self::check_only(Vec::new(), message)
        }
    }
    /// An infrastructure problem.
    pub fn infra(message: impl Into<String>) -> Self {
        Self {
            kind: FailureKind::Infra,
            ..Self::check_only(Vec::new(), message)
        }
    }
    /// The case does not apply: the target lacks an optional feature it needs (verdict skip).
    pub fn not_applicable(why: impl Into<String>) -> Self {
        Self {
            not_applicable: Some(why.into()),
            ..Self::infra("not applicable")
        }
    }
    /// Adds the expected / actual pair.
    pub fn with_diff(mut self, expected: impl Into<String>, actual: impl Into<String>) -> Self {
        self.expected = Some(expected.into());
        self.actual = Some(actual.into());
        self
    }
    /// Marks an expectation whose message arrived but differed from the pattern.
    pub fn mismatched(mut self) -> Self {
        self.mismatched = true;
        self
    }
    /// Marks an expectation whose message did not arrive in time.
    pub fn nothing_arrived(mut self) -> Self {
        self.nothing_arrived = true;
        self
    }
    /// Adds what actually arrived.
    pub fn with_actual(mut self, actual: impl Into<String>) -> Self {
        self.actual = Some(actual.into());
        self
    }
    /// Sets the statements when the check did not fix them itself.
    pub fn or_spec(mut self, spec: &[String]) -> Self {
        if !self.spec_fixed && self.spec.is_empty() {
            self.spec = spec.to_vec();
        }
        self
    }
}
