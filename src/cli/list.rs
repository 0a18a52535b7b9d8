//! `wirecheck list`: the selected cases with protocol, tags and spec ids.

use super::{CliError, ListArgs, load_selection};

/// Prints the selection; returns the exit code.
pub fn list(args: &ListArgs) -> Result<u8, CliError> {
    let cases = load_selection(&args.selection)?;
    for c in &cases {
        println!(
            "{}  [{}]  tags: {}  spec: {}",
            c.id,
            c.group(),
            if c.tags.is_empty() {
                "-".into()
            } else {
                c.tags.join(",")
            },
            c.spec.join(",")
        );
    }
    println!("{} cases", cases.len());
    Ok(super::exit::OK)
}
