//! SUBACK: the model, its body encoding and its strict decoding.

use serde::{Deserialize, Serialize};

use super::Version;
use super::codes::SubackReturnCode;
use super::error::EncodeError;
use super::packet::PacketType;
use super::properties::{Properties, Site};
use super::reason::ReasonCode;
use super::rules::Rule;
use super::wire::{Reader, put_u16, truncated};
use crate::violation::Violation;

/// One SUBACK code: a 3.1.1 return code or a 5.0 reason code, written by its name in either
/// table (3.1.1 names first: `failure` is the 3.1.1 code, `unspecified_error` the 5.0 one, same byte).
/// Equality compares the byte.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SubackCode {
    /// A 3.1.1 SUBACK return code (what a 3.1.1 decoder produces).
    V311(SubackReturnCode),
    /// A 5.0 reason code (what a 5.0 decoder produces).
    V5(ReasonCode),
}

impl SubackCode {
    /// The byte written.
    pub fn to_byte(self) -> u8 {
        match self {
            Self::V311(c) => c.to_byte(),
            Self::V5(c) => c.to_byte(),
        }
    }
}

impl PartialEq for SubackCode {
    fn eq(&self, other: &Self) -> bool {
        self.to_byte() == other.to_byte()
    }
}

impl Eq for SubackCode {}

impl PartialEq<SubackReturnCode> for SubackCode {
    fn eq(&self, other: &SubackReturnCode) -> bool {
        self.to_byte() == other.to_byte()
    }
}

impl From<SubackReturnCode> for SubackCode {
    fn from(c: SubackReturnCode) -> Self {
        Self::V311(c)
    }
}

impl From<ReasonCode> for SubackCode {
    fn from(c: ReasonCode) -> Self {
        Self::V5(c)
    }
}

impl std::fmt::Display for SubackCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::V311(c) => c.fmt(f),
            Self::V5(c) => c.fmt(f),
        }
    }
}

/// SUBACK: packet identifier, 5.0 properties and one return/reason code per requested filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suback {
    /// Packet identifier of the SUBSCRIBE.
    pub id: u16,
    /// 5.0 properties.
    #[serde(default, skip_serializing_if = "Properties::is_empty")]
    pub properties: Properties,
    /// Return (reason) codes in filter order.
    pub reasons: Vec<SubackCode>,
}

impl Suback {
    /// A SUBACK for packet `id` with these codes and no properties.
    pub fn new(id: u16, reasons: impl IntoIterator<Item = impl Into<SubackCode>>) -> Self {
        Self {
            id,
            properties: Properties::default(),
            reasons: reasons.into_iter().map(Into::into).collect(),
        }
    }

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
        out.extend(self.reasons.iter().map(|c| c.to_byte()));
        Ok(0)
    }

    /// Reads a SUBACK body of `version`, reporting every deviation.
    pub(crate) fn decode(
        r: &mut Reader<'_>,
        version: Version,
        v: &mut Vec<Violation>,
    ) -> Result<Self, Violation> {
        let id = r.u16().ok_or_else(|| {
            truncated(
                Rule::TruncatedField,
                version,
                "SUBACK ends before its packet identifier",
            )
        })?;
        if id == 0 {
            v.extend(Rule::SubscriptionAckSameId.violation(
                version,
                "SUBACK has packet identifier 0, which no SUBSCRIBE may carry",
            ));
        }
        if version == Version::V5 {
            let kind = PacketType::Suback;
            let properties = Properties::decode(r, Site::Packet(kind), version, v)?;
            let reasons: Vec<ReasonCode> = r
                .rest()
                .iter()
                .map(|&b| ReasonCode::for_packet(kind, b))
                .collect();
            for code in reasons.iter().filter(|c| !c.allowed_in(kind)) {
                v.extend(Rule::SubackDefinedCodes.violation(
                    version,
                    format!("SUBACK reason code {code} is not a SUBACK reason code"),
                ));
            }
            if reasons.is_empty() {
                v.extend(Rule::SubackCodePerFilter.violation(
                    version,
                    "SUBACK has no reason code (a SUBSCRIBE has at least one filter)",
                ));
            }
            return Ok(Self {
                id,
                properties,
                reasons: reasons.into_iter().map(SubackCode::V5).collect(),
            });
        }
        let reasons: Vec<SubackReturnCode> = r
            .rest()
            .iter()
            .map(|&b| SubackReturnCode::from_byte(b))
            .collect();
        for code in reasons.iter().filter(|c| !c.is_defined()) {
            v.extend(Rule::SubackDefinedCodes.violation(
                version,
                format!(
                    "SUBACK return code {code} is reserved (only 0x00, 0x01, 0x02, 0x80 are allowed)"
                ),
            ));
        }
        if reasons.is_empty() {
            v.extend(Rule::SubackCodePerFilter.violation(
                version,
                "SUBACK has no return code (a SUBSCRIBE has at least one filter)",
            ));
        }
        Ok(Self::new(id, reasons))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::codec::tests::{c2s_specs, decode_s2c, ids, s2c_specs};
    use crate::mqtt::{Packet, Version, encode};

    #[test]
    fn vectors() {
        let p = Packet::Suback(Suback::new(
            10,
            [
                SubackReturnCode::GrantedQos0,
                SubackReturnCode::GrantedQos1,
                SubackReturnCode::GrantedQos2,
                SubackReturnCode::Failure,
            ],
        ));
        let bytes = [0x90, 0x06, 0x00, 0x0a, 0x00, 0x01, 0x02, 0x80];
        assert_eq!(encode(&p, Version::V311).unwrap(), bytes);
        let d = decode_s2c(&bytes).unwrap();
        assert_eq!(d.packet, p);
        assert!(d.violations.is_empty());
    }

    #[test]
    fn violations() {
        assert_eq!(
            s2c_specs(&[0x90, 0x03, 0x00, 0x01, 0x03]),
            ids([Rule::SubackDefinedCodes])
        );
        assert_eq!(
            s2c_specs(&[0x90, 0x04, 0x00, 0x01, 0x00, 0x81]),
            ids([Rule::SubackDefinedCodes])
        );
        assert_eq!(
            s2c_specs(&[0x90, 0x02, 0x00, 0x01]),
            ids([Rule::SubackCodePerFilter])
        );
        assert_eq!(
            s2c_specs(&[0x90, 0x03, 0x00, 0x00, 0x00]),
            ids([Rule::SubscriptionAckSameId])
        );
        assert_eq!(
            s2c_specs(&[0x98, 0x03, 0x00, 0x01, 0x00]),
            ids([Rule::ReservedFlags])
        );
        // A client never sends SUBACK.
        assert_eq!(
            c2s_specs(&[0x90, 0x03, 0x00, 0x01, 0x00]),
            ids([Rule::WrongDirection])
        );
        let d = decode_s2c(&[0x90, 0x03, 0x00, 0x01, 0x03]).unwrap();
        assert_eq!(
            d.packet,
            Packet::Suback(Suback::new(1, [SubackReturnCode::from_byte(3)]))
        );
    }
}
