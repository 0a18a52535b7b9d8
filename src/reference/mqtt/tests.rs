//! Integration-style tests of the reference broker over loopback, through a tiny client built on the codec.

use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::Message;

use super::link::Link;
use super::{BrokerConfig, BrokerHandle, MqttFault, start};
use crate::mqtt::codec::{Decoded, Decoder, Direction};
use crate::mqtt::{
    Ack, Connack, Connect, ConnectReturnCode, Disconnect, Filter, Packet, Payload, Publish, Rule,
    SubackReturnCode, Subscribe, Unsuback, Unsubscribe, Version, Will, encode,
};

pub(super) const WAIT: Duration = Duration::from_secs(3);
pub(super) const QUIET: Duration = Duration::from_millis(300);

pub(super) async fn broker(faults: &[MqttFault]) -> BrokerHandle {
    start(BrokerConfig {
        faults: faults.iter().copied().collect(),
        ..BrokerConfig::default()
    })
    .await
    .expect("broker starts")
}

/// What the client saw next.
#[derive(Debug)]
pub(super) enum Got {
    Packet(Box<Decoded>),
    Malformed,
    Closed,
    Timeout,
}

pub(super) struct Client {
    pub(super) link: Link,
    pub(super) dec: Decoder,
    pub(super) version: Version,
}

impl Client {
    pub(super) async fn tcp(b: &BrokerHandle) -> Self {
        let stream = TcpStream::connect(b.tcp_addr).await.unwrap();
        Self::over(Link::Tcp(stream))
    }

    pub(super) fn over(link: Link) -> Self {
        Self {
            link,
            dec: Decoder::new(Version::V311, Direction::ServerToClient, 1 << 20),
            version: Version::V311,
        }
    }

    /// The same client speaking MQTT 5.0.
    pub(super) fn v5(mut self) -> Self {
        self.version = Version::V5;
        self.dec = Decoder::new(Version::V5, Direction::ServerToClient, 1 << 20);
        self
    }

    /// Opens a TCP connection and completes CONNECT/CONNACK.
    async fn connect(b: &BrokerHandle, client_id: &str, clean: bool) -> (Self, Connack) {
        let mut c = Self::tcp(b).await;
        let connack = c.handshake(client_id, clean).await;
        (c, connack)
    }

