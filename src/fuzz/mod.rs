//! `wirecheck fuzz`: replays the selected cases against a live server with some of their sent
//! messages mutated through the send hook, watches the server with oracles, and writes each
//! distinct failure as a minimised, replayable case.

pub mod campaign;
pub mod finding;
pub mod mutate;
pub mod oracle;
pub mod schedule;
pub mod spawn;
pub mod targets;

pub use campaign::{Campaign, Config, Limit, Summary};

/// Why a campaign could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum FuzzError {
    /// The server command could not be started, or never accepted connections.
    #[error("server: {0}")]
    Spawn(String),
    /// The target could not be resolved.
    #[error("target: {0}")]
    Target(String),
    /// A findings file could not be written.
    #[error("findings: {0}")]
    Write(String),
    /// The server stopped answering and did not come back.
    #[error("the target stopped answering and did not come back: {0}")]
    Gone(String),
}
