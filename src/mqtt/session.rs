//! MQTT behind the engine's protocol interface: the strict codec as the link's codec, the case
//! set-up (client ids), actor sessions (packet sends and expectations, the `connect` macro, the
//! polite disconnect) and the cleanup that clears retained messages a case left.

use std::any::Any;
use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::capability::Learned;
use crate::case::matching::match_value;
use crate::case::model::{ConnectStep, ExpectStep, SendStep};
use crate::case::validate::parse_hex;
use crate::case::{Case, Step};
use crate::mqtt::codec::{DecodeError, Decoder, Direction, encode};
use crate::mqtt::template::{normalize_pattern, packet_from_value};
use crate::mqtt::{ConnectReturnCode, Packet, PacketType, Rule, Version};
use crate::seam::protocol::{next_of, not_a_macro_of, raw_form};
use crate::seam::{
    ActorSession, CaseState, Codec, Ended, Failure, Fuzzing, Inbound, Incoming, Link, LinkEnv,
    MessageData, Next, Protocol, Recv, StepCx, Wire,
};
use crate::target::{MqttCredentials, Target};
use crate::transport::{ConnectOptions, Endpoint};
use crate::vars::{Vars, scalar_text};
use crate::violation::Violation;

/// Largest packet accepted from a server.
pub const MAX_PACKET: usize = 1 << 20;

/// The rule that obliges the server to send a packet of `kind` in answer to the client's
/// packet (None: the kind is no answer to anything the client sends).
fn response_rule(kind: &str) -> Option<Rule> {
    Some(match kind {
        "connack" => Rule::ConnackFirst,
        "suback" => Rule::SubackAnswersSubscribe,
        "unsuback" => Rule::UnsubackAnswersUnsubscribe,
        "pingresp" => Rule::PingrespAnswersPingreq,
        "puback" => Rule::PubackAnswersQos1,
        "pubrec" => Rule::PubrecAnswersQos2,
        "pubcomp" => Rule::PubcompAnswersPubrel,
        _ => return None,
    })
}

/// The statement ids of `rule` in `version`, as a failure's list (empty where it has none).
fn ids(rule: Option<Rule>, version: Version) -> Vec<String> {
    rule.and_then(|r| r.id(version))
        .map(str::to_string)
        .into_iter()
        .collect()
}

fn redact(mut v: Value) -> Value {
    if let Some(p) = v.get_mut("password")
        && !p.is_null()
    {
        *p = Value::String("***".into());
    }
    v
}

/// The one-line transcript form of a packet.
pub fn summarize(packet: &Packet) -> String {
    described(packet).summary
}

/// A packet's transcript form: its fields as data (password redacted) and its one-line summary
/// (`PUBLISH {...}`), from one serialisation.
fn described(packet: &Packet) -> MessageData {
    let data = redact(serde_json::to_value(packet).unwrap_or(Value::Null));
    let ty = data
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_uppercase();
    let rest = match &data {
        Value::Object(m) => {
            let mut m = m.clone();
            m.remove("type");
            Value::Object(m).to_string()
        }
        other => other.to_string(),
    };
    MessageData {
        summary: format!("{ty} {rest}"),
        data,
    }
}

/// The packet's type as cases write it (`suback`).
/// How a received Authentication Method reads in a failure message.
fn method_shown(method: Option<&str>) -> String {
    match method {
        Some(m) => format!("with Authentication Method {m:?}"),
        None => "without an Authentication Method".to_string(),
    }
}

fn kind_name(p: &Packet) -> String {
    p.kind().name().to_ascii_lowercase()
}

/// Matches a received packet against an expectation's pattern.
fn matched(pattern: &Value, packet: &Packet, vars: &mut Vars, exact: bool) -> Result<(), Failure> {
    let actual =
        serde_json::to_value(packet).map_err(|e| Failure::infra(format!("internal: {e}")))?;
    match_value(&normalize_pattern(pattern), &actual, vars, exact).map_err(|mm| {
        Failure::check(Vec::new(), format!("packet differs {mm}"))
            .with_diff(redact(pattern.clone()).to_string(), summarize(packet))
            .mismatched()
    })
}

/// Whether a CONNACK refuses the connection for its credentials (bad user name or password, not
/// authorized), in either version.
fn refuses_credentials(packet: &Packet) -> bool {
    use crate::mqtt::ReasonCode;
    let Packet::Connack(c) = packet else {
        return false;
    };
    matches!(
        c.code,
        Some(ConnectReturnCode::BadUsernameOrPassword | ConnectReturnCode::NotAuthorized)
    ) || matches!(
        c.reason,
        Some(ReasonCode::BadUserNameOrPassword | ReasonCode::NotAuthorized)
    )
}

/// The MQTT strict codec as a link codec: client-to-server encoding, server-to-client decoding.
/// For 5.0 it also holds the connection's state that judging a server packet needs: the limits
/// the client declared in its CONNECT, the server's topic aliases and its unacknowledged
/// QoS 1/2 PUBLISHes.
pub struct MqttCodec {
    version: Version,
    decoder: Decoder,
    broken: bool,
    /// The Topic Alias Maximum the client sent (0 when it sent none: no alias allowed).
    topic_alias_maximum: u16,
    /// The Maximum Packet Size the client sent, if any.
    maximum_packet_size: Option<u32>,
    /// The Receive Maximum the client sent (65 535 when it sent none).
    receive_maximum: u16,
    /// Topic of each alias the server set on this connection.
    aliases: HashMap<u16, String>,
    /// Packet ids of QoS 1/2 PUBLISHes the server sent that the client has not acknowledged.
    unacknowledged: BTreeSet<u16>,
    /// Whether any byte arrived on this connection yet.
    received_any: bool,
    /// The Authentication Method of the client's CONNECT, if it had one.
    authentication_method: Option<String>,
    /// Whether the client's CONNECT asked for Response Information (Request Response Information 1).
    response_information_requested: bool,
    /// Whether the client sent a CONNECT on this connection (the AUTH checks judge against it).
    sent_connect: bool,
    /// Whether the last CONNECT the client sent carried no credentials: no user name, password
    /// or Authentication Method.
    connected_without_credentials: bool,
    /// Whether the client sent a packet with packet identifier 0 (a malformed one, on purpose):
    /// an acknowledgement that echoes id 0 then carries the same id, as it must.
    sent_id_zero: bool,
}

impl MqttCodec {
    /// A codec for `version`.
    pub fn new(version: Version) -> Self {
        Self {
            version,
            decoder: Decoder::new(version, Direction::ServerToClient, MAX_PACKET),
            broken: false,
            topic_alias_maximum: 0,
            maximum_packet_size: None,
            receive_maximum: u16::MAX,
            aliases: HashMap::new(),
            unacknowledged: BTreeSet::new(),
            received_any: false,
            authentication_method: None,
            response_information_requested: false,
            sent_connect: false,
            sent_id_zero: false,
            connected_without_credentials: false,
        }
    }

