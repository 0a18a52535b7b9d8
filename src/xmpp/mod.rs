//! XMPP over WebSocket (RFC 7395): framing, element model, patterns, SASL PLAIN and SCRAM, and the login routine.

pub mod bind;
pub mod element;
pub mod features;
pub mod framing;
pub mod jid;
pub mod login;
pub mod mutate;
pub mod ns;
pub mod pattern;
pub mod probe;
pub mod register;
pub mod sasl;
pub mod scram;
pub mod session;
pub mod stanza;
pub mod stream;
pub mod template;

pub use element::{Element, Node};
pub use framing::{Framed, FramingError, parse_message};
pub use jid::Jid;
pub use login::{ElementIo, LoginError, LoginIoError, LoginOutcome, LoginParams, login};
pub use pattern::{MatchError, MatchMode, Mismatch, Pattern};
