//! Human durations in case files and on the command line: `250ms`, `5s`, `1.5s`, `2m`, `1h`.

use std::time::Duration;

/// Parses `250ms`, `5s`, `1.5s`, `2m`, `1h` (0 to 24h); a bare number is not accepted (the unit
/// must be explicit).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (num, unit) = match t.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => t.split_at(i),
        None => {
            return Err(format!(
                "`{t}` has no unit: write e.g. `250ms`, `5s` or `2m`"
            ));
        }
    };
    let value: f64 = num
        .parse()
        .map_err(|_| format!("`{t}` is not a duration: write e.g. `250ms`, `5s` or `2m`"))?;
    let secs = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("unknown unit `{unit}` in `{t}`: use ms, s, m or h")),
    };
    if !(0.0..=86_400.0).contains(&secs) {
        return Err(format!("`{t}` is out of range (0 to 24h)"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A duration as written in YAML (`300ms`), kept typed after loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YamlDuration(pub Duration);

impl<'de> serde::Deserialize<'de> for YamlDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_duration(&s)
            .map(YamlDuration)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("5").unwrap_err().contains("no unit"));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert!(parse_duration("25h").unwrap_err().contains("0 to 24h"));
        assert!(parse_duration("5d").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("x5s").is_err());
    }
}
