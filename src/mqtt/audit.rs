//! The MQTT facts of an audit: which protocol versions the broker accepts, the limits its 5.0
//! CONNACK announces, and whether it lets a client in without credentials. Every connection
//! has a client id of its own, a clean session, and publishes or subscribes nothing.

use tokio::time::Instant;

use super::Version;
use super::properties::Properties;
use super::session::{ConnectAnswer, connect_once, refuses_v5_in_311_form};
use crate::facts::{Area, Fact, Status};
use crate::target::MqttTarget;
use crate::transport::ConnectOptions;

/// The facts of one MQTT endpoint, learned within `deadline`.
pub async fn facts(mqtt: &MqttTarget, connect: &ConnectOptions, deadline: Instant) -> Vec<Fact> {
    let mut out = Vec::new();
    let creds = mqtt.credentials.clone();
    let v5 = connect_once(
        &mqtt.endpoint,
        connect,
        Version::V5,
        creds.clone(),
        deadline,
    )
    .await;
    let mut accepted: Option<Version> = None;
    match &v5 {
        Ok(ConnectAnswer::Connack(c)) if c.reason.is_some_and(|r| r.to_byte() == 0) => {
            out.push(Fact::new(
                Area::Negotiation,
                "MQTT 5.0",
                "accepted",
                Status::Ok,
            ));
            out.extend(limits(&c.properties));
            accepted = Some(Version::V5);
        }
        Ok(ConnectAnswer::Connack(c)) => {
            let code = c.reason.map_or(0, |r| r.to_byte());
            out.push(refusal(Version::V5, code, creds.is_some()));
        }
        Ok(ConnectAnswer::Other(raw)) if refuses_v5_in_311_form(raw) => {
            out.push(Fact::info(
                Area::Negotiation,
                "MQTT 5.0",
                "not supported (the broker answered in 3.1.1 form: unacceptable protocol version)",
            ));
        }
        Ok(ConnectAnswer::Other(raw)) => out.push(no_connack(Version::V5, raw)),
        Err(f) => out.push(Fact::new(
            Area::Negotiation,
            "MQTT 5.0",
            format!("no answer: {}", f.message),
            Status::Warn,
        )),
    }
    let v311 = connect_once(
        &mqtt.endpoint,
        connect,
        Version::V311,
        creds.clone(),
        deadline,
    )
    .await;
    match &v311 {
        Ok(ConnectAnswer::Connack(c)) if c.code.is_some_and(|r| r.to_byte() == 0) => {
            out.push(Fact::new(
                Area::Negotiation,
                "MQTT 3.1.1",
                "accepted",
                Status::Ok,
            ));
            accepted = accepted.or(Some(Version::V311));
        }
        Ok(ConnectAnswer::Connack(c)) => {
            let code = c.code.map_or(0, |r| r.to_byte());
            out.push(refusal(Version::V311, code, creds.is_some()));
        }
        Ok(ConnectAnswer::Other(raw)) => out.push(no_connack(Version::V311, raw)),
        Err(f) => out.push(Fact::new(
            Area::Negotiation,
            "MQTT 3.1.1",
            format!("no answer: {}", f.message),
            Status::Warn,
        )),
    }
    out.push(anonymous(mqtt, connect, accepted, deadline).await);
    out
}

/// Whether a client without user name and password gets in.
async fn anonymous(
    mqtt: &MqttTarget,
    connect: &ConnectOptions,
    accepted: Option<Version>,
    deadline: Instant,
) -> Fact {
    const NAME: &str = "Anonymous clients";
    let version = accepted.unwrap_or(Version::V311);
    if mqtt.credentials.is_none() {
        return match accepted {
            Some(_) => Fact::new(
                Area::Security,
                NAME,
                "accepted: any client may connect without a user name and password",
                Status::Warn,
            ),
            None => Fact::new(
                Area::Security,
                NAME,
                "refused (the audit had no credentials; give --user and --password-env)",
                Status::Ok,
            ),
        };
    }
    match connect_once(&mqtt.endpoint, connect, version, None, deadline).await {
        Ok(ConnectAnswer::Connack(c)) if c.code_byte(version) == 0 => Fact::new(
            Area::Security,
            NAME,
            "accepted: a client without credentials got in although the broker has accounts",
            Status::Warn,
        ),
        Ok(ConnectAnswer::Connack(c)) => Fact::new(
            Area::Security,
            NAME,
            format!("refused (CONNACK code 0x{:02x})", c.code_byte(version)),
            Status::Ok,
        ),
        Ok(ConnectAnswer::Other(_)) => Fact::new(
            Area::Security,
            NAME,
            "refused (the connection ended without a CONNACK)",
            Status::Ok,
        ),
        Err(f) => Fact::new(
            Area::Security,
            NAME,
            format!("not checked: {}", f.message),
            Status::Info,
        ),
    }
}

