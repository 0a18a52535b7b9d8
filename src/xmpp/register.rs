//! In-band registration (XEP-0077) as an account source: a profile with `register_accounts`
//! gives each case fresh accounts with random passwords, registered on the actor's first
//! connection and removed again by the cleanup, on quiet links that stay out of the transcript.

use std::collections::BTreeSet;
use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

use super::element::{Element, escape};
use super::framing::parse_message;
use super::ns;
use super::session::{WS_SUBPROTOCOL, XmppCodec, XmppIdentity};
use super::stream;
use crate::case::{Case, Step};
use crate::seam::{Link, LinkEnv, Recv, Transcript};
use crate::target::{Account, RegisterSource, Secret};
use crate::transport::Endpoint;
use crate::vars::Vars;

/// The registration namespace.
const REGISTER_NS: &str = "jabber:iq:register";
/// Time allowed for one registration on an actor's first connection.
pub const REGISTER_TIMEOUT: Duration = Duration::from_secs(10);
/// Length of the random part of a user name and of a password.
const NAME_RANDOM: usize = 6;
const PASSWORD_LEN: usize = 24;

fn random_text(n: usize) -> String {
    const ABC: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| ABC[rng.random_range(0..ABC.len())] as char)
        .collect()
}

/// Fresh accounts for the leased slots of `source`'s pool: each slot's name (`<prefix><n>`)
/// with a random suffix, so an account a crashed run left behind never collides, and a random
/// password that lives only in memory.
pub fn fresh(source: &RegisterSource, slots: &[Account]) -> Vec<Account> {
    slots
        .iter()
        .map(|slot| {
            debug_assert!(slot.user.starts_with(&source.prefix));
            Account {
                user: format!("{}x{}", slot.user, random_text(NAME_RANDOM)),
                password: Secret::new(random_text(PASSWORD_LEN)),
            }
        })
        .collect()
}

/// Why a registration or a removal did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// The connection or the exchange failed.
    #[error("{0}")]
    Io(String),
    /// The server answered the iq with an error.
    #[error("the server refused: {0}")]
    Refused(String),
}

/// The accounts of one case that were registered, so the cleanup removes exactly those.
#[derive(Debug, Default)]
pub struct Registrations {
    done: BTreeSet<String>,
}

/// A link whose traffic stays out of the case's transcript.
fn quiet(env: &LinkEnv) -> LinkEnv {
    LinkEnv {
        transcript: Transcript::new(),
        case_id: env.case_id.clone(),
        hook: None,
        connect: env.connect.clone(),
    }
}

async fn open_link(
    endpoint: &Endpoint,
    env: &LinkEnv,
    domain: &str,
) -> Result<Link<XmppCodec>, RegisterError> {
    Link::open(
        endpoint,
        &quiet(env),
        "register",
        "xmpp",
        WS_SUBPROTOCOL,
        XmppCodec::new(domain),
    )
    .await
    .map_err(|f| RegisterError::Io(f.message))
}

/// Waits for the next element named `name` (others are skipped).
async fn await_named(
    link: &mut Link<XmppCodec>,
    name: &str,
    deadline: Instant,
) -> Result<Element, RegisterError> {
    loop {
        match link.recv(deadline).await {
            Recv::Message(m) => match m.message {
                Some(el) if el.name == name => return Ok(el),
                _ => continue,
            },
            Recv::Ended(e) => return Err(RegisterError::Io(format!("the connection ended: {e}"))),
            Recv::Timeout => return Err(RegisterError::Io(format!("no <{name}/> in time"))),
        }
    }
}

/// Sends `iq` and waits for its result (an error answer is a refusal).
async fn iq(
    link: &mut Link<XmppCodec>,
    id: &str,
    iq: String,
    deadline: Instant,
) -> Result<(), RegisterError> {
    link.send(iq, deadline)
        .await
        .map_err(|f| RegisterError::Io(f.message))?;
    loop {
        let el = await_named(link, "iq", deadline).await?;
        if el.attr("id") != Some(id) {
            continue;
        }
        return match el.attr("type") {
            Some("result") => Ok(()),
            _ => Err(RegisterError::Refused(el.to_xml())),
        };
    }
}

