//! Watches the raw bytes a WebSocket server sends, under the WebSocket library, to see what a
//! close frame really carried: the library replaces an illegal close code with 1002, and a
//! conformance verdict must report what the server put on the wire.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The payload of the last close frame the server sent (at most 125 bytes are kept).
#[derive(Debug, Clone, Default)]
pub struct CloseSeen(Arc<Mutex<Option<Vec<u8>>>>);

impl CloseSeen {
    /// Takes the payload of the last close frame seen.
    pub fn take(&self) -> Option<Vec<u8>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

enum State {
    /// Inside the HTTP response; how many bytes of `\r\n\r\n` matched.
    Handshake(usize),
    /// Collecting a frame header.
    Header(Vec<u8>),
    /// Skipping (or, for a close frame, keeping) payload bytes.
    Payload { left: u64, close: Option<Vec<u8>> },
}

/// A byte stream that reports close frames it reads to a [`CloseSeen`].
pub struct Sniff<S> {
    inner: S,
    state: State,
    seen: CloseSeen,
}

impl<S> Sniff<S> {
    /// Wraps `inner`; the returned handle sees close frames.
    pub fn new(inner: S) -> (Self, CloseSeen) {
        let seen = CloseSeen::default();
        (
            Self {
                inner,
                state: State::Handshake(0),
                seen: seen.clone(),
            },
            seen,
        )
    }

    fn scan(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match &mut self.state {
                State::Handshake(n) => {
                    const END: &[u8] = b"\r\n\r\n";
                    let b = bytes[0];
                    bytes = &bytes[1..];
                    *n = if b == END[*n] {
                        *n + 1
                    } else if b == END[0] {
                        1
                    } else {
                        0
                    };
                    if *n == END.len() {
                        self.state = State::Header(Vec::new());
                    }
                }
                State::Header(h) => {
                    h.push(bytes[0]);
                    bytes = &bytes[1..];
                    if let Some((len, close)) = header_done(h) {
                        self.state = State::Payload {
                            left: len,
                            close: close.then(Vec::new),
                        };
                        self.finish_if_empty();
                    }
                }
                State::Payload { left, close } => {
                    let take = (*left).min(bytes.len() as u64) as usize;
                    if let Some(c) = close {
                        let room = 125usize.saturating_sub(c.len()).min(take);
                        c.extend_from_slice(&bytes[..room]);
                    }
                    *left -= take as u64;
                    bytes = &bytes[take..];
                    self.finish_if_empty();
                }
            }
        }
    }

    fn finish_if_empty(&mut self) {
        if let State::Payload { left: 0, close } = &mut self.state {
            if let Some(c) = close.take() {
                *self.seen.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(c);
            }
            self.state = State::Header(Vec::new());
        }
    }
}

/// When `h` holds a whole frame header: the payload length and whether it is a close frame.
fn header_done(h: &[u8]) -> Option<(u64, bool)> {
    if h.len() < 2 {
        return None;
    }
    let masked = h[1] & 0x80 != 0;
    let len7 = h[1] & 0x7f;
    let ext = match len7 {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let need = 2 + ext + if masked { 4 } else { 0 };
    if h.len() < need {
        return None;
    }
    let len = match ext {
        0 => u64::from(len7),
        2 => u64::from(u16::from_be_bytes([h[2], h[3]])),
        _ => u64::from_be_bytes(h[2..10].try_into().ok()?),
    };
    Some((len, h[0] & 0x0f == 0x8))
}

impl<S: AsyncRead + Unpin> AsyncRead for Sniff<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &r {
            let new = buf.filled()[before..].to_vec();
            self.scan(&new);
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Sniff<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sees_the_close_code_on_the_wire_across_chunks() {
        let (mut s, seen) = Sniff::new(tokio::io::empty());
        let mut wire = b"HTTP/1.1 101 Switching\r\nUpgrade: websocket\r\n\r\n".to_vec();
        wire.extend_from_slice(&[0x82, 0x03, 1, 2, 3]); // binary frame
        wire.extend_from_slice(&[0x88, 0x02, 0x03, 0xe7]); // close 999
        for chunk in wire.chunks(3) {
            s.scan(chunk);
        }
        assert_eq!(seen.take(), Some(vec![0x03, 0xe7]));
        assert_eq!(seen.take(), None);
    }

    #[test]
    fn long_payloads_are_skipped() {
        let (mut s, seen) = Sniff::new(tokio::io::empty());
        s.scan(b"\r\n\r\n");
        let mut f = vec![0x82, 126, 0x01, 0x00];
        f.extend(std::iter::repeat_n(0x88, 256));
        f.extend_from_slice(&[0x88, 0x00]);
        s.scan(&f);
        assert_eq!(seen.take(), Some(vec![]));
    }
}
