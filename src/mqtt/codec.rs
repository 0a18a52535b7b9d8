//! Packet <-> bytes: a faithful encoder and a strict, streaming, bounded decoder.

pub use super::Direction;
use super::Version;
use super::ack::Ack;
use super::connack::Connack;
use super::connect::Connect;
use super::disconnect::{Auth, Disconnect};
pub use super::error::{DecodeError, EncodeError};
use super::packet::{Packet, PacketType};
use super::publish::Publish;
use super::rules::Rule;
use super::suback::Suback;
use super::subscribe::Subscribe;
use super::unsuback::Unsuback;
use super::unsubscribe::Unsubscribe;
use super::wire::{
    MAX_REMAINING_LENGTH, Reader, RemainingLength, put_remaining_length, read_remaining_length,
    remaining_length_size,
};
use crate::violation::Violation;

/// Encodes a packet exactly as given in the layout of `version`, with the minimal remaining
/// length encoding. 5.0-only fields are not written in 3.1.1; an AUTH is written in either
/// version (for negative tests).
pub fn encode(packet: &Packet, version: Version) -> Result<Vec<u8>, EncodeError> {
    let mut body = Vec::new();
    let kind = packet.kind();
    let flags = match packet {
        Packet::Connect(p) => p.encode_body(version, &mut body)?,
        Packet::Connack(p) => p.encode_body(version, &mut body)?,
        Packet::Publish(p) => p.encode_body(version, &mut body)?,
        Packet::Puback(a) | Packet::Pubrec(a) | Packet::Pubrel(a) | Packet::Pubcomp(a) => {
            a.encode_body(kind, version, &mut body)?
        }
        Packet::Unsuback(p) => p.encode_body(version, &mut body)?,
        Packet::Subscribe(p) => p.encode_body(version, &mut body)?,
        Packet::Suback(p) => p.encode_body(version, &mut body)?,
        Packet::Unsubscribe(p) => p.encode_body(version, &mut body)?,
        Packet::Disconnect(p) => p.encode_body(version, &mut body)?,
        Packet::Auth(p) => p.encode_body(&mut body)?,
        Packet::Pingreq {} | Packet::Pingresp {} => 0,
    };
    if body.len() > MAX_REMAINING_LENGTH {
        return Err(EncodeError::TooLarge(body.len()));
    }
    let mut out = Vec::with_capacity(body.len() + 5);
    out.push((kind.nibble() << 4) | flags);
    put_remaining_length(&mut out, body.len());
    out.extend_from_slice(&body);
    Ok(out)
}

/// One decoded packet with its exact bytes and every deviation found in them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The packet as understood.
    pub packet: Packet,
    /// The bytes of the packet, fixed header included.
    pub raw: Vec<u8>,
    /// Deviations from the spec; empty for a conformant packet.
    pub violations: Vec<Violation>,
}

/// A streaming decoder for one direction of one connection: push bytes, take packets.
#[derive(Debug)]
pub struct Decoder {
    version: Version,
    direction: Direction,
    max_packet_size: usize,
    buf: Vec<u8>,
    skip: usize,
    desynchronized: bool,
}

impl Decoder {
    /// A decoder for bytes sent in `direction`, refusing remaining lengths above `max_packet_size`.
    pub fn new(version: Version, direction: Direction, max_packet_size: usize) -> Self {
        Self {
            version,
            direction,
            max_packet_size,
            buf: Vec::new(),
            skip: 0,
            desynchronized: false,
        }
    }

    /// Adds received bytes (bytes of a packet being skipped as too large are dropped at once).
    pub fn push(&mut self, bytes: &[u8]) {
        if self.desynchronized {
            return;
        }
        let skipped = self.skip.min(bytes.len());
        self.skip -= skipped;
        self.buf
            .extend_from_slice(bytes.get(skipped..).unwrap_or_default());
    }

