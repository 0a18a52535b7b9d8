//! The one place protocols are registered: the engine finds a case's protocol here by name and
//! names no concrete protocol anywhere else.

use crate::seam::Protocol;

/// Every protocol wirecheck speaks.
pub fn protocols() -> [&'static dyn Protocol; 2] {
    [
        &crate::mqtt::session::MqttProtocol,
        &crate::xmpp::session::XmppProtocol,
    ]
}

/// The protocol a case file names (`protocol: mqtt`), if wirecheck speaks it.
pub fn find(name: &str) -> Option<&'static dyn Protocol> {
    protocols().into_iter().find(|p| p.name() == name)
}
