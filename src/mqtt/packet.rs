//! The packet model: one enum over the 15 MQTT control packets (14 in 3.1.1, plus AUTH in 5.0), as cases write them.

use serde::{Deserialize, Serialize};

use super::Direction;
use super::ack::Ack;
use super::connack::Connack;
use super::connect::Connect;
use super::disconnect::{Auth, Disconnect};
use super::properties::Properties;
use super::publish::Publish;
use super::suback::Suback;
use super::subscribe::Subscribe;
use super::unsuback::Unsuback;
use super::unsubscribe::Unsubscribe;

/// One MQTT control packet; serialized as `{type: publish, ...}` with every 3.1.1 field present
/// and 5.0-only fields (reason codes, properties, subscription options) only when set.
// CONNECT holds two property sets (its own and the will's); packets are built and kept one at a
// time, so the size difference between variants costs little and boxing would burden every caller.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Packet {
    /// CONNECT (client to server).
    Connect(Connect),
    /// CONNACK (server to client).
    Connack(Connack),
    /// PUBLISH (both ways).
    Publish(Publish),
    /// PUBACK (both ways).
    Puback(Ack),
    /// PUBREC (both ways).
    Pubrec(Ack),
    /// PUBREL (both ways).
    Pubrel(Ack),
    /// PUBCOMP (both ways).
    Pubcomp(Ack),
    /// SUBSCRIBE (client to server).
    Subscribe(Subscribe),
    /// SUBACK (server to client).
    Suback(Suback),
    /// UNSUBSCRIBE (client to server).
    Unsubscribe(Unsubscribe),
    /// UNSUBACK (server to client).
    Unsuback(Unsuback),
    /// PINGREQ (client to server).
    Pingreq {},
    /// PINGRESP (server to client).
    Pingresp {},
    /// DISCONNECT (client to server in 3.1.1, both ways in 5.0).
    Disconnect(Disconnect),
    /// AUTH (5.0 only, both ways).
    Auth(Auth),
}

impl Packet {
    /// The control packet type.
    pub fn kind(&self) -> PacketType {
        match self {
            Packet::Connect(_) => PacketType::Connect,
            Packet::Connack(_) => PacketType::Connack,
            Packet::Publish(_) => PacketType::Publish,
            Packet::Puback(_) => PacketType::Puback,
            Packet::Pubrec(_) => PacketType::Pubrec,
            Packet::Pubrel(_) => PacketType::Pubrel,
            Packet::Pubcomp(_) => PacketType::Pubcomp,
            Packet::Subscribe(_) => PacketType::Subscribe,
            Packet::Suback(_) => PacketType::Suback,
            Packet::Unsubscribe(_) => PacketType::Unsubscribe,
            Packet::Unsuback(_) => PacketType::Unsuback,
            Packet::Pingreq {} => PacketType::Pingreq,
            Packet::Pingresp {} => PacketType::Pingresp,
            Packet::Disconnect(_) => PacketType::Disconnect,
            Packet::Auth(_) => PacketType::Auth,
        }
    }

    /// The 5.0 properties, for the packet types that carry them.
    pub fn properties(&self) -> Option<&Properties> {
        match self {
            Packet::Connect(c) => Some(&c.properties),
            Packet::Connack(c) => Some(&c.properties),
            Packet::Publish(p) => Some(&p.properties),
            Packet::Puback(a) | Packet::Pubrec(a) | Packet::Pubrel(a) | Packet::Pubcomp(a) => {
                Some(&a.properties)
            }
            Packet::Subscribe(s) => Some(&s.properties),
            Packet::Suback(s) => Some(&s.properties),
            Packet::Unsubscribe(u) => Some(&u.properties),
            Packet::Unsuback(u) => Some(&u.properties),
            Packet::Disconnect(d) => Some(&d.properties),
            Packet::Auth(a) => Some(&a.properties),
            Packet::Pingreq {} | Packet::Pingresp {} => None,
        }
    }

    /// The packet identifier, for the packet types that carry one (PUBLISH only when it has one).
    pub fn packet_id(&self) -> Option<u16> {
        match self {
            Packet::Publish(p) => p.id,
            Packet::Puback(a) | Packet::Pubrec(a) | Packet::Pubrel(a) | Packet::Pubcomp(a) => {
                Some(a.id)
            }
            Packet::Unsuback(u) => Some(u.id),
            Packet::Subscribe(s) => Some(s.id),
            Packet::Suback(s) => Some(s.id),
            Packet::Unsubscribe(u) => Some(u.id),
            _ => None,
        }
    }
}

