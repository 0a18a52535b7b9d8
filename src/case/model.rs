//! The typed case model that YAML case files deserialize into (grammar: cases/README.md).

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_saphyr::Spanned;

use super::duration::YamlDuration;

/// The protocol a case speaks.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// MQTT 3.1.1 / 5.0 over TCP, TLS or WebSocket.
    Mqtt,
    /// XMPP over WebSocket (RFC 7395).
    Xmpp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Mqtt => "mqtt",
            Protocol::Xmpp => "xmpp",
        })
    }
}

/// Deserializes optional text that must be written as text: a bare number, boolean or null is
/// refused (`client_id: 42` would silently become the text "42"; write `client_id: "42"`).
pub fn strict_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("text (write numbers and true/false in quotes, e.g. \"42\")")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
    }
    d.deserialize_any(V)
}

/// One case file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseDoc {
    /// Unique dotted id.
    pub id: Spanned<String>,
    /// One line saying what the server must do.
    pub title: String,
    /// The protocol the case speaks.
    pub protocol: Protocol,
    /// MQTT protocol version ("3.1.1"); absent for XMPP.
    #[serde(default)]
    pub version: Option<Spanned<String>>,
    /// Statement ids the case checks.
    pub spec: Spanned<Vec<String>>,
    /// Free words for selection.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Capabilities the target must have (names as in `crate::capability`); a target that lacks
    /// one skips the case.
    #[serde(default)]
    pub requires: Vec<Spanned<String>>,
    /// Default deadline of every wait in this case.
    #[serde(default)]
    pub timeout: Option<YamlDuration>,
    /// Actor name → options.
    pub actors: Spanned<BTreeMap<String, ActorDoc>>,
    /// Steps in order.
    pub steps: Vec<Spanned<Step>>,
    /// Extra snapshot redactions: `[{ regex: "...", as: "<x>" }]`.
    #[serde(default)]
    pub snapshot_redact: Option<Spanned<Vec<crate::snapshot::RedactDoc>>>,
    /// Why this case has no snapshot: its transcript depends on a choice the server may make
    /// differently on each run (which member of a share group gets a message).
    #[serde(default)]
    pub snapshot_skip: Option<String>,
}

/// Options of one actor.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActorDoc {
    /// MQTT client id (default: unique per run, case and actor).
    #[serde(default, deserialize_with = "strict_text")]
    pub client_id: Option<String>,
    /// XMPP account: `pool` (lease one; the only form supported so far).
    #[serde(default, deserialize_with = "strict_text")]
    pub account: Option<String>,
    /// XMPP resource (default: unique per run, case and actor).
    #[serde(default, deserialize_with = "strict_text")]
    pub resource: Option<String>,
    /// XMPP: log in to the same account as this other actor (two resources of one user) instead
    /// of leasing one of its own.
    #[serde(default, deserialize_with = "strict_text")]
    pub same_account_as: Option<String>,
}

/// One step of a case.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// MQTT CONNECT + CONNACK macro.
    Connect(ActorOr<ConnectStep>),
    /// XMPP open, SASL, restart and bind macro.
    Login(ActorOr<LoginStep>),
    /// Send one message.
    Send(SendStep),
    /// Expect the next message to match.
    Expect(ExpectStep),
    /// Expect silence for a while.
    ExpectNone(ExpectNoneStep),
    /// Read whatever arrives for a while (the always-on checks judge it; anything may come).
    Drain(DrainStep),
    /// Expect the server to close the transport (optionally with a WebSocket close code).
    ExpectClose(ExpectCloseStep),
    /// Expect the connection to end, however.
    ExpectDisconnect(ExpectCloseStep),
    /// Close politely.
    Disconnect(ActorOr<DisconnectStep>),
    /// Wait.
    Sleep(YamlDuration),
    /// A WebSocket upgrade offering given subprotocols on a connection of its own, and what the
    /// server answers.
    WsHandshake(WsHandshakeStep),
    /// An HTTP GET on the target's origin (discovery documents), and what comes back.
    HttpGet(HttpGetStep),
    /// A WebSocket ping on the actor's connection, answered by a pong with the same payload.
    WsPing(WsPingStep),
}

impl Step {
    /// The actor this step acts on, if any.
    pub fn actor(&self) -> Option<&str> {
        Some(match self {
            Step::Connect(s) => &s.0.actor,
            Step::Login(s) => &s.0.actor,
            Step::Send(s) => &s.actor,
            Step::Expect(s) if s.actor.is_empty() => s.exactly_one_of.first()?,
            Step::Expect(s) => &s.actor,
            Step::ExpectNone(s) => &s.actor,
            Step::Drain(s) => &s.actor,
            Step::ExpectClose(s) | Step::ExpectDisconnect(s) => &s.actor,
            Step::Disconnect(s) => &s.0.actor,
            Step::WsPing(s) => &s.actor,
            Step::Sleep(_) | Step::WsHandshake(_) | Step::HttpGet(_) => return None,
        })
    }

