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
pub use profile::{DeviationDoc, Profile, ProfileDoc};
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
    /// The user name and password every connection logs in with, when the server requires them.
    pub credentials: Option<MqttCredentials>,
}

/// MQTT credentials: from a profile (`username`, `password_env`) or `--user` / `--password-env`.
/// The password never prints itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttCredentials {
    /// User name.
    pub username: String,
    /// Password.
    pub password: Secret,
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
    /// Each case registers fresh accounts in-band (XEP-0077) instead of using the pool's own;
    /// the pool then holds `count` slots that only bound how many exist at once.
    pub register: Option<RegisterSource>,
}

/// The in-band registration account source of a profile (`register_accounts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterSource {
    /// Start of every registered user name (lower-case letters and digits).
    pub prefix: String,
    /// Most accounts registered at once.
    pub count: usize,
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
    /// Capabilities the profile declares or a probe learned (absent: assumed available).
    pub capabilities: crate::capability::Known,
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
    /// `--user`: MQTT user name of a URL target.
    pub user: Option<String>,
    /// `--password-env`: environment variable with the MQTT password of `--user`.
    pub password_env: Option<String>,
}

impl TargetOptions {
    /// The MQTT credentials of `--user` / `--password-env`, read from the environment.
    fn credentials(&self) -> Result<Option<MqttCredentials>, TargetError> {
        self.credentials_of("MQTT user")
    }

    /// The user name and password of `--user` / `--password-env`, read from the environment;
    /// `whose` names the account in the message of an unset variable (`MQTT user`).
    pub(crate) fn credentials_of(
        &self,
        whose: &str,
    ) -> Result<Option<MqttCredentials>, TargetError> {
        match (&self.user, &self.password_env) {
            (None, None) => Ok(None),
            (Some(_), None) => Err(TargetError::Invalid(
                "--user needs --password-env VAR: the environment variable that holds the password (a password is never given on the command line)".into(),
            )),
            (None, Some(_)) => Err(TargetError::Invalid(
                "--password-env needs --user NAME: the user name to log in with".into(),
            )),
            (Some(user), Some(var)) => {
                if user.is_empty() {
                    return Err(TargetError::Invalid("--user: the user name is empty".into()));
                }
                let password = std::env::var(var).map_err(|_| {
                    TargetError::Invalid(format!(
                        "--password-env {var}: environment variable {var} is not set (it should hold the password of {whose} `{user}`)"
                    ))
                })?;
                Ok(Some(MqttCredentials {
                    username: user.clone(),
                    password: Secret::new(password),
                }))
            }
        }
    }

    fn refuse_url_only_flags(&self, target: &str) -> Result<(), TargetError> {
        if self.user.is_some() || self.password_env.is_some() {
            return Err(TargetError::Invalid(format!(
                "--user and --password-env apply to mqtt://, mqtts:// and MQTT ws:// URL targets, not to {target}"
            )));
        }
        Ok(())
    }
}

/// Environment variable with `user:password,user:password` for XMPP URL targets.
pub const ACCOUNTS_ENV: &str = "WIRECHECK_XMPP_ACCOUNTS";

impl Target {
    /// Resolves `--target` (None = the built-in reference target).
    pub async fn resolve(spec: Option<&str>, opts: &TargetOptions) -> Result<Target, TargetError> {
        let mut target = Self::resolve_spec(spec, opts).await?;
        target.learn_transport();
        Ok(target)
    }

    /// Records what the MQTT endpoint's URL says: whether MQTT runs over WebSocket (a profile's
    /// own `capabilities:` still wins).
    fn learn_transport(&mut self) {
        if let Some(m) = &self.mqtt {
            let learned = crate::capability::Learned {
                capabilities: [(
                    crate::capability::Capability::Websocket,
                    m.endpoint.kind.is_websocket(),
                )]
                .into(),
                from: "the target URL",
            };
            self.capabilities.learn(&learned);
        }
    }

