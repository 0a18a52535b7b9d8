//! XMPP over WebSocket behind the engine's protocol interface: RFC 7395 framing as the link's
//! codec (one element per text message, always-on framing and header checks), the case set-up
//! (leased accounts, JIDs, resources), actor sessions (stanza sends and expectations, the
//! `login` macro, the `<close/>` handshake) and the cleanup that ends every stream politely so
//! that the server has finished a session before its account is leased again.

use std::any::Any;
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::case::model::{ExpectStep, SendStep};
use crate::case::{Case, Step};
use crate::seam::protocol::{next_of, not_a_macro_of, raw_form};
use crate::seam::{
    ActorSession, CaseState, ClosedBy, Codec, Failure, Fuzzing, Inbound, Incoming, Link, LinkEnv,
    MessageData, Next, Protocol, Recv, StepCx, Wire,
};
use crate::target::{Lease, Secret, Target};
use crate::transport::Endpoint;
use crate::vars::Vars;
use crate::violation::Violation;
use crate::xmpp::element::Element;
use crate::xmpp::framing::parse_message;
use crate::xmpp::login::{ElementIo, LoginError, LoginIoError, LoginParams, login};
use crate::xmpp::pattern::{MatchError, MatchMode, Pattern};
use crate::xmpp::sasl::Mechanism;
use crate::xmpp::scram::{ScramClient, ScramHash};
use crate::xmpp::{ns, sasl, stream};

/// Statement: the server's handshake answer contains `xmpp`.
pub(super) const WS_SUBPROTOCOL: &str = "RFC7395-3.1-2";
/// Statement: data frames are text.
const WS_TEXT: &str = "RFC7395-3.2-1";
/// Statement: each frame parses as a standalone XML document.
const STANDALONE: &str = "RFC7395-3.3.3-1";
/// Statement: the `<close/>` handshake.
const CLOSE_HANDSHAKE: &str = "RFC7395-3.6-1";

/// Who an actor logs in as.
#[derive(Debug, Clone)]
pub struct XmppIdentity {
    /// Local part.
    pub user: String,
    /// Password (never printed).
    pub password: Secret,
    /// Domain.
    pub domain: String,
    /// Resource to bind.
    pub resource: String,
}

impl XmppIdentity {
    /// Logs this account in on a side connection wirecheck opened for itself (cleanup,
    /// registration removal), bound to the resource `{resource}-{suffix}`, with the strongest
    /// mechanism offered.
    pub(super) async fn side_login(
        &self,
        link: &mut Link<XmppCodec>,
        suffix: &str,
        deadline: Instant,
    ) -> Result<(), LoginError> {
        let params = LoginParams {
            domain: self.domain.clone(),
            user: self.user.clone(),
            password: self.password.expose().to_string(),
            resource: Some(format!("{}-{suffix}", self.resource)),
            mechanism: None,
            nonce: None,
            bind: true,
        };
        let mut io = Io { link, deadline };
        login(&mut io, &params).await.map(|_| ())
    }
}

/// Hides SASL payloads in what the transcript shows: `<auth/>` (PLAIN credentials, SCRAM
/// client-first with its nonce) and `<response/>` (the SCRAM proof).
fn redact_sent(xml: &str) -> String {
    for name in ["auth", "response"] {
        let close_tag = format!("</{name}>");
        let start = xml.trim_start();
        if start.starts_with(&format!("<{name}"))
            && start[name.len() + 1..].starts_with([' ', '>', '/', '\t', '\n', '\r'])
            && let (Some(open_end), Some(close)) = (xml.find('>'), xml.rfind(&close_tag))
            && open_end < close
            && !xml[..open_end].ends_with('/')
        {
            return format!("{}>***{}", &xml[..open_end], &xml[close..]);
        }
    }
    xml.to_string()
}

/// RFC 7395 framing as a link codec.
pub struct XmppCodec {
    domain: String,
    header_checks: bool,
    queue: VecDeque<(String, Vec<Violation>)>,
    watch: stream::StreamWatch,
}

impl XmppCodec {
    /// A codec for a stream to `domain`.
    pub fn new(domain: &str) -> Self {
        Self {
            domain: domain.to_string(),
            header_checks: true,
            queue: VecDeque::new(),
            watch: stream::StreamWatch::default(),
        }
    }
}

impl Codec for XmppCodec {
    type Out = String;
    type In = Element;

    fn describe(&self, xml: &String) -> (MessageData, bool) {
        let shown = redact_sent(xml);
        let secret = shown != *xml;
        let data = match parse_message(&shown) {
            Ok(f) => f.element.to_data(),
            Err(_) => json!({ "xml": shown }),
        };
        (
            MessageData {
                data,
                summary: shown,
            },
            secret,
        )
    }

    fn message_from_data(&self, data: &Value) -> Result<String, String> {
        match data {
            Value::String(s) => Ok(s.clone()),
            Value::Object(m) => match m.get("xml") {
                Some(Value::String(s)) => Ok(s.clone()),
                _ => Err("an XMPP message is given as XML text (a string or {xml: ...})".into()),
            },
            _ => Err("an XMPP message is given as XML text".into()),
        }
    }

    fn encode(&self, xml: &String) -> Result<Wire, String> {
        Ok(Wire::Text(xml.clone()))
    }

