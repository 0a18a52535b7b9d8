//! SASL over XMPP (RFC 6120 Section 6): the mechanisms wirecheck speaks, PLAIN (RFC 4616), the `<auth/>`/`<response/>` elements and the server's outcome.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::element::{Element, escape};
use super::ns;
use crate::violation::Violation;

/// The SASL failure conditions of RFC 6120 Section 6.5.
pub const SASL_CONDITIONS: &[&str] = &[
    "aborted",
    "account-disabled",
    "credentials-expired",
    "encryption-required",
    "incorrect-encoding",
    "invalid-authzid",
    "invalid-mechanism",
    "malformed-request",
    "mechanism-too-weak",
    "not-authorized",
    "temporary-auth-failure",
];

/// A SASL mechanism the login macro can use, strongest first in [`Mechanism::PREFERENCE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// SCRAM-SHA-256 (RFC 7677).
    ScramSha256,
    /// SCRAM-SHA-1 (RFC 5802).
    ScramSha1,
    /// PLAIN (RFC 4616).
    Plain,
}

impl Mechanism {
    /// Every mechanism, strongest first: the default choice is the first one the server offers.
    pub const PREFERENCE: &'static [Mechanism] = &[
        Mechanism::ScramSha256,
        Mechanism::ScramSha1,
        Mechanism::Plain,
    ];

    /// The SASL name (`SCRAM-SHA-1`).
    pub fn name(self) -> &'static str {
        match self {
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::ScramSha1 => "SCRAM-SHA-1",
            Self::Plain => "PLAIN",
        }
    }

    /// The mechanism with this SASL name, if wirecheck speaks it.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::PREFERENCE.iter().copied().find(|m| m.name() == name)
    }

    /// The known names, comma-separated, strongest first (for error messages).
    pub fn known() -> String {
        Self::PREFERENCE
            .iter()
            .map(|m| m.name())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The SCRAM hash of a SCRAM mechanism.
    pub fn scram(self) -> Option<super::scram::ScramHash> {
        super::scram::ScramHash::from_mechanism(self.name())
    }

    /// The strongest mechanism among `offered`.
    pub fn strongest(offered: &[String]) -> Option<Self> {
        Self::PREFERENCE
            .iter()
            .copied()
            .find(|m| offered.iter().any(|o| o == m.name()))
    }
}

/// An `<auth/>` for `mechanism` with base64 of `initial` as its initial response.
pub fn auth_xml(mechanism: &str, initial: &[u8]) -> String {
    format!(
        "<auth xmlns='{}' mechanism='{}'>{}</auth>",
        ns::SASL,
        escape(mechanism),
        STANDARD.encode(initial)
    )
}

/// A SASL element (`response`, `challenge`, `success`) carrying base64 of `data` (empty data:
/// an empty element).
pub fn data_xml(name: &str, data: &[u8]) -> String {
    if data.is_empty() {
        format!("<{name} xmlns='{}'/>", ns::SASL)
    } else {
        format!(
            "<{name} xmlns='{}'>{}</{name}>",
            ns::SASL,
            STANDARD.encode(data)
        )
    }
}

/// A `<response/>` carrying base64 of `data` (empty data: an empty element).
pub fn response_xml(data: &[u8]) -> String {
    data_xml("response", data)
}

/// The `<abort/>` element (RFC 6120 Section 6.4.4).
pub fn abort_xml() -> String {
    format!("<abort xmlns='{}'/>", ns::SASL)
}

/// Decodes a base64 SASL payload as UTF-8 text (`=` or empty: no data).
pub fn decode_text(b64: &str) -> Result<String, SaslError> {
    let b64 = b64.trim();
    if b64.is_empty() || b64 == "=" {
        return Ok(String::new());
    }
    let raw = STANDARD.decode(b64).map_err(|_| SaslError::Base64)?;
    String::from_utf8(raw).map_err(|_| SaslError::Malformed("not UTF-8"))
}

/// How a SASL exchange ended, as the server reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaslOutcome {
    /// `<success/>`, with its additional data (base64 text) if any.
    Success(Option<String>),
    /// `<failure/>` with its condition (`not-authorized`) and optional text.
    Failure {
        /// The defined condition's local name; empty if the server sent none.
        condition: String,
        /// The human-readable `<text/>`, if any.
        text: Option<String>,
    },
    /// `<challenge/>` with its base64 payload (PLAIN needs none, but a server may send an empty one).
    Challenge(String),
}

