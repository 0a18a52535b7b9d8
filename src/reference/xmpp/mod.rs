//! The built-in reference XMPP-over-WebSocket server (RFC 7395), wirecheck's zero-setup default target.

mod discovery;
mod fault;
mod muc;
mod register;
mod roster;
mod router;
mod session;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{Instant, sleep_until, timeout};
use tokio_tungstenite::accept_hdr_async_with_config;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::header::SEC_WEBSOCKET_PROTOCOL;
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

pub use fault::{UnknownFault, XmppFault};
use router::{QUEUE, Router};
use session::{Out, Session, Shared};

/// The HTTP path of the WebSocket endpoint.
pub const PATH: &str = "/xmpp-websocket";
/// Largest WebSocket message (and frame) accepted.
pub const MAX_MESSAGE: usize = crate::xmpp::framing::MAX_MESSAGE;
/// A connection silent for this long gets `<connection-timeout/>`.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Time allowed for the HTTP upgrade.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time to wait for the peer's WebSocket close frame after sending ours.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// Most simultaneous connections; more are refused.
const MAX_CONNECTIONS: usize = 1024;

/// How to run the reference XMPP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmppServerConfig {
    /// Address to listen on (tests use 127.0.0.1).
    pub bind: IpAddr,
    /// TCP port; 0 picks an ephemeral one.
    pub port: u16,
    /// The XMPP service domain (`localhost`).
    pub domain: String,
    /// Accounts as (user, password); user names compare case-insensitively.
    pub accounts: Vec<(String, String)>,
    /// Deliberate deviations to switch on.
    pub faults: BTreeSet<XmppFault>,
}

impl Default for XmppServerConfig {
    /// Loopback, ephemeral port, domain `localhost`, twelve accounts (alice, bob, carol, ...) with password `secret`.
    fn default() -> Self {
        Self {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            domain: "localhost".to_string(),
            accounts: [
                "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
                "mallory", "niaj",
            ]
            .iter()
            .map(|u| (u.to_string(), "secret".to_string()))
            .collect(),
            faults: BTreeSet::new(),
        }
    }
}

/// A running reference server; it stops on [`XmppServerHandle::shutdown`] or when dropped.
#[derive(Debug)]
pub struct XmppServerHandle {
    /// The address it listens on; the endpoint is `ws://addr/xmpp-websocket`.
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl XmppServerHandle {
    /// The WebSocket URL of the endpoint.
    pub fn url(&self) -> String {
        format!("ws://{}{PATH}", self.addr)
    }

    /// Stops accepting, ends every session with `<system-shutdown/>`, and waits for the server task.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for XmppServerHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Starts the reference server on `config.bind:config.port` and returns once it listens.
pub async fn start(config: XmppServerConfig) -> std::io::Result<XmppServerHandle> {
    let listener = TcpListener::bind((config.bind, config.port)).await?;
    let addr = listener.local_addr()?;
    let shared = Arc::new(Shared {
        domain: config.domain.to_ascii_lowercase(),
        accounts: register::Accounts::new(&config.accounts),
        faults: config.faults,
        router: Router::default(),
        rosters: roster::Rosters::default(),
        muc: muc::Muc::default(),
        parked: Default::default(),
    });
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(accept_loop(listener, shared, stopped));
    Ok(XmppServerHandle {
        addr,
        stop,
        task: Some(task),
    })
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    let mut next_conn: u64 = 0;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    if conns.len() >= MAX_CONNECTIONS {
                        drop(stream);
                        continue;
                    }
                    next_conn += 1;
                    conns.spawn(connection(stream, shared.clone(), next_conn, stopped.clone()));
                }
                Err(e) => {
                    tracing::warn!("reference xmpp: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            changed = stopped.changed() => {
                if changed.is_err() || *stopped.borrow() {
                    break;
                }
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    let drain = async { while conns.join_next().await.is_some() {} };
    if timeout(CLOSE_WAIT * 2, drain).await.is_err() {
        conns.abort_all();
    }
}

/// Accepts the upgrade only with subprotocol `xmpp` on [`PATH`] (RFC7395-3.1-2); with fault
/// `echo-subprotocol` it accepts any offer and selects the first subprotocol offered.
#[allow(clippy::result_large_err)] // the signature is tungstenite's `Callback`
fn check_handshake(
    req: &Request,
    mut resp: Response,
    echo: bool,
) -> Result<Response, ErrorResponse> {
    if req.uri().path() != PATH {
        return Err(refuse(
            StatusCode::NOT_FOUND,
            "no XMPP endpoint here; use /xmpp-websocket",
        ));
    }
    let offered = req
        .headers()
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == "xmpp");
    if echo {
        let first = req
            .headers()
            .get_all(SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .find(|p| !p.is_empty())
            .and_then(|p| HeaderValue::from_str(p).ok());
        if let Some(p) = first {
            resp.headers_mut().insert(SEC_WEBSOCKET_PROTOCOL, p);
        }
        return Ok(resp);
    }
    if !offered {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "the WebSocket subprotocol 'xmpp' must be offered (RFC 7395 Section 3.1)",
        ));
    }
    resp.headers_mut()
        .insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static("xmpp"));
    Ok(resp)
}

