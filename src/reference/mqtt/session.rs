//! One client session: subscriptions, outgoing QoS flows (within the client's Receive Maximum), the offline queue.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use crate::mqtt::{Ack, Packet, Payload, Properties, Publish, Version, Will, encode};

/// Identifies one network connection.
pub(crate) type ConnId = u64;

/// Unacknowledged outgoing QoS 1/2 messages per session at most; more wait in the queue.
pub(crate) const MAX_INFLIGHT: usize = 100;
/// Messages queued per session (offline, or beyond the in-flight limit); more are dropped.
const MAX_QUEUE: usize = 10_000;
/// A Session Expiry Interval that never ends.
pub(crate) const NEVER: u32 = u32::MAX;

/// One application message on its way to a subscriber (QoS and RETAIN as sent to it).
#[derive(Debug, Clone)]
pub(crate) struct Message {
    /// Topic name.
    pub(crate) topic: String,
    /// Payload.
    pub(crate) payload: Payload,
    /// QoS for this subscriber.
    pub(crate) qos: u8,
    /// RETAIN as sent to this subscriber.
    pub(crate) retain: bool,
    /// 5.0 properties forwarded (subscription identifiers already set for this subscriber).
    pub(crate) props: Properties,
    /// Message Expiry Interval and when the broker received the message.
    pub(crate) expiry: Option<(u32, Instant)>,
}

impl Message {
    /// Seconds left of the Message Expiry Interval: None when expired, Some(None) when it never expires.
    pub(crate) fn remaining(&self) -> Option<Option<u32>> {
        let Some((interval, since)) = self.expiry else {
            return Some(None);
        };
        let waited = u32::try_from(since.elapsed().as_secs()).unwrap_or(u32::MAX);
        // MQTT-3.3.2-5: an expired message is not delivered.
        (waited < interval).then(|| Some(interval - waited))
    }

    /// The PUBLISH for this subscriber, with the remaining expiry interval (MQTT-3.3.2-6).
    fn packet(&self, id: Option<u16>, dup: bool) -> Packet {
        let mut properties = self.props.clone();
        if let Some((interval, _)) = self.expiry {
            properties.message_expiry_interval =
                Some(self.remaining().flatten().unwrap_or(interval).max(1));
        }
        Packet::Publish(Publish {
            dup,
            qos: self.qos,
            retain: self.retain,
            topic: self.topic.clone(),
            id,
            properties,
            payload: self.payload.clone(),
        })
    }
}

/// One subscription of a session with its options.
#[derive(Debug, Clone)]
pub(crate) struct Sub {
    /// Granted QoS.
    pub(crate) qos: u8,
    /// 5.0 No Local.
    pub(crate) no_local: bool,
    /// 5.0 Retain As Published.
    pub(crate) retain_as_published: bool,
    /// 5.0 Subscription Identifier.
    pub(crate) id: Option<u32>,
    /// 5.0 shared subscription: (share name, topic filter).
    pub(crate) share: Option<(String, String)>,
}

/// An outgoing QoS 1/2 flow waiting for the client.
#[derive(Debug)]
enum Waiting {
    /// PUBLISH sent, waiting for PUBACK (QoS 1) or PUBREC (QoS 2).
    Publish(Box<Message>),
    /// PUBREL sent, waiting for PUBCOMP.
    Pubcomp,
}

#[derive(Debug)]
struct Inflight {
    seq: u64,
    waiting: Waiting,
}

/// A connection as the state sees it.
#[derive(Debug)]
pub(crate) struct Conn {
    /// The client id (assigned when the client sent none).
    pub(crate) client_id: String,
    /// Protocol version of this connection.
    pub(crate) version: Version,
    /// Will message and its delay (seconds).
    pub(crate) will: Option<(Will, u32)>,
    /// The Session Expiry Interval of the CONNECT was 0 (DISCONNECT may then not raise it).
    pub(crate) expiry_was_zero: bool,
    /// Taken over by a connection that resumed the session (a delayed will is then dropped).
    pub(crate) resumed_by_other: bool,
    /// Writes to the connection.
    pub(crate) tx: mpsc::Sender<Packet>,
    /// Ends the connection.
    pub(crate) kill: Arc<Notify>,
    /// Taken over: its packets are no longer handled.
    pub(crate) dead: bool,
}

/// Where packets go while the state is locked: the current connection's reply, or other connections' queues.
pub(crate) struct Post<'a> {
    /// The connection whose packet is being handled.
    pub(crate) current: ConnId,
    /// Its reply.
    pub(crate) direct: &'a mut Vec<Packet>,
}

