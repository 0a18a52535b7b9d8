//! Stanza routing for a bound session: presence broadcast, message delivery, iq handling (RFC 6120/6121).

use super::*;

/// Message types of RFC 6121 Section 5.2.2 (unknown values count as normal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MsgType {
    Normal,
    Chat,
    Groupchat,
    Headline,
    Error,
}

/// Where a stanza's `to` points.
enum Target {
    /// The server's own domain.
    Server,
    /// An existing local account (bare JID key) and maybe a resource.
    Local {
        bare: String,
        resource: Option<String>,
    },
    /// A localpart on our domain with no account.
    NoSuchUser,
    /// Another domain (there is no server-to-server support).
    Remote,
    /// Not a JID.
    Malformed,
}

/// Puts an element written without a namespace (and its unqualified descendants) into `jabber:client`.
fn qualify(el: &mut Element) {
    if el.ns.is_none() && el.prefix.is_none() {
        el.ns = Some(ns::CLIENT.to_string());
        for child in &mut el.children {
            if let Node::Element(c) = child {
                qualify(c);
            }
        }
    }
}

fn priority(el: &Element) -> i8 {
    el.find("priority")
        .and_then(|p| p.text().trim().parse::<i64>().ok())
        .map(|p| p.clamp(i8::MIN.into(), i8::MAX.into()) as i8)
        .unwrap_or(0)
}

impl Session {
    /// The session goes unavailable: every entity that got directed presence from it gets
    /// unavailable presence too (RFC 6121 §4.6.3).
    pub(super) fn directed_unavailable(&mut self, full: &str) {
        for to in std::mem::take(&mut self.directed_to) {
            let Target::Local { bare, resource } = self.target(&to) else {
                continue;
            };
            let xml = format!(
                "<presence xmlns='{}' type='unavailable' from='{}' to='{}'/>",
                ns::CLIENT,
                escape(full),
                escape(&to)
            );
            let targets = match resource
                .as_deref()
                .and_then(|res| self.shared.router.resource(&bare, res))
            {
                Some(r) => vec![r],
                None => self
                    .shared
                    .router
                    .resources(&bare)
                    .into_iter()
                    .filter(|r| r.available)
                    .collect(),
            };
            for r in targets {
                self.deliver(&r, xml.clone());
            }
        }
    }

    fn deliver(&mut self, r: &Resource, xml: String) {
        if r.conn == self.conn {
            self.emit(xml);
        } else if r.tx.try_send(xml).is_err() {
            tracing::debug!(
                conn = r.conn,
                "reference xmpp: recipient queue full or gone, stanza dropped"
            );
        }
    }

    fn error_to_sender(&mut self, el: &Element, error_type: &str, condition: &str, me: &Jid) {
        if el.attr("type") == Some("error") {
            return; // never answer an error with an error (RFC 6120 Section 8.3.1)
        }
        let reply = stanza::error_reply(el, error_type, condition, &me.to_string());
        self.emit(reply.to_xml());
    }

    fn target(&self, to: &str) -> Target {
        let Ok(j) = Jid::parse(to) else {
            return Target::Malformed;
        };
        if !j.domain.eq_ignore_ascii_case(&self.shared.domain) {
            return Target::Remote;
        }
        let Some(local) = j.local else {
            return Target::Server;
        };
        let local = local.to_lowercase();
        if !self.shared.accounts.contains(&local) {
            return Target::NoSuchUser;
        }
        Target::Local {
            bare: format!("{local}@{}", self.shared.domain),
            resource: j.resource,
        }
    }

    pub(super) fn stanza(&mut self, mut el: Element) {
        qualify(&mut el);
        let Some(me) = self.jid.clone() else { return };
        if self.muc_stanza(&el, &me) {
            return;
        }
        match stanza::kind(&el) {
            Some(StanzaKind::Presence) => self.presence(el, &me),
            Some(StanzaKind::Message) => self.message(el, &me),
            Some(StanzaKind::Iq) => self.iq(el, &me),
            None => {}
        }
    }

