//! What the broker states and checks only in MQTT 5.0: CONNACK properties, limits, topic aliases, error reason codes.

use std::collections::HashMap;

use crate::mqtt::{Auth, Disconnect, Packet, Properties, Publish, ReasonCode, Rule, Version};
use crate::violation::Violation;

/// Receive Maximum the broker states: QoS 2 PUBLISHes a client may leave unreleased.
pub(crate) const RECEIVE_MAXIMUM: u16 = 20;
/// Topic Alias Maximum the broker states.
pub(crate) const TOPIC_ALIAS_MAXIMUM: u16 = 10;
/// Maximum Packet Size the broker states (whole packet, fixed header included).
pub(crate) const MAXIMUM_PACKET_SIZE: u32 = 1 << 20;

/// The one enhanced authentication method the broker knows, a test method: it challenges with
/// `challenge` and accepts the answer `response` (section 4.12).
pub(crate) const TEST_AUTH_METHOD: &str = "WIRECHECK-TEST";
/// The challenge of [`TEST_AUTH_METHOD`].
const TEST_AUTH_CHALLENGE: &[u8] = b"challenge";
/// The answer [`TEST_AUTH_METHOD`] accepts.
const TEST_AUTH_RESPONSE: &[u8] = b"response";

/// The AUTH continue_authentication the broker sends for [`TEST_AUTH_METHOD`] (MQTT-4.12.0-2).
pub(crate) fn auth_challenge() -> Packet {
    Packet::Auth(Auth {
        reason: Some(ReasonCode::ContinueAuthentication),
        properties: Properties {
            authentication_method: Some(TEST_AUTH_METHOD.into()),
            authentication_data: Some(TEST_AUTH_CHALLENGE.into()),
            ..Properties::default()
        },
    })
}

/// The AUTH success that completes a re-authentication by [`TEST_AUTH_METHOD`] (MQTT-4.12.0-5).
pub(crate) fn auth_success() -> Packet {
    Packet::Auth(Auth {
        reason: Some(ReasonCode::Success),
        properties: Properties {
            authentication_method: Some(TEST_AUTH_METHOD.into()),
            ..Properties::default()
        },
    })
}

/// Whether a client's AUTH answers the challenge correctly (MQTT-4.12.0-3: continue_authentication, same method).
pub(crate) fn auth_answered(auth: &Auth) -> bool {
    auth.reason.is_some_and(|r| r.to_byte() == 0x18)
        && auth.properties.authentication_method.as_deref() == Some(TEST_AUTH_METHOD)
        && auth
            .properties
            .authentication_data
            .as_ref()
            .is_some_and(|d| d.as_bytes() == TEST_AUTH_RESPONSE)
}

/// The CONNACK properties of an accepted 5.0 connection.
pub(crate) fn connack_properties(assigned: Option<String>) -> Properties {
    Properties {
        receive_maximum: Some(RECEIVE_MAXIMUM),
        topic_alias_maximum: Some(TOPIC_ALIAS_MAXIMUM),
        maximum_packet_size: Some(MAXIMUM_PACKET_SIZE),
        retain_available: Some(1),
        wildcard_subscription_available: Some(1),
        subscription_identifier_available: Some(1),
        shared_subscription_available: Some(1),
        assigned_client_identifier: assigned,
        ..Properties::default()
    }
}

/// A server DISCONNECT with this reason code and no properties.
pub(crate) fn disconnect(reason: ReasonCode) -> Packet {
    Packet::Disconnect(Disconnect {
        reason: Some(reason),
        properties: Properties::default(),
    })
}

/// Rules whose breach makes a packet malformed rather than a protocol error.
const MALFORMED: &[Rule] = &[
    Rule::Utf8WellFormed,
    Rule::Utf8NoNull,
    Rule::NonMinimalLength,
    Rule::ReservedFlags,
    Rule::ReservedFlagsPubrel,
    Rule::ReservedFlagsSubscribe,
    Rule::ReservedFlagsUnsubscribe,
    Rule::ReservedFlagsDisconnect,
    Rule::ReservedFlagsAuth,
    Rule::SubscribeReservedBits,
];

/// Whether a violation is of this rule in 5.0.
fn is(v: &Violation, rule: Rule) -> bool {
    rule.id(Version::V5) == Some(v.spec.as_str())
}

