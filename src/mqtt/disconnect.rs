//! DISCONNECT and AUTH: in 5.0 an optional reason code and properties (3.1.1 DISCONNECT has no
//! fields, and 3.1.1 has no AUTH).

use serde::{Deserialize, Serialize};

use super::error::EncodeError;
use super::packet::PacketType;
use super::properties::{Properties, Site};
use super::reason::ReasonCode;
use super::rules::Rule;
use super::wire::Reader;
use super::{Direction, Version};
use crate::violation::Violation;

/// DISCONNECT; both fields are 5.0 only (empty and not serialized in 3.1.1).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Disconnect {
    /// 5.0 reason code; a decoded 5.0 packet always has one (`normal_disconnection` when omitted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<ReasonCode>,
    /// 5.0 properties.
    #[serde(skip_serializing_if = "Properties::is_empty")]
    pub properties: Properties,
}

/// AUTH (5.0 only): reason code and properties.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Auth {
    /// Reason code; a decoded packet always has one (`success` when the remaining length is 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<ReasonCode>,
    /// Properties.
    #[serde(skip_serializing_if = "Properties::is_empty")]
    pub properties: Properties,
}

/// Writes an optional reason code and properties: nothing when the code is success and there
/// are no properties; with `props_after_code`, a zero property length after a lone reason code.
fn encode_reason(
    reason: Option<ReasonCode>,
    properties: &Properties,
    props_after_code: bool,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let byte = reason.map_or(0, ReasonCode::to_byte);
    if byte == 0 && properties.is_empty() {
        return Ok(());
    }
    out.push(byte);
    if !properties.is_empty() || props_after_code {
        properties.encode(out)?;
    }
    Ok(())
}

/// Reads an optional reason code (0x00 when absent) and optional properties of a `kind` packet.
fn decode_reason(
    kind: PacketType,
    r: &mut Reader<'_>,
    version: Version,
    v: &mut Vec<Violation>,
) -> Result<(ReasonCode, Properties), Violation> {
    let reason = ReasonCode::for_packet(kind, r.u8().unwrap_or(0));
    if !reason.allowed_in(kind) {
        let rule = match kind {
            PacketType::Auth => Rule::AuthReasonCode,
            _ => Rule::DisconnectReasonCode,
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
    Ok((reason, properties))
}

impl Disconnect {
    /// Writes the 5.0 variable header (nothing in 3.1.1); returns the fixed-header flags.
    pub(crate) fn encode_body(
        &self,
        version: Version,
        out: &mut Vec<u8>,
    ) -> Result<u8, EncodeError> {
        if version == Version::V5 {
            encode_reason(self.reason, &self.properties, false, out)?;
        }
        Ok(0)
    }

    /// Reads a DISCONNECT body of `version` sent in `direction`, reporting every deviation.
    pub(crate) fn decode(
        r: &mut Reader<'_>,
        version: Version,
        direction: Direction,
        v: &mut Vec<Violation>,
    ) -> Result<Self, Violation> {
        if version == Version::V311 {
            return Ok(Self::default());
        }
        let (reason, properties) = decode_reason(PacketType::Disconnect, r, version, v)?;
        if direction == Direction::ServerToClient && properties.session_expiry_interval.is_some() {
            v.extend(Rule::DisconnectSessionExpiry.violation(
                version,
                "the server's DISCONNECT carries a Session Expiry Interval",
            ));
        }
        Ok(Self {
            reason: Some(reason),
            properties,
        })
    }
}

impl Auth {
    /// Writes the variable header; returns the fixed-header flags.
    pub(crate) fn encode_body(&self, out: &mut Vec<u8>) -> Result<u8, EncodeError> {
        encode_reason(self.reason, &self.properties, true, out)?;
        Ok(0)
    }

    /// Reads an AUTH body of `version`, reporting every deviation.
    pub(crate) fn decode(
        r: &mut Reader<'_>,
        version: Version,
        v: &mut Vec<Violation>,
    ) -> Result<Self, Violation> {
        let (reason, properties) = decode_reason(PacketType::Auth, r, version, v)?;
        Ok(Self {
            reason: Some(reason),
            properties,
        })
    }
}
