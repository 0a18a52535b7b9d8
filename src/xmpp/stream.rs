//! Stream-level elements of RFC 7395 (`<open/>`, `<close/>`, stream errors) and checks on the server's.

use super::element::{Element, escape};
use super::ns;
use crate::violation::Violation;

/// The framed stream namespace (RFC 7395 Section 3.3.2).
pub const FRAMING_NS: &str = ns::FRAMING;

/// The client's `<open/>` for domain `to` (RFC 7395 Section 3.4).
pub fn open_xml(to: &str) -> String {
    format!(
        "<open xmlns='{}' to='{}' version='1.0'/>",
        ns::FRAMING,
        escape(to)
    )
}

/// A `<close/>` in the framing namespace (RFC 7395 Section 3.6).
pub fn close_xml() -> String {
    format!("<close xmlns='{}'/>", ns::FRAMING)
}

/// A stream error with `condition` (and optional human text), in the prefixed form prosody sends.
pub fn stream_error_xml(condition: &str, text: Option<&str>) -> String {
    let mut s = format!(
        "<stream:error xmlns:stream='{}'><{} xmlns='{}'/>",
        ns::STREAMS,
        condition,
        ns::STREAM_ERRORS
    );
    if let Some(t) = text {
        s.push_str(&format!(
            "<text xmlns='{}'>{}</text>",
            ns::STREAM_ERRORS,
            escape(t)
        ));
    }
    s.push_str("</stream:error>");
    s
}

/// True for `<open/>` qualified by the framing namespace.
pub fn is_open(el: &Element) -> bool {
    el.is("open", ns::FRAMING)
}

/// True for `<close/>` qualified by the framing namespace.
pub fn is_close(el: &Element) -> bool {
    el.is("close", ns::FRAMING)
}

/// True for a stream error (`<error/>` in the stream namespace, prefixed or not).
pub fn is_stream_error(el: &Element) -> bool {
    el.is("error", ns::STREAMS)
}

/// The defined condition of a stream error (`host-unknown`), if `el` is one and has one.
pub fn stream_error_condition(el: &Element) -> Option<String> {
    if !is_stream_error(el) {
        return None;
    }
    el.elements()
        .find(|c| c.ns.as_deref() == Some(ns::STREAM_ERRORS) && c.name != "text")
        .map(|c| c.name.clone())
}

/// The human-readable `<text/>` of a stream error, if present.
pub fn stream_error_text(el: &Element) -> Option<String> {
    el.child("text", ns::STREAM_ERRORS).map(Element::text)
}

/// Checks the server's response `<open/>` (RFC 7395 Sections 3.3.2 and 3.4, RFC 6120 Section 4.7).
pub fn check_server_open(el: &Element, expected_domain: &str) -> Vec<Violation> {
    let mut out = Vec::new();
    if el.name != "open" {
        out.push(Violation::new(
            "RFC7395-3.4-2",
            format!(
                "the server answered the client's <open/> with <{}>, not <open/>",
                el.qname()
            ),
        ));
    }
    if el.ns.as_deref() != Some(ns::FRAMING) {
        out.push(Violation::new(
            "RFC7395-3.3.2-1",
            format!(
                "the stream header <{}> is in namespace {}, not {}",
                el.qname(),
                show_ns(el),
                ns::FRAMING
            ),
        ));
    }
    match el.attr("version") {
        Some("1.0") => {}
        Some(v) => out.push(Violation::new(
            "RFC6120-4.7.5-5",
            format!("the client offered version '1.0', the server answered version='{v}'"),
        )),
        None => out.push(Violation::new(
            "RFC6120-4.7.5-5",
            "the response stream header has no 'version' attribute (client offered '1.0')",
        )),
    }
    match el.attr("id") {
        Some(id) if !id.is_empty() => {}
        Some(_) => out.push(Violation::new(
            "RFC6120-4.7.3-4",
            "the response stream header has an empty 'id'",
        )),
        None => out.push(Violation::new(
            "RFC6120-4.7.3-4",
            "the response stream header has no 'id' attribute",
        )),
    }
    match el.attr("from") {
        Some(from) if from == expected_domain => {}
        Some(from) => out.push(Violation::new(
            "RFC6120-4.7.1-3",
            format!("the response stream header has from='{from}', expected the service domain '{expected_domain}'"),
        )),
        None => out.push(Violation::new("RFC6120-4.7.1-3", "the response stream header has no 'from' attribute")),
    }
    if el.attr("xml:lang").is_none() {
        out.push(Violation::new(
            "RFC6120-4.7.4-3",
            "the response stream header has no 'xml:lang' attribute",
        ));
    }
    out
}

