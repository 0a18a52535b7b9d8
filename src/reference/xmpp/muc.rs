//! Multi-user chat basics (XEP-0045) for the reference server: a service at `conference.<domain>`,
//! rooms created on first join (locked until the owner accepts the instant-room configuration),
//! occupant presence, groupchat and private messages, leaving, and rooms destroyed when empty.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::xmpp::element::Element;
use crate::xmpp::jid::Jid;
use crate::xmpp::ns;

/// The muc namespace of a join request.
const MUC: &str = "http://jabber.org/protocol/muc";
/// The muc#user namespace of occupant presence.
const MUC_USER: &str = "http://jabber.org/protocol/muc#user";
/// The muc#owner namespace of room configuration.
const MUC_OWNER: &str = "http://jabber.org/protocol/muc#owner";
/// Service discovery info.
const DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";
/// Data forms.
const DATA: &str = "jabber:x:data";

/// The MUC fault switches, read from the server's fault set by the session.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct MucFaults {
    /// Self-presence without status code 110 (XEP-0045-7.2.3-3).
    pub no_status_110: bool,
    /// A groupchat message is not reflected to its sender (XEP-0045-7.4-1).
    pub not_reflected: bool,
    /// Self-presence is sent before the presence of the existing occupants (XEP-0045-7.2.3-1).
    pub self_presence_first: bool,
}

/// A stanza the service sends: to this full JID, this XML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Delivery {
    /// The recipient's full JID.
    pub to: String,
    /// One serialized stanza.
    pub xml: String,
}

#[derive(Debug, Clone)]
struct Occupant {
    nick: String,
    jid: String,
    owner: bool,
}

impl Occupant {
    fn affiliation(&self) -> &'static str {
        if self.owner { "owner" } else { "none" }
    }
    fn role(&self) -> &'static str {
        if self.owner {
            "moderator"
        } else {
            "participant"
        }
    }
}

#[derive(Debug, Default)]
struct Room {
    occupants: Vec<Occupant>,
    locked: bool,
    subject: String,
}

/// All rooms of the service, keyed by lower-cased room localpart.
#[derive(Debug, Default)]
pub(super) struct Muc {
    rooms: Mutex<HashMap<String, Room>>,
}

/// The service's domain for a server domain.
pub(super) fn service_domain(domain: &str) -> String {
    format!("conference.{domain}")
}

fn stanza(name: &str, from: &str, to: &str) -> Element {
    Element::with_ns(name, ns::CLIENT)
        .attr_with("from", from)
        .attr_with("to", to)
}

fn error_element(error_type: &str, condition: &str) -> Element {
    Element::with_ns("error", ns::CLIENT)
        .attr_with("type", error_type)
        .child_with(Element::with_ns(condition, ns::STANZAS))
}

/// An error reply to `el` from its 'to', as RFC 6120 8.3 shapes it.
fn error_reply(el: &Element, sender: &str, error_type: &str, condition: &str) -> Delivery {
    let mut reply = stanza(&el.name, el.attr("to").unwrap_or_default(), sender);
    if let Some(id) = el.attr("id") {
        reply.set_attr("id", id);
    }
    reply.set_attr("type", "error");
    if el.name == "presence" {
        reply.push_child(Element::with_ns("x", MUC));
    }
    reply.push_child(error_element(error_type, condition));
    Delivery {
        to: sender.to_string(),
        xml: reply.to_xml(),
    }
}

fn occupant_presence(
    room_jid: &str,
    who: &Occupant,
    to: &str,
    unavailable: bool,
    codes: &[&str],
) -> Delivery {
    let mut p = stanza("presence", &format!("{room_jid}/{}", who.nick), to);
    if unavailable {
        p.set_attr("type", "unavailable");
    }
    let role = if unavailable { "none" } else { who.role() };
    let mut x = Element::with_ns("x", MUC_USER).child_with(
        Element::with_ns("item", MUC_USER)
            .attr_with("affiliation", who.affiliation())
            .attr_with("role", role),
    );
    for c in codes {
        x.push_child(Element::with_ns("status", MUC_USER).attr_with("code", *c));
    }
    p.push_child(x);
    Delivery {
        to: to.to_string(),
        xml: p.to_xml(),
    }
}

