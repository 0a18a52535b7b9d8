//! Topic names and topic filters: validation (section 4.7; 5.0 adds shared subscriptions, 4.8.2) and subscription matching.

use super::Version;
use super::rules::Rule;
use crate::violation::Violation;

/// Why a topic name or filter is not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// Zero length.
    #[error("is empty; topic names and filters must be at least one character long")]
    Empty,
    /// Contains U+0000.
    #[error("contains the null character U+0000")]
    Null,
    /// More than 65535 bytes.
    #[error("is longer than 65535 bytes")]
    TooLong,
    /// A topic name with `+` or `#`.
    #[error("contains a wildcard character, which a topic name must not")]
    WildcardInName,
    /// `#` not alone in the last level.
    #[error("uses `#` other than as the whole last level")]
    MultiLevelMisplaced,
    /// `+` sharing a level with other characters.
    #[error("uses `+` without it occupying a whole level")]
    SingleLevelMisplaced,
    /// A 5.0 shared subscription (`$share/...`) with an empty share name.
    #[error("is a shared subscription with an empty share name")]
    ShareNameEmpty,
    /// A 5.0 shared subscription whose share name holds `+` or `#`, or has no topic filter after it.
    #[error(
        "is a shared subscription whose share name has `+` or `#`, or no `/` and topic filter after it"
    )]
    ShareNameMalformed,
}

impl TopicError {
    /// The rule the error breaks; its statement id depends on the version ([`Rule::id`]).
    pub fn rule(self) -> Rule {
        match self {
            Self::Empty => Rule::TopicNotEmpty,
            Self::Null => Rule::TopicNoNull,
            Self::TooLong => Rule::TopicMaxLength,
            Self::WildcardInName => Rule::TopicNameNoWildcard,
            Self::MultiLevelMisplaced => Rule::MultiLevelWildcardLast,
            Self::SingleLevelMisplaced => Rule::SingleLevelWildcardWholeLevel,
            Self::ShareNameEmpty => Rule::ShareNameNotEmpty,
            Self::ShareNameMalformed => Rule::ShareNameForm,
        }
    }
}

fn check_common(s: &str) -> Result<(), TopicError> {
    if s.is_empty() {
        Err(TopicError::Empty)
    } else if s.contains('\0') {
        Err(TopicError::Null)
    } else if s.len() > 65_535 {
        Err(TopicError::TooLong)
    } else {
        Ok(())
    }
}

/// Checks a topic name (as in PUBLISH): non-empty, no U+0000, no wildcards (the same in 3.1.1 and 5.0).
pub fn validate_name(name: &str) -> Result<(), TopicError> {
    check_common(name)?;
    if name.contains(['+', '#']) {
        return Err(TopicError::WildcardInName);
    }
    Ok(())
}

/// Checks a topic filter of `version` (as in SUBSCRIBE): non-empty, no U+0000, `#` and `+` only as
/// whole levels, `#` last; in 5.0 also the form of a shared subscription, `$share/{ShareName}/{filter}`
/// (in 3.1.1 such a filter is an ordinary one).
pub fn validate_filter(filter: &str, version: Version) -> Result<(), TopicError> {
    check_common(filter)?;
    let filter = match (version, filter.strip_prefix("$share/")) {
        (Version::V5, Some(shared)) => {
            let (share_name, rest) = shared.split_once('/').unwrap_or((shared, ""));
            if share_name.is_empty() {
                return Err(TopicError::ShareNameEmpty);
            }
            if share_name.contains(['+', '#']) || rest.is_empty() {
                return Err(TopicError::ShareNameMalformed);
            }
            rest
        }
        _ => filter,
    };
    let levels: Vec<&str> = filter.split('/').collect();
    let last = levels.len().saturating_sub(1);
    for (i, level) in levels.iter().enumerate() {
        if level.contains('#') && (*level != "#" || i != last) {
            return Err(TopicError::MultiLevelMisplaced);
        }
        if level.contains('+') && *level != "+" {
            return Err(TopicError::SingleLevelMisplaced);
        }
    }
    Ok(())
}