    /// A server that does not speak 5.0 refuses a 5.0 CONNECT in the only CONNACK form it
    /// knows: the 3.1.1 `20 02 00 01` (return code 1, unacceptable protocol version). When a
    /// 5.0 connection's first bytes are exactly that refusal, the rest of the connection is read
    /// as 3.1.1, so the refusal is judged as what it is and not as a malformed 5.0 CONNACK.
    fn first_bytes_of_connection(&mut self, bytes: &[u8]) {
        if self.received_any {
            return;
        }
        self.received_any = !bytes.is_empty();
        if self.version == Version::V5 && bytes.starts_with(&[0x20, 0x02, 0x00, 0x01]) {
            self.decoder = Decoder::new(Version::V311, Direction::ServerToClient, MAX_PACKET);
        }
    }

    /// Takes note of the packets in raw bytes the client sends (read leniently: what a client
    /// decoder makes of them, violations and all).
    fn note_sent_bytes(&mut self, bytes: &[u8]) {
        let mut d = Decoder::new(self.version, Direction::ClientToServer, MAX_PACKET);
        d.push(bytes);
        while let Ok(Some(decoded)) = d.next() {
            self.note_sent(&decoded.packet);
        }
    }

    /// Takes note of a packet the client sends: the limits of its CONNECT and its
    /// acknowledgements of the server's PUBLISHes.
    fn note_sent(&mut self, packet: &Packet) {
        if packet.packet_id() == Some(0) {
            self.sent_id_zero = true;
        }
        if let Packet::Connect(c) = packet {
            // A CONNECT with an Authentication Method authenticates by it (section 4.12): a
            // refusal is the exchange's verdict, not a want of user name and password.
            self.connected_without_credentials = c.username.is_none()
                && c.password.is_none()
                && c.properties.authentication_method.is_none();
        }
        if self.version != Version::V5 {
            return;
        }
        match packet {
            Packet::Connect(c) => {
                self.sent_connect = true;
                self.authentication_method = c.properties.authentication_method.clone();
                self.response_information_requested =
                    c.properties.request_response_information == Some(1);
                self.topic_alias_maximum = c.properties.topic_alias_maximum.unwrap_or(0);
                // 0 is no limit but a protocol error the server must refuse (the cases with
                // it judge that), so it does not make every packet from the server oversize.
                self.maximum_packet_size = c.properties.maximum_packet_size.filter(|m| *m > 0);
                self.receive_maximum = c
                    .properties
                    .receive_maximum
                    .filter(|m| *m > 0)
                    .unwrap_or(u16::MAX);
            }
            Packet::Puback(a) | Packet::Pubcomp(a) => {
                self.unacknowledged.remove(&a.id);
            }
            Packet::Pubrec(a) if a.reason.is_some_and(|r| r.is_failure()) => {
                self.unacknowledged.remove(&a.id);
            }
            _ => {}
        }
    }

    /// Judges a decoded server packet against the connection's 5.0 state and resolves a topic
    /// alias into its topic (the `topic_alias` property stays, so a case can see it was used).
    fn note_received(&mut self, packet: &mut Packet, size: usize, v: &mut Vec<Violation>) {
        if self.sent_id_zero
            && packet.packet_id() == Some(0)
            && !matches!(packet, Packet::Publish(_))
        {
            // The acknowledgement echoes the id 0 the client sent: that is the same id, which
            // is what the ack rules ask; the client's id 0 is what the case judges.
            let echoed: Vec<String> = [
                Rule::PublishAckSameId,
                Rule::SubscriptionAckSameId,
                Rule::PubcompAnswersPubrel,
            ]
            .iter()
            .filter_map(|r| r.id(self.version).map(str::to_string))
            .collect();
            v.retain(|x| !echoed.contains(&x.spec));
        }
        if self.version != Version::V5 {
            return;
        }
        if let Some(max) = self.maximum_packet_size
            && size > max as usize
        {
            v.extend(oversize_violations(packet, size, max, self.version));
        }
        self.judge_auth_and_info(packet, v);
        let Packet::Publish(p) = packet else {
            return;
        };
        if let Some(alias) = p.properties.topic_alias {
            if alias > self.topic_alias_maximum {
                v.extend(Rule::TopicAliasAboveMaximum.violation(
                    self.version,
                    format!(
                        "Topic Alias {alias}; the client's Topic Alias Maximum is {}",
                        self.topic_alias_maximum
                    ),
                ));
            }
            if p.topic.is_empty() {
                match self.aliases.get(&alias) {
                    Some(topic) => p.topic = topic.clone(),
                    None => v.extend(Rule::TopicAliasUnknown.violation(
                        self.version,
                        format!("a PUBLISH with an empty topic and Topic Alias {alias}, which this connection never set"),
                    )),
                }
            } else {
                self.aliases.insert(alias, p.topic.clone());
            }
        }
        if p.qos > 0
            && !p.dup
            && let Some(id) = p.id
            && self.unacknowledged.contains(&id)
        {
            let rule = if p.qos == 1 {
                Rule::PublishIdInUseQos1
            } else {
                Rule::PublishIdInUseQos2
            };
            v.extend(rule.violation(
                self.version,
                format!("a new QoS {} PUBLISH with packet id {id}, which an unacknowledged PUBLISH of this connection still uses", p.qos),
            ));
        }
        if p.qos > 0
            && let Some(id) = p.id
            && self.unacknowledged.insert(id)
            && self.unacknowledged.len() > usize::from(self.receive_maximum)
        {
            v.extend(Rule::ReceiveMaximumExceeded.violation(
                self.version,
                format!(
                    "{} QoS 1/2 PUBLISHes unacknowledged; the client's Receive Maximum is {}",
                    self.unacknowledged.len(),
                    self.receive_maximum
                ),
            ));
        }
    }
}

impl MqttCodec {
    /// Judges the Authentication Method of the server's AUTH and CONNACK against the client's
    /// CONNECT (MQTT-4.12.0-5, -6), and Response Information nobody asked for (MQTT-3.1.2-28).
    fn judge_auth_and_info(&self, packet: &Packet, v: &mut Vec<Violation>) {
        if !self.sent_connect {
            return;
        }
        let sent = self.authentication_method.as_deref();
        match packet {
            Packet::Auth(a) => match sent {
                None => v.extend(Rule::AuthWithoutMethod.violation(
                    self.version,
                    "an AUTH packet, although the CONNECT had no Authentication Method",
                )),
                Some(m) if a.properties.authentication_method.as_deref() != Some(m) => {
                    v.extend(Rule::AuthMethodSame.violation(
                        self.version,
                        format!(
                            "an AUTH {}; the CONNECT's is {m:?}",
                            method_shown(a.properties.authentication_method.as_deref())
                        ),
                    ))
                }
                Some(_) => {}
            },
            Packet::Connack(c) => {
                let got = c.properties.authentication_method.as_deref();
                match (sent, got) {
                    (None, Some(g)) => v.extend(Rule::AuthWithoutMethod.violation(
                        self.version,
                        format!("a CONNACK with Authentication Method {g:?}, although the CONNECT had none"),
                    )),
                    (Some(m), _)
                        if c.reason.is_some_and(|r| r.to_byte() == 0) && got != Some(m) =>
                    {
                        v.extend(Rule::AuthMethodSame.violation(
                            self.version,
                            format!("a successful CONNACK {}; the CONNECT's is {m:?}", method_shown(got)),
                        ))
                    }
                    _ => {}
                }
                if !self.response_information_requested
                    && let Some(info) = &c.properties.response_information
                {
                    v.extend(Rule::ResponseInformationUnrequested.violation(
                        self.version,
                        format!("a CONNACK with Response Information {info:?}, which the CONNECT did not request"),
                    ));
                }
            }
            _ => {}
        }
    }
}

