//! Error types of the MQTT codec.

use crate::violation::Violation;

/// Why a packet could not be turned into bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A length-prefixed field is longer than its 16-bit length can say.
    #[error("{field} is {len} bytes long; a length-prefixed field holds at most 65535 bytes")]
    FieldTooLong {
        /// Which field.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
    },
    /// A QoS value does not fit in its two bits of the packet.
    #[error("{field} = {value} does not fit in two bits (0..=3)")]
    QosRange {
        /// Which field.
        field: &'static str,
        /// The value given.
        value: u8,
    },
    /// A variable byte integer field is above 268435455.
    #[error("{field} = {value} does not fit in a variable byte integer (at most 268435455)")]
    VarIntRange {
        /// Which field.
        field: &'static str,
        /// The value given.
        value: u32,
    },
    /// A subscription option is out of its bit range.
    #[error("{field} = {value} does not fit in two bits (0..=3)")]
    OptionRange {
        /// Which field.
        field: &'static str,
        /// The value given.
        value: u8,
    },
    /// The packet is longer than the remaining length encoding can carry.
    #[error("remaining length {0} exceeds the maximum of 268435455 bytes")]
    TooLarge(usize),
}

/// Why the decoder could not produce a packet from the bytes it was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A complete packet that cannot be understood; its bytes are consumed and decoding can go on.
    #[error("malformed packet: {violation}")]
    Malformed {
        /// The statement the packet breaks and how.
        violation: Violation,
        /// The bytes of the packet (for a remaining length over four bytes, the header read so far).
        raw: Vec<u8>,
    },
    /// A remaining length above the decoder's limit; the packet is skipped without being buffered.
    #[error("packet with remaining length {size} exceeds the limit of {max} bytes")]
    TooLarge {
        /// The remaining length announced by the fixed header.
        size: usize,
        /// The decoder's limit.
        max: usize,
    },
    /// An earlier error made packet boundaries unknowable; the stream cannot be decoded further.
    #[error("the byte stream lost its packet framing after an earlier error")]
    Desynchronized,
}

/// A version string that names no MQTT version wirecheck knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown MQTT version `{0}` (expected 3.1.1 or 5.0)")]
pub struct VersionError(pub String);
