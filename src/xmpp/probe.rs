//! What an XMPP target offers, learned before the run from one login: SASL mechanisms and
//! in-band registration (features before authentication), stream management (features after),
//! and a multi-user chat service (service discovery, XEP-0030).

use std::collections::BTreeMap;

use super::element::{Element, escape};
use super::features::Features;
use super::login::{ElementIo, LoginError, LoginParams, login};
use super::ns;
use crate::capability::Capability;
use crate::facts::{Area, Fact, Status};

/// Most disco#items entries whose disco#info is asked for.
const MAX_ITEMS: usize = 16;
/// Most elements read while waiting for one iq answer (presence and the like may come first).
const MAX_SKIPPED: usize = 64;

/// Capability → available, from what the server offered.
pub type Offered = BTreeMap<Capability, bool>;

/// Logs in with `params`, reads the features on the way, then asks the domain's service
/// discovery for a MUC service. A failed discovery leaves `muc` out (nothing learned).
pub async fn discover<I: ElementIo>(
    io: &mut I,
    params: &LoginParams,
) -> Result<Offered, LoginError> {
    let outcome = login(io, params).await?;
    let mut caps = Offered::new();
    let mechs = &outcome.offered;
    caps.insert(Capability::ScramSha1, mechs.offers("SCRAM-SHA-1"));
    caps.insert(Capability::ScramSha256, mechs.offers("SCRAM-SHA-256"));
    caps.insert(
        Capability::Register,
        mechs.has_other(ns::REGISTER_FEATURE, "register"),
    );
    caps.insert(
        Capability::StreamManagement,
        outcome.features.has_other(ns::SM, "sm"),
    );
    if let Some(muc) = find_muc(io, &params.domain).await {
        caps.insert(Capability::Muc, muc);
    }
    Ok(caps)
}

/// Whether the domain lists an item whose identity is a text conference service (XEP-0045
/// Section 6.1); `None` when the server answers no disco#items.
async fn find_muc<I: ElementIo>(io: &mut I, domain: &str) -> Option<bool> {
    let items = ask(io, "wc-probe-items", domain, ns::DISCO_ITEMS).await?;
    let jids: Vec<String> = items
        .child("query", ns::DISCO_ITEMS)
        .map(|q| {
            q.elements()
                .filter(|i| i.name == "item")
                .filter_map(|i| i.attr("jid").map(str::to_string))
                .take(MAX_ITEMS)
                .collect()
        })
        .unwrap_or_default();
    for (n, jid) in jids.iter().enumerate() {
        let Some(info) = ask(io, &format!("wc-probe-info{n}"), jid, ns::DISCO_INFO).await else {
            continue;
        };
        let conference = info.child("query", ns::DISCO_INFO).is_some_and(|q| {
            q.elements().any(|i| {
                i.name == "identity"
                    && i.attr("category") == Some("conference")
                    && i.attr("type") == Some("text")
            })
        });
        if conference {
            return Some(true);
        }
    }
    Some(false)
}

/// Sends a disco get for `query_ns` to `to` and returns the result iq (`None` on an error
/// answer, a timeout, or too much else arriving first).
async fn ask<I: ElementIo>(io: &mut I, id: &str, to: &str, query_ns: &str) -> Option<Element> {
    let xml = format!(
        "<iq xmlns='{}' type='get' id='{id}' to='{}'><query xmlns='{query_ns}'/></iq>",
        ns::CLIENT,
        escape(to)
    );
    io.send(xml).await.ok()?;
    for _ in 0..MAX_SKIPPED {
        let el = io.recv().await.ok()?;
        if el.name == "iq" && el.attr("id") == Some(id) {
            return (el.attr("type") == Some("result")).then_some(el);
        }
    }
    None
}

/// A fact saying the audit could not open a stream at all.
pub fn unreachable_fact(why: &str) -> Fact {
    Fact::new(
        Area::Negotiation,
        "Stream",
        format!("could not connect: {why}"),
        Status::Finding,
    )
}