/// The violations of a server packet larger than the client's Maximum Packet Size: for each
/// Reason String or User Property it carries, the statement that forbids sending that property
/// past the limit; for a packet without either, the general limit (MQTT-3.1.2-24).
fn oversize_violations(packet: &Packet, size: usize, max: u32, version: Version) -> Vec<Violation> {
    use crate::mqtt::PacketType as T;
    let detail = |what: &str| {
        format!(
            "a {size}-byte {} with {what}; the client's Maximum Packet Size is {max}",
            kind_name(packet).to_uppercase()
        )
    };
    let rules = match packet.kind() {
        T::Connack => Some((
            Rule::ConnackReasonStringOversize,
            Rule::ConnackUserPropertyOversize,
        )),
        T::Puback => Some((
            Rule::PubackReasonStringOversize,
            Rule::PubackUserPropertyOversize,
        )),
        T::Pubrec => Some((
            Rule::PubrecReasonStringOversize,
            Rule::PubrecUserPropertyOversize,
        )),
        T::Pubrel => Some((
            Rule::PubrelReasonStringOversize,
            Rule::PubrelUserPropertyOversize,
        )),
        T::Pubcomp => Some((
            Rule::PubcompReasonStringOversize,
            Rule::PubcompUserPropertyOversize,
        )),
        T::Suback => Some((
            Rule::SubackReasonStringOversize,
            Rule::SubackUserPropertyOversize,
        )),
        T::Unsuback => Some((
            Rule::UnsubackReasonStringOversize,
            Rule::UnsubackUserPropertyOversize,
        )),
        T::Disconnect => Some((
            Rule::DisconnectReasonStringOversize,
            Rule::DisconnectUserPropertyOversize,
        )),
        T::Auth => Some((
            Rule::AuthReasonStringOversize,
            Rule::AuthUserPropertyOversize,
        )),
        _ => None,
    };
    let mut out = Vec::new();
    if let (Some((reason_rule, user_rule)), Some(props)) = (rules, packet.properties()) {
        if props.reason_string.is_some() {
            out.extend(reason_rule.violation(version, detail("a Reason String")));
        }
        if !props.user_properties.is_empty() {
            out.extend(user_rule.violation(version, detail("User Properties")));
        }
    }
    if out.is_empty() {
        out.extend(Rule::PacketAboveMaximumSize.violation(
            version,
            format!("a {size}-byte packet; the client's Maximum Packet Size is {max}"),
        ));
    }
    out
}

impl Codec for MqttCodec {
    type Out = Packet;
    type In = Packet;

    /// The limits and acknowledgements are taken from what is written, after the send hook
    /// (a fuzzer's mutation of a CONNECT's Maximum Packet Size must change the limit checked).
    fn note_written(&mut self, bytes: &[u8]) {
        self.note_sent_bytes(bytes);
    }

    fn describe(&self, packet: &Packet) -> (MessageData, bool) {
        let secret = matches!(packet, Packet::Connect(c) if c.password.is_some());
        (described(packet), secret)
    }

    fn message_from_data(&self, data: &Value) -> Result<Packet, String> {
        packet_from_value(data)
    }

    fn encode(&self, packet: &Packet) -> Result<Wire, String> {
        encode(packet, self.version)
            .map(Wire::Bytes)
            .map_err(|e| format!("{}: {e}", summarize(packet)))
    }

    fn feed(&mut self, incoming: Incoming) -> Vec<Violation> {
        match incoming {
            Incoming::Bytes(b) | Incoming::Binary(b) => {
                self.first_bytes_of_connection(&b);
                self.decoder.push(&b);
                Vec::new()
            }
            Incoming::Text(t) => {
                self.decoder.push(t.as_bytes());
                Rule::WsBinaryFrames
                    .violation(
                        self.version,
                        "the server sent MQTT data in a WebSocket text frame",
                    )
                    .into_iter()
                    .collect()
            }
        }
    }

    fn decode(&mut self) -> Option<Inbound<Packet>> {
        if self.broken {
            return None;
        }
        let bad = |v: Violation, raw: Vec<u8>| Inbound {
            message: None,
            data: MessageData {
                data: json!({ "malformed": v.detail, "spec": v.spec }),
                summary: format!("malformed packet: {v}"),
            },
            raw,
            fatal: Some(format!("the packet boundaries are lost after: {v}")),
            violations: vec![v],
        };
        match self.decoder.next() {
            Ok(Some(mut d)) => {
                self.note_received(&mut d.packet, d.raw.len(), &mut d.violations);
                Some(Inbound {
                    data: described(&d.packet),
                    message: Some(d.packet),
                    raw: d.raw,
                    violations: d.violations,
                    fatal: None,
                })
            }
            Ok(None) => None,
            Err(DecodeError::Malformed { violation, raw }) => {
                self.broken = true;
                Some(bad(violation, raw))
            }
            Err(e) => {
                self.broken = true;
                Some(bad(
                    Rule::ProtocolViolation.malformed(self.version, e.to_string()),
                    Vec::new(),
                ))
            }
        }
    }
}

/// MQTT as a protocol of the engine.
pub struct MqttProtocol;

