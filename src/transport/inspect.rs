//! What a TLS endpoint presents, for the audit: protocol version, cipher suite, ALPN answer and
//! the certificate chain, judged apart (trusted chain, validity dates, host name) so that one
//! problem does not hide another.

use std::sync::Arc;
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, RootCertStore};
use tokio::net::TcpStream;

use super::endpoint::Endpoint;
use super::tls::{CaRoots, client_config};

/// Why an endpoint's TLS could not be inspected at all.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// No TCP connection.
    #[error("cannot connect to {addr}: {why}")]
    Connect {
        /// host:port.
        addr: String,
        /// The OS error or the deadline.
        why: String,
    },
    /// The handshake failed before any certificate was seen.
    #[error("TLS handshake with {addr} failed: {why}")]
    Handshake {
        /// host:port.
        addr: String,
        /// What rustls said.
        why: String,
    },
}

/// One certificate of the chain as presented.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CertSummary {
    /// The subject, RFC 4514 style.
    pub subject: String,
    /// The issuer, RFC 4514 style.
    pub issuer: String,
    /// Start of validity, seconds since the Unix epoch.
    pub not_before: i64,
    /// End of validity, seconds since the Unix epoch.
    pub not_after: i64,
    /// DNS names and IP addresses of the subject alternative name extension.
    pub names: Vec<String>,
}

/// What the chain check (against the system roots or `--ca`) said.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "verdict", content = "why")]
pub enum ChainTrust {
    /// The chain leads to a trusted root and is valid now for the host name.
    Trusted,
    /// It does not; the reason in words.
    Untrusted(String),
}

/// The facts of one TLS endpoint.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TlsFacts {
    /// Negotiated protocol version, e.g. `TLSv1.3`.
    pub version: String,
    /// Negotiated cipher suite, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher: String,
    /// The ALPN protocol the server selected, if any.
    pub alpn: Option<String>,
    /// The ALPN protocols offered.
    pub alpn_offered: Vec<String>,
    /// The chain as sent, leaf first.
    pub chain: Vec<CertSummary>,
    /// The verdict of a full verification (roots, dates, name).
    pub trust: ChainTrust,
    /// Whether the leaf certificate names the host that was dialled.
    pub hostname_matches: bool,
    /// Whole days until the leaf certificate expires (negative: expired that long ago).
    pub days_to_expiry: i64,
}

impl TlsFacts {
    /// Whether the leaf certificate is outside its validity period now.
    pub fn expired(&self) -> bool {
        self.chain
            .first()
            .is_some_and(|c| c.not_after < now_secs() || c.not_before > now_secs())
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Connects to `endpoint` over TLS offering `alpn`, accepting any certificate so that it can be
/// looked at, and judges the chain against `ca` (or the system roots). Sends nothing after the
/// handshake and finishes within `timeout`.
pub async fn inspect(
    endpoint: &Endpoint,
    alpn: &[&[u8]],
    ca: Option<&CaRoots>,
    timeout: Duration,
) -> Result<TlsFacts, InspectError> {
    let addr = endpoint.authority();
    let handshake = async {
        let tcp = TcpStream::connect((endpoint.host.as_str(), endpoint.port))
            .await
            .map_err(|e| InspectError::Connect {
                addr: addr.clone(),
                why: e.to_string(),
            })?;
        let config = client_config(None, true, alpn).map_err(|e| InspectError::Handshake {
            addr: addr.clone(),
            why: e.to_string(),
        })?;
        let name = server_name(&endpoint.host).map_err(|why| InspectError::Handshake {
            addr: addr.clone(),
            why,
        })?;
        tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| InspectError::Handshake {
                addr: addr.clone(),
                why: e.to_string(),
            })
    };
    let tls = tokio::time::timeout(timeout, handshake)
        .await
        .map_err(|_| InspectError::Connect {
            addr: addr.clone(),
            why: format!("no TLS handshake within {:.1}s", timeout.as_secs_f64()),
        })??;
    let (_, conn) = tls.get_ref();
    let certs: Vec<CertificateDer<'static>> = conn
        .peer_certificates()
        .map(|c| c.to_vec())
        .unwrap_or_default();
    let version = conn
        .protocol_version()
        .map(|v| match v {
            rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_string(),
            rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_string(),
            other => format!("{other:?}"),
        })
        .unwrap_or_else(|| "unknown".into());
    let cipher = conn
        .negotiated_cipher_suite()
        .map(|s| format!("{:?}", s.suite()))
        .unwrap_or_else(|| "unknown".into());
    let alpn_answer = conn
        .alpn_protocol()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    drop(tls);
    let chain: Vec<CertSummary> = certs.iter().map(|c| summarize(c)).collect();
    let name = server_name(&endpoint.host)
        .unwrap_or_else(|_| ServerName::try_from("invalid.invalid").expect("a valid DNS name"));
    let hostname_matches = certs.first().is_some_and(|leaf| names_host(leaf, &name));
    let trust = judge(&certs, &name, ca);
    let days_to_expiry = chain
        .first()
        .map_or(0, |c| (c.not_after - now_secs()).div_euclid(86_400));
    Ok(TlsFacts {
        version,
        cipher,
        alpn: alpn_answer,
        alpn_offered: alpn
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect(),
        chain,
        trust,
        hostname_matches,
        days_to_expiry,
    })
}

fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(host.to_string()).map_err(|e| format!("bad server name {host}: {e}"))
}

