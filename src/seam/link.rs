//! The link: one actor's connection and the only way bytes move. Every outgoing message gets an
//! address and passes the run's optional send hook before it is encoded and written; every
//! incoming message is decoded strictly exactly once by the protocol's codec and recorded.

use std::collections::VecDeque;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::outcome::Failure;
use super::transcript::{CloseHow, ClosedBy, Event, MessageData, Raw, Recorder, Transcript};
use crate::transport::{Channel, Closed, ConnectOptions, Endpoint, Received, TransportError};
use crate::violation::Violation;

/// Where an outgoing message stands in a case: what a send hook is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// The case id.
    pub case: String,
    /// Index of the running step (None: set-up or cleanup).
    pub step: Option<usize>,
    /// The sending actor.
    pub actor: String,
    /// Index among all messages the case sent, from 0.
    pub index: usize,
    /// Index among the messages this actor sent, from 0.
    pub actor_index: usize,
}

/// A raw WebSocket frame, exactly as it goes on the wire (masking aside).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFrame {
    /// Opcode 0–15.
    pub opcode: u8,
    /// FIN bit.
    pub fin: bool,
    /// RSV1..3 as a number 0–7.
    pub rsv: u8,
    /// Payload.
    pub payload: Vec<u8>,
}

/// An outgoing message as a send hook sees it, and what it may put in its place.
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    /// A protocol message in its structured form (the codec's data model).
    Message(Value),
    /// Raw bytes: a TCP write or one binary WebSocket message.
    Bytes(Vec<u8>),
    /// Raw text: a TCP write or one text WebSocket message.
    Text(String),
    /// One raw WebSocket frame.
    Frame(RawFrame),
}

/// Observes, and may replace, every message before it is encoded and written.
pub trait SendHook: Send + Sync {
    /// Called once per outgoing message; `Some` replaces it.
    fn before_send(&self, address: &Address, message: &Outgoing) -> Option<Outgoing>;

    /// What the link calls: `before_send`, given also the wire form a structured message
    /// encodes to, when that form carries no secret (a hook that needs the bytes need not
    /// encode the message again).
    fn before_send_encoded(
        &self,
        address: &Address,
        message: &Outgoing,
        wire: Option<&Wire>,
    ) -> Option<Outgoing> {
        let _ = wire;
        self.before_send(address, message)
    }
}

/// What a codec encodes a message into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wire {
    /// Bytes (binary WebSocket message on WebSocket).
    Bytes(Vec<u8>),
    /// Text (text WebSocket message on WebSocket).
    Text(String),
}

/// What arrived from the transport, before decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// Stream bytes (TCP/TLS), any chunking.
    Bytes(Vec<u8>),
    /// One binary WebSocket message.
    Binary(Vec<u8>),
    /// One text WebSocket message.
    Text(String),
}

/// One decoded incoming message.
#[derive(Debug, Clone)]
pub struct Inbound<M> {
    /// The typed message; None when it could not be decoded (malformed).
    pub message: Option<M>,
    /// Its structured form and summary for the transcript.
    pub data: MessageData,
    /// Its bytes on the wire.
    pub raw: Vec<u8>,
    /// Always-on rules it breaks.
    pub violations: Vec<Violation>,
    /// Set when the stream cannot be decoded past this message: why.
    pub fatal: Option<String>,
}

/// A protocol's strict encoder and decoder, as the link drives it.
pub trait Codec: Send + 'static {
    /// A structured outgoing message.
    type Out: Send + Sync + 'static;
    /// A decoded incoming message.
    type In: Send + Sync + 'static;
    /// The transcript form of an outgoing message (secrets redacted) and whether its bytes
    /// carry a secret (then they are not recorded).
    fn describe(&self, message: &Self::Out) -> (MessageData, bool);
    /// Builds a message from its structured form (a send hook's replacement).
    fn message_from_data(&self, data: &Value) -> Result<Self::Out, String>;
    /// Encodes a message.
    fn encode(&self, message: &Self::Out) -> Result<Wire, String>;
    /// Takes what the transport delivered; returns the rules the delivery itself breaks
    /// (e.g. a text frame where binary ones are required).
    fn feed(&mut self, incoming: Incoming) -> Vec<Violation>;
    /// The next complete message, if one is buffered.
    fn decode(&mut self) -> Option<Inbound<Self::In>>;
    /// Takes note of the bytes about to be written (after the send hook), for checks that
    /// depend on what the client really sent (e.g. the limits of its CONNECT).
    fn note_written(&mut self, _bytes: &[u8]) {}
}

