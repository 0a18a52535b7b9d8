//! Broken and hostile servers give verdicts, never hangs or crashes: a silent server, a server
//! that sends garbage, a WebSocket server that answers the wrong subprotocol.

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wirecheck::case::load_str;
use wirecheck::reference::Reference;
use wirecheck::run::engine::{RunOptions, run_case};
use wirecheck::run::{CaseResult, Verdict};
use wirecheck::target::{AccountPool, MqttTarget, Target, XmppTarget};
use wirecheck::transport::Endpoint;

const MQTT_CASE: &str = r#"id: hostile.connect
title: CONNECT gets CONNACK
protocol: mqtt
version: "3.1.1"
spec: [MQTT-3.2.0-1]
timeout: 500ms
actors: { c: {} }
steps:
  - connect: c
  - send: { actor: c, packet: { type: pingreq } }
  - expect: { actor: c, packet: { type: pingresp } }
"#;

fn mqtt_target(url: &str) -> Target {
    Target {
        name: "hostile".into(),
        mqtt: Some(MqttTarget {
            endpoint: Endpoint::parse(url).unwrap(),
            credentials: None,
        }),
        xmpp: None,
        deviations: Vec::new(),
        builtin: None,
    }
}

async fn run(case_text: &str, target: &Target) -> CaseResult {
    let case = load_str(Path::new("hostile.yaml"), case_text).unwrap();
    let opts = RunOptions {
        default_timeout: Duration::from_millis(500),
        ..RunOptions::default()
    };
    run_case(&case, target, &opts).await
}

/// A TCP server that accepts and then does `behave` with each connection.
async fn server<F, Fut>(behave: F) -> String
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(behave(s));
        }
    });
    format!("mqtt://{addr}")
}

#[tokio::test]
async fn a_silent_server_fails_the_check_at_the_deadline() {
    let url = server(|mut s| async move {
        let mut buf = [0u8; 1024];
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
    let started = Instant::now();
    let r = run(MQTT_CASE, &mqtt_target(&url)).await;
    assert_eq!(r.verdict, Verdict::Fail, "{:?}", r.failures);
    assert!(
        r.failures[0].message.contains("nothing arrived"),
        "{:?}",
        r.failures
    );
    assert!(
        r.failures[0].spec.contains(&"MQTT-3.2.0-1".to_string()),
        "{:?}",
        r.failures
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_server_sending_garbage_is_a_violation_not_a_crash() {
    let url = server(|mut s| async move {
        // A CONNACK with reserved flag bits set, then endless junk.
        let _ = s.write_all(&[0x2f, 0x02, 0x00, 0x00]).await;
        let junk = vec![0xffu8; 64 * 1024];
        for _ in 0..64 {
            if s.write_all(&junk).await.is_err() {
                break;
            }
        }
    })
    .await;
    let r = run(MQTT_CASE, &mqtt_target(&url)).await;
    assert_eq!(r.verdict, Verdict::Fail, "{:?}", r.failures);
    let specs: Vec<&str> = r
        .failures
        .iter()
        .flat_map(|f| f.spec.iter().map(String::as_str))
        .collect();
    assert!(specs.iter().any(|s| s.starts_with("MQTT-")), "{specs:?}");
}

#[tokio::test]
async fn a_server_that_closes_at_once_fails_the_connect_check() {
    let url = server(|s| async move { drop(s) }).await;
    let r = run(MQTT_CASE, &mqtt_target(&url)).await;
    assert_eq!(r.verdict, Verdict::Fail, "{:?}", r.failures);
    assert!(
        r.failures[0].message.contains("connection ended")
            || r.failures[0].message.contains("could not send"),
        "{:?}",
        r.failures
    );
}

#[tokio::test]
async fn wrong_websocket_subprotocol_is_a_failed_check() {
    // The reference MQTT broker's WebSocket endpoint answers `mqtt`, never `xmpp`.
    let reference = Reference::start(&[]).await.unwrap();
    let target = Target {
        name: "wrong-subprotocol".into(),
        mqtt: None,
        xmpp: Some(XmppTarget {
            endpoint: Endpoint::parse(&reference.mqtt_ws_url()).unwrap(),
            domain: "localhost".into(),
            pool: AccountPool::new(reference.accounts()),
        }),
        deviations: Vec::new(),
        builtin: None,
    };
    let case = r#"id: hostile.xmpp
title: open gets open
protocol: xmpp
spec: [RFC7395-3.4-2]
actors: { alice: {} }
steps:
  - login: alice
"#;
    let r = run(case, &target).await;
    assert_eq!(r.verdict, Verdict::Fail, "{:?}", r.failures);
    assert_eq!(
        r.failures[0].spec,
        vec!["RFC7395-3.1-2".to_string()],
        "{:?}",
        r.failures
    );
}

#[tokio::test]
async fn a_server_that_stops_reading_fails_a_send_at_its_deadline() {
    // The server accepts and never reads; its receive buffer is small, so the client's send
    // buffer fills and the writes block.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let chunk = "00".repeat(1536 * 1024);
    let mut case = String::from(
        "id: hostile.deaf\ntitle: t\nprotocol: mqtt\nversion: \"3.1.1\"\nspec: [MQTT-4.8.0-1]\ntimeout: 500ms\nactors: { c: {} }\nsteps:\n",
    );
    for _ in 0..6 {
        case.push_str(&format!("  - send: {{ actor: c, bytes: \"{chunk}\" }}\n"));
    }
    let started = Instant::now();
    let r = run(&case, &mqtt_target(&format!("mqtt://{addr}"))).await;
    assert_eq!(r.verdict, Verdict::Fail, "{:?}", r.failures);
    assert!(
        r.failures[0].message.contains("does not read"),
        "{:?}",
        r.failures
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}