/// Whether the leaf names `name` (DNS or IP subject alternative name).
fn names_host(leaf: &CertificateDer<'_>, name: &ServerName<'_>) -> bool {
    let Ok(cert) = webpki::EndEntityCert::try_from(leaf) else {
        return false;
    };
    cert.verify_is_valid_for_subject_name(name).is_ok()
}

/// A full verification of `certs` for `name` against `ca` or the system roots.
fn judge(
    certs: &[CertificateDer<'static>],
    name: &ServerName<'_>,
    ca: Option<&CaRoots>,
) -> ChainTrust {
    let Some((leaf, rest)) = certs.split_first() else {
        return ChainTrust::Untrusted("the server sent no certificate".into());
    };
    let roots = match ca {
        Some(ca) => ca.roots().clone(),
        None => {
            let mut roots = RootCertStore::empty();
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
            roots
        }
    };
    if roots.is_empty() {
        return ChainTrust::Untrusted("no trusted root certificates (give --ca FILE)".into());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        match WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider).build() {
            Ok(v) => v,
            Err(e) => return ChainTrust::Untrusted(format!("cannot build a verifier: {e}")),
        };
    match verifier.verify_server_cert(leaf, rest, name, &[], UnixTime::now()) {
        Ok(_) => ChainTrust::Trusted,
        Err(rustls::Error::InvalidCertificate(e)) => ChainTrust::Untrusted(describe(&e, ca)),
        Err(e) => ChainTrust::Untrusted(e.to_string()),
    }
}

fn describe(e: &CertificateError, ca: Option<&CaRoots>) -> String {
    let roots = match ca {
        Some(ca) => format!("the CA of {}", ca.path().display()),
        None => "the system's trusted roots".into(),
    };
    match e {
        CertificateError::UnknownIssuer => {
            format!("issued by a certificate authority that is not among {roots}")
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "the certificate has expired".into()
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "the certificate is not valid yet".into()
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            "the certificate does not name the host".into()
        }
        other => format!("{other:?}"),
    }
}

/// Subject, issuer, validity and names of one certificate (empty fields when it does not parse).
fn summarize(der: &CertificateDer<'_>) -> CertSummary {
    use x509_parser::prelude::*;
    match X509Certificate::from_der(der.as_ref()) {
        Ok((_, cert)) => {
            let mut names = Vec::new();
            if let Ok(Some(san)) = cert.subject_alternative_name() {
                for n in &san.value.general_names {
                    match n {
                        GeneralName::DNSName(d) => names.push((*d).to_string()),
                        GeneralName::IPAddress(ip) => names.push(ip_text(ip)),
                        _ => {}
                    }
                }
            }
            CertSummary {
                subject: cert.subject().to_string(),
                issuer: cert.issuer().to_string(),
                not_before: cert.validity().not_before.timestamp(),
                not_after: cert.validity().not_after.timestamp(),
                names,
            }
        }
        Err(e) => CertSummary {
            subject: format!("(unparsable certificate: {e})"),
            issuer: String::new(),
            not_before: 0,
            not_after: 0,
            names: Vec::new(),
        },
    }
}

fn ip_text(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string(),
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(bytes);
            std::net::Ipv6Addr::from(a).to_string()
        }
        _ => hex::encode(bytes),
    }
}

/// A date as `YYYY-MM-DD` (UTC) from seconds since the epoch.
pub fn date_text(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    // civil-from-days (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_print_as_calendar_days() {
        assert_eq!(date_text(0), "1970-01-01");
        assert_eq!(date_text(951_782_400), "2000-02-29");
        assert_eq!(date_text(1_798_761_599), "2026-12-31");
        assert_eq!(date_text(-86_400), "1969-12-31");
    }

    #[test]
    fn ip_names_print_in_their_usual_form() {
        assert_eq!(ip_text(&[127, 0, 0, 1]), "127.0.0.1");
        let mut v6 = [0u8; 16];
        v6[15] = 1;
        assert_eq!(ip_text(&v6), "::1");
    }
}
