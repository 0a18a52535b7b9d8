//! Target profiles (YAML in targets/): protocol, URL, domain, accounts, MQTT credentials, known
//! deviations. Loading validates them; every error points into the profile (file:line:col).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use globset::Glob;
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::case::{LoadError, Protocol};
use crate::spec::SpecSet;

/// Largest profile file accepted.
pub const MAX_PROFILE_BYTES: u64 = 1024 * 1024;

/// MQTT versions a profile may name.
const VERSIONS: &[&str] = &["3.1.1", "5.0"];

/// A profile file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileDoc {
    /// Short name (used in reports and snapshot folders).
    pub name: Spanned<String>,
    /// The protocol the target speaks (not needed for `builtin:`, which speaks both).
    #[serde(default)]
    pub protocol: Option<Spanned<Protocol>>,
    /// The newest MQTT version the target speaks ("3.1.1" or "5.0"); "3.1.1" skips 5.0 cases.
    #[serde(default)]
    pub version: Option<Spanned<String>>,
    /// Target URL, or `builtin:` for the reference target.
    pub url: Spanned<String>,
    /// Environment variable that, when set, overrides `url`.
    #[serde(default)]
    pub url_env: Option<Spanned<String>>,
    /// XMPP domain.
    #[serde(default)]
    pub domain: Option<String>,
    /// XMPP account pool.
    #[serde(default)]
    pub accounts: Vec<Spanned<AccountDoc>>,
    /// XMPP: accounts made by in-band registration (XEP-0077) for each case, instead of `accounts`.
    #[serde(default)]
    pub register_accounts: Option<Spanned<RegisterAccountsDoc>>,
    /// MQTT user name every connection logs in with (with `password_env`).
    #[serde(default)]
    pub username: Option<Spanned<String>>,
    /// Environment variable holding the MQTT password of `username`.
    #[serde(default)]
    pub password_env: Option<Spanned<String>>,
    /// Known deviations: failures of these are xfail.
    #[serde(default)]
    pub deviations: Vec<Spanned<DeviationDoc>>,
    /// What the target has: capability name → available (absent: assumed available unless
    /// learned otherwise); cases that require a capability marked false are skipped.
    #[serde(default)]
    pub capabilities: Option<Spanned<HashMap<Spanned<String>, Spanned<bool>>>>,
    /// Extra snapshot redactions for every case on this target: `[{ regex: "...", as: "<x>" }]`.
    #[serde(default)]
    pub snapshot_redact: Vec<crate::snapshot::RedactDoc>,
}

/// One account of the pool; the password comes from the environment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountDoc {
    /// User name (local part).
    pub user: String,
    /// Environment variable holding the password.
    pub password_env: String,
}

/// `register_accounts`: each case registers fresh accounts named `<prefix><n>x<random>`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterAccountsDoc {
    /// Start of the user names: 1 to 16 lower-case letters and digits.
    pub prefix: String,
    /// Most accounts registered at once (1 to 1024).
    pub count: usize,
}

/// A declared deviation.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeviationDoc {
    /// Case id glob.
    #[serde(default)]
    pub case: Option<String>,
    /// Statement id.
    #[serde(default)]
    pub spec: Option<String>,
    /// Why the target deviates.
    pub reason: String,
    /// The deviation shows only on some runs (a race inside the server): a pass is a pass, not
    /// an xpass, and it says the deviation was not seen this time.
    #[serde(default)]
    pub intermittent: bool,
}

/// A loaded, validated profile, with its text so later errors (environment variables) can
/// point into it too.
#[derive(Debug, Clone)]
pub struct Profile {
    /// The file.
    pub path: PathBuf,
    /// Its text.
    pub source: String,
    /// What it says.
    pub doc: ProfileDoc,
}

impl Profile {
    /// An error at the place of `span` in the profile.
    pub fn err<T>(&self, span: &Spanned<T>, message: impl Into<String>) -> LoadError {
        LoadError::at(
            &self.path,
            &self.source,
            span.referenced.line(),
            span.referenced.column(),
            message,
        )
    }

    /// The deviations as plain values.
    pub fn deviations(&self) -> Vec<DeviationDoc> {
        self.doc
            .deviations
            .iter()
            .map(|d| d.value.clone())
            .collect()
    }

    /// The declared capabilities; an unknown name is an error at its place.
    pub fn capabilities(&self) -> Result<crate::capability::Known, LoadError> {
        use crate::capability::{Capability, Known};
        let mut known = Known::default();
        let Some(caps) = &self.doc.capabilities else {
            if let Some(v) = &self.doc.version {
                known.declare(Capability::Mqtt5, v.value == "5.0");
            }
            return Ok(known);
        };
        let mut entries: Vec<_> = caps.value.iter().collect();
        entries.sort_by_key(|(k, _)| (k.referenced.line(), k.referenced.column()));
        for (name, available) in entries {
            let c = Capability::parse(&name.value).ok_or_else(|| {
                self.err(
                    name,
                    format!("field `capabilities`: {}", Capability::unknown(&name.value)),
                )
            })?;
            known.declare(c, available.value);
        }
        // `version`: the newest MQTT version the target speaks; "3.1.1" means 5.0 cases skip,
        // unless `capabilities: { mqtt5: ... }` says otherwise.
        if let Some(v) = &self.doc.version
            && !caps.value.keys().any(|k| k.value == "mqtt5")
        {
            known.declare(Capability::Mqtt5, v.value == "5.0");
        }
        Ok(known)
    }

    /// The protocol, if the profile names one.
    pub fn protocol(&self) -> Option<Protocol> {
        self.doc.protocol.as_ref().map(|p| p.value)
    }
}