#[async_trait]
impl Protocol for MqttProtocol {
    fn name(&self) -> &'static str {
        "mqtt"
    }

    fn endpoint<'t>(&self, target: &'t Target) -> Option<&'t Endpoint> {
        target.mqtt.as_ref().map(|t| &t.endpoint)
    }

    fn fuzzing(&self, version: Option<&str>) -> Box<dyn Fuzzing> {
        Box::new(super::mutate::MqttFuzzing::new(version))
    }

    async fn prepare(
        &self,
        case: &Case,
        target: &Target,
        vars: &mut Vars,
        tag: &str,
    ) -> Result<Box<dyn CaseState>, Failure> {
        let endpoint = self
            .endpoint(target)
            .cloned()
            .ok_or_else(|| Failure::infra("target has no MQTT endpoint"))?;
        let version = match &case.version {
            Some(v) => v
                .parse::<Version>()
                .map_err(|e| Failure::infra(format!("version: {e}")))?,
            None => Version::V311,
        };
        for (i, (name, doc)) in case.actors.iter().enumerate() {
            let id = match &doc.client_id {
                Some(id) => vars
                    .interpolate(id)
                    .map_err(|e| Failure::infra(format!("actor `{name}`: client_id: {e}")))?,
                None => format!("wc{tag}{i:02}"),
            };
            vars.set(format!("{name}.client_id"), id);
        }
        Ok(Box::new(MqttCase {
            endpoint,
            version,
            cleanup_id: format!("wc{tag}cl"),
            credentials: target.mqtt.as_ref().and_then(|t| t.credentials.clone()),
        }))
    }

    /// Connects once with MQTT 5.0 and reads the CONNACK: a refusal of the protocol version
    /// means no `mqtt5`; the CONNACK properties tell retain, QoS 2, wildcard, subscription
    /// identifier, shared subscription and topic alias support. Anything else learns nothing.
    async fn probe(
        &self,
        target: &Target,
        connect: &ConnectOptions,
        deadline: Instant,
    ) -> Result<Learned, Failure> {
        let Some(mqtt) = &target.mqtt else {
            return Ok(Learned::default());
        };
        let answer = connect_once(
            &mqtt.endpoint,
            connect,
            Version::V5,
            mqtt.credentials.clone(),
            deadline,
        )
        .await?;
        Ok(match answer {
            ConnectAnswer::Connack(c) => learned_from_connack(&c),
            // A 3.1.1-only server answers in 3.1.1 form, which is no 5.0 CONNACK: 20 02 00 01
            // (return code 1, unacceptable protocol version).
            ConnectAnswer::Other(raw) if refuses_v5_in_311_form(&raw) => Learned {
                capabilities: [(crate::capability::Capability::Mqtt5, false)].into(),
                from: "CONNACK",
            },
            ConnectAnswer::Other(_) => Learned::default(),
        })
    }

    async fn audit_facts(
        &self,
        target: &Target,
        connect: &ConnectOptions,
        deadline: Instant,
    ) -> Vec<crate::facts::Fact> {
        match &target.mqtt {
            Some(mqtt) => crate::mqtt::audit::facts(mqtt, connect, deadline).await,
            None => Vec::new(),
        }
    }
}

/// What a server answered one CONNECT with.
pub(crate) enum ConnectAnswer {
    /// A CONNACK that decoded in the version of the CONNECT.
    Connack(Box<crate::mqtt::Connack>),
    /// Anything else: the raw bytes of the last packet read (empty when nothing came).
    Other(Vec<u8>),
}

/// Whether `raw` is a 3.1.1 CONNACK refusing the protocol version (`20 02 00 01`).
pub(crate) fn refuses_v5_in_311_form(raw: &[u8]) -> bool {
    raw.starts_with(&[0x20, 0x02]) && raw.get(3) == Some(&1)
}

/// A connection of a probe (the capability probe, the audit, the fuzzer's liveness probe) in
/// `version`: over TCP, TLS or WebSocket (subprotocol `mqtt`) as the endpoint says.
pub(crate) async fn probe_link(
    endpoint: &Endpoint,
    connect: &ConnectOptions,
    version: Version,
) -> Result<Link<MqttCodec>, Failure> {
    Link::open(
        endpoint,
        &LinkEnv::probe(connect),
        "probe",
        "mqtt",
        Rule::WsSubprotocol.id(version).unwrap_or_default(),
        MqttCodec::new(version),
    )
    .await
}

/// Connects once in `version` with `credentials` (None: anonymously), reads the answer and
/// drops the connection; a client id of its own, clean session, nothing subscribed or published.
pub(crate) async fn connect_once(
    endpoint: &Endpoint,
    connect: &ConnectOptions,
    version: Version,
    credentials: Option<MqttCredentials>,
    deadline: Instant,
) -> Result<ConnectAnswer, Failure> {
    let link = probe_link(endpoint, connect, version).await?;
    let mut actor = MqttActor {
        link,
        client_id: format!("wcprobe{}", std::process::id()),
        version,
        retained: BTreeSet::new(),
        credentials,
        last_connack: None,
        last_raw: Vec::new(),
    };
    let step = ConnectStep {
        actor: "probe".into(),
        expect: Some(json!({"type": "connack"})),
        ..ConnectStep::default()
    };
    let mut vars = Vars::new();
    let answer = actor.connect_macro(&step, &mut vars, deadline).await;
    let out = match (answer, actor.last_connack.take()) {
        (Ok(()), Some(c)) => ConnectAnswer::Connack(Box::new(c)),
        _ => ConnectAnswer::Other(std::mem::take(&mut actor.last_raw)),
    };
    actor.link.abort();
    Ok(out)
}

/// What a CONNACK to a 5.0 CONNECT says about the server's capabilities.
fn learned_from_connack(c: &crate::mqtt::Connack) -> Learned {
    use crate::capability::Capability as C;
    let mut caps = std::collections::BTreeMap::new();
    let refused_version = match (c.code, c.reason) {
        (Some(ConnectReturnCode::UnacceptableProtocolVersion), _) => true,
        (_, Some(r)) => r.to_byte() == 0x84,
        _ => false,
    };
    if refused_version {
        caps.insert(C::Mqtt5, false);
        return Learned {
            capabilities: caps,
            from: "CONNACK",
        };
    }
    if c.reason.is_none_or(|r| r.to_byte() != 0) {
        return Learned::default();
    }
    let p = &c.properties;
    caps.insert(C::Mqtt5, true);
    let flag = |v: Option<u8>| v != Some(0);
    caps.insert(C::Retain, flag(p.retain_available));
    caps.insert(C::Wildcards, flag(p.wildcard_subscription_available));
    caps.insert(
        C::SubscriptionIds,
        flag(p.subscription_identifier_available),
    );
    caps.insert(
        C::SharedSubscriptions,
        flag(p.shared_subscription_available),
    );
    caps.insert(C::Qos2, p.maximum_qos.is_none());
    caps.insert(C::TopicAlias, p.topic_alias_maximum.is_some_and(|m| m > 0));
    Learned {
        capabilities: caps,
        from: "CONNACK",
    }
}

/// An MQTT case between set-up and cleanup.
struct MqttCase {
    endpoint: Endpoint,
    version: Version,
    cleanup_id: String,
    credentials: Option<MqttCredentials>,
}

#[async_trait]
impl CaseState for MqttCase {
    async fn open(
        &mut self,
        actor: &str,
        env: &LinkEnv,
        vars: &Vars,
    ) -> Result<Box<dyn ActorSession>, Failure> {
        let client_id = vars
            .get(&format!("{actor}.client_id"))
            .map(scalar_text)
            .unwrap_or_default();
        let link = Link::open(
            &self.endpoint,
            env,
            actor,
            "mqtt",
            Rule::WsSubprotocol.id(self.version).unwrap_or_default(),
            MqttCodec::new(self.version),
        )
        .await?;
        Ok(Box::new(MqttActor {
            link,
            client_id,
            version: self.version,
            retained: BTreeSet::new(),
            credentials: self.credentials.clone(),
            last_connack: None,
            last_raw: Vec::new(),
        }))
    }

