//! MQTT 5.0 properties: each property's identifier, data type and the packets it may appear in,
//! the typed `Properties` model (a map of the present ones in cases and transcripts), and their
//! encoding and strict decoding.

use serde::{Deserialize, Deserializer, Serialize};

use super::Version;
use super::error::EncodeError;
use super::packet::PacketType;
use super::payload::Payload;
use super::rules::Rule;
use super::topic;
use super::wire::{Reader, Vbi, put_prefixed, put_remaining_length, put_u16, text, truncated};
use crate::violation::Violation;

/// The data type of a property value (5.0 section 1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    /// One byte.
    Byte,
    /// Big-endian two-byte integer.
    TwoByteInt,
    /// Big-endian four-byte integer.
    FourByteInt,
    /// Variable byte integer.
    VarInt,
    /// UTF-8 encoded string.
    Utf8,
    /// Binary data (two-byte length prefix).
    Binary,
    /// UTF-8 string pair.
    Utf8Pair,
}

/// Where a property list sits: in a packet's variable header, or in the CONNECT payload's will.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Site {
    /// The properties of a packet of this type.
    Packet(PacketType),
    /// The will properties of a CONNECT payload.
    Will,
}

impl Site {
    /// The site in words (`PUBLISH`, `CONNECT will`).
    pub fn name(self) -> &'static str {
        match self {
            Site::Packet(kind) => kind.name(),
            Site::Will => "CONNECT will",
        }
    }
}

/// One property kind: identifier, snake_case name, data type and the sites it may appear at.
#[derive(Debug, Clone, Copy)]
pub struct PropertyKind {
    /// The identifier byte.
    pub id: u8,
    /// The field name in [`Properties`].
    pub name: &'static str,
    /// The value's data type.
    pub data_type: DataType,
    /// Whether it may appear more than once (user property; subscription identifier in PUBLISH).
    repeatable: bool,
    sites: &'static [Site],
}

impl PropertyKind {
    /// Whether this property may appear at `site`.
    pub fn allowed_at(&self, site: Site) -> bool {
        self.sites.contains(&site)
    }

    /// Whether this property may appear more than once at `site`.
    pub fn repeatable_at(&self, site: Site) -> bool {
        self.repeatable && !(self.id == SUBSCRIPTION_IDENTIFIER && site != Site::Packet(PUBLISH))
    }
}

use PacketType::{
    Auth as AUTH, Connack as CONNACK, Connect as CONNECT, Disconnect as DISCONNECT,
    Puback as PUBACK, Pubcomp as PUBCOMP, Publish as PUBLISH, Pubrec as PUBREC, Pubrel as PUBREL,
    Suback as SUBACK, Subscribe as SUBSCRIBE, Unsuback as UNSUBACK, Unsubscribe as UNSUBSCRIBE,
};

const SUBSCRIPTION_IDENTIFIER: u8 = 0x0b;
const USER_PROPERTY: u8 = 0x26;

const fn p(t: PacketType) -> Site {
    Site::Packet(t)
}

const MESSAGE: &[Site] = &[p(PUBLISH), Site::Will];
const ACKS: &[Site] = &[
    p(CONNACK),
    p(PUBACK),
    p(PUBREC),
    p(PUBREL),
    p(PUBCOMP),
    p(SUBACK),
    p(UNSUBACK),
    p(DISCONNECT),
    p(AUTH),
];
const EVERYWHERE: &[Site] = &[
    p(CONNECT),
    Site::Will,
    p(CONNACK),
    p(PUBLISH),
    p(PUBACK),
    p(PUBREC),
    p(PUBREL),
    p(PUBCOMP),
    p(SUBSCRIBE),
    p(SUBACK),
    p(UNSUBSCRIBE),
    p(UNSUBACK),
    p(DISCONNECT),
    p(AUTH),
];

macro_rules! kind {
    ($id:literal, $name:literal, $ty:ident, $rep:literal, $sites:expr) => {
        PropertyKind {
            id: $id,
            name: $name,
            data_type: DataType::$ty,
            repeatable: $rep,
            sites: $sites,
        }
    };
}

