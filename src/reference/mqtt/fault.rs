//! Fault switches: each makes the reference broker break exactly one 3.1.1 rule, to prove a check can fail.

use std::fmt;
use std::str::FromStr;

/// One deliberate deviation of the reference broker, named in kebab-case on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MqttFault {
    /// PUBACK carries the PUBLISH's packet id + 1.
    WrongPubackId,
    /// Malformed packets and decoder violations do not close the connection.
    NoCloseOnMalformed,
    /// SUBACK grants QoS 2 whatever was requested.
    SubackGrantsMore,
    /// A retained PUBLISH with an empty payload does not delete the retained message.
    RetainNotCleared,
    /// Every packet sent encodes its remaining length in four bytes.
    NonMinimalLength,
    /// An unsupported protocol level closes the connection without CONNACK 0x01.
    NoConnackOnBadLevel,
    /// PINGREQ gets no PINGRESP.
    NoPingresp,
    /// The will message is published even after a DISCONNECT.
    WillOnDisconnect,
    /// Topic filters starting with a wildcard also match topics starting with `$`.
    DollarWildcard,
    /// A re-sent QoS 2 PUBLISH (same id, before PUBREL) is delivered again.
    Qos2Duplicate,
    /// Messages forwarded to established subscriptions keep the publisher's RETAIN flag.
    RetainOnDelivery,
}

impl MqttFault {
    /// Every fault, in declaration order.
    pub const ALL: &'static [MqttFault] = &[
        MqttFault::WrongPubackId,
        MqttFault::NoCloseOnMalformed,
        MqttFault::SubackGrantsMore,
        MqttFault::RetainNotCleared,
        MqttFault::NonMinimalLength,
        MqttFault::NoConnackOnBadLevel,
        MqttFault::NoPingresp,
        MqttFault::WillOnDisconnect,
        MqttFault::DollarWildcard,
        MqttFault::Qos2Duplicate,
        MqttFault::RetainOnDelivery,
    ];

    /// The kebab-case name used by `--fault`.
    pub fn name(self) -> &'static str {
        match self {
            MqttFault::WrongPubackId => "wrong-puback-id",
            MqttFault::NoCloseOnMalformed => "no-close-on-malformed",
            MqttFault::SubackGrantsMore => "suback-grants-more",
            MqttFault::RetainNotCleared => "retain-not-cleared",
            MqttFault::NonMinimalLength => "non-minimal-length",
            MqttFault::NoConnackOnBadLevel => "no-connack-on-bad-level",
            MqttFault::NoPingresp => "no-pingresp",
            MqttFault::WillOnDisconnect => "will-on-disconnect",
            MqttFault::DollarWildcard => "dollar-wildcard",
            MqttFault::Qos2Duplicate => "qos2-duplicate",
            MqttFault::RetainOnDelivery => "retain-on-delivery",
        }
    }

    /// What the fault breaks, with the statement id, in one line.
    pub fn describe(self) -> &'static str {
        match self {
            MqttFault::WrongPubackId => {
                "PUBACK carries the PUBLISH's packet id + 1 (breaks MQTT-2.3.1-6)"
            }
            MqttFault::NoCloseOnMalformed => {
                "keeps the connection open after a malformed packet or protocol violation (breaks MQTT-4.8.0-1, MQTT-2.2.2-2)"
            }
            MqttFault::SubackGrantsMore => {
                "SUBACK grants QoS 2 whatever was requested (breaks MQTT-3.8.4-5/-6)"
            }
            MqttFault::RetainNotCleared => {
                "an empty retained PUBLISH does not delete the retained message (breaks MQTT-3.3.1-10)"
            }
            MqttFault::NonMinimalLength => {
                "encodes the remaining length of every packet it sends in four bytes (section 2.2.3)"
            }
            MqttFault::NoConnackOnBadLevel => {
                "closes without CONNACK 0x01 on an unsupported protocol level (breaks MQTT-3.1.2-2)"
            }
            MqttFault::NoPingresp => "does not answer PINGREQ (breaks MQTT-3.12.4-1)",
            MqttFault::WillOnDisconnect => {
                "publishes the will message even after DISCONNECT (breaks MQTT-3.14.4-3)"
            }
            MqttFault::DollarWildcard => {
                "leading wildcards match topics starting with `$` (breaks MQTT-4.7.2-1)"
            }
            MqttFault::Qos2Duplicate => {
                "delivers a re-sent QoS 2 PUBLISH again before PUBREL (breaks MQTT-4.3.3-2)"
            }
            MqttFault::RetainOnDelivery => {
                "forwards messages to established subscriptions with RETAIN 1 (breaks MQTT-3.3.1-9)"
            }
        }
    }
}

impl fmt::Display for MqttFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not one of `MqttFault::ALL`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown MQTT fault `{name}` (known: {known})")]
pub struct UnknownFault {
    /// The name given.
    pub name: String,
    /// The known names, comma-separated.
    pub known: String,
}

impl FromStr for MqttFault {
    type Err = UnknownFault;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MqttFault::ALL
            .iter()
            .copied()
            .find(|f| f.name() == s)
            .ok_or_else(|| UnknownFault {
                name: s.to_string(),
                known: MqttFault::ALL
                    .iter()
                    .map(|f| f.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut names = std::collections::BTreeSet::new();
        for &f in MqttFault::ALL {
            assert_eq!(f.name().parse::<MqttFault>().unwrap(), f);
            assert!(names.insert(f.name()));
            assert!(!f.describe().is_empty());
            assert!(
                f.name()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '-' || c.is_ascii_digit())
            );
        }
        let err = "nope".parse::<MqttFault>().unwrap_err();
        assert!(err.to_string().contains("wrong-puback-id"));
    }
}
