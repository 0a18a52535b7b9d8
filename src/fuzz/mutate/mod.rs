//! The mutating send hook: sees every outgoing message of one iteration, mutates the planned
//! ones (the protocol's field mutators, sequence mutators, byte havoc) and logs what was sent.
//! What a message looks like on the wire and how to mutate its fields, the hook asks the case's
//! protocol (`seam::Fuzzing`).

pub mod bytes;

use std::collections::HashMap;
use std::sync::Mutex;

use rand::Rng;
use rand::rngs::StdRng;

use crate::case::{Case, Protocol, Step};
use crate::run::registry;
use crate::seam::{Address, Framing, Fuzzing, Outgoing, SendHook};

/// What went on the wire for one message.
pub use crate::seam::Wire;

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
    all_of(&*registry::of(protocol).fuzzing(None))
}

/// The field mutators of `fuzz`, then the sequence mutators and havoc.
fn all_of(fuzz: &dyn Fuzzing) -> Vec<&'static str> {
    let mut all = fuzz.mutators().to_vec();
    all.extend(SEQUENCE);
    all.push(HAVOC);
    all
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
    fuzz: Box<dyn Fuzzing>,
    framing: Framing,
    plan: Plan,
    send_steps: Vec<bool>,
    state: Mutex<State>,
}

