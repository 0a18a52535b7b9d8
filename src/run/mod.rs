//! Running cases: plan (filters, partitions), the per-case engine, the scheduler, verdicts and
//! the protocol registry. Knows steps, actors and time, not packets.

pub mod engine;
pub mod plan;
pub mod probe;
pub mod registry;
pub mod scheduler;
pub mod stop;
pub mod verdict;

/// The typed transcript (defined in the seam both protocols and the engine share).
pub use crate::seam::transcript;
pub use engine::{RunOptions, run_case};
pub use verdict::{CaseResult, Failure, FailureKind, Totals, Verdict};
