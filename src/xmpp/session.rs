//! An XMPP-over-WebSocket client connection for one actor: one element per text message both
//! ways, always-on RFC 7395 framing checks, the `login` macro and the `<close/>` handshake.

use tokio::time::Instant;

use crate::case::model::{ExpectStep, LoginStep, SendStep};
use crate::case::validate::parse_hex;
use crate::run::actor::Next;
use crate::run::transcript::Recorder;
use crate::run::verdict::Failure;
use crate::target::Secret;
use crate::transport::{Channel, Closed, ConnectOptions, Endpoint, Received, TransportError};
use crate::vars::Vars;
use crate::violation::Violation;
use crate::xmpp::element::Element;
use crate::xmpp::framing::parse_message;
use crate::xmpp::login::{ElementIo, LoginError, LoginIoError, LoginParams, login};
use crate::xmpp::pattern::Pattern;
use crate::xmpp::{sasl, stream};

/// Statement: the server's handshake answer contains `xmpp`.
const WS_SUBPROTOCOL: &str = "RFC7395-3.1-2";
/// Statement: data frames are text.
const WS_TEXT: &str = "RFC7395-3.2-1";
/// Statement: each frame parses as a standalone XML document.
const STANDALONE: &str = "RFC7395-3.3.3-1";

/// Who an actor logs in as.
#[derive(Debug, Clone)]
pub struct XmppIdentity {
    /// Local part.
    pub user: String,
    /// Password (never printed).
    pub password: Secret,
    /// Domain.
    pub domain: String,
    /// Resource to bind.
    pub resource: String,
}

enum Read {
    Element(Box<Element>, String),
    Malformed(String),
    Closed(Closed),
    Timeout,
}

/// One actor's XMPP connection.
pub struct XmppSession {
    channel: Channel,
    rec: Recorder,
    identity: XmppIdentity,
    violations: Vec<Violation>,
}

/// Hides SASL credentials in what the transcript shows.
fn redact_sent(xml: &str) -> String {
    if xml.trim_start().starts_with("<auth")
        && let (Some(open_end), Some(close)) = (xml.find('>'), xml.rfind("</auth>"))
        && open_end < close
        && !xml[..open_end].ends_with('/')
    {
        return format!("{}>***{}", &xml[..open_end], &xml[close..]);
    }
    xml.to_string()
}

impl XmppSession {
    /// Opens the WebSocket offering subprotocol `xmpp` and checks the server's answer.
    pub async fn open(
        endpoint: &Endpoint,
        opts: &ConnectOptions,
        rec: Recorder,
        identity: XmppIdentity,
    ) -> Result<XmppSession, Failure> {
        let mut o = opts.clone();
        o.subprotocol = Some("xmpp".into());
        let channel = match Channel::connect(endpoint, &o).await {
            Ok(c) => c,
            Err(TransportError::Subprotocol { why, .. }) => {
                rec.event(format!("WebSocket handshake: {why}"));
                return Err(Failure::check(
                    vec![WS_SUBPROTOCOL.into()],
                    format!("the server did not select subprotocol `xmpp`: {why}"),
                ));
            }
            Err(e) => {
                rec.event(format!("connect failed: {e}"));
                return Err(Failure::infra(e.to_string()));
            }
        };
        let mut violations = Vec::new();
        if channel.subprotocol() != Some("xmpp") {
            violations.push(Violation::new(
                WS_SUBPROTOCOL,
                format!(
                    "the server selected WebSocket subprotocol {:?}, not \"xmpp\"",
                    channel.subprotocol()
                ),
            ));
        }
        rec.event(format!(
            "connected to {endpoint} (subprotocol {})",
            channel.subprotocol().unwrap_or("none")
        ));
        Ok(XmppSession {
            channel,
            rec,
            identity,
            violations,
        })
    }

    /// Violations seen since the last call.
    pub fn take_violations(&mut self) -> Vec<Violation> {
        std::mem::take(&mut self.violations)
    }

    /// Drops the connection.
    pub fn abort(&mut self) {
        self.channel.abort();
    }

    async fn send_xml(&mut self, xml: &str) -> Result<(), TransportError> {
        self.rec.sent(redact_sent(xml), None);
        self.channel.send_text(xml).await
    }

    fn send_failure(&self, e: TransportError) -> Failure {
        self.rec.event(format!("send failed: {e}"));
        Failure::check(
            Vec::new(),
            format!("could not send: the connection is gone ({e})"),
        )
    }

    /// Reads one message; `header_checks` also checks `<open/>`/`<close/>` (the login macro
    /// checks those itself).
    async fn read(&mut self, deadline: Instant) -> Read {
        self.read_checked(deadline, true).await
    }

