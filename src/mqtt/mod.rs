//! MQTT packet model and strict codec: encodes what a case says, decodes what a peer sent and tags each deviation with the statement id its rule has in the version spoken (`rules`).

mod ack;
pub mod audit;
pub mod codec;
mod codes;
mod connack;
mod connect;
mod disconnect;
mod error;
pub mod mutate;
mod packet;
mod payload;
pub mod properties;
mod publish;
pub mod reason;
pub mod rules;
pub mod session;
mod suback;
mod subscribe;
pub mod template;
pub mod topic;
mod unsuback;
mod unsubscribe;
#[cfg(test)]
mod vectors5;
mod wire;

use std::fmt;
use std::str::FromStr;

pub use ack::Ack;
pub use codec::{Decoded, Decoder, encode};
pub use codes::{ConnectReturnCode, SubackReturnCode};
pub use connack::Connack;
pub use connect::{Connect, Will};
pub use disconnect::{Auth, Disconnect};
pub use error::{DecodeError, EncodeError, VersionError};
pub use packet::{Packet, PacketType};
pub use payload::Payload;
pub use properties::{Properties, UserProperty};
pub use publish::Publish;
pub use reason::ReasonCode;
pub use rules::Rule;
pub use suback::{Suback, SubackCode};
pub use subscribe::{Filter, Subscribe};
pub use unsuback::Unsuback;
pub use unsubscribe::Unsubscribe;
pub use wire::MAX_REMAINING_LENGTH;
pub(crate) use wire::{put_remaining_length, read_varint};

/// One packet of each type, for tests elsewhere in the crate.
#[cfg(test)]
pub(crate) use packet::tests::samples as sample_packets;

/// The MQTT protocol version a codec speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// MQTT 3.1.1 (protocol level 4).
    V311,
    /// MQTT 5.0 (protocol level 5).
    V5,
}

impl Version {
    /// The protocol level byte a CONNECT of this version carries.
    pub fn protocol_level(self) -> u8 {
        match self {
            Version::V311 => 4,
            Version::V5 => 5,
        }
    }

    /// The version as cases write it (`3.1.1`, `5.0`).
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V311 => "3.1.1",
            Version::V5 => "5.0",
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Version {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "3.1.1" | "311" | "4" => Ok(Version::V311),
            "5.0" | "5" => Ok(Version::V5),
            other => Err(VersionError(other.to_string())),
        }
    }
}

/// Who sent the bytes being decoded; decides which packet types are legal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Bytes a server sent to a client (what wirecheck judges).
    ServerToClient,
    /// Bytes a client sent to a server (what the reference broker reads).
    ClientToServer,
}

impl Direction {
    /// The sending party in words (`server`, `client`).
    pub fn sender(self) -> &'static str {
        match self {
            Direction::ServerToClient => "server",
            Direction::ClientToServer => "client",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_parses_and_prints() {
        assert_eq!("3.1.1".parse::<Version>().unwrap(), Version::V311);
        assert_eq!("5.0".parse::<Version>().unwrap(), Version::V5);
        assert!("3.1".parse::<Version>().is_err());
        assert_eq!(Version::V5.to_string(), "5.0");
        assert_eq!(Version::V311.protocol_level(), 4);
    }
}
