//! The broker's shared state: sessions, subscriptions, retained messages, QoS flows and routing.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{Notify, mpsc};

use super::fault::MqttFault;
use crate::mqtt::topic;
use crate::mqtt::{
    Ack, Connack, Connect, ConnectReturnCode, Packet, Payload, Publish, Suback, SubackReturnCode,
    Unsuback, Version, Will,
};

/// Identifies one network connection.
pub(crate) type ConnId = u64;

/// Unacknowledged outgoing QoS 1/2 messages per session; more wait in the queue.
const MAX_INFLIGHT: usize = 100;
/// Messages queued per session (offline, or beyond MAX_INFLIGHT); more are dropped.
const MAX_QUEUE: usize = 10_000;

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
    /// Close; `graceful` (after DISCONNECT) suppresses the will.
    Close {
        /// True only after DISCONNECT.
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

    fn reply(send: Vec<Packet>) -> Self {
        Self {
            send,
            then: Then::Continue,
        }
    }
}

/// One application message on its way to a subscriber (QoS and RETAIN as sent to it).
#[derive(Debug, Clone)]
struct Message {
    topic: String,
    payload: Payload,
    qos: u8,
    retain: bool,
}

impl Message {
    fn packet(&self, id: Option<u16>, dup: bool) -> Packet {
        Packet::Publish(Publish {
            dup,
            qos: self.qos,
            retain: self.retain,
            topic: self.topic.clone(),
            id,
            payload: self.payload.clone(),
            ..Publish::default()
        })
    }
}

/// An outgoing QoS 1/2 flow waiting for the client.
#[derive(Debug)]
enum Waiting {
    /// PUBLISH sent, waiting for PUBACK (QoS 1) or PUBREC (QoS 2).
    Publish(Message),
    /// PUBREL sent, waiting for PUBCOMP.
    Pubcomp,
}

#[derive(Debug)]
struct Inflight {
    seq: u64,
    waiting: Waiting,
}

#[derive(Debug)]
struct Session {
    clean: bool,
    conn: Option<ConnId>,
    subscriptions: BTreeMap<String, u8>,
    inflight: BTreeMap<u16, Inflight>,
    queue: VecDeque<Message>,
    incoming_qos2: BTreeSet<u16>,
    next_id: u16,
    seq: u64,
}

#[derive(Debug)]
struct Conn {
    client_id: String,
    will: Option<Will>,
    tx: mpsc::Sender<Packet>,
    kill: Arc<Notify>,
    dead: bool,
}

#[derive(Debug)]
struct Retained {
    payload: Payload,
    qos: u8,
}

/// Where packets go while the state is locked: the current connection's reply, or other connections' queues.
struct Post<'a> {
    current: ConnId,
    direct: &'a mut Vec<Packet>,
}

fn post(conns: &HashMap<ConnId, Conn>, to: ConnId, packet: Packet, out: &mut Post<'_>) {
    if to == out.current {
        out.direct.push(packet);
        return;
    }
    if let Some(conn) = conns.get(&to) {
        match conn.tx.try_send(packet) {
            Ok(()) | Err(TrySendError::Closed(_)) => {}
            Err(TrySendError::Full(_)) => {
                tracing::debug!("reference broker: connection {to} reads too slowly, closing it");
                conn.kill.notify_one();
            }
        }
    }
}

impl Session {
    fn new(clean: bool) -> Self {
        Self {
            clean,
            conn: None,
            subscriptions: BTreeMap::new(),
            inflight: BTreeMap::new(),
            queue: VecDeque::new(),
            incoming_qos2: BTreeSet::new(),
            next_id: 0,
            seq: 0,
        }
    }

    fn fresh_id(&mut self) -> u16 {
        loop {
            self.next_id = self.next_id.wrapping_add(1).max(1);
            if !self.inflight.contains_key(&self.next_id) {
                return self.next_id;
            }
        }
    }

    fn enqueue(&mut self, msg: Message) {
        if self.queue.len() < MAX_QUEUE {
            self.queue.push_back(msg);
        } else {
            tracing::warn!("reference broker: session queue full, dropping a message");
        }
    }

