//! Snapshot expectations against the built-in target: every case matches its committed snapshot
//! under snapshots/reference/, reruns give identical snapshots, a fault that no assertion sees is
//! caught by the snapshot alone, and a difference leaves a `.snap.new` that update clears.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use wirecheck::case::Case;
use wirecheck::run::engine::RunOptions;
use wirecheck::run::scheduler::run_all;
use wirecheck::run::{CaseResult, FailureKind, Verdict};
use wirecheck::snapshot::{self, Mode, Settings, SnapFile};
use wirecheck::target::{Target, TargetOptions};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every case the built-in target runs over TCP (the MQTT-over-WebSocket cases need
/// `builtin:ws`, whose snapshots are not committed).
fn cases() -> Vec<Case> {
    wirecheck::case::load_all(&[root().join("cases")])
        .expect("cases load")
        .into_iter()
        .filter(|c| !c.requires.iter().any(|r| r.to_string() == "websocket"))
        // Skipped on the reference broker by its own legal choice (see tests/reference_suite.rs).
        .filter(|c| {
            c.id != "mqtt5.subscribe.subscription-ids-multiple-copies"
                && c.id != "mqtt5.connect.bad-credentials"
        })
        // Cases whose transcript is the server's choice on each run have no snapshot.
        .filter(|c| c.snapshot_skip.is_none())
        .collect()
}

async fn reference(faults: &[&str]) -> Target {
    Target::resolve(
        None,
        &TargetOptions {
            faults: faults.iter().map(|f| f.to_string()).collect(),
            ..Default::default()
        },
    )
    .await
    .expect("reference target starts")
}

async fn run(cases: &[Case], target: &Arc<Target>) -> Vec<CaseResult> {
    let opts = RunOptions {
        jobs: 16,
        ..RunOptions::default()
    };
    run_all(cases.to_vec(), target.clone(), Arc::new(opts), |_| {}).await
}

/// The normalised text of every result, by case id.
fn texts(cases: &[Case], target: &Target, results: &[CaseResult]) -> Vec<(String, String)> {
    results
        .iter()
        .map(|r| {
            let case = cases.iter().find(|c| c.id == r.id).expect("case of result");
            let text = snapshot::text_of(r, case, target).expect("normalises");
            (r.id.clone(), snapshot::file::normalized(&text))
        })
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_case_matches_its_committed_reference_snapshot() {
    let cases = cases();
    let target = Arc::new(reference(&[]).await);
    let passwords: Vec<String> = target
        .builtin
        .as_ref()
        .unwrap()
        .accounts()
        .iter()
        .map(|a| a.password.expose().to_string())
        .collect();
    let results = run(&cases, &target).await;
    let dir = root().join("snapshots").join("reference");
    let mut problems = Vec::new();
    for ((id, text), r) in texts(&cases, &target, &results).iter().zip(&results) {
        assert_eq!(r.verdict, Verdict::Pass, "{id}: {:?}", r.failures);
        for p in &passwords {
            assert!(
                !text.contains(p.as_str()),
                "{id}: a password in the snapshot"
            );
        }
        assert!(
            !text.contains(&r.generated["run"]),
            "{id}: the run id is in the snapshot:\n{text}"
        );
        let path = dir.join(format!("{id}.snap"));
        match SnapFile::read(&path).expect("snapshot readable") {
            Some(old) if old.contents == *text => {}
            Some(old) => {
                // Leave the new one for `cargo insta review`, as the binary does.
                let pending = snapshot::pending_path(&path);
                let new = SnapFile {
                    contents: text.clone(),
                    ..old.clone()
                };
                new.write(&pending).unwrap();
                problems.push(snapshot::unified_diff(
                    &format!("{}\n", old.contents),
                    &format!("{text}\n"),
                    &path.display().to_string(),
                    &pending.display().to_string(),
                ));
            }
            None => problems.push(format!(
                "{id}: no snapshot {}; record it with `cargo run --release -- run --snapshots update`",
                path.display()
            )),
        }
    }
    // No stale snapshot: every committed one belongs to a case.
    for e in std::fs::read_dir(&dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if let Some(id) = name.strip_suffix(".snap") {
            assert!(
                cases.iter().any(|c| c.id == id),
                "stale snapshot {name}: no case has that id"
            );
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_reruns_give_identical_snapshots() {
    let cases = cases();
    let target = Arc::new(reference(&[]).await);
    let first = texts(&cases, &target, &run(&cases, &target).await);
    // The `slow` cases (timers of a second or more) bound each run's wall time: they are in the
    // first three runs, the other cases in all twenty.
    let quick: Vec<Case> = cases
        .iter()
        .filter(|c| !c.tags.iter().any(|t| t == "slow"))
        .cloned()
        .collect();
    for rerun in 1..20 {
        let subset = if rerun < 3 { &cases } else { &quick };
        let again = texts(subset, &target, &run(subset, &target).await);
        let first_of_subset = first
            .iter()
            .filter(|(id, _)| again.iter().any(|(other, _)| other == id));
        for ((id, a), (_, b)) in first_of_subset.zip(&again) {
            assert_eq!(
                a,
                b,
                "{id} differs in rerun {rerun}:\n{}",
                snapshot::unified_diff(a, b, "first", "rerun")
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_no_assertion_sees_is_caught_by_the_snapshot() {
    let cases = cases();
    let target = Arc::new(reference(&["extra-presence-attribute"]).await);
    let mut results = run(&cases, &target).await;
    let failed: Vec<&str> = results
        .iter()
        .filter(|r| r.verdict != Verdict::Pass)
        .map(|r| r.id.as_str())
        .collect();
    assert!(failed.is_empty(), "an assertion saw the fault: {failed:?}");

    let dir = tempfile::tempdir().unwrap();
    copy_dir(&root().join("snapshots"), dir.path());
    let settings = Settings {
        mode: Mode::Check,
        root: dir.path().to_path_buf(),
    };
    let outcome = snapshot::apply(&cases, &mut results, &target, &settings).unwrap();
    let caught: Vec<&CaseResult> = results
        .iter()
        .filter(|r| r.verdict == Verdict::Fail)
        .collect();
    assert!(!caught.is_empty(), "the snapshot did not see the fault");
    assert_eq!(outcome.differed, caught.len());
    for r in &caught {
        let f = r
            .failures
            .iter()
            .find(|f| f.kind == FailureKind::Snapshot)
            .expect("a snapshot failure");
        let diff = f.diff.as_deref().unwrap();
        assert!(diff.contains("+<< <presence"), "{diff}");
        assert!(diff.contains("xml:lang='en'"), "{diff}");
        assert!(wirecheck::report::failure_text(f).contains("xml:lang='en'"));
        let pending = dir
            .path()
            .join("reference")
            .join(format!("{}.snap.new", r.id));
        let new = SnapFile::read(&pending)
            .unwrap()
            .expect(".snap.new written");
        assert!(new.contents.contains("xml:lang='en'"));
        assert_eq!(
            new.source,
            r.path.trim_start_matches(&format!("{}/", root().display()))
        );
    }
    eprintln!(
        "caught by the snapshot only: {:?}",
        caught.iter().map(|r| &r.id).collect::<Vec<_>>()
    );

    // Update takes the new transcripts and clears the pending files; a check is green again.
    let update = Settings {
        mode: Mode::Update,
        ..settings.clone()
    };
    let mut again = run(&cases, &target).await;
    let out = snapshot::apply(&cases, &mut again, &target, &update).unwrap();
    assert_eq!(out.written, caught.len());
    for r in &caught {
        let pending = dir
            .path()
            .join("reference")
            .join(format!("{}.snap.new", r.id));
        assert!(!pending.exists(), "{} left behind", pending.display());
    }
    let mut third = run(&cases, &target).await;
    let out = snapshot::apply(&cases, &mut third, &target, &settings).unwrap();
    let differing: Vec<&str> = third
        .iter()
        .filter(|r| r.failures.iter().any(|f| f.kind == FailureKind::Snapshot))
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(
        out.differed, 0,
        "snapshots differ after update: {differing:?}"
    );
    assert!(third.iter().all(|r| r.verdict == Verdict::Pass));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_snapshot_is_recorded_with_a_notice_and_off_touches_nothing() {
    let cases: Vec<Case> = cases()
        .into_iter()
        .filter(|c| c.id == "mqtt311.ping.pingresp")
        .collect();
    assert_eq!(cases.len(), 1);
    let target = Arc::new(reference(&[]).await);
    let dir = tempfile::tempdir().unwrap();
    let off = Settings {
        mode: Mode::Off,
        root: dir.path().to_path_buf(),
    };
    let mut results = run(&cases, &target).await;
    let out = snapshot::apply(&cases, &mut results, &target, &off).unwrap();
    assert_eq!(out, snapshot::Outcome::default());
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());

    let check = Settings {
        mode: Mode::Check,
        ..off
    };
    let out = snapshot::apply(&cases, &mut results, &target, &check).unwrap();
    assert_eq!(out.written, 1);
    assert!(
        out.notices[0].contains("snapshot recorded"),
        "{:?}",
        out.notices
    );
    let path = dir.path().join("reference/mqtt311.ping.pingresp.snap");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("---\nsource: cases/mqtt/"), "{text}");
    assert!(
        text.contains("\n---\n[c]\n") || text.contains("\n---\n["),
        "{text}"
    );
}
