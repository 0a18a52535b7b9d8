//! The broker's shared state: connects, takeover, per-packet handling, wills and session expiry.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use super::fault::MqttFault;
use super::session::{Conn, NEVER, Post, Session, Sub};
use super::v5;
use crate::mqtt::topic;
use crate::mqtt::{
    Ack, Connack, Connect, ConnectReturnCode, Packet, Payload, Properties, ReasonCode, Suback,
    SubackCode, SubackReturnCode, Unsuback, Version, Will,
};

pub(crate) use super::session::ConnId;

/// What a connection must do after the state handled a packet.
#[derive(Debug)]
pub(crate) struct Reaction {
    /// Packets to write to this connection, in order.
    pub(crate) send: Vec<Packet>,
    /// Whether to keep the connection.
    pub(crate) then: Then,
}

/// Whether a connection goes on after a reaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Then {
    /// Keep reading.
    Continue,
    /// Close; `graceful` (after a normal DISCONNECT) suppresses the will.
    Close {
        /// True only after a normal DISCONNECT.
        graceful: bool,
    },
}

impl Reaction {
    /// Send nothing, close (no will when `graceful`).
    pub(crate) fn close(graceful: bool) -> Self {
        Self {
            send: Vec::new(),
            then: Then::Close { graceful },
        }
    }

    /// 5.0: DISCONNECT with `reason`, then close; 3.1.1: just close (both publish the will).
    pub(crate) fn disconnect(version: Version, reason: ReasonCode) -> Self {
        Self {
            send: match version {
                Version::V5 => vec![v5::disconnect(reason)],
                Version::V311 => Vec::new(),
            },
            then: Then::Close { graceful: false },
        }
    }

    /// Send these packets and keep the connection.
    pub(crate) fn reply(send: Vec<Packet>) -> Self {
        Self {
            send,
            then: Then::Continue,
        }
    }

    fn refuse(connack: Connack) -> Self {
        Self {
            send: vec![Packet::Connack(connack)],
            then: Then::Close { graceful: true },
        }
    }
}

/// What a closed connection's task still has to wait for: a delayed will, then the session's end.
#[derive(Debug)]
pub(crate) struct After {
    /// The session's client id.
    pub(crate) client_id: String,
    /// The session's epoch when the connection closed.
    pub(crate) epoch: u64,
    /// When to publish the pending will.
    pub(crate) will_in: Option<Duration>,
    /// When the session expires.
    pub(crate) expire_in: Option<Duration>,
}

/// A retained message with its properties and expiry.
#[derive(Debug)]
pub(crate) struct Retained {
    pub(crate) payload: Payload,
    pub(crate) qos: u8,
    pub(crate) props: Properties,
    pub(crate) expiry: Option<(u32, Instant)>,
}

/// An application message as received (from a PUBLISH or a will).
#[derive(Debug)]
pub(crate) struct Incoming {
    pub(crate) topic: String,
    pub(crate) payload: Payload,
    pub(crate) qos: u8,
    pub(crate) retain: bool,
    pub(crate) props: Properties,
    /// The publishing client (for No Local); None for a will.
    pub(crate) from: Option<String>,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) sessions: HashMap<String, Session>,
    pub(crate) retained: BTreeMap<String, Retained>,
    pub(crate) conns: HashMap<ConnId, Conn>,
    pub(crate) next_auto_id: u64,
    pub(crate) next_epoch: u64,
    pub(crate) share_turn: u64,
}

/// The broker state shared by all connections, behind one lock held only without awaiting.
#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<State>,
    faults: BTreeSet<MqttFault>,
    next_conn: AtomicU64,
    panics: AtomicU64,
}

impl Shared {
    /// Empty state with the given fault switches.
    pub(crate) fn new(faults: BTreeSet<MqttFault>) -> Self {
        Self {
            state: Mutex::new(State::default()),
            faults,
            next_conn: AtomicU64::new(1),
            panics: AtomicU64::new(0),
        }
    }

    /// Whether a fault switch is on.
    pub(crate) fn has(&self, fault: MqttFault) -> bool {
        self.faults.contains(&fault)
    }

