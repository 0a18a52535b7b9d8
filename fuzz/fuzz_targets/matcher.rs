//! The matchers: a JSON packet pattern against a JSON value, and an XML pattern against an XML
//! element, from arbitrary text; never a panic, and a value always matches itself as a pattern.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use wirecheck::case::matching::match_value;
use wirecheck::vars::Vars;
use wirecheck::xmpp::framing::parse_message;
use wirecheck::xmpp::pattern::Pattern;

fuzz_target!(|data: &[u8]| {
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
});

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
