//! CONNECT: the model, its body encoding and its strict decoding.

use serde::{Deserialize, Serialize};

use super::Version;
use super::error::EncodeError;
use super::packet::PacketType;
use super::payload::Payload;
use super::properties::{Properties, Site};
use super::rules::Rule;
use super::topic;
use super::wire::{Reader, put_prefixed, put_u16, qos_bits, text, truncated};
use crate::violation::Violation;

/// CONNECT; every field has a default so a case can write only what it tests. The same struct
/// serves 5.0: `protocol_level` is not derived from the version (a 5.0 CONNECT sets it to 5),
/// `clean_session` is the 5.0 Clean Start bit (cases may write `clean_start`), and `properties`
/// is written after the keep alive in 5.0 only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Connect {
    /// Protocol name, `MQTT` for 3.1.1.
    pub protocol_name: String,
    /// Protocol level, 4 for 3.1.1.
    pub protocol_level: u8,
    /// CleanSession flag (3.1.1) / Clean Start flag (5.0); `clean_start` is accepted as an alias.
    #[serde(alias = "clean_start")]
    pub clean_session: bool,
    /// Keep alive in seconds.
    pub keep_alive: u16,
    /// Client identifier (may be empty).
    pub client_id: String,
    /// Will message; sets the Will flag, QoS and Retain bits.
    pub will: Option<Will>,
    /// User name; sets the User Name flag.
    pub username: Option<String>,
    /// Password (binary in 3.1.1); sets the Password flag.
    pub password: Option<Payload>,
    /// The reserved bit 0 of the connect flags (must be 0; set it for negative tests).
    pub reserved_flag: bool,
    /// 5.0 properties.
    #[serde(skip_serializing_if = "Properties::is_empty")]
    pub properties: Properties,
}

impl Default for Connect {
    fn default() -> Self {
        Self {
            protocol_name: "MQTT".to_string(),
            protocol_level: 4,
            clean_session: true,
            keep_alive: 60,
            client_id: String::new(),
            will: None,
            username: None,
            password: None,
            reserved_flag: false,
            properties: Properties::default(),
        }
    }
}

impl Connect {
    /// The default CONNECT of `version` (protocol level 4 or 5).
    pub fn for_version(version: Version) -> Self {
        Self {
            protocol_level: version.protocol_level(),
            ..Self::default()
        }
    }
}

/// The will message of a CONNECT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Will {
    /// Will topic.
    pub topic: String,
    /// Will message.
    #[serde(default)]
    pub payload: Payload,
    /// Will QoS.
    #[serde(default)]
    pub qos: u8,
    /// Will retain.
    #[serde(default)]
    pub retain: bool,
    /// 5.0 will properties (written before the will topic in 5.0 only).
    #[serde(default, skip_serializing_if = "Properties::is_empty")]
    pub properties: Properties,
}

impl Connect {
    /// Writes the variable header and payload; returns the fixed-header flags.
    pub(crate) fn encode_body(
        &self,
        version: Version,
        out: &mut Vec<u8>,
    ) -> Result<u8, EncodeError> {
        let v5 = version == Version::V5;
        put_prefixed(out, self.protocol_name.as_bytes(), "protocol_name")?;
        out.push(self.protocol_level);
        let mut flags = u8::from(self.reserved_flag);
        if self.clean_session {
            flags |= 0x02;
        }
        if let Some(will) = &self.will {
            flags |= 0x04 | (qos_bits(will.qos, "will.qos")? << 3);
            if will.retain {
                flags |= 0x20;
            }
        }
        if self.password.is_some() {
            flags |= 0x40;
        }
        if self.username.is_some() {
            flags |= 0x80;
        }
        out.push(flags);
        put_u16(out, self.keep_alive);
        if v5 {
            self.properties.encode(out)?;
        }
        put_prefixed(out, self.client_id.as_bytes(), "client_id")?;
        if let Some(will) = &self.will {
            if v5 {
                will.properties.encode(out)?;
            }
            put_prefixed(out, will.topic.as_bytes(), "will.topic")?;
            put_prefixed(out, will.payload.as_bytes(), "will.payload")?;
        }
        if let Some(username) = &self.username {
            put_prefixed(out, username.as_bytes(), "username")?;
        }
        if let Some(password) = &self.password {
            put_prefixed(out, password.as_bytes(), "password")?;
        }
        Ok(0)
    }