/// How and why a link ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    /// Who ended it.
    pub by: ClosedBy,
    /// How.
    pub how: CloseHow,
    /// The rule the server broke, when wirecheck ended it because of one.
    pub spec: Option<String>,
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.by, &self.spec) {
            (ClosedBy::Peer, _) => write!(f, "{}", self.how),
            (ClosedBy::Wirecheck, Some(s)) => write!(f, "{} [{s}]", self.how),
            (ClosedBy::Wirecheck, None) => write!(f, "{}", self.how),
        }
    }
}

impl Ended {
    /// The failure of a step that awaited `what` when the link ended: when wirecheck ended it
    /// because the server broke a rule, that rule is what failed; otherwise the step's `rule`.
    pub fn failure(&self, rule: Vec<String>, what: &str) -> Failure {
        match (&self.by, &self.spec) {
            (ClosedBy::Wirecheck, Some(s)) => Failure::check_only(
                vec![s.clone()],
                format!(
                    "expected {what}, but the server broke a rule and wirecheck closed: {self}"
                ),
            ),
            _ => Failure::check(
                rule,
                format!("expected {what}, but the connection ended: {self}"),
            ),
        }
    }
}

/// What a read gave.
#[derive(Debug)]
pub enum Recv<M> {
    /// A decoded message.
    Message(Inbound<M>),
    /// The link ended.
    Ended(Ended),
    /// Nothing before the deadline.
    Timeout,
}

/// What the links of one case share: transcript, case id, send hook, connect settings.
#[derive(Clone)]
pub struct LinkEnv {
    /// The case's transcript.
    pub transcript: Transcript,
    /// The case id (for addresses).
    pub case_id: String,
    /// The run's send hook.
    pub hook: Option<Arc<dyn SendHook>>,
    /// TLS and connect settings.
    pub connect: ConnectOptions,
}

impl LinkEnv {
    /// The environment of a probe's connection: a transcript of its own that no case is
    /// judged on, no send hook.
    pub fn probe(connect: &ConnectOptions) -> LinkEnv {
        LinkEnv {
            transcript: Transcript::new(),
            case_id: "probe".into(),
            hook: None,
            connect: connect.clone(),
        }
    }
}

/// Most unclaimed pongs a link keeps.
const MAX_PONGS: usize = 16;

/// Most messages a link holds back for later steps while a step waits for another kind.
pub const MAX_HELD: usize = 1000;

/// One actor's connection through a protocol codec.
pub struct Link<C: Codec> {
    channel: Channel,
    codec: C,
    rec: Recorder,
    env: LinkEnv,
    sent: usize,
    held: VecDeque<Inbound<C::In>>,
    /// Pong payloads not yet claimed by a `ping` (bounded).
    pongs: VecDeque<Vec<u8>>,
    violations: Vec<Violation>,
    ended: Option<Ended>,
}

/// Why a send did not go out.
fn send_failure(e: TransportError) -> Failure {
    match e {
        TransportError::NotWebSocket => Failure::infra(e.to_string()),
        e => Failure::check_only(
            Vec::new(),
            format!("could not send: the connection is gone ({e})"),
        ),
    }
}

