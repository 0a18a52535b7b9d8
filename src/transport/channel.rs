//! One client connection to a target, whatever the transport: bytes over TCP/TLS or messages
//! and raw frames over WebSocket, with bounded reads and deadlines on connect.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message};

use super::admission::Admission;
use super::endpoint::{Endpoint, TransportKind};
use super::sniff::{CloseSeen, Sniff};
use super::tls;

/// Any byte stream a channel can run on.
pub trait ByteStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> ByteStream for T {}

pub(super) type BoxStream = Pin<Box<dyn ByteStream>>;

/// Most bytes one read of a TCP/TLS stream takes.
const READ_CHUNK: usize = 16 * 1024;

/// Largest WebSocket message or frame accepted from a server.
pub const MAX_MESSAGE: usize = 1 << 20;

/// How to connect.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// WebSocket subprotocol to offer (`mqtt`, `xmpp`).
    pub subprotocol: Option<String>,
    /// Skip certificate verification.
    pub insecure: bool,
    /// Trust these CA certificates (`--ca FILE`, parsed once) instead of the system roots.
    pub trusted: Option<Arc<tls::CaRoots>>,
    /// Deadline for TCP connect + TLS + WebSocket handshake.
    pub timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            subprotocol: None,
            insecure: false,
            trusted: None,
            timeout: Duration::from_secs(5),
        }
    }
}

/// Why a connection could not be made or used.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// TCP connect failed (refused, unreachable, no such host).
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// host:port.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Connect, TLS or WebSocket handshake did not finish in time.
    #[error("no connection to {addr} within {secs:.1}s")]
    Timeout {
        /// host:port.
        addr: String,
        /// The deadline in seconds.
        secs: f64,
    },
    /// TLS setup or handshake failed.
    #[error("TLS with {addr} failed: {why}")]
    Tls {
        /// host:port.
        addr: String,
        /// Why.
        why: String,
    },
    /// The WebSocket upgrade was refused or malformed.
    #[error("WebSocket handshake with {url} failed: {why}")]
    Handshake {
        /// The URL.
        url: String,
        /// Why (HTTP status, missing headers...).
        why: String,
    },
    /// The server answered the upgrade without the offered subprotocol (or with another one).
    #[error("WebSocket handshake with {url}: {why}")]
    Subprotocol {
        /// The URL.
        url: String,
        /// What the server answered.
        why: String,
    },
    /// Writing failed.
    #[error("send failed: {0}")]
    Send(String),
    /// A raw frame was requested on a non-WebSocket transport.
    #[error("`frame` needs a WebSocket transport")]
    NotWebSocket,
}

/// How a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    /// TCP EOF (no WebSocket close frame).
    Eof,
    /// Connection reset or another read error.
    Reset(String),
    /// WebSocket close frame with its code (None: no status) and reason.
    WsClose {
        /// Close code.
        code: Option<u16>,
        /// Reason text.
        reason: String,
    },
    /// The peer broke the WebSocket protocol (e.g. a masked server frame) or a bound of
    /// wirecheck's, and wirecheck dropped the connection.
    WsProtocol {
        /// What was wrong.
        reason: String,
        /// The RFC 6455 statement the server broke, when it broke one (None: a limit of ours).
        spec: Option<&'static str>,
    },
}

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Closed::Eof => f.write_str("connection closed (EOF)"),
            Closed::Reset(why) => write!(f, "connection reset ({why})"),
            Closed::WsClose {
                code: Some(c),
                reason,
            } if !reason.is_empty() => {
                write!(f, "WebSocket close {c} \"{reason}\"")
            }
            Closed::WsClose { code: Some(c), .. } => write!(f, "WebSocket close {c}"),
            Closed::WsClose { code: None, .. } => f.write_str("WebSocket close (no status)"),
            Closed::WsProtocol { reason, .. } => write!(f, "WebSocket protocol error: {reason}"),
        }
    }
}

/// What one read produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// Bytes from a TCP/TLS stream (any chunking).
    Bytes(Vec<u8>),
    /// A WebSocket text message.
    Text(String),
    /// A WebSocket binary message.
    Binary(Vec<u8>),
    /// A WebSocket pong control frame, with its payload.
    Pong(Vec<u8>),
    /// The connection ended.
    Closed(Closed),
}

