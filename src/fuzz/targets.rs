//! The bodies of the cargo-fuzz targets in `fuzz/fuzz_targets/`, as plain functions: libFuzzer
//! calls them through the targets, and `tests/fuzz_smoke.rs` runs each over seeds from the
//! cases and deterministic mutations of them in every `cargo test`. Each panics on a bug (a
//! property that must hold), never on input it may refuse.

use std::path::Path;

use serde_json::Value;

use crate::case::matching::match_value;
use crate::mqtt::template::packet_from_value;
use crate::mqtt::{Decoder, Direction, Version, encode};
use crate::vars::Vars;
use crate::xmpp::framing::parse_message;
use crate::xmpp::pattern::Pattern;

/// Largest packet the decode target accepts.
const MAX: usize = 1 << 16;

/// Raw bytes into the strict MQTT decoder; the first byte picks the version (bit 0), the
/// direction (bit 1) and the chunking (upper bits). A packet decoded without violation must
/// encode and decode again to the same packet.
pub fn mqtt_decode(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let version = if mode & 1 == 0 {
        Version::V311
    } else {
        Version::V5
    };
    let direction = if mode & 2 == 0 {
        Direction::ServerToClient
    } else {
        Direction::ClientToServer
    };
    // the upper bits choose how the bytes arrive: whole, or in chunks of 1..=63 bytes
    let chunk = usize::from(mode >> 2).max(1);
    let mut decoder = Decoder::new(version, direction, MAX);
    let mut clean = Vec::new();
    for piece in rest.chunks(if mode >> 2 == 0 {
        rest.len().max(1)
    } else {
        chunk
    }) {
        decoder.push(piece);
        loop {
            match decoder.next() {
                Ok(Some(d)) => {
                    if d.violations.is_empty() {
                        clean.push(d.packet);
                    }
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
    for packet in clean {
        let Ok(bytes) = encode(&packet, version) else {
            panic!("a packet decoded without violation does not encode: {packet:?}");
        };
        let mut again = Decoder::new(version, direction, MAX);
        again.push(&bytes);
        match again.next() {
            Ok(Some(d)) => assert_eq!(d.packet, packet, "re-decoded packet differs"),
            other => panic!("re-encoded packet does not decode: {other:?} for {packet:?}"),
        }
    }
}

/// A packet value a case could write (the structure-aware target builds it from `arbitrary`
/// fields): encoded, then decoded by a server-side decoder; a packet accepted without a
/// violation must come back to the same bytes.
pub fn mqtt_roundtrip(v: &Value, version: Version) {
    // The case model refuses what a case may not write; that is not a finding.
    let Ok(packet) = packet_from_value(v) else {
        return;
    };
    let Ok(bytes) = encode(&packet, version) else {
        return;
    };
    let mut decoder = Decoder::new(version, Direction::ClientToServer, 1 << 20);
    decoder.push(&bytes);
    match decoder.next() {
        Ok(Some(d)) if d.violations.is_empty() => {
            assert_eq!(
                d.raw.len(),
                bytes.len(),
                "decoded a different length than encoded"
            );
            let again = encode(&d.packet, version).expect("a decoded packet encodes");
            assert_eq!(
                again, bytes,
                "decode -> encode changed the bytes of {packet:?}"
            );
        }
        // An invalid packet on purpose (QoS 3, a reserved flag, ...) is judged, not round-tripped.
        Ok(Some(_)) | Err(_) => {}
        Ok(None) => panic!(
            "{} encoded bytes did not make a whole packet: {packet:?}",
            bytes.len()
        ),
    }
}

/// Any text as one RFC 7395 WebSocket message: parsed or refused, never a panic; an element that
/// parses serializes to XML that parses to the same element.
pub fn xmpp_framing(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(framed) = parse_message(text) else {
        return;
    };
    let xml = framed.element.to_xml();
    let again = parse_message(&xml)
        .unwrap_or_else(|e| panic!("serialized element does not parse: {e}: {xml}"));
    assert_eq!(
        again.element, framed.element,
        "element changed through to_xml: {xml}"
    );
}

/// Any text as a case file: loads, or gives a located error that renders; never a panic.
pub fn case_loader(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = crate::case::loader::load_str(Path::new("fuzz.yaml"), text) {
        // rendering the error (with its source excerpt) must not panic either
        let _ = e.to_string();
    }
}

/// JSON and XML patterns from arbitrary text (`pattern \0 actual`): never a panic, and a plain
/// value matches itself as a pattern.
pub fn matcher(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // "pattern \x00 actual": JSON or XML on both sides
    let (pattern, actual) = text.split_once('\0').unwrap_or((text, text));
    if let (Ok(p), Ok(a)) = (
        serde_json::from_str::<Value>(pattern),
        serde_json::from_str::<Value>(actual),
    ) {
        let _ = match_value(&p, &a, &mut Vars::new(), false);
        let _ = match_value(&p, &a, &mut Vars::new(), true);
        if !contains_capture_or_template(&a) {
            assert!(
                match_value(&a, &a, &mut Vars::new(), true).is_ok(),
                "a value does not match itself: {a}"
            );
        }
    }
    if let (Ok(p), Ok(a)) = (Pattern::parse(pattern), parse_message(actual)) {
        let _ = p.matches(&a.element, &mut Vars::new());
        let _ = p.matches_exact(&a.element, &mut Vars::new());
    }
}

/// Strings with `$name`, `{var}` or a `one_of` map are pattern syntax, not plain values.
fn contains_capture_or_template(v: &Value) -> bool {
    match v {
        Value::String(s) => s.starts_with('$') || s.contains('{') || s.contains('}'),
        Value::Array(a) => a.iter().any(contains_capture_or_template),
        Value::Object(m) => {
            m.contains_key("one_of") || m.values().any(contains_capture_or_template)
        }
        _ => false,
    }
}