/// A CONNACK that refused the connection.
fn refusal(version: Version, code: u8, had_credentials: bool) -> Fact {
    let auth = matches!(
        (version, code),
        (Version::V311, 4 | 5) | (Version::V5, 0x86 | 0x87)
    );
    let why = match (auth, had_credentials) {
        (true, true) => "the credentials given were refused",
        (true, false) => "it wants credentials: give --user and --password-env",
        _ => "refused",
    };
    Fact::new(
        Area::Negotiation,
        format!("MQTT {}", version_name(version)),
        format!("{why} (CONNACK code 0x{code:02x})"),
        if auth { Status::Warn } else { Status::Info },
    )
}

fn no_connack(version: Version, raw: &[u8]) -> Fact {
    let seen = if raw.is_empty() {
        "the connection ended without an answer".to_string()
    } else {
        format!(
            "answered with bytes that are no CONNACK: {}",
            hex::encode(&raw[..raw.len().min(16)])
        )
    };
    Fact::info(
        Area::Negotiation,
        format!("MQTT {}", version_name(version)),
        seen,
    )
}

fn version_name(v: Version) -> &'static str {
    match v {
        Version::V311 => "3.1.1",
        Version::V5 => "5.0",
    }
}

/// The limits a 5.0 CONNACK announces, with the value an absent property means (MQTT 5.0
/// Section 3.2.2.3).
fn limits(p: &Properties) -> Vec<Fact> {
    let n = |name: &str, value: String| Fact::info(Area::Negotiation, name, value);
    let flag = |v: Option<u8>| match v {
        Some(0) => "no".to_string(),
        Some(_) => "yes".to_string(),
        None => "yes (not announced)".to_string(),
    };
    vec![
        n(
            "Maximum QoS",
            p.maximum_qos
                .map_or("2 (not announced)".into(), |q| q.to_string()),
        ),
        n(
            "Maximum packet size",
            p.maximum_packet_size
                .map_or("no limit announced".into(), |m| format!("{m} bytes")),
        ),
        n(
            "Receive maximum",
            p.receive_maximum
                .map_or("65535 (not announced)".into(), |m| m.to_string()),
        ),
        n(
            "Topic alias maximum",
            p.topic_alias_maximum
                .map_or("0 (not announced: no topic aliases)".into(), |m| {
                    m.to_string()
                }),
        ),
        n(
            "Server keep alive",
            p.server_keep_alive
                .map_or("not announced (the client's 60 s stands)".into(), |k| {
                    format!("{k} s")
                }),
        ),
        n("Retain available", flag(p.retain_available)),
        n(
            "Wildcard subscriptions",
            flag(p.wildcard_subscription_available),
        ),
        n(
            "Shared subscriptions",
            flag(p.shared_subscription_available),
        ),
        n(
            "Subscription identifiers",
            flag(p.subscription_identifier_available),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_limits_say_what_they_mean() {
        let facts = limits(&Properties::default());
        let value = |name: &str| {
            facts
                .iter()
                .find(|f| f.name == name)
                .map(|f| f.value.clone())
                .unwrap()
        };
        assert_eq!(value("Maximum QoS"), "2 (not announced)");
        assert_eq!(value("Receive maximum"), "65535 (not announced)");
        assert!(value("Topic alias maximum").starts_with("0 "));
    }

    #[test]
    fn announced_limits_are_shown() {
        let p = Properties {
            maximum_qos: Some(1),
            maximum_packet_size: Some(1024),
            retain_available: Some(0),
            ..Properties::default()
        };
        let facts = limits(&p);
        let value = |name: &str| facts.iter().find(|f| f.name == name).unwrap().value.clone();
        assert_eq!(value("Maximum QoS"), "1");
        assert_eq!(value("Maximum packet size"), "1024 bytes");
        assert_eq!(value("Retain available"), "no");
    }

    #[test]
    fn refused_credentials_are_named() {
        let f = refusal(Version::V5, 0x86, true);
        assert!(f.value.contains("credentials given were refused"), "{f}");
        let f = refusal(Version::V311, 5, false);
        assert!(f.value.contains("--user"), "{f}");
    }
}
