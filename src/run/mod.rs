//! Running cases: plan (filters, partitions), the per-case engine, the scheduler, transcripts
//! and verdicts. Knows steps, actors and time, not packets.

pub mod actor;
pub mod engine;
pub mod plan;
pub mod scheduler;
pub mod transcript;
pub mod verdict;

pub use engine::{RunOptions, run_case};
pub use verdict::{CaseResult, Failure, Totals, Verdict};