    async fn handshake(&mut self, client_id: &str, clean: bool) -> Connack {
        self.send(Packet::Connect(Connect {
            client_id: client_id.into(),
            clean_session: clean,
            ..Connect::default()
        }))
        .await;
        match self.recv().await {
            Packet::Connack(c) => c,
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    pub(super) async fn send(&mut self, p: Packet) {
        let bytes = encode(&p, self.version).unwrap();
        self.send_raw(&bytes).await;
    }

    pub(super) async fn send_raw(&mut self, bytes: &[u8]) {
        // The broker may already have closed; reading tells.
        let _ = self.link.send(bytes.to_vec()).await;
    }

    pub(super) async fn next(&mut self, wait: Duration) -> Got {
        let deadline = Instant::now() + wait;
        loop {
            match self.dec.next() {
                Ok(Some(d)) => return Got::Packet(Box::new(d)),
                Ok(None) => {}
                Err(_) => return Got::Malformed,
            }
            match tokio::time::timeout_at(deadline, self.link.recv()).await {
                Err(_) => return Got::Timeout,
                Ok(Ok(Some(bytes))) => self.dec.push(&bytes),
                Ok(_) => return Got::Closed,
            }
        }
    }

    /// The next packet, which must be free of violations.
    pub(super) async fn recv(&mut self) -> Packet {
        match self.next(WAIT).await {
            Got::Packet(d) => {
                assert!(d.violations.is_empty(), "broker sent {:?}", d.violations);
                d.packet
            }
            other => panic!("expected a packet, got {other:?}"),
        }
    }

    pub(super) async fn expect_closed(&mut self) {
        match self.next(WAIT).await {
            Got::Closed => {}
            other => panic!("expected the broker to close, got {other:?}"),
        }
    }

    pub(super) async fn expect_silence(&mut self) {
        match self.next(QUIET).await {
            Got::Timeout => {}
            other => panic!("expected nothing, got {other:?}"),
        }
    }

    async fn subscribe(&mut self, id: u16, filters: &[(&str, u8)]) -> Vec<SubackReturnCode> {
        self.send(Packet::Subscribe(Subscribe {
            id,
            properties: Default::default(),
            filters: filters
                .iter()
                .map(|&(topic, qos)| Filter::new(topic, qos))
                .collect(),
        }))
        .await;
        match self.recv().await {
            Packet::Suback(s) => {
                assert_eq!(s.id, id);
                s.reasons
                    .into_iter()
                    .map(|c| SubackReturnCode::from_byte(c.to_byte()))
                    .collect()
            }
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }

    pub(super) async fn expect_publish(&mut self) -> Publish {
        match self.recv().await {
            Packet::Publish(p) => p,
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }
}

fn publish(topic: &str, qos: u8, id: Option<u16>, payload: &str, retain: bool) -> Packet {
    Packet::Publish(Publish {
        dup: false,
        qos,
        retain,
        topic: topic.into(),
        id,
        payload: payload.into(),
        ..Publish::default()
    })
}

fn accepted(session_present: bool) -> Connack {
    Connack::v311(session_present, ConnectReturnCode::Accepted)
}

// ---- connection rules ----

#[tokio::test]
async fn connect_then_ping() {
    let b = broker(&[]).await;
    let (mut c, connack) = Client::connect(&b, "c1", true).await;
    assert_eq!(connack, accepted(false));
    c.send(Packet::Pingreq {}).await;
    assert_eq!(c.recv().await, Packet::Pingresp {});
    b.shutdown().await;
}

#[tokio::test]
async fn first_packet_must_be_connect() {
    let b = broker(&[]).await;
    let mut c = Client::tcp(&b).await;
    c.send(Packet::Pingreq {}).await;
    c.expect_closed().await;
}

#[tokio::test]
async fn unsupported_level_gets_connack_0x01_then_close() {
    let b = broker(&[]).await;
    for level in [3u8, 6] {
        let mut c = Client::tcp(&b).await;
        c.send(Packet::Connect(Connect {
            protocol_level: level,
            client_id: "x".into(),
            ..Connect::default()
        }))
        .await;
        assert_eq!(
            c.recv().await,
            Packet::Connack(Connack::v311(
                false,
                ConnectReturnCode::UnacceptableProtocolVersion
            ))
        );
        c.expect_closed().await;
    }
    // A 5.0 CONNECT with properties (not a well-formed 3.1.1 CONNECT) is served in 5.0.
    let mut c = Client::tcp(&b).await.v5();
    c.send_raw(&[
        0x10, 0x11, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x02, 0x00, 0x3c, 0x03, 0x21, 0x00,
        0x0a, 0x00, 0x01, b'x',
    ])
    .await;
    let Packet::Connack(connack) = c.recv().await else {
        panic!()
    };
    assert_eq!(connack.reason.unwrap(), crate::mqtt::ReasonCode::Success);
    assert_eq!(connack.properties.receive_maximum, Some(20));
}

#[tokio::test]
async fn bad_protocol_name_or_reserved_flag_closes_without_connack() {
    let b = broker(&[]).await;
    for connect in [
        Connect {
            protocol_name: "MQIsdp".into(),
            protocol_level: 3,
            client_id: "x".into(),
            ..Connect::default()
        },
        Connect {
            reserved_flag: true,
            client_id: "x".into(),
            ..Connect::default()
        },
    ] {
        let mut c = Client::tcp(&b).await;
        c.send(Packet::Connect(connect)).await;
        c.expect_closed().await;
    }
}

#[tokio::test]
async fn empty_client_id() {
    let b = broker(&[]).await;
    let mut c = Client::tcp(&b).await;
    let connack = c.handshake("", false).await;
    assert_eq!(connack.code.unwrap(), ConnectReturnCode::IdentifierRejected);
    assert!(!connack.session_present);
    c.expect_closed().await;
    let (mut c, connack) = Client::connect(&b, "", true).await;
    assert_eq!(connack, accepted(false));
    c.send(Packet::Pingreq {}).await;
    assert_eq!(c.recv().await, Packet::Pingresp {});
}

#[tokio::test]
async fn second_connect_closes() {
    let b = broker(&[]).await;
    let (mut c, _) = Client::connect(&b, "twice", true).await;
    c.send(Packet::Connect(Connect {
        client_id: "twice".into(),
        ..Connect::default()
    }))
    .await;
    c.expect_closed().await;
}

#[tokio::test]
async fn violations_and_malformed_packets_close() {
    let b = broker(&[]).await;
    for bad in [
        &[0x41, 0x02, 0x00, 0x07][..],               // reserved flag bits
        &[0x40, 0x01, 0x00],                         // truncated id
        &[0x36, 0x05, 0x00, 0x01, b't', 0x00, 0x01], // QoS 3
        &[0x32, 0x05, 0x00, 0x01, b't', 0x00, 0x00], // packet id 0
        &[0x30, 0x04, 0x00, 0x02, 0xc3, 0x28],       // bad UTF-8
        &[0x82, 0x02, 0x00, 0x01],                   // SUBSCRIBE without filters
        &[0xd0, 0x00],                               // PINGRESP from a client
        &[0xf0, 0x00],                               // reserved type
        &[0xc0, 0x80, 0x00],                         // non-minimal length
        &[0x30, 0xff, 0xff, 0xff, 0x7f],             // too large
    ] {
        let (mut c, _) = Client::connect(&b, "bad", true).await;
        c.send_raw(bad).await;
        c.expect_closed().await;
    }
}

#[tokio::test]
async fn client_id_takeover_disconnects_the_first() {
    let b = broker(&[]).await;
    let (mut first, _) = Client::connect(&b, "same", true).await;
    let (mut second, _) = Client::connect(&b, "same", true).await;
    first.expect_closed().await;
    second.send(Packet::Pingreq {}).await;
    assert_eq!(second.recv().await, Packet::Pingresp {});
}

#[tokio::test]
async fn keep_alive_closes_after_one_and_a_half_periods() {
    let b = broker(&[]).await;
    let mut c = Client::tcp(&b).await;
    c.send(Packet::Connect(Connect {
        client_id: "ka".into(),
        keep_alive: 1,
        ..Connect::default()
    }))
    .await;
    assert!(matches!(c.recv().await, Packet::Connack(_)));
    let start = Instant::now();
    c.expect_closed().await;
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(1300) && waited < Duration::from_millis(2900),
        "{waited:?}"
    );
}

// ---- subscriptions and delivery ----

#[tokio::test]
async fn suback_grants_requested_qos_and_rejects_bad_filters() {
    let b = broker(&[]).await;
    let (mut c, _) = Client::connect(&b, "s", true).await;
    let codes = c
        .subscribe(1, &[("a/+", 1), ("a/#/b", 0), ("c", 2), ("d+", 0), ("", 0)])
        .await;
    assert_eq!(
        codes,
        [
            SubackReturnCode::GrantedQos1,
            SubackReturnCode::Failure,
            SubackReturnCode::GrantedQos2,
            SubackReturnCode::Failure,
            SubackReturnCode::Failure,
        ]
    );
}

#[tokio::test]
async fn delivery_uses_minimum_qos_and_fresh_ids() {
    let b = broker(&[]).await;
    let (mut sub, _) = Client::connect(&b, "sub", true).await;
    sub.subscribe(1, &[("t/#", 1)]).await;
    let (mut publ, _) = Client::connect(&b, "pub", true).await;

    publ.send(publish("t/x", 2, Some(9), "two", false)).await;
    assert_eq!(publ.recv().await, Packet::Pubrec(Ack::new(9)));
    let got = sub.expect_publish().await;
    assert_eq!((got.qos, got.retain, got.dup), (1, false, false));
    assert_eq!(got.payload, Payload::from("two"));
    let id = got.id.expect("QoS 1 has an id");
    assert_ne!(id, 0);
    sub.send(Packet::Puback(Ack::new(id))).await;

    publ.send(publish("t/y", 0, None, "zero", false)).await;
    let got = sub.expect_publish().await;
    assert_eq!((got.qos, got.id), (0, None));

    publ.send(publish("t/z", 1, Some(3), "one", false)).await;
    assert_eq!(publ.recv().await, Packet::Puback(Ack::new(3)));
    let got = sub.expect_publish().await;
    assert_eq!(got.qos, 1);
    sub.send(Packet::Puback(Ack::new(got.id.unwrap()))).await;
    publ.send(Packet::Pubrel(Ack::new(9))).await;
    assert_eq!(publ.recv().await, Packet::Pubcomp(Ack::new(9)));
    sub.expect_silence().await;
}

#[tokio::test]
async fn qos2_is_delivered_exactly_once() {
    let b = broker(&[]).await;
    let (mut sub, _) = Client::connect(&b, "sub2", true).await;
    sub.subscribe(1, &[("q2", 2)]).await;
    let (mut publ, _) = Client::connect(&b, "pub2", true).await;

    publ.send(publish("q2", 2, Some(7), "once", false)).await;
    assert_eq!(publ.recv().await, Packet::Pubrec(Ack::new(7)));
    // The sender re-sends before PUBREL (DUP 1): PUBREC again, no second delivery.
    let mut again = publish("q2", 2, Some(7), "once", false);
    if let Packet::Publish(p) = &mut again {
        p.dup = true;
    }
    publ.send(again).await;
    assert_eq!(publ.recv().await, Packet::Pubrec(Ack::new(7)));
    publ.send(Packet::Pubrel(Ack::new(7))).await;
    assert_eq!(publ.recv().await, Packet::Pubcomp(Ack::new(7)));

    let got = sub.expect_publish().await;
    assert_eq!(got.qos, 2);
    let id = got.id.unwrap();
    sub.send(Packet::Pubrec(Ack::new(id))).await;
    assert_eq!(sub.recv().await, Packet::Pubrel(Ack::new(id)));
    sub.send(Packet::Pubcomp(Ack::new(id))).await;
    sub.expect_silence().await;

    // After PUBCOMP the same id is a new publication.
    publ.send(publish("q2", 2, Some(7), "twice", false)).await;
    assert_eq!(publ.recv().await, Packet::Pubrec(Ack::new(7)));
    assert_eq!(sub.expect_publish().await.payload, Payload::from("twice"));
}

#[tokio::test]
async fn retained_set_delivered_and_cleared() {
    let b = broker(&[]).await;
    let (mut publ, _) = Client::connect(&b, "rp", true).await;
    publ.send(publish("r/t", 1, Some(1), "hello", true)).await;
    assert_eq!(publ.recv().await, Packet::Puback(Ack::new(1)));

    let (mut sub, _) = Client::connect(&b, "rs", true).await;
    sub.subscribe(1, &[("r/#", 0)]).await;
    let got = sub.expect_publish().await;
    assert!(got.retain, "retained delivery on subscribe has RETAIN 1");
    assert_eq!((got.topic.as_str(), got.qos), ("r/t", 0));
    assert_eq!(got.payload, Payload::from("hello"));

    // Normal delivery of a retained publish has RETAIN 0.
    publ.send(publish("r/t", 0, None, "again", true)).await;
    let got = sub.expect_publish().await;
    assert!(!got.retain);
    // An empty retained payload is delivered and deletes the retained message.
    publ.send(publish("r/t", 0, None, "", true)).await;
    let got = sub.expect_publish().await;
    assert!(got.payload.is_empty() && !got.retain);

    let (mut late, _) = Client::connect(&b, "rl", true).await;
    late.subscribe(1, &[("r/#", 0)]).await;
    late.expect_silence().await;
}

#[tokio::test]
async fn unsubscribe_stops_delivery() {
    let b = broker(&[]).await;
    let (mut c, _) = Client::connect(&b, "u", true).await;
    c.subscribe(1, &[("u/t", 0)]).await;
    c.send(Packet::Unsubscribe(Unsubscribe {
        properties: Default::default(),
        id: 2,
        topics: vec!["u/t".into(), "never/subscribed".into()],
    }))
    .await;
    assert_eq!(c.recv().await, Packet::Unsuback(Unsuback::new(2)));
    c.send(publish("u/t", 0, None, "x", false)).await;
    c.expect_silence().await;
}

#[tokio::test]
async fn dollar_topics_are_not_matched_by_leading_wildcards() {
    let b = broker(&[]).await;
    let (mut all, _) = Client::connect(&b, "all", true).await;
    all.subscribe(1, &[("#", 0), ("+/x", 0)]).await;
    let (mut sys, _) = Client::connect(&b, "sys", true).await;
    sys.subscribe(1, &[("$SYS/#", 0)]).await;
    sys.send(publish("$SYS/x", 0, None, "d", false)).await;
    assert_eq!(sys.expect_publish().await.topic, "$SYS/x");
    all.expect_silence().await;
}

// ---- will ----

async fn will_client(b: &BrokerHandle, id: &str) -> Client {
    let mut c = Client::tcp(b).await;
    c.send(Packet::Connect(Connect {
        client_id: id.into(),
        will: Some(Will {
            topic: "will/x".into(),
            payload: "bye".into(),
            qos: 1,
            retain: false,
            properties: Default::default(),
        }),
        ..Connect::default()
    }))
    .await;
    assert!(matches!(c.recv().await, Packet::Connack(_)));
    c
}

#[tokio::test]
async fn will_is_published_on_abnormal_close_only() {
    let b = broker(&[]).await;
    let (mut sub, _) = Client::connect(&b, "ws", true).await;
    sub.subscribe(1, &[("will/#", 1)]).await;

    let gone = will_client(&b, "w1").await;
    drop(gone);
    let got = sub.expect_publish().await;
    assert_eq!((got.topic.as_str(), got.qos), ("will/x", 1));
    assert_eq!(got.payload, Payload::from("bye"));
    sub.send(Packet::Puback(Ack::new(got.id.unwrap()))).await;

    let mut polite = will_client(&b, "w2").await;
    polite.send(Packet::Disconnect(Disconnect::default())).await;
    polite.expect_closed().await;
    sub.expect_silence().await;
}

// ---- sessions ----

#[tokio::test]
async fn persistent_session_keeps_subscriptions_and_queues() {
    let b = broker(&[]).await;
    let (mut c, connack) = Client::connect(&b, "p1", false).await;
    assert_eq!(connack, accepted(false));
    c.subscribe(1, &[("ps/t", 1)]).await;
    c.send(Packet::Disconnect(Disconnect::default())).await;
    c.expect_closed().await;

    let (mut publ, _) = Client::connect(&b, "pp", true).await;
    publ.send(publish("ps/t", 1, Some(1), "queued", false))
        .await;
    assert_eq!(publ.recv().await, Packet::Puback(Ack::new(1)));
    publ.send(publish("ps/t", 0, None, "lost", false)).await;
    publ.send(Packet::Pingreq {}).await;
    assert_eq!(publ.recv().await, Packet::Pingresp {});

    let (mut c, connack) = Client::connect(&b, "p1", false).await;
    assert_eq!(connack, accepted(true));
    let got = c.expect_publish().await;
    assert_eq!(got.payload, Payload::from("queued"));
    assert_eq!(got.qos, 1);
    c.send(Packet::Puback(Ack::new(got.id.unwrap()))).await;
    c.expect_silence().await;
    drop(c);

    // A clean session discards it.
    let (_c, connack) = Client::connect(&b, "p1", true).await;
    assert_eq!(connack, accepted(false));
}

#[tokio::test]
async fn unacknowledged_publish_is_resent_with_dup_on_reconnect() {
    let b = broker(&[]).await;
    let (mut c, _) = Client::connect(&b, "r1", false).await;
    c.subscribe(1, &[("re/t", 2)]).await;
    let (mut publ, _) = Client::connect(&b, "rp1", true).await;
    publ.send(publish("re/t", 1, Some(1), "m", false)).await;
    let first = c.expect_publish().await;
    assert!(!first.dup);
    drop(c);

    let (mut c, connack) = Client::connect(&b, "r1", false).await;
    assert!(connack.session_present);
    let again = c.expect_publish().await;
    assert!(again.dup);
    assert_eq!(again.id, first.id);
    assert_eq!(again.payload, first.payload);
}

// ---- WebSocket ----

async fn ws_client(b: &BrokerHandle, offer: Option<&str>) -> (Client, Option<String>) {
    let mut request = b.ws_url().into_client_request().unwrap();
    if let Some(offer) = offer {
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_str(offer).unwrap(),
        );
    }
    let stream = TcpStream::connect(b.ws_addr).await.unwrap();
    let (ws, response) = tokio_tungstenite::client_async(request, stream)
        .await
        .unwrap();
    let chosen = response
        .headers()
        .get("Sec-WebSocket-Protocol")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (Client::over(Link::Ws(Box::new(ws))), chosen)
}

#[tokio::test]
async fn websocket_answers_mqtt_and_reassembles_packets() {
    let b = broker(&[]).await;
    let (mut c, chosen) = ws_client(&b, Some("mqttv3.1, mqtt")).await;
    assert_eq!(chosen.as_deref(), Some("mqtt"));
    let connect = encode(
        &Packet::Connect(Connect {
            client_id: "wsc".into(),
            ..Connect::default()
        }),
        Version::V311,
    )
    .unwrap();
    // CONNECT split over two messages, then SUBSCRIBE + PUBLISH in one message.
    c.send_raw(&connect[..5]).await;
    c.send_raw(&connect[5..]).await;
    assert_eq!(c.recv().await, Packet::Connack(accepted(false)));
    let mut both = encode(
        &Packet::Subscribe(Subscribe {
            id: 1,
            properties: Default::default(),
            filters: vec![Filter::new("w/t", 0)],
        }),
        Version::V311,
    )
    .unwrap();
    both.extend(encode(&publish("w/t", 0, None, "over ws", false), Version::V311).unwrap());
    c.send_raw(&both).await;
    assert!(matches!(c.recv().await, Packet::Suback(_)));
    assert_eq!(c.expect_publish().await.payload, Payload::from("over ws"));

    // Without an offer the handshake still works, with no subprotocol.
    let (_c, chosen) = ws_client(&b, None).await;
    assert_eq!(chosen, None);
}

#[tokio::test]
async fn websocket_text_frame_closes() {
    let b = broker(&[]).await;
    let (mut c, _) = ws_client(&b, Some("mqtt")).await;
    c.handshake("wst", true).await;
    let Link::Ws(ws) = &mut c.link else { panic!() };
    use futures_util::SinkExt;
    ws.send(Message::text("hello")).await.unwrap();
    c.expect_closed().await;
}

#[tokio::test]
async fn shutdown_closes_connections() {
    let b = broker(&[]).await;
    let (mut c, _) = Client::connect(&b, "sd", true).await;
    b.shutdown().await;
    c.expect_closed().await;
}

#[tokio::test]
async fn hostile_bytes_never_take_the_broker_down() {
    let b = broker(&[]).await;
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let connect = encode(
        &Packet::Connect(Connect {
            client_id: "h".into(),
            ..Connect::default()
        }),
        Version::V311,
    )
    .unwrap();
    let samples: Vec<Vec<u8>> = crate::mqtt::sample_packets()
        .iter()
        .map(|p| encode(p, Version::V311).unwrap())
        .collect();
    for round in 0..150u64 {
        let mut bytes = if round % 3 == 0 {
            Vec::new()
        } else {
            connect.clone()
        };
        for _ in 0..(rand() % 6) {
            let mut p = samples[(rand() % samples.len() as u64) as usize].clone();
            if let Some(at) = (!p.is_empty()).then(|| (rand() % p.len() as u64) as usize) {
                p[at] = rand() as u8;
            }
            bytes.extend(p);
        }
        bytes.extend((0..rand() % 40).map(|_| rand() as u8));
        let mut c = Client::tcp(&b).await;
        c.send_raw(&bytes).await;
        // Whatever happens, the broker must answer strictly-correct packets or close.
        loop {
            match c.next(Duration::from_millis(50)).await {
                Got::Packet(d) => assert!(d.violations.is_empty(), "{:?}", d.violations),
                Got::Malformed => panic!("broker sent a malformed packet"),
                Got::Closed | Got::Timeout => break,
            }
        }
    }
    assert_eq!(b.panics(), 0);
    let (mut c, _) = Client::connect(&b, "after", true).await;
    c.send(Packet::Pingreq {}).await;
    assert_eq!(c.recv().await, Packet::Pingresp {});
}

// ---- faults: each shows the observable difference ----

#[tokio::test]
async fn fault_wrong_puback_id() {
    let b = broker(&[MqttFault::WrongPubackId]).await;
    let (mut c, _) = Client::connect(&b, "f", true).await;
    c.send(publish("f/t", 1, Some(7), "x", false)).await;
    assert_eq!(c.recv().await, Packet::Puback(Ack::new(8)));
}

#[tokio::test]
async fn fault_no_close_on_malformed() {
    let b = broker(&[MqttFault::NoCloseOnMalformed]).await;
    let (mut c, _) = Client::connect(&b, "f", true).await;
    c.send_raw(&[0x41, 0x02, 0x00, 0x07]).await;
    c.send_raw(&[0x40, 0x01, 0x00]).await;
    c.send(Packet::Pingreq {}).await;
    assert_eq!(c.recv().await, Packet::Pingresp {});
}

#[tokio::test]
async fn fault_suback_grants_more() {
    let b = broker(&[MqttFault::SubackGrantsMore]).await;
    let (mut c, _) = Client::connect(&b, "f", true).await;
    assert_eq!(
        c.subscribe(1, &[("f/t", 0)]).await,
        [SubackReturnCode::GrantedQos2]
    );
}

#[tokio::test]
async fn fault_retain_not_cleared() {
    let b = broker(&[MqttFault::RetainNotCleared]).await;
    let (mut c, _) = Client::connect(&b, "f", true).await;
    c.send(publish("f/r", 0, None, "keep", true)).await;
    c.send(publish("f/r", 0, None, "", true)).await;
    c.send(Packet::Pingreq {}).await;
    assert_eq!(c.recv().await, Packet::Pingresp {});
    c.subscribe(1, &[("f/r", 0)]).await;
    assert_eq!(c.expect_publish().await.payload, Payload::from("keep"));
}

#[tokio::test]
async fn fault_non_minimal_length() {
    let b = broker(&[MqttFault::NonMinimalLength]).await;
    let mut c = Client::tcp(&b).await;
    c.send(Packet::Connect(Connect {
        client_id: "f".into(),
        ..Connect::default()
    }))
    .await;
    let Got::Packet(d) = c.next(WAIT).await else {
        panic!()
    };
    assert_eq!(d.raw, [0x20, 0x82, 0x80, 0x80, 0x00, 0x00, 0x00]);
    assert_eq!(d.packet, Packet::Connack(accepted(false)));
    assert_eq!(d.violations.len(), 1);
    assert_eq!(
        Some(d.violations[0].spec.as_str()),
        Rule::NonMinimalLength.id(Version::V311)
    );
}

#[tokio::test]
async fn fault_no_connack_on_bad_level() {
    let b = broker(&[MqttFault::NoConnackOnBadLevel]).await;
    let mut c = Client::tcp(&b).await;
    c.send(Packet::Connect(Connect {
        protocol_level: 3,
        client_id: "f".into(),
        ..Connect::default()
    }))
    .await;
    c.expect_closed().await;
}

#[tokio::test]
async fn fault_no_pingresp() {
    let b = broker(&[MqttFault::NoPingresp]).await;
    let (mut c, _) = Client::connect(&b, "f", true).await;
    c.send(Packet::Pingreq {}).await;
    c.expect_silence().await;
}

#[tokio::test]
async fn fault_will_on_disconnect() {
    let b = broker(&[MqttFault::WillOnDisconnect]).await;
    let (mut sub, _) = Client::connect(&b, "fs", true).await;
    sub.subscribe(1, &[("will/#", 0)]).await;
    let mut polite = will_client(&b, "fw").await;
    polite.send(Packet::Disconnect(Disconnect::default())).await;
    polite.expect_closed().await;
    assert_eq!(sub.expect_publish().await.topic, "will/x");
}

#[tokio::test]
async fn fault_dollar_wildcard() {
    let b = broker(&[MqttFault::DollarWildcard]).await;
    let (mut c, _) = Client::connect(&b, "f", true).await;
    c.subscribe(1, &[("#", 0)]).await;
    c.send(publish("$SYS/x", 0, None, "d", false)).await;
    assert_eq!(c.expect_publish().await.topic, "$SYS/x");
}

#[tokio::test]
async fn fault_qos2_duplicate() {
    let b = broker(&[MqttFault::Qos2Duplicate]).await;
    let (mut c, _) = Client::connect(&b, "f", true).await;
    c.subscribe(1, &[("f/q", 0)]).await;
    for _ in 0..2 {
        c.send(publish("f/q", 2, Some(5), "dup", false)).await;
    }
    let mut publishes = 0;
    for _ in 0..4 {
        if let Packet::Publish(_) = c.recv().await {
            publishes += 1;
        }
    }
    assert_eq!(publishes, 2);
}

#[tokio::test]
async fn fault_retain_on_delivery() {
    let b = broker(&[MqttFault::RetainOnDelivery]).await;
    let (mut c, _) = Client::connect(&b, "f", true).await;
    c.subscribe(1, &[("f/d", 0)]).await;
    c.send(publish("f/d", 0, None, "r", true)).await;
    assert!(c.expect_publish().await.retain);
}
