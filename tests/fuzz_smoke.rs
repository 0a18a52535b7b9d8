//! A smoke run of every cargo-fuzz target in each `cargo test` (CI included), on stable Rust and
//! without libFuzzer: the targets' bodies (`wirecheck::fuzz::targets`, which the targets in
//! `fuzz/fuzz_targets/` call) get seeds taken from the cases and a fixed number of seeded
//! byte-level mutations of them. Long, coverage-guided campaigns stay with `cargo +nightly fuzz`.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use wirecheck::case::{Case, Protocol, Step};
use wirecheck::fuzz::targets;
use wirecheck::mqtt::template::packet_from_value;
use wirecheck::mqtt::{Version, encode};

/// Mutations per byte-level target (about a second each on this machine).
const MUTATIONS: usize = 200_000;
/// The matcher parses both sides of every input.
const MATCHER_MUTATIONS: usize = 50_000;
/// The case loader parses YAML and validates a whole case: far slower per input.
const LOADER_MUTATIONS: usize = 8_000;

fn cases() -> Vec<Case> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cases");
    wirecheck::case::load_all(&[root]).expect("the cases load")
}

fn version(c: &Case) -> Version {
    if c.version.as_deref() == Some("5.0") {
        Version::V5
    } else {
        Version::V311
    }
}

/// Tokens a text mutation may insert: markup, references, pattern syntax, odd characters.
const TOKENS: &[&str] = &[
    "<",
    ">",
    "/>",
    "</a>",
    "&",
    "&#x8;",
    "&#0;",
    "&amp;",
    "]]>",
    "'",
    "\"",
    "xmlns='x'",
    "{",
    "}",
    "$x",
    "\u{0}",
    "\u{feff}",
    "\u{10ffff}",
    ":",
    "\n  - ",
    "[",
    "]",
    "one_of",
    "*",
    "0x",
];

/// One deterministic byte-level mutation of `seed` (splicing with `other`).
fn mutate(rng: &mut StdRng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        let at = if v.is_empty() {
            0
        } else {
            rng.random_range(0..v.len())
        };
        match rng.random_range(0..7) {
            0 if !v.is_empty() => v[at] ^= 1 << rng.random_range(0..8),
            1 if !v.is_empty() => v[at] = [0x00, 0xff, 0x7f, 0x80, 0x01][rng.random_range(0..5)],
            2 => v.insert(at, rng.random()),
            3 if !v.is_empty() => {
                let end = (at + rng.random_range(1..=8)).min(v.len());
                v.drain(at..end);
            }
            4 if !v.is_empty() => {
                let end = (at + rng.random_range(1..=16)).min(v.len());
                let piece = v[at..end].to_vec();
                v.splice(at..at, piece);
            }
            5 if !other.is_empty() => {
                let from = rng.random_range(0..other.len());
                let end = (from + rng.random_range(1..=32)).min(other.len());
                v.splice(at..at, other[from..end].iter().copied());
            }
            _ => {
                let t = TOKENS[rng.random_range(0..TOKENS.len())].as_bytes();
                v.splice(at..at, t.iter().copied());
            }
        }
    }
    v
}

/// Runs `target` on every seed, then on `n` mutations; prints the rate (loud, on stderr).
fn smoke(name: &str, seeds: &[Vec<u8>], n: usize, target: fn(&[u8])) {
    assert!(
        seeds.len() >= 10,
        "{name}: only {} seeds from the cases",
        seeds.len()
    );
    let started = Instant::now();
    for s in seeds {
        target(s);
    }
    let mut rng = StdRng::seed_from_u64(0x5eed);
    for i in 0..n {
        let seed = &seeds[i % seeds.len()];
        let other = &seeds[rng.random_range(0..seeds.len())];
        let input = mutate(&mut rng, seed, other);
        target(&input);
    }
    let secs = started.elapsed().as_secs_f64();
    let _ = writeln!(
        std::io::stderr(),
        "fuzz smoke {name}: {} seeds + {n} mutations in {secs:.2} s ({:.0} inputs/s), clean",
        seeds.len(),
        (seeds.len() + n) as f64 / secs.max(1e-9)
    );
}