    async fn cleanup(
        &mut self,
        sessions: Vec<Box<dyn ActorSession>>,
        env: &LinkEnv,
        deadline: Instant,
    ) -> Vec<String> {
        let mut retained = BTreeSet::new();
        for s in sessions {
            if let Ok(mut m) = s.into_any().downcast::<MqttActor>() {
                m.link.abort();
                retained.append(&mut m.retained);
            }
        }
        if retained.is_empty() {
            return Vec::new();
        }
        let topics: Vec<String> = retained.into_iter().collect();
        match self.clear_retained(env, &topics, deadline).await {
            Ok(()) => Vec::new(),
            Err(f) => vec![format!(
                "could not clear retained messages on {}: {}",
                topics.join(", "),
                f.message
            )],
        }
    }
}

impl MqttCase {
    /// Clears retained messages left on `topics` with a short-lived connection of its own,
    /// tolerant of any unrelated packet the server sends meanwhile.
    async fn clear_retained(
        &self,
        env: &LinkEnv,
        topics: &[String],
        deadline: Instant,
    ) -> Result<(), Failure> {
        let link = Link::open(
            &self.endpoint,
            env,
            "cleanup",
            "mqtt",
            Rule::WsSubprotocol.id(self.version).unwrap_or_default(),
            MqttCodec::new(self.version),
        )
        .await?;
        let mut s = MqttActor {
            link,
            client_id: self.cleanup_id.clone(),
            version: self.version,
            retained: BTreeSet::new(),
            credentials: self.credentials.clone(),
            last_connack: None,
            last_raw: Vec::new(),
        };
        let mut vars = Vars::new();
        let step = ConnectStep {
            actor: "cleanup".into(),
            ..ConnectStep::default()
        };
        s.connect_macro(&step, &mut vars, deadline).await?;
        for (i, topic) in topics.iter().enumerate() {
            let id = (i % 60_000) as u16 + 1;
            let clear = packet_from_value(&json!({
                "type": "publish", "qos": 1, "retain": true, "topic": topic, "id": id, "payload": ""
            }))
            .map_err(Failure::infra)?;
            s.link.send(clear, deadline).await?;
            let want = json!({"type": "puback", "id": id});
            loop {
                match s.link.recv(deadline).await {
                    Recv::Message(m) => {
                        if let Some(p) = &m.message {
                            let actual = serde_json::to_value(p).unwrap_or(Value::Null);
                            if match_value(&want, &actual, &mut vars, false).is_ok() {
                                break;
                            }
                            // Unrelated traffic: acknowledge it, so a server with a small
                            // in-flight window keeps going, and wait on.
                            let ack = match (actual["type"].as_str(), actual["qos"].as_u64()) {
                                (Some("publish"), Some(1)) => Some("puback"),
                                (Some("publish"), Some(2)) => Some("pubrec"),
                                (Some("pubrel"), _) => Some("pubcomp"),
                                _ => None,
                            };
                            if let (Some(ack), Some(pid)) = (ack, actual["id"].as_u64()) {
                                let reply = packet_from_value(&json!({"type": ack, "id": pid}))
                                    .map_err(Failure::infra)?;
                                s.link.send(reply, deadline).await?;
                            }
                        }
                    }
                    Recv::Ended(e) => {
                        return Err(Failure::infra(format!("the connection ended: {e}")));
                    }
                    Recv::Timeout => {
                        return Err(Failure::infra(format!("no PUBACK for {topic}")));
                    }
                }
            }
        }
        s.disconnect(&[], deadline).await
    }
}

/// One actor's MQTT connection.
struct MqttActor {
    link: Link<MqttCodec>,
    client_id: String,
    version: Version,
    retained: BTreeSet<String>,
    /// The target's credentials: used by a `connect` that names neither user nor password.
    credentials: Option<MqttCredentials>,
    /// The CONNACK the last `connect` macro received.
    last_connack: Option<crate::mqtt::Connack>,
    /// The raw bytes of the last packet an expectation read (for the probe).
    last_raw: Vec<u8>,
}

impl MqttActor {
    async fn send_packet(&mut self, packet: Packet, deadline: Instant) -> Result<(), Failure> {
        // A will with Will Retain 1 may be left retained on the server: cleanup clears it too.
        if let Packet::Connect(c) = &packet
            && let Some(w) = c.will.as_ref().filter(|w| w.retain && !w.topic.is_empty())
        {
            self.retained.insert(w.topic.clone());
        }
        if let Packet::Publish(p) = &packet
            && p.retain
        {
            if p.payload.is_empty() {
                self.retained.remove(&p.topic);
            } else {
                self.retained.insert(p.topic.clone());
            }
        }
        self.link.send(packet, deadline).await
    }

    /// Adds the target's credentials, if it has any, to a CONNECT given as case data.
    fn log_in_as_target(&self, connect: &mut serde_json::Map<String, Value>) {
        if let Some(c) = &self.credentials {
            connect.insert("username".into(), json!(c.username));
            connect.insert("password".into(), json!(c.password.expose()));
        }
    }

    /// Reads the next packet of the pattern's type and matches it. Packets of other types that
    /// the protocol does not order relative to it are held for later steps; a CONNACK is never
    /// passed over, and nothing is passed over while a CONNACK is awaited.
    async fn expect_value(
        &mut self,
        pattern: &Value,
        exact: bool,
        vars: &mut Vars,
        deadline: Instant,
    ) -> Result<Packet, Failure> {
        let waited = deadline.saturating_duration_since(Instant::now());
        let shown = redact(pattern.clone()).to_string();
        let want = crate::mqtt::template::pattern_type(pattern).unwrap_or_default();
        let rule = ids(response_rule(&want), self.version);
        let passable = want != "connack";
        let skip = |m: &Inbound<Packet>| {
            passable
                && m.message
                    .as_ref()
                    .is_some_and(|p| p.kind() != PacketType::Connack && kind_name(p) != want)
        };
        let received = self.link.recv_skipping(deadline, skip).await;
        if let Recv::Message(m) = &received {
            self.last_raw.clone_from(&m.raw);
        }
        match received {
            Recv::Message(m) => match m.message {
                Some(p) if kind_name(&p) != want && !want.is_empty() => {
                    let failure = Failure::check(
                        rule,
                        format!(
                            "unexpected {} where {} {} was expected",
                            kind_name(&p).to_uppercase(),
                            if want == "auth" { "an" } else { "a" },
                            want.to_uppercase()
                        ),
                    )
                    .with_diff(shown, summarize(&p));
                    // The answer to a CONNECT is an AUTH or a CONNACK (section 4.12): a CONNACK
                    // where an AUTH was awaited is the awaited answer, only another one.
                    let other_answer = want == "auth" && p.kind() == PacketType::Connack;
                    Err(if other_answer {
                        failure.mismatched()
                    } else {
                        failure
                    })
                }
                Some(p) => matched(pattern, &p, vars, exact).map(|()| p),
                None => Err(Failure::check_only(
                    rule,
                    format!("expected a packet, got a malformed one: {}", m.data.summary),
                )
                .with_diff(shown, hex::encode(&m.raw))),
            },
            Recv::Ended(e) => Err(e.failure(rule, "a packet").with_diff(shown, e.to_string())),
            Recv::Timeout => {
                let held = self.link.held();
                let (what, actual) = match held.first() {
                    None => ("nothing arrived".to_string(), "nothing".to_string()),
                    Some(first) => (
                        format!("only {} packet(s) of other types arrived", held.len()),
                        first.clone(),
                    ),
                };
                Err(Failure::check(
                    rule,
                    format!(
                        "expected a {} within {:.1}s; {what}",
                        if want.is_empty() {
                            "packet".into()
                        } else {
                            want.to_uppercase()
                        },
                        waited.as_secs_f64()
                    ),
                )
                .with_diff(shown, actual)
                .nothing_arrived())
            }
        }
    }

