//! `serve` over TLS on loopback: the right CA and the wrong one, a
//! certificate renewed on disk used by the next connection, client
//! certificates required and optional (with tokens), the caller's subject
//! in the decision log, and an `https://` bundle server verified against
//! `--bundle-ca`. The certificates are `tests/cases/tls/` (a test CA,
//! valid for a century).

use crate::reload::{entities, revision, World};
use crate::served::Served;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const MS: &str = "policies/model_studio";
const ENTITIES: &str = "policies/model_studio/examples/entities.json";
const REQUEST: &str = r#"{"principal": {"type": "RamUser", "id": "user-01"}, "action": {"type": "Action", "id": "page.view"}, "resource": {"type": "Page", "id": "project-a/knowledge_base"}, "context": {}}"#;

fn fixture(name: &str) -> PathBuf {
    Path::new("tests/cases/tls").join(name)
}

#[expect(deprecated, reason = "the server's provider (src/serve/tls.rs)")]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(path: &Path) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(path)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// A TLS client trusting `ca`, presenting `client` (a name in the
/// fixtures) when given.
pub(crate) fn client(ca: &str, client: Option<&str>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for c in certs(&fixture(ca)) {
        roots.add(c).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    Arc::new(match client {
        Some(name) => builder
            .with_client_auth_cert(
                certs(&fixture(&format!("{name}.crt"))),
                PrivateKeyDer::from_pem_file(fixture(&format!("{name}.key"))).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    })
}

/// What one HTTPS exchange gave: the status, the body and the server's
/// certificate.
struct Exchange {
    status: u16,
    body: String,
    server_cert: Vec<u8>,
}

/// The test's decision request (`REQUEST`) posted over a new TLS
/// connection to `addr`, with `headers`.
fn decide(
    addr: &str,
    config: &Arc<rustls::ClientConfig>,
    headers: &[(&str, &str)],
) -> Result<Exchange, String> {
    https(addr, config, "POST", "/v1/is_authorized", headers, REQUEST)
}

/// One request over a new TLS connection to `addr`; `Err` says how the
/// connection failed (a handshake refused, say).
fn https(
    addr: &str,
    config: &Arc<rustls::ClientConfig>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<Exchange, String> {
    let name = ServerName::try_from("localhost").unwrap();
    let connection =
        rustls::ClientConnection::new(config.clone(), name).map_err(|e| e.to_string())?;
    let tcp = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut tls = rustls::StreamOwned::new(connection, tcp);
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    head.push_str(body);
    tls.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
    tls.flush().map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match tls.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => break,
            Err(e) => return Err(e.to_string()),
        }
    }
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or(format!("no head: {text}"))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or(format!("no status: {head}"))?;
    let server_cert = tls
        .conn
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
        .unwrap_or_default();
    Ok(Exchange {
        status,
        body: body.to_string(),
        server_cert,
    })
}

/// `mspl serve` of the Model Studio examples over TLS with `cert` and
/// `key`, and `extra` flags.
fn serve_tls(cert: &Path, key: &Path, extra: &[&str]) -> Served {
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let mut args = vec![
        "-p",
        MS,
        "--entities",
        ENTITIES,
        "--tls-cert",
        cert,
        "--tls-key",
        key,
    ];
    args.extend_from_slice(extra);
    Served::start(&args)
}

/// [`serve_tls`] with the tests' own certificate.
fn serve_fixture(extra: &[&str]) -> Served {
    serve_tls(&fixture("server.crt"), &fixture("server.key"), extra)
}

/// Copies the server's certificate and key into `dir` (to replace them
/// there): their paths.
fn server_files(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
    for (from, to) in [
        (format!("{name}.crt"), &cert),
        (format!("{name}.key"), &key),
    ] {
        let temp = to.with_extension("tmp");
        std::fs::copy(fixture(&from), &temp).unwrap();
        std::fs::rename(&temp, to).unwrap();
    }
    (cert, key)
}

#[test]
fn tls_is_served_to_a_client_trusting_its_ca_and_a_renewed_certificate_takes_over() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = server_files(dir.path(), "server");
    let server = serve_tls(&cert, &key, &[]);
    let trusting = client("ca.crt", None);
    let reply = decide(&server.addr, &trusting, &[]).unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body.contains("\"decision\""), "{}", reply.body);
    let first = certs(&fixture("server.crt"))[0].to_vec();
    assert_eq!(reply.server_cert, first);
    // A client trusting another CA refuses the server.
    let stranger = client("other-ca.crt", None);
    let refused = https(&server.addr, &stranger, "GET", "/health/live", &[], "");
    assert!(refused.is_err(), "a wrong CA was accepted");
    // The renewal, written over the files: the next connection gets it (a
    // new client: a resumed session shows no certificate again).
    server_files(dir.path(), "server2");
    let renewed = certs(&fixture("server2.crt"))[0].to_vec();
    let trusting = client("ca.crt", None);
    let reply = https(&server.addr, &trusting, "GET", "/health/live", &[], "").unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.server_cert, renewed,
        "the renewed certificate is served"
    );
    // A broken pair (a key that does not match) is refused; the renewed
    // one serves on.
    std::fs::copy(fixture("client.key"), &key).unwrap();
    let trusting = client("ca.crt", None);
    let reply = https(&server.addr, &trusting, "GET", "/health/live", &[], "").unwrap();
    assert_eq!(reply.server_cert, renewed);
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("does not go with the certificate"),
        "{stderr}"
    );
}

