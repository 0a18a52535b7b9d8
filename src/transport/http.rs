//! A minimal HTTP/1.1 client for probes: one request on a connection of its own (a GET, or a
//! WebSocket upgrade offer whose answer is read and the connection dropped), deadlined, with a
//! bounded head and body.

use std::time::Duration;

use base64::Engine as _;
use rand::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::channel::{ConnectOptions, TransportError, byte_stream};
use super::endpoint::Endpoint;

/// Largest response head (status line and headers) accepted.
pub const MAX_HEAD: usize = 16 * 1024;
/// Largest response body accepted.
pub const MAX_BODY: usize = 256 * 1024;

/// A response: status, headers in order, body (empty for an upgrade answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Header (name, value) pairs as sent.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// Every value of header `name` (case-insensitive), in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The first value of header `name`, if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_all(name).first().copied()
    }
}

/// Why a probe request got no usable response.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// No connection.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// Reading or writing failed.
    #[error("HTTP I/O: {0}")]
    Io(String),
    /// No complete response before the deadline.
    #[error("no HTTP response within {secs:.1}s")]
    Timeout {
        /// The deadline in seconds.
        secs: f64,
    },
    /// The response is not HTTP/1.x as this client reads it.
    #[error("malformed HTTP response: {0}")]
    Malformed(String),
    /// The head or body exceeds this client's bound.
    #[error("the HTTP response {0} exceeds {1} bytes")]
    TooLarge(&'static str, usize),
}

