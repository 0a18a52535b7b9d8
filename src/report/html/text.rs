//! Text for the HTML report: escaping of hostile text (markup, control and bidi characters made
//! visible), size bounds, and diff highlighting (unified diffs and expected/actual pairs).

use std::fmt::Write as _;
use std::time::Duration;

use similar::{ChangeTag, TextDiff};

/// Most lines of a unified diff shown per failure.
pub const MAX_DIFF_LINES: usize = 2_000;

/// Most bytes of a unified diff shown per failure.
pub const MAX_DIFF_BYTES: usize = 1024 * 1024;

/// Time the character diff of an expected/actual pair may take before it settles for less.
const INLINE_DIFF_TIMEOUT: Duration = Duration::from_millis(50);

/// Below this similarity an expected/actual pair is marked as wholly different, not char by char.
const INLINE_DIFF_MIN_RATIO: f32 = 0.3;

/// A character a reader could not see or that would reorder the text around it.
fn needs_showing(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// Appends `text` escaped for HTML: markup characters as references, invisible characters as a
/// visible `\u{..}` (a marked span in character data; in an attribute value, `in_attr`, quotes
/// and line breaks are escaped too and the `\u{..}` is plain).
fn push_escaped(out: &mut String, text: &str, in_attr: bool) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if in_attr => out.push_str("&quot;"),
            '\'' if in_attr => out.push_str("&#39;"),
            '\n' if in_attr => out.push_str("&#10;"),
            c if needs_showing(c) && in_attr => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c if needs_showing(c) => {
                let _ = write!(out, "<span class=\"ctl\">\\u{{{:x}}}</span>", u32::from(c));
            }
            c => out.push(c),
        }
    }
}

/// Appends `text` as HTML character data: markup escaped, invisible characters as `\u{..}`.
pub fn push_text(out: &mut String, text: &str) {
    push_escaped(out, text, false);
}

/// `text` as HTML character data (see [`push_text`]).
pub fn text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_escaped(&mut out, text, false);
    out
}

/// `text` as a double-quoted attribute value's content: quotes and line breaks escaped,
/// invisible characters written as `\u{..}`.
pub fn attr(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_escaped(&mut out, text, true);
    out
}

/// A unified diff as HTML lines, `+` and `-` lines highlighted; bounded by [`MAX_DIFF_LINES`]
/// and [`MAX_DIFF_BYTES`] with a note saying how much was left out.
pub fn unified_diff(diff: &str) -> String {
    let mut out = String::from("<pre class=\"diff\">");
    let mut bytes = 0;
    let lines: Vec<&str> = diff.lines().collect();
    let mut shown = 0;
    // `---` / `+++` name the files only before the first hunk; inside one they are changed lines.
    let mut in_hunk = false;
    for line in &lines {
        if shown == MAX_DIFF_LINES || bytes + line.len() > MAX_DIFF_BYTES {
            break;
        }
        bytes += line.len();
        shown += 1;
        let class = if !in_hunk && (line.starts_with("+++") || line.starts_with("---")) {
            "diff-file"
        } else if line.starts_with("@@") {
            in_hunk = true;
            "diff-hunk"
        } else if line.starts_with('+') {
            "diff-add"
        } else if line.starts_with('-') {
            "diff-del"
        } else {
            "diff-same"
        };
        let _ = write!(out, "<span class=\"{class}\">");
        push_text(&mut out, line);
        // Block spans make the lines: a newline between them would add an empty one.
        out.push_str("</span>");
    }
    out.push_str("</pre>");
    if shown < lines.len() {
        let _ = write!(
            out,
            "<p class=\"note truncated\">diff truncated: {} more lines not shown</p>",
            lines.len() - shown
        );
    }
    out
}

