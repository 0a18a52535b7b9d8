//! The reference server's rosters and presence subscriptions (RFC 6121 Sections 2-4): roster
//! get/set/remove with pushes to interested resources, the subscription state machine, and the
//! presence broadcast to subscribers (initial, updates, unavailable, probe answers).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use super::fault::XmppFault;
use super::router::Resource;
use super::session::Shared;
use crate::xmpp::element::{Element, escape};
use crate::xmpp::jid::Jid;
use crate::xmpp::ns;
use crate::xmpp::stanza;

/// The roster namespace (RFC 6121 Section 2).
pub(super) const ROSTER: &str = "jabber:iq:roster";
/// Longest `name` attribute or `<group/>` text accepted, in bytes (RFC6121-2.3.3-4).
const MAX_TEXT: usize = 1023;

/// What a delivery goes to and the serialized stanza.
pub(super) type Delivery = (Resource, String);

/// A subscription state (RFC 6121 Section 2.1.2.5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Sub {
    /// The user receives the contact's presence.
    to: bool,
    /// The contact receives the user's presence.
    from: bool,
}

impl Sub {
    fn name(self) -> &'static str {
        match (self.to, self.from) {
            (false, false) => "none",
            (true, false) => "to",
            (false, true) => "from",
            (true, true) => "both",
        }
    }
}

/// One roster item.
#[derive(Debug, Clone, Default)]
struct Item {
    name: Option<String>,
    groups: Vec<String>,
    sub: Sub,
    /// Pending out: the user asked to subscribe (`ask='subscribe'`).
    ask: bool,
}

/// One account's roster state.
#[derive(Debug, Default)]
struct Account {
    /// Items by bare JID.
    items: BTreeMap<String, Item>,
    /// Pending inbound subscription requests by the requester's bare JID: the stanza as stamped.
    pending_in: BTreeMap<String, String>,
    /// Connections that requested the roster (interested resources).
    interested: BTreeSet<u64>,
}

/// Every account's roster, living as long as the server.
#[derive(Debug, Default)]
pub(super) struct Rosters {
    accounts: Mutex<HashMap<String, Account>>,
}

fn item_xml(jid: &str, item: &Item, remove: bool) -> String {
    let mut el = Element::with_ns("item", ROSTER).attr_with("jid", jid);
    if remove {
        el.set_attr("subscription", "remove");
    } else {
        if let Some(n) = &item.name {
            el.set_attr("name", n);
        }
        el.set_attr("subscription", item.sub.name());
        if item.ask {
            el.set_attr("ask", "subscribe");
        }
        for g in &item.groups {
            el.push_child(Element::with_ns("group", ROSTER).text_with(g));
        }
    }
    el.to_xml()
}

fn full_of(bare: &str, r: &Resource) -> String {
    format!("{bare}/{}", r.resource)
}

fn presence_xml(ty: &str, from: &str, to: &str) -> String {
    format!(
        "<presence xmlns='{}' type='{ty}' from='{}' to='{}'/>",
        ns::CLIENT,
        escape(from),
        escape(to)
    )
}

impl Rosters {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<String, Account>) -> R) -> R {
        let mut guard = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    /// Forgets connection `conn` of `bare` as an interested resource.
    pub fn unbind(&self, bare: &str, conn: u64) {
        self.with(|m| {
            if let Some(a) = m.get_mut(bare) {
                a.interested.remove(&conn);
            }
        });
    }
}

/// A local account's bare JID for `to`, if `to` names one.
fn local_bare(shared: &Shared, to: &str) -> Option<String> {
    let j = Jid::parse(to).ok()?;
    if !j.domain.eq_ignore_ascii_case(&shared.domain) {
        return None;
    }
    let local = j.local?.to_lowercase();
    shared
        .accounts
        .contains(&local)
        .then(|| format!("{local}@{}", shared.domain))
}

/// Roster pushes of `jid`'s item (as it is in `acct`) to every interested resource of `owner`.
fn pushes(shared: &Shared, owner: &str, acct: &Account, jid: &str, out: &mut Vec<Delivery>) {
    let item = acct.items.get(jid).cloned();
    let body = match &item {
        Some(i) => item_xml(jid, i, false),
        None => item_xml(jid, &Item::default(), true),
    };
    for r in shared.router.resources(owner) {
        if !acct.interested.contains(&r.conn) {
            continue;
        }
        let n = super::session::random_hex(6);
        let xml = format!(
            "<iq xmlns='{}' type='set' id='push-{n}' to='{}'><query xmlns='{ROSTER}'>{body}</query></iq>",
            ns::CLIENT,
            escape(&full_of(owner, &r))
        );
        out.push((r, xml));
    }
}

