//! MQTT for the fuzzer: packet mutators for 3.1.1 and 5.0 (fixed-header flags, QoS, packet
//! type, packet ids, remaining length, properties (5.0) and strings, each applied to one encoded
//! packet), the wire form of a case's packets, and the liveness probe (CONNECT, CONNACK).

use async_trait::async_trait;
use rand::{Rng, RngCore};
use serde_json::Value;
use tokio::time::Instant;

use super::session::probe_link;
use crate::mqtt::properties::{DataType, kind_of};
use crate::mqtt::template::packet_from_value;
use crate::mqtt::{
    Connect, Disconnect, Packet, Version, encode, put_remaining_length, read_varint,
};
use crate::seam::{Framing, Fuzzing, ProbeError, Recv, Wire, connect_by};
use crate::target::Target;
use crate::transport::{ConnectOptions, Endpoint};

/// The MQTT field mutators, by name.
pub const MUTATORS: &[&str] = &[
    "flags",
    "qos",
    "packet-type",
    "packet-id",
    "length-zero",
    "length-truncated",
    "length-overlong",
    "length-overflow",
    "length-non-minimal",
    "property-duplicate",
    "property-unknown",
    "property-retype",
    "string-invalid-utf8",
    "string-nul",
    "string-wildcard",
];

/// A packet split into its first byte and its body (the remaining length is re-encoded).
struct Split {
    first: u8,
    body: Vec<u8>,
}

fn split(b: &[u8]) -> Option<Split> {
    let mut at = 1;
    let len = read_varint(b, &mut at)?;
    let body = b.get(at..at + len)?.to_vec();
    Some(Split { first: b[0], body })
}

fn join(s: &Split) -> Vec<u8> {
    let mut out = vec![s.first];
    put_remaining_length(&mut out, s.body.len());
    out.extend_from_slice(&s.body);
    out
}

/// The packet type name of an encoded packet's first byte.
pub fn type_name(first: u8) -> &'static str {
    crate::mqtt::PacketType::from_nibble(first >> 4)
        .map(|t| t.name())
        .unwrap_or("reserved")
}

/// Offset in the body of the packet id, if this packet has one.
fn packet_id_offset(s: &Split) -> Option<usize> {
    match s.first >> 4 {
        3 => {
            let qos = (s.first >> 1) & 3;
            let n = usize::from(u16::from_be_bytes([*s.body.first()?, *s.body.get(1)?]));
            (qos > 0).then_some(2 + n)
        }
        4..=11 => Some(0),
        _ => None,
    }
    .filter(|&o| o + 2 <= s.body.len())
}

/// Offset in the body of the property length (5.0), if this packet has properties there.
fn properties_offset(s: &Split) -> Option<usize> {
    let off = match s.first >> 4 {
        1 => 10,
        3 => {
            let n = usize::from(u16::from_be_bytes([*s.body.first()?, *s.body.get(1)?]));
            2 + n + if (s.first >> 1) & 3 > 0 { 2 } else { 0 }
        }
        8 | 10 => 2,
        4..=7 | 11 => 3,
        14 | 15 => 1,
        _ => return None,
    };
    (off < s.body.len()).then_some(off)
}

/// The properties at `off`: (start, end) of the list and each property's (start, end).
/// A property list: start and end of its content, and each property's byte span.
type PropertySpans = (usize, usize, Vec<(usize, usize)>);

fn walk_properties(body: &[u8], off: usize) -> Option<PropertySpans> {
    let mut at = off;
    let len = read_varint(body, &mut at)?;
    let start = at;
    let end = start + len;
    if end > body.len() {
        return None;
    }
    let mut props = Vec::new();
    while at < end {
        let p = at;
        let kind = kind_of(body[at])?;
        at += 1;
        match kind.data_type {
            DataType::Byte => at += 1,
            DataType::TwoByteInt => at += 2,
            DataType::FourByteInt => at += 4,
            DataType::VarInt => {
                read_varint(body, &mut at)?;
            }
            DataType::Utf8 | DataType::Binary => {
                let n = body.get(at..at + 2)?;
                at += 2 + usize::from(u16::from_be_bytes([n[0], n[1]]));
            }
            DataType::Utf8Pair => {
                for _ in 0..2 {
                    let n = body.get(at..at + 2)?;
                    at += 2 + usize::from(u16::from_be_bytes([n[0], n[1]]));
                }
            }
        }
        if at > end {
            return None;
        }
        props.push((p, at));
    }
    Some((start, end, props))
}

