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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_suite_passes_against_the_reference_target() {
    let cases = wirecheck::case::load_all(&[cases_dir()]).expect("cases load");
    assert!(cases.len() >= 28, "the suite has {} cases", cases.len());
    let target = Arc::new(
        Target::resolve(None, &TargetOptions::default())
            .await
            .expect("reference target starts"),
    );
    let opts = RunOptions {
        jobs: 4,
        ..RunOptions::default()
    };
    let results = run_all(cases, target, Arc::new(opts), |_| {}).await;
    let bad: Vec<String> = results
        .iter()
        .filter(|r| r.verdict != Verdict::Pass)
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
    assert!(bad.is_empty(), "not passing:\n{}", bad.join("\n\n"));
    let totals = Totals::of(&results);
    assert_eq!(totals.passed, results.len());
    // Every case checked something.
    for r in &results {
        assert!(
            r.checks_passed > 0,
            "{} passed without a single check",
            r.id
        );
        assert!(!r.transcript.is_empty(), "{} has an empty transcript", r.id);
    }
}
