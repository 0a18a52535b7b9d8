//! Packets as written in cases: turning (interpolated) YAML values into packets, and checking
//! send packets, will messages and expect patterns when a case is loaded.

use serde_json::Value;

use crate::mqtt::Packet;
use crate::vars::capture_name;

/// Builds a packet from case fields (after variable interpolation).
pub fn packet_from_value(value: &Value) -> Result<Packet, String> {
    serde_json::from_value::<Packet>(value.clone()).map_err(|e| e.to_string())
}

/// Checks a send packet at load time. A `$name` that stands for a captured value is not
/// known yet; it is tried as a number (packet ids) and then as text.
pub fn validate_packet(value: &Value) -> Result<(), String> {
    let direct = packet_from_value(value);
    if direct.is_ok() || !has_capture(value) {
        return direct.map(|_| ());
    }
    for probe in [Value::from(1u16), Value::from("x")] {
        if packet_from_value(&replace_captures(value, &probe)).is_ok() {
            return Ok(());
        }
    }
    direct.map(|_| ())
}

/// Checks an expect pattern: it needs a known `type`, and its fields must exist for that type.
pub fn validate_pattern(value: &Value) -> Result<(), String> {
    if let Some(alternatives) = root_alternatives(value) {
        for (i, alt) in alternatives.iter().enumerate() {
            validate_pattern(alt).map_err(|e| format!("one_of[{i}]: {e}"))?;
        }
        if pattern_type(value).is_none() {
            return Err(
                "the alternatives of a `one_of` packet pattern must all have the same `type`"
                    .into(),
            );
        }
        return Ok(());
    }
    let Value::Object(map) = value else {
        return Err("a packet pattern is a map with at least `type`".into());
    };
    let Some(Value::String(ty)) = map.get("type") else {
        return Err("a packet pattern needs `type` (connack, publish, suback, ...)".into());
    };
    // The fields a packet of this type has: serialize a default one of its kind.
    let template = default_of(ty).ok_or_else(|| format!("unknown packet type `{ty}`"))?;
    let Value::Object(known) = serde_json::to_value(&template).map_err(|e| e.to_string())? else {
        return Err("internal: packet did not serialize to a map".into());
    };
    let extra = optional_fields(ty);
    for key in map.keys() {
        if !known.contains_key(key) && !extra.contains(&key.as_str()) {
            let mut names: Vec<&str> = known.keys().map(String::as_str).collect();
            names.extend(extra.iter().filter(|f| !known.contains_key(**f)));
            return Err(format!(
                "`{ty}` has no field `{key}` (fields: {})",
                names.join(", ")
            ));
        }
    }
    Ok(())
}

/// The alternatives of a whole-packet `{one_of: [...]}` pattern.
fn root_alternatives(value: &Value) -> Option<&Vec<Value>> {
    match value {
        Value::Object(m) if m.len() == 1 => m.get("one_of").and_then(Value::as_array),
        _ => None,
    }
}

/// The packet type a pattern expects: its `type`, or the one `type` all the alternatives of a
/// whole-packet `one_of` share.
pub fn pattern_type(value: &Value) -> Option<String> {
    if let Some(alternatives) = root_alternatives(value) {
        let types: Vec<Option<String>> = alternatives.iter().map(pattern_type).collect();
        return match types.first() {
            Some(Some(t)) if types.iter().all(|x| x.as_deref() == Some(t)) => Some(t.clone()),
            _ => None,
        };
    }
    value
        .get("type")
        .and_then(Value::as_str)
        .map(str::to_lowercase)
}

/// Checks a `will` map of the connect macro.
pub fn validate_will(value: &Value) -> Result<(), String> {
    let mut connect = serde_json::json!({"type": "connect"});
    connect["will"] = value.clone();
    validate_packet(&connect)
}

/// Checks a `connect` step's 5.0 properties map at load time.
pub fn validate_connect_properties(value: &Value) -> Result<(), String> {
    let mut connect = serde_json::json!({"type": "connect"});
    connect["properties"] = value.clone();
    validate_packet(&connect)
}

/// Writes an expected `payload: {hex: ...}` the way a received payload serializes: as text when
/// the bytes are UTF-8, so both spellings of the same bytes match.
pub fn normalize_pattern(pattern: &Value) -> Value {
    let mut p = pattern.clone();
    let text = p
        .get("payload")
        .and_then(|v| v.get("hex"))
        .and_then(Value::as_str)
        .and_then(|h| hex::decode(h.replace([' ', '_'], "")).ok())
        .and_then(|b| String::from_utf8(b).ok());
    if let (Some(text), Some(slot)) = (text, p.get_mut("payload")) {
        *slot = Value::String(text);
    }
    p
}

