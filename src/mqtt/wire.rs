//! Wire primitives shared by all packet types: remaining length, integers, length-prefixed fields, string checks.

use super::Version;
use super::error::EncodeError;
use super::rules::Rule;
use crate::violation::Violation;

/// Largest remaining length the four-byte variable length encoding can carry.
pub const MAX_REMAINING_LENGTH: usize = 268_435_455;

/// How many bytes the minimal variable length encoding of `value` takes.
pub(crate) fn remaining_length_size(value: usize) -> usize {
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// Appends the minimal variable length encoding of `value` (at most 268435455).
pub(crate) fn put_remaining_length(out: &mut Vec<u8>, mut value: usize) {
    loop {
        let mut byte = (value % 128) as u8;
        value /= 128;
        if value > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if value == 0 {
            break;
        }
    }
}

/// Result of reading a remaining length from the bytes after the first header byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RemainingLength {
    /// More bytes are needed.
    Incomplete,
    /// The fourth byte still has its continuation bit set.
    Overlong,
    /// The value and how many bytes encoded it.
    Complete { value: usize, size: usize },
}

/// Reads a variable length integer of at most four bytes.
pub(crate) fn read_remaining_length(bytes: &[u8]) -> RemainingLength {
    let mut value = 0usize;
    for (i, byte) in bytes.iter().take(4).enumerate() {
        value += usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return RemainingLength::Complete { value, size: i + 1 };
        }
    }
    if bytes.len() >= 4 {
        RemainingLength::Overlong
    } else {
        RemainingLength::Incomplete
    }
}

/// Reads a variable byte integer of at most four bytes at `*at` and moves `at` past it; None when
/// the bytes end inside it or it is overlong. For walking raw packets outside the codec.
pub(crate) fn read_varint(bytes: &[u8], at: &mut usize) -> Option<usize> {
    match read_remaining_length(bytes.get(*at..)?) {
        RemainingLength::Complete { value, size } => {
            *at += size;
            Some(value)
        }
        RemainingLength::Incomplete | RemainingLength::Overlong => None,
    }
}

/// Result of reading a variable byte integer inside a packet body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Vbi {
    /// The body ends inside the integer.
    Truncated,
    /// The fourth byte still has its continuation bit set.
    Overlong,
    /// The value, and whether it used the fewest bytes.
    Value { value: u32, minimal: bool },
}

/// A cursor over the bytes of one packet body; every read is bounds-checked.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    /// Bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// One byte.
    pub(crate) fn u8(&mut self) -> Option<u8> {
        let (&byte, rest) = self.buf.split_first()?;
        self.buf = rest;
        Some(byte)
    }

    /// A big-endian four-byte integer.
    pub(crate) fn u32(&mut self) -> Option<u32> {
        let bytes: [u8; 4] = self.take(4)?.try_into().ok()?;
        Some(u32::from_be_bytes(bytes))
    }

    /// A big-endian two-byte integer.
    pub(crate) fn u16(&mut self) -> Option<u16> {
        let bytes: [u8; 2] = self.take(2)?.try_into().ok()?;
        Some(u16::from_be_bytes(bytes))
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.buf.split_at_checked(n)?;
        self.buf = rest;
        Some(head)
    }

    /// A field prefixed by its two-byte length.
    pub(crate) fn prefixed(&mut self) -> Option<&'a [u8]> {
        let len = self.u16()?;
        self.take(usize::from(len))
    }

    /// A variable byte integer (5.0 section 1.5.5).
    pub(crate) fn vbi(&mut self) -> Vbi {
        match read_remaining_length(self.buf) {
            RemainingLength::Incomplete => Vbi::Truncated,
            RemainingLength::Overlong => Vbi::Overlong,
            RemainingLength::Complete { value, size } => {
                self.buf = self.buf.get(size..).unwrap_or_default();
                Vbi::Value {
                    value: value as u32,
                    minimal: size == remaining_length_size(value),
                }
            }
        }
    }

    /// Everything not read yet.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }
}

/// Turns the bytes of a UTF-8 encoded string field into text, reporting breaches of the string
/// rules of `version` ([`Rule::Utf8WellFormed`], [`Rule::Utf8NoNull`]).
/// Ill-formed sequences are replaced by U+FFFD in the result; `raw` keeps the original bytes.
pub(crate) fn text(
    bytes: &[u8],
    field: &str,
    version: Version,
    violations: &mut Vec<Violation>,
) -> String {
    let null = || format!("{field} contains the null character U+0000");
    match std::str::from_utf8(bytes) {
        Ok(s) => {
            if s.contains('\0') {
                violations.extend(Rule::Utf8NoNull.violation(version, null()));
            }
            s.to_string()
        }
        Err(_) => {
            let surrogate = bytes.windows(2).any(|w| matches!(w, [0xED, 0xA0..=0xBF]));
            let detail = if surrogate {
                format!(
                    "{field} encodes a surrogate code point (U+D800..U+DFFF): {}",
                    hex::encode(bytes)
                )
            } else {
                format!("{field} is not well-formed UTF-8: {}", hex::encode(bytes))
            };
            violations.extend(Rule::Utf8WellFormed.violation(version, detail));
            if bytes.contains(&0) {
                violations.extend(Rule::Utf8NoNull.violation(version, null()));
            }
            String::from_utf8_lossy(bytes).into_owned()
        }
    }
}

/// Appends a big-endian two-byte integer.
pub(crate) fn put_u16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_be_bytes());
}