/// Ends the stream politely (or drops it when the server has ended it already).
async fn close(link: &mut Link<XmppCodec>, deadline: Instant) {
    if link.ended().is_some() || link.send(stream::close_xml(), deadline).await.is_err() {
        link.abort();
        return;
    }
    loop {
        match link.recv(deadline).await {
            Recv::Message(m) if m.message.as_ref().is_some_and(stream::is_close) => {
                link.close(deadline).await;
                return;
            }
            Recv::Message(_) => continue,
            Recv::Ended(_) => return,
            Recv::Timeout => {
                link.abort();
                return;
            }
        }
    }
}

/// Registers `user` with `password` before authentication (XEP-0077 Section 3.1).
pub async fn register(
    endpoint: &Endpoint,
    env: &LinkEnv,
    domain: &str,
    user: &str,
    password: &str,
    deadline: Instant,
) -> Result<(), RegisterError> {
    let mut link = open_link(endpoint, env, domain).await?;
    let open = format!(
        "<open xmlns='{}' to='{}' version='1.0'/>",
        ns::FRAMING,
        escape(domain)
    );
    link.send(open, deadline)
        .await
        .map_err(|f| RegisterError::Io(f.message))?;
    await_named(&mut link, "features", deadline).await?;
    let set = format!(
        "<iq xmlns='{}' type='set' id='wc-register'><query xmlns='{REGISTER_NS}'><username>{}</username><password>{}</password></query></iq>",
        ns::CLIENT,
        escape(user),
        escape(password)
    );
    let answer = iq(&mut link, "wc-register", set, deadline).await;
    close(&mut link, deadline).await;
    answer
}

/// Logs `id` in and cancels its registration (XEP-0077 Section 3.2).
pub async fn remove(
    endpoint: &Endpoint,
    env: &LinkEnv,
    id: &XmppIdentity,
    deadline: Instant,
) -> Result<(), RegisterError> {
    let mut link = open_link(endpoint, env, &id.domain).await?;
    id.side_login(&mut link, "remove", deadline)
        .await
        .map_err(|e| RegisterError::Io(format!("login: {e}")))?;
    let set = format!(
        "<iq xmlns='{}' type='set' id='wc-unregister'><query xmlns='{REGISTER_NS}'><remove/></query></iq>",
        ns::CLIENT
    );
    let answer = iq(&mut link, "wc-unregister", set, deadline).await;
    // the server may end the stream after the removal
    close(&mut link, deadline).await;
    answer
}

/// The accounts a case registers itself (a `send` of a registration set with username and
/// password, as `vars` make it), leaving out the accounts it leased: the cleanup removes any
/// the case did not remove, so a case that failed half way leaves no account behind.
pub fn registered_by(case: &Case, vars: &Vars, leased: &[&str]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for s in &case.steps {
        let Step::Send(send) = &s.step else { continue };
        let Some(xml) = send.xml.as_deref().filter(|x| x.contains(REGISTER_NS)) else {
            continue;
        };
        let Ok(framed) = vars.interpolate(xml).map(|x| parse_message(&x)) else {
            continue;
        };
        let Some(query) = framed
            .ok()
            .and_then(|f| f.element.child("query", REGISTER_NS).cloned())
        else {
            continue;
        };
        let text = |n: &str| {
            query
                .child(n, REGISTER_NS)
                .map(|e| e.text().trim().to_string())
                .filter(|t| !t.is_empty())
        };
        if let (Some(u), Some(p)) = (text("username"), text("password"))
            && !leased.iter().any(|l| l.eq_ignore_ascii_case(&u))
            && !out
                .iter()
                .any(|(o, _): &(String, String)| o.eq_ignore_ascii_case(&u))
        {
            out.push((u, p));
        }
    }
    out
}