/// The fields of a packet type that a default packet does not serialize (5.0 reason codes,
/// properties and subscription options, which are skipped when absent).
fn optional_fields(ty: &str) -> &'static [&'static str] {
    match ty {
        "connect" | "publish" | "subscribe" | "suback" | "unsubscribe" => &["properties"],
        "connack" => &["code", "reason", "properties"],
        "puback" | "pubrec" | "pubrel" | "pubcomp" | "disconnect" | "auth" => {
            &["reason", "properties"]
        }
        "unsuback" => &["reasons", "properties"],
        _ => &[],
    }
}

fn default_of(ty: &str) -> Option<Packet> {
    let minimal = match ty {
        "connect" | "pingreq" | "pingresp" | "disconnect" | "auth" => {
            serde_json::json!({"type": ty})
        }
        "connack" => serde_json::json!({"type": ty, "code": "accepted"}),
        "publish" => serde_json::json!({"type": ty, "topic": "t", "id": 1, "qos": 1}),
        "puback" | "pubrec" | "pubrel" | "pubcomp" | "unsuback" => {
            serde_json::json!({"type": ty, "id": 1})
        }
        "subscribe" => serde_json::json!({"type": ty, "id": 1, "filters": []}),
        "suback" => serde_json::json!({"type": ty, "id": 1, "reasons": []}),
        "unsubscribe" => serde_json::json!({"type": ty, "id": 1, "topics": []}),
        _ => return None,
    };
    packet_from_value(&minimal).ok()
}

fn has_capture(value: &Value) -> bool {
    match value {
        Value::String(s) => capture_name(s).is_some(),
        Value::Array(a) => a.iter().any(has_capture),
        Value::Object(m) => m.values().any(has_capture),
        _ => false,
    }
}

fn replace_captures(value: &Value, probe: &Value) -> Value {
    match value {
        Value::String(s) if capture_name(s).is_some() => probe.clone(),
        Value::Array(a) => Value::Array(a.iter().map(|v| replace_captures(v, probe)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), replace_captures(v, probe)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hex_payload_patterns_match_text_payloads() {
        let p = normalize_pattern(&json!({"type": "publish", "payload": {"hex": "68 69"}}));
        assert_eq!(p["payload"], json!("hi"));
        let p = normalize_pattern(&json!({"type": "publish", "payload": {"hex": "ff00"}}));
        assert_eq!(p["payload"], json!({"hex": "ff00"}));
    }

    #[test]
    fn load_time_checks() {
        assert!(validate_packet(&json!({"type": "puback", "id": "$pid"})).is_ok());
        assert!(validate_packet(&json!({"type": "puback", "idd": 1})).is_err());
        assert!(
            validate_pattern(&json!({"type": "suback", "idd": 1}))
                .unwrap_err()
                .contains("no field `idd`")
        );
        assert!(validate_pattern(&json!({"type": "nope"})).is_err());
        // 5.0 fields are known although a default packet does not serialize them.
        for p in [
            json!({"type": "connack", "reason": "success", "properties": {}}),
            json!({"type": "puback", "id": 7, "reason": "success"}),
            json!({"type": "unsuback", "reasons": ["success"]}),
            json!({"type": "disconnect", "reason": "server_shutting_down"}),
            json!({"type": "auth", "reason": "continue_authentication"}),
        ] {
            assert!(validate_pattern(&p).is_ok(), "{p}");
        }
        assert!(validate_pattern(&json!({"type": "pingresp", "reason": 0})).is_err());
    }

    #[test]
    fn whole_packet_one_of_needs_one_shared_type() {
        let both = json!({"one_of": [{"type": "connack", "reason": "success"}, {"type": "connack", "reason": "client_identifier_not_valid"}]});
        assert!(validate_pattern(&both).is_ok());
        assert_eq!(pattern_type(&both).as_deref(), Some("connack"));
        let mixed = json!({"one_of": [{"type": "connack"}, {"type": "disconnect"}]});
        assert!(
            validate_pattern(&mixed)
                .unwrap_err()
                .contains("same `type`")
        );
        let bad = json!({"one_of": [{"type": "connack"}, {"type": "connack", "idd": 1}]});
        assert!(
            validate_pattern(&bad)
                .unwrap_err()
                .starts_with("one_of[1]:")
        );
    }
}
