//! TLS for `serve` (rustls, ring): the server's certificate and key
//! (`--tls-cert`, `--tls-key`, PEM), looked at again at every handshake
//! and reloaded when either file changed, so a renewal needs no restart
//! (a pair that does not load is reported and the old one serves on);
//! client certificates (`--tls-client-ca`, `--tls-client-auth
//! optional|required`), whose subject the decision log records; and the
//! roots a bundle's `https://` URL is verified against.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Whether a client must present a certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// It may; a request without one needs a token where tokens are asked.
    Optional,
    /// It must: the handshake fails without one.
    Required,
}

/// The TLS settings of a server.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// The certificate chain (PEM), the server's own first.
    pub cert: PathBuf,
    /// Its private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// The roots client certificates must chain to.
    pub client_ca: Option<PathBuf>,
    /// Whether a client certificate is required.
    pub client_auth: ClientAuth,
}

/// The verified client certificate's subject of a connection, put in each
/// of its requests' extensions.
#[derive(Clone, Debug, Default)]
pub struct Peer {
    /// The subject as RFC 4514 writes it (`CN=…,O=…`); none without a
    /// client certificate.
    pub subject: Option<Arc<str>>,
}

/// rustls over ring (as `src/db/tls.rs`): quick to build; its key
/// exchange is classical (X25519, P-256, P-384).
#[expect(
    deprecated,
    reason = "ring's provider lacks post-quantum key exchange; classical ECDHE is what the peers' clients offer too"
)]
fn crypto() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// What a file is at one moment (its inode, size and modification
/// time): changed when it is not equal.
type Stamp = Option<(u64, u64, i64, i64)>;

fn stamp(path: &Path) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    let meta = crate::files::meta::metadata(path).ok()?;
    Some((meta.ino(), meta.len(), meta.mtime(), meta.mtime_nsec()))
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    crate::files::read_regular(path, 1 << 20, crate::files::TextKind::Data)
        .map(String::into_bytes)
        .map_err(|e| format!("cannot read the {what} {}: {}", path.display(), e.message))
}

/// Every certificate of the PEM file `path`.
fn certificates(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = read(path, what)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("the {what} {} is not PEM certificates: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "the {what} {} holds no certificate",
            path.display()
        ));
    }
    Ok(certs)
}

/// The certificate chain and key of `cert` and `key`, checked to match.
fn certified_key(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>, String> {
    let chain = certificates(cert, "TLS certificate")?;
    let key_bytes = read(key, "TLS key")?;
    let private = PrivateKeyDer::from_pem_slice(&key_bytes).map_err(|e| {
        format!(
            "the TLS key {} is not a PEM private key: {e}",
            key.display()
        )
    })?;
    let certified = CertifiedKey::from_der(chain, private, &crypto()).map_err(|e| {
        format!(
            "the TLS key {} does not go with the certificate {}: {e}",
            key.display(),
            cert.display()
        )
    })?;
    Ok(Arc::new(certified))
}

/// The server's certificate, reloaded when its files change.
#[derive(Debug)]
struct Reloading {
    cert: PathBuf,
    key: PathBuf,
    /// The files' stamps when last looked at, and the pair serving.
    current: Mutex<((Stamp, Stamp), Arc<CertifiedKey>)>,
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let now = (stamp(&self.cert), stamp(&self.key));
        let mut current = self.current.lock().ok()?;
        if current.0 != now {
            current.0 = now;
            match certified_key(&self.cert, &self.key) {
                Ok(next) => {
                    super::note(&format!(
                        "loaded the TLS certificate {} again",
                        self.cert.display()
                    ));
                    current.1 = next;
                }
                // Half-written during a renewal, say: the old pair serves
                // on, and the next handshake looks again.
                Err(e) => super::note(&format!("{e}; the previous certificate serves on")),
            }
        }
        Some(current.1.clone())
    }
}

