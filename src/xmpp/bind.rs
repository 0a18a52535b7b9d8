//! Resource binding (RFC 6120 Section 7): the request and the server's result.

use super::element::{Element, escape};
use super::jid::Jid;
use super::ns;
use super::stanza;
use crate::violation::Violation;

/// Why a bind result could not give a full JID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindError {
    /// The reply is not an `<iq/>` answering our request id.
    #[error("expected the bind result <iq id='{id}'>, got {got}")]
    NotReply {
        /// The request id.
        id: String,
        /// What arrived instead (truncated XML).
        got: String,
    },
    /// The server returned an error stanza (condition, e.g. `conflict`).
    #[error("resource binding failed: <{0}/>")]
    Stanza(String),
    /// The result carries no `<bind><jid/></bind>`.
    #[error("the bind result carries no <jid/>")]
    NoJid,
    /// The `<jid/>` is not a full JID.
    #[error("the bind result's <jid/> {0:?} is not a full JID")]
    BadJid(String),
}

/// The `<iq type='set'>` that binds `resource` (or asks the server to generate one).
pub fn bind_request_xml(id: &str, resource: Option<&str>) -> String {
    let inner = match resource {
        Some(r) => format!("<resource>{}</resource>", escape(r)),
        None => String::new(),
    };
    format!(
        "<iq xmlns='{}' type='set' id='{}'><bind xmlns='{}'>{inner}</bind></iq>",
        ns::CLIENT,
        escape(id),
        ns::BIND
    )
}

/// Reads the server's reply to the bind request `id` into the full JID it assigned.
pub fn parse_bind_result(el: &Element, id: &str) -> Result<Jid, BindError> {
    if el.name != "iq" || el.attr("id") != Some(id) {
        return Err(BindError::NotReply {
            id: id.to_string(),
            got: crate::xmpp::framing::truncate(&el.to_xml(), 200),
        });
    }
    match el.attr("type") {
        Some("result") => {}
        Some("error") => {
            let cond = stanza::error_of(el)
                .map(|e| e.condition)
                .unwrap_or_default();
            return Err(BindError::Stanza(cond));
        }
        _ => {
            return Err(BindError::NotReply {
                id: id.to_string(),
                got: crate::xmpp::framing::truncate(&el.to_xml(), 200),
            });
        }
    }
    let text = el
        .child("bind", ns::BIND)
        .and_then(|b| b.find("jid"))
        .map(|j| j.text())
        .ok_or(BindError::NoJid)?;
    let text = text.trim();
    match Jid::parse(text) {
        Ok(j) if j.is_full() && j.local.is_some() => Ok(j),
        _ => Err(BindError::BadJid(text.to_string())),
    }
}

/// The violation a failed bind result represents, when the server broke RFC 6120 Section 7.6.1.
pub fn bind_violation(err: &BindError) -> Option<Violation> {
    match err {
        BindError::NoJid | BindError::BadJid(_) => {
            Some(Violation::new("RFC6120-7.6.1-1", err.to_string()))
        }
        BindError::NotReply { .. } | BindError::Stanza(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmpp::framing::parse_message;

    #[test]
    fn request_and_prosody_result() {
        assert_eq!(
            bind_request_xml("bind_1", Some("b1")),
            "<iq xmlns='jabber:client' type='set' id='bind_1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>b1</resource></bind></iq>"
        );
        assert!(!bind_request_xml("b", None).contains("resource"));
        let res = parse_message("<iq id='bind_1' xmlns='jabber:client' type='result'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>bob@localhost/b1</jid></bind></iq>").unwrap().element;
        assert_eq!(
            parse_bind_result(&res, "bind_1").unwrap().to_string(),
            "bob@localhost/b1"
        );
        assert!(matches!(
            parse_bind_result(&res, "other"),
            Err(BindError::NotReply { .. })
        ));
    }

    #[test]
    fn errors() {
        let err = parse_message("<iq id='b' type='error'><error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>").unwrap().element;
        assert_eq!(
            parse_bind_result(&err, "b"),
            Err(BindError::Stanza("conflict".into()))
        );
        let nojid = parse_message("<iq id='b' type='result'/>").unwrap().element;
        let e = parse_bind_result(&nojid, "b").unwrap_err();
        assert_eq!(bind_violation(&e).unwrap().spec, "RFC6120-7.6.1-1");
        let bare = parse_message("<iq id='b' type='result'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>bob@localhost</jid></bind></iq>").unwrap().element;
        assert_eq!(
            parse_bind_result(&bare, "b"),
            Err(BindError::BadJid("bob@localhost".into()))
        );
    }
}
