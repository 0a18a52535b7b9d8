//! Return codes of CONNACK and SUBACK, serialized as snake_case names or, when unnamed, as their byte.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! return_code {
    (
        $(#[$meta:meta])*
        $name:ident, $expecting:literal,
        $( $(#[$vmeta:meta])* $variant:ident = $byte:literal => $text:literal ),+ $(,)?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// Any other byte (reserved values; never one of the named bytes).
            Other(u8),
        }

        impl $name {
            /// The code for a byte read from the wire.
            pub fn from_byte(byte: u8) -> Self {
                match byte {
                    $( $byte => Self::$variant, )+
                    other => Self::Other(other),
                }
            }

            /// The byte this code is written as.
            pub fn to_byte(self) -> u8 {
                match self {
                    $( Self::$variant => $byte, )+
                    Self::Other(byte) => byte,
                }
            }

            /// The snake_case name, or None for an unnamed byte.
            pub fn name(self) -> Option<&'static str> {
                match Self::from_byte(self.to_byte()) {
                    $( Self::$variant => Some($text), )+
                    Self::Other(_) => None,
                }
            }

            /// The code with this snake_case name.
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $( $text => Some(Self::$variant), )+
                    _ => None,
                }
            }

            /// Whether the byte is one of the named (defined) codes.
            pub fn is_defined(self) -> bool {
                self.name().is_some()
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.to_byte() == other.to_byte()
            }
        }

        impl Eq for $name {}

        impl std::hash::Hash for $name {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                self.to_byte().hash(state);
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(name) => write!(f, "{name} (0x{:02x})", self.to_byte()),
                    None => write!(f, "0x{:02x}", self.to_byte()),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self.name() {
                    Some(name) => serializer.serialize_str(name),
                    None => serializer.serialize_u8(self.to_byte()),
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct CodeVisitor;

                impl<'de> Visitor<'de> for CodeVisitor {
                    type Value = $name;

                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }

                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$name, E> {
                        $name::from_name(v).ok_or_else(|| {
                            de::Error::unknown_variant(v, &[$($text),+])
                        })
                    }

                    fn visit_u64<E: de::Error>(self, v: u64) -> Result<$name, E> {
                        u8::try_from(v)
                            .map($name::from_byte)
                            .map_err(|_| de::Error::invalid_value(de::Unexpected::Unsigned(v), &self))
                    }

                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<$name, E> {
                        u8::try_from(v)
                            .map($name::from_byte)
                            .map_err(|_| de::Error::invalid_value(de::Unexpected::Signed(v), &self))
                    }
                }

                deserializer.deserialize_any(CodeVisitor)
            }
        }
    };
}

return_code! {
    /// CONNACK return code (3.1.1 Table 3.1).
    ConnectReturnCode, "a CONNACK return code name or a byte",
    /// 0x00 connection accepted.
    Accepted = 0 => "accepted",
    /// 0x01 unacceptable protocol version.
    UnacceptableProtocolVersion = 1 => "unacceptable_protocol_version",
    /// 0x02 identifier rejected.
    IdentifierRejected = 2 => "identifier_rejected",
    /// 0x03 server unavailable.
    ServerUnavailable = 3 => "server_unavailable",
    /// 0x04 bad user name or password.
    BadUsernameOrPassword = 4 => "bad_username_or_password",
    /// 0x05 not authorized.
    NotAuthorized = 5 => "not_authorized",
}

return_code! {
    /// SUBACK return code (3.1.1 section 3.9.3).
    SubackReturnCode, "a SUBACK return code name or a byte",
    /// 0x00 success, maximum QoS 0.
    GrantedQos0 = 0 => "granted_qos_0",
    /// 0x01 success, maximum QoS 1.
    GrantedQos1 = 1 => "granted_qos_1",
    /// 0x02 success, maximum QoS 2.
    GrantedQos2 = 2 => "granted_qos_2",
    /// 0x80 failure.
    Failure = 0x80 => "failure",
}

impl SubackReturnCode {
    /// The success code granting maximum QoS `qos` (0..=2), or failure for anything else.
    pub fn granted(qos: u8) -> Self {
        match qos {
            0 => Self::GrantedQos0,
            1 => Self::GrantedQos1,
            2 => Self::GrantedQos2,
            _ => Self::Failure,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_and_numbers() {
        assert_eq!(
            serde_json::to_value(ConnectReturnCode::NotAuthorized).unwrap(),
            json!("not_authorized")
        );
        assert_eq!(
            serde_json::to_value(ConnectReturnCode::from_byte(9)).unwrap(),
            json!(9)
        );
        let c: ConnectReturnCode = serde_json::from_value(json!(1)).unwrap();
        assert_eq!(c, ConnectReturnCode::UnacceptableProtocolVersion);
        let c: ConnectReturnCode = serde_json::from_value(json!("identifier_rejected")).unwrap();
        assert_eq!(c.to_byte(), 2);
        assert!(serde_json::from_value::<ConnectReturnCode>(json!("nope")).is_err());
        assert!(serde_json::from_value::<ConnectReturnCode>(json!(256)).is_err());
        assert_eq!(ConnectReturnCode::Other(0), ConnectReturnCode::Accepted);

        let s: SubackReturnCode = serde_json::from_value(json!("failure")).unwrap();
        assert_eq!(s.to_byte(), 0x80);
        assert_eq!(
            serde_json::to_value(SubackReturnCode::from_byte(3)).unwrap(),
            json!(3)
        );
        assert_eq!(
            serde_json::to_value(SubackReturnCode::granted(2)).unwrap(),
            json!("granted_qos_2")
        );
        assert!(!SubackReturnCode::from_byte(0x81).is_defined());
        assert_eq!(SubackReturnCode::Failure.to_string(), "failure (0x80)");
    }
}
