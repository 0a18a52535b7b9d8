//! RFC 7395 framing and the XML parser: any text as one WebSocket message must parse or be
//! refused with an error, never panic; an element that parses serializes to XML that parses to
//! the same element.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| wirecheck::fuzz::targets::xmpp_framing(data));