    async fn resolve_spec(spec: Option<&str>, opts: &TargetOptions) -> Result<Target, TargetError> {
        let spec = spec.unwrap_or("builtin");
        if profile::is_builtin(spec) {
            opts.refuse_url_only_flags("the built-in target")?;
            if opts.protocol.is_some() {
                return Err(TargetError::Invalid(
                    "--protocol applies to ws:// and wss:// URL targets; the built-in target speaks both (select cases by path, e.g. cases/mqtt)".into(),
                ));
            }
            if opts.domain.is_some() {
                return Err(TargetError::Invalid(
                    "--domain applies to XMPP URL targets; the built-in target has its own domain"
                        .into(),
                ));
            }
            return Self::builtin(opts, profile::is_builtin_ws(spec)).await;
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
            capabilities: Default::default(),
            builtin: None,
            snapshot_redact: Vec::new(),
        };
        match protocol {
            Protocol::Mqtt => {
                if opts.domain.is_some() {
                    return Err(TargetError::Invalid(format!(
                        "--domain is for XMPP targets; {spec} is an MQTT target"
                    )));
                }
                target.mqtt = Some(MqttTarget {
                    endpoint,
                    credentials: opts.credentials()?,
                });
            }
            Protocol::Xmpp => {
                if !endpoint.kind.is_websocket() {
                    return Err(TargetError::Invalid(format!(
                        "{spec}: XMPP targets are ws:// or wss:// URLs"
                    )));
                }
                opts.refuse_url_only_flags(
                    "an XMPP target (its accounts come from WIRECHECK_XMPP_ACCOUNTS)",
                )?;
                let domain = opts.domain.clone().unwrap_or_else(|| endpoint.host.clone());
                let accounts = accounts_from_env()?;
                target.xmpp = Some(XmppTarget {
                    endpoint,
                    domain,
                    pool: AccountPool::new(accounts),
                    register: None,
                });
            }
        }
        Ok(target)
    }

    /// The built-in target; `mqtt_over_ws` makes its MQTT endpoint the WebSocket one.
    async fn builtin(opts: &TargetOptions, mqtt_over_ws: bool) -> Result<Target, TargetError> {
        let reference = crate::reference::Reference::start(&opts.faults)
            .await
            .map_err(|e| TargetError::Builtin(e.to_string()))?;
        let base = if mqtt_over_ws {
            "reference-ws"
        } else {
            "reference"
        };
        let name = if opts.faults.is_empty() {
            base.to_string()
        } else {
            format!("{base}+{}", opts.faults.join("+"))
        };
        Ok(Target {
            name,
            mqtt: Some(MqttTarget {
                endpoint: if mqtt_over_ws {
                    reference.mqtt_ws_endpoint()
                } else {
                    reference.mqtt_endpoint()
                },
                credentials: None,
            }),
            xmpp: Some(XmppTarget {
                endpoint: reference.xmpp_endpoint(),
                domain: reference.domain().to_string(),
                pool: AccountPool::new(reference.accounts()),
                register: None,
            }),
            deviations: Vec::new(),
            capabilities: Default::default(),
            builtin: Some(reference),
            snapshot_redact: Vec::new(),
        })
    }