    fn send_new(
        &mut self,
        conn: ConnId,
        msg: Message,
        conns: &HashMap<ConnId, Conn>,
        out: &mut Post<'_>,
    ) {
        let id = self.fresh_id();
        self.seq += 1;
        let packet = msg.packet(Some(id), false);
        self.inflight.insert(
            id,
            Inflight {
                seq: self.seq,
                waiting: Waiting::Publish(msg),
            },
        );
        post(conns, conn, packet, out);
    }

    /// Delivers a message whose QoS is already the minimum of published and granted.
    fn deliver(&mut self, msg: Message, conns: &HashMap<ConnId, Conn>, out: &mut Post<'_>) {
        match self.conn {
            Some(conn) if msg.qos == 0 => post(conns, conn, msg.packet(None, false), out),
            Some(conn) if self.queue.is_empty() && self.inflight.len() < MAX_INFLIGHT => {
                self.send_new(conn, msg, conns, out)
            }
            Some(_) => self.enqueue(msg),
            None if !self.clean && msg.qos > 0 => self.enqueue(msg),
            None => {}
        }
    }

    /// Moves queued messages into flight while there is room.
    fn pump(&mut self, conns: &HashMap<ConnId, Conn>, out: &mut Post<'_>) {
        let Some(conn) = self.conn else { return };
        while self.inflight.len() < MAX_INFLIGHT {
            let Some(msg) = self.queue.pop_front() else {
                break;
            };
            self.send_new(conn, msg, conns, out);
        }
    }

    /// Re-sends unacknowledged PUBLISH (DUP 1) and PUBREL packets in their original order (MQTT-4.4.0-1).
    fn resend(&mut self, conns: &HashMap<ConnId, Conn>, out: &mut Post<'_>) {
        let Some(conn) = self.conn else { return };
        let mut flights: Vec<(&u16, &Inflight)> = self.inflight.iter().collect();
        flights.sort_by_key(|(_, f)| f.seq);
        for (&id, flight) in flights {
            let packet = match &flight.waiting {
                Waiting::Publish(msg) => msg.packet(Some(id), true),
                Waiting::Pubcomp => Packet::Pubrel(Ack::new(id)),
            };
            post(conns, conn, packet, out);
        }
    }
}

#[derive(Debug, Default)]
struct State {
    sessions: HashMap<String, Session>,
    retained: BTreeMap<String, Retained>,
    conns: HashMap<ConnId, Conn>,
    next_auto_id: u64,
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

    fn matches(&self, filter: &str, name: &str) -> bool {
        if self.has(MqttFault::DollarWildcard)
            && filter.starts_with(['+', '#'])
            && let Some(rest) = name.strip_prefix('$')
        {
            return topic::matches(filter, &format!("_{rest}"));
        }
        topic::matches(filter, name)
    }