/// Checks the response header's `to` against the `from` the client put on its own header (RFC 6120 Section 4.7.2).
pub fn check_server_open_to(el: &Element, client_from: Option<&str>) -> Vec<Violation> {
    match (client_from, el.attr("to")) {
        (None, Some(to)) => vec![Violation::new(
            "RFC6120-4.7.2-3",
            format!("the client's header had no 'from' but the response header has to='{to}'"),
        )],
        (Some(from), to) => {
            let bare = from.split('/').next().unwrap_or(from);
            if to == Some(bare) {
                Vec::new()
            } else {
                vec![Violation::new(
                    "RFC6120-4.7.2-2",
                    format!(
                        "the client's header had from='{from}', the response header has to={to:?}, expected '{bare}'"
                    ),
                )]
            }
        }
        (None, None) => Vec::new(),
    }
}

/// Checks the `see-other-uri` of a server `<close/>` (RFC 7395 Section 3.6.1): when present, it
/// names a connection endpoint, so it is an absolute ws, wss, http or https URI with a host.
pub fn check_see_other_uri(el: &Element) -> Option<Violation> {
    let uri = el.attr("see-other-uri")?;
    let ok = uri.split_once("://").is_some_and(|(scheme, rest)| {
        matches!(
            scheme.to_ascii_lowercase().as_str(),
            "ws" | "wss" | "http" | "https"
        ) && rest
            .split(['/', '?', '#'])
            .next()
            .is_some_and(|host| !host.is_empty() && !host.contains(char::is_whitespace))
    });
    (!ok).then(|| {
        Violation::new(
            "RFC7395-3.6.1-1",
            format!(
                "the <close/> has see-other-uri='{}', not the URI of a WebSocket or BOSH endpoint",
                super::framing::truncate(uri, 200)
            ),
        )
    })
}

/// Most stream ids one connection remembers for the repeated-id check.
const MAX_IDS: usize = 16;

/// What one connection's server stream has shown so far, for the rules that span several
/// elements: a new stream id on every restart (RFC 6120 4.3.3), features once per stream header
/// and never again after negotiation (RFC 6120 4.3.4, 4.3.5), and which features may come when
/// (RFC 6120 6.4.1, 7.4; RFC 7395 3.9).
#[derive(Debug, Clone, Default)]
pub struct StreamWatch {
    ids: Vec<String>,
    authenticated: bool,
    features_due: bool,
}

impl StreamWatch {
    /// Records a login done outside the watch (the `login` macro): the stream is authenticated
    /// and negotiated, so no features are due.
    pub fn logged_in(&mut self) {
        self.authenticated = true;
        self.features_due = false;
    }

    /// Judges one element from the server in the light of the earlier ones.
    pub fn observe(&mut self, el: &Element) -> Vec<Violation> {
        let mut out = Vec::new();
        // a legacy <stream:stream> header is judged elsewhere (RFC7395-3.4-2); it starts a stream too
        if is_open(el) || el.name == "stream" {
            if let Some(id) = el.attr("id") {
                if self.ids.iter().any(|old| old == id) {
                    out.push(Violation::new(
                        "RFC6120-4.3.3-3",
                        format!("the response header reuses stream id '{id}' of an earlier stream on this connection"),
                    ));
                } else if self.ids.len() < MAX_IDS {
                    self.ids.push(id.to_string());
                }
            }
            self.features_due = true;
        } else if super::features::is_features(el) {
            if !self.features_due {
                out.push(Violation::new(
                    "RFC6120-4.3.5-1",
                    "<stream:features/> arrived without a new response stream header before it",
                ));
            }
            self.features_due = false;
            out.extend(super::features::check_features(el, self.authenticated));
        } else if el.is("success", ns::SASL) {
            self.authenticated = true;
        }
        out
    }
}