/// Deliveries of `xml` to every available resource of `bare`.
fn to_available(shared: &Shared, bare: &str, xml: &str, out: &mut Vec<Delivery>) {
    for r in shared.router.resources(bare) {
        if r.available {
            out.push((r, xml.to_string()));
        }
    }
}

/// Deliveries of `xml` to the resources of `bare` that are available or interested.
fn to_interested(shared: &Shared, bare: &str, acct: &Account, xml: &str, out: &mut Vec<Delivery>) {
    for r in shared.router.resources(bare) {
        if r.available || acct.interested.contains(&r.conn) {
            out.push((r, xml.to_string()));
        }
    }
}

/// The current presence of each available resource of `contact`, addressed to `user`.
fn current_presence(
    shared: &Shared,
    contact: &str,
    user: &str,
    out_to: &[Resource],
) -> Vec<Delivery> {
    let mut out = Vec::new();
    for r in shared.router.resources(contact) {
        let (true, Some(p)) = (r.available, &r.presence) else {
            continue;
        };
        let mut p = p.clone();
        p.set_attr("to", user);
        let xml = p.to_xml();
        for t in out_to {
            out.push((t.clone(), xml.clone()));
        }
    }
    out
}

/// A roster `<iq/>` for the sender's own roster (RFC 6121 Section 2). `me_res` is the sender's
/// resource record; returns the replies and pushes to deliver.
pub(super) fn roster_iq(
    shared: &Shared,
    me: &Jid,
    me_res: &Resource,
    el: &Element,
) -> Vec<Delivery> {
    let bare = me.bare_string();
    let full = me.to_string();
    let mut out = Vec::new();
    let err = |ty: &str, cond: &str| -> Delivery {
        (
            me_res.clone(),
            stanza::error_reply(el, ty, cond, &full).to_xml(),
        )
    };
    let Some(query) = el.child("query", ROSTER) else {
        return vec![err("cancel", "service-unavailable")];
    };
    let id = escape(el.attr("id").unwrap_or_default());
    match el.attr("type") {
        Some("get") => {
            let fault = shared.faults.contains(&XmppFault::EmptyRosterError);
            shared.rosters.with(|m| {
                let acct = m.entry(bare.clone()).or_default();
                acct.interested.insert(me_res.conn);
                if fault && acct.items.is_empty() {
                    out.push(err("cancel", "item-not-found"));
                    return;
                }
                let items: String = acct
                    .items
                    .iter()
                    .map(|(j, i)| item_xml(j, i, false))
                    .collect();
                out.push((
                    me_res.clone(),
                    format!(
                        "<iq xmlns='{}' type='result' id='{id}' to='{}'><query xmlns='{ROSTER}'>{items}</query></iq>",
                        ns::CLIENT,
                        escape(&full)
                    ),
                ));
            });
            out
        }
        Some("set") => {
            let items: Vec<&Element> = query.elements().collect();
            if items.len() != 1 || !items[0].is("item", ROSTER) {
                return vec![err("modify", "bad-request")];
            }
            let item = items[0];
            let Some(jid) = item
                .attr("jid")
                .and_then(|j| Jid::parse(j).ok())
                .map(|j| j.bare_string().to_lowercase())
            else {
                return vec![err("modify", "bad-request")];
            };
            let groups: Vec<String> = item
                .elements()
                .filter(|g| g.is("group", ROSTER))
                .map(Element::text)
                .collect();
            let mut seen = BTreeSet::new();
            if groups.iter().any(|g| !seen.insert(g.as_str())) {
                return vec![err("modify", "bad-request")];
            }
            let too_long = item.attr("name").is_some_and(|n| n.len() > MAX_TEXT)
                || groups.iter().any(|g| g.is_empty() || g.len() > MAX_TEXT);
            if too_long {
                return vec![err("modify", "not-acceptable")];
            }
            let result = (
                me_res.clone(),
                format!(
                    "<iq xmlns='{}' type='result' id='{id}' to='{}'/>",
                    ns::CLIENT,
                    escape(&full)
                ),
            );
            if item.attr("subscription") == Some("remove") {
                return remove_item(shared, &bare, &jid, result)
                    .unwrap_or_else(|| vec![err("cancel", "item-not-found")]);
            }
            let no_push = shared.faults.contains(&XmppFault::NoRosterPush);
            shared.rosters.with(|m| {
                let acct = m.entry(bare.clone()).or_default();
                let entry = acct.items.entry(jid.clone()).or_default();
                entry.name = item.attr("name").map(str::to_string);
                entry.groups = groups;
                if !no_push {
                    pushes(shared, &bare, acct, &jid, &mut out);
                }
            });
            out.push(result);
            out
        }
        _ => vec![err("modify", "bad-request")],
    }
}

