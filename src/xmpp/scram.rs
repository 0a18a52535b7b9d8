//! SASL SCRAM (RFC 5802) with SHA-1 and SHA-256 (RFC 7677), no channel binding: the client's messages, the checks on the server's, and the key derivation both sides share.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// The GS2 header without channel binding or authzid (RFC 5802 Section 7: `n,,`).
pub const GS2_HEADER: &str = "n,,";
/// `c=` of the client-final message: base64 of [`GS2_HEADER`].
pub const CHANNEL_BINDING_NONE: &str = "biws";
/// Iteration count the reference server uses for its accounts.
pub const DEFAULT_ITERATIONS: u32 = 4096;

/// The hash function of a SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ScramHash {
    /// SCRAM-SHA-1 (RFC 5802).
    Sha1,
    /// SCRAM-SHA-256 (RFC 7677).
    Sha256,
}

impl ScramHash {
    /// The SASL mechanism name.
    pub fn mechanism(self) -> &'static str {
        match self {
            Self::Sha1 => "SCRAM-SHA-1",
            Self::Sha256 => "SCRAM-SHA-256",
        }
    }

    /// The hash for a SASL mechanism name, if it is a SCRAM one this module speaks.
    pub fn from_mechanism(name: &str) -> Option<Self> {
        match name {
            "SCRAM-SHA-1" => Some(Self::Sha1),
            "SCRAM-SHA-256" => Some(Self::Sha256),
            _ => None,
        }
    }

    /// HMAC(key, data).
    pub fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha1 => {
                let mut m = <Hmac<Sha1> as KeyInit>::new_from_slice(key).expect("any key length");
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
            Self::Sha256 => {
                let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("any key length");
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
        }
    }

    /// H(data).
    pub fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha1 => Sha1::digest(data).to_vec(),
            Self::Sha256 => Sha256::digest(data).to_vec(),
        }
    }

    /// SaltedPassword := Hi(password, salt, i), which is PBKDF2 with HMAC as the PRF.
    pub fn salted_password(self, password: &str, salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            Self::Sha1 => {
                let mut out = vec![0u8; 20];
                pbkdf2::pbkdf2_hmac::<Sha1>(password.as_bytes(), salt, iterations, &mut out);
                out
            }
            Self::Sha256 => {
                let mut out = vec![0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut out);
                out
            }
        }
    }
}

/// What went wrong in a SCRAM exchange; each message names RFC 5802.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScramError {
    /// A username or password outside printable ASCII: SaslPrep is not applied, so it is refused.
    #[error(
        "RFC5802 SaslPrep: the {0} contains characters outside printable ASCII (not supported)"
    )]
    NotAscii(&'static str),
    /// A message is not `attr=value,...` as RFC 5802 Section 7 defines it.
    #[error("RFC5802 Section 7: malformed {message}: {why}")]
    Malformed {
        /// Which message (`server-first-message`, ...).
        message: &'static str,
        /// What is wrong with it.
        why: String,
    },
    /// The server's nonce does not start with the client's (RFC 5802 Section 5.1, `r=`).
    #[error("RFC5802 Section 5.1: the server nonce '{got}' does not extend the client nonce")]
    NonceNotExtended {
        /// The nonce the server sent.
        got: String,
    },
    /// A base64 attribute (`s=`, `v=`, `p=`) does not decode.
    #[error("RFC5802 Section 7: the {0} attribute is not valid base64")]
    Base64(&'static str),
    /// The iteration count is not a positive integer.
    #[error("RFC5802 Section 5.1: the iteration count i='{0}' is not a positive integer")]
    Iterations(String),
    /// The server sent `m=`, a mandatory extension this client does not support.
    #[error("RFC5802 Section 5.1: the server requires an unsupported extension (m=)")]
    MandatoryExtension,
    /// The server-final message is `e=...` (RFC 5802 Section 7 server-error).
    #[error("RFC5802 Section 7: the server reported the error '{0}'")]
    ServerError(String),
    /// The server signature `v=` is not the one the password gives: the server did not prove it knows the key.
    #[error("RFC5802 Section 5.1: the server signature v= does not verify")]
    BadServerSignature,
}

fn malformed(message: &'static str, why: impl Into<String>) -> ScramError {
    ScramError::Malformed {
        message,
        why: why.into(),
    }
}

/// Refuses what SaslPrep would have to change or prohibit: anything but printable ASCII.
fn check_ascii(what: &'static str, s: &str) -> Result<(), ScramError> {
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        Ok(())
    } else {
        Err(ScramError::NotAscii(what))
    }
}