impl<C: Codec> Link<C> {
    /// Connects `actor` to `endpoint`. On WebSocket it offers `subprotocol` and checks the answer:
    /// a missing or different answer breaks statement `subprotocol_spec`.
    pub async fn open(
        endpoint: &Endpoint,
        env: &LinkEnv,
        actor: &str,
        subprotocol: &str,
        subprotocol_spec: &str,
        codec: C,
    ) -> Result<Link<C>, Failure> {
        let rec = env.transcript.recorder(actor);
        let mut o = env.connect.clone();
        let ws = endpoint.kind.is_websocket();
        if ws {
            o.subprotocol = Some(subprotocol.to_string());
        }
        let channel = match Channel::connect(endpoint, &o).await {
            Ok(c) => c,
            Err(TransportError::Subprotocol { why, .. }) => {
                rec.event(Event::ConnectFailed {
                    reason: format!("WebSocket handshake: {why}"),
                });
                return Err(Failure::check_only(
                    vec![subprotocol_spec.into()],
                    format!("the server did not select subprotocol `{subprotocol}`: {why}"),
                ));
            }
            Err(e) => {
                rec.event(Event::ConnectFailed {
                    reason: e.to_string(),
                });
                return Err(Failure::infra(e.to_string()));
            }
        };
        let mut violations = Vec::new();
        if ws && channel.subprotocol() != Some(subprotocol) {
            violations.push(Violation::new(
                subprotocol_spec,
                format!(
                    "the server selected WebSocket subprotocol {:?}, not {subprotocol:?}",
                    channel.subprotocol()
                ),
            ));
        }
        rec.event(Event::Connected {
            transport: endpoint.kind.scheme().to_string(),
            subprotocol: channel.subprotocol().map(str::to_string),
        });
        for v in &violations {
            rec.event(Event::violation(v));
        }
        Ok(Link {
            channel,
            codec,
            rec,
            env: env.clone(),
            sent: 0,
            held: VecDeque::new(),
            pongs: VecDeque::new(),
            violations,
            ended: None,
        })
    }

    /// The recorder of this link's actor.
    pub fn recorder(&self) -> &Recorder {
        &self.rec
    }

    /// The actor's name.
    pub fn actor(&self) -> &str {
        self.rec.actor()
    }

    /// The codec, to change its protocol state.
    pub fn codec_mut(&mut self) -> &mut C {
        &mut self.codec
    }

    /// Records a violation found by the protocol above the codec (e.g. during a macro).
    pub fn record_violation(&mut self, v: Violation) {
        self.rec.event(Event::violation(&v));
        self.violations.push(v);
    }

    /// Violations of always-on rules seen since the last call.
    pub fn take_violations(&mut self) -> Vec<Violation> {
        std::mem::take(&mut self.violations)
    }

    /// How the link ended, if it has.
    pub fn ended(&self) -> Option<&Ended> {
        self.ended.as_ref()
    }

    /// Sends a structured message by `deadline`.
    pub async fn send(&mut self, message: C::Out, deadline: Instant) -> Result<(), Failure> {
        if self.env.hook.is_none() {
            return self
                .dispatch(Some(message), Outgoing::Message(Value::Null), deadline)
                .await;
        }
        // A hook sees the structured view (secrets redacted) and, when it carries no secret,
        // the wire form; both are made once and used as they are if the hook keeps the message.
        let wire = self
            .codec
            .encode(&message)
            .map_err(|e| Failure::infra(format!("cannot encode: {e}")))?;
        let (data, secret) = self.codec.describe(&message);
        let view = Outgoing::Message(data.data);
        let address = self.next_address();
        let hook = self.env.hook.clone();
        let replaced = hook
            .as_ref()
            .and_then(|h| h.before_send_encoded(&address, &view, (!secret).then_some(&wire)));
        match replaced {
            None => {
                let Outgoing::Message(v) = view else {
                    unreachable!("the view was built as a message")
                };
                let data = MessageData {
                    data: v,
                    summary: data.summary,
                };
                self.write(address, WireOut::from(wire), data, secret, deadline)
                    .await
            }
            Some(other) => self.replace(address, other, deadline).await,
        }
    }

