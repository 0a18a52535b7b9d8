//! One connection's byte transport: plain TCP or WebSocket binary messages (both directions).

use std::io;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

/// Read chunk size for TCP.
const CHUNK: usize = 16 * 1024;

/// A connection carrying MQTT bytes; also used by the tests' tiny client.
pub(crate) enum Link {
    /// MQTT directly over TCP.
    Tcp(TcpStream),
    /// MQTT in WebSocket binary messages.
    Ws(Box<WebSocketStream<TcpStream>>),
}

impl Link {
    /// The next bytes received; Ok(None) on an orderly close. Cancel-safe.
    pub(crate) async fn recv(&mut self) -> io::Result<Option<Vec<u8>>> {
        match self {
            Link::Tcp(stream) => {
                let mut buf = vec![0u8; CHUNK];
                let n = stream.read(&mut buf).await?;
                if n == 0 {
                    return Ok(None);
                }
                buf.truncate(n);
                Ok(Some(buf))
            }
            Link::Ws(ws) => loop {
                match ws.next().await {
                    None | Some(Ok(Message::Close(_))) => return Ok(None),
                    Some(Ok(Message::Binary(bytes))) => return Ok(Some(bytes.to_vec())),
                    Some(Ok(Message::Text(_))) => {
                        // MQTT-6.0.0-1: any other data frame closes the connection.
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "MQTT data in a WebSocket text frame",
                        ));
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(io::Error::other(e)),
                }
            },
        }
    }

    /// Sends bytes (one binary message on WebSocket).
    pub(crate) async fn send(&mut self, bytes: Vec<u8>) -> io::Result<()> {
        match self {
            Link::Tcp(stream) => stream.write_all(&bytes).await,
            Link::Ws(ws) => ws
                .send(Message::Binary(bytes.into()))
                .await
                .map_err(io::Error::other),
        }
    }

    /// Closes the connection, politely but without waiting long.
    pub(crate) async fn close(&mut self) {
        let wait = Duration::from_millis(500);
        match self {
            Link::Tcp(stream) => {
                let _ = tokio::time::timeout(wait, stream.shutdown()).await;
            }
            Link::Ws(ws) => {
                let _ = tokio::time::timeout(wait, ws.close(None)).await;
            }
        }
    }
}
