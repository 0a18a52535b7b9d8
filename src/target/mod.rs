//! Targets: a URL, a profile file or the built-in reference target, resolved into endpoints,
//! accounts and declared deviations.

pub mod pool;
pub mod profile;
pub mod secret;

use std::path::Path;

use globset::Glob;

use crate::case::{Case, LoadError, Protocol};
use crate::transport::{Endpoint, EndpointError};
pub use pool::{Account, AccountPool, Lease, LeaseError};
pub use profile::{DeviationDoc, ProfileDoc};
pub use secret::Secret;

/// Why a target could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The profile file is broken.
    #[error("{0}")]
    Profile(#[from] LoadError),
    /// A URL is malformed.
    #[error("{0}")]
    Url(#[from] EndpointError),
    /// A ws:// URL without a way to tell the protocol.
    #[error("cannot tell whether {0} speaks MQTT or XMPP: pass --protocol mqtt|xmpp")]
    AmbiguousProtocol(String),
    /// A setting is missing or wrong.
    #[error("{0}")]
    Invalid(String),
    /// The built-in target failed to start.
    #[error("cannot start the built-in target: {0}")]
    Builtin(String),
}

/// Where and how to reach an MQTT server.
#[derive(Debug, Clone)]
pub struct MqttTarget {
    /// The endpoint.
    pub endpoint: Endpoint,
}

/// Where and how to reach an XMPP-over-WebSocket server.
#[derive(Debug, Clone)]
pub struct XmppTarget {
    /// The endpoint (ws:// or wss://).
    pub endpoint: Endpoint,
    /// The XMPP domain.
    pub domain: String,
    /// Accounts to lease.
    pub pool: AccountPool,
}

/// A resolved target: the protocols it speaks and what it is known to get wrong.
pub struct Target {
    /// Name for reports (`reference`, `mosquitto`, or the URL).
    pub name: String,
    /// MQTT side, if spoken.
    pub mqtt: Option<MqttTarget>,
    /// XMPP side, if spoken.
    pub xmpp: Option<XmppTarget>,
    /// Declared deviations.
    pub deviations: Vec<DeviationDoc>,
    /// Keeps the built-in servers alive while the target is in use.
    pub builtin: Option<crate::reference::Reference>,
    /// The profile's extra snapshot redactions.
    pub snapshot_redact: Vec<crate::snapshot::RedactDoc>,
}

/// Options that shape how a target is resolved from the command line.
#[derive(Debug, Clone, Default)]
pub struct TargetOptions {
    /// `--protocol` for ws:// URLs.
    pub protocol: Option<Protocol>,
    /// `--domain` for XMPP URL targets.
    pub domain: Option<String>,
    /// `--fault` switches for the built-in target.
    pub faults: Vec<String>,
}

/// Environment variable with `user:password,user:password` for XMPP URL targets.
pub const ACCOUNTS_ENV: &str = "WIRECHECK_XMPP_ACCOUNTS";

impl Target {
    /// Resolves `--target` (None = the built-in reference target).
    pub async fn resolve(spec: Option<&str>, opts: &TargetOptions) -> Result<Target, TargetError> {
        let Some(spec) = spec else {
            return Self::builtin(opts).await;
        };
        if spec == "builtin" || spec == "builtin:" {
            return Self::builtin(opts).await;
        }
        let as_path = Path::new(spec);
        if spec.ends_with(".yaml") || spec.ends_with(".yml") || as_path.is_file() {
            return Self::from_profile(as_path, opts).await;
        }
        if !opts.faults.is_empty() {
            return Err(TargetError::Invalid(
                "--fault applies to the built-in target only".into(),
            ));
        }
        let endpoint = Endpoint::parse(spec)?;
        let protocol = match (opts.protocol, endpoint.kind.is_websocket()) {
            (Some(p), _) => p,
            (None, false) => Protocol::Mqtt,
            (None, true) if endpoint.path.contains("xmpp") => Protocol::Xmpp,
            (None, true) if endpoint.path.contains("mqtt") => Protocol::Mqtt,
            (None, true) => return Err(TargetError::AmbiguousProtocol(spec.to_string())),
        };
        let mut target = Target {
            name: spec.to_string(),
            mqtt: None,
            xmpp: None,
            deviations: Vec::new(),
            builtin: None,
            snapshot_redact: Vec::new(),
        };
        match protocol {
            Protocol::Mqtt => target.mqtt = Some(MqttTarget { endpoint }),
            Protocol::Xmpp => {
                if !endpoint.kind.is_websocket() {
                    return Err(TargetError::Invalid(format!(
                        "{spec}: XMPP targets are ws:// or wss:// URLs"
                    )));
                }
                let domain = opts.domain.clone().unwrap_or_else(|| endpoint.host.clone());
                let accounts = accounts_from_env()?;
                target.xmpp = Some(XmppTarget {
                    endpoint,
                    domain,
                    pool: AccountPool::new(accounts),
                });
            }
        }
        Ok(target)
    }

    async fn builtin(opts: &TargetOptions) -> Result<Target, TargetError> {
        let reference = crate::reference::Reference::start(&opts.faults)
            .await
            .map_err(|e| TargetError::Builtin(e.to_string()))?;
        let name = if opts.faults.is_empty() {
            "reference".to_string()
        } else {
            format!("reference+{}", opts.faults.join("+"))
        };
        Ok(Target {
            name,
            mqtt: Some(MqttTarget {
                endpoint: reference.mqtt_endpoint(),
            }),
            xmpp: Some(XmppTarget {
                endpoint: reference.xmpp_endpoint(),
                domain: reference.domain().to_string(),
                pool: AccountPool::new(reference.accounts()),
            }),
            deviations: Vec::new(),
            builtin: Some(reference),
            snapshot_redact: Vec::new(),
        })
    }

    async fn from_profile(path: &Path, opts: &TargetOptions) -> Result<Target, TargetError> {
        let doc = profile::load_profile(path)?;
        crate::snapshot::redact::validate(&doc.snapshot_redact)
            .map_err(|e| TargetError::Invalid(format!("{}: {e}", path.display())))?;
        let url = match &doc.url_env {
            Some(var) => std::env::var(var).ok().filter(|v| !v.is_empty()),
            None => None,
        }
        .unwrap_or_else(|| doc.url.clone());
        if url == "builtin:" || url == "builtin" {
            let mut t = Self::builtin(opts).await?;
            t.name = doc.name.clone();
            t.deviations = doc.deviations.clone();
            t.snapshot_redact = doc.snapshot_redact.clone();
            return Ok(t);
        }
        if !opts.faults.is_empty() {
            return Err(TargetError::Invalid(
                "--fault applies to the built-in target only".into(),
            ));
        }
        let endpoint = Endpoint::parse(&url)?;
        let mut target = Target {
            name: doc.name.clone(),
            mqtt: None,
            xmpp: None,
            deviations: doc.deviations.clone(),
            builtin: None,
            snapshot_redact: doc.snapshot_redact.clone(),
        };
        let protocol = doc.protocol.ok_or_else(|| {
            TargetError::Invalid(format!(
                "{}: field `protocol` (mqtt or xmpp) is required unless url is builtin:",
                path.display()
            ))
        })?;
        match protocol {
            Protocol::Mqtt => target.mqtt = Some(MqttTarget { endpoint }),
            Protocol::Xmpp => {
                let domain = doc
                    .domain
                    .clone()
                    .or_else(|| opts.domain.clone())
                    .unwrap_or_else(|| endpoint.host.clone());
                let mut accounts = Vec::new();
                for a in &doc.accounts {
                    let password = std::env::var(&a.password_env).map_err(|_| {
                        TargetError::Invalid(format!(
                            "{}: account `{}` needs its password in environment variable {}, which is not set",
                            path.display(),
                            a.user,
                            a.password_env
                        ))
                    })?;
                    accounts.push(Account {
                        user: a.user.clone(),
                        password: Secret::new(password),
                    });
                }
                if accounts.is_empty() {
                    accounts = accounts_from_env()?;
                }
                target.xmpp = Some(XmppTarget {
                    endpoint,
                    domain,
                    pool: AccountPool::new(accounts),
                });
            }
        }
        Ok(target)
    }

    /// Whether the target speaks the case's protocol.
    pub fn speaks(&self, protocol: Protocol) -> bool {
        match protocol {
            Protocol::Mqtt => self.mqtt.is_some(),
            Protocol::Xmpp => self.xmpp.is_some(),
        }
    }

    /// The declared deviation covering one failure of `case` (whose statements are `failure_specs`).
    pub fn deviation_for(&self, case: &Case, failure_specs: &[String]) -> Option<&DeviationDoc> {
        self.deviations.iter().find(|d| {
            let case_ok = d.case.as_ref().is_none_or(|g| {
                Glob::new(g)
                    .map(|g| g.compile_matcher().is_match(&case.id))
                    .unwrap_or(false)
            });
            let spec_ok = d
                .spec
                .as_ref()
                .is_none_or(|s| failure_specs.iter().any(|f| f == s));
            (d.case.is_some() || d.spec.is_some()) && case_ok && spec_ok
        })
    }

    /// When every failure is covered by a declared deviation, their reasons; otherwise None.
    pub fn covering_deviations(
        &self,
        case: &Case,
        failures: &[Vec<String>],
    ) -> Option<Vec<String>> {
        let mut reasons = Vec::new();
        for specs in failures {
            let d = self.deviation_for(case, specs)?;
            if !reasons.contains(&d.reason) {
                reasons.push(d.reason.clone());
            }
        }
        (!failures.is_empty()).then_some(reasons)
    }

    /// A description of the endpoints for the console header.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(m) = &self.mqtt {
            parts.push(format!("mqtt {}", m.endpoint));
        }
        if let Some(x) = &self.xmpp {
            parts.push(format!("xmpp {} (domain {})", x.endpoint, x.domain));
        }
        format!("{}: {}", self.name, parts.join(", "))
    }
}

fn accounts_from_env() -> Result<Vec<Account>, TargetError> {
    let Ok(text) = std::env::var(ACCOUNTS_ENV) else {
        return Ok(Vec::new());
    };
    text.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|pair| {
            let (user, pass) = pair.trim().split_once(':').ok_or_else(|| {
                TargetError::Invalid(format!(
                    "{ACCOUNTS_ENV}: expected user:password[,user:password...]"
                ))
            })?;
            Ok(Account {
                user: user.to_string(),
                password: Secret::new(pass),
            })
        })
        .collect()
}
