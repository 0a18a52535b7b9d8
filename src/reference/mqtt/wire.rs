//! Bytes the broker sends (optionally with a padded remaining length) and the CONNECT preamble it peeks at.

use crate::mqtt::{Packet, Version, encode};

/// Encodes a packet the broker sends in `version`; `four_byte_length` pads the remaining length to four bytes.
pub(crate) fn encode_out(
    packet: &Packet,
    version: Version,
    four_byte_length: bool,
) -> Option<Vec<u8>> {
    let bytes = match encode(packet, version) {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!("reference broker cannot encode {packet:?}: {e}");
            return None;
        }
    };
    if four_byte_length {
        widen_remaining_length(&bytes)
    } else {
        Some(bytes)
    }
}

/// Reads a remaining length after the first header byte: (value, bytes used).
fn remaining_length(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut value = 0usize;
    for (i, byte) in bytes.iter().take(4).enumerate() {
        value += usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// Rewrites an encoded packet so its remaining length takes four bytes (e.g. 2 as 0x82 0x80 0x80 0x00).
pub(crate) fn widen_remaining_length(bytes: &[u8]) -> Option<Vec<u8>> {
    let (&first, rest) = bytes.split_first()?;
    let (value, size) = remaining_length(rest)?;
    let body = rest.get(size..)?;
    let mut out = Vec::with_capacity(bytes.len() + 3);
    out.push(first);
    out.push((value & 0x7f) as u8 | 0x80);
    out.push(((value >> 7) & 0x7f) as u8 | 0x80);
    out.push(((value >> 14) & 0x7f) as u8 | 0x80);
    out.push(((value >> 21) & 0x7f) as u8);
    out.extend_from_slice(body);
    Some(out)
}

/// Protocol name and level of a CONNECT, read before (and whatever) the rest of the packet decodes to.
pub(crate) fn connect_preamble(raw: &[u8]) -> Option<(&[u8], u8)> {
    let (&first, rest) = raw.split_first()?;
    if first >> 4 != 1 {
        return None;
    }
    let (_, size) = remaining_length(rest)?;
    let body = rest.get(size..)?;
    let (len, body) = body.split_first_chunk::<2>()?;
    let (name, body) = body.split_at_checked(usize::from(u16::from_be_bytes(*len)))?;
    let level = *body.first()?;
    Some((name, level))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widens_to_four_bytes() {
        assert_eq!(
            widen_remaining_length(&[0x40, 0x02, 0x00, 0x07]).unwrap(),
            [0x40, 0x82, 0x80, 0x80, 0x00, 0x00, 0x07]
        );
        assert_eq!(
            widen_remaining_length(&[0xd0, 0x00]).unwrap(),
            [0xd0, 0x80, 0x80, 0x80, 0x00]
        );
        let mut big = vec![0x30, 0xcd, 0x01];
        big.extend(vec![0u8; 205]);
        let wide = widen_remaining_length(&big).unwrap();
        assert_eq!(&wide[..5], &[0x30, 0xcd, 0x81, 0x80, 0x00]);
        assert_eq!(wide.len(), 5 + 205);
        assert!(widen_remaining_length(&[0x30]).is_none());
    }

    #[test]
    fn reads_connect_preamble() {
        let raw = [
            0x10, 0x0a, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x02, 0x00, 0x3c,
        ];
        assert_eq!(connect_preamble(&raw), Some((&b"MQTT"[..], 5)));
        assert_eq!(connect_preamble(&[0x10, 0x02, 0x00, 0x04]), None);
        assert_eq!(connect_preamble(&[0x20, 0x02, 0x00, 0x00]), None);
        assert_eq!(connect_preamble(&[]), None);
    }
}