/// Every MQTT 5.0 property (5.0 Table 2-4), in identifier order.
pub const KINDS: &[PropertyKind] = &[
    kind!(0x01, "payload_format_indicator", Byte, false, MESSAGE),
    kind!(0x02, "message_expiry_interval", FourByteInt, false, MESSAGE),
    kind!(0x03, "content_type", Utf8, false, MESSAGE),
    kind!(0x08, "response_topic", Utf8, false, MESSAGE),
    kind!(0x09, "correlation_data", Binary, false, MESSAGE),
    kind!(
        0x0b,
        "subscription_identifier",
        VarInt,
        true,
        &[p(PUBLISH), p(SUBSCRIBE)]
    ),
    kind!(
        0x11,
        "session_expiry_interval",
        FourByteInt,
        false,
        &[p(CONNECT), p(CONNACK), p(DISCONNECT)]
    ),
    kind!(
        0x12,
        "assigned_client_identifier",
        Utf8,
        false,
        &[p(CONNACK)]
    ),
    kind!(0x13, "server_keep_alive", TwoByteInt, false, &[p(CONNACK)]),
    kind!(
        0x15,
        "authentication_method",
        Utf8,
        false,
        &[p(CONNECT), p(CONNACK), p(AUTH)]
    ),
    kind!(
        0x16,
        "authentication_data",
        Binary,
        false,
        &[p(CONNECT), p(CONNACK), p(AUTH)]
    ),
    kind!(
        0x17,
        "request_problem_information",
        Byte,
        false,
        &[p(CONNECT)]
    ),
    kind!(
        0x18,
        "will_delay_interval",
        FourByteInt,
        false,
        &[Site::Will]
    ),
    kind!(
        0x19,
        "request_response_information",
        Byte,
        false,
        &[p(CONNECT)]
    ),
    kind!(0x1a, "response_information", Utf8, false, &[p(CONNACK)]),
    kind!(
        0x1c,
        "server_reference",
        Utf8,
        false,
        &[p(CONNACK), p(DISCONNECT)]
    ),
    kind!(0x1f, "reason_string", Utf8, false, ACKS),
    kind!(
        0x21,
        "receive_maximum",
        TwoByteInt,
        false,
        &[p(CONNECT), p(CONNACK)]
    ),
    kind!(
        0x22,
        "topic_alias_maximum",
        TwoByteInt,
        false,
        &[p(CONNECT), p(CONNACK)]
    ),
    kind!(0x23, "topic_alias", TwoByteInt, false, &[p(PUBLISH)]),
    kind!(0x24, "maximum_qos", Byte, false, &[p(CONNACK)]),
    kind!(0x25, "retain_available", Byte, false, &[p(CONNACK)]),
    kind!(0x26, "user_properties", Utf8Pair, true, EVERYWHERE),
    kind!(
        0x27,
        "maximum_packet_size",
        FourByteInt,
        false,
        &[p(CONNECT), p(CONNACK)]
    ),
    kind!(
        0x28,
        "wildcard_subscription_available",
        Byte,
        false,
        &[p(CONNACK)]
    ),
    kind!(
        0x29,
        "subscription_identifier_available",
        Byte,
        false,
        &[p(CONNACK)]
    ),
    kind!(
        0x2a,
        "shared_subscription_available",
        Byte,
        false,
        &[p(CONNACK)]
    ),
];

/// The property with identifier `id`.
pub fn kind_of(id: u8) -> Option<&'static PropertyKind> {
    KINDS.iter().find(|k| k.id == id)
}

/// One user property: a name/value string pair (their order in a packet is kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserProperty {
    /// The name.
    pub name: String,
    /// The value.
    pub value: String,
}

/// The properties of one packet (or of a will); every field is optional and only present ones
/// are serialized. Bool-like bytes stay bytes so a wrong value (2) can be sent and shown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Properties {
    /// 0x01 Payload Format Indicator (0 bytes, 1 UTF-8).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_format_indicator: Option<u8>,
    /// 0x02 Message Expiry Interval in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_expiry_interval: Option<u32>,
    /// 0x03 Content Type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// 0x08 Response Topic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_topic: Option<String>,
    /// 0x09 Correlation Data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_data: Option<Payload>,
    /// 0x0B Subscription Identifier(s), in order (a single number is accepted when written).
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "one_or_many"
    )]
    pub subscription_identifier: Vec<u32>,
    /// 0x11 Session Expiry Interval in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_expiry_interval: Option<u32>,
    /// 0x12 Assigned Client Identifier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_client_identifier: Option<String>,
    /// 0x13 Server Keep Alive in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_keep_alive: Option<u16>,
    /// 0x15 Authentication Method.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentication_method: Option<String>,
    /// 0x16 Authentication Data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentication_data: Option<Payload>,
    /// 0x17 Request Problem Information (0 or 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_problem_information: Option<u8>,
    /// 0x18 Will Delay Interval in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub will_delay_interval: Option<u32>,
    /// 0x19 Request Response Information (0 or 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_response_information: Option<u8>,
    /// 0x1A Response Information.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_information: Option<String>,
    /// 0x1C Server Reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_reference: Option<String>,
    /// 0x1F Reason String.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_string: Option<String>,
    /// 0x21 Receive Maximum (non-zero).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receive_maximum: Option<u16>,
    /// 0x22 Topic Alias Maximum.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_alias_maximum: Option<u16>,
    /// 0x23 Topic Alias (non-zero).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_alias: Option<u16>,
    /// 0x24 Maximum QoS (0 or 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_qos: Option<u8>,
    /// 0x25 Retain Available (0 or 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retain_available: Option<u8>,
    /// 0x26 User Properties, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub user_properties: Vec<UserProperty>,
    /// 0x27 Maximum Packet Size (non-zero).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_packet_size: Option<u32>,
    /// 0x28 Wildcard Subscription Available (0 or 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wildcard_subscription_available: Option<u8>,
    /// 0x29 Subscription Identifier Available (0 or 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_identifier_available: Option<u8>,
    /// 0x2A Shared Subscription Available (0 or 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_subscription_available: Option<u8>,
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u32>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(u32),
        Many(Vec<u32>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(n) => vec![n],
        OneOrMany::Many(v) => v,
    })
}

