//! Namespace URIs used by XMPP over WebSocket (RFC 7395, RFC 6120, RFC 6121, XEP-0199).

/// The framed stream namespace of RFC 7395 (`<open/>`, `<close/>`).
pub const FRAMING: &str = "urn:ietf:params:xml:ns:xmpp-framing";
/// The stream namespace of RFC 6120 (`stream:features`, `stream:error`).
pub const STREAMS: &str = "http://etherx.jabber.org/streams";
/// Stream error conditions (RFC 6120 Section 4.9.3).
pub const STREAM_ERRORS: &str = "urn:ietf:params:xml:ns:xmpp-streams";
/// SASL negotiation (RFC 6120 Section 6).
pub const SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
/// Resource binding (RFC 6120 Section 7).
pub const BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";
/// Legacy session establishment (RFC 3921, kept by RFC 6121 servers as optional).
pub const SESSION: &str = "urn:ietf:params:xml:ns:xmpp-session";
/// STARTTLS, which a WebSocket server must not offer (RFC 7395 Section 3.9).
pub const TLS: &str = "urn:ietf:params:xml:ns:xmpp-tls";
/// The client-to-server content namespace.
pub const CLIENT: &str = "jabber:client";
/// The server-to-server content namespace.
pub const SERVER: &str = "jabber:server";
/// Stanza error conditions (RFC 6120 Section 8.3.3).
pub const STANZAS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";
/// XMPP Ping (XEP-0199).
pub const PING: &str = "urn:xmpp:ping";
/// The namespace bound to the reserved `xml` prefix.
pub const XML: &str = "http://www.w3.org/XML/1998/namespace";
/// The namespace bound to the reserved `xmlns` prefix.
pub const XMLNS: &str = "http://www.w3.org/2000/xmlns/";
/// Stream management, version 3 (XEP-0198).
pub const SM: &str = "urn:xmpp:sm:3";
/// The stream feature of in-band registration (XEP-0077).
pub const REGISTER_FEATURE: &str = "http://jabber.org/features/iq-register";
/// Service discovery: items (XEP-0030).
pub const DISCO_ITEMS: &str = "http://jabber.org/protocol/disco#items";
/// Service discovery: information (XEP-0030).
pub const DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";
