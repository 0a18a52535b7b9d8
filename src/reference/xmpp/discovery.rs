//! Host-meta discovery (RFC 7395 Section 4, XEP-0156) for the reference server: a plain HTTP GET
//! of /.well-known/host-meta (XRD) or /.well-known/host-meta.json (JRD) on the WebSocket port is
//! answered with a Link to the WebSocket endpoint; anything else goes on to the upgrade.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// The link relation of an XMPP-over-WebSocket endpoint (XEP-0156).
pub const WEBSOCKET_REL: &str = "urn:xmpp:alt-connections:websocket";
/// Largest request head read.
const MAX_REQUEST: usize = 8 * 1024;
/// Time allowed to read the request and write the answer.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);

/// Which discovery document a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Document {
    /// /.well-known/host-meta (XRD).
    Xrd,
    /// /.well-known/host-meta.json (JRD).
    Json,
}

/// Looks at the first bytes of a connection: Some when it is a GET of a discovery document.
pub(super) async fn wants_document(stream: &TcpStream) -> Option<Document> {
    let mut buf = [0u8; 64];
    let n = timeout(HTTP_TIMEOUT, stream.peek(&mut buf))
        .await
        .ok()?
        .ok()?;
    let head = &buf[..n];
    if head.starts_with(b"GET /.well-known/host-meta.json ") {
        Some(Document::Json)
    } else if head.starts_with(b"GET /.well-known/host-meta ") {
        Some(Document::Xrd)
    } else {
        None
    }
}

/// The body of `doc` pointing to `ws_url`.
pub(super) fn body(doc: Document, ws_url: &str) -> (&'static str, String) {
    match doc {
        Document::Xrd => (
            "application/xrd+xml",
            format!(
                "<?xml version='1.0' encoding='utf-8'?>\n<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>\n  <Link rel='{WEBSOCKET_REL}' href='{ws_url}'/>\n</XRD>\n"
            ),
        ),
        Document::Json => (
            "application/json",
            format!(r#"{{"links":[{{"rel":"{WEBSOCKET_REL}","href":"{ws_url}"}}]}}"#),
        ),
    }
}

/// Reads the request head and answers with `doc`, then closes.
pub(super) async fn serve(mut stream: TcpStream, doc: Document, ws_url: &str) {
    let work = async {
        let mut req = Vec::new();
        let mut chunk = [0u8; 1024];
        while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < MAX_REQUEST {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => req.extend_from_slice(&chunk[..n]),
            }
        }
        let (kind, text) = body(doc, ws_url);
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nAccess-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n{text}",
            text.len()
        );
        let _ = stream.write_all(answer.as_bytes()).await;
        let _ = stream.shutdown().await;
    };
    let _ = timeout(HTTP_TIMEOUT, work).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::hostmeta;

    #[test]
    fn both_documents_link_the_endpoint() {
        for doc in [Document::Xrd, Document::Json] {
            let (_, text) = body(doc, "ws://127.0.0.1:5/xmpp-websocket");
            let links = hostmeta::links(text.as_bytes()).unwrap();
            assert_eq!(links.len(), 1);
            assert_eq!(links[0].rel, WEBSOCKET_REL);
            assert_eq!(links[0].href, "ws://127.0.0.1:5/xmpp-websocket");
        }
    }
}
