//! Facts about a live endpoint that an audit reports beside the cases: what the server offers
//! (limits, mechanisms, certificate) and whether that is fine, worth a look, or a finding.

use std::fmt;

/// The part of a server an audit judges separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Area {
    /// Message framing: MQTT packets, WebSocket frames, RFC 7395 framing.
    Framing,
    /// Connecting: CONNECT/CONNACK, stream negotiation, SASL, resource binding.
    Negotiation,
    /// What a connected client gets: QoS and retained messages (MQTT), presence, roster,
    /// messages and iq routing (XMPP).
    Delivery,
    /// Transport security and access control.
    Security,
}

impl Area {
    /// Every area, in report order.
    pub const ALL: [Area; 4] = [
        Area::Framing,
        Area::Negotiation,
        Area::Delivery,
        Area::Security,
    ];

    /// The area's heading; `protocol` names the delivery area the way its users do.
    pub fn heading(self, protocol: &str) -> &'static str {
        match (self, protocol) {
            (Area::Framing, _) => "framing",
            (Area::Negotiation, _) => "negotiation",
            (Area::Delivery, "xmpp") => "presence and routing",
            (Area::Delivery, _) => "QoS and delivery",
            (Area::Security, _) => "security",
        }
    }
}

/// How a fact bears on the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Information only.
    Info,
    /// As it should be.
    Ok,
    /// Allowed, but an operator should know (e.g. anonymous clients accepted).
    Warn,
    /// Wrong: fails its area (e.g. an untrusted certificate, PLAIN over plain text).
    Finding,
}

impl Status {
    /// The word shown in reports.
    pub fn name(self) -> &'static str {
        match self {
            Status::Info => "info",
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Finding => "finding",
        }
    }
}

/// One fact.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Fact {
    /// The area it belongs to.
    pub area: Area,
    /// What it is about, e.g. `TLS version`, `Maximum QoS`.
    pub name: String,
    /// What was seen, in words.
    pub value: String,
    /// How it bears on the verdict.
    pub status: Status,
    /// The statement it is judged by, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec: Option<String>,
}

impl Fact {
    /// A fact with status `status` and no statement.
    pub fn new(
        area: Area,
        name: impl Into<String>,
        value: impl Into<String>,
        status: Status,
    ) -> Fact {
        Fact {
            area,
            name: name.into(),
            value: value.into(),
            status,
            spec: None,
        }
    }

    /// An informational fact.
    pub fn info(area: Area, name: impl Into<String>, value: impl Into<String>) -> Fact {
        Fact::new(area, name, value, Status::Info)
    }

    /// The same fact judged by statement `id`.
    pub fn judged_by(mut self, id: impl Into<String>) -> Fact {
        self.spec = Some(id.into());
        self
    }
}

impl fmt::Display for Fact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.value)?;
        if let Some(id) = &self.spec {
            write!(f, " [{id}]")?;
        }
        Ok(())
    }
}