    async fn read_checked(&mut self, deadline: Instant, header_checks: bool) -> Read {
        let got = match tokio::time::timeout_at(deadline, self.channel.recv()).await {
            Err(_) => return Read::Timeout,
            Ok(r) => r,
        };
        let text = match got {
            Received::Text(t) => t,
            Received::Binary(b) | Received::Bytes(b) => {
                self.violations.push(Violation::new(
                    WS_TEXT,
                    "the server sent a binary WebSocket message",
                ));
                String::from_utf8_lossy(&b).into_owned()
            }
            Received::Closed(c) => {
                self.rec.event(c.to_string());
                return Read::Closed(c);
            }
        };
        self.rec.received(text.clone(), None);
        match parse_message(&text) {
            Ok(framed) => {
                self.violations.extend(framed.violations);
                let el = framed.element;
                if !header_checks {
                } else if stream::is_open(&el) {
                    self.violations
                        .extend(stream::check_server_open(&el, &self.identity.domain));
                } else if stream::is_close(&el) {
                    self.violations.extend(stream::check_server_close(&el));
                }
                Read::Element(Box::new(el), text)
            }
            Err(e) => {
                self.violations.push(Violation::new(
                    STANDALONE,
                    format!("a WebSocket message is not one standalone XML element: {e}"),
                ));
                Read::Malformed(text)
            }
        }
    }

    /// Sends one message of a `send` step.
    pub async fn send(&mut self, step: &SendStep, vars: &Vars) -> Result<(), Failure> {
        // Failures are the cold path; their size does not matter here.
        #[allow(clippy::result_large_err)]
        let interp = |s: &str| {
            vars.interpolate(s)
                .map_err(|e| Failure::infra(format!("send: {e}")))
        };
        let result = if let Some(x) = &step.xml {
            let xml = interp(x)?;
            self.send_xml(&xml).await
        } else if let Some(p) = &step.sasl_plain {
            let xml = sasl::plain_auth_xml("", &interp(&p.user)?, &interp(&p.password)?);
            self.send_xml(&xml).await
        } else if let Some(t) = &step.text {
            let text = interp(t)?;
            self.rec.sent(format!("text {text:?}"), None);
            self.channel.send_text(&text).await
        } else if let Some(h) = &step.bytes {
            let bytes = parse_hex(h).map_err(Failure::infra)?;
            self.rec.sent(
                format!("binary ({} bytes)", bytes.len()),
                Some(bytes.clone()),
            );
            self.channel.send_bytes(&bytes).await
        } else if let Some(f) = &step.frame {
            let payload = match (&f.payload, &f.payload_hex) {
                (_, Some(h)) => parse_hex(h).map_err(Failure::infra)?,
                (Some(t), None) => interp(t)?.into_bytes(),
                (None, None) => Vec::new(),
            };
            self.rec.sent(
                format!("frame opcode={} fin={} rsv={}", f.opcode, f.fin, f.rsv),
                Some(payload.clone()),
            );
            self.channel
                .send_frame(f.opcode, f.fin, f.rsv, payload)
                .await
        } else {
            return Err(Failure::infra("send: nothing to send"));
        };
        result.map_err(|e| self.send_failure(e))
    }

    /// Reads whatever comes next.
    pub async fn next(&mut self, deadline: Instant) -> Next {
        match self.read(deadline).await {
            Read::Element(_, text) | Read::Malformed(text) => Next::Message(text),
            Read::Closed(c) => Next::Closed(c),
            Read::Timeout => Next::Timeout,
        }
    }

    /// Runs an `expect` step: the next element matches the pattern.
    pub async fn expect(
        &mut self,
        step: &ExpectStep,
        vars: &mut Vars,
        deadline: Instant,
    ) -> Result<(), Failure> {
        let Some(x) = &step.xml else {
            return Err(Failure::infra("expect: an XMPP expect needs `xml`"));
        };
        let text = vars
            .interpolate(x)
            .map_err(|e| Failure::infra(format!("expect: {e}")))?;
        let pattern = Pattern::parse(&text)
            .map_err(|e| Failure::infra(format!("expect: field `xml`: {e}")))?;
        let waited = deadline.saturating_duration_since(Instant::now());
        match self.read(deadline).await {
            Read::Element(el, raw) => {
                let r = if step.exact {
                    pattern.matches_exact(&el, vars)
                } else {
                    pattern.matches(&el, vars)
                };
                r.map_err(|m| {
                    Failure::check(step.spec.clone(), format!("element differs: {m}"))
                        .with_diff(text.clone(), raw)
                })
            }
            Read::Malformed(raw) => Err(Failure::check(
                step.spec.clone(),
                "expected an element, got a message that is not one",
            )
            .with_diff(text, raw)),
            Read::Closed(c) => Err(Failure::check(
                step.spec.clone(),
                "expected an element, but the connection ended",
            )
            .with_diff(text, c.to_string())),
            Read::Timeout => Err(Failure::check(
                step.spec.clone(),
                format!(
                    "expected an element within {:.1}s; nothing arrived",
                    waited.as_secs_f64()
                ),
            )
            .with_diff(text, "nothing")),
        }
    }