    /// The enhanced authentication of a `connect` step with `auth:` answers (section 4.12): each
    /// AUTH challenge of the server gets the next answer, until the CONNACK, which it returns. A
    /// server that refuses the method at once does not offer it: the case does not apply.
    async fn authenticate(
        &mut self,
        step: &ConnectStep,
        method: Option<String>,
        vars: &Vars,
        deadline: Instant,
    ) -> Result<Packet, Failure> {
        let Some(method) = method else {
            return Err(Failure::infra(
                "connect: `auth:` answers need an `authentication_method` property",
            ));
        };
        let mut answers = step.auth.iter();
        let mut challenged = false;
        loop {
            let packet = match self.connect_answer(deadline).await? {
                Ok(packet) => packet,
                // MQTT-4.12.0-1: a close (with or without a CONNACK) is how a server turns down
                // a method it does not offer.
                Err(e) if !challenged && step.expect.is_none() => {
                    return Err(Failure::not_applicable(format!(
                        "the server does not offer the authentication method {method:?} (it closed the connection: {e})"
                    )));
                }
                Err(e) => {
                    let rule = ids(Some(Rule::ConnackFirst), self.version);
                    return Err(e.failure(rule, "a CONNACK or an AUTH"));
                }
            };
            let auth = match packet {
                Packet::Connack(c) => {
                    let refused_method =
                        c.reason.is_some_and(|r| matches!(r.to_byte(), 0x8C | 0x87));
                    if !challenged && refused_method && step.expect.is_none() {
                        return Err(Failure::not_applicable(format!(
                            "the server does not offer the authentication method {method:?} ({})",
                            summarize(&Packet::Connack(c))
                        )));
                    }
                    return Ok(Packet::Connack(c));
                }
                Packet::Auth(a) => a,
                other => {
                    return Err(Failure::check(
                        ids(Some(Rule::ConnackFirst), self.version),
                        format!(
                            "unexpected {} where a CONNACK or an AUTH was expected",
                            kind_name(&other).to_uppercase()
                        ),
                    )
                    .with_actual(summarize(&other)));
                }
            };
            challenged = true;
            if auth.reason.is_some_and(|r| r.to_byte() != 0x18) {
                return Err(Failure::check_only(
                    ids(Some(Rule::AuthContinues), self.version),
                    "an AUTH during the CONNECT's authentication without Reason Code 0x18 (continue authentication)",
                )
                .with_actual(summarize(&Packet::Auth(auth))));
            }
            let Some(answer) = answers.next() else {
                return Err(Failure::check(
                    Vec::new(),
                    format!(
                        "the server sent more AUTH challenges than the case has answers ({})",
                        step.auth.len()
                    ),
                )
                .with_actual(summarize(&Packet::Auth(auth))));
            };
            let data = vars
                .interpolate(answer)
                .map_err(|e| Failure::infra(format!("connect: auth: {e}")))?;
            let reply = packet_from_value(&json!({
                "type": "auth",
                "reason": "continue_authentication",
                "properties": {"authentication_method": method, "authentication_data": data},
            }))
            .map_err(|e| Failure::infra(format!("connect: auth: {e}")))?;
            self.send_packet(reply, deadline).await?;
        }
    }

    /// The server's next packet, passing nothing over: the answer to a CONNECT or to an AUTH of
    /// its authentication (an AUTH or the CONNACK), or how the connection ended.
    async fn connect_answer(
        &mut self,
        deadline: Instant,
    ) -> Result<Result<Packet, Ended>, Failure> {
        let rule = ids(Some(Rule::ConnackFirst), self.version);
        let waited = deadline.saturating_duration_since(Instant::now());
        match self.link.recv_skipping(deadline, |_| false).await {
            Recv::Message(m) => {
                self.last_raw.clone_from(&m.raw);
                m.message.map(Ok).ok_or_else(|| {
                    Failure::check_only(
                        rule,
                        format!("expected a packet, got a malformed one: {}", m.data.summary),
                    )
                    .with_actual(hex::encode(&m.raw))
                })
            }
            Recv::Ended(e) => Ok(Err(e)),
            Recv::Timeout => Err(Failure::check(
                rule,
                format!(
                    "expected a CONNACK or an AUTH within {:.1}s; nothing arrived",
                    waited.as_secs_f64()
                ),
            )
            .nothing_arrived()),
        }
    }

