//! MQTT 5.0 reason codes (one enum for every packet) and the codes each packet type may carry.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::packet::PacketType;

macro_rules! reason_codes {
    ($( $(#[$doc:meta])* $variant:ident = $byte:literal => $text:literal, )+) => {
        /// An MQTT 5.0 reason code, serialized as its snake_case name (a number when unnamed).
        /// Equality compares the byte: `success`, `normal_disconnection` and `granted_qos_0` are all 0x00.
        #[derive(Debug, Clone, Copy)]
        pub enum ReasonCode {
            $( $(#[$doc])* $variant, )+
            /// Any byte the 5.0 table does not name.
            Other(u8),
        }

        /// Every named code, in table order (byte 0 first as `success`).
        const NAMED: &[ReasonCode] = &[$(ReasonCode::$variant,)+];

        impl ReasonCode {
            /// The byte this code is written as.
            pub fn to_byte(self) -> u8 {
                match self {
                    $( Self::$variant => $byte, )+
                    Self::Other(byte) => byte,
                }
            }

            /// The snake_case name, or None for an unnamed byte.
            pub fn name(self) -> Option<&'static str> {
                match self {
                    $( Self::$variant => Some($text), )+
                    Self::Other(byte) => Self::from_byte(byte).name_if_named(),
                }
            }

            fn name_if_named(self) -> Option<&'static str> {
                match self {
                    Self::Other(_) => None,
                    named => named.name(),
                }
            }

            /// The code with this snake_case name.
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $( $text => Some(Self::$variant), )+
                    _ => None,
                }
            }

            const NAMES: &'static [&'static str] = &[$($text),+];
        }
    };
}

