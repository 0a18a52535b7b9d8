//! MQTT 5.0 byte-array vectors: encode and decode of every packet type, and a violation vector
//! for each 5.0 property, reason code and subscription option rule.

use serde_json::json;

use super::codec::{Decoded, Decoder, Direction};
use super::properties::Properties;
use super::*;

const MAX: usize = 1 << 20;

fn decode5(bytes: &[u8], direction: Direction) -> Result<Decoded, DecodeError> {
    let mut d = Decoder::new(Version::V5, direction, MAX);
    d.push(bytes);
    let out = d.next().map(|o| o.expect("a whole packet"));
    assert_eq!(d.buffered(), 0, "bytes left over");
    out
}

/// Encodes `packet` in 5.0 to `bytes`, and decodes `bytes` sent in `direction` to `packet` without violations.
fn vector(packet: Packet, bytes: &[u8], direction: Direction) {
    assert_eq!(encode(&packet, Version::V5).unwrap(), bytes, "{packet:?}");
    let d = decode5(bytes, direction).unwrap();
    assert_eq!(d.packet, packet, "{bytes:02x?}");
    assert!(d.violations.is_empty(), "{:?}", d.violations);
}

fn s2c(packet: Packet, bytes: &[u8]) {
    vector(packet, bytes, Direction::ServerToClient)
}

fn c2s(packet: Packet, bytes: &[u8]) {
    vector(packet, bytes, Direction::ClientToServer)
}

fn specs(bytes: &[u8], direction: Direction) -> Vec<String> {
    decode5(bytes, direction)
        .expect("decodable")
        .violations
        .into_iter()
        .map(|v| v.spec)
        .collect()
}

fn id5(rule: Rule) -> String {
    rule.id(Version::V5).expect("a 5.0 statement").to_string()
}

/// Asserts that the server-sent `bytes` break exactly `rules`.
fn s2c_breaks<const N: usize>(bytes: &[u8], rules: [Rule; N]) {
    assert_eq!(
        specs(bytes, Direction::ServerToClient),
        rules.map(id5),
        "{bytes:02x?}"
    );
}

/// Asserts that the client-sent `bytes` break exactly `rules`.
fn c2s_breaks<const N: usize>(bytes: &[u8], rules: [Rule; N]) {
    assert_eq!(
        specs(bytes, Direction::ClientToServer),
        rules.map(id5),
        "{bytes:02x?}"
    );
}

/// Asserts that the server-sent `bytes` cannot be decoded, breaking `rule`.
fn s2c_malformed(bytes: &[u8], rule: Rule) {
    match decode5(bytes, Direction::ServerToClient) {
        Err(DecodeError::Malformed { violation, raw }) => {
            assert_eq!(raw, bytes);
            assert_eq!(violation.spec, id5(rule), "{violation}");
        }
        other => panic!("{bytes:02x?}: expected malformed, got {other:?}"),
    }
}

fn props(f: impl FnOnce(&mut Properties)) -> Properties {
    let mut p = Properties::default();
    f(&mut p);
    p
}

