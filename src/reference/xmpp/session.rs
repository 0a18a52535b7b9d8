//! One client connection's XMPP state machine: stream negotiation, SASL (in `sasl`) and resource binding.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use rand::Rng;
use tokio::sync::mpsc;

use super::fault::XmppFault;
use super::router::{Resource, Router};
use crate::xmpp::element::{Element, Node, escape};
use crate::xmpp::framing::{FramingError, parse_message};
use crate::xmpp::jid::Jid;
use crate::xmpp::ns;
use crate::xmpp::stanza::{self, StanzaKind};
use crate::xmpp::stream::{close_xml, is_close, is_open, stream_error_xml};

mod routing;
mod sasl;
mod sm;
mod subscriptions;

use sasl::SaslState;
pub(super) use sasl::{ScramAccount, scram_accounts};
pub(super) use sm::{Parked, ParkedSessions, RESUME_TIMEOUT};

/// Failed SASL attempts allowed before the stream is closed with `<policy-violation/>`.
const MAX_SASL_FAILURES: u32 = 5;
/// Failed resource binding attempts answered with an error before `<policy-violation/>`.
const MAX_BIND_FAILURES: u32 = 5;
/// The text prosody sends with `<not-authorized/>`.
const NOT_AUTHORIZED_TEXT: &str =
    "Unable to authorize you with the authentication credentials you've sent.";

/// State shared by all connections of one server.
#[derive(Debug)]
pub(super) struct Shared {
    /// The service domain.
    pub domain: String,
    /// Accounts (password and SCRAM credentials), which in-band registration changes (XEP-0077).
    pub accounts: super::register::Accounts,
    /// Active fault switches.
    pub faults: BTreeSet<XmppFault>,
    /// Bound resources.
    pub router: Router,
    /// Rosters and subscription states (RFC 6121 Sections 2-3).
    pub rosters: super::roster::Rosters,
    /// Multi-user chat rooms (XEP-0045).
    pub muc: super::muc::Muc,
    /// Detached sessions awaiting stream management resumption (XEP-0198).
    pub parked: ParkedSessions,
}

impl Shared {
    fn fault(&self, f: XmppFault) -> bool {
        self.faults.contains(&f)
    }
}

/// What the connection task must do for the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Out {
    /// Send this text as one WebSocket text message.
    Text(String),
    /// Start the WebSocket closing handshake and end the connection.
    Close,
    /// Hand this connection over to the parked session `previd`, whose client had handled
    /// `h` stanzas (XEP-0198 resumption).
    Resume {
        /// The resumption id.
        previd: String,
        /// The client's count of handled stanzas.
        h: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the client's `<open/>` (initially, or after SASL success).
    AwaitOpen { authenticated: bool },
    /// Stream open, SASL not done.
    Sasl,
    /// A SASL exchange is under way (its state is in `Session::sasl_state`).
    SaslChallenge,
    /// Authenticated stream open; waiting for resource binding.
    Bind,
    /// Resource bound; stanzas are routed.
    Bound,
    /// The stream is closed; input is ignored.
    Closed,
}

/// One connection's protocol state.
pub(super) struct Session {
    shared: Arc<Shared>,
    conn: u64,
    tx: mpsc::Sender<String>,
    phase: Phase,
    header_sent: bool,
    last_stream_id: Option<String>,
    client_from: Option<String>,
    user: Option<String>,
    jid: Option<Jid>,
    sasl_failures: u32,
    /// Failed resource binding attempts on this stream (RFC6120-7.7.3-2).
    bind_failures: u32,
    sasl_state: SaslState,
    /// Full or bare JIDs this session sent available directed presence to (RFC 6121 §4.6).
    directed_to: std::collections::BTreeSet<String>,
    /// Stream management state, once enabled (XEP-0198).
    sm: Option<sm::SmState>,
    out: Vec<Out>,
}

pub(super) fn random_hex(bytes: usize) -> String {
    let mut rng = rand::rng();
    (0..bytes)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}

