//! Stanza helpers: kinds, stanza errors (RFC 6120 Section 8.3) and their checks.

use super::element::{Element, Node};
use super::ns;
use crate::violation::Violation;

/// The three stanza kinds of RFC 6120 Section 8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StanzaKind {
    /// `<message/>`.
    Message,
    /// `<presence/>`.
    Presence,
    /// `<iq/>`.
    Iq,
}

/// The error types of RFC 6120 Section 8.3.2.
pub const ERROR_TYPES: &[&str] = &["auth", "cancel", "continue", "modify", "wait"];

/// The stanza error conditions of RFC 6120 Section 8.3.3.
pub const STANZA_CONDITIONS: &[&str] = &[
    "bad-request",
    "conflict",
    "feature-not-implemented",
    "forbidden",
    "gone",
    "internal-server-error",
    "item-not-found",
    "jid-malformed",
    "not-acceptable",
    "not-allowed",
    "not-authorized",
    "policy-violation",
    "recipient-unavailable",
    "redirect",
    "registration-required",
    "remote-server-not-found",
    "remote-server-timeout",
    "resource-constraint",
    "service-unavailable",
    "subscription-required",
    "undefined-condition",
    "unexpected-request",
];

/// A stanza error as read from an `<error/>` child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StanzaError {
    /// The `type` attribute of `<error/>` (`cancel`), empty if missing.
    pub error_type: String,
    /// The condition's local name (`service-unavailable`), empty if missing.
    pub condition: String,
    /// The `<text/>`, if any.
    pub text: Option<String>,
}

/// The stanza kind of `el`, if it is a message, presence or iq in `jabber:client` or no namespace.
pub fn kind(el: &Element) -> Option<StanzaKind> {
    if !matches!(el.ns.as_deref(), None | Some(ns::CLIENT)) {
        return None;
    }
    match el.name.as_str() {
        "message" => Some(StanzaKind::Message),
        "presence" => Some(StanzaKind::Presence),
        "iq" => Some(StanzaKind::Iq),
        _ => None,
    }
}

/// The stanza error carried by `el` (a stanza of type `error`), if any.
pub fn error_of(el: &Element) -> Option<StanzaError> {
    let err = el.elements().find(|c| c.name == "error")?;
    Some(StanzaError {
        error_type: err.attr("type").unwrap_or_default().to_string(),
        condition: err
            .elements()
            .find(|c| c.ns.as_deref() == Some(ns::STANZAS) && c.name != "text")
            .map(|c| c.name.clone())
            .unwrap_or_default(),
        text: err.child("text", ns::STANZAS).map(Element::text),
    })
}

/// Builds the error reply to `request`: same kind and id, `from` = its `to`, `to` = `sender` (omitted if empty).
pub fn error_reply(request: &Element, error_type: &str, condition: &str, sender: &str) -> Element {
    let mut reply = Element::with_ns(request.name.clone(), ns::CLIENT);
    if let Some(id) = request.attr("id") {
        reply.set_attr("id", id);
    }
    reply.set_attr("type", "error");
    if let Some(to) = request.attr("to") {
        reply.set_attr("from", to);
    }
    if !sender.is_empty() {
        reply.set_attr("to", sender);
    }
    let mut error = Element::with_ns("error", ns::CLIENT).attr_with("type", error_type);
    error.push_child(Element::with_ns(condition, ns::STANZAS));
    reply.children.push(Node::Element(error));
    reply
}

/// Checks an error stanza's syntax: an `<error/>` child, a valid type and a defined condition (RFC 6120 Sections 8.3.1-8.3.3).
pub fn check_error_stanza(el: &Element) -> Vec<Violation> {
    let mut out = Vec::new();
    let Some(err) = el.elements().find(|c| c.name == "error") else {
        out.push(Violation::new(
            "RFC6120-8.3.1-6",
            format!("<{} type='error'> has no <error/> child", el.name),
        ));
        return out;
    };
    match err.attr("type") {
        Some(t) if ERROR_TYPES.contains(&t) => {}
        other => out.push(Violation::new(
            "RFC6120-8.3.2-4",
            format!("<error/> has type {other:?}, not one of auth, cancel, continue, modify, wait"),
        )),
    }
    let known = err.elements().any(|c| {
        c.ns.as_deref() == Some(ns::STANZAS) && STANZA_CONDITIONS.contains(&c.name.as_str())
    });
    if !known {
        out.push(Violation::new(
            "RFC6120-8.3.1-6",
            "<error/> has no defined condition qualified by urn:ietf:params:xml:ns:xmpp-stanzas",
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmpp::framing::parse_message;

    #[test]
    fn error_reply_round_trip() {
        let req = parse_message(
            "<iq xmlns='jabber:client' type='get' id='q1' to='localhost'><x xmlns='urn:x'/></iq>",
        )
        .unwrap()
        .element;
        assert_eq!(kind(&req), Some(StanzaKind::Iq));
        let reply = error_reply(&req, "cancel", "service-unavailable", "a@localhost/r");
        assert_eq!(reply.attr("id"), Some("q1"));
        assert_eq!(reply.attr("from"), Some("localhost"));
        let parsed = parse_message(&reply.to_xml()).unwrap().element;
        assert!(check_error_stanza(&parsed).is_empty());
        let e = error_of(&parsed).unwrap();
        assert_eq!(
            (e.error_type.as_str(), e.condition.as_str()),
            ("cancel", "service-unavailable")
        );
    }

    #[test]
    fn flags_bad_errors() {
        let no = parse_message("<iq type='error' id='1'/>").unwrap().element;
        assert_eq!(check_error_stanza(&no)[0].spec, "RFC6120-8.3.1-6");
        let bad = parse_message("<iq type='error' id='1'><error type='oops'><x/></error></iq>")
            .unwrap()
            .element;
        let ids: Vec<_> = check_error_stanza(&bad)
            .into_iter()
            .map(|v| v.spec)
            .collect();
        assert_eq!(ids, ["RFC6120-8.3.2-4", "RFC6120-8.3.1-6"]);
        assert_eq!(
            kind(
                &parse_message("<iq xmlns='jabber:server'/>")
                    .unwrap()
                    .element
            ),
            None
        );
    }
}