#[test]
fn connect() {
    c2s(
        Packet::Connect(Connect {
            client_id: "a".into(),
            ..Connect::for_version(Version::V5)
        }),
        &[
            0x10, 0x0e, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x02, 0x00, 0x3c, 0x00, 0x00,
            0x01, b'a',
        ],
    );
    c2s(
        Packet::Connect(Connect {
            client_id: "c".into(),
            properties: props(|p| {
                p.session_expiry_interval = Some(10);
                p.receive_maximum = Some(20);
            }),
            will: Some(Will {
                topic: "w".into(),
                payload: "hi".into(),
                qos: 1,
                retain: false,
                properties: props(|p| {
                    p.will_delay_interval = Some(5);
                    p.user_properties = vec![UserProperty {
                        name: "k".into(),
                        value: "v".into(),
                    }];
                }),
            }),
            ..Connect::for_version(Version::V5)
        }),
        &[
            0x10, 0x2a, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x0e, 0x00, 0x3c, // header
            0x08, 0x11, 0x00, 0x00, 0x00, 0x0a, 0x21, 0x00, 0x14, // properties
            0x00, 0x01, b'c', // client id
            0x0c, 0x18, 0x00, 0x00, 0x00, 0x05, 0x26, 0x00, 0x01, b'k', 0x00, 0x01,
            b'v', // will properties
            0x00, 0x01, b'w', 0x00, 0x02, b'h', b'i', // will topic, payload
        ],
    );
    // 5.0 allows a password without a user name, and an empty client id with Clean Start 0.
    c2s_breaks(
        &[
            0x10, 0x10, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x40, 0x00, 0x3c, 0x00, 0x00,
            0x00, 0x00, 0x01, b'p',
        ],
        [],
    );
    // A will property not allowed in the CONNECT properties.
    c2s_breaks(
        &[
            0x10, 0x13, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x02, 0x00, 0x3c, 0x05, 0x18,
            0x00, 0x00, 0x00, 0x01, 0x00, 0x01, b'a',
        ],
        [Rule::PropertyNotAllowed],
    );
    // `clean_start` is the 5.0 name of `clean_session`.
    let p: Packet =
        serde_json::from_value(json!({"type": "connect", "clean_start": false})).unwrap();
    let Packet::Connect(c) = p else { panic!() };
    assert!(!c.clean_session);
}

#[test]
fn connack() {
    let ok = Packet::Connack(Connack {
        reason: Some(ReasonCode::Success),
        ..Connack::default()
    });
    s2c(ok.clone(), &[0x20, 0x03, 0x00, 0x00, 0x00]);
    assert_eq!(
        serde_json::to_value(&ok).unwrap(),
        json!({"type": "connack", "session_present": false, "reason": "success"})
    );
    let full = Packet::Connack(Connack {
        session_present: true,
        reason: Some(ReasonCode::Success),
        properties: props(|p| {
            p.assigned_client_identifier = Some("x".into());
            p.receive_maximum = Some(10);
        }),
        ..Connack::default()
    });
    s2c(
        full.clone(),
        &[
            0x20, 0x0a, 0x01, 0x00, 0x07, 0x12, 0x00, 0x01, b'x', 0x21, 0x00, 0x0a,
        ],
    );
    assert_eq!(
        serde_json::to_value(&full).unwrap()["properties"],
        json!({"assigned_client_identifier": "x", "receive_maximum": 10})
    );
    // A case writes properties as a map of the present ones.
    let p: Packet = serde_json::from_value(json!({"type": "connack", "reason": "banned",
        "properties": {"reason_string": "no", "user_properties": [{"name": "a", "value": "b"}]}}))
    .unwrap();
    assert_eq!(
        encode(&p, Version::V5).unwrap(),
        [
            0x20, 0x0f, 0x00, 0x8a, 0x0c, 0x1f, 0x00, 0x02, b'n', b'o', 0x26, 0x00, 0x01, b'a',
            0x00, 0x01, b'b'
        ]
    );
    s2c_breaks(&[0x20, 0x03, 0x00, 0x10, 0x00], [Rule::ConnackReservedCode]);
    s2c_breaks(&[0x20, 0x03, 0x01, 0x80, 0x00], [Rule::RefusalNotPresent]);
    s2c_breaks(
        &[0x20, 0x03, 0x02, 0x00, 0x00],
        [Rule::ConnackReservedFlags],
    );
    s2c_malformed(&[0x20, 0x02, 0x00, 0x00], Rule::PropertyLengthPresent);
}