/// Errors from SASL PLAIN encoding or decoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    /// The element is not a SASL `<success/>`, `<failure/>` or `<challenge/>`.
    #[error("expected a SASL <success/>, <failure/> or <challenge/>, got <{0}>")]
    NotSasl(String),
    /// The payload is not valid base64 (RFC 6120 `<incorrect-encoding/>`).
    #[error("the SASL payload is not valid base64")]
    Base64,
    /// The PLAIN message is not `authzid NUL authcid NUL passwd` in UTF-8 (`<malformed-request/>`).
    #[error("malformed PLAIN message: {0}")]
    Malformed(&'static str),
}

/// The PLAIN message `authzid NUL user NUL password` (RFC 4616 Section 2).
pub fn plain_message(authzid: &str, user: &str, password: &str) -> Vec<u8> {
    let mut m = Vec::with_capacity(authzid.len() + user.len() + password.len() + 2);
    m.extend_from_slice(authzid.as_bytes());
    m.push(0);
    m.extend_from_slice(user.as_bytes());
    m.push(0);
    m.extend_from_slice(password.as_bytes());
    m
}

/// The PLAIN initial response, base64-encoded as RFC 6120 Section 6.4.2 carries it.
pub fn plain_initial_response(authzid: &str, user: &str, password: &str) -> String {
    STANDARD.encode(plain_message(authzid, user, password))
}

/// The `<auth mechanism='PLAIN'>` element with the initial response (empty `authzid` means none).
pub fn plain_auth_xml(authzid: &str, user: &str, password: &str) -> String {
    format!(
        "<auth xmlns='{}' mechanism='PLAIN'>{}</auth>",
        ns::SASL,
        plain_initial_response(authzid, user, password)
    )
}

/// Decodes a base64 PLAIN response into (authzid, user, password); `=` stands for an empty response.
pub fn decode_plain(b64: &str) -> Result<(String, String, String), SaslError> {
    let b64 = b64.trim();
    let raw = if b64 == "=" {
        Vec::new()
    } else {
        STANDARD.decode(b64).map_err(|_| SaslError::Base64)?
    };
    let text = String::from_utf8(raw).map_err(|_| SaslError::Malformed("not UTF-8"))?;
    let mut parts = text.split('\0');
    let (Some(authzid), Some(user), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SaslError::Malformed("expected exactly two NUL separators"));
    };
    if user.is_empty() {
        return Err(SaslError::Malformed("empty authentication identity"));
    }
    Ok((authzid.to_string(), user.to_string(), password.to_string()))
}

/// A SASL `<failure/>` with `condition` and optional text, as a server sends it.
pub fn failure_xml(condition: &str, text: Option<&str>) -> String {
    let mut s = format!("<failure xmlns='{}'><{condition}/>", ns::SASL);
    if let Some(t) = text {
        s.push_str(&format!("<text>{}</text>", escape(t)));
    }
    s.push_str("</failure>");
    s
}

/// Reads the server's answer to `<auth/>` or `<response/>`.
pub fn parse_outcome(el: &Element) -> Result<SaslOutcome, SaslError> {
    if el.ns.as_deref() != Some(ns::SASL) {
        return Err(SaslError::NotSasl(el.qname()));
    }
    match el.name.as_str() {
        "success" => {
            let t = el.text();
            let t = t.trim();
            Ok(SaslOutcome::Success((!t.is_empty()).then(|| t.to_string())))
        }
        "failure" => Ok(SaslOutcome::Failure {
            condition: el
                .elements()
                .find(|c| c.name != "text")
                .map(|c| c.name.clone())
                .unwrap_or_default(),
            text: el.find("text").map(Element::text),
        }),
        "challenge" => Ok(SaslOutcome::Challenge(el.text().trim().to_string())),
        _ => Err(SaslError::NotSasl(el.qname())),
    }
}

