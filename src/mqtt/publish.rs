//! PUBLISH: the model, its body encoding and its strict decoding.

use serde::{Deserialize, Serialize};

use super::error::EncodeError;
use super::packet::PacketType;
use super::payload::Payload;
use super::properties::{Properties, Site};
use super::rules::Rule;
use super::topic;
use super::wire::{Reader, put_prefixed, put_u16, qos_bits, text, truncated};
use super::{Direction, Version};
use crate::violation::Violation;

/// PUBLISH; encoded exactly as given (an `id` is written whenever present, whatever the QoS).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Publish {
    /// DUP flag.
    #[serde(default)]
    pub dup: bool,
    /// QoS bits (3 is a protocol violation, representable for negative tests).
    #[serde(default)]
    pub qos: u8,
    /// RETAIN flag.
    #[serde(default)]
    pub retain: bool,
    /// Topic name.
    pub topic: String,
    /// Packet identifier (present on the wire iff QoS > 0).
    #[serde(default)]
    pub id: Option<u16>,
    /// 5.0 properties (written after the packet identifier).
    #[serde(default, skip_serializing_if = "Properties::is_empty")]
    pub properties: Properties,
    /// Application message.
    #[serde(default)]
    pub payload: Payload,
}

impl Publish {
    /// Writes the variable header and payload; returns the fixed-header flags.
    pub(crate) fn encode_body(
        &self,
        version: Version,
        out: &mut Vec<u8>,
    ) -> Result<u8, EncodeError> {
        let flags = (u8::from(self.dup) << 3)
            | (qos_bits(self.qos, "publish.qos")? << 1)
            | u8::from(self.retain);
        put_prefixed(out, self.topic.as_bytes(), "topic")?;
        if let Some(id) = self.id {
            put_u16(out, id);
        }
        if version == Version::V5 {
            self.properties.encode(out)?;
        }
        out.extend_from_slice(self.payload.as_bytes());
        Ok(flags)
    }