/// A username as `saslname` (RFC 5802 Section 7): `=` as `=3D`, `,` as `=2C`.
pub fn escape_username(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}

/// Reverses [`escape_username`]; `None` for an `=` not followed by `3D` or `2C`.
pub fn unescape_username(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(pos) = rest.find('=') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if tail.starts_with("=3D") {
            out.push('=');
        } else if tail.starts_with("=2C") {
            out.push(',');
        } else {
            return None;
        }
        rest = &tail[3..];
    }
    out.push_str(rest);
    Some(out)
}

/// A fresh client nonce: 24 bytes from the thread's CSPRNG, base64 (no `,` can occur).
pub fn random_nonce() -> String {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    STANDARD.encode(bytes)
}

/// Splits `a=v,b=w` into (attribute, value) pairs, in order.
pub fn attributes<'a>(
    message: &'static str,
    text: &'a str,
) -> Result<Vec<(char, &'a str)>, ScramError> {
    text.split(',')
        .map(|part| {
            let mut chars = part.chars();
            match (chars.next(), chars.next()) {
                (Some(a), Some('=')) if a.is_ascii_alphabetic() => Ok((a, &part[2..])),
                _ => Err(malformed(
                    message,
                    format!("'{part}' is not an attribute=value pair"),
                )),
            }
        })
        .collect()
}

/// The parsed server-first-message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerFirst {
    /// The combined nonce (client nonce + server part).
    pub nonce: String,
    /// The decoded salt.
    pub salt: Vec<u8>,
    /// The iteration count (>= 1).
    pub iterations: u32,
}

/// Parses a server-first-message and checks it against the client's nonce.
pub fn parse_server_first(text: &str, client_nonce: &str) -> Result<ServerFirst, ScramError> {
    const M: &str = "server-first-message";
    let attrs = attributes(M, text)?;
    if attrs.first().is_some_and(|(a, _)| *a == 'm') {
        return Err(ScramError::MandatoryExtension);
    }
    let [('r', nonce), ('s', salt), ('i', iterations), ..] = attrs.as_slice() else {
        return Err(malformed(M, "expected r=, s= and i= in that order"));
    };
    if !nonce.starts_with(client_nonce) || nonce.len() == client_nonce.len() {
        return Err(ScramError::NonceNotExtended {
            got: nonce.to_string(),
        });
    }
    let salt = STANDARD
        .decode(salt)
        .map_err(|_| ScramError::Base64("salt s="))?;
    let iterations = iterations
        .parse::<u32>()
        .ok()
        .filter(|i| *i >= 1)
        .ok_or_else(|| ScramError::Iterations(iterations.to_string()))?;
    Ok(ServerFirst {
        nonce: nonce.to_string(),
        salt,
        iterations,
    })
}

/// The keys derived from a password, salt and iteration count (RFC 5802 Section 3).
#[derive(Clone, PartialEq, Eq)]
pub struct ScramKeys {
    /// ClientKey := HMAC(SaltedPassword, "Client Key").
    pub client_key: Vec<u8>,
    /// StoredKey := H(ClientKey).
    pub stored_key: Vec<u8>,
    /// ServerKey := HMAC(SaltedPassword, "Server Key").
    pub server_key: Vec<u8>,
}

impl std::fmt::Debug for ScramKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ScramKeys(***)")
    }
}