/// The control packet type, the high nibble of the first header byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PacketType {
    /// 1: CONNECT.
    Connect = 1,
    /// 2: CONNACK.
    Connack = 2,
    /// 3: PUBLISH.
    Publish = 3,
    /// 4: PUBACK.
    Puback = 4,
    /// 5: PUBREC.
    Pubrec = 5,
    /// 6: PUBREL.
    Pubrel = 6,
    /// 7: PUBCOMP.
    Pubcomp = 7,
    /// 8: SUBSCRIBE.
    Subscribe = 8,
    /// 9: SUBACK.
    Suback = 9,
    /// 10: UNSUBSCRIBE.
    Unsubscribe = 10,
    /// 11: UNSUBACK.
    Unsuback = 11,
    /// 12: PINGREQ.
    Pingreq = 12,
    /// 13: PINGRESP.
    Pingresp = 13,
    /// 14: DISCONNECT.
    Disconnect = 14,
    /// 15: AUTH (5.0; reserved in 3.1.1).
    Auth = 15,
}

impl PacketType {
    /// The type for a header nibble; None for the reserved value 0 (15 is AUTH, reserved in 3.1.1:
    /// see [`PacketType::exists_in`]).
    pub fn from_nibble(nibble: u8) -> Option<Self> {
        Some(match nibble {
            1 => Self::Connect,
            2 => Self::Connack,
            3 => Self::Publish,
            4 => Self::Puback,
            5 => Self::Pubrec,
            6 => Self::Pubrel,
            7 => Self::Pubcomp,
            8 => Self::Subscribe,
            9 => Self::Suback,
            10 => Self::Unsubscribe,
            11 => Self::Unsuback,
            12 => Self::Pingreq,
            13 => Self::Pingresp,
            14 => Self::Disconnect,
            15 => Self::Auth,
            _ => return None,
        })
    }

    /// The header nibble.
    pub fn nibble(self) -> u8 {
        self as u8
    }

