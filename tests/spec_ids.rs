//! Every statement id the code tags a violation with, or a case names, exists in the spec lists.

use std::path::Path;

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
