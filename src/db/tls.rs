//! `sslmode`, as libpq means it, over rustls:
//!
//! - `disable`: no TLS;
//! - `allow`, `prefer` (the default): TLS when the server offers it;
//! - `require`: TLS or no connection; the certificate checked against the
//!   root certificate when there is one (`sslrootcert`, or
//!   `~/.postgresql/root.crt`), as libpq does, else not checked;
//! - `verify-ca`: TLS, the certificate signed by a trusted root;
//! - `verify-full`: that, and issued for the host connected to.
//!
//! `sslrootcert=system` trusts the machine's roots
//! (`/etc/ssl/certs/ca-certificates.crt`).

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error as TlsError, SignatureScheme};
use std::path::PathBuf;
use std::sync::Arc;

/// How much TLS a connection needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// TLS if offered (libpq's `allow` tries without first; the same here).
    Allow,
    /// TLS if offered.
    Prefer,
    /// TLS always; the certificate checked only against a root file given.
    Require,
    /// TLS, the chain checked.
    VerifyCa,
    /// TLS, the chain and the host name checked.
    VerifyFull,
}

/// The TLS settings of a target.
#[derive(Clone, Debug)]
pub struct TlsSettings {
    /// The mode.
    pub mode: SslMode,
    /// The trusted roots: a PEM file, or the machine's.
    pub roots: Option<PathBuf>,
}

/// The machine's roots, for `sslrootcert=system`.
const SYSTEM_ROOTS: &str = "/etc/ssl/certs/ca-certificates.crt";

impl TlsSettings {
    /// Reads `sslmode` and `sslrootcert` (from the URL or `PGSSLMODE`,
    /// `PGSSLROOTCERT`); the default root file is `~/.postgresql/root.crt`.
    pub fn read(
        mode: Option<&str>,
        root_cert: Option<String>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<TlsSettings, String> {
        let mode = match mode.unwrap_or("prefer") {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(format!(
                "sslmode `{other}` is not one of disable, allow, prefer, require, verify-ca, verify-full"
            ))
            }
        };
        let roots = match root_cert.as_deref() {
            Some("system") => Some(PathBuf::from(SYSTEM_ROOTS)),
            Some(file) => Some(PathBuf::from(file)),
            None => env("HOME")
                .map(|home| PathBuf::from(home).join(".postgresql/root.crt"))
                .filter(|p| crate::files::meta::metadata(p).is_ok()),
        };
        Ok(TlsSettings { mode, roots })
    }

    /// What the driver is told: whether TLS is tried, and required.
    pub fn wire_mode(&self) -> postgres::config::SslMode {
        use postgres::config::SslMode as Wire;
        match self.mode {
            SslMode::Disable => Wire::Disable,
            SslMode::Allow | SslMode::Prefer => Wire::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => Wire::Require,
        }
    }

    /// The rustls configuration of this mode.
    fn client_config(&self) -> Result<rustls::ClientConfig, String> {
        let provider = Arc::new(ring_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?;
        let verifying = matches!(self.mode, SslMode::VerifyCa | SslMode::VerifyFull);
        let roots = match &self.roots {
            Some(path) => Some(read_roots(path)?),
            None if verifying => {
                return Err(format!(
                "sslmode={} needs a root certificate: give sslrootcert=FILE (or system), or put one at ~/.postgresql/root.crt",
                if self.mode == SslMode::VerifyCa { "verify-ca" } else { "verify-full" }
            ))
            }
            None => None,
        };
        let verifier: Arc<dyn ServerCertVerifier> = match roots {
            Some(roots) => {
                let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider.clone(),
                )
                .build()
                .map_err(|e| format!("TLS roots: {e}"))?;
                Arc::new(Checked {
                    inner: webpki,
                    names: self.mode == SslMode::VerifyFull,
                })
            }
            None => Arc::new(Unchecked { provider }),
        };
        Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth())
    }
}

/// rustls over ring: quick to build, no C toolchain beyond `cc`; its key
/// exchange is classical (X25519, P-256, P-384), without the post-quantum
/// hybrid aws-lc-rs adds.
#[expect(
    deprecated,
    reason = "ring's provider lacks post-quantum key exchange; classical ECDHE is what libpq offers too"
)]
fn ring_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// The certificates of a PEM file, as roots.
fn read_roots(path: &std::path::Path) -> Result<rustls::RootCertStore, String> {
    let text = crate::files::read_text(path, 16 << 20, crate::files::TextKind::Policy)
        .map_err(|e| format!("cannot read the root certificate {}: {e}", path.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(text.as_bytes()) {
        let cert = cert.map_err(|e| format!("{}: not a PEM certificate: {e}", path.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("{}: a certificate that is no root: {e}", path.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("{} holds no certificate", path.display()));
    }
    Ok(roots)
}

/// Connects to `target` with TLS as its mode says.
pub fn connect(target: &super::target::Target) -> Result<postgres::Client, String> {
    let said = |e: postgres::Error| super::error_text(&e);
    if target.tls.mode == SslMode::Disable {
        return target.config.connect(postgres::NoTls).map_err(said);
    }
    let config = target.tls.client_config()?;
    let tls = tokio_postgres_rustls::MakeRustlsConnect::new(config);
    target.config.connect(tls).map_err(said)
}

/// The chain checked against the roots; the name too with `verify-full`.
#[derive(Debug)]
struct Checked {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    names: bool,
}

impl ServerCertVerifier for Checked {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        match self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            // The name is checked last: a name error means the chain held.
            Err(TlsError::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.names => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// `require` and `prefer` without a root file: encrypted, the certificate
/// not checked (libpq's meaning); the handshake's signatures still are.
#[derive(Debug)]
struct Unchecked {
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
