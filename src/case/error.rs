//! Load errors that point into the case file like a compiler error, with the YAML library's own
//! words translated into a case author's terms.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_saphyr::budget::BudgetBreach;

use super::source::SourceError;

/// A place in a source file (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SourceLoc {
    /// The file as the user named it.
    pub path: PathBuf,
    /// 1-based line.
    pub line: u64,
    /// 1-based column.
    pub col: u64,
}

impl fmt::Display for SourceLoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.path.display(), self.line, self.col)
    }
}

/// The source line under an error, cropped to a window around the caret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    /// The (cropped) line.
    pub text: String,
    /// 1-based column of the caret within `text`.
    pub caret: u64,
}

/// Characters of the offending line shown before the caret.
const SNIPPET_BEFORE: usize = 60;
/// Characters of the offending line shown after the caret.
const SNIPPET_AFTER: usize = 80;
/// Longest error message printed; longer ones (a huge value quoted back) are cropped.
const MAX_MESSAGE_CHARS: usize = 400;

impl Snippet {
    /// The window of `line` around 1-based character column `col`.
    pub fn crop(line: &str, col: u64) -> Snippet {
        let chars: Vec<char> = line.chars().collect();
        let at = (col.max(1) as usize - 1).min(chars.len());
        let start = at.saturating_sub(SNIPPET_BEFORE);
        let end = (at + SNIPPET_AFTER).min(chars.len());
        let mut text = String::new();
        let mut caret = (at - start) as u64 + 1;
        if start > 0 {
            text.push('…');
            caret += 1;
        }
        text.extend(&chars[start..end]);
        if end < chars.len() {
            text.push('…');
        }
        Snippet { text, caret }
    }
}

