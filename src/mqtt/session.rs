//! An MQTT client connection for one actor: sends case packets, decodes the server's packets
//! strictly (violations become failures), runs the `connect` macro and the polite disconnect.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::case::matching::match_value;
use crate::case::model::{ConnectStep, ExpectStep, FromActor, SendStep};
use crate::case::validate::parse_hex;
use crate::mqtt::codec::{DecodeError, Decoded, Decoder, Direction, encode};
use crate::mqtt::template::{normalize_pattern, packet_from_value};
use crate::mqtt::{Packet, Version};
use crate::run::actor::{Next, open_channel, send_failure, send_raw};
use crate::run::transcript::Recorder;
use crate::run::verdict::Failure;
use crate::transport::{Channel, Closed, ConnectOptions, Endpoint, Received};
use crate::vars::Vars;
use crate::violation::Violation;

/// Largest packet accepted from a server.
pub const MAX_PACKET: usize = 1 << 20;

/// Statement a CONNACK as first packet verifies.
const CONNACK_FIRST: &str = "MQTT-3.2.0-1";
/// Statement: session present is 0 after a clean-session CONNECT.
const CLEAN_SESSION_PRESENT: &str = "MQTT-3.2.2-1";
/// Statement: the server selects the `mqtt` WebSocket subprotocol.
const WS_SUBPROTOCOL: &str = "MQTT-6.0.0-4";
/// Statement: MQTT rides in binary WebSocket frames.
const WS_BINARY: &str = "MQTT-6.0.0-1";

/// What a read produced.
enum Read {
    Packet(Box<Decoded>),
    Malformed(Violation, Vec<u8>),
    Closed(Closed),
    Timeout,
}

/// One actor's MQTT connection.
pub struct MqttSession {
    channel: Channel,
    decoder: Decoder,
    rec: Recorder,
    client_id: String,
    version: Version,
    violations: Vec<Violation>,
    retained: BTreeSet<String>,
    broken: bool,
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
    let v = redact(serde_json::to_value(packet).unwrap_or(Value::Null));
    let ty = v
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_uppercase();
    let mut rest = v;
    if let Value::Object(m) = &mut rest {
        m.remove("type");
    }
    format!("{ty} {rest}")
}

impl MqttSession {
    /// Opens the transport (offering subprotocol `mqtt` on WebSocket).
    pub async fn open(
        endpoint: &Endpoint,
        opts: &ConnectOptions,
        rec: Recorder,
        client_id: String,
    ) -> Result<MqttSession, Failure> {
        let (channel, violations) =
            open_channel(endpoint, opts, &rec, "mqtt", WS_SUBPROTOCOL).await?;
        Ok(MqttSession {
            channel,
            decoder: Decoder::new(Version::V311, Direction::ServerToClient, MAX_PACKET),
            rec,
            client_id,
            version: Version::V311,
            violations,
            retained: BTreeSet::new(),
            broken: false,
        })
    }

    /// Topics this actor left a retained message on.
    pub fn retained_topics(&self) -> Vec<String> {
        self.retained.iter().cloned().collect()
    }

    /// Violations seen since the last call.
    pub fn take_violations(&mut self) -> Vec<Violation> {
        std::mem::take(&mut self.violations)
    }

    /// Drops the connection.
    pub fn abort(&mut self) {
        self.channel.abort();
    }

    async fn send_packet(&mut self, packet: &Packet) -> Result<(), Failure> {
        let bytes = encode(packet, self.version)
            .map_err(|e| Failure::infra(format!("cannot encode {}: {e}", summarize(packet))))?;
        self.rec.sent(summarize(packet), None);
        if let Packet::Publish(p) = packet
            && p.retain
        {
            if p.payload.is_empty() {
                self.retained.remove(&p.topic);
            } else {
                self.retained.insert(p.topic.clone());
            }
        }
        self.channel
            .send_bytes(&bytes)
            .await
            .map_err(|e| send_failure(&self.rec, e))
    }

