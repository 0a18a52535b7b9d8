//! Codec throughput: strict MQTT decode and RFC 7395 frame parsing, the two things every
//! received message goes through. Run with `cargo bench --bench codec`; prints rates.

use std::hint::black_box;
use std::time::Instant;

use wirecheck::mqtt::{Decoder, Direction, Packet, Version, encode};
use wirecheck::xmpp::framing::parse_message;

fn rate(label: &str, n: usize, bytes: usize, f: impl FnOnce()) {
    let t = Instant::now();
    f();
    let s = t.elapsed().as_secs_f64();
    println!(
        "{label:44} {n:>8} msgs  {:>10.0} msgs/s  {:>8.1} MiB/s",
        n as f64 / s,
        bytes as f64 / s / (1024.0 * 1024.0)
    );
}

fn main() {
    let publish: Packet = serde_json::from_value(serde_json::json!({
        "type": "publish", "qos": 1, "id": 7, "topic": "wirecheck/run/case/t",
        "payload": "x".repeat(64)
    }))
    .expect("publish packet");
    let one = encode(&publish, Version::V311).expect("encodes");
    let n = 200_000;
    let stream: Vec<u8> = one.iter().copied().cycle().take(one.len() * n).collect();

    rate("mqtt encode PUBLISH qos1 64B", n, one.len() * n, || {
        for _ in 0..n {
            black_box(encode(black_box(&publish), Version::V311).expect("encodes"));
        }
    });
    rate(
        "mqtt strict decode PUBLISH qos1 64B (8K chunks)",
        n,
        stream.len(),
        || {
            let mut d = Decoder::new(Version::V311, Direction::ClientToServer, 1 << 20);
            let mut count = 0;
            for chunk in stream.chunks(8192) {
                d.push(chunk);
                while let Ok(Some(p)) = d.next() {
                    count += 1;
                    black_box(p);
                }
            }
            assert_eq!(count, n);
        },
    );

    let msg = "<message xmlns='jabber:client' from='alice@localhost/r1' to='bob@localhost/r2' \
               type='chat' id='m1'><body>hello bob, this is a message of moderate size</body>\
               <active xmlns='http://jabber.org/protocol/chatstates'/></message>";
    let m = 100_000;
    rate(
        "xmpp frame parse <message/> (one per frame)",
        m,
        msg.len() * m,
        || {
            for _ in 0..m {
                black_box(parse_message(black_box(msg)).expect("parses"));
            }
        },
    );
}
