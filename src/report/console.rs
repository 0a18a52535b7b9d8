//! Console output: a progress bar while running, failures printed like compiler errors, and a
//! closing line `N passed, N failed`. Honours NO_COLOR and non-terminals.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

use crate::run::verdict::{CaseResult, Totals, Verdict};

use super::failure_text;

/// Terminal styling decisions.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Use ANSI colours.
    pub color: bool,
    /// Show a progress bar.
    pub progress: bool,
}

impl Style {
    /// Colour and progress only on a terminal, never with NO_COLOR set.
    pub fn detect() -> Self {
        let tty = std::io::stderr().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            color: tty && !no_color,
            progress: tty,
        }
    }

    /// `text` in ANSI colour `code` when colour is on.
    pub fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// Live progress of a run.
pub struct Progress {
    bar: Option<ProgressBar>,
    style: Style,
}

impl Progress {
    /// Starts a bar for `total` cases (hidden when not on a terminal).
    pub fn new(total: usize, style: Style) -> Self {
        let bar = style.progress.then(|| {
            let b = ProgressBar::new(total as u64);
            b.set_style(
                ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            b
        });
        Self { bar, style }
    }

    /// Reports one finished case: a line for anything that is not a pass.
    pub fn done(&self, r: &CaseResult) {
        let line = match r.verdict {
            Verdict::Pass => None,
            Verdict::Fail => Some(format!("{} {}", self.style.paint("31;1", "FAIL "), r.id)),
            Verdict::Error => Some(format!("{} {}", self.style.paint("35;1", "ERROR"), r.id)),
            Verdict::Skip => Some(format!(
                "{} {} ({})",
                self.style.paint("33", "SKIP "),
                r.id,
                r.reason.as_deref().unwrap_or("")
            )),
            Verdict::Xfail => Some(format!(
                "{} {} ({})",
                self.style.paint("36", "XFAIL"),
                r.id,
                r.reason.as_deref().unwrap_or("")
            )),
            Verdict::Xpass => Some(format!(
                "{} {} ({})",
                self.style.paint("33;1", "XPASS"),
                r.id,
                r.reason.as_deref().unwrap_or("")
            )),
            Verdict::Interrupted => Some(format!(
                "{} {} ({})",
                self.style.paint("35", "INTR "),
                r.id,
                r.reason.as_deref().unwrap_or("")
            )),
        };
        match &self.bar {
            Some(b) => {
                if let Some(l) = line {
                    b.println(l);
                }
                b.set_message(r.id.clone());
                b.inc(1);
            }
            None => {
                if let Some(l) = line {
                    eprintln!("{l}");
                }
            }
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// The detailed failure section and the closing lines, as printed after a run.
pub fn summary(
    results: &[CaseResult],
    style: Style,
    target: &str,
    elapsed: std::time::Duration,
) -> String {
    let mut out = String::new();
    for r in results
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Fail | Verdict::Error))
    {
        out.push_str(&format!(
            "\n{} {} — {}\n",
            style.paint(
                "1",
                if r.verdict == Verdict::Fail {
                    "failed:"
                } else {
                    "error:"
                }
            ),
            r.id,
            r.title
        ));
        for f in &r.failures {
            for line in failure_text(f).lines() {
                out.push_str(&format!("  {line}\n"));
            }
        }
    }
    let noted: Vec<&CaseResult> = results
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Xpass | Verdict::Xfail | Verdict::Skip))
        .collect();
    if !noted.is_empty() {
        out.push('\n');
    }
    for r in noted {
        out.push_str(&format!(
            "{} {} ({})\n",
            style.paint("1", &format!("{}:", r.verdict.name())),
            r.id,
            r.reason.as_deref().unwrap_or("")
        ));
    }
    let t = Totals::of(results);
    out.push_str(&format!(
        "\ntarget {target}: {} cases in {:.2}s\n",
        results.len(),
        elapsed.as_secs_f64()
    ));
    out.push_str(&closing_line(&t));
    out.push('\n');
    out
}

/// `N passed, N failed` plus the other counts that are not zero.
pub fn closing_line(t: &Totals) -> String {
    let mut line = format!("{} passed, {} failed", t.passed, t.failed);
    if t.errors > 0 {
        line.push_str(&format!(", {} errors", t.errors));
    }
    if t.skipped > 0 {
        line.push_str(&format!(", {} skipped", t.skipped));
    }
    if t.xpassed > 0 {
        line.push_str(&format!(", {} xpassed", t.xpassed));
    }
    if t.interrupted > 0 {
        line.push_str(&format!(", {} interrupted", t.interrupted));
    }
    if t.xfailed > 0 {
        line.push_str(&format!(", {} xfailed", t.xfailed));
    }
    line
}