/// Names of the features in `f` other than SASL, binding and the legacy session.
fn feature_names(f: &Features) -> Vec<String> {
    f.other
        .iter()
        .map(|(ns, name)| match ns.as_str() {
            ns::SM => "stream management (XEP-0198)".to_string(),
            ns::REGISTER_FEATURE => "in-band registration (XEP-0077)".to_string(),
            "urn:xmpp:csi:0" => "client state indication (XEP-0352)".to_string(),
            "http://jabber.org/protocol/caps" => "entity capabilities (XEP-0115)".to_string(),
            "urn:ietf:params:xml:ns:xmpp-tls" => "STARTTLS".to_string(),
            _ => format!("{name} ({ns})"),
        })
        .collect()
}

/// The audit's facts from the features a server offered before authentication (`answer.0`)
/// and, when an account logged in, after it; `encrypted` says whether the WebSocket runs over
/// TLS. PLAIN offered over an unencrypted connection is a finding: the password would cross the
/// network in clear text (RFC 6120 Section 13.8.3: a client MUST NOT use PLAIN on an unprotected stream).
pub fn audit_facts(
    answer: Result<(Features, Option<Features>), LoginError>,
    encrypted: bool,
    had_account: bool,
) -> Vec<Fact> {
    let mut out = Vec::new();
    let (pre, post) = match answer {
        Ok(a) => a,
        Err(e) => {
            let status = match e {
                LoginError::SaslFailure(_) => Status::Warn,
                _ => Status::Finding,
            };
            out.push(Fact::new(
                Area::Negotiation,
                if had_account { "Login" } else { "Stream" },
                format!("failed: {e}"),
                status,
            ));
            return out;
        }
    };
    let mechs = if pre.mechanisms.is_empty() {
        "none offered".to_string()
    } else {
        pre.mechanisms.join(", ")
    };
    out.push(Fact::info(Area::Negotiation, "SASL mechanisms", mechs));
    let others = feature_names(&pre);
    if !others.is_empty() {
        out.push(Fact::info(
            Area::Negotiation,
            "Features before authentication",
            others.join(", "),
        ));
    }
    if pre.offers("PLAIN") && !encrypted {
        out.push(Fact::new(
            Area::Security,
            "SASL PLAIN",
            "offered over an unencrypted connection: passwords would cross the network in clear text (RFC 6120 Section 13.8.3)",
            Status::Finding,
        ));
    } else if pre.offers("PLAIN") {
        out.push(Fact::new(
            Area::Security,
            "SASL PLAIN",
            "offered over TLS only",
            Status::Ok,
        ));
    }
    if !pre.mechanisms.iter().any(|m| m.starts_with("SCRAM-")) {
        out.push(Fact::new(
            Area::Security,
            "SCRAM",
            "not offered: the server stores or sees plain passwords",
            Status::Warn,
        ));
    }
    if pre.has_other(ns::REGISTER_FEATURE, "register") {
        out.push(Fact::new(
            Area::Security,
            "In-band registration",
            "open: anyone can create an account (XEP-0077)",
            Status::Warn,
        ));
    }
    match post {
        Some(post) => {
            let mut names = Vec::new();
            if post.bind {
                names.push("resource binding".to_string());
            }
            names.extend(feature_names(&post));
            out.push(Fact::info(
                Area::Negotiation,
                "Features after authentication",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                },
            ));
        }
        None => out.push(Fact::info(
            Area::Negotiation,
            "Features after authentication",
            "not seen: no account (give --user and --password-env)",
        )),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmpp::framing::parse_message;
    use crate::xmpp::login::LoginIoError;
    use std::collections::VecDeque;

    struct Scripted(VecDeque<&'static str>, Vec<String>);

    impl ElementIo for Scripted {
        async fn send(&mut self, xml: String) -> Result<(), LoginIoError> {
            self.1.push(xml);
            Ok(())
        }
        async fn recv(&mut self) -> Result<Element, LoginIoError> {
            let text = self.0.pop_front().ok_or(LoginIoError::Timeout)?;
            Ok(parse_message(text)?.element)
        }
    }

    const OPEN: &str = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' id='s1' from='localhost' version='1.0' xml:lang='en'/>";
    const OPEN2: &str = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' id='s2' from='localhost' version='1.0' xml:lang='en'/>";

    fn params() -> LoginParams {
        LoginParams {
            domain: "localhost".into(),
            user: "bob".into(),
            password: "secret".into(),
            resource: Some("p".into()),
            mechanism: Some(crate::xmpp::sasl::Mechanism::Plain),
            nonce: None,
            bind: true,
        }
    }

    #[tokio::test]
    async fn learns_features_and_muc() {
        let script = [
            OPEN,
            "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism></mechanisms><register xmlns='http://jabber.org/features/iq-register'/></stream:features>",
            "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>",
            OPEN2,
            "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><sm xmlns='urn:xmpp:sm:3'/></stream:features>",
            "<iq xmlns='jabber:client' type='result' id='bind_1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>bob@localhost/p</jid></bind></iq>",
            "<iq xmlns='jabber:client' type='result' id='wc-probe-items'><query xmlns='http://jabber.org/protocol/disco#items'><item jid='pubsub.localhost'/><item jid='conference.localhost'/></query></iq>",
            "<presence xmlns='jabber:client' from='x@localhost'/>",
            "<iq xmlns='jabber:client' type='result' id='wc-probe-info0'><query xmlns='http://jabber.org/protocol/disco#info'><identity category='pubsub' type='service'/></query></iq>",
            "<iq xmlns='jabber:client' type='result' id='wc-probe-info1'><query xmlns='http://jabber.org/protocol/disco#info'><identity category='conference' type='text'/></query></iq>",
        ];
        let mut io = Scripted(script.into_iter().collect(), Vec::new());
        let caps = discover(&mut io, &params()).await.unwrap();
        assert!(caps[&Capability::ScramSha1]);
        assert!(!caps[&Capability::ScramSha256]);
        assert!(caps[&Capability::Register]);
        assert!(caps[&Capability::StreamManagement]);
        assert!(caps[&Capability::Muc]);
        assert!(io.1.iter().any(|s| s.contains("to='conference.localhost'")));
    }

    #[tokio::test]
    async fn no_disco_answer_learns_nothing_of_muc() {
        let script = [
            OPEN,
            "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>",
            "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>",
            OPEN2,
            "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>",
            "<iq xmlns='jabber:client' type='result' id='bind_1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>bob@localhost/p</jid></bind></iq>",
            "<iq xmlns='jabber:client' type='error' id='wc-probe-items'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
        ];
        let mut io = Scripted(script.into_iter().collect(), Vec::new());
        let caps = discover(&mut io, &params()).await.unwrap();
        assert!(!caps[&Capability::Register]);
        assert!(!caps[&Capability::StreamManagement]);
        assert!(!caps.contains_key(&Capability::Muc));
    }

    #[test]
    fn plain_over_plain_text_is_a_finding() {
        let pre = Features {
            mechanisms: vec!["PLAIN".into(), "SCRAM-SHA-1".into()],
            ..Features::default()
        };
        let facts = audit_facts(Ok((pre.clone(), None)), false, false);
        let plain = facts.iter().find(|f| f.name == "SASL PLAIN").unwrap();
        assert_eq!(plain.status, Status::Finding);
        let facts = audit_facts(Ok((pre, None)), true, false);
        let plain = facts.iter().find(|f| f.name == "SASL PLAIN").unwrap();
        assert_eq!(plain.status, Status::Ok);
        assert!(facts.iter().all(|f| f.name != "SCRAM"));
    }
}
