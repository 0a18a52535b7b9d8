//! The one place protocols are registered: the engine finds a case's protocol here by name and
//! names no concrete protocol anywhere else.

use crate::seam::Protocol;

/// The implementation of a protocol a case file can name.
pub fn of(protocol: crate::case::Protocol) -> &'static dyn Protocol {
    match protocol {
        crate::case::Protocol::Mqtt => &crate::mqtt::session::MqttProtocol,
        crate::case::Protocol::Xmpp => &crate::xmpp::session::XmppProtocol,
    }
}

/// Every protocol wirecheck speaks.
pub fn protocols() -> [&'static dyn Protocol; 2] {
    [
        of(crate::case::Protocol::Mqtt),
        of(crate::case::Protocol::Xmpp),
    ]
}

/// The protocol a case file names (`protocol: mqtt`), if wirecheck speaks it.
pub fn find(name: &str) -> Option<&'static dyn Protocol> {
    protocols().into_iter().find(|p| p.name() == name)
}
