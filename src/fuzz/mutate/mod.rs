//! The mutating send hook: sees every outgoing message of one iteration, mutates the planned
//! ones (MQTT or XMPP field mutators, sequence mutators, byte havoc) and logs what was sent.

pub mod bytes;
pub mod mqtt;
pub mod xmpp;

use std::collections::HashMap;
use std::sync::Mutex;

use rand::Rng;
use rand::rngs::StdRng;

use crate::case::{Case, Protocol, Step};
use crate::mqtt::Version;
use crate::seam::{Address, Outgoing, SendHook};

/// Sequence mutators, for both protocols.
pub const SEQUENCE: &[&str] = &[
    "seq-drop",
    "seq-duplicate",
    "seq-insert-earlier",
    "seq-swap-next",
];

/// The byte-level fallback mutator.
pub const HAVOC: &str = "havoc";

/// Every mutator that applies to a protocol (field mutators, sequence mutators, havoc).
pub fn mutators(protocol: Protocol) -> Vec<&'static str> {
    let mut all: Vec<&'static str> = match protocol {
        Protocol::Mqtt => mqtt::MUTATORS.to_vec(),
        Protocol::Xmpp => xmpp::MUTATORS.to_vec(),
    };
    all.extend(SEQUENCE);
    all.push(HAVOC);
    all
}

/// The MQTT version a case speaks (3.1.1 unless it says 5.0).
pub fn version_of(case: &Case) -> Version {
    match case.version.as_deref() {
        Some("5.0") | Some("5") => Version::V5,
        _ => Version::V311,
    }
}

/// How many `send` steps a case has.
pub fn sends_of(case: &Case) -> usize {
    case.steps
        .iter()
        .filter(|s| matches!(s.step, Step::Send(_)))
        .count()
}

/// About how many messages a case sends (macro steps count as several).
pub fn messages_of(case: &Case) -> usize {
    case.steps
        .iter()
        .map(|s| match &s.step {
            Step::Connect(_) | Step::Send(_) | Step::Disconnect(_) => 1,
            Step::Login(_) => 5,
            _ => 0,
        })
        .sum::<usize>()
        .max(1)
}

/// What went on the wire for one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wire {
    /// Bytes (a TCP write or a binary WebSocket message).
    Bytes(Vec<u8>),
    /// Text (a text WebSocket message).
    Text(String),
}

/// One message as the server received it in an iteration.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The sending actor.
    pub actor: String,
    /// The case step that sent it (None: set-up or cleanup).
    pub step: Option<usize>,
    /// What was sent (None: dropped by a sequence mutator).
    pub wire: Option<Wire>,
    /// The mutator applied, if any.
    pub mutator: Option<String>,
    /// Packet type or stanza name before the mutation.
    pub kind: String,
    /// When it was handed to the link.
    pub at: std::time::Instant,
}

/// What an iteration mutates: one planned message with one mutator, and now and then others.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Case-wide index of the planned message.
    pub target: usize,
    /// When set, the planned message is instead the one sent by the N-th `send` step's
    /// messages (0-based, counted over messages of `send` steps only): reaches deep messages
    /// of cases whose macros (connect, login) send many.
    pub nth_send: Option<usize>,
    /// The mutator for it.
    pub mutator: &'static str,
    /// Chance that any other message is mutated too (with a random mutator).
    pub extra: f64,
}

struct State {
    rng: StdRng,
    sends_seen: usize,
    log: Vec<Sent>,
    held: HashMap<String, Vec<u8>>,
}

/// The send hook of one iteration.
pub struct MutatingHook {
    protocol: Protocol,
    version: Version,
    plan: Plan,
    send_steps: Vec<bool>,
    state: Mutex<State>,
}

impl MutatingHook {
    /// A hook for one iteration of `case`, drawing from `rng`.
    pub fn new(case: &Case, plan: Plan, rng: StdRng) -> Self {
        Self {
            protocol: case.protocol,
            version: version_of(case),
            plan,
            send_steps: case
                .steps
                .iter()
                .map(|s| matches!(s.step, Step::Send(_)))
                .collect(),
            state: Mutex::new(State {
                rng,
                sends_seen: 0,
                log: Vec::new(),
                held: HashMap::new(),
            }),
        }
    }

    /// Every message sent so far, in order.
    pub fn log(&self) -> Vec<Sent> {
        self.state.lock().map(|s| s.log.clone()).unwrap_or_default()
    }

