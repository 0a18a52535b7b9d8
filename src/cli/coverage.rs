//! `wirecheck coverage`: prints the statement coverage of the suite's cases.

use std::io::Write;

use super::{CliError, CoverageArgs, CoverageFormat, Selection, exit, load_selection};
use crate::spec::statements::{LISTS, SpecList};

/// Prints the report; always exit 0 once the cases load.
pub fn coverage(args: &CoverageArgs) -> Result<u8, CliError> {
    let sel = Selection {
        paths: vec![args.cases.clone()],
        tags: Vec::new(),
        excluded_tags: Vec::new(),
        specs: Vec::new(),
        cases: Vec::new(),
        partition: None,
    };
    let cases = load_selection(&sel)?;
    let lists: Vec<&SpecList> = match args.spec.as_deref() {
        None | Some("all") => LISTS.iter().collect(),
        Some(key) => vec![SpecList::by_key(key).ok_or_else(|| {
            CliError::BadInput(format!("--spec `{key}`: expected {}", spec_choices()))
        })?],
    };
    let report: Vec<_> = lists
        .into_iter()
        .map(|l| crate::coverage::of(l, &cases))
        .collect();
    let text = match args.format {
        CoverageFormat::Md => crate::coverage::markdown(&report),
        CoverageFormat::Json => crate::coverage::json(&report),
    };
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Ok(exit::OK)
}

/// The accepted `--spec` values, for messages.
pub fn spec_choices() -> String {
    let mut keys: Vec<&str> = LISTS.iter().map(|l| l.key).collect();
    keys.push("all");
    keys.join(", ")
}

/// `--spec` value parser: a list key or `all`.
pub fn parse_spec_arg(s: &str) -> Result<String, String> {
    if s == "all" || SpecList::by_key(s).is_some() {
        Ok(s.to_string())
    } else {
        Err(format!(
            "`{s}` is not a statement list; expected one of {}",
            spec_choices()
        ))
    }
}
