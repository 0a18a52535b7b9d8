//! Raw bytes into the strict MQTT decoder, both versions and directions, in arbitrary chunks:
//! it must never panic, and a packet it decodes without a violation must encode and decode again
//! to the same packet.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wirecheck::mqtt::{Decoder, Direction, Version, encode};

const MAX: usize = 1 << 16;

fuzz_target!(|data: &[u8]| {
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
});