impl Session {
    /// A new session for connection `conn`; `tx` is where other sessions route stanzas to it.
    pub fn new(shared: Arc<Shared>, conn: u64, tx: mpsc::Sender<String>) -> Self {
        Self {
            shared,
            conn,
            tx,
            phase: Phase::AwaitOpen {
                authenticated: false,
            },
            header_sent: false,
            last_stream_id: None,
            client_from: None,
            user: None,
            jid: None,
            sasl_failures: 0,
            bind_failures: 0,
            sasl_state: SaslState::None,
            directed_to: std::collections::BTreeSet::new(),
            sm: None,
            out: Vec::new(),
        }
    }

    fn fault(&self, f: XmppFault) -> bool {
        self.shared.fault(f)
    }

    fn emit(&mut self, text: String) {
        self.out.push(Out::Text(text));
    }

    fn take(&mut self) -> Vec<Out> {
        let out = std::mem::take(&mut self.out);
        self.sm_track_out(&out);
        out
    }

    /// Whether `text` starts with an `<iq` start tag that has the attribute `id` more than once
    /// (fault `crash-xmpp-after-login`).
    fn iq_with_doubled_id(text: &str) -> bool {
        let t = text.trim_start();
        let Some(rest) = t.strip_prefix("<iq") else {
            return false;
        };
        if !rest.starts_with(|c: char| c.is_ascii_whitespace()) {
            return false;
        }
        let tag = &rest[..rest.find('>').unwrap_or(rest.len())];
        tag.split(|c: char| c.is_ascii_whitespace())
            .filter(|w| w.starts_with("id="))
            .count()
            >= 2
    }

    /// Handles one WebSocket text message.
    pub fn on_text(&mut self, text: &str) -> Vec<Out> {
        if self.phase == Phase::Closed {
            return Vec::new();
        }
        if self.phase == Phase::Bound
            && self.fault(XmppFault::CrashXmppAfterLogin)
            && Self::iq_with_doubled_id(text)
        {
            eprintln!("reference XMPP server: fault crash-xmpp-after-login: aborting");
            std::process::abort();
        }
        match parse_message(text) {
            // RFC 7395 forbids whitespace keepalives, but ignoring them harms no one.
            Err(FramingError::Whitespace) => {}
            Err(FramingError::Unclosed { name })
                if name == "stream" || name.ends_with(":stream") =>
            {
                self.stream_error(
                    "invalid-namespace",
                    Some("XMPP over WebSocket uses <open xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>, not <stream:stream>"),
                );
            }
            Err(e @ (FramingError::TooLarge { .. } | FramingError::TooDeep { .. })) => {
                self.stream_error("policy-violation", Some(&e.to_string()));
            }
            Err(e) => {
                // The text leaves out byte offsets: they vary with the length of the JIDs in a
                // stanza, and the error must read the same whichever account sent it.
                let text = match &e {
                    FramingError::Malformed { reason, .. } => {
                        format!("not well-formed XML: {reason}")
                    }
                    FramingError::InvalidChar { code, .. } => {
                        format!("character U+{code:04X} is not allowed in XML")
                    }
                    other => other.to_string(),
                };
                self.stream_error("not-well-formed", Some(&text));
            }
            Ok(framed) => {
                let has = |id: &str| framed.violations.iter().any(|v| v.spec == id);
                if has("RFC6120-11.1-3") {
                    self.stream_error("restricted-xml", None);
                } else if has("RFC7395-3.2-1") {
                    self.stream_error("unsupported-encoding", None);
                } else if let Some(v) = framed.violations.iter().find(|v| {
                    matches!(
                        v.spec.as_str(),
                        "RFC7395-3.3.3-1" | "RFC7395-3.3.3-4" | "RFC7395-3.3.3-5"
                    )
                }) {
                    let detail = v.detail.clone();
                    self.stream_error("not-well-formed", Some(&detail));
                } else {
                    self.element(framed.element);
                }
            }
        }
        self.take()
    }

