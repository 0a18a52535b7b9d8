//! The typed transcript of a case: every message both ways with its step, actor, time, decoded
//! form and raw bytes, and typed events (connected, closed — and by whom —, violations).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::violation::Violation;

/// Which way an entry went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Client (wirecheck) to server.
    Sent,
    /// Server to client.
    Received,
    /// Something that happened (connect, close, violation).
    Event,
}

/// Who ended a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClosedBy {
    /// The server (close frame, EOF, reset).
    Peer,
    /// wirecheck itself: politely at the end of a step, or because the server broke a rule.
    Wirecheck,
}

/// How a connection ended, as data.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "how", rename_all = "snake_case")]
pub enum CloseHow {
    /// TCP end of stream with no WebSocket close frame.
    Eof,
    /// Reset or another read error.
    Reset {
        /// The OS's words.
        reason: String,
    },
    /// A WebSocket close frame as the server sent it.
    WsClose {
        /// The close code on the wire (None: no status code).
        code: Option<u16>,
        /// The reason text.
        reason: String,
    },
    /// The server broke the WebSocket protocol and wirecheck dropped the connection.
    WsProtocol {
        /// What was wrong.
        reason: String,
    },
    /// wirecheck could not decode the stream any more and stopped reading.
    Unusable {
        /// Why.
        reason: String,
    },
    /// wirecheck closed it (polite goodbye or case end).
    Local,
}

impl std::fmt::Display for CloseHow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CloseHow::Eof => f.write_str("connection closed (EOF)"),
            CloseHow::Reset { reason } => write!(f, "connection reset ({reason})"),
            CloseHow::WsClose {
                code: Some(c),
                reason,
            } if !reason.is_empty() => write!(f, "WebSocket close {c} \"{reason}\""),
            CloseHow::WsClose { code: Some(c), .. } => write!(f, "WebSocket close {c}"),
            CloseHow::WsClose { code: None, .. } => f.write_str("WebSocket close (no status)"),
            CloseHow::WsProtocol { reason } => {
                write!(f, "wirecheck dropped the connection: {reason}")
            }
            CloseHow::Unusable { reason } => {
                write!(f, "wirecheck stopped reading: {reason}")
            }
            CloseHow::Local => f.write_str("closed by wirecheck"),
        }
    }
}

/// A typed transcript event.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A transport connection was made.
    Connected {
        /// `tcp`, `tls`, `ws` or `wss`.
        transport: String,
        /// The WebSocket subprotocol the server selected.
        #[serde(skip_serializing_if = "Option::is_none")]
        subprotocol: Option<String>,
    },
    /// A connection attempt failed.
    ConnectFailed {
        /// Why.
        reason: String,
    },
    /// The connection ended.
    Closed {
        /// Who ended it.
        by: ClosedBy,
        /// How.
        #[serde(flatten)]
        how: CloseHow,
    },
    /// An always-on rule was broken.
    Violation {
        /// The statement.
        spec: String,
        /// What was observed.
        detail: String,
    },
    /// A macro reached a milestone (`logged in as ...`), or cleanup said something.
    Note {
        /// The words.
        text: String,
    },
}

impl Event {
    /// The event as one line.
    pub fn summary(&self) -> String {
        match self {
            Event::Connected {
                transport,
                subprotocol: Some(p),
            } => format!("connected over {transport} (subprotocol {p})"),
            Event::Connected { transport, .. } => format!("connected over {transport}"),
            Event::ConnectFailed { reason } => format!("connect failed: {reason}"),
            Event::Closed {
                by: ClosedBy::Peer,
                how,
            } => format!("closed by the server: {how}"),
            Event::Closed { how, .. } => how.to_string(),
            Event::Violation { spec, detail } => format!("violation [{spec}] {detail}"),
            Event::Note { text } => text.clone(),
        }
    }

    /// The event for a violation.
    pub fn violation(v: &Violation) -> Event {
        Event::Violation {
            spec: v.spec.clone(),
            detail: v.detail.clone(),
        }
    }
}

/// Bytes on the wire, bounded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Raw {
    /// The first bytes, as hex in reports.
    #[serde(serialize_with = "ser_hex")]
    pub bytes: Vec<u8>,
    /// How many bytes were cut off beyond the bound (0: complete).
    #[serde(skip_serializing_if = "is_zero")]
    pub truncated: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn ser_hex<S: serde::Serializer>(raw: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(raw))
}

