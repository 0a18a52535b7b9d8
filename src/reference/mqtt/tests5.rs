//! MQTT 5.0 behaviour of the reference broker over loopback, and what each 5.0 fault switch changes.

use std::time::Duration;

use tokio::net::TcpStream;

use super::BrokerHandle;
use super::MqttFault as F;
use super::link::Link;
use super::tests::{Client, Got, QUIET, broker};
use crate::mqtt::{
    Ack, Connack, Connect, Disconnect, Filter, Packet, Properties, Publish, ReasonCode, Subscribe,
    Unsubscribe, UserProperty, Version, Will,
};

/// Connects a 5.0 client with these CONNECT properties (and will).
async fn c5(
    b: &BrokerHandle,
    id: &str,
    clean: bool,
    properties: Properties,
    will: Option<Will>,
) -> (Client, Connack) {
    let mut c = Client::tcp(b).await.v5();
    c.send(Packet::Connect(Connect {
        client_id: id.into(),
        clean_session: clean,
        properties,
        will,
        ..Connect::for_version(Version::V5)
    }))
    .await;
    match c.recv().await {
        Packet::Connack(k) => (c, k),
        other => panic!("expected CONNACK, got {other:?}"),
    }
}

/// A 5.0 client with a clean session and no properties.
async fn plain(b: &BrokerHandle, id: &str) -> Client {
    let (c, k) = c5(b, id, true, Properties::default(), None).await;
    assert_eq!(k.reason, Some(ReasonCode::Success));
    c
}

fn expiry(secs: u32) -> Properties {
    Properties {
        session_expiry_interval: Some(secs),
        ..Properties::default()
    }
}