/// Removes `jid` from `bare`'s roster (RFC 6121 Section 2.5): cancels the subscriptions both
/// ways, pushes `subscription='remove'`, then the result. None if there is no such item.
fn remove_item(shared: &Shared, bare: &str, jid: &str, result: Delivery) -> Option<Vec<Delivery>> {
    let mut out = Vec::new();
    let removed = shared.rosters.with(|m| {
        let acct = m.entry(bare.to_string()).or_default();
        let item = acct.items.remove(jid)?;
        acct.pending_in.remove(jid);
        pushes(shared, bare, acct, jid, &mut out);
        Some(item)
    })?;
    out.push(result);
    if local_bare(shared, jid).is_some() {
        if removed.sub.to || removed.ask {
            out.extend(inbound_unsubscribe(shared, bare, jid));
        }
        if removed.sub.from {
            out.extend(inbound_unsubscribed(shared, bare, jid));
        }
    }
    Some(out)
}

/// An outbound subscription presence (`subscribe`, `subscribed`, `unsubscribe`,
/// `unsubscribed`) from `me` (RFC 6121 Section 3). Returns what to deliver, errors included.
pub(super) fn subscription(
    shared: &Shared,
    me: &Jid,
    me_res: &Resource,
    el: &Element,
    ty: &str,
) -> Vec<Delivery> {
    let user = me.bare_string();
    let Some(to) = el.attr("to") else {
        return Vec::new();
    };
    let Some(contact) = local_bare(shared, to) else {
        // RFC6121-3.1.2-8: a request that cannot be delivered comes back as an error.
        if ty == "subscribe" {
            let reply = stanza::error_reply(el, "cancel", "item-not-found", &me.to_string());
            return vec![(me_res.clone(), reply.to_xml())];
        }
        return Vec::new();
    };
    let mut stamped = el.clone();
    let from = if shared.faults.contains(&XmppFault::SubscriptionFullFrom) {
        me.to_string()
    } else {
        user.clone()
    };
    stamped.set_attr("from", &from);
    stamped.set_attr("to", &contact);
    let xml = stamped.to_xml();
    match ty {
        "subscribe" => outbound_subscribe(shared, &user, &contact, xml),
        "subscribed" => outbound_subscribed(shared, &user, &contact),
        "unsubscribe" => {
            let mut out = Vec::new();
            shared.rosters.with(|m| {
                let acct = m.entry(user.clone()).or_default();
                if let Some(i) = acct.items.get_mut(&contact)
                    && (i.sub.to || i.ask)
                {
                    i.sub.to = false;
                    i.ask = false;
                    pushes(shared, &user, acct, &contact, &mut out);
                }
            });
            out.extend(inbound_unsubscribe_xml(shared, &user, &contact, &xml));
            out
        }
        _ => {
            // unsubscribed: cancel the contact's subscription to us, or deny its request.
            let mut out = Vec::new();
            let route = shared.rosters.with(|m| {
                let acct = m.entry(user.clone()).or_default();
                let pending = acct.pending_in.remove(&contact).is_some();
                let mut had_from = false;
                if let Some(i) = acct.items.get_mut(&contact)
                    && i.sub.from
                {
                    i.sub.from = false;
                    had_from = true;
                    pushes(shared, &user, acct, &contact, &mut out);
                }
                (pending, had_from)
            });
            if route.0 || route.1 {
                // RFC6121-3.2.2-5: a subscriber first gets unavailable presence; a denied
                // requester was never sent any.
                let mut first = match route {
                    (_, true) => unavailable_from(shared, &user, &contact),
                    _ => Vec::new(),
                };
                first.extend(inbound_unsubscribed_xml(shared, &user, &contact, &xml));
                first.extend(out);
                return first;
            }
            out
        }
    }
}

/// RFC6121-3.2.2-5: unavailable presence from each online resource of `contact_side` to `user`.
fn unavailable_from(shared: &Shared, owner: &str, to: &str) -> Vec<Delivery> {
    let mut out = Vec::new();
    for r in shared.router.resources(owner) {
        if r.available {
            to_available(
                shared,
                to,
                &presence_xml("unavailable", &full_of(owner, &r), to),
                &mut out,
            );
        }
    }
    out
}