    fn presence(&mut self, el: Element, me: &Jid) {
        let ty = el.attr("type").map(str::to_string);
        let valid = matches!(
            ty.as_deref(),
            None | Some(
                "unavailable"
                    | "subscribe"
                    | "subscribed"
                    | "unsubscribe"
                    | "unsubscribed"
                    | "probe"
                    | "error"
            )
        );
        if !valid {
            self.error_to_sender(&el, "modify", "bad-request", me);
            return;
        }
        let full = me.to_string();
        let bare = me.bare_string();
        let Some(to) = el.attr("to").map(str::to_string) else {
            match ty.as_deref() {
                None => self.broadcast_available(el, me),
                Some("unavailable") => {
                    self.directed_unavailable(&full);
                    self.muc_gone(&full, true);
                    let mut stamped = el;
                    stamped.set_attr("from", &full);
                    let was = self.shared.router.set_presence(&bare, self.conn, None);
                    let xml = stamped.to_xml();
                    for r in self.shared.router.resources(&bare) {
                        if r.available || r.conn == self.conn {
                            self.deliver(&r, xml.clone());
                        }
                    }
                    if was {
                        self.roster_unavailable(&stamped, me);
                    }
                }
                _ => {}
            }
            return;
        };
        if let Some(t @ ("subscribe" | "subscribed" | "unsubscribe" | "unsubscribed")) =
            ty.as_deref()
        {
            self.roster_subscription(&el, t, me);
            return;
        }
        match self.target(&to) {
            Target::Local {
                bare: tbare,
                resource,
            } => {
                let subscription = matches!(
                    ty.as_deref(),
                    Some("subscribe" | "subscribed" | "unsubscribe" | "unsubscribed")
                );
                if ty.as_deref() == Some("probe") {
                    return;
                }
                match ty.as_deref() {
                    None => {
                        self.directed_to.insert(to.clone());
                    }
                    Some("unavailable") => {
                        self.directed_to.remove(&to);
                    }
                    _ => {}
                }
                let mut stamped = el;
                stamped.set_attr("from", if subscription { &bare } else { &full });
                let xml = stamped.to_xml();
                let exact = resource
                    .as_deref()
                    .and_then(|res| self.shared.router.resource(&tbare, res));
                match exact {
                    Some(r) => self.deliver(&r, xml),
                    None if ty.as_deref() == Some("error") => {}
                    None => {
                        let one = self.fault(XmppFault::BarePresenceOneResource);
                        let available = self.shared.router.resources(&tbare).into_iter();
                        for r in
                            available
                                .filter(|r| r.available)
                                .take(if one { 1 } else { usize::MAX })
                        {
                            self.deliver(&r, xml.clone());
                        }
                    }
                }
            }
            Target::Malformed => self.error_to_sender(&el, "modify", "jid-malformed", me),
            Target::Server | Target::NoSuchUser | Target::Remote => {}
        }
    }

    /// Available presence without 'to': store it and echo it to all of the account's available resources.
    fn broadcast_available(&mut self, el: Element, me: &Jid) {
        let full = me.to_string();
        let bare = me.bare_string();
        let mut stamped = el;
        stamped.set_attr("from", &full);
        let prio = priority(&stamped);
        let was_available =
            self.shared
                .router
                .set_presence(&bare, self.conn, Some((prio, stamped.clone())));
        let xml = stamped.to_xml();
        let resources = self.shared.router.resources(&bare);
        for r in &resources {
            if !r.available {
                continue;
            }
            if r.conn == self.conn && !was_available && self.fault(XmppFault::PresenceNotReflected)
            {
                continue;
            }
            if r.conn == self.conn && self.fault(XmppFault::ExtraPresenceAttribute) {
                self.deliver(r, stamped.clone().attr_with("xml:lang", "en").to_xml());
                continue;
            }
            self.deliver(r, xml.clone());
        }
        if !was_available {
            // A new presence session learns the presence of the account's other resources.
            for r in &resources {
                if r.available
                    && r.conn != self.conn
                    && let Some(p) = &r.presence
                {
                    self.emit(p.to_xml());
                }
            }
        }
        self.roster_available(&stamped, !was_available, me);
    }

