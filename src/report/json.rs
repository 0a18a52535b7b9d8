//! The JSON report: target, totals and every case result with failures and transcript.
//! Times are in milliseconds, and the field names say so: `duration_ms` of a case, `at_ms` of a
//! transcript entry (since the case started).

use std::path::Path;

use crate::run::verdict::{CaseResult, Totals};

use super::ReportError;

/// The JSON document.
#[derive(serde::Serialize)]
pub struct JsonReport<'a> {
    /// Report format version.
    pub format: u32,
    /// wirecheck version.
    pub wirecheck: &'static str,
    /// Target name.
    pub target: &'a str,
    /// Run id (`{run}`).
    pub run_id: &'a str,
    /// Counts.
    pub totals: Totals,
    /// Per case, with times in milliseconds (`duration_ms`, transcript `at_ms`).
    pub cases: Vec<serde_json::Value>,
    /// Of `wirecheck audit` only: the endpoint, its facts and the verdict per area.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit: Option<serde_json::Value>,
}

/// Report format version: 2 names the time units (`duration_ms`, `at_ms`).
pub const FORMAT: u32 = 2;

/// One case as JSON, its times in milliseconds under names that say so.
fn case_value(r: &CaseResult) -> Result<serde_json::Value, ReportError> {
    let v = serde_json::to_value(r).map_err(|e| ReportError::Serialize(e.to_string()))?;
    let serde_json::Value::Object(map) = v else {
        return Ok(v);
    };
    let ms = (r.duration.as_secs_f64() * 1_000_000.0).round() / 1000.0;
    let mut out = serde_json::Map::new();
    for (k, v) in map {
        match k.as_str() {
            "duration" => {
                out.insert("duration_ms".into(), serde_json::json!(ms));
            }
            "transcript" => {
                let entries = match v {
                    serde_json::Value::Array(items) => items
                        .into_iter()
                        .map(|e| rename_key(e, "at", "at_ms"))
                        .collect(),
                    other => vec![other],
                };
                out.insert(k, serde_json::Value::Array(entries));
            }
            _ => {
                out.insert(k, v);
            }
        }
    }
    Ok(serde_json::Value::Object(out))
}

fn rename_key(v: serde_json::Value, from: &str, to: &str) -> serde_json::Value {
    match v {
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    if k == from {
                        (to.to_string(), v)
                    } else {
                        (k, v)
                    }
                })
                .collect(),
        ),
        other => other,
    }
}

/// Writes the JSON report.
pub fn write(
    path: &Path,
    target: &str,
    run_id: &str,
    results: &[CaseResult],
) -> Result<(), ReportError> {
    write_with_audit(path, target, run_id, results, None)
}

/// Writes the JSON report with an `audit` section (facts and area verdicts) when given.
pub fn write_with_audit(
    path: &Path,
    target: &str,
    run_id: &str,
    results: &[CaseResult],
    audit: Option<serde_json::Value>,
) -> Result<(), ReportError> {
    let doc = JsonReport {
        audit,
        format: FORMAT,
        wirecheck: env!("CARGO_PKG_VERSION"),
        target,
        run_id,
        totals: Totals::of(results),
        cases: results.iter().map(case_value).collect::<Result<_, _>>()?,
    };
    let text =
        serde_json::to_string_pretty(&doc).map_err(|e| ReportError::Serialize(e.to_string()))?;
    super::write_file(path, text.as_bytes())
}
