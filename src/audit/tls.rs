//! The audit's security facts of a TLS endpoint: version, cipher suite, ALPN, and the
//! certificate (trusted chain, days to expiry, host name), each judged on its own.

use crate::facts::{Area, Fact, Status};
use crate::transport::inspect::{ChainTrust, TlsFacts, date_text};

/// A certificate that expires within this many days is worth a warning.
pub const EXPIRY_WARNING_DAYS: i64 = 21;

/// The facts of one inspected TLS endpoint; `host` is the name that was dialled. With
/// `insecure` (the operator chose not to verify) an untrusted chain is a warning, not a finding;
/// expiry and host name are judged all the same.
pub fn facts(t: &TlsFacts, host: &str, insecure: bool) -> Vec<Fact> {
    let sec = |name: &str, value: String, status| Fact::new(Area::Security, name, value, status);
    let mut out = vec![
        sec(
            "TLS version",
            t.version.clone(),
            if t.version == "TLSv1.3" || t.version == "TLSv1.2" {
                Status::Ok
            } else {
                Status::Finding
            },
        ),
        Fact::info(Area::Security, "TLS cipher suite", t.cipher.clone()),
        Fact::info(
            Area::Security,
            "ALPN",
            format!(
                "offered {}; selected {}",
                t.alpn_offered.join(", "),
                t.alpn.as_deref().unwrap_or("none")
            ),
        ),
    ];
    out.push(match &t.trust {
        ChainTrust::Trusted => sec("Certificate chain", "trusted".into(), Status::Ok),
        ChainTrust::Untrusted(why) if insecure => sec(
            "Certificate chain",
            format!("not trusted: {why} (not verified: --insecure)"),
            Status::Warn,
        ),
        ChainTrust::Untrusted(why) => sec(
            "Certificate chain",
            format!("not trusted: {why}"),
            Status::Finding,
        ),
    });
    if let Some(leaf) = t.chain.first() {
        let days = t.days_to_expiry;
        let (value, status) = if t.expired() {
            (
                format!(
                    "outside its validity ({} to {})",
                    date_text(leaf.not_before),
                    date_text(leaf.not_after)
                ),
                Status::Finding,
            )
        } else if days < EXPIRY_WARNING_DAYS {
            (
                format!("expires in {days} days ({})", date_text(leaf.not_after)),
                Status::Warn,
            )
        } else {
            (
                format!(
                    "{days} days left (valid until {})",
                    date_text(leaf.not_after)
                ),
                Status::Ok,
            )
        };
        out.push(sec("Certificate expiry", value, status));
        out.push(if t.hostname_matches {
            sec(
                "Certificate host name",
                format!("matches {host}"),
                Status::Ok,
            )
        } else {
            sec(
                "Certificate host name",
                format!(
                    "does not match {host} (the certificate names {})",
                    if leaf.names.is_empty() {
                        "no subject alternative name".to_string()
                    } else {
                        leaf.names.join(", ")
                    }
                ),
                Status::Finding,
            )
        });
        out.push(Fact::info(
            Area::Security,
            "Certificate",
            format!(
                "{} certificate(s); leaf {} issued by {}",
                t.chain.len(),
                if leaf.subject.is_empty() {
                    "(no subject)"
                } else {
                    &leaf.subject
                },
                leaf.issuer
            ),
        ));
    }
    out
}
