//! Semantic checks of a parsed case: actors exist, step forms fit the protocol, spec ids are known,
//! packets and XML patterns are well-formed, and every `{variable}` and `$capture` a step uses is
//! defined by then. Errors point at the step (or at the variable in it).

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;
use serde_saphyr::Spanned;

use super::error::{LoadError, SourceLoc};
use super::loader::{Case, CaseStep, spec_set};
use super::model::{CaseDoc, Protocol, SendStep, Step};
use crate::vars::{VarError, Vars, capture_name};

/// A variable an actor of a case has: `{ACTOR.NAME}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActorVariable {
    /// The part after `ACTOR.`.
    pub name: &'static str,
    /// The step keyword after which it is defined (`login`), or None: defined from the start.
    pub after: Option<&'static str>,
}

/// The variables every case of `protocol` has: `{run}`, `{case}`, `{ns}`, and `{domain}` for XMPP.
pub fn case_variables(protocol: Protocol) -> &'static [&'static str] {
    match protocol {
        Protocol::Mqtt => &["run", "case", "ns"],
        Protocol::Xmpp => &["run", "case", "ns", "domain"],
    }
}

/// The per-actor variables of `protocol` (what the engine and the protocol sessions define).
pub fn actor_variables(protocol: Protocol) -> &'static [ActorVariable] {
    const fn at_start(name: &'static str) -> ActorVariable {
        ActorVariable { name, after: None }
    }
    const fn after_login(name: &'static str) -> ActorVariable {
        ActorVariable {
            name,
            after: Some("login"),
        }
    }
    const MQTT: &[ActorVariable] = &[at_start("client_id")];
    const XMPP: &[ActorVariable] = &[
        at_start("user"),
        at_start("jid"),
        at_start("resource"),
        after_login("full_jid"),
        after_login("stream_id"),
    ];
    match protocol {
        Protocol::Mqtt => MQTT,
        Protocol::Xmpp => XMPP,
    }
}

struct Ctx<'a> {
    path: &'a Path,
    source: &'a str,
}

impl Ctx<'_> {
    fn err<T>(&self, span: &Spanned<T>, msg: impl Into<String>) -> LoadError {
        self.err_at(span.referenced.line(), span.referenced.column(), msg)
    }
    fn err_at(&self, line: u64, col: u64, msg: impl Into<String>) -> LoadError {
        LoadError::at(self.path, self.source, line, col, msg)
    }
    /// An error at `needle` if it is written within the step (its first lines), else at the step.
    fn err_near<T>(&self, span: &Spanned<T>, needle: &str, msg: impl Into<String>) -> LoadError {
        let line = span.referenced.line().max(1);
        if !needle.is_empty() {
            for (i, text) in self
                .source
                .lines()
                .enumerate()
                .skip(line as usize - 1)
                .take(20)
            {
                if let Some(byte) = text.find(needle) {
                    let col = text[..byte].chars().count() as u64 + 1;
                    return self.err_at(i as u64 + 1, col, msg);
                }
            }
        }
        self.err(span, msg)
    }
    fn loc<T>(&self, span: &Spanned<T>) -> SourceLoc {
        SourceLoc {
            path: self.path.to_path_buf(),
            line: span.referenced.line().max(1),
            col: span.referenced.column().max(1),
        }
    }
}

