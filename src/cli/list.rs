//! `wirecheck list`: the selected cases with protocol, tags and spec ids.

use std::io::Write;

use super::{CliError, ListArgs, load_selection};

/// Prints the selection; returns the exit code. A closed stdout (`wirecheck list | head -1`)
/// ends the listing quietly.
pub fn list(args: &ListArgs) -> Result<u8, CliError> {
    let cases = load_selection(&args.selection)?;
    let mut out = std::io::stdout().lock();
    let mut text = String::new();
    for c in &cases {
        text.push_str(&format!(
            "{}  [{}]  tags: {}  spec: {}\n",
            c.id,
            c.group(),
            if c.tags.is_empty() {
                "-".into()
            } else {
                c.tags.join(",")
            },
            c.spec.join(",")
        ));
    }
    text.push_str(&format!("{} cases\n", cases.len()));
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(super::exit::OK),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(super::exit::OK),
        Err(e) => Err(CliError::BadInput(format!(
            "error: cannot write to standard output: {e}"
        ))),
    }
}