/// Replaces the property list at `off` (whose content is `start..end`) with `list`.
fn set_properties(s: &mut Split, off: usize, end: usize, list: Vec<u8>) {
    let mut new = Vec::new();
    put_remaining_length(&mut new, list.len());
    new.extend(list);
    s.body.splice(off..end, new);
}

/// Offset of the first string field worth corrupting: PUBLISH topic, CONNECT client id,
/// first SUBSCRIBE/UNSUBSCRIBE filter.
fn string_offset(s: &Split, version: Version) -> Option<usize> {
    let after_props = |s: &Split, off: usize| -> Option<usize> {
        if version == Version::V5 {
            walk_properties(&s.body, off).map(|(_, end, _)| end)
        } else {
            Some(off)
        }
    };
    let off = match s.first >> 4 {
        3 => 0,
        1 => after_props(s, 10)?,
        8 | 10 => after_props(s, 2)?,
        _ => return None,
    };
    let n = usize::from(u16::from_be_bytes([
        *s.body.get(off)?,
        *s.body.get(off + 1)?,
    ]));
    (n > 0 && off + 2 + n <= s.body.len()).then_some(off)
}

/// Applies mutator `name` to one encoded packet; None when it does not apply to this packet.
pub fn apply(
    name: &str,
    packet: &[u8],
    version: Version,
    rng: &mut dyn RngCore,
) -> Option<Vec<u8>> {
    let mut s = split(packet)?;
    match name {
        "flags" => s.first ^= 1 << rng.random_range(0..4),
        "qos" => s.first = (s.first & !0x06) | (rng.random_range(0..4u8) << 1),
        "packet-type" => {
            let t = loop {
                let t = rng.random_range(0..16u8);
                if t != s.first >> 4 {
                    break t;
                }
            };
            s.first = (t << 4) | (s.first & 0x0f);
        }
        "packet-id" => {
            let o = packet_id_offset(&s)?;
            let id: u16 = [0, 0xffff, 1, rng.random()][rng.random_range(0..4)];
            s.body[o..o + 2].copy_from_slice(&id.to_be_bytes());
        }
        "length-zero" => {
            let mut out = vec![s.first, 0];
            out.extend(&s.body);
            return Some(out);
        }
        "length-truncated" if !s.body.is_empty() => {
            let n = rng.random_range(0..s.body.len());
            let mut out = vec![s.first];
            put_remaining_length(&mut out, n);
            out.extend(&s.body);
            return Some(out);
        }
        "length-overlong" => {
            let mut out = vec![s.first];
            put_remaining_length(&mut out, s.body.len() + rng.random_range(1..=64));
            out.extend(&s.body);
            return Some(out);
        }
        "length-overflow" => {
            let mut out = vec![s.first, 0xff, 0xff, 0xff, 0xff, 0x7f];
            out.extend(&s.body);
            return Some(out);
        }
        "length-non-minimal" => {
            let n = s.body.len();
            let mut out = vec![
                s.first,
                (n & 0x7f) as u8 | 0x80,
                ((n >> 7) & 0x7f) as u8 | 0x80,
                ((n >> 14) & 0x7f) as u8 | 0x80,
                ((n >> 21) & 0x7f) as u8,
            ];
            out.extend(&s.body);
            return Some(out);
        }
        "property-duplicate" | "property-unknown" | "property-retype" => {
            if version != Version::V5 {
                return None;
            }
            let off = properties_offset(&s)?;
            let (start, end, props) = walk_properties(&s.body, off)?;
            let mut list = s.body[start..end].to_vec();
            match name {
                "property-duplicate" => {
                    if props.is_empty() {
                        return None;
                    }
                    let (a, b) = props[rng.random_range(0..props.len())];
                    let copy = s.body[a..b].to_vec();
                    let at = b - start;
                    list.splice(at..at, copy);
                }
                "property-unknown" => {
                    let id = loop {
                        let id: u8 = rng.random();
                        if kind_of(id).is_none() {
                            break id;
                        }
                    };
                    list.push(id);
                    list.extend((0..rng.random_range(0..4)).map(|_| rng.random::<u8>()));
                }
                _ => {
                    if props.is_empty() {
                        return None;
                    }
                    let (a, _) = props[rng.random_range(0..props.len())];
                    list[a - start] =
                        [0x01, 0x02, 0x0b, 0x11, 0x21, 0x26, 0x27][rng.random_range(0..7)];
                }
            }
            set_properties(&mut s, off, end, list);
        }
        "string-invalid-utf8" | "string-nul" | "string-wildcard" => {
            let off = string_offset(&s, version)?;
            let n = usize::from(u16::from_be_bytes([s.body[off], s.body[off + 1]]));
            let at = off + 2 + rng.random_range(0..n);
            match name {
                "string-invalid-utf8" => {
                    let bad: &[u8] =
                        [&[0xff][..], &[0xc0, 0x80], &[0xed, 0xa0, 0x80]][rng.random_range(0..3)];
                    s.body[at] = bad[0];
                    s.body.splice(at + 1..at + 1, bad[1..].iter().copied());
                    let len = (n + bad.len() - 1) as u16;
                    s.body[off..off + 2].copy_from_slice(&len.to_be_bytes());
                }
                "string-nul" => s.body[at] = 0,
                _ => s.body[at] = [b'#', b'+'][rng.random_range(0..2)],
            }
        }
        _ => return None,
    }
    Some(join(&s))
}

