//! Topic names and topic filters: validation (3.1.1 section 4.7) and subscription matching.

use crate::violation::Violation;

/// Why a topic name or filter is not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// Zero length (MQTT-4.7.3-1).
    #[error("is empty; topic names and filters must be at least one character long")]
    Empty,
    /// Contains U+0000 (MQTT-4.7.3-2).
    #[error("contains the null character U+0000")]
    Null,
    /// More than 65535 bytes (MQTT-4.7.3-3).
    #[error("is longer than 65535 bytes")]
    TooLong,
    /// A topic name with `+` or `#` (MQTT-4.7.1-1).
    #[error("contains a wildcard character, which a topic name must not")]
    WildcardInName,
    /// `#` not alone in the last level (MQTT-4.7.1-2).
    #[error("uses `#` other than as the whole last level")]
    MultiLevelMisplaced,
    /// `+` sharing a level with other characters (MQTT-4.7.1-3).
    #[error("uses `+` without it occupying a whole level")]
    SingleLevelMisplaced,
}

impl TopicError {
    /// The 3.1.1 statement the error breaks.
    pub fn spec(self) -> &'static str {
        match self {
            Self::Empty => "MQTT-4.7.3-1",
            Self::Null => "MQTT-4.7.3-2",
            Self::TooLong => "MQTT-4.7.3-3",
            Self::WildcardInName => "MQTT-4.7.1-1",
            Self::MultiLevelMisplaced => "MQTT-4.7.1-2",
            Self::SingleLevelMisplaced => "MQTT-4.7.1-3",
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

/// Checks a topic name (as in PUBLISH): non-empty, no U+0000, no wildcards.
pub fn validate_name(name: &str) -> Result<(), TopicError> {
    check_common(name)?;
    if name.contains(['+', '#']) {
        return Err(TopicError::WildcardInName);
    }
    Ok(())
}

/// Checks a topic filter (as in SUBSCRIBE): non-empty, no U+0000, `#` and `+` only as whole levels, `#` last.
pub fn validate_filter(filter: &str) -> Result<(), TopicError> {
    check_common(filter)?;
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

/// Reports a topic name's breaches found by the decoder; `wildcard_spec` is the id for wildcards in this field.
/// U+0000 is left out here: the string check reports it as MQTT-1.5.3-2.
pub(crate) fn check_name(name: &str, field: &str, wildcard_spec: &str, v: &mut Vec<Violation>) {
    match validate_name(name) {
        Err(TopicError::Empty) => v.push(Violation::new(
            "MQTT-4.7.3-1",
            format!("{field} is empty; topic names must be at least one character long"),
        )),
        Err(TopicError::WildcardInName) => v.push(Violation::new(
            wildcard_spec,
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
            assert_eq!(validate_filter(ok), Ok(()), "{ok}");
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
            assert_eq!(validate_filter(bad), Err(err), "{bad}");
        }
        assert_eq!(TopicError::MultiLevelMisplaced.spec(), "MQTT-4.7.1-2");
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
