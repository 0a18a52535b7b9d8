//! Transports behind one interface: TCP, TLS, WebSocket (subprotocol offer/answer, raw frames).

pub mod admission;
pub mod channel;
pub mod endpoint;
pub mod hostmeta;
pub mod http;
pub mod inspect;
pub mod sniff;
pub mod tls;

pub use channel::{Channel, Closed, ConnectOptions, MAX_MESSAGE, Received, TransportError};
pub use endpoint::{Endpoint, EndpointError, TransportKind};
