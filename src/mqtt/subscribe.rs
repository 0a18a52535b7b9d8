//! SUBSCRIBE: the model, its body encoding and its strict decoding.

use serde::{Deserialize, Serialize};

use super::Version;
use super::error::EncodeError;
use super::packet::PacketType;
use super::properties::{Properties, Site};
use super::rules::Rule;
use super::wire::{Reader, put_prefixed, put_u16, text, truncated};
use crate::violation::Violation;

/// SUBSCRIBE: packet identifier and topic filter / requested QoS pairs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscribe {
    /// Packet identifier.
    pub id: u16,
    /// 5.0 properties.
    #[serde(default, skip_serializing_if = "Properties::is_empty")]
    pub properties: Properties,
    /// Topic filters in order.
    pub filters: Vec<Filter>,
}

/// One topic filter of a SUBSCRIBE with its requested QoS byte (3.1.1) or subscription options (5.0).
///
/// The options byte is written as `qos | no_local << 2 | retain_as_published << 3 |
/// retain_handling << 4` in both versions. A decoded 3.1.1 filter keeps the whole byte in `qos`
/// (bits 7-2 are reserved there); a decoded 5.0 filter splits it, keeping the QoS bits and the
/// reserved bits 7-6 in `qos`, so every byte read shows and re-encodes as it was.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// Topic filter.
    pub topic: String,
    /// The requested QoS (3.1.1: the whole byte; 5.0: bits 1-0 plus the reserved bits 7-6).
    #[serde(default)]
    pub qos: u8,
    /// 5.0 No Local option (bit 2).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_local: bool,
    /// 5.0 Retain As Published option (bit 3).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retain_as_published: bool,
    /// 5.0 Retain Handling option (bits 5-4; 3 is a protocol error).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retain_handling: u8,
}

fn is_zero(n: &u8) -> bool {
    *n == 0
}

impl Filter {
    /// A filter with this topic and requested QoS and no 5.0 options.
    pub fn new(topic: impl Into<String>, qos: u8) -> Self {
        Self {
            topic: topic.into(),
            qos,
            ..Self::default()
        }
    }

    /// The options byte this filter is written with.
    fn options_byte(&self) -> Result<u8, EncodeError> {
        if self.retain_handling > 3 {
            return Err(EncodeError::OptionRange {
                field: "filters.retain_handling",
                value: self.retain_handling,
            });
        }
        Ok(self.qos
            | (u8::from(self.no_local) << 2)
            | (u8::from(self.retain_as_published) << 3)
            | (self.retain_handling << 4))
    }
}

impl Subscribe {
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
        for filter in &self.filters {
            put_prefixed(out, filter.topic.as_bytes(), "filters.topic")?;
            out.push(filter.options_byte()?);
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
        let properties = match version {
            Version::V311 => Properties::default(),
            Version::V5 => Properties::decode(r, Site::Packet(PacketType::Subscribe), version, v)?,
        };
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
            if version == Version::V5 {
                filters.push(decode_options(topic, qos, version, v));
                continue;
            }
            if qos > 2 {
                v.extend(Rule::SubscribeReservedBits.violation(
                    version,
                    format!(
                        "SUBSCRIBE requested QoS byte for `{topic}` is 0x{qos:02x}; it must be 0, 1 or 2 with bits 7-2 zero"
                    ),
                ));
            }
            filters.push(Filter::new(topic, qos));
        }
        if filters.is_empty() {
            v.extend(Rule::SubscribeHasFilter.violation(version, "SUBSCRIBE has no topic filter"));
        }
        Ok(Self {
            id,
            properties,
            filters,
        })
    }
}

/// Splits a 5.0 subscription options byte, reporting reserved bits and out-of-range values.
fn decode_options(topic: String, byte: u8, version: Version, v: &mut Vec<Violation>) -> Filter {
    let filter = Filter {
        qos: byte & 0xc3,
        no_local: byte & 0x04 != 0,
        retain_as_published: byte & 0x08 != 0,
        retain_handling: (byte >> 4) & 0x03,
        topic,
    };
    let t = &filter.topic;
    if byte & 0xc0 != 0 {
        v.extend(Rule::SubscribeReservedBits.violation(
            version,
            format!("SUBSCRIBE options byte for `{t}` is 0x{byte:02x}; bits 7-6 are reserved"),
        ));
    }
    if byte & 0x03 == 3 {
        v.extend(Rule::SubscribeOptionValue.violation(
            version,
            format!("SUBSCRIBE options for `{t}` request Maximum QoS 3"),
        ));
    }
    if filter.retain_handling == 3 {
        v.extend(Rule::SubscribeOptionValue.violation(
            version,
            format!("SUBSCRIBE options for `{t}` have Retain Handling 3"),
        ));
    }
    if filter.no_local && t.starts_with("$share/") {
        v.extend(Rule::NoLocalShared.violation(
            version,
            format!("SUBSCRIBE sets No Local on the shared subscription `{t}`"),
        ));
    }
    filter
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
            properties: Properties::default(),
            filters: vec![Filter::new("a/#", 1), Filter::new("b", 2)],
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
