//! UNSUBACK: a packet identifier, and in 5.0 properties and one reason code per topic filter.

use serde::{Deserialize, Serialize};

use super::Version;
use super::error::EncodeError;
use super::packet::PacketType;
use super::properties::{Properties, Site};
use super::reason::ReasonCode;
use super::rules::Rule;
use super::wire::{Reader, put_u16, truncated};
use crate::violation::Violation;

/// UNSUBACK; `reasons` and `properties` exist in 5.0 only (empty and not serialized in 3.1.1).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unsuback {
    /// Packet identifier of the UNSUBSCRIBE.
    pub id: u16,
    /// 5.0 properties.
    #[serde(default, skip_serializing_if = "Properties::is_empty")]
    pub properties: Properties,
    /// 5.0 reason codes in topic filter order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<ReasonCode>,
}

impl Unsuback {
    /// An UNSUBACK for packet `id` with no reason codes and no properties (the 3.1.1 form).
    pub fn new(id: u16) -> Self {
        Self {
            id,
            ..Self::default()
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
            out.extend(self.reasons.iter().map(|c| c.to_byte()));
        }
        Ok(0)
    }

    /// Reads an UNSUBACK body of `version`, reporting every deviation.
    pub(crate) fn decode(
        r: &mut Reader<'_>,
        version: Version,
        v: &mut Vec<Violation>,
    ) -> Result<Self, Violation> {
        let id = r.u16().ok_or_else(|| {
            truncated(
                Rule::TruncatedField,
                version,
                "UNSUBACK ends before its packet identifier",
            )
        })?;
        if id == 0 {
            v.extend(Rule::SubscriptionAckSameId.violation(
                version,
                "UNSUBACK has packet identifier 0, which no UNSUBSCRIBE may carry",
            ));
        }
        if version == Version::V311 {
            return Ok(Self::new(id));
        }
        let properties = Properties::decode(r, Site::Packet(PacketType::Unsuback), version, v)?;
        let reasons: Vec<ReasonCode> = r
            .rest()
            .iter()
            .map(|&b| ReasonCode::for_packet(PacketType::Unsuback, b))
            .collect();
        for code in reasons
            .iter()
            .filter(|c| !c.allowed_in(PacketType::Unsuback))
        {
            v.extend(Rule::UnsubackReasonCodes.violation(
                version,
                format!("UNSUBACK reason code {code} is not an UNSUBACK reason code"),
            ));
        }
        if reasons.is_empty() {
            v.extend(Rule::UnsubackReasonCodes.violation(
                version,
                "UNSUBACK has no reason code (an UNSUBSCRIBE has at least one filter)",
            ));
        }
        Ok(Self {
            id,
            properties,
            reasons,
        })
    }
}
