//! The `login` macro as a protocol routine: open, features, SASL PLAIN, restart, bind (RFC 7395 + RFC 6120).

use std::future::Future;

use super::bind::{BindError, bind_request_xml, bind_violation, parse_bind_result};
use super::element::Element;
use super::features::{Features, check_features};
use super::framing::{FramingError, truncate};
use super::ns;
use super::sasl::{SaslOutcome, check_failure, parse_outcome, plain_auth_xml};
use super::stream::{
    check_server_open, check_server_open_to, is_close, is_stream_error, open_xml,
    stream_error_condition, stream_error_text,
};
use crate::violation::Violation;

/// The element-level I/O the login runs over; the engine implements it on its transport and records frames.
pub trait ElementIo {
    /// Sends one element (already serialized XML) as one WebSocket text message.
    fn send(&mut self, xml: String) -> impl Future<Output = Result<(), LoginIoError>> + Send;
    /// Receives the next element (framing already applied by the I/O side; the I/O enforces the deadline).
    fn recv(&mut self) -> impl Future<Output = Result<Element, LoginIoError>> + Send;
}

/// Errors the I/O side reports to the login routine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginIoError {
    /// A transport error, described.
    #[error("I/O error: {0}")]
    Io(String),
    /// The connection was closed.
    #[error("connection closed: {0}")]
    Closed(String),
    /// Nothing arrived before the deadline.
    #[error("timed out")]
    Timeout,
    /// A message arrived that is not one element.
    #[error("framing: {0}")]
    Framing(#[from] FramingError),
}

/// What the login needs: the service domain and one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginParams {
    /// The XMPP service domain (`to` of the `<open/>`).
    pub domain: String,
    /// The account's localpart (SASL authentication identity).
    pub user: String,
    /// The account's password.
    pub password: String,
    /// The resource to request; `None` lets the server generate one.
    pub resource: Option<String>,
}

/// A successful login: the bound JID, the final stream, and what the server did wrong on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginOutcome {
    /// The full JID the server bound.
    pub full_jid: String,
    /// The `id` of the response header of the stream after the restart.
    pub stream_id: Option<String>,
    /// The features offered after authentication.
    pub features: Features,
    /// Spec violations seen during the login (they do not stop it).
    pub violations: Vec<Violation>,
}

/// Why the login could not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    /// The I/O side failed during `step`.
    #[error("{step}: {source}")]
    Io {
        /// The login step (`open`, `features`, `auth`, `restart`, `bind`, `session`).
        step: &'static str,
        /// The I/O error.
        source: LoginIoError,
    },
    /// The server sent a stream error during `step`.
    #[error("{step}: stream error <{condition}/>{}", text.as_ref().map(|t| format!(" ({t})")).unwrap_or_default())]
    StreamError {
        /// The login step.
        step: &'static str,
        /// The stream error condition.
        condition: String,
        /// The stream error text, if any.
        text: Option<String>,
    },
    /// The server closed the stream with `<close/>` during `step`.
    #[error("{step}: the server closed the stream{}", see_other_uri.as_ref().map(|u| format!(" (see-other-uri {u})")).unwrap_or_default())]
    ServerClosed {
        /// The login step.
        step: &'static str,
        /// The redirect of RFC 7395 Section 3.6.1, if given.
        see_other_uri: Option<String>,
    },
    /// Something other than what the step needs arrived.
    #[error("{step}: expected {expected}, got {got}")]
    Unexpected {
        /// The login step.
        step: &'static str,
        /// What the step waited for.
        expected: &'static str,
        /// What arrived (truncated XML).
        got: String,
    },
    /// The server does not offer SASL PLAIN.
    #[error("the server does not offer SASL PLAIN (offered: [{}])", offered.join(", "))]
    NoPlain {
        /// The mechanisms it does offer.
        offered: Vec<String>,
    },
    /// SASL failed with this condition (`not-authorized`).
    #[error("SASL PLAIN failed: <{0}/>")]
    SaslFailure(String),
    /// The post-authentication features do not offer resource binding.
    #[error("the features after authentication do not offer <bind/>")]
    NoBind,
    /// Resource binding failed.
    #[error("bind: {0}")]
    Bind(#[from] BindError),
    /// The required legacy session could not be established.
    #[error("session: {0}")]
    Session(String),
}

const BIND_ID: &str = "bind_1";
const SESSION_ID: &str = "session_1";

async fn send<I: ElementIo>(io: &mut I, step: &'static str, xml: String) -> Result<(), LoginError> {
    io.send(xml)
        .await
        .map_err(|source| LoginError::Io { step, source })
}

