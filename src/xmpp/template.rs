//! XML as written in cases: checks at load time that a sent element is one well-formed
//! element and that an expect pattern parses.

use crate::xmpp::framing::parse_message;
use crate::xmpp::pattern::Pattern;

/// Checks a `send.xml` value: exactly one well-formed element (malformed input goes in `text:`).
pub fn validate_element(xml: &str) -> Result<(), String> {
    parse_message(xml)
        .map(|_| ())
        .map_err(|e| format!("{e} (send malformed XML with `text:` instead)"))
}

/// Checks an `expect.xml` pattern.
pub fn validate_pattern(xml: &str) -> Result<(), String> {
    Pattern::parse(xml).map(|_| ()).map_err(|e| e.to_string())
}