/// Turns a parsed document into a validated [`Case`].
pub fn validate(path: &Path, source: &str, doc: CaseDoc) -> Result<Case, LoadError> {
    let cx = Ctx { path, source };
    let id = &doc.id.value;
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_'))
    {
        return Err(cx.err(
            &doc.id,
            format!("field `id`: `{id}` must be lower-case letters, digits, `.`, `-` or `_`"),
        ));
    }
    if doc.title.trim().is_empty() {
        return Err(cx.err(
            &doc.id,
            "field `title`: say in one line what the server must do",
        ));
    }
    if let Some(c) = doc.title.chars().find(|c| c.is_control()) {
        return Err(cx.err(
            &doc.id,
            format!(
                "field `title`: contains the control character {:?}; a title is one line of plain text",
                c
            ),
        ));
    }
    if doc.timeout.is_some_and(|t| t.0.is_zero()) {
        return Err(cx.err(
            &doc.id,
            "field `timeout`: a deadline of 0 fails every wait; give e.g. 5s",
        ));
    }
    let version = match (doc.protocol, &doc.version) {
        (Protocol::Mqtt, None) => {
            return Err(cx.err(
                &doc.id,
                "field `version` is required for MQTT cases (\"3.1.1\" or \"5.0\")",
            ));
        }
        (Protocol::Mqtt, Some(v)) if v.value == "3.1.1" || v.value == "5.0" => {
            Some(v.value.clone())
        }
        (Protocol::Mqtt, Some(v)) => {
            return Err(cx.err(
                v,
                format!(
                    "field `version`: `{}` is not supported; expected \"3.1.1\" or \"5.0\"",
                    v.value
                ),
            ));
        }
        (Protocol::Xmpp, Some(v)) => {
            return Err(cx.err(v, "field `version` is for MQTT cases only"));
        }
        (Protocol::Xmpp, None) => None,
    };
    let set = spec_set(doc.protocol, version.as_deref());
    if doc.spec.value.is_empty() {
        return Err(cx.err(&doc.spec, "field `spec`: list at least one statement id"));
    }
    for s in &doc.spec.value {
        if !set.contains(s) {
            return Err(cx.err(
                &doc.spec,
                format!("field `spec`: `{s}` is not a {} statement id", set.name()),
            ));
        }
    }
    let mut requires = Vec::with_capacity(doc.requires.len() + 1);
    // An MQTT 5.0 case needs a target that speaks 5.0, whether or not it says so.
    if doc.protocol == Protocol::Mqtt && version.as_deref() == Some("5.0") {
        requires.push(crate::capability::Capability::Mqtt5);
    }
    for r in &doc.requires {
        let c = crate::capability::Capability::parse(&r.value).ok_or_else(|| {
            cx.err(
                r,
                format!(
                    "field `requires`: {}",
                    crate::capability::Capability::unknown(&r.value)
                ),
            )
        })?;
        if !requires.contains(&c) {
            requires.push(c);
        }
    }
    // only a case made of probe steps (ws_handshake, http_get) needs no actor
    let probes_only = !doc.steps.is_empty()
        && doc
            .steps
            .iter()
            .all(|s| matches!(s.value, Step::WsHandshake(_) | Step::HttpGet(_)));
    if doc.actors.value.is_empty() && !probes_only {
        return Err(cx.err(
            &doc.actors,
            "field `actors`: a case needs at least one actor",
        ));
    }
    for (name, actor) in &doc.actors.value {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(cx.err(
                &doc.actors,
                format!("field `actors`: name `{name}` must be letters, digits or `_`"),
            ));
        }
        let wrong = match doc.protocol {
            Protocol::Mqtt if actor.account.is_some() => Some("account"),
            Protocol::Mqtt if actor.resource.is_some() => Some("resource"),
            Protocol::Mqtt if actor.same_account_as.is_some() => Some("same_account_as"),
            Protocol::Xmpp if actor.client_id.is_some() => Some("client_id"),
            _ => None,
        };
        if let Some(field) = wrong {
            return Err(cx.err(
                &doc.actors,
                format!(
                    "actor `{name}`: field `{field}` does not apply to {} cases",
                    doc.protocol
                ),
            ));
        }
        if let Some(a) = &actor.account
            && a != "pool"
        {
            return Err(cx.err(
                &doc.actors,
                format!(
                    "actor `{name}`: field `account`: `{a}` is not supported; the only form is `account: pool` (lease any free account of the target's pool), which is also the default"
                ),
            ));
        }
        if let Some(other) = &actor.same_account_as {
            let why = match doc.actors.value.get(other) {
                None => Some(format!("`{other}` is not an actor of this case")),
                Some(_) if other == name => Some("an actor cannot name itself".to_string()),
                Some(o) if o.same_account_as.is_some() => Some(format!(
                    "`{other}` itself shares another actor's account; name that actor instead"
                )),
                Some(_) if actor.account.is_some() => {
                    Some("it cannot be combined with `account`".to_string())
                }
                Some(_) => None,
            };
            if let Some(why) = why {
                return Err(cx.err(
                    &doc.actors,
                    format!("actor `{name}`: field `same_account_as`: {why}"),
                ));
            }
        }
    }
    if doc.steps.is_empty() {
        return Err(cx.err(&doc.id, "field `steps`: a case needs at least one step"));
    }
    let mut scope = Scope::new(&doc);
    for (name, actor) in &doc.actors.value {
        if let Some(id) = &actor.client_id {
            scope
                .check_text(id, &format!("actors.{name}.client_id"))
                .map_err(|m| cx.err(&doc.actors, m))?;
        }
        scope.define_actor(name);
    }
    let mut steps = Vec::with_capacity(doc.steps.len());
    for spanned in &doc.steps {
        check_step(&cx, &doc, set, spanned)?;
        scope
            .step(&spanned.value)
            .map_err(|(m, needle)| cx.err_near(spanned, &needle, m))?;
        steps.push(CaseStep {
            step: spanned.value.clone(),
            loc: cx.loc(spanned),
        });
    }
    let snapshot_redact = match &doc.snapshot_redact {
        Some(r) => {
            crate::snapshot::redact::validate(&r.value).map_err(|e| cx.err(r, e.to_string()))?;
            r.value.clone()
        }
        None => Vec::new(),
    };
    Ok(Case {
        snapshot_redact,
        snapshot_skip: doc.snapshot_skip.clone(),
        path: path.to_path_buf(),
        id: id.clone(),
        title: doc.title.clone(),
        protocol: doc.protocol,
        version,
        spec: doc.spec.value.clone(),
        tags: doc.tags.clone(),
        requires,
        timeout: doc.timeout.map(|t| t.0),
        actors: doc.actors.value.clone(),
        steps,
        loc: cx.loc(&doc.id),
    })
}

