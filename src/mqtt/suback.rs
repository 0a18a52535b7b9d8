//! SUBACK: the model, its body encoding and its strict decoding.

use serde::{Deserialize, Serialize};

use super::Version;
use super::codes::SubackReturnCode;
use super::error::EncodeError;
use super::rules::Rule;
use super::wire::{Reader, put_u16, truncated};
use crate::violation::Violation;

/// SUBACK: packet identifier and one return code per requested filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suback {
    /// Packet identifier of the SUBSCRIBE.
    pub id: u16,
    /// Return codes in filter order.
    pub reasons: Vec<SubackReturnCode>,
}

impl Suback {
    /// Writes the variable header and payload; returns the fixed-header flags.
    pub(crate) fn encode_body(&self, out: &mut Vec<u8>) -> Result<u8, EncodeError> {
        put_u16(out, self.id);
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
        Ok(Self { id, reasons })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::codec::tests::{c2s_specs, decode_s2c, ids, s2c_specs};
    use crate::mqtt::{Packet, Version, encode};

    #[test]
    fn vectors() {
        let p = Packet::Suback(Suback {
            id: 10,
            reasons: vec![
                SubackReturnCode::GrantedQos0,
                SubackReturnCode::GrantedQos1,
                SubackReturnCode::GrantedQos2,
                SubackReturnCode::Failure,
            ],
        });
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
            Packet::Suback(Suback {
                id: 1,
                reasons: vec![SubackReturnCode::from_byte(3)]
            })
        );
    }
}