/// GETs `path` on the origin of `endpoint` (same host, port and TLS) within `timeout`.
pub async fn get(
    endpoint: &Endpoint,
    path: &str,
    opts: &ConnectOptions,
    timeout: Duration,
) -> Result<HttpResponse, HttpError> {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept: */*\r\nUser-Agent: wirecheck\r\nConnection: close\r\n\r\n",
        endpoint.authority()
    );
    bounded(exchange(endpoint, request, true, opts), timeout).await
}

/// Sends a WebSocket upgrade request for `endpoint` offering `subprotocols` (no header when
/// empty), reads the answer's head and drops the connection, within `timeout`.
pub async fn ws_offer(
    endpoint: &Endpoint,
    subprotocols: &[String],
    opts: &ConnectOptions,
    timeout: Duration,
) -> Result<HttpResponse, HttpError> {
    let key: [u8; 16] = rand::rng().random();
    let mut request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\n",
        endpoint.path,
        endpoint.authority(),
        base64::engine::general_purpose::STANDARD.encode(key)
    );
    if !subprotocols.is_empty() {
        request.push_str(&format!(
            "Sec-WebSocket-Protocol: {}\r\n",
            subprotocols.join(", ")
        ));
    }
    request.push_str("\r\n");
    bounded(exchange(endpoint, request, false, opts), timeout).await
}

async fn bounded(
    f: impl Future<Output = Result<HttpResponse, HttpError>>,
    timeout: Duration,
) -> Result<HttpResponse, HttpError> {
    tokio::time::timeout(timeout, f)
        .await
        .unwrap_or(Err(HttpError::Timeout {
            secs: timeout.as_secs_f64(),
        }))
}

async fn exchange(
    endpoint: &Endpoint,
    request: String,
    read_body: bool,
    opts: &ConnectOptions,
) -> Result<HttpResponse, HttpError> {
    let mut stream = byte_stream(endpoint, opts).await?;
    let io = |e: std::io::Error| HttpError::Io(e.to_string());
    stream.write_all(request.as_bytes()).await.map_err(io)?;
    stream.flush().await.map_err(io)?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD {
            return Err(HttpError::TooLarge("head", MAX_HEAD));
        }
        let n = stream.read(&mut chunk).await.map_err(io)?;
        if n == 0 {
            return Err(HttpError::Malformed(
                "the connection closed before the end of the response head".into(),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    if head_end > MAX_HEAD {
        return Err(HttpError::TooLarge("head", MAX_HEAD));
    }
    let (status, headers) = parse_head(&buf[..head_end])?;
    let mut body = buf[head_end + 4..].to_vec();
    if !read_body {
        return Ok(HttpResponse {
            status,
            headers,
            body: Vec::new(),
        });
    }
    let mut response = HttpResponse {
        status,
        headers,
        body: Vec::new(),
    };
    let length = match response.header("Content-Length") {
        Some(v) => Some(
            v.trim()
                .parse::<usize>()
                .map_err(|_| HttpError::Malformed(format!("Content-Length {v:?}")))?,
        ),
        None => None,
    };
    if length.is_some_and(|n| n > MAX_BODY) {
        return Err(HttpError::TooLarge("body", MAX_BODY));
    }
    // Connection: close was asked for, so the body ends at EOF at the latest.
    loop {
        if length.is_some_and(|n| body.len() >= n) {
            break;
        }
        if body.len() > MAX_BODY * 2 {
            return Err(HttpError::TooLarge("body", MAX_BODY));
        }
        let n = stream.read(&mut chunk).await.map_err(io)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let chunked = response
        .header("Transfer-Encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    response.body = if chunked {
        dechunk(&body)?
    } else {
        if let Some(n) = length {
            body.truncate(n);
        }
        body
    };
    if response.body.len() > MAX_BODY {
        return Err(HttpError::TooLarge("body", MAX_BODY));
    }
    Ok(response)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Parses a status line and header lines.
fn parse_head(head: &[u8]) -> Result<(u16, Vec<(String, String)>), HttpError> {
    let text = std::str::from_utf8(head)
        .map_err(|_| HttpError::Malformed("the response head is not UTF-8".into()))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(HttpError::Malformed(format!("status line {status_line:?}")));
    }
    let status = parts
        .next()
        .and_then(|c| c.parse::<u16>().ok())
        .filter(|c| (100..=999).contains(c))
        .ok_or_else(|| HttpError::Malformed(format!("status line {status_line:?}")))?;
    let mut headers = Vec::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(HttpError::Malformed(format!("header line {line:?}")));
        };
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    Ok((status, headers))
}

/// Decodes a chunked body (RFC 9112 7.1); trailers are ignored.
fn dechunk(mut raw: &[u8]) -> Result<Vec<u8>, HttpError> {
    let mut out = Vec::new();
    loop {
        let line_end = find(raw, b"\r\n")
            .ok_or_else(|| HttpError::Malformed("a chunk size line without CRLF".into()))?;
        let size_text = std::str::from_utf8(&raw[..line_end]).unwrap_or_default();
        let size_hex = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| HttpError::Malformed(format!("chunk size {size_text:?}")))?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if size > MAX_BODY || raw.len() < size {
            return Err(HttpError::Malformed("a chunk longer than the body".into()));
        }
        out.extend_from_slice(&raw[..size]);
        if out.len() > MAX_BODY {
            return Err(HttpError::TooLarge("body", MAX_BODY));
        }
        raw = raw.get(size + 2..).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_is_parsed() {
        let (status, headers) =
            parse_head(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Protocol:  xmpp ")
                .unwrap();
        assert_eq!(status, 101);
        let r = HttpResponse {
            status,
            headers,
            body: Vec::new(),
        };
        assert_eq!(r.header("sec-websocket-protocol"), Some("xmpp"));
        assert_eq!(r.header("Connection"), None);
    }

    #[test]
    fn bad_heads_are_malformed() {
        for head in [
            &b"ICY 200 OK"[..],
            b"HTTP/1.1 abc",
            b"HTTP/1.1 200 OK\r\nno colon",
            b"\xff",
        ] {
            assert!(matches!(parse_head(head), Err(HttpError::Malformed(_))));
        }
    }

    #[test]
    fn chunks_are_joined() {
        assert_eq!(
            dechunk(b"5\r\nhello\r\n1;x=y\r\n!\r\n0\r\n\r\n").unwrap(),
            b"hello!"
        );
        assert!(dechunk(b"zz\r\n").is_err());
        assert!(dechunk(b"9\r\nshort\r\n").is_err());
    }
}
