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
        capabilities: Default::default(),
        builtin: None,
        snapshot_redact: Vec::new(),
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
            register: None,
        }),
        deviations: Vec::new(),
        capabilities: Default::default(),
        builtin: None,
        snapshot_redact: Vec::new(),
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

// ---------------------------------------------------------------------------------------------
// Hostile WebSocket servers: raw frames written by hand after a real upgrade handshake.

/// Answers the WebSocket upgrade with `subprotocol`, then hands the raw socket to `behave`.
async fn ws_server<F, Fut>(subprotocol: &'static str, behave: F) -> String
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let behave = std::sync::Arc::new(behave);
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let behave = behave.clone();
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut b = [0u8; 1];
                while !req.ends_with(b"\r\n\r\n") && req.len() < 8192 {
                    if s.read_exact(&mut b).await.is_err() {
                        return;
                    }
                    req.push(b[0]);
                }
                let text = String::from_utf8_lossy(&req).to_string();
                let key = text
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("sec-websocket-key")
                            .then(|| v.trim().to_string())
                    })
                    .unwrap_or_default();
                let accept =
                    tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
                let resp = format!(
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                     Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: {subprotocol}\r\n\r\n"
                );
                if s.write_all(resp.as_bytes()).await.is_ok() {
                    behave(s).await;
                }
            });
        }
    });
    format!("ws://{addr}/mqtt")
}

/// After the client's first frame, writes `frame` and then holds the connection open, reading.
fn answer_first_frame_with(
    frame: &'static [u8],
) -> impl Fn(tokio::net::TcpStream) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
+ Send
+ Sync
+ 'static {
    move |mut s| {
        Box::pin(async move {
            let mut buf = [0u8; 4096];
            if matches!(s.read(&mut buf).await, Ok(0) | Err(_)) {
                return;
            }
            let _ = s.write_all(frame).await;
            // Never close: only the client can end this connection.
            while let Ok(n) = s.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        })
    }
}

fn first_packet_pingreq() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("cases/mqtt/v311/connect-first-packet-pingreq.yaml"),
    )
    .unwrap()
}

/// A server that breaks the WebSocket framing never "closes": the close is wirecheck's, so the
/// case fails and names the RFC 6455 rule the server broke.
#[rstest::rstest]
#[case::masked_server_frame(&[0x82, 0x82, 1, 2, 3, 4, 0xd1, 0x02], Some("RFC6455-5.1-4"))]
#[case::rsv_bit_set(&[0xc2, 0x02, 0xd0, 0x00], Some("RFC6455-5.2-2"))]
#[case::unknown_opcode(&[0x83, 0x00], Some("RFC6455-5.2-4"))]
#[case::frame_over_the_size_limit(&[0x82, 127, 0, 0, 0, 0, 0x0b, 0xeb, 0xc2, 0x00], None)]
#[tokio::test]
async fn a_framing_violation_is_not_a_server_close(
    #[case] frame: &'static [u8],
    #[case] rule: Option<&str>,
) {
    let url = ws_server("mqtt", answer_first_frame_with(frame)).await;
    let r = run(&first_packet_pingreq(), &mqtt_target(&url)).await;
    assert_eq!(r.verdict, Verdict::Fail, "{:#?}", r.failures);
    let specs: Vec<&str> = r
        .failures
        .iter()
        .flat_map(|f| f.spec.iter().map(String::as_str))
        .collect();
    match rule {
        Some(rule) => assert!(specs.contains(&rule), "{rule} not in {specs:?}"),
        None => assert!(
            r.failures
                .iter()
                .any(|f| f.message.contains("wirecheck ended it")),
            "{:#?}",
            r.failures
        ),
    }
    assert!(
        !specs.contains(&"MQTT-3.1.0-1"),
        "the close was wirecheck's, yet the case's statement was blamed: {specs:?}"
    );
}