/// A decoded property value.
enum Value<'a> {
    Int(u32),
    Text(String),
    Bytes(&'a [u8]),
    Pair(String, String),
}

impl Properties {
    /// Whether no property is present.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Writes the property length and the properties, in identifier order (user properties and
    /// subscription identifiers in their given order), exactly as given whatever the site.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let mut b = Vec::new();
        let byte = |b: &mut Vec<u8>, id: u8, v: Option<u8>| {
            if let Some(v) = v {
                b.extend_from_slice(&[id, v]);
            }
        };
        let two = |b: &mut Vec<u8>, id: u8, v: Option<u16>| {
            if let Some(v) = v {
                b.push(id);
                put_u16(b, v);
            }
        };
        let four = |b: &mut Vec<u8>, id: u8, v: Option<u32>| {
            if let Some(v) = v {
                b.push(id);
                b.extend_from_slice(&v.to_be_bytes());
            }
        };
        let bytes = |b: &mut Vec<u8>, id: u8, v: Option<&[u8]>, f| -> Result<(), EncodeError> {
            if let Some(v) = v {
                b.push(id);
                put_prefixed(b, v, f)?;
            }
            Ok(())
        };
        byte(&mut b, 0x01, self.payload_format_indicator);
        four(&mut b, 0x02, self.message_expiry_interval);
        bytes(
            &mut b,
            0x03,
            self.content_type.as_deref().map(str::as_bytes),
            "content_type",
        )?;
        bytes(
            &mut b,
            0x08,
            self.response_topic.as_deref().map(str::as_bytes),
            "response_topic",
        )?;
        let data = self.correlation_data.as_ref().map(Payload::as_bytes);
        bytes(&mut b, 0x09, data, "correlation_data")?;
        for &id in &self.subscription_identifier {
            if id > 268_435_455 {
                return Err(EncodeError::VarIntRange {
                    field: "subscription_identifier",
                    value: id,
                });
            }
            b.push(SUBSCRIPTION_IDENTIFIER);
            put_remaining_length(&mut b, id as usize);
        }
        four(&mut b, 0x11, self.session_expiry_interval);
        let aci = self
            .assigned_client_identifier
            .as_deref()
            .map(str::as_bytes);
        bytes(&mut b, 0x12, aci, "assigned_client_identifier")?;
        two(&mut b, 0x13, self.server_keep_alive);
        let method = self.authentication_method.as_deref().map(str::as_bytes);
        bytes(&mut b, 0x15, method, "authentication_method")?;
        let data = self.authentication_data.as_ref().map(Payload::as_bytes);
        bytes(&mut b, 0x16, data, "authentication_data")?;
        byte(&mut b, 0x17, self.request_problem_information);
        four(&mut b, 0x18, self.will_delay_interval);
        byte(&mut b, 0x19, self.request_response_information);
        let info = self.response_information.as_deref().map(str::as_bytes);
        bytes(&mut b, 0x1a, info, "response_information")?;
        let sref = self.server_reference.as_deref().map(str::as_bytes);
        bytes(&mut b, 0x1c, sref, "server_reference")?;
        bytes(
            &mut b,
            0x1f,
            self.reason_string.as_deref().map(str::as_bytes),
            "reason_string",
        )?;
        two(&mut b, 0x21, self.receive_maximum);
        two(&mut b, 0x22, self.topic_alias_maximum);
        two(&mut b, 0x23, self.topic_alias);
        byte(&mut b, 0x24, self.maximum_qos);
        byte(&mut b, 0x25, self.retain_available);
        for u in &self.user_properties {
            b.push(USER_PROPERTY);
            put_prefixed(&mut b, u.name.as_bytes(), "user_properties.name")?;
            put_prefixed(&mut b, u.value.as_bytes(), "user_properties.value")?;
        }
        four(&mut b, 0x27, self.maximum_packet_size);
        byte(&mut b, 0x28, self.wildcard_subscription_available);
        byte(&mut b, 0x29, self.subscription_identifier_available);
        byte(&mut b, 0x2a, self.shared_subscription_available);
        put_remaining_length(out, b.len());
        out.extend(b);
        Ok(())
    }

    /// Reads a property length and the properties of a `site`, reporting every deviation;
    /// Err when the packet cannot be decoded further (length or value past the end, unknown id).
    pub(crate) fn decode(
        r: &mut Reader<'_>,
        site: Site,
        version: Version,
        v: &mut Vec<Violation>,
    ) -> Result<Self, Violation> {
        let what = site.name();
        let len = match r.vbi() {
            Vbi::Truncated => {
                return Err(truncated(
                    Rule::PropertyLengthPresent,
                    version,
                    format!("{what} ends before its property length"),
                ));
            }
            Vbi::Overlong => {
                return Err(Rule::MalformedVarInt.malformed(
                    version,
                    format!("{what} property length runs past four bytes"),
                ));
            }
            Vbi::Value { value, minimal } => {
                if !minimal {
                    v.extend(Rule::NonMinimalLength.violation(
                        version,
                        format!("{what} property length {value} is not minimally encoded"),
                    ));
                }
                value as usize
            }
        };
        let body = r.take(len).ok_or_else(|| {
            Rule::PropertyLengthOverrun.malformed(
                version,
                format!(
                    "{what} property length {len} exceeds the {} bytes left in the packet",
                    r.remaining()
                ),
            )
        })?;
        let mut r = Reader::new(body);
        let mut props = Properties::default();
        let mut seen: Vec<u8> = Vec::new();
        while r.remaining() > 0 {
            let id = match r.vbi() {
                Vbi::Value { value, .. } => value,
                _ => {
                    return Err(Rule::MalformedVarInt.malformed(
                        version,
                        format!("{what} has a malformed property identifier"),
                    ));
                }
            };
            let Some(kind) = u8::try_from(id).ok().and_then(kind_of) else {
                return Err(Rule::PropertyUnknown.malformed(
                    version,
                    format!("{what} has property identifier 0x{id:02x}, which 5.0 does not define"),
                ));
            };
            let name = kind.name;
            let value = read_value(&mut r, kind, what, version, v)?;
            if !kind.allowed_at(site) {
                v.extend(Rule::PropertyNotAllowed.violation(
                    version,
                    format!(
                        "{what} carries {name} (0x{:02x}), which it may not",
                        kind.id
                    ),
                ));
            }
            if seen.contains(&kind.id) && !kind.repeatable_at(site) {
                v.extend(
                    Rule::PropertyDuplicated
                        .violation(version, format!("{what} carries {name} more than once")),
                );
            }
            seen.push(kind.id);
            props.store(kind, value, site, version, v);
        }
        Ok(props)
    }

    /// Checks a value and stores it (a repeated single-valued property keeps its first value).
    fn store(
        &mut self,
        kind: &PropertyKind,
        value: Value<'_>,
        site: Site,
        version: Version,
        v: &mut Vec<Violation>,
    ) {
        let what = site.name();
        let bad = |v: &mut Vec<Violation>, rule: Rule, why: String| {
            v.extend(rule.violation(version, format!("{what} {}: {why}", kind.name)));
        };
        let int = match &value {
            Value::Int(n) => *n,
            _ => 0,
        };
        // Range checks per property.
        match kind.id {
            0x01 | 0x17 | 0x19 | 0x24 | 0x25 | 0x28 | 0x29 | 0x2a if int > 1 => bad(
                v,
                Rule::PropertyValue,
                format!("value {int}; only 0 and 1 are allowed"),
            ),
            0x0b if int == 0 => bad(v, Rule::PropertyValue, "value 0 is not allowed".into()),
            0x21 | 0x27 if int == 0 => bad(v, Rule::PropertyValue, "value 0 is not allowed".into()),
            0x23 if int == 0 => bad(v, Rule::TopicAliasNonZero, "value 0 is not allowed".into()),
            _ => {}
        }
        if let Value::Text(s) = &value
            && kind.id == 0x08
        {
            topic::check_name(
                s,
                "PUBLISH response topic",
                Rule::ResponseTopicNoWildcard,
                version,
                v,
            );
        }
        fn set<T>(slot: &mut Option<T>, value: T) {
            if slot.is_none() {
                *slot = Some(value);
            }
        }
        let byte = int as u8;
        let two = int as u16;
        match (kind.id, value) {
            (0x01, _) => set(&mut self.payload_format_indicator, byte),
            (0x02, _) => set(&mut self.message_expiry_interval, int),
            (0x03, Value::Text(s)) => set(&mut self.content_type, s),
            (0x08, Value::Text(s)) => set(&mut self.response_topic, s),
            (0x09, Value::Bytes(b)) => set(&mut self.correlation_data, Payload::from(b)),
            (0x0b, _) => self.subscription_identifier.push(int),
            (0x11, _) => set(&mut self.session_expiry_interval, int),
            (0x12, Value::Text(s)) => set(&mut self.assigned_client_identifier, s),
            (0x13, _) => set(&mut self.server_keep_alive, two),
            (0x15, Value::Text(s)) => set(&mut self.authentication_method, s),
            (0x16, Value::Bytes(b)) => set(&mut self.authentication_data, Payload::from(b)),
            (0x17, _) => set(&mut self.request_problem_information, byte),
            (0x18, _) => set(&mut self.will_delay_interval, int),
            (0x19, _) => set(&mut self.request_response_information, byte),
            (0x1a, Value::Text(s)) => set(&mut self.response_information, s),
            (0x1c, Value::Text(s)) => set(&mut self.server_reference, s),
            (0x1f, Value::Text(s)) => set(&mut self.reason_string, s),
            (0x21, _) => set(&mut self.receive_maximum, two),
            (0x22, _) => set(&mut self.topic_alias_maximum, two),
            (0x23, _) => set(&mut self.topic_alias, two),
            (0x24, _) => set(&mut self.maximum_qos, byte),
            (0x25, _) => set(&mut self.retain_available, byte),
            (0x26, Value::Pair(name, value)) => {
                self.user_properties.push(UserProperty { name, value })
            }
            (0x27, _) => set(&mut self.maximum_packet_size, int),
            (0x28, _) => set(&mut self.wildcard_subscription_available, byte),
            (0x29, _) => set(&mut self.subscription_identifier_available, byte),
            (0x2a, _) => set(&mut self.shared_subscription_available, byte),
            _ => {}
        }
    }
}