    /// The step's keyword as written in YAML.
    pub fn keyword(&self) -> &'static str {
        match self {
            Step::Connect(_) => "connect",
            Step::Login(_) => "login",
            Step::Send(_) => "send",
            Step::Expect(_) => "expect",
            Step::ExpectNone(_) => "expect_none",
            Step::Drain(_) => "drain",
            Step::ExpectClose(_) => "expect_close",
            Step::ExpectDisconnect(_) => "expect_disconnect",
            Step::Disconnect(_) => "disconnect",
            Step::Sleep(_) => "sleep",
            Step::WsHandshake(_) => "ws_handshake",
            Step::HttpGet(_) => "http_get",
            Step::WsPing(_) => "ws_ping",
        }
    }

    /// Statement ids given on the step itself (empty: the case's apply).
    pub fn spec(&self) -> &[String] {
        match self {
            Step::Connect(s) => &s.0.spec,
            Step::Login(s) => &s.0.spec,
            Step::Expect(s) => &s.spec,
            Step::ExpectNone(s) => &s.spec,
            Step::ExpectClose(s) | Step::ExpectDisconnect(s) => &s.spec,
            Step::Disconnect(s) => &s.0.spec,
            Step::WsHandshake(s) => &s.spec,
            Step::HttpGet(s) => &s.spec,
            Step::WsPing(s) => &s.spec,
            Step::Send(_) | Step::Sleep(_) | Step::Drain(_) => &[],
        }
    }
}

/// A step body that may be written as just the actor's name.
#[derive(Debug, Clone)]
pub struct ActorOr<T>(pub T);

/// Step bodies that can be built from an actor name alone.
pub trait FromActor {
    /// The body with every option at its default.
    fn from_actor(actor: String) -> Self;
}

impl<'de, T: Deserialize<'de> + FromActor> Deserialize<'de> for ActorOr<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de> + FromActor> Visitor<'de> for V<T> {
            type Value = ActorOr<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an actor name or a map with `actor` and options")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ActorOr(T::from_actor(v.to_string())))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(ActorOr)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// Options of the MQTT `connect` macro.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectStep {
    /// Who connects.
    pub actor: String,
    /// Clean session flag (default true).
    #[serde(default)]
    pub clean_session: Option<bool>,
    /// Keep alive in seconds (default 60).
    #[serde(default)]
    pub keep_alive: Option<u16>,
    /// Client id (default: the actor's).
    #[serde(default, deserialize_with = "strict_text")]
    pub client_id: Option<String>,
    /// User name.
    #[serde(default, deserialize_with = "strict_text")]
    pub username: Option<String>,
    /// Password.
    #[serde(default, deserialize_with = "strict_text")]
    pub password: Option<String>,
    /// Will message as a packet-field map (`topic`, `payload`, `qos`, `retain`; 5.0: `properties`).
    #[serde(default)]
    pub will: Option<serde_json::Value>,
    /// MQTT 5.0 CONNECT properties as a map (`session_expiry_interval: 60`, ...).
    #[serde(default)]
    pub properties: Option<serde_json::Value>,
    /// CONNACK pattern to expect instead of `accepted`.
    #[serde(default)]
    pub expect: Option<serde_json::Value>,
    /// 5.0 enhanced authentication: the Authentication Data of the client's answer to each AUTH
    /// challenge of the server, in order (the CONNECT's `authentication_method` property names
    /// the method).
    #[serde(default)]
    pub auth: Vec<String>,
    /// Statements this check verifies.
    #[serde(default)]
    pub spec: Vec<String>,
    /// Deadline for the CONNACK.
    #[serde(default)]
    pub timeout: Option<YamlDuration>,
}

impl FromActor for ConnectStep {
    fn from_actor(actor: String) -> Self {
        Self {
            actor,
            ..Default::default()
        }
    }
}

/// Options of the XMPP `login` macro.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginStep {
    /// Who logs in.
    pub actor: String,
    /// Resource to bind (default: the actor's).
    #[serde(default, deserialize_with = "strict_text")]
    pub resource: Option<String>,
    /// SASL mechanism to require (`SCRAM-SHA-256`, `SCRAM-SHA-1`, `PLAIN`); default: the
    /// strongest the server offers. A server that does not offer it skips the case.
    #[serde(default, deserialize_with = "strict_text")]
    pub mechanism: Option<String>,
    /// `false` stops after the features of the restarted stream, binding nothing (for a
    /// stream management `<resume/>` or a hand-written bind); default true.
    #[serde(default)]
    pub bind: Option<bool>,
    /// Statements this check verifies.
    #[serde(default)]
    pub spec: Vec<String>,
    /// Deadline for each wait of the macro.
    #[serde(default)]
    pub timeout: Option<YamlDuration>,
}

