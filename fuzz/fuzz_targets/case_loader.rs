//! The case-file loader: any text as a case file loads or gives a located error, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| wirecheck::fuzz::targets::case_loader(data));