fn refuse(status: StatusCode, why: &str) -> ErrorResponse {
    let mut r = ErrorResponse::new(Some(why.to_string()));
    *r.status_mut() = status;
    r
}

/// The session parked under `previd`. One that is still connected (its client resumed before
/// the server saw the old connection break) is waited for, up to a second.
async fn parked_or_gone(shared: &Shared, previd: &str) -> Option<session::Parked> {
    for _ in 0..100 {
        if let Some(p) = shared.parked.take(previd) {
            return Some(p);
        }
        if !shared.parked.is_live(previd) {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

async fn connection(
    stream: TcpStream,
    shared: Arc<Shared>,
    conn: u64,
    mut stopped: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    if let Some(doc) = discovery::wants_document(&stream).await {
        let url = match stream.local_addr() {
            Ok(a) => format!("ws://{a}{PATH}"),
            Err(_) => return,
        };
        discovery::serve(stream, doc, &url).await;
        return;
    }
    let echo = shared.faults.contains(&XmppFault::EchoSubprotocol);
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    let ws = match timeout(
        HANDSHAKE_TIMEOUT,
        accept_hdr_async_with_config(
            stream,
            |req: &Request, resp: Response| check_handshake(req, resp, echo),
            Some(config),
        ),
    )
    .await
    {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            tracing::debug!(conn, "reference xmpp: handshake refused: {e}");
            return;
        }
        Err(_) => return,
    };
    let (mut sink, mut source) = ws.split();
    let (tx, mut rx) = mpsc::channel::<String>(QUEUE);
    let mut session = Session::new(shared.clone(), conn, tx);
    let mut deadline = Instant::now() + IDLE_TIMEOUT;
    if *stopped.borrow() {
        return;
    }
    loop {
        // Stanzas already routed here go out before the client's next message is read, so
        // what another session sent first reaches the client first (deterministic transcripts).
        let outs = tokio::select! {
            biased;
            Some(xml) = rx.recv() => session.on_routed(xml),
            msg = source.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    deadline = Instant::now() + IDLE_TIMEOUT;
                    session.on_text(t.as_str())
                }
                Some(Ok(Message::Binary(_))) => {
                    deadline = Instant::now() + IDLE_TIMEOUT;
                    session.on_binary()
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {
                    deadline = Instant::now() + IDLE_TIMEOUT;
                    Vec::new()
                }
            },
            _ = sleep_until(deadline) => session.on_idle_timeout(),
            _ = stopped.changed() => session.on_shutdown(),
        };
        let mut closing = false;
        let mut outs = std::collections::VecDeque::from(outs);
        while let Some(out) = outs.pop_front() {
            match out {
                Out::Text(text) => {
                    if sink.send(Message::text(text)).await.is_err() {
                        closing = true;
                        break;
                    }
                }
                Out::Close => closing = true,
                Out::Resume { previd, h } => match parked_or_gone(&shared, &previd).await {
                    // This connection carries the parked session from now on; the unbound
                    // session that asked for it has nothing to undo.
                    Some(parked) => {
                        session = parked.session;
                        rx = parked.rx;
                        if shared.faults.contains(&XmppFault::SmResumeLosesHeld) {
                            while rx.try_recv().is_ok() {}
                        }
                        outs.extend(session.on_resumed(&previd, h));
                    }
                    None => outs.push_back(Out::Text(format!(
                        "<failed xmlns='{}'><item-not-found xmlns='{}'/></failed>",
                        crate::xmpp::ns::SM,
                        crate::xmpp::ns::STANZAS
                    ))),
                },
            }
        }
        if closing {
            // The session ends before the WebSocket does: a client that has seen the close
            // may log in again at once and must not meet this resource any more.
            session.on_disconnect();
            // RFC7395-3.6-1: the closing party starts the WebSocket closing handshake.
            let _ = sink.send(Message::Close(None)).await;
            let wait_close = async {
                while let Some(Ok(m)) = source.next().await {
                    if m.is_close() {
                        break;
                    }
                }
            };
            let _ = timeout(CLOSE_WAIT, wait_close).await;
            break;
        }
    }
    // A broken connection of a session with resumption enabled leaves the session alive
    // for a while (RFC7395-3.6-2, XEP-0198 Section 5).
    match session.resumable_id() {
        Some(id) => {
            shared
                .parked
                .park(id.clone(), session::Parked { session, rx });
            tokio::spawn(async move {
                tokio::select! {
                    _ = tokio::time::sleep(session::RESUME_TIMEOUT) => {}
                    _ = stopped.changed() => {}
                }
                if let Some(mut parked) = shared.parked.take(&id) {
                    parked.session.on_disconnect();
                }
            });
        }
        None => session.on_disconnect(),
    }
    let _ = sink.close().await;
}