enum Inner {
    Stream(BoxStream),
    Ws(Box<WebSocketStream<BoxStream>>),
    Done,
}

/// An open connection.
pub struct Channel {
    inner: Inner,
    subprotocol: Option<String>,
    closed: Option<Closed>,
    close_seen: CloseSeen,
    violations: Vec<(&'static str, String)>,
    /// Its place among the connections the server has not answered yet.
    admission: Admission,
}

/// The RFC 6455 statement a WebSocket error of the server breaks (None: none, or a bound of ours).
fn ws_rule(e: &tungstenite::Error) -> Option<&'static str> {
    use tungstenite::error::ProtocolError as P;
    match e {
        tungstenite::Error::Protocol(p) => match p {
            P::MaskedFrameFromServer => Some("RFC6455-5.1-4"),
            P::NonZeroReservedBits => Some("RFC6455-5.2-2"),
            P::UnknownControlFrameType(_) | P::UnknownDataFrameType(_) | P::InvalidOpcode(_) => {
                Some("RFC6455-5.2-4")
            }
            P::FragmentedControlFrame | P::ControlFrameTooBig => Some("RFC6455-5.5-1"),
            P::InvalidCloseSequence => Some("RFC6455-5.5.1-2"),
            _ => None,
        },
        tungstenite::Error::Utf8(_) => Some("RFC6455-8.1-1"),
        _ => None,
    }
}

/// The statement a close code on the wire breaks, if it is not one an endpoint may send.
fn close_code_rule(code: u16) -> Option<&'static str> {
    match code {
        1005 => Some("RFC6455-7.4.1-3"),
        1006 => Some("RFC6455-7.4.1-4"),
        1015 => Some("RFC6455-7.4.1-6"),
        1000..=1003 | 1007..=1014 | 3000..=4999 => None,
        _ => Some("RFC6455-5.5.1-2"),
    }
}

/// TCP (and TLS for mqtts/wss) to `endpoint`, without any deadline of its own: callers bound it.
pub(super) async fn byte_stream(
    endpoint: &Endpoint,
    opts: &ConnectOptions,
) -> Result<BoxStream, TransportError> {
    let addr = endpoint.authority();
    let tcp = TcpStream::connect((endpoint.host.as_str(), endpoint.port))
        .await
        .map_err(|source| TransportError::Connect {
            addr: addr.clone(),
            source,
        })?;
    let _ = tcp.set_nodelay(true);
    let stream: BoxStream = if endpoint.kind.is_tls() {
        let alpn: &[&[u8]] = match (endpoint.kind, opts.subprotocol.as_deref()) {
            (TransportKind::Tls, _) => &[b"mqtt"],
            _ => &[b"http/1.1"],
        };
        let config =
            tls::client_config(opts.trusted.as_deref(), opts.insecure, alpn).map_err(|e| {
                TransportError::Tls {
                    addr: addr.clone(),
                    why: e.to_string(),
                }
            })?;
        let name = rustls::pki_types::ServerName::try_from(endpoint.host.clone()).map_err(|e| {
            TransportError::Tls {
                addr: addr.clone(),
                why: format!("bad server name: {e}"),
            }
        })?;
        let connector = tokio_rustls::TlsConnector::from(config);
        let tls = connector
            .connect(name, tcp)
            .await
            .map_err(|e| TransportError::Tls {
                addr: addr.clone(),
                why: e.to_string(),
            })?;
        Box::pin(tls)
    } else {
        Box::pin(tcp)
    };
    Ok(stream)
}

impl Channel {
    /// Connects to `endpoint` with the deadline of `opts`.
    pub async fn connect(
        endpoint: &Endpoint,
        opts: &ConnectOptions,
    ) -> Result<Channel, TransportError> {
        let addr = endpoint.authority();
        match tokio::time::timeout(opts.timeout, Self::connect_inner(endpoint, opts)).await {
            Ok(r) => r,
            Err(_) => Err(TransportError::Timeout {
                addr,
                secs: opts.timeout.as_secs_f64(),
            }),
        }
    }