    /// The original wire form and kind of an outgoing message.
    fn original(&self, message: &Outgoing) -> Option<(Wire, String)> {
        match message {
            Outgoing::Message(v) => match self.protocol {
                Protocol::Mqtt => {
                    let p = crate::mqtt::template::packet_from_value(v).ok()?;
                    let b = crate::mqtt::encode(&p, self.version).ok()?;
                    let kind = mqtt::type_name(b[0]).to_string();
                    Some((Wire::Bytes(b), kind))
                }
                Protocol::Xmpp => {
                    let x = xmpp::data_to_xml(v)?;
                    let kind = v
                        .get("name")
                        .and_then(|n| n.as_str())
                        .unwrap_or("xml")
                        .to_string();
                    Some((Wire::Text(x), kind))
                }
            },
            Outgoing::Bytes(b) => {
                let kind = match (self.protocol, b.first()) {
                    (Protocol::Mqtt, Some(f)) => mqtt::type_name(*f).to_string(),
                    _ => "bytes".into(),
                };
                Some((Wire::Bytes(b.clone()), kind))
            }
            Outgoing::Text(t) => Some((Wire::Text(t.clone()), "text".into())),
            Outgoing::Frame(_) => None,
        }
    }

    fn field(&self, name: &str, wire: &Wire, rng: &mut StdRng) -> Option<Vec<u8>> {
        match (self.protocol, wire) {
            (Protocol::Mqtt, Wire::Bytes(b)) => mqtt::apply(name, b, self.version, rng),
            (Protocol::Xmpp, Wire::Text(t)) => xmpp::apply(name, t, rng),
            _ => None,
        }
    }
}

fn wire_bytes(w: &Wire) -> Vec<u8> {
    match w {
        Wire::Bytes(b) => b.clone(),
        Wire::Text(t) => t.clone().into_bytes(),
    }
}

impl SendHook for MutatingHook {
    fn before_send(&self, address: &Address, message: &Outgoing) -> Option<Outgoing> {
        let (orig, kind) = self.original(message)?;
        let Ok(mut st) = self.state.lock() else {
            return None;
        };
        let st = &mut *st;
        let from_send = address
            .step
            .is_some_and(|i| self.send_steps.get(i).copied().unwrap_or(false));
        let planned = match self.plan.nth_send {
            Some(n) => {
                let hit = from_send && st.sends_seen == n;
                if from_send {
                    st.sends_seen += 1;
                }
                hit
            }
            None => address.index == self.plan.target,
        };
        let mutate = planned || st.rng.random_bool(self.plan.extra);
        let held = if self.protocol == Protocol::Mqtt {
            st.held.remove(&address.actor)
        } else {
            None
        };
        let record = |st: &mut State, wire: Option<Wire>, mutator: Option<String>| {
            st.log.push(Sent {
                actor: address.actor.clone(),
                step: address.step,
                wire,
                mutator,
                kind: kind.clone(),
                at: std::time::Instant::now(),
            });
        };
        if !mutate {
            return match held {
                None => {
                    record(st, Some(orig), None);
                    None
                }
                Some(h) => {
                    let mut b = wire_bytes(&orig);
                    b.extend(h);
                    record(
                        st,
                        Some(Wire::Bytes(b.clone())),
                        Some("seq-swap-next".into()),
                    );
                    Some(Outgoing::Bytes(b))
                }
            };
        }
        let all = mutators(self.protocol);
        let name = if planned {
            self.plan.mutator
        } else {
            all[st.rng.random_range(0..all.len())]
        };
        let earlier: Vec<Vec<u8>> = st
            .log
            .iter()
            .filter(|s| s.actor == address.actor)
            .filter_map(|s| s.wire.as_ref().map(wire_bytes))
            .collect();
        let orig_b = wire_bytes(&orig);
        let (mut out, used) = match name {
            "seq-drop" => (Some(Vec::new()), name),
            "seq-duplicate" => match self.protocol {
                Protocol::Mqtt => (Some([orig_b.clone(), orig_b.clone()].concat()), name),
                // One WebSocket message per element: the previous one is sent again instead.
                Protocol::Xmpp => (earlier.last().cloned(), name),
            },
            "seq-insert-earlier" if !earlier.is_empty() => {
                let e = earlier[st.rng.random_range(0..earlier.len())].clone();
                match self.protocol {
                    Protocol::Mqtt => (Some([e, orig_b.clone()].concat()), name),
                    Protocol::Xmpp => (Some(e), name),
                }
            }
            "seq-swap-next" if self.protocol == Protocol::Mqtt => {
                st.held.insert(address.actor.clone(), orig_b.clone());
                (Some(Vec::new()), name)
            }
            _ => (self.field(name, &orig, &mut st.rng), name),
        };
        let mut used = used.to_string();
        if out.is_none() {
            let mut b = orig_b.clone();
            bytes::havoc(&mut b, &mut st.rng);
            out = Some(b);
            used = HAVOC.to_string();
        }
        let mut out = out.unwrap_or_default();
        if let Some(h) = held {
            out.extend(h);
        }
        let wire = match (self.protocol, String::from_utf8(out.clone())) {
            (Protocol::Xmpp, Ok(t)) => Wire::Text(t),
            _ => Wire::Bytes(out),
        };
        let replacement = match &wire {
            Wire::Text(t) => Outgoing::Text(t.clone()),
            Wire::Bytes(b) => Outgoing::Bytes(b.clone()),
        };
        let logged = match &wire {
            Wire::Bytes(b) if b.is_empty() => None,
            _ => Some(wire),
        };
        record(st, logged, Some(used));
        Some(replacement)
    }
}
