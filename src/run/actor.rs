//! One actor's connection, whatever its protocol: the engine talks to this, the protocol
//! modules do the talking.

use tokio::time::Instant;

use crate::case::model::{ConnectStep, ExpectStep, LoginStep, SendStep};
use crate::case::validate::parse_hex;
use crate::mqtt::session::MqttSession;
use crate::run::transcript::Recorder;
use crate::run::verdict::Failure;
use crate::transport::Closed;
use crate::transport::{Channel, ConnectOptions, Endpoint, TransportError};
use crate::vars::Vars;
use crate::violation::Violation;
use crate::xmpp::session::XmppSession;

/// What the next read from a connection gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// A message arrived; its transcript summary.
    Message(String),
    /// The connection ended.
    Closed(Closed),
    /// Nothing arrived before the deadline.
    Timeout,
}

/// An open actor connection.
pub enum Session {
    /// An MQTT client connection.
    Mqtt(Box<MqttSession>),
    /// An XMPP-over-WebSocket client connection.
    Xmpp(Box<XmppSession>),
}

impl Session {
    /// Runs the MQTT `connect` macro.
    pub async fn connect(
        &mut self,
        step: &ConnectStep,
        vars: &mut Vars,
        deadline: Instant,
    ) -> Result<(), Failure> {
        match self {
            Session::Mqtt(s) => s.connect_macro(step, vars, deadline).await,
            Session::Xmpp(_) => Err(Failure::infra("`connect` is an MQTT step")),
        }
    }

    /// Runs the XMPP `login` macro.
    pub async fn login(
        &mut self,
        step: &LoginStep,
        vars: &mut Vars,
        deadline: Instant,
    ) -> Result<(), Failure> {
        match self {
            Session::Xmpp(s) => s.login_macro(step, vars, deadline).await,
            Session::Mqtt(_) => Err(Failure::infra("`login` is an XMPP step")),
        }
    }

    /// Sends one message.
    pub async fn send(&mut self, step: &SendStep, vars: &Vars) -> Result<(), Failure> {
        match self {
            Session::Mqtt(s) => s.send(step, vars).await,
            Session::Xmpp(s) => s.send(step, vars).await,
        }
    }

    /// Reads the next message and matches it.
    pub async fn expect(
        &mut self,
        step: &ExpectStep,
        vars: &mut Vars,
        deadline: Instant,
    ) -> Result<(), Failure> {
        match self {
            Session::Mqtt(s) => s.expect(step, vars, deadline).await,
            Session::Xmpp(s) => s.expect(step, vars, deadline).await,
        }
    }

    /// Reads whatever comes next.
    pub async fn next(&mut self, deadline: Instant) -> Next {
        match self {
            Session::Mqtt(s) => s.next(deadline).await,
            Session::Xmpp(s) => s.next(deadline).await,
        }
    }

    /// Closes politely, checking the server's part.
    pub async fn disconnect(&mut self, deadline: Instant) -> Result<(), Failure> {
        match self {
            Session::Mqtt(s) => s.disconnect(deadline).await,
            Session::Xmpp(s) => s.disconnect(deadline).await,
        }
    }

    /// Violations of always-on rules seen since the last call.
    pub fn take_violations(&mut self) -> Vec<Violation> {
        match self {
            Session::Mqtt(s) => s.take_violations(),
            Session::Xmpp(s) => s.take_violations(),
        }
    }

    /// Drops the connection without a goodbye.
    pub fn abort(&mut self) {
        match self {
            Session::Mqtt(s) => s.abort(),
            Session::Xmpp(s) => s.abort(),
        }
    }
}

/// Opens an actor's transport. On WebSocket it offers `subprotocol` and checks the answer: a
/// missing or different answer breaks statement `subprotocol_spec` (a verdict, not a crash).
pub async fn open_channel(
    endpoint: &Endpoint,
    opts: &ConnectOptions,
    rec: &Recorder,
    subprotocol: &str,
    subprotocol_spec: &str,
) -> Result<(Channel, Vec<Violation>), Failure> {
    let mut o = opts.clone();
    let ws = endpoint.kind.is_websocket();
    if ws {
        o.subprotocol = Some(subprotocol.to_string());
    }
    let channel = match Channel::connect(endpoint, &o).await {
        Ok(c) => c,
        Err(TransportError::Subprotocol { why, .. }) => {
            rec.event(format!("WebSocket handshake: {why}"));
            return Err(Failure::check(
                vec![subprotocol_spec.into()],
                format!("the server did not select subprotocol `{subprotocol}`: {why}"),
            ));
        }
        Err(e) => {
            rec.event(format!("connect failed: {e}"));
            return Err(Failure::infra(e.to_string()));
        }
    };
    let mut violations = Vec::new();
    if ws && channel.subprotocol() != Some(subprotocol) {
        violations.push(Violation::new(
            subprotocol_spec,
            format!(
                "the server selected WebSocket subprotocol {:?}, not {subprotocol:?}",
                channel.subprotocol()
            ),
        ));
    }
    rec.event(match channel.subprotocol() {
        Some(p) => format!("connected to {endpoint} (subprotocol {p})"),
        None => format!("connected to {endpoint}"),
    });
    Ok((channel, violations))
}

/// The failure for a send on a connection that is gone.
pub fn send_failure(rec: &Recorder, e: TransportError) -> Failure {
    rec.event(format!("send failed: {e}"));
    match e {
        TransportError::NotWebSocket => Failure::infra(e.to_string()),
        e => Failure::check(
            Vec::new(),
            format!("could not send: the connection is gone ({e})"),
        ),
    }
}

/// Sends the protocol-neutral forms of a `send` step (`bytes`, `text`, `frame`); None when the
/// step carries a protocol form instead.
pub async fn send_raw(
    channel: &mut Channel,
    rec: &Recorder,
    step: &SendStep,
    vars: &Vars,
) -> Option<Result<(), Failure>> {
    let interp = |s: &str| {
        vars.interpolate(s)
            .map_err(|e| Failure::infra(format!("send: {e}")))
    };
    let sent = if let Some(h) = &step.bytes {
        let bytes = match interp(h).and_then(|h| parse_hex(&h).map_err(Failure::infra)) {
            Ok(b) => b,
            Err(f) => return Some(Err(f)),
        };
        rec.sent(
            format!("bytes ({} bytes)", bytes.len()),
            Some(bytes.clone()),
        );
        channel.send_bytes(&bytes).await
    } else if let Some(t) = &step.text {
        let text = match interp(t) {
            Ok(t) => t,
            Err(f) => return Some(Err(f)),
        };
        rec.sent(format!("text {text:?}"), None);
        channel.send_text(&text).await
    } else if let Some(f) = &step.frame {
        let payload = match (&f.payload, &f.payload_hex) {
            (_, Some(h)) => parse_hex(h).map_err(Failure::infra),
            (Some(t), None) => interp(t).map(String::into_bytes),
            (None, None) => Ok(Vec::new()),
        };
        let payload = match payload {
            Ok(p) => p,
            Err(f) => return Some(Err(f)),
        };
        rec.sent(
            format!("frame opcode={} fin={} rsv={}", f.opcode, f.fin, f.rsv),
            Some(payload.clone()),
        );
        channel.send_frame(f.opcode, f.fin, f.rsv, payload).await
    } else {
        return None;
    };
    Some(sent.map_err(|e| send_failure(rec, e)))
}
