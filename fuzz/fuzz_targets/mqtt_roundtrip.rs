//! Structure-aware: packets a case could write (built from `arbitrary` fields through the case
//! model), encoded and decoded by a server-side decoder; a packet the decoder accepts without a
//! violation must come back equal to what was encoded.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use wirecheck::mqtt::Version;

#[derive(Arbitrary, Debug)]
struct Props {
    reason_string: Option<String>,
    user: Vec<(String, String)>,
    message_expiry_interval: Option<u32>,
    topic_alias: Option<u16>,
    content_type: Option<String>,
    subscription_identifier: Option<u32>,
    session_expiry_interval: Option<u32>,
    receive_maximum: Option<u16>,
}

#[derive(Arbitrary, Debug)]
enum Gen {
    Connect {
        id: String,
        clean: bool,
        keep_alive: u16,
        user: Option<String>,
        password: Option<String>,
        will: Option<(String, String, u8, bool)>,
    },
    Publish {
        qos: u8,
        dup: bool,
        retain: bool,
        id: u16,
        topic: String,
        payload: String,
    },
    Ack {
        kind: u8,
        id: u16,
        reason: u8,
    },
    Subscribe {
        id: u16,
        filters: Vec<(String, u8)>,
    },
    Unsubscribe {
        id: u16,
        topics: Vec<String>,
    },
    Pingreq,
    Disconnect {
        reason: u8,
    },
    Auth {
        reason: u8,
        method: Option<String>,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    v5: bool,
    packet: Gen,
    props: Props,
}

fn props(p: &Props) -> Value {
    let mut m = serde_json::Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    if let Some(s) = &p.reason_string {
        put("reason_string", json!(s));
    }
    if !p.user.is_empty() {
        put(
            "user_properties",
            json!(
                p.user
                    .iter()
                    .map(|(n, v)| json!({"name": n, "value": v}))
                    .collect::<Vec<_>>()
            ),
        );
    }
    if let Some(v) = p.message_expiry_interval {
        put("message_expiry_interval", json!(v));
    }
    if let Some(v) = p.topic_alias {
        put("topic_alias", json!(v));
    }
    if let Some(s) = &p.content_type {
        put("content_type", json!(s));
    }
    if let Some(v) = p.subscription_identifier {
        put("subscription_identifier", json!(v));
    }
    if let Some(v) = p.session_expiry_interval {
        put("session_expiry_interval", json!(v));
    }
    if let Some(v) = p.receive_maximum {
        put("receive_maximum", json!(v));
    }
    Value::Object(m)
}

fuzz_target!(|input: Input| {
    let version = if input.v5 { Version::V5 } else { Version::V311 };
    let mut v = match &input.packet {
        Gen::Connect {
            id,
            clean,
            keep_alive,
            user,
            password,
            will,
        } => {
            let mut c = json!({"type": "connect", "protocol_level": if input.v5 { 5 } else { 4 },
                "client_id": id, "clean_session": clean, "keep_alive": keep_alive});
            if let Some(u) = user {
                c["username"] = json!(u);
            }
            if let Some(p) = password {
                c["password"] = json!(p);
            }
            if let Some((t, p, q, r)) = will {
                c["will"] = json!({"topic": t, "payload": p, "qos": q % 3, "retain": r});
            }
            c
        }
        Gen::Publish {
            qos,
            dup,
            retain,
            id,
            topic,
            payload,
        } => {
            let qos = qos % 3;
            let mut p = json!({"type": "publish", "qos": qos, "dup": *dup && qos > 0, "retain": retain, "topic": topic, "payload": payload});
            if qos > 0 {
                p["id"] = json!(id);
            }
            p
        }
        Gen::Ack { kind, id, reason } => {
            let ty = ["puback", "pubrec", "pubrel", "pubcomp"][usize::from(kind % 4)];
            let mut a = json!({"type": ty, "id": id});
            if input.v5 {
                a["reason"] = json!(reason);
            }
            a
        }
        Gen::Subscribe { id, filters } => json!({"type": "subscribe", "id": id,
            "filters": filters.iter().map(|(t, q)| json!({"topic": t, "qos": q % 3})).collect::<Vec<_>>()}),
        Gen::Unsubscribe { id, topics } => {
            json!({"type": "unsubscribe", "id": id, "topics": topics})
        }
        Gen::Pingreq => json!({"type": "pingreq"}),
        Gen::Disconnect { reason } => {
            let mut d = json!({"type": "disconnect"});
            if input.v5 {
                d["reason"] = json!(reason);
            }
            d
        }
        Gen::Auth { reason, method } => {
            if !input.v5 {
                return;
            }
            let mut a = json!({"type": "auth", "reason": reason});
            if let Some(m) = method {
                a["properties"] = json!({"authentication_method": m});
            }
            a
        }
    };
    if input.v5 && !matches!(input.packet, Gen::Pingreq) {
        let p = props(&input.props);
        if p.as_object().is_some_and(|m| !m.is_empty()) {
            v["properties"] = p;
        }
    }
    wirecheck::fuzz::targets::mqtt_roundtrip(&v, version);
});
