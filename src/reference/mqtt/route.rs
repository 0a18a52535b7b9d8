//! Routing: retained messages, which subscriptions a message reaches (options, shared groups) and how it is forwarded.

use std::collections::BTreeMap;

use tokio::time::Instant;

use super::fault::MqttFault;
use super::session::{Message, Post, Sub};
use super::state::{Incoming, Retained, Shared, State};
use crate::mqtt::topic;
use crate::mqtt::{Properties, Version};

impl Shared {
    fn matches(&self, filter: &str, name: &str) -> bool {
        if self.has(MqttFault::DollarWildcard)
            && filter.starts_with(['+', '#'])
            && let Some(rest) = name.strip_prefix('$')
        {
            return topic::matches(filter, &format!("_{rest}"));
        }
        topic::matches(filter, name)
    }

    /// The properties a message is forwarded with (MQTT-3.3.2-4, -15, -16, -17, -18, -20).
    fn forwarded(&self, props: &Properties) -> Properties {
        let mut user_properties = props.user_properties.clone();
        if self.has(MqttFault::UserPropertiesReordered) {
            user_properties.reverse();
        }
        Properties {
            payload_format_indicator: props
                .payload_format_indicator
                .filter(|_| !self.has(MqttFault::PayloadFormatDropped)),
            message_expiry_interval: props.message_expiry_interval,
            content_type: props.content_type.clone(),
            response_topic: props.response_topic.clone(),
            correlation_data: props.correlation_data.clone(),
            user_properties,
            ..Properties::default()
        }
    }

    /// When a message expires: None when it never does (or expiry is switched off by a fault).
    fn expiry(&self, props: &Properties) -> Option<(u32, Instant)> {
        props
            .message_expiry_interval
            .filter(|_| !self.has(MqttFault::MessageExpiryIgnored))
            .map(|i| (i, Instant::now()))
    }

    /// Stores/clears the retained message and forwards a message to every matching session;
    /// true when some subscription matched.
    pub(crate) fn publish(&self, st: &mut State, msg: Incoming, out: &mut Post<'_>) -> bool {
        let props = self.forwarded(&msg.props);
        let expiry = self.expiry(&msg.props);
        if msg.retain {
            if msg.payload.is_empty() {
                // MQTT-3.3.1-10 / -11 (3.1.1), MQTT-3.3.1-6 / -7 (5.0): a zero-byte retained message deletes.
                if !self.has(MqttFault::RetainNotCleared) {
                    st.retained.remove(&msg.topic);
                }
            } else {
                st.retained.insert(
                    msg.topic.clone(),
                    Retained {
                        payload: msg.payload.clone(),
                        qos: msg.qos,
                        props: props.clone(),
                        expiry,
                    },
                );
            }
        }
        let mut matched = false;
        let mut groups: BTreeMap<(String, String), Vec<(String, Sub)>> = BTreeMap::new();
        let no_local = !self.has(MqttFault::NoLocalIgnored);
        for (client_id, session) in st.sessions.iter_mut() {
            let mut best: Option<(u8, bool)> = None;
            let mut ids = Vec::new();
            for (filter, sub) in &session.subscriptions {
                if let Some((group, f)) = &sub.share {
                    if self.matches(f, &msg.topic) {
                        groups
                            .entry((group.clone(), f.clone()))
                            .or_default()
                            .push((client_id.clone(), sub.clone()));
                    }
                    continue;
                }
                if !self.matches(filter, &msg.topic) {
                    continue;
                }
                // MQTT-3.8.3-3: No Local keeps a client's own messages from it.
                if no_local && sub.no_local && msg.from.as_deref() == Some(client_id.as_str()) {
                    continue;
                }
                let retain = self.retain_flag(session.version, sub, msg.retain);
                let (q, r) = best.unwrap_or((0, false));
                best = Some((q.max(sub.qos), r || retain));
                ids.extend(sub.id);
            }
            // MQTT-3.3.5-1 (3.1.1) / MQTT-3.3.4-2 (5.0): one copy, at the maximum QoS of all matching subscriptions.
            if let Some((granted, retain)) = best {
                matched = true;
                let mut props = props.clone();
                if !self.has(MqttFault::NoSubscriptionIdentifier) {
                    // MQTT-3.3.4-3 / -4.
                    props.subscription_identifier = ids;
                }
                let m = Message {
                    topic: msg.topic.clone(),
                    payload: msg.payload.clone(),
                    qos: msg.qos.min(granted),
                    retain,
                    props,
                    expiry,
                };
                session.deliver(m, &st.conns, out);
            }
        }
        for members in groups.into_values() {
            matched = true;
            let chosen: Vec<&(String, Sub)> = if self.has(MqttFault::SharedSubscriptionDuplicates) {
                members.iter().collect()
            } else {
                // Section 4.8.2: each message to one member, taking turns among connected sessions.
                let online: Vec<&(String, Sub)> = members
                    .iter()
                    .filter(|(id, _)| st.sessions.get(id).is_some_and(|s| s.conn.is_some()))
                    .collect();
                let pool = if online.is_empty() {
                    members.iter().collect()
                } else {
                    online
                };
                st.share_turn += 1;
                let turn = usize::try_from(st.share_turn).unwrap_or(0) % pool.len().max(1);
                pool.get(turn).copied().into_iter().collect()
            };
            for (client_id, sub) in chosen {
                let Some(session) = st.sessions.get_mut(client_id) else {
                    continue;
                };
                let mut props = props.clone();
                if !self.has(MqttFault::NoSubscriptionIdentifier) {
                    props.subscription_identifier = sub.id.into_iter().collect();
                }
                let m = Message {
                    topic: msg.topic.clone(),
                    payload: msg.payload.clone(),
                    qos: msg.qos.min(sub.qos),
                    retain: self.retain_flag(session.version, sub, msg.retain),
                    props,
                    expiry,
                };
                session.deliver(m, &st.conns, out);
            }
        }
        matched
    }

    /// RETAIN on normal delivery: 0 in 3.1.1 (MQTT-3.3.1-9); in 5.0 as published only with
    /// Retain As Published (MQTT-3.3.1-12 / -13).
    fn retain_flag(&self, version: Version, sub: &Sub, retain: bool) -> bool {
        match version {
            Version::V311 => retain && self.has(MqttFault::RetainOnDelivery),
            Version::V5 => {
                retain && sub.retain_as_published && !self.has(MqttFault::RetainAsPublishedIgnored)
            }
        }
    }

    /// Sends the retained messages matching a new subscription, with RETAIN 1.
    pub(crate) fn send_retained(
        &self,
        st: &mut State,
        client_id: &str,
        filter: &str,
        sub: &Sub,
        out: &mut Post<'_>,
    ) {
        let Some(session) = st.sessions.get_mut(client_id) else {
            return;
        };
        let ids: Vec<u32> = if self.has(MqttFault::NoSubscriptionIdentifier) {
            Vec::new()
        } else {
            sub.id.into_iter().collect()
        };
        for (name, r) in &st.retained {
            if !self.matches(filter, name) {
                continue;
            }
            let mut props = r.props.clone();
            props.subscription_identifier = ids.clone();
            let msg = Message {
                topic: name.clone(),
                payload: r.payload.clone(),
                qos: r.qos.min(sub.qos),
                retain: true,
                props,
                expiry: r.expiry,
            };
            session.deliver(msg, &st.conns, out);
        }
    }
}