    /// The `connect` macro: CONNECT with the step's options, then the expected CONNACK.
    async fn connect_macro(
        &mut self,
        step: &ConnectStep,
        vars: &mut Vars,
        deadline: Instant,
    ) -> Result<(), Failure> {
        let clean = step.clean_session.unwrap_or(true);
        let client_id = match &step.client_id {
            Some(id) => vars
                .interpolate(id)
                .map_err(|e| Failure::infra(format!("connect: client_id: {e}")))?,
            None => self.client_id.clone(),
        };
        let mut fields = json!({
            "type": "connect",
            "protocol_level": self.version.protocol_level(),
            "client_id": client_id,
            "clean_session": clean,
            "keep_alive": step.keep_alive.unwrap_or(60),
        });
        if let Some(props) = &step.properties {
            fields["properties"] = vars
                .interpolate_value(props)
                .map_err(|e| Failure::infra(format!("connect: properties: {e}")))?;
        }
        if step.username.is_none()
            && step.password.is_none()
            && let Some(map) = fields.as_object_mut()
        {
            self.log_in_as_target(map);
        }
        if let Some(u) = &step.username {
            fields["username"] = json!(
                vars.interpolate(u)
                    .map_err(|e| Failure::infra(e.to_string()))?
            );
        }
        if let Some(p) = &step.password {
            fields["password"] = json!(
                vars.interpolate(p)
                    .map_err(|e| Failure::infra(e.to_string()))?
            );
        }
        if let Some(w) = &step.will {
            fields["will"] = vars
                .interpolate_value(w)
                .map_err(|e| Failure::infra(format!("connect: will: {e}")))?;
        }
        let packet =
            packet_from_value(&fields).map_err(|e| Failure::infra(format!("connect: {e}")))?;
        let method = match &packet {
            Packet::Connect(c) => c.properties.authentication_method.clone(),
            _ => None,
        };
        self.send_packet(packet, deadline).await?;
        let connack = if step.auth.is_empty() {
            self.expect_value(&json!({"type": "connack"}), false, vars, deadline)
                .await?
        } else {
            self.authenticate(step, method, vars, deadline).await?
        };
        let expected = step
            .expect
            .as_ref()
            .map(|pattern| matched(pattern, &connack, vars, false));
        // A refusal of the credentials is a set-up problem, also where the case expects another
        // answer; a case that expects the refusal matches it here.
        if !matches!(expected, Some(Ok(()))) && refuses_credentials(&connack) {
            return Err(Failure::infra(format!(
                "set-up: the server refused the connection ({}); give the target MQTT \
                 credentials (profile `username`/`password_env`, or --user/--password-env)",
                summarize(&connack)
            )));
        }
        if let Some(Err(f)) = expected {
            return Err(f);
        }
        let Packet::Connack(c) = &connack else {
            return Ok(());
        };
        self.last_connack = Some(c.clone());
        if let Some(assigned) = &c.properties.assigned_client_identifier {
            vars.set(
                format!("{}.assigned_client_id", step.actor),
                assigned.clone(),
            );
        }
        if step.expect.is_some() {
            return Ok(());
        }
        if self.version == Version::V5 {
            return self.judge_connack_v5(c, clean, &connack);
        }
        match c.code {
            Some(ConnectReturnCode::Accepted) => {}
            _ => {
                return Err(
                    Failure::check(Vec::new(), "the server refused the connection")
                        .with_diff("CONNACK accepted", summarize(&connack)),
                );
            }
        }
        if clean && c.session_present {
            return Err(Failure::check_only(
                ids(Some(Rule::CleanSessionNotPresent), self.version),
                "the CONNACK to a clean-session CONNECT has session present set",
            )
            .with_actual(summarize(&connack)));
        }
        Ok(())
    }

    /// Whether `packet` is the server's notice of a close it is about to make: a 5.0
    /// DISCONNECT, or a CONNACK that refuses the connection.
    fn announces_close(&self, packet: &Packet) -> bool {
        match packet {
            Packet::Disconnect(_) => self.version == Version::V5,
            Packet::Connack(c) => {
                c.code
                    .is_some_and(|code| code != ConnectReturnCode::Accepted)
                    || c.reason.is_some_and(|r| r.is_failure())
            }
            _ => false,
        }
    }

    /// Judges the CONNACK of a 5.0 `connect` without an `expect`: success, session present 0
    /// for a clean start (a refusal of the credentials was already made a set-up error).
    fn judge_connack_v5(
        &self,
        c: &crate::mqtt::Connack,
        clean: bool,
        connack: &Packet,
    ) -> Result<(), Failure> {
        match c.reason {
            Some(r) if r.to_byte() == 0 => {}
            _ => {
                return Err(
                    Failure::check(Vec::new(), "the server refused the connection")
                        .with_diff("CONNACK success", summarize(connack)),
                );
            }
        }
        if clean && c.session_present {
            return Err(Failure::check_only(
                ids(Some(Rule::CleanSessionNotPresent), self.version),
                "the CONNACK to a Clean Start CONNECT has session present set",
            )
            .with_actual(summarize(connack)));
        }
        Ok(())
    }
}

#[async_trait]
impl ActorSession for MqttActor {
    async fn run_macro(&mut self, step: &Step, cx: &mut StepCx<'_>) -> Result<(), Failure> {
        match step {
            Step::Connect(c) => self.connect_macro(&c.0, cx.vars, cx.deadline).await,
            other => Err(not_a_macro_of("MQTT", other)),
        }
    }

    async fn send(&mut self, step: &SendStep, cx: &mut StepCx<'_>) -> Result<(), Failure> {
        if let Some(p) = &step.packet {
            let mut value = cx
                .vars
                .interpolate_value(p)
                .map_err(|e| Failure::infra(format!("send: {e}")))?;
            // A CONNECT of a 5.0 case speaks 5.0 unless the case writes another level.
            if value.get("type").and_then(Value::as_str) == Some("connect")
                && value.get("protocol_level").is_none()
                && let Some(map) = value.as_object_mut()
            {
                map.insert(
                    "protocol_level".into(),
                    self.version.protocol_level().into(),
                );
            }
            // A CONNECT that names neither user nor password logs in with the target's
            // credentials, as the connect macro does (`username: null` sends none on purpose).
            if value.get("type").and_then(Value::as_str) == Some("connect")
                && let Some(map) = value.as_object_mut()
                && !map.contains_key("username")
                && !map.contains_key("password")
            {
                self.log_in_as_target(map);
            }
            let packet = packet_from_value(&value)
                .map_err(|e| Failure::infra(format!("send: field `packet`: {e}")))?;
            return self.send_packet(packet, cx.deadline).await;
        }
        match raw_form(step, cx.vars) {
            Some(raw) => {
                let raw = raw?;
                self.link.send_raw(raw, cx.deadline).await
            }
            None => Err(Failure::infra("send: nothing to send")),
        }
    }

    async fn expect(&mut self, step: &ExpectStep, cx: &mut StepCx<'_>) -> Result<(), Failure> {
        if let Some(p) = &step.packet {
            return self
                .expect_value(p, step.exact, cx.vars, cx.deadline)
                .await
                .map(|_| ());
        }
        if let Some(h) = &step.bytes {
            let want = parse_hex(h).map_err(Failure::infra)?;
            return match self.link.recv(cx.deadline).await {
                Recv::Message(m) if m.raw == want => Ok(()),
                Recv::Message(m) => Err(Failure::check(Vec::new(), "bytes differ")
                    .with_diff(hex::encode(&want), hex::encode(&m.raw))),
                Recv::Ended(e) => Err(e
                    .failure(Vec::new(), "bytes")
                    .with_diff(hex::encode(&want), e.to_string())),
                Recv::Timeout => Err(
                    Failure::check(Vec::new(), "expected bytes; nothing arrived")
                        .with_diff(hex::encode(&want), "nothing"),
                ),
            };
        }
        Err(Failure::infra(
            "expect: an MQTT expect needs `packet` or `bytes`",
        ))
    }

    async fn disconnect(&mut self, _spec: &[String], deadline: Instant) -> Result<(), Failure> {
        self.send_packet(Packet::Disconnect(Default::default()), deadline)
            .await?;
        self.link.close(deadline).await;
        // The server may still deliver what was in flight; only the end of the connection counts.
        loop {
            match self.link.recv(deadline).await {
                Recv::Message(_) => continue,
                Recv::Ended(_) | Recv::Timeout => return Ok(()),
            }
        }
    }

