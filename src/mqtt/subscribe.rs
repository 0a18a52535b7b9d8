//! SUBSCRIBE: the model, its body encoding and its strict decoding.

use serde::{Deserialize, Serialize};

use super::Version;
use super::error::EncodeError;
use super::rules::Rule;
use super::wire::{Reader, put_prefixed, put_u16, text, truncated};
use crate::violation::Violation;

/// SUBSCRIBE: packet identifier and topic filter / requested QoS pairs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscribe {
    /// Packet identifier.
    pub id: u16,
    /// Topic filters in order.
    pub filters: Vec<Filter>,
}

/// One topic filter of a SUBSCRIBE with its requested QoS byte.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// Topic filter.
    pub topic: String,
    /// The whole requested-QoS byte (0..=2 is legal; bits 7-2 are reserved).
    #[serde(default)]
    pub qos: u8,
}

impl Subscribe {
    /// Writes the variable header and payload; returns the fixed-header flags.
    pub(crate) fn encode_body(&self, out: &mut Vec<u8>) -> Result<u8, EncodeError> {
        put_u16(out, self.id);
        for filter in &self.filters {
            put_prefixed(out, filter.topic.as_bytes(), "filters.topic")?;
            out.push(filter.qos);
        }
        Ok(0b0010)
    }

    /// Reads a SUBSCRIBE body of `version`, reporting every deviation (filter syntax is left to the server).
    pub(crate) fn decode(
        r: &mut Reader<'_>,
        version: Version,
        v: &mut Vec<Violation>,
    ) -> Result<Self, Violation> {
        let id = r.u16().ok_or_else(|| {
            truncated(
                Rule::TruncatedField,
                version,
                "SUBSCRIBE ends before its packet identifier",
            )
        })?;
        if id == 0 {
            v.extend(
                Rule::PacketIdNonZeroClient.violation(version, "SUBSCRIBE has packet identifier 0"),
            );
        }
        let mut filters = Vec::new();
        while r.remaining() > 0 {
            let bytes = r.prefixed().ok_or_else(|| {
                truncated(
                    Rule::TruncatedField,
                    version,
                    "SUBSCRIBE ends inside a topic filter",
                )
            })?;
            let topic = text(bytes, "SUBSCRIBE topic filter", version, v);
            let qos = r.u8().ok_or_else(|| {
                truncated(
                    Rule::TruncatedField,
                    version,
                    format!("SUBSCRIBE topic filter `{topic}` has no requested QoS byte"),
                )
            })?;
            if qos > 2 {
                v.extend(Rule::SubscribeReservedBits.violation(
                    version,
                    format!(
                        "SUBSCRIBE requested QoS byte for `{topic}` is 0x{qos:02x}; it must be 0, 1 or 2 with bits 7-2 zero"
                    ),
                ));
            }
            filters.push(Filter { topic, qos });
        }
        if filters.is_empty() {
            v.extend(Rule::SubscribeHasFilter.violation(version, "SUBSCRIBE has no topic filter"));
        }
        Ok(Self { id, filters })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::codec::tests::{c2s_specs, decode_c2s, ids, s2c_specs};
    use crate::mqtt::{DecodeError, Packet, Version, encode};

    #[test]
    fn vectors() {
        let p = Packet::Subscribe(Subscribe {
            id: 10,
            filters: vec![
                Filter {
                    topic: "a/#".into(),
                    qos: 1,
                },
                Filter {
                    topic: "b".into(),
                    qos: 2,
                },
            ],
        });
        let bytes = [
            0x82, 0x0c, 0x00, 0x0a, 0x00, 0x03, b'a', b'/', b'#', 0x01, 0x00, 0x01, b'b', 0x02,
        ];
        assert_eq!(encode(&p, Version::V311).unwrap(), bytes);
        let d = decode_c2s(&bytes).unwrap();
        assert_eq!(d.packet, p);
        assert!(d.violations.is_empty());
    }

    #[test]
    fn violations() {
        assert_eq!(
            c2s_specs(&[0x80, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x00]),
            ids([Rule::ReservedFlags])
        );
        assert_eq!(
            c2s_specs(&[0x82, 0x06, 0x00, 0x00, 0x00, 0x01, b'a', 0x00]),
            ids([Rule::PacketIdNonZeroClient])
        );
        assert_eq!(
            c2s_specs(&[0x82, 0x02, 0x00, 0x01]),
            ids([Rule::SubscribeHasFilter])
        );
        assert_eq!(
            c2s_specs(&[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x03]),
            ids([Rule::SubscribeReservedBits])
        );
        assert_eq!(
            c2s_specs(&[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x41]),
            ids([Rule::SubscribeReservedBits])
        );
        assert_eq!(
            c2s_specs(&[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 0xfe, 0x00]),
            ids([Rule::Utf8WellFormed])
        );
        // A server never sends SUBSCRIBE.
        assert_eq!(
            s2c_specs(&[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x00]),
            ids([Rule::WrongDirection])
        );
        // A filter without its QoS byte.
        assert!(matches!(
            decode_c2s(&[0x82, 0x05, 0x00, 0x01, 0x00, 0x01, b'a']),
            Err(DecodeError::Malformed { .. })
        ));
    }
}
