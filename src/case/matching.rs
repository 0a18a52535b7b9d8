//! Protocol-neutral structural matching of an expected value against a received one, with
//! `$name` captures; used for MQTT packet patterns (XML patterns match in `xmpp::pattern`).

use serde_json::Value;

use crate::vars::{Capture, Vars, capture_name, values_equal};

/// Why a value did not match its pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Where inside the value (`reasons[0]`, `will.topic`); empty for the root.
    pub path: String,
    /// What differs, in words.
    pub message: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "at `{}`: {}", self.path, self.message)
        }
    }
}

/// Matches `pattern` against `actual`: maps match a subset of keys (all keys when `exact`),
/// lists element by element with equal length, strings after `{var}` interpolation, a string
/// `$name` captures, and `{one_of: [a, b]}` matches when any alternative does (the first that
/// matches binds its captures). Captures bound here stay bound even if a later part fails.
pub fn match_value(
    pattern: &Value,
    actual: &Value,
    vars: &mut Vars,
    exact: bool,
) -> Result<(), Mismatch> {
    walk(pattern, actual, vars, exact, String::new())
}

fn walk(
    pattern: &Value,
    actual: &Value,
    vars: &mut Vars,
    exact: bool,
    path: String,
) -> Result<(), Mismatch> {
    let fail = |message: String| {
        Err(Mismatch {
            path: path.clone(),
            message,
        })
    };
    match pattern {
        Value::String(s) if s == "$_" => Ok(()),
        Value::String(s) if capture_name(s).is_some() => {
            let name = capture_name(s).unwrap_or_default();
            match vars.capture(name, actual) {
                Capture::Bound | Capture::Equal => Ok(()),
                Capture::Differs(before) => {
                    fail(format!("`${name}` was {before} earlier, now {actual}"))
                }
            }
        }
        Value::String(s) => {
            let want = vars.interpolate(s).map_err(|e| Mismatch {
                path: path.clone(),
                message: e.to_string(),
            })?;
            let want = Value::String(want);
            if values_equal(&want, actual) {
                Ok(())
            } else {
                fail(format!("expected {want}, got {actual}"))
            }
        }
        Value::Object(pmap) if one_of(pmap).is_some() => {
            let alternatives = one_of(pmap).unwrap_or_default();
            for alt in alternatives {
                let mut trial = vars.clone();
                if walk(alt, actual, &mut trial, exact, path.clone()).is_ok() {
                    *vars = trial;
                    return Ok(());
                }
            }
            let shown: Vec<String> = alternatives.iter().map(Value::to_string).collect();
            fail(format!(
                "expected one of {}, got {actual}",
                shown.join(", ")
            ))
        }
        Value::Object(pmap) => {
            let Value::Object(amap) = actual else {
                return fail(format!("expected a map, got {actual}"));
            };
            for (k, pv) in pmap {
                let sub = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match amap.get(k) {
                    Some(av) => walk(pv, av, vars, exact, sub)?,
                    None if pv.is_null() => {}
                    None => {
                        return Err(Mismatch {
                            path: sub,
                            message: format!("expected {pv}, but the field is absent"),
                        });
                    }
                }
            }
            if exact {
                for (k, av) in amap {
                    if !pmap.contains_key(k) && !av.is_null() {
                        return Err(Mismatch {
                            path: if path.is_empty() {
                                k.clone()
                            } else {
                                format!("{path}.{k}")
                            },
                            message: format!("unexpected field with value {av} (exact match)"),
                        });
                    }
                }
            }
            Ok(())
        }
        Value::Array(pitems) => {
            let Value::Array(aitems) = actual else {
                return fail(format!("expected a list, got {actual}"));
            };
            if pitems.len() != aitems.len() {
                return fail(format!(
                    "expected {} items, got {}: {actual}",
                    pitems.len(),
                    aitems.len()
                ));
            }
            for (i, (p, a)) in pitems.iter().zip(aitems).enumerate() {
                walk(p, a, vars, exact, format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        other => {
            if values_equal(other, actual) {
                Ok(())
            } else {
                fail(format!("expected {other}, got {actual}"))
            }
        }
    }
}

/// The alternatives of a `{one_of: [...]}` pattern: a map whose only key is `one_of`.
fn one_of(pmap: &serde_json::Map<String, Value>) -> Option<&[Value]> {
    match (pmap.len(), pmap.get("one_of")) {
        (1, Some(Value::Array(alts))) => Some(alts),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subset_and_lists() {
        let mut v = Vars::new();
        let actual = json!({"type": "suback", "id": 1, "reasons": ["granted_qos_2"]});
        assert!(match_value(&json!({"type": "suback", "id": 1}), &actual, &mut v, false).is_ok());
        let e = match_value(
            &json!({"reasons": ["granted_qos_1"]}),
            &actual,
            &mut v,
            false,
        )
        .unwrap_err();
        assert_eq!(e.path, "reasons[0]");
        let e = match_value(&json!({"type": "suback"}), &actual, &mut v, true).unwrap_err();
        assert_eq!(e.path, "id");
        let e = match_value(&json!({"reasons": []}), &actual, &mut v, false).unwrap_err();
        assert!(e.message.contains("expected 0 items"));
    }

    #[test]
    fn captures_and_interpolation() {
        let mut v = Vars::new();
        v.set("ns", "wc/x");
        let actual = json!({"topic": "wc/x/t", "id": 9});
        match_value(
            &json!({"topic": "{ns}/t", "id": "$pid"}),
            &actual,
            &mut v,
            false,
        )
        .unwrap();
        assert_eq!(v.get("pid"), Some(&json!(9)));
        let e = match_value(&json!({"id": "$pid"}), &json!({"id": 10}), &mut v, false).unwrap_err();
        assert!(e.message.contains("was 9 earlier"));
        assert!(match_value(&json!({"id": "$_"}), &json!({"id": 10}), &mut v, false).is_ok());
    }

    #[test]
    fn one_of_alternatives() {
        let mut v = Vars::new();
        let pattern = json!({"reasons": [{"one_of": ["granted_qos_1", "granted_qos_2"]}]});
        let ok = json!({"reasons": ["granted_qos_1"]});
        assert!(match_value(&pattern, &ok, &mut v, false).is_ok());
        let e = match_value(&pattern, &json!({"reasons": ["failure"]}), &mut v, false).unwrap_err();
        assert_eq!(e.path, "reasons[0]");
        assert!(e.message.contains("expected one of"), "{}", e.message);
        // a capture inside an alternative binds only when that alternative matches
        let pattern = json!({"id": {"one_of": [0, "$pid"]}});
        assert!(match_value(&pattern, &json!({"id": 0}), &mut v, false).is_ok());
        assert_eq!(v.get("pid"), None);
        assert!(match_value(&pattern, &json!({"id": 4}), &mut v, false).is_ok());
        assert_eq!(v.get("pid"), Some(&json!(4)));
        // a map with other keys besides `one_of` is an ordinary map pattern
        let e = match_value(
            &json!({"one_of": [1], "x": 1}),
            &json!({"one_of": [2], "x": 1}),
            &mut v,
            false,
        )
        .unwrap_err();
        assert_eq!(e.path, "one_of[0]");
    }
}