    /// A new connection id.
    pub(crate) fn next_conn_id(&self) -> ConnId {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// Records that a connection task panicked.
    pub(crate) fn count_panic(&self) {
        self.panics.fetch_add(1, Ordering::Relaxed);
    }

    /// How many connection tasks panicked.
    pub(crate) fn panics(&self) -> u64 {
        self.panics.load(Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Handles a validated CONNECT of `version`: client-id checks, takeover, session setup, CONNACK and re-sends.
    pub(crate) fn connect(
        &self,
        conn_id: ConnId,
        connect: Connect,
        version: Version,
        tx: mpsc::Sender<Packet>,
        kill: Arc<Notify>,
    ) -> Reaction {
        let v5 = version == Version::V5;
        if !v5 && connect.client_id.is_empty() && !connect.clean_session {
            // MQTT-3.1.3-8.
            return Reaction::refuse(Connack::v311(false, ConnectReturnCode::IdentifierRejected));
        }
        let method = connect.properties.authentication_method.clone();
        if v5 && method.as_deref().is_some_and(|m| m != v5::TEST_AUTH_METHOD) {
            // MQTT-4.12.0-1: an enhanced authentication method the broker does not know.
            return Reaction::refuse(Connack {
                reason: Some(ReasonCode::BadAuthenticationMethod),
                ..Connack::default()
            });
        }
        let expiry = match version {
            Version::V5 => connect.properties.session_expiry_interval.unwrap_or(0),
            Version::V311 if connect.clean_session => 0,
            Version::V311 => NEVER,
        };
        let mut guard = self.lock();
        let st = &mut *guard;
        let assigned = connect.client_id.is_empty().then(|| {
            // MQTT-3.1.3-6 / MQTT-3.2.2-16: assign a unique id.
            loop {
                st.next_auto_id += 1;
                let id = format!("wirecheck-auto-{}", st.next_auto_id);
                if !st.sessions.contains_key(&id) {
                    break id;
                }
            }
        });
        let client_id = assigned
            .clone()
            .unwrap_or_else(|| connect.client_id.clone());
        let mut discard = Vec::new();
        let mut ended_will = None;
        let mut resumable = false;
        if let Some(old) = st.sessions.get_mut(&client_id) {
            // 5.0: a session with expiry 0 still exists while its connection is open (MQTT-3.2.2-3).
            resumable = old.expiry > 0 || (v5 && old.version == Version::V5 && old.conn.is_some());
            let resumes = resumable && !connect.clean_session;
            // MQTT-3.1.4-2 / MQTT-3.1.4-3: disconnect the client already connected with this id.
            if let Some(old_conn) = old.conn
                && let Some(c) = st.conns.get_mut(&old_conn)
            {
                c.dead = true;
                c.resumed_by_other = resumes;
                let notice = v5::disconnect(ReasonCode::SessionTakenOver);
                if c.version != Version::V5 || c.tx.try_send(notice).is_err() {
                    c.kill.notify_one();
                }
            }
            if resumes {
                // MQTT-3.1.3-9: a new connection within the will delay cancels the will.
                old.pending_will = None;
            } else {
                ended_will = old.pending_will.take();
            }
        }
        if connect.clean_session || !resumable {
            // MQTT-3.1.2-4 (5.0) / MQTT-3.1.2-6 (3.1.1): a clean session starts anew.
            st.sessions.remove(&client_id);
        }
        if let Some(will) = ended_will {
            // The old session ended: its delayed will goes out now (MQTT-3.1.2-8).
            let mut out = Post {
                current: conn_id,
                direct: &mut discard,
            };
            self.publish(st, Incoming::will(will), &mut out);
        }
        let session_present = !connect.clean_session && resumable;
        st.next_epoch += 1;
        let epoch = st.next_epoch;
        let session = st
            .sessions
            .entry(client_id.clone())
            .or_insert_with(|| Session::new(expiry, version));
        session.expiry = expiry;
        session.version = version;
        session.conn = Some(conn_id);
        session.epoch = epoch;
        session.send_max = super::session::MAX_INFLIGHT;
        session.max_packet = None;
        session.reuse_ids = v5 && self.has(MqttFault::ReusedPacketId);
        if v5 {
            if !self.has(MqttFault::IgnoresReceiveMaximum) {
                // MQTT-3.3.4-9: never more in flight than the client's Receive Maximum.
                let max = connect.properties.receive_maximum.unwrap_or(u16::MAX);
                session.send_max = session.send_max.min(usize::from(max.max(1)));
            }
            if !self.has(MqttFault::OversizePacketSent) {
                session.max_packet = connect.properties.maximum_packet_size;
            }
        }
        let will = connect.will.map(|w| {
            let delay = w.properties.will_delay_interval.unwrap_or(0);
            (w, if v5 { delay } else { 0 })
        });
        st.conns.insert(
            conn_id,
            Conn {
                client_id: client_id.clone(),
                version,
                will,
                expiry_was_zero: expiry == 0,
                resumed_by_other: false,
                tx,
                kill,
                dead: false,
            },
        );
        let connack = if v5 {
            let shown = assigned.filter(|_| !self.has(MqttFault::NoAssignedClientId));
            let mut properties = v5::connack_properties(shown);
            // MQTT-4.12.0-5: the method again in a successful CONNACK.
            properties.authentication_method = method;
            if self.has(MqttFault::UnrequestedResponseInformation) {
                properties.response_information = Some("wirecheck/response".into());
            }
            Connack {
                session_present,
                reason: Some(ReasonCode::Success),
                properties,
                ..Connack::default()
            }
        } else {
            Connack::v311(session_present, ConnectReturnCode::Accepted)
        };
        let mut send = vec![Packet::Connack(connack)];
        let mut out = Post {
            current: conn_id,
            direct: &mut send,
        };
        if let Some(session) = st.sessions.get_mut(&client_id) {
            session.resend(&st.conns, &mut out);
            session.pump(&st.conns, &mut out);
        }
        Reaction::reply(send)
    }

    /// Handles one packet of an accepted connection.
    pub(crate) fn packet(&self, conn_id: ConnId, packet: Packet) -> Reaction {
        let mut guard = self.lock();
        let st = &mut *guard;
        let (client_id, version, expiry_was_zero) = match st.conns.get(&conn_id) {
            Some(c) if !c.dead => (c.client_id.clone(), c.version, c.expiry_was_zero),
            Some(c) => {
                // Taken over: an acknowledgement the client sent before its new CONNECT still
                // counts for the session (the two connections race); nothing else is handled.
                let version = c.version;
                let client_id = c.client_id.clone();
                if let Some(session) = st.sessions.get_mut(&client_id) {
                    let mut discard = Vec::new();
                    let mut out = Post {
                        current: conn_id,
                        direct: &mut discard,
                    };
                    match packet {
                        Packet::Puback(Ack { id, .. }) => session.acked(id, 1, &st.conns, &mut out),
                        Packet::Pubcomp(Ack { id, .. }) => {
                            session.completed(id, &st.conns, &mut out)
                        }
                        Packet::Pubrec(Ack {
                            id,
                            reason: Some(r),
                            ..
                        }) if r.to_byte() >= 0x80 => session.acked(id, 2, &st.conns, &mut out),
                        _ => {}
                    }
                }
                return Reaction::disconnect(version, ReasonCode::SessionTakenOver);
            }
            None => return Reaction::close(false),
        };
        let v5 = version == Version::V5;
        let mut send = Vec::new();
        let mut out = Post {
            current: conn_id,
            direct: &mut send,
        };
        if !st.sessions.contains_key(&client_id) {
            return Reaction::close(false);
        }
        macro_rules! session {
            () => {
                match st.sessions.get_mut(&client_id) {
                    Some(s) => s,
                    None => return Reaction::close(false),
                }
            };
        }
        match packet {
            Packet::Publish(p) => {
                let qos = p.qos.min(2);
                let id = p.id.unwrap_or(0);
                let session = session!();
                let fresh = if qos == 2 {
                    if v5
                        && !session.incoming_qos2.contains(&id)
                        && session.incoming_qos2.len() >= usize::from(v5::RECEIVE_MAXIMUM)
                    {
                        // The client exceeds the Receive Maximum the broker stated.
                        return Reaction::disconnect(version, ReasonCode::ReceiveMaximumExceeded);
                    }
                    // Exactly once: deliver on the first PUBLISH of an id, until PUBREL frees it.
                    session.incoming_qos2.insert(id) || self.has(MqttFault::Qos2Duplicate)
                } else {
                    true
                };
                let matched = if fresh {
                    let incoming = Incoming {
                        topic: p.topic,
                        payload: p.payload,
                        qos,
                        retain: p.retain,
                        props: p.properties,
                        from: Some(client_id.clone()),
                    };
                    self.publish(st, incoming, &mut out)
                } else {
                    true
                };
                let mut ack = Ack::new(id);
                if v5 && !matched {
                    ack.reason = Some(ReasonCode::NoMatchingSubscribers);
                }
                match qos {
                    1 => {
                        if self.has(MqttFault::WrongPubackId) {
                            ack.id = id.checked_add(1).unwrap_or(1);
                        }
                        out.direct.insert(0, Packet::Puback(ack));
                    }
                    2 => out.direct.insert(0, Packet::Pubrec(ack)),
                    _ => {}
                }
            }
            Packet::Puback(Ack { id, .. }) => session!().acked(id, 1, &st.conns, &mut out),
            Packet::Pubrec(Ack { id, reason, .. }) => {
                let session = session!();
                if reason.is_some_and(|r| r.to_byte() >= 0x80) {
                    // MQTT-4.3.3-4: a failed PUBREC ends the flow without PUBREL.
                    session.acked(id, 2, &st.conns, &mut out);
                } else if session.received(id) {
                    out.direct.push(Packet::Pubrel(Ack::new(id)));
                }
            }
            Packet::Pubrel(Ack { id, .. }) => {
                let known = session!().incoming_qos2.remove(&id);
                let mut ack = Ack::new(id);
                if v5 && !known {
                    ack.reason = Some(ReasonCode::PacketIdentifierNotFound);
                }
                out.direct.push(Packet::Pubcomp(ack));
            }
            Packet::Pubcomp(Ack { id, .. }) => session!().completed(id, &st.conns, &mut out),
            Packet::Subscribe(s) => {
                if v5
                    && s.filters
                        .iter()
                        .any(|f| f.no_local && f.topic.starts_with("$share/"))
                {
                    // MQTT-3.8.3-4.
                    return Reaction::disconnect(version, ReasonCode::ProtocolError);
                }
                let sub_id = s.properties.subscription_identifier.first().copied();
                let mut reasons: Vec<SubackCode> = Vec::with_capacity(s.filters.len().min(1024));
                let mut granted = Vec::new();
                let session = session!();
                for f in s.filters {
                    if topic::validate_filter(&f.topic, version).is_err() || f.qos > 2 {
                        reasons.push(if v5 {
                            ReasonCode::TopicFilterInvalid.into()
                        } else {
                            SubackReturnCode::Failure.into()
                        });
                        continue;
                    }
                    let qos = if self.has(MqttFault::SubackGrantsMore) {
                        2
                    } else {
                        f.qos
                    };
                    let share = if v5 {
                        f.topic.strip_prefix("$share/").and_then(|rest| {
                            rest.split_once('/')
                                .map(|(g, t)| (g.to_string(), t.to_string()))
                        })
                    } else {
                        None
                    };
                    let sub = Sub {
                        qos,
                        no_local: f.no_local,
                        retain_as_published: f.retain_as_published,
                        id: sub_id,
                        share,
                    };
                    // MQTT-3.8.4-3: an identical filter replaces the existing subscription.
                    let existed = session.subscriptions.insert(f.topic.clone(), sub.clone());
                    reasons.push(if v5 {
                        ReasonCode::from_byte(qos).into()
                    } else {
                        SubackReturnCode::granted(qos).into()
                    });
                    let handling = if self.has(MqttFault::RetainHandlingIgnored) {
                        0
                    } else {
                        f.retain_handling
                    };
                    // MQTT-3.3.1-9/-10/-11; none for a shared subscription.
                    let send_retained = sub.share.is_none()
                        && match handling {
                            0 => true,
                            1 => existed.is_none(),
                            _ => false,
                        };
                    if send_retained {
                        granted.push((f.topic, sub));
                    }
                }
                let mut suback = Suback::new(s.id, Vec::<SubackCode>::new());
                suback.reasons = reasons;
                out.direct.push(Packet::Suback(suback));
                // MQTT-3.3.1-6 / -8 (3.1.1): retained messages for the new subscriptions, with RETAIN 1.
                for (filter, sub) in granted {
                    self.send_retained(st, &client_id, &filter, &sub, &mut out);
                }
            }
            Packet::Unsubscribe(u) => {
                let mut reasons = Vec::new();
                let session = session!();
                for t in &u.topics {
                    let existed = session.subscriptions.remove(t).is_some();
                    reasons.push(if existed {
                        ReasonCode::Success
                    } else {
                        ReasonCode::NoSubscriptionExisted
                    });
                }
                let mut unsuback = Unsuback::new(u.id);
                if v5 {
                    unsuback.reasons = reasons;
                }
                out.direct.push(Packet::Unsuback(unsuback));
            }
            Packet::Pingreq {} => {
                if !self.has(MqttFault::NoPingresp) {
                    out.direct.push(Packet::Pingresp {});
                }
            }
            Packet::Disconnect(d) => {
                let session = session!();
                if let Some(expiry) = d.properties.session_expiry_interval.filter(|_| v5) {
                    if expiry_was_zero && expiry != 0 {
                        // 3.14.2.2.2: raising a Session Expiry Interval of 0 is a protocol error.
                        return Reaction::disconnect(version, ReasonCode::ProtocolError);
                    }
                    session.expiry = expiry;
                }
                // MQTT-3.14.4-3: only a normal DISCONNECT (0x00) discards the will.
                let normal = d.reason.is_none_or(|r| r.to_byte() == 0);
                let graceful = normal && !self.has(MqttFault::WillOnDisconnect);
                return Reaction::close(graceful);
            }
            // MQTT-3.1.0-2: a second CONNECT is a protocol violation.
            Packet::Connect(_) => return Reaction::disconnect(version, ReasonCode::ProtocolError),
            // No authentication method was accepted, so AUTH is a protocol error (MQTT-4.12.0-7).
            Packet::Auth(_) if v5 => {
                return Reaction::disconnect(version, ReasonCode::ProtocolError);
            }
            // Server-only packets from a client; reached only when violations are ignored.
            Packet::Connack(_)
            | Packet::Suback(_)
            | Packet::Unsuback(_)
            | Packet::Pingresp {}
            | Packet::Auth(_) => {}
        }
        Reaction::reply(send)
    }

    /// Forgets a connection; publishes its will (now, or after its delay) unless it ended with a normal DISCONNECT.
    pub(crate) fn closed(&self, conn_id: ConnId, graceful: bool) -> Option<After> {
        let mut guard = self.lock();
        let st = &mut *guard;
        let conn = st.conns.remove(&conn_id)?;
        let will = conn.will.filter(|_| !graceful);
        let mut publish_now = None;
        let mut after = None;
        let owned = st
            .sessions
            .get(&conn.client_id)
            .is_some_and(|s| s.conn == Some(conn_id));
        if owned {
            let session = st.sessions.get_mut(&conn.client_id)?;
            session.conn = None;
            if session.version == Version::V5 && self.has(MqttFault::SessionExpiryIgnored) {
                session.expiry = 0;
            }
            if session.expiry == 0 {
                st.sessions.remove(&conn.client_id);
                publish_now = will.map(|(w, _)| w);
            } else {
                let mut will_in = None;
                match will {
                    Some((w, delay)) if delay > 0 && !self.has(MqttFault::WillDelayIgnored) => {
                        // MQTT-3.1.2-8: after the delay or when the session ends, whichever is first.
                        will_in = Some(secs(delay.min(session.expiry)));
                        session.pending_will = Some(w);
                    }
                    Some((w, _)) => publish_now = Some(w),
                    None => {}
                }
                after = Some(After {
                    client_id: conn.client_id.clone(),
                    epoch: session.epoch,
                    will_in,
                    expire_in: (session.expiry != NEVER).then(|| secs(session.expiry)),
                });
            }
        } else if let Some((w, delay)) = will {
            // Taken over: a resuming connection within the will delay cancels the will (MQTT-3.1.3-9).
            let cancelled =
                conn.resumed_by_other && delay > 0 && !self.has(MqttFault::WillDelayIgnored);
            if !cancelled {
                publish_now = Some(w);
            }
        }
        if let Some(will) = publish_now {
            self.publish_will(st, conn_id, will);
        }
        after
    }

    /// The will delay of a closed connection passed: publish the pending will if still due.
    pub(crate) fn will_due(&self, client_id: &str, epoch: u64) {
        let mut guard = self.lock();
        let st = &mut *guard;
        let Some(session) = st.sessions.get_mut(client_id) else {
            return;
        };
        if session.epoch != epoch || session.conn.is_some() {
            return;
        }
        if let Some(will) = session.pending_will.take() {
            self.publish_will(st, 0, will);
        }
    }

    /// The Session Expiry Interval of a closed connection passed: end the session if nobody resumed it.
    pub(crate) fn expire(&self, client_id: &str, epoch: u64) {
        let mut guard = self.lock();
        let st = &mut *guard;
        let due = st
            .sessions
            .get(client_id)
            .is_some_and(|s| s.epoch == epoch && s.conn.is_none());
        if !due {
            return;
        }
        if let Some(will) = st.sessions.remove(client_id).and_then(|s| s.pending_will) {
            self.publish_will(st, 0, will);
        }
    }

    /// MQTT-3.1.2-14/-15: publish a will, retained if Will Retain is 1.
    fn publish_will(&self, st: &mut State, conn_id: ConnId, will: Will) {
        let mut discard = Vec::new();
        let mut out = Post {
            current: conn_id,
            direct: &mut discard,
        };
        self.publish(st, Incoming::will(will), &mut out);
    }
}

impl Incoming {
    /// The application message of a will.
    fn will(will: Will) -> Self {
        let mut props = will.properties;
        props.will_delay_interval = None;
        Self {
            topic: will.topic,
            payload: will.payload,
            qos: will.qos.min(2),
            retain: will.retain,
            props,
            from: None,
        }
    }
}

/// A whole number of seconds as a Duration.
fn secs(s: u32) -> Duration {
    Duration::from_secs(u64::from(s))
}