    /// Handles a binary WebSocket message (RFC7395-3.2-1: only text messages are allowed).
    pub fn on_binary(&mut self) -> Vec<Out> {
        if self.phase != Phase::Closed {
            self.stream_error(
                "bad-format",
                Some("XMPP over WebSocket uses text messages only (RFC 7395 Section 3.2)"),
            );
        }
        self.take()
    }

    /// The client was silent for too long.
    pub fn on_idle_timeout(&mut self) -> Vec<Out> {
        if self.phase != Phase::Closed {
            self.stream_error("connection-timeout", None);
        }
        self.take_closing()
    }

    /// The server is shutting down.
    pub fn on_shutdown(&mut self) -> Vec<Out> {
        if self.phase != Phase::Closed {
            self.stream_error("system-shutdown", None);
        }
        self.take_closing()
    }

    fn take_closing(&mut self) -> Vec<Out> {
        let mut out = self.take();
        if !out.contains(&Out::Close) {
            out.push(Out::Close);
        }
        out
    }

    /// The connection is gone: unbind and tell the account's other resources it is unavailable.
    pub fn on_disconnect(&mut self) {
        // A session that did not end with <close/> (nor a stream error) dropped abruptly.
        let abrupt = self.phase != Phase::Closed;
        self.phase = Phase::Closed;
        self.sm_end();
        let Some(jid) = self.jid.take() else { return };
        self.directed_unavailable(&jid.to_string());
        self.muc_gone(&jid.to_string(), false);
        let bare = jid.bare_string();
        self.shared.rosters.unbind(&bare, self.conn);
        let Some(gone) = self.shared.router.unbind(&bare, self.conn) else {
            return;
        };
        if gone.available {
            for (r, xml) in super::roster::unavailable(&self.shared, &jid, None, abrupt) {
                let _ = r.tx.try_send(xml);
            }
            let xml = format!(
                "<presence xmlns='{}' type='unavailable' from='{}'/>",
                ns::CLIENT,
                escape(&jid.to_string())
            );
            for r in self.shared.router.resources(&bare) {
                if r.available {
                    let _ = r.tx.try_send(xml.clone());
                }
            }
        }
    }

    // ---- stream level ----

    fn new_stream_id(&mut self, reuse: bool) -> String {
        let id = match (&self.last_stream_id, reuse) {
            (Some(old), true) => old.clone(),
            _ => random_hex(16),
        };
        self.last_stream_id = Some(id.clone());
        id
    }

    fn header_xml(&self, id: &str) -> String {
        let d = escape(&self.shared.domain);
        let to = self
            .client_from
            .as_ref()
            .filter(|_| !self.fault(XmppFault::OpenWithoutTo))
            .map(|f| format!(" to='{}'", escape(f)))
            .unwrap_or_default();
        let id_attr = if self.fault(XmppFault::OpenWithoutId) {
            String::new()
        } else {
            format!(" id='{}'", escape(id))
        };
        if self.fault(XmppFault::StreamHeader) {
            return format!(
                "<stream:stream xmlns='{}' xmlns:stream='{}'{id_attr} from='{d}'{to} version='1.0' xml:lang='en'/>",
                ns::CLIENT,
                ns::STREAMS
            );
        }
        format!(
            "<open xmlns='{}'{id_attr} from='{d}'{to} version='1.0' xml:lang='en'/>",
            ns::FRAMING
        )
    }

