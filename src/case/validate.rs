//! Semantic checks of a parsed case: actors exist, step forms fit the protocol, spec ids are known,
//! packets and XML patterns are well-formed. Errors point at the step.

use std::path::Path;

use serde_saphyr::Spanned;

use super::error::{LoadError, SourceLoc};
use super::loader::{Case, CaseStep, spec_set};
use super::model::{CaseDoc, Protocol, SendStep, Step};

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
    let version = match (doc.protocol, &doc.version) {
        (Protocol::Mqtt, None) => {
            return Err(cx.err(
                &doc.id,
                "field `version` is required for MQTT cases (\"3.1.1\")",
            ));
        }
        (Protocol::Mqtt, Some(v)) if v.value == "3.1.1" => Some(v.value.clone()),
        (Protocol::Mqtt, Some(v)) => {
            return Err(cx.err(
                v,
                format!(
                    "field `version`: `{}` is not supported; expected \"3.1.1\"",
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
    if doc.actors.value.is_empty() {
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
    }
    if doc.steps.is_empty() {
        return Err(cx.err(&doc.id, "field `steps`: a case needs at least one step"));
    }
    let mut steps = Vec::with_capacity(doc.steps.len());
    for spanned in &doc.steps {
        check_step(&cx, &doc, set, spanned)?;
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
        path: path.to_path_buf(),
        id: id.clone(),
        title: doc.title.clone(),
        protocol: doc.protocol,
        version,
        spec: doc.spec.value.clone(),
        tags: doc.tags.clone(),
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
    let err = |msg: String| cx.err(spanned, msg);
    if let Some(actor) = step.actor()
        && !doc.actors.value.contains_key(actor)
    {
        let known: Vec<&str> = doc.actors.value.keys().map(String::as_str).collect();
        return Err(err(format!(
            "`{kw}`: field `actor`: unknown actor `{actor}` (this case has: {})",
            known.join(", ")
        )));
    }
    for s in step.spec() {
        if !set.contains(s) {
            return Err(err(format!(
                "`{kw}`: field `spec`: `{s}` is not a {} statement id",
                set.name()
            )));
        }
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
                crate::mqtt::template::validate_will(w)
                    .map_err(|m| err(format!("`connect`: field `will`: {m}")))?;
            }
            if let Some(p) = &c.0.expect {
                crate::mqtt::template::validate_pattern(p)
                    .map_err(|m| err(format!("`connect`: field `expect`: {m}")))?;
            }
        }
        Step::Login(_) => only(Protocol::Xmpp, "login")?,
        Step::Send(s) => check_send(proto, s).map_err(|m| err(format!("`send`: {m}")))?,
        Step::Expect(e) => {
            let forms = [e.packet.is_some(), e.xml.is_some(), e.bytes.is_some()];
            if forms.iter().filter(|b| **b).count() != 1 {
                return Err(err(
                    "`expect`: give exactly one of `packet`, `xml`, `bytes`".to_string(),
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
        Step::ExpectNone(_) | Step::Disconnect(_) | Step::Sleep(_) => {}
    }
    Ok(())
}

fn check_send(proto: Protocol, s: &SendStep) -> Result<(), String> {
    let forms = [
        s.packet.is_some(),
        s.xml.is_some(),
        s.sasl_plain.is_some(),
        s.bytes.is_some(),
        s.text.is_some(),
        s.frame.is_some(),
    ];
    if forms.iter().filter(|b| **b).count() != 1 {
        return Err(
            "give exactly one of `packet`, `xml`, `sasl_plain`, `bytes`, `text`, `frame`".into(),
        );
    }
    if let Some(p) = &s.packet {
        if proto != Protocol::Mqtt {
            return Err("field `packet` is for mqtt cases; use `xml`".into());
        }
        crate::mqtt::template::validate_packet(p).map_err(|m| format!("field `packet`: {m}"))?;
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

/// Parses hex with optional spaces, newlines and `_` between bytes (`10 0c 00 04`).
pub fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let clean: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '_')
        .collect();
    hex::decode(&clean).map_err(|e| format!("`{text}` is not hex bytes ({e})"))
}