fn outbound_subscribe(shared: &Shared, user: &str, contact: &str, xml: String) -> Vec<Delivery> {
    let mut out = Vec::new();
    // The contact's side (RFC 6121 Section 3.1.3).
    let already = shared.rosters.with(|m| {
        m.get(contact)
            .and_then(|a| a.items.get(user))
            .is_some_and(|i| i.sub.from)
    });
    let auto = shared.faults.contains(&XmppFault::AutoApproveSubscription);
    if !already && !auto {
        shared.rosters.with(|m| {
            m.entry(contact.to_string())
                .or_default()
                .pending_in
                .insert(user.to_string(), xml.clone());
        });
        to_available(shared, contact, &xml, &mut out);
    }
    // The user's side (RFC6121-3.1.2-9): pending out.
    shared.rosters.with(|m| {
        let acct = m.entry(user.to_string()).or_default();
        let i = acct.items.entry(contact.to_string()).or_default();
        if !i.sub.to && !i.ask {
            i.ask = true;
            pushes(shared, user, acct, contact, &mut out);
        }
    });
    if already {
        // RFC6121-3.1.3-7: the server answers for the contact.
        let reply = format!(
            "<presence xmlns='{}' type='subscribed' from='{}' to='{}'/>",
            ns::CLIENT,
            escape(contact),
            escape(user)
        );
        out.extend(inbound_subscribed(shared, contact, user, &reply));
    } else if auto {
        out.extend(approve(shared, contact, user));
    }
    out
}

fn outbound_subscribed(shared: &Shared, user: &str, contact: &str) -> Vec<Delivery> {
    let pending = shared.rosters.with(|m| {
        m.get(user)
            .is_some_and(|a| a.pending_in.contains_key(contact))
    });
    if !pending {
        return Vec::new(); // no pre-approval support (RFC 6121 Section 3.4 is optional)
    }
    approve(shared, user, contact)
}

/// `approver` approves `requester`'s subscription (RFC 6121 Sections 3.1.5 and 3.1.6).
fn approve(shared: &Shared, approver: &str, requester: &str) -> Vec<Delivery> {
    let mut out = Vec::new();
    let subscribed = format!(
        "<presence xmlns='{}' type='subscribed' from='{}' to='{}'/>",
        ns::CLIENT,
        escape(approver),
        escape(requester)
    );
    out.extend(inbound_subscribed(shared, approver, requester, &subscribed));
    shared.rosters.with(|m| {
        let acct = m.entry(approver.to_string()).or_default();
        acct.pending_in.remove(requester);
        let i = acct.items.entry(requester.to_string()).or_default();
        i.sub.from = true;
        pushes(shared, approver, acct, requester, &mut out);
    });
    // RFC6121-3.1.5-3: current presence of the approver's available resources.
    let targets: Vec<Resource> = shared
        .router
        .resources(requester)
        .into_iter()
        .filter(|r| r.available)
        .collect();
    out.extend(current_presence(shared, approver, requester, &targets));
    out
}

/// The user's side of an approval from `contact` (RFC 6121 Section 3.1.6).
fn inbound_subscribed(shared: &Shared, contact: &str, user: &str, xml: &str) -> Vec<Delivery> {
    let mut out = Vec::new();
    shared.rosters.with(|m| {
        let acct = m.entry(user.to_string()).or_default();
        let Some(i) = acct.items.get_mut(contact) else {
            return;
        };
        if !i.ask {
            return; // RFC6121-3.1.6-6: silently ignored
        }
        i.ask = false;
        i.sub.to = true;
        to_interested(shared, user, acct, xml, &mut out);
        pushes(shared, user, acct, contact, &mut out);
    });
    out
}

fn inbound_unsubscribe(shared: &Shared, user: &str, contact: &str) -> Vec<Delivery> {
    let xml = format!(
        "<presence xmlns='{}' type='unsubscribe' from='{}' to='{}'/>",
        ns::CLIENT,
        escape(user),
        escape(contact)
    );
    inbound_unsubscribe_xml(shared, user, contact, &xml)
}

/// The contact's side of `user`'s unsubscribe (RFC 6121 Section 3.3.3).
fn inbound_unsubscribe_xml(shared: &Shared, user: &str, contact: &str, xml: &str) -> Vec<Delivery> {
    let mut out = Vec::new();
    let had = shared.rosters.with(|m| {
        let acct = m.entry(contact.to_string()).or_default();
        let pending = acct.pending_in.remove(user).is_some();
        let Some(i) = acct.items.get_mut(user) else {
            return pending;
        };
        if !i.sub.from {
            return pending;
        }
        i.sub.from = false;
        to_interested(shared, contact, acct, xml, &mut out);
        pushes(shared, contact, acct, user, &mut out);
        true
    });
    if had {
        out.extend(unavailable_from(shared, contact, user));
    }
    out
}

