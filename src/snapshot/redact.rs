//! Redaction: volatile values of a case run become stable placeholders — the generated values
//! (`{ns}`, `{alice.full_jid}`, ...), values the protocol knows the server made up (stream ids,
//! server ids, resources: `<stream-id-1>`), the default patterns (timestamps, ports) and the
//! regexes a case or profile adds.

use std::collections::BTreeMap;

use regex::Regex;
use serde::Deserialize;

/// One extra redaction as written in a case or profile: `{ regex: "...", as: "<x>" }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RedactDoc {
    /// A regular expression (Rust `regex` syntax) over each normalised line.
    pub regex: String,
    /// What every match becomes (`$1` and `${name}` refer to capture groups).
    #[serde(rename = "as")]
    pub replacement: String,
}

/// A redaction regex that does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("snapshot_redact: regex `{regex}` is invalid: {reason}")]
pub struct BadRegex {
    /// The regex as written.
    pub regex: String,
    /// What the regex engine said.
    pub reason: String,
}

impl RedactDoc {
    /// Compiles the regex.
    pub fn compile(&self) -> Result<(Regex, String), BadRegex> {
        Regex::new(&self.regex)
            .map(|r| (r, self.replacement.clone()))
            .map_err(|e| BadRegex {
                regex: self.regex.clone(),
                reason: e.to_string(),
            })
    }
}

/// Checks that every regex of a list compiles.
pub fn validate(docs: &[RedactDoc]) -> Result<(), BadRegex> {
    docs.iter().try_for_each(|d| d.compile().map(|_| ()))
}

/// Generated variables that are never replaced: they do not vary between runs (the case id, the
/// target's domain), and replacing them would only make the snapshot harder to read.
const STABLE_VARS: &[&str] = &["case", "domain"];

/// Values shorter than this are replaced only where they stand alone (not inside a word).
const SHORT: usize = 6;

/// The default redactions of every snapshot, in the order they apply (after the placeholders):
/// ISO 8601 timestamps (XEP-0082 `stamp`s, dates) and loopback ports.
pub const DEFAULT_PATTERNS: &[(&str, &str)] = &[
    (
        r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?",
        "<timestamp>",
    ),
    (r"(127\.0\.0\.1|localhost|\[::1\]):\d{1,5}", "$1:<port>"),
];

/// Replaces volatile values in normalised lines.
#[derive(Debug, Clone)]
pub struct Redactor {
    /// (value, placeholder), longest value first.
    values: Vec<(String, String)>,
    /// Regexes after the values: defaults, then the profile's, then the case's.
    patterns: Vec<(Regex, String)>,
    /// Placeholders handed out per kind (`stream-id` → next number).
    counters: BTreeMap<String, usize>,
}

impl Redactor {
    /// A redactor for one case result: its generated values, the defaults, then `extra`
    /// (profile first, then case).
    pub fn new(
        generated: &BTreeMap<String, String>,
        extra: &[RedactDoc],
    ) -> Result<Self, BadRegex> {
        let mut values = Vec::new();
        for (name, value) in generated {
            if STABLE_VARS.contains(&name.as_str()) || value.is_empty() {
                continue;
            }
            // Captures (no dot in the name, not `run`/`ns`) are replaced only when they look
            // like made-up ids, never small numbers that also occur as counts.
            let capture = !name.contains('.') && name != "run" && name != "ns";
            if capture && value.len() < SHORT {
                continue;
            }
            values.push((value.clone(), format!("{{{name}}}")));
        }
        let mut patterns = Vec::new();
        for (re, to) in DEFAULT_PATTERNS {
            let doc = RedactDoc {
                regex: re.to_string(),
                replacement: to.to_string(),
            };
            patterns.push(doc.compile()?);
        }
        for d in extra {
            patterns.push(d.compile()?);
        }
        let mut r = Redactor {
            values,
            patterns,
            counters: BTreeMap::new(),
        };
        r.sort();
        Ok(r)
    }

