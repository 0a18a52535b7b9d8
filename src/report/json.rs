//! The JSON report: target, totals and every case result with failures and transcript.

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
    /// Per case.
    pub cases: &'a [CaseResult],
}

/// Writes the JSON report.
pub fn write(
    path: &Path,
    target: &str,
    run_id: &str,
    results: &[CaseResult],
) -> Result<(), ReportError> {
    let doc = JsonReport {
        format: 1,
        wirecheck: env!("CARGO_PKG_VERSION"),
        target,
        run_id,
        totals: Totals::of(results),
        cases: results,
    };
    let text =
        serde_json::to_string_pretty(&doc).map_err(|e| ReportError::Serialize(e.to_string()))?;
    super::write_file(path, text.as_bytes())
}