/// Appends a field prefixed by its two-byte length.
pub(crate) fn put_prefixed(
    out: &mut Vec<u8>,
    bytes: &[u8],
    field: &'static str,
) -> Result<(), EncodeError> {
    let len = u16::try_from(bytes.len()).map_err(|_| EncodeError::FieldTooLong {
        field,
        len: bytes.len(),
    })?;
    put_u16(out, len);
    out.extend_from_slice(bytes);
    Ok(())
}

/// Checks that a QoS value fits in two bits, for encoding.
pub(crate) fn qos_bits(value: u8, field: &'static str) -> Result<u8, EncodeError> {
    if value > 3 {
        Err(EncodeError::QosRange { field, value })
    } else {
        Ok(value)
    }
}

/// A violation of `rule` in `version` for a packet whose fields end before the remaining length says.
pub(crate) fn truncated(rule: Rule, version: Version, what: impl std::fmt::Display) -> Violation {
    rule.malformed(
        version,
        format!("{what} (fields run past the remaining length)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::codec::tests::id;

    fn encoded(value: usize) -> Vec<u8> {
        let mut out = Vec::new();
        put_remaining_length(&mut out, value);
        out
    }

    #[test]
    fn remaining_length_boundaries_are_minimal() {
        let cases: &[(usize, &[u8])] = &[
            (0, &[0x00]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (16_383, &[0xff, 0x7f]),
            (16_384, &[0x80, 0x80, 0x01]),
            (2_097_151, &[0xff, 0xff, 0x7f]),
            (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
            (268_435_455, &[0xff, 0xff, 0xff, 0x7f]),
        ];
        for &(value, bytes) in cases {
            assert_eq!(encoded(value), bytes, "{value}");
            assert_eq!(remaining_length_size(value), bytes.len(), "{value}");
            assert_eq!(
                read_remaining_length(bytes),
                RemainingLength::Complete {
                    value,
                    size: bytes.len()
                }
            );
        }
    }

    #[test]
    fn remaining_length_incomplete_and_overlong() {
        assert_eq!(read_remaining_length(&[]), RemainingLength::Incomplete);
        assert_eq!(
            read_remaining_length(&[0x80, 0x80]),
            RemainingLength::Incomplete
        );
        assert_eq!(
            read_remaining_length(&[0x80, 0x80, 0x80, 0x80]),
            RemainingLength::Overlong
        );
        assert_eq!(
            read_remaining_length(&[0x80, 0x00]),
            RemainingLength::Complete { value: 0, size: 2 }
        );
    }

    #[test]
    fn read_varint_moves_past_the_integer_or_gives_none() {
        let bytes = [0x82, 0x0b, 0xc1, 0x02, 0x80];
        let mut at = 1;
        assert_eq!(read_varint(&bytes, &mut at), Some(0x0b));
        assert_eq!(at, 2);
        assert_eq!(read_varint(&bytes, &mut at), Some(0x41 + (2 << 7)));
        assert_eq!(at, 4);
        assert_eq!(
            read_varint(&bytes, &mut at),
            None,
            "ends inside the integer"
        );
        let mut past = 9;
        assert_eq!(read_varint(&bytes, &mut past), None, "starts past the end");
        let mut overlong = 0;
        assert_eq!(
            read_varint(&[0xff, 0xff, 0xff, 0xff, 0x01], &mut overlong),
            None
        );
    }

    #[test]
    fn reader_never_reads_past_the_end() {
        let mut r = Reader::new(&[0x00, 0x05, 0x61]);
        assert_eq!(r.prefixed(), None);
        let mut r = Reader::new(&[0x01]);
        assert_eq!(r.u16(), None);
        assert_eq!(r.u8(), Some(1));
        assert_eq!(r.u8(), None);
        assert_eq!(r.take(1), None);
        assert!(r.rest().is_empty());
    }

    #[test]
    fn text_reports_bad_strings() {
        let mut v = Vec::new();
        assert_eq!(text(b"ok", "f", Version::V311, &mut v), "ok");
        assert!(v.is_empty());
        text(&[0xc3, 0x28], "f", Version::V311, &mut v);
        assert_eq!(v.pop().unwrap().spec, id(Rule::Utf8WellFormed));
        text(&[0xed, 0xa0, 0x80], "f", Version::V311, &mut v);
        let s = v.pop().unwrap();
        assert_eq!(s.spec, id(Rule::Utf8WellFormed));
        assert!(s.detail.contains("surrogate"));
        text(b"a\0", "f", Version::V311, &mut v);
        assert_eq!(v.pop().unwrap().spec, id(Rule::Utf8NoNull));
        // 5.0 numbers the same string rules differently.
        text(&[0xc3, 0x28], "f", Version::V5, &mut v);
        text(b"a\0", "f", Version::V5, &mut v);
        let got: Vec<_> = v.drain(..).map(|v| v.spec).collect();
        assert_eq!(
            got,
            [Rule::Utf8WellFormed, Rule::Utf8NoNull].map(|r| r.id(Version::V5).unwrap())
        );
        assert_ne!(got[0], id(Rule::Utf8WellFormed));
        // U+FEFF must be kept, not stripped (MQTT-1.5.3-3).
        assert_eq!(
            text(&[0xef, 0xbb, 0xbf, 0x61], "f", Version::V311, &mut v),
            "\u{feff}a"
        );
        assert!(v.is_empty());
    }

    #[test]
    fn prefixed_field_too_long_is_an_error() {
        let mut out = Vec::new();
        let big = vec![0u8; 65_536];
        assert!(matches!(
            put_prefixed(&mut out, &big, "topic"),
            Err(EncodeError::FieldTooLong { len: 65_536, .. })
        ));
        assert!(put_prefixed(&mut out, &big[..65_535], "topic").is_ok());
    }
}