reason_codes! {
    /// 0x00 Success (CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK, AUTH).
    Success = 0x00 => "success",
    /// 0x00 Normal disconnection (DISCONNECT).
    NormalDisconnection = 0x00 => "normal_disconnection",
    /// 0x00 Granted QoS 0 (SUBACK).
    GrantedQos0 = 0x00 => "granted_qos_0",
    /// 0x01 Granted QoS 1.
    GrantedQos1 = 0x01 => "granted_qos_1",
    /// 0x02 Granted QoS 2.
    GrantedQos2 = 0x02 => "granted_qos_2",
    /// 0x04 Disconnect with Will Message.
    DisconnectWithWillMessage = 0x04 => "disconnect_with_will_message",
    /// 0x10 No matching subscribers.
    NoMatchingSubscribers = 0x10 => "no_matching_subscribers",
    /// 0x11 No subscription existed.
    NoSubscriptionExisted = 0x11 => "no_subscription_existed",
    /// 0x18 Continue authentication.
    ContinueAuthentication = 0x18 => "continue_authentication",
    /// 0x19 Re-authenticate.
    ReAuthenticate = 0x19 => "re_authenticate",
    /// 0x80 Unspecified error.
    UnspecifiedError = 0x80 => "unspecified_error",
    /// 0x81 Malformed Packet.
    MalformedPacket = 0x81 => "malformed_packet",
    /// 0x82 Protocol Error.
    ProtocolError = 0x82 => "protocol_error",
    /// 0x83 Implementation specific error.
    ImplementationSpecificError = 0x83 => "implementation_specific_error",
    /// 0x84 Unsupported Protocol Version.
    UnsupportedProtocolVersion = 0x84 => "unsupported_protocol_version",
    /// 0x85 Client Identifier not valid.
    ClientIdentifierNotValid = 0x85 => "client_identifier_not_valid",
    /// 0x86 Bad User Name or Password.
    BadUserNameOrPassword = 0x86 => "bad_user_name_or_password",
    /// 0x87 Not authorized.
    NotAuthorized = 0x87 => "not_authorized",
    /// 0x88 Server unavailable.
    ServerUnavailable = 0x88 => "server_unavailable",
    /// 0x89 Server busy.
    ServerBusy = 0x89 => "server_busy",
    /// 0x8A Banned.
    Banned = 0x8a => "banned",
    /// 0x8B Server shutting down.
    ServerShuttingDown = 0x8b => "server_shutting_down",
    /// 0x8C Bad authentication method.
    BadAuthenticationMethod = 0x8c => "bad_authentication_method",
    /// 0x8D Keep Alive timeout.
    KeepAliveTimeout = 0x8d => "keep_alive_timeout",
    /// 0x8E Session taken over.
    SessionTakenOver = 0x8e => "session_taken_over",
    /// 0x8F Topic Filter invalid.
    TopicFilterInvalid = 0x8f => "topic_filter_invalid",
    /// 0x90 Topic Name invalid.
    TopicNameInvalid = 0x90 => "topic_name_invalid",
    /// 0x91 Packet Identifier in use.
    PacketIdentifierInUse = 0x91 => "packet_identifier_in_use",
    /// 0x92 Packet Identifier not found.
    PacketIdentifierNotFound = 0x92 => "packet_identifier_not_found",
    /// 0x93 Receive Maximum exceeded.
    ReceiveMaximumExceeded = 0x93 => "receive_maximum_exceeded",
    /// 0x94 Topic Alias invalid.
    TopicAliasInvalid = 0x94 => "topic_alias_invalid",
    /// 0x95 Packet too large.
    PacketTooLarge = 0x95 => "packet_too_large",
    /// 0x96 Message rate too high.
    MessageRateTooHigh = 0x96 => "message_rate_too_high",
    /// 0x97 Quota exceeded.
    QuotaExceeded = 0x97 => "quota_exceeded",
    /// 0x98 Administrative action.
    AdministrativeAction = 0x98 => "administrative_action",
    /// 0x99 Payload format invalid.
    PayloadFormatInvalid = 0x99 => "payload_format_invalid",
    /// 0x9A Retain not supported.
    RetainNotSupported = 0x9a => "retain_not_supported",
    /// 0x9B QoS not supported.
    QosNotSupported = 0x9b => "qos_not_supported",
    /// 0x9C Use another server.
    UseAnotherServer = 0x9c => "use_another_server",
    /// 0x9D Server moved.
    ServerMoved = 0x9d => "server_moved",
    /// 0x9E Shared Subscriptions not supported.
    SharedSubscriptionsNotSupported = 0x9e => "shared_subscriptions_not_supported",
    /// 0x9F Connection rate exceeded.
    ConnectionRateExceeded = 0x9f => "connection_rate_exceeded",
    /// 0xA0 Maximum connect time.
    MaximumConnectTime = 0xa0 => "maximum_connect_time",
    /// 0xA1 Subscription Identifiers not supported.
    SubscriptionIdentifiersNotSupported = 0xa1 => "subscription_identifiers_not_supported",
    /// 0xA2 Wildcard Subscriptions not supported.
    WildcardSubscriptionsNotSupported = 0xa2 => "wildcard_subscriptions_not_supported",
}

impl ReasonCode {
    /// The code for a byte read from the wire (0x00 as `success`; see [`ReasonCode::for_packet`]).
    pub fn from_byte(byte: u8) -> Self {
        NAMED
            .iter()
            .copied()
            .find(|c| c.to_byte() == byte)
            .unwrap_or(Self::Other(byte))
    }

    /// The code for a byte carried by a `kind` packet, named as that packet's table names it
    /// (0x00 is `normal_disconnection` in DISCONNECT, `granted_qos_0` in SUBACK, else `success`).
    pub fn for_packet(kind: PacketType, byte: u8) -> Self {
        match (kind, byte) {
            (PacketType::Disconnect, 0) => Self::NormalDisconnection,
            (PacketType::Suback, 0) => Self::GrantedQos0,
            _ => Self::from_byte(byte),
        }
    }

    /// Whether the 5.0 table names this byte at all.
    pub fn is_defined(self) -> bool {
        self.name().is_some()
    }

    /// Whether a `kind` packet may carry this code (the packet's own reason code table).
    pub fn allowed_in(self, kind: PacketType) -> bool {
        allowed_bytes(kind).contains(&self.to_byte())
    }

    /// Whether the code is 0x80 or above (a failure).
    pub fn is_failure(self) -> bool {
        self.to_byte() >= 0x80
    }
}