impl Raw {
    /// Keeps at most [`MAX_ENTRY_BYTES`] of `bytes`, noting how many were cut.
    pub fn bounded(bytes: &[u8]) -> Raw {
        let keep = bytes.len().min(MAX_ENTRY_BYTES);
        Raw {
            bytes: bytes[..keep].to_vec(),
            truncated: bytes.len() - keep,
        }
    }
}

/// A message, decoded: its structured form and its one-line summary.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MessageData {
    /// The protocol's data model of the message (MQTT packet fields, XML element tree).
    pub data: Value,
    /// One line for people: `PUBLISH {...}`, `<presence/>`.
    pub summary: String,
}

/// One entry of a transcript.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Entry {
    /// Time since the case started, in milliseconds.
    #[serde(rename = "at_ms", serialize_with = "ser_ms")]
    pub at: Duration,
    /// Index of the case step that was running (None: set-up or cleanup).
    pub step: Option<usize>,
    /// Actor name (`cleanup` for the case's cleanup connection).
    pub actor: String,
    /// Direction.
    pub direction: Direction,
    /// For a sent message: its index among all messages the case sent (from 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// The decoded message (sent or received).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<MessageData>,
    /// The event, for event entries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<Event>,
    /// The bytes on the wire (withheld when they carry credentials).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<Raw>,
    /// The decoder flagged this message (a violation, or not decodable).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub flagged: bool,
}

impl Entry {
    /// The entry as one line of text (message summary or event), bounded.
    pub fn summary(&self) -> String {
        let s = match (&self.message, &self.event) {
            // Cut when recorded.
            (Some(m), _) => return m.summary.clone(),
            (None, Some(e)) => e.summary(),
            (None, None) => match &self.raw {
                Some(r) => format!("{} bytes", r.bytes.len() + r.truncated),
                None => String::new(),
            },
        };
        cut_text(s)
    }
}

fn ser_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1_000_000.0).round() / 1000.0)
}

/// Most entries kept per case; beyond it the transcript says how many were dropped.
pub const MAX_ENTRIES: usize = 10_000;

/// Most bytes of text or raw data kept per entry; the rest is cut with a note saying how much.
pub const MAX_ENTRY_BYTES: usize = 16 * 1024;

/// Cuts `text` to [`MAX_ENTRY_BYTES`] at a char boundary, saying how much was cut.
pub fn cut_text(mut text: String) -> String {
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

/// Bounds a message: its summary is cut, and decoded data whose summary (which shows the same
/// fields) runs far past the bound is not kept.
fn cut_value(v: MessageData) -> MessageData {
    let size = v.summary.len();
    let data = if size > MAX_ENTRY_BYTES * 4 {
        serde_json::json!({ "truncated": format!("about {size} bytes of decoded data not kept") })
    } else {
        v.data
    };
    MessageData {
        data,
        summary: cut_text(v.summary),
    }
}

#[derive(Debug)]
struct Shared {
    start: Instant,
    step: AtomicUsize,
    sent: AtomicUsize,
    entries: Mutex<(Vec<Entry>, usize)>,
}

/// A shared, append-only transcript for one case run.
#[derive(Debug, Clone)]
pub struct Transcript {
    inner: Arc<Shared>,
}

/// Marks "no step running" in the step cell.
const NO_STEP: usize = usize::MAX;

impl Transcript {
    /// A new transcript whose clock starts now.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Shared {
                start: Instant::now(),
                step: AtomicUsize::new(NO_STEP),
                sent: AtomicUsize::new(0),
                entries: Mutex::new((Vec::new(), 0)),
            }),
        }
    }

    /// Sets the index of the step now running (None: set-up or cleanup).
    pub fn set_step(&self, step: Option<usize>) {
        self.inner
            .step
            .store(step.unwrap_or(NO_STEP), Ordering::Relaxed);
    }

    /// The step now running.
    pub fn step(&self) -> Option<usize> {
        match self.inner.step.load(Ordering::Relaxed) {
            NO_STEP => None,
            s => Some(s),
        }
    }

    /// Takes the next case-wide index for a sent message.
    pub fn next_sent_index(&self) -> usize {
        self.inner.sent.fetch_add(1, Ordering::Relaxed)
    }

    fn push(&self, mut entry: Entry) {
        entry.at = self.inner.start.elapsed();
        entry.step = self.step();
        entry.message = entry.message.map(cut_value);
        let mut g = self.inner.entries.lock().unwrap_or_else(|p| p.into_inner());
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
        let g = self.inner.entries.lock().unwrap_or_else(|p| p.into_inner());
        (g.0.clone(), g.1)
    }

    /// Takes the entries out (the transcript is empty afterwards) and the count dropped; for
    /// the end of a case, where nothing records any more, without copying them.
    pub fn take_entries(&self) -> (Vec<Entry>, usize) {
        let mut g = self.inner.entries.lock().unwrap_or_else(|p| p.into_inner());
        (std::mem::take(&mut g.0), g.1)
    }
}

