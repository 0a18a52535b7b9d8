//! Oracles: the liveness probe (a fresh session must work within a deadline) and the spec
//! oracle (always-on violations the strict decoder flagged on the server's replies).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::case::Protocol;
use crate::run::verdict::CaseResult;
use crate::seam::outcome::FailureKind;

/// Probes `host:port`: MQTT gets a 3.1.1 CONNECT and must answer CONNACK; an XMPP WebSocket
/// endpoint must accept a TCP connection. Err says what failed.
pub async fn probe(
    protocol: Protocol,
    host: &str,
    port: u16,
    deadline: Duration,
) -> Result<(), String> {
    let work = async {
        let mut s = TcpStream::connect((host, port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        if protocol == Protocol::Mqtt {
            let id = b"wirecheck-fuzz-probe";
            let mut p = vec![
                0x10,
                (12 + id.len()) as u8,
                0,
                4,
                b'M',
                b'Q',
                b'T',
                b'T',
                4,
                2,
                0,
                30,
                0,
            ];
            p.push(id.len() as u8);
            p.extend_from_slice(id);
            s.write_all(&p).await.map_err(|e| format!("write: {e}"))?;
            let mut b = [0u8; 4];
            s.read_exact(&mut b)
                .await
                .map_err(|e| format!("no CONNACK: {e}"))?;
            if b[0] != 0x20 {
                return Err(format!("answered {:02x} instead of CONNACK", b[0]));
            }
            let _ = s.write_all(&[0xe0, 0]).await;
        }
        Ok(())
    };
    match tokio::time::timeout(deadline, work).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {}ms", deadline.as_millis())),
    }
}

/// The statement ids of the always-on violations in a result, sorted, deduplicated.
pub fn violations(result: &CaseResult) -> Vec<String> {
    let mut ids: Vec<String> = result
        .failures
        .iter()
        .filter(|f| f.kind == FailureKind::Violation)
        .flat_map(|f| f.spec.iter().cloned())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}