    async fn connect_inner(
        endpoint: &Endpoint,
        opts: &ConnectOptions,
    ) -> Result<Channel, TransportError> {
        let mut admission = Admission::acquire().await;
        let stream = byte_stream(endpoint, opts).await?;
        if endpoint.kind.is_tls() {
            // The TLS handshake was the server's answer.
            admission.answered();
        }
        if !endpoint.kind.is_websocket() {
            return Ok(Channel {
                inner: Inner::Stream(stream),
                subprotocol: None,
                closed: None,
                close_seen: CloseSeen::default(),
                violations: Vec::new(),
                admission,
            });
        }
        let (sniffed, close_seen) = Sniff::new(stream);
        let stream: BoxStream = Box::pin(sniffed);
        let url = endpoint.to_string();
        let mut request =
            url.as_str()
                .into_client_request()
                .map_err(|e| TransportError::Handshake {
                    url: url.clone(),
                    why: e.to_string(),
                })?;
        if let Some(p) = &opts.subprotocol {
            let v = HeaderValue::from_str(p).map_err(|e| TransportError::Handshake {
                url: url.clone(),
                why: e.to_string(),
            })?;
            request.headers_mut().insert("Sec-WebSocket-Protocol", v);
        }
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE))
            .max_frame_size(Some(MAX_MESSAGE));
        let (ws, response) =
            tokio_tungstenite::client_async_with_config(request, stream, Some(config))
                .await
                .map_err(|e| match e {
                    tungstenite::Error::Protocol(
                        tungstenite::error::ProtocolError::SecWebSocketSubProtocolError(sub),
                    ) => TransportError::Subprotocol {
                        url: url.clone(),
                        why: sub.to_string(),
                    },
                    tungstenite::Error::Http(resp) => TransportError::Handshake {
                        url: url.clone(),
                        why: format!("HTTP {} instead of 101", resp.status()),
                    },
                    other => TransportError::Handshake {
                        url: url.clone(),
                        why: other.to_string(),
                    },
                })?;
        let subprotocol = response
            .headers()
            .get("Sec-WebSocket-Protocol")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        // The handshake's 101 was the server's answer.
        admission.answered();
        Ok(Channel {
            inner: Inner::Ws(Box::new(ws)),
            subprotocol,
            closed: None,
            close_seen,
            violations: Vec::new(),
            admission,
        })
    }

    /// The subprotocol the server selected in the WebSocket handshake.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// Sends bytes: a TCP write, or one binary WebSocket message.
    pub async fn send_bytes(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        match &mut self.inner {
            Inner::Stream(s) => {
                s.write_all(bytes).await.map_err(send_err)?;
                s.flush().await.map_err(send_err)
            }
            Inner::Ws(ws) => ws
                .send(Message::Binary(bytes.to_vec().into()))
                .await
                .map_err(|e| TransportError::Send(e.to_string())),
            Inner::Done => Err(TransportError::Send("connection already closed".into())),
        }
    }

    /// Sends text: a TCP write, or one text WebSocket message.
    pub async fn send_text(&mut self, text: &str) -> Result<(), TransportError> {
        match &mut self.inner {
            Inner::Stream(_) => self.send_bytes(text.as_bytes()).await,
            Inner::Ws(ws) => ws
                .send(Message::Text(text.to_string().into()))
                .await
                .map_err(|e| TransportError::Send(e.to_string())),
            Inner::Done => Err(TransportError::Send("connection already closed".into())),
        }
    }

    /// Sends one raw WebSocket frame exactly as described.
    pub async fn send_frame(
        &mut self,
        opcode: u8,
        fin: bool,
        rsv: u8,
        payload: Vec<u8>,
    ) -> Result<(), TransportError> {
        let Inner::Ws(ws) = &mut self.inner else {
            return Err(TransportError::NotWebSocket);
        };
        let header = FrameHeader {
            is_final: fin,
            rsv1: rsv & 4 != 0,
            rsv2: rsv & 2 != 0,
            rsv3: rsv & 1 != 0,
            opcode: OpCode::from(opcode),
            mask: None,
        };
        ws.send(Message::Frame(Frame::from_payload(header, payload.into())))
            .await
            .map_err(|e| TransportError::Send(e.to_string()))
    }

    /// Reads what comes next; cancel-safe, so callers wrap it in a deadline.
    pub async fn recv(&mut self) -> Received {
        if let Some(c) = &self.closed {
            return Received::Closed(c.clone());
        }
        let got = self.recv_inner().await;
        self.admission.answered();
        got
    }

    async fn recv_inner(&mut self) -> Received {
        let got = match &mut self.inner {
            Inner::Stream(s) => {
                // Into fresh spare capacity: no zeroed buffer per connection, no copy per read.
                let mut buf = Vec::with_capacity(READ_CHUNK);
                match s.read_buf(&mut buf).await {
                    Ok(0) => Received::Closed(Closed::Eof),
                    Ok(_) => Received::Bytes(buf),
                    Err(e) => Received::Closed(Closed::Reset(e.to_string())),
                }
            }
            Inner::Ws(ws) => loop {
                match ws.next().await {
                    None => break Received::Closed(Closed::Eof),
                    Some(Ok(Message::Text(t))) => break Received::Text(t.to_string()),
                    Some(Ok(Message::Binary(b))) => break Received::Binary(b.to_vec()),
                    Some(Ok(Message::Ping(_))) => {
                        // tungstenite queues the pong; push it out now.
                        let _ = ws.flush().await;
                        continue;
                    }
                    Some(Ok(Message::Pong(p))) => break Received::Pong(p.to_vec()),
                    Some(Ok(Message::Close(frame))) => {
                        let _ = ws.flush().await;
                        // What the frame carried on the wire, not the library's substitute.
                        let wire = self.close_seen.take();
                        let code = match &wire {
                            Some(p) if p.len() >= 2 => Some(u16::from_be_bytes([p[0], p[1]])),
                            Some(_) => None,
                            None => frame.as_ref().map(|f| u16::from(f.code)),
                        };
                        if let Some(c) = code
                            && let Some(rule) = close_code_rule(c)
                        {
                            self.violations.push((
                                rule,
                                format!("the server sent close code {c}, which an endpoint must not send"),
                            ));
                        }
                        let reason = match (&wire, &frame) {
                            (Some(p), _) if p.len() > 2 => {
                                String::from_utf8_lossy(&p[2..]).into_owned()
                            }
                            (Some(_), _) => String::new(),
                            (None, Some(f)) => f.reason.to_string(),
                            (None, None) => String::new(),
                        };
                        break Received::Closed(Closed::WsClose { code, reason });
                    }
                    Some(Ok(Message::Frame(_))) => continue,
                    Some(Err(tungstenite::Error::ConnectionClosed))
                    | Some(Err(tungstenite::Error::AlreadyClosed)) => {
                        break Received::Closed(Closed::Eof);
                    }
                    Some(Err(tungstenite::Error::Io(e))) => {
                        break Received::Closed(Closed::Reset(e.to_string()));
                    }
                    Some(Err(tungstenite::Error::Protocol(
                        tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
                    ))) => break Received::Closed(Closed::Eof),
                    Some(Err(e)) => {
                        break Received::Closed(Closed::WsProtocol {
                            spec: ws_rule(&e),
                            reason: e.to_string(),
                        });
                    }
                }
            },
            Inner::Done => Received::Closed(Closed::Eof),
        };
        if let Received::Closed(c) = &got {
            self.closed = Some(c.clone());
            // RFC 6455 §7.1.1: once the close is done, the TCP connection goes too; holding it
            // would keep a server waiting on a session that has ended.
            self.inner = Inner::Done;
        }
        got
    }

    /// WebSocket rules the server broke that did not end the connection: (statement, detail).
    pub fn take_violations(&mut self) -> Vec<(&'static str, String)> {
        std::mem::take(&mut self.violations)
    }

    /// Starts a polite close: a WebSocket close frame (code 1000) or a TCP write shutdown.
    /// The caller may then `recv` until `Closed` to see the server's side.
    pub async fn close(&mut self) -> Result<(), TransportError> {
        match &mut self.inner {
            Inner::Stream(s) => s.shutdown().await.map_err(send_err),
            Inner::Ws(ws) => ws
                .close(Some(CloseFrame {
                    code: CloseCode::Normal,
                    reason: "".into(),
                }))
                .await
                .map_err(|e| TransportError::Send(e.to_string())),
            Inner::Done => Ok(()),
        }
    }

    /// Drops the connection at once (no close handshake).
    pub fn abort(&mut self) {
        self.inner = Inner::Done;
        if self.closed.is_none() {
            self.closed = Some(Closed::Eof);
        }
    }
}

fn send_err(e: std::io::Error) -> TransportError {
    TransportError::Send(e.to_string())
}
