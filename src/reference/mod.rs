//! The built-in reference target: a correct MQTT broker (3.1.1 and 5.0) and XMPP-over-WebSocket server,
//! in-process on ephemeral loopback ports, with fault switches that each break one rule.

pub mod mqtt;
pub mod xmpp;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use crate::target::{Account, Secret};
use crate::transport::Endpoint;
use mqtt::{BrokerConfig, BrokerHandle, MqttFault};
use xmpp::{XmppFault, XmppServerConfig, XmppServerHandle};

/// The XMPP domain the reference server serves.
pub const DOMAIN: &str = "localhost";
/// Accounts in the reference server's pool.
pub const POOL_SIZE: usize = 16;

/// Why the reference target could not start.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    /// An unknown fault name.
    #[error("unknown fault `{0}`; known faults: {1}")]
    UnknownFault(String, String),
    /// Binding a port failed.
    #[error("cannot bind the reference target: {0}")]
    Bind(#[from] std::io::Error),
}

/// How to start the reference target.
#[derive(Debug, Clone, Default)]
pub struct ReferenceOptions {
    /// Fault names.
    pub faults: Vec<String>,
    /// MQTT TCP port (0 = ephemeral).
    pub mqtt_port: u16,
    /// XMPP WebSocket port (0 = ephemeral).
    pub xmpp_port: u16,
}

/// The running reference target; servers stop when it is dropped.
pub struct Reference {
    mqtt: BrokerHandle,
    xmpp: XmppServerHandle,
    accounts: Vec<Account>,
}

/// Every fault switch: name and what it breaks.
pub fn faults() -> Vec<(&'static str, &'static str)> {
    let mut all: Vec<(&str, &str)> = MqttFault::ALL
        .iter()
        .map(|f| (f.name(), f.describe()))
        .collect();
    all.extend(XmppFault::ALL.iter().map(|f| (f.name(), f.describe())));
    all
}

/// The protocol whose server a fault switch breaks (None: no such fault).
pub fn fault_protocol(name: &str) -> Option<crate::case::Protocol> {
    if MqttFault::ALL.iter().any(|f| f.name() == name) {
        Some(crate::case::Protocol::Mqtt)
    } else if XmppFault::ALL.iter().any(|f| f.name() == name) {
        Some(crate::case::Protocol::Xmpp)
    } else {
        None
    }
}

impl Reference {
    /// Starts both servers on ephemeral loopback ports with the named faults.
    pub async fn start(faults: &[String]) -> Result<Reference, ReferenceError> {
        Self::start_with(&ReferenceOptions {
            faults: faults.to_vec(),
            ..Default::default()
        })
        .await
    }

    /// Starts both servers as configured.
    pub async fn start_with(opts: &ReferenceOptions) -> Result<Reference, ReferenceError> {
        let mut mqtt_faults = BTreeSet::new();
        let mut xmpp_faults = BTreeSet::new();
        for name in &opts.faults {
            if let Ok(f) = name.parse::<MqttFault>() {
                mqtt_faults.insert(f);
            } else if let Ok(f) = name.parse::<XmppFault>() {
                xmpp_faults.insert(f);
            } else {
                let known: Vec<&str> = faults().iter().map(|(n, _)| *n).collect();
                return Err(ReferenceError::UnknownFault(name.clone(), known.join(", ")));
            }
        }
        let password = random_password();
        let accounts: Vec<Account> = (1..=POOL_SIZE)
            .map(|i| Account {
                user: format!("wc{i}"),
                password: Secret::new(password.clone()),
            })
            .collect();
        let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let mqtt = mqtt::start(BrokerConfig {
            bind: loopback,
            tcp_port: opts.mqtt_port,
            ws_port: 0,
            faults: mqtt_faults,
        })
        .await?;
        let xmpp = xmpp::start(XmppServerConfig {
            bind: loopback,
            port: opts.xmpp_port,
            domain: DOMAIN.to_string(),
            accounts: accounts
                .iter()
                .map(|a| (a.user.clone(), a.password.expose().to_string()))
                .collect(),
            faults: xmpp_faults,
        })
        .await?;
        Ok(Reference {
            mqtt,
            xmpp,
            accounts,
        })
    }

    /// The MQTT TCP endpoint.
    pub fn mqtt_endpoint(&self) -> Endpoint {
        Endpoint::parse(&format!("mqtt://{}", self.mqtt.tcp_addr))
            .expect("socket address is a valid URL")
    }

    /// The MQTT-over-WebSocket endpoint.
    pub fn mqtt_ws_endpoint(&self) -> Endpoint {
        Endpoint::parse(&self.mqtt_ws_url()).expect("socket address is a valid URL")
    }

    /// The MQTT-over-WebSocket URL.
    pub fn mqtt_ws_url(&self) -> String {
        format!("ws://{}/mqtt", self.mqtt.ws_addr)
    }

    /// The XMPP WebSocket endpoint.
    pub fn xmpp_endpoint(&self) -> Endpoint {
        Endpoint::parse(&self.xmpp.url()).expect("server URL is valid")
    }

    /// The XMPP domain.
    pub fn domain(&self) -> &str {
        DOMAIN
    }

    /// The account pool.
    pub fn accounts(&self) -> Vec<Account> {
        self.accounts.clone()
    }
}

/// Environment variable that fixes the reference accounts' password (so a restarted
/// `wirecheck serve`, e.g. one `wirecheck fuzz --spawn` restarts after a crash, keeps its accounts).
pub const PASSWORD_ENV: &str = "WIRECHECK_REFERENCE_PASSWORD";

fn random_password() -> String {
    use rand::Rng;
    if let Ok(p) = std::env::var(PASSWORD_ENV)
        && !p.is_empty()
    {
        return p;
    }
    let mut rng = rand::rng();
    (0..20)
        .map(|_| {
            let c = rng.random_range(0..62u8);
            (match c {
                0..=9 => b'0' + c,
                10..=35 => b'a' + c - 10,
                _ => b'A' + c - 36,
            }) as char
        })
        .collect()
}
