//! `wirecheck coverage` on the real suite and on a one-case folder; the not-observable lists.

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use wirecheck::spec::statements::{LISTS, SpecList, not_observable_lists};

fn coverage(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_wirecheck"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("coverage")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn n(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"))
}

#[test]
fn figures_on_the_real_cases_are_consistent() {
    let (code, out, err) = coverage(&["--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let specs = v["specs"].as_array().unwrap();
    assert_eq!(specs.len(), LISTS.len());
    for s in specs {
        let (binding, not_obs) = (n(s, "binding"), n(s, "not_observable_count"));
        let (checked, missing) = (n(s, "checked_count"), n(s, "missing_count"));
        assert_eq!(checked + missing + not_obs, binding, "{s}");
        assert_eq!(n(s, "observable"), binding - not_obs);
        assert_eq!(s["checked"].as_array().unwrap().len() as u64, checked);
        assert_eq!(s["missing"].as_array().unwrap().len() as u64, missing);
        assert_eq!(
            s["not_observable"].as_array().unwrap().len() as u64,
            not_obs
        );
        let pct = s["percent"].as_f64().unwrap();
        let expect = (checked as f64 * 1000.0 / (checked + missing) as f64).round() / 10.0;
        assert!((pct - expect).abs() < 1e-9, "{pct} vs {expect}");
        for c in s["checked"].as_array().unwrap() {
            assert!(!c["cases"].as_array().unwrap().is_empty(), "{c}");
        }
    }
    let v311 = &specs[0];
    assert_eq!(v311["spec"], "mqtt-3.1.1");
    assert_eq!(n(v311, "binding"), 108);
    // The same id string names different statements in 3.1.1 and 5.0: each version's list
    // names only that version's cases (MQTT-3.2.0-1 is tagged by cases of both).
    let cases_of = |s: &Value, id: &str| -> Vec<String> {
        s["checked"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["id"] == id)
            .flat_map(|c| c["cases"].as_array().unwrap().clone())
            .map(|c| c.as_str().unwrap().to_string())
            .collect()
    };
    let in_311 = cases_of(v311, "MQTT-3.2.0-1");
    assert!(in_311.iter().any(|c| c == "mqtt311.connect.accepted"));
    assert!(
        in_311.iter().all(|c| c.starts_with("mqtt311.")),
        "{in_311:?}"
    );
    let in_50 = cases_of(&specs[1], "MQTT-3.2.0-1");
    assert!(in_50.iter().all(|c| c.starts_with("mqtt5.")), "{in_50:?}");
    let (code, md, _) = coverage(&["--spec", "mqtt-3.1.1"]);
    assert_eq!(code, 0);
    assert!(md.contains("| MQTT 3.1.1 | 108 |"), "{md}");
    assert!(!md.contains("MQTT 5.0"), "{md}");
}

#[test]
fn one_case_checks_exactly_its_id() {
    // MQTT-3.12.4-1 exists in 3.1.1 and 5.0 (different statements): a 3.1.1 case counts for
    // 3.1.1 only.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("one.yaml"),
        r#"id: mqtt311.one
title: one
protocol: mqtt
version: "3.1.1"
spec: [MQTT-3.12.4-1]
actors: { a: {} }
steps:
  - connect: a
"#,
    )
    .unwrap();
    let (code, out, err) = coverage(&["--format", "json", "--cases", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    for s in v["specs"].as_array().unwrap() {
        let checked: Vec<&str> = s["checked"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        if s["spec"] == "mqtt-3.1.1" {
            assert_eq!(checked, ["MQTT-3.12.4-1"], "{s}");
            assert_eq!(s["checked"][0]["cases"], serde_json::json!(["mqtt311.one"]));
            assert_eq!(n(s, "missing_count"), n(s, "observable") - 1);
        } else {
            assert!(checked.is_empty(), "{s}");
        }
    }
}

#[test]
fn bad_flags_exit_2_saying_what_was_expected() {
    let (code, _, err) = coverage(&["--format", "xml"]);
    assert_eq!(code, 2);
    assert!(err.contains("md, json"), "{err}");
    let (code, _, err) = coverage(&["--spec", "mqtt-4"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("expected one of mqtt-3.1.1, mqtt-5.0"),
        "{err}"
    );
    let missing = Path::new(env!("CARGO_MANIFEST_DIR")).join("no-such-folder");
    let (code, _, _) = coverage(&["--cases", missing.to_str().unwrap()]);
    assert_eq!(code, 2);
}

#[test]
fn every_not_observable_id_exists_and_binds_a_server() {
    let lists = not_observable_lists();
    assert!(!lists.is_empty());
    for (key, entries) in &lists {
        let list = SpecList::by_key(key).unwrap_or_else(|| panic!("unknown list `{key}`"));
        let statements = list.statements();
        for e in entries {
            let s = statements
                .iter()
                .find(|s| s.id == e.id)
                .unwrap_or_else(|| panic!("{key}: `{}` is not a statement", e.id));
            assert!(s.binds.server(), "{key}: `{}` binds only the client", e.id);
            assert!(
                e.reason.len() > 30,
                "{key}: `{}` needs a specific reason",
                e.id
            );
        }
        let mut ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), entries.len(), "{key}: duplicates");
    }
}