    fn feed(&mut self, incoming: Incoming) -> Vec<Violation> {
        match incoming {
            Incoming::Text(t) => self.queue.push_back((t, Vec::new())),
            Incoming::Binary(b) | Incoming::Bytes(b) => self.queue.push_back((
                String::from_utf8_lossy(&b).into_owned(),
                vec![Violation::new(
                    WS_TEXT,
                    "the server sent a binary WebSocket message",
                )],
            )),
        }
        Vec::new()
    }

    fn decode(&mut self) -> Option<Inbound<Element>> {
        let (text, mut violations) = self.queue.pop_front()?;
        let raw = text.clone().into_bytes();
        Some(match parse_message(&text) {
            Ok(framed) => {
                violations.extend(framed.violations);
                let el = framed.element;
                if self.header_checks {
                    violations.extend(self.watch.observe(&el));
                    if stream::is_open(&el) {
                        violations.extend(stream::check_server_open(&el, &self.domain));
                    } else if stream::is_close(&el) {
                        violations.extend(stream::check_server_close(&el));
                    } else if el.name == "failure" && el.ns.as_deref() == Some(ns::SASL) {
                        violations.extend(sasl::check_failure(&el));
                    }
                }
                Inbound {
                    data: MessageData {
                        data: el.to_data(),
                        summary: text,
                    },
                    message: Some(el),
                    raw,
                    violations,
                    fatal: None,
                }
            }
            Err(e) => {
                violations.push(Violation::new(
                    STANDALONE,
                    format!("a WebSocket message is not one standalone XML element: {e}"),
                ));
                Inbound {
                    message: None,
                    data: MessageData {
                        data: json!({ "unparsed": text }),
                        summary: text,
                    },
                    raw,
                    violations,
                    fatal: None,
                }
            }
        })
    }
}

/// XMPP over WebSocket as a protocol of the engine.
pub struct XmppProtocol;

/// A connection of the probe, the audit or the fuzzer's liveness probe: no header checks (no
/// case is judged on it).
pub(super) async fn probe_link(
    x: &crate::target::XmppTarget,
    connect: &crate::transport::ConnectOptions,
) -> Result<Link<XmppCodec>, Failure> {
    let mut link = Link::open(
        &x.endpoint,
        &LinkEnv::probe(connect),
        "probe",
        "xmpp",
        WS_SUBPROTOCOL,
        XmppCodec::new(&x.domain),
    )
    .await?;
    link.codec_mut().header_checks = false;
    Ok(link)
}

/// Ends a probe connection politely: `<close/>`, the server's `<close/>`, then the socket.
pub(super) async fn close_probe_link(mut link: Link<XmppCodec>, deadline: Instant) {
    if link.send(stream::close_xml(), deadline).await.is_ok() {
        while let Recv::Message(m) = link.recv(deadline).await {
            if m.message.as_ref().is_some_and(stream::is_close) {
                link.close(deadline).await;
                break;
            }
        }
    }
    link.abort();
}

/// How long a case waits for enough free accounts in the pool.
const LEASE_WAIT: Duration = Duration::from_secs(120);