    async fn next(&mut self, deadline: Instant) -> Next {
        loop {
            let recv = self.link.recv(deadline).await;
            // A server may say why before it closes: a 5.0 DISCONNECT (MQTT-4.13.1-1 and the
            // reason codes of 3.14.2.1), or a CONNACK that refuses the CONNECT (3.1.1: a
            // non-zero return code, then the close, MQTT-3.2.2-5; 5.0: reason 0x80 or more,
            // section 4.13.1). The transcript keeps it and the end that follows is what counts;
            // a case that cares about the reason expects that packet itself.
            if let Recv::Message(m) = &recv
                && let Some(p) = &m.message
                && self.announces_close(p)
            {
                if refuses_credentials(p) && self.link.codec_mut().connected_without_credentials {
                    // The close that follows says nothing about what the case sent: the server
                    // wants a login first. A pass here would be a false pass.
                    return Next::SetupRefused(format!(
                        "set-up: the server refused a CONNECT without credentials ({}); this \
                         case's check needs a server that lets it connect without them",
                        m.data.summary
                    ));
                }
                continue;
            }
            return next_of(recv);
        }
    }

    fn take_violations(&mut self) -> Vec<Violation> {
        self.link.take_violations()
    }

    fn abort(&mut self) {
        self.link.abort();
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 5.0 statement id of a rule (the table is the one place that spells ids).
    fn rule_id(rule: Rule) -> String {
        rule.id(Version::V5).expect("a 5.0 rule").to_string()
    }

    /// A 5.0 codec that has sent a CONNECT with these properties.
    fn codec_after_connect(props: Value) -> MqttCodec {
        let mut codec = MqttCodec::new(Version::V5);
        let connect = packet_from_value(&json!({
            "type": "connect", "protocol_level": 5, "client_id": "c", "clean_session": true,
            "keep_alive": 60, "properties": props
        }))
        .expect("connect");
        codec.note_sent(&connect);
        codec
    }

    /// Feeds one server packet, given as case data, and returns the ids of its violations.
    fn from_server(codec: &mut MqttCodec, packet: Value) -> Vec<String> {
        let packet = packet_from_value(&packet).expect("packet");
        let bytes = encode(&packet, Version::V5).expect("encodes");
        codec.feed(Incoming::Bytes(bytes));
        let inbound = codec.decode().expect("one packet");
        inbound.violations.into_iter().map(|v| v.spec).collect()
    }

    fn sent(codec: &mut MqttCodec, packet: Value) {
        codec.note_sent(&packet_from_value(&packet).expect("packet"));
    }

    #[test]
    fn a_new_publish_reusing_an_unacknowledged_id_is_flagged() {
        let mut c = codec_after_connect(json!({}));
        let publish = |id: u16, qos: u8| json!({"type": "publish", "qos": qos, "id": id, "topic": "t", "payload": "x"});
        assert!(from_server(&mut c, publish(1, 1)).is_empty());
        assert_eq!(
            from_server(&mut c, publish(1, 1)),
            [rule_id(Rule::PublishIdInUseQos1)]
        );
        sent(&mut c, json!({"type": "puback", "id": 1}));
        assert!(
            from_server(&mut c, publish(1, 1)).is_empty(),
            "free again after PUBACK"
        );
        sent(&mut c, json!({"type": "puback", "id": 1}));
        assert!(from_server(&mut c, publish(2, 2)).is_empty());
        sent(&mut c, json!({"type": "pubrec", "id": 2}));
        assert_eq!(
            from_server(&mut c, publish(2, 2)),
            [rule_id(Rule::PublishIdInUseQos2)],
            "in use until PUBCOMP"
        );
        // a re-sent PUBLISH (DUP 1) is not a new message
        let dup = json!({"type": "publish", "dup": true, "qos": 2, "id": 2, "topic": "t", "payload": "x"});
        assert!(from_server(&mut c, dup).is_empty());
    }

    #[test]
    fn an_oversize_acknowledgement_names_the_property_that_took_it_past_the_limit() {
        let mut c = codec_after_connect(json!({"maximum_packet_size": 20}));
        let long = "r".repeat(30);
        let puback = json!({"type": "puback", "id": 1, "reason": "success", "properties": {"reason_string": long}});
        assert_eq!(
            from_server(&mut c, puback),
            [rule_id(Rule::PubackReasonStringOversize)]
        );
        let suback = json!({"type": "suback", "id": 1, "reasons": ["granted_qos_0"],
            "properties": {"user_properties": [{"name": "n", "value": long}]}});
        assert_eq!(
            from_server(&mut c, suback),
            [rule_id(Rule::SubackUserPropertyOversize)]
        );
        let publish = json!({"type": "publish", "topic": long, "payload": "x"});
        assert_eq!(
            from_server(&mut c, publish),
            [rule_id(Rule::PacketAboveMaximumSize)]
        );
        let small = json!({"type": "puback", "id": 2, "reason": "success", "properties": {"reason_string": "ok"}});
        assert!(from_server(&mut c, small).is_empty());
    }

    #[test]
    fn an_ack_echoing_the_clients_id_0_is_not_flagged() {
        let mut c = MqttCodec::new(Version::V311);
        let puback = || json!({"type": "puback", "id": 0});
        let flagged = |c: &mut MqttCodec| {
            let bytes = encode(&packet_from_value(&puback()).unwrap(), Version::V311).unwrap();
            c.feed(Incoming::Bytes(bytes));
            c.decode().expect("packet").violations.len()
        };
        assert_eq!(
            flagged(&mut c),
            1,
            "an id-0 PUBACK out of the blue breaks the same-id rule"
        );
        // PUBLISH QoS 1, topic "wc/bad", packet id 0, as mqtt311.publish.packet-id-zero sends it
        c.note_sent_bytes(&[
            0x32, 0x0b, 0, 6, b'w', b'c', b'/', b'b', b'a', b'd', 0, 0, b'x',
        ]);
        assert_eq!(flagged(&mut c), 0);
    }

    #[test]
    fn connack_properties_are_judged_against_the_connect() {
        let connack =
            |props: Value| json!({"type": "connack", "reason": "success", "properties": props});
        let mut c = codec_after_connect(json!({}));
        assert_eq!(
            from_server(&mut c, connack(json!({"response_information": "r"}))),
            [rule_id(Rule::ResponseInformationUnrequested)]
        );
        let mut c = codec_after_connect(json!({"request_response_information": 1}));
        assert!(from_server(&mut c, connack(json!({"response_information": "r"}))).is_empty());
        let mut c = codec_after_connect(json!({}));
        assert_eq!(
            from_server(&mut c, connack(json!({"authentication_method": "m"}))),
            [rule_id(Rule::AuthWithoutMethod)]
        );
        let mut c = codec_after_connect(json!({}));
        assert_eq!(
            from_server(
                &mut c,
                json!({"type": "auth", "reason": "continue_authentication"})
            ),
            [rule_id(Rule::AuthWithoutMethod)]
        );
        let mut c = codec_after_connect(json!({"authentication_method": "m"}));
        assert_eq!(
            from_server(&mut c, connack(json!({}))),
            [rule_id(Rule::AuthMethodSame)]
        );
        let mut c = codec_after_connect(json!({"authentication_method": "m"}));
        assert!(from_server(&mut c, connack(json!({"authentication_method": "m"}))).is_empty());
    }
}