/// Expected and actual as HTML, the parts that differ highlighted: deleted from the expected
/// text (`diff-del`), inserted in the actual text (`diff-add`).
pub fn expected_actual(expected: &str, actual: &str) -> (String, String) {
    let diff = TextDiff::configure()
        .timeout(INLINE_DIFF_TIMEOUT)
        .diff_chars(expected, actual);
    if diff.ratio() < INLINE_DIFF_MIN_RATIO {
        return (
            marked("del", "diff-del", expected),
            marked("ins", "diff-add", actual),
        );
    }
    let (mut old, mut new) = (String::new(), String::new());
    let mut run = String::new();
    let mut run_tag = ChangeTag::Equal;
    let flush = |tag: ChangeTag, run: &mut String, old: &mut String, new: &mut String| {
        if run.is_empty() {
            return;
        }
        match tag {
            ChangeTag::Equal => {
                push_text(old, run);
                push_text(new, run);
            }
            ChangeTag::Delete => old.push_str(&marked("del", "diff-del", run)),
            ChangeTag::Insert => new.push_str(&marked("ins", "diff-add", run)),
        }
        run.clear();
    };
    for change in diff.iter_all_changes() {
        if change.tag() != run_tag {
            flush(run_tag, &mut run, &mut old, &mut new);
            run_tag = change.tag();
        }
        run.push_str(change.value());
    }
    flush(run_tag, &mut run, &mut old, &mut new);
    (old, new)
}

fn marked(tag: &str, class: &str, content: &str) -> String {
    if content.is_empty() {
        return String::new();
    }
    format!("<{tag} class=\"{class}\">{}</{tag}>", text(content))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_invisible_characters_are_escaped() {
        let hostile = "<script>x</script> ]]> &amp; \u{0}\u{1b}[31m \u{202e}evil\r\n\tok";
        let t = text(hostile);
        assert_eq!(
            t,
            "&lt;script&gt;x&lt;/script&gt; ]]&gt; &amp;amp; \
             <span class=\"ctl\">\\u{0}</span><span class=\"ctl\">\\u{1b}</span>[31m \
             <span class=\"ctl\">\\u{202e}</span>evil<span class=\"ctl\">\\u{d}</span>\n\tok"
        );
        let a = attr("a\"b'c<d>&\u{7}\n");
        assert_eq!(a, "a&quot;b&#39;c&lt;d&gt;&amp;\\u{7}&#10;");
    }

    #[test]
    fn unified_diff_lines_are_classed_and_bounded() {
        let html =
            unified_diff("--- a\n+++ b\n@@ -1 +1 @@\n-<old>\n+new\n same\n--- gone\n+++ come");
        assert!(html.contains("<span class=\"diff-del\">--- gone</span>"));
        assert!(html.contains("<span class=\"diff-add\">+++ come</span>"));
        assert!(html.contains("<span class=\"diff-file\">--- a</span>"));
        assert!(html.contains("<span class=\"diff-hunk\">@@ -1 +1 @@</span>"));
        assert!(html.contains("<span class=\"diff-del\">-&lt;old&gt;</span>"));
        assert!(html.contains("<span class=\"diff-add\">+new</span>"));
        assert!(html.contains("<span class=\"diff-same\"> same</span>"));
        assert!(!html.contains("truncated"));

        let long: String = (0..MAX_DIFF_LINES + 7).map(|i| format!("+{i}\n")).collect();
        let html = unified_diff(&long);
        assert_eq!(html.matches("diff-add").count(), MAX_DIFF_LINES);
        assert!(html.contains("diff truncated: 7 more lines not shown"));
    }

    #[test]
    fn expected_and_actual_highlight_what_differs() {
        let (e, a) = expected_actual("{\"id\":513}", "{\"id\":514}");
        assert_eq!(e, "{\"id\":51<del class=\"diff-del\">3</del>}");
        assert_eq!(a, "{\"id\":51<ins class=\"diff-add\">4</ins>}");
        let (e, a) = expected_actual("<presence/>", "nothing");
        assert_eq!(e, "<del class=\"diff-del\">&lt;presence/&gt;</del>");
        assert_eq!(a, "<ins class=\"diff-add\">nothing</ins>");
        let (e, a) = expected_actual("same", "same");
        assert_eq!((e.as_str(), a.as_str()), ("same", "same"));
    }
}