/// Checks a `<failure/>` for one defined condition (RFC 6120 Sections 6.4.5 and 6.5).
pub fn check_failure(el: &Element) -> Vec<Violation> {
    let conds: Vec<&Element> = el.elements().filter(|c| c.name != "text").collect();
    match conds.as_slice() {
        [] => vec![Violation::new(
            "RFC6120-6.4.5-1",
            "the SASL <failure/> carries no condition element",
        )],
        [c] if SASL_CONDITIONS.contains(&c.name.as_str()) && c.ns.as_deref() == Some(ns::SASL) => {
            Vec::new()
        }
        [c] => vec![Violation::new(
            "RFC6120-6.5-3",
            format!(
                "<{}/> is not a SASL error condition of RFC 6120 Section 6.5",
                c.qname()
            ),
        )],
        many => vec![Violation::new(
            "RFC6120-6.4.5-1",
            format!(
                "the SASL <failure/> carries {} condition elements",
                many.len()
            ),
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmpp::framing::parse_message;

    #[test]
    fn rfc4616_vectors() {
        assert_eq!(
            plain_initial_response("", "tim", "tanstaaftanstaaf"),
            "AHRpbQB0YW5zdGFhZnRhbnN0YWFm"
        );
        assert_eq!(
            plain_initial_response("Ursel", "Kurt", "xipj3plmq"),
            "VXJzZWwAS3VydAB4aXBqM3BsbXE="
        );
        assert_eq!(plain_message("", "tim", "tanstaaftanstaaf").len(), 21);
        assert_eq!(
            decode_plain("VXJzZWwAS3VydAB4aXBqM3BsbXE=").unwrap(),
            ("Ursel".into(), "Kurt".into(), "xipj3plmq".into())
        );
    }

    #[test]
    fn auth_element_matches_prosody_capture() {
        assert_eq!(
            plain_auth_xml("", "bob", "secret"),
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGJvYgBzZWNyZXQ=</auth>"
        );
    }

    #[test]
    fn decode_errors() {
        assert_eq!(decode_plain("!!"), Err(SaslError::Base64));
        assert!(matches!(decode_plain("="), Err(SaslError::Malformed(_))));
        assert!(matches!(
            decode_plain(&STANDARD.encode("a\0b")),
            Err(SaslError::Malformed(_))
        ));
        assert!(matches!(
            decode_plain(&STANDARD.encode("a\0b\0c\0d")),
            Err(SaslError::Malformed(_))
        ));
    }

    #[test]
    fn mechanisms_and_elements() {
        let offered = vec!["PLAIN".to_string(), "SCRAM-SHA-1".to_string()];
        assert_eq!(Mechanism::strongest(&offered), Some(Mechanism::ScramSha1));
        assert_eq!(Mechanism::strongest(&["X".into()]), None);
        assert_eq!(
            Mechanism::from_name("SCRAM-SHA-256"),
            Some(Mechanism::ScramSha256)
        );
        assert_eq!(Mechanism::from_name("scram-sha-1"), None);
        assert_eq!(Mechanism::known(), "SCRAM-SHA-256, SCRAM-SHA-1, PLAIN");
        assert_eq!(Mechanism::Plain.scram(), None);
        assert_eq!(
            auth_xml("SCRAM-SHA-1", b"n,,n=user,r=abc"),
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>biwsbj11c2VyLHI9YWJj</auth>"
        );
        assert_eq!(
            response_xml(b""),
            "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"
        );
        assert_eq!(
            decode_text("biwsbj11c2VyLHI9YWJj").unwrap(),
            "n,,n=user,r=abc"
        );
        assert_eq!(decode_text("="), Ok(String::new()));
        assert_eq!(decode_text("@@"), Err(SaslError::Base64));
    }

    #[test]
    fn outcomes() {
        let ok = parse_message("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
            .unwrap()
            .element;
        assert_eq!(parse_outcome(&ok), Ok(SaslOutcome::Success(None)));
        let fail = parse_message(&failure_xml("not-authorized", Some("you've sent")))
            .unwrap()
            .element;
        assert_eq!(
            parse_outcome(&fail),
            Ok(SaslOutcome::Failure {
                condition: "not-authorized".into(),
                text: Some("you've sent".into())
            })
        );
        assert!(check_failure(&fail).is_empty());
        let bad =
            parse_message("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><oops/></failure>")
                .unwrap()
                .element;
        assert_eq!(check_failure(&bad)[0].spec, "RFC6120-6.5-3");
        let none = parse_message("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
            .unwrap()
            .element;
        assert_eq!(check_failure(&none)[0].spec, "RFC6120-6.4.5-1");
        let other = parse_message("<presence/>").unwrap().element;
        assert!(parse_outcome(&other).is_err());
    }
}