#[test]
fn required_client_certificates_refuse_the_others_and_the_log_names_the_caller() {
    let log = tempfile::NamedTempFile::new().unwrap();
    let server = serve_fixture(&[
        "--tls-client-ca",
        fixture("ca.crt").to_str().unwrap(),
        "--decision-log",
        log.path().to_str().unwrap(),
    ]);
    for who in [None, Some("stranger")] {
        let config = client("ca.crt", who);
        let refused = decide(&server.addr, &config, &[]);
        assert!(
            refused.is_err(),
            "{who:?} got in: {:?}",
            refused.map(|r| r.body)
        );
    }
    let known = client("ca.crt", Some("client"));
    let reply = decide(&server.addr, &known, &[]).unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
    let line = std::fs::read_to_string(log.path()).unwrap();
    let entry: serde_json::Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    assert_eq!(
        entry["caller"], "CN=billing-service,OU=billing,O=Model Studio,C=CN",
        "{line}"
    );
}

#[test]
fn optional_client_certificates_let_in_a_certificate_or_a_token() {
    let tokens = crate::auth::secret_file("a-token\n");
    let server = serve_fixture(&[
        "--tls-client-ca",
        fixture("ca.crt").to_str().unwrap(),
        "--tls-client-auth",
        "optional",
        "--auth-token-file",
        tokens.path().to_str().unwrap(),
    ]);
    let anonymous = client("ca.crt", None);
    let known = client("ca.crt", Some("client"));
    let post =
        |config, headers: &[(&str, &str)]| decide(&server.addr, config, headers).unwrap().status;
    assert_eq!(post(&anonymous, &[]), 401);
    assert_eq!(
        post(&anonymous, &[("Authorization", "Bearer a-token")]),
        200
    );
    assert_eq!(post(&known, &[]), 200);
    let health = https(&server.addr, &anonymous, "GET", "/health/live", &[], "").unwrap();
    assert_eq!(health.status, 200);
}

/// A one-file HTTPS server (the test CA's `server` certificate) answering
/// every GET with `body`, until dropped.
struct HttpsFile {
    addr: String,
    stop: Arc<AtomicBool>,
}

impl HttpsFile {
    fn start(body: Vec<u8>) -> HttpsFile {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let config = Arc::new(
            rustls::ServerConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(
                    certs(&fixture("server.crt")),
                    PrivateKeyDer::from_pem_file(fixture("server.key")).unwrap(),
                )
                .unwrap(),
        );
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                let Ok((tcp, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                tcp.set_nonblocking(false).unwrap();
                tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let conn = rustls::ServerConnection::new(config.clone()).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match tls.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => break,
                    }
                }
                if !head.ends_with(b"\r\n\r\n") {
                    continue;
                }
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nETag: \"one\"\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = tls.write_all(reply.as_bytes());
                let _ = tls.write_all(&body);
                let _ = tls.flush();
                tls.conn.send_close_notify();
                let _ = tls.flush();
            }
        });
        HttpsFile { addr, stop }
    }
}

impl Drop for HttpsFile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[test]
fn an_https_bundle_server_is_verified_against_the_bundle_ca() {
    let world = World::new();
    world.write("entities.json", &entities(&["alice"]));
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("b.tar.gz");
    let (code, stdout, stderr) = crate::reload::mspl(&[
        "bundle",
        world.dir.path().to_str().unwrap(),
        "--out",
        target.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let files = HttpsFile::start(std::fs::read(&target).unwrap());
    let url = format!("https://{}/bundle.tar.gz", files.addr);
    let server = Served::start(&[
        "--bundle",
        &url,
        "--bundle-ca",
        fixture("ca.crt").to_str().unwrap(),
    ]);
    assert_eq!(revision(&server), stdout.trim());
    drop(server);
    // Against another CA the server is not trusted: nothing loads, and
    // status says why.
    let server = Served::start(&[
        "--bundle",
        &url,
        "--bundle-ca",
        fixture("other-ca.crt").to_str().unwrap(),
    ]);
    assert_eq!(server.get("/health/ready").status, 503);
    let status = server.get("/v1/status").json();
    let message = status["last_error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("cannot verify the bundle server"),
        "{status}"
    );
}

#[test]
fn a_handshake_that_never_comes_holds_its_connection_no_longer_than_a_head() {
    let server = serve_fixture(&["--header-timeout-ms", "300"]);
    let mut silent = TcpStream::connect(&server.addr).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = std::time::Instant::now();
    let mut byte = [0u8; 1];
    let read = silent.read(&mut byte);
    assert!(
        matches!(read, Ok(0)) || read.is_err(),
        "the server sent something: {read:?}"
    );
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(5),
        "closed after {waited:?}, not near --header-timeout-ms"
    );
    // Others are served meanwhile and after.
    let reply = https(
        &server.addr,
        &client("ca.crt", None),
        "GET",
        "/health/live",
        &[],
        "",
    )
    .unwrap();
    assert_eq!(reply.status, 200);
}
