//! One client connection: picks 3.1.1 or 5.0 from the CONNECT, strictly decodes packets, enforces keep-alive and limits, writes replies.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use super::fault::MqttFault;
use super::link::Link;
use super::state::{After, ConnId, Reaction, Shared, Then};
use super::v5::{self, Aliases};
use super::wire::{connect_preamble, encode_out};
use crate::mqtt::codec::{DecodeError, Decoded, Decoder, Direction};
use crate::mqtt::{Auth, Connack, Connect, ConnectReturnCode, Packet, ReasonCode, Rule, Version};

/// Largest remaining length accepted from a client.
pub(crate) const MAX_PACKET: usize = 1 << 20;
/// How long a new connection may take to send CONNECT.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Packets waiting for a connection to write before it counts as too slow and is closed.
const QUEUE: usize = 4096;

/// How packets are written to one connection.
struct Out {
    version: Version,
    padded: bool,
    /// The client's Maximum Packet Size (5.0), unless a fault ignores it.
    max: Option<u32>,
    /// Fault `oversize-reason-string`: 5.0 acknowledgements get a long Reason String.
    long_reasons: bool,
    /// Fault `auth-method-dropped`: AUTH and CONNACK go out without an Authentication Method.
    drop_auth_method: bool,
}

/// Serves one connection until it closes, then waits out its delayed will and session expiry.
pub(crate) async fn serve(mut link: Link, shared: Arc<Shared>) {
    let conn_id = shared.next_conn_id();
    let (tx, mut rx) = mpsc::channel::<Packet>(QUEUE);
    let kill = Arc::new(Notify::new());
    let tolerant = shared.has(MqttFault::NoCloseOnMalformed);
    let mut out = Out {
        version: Version::V311,
        padded: shared.has(MqttFault::NonMinimalLength),
        max: None,
        long_reasons: shared.has(MqttFault::OversizeReasonString),
        drop_auth_method: shared.has(MqttFault::AuthMethodDropped),
    };
    let mut decoder = Decoder::new(Version::V311, Direction::ClientToServer, MAX_PACKET);
    // Bytes received before CONNECT was handled, to decode again as 5.0 if it asks for level 5.
    let mut early: Vec<u8> = Vec::new();
    let mut aliases = Aliases::default();
    // A CONNECT waiting for the answer to the test authentication method's challenge.
    let mut authenticating: Option<Connect> = None;
    let mut authenticated = false;
    // A re-authentication's challenge was sent and its answer is awaited.
    let mut reauthenticating = false;
    let mut connected = false;
    let mut keep_alive = Some(CONNECT_TIMEOUT);
    let mut deadline = Instant::now() + CONNECT_TIMEOUT;
    // Fault `crash-mqtt5-deep`: packets handled on this connection after CONNECT.
    let crash_deep = shared.has(MqttFault::CrashMqtt5Deep);
    let mut handled_after_connect = 0usize;

    let graceful = 'conn: loop {
        tokio::select! {
            biased;
            _ = kill.notified() => break false,
            Some(packet) = rx.recv() => {
                let last = matches!(packet, Packet::Disconnect(_));
                if !write(&mut link, &packet, &out).await || last {
                    break false;
                }
            }
            _ = tokio::time::sleep_until(deadline), if keep_alive.is_some() => {
                // MQTT-3.1.2-24 (3.1.1) / MQTT-3.1.2-22 (5.0): nothing for 1.5 x keep alive (or no CONNECT in time).
                tracing::debug!("reference broker: connection {conn_id} timed out");
                break false;
            }
            got = link.recv() => {
                let bytes = match got {
                    Ok(Some(bytes)) => bytes,
                    Ok(None) | Err(_) => break false,
                };
                if !connected {
                    early.extend_from_slice(&bytes);
                }
                decoder.push(&bytes);
                loop {
                    let v5 = out.version == Version::V5;
                    let reaction = match decoder.next() {
                        Ok(None) => break,
                        Ok(Some(decoded)) if !connected => {
                            if level_of(&decoded.raw) == Some(5) && !v5 {
                                // Decode everything received so far again, as 5.0.
                                out.version = Version::V5;
                                decoder = Decoder::new(Version::V5, Direction::ClientToServer, MAX_PACKET);
                                decoder.push(&early);
                                continue;
                            }
                            let max = decoded_max(&decoded, &shared);
                            let (reaction, accepted) = match authenticating.take() {
                                Some(connect) => {
                                    authenticated = true;
                                    auth_answer(&shared, conn_id, connect, decoded, &tx, &kill)
                                }
                                None => first_packet(
                                    &shared,
                                    conn_id,
                                    out.version,
                                    Ok(decoded),
                                    &mut authenticating,
                                    &tx,
                                    &kill,
                                ),
                            };
                            let max = max.or(out.max);
                            out.max = max;
                            if let Some(ka) = accepted {
                                connected = true;
                                early = Vec::new();
                                keep_alive = ka;
                                if let Some(ka) = ka {
                                    deadline = Instant::now() + ka;
                                }
                            }
                            reaction
                        }
                        Ok(Some(mut decoded)) => {
                            if crash_deep && v5 {
                                crash_if_deep_trigger(&decoded.raw, handled_after_connect);
                                handled_after_connect += 1;
                            }
                            if let Some(ka) = keep_alive {
                                deadline = Instant::now() + ka;
                            }
                            if !decoded.violations.is_empty() && !tolerant {
                                // MQTT-4.8.0-1 / MQTT-2.2.2-2 (3.1.1), MQTT-4.13.1-1 (5.0): close on any violation.
                                Reaction::disconnect(out.version, v5::reason_for(&decoded.violations))
                            } else if v5 && decoded.raw.len() > v5::MAXIMUM_PACKET_SIZE as usize {
                                Reaction::disconnect(out.version, ReasonCode::PacketTooLarge)
                            } else if let (true, Packet::Auth(auth)) = (authenticated, &decoded.packet) {
                                // Re-authentication by the test method (section 4.12.1).
                                reauthenticate(auth, &mut reauthenticating, out.version, shared.has(MqttFault::ReauthFailureIgnored))
                            } else if let (true, Packet::Publish(p)) = (v5, &mut decoded.packet)
                                && let Err(reason) = aliases.resolve(p, shared.has(MqttFault::TopicAliasRejected))
                            {
                                Reaction::disconnect(out.version, reason)
                            } else {
                                shared.packet(conn_id, decoded.packet)
                            }
                        }
                        Err(DecodeError::Malformed { raw, .. }) if !connected => {
                            if level_of(&raw) == Some(5) && !v5 {
                                out.version = Version::V5;
                                decoder = Decoder::new(Version::V5, Direction::ClientToServer, MAX_PACKET);
                                decoder.push(&early);
                                continue;
                            }
                            if authenticating.is_some() {
                                // MQTT-3.1.4-1: a malformed packet during authentication ends it.
                                Reaction::close(true)
                            } else {
                                first_packet(
                                    &shared,
                                    conn_id,
                                    out.version,
                                    Err(raw),
                                    &mut authenticating,
                                    &tx,
                                    &kill,
                                )
                                .0
                            }
                        }
                        Err(DecodeError::Malformed { raw, .. }) if crash_deep && v5 => {
                            crash_if_deep_trigger(&raw, handled_after_connect);
                            if tolerant {
                                continue;
                            }
                            Reaction::disconnect(out.version, ReasonCode::MalformedPacket)
                        }
                        Err(DecodeError::Malformed { .. }) if tolerant => continue,
                        Err(DecodeError::Malformed { .. }) => {
                            Reaction::disconnect(out.version, ReasonCode::MalformedPacket)
                        }
                        Err(DecodeError::TooLarge { .. }) if connected => {
                            Reaction::disconnect(out.version, ReasonCode::PacketTooLarge)
                        }
                        Err(_) => Reaction::close(false),
                    };
                    for packet in &reaction.send {
                        if !write(&mut link, packet, &out).await {
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
    let after = shared.closed(conn_id, graceful);
    link.close().await;
    if let Some(after) = after {
        wait_out(&shared, after).await;
    }
}

/// Fault `crash-mqtt5-deep`: aborts the process when `raw` is a SUBSCRIBE whose properties hold
/// the Subscription Identifier (0x0B) twice and another packet came between CONNECT and it.
fn crash_if_deep_trigger(raw: &[u8], handled_after_connect: usize) {
    if handled_after_connect >= 1 && subscription_identifier_count(raw) >= 2 {
        eprintln!("reference broker: fault crash-mqtt5-deep: aborting");
        std::process::abort();
    }
}

/// How many Subscription Identifier properties a 5.0 SUBSCRIBE's raw bytes carry (0 when `raw`
/// is no SUBSCRIBE or its properties cannot be walked).
fn subscription_identifier_count(raw: &[u8]) -> usize {
    if raw.first().map(|b| b >> 4) != Some(8) {
        return 0;
    }
    let mut at = 1;
    if crate::mqtt::read_varint(raw, &mut at).is_none() {
        return 0;
    }
    at += 2; // packet identifier
    let Some(len) = crate::mqtt::read_varint(raw, &mut at) else {
        return 0;
    };
    let end = (at + len).min(raw.len());
    let mut count = 0;
    while at < end {
        let id = raw[at];
        at += 1;
        match id {
            0x0b => {
                count += 1;
                if crate::mqtt::read_varint(raw, &mut at).is_none() {
                    break;
                }
            }
            0x26 => {
                for _ in 0..2 {
                    let Some(n) = raw.get(at..at + 2) else {
                        return count;
                    };
                    at += 2 + usize::from(u16::from_be_bytes([n[0], n[1]]));
                }
            }
            _ => break,
        }
    }
    count
}

/// Publishes a delayed will when due and ends the session when it expires (both skipped if the client came back).
async fn wait_out(shared: &Shared, after: After) {
    let start = Instant::now();
    if let Some(will_in) = after.will_in {
        tokio::time::sleep_until(start + will_in).await;
        shared.will_due(&after.client_id, after.epoch);
    }
    if let Some(expire_in) = after.expire_in {
        // A far-off expiry overflows to "never" in tokio's sleep.
        tokio::time::sleep(expire_in.saturating_sub(start.elapsed())).await;
        shared.expire(&after.client_id, after.epoch);
    }
}

/// The protocol level of a CONNECT named MQTT.
fn level_of(raw: &[u8]) -> Option<u8> {
    connect_preamble(raw)
        .filter(|(name, _)| *name == b"MQTT")
        .map(|(_, level)| level)
}

/// The client's Maximum Packet Size from a 5.0 CONNECT (unless a fault ignores it).
fn decoded_max(decoded: &Decoded, shared: &Shared) -> Option<u32> {
    match &decoded.packet {
        Packet::Connect(c) if !shared.has(MqttFault::OversizePacketSent) => {
            c.properties.maximum_packet_size
        }
        _ => None,
    }
}

/// Checks the first packet of a connection; on acceptance also returns the keep-alive to enforce.
fn first_packet(
    shared: &Shared,
    conn_id: ConnId,
    version: Version,
    decoded: Result<Decoded, Vec<u8>>,
    authenticating: &mut Option<Connect>,
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
    if level != 4 && level != 5 {
        // MQTT-3.1.2-2 (3.1.1): CONNACK 0x01, then close.
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
    // A zero-byte client id with CleanSession 0 is answered by CONNACK 0x02 instead (3.1.1).
    let no_id = Rule::EmptyClientIdCleanSession.id(version);
    let serious = decoded
        .violations
        .iter()
        .any(|v| Some(v.spec.as_str()) != no_id);
    if serious && !shared.has(MqttFault::NoCloseOnMalformed) {
        return refuse;
    }
    if version == Version::V5
        && connect.properties.authentication_method.as_deref() == Some(v5::TEST_AUTH_METHOD)
    {
        // MQTT-4.12.0-2: the test method's challenge; CONNACK waits for the answer.
        *authenticating = Some(connect);
        return (Reaction::reply(vec![v5::auth_challenge()]), None);
    }
    accept(shared, conn_id, connect, version, tx, kill)
}

/// Hands a CONNECT to the state; on acceptance also returns the keep-alive to enforce.
fn accept(
    shared: &Shared,
    conn_id: ConnId,
    connect: Connect,
    version: Version,
    tx: &mpsc::Sender<Packet>,
    kill: &Arc<Notify>,
) -> (Reaction, Option<Option<Duration>>) {
    let keep_alive = (connect.keep_alive > 0)
        .then(|| Duration::from_millis(u64::from(connect.keep_alive) * 1500));
    let reaction = shared.connect(conn_id, connect, version, tx.clone(), kill.clone());
    let accepted = reaction.then == Then::Continue;
    (reaction, accepted.then_some(keep_alive))
}

/// The packet after the test method's challenge: the right AUTH answer completes the CONNECT,
/// anything else gets CONNACK not_authorized and the close (MQTT-4.12.0-4, MQTT-3.1.4-6).
fn auth_answer(
    shared: &Shared,
    conn_id: ConnId,
    connect: Connect,
    decoded: Decoded,
    tx: &mpsc::Sender<Packet>,
    kill: &Arc<Notify>,
) -> (Reaction, Option<Option<Duration>>) {
    match &decoded.packet {
        Packet::Auth(auth) if decoded.violations.is_empty() && v5::auth_answered(auth) => {
            accept(shared, conn_id, connect, Version::V5, tx, kill)
        }
        _ => {
            let refusal = Connack {
                reason: Some(ReasonCode::NotAuthorized),
                ..Connack::default()
            };
            let reaction = Reaction {
                send: vec![Packet::Connack(refusal)],
                then: Then::Close { graceful: true },
            };
            (reaction, None)
        }
    }
}

/// The broker's side of a re-authentication by the test method: AUTH re_authenticate gets the
/// challenge, the right answer AUTH success; a wrong answer fails it with DISCONNECT and the close
/// (MQTT-4.12.1-2; fault `reauth-failure-ignored`: it is ignored), another method is a protocol
/// error (MQTT-4.12.1-1 binds the client).
fn reauthenticate(
    auth: &Auth,
    reauthenticating: &mut bool,
    version: Version,
    ignore_failure: bool,
) -> Reaction {
    let same_method =
        auth.properties.authentication_method.as_deref() == Some(v5::TEST_AUTH_METHOD);
    let reason = auth.reason.map(|r| r.to_byte());
    if !same_method {
        return Reaction::disconnect(version, ReasonCode::ProtocolError);
    }
    if !std::mem::take(reauthenticating) {
        if reason == Some(0x19) {
            *reauthenticating = true;
            return Reaction::reply(vec![v5::auth_challenge()]);
        }
        return Reaction::disconnect(version, ReasonCode::ProtocolError);
    }
    if v5::auth_answered(auth) {
        Reaction::reply(vec![v5::auth_success()])
    } else if ignore_failure {
        Reaction::reply(Vec::new())
    } else {
        Reaction::disconnect(version, ReasonCode::NotAuthorized)
    }
}

/// Encodes and writes one packet (dropping one over the client's Maximum Packet Size); false when the connection is gone.
async fn write(link: &mut Link, packet: &Packet, out: &Out) -> bool {
    if out.drop_auth_method
        && let Packet::Auth(_) | Packet::Connack(_) = packet
    {
        let mut p = packet.clone();
        match &mut p {
            Packet::Auth(a) => a.properties.authentication_method = None,
            Packet::Connack(c) => c.properties.authentication_method = None,
            _ => {}
        }
        return match encode_out(&p, out.version, out.padded) {
            Some(bytes) => link.send(bytes).await.is_ok(),
            None => true,
        };
    }
    if out.long_reasons && out.version == Version::V5 {
        let mut p = packet.clone();
        let props = match &mut p {
            Packet::Puback(a) | Packet::Pubrec(a) | Packet::Pubrel(a) | Packet::Pubcomp(a) => {
                Some(&mut a.properties)
            }
            Packet::Suback(s) => Some(&mut s.properties),
            Packet::Unsuback(u) => Some(&mut u.properties),
            Packet::Disconnect(d) => Some(&mut d.properties),
            _ => None,
        };
        if let Some(props) = props {
            props.reason_string = Some("r".repeat(100));
            return match encode_out(&p, out.version, out.padded) {
                Some(bytes) => link.send(bytes).await.is_ok(),
                None => true,
            };
        }
    }
    // The CONNACK goes out whatever its size: without it the client learns nothing.
    let limited = !matches!(packet, Packet::Connack(_));
    match encode_out(packet, out.version, out.padded) {
        Some(bytes) if limited && out.max.is_some_and(|max| bytes.len() > max as usize) => true,
        Some(bytes) => link.send(bytes).await.is_ok(),
        None => true,
    }
}

#[cfg(test)]
mod crash_fault_tests {
    use super::subscription_identifier_count;

    #[test]
    fn counts_subscription_identifiers_of_a_subscribe() {
        // SUBSCRIBE id 2, properties: Subscription Identifier 6, filter "a" QoS 0.
        let once = [
            0x82, 0x08, 0x00, 0x02, 0x02, 0x0b, 0x06, 0x00, 0x01, b'a', 0x00,
        ];
        assert_eq!(subscription_identifier_count(&once), 1);
        // The same with the property given twice.
        let twice = [
            0x82, 0x0a, 0x00, 0x02, 0x04, 0x0b, 0x06, 0x0b, 0x06, 0x00, 0x01, b'a', 0x00,
        ];
        assert_eq!(subscription_identifier_count(&twice), 2);
        // A PUBLISH is no SUBSCRIBE.
        assert_eq!(subscription_identifier_count(&[0x30, 0x02, 0x0b, 0x0b]), 0);
    }
}