    /// Sends a raw form (bytes, text or frame) by `deadline`.
    pub async fn send_raw(&mut self, raw: Outgoing, deadline: Instant) -> Result<(), Failure> {
        if let Outgoing::Message(v) = &raw {
            let m = self
                .codec
                .message_from_data(v)
                .map_err(|e| Failure::infra(format!("send: {e}")))?;
            return self.send(m, deadline).await;
        }
        self.dispatch(None, raw, deadline).await
    }

    /// The address of the next outgoing message (counts it).
    fn next_address(&mut self) -> Address {
        let address = Address {
            case: self.env.case_id.clone(),
            step: self.env.transcript.step(),
            actor: self.rec.actor().to_string(),
            index: self.env.transcript.next_sent_index(),
            actor_index: self.sent,
        };
        self.sent += 1;
        address
    }

    async fn dispatch(
        &mut self,
        typed: Option<C::Out>,
        view: Outgoing,
        deadline: Instant,
    ) -> Result<(), Failure> {
        let address = self.next_address();
        let hook = self.env.hook.clone();
        match hook.as_ref().and_then(|h| h.before_send(&address, &view)) {
            None => self.encode_and_write(address, typed, view, deadline).await,
            Some(other) => self.replace(address, other, deadline).await,
        }
    }

    /// Sends what a hook put in a message's place.
    async fn replace(
        &mut self,
        address: Address,
        replacement: Outgoing,
        deadline: Instant,
    ) -> Result<(), Failure> {
        let (typed, view) = match replacement {
            Outgoing::Message(v) => {
                let m = self
                    .codec
                    .message_from_data(&v)
                    .map_err(|e| Failure::infra(format!("send hook: {e}")))?;
                (Some(m), Outgoing::Message(v))
            }
            raw => (None, raw),
        };
        self.encode_and_write(address, typed, view, deadline).await
    }

    /// Encodes a typed message (or takes a raw form as it is), records it and writes it.
    async fn encode_and_write(
        &mut self,
        address: Address,
        typed: Option<C::Out>,
        view: Outgoing,
        deadline: Instant,
    ) -> Result<(), Failure> {
        let (wire, data, secret) = match &typed {
            Some(m) => {
                let wire = self
                    .codec
                    .encode(m)
                    .map_err(|e| Failure::infra(format!("cannot encode: {e}")))?;
                let (data, secret) = self.codec.describe(m);
                (WireOut::from(wire), data, secret)
            }
            None => raw_wire(view),
        };
        self.write(address, wire, data, secret, deadline).await
    }

    /// Records a message as sent and writes it by `deadline`.
    async fn write(
        &mut self,
        address: Address,
        wire: WireOut,
        data: MessageData,
        secret: bool,
        deadline: Instant,
    ) -> Result<(), Failure> {
        let raw = if secret {
            None
        } else {
            Some(Raw::bounded(wire.bytes()))
        };
        self.rec.sent(address.index, Some(data), raw);
        if let WireOut::Bytes(b) = &wire {
            self.codec.note_written(b);
        }
        let write = async {
            match wire {
                WireOut::Bytes(b) => self.channel.send_bytes(&b).await,
                WireOut::Text(t) => self.channel.send_text(&t).await,
                WireOut::Frame(f) => {
                    self.channel
                        .send_frame(f.opcode, f.fin, f.rsv, f.payload)
                        .await
                }
            }
        };
        match tokio::time::timeout_at(deadline, write).await {
            Ok(r) => r.map_err(send_failure),
            Err(_) => Err(Failure::check_only(
                Vec::new(),
                "could not send before the deadline: the server does not read",
            )),
        }
    }

    /// Reads the next message, whatever it is.
    pub async fn recv(&mut self, deadline: Instant) -> Recv<C::In> {
        self.recv_skipping(deadline, |_| false).await
    }