#[async_trait]
impl Protocol for XmppProtocol {
    fn name(&self) -> &'static str {
        "xmpp"
    }

    fn endpoint<'t>(&self, target: &'t Target) -> Option<&'t Endpoint> {
        target.xmpp.as_ref().map(|t| &t.endpoint)
    }

    fn fuzzing(&self, _version: Option<&str>) -> Box<dyn Fuzzing> {
        Box::new(crate::xmpp::mutate::XmppFuzzing)
    }

    /// Logs one pool account in and learns what the server offers (src/xmpp/probe.rs).
    async fn probe(
        &self,
        target: &Target,
        connect: &crate::transport::ConnectOptions,
        deadline: Instant,
    ) -> Result<crate::capability::Learned, Failure> {
        let Some(x) = target.xmpp.as_ref().filter(|x| !x.pool.is_empty()) else {
            // No pool account (none configured, or accounts registered per case): nothing to log in with.
            return Ok(crate::capability::Learned::default());
        };
        let wait = deadline.saturating_duration_since(Instant::now());
        let lease = x
            .pool
            .lease(1, wait)
            .await
            .map_err(|e| Failure::infra(format!("account pool: {e}")))?;
        let Some(account) = lease.accounts.first() else {
            return Ok(crate::capability::Learned::default());
        };
        let mut link = probe_link(x, connect).await?;
        let params = LoginParams {
            domain: x.domain.clone(),
            user: account.user.clone(),
            password: account.password.expose().to_string(),
            resource: Some(format!("wc-probe-{}", std::process::id())),
            mechanism: None,
            nonce: None,
            bind: true,
        };
        let offered = {
            let mut io = Io {
                link: &mut link,
                deadline,
            };
            crate::xmpp::probe::discover(&mut io, &params).await
        };
        close_probe_link(link, deadline).await;
        let capabilities = offered.map_err(|e| Failure::infra(format!("login: {e}")))?;
        Ok(crate::capability::Learned {
            capabilities,
            from: "the stream features and service discovery",
        })
    }

    /// The stream features before authentication (with a pool account, also those after it).
    async fn audit_facts(
        &self,
        target: &Target,
        connect: &crate::transport::ConnectOptions,
        deadline: Instant,
    ) -> Vec<crate::facts::Fact> {
        let Some(x) = &target.xmpp else {
            return Vec::new();
        };
        let encrypted = x.endpoint.kind.is_tls();
        let account = match x.pool.is_empty() {
            true => None,
            false => {
                let wait = deadline.saturating_duration_since(Instant::now());
                x.pool.lease(1, wait).await.ok()
            }
        };
        let mut link = match probe_link(x, connect).await {
            Ok(l) => l,
            Err(f) => return vec![crate::xmpp::probe::unreachable_fact(&f.message)],
        };
        let answer = {
            let mut io = Io {
                link: &mut link,
                deadline,
            };
            match account.as_ref().and_then(|l| l.accounts.first()) {
                Some(a) => {
                    let params = LoginParams {
                        domain: x.domain.clone(),
                        user: a.user.clone(),
                        password: a.password.expose().to_string(),
                        resource: Some(format!("wc-audit-{}", std::process::id())),
                        mechanism: None,
                        nonce: None,
                        bind: true,
                    };
                    login(&mut io, &params)
                        .await
                        .map(|o| (o.offered, Some(o.features)))
                }
                None => crate::xmpp::login::features_before_auth(&mut io, &x.domain)
                    .await
                    .map(|f| (f, None)),
            }
        };
        close_probe_link(link, deadline).await;
        crate::xmpp::probe::audit_facts(answer, encrypted, account.is_some())
    }

    async fn prepare(
        &self,
        case: &Case,
        target: &Target,
        vars: &mut Vars,
        tag: &str,
    ) -> Result<Box<dyn CaseState>, Failure> {
        let x = target
            .xmpp
            .as_ref()
            .ok_or_else(|| Failure::infra("target has no XMPP endpoint"))?;
        vars.set("domain", x.domain.as_str());
        // Actors with `same_account_as` take the account of the actor they name (checked at
        // load time to name one that leases its own), so only the others lease.
        let owners: Vec<&str> = case
            .actors
            .iter()
            .filter(|(_, d)| d.same_account_as.is_none())
            .map(|(n, _)| n.as_str())
            .collect();
        let lease = x
            .pool
            .lease(owners.len(), LEASE_WAIT)
            .await
            .map_err(|e| Failure::infra(format!("account pool: {e}")))?;
        // In-band registration as the account source: fresh accounts for the leased slots.
        let fresh = x
            .register
            .as_ref()
            .map(|r| super::register::fresh(r, &lease.accounts));
        let accounts = fresh.as_deref().unwrap_or(&lease.accounts);
        let mut identities = BTreeMap::new();
        for (i, (name, doc)) in case.actors.iter().enumerate() {
            let owner = doc.same_account_as.as_deref().unwrap_or(name.as_str());
            let account = owners
                .iter()
                .position(|o| *o == owner)
                .and_then(|k| accounts.get(k))
                .ok_or_else(|| Failure::infra(format!("no account for `{name}`")))?;
            let resource = doc
                .resource
                .clone()
                .unwrap_or_else(|| format!("wc-{tag}-{i}"));
            let jid = format!("{}@{}", account.user, x.domain);
            vars.set(format!("{name}.user"), account.user.as_str());
            vars.set(format!("{name}.jid"), jid.as_str());
            vars.set(format!("{name}.resource"), resource.as_str());
            identities.insert(
                name.clone(),
                XmppIdentity {
                    user: account.user.clone(),
                    password: account.password.clone(),
                    domain: x.domain.clone(),
                    resource,
                },
            );
        }
        let leased: Vec<&str> = identities.values().map(|i| i.user.as_str()).collect();
        let registered_by_case = super::register::registered_by(case, vars, &leased);
        Ok(Box::new(XmppCase {
            endpoint: x.endpoint.clone(),
            registered_by_case,
            identities,
            touches_roster: touches_roster(case),
            registered: fresh.map(|_| Default::default()),
            _lease: lease,
        }))
    }
}

/// An XMPP case between set-up and cleanup; dropping it returns the leased accounts.
struct XmppCase {
    endpoint: Endpoint,
    identities: BTreeMap<String, XmppIdentity>,
    /// The case sends roster iqs or subscription presence: cleanup restores the rosters.
    touches_roster: bool,
    /// Accounts the case registers itself (XEP-0077): the cleanup removes any left behind.
    registered_by_case: Vec<(String, String)>,
    /// The accounts come from in-band registration: those registered so far (removed at cleanup).
    registered: Option<super::register::Registrations>,
    _lease: Lease,
}

#[async_trait]
impl CaseState for XmppCase {
    async fn open(
        &mut self,
        actor: &str,
        env: &LinkEnv,
        _vars: &Vars,
    ) -> Result<Box<dyn ActorSession>, Failure> {
        let identity = self
            .identities
            .get(actor)
            .cloned()
            .ok_or_else(|| Failure::infra(format!("no account for `{actor}`")))?;
        if let Some(r) = &mut self.registered {
            r.ensure(&self.endpoint, env, &identity)
                .await
                .map_err(|e| Failure::infra(format!("in-band registration of `{actor}`: {e}")))?;
        }
        let link = Link::open(
            &self.endpoint,
            env,
            actor,
            "xmpp",
            WS_SUBPROTOCOL,
            XmppCodec::new(&identity.domain),
        )
        .await?;
        Ok(Box::new(XmppActor {
            link,
            identity,
            streaming: false,
            scram: None,
            last_challenge: None,
        }))
    }

