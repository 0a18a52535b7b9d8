//! In-band registration (XEP-0077) for the reference server: the mutable account store that SASL
//! consults, the registration get/set before authentication, and `<remove/>` after it.

use std::collections::HashMap;
use std::sync::Mutex;

use super::fault::XmppFault;
use super::session::{ScramAccount, Shared, scram_accounts};
use crate::xmpp::element::{Element, escape};
use crate::xmpp::jid::Jid;
use crate::xmpp::ns;
use crate::xmpp::scram::ScramHash;
use crate::xmpp::stanza;

/// The registration namespace (XEP-0077).
pub(super) const REGISTER_NS: &str = "jabber:iq:register";
/// The stream feature announcing in-band registration (XEP-0077 Section 8).
pub(super) const FEATURE: &str = "<register xmlns='http://jabber.org/features/iq-register'/>";
/// The instructions sent with the registration fields.
const INSTRUCTIONS: &str = "Pick a username and a password for an account on this server.";
/// The stream error text after a removal.
pub(super) const REMOVED_TEXT: &str = "the account was removed";

/// What the server keeps of one account.
#[derive(Debug, Clone)]
struct Credentials {
    password: String,
    scram: HashMap<ScramHash, ScramAccount>,
}

impl Credentials {
    /// Derives the SCRAM keys for `password` (with the SASL module's own derivation).
    fn new(user: &str, password: &str) -> Self {
        let scram = scram_accounts(&[(user.to_string(), password.to_string())])
            .into_iter()
            .map(|((_, hash), account)| (hash, account))
            .collect();
        Self {
            password: password.to_string(),
            scram,
        }
    }
}

/// Every account of the server, keyed by lower-cased localpart; registration adds and removes.
#[derive(Debug, Default)]
pub(super) struct Accounts {
    inner: Mutex<HashMap<String, Credentials>>,
}

impl Accounts {
    /// The configured accounts as (user, password).
    pub fn new(list: &[(String, String)]) -> Self {
        let inner = list
            .iter()
            .map(|(u, p)| (u.to_lowercase(), Credentials::new(u, p)))
            .collect();
        Self {
            inner: Mutex::new(inner),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut HashMap<String, Credentials>) -> R) -> R {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    /// Whether the account `user` (lower-cased) exists.
    pub fn contains(&self, user: &str) -> bool {
        self.with(|m| m.contains_key(user))
    }

    /// Whether `password` is the password of `user` (lower-cased).
    pub fn password_is(&self, user: &str, password: &str) -> bool {
        self.with(|m| m.get(user).is_some_and(|c| c.password == password))
    }

    /// The SCRAM credentials of `user` (lower-cased) for `hash`.
    pub fn scram(&self, user: &str, hash: ScramHash) -> Option<ScramAccount> {
        self.with(|m| m.get(user).and_then(|c| c.scram.get(&hash).cloned()))
    }

    /// Creates `user` with `password`; false when the account exists already.
    pub fn create(&self, user: &str, password: &str) -> bool {
        let creds = Credentials::new(user, password);
        self.with(|m| {
            if m.contains_key(user) {
                return false;
            }
            m.insert(user.to_string(), creds);
            true
        })
    }

    /// Sets the password of `user`, creating the account if it does not exist.
    pub fn set_password(&self, user: &str, password: &str) {
        let creds = Credentials::new(user, password);
        self.with(|m| m.insert(user.to_string(), creds));
    }

    /// Deletes `user`; false when there was no such account.
    pub fn remove(&self, user: &str) -> bool {
        self.with(|m| m.remove(user).is_some())
    }
}

/// Whether `el` is an iq whose payload is a `jabber:iq:register` query.
pub(super) fn is_register_iq(el: &Element) -> bool {
    el.name == "iq" && el.child("query", REGISTER_NS).is_some()
}

/// The non-empty, trimmed text of the query's child `name`.
fn field(query: &Element, name: &str) -> Option<String> {
    query
        .child(name, REGISTER_NS)
        .map(|e| e.text().trim().to_string())
        .filter(|t| !t.is_empty())
}

/// An iq result to `request` carrying `payload` (none when empty).
fn result_xml(request: &Element, payload: &str) -> String {
    let head = format!(
        "<iq xmlns='{}' type='result' id='{}'",
        ns::CLIENT,
        escape(request.attr("id").unwrap_or_default())
    );
    if payload.is_empty() {
        format!("{head}/>")
    } else {
        format!("{head}>{payload}</iq>")
    }
}

/// What a registration iq on a bound stream asks of the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct BoundReply {
    /// The iq reply to send.
    pub xml: String,
    /// The account was removed: end the stream with `<not-authorized/>` ([`REMOVED_TEXT`]),
    /// as prosody does (XEP-0077 Section 3.2).
    pub removed: bool,
}

