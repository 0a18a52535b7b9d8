//! Raw bytes into the strict MQTT decoder, both versions and directions, in arbitrary chunks:
//! it must never panic, and a packet it decodes without a violation must encode and decode again
//! to the same packet.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| wirecheck::fuzz::targets::mqtt_decode(data));
