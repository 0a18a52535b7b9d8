//! UNSUBSCRIBE: the model, its body encoding and its strict decoding.

use serde::{Deserialize, Serialize};

use super::Version;
use super::error::EncodeError;
use super::packet::PacketType;
use super::properties::{Properties, Site};
use super::rules::Rule;
use super::wire::{Reader, put_prefixed, put_u16, text, truncated};
use crate::violation::Violation;

/// UNSUBSCRIBE: packet identifier and topic filters to remove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unsubscribe {
    /// Packet identifier.
    pub id: u16,
    /// 5.0 properties.
    #[serde(default, skip_serializing_if = "Properties::is_empty")]
    pub properties: Properties,
    /// Topic filters in order.
    pub topics: Vec<String>,
}

impl Unsubscribe {
    /// Writes the variable header and payload; returns the fixed-header flags.
    pub(crate) fn encode_body(
        &self,
        version: Version,
        out: &mut Vec<u8>,
    ) -> Result<u8, EncodeError> {
        put_u16(out, self.id);
        if version == Version::V5 {
            self.properties.encode(out)?;
        }
        for topic in &self.topics {
            put_prefixed(out, topic.as_bytes(), "topics")?;
        }
        Ok(0b0010)
    }

    /// Reads an UNSUBSCRIBE body of `version`, reporting every deviation.
    pub(crate) fn decode(
        r: &mut Reader<'_>,
        version: Version,
        v: &mut Vec<Violation>,
    ) -> Result<Self, Violation> {
        let id = r.u16().ok_or_else(|| {
            truncated(
                Rule::TruncatedField,
                version,
                "UNSUBSCRIBE ends before its packet identifier",
            )
        })?;
        if id == 0 {
            v.extend(
                Rule::PacketIdNonZeroClient
                    .violation(version, "UNSUBSCRIBE has packet identifier 0"),
            );
        }
        let properties = match version {
            Version::V311 => Properties::default(),
            Version::V5 => {
                Properties::decode(r, Site::Packet(PacketType::Unsubscribe), version, v)?
            }
        };
        let mut topics = Vec::new();
        while r.remaining() > 0 {
            let bytes = r.prefixed().ok_or_else(|| {
                truncated(
                    Rule::TruncatedField,
                    version,
                    "UNSUBSCRIBE ends inside a topic filter",
                )
            })?;
            topics.push(text(bytes, "UNSUBSCRIBE topic filter", version, v));
        }
        if topics.is_empty() {
            v.extend(
                Rule::UnsubscribeHasFilter.violation(version, "UNSUBSCRIBE has no topic filter"),
            );
        }
        Ok(Self {
            id,
            properties,
            topics,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::codec::tests::{c2s_specs, decode_c2s, ids, s2c_specs};
    use crate::mqtt::{DecodeError, Packet, Version, encode};

    #[test]
    fn vectors() {
        let p = Packet::Unsubscribe(Unsubscribe {
            id: 11,
            properties: Properties::default(),
            topics: vec!["a/#".into(), "b".into()],
        });
        let bytes = [
            0xa2, 0x0a, 0x00, 0x0b, 0x00, 0x03, b'a', b'/', b'#', 0x00, 0x01, b'b',
        ];
        assert_eq!(encode(&p, Version::V311).unwrap(), bytes);
        let d = decode_c2s(&bytes).unwrap();
        assert_eq!(d.packet, p);
        assert!(d.violations.is_empty());
    }

    #[test]
    fn violations() {
        assert_eq!(
            c2s_specs(&[0xa2, 0x02, 0x00, 0x01]),
            ids([Rule::UnsubscribeHasFilter])
        );
        assert_eq!(
            c2s_specs(&[0xa0, 0x05, 0x00, 0x01, 0x00, 0x01, b'a']),
            ids([Rule::ReservedFlags])
        );
        assert_eq!(
            c2s_specs(&[0xa2, 0x05, 0x00, 0x00, 0x00, 0x01, b'a']),
            ids([Rule::PacketIdNonZeroClient])
        );
        assert_eq!(
            s2c_specs(&[0xa2, 0x05, 0x00, 0x01, 0x00, 0x01, b'a']),
            ids([Rule::WrongDirection])
        );
        assert!(matches!(
            decode_c2s(&[0xa2, 0x05, 0x00, 0x01, 0x00, 0x05, b'a']),
            Err(DecodeError::Malformed { .. })
        ));
    }
}