    fn features_xml(&self, authenticated: bool) -> String {
        let inner = if authenticated {
            format!(
                "<bind xmlns='{}'><required/></bind><session xmlns='{}'><optional/></session><sm xmlns='{}'/>",
                ns::BIND,
                ns::SESSION,
                ns::SM
            )
        } else {
            let mut tls = if self.fault(XmppFault::AdvertiseStarttls) {
                format!("<starttls xmlns='{}'/>", ns::TLS)
            } else {
                String::new()
            };
            if self.fault(XmppFault::BindBeforeAuth) {
                tls.push_str(&format!("<bind xmlns='{}'/>", ns::BIND));
            }
            format!(
                "{tls}<mechanisms xmlns='{}'><mechanism>SCRAM-SHA-256</mechanism><mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism></mechanisms>{}",
                ns::SASL,
                super::register::FEATURE
            )
        };
        format!(
            "<stream:features xmlns:stream='{}' xmlns='{}'>{inner}</stream:features>",
            ns::STREAMS,
            ns::CLIENT
        )
    }

    /// Sends a response header for the current stream if none was sent yet (RFC7395-3.5-2).
    fn ensure_header(&mut self) {
        if !self.header_sent && !self.fault(XmppFault::ErrorWithoutOpen) {
            let id = self.new_stream_id(false);
            let header = self.header_xml(&id);
            self.emit(header);
        }
        self.header_sent = true;
    }

    /// Sends a stream error, `<close/>`, and ends the connection (RFC 7395 Sections 3.5 and 3.6).
    fn stream_error(&mut self, condition: &str, text: Option<&str>) {
        if self.phase == Phase::Closed {
            return;
        }
        self.ensure_header();
        self.emit(stream_error_xml(condition, text));
        self.emit(close_xml());
        self.out.push(Out::Close);
        self.phase = Phase::Closed;
    }

    fn element(&mut self, el: Element) {
        let framing = el.ns.as_deref() == Some(ns::FRAMING);
        if (matches!(el.name.as_str(), "open" | "close") && !framing) || el.name == "stream" {
            let text = format!(
                "<{}> must be qualified by {} (RFC 7395 Section 3.3.2)",
                el.qname(),
                ns::FRAMING
            );
            self.stream_error("invalid-namespace", Some(&text));
            return;
        }
        if is_open(&el) {
            self.open(&el);
            return;
        }
        if is_close(&el) {
            if self.fault(XmppFault::BadSeeOtherUri) {
                self.emit(format!(
                    "<close xmlns='{}' see-other-uri='elsewhere'/>",
                    ns::FRAMING
                ));
            } else if !self.fault(XmppFault::NoCloseReply) {
                self.emit(close_xml());
            }
            self.out.push(Out::Close);
            self.phase = Phase::Closed;
            return;
        }
        if matches!(el.name.as_str(), "message" | "presence" | "iq")
            && el.ns.as_deref() == Some(ns::SERVER)
        {
            self.stream_error(
                "invalid-namespace",
                Some("this is a client-to-server stream: stanzas are qualified by jabber:client"),
            );
            return;
        }
        let is_stanza = stanza::kind(&el).is_some();
        if el.ns.as_deref() == Some(ns::SM) && matches!(self.phase, Phase::Bind | Phase::Bound) {
            self.sm_element(&el);
            return;
        }
        match self.phase {
            Phase::AwaitOpen { .. } => {
                if is_stanza {
                    self.stream_error("not-authorized", Some("open the stream first"));
                } else {
                    self.stream_error(
                        "bad-format",
                        Some("expected <open xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>"),
                    );
                }
            }
            Phase::Sasl if is_stanza && super::register::is_register_iq(&el) => {
                if let Some(xml) = super::register::pre_auth(&self.shared, &el) {
                    self.emit(xml);
                }
            }
            Phase::Sasl | Phase::SaslChallenge => self.sasl(&el, is_stanza),
            Phase::Bind => {
                if el.name == "iq" && is_stanza && el.child("bind", ns::BIND).is_some() {
                    self.bind(el);
                } else if is_stanza && !self.fault(XmppFault::StanzaBeforeBindIgnored) {
                    self.stream_error(
                        "not-authorized",
                        Some("bind a resource before sending stanzas"),
                    );
                }
            }
            Phase::Bound => {
                if let Some(r) = self.register_bound(&el) {
                    self.emit(r.xml);
                    if r.removed {
                        self.stream_error("not-authorized", Some(super::register::REMOVED_TEXT));
                    }
                } else if is_stanza {
                    self.sm_count_in();
                    self.stanza(el);
                }
                // Other first-level elements are ignored (RFC 6120 Section 4.8.4).
            }
            Phase::Closed => {}
        }
    }

