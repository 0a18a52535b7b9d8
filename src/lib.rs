//! wirecheck: conformance test suite for MQTT 3.1.1 (TCP, TLS, WebSocket) and XMPP over WebSocket.
//!
//! Data flows one way: load (cases + profile) → plan → run → verdicts + transcripts → reports.

// Steps return `Result<_, run::Failure>`; a failure is the cold path and carries the whole
// explanation (statement ids, expected, actual, place), so its size is deliberate.
#![allow(clippy::result_large_err)]

pub mod audit;
pub mod capability;
pub mod case;
pub mod cli;
pub mod coverage;
pub mod facts;
pub mod fuzz;
pub mod mqtt;
pub mod reference;
pub mod report;
pub mod run;
pub mod seam;
pub mod snapshot;
pub mod spec;
pub mod target;
pub mod transport;
pub mod vars;
pub mod violation;
pub mod xmpp;
