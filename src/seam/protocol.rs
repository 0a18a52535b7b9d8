//! The protocol interface the engine runs cases through: a protocol prepares a case (variables,
//! leased accounts), opens actor sessions over links, runs its macros and message forms, and
//! cleans up what a case left on the server. `run/` drives it; `mqtt/` and `xmpp/` implement it.

use std::any::Any;

use async_trait::async_trait;
use tokio::time::Instant;

use super::link::{Ended, LinkEnv};
use super::mutate::Fuzzing;
use super::outcome::Failure;
use crate::capability::Learned;
use crate::case::model::{ExpectStep, SendStep};
use crate::case::{Case, Step};
use crate::target::Target;
use crate::transport::{ConnectOptions, Endpoint};
use crate::vars::Vars;
use crate::violation::Violation;

/// One protocol wirecheck can test.
#[async_trait]
pub trait Protocol: Send + Sync + 'static {
    /// The case files' `protocol:` value this implementation serves (`mqtt`, `xmpp`).
    fn name(&self) -> &'static str;

    /// The target's endpoint for this protocol, if it speaks it.
    fn endpoint<'t>(&self, target: &'t Target) -> Option<&'t Endpoint>;

    /// Sets a case up: defines its protocol variables (client ids, JIDs) in `vars` and takes
    /// what it needs from the target (leased accounts). `tag` is short, stable and unique per
    /// run and case, for generated names.
    async fn prepare(
        &self,
        case: &Case,
        target: &Target,
        vars: &mut Vars,
        tag: &str,
    ) -> Result<Box<dyn CaseState>, Failure>;

    /// Learns the target's capabilities before the run (e.g. from MQTT 5.0 CONNACK
    /// properties), connecting with `connect` and finishing by `deadline`. What it learns counts
    /// where the profile declares nothing. The default learns nothing.
    async fn probe(
        &self,
        target: &Target,
        connect: &ConnectOptions,
        deadline: Instant,
    ) -> Result<Learned, Failure> {
        let _ = (target, connect, deadline);
        Ok(Learned::default())
    }

    /// What the fuzzer mutates this protocol's messages with, for cases in `version` (a case's
    /// `version:`; None: the protocol's default), and its liveness probe.
    fn fuzzing(&self, version: Option<&str>) -> Box<dyn Fuzzing>;

    /// What an audit reports about the endpoint beyond its cases: versions and limits the
    /// server announces, the mechanisms it offers, whether it lets anonymous clients in.
    /// Connects as the probe does, leaves nothing behind and finishes by `deadline`; a
    /// connection that fails becomes a fact saying so. The default reports nothing.
    async fn audit_facts(
        &self,
        target: &Target,
        connect: &ConnectOptions,
        deadline: Instant,
    ) -> Vec<crate::facts::Fact> {
        let _ = (target, connect, deadline);
        Vec::new()
    }
}

/// A case's protocol state between set-up and cleanup.
#[async_trait]
pub trait CaseState: Send {
    /// Opens `actor`'s connection.
    async fn open(
        &mut self,
        actor: &str,
        env: &LinkEnv,
        vars: &Vars,
    ) -> Result<Box<dyn ActorSession>, Failure>;

    /// Ends the case on the server: closes `sessions` (as the protocol requires for the server
    /// to finish them) and undoes what the case left (retained messages, rosters). Returns notes
    /// on what could not be undone. Leased accounts are released when the state is dropped.
    async fn cleanup(
        &mut self,
        sessions: Vec<Box<dyn ActorSession>>,
        env: &LinkEnv,
        deadline: Instant,
    ) -> Vec<String>;
}

/// What a step needs besides its own fields.
pub struct StepCx<'a> {
    /// The case variables (captures bind here).
    pub vars: &'a mut Vars,
    /// Deadline of the step's waits.
    pub deadline: Instant,
}

/// What the next read gave, for the engine's protocol-neutral steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// A message arrived: its summary.
    Message(String),
    /// The connection ended.
    Ended(Ended),
    /// Nothing arrived before the deadline.
    Timeout,
    /// The server turned the connection away for a set-up reason (it wants credentials this
    /// connection did not give), so what the step waits for cannot be judged: an error verdict.
    SetupRefused(String),
}

/// One actor's open connection.
#[async_trait]
pub trait ActorSession: Send {
    /// Runs a macro step of this protocol (`connect`, `login`); other steps are an error.
    async fn run_macro(&mut self, step: &Step, cx: &mut StepCx<'_>) -> Result<(), Failure>;

    /// Sends the message of a `send` step.
    async fn send(&mut self, step: &SendStep, cx: &mut StepCx<'_>) -> Result<(), Failure>;

    /// Waits for the message an `expect` step describes and matches it.
    async fn expect(&mut self, step: &ExpectStep, cx: &mut StepCx<'_>) -> Result<(), Failure>;

    /// The protocol's polite goodbye, checking the server's part.
    async fn disconnect(&mut self, spec: &[String], deadline: Instant) -> Result<(), Failure>;

    /// Reads whatever comes next (messages held back by earlier steps first).
    async fn next(&mut self, deadline: Instant) -> Next;

    /// Violations of always-on rules seen since the last call.
    fn take_violations(&mut self) -> Vec<Violation>;

    /// Drops the connection without a goodbye.
    fn abort(&mut self);

    /// The session as `Any`, for its protocol's cleanup.
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;
}

/// The standard `Failure` for a macro a protocol does not have.
pub fn not_a_macro_of(protocol: &str, step: &Step) -> Failure {
    Failure::infra(format!(
        "`{}` is not a step of {protocol} cases",
        step.keyword()
    ))
}

/// The protocol-neutral form of a `send` step (`bytes`, `text`, `frame`), interpolated; None
/// when the step carries a protocol form instead.
pub fn raw_form(step: &SendStep, vars: &Vars) -> Option<Result<super::link::Outgoing, Failure>> {
    use super::link::{Outgoing, RawFrame};
    use crate::case::validate::parse_hex;
    let interp = |s: &str| {
        vars.interpolate(s)
            .map_err(|e| Failure::infra(format!("send: {e}")))
    };
    Some(if let Some(h) = &step.bytes {
        interp(h)
            .and_then(|h| parse_hex(&h).map_err(Failure::infra))
            .map(Outgoing::Bytes)
    } else if let Some(t) = &step.text {
        interp(t).map(Outgoing::Text)
    } else if let Some(f) = &step.frame {
        let payload = match (&f.payload, &f.payload_hex) {
            (_, Some(h)) => parse_hex(h).map_err(Failure::infra),
            (Some(t), None) => interp(t).map(String::into_bytes),
            (None, None) => Ok(Vec::new()),
        };
        payload.map(|payload| {
            Outgoing::Frame(RawFrame {
                opcode: f.opcode,
                fin: f.fin,
                rsv: f.rsv,
                payload,
            })
        })
    } else {
        return None;
    })
}

/// The `Next` of a read, for protocols whose messages have a summary.
pub fn next_of<M>(r: super::link::Recv<M>) -> Next {
    match r {
        super::link::Recv::Message(m) => Next::Message(m.data.summary),
        super::link::Recv::Ended(e) => Next::Ended(e),
        super::link::Recv::Timeout => Next::Timeout,
    }
}