impl Muc {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<String, Room>) -> R) -> R {
        let mut guard = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    /// Handles a stanza addressed to the service or one of its rooms, from full JID `me`.
    pub fn handle(&self, el: &Element, me: &str, to: &Jid, faults: MucFaults) -> Vec<Delivery> {
        let room = to.local.as_deref().map(str::to_lowercase);
        let room_jid = match &room {
            Some(r) => format!("{r}@{}", to.domain.to_lowercase()),
            None => to.domain.to_lowercase(),
        };
        match (el.name.as_str(), room) {
            ("iq", None) => self.service_iq(el, me),
            ("iq", Some(r)) => self.room_iq(el, me, &r),
            ("presence", Some(r)) => {
                self.presence(el, me, &r, &room_jid, to.resource.as_deref(), faults)
            }
            ("message", Some(r)) => {
                self.message(el, me, &r, &room_jid, to.resource.as_deref(), faults)
            }
            ("message", None) if el.attr("type") != Some("error") => {
                vec![error_reply(el, me, "cancel", "service-unavailable")]
            }
            _ => Vec::new(),
        }
    }

    fn service_iq(&self, el: &Element, me: &str) -> Vec<Delivery> {
        let ty = el.attr("type").unwrap_or_default();
        if ty != "get" && ty != "set" {
            return Vec::new();
        }
        let disco = ty == "get"
            && el
                .elements()
                .next()
                .is_some_and(|q| q.is("query", DISCO_INFO));
        if !disco {
            return vec![error_reply(el, me, "cancel", "service-unavailable")];
        }
        let query = Element::with_ns("query", DISCO_INFO)
            .child_with(
                Element::with_ns("identity", DISCO_INFO)
                    .attr_with("category", "conference")
                    .attr_with("type", "text")
                    .attr_with("name", "Chatrooms"),
            )
            .child_with(Element::with_ns("feature", DISCO_INFO).attr_with("var", MUC));
        let mut reply = stanza("iq", el.attr("to").unwrap_or_default(), me)
            .attr_with("type", "result")
            .child_with(query);
        if let Some(id) = el.attr("id") {
            reply.set_attr("id", id);
        }
        vec![Delivery {
            to: me.to_string(),
            xml: reply.to_xml(),
        }]
    }

    /// An owner iq: submitting (or cancelling) the configuration form unlocks the room (10.1.2).
    fn room_iq(&self, el: &Element, me: &str, room: &str) -> Vec<Delivery> {
        let ty = el.attr("type").unwrap_or_default();
        if ty != "get" && ty != "set" {
            return Vec::new();
        }
        let submit = ty == "set"
            && el.elements().next().is_some_and(|q| {
                q.is("query", MUC_OWNER)
                    && q.elements().any(|x| {
                        x.is("x", DATA) && matches!(x.attr("type"), Some("submit" | "cancel"))
                    })
            });
        if !submit {
            return vec![error_reply(el, me, "cancel", "feature-not-implemented")];
        }
        let owner = self.with(|rooms| {
            let r = rooms.get_mut(room)?;
            let owner = r.occupants.iter().any(|o| o.jid == me && o.owner);
            if owner {
                r.locked = false;
            }
            Some(owner)
        });
        match owner {
            None => vec![error_reply(el, me, "cancel", "item-not-found")],
            Some(false) => vec![error_reply(el, me, "auth", "forbidden")],
            Some(true) => {
                let mut reply =
                    stanza("iq", el.attr("to").unwrap_or_default(), me).attr_with("type", "result");
                if let Some(id) = el.attr("id") {
                    reply.set_attr("id", id);
                }
                vec![Delivery {
                    to: me.to_string(),
                    xml: reply.to_xml(),
                }]
            }
        }
    }

    fn presence(
        &self,
        el: &Element,
        me: &str,
        room: &str,
        room_jid: &str,
        nick: Option<&str>,
        faults: MucFaults,
    ) -> Vec<Delivery> {
        match el.attr("type") {
            Some("unavailable") => self.leave(room, room_jid, me, true),
            None => match nick.filter(|n| !n.is_empty()) {
                Some(nick) => self.join(el, me, room, room_jid, nick, faults),
                None => vec![error_reply(el, me, "modify", "jid-malformed")],
            },
            _ => Vec::new(),
        }
    }

