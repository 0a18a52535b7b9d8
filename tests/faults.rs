//! Each fault switch of the reference target makes at least one case fail: the checks can fail.

use std::path::PathBuf;
use std::sync::Arc;

use wirecheck::run::Verdict;
use wirecheck::run::engine::RunOptions;
use wirecheck::run::scheduler::run_all;
use wirecheck::target::{Target, TargetOptions};

/// The fault switches this file proves; must list every fault the reference target has.
const PROVEN: &[&str] = &[
    "wrong-puback-id",
    "shared-subscription-duplicates",
    "no-assigned-client-id",
    "reused-packet-id",
    "unrequested-response-information",
    "oversize-reason-string",
    "no-close-on-malformed",
    "suback-grants-more",
    "retain-not-cleared",
    "non-minimal-length",
    "no-connack-on-bad-level",
    "no-pingresp",
    "will-on-disconnect",
    "dollar-wildcard",
    "qos2-duplicate",
    "retain-on-delivery",
    "ignores-receive-maximum",
    "no-subscription-identifier",
    "no-local-ignored",
    "retain-as-published-ignored",
    "retain-handling-ignored",
    "message-expiry-ignored",
    "will-delay-ignored",
    "oversize-packet-sent",
    "session-expiry-ignored",
    "user-properties-reordered",
    "payload-format-dropped",
    "topic-alias-rejected",
    "auth-method-dropped",
    "reauth-failure-ignored",
    "stream-header",
    "two-elements-per-message",
    "presence-not-reflected",
    "no-close-reply",
    "wrong-from-on-message",
    "iq-unknown-ignored",
    "reuse-stream-id",
    "open-without-id",
    "advertise-starttls",
    "error-without-open",
    "scram-bad-server-signature",
    // stream helper (issue 8)
    "bind-before-auth",
    "bad-see-other-uri",
    "accept-unknown-host",
    "stanza-before-bind-ignored",
    "open-without-to",
    "echo-subprotocol",
    "iq-unknown-answered-result",
    "negative-priority-delivered",
    "error-message-delivered",
    "bare-presence-one-resource",
    "no-roster-push",
    "auto-approve-subscription",
    "no-unavailable-on-drop",
    "subscription-full-from",
    "no-probe-answer",
    "empty-roster-error",
    "muc-no-status-110",
    "muc-not-reflected",
    "muc-self-presence-first",
    "offline-message-dropped",
    "sm-counts-nonzas",
    "sm-enable-before-bind",
    "sm-resumed-count-reset",
    "sm-resume-loses-held",
    "sm-failed-without-condition",
    // in-band registration (XEP-0077)
    "register-conflict-accepted",
    "register-remove-kept",
];

/// Faults that break no rule: only a snapshot sees them, proven in tests/snapshots.rs.
const SNAPSHOT_ONLY: &[&str] = &["extra-presence-attribute"];

/// MQTT 5.0 faults no case makes fail yet (each must still change the broker's behaviour in a
/// unit test of src/reference/mqtt/tests5.rs). Move a fault to PROVEN once a case catches it.
const AWAITING_CASE: &[&str] = &[];

/// Faults that abort the server process: found by `wirecheck fuzz`, proven in tests/fuzz.rs.
const CRASHES: &[&str] = &["crash-mqtt5-deep", "crash-xmpp-after-login"];

#[test]
fn every_fault_switch_has_a_proof() {
    let mut known: Vec<&str> = wirecheck::reference::faults()
        .iter()
        .map(|(n, _)| *n)
        .collect();
    known.sort();
    let mut proven = [PROVEN, SNAPSHOT_ONLY, AWAITING_CASE, CRASHES].concat();
    proven.sort();
    assert_eq!(
        known, proven,
        "list each new fault in PROVEN (or another list here)"
    );
}

/// Faults checked at once: each run mostly waits on the reference target's timers.
const AT_ONCE: usize = 8;

/// Every fault of PROVEN makes at least one case of its protocol fail, and none causes an
/// infrastructure error. The faults run side by side, each against a reference target of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_proven_fault_makes_a_case_fail() {
    let cases = Arc::new(
        wirecheck::case::load_all(&[PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cases")])
            .expect("cases load"),
    );
    let gate = Arc::new(tokio::sync::Semaphore::new(AT_ONCE));
    let mut runs = tokio::task::JoinSet::new();
    for fault in PROVEN {
        let (cases, gate) = (cases.clone(), gate.clone());
        runs.spawn(async move {
            let _permit = gate.acquire_owned().await.expect("the gate stays open");
            (fault, check_fault(fault, &cases).await)
        });
    }
    let mut problems = Vec::new();
    while let Some(done) = runs.join_next().await {
        let (fault, outcome) = done.expect("a fault run panicked");
        match outcome {
            Ok(failed) => eprintln!("fault {fault}: failed {failed:?}"),
            Err(problem) => problems.push(format!("fault {fault}: {problem}")),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Runs the cases of the fault's protocol against a reference target with `fault` switched on;
/// Ok(the failed case ids) when some fail and none errs.
async fn check_fault(fault: &str, cases: &[wirecheck::case::Case]) -> Result<Vec<String>, String> {
    // A fault breaks one of the two servers: only that protocol's cases can see it.
    let protocol = wirecheck::reference::fault_protocol(fault).ok_or("not a known fault")?;
    let cases: Vec<_> = cases
        .iter()
        .filter(|c| c.protocol == protocol)
        .cloned()
        .collect();
    let target = Target::resolve(
        None,
        &TargetOptions {
            faults: vec![fault.to_string()],
            ..Default::default()
        },
    )
    .await
    .map_err(|e| format!("the reference target does not start: {e}"))?;
    let opts = RunOptions {
        jobs: 16,
        default_timeout: std::time::Duration::from_secs(2),
        ..RunOptions::default()
    };
    let results = run_all(cases, Arc::new(target), Arc::new(opts), |_| {}).await;
    let ids = |v: Verdict| -> Vec<String> {
        results
            .iter()
            .filter(|r| r.verdict == v)
            .map(|r| r.id.clone())
            .collect()
    };
    let (failed, errors) = (ids(Verdict::Fail), ids(Verdict::Error));
    if failed.is_empty() {
        return Err("made no case fail".into());
    }
    if !errors.is_empty() {
        return Err(format!("caused infrastructure errors: {errors:?}"));
    }
    Ok(failed)
}