/// The MQTT side of the fuzzer, for cases of one version.
pub struct MqttFuzzing {
    version: Version,
}

impl MqttFuzzing {
    /// The fuzzing of cases whose `version:` is `version` (3.1.1 unless it says 5.0).
    pub fn new(version: Option<&str>) -> Self {
        Self {
            version: version
                .and_then(|v| v.parse().ok())
                .unwrap_or(Version::V311),
        }
    }
}

#[async_trait]
impl Fuzzing for MqttFuzzing {
    fn mutators(&self) -> &'static [&'static str] {
        MUTATORS
    }

    /// MQTT is a byte stream on every transport (several packets may share one WebSocket
    /// message).
    fn framing(&self) -> Framing {
        Framing::Stream
    }

    fn encode(&self, data: &Value) -> Option<(Wire, String)> {
        let p = packet_from_value(data).ok()?;
        let b = encode(&p, self.version).ok()?;
        let kind = type_name(b[0]).to_string();
        Some((Wire::Bytes(b), kind))
    }

    fn kind_of(&self, _data: &Value, wire: &Wire) -> String {
        match wire {
            Wire::Bytes(b) => self.kind_of_bytes(b),
            Wire::Text(_) => "text".into(),
        }
    }

    fn kind_of_bytes(&self, bytes: &[u8]) -> String {
        bytes.first().map_or("bytes", |f| type_name(*f)).to_string()
    }

    fn mutate(&self, name: &str, wire: &Wire, rng: &mut dyn RngCore) -> Option<Vec<u8>> {
        match wire {
            Wire::Bytes(b) => apply(name, b, self.version, rng),
            Wire::Text(_) => None,
        }
    }

    async fn probe(
        &self,
        target: &Target,
        connect: &ConnectOptions,
        deadline: Instant,
    ) -> Result<(), ProbeError> {
        let mqtt = target.mqtt.as_ref().ok_or(ProbeError::NoEndpoint("MQTT"))?;
        live(&mqtt.endpoint, connect, deadline).await
    }
}

/// The client id of the liveness probe.
const PROBE_CLIENT_ID: &str = "wirecheck-fuzz-probe";

/// The liveness probe's CONNECT: 3.1.1, clean session, keep-alive 30 s, no credentials.
fn probe_connect() -> Packet {
    Packet::Connect(Connect {
        client_id: PROBE_CLIENT_ID.into(),
        keep_alive: 30,
        ..Connect::default()
    })
}