/// Removes the accounts of [`registered_by`] that still log in; a login that fails means the
/// case removed it (or never made it), which is no news. Returns a note for each one removed.
pub async fn remove_leftovers(
    endpoint: &Endpoint,
    env: &LinkEnv,
    domain: &str,
    accounts: &[(String, String)],
    deadline: Instant,
) -> Vec<String> {
    let mut notes = Vec::new();
    for (user, password) in accounts {
        let id = XmppIdentity {
            user: user.clone(),
            password: Secret::new(password.clone()),
            domain: domain.to_string(),
            resource: "wc-cleanup".into(),
        };
        match remove(endpoint, env, &id, deadline).await {
            Ok(()) => notes.push(format!("removed the account {user} the case left behind")),
            Err(RegisterError::Refused(why)) => {
                notes.push(format!("could not remove the account {user}: {why}"))
            }
            Err(RegisterError::Io(_)) => {}
        }
    }
    notes
}

impl Registrations {
    /// Registers the account of `id` unless this case did so already.
    pub async fn ensure(
        &mut self,
        endpoint: &Endpoint,
        env: &LinkEnv,
        id: &XmppIdentity,
    ) -> Result<(), RegisterError> {
        if self.done.contains(&id.user) {
            return Ok(());
        }
        let deadline = Instant::now() + REGISTER_TIMEOUT;
        register(
            endpoint,
            env,
            &id.domain,
            &id.user,
            id.password.expose(),
            deadline,
        )
        .await?;
        self.done.insert(id.user.clone());
        Ok(())
    }

    /// Removes every account this case registered (one identity per account from `ids`);
    /// returns a note for each that could not be removed.
    pub async fn remove_all<'a>(
        &mut self,
        endpoint: &Endpoint,
        env: &LinkEnv,
        ids: impl IntoIterator<Item = &'a XmppIdentity>,
        deadline: Instant,
    ) -> Vec<String> {
        let mut notes = Vec::new();
        for id in ids {
            if !self.done.remove(&id.user) {
                continue;
            }
            if let Err(e) = remove(endpoint, env, id, deadline).await {
                notes.push(format!(
                    "{}: the registered account could not be removed: {e}",
                    id.user
                ));
            }
        }
        notes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accounts_a_case_registers_are_found_but_not_leased_ones() {
        let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cases/xmpp/register");
        let cases = crate::case::load_all(&[
            root.join("create-login-remove.yaml"),
            root.join("existing-username-conflict.yaml"),
        ])
        .unwrap();
        let mut vars = Vars::new();
        vars.set("run", "ab12cd");
        vars.set("domain", "localhost");
        vars.set("alice.user", "wc3");
        let by_id = |id: &str| cases.iter().find(|c| c.id == id).unwrap();
        let made = registered_by(by_id("xmpp.register.create-login-remove"), &vars, &["wc1"]);
        assert_eq!(
            made,
            [("wcrab12cd".to_string(), "wcr-ab12cd-secret".to_string())]
        );
        let conflict = by_id("xmpp.register.existing-username-conflict");
        assert!(
            registered_by(conflict, &vars, &["wc3"]).is_empty(),
            "a leased account is never removed"
        );
    }

    #[test]
    fn fresh_accounts_are_unique_localparts_with_random_passwords() {
        let source = RegisterSource {
            prefix: "wcibr".into(),
            count: 2,
        };
        let slots: Vec<Account> = (1..=2)
            .map(|i| Account {
                user: format!("wcibr{i}"),
                password: Secret::new(""),
            })
            .collect();
        let a = fresh(&source, &slots);
        let b = fresh(&source, &slots);
        assert_eq!(a.len(), 2);
        assert!(a[0].user.starts_with("wcibr1x") && a[1].user.starts_with("wcibr2x"));
        assert_eq!(a[0].user.len(), "wcibr1x".len() + NAME_RANDOM);
        assert_ne!(a[0].user, b[0].user, "a new suffix each case");
        assert_eq!(a[0].password.expose().len(), PASSWORD_LEN);
        assert_ne!(a[0].password.expose(), a[1].password.expose());
        assert!(a.iter().all(|x| {
            x.user
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        }));
    }
}
