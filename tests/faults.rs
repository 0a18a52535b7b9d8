//! Each fault switch of the reference target makes at least one case fail: the checks can fail.

use std::path::PathBuf;
use std::sync::Arc;

use rstest::rstest;
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
/// unit test of src/reference/mqtt/tests5.rs). Move a fault to PROVEN with a #[case] once a case
/// catches it.
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
    assert_eq!(known, proven, "add a #[case] below for each new fault");
}

#[rstest]
#[case::wrong_puback_id("wrong-puback-id")]
#[case::no_close_on_malformed("no-close-on-malformed")]
#[case::suback_grants_more("suback-grants-more")]
#[case::retain_not_cleared("retain-not-cleared")]
#[case::non_minimal_length("non-minimal-length")]
#[case::no_connack_on_bad_level("no-connack-on-bad-level")]
#[case::no_pingresp("no-pingresp")]
#[case::will_on_disconnect("will-on-disconnect")]
#[case::dollar_wildcard("dollar-wildcard")]
#[case::qos2_duplicate("qos2-duplicate")]
#[case::retain_on_delivery("retain-on-delivery")]
#[case::ignores_receive_maximum("ignores-receive-maximum")]
#[case::no_subscription_identifier("no-subscription-identifier")]
#[case::no_local_ignored("no-local-ignored")]
#[case::retain_as_published_ignored("retain-as-published-ignored")]
#[case::retain_handling_ignored("retain-handling-ignored")]
#[case::message_expiry_ignored("message-expiry-ignored")]
#[case::will_delay_ignored("will-delay-ignored")]
#[case::oversize_packet_sent("oversize-packet-sent")]
#[case::session_expiry_ignored("session-expiry-ignored")]
#[case::user_properties_reordered("user-properties-reordered")]
#[case::payload_format_dropped("payload-format-dropped")]
#[case::topic_alias_rejected("topic-alias-rejected")]
#[case::auth_method_dropped("auth-method-dropped")]
#[case::reauth_failure_ignored("reauth-failure-ignored")]
#[case::shared_subscription_duplicates("shared-subscription-duplicates")]
#[case::no_assigned_client_id("no-assigned-client-id")]
#[case::reused_packet_id("reused-packet-id")]
#[case::unrequested_response_information("unrequested-response-information")]
#[case::oversize_reason_string("oversize-reason-string")]
#[case::stream_header("stream-header")]
#[case::two_elements_per_message("two-elements-per-message")]
#[case::presence_not_reflected("presence-not-reflected")]
#[case::no_close_reply("no-close-reply")]
#[case::wrong_from_on_message("wrong-from-on-message")]
#[case::iq_unknown_ignored("iq-unknown-ignored")]
#[case::reuse_stream_id("reuse-stream-id")]
#[case::open_without_id("open-without-id")]
#[case::advertise_starttls("advertise-starttls")]
#[case::error_without_open("error-without-open")]
#[case::scram_bad_server_signature("scram-bad-server-signature")]
#[case::bind_before_auth("bind-before-auth")]
#[case::bad_see_other_uri("bad-see-other-uri")]
#[case::accept_unknown_host("accept-unknown-host")]
#[case::stanza_before_bind_ignored("stanza-before-bind-ignored")]
#[case::open_without_to("open-without-to")]
#[case::echo_subprotocol("echo-subprotocol")]
#[case::iq_unknown_answered_result("iq-unknown-answered-result")]
#[case::negative_priority_delivered("negative-priority-delivered")]
#[case::error_message_delivered("error-message-delivered")]
#[case::bare_presence_one_resource("bare-presence-one-resource")]
#[case::no_roster_push("no-roster-push")]
#[case::auto_approve_subscription("auto-approve-subscription")]
#[case::no_unavailable_on_drop("no-unavailable-on-drop")]
#[case::subscription_full_from("subscription-full-from")]
#[case::no_probe_answer("no-probe-answer")]
#[case::empty_roster_error("empty-roster-error")]
#[case::muc_no_status_110("muc-no-status-110")]
#[case::muc_not_reflected("muc-not-reflected")]
#[case::muc_self_presence_first("muc-self-presence-first")]
#[case::offline_message_dropped("offline-message-dropped")]
#[case::sm_counts_nonzas("sm-counts-nonzas")]
#[case::sm_enable_before_bind("sm-enable-before-bind")]
#[case::sm_resumed_count_reset("sm-resumed-count-reset")]
#[case::sm_resume_loses_held("sm-resume-loses-held")]
#[case::sm_failed_without_condition("sm-failed-without-condition")]
#[case::register_conflict_accepted("register-conflict-accepted")]
#[case::register_remove_kept("register-remove-kept")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_makes_a_case_fail(#[case] fault: &str) {
    let cases =
        wirecheck::case::load_all(&[PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cases")])
            .expect("cases load");
    let target = Target::resolve(
        None,
        &TargetOptions {
            faults: vec![fault.to_string()],
            ..Default::default()
        },
    )
    .await
    .expect("reference target starts");
    let opts = RunOptions {
        jobs: 16,
        default_timeout: std::time::Duration::from_secs(2),
        ..RunOptions::default()
    };
    let results = run_all(cases, Arc::new(target), Arc::new(opts), |_| {}).await;
    let failed: Vec<&str> = results
        .iter()
        .filter(|r| r.verdict == Verdict::Fail)
        .map(|r| r.id.as_str())
        .collect();
    let errors: Vec<&str> = results
        .iter()
        .filter(|r| r.verdict == Verdict::Error)
        .map(|r| r.id.as_str())
        .collect();
    eprintln!("fault {fault}: failed {failed:?}");
    assert!(!failed.is_empty(), "fault {fault} made no case fail");
    assert!(
        errors.is_empty(),
        "fault {fault} caused infrastructure errors: {errors:?}"
    );
}
