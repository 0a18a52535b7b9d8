//! An XMPP-over-WebSocket client connection for one actor: one element per text message both
//! ways, always-on RFC 7395 framing checks, the `login` macro and the `<close/>` handshake.

use tokio::time::Instant;

use crate::case::model::{ExpectStep, LoginStep, SendStep};
use crate::run::actor::{Next, open_channel, send_failure, send_raw};
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
        let (channel, violations) =
            open_channel(endpoint, opts, &rec, "xmpp", WS_SUBPROTOCOL).await?;
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
        let result = if let Some(x) = &step.xml {
            let xml = vars
                .interpolate(x)
                .map_err(|e| Failure::infra(format!("send: {e}")))?;
            self.send_xml(&xml).await
        } else if let Some(p) = &step.sasl_plain {
            let user = vars
                .interpolate(&p.user)
                .map_err(|e| Failure::infra(format!("send: {e}")))?;
            let password = vars
                .interpolate(&p.password)
                .map_err(|e| Failure::infra(format!("send: {e}")))?;
            self.send_xml(&sasl::plain_auth_xml("", &user, &password))
                .await
        } else {
            return send_raw(&mut self.channel, &self.rec, step, vars)
                .await
                .unwrap_or_else(|| Err(Failure::infra("send: nothing to send")));
        };
        result.map_err(|e| send_failure(&self.rec, e))
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
            .map_err(|e| send_failure(&self.rec, e))?;
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
