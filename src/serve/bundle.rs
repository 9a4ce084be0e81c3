//! Bundles: one `.tar.gz` of the inputs, for replicas that share them
//! through any static file server or object store.
//!
//! A bundle holds `manifest.json`, `policies/` (any tree), and optionally
//! `schema/`, `entities.json` and `links.json`, and, signed,
//! `.signatures.json`. The manifest says the `revision` ([`snapshot::revision`]
//! of its files, the same value a server given the same files by flags
//! reports), the SHA-256 of every file (`files`) and, when given, a
//! `sequence` that only grows from one release to the next. A bundle whose
//! files do not hash to what its manifest says is refused. `mspl bundle
//! DIR --out FILE` makes one (checking first that it loads), signed with
//! `--signing-key` as a JWS of the manifest ([`super::signing`]); `mspl
//! serve --bundle URL` polls for it with `If-None-Match`, so an unchanged
//! bundle costs a 304, and with `--verification-key` refuses one whose
//! signature does not verify.

use super::signing::{SigningKey, VerificationKeys};
use super::snapshot::{self, Build, Inputs, LoadError, Role, SourceFile};
use crate::diag::Diagnostic;
use crate::files::walk::{has_extension, POLICY_EXTENSIONS};
use crate::limits::Limits;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// The manifest's name in a bundle.
pub const MANIFEST: &str = "manifest.json";

/// The signatures' name in a bundle: `{"signatures": [JWS, …]}`, each a
/// JWS whose payload is the manifest's bytes.
pub const SIGNATURES: &str = ".signatures.json";

/// How `mspl bundle` seals a bundle beyond its files.
#[derive(Default)]
pub struct Seal<'k> {
    /// The release's sequence number.
    pub sequence: Option<u64>,
    /// The key that signs the manifest.
    pub signer: Option<&'k SigningKey>,
}

/// A bundle read and checked.
#[derive(Debug)]
pub struct Bundle {
    /// Its files, as inputs.
    pub files: Vec<SourceFile>,
    /// Its revision.
    pub revision: String,
    /// Its manifest's sequence, if it has one.
    pub sequence: Option<u64>,
    /// The `kid` of the key whose signature verified, if signatures were
    /// checked.
    pub signed_by: Option<String>,
}

/// The SHA-256 of `bytes`, in hex.
fn sha256(bytes: &[u8]) -> String {
    snapshot::hex(&Sha256::digest(bytes))
}

/// The inputs of a bundle folder `dir` (`policies/`, and `schema/`,
/// `entities.json`, `links.json` where they exist): read as files given by
/// flags are, they get the keys a bundle of them has.
pub fn inputs_of(dir: &Path) -> Result<Inputs, Vec<Diagnostic>> {
    let policies = dir.join("policies");
    if !policies.is_dir() {
        return Err(vec![Diagnostic::plain(format!(
            "{} has no `policies/` folder",
            dir.display()
        ))
        .with_help(Some(
            "a bundle folder holds policies/, and optionally schema/, entities.json and links.json"
                .into(),
        ))]);
    }
    let present = |name: &str| Some(dir.join(name)).filter(|p| p.exists());
    Ok(Inputs {
        policies: vec![policies],
        schemas: present("schema").into_iter().collect(),
        links: present("links.json").into_iter().collect(),
        entities: present("entities.json"),
        policy_format: None,
        schema_format: None,
    })
}

/// A file's path inside a bundle.
fn bundle_path(file: &SourceFile) -> String {
    match file.role {
        Role::Policies | Role::Schema => format!("{}/{}", file.role.folder(), file.key),
        Role::Entities | Role::Links => file.key.clone(),
    }
}

/// Makes the bundle of `dir`: checked to load with `build`, then the
/// `.tar.gz` bytes (entries sorted, times and owners zeroed, so the same
/// files give the same bytes) and its revision.
pub fn make(dir: &Path, build: &Build, seal: &Seal) -> Result<(Vec<u8>, String), LoadError> {
    let files = inputs_of(dir)?.read(&build.options)?;
    let revision = snapshot::revision(&files);
    build.snapshot(files.clone(), revision.clone())?;
    let mut entries: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|f| (bundle_path(f), f.text.as_bytes().to_vec()))
        .collect();
    entries.sort();
    let hashes: BTreeMap<&str, String> = entries
        .iter()
        .map(|(path, bytes)| (path.as_str(), sha256(bytes)))
        .collect();
    let manifest = match seal.sequence {
        Some(sequence) => {
            serde_json::json!({"revision": revision, "sequence": sequence, "files": hashes})
        }
        None => serde_json::json!({"revision": revision, "files": hashes}),
    }
    .to_string();
    if let Some(signer) = seal.signer {
        let signatures = serde_json::json!({"signatures": [signer.sign(manifest.as_bytes())]});
        entries.insert(0, (SIGNATURES.into(), signatures.to_string().into_bytes()));
    }
    entries.insert(0, (MANIFEST.into(), manifest.into_bytes()));
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    for (path, bytes) in &entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, path, bytes.as_slice())
            .map_err(|e| {
                LoadError::message(format!("cannot write the bundle entry {path}: {e}"))
            })?;
    }
    let bytes = tar
        .into_inner()
        .and_then(|gz| gz.finish())
        .map_err(|e| LoadError::message(format!("cannot write the bundle: {e}")))?;
    Ok((bytes, revision))
}