fn check_step(
    cx: &Ctx,
    doc: &CaseDoc,
    set: crate::spec::SpecSet,
    spanned: &Spanned<Step>,
) -> Result<(), LoadError> {
    let step = &spanned.value;
    let kw = step.keyword();
    let err = |msg: String| match nested_field_needle(&msg) {
        Some(needle) => cx.err_near(spanned, &needle, msg),
        None => cx.err(spanned, msg),
    };
    let named: Vec<(&str, &str)> = match step {
        Step::Expect(e) if !e.exactly_one_of.is_empty() => e
            .exactly_one_of
            .iter()
            .map(|a| ("exactly_one_of", a.as_str()))
            .collect(),
        _ => step.actor().map(|a| ("actor", a)).into_iter().collect(),
    };
    for (field, actor) in named {
        if !doc.actors.value.contains_key(actor) {
            let known: Vec<&str> = doc.actors.value.keys().map(String::as_str).collect();
            return Err(err(format!(
                "`{kw}`: field `{field}`: unknown actor `{actor}` (this case has: {})",
                known.join(", ")
            )));
        }
    }
    for s in step.spec() {
        if !set.contains(s) {
            return Err(err(format!(
                "`{kw}`: field `spec`: `{s}` is not a {} statement id",
                set.name()
            )));
        }
    }
    let timeout = match step {
        Step::Connect(c) => c.0.timeout,
        Step::Login(l) => l.0.timeout,
        Step::Disconnect(d) => d.0.timeout,
        Step::Expect(e) => e.timeout,
        Step::ExpectClose(c) | Step::ExpectDisconnect(c) => c.timeout,
        Step::WsHandshake(h) => h.timeout,
        Step::HttpGet(h) => h.timeout,
        Step::WsPing(p) => p.timeout,
        Step::Send(_) | Step::ExpectNone(_) | Step::Drain(_) | Step::Sleep(_) => None,
    };
    if timeout.is_some_and(|t| t.0.is_zero()) {
        return Err(err(format!(
            "`{kw}`: field `timeout`: a deadline of 0 fails every wait; give e.g. 2s"
        )));
    }
    let proto = doc.protocol;
    let only = |want: Protocol, what: &str| -> Result<(), LoadError> {
        if proto == want {
            Ok(())
        } else {
            Err(err(format!(
                "`{what}` is for {want} cases; this case is {proto}"
            )))
        }
    };
    match step {
        Step::Connect(c) => {
            only(Protocol::Mqtt, "connect")?;
            if let Some(w) = &c.0.will {
                crate::mqtt::template::validate_will(w).map_err(|m| {
                    err(format!(
                        "`connect`: {}",
                        packet_problem(w, "will", &m, crate::mqtt::template::validate_will)
                    ))
                })?;
            }
            if let Some(p) = &c.0.properties {
                crate::mqtt::template::validate_connect_properties(p).map_err(|m| {
                    err(format!(
                        "`connect`: {}",
                        packet_problem(
                            p,
                            "properties",
                            &m,
                            crate::mqtt::template::validate_connect_properties
                        )
                    ))
                })?;
            }
            if let Some(p) = &c.0.expect {
                crate::mqtt::template::validate_pattern(p)
                    .map_err(|m| err(format!("`connect`: field `expect`: {m}")))?;
            }
            let has_method =
                c.0.properties
                    .as_ref()
                    .is_some_and(|p| p.get("authentication_method").is_some());
            if !c.0.auth.is_empty() && !has_method {
                return Err(cx.err_near(
                    spanned,
                    "auth",
                    "`connect`: field `auth`: answers to AUTH challenges need an \
                     `authentication_method` in `properties` (MQTT 5.0 enhanced authentication)"
                        .to_string(),
                ));
            }
        }
        Step::Login(l) => {
            only(Protocol::Xmpp, "login")?;
            if let Some(m) = &l.0.mechanism
                && crate::xmpp::sasl::Mechanism::from_name(m).is_none()
            {
                return Err(cx.err_near(
                    spanned,
                    "mechanism",
                    format!(
                        "`login`: field `mechanism`: unknown SASL mechanism `{m}` (known: {})",
                        crate::xmpp::sasl::Mechanism::known()
                    ),
                ));
            }
        }
        Step::Send(s) => check_send(proto, s).map_err(|m| err(format!("`send`: {m}")))?,
        Step::Expect(e) => {
            match (e.actor.is_empty(), e.exactly_one_of.len()) {
                (true, 0) => {
                    return Err(err("`expect`: missing field `actor`".to_string()));
                }
                (false, n) if n > 0 => {
                    return Err(err(
                        "`expect`: give `actor` or `exactly_one_of`, not both".to_string()
                    ));
                }
                (true, 1) => {
                    return Err(err(
                        "`expect`: field `exactly_one_of` needs at least two actors (for one, use `actor`)"
                            .to_string(),
                    ));
                }
                _ => {}
            }
            if !e.exactly_one_of.is_empty() && e.skip_unless.is_some() {
                return Err(err(
                    "`expect`: `skip_unless` does not combine with `exactly_one_of`".to_string(),
                ));
            }
            if e.exactly_one_of.is_empty() && e.settle.is_some() {
                return Err(err(
                    "`expect`: field `settle` applies with `exactly_one_of` only".to_string(),
                ));
            }
            let forms = [
                e.packet.is_some(),
                e.xml.is_some(),
                !e.xml_one_of.is_empty(),
                e.bytes.is_some(),
            ];
            if forms.iter().filter(|b| **b).count() != 1 {
                return Err(err(
                    "`expect`: give exactly one of `packet`, `xml`, `xml_one_of`, `bytes`"
                        .to_string(),
                ));
            }
            for x in &e.xml_one_of {
                only(Protocol::Xmpp, "expect.xml_one_of")?;
                crate::xmpp::template::validate_pattern(x)
                    .map_err(|m| err(format!("`expect`: field `xml_one_of`: {m}")))?;
            }
            if e.xml_one_of.len() == 1 {
                return Err(err(
                    "`expect`: field `xml_one_of` needs at least two patterns (for one, use `xml`)"
                        .to_string(),
                ));
            }
            if e.absent_ok && (!e.exactly_one_of.is_empty() || e.skip_unless.is_some()) {
                return Err(err(
                    "`expect`: `absent_ok` does not combine with `exactly_one_of` or `skip_unless`"
                        .to_string(),
                ));
            }
            if let Some(p) = &e.packet {
                only(Protocol::Mqtt, "expect.packet")?;
                crate::mqtt::template::validate_pattern(p)
                    .map_err(|m| err(format!("`expect`: field `packet`: {m}")))?;
            }
            if let Some(x) = &e.xml {
                only(Protocol::Xmpp, "expect.xml")?;
                crate::xmpp::template::validate_pattern(x)
                    .map_err(|m| err(format!("`expect`: field `xml`: {m}")))?;
            }
            if e.ordered && e.xml.is_none() && e.xml_one_of.is_empty() {
                return Err(err(
                    "`expect`: field `ordered` applies to `xml` patterns only (MQTT `packet` lists always match in order)"
                        .to_string(),
                ));
            }
            if let Some(b) = &e.bytes {
                only(Protocol::Mqtt, "expect.bytes")?;
                parse_hex(b).map_err(|m| err(format!("`expect`: field `bytes`: {m}")))?;
            }
        }
        Step::ExpectClose(c) | Step::ExpectDisconnect(c) => {
            if c.code.is_some() && matches!(step, Step::ExpectDisconnect(_)) {
                return Err(err(
                    "`expect_disconnect`: field `code` belongs to `expect_close`".to_string(),
                ));
            }
        }
        Step::ExpectNone(_) | Step::Drain(_) | Step::Disconnect(_) | Step::Sleep(_) => {}
        Step::WsHandshake(h) => {
            if h.subprotocols.iter().any(|p| {
                p.is_empty()
                    || !p
                        .bytes()
                        .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
            }) {
                return Err(err(
                    "`ws_handshake`: field `subprotocols`: each is an HTTP token (RFC 6455 4.1)"
                        .to_string(),
                ));
            }
        }
        Step::HttpGet(h) => {
            if !h.path.starts_with('/') || h.path.chars().any(|c| c.is_whitespace()) {
                return Err(err(
                    "`http_get`: field `path`: an absolute path without spaces, e.g. /.well-known/host-meta"
                        .to_string(),
                ));
            }
        }
        Step::WsPing(p) => {
            if p.payload.len() > 125 {
                return Err(err(
                    "`ws_ping`: field `payload`: at most 125 bytes (RFC 6455 5.5)".to_string(),
                ));
            }
        }
    }
    Ok(())
}

