//! Where the audit connects: an XMPP domain's WebSocket endpoint from its host-meta documents
//! (RFC 7395 Section 4, XEP-0156), and the protocol a ws:// or wss:// endpoint speaks, from the
//! subprotocol it selects when offered both.

use std::time::Duration;

use crate::case::Protocol;
use crate::facts::{Area, Fact, Status};
use crate::transport::http::{self, HttpResponse};
use crate::transport::{ConnectOptions, Endpoint, TransportKind, hostmeta};

use super::AuditError;

/// The link relation of an XMPP WebSocket endpoint (XEP-0156).
pub const WEBSOCKET_REL: &str = "urn:xmpp:alt-connections:websocket";

/// What the audit was pointed at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditTarget {
    /// A URL: mqtt://, mqtts://, ws:// or wss://.
    Url(String),
    /// A bare XMPP domain, optionally with the HTTPS port of its host-meta documents.
    Domain {
        /// The domain.
        domain: String,
        /// The HTTPS port (443 when not given).
        port: u16,
    },
}

impl AuditTarget {
    /// Reads the command line's TARGET.
    pub fn parse(text: &str) -> Result<AuditTarget, AuditError> {
        let text = text.trim();
        if text.contains("://") {
            Endpoint::parse(text).map_err(|e| AuditError::BadTarget(e.to_string()))?;
            return Ok(AuditTarget::Url(text.to_string()));
        }
        let bad = || {
            AuditError::BadTarget(format!(
                "`{text}` is neither a URL (mqtt://, mqtts://, ws://, wss://) nor an XMPP domain (e.g. chat.example.com, or localhost:8443 for host-meta on another HTTPS port)"
            ))
        };
        let (domain, port) = match text.rsplit_once(':') {
            Some((d, p)) => (
                d,
                p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(bad)?,
            ),
            None => (text, 443),
        };
        let valid = !domain.is_empty()
            && domain.len() <= 253
            && domain.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !valid {
            return Err(bad());
        }
        Ok(AuditTarget::Domain {
            domain: domain.to_ascii_lowercase(),
            port,
        })
    }
}

/// The WebSocket URL a domain's host-meta documents name, with the facts of the lookup. Tries
/// `/.well-known/host-meta.json` then `/.well-known/host-meta` over HTTPS; the certificate is
/// verified as `opts` says (`--ca`, `--insecure`).
pub async fn websocket_of_domain(
    domain: &str,
    port: u16,
    opts: &ConnectOptions,
    timeout: Duration,
) -> Result<(String, Vec<Fact>), AuditError> {
    let origin = Endpoint {
        kind: TransportKind::Wss,
        host: domain.to_string(),
        port,
        path: "/".into(),
    };
    let mut tried = Vec::new();
    for path in ["/.well-known/host-meta.json", "/.well-known/host-meta"] {
        let url = format!("https://{}{path}", origin.authority());
        let answer = match http::get(&origin, path, opts, timeout).await {
            Ok(r) => r,
            Err(e) => {
                tried.push(format!("{url}: {e}"));
                continue;
            }
        };
        match websocket_link(&answer) {
            Ok(href) => {
                let mut facts = vec![Fact::new(
                    Area::Negotiation,
                    "Endpoint discovery",
                    format!("{url} names {href}"),
                    Status::Ok,
                )];
                if href.starts_with("ws://") {
                    facts.push(Fact::new(
                        Area::Security,
                        "Discovered endpoint",
                        format!("{href} is not encrypted (ws://, not wss://)"),
                        Status::Warn,
                    ));
                }
                return Ok((href, facts));
            }
            Err(why) => tried.push(format!("{url}: {why}")),
        }
    }
    Err(AuditError::Unreachable(format!(
        "no XMPP WebSocket endpoint found for {domain} through host-meta (XEP-0156): {}",
        tried.join("; ")
    )))
}

/// The `urn:xmpp:alt-connections:websocket` href of a host-meta answer.
fn websocket_link(r: &HttpResponse) -> Result<String, String> {
    if r.status != 200 {
        return Err(format!("HTTP {}", r.status));
    }
    let links = hostmeta::links(&r.body).map_err(|e| e.to_string())?;
    let href = links
        .into_iter()
        .find(|l| l.rel == WEBSOCKET_REL && !l.href.is_empty())
        .map(|l| l.href)
        .ok_or_else(|| format!("no `{WEBSOCKET_REL}` link"))?;
    if !(href.starts_with("wss://") || href.starts_with("ws://")) {
        return Err(format!("the link `{href}` is not a ws:// or wss:// URL"));
    }
    Ok(href)
}