/// The acceptor of `files`, or why the files do not make one.
pub fn acceptor(files: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor, String> {
    let pair = certified_key(&files.cert, &files.key)?;
    let resolver = Reloading {
        cert: files.cert.clone(),
        key: files.key.clone(),
        current: Mutex::new(((stamp(&files.cert), stamp(&files.key)), pair)),
    };
    let builder = rustls::ServerConfig::builder_with_provider(crypto())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let builder = match &files.client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in certificates(ca, "client CA")? {
                roots
                    .add(cert)
                    .map_err(|e| format!("the client CA {}: {e}", ca.display()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), crypto());
            let verifier = match files.client_auth {
                ClientAuth::Optional => verifier.allow_unauthenticated(),
                ClientAuth::Required => verifier,
            }
            .build()
            .map_err(|e| format!("the client CA {}: {e}", ca.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(Arc::new(resolver));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// The roots an `https://` bundle URL is verified against: the PEM file
/// `ca` (`--bundle-ca`), else the system's (`SSL_CERT_FILE`, else
/// Debian's `/etc/ssl/certs/ca-certificates.crt`).
pub fn bundle_roots(ca: Option<&Path>) -> Result<rustls::RootCertStore, String> {
    let system = std::env::var_os("SSL_CERT_FILE").map_or_else(
        || PathBuf::from("/etc/ssl/certs/ca-certificates.crt"),
        PathBuf::from,
    );
    let (path, what) = match ca {
        Some(ca) => (ca.to_path_buf(), "bundle CA"),
        None => (system, "system's CA bundle"),
    };
    let mut roots = rustls::RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certificates(&path, what)?);
    if added == 0 {
        return Err(format!(
            "the {what} {} holds no usable root",
            path.display()
        ));
    }
    Ok(roots)
}

/// A client configuration that verifies servers against `roots`.
pub fn client_config(roots: rustls::RootCertStore) -> Result<Arc<rustls::ClientConfig>, String> {
    let config = rustls::ClientConfig::builder_with_provider(crypto())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The subject of the DER certificate `der`, as RFC 4514 writes it (the
/// last RDN first: `CN=…,OU=…,O=…,C=…`); none when it cannot be read.
pub fn subject(der: &[u8]) -> Option<String> {
    let (certificate, _) = der::sequence(der)?;
    let (tbs, _) = der::sequence(certificate)?;
    let mut rest = tbs;
    // version [0] (optional), serialNumber, signature, issuer, validity.
    let (tag, _, after) = der::element(rest)?;
    if tag == 0xa0 {
        rest = after;
    }
    for _ in 0..4 {
        rest = der::element(rest)?.2;
    }
    let (name, _) = der::sequence(rest)?;
    let mut parts = Vec::new();
    let mut sets = name;
    while !sets.is_empty() {
        let (tag, set, after) = der::element(sets)?;
        if tag != 0x31 {
            return None;
        }
        sets = after;
        let (pair, _) = der::sequence(set)?;
        let (oid_tag, oid, value) = der::element(pair)?;
        if oid_tag != 0x06 {
            return None;
        }
        let (_, text, _) = der::element(value)?;
        let key = match oid {
            [0x55, 0x04, 0x03] => "CN".to_string(),
            [0x55, 0x04, 0x06] => "C".to_string(),
            [0x55, 0x04, 0x07] => "L".to_string(),
            [0x55, 0x04, 0x08] => "ST".to_string(),
            [0x55, 0x04, 0x0a] => "O".to_string(),
            [0x55, 0x04, 0x0b] => "OU".to_string(),
            other => format!("#{}", super::snapshot::hex(other)),
        };
        let text = String::from_utf8_lossy(text);
        let mut escaped = String::new();
        for c in text.chars() {
            if matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=') {
                escaped.push('\\');
            }
            escaped.push(c);
        }
        parts.push(format!("{key}={escaped}"));
    }
    parts.reverse();
    Some(parts.join(","))
}

/// Just enough DER to walk a certificate to its subject.
mod der {
    /// The first element of `bytes`: its tag, its content and what
    /// follows it.
    pub fn element(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = bytes.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (length, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 || rest.len() < count {
                return None;
            }
            let (digits, rest) = rest.split_at(count);
            let length = digits
                .iter()
                .fold(0usize, |n, &d| (n << 8) | usize::from(d));
            (length, rest)
        };
        if rest.len() < length {
            return None;
        }
        let (content, after) = rest.split_at(length);
        Some((tag, content, after))
    }

    /// The content of the SEQUENCE at the start of `bytes`, and what
    /// follows it.
    pub fn sequence(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
        match element(bytes)? {
            (0x30, content, after) => Some((content, after)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;

    #[test]
    fn a_certificate_subject_reads_as_rfc_4514_writes_it() {
        let pem = include_bytes!("../../tests/cases/tls/client.crt");
        let der = CertificateDer::from_pem_slice(pem).unwrap();
        assert_eq!(
            super::subject(&der).as_deref(),
            Some("CN=billing-service,OU=billing,O=Model Studio,C=CN")
        );
        assert_eq!(super::subject(b"\x30\x03\x02\x01"), None);
        assert_eq!(super::subject(&[]), None);
    }
}