fn check_send(proto: Protocol, s: &SendStep) -> Result<(), String> {
    let forms = [
        s.packet.is_some(),
        s.xml.is_some(),
        s.sasl_plain.is_some(),
        s.sasl_scram.is_some(),
        s.bytes.is_some(),
        s.text.is_some(),
        s.frame.is_some(),
    ];
    if forms.iter().filter(|b| **b).count() != 1 {
        return Err(
            "give exactly one of `packet`, `xml`, `sasl_plain`, `sasl_scram`, `bytes`, `text`, `frame`"
                .into(),
        );
    }
    if let Some(p) = &s.packet {
        if proto != Protocol::Mqtt {
            return Err("field `packet` is for mqtt cases; use `xml`".into());
        }
        crate::mqtt::template::validate_packet(p)
            .map_err(|m| packet_problem(p, "packet", &m, crate::mqtt::template::validate_packet))?;
    }
    if let Some(x) = &s.xml {
        if proto != Protocol::Xmpp {
            return Err("field `xml` is for xmpp cases; use `packet`".into());
        }
        crate::xmpp::template::validate_element(x).map_err(|m| format!("field `xml`: {m}"))?;
    }
    if s.sasl_plain.is_some() && proto != Protocol::Xmpp {
        return Err("field `sasl_plain` is for xmpp cases".into());
    }
    if let Some(sc) = &s.sasl_scram {
        if proto != Protocol::Xmpp {
            return Err("field `sasl_scram` is for xmpp cases".into());
        }
        check_scram(sc)?;
    }
    if let Some(b) = &s.bytes {
        parse_hex(b).map_err(|m| format!("field `bytes`: {m}"))?;
    }
    if let Some(f) = &s.frame {
        if f.opcode > 15 {
            return Err(format!("field `frame.opcode`: {} is not 0–15", f.opcode));
        }
        if f.rsv > 7 {
            return Err(format!("field `frame.rsv`: {} is not 0–7", f.rsv));
        }
        if f.payload.is_some() && f.payload_hex.is_some() {
            return Err("field `frame`: give `payload` or `payload_hex`, not both".into());
        }
        if let Some(h) = &f.payload_hex {
            parse_hex(h).map_err(|m| format!("field `frame.payload_hex`: {m}"))?;
        }
    }
    Ok(())
}