    /// Reads a PUBLISH body of `version` sent in `direction` given its fixed-header flags,
    /// reporting every deviation.
    pub(crate) fn decode(
        flags: u8,
        r: &mut Reader<'_>,
        version: Version,
        direction: Direction,
        v: &mut Vec<Violation>,
    ) -> Result<Self, Violation> {
        let dup = flags & 0x08 != 0;
        let qos = (flags >> 1) & 0x03;
        let retain = flags & 0x01 != 0;
        if qos == 3 {
            v.extend(
                Rule::PublishQosNot3.violation(version, "PUBLISH has both QoS bits set (QoS 3)"),
            );
        }
        if dup && qos == 0 {
            v.extend(
                Rule::DupZeroForQos0
                    .violation(version, "PUBLISH with QoS 0 has DUP 1; it must be 0"),
            );
        }
        let name = r.prefixed().ok_or_else(|| {
            truncated(
                Rule::PublishTopicFirst,
                version,
                "PUBLISH ends inside its topic name",
            )
        })?;
        let topic_name = text(name, "PUBLISH topic name", version, v);
        let mut name_violations = Vec::new();
        topic::check_name(
            &topic_name,
            "PUBLISH topic name",
            Rule::PublishTopicNoWildcard,
            version,
            &mut name_violations,
        );
        if version == Version::V311 {
            v.append(&mut name_violations);
        }
        let id = if qos > 0 {
            let id = r.u16().ok_or_else(|| {
                truncated(
                    Rule::TruncatedField,
                    version,
                    format!("PUBLISH with QoS {qos} ends before its packet identifier"),
                )
            })?;
            if id == 0 {
                let rule = match direction {
                    Direction::ClientToServer => Rule::PacketIdNonZeroClient,
                    Direction::ServerToClient => Rule::PacketIdNonZeroServer,
                };
                v.extend(rule.violation(
                    version,
                    format!("PUBLISH with QoS {qos} has packet identifier 0"),
                ));
            }
            Some(id)
        } else {
            None
        };
        let properties = match version {
            Version::V311 => Properties::default(),
            Version::V5 => Properties::decode(r, Site::Packet(PacketType::Publish), version, v)?,
        };
        // 5.0: an empty topic name stands for the one mapped to the Topic Alias.
        if !(topic_name.is_empty() && properties.topic_alias.is_some()) {
            v.extend(name_violations);
        }
        if direction == Direction::ClientToServer && !properties.subscription_identifier.is_empty()
        {
            v.extend(Rule::PublishClientSubscriptionId.violation(
                version,
                "a client's PUBLISH carries a Subscription Identifier",
            ));
        }
        Ok(Self {
            dup,
            qos,
            retain,
            topic: topic_name,
            id,
            properties,
            payload: Payload::from(r.rest()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::codec::tests::{decode_c2s, decode_s2c, ids, s2c_specs};
    use crate::mqtt::{DecodeError, Packet, Version, encode};

    fn publish(qos: u8, id: Option<u16>, payload: &[u8]) -> Packet {
        Packet::Publish(Publish {
            dup: false,
            qos,
            retain: false,
            topic: "a/b".into(),
            id,
            payload: Payload::from(payload),
            ..Publish::default()
        })
    }

    #[test]
    fn vectors() {
        let qos1 = [
            0x32, 0x09, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x07, b'h', b'i',
        ];
        assert_eq!(
            encode(&publish(1, Some(7), b"hi"), Version::V311).unwrap(),
            qos1
        );
        let d = decode_s2c(&qos1).unwrap();
        assert_eq!(d.packet, publish(1, Some(7), b"hi"));
        assert!(d.violations.is_empty());

        let retained = Packet::Publish(Publish {
            dup: false,
            qos: 0,
            retain: true,
            topic: "t".into(),
            id: None,
            payload: "hi".into(),
            ..Publish::default()
        });
        let bytes = [0x31, 0x05, 0x00, 0x01, b't', b'h', b'i'];
        assert_eq!(encode(&retained, Version::V311).unwrap(), bytes);
        assert_eq!(decode_c2s(&bytes).unwrap().packet, retained);

        let dup2 = Packet::Publish(Publish {
            dup: true,
            qos: 2,
            retain: false,
            topic: "t".into(),
            id: Some(0x0102),
            payload: Payload::default(),
            ..Publish::default()
        });
        let bytes = [0x3c, 0x05, 0x00, 0x01, b't', 0x01, 0x02];
        assert_eq!(encode(&dup2, Version::V311).unwrap(), bytes);
        assert_eq!(decode_s2c(&bytes).unwrap().packet, dup2);
    }

    #[test]
    fn long_payload_uses_two_byte_length() {
        let payload = vec![0xab; 200];
        let bytes = encode(&publish(0, None, &payload), Version::V311).unwrap();
        assert_eq!(&bytes[..3], &[0x30, 0xcd, 0x01]); // 205 = 0x4d | 0x80, 0x01
        assert_eq!(bytes.len(), 3 + 205);
        assert_eq!(
            decode_s2c(&bytes).unwrap().packet,
            publish(0, None, &payload)
        );
    }

    #[test]
    fn encodes_exactly_what_is_given() {
        // An id with QoS 0 and QoS 3 are written as asked, for negative tests.
        let bytes = encode(&publish(0, Some(1), b""), Version::V311).unwrap();
        assert_eq!(
            bytes,
            [0x30, 0x07, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x01]
        );
        let bytes = encode(&publish(3, Some(1), b""), Version::V311).unwrap();
        assert_eq!(bytes[0], 0x36);
        assert!(encode(&publish(4, None, b""), Version::V311).is_err());
    }

    #[test]
    fn violations() {
        assert_eq!(
            s2c_specs(&[0x36, 0x05, 0x00, 0x01, b't', 0x00, 0x01]),
            ids([Rule::PublishQosNot3])
        );
        assert_eq!(
            s2c_specs(&[0x38, 0x03, 0x00, 0x01, b't']),
            ids([Rule::DupZeroForQos0])
        );
        assert_eq!(
            s2c_specs(&[0x32, 0x05, 0x00, 0x01, b't', 0x00, 0x00]),
            ids([Rule::PacketIdNonZeroServer])
        );
        assert_eq!(
            s2c_specs(&[0x30, 0x05, 0x00, 0x03, b'a', b'/', b'+']),
            ids([Rule::PublishTopicNoWildcard])
        );
        assert_eq!(
            s2c_specs(&[0x30, 0x02, 0x00, 0x00]),
            ids([Rule::TopicNotEmpty])
        );
        assert_eq!(
            s2c_specs(&[0x30, 0x04, 0x00, 0x02, 0xc3, 0x28]),
            ids([Rule::Utf8WellFormed])
        );
        assert_eq!(
            s2c_specs(&[0x30, 0x05, 0x00, 0x03, 0xed, 0xa0, 0x80]),
            ids([Rule::Utf8WellFormed])
        );
        assert_eq!(
            s2c_specs(&[0x30, 0x04, 0x00, 0x02, b'a', 0x00]),
            ids([Rule::Utf8NoNull])
        );
    }

    #[test]
    fn truncated_fields_are_malformed() {
        for bytes in [
            &[0x30, 0x01, 0x00][..],
            &[0x30, 0x03, 0x00, 0x05, b'a'],
            &[0x32, 0x04, 0x00, 0x01, b't', 0x00],
        ] {
            match decode_s2c(bytes) {
                Err(DecodeError::Malformed { raw, .. }) => assert_eq!(raw, bytes),
                other => panic!("{bytes:02x?}: {other:?}"),
            }
        }
    }
}