    fn open(&mut self, el: &Element) {
        let authenticated = match self.phase {
            Phase::AwaitOpen { authenticated } => authenticated,
            Phase::Sasl | Phase::SaslChallenge => false,
            Phase::Bind => true,
            Phase::Bound => {
                self.stream_error(
                    "policy-violation",
                    Some("a stream restart is allowed only after SASL success"),
                );
                return;
            }
            Phase::Closed => return,
        };
        self.header_sent = false;
        self.sasl_state = SaslState::None;
        self.client_from = el
            .attr("from")
            .and_then(|f| Jid::parse(f).ok())
            .map(|j| j.bare_string());
        let to_ok = el.attr("to").is_some_and(|t| {
            t.eq_ignore_ascii_case(&self.shared.domain) || self.fault(XmppFault::AcceptUnknownHost)
        });
        if !to_ok {
            let text = match el.attr("to") {
                Some(t) => format!("This server does not serve {t}"),
                None => "the <open/> has no 'to' attribute".to_string(),
            };
            self.stream_error("host-unknown", Some(&text));
            return;
        }
        let major = el
            .attr("version")
            .and_then(|v| v.split('.').next())
            .and_then(|m| m.trim().parse::<u32>().ok());
        if major.is_none_or(|m| m < 1) {
            self.stream_error(
                "unsupported-version",
                Some("XMPP over WebSocket needs version='1.0'"),
            );
            return;
        }
        let reuse = authenticated && self.fault(XmppFault::ReuseStreamId);
        let id = self.new_stream_id(reuse);
        let header = self.header_xml(&id);
        let features = self.features_xml(authenticated);
        if self.fault(XmppFault::TwoElementsPerMessage) {
            self.emit(format!("{header}{features}"));
        } else {
            self.emit(header);
            self.emit(features);
        }
        self.header_sent = true;
        self.phase = if authenticated {
            Phase::Bind
        } else {
            Phase::Sasl
        };
    }

    // ---- resource binding ----

    fn bind(&mut self, el: Element) {
        let Some(user) = self.user.clone() else {
            return;
        };
        if el.attr("type") != Some("set") || el.attr("id").is_none() {
            self.emit(stanza::error_reply(&el, "modify", "bad-request", "").to_xml());
            return;
        }
        let requested = el
            .child("bind", ns::BIND)
            .and_then(|b| b.find("resource"))
            .map(|r| r.text().trim().to_string())
            .filter(|r| !r.is_empty());
        if let Some(r) = &requested
            && Jid::parse(&format!("{user}@{}/{r}", self.shared.domain)).is_err()
        {
            self.bind_failures += 1;
            if self.bind_failures > MAX_BIND_FAILURES {
                self.stream_error("policy-violation", Some("too many failed binding attempts"));
                return;
            }
            self.emit(stanza::error_reply(&el, "modify", "bad-request", "").to_xml());
            return;
        }
        let bare = format!("{user}@{}", self.shared.domain);
        let resource = self.shared.router.bind(
            &bare,
            requested.as_deref(),
            format!("wc-{}", random_hex(4)),
            self.conn,
            self.tx.clone(),
        );
        let jid = Jid::new(Some(&user), &self.shared.domain, Some(&resource));
        let reply = format!(
            "<iq xmlns='{}' type='result' id='{}'><bind xmlns='{}'><jid>{}</jid></bind></iq>",
            ns::CLIENT,
            escape(el.attr("id").unwrap_or_default()),
            ns::BIND,
            escape(&jid.to_string())
        );
        self.emit(reply);
        self.jid = Some(jid);
        self.phase = Phase::Bound;
    }
}