fn check_scram(sc: &crate::case::model::SaslScramDoc) -> Result<(), String> {
    let scram = ["SCRAM-SHA-256", "SCRAM-SHA-1"];
    match sc.message.as_str() {
        "first" => match sc.mechanism.as_deref() {
            None => Err("field `sasl_scram.mechanism`: `first` needs a mechanism".into()),
            Some(m) if !scram.contains(&m) => Err(format!(
                "field `sasl_scram.mechanism`: `{m}` is not a SCRAM mechanism (known: {})",
                scram.join(", ")
            )),
            Some(_) if sc.password.is_some() || sc.nonce.is_some() => {
                Err("field `sasl_scram`: `password` and `nonce` are for `message: final`".into())
            }
            Some(_) => Ok(()),
        },
        "final" if sc.mechanism.is_some() => {
            Err("field `sasl_scram.mechanism`: the mechanism is chosen by `message: first`".into())
        }
        "final" => Ok(()),
        other => Err(format!(
            "field `sasl_scram.message`: `{other}` is not `first` or `final`"
        )),
    }
}

/// For a message about a nested field (`` field `packet.qos` ``), the text to point at (`qos:`).
fn nested_field_needle(msg: &str) -> Option<String> {
    let start = msg.find("field `")? + "field `".len();
    let path = &msg[start..start + msg[start..].find('`')?];
    let (_, last) = path.rsplit_once('.')?;
    Some(format!("{last}:"))
}