/// A close code that is illegal on the wire is reported as sent, not as the library's 1002.
#[rstest::rstest]
#[case::below_1000(&[0x88, 0x02, 0x03, 0xe7], 999, "RFC6455-5.5.1-2")]
#[case::reserved_1005(&[0x88, 0x02, 0x03, 0xed], 1005, "RFC6455-7.4.1-3")]
#[case::reserved_1006(&[0x88, 0x02, 0x03, 0xee], 1006, "RFC6455-7.4.1-4")]
#[tokio::test]
async fn an_illegal_close_code_is_reported_as_sent(
    #[case] frame: &'static [u8],
    #[case] code: u16,
    #[case] rule: &str,
) {
    let url = ws_server("mqtt", answer_first_frame_with(frame)).await;
    let case = first_packet_pingreq().replace(
        "expect_close: { actor: c }",
        "expect_close: { actor: c, code: 1002 }",
    );
    let r = run(&case, &mqtt_target(&url)).await;
    assert_eq!(r.verdict, Verdict::Fail, "{:#?}", r.failures);
    assert!(
        r.failures.iter().any(|f| f.spec == vec![rule.to_string()]),
        "{:#?}",
        r.failures
    );
    let text = format!("{:?}", r.failures);
    assert!(text.contains(&code.to_string()), "{text}");
}

/// After the closing handshake wirecheck lets go of the TCP connection at once (RFC 6455
/// §7.1.1), not when the case ends.
#[tokio::test]
async fn the_tcp_connection_ends_with_the_websocket_close() {
    let (tx, rx) = tokio::sync::oneshot::channel::<Duration>();
    let tx = std::sync::Arc::new(std::sync::Mutex::new(Some(tx)));
    let url = ws_server("mqtt", move |mut s| {
        let tx = tx.clone();
        async move {
            let mut buf = [0u8; 4096];
            if matches!(s.read(&mut buf).await, Ok(0) | Err(_)) {
                return;
            }
            let _ = s.write_all(&[0x88, 0x02, 0x03, 0xe8]).await; // close 1000
            let sent = Instant::now();
            while let Ok(n) = s.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
            if let Some(tx) = tx.lock().unwrap().take() {
                let _ = tx.send(sent.elapsed());
            }
        }
    })
    .await;
    let case = format!("{}  - sleep: 2s\n", first_packet_pingreq());
    let started = Instant::now();
    let run = tokio::spawn(async move { run(&case, &mqtt_target(&url)).await });
    let eof_after = tokio::time::timeout(Duration::from_secs(5), rx)
        .await
        .expect("the client never closed TCP")
        .unwrap();
    assert!(
        eof_after < Duration::from_secs(1) && started.elapsed() < Duration::from_secs(2),
        "TCP stayed open {eof_after:?} after the close (case still running)"
    );
    let r = run.await.unwrap();
    assert_eq!(r.verdict, Verdict::Pass, "{:#?}", r.failures);
}

/// An XMPP failure says what really went wrong, not only "connection closed".
#[rstest::rstest]
#[case::invalid_utf8(&[0x81, 0x02, 0xc3, 0x28], "RFC6455-8.1-1")]
#[case::message_too_long(&[0x81, 127, 0, 0, 0, 0, 0x0b, 0xeb, 0xc2, 0x00], "too long")]
#[tokio::test]
async fn an_xmpp_login_failure_names_its_cause(#[case] frame: &'static [u8], #[case] cause: &str) {
    let url = ws_server("xmpp", answer_first_frame_with(frame)).await;
    let target = Target {
        name: "hostile-xmpp".into(),
        mqtt: None,
        xmpp: Some(XmppTarget {
            endpoint: Endpoint::parse(&url.replace("/mqtt", "/xmpp")).unwrap(),
            domain: "localhost".into(),
            pool: AccountPool::new(vec![wirecheck::target::Account {
                user: "a".into(),
                password: wirecheck::target::Secret::new("pw"),
            }]),
            register: None,
        }),
        deviations: Vec::new(),
        capabilities: Default::default(),
        builtin: None,
        snapshot_redact: Vec::new(),
    };
    let case = "id: hostile.xmpp-cause\ntitle: t\nprotocol: xmpp\nspec: [RFC7395-3.4-2]\nactors: { alice: {} }\nsteps:\n  - login: alice\n";
    let r = run(case, &target).await;
    assert_eq!(r.verdict, Verdict::Fail, "{:#?}", r.failures);
    let shown = wirecheck::report::failure_text(&r.failures[0]);
    assert!(
        shown.to_lowercase().contains(&cause.to_lowercase()),
        "{shown}"
    );
}