/// Checks an element the server sent where a `<close/>` was due (e.g. in answer to the client's).
pub fn check_server_close(el: &Element) -> Vec<Violation> {
    let mut out: Vec<Violation> = check_see_other_uri(el).into_iter().collect();
    if el.name != "close" {
        out.push(Violation::new(
            "RFC6120-4.4-1",
            format!("expected the server's <close/>, got <{}>", el.qname()),
        ));
    } else if el.ns.as_deref() != Some(ns::FRAMING) {
        out.push(Violation::new(
            "RFC7395-3.3.2-1",
            format!(
                "<close/> is in namespace {}, not {}",
                show_ns(el),
                ns::FRAMING
            ),
        ));
    }
    out
}

/// Checks a stream error's syntax: exactly one defined condition in the streams-error namespace (RFC 6120 Section 4.9.2).
pub fn check_stream_error(el: &Element) -> Vec<Violation> {
    let conditions: Vec<&Element> = el
        .elements()
        .filter(|c| c.ns.as_deref() == Some(ns::STREAM_ERRORS) && c.name != "text")
        .collect();
    match conditions.len() {
        1 if STREAM_CONDITIONS.contains(&conditions[0].name.as_str()) => Vec::new(),
        1 => vec![Violation::new(
            "RFC6120-4.9.2-5",
            format!(
                "<{}/> is not a defined stream error condition",
                conditions[0].name
            ),
        )],
        0 => vec![Violation::new(
            "RFC6120-4.9.2-5",
            "the stream error has no condition qualified by urn:ietf:params:xml:ns:xmpp-streams",
        )],
        n => vec![Violation::new(
            "RFC6120-4.9.2-5",
            format!("the stream error has {n} conditions"),
        )],
    }
}

/// The stream error conditions of RFC 6120 Section 4.9.3.
pub const STREAM_CONDITIONS: &[&str] = &[
    "bad-format",
    "bad-namespace-prefix",
    "conflict",
    "connection-timeout",
    "host-gone",
    "host-unknown",
    "improper-addressing",
    "internal-server-error",
    "invalid-from",
    "invalid-namespace",
    "invalid-xml",
    "not-authorized",
    "not-well-formed",
    "policy-violation",
    "remote-connection-failed",
    "reset",
    "resource-constraint",
    "restricted-xml",
    "see-other-host",
    "system-shutdown",
    "undefined-condition",
    "unsupported-encoding",
    "unsupported-feature",
    "unsupported-stanza-type",
    "unsupported-version",
];

