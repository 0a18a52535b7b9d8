//! CONNACK: the model, its body encoding and its strict decoding.

use serde::{Deserialize, Serialize};

use super::Version;
use super::codes::ConnectReturnCode;
use super::error::EncodeError;
use super::packet::PacketType;
use super::properties::{Properties, Site};
use super::reason::ReasonCode;
use super::rules::Rule;
use super::wire::{Reader, truncated};
use crate::violation::Violation;

/// CONNACK: session present flag and a 3.1.1 return code (`code`) or a 5.0 reason code
/// (`reason`) with properties. A decoded packet has `code` in 3.1.1 and `reason` in 5.0.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Connack {
    /// Session Present flag (bit 0 of the acknowledge flags).
    #[serde(default)]
    pub session_present: bool,
    /// 3.1.1 connect return code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<ConnectReturnCode>,
    /// 5.0 connect reason code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<ReasonCode>,
    /// 5.0 properties.
    #[serde(default, skip_serializing_if = "Properties::is_empty")]
    pub properties: Properties,
}

impl Connack {
    /// A 3.1.1 CONNACK with this return code.
    pub fn v311(session_present: bool, code: ConnectReturnCode) -> Self {
        Self {
            session_present,
            code: Some(code),
            ..Self::default()
        }
    }

    /// The byte written as the return/reason code: `reason` in 5.0 (else `code`), `code` in
    /// 3.1.1 (else `reason`), 0 when neither is given.
    pub(crate) fn code_byte(&self, version: Version) -> u8 {
        let code = self.code.map(ConnectReturnCode::to_byte);
        let reason = self.reason.map(ReasonCode::to_byte);
        match version {
            Version::V311 => code.or(reason),
            Version::V5 => reason.or(code),
        }
        .unwrap_or(0)
    }

    /// Writes the variable header; returns the fixed-header flags.
    pub(crate) fn encode_body(
        &self,
        version: Version,
        out: &mut Vec<u8>,
    ) -> Result<u8, EncodeError> {
        out.push(u8::from(self.session_present));
        out.push(self.code_byte(version));
        if version == Version::V5 {
            self.properties.encode(out)?;
        }
        Ok(0)
    }

    /// Reads a CONNACK body of `version`, reporting every deviation.
    pub(crate) fn decode(
        r: &mut Reader<'_>,
        version: Version,
        v: &mut Vec<Violation>,
    ) -> Result<Self, Violation> {
        let cut = |what: &str| truncated(Rule::TruncatedField, version, what);
        let flags = r
            .u8()
            .ok_or_else(|| cut("CONNACK ends before its acknowledge flags"))?;
        let byte = r
            .u8()
            .ok_or_else(|| cut("CONNACK ends before its return code"))?;
        if flags & 0xfe != 0 {
            v.extend(Rule::ConnackReservedFlags.violation(
                version,
                format!("CONNACK acknowledge flags are 0x{flags:02x}; bits 7-1 are reserved and must be 0"),
            ));
        }
        let session_present = flags & 0x01 != 0;
        if version == Version::V5 {
            let reason = ReasonCode::for_packet(PacketType::Connack, byte);
            if !reason.allowed_in(PacketType::Connack) {
                v.extend(Rule::ConnackReservedCode.violation(
                    version,
                    format!("CONNACK reason code {reason} is not a CONNACK reason code"),
                ));
            }
            if session_present && byte != 0 {
                v.extend(Rule::RefusalNotPresent.violation(
                    version,
                    format!("CONNACK has reason code {reason} with Session Present 1"),
                ));
            }
            let properties = Properties::decode(r, Site::Packet(PacketType::Connack), version, v)?;
            return Ok(Self {
                session_present,
                code: None,
                reason: Some(reason),
                properties,
            });
        }
        let code = ConnectReturnCode::from_byte(byte);
        if !code.is_defined() {
            v.extend(Rule::ConnackReservedCode.violation(
                version,
                format!(
                    "CONNACK return code 0x{byte:02x} is reserved (only 0x00-0x05 are defined)"
                ),
            ));
        }
        if session_present && code != ConnectReturnCode::Accepted {
            v.extend(Rule::RefusalNotPresent.violation(
                version,
                format!("CONNACK has return code {code} with Session Present 1"),
            ));
        }
        Ok(Self::v311(session_present, code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::codec::tests::{decode_s2c, ids, s2c_specs};
    use crate::mqtt::{Packet, Version, encode};

    #[test]
    fn vectors() {
        let p = Packet::Connack(Connack::v311(true, ConnectReturnCode::Accepted));
        let bytes = [0x20, 0x02, 0x01, 0x00];
        assert_eq!(encode(&p, Version::V311).unwrap(), bytes);
        let d = decode_s2c(&bytes).unwrap();
        assert_eq!(d.packet, p);
        assert!(d.violations.is_empty());
        let refused = [0x20, 0x02, 0x00, 0x05];
        let d = decode_s2c(&refused).unwrap();
        assert_eq!(
            d.packet,
            Packet::Connack(Connack::v311(false, ConnectReturnCode::NotAuthorized))
        );
    }

    #[test]
    fn violations() {
        assert_eq!(
            s2c_specs(&[0x20, 0x02, 0x02, 0x00]),
            ids([Rule::ConnackReservedFlags])
        );
        assert_eq!(
            s2c_specs(&[0x20, 0x02, 0x00, 0x06]),
            ids([Rule::ConnackReservedCode])
        );
        assert_eq!(
            s2c_specs(&[0x20, 0x02, 0x01, 0x01]),
            ids([Rule::RefusalNotPresent])
        );
        // Trailing byte after the return code.
        assert_eq!(
            s2c_specs(&[0x20, 0x03, 0x00, 0x00, 0x00]),
            ids([Rule::TrailingBytes])
        );
        assert!(matches!(
            decode_s2c(&[0x20, 0x01, 0x00]),
            Err(crate::mqtt::DecodeError::Malformed { .. })
        ));
    }
}