    /// The `login` macro; defines `{ACTOR.full_jid}`.
    pub async fn login_macro(
        &mut self,
        step: &LoginStep,
        vars: &mut Vars,
        deadline: Instant,
    ) -> Result<(), Failure> {
        let resource = match &step.resource {
            Some(r) => vars
                .interpolate(r)
                .map_err(|e| Failure::infra(format!("login: resource: {e}")))?,
            None => self.identity.resource.clone(),
        };
        let params = LoginParams {
            domain: self.identity.domain.clone(),
            user: self.identity.user.clone(),
            password: self.identity.password.expose().to_string(),
            resource: Some(resource.clone()),
        };
        let mut io = Io {
            session: self,
            deadline,
        };
        let outcome = login(&mut io, &params).await;
        match outcome {
            Ok(o) => {
                self.violations.extend(o.violations);
                let actor = self.rec.actor().to_string();
                vars.set(format!("{actor}.full_jid"), o.full_jid.as_str());
                vars.set(format!("{actor}.resource"), resource.as_str());
                if let Some(id) = o.stream_id {
                    vars.set(format!("{actor}.stream_id"), id);
                }
                self.rec.event(format!("logged in as {}", o.full_jid));
                Ok(())
            }
            Err(LoginError::Io {
                step,
                source: LoginIoError::Io(why),
            }) => Err(Failure::infra(format!("login: {step}: {why}"))),
            Err(e) => Err(Failure::check(
                step.spec.clone(),
                format!("login failed: {e}"),
            )),
        }
    }

    /// `<close/>`, the server's `<close/>` (checked), then the WebSocket closing handshake.
    pub async fn disconnect(&mut self, deadline: Instant) -> Result<(), Failure> {
        let spec = vec!["RFC7395-3.6-1".to_string()];
        self.send_xml(&stream::close_xml())
            .await
            .map_err(|e| self.send_failure(e))?;
        loop {
            match self.read(deadline).await {
                Read::Element(el, _) if stream::is_close(&el) => break,
                Read::Element(_, _) | Read::Malformed(_) => continue,
                Read::Closed(c) => {
                    return Err(Failure::check(
                        spec,
                        "the server closed the connection without answering <close/> with <close/>",
                    )
                    .with_actual(c.to_string()));
                }
                Read::Timeout => {
                    return Err(Failure::check(
                        spec,
                        "the server did not answer <close/> with <close/>",
                    ));
                }
            }
        }
        let _ = self.channel.close().await;
        match self.read(deadline).await {
            Read::Closed(_) => Ok(()),
            Read::Timeout => Err(Failure::check(
                spec,
                "the server did not complete the WebSocket closing handshake",
            )),
            Read::Element(_, raw) | Read::Malformed(raw) => Err(Failure::check(
                spec,
                "the server sent data after the closing <close/>",
            )
            .with_actual(raw)),
        }
    }
}

/// Runs the login routine over this session with one deadline for the whole macro.
struct Io<'a> {
    session: &'a mut XmppSession,
    deadline: Instant,
}

impl ElementIo for Io<'_> {
    async fn send(&mut self, xml: String) -> Result<(), LoginIoError> {
        self.session
            .send_xml(&xml)
            .await
            .map_err(|e| LoginIoError::Io(e.to_string()))
    }

    async fn recv(&mut self) -> Result<Element, LoginIoError> {
        match self.session.read_checked(self.deadline, false).await {
            Read::Element(el, _) => Ok(*el),
            Read::Malformed(raw) => Err(match parse_message(&raw) {
                Err(e) => LoginIoError::Framing(e),
                Ok(_) => LoginIoError::Closed,
            }),
            Read::Closed(_) => Err(LoginIoError::Closed),
            Read::Timeout => Err(LoginIoError::Timeout),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sasl_credentials_are_redacted() {
        let x = "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHNlY3JldA==</auth>";
        assert_eq!(
            redact_sent(x),
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>***</auth>"
        );
        assert_eq!(redact_sent("<presence/>"), "<presence/>");
    }
}