impl ScramKeys {
    /// Derives the keys of `password` for this salt and iteration count.
    pub fn derive(hash: ScramHash, password: &str, salt: &[u8], iterations: u32) -> Self {
        let salted = hash.salted_password(password, salt, iterations);
        let client_key = hash.hmac(&salted, b"Client Key");
        let stored_key = hash.hash(&client_key);
        let server_key = hash.hmac(&salted, b"Server Key");
        Self {
            client_key,
            stored_key,
            server_key,
        }
    }
}

fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

/// ClientProof := ClientKey XOR HMAC(StoredKey, AuthMessage).
pub fn client_proof(hash: ScramHash, keys: &ScramKeys, auth_message: &str) -> Vec<u8> {
    let signature = hash.hmac(&keys.stored_key, auth_message.as_bytes());
    xor(&keys.client_key, &signature)
}

/// Whether `proof` proves knowledge of the key whose StoredKey is `stored_key` (server side).
pub fn verify_client_proof(
    hash: ScramHash,
    stored_key: &[u8],
    auth_message: &str,
    proof: &[u8],
) -> bool {
    let signature = hash.hmac(stored_key, auth_message.as_bytes());
    if proof.len() != signature.len() {
        return false;
    }
    let client_key = xor(proof, &signature);
    hash.hash(&client_key) == stored_key
}

/// ServerSignature := HMAC(ServerKey, AuthMessage).
pub fn server_signature(hash: ScramHash, server_key: &[u8], auth_message: &str) -> Vec<u8> {
    hash.hmac(server_key, auth_message.as_bytes())
}

/// A client-first-message as the server parses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFirst {
    /// The username, unescaped.
    pub user: String,
    /// The client nonce.
    pub nonce: String,
    /// client-first-message-bare (`n=...,r=...`), part of the AuthMessage.
    pub bare: String,
}

/// Parses a client-first-message; only the GS2 header `n,,` (no channel binding, no authzid) is accepted.
pub fn parse_client_first(text: &str) -> Result<ClientFirst, ScramError> {
    const M: &str = "client-first-message";
    let Some(bare) = text.strip_prefix(GS2_HEADER) else {
        return Err(malformed(M, "the GS2 header is not 'n,,'"));
    };
    let attrs = attributes(M, bare)?;
    let [('n', user), ('r', nonce), ..] = attrs.as_slice() else {
        return Err(malformed(M, "expected n= and r= in that order"));
    };
    let user = unescape_username(user).ok_or_else(|| malformed(M, "bad '=' escape in n="))?;
    if user.is_empty() || nonce.is_empty() {
        return Err(malformed(M, "empty n= or r="));
    }
    Ok(ClientFirst {
        user,
        nonce: nonce.to_string(),
        bare: bare.to_string(),
    })
}

/// A client-final-message as the server parses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFinal {
    /// The `c=` value (base64 of the GS2 header and channel binding data).
    pub channel_binding: String,
    /// The nonce the client sent back.
    pub nonce: String,
    /// The decoded proof.
    pub proof: Vec<u8>,
    /// client-final-message-without-proof, part of the AuthMessage.
    pub without_proof: String,
}

/// Parses a client-final-message (`c=...,r=...[,ext],p=...`).
pub fn parse_client_final(text: &str) -> Result<ClientFinal, ScramError> {
    const M: &str = "client-final-message";
    let attrs = attributes(M, text)?;
    let (Some(('c', cb)), Some(('r', nonce)), Some(('p', proof))) =
        (attrs.first(), attrs.get(1), attrs.last())
    else {
        return Err(malformed(M, "expected c=, r= first and p= last"));
    };
    let cut = text.rfind(",p=").expect("p= is the last attribute");
    let proof = STANDARD
        .decode(proof)
        .map_err(|_| ScramError::Base64("proof p="))?;
    Ok(ClientFinal {
        channel_binding: cb.to_string(),
        nonce: nonce.to_string(),
        proof,
        without_proof: text[..cut].to_string(),
    })
}