    fn message(&mut self, el: Element, me: &Jid) {
        let ty = match el.attr("type") {
            Some("chat") => MsgType::Chat,
            Some("groupchat") => MsgType::Groupchat,
            Some("headline") => MsgType::Headline,
            Some("error") => MsgType::Error,
            _ => MsgType::Normal,
        };
        let to = el
            .attr("to")
            .map(str::to_string)
            .unwrap_or_else(|| me.bare_string());
        match self.target(&to) {
            Target::Malformed => self.error_to_sender(&el, "modify", "jid-malformed", me),
            Target::Remote => self.error_to_sender(&el, "cancel", "remote-server-not-found", me),
            Target::NoSuchUser => self.error_to_sender(&el, "cancel", "service-unavailable", me),
            Target::Server => {}
            Target::Local { bare, resource } => {
                let exact = resource
                    .as_deref()
                    .and_then(|res| self.shared.router.resource(&bare, res));
                match (exact, resource.is_some(), ty) {
                    (Some(r), _, _) => {
                        let xml = self.stamp_message(el, me);
                        self.deliver(&r, xml);
                    }
                    // RFC 6121 Section 8.5.3.2.1: no such resource.
                    (None, true, MsgType::Normal | MsgType::Groupchat) => {
                        self.error_to_sender(&el, "cancel", "service-unavailable", me);
                    }
                    (None, true, MsgType::Headline | MsgType::Error) => {}
                    (None, _, _) => self.message_to_bare(el, &bare, ty, me),
                }
            }
        }
    }

    fn stamp_message(&self, mut el: Element, me: &Jid) -> String {
        let from = if self.fault(XmppFault::WrongFromOnMessage) {
            me.bare_string()
        } else {
            me.to_string()
        };
        el.set_attr("from", from);
        el.to_xml()
    }

    /// RFC 6121 Section 8.5.2: a message to a bare JID.
    fn message_to_bare(&mut self, el: Element, bare: &str, ty: MsgType, me: &Jid) {
        let candidates: Vec<Resource> = self
            .shared
            .router
            .resources(bare)
            .into_iter()
            .filter(|r| r.available && r.priority >= 0)
            .collect();
        // The fault adds the negative-priority resources to whatever would be delivered.
        let negative: Vec<Resource> = if self.fault(XmppFault::NegativePriorityDelivered) {
            let all = self.shared.router.resources(bare).into_iter();
            all.filter(|r| r.available && r.priority < 0).collect()
        } else {
            Vec::new()
        };
        let ty = match ty {
            MsgType::Error if self.fault(XmppFault::ErrorMessageDelivered) => MsgType::Normal,
            t => t,
        };
        match ty {
            MsgType::Error => {}
            MsgType::Groupchat => self.error_to_sender(&el, "cancel", "service-unavailable", me),
            MsgType::Headline => {
                let xml = self.stamp_message(el, me);
                for r in &candidates {
                    self.deliver(r, xml.clone());
                }
            }
            MsgType::Normal | MsgType::Chat => {
                let Some(best) = candidates.iter().map(|r| r.priority).max() else {
                    if !self.fault(XmppFault::OfflineMessageDropped) {
                        self.error_to_sender(&el, "cancel", "service-unavailable", me);
                    }
                    return;
                };
                let xml = self.stamp_message(el, me);
                for r in candidates
                    .iter()
                    .filter(|r| r.priority == best)
                    .chain(&negative)
                {
                    self.deliver(r, xml.clone());
                }
            }
        }
    }