impl FromActor for LoginStep {
    fn from_actor(actor: String) -> Self {
        Self {
            actor,
            ..Default::default()
        }
    }
}

/// Options of `disconnect`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisconnectStep {
    /// Who disconnects.
    pub actor: String,
    /// Drop the connection without a goodbye (MQTT: no DISCONNECT), as a crashed client would.
    #[serde(default)]
    pub abrupt: bool,
    /// Statements the closing checks verify.
    #[serde(default)]
    pub spec: Vec<String>,
    /// Deadline for the server's part of the close.
    #[serde(default)]
    pub timeout: Option<YamlDuration>,
}

impl FromActor for DisconnectStep {
    fn from_actor(actor: String) -> Self {
        Self {
            actor,
            ..Default::default()
        }
    }
}

/// SASL PLAIN credentials for the `sasl_plain` send form.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaslPlainDoc {
    /// Authentication identity (may use `{alice.user}`).
    pub user: String,
    /// Password, possibly a wrong one on purpose (absent: the actor's own).
    #[serde(default)]
    pub password: Option<String>,
    /// Authorization identity to ask for (absent: none, i.e. the authentication identity's own).
    #[serde(default)]
    pub authzid: Option<String>,
}

/// One SCRAM message of the `sasl_scram` send form, for the actor's account.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaslScramDoc {
    /// `first`: an `<auth/>` with the client-first-message; `final`: a `<response/>` with the
    /// client-final-message answering the last `<challenge/>` the actor received.
    pub message: String,
    /// The mechanism (`SCRAM-SHA-1`, `SCRAM-SHA-256`); `first` only.
    #[serde(default, deserialize_with = "strict_text")]
    pub mechanism: Option<String>,
    /// `final` only: compute the proof with this password instead of the account's (a wrong one).
    #[serde(default, deserialize_with = "strict_text")]
    pub password: Option<String>,
    /// `final` only: send this nonce instead of the combined one the server chose.
    #[serde(default, deserialize_with = "strict_text")]
    pub nonce: Option<String>,
}

/// A raw WebSocket frame to send.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrameDoc {
    /// Opcode 0–15.
    pub opcode: u8,
    /// FIN bit (default true).
    #[serde(default = "default_true")]
    pub fin: bool,
    /// RSV1..3 bits as a number 0–7.
    #[serde(default)]
    pub rsv: u8,
    /// Payload text.
    #[serde(default)]
    pub payload: Option<String>,
    /// Payload as hex.
    #[serde(default)]
    pub payload_hex: Option<String>,
}

fn default_true() -> bool {
    true
}

/// `send`: one message in exactly one of the forms.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendStep {
    /// Who sends.
    pub actor: String,
    /// MQTT packet fields.
    #[serde(default)]
    pub packet: Option<serde_json::Value>,
    /// One XMPP element.
    #[serde(default)]
    pub xml: Option<String>,
    /// SASL PLAIN `<auth/>`.
    #[serde(default)]
    pub sasl_plain: Option<SaslPlainDoc>,
    /// One SCRAM message (`<auth/>` or `<response/>`).
    #[serde(default)]
    pub sasl_scram: Option<SaslScramDoc>,
    /// Raw bytes as hex.
    #[serde(default)]
    pub bytes: Option<String>,
    /// Raw text.
    #[serde(default)]
    pub text: Option<String>,
    /// One raw WebSocket frame.
    #[serde(default)]
    pub frame: Option<FrameDoc>,
}

