//! The case-file loader: any text as a case file loads or gives a located error, never panics.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = wirecheck::case::loader::load_str(Path::new("fuzz.yaml"), text) {
        // rendering the error (with its source excerpt) must not panic either
        let _ = e.to_string();
    }
});