fn show_ns(el: &Element) -> String {
    match &el.ns {
        Some(n) => format!("'{n}'"),
        None => "(none)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmpp::framing::parse_message;

    fn el(s: &str) -> Element {
        parse_message(s).unwrap().element
    }

    #[test]
    fn see_other_uri_must_name_an_endpoint() {
        let close = |uri: &str| {
            parse_message(&format!(
                "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing' see-other-uri='{uri}'/>"
            ))
            .unwrap()
            .element
        };
        assert!(check_see_other_uri(&close("wss://other.example/xmpp")).is_none());
        assert!(check_see_other_uri(&close("https://bosh.example/http-bind")).is_none());
        for bad in [
            "",
            "not a uri",
            "ftp://x.example/",
            "wss:///path",
            "wss://a b/",
        ] {
            let v = check_see_other_uri(&close(bad));
            assert_eq!(
                v.map(|v| v.spec).as_deref(),
                Some("RFC7395-3.6.1-1"),
                "{bad}"
            );
        }
        let plain = parse_message("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>").unwrap();
        assert!(check_see_other_uri(&plain.element).is_none());
    }

    #[test]
    fn watch_flags_reused_ids_late_features_and_bind_before_auth() {
        let el = |x: &str| parse_message(x).unwrap().element;
        let open = |id: &str| {
            el(&format!(
                "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' id='{id}' from='d' version='1.0'/>"
            ))
        };
        let pre = el(
            "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>",
        );
        let post = el(
            "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>",
        );
        let success = el("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
        let ids = |v: Vec<Violation>| v.into_iter().map(|v| v.spec).collect::<Vec<_>>();
        let mut w = StreamWatch::default();
        assert!(w.observe(&open("a")).is_empty());
        assert!(w.observe(&pre).is_empty());
        assert!(w.observe(&success).is_empty());
        assert!(w.observe(&open("b")).is_empty());
        assert!(w.observe(&post).is_empty());
        assert_eq!(ids(w.observe(&post)), ["RFC6120-4.3.5-1"]);
        assert_eq!(ids(w.observe(&open("a"))), ["RFC6120-4.3.3-3"]);
        let mut fresh = StreamWatch::default();
        fresh.observe(&open("c"));
        assert_eq!(
            ids(fresh.observe(&post)),
            ["RFC6120-7.4-2", "RFC6120-6.4.1-3"]
        );
    }

    #[test]
    fn prosody_open_is_clean() {
        let open = el(
            "<open id='a444a7d4' xml:lang='en' version='1.0' xmlns='urn:ietf:params:xml:ns:xmpp-framing' from='localhost'/>",
        );
        assert!(is_open(&open));
        assert!(check_server_open(&open, "localhost").is_empty());
        assert!(check_server_open_to(&open, None).is_empty());
    }

    #[test]
    fn open_violations() {
        let legacy = el(
            "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client' from='localhost' id='1' version='1.0' xml:lang='en'/>",
        );
        let ids: Vec<_> = check_server_open(&legacy, "localhost")
            .into_iter()
            .map(|v| v.spec)
            .collect();
        assert_eq!(ids, ["RFC7395-3.4-2", "RFC7395-3.3.2-1"]);
        let bare = el("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='me@x'/>");
        let ids: Vec<_> = check_server_open(&bare, "localhost")
            .into_iter()
            .map(|v| v.spec)
            .collect();
        assert_eq!(
            ids,
            [
                "RFC6120-4.7.5-5",
                "RFC6120-4.7.3-4",
                "RFC6120-4.7.1-3",
                "RFC6120-4.7.4-3"
            ]
        );
        assert_eq!(check_server_open_to(&bare, None)[0].spec, "RFC6120-4.7.2-3");
        assert!(check_server_open_to(&bare, Some("me@x/r")).is_empty());
        let wrong = el(
            "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' from='other' id='1' version='2.0' xml:lang='en'/>",
        );
        let ids: Vec<_> = check_server_open(&wrong, "localhost")
            .into_iter()
            .map(|v| v.spec)
            .collect();
        assert_eq!(ids, ["RFC6120-4.7.5-5", "RFC6120-4.7.1-3"]);
    }

    #[test]
    fn close_and_errors() {
        assert!(check_server_close(&el(&close_xml())).is_empty());
        assert_eq!(
            check_server_close(&el("<close xmlns='jabber:client'/>"))[0].spec,
            "RFC7395-3.3.2-1"
        );
        assert_eq!(
            check_server_close(&el("<presence/>"))[0].spec,
            "RFC6120-4.4-1"
        );
        let e = el(&stream_error_xml("host-unknown", Some("no <such> host")));
        assert!(is_stream_error(&e));
        assert_eq!(stream_error_condition(&e).as_deref(), Some("host-unknown"));
        assert_eq!(stream_error_text(&e).as_deref(), Some("no <such> host"));
        assert!(check_stream_error(&e).is_empty());
        let unprefixed = el(
            "<error xmlns='http://etherx.jabber.org/streams'><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></error>",
        );
        assert_eq!(
            stream_error_condition(&unprefixed).as_deref(),
            Some("host-unknown")
        );
        let empty = el("<stream:error xmlns:stream='http://etherx.jabber.org/streams'/>");
        assert_eq!(check_stream_error(&empty)[0].spec, "RFC6120-4.9.2-5");
        assert!(is_close(&el(
            "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing' see-other-uri='wss://x/'/>"
        )));
        assert_eq!(
            open_xml("a'b"),
            "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='a&apos;b' version='1.0'/>"
        );
    }
}
