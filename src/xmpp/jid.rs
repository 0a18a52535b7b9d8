//! Minimal JIDs (RFC 7622): `localpart@domainpart/resourcepart`, without stringprep/PRECIS.

use std::fmt;
use std::str::FromStr;

/// Longest part RFC 7622 allows, in bytes.
pub const MAX_PART: usize = 1023;

/// An XMPP address split into its parts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Jid {
    /// The localpart (user), if any.
    pub local: Option<String>,
    /// The domainpart.
    pub domain: String,
    /// The resourcepart, if any (a full JID).
    pub resource: Option<String>,
}

/// Why a string is not a JID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JidError {
    /// The domainpart is empty.
    #[error("empty domainpart")]
    EmptyDomain,
    /// `@` with nothing before it.
    #[error("empty localpart")]
    EmptyLocal,
    /// `/` with nothing after it.
    #[error("empty resourcepart")]
    EmptyResource,
    /// A part is longer than 1023 bytes.
    #[error("a part is longer than {MAX_PART} bytes")]
    TooLong,
    /// A character RFC 7622 forbids in that part (space, control, or one of `"&'/:<>@` in a localpart).
    #[error("forbidden character {0:?}")]
    Forbidden(char),
}

impl Jid {
    /// Parses `local@domain/resource` (localpart and resourcepart optional).
    pub fn parse(s: &str) -> Result<Jid, JidError> {
        let (head, resource) = match s.split_once('/') {
            Some((h, r)) => (h, Some(r)),
            None => (s, None),
        };
        let (local, domain) = match head.split_once('@') {
            Some((l, d)) => (Some(l), d),
            None => (None, head),
        };
        if domain.is_empty() {
            return Err(JidError::EmptyDomain);
        }
        if local == Some("") {
            return Err(JidError::EmptyLocal);
        }
        if resource == Some("") {
            return Err(JidError::EmptyResource);
        }
        for part in [local, Some(domain), resource].into_iter().flatten() {
            if part.len() > MAX_PART {
                return Err(JidError::TooLong);
            }
            if let Some(c) = part.chars().find(|c| c.is_control()) {
                return Err(JidError::Forbidden(c));
            }
        }
        if let Some(c) = local
            .unwrap_or_default()
            .chars()
            .chain(domain.chars())
            .find(|c| {
                c.is_whitespace() || matches!(c, '"' | '&' | '\'' | '/' | ':' | '<' | '>' | '@')
            })
        {
            return Err(JidError::Forbidden(c));
        }
        Ok(Jid {
            local: local.map(str::to_string),
            domain: domain.to_ascii_lowercase(),
            resource: resource.map(str::to_string),
        })
    }

    /// The JID without its resource.
    pub fn bare(&self) -> Jid {
        Jid {
            resource: None,
            ..self.clone()
        }
    }

    /// True if the JID has a resourcepart.
    pub fn is_full(&self) -> bool {
        self.resource.is_some()
    }

    /// The bare JID as a string (`local@domain` or `domain`).
    pub fn bare_string(&self) -> String {
        self.bare().to_string()
    }

    /// A JID built from parts, not validated.
    pub fn new(local: Option<&str>, domain: &str, resource: Option<&str>) -> Jid {
        Jid {
            local: local.map(str::to_string),
            domain: domain.to_string(),
            resource: resource.map(str::to_string),
        }
    }
}

impl fmt::Display for Jid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(l) = &self.local {
            write!(f, "{l}@")?;
        }
        f.write_str(&self.domain)?;
        if let Some(r) = &self.resource {
            write!(f, "/{r}")?;
        }
        Ok(())
    }
}

impl FromStr for Jid {
    type Err = JidError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Jid::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats() {
        let j = Jid::parse("alice@localhost/a1").unwrap();
        assert_eq!(j.local.as_deref(), Some("alice"));
        assert_eq!(j.domain, "localhost");
        assert_eq!(j.resource.as_deref(), Some("a1"));
        assert!(j.is_full());
        assert_eq!(j.bare().to_string(), "alice@localhost");
        assert_eq!(j.to_string(), "alice@localhost/a1");
        let r = Jid::parse("localhost/with/slash@and").unwrap();
        assert_eq!(r.local, None);
        assert_eq!(r.resource.as_deref(), Some("with/slash@and"));
        assert_eq!(Jid::parse("Example.COM").unwrap().domain, "example.com");
    }

    #[test]
    fn rejects_bad_jids() {
        assert_eq!(Jid::parse(""), Err(JidError::EmptyDomain));
        assert_eq!(Jid::parse("@x"), Err(JidError::EmptyLocal));
        assert_eq!(Jid::parse("a@x/"), Err(JidError::EmptyResource));
        assert_eq!(Jid::parse("a b@x"), Err(JidError::Forbidden(' ')));
        assert!(Jid::parse(&format!("{}@x", "a".repeat(1024))).is_err());
        assert_eq!("a@x".parse::<Jid>().unwrap().bare_string(), "a@x");
    }
}