    async fn from_profile(path: &Path, opts: &TargetOptions) -> Result<Target, TargetError> {
        let profile = profile::load_profile(path)?;
        let doc = &profile.doc;
        crate::snapshot::redact::validate(&doc.snapshot_redact)
            .map_err(|e| TargetError::Invalid(format!("{}: {e}", path.display())))?;
        let name = &doc.name.value;
        opts.refuse_url_only_flags(&format!(
            "a profile ({}): write `username` and `password_env` in it",
            path.display()
        ))?;
        if opts.protocol.is_some() {
            return Err(TargetError::Invalid(format!(
                "--protocol applies to ws:// and wss:// URL targets; profile {} names its `protocol`",
                path.display()
            )));
        }
        let from_env = match &doc.url_env {
            Some(var) => std::env::var(&var.value)
                .ok()
                .filter(|v| !v.is_empty())
                .map(|v| (var, v)),
            None => None,
        };
        let url = from_env
            .as_ref()
            .map_or(doc.url.value.clone(), |(_, v)| v.clone());
        if profile::is_builtin(&url) {
            if opts.domain.is_some() {
                return Err(TargetError::Invalid(format!(
                    "--domain applies to XMPP URL targets; profile `{name}` is the built-in target"
                )));
            }
            let mut t = Self::builtin(opts, profile::is_builtin_ws(&url)).await?;
            t.name = name.clone();
            t.deviations = profile.deviations();
            t.capabilities = profile.capabilities()?;
            t.snapshot_redact = doc.snapshot_redact.clone();
            return Ok(t);
        }
        if !opts.faults.is_empty() {
            return Err(TargetError::Invalid(
                "--fault applies to the built-in target only".into(),
            ));
        }
        let endpoint = match &from_env {
            Some((var, value)) => Endpoint::parse(value).map_err(|e| {
                profile.err(
                    var,
                    format!(
                        "profile `{name}`: field `url_env`: environment variable {} holds a bad URL: {e}",
                        var.value
                    ),
                )
            })?,
            None => Endpoint::parse(&url).map_err(|e| {
                profile.err(&doc.url, format!("profile `{name}`: field `url`: {e}"))
            })?,
        };
        let url_field = from_env.as_ref().map_or(&doc.url, |(var, _)| *var);
        let mut target = Target {
            name: name.clone(),
            mqtt: None,
            xmpp: None,
            deviations: profile.deviations(),
            capabilities: profile.capabilities()?,
            builtin: None,
            snapshot_redact: doc.snapshot_redact.clone(),
        };
        let protocol = profile.protocol().ok_or_else(|| {
            TargetError::Invalid(format!(
                "{}: field `protocol` (mqtt or xmpp) is required unless url is builtin:",
                path.display()
            ))
        })?;
        match protocol {
            Protocol::Mqtt => {
                if opts.domain.is_some() {
                    return Err(TargetError::Invalid(format!(
                        "--domain is for XMPP targets; profile `{name}` is an MQTT target"
                    )));
                }
                let credentials = match (&doc.username, &doc.password_env) {
                    (Some(user), Some(var)) => {
                        let password = std::env::var(&var.value).map_err(|_| {
                            profile.err(
                                var,
                                format!(
                                    "profile `{name}`: field `password_env`: environment variable {} is not set (it should hold the password of MQTT user `{}`)",
                                    var.value, user.value
                                ),
                            )
                        })?;
                        Some(MqttCredentials {
                            username: user.value.clone(),
                            password: Secret::new(password),
                        })
                    }
                    _ => None,
                };
                target.mqtt = Some(MqttTarget {
                    endpoint,
                    credentials,
                });
            }
            Protocol::Xmpp => {
                if !endpoint.kind.is_websocket() {
                    return Err(profile
                        .err(
                            url_field,
                            format!(
                                "profile `{name}`: XMPP targets are ws:// or wss:// URLs, not {endpoint}"
                            ),
                        )
                        .into());
                }
                let domain = doc
                    .domain
                    .clone()
                    .or_else(|| opts.domain.clone())
                    .unwrap_or_else(|| endpoint.host.clone());
                let mut accounts = Vec::new();
                for a in &doc.accounts {
                    let password = std::env::var(&a.value.password_env).map_err(|_| {
                        profile.err(
                            a,
                            format!(
                                "profile `{name}`: account `{}` needs its password in environment variable {}, which is not set",
                                a.value.user, a.value.password_env
                            ),
                        )
                    })?;
                    accounts.push(Account {
                        user: a.value.user.clone(),
                        password: Secret::new(password),
                    });
                }
                let register = doc.register_accounts.as_ref().map(|r| RegisterSource {
                    prefix: r.value.prefix.clone(),
                    count: r.value.count,
                });
                if let Some(r) = &register {
                    // slots, not accounts: each case registers its own (src/xmpp/register.rs)
                    accounts = (1..=r.count)
                        .map(|i| Account {
                            user: format!("{}{i}", r.prefix),
                            password: Secret::new(""),
                        })
                        .collect();
                } else if accounts.is_empty() {
                    accounts = accounts_from_env()?;
                }
                target.xmpp = Some(XmppTarget {
                    endpoint,
                    domain,
                    pool: AccountPool::new(accounts),
                    register,
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
            // Globs are checked when the profile is loaded; one that fails here matches nothing.
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

/// The accounts of [`ACCOUNTS_ENV`] (none when it is unset).
pub(crate) fn accounts_from_env() -> Result<Vec<Account>, TargetError> {
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
