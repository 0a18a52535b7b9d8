//! PUBACK, PUBREC, PUBREL and PUBCOMP: a packet identifier, and in 5.0 an optional reason code and properties.

use serde::{Deserialize, Serialize};

use super::Version;
use super::error::EncodeError;
use super::packet::PacketType;
use super::properties::{Properties, Site};
use super::reason::ReasonCode;
use super::rules::Rule;
use super::wire::{Reader, put_u16, truncated};
use crate::violation::Violation;

/// The body of PUBACK, PUBREC, PUBREL and PUBCOMP (and of a 3.1.1 UNSUBACK's identifier).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ack {
    /// Packet identifier of the packet acknowledged.
    pub id: u16,
    /// 5.0 reason code; a decoded 5.0 packet always has one (`success` when the byte is omitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<ReasonCode>,
    /// 5.0 properties.
    #[serde(default, skip_serializing_if = "Properties::is_empty")]
    pub properties: Properties,
}

impl Ack {
    /// An acknowledgement of packet `id` with no reason code and no properties.
    pub fn new(id: u16) -> Self {
        Self {
            id,
            ..Self::default()
        }
    }

    /// Writes the variable header; returns the fixed-header flags for `kind`. In 5.0 the reason
    /// code is omitted when it is success and there are no properties, the property length when
    /// there are no properties.
    pub(crate) fn encode_body(
        &self,
        kind: PacketType,
        version: Version,
        out: &mut Vec<u8>,
    ) -> Result<u8, EncodeError> {
        put_u16(out, self.id);
        if version == Version::V5 {
            let byte = self.reason.map_or(0, ReasonCode::to_byte);
            if byte != 0 || !self.properties.is_empty() {
                out.push(byte);
            }
            if !self.properties.is_empty() {
                self.properties.encode(out)?;
            }
        }
        Ok(kind.required_flags().unwrap_or(0))
    }

    /// Reads the packet identifier of a `kind` packet of `version`; an id of 0 cannot answer any packet.
    pub(crate) fn decode(
        kind: PacketType,
        r: &mut Reader<'_>,
        version: Version,
        v: &mut Vec<Violation>,
    ) -> Result<Self, Violation> {
        let id = r.u16().ok_or_else(|| {
            truncated(
                Rule::TruncatedField,
                version,
                format!("{} ends before its packet identifier", kind.name()),
            )
        })?;
        if id == 0 {
            // The acknowledged packet must have carried a non-zero id, so 0 echoes none.
            let rule = match kind {
                PacketType::Unsuback => Rule::SubscriptionAckSameId,
                PacketType::Pubcomp => Rule::PubcompAnswersPubrel,
                _ => Rule::PublishAckSameId,
            };
            v.extend(rule.violation(
                version,
                format!(
                    "{} has packet identifier 0, which no PUBLISH/SUBSCRIBE/UNSUBSCRIBE may carry",
                    kind.name()
                ),
            ));
        }
        if version == Version::V311 {
            return Ok(Self::new(id));
        }
        let reason = ReasonCode::for_packet(kind, r.u8().unwrap_or(0));
        if !reason.allowed_in(kind) {
            let rule = match kind {
                PacketType::Puback => Rule::PubackReasonCode,
                PacketType::Pubrec => Rule::PubrecReasonCode,
                PacketType::Pubrel => Rule::PubrelReasonCode,
                _ => Rule::PubcompReasonCode,
            };
            v.extend(rule.violation(
                version,
                format!(
                    "{} reason code {reason} is not a {} reason code",
                    kind.name(),
                    kind.name()
                ),
            ));
        }
        let properties = if r.remaining() > 0 {
            Properties::decode(r, Site::Packet(kind), version, v)?
        } else {
            Properties::default()
        };
        Ok(Self {
            id,
            reason: Some(reason),
            properties,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::codec::tests::{c2s_specs, decode_c2s, decode_s2c, ids, s2c_specs};
    use crate::mqtt::{DecodeError, Packet, Unsuback, Version, encode};

    #[test]
    fn vectors() {
        let cases = [
            (Packet::Puback(Ack::new(7)), [0x40, 0x02, 0x00, 0x07]),
            (Packet::Pubrec(Ack::new(7)), [0x50, 0x02, 0x00, 0x07]),
            (Packet::Pubrel(Ack::new(7)), [0x62, 0x02, 0x00, 0x07]),
            (Packet::Pubcomp(Ack::new(0x1234)), [0x70, 0x02, 0x12, 0x34]),
            (
                Packet::Unsuback(Unsuback::new(11)),
                [0xb0, 0x02, 0x00, 0x0b],
            ),
        ];
        for (packet, bytes) in cases {
            assert_eq!(encode(&packet, Version::V311).unwrap(), bytes);
            let d = decode_s2c(&bytes).unwrap();
            assert_eq!(d.packet, packet);
            assert!(d.violations.is_empty());
        }
    }

    #[test]
    fn violations() {
        // Reserved fixed-header flags.
        assert_eq!(
            s2c_specs(&[0x41, 0x02, 0x00, 0x07]),
            ids([Rule::ReservedFlags])
        );
        assert_eq!(
            s2c_specs(&[0x60, 0x02, 0x00, 0x07]),
            ids([Rule::ReservedFlags])
        );
        assert_eq!(
            c2s_specs(&[0x6a, 0x02, 0x00, 0x07]),
            ids([Rule::ReservedFlags])
        );
        // Identifier 0.
        assert_eq!(
            s2c_specs(&[0x40, 0x02, 0x00, 0x00]),
            ids([Rule::PublishAckSameId])
        );
        assert_eq!(
            s2c_specs(&[0x70, 0x02, 0x00, 0x00]),
            ids([Rule::PubcompAnswersPubrel])
        );
        assert_eq!(
            s2c_specs(&[0xb0, 0x02, 0x00, 0x00]),
            ids([Rule::SubscriptionAckSameId])
        );
        // Trailing bytes after the identifier.
        assert_eq!(
            s2c_specs(&[0x40, 0x03, 0x00, 0x07, 0x00]),
            ids([Rule::TrailingBytes])
        );
        // UNSUBACK from a client.
        assert_eq!(
            c2s_specs(&[0xb0, 0x02, 0x00, 0x01]),
            ids([Rule::WrongDirection])
        );
        // Identifier cut short inside a complete remaining length.
        assert!(matches!(
            decode_c2s(&[0x40, 0x01, 0x00]),
            Err(DecodeError::Malformed { .. })
        ));
    }
}