/// The protocol a WebSocket endpoint speaks: the subprotocol it selects from an upgrade offering
/// `xmpp` and `mqtt`, with facts about the answer (subprotocol, extensions).
pub async fn websocket_protocol(
    endpoint: &Endpoint,
    opts: &ConnectOptions,
    timeout: Duration,
) -> Result<(Protocol, Vec<Fact>), AuditError> {
    let offer = ["xmpp".to_string(), "mqtt".to_string()];
    let r = http::ws_offer(endpoint, &offer, opts, timeout)
        .await
        .map_err(|e| AuditError::Unreachable(format!("{endpoint}: WebSocket upgrade: {e}")))?;
    if r.status != 101 {
        return Err(AuditError::Unreachable(format!(
            "{endpoint}: the server refused the WebSocket upgrade (HTTP {})",
            r.status
        )));
    }
    let selected = r.header_all("Sec-WebSocket-Protocol").join(", ");
    let extensions = r.header_all("Sec-WebSocket-Extensions").join(", ");
    let mut facts = vec![
        Fact::info(
            Area::Framing,
            "WebSocket subprotocol",
            format!(
                "offered xmpp, mqtt; selected {}",
                if selected.is_empty() {
                    "none"
                } else {
                    &selected
                }
            ),
        ),
        Fact::info(
            Area::Framing,
            "WebSocket extensions",
            if extensions.is_empty() {
                "none".to_string()
            } else {
                extensions
            },
        ),
    ];
    let protocol = match selected.as_str() {
        "xmpp" => Protocol::Xmpp,
        "mqtt" => Protocol::Mqtt,
        _ => {
            let fallback = if endpoint.path.contains("xmpp") {
                Some(Protocol::Xmpp)
            } else if endpoint.path.contains("mqtt") {
                Some(Protocol::Mqtt)
            } else {
                None
            };
            let Some(p) = fallback else {
                return Err(AuditError::BadTarget(format!(
                    "{endpoint}: the server selected no subprotocol of `xmpp`, `mqtt` ({}) and the path does not tell; give --protocol mqtt or --protocol xmpp",
                    if selected.is_empty() {
                        "none selected".to_string()
                    } else {
                        format!("selected `{selected}`")
                    }
                )));
            };
            let rule = match p {
                Protocol::Xmpp => "RFC7395-3.1-2",
                Protocol::Mqtt => "MQTT-6.0.0-4",
            };
            facts.push(
                Fact::new(
                    Area::Framing,
                    "Subprotocol answer",
                    format!("the server did not select `{p}` although it was offered"),
                    Status::Finding,
                )
                .judged_by(rule),
            );
            p
        }
    };
    Ok((protocol, facts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        assert_eq!(
            AuditTarget::parse("Chat.Example.com").unwrap(),
            AuditTarget::Domain {
                domain: "chat.example.com".into(),
                port: 443
            }
        );
        assert_eq!(
            AuditTarget::parse("localhost:8443").unwrap(),
            AuditTarget::Domain {
                domain: "localhost".into(),
                port: 8443
            }
        );
        assert!(matches!(
            AuditTarget::parse("mqtt://127.0.0.1:1883").unwrap(),
            AuditTarget::Url(_)
        ));
        for bad in ["", "a b", "x:0", "x:99999", "http://x", "bad_host", "a..b"] {
            assert!(AuditTarget::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn websocket_links_are_read_from_either_form() {
        let ok = |body: &str| HttpResponse {
            status: 200,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        };
        let jrd = format!(r#"{{"links":[{{"rel":"{WEBSOCKET_REL}","href":"wss://h/ws"}}]}}"#);
        assert_eq!(websocket_link(&ok(&jrd)).unwrap(), "wss://h/ws");
        let xrd = format!(
            "<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'><Link rel='{WEBSOCKET_REL}' href='ws://h:1/x'/></XRD>"
        );
        assert_eq!(websocket_link(&ok(&xrd)).unwrap(), "ws://h:1/x");
        assert!(websocket_link(&ok(r#"{"links":[]}"#)).is_err());
        let mut missing = ok("");
        missing.status = 404;
        assert_eq!(websocket_link(&missing).unwrap_err(), "HTTP 404");
        let http = format!(r#"{{"links":[{{"rel":"{WEBSOCKET_REL}","href":"https://h/ws"}}]}}"#);
        assert!(websocket_link(&ok(&http)).is_err());
    }
}
