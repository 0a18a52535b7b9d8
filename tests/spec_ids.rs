//! Every statement id the code tags a violation with, or a case names, exists in the spec lists.

use std::path::Path;

use wirecheck::mqtt::{Rule, Version};
use wirecheck::spec::SpecSet;

fn ids_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices(['M', 'R']) {
        let rest = &text[i..];
        let prefix = ["MQTT-", "RFC7395-", "RFC6120-", "RFC6121-", "RFC6455-"]
            .into_iter()
            .find(|p| rest.starts_with(p));
        let Some(prefix) = prefix else { continue };
        let body: String = rest[prefix.len()..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '-')
            .collect();
        let body = body.trim_end_matches(['.', '-']);
        // An id is SECTION-N: at least one dash after the section.
        if let Some((section, n)) = body.rsplit_once('-')
            && !section.is_empty()
            && !n.is_empty()
            && section.chars().next().is_some_and(|c| c.is_ascii_digit())
        {
            out.push(format!("{prefix}{body}"));
        }
    }
    out
}

fn walk(dir: &Path, exts: &[&str], files: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(&p, exts, files);
        } else if p
            .extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| exts.contains(&x))
        {
            files.push(p);
        }
    }
}

/// Files under src/mqtt and src/reference/mqtt whose code may spell an MQTT statement id: the
/// table itself and the fault switch descriptions (prose about the 3.1.1 broker, not violations).
const MQTT_ID_FILES: &[&str] = &["src/mqtt/rules.rs", "src/reference/mqtt/fault.rs"];

/// Ids that tests use on purpose because they do not exist.
const DELIBERATELY_UNKNOWN: &[&str] = &["RFC7395-9.9-9", "MQTT-9.9.9-9"];

#[test]
fn every_id_used_is_known() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    walk(&root.join("src"), &["rs"], &mut files);
    walk(&root.join("cases"), &["yaml"], &mut files);
    let mut unknown = Vec::new();
    let mut seen = 0;
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for id in ids_in(&text) {
            seen += 1;
            let known = if id.starts_with("MQTT-") {
                SpecSet::Mqtt311.contains(&id) || SpecSet::Mqtt50.contains(&id)
            } else {
                SpecSet::Xmpp.contains(&id)
            };
            if !known && !DELIBERATELY_UNKNOWN.contains(&id.as_str()) {
                unknown.push(format!("{}: {id}", f.display()));
            }
        }
    }
    assert!(seen > 200, "only {seen} ids found: the scanner is broken");
    assert!(
        unknown.is_empty(),
        "unknown statement ids:\n{}",
        unknown.join("\n")
    );
}

/// The MQTT ids live in one table keyed by rule and version (src/mqtt/rules.rs), so its columns are
/// checked against their own version's list: a 3.1.1 id that happens to exist in 5.0 too fails here.
#[test]
fn rule_table_ids_belong_to_their_version() {
    let mut wrong = Vec::new();
    let mut seen = 0;
    for (version, set) in [
        (Version::V311, SpecSet::Mqtt311),
        (Version::V5, SpecSet::Mqtt50),
    ] {
        for &rule in Rule::ALL {
            if let Some(id) = rule.id(version) {
                seen += 1;
                if !set.contains(id) {
                    wrong.push(format!("{rule:?} in MQTT {version}: {id}"));
                }
            }
        }
    }
    assert!(seen > 80, "only {seen} ids in the rule table");
    assert!(
        wrong.is_empty(),
        "ids from the wrong list:\n{}",
        wrong.join("\n")
    );
}

/// Outside the table, MQTT code names rules, not ids (comments may cite ids).
#[test]
fn mqtt_code_spells_no_statement_id() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    walk(&root.join("src/mqtt"), &["rs"], &mut files);
    walk(&root.join("src/reference/mqtt"), &["rs"], &mut files);
    assert!(files.len() > 20, "only {} files found", files.len());
    let mut found = Vec::new();
    for f in files {
        let rel = f
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if MQTT_ID_FILES.contains(&rel.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if !ids_in(code).is_empty() {
                found.push(format!("{rel}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "statement ids spelled outside src/mqtt/rules.rs (use Rule::X.id(version)):\n{}",
        found.join("\n")
    );
}
