//! The reference server's side of SASL (RFC 6120 Section 6): PLAIN and SCRAM-SHA-1/SHA-256
//! (RFC 5802, RFC 7677) without channel binding, `<abort/>`, and the failure conditions.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;

use super::*;
use crate::xmpp::sasl::{SaslError, data_xml, decode_plain, decode_text, failure_xml};
use crate::xmpp::scram::{
    DEFAULT_ITERATIONS, ScramHash, ScramKeys, parse_client_final, parse_client_first, random_nonce,
    server_signature, verify_client_proof,
};

/// What the server keeps of an account for SCRAM: never the password itself.
#[derive(Debug, Clone)]
pub(crate) struct ScramAccount {
    /// The account's salt.
    pub salt: Vec<u8>,
    /// The iteration count.
    pub iterations: u32,
    /// StoredKey := H(ClientKey).
    pub stored_key: Vec<u8>,
    /// ServerKey.
    pub server_key: Vec<u8>,
}

/// SCRAM credentials for every account and hash, each with its own random salt.
pub(crate) fn scram_accounts(
    accounts: &[(String, String)],
) -> HashMap<(String, ScramHash), ScramAccount> {
    let mut out = HashMap::new();
    for (user, password) in accounts {
        for hash in [ScramHash::Sha1, ScramHash::Sha256] {
            let mut salt = [0u8; 16];
            rand::rng().fill_bytes(&mut salt);
            let keys = ScramKeys::derive(hash, password, &salt, DEFAULT_ITERATIONS);
            out.insert(
                (user.to_lowercase(), hash),
                ScramAccount {
                    salt: salt.to_vec(),
                    iterations: DEFAULT_ITERATIONS,
                    stored_key: keys.stored_key,
                    server_key: keys.server_key,
                },
            );
        }
    }
    out
}

/// Where a SASL exchange stands.
#[derive(Debug, Clone, Default)]
pub(super) enum SaslState {
    /// No exchange under way.
    #[default]
    None,
    /// PLAIN without an initial response: an empty challenge was sent.
    PlainResponse,
    /// SCRAM without an initial response: the client-first-message comes in a `<response/>`.
    ScramFirst(ScramHash),
    /// SCRAM: the server-first-message was sent; the client-final-message is due.
    ScramFinal(Box<ScramPending>),
}

/// A SCRAM exchange after the server-first-message.
#[derive(Debug, Clone)]
pub(super) struct ScramPending {
    hash: ScramHash,
    /// The account (lower-cased), or `None` for a user that does not exist (the exchange goes
    /// on with a made-up salt so that it does not tell which accounts exist, and then fails).
    user: Option<String>,
    /// The combined nonce.
    nonce: String,
    /// client-first-message-bare + "," + server-first-message.
    auth_prefix: String,
}

impl Session {
    pub(super) fn sasl(&mut self, el: &Element, is_stanza: bool) {
        if is_stanza {
            self.stream_error(
                "not-authorized",
                Some("authenticate before sending stanzas"),
            );
            return;
        }
        if el.ns.as_deref() != Some(ns::SASL) {
            return;
        }
        match el.name.as_str() {
            "auth" => {
                if self.sasl_failures >= MAX_SASL_FAILURES {
                    self.stream_error(
                        "policy-violation",
                        Some("too many failed authentication attempts"),
                    );
                    return;
                }
                let data = el.text();
                let empty = data.trim().is_empty();
                match el.attr("mechanism") {
                    Some("PLAIN") if empty => self.challenge(SaslState::PlainResponse, ""),
                    Some("PLAIN") => self.sasl_verify(&data),
                    Some(m) => match ScramHash::from_mechanism(m) {
                        Some(h) if empty => self.challenge(SaslState::ScramFirst(h), ""),
                        Some(h) => self.scram_first(h, &data),
                        None => self.sasl_fail("invalid-mechanism", None),
                    },
                    None => self.sasl_fail("invalid-mechanism", None),
                }
            }
            "response" => match std::mem::take(&mut self.sasl_state) {
                SaslState::PlainResponse => self.sasl_verify(&el.text()),
                SaslState::ScramFirst(h) => self.scram_first(h, &el.text()),
                SaslState::ScramFinal(p) => self.scram_final(*p, &el.text()),
                SaslState::None => self.sasl_fail("malformed-request", None),
            },
            "abort" => self.sasl_fail("aborted", None),
            _ => {}
        }
    }

    /// Sends a `<challenge/>` with base64 of `data` and waits for the `<response/>`.
    fn challenge(&mut self, state: SaslState, data: &str) {
        self.emit(data_xml("challenge", data.as_bytes()));
        self.sasl_state = state;
        self.phase = Phase::SaslChallenge;
    }