fn inbound_unsubscribed(shared: &Shared, contact: &str, user: &str) -> Vec<Delivery> {
    let xml = format!(
        "<presence xmlns='{}' type='unsubscribed' from='{}' to='{}'/>",
        ns::CLIENT,
        escape(contact),
        escape(user)
    );
    let mut out = unavailable_from(shared, contact, user);
    out.extend(inbound_unsubscribed_xml(shared, contact, user, &xml));
    out
}

/// The user's side of `contact`'s unsubscribed (RFC 6121 Section 3.2.3).
fn inbound_unsubscribed_xml(
    shared: &Shared,
    contact: &str,
    user: &str,
    xml: &str,
) -> Vec<Delivery> {
    let mut out = Vec::new();
    shared.rosters.with(|m| {
        let acct = m.entry(user.to_string()).or_default();
        let Some(i) = acct.items.get_mut(contact) else {
            return;
        };
        if !i.sub.to && !i.ask {
            return;
        }
        i.sub.to = false;
        i.ask = false;
        to_interested(shared, user, acct, xml, &mut out);
        pushes(shared, user, acct, contact, &mut out);
    });
    out
}

/// Bare JIDs subscribed to `bare`'s presence (`from` or `both`).
fn subscribers(shared: &Shared, bare: &str) -> Vec<String> {
    shared.rosters.with(|m| {
        m.get(bare)
            .map(|a| {
                a.items
                    .iter()
                    .filter(|(_, i)| i.sub.from)
                    .map(|(j, _)| j.clone())
                    .collect()
            })
            .unwrap_or_default()
    })
}

/// Available presence without 'to' from `me` (already stamped): the broadcast to subscribers
/// (RFC6121-4.2.2-1, RFC6121-4.4.2-1) and, for initial presence, the answers to the implicit
/// probes (RFC6121-4.3.2-9) and the pending subscription requests (RFC6121-3.1.3-11).
pub(super) fn available(
    shared: &Shared,
    me: &Jid,
    me_res: &Resource,
    stamped: &Element,
    initial: bool,
) -> Vec<Delivery> {
    let bare = me.bare_string();
    let mut out = Vec::new();
    for s in subscribers(shared, &bare) {
        if local_bare(shared, &s).is_none() {
            continue;
        }
        let mut p = stamped.clone();
        p.set_attr("to", &s);
        to_available(shared, &s, &p.to_xml(), &mut out);
    }
    if !initial {
        return out;
    }
    let (contacts, pending): (Vec<String>, Vec<String>) = shared.rosters.with(|m| {
        m.get(&bare)
            .map(|a| {
                (
                    a.items
                        .iter()
                        .filter(|(_, i)| i.sub.to)
                        .map(|(j, _)| j.clone())
                        .collect(),
                    a.pending_in.values().cloned().collect(),
                )
            })
            .unwrap_or_default()
    });
    if !shared.faults.contains(&XmppFault::NoProbeAnswer) {
        for c in contacts {
            out.extend(current_presence(
                shared,
                &c,
                &me.to_string(),
                std::slice::from_ref(me_res),
            ));
        }
    }
    for p in pending {
        out.push((me_res.clone(), p));
    }
    out
}

/// `me`'s resource became unavailable (`xml` is its stamped unavailable presence, or None when
/// the server generates one): the broadcast to subscribers (RFC6121-4.5.2-2, RFC6121-4.5.2-6).
pub(super) fn unavailable(
    shared: &Shared,
    me: &Jid,
    stamped: Option<&Element>,
    abrupt: bool,
) -> Vec<Delivery> {
    if abrupt && shared.faults.contains(&XmppFault::NoUnavailableOnDrop) {
        return Vec::new();
    }
    let bare = me.bare_string();
    let full = me.to_string();
    let mut out = Vec::new();
    for s in subscribers(shared, &bare) {
        if local_bare(shared, &s).is_none() {
            continue;
        }
        let xml = match stamped {
            Some(p) => p.clone().attr_with("to", s.as_str()).to_xml(),
            None => presence_xml("unavailable", &full, &s),
        };
        to_available(shared, &s, &xml, &mut out);
    }
    out
}
