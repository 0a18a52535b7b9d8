//! The normal form of a case result: one section per actor (the actor's own stream, in order),
//! one line per transcript entry — `>>` sent, `<<` received (`<<!` flagged by the decoder), `--`
//! events — with MQTT packets as every field, XMPP as canonical XML, raw sends as hex, and every
//! volatile value redacted. No timestamps, no cross-actor order: scheduling cannot change it.

use serde_json::Value;

use super::redact::{BadRegex, RedactDoc, Redactor};
use crate::case::Protocol;
use crate::run::verdict::CaseResult;
use crate::seam::transcript::{CloseHow, ClosedBy, Direction, Entry, Event};

/// What the payload of a SASL `<challenge/>` or `<success/>` shows as in a snapshot.
const SASL_DATA: &str = "<sasl-data>";

/// The actor name of the case's cleanup connection, whose section comes last.
const CLEANUP: &str = "cleanup";

/// The normalised, redacted transcript of `result` (a case of `protocol`), with `extra`
/// redactions (the profile's, then the case's) after the defaults.
pub fn normalize(
    result: &CaseResult,
    protocol: Protocol,
    extra: &[RedactDoc],
) -> Result<String, BadRegex> {
    let mut redactor = Redactor::new(&result.generated, extra)?;
    let sections = by_actor(&result.transcript);
    let sent_ids = sent_ids(&result.transcript);
    for (_, entries) in &sections {
        for e in entries {
            collect_volatile(e, protocol, &sent_ids, &mut redactor);
        }
    }
    let mut out = String::new();
    for (i, (actor, entries)) in sections.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!("[{actor}]\n"));
        let mut goodbye = false;
        for e in entries {
            if e.direction == Direction::Sent {
                goodbye = e
                    .message
                    .as_ref()
                    .is_some_and(|m| is_goodbye(&m.data, protocol));
            }
            if goodbye
                && let Some(Event::Closed {
                    by: ClosedBy::Peer, ..
                }) = &e.event
            {
                // After an MQTT DISCONNECT the server closes, but whether an EOF or a WebSocket
                // close frame wins the race with wirecheck's own close is scheduling.
                out.push_str("-- closed by=server after-disconnect\n");
                continue;
            }
            for line in render(e, protocol, &redactor) {
                out.push_str(&redactor.apply(&line));
                out.push('\n');
            }
        }
    }
    if result.transcript_dropped > 0 {
        out.push_str(&format!(
            "\n... {} more entries dropped\n",
            result.transcript_dropped
        ));
    }
    Ok(out)
}

/// Whether a sent message is MQTT's DISCONNECT, after which how the server closes is a race.
fn is_goodbye(data: &Value, protocol: Protocol) -> bool {
    protocol == Protocol::Mqtt && data.get("type").and_then(Value::as_str) == Some("disconnect")
}

/// Entries grouped by actor, in each actor's own order; actors by name, cleanup last.
fn by_actor(entries: &[Entry]) -> Vec<(String, Vec<&Entry>)> {
    let mut names: Vec<&str> = Vec::new();
    for e in entries {
        if !names.contains(&e.actor.as_str()) {
            names.push(&e.actor);
        }
    }
    names.sort_by_key(|n| (*n == CLEANUP, *n));
    names
        .into_iter()
        .map(|n| {
            (
                n.to_string(),
                entries.iter().filter(|e| e.actor == n).collect(),
            )
        })
        .collect()
}

/// The `id` attributes of every XML element wirecheck sent: ids the server did not make up.
fn sent_ids(entries: &[Entry]) -> Vec<String> {
    entries
        .iter()
        .filter(|e| e.direction == Direction::Sent)
        .filter_map(|e| e.message.as_ref())
        .filter_map(|m| attr(&m.data, "id"))
        .map(str::to_string)
        .collect()
}

fn attr<'a>(data: &'a Value, name: &str) -> Option<&'a str> {
    data.get("attrs")?.get(name)?.as_str()
}

fn local_name(data: &Value) -> &str {
    let q = data.get("name").and_then(Value::as_str).unwrap_or("");
    q.rsplit(':').next().unwrap_or(q)
}