    fn sasl_fail(&mut self, condition: &str, text: Option<&str>) {
        if condition != "aborted" {
            self.sasl_failures += 1;
        }
        self.emit(failure_xml(condition, text));
        self.sasl_state = SaslState::None;
        self.phase = Phase::Sasl;
    }

    fn sasl_success(&mut self, user: String, data: Option<&str>) {
        self.emit(data_xml("success", data.unwrap_or_default().as_bytes()));
        self.user = Some(user);
        self.sasl_state = SaslState::None;
        self.phase = Phase::AwaitOpen {
            authenticated: true,
        };
        self.header_sent = false;
    }

    fn sasl_verify(&mut self, b64: &str) {
        match decode_plain(b64) {
            Err(SaslError::Base64) => self.sasl_fail("incorrect-encoding", None),
            Err(_) => self.sasl_fail("malformed-request", None),
            Ok((authzid, user, password)) => {
                let user = user.to_lowercase();
                let ok = self.shared.accounts.password_is(&user, &password);
                let own = format!("{user}@{}", self.shared.domain);
                if !ok {
                    self.sasl_fail("not-authorized", Some(NOT_AUTHORIZED_TEXT));
                } else if !authzid.is_empty() && !authzid.eq_ignore_ascii_case(&own) {
                    self.sasl_fail("invalid-authzid", None);
                } else {
                    self.sasl_success(user, None);
                }
            }
        }
    }

    /// The client-first-message: answered with the server-first-message in a `<challenge/>`.
    fn scram_first(&mut self, hash: ScramHash, b64: &str) {
        let text = match decode_text(b64) {
            Ok(t) => t,
            Err(SaslError::Base64) => return self.sasl_fail("incorrect-encoding", None),
            Err(_) => return self.sasl_fail("malformed-request", None),
        };
        let Ok(first) = parse_client_first(&text) else {
            return self.sasl_fail("malformed-request", None);
        };
        let user = first.user.to_lowercase();
        let account = self.shared.accounts.scram(&user, hash);
        let (salt, iterations) = match &account {
            Some(a) => (a.salt.clone(), a.iterations),
            None => {
                let mut salt = vec![0u8; 16];
                rand::rng().fill_bytes(&mut salt);
                (salt, DEFAULT_ITERATIONS)
            }
        };
        let nonce = format!("{}{}", first.nonce, random_nonce());
        let server_first = format!("r={nonce},s={},i={iterations}", STANDARD.encode(&salt));
        let pending = ScramPending {
            hash,
            user: account.is_some().then_some(user),
            nonce,
            auth_prefix: format!("{},{server_first}", first.bare),
        };
        self.challenge(SaslState::ScramFinal(Box::new(pending)), &server_first);
    }