/// Why a case file (or a folder of them) could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file or folder could not be read.
    #[error("error: cannot read {path}: {source}")]
    Io {
        /// What we tried to read.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is a FIFO, device or too large, or could not be read.
    #[error("error: {0}")]
    Source(#[from] SourceError),
    /// The file is not a valid case; points at the place.
    #[error("{}", render(.message, .loc, .snippet.as_ref()))]
    Invalid {
        /// What is wrong, naming the field.
        message: String,
        /// Where.
        loc: SourceLoc,
        /// The offending source line (cropped), when known.
        snippet: Option<Snippet>,
    },
    /// Two cases share an id.
    #[error("error: duplicate case id `{id}`\n  --> {second}\n  first defined at {first}")]
    DuplicateId {
        /// The id.
        id: String,
        /// Where it was first defined.
        first: SourceLoc,
        /// Where it is defined again.
        second: SourceLoc,
    },
}

impl LoadError {
    /// Builds an `Invalid` error at `line:col` of `path`, quoting that line from `source`.
    pub fn at(path: &Path, source: &str, line: u64, col: u64, message: impl Into<String>) -> Self {
        let snippet = if line >= 1 {
            source
                .lines()
                .nth((line - 1) as usize)
                .map(|l| Snippet::crop(l, col))
        } else {
            None
        };
        LoadError::Invalid {
            message: crop_message(message.into()),
            loc: SourceLoc {
                path: path.to_path_buf(),
                line: line.max(1),
                col: col.max(1),
            },
            snippet,
        }
    }

    /// The same error without the quoted source line (when that line holds a secret).
    pub fn without_snippet(self) -> Self {
        match self {
            LoadError::Invalid { message, loc, .. } => LoadError::Invalid {
                message,
                loc,
                snippet: None,
            },
            other => other,
        }
    }

    /// Converts a serde-saphyr error on `source` (read from `path`) into a located error in the
    /// terms of the file's author; `kind` names the file ("case file", "profile").
    pub fn from_yaml(path: &Path, source: &str, e: &serde_saphyr::Error, kind: &str) -> Self {
        let (line, col) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((1, 1));
        if let Some((line, col, message)) = unclosed_flow_error(e, source, line) {
            return LoadError::at(path, source, line, col, message);
        }
        let message = yaml_message(e.without_snippet(), source, line, col, kind);
        LoadError::at(path, source, line, col, message)
    }
}

fn crop_message(message: String) -> String {
    if message.chars().count() <= MAX_MESSAGE_CHARS {
        return message;
    }
    let mut out: String = message.chars().take(MAX_MESSAGE_CHARS).collect();
    out.push_str("… (cropped)");
    out
}

/// The library's message for `e`, without the " at line N, column M" it appends.
fn library_text(e: &serde_saphyr::Error) -> String {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or("").trim().to_string();
    match first.rfind(" at line ") {
        Some(i) => first[..i].to_string(),
        None => first,
    }
}

/// `field `NAME`: ` when the key the value at `line:col` belongs to can be read off the source.
fn field_prefix(source: &str, line: u64, col: u64) -> String {
    match key_at(source, line, col).or_else(|| key_of_value(source, line, col)) {
        Some(k) => format!("field `{k}`: "),
        None => String::new(),
    }
}

/// The key written at `line:col` (`client_id: 42` with the place at `client_id`).
fn key_at(source: &str, line: u64, col: u64) -> Option<String> {
    let text = source.lines().nth((line.max(1) - 1) as usize)?;
    let rest: String = text.chars().skip(col.max(1) as usize - 1).collect();
    let name: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
        .collect();
    let after = rest[name.len()..].trim_start();
    (!name.is_empty() && after.starts_with(':')).then_some(name)
}

/// The key whose value starts at `line:col`: `key: value` on that line, or the nearest
/// less-indented `key:` above a `- item` / continuation line.
pub fn key_of_value(source: &str, line: u64, col: u64) -> Option<String> {
    let lines: Vec<&str> = source.lines().collect();
    let idx = (line.max(1) - 1) as usize;
    let text = lines.get(idx)?;
    let prefix: String = text.chars().take(col.max(1) as usize - 1).collect();
    let trimmed = prefix.trim_end();
    let trimmed = trimmed
        .strip_suffix('[')
        .or_else(|| trimmed.strip_suffix('{'))
        .map_or(trimmed, str::trim_end);
    if let Some(before) = trimmed.strip_suffix(':') {
        return last_identifier(before);
    }
    // A value on its own line (`- item` or a block value): the key is on a line above with less
    // indentation, ending in `:`.
    if prefix.trim_start_matches([' ', '-']).is_empty() {
        let indent = text.len() - text.trim_start().len();
        for above in lines[..idx].iter().rev() {
            let t = above.trim_end();
            if t.trim().is_empty() || t.trim_start().starts_with('#') {
                continue;
            }
            let ind = t.len() - t.trim_start().len();
            if ind <= indent
                && let Some(before) = t.strip_suffix(':')
            {
                return last_identifier(before);
            }
            if ind < indent {
                return None;
            }
        }
    }
    None
}

fn last_identifier(text: &str) -> Option<String> {
    let text = text.trim_end().trim_end_matches(['"', '\'']);
    let start = text
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .last()
        .map(|(i, _)| i)?;
    let name = &text[start..];
    (!name.is_empty() && !name.starts_with('-')).then(|| name.to_string())
}

/// The value written at `line:col`, cropped, for "found `...`".
fn token_at(source: &str, line: u64, col: u64) -> String {
    let Some(text) = source.lines().nth((line.max(1) - 1) as usize) else {
        return String::new();
    };
    let rest: String = text.chars().skip(col.max(1) as usize - 1).collect();
    let token = match rest.chars().next() {
        Some(q @ ('"' | '\'')) => match rest[1..].find(q) {
            Some(end) => rest[..end + 2].to_string(),
            None => rest.clone(),
        },
        Some('[') | Some('{') => {
            let close = if rest.starts_with('[') { ']' } else { '}' };
            match rest.find(close) {
                Some(end) => rest[..=end].to_string(),
                None => rest.clone(),
            }
        }
        _ => {
            let end = rest.find([',', ']', '}', '#']).unwrap_or(rest.len());
            rest[..end].trim_end().to_string()
        }
    };
    let mut out: String = token.chars().take(40).collect();
    if token.chars().count() > 40 {
        out.push('…');
    }
    out
}

/// What a scalar type the loader asked for means to an author.
fn type_words(ty: &str) -> String {
    match ty {
        "u8" => "an integer from 0 to 255".into(),
        "u16" => "an integer from 0 to 65535".into(),
        "u32" => "an integer from 0 to 4294967295".into(),
        "u64" | "usize" => "a non-negative integer".into(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "an integer".into(),
        "f32" | "f64" => "a number".into(),
        "bool" => "`true` or `false`".into(),
        "char" => "a single character".into(),
        "string" | "str" | "String" => "text".into(),
        other => format!("a value of type {other}"),
    }
}

/// The steps a case can have, for messages about a malformed step.
const STEP_KEYWORDS: &str = "connect, login, send, expect, expect_none, expect_close, expect_disconnect, disconnect, sleep, drain";

fn yaml_message(e: &serde_saphyr::Error, source: &str, line: u64, col: u64, kind: &str) -> String {
    use serde_saphyr::Error as Y;
    let field = field_prefix(source, line, col);
    let found = token_at(source, line, col);
    let found_part = if found.is_empty() {
        String::new()
    } else {
        format!(", found `{found}`")
    };
    let limits = serde_saphyr::Budget::default();
    match e {
        Y::MultipleDocuments { .. } => format!(
            "a {kind} is one YAML document, but a second one starts here (after `---`); put each in its own file"
        ),
        Y::DuplicateMappingKey { key, .. } => match key {
            Some(k) => format!("key `{k}` is given twice in the same map; keep one"),
            None => "a key is given twice in the same map; keep one".into(),
        },
        Y::ExternallyTaggedEnumExpectedScalarOrMapping { .. }
        | Y::ExpectedStringKeyForExternallyTaggedEnum { .. }
        | Y::ExpectedMappingEndAfterEnumVariantValue { .. }
        | Y::UnexpectedValueForUnitEnumVariant { .. } => {
            match key_of_value(source, line, col).as_deref() {
                Some("protocol") => {
                    format!("field `protocol`: expected `mqtt` or `xmpp`{found_part}")
                }
                Some(k) if k != "steps" => format!("field `{k}`: unexpected value{found_part}"),
                _ => format!(
                    "expected a step: a map with one keyword, e.g. `- send: {{ actor: a, ... }}` or `- connect: a` (keywords: {STEP_KEYWORDS}){found_part}"
                ),
            }
        }
        Y::InvalidScalar { ty, .. } => {
            format!("{field}expected {}{found_part}", type_words(ty))
        }
        Y::InvalidBooleanStrict { .. } => {
            format!("{field}expected `true` or `false`{found_part}")
        }
        Y::Unexpected { expected, .. } => {
            let want = match *expected {
                "sequence start" => "a list (`[a, b]` or `- item` lines)".to_string(),
                "mapping start" => "a map (`{ key: value }` or indented `key: value` lines)".into(),
                "string scalar" | "scalar" => "a single value (text or a number)".into(),
                other => other.to_string(),
            };
            format!("{field}expected {want}{found_part}")
        }
        Y::SerdeInvalidType {
            unexpected,
            expected,
            ..
        } => format!("{field}expected {expected}, found {unexpected}"),
        Y::SerdeInvalidValue {
            unexpected,
            expected,
            ..
        } => format!("{field}expected {expected}, found {unexpected}"),
        Y::SerdeUnknownVariant {
            variant, expected, ..
        } => {
            if key_of_value(source, line, col).as_deref() == Some("protocol") {
                format!("field `protocol`: unknown protocol `{variant}`; expected `mqtt` or `xmpp`")
            } else if expected.contains(&"expect_none") {
                format!("unknown step `{variant}`; a step is one of: {STEP_KEYWORDS}")
            } else {
                format!(
                    "{field}unknown value `{variant}`; expected one of: {}",
                    expected.join(", ")
                )
            }
        }
        Y::NullIntoString { .. } => format!("{field}expected text, found nothing (an empty value)"),
        Y::BinaryNotUtf8 { .. } | Y::InvalidBinaryBase64 { .. } => {
            format!(
                "{field}YAML tags such as `!!binary` are not used in a {kind}; write the value as plain text"
            )
        }
        Y::Eof { .. } => {
            format!("the {kind} ends in the middle of a value: an unclosed quote, `[` or `{{`?")
        }
        Y::Budget { breach, .. } => budget_message(breach, &limits, kind),
        Y::AliasReplayLimitExceeded {
            max_total_replayed_events,
            ..
        } => format!(
            "aliases (`*name`) expand to more than {max_total_replayed_events} YAML events, the limit for a {kind}"
        ),
        Y::AliasExpansionLimitExceeded {
            max_expansions_per_anchor,
            ..
        } => format!(
            "an anchor is used through aliases (`*name`) more than {max_expansions_per_anchor} times, the limit for a {kind}"
        ),
        Y::AliasReplayStackDepthExceeded { max_depth, .. } => format!(
            "aliases (`*name`) nest more than {max_depth} levels deep, the limit for a {kind}"
        ),
        Y::UnknownAnchor { .. } => {
            format!("{field}alias `*...` names an anchor (`&name`) defined nowhere above")
        }
        _ => {
            let text = library_text(e);
            if text.contains("recursion limit exceeded") {
                format!(
                    "the {kind} nests more than {} levels of lists and maps, the limit for a {kind}",
                    limits.max_depth
                )
            } else {
                scanner_words(&text).unwrap_or(text)
            }
        }
    }
}

/// The YAML scanner's common complaints in an author's words (with the original in parentheses).
fn scanner_words(text: &str) -> Option<String> {
    let words = if text.contains("mapping values are not allowed") {
        "`: ` cannot appear here: quote the value if the colon belongs to it, or check the indentation"
    } else if text.contains("did not find expected key") {
        "this line does not line up with the keys of the map above: check its indentation (keys of one map start in the same column)"
    } else if text.contains("did not find expected '-' indicator") {
        "this line does not line up with the `- item` lines above: check its indentation"
    } else if text.contains("tabs disallowed") {
        "a tab is used for indentation: YAML indents with spaces"
    } else if text.contains("quoted scalar") {
        "a quoted value is not closed (or its continuation line is not indented): close the quote on the same line"
    } else {
        return None;
    };
    Some(format!("{words} (YAML: {text})"))
}

fn budget_message(breach: &BudgetBreach, limits: &serde_saphyr::Budget, kind: &str) -> String {
    let what = match breach {
        BudgetBreach::Nodes { .. } => format!("more than {} YAML values", limits.max_nodes),
        BudgetBreach::Events { .. } => format!("more than {} YAML events", limits.max_events),
        BudgetBreach::Depth { .. } => format!(
            "lists and maps nested more than {} levels deep",
            limits.max_depth
        ),
        BudgetBreach::Aliases { .. } => {
            format!("more than {} aliases (`*name`)", limits.max_aliases)
        }
        BudgetBreach::Anchors { .. } => {
            format!("more than {} anchors (`&name`)", limits.max_anchors)
        }
        BudgetBreach::Documents { .. } => {
            format!("more than {} YAML documents", limits.max_documents)
        }
        BudgetBreach::ScalarBytes { .. } => format!(
            "more than {} bytes of text in values",
            limits.max_total_scalar_bytes
        ),
        BudgetBreach::AliasAnchorRatio { aliases, anchors } => format!(
            "{aliases} aliases (`*name`) for {anchors} anchors, far more than a {kind} needs (an alias bomb?)"
        ),
        BudgetBreach::MergeKeys { .. } => {
            format!("more than {} merge keys (`<<`)", limits.max_merge_keys)
        }
        _ => "more YAML than the safety limits allow".to_string(),
    };
    format!("the {kind} has {what}, the limit for a {kind}; split it or simplify it")
}

/// For a syntax error after a `[` or `{` that is never closed on its line, the opener's place and
/// a message saying so (the library reports a confusing error on a later line instead).
fn unclosed_flow_error(
    e: &serde_saphyr::Error,
    source: &str,
    line: u64,
) -> Option<(u64, u64, String)> {
    use serde_saphyr::Error as Y;
    if !matches!(
        e.without_snippet(),
        Y::ExternalMessage { .. } | Y::Message { .. } | Y::Eof { .. }
    ) {
        return None;
    }
    let eof = matches!(e.without_snippet(), Y::Eof { .. });
    let lines: Vec<&str> = source.lines().collect();
    let mut open: Vec<(char, u64, u64)> = Vec::new();
    for (i, text) in lines.iter().enumerate() {
        let n = i as u64 + 1;
        if n >= line && !eof {
            break;
        }
        scan_flow(text, n, &mut open);
    }
    let (c, l, col) = *open.first()?;
    // A flow collection may span lines, but then its lines are indented deeper than the line
    // that opened it; an error on a line indented no deeper means block structure resumed.
    let indent = |n: u64| {
        lines
            .get((n.max(1) - 1) as usize)
            .map_or(0, |t| t.len() - t.trim_start().len())
    };
    if !eof && indent(line) > indent(l) {
        return None;
    }
    let close = if c == '[' { ']' } else { '}' };
    Some((
        l,
        col,
        format!("unclosed `{c}`: it is never closed with `{close}`"),
    ))
}

/// Tracks `[`/`{` opened and closed on one line, outside quotes and comments.
fn scan_flow(text: &str, line: u64, open: &mut Vec<(char, u64, u64)>) {
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    for (i, c) in text.chars().enumerate() {
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                }
            }
            None => match c {
                '"' | '\'' if prev.is_whitespace() || matches!(prev, '[' | '{' | ',' | ':') => {
                    quote = Some(c)
                }
                '#' if prev.is_whitespace() => return,
                '[' | '{' => open.push((c, line, i as u64 + 1)),
                ']' | '}' => {
                    open.pop();
                }
                _ => {}
            },
        }
        prev = c;
    }
}