/// The client side of one SCRAM exchange, from client-first to the check of server-final.
#[derive(Clone)]
pub struct ScramClient {
    hash: ScramHash,
    password: String,
    nonce: String,
    client_first_bare: String,
    expected_signature: Option<Vec<u8>>,
}

impl std::fmt::Debug for ScramClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramClient")
            .field("hash", &self.hash)
            .field("client_first_bare", &self.client_first_bare)
            .finish_non_exhaustive()
    }
}

impl ScramClient {
    /// A client for `user`/`password` with the given nonce (tests inject one; see [`random_nonce`]).
    pub fn new(
        hash: ScramHash,
        user: &str,
        password: &str,
        nonce: &str,
    ) -> Result<Self, ScramError> {
        check_ascii("username", user)?;
        check_ascii("password", password)?;
        if nonce.is_empty()
            || nonce.contains(',')
            || !nonce.bytes().all(|b| (0x21..0x7f).contains(&b))
        {
            return Err(malformed(
                "client-first-message",
                "the nonce must be printable ASCII without ','",
            ));
        }
        Ok(Self {
            hash,
            password: password.to_string(),
            nonce: nonce.to_string(),
            client_first_bare: format!("n={},r={nonce}", escape_username(user)),
            expected_signature: None,
        })
    }

    /// A client with a fresh random nonce.
    pub fn with_random_nonce(
        hash: ScramHash,
        user: &str,
        password: &str,
    ) -> Result<Self, ScramError> {
        Self::new(hash, user, password, &random_nonce())
    }

    /// Uses another password for the proof (a negative case's wrong one).
    pub fn set_password(&mut self, password: &str) -> Result<(), ScramError> {
        check_ascii("password", password)?;
        self.password = password.to_string();
        Ok(())
    }

    /// The mechanism this client speaks.
    pub fn hash(&self) -> ScramHash {
        self.hash
    }

    /// The client-first-message (`n,,n=user,r=nonce`).
    pub fn client_first(&self) -> String {
        format!("{GS2_HEADER}{}", self.client_first_bare)
    }

    /// The client-final-message answering `server_first`; remembers the server signature to expect.
    pub fn client_final(&mut self, server_first: &str) -> Result<String, ScramError> {
        self.client_final_with(server_first, None)
    }