/// The reason code bytes a `kind` packet may carry in 5.0 (empty for packets without one).
pub fn allowed_bytes(kind: PacketType) -> &'static [u8] {
    match kind {
        PacketType::Connack => &[
            0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x90,
            0x95, 0x97, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9f,
        ],
        PacketType::Puback | PacketType::Pubrec => {
            &[0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99]
        }
        PacketType::Pubrel | PacketType::Pubcomp => &[0x00, 0x92],
        PacketType::Suback => &[
            0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2,
        ],
        PacketType::Unsuback => &[0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91],
        PacketType::Disconnect => &[
            0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x8f, 0x90, 0x93,
            0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1,
            0xa2,
        ],
        PacketType::Auth => &[0x00, 0x18, 0x19],
        _ => &[],
    }
}

impl PartialEq for ReasonCode {
    fn eq(&self, other: &Self) -> bool {
        self.to_byte() == other.to_byte()
    }
}

impl Eq for ReasonCode {}

impl std::hash::Hash for ReasonCode {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.to_byte().hash(state);
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} (0x{:02x})", self.to_byte()),
            None => write!(f, "0x{:02x}", self.to_byte()),
        }
    }
}

impl Serialize for ReasonCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.name() {
            Some(name) => serializer.serialize_str(name),
            None => serializer.serialize_u8(self.to_byte()),
        }
    }
}

impl<'de> Deserialize<'de> for ReasonCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CodeVisitor;

        impl Visitor<'_> for CodeVisitor {
            type Value = ReasonCode;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an MQTT 5.0 reason code name or a byte")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<ReasonCode, E> {
                ReasonCode::from_name(v)
                    .ok_or_else(|| de::Error::unknown_variant(v, ReasonCode::NAMES))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ReasonCode, E> {
                u8::try_from(v)
                    .map(ReasonCode::from_byte)
                    .map_err(|_| de::Error::invalid_value(de::Unexpected::Unsigned(v), &self))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ReasonCode, E> {
                u8::try_from(v)
                    .map(ReasonCode::from_byte)
                    .map_err(|_| de::Error::invalid_value(de::Unexpected::Signed(v), &self))
            }
        }

        deserializer.deserialize_any(CodeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_bytes_and_tables() {
        assert_eq!(ReasonCode::from_byte(0x87), ReasonCode::NotAuthorized);
        assert_eq!(
            serde_json::to_value(ReasonCode::for_packet(PacketType::Disconnect, 0)).unwrap(),
            json!("normal_disconnection")
        );
        assert_eq!(
            serde_json::to_value(ReasonCode::for_packet(PacketType::Suback, 0)).unwrap(),
            json!("granted_qos_0")
        );
        assert_eq!(
            serde_json::to_value(ReasonCode::from_byte(0x03)).unwrap(),
            json!(3)
        );
        let c: ReasonCode = serde_json::from_value(json!("re_authenticate")).unwrap();
        assert_eq!(c.to_byte(), 0x19);
        let c: ReasonCode = serde_json::from_value(json!(0x9c)).unwrap();
        assert_eq!(c, ReasonCode::UseAnotherServer);
        assert_eq!(ReasonCode::Other(0x9c).name(), Some("use_another_server"));
        assert!(serde_json::from_value::<ReasonCode>(json!("nope")).is_err());
        assert!(ReasonCode::Success.allowed_in(PacketType::Auth));
        assert!(!ReasonCode::GrantedQos1.allowed_in(PacketType::Puback));
        assert!(ReasonCode::NoMatchingSubscribers.allowed_in(PacketType::Pubrec));
        assert!(!ReasonCode::Banned.allowed_in(PacketType::Disconnect));
        assert!(ReasonCode::Banned.allowed_in(PacketType::Connack));
        // Every byte of every table is named.
        for kind in (1..=15).filter_map(PacketType::from_nibble) {
            for &b in allowed_bytes(kind) {
                assert!(ReasonCode::from_byte(b).is_defined(), "{b:#x}");
            }
        }
        assert_eq!(NAMED.len(), 45);
    }
}