/// Registers the values the server made up in a received message (default redactions).
fn collect_volatile(e: &Entry, protocol: Protocol, sent_ids: &[String], r: &mut Redactor) {
    if e.direction != Direction::Received {
        return;
    }
    let Some(m) = &e.message else { return };
    match protocol {
        Protocol::Xmpp => {
            let data = &m.data;
            let name = local_name(data);
            if let Some(id) = attr(data, "id") {
                if name == "open" || name == "stream" {
                    r.volatile("stream-id", id);
                } else if !sent_ids.iter().any(|s| s == id) && !r.knows(id) {
                    r.volatile("server-id", id);
                }
            }
            collect_resources(data, r);
        }
        Protocol::Mqtt => collect_assigned(&m.data, r),
    }
}

/// Server-generated resources of full JIDs in `from`/`to` attributes and `<jid/>` text.
fn collect_resources(data: &Value, r: &mut Redactor) {
    for key in ["from", "to"] {
        if let Some(j) = attr(data, key) {
            resource(j, r);
        }
    }
    let Some(children) = data.get("children").and_then(Value::as_array) else {
        return;
    };
    for c in children {
        match c {
            Value::String(t) if local_name(data) == "jid" => resource(t.trim(), r),
            Value::Object(_) => collect_resources(c, r),
            _ => {}
        }
    }
}

fn resource(jid: &str, r: &mut Redactor) {
    if r.knows(jid) {
        return;
    }
    if let Some((_, res)) = jid.split_once('/')
        && !res.is_empty()
        && !r.knows(res)
        && !r.apply(res).contains('{')
    {
        r.volatile("resource", res);
    }
}

/// MQTT 5 assigned client identifiers, wherever they appear in a packet.
fn collect_assigned(v: &Value, r: &mut Redactor) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("assigned_client_identifier", Value::String(s)) => {
                        r.volatile("client-id", s);
                    }
                    _ => collect_assigned(v, r),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| collect_assigned(v, r)),
        _ => {}
    }
}

/// The lines of one entry, before redaction (the hex of raw bytes is redacted here).
fn render(e: &Entry, protocol: Protocol, r: &Redactor) -> Vec<String> {
    let arrow = match (e.direction, e.flagged) {
        (Direction::Sent, _) => ">>",
        (Direction::Received, false) => "<<",
        (Direction::Received, true) => "<<!",
        (Direction::Event, _) => "--",
    };
    let mut lines = Vec::new();
    match (&e.event, &e.message) {
        (Some(ev), _) => lines.push(format!("{arrow} {}", event(ev))),
        (None, Some(m)) if m.data.get("raw").is_some() && e.direction == Direction::Sent => {
            lines.push(format!("{arrow} {}", raw_send(&m.data, e, r)));
        }
        (None, Some(m)) => {
            let shown = match (protocol, e.direction) {
                (Protocol::Mqtt, Direction::Received) => without_remaining_time(&m.data),
                _ => m.data.clone(),
            };
            lines.push(format!("{arrow} {}", message(&shown, protocol)));
            // MQTT: the bytes the decoder flagged, as hex. XMPP frames are text, and the
            // canonical XML (or the unparsed text) already shows them; their raw attribute
            // order varies between server processes.
            if e.flagged
                && protocol == Protocol::Mqtt
                && let Some(raw) = &e.raw
            {
                lines.push(format!(
                    "   raw {}{}",
                    r.hex(&raw.bytes),
                    cut(raw.truncated)
                ));
            }
        }
        (None, None) => match &e.raw {
            Some(raw) => lines.push(format!(
                "{arrow} bytes {}{}",
                r.hex(&raw.bytes),
                cut(raw.truncated)
            )),
            None => lines.push(arrow.to_string()),
        },
    }
    lines
}

/// A received MQTT packet with the time-dependent values of its properties replaced by a
/// placeholder: a forwarded Message Expiry Interval is the time that remains, which depends on
/// how long the server held the message (the cases check its bounds).
fn without_remaining_time(data: &Value) -> Value {
    let mut data = data.clone();
    if let Some(v) = data
        .get_mut("properties")
        .and_then(|p| p.get_mut("message_expiry_interval"))
    {
        *v = Value::String("<remaining>".into());
    }
    data
}