    fn join(
        &self,
        el: &Element,
        me: &str,
        room: &str,
        room_jid: &str,
        nick: &str,
        faults: MucFaults,
    ) -> Vec<Delivery> {
        self.with(|rooms| {
            let created = !rooms.contains_key(room);
            let r = rooms.entry(room.to_string()).or_insert_with(|| Room {
                locked: true,
                ..Room::default()
            });
            if let Some(pos) = r.occupants.iter().position(|o| o.jid == me) {
                // A presence update of an occupant: broadcast it (a nick change is not supported).
                let who = r.occupants[pos].clone();
                return r
                    .occupants
                    .iter()
                    .map(|o| {
                        let codes: &[&str] = if o.jid == me { &["110"] } else { &[] };
                        occupant_presence(room_jid, &who, &o.jid, false, codes)
                    })
                    .collect();
            }
            if r.occupants.iter().any(|o| o.nick == nick) {
                return vec![error_reply(el, me, "cancel", "conflict")];
            }
            if r.locked && !created {
                // 7.2.12: a locked room admits no one until its owner configures it.
                return vec![error_reply(el, me, "cancel", "item-not-found")];
            }
            let who = Occupant {
                nick: nick.to_string(),
                jid: me.to_string(),
                owner: created,
            };
            let mut codes = vec!["110"];
            if faults.no_status_110 {
                codes.clear();
            }
            if created {
                codes.push("201");
            }
            let own = occupant_presence(room_jid, &who, me, false, &codes);
            let mut out = Vec::new();
            if faults.self_presence_first {
                out.push(own.clone());
            }
            for o in &r.occupants {
                out.push(occupant_presence(room_jid, o, me, false, &[]));
            }
            for o in &r.occupants {
                out.push(occupant_presence(room_jid, &who, &o.jid, false, &[]));
            }
            if !faults.self_presence_first {
                out.push(own);
            }
            // 7.2.15: the subject (empty when none is set) ends the join.
            let mut subject = Element::with_ns("subject", ns::CLIENT);
            if !r.subject.is_empty() {
                subject.push_text(r.subject.clone());
            }
            let msg = stanza("message", room_jid, me)
                .attr_with("type", "groupchat")
                .child_with(subject);
            out.push(Delivery {
                to: me.to_string(),
                xml: msg.to_xml(),
            });
            r.occupants.push(who);
            out
        })
    }

    /// Removes `me` from `room`: the others get unavailable presence, and `me` too (with 110)
    /// when `tell_self`; an empty room is destroyed.
    fn leave(&self, room: &str, room_jid: &str, me: &str, tell_self: bool) -> Vec<Delivery> {
        self.with(|rooms| {
            let Some(r) = rooms.get_mut(room) else {
                return Vec::new();
            };
            let Some(pos) = r.occupants.iter().position(|o| o.jid == me) else {
                return Vec::new();
            };
            let who = r.occupants.remove(pos);
            let mut out: Vec<Delivery> = r
                .occupants
                .iter()
                .map(|o| occupant_presence(room_jid, &who, &o.jid, true, &[]))
                .collect();
            if tell_self {
                out.push(occupant_presence(room_jid, &who, me, true, &["110"]));
            }
            if r.occupants.is_empty() {
                rooms.remove(room);
            }
            out
        })
    }

    /// The session of full JID `me` ended or went unavailable: it leaves every room it is in.
    pub fn gone(&self, me: &str, service: &str, tell_self: bool) -> Vec<Delivery> {
        let rooms: Vec<String> = self.with(|rooms| {
            rooms
                .iter()
                .filter(|(_, r)| r.occupants.iter().any(|o| o.jid == me))
                .map(|(k, _)| k.clone())
                .collect()
        });
        rooms
            .iter()
            .flat_map(|r| self.leave(r, &format!("{r}@{service}"), me, tell_self))
            .collect()
    }

