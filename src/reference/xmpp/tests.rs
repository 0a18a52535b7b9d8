//! Drives the reference server over real loopback WebSockets with the `login` routine, and shows each fault.

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{WebSocketStream, client_async};

use super::*;
use crate::violation::Violation;
use crate::xmpp::element::Element;
use crate::xmpp::framing::parse_message;
use crate::xmpp::login::{ElementIo, LoginIoError, LoginOutcome, LoginParams, login};
use crate::xmpp::stream::{close_xml, open_xml};

/// A test client: one WebSocket, framing applied, extra elements queued, framing violations kept.
struct Client {
    ws: WebSocketStream<TcpStream>,
    queue: VecDeque<Element>,
    violations: Vec<Violation>,
    wait: Duration,
}

impl Client {
    async fn connect(url: &str, addr: SocketAddr) -> Client {
        let mut req = url.into_client_request().unwrap();
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("xmpp"));
        let tcp = TcpStream::connect(addr).await.unwrap();
        let (ws, resp) = client_async(req, tcp).await.unwrap();
        assert_eq!(
            resp.headers()
                .get("Sec-WebSocket-Protocol")
                .map(|v| v.to_str().unwrap()),
            Some("xmpp"),
            "RFC7395-3.1-2"
        );
        Client {
            ws,
            queue: VecDeque::new(),
            violations: Vec::new(),
            wait: Duration::from_secs(5),
        }
    }

    async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text.to_string())).await.unwrap();
    }

    /// The next element, or `Timeout` after `within`.
    async fn next_within(&mut self, within: Duration) -> Result<Element, LoginIoError> {
        if let Some(el) = self.queue.pop_front() {
            return Ok(el);
        }
        loop {
            let msg = tokio::time::timeout(within, self.ws.next())
                .await
                .map_err(|_| LoginIoError::Timeout)?;
            match msg {
                Some(Ok(Message::Text(t))) => {
                    let framed = parse_message(t.as_str())?;
                    self.violations.extend(framed.violations);
                    self.queue.extend(framed.extra);
                    return Ok(framed.element);
                }
                Some(Ok(Message::Close(_))) | None => {
                    return Err(LoginIoError::Closed("closed".into()));
                }
                Some(Ok(Message::Binary(_))) => {
                    self.violations
                        .push(Violation::new("RFC7395-3.2-1", "binary message"));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(LoginIoError::Io(e.to_string())),
            }
        }
    }

    async fn expect(&mut self) -> Element {
        let wait = self.wait;
        self.next_within(wait).await.unwrap()
    }

    /// Asserts that nothing arrives for a short while.
    async fn expect_none(&mut self) {
        match self.next_within(Duration::from_millis(300)).await {
            Err(LoginIoError::Timeout) => {}
            other => panic!("expected nothing, got {other:?}"),
        }
    }
}

impl ElementIo for Client {
    async fn send(&mut self, xml: String) -> Result<(), LoginIoError> {
        self.ws
            .send(Message::text(xml))
            .await
            .map_err(|e| LoginIoError::Io(e.to_string()))
    }
    async fn recv(&mut self) -> Result<Element, LoginIoError> {
        let wait = self.wait;
        self.next_within(wait).await
    }
}

async fn server(faults: &[XmppFault]) -> XmppServerHandle {
    start(XmppServerConfig {
        faults: faults.iter().copied().collect(),
        ..XmppServerConfig::default()
    })
    .await
    .unwrap()
}

fn params(user: &str, resource: &str) -> LoginParams {
    LoginParams {
        domain: "localhost".into(),
        user: user.into(),
        password: "secret".into(),
        resource: Some(resource.into()),
        mechanism: None,
        nonce: None,
        bind: true,
    }
}

async fn logged_in(h: &XmppServerHandle, user: &str, resource: &str) -> (Client, LoginOutcome) {
    let mut c = Client::connect(&h.url(), h.addr).await;
    let out = login(&mut c, &params(user, resource)).await.unwrap();
    (c, out)
}

fn specs(v: &[Violation]) -> Vec<&str> {
    v.iter().map(|v| v.spec.as_str()).collect()
}