    /// Reads a CONNECT body of `version`, reporting every deviation; Err when a field is missing.
    pub(crate) fn decode(
        r: &mut Reader<'_>,
        version: Version,
        v: &mut Vec<Violation>,
    ) -> Result<Self, Violation> {
        const WHOLE: Rule = Rule::ConnectMalformed;
        let cut = |rule: Rule, what: &str| truncated(rule, version, what);
        let name = r
            .prefixed()
            .ok_or_else(|| cut(WHOLE, "CONNECT ends inside its protocol name"))?;
        let protocol_name = text(name, "CONNECT protocol name", version, v);
        let protocol_level = r
            .u8()
            .ok_or_else(|| cut(WHOLE, "CONNECT ends before its protocol level"))?;
        let flags = r
            .u8()
            .ok_or_else(|| cut(WHOLE, "CONNECT ends before its connect flags"))?;
        let keep_alive = r
            .u16()
            .ok_or_else(|| cut(WHOLE, "CONNECT ends before its keep alive"))?;

        let properties = match version {
            Version::V311 => Properties::default(),
            Version::V5 => Properties::decode(r, Site::Packet(PacketType::Connect), version, v)?,
        };
        let reserved_flag = flags & 0x01 != 0;
        let clean_session = flags & 0x02 != 0;
        let will_flag = flags & 0x04 != 0;
        let will_qos = (flags >> 3) & 0x03;
        let will_retain = flags & 0x20 != 0;
        let password_flag = flags & 0x40 != 0;
        let username_flag = flags & 0x80 != 0;
        if reserved_flag {
            v.extend(
                Rule::ConnectReservedFlag
                    .violation(version, "CONNECT flags bit 0 (reserved) is 1; it must be 0"),
            );
        }
        if will_flag {
            if will_qos == 3 {
                v.extend(
                    Rule::WillQosNot3
                        .violation(version, "CONNECT has Will QoS 3; it must be 0, 1 or 2"),
                );
            }
        } else {
            if will_qos != 0 {
                v.extend(Rule::WillQosWithoutWill.violation(
                    version,
                    format!("CONNECT has Will Flag 0 but Will QoS {will_qos}; it must be 0"),
                ));
            }
            if will_retain {
                v.extend(Rule::WillRetainWithoutWill.violation(
                    version,
                    "CONNECT has Will Flag 0 but Will Retain 1; it must be 0",
                ));
            }
        }
        if password_flag && !username_flag {
            v.extend(
                Rule::PasswordNeedsUsername
                    .violation(version, "CONNECT has Password Flag 1 but User Name Flag 0"),
            );
        }

        let id = r.prefixed().ok_or_else(|| {
            cut(
                Rule::ClientIdFirst,
                "CONNECT ends inside its client identifier",
            )
        })?;
        let client_id = text(id, "CONNECT client identifier", version, v);
        if client_id.is_empty() && !clean_session {
            v.extend(Rule::EmptyClientIdCleanSession.violation(
                version,
                "CONNECT has a zero-byte client identifier with CleanSession 0",
            ));
        }
        let will = if will_flag {
            let will_properties = match version {
                Version::V311 => Properties::default(),
                Version::V5 => {
                    if r.remaining() == 0 {
                        return Err(cut(
                            Rule::WillFieldsPresent,
                            "CONNECT has Will Flag 1 but no will properties",
                        ));
                    }
                    Properties::decode(r, Site::Will, version, v)?
                }
            };
            let topic_bytes = r.prefixed().ok_or_else(|| {
                cut(
                    Rule::WillFieldsPresent,
                    "CONNECT has Will Flag 1 but no will topic",
                )
            })?;
            let will_topic = text(topic_bytes, "CONNECT will topic", version, v);
            topic::check_name(
                &will_topic,
                "CONNECT will topic",
                Rule::TopicNameNoWildcard,
                version,
                v,
            );
            let payload = r.prefixed().ok_or_else(|| {
                cut(
                    Rule::WillFieldsPresent,
                    "CONNECT has Will Flag 1 but no will message",
                )
            })?;
            Some(Will {
                topic: will_topic,
                payload: Payload::from(payload),
                qos: will_qos,
                retain: will_retain,
                properties: will_properties,
            })
        } else {
            None
        };
        let username = if username_flag {
            let bytes = r.prefixed().ok_or_else(|| {
                cut(
                    Rule::UsernamePresentFlagged,
                    "CONNECT has User Name Flag 1 but no user name",
                )
            })?;
            Some(text(bytes, "CONNECT user name", version, v))
        } else {
            None
        };
        let password = if password_flag {
            let bytes = r.prefixed().ok_or_else(|| {
                cut(
                    Rule::PasswordPresentFlagged,
                    "CONNECT has Password Flag 1 but no password",
                )
            })?;
            Some(Payload::from(bytes))
        } else {
            None
        };
        let extra = r.rest().len();
        if extra > 0 {
            let (rule, why) = if !username_flag {
                (
                    Rule::UsernameAbsentUnflagged,
                    "User Name Flag is 0, so no user name may follow",
                )
            } else if !password_flag {
                (
                    Rule::PasswordAbsentUnflagged,
                    "Password Flag is 0, so no password may follow",
                )
            } else {
                (WHOLE, "the password is the last field")
            };
            v.extend(rule.violation(
                version,
                format!("CONNECT has {extra} bytes after its last field ({why})"),
            ));
        }
        Ok(Self {
            protocol_name,
            protocol_level,
            clean_session,
            keep_alive,
            client_id,
            will,
            username,
            password,
            reserved_flag,
            properties,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::codec::tests::{decode_c2s, id, ids, only_specs};
    use crate::mqtt::{DecodeError, Packet, Version, encode};

    const MINIMAL: &[u8] = &[
        0x10, 0x0d, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3c, 0x00, 0x01, b'a',
    ];

    const FULL: &[u8] = &[
        0x10, 0x1b, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0xee, 0x00, 0x0a, // header
        0x00, 0x02, b'c', b'1', // client id
        0x00, 0x01, b'w', 0x00, 0x02, b'h', b'i', // will topic, message
        0x00, 0x01, b'u', 0x00, 0x01, b'p', // user name, password
    ];

    fn full() -> Packet {
        Packet::Connect(Connect {
            keep_alive: 10,
            client_id: "c1".into(),
            will: Some(Will {
                topic: "w".into(),
                payload: "hi".into(),
                qos: 1,
                retain: true,
                properties: Properties::default(),
            }),
            username: Some("u".into()),
            password: Some("p".into()),
            ..Connect::default()
        })
    }

    #[test]
    fn encodes_and_decodes_vectors() {
        let minimal = Packet::Connect(Connect {
            client_id: "a".into(),
            ..Connect::default()
        });
        assert_eq!(encode(&minimal, Version::V311).unwrap(), MINIMAL);
        let d = decode_c2s(MINIMAL).unwrap();
        assert_eq!(d.packet, minimal);
        assert!(d.violations.is_empty());
        assert_eq!(d.raw, MINIMAL);

        assert_eq!(encode(&full(), Version::V311).unwrap(), FULL);
        let d = decode_c2s(FULL).unwrap();
        assert_eq!(d.packet, full());
        assert!(d.violations.is_empty(), "{:?}", d.violations);
    }

    fn with_flags(flags: u8, tail: &[u8]) -> Vec<u8> {
        let mut body = vec![0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, flags, 0x00, 0x3c];
        body.extend_from_slice(tail);
        let mut out = vec![0x10, body.len() as u8];
        out.extend(body);
        out
    }

    #[test]
    fn flag_violations() {
        let id = &[0x00, 0x01, b'a'];
        assert_eq!(
            only_specs(&with_flags(0x03, id)),
            ids([Rule::ConnectReservedFlag])
        );
        assert_eq!(
            only_specs(&with_flags(0x0a, id)),
            ids([Rule::WillQosWithoutWill])
        );
        assert_eq!(
            only_specs(&with_flags(0x22, id)),
            ids([Rule::WillRetainWithoutWill])
        );
        assert_eq!(
            only_specs(&with_flags(0x42, &[0x00, 0x01, b'a', 0x00, 0x01, b'p'])),
            ids([Rule::PasswordNeedsUsername])
        );
        assert_eq!(
            only_specs(&with_flags(
                0x1e,
                &[0x00, 0x01, b'a', 0x00, 0x01, b'w', 0x00, 0x00]
            )),
            ids([Rule::WillQosNot3])
        );
        assert_eq!(
            only_specs(&with_flags(0x00, &[0x00, 0x00])),
            ids([Rule::EmptyClientIdCleanSession])
        );
        let d = decode_c2s(&with_flags(0x03, id)).unwrap();
        let Packet::Connect(c) = d.packet else {
            panic!()
        };
        assert!(c.reserved_flag);
    }

    #[test]
    fn field_violations() {
        // Trailing bytes where no user name may be.
        assert_eq!(
            only_specs(&with_flags(0x02, &[0x00, 0x01, b'a', 0x00, 0x01, b'u'])),
            ids([Rule::UsernameAbsentUnflagged])
        );
        // Trailing bytes with a user name but no password flag.
        assert_eq!(
            only_specs(&with_flags(
                0x82,
                &[0x00, 0x01, b'a', 0x00, 0x01, b'u', 0x00]
            )),
            ids([Rule::PasswordAbsentUnflagged])
        );
        // Client id not UTF-8, user name with U+0000, will topic with a wildcard.
        assert_eq!(
            only_specs(&with_flags(0x02, &[0x00, 0x01, 0xff])),
            ids([Rule::Utf8WellFormed])
        );
        assert_eq!(
            only_specs(&with_flags(0x82, &[0x00, 0x01, b'a', 0x00, 0x01, 0x00])),
            ids([Rule::Utf8NoNull])
        );
        assert_eq!(
            only_specs(&with_flags(
                0x06,
                &[0x00, 0x01, b'a', 0x00, 0x01, b'#', 0x00, 0x00]
            )),
            ids([Rule::TopicNameNoWildcard])
        );
    }

    fn malformed_spec(bytes: &[u8]) -> String {
        match decode_c2s(bytes) {
            Err(DecodeError::Malformed { violation, raw }) => {
                assert_eq!(raw, bytes);
                violation.spec
            }
            other => panic!("expected malformed, got {other:?}"),
        }
    }

    #[test]
    fn missing_fields_are_malformed() {
        assert_eq!(
            malformed_spec(&with_flags(0x06, &[0x00, 0x01, b'a'])),
            id(Rule::WillFieldsPresent)
        );
        assert_eq!(
            malformed_spec(&with_flags(0x06, &[0x00, 0x01, b'a', 0x00, 0x01, b'w'])),
            id(Rule::WillFieldsPresent)
        );
        assert_eq!(
            malformed_spec(&with_flags(0x82, &[0x00, 0x01, b'a'])),
            id(Rule::UsernamePresentFlagged)
        );
        assert_eq!(
            malformed_spec(&with_flags(0xc2, &[0x00, 0x01, b'a', 0x00, 0x00])),
            id(Rule::PasswordPresentFlagged)
        );
        assert_eq!(
            malformed_spec(&with_flags(0x02, &[0x00])),
            id(Rule::ClientIdFirst)
        );
        assert_eq!(
            malformed_spec(&[0x10, 0x03, 0x00, 0x04, b'M']),
            id(Rule::ConnectMalformed)
        );
        assert_eq!(malformed_spec(&[0x10, 0x00]), id(Rule::ConnectMalformed));
    }

    #[test]
    fn will_qos_out_of_range_is_an_encode_error() {
        let p = Packet::Connect(Connect {
            will: Some(Will {
                topic: "w".into(),
                payload: Payload::default(),
                qos: 4,
                retain: false,
                properties: Properties::default(),
            }),
            ..Connect::default()
        });
        assert!(matches!(
            encode(&p, Version::V311),
            Err(EncodeError::QosRange { .. })
        ));
    }
}