/// Names the field of a packet map that a packet error `message` is about: the one field whose
/// removal makes `check` pass (so `qos: 999` is blamed on `packet.qos`), and says what a bad
/// integer should have been.
fn packet_problem(
    packet: &Value,
    what: &str,
    message: &str,
    check: fn(&Value) -> Result<(), String>,
) -> String {
    let message = integer_words(message);
    if let Value::Object(map) = packet {
        for key in map.keys().filter(|k| *k != "type") {
            let mut rest = map.clone();
            rest.remove(key);
            if check(&Value::Object(rest)).is_ok() {
                return format!("field `{what}.{key}`: {message}");
            }
        }
    }
    format!("field `{what}`: {message}")
}

/// serde's "invalid value: integer `999`, expected u8" in a case author's words.
fn integer_words(message: &str) -> String {
    let ranges = [
        ("u8", "an integer from 0 to 255"),
        ("u16", "an integer from 0 to 65535"),
        ("u32", "an integer from 0 to 4294967295"),
    ];
    for (ty, words) in ranges {
        if let Some(head) = message.strip_suffix(&format!("expected {ty}")) {
            let head = head.trim_end().trim_end_matches(',');
            let found = head.strip_prefix("invalid value: ").unwrap_or(head);
            let found = found.strip_prefix("invalid type: ").unwrap_or(found);
            return format!("expected {words}, found {found}");
        }
    }
    message.to_string()
}

/// Parses hex with optional spaces, newlines and `_` between bytes (`10 0c 00 04`).
pub fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let clean: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '_')
        .collect();
    hex::decode(&clean).map_err(|e| format!("`{text}` is not hex bytes ({e})"))
}

/// What variables and captures are defined at a point of a case, walking its steps in order.
struct Scope {
    protocol: Protocol,
    actors: Vec<String>,
    defined: BTreeSet<String>,
    captures: BTreeSet<String>,
    /// The keyword of the step being checked (empty: the actors).
    keyword: &'static str,
}

/// A template problem: the message and the text to point at.
type TemplateError = (String, String);

impl Scope {
    fn new(doc: &CaseDoc) -> Scope {
        let protocol = doc.protocol;
        Scope {
            protocol,
            actors: doc.actors.value.keys().cloned().collect(),
            defined: case_variables(protocol)
                .iter()
                .map(|v| v.to_string())
                .collect(),
            captures: BTreeSet::new(),
            keyword: "",
        }
    }

    /// `` `send`: field `packet.topic` `` for messages.
    fn field(&self, path: &str) -> String {
        if self.keyword.is_empty() {
            format!("field `{path}`")
        } else {
            format!("`{}`: field `{path}`", self.keyword)
        }
    }

    /// Defines the variables `actor` has from the start of the case.
    fn define_actor(&mut self, actor: &str) {
        for v in actor_variables(self.protocol) {
            if v.after.is_none() {
                self.defined.insert(format!("{actor}.{}", v.name));
            }
        }
    }

    /// Defines the variables `actor` has after a step with keyword `keyword`.
    fn define_after(&mut self, actor: &str, keyword: &str) {
        for v in actor_variables(self.protocol) {
            if v.after == Some(keyword) {
                self.defined.insert(format!("{actor}.{}", v.name));
            }
        }
    }

    fn bind(&mut self, name: &str) {
        if name != "_" {
            self.captures.insert(name.to_string());
            self.defined.insert(name.to_string());
        }
    }

