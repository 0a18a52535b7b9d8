//! The built-in reference MQTT broker (3.1.1 and 5.0, chosen per connection): small, correct, in-process, over TCP and WebSocket, with fault switches.

mod conn;
mod fault;
mod link;
mod route;
mod session;
mod state;
mod v5;
mod wire;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests5;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::http::header::SEC_WEBSOCKET_PROTOCOL;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

pub use fault::{MqttFault, UnknownFault};

use conn::MAX_PACKET;
use link::Link;
use state::Shared;

/// How long a WebSocket opening handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the broker listens and which rules it breaks.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Address to bind (127.0.0.1 by default).
    pub bind: IpAddr,
    /// TCP port for plain MQTT (0 = ephemeral).
    pub tcp_port: u16,
    /// TCP port for MQTT over WebSocket (0 = ephemeral).
    pub ws_port: u16,
    /// Fault switches to turn on.
    pub faults: BTreeSet<MqttFault>,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            tcp_port: 0,
            ws_port: 0,
            faults: BTreeSet::new(),
        }
    }
}

/// A running broker; dropping it (or `shutdown`) stops all its tasks.
#[derive(Debug)]
pub struct BrokerHandle {
    /// Address of the plain MQTT listener.
    pub tcp_addr: SocketAddr,
    /// Address of the MQTT-over-WebSocket listener (any path).
    pub ws_addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl BrokerHandle {
    /// `mqtt://host:port` of the TCP listener.
    pub fn tcp_url(&self) -> String {
        format!("mqtt://{}", self.tcp_addr)
    }

    /// `ws://host:port/mqtt` of the WebSocket listener.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/mqtt", self.ws_addr)
    }

    /// How many connection tasks have panicked (a bug: hostile input must never cause one).
    pub fn panics(&self) -> u64 {
        self.shared.panics()
    }

    /// Stops listening and closes every connection.
    pub async fn shutdown(mut self) {
        let tasks = std::mem::take(&mut self.tasks);
        for task in &tasks {
            task.abort();
        }
        for task in tasks {
            let _ = task.await;
        }
    }
}

impl Drop for BrokerHandle {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Binds both listeners and starts serving; must be called inside a tokio runtime.
pub async fn start(config: BrokerConfig) -> std::io::Result<BrokerHandle> {
    let tcp = TcpListener::bind(SocketAddr::new(config.bind, config.tcp_port)).await?;
    let ws = TcpListener::bind(SocketAddr::new(config.bind, config.ws_port)).await?;
    let tcp_addr = tcp.local_addr()?;
    let ws_addr = ws.local_addr()?;
    let shared = Arc::new(Shared::new(config.faults));
    let tasks = vec![
        tokio::spawn(accept_loop(tcp, false, shared.clone())),
        tokio::spawn(accept_loop(ws, true, shared.clone())),
    ];
    Ok(BrokerHandle {
        tcp_addr,
        ws_addr,
        tasks,
        shared,
    })
}

/// Accepts connections; the connection tasks live in a JoinSet so aborting this task ends them all.
async fn accept_loop(listener: TcpListener, websocket: bool, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let _ = stream.set_nodelay(true);
                    let shared = shared.clone();
                    connections.spawn(async move {
                        let link = if websocket {
                            match accept_websocket(stream).await {
                                Some(ws) => Link::Ws(Box::new(ws)),
                                None => return,
                            }
                        } else {
                            Link::Tcp(stream)
                        };
                        conn::serve(link, shared).await;
                    });
                }
                Err(e) => {
                    tracing::warn!("reference broker: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(done) = connections.join_next(), if !connections.is_empty() => {
                if let Err(e) = done
                    && e.is_panic()
                {
                    shared.count_panic();
                    tracing::error!("reference broker: a connection task panicked: {e}");
                }
            }
        }
    }
}

/// The WebSocket opening handshake, answering subprotocol `mqtt` when the client offers it (MQTT-6.0.0-4).
async fn accept_websocket(stream: TcpStream) -> Option<WebSocketStream<TcpStream>> {
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_PACKET + 16))
        .max_frame_size(Some(MAX_PACKET + 16));
    let handshake =
        tokio_tungstenite::accept_hdr_async_with_config(stream, answer_mqtt, Some(config));
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
        Ok(Ok(ws)) => Some(ws),
        Ok(Err(e)) => {
            tracing::debug!("reference broker: WebSocket handshake failed: {e}");
            None
        }
        Err(_) => None,
    }
}

/// Handshake callback: selects `mqtt` if it is among the offered subprotocols.
#[allow(clippy::result_large_err)] // the signature is tungstenite's
fn answer_mqtt(request: &Request, mut response: Response) -> Result<Response, ErrorResponse> {
    let offered = request
        .headers()
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == "mqtt");
    if offered {
        response
            .headers_mut()
            .insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static("mqtt"));
    }
    Ok(response)
}