#[test]
fn publish() {
    s2c(
        Packet::Publish(Publish {
            qos: 1,
            topic: "a/b".into(),
            id: Some(7),
            properties: props(|p| p.topic_alias = Some(5)),
            payload: "hi".into(),
            ..Publish::default()
        }),
        &[
            0x32, 0x0d, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x07, 0x03, 0x23, 0x00, 0x05, b'h',
            b'i',
        ],
    );
    // An empty topic name with a Topic Alias is fine in 5.0; without one it is not.
    s2c(
        Packet::Publish(Publish {
            properties: props(|p| p.topic_alias = Some(5)),
            payload: "hi".into(),
            ..Publish::default()
        }),
        &[0x30, 0x08, 0x00, 0x00, 0x03, 0x23, 0x00, 0x05, b'h', b'i'],
    );
    s2c_breaks(
        &[0x30, 0x05, 0x00, 0x00, 0x00, b'h', b'i'],
        [Rule::TopicNotEmpty],
    );
    // Subscription identifiers repeat in a server's PUBLISH, never in a client's.
    let with_ids = [
        0x30, 0x09, 0x00, 0x01, b't', 0x05, 0x0b, 0x05, 0x0b, 0x80, 0x01,
    ];
    s2c(
        Packet::Publish(Publish {
            topic: "t".into(),
            properties: props(|p| p.subscription_identifier = vec![5, 128]),
            ..Publish::default()
        }),
        &with_ids,
    );
    c2s_breaks(&with_ids, [Rule::PublishClientSubscriptionId]);
}

#[test]
fn acks() {
    // Remaining length 2 means success without properties, and is how success is encoded.
    for (first, make) in [
        (0x40u8, Packet::Puback as fn(Ack) -> Packet),
        (0x50, Packet::Pubrec),
        (0x62, Packet::Pubrel),
        (0x70, Packet::Pubcomp),
    ] {
        let ack = Ack {
            id: 7,
            reason: Some(ReasonCode::Success),
            ..Ack::default()
        };
        s2c(make(ack.clone()), &[first, 0x02, 0x00, 0x07]);
        // A reason byte alone, and a reason byte with a property length of 0.
        let d = decode5(
            &[first, 0x04, 0x00, 0x07, 0x00, 0x00],
            Direction::ServerToClient,
        )
        .unwrap();
        assert_eq!(d.packet, make(ack));
        assert!(d.violations.is_empty());
    }
    s2c(
        Packet::Puback(Ack {
            id: 7,
            reason: Some(ReasonCode::NoMatchingSubscribers),
            ..Ack::default()
        }),
        &[0x40, 0x03, 0x00, 0x07, 0x10],
    );
    s2c(
        Packet::Pubrec(Ack {
            id: 7,
            reason: Some(ReasonCode::QuotaExceeded),
            properties: props(|p| p.reason_string = Some("x".into())),
        }),
        &[0x50, 0x08, 0x00, 0x07, 0x97, 0x04, 0x1f, 0x00, 0x01, b'x'],
    );
    s2c(
        Packet::Pubrel(Ack {
            id: 7,
            reason: Some(ReasonCode::PacketIdentifierNotFound),
            ..Ack::default()
        }),
        &[0x62, 0x03, 0x00, 0x07, 0x92],
    );
    // `{type: puback, id: 7}` as a case writes it encodes to the short form.
    let p: Packet = serde_json::from_value(json!({"type": "puback", "id": 7})).unwrap();
    assert_eq!(encode(&p, Version::V5).unwrap(), [0x40, 0x02, 0x00, 0x07]);
    s2c_breaks(&[0x40, 0x03, 0x00, 0x07, 0x01], [Rule::PubackReasonCode]);
    s2c_breaks(&[0x50, 0x03, 0x00, 0x07, 0x92], [Rule::PubrecReasonCode]);
    s2c_breaks(&[0x62, 0x03, 0x00, 0x07, 0x80], [Rule::PubrelReasonCode]);
    s2c_breaks(&[0x70, 0x03, 0x00, 0x07, 0x10], [Rule::PubcompReasonCode]);
}