impl Client {
    /// SUBSCRIBE with these filters and a Subscription Identifier; returns the SUBACK reason bytes.
    async fn sub5(&mut self, id: u16, filters: Vec<Filter>, sub_id: Option<u32>) -> Vec<u8> {
        self.send(Packet::Subscribe(Subscribe {
            id,
            properties: Properties {
                subscription_identifier: sub_id.into_iter().collect(),
                ..Properties::default()
            },
            filters,
        }))
        .await;
        match self.recv().await {
            Packet::Suback(s) => s.reasons.iter().map(|r| r.to_byte()).collect(),
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }

    /// The server's DISCONNECT reason, then the close.
    async fn expect_disconnect(&mut self) -> u8 {
        let reason = match self.recv().await {
            Packet::Disconnect(d) => d.reason.map_or(0, |r| r.to_byte()),
            other => panic!("expected DISCONNECT, got {other:?}"),
        };
        self.expect_closed().await;
        reason
    }
}

fn pub5(
    topic: &str,
    qos: u8,
    id: Option<u16>,
    payload: &str,
    retain: bool,
    properties: Properties,
) -> Packet {
    Packet::Publish(Publish {
        qos,
        retain,
        topic: topic.into(),
        id,
        payload: payload.into(),
        properties,
        ..Publish::default()
    })
}

fn opts(topic: &str, qos: u8, no_local: bool, rap: bool, rh: u8) -> Filter {
    Filter {
        no_local,
        retain_as_published: rap,
        retain_handling: rh,
        ..Filter::new(topic, qos)
    }
}

#[tokio::test]
async fn connack_states_limits_and_assigns_an_id() {
    for fault in [None, Some(F::NoAssignedClientId)] {
        let b = broker(&fault.into_iter().collect::<Vec<_>>()).await;
        let (_c, k) = c5(&b, "", false, Properties::default(), None).await;
        assert_eq!(k.reason, Some(ReasonCode::Success));
        let p = &k.properties;
        assert_eq!(p.receive_maximum, Some(20));
        assert_eq!(p.topic_alias_maximum, Some(10));
        assert_eq!(p.maximum_qos, None);
        assert_eq!(p.shared_subscription_available, Some(1));
        assert_eq!(p.assigned_client_identifier.is_some(), fault.is_none());
    }
}

#[tokio::test]
async fn unknown_authentication_method_is_refused() {
    let b = broker(&[]).await;
    let props = Properties {
        authentication_method: Some("NOPE".into()),
        ..Properties::default()
    };
    let (mut c, k) = c5(&b, "auth", true, props, None).await;
    assert_eq!(k.reason, Some(ReasonCode::BadAuthenticationMethod));
    assert!(!k.session_present);
    c.expect_closed().await;
}

#[tokio::test]
async fn session_expiry_keeps_or_ends_the_session() {
    for fault in [None, Some(F::SessionExpiryIgnored)] {
        let b = broker(&fault.into_iter().collect::<Vec<_>>()).await;
        let (c, _) = c5(&b, "s", true, expiry(0), None).await;
        drop(c);
        tokio::time::sleep(QUIET).await;
        let (c, k) = c5(&b, "s", false, expiry(60), None).await;
        assert!(!k.session_present, "expiry 0 ends the session");
        drop(c);
        tokio::time::sleep(QUIET).await;
        let (c, k) = c5(&b, "s", false, expiry(1), None).await;
        assert_eq!(k.session_present, fault.is_none());
        drop(c);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let (_c, k) = c5(&b, "s", false, expiry(1), None).await;
        assert!(!k.session_present, "the session expired");
    }
}

#[tokio::test]
async fn disconnect_may_not_raise_a_zero_session_expiry() {
    let b = broker(&[]).await;
    let mut c = plain(&b, "z").await;
    c.send(Packet::Disconnect(Disconnect {
        reason: Some(ReasonCode::NormalDisconnection),
        properties: expiry(30),
    }))
    .await;
    assert_eq!(c.expect_disconnect().await, 0x82);
}

fn rich_props() -> Properties {
    let up = |n: &str, v: &str| UserProperty {
        name: n.into(),
        value: v.into(),
    };
    Properties {
        payload_format_indicator: Some(1),
        content_type: Some("text/plain".into()),
        response_topic: Some("reply/here".into()),
        correlation_data: Some(b"\x00\x01".as_slice().into()),
        user_properties: vec![up("b", "1"), up("a", "2"), up("b", "3")],
        ..Properties::default()
    }
}

#[tokio::test]
async fn publish_properties_are_forwarded_unchanged() {
    for fault in [
        None,
        Some(F::UserPropertiesReordered),
        Some(F::PayloadFormatDropped),
    ] {
        let b = broker(&fault.into_iter().collect::<Vec<_>>()).await;
        let mut s = plain(&b, "sub").await;
        assert_eq!(s.sub5(1, vec![Filter::new("t", 1)], None).await, [1]);
        let mut p = plain(&b, "pub").await;
        p.send(pub5("t", 0, None, "hi", false, rich_props())).await;
        let got = s.expect_publish().await.properties;
        let sent = rich_props();
        let mut reversed = sent.user_properties.clone();
        reversed.reverse();
        match fault {
            None => assert_eq!(got, sent),
            Some(F::UserPropertiesReordered) => assert_eq!(got.user_properties, reversed),
            _ => {
                assert_eq!(got.payload_format_indicator, None);
                assert_eq!(got.content_type, sent.content_type);
            }
        }
    }
}

#[tokio::test]
async fn expired_messages_are_not_delivered() {
    for fault in [None, Some(F::MessageExpiryIgnored)] {
        let b = broker(&fault.into_iter().collect::<Vec<_>>()).await;
        let (mut s, _) = c5(&b, "late", true, expiry(60), None).await;
        s.sub5(1, vec![Filter::new("t", 1)], None).await;
        drop(s);
        tokio::time::sleep(QUIET).await;
        let mut p = plain(&b, "pub").await;
        let short = Properties {
            message_expiry_interval: Some(1),
            ..Properties::default()
        };
        let long = Properties {
            message_expiry_interval: Some(100),
            ..Properties::default()
        };
        p.send(pub5("t", 1, Some(1), "short", false, short)).await;
        p.recv().await;
        p.send(pub5("t", 1, Some(2), "long", false, long)).await;
        p.recv().await;
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let (mut s, k) = c5(&b, "late", false, expiry(60), None).await;
        assert!(k.session_present);
        let first = s.expect_publish().await;
        if fault.is_none() {
            assert_eq!(first.payload.as_bytes(), b"long");
            // MQTT-3.3.2-6: the time waited is taken off.
            let left = first.properties.message_expiry_interval.unwrap();
            assert!((97..100).contains(&left), "{left}");
        } else {
            assert_eq!(first.payload.as_bytes(), b"short");
        }
    }
}

#[tokio::test]
async fn subscription_identifiers_are_sent_on_delivery() {
    for fault in [None, Some(F::NoSubscriptionIdentifier)] {
        let b = broker(&fault.into_iter().collect::<Vec<_>>()).await;
        let mut s = plain(&b, "sub").await;
        s.sub5(1, vec![Filter::new("a/+", 0)], Some(7)).await;
        s.sub5(2, vec![Filter::new("a/#", 0)], Some(9)).await;
        let mut p = plain(&b, "pub").await;
        p.send(pub5("a/b", 0, None, "x", false, Properties::default()))
            .await;
        let mut ids = s.expect_publish().await.properties.subscription_identifier;
        ids.sort_unstable();
        let want: Vec<u32> = if fault.is_none() { vec![7, 9] } else { vec![] };
        assert_eq!(ids, want);
        s.expect_silence().await;
    }
}

#[tokio::test]
async fn no_local_keeps_own_messages_back() {
    for fault in [None, Some(F::NoLocalIgnored)] {
        let b = broker(&fault.into_iter().collect::<Vec<_>>()).await;
        let mut c = plain(&b, "me").await;
        c.sub5(1, vec![opts("t", 0, true, false, 0)], None).await;
        c.send(pub5("t", 0, None, "x", false, Properties::default()))
            .await;
        if fault.is_none() {
            c.expect_silence().await;
        } else {
            c.expect_publish().await;
        }
    }
}

#[tokio::test]
async fn no_local_on_a_shared_subscription_is_a_protocol_error() {
    let b = broker(&[]).await;
    let mut c = plain(&b, "me").await;
    c.send(Packet::Subscribe(Subscribe {
        id: 1,
        properties: Properties::default(),
        filters: vec![opts("$share/g/t", 0, true, false, 0)],
    }))
    .await;
    assert_eq!(c.expect_disconnect().await, 0x82);
}

#[tokio::test]
async fn retain_as_published_keeps_the_flag() {
    for fault in [None, Some(F::RetainAsPublishedIgnored)] {
        let b = broker(&fault.into_iter().collect::<Vec<_>>()).await;
        let mut s = plain(&b, "sub").await;
        s.sub5(
            1,
            vec![
                opts("rap", 0, false, true, 0),
                opts("plain", 0, false, false, 0),
            ],
            None,
        )
        .await;
        let mut p = plain(&b, "pub").await;
        p.send(pub5("rap", 0, None, "x", true, Properties::default()))
            .await;
        assert_eq!(s.expect_publish().await.retain, fault.is_none());
        p.send(pub5("plain", 0, None, "x", true, Properties::default()))
            .await;
        assert!(!s.expect_publish().await.retain);
    }
}

#[tokio::test]
async fn retain_handling_1_and_2() {
    for fault in [None, Some(F::RetainHandlingIgnored)] {
        let b = broker(&fault.into_iter().collect::<Vec<_>>()).await;
        let mut p = plain(&b, "pub").await;
        p.send(pub5("r", 1, Some(1), "kept", true, Properties::default()))
            .await;
        p.recv().await;
        let mut s = plain(&b, "sub").await;
        s.sub5(1, vec![opts("r", 0, false, false, 2)], None).await;
        if fault.is_none() {
            s.expect_silence().await;
        } else {
            assert!(s.expect_publish().await.retain);
        }
        s.sub5(2, vec![opts("r/#", 0, false, false, 1)], None).await;
        assert!(
            s.expect_publish().await.retain,
            "new subscription with Retain Handling 1"
        );
        s.sub5(3, vec![opts("r/#", 0, false, false, 1)], None).await;
        if fault.is_none() {
            s.expect_silence().await;
        } else {
            s.expect_publish().await;
        }
    }
}

#[tokio::test]
async fn shared_subscription_gives_each_message_to_one_member() {
    for fault in [None, Some(F::SharedSubscriptionDuplicates)] {
        let b = broker(&fault.into_iter().collect::<Vec<_>>()).await;
        let mut p = plain(&b, "pub").await;
        p.send(pub5("job", 0, None, "old", true, Properties::default()))
            .await;
        let mut members = Vec::new();
        for id in ["m1", "m2"] {
            let mut m = plain(&b, id).await;
            assert_eq!(
                m.sub5(1, vec![Filter::new("$share/g/job", 1)], None).await,
                [1]
            );
            members.push(m);
        }
        for i in 0..4 {
            p.send(pub5(
                "job",
                0,
                None,
                &format!("{i}"),
                false,
                Properties::default(),
            ))
            .await;
        }
        let mut total = 0;
        for m in &mut members {
            while let Got::Packet(d) = m.next(QUIET).await {
                let Packet::Publish(got) = d.packet else {
                    panic!()
                };
                assert!(!got.retain, "no retained message for a shared subscription");
                total += 1;
            }
        }
        assert_eq!(total, if fault.is_none() { 4 } else { 8 });
    }
}

#[tokio::test]
async fn topic_aliases_from_the_client() {
    for fault in [None, Some(F::TopicAliasRejected)] {
        let b = broker(&fault.into_iter().collect::<Vec<_>>()).await;
        let mut s = plain(&b, "sub").await;
        s.sub5(1, vec![Filter::new("long/topic", 0)], None).await;
        let mut p = plain(&b, "pub").await;
        let alias = |a| Properties {
            topic_alias: Some(a),
            ..Properties::default()
        };
        p.send(pub5("long/topic", 0, None, "1", false, alias(1)))
            .await;
        if fault.is_some() {
            assert_eq!(p.expect_disconnect().await, 0x94);
            continue;
        }
        p.send(pub5("", 0, None, "2", false, alias(1))).await;
        for n in ["1", "2"] {
            let got = s.expect_publish().await;
            assert_eq!(
                (got.topic.as_str(), got.payload.as_bytes()),
                ("long/topic", n.as_bytes())
            );
            assert_eq!(got.properties.topic_alias, None);
        }
        p.send(pub5("x", 0, None, "3", false, alias(11))).await;
        assert_eq!(p.expect_disconnect().await, 0x94);
    }
}

#[tokio::test]
async fn receive_maximum_of_the_client_is_respected() {
    for fault in [None, Some(F::IgnoresReceiveMaximum)] {
        let b = broker(&fault.into_iter().collect::<Vec<_>>()).await;
        let props = Properties {
            receive_maximum: Some(2),
            ..Properties::default()
        };
        let (mut s, _) = c5(&b, "slow", true, props, None).await;
        s.sub5(1, vec![Filter::new("q", 1)], None).await;
        let mut p = plain(&b, "pub").await;
        for i in 1..=5u16 {
            p.send(pub5("q", 1, Some(i), "x", false, Properties::default()))
                .await;
        }
        let mut ids = Vec::new();
        while let Got::Packet(d) = s.next(QUIET).await {
            ids.extend(d.packet.packet_id());
        }
        assert_eq!(ids.len(), if fault.is_none() { 2 } else { 5 });
        if fault.is_none() {
            s.send(Packet::Puback(Ack::new(ids[0]))).await;
            s.expect_publish().await;
            s.expect_silence().await;
        }
    }
}

#[tokio::test]
async fn client_over_the_receive_maximum_is_disconnected() {
    let b = broker(&[]).await;
    let mut p = plain(&b, "greedy").await;
    for i in 1..=20u16 {
        p.send(pub5("q", 2, Some(i), "x", false, Properties::default()))
            .await;
        assert!(matches!(p.recv().await, Packet::Pubrec(_)));
    }
    p.send(pub5("q", 2, Some(21), "x", false, Properties::default()))
        .await;
    assert_eq!(p.expect_disconnect().await, 0x93);
}

#[tokio::test]
async fn maximum_packet_size_of_the_client_is_respected() {
    for fault in [None, Some(F::OversizePacketSent)] {
        let b = broker(&fault.into_iter().collect::<Vec<_>>()).await;
        let props = Properties {
            maximum_packet_size: Some(64),
            ..Properties::default()
        };
        let (mut s, _) = c5(&b, "small", true, props, None).await;
        s.sub5(1, vec![Filter::new("m", 1)], None).await;
        let mut p = plain(&b, "pub").await;
        p.send(pub5(
            "m",
            1,
            Some(1),
            &"x".repeat(100),
            false,
            Properties::default(),
        ))
        .await;
        p.send(pub5("m", 1, Some(2), "small", false, Properties::default()))
            .await;
        let got = s.expect_publish().await;
        assert_eq!(got.payload.len() == 100, fault.is_some());
    }
}

fn will(delay: u32) -> Option<Will> {
    Some(Will {
        topic: "will".into(),
        payload: "gone".into(),
        qos: 0,
        retain: false,
        properties: Properties {
            will_delay_interval: Some(delay),
            ..Properties::default()
        },
    })
}

#[tokio::test]
async fn will_delay_and_reconnect() {
    for fault in [None, Some(F::WillDelayIgnored)] {
        let b = broker(&fault.into_iter().collect::<Vec<_>>()).await;
        let mut w = plain(&b, "watch").await;
        w.sub5(1, vec![Filter::new("will", 0)], None).await;
        let (c, _) = c5(&b, "dies", true, expiry(60), will(1)).await;
        drop(c);
        tokio::time::sleep(QUIET).await;
        // Back within the delay: no will.
        let (c, _) = c5(&b, "dies", false, expiry(60), will(1)).await;
        if fault.is_none() {
            w.expect_silence().await;
        } else {
            w.expect_publish().await;
        }
        drop(c);
        // Not back: the will after its delay.
        match w.next(QUIET).await {
            Got::Timeout if fault.is_none() => {}
            Got::Packet(_) if fault.is_some() => continue,
            other => panic!("{other:?}"),
        }
        let got = w.next(Duration::from_secs(2)).await;
        assert!(matches!(got, Got::Packet(_)), "{got:?}");
    }
}

#[tokio::test]
async fn disconnect_with_will_message_publishes_it() {
    let b = broker(&[]).await;
    let mut w = plain(&b, "watch").await;
    w.sub5(1, vec![Filter::new("will", 0)], None).await;
    for (reason, published) in [
        (ReasonCode::DisconnectWithWillMessage, true),
        (ReasonCode::NormalDisconnection, false),
    ] {
        let (mut c, _) = c5(&b, "leaves", true, Properties::default(), will(0)).await;
        c.send(Packet::Disconnect(Disconnect {
            reason: Some(reason),
            properties: Properties::default(),
        }))
        .await;
        c.expect_closed().await;
        if published {
            assert_eq!(w.expect_publish().await.payload.as_bytes(), b"gone");
        } else {
            w.expect_silence().await;
        }
    }
}

#[tokio::test]
async fn takeover_sends_session_taken_over() {
    let b = broker(&[]).await;
    let mut old = plain(&b, "dup").await;
    old.sub5(1, vec![Filter::new("kept", 0)], None).await;
    // Clean Start 0: the open session (expiry 0) is taken over with its subscriptions.
    let (mut new, k) = c5(&b, "dup", false, Properties::default(), None).await;
    assert!(k.session_present);
    assert_eq!(old.expect_disconnect().await, 0x8e);
    new.send(pub5("kept", 0, None, "x", false, Properties::default()))
        .await;
    new.expect_publish().await;
    let _newer = plain(&b, "dup").await;
    assert_eq!(new.expect_disconnect().await, 0x8e);
}

#[tokio::test]
async fn reason_codes_of_acks() {
    let b = broker(&[]).await;
    let mut c = plain(&b, "acks").await;
    c.send(pub5(
        "nobody",
        1,
        Some(5),
        "x",
        false,
        Properties::default(),
    ))
    .await;
    let Packet::Puback(a) = c.recv().await else {
        panic!()
    };
    assert_eq!(a.reason, Some(ReasonCode::NoMatchingSubscribers));
    c.send(Packet::Pubrel(Ack::new(77))).await;
    let Packet::Pubcomp(a) = c.recv().await else {
        panic!()
    };
    assert_eq!(a.reason, Some(ReasonCode::PacketIdentifierNotFound));
    assert_eq!(c.sub5(1, vec![Filter::new("u", 2)], None).await, [2]);
    c.send(Packet::Unsubscribe(Unsubscribe {
        id: 2,
        properties: Properties::default(),
        topics: vec!["u".into(), "never".into()],
    }))
    .await;
    let Packet::Unsuback(u) = c.recv().await else {
        panic!()
    };
    let bytes: Vec<u8> = u.reasons.iter().map(|r| r.to_byte()).collect();
    assert_eq!(bytes, [0x00, 0x11]);
}

#[tokio::test]
async fn protocol_errors_get_a_disconnect() {
    let b = broker(&[]).await;
    let mut c = plain(&b, "again").await;
    c.send(Packet::Connect(Connect::for_version(Version::V5)))
        .await;
    assert_eq!(c.expect_disconnect().await, 0x82);
    let mut c = plain(&b, "alias").await;
    c.send(pub5("", 0, None, "x", false, Properties::default()))
        .await;
    assert!(matches!(c.expect_disconnect().await, 0x81 | 0x82));
}

#[tokio::test]
async fn five_over_websocket() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let b = broker(&[]).await;
    let stream = TcpStream::connect(b.ws_addr).await.unwrap();
    let req = b.ws_url().into_client_request().unwrap();
    let (ws, _) = tokio_tungstenite::client_async(req, stream).await.unwrap();
    let mut c = Client::over(Link::Ws(Box::new(ws))).v5();
    c.send(Packet::Connect(Connect {
        client_id: "ws5".into(),
        ..Connect::for_version(Version::V5)
    }))
    .await;
    let Packet::Connack(k) = c.recv().await else {
        panic!()
    };
    assert_eq!(k.properties.topic_alias_maximum, Some(10));
    assert_eq!(c.sub5(1, vec![Filter::new("w", 1)], Some(3)).await, [1]);
    c.send(pub5("w", 1, Some(1), "x", false, Properties::default()))
        .await;
    let mut saw = Vec::new();
    for _ in 0..2 {
        saw.push(c.recv().await);
    }
    assert!(
        saw.iter().any(
            |p| matches!(p, Packet::Publish(p) if p.properties.subscription_identifier == [3])
        )
    );
}