    fn sort(&mut self) {
        // Longest first; equal lengths by placeholder so the order never depends on insertion.
        self.values
            .sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.1.cmp(&b.1)));
        self.values.dedup_by(|a, b| a.0 == b.0);
    }

    /// Whether `value` already has a placeholder.
    pub fn knows(&self, value: &str) -> bool {
        self.values.iter().any(|(v, _)| v == value)
    }

    /// Gives `value` the next numbered placeholder of `kind` (`<kind-N>`) unless it has one;
    /// returns its placeholder.
    pub fn volatile(&mut self, kind: &str, value: &str) -> String {
        if value.is_empty() {
            // Nothing to hide, and an empty needle would match everywhere.
            return String::new();
        }
        if let Some((_, p)) = self.values.iter().find(|(v, _)| v == value) {
            return p.clone();
        }
        let n = self.counters.entry(kind.to_string()).or_insert(0);
        *n += 1;
        let placeholder = format!("<{kind}-{n}>");
        self.values.push((value.to_string(), placeholder.clone()));
        self.sort();
        placeholder
    }

    /// `text` with every known value replaced by its placeholder, then every pattern applied.
    pub fn apply(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (value, placeholder) in &self.values {
            out = replace_value(&out, value, placeholder);
        }
        for (re, to) in &self.patterns {
            out = re.replace_all(&out, to.as_str()).into_owned();
        }
        out
    }

    /// Hex of `bytes` (space-separated pairs), with every known value found in the bytes shown
    /// as its placeholder instead.
    pub fn hex(&self, bytes: &[u8]) -> String {
        let mut parts: Vec<String> = Vec::new();
        let mut i = 0;
        'outer: while i < bytes.len() {
            for (value, placeholder) in &self.values {
                let v = value.as_bytes();
                if v.len() >= SHORT && bytes[i..].starts_with(v) {
                    parts.push(placeholder.clone());
                    i += v.len();
                    continue 'outer;
                }
            }
            parts.push(format!("{:02x}", bytes[i]));
            i += 1;
        }
        parts.join(" ")
    }
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Replaces `value` in `text`; a short value only where no word character touches it.
fn replace_value(text: &str, value: &str, placeholder: &str) -> String {
    if value.is_empty() {
        return text.to_string();
    }
    if value.len() >= SHORT {
        return text.replace(value, placeholder);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find(value) {
        let before = rest[..pos].chars().next_back();
        let after = rest[pos + value.len()..].chars().next();
        let alone = !before.is_some_and(is_word) && !after.is_some_and(is_word);
        out.push_str(&rest[..pos]);
        out.push_str(if alone { placeholder } else { value });
        rest = &rest[pos + value.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generated(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn longest_values_first_and_short_ones_only_alone() {
        let g = generated(&[
            ("run", "ab12cd"),
            ("ns", "wirecheck/ab12cd/x"),
            ("alice.jid", "wc1@localhost"),
            ("alice.full_jid", "wc1@localhost/r1ab12cd"),
            ("alice.user", "wc1"),
            ("bob.user", "wc10"),
            ("case", "x"),
            ("pid", "1"),
        ]);
        let r = Redactor::new(&g, &[]).unwrap();
        assert_eq!(
            r.apply("wirecheck/ab12cd/x/t wc1@localhost/r1ab12cd wc1@localhost wc1 wc10 id=1 x"),
            "{ns}/t {alice.full_jid} {alice.jid} {alice.user} {bob.user} id=1 x"
        );
        assert_eq!(r.apply("client ab12cd99"), "client {run}99");
    }

    #[test]
    fn volatile_values_are_numbered_by_first_sight() {
        let mut r = Redactor::new(&BTreeMap::new(), &[]).unwrap();
        assert_eq!(r.volatile("stream-id", "f00d1234"), "<stream-id-1>");
        assert_eq!(r.volatile("stream-id", "beef5678"), "<stream-id-2>");
        assert_eq!(r.volatile("stream-id", "f00d1234"), "<stream-id-1>");
        assert_eq!(r.apply("id='beef5678'"), "id='<stream-id-2>'");
        // An empty id (prosody's <open/> in the wrong namespace) is no value to hide.
        assert_eq!(r.volatile("stream-id", ""), "");
        assert_eq!(r.apply("id=''"), "id=''");
    }

    #[test]
    fn defaults_and_extra_patterns_apply_after_values() {
        let extra = [RedactDoc {
            regex: "token=[a-z0-9]+".into(),
            replacement: "token=<token>".into(),
        }];
        let r = Redactor::new(&BTreeMap::new(), &extra).unwrap();
        assert_eq!(
            r.apply("stamp='2026-12-01T10:06:04.123Z' at 127.0.0.1:40211 token=abc9"),
            "stamp='<timestamp>' at 127.0.0.1:<port> token=<token>"
        );
        let bad = [RedactDoc {
            regex: "(".into(),
            replacement: String::new(),
        }];
        assert!(Redactor::new(&BTreeMap::new(), &bad).is_err());
    }

    #[test]
    fn hex_shows_known_values_as_placeholders() {
        let g = generated(&[("ns", "wirecheck/ab12cd/x")]);
        let r = Redactor::new(&g, &[]).unwrap();
        let mut bytes = vec![0x30, 0x14];
        bytes.extend_from_slice(b"wirecheck/ab12cd/x");
        bytes.push(0xff);
        assert_eq!(r.hex(&bytes), "30 14 {ns} ff");
    }
}