    async fn cleanup(
        &mut self,
        sessions: Vec<Box<dyn ActorSession>>,
        env: &LinkEnv,
        deadline: Instant,
    ) -> Vec<String> {
        let mut notes = self.close_sessions(sessions, deadline).await;
        if self.touches_roster {
            notes.extend(self.restore_rosters(env, deadline).await);
        }
        if let Some(domain) = self.identities.values().next().map(|i| i.domain.clone()) {
            let left = &self.registered_by_case;
            let removed =
                super::register::remove_leftovers(&self.endpoint, env, &domain, left, deadline);
            notes.extend(removed.await);
        }
        if let Some(r) = &mut self.registered {
            let ids = self.identities.values();
            notes.extend(r.remove_all(&self.endpoint, env, ids, deadline).await);
        }
        notes
    }
}

impl XmppCase {
    /// Closes every stream still open with the `<close/>` handshake.
    async fn close_sessions(
        &mut self,
        sessions: Vec<Box<dyn ActorSession>>,
        deadline: Instant,
    ) -> Vec<String> {
        // A stream that is still open is closed with the <close/> handshake and its end awaited,
        // so the server has torn the session down (presence unavailable sent, resource freed)
        // before the account serves the next case.
        let mut notes = Vec::new();
        for s in sessions {
            let Ok(mut a) = s.into_any().downcast::<XmppActor>() else {
                continue;
            };
            if a.link.ended().is_some() {
                continue;
            }
            if !a.streaming {
                a.link.abort();
                continue;
            }
            let _ = a.link.send(stream::close_xml(), deadline).await;
            loop {
                match a.link.recv(deadline).await {
                    Recv::Message(m) if m.message.as_ref().is_some_and(stream::is_close) => {
                        a.link.close(deadline).await;
                    }
                    Recv::Message(_) => continue,
                    Recv::Ended(_) => break,
                    Recv::Timeout => {
                        notes.push(format!(
                            "{}: the server did not end the stream before the cleanup deadline",
                            a.link.actor()
                        ));
                        a.link.abort();
                        break;
                    }
                }
            }
        }
        notes
    }
}

/// The roster namespace (RFC 6121 Section 2).
const ROSTER_NS: &str = "jabber:iq:roster";

/// Whether a case sends roster iqs or subscription presence, so its cleanup must restore rosters.
fn touches_roster(case: &Case) -> bool {
    case.steps.iter().any(|s| match &s.step {
        Step::Send(send) => send
            .xml
            .as_deref()
            .is_some_and(|x| x.contains(ROSTER_NS) || x.contains("subscribe")),
        _ => false,
    })
}

/// Waits on a cleanup link for the answer to the iq `id`, acknowledging roster pushes meanwhile.
async fn await_iq(
    link: &mut Link<XmppCodec>,
    id: &str,
    deadline: Instant,
) -> Result<Element, String> {
    loop {
        match link.recv(deadline).await {
            Recv::Message(m) => {
                let Some(el) = m.message else { continue };
                if el.name != "iq" {
                    continue;
                }
                match (el.attr("type"), el.attr("id")) {
                    (Some("result"), Some(i)) if i == id => return Ok(el),
                    (Some("error"), Some(i)) if i == id => {
                        return Err(format!("the server answered {}", m.data.summary));
                    }
                    (Some("set"), Some(push)) => {
                        let ack = format!(
                            "<iq xmlns='{}' type='result' id='{}'/>",
                            ns::CLIENT,
                            crate::xmpp::element::escape(push)
                        );
                        link.send(ack, deadline).await.map_err(|f| f.message)?;
                    }
                    _ => {}
                }
            }
            Recv::Ended(e) => return Err(format!("the connection ended: {e}")),
            Recv::Timeout => return Err(format!("no answer to iq `{id}` in time")),
        }
    }
}

impl XmppCase {
    /// Empties the roster of every account the case used and denies pending subscription
    /// requests between them, each on a connection of its own whose traffic stays out of the
    /// transcript (only a note per account that had items).
    async fn restore_rosters(&self, env: &LinkEnv, deadline: Instant) -> Vec<String> {
        let mut accounts: BTreeMap<String, (String, XmppIdentity)> = BTreeMap::new();
        for (actor, id) in &self.identities {
            accounts
                .entry(format!("{}@{}", id.user, id.domain))
                .or_insert_with(|| (actor.clone(), id.clone()));
        }
        let bare: Vec<String> = accounts.keys().cloned().collect();
        let mut list: Vec<(String, XmppIdentity)> = accounts.into_values().collect();
        list.sort_by(|a, b| a.0.cmp(&b.0));
        let quiet = LinkEnv {
            transcript: crate::seam::Transcript::new(),
            case_id: env.case_id.clone(),
            hook: None,
            connect: env.connect.clone(),
        };
        let mut notes = Vec::new();
        for (actor, id) in list {
            match self.restore_roster(&quiet, &id, &bare, deadline).await {
                Ok(0) => {}
                Ok(n) => notes.push(format!("{actor}: removed {n} roster item(s)")),
                Err(why) => notes.push(format!("{actor}: could not restore the roster: {why}")),
            }
        }
        notes
    }