/// The DISCONNECT reason for the first of a packet's violations (MQTT-4.13.1-1).
pub(crate) fn reason_for(violations: &[Violation]) -> ReasonCode {
    match violations.first() {
        Some(v) if MALFORMED.iter().any(|&r| is(v, r)) => ReasonCode::MalformedPacket,
        // 3.3.2.3.4: a Topic Alias of 0 is answered with Topic Alias invalid.
        Some(v) if is(v, Rule::TopicAliasNonZero) => ReasonCode::TopicAliasInvalid,
        _ => ReasonCode::ProtocolError,
    }
}

/// Topic aliases a client set on one connection (never carried over, MQTT-3.3.2-7).
#[derive(Debug, Default)]
pub(crate) struct Aliases {
    map: HashMap<u16, String>,
}

impl Aliases {
    /// Replaces an alias by its topic (or records a new mapping); Err is the DISCONNECT reason.
    pub(crate) fn resolve(
        &mut self,
        publish: &mut Publish,
        reject_all: bool,
    ) -> Result<(), ReasonCode> {
        let Some(alias) = publish.properties.topic_alias.take() else {
            if publish.topic.is_empty() {
                return Err(ReasonCode::ProtocolError);
            }
            return Ok(());
        };
        // MQTT-3.3.2-8 / MQTT-3.3.2-12: 1..=TOPIC_ALIAS_MAXIMUM are accepted, nothing else.
        if alias == 0 || alias > TOPIC_ALIAS_MAXIMUM || reject_all {
            return Err(ReasonCode::TopicAliasInvalid);
        }
        if publish.topic.is_empty() {
            match self.map.get(&alias) {
                Some(topic) => publish.topic = topic.clone(),
                // An alias never mapped on this connection.
                None => return Err(ReasonCode::ProtocolError),
            }
        } else {
            self.map.insert(alias, publish.topic.clone());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publish(topic: &str, alias: Option<u16>) -> Publish {
        Publish {
            topic: topic.into(),
            properties: Properties {
                topic_alias: alias,
                ..Properties::default()
            },
            ..Publish::default()
        }
    }

    #[test]
    fn aliases_map_and_resolve() {
        let mut a = Aliases::default();
        let mut p = publish("a/b", Some(3));
        assert_eq!(a.resolve(&mut p, false), Ok(()));
        assert_eq!(p.topic, "a/b");
        assert_eq!(p.properties.topic_alias, None);
        let mut p = publish("", Some(3));
        assert_eq!(a.resolve(&mut p, false), Ok(()));
        assert_eq!(p.topic, "a/b");
        let mut p = publish("", Some(4));
        assert_eq!(a.resolve(&mut p, false), Err(ReasonCode::ProtocolError));
        let mut p = publish("x", Some(TOPIC_ALIAS_MAXIMUM + 1));
        assert_eq!(a.resolve(&mut p, false), Err(ReasonCode::TopicAliasInvalid));
        let mut p = publish("x", Some(0));
        assert_eq!(a.resolve(&mut p, false), Err(ReasonCode::TopicAliasInvalid));
        let mut p = publish("x", Some(1));
        assert_eq!(a.resolve(&mut p, true), Err(ReasonCode::TopicAliasInvalid));
        let mut p = publish("x", None);
        assert_eq!(a.resolve(&mut p, true), Ok(()));
    }

    #[test]
    fn test_auth_answer() {
        let Packet::Auth(mut a) = auth_challenge() else {
            panic!()
        };
        assert!(!auth_answered(&a));
        a.properties.authentication_data = Some(TEST_AUTH_RESPONSE.into());
        assert!(auth_answered(&a));
        a.reason = Some(ReasonCode::ReAuthenticate);
        assert!(!auth_answered(&a));
    }

    #[test]
    fn violations_map_to_reasons() {
        let v = |r: Rule| vec![r.violation(Version::V5, "x").unwrap()];
        assert_eq!(
            reason_for(&v(Rule::SubscribeReservedBits)),
            ReasonCode::MalformedPacket
        );
        assert_eq!(
            reason_for(&v(Rule::NoLocalShared)),
            ReasonCode::ProtocolError
        );
        assert_eq!(
            reason_for(&v(Rule::TopicAliasNonZero)),
            ReasonCode::TopicAliasInvalid
        );
        assert_eq!(reason_for(&[]), ReasonCode::ProtocolError);
    }
}