fn render(message: &str, loc: &SourceLoc, snippet: Option<&Snippet>) -> String {
    let mut out = format!("error: {message}\n  --> {loc}");
    if let Some(s) = snippet {
        let num = loc.line.to_string();
        let pad = " ".repeat(num.len());
        let caret_pad = " ".repeat(s.caret.saturating_sub(1) as usize);
        out.push_str(&format!(
            "\n{pad} |\n{num} | {}\n{pad} | {caret_pad}^",
            s.text
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_a_compiler() {
        let e = LoadError::at(
            Path::new("cases/a.yaml"),
            "id: x\nsteps: 3\n",
            2,
            8,
            "invalid type for `steps`",
        );
        let text = e.to_string();
        assert_eq!(
            text,
            "error: invalid type for `steps`\n  --> cases/a.yaml:2:8\n  |\n2 | steps: 3\n  |        ^"
        );
    }

    #[test]
    fn long_lines_are_cropped_around_the_caret() {
        let line = format!("{}X{}", "a".repeat(100_000), "b".repeat(100_000));
        let e = LoadError::at(Path::new("a.yaml"), &line, 1, 100_001, "bad");
        let text = e.to_string();
        assert!(text.len() < 300, "{}", text.len());
        let lines: Vec<&str> = text.lines().collect();
        let x = lines[3].find('X').unwrap();
        let caret = lines[4].find('^').unwrap();
        assert_eq!(
            lines[3][..x].chars().count(),
            lines[4][..caret].chars().count()
        );
    }

    #[test]
    fn keys_are_read_off_the_source() {
        let src = "a: { b: 1, keep_alive: sixty }\nspec:\n  - 5\nsteps: hello\n";
        assert_eq!(key_of_value(src, 1, 24).as_deref(), Some("keep_alive"));
        assert_eq!(key_of_value(src, 3, 5).as_deref(), Some("spec"));
        assert_eq!(key_of_value(src, 4, 8).as_deref(), Some("steps"));
        assert_eq!(token_at(src, 1, 24), "sixty");
    }
}
