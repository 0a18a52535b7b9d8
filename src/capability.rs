//! Optional target features a case may require (`requires:`) and a profile may declare
//! (`capabilities:`): the one list of their names.

use std::collections::BTreeMap;
use std::fmt;

/// An optional feature of a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// MQTT 5.0 connections.
    Mqtt5,
    /// QoS 2 delivery.
    Qos2,
    /// Retained messages.
    Retain,
    /// Wildcard subscriptions (`+`, `#`).
    Wildcards,
    /// MQTT 5.0 shared subscriptions (`$share/...`).
    SharedSubscriptions,
    /// MQTT 5.0 subscription identifiers.
    SubscriptionIds,
    /// MQTT 5.0 topic aliases.
    TopicAlias,
    /// Reachable over WebSocket.
    Websocket,
    /// Will messages.
    Will,
    /// XMPP multi-user chat (XEP-0045).
    Muc,
    /// SASL SCRAM-SHA-1.
    ScramSha1,
    /// SASL SCRAM-SHA-256.
    ScramSha256,
    /// In-band registration (XEP-0077).
    Register,
    /// XMPP stream management (XEP-0198).
    StreamManagement,
    /// host-meta discovery of the WebSocket endpoint (RFC 7395 Section 4).
    HostMeta,
}

impl Capability {
    /// Every capability, in the order of its names.
    pub const ALL: &'static [Capability] = &[
        Capability::Mqtt5,
        Capability::Qos2,
        Capability::Retain,
        Capability::Wildcards,
        Capability::SharedSubscriptions,
        Capability::SubscriptionIds,
        Capability::TopicAlias,
        Capability::Websocket,
        Capability::Will,
        Capability::Muc,
        Capability::ScramSha1,
        Capability::ScramSha256,
        Capability::Register,
        Capability::StreamManagement,
        Capability::HostMeta,
    ];

    /// The name written in cases and profiles.
    pub fn name(self) -> &'static str {
        match self {
            Capability::Mqtt5 => "mqtt5",
            Capability::Qos2 => "qos2",
            Capability::Retain => "retain",
            Capability::Wildcards => "wildcards",
            Capability::SharedSubscriptions => "shared_subscriptions",
            Capability::SubscriptionIds => "subscription_ids",
            Capability::TopicAlias => "topic_alias",
            Capability::Websocket => "websocket",
            Capability::Will => "will",
            Capability::Muc => "muc",
            Capability::ScramSha1 => "scram_sha_1",
            Capability::ScramSha256 => "scram_sha_256",
            Capability::Register => "register",
            Capability::StreamManagement => "stream_management",
            Capability::HostMeta => "host_meta",
        }
    }

    /// The capability with this name.
    pub fn parse(name: &str) -> Option<Capability> {
        Self::ALL.iter().copied().find(|c| c.name() == name)
    }

    /// An error message for a name that is not a capability.
    pub fn unknown(name: &str) -> String {
        let names: Vec<&str> = Self::ALL.iter().map(|c| c.name()).collect();
        format!(
            "`{name}` is not a known capability; expected one of {}",
            names.join(", ")
        )
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a target's answer about a capability comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The profile's `capabilities:`.
    Profile,
    /// What a protocol learned from the target (`Protocol::probe`), with the message it read.
    Learned(&'static str),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Profile => f.write_str("profile"),
            Source::Learned(from) => write!(f, "learned from {from}"),
        }
    }
}

/// Capabilities a protocol learned from the target: capability → available, and the message
/// it learned them from (e.g. "CONNACK").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Learned {
    /// What was learned.
    pub capabilities: BTreeMap<Capability, bool>,
    /// The message read, for skip reasons ("learned from CONNACK").
    pub from: &'static str,
}

/// What is known of a target's capabilities; absent ones are assumed available.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Known(BTreeMap<Capability, (bool, Source)>);

impl Known {
    /// Records the profile's declarations (they win over anything learned).
    pub fn declare(&mut self, c: Capability, available: bool) {
        self.0.insert(c, (available, Source::Profile));
    }

    /// Adds what a probe learned, where the profile says nothing.
    pub fn learn(&mut self, learned: &Learned) {
        for (c, available) in &learned.capabilities {
            self.0
                .entry(*c)
                .or_insert((*available, Source::Learned(learned.from)));
        }
    }

    /// The first of `required` the target is known to lack, with where that is known from.
    pub fn first_missing(&self, required: &[Capability]) -> Option<(Capability, Source)> {
        required.iter().find_map(|c| match self.0.get(c) {
            Some((false, source)) => Some((*c, *source)),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_profile_wins() {
        for c in Capability::ALL {
            assert_eq!(Capability::parse(c.name()), Some(*c));
        }
        assert_eq!(Capability::parse("qos3"), None);
        let mut k = Known::default();
        k.declare(Capability::Qos2, true);
        k.learn(&Learned {
            capabilities: [(Capability::Qos2, false), (Capability::Retain, false)].into(),
            from: "CONNACK",
        });
        assert_eq!(k.first_missing(&[Capability::Qos2]), None);
        assert_eq!(
            k.first_missing(&[Capability::Will, Capability::Retain]),
            Some((Capability::Retain, Source::Learned("CONNACK")))
        );
        assert_eq!(
            Source::Learned("CONNACK").to_string(),
            "learned from CONNACK"
        );
    }
}
