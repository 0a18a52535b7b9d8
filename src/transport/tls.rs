//! TLS client configuration: system roots (or `--ca FILE`, read and parsed once at start-up),
//! verification on unless `--insecure`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// The CA file could not be read or holds no certificate.
    #[error("cannot use CA file {path}: {why}")]
    CaFile {
        /// The file.
        path: String,
        /// What went wrong.
        why: String,
    },
}

/// The CA certificates of `--ca FILE`, parsed once and shared by every connection.
#[derive(Debug, Clone)]
pub struct CaRoots {
    path: PathBuf,
    roots: RootCertStore,
}

impl CaRoots {
    /// Parses the PEM text of `path`: every `CERTIFICATE` section; refuses text with none, a
    /// broken section, or a certificate rustls cannot use as a trust anchor.
    pub fn from_pem(path: &Path, pem: &[u8]) -> Result<CaRoots, TlsSetupError> {
        let err = |why: String| TlsSetupError::CaFile {
            path: path.display().to_string(),
            why,
        };
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| err(format!("not valid PEM: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| err(format!("a certificate in it is unusable: {e}")))?;
        }
        if roots.is_empty() {
            return Err(err(
                "no PEM certificate in it (expected -----BEGIN CERTIFICATE----- sections)".into(),
            ));
        }
        Ok(CaRoots {
            path: path.to_path_buf(),
            roots,
        })
    }

    /// The file the certificates came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The trust anchors.
    pub fn roots(&self) -> &RootCertStore {
        &self.roots
    }

    /// How many certificates it holds.
    pub fn len(&self) -> usize {
        self.roots.len()
    }

    /// Whether it holds none (never true for a value built by [`CaRoots::from_pem`]).
    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }
}

/// Builds a client config: roots from `ca` if given, else the system store.
pub fn client_config(
    ca: Option<&CaRoots>,
    insecure: bool,
    alpn: &[&[u8]],
) -> Result<Arc<ClientConfig>, TlsSetupError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions");
    let mut config = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnything(provider)))
            .with_no_client_auth()
    } else {
        let roots = match ca {
            Some(ca) => ca.roots.clone(),
            None => {
                let mut roots = RootCertStore::empty();
                let found = rustls_native_certs::load_native_certs();
                for cert in found.certs {
                    let _ = roots.add(cert);
                }
                roots
            }
        };
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// `--insecure`: accepts any certificate (signatures are still checked for form).
#[derive(Debug)]
struct AcceptAnything(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