/// In-band registration hook (XEP-0077, logic in `super::register`).
impl Session {
    fn register_bound(&self, el: &Element) -> Option<super::register::BoundReply> {
        let (user, jid) = (self.user.as_deref()?, self.jid.as_ref()?);
        super::register::bound(&self.shared, user, &jid.to_string(), el)
    }
}

/// MUC hook (XEP-0045, logic in `super::muc`): routes the service's stanzas to their recipients.
impl Session {
    fn muc_faults(&self) -> super::muc::MucFaults {
        super::muc::MucFaults {
            no_status_110: self.fault(XmppFault::MucNoStatus110),
            not_reflected: self.fault(XmppFault::MucNotReflected),
            self_presence_first: self.fault(XmppFault::MucSelfPresenceFirst),
        }
    }

    fn muc_deliver(&mut self, out: Vec<super::muc::Delivery>) {
        for d in out {
            let Ok(j) = Jid::parse(&d.to) else { continue };
            let res = j.resource.clone().unwrap_or_default();
            if let Some(r) = self.shared.router.resource(&j.bare_string(), &res) {
                if r.conn == self.conn {
                    self.emit(d.xml);
                } else {
                    let _ = r.tx.try_send(d.xml);
                }
            }
        }
    }

    /// Handles a stanza to the MUC service or a room; false when `el` is not addressed there.
    fn muc_stanza(&mut self, el: &Element, me: &Jid) -> bool {
        let service = super::muc::service_domain(&self.shared.domain);
        let Some(to) = el.attr("to").and_then(|t| Jid::parse(t).ok()) else {
            return false;
        };
        if !to.domain.eq_ignore_ascii_case(&service) {
            return false;
        }
        let out = self
            .shared
            .muc
            .handle(el, &me.to_string(), &to, self.muc_faults());
        self.muc_deliver(out);
        true
    }