/// Reads one property value of `kind`'s data type.
fn read_value<'a>(
    r: &mut Reader<'a>,
    kind: &PropertyKind,
    what: &str,
    version: Version,
    v: &mut Vec<Violation>,
) -> Result<Value<'a>, Violation> {
    let name = kind.name;
    let cut = || {
        Rule::PropertyLengthOverrun.malformed(
            version,
            format!("{what} {name} runs past the end of the properties"),
        )
    };
    let field = format!("{what} {name}");
    Ok(match kind.data_type {
        DataType::Byte => Value::Int(u32::from(r.u8().ok_or_else(cut)?)),
        DataType::TwoByteInt => Value::Int(u32::from(r.u16().ok_or_else(cut)?)),
        DataType::FourByteInt => Value::Int(r.u32().ok_or_else(cut)?),
        DataType::VarInt => {
            match r.vbi() {
                Vbi::Truncated => return Err(cut()),
                Vbi::Overlong => {
                    return Err(Rule::MalformedVarInt
                        .malformed(version, format!("{field} runs past four bytes")));
                }
                Vbi::Value { value, minimal } => {
                    if !minimal {
                        v.extend(Rule::NonMinimalLength.violation(
                            version,
                            format!("{field} {value} is not minimally encoded"),
                        ));
                    }
                    Value::Int(value)
                }
            }
        }
        DataType::Utf8 => Value::Text(text(r.prefixed().ok_or_else(cut)?, &field, version, v)),
        DataType::Binary => Value::Bytes(r.prefixed().ok_or_else(cut)?),
        DataType::Utf8Pair => {
            let name_bytes = r.prefixed().ok_or_else(cut)?;
            let n = text(name_bytes, &format!("{field} name"), version, v);
            let value_bytes = r.prefixed().ok_or_else(cut)?;
            Value::Pair(n, text(value_bytes, &format!("{field} value"), version, v))
        }
    })
}