// ---------------------------------------------------------------------------------------------
// Blame: a failed check names the statement of that check.

/// An MQTT server that accepts CONNECT and then does `after` with what follows.
async fn scripted_mqtt(after: fn(u8) -> Option<&'static [u8]>) -> String {
    server(move |mut s| async move {
        let mut buf = [0u8; 4096];
        loop {
            let n = match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let first = buf[..n][0];
            let reply: Option<&[u8]> = if first == 0x10 {
                Some(&[0x20, 0x02, 0x00, 0x00])
            } else {
                after(first)
            };
            if let Some(r) = reply {
                let _ = s.write_all(r).await;
            }
        }
    })
    .await
}

#[tokio::test]
async fn a_missing_pubrec_is_blamed_on_the_pubrec_rule_not_on_the_case() {
    let url = scripted_mqtt(|_| None).await;
    let case = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("cases/mqtt/v311/malformed-pubrel-flags.yaml"),
    )
    .unwrap();
    let r = run(&case, &mqtt_target(&url)).await;
    assert_eq!(r.verdict, Verdict::Fail, "{:#?}", r.failures);
    assert_eq!(r.failures.len(), 1, "{:#?}", r.failures);
    assert_eq!(r.failures[0].spec, vec!["MQTT-4.3.3-2".to_string()]);
    assert!(
        r.failures[0].message.contains("PUBREC"),
        "{:#?}",
        r.failures
    );
}

#[tokio::test]
async fn a_stray_publish_instead_of_a_suback_is_said_plainly() {
    // SUBSCRIBE is answered with a PUBLISH on another topic, never with a SUBACK.
    let url =
        scripted_mqtt(|first| (first == 0x82).then_some(&[0x30, 0x04, 0x00, 0x01, b'x', b'y'][..]))
            .await;
    let case = r#"id: hostile.stray
title: t
protocol: mqtt
version: "3.1.1"
spec: [MQTT-3.3.1-12]
timeout: 500ms
actors: { c: {} }
steps:
  - connect: c
  - send: { actor: c, packet: { type: subscribe, id: 1, filters: [{ topic: "{ns}/r", qos: 0 }] } }
  - expect: { actor: c, packet: { type: suback, id: 1 } }
"#;
    let r = run(case, &mqtt_target(&url)).await;
    assert_eq!(r.verdict, Verdict::Fail, "{:#?}", r.failures);
    let f = &r.failures[0];
    assert_eq!(f.spec, vec!["MQTT-3.8.4-1".to_string()], "{f:#?}");
    assert!(
        f.message.contains("SUBACK") && f.message.contains("other types"),
        "{f:#?}"
    );
    assert!(
        f.actual.as_deref().unwrap_or("").contains("PUBLISH"),
        "{f:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// `--timeout` overrides a case's `timeout:`.

#[tokio::test]
async fn the_run_timeout_overrides_the_case_timeout() {
    let url = server(|mut s| async move {
        let mut buf = [0u8; 1024];
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
    let case_text = MQTT_CASE.replace("timeout: 500ms", "timeout: 300ms");
    let case = load_str(Path::new("hostile.yaml"), &case_text).unwrap();
    let opts = RunOptions {
        timeout_override: Some(Duration::from_millis(1200)),
        ..RunOptions::default()
    };
    let started = Instant::now();
    let r = run_case(&case, &mqtt_target(&url), &opts).await;
    let took = started.elapsed();
    assert_eq!(r.verdict, Verdict::Fail);
    assert!(took >= Duration::from_millis(1200), "waited only {took:?}");
    assert!(r.failures[0].message.contains("1.2s"), "{:#?}", r.failures);
}
