//! Every case in cases/ runs green against the built-in reference target.

use std::path::PathBuf;
use std::sync::Arc;

use wirecheck::report::failure_text;
use wirecheck::run::engine::RunOptions;
use wirecheck::run::scheduler::run_all;
use wirecheck::run::{Totals, Verdict};
use wirecheck::target::{Target, TargetOptions};

fn cases_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cases")
}

/// Cases the reference broker skips by a legal choice of its own (a `skip_unless` alternative):
/// it sends one PUBLISH with every Subscription Identifier for overlapping subscriptions
/// (MQTT-3.3.4-4), so the case for the other legal choice, one copy per subscription, skips.
const REFERENCE_CHOICE_SKIPS: &[&str] = &[
    "mqtt5.subscribe.subscription-ids-multiple-copies",
    // the built-in broker lets any client in, so there are no credentials to refuse
    "mqtt5.connect.bad-credentials",
];

/// Runs `cases` against the built-in target `spec`; every case passes except those that need
/// MQTT over WebSocket when the target's MQTT is TCP (skipped, with that reason) and
/// [`REFERENCE_CHOICE_SKIPS`] (skipped as not applicable).
async fn passes_on(spec: &str, cases: Vec<wirecheck::case::Case>) -> usize {
    let target = Arc::new(
        Target::resolve(Some(spec), &TargetOptions::default())
            .await
            .expect("reference target starts"),
    );
    let over_ws = spec == "builtin:ws";
    let opts = RunOptions {
        jobs: 16,
        ..RunOptions::default()
    };
    let results = run_all(cases, target, Arc::new(opts), |_| {}).await;
    let ws_only = |r: &wirecheck::run::CaseResult| {
        r.verdict == Verdict::Skip
            && !over_ws
            && r.reason
                .as_deref()
                .is_some_and(|x| x.contains("lacks websocket"))
    };
    let choice = |r: &wirecheck::run::CaseResult| {
        r.verdict == Verdict::Skip
            && REFERENCE_CHOICE_SKIPS.contains(&r.id.as_str())
            && r.reason
                .as_deref()
                .is_some_and(|x| x.contains("not applicable"))
    };
    let bad: Vec<String> = results
        .iter()
        .filter(|r| r.verdict != Verdict::Pass && !ws_only(r) && !choice(r))
        .map(|r| {
            format!(
                "{} {:?} {}\n{}",
                r.id,
                r.verdict,
                r.reason.clone().unwrap_or_default(),
                r.failures
                    .iter()
                    .map(failure_text)
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        })
        .collect();
    assert!(bad.is_empty(), "{spec}: not passing:\n{}", bad.join("\n\n"));
    let totals = Totals::of(&results);
    assert_eq!(totals.passed + totals.skipped, results.len());
    // Every case that ran checked something.
    for r in results.iter().filter(|r| r.verdict == Verdict::Pass) {
        assert!(
            r.checks_passed > 0,
            "{} passed without a single check",
            r.id
        );
        assert!(!r.transcript.is_empty(), "{} has an empty transcript", r.id);
    }
    totals.passed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_suite_passes_against_the_reference_target() {
    let cases = wirecheck::case::load_all(&[cases_dir()]).expect("cases load");
    assert!(cases.len() >= 28, "the suite has {} cases", cases.len());
    let ws_cases = cases
        .iter()
        .filter(|c| c.requires.iter().any(|r| r.to_string() == "websocket"))
        .count();
    let passed = passes_on("builtin", cases.clone()).await;
    assert_eq!(
        passed + ws_cases + REFERENCE_CHOICE_SKIPS.len(),
        cases.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_mqtt_suite_passes_over_websocket_against_the_reference_target() {
    let cases: Vec<_> = wirecheck::case::load_all(&[cases_dir().join("mqtt")])
        .expect("cases load")
        .into_iter()
        .collect();
    let n = cases.len();
    assert_eq!(
        passes_on("builtin:ws", cases).await + REFERENCE_CHOICE_SKIPS.len(),
        n
    );
}

/// Cases run side by side and a broker takes a session over from an older connection with the
/// same Client Identifier (MQTT-3.1.4-3), so no two case files may name the same literal one.
#[test]
fn no_two_cases_name_the_same_client_id() {
    let literal = regex::Regex::new(r#"client_id:\s*"([^"{][^"]*|\{run\}[^"]*)""#).unwrap();
    let mut seen: std::collections::HashMap<String, PathBuf> = Default::default();
    let mut stack = vec![cases_dir()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let mut in_file = std::collections::HashSet::new();
            for m in literal.captures_iter(&text) {
                let id = m[1].to_string();
                if !in_file.insert(id.clone()) {
                    continue;
                }
                if let Some(other) = seen.insert(id.clone(), path.clone()) {
                    panic!(
                        "client id {id:?} is in both {} and {}",
                        other.display(),
                        path.display()
                    );
                }
            }
        }
    }
}
