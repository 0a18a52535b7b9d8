//! Stream management (XEP-0198) for the reference server: `<enable/>`, acknowledgements, and the
//! resumption of a session whose WebSocket broke (RFC 7395 Section 3.6).

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::mpsc;

use super::{Out, Phase, Session, random_hex};
use crate::reference::xmpp::fault::XmppFault;
use crate::xmpp::element::{Element, escape};
use crate::xmpp::ns;

/// How long a detached resumable session waits for its `<resume/>` (advertised as `max`).
pub(in crate::reference::xmpp) const RESUME_TIMEOUT: Duration = Duration::from_secs(60);
/// Most unacknowledged stanzas kept for retransmission; older ones are forgotten.
const MAX_UNACKED: usize = 1000;

/// One session's stream management counters.
#[derive(Debug, Default)]
pub(super) struct SmState {
    /// Stanzas handled from the client since `<enable/>` (the h this server reports).
    handled: u32,
    /// Stanzas sent to the client since `<enable/>`.
    sent: u32,
    /// Sent stanzas the client has not acknowledged, with their sequence numbers.
    unacked: VecDeque<(u32, String)>,
    /// The resumption id, when the client asked for resumption.
    id: Option<String>,
}

/// A detached session waiting for its `<resume/>`, with the queue other sessions route to.
pub(in crate::reference::xmpp) struct Parked {
    /// The session as it was when its connection broke.
    pub session: Session,
    /// Stanzas routed to it meanwhile.
    pub rx: mpsc::Receiver<String>,
}

/// Resumable sessions by resumption id: the account of every live one (connected or
/// detached), and the detached ones themselves.
#[derive(Default)]
pub(in crate::reference::xmpp) struct ParkedSessions {
    live: Mutex<HashMap<String, String>>,
    parked: Mutex<HashMap<String, Parked>>,
}

impl fmt::Debug for ParkedSessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.parked.lock().map(|m| m.len()).unwrap_or_default();
        write!(f, "ParkedSessions({n} parked)")
    }
}

fn locked<T, R>(m: &Mutex<T>, f: impl FnOnce(&mut T) -> R) -> R {
    // A poisoned lock only means another session panicked mid-update; the map is still usable.
    let mut guard = m.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut guard)
}

impl ParkedSessions {
    /// Keeps a detached session under its resumption id.
    pub fn park(&self, id: String, parked: Parked) {
        locked(&self.parked, |m| m.insert(id, parked));
    }

    /// Takes the session parked under `id` out, if it is there.
    pub fn take(&self, id: &str) -> Option<Parked> {
        locked(&self.parked, |m| m.remove(id))
    }

    /// Whether a session with resumption id `id` is still alive (connected or parked).
    pub fn is_live(&self, id: &str) -> bool {
        locked(&self.live, |m| m.contains_key(id))
    }

    fn register(&self, id: &str, user: &str) {
        locked(&self.live, |m| m.insert(id.to_string(), user.to_string()));
    }

    fn forget(&self, id: &str) {
        locked(&self.live, |m| m.remove(id));
    }

    /// The account of the live session with resumption id `id`.
    fn user_of(&self, id: &str) -> Option<String> {
        locked(&self.live, |m| m.get(id).cloned())
    }
}

fn failed(condition: Option<&str>) -> String {
    match condition {
        Some(c) => format!(
            "<failed xmlns='{}'><{c} xmlns='{}'/></failed>",
            ns::SM,
            ns::STANZAS
        ),
        None => format!("<failed xmlns='{}'/>", ns::SM),
    }
}

/// Whether a serialized element is a stanza (what stream management counts).
fn is_stanza_text(t: &str) -> bool {
    ["<message", "<presence", "<iq"].iter().any(|p| {
        t.strip_prefix(p)
            .is_some_and(|rest| rest.starts_with([' ', '>', '/']))
    })
}

impl Session {
    /// Handles a first-level element in the stream management namespace.
    pub(super) fn sm_element(&mut self, el: &Element) {
        let bound = self.phase == Phase::Bound;
        match el.name.as_str() {
            "enable" if self.sm.is_some() => self.emit(failed(Some("unexpected-request"))),
            "enable" if bound || self.fault(XmppFault::SmEnableBeforeBind) => {
                let resume = matches!(el.attr("resume"), Some("true" | "1"));
                let id = resume.then(|| random_hex(12));
                if let (Some(id), Some(user)) = (&id, &self.user) {
                    self.shared.parked.register(id, user);
                }
                let reply = match &id {
                    Some(id) => format!(
                        "<enabled xmlns='{}' resume='true' id='{id}' max='{}'/>",
                        ns::SM,
                        RESUME_TIMEOUT.as_secs()
                    ),
                    None => format!("<enabled xmlns='{}'/>", ns::SM),
                };
                self.sm = Some(SmState {
                    id,
                    ..SmState::default()
                });
                self.emit(reply);
            }
            "enable" => self.emit(failed(Some("unexpected-request"))),
            "r" => {
                let counts_r = self.fault(XmppFault::SmCountsNonzas);
                if let Some(sm) = &mut self.sm {
                    if counts_r {
                        sm.handled += 1;
                    }
                    let h = sm.handled;
                    self.emit(format!("<a xmlns='{}' h='{h}'/>", ns::SM));
                }
            }
            "a" => {
                let h = el.attr("h").and_then(|h| h.parse::<u32>().ok());
                if let (Some(sm), Some(h)) = (&mut self.sm, h) {
                    sm.unacked.retain(|(seq, _)| *seq > h);
                }
            }
            "resume" if self.phase == Phase::Bind => self.sm_resume(el),
            "resume" => self.emit(failed(Some("unexpected-request"))),
            _ => {}
        }
    }