/// The liveness probe: a 3.1.1 CONNECT over the endpoint's transport must get a CONNACK (any
/// return code: a refusal is an answer too); then DISCONNECT.
async fn live(
    endpoint: &Endpoint,
    connect: &ConnectOptions,
    deadline: Instant,
) -> Result<(), ProbeError> {
    let mut link = probe_link(endpoint, &connect_by(connect, deadline), Version::V311)
        .await
        .map_err(|f| ProbeError::Connect(f.message))?;
    let answer = match link.send(probe_connect(), deadline).await {
        Err(f) => Err(ProbeError::Session(format!("write: {}", f.message))),
        Ok(()) => match link.recv(deadline).await {
            Recv::Message(m)
                if matches!(m.message, Some(Packet::Connack(_)))
                    || m.raw.first() == Some(&0x20) =>
            {
                Ok(())
            }
            Recv::Message(m) => Err(ProbeError::Session(format!(
                "answered {} instead of CONNACK",
                m.data.summary
            ))),
            Recv::Ended(e) => Err(ProbeError::Session(format!(
                "no CONNACK: the connection ended ({e})"
            ))),
            Recv::Timeout => Err(ProbeError::Session("no CONNACK before the deadline".into())),
        },
    };
    if answer.is_ok() {
        let _ = link
            .send(Packet::Disconnect(Disconnect::default()), deadline)
            .await;
        link.close(deadline).await;
    }
    link.abort();
    answer
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// SUBSCRIBE id 1, properties: Subscription Identifier 5, filter "a/b" QoS 1.
    const SUB5: [u8; 12] = [
        0x82, 0x0a, 0x00, 0x01, 0x02, 0x0b, 0x05, 0x00, 0x03, b'a', b'/', b'b',
    ];

    #[test]
    fn the_probe_connect_is_the_one_the_fuzzer_always_sent() {
        let id = b"wirecheck-fuzz-probe";
        let mut old = vec![
            0x10,
            12 + id.len() as u8,
            0,
            4,
            b'M',
            b'Q',
            b'T',
            b'T',
            4,
            2,
            0,
            30,
        ];
        old.extend([0, id.len() as u8]);
        old.extend(id);
        assert_eq!(encode(&probe_connect(), Version::V311).unwrap(), old);
    }

    async fn probe(target: &str, deadline: std::time::Duration) -> Result<(), ProbeError> {
        let target = Target::resolve(Some(target), &Default::default())
            .await
            .unwrap();
        let until = Instant::now() + deadline;
        MqttFuzzing::new(None)
            .probe(&target, &ConnectOptions::default(), until)
            .await
    }

    #[tokio::test]
    async fn the_probe_gets_a_connack_over_tcp_and_websocket() {
        let two = std::time::Duration::from_secs(2);
        assert_eq!(probe("builtin", two).await, Ok(()));
        assert_eq!(probe("builtin:ws", two).await, Ok(()));
    }

    #[tokio::test]
    async fn the_probe_fails_against_a_server_that_says_nothing() {
        let (port, task) = crate::seam::mutate::silent_listener().await;
        let short = std::time::Duration::from_millis(300);
        let tcp = probe(&format!("mqtt://127.0.0.1:{port}"), short).await;
        assert!(matches!(tcp, Err(ProbeError::Session(_))), "{tcp:?}");
        // Over WebSocket the handshake gets no answer: the connection is not made in time.
        let ws = probe(&format!("ws://127.0.0.1:{port}/mqtt"), short).await;
        assert!(matches!(ws, Err(ProbeError::Connect(_))), "{ws:?}");
        task.abort();
    }

    #[test]
    fn duplicates_a_property_and_fixes_both_lengths() {
        let mut sub = SUB5.to_vec();
        sub.push(0x01);
        sub[1] = 0x0b;
        let mut rng = StdRng::seed_from_u64(1);
        let out = apply("property-duplicate", &sub, Version::V5, &mut rng).unwrap();
        assert_eq!(
            out,
            [
                0x82, 0x0d, 0x00, 0x01, 0x04, 0x0b, 0x05, 0x0b, 0x05, 0x00, 0x03, b'a', b'/', b'b',
                0x01
            ]
        );
    }

    #[test]
    fn length_and_id_mutators_edit_the_expected_bytes() {
        let mut sub = SUB5.to_vec();
        sub.push(0x01);
        sub[1] = 0x0b;
        let mut rng = StdRng::seed_from_u64(2);
        let zero = apply("length-zero", &sub, Version::V5, &mut rng).unwrap();
        assert_eq!(&zero[..2], &[0x82, 0x00]);
        let overflow = apply("length-overflow", &sub, Version::V5, &mut rng).unwrap();
        assert_eq!(&overflow[1..6], &[0xff, 0xff, 0xff, 0xff, 0x7f]);
        let id = apply("packet-id", &sub, Version::V5, &mut rng).unwrap();
        assert_eq!(id.len(), sub.len());
        assert_eq!(&id[4..], &sub[4..]);
        // 3.1.1 packets have no properties.
        assert!(apply("property-duplicate", &sub, Version::V311, &mut rng).is_none());
    }

    #[test]
    fn corrupts_the_publish_topic_with_a_wildcard() {
        // PUBLISH QoS 0 topic "t/x" payload "p".
        let publish = [0x30, 0x06, 0x00, 0x03, b't', b'/', b'x', b'p'];
        let mut rng = StdRng::seed_from_u64(3);
        let out = apply("string-wildcard", &publish, Version::V311, &mut rng).unwrap();
        assert_eq!(out.len(), publish.len());
        assert!(out[4..7].iter().any(|b| *b == b'#' || *b == b'+'));
    }
}