/// `expect`: the next message matches a pattern.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectStep {
    /// Whose connection (empty when `exactly_one_of` names the actors).
    #[serde(default)]
    pub actor: String,
    /// The message arrives at exactly one of these actors (a shared subscription's members),
    /// and no copy at the others within `settle`; instead of `actor`.
    #[serde(default)]
    pub exactly_one_of: Vec<String>,
    /// `exactly_one_of` only: how long the other actors must stay without a copy after the
    /// first one received it [default: 300ms].
    #[serde(default)]
    pub settle: Option<YamlDuration>,
    /// MQTT packet pattern.
    #[serde(default)]
    pub packet: Option<serde_json::Value>,
    /// XMPP element pattern.
    #[serde(default)]
    pub xml: Option<String>,
    /// XMPP: the element matches one of these patterns (tried in order), for legal server
    /// choices such as different error types; instead of `xml`.
    #[serde(default)]
    pub xml_one_of: Vec<String>,
    /// When nothing arrives before the deadline, the check passes: for a server that may
    /// legally stay silent (a message to an unknown user is either ignored or bounced).
    #[serde(default)]
    pub absent_ok: bool,
    /// Exact bytes.
    #[serde(default)]
    pub bytes: Option<String>,
    /// Every field counts, not just the listed ones.
    #[serde(default)]
    pub exact: bool,
    /// `xml` only: children must appear in the pattern's order (default: any order).
    #[serde(default)]
    pub ordered: bool,
    /// When set, an unmet expectation ends the case as skipped (not applicable) for this reason:
    /// for a legal server choice the rest of the case depends on (a lower granted QoS).
    #[serde(default)]
    pub skip_unless: Option<String>,
    /// Statements this check verifies.
    #[serde(default)]
    pub spec: Vec<String>,
    /// Deadline.
    #[serde(default)]
    pub timeout: Option<YamlDuration>,
}

/// `ws_handshake`: offer `subprotocols` in a WebSocket upgrade to the target's endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WsHandshakeStep {
    /// The subprotocols offered, in order (empty: no Sec-WebSocket-Protocol header).
    #[serde(default)]
    pub subprotocols: Vec<String>,
    /// What the answer must be.
    pub expect: WsHandshakeExpect,
    /// Statements this check verifies.
    #[serde(default)]
    pub spec: Vec<String>,
    /// Deadline of the handshake.
    #[serde(default)]
    pub timeout: Option<YamlDuration>,
}

/// The answer a `ws_handshake` expects.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WsHandshakeExpect {
    /// `xmpp`: the upgrade succeeds (101) selecting exactly this subprotocol; `null`: the server
    /// refuses the upgrade or accepts it selecting no subprotocol.
    pub subprotocol: Option<String>,
}

/// `http_get`: one GET on the origin of the target's endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpGetStep {
    /// The request path, e.g. `/.well-known/host-meta`.
    pub path: String,
    /// What the response must be.
    pub expect: HttpGetExpect,
    /// When the response is not a 2xx, the case is skipped with this reason (an optional document).
    #[serde(default)]
    pub skip_unless: Option<String>,
    /// Statements this check verifies.
    #[serde(default)]
    pub spec: Vec<String>,
    /// Deadline of the request.
    #[serde(default)]
    pub timeout: Option<YamlDuration>,
}

/// The response an `http_get` expects.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpGetExpect {
    /// The status code (default 200).
    #[serde(default)]
    pub status: Option<u16>,
    /// A host-meta link (RFC 6415, XRD or JSON) that must be present.
    #[serde(default)]
    pub link: Option<LinkExpect>,
}

/// A host-meta `Link` an `http_get` expects.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkExpect {
    /// The link relation, e.g. `urn:xmpp:alt-connections:websocket`.
    pub rel: String,
    /// URI schemes the href may have (any when empty), e.g. `[ws, wss]`.
    #[serde(default)]
    pub schemes: Vec<String>,
}

/// `ws_ping`: a WebSocket ping with `payload`; the pong must carry the same payload.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WsPingStep {
    /// Whose connection.
    pub actor: String,
    /// Payload text (at most 125 bytes, RFC 6455 5.5).
    #[serde(default)]
    pub payload: String,
    /// Statements this check verifies.
    #[serde(default)]
    pub spec: Vec<String>,
    /// Deadline of the pong.
    #[serde(default)]
    pub timeout: Option<YamlDuration>,
}

/// `drain`: reads and records whatever the server sends on one connection for a while, until
/// the connection ends; nothing it reads fails the step, but the strict decoder's always-on
/// checks still judge each message (how a fuzzer finding replays a spec violation).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrainStep {
    /// Whose connection.
    pub actor: String,
    /// How long to read.
    #[serde(rename = "for")]
    pub duration: YamlDuration,
}

/// `expect_none`: silence for a while.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectNoneStep {
    /// Whose connection.
    pub actor: String,
    /// How long nothing may arrive.
    #[serde(rename = "for")]
    pub duration: YamlDuration,
    /// Statements this check verifies.
    #[serde(default)]
    pub spec: Vec<String>,
}

/// `expect_close` / `expect_disconnect`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectCloseStep {
    /// Whose connection.
    pub actor: String,
    /// Required WebSocket close code.
    #[serde(default)]
    pub code: Option<u16>,
    /// Statements this check verifies.
    #[serde(default)]
    pub spec: Vec<String>,
    /// Deadline.
    #[serde(default)]
    pub timeout: Option<YamlDuration>,
}
