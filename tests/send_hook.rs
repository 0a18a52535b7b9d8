//! The send hook sees every outgoing message with its address and can replace one: the server
//! receives the replacement, and the transcript records what was really sent.

use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::json;
use wirecheck::case::load_str;
use wirecheck::run::Verdict;
use wirecheck::run::engine::{RunOptions, run_case};
use wirecheck::run::transcript::Direction;
use wirecheck::seam::{Address, Outgoing, SendHook};
use wirecheck::target::{Target, TargetOptions};

const CASE: &str = r#"id: hook.rewrite
title: the subscriber gets what the hook made of the publisher's second packet
protocol: mqtt
version: "3.1.1"
spec: [MQTT-3.3.2-1]
actors: { pub: {}, sub: {} }
steps:
  - connect: sub
  - send: { actor: sub, packet: { type: subscribe, id: 1, filters: [{ topic: "{ns}/t", qos: 0 }] } }
  - expect: { actor: sub, packet: { type: suback, id: 1 } }
  - connect: pub
  - send: { actor: pub, packet: { type: publish, qos: 0, topic: "{ns}/t", payload: original } }
  - expect: { actor: sub, packet: { type: publish, topic: "{ns}/t", payload: rewritten } }
"#;

/// Rewrites the payload of the 2nd message actor `pub` sends; remembers every address.
#[derive(Default)]
struct Rewrite {
    seen: Mutex<Vec<Address>>,
}

impl SendHook for Rewrite {
    fn before_send(&self, address: &Address, message: &Outgoing) -> Option<Outgoing> {
        self.seen.lock().unwrap().push(address.clone());
        match message {
            Outgoing::Message(v) if address.actor == "pub" && address.actor_index == 1 => {
                let mut v = v.clone();
                v["payload"] = json!("rewritten");
                Some(Outgoing::Message(v))
            }
            _ => None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_rewrites_one_addressed_message() {
    let target = Target::resolve(None, &TargetOptions::default())
        .await
        .unwrap();
    let case = load_str(Path::new("hook.yaml"), CASE).unwrap();

    // Without the hook the subscriber gets "original": the expectation can fail.
    let plain = run_case(&case, &target, &RunOptions::default()).await;
    assert_eq!(plain.verdict, Verdict::Fail, "{:#?}", plain.failures);

    let hook = Arc::new(Rewrite::default());
    let opts = RunOptions {
        hook: Some(hook.clone()),
        ..RunOptions::default()
    };
    let r = run_case(&case, &target, &opts).await;
    assert_eq!(r.verdict, Verdict::Pass, "{:#?}", r.failures);

    // Every message passed the hook once, with case-wide indexes 0.. in order.
    let seen = hook.seen.lock().unwrap();
    let indexes: Vec<usize> = seen.iter().map(|a| a.index).collect();
    assert_eq!(indexes, (0..seen.len()).collect::<Vec<_>>());
    let rewritten = seen
        .iter()
        .find(|a| a.actor == "pub" && a.actor_index == 1)
        .expect("pub's second message was addressed");
    assert_eq!(rewritten.step, Some(4));
    assert_eq!(rewritten.case, "hook.rewrite");

    // The transcript records what was really sent: the rewritten packet, data and bytes.
    let sent = r
        .transcript
        .iter()
        .find(|e| e.direction == Direction::Sent && e.index == Some(rewritten.index))
        .expect("the rewritten message is in the transcript");
    let m = sent.message.as_ref().unwrap();
    assert_eq!(m.data["payload"], json!("rewritten"), "{m:?}");
    let raw = &sent.raw.as_ref().unwrap().bytes;
    assert!(
        raw.windows(9).any(|w| w == b"rewritten") && !raw.windows(8).any(|w| w == b"original"),
        "{raw:?}"
    );
}

/// Records, per message, whether the link handed the hook its wire form, and those bytes.
#[derive(Default)]
struct WireSeen {
    wires: Mutex<Vec<Option<Vec<u8>>>>,
}

impl SendHook for WireSeen {
    fn before_send(&self, _address: &Address, _message: &Outgoing) -> Option<Outgoing> {
        None
    }

    fn before_send_encoded(
        &self,
        _address: &Address,
        _message: &Outgoing,
        wire: Option<&wirecheck::seam::Wire>,
    ) -> Option<Outgoing> {
        let bytes = wire.map(|w| match w {
            wirecheck::seam::Wire::Bytes(b) => b.clone(),
            wirecheck::seam::Wire::Text(t) => t.clone().into_bytes(),
        });
        self.wires.lock().unwrap().push(bytes);
        None
    }
}

/// A hook gets the encoded bytes of a structured message (what the server receives), except
/// for a message that carries a secret: a CONNECT with a password reaches it only redacted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_gets_the_wire_form_but_never_a_secret() {
    let target = Target::resolve(None, &TargetOptions::default())
        .await
        .unwrap();
    let case = load_str(
        Path::new("wire.yaml"),
        r#"id: hook.wire
title: wire forms
protocol: mqtt
version: "3.1.1"
spec: [MQTT-3.1.0-1]
actors: { a: {}, b: {} }
steps:
  - connect: a
  - send: { actor: a, packet: { type: pingreq } }
  - expect: { actor: a, packet: { type: pingresp } }
  - send: { actor: b, packet: { type: connect, client_id: "wc-hook-secret", username: u, password: "hunter2-secret" } }
"#,
    )
    .unwrap();
    let hook = Arc::new(WireSeen::default());
    let opts = RunOptions {
        hook: Some(hook.clone()),
        ..RunOptions::default()
    };
    let _ = run_case(&case, &target, &opts).await;
    let wires = hook.wires.lock().unwrap();
    assert!(
        wires
            .iter()
            .any(|w| w.as_deref() == Some(&[0xc0, 0x00][..])),
        "the PINGREQ's bytes reached the hook: {wires:?}"
    );
    let secret = b"hunter2-secret";
    for w in wires.iter().flatten() {
        assert!(
            !w.windows(secret.len()).any(|x| x == secret),
            "a password reached the hook in clear: {w:?}"
        );
    }
    assert!(
        wires.iter().any(|w| w.is_none()),
        "the CONNECT with a password was given without its bytes: {wires:?}"
    );
}