fn error_xml(request: &Element, error_type: &str, condition: &str, to: &str) -> String {
    stanza::error_reply(request, error_type, condition, to).to_xml()
}

/// The answer to a `jabber:iq:register` iq before authentication: the fields (get) or a new
/// account (set); `None` for a result or error, which is not answered.
pub(super) fn pre_auth(shared: &Shared, el: &Element) -> Option<String> {
    let query = el.child("query", REGISTER_NS)?;
    if el.attr("id").is_none() {
        return Some(error_xml(el, "modify", "bad-request", ""));
    }
    let reply = match el.attr("type") {
        Some("get") => result_xml(
            el,
            &format!(
                "<query xmlns='{REGISTER_NS}'><instructions>{INSTRUCTIONS}</instructions><username/><password/></query>"
            ),
        ),
        // XEP-0077 Section 3.2: a remove from an entity that has not authenticated.
        Some("set") if query.child("remove", REGISTER_NS).is_some() => {
            error_xml(el, "wait", "unexpected-request", "")
        }
        Some("set") => create(shared, el, query),
        Some("result" | "error") => return None,
        _ => error_xml(el, "modify", "bad-request", ""),
    };
    Some(reply)
}

/// A registration set before authentication (XEP-0077 Section 3.1).
fn create(shared: &Shared, el: &Element, query: &Element) -> String {
    let (Some(user), Some(password)) = (field(query, "username"), field(query, "password")) else {
        // a required field is missing or empty
        return error_xml(el, "modify", "not-acceptable", "");
    };
    let user = user.to_lowercase();
    let valid = Jid::parse(&format!("{user}@{}", shared.domain))
        .is_ok_and(|j| j.local.as_deref() == Some(user.as_str()) && j.resource.is_none());
    if !valid {
        return error_xml(el, "modify", "not-acceptable", "");
    }
    if shared.accounts.create(&user, &password) {
        result_xml(el, "")
    } else if shared.faults.contains(&XmppFault::RegisterConflictAccepted) {
        // the account is left as it was: later cases still log in to it
        result_xml(el, "")
    } else {
        error_xml(el, "cancel", "conflict", "")
    }
}