    /// Reads the next message that `skip` does not pass over; passed-over messages are held, in
    /// order, for later reads. For messages the protocol leaves unordered relative to the one a
    /// step waits for.
    pub async fn recv_skipping(
        &mut self,
        deadline: Instant,
        mut skip: impl FnMut(&Inbound<C::In>) -> bool,
    ) -> Recv<C::In> {
        if let Some(pos) = self.held.iter().position(|m| !skip(m))
            && let Some(m) = self.held.remove(pos)
        {
            return Recv::Message(m);
        }
        loop {
            match self.read_one(deadline).await {
                Recv::Message(m) if self.held.len() < MAX_HELD && skip(&m) => {
                    self.held.push_back(m)
                }
                other => return other,
            }
        }
    }

    /// Summaries of the messages held back from earlier reads, oldest first.
    pub fn held(&self) -> Vec<String> {
        self.held.iter().map(|m| m.data.summary.clone()).collect()
    }

    async fn read_one(&mut self, deadline: Instant) -> Recv<C::In> {
        loop {
            if let Some(m) = self.codec.decode() {
                self.record_inbound(&m);
                if let Some(why) = &m.fatal {
                    let spec = m.violations.first().map(|v| v.spec.clone());
                    self.end(
                        ClosedBy::Wirecheck,
                        CloseHow::Unusable {
                            reason: why.clone(),
                        },
                        spec,
                    );
                }
                return Recv::Message(m);
            }
            if let Some(e) = &self.ended {
                return Recv::Ended(e.clone());
            }
            let got = match tokio::time::timeout_at(deadline, self.channel.recv()).await {
                Err(_) => return Recv::Timeout,
                Ok(r) => r,
            };
            self.absorb(got);
        }
    }

    /// Takes in what the channel delivered: its WebSocket violations, a pong (noted), the end of
    /// the connection, or a message for the codec.
    fn absorb(&mut self, got: Received) {
        for (spec, detail) in self.channel.take_violations() {
            let v = Violation::new(spec, detail);
            self.rec.event(Event::violation(&v));
            self.violations.push(v);
        }
        let incoming = match got {
            Received::Bytes(b) => Incoming::Bytes(b),
            Received::Binary(b) => Incoming::Binary(b),
            Received::Text(t) => Incoming::Text(t),
            Received::Pong(p) => {
                self.rec
                    .note(format!("pong payload={:?}", String::from_utf8_lossy(&p)));
                if self.pongs.len() >= MAX_PONGS {
                    self.pongs.pop_front();
                }
                self.pongs.push_back(p);
                return;
            }
            Received::Closed(c) => {
                let (by, how, spec) = match c {
                    Closed::Eof => (ClosedBy::Peer, CloseHow::Eof, None),
                    Closed::Reset(reason) => (ClosedBy::Peer, CloseHow::Reset { reason }, None),
                    Closed::WsClose { code, reason } => {
                        (ClosedBy::Peer, CloseHow::WsClose { code, reason }, None)
                    }
                    Closed::WsProtocol { reason, spec } => {
                        if let Some(s) = spec {
                            let v = Violation::new(s, reason.clone());
                            self.rec.event(Event::violation(&v));
                            self.violations.push(v);
                        }
                        (
                            ClosedBy::Wirecheck,
                            CloseHow::WsProtocol { reason },
                            spec.map(str::to_string),
                        )
                    }
                };
                self.end(by, how, spec);
                return;
            }
        };
        let vs = self.codec.feed(incoming);
        for v in &vs {
            self.rec.event(Event::violation(v));
        }
        self.violations.extend(vs);
    }

