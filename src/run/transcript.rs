//! The transcript of a case: every frame or packet both ways, and notable events, with timing.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Which way an entry went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Client (wirecheck) to server.
    Sent,
    /// Server to client.
    Received,
    /// Something that happened (connect, close, timeout, violation).
    Event,
}

/// One line of a transcript.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Entry {
    /// Time since the case started.
    #[serde(serialize_with = "ser_ms")]
    pub at: Duration,
    /// Actor name.
    pub actor: String,
    /// Direction.
    pub direction: Direction,
    /// Human-readable summary: a packet's fields, an element's XML, an event.
    pub text: String,
    /// Raw bytes on the wire, when they are not the text itself.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_hex")]
    pub raw: Option<Vec<u8>>,
}

fn ser_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1_000_000.0).round() / 1000.0)
}

fn ser_hex<S: serde::Serializer>(raw: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    match raw {
        Some(b) => s.serialize_str(&hex::encode(b)),
        None => s.serialize_none(),
    }
}

/// Most entries kept per case; beyond it the transcript says how many were dropped.
pub const MAX_ENTRIES: usize = 10_000;

/// Most bytes of text or raw data kept per entry; the rest is cut with a note saying how much.
pub const MAX_ENTRY_BYTES: usize = 16 * 1024;

fn cut_text(mut text: String) -> String {
    if text.len() <= MAX_ENTRY_BYTES {
        return text;
    }
    let total = text.len();
    let mut end = MAX_ENTRY_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str(&format!(" ... ({} more bytes)", total - end));
    text
}

/// A shared, append-only transcript for one case run.
#[derive(Debug, Clone)]
pub struct Transcript {
    start: Instant,
    inner: Arc<Mutex<(Vec<Entry>, usize)>>,
}

impl Transcript {
    /// A new transcript whose clock starts now.
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
            inner: Arc::new(Mutex::new((Vec::new(), 0))),
        }
    }

    /// Appends an entry stamped with the current time.
    pub fn push(
        &self,
        actor: &str,
        direction: Direction,
        text: impl Into<String>,
        raw: Option<Vec<u8>>,
    ) {
        let entry = Entry {
            at: self.start.elapsed(),
            actor: actor.to_string(),
            direction,
            text: cut_text(text.into()),
            raw: raw.map(|mut r| {
                r.truncate(MAX_ENTRY_BYTES);
                r
            }),
        };
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if g.0.len() < MAX_ENTRIES {
            g.0.push(entry);
        } else {
            g.1 += 1;
        }
    }

    /// A handle that records for one actor.
    pub fn recorder(&self, actor: &str) -> Recorder {
        Recorder {
            transcript: self.clone(),
            actor: actor.to_string(),
        }
    }

    /// A copy of all entries so far and how many were dropped over the bound.
    pub fn entries(&self) -> (Vec<Entry>, usize) {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        (g.0.clone(), g.1)
    }
}

impl Default for Transcript {
    fn default() -> Self {
        Self::new()
    }
}

/// Records transcript entries for one actor; handed to protocol sessions.
#[derive(Debug, Clone)]
pub struct Recorder {
    transcript: Transcript,
    actor: String,
}

impl Recorder {
    /// Something the client sent.
    pub fn sent(&self, text: impl Into<String>, raw: Option<Vec<u8>>) {
        self.transcript
            .push(&self.actor, Direction::Sent, text, raw);
    }
    /// Something the server sent.
    pub fn received(&self, text: impl Into<String>, raw: Option<Vec<u8>>) {
        self.transcript
            .push(&self.actor, Direction::Received, text, raw);
    }
    /// An event.
    pub fn event(&self, text: impl Into<String>) {
        self.transcript
            .push(&self.actor, Direction::Event, text, None);
    }
    /// The actor this recorder belongs to.
    pub fn actor(&self) -> &str {
        &self.actor
    }
}

/// Renders entries as text lines: `  12.345ms alice >> <presence/>`.
pub fn render(entries: &[Entry], dropped: usize) -> String {
    let mut out = String::new();
    for e in entries {
        let arrow = match e.direction {
            Direction::Sent => ">>",
            Direction::Received => "<<",
            Direction::Event => "--",
        };
        out.push_str(&format!(
            "{:>10.3}ms {} {} {}\n",
            e.at.as_secs_f64() * 1000.0,
            e.actor,
            arrow,
            e.text
        ));
        if let Some(raw) = &e.raw {
            out.push_str(&format!("{:>12} {}\n", "hex", hex::encode(raw)));
        }
    }
    if dropped > 0 {
        out.push_str(&format!("... {dropped} more entries dropped\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_and_their_size_are_bounded() {
        let t = Transcript::new();
        let big = "é".repeat(MAX_ENTRY_BYTES);
        t.push(
            "a",
            Direction::Received,
            big,
            Some(vec![0; MAX_ENTRY_BYTES * 2]),
        );
        let (entries, dropped) = t.entries();
        assert_eq!(dropped, 0);
        assert!(entries[0].text.len() < MAX_ENTRY_BYTES + 64);
        assert!(
            entries[0]
                .text
                .ends_with(&format!("({} more bytes)", MAX_ENTRY_BYTES))
        );
        assert_eq!(entries[0].raw.as_ref().map(Vec::len), Some(MAX_ENTRY_BYTES));
        for _ in 0..MAX_ENTRIES + 5 {
            t.push("a", Direction::Sent, "x", None);
        }
        let (entries, dropped) = t.entries();
        assert_eq!((entries.len(), dropped), (MAX_ENTRIES, 6));
    }
}