/// Reads a bundle's bytes. Refused: what is not gzip'd tar, an entry
/// outside the bundle (`..`, an absolute path, a link), text that is not
/// UTF-8, more than the data limit unpacked, no manifest, files that do
/// not hash to what the manifest says; and, with `keys`, a bundle whose
/// manifest no signature by one of them covers, or that has no sequence
/// or no file hashes.
pub fn read(
    bytes: &[u8],
    limits: &Limits,
    keys: Option<&VerificationKeys>,
) -> Result<Bundle, LoadError> {
    let refuse = |m: String| LoadError::message(format!("bundle: {m}"));
    let budget = limits.max_data_file_bytes as u64;
    let unpacked = flate2::read::GzDecoder::new(bytes).take(budget.saturating_add(1));
    let mut archive = tar::Archive::new(unpacked);
    let mut files = Vec::new();
    let mut manifest = None;
    let mut signatures = None;
    let mut hashes: BTreeMap<String, String> = BTreeMap::new();
    let mut total: u64 = 0;
    let entries = archive
        .entries()
        .map_err(|e| refuse(format!("not a .tar.gz: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| refuse(format!("not a .tar.gz: {e}")))?;
        let kind = entry.header().entry_type();
        let path = entry
            .path()
            .map_err(|e| refuse(format!("an entry's path cannot be read: {e}")))?
            .into_owned();
        let name = path.to_string_lossy().trim_start_matches("./").to_string();
        if kind.is_dir() {
            continue;
        }
        let unsafe_path = path.is_absolute()
            || path
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir));
        if unsafe_path {
            return Err(refuse(format!(
                "the entry `{name}` points outside the bundle"
            )));
        }
        if !kind.is_file() {
            return Err(refuse(format!(
                "the entry `{name}` is not a regular file (links are not followed)"
            )));
        }
        total = total.saturating_add(entry.size());
        if total > budget {
            return Err(refuse(format!(
                "it unpacks to more than the data limit of {budget} bytes"
            )));
        }
        let mut data = Vec::new();
        entry
            .read_to_end(&mut data)
            .map_err(|e| refuse(format!("cannot read `{name}`: {e}")))?;
        if name != MANIFEST && name != SIGNATURES {
            hashes.insert(name.clone(), sha256(&data));
        }
        let text = String::from_utf8(data).map_err(|e| {
            refuse(format!(
                "`{name}` is not UTF-8 (at byte {})",
                e.utf8_error().valid_up_to()
            ))
        })?;
        let text = crate::files::strip_bom(&text).to_string();
        let shown = format!("bundle:{name}");
        let (role, key) = if name == MANIFEST {
            manifest = Some(text);
            continue;
        } else if name == SIGNATURES {
            signatures = Some(text);
            continue;
        } else if name == "entities.json" {
            (Role::Entities, name.clone())
        } else if name == "links.json" {
            (Role::Links, name.clone())
        } else if let Some(rest) = name.strip_prefix("policies/") {
            (Role::Policies, rest.to_string())
        } else if let Some(rest) = name.strip_prefix("schema/") {
            (Role::Schema, rest.to_string())
        } else {
            continue;
        };
        if matches!(role, Role::Policies | Role::Schema)
            && !has_extension(Path::new(&key), POLICY_EXTENSIONS)
        {
            continue;
        }
        files.push(SourceFile {
            role,
            key,
            name: shown,
            text,
        });
    }
    let manifest = manifest.ok_or_else(|| refuse(format!("it has no {MANIFEST}")))?;
    let signed_by = match keys {
        Some(keys) => {
            Some(verify_signature(&manifest, signatures.as_deref(), keys).map_err(refuse)?)
        }
        None => None,
    };
    let parsed: serde_json::Value = serde_json::from_str(&manifest)
        .map_err(|e| refuse(format!("{MANIFEST} is not JSON: {e}")))?;
    let said = parsed
        .get("revision")
        .and_then(|r| r.as_str())
        .ok_or_else(|| {
            refuse(format!(
                "{MANIFEST} is not an object with a string `revision`"
            ))
        })?;
    let sequence =
        match parsed.get("sequence") {
            None => None,
            Some(n) => Some(n.as_u64().ok_or_else(|| {
                refuse(format!("{MANIFEST}'s `sequence` is not a whole number ≥ 0"))
            })?),
        };
    if keys.is_some() && sequence.is_none() {
        return Err(refuse(format!(
            "its signed {MANIFEST} has no `sequence` (make it with `mspl bundle --sequence N`)"
        )));
    }
    match parsed.get("files") {
        Some(listed) => check_hashes(listed, &hashes).map_err(refuse)?,
        None if keys.is_some() => {
            return Err(refuse(format!(
                "its signed {MANIFEST} lists no file hashes (`files`)"
            )))
        }
        None => {}
    }
    let revision = snapshot::revision(&files);
    if said != revision {
        return Err(refuse(format!(
            "its manifest says revision {said}, but its files hash to {revision}"
        )));
    }
    Ok(Bundle {
        files,
        revision,
        sequence,
        signed_by,
    })
}

