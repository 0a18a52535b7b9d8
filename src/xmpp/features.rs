//! `<stream:features/>` parsing and the checks on what a server may offer when (RFC 6120 Sections 4.3, 6.4, 7.4).

use super::element::Element;
use super::ns;
use crate::violation::Violation;

/// What a server announced in one `<stream:features/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Features {
    /// SASL mechanisms offered, in order (`PLAIN`, `SCRAM-SHA-1`).
    pub mechanisms: Vec<String>,
    /// Resource binding is offered.
    pub bind: bool,
    /// Legacy session: `None` if not offered, `Some(true)` if marked `<optional/>`, `Some(false)` if required.
    pub session: Option<bool>,
    /// Every other feature as (namespace, local name).
    pub other: Vec<(String, String)>,
}

/// Why an element could not be read as stream features.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeaturesError {
    /// The element is not `<features/>` in the stream namespace.
    #[error("expected <stream:features/>, got <{0}>")]
    NotFeatures(String),
}

impl Features {
    /// Reads a `<stream:features/>` element.
    pub fn parse(el: &Element) -> Result<Features, FeaturesError> {
        if !is_features(el) {
            return Err(FeaturesError::NotFeatures(el.qname()));
        }
        let mut f = Features::default();
        for child in el.elements() {
            let cns = child.ns.as_deref().unwrap_or_default();
            match (child.name.as_str(), cns) {
                ("mechanisms", ns::SASL) => {
                    f.mechanisms = child
                        .elements()
                        .filter(|m| m.name == "mechanism")
                        .map(|m| m.text().trim().to_string())
                        .collect();
                }
                ("bind", ns::BIND) => f.bind = true,
                ("session", ns::SESSION) => f.session = Some(child.find("optional").is_some()),
                (name, cns) => f.other.push((cns.to_string(), name.to_string())),
            }
        }
        Ok(f)
    }

    /// True if SASL mechanism `name` is offered (case-sensitive, as RFC 4422 names are upper case).
    pub fn offers(&self, name: &str) -> bool {
        self.mechanisms.iter().any(|m| m == name)
    }

    /// True if the feature (namespace, name) is among the others.
    pub fn has_other(&self, ns: &str, name: &str) -> bool {
        self.other.iter().any(|(n, l)| n == ns && l == name)
    }
}

/// True for `<features/>` in the stream namespace.
pub fn is_features(el: &Element) -> bool {
    el.is("features", ns::STREAMS)
}

/// Checks a features element for what the server may (not) offer before or after authentication.
pub fn check_features(el: &Element, authenticated: bool) -> Vec<Violation> {
    let mut out = Vec::new();
    let Ok(f) = Features::parse(el) else {
        let spec = if authenticated {
            "RFC6120-6.4.6-6"
        } else {
            "RFC6120-6.4.1-2"
        };
        out.push(Violation::new(
            spec,
            format!(
                "expected <stream:features/> after the response header, got <{}>",
                el.qname()
            ),
        ));
        return out;
    };
    if f.has_other(ns::TLS, "starttls") {
        out.push(Violation::new(
            "RFC7395-3.9-2",
            "the server advertises STARTTLS over the XMPP WebSocket subprotocol",
        ));
    }
    if let Some(mechs) = el.child("mechanisms", ns::SASL) {
        let n = mechs.elements().filter(|m| m.name == "mechanism").count();
        let stray = mechs.elements().any(|m| m.name != "mechanism");
        let empty = mechs
            .elements()
            .any(|m| m.name == "mechanism" && m.text().trim().is_empty());
        if n == 0 || stray || empty {
            out.push(Violation::new(
                "RFC6120-6.4.1-4",
                "<mechanisms/> must hold one non-empty <mechanism/> child per offered mechanism",
            ));
        }
    }
    if authenticated {
        if !f.bind {
            out.push(Violation::new(
                "RFC6120-7.4-1",
                "the features after SASL success do not include <bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>",
            ));
        }
    } else {
        if f.bind {
            out.push(Violation::new(
                "RFC6120-7.4-2",
                "the features before authentication include <bind/>",
            ));
        }
        if el.child("mechanisms", ns::SASL).is_none() {
            out.push(Violation::new(
                "RFC6120-6.4.1-3",
                "the features before authentication do not advertise SASL <mechanisms/>",
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmpp::framing::parse_message;

    #[test]
    fn parses_prosody_features() {
        let pre = parse_message("<stream:features xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client'><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism></mechanisms></stream:features>").unwrap().element;
        let f = Features::parse(&pre).unwrap();
        assert_eq!(f.mechanisms, ["SCRAM-SHA-1", "PLAIN"]);
        assert!(f.offers("PLAIN") && !f.bind && f.session.is_none());
        assert!(check_features(&pre, false).is_empty());
        assert_eq!(check_features(&pre, true)[0].spec, "RFC6120-7.4-1");

        let post = parse_message("<stream:features xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client'><sub xmlns='urn:xmpp:features:pre-approval'/><c ver='x' xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='http://prosody.im'/><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><required/></bind><session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session><ver xmlns='urn:xmpp:features:rosterver'/></stream:features>").unwrap().element;
        let f = Features::parse(&post).unwrap();
        assert!(f.bind);
        assert_eq!(f.session, Some(true));
        assert_eq!(f.other.len(), 3);
        assert!(f.has_other("urn:xmpp:features:rosterver", "ver"));
        assert!(check_features(&post, true).is_empty());
        assert_eq!(check_features(&post, false)[0].spec, "RFC6120-7.4-2");
    }

    #[test]
    fn flags_starttls_and_bad_mechanisms() {
        let el = parse_message("<features xmlns='http://etherx.jabber.org/streams'><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/></features>").unwrap().element;
        let ids: Vec<_> = check_features(&el, false)
            .into_iter()
            .map(|v| v.spec)
            .collect();
        assert_eq!(ids, ["RFC7395-3.9-2", "RFC6120-6.4.1-4"]);
        let not = parse_message("<presence/>").unwrap().element;
        assert!(Features::parse(&not).is_err());
        assert_eq!(check_features(&not, false)[0].spec, "RFC6120-6.4.1-2");
    }
}