    /// A `<resume/>` on an authenticated stream before binding: hands the connection over to
    /// the parked session of the same account, or refuses.
    fn sm_resume(&mut self, el: &Element) {
        let previd = el.attr("previd").unwrap_or_default().to_string();
        let h = el.attr("h").and_then(|h| h.parse::<u32>().ok());
        let known = !previd.is_empty()
            && self.user.is_some()
            && self.shared.parked.user_of(&previd) == self.user;
        match h {
            Some(h) if known => self.out.push(Out::Resume { previd, h }),
            _ if self.fault(XmppFault::SmFailedWithoutCondition) => self.emit(failed(None)),
            Some(_) => self.emit(failed(Some("item-not-found"))),
            None => self.emit(failed(Some("bad-request"))),
        }
    }

    /// The session ends for good: it can no longer be resumed.
    pub(super) fn sm_end(&mut self) {
        if let Some(id) = self.sm.as_ref().and_then(|s| s.id.as_deref()) {
            self.shared.parked.forget(id);
        }
    }

    /// Counts a stanza handled from the client.
    pub(super) fn sm_count_in(&mut self) {
        if let Some(sm) = &mut self.sm {
            sm.handled = sm.handled.wrapping_add(1);
        }
    }

    /// Numbers the stanzas about to be sent and keeps them until the client acknowledges them.
    pub(super) fn sm_track_out(&mut self, outs: &[Out]) {
        let Some(sm) = &mut self.sm else { return };
        for out in outs {
            if let Out::Text(t) = out
                && is_stanza_text(t)
            {
                sm.sent = sm.sent.wrapping_add(1);
                sm.unacked.push_back((sm.sent, t.clone()));
                if sm.unacked.len() > MAX_UNACKED {
                    sm.unacked.pop_front();
                }
            }
        }
    }

    /// The resumption id under which this session may be parked when its connection breaks
    /// (bound, resumption enabled, the stream not closed).
    pub fn resumable_id(&self) -> Option<String> {
        (self.phase == Phase::Bound)
            .then(|| self.sm.as_ref().and_then(|s| s.id.clone()))
            .flatten()
    }

    /// The answer for the connection that resumed this session, whose client had handled `h`
    /// stanzas: `<resumed/>`, then every stanza it did not acknowledge, again.
    pub fn on_resumed(&mut self, previd: &str, h: u32) -> Vec<Out> {
        let reset = self.fault(XmppFault::SmResumedCountReset);
        let loses = self.fault(XmppFault::SmResumeLosesHeld);
        let Some(sm) = &mut self.sm else {
            return Vec::new();
        };
        let handled = if reset { 0 } else { sm.handled };
        let mut pending: Vec<String> = sm
            .unacked
            .drain(..)
            .filter(|(seq, _)| *seq > h)
            .map(|(_, t)| t)
            .collect();
        sm.sent = h;
        if loses {
            pending.clear();
        }
        self.emit(format!(
            "<resumed xmlns='{}' previd='{}' h='{handled}'/>",
            ns::SM,
            escape(previd)
        ));
        for t in pending {
            self.emit(t);
        }
        self.take()
    }

    /// A stanza another session routed here, on its way to the client.
    pub fn on_routed(&mut self, xml: String) -> Vec<Out> {
        self.emit(xml);
        self.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stanza_texts_are_told_from_other_elements() {
        assert!(is_stanza_text("<iq type='result' id='a'/>"));
        assert!(is_stanza_text("<message>"));
        assert!(is_stanza_text("<presence/>"));
        assert!(!is_stanza_text("<iqx/>"));
        assert!(!is_stanza_text("<a xmlns='urn:xmpp:sm:3' h='1'/>"));
        assert!(!is_stanza_text("<enabled xmlns='urn:xmpp:sm:3'/>"));
    }

    #[test]
    fn failed_carries_its_condition() {
        assert_eq!(
            failed(Some("item-not-found")),
            "<failed xmlns='urn:xmpp:sm:3'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>"
        );
        assert_eq!(failed(None), "<failed xmlns='urn:xmpp:sm:3'/>");
    }
}