    /// Number of bytes held that do not yet form a whole packet.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next packet: Ok(None) when more bytes are needed, Err for a packet that cannot be decoded.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Decoded>, DecodeError> {
        if self.desynchronized {
            return Err(DecodeError::Desynchronized);
        }
        if self.buf.is_empty() {
            return Ok(None);
        }
        let after_first = self.buf.get(1..).unwrap_or_default();
        let (value, size) = match read_remaining_length(after_first) {
            RemainingLength::Incomplete => return Ok(None),
            RemainingLength::Overlong => {
                let raw: Vec<u8> = self.buf.iter().take(5).copied().collect();
                self.buf = Vec::new();
                self.desynchronized = true;
                return Err(DecodeError::Malformed {
                    violation: Rule::LengthOverFourBytes.malformed(
                        self.version,
                        format!(
                            "remaining length {} runs past four bytes (section 2.2.3 allows at most four)",
                            hex::encode(raw.get(1..).unwrap_or_default())
                        ),
                    ),
                    raw,
                });
            }
            RemainingLength::Complete { value, size } => (value, size),
        };
        let header_len = 1 + size;
        if value > self.max_packet_size {
            let body_here = self.buf.len().saturating_sub(header_len).min(value);
            self.buf
                .drain(..(header_len + body_here).min(self.buf.len()));
            self.skip = value - body_here;
            return Err(DecodeError::TooLarge {
                size: value,
                max: self.max_packet_size,
            });
        }
        let total = header_len + value;
        if self.buf.len() < total {
            return Ok(None);
        }
        let raw: Vec<u8> = self.buf.drain(..total).collect();
        let mut violations = Vec::new();
        if size > remaining_length_size(value) {
            violations.extend(Rule::NonMinimalLength.violation(
                self.version,
                format!(
                    "remaining length {value} is encoded in {size} bytes ({}); the minimal encoding takes {}",
                    hex::encode(raw.get(1..header_len).unwrap_or_default()),
                    remaining_length_size(value)
                ),
            ));
        }
        match decode_packet(&raw, header_len, self.version, self.direction) {
            Ok((packet, more)) => {
                violations.extend(more);
                Ok(Some(Decoded {
                    packet,
                    raw,
                    violations,
                }))
            }
            Err(violation) => Err(DecodeError::Malformed { violation, raw }),
        }
    }
}

