//! Target profiles (YAML in targets/): protocol, URL, domain, accounts, known deviations.

use std::path::Path;

use serde::Deserialize;

use crate::case::{LoadError, Protocol};

/// A profile file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileDoc {
    /// Short name (used in reports and snapshot folders).
    pub name: String,
    /// The protocol the target speaks (not needed for `builtin:`, which speaks both).
    #[serde(default)]
    pub protocol: Option<Protocol>,
    /// MQTT version the target is tested with.
    #[serde(default)]
    pub version: Option<String>,
    /// Target URL, or `builtin:` for the reference target.
    pub url: String,
    /// Environment variable that, when set, overrides `url`.
    #[serde(default)]
    pub url_env: Option<String>,
    /// XMPP domain.
    #[serde(default)]
    pub domain: Option<String>,
    /// XMPP account pool.
    #[serde(default)]
    pub accounts: Vec<AccountDoc>,
    /// Known deviations: failures of these are xfail.
    #[serde(default)]
    pub deviations: Vec<DeviationDoc>,
    /// Free-form capabilities (reserved for capability-based skips).
    #[serde(default)]
    pub capabilities: Vec<String>,
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
}

/// Reads a profile file; errors point into it.
pub fn load_profile(path: &Path) -> Result<ProfileDoc, LoadError> {
    let source = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let options = serde_saphyr::options! { strict_booleans: true, with_snippet: false };
    serde_saphyr::from_str_with_options::<ProfileDoc>(&source, options)
        .map_err(|e| LoadError::from_yaml(path, &source, &e))
}