    /// Handles a validated CONNECT: client-id checks, takeover, session setup, CONNACK and re-sends.
    pub(crate) fn connect(
        &self,
        conn_id: ConnId,
        connect: Connect,
        tx: mpsc::Sender<Packet>,
        kill: Arc<Notify>,
    ) -> Reaction {
        if connect.client_id.is_empty() && !connect.clean_session {
            // MQTT-3.1.3-8.
            return Reaction {
                send: vec![Packet::Connack(Connack::v311(
                    false,
                    ConnectReturnCode::IdentifierRejected,
                ))],
                then: Then::Close { graceful: true },
            };
        }
        let mut guard = self.lock();
        let st = &mut *guard;
        let client_id = if connect.client_id.is_empty() {
            // MQTT-3.1.3-6: assign a unique id.
            loop {
                st.next_auto_id += 1;
                let id = format!("wirecheck-auto-{}", st.next_auto_id);
                if !st.sessions.contains_key(&id) {
                    break id;
                }
            }
        } else {
            connect.client_id.clone()
        };
        let mut resumable = false;
        if let Some(old) = st.sessions.get(&client_id) {
            // MQTT-3.1.4-2: disconnect the client already connected with this id.
            if let Some(old_conn) = old.conn
                && let Some(c) = st.conns.get_mut(&old_conn)
            {
                c.dead = true;
                c.kill.notify_one();
            }
            resumable = !old.clean;
        }
        if connect.clean_session || !resumable {
            // MQTT-3.1.2-6: a clean session (or one left by a clean session) starts anew.
            st.sessions.remove(&client_id);
        }
        let session_present = !connect.clean_session && resumable;
        let session = st
            .sessions
            .entry(client_id.clone())
            .or_insert_with(|| Session::new(connect.clean_session));
        session.clean = connect.clean_session;
        session.conn = Some(conn_id);
        st.conns.insert(
            conn_id,
            Conn {
                client_id: client_id.clone(),
                will: connect.will,
                tx,
                kill,
                dead: false,
            },
        );
        let mut send = vec![Packet::Connack(Connack::v311(
            session_present,
            ConnectReturnCode::Accepted,
        ))];
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
        let client_id = match st.conns.get(&conn_id) {
            Some(c) if !c.dead => c.client_id.clone(),
            _ => return Reaction::close(false),
        };
        let mut send = Vec::new();
        let mut out = Post {
            current: conn_id,
            direct: &mut send,
        };
        match packet {
            Packet::Publish(p) => {
                let qos = p.qos.min(2);
                let id = p.id.unwrap_or(0);
                let fresh = if qos == 2 {
                    let Some(session) = st.sessions.get_mut(&client_id) else {
                        return Reaction::close(false);
                    };
                    // Exactly once: deliver on the first PUBLISH of an id, until PUBREL frees it.
                    session.incoming_qos2.insert(id) || self.has(MqttFault::Qos2Duplicate)
                } else {
                    true
                };
                match qos {
                    1 => {
                        let id = if self.has(MqttFault::WrongPubackId) {
                            id.checked_add(1).unwrap_or(1)
                        } else {
                            id
                        };
                        out.direct.push(Packet::Puback(Ack::new(id)));
                    }
                    2 => out.direct.push(Packet::Pubrec(Ack::new(id))),
                    _ => {}
                }
                if fresh {
                    self.publish(st, p.topic, p.payload, qos, p.retain, &mut out);
                }
            }
            Packet::Puback(Ack { id, .. }) => {
                let Some(session) = st.sessions.get_mut(&client_id) else {
                    return Reaction::close(false);
                };
                if let Some(Inflight {
                    waiting: Waiting::Publish(m),
                    ..
                }) = session.inflight.get(&id)
                    && m.qos == 1
                {
                    session.inflight.remove(&id);
                    session.pump(&st.conns, &mut out);
                }
            }
            Packet::Pubrec(Ack { id, .. }) => {
                let Some(session) = st.sessions.get_mut(&client_id) else {
                    return Reaction::close(false);
                };
                if let Some(flight) = session.inflight.get_mut(&id) {
                    let qos2 = match &flight.waiting {
                        Waiting::Publish(m) => m.qos == 2,
                        Waiting::Pubcomp => true,
                    };
                    if qos2 {
                        flight.waiting = Waiting::Pubcomp;
                        out.direct.push(Packet::Pubrel(Ack::new(id)));
                    }
                }
            }
            Packet::Pubrel(Ack { id, .. }) => {
                if let Some(session) = st.sessions.get_mut(&client_id) {
                    session.incoming_qos2.remove(&id);
                }
                out.direct.push(Packet::Pubcomp(Ack::new(id)));
            }
            Packet::Pubcomp(Ack { id, .. }) => {
                let Some(session) = st.sessions.get_mut(&client_id) else {
                    return Reaction::close(false);
                };
                if matches!(
                    session.inflight.get(&id),
                    Some(Inflight {
                        waiting: Waiting::Pubcomp,
                        ..
                    })
                ) {
                    session.inflight.remove(&id);
                    session.pump(&st.conns, &mut out);
                }
            }
            Packet::Subscribe(s) => {
                let Some(session) = st.sessions.get_mut(&client_id) else {
                    return Reaction::close(false);
                };
                let mut reasons = Vec::with_capacity(s.filters.len().min(1024));
                let mut granted = Vec::new();
                for f in s.filters {
                    if topic::validate_filter(&f.topic, Version::V311).is_err() || f.qos > 2 {
                        reasons.push(SubackReturnCode::Failure);
                        continue;
                    }
                    let qos = if self.has(MqttFault::SubackGrantsMore) {
                        2
                    } else {
                        f.qos
                    };
                    // MQTT-3.8.4-3: an identical filter replaces the existing subscription.
                    session.subscriptions.insert(f.topic.clone(), qos);
                    reasons.push(SubackReturnCode::granted(qos));
                    granted.push((f.topic, qos));
                }
                out.direct.push(Packet::Suback(Suback::new(s.id, reasons)));
                // MQTT-3.3.1-6 / -8: retained messages for the new subscriptions, with RETAIN 1.
                for (filter, qos) in granted {
                    for (name, r) in &st.retained {
                        if self.matches(&filter, name) {
                            let msg = Message {
                                topic: name.clone(),
                                payload: r.payload.clone(),
                                qos: r.qos.min(qos),
                                retain: true,
                            };
                            session.deliver(msg, &st.conns, &mut out);
                        }
                    }
                }
            }
            Packet::Unsubscribe(u) => {
                if let Some(session) = st.sessions.get_mut(&client_id) {
                    for t in &u.topics {
                        session.subscriptions.remove(t);
                    }
                }
                out.direct.push(Packet::Unsuback(Unsuback::new(u.id)));
            }
            Packet::Pingreq {} => {
                if !self.has(MqttFault::NoPingresp) {
                    out.direct.push(Packet::Pingresp {});
                }
            }
            Packet::Disconnect(_) => {
                // MQTT-3.14.4-3: a DISCONNECT discards the will.
                let graceful = !self.has(MqttFault::WillOnDisconnect);
                return Reaction::close(graceful);
            }
            // MQTT-3.1.0-2: a second CONNECT is a protocol violation.
            Packet::Connect(_) => return Reaction::close(false),
            // Server-only packets from a client; reached only when violations are ignored.
            Packet::Connack(_)
            | Packet::Suback(_)
            | Packet::Unsuback(_)
            | Packet::Pingresp {}
            | Packet::Auth(_) => {}
        }
        Reaction::reply(send)
    }