    /// Like [`ScramClient::client_final`], but sending `nonce` instead of the combined one, as a
    /// negative case does (the proof is computed over the message actually sent).
    pub fn client_final_with(
        &mut self,
        server_first: &str,
        nonce: Option<&str>,
    ) -> Result<String, ScramError> {
        let sf = parse_server_first(server_first, &self.nonce)?;
        let nonce = nonce.unwrap_or(&sf.nonce);
        let without_proof = format!("c={CHANNEL_BINDING_NONE},r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let keys = ScramKeys::derive(self.hash, &self.password, &sf.salt, sf.iterations);
        let proof = client_proof(self.hash, &keys, &auth_message);
        self.expected_signature =
            Some(server_signature(self.hash, &keys.server_key, &auth_message));
        Ok(format!("{without_proof},p={}", STANDARD.encode(proof)))
    }

    /// Checks the server-final-message: `v=` must be the expected server signature.
    pub fn verify_server_final(&self, server_final: &str) -> Result<(), ScramError> {
        const M: &str = "server-final-message";
        let attrs = attributes(M, server_final)?;
        match attrs.first() {
            Some(('e', why)) => Err(ScramError::ServerError(why.to_string())),
            Some(('v', sig)) => {
                let sig = STANDARD
                    .decode(sig)
                    .map_err(|_| ScramError::Base64("verifier v="))?;
                match &self.expected_signature {
                    Some(want) if *want == sig => Ok(()),
                    Some(_) => Err(ScramError::BadServerSignature),
                    None => Err(malformed(M, "it arrived before the client-final-message")),
                }
            }
            _ => Err(malformed(M, "expected v= or e=")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SF1: &str = "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096";
    const SF256: &str =
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";

    #[test]
    fn rfc5802_section5_sha1_vector() {
        let mut c = ScramClient::new(
            ScramHash::Sha1,
            "user",
            "pencil",
            "fyko+d2lbbFgONRv9qkxdawL",
        )
        .unwrap();
        assert_eq!(c.client_first(), "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL");
        assert_eq!(
            c.client_final(SF1).unwrap(),
            "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
        );
        assert_eq!(
            c.verify_server_final("v=rmF9pqV8S7suAoZWja4dJRkFsKQ="),
            Ok(())
        );
        assert_eq!(
            c.verify_server_final("v=smF9pqV8S7suAoZWja4dJRkFsKQ="),
            Err(ScramError::BadServerSignature)
        );
    }

    #[test]
    fn rfc7677_section3_sha256_vector() {
        let mut c =
            ScramClient::new(ScramHash::Sha256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO").unwrap();
        assert_eq!(c.client_first(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        assert_eq!(
            c.client_final(SF256).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        assert_eq!(
            c.verify_server_final("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
            Ok(())
        );
        let err = c
            .verify_server_final("v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap_err();
        assert_eq!(err, ScramError::BadServerSignature);
        assert!(err.to_string().contains("RFC5802"));
    }

    #[test]
    fn server_side_verifies_the_rfc_proofs() {
        let salt = STANDARD.decode("QSXCR+Q6sek8bf92").unwrap();
        let keys = ScramKeys::derive(ScramHash::Sha1, "pencil", &salt, 4096);
        let auth = format!(
            "n=user,r=fyko+d2lbbFgONRv9qkxdawL,{SF1},c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j"
        );
        let proof = STANDARD.decode("v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=").unwrap();
        assert!(verify_client_proof(
            ScramHash::Sha1,
            &keys.stored_key,
            &auth,
            &proof
        ));
        let mut bad = proof.clone();
        bad[0] ^= 1;
        assert!(!verify_client_proof(
            ScramHash::Sha1,
            &keys.stored_key,
            &auth,
            &bad
        ));
        assert!(!verify_client_proof(
            ScramHash::Sha1,
            &keys.stored_key,
            &auth,
            &proof[1..]
        ));
        assert_eq!(
            STANDARD.encode(server_signature(ScramHash::Sha1, &keys.server_key, &auth)),
            "rmF9pqV8S7suAoZWja4dJRkFsKQ="
        );
    }

    #[test]
    fn negative_server_first() {
        let n = "fyko+d2lbbFgONRv9qkxdawL";
        let mut c = ScramClient::new(ScramHash::Sha1, "user", "pencil", n).unwrap();
        assert!(matches!(
            c.client_final("r=XXXX+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=4096"),
            Err(ScramError::NonceNotExtended { .. })
        ));
        assert!(matches!(
            c.client_final(&format!("r={n},s=QSXCR+Q6sek8bf92,i=4096")),
            Err(ScramError::NonceNotExtended { .. })
        ));
        assert_eq!(
            c.client_final(&format!("r={n}abc,s=!!notbase64,i=4096")),
            Err(ScramError::Base64("salt s="))
        );
        assert_eq!(
            c.client_final(&format!("r={n}abc,s=QSXCR+Q6sek8bf92,i=0")),
            Err(ScramError::Iterations("0".into()))
        );
        assert_eq!(
            c.client_final(&format!("r={n}abc,s=QSXCR+Q6sek8bf92,i=-1")),
            Err(ScramError::Iterations("-1".into()))
        );
        assert_eq!(
            c.client_final(&format!("m=x,r={n}abc,s=QSXCR+Q6sek8bf92,i=1")),
            Err(ScramError::MandatoryExtension)
        );
        assert!(matches!(
            c.client_final(&format!("s=QSXCR+Q6sek8bf92,r={n}abc,i=1")),
            Err(ScramError::Malformed { .. })
        ));
        assert!(matches!(
            c.client_final("garbage"),
            Err(ScramError::Malformed { .. })
        ));
        // Extensions after i= are allowed.
        assert!(
            c.client_final(&format!("r={n}abc,s=QSXCR+Q6sek8bf92,i=2,x=y"))
                .is_ok()
        );
    }

    #[test]
    fn negative_server_final() {
        let mut c = ScramClient::new(
            ScramHash::Sha1,
            "user",
            "pencil",
            "fyko+d2lbbFgONRv9qkxdawL",
        )
        .unwrap();
        assert!(matches!(
            c.verify_server_final("v=rmF9pqV8S7suAoZWja4dJRkFsKQ="),
            Err(ScramError::Malformed { .. })
        ));
        c.client_final(SF1).unwrap();
        assert_eq!(
            c.verify_server_final("e=invalid-proof"),
            Err(ScramError::ServerError("invalid-proof".into()))
        );
        assert_eq!(
            c.verify_server_final("v=***"),
            Err(ScramError::Base64("verifier v="))
        );
        assert!(matches!(
            c.verify_server_final(""),
            Err(ScramError::Malformed { .. })
        ));
    }

    #[test]
    fn tampered_nonce_changes_the_message() {
        let mut c = ScramClient::new(
            ScramHash::Sha1,
            "user",
            "pencil",
            "fyko+d2lbbFgONRv9qkxdawL",
        )
        .unwrap();
        let m = c.client_final_with(SF1, Some("other-nonce")).unwrap();
        assert!(m.starts_with("c=biws,r=other-nonce,p="), "{m}");
    }

    #[test]
    fn usernames_are_escaped_and_non_ascii_refused() {
        let c = ScramClient::new(ScramHash::Sha256, "a=b,c", "p", "n0nce").unwrap();
        assert_eq!(c.client_first(), "n,,n=a=3Db=2Cc,r=n0nce");
        assert_eq!(unescape_username("a=3Db=2Cc").as_deref(), Some("a=b,c"));
        assert_eq!(unescape_username("a=4"), None);
        assert_eq!(
            ScramClient::new(ScramHash::Sha1, "j\u{f6}rg", "p", "n").unwrap_err(),
            ScramError::NotAscii("username")
        );
        assert_eq!(
            ScramClient::new(ScramHash::Sha1, "u", "p\u{e4}ss", "n").unwrap_err(),
            ScramError::NotAscii("password")
        );
        assert!(ScramClient::new(ScramHash::Sha1, "u", "p", "a,b").is_err());
        let n = random_nonce();
        assert_eq!(n.len(), 32);
        assert_ne!(n, random_nonce());
        assert!(!n.contains(','));
    }

    #[test]
    fn server_parses_the_rfc_client_messages() {
        let cf = parse_client_first("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL").unwrap();
        assert_eq!(cf.user, "user");
        assert_eq!(cf.nonce, "fyko+d2lbbFgONRv9qkxdawL");
        assert_eq!(cf.bare, "n=user,r=fyko+d2lbbFgONRv9qkxdawL");
        assert!(parse_client_first("y,,n=user,r=x").is_err());
        assert!(parse_client_first("n,a=admin,n=user,r=x").is_err());
        assert!(parse_client_first("n,,r=x,n=user").is_err());
        let fin = parse_client_final(
            "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
        )
        .unwrap();
        assert_eq!(fin.channel_binding, "biws");
        assert_eq!(
            fin.without_proof,
            "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j"
        );
        assert_eq!(fin.proof.len(), 20);
        assert!(parse_client_final("c=biws,r=x").is_err());
        assert_eq!(
            parse_client_final("c=biws,r=x,p=%%"),
            Err(ScramError::Base64("proof p="))
        );
    }

    #[test]
    fn mechanism_names() {
        for h in [ScramHash::Sha1, ScramHash::Sha256] {
            assert_eq!(ScramHash::from_mechanism(h.mechanism()), Some(h));
        }
        assert_eq!(ScramHash::from_mechanism("PLAIN"), None);
    }
}
