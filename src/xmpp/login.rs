//! The `login` macro as a protocol routine: open, features, SASL (SCRAM-SHA-256, SCRAM-SHA-1 or PLAIN), restart, bind (RFC 7395 + RFC 6120).

use std::future::Future;

use super::bind::{BindError, bind_request_xml, bind_violation, parse_bind_result};
use super::element::Element;
use super::features::{Features, check_features};
use super::framing::{FramingError, truncate};
use super::ns;
use super::sasl::{
    Mechanism, SaslOutcome, auth_xml, check_failure, decode_text, parse_outcome, plain_auth_xml,
    response_xml,
};
use super::scram::{ScramClient, ScramError};
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
    /// The SASL mechanism to use; `None` picks the strongest the server offers.
    pub mechanism: Option<Mechanism>,
    /// The SCRAM client nonce; `None` draws a fresh random one (tests inject a fixed one).
    pub nonce: Option<String>,
    /// Whether to bind a resource; `false` stops after the restart's features (a stream
    /// management `<resume/>` takes the place of binding, XEP-0198 Section 5).
    pub bind: bool,
}

/// A successful login: the bound JID, the final stream, and what the server did wrong on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginOutcome {
    /// The full JID the server bound (`None` when the login did not bind).
    pub full_jid: Option<String>,
    /// The `id` of the response header of the stream after the restart.
    pub stream_id: Option<String>,
    /// The features offered after authentication.
    pub features: Features,
    /// The features offered before authentication (SASL mechanisms, registration).
    pub offered: Features,
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
    /// The server offers none of the mechanisms wirecheck speaks.
    #[error("the server offers none of {} (offered: [{}])", Mechanism::known(), offered.join(", "))]
    NoMechanism {
        /// The mechanisms it does offer.
        offered: Vec<String>,
    },
    /// The case requires a mechanism the server does not offer.
    #[error("the server does not offer SASL {} (offered: [{}])", wanted.name(), offered.join(", "))]
    MechanismNotOffered {
        /// The required mechanism.
        wanted: Mechanism,
        /// The mechanisms it does offer.
        offered: Vec<String>,
    },
    /// SASL failed with this condition (`not-authorized`).
    #[error("SASL authentication failed: <{0}/>")]
    SaslFailure(String),
    /// The SCRAM exchange broke RFC 5802 on the server's side (bad nonce, bad signature, ...).
    #[error("SCRAM: {0}")]
    Scram(#[from] ScramError),
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

/// Reads the server's answer in a SASL exchange: a failure ends the login, anything but a SASL
/// outcome is unexpected.
fn sasl_answer(el: &Element, violations: &mut Vec<Violation>) -> Result<SaslOutcome, LoginError> {
    match parse_outcome(el) {
        Ok(SaslOutcome::Failure { condition, .. }) => {
            violations.extend(check_failure(el));
            Err(LoginError::SaslFailure(condition))
        }
        Ok(o) => Ok(o),
        Err(_) => Err(unexpected(
            "auth",
            "SASL <challenge/>, <success/> or <failure/>",
            el,
        )),
    }
}

fn payload(b64: &str) -> Result<String, LoginError> {
    decode_text(b64).map_err(|_| {
        LoginError::Scram(ScramError::Malformed {
            message: "server message",
            why: "the SASL payload is not base64 of UTF-8 text".into(),
        })
    })
}

/// Runs a SCRAM exchange (RFC 6120 Section 6.4.2 to 6.4.6): `<auth/>` with client-first, a
/// `<challenge/>` with server-first, `<response/>` with client-final, then server-final in the
/// `<success/>` (or in a last `<challenge/>`, answered by an empty `<response/>`), verified.
async fn scram_exchange<I: ElementIo>(
    io: &mut I,
    client: &mut ScramClient,
    violations: &mut Vec<Violation>,
) -> Result<(), LoginError> {
    let mechanism = client.hash().mechanism();
    send(
        io,
        "auth",
        auth_xml(mechanism, client.client_first().as_bytes()),
    )
    .await?;
    let answer = recv(io, "auth").await?;
    let SaslOutcome::Challenge(first) = sasl_answer(&answer, violations)? else {
        return Err(unexpected(
            "auth",
            "a SASL <challenge/> with the server-first-message",
            &answer,
        ));
    };
    let server_first = payload(&first)?;
    let fin = client.client_final(&server_first)?;
    send(io, "auth", response_xml(fin.as_bytes())).await?;
    let answer = recv(io, "auth").await?;
    match sasl_answer(&answer, violations)? {
        SaslOutcome::Success(Some(data)) => client.verify_server_final(&payload(&data)?)?,
        SaslOutcome::Success(None) => {
            return Err(LoginError::Scram(ScramError::Malformed {
                message: "server-final-message",
                why: "the <success/> carries no server-final-message, so the server never proved it knows the key".into(),
            }));
        }
        SaslOutcome::Challenge(data) => {
            client.verify_server_final(&payload(&data)?)?;
            send(io, "auth", response_xml(b"")).await?;
            let answer = recv(io, "auth").await?;
            let SaslOutcome::Success(_) = sasl_answer(&answer, violations)? else {
                return Err(unexpected("auth", "SASL <success/>", &answer));
            };
        }
        SaslOutcome::Failure { .. } => unreachable!("sasl_answer turns a failure into an error"),
    }
    Ok(())
}

/// Opens a stream to `domain` and reads the features offered before authentication, without
/// logging in (what an audit without an account can see).
pub async fn features_before_auth<I: ElementIo>(
    io: &mut I,
    domain: &str,
) -> Result<Features, LoginError> {
    let p = LoginParams {
        domain: domain.to_string(),
        user: String::new(),
        password: String::new(),
        resource: None,
        mechanism: None,
        nonce: None,
        bind: false,
    };
    let mut ignored = Vec::new();
    open_stream(io, &p, "open", false, &mut ignored)
        .await
        .map(|(_, f)| f)
}

/// Logs in with SASL and binds a resource, collecting the server's violations on the way.
pub async fn login<I: ElementIo>(io: &mut I, p: &LoginParams) -> Result<LoginOutcome, LoginError> {
    let mut violations = Vec::new();
    let (first_id, features) = open_stream(io, p, "open", false, &mut violations).await?;
    let offered = features.clone();
    let mechanism = match p.mechanism {
        Some(m) if features.offers(m.name()) => m,
        Some(wanted) => {
            return Err(LoginError::MechanismNotOffered {
                wanted,
                offered: features.mechanisms,
            });
        }
        None => {
            Mechanism::strongest(&features.mechanisms).ok_or_else(|| LoginError::NoMechanism {
                offered: features.mechanisms.clone(),
            })?
        }
    };
    match mechanism.scram() {
        Some(hash) => {
            let mut client = match &p.nonce {
                Some(n) => ScramClient::new(hash, &p.user, &p.password, n),
                None => ScramClient::with_random_nonce(hash, &p.user, &p.password),
            }
            .map_err(LoginError::Scram)?;
            scram_exchange(io, &mut client, &mut violations).await?;
        }
        None => {
            send(io, "auth", plain_auth_xml("", &p.user, &p.password)).await?;
            let answer = recv(io, "auth").await?;
            match sasl_answer(&answer, &mut violations)? {
                SaslOutcome::Success(_) => {}
                _ => return Err(unexpected("auth", "SASL <success/> or <failure/>", &answer)),
            }
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
    if !p.bind {
        return Ok(LoginOutcome {
            full_jid: None,
            stream_id,
            features,
            offered,
            violations,
        });
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
        full_jid: Some(jid.to_string()),
        stream_id,
        features,
        offered,
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
        replies: VecDeque<String>,
        sent: Vec<String>,
    }

    impl Scripted {
        fn new<S: AsRef<str>>(replies: &[S]) -> Self {
            Self {
                replies: replies.iter().map(|r| r.as_ref().to_string()).collect(),
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
            Ok(parse_message(&text)?.element)
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
            mechanism: Some(Mechanism::Plain),
            nonce: None,
            bind: true,
        }
    }

    fn b64(s: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    /// The RFC 5802 Section 5 exchange, as the reference server would carry it.
    fn rfc5802_script(server_final: &str, in_challenge: bool) -> Vec<String> {
        let challenge = format!(
            "<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{}</challenge>",
            b64("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096")
        );
        let mut v = vec![OPEN1.to_string(), FEAT1.to_string(), challenge];
        if in_challenge {
            v.push(format!(
                "<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{}</challenge>",
                b64(server_final)
            ));
            v.push(SUCCESS.to_string());
        } else {
            v.push(format!(
                "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{}</success>",
                b64(server_final)
            ));
        }
        v.extend([OPEN2, FEAT2, BOUND].map(str::to_string));
        v
    }

    fn scram_params() -> LoginParams {
        LoginParams {
            user: "user".into(),
            password: "pencil".into(),
            mechanism: None,
            nonce: Some("fyko+d2lbbFgONRv9qkxdawL".into()),
            ..params()
        }
    }

    #[tokio::test]
    async fn scram_sha1_is_preferred_and_verified() {
        for in_challenge in [false, true] {
            let script = rfc5802_script("v=rmF9pqV8S7suAoZWja4dJRkFsKQ=", in_challenge);
            let mut io = Scripted::new(&script);
            let out = login(&mut io, &scram_params()).await.unwrap();
            assert_eq!(out.full_jid.as_deref(), Some("bob@localhost/b1"));
            assert_eq!(
                io.sent[1],
                format!(
                    "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>{}</auth>",
                    b64("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL")
                )
            );
            assert_eq!(
                io.sent[2],
                format!(
                    "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{}</response>",
                    b64(
                        "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
                    )
                )
            );
            if in_challenge {
                assert_eq!(
                    io.sent[3],
                    "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"
                );
            }
        }
    }

    #[tokio::test]
    async fn scram_wrong_server_signature_is_an_error() {
        let script = rfc5802_script("v=smF9pqV8S7suAoZWja4dJRkFsKQ=", false);
        let err = login(&mut Scripted::new(&script), &scram_params())
            .await
            .unwrap_err();
        assert_eq!(err, LoginError::Scram(ScramError::BadServerSignature));
        assert!(err.to_string().contains("RFC5802"));
        let script = rfc5802_script("e=invalid-proof", false);
        let err = login(&mut Scripted::new(&script), &scram_params())
            .await
            .unwrap_err();
        assert_eq!(
            err,
            LoginError::Scram(ScramError::ServerError("invalid-proof".into()))
        );
    }

    #[tokio::test]
    async fn required_mechanism_not_offered() {
        let p = LoginParams {
            mechanism: Some(Mechanism::ScramSha256),
            ..params()
        };
        let err = login(&mut Scripted::new(&[OPEN1, FEAT1]), &p)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                LoginError::MechanismNotOffered {
                    wanted: Mechanism::ScramSha256,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn logs_in_against_prosody_script() {
        let mut io = Scripted::new(&[OPEN1, FEAT1, SUCCESS, OPEN2, FEAT2, BOUND]);
        let out = login(&mut io, &params()).await.unwrap();
        assert_eq!(out.full_jid.as_deref(), Some("bob@localhost/b1"));
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
    async fn no_mechanism_and_stream_error_and_timeout() {
        let other = "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>X-OAUTH2</mechanism></mechanisms></stream:features>";
        let p = LoginParams {
            mechanism: None,
            ..params()
        };
        let err = login(&mut Scripted::new(&[OPEN1, other]), &p)
            .await
            .unwrap_err();
        assert_eq!(
            err,
            LoginError::NoMechanism {
                offered: vec!["X-OAUTH2".into()]
            }
        );
        assert!(err.to_string().contains("X-OAUTH2"));

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
