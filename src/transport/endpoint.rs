//! Target URLs: `mqtt://`, `mqtts://`, `ws://`, `wss://`, parsed into where and how to connect.

use std::fmt;

/// How bytes reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// Plain TCP.
    Tcp,
    /// TCP + TLS.
    Tls,
    /// WebSocket over TCP.
    Ws,
    /// WebSocket over TLS.
    Wss,
}

impl TransportKind {
    /// Whether this transport is a WebSocket.
    pub fn is_websocket(self) -> bool {
        matches!(self, TransportKind::Ws | TransportKind::Wss)
    }
    /// Whether TLS is used.
    pub fn is_tls(self) -> bool {
        matches!(self, TransportKind::Tls | TransportKind::Wss)
    }
    /// Short name for transcripts: `tcp`, `tls`, `ws`, `wss`.
    pub fn scheme(self) -> &'static str {
        match self {
            TransportKind::Tcp => "tcp",
            TransportKind::Tls => "tls",
            TransportKind::Ws => "ws",
            TransportKind::Wss => "wss",
        }
    }
}

/// A parsed target address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Transport.
    pub kind: TransportKind,
    /// Host name or address (used for TLS server name too).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Request path for WebSocket (`/xmpp-websocket`), `/` otherwise.
    pub path: String,
}

/// Why a target URL was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EndpointError {
    /// Not a URL at all.
    #[error(
        "`{0}` is not a URL: expected mqtt://HOST[:PORT], mqtts://HOST[:PORT], ws://HOST[:PORT]/PATH or wss://HOST[:PORT]/PATH"
    )]
    NotUrl(String),
    /// Unknown scheme.
    #[error("`{0}`: unsupported scheme `{1}`; expected mqtt, mqtts, ws or wss")]
    Scheme(String, String),
    /// No host.
    #[error("`{0}` has no host")]
    NoHost(String),
    /// Port 0: no server listens there.
    #[error("`{0}`: port 0 is not a port a server listens on; give the server's port")]
    PortZero(String),
    /// A path or query on an MQTT-over-TCP/TLS URL, which has none.
    #[error(
        "`{0}`: an {1}:// URL has no path (`{2}` would be ignored); for MQTT over WebSocket use ws://HOST:PORT/PATH"
    )]
    PathOnMqtt(String, String, String),
    /// A user name or password inside the URL (shown redacted).
    #[error(
        "`{0}`: credentials in a URL are not accepted (they would show in process lists, shell history and reports); use --user NAME --password-env VAR, or `username:` and `password_env:` in a profile"
    )]
    Credentials(String),
}

impl Endpoint {
    /// Parses a target URL.
    pub fn parse(text: &str) -> Result<Endpoint, EndpointError> {
        let url = url::Url::parse(text).map_err(|_| EndpointError::NotUrl(text.to_string()))?;
        let (kind, default_port) = match url.scheme() {
            "mqtt" | "tcp" => (TransportKind::Tcp, 1883),
            "mqtts" | "ssl" => (TransportKind::Tls, 8883),
            "ws" => (TransportKind::Ws, 80),
            "wss" => (TransportKind::Wss, 443),
            other => return Err(EndpointError::Scheme(text.to_string(), other.to_string())),
        };
        if !url.username().is_empty() || url.password().is_some() {
            let mut shown = url.clone();
            let _ = shown.set_username("***");
            let _ = shown.set_password(None);
            return Err(EndpointError::Credentials(shown.to_string()));
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| EndpointError::NoHost(text.to_string()))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        if url.port() == Some(0) {
            return Err(EndpointError::PortZero(text.to_string()));
        }
        let mut path = url.path().to_string();
        if let Some(q) = url.query() {
            path = format!("{path}?{q}");
        }
        if !(kind.is_websocket() || path.is_empty() || path == "/") {
            return Err(EndpointError::PathOnMqtt(
                text.to_string(),
                url.scheme().to_string(),
                path,
            ));
        }
        Ok(Endpoint {
            kind,
            host,
            port: url.port().unwrap_or(default_port),
            path: if path.is_empty() { "/".into() } else { path },
        })
    }

    /// `host:port` for connecting.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.kind {
            TransportKind::Tcp => "mqtt",
            TransportKind::Tls => "mqtts",
            TransportKind::Ws => "ws",
            TransportKind::Wss => "wss",
        };
        if self.kind.is_websocket() {
            write!(f, "{scheme}://{}{}", self.authority(), self.path)
        } else {
            write!(f, "{scheme}://{}", self.authority())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets() {
        let e = Endpoint::parse("mqtt://127.0.0.1").unwrap();
        assert_eq!((e.kind, e.port), (TransportKind::Tcp, 1883));
        let e = Endpoint::parse("wss://chat.example.com/xmpp-websocket").unwrap();
        assert_eq!(
            (e.kind, e.port, e.path.as_str()),
            (TransportKind::Wss, 443, "/xmpp-websocket")
        );
        let e = Endpoint::parse("ws://[::1]:5280/ws").unwrap();
        assert_eq!(e.authority(), "[::1]:5280");
        assert!(matches!(
            Endpoint::parse("http://x"),
            Err(EndpointError::Scheme(..))
        ));
        assert!(matches!(
            Endpoint::parse("nonsense"),
            Err(EndpointError::NotUrl(..))
        ));
        assert!(matches!(
            Endpoint::parse("mqtt://127.0.0.1:0"),
            Err(EndpointError::PortZero(..))
        ));
        assert!(matches!(
            Endpoint::parse("mqtt://127.0.0.1:1883/topic"),
            Err(EndpointError::PathOnMqtt(..))
        ));
        let e = Endpoint::parse("mqtt://bob:hunter2@127.0.0.1").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(!e.to_string().contains("bob"), "{e}");
    }
}
