//! Application payload bytes: written in cases as UTF-8 text or as `{hex: "00ff"}`.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Opaque bytes (PUBLISH payload, will message, password); serialized as text when valid UTF-8, else as hex.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Payload(pub Vec<u8>);

impl Payload {
    /// A payload holding these bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl From<&str> for Payload {
    fn from(s: &str) -> Self {
        Self(s.as_bytes().to_vec())
    }
}

impl From<String> for Payload {
    fn from(s: String) -> Self {
        Self(s.into_bytes())
    }
}

impl From<Vec<u8>> for Payload {
    fn from(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
}

impl From<&[u8]> for Payload {
    fn from(bytes: &[u8]) -> Self {
        Self(bytes.to_vec())
    }
}

impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(&self.0) {
            Ok(text) => serializer.serialize_str(text),
            Err(_) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("hex", &hex::encode(&self.0))?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(PayloadVisitor)
    }
}

struct PayloadVisitor;

impl<'de> Visitor<'de> for PayloadVisitor {
    type Value = Payload;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a UTF-8 string or a map `{hex: \"00ff\"}`")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Payload, E> {
        Ok(Payload::from(v))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Payload, E> {
        Ok(Payload::from(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Payload, E> {
        Ok(Payload::default())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Payload, A::Error> {
        let mut bytes = None;
        while let Some(key) = map.next_key::<String>()? {
            if key != "hex" {
                return Err(de::Error::unknown_field(&key, &["hex"]));
            }
            if bytes.is_some() {
                return Err(de::Error::duplicate_field("hex"));
            }
            let text: String = map.next_value()?;
            let digits: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            let decoded = hex::decode(&digits)
                .map_err(|e| de::Error::custom(format!("invalid hex payload `{text}`: {e}")))?;
            bytes = Some(decoded);
        }
        bytes
            .map(Payload)
            .ok_or_else(|| de::Error::missing_field("hex"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_and_hex_forms() {
        let p: Payload = serde_json::from_value(json!("hi")).unwrap();
        assert_eq!(p.as_bytes(), b"hi");
        let p: Payload = serde_json::from_value(json!({"hex": "00 ff"})).unwrap();
        assert_eq!(p.as_bytes(), &[0x00, 0xff]);
        assert_eq!(serde_json::to_value(&p).unwrap(), json!({"hex": "00ff"}));
        assert_eq!(
            serde_json::to_value(Payload::from("hé")).unwrap(),
            json!("hé")
        );
        assert!(serde_json::from_value::<Payload>(json!({"hex": "0g"})).is_err());
        assert!(serde_json::from_value::<Payload>(json!({"bin": "00"})).is_err());
        assert!(serde_json::from_value::<Payload>(json!({})).is_err());
        assert!(serde_json::from_value::<Payload>(json!(5)).is_err());
        assert!(
            serde_json::from_value::<Payload>(json!(null))
                .unwrap()
                .is_empty()
        );
    }
}
