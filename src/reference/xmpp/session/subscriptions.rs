//! Glue between a bound session and the roster store (`super::super::roster`): hands it roster
//! iqs, subscription presence and presence broadcasts, and delivers what it returns.

use super::*;
use crate::reference::xmpp::roster::{self, Delivery};

impl Session {
    /// This session's own resource record, if bound.
    fn own_resource(&self, me: &Jid) -> Option<Resource> {
        let res = me.resource.as_deref()?;
        self.shared.router.resource(&me.bare_string(), res)
    }

    fn deliver_all(&mut self, out: Vec<Delivery>) {
        for (r, xml) in out {
            if r.conn == self.conn {
                self.emit(xml);
            } else if r.tx.try_send(xml).is_err() {
                tracing::debug!(conn = r.conn, "reference xmpp: roster delivery dropped");
            }
        }
    }

    /// Whether `el` is an iq carrying a `jabber:iq:roster` query.
    pub(super) fn is_roster_iq(el: &Element) -> bool {
        el.elements()
            .next()
            .is_some_and(|p| p.is("query", roster::ROSTER))
    }

    /// A roster get/set on the sender's own roster (RFC 6121 Section 2).
    pub(super) fn roster_iq(&mut self, el: &Element, me: &Jid) {
        let Some(me_res) = self.own_resource(me) else {
            return;
        };
        let out = roster::roster_iq(&self.shared, me, &me_res, el);
        self.deliver_all(out);
    }

    /// Subscription presence (`subscribe`, `subscribed`, `unsubscribe`, `unsubscribed`) with a 'to'.
    pub(super) fn roster_subscription(&mut self, el: &Element, ty: &str, me: &Jid) {
        let Some(me_res) = self.own_resource(me) else {
            return;
        };
        let out = roster::subscription(&self.shared, me, &me_res, el, ty);
        self.deliver_all(out);
    }

    /// Available presence without 'to', already stamped: broadcast to subscribers, probes answered.
    pub(super) fn roster_available(&mut self, stamped: &Element, initial: bool, me: &Jid) {
        let Some(me_res) = self.own_resource(me) else {
            return;
        };
        let out = roster::available(&self.shared, me, &me_res, stamped, initial);
        self.deliver_all(out);
    }

    /// Unavailable presence without 'to', already stamped: broadcast to subscribers.
    pub(super) fn roster_unavailable(&mut self, stamped: &Element, me: &Jid) {
        let out = roster::unavailable(&self.shared, me, Some(stamped), false);
        self.deliver_all(out);
    }
}
