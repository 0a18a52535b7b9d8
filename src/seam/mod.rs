//! The protocol seam: what the engine and the fuzzer need from a protocol and the pieces both
//! sides share — the link every byte moves through, the typed transcript, and step outcomes.
//! `run/` and `fuzz/` drive it, `mqtt/` and `xmpp/` implement it; neither protocol imports
//! anything from `run/`.

pub mod link;
pub mod mutate;
pub mod outcome;
pub mod protocol;
pub mod transcript;

pub use link::{
    Address, Codec, Ended, Inbound, Incoming, Link, LinkEnv, Outgoing, RawFrame, Recv, SendHook,
    Wire,
};
pub use mutate::{Framing, Fuzzing, ProbeError, connect_by};
pub use outcome::{Failure, FailureKind};
pub use protocol::{ActorSession, CaseState, Next, Protocol, StepCx};
pub use transcript::{CloseHow, ClosedBy, Entry, Event, MessageData, Raw, Recorder, Transcript};