/// Reads and validates a profile file; errors point into it.
pub fn load_profile(path: &Path) -> Result<Profile, LoadError> {
    let source = crate::case::read_source(path, MAX_PROFILE_BYTES, "profile")?;
    let doc: ProfileDoc = crate::case::parse_yaml(path, &source, "profile")?;
    let profile = Profile {
        path: path.to_path_buf(),
        source,
        doc,
    };
    validate(&profile)?;
    Ok(profile)
}

fn validate(p: &Profile) -> Result<(), LoadError> {
    let doc = &p.doc;
    if doc.name.value.trim().is_empty() {
        return Err(p.err(&doc.name, "field `name`: give the target a short name"));
    }
    let protocol = p.protocol();
    let builtin = is_builtin(&doc.url.value);
    if protocol.is_none() && !builtin {
        return Err(p.err(
            &doc.url,
            "field `protocol` (mqtt or xmpp) is required unless url is builtin:",
        ));
    }
    if let Some(v) = &doc.version {
        if protocol == Some(Protocol::Xmpp) {
            return Err(p.err(v, "field `version` is for MQTT targets only"));
        }
        if !VERSIONS.contains(&v.value.as_str()) {
            return Err(p.err(
                v,
                format!(
                    "field `version`: `{}` is not supported; expected \"3.1.1\" or \"5.0\"",
                    v.value
                ),
            ));
        }
    }
    if !builtin {
        crate::transport::Endpoint::parse(&doc.url.value).map_err(|e| {
            let err = p.err(
                &doc.url,
                format!("profile `{}`: field `url`: {e}", doc.name.value),
            );
            // The line holds the password: do not quote it back.
            if matches!(e, crate::transport::EndpointError::Credentials(_)) {
                err.without_snippet()
            } else {
                err
            }
        })?;
    }
    p.capabilities()?;
    if protocol == Some(Protocol::Mqtt)
        && let Some(a) = doc.accounts.first()
    {
        return Err(p.err(
            a,
            "field `accounts` is for XMPP targets; an MQTT target logs in with `username` and `password_env`",
        ));
    }
    if let Some(r) = &doc.register_accounts {
        let prefix_ok = (1..=16).contains(&r.value.prefix.len())
            && r.value
                .prefix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if protocol != Some(Protocol::Xmpp) || builtin {
            return Err(p.err(
                r,
                "field `register_accounts` is for XMPP targets reached by URL (the built-in target makes its own accounts)",
            ));
        } else if let Some(a) = doc.accounts.first() {
            return Err(p.err(a, "give either `accounts` or `register_accounts`, not both"));
        } else if !prefix_ok {
            return Err(p.err(
                r,
                "field `register_accounts.prefix`: 1 to 16 lower-case letters and digits",
            ));
        } else if !(1..=1024).contains(&r.value.count) {
            return Err(p.err(r, "field `register_accounts.count`: 1 to 1024"));
        }
    }
    match (&doc.username, &doc.password_env) {
        (Some(u), _) | (_, Some(u)) if protocol == Some(Protocol::Xmpp) || builtin => {
            return Err(p.err(
                u,
                "fields `username` and `password_env` are for MQTT targets (XMPP targets list `accounts`)",
            ));
        }
        (Some(u), None) => {
            return Err(p.err(
                u,
                "field `username` needs `password_env`: the environment variable that holds the password",
            ));
        }
        (None, Some(e)) => {
            return Err(p.err(
                e,
                "field `password_env` needs `username`: the user name to log in with",
            ));
        }
        (Some(u), Some(_)) if u.value.is_empty() => {
            return Err(p.err(u, "field `username`: must not be empty"));
        }
        _ => {}
    }
    for d in &doc.deviations {
        let dev = &d.value;
        if dev.case.is_none() && dev.spec.is_none() {
            return Err(p.err(
                d,
                "deviation: give `case` (a case id glob), `spec` (a statement id) or both; with neither it covers nothing",
            ));
        }
        if let Some(g) = &dev.case {
            Glob::new(g).map_err(|e| {
                p.err(
                    d,
                    format!(
                        "deviation: field `case`: `{g}` is not a valid glob: {}",
                        glob_words(&e)
                    ),
                )
            })?;
        }
        if let Some(s) = &dev.spec {
            let sets: &[SpecSet] = match protocol {
                Some(Protocol::Mqtt) => &[SpecSet::Mqtt311, SpecSet::Mqtt50],
                Some(Protocol::Xmpp) => &[SpecSet::Xmpp],
                None => &[SpecSet::Mqtt311, SpecSet::Mqtt50, SpecSet::Xmpp],
            };
            if !sets.iter().any(|set| set.contains(s)) {
                let names: Vec<&str> = sets.iter().map(|s| s.name()).collect();
                return Err(p.err(
                    d,
                    format!(
                        "deviation: field `spec`: `{s}` is not a {} statement id",
                        names.join(" or ")
                    ),
                ));
            }
        }
        if dev.reason.trim().is_empty() {
            return Err(p.err(d, "deviation: field `reason`: say why the target deviates"));
        }
    }
    Ok(())
}

/// globset's error kind in words (its Display repeats the glob).
fn glob_words(e: &globset::Error) -> String {
    e.kind().to_string()
}

/// Whether a profile URL means the built-in target.
pub fn is_builtin(url: &str) -> bool {
    url == "builtin:" || url == "builtin" || is_builtin_ws(url)
}

/// Whether `url` names the built-in target with MQTT over WebSocket (`builtin:ws`).
pub fn is_builtin_ws(url: &str) -> bool {
    url == "builtin:ws"
}
