//! What an XMPP target offers, learned before the run from one login: SASL mechanisms and
//! in-band registration (features before authentication), stream management (features after),
//! and a multi-user chat service (service discovery, XEP-0030).

use std::collections::BTreeMap;

use super::element::{Element, escape};
use super::login::{ElementIo, LoginError, LoginParams, login};
use super::ns;
use crate::capability::Capability;

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
}