/// The `kid` of a signature in `signatures` (the text of
/// `.signatures.json`) by one of `keys` whose payload is `manifest`; else
/// why there is none.
fn verify_signature(
    manifest: &str,
    signatures: Option<&str>,
    keys: &VerificationKeys,
) -> Result<String, String> {
    let text = signatures.ok_or_else(|| {
        format!("it is not signed (no {SIGNATURES}), and this server verifies signatures (--verification-key)")
    })?;
    let parsed: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("{SIGNATURES} is not JSON: {e}"))?;
    let list = parsed
        .get("signatures")
        .and_then(|s| s.as_array())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("{SIGNATURES} has no `signatures` list"))?;
    let mut first_error = None;
    for jws in list {
        let Some(jws) = jws.as_str() else {
            first_error.get_or_insert_with(|| "a signature is not a string".to_string());
            continue;
        };
        match keys.verify(jws) {
            Ok((payload, kid)) if payload == manifest.as_bytes() => return Ok(kid),
            Ok((_, kid)) => {
                first_error.get_or_insert_with(|| {
                    format!("its {MANIFEST} is not the one key `{kid}` signed (tampered)")
                });
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or_default())
}

/// Checks the manifest's `files` (path to SHA-256) against the hashes of
/// the bundle's files: each listed, each equal, none missing.
fn check_hashes(
    listed: &serde_json::Value,
    found: &BTreeMap<String, String>,
) -> Result<(), String> {
    let listed = listed
        .as_object()
        .ok_or_else(|| format!("{MANIFEST}'s `files` is not an object"))?;
    for (path, hash) in found {
        match listed.get(path).and_then(|h| h.as_str()) {
            Some(h) if h == hash => {}
            Some(_) => {
                return Err(format!(
                    "`{path}` does not have the SHA-256 its manifest says (tampered)"
                ))
            }
            None => return Err(format!("`{path}` is not in its manifest's `files`")),
        }
    }
    if let Some(missing) = listed.keys().find(|p| !found.contains_key(*p)) {
        return Err(format!(
            "its manifest lists `{missing}`, which the bundle lacks"
        ));
    }
    Ok(())
}

/// What asking for the bundle gave.
pub enum Fetched {
    /// 304: the bundle of the last ETag.
    NotModified,
    /// A bundle, with the server's ETag.
    New {
        /// Its bytes.
        bytes: Vec<u8>,
        /// The ETag to send next time.
        etag: Option<String>,
    },
}

/// `url` as status and logs may show it: userinfo (`user:password@`) and
/// the query string (a pre-signed URL's signature) replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, _)) => (base, "?***"),
        None => (url, ""),
    };
    let (scheme, rest) = match base.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), base),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((_, host)) => format!("***@{host}"),
        None => authority.to_string(),
    };
    format!("{scheme}{authority}{path}{query}")
}

/// Whether `url` carries a credential: userinfo or a query string.
pub fn has_credential(url: &str) -> bool {
    redact_url(url) != url
}

