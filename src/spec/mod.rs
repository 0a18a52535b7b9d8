//! The normative statement ids checks may be tagged with (from the project's spec lists).

pub mod statements;

use std::collections::HashSet;
use std::sync::OnceLock;

const MQTT_311: &str = include_str!("mqtt-3.1.1.ids");
const MQTT_50: &str = include_str!("mqtt-5.0.ids");
const XMPP: &str = include_str!("xmpp.ids");

/// Which list of statements an id is looked up in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecSet {
    /// MQTT 3.1.1 Appendix B.
    Mqtt311,
    /// MQTT 5.0 normative statements.
    Mqtt50,
    /// RFC 7395 requirements and the RFC 6120/6121 server checks.
    Xmpp,
}

impl SpecSet {
    /// Every id of the set, in document order.
    pub fn ids(self) -> impl Iterator<Item = &'static str> {
        let text = match self {
            SpecSet::Mqtt311 => MQTT_311,
            SpecSet::Mqtt50 => MQTT_50,
            SpecSet::Xmpp => XMPP,
        };
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
    }

    /// Whether `id` names a statement of this set.
    pub fn contains(self, id: &str) -> bool {
        static SETS: OnceLock<[HashSet<&'static str>; 3]> = OnceLock::new();
        let sets = SETS.get_or_init(|| {
            [
                SpecSet::Mqtt311.ids().collect(),
                SpecSet::Mqtt50.ids().collect(),
                SpecSet::Xmpp.ids().collect(),
            ]
        });
        let i = match self {
            SpecSet::Mqtt311 => 0,
            SpecSet::Mqtt50 => 1,
            SpecSet::Xmpp => 2,
        };
        sets[i].contains(id)
    }

    /// A short name for messages.
    pub fn name(self) -> &'static str {
        match self {
            SpecSet::Mqtt311 => "MQTT 3.1.1",
            SpecSet::Mqtt50 => "MQTT 5.0",
            SpecSet::Xmpp => "RFC 7395/6120/6121",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_complete() {
        assert_eq!(SpecSet::Mqtt311.ids().count(), 141);
        assert_eq!(SpecSet::Mqtt50.ids().count(), 251);
        assert!(SpecSet::Mqtt311.contains("MQTT-3.1.0-1"));
        assert!(SpecSet::Xmpp.contains("RFC7395-3.1-2"));
        assert!(!SpecSet::Xmpp.contains("RFC7395-9.9-9"));
    }
}
