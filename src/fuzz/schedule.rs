//! The scheduler: picks (case, message, mutator) for each iteration, giving more weight to the
//! cases and mutators whose iterations showed server behaviour not seen before.

use std::collections::{HashMap, HashSet};

use rand::Rng;
use rand::rngs::StdRng;

use crate::case::Protocol;
use crate::run::verdict::CaseResult;
use crate::seam::transcript::{Direction, Event};

/// Largest weight a case or mutator can earn.
const MAX_WEIGHT: f64 = 32.0;

/// Novelty-weighted choices over seeds and mutators.
pub struct Scheduler {
    seed_weights: Vec<f64>,
    /// Per seed, what its weight is multiplied by when picking (less for a slow case).
    seed_factors: Vec<f64>,
    protocols: Vec<Protocol>,
    mutator_weights: HashMap<&'static str, f64>,
    seen: HashSet<u64>,
}

/// One iteration's choice.
#[derive(Debug, Clone, Copy)]
pub struct Choice {
    /// Index of the seed case.
    pub seed: usize,
    /// The mutator of the planned message.
    pub mutator: &'static str,
}

fn weighted(weights: &[f64], rng: &mut StdRng) -> usize {
    let total: f64 = weights.iter().sum();
    let mut x = rng.random_range(0.0..total);
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

impl Scheduler {
    /// Uniform weights over the seed cases (given by protocol) and their protocols' mutators.
    pub fn new(protocols: Vec<Protocol>) -> Self {
        let n = protocols.len();
        Self::weighted(protocols, vec![1.0; n])
    }

    /// With a factor per seed case that its (learned) weight is multiplied by when picking: a
    /// slow case gets less, since it holds a slot for long.
    pub fn weighted(protocols: Vec<Protocol>, seed_factors: Vec<f64>) -> Self {
        Self {
            seed_weights: vec![1.0; protocols.len()],
            seed_factors,
            protocols,
            mutator_weights: HashMap::new(),
            seen: HashSet::new(),
        }
    }

    /// Draws a choice: a seed case, then one of its protocol's mutators.
    pub fn pick(&self, rng: &mut StdRng) -> Choice {
        let effective: Vec<f64> = self
            .seed_weights
            .iter()
            .zip(&self.seed_factors)
            .map(|(w, f)| w * f)
            .collect();
        let seed = weighted(&effective, rng);
        let names = super::mutate::mutators(self.protocols[seed]);
        let weights: Vec<f64> = names
            .iter()
            .map(|n| *self.mutator_weights.get(n).unwrap_or(&1.0))
            .collect();
        Choice {
            seed,
            mutator: names[weighted(&weights, rng)],
        }
    }

    /// Records an iteration's behaviour signature; returns whether it was new (the choice then
    /// gains weight).
    pub fn learn(&mut self, choice: Choice, signature: u64) -> bool {
        let new = self.seen.insert(signature);
        if new {
            let s = &mut self.seed_weights[choice.seed];
            *s = (*s + 1.0).min(MAX_WEIGHT);
            let m = self.mutator_weights.entry(choice.mutator).or_insert(1.0);
            *m = (*m + 1.0).min(MAX_WEIGHT);
        }
        new
    }

    /// Distinct signatures seen.
    pub fn signatures(&self) -> usize {
        self.seen.len()
    }
}

/// The server's behaviour in one iteration as text: reply types or stanza names with their
/// first detail (reason code, type), how connections closed, and the violation ids.
pub fn signature_text(result: &CaseResult) -> String {
    let mut parts = Vec::new();
    for e in &result.transcript {
        match (e.direction, &e.message, &e.event) {
            (Direction::Received, Some(m), _) => {
                let mut text = String::new();
                shape(&m.data, 0, &mut text);
                parts.push(text);
            }
            (Direction::Event, _, Some(Event::Closed { by, how })) => {
                parts.push(format!("closed {by:?} {how:?}"));
            }
            _ => {}
        }
    }
    for id in super::oracle::violations(result) {
        parts.push(format!("violation {id}"));
    }
    parts.join(" | ")
}

/// The kind of a received message without what varies from run to run (ids, topics, payloads,
/// timestamps): the scalar values of its `type`, `name`, `reason`, `reasons` and `code` keys
/// (packet type and reason codes; element name), an element's `type` attribute, and the same of
/// its child elements, three levels down. Whole summaries would carry the run's client ids and
/// topics, so every iteration would look new and the novelty weights would mean nothing.
fn shape(data: &serde_json::Value, depth: usize, out: &mut String) {
    use serde_json::Value;
    let Value::Object(m) = data else { return };
    for key in ["type", "name", "reason", "reasons", "code"] {
        match m.get(key) {
            Some(Value::String(v)) => {
                out.push_str(v);
                out.push(' ');
            }
            Some(Value::Array(vs)) => {
                for v in vs.iter().filter_map(Value::as_str) {
                    out.push_str(v);
                    out.push(',');
                }
                out.push(' ');
            }
            Some(v @ (Value::Number(_) | Value::Bool(_))) => {
                out.push_str(&v.to_string());
                out.push(' ');
            }
            _ => {}
        }
    }
    if let Some(Value::String(t)) = m.get("attrs").and_then(|a| a.get("type")) {
        out.push_str("type=");
        out.push_str(t);
        out.push(' ');
    }
    if depth < 3
        && let Some(Value::Array(children)) = m.get("children")
    {
        out.push('(');
        for c in children {
            shape(c, depth + 1, out);
        }
        out.push(')');
    }
}

/// A stable 64-bit hash of a signature text (FNV-1a).
pub fn hash(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn the_shape_of_a_message_leaves_out_what_varies_between_runs() {
        let a = serde_json::json!({"type": "publish", "topic": "wirecheck/abc/x", "id": 7,
            "properties": {"reason_string": "r1"}});
        let b = serde_json::json!({"type": "publish", "topic": "wirecheck/xyz/x", "id": 9});
        let (mut sa, mut sb) = (String::new(), String::new());
        shape(&a, 0, &mut sa);
        shape(&b, 0, &mut sb);
        assert_eq!(sa, sb);
        let c = serde_json::json!({"type": "suback", "reasons": ["granted_qos_1"]});
        let d = serde_json::json!({"type": "suback", "reasons": ["not_authorized"]});
        let (mut sc, mut sd) = (String::new(), String::new());
        shape(&c, 0, &mut sc);
        shape(&d, 0, &mut sd);
        assert_ne!(sc, sd, "reason codes are behaviour");
        let e = serde_json::json!({"name": "iq", "attrs": {"type": "error", "id": "x1"},
            "children": [{"name": "error", "children": [{"name": "item-not-found"}]}]});
        let mut se = String::new();
        shape(&e, 0, &mut se);
        assert!(
            se.contains("type=error") && se.contains("item-not-found"),
            "{se}"
        );
        assert!(!se.contains("x1"), "{se}");
    }

    #[test]
    fn a_new_signature_raises_the_weight_of_its_choice() {
        let mut s = Scheduler::new(vec![Protocol::Mqtt; 3]);
        let c = Choice {
            seed: 2,
            mutator: "qos",
        };
        assert!(s.learn(c, 7));
        assert!(!s.learn(c, 7));
        let mut rng = StdRng::seed_from_u64(5);
        let picks = (0..3000).filter(|_| s.pick(&mut rng).seed == 2).count();
        // Weight 2 of 4: about half the picks.
        assert!((1200..1800).contains(&picks), "{picks}");
    }
}
