//! Oracles: the liveness probe (a fresh session must work within a deadline) and the spec
//! oracle (always-on violations the strict decoder flagged on the server's replies).

use std::time::Duration;

use crate::case::Protocol;
use crate::run::registry;
use crate::run::verdict::CaseResult;
use crate::seam::ProbeError;
use crate::seam::outcome::FailureKind;
use crate::target::Target;
use crate::transport::ConnectOptions;

/// Probes `target` with a fresh session of `protocol` (its liveness probe, over the transport
/// its endpoint names), which must start within `deadline`. Err says what failed.
pub async fn probe(
    protocol: Protocol,
    target: &Target,
    connect: &ConnectOptions,
    deadline: Duration,
) -> Result<(), ProbeError> {
    let fuzz = registry::of(protocol).fuzzing(None);
    let until = tokio::time::Instant::now() + deadline;
    match tokio::time::timeout(deadline, fuzz.probe(target, connect, until)).await {
        Ok(r) => r,
        Err(_) => Err(ProbeError::Timeout(deadline)),
    }
}

/// The statement ids of the always-on violations in a result, sorted, deduplicated.
pub fn violations(result: &CaseResult) -> Vec<String> {
    let mut ids: Vec<String> = result
        .failures
        .iter()
        .filter(|f| f.kind == FailureKind::Violation)
        .flat_map(|f| f.spec.iter().cloned())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}
