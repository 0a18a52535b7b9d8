//! RFC 7395 framing and the XML parser: any text as one WebSocket message must parse or be
//! refused with an error, never panic; an element that parses serializes to XML that parses to
//! the same element.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wirecheck::xmpp::framing::parse_message;

fuzz_target!(|data: &[u8]| {
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
});