    fn message(
        &self,
        el: &Element,
        me: &str,
        room: &str,
        room_jid: &str,
        nick: Option<&str>,
        faults: MucFaults,
    ) -> Vec<Delivery> {
        if el.attr("type") == Some("error") {
            return Vec::new();
        }
        self.with(|rooms| {
            let sender = rooms
                .get(room)
                .and_then(|r| r.occupants.iter().find(|o| o.jid == me).cloned());
            let Some(sender) = sender else {
                // 7.4 / 7.5: only occupants may send to the room or its occupants.
                return vec![error_reply(el, me, "modify", "not-acceptable")];
            };
            let r = rooms.get_mut(room).expect("the sender's room exists");
            let from = format!("{room_jid}/{}", sender.nick);
            let copy = |to: &str| {
                let mut m = el.clone();
                m.set_attr("from", &from);
                m.set_attr("to", to);
                Delivery {
                    to: to.to_string(),
                    xml: m.to_xml(),
                }
            };
            if let Some(nick) = nick {
                // 7.5: a private message to one occupant.
                if el.attr("type") == Some("groupchat") {
                    return vec![error_reply(el, me, "modify", "bad-request")];
                }
                let Some(target) = r.occupants.iter().find(|o| o.nick == nick) else {
                    return vec![error_reply(el, me, "cancel", "item-not-found")];
                };
                let mut m = el.clone();
                m.set_attr("from", &from);
                m.set_attr("to", &target.jid);
                m.push_child(Element::with_ns("x", MUC_USER));
                return vec![Delivery {
                    to: target.jid.clone(),
                    xml: m.to_xml(),
                }];
            }
            if el.attr("type") != Some("groupchat") {
                return vec![error_reply(el, me, "modify", "bad-request")];
            }
            if let Some(s) = el.elements().find(|c| c.name == "subject") {
                r.subject = s.text();
            }
            r.occupants
                .iter()
                .filter(|o| !(faults.not_reflected && o.jid == me))
                .map(|o| copy(&o.jid))
                .collect()
        })
    }

    /// Whether any room exists (for tests).
    #[cfg(test)]
    fn room_count(&self) -> usize {
        self.with(|r| r.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmpp::framing::parse_message;

    fn el(xml: &str) -> Element {
        parse_message(xml).unwrap().element
    }

    #[test]
    fn join_talk_leave_destroys_the_room() {
        let muc = Muc::default();
        let to = Jid::parse("r1@conference.localhost/alice").unwrap();
        let join = el(
            "<presence xmlns='jabber:client' to='r1@conference.localhost/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>",
        );
        let out = muc.handle(&join, "a@localhost/x", &to, MucFaults::default());
        assert_eq!(out.len(), 2);
        assert!(out[0].xml.contains("code='110'") && out[0].xml.contains("code='201'"));
        let bob_to = Jid::parse("r1@conference.localhost/bob").unwrap();
        let bob_join = el("<presence xmlns='jabber:client' to='r1@conference.localhost/bob'/>");
        let locked = muc.handle(&bob_join, "b@localhost/y", &bob_to, MucFaults::default());
        assert!(locked[0].xml.contains("item-not-found"));
        let unlock = el(
            "<iq xmlns='jabber:client' type='set' id='u' to='r1@conference.localhost'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>",
        );
        let room = Jid::parse("r1@conference.localhost").unwrap();
        let res = muc.handle(&unlock, "a@localhost/x", &room, MucFaults::default());
        assert!(res[0].xml.contains("type='result'"));
        let out = muc.handle(&bob_join, "b@localhost/y", &bob_to, MucFaults::default());
        // alice's presence to bob, bob's to alice, bob's self-presence, the subject
        assert_eq!(out.len(), 4);
        assert_eq!(out[0].to, "b@localhost/y");
        assert!(out[0].xml.contains("r1@conference.localhost/alice"));
        assert_eq!(out[1].to, "a@localhost/x");
        assert!(out[2].xml.contains("code='110'") && !out[2].xml.contains("201"));
        let clash = muc.handle(&bob_join, "c@localhost/z", &bob_to, MucFaults::default());
        assert!(clash[0].xml.contains("conflict"));
        let msg = el(
            "<message xmlns='jabber:client' type='groupchat' to='r1@conference.localhost'><body>hi</body></message>",
        );
        let out = muc.handle(&msg, "a@localhost/x", &room, MucFaults::default());
        assert_eq!(out.len(), 2);
        let out = muc.handle(&msg, "c@localhost/z", &room, MucFaults::default());
        assert!(out[0].xml.contains("not-acceptable"));
        assert_eq!(
            muc.gone("a@localhost/x", "conference.localhost", false)
                .len(),
            1
        );
        assert_eq!(
            muc.gone("b@localhost/y", "conference.localhost", false)
                .len(),
            0
        );
        assert_eq!(muc.room_count(), 0);
    }
}
