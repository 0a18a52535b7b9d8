//! Case variables: `{name}` interpolation inside strings and `$name` captures that bind on first use.

use std::collections::BTreeMap;

use serde_json::Value;

/// Errors from interpolating or binding variables.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VarError {
    /// `{name}` was used but nothing defines `name`.
    #[error("unknown variable `{0}` (defined: {1})")]
    Unknown(String, String),
    /// A `{` without its closing `}`.
    #[error("unclosed `{{` in `{0}`")]
    Unclosed(String),
}

/// The variables visible to one case run: predefined ones (`ns`, `alice.full_jid`) and captures.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    values: BTreeMap<String, Value>,
}

/// What a `$name` capture did when it met an actual value.
#[derive(Debug, Clone, PartialEq)]
pub enum Capture {
    /// First use: the name is now bound to the value.
    Bound,
    /// The name was bound before and the value is equal.
    Equal,
    /// The name was bound before to something else (carried here).
    Differs(Value),
}

impl Vars {
    /// An empty variable set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Defines or overwrites `name`.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<Value>) {
        self.values.insert(name.into(), value.into());
    }

    /// Every variable with its value, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.values.iter()
    }

    /// The value bound to `name`, if any.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    /// Binds `name` to `actual` on first use, or compares with the earlier binding.
    pub fn capture(&mut self, name: &str, actual: &Value) -> Capture {
        match self.values.get(name) {
            None => {
                self.values.insert(name.to_string(), actual.clone());
                Capture::Bound
            }
            Some(v) if values_equal(v, actual) => Capture::Equal,
            Some(v) => Capture::Differs(v.clone()),
        }
    }

    /// Replaces every `{name}` in `text` with the variable's value; `{{` and `}}` stand for braces.
    pub fn interpolate(&self, text: &str) -> Result<String, VarError> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(pos) = rest.find(['{', '}']) {
            out.push_str(&rest[..pos]);
            let tail = &rest[pos..];
            if let Some(after) = tail.strip_prefix("{{").or_else(|| tail.strip_prefix("}}")) {
                out.push_str(&tail[..1]);
                rest = after;
                continue;
            }
            if let Some(after) = tail.strip_prefix('}') {
                out.push('}');
                rest = after;
                continue;
            }
            let Some(end) = tail.find('}') else {
                return Err(VarError::Unclosed(text.to_string()));
            };
            let name = &tail[1..end];
            let value = self.values.get(name).ok_or_else(|| {
                VarError::Unknown(
                    name.to_string(),
                    self.values.keys().cloned().collect::<Vec<_>>().join(", "),
                )
            })?;
            out.push_str(&scalar_text(value));
            rest = &tail[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Interpolates every string inside a JSON value; a string that is exactly `$name` with `name`
    /// bound is replaced by the bound value itself, keeping its type (a captured packet id stays a number).
    pub fn interpolate_value(&self, value: &Value) -> Result<Value, VarError> {
        Ok(match value {
            Value::String(s) => {
                if let Some(name) = capture_name(s)
                    && let Some(bound) = self.values.get(name)
                {
                    bound.clone()
                } else {
                    Value::String(self.interpolate(s)?)
                }
            }
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|v| self.interpolate_value(v))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => {
                let mut out = serde_json::Map::new();
                for (k, v) in map {
                    out.insert(k.clone(), self.interpolate_value(v)?);
                }
                Value::Object(out)
            }
            other => other.clone(),
        })
    }
}

/// If `s` is a capture token (`$name`, name of letters, digits, `_`, `.`, `-`), the name.
pub fn capture_name(s: &str) -> Option<&str> {
    let name = s.strip_prefix('$')?;
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    ok.then_some(name)
}

/// Text form of a scalar for interpolation (strings without quotes).
pub fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Equality that treats numbers by value and strings that spell a number as equal to it.
pub fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::String(s), Value::Number(n)) | (Value::Number(n), Value::String(s)) => {
            s.parse::<f64>().ok() == n.as_f64()
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn interpolates_and_escapes() {
        let mut v = Vars::new();
        v.set("ns", "wc/1");
        v.set("alice.full_jid", "alice@localhost/r1");
        assert_eq!(v.interpolate("{ns}/t").unwrap(), "wc/1/t");
        assert_eq!(
            v.interpolate("{{x}} {alice.full_jid}").unwrap(),
            "{x} alice@localhost/r1"
        );
        assert!(matches!(
            v.interpolate("{nope}"),
            Err(VarError::Unknown(..))
        ));
        assert!(matches!(v.interpolate("{ns"), Err(VarError::Unclosed(..))));
    }

    #[test]
    fn capture_binds_then_compares() {
        let mut v = Vars::new();
        assert_eq!(v.capture("pid", &json!(7)), Capture::Bound);
        assert_eq!(v.capture("pid", &json!(7)), Capture::Equal);
        assert_eq!(v.capture("pid", &json!(8)), Capture::Differs(json!(7)));
        let sent = v
            .interpolate_value(&json!({"id": "$pid", "t": "{pid}"}))
            .unwrap();
        assert_eq!(sent, json!({"id": 7, "t": "7"}));
    }
}