fn cut(truncated: usize) -> String {
    if truncated == 0 {
        String::new()
    } else {
        format!(" (+{truncated} bytes not kept)")
    }
}

fn raw_send(data: &Value, e: &Entry, r: &Redactor) -> String {
    let hex = || match &e.raw {
        Some(raw) => format!("{}{}", r.hex(&raw.bytes), cut(raw.truncated)),
        None => "(withheld)".to_string(),
    };
    match data.get("raw").and_then(Value::as_str) {
        Some("text") => format!("text {}", data.get("text").cloned().unwrap_or(Value::Null)),
        Some("frame") => format!(
            "frame opcode={} fin={} rsv={} payload={}",
            data.get("opcode").cloned().unwrap_or(Value::Null),
            data.get("fin").cloned().unwrap_or(Value::Null),
            data.get("rsv").cloned().unwrap_or(Value::Null),
            hex()
        ),
        _ => format!("bytes {}", hex()),
    }
}

fn event(ev: &Event) -> String {
    match ev {
        Event::Connected {
            transport,
            subprotocol,
        } => match subprotocol {
            Some(p) => format!("connected {transport} subprotocol={p}"),
            None => format!("connected {transport}"),
        },
        Event::ConnectFailed { reason } => format!("connect failed: {reason}"),
        Event::Closed { by, how } => {
            let by = match by {
                ClosedBy::Peer => "server",
                ClosedBy::Wirecheck => "wirecheck",
            };
            let how = match how {
                CloseHow::Eof => "eof".to_string(),
                CloseHow::Reset { reason } => format!("reset ({reason})"),
                CloseHow::WsClose {
                    code: Some(c),
                    reason,
                } if reason.is_empty() => {
                    format!("ws-close code={c}")
                }
                CloseHow::WsClose {
                    code: Some(c),
                    reason,
                } => {
                    format!("ws-close code={c} reason={reason:?}")
                }
                CloseHow::WsClose { code: None, .. } => "ws-close no-status".to_string(),
                CloseHow::WsProtocol { reason } => format!("ws-protocol ({reason})"),
                CloseHow::Unusable { reason } => format!("unusable ({reason})"),
                CloseHow::Local => "local".to_string(),
            };
            format!("closed by={by} {how}")
        }
        Event::Violation { spec, detail } => format!("violation [{spec}] {detail}"),
        Event::Note { text } => format!("note {text}"),
    }
}

/// One message in normal form.
fn message(data: &Value, protocol: Protocol) -> String {
    if let Some(t) = data.get("truncated") {
        return format!("truncated {t}");
    }
    match protocol {
        Protocol::Mqtt => mqtt(data),
        Protocol::Xmpp => {
            if data.get("name").is_some() {
                let mut out = String::new();
                xml(data, None, &mut out);
                out
            } else if let Some(t) = data.get("unparsed").or_else(|| data.get("xml")) {
                format!("unparsed {t}")
            } else {
                data.to_string()
            }
        }
    }
}

/// `PUBLISH dup=false qos=1 ...`: the type, then every field in the packet's own order.
fn mqtt(data: &Value) -> String {
    let Value::Object(m) = data else {
        return data.to_string();
    };
    if let Some(why) = m.get("malformed") {
        let spec = m.get("spec").and_then(Value::as_str).unwrap_or("");
        return format!("malformed [{spec}] {}", why.as_str().unwrap_or(""));
    }
    let ty = m
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_uppercase();
    let mut out = ty;
    for (k, v) in m {
        if k != "type" {
            out.push_str(&format!(" {k}={v}"));
        }
    }
    out
}