    /// Sends a WebSocket ping with `payload` and waits until `deadline` for a pong carrying the
    /// same payload (RFC 6455 5.5.3); messages arriving meanwhile stay for later reads.
    pub async fn ping(&mut self, payload: &[u8], deadline: Instant) -> Result<(), Failure> {
        self.send_raw(
            Outgoing::Frame(RawFrame {
                opcode: 0x9,
                fin: true,
                rsv: 0,
                payload: payload.to_vec(),
            }),
            deadline,
        )
        .await?;
        loop {
            if let Some(i) = self.pongs.iter().position(|p| p == payload) {
                self.pongs.remove(i);
                return Ok(());
            }
            if let Some(e) = &self.ended {
                return Err(e.failure(Vec::new(), "a pong"));
            }
            match tokio::time::timeout_at(deadline, self.channel.recv()).await {
                Err(_) => {
                    let seen: Vec<String> = self
                        .pongs
                        .iter()
                        .map(|p| format!("{:?}", String::from_utf8_lossy(p)))
                        .collect();
                    return Err(Failure::check(
                        Vec::new(),
                        "no pong with the ping's payload arrived before the deadline",
                    )
                    .with_diff(
                        format!("pong {:?}", String::from_utf8_lossy(payload)),
                        format!("pongs seen: [{}]", seen.join(", ")),
                    )
                    .nothing_arrived());
                }
                Ok(got) => self.absorb(got),
            }
        }
    }

    fn record_inbound(&mut self, m: &Inbound<C::In>) {
        let flagged = m.message.is_none() || !m.violations.is_empty();
        self.rec
            .received(Some(m.data.clone()), Some(Raw::bounded(&m.raw)), flagged);
        for v in &m.violations {
            self.rec.event(Event::violation(v));
        }
        self.violations.extend(m.violations.iter().cloned());
    }

    fn end(&mut self, by: ClosedBy, how: CloseHow, spec: Option<String>) {
        if self.ended.is_some() {
            return;
        }
        self.rec.event(Event::Closed {
            by,
            how: how.clone(),
        });
        self.channel.abort();
        self.ended = Some(Ended { by, how, spec });
    }

    /// Starts a polite close (WebSocket close 1000, or TCP write shutdown); read on to see the
    /// server's side.
    pub async fn close(&mut self, deadline: Instant) {
        let _ = tokio::time::timeout_at(deadline, self.channel.close()).await;
    }

    /// Drops the connection at once.
    pub fn abort(&mut self) {
        if self.ended.is_none() {
            self.channel.abort();
            self.ended = Some(Ended {
                by: ClosedBy::Wirecheck,
                how: CloseHow::Local,
                spec: None,
            });
        }
    }
}

/// What goes on the wire.
enum WireOut {
    Bytes(Vec<u8>),
    Text(String),
    Frame(RawFrame),
}

impl WireOut {
    fn bytes(&self) -> &[u8] {
        match self {
            WireOut::Bytes(b) => b,
            WireOut::Text(t) => t.as_bytes(),
            WireOut::Frame(f) => &f.payload,
        }
    }
}

impl From<Wire> for WireOut {
    fn from(w: Wire) -> Self {
        match w {
            Wire::Bytes(b) => WireOut::Bytes(b),
            Wire::Text(t) => WireOut::Text(t),
        }
    }
}

/// The wire form and transcript form of a raw send (no secrets: the case wrote them out).
fn raw_wire(view: Outgoing) -> (WireOut, MessageData, bool) {
    let (data, wire) = match view {
        Outgoing::Bytes(b) => (
            MessageData {
                data: json!({ "raw": "bytes", "len": b.len() }),
                summary: format!("bytes ({} bytes)", b.len()),
            },
            WireOut::Bytes(b),
        ),
        Outgoing::Text(t) => (
            MessageData {
                data: json!({ "raw": "text", "text": t }),
                summary: format!("text {t:?}"),
            },
            WireOut::Text(t),
        ),
        Outgoing::Frame(f) => (
            MessageData {
                data: json!({ "raw": "frame", "opcode": f.opcode, "fin": f.fin, "rsv": f.rsv, "len": f.payload.len() }),
                summary: format!("frame opcode={} fin={} rsv={}", f.opcode, f.fin, f.rsv),
            },
            WireOut::Frame(f),
        ),
        // A structured message always travels typed; this arm is never taken.
        Outgoing::Message(v) => (
            MessageData {
                summary: v.to_string(),
                data: v,
            },
            WireOut::Bytes(Vec::new()),
        ),
    };
    (wire, data, false)
}