    /// Stores/clears the retained message and forwards a message to every matching session.
    fn publish(
        &self,
        st: &mut State,
        topic_name: String,
        payload: Payload,
        qos: u8,
        retain: bool,
        out: &mut Post<'_>,
    ) {
        if retain {
            if payload.is_empty() {
                // MQTT-3.3.1-10 / -11: a zero-byte retained message deletes and is not stored.
                if !self.has(MqttFault::RetainNotCleared) {
                    st.retained.remove(&topic_name);
                }
            } else {
                st.retained.insert(
                    topic_name.clone(),
                    Retained {
                        payload: payload.clone(),
                        qos,
                    },
                );
            }
        }
        // MQTT-3.3.1-9: normal delivery has RETAIN 0.
        let retain_out = retain && self.has(MqttFault::RetainOnDelivery);
        for session in st.sessions.values_mut() {
            // MQTT-3.3.5-1: one copy, at the maximum QoS of all matching subscriptions.
            let granted = session
                .subscriptions
                .iter()
                .filter(|(filter, _)| self.matches(filter, &topic_name))
                .map(|(_, &q)| q)
                .max();
            if let Some(granted) = granted {
                let msg = Message {
                    topic: topic_name.clone(),
                    payload: payload.clone(),
                    qos: qos.min(granted),
                    retain: retain_out,
                };
                session.deliver(msg, &st.conns, out);
            }
        }
    }

    /// Forgets a connection; publishes its will unless it ended with DISCONNECT.
    pub(crate) fn closed(&self, conn_id: ConnId, graceful: bool) {
        let mut guard = self.lock();
        let st = &mut *guard;
        let Some(conn) = st.conns.remove(&conn_id) else {
            return;
        };
        if let Some(session) = st.sessions.get_mut(&conn.client_id)
            && session.conn == Some(conn_id)
        {
            session.conn = None;
            if session.clean {
                st.sessions.remove(&conn.client_id);
            }
        }
        if graceful {
            return;
        }
        if let Some(will) = conn.will {
            // MQTT-3.1.2-8, -16, -17: publish the will, retained if Will Retain is 1.
            let mut discard = Vec::new();
            let mut out = Post {
                current: conn_id,
                direct: &mut discard,
            };
            self.publish(
                st,
                will.topic,
                will.payload,
                will.qos.min(2),
                will.retain,
                &mut out,
            );
        }
    }
}