/// Canonical XML: prefixes dropped for `xmlns` declared where the namespace changes,
/// attributes sorted, whitespace-only text dropped.
fn xml(data: &Value, parent_ns: Option<&str>, out: &mut String) {
    let name = local_name(data);
    let ns = data.get("ns").and_then(Value::as_str);
    out.push('<');
    out.push_str(name);
    if ns.is_some() && ns != parent_ns {
        out.push_str(&format!(" xmlns='{}'", escape(ns.unwrap_or(""), true)));
    }
    if let Some(Value::Object(attrs)) = data.get("attrs") {
        let mut attrs: Vec<(&String, &Value)> = attrs.iter().collect();
        attrs.sort_by(|a, b| a.0.cmp(b.0));
        for (k, v) in attrs {
            out.push_str(&format!(
                " {k}='{}'",
                escape(v.as_str().unwrap_or(""), true)
            ));
        }
    }
    let children: Vec<&Value> = data
        .get("children")
        .and_then(Value::as_array)
        .map(|c| {
            c.iter()
                .filter(|c| !matches!(c, Value::String(t) if t.trim().is_empty()))
                .collect()
        })
        .unwrap_or_default();
    if children.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    let mut parts: Vec<String> = children
        .into_iter()
        .map(|c| match c {
            Value::String(t) => escape(t, false),
            other => {
                let mut s = String::new();
                xml(other, ns, &mut s);
                s
            }
        })
        .collect();
    // SASL challenge and success data (SCRAM: nonces, salt, server signature) differ on every
    // run: only whether there was any is kept.
    if matches!(name, "challenge" | "success")
        && ns == Some(crate::xmpp::ns::SASL)
        && parts.iter().all(|p| !p.starts_with('<'))
    {
        parts = vec![SASL_DATA.to_string()];
    }
    // The order of stream features and of SASL mechanisms is not something a case can rely
    // on, and servers vary it between processes (prosody): sorted.
    if (name == "features" && ns == Some(crate::xmpp::ns::STREAMS))
        || (name == "mechanisms" && ns == Some(crate::xmpp::ns::SASL))
    {
        parts.sort();
    }
    out.push_str(&parts.concat());
    out.push_str(&format!("</{name}>"));
}

