//! One actor's connection, whatever its protocol: the engine talks to this, the protocol
//! modules do the talking.

use tokio::time::Instant;

use crate::case::model::{ConnectStep, ExpectStep, LoginStep, SendStep};
use crate::mqtt::session::MqttSession;
use crate::run::verdict::Failure;
use crate::transport::Closed;
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