/// Asks `url` for the bundle, with `If-None-Match: etag`; the body
/// bounded by the data limit. An `https://` URL is verified with `tls`
/// (the roots of `--bundle-ca` or the system's). `Err` says why no bundle
/// came (connection, certificate, status, size), never with the URL's
/// secrets.
pub async fn fetch(
    url: &str,
    etag: Option<&str>,
    limits: Limits,
    tls: Option<&std::sync::Arc<rustls::ClientConfig>>,
) -> Result<Fetched, String> {
    use http_body_util::BodyExt;
    let shown = redact_url(url);
    let uri: hyper::Uri = url
        .parse()
        .map_err(|_| format!("the bundle URL `{shown}` is not a URL"))?;
    let response = match (uri.scheme_str(), tls) {
        (Some("http"), _) => plain(uri, etag).await,
        (Some("https"), Some(tls)) => secure(&uri, etag, tls).await,
        (Some("https"), None) => {
            Err("an https:// bundle URL needs roots to verify the server against".to_string())
        }
        _ => Err(format!(
            "the bundle URL `{shown}` is neither http:// nor https://"
        )),
    }
    // hyper's errors may name the address; never the URL's secrets.
    .map_err(|e| e.replace(url, &shown))?;
    let status = response.status();
    if status == hyper::StatusCode::NOT_MODIFIED {
        return Ok(Fetched::NotModified);
    }
    if !status.is_success() {
        return Err(format!("the bundle server answered {status}"));
    }
    let etag = response
        .headers()
        .get(hyper::header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = http_body_util::Limited::new(response.into_body(), limits.max_data_file_bytes);
    let bytes = tokio::time::timeout(std::time::Duration::from_secs(300), body.collect())
        .await
        .map_err(|_| "the bundle did not arrive within 300 s".to_string())?
        .map_err(|e| format!("cannot read the bundle: {e}"))?
        .to_bytes()
        .to_vec();
    Ok(Fetched::New { bytes, etag })
}

/// How long connecting, the handshake and the answer's head may take.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The request for the bundle at `target` (a path, or the whole URL).
fn bundle_request(
    target: &str,
    host: Option<&str>,
    etag: Option<&str>,
) -> Result<hyper::Request<http_body_util::Empty<axum::body::Bytes>>, String> {
    let mut request = hyper::Request::get(target);
    if let Some(host) = host {
        request = request.header(hyper::header::HOST, host);
    }
    if let Some(etag) = etag {
        request = request.header(hyper::header::IF_NONE_MATCH, etag);
    }
    request
        .body(http_body_util::Empty::new())
        .map_err(|e| format!("cannot ask for the bundle: {e}"))
}

/// The answer's head over plain HTTP.
async fn plain(
    uri: hyper::Uri,
    etag: Option<&str>,
) -> Result<hyper::Response<hyper::body::Incoming>, String> {
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let client: Client<_, http_body_util::Empty<axum::body::Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let request = bundle_request(&uri.to_string(), None, etag)?;
    tokio::time::timeout(CONNECT_TIMEOUT, client.request(request))
        .await
        .map_err(|_| "the bundle server did not answer within 30 s".to_string())?
        .map_err(|e| format!("cannot reach the bundle server: {e}"))
}

/// The answer's head over TLS, the server verified with `tls`.
async fn secure(
    uri: &hyper::Uri,
    etag: Option<&str>,
    tls: &std::sync::Arc<rustls::ClientConfig>,
) -> Result<hyper::Response<hyper::body::Incoming>, String> {
    let authority = uri
        .authority()
        .ok_or("the bundle URL names no host")?
        .as_str()
        .rsplit('@')
        .next()
        .unwrap_or_default()
        .to_string();
    let host = uri
        .host()
        .ok_or("the bundle URL names no host")?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri.port_u16().unwrap_or(443);
    let work = async {
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| format!("cannot reach the bundle server: {e}"))?;
        let name = rustls::pki_types::ServerName::try_from(host.clone())
            .map_err(|e| format!("the bundle URL's host is not a server name: {e}"))?;
        let stream = tokio_rustls::TlsConnector::from(tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| format!("cannot verify the bundle server ({host}): {e}"))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| format!("cannot speak HTTP to the bundle server: {e}"))?;
        // Ends when the answer has been read and `sender` dropped.
        tokio::spawn(connection);
        let target = uri.path_and_query().map_or("/", |p| p.as_str());
        let request = bundle_request(target, Some(&authority), etag)?;
        sender
            .send_request(request)
            .await
            .map_err(|e| format!("cannot reach the bundle server: {e}"))
    };
    tokio::time::timeout(CONNECT_TIMEOUT, work)
        .await
        .map_err(|_| "the bundle server did not answer within 30 s".to_string())?
}

#[cfg(test)]
mod tests {
    use super::{has_credential, redact_url};

    #[test]
    fn credentials_never_show() {
        let cases = [
            ("http://h:8080/b.tar.gz", "http://h:8080/b.tar.gz"),
            ("http://u:secret@h/b.tar.gz", "http://***@h/b.tar.gz"),
            (
                "http://h/b.tar.gz?X-Amz-Signature=abc&x=1",
                "http://h/b.tar.gz?***",
            ),
            ("http://u@h?sig=1", "http://***@h?***"),
        ];
        for (url, shown) in cases {
            assert_eq!(redact_url(url), shown);
            assert!(!redact_url(url).contains("secret") && !redact_url(url).contains("abc"));
            assert_eq!(has_credential(url), url != shown);
        }
    }
}