    /// Sends one message of a `send` step.
    pub async fn send(&mut self, step: &SendStep, vars: &Vars) -> Result<(), Failure> {
        if let Some(p) = &step.packet {
            let value = vars
                .interpolate_value(p)
                .map_err(|e| Failure::infra(format!("send: {e}")))?;
            let packet = packet_from_value(&value)
                .map_err(|e| Failure::infra(format!("send: field `packet`: {e}")))?;
            return self.send_packet(&packet).await;
        }
        send_raw(&mut self.channel, &self.rec, step, vars)
            .await
            .unwrap_or_else(|| Err(Failure::infra("send: nothing to send")))
    }

    async fn read(&mut self, deadline: Instant) -> Read {
        if self.broken {
            return Read::Closed(Closed::Reset(
                "stream unusable after a malformed packet".into(),
            ));
        }
        loop {
            match self.decoder.next() {
                Ok(Some(d)) => {
                    if d.violations.is_empty() {
                        self.rec.received(summarize(&d.packet), None);
                    } else {
                        self.rec.received(summarize(&d.packet), Some(d.raw.clone()));
                    }
                    self.violations.extend(d.violations.iter().cloned());
                    return Read::Packet(Box::new(d));
                }
                Ok(None) => {}
                Err(DecodeError::Malformed { violation, raw }) => {
                    self.broken = true;
                    self.rec
                        .received(format!("malformed packet: {violation}"), Some(raw.clone()));
                    self.violations.push(violation.clone());
                    return Read::Malformed(violation, raw);
                }
                Err(e) => {
                    self.broken = true;
                    let v = Violation::new("MQTT-4.8.0-1", e.to_string());
                    self.rec.received(format!("undecodable: {e}"), None);
                    self.violations.push(v.clone());
                    return Read::Malformed(v, Vec::new());
                }
            }
            let got = match tokio::time::timeout_at(deadline, self.channel.recv()).await {
                Err(_) => return Read::Timeout,
                Ok(r) => r,
            };
            match got {
                Received::Bytes(b) | Received::Binary(b) => self.decoder.push(&b),
                Received::Text(t) => {
                    self.violations.push(Violation::new(
                        WS_BINARY,
                        "the server sent MQTT data in a WebSocket text frame",
                    ));
                    self.decoder.push(t.as_bytes());
                }
                Received::Closed(c) => {
                    self.rec.event(c.to_string());
                    return Read::Closed(c);
                }
            }
        }
    }

    /// Reads whatever comes next.
    pub async fn next(&mut self, deadline: Instant) -> Next {
        match self.read(deadline).await {
            Read::Packet(d) => Next::Message(summarize(&d.packet)),
            Read::Malformed(v, _) => Next::Message(format!("malformed packet: {v}")),
            Read::Closed(c) => Next::Closed(c),
            Read::Timeout => Next::Timeout,
        }
    }

    /// Reads the next packet and matches it against a pattern.
    async fn expect_value(
        &mut self,
        pattern: &Value,
        exact: bool,
        vars: &mut Vars,
        deadline: Instant,
        spec: &[String],
    ) -> Result<Decoded, Failure> {
        let waited = deadline.saturating_duration_since(Instant::now());
        let shown = redact(pattern.clone()).to_string();
        match self.read(deadline).await {
            Read::Packet(d) => {
                let actual = serde_json::to_value(&d.packet)
                    .map_err(|e| Failure::infra(format!("internal: {e}")))?;
                match match_value(&normalize_pattern(pattern), &actual, vars, exact) {
                    Ok(()) => Ok(*d),
                    Err(m) => Err(Failure::check(spec.to_vec(), format!("packet differs {m}"))
                        .with_diff(shown, summarize(&d.packet))),
                }
            }
            Read::Malformed(v, raw) => Err(Failure::check(
                spec.to_vec(),
                format!("expected a packet, got a malformed one: {v}"),
            )
            .with_diff(shown, hex::encode(raw))),
            Read::Closed(c) => Err(Failure::check(
                spec.to_vec(),
                "expected a packet, but the connection ended",
            )
            .with_diff(shown, c.to_string())),
            Read::Timeout => Err(Failure::check(
                spec.to_vec(),
                format!(
                    "expected a packet within {:.1}s; nothing arrived",
                    waited.as_secs_f64()
                ),
            )
            .with_diff(shown, "nothing")),
        }
    }