    /// Checks the templates of one step, then defines what the step defines.
    fn step(&mut self, step: &Step) -> Result<(), TemplateError> {
        self.keyword = step.keyword();
        let ctx = |field: &str| field.to_string();
        match step {
            Step::Connect(c) => {
                let c = &c.0;
                for (field, v) in [
                    ("client_id", &c.client_id),
                    ("username", &c.username),
                    ("password", &c.password),
                ] {
                    if let Some(t) = v {
                        self.text(t, &ctx(field))?;
                    }
                }
                if let Some(w) = &c.will {
                    self.send_value(w, &ctx("will"))?;
                }
                if let Some(p) = &c.expect {
                    self.pattern_value(p, &ctx("expect"))?;
                }
            }
            Step::Login(l) => {
                if let Some(r) = &l.0.resource {
                    self.text(r, &ctx("resource"))?;
                }
                self.define_after(&l.0.actor, "login");
                if l.0.bind == Some(false) {
                    // Nothing is bound, so there is no full JID to refer to.
                    self.defined.remove(&format!("{}.full_jid", l.0.actor));
                }
            }
            Step::Send(s) => {
                if let Some(p) = &s.packet {
                    self.send_value(p, &ctx("packet"))?;
                }
                if let Some(x) = &s.xml {
                    self.text(x, &ctx("xml"))?;
                }
                if let Some(p) = &s.sasl_plain {
                    self.text(&p.user, &ctx("sasl_plain.user"))?;
                    if let Some(pw) = &p.password {
                        self.text(pw, &ctx("sasl_plain.password"))?;
                    }
                    if let Some(z) = &p.authzid {
                        self.text(z, &ctx("sasl_plain.authzid"))?;
                    }
                }
                if let Some(sc) = &s.sasl_scram {
                    for (v, f) in [(&sc.password, "password"), (&sc.nonce, "nonce")] {
                        if let Some(v) = v {
                            self.text(v, &ctx(&format!("sasl_scram.{f}")))?;
                        }
                    }
                }
                if let Some(t) = &s.text {
                    self.text(t, &ctx("text"))?;
                }
                if let Some(f) = &s.frame
                    && let Some(t) = &f.payload
                {
                    self.text(t, &ctx("frame.payload"))?;
                }
            }
            Step::Expect(e) => {
                if let Some(p) = &e.packet {
                    self.pattern_value(p, &ctx("packet"))?;
                }
                if let Some(x) = &e.xml {
                    self.text(x, &ctx("xml"))?;
                    for name in xml_captures(x) {
                        self.bind(&name);
                    }
                }
                for x in &e.xml_one_of {
                    self.text(x, &ctx("xml_one_of"))?;
                }
                // A capture binds only when its alternative matched: later steps cannot rely
                // on it, so only captures common to every alternative count as bound.
                if let Some((first, rest)) = e.xml_one_of.split_first() {
                    for name in xml_captures(first) {
                        if rest.iter().all(|x| xml_captures(x).contains(&name)) {
                            self.bind(&name);
                        }
                    }
                }
            }
            Step::ExpectNone(_)
            | Step::Drain(_)
            | Step::ExpectClose(_)
            | Step::ExpectDisconnect(_)
            | Step::Disconnect(_)
            | Step::Sleep(_)
            | Step::WsHandshake(_)
            | Step::HttpGet(_)
            | Step::WsPing(_) => {}
        }
        Ok(())
    }

    /// Checks `{name}` uses in a string (message only, for errors outside steps).
    fn check_text(&self, text: &str, what: &str) -> Result<(), String> {
        self.text(text, what).map_err(|(m, _)| m)
    }

    /// Checks every `{name}` in `text` is defined here.
    fn text(&self, text: &str, what: &str) -> Result<(), TemplateError> {
        let mut vars = Vars::new();
        for name in &self.defined {
            vars.set(name.as_str(), Value::Null);
        }
        match vars.interpolate(text) {
            Ok(_) => Ok(()),
            Err(VarError::Unclosed(_)) => {
                let at = unclosed_brace(text);
                let shown: String = text[at..].chars().take(20).collect();
                Err((
                    format!(
                        "{}: unclosed `{{` in `{shown}`: close it with `}}`, or write `{{{{` for a literal brace",
                        self.field(what)
                    ),
                    shown,
                ))
            }
            Err(VarError::Unknown(name, _)) => {
                Err((self.unknown(&name, what), format!("{{{name}}}")))
            }
        }
    }