/// Decodes one complete packet (`raw` = fixed header + body) of `version` sent in `direction`.
fn decode_packet(
    raw: &[u8],
    header_len: usize,
    version: Version,
    direction: Direction,
) -> Result<(Packet, Vec<Violation>), Violation> {
    let first = raw.first().copied().unwrap_or(0);
    let nibble = first >> 4;
    let flags = first & 0x0f;
    let kind = PacketType::from_nibble(nibble)
        .filter(|k| k.exists_in(version))
        .ok_or_else(|| {
            Rule::ReservedPacketType.malformed(
                version,
                format!("packet type {nibble} is reserved and forbidden"),
            )
        })?;
    let mut v = Vec::new();
    if let Some(required) = kind.required_flags()
        && flags != required
    {
        let also = match kind {
            PacketType::Pubrel => Rule::ReservedFlagsPubrel.id(version),
            PacketType::Subscribe => Rule::ReservedFlagsSubscribe.id(version),
            PacketType::Unsubscribe => Rule::ReservedFlagsUnsubscribe.id(version),
            PacketType::Disconnect => Rule::ReservedFlagsDisconnect.id(version),
            PacketType::Auth => Rule::ReservedFlagsAuth.id(version),
            _ => None,
        }
        .map(|id| format!(" (see also {id})"))
        .unwrap_or_default();
        v.extend(Rule::ReservedFlags.violation(
            version,
            format!(
                "{} fixed header flags are {flags:04b}; Table 2.2 requires {required:04b}{also}",
                kind.name()
            ),
        ));
    }
    let mut r = Reader::new(raw.get(header_len..).unwrap_or_default());
    let packet = match kind {
        PacketType::Connect => Packet::Connect(Connect::decode(&mut r, version, &mut v)?),
        PacketType::Connack => Packet::Connack(Connack::decode(&mut r, version, &mut v)?),
        PacketType::Publish => {
            Packet::Publish(Publish::decode(flags, &mut r, version, direction, &mut v)?)
        }
        PacketType::Puback => Packet::Puback(Ack::decode(kind, &mut r, version, &mut v)?),
        PacketType::Pubrec => Packet::Pubrec(Ack::decode(kind, &mut r, version, &mut v)?),
        PacketType::Pubrel => Packet::Pubrel(Ack::decode(kind, &mut r, version, &mut v)?),
        PacketType::Pubcomp => Packet::Pubcomp(Ack::decode(kind, &mut r, version, &mut v)?),
        PacketType::Subscribe => Packet::Subscribe(Subscribe::decode(&mut r, version, &mut v)?),
        PacketType::Suback => Packet::Suback(Suback::decode(&mut r, version, &mut v)?),
        PacketType::Unsubscribe => {
            Packet::Unsubscribe(Unsubscribe::decode(&mut r, version, &mut v)?)
        }
        PacketType::Unsuback => Packet::Unsuback(Unsuback::decode(&mut r, version, &mut v)?),
        PacketType::Pingreq => Packet::Pingreq {},
        PacketType::Pingresp => Packet::Pingresp {},
        PacketType::Disconnect => {
            Packet::Disconnect(Disconnect::decode(&mut r, version, direction, &mut v)?)
        }
        PacketType::Auth => Packet::Auth(Auth::decode(&mut r, version, &mut v)?),
    };
    let extra = r.remaining();
    if extra > 0 {
        v.extend(Rule::TrailingBytes.violation(
            version,
            format!(
                "{} has {extra} bytes after its last field: {}",
                kind.name(),
                hex::encode(r.rest())
            ),
        ));
    }
    if !kind.sent_by_in(direction, version) {
        v.extend(Rule::WrongDirection.violation(
            version,
            format!(
                "a {} sent a {} packet, which only the other side may send",
                direction.sender(),
                kind.name()
            ),
        ));
    }
    Ok((packet, v))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const MAX: usize = 1 << 20;

    fn decode_one(bytes: &[u8], direction: Direction) -> Result<Decoded, DecodeError> {
        let mut d = Decoder::new(Version::V311, direction, MAX);
        d.push(bytes);
        let out = d.next().map(|o| o.expect("a whole packet"));
        assert_eq!(d.buffered(), 0, "bytes left over");
        out
    }

    /// Decodes exactly one packet sent by a client.
    pub(crate) fn decode_c2s(bytes: &[u8]) -> Result<Decoded, DecodeError> {
        decode_one(bytes, Direction::ClientToServer)
    }

    /// Decodes exactly one packet sent by a server.
    pub(crate) fn decode_s2c(bytes: &[u8]) -> Result<Decoded, DecodeError> {
        decode_one(bytes, Direction::ServerToClient)
    }

    fn specs(d: Result<Decoded, DecodeError>) -> Vec<String> {
        d.expect("decodable")
            .violations
            .into_iter()
            .map(|v| v.spec)
            .collect()
    }

    /// The spec ids of the violations in one client packet.
    pub(crate) fn c2s_specs(bytes: &[u8]) -> Vec<String> {
        specs(decode_c2s(bytes))
    }

    /// Same as `c2s_specs` (CONNECT tests read better with this name).
    pub(crate) fn only_specs(bytes: &[u8]) -> Vec<String> {
        c2s_specs(bytes)
    }

    /// The spec ids of the violations in one server packet.
    pub(crate) fn s2c_specs(bytes: &[u8]) -> Vec<String> {
        specs(decode_s2c(bytes))
    }

    /// The 3.1.1 id of `rule`, as the decoder reports it.
    pub(crate) fn id(rule: Rule) -> String {
        rule.id(Version::V311)
            .expect("every rule checked so far has a 3.1.1 statement")
            .to_string()
    }

    /// The 3.1.1 ids of `rules`, in order.
    pub(crate) fn ids<const N: usize>(rules: [Rule; N]) -> Vec<String> {
        rules.into_iter().map(id).collect()
    }

    #[test]
    fn empty_body_vectors() {
        for (packet, bytes, direction) in [
            (Packet::Pingreq {}, [0xc0, 0x00], Direction::ClientToServer),
            (Packet::Pingresp {}, [0xd0, 0x00], Direction::ServerToClient),
            (
                Packet::Disconnect(Disconnect::default()),
                [0xe0, 0x00],
                Direction::ClientToServer,
            ),
        ] {
            assert_eq!(encode(&packet, Version::V311).unwrap(), bytes);
            let d = decode_one(&bytes, direction).unwrap();
            assert_eq!(d.packet, packet);
            assert!(d.violations.is_empty());
        }
    }

    #[test]
    fn every_sample_round_trips_through_bytes() {
        for p in crate::mqtt::packet::tests::samples() {
            let bytes = encode(&p, Version::V311).unwrap();
            let direction = if p.kind().sent_by(Direction::ServerToClient) {
                Direction::ServerToClient
            } else {
                Direction::ClientToServer
            };
            let d = decode_one(&bytes, direction).unwrap();
            assert_eq!(d.packet, p);
            assert_eq!(d.raw, bytes);
        }
    }

    #[test]
    fn fixed_header_violations() {
        assert_eq!(s2c_specs(&[0xd1, 0x00]), ids([Rule::ReservedFlags]));
        assert_eq!(c2s_specs(&[0xe2, 0x00]), ids([Rule::ReservedFlags]));
        // Non-minimal remaining length: 0 in two bytes, 2 in four bytes.
        assert_eq!(
            s2c_specs(&[0xd0, 0x80, 0x00]),
            ids([Rule::NonMinimalLength])
        );
        let d = decode_s2c(&[0x40, 0x82, 0x80, 0x80, 0x00, 0x00, 0x07]).unwrap();
        assert_eq!(d.packet, Packet::Puback(Ack::new(7)));
        assert_eq!(d.violations.len(), 1);
        assert!(d.violations[0].detail.contains("4 bytes"));
        // Trailing bytes in a packet with no fields.
        assert_eq!(s2c_specs(&[0xd0, 0x01, 0x00]), ids([Rule::TrailingBytes]));
    }

    #[test]
    fn the_version_picks_the_statement_ids() {
        // Decoder::next refuses 5.0 until its packet layouts exist; PINGREQ and PINGRESP are laid
        // out alike in both versions, so decode_packet shows which id each version reports.
        let specs = |raw: &[u8], version, direction| -> Vec<String> {
            let (_, v) = decode_packet(raw, 2, version, direction).expect("decodable");
            v.into_iter().map(|v| v.spec).collect()
        };
        let s2c = Direction::ServerToClient;
        for (raw, rule) in [
            (&[0xd1, 0x00][..], Rule::ReservedFlags),
            (&[0xd0, 0x01, 0x00], Rule::TrailingBytes),
            (&[0xc0, 0x00], Rule::WrongDirection),
        ] {
            let (v311, v5) = (rule.id(Version::V311), rule.id(Version::V5));
            assert_ne!(v311, v5, "{rule:?}");
            assert_eq!(
                specs(raw, Version::V311, s2c),
                Vec::from_iter(v311.map(String::from))
            );
            assert_eq!(
                specs(raw, Version::V5, s2c),
                Vec::from_iter(v5.map(String::from))
            );
        }
        // The packet-specific statement named beside the general one is the version's too.
        let (_, v) = decode_packet(&[0xe2, 0x00], 2, Version::V5, Direction::ClientToServer)
            .expect("decodable");
        let want = Rule::ReservedFlagsDisconnect.id(Version::V5).unwrap();
        assert!(
            v[0].detail.ends_with(&format!("(see also {want})")),
            "{v:?}"
        );
    }

    #[test]
    fn direction_violations() {
        for bytes in [
            &[
                0x10, 0x0d, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3c, 0x00, 0x01,
                b'a',
            ][..],
            &[0xc0, 0x00],
            &[0xe0, 0x00],
        ] {
            assert_eq!(
                s2c_specs(bytes),
                ids([Rule::WrongDirection]),
                "{bytes:02x?}"
            );
        }
        for bytes in [&[0x20, 0x02, 0x00, 0x00][..], &[0xd0, 0x00]] {
            assert_eq!(
                c2s_specs(bytes),
                ids([Rule::WrongDirection]),
                "{bytes:02x?}"
            );
        }
    }

    #[test]
    fn reserved_packet_types_are_malformed_and_skipped() {
        let mut d = Decoder::new(Version::V311, Direction::ServerToClient, MAX);
        d.push(&[0x00, 0x00, 0xf0, 0x01, 0xaa, 0xd0, 0x00]);
        for raw in [&[0x00, 0x00][..], &[0xf0, 0x01, 0xaa]] {
            match d.next() {
                Err(DecodeError::Malformed {
                    violation,
                    raw: got,
                }) => {
                    assert_eq!(got, raw);
                    assert_eq!(violation.spec, id(Rule::ReservedPacketType));
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(d.next().unwrap().unwrap().packet, Packet::Pingresp {});
        assert!(d.next().unwrap().is_none());
    }

    #[test]
    fn remaining_length_over_four_bytes_desynchronizes() {
        let mut d = Decoder::new(Version::V311, Direction::ServerToClient, MAX);
        d.push(&[0x30, 0x80, 0x80]);
        assert!(d.next().unwrap().is_none());
        d.push(&[0x80, 0x80, 0x01, 0xd0, 0x00]);
        match d.next() {
            Err(DecodeError::Malformed { raw, .. }) => {
                assert_eq!(raw, [0x30, 0x80, 0x80, 0x80, 0x80])
            }
            other => panic!("{other:?}"),
        }
        d.push(&[0xd0, 0x00]);
        assert_eq!(d.next(), Err(DecodeError::Desynchronized));
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn too_large_is_skipped_without_buffering() {
        let mut d = Decoder::new(Version::V311, Direction::ServerToClient, 10);
        // PUBLISH announcing 200 bytes; only some arrive before `next`.
        d.push(&[0x30, 0xc8, 0x01, 1, 2, 3]);
        assert_eq!(d.next(), Err(DecodeError::TooLarge { size: 200, max: 10 }));
        assert_eq!(d.buffered(), 0);
        d.push(&[0u8; 150]);
        assert_eq!(d.buffered(), 0);
        // The last 47 bytes of the big packet, then a PINGRESP.
        let mut tail = vec![0u8; 47];
        tail.extend_from_slice(&[0xd0, 0x00]);
        d.push(&tail);
        assert_eq!(d.buffered(), 2);
        assert_eq!(d.next().unwrap().unwrap().packet, Packet::Pingresp {});
        // A remaining length of exactly the limit is fine.
        let mut d = Decoder::new(Version::V311, Direction::ServerToClient, 2);
        d.push(&[0x40, 0x02, 0x00, 0x01]);
        assert!(d.next().unwrap().is_some());
    }

    #[test]
    fn streaming_one_byte_at_a_time() {
        let mut stream = Vec::new();
        let packets = crate::mqtt::packet::tests::samples()
            .into_iter()
            .filter(|p| p.kind().sent_by(Direction::ServerToClient))
            .collect::<Vec<_>>();
        for p in &packets {
            stream.extend(encode(p, Version::V311).unwrap());
        }
        let mut d = Decoder::new(Version::V311, Direction::ServerToClient, MAX);
        let mut got = Vec::new();
        for byte in &stream {
            d.push(std::slice::from_ref(byte));
            while let Some(decoded) = d.next().unwrap() {
                got.push(decoded.packet);
            }
        }
        assert_eq!(got, packets);
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn several_packets_in_one_push() {
        let mut d = Decoder::new(Version::V311, Direction::ServerToClient, MAX);
        d.push(&[0xd0, 0x00, 0x40, 0x02, 0x00, 0x01, 0xd0]);
        assert_eq!(d.next().unwrap().unwrap().packet, Packet::Pingresp {});
        assert_eq!(
            d.next().unwrap().unwrap().packet,
            Packet::Puback(Ack::new(1))
        );
        assert!(d.next().unwrap().is_none());
        assert_eq!(d.buffered(), 1);
    }

    /// xorshift64*: a tiny deterministic generator, enough to make varied inputs.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    #[test]
    fn random_input_never_panics() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let seeds: Vec<Vec<u8>> = crate::mqtt::packet::tests::samples()
            .iter()
            .map(|p| encode(p, Version::V311).unwrap())
            .collect();
        let mut decoded = 0usize;
        for i in 0..10_000u64 {
            // Half pure noise, half mutated valid packets (so decoding gets past the header).
            let mut bytes: Vec<u8> = if i % 2 == 0 {
                let len = rng.below(64) as usize;
                (0..len).map(|_| rng.next() as u8).collect()
            } else {
                let mut b = seeds[rng.below(seeds.len() as u64) as usize].clone();
                for _ in 0..=rng.below(4) {
                    let len = b.len() as u64;
                    match rng.below(4) {
                        0 if len > 0 => {
                            let at = rng.below(len) as usize;
                            b[at] ^= 1 << rng.below(8);
                        }
                        1 if len > 0 => {
                            let at = rng.below(len) as usize;
                            b[at] = rng.next() as u8;
                        }
                        2 if len > 0 => b.truncate(rng.below(len) as usize),
                        _ => b.push(rng.next() as u8),
                    }
                }
                b
            };
            if i % 7 == 0 {
                bytes.extend_from_slice(&[0xd0, 0x00]);
            }
            for direction in [Direction::ServerToClient, Direction::ClientToServer] {
                let mut d = Decoder::new(Version::V311, direction, 256);
                let chunk = 1 + rng.below(8) as usize;
                for piece in bytes.chunks(chunk) {
                    d.push(piece);
                    for _ in 0..64 {
                        match d.next() {
                            Ok(Some(p)) => {
                                decoded += 1;
                                // Whatever was understood serializes and re-encodes.
                                let v = serde_json::to_value(&p.packet).unwrap();
                                let _: Packet = serde_json::from_value(v).unwrap();
                                let _ = encode(&p.packet, Version::V311);
                            }
                            Ok(None) | Err(DecodeError::Desynchronized) => break,
                            Err(_) => {}
                        }
                    }
                }
            }
        }
        assert!(decoded > 1000, "only {decoded} packets decoded");
    }
}
