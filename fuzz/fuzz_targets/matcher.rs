//! The matchers: a JSON packet pattern against a JSON value, and an XML pattern against an XML
//! element, from arbitrary text; never a panic, and a value always matches itself as a pattern.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| wirecheck::fuzz::targets::matcher(data));