/// Receives the next element, turning stream errors and `<close/>` into errors.
async fn recv<I: ElementIo>(io: &mut I, step: &'static str) -> Result<Element, LoginError> {
    let el = io
        .recv()
        .await
        .map_err(|source| LoginError::Io { step, source })?;
    if is_stream_error(&el) {
        return Err(LoginError::StreamError {
            step,
            condition: stream_error_condition(&el).unwrap_or_default(),
            text: stream_error_text(&el),
        });
    }
    if is_close(&el) {
        return Err(LoginError::ServerClosed {
            step,
            see_other_uri: el.attr("see-other-uri").map(str::to_string),
        });
    }
    Ok(el)
}

fn unexpected(step: &'static str, expected: &'static str, el: &Element) -> LoginError {
    LoginError::Unexpected {
        step,
        expected,
        got: truncate(&el.to_xml(), 300),
    }
}

/// Opens a stream and reads the response header and features (steps `open`/`restart`).
async fn open_stream<I: ElementIo>(
    io: &mut I,
    p: &LoginParams,
    step: &'static str,
    authenticated: bool,
    violations: &mut Vec<Violation>,
) -> Result<(Option<String>, Features), LoginError> {
    send(io, step, open_xml(&p.domain)).await?;
    let header = recv(io, step).await?;
    if header.name != "open" && header.name != "stream" {
        return Err(unexpected(step, "the server's <open/>", &header));
    }
    violations.extend(check_server_open(&header, &p.domain));
    violations.extend(check_server_open_to(&header, None));
    let id = header.attr("id").map(str::to_string);
    let features_el = recv(io, "features").await?;
    let Ok(features) = Features::parse(&features_el) else {
        return Err(unexpected("features", "<stream:features/>", &features_el));
    };
    violations.extend(check_features(&features_el, authenticated));
    Ok((id, features))
}

