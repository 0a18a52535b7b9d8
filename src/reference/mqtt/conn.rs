//! One client connection: reads and strictly decodes packets, enforces CONNECT rules and keep-alive, writes replies.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use super::fault::MqttFault;
use super::link::Link;
use super::state::{ConnId, Reaction, Shared, Then};
use super::wire::{connect_preamble, encode_out};
use crate::mqtt::codec::{DecodeError, Decoded, Decoder, Direction};
use crate::mqtt::{Connack, ConnectReturnCode, Packet, Rule, Version};

/// Largest remaining length accepted from a client.
pub(crate) const MAX_PACKET: usize = 1 << 20;
/// How long a new connection may take to send CONNECT.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Packets waiting for a connection to write before it counts as too slow and is closed.
const QUEUE: usize = 4096;

/// Serves one connection until it closes.
pub(crate) async fn serve(mut link: Link, shared: Arc<Shared>) {
    let conn_id = shared.next_conn_id();
    let (tx, mut rx) = mpsc::channel::<Packet>(QUEUE);
    let kill = Arc::new(Notify::new());
    let padded = shared.has(MqttFault::NonMinimalLength);
    let tolerant = shared.has(MqttFault::NoCloseOnMalformed);
    let mut decoder = Decoder::new(Version::V311, Direction::ClientToServer, MAX_PACKET);
    let mut connected = false;
    let mut keep_alive = Some(CONNECT_TIMEOUT);
    let mut deadline = Instant::now() + CONNECT_TIMEOUT;

    let graceful = 'conn: loop {
        tokio::select! {
            biased;
            _ = kill.notified() => break false,
            Some(packet) = rx.recv() => {
                if !write(&mut link, &packet, padded).await {
                    break false;
                }
            }
            _ = tokio::time::sleep_until(deadline), if keep_alive.is_some() => {
                // MQTT-3.1.2-24: nothing for 1.5 x keep alive (or no CONNECT in time).
                tracing::debug!("reference broker: connection {conn_id} timed out");
                break false;
            }
            got = link.recv() => {
                let bytes = match got {
                    Ok(Some(bytes)) => bytes,
                    Ok(None) | Err(_) => break false,
                };
                decoder.push(&bytes);
                loop {
                    let reaction = match decoder.next() {
                        Ok(None) => break,
                        Ok(Some(decoded)) => {
                            if let Some(ka) = keep_alive.filter(|_| connected) {
                                deadline = Instant::now() + ka;
                            }
                            if connected {
                                if !decoded.violations.is_empty() && !tolerant {
                                    // MQTT-4.8.0-1 / MQTT-2.2.2-2: close on any violation.
                                    Reaction::close(false)
                                } else {
                                    shared.packet(conn_id, decoded.packet)
                                }
                            } else {
                                let (reaction, accepted) =
                                    first_packet(&shared, conn_id, Ok(decoded), &tx, &kill);
                                if let Some(ka) = accepted {
                                    connected = true;
                                    keep_alive = ka;
                                    if let Some(ka) = ka {
                                        deadline = Instant::now() + ka;
                                    }
                                }
                                reaction
                            }
                        }
                        Err(DecodeError::Malformed { raw, .. }) if !connected => {
                            first_packet(&shared, conn_id, Err(raw), &tx, &kill).0
                        }
                        Err(DecodeError::Malformed { .. }) if tolerant => continue,
                        Err(_) => Reaction::close(false),
                    };
                    for packet in &reaction.send {
                        if !write(&mut link, packet, padded).await {
                            break 'conn false;
                        }
                    }
                    if let Then::Close { graceful } = reaction.then {
                        break 'conn graceful;
                    }
                }
            }
        }
    };
    shared.closed(conn_id, graceful);
    link.close().await;
}

/// Checks the first packet of a connection; on acceptance also returns the keep-alive to enforce.
fn first_packet(
    shared: &Shared,
    conn_id: ConnId,
    decoded: Result<Decoded, Vec<u8>>,
    tx: &mpsc::Sender<Packet>,
    kill: &Arc<Notify>,
) -> (Reaction, Option<Option<Duration>>) {
    let refuse = (Reaction::close(true), None);
    let raw = match &decoded {
        Ok(d) => d.raw.as_slice(),
        Err(raw) => raw.as_slice(),
    };
    // MQTT-3.1.0-1: the first packet must be CONNECT.
    let Some((name, level)) = connect_preamble(raw) else {
        return refuse;
    };
    // MQTT-3.1.2-1: another protocol name; this server disconnects.
    if name != b"MQTT" {
        return refuse;
    }
    if level != 4 {
        // MQTT-3.1.2-2: CONNACK 0x01, then close.
        if shared.has(MqttFault::NoConnackOnBadLevel) {
            return refuse;
        }
        let send = vec![Packet::Connack(Connack::v311(
            false,
            ConnectReturnCode::UnacceptableProtocolVersion,
        ))];
        return (
            Reaction {
                send,
                then: Then::Close { graceful: true },
            },
            None,
        );
    }
    // MQTT-3.1.4-1: a CONNECT that does not conform closes without CONNACK.
    let Ok(decoded) = decoded else {
        return refuse;
    };
    let Packet::Connect(connect) = decoded.packet else {
        return refuse;
    };
    // A zero-byte client id with CleanSession 0 is answered by CONNACK 0x02 instead.
    let no_id = Rule::EmptyClientIdCleanSession.id(Version::V311);
    let serious = decoded
        .violations
        .iter()
        .any(|v| Some(v.spec.as_str()) != no_id);
    if serious && !shared.has(MqttFault::NoCloseOnMalformed) {
        return refuse;
    }
    let keep_alive = (connect.keep_alive > 0)
        .then(|| Duration::from_millis(u64::from(connect.keep_alive) * 1500));
    let reaction = shared.connect(conn_id, connect, tx.clone(), kill.clone());
    let accepted = reaction.then == Then::Continue;
    (reaction, accepted.then_some(keep_alive))
}

/// Encodes and writes one packet; false when the connection is gone.
async fn write(link: &mut Link, packet: &Packet, padded: bool) -> bool {
    match encode_out(packet, padded) {
        Some(bytes) => link.send(bytes).await.is_ok(),
        None => true,
    }
}
