//! The verdict of an audit per area: each case counts in one area (by its group and tags),
//! each fact in its own; an area fails on a failed case or a finding, and names the
//! statements that failed.

use std::collections::BTreeSet;

use crate::case::Case;
use crate::facts::{Area, Fact, Status};
use crate::run::verdict::{CaseResult, Verdict};

/// The area a case counts in. MQTT: framing for malformed input, WebSocket and encoding
/// cases; security for authentication; negotiation for CONNECT, sessions, keep alive and
/// limits; delivery for the rest. XMPP: framing and negotiation (SASL, binding, stream
/// management, registration) by group or tag; delivery (presence, roster, messages, iq, MUC)
/// for the rest.
pub fn area_of(case: &Case) -> Area {
    let has = |t: &str| case.tags.iter().any(|x| x == t);
    let group = case.group();
    let in_group = |g: &str| group.ends_with(&format!(".{g}"));
    if case.protocol == crate::case::Protocol::Xmpp {
        return if in_group("framing") || has("framing") {
            Area::Framing
        } else if ["negotiation", "sasl", "sm", "register"]
            .iter()
            .any(|g| in_group(g))
            || ["negotiation", "sasl", "scram", "bind", "handshake"]
                .iter()
                .any(|t| has(t))
        {
            Area::Negotiation
        } else {
            Area::Delivery
        };
    }
    if ["malformed", "framing", "websocket", "encoding", "utf8"]
        .iter()
        .any(|t| has(t))
    {
        Area::Framing
    } else if has("auth") {
        Area::Security
    } else if ["connect", "session", "keepalive", "disconnect", "limits"]
        .iter()
        .any(|t| has(t))
    {
        Area::Negotiation
    } else {
        Area::Delivery
    }
}

/// How an area came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AreaOutcome {
    /// Cases ran and passed, no finding.
    Pass,
    /// Only warnings besides passing cases.
    Warn,
    /// A case failed or a fact is a finding.
    Fail,
    /// A case could not be run (and none failed).
    Error,
    /// Nothing in this area ran.
    NotTested,
}

impl AreaOutcome {
    /// The word shown.
    pub fn name(self) -> &'static str {
        match self {
            AreaOutcome::Pass => "pass",
            AreaOutcome::Warn => "pass with warnings",
            AreaOutcome::Fail => "FAIL",
            AreaOutcome::Error => "error",
            AreaOutcome::NotTested => "not tested",
        }
    }
}

/// One area's verdict.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AreaVerdict {
    /// The area.
    pub area: Area,
    /// Its outcome.
    pub outcome: AreaOutcome,
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed.
    pub failed: usize,
    /// Cases that could not run (error verdict).
    pub errors: usize,
    /// Cases skipped (capability missing, too few accounts).
    pub skipped: usize,
    /// The statements of the failed checks and findings, sorted.
    pub failing: Vec<String>,
    /// Failed case ids.
    pub failed_cases: Vec<String>,
    /// Facts that are findings or warnings, as text.
    pub notes: Vec<String>,
}

impl AreaVerdict {
    /// An area where nothing ran yet.
    pub fn new(area: Area) -> AreaVerdict {
        AreaVerdict {
            area,
            outcome: AreaOutcome::NotTested,
            passed: 0,
            failed: 0,
            errors: 0,
            skipped: 0,
            failing: Vec::new(),
            failed_cases: Vec::new(),
            notes: Vec::new(),
        }
    }
}

/// The verdict of every area from the results (with their cases, by id) and the facts.
pub fn judge(cases: &[Case], results: &[CaseResult], facts: &[Fact]) -> Vec<AreaVerdict> {
    Area::ALL
        .iter()
        .map(|&area| {
            let mut v = AreaVerdict::new(area);
            let mut failing = BTreeSet::new();
            for r in results {
                let Some(case) = cases.iter().find(|c| c.id == r.id) else {
                    continue;
                };
                if area_of(case) != area {
                    continue;
                }
                match r.verdict {
                    Verdict::Pass | Verdict::Xfail => v.passed += 1,
                    Verdict::Fail | Verdict::Xpass => {
                        v.failed += 1;
                        v.failed_cases.push(r.id.clone());
                        for f in &r.failures {
                            failing.extend(f.spec.iter().cloned());
                        }
                    }
                    Verdict::Error => v.errors += 1,
                    Verdict::Skip | Verdict::Interrupted => v.skipped += 1,
                }
            }
            let mut findings = 0;
            let mut warnings = 0;
            let mut judged = 0;
            for f in facts.iter().filter(|f| f.area == area) {
                match f.status {
                    Status::Finding => {
                        findings += 1;
                        if let Some(id) = &f.spec {
                            failing.insert(id.clone());
                        }
                        v.notes.push(format!("finding: {f}"));
                    }
                    Status::Warn => {
                        warnings += 1;
                        v.notes.push(format!("warning: {f}"));
                    }
                    Status::Ok => judged += 1,
                    Status::Info => {}
                }
            }
            v.failing = failing.into_iter().collect();
            v.outcome = if v.failed > 0 || findings > 0 {
                AreaOutcome::Fail
            } else if v.errors > 0 {
                AreaOutcome::Error
            } else if warnings > 0 {
                AreaOutcome::Warn
            } else if v.passed > 0 || judged > 0 {
                AreaOutcome::Pass
            } else {
                AreaOutcome::NotTested
            };
            v
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(yaml: &str) -> Case {
        crate::case::load_str(std::path::Path::new("cases/mqtt/v311/x.yaml"), yaml).unwrap()
    }

    #[test]
    fn a_finding_fails_its_area_only() {
        let facts = vec![
            Fact::new(
                Area::Security,
                "Certificate chain",
                "not trusted",
                Status::Finding,
            ),
            Fact::new(Area::Negotiation, "MQTT 5.0", "accepted", Status::Ok),
        ];
        let v = judge(&[], &[], &facts);
        let by = |a: Area| v.iter().find(|x| x.area == a).unwrap().outcome;
        assert_eq!(by(Area::Security), AreaOutcome::Fail);
        assert_eq!(by(Area::Negotiation), AreaOutcome::Pass);
        assert_eq!(by(Area::Framing), AreaOutcome::NotTested);
    }

    #[test]
    fn cases_count_in_the_area_of_their_tags() {
        let c = case(
            "id: t.x\ntitle: t\nprotocol: mqtt\nversion: \"3.1.1\"\nspec: [MQTT-3.1.0-1]\ntags: [connect, malformed]\nactors: { a: {} }\nsteps:\n  - connect: a\n",
        );
        assert_eq!(area_of(&c), Area::Framing);
    }
}
