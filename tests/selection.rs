//! Selecting cases: filters, stable partitions, and skipping cases of a protocol the target
//! does not speak (with that reason).

use std::path::PathBuf;

use wirecheck::case::{Protocol, load_all};
use wirecheck::run::Verdict;
use wirecheck::run::engine::{RunOptions, run_case};
use wirecheck::run::plan::Filter;
use wirecheck::target::{MqttTarget, Target};
use wirecheck::transport::Endpoint;

fn suite() -> Vec<wirecheck::case::Case> {
    load_all(&[PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cases")]).expect("cases load")
}

#[test]
fn partitions_cover_every_case_exactly_once_and_are_stable() {
    let all = suite();
    let mut seen: Vec<String> = Vec::new();
    for k in 1..=3 {
        let f = Filter::new(&[], &[], &[], Some(&format!("hash:{k}/3"))).unwrap();
        let part = f.apply(all.clone());
        assert!(!part.is_empty(), "partition {k}/3 is empty");
        let again = f.apply(all.clone());
        assert_eq!(
            part.iter().map(|c| &c.id).collect::<Vec<_>>(),
            again.iter().map(|c| &c.id).collect::<Vec<_>>()
        );
        seen.extend(part.into_iter().map(|c| c.id));
    }
    seen.sort();
    let mut ids: Vec<String> = all.into_iter().map(|c| c.id).collect();
    ids.sort();
    assert_eq!(seen, ids);
}

#[test]
fn tag_spec_and_glob_filters_select_what_they_say() {
    let all = suite();
    let by_tag = Filter::new(&["retain".into()], &[], &[], None)
        .unwrap()
        .apply(all.clone());
    assert!(
        !by_tag.is_empty()
            && by_tag
                .iter()
                .all(|c| c.tags.contains(&"retain".to_string()))
    );
    let without_retain = Filter::new(&[], &[], &[], None)
        .unwrap()
        .excluding_tags(&["retain".into()])
        .apply(all.clone());
    assert_eq!(without_retain.len() + by_tag.len(), all.len());
    assert!(
        without_retain
            .iter()
            .all(|c| !c.tags.contains(&"retain".to_string()))
    );
    let by_spec = Filter::new(&[], &["MQTT-3.12.4-1".into()], &[], None)
        .unwrap()
        .apply(all.clone());
    assert!(by_spec.iter().any(|c| c.id == "mqtt311.ping.pingresp"));
    let by_glob = Filter::new(&[], &[], &["xmpp.iq.*".into()], None)
        .unwrap()
        .apply(all.clone());
    assert!(!by_glob.is_empty() && by_glob.iter().all(|c| c.id.starts_with("xmpp.iq.")));
    let none = Filter::new(&["no-such-tag".into()], &[], &[], None)
        .unwrap()
        .apply(all);
    assert!(none.is_empty());
}

#[tokio::test]
async fn cases_of_an_unspoken_protocol_are_skipped_with_the_reason() {
    let target = Target {
        name: "mqtt-only".into(),
        mqtt: Some(MqttTarget {
            endpoint: Endpoint::parse("mqtt://127.0.0.1:9").unwrap(),
            credentials: None,
        }),
        xmpp: None,
        deviations: Vec::new(),
        capabilities: Default::default(),
        builtin: None,
        snapshot_redact: Vec::new(),
    };
    let case = suite()
        .into_iter()
        .find(|c| c.protocol == Protocol::Xmpp)
        .expect("an xmpp case");
    let r = run_case(&case, &target, &RunOptions::default()).await;
    assert_eq!(r.verdict, Verdict::Skip);
    assert_eq!(
        r.reason.as_deref(),
        Some("target mqtt-only does not speak xmpp")
    );
}
