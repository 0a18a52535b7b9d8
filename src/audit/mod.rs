//! `wirecheck audit`: finding the endpoint behind a URL or an XMPP domain, the facts about it
//! beyond the cases (TLS, WebSocket answer), and the verdict per area of a finished audit.

pub mod areas;
pub mod discover;
pub mod summary;
pub mod tls;

/// Why an audit could not start.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The target text is neither a URL wirecheck speaks nor a domain.
    #[error("{0}")]
    BadTarget(String),
    /// The endpoint could not be reached or found.
    #[error("{0}")]
    Unreachable(String),
}