fn escape(s: &str, attr: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' if attr => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' if attr => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::run::verdict::Verdict;
    use crate::seam::transcript::{MessageData, Raw};

    fn entry(actor: &str, direction: Direction, data: Option<Value>) -> Entry {
        Entry {
            at: Duration::from_millis(7),
            step: Some(0),
            actor: actor.into(),
            direction,
            index: None,
            message: data.map(|data| MessageData {
                data,
                summary: String::new(),
            }),
            event: None,
            raw: None,
            flagged: false,
        }
    }

    fn result(transcript: Vec<Entry>, generated: &[(&str, &str)]) -> CaseResult {
        CaseResult {
            id: "x".into(),
            title: "t".into(),
            group: "xmpp".into(),
            path: "cases/x.yaml".into(),
            spec: vec![],
            verdict: Verdict::Pass,
            reason: None,
            failures: vec![],
            checks_passed: 0,
            duration: Duration::ZERO,
            transcript,
            transcript_dropped: 0,
            generated: generated
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn xmpp_is_canonical_xml_grouped_by_actor_with_placeholders() {
        let open = json!({"name": "open", "ns": "urn:ietf:params:xml:ns:xmpp-framing",
            "attrs": {"version": "1.0", "id": "5f3a9c", "from": "localhost"}});
        let features = json!({"name": "stream:features", "ns": "http://etherx.jabber.org/streams",
            "children": ["\n  ", {"name": "bind", "ns": "urn:ietf:params:xml:ns:xmpp-bind"}]});
        let presence = json!({"name": "presence", "ns": "jabber:client",
            "attrs": {"from": "wc2@localhost/r-ab12cd", "to": "wc1@localhost/srvres9"},
            "children": [{"name": "status", "ns": "jabber:client", "children": ["a & b"]}]});
        let mut closed = entry("bob", Direction::Event, None);
        closed.event = Some(Event::Closed {
            by: ClosedBy::Peer,
            how: CloseHow::WsClose {
                code: Some(1000),
                reason: String::new(),
            },
        });
        let t = vec![
            entry("bob", Direction::Received, Some(open)),
            entry("alice", Direction::Received, Some(presence)),
            entry("bob", Direction::Received, Some(features)),
            closed,
        ];
        let r = result(
            t,
            &[
                ("run", "ab12cd"),
                ("bob.full_jid", "wc2@localhost/r-ab12cd"),
                ("alice.jid", "wc1@localhost"),
            ],
        );
        let text = normalize(&r, Protocol::Xmpp, &[]).unwrap();
        assert_eq!(
            text,
            "[alice]\n\
             << <presence xmlns='jabber:client' from='{bob.full_jid}' to='{alice.jid}/<resource-1>'><status>a &amp; b</status></presence>\n\
             \n\
             [bob]\n\
             << <open xmlns='urn:ietf:params:xml:ns:xmpp-framing' from='localhost' id='<stream-id-1>' version='1.0'/>\n\
             << <features xmlns='http://etherx.jabber.org/streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></features>\n\
             -- closed by=server ws-close code=1000\n"
        );
    }

    #[test]
    fn sasl_challenge_and_success_data_is_hidden() {
        let sasl = crate::xmpp::ns::SASL;
        let challenge = json!({"name": "challenge", "ns": sasl, "children": ["cj1meWtvK2QybGJi"]});
        let success = json!({"name": "success", "ns": sasl, "children": ["dj1ybUY5cHFWOFM3"]});
        let empty = json!({"name": "success", "ns": sasl});
        let t = vec![
            entry("a", Direction::Received, Some(challenge)),
            entry("a", Direction::Received, Some(success)),
            entry("a", Direction::Received, Some(empty)),
        ];
        let text = normalize(&result(t, &[]), Protocol::Xmpp, &[]).unwrap();
        assert_eq!(
            text,
            "[a]\n\
             << <challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><sasl-data></challenge>\n\
             << <success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><sasl-data></success>\n\
             << <success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>\n"
        );
    }

    #[test]
    fn mqtt_has_every_field_and_raw_sends_as_hex() {
        let mut raw = entry(
            "c",
            Direction::Sent,
            Some(json!({"raw": "bytes", "len": 2})),
        );
        raw.raw = Some(Raw::bounded(&[0xc0, 0x00]));
        let mut bad = entry(
            "c",
            Direction::Received,
            Some(json!({"malformed": "reserved bits", "spec": "MQTT-2.2.2-2"})),
        );
        bad.flagged = true;
        bad.raw = Some(Raw::bounded(&[0xd1, 0x00]));
        let t = vec![
            entry(
                "c",
                Direction::Sent,
                Some(
                    json!({"type": "publish", "dup": false, "qos": 1, "topic": "wirecheck/ab12cd/x/t", "id": 3, "payload": "hi"}),
                ),
            ),
            raw,
            bad,
        ];
        let r = result(t, &[("run", "ab12cd"), ("ns", "wirecheck/ab12cd/x")]);
        let text = normalize(&r, Protocol::Mqtt, &[]).unwrap();
        assert_eq!(
            text,
            "[c]\n\
             >> PUBLISH dup=false qos=1 topic=\"{ns}/t\" id=3 payload=\"hi\"\n\
             >> bytes c0 00\n\
             <<! malformed [MQTT-2.2.2-2] reserved bits\n\
             \x20\x20\x20raw d1 00\n"
        );
    }

    #[test]
    fn server_made_ids_are_redacted_but_the_clients_own_are_kept() {
        let sent =
            json!({"name": "iq", "ns": "jabber:client", "attrs": {"id": "bind1", "type": "set"}});
        let answer = json!({"name": "iq", "ns": "jabber:client", "attrs": {"id": "bind1", "type": "result"}});
        let push =
            json!({"name": "iq", "ns": "jabber:client", "attrs": {"id": "lx83jd", "type": "get"}});
        let t = vec![
            entry("a", Direction::Sent, Some(sent)),
            entry("a", Direction::Received, Some(answer)),
            entry("a", Direction::Received, Some(push)),
        ];
        let text = normalize(&result(t, &[]), Protocol::Xmpp, &[]).unwrap();
        assert!(text.contains("id='bind1' type='result'"), "{text}");
        assert!(text.contains("id='<server-id-1>' type='get'"), "{text}");
    }
}