/// Whether a (valid) filter matches a topic name; wildcards at the first level never match `$` topics (MQTT-4.7.2-1).
pub fn matches(filter: &str, name: &str) -> bool {
    if name.starts_with('$') && filter.starts_with(['+', '#']) {
        return false;
    }
    let mut f = filter.split('/');
    let mut n = name.split('/');
    loop {
        match (f.next(), n.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Reports a topic name's breaches found by the decoder of `version`; `wildcard` is the rule
/// wildcards in this field break. U+0000 is left out here: the string check reports it
/// ([`Rule::Utf8NoNull`]).
pub(crate) fn check_name(
    name: &str,
    field: &str,
    wildcard: Rule,
    version: Version,
    v: &mut Vec<Violation>,
) {
    match validate_name(name) {
        Err(TopicError::Empty) => v.extend(Rule::TopicNotEmpty.violation(
            version,
            format!("{field} is empty; topic names must be at least one character long"),
        )),
        Err(TopicError::WildcardInName) => v.extend(wildcard.violation(
            version,
            format!("{field} `{name}` contains a wildcard character"),
        )),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_validation() {
        for ok in [
            "#",
            "+",
            "a/#",
            "+/+",
            "/+",
            "a/+/b",
            "sport/tennis/#",
            "$SYS/#",
            "/",
        ] {
            assert_eq!(validate_filter(ok, Version::V311), Ok(()), "{ok}");
            assert_eq!(validate_filter(ok, Version::V5), Ok(()), "{ok}");
        }
        for (bad, err) in [
            ("", TopicError::Empty),
            ("a/#/b", TopicError::MultiLevelMisplaced),
            ("a#", TopicError::MultiLevelMisplaced),
            ("a/b#", TopicError::MultiLevelMisplaced),
            ("a+", TopicError::SingleLevelMisplaced),
            ("a/+b", TopicError::SingleLevelMisplaced),
            ("a\0", TopicError::Null),
        ] {
            assert_eq!(validate_filter(bad, Version::V311), Err(err), "{bad}");
            assert_eq!(validate_filter(bad, Version::V5), Err(err), "{bad}");
        }
        assert_eq!(
            TopicError::MultiLevelMisplaced.rule(),
            Rule::MultiLevelWildcardLast
        );
    }

    #[test]
    fn shared_subscriptions_are_checked_in_50_only() {
        for ok in ["$share/g/a/#", "$share/g/+", "$share/g//"] {
            assert_eq!(validate_filter(ok, Version::V5), Ok(()), "{ok}");
        }
        for (bad, err) in [
            ("$share//a", TopicError::ShareNameEmpty),
            ("$share/", TopicError::ShareNameEmpty),
            ("$share/g", TopicError::ShareNameMalformed),
            ("$share/g/", TopicError::ShareNameMalformed),
            ("$share/g+/a", TopicError::ShareNameMalformed),
            ("$share/#", TopicError::ShareNameMalformed),
            ("$share/g/a/#/b", TopicError::MultiLevelMisplaced),
        ] {
            assert_eq!(validate_filter(bad, Version::V5), Err(err), "{bad}");
        }
        // In 3.1.1 `$share` is an ordinary first level.
        assert_eq!(validate_filter("$share//a", Version::V311), Ok(()));
        assert_eq!(validate_filter("$share/g", Version::V311), Ok(()));
        assert_eq!(TopicError::ShareNameEmpty.rule().id(Version::V311), None);
    }

    #[test]
    fn name_validation() {
        assert_eq!(validate_name("a/b"), Ok(()));
        assert_eq!(validate_name("a/+"), Err(TopicError::WildcardInName));
        assert_eq!(validate_name(""), Err(TopicError::Empty));
    }

    #[test]
    fn matching() {
        assert!(matches("sport/tennis/player1/#", "sport/tennis/player1"));
        assert!(matches(
            "sport/tennis/player1/#",
            "sport/tennis/player1/ranking"
        ));
        assert!(matches("sport/#", "sport"));
        assert!(matches("#", "a/b/c"));
        assert!(matches("sport/tennis/+", "sport/tennis/player1"));
        assert!(!matches("sport/tennis/+", "sport/tennis/player1/ranking"));
        assert!(!matches("sport/+", "sport"));
        assert!(matches("sport/+", "sport/"));
        assert!(matches("+/+", "/finance"));
        assert!(matches("/+", "/finance"));
        assert!(!matches("+", "/finance"));
        assert!(matches("a/b", "a/b"));
        assert!(!matches("a/b", "a/c"));
        assert!(!matches("A/b", "a/b"));
        // MQTT-4.7.2-1: `$` topics are not matched by a leading wildcard.
        assert!(!matches("#", "$SYS/x"));
        assert!(!matches("+/monitor/Clients", "$SYS/monitor/Clients"));
        assert!(matches("$SYS/#", "$SYS/monitor/Clients"));
        assert!(matches("$SYS/monitor/+", "$SYS/monitor/Clients"));
    }
}