impl Default for Transcript {
    fn default() -> Self {
        Self::new()
    }
}

/// Records transcript entries for one actor.
#[derive(Debug, Clone)]
pub struct Recorder {
    transcript: Transcript,
    actor: String,
}

impl Recorder {
    fn entry(&self, direction: Direction) -> Entry {
        Entry {
            at: Duration::ZERO,
            step: None,
            actor: self.actor.clone(),
            direction,
            index: None,
            message: None,
            event: None,
            raw: None,
            flagged: false,
        }
    }

    /// A message wirecheck sent, with its case-wide index.
    pub fn sent(&self, index: usize, message: Option<MessageData>, raw: Option<Raw>) {
        let mut e = self.entry(Direction::Sent);
        e.index = Some(index);
        e.message = message;
        e.raw = raw;
        self.transcript.push(e);
    }

    /// A message the server sent; `flagged` when the decoder found something wrong with it.
    pub fn received(&self, message: Option<MessageData>, raw: Option<Raw>, flagged: bool) {
        let mut e = self.entry(Direction::Received);
        e.message = message;
        e.raw = raw;
        e.flagged = flagged;
        self.transcript.push(e);
    }

    /// An event.
    pub fn event(&self, event: Event) {
        let mut e = self.entry(Direction::Event);
        e.event = Some(event);
        self.transcript.push(e);
    }

    /// A free-form note event.
    pub fn note(&self, text: impl Into<String>) {
        self.event(Event::Note { text: text.into() });
    }

    /// The actor this recorder belongs to.
    pub fn actor(&self) -> &str {
        &self.actor
    }
}

/// Renders entries as text lines: `  12.345ms #3 alice >> <presence/>`.
pub fn render(entries: &[Entry], dropped: usize) -> String {
    let mut out = String::new();
    for e in entries {
        let arrow = match e.direction {
            Direction::Sent => ">>",
            Direction::Received => "<<",
            Direction::Event => "--",
        };
        let step = e.step.map(|s| format!("#{}", s + 1)).unwrap_or("  ".into());
        out.push_str(&format!(
            "{:>10.3}ms {step:>3} {} {} {}\n",
            e.at.as_secs_f64() * 1000.0,
            e.actor,
            arrow,
            e.summary()
        ));
        if let Some(raw) = &e.raw
            && (e.message.is_none() || e.flagged)
        {
            out.push_str(&format!("{:>12} {}\n", "hex", hex::encode(&raw.bytes)));
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
        let r = t.recorder("a");
        let big = "é".repeat(MAX_ENTRY_BYTES);
        r.received(
            Some(MessageData {
                data: Value::Null,
                summary: big,
            }),
            Some(Raw::bounded(&vec![0; MAX_ENTRY_BYTES * 2])),
            false,
        );
        let (entries, dropped) = t.entries();
        assert_eq!(dropped, 0);
        let s = entries[0].summary();
        assert!(s.len() < MAX_ENTRY_BYTES + 64);
        assert!(s.ends_with(&format!("({} more bytes)", MAX_ENTRY_BYTES)));
        let raw = entries[0].raw.as_ref().unwrap();
        assert_eq!(
            (raw.bytes.len(), raw.truncated),
            (MAX_ENTRY_BYTES, MAX_ENTRY_BYTES)
        );
        for _ in 0..MAX_ENTRIES + 5 {
            r.note("x");
        }
        let (entries, dropped) = t.entries();
        assert_eq!((entries.len(), dropped), (MAX_ENTRIES, 6));
    }

    #[test]
    fn entries_carry_the_running_step() {
        let t = Transcript::new();
        let r = t.recorder("a");
        r.note("before");
        t.set_step(Some(2));
        r.sent(t.next_sent_index(), None, None);
        let (entries, _) = t.entries();
        assert_eq!(entries[0].step, None);
        assert_eq!((entries[1].step, entries[1].index), (Some(2), Some(0)));
    }
}