/// Sends a packet to a connection: into the reply if current, else into its queue.
pub(crate) fn post(conns: &HashMap<ConnId, Conn>, to: ConnId, packet: Packet, out: &mut Post<'_>) {
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

/// A session's state.
#[derive(Debug)]
pub(crate) struct Session {
    /// Session Expiry Interval in seconds (0: ends with the connection; NEVER).
    pub(crate) expiry: u32,
    /// The connection attached, if any.
    pub(crate) conn: Option<ConnId>,
    /// Version of the last connection (how packets are sized).
    pub(crate) version: Version,
    /// Outgoing QoS 1/2 flows allowed at once (the client's Receive Maximum, capped).
    pub(crate) send_max: usize,
    /// Largest packet the client accepts (its Maximum Packet Size); None ignores it.
    pub(crate) max_packet: Option<u32>,
    /// Fault `reused-packet-id`: every delivery gets packet id 1.
    pub(crate) reuse_ids: bool,
    /// Changes on every connection attached; timers of an older one do nothing.
    pub(crate) epoch: u64,
    /// A will waiting for its delay after the connection closed.
    pub(crate) pending_will: Option<Will>,
    /// Subscriptions by topic filter (shared ones under their full `$share/...` filter).
    pub(crate) subscriptions: BTreeMap<String, Sub>,
    /// QoS 2 ids received and not yet released.
    pub(crate) incoming_qos2: BTreeSet<u16>,
    inflight: BTreeMap<u16, Inflight>,
    queue: VecDeque<Message>,
    next_id: u16,
    seq: u64,
}

impl Session {
    /// An empty session.
    pub(crate) fn new(expiry: u32, version: Version) -> Self {
        Self {
            expiry,
            conn: None,
            version,
            send_max: MAX_INFLIGHT,
            max_packet: None,
            reuse_ids: false,
            epoch: 0,
            pending_will: None,
            subscriptions: BTreeMap::new(),
            incoming_qos2: BTreeSet::new(),
            inflight: BTreeMap::new(),
            queue: VecDeque::new(),
            next_id: 0,
            seq: 0,
        }
    }

    fn fresh_id(&mut self) -> u16 {
        if self.reuse_ids {
            return 1;
        }
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

    /// Whether a PUBLISH fits the client's Maximum Packet Size (MQTT-3.1.2-24/-25: else it is dropped).
    fn fits(&self, packet: &Packet) -> bool {
        let Some(max) = self.max_packet else {
            return true;
        };
        encode(packet, self.version).is_ok_and(|b| b.len() <= max as usize)
    }

    fn send_new(
        &mut self,
        conn: ConnId,
        msg: Message,
        conns: &HashMap<ConnId, Conn>,
        out: &mut Post<'_>,
    ) {
        if msg.remaining().is_none() {
            return;
        }
        let id = self.fresh_id();
        let packet = msg.packet(Some(id), false);
        if !self.fits(&packet) {
            return;
        }
        self.seq += 1;
        self.inflight.insert(
            id,
            Inflight {
                seq: self.seq,
                waiting: Waiting::Publish(Box::new(msg)),
            },
        );
        post(conns, conn, packet, out);
    }

    /// Delivers a message whose QoS is already the minimum of published and granted.
    pub(crate) fn deliver(
        &mut self,
        msg: Message,
        conns: &HashMap<ConnId, Conn>,
        out: &mut Post<'_>,
    ) {
        match self.conn {
            Some(conn) if msg.qos == 0 => {
                let packet = msg.packet(None, false);
                if msg.remaining().is_some() && self.fits(&packet) {
                    post(conns, conn, packet, out);
                }
            }
            Some(conn) if self.queue.is_empty() && self.inflight.len() < self.send_max => {
                self.send_new(conn, msg, conns, out)
            }
            Some(_) => self.enqueue(msg),
            None if self.expiry > 0 && msg.qos > 0 => self.enqueue(msg),
            None => {}
        }
    }

    /// Moves queued messages into flight while there is room.
    pub(crate) fn pump(&mut self, conns: &HashMap<ConnId, Conn>, out: &mut Post<'_>) {
        let Some(conn) = self.conn else { return };
        while self.inflight.len() < self.send_max {
            let Some(msg) = self.queue.pop_front() else {
                break;
            };
            self.send_new(conn, msg, conns, out);
        }
    }

    /// Re-sends unacknowledged PUBLISH (DUP 1) and PUBREL packets in their original order (MQTT-4.4.0-1).
    pub(crate) fn resend(&mut self, conns: &HashMap<ConnId, Conn>, out: &mut Post<'_>) {
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

    /// PUBACK (or a PUBREC with a failure code) from the client: the flow of `id` at `qos` ends.
    pub(crate) fn acked(
        &mut self,
        id: u16,
        qos: u8,
        conns: &HashMap<ConnId, Conn>,
        out: &mut Post<'_>,
    ) {
        if let Some(Inflight {
            waiting: Waiting::Publish(m),
            ..
        }) = self.inflight.get(&id)
            && m.qos == qos
        {
            self.inflight.remove(&id);
            self.pump(conns, out);
        }
    }

    /// PUBREC from the client: true when a PUBREL is due.
    pub(crate) fn received(&mut self, id: u16) -> bool {
        let Some(flight) = self.inflight.get_mut(&id) else {
            return false;
        };
        let qos2 = match &flight.waiting {
            Waiting::Publish(m) => m.qos == 2,
            Waiting::Pubcomp => true,
        };
        if qos2 {
            flight.waiting = Waiting::Pubcomp;
        }
        qos2
    }

    /// PUBCOMP from the client: the QoS 2 flow of `id` ends.
    pub(crate) fn completed(&mut self, id: u16, conns: &HashMap<ConnId, Conn>, out: &mut Post<'_>) {
        if matches!(
            self.inflight.get(&id),
            Some(Inflight {
                waiting: Waiting::Pubcomp,
                ..
            })
        ) {
            self.inflight.remove(&id);
            self.pump(conns, out);
        }
    }
}