#[test]
fn subscribe() {
    c2s(
        Packet::Subscribe(Subscribe {
            id: 10,
            properties: props(|p| p.subscription_identifier = vec![7]),
            filters: vec![Filter {
                topic: "a/#".into(),
                qos: 1,
                no_local: true,
                retain_as_published: true,
                retain_handling: 2,
            }],
        }),
        &[
            0x82, 0x0b, 0x00, 0x0a, 0x02, 0x0b, 0x07, 0x00, 0x03, b'a', b'/', b'#', 0x2d,
        ],
    );
    let with = |options: u8| [0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', options];
    c2s_breaks(&with(0x30), [Rule::SubscribeOptionValue]);
    c2s_breaks(&with(0x03), [Rule::SubscribeOptionValue]);
    c2s_breaks(&with(0x40), [Rule::SubscribeReservedBits]);
    // Bits 5-2 are options in 5.0, not reserved bits (as they are in 3.1.1).
    c2s_breaks(&with(0x2e), []);
    c2s_breaks(
        &[
            0x82, 0x0f, 0x00, 0x01, 0x00, 0x00, 0x09, b'$', b's', b'h', b'a', b'r', b'e', b'/',
            b'g', b'/', 0x04,
        ][..],
        [Rule::NoLocalShared],
    );
    // Two subscription identifiers in a SUBSCRIBE.
    c2s_breaks(
        &[
            0x82, 0x0b, 0x00, 0x01, 0x04, 0x0b, 0x01, 0x0b, 0x02, 0x00, 0x01, b'a', 0x00,
        ][..],
        [Rule::PropertyDuplicated],
    );
}

#[test]
fn suback_unsubscribe_unsuback() {
    let suback = Packet::Suback(Suback::new(
        10,
        [ReasonCode::GrantedQos1, ReasonCode::UnspecifiedError],
    ));
    s2c(suback.clone(), &[0x90, 0x05, 0x00, 0x0a, 0x00, 0x01, 0x80]);
    assert_eq!(
        serde_json::to_value(&suback).unwrap(),
        json!({"type": "suback", "id": 10, "reasons": ["granted_qos_1", "unspecified_error"]})
    );
    s2c_breaks(
        &[0x90, 0x04, 0x00, 0x01, 0x00, 0x10],
        [Rule::SubackDefinedCodes],
    );
    s2c_breaks(&[0x90, 0x03, 0x00, 0x01, 0x00], [Rule::SubackCodePerFilter]);

    c2s(
        Packet::Unsubscribe(Unsubscribe {
            id: 11,
            properties: Properties::default(),
            topics: vec!["ab".into()],
        }),
        &[0xa2, 0x07, 0x00, 0x0b, 0x00, 0x00, 0x02, b'a', b'b'],
    );
    let unsuback = Packet::Unsuback(Unsuback {
        id: 11,
        properties: Properties::default(),
        reasons: vec![ReasonCode::Success, ReasonCode::NoSubscriptionExisted],
    });
    s2c(
        unsuback.clone(),
        &[0xb0, 0x05, 0x00, 0x0b, 0x00, 0x00, 0x11],
    );
    assert_eq!(
        serde_json::to_value(&unsuback).unwrap()["reasons"],
        json!(["success", "no_subscription_existed"])
    );
    s2c_breaks(&[0xb0, 0x03, 0x00, 0x0b, 0x00], [Rule::UnsubackReasonCodes]);
    s2c_breaks(
        &[0xb0, 0x04, 0x00, 0x0b, 0x00, 0x01],
        [Rule::UnsubackReasonCodes],
    );
}

#[test]
fn disconnect_and_auth() {
    // A server may send DISCONNECT in 5.0; remaining length 0 is a normal disconnection.
    let normal = Packet::Disconnect(Disconnect {
        reason: Some(ReasonCode::NormalDisconnection),
        ..Disconnect::default()
    });
    s2c(normal.clone(), &[0xe0, 0x00]);
    assert_eq!(
        serde_json::to_value(&normal).unwrap(),
        json!({"type": "disconnect", "reason": "normal_disconnection"})
    );
    s2c(
        Packet::Disconnect(Disconnect {
            reason: Some(ReasonCode::ServerShuttingDown),
            ..Disconnect::default()
        }),
        &[0xe0, 0x01, 0x8b],
    );
    s2c(
        Packet::Disconnect(Disconnect {
            reason: Some(ReasonCode::ServerShuttingDown),
            properties: props(|p| p.reason_string = Some("x".into())),
        }),
        &[0xe0, 0x06, 0x8b, 0x04, 0x1f, 0x00, 0x01, b'x'],
    );
    let expiry = [0xe0, 0x07, 0x00, 0x05, 0x11, 0x00, 0x00, 0x00, 0x0a];
    s2c_breaks(&expiry, [Rule::DisconnectSessionExpiry]);
    c2s_breaks(&expiry, []);
    s2c_breaks(&[0xe0, 0x01, 0x01], [Rule::DisconnectReasonCode]);

    s2c(
        Packet::Auth(Auth {
            reason: Some(ReasonCode::Success),
            ..Auth::default()
        }),
        &[0xf0, 0x00],
    );
    let auth = Packet::Auth(Auth {
        reason: Some(ReasonCode::ContinueAuthentication),
        properties: props(|p| {
            p.authentication_method = Some("abc".into());
            p.authentication_data = Some(Payload::from("x"));
        }),
    });
    s2c(
        auth.clone(),
        &[
            0xf0, 0x0c, 0x18, 0x0a, 0x15, 0x00, 0x03, b'a', b'b', b'c', 0x16, 0x00, 0x01, b'x',
        ],
    );
    c2s(
        auth,
        &[
            0xf0, 0x0c, 0x18, 0x0a, 0x15, 0x00, 0x03, b'a', b'b', b'c', 0x16, 0x00, 0x01, b'x',
        ],
    );
    s2c_breaks(&[0xf0, 0x02, 0x01, 0x00], [Rule::AuthReasonCode]);
    let flagged = decode5(&[0xf1, 0x00], Direction::ServerToClient).unwrap();
    assert_eq!(flagged.violations[0].spec, id5(Rule::ReservedFlags));
    assert!(
        flagged.violations[0]
            .detail
            .contains(&id5(Rule::ReservedFlagsAuth))
    );
    // AUTH is a reserved packet type in 3.1.1.
    let mut d = Decoder::new(Version::V311, Direction::ServerToClient, MAX);
    d.push(&[0xf0, 0x00]);
    assert!(matches!(d.next(), Err(DecodeError::Malformed { .. })));
}

#[test]
fn property_violations() {
    // Unknown identifier; length past the packet; value past the properties; missing length.
    s2c_malformed(
        &[0x20, 0x05, 0x00, 0x00, 0x02, 0x05, 0x00],
        Rule::PropertyUnknown,
    );
    s2c_malformed(
        &[0x40, 0x04, 0x00, 0x07, 0x00, 0x05],
        Rule::PropertyLengthOverrun,
    );
    s2c_malformed(
        &[0x20, 0x05, 0x00, 0x00, 0x02, 0x21, 0x00],
        Rule::PropertyLengthOverrun,
    );
    s2c_malformed(
        &[0x20, 0x07, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x01],
        Rule::MalformedVarInt,
    );
    s2c_breaks(
        &[0x20, 0x04, 0x00, 0x00, 0x80, 0x00],
        [Rule::NonMinimalLength],
    );
    // Not allowed in the packet; duplicated.
    s2c_breaks(
        &[0x40, 0x07, 0x00, 0x07, 0x00, 0x03, 0x23, 0x00, 0x01],
        [Rule::PropertyNotAllowed],
    );
    s2c_breaks(
        &[
            0x40, 0x0c, 0x00, 0x07, 0x00, 0x08, 0x1f, 0x00, 0x01, b'x', 0x1f, 0x00, 0x01, b'y',
        ],
        [Rule::PropertyDuplicated],
    );
    // User properties may repeat, and keep their order.
    let d = decode5(
        &[
            0x20, 0x10, 0x00, 0x00, 0x0d, 0x26, 0x00, 0x01, b'b', 0x00, 0x00, 0x26, 0x00, 0x01,
            b'a', 0x00, 0x01, b'1',
        ],
        Direction::ServerToClient,
    )
    .unwrap();
    assert!(d.violations.is_empty());
    let Packet::Connack(c) = d.packet else {
        panic!()
    };
    let names: Vec<&str> = c
        .properties
        .user_properties
        .iter()
        .map(|u| u.name.as_str())
        .collect();
    assert_eq!(names, ["b", "a"]);
    // Values out of range.
    for bytes in [
        &[0x20, 0x05, 0x00, 0x00, 0x02, 0x24, 0x02][..],
        &[0x20, 0x05, 0x00, 0x00, 0x02, 0x25, 0x02],
        &[0x20, 0x05, 0x00, 0x00, 0x02, 0x28, 0x02],
        &[0x20, 0x06, 0x00, 0x00, 0x03, 0x21, 0x00, 0x00],
        &[0x20, 0x08, 0x00, 0x00, 0x05, 0x27, 0x00, 0x00, 0x00, 0x00],
        &[0x30, 0x06, 0x00, 0x01, b't', 0x02, 0x0b, 0x00],
        &[0x30, 0x06, 0x00, 0x01, b't', 0x02, 0x01, 0x02],
    ] {
        s2c_breaks(bytes, [Rule::PropertyValue]);
    }
    s2c_breaks(
        &[0x30, 0x07, 0x00, 0x01, b't', 0x03, 0x23, 0x00, 0x00],
        [Rule::TopicAliasNonZero],
    );
    s2c_breaks(
        &[
            0x30, 0x09, 0x00, 0x01, b't', 0x05, 0x08, 0x00, 0x02, b'a', b'#',
        ],
        [Rule::ResponseTopicNoWildcard],
    );
    // Strings in properties follow the UTF-8 rules.
    s2c_breaks(
        &[0x20, 0x07, 0x00, 0x00, 0x04, 0x1f, 0x00, 0x01, 0xff],
        [Rule::Utf8WellFormed],
    );
    s2c_breaks(
        &[0x20, 0x07, 0x00, 0x00, 0x04, 0x1f, 0x00, 0x01, 0x00],
        [Rule::Utf8NoNull],
    );
}

#[test]
fn the_311_layout_ignores_5_0_fields() {
    // 5.0-only fields are not written in 3.1.1, so 3.1.1 bytes stay as they were.
    let p = Packet::Puback(Ack {
        id: 7,
        reason: Some(ReasonCode::QuotaExceeded),
        properties: props(|p| p.reason_string = Some("x".into())),
    });
    assert_eq!(encode(&p, Version::V311).unwrap(), [0x40, 0x02, 0x00, 0x07]);
    // A 3.1.1 server's DISCONNECT is still a violation.
    let mut d = Decoder::new(Version::V311, Direction::ServerToClient, MAX);
    d.push(&[0xe0, 0x00]);
    assert_eq!(d.next().unwrap().unwrap().violations.len(), 1);
}

#[test]
fn mutated_5_0_packets_never_panic() {
    let seeds: Vec<Vec<u8>> = vec![
        vec![
            0x20, 0x0a, 0x01, 0x00, 0x07, 0x12, 0x00, 0x01, b'x', 0x21, 0x00, 0x0a,
        ],
        vec![
            0x30, 0x09, 0x00, 0x01, b't', 0x05, 0x0b, 0x05, 0x0b, 0x80, 0x01,
        ],
        vec![0x50, 0x08, 0x00, 0x07, 0x97, 0x04, 0x1f, 0x00, 0x01, b'x'],
        vec![0x90, 0x05, 0x00, 0x0a, 0x00, 0x01, 0x80],
        vec![0xe0, 0x06, 0x8b, 0x04, 0x1f, 0x00, 0x01, b'x'],
        vec![
            0xf0, 0x0c, 0x18, 0x0a, 0x15, 0x00, 0x03, b'a', b'b', b'c', 0x16, 0x00, 0x01, b'x',
        ],
        vec![
            0x82, 0x0b, 0x00, 0x0a, 0x02, 0x0b, 0x07, 0x00, 0x03, b'a', b'/', b'#', 0x2d,
        ],
    ];
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut decoded = 0;
    for i in 0..5_000usize {
        let mut b = seeds[i % seeds.len()].clone();
        for _ in 0..=(next() % 3) {
            let at = 2 + (next() as usize) % (b.len() - 2);
            b[at] = next() as u8;
        }
        for direction in [Direction::ServerToClient, Direction::ClientToServer] {
            let mut d = Decoder::new(Version::V5, direction, 256);
            d.push(&b);
            if let Ok(Some(p)) = d.next() {
                decoded += 1;
                let v = serde_json::to_value(&p.packet).unwrap();
                let back: Packet = serde_json::from_value(v).unwrap();
                let _ = encode(&back, Version::V5);
            }
        }
    }
    assert!(decoded > 1000, "only {decoded} decoded");
}
