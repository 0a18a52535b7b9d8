//! Statement texts for the HTML report: an id a case names, read with the case's group (MQTT ids
//! are shared by 3.1.1 and 5.0), looked up in the spec lists.

use std::collections::HashMap;

use crate::case::Protocol;
use crate::spec::statements::{LISTS, SpecList};

/// A statement's text and the list it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatementText {
    /// The list's title (`MQTT 5.0`).
    pub list: &'static str,
    /// The statement's text excerpt.
    pub excerpt: &'static str,
}

/// Every list's statements by id, built once per report.
pub struct StatementIndex {
    lists: Vec<(&'static SpecList, HashMap<&'static str, &'static str>)>,
}

impl StatementIndex {
    /// Reads every statement list.
    pub fn load() -> Self {
        let lists = LISTS
            .iter()
            .map(|l| {
                (
                    l,
                    l.statements()
                        .into_iter()
                        .map(|s| (s.id, s.excerpt))
                        .collect(),
                )
            })
            .collect();
        Self { lists }
    }

    /// The text of `id` as a case of `group` (`mqtt.v5`, `mqtt.v311`, `xmpp...`) means it.
    pub fn lookup(&self, group: &str, id: &str) -> Option<StatementText> {
        let (protocol, version) = protocol_version(group)?;
        self.lists
            .iter()
            .filter(|(l, _)| l.counts(protocol, version, id))
            .find_map(|(l, ids)| {
                ids.get(id).map(|excerpt| StatementText {
                    list: l.title,
                    excerpt,
                })
            })
    }
}

/// The protocol and MQTT version of a result group.
fn protocol_version(group: &str) -> Option<(Protocol, Option<&'static str>)> {
    match group.split('.').next() {
        Some("mqtt") if group == "mqtt.v5" => Some((Protocol::Mqtt, Some("5.0"))),
        Some("mqtt") => Some((Protocol::Mqtt, Some("3.1.1"))),
        Some("xmpp") => Some((Protocol::Xmpp, None)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mqtt_ids_are_read_with_the_group_version() {
        let index = StatementIndex::load();
        let v311 = index.lookup("mqtt.v311", "MQTT-3.1.0-1").unwrap();
        let v5 = index.lookup("mqtt.v5", "MQTT-3.1.0-1").unwrap();
        assert_eq!((v311.list, v5.list), ("MQTT 3.1.1", "MQTT 5.0"));
        assert!(!v311.excerpt.is_empty() && !v5.excerpt.is_empty());
        let x = index.lookup("xmpp", "RFC7395-3.1-2").unwrap();
        assert_eq!(x.list, "RFC 7395");
        assert_eq!(index.lookup("xmpp", "MQTT-3.1.0-1"), None);
        assert_eq!(index.lookup("mqtt.v311", "MQTT-9.9.9-9"), None);
    }
}