impl MutatingHook {
    /// A hook for one iteration of `case`, drawing from `rng`.
    pub fn new(case: &Case, plan: Plan, rng: StdRng) -> Self {
        let fuzz = registry::of(case.protocol).fuzzing(case.version.as_deref());
        Self {
            framing: fuzz.framing(),
            fuzz,
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
    fn original(&self, message: &Outgoing, wire: Option<&Wire>) -> Option<(Wire, String)> {
        match (message, wire) {
            (Outgoing::Message(v), Some(w)) => Some((w.clone(), self.fuzz.kind_of(v, w))),
            (Outgoing::Message(v), None) => self.fuzz.encode(v),
            (Outgoing::Bytes(b), _) => Some((Wire::Bytes(b.clone()), self.fuzz.kind_of_bytes(b))),
            (Outgoing::Text(t), _) => Some((Wire::Text(t.clone()), "text".into())),
            (Outgoing::Frame(_), _) => None,
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
        self.before_send_encoded(address, message, None)
    }

    fn before_send_encoded(
        &self,
        address: &Address,
        message: &Outgoing,
        wire: Option<&Wire>,
    ) -> Option<Outgoing> {
        let (orig, kind) = self.original(message, wire)?;
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
        let stream = self.framing == Framing::Stream;
        let held = if stream {
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
        let all = all_of(&*self.fuzz);
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
            "seq-duplicate" if stream => (Some([orig_b.clone(), orig_b.clone()].concat()), name),
            // One frame per message: the previous one is sent again instead.
            "seq-duplicate" => (earlier.last().cloned(), name),
            "seq-insert-earlier" if !earlier.is_empty() => {
                let e = earlier[st.rng.random_range(0..earlier.len())].clone();
                if stream {
                    (Some([e, orig_b.clone()].concat()), name)
                } else {
                    (Some(e), name)
                }
            }
            // Messages joined into one write: the next message goes out first.
            "seq-swap-next" if stream => {
                st.held.insert(address.actor.clone(), orig_b.clone());
                (Some(Vec::new()), name)
            }
            _ => (self.fuzz.mutate(name, &orig, &mut st.rng), name),
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
        let wire = match (self.framing, String::from_utf8(out.clone())) {
            (Framing::TextMessages, Ok(t)) => Wire::Text(t),
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use serde_json::json;

    /// A case of `protocol` with two actors and two `send` steps.
    fn case(protocol: Protocol) -> Case {
        let (head, spec) = match protocol {
            Protocol::Mqtt => ("version: \"5.0\"\n", "MQTT-3.1.0-1"),
            Protocol::Xmpp => ("", "RFC7395-3.1-2"),
        };
        let yaml = format!(
            "id: t.{protocol}\ntitle: t\nprotocol: {protocol}\n{head}spec: [{spec}]\n\
             actors: {{ a: {{}}, b: {{}} }}\nsteps:\n  - send: {{ actor: a, text: \"x\" }}\n  \
             - send: {{ actor: b, text: \"y\" }}\n"
        );
        crate::case::load_str(std::path::Path::new("t.yaml"), &yaml).unwrap()
    }

    fn messages(protocol: Protocol) -> Vec<Outgoing> {
        match protocol {
            Protocol::Mqtt => vec![
                Outgoing::Message(json!({"type": "connect", "client_id": "abc",
                    "properties": {"session_expiry_interval": 5}})),
                Outgoing::Message(json!({"type": "subscribe", "id": 3,
                    "filters": [{"topic": "a/b", "qos": 1}],
                    "properties": {"subscription_identifier": 5}})),
                Outgoing::Message(json!({"type": "publish", "qos": 1, "id": 7, "topic": "t/x",
                    "payload": "hi"})),
                Outgoing::Bytes(vec![0x30, 0x06, 0x00, 0x03, b't', b'/', b'x', b'p']),
            ],
            Protocol::Xmpp => vec![
                Outgoing::Message(json!({"name": "iq", "ns": "jabber:client",
                    "attrs": {"id": "a1", "type": "get"},
                    "children": [{"name": "ping", "ns": "urn:xmpp:ping"}]})),
                Outgoing::Message(json!({"xml": "<presence/>"})),
                Outgoing::Text("<message to='a@b' id='m1'><body>x</body></message>".into()),
            ],
        }
    }

    /// Sends `protocol`'s messages through a hook planned with `mutator` on message `target`
    /// (all from actor `a`); returns the replacements and the log.
    fn run(
        protocol: Protocol,
        mutator: &'static str,
        target: usize,
        seed: u64,
    ) -> (Vec<Option<Outgoing>>, Vec<Sent>) {
        let c = case(protocol);
        let plan = Plan {
            target,
            nth_send: None,
            mutator,
            extra: 0.0,
        };
        let hook = MutatingHook::new(&c, plan, StdRng::seed_from_u64(seed));
        let out = messages(protocol)
            .iter()
            .enumerate()
            .map(|(index, m)| {
                let address = Address {
                    case: c.id.clone(),
                    step: None,
                    actor: "a".into(),
                    index,
                    actor_index: index,
                };
                hook.before_send(&address, m)
            })
            .collect();
        (out, hook.log())
    }

    #[test]
    fn the_same_seed_mutates_the_same_way() {
        for protocol in [Protocol::Mqtt, Protocol::Xmpp] {
            for name in mutators(protocol) {
                let (a, log_a) = run(protocol, name, 1, 9);
                let (b, log_b) = run(protocol, name, 1, 9);
                assert_eq!(a, b, "{protocol} {name}");
                let wires = |l: &[Sent]| -> Vec<_> {
                    l.iter()
                        .map(|s| (s.wire.clone(), s.mutator.clone()))
                        .collect()
                };
                assert_eq!(wires(&log_a), wires(&log_b), "{protocol} {name}");
                assert!(
                    a[1].is_some(),
                    "{protocol} {name}: the planned message is replaced"
                );
            }
        }
    }

    #[test]
    fn sequence_mutators_follow_the_protocols_framing() {
        // MQTT is a stream: a duplicate is the packet twice in one write; swap-next holds the
        // packet back and sends it after the next one.
        let (out, log) = run(Protocol::Mqtt, "seq-duplicate", 2, 1);
        let Some(Wire::Bytes(publish)) = log[2].wire.clone() else {
            panic!("{log:?}");
        };
        assert_eq!(publish.len() % 2, 0);
        let half = publish.len() / 2;
        assert_eq!(publish[..half], publish[half..]);
        assert_eq!(out[2], Some(Outgoing::Bytes(publish.clone())));
        let (out, _) = run(Protocol::Mqtt, "seq-swap-next", 2, 1);
        assert_eq!(out[2], Some(Outgoing::Bytes(Vec::new())));
        let mut swapped = vec![0x30, 0x06, 0x00, 0x03, b't', b'/', b'x', b'p'];
        swapped.extend(&publish[..half]);
        assert_eq!(out[3], Some(Outgoing::Bytes(swapped)));
        // XMPP sends one element per WebSocket message: a duplicate re-sends the previous one,
        // and there is no swap (it falls back to havoc).
        let (out, _) = run(Protocol::Xmpp, "seq-duplicate", 1, 1);
        let first =
            "<iq xmlns='jabber:client' id='a1' type='get'><ping xmlns='urn:xmpp:ping'/></iq>";
        assert_eq!(out[1], Some(Outgoing::Text(first.into())));
        let (_, log) = run(Protocol::Xmpp, "seq-swap-next", 1, 1);
        assert_eq!(log[1].mutator.as_deref(), Some(HAVOC));
    }
}
