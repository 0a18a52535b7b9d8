//! A deviation from a normative statement, found while decoding or checking what a peer sent.

use std::fmt;

/// One observed breach of a spec statement, e.g. a reserved flag bit set in a server's SUBACK.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    /// The statement id as in shared/spec (`MQTT-2.2.2-2`, `RFC7395-3.3.3-1`).
    pub spec: String,
    /// What was observed, in words a server implementer can act on.
    pub detail: String,
}

impl Violation {
    /// Builds a violation of statement `spec` with the given description.
    pub fn new(spec: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            spec: spec.into(),
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.spec, self.detail)
    }
}