#[tokio::test]
async fn test_authentication_method_round_trip() {
    use crate::mqtt::Auth;
    let b = broker(&[]).await;
    for (answer, ok) in [("response", true), ("wrong", false)] {
        let mut c = Client::tcp(&b).await.v5();
        let method = Some(super::v5::TEST_AUTH_METHOD.to_string());
        c.send(Packet::Connect(Connect {
            client_id: "authy".into(),
            properties: Properties {
                authentication_method: method.clone(),
                ..Properties::default()
            },
            ..Connect::for_version(Version::V5)
        }))
        .await;
        let Packet::Auth(challenge) = c.recv().await else {
            panic!("expected AUTH")
        };
        assert_eq!(challenge.reason, Some(ReasonCode::ContinueAuthentication));
        assert_eq!(challenge.properties.authentication_method, method);
        c.send(Packet::Auth(Auth {
            reason: Some(ReasonCode::ContinueAuthentication),
            properties: Properties {
                authentication_method: method.clone(),
                authentication_data: Some(answer.as_bytes().into()),
                ..Properties::default()
            },
        }))
        .await;
        let Packet::Connack(k) = c.recv().await else {
            panic!("expected CONNACK")
        };
        if ok {
            assert_eq!(k.reason, Some(ReasonCode::Success));
            assert_eq!(k.properties.authentication_method, method);
            c.send(Packet::Pingreq {}).await;
            assert_eq!(c.recv().await, Packet::Pingresp {});
        } else {
            assert_eq!(k.reason, Some(ReasonCode::NotAuthorized));
            c.expect_closed().await;
        }
    }
}