    fn unknown(&self, name: &str, path: &str) -> String {
        let what = self.field(path);
        let shown = format!("{{{name}}}");
        if let Some((actor, var)) = name.split_once('.') {
            let vars = actor_variables(self.protocol);
            if !self.actors.iter().any(|a| a == actor) {
                return format!(
                    "{what}: `{shown}`: `{actor}` is not an actor of this case (actors: {})",
                    self.actors.join(", ")
                );
            }
            if let Some(v) = vars.iter().find(|v| v.name == var) {
                if let Some(after) = v.after {
                    return format!(
                        "{what}: `{shown}` is defined only after `{after}: {actor}`, and no earlier step logs {actor} in"
                    );
                }
            } else {
                let names: Vec<String> =
                    vars.iter().map(|v| format!("{actor}.{}", v.name)).collect();
                return format!(
                    "{what}: unknown variable `{shown}`; a {} actor has {}",
                    self.protocol,
                    names.join(", ")
                );
            }
        }
        let mut known: Vec<String> = case_variables(self.protocol)
            .iter()
            .map(|v| v.to_string())
            .collect();
        known.extend(self.captures.iter().cloned());
        if let Some(a) = self.actors.first() {
            for v in actor_variables(self.protocol) {
                known.push(format!("{a}.{}", v.name));
            }
        }
        format!(
            "{what}: unknown variable `{shown}` (variables: {}; captures bind in an earlier `expect` as `$name`)",
            known.join(", ")
        )
    }

    /// A value that is sent: `$name` must be bound by an earlier expect; strings are templates.
    fn send_value(&self, value: &Value, what: &str) -> Result<(), TemplateError> {
        match value {
            Value::String(s) => match capture_name(s) {
                Some(name) if !self.defined.contains(name) => Err((
                    format!(
                        "{}: capture `${name}` is used before anything binds it: an earlier `expect` must capture it (`${name}` in its pattern)",
                        self.field(what)
                    ),
                    format!("${name}"),
                )),
                Some(_) => Ok(()),
                None => self.text(s, what),
            },
            Value::Array(items) => items.iter().try_for_each(|v| self.send_value(v, what)),
            Value::Object(map) => map
                .iter()
                .try_for_each(|(k, v)| self.send_value(v, &format!("{what}.{k}"))),
            _ => Ok(()),
        }
    }

    /// An expected pattern: `$name` binds (after the check); other strings are templates.
    fn pattern_value(&mut self, value: &Value, what: &str) -> Result<(), TemplateError> {
        let mut bound = Vec::new();
        collect_pattern(self, value, what, &mut bound)?;
        for name in bound {
            self.bind(&name);
        }
        Ok(())
    }
}

fn collect_pattern(
    scope: &Scope,
    value: &Value,
    what: &str,
    bound: &mut Vec<String>,
) -> Result<(), TemplateError> {
    match value {
        Value::String(s) => match capture_name(s) {
            Some(name) => {
                bound.push(name.to_string());
                Ok(())
            }
            None => scope.text(s, what),
        },
        Value::Array(items) => items
            .iter()
            .try_for_each(|v| collect_pattern(scope, v, what, bound)),
        Value::Object(map) => map
            .iter()
            .try_for_each(|(k, v)| collect_pattern(scope, v, &format!("{what}.{k}"), bound)),
        _ => Ok(()),
    }
}

/// Byte offset of the `{` that is never closed (the interpolation rules of [`Vars`]).
fn unclosed_brace(text: &str) -> usize {
    let mut i = 0;
    while let Some(pos) = text[i..].find(['{', '}']) {
        let at = i + pos;
        let tail = &text[at..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            i = at + 2;
        } else if tail.starts_with('}') {
            i = at + 1;
        } else if let Some(end) = tail.find('}') {
            i = at + end + 1;
        } else {
            return at;
        }
    }
    0
}

/// `$name` captures in an XML pattern: attribute values or text that are exactly `$name`.
fn xml_captures(xml: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in xml.match_indices('$') {
        let before = xml[..i].chars().next_back();
        let close = match before {
            Some('\'') => '\'',
            Some('"') => '"',
            Some('>') => '<',
            _ => continue,
        };
        let rest = &xml[i..];
        let end = rest.find(close).unwrap_or(rest.len());
        if let Some(name) = capture_name(rest[..end].trim()) {
            out.push(name.to_string());
        }
    }
    out
}