    /// Runs an `expect` step.
    pub async fn expect(
        &mut self,
        step: &ExpectStep,
        vars: &mut Vars,
        deadline: Instant,
    ) -> Result<(), Failure> {
        if let Some(p) = &step.packet {
            return self
                .expect_value(p, step.exact, vars, deadline, &step.spec)
                .await
                .map(|_| ());
        }
        if let Some(h) = &step.bytes {
            let want = parse_hex(h).map_err(Failure::infra)?;
            return match self.read(deadline).await {
                Read::Packet(d) if d.raw == want => Ok(()),
                Read::Packet(d) => Err(Failure::check(step.spec.clone(), "bytes differ")
                    .with_diff(hex::encode(&want), hex::encode(&d.raw))),
                Read::Malformed(_, raw) if raw == want => Ok(()),
                Read::Malformed(v, raw) => Err(Failure::check(
                    step.spec.clone(),
                    format!("bytes differ (malformed: {v})"),
                )
                .with_diff(hex::encode(&want), hex::encode(raw))),
                Read::Closed(c) => Err(Failure::check(
                    step.spec.clone(),
                    "expected bytes, but the connection ended",
                )
                .with_diff(hex::encode(&want), c.to_string())),
                Read::Timeout => Err(Failure::check(
                    step.spec.clone(),
                    "expected bytes; nothing arrived",
                )
                .with_diff(hex::encode(&want), "nothing")),
            };
        }
        Err(Failure::infra(
            "expect: an MQTT expect needs `packet` or `bytes`",
        ))
    }

    /// The `connect` macro: CONNECT with the step's options, then the expected CONNACK.
    pub async fn connect_macro(
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
            "client_id": client_id,
            "clean_session": clean,
            "keep_alive": step.keep_alive.unwrap_or(60),
        });
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
        self.send_packet(&packet).await?;
        let (pattern, spec) = match &step.expect {
            Some(p) => (p.clone(), step.spec.clone()),
            None => {
                let mut spec = vec![CONNACK_FIRST.to_string()];
                let mut p = json!({"type": "connack", "code": "accepted"});
                if clean {
                    p["session_present"] = json!(false);
                    spec.push(CLEAN_SESSION_PRESENT.into());
                }
                if !step.spec.is_empty() {
                    spec = step.spec.clone();
                }
                (p, spec)
            }
        };
        self.expect_value(&pattern, false, vars, deadline, &spec)
            .await
            .map(|_| ())
    }

    /// DISCONNECT, then close; the server must not answer with anything.
    pub async fn disconnect(&mut self, deadline: Instant) -> Result<(), Failure> {
        self.send_packet(&disconnect_packet()).await?;
        let _ = self.channel.close().await;
        match self.read(deadline).await {
            Read::Closed(_) | Read::Timeout => Ok(()),
            Read::Packet(d) => Err(Failure::check(
                vec!["MQTT-3.14.4-1".into()],
                "after DISCONNECT the server sent another packet",
            )
            .with_actual(summarize(&d.packet))),
            Read::Malformed(v, _) => Err(Failure::check(
                vec![v.spec.clone()],
                format!("after DISCONNECT the server sent a malformed packet: {v}"),
            )),
        }
    }

    /// Clears retained messages left on `topics` with a short-lived connection of its own.
    pub async fn clear_retained(
        endpoint: &Endpoint,
        opts: &ConnectOptions,
        rec: Recorder,
        client_id: String,
        topics: &[String],
        deadline: Instant,
    ) -> Result<(), Failure> {
        let mut s = MqttSession::open(endpoint, opts, rec, client_id).await?;
        let step = ConnectStep::from_actor("cleanup".into());
        let mut vars = Vars::new();
        s.connect_macro(&step, &mut vars, deadline).await?;
        for (i, topic) in topics.iter().enumerate() {
            let id = (i % 60_000) as u16 + 1;
            let clear = packet_from_value(&json!({
                "type": "publish", "qos": 1, "retain": true, "topic": topic, "id": id, "payload": ""
            }))
            .map_err(Failure::infra)?;
            s.send_packet(&clear).await?;
            s.expect_value(
                &json!({"type": "puback", "id": id}),
                false,
                &mut vars,
                deadline,
                &[],
            )
            .await?;
        }
        s.disconnect(deadline).await
    }
}

fn disconnect_packet() -> Packet {
    Packet::Disconnect {}
}
