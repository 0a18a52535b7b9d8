//! Fault switches: each makes the reference broker break exactly one 3.1.1 or 5.0 rule, to prove a check can fail.

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
    /// 5.0: sends up to 100 unacknowledged QoS 1/2 PUBLISHes whatever the client's Receive Maximum.
    IgnoresReceiveMaximum,
    /// 5.0: deliveries never carry the subscription's Subscription Identifier.
    NoSubscriptionIdentifier,
    /// 5.0: the No Local subscription option is ignored.
    NoLocalIgnored,
    /// 5.0: the Retain As Published subscription option is ignored (RETAIN always 0).
    RetainAsPublishedIgnored,
    /// 5.0: Retain Handling 1 and 2 are treated as 0.
    RetainHandlingIgnored,
    /// 5.0: expired messages are still delivered, with their original Message Expiry Interval.
    MessageExpiryIgnored,
    /// 5.0: the will is published at once, whatever the Will Delay Interval.
    WillDelayIgnored,
    /// 5.0: packets larger than the client's Maximum Packet Size are sent anyway.
    OversizePacketSent,
    /// 5.0: a message for a shared subscription goes to every member of the group.
    SharedSubscriptionDuplicates,
    /// 5.0: a session ends when its connection closes, whatever its Session Expiry Interval.
    SessionExpiryIgnored,
    /// 5.0: forwarded messages carry their User Properties in reverse order.
    UserPropertiesReordered,
    /// 5.0: forwarded messages lose their Payload Format Indicator.
    PayloadFormatDropped,
    /// 5.0: any Topic Alias from the client is refused with DISCONNECT 0x94.
    TopicAliasRejected,
    /// 5.0: a zero-length client id is accepted, but CONNACK omits the Assigned Client Identifier.
    NoAssignedClientId,
    /// 5.0: every QoS 1/2 delivery uses packet id 1, even while an earlier one is unacknowledged.
    ReusedPacketId,
    /// 5.0: every CONNACK carries Response Information, requested or not.
    UnrequestedResponseInformation,
    /// 5.0: acknowledgements carry a 100-byte Reason String, past the client's Maximum Packet Size.
    OversizeReasonString,
    /// 5.0: the AUTH packets and the CONNACK of an enhanced authentication omit its method.
    AuthMethodDropped,
    /// 5.0: a failed re-authentication is ignored: no DISCONNECT, no close.
    ReauthFailureIgnored,
    /// 5.0: the broker process aborts on a SUBSCRIBE carrying its Subscription Identifier twice,
    /// once the connection has handled another packet after CONNECT (a crash for the fuzzer to find).
    CrashMqtt5Deep,
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
        MqttFault::IgnoresReceiveMaximum,
        MqttFault::NoSubscriptionIdentifier,
        MqttFault::NoLocalIgnored,
        MqttFault::RetainAsPublishedIgnored,
        MqttFault::RetainHandlingIgnored,
        MqttFault::MessageExpiryIgnored,
        MqttFault::WillDelayIgnored,
        MqttFault::OversizePacketSent,
        MqttFault::SharedSubscriptionDuplicates,
        MqttFault::SessionExpiryIgnored,
        MqttFault::UserPropertiesReordered,
        MqttFault::PayloadFormatDropped,
        MqttFault::TopicAliasRejected,
        MqttFault::NoAssignedClientId,
        MqttFault::ReusedPacketId,
        MqttFault::UnrequestedResponseInformation,
        MqttFault::OversizeReasonString,
        MqttFault::AuthMethodDropped,
        MqttFault::ReauthFailureIgnored,
        MqttFault::CrashMqtt5Deep,
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
            MqttFault::IgnoresReceiveMaximum => "ignores-receive-maximum",
            MqttFault::NoSubscriptionIdentifier => "no-subscription-identifier",
            MqttFault::NoLocalIgnored => "no-local-ignored",
            MqttFault::RetainAsPublishedIgnored => "retain-as-published-ignored",
            MqttFault::RetainHandlingIgnored => "retain-handling-ignored",
            MqttFault::MessageExpiryIgnored => "message-expiry-ignored",
            MqttFault::WillDelayIgnored => "will-delay-ignored",
            MqttFault::OversizePacketSent => "oversize-packet-sent",
            MqttFault::SharedSubscriptionDuplicates => "shared-subscription-duplicates",
            MqttFault::SessionExpiryIgnored => "session-expiry-ignored",
            MqttFault::UserPropertiesReordered => "user-properties-reordered",
            MqttFault::PayloadFormatDropped => "payload-format-dropped",
            MqttFault::TopicAliasRejected => "topic-alias-rejected",
            MqttFault::NoAssignedClientId => "no-assigned-client-id",
            MqttFault::ReusedPacketId => "reused-packet-id",
            MqttFault::UnrequestedResponseInformation => "unrequested-response-information",
            MqttFault::OversizeReasonString => "oversize-reason-string",
            MqttFault::AuthMethodDropped => "auth-method-dropped",
            MqttFault::ReauthFailureIgnored => "reauth-failure-ignored",
            MqttFault::CrashMqtt5Deep => "crash-mqtt5-deep",
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
            MqttFault::IgnoresReceiveMaximum => {
                "sends more unacknowledged QoS 1/2 PUBLISHes than the client's Receive Maximum (breaks MQTT-3.3.4-9)"
            }
            MqttFault::NoSubscriptionIdentifier => {
                "omits the Subscription Identifier of the matching subscription on delivery (breaks MQTT-3.3.4-3)"
            }
            MqttFault::NoLocalIgnored => {
                "forwards a client's own messages to its No Local subscription (breaks MQTT-3.8.3-3)"
            }
            MqttFault::RetainAsPublishedIgnored => {
                "forwards with RETAIN 0 to a Retain As Published subscription (breaks MQTT-3.3.1-13)"
            }
            MqttFault::RetainHandlingIgnored => {
                "sends retained messages whatever the Retain Handling option (breaks MQTT-3.3.1-10, MQTT-3.3.1-11)"
            }
            MqttFault::MessageExpiryIgnored => {
                "delivers messages whose Message Expiry Interval has passed (breaks MQTT-3.3.2-5)"
            }
            MqttFault::WillDelayIgnored => {
                "publishes the will at once, even if the client reconnects within the Will Delay Interval (breaks MQTT-3.1.3-9)"
            }
            MqttFault::OversizePacketSent => {
                "sends packets larger than the client's Maximum Packet Size (breaks MQTT-3.1.2-24)"
            }
            MqttFault::SharedSubscriptionDuplicates => {
                "delivers a message to every member of a shared subscription group instead of one (breaks section 4.8.2)"
            }
            MqttFault::SessionExpiryIgnored => {
                "discards a 5.0 session when its connection closes despite a Session Expiry Interval above 0 (breaks MQTT-3.1.2-23)"
            }
            MqttFault::UserPropertiesReordered => {
                "forwards User Properties in reverse order (breaks MQTT-3.3.2-18)"
            }
            MqttFault::PayloadFormatDropped => {
                "drops the Payload Format Indicator when forwarding (breaks MQTT-3.3.2-4)"
            }
            MqttFault::TopicAliasRejected => {
                "refuses any Topic Alias within the Topic Alias Maximum it announced (breaks MQTT-3.3.2-12)"
            }
            MqttFault::NoAssignedClientId => {
                "accepts a zero-length client id without an Assigned Client Identifier in CONNACK (breaks MQTT-3.2.2-16)"
            }
            MqttFault::ReusedPacketId => {
                "gives every QoS 1/2 delivery packet id 1, even while an earlier one is unacknowledged (breaks MQTT-4.3.2-1, MQTT-4.3.3-1)"
            }
            MqttFault::UnrequestedResponseInformation => {
                "sends Response Information in every CONNACK, requested or not (breaks MQTT-3.1.2-28)"
            }
            MqttFault::OversizeReasonString => {
                "adds a 100-byte Reason String to acknowledgements past the client's Maximum Packet Size (breaks MQTT-3.4.2-2 and the other acknowledgements' Reason String rules)"
            }
            MqttFault::AuthMethodDropped => {
                "leaves the Authentication Method out of the AUTH packets and the CONNACK of an enhanced authentication (breaks MQTT-4.12.0-5)"
            }
            MqttFault::ReauthFailureIgnored => {
                "keeps the connection open after a failed re-authentication (breaks MQTT-4.12.1-2)"
            }
            MqttFault::CrashMqtt5Deep => {
                "5.0: the process aborts on a SUBSCRIBE with a duplicated Subscription Identifier as the third packet of a session or later (a crash for `wirecheck fuzz`)"
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