    /// The name the standard uses (`PUBLISH`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Connect => "CONNECT",
            Self::Connack => "CONNACK",
            Self::Publish => "PUBLISH",
            Self::Puback => "PUBACK",
            Self::Pubrec => "PUBREC",
            Self::Pubrel => "PUBREL",
            Self::Pubcomp => "PUBCOMP",
            Self::Subscribe => "SUBSCRIBE",
            Self::Suback => "SUBACK",
            Self::Unsubscribe => "UNSUBSCRIBE",
            Self::Unsuback => "UNSUBACK",
            Self::Pingreq => "PINGREQ",
            Self::Pingresp => "PINGRESP",
            Self::Disconnect => "DISCONNECT",
            Self::Auth => "AUTH",
        }
    }

    /// The fixed-header flag bits Table 2.2 requires (None for PUBLISH, whose flags carry DUP/QoS/RETAIN).
    pub fn required_flags(self) -> Option<u8> {
        match self {
            Self::Publish => None,
            Self::Pubrel | Self::Subscribe | Self::Unsubscribe => Some(0b0010),
            _ => Some(0),
        }
    }

    /// Whether `version` has this packet type (AUTH is 5.0 only).
    pub fn exists_in(self, version: super::Version) -> bool {
        self != Self::Auth || version == super::Version::V5
    }

    /// Whether a peer of `version` on this side may send this packet type (5.0 adds a
    /// server's DISCONNECT and AUTH both ways).
    pub fn sent_by_in(self, direction: Direction, version: super::Version) -> bool {
        match (self, version) {
            (Self::Disconnect | Self::Auth, super::Version::V5) => true,
            _ => self.sent_by(direction),
        }
    }

    /// Whether a 3.1.1 peer on this side may send this packet type.
    pub fn sent_by(self, direction: Direction) -> bool {
        match self {
            Self::Publish | Self::Puback | Self::Pubrec | Self::Pubrel | Self::Pubcomp => true,
            Self::Connect
            | Self::Subscribe
            | Self::Unsubscribe
            | Self::Pingreq
            | Self::Disconnect
            | Self::Auth => direction == Direction::ClientToServer,
            Self::Connack | Self::Suback | Self::Unsuback | Self::Pingresp => {
                direction == Direction::ServerToClient
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::mqtt::{ConnectReturnCode, Filter, Payload, SubackReturnCode, Unsuback, Will};
    use serde_json::json;

    /// One packet of each type, with non-default values where possible.
    pub(crate) fn samples() -> Vec<Packet> {
        vec![
            Packet::Connect(Connect {
                client_id: "c1".into(),
                will: Some(Will {
                    topic: "w".into(),
                    payload: Payload::new(vec![0xff, 0x00]),
                    qos: 1,
                    retain: true,
                    properties: Default::default(),
                }),
                username: Some("u".into()),
                password: Some(Payload::from("p")),
                ..Connect::default()
            }),
            Packet::Connack(Connack::v311(true, ConnectReturnCode::Accepted)),
            Packet::Publish(Publish {
                dup: true,
                qos: 2,
                retain: true,
                topic: "a/b".into(),
                id: Some(7),
                payload: "hi".into(),
                ..Publish::default()
            }),
            Packet::Puback(Ack::new(1)),
            Packet::Pubrec(Ack::new(2)),
            Packet::Pubrel(Ack::new(3)),
            Packet::Pubcomp(Ack::new(4)),
            Packet::Subscribe(Subscribe {
                id: 5,
                properties: Default::default(),
                filters: vec![Filter::new("a/#", 1)],
            }),
            Packet::Suback(Suback::new(
                5,
                [
                    SubackReturnCode::GrantedQos1,
                    SubackReturnCode::from_byte(7),
                ],
            )),
            Packet::Unsubscribe(Unsubscribe {
                id: 6,
                properties: Default::default(),
                topics: vec!["a/#".into()],
            }),
            Packet::Unsuback(Unsuback::new(6)),
            Packet::Pingreq {},
            Packet::Pingresp {},
            Packet::Disconnect(Disconnect::default()),
        ]
    }

    #[test]
    fn json_round_trip_of_every_type() {
        for p in samples() {
            let v = serde_json::to_value(&p).unwrap();
            let back: Packet = serde_json::from_value(v.clone()).unwrap();
            assert_eq!(back, p, "{v}");
        }
    }

    #[test]
    fn serialized_field_names_and_order() {
        let v = serde_json::to_string(&Packet::Connect(Connect::default())).unwrap();
        assert_eq!(
            v,
            r#"{"type":"connect","protocol_name":"MQTT","protocol_level":4,"clean_session":true,"keep_alive":60,"client_id":"","will":null,"username":null,"password":null,"reserved_flag":false}"#
        );
        let v = serde_json::to_value(&samples()[2]).unwrap();
        assert_eq!(
            v,
            json!({"type":"publish","dup":true,"qos":2,"retain":true,"topic":"a/b","id":7,"payload":"hi"})
        );
        let v = serde_json::to_value(&samples()[8]).unwrap();
        assert_eq!(
            v,
            json!({"type":"suback","id":5,"reasons":["granted_qos_1", 7]})
        );
        assert_eq!(
            serde_json::to_value(Packet::Pingreq {}).unwrap(),
            json!({"type":"pingreq"})
        );
        let v = serde_json::to_value(&samples()[0]).unwrap();
        assert_eq!(
            v["will"],
            json!({"topic":"w","payload":{"hex":"ff00"},"qos":1,"retain":true})
        );
    }

    #[test]
    fn defaults_and_unknown_fields() {
        let p: Packet = serde_json::from_value(json!({"type": "pingreq"})).unwrap();
        assert_eq!(p, Packet::Pingreq {});
        assert!(serde_json::from_value::<Packet>(json!({"type": "pingreq", "x": 1})).is_err());
        assert!(
            serde_json::from_value::<Packet>(json!({"type": "puback", "id": 1, "x": 1})).is_err()
        );
        assert!(serde_json::from_value::<Packet>(json!({"type": "nope"})).is_err());
        let p: Packet =
            serde_json::from_value(json!({"type": "connect", "client_id": "x"})).unwrap();
        let Packet::Connect(c) = p else { panic!() };
        assert_eq!(c.protocol_name, "MQTT");
        assert_eq!(c.protocol_level, 4);
        assert!(c.clean_session);
        assert_eq!(c.keep_alive, 60);
        assert!(!c.reserved_flag);
        let p: Packet = serde_json::from_value(
            json!({"type": "publish", "topic": "t", "payload": {"hex": "00"}}),
        )
        .unwrap();
        assert_eq!(
            p,
            Packet::Publish(Publish {
                dup: false,
                qos: 0,
                retain: false,
                topic: "t".into(),
                id: None,
                payload: Payload::new(vec![0]),
                ..Publish::default()
            })
        );
        assert!(serde_json::from_value::<Packet>(json!({"type": "publish"})).is_err());
        let p: Packet = serde_json::from_value(
            json!({"type": "connack", "code": "unacceptable_protocol_version"}),
        )
        .unwrap();
        assert_eq!(p.kind(), PacketType::Connack);
    }

    #[test]
    fn packet_type_tables() {
        for n in 0..16u8 {
            match PacketType::from_nibble(n) {
                Some(t) => assert_eq!(t.nibble(), n),
                None => assert!(n == 0 || n == 15),
            }
        }
        assert!(!PacketType::Connect.sent_by(Direction::ServerToClient));
        assert!(!PacketType::Pingresp.sent_by(Direction::ClientToServer));
        assert!(PacketType::Publish.sent_by(Direction::ServerToClient));
        assert_eq!(samples()[3].packet_id(), Some(1));
        assert_eq!(Packet::Pingreq {}.packet_id(), None);
    }
}
