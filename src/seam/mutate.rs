//! What the fuzzer needs from a protocol: its field mutators, the wire form of an outgoing
//! message, how messages share a connection, and a liveness probe. `fuzz/` drives it through
//! `Protocol::fuzzing`; `mqtt/` and `xmpp/` implement it.

use std::time::Duration;

use async_trait::async_trait;
use rand::RngCore;
use serde_json::Value;
use tokio::time::Instant;

use super::link::Wire;
use crate::target::Target;
use crate::transport::ConnectOptions;

/// How a protocol's messages share one connection, for the sequence mutators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// One byte stream: several messages may go in one write (MQTT over TCP, or in one binary
    /// WebSocket message).
    Stream,
    /// One text WebSocket message per protocol message (XMPP over RFC 7395): each message is
    /// its own frame, and a mutated message that is still UTF-8 goes as text.
    TextMessages,
}

/// Why a liveness probe found the target not working.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    /// The target has no endpoint of the probed protocol.
    #[error("the target has no {0} endpoint")]
    NoEndpoint(&'static str),
    /// No connection could be made (TCP, TLS or the WebSocket handshake).
    #[error("connect: {0}")]
    Connect(String),
    /// Connected, but the session did not start: what went wrong.
    #[error("{0}")]
    Session(String),
    /// The session had not started when the deadline passed.
    #[error("no answer within {}ms", .0.as_millis())]
    Timeout(Duration),
}

/// The mutations of one protocol (for cases of one version of it) and its liveness probe.
#[async_trait]
pub trait Fuzzing: Send + Sync {
    /// The names of the protocol's field mutators.
    fn mutators(&self) -> &'static [&'static str];

    /// How messages share a connection.
    fn framing(&self) -> Framing;

    /// The wire form and kind name (`PUBLISH`, `iq`) of a message in its structured form (the
    /// data a send hook sees); None when it cannot be encoded.
    fn encode(&self, data: &Value) -> Option<(Wire, String)>;

    /// The kind name of a structured message the link has already encoded to `wire` (so the
    /// hook need not encode it again).
    fn kind_of(&self, data: &Value, wire: &Wire) -> String {
        let _ = wire;
        self.encode(data)
            .map_or_else(|| "?".into(), |(_, kind)| kind)
    }

    /// The kind name of raw bytes a case sends as they are.
    fn kind_of_bytes(&self, bytes: &[u8]) -> String {
        let _ = bytes;
        "bytes".into()
    }

    /// Applies field mutator `name` to one message's wire form, drawing from `rng`; None when
    /// the mutator does not apply to it. The result may be invalid UTF-8.
    fn mutate(&self, name: &str, wire: &Wire, rng: &mut dyn RngCore) -> Option<Vec<u8>>;

    /// Starts a fresh session with the target's endpoint of this protocol (and ends it
    /// politely) by `deadline`: the target still works when it does.
    async fn probe(
        &self,
        target: &Target,
        connect: &ConnectOptions,
        deadline: Instant,
    ) -> Result<(), ProbeError>;
}

/// `connect` with its connect deadline (TCP, TLS, WebSocket handshake) cut to end by
/// `deadline` at the latest: a probe's connection takes no longer than the probe.
pub fn connect_by(connect: &ConnectOptions, deadline: Instant) -> ConnectOptions {
    let mut o = connect.clone();
    o.timeout = o
        .timeout
        .min(deadline.saturating_duration_since(Instant::now()));
    o
}

/// A loopback TCP listener that accepts connections and never says anything, for probe tests:
/// its port, and the task holding the accepted sockets.
#[cfg(test)]
pub(crate) async fn silent_listener() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (port, task)
}