    /// The session `me` left every room (unavailable broadcast or disconnect).
    fn muc_gone(&mut self, me: &str, tell_self: bool) {
        let service = super::muc::service_domain(&self.shared.domain);
        let out = self.shared.muc.gone(me, &service, tell_self);
        self.muc_deliver(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(faults: &[XmppFault]) -> Arc<Shared> {
        Arc::new(Shared {
            domain: "localhost".into(),
            accounts: super::super::register::Accounts::new(&[(
                "alice".to_string(),
                "secret".to_string(),
            )]),
            faults: faults.iter().copied().collect(),
            router: Router::default(),
            rosters: super::super::roster::Rosters::default(),
            muc: Default::default(),
            parked: Default::default(),
        })
    }

    fn texts(out: &[Out]) -> Vec<String> {
        out.iter()
            .filter_map(|o| match o {
                Out::Text(t) => Some(t.clone()),
                Out::Close | Out::Resume { .. } => None,
            })
            .collect()
    }

    #[test]
    fn wrong_namespace_open_gets_invalid_namespace_after_an_open() {
        let (tx, _rx) = mpsc::channel(4);
        let mut s = Session::new(shared(&[]), 1, tx);
        let out = s.on_text("<open xmlns='jabber:client' to='localhost' version='1.0'/>");
        let t = texts(&out);
        assert!(
            t[0].starts_with("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing'"),
            "{t:?}"
        );
        assert!(t[1].contains("<invalid-namespace"), "{t:?}");
        assert_eq!(t[2], close_xml());
        assert_eq!(out.last(), Some(&Out::Close));
        assert!(
            s.on_text("<presence/>").is_empty(),
            "closed streams ignore input"
        );
    }

    #[test]
    fn legacy_stream_header_and_binary_and_garbage() {
        let (tx, _rx) = mpsc::channel(4);
        let mut s = Session::new(shared(&[]), 1, tx.clone());
        let t = texts(&s.on_text("<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client' to='localhost' version='1.0'>"));
        assert!(t[1].contains("<invalid-namespace"), "{t:?}");
        let mut s = Session::new(shared(&[]), 2, tx.clone());
        assert!(texts(&s.on_binary())[1].contains("<bad-format"));
        let mut s = Session::new(shared(&[]), 3, tx.clone());
        assert!(texts(&s.on_text("<a><b></a>"))[1].contains("<not-well-formed"));
        let mut s = Session::new(shared(&[]), 4, tx.clone());
        assert!(texts(&s.on_text("<open/><open/>"))[1].contains("<not-well-formed"));
        let mut s = Session::new(shared(&[]), 5, tx);
        assert!(texts(&s.on_text("<presence><!--x--></presence>"))[1].contains("<restricted-xml"));
    }

    #[test]
    fn host_unknown_and_sasl_failures() {
        let (tx, _rx) = mpsc::channel(4);
        let mut s = Session::new(shared(&[]), 1, tx.clone());
        let t = texts(&s.on_text(
            "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.org' version='1.0'/>",
        ));
        assert!(
            t[1].contains("<host-unknown") && t[1].contains("example.org"),
            "{t:?}"
        );

        let mut s = Session::new(shared(&[]), 2, tx);
        s.on_text(
            "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>",
        );
        let bad = crate::xmpp::sasl::plain_auth_xml("", "alice", "wrong");
        for _ in 0..MAX_SASL_FAILURES {
            let t = texts(&s.on_text(&bad));
            assert!(t[0].contains("<not-authorized/>"), "{t:?}");
        }
        let out = s.on_text(&bad);
        assert!(texts(&out)[0].contains("<policy-violation"));
        assert_eq!(out.last(), Some(&Out::Close));
    }

    fn bound(shared: &Arc<Shared>, conn: u64) -> (Session, mpsc::Receiver<String>) {
        let (tx, rx) = mpsc::channel(4);
        let mut s = Session::new(shared.clone(), conn, tx);
        let open =
            "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>";
        s.on_text(open);
        s.on_text(&crate::xmpp::sasl::plain_auth_xml("", "alice", "secret"));
        s.on_text(open);
        let t = texts(&s.on_text(&crate::xmpp::bind::bind_request_xml("b", Some("r"))));
        assert!(t[0].contains("<jid>alice@localhost/r"), "{t:?}");
        (s, rx)
    }

    #[test]
    fn never_panics_on_noise() {
        let atoms = [
            "<",
            ">",
            "/>",
            "</",
            "iq",
            "message",
            "presence",
            " to='",
            " type='",
            "'",
            "get",
            "chat",
            "alice@localhost",
            "/r",
            "bob@x",
            "@",
            "<ping xmlns='urn:xmpp:ping'/>",
            "<body>",
            "</body>",
            " xmlns='jabber:client'",
            "<priority>",
            "-5",
            "</priority>",
            "unavailable",
            " id='1'",
            "&amp;",
            "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>",
            "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>",
            "error",
            "é",
            " ",
        ];
        let shared = shared(&[]);
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let (mut s, _rx) = bound(&shared, 1);
        let mut conn = 1;
        for _ in 0..3000 {
            let mut text = String::new();
            for _ in 0..(next() % 12) {
                text.push_str(atoms[(next() % atoms.len() as u64) as usize]);
            }
            s.on_text(&text);
            if s.phase == Phase::Closed {
                s.on_disconnect();
                conn += 1;
                (s, _) = bound(&shared, conn);
            }
        }
    }

    #[test]
    fn stanza_before_auth_is_not_authorized() {
        let (tx, _rx) = mpsc::channel(4);
        let mut s = Session::new(shared(&[]), 1, tx);
        s.on_text(
            "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>",
        );
        let t = texts(&s.on_text("<message to='alice@localhost'><body>x</body></message>"));
        assert!(t[0].contains("<not-authorized"), "{t:?}");
    }
}