fn sends(cases: &[Case], protocol: Protocol) -> Vec<(&Case, &wirecheck::case::model::SendStep)> {
    cases
        .iter()
        .filter(|c| c.protocol == protocol)
        .flat_map(|c| {
            c.steps.iter().filter_map(move |s| match &s.step {
                Step::Send(send) => Some((c, send)),
                _ => None,
            })
        })
        .collect()
}

#[test]
fn mqtt_decode_and_roundtrip() {
    let cases = cases();
    let mut seeds = Vec::new();
    let mut values = 0;
    for (case, send) in sends(&cases, Protocol::Mqtt) {
        let v = version(case);
        let mode = (if v == Version::V5 { 1 } else { 0 }) | 2;
        if let Some(packet) = &send.packet {
            // the roundtrip target takes the packet value itself
            targets::mqtt_roundtrip(packet, v);
            values += 1;
            if let Ok(p) = packet_from_value(packet)
                && let Ok(bytes) = encode(&p, v)
            {
                seeds.push([&[mode][..], &bytes].concat());
                seeds.push([&[mode | 4][..], &bytes].concat());
            }
        }
        if let Some(hex) = &send.bytes
            && let Ok(raw) = wirecheck::case::validate::parse_hex(hex)
        {
            seeds.push([&[mode][..], &raw].concat());
        }
    }
    assert!(values > 100, "only {values} packet values in the cases");
    smoke("mqtt_decode", &seeds, MUTATIONS, targets::mqtt_decode);
    // Numeric fields of the packet values at their edges, through the roundtrip target.
    let mut n = 0;
    for (case, send) in sends(&cases, Protocol::Mqtt) {
        let Some(packet) = &send.packet else { continue };
        for edge in [0u64, 1, 255, 65_535, 65_536, 268_435_455, u32::MAX as u64] {
            let mut v = packet.clone();
            if let Value::Object(map) = &mut v {
                for (_, field) in map.iter_mut() {
                    if field.is_u64() {
                        *field = Value::from(edge);
                    }
                }
            }
            targets::mqtt_roundtrip(&v, version(case));
            n += 1;
        }
    }
    let _ = writeln!(
        std::io::stderr(),
        "fuzz smoke mqtt_roundtrip: {values} packet values from the cases + {n} with edge numbers, clean"
    );
}

#[test]
fn xmpp_framing_and_matcher() {
    let cases = cases();
    let mut xml: Vec<Vec<u8>> = Vec::new();
    let mut pairs: Vec<Vec<u8>> = Vec::new();
    for c in cases.iter().filter(|c| c.protocol == Protocol::Xmpp) {
        let mut sent: Vec<&str> = Vec::new();
        for s in &c.steps {
            match &s.step {
                Step::Send(send) => {
                    if let Some(x) = send.xml.as_deref().or(send.text.as_deref()) {
                        xml.push(x.as_bytes().to_vec());
                        sent.push(x);
                    }
                }
                Step::Expect(e) => {
                    if let Some(p) = &e.xml {
                        xml.push(p.as_bytes().to_vec());
                        let actual = sent.last().copied().unwrap_or(p);
                        pairs.push(format!("{p}\0{actual}").into_bytes());
                    }
                }
                _ => {}
            }
        }
    }
    for c in cases.iter().filter(|c| c.protocol == Protocol::Mqtt) {
        for s in &c.steps {
            if let Step::Expect(e) = &s.step
                && let Some(p) = &e.packet
            {
                pairs.push(format!("{p}\0{p}").into_bytes());
            }
        }
    }
    smoke("xmpp_framing", &xml, MUTATIONS, targets::xmpp_framing);
    smoke("matcher", &pairs, MATCHER_MUTATIONS, targets::matcher);
}

#[test]
fn case_loader() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cases");
    let mut seeds = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                seeds.push(std::fs::read(&path).unwrap());
            }
        }
    }
    seeds.sort();
    smoke(
        "case_loader",
        &seeds,
        LOADER_MUTATIONS,
        targets::case_loader,
    );
}