    /// The client-final-message: the proof is checked, and the server signature sent in `<success/>`.
    fn scram_final(&mut self, p: ScramPending, b64: &str) {
        let text = match decode_text(b64) {
            Ok(t) => t,
            Err(SaslError::Base64) => return self.sasl_fail("incorrect-encoding", None),
            Err(_) => return self.sasl_fail("malformed-request", None),
        };
        let Ok(fin) = parse_client_final(&text) else {
            return self.sasl_fail("malformed-request", None);
        };
        if fin.channel_binding != crate::xmpp::scram::CHANNEL_BINDING_NONE || fin.nonce != p.nonce {
            return self.sasl_fail("malformed-request", None);
        }
        let auth_message = format!("{},{}", p.auth_prefix, fin.without_proof);
        let account = p
            .user
            .as_ref()
            .and_then(|u| self.shared.accounts.scram(u, p.hash));
        let Some(account) = account
            .filter(|a| verify_client_proof(p.hash, &a.stored_key, &auth_message, &fin.proof))
        else {
            return self.sasl_fail("not-authorized", Some(NOT_AUTHORIZED_TEXT));
        };
        let mut signature = server_signature(p.hash, &account.server_key, &auth_message);
        if self.fault(XmppFault::ScramBadServerSignature) {
            signature[0] ^= 0x01;
        }
        let server_final = format!("v={}", STANDARD.encode(signature));
        let user = p.user.clone().expect("a verified proof has an account");
        self.sasl_success(user, Some(&server_final));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmpp::sasl::{abort_xml, auth_xml, response_xml};
    use crate::xmpp::scram::{ScramClient, ScramError};

    const OPEN: &str =
        "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>";

    fn session(faults: &[XmppFault]) -> Session {
        let accounts = [("alice".to_string(), "secret".to_string())];
        let shared = Arc::new(Shared {
            domain: "localhost".into(),
            accounts: crate::reference::xmpp::register::Accounts::new(&accounts),
            faults: faults.iter().copied().collect(),
            router: Router::default(),
            rosters: Default::default(),
            muc: Default::default(),
            parked: Default::default(),
        });
        let (tx, _rx) = mpsc::channel(4);
        let mut s = Session::new(shared, 1, tx);
        s.on_text(OPEN);
        s
    }

    fn one(out: Vec<Out>) -> Element {
        let [Out::Text(t)] = out.as_slice() else {
            panic!("expected one element, got {out:?}");
        };
        parse_message(t).unwrap().element
    }

    /// Sends client-first and returns the server-first-message.
    fn first(s: &mut Session, c: &ScramClient) -> String {
        let el = one(s.on_text(&auth_xml(c.hash().mechanism(), c.client_first().as_bytes())));
        assert_eq!(el.name, "challenge");
        decode_text(&el.text()).unwrap()
    }

    #[test]
    fn scram_logins_verify_both_ways() {
        for hash in [ScramHash::Sha1, ScramHash::Sha256] {
            let mut s = session(&[]);
            let mut c = ScramClient::with_random_nonce(hash, "alice", "secret").unwrap();
            let sf = first(&mut s, &c);
            assert!(sf.contains(",i=4096"), "{sf}");
            let fin = c.client_final(&sf).unwrap();
            let el = one(s.on_text(&response_xml(fin.as_bytes())));
            assert_eq!(el.name, "success");
            assert_eq!(
                c.verify_server_final(&decode_text(&el.text()).unwrap()),
                Ok(())
            );
            assert_eq!(s.user.as_deref(), Some("alice"));
        }
    }

    #[test]
    fn wrong_proof_nonce_abort_and_fault() {
        let mut s = session(&[]);
        let mut c = ScramClient::with_random_nonce(ScramHash::Sha1, "alice", "wrong").unwrap();
        let sf = first(&mut s, &c);
        let fin = c.client_final(&sf).unwrap();
        let el = one(s.on_text(&response_xml(fin.as_bytes())));
        assert!(
            el.child("not-authorized", ns::SASL).is_some(),
            "{}",
            el.to_xml()
        );

        let mut c = ScramClient::with_random_nonce(ScramHash::Sha256, "alice", "secret").unwrap();
        let sf = first(&mut s, &c);
        let fin = c.client_final_with(&sf, Some("not-the-nonce")).unwrap();
        let el = one(s.on_text(&response_xml(fin.as_bytes())));
        assert!(
            el.child("malformed-request", ns::SASL).is_some(),
            "{}",
            el.to_xml()
        );

        let c = ScramClient::with_random_nonce(ScramHash::Sha256, "alice", "secret").unwrap();
        first(&mut s, &c);
        let el = one(s.on_text(&abort_xml()));
        assert!(el.child("aborted", ns::SASL).is_some(), "{}", el.to_xml());
        let el = one(s.on_text(&response_xml(b"c=biws")));
        assert!(
            el.child("malformed-request", ns::SASL).is_some(),
            "no exchange under way"
        );

        let mut c = ScramClient::with_random_nonce(ScramHash::Sha1, "nobody", "x").unwrap();
        let sf = first(&mut s, &c);
        let fin = c.client_final(&sf).unwrap();
        let el = one(s.on_text(&response_xml(fin.as_bytes())));
        assert!(
            el.child("not-authorized", ns::SASL).is_some(),
            "unknown user"
        );

        let el = one(s.on_text(&auth_xml("SCRAM-SHA-1", b"y,,n=alice,r=abc")));
        assert!(el.child("malformed-request", ns::SASL).is_some());

        let mut s = session(&[XmppFault::ScramBadServerSignature]);
        let mut c = ScramClient::with_random_nonce(ScramHash::Sha256, "alice", "secret").unwrap();
        let sf = first(&mut s, &c);
        let fin = c.client_final(&sf).unwrap();
        let el = one(s.on_text(&response_xml(fin.as_bytes())));
        assert_eq!(el.name, "success");
        assert_eq!(
            c.verify_server_final(&decode_text(&el.text()).unwrap()),
            Err(ScramError::BadServerSignature)
        );
    }

    #[test]
    fn scram_without_initial_response() {
        let mut s = session(&[]);
        let el = one(s.on_text(&format!(
            "<auth xmlns='{}' mechanism='SCRAM-SHA-1'/>",
            ns::SASL
        )));
        assert_eq!((el.name.as_str(), el.text().as_str()), ("challenge", ""));
        let mut c = ScramClient::with_random_nonce(ScramHash::Sha1, "alice", "secret").unwrap();
        let el = one(s.on_text(&response_xml(c.client_first().as_bytes())));
        let sf = decode_text(&el.text()).unwrap();
        let fin = c.client_final(&sf).unwrap();
        assert_eq!(
            one(s.on_text(&response_xml(fin.as_bytes()))).name,
            "success"
        );
    }
}