    fn iq(&mut self, el: Element, me: &Jid) {
        let ty = el.attr("type").map(str::to_string);
        let request = matches!(ty.as_deref(), Some("get" | "set"));
        if !request && !matches!(ty.as_deref(), Some("result" | "error")) {
            self.error_to_sender(&el, "modify", "bad-request", me);
            return;
        }
        if el.attr("id").is_none() || (request && el.elements().count() != 1) {
            if request {
                self.error_to_sender(&el, "modify", "bad-request", me);
            }
            return;
        }
        let Some(to) = el.attr("to").map(str::to_string) else {
            self.iq_to_server(el, me);
            return;
        };
        match self.target(&to) {
            Target::Server => self.iq_to_server(el, me),
            Target::Local {
                bare,
                resource: None,
            } => {
                if bare == me.bare_string() {
                    self.iq_to_server(el, me);
                } else if request && Self::is_roster_iq(&el) {
                    // RFC6121-2.3.3-2: only the account itself may read or change its roster.
                    self.error_to_sender(&el, "auth", "forbidden", me);
                } else if request {
                    self.error_to_sender(&el, "cancel", "service-unavailable", me);
                }
            }
            Target::Local {
                bare,
                resource: Some(res),
            } => match self.shared.router.resource(&bare, &res) {
                Some(r) => {
                    let mut routed = el;
                    routed.set_attr("from", me.to_string());
                    let xml = routed.to_xml();
                    self.deliver(&r, xml);
                }
                None if request => self.error_to_sender(&el, "cancel", "service-unavailable", me),
                None => {}
            },
            Target::NoSuchUser if request => {
                self.error_to_sender(&el, "cancel", "service-unavailable", me)
            }
            Target::Remote if request => {
                self.error_to_sender(&el, "cancel", "remote-server-not-found", me)
            }
            Target::Malformed if request => {
                self.error_to_sender(&el, "modify", "jid-malformed", me)
            }
            Target::NoSuchUser | Target::Remote | Target::Malformed => {}
        }
    }

    /// An iq the server answers itself (no 'to', its domain, or the sender's own bare JID).
    fn iq_to_server(&mut self, el: Element, me: &Jid) {
        let ty = el.attr("type").unwrap_or_default().to_string();
        if ty != "get" && ty != "set" {
            return; // results and errors without a pending request are ignored (RFC 6120 Section 10.3.3)
        }
        if Self::is_roster_iq(&el) {
            self.roster_iq(&el, me);
            return;
        }
        let known = el.elements().next().is_some_and(|p| {
            (p.is("ping", ns::PING) && ty == "get")
                || (p.is("session", ns::SESSION) && ty == "set")
                || (p.is("query", ns::DISCO_ITEMS) && ty == "get")
        });
        if !known && !self.fault(XmppFault::IqUnknownAnsweredResult) {
            if !self.fault(XmppFault::IqUnknownIgnored) {
                self.error_to_sender(&el, "cancel", "service-unavailable", me);
            }
            return;
        }
        let mut reply = Element::with_ns("iq", ns::CLIENT);
        if let Some(id) = el.attr("id") {
            reply.set_attr("id", id);
        }
        reply.set_attr("type", "result");
        if let Some(to) = el.attr("to") {
            reply.set_attr("from", to);
        }
        reply.set_attr("to", me.to_string());
        if el
            .elements()
            .next()
            .is_some_and(|p| p.is("query", ns::DISCO_ITEMS))
        {
            // XEP-0030 items of the domain: the MUC service (XEP-0045 Section 6.1).
            let item = Element::with_ns("item", ns::DISCO_ITEMS)
                .attr_with(
                    "jid",
                    super::super::muc::service_domain(&self.shared.domain),
                )
                .attr_with("name", "Chatrooms");
            reply = reply.child_with(Element::with_ns("query", ns::DISCO_ITEMS).child_with(item));
        }
        self.emit(reply.to_xml());
    }
}