/// Logs in with SASL PLAIN and binds a resource, collecting the server's violations on the way.
pub async fn login<I: ElementIo>(io: &mut I, p: &LoginParams) -> Result<LoginOutcome, LoginError> {
    let mut violations = Vec::new();
    let (first_id, features) = open_stream(io, p, "open", false, &mut violations).await?;
    if !features.offers("PLAIN") {
        return Err(LoginError::NoPlain {
            offered: features.mechanisms,
        });
    }
    send(io, "auth", plain_auth_xml("", &p.user, &p.password)).await?;
    let answer = recv(io, "auth").await?;
    match parse_outcome(&answer) {
        Ok(SaslOutcome::Success(_)) => {}
        Ok(SaslOutcome::Failure { condition, .. }) => {
            violations.extend(check_failure(&answer));
            return Err(LoginError::SaslFailure(condition));
        }
        Ok(SaslOutcome::Challenge(_)) | Err(_) => {
            return Err(unexpected("auth", "SASL <success/> or <failure/>", &answer));
        }
    }
    // RFC 7395 Section 3.7: a restart is a new <open/>, never a <close/>.
    let (stream_id, features) = open_stream(io, p, "restart", true, &mut violations).await?;
    if let (Some(a), Some(b)) = (&first_id, &stream_id)
        && a == b
    {
        violations.push(Violation::new(
            "RFC6120-6.4.6-5",
            format!("the stream id '{a}' was reused after the SASL restart"),
        ));
    }
    if !features.bind {
        return Err(LoginError::NoBind);
    }
    send(io, "bind", bind_request_xml(BIND_ID, p.resource.as_deref())).await?;
    let reply = recv(io, "bind").await?;
    let jid = match parse_bind_result(&reply, BIND_ID) {
        Ok(j) => j,
        Err(e) => {
            violations.extend(bind_violation(&e));
            return Err(LoginError::Bind(e));
        }
    };
    if features.session == Some(false) {
        let xml = format!(
            "<iq xmlns='{}' type='set' id='{SESSION_ID}'><session xmlns='{}'/></iq>",
            ns::CLIENT,
            ns::SESSION
        );
        send(io, "session", xml).await?;
        let reply = recv(io, "session").await?;
        if reply.name != "iq" || reply.attr("id") != Some(SESSION_ID) {
            return Err(unexpected("session", "the session result <iq/>", &reply));
        }
        if reply.attr("type") != Some("result") {
            return Err(LoginError::Session(truncate(&reply.to_xml(), 300)));
        }
    }
    Ok(LoginOutcome {
        full_jid: jid.to_string(),
        stream_id,
        features,
        violations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmpp::framing::parse_message;
    use std::collections::VecDeque;

    /// Plays canned server frames and records what the client sent.
    struct Scripted {
        replies: VecDeque<&'static str>,
        sent: Vec<String>,
    }

    impl Scripted {
        fn new(replies: &[&'static str]) -> Self {
            Self {
                replies: replies.iter().copied().collect(),
                sent: Vec::new(),
            }
        }
    }

    impl ElementIo for Scripted {
        async fn send(&mut self, xml: String) -> Result<(), LoginIoError> {
            self.sent.push(xml);
            Ok(())
        }
        async fn recv(&mut self) -> Result<Element, LoginIoError> {
            let text = self.replies.pop_front().ok_or(LoginIoError::Timeout)?;
            Ok(parse_message(text)?.element)
        }
    }

    const OPEN1: &str = "<open id='a444a7d4' xml:lang='en' version='1.0' xmlns='urn:ietf:params:xml:ns:xmpp-framing' from='localhost'/>";
    const OPEN2: &str = "<open id='8528a687' xml:lang='en' version='1.0' xmlns='urn:ietf:params:xml:ns:xmpp-framing' from='localhost'/>";
    const FEAT1: &str = "<stream:features xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client'><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism></mechanisms></stream:features>";
    const FEAT2: &str = "<stream:features xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><required/></bind><session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session></stream:features>";
    const SUCCESS: &str = "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>";
    const BOUND: &str = "<iq id='bind_1' xmlns='jabber:client' type='result'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>bob@localhost/b1</jid></bind></iq>";

    fn params() -> LoginParams {
        LoginParams {
            domain: "localhost".into(),
            user: "bob".into(),
            password: "secret".into(),
            resource: Some("b1".into()),
        }
    }

    #[tokio::test]
    async fn logs_in_against_prosody_script() {
        let mut io = Scripted::new(&[OPEN1, FEAT1, SUCCESS, OPEN2, FEAT2, BOUND]);
        let out = login(&mut io, &params()).await.unwrap();
        assert_eq!(out.full_jid, "bob@localhost/b1");
        assert_eq!(out.stream_id.as_deref(), Some("8528a687"));
        assert_eq!(out.features.session, Some(true));
        assert!(out.violations.is_empty(), "{:?}", out.violations);
        assert_eq!(io.sent.len(), 4, "no <session/> when it is optional");
        assert_eq!(
            io.sent[1],
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGJvYgBzZWNyZXQ=</auth>"
        );
        assert_eq!(io.sent[0], io.sent[2], "the restart is a new <open/>");
    }

    #[tokio::test]
    async fn sasl_failure() {
        let fail = "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/><text>no</text></failure>";
        let mut io = Scripted::new(&[OPEN1, FEAT1, fail]);
        let err = login(&mut io, &params()).await.unwrap_err();
        assert_eq!(err, LoginError::SaslFailure("not-authorized".into()));
    }

    #[tokio::test]
    async fn no_plain_and_stream_error_and_timeout() {
        let scram = "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>";
        let err = login(&mut Scripted::new(&[OPEN1, scram]), &params())
            .await
            .unwrap_err();
        assert_eq!(
            err,
            LoginError::NoPlain {
                offered: vec!["SCRAM-SHA-1".into()]
            }
        );
        assert!(err.to_string().contains("SCRAM-SHA-1"));

        let host = "<stream:error xmlns:stream='http://etherx.jabber.org/streams'><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>";
        let err = login(&mut Scripted::new(&[OPEN1, host]), &params())
            .await
            .unwrap_err();
        assert!(
            matches!(err, LoginError::StreamError { step: "features", ref condition, .. } if condition == "host-unknown")
        );

        let err = login(&mut Scripted::new(&[OPEN1]), &params())
            .await
            .unwrap_err();
        assert_eq!(
            err,
            LoginError::Io {
                step: "features",
                source: LoginIoError::Timeout
            }
        );
    }

    #[tokio::test]
    async fn records_violations_and_required_session() {
        let sloppy_open = "<open id='same' version='1.0' xmlns='urn:ietf:params:xml:ns:xmpp-framing' from='localhost'/>";
        let feat2 = "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></stream:features>";
        let session_ok = "<iq xmlns='jabber:client' type='result' id='session_1'/>";
        let mut io = Scripted::new(&[
            sloppy_open,
            FEAT1,
            SUCCESS,
            sloppy_open,
            feat2,
            BOUND,
            session_ok,
        ]);
        let out = login(&mut io, &params()).await.unwrap();
        let ids: Vec<_> = out.violations.iter().map(|v| v.spec.as_str()).collect();
        assert_eq!(
            ids,
            ["RFC6120-4.7.4-3", "RFC6120-4.7.4-3", "RFC6120-6.4.6-5"]
        );
        assert!(io.sent[4].contains("urn:ietf:params:xml:ns:xmpp-session"));
    }

    #[tokio::test]
    async fn bind_error() {
        let conflict = "<iq id='bind_1' type='error'><error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>";
        let err = login(
            &mut Scripted::new(&[OPEN1, FEAT1, SUCCESS, OPEN2, FEAT2, conflict]),
            &params(),
        )
        .await
        .unwrap_err();
        assert_eq!(err, LoginError::Bind(BindError::Stanza("conflict".into())));
    }
}