/// The answer to a `jabber:iq:register` iq on a stream bound as `me` (account `user`), when it
/// is addressed to the server or the account itself: `<remove/>` deletes the account, a get
/// shows the registration, a set with username and password changes the password (Section
/// 3.3). `None` when `el` is no such iq, or a result or error.
pub(super) fn bound(shared: &Shared, user: &str, me: &str, el: &Element) -> Option<BoundReply> {
    if !is_register_iq(el) {
        return None;
    }
    let to_us = el.attr("to").is_none_or(|t| {
        Jid::parse(t).is_ok_and(|j| {
            j.resource.is_none()
                && j.domain.eq_ignore_ascii_case(&shared.domain)
                && j.local.is_none_or(|l| l.eq_ignore_ascii_case(user))
        })
    });
    if !to_us {
        return None;
    }
    let query = el.child("query", REGISTER_NS)?;
    let reply = |xml| {
        Some(BoundReply {
            xml,
            removed: false,
        })
    };
    match el.attr("type") {
        Some("get") => reply(result_xml(
            el,
            &format!(
                "<query xmlns='{REGISTER_NS}'><registered/><username>{}</username></query>",
                escape(user)
            ),
        )),
        Some("set") if query.child("remove", REGISTER_NS).is_some() => {
            if query.elements().count() != 1 {
                reply(error_xml(el, "modify", "bad-request", me))
            } else if shared.faults.contains(&XmppFault::RegisterRemoveKept) {
                reply(result_xml(el, ""))
            } else if shared.accounts.remove(user) {
                Some(BoundReply {
                    xml: result_xml(el, ""),
                    removed: true,
                })
            } else {
                reply(error_xml(el, "auth", "registration-required", me))
            }
        }
        Some("set") => match (field(query, "username"), field(query, "password")) {
            (Some(u), Some(p)) if u.eq_ignore_ascii_case(user) => {
                shared.accounts.set_password(user, &p);
                reply(result_xml(el, ""))
            }
            _ => reply(error_xml(el, "modify", "bad-request", me)),
        },
        Some("result" | "error") => None,
        _ => reply(error_xml(el, "modify", "bad-request", me)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::session::{Out, Session};
    use super::*;

    #[test]
    fn accounts_create_conflict_remove_and_scram() {
        let a = Accounts::new(&[("Alice".to_string(), "secret".to_string())]);
        assert!(a.contains("alice") && a.password_is("alice", "secret"));
        assert!(!a.password_is("alice", "other"));
        assert!(!a.create("alice", "other"), "taken");
        assert!(
            a.password_is("alice", "secret"),
            "a conflict changes nothing"
        );
        assert!(a.create("bob", "pw"));
        let s = a
            .scram("bob", ScramHash::Sha256)
            .expect("keys for a new account");
        assert_eq!(s.salt.len(), 16);
        assert!(a.scram("bob", ScramHash::Sha1).is_some());
        assert!(a.remove("bob") && !a.remove("bob"));
        assert!(!a.contains("bob") && a.scram("bob", ScramHash::Sha1).is_none());
        a.set_password("alice", "new");
        assert!(a.password_is("alice", "new"));
    }

    const OPEN: &str =
        "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>";

    fn shared(faults: &[XmppFault]) -> std::sync::Arc<Shared> {
        std::sync::Arc::new(Shared {
            domain: "localhost".into(),
            accounts: Accounts::new(&[("alice".to_string(), "secret".to_string())]),
            faults: faults.iter().copied().collect(),
            router: Default::default(),
            rosters: Default::default(),
            muc: Default::default(),
            parked: Default::default(),
        })
    }

    /// A session on `shared` with its stream open; returns it and the texts it sent.
    fn opened(shared: &std::sync::Arc<Shared>, conn: u64) -> (Session, Vec<String>) {
        let (tx, _rx) = tokio::sync::mpsc::channel(4);
        let mut s = Session::new(shared.clone(), conn, tx);
        let t = texts(s.on_text(OPEN));
        (s, t)
    }

    fn texts(out: Vec<Out>) -> Vec<String> {
        out.into_iter()
            .filter_map(|o| match o {
                Out::Text(t) => Some(t),
                Out::Close | Out::Resume { .. } => None,
            })
            .collect()
    }

    fn set(id: &str, inner: &str) -> String {
        format!("<iq type='set' id='{id}'><query xmlns='{REGISTER_NS}'>{inner}</query></iq>")
    }

    fn plain(user: &str, password: &str) -> String {
        crate::xmpp::sasl::plain_auth_xml("", user, password)
    }

    #[test]
    fn register_login_remove_round_trip() {
        let sh = shared(&[]);
        let (mut s, t) = opened(&sh, 1);
        assert!(t[1].contains(FEATURE), "{t:?}");
        let t = texts(s.on_text(&format!(
            "<iq type='get' id='g'><query xmlns='{REGISTER_NS}'/></iq>"
        )));
        assert!(
            t[0].contains("type='result'") && t[0].contains("<username/><password/>"),
            "{t:?}"
        );
        let t = texts(s.on_text(&set(
            "a",
            "<username>alice</username><password>x</password>",
        )));
        assert!(t[0].contains("<conflict"), "{t:?}");
        assert!(sh.accounts.password_is("alice", "secret"));
        let t = texts(s.on_text(&set("b", "<username>newbie</username>")));
        assert!(
            t[0].contains("<not-acceptable") && t[0].contains("type='modify'"),
            "{t:?}"
        );
        let t = texts(s.on_text(&set("c", "<username>newbie</username><password/>")));
        assert!(t[0].contains("<not-acceptable"), "{t:?}");
        let t = texts(s.on_text(&set("d", "<username>a@b</username><password>p</password>")));
        assert!(t[0].contains("<not-acceptable"), "not a localpart: {t:?}");
        let t = texts(s.on_text(&set(
            "e",
            "<username>NewBie</username><password>pw</password>",
        )));
        assert_eq!(t, ["<iq xmlns='jabber:client' type='result' id='e'/>"]);
        assert!(!sh.accounts.contains("nobody"));

        let (mut s, _) = opened(&sh, 2);
        assert!(texts(s.on_text(&plain("newbie", "pw")))[0].starts_with("<success"));
        s.on_text(OPEN);
        let t = texts(s.on_text(&crate::xmpp::bind::bind_request_xml("b", Some("r"))));
        assert!(t[0].contains("newbie@localhost/r"), "{t:?}");
        let t = texts(s.on_text(&format!(
            "<iq type='get' id='q'><query xmlns='{REGISTER_NS}'/></iq>"
        )));
        assert!(t[0].contains("<registered/>"), "{t:?}");
        let out = s.on_text(&set("rm", "<remove/>"));
        assert_eq!(out.last(), Some(&Out::Close));
        let t = texts(out);
        assert_eq!(t[0], "<iq xmlns='jabber:client' type='result' id='rm'/>");
        assert!(t[1].contains("<not-authorized"), "{t:?}");
        assert!(!sh.accounts.contains("newbie"));

        let (mut s, _) = opened(&sh, 3);
        assert!(texts(s.on_text(&plain("newbie", "pw")))[0].contains("<not-authorized/>"));
        let t = texts(s.on_text(&set("x", "<remove/>")));
        assert!(
            t[0].contains("<unexpected-request"),
            "remove before auth: {t:?}"
        );
    }

    #[test]
    fn faults_accept_a_taken_name_and_keep_a_removed_account() {
        let sh = shared(&[
            XmppFault::RegisterConflictAccepted,
            XmppFault::RegisterRemoveKept,
        ]);
        let (mut s, _) = opened(&sh, 1);
        let t = texts(s.on_text(&set(
            "a",
            "<username>alice</username><password>x</password>",
        )));
        assert!(t[0].contains("type='result'"), "{t:?}");
        assert!(
            sh.accounts.password_is("alice", "secret"),
            "the account is untouched"
        );
        assert!(texts(s.on_text(&plain("alice", "secret")))[0].starts_with("<success"));
        s.on_text(OPEN);
        s.on_text(&crate::xmpp::bind::bind_request_xml("b", Some("r")));
        let out = s.on_text(&set("rm", "<remove/>"));
        assert!(!out.contains(&Out::Close));
        assert!(texts(out)[0].contains("type='result'"));
        assert!(sh.accounts.contains("alice"), "kept");
    }

    #[test]
    fn fields_are_trimmed_and_empty_ones_missing() {
        let q = Element::with_ns("query", REGISTER_NS)
            .child_with(Element::with_ns("username", REGISTER_NS).text_with(" bob "))
            .child_with(Element::with_ns("password", REGISTER_NS));
        assert_eq!(field(&q, "username").as_deref(), Some("bob"));
        assert_eq!(field(&q, "password"), None);
        assert_eq!(field(&q, "email"), None);
    }
}