#[tokio::test]
async fn login_presence_message_ping_close() {
    let h = server(&[]).await;
    assert!(h.url().starts_with("ws://127.0.0.1:") && h.url().ends_with("/xmpp-websocket"));
    let (mut bob, out) = logged_in(&h, "bob", "b1").await;
    assert_eq!(out.full_jid.as_deref(), Some("bob@localhost/b1"));
    assert!(out.violations.is_empty(), "{:?}", out.violations);
    assert!(bob.violations.is_empty(), "{:?}", bob.violations);
    assert_eq!(out.features.session, Some(true));

    bob.send_text("<presence xmlns='jabber:client'/>").await;
    let p = bob.expect().await;
    assert_eq!(
        (p.name.as_str(), p.attr("from")),
        ("presence", Some("bob@localhost/b1"))
    );

    let (mut alice, _) = logged_in(&h, "alice", "a1").await;
    alice.send_text("<presence/>").await;
    let p = alice.expect().await;
    assert_eq!(p.attr("from"), Some("alice@localhost/a1"));
    assert_eq!(p.ns.as_deref(), Some("jabber:client"));

    alice
        .send_text("<message xmlns='jabber:client' to='bob@localhost/b1' type='chat' id='m1' from='forged@x'><body>hello bob</body></message>")
        .await;
    let m = bob.expect().await;
    assert_eq!(m.attr("from"), Some("alice@localhost/a1"));
    assert_eq!(m.attr("to"), Some("bob@localhost/b1"));
    assert_eq!(m.find("body").unwrap().text(), "hello bob");
    assert_eq!(m.find("body").unwrap().ns.as_deref(), Some("jabber:client"));

    alice
        .send_text("<iq xmlns='jabber:client' type='get' id='ping_1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
        .await;
    let r = alice.expect().await;
    assert_eq!(
        (r.attr("type"), r.attr("id"), r.attr("from"), r.attr("to")),
        (
            Some("result"),
            Some("ping_1"),
            Some("localhost"),
            Some("alice@localhost/a1")
        )
    );

    alice.send_text(&close_xml()).await;
    let c = alice.expect().await;
    assert!(crate::xmpp::stream::is_close(&c));
    assert!(matches!(
        alice.next_within(Duration::from_secs(3)).await,
        Err(LoginIoError::Closed(_))
    ));
    h.shutdown().await;
}

#[tokio::test]
async fn iq_and_message_errors() {
    let h = server(&[]).await;
    let (mut a, _) = logged_in(&h, "alice", "a1").await;
    a.send_text("<iq type='get' id='q1'><query xmlns='urn:example:unknown'/></iq>")
        .await;
    let e = a.expect().await;
    assert_eq!((e.attr("type"), e.attr("id")), (Some("error"), Some("q1")));
    let err = crate::xmpp::stanza::error_of(&e).unwrap();
    assert_eq!(
        (err.error_type.as_str(), err.condition.as_str()),
        ("cancel", "service-unavailable")
    );

    a.send_text(
        "<iq type='get' id='q2' to='bob@localhost/none'><ping xmlns='urn:xmpp:ping'/></iq>",
    )
    .await;
    let e = a.expect().await;
    assert_eq!(
        crate::xmpp::stanza::error_of(&e).unwrap().condition,
        "service-unavailable"
    );

    a.send_text("<message to='bob@localhost/none' type='chat' id='m2'><body>x</body></message>")
        .await;
    let e = a.expect().await;
    assert_eq!(
        (e.name.as_str(), e.attr("type"), e.attr("from")),
        ("message", Some("error"), Some("bob@localhost/none"))
    );

    a.send_text("<iq type='bogus' id='q3'/>").await;
    assert_eq!(
        crate::xmpp::stanza::error_of(&a.expect().await)
            .unwrap()
            .condition,
        "bad-request"
    );

    // A chat message to an unknown full JID reaches another available resource of that account.
    let (mut b2, _) = logged_in(&h, "bob", "b2").await;
    b2.send_text("<presence/>").await;
    b2.expect().await;
    a.send_text("<message to='bob@localhost/gone' type='chat' id='m3'><body>hi</body></message>")
        .await;
    let m = b2.expect().await;
    assert_eq!(
        (m.attr("id"), m.attr("to")),
        (Some("m3"), Some("bob@localhost/gone"))
    );

    // An iq to a connected full JID is routed, and the result comes back.
    a.send_text("<iq type='get' id='q4' to='bob@localhost/b2'><query xmlns='urn:x'/></iq>")
        .await;
    let q = b2.expect().await;
    assert_eq!(q.attr("from"), Some("alice@localhost/a1"));
    b2.send_text("<iq type='result' id='q4' to='alice@localhost/a1'/>")
        .await;
    let r = a.expect().await;
    assert_eq!(
        (r.attr("type"), r.attr("from")),
        (Some("result"), Some("bob@localhost/b2"))
    );
    h.shutdown().await;
}

#[tokio::test]
async fn presence_reaches_other_resources_and_unavailable_on_drop() {
    let h = server(&[]).await;
    let (mut b1, _) = logged_in(&h, "bob", "b1").await;
    b1.send_text("<presence/>").await;
    b1.expect().await;
    let (mut b2, _) = logged_in(&h, "bob", "b2").await;
    b2.send_text("<presence><priority>5</priority></presence>")
        .await;
    // b2 gets its own presence and b1's; b1 gets b2's.
    let mut froms = vec![
        b2.expect().await.attr("from").unwrap().to_string(),
        b2.expect().await.attr("from").unwrap().to_string(),
    ];
    froms.sort();
    assert_eq!(froms, ["bob@localhost/b1", "bob@localhost/b2"]);
    assert_eq!(b1.expect().await.attr("from"), Some("bob@localhost/b2"));
    drop(b2);
    let gone = b1.expect().await;
    assert_eq!(
        (gone.attr("type"), gone.attr("from")),
        (Some("unavailable"), Some("bob@localhost/b2"))
    );
    h.shutdown().await;
}

#[tokio::test]
async fn negotiation_errors() {
    let h = server(&[]).await;
    // Wrong password: <failure><not-authorized/>, and the stream stays open.
    let mut c = Client::connect(&h.url(), h.addr).await;
    let mut p = params("alice", "a1");
    p.password = "wrong".into();
    let err = login(&mut c, &p).await.unwrap_err();
    assert_eq!(
        err,
        crate::xmpp::login::LoginError::SaslFailure("not-authorized".into())
    );
    c.send_text(&crate::xmpp::sasl::plain_auth_xml("", "alice", "secret"))
        .await;
    assert_eq!(c.expect().await.name, "success");

    // Unknown host: <open/>, then <host-unknown/>, then <close/>, then the WebSocket closes.
    let mut c = Client::connect(&h.url(), h.addr).await;
    c.send_text(&open_xml("example.org")).await;
    assert!(crate::xmpp::stream::is_open(&c.expect().await));
    let e = c.expect().await;
    assert_eq!(
        crate::xmpp::stream::stream_error_condition(&e).as_deref(),
        Some("host-unknown")
    );
    assert!(crate::xmpp::stream::is_close(&c.expect().await));
    assert!(matches!(
        c.next_within(Duration::from_secs(3)).await,
        Err(LoginIoError::Closed(_))
    ));

    // Binary message: <bad-format/>.
    let mut c = Client::connect(&h.url(), h.addr).await;
    c.send_text(&open_xml("localhost")).await;
    c.expect().await;
    c.expect().await;
    c.ws.send(Message::binary(b"<presence/>".to_vec()))
        .await
        .unwrap();
    let e = c.expect().await;
    assert_eq!(
        crate::xmpp::stream::stream_error_condition(&e).as_deref(),
        Some("bad-format")
    );

    // Stanza after auth but before bind: <not-authorized/>.
    let mut c = Client::connect(&h.url(), h.addr).await;
    c.send_text(&open_xml("localhost")).await;
    c.expect().await;
    c.expect().await;
    c.send_text(&crate::xmpp::sasl::plain_auth_xml("", "alice", "secret"))
        .await;
    c.expect().await;
    c.send_text(&open_xml("localhost")).await;
    c.expect().await;
    c.expect().await;
    c.send_text("<message to='bob@localhost'><body>x</body></message>")
        .await;
    let e = c.expect().await;
    assert_eq!(
        crate::xmpp::stream::stream_error_condition(&e).as_deref(),
        Some("not-authorized")
    );
    h.shutdown().await;
}

#[tokio::test]
async fn handshake_requires_the_xmpp_subprotocol() {
    let h = server(&[]).await;
    let tcp = TcpStream::connect(h.addr).await.unwrap();
    match client_async(h.url(), tcp).await {
        Err(WsError::Http(resp)) => assert_eq!(resp.status(), 400),
        other => panic!(
            "expected HTTP 400, got {:?}",
            other.map(|(_, r)| r.status())
        ),
    }
    let tcp = TcpStream::connect(h.addr).await.unwrap();
    let mut req = format!("ws://{}/elsewhere", h.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("xmpp"));
    match client_async(req, tcp).await {
        Err(WsError::Http(resp)) => assert_eq!(resp.status(), 404),
        other => panic!(
            "expected HTTP 404, got {:?}",
            other.map(|(_, r)| r.status())
        ),
    }
    h.shutdown().await;
}

#[tokio::test]
async fn dropping_the_handle_stops_the_server() {
    let h = server(&[]).await;
    let (mut c, _) = logged_in(&h, "alice", "a1").await;
    drop(h);
    let e = c.expect().await;
    assert_eq!(
        crate::xmpp::stream::stream_error_condition(&e).as_deref(),
        Some("system-shutdown")
    );
}

// ---- one test per fault: the observable difference ----

#[tokio::test]
async fn fault_stream_header() {
    let h = server(&[XmppFault::StreamHeader]).await;
    let (_, out) = logged_in(&h, "alice", "a1").await;
    let s = specs(&out.violations);
    assert!(
        s.contains(&"RFC7395-3.4-2") && s.contains(&"RFC7395-3.3.2-1"),
        "{s:?}"
    );
}

#[tokio::test]
async fn fault_two_elements_per_message() {
    let h = server(&[XmppFault::TwoElementsPerMessage]).await;
    let (c, out) = logged_in(&h, "alice", "a1").await;
    assert!(out.violations.is_empty());
    // Both the first and the post-SASL header arrive glued to their features.
    assert_eq!(specs(&c.violations), ["RFC7395-3.3.3-4", "RFC7395-3.3.3-4"]);
}

#[tokio::test]
async fn fault_presence_not_reflected() {
    let h = server(&[XmppFault::PresenceNotReflected]).await;
    let (mut c, _) = logged_in(&h, "alice", "a1").await;
    c.send_text("<presence/>").await;
    c.expect_none().await;
}

#[tokio::test]
async fn fault_no_close_reply() {
    let h = server(&[XmppFault::NoCloseReply]).await;
    let (mut c, _) = logged_in(&h, "alice", "a1").await;
    c.send_text(&close_xml()).await;
    assert!(matches!(
        c.next_within(Duration::from_secs(3)).await,
        Err(LoginIoError::Closed(_))
    ));
}

#[tokio::test]
async fn fault_wrong_from_on_message() {
    let h = server(&[XmppFault::WrongFromOnMessage]).await;
    let (mut a, _) = logged_in(&h, "alice", "a1").await;
    let (mut b, _) = logged_in(&h, "bob", "b1").await;
    a.send_text("<message to='bob@localhost/b1' type='chat'><body>x</body></message>")
        .await;
    assert_eq!(b.expect().await.attr("from"), Some("alice@localhost"));
}

#[tokio::test]
async fn fault_iq_unknown_ignored() {
    let h = server(&[XmppFault::IqUnknownIgnored]).await;
    let (mut a, _) = logged_in(&h, "alice", "a1").await;
    a.send_text("<iq type='get' id='q1'><query xmlns='urn:example:unknown'/></iq>")
        .await;
    a.expect_none().await;
}

#[tokio::test]
async fn fault_reuse_stream_id() {
    let h = server(&[XmppFault::ReuseStreamId]).await;
    let (_, out) = logged_in(&h, "alice", "a1").await;
    assert_eq!(specs(&out.violations), ["RFC6120-6.4.6-5"]);
}

#[tokio::test]
async fn fault_open_without_id() {
    let h = server(&[XmppFault::OpenWithoutId]).await;
    let (_, out) = logged_in(&h, "alice", "a1").await;
    assert_eq!(
        specs(&out.violations),
        ["RFC6120-4.7.3-4", "RFC6120-4.7.3-4"]
    );
}

#[tokio::test]
async fn fault_advertise_starttls() {
    let h = server(&[XmppFault::AdvertiseStarttls]).await;
    let (_, out) = logged_in(&h, "alice", "a1").await;
    assert_eq!(specs(&out.violations), ["RFC7395-3.9-2"]);
}

#[tokio::test]
async fn fault_error_without_open() {
    let h = server(&[XmppFault::ErrorWithoutOpen]).await;
    let mut c = Client::connect(&h.url(), h.addr).await;
    c.send_text(&open_xml("example.org")).await;
    let first = c.expect().await;
    assert!(crate::xmpp::stream::is_stream_error(&first), "{first}");
}