    /// Logs `id` in, removes every roster item, sends `unsubscribed` to the other `accounts`,
    /// and closes. Returns how many items it removed.
    async fn restore_roster(
        &self,
        env: &LinkEnv,
        id: &XmppIdentity,
        accounts: &[String],
        deadline: Instant,
    ) -> Result<usize, String> {
        let mut link = Link::open(
            &self.endpoint,
            env,
            "cleanup",
            "xmpp",
            WS_SUBPROTOCOL,
            XmppCodec::new(&id.domain),
        )
        .await
        .map_err(|f| f.message)?;
        link.codec_mut().header_checks = false;
        id.side_login(&mut link, "cleanup", deadline)
            .await
            .map_err(|e| format!("login: {e}"))?;
        let get = format!(
            "<iq xmlns='{}' type='get' id='wc-cleanup-get'><query xmlns='{ROSTER_NS}'/></iq>",
            ns::CLIENT
        );
        link.send(get, deadline).await.map_err(|f| f.message)?;
        let roster = await_iq(&mut link, "wc-cleanup-get", deadline).await?;
        let items: Vec<String> = roster
            .child("query", ROSTER_NS)
            .map(|q| {
                q.elements()
                    .filter(|i| i.name == "item")
                    .filter_map(|i| i.attr("jid").map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        for (n, jid) in items.iter().enumerate() {
            let rid = format!("wc-cleanup-rm{n}");
            let set = format!(
                "<iq xmlns='{}' type='set' id='{rid}'><query xmlns='{ROSTER_NS}'><item jid='{}' subscription='remove'/></query></iq>",
                ns::CLIENT,
                crate::xmpp::element::escape(jid)
            );
            link.send(set, deadline).await.map_err(|f| f.message)?;
            await_iq(&mut link, &rid, deadline).await?;
        }
        let me = format!("{}@{}", id.user, id.domain);
        for other in accounts.iter().filter(|a| **a != me) {
            let deny = format!(
                "<presence xmlns='{}' type='unsubscribed' to='{}'/>",
                ns::CLIENT,
                crate::xmpp::element::escape(other)
            );
            link.send(deny, deadline).await.map_err(|f| f.message)?;
        }
        // The server answers <close/> only after the stanzas before it are processed.
        link.send(stream::close_xml(), deadline)
            .await
            .map_err(|f| f.message)?;
        loop {
            match link.recv(deadline).await {
                Recv::Message(m) if m.message.as_ref().is_some_and(stream::is_close) => {
                    link.close(deadline).await;
                }
                Recv::Message(_) => continue,
                Recv::Ended(_) => break,
                Recv::Timeout => {
                    link.abort();
                    return Err("the server did not end the cleanup stream in time".into());
                }
            }
        }
        Ok(items.len())
    }
}

/// One actor's XMPP connection.
struct XmppActor {
    link: Link<XmppCodec>,
    identity: XmppIdentity,
    /// An XMPP stream was opened on it (by `login` or a sent `<open/>`).
    streaming: bool,
    /// The SCRAM exchange a `sasl_scram` send started.
    scram: Option<ScramClient>,
    /// The payload (base64) of the last SASL `<challenge/>` an `expect` received.
    last_challenge: Option<String>,
}

/// Stanzas of RFC 6120 section 8: only these are left unordered relative to one another when
/// they come from different senders.
fn is_stanza(el: &Element) -> bool {
    matches!(el.name.as_str(), "message" | "presence" | "iq")
        && matches!(el.ns.as_deref(), None | Some("jabber:client"))
}

/// A stream management ack request (`<r xmlns='urn:xmpp:sm:3'/>`, XEP-0198 Section 4).
fn is_sm_request(el: &Element) -> bool {
    el.is("r", ns::SM)
}

/// The ordering class of a stanza: its name, and for an iq whether it is a request (get/set)
/// or a response (result/error). A server's own requests (roster pushes) are not ordered
/// relative to its responses to the client's requests, so neither holds the other up.
fn stanza_kind(el: &Element) -> (&str, bool) {
    let request = el.name == "iq" && matches!(el.attr("type"), Some("get" | "set"));
    (el.name.as_str(), request)
}

/// A presence from another entity (bare JID) than the one the pattern's literal `from` names:
/// presence from different senders is not ordered (RFC 6120 Section 10.1), so it is held.
fn other_presence_sender(el: &Element, want: &Element) -> bool {
    let bare = |j: &str| j.split('/').next().unwrap_or_default().to_ascii_lowercase();
    if el.name != "presence" || want.name != "presence" {
        return false;
    }
    // Unavailable presence from a bare JID says only "no available resource"; a server may
    // send it whenever it answers a probe or acknowledges a subscription request (prosody
    // does both), so it is held unless the pattern awaits unavailable presence from a bare JID.
    let awaits_bare_unavailable = want.attr("type") == Some("unavailable")
        && want.attr("from").is_none_or(|f| !f.contains('/'));
    if el.attr("type") == Some("unavailable")
        && !awaits_bare_unavailable
        && el.attr("from").is_some_and(|f| !f.contains('/'))
    {
        return true;
    }
    match want.attr("from") {
        Some(f) if !f.starts_with('$') => {
            let from = el.attr("from");
            // The bare JID is an entity of its own when a resource of it is awaited: a MUC
            // room's own available presence (ejabberd sends its entity capabilities from the
            // room JID) is not ordered relative to the presence of the room's occupants. Only
            // available presence: subscription presence from the bare JID is ordered relative
            // to its resources' presence (RFC6121-3.2.2-5: unavailable before unsubscribed).
            let bare_of_awaited = f.contains('/')
                && el.attr("type").is_none()
                && from.is_some_and(|g| !g.contains('/') && g.eq_ignore_ascii_case(&bare(f)));
            from.map(bare) != Some(bare(f)) || bare_of_awaited
        }
        _ => false,
    }
}

impl XmppActor {
    async fn send_xml(&mut self, xml: String, deadline: Instant) -> Result<(), Failure> {
        if xml.trim_start().starts_with("<open") {
            self.streaming = true;
        }
        self.link.send(xml, deadline).await
    }

    /// The `login` macro; defines `{ACTOR.full_jid}`.
    async fn login_macro(
        &mut self,
        step: &crate::case::model::LoginStep,
        vars: &mut Vars,
        deadline: Instant,
    ) -> Result<(), Failure> {
        let resource = match &step.resource {
            Some(r) => vars
                .interpolate(r)
                .map_err(|e| Failure::infra(format!("login: resource: {e}")))?,
            None => self.identity.resource.clone(),
        };
        let mechanism = match &step.mechanism {
            Some(m) => Some(Mechanism::from_name(m).ok_or_else(|| {
                Failure::infra(format!(
                    "login: unknown SASL mechanism `{m}` (known: {})",
                    Mechanism::known()
                ))
            })?),
            None => None,
        };
        let params = LoginParams {
            domain: self.identity.domain.clone(),
            user: self.identity.user.clone(),
            password: self.identity.password.expose().to_string(),
            resource: Some(resource.clone()),
            mechanism,
            nonce: None,
            bind: step.bind.unwrap_or(true),
        };
        self.streaming = true;
        self.link.codec_mut().header_checks = false;
        let outcome = {
            let mut io = Io {
                link: &mut self.link,
                deadline,
            };
            login(&mut io, &params).await
        };
        self.link.codec_mut().header_checks = true;
        match outcome {
            Ok(o) => {
                self.link.codec_mut().watch.logged_in();
                for v in &o.violations {
                    self.link.record_violation(v.clone());
                }
                let actor = self.link.actor().to_string();
                if let Some(id) = o.stream_id {
                    vars.set(format!("{actor}.stream_id"), id);
                }
                match &o.full_jid {
                    Some(jid) => {
                        vars.set(format!("{actor}.full_jid"), jid.as_str());
                        vars.set(format!("{actor}.resource"), resource.as_str());
                        self.link.recorder().note(format!("logged in as {jid}"));
                    }
                    None => self
                        .link
                        .recorder()
                        .note("authenticated; no resource bound (bind: false)"),
                }
                Ok(())
            }
            Err(LoginError::Io {
                step,
                source: LoginIoError::Io(why),
            }) => Err(Failure::infra(format!("login: {step}: {why}"))),
            Err(LoginError::Io {
                step: _,
                source: LoginIoError::Framing(_),
            }) if self.link.ended().is_some() => Err(self
                .link
                .ended()
                .expect("ended")
                .failure(Vec::new(), "the login to go on")),
            Err(LoginError::MechanismNotOffered { wanted, offered }) => {
                Err(Failure::not_applicable(format!(
                    "the case requires SASL {} and the server offers only [{}]",
                    wanted.name(),
                    offered.join(", ")
                )))
            }
            Err(LoginError::Scram(crate::xmpp::scram::ScramError::NotAscii(what))) => {
                Err(Failure::infra(format!(
                    "login: the account's {what} is not printable ASCII; SCRAM without SaslPrep \
                     cannot use it (require `mechanism: PLAIN`)"
                )))
            }
            // RFC 5802 has no statement id in the spec lists: the failure names none of the
            // case's statements (they are about something else), only the step's own.
            Err(e @ LoginError::Scram(_)) => Err(Failure::check_only(
                step.spec.clone(),
                format!("login failed: {e}"),
            )),
            Err(e) => {
                if let Some(end) = self.link.ended()
                    && end.by == ClosedBy::Wirecheck
                    && let Some(s) = &end.spec
                {
                    return Err(Failure::check_only(
                        vec![s.clone()],
                        format!("login failed: {e}"),
                    ));
                }
                if let LoginError::SaslFailure(c) = &e
                    && c == "not-authorized"
                {
                    return Err(Failure::infra(format!(
                        "set-up: the server refused the account `{}` (<not-authorized/>): check the \
                         profile's accounts and passwords",
                        self.identity.user
                    )));
                }
                Err(Failure::check(
                    step.spec.clone(),
                    format!("login failed: {e}"),
                ))
            }
        }
    }
}

impl XmppActor {
    /// The element of a `sasl_scram` send: client-first in an `<auth/>`, or client-final (for
    /// the last challenge received, maybe with another password or nonce) in a `<response/>`.
    fn scram_message(
        &mut self,
        sc: &crate::case::model::SaslScramDoc,
        vars: &Vars,
    ) -> Result<String, Failure> {
        let interp = |s: &Option<String>| {
            s.as_deref()
                .map(|s| vars.interpolate(s))
                .transpose()
                .map_err(|e| Failure::infra(format!("send: sasl_scram: {e}")))
        };
        if sc.message == "first" {
            let hash = sc
                .mechanism
                .as_deref()
                .and_then(ScramHash::from_mechanism)
                .ok_or_else(|| {
                    Failure::infra("send: sasl_scram: `first` needs a SCRAM mechanism")
                })?;
            let client = ScramClient::with_random_nonce(
                hash,
                &self.identity.user,
                self.identity.password.expose(),
            )
            .map_err(|e| Failure::infra(format!("send: sasl_scram: {e}")))?;
            let xml = sasl::auth_xml(hash.mechanism(), client.client_first().as_bytes());
            self.scram = Some(client);
            self.last_challenge = None;
            return Ok(xml);
        }
        let Some(client) = &self.scram else {
            return Err(Failure::infra(
                "send: sasl_scram: `final` needs an earlier `message: first`",
            ));
        };
        let Some(challenge) = &self.last_challenge else {
            return Err(Failure::infra(
                "send: sasl_scram: `final` needs the server's <challenge/>: expect it first",
            ));
        };
        let server_first = sasl::decode_text(challenge).map_err(|e| {
            Failure::check(Vec::new(), format!("the SASL <challenge/> payload: {e}"))
        })?;
        let password = interp(&sc.password)?;
        let nonce = interp(&sc.nonce)?;
        let mut client = match &password {
            Some(p) => {
                let mut c = client.clone();
                c.set_password(p)
                    .map_err(|e| Failure::infra(format!("send: sasl_scram: {e}")))?;
                c
            }
            None => client.clone(),
        };
        let fin = client
            .client_final_with(&server_first, nonce.as_deref())
            .map_err(|e| Failure::check(Vec::new(), format!("the server-first-message: {e}")))?;
        Ok(sasl::response_xml(fin.as_bytes()))
    }
}

#[async_trait]
impl ActorSession for XmppActor {
    async fn run_macro(&mut self, step: &Step, cx: &mut StepCx<'_>) -> Result<(), Failure> {
        match step {
            Step::Login(l) => self.login_macro(&l.0, cx.vars, cx.deadline).await,
            Step::WsPing(p) => self.link.ping(p.payload.as_bytes(), cx.deadline).await,
            other => Err(not_a_macro_of("XMPP", other)),
        }
    }

    async fn send(&mut self, step: &SendStep, cx: &mut StepCx<'_>) -> Result<(), Failure> {
        let interp = |s: &str| {
            cx.vars
                .interpolate(s)
                .map_err(|e| Failure::infra(format!("send: {e}")))
        };
        if let Some(x) = &step.xml {
            let xml = interp(x)?;
            return self.send_xml(xml, cx.deadline).await;
        }
        if let Some(p) = &step.sasl_plain {
            let user = interp(&p.user)?;
            let password = match &p.password {
                Some(pw) => interp(pw)?,
                None => self.identity.password.expose().to_string(),
            };
            let authzid = match &p.authzid {
                Some(z) => interp(z)?,
                None => String::new(),
            };
            return self
                .send_xml(
                    sasl::plain_auth_xml(&authzid, &user, &password),
                    cx.deadline,
                )
                .await;
        }
        if let Some(sc) = &step.sasl_scram {
            let xml = self.scram_message(sc, cx.vars)?;
            return self.send_xml(xml, cx.deadline).await;
        }
        match raw_form(step, cx.vars) {
            Some(raw) => {
                let raw = raw?;
                if let crate::seam::Outgoing::Text(t) = &raw
                    && t.trim_start().starts_with("<open")
                {
                    self.streaming = true;
                }
                self.link.send_raw(raw, cx.deadline).await
            }
            None => Err(Failure::infra("send: nothing to send")),
        }
    }

    async fn expect(&mut self, step: &ExpectStep, cx: &mut StepCx<'_>) -> Result<(), Failure> {
        let sources: Vec<&String> = step.xml.iter().chain(&step.xml_one_of).collect();
        if sources.is_empty() {
            return Err(Failure::infra("expect: an XMPP expect needs `xml`"));
        }
        let mut patterns = Vec::with_capacity(sources.len());
        for x in sources {
            let text = cx
                .vars
                .interpolate(x)
                .map_err(|e| Failure::infra(format!("expect: {e}")))?;
            let pattern = Pattern::parse(&text)
                .map_err(|e| Failure::infra(format!("expect: field `xml`: {e}")))?;
            patterns.push((text, pattern));
        }
        let text = patterns
            .iter()
            .map(|(t, _)| t.as_str())
            .collect::<Vec<_>>()
            .join("\n or ");
        let wanted: Vec<Element> = patterns.iter().map(|(_, p)| p.element().clone()).collect();
        let waited = cx.deadline.saturating_duration_since(Instant::now());
        // Stanzas of another kind than the one awaited may come first (different senders are
        // not ordered); they are held for later steps. Stream-level elements never are.
        // A stream management ack request (XEP-0198 `<r/>`) may come whenever the server
        // has sent stanzas; it is held unless the step awaits one.
        let skip = |m: &Inbound<Element>| {
            m.message.as_ref().is_some_and(|el| {
                (is_sm_request(el) && !wanted.iter().any(is_sm_request))
                    || (wanted.iter().all(is_stanza)
                        && is_stanza(el)
                        && wanted.iter().all(|w| {
                            stanza_kind(el) != stanza_kind(w) || other_presence_sender(el, w)
                        }))
            })
        };
        match self.link.recv_skipping(cx.deadline, skip).await {
            Recv::Message(m) => match &m.message {
                Some(el) => {
                    if el.name == "challenge" && el.ns.as_deref() == Some(ns::SASL) {
                        self.last_challenge = Some(el.text().trim().to_string());
                    }
                    let mode = MatchMode {
                        exact: step.exact,
                        ordered: step.ordered,
                    };
                    // Alternatives are tried in order; the first that matches binds its
                    // captures, and a mismatch of all reports the last one's difference.
                    let mut result = Ok(());
                    for (_, pattern) in &patterns {
                        result = pattern.matches_with(el, cx.vars, mode);
                        if result.is_ok() {
                            break;
                        }
                    }
                    result.map_err(|e| match e {
                        MatchError::Differs(mm) => {
                            Failure::check(Vec::new(), format!("element differs: {mm}"))
                                .with_diff(text.clone(), m.data.summary.clone())
                                .mismatched()
                        }
                        // An undecidable pattern is the case's problem, not the server's.
                        MatchError::TooAmbiguous { .. } => {
                            Failure::infra(format!("expect: field `xml`: {e}"))
                        }
                    })
                }
                None => Err(Failure::check(
                    Vec::new(),
                    "expected an element, got a message that is not one",
                )
                .with_diff(text, m.data.summary)),
            },
            Recv::Ended(e) => Err(e
                .failure(Vec::new(), "an element")
                .with_diff(text, e.to_string())),
            Recv::Timeout => Err(Failure::check(
                Vec::new(),
                format!(
                    "expected an element within {:.1}s; nothing arrived",
                    waited.as_secs_f64()
                ),
            )
            .with_diff(text, "nothing")
            .nothing_arrived()),
        }
    }

    async fn disconnect(&mut self, spec: &[String], deadline: Instant) -> Result<(), Failure> {
        let spec = if spec.is_empty() {
            vec![CLOSE_HANDSHAKE.to_string()]
        } else {
            spec.to_vec()
        };
        self.send_xml(stream::close_xml(), deadline).await?;
        loop {
            match self.link.recv(deadline).await {
                Recv::Message(m) if m.message.as_ref().is_some_and(stream::is_close) => break,
                Recv::Message(_) => continue,
                Recv::Ended(e) => {
                    return Err(Failure::check_only(
                        spec,
                        "the server closed the connection without answering <close/> with <close/>",
                    )
                    .with_actual(e.to_string()));
                }
                Recv::Timeout => {
                    return Err(Failure::check_only(
                        spec,
                        "the server did not answer <close/> with <close/>",
                    ));
                }
            }
        }
        self.link.close(deadline).await;
        match self.link.recv(deadline).await {
            Recv::Ended(_) => Ok(()),
            Recv::Timeout => Err(Failure::check_only(
                spec,
                "the server did not complete the WebSocket closing handshake",
            )),
            Recv::Message(m) => Err(Failure::check_only(
                spec,
                "the server sent data after the closing <close/>",
            )
            .with_actual(m.data.summary)),
        }
    }

    async fn next(&mut self, deadline: Instant) -> Next {
        next_of(self.link.recv(deadline).await)
    }

    fn take_violations(&mut self) -> Vec<Violation> {
        self.link.take_violations()
    }

    fn abort(&mut self) {
        self.link.abort();
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

/// The login routine's element I/O over the link, with one deadline for the whole macro.
pub(super) struct Io<'a> {
    pub(super) link: &'a mut Link<XmppCodec>,
    pub(super) deadline: Instant,
}

impl ElementIo for Io<'_> {
    async fn send(&mut self, xml: String) -> Result<(), LoginIoError> {
        self.link
            .send(xml, self.deadline)
            .await
            .map_err(|f| LoginIoError::Io(f.message))
    }

    async fn recv(&mut self) -> Result<Element, LoginIoError> {
        match self.link.recv(self.deadline).await {
            Recv::Message(m) => match m.message {
                Some(el) => Ok(el),
                None => Err(match parse_message(&m.data.summary) {
                    Err(e) => LoginIoError::Framing(e),
                    Ok(_) => LoginIoError::Closed("unreadable message".into()),
                }),
            },
            Recv::Ended(e) => Err(LoginIoError::Closed(e.to_string())),
            Recv::Timeout => Err(LoginIoError::Timeout),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el(xml: &str) -> Element {
        crate::xmpp::framing::parse_message(xml).unwrap().element
    }

    #[test]
    fn presence_of_another_sender_is_held() {
        let want = el("<presence xmlns='jabber:client' from='room@muc.example/alice'/>");
        // Another bare JID, and the bare JID's own available presence (a MUC room's caps).
        assert!(other_presence_sender(
            &el("<presence xmlns='jabber:client' from='bob@example'/>"),
            &want
        ));
        assert!(other_presence_sender(
            &el("<presence xmlns='jabber:client' from='room@muc.example'/>"),
            &want
        ));
        // Another resource of the same bare JID (MUC occupants are ordered), and subscription
        // presence from the bare JID (RFC6121-3.2.2-5 orders it after unavailable) are not.
        assert!(!other_presence_sender(
            &el("<presence xmlns='jabber:client' from='room@muc.example/bob'/>"),
            &want
        ));
        assert!(!other_presence_sender(
            &el("<presence xmlns='jabber:client' type='unsubscribed' from='room@muc.example'/>"),
            &want
        ));
    }

    #[test]
    fn sasl_credentials_are_redacted() {
        let x = "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHNlY3JldA==</auth>";
        assert_eq!(
            redact_sent(x),
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>***</auth>"
        );
        assert_eq!(redact_sent("<presence/>"), "<presence/>");
        assert_eq!(
            redact_sent("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>Yz1iaXdz</response>"),
            "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>***</response>"
        );
        assert_eq!(
            redact_sent("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"),
            "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"
        );
        assert_eq!(
            redact_sent("<responses>x</responses>"),
            "<responses>x</responses>"
        );
        let c = XmppCodec::new("localhost");
        let (d, secret) = c.describe(&x.to_string());
        assert!(secret);
        assert!(!d.data.to_string().contains("AGFsaWNl"));
    }
}
