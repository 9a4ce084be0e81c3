//! `mspl serve`: the decision server of [`crate::serve`], and `mspl
//! bundle`, which packs a folder into the bundle `--bundle` polls for.

use super::common::Outcome;
use crate::authorize::{ErrorMode, Options};
use crate::exit::Exit;
use crate::policy_set::IdScheme;
use crate::serve::{self, Build, Config, Inputs, Source, Watch};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `mspl serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Policy files or directories (watched for changes); or a bundle
    /// (`--bundle`, `--bundle-url-file` or MSPL_BUNDLE_URL).
    #[arg(short = 'p', long, alias = "policy", num_args = 1.., conflicts_with_all = ["bundle", "bundle_url_file"])]
    pub policies: Vec<PathBuf>,
    /// Extra declaration files.
    #[arg(short = 's', long, num_args = 1.., conflicts_with = "bundle")]
    pub schema: Vec<PathBuf>,
    /// Template links and input formats.
    #[command(flatten)]
    pub inputs: super::policy_args::PolicyInputs,
    /// The entity file (Cedar's entity JSON), or a database
    /// (`postgres://…`); none: an empty store.
    #[arg(long, conflicts_with = "bundle")]
    pub entities: Option<PathBuf>,
    /// A file holding the database URL to read the entities from (as
    /// `--entities postgres://…`, without showing a password to `ps`).
    #[arg(long, value_name = "FILE", conflicts_with = "entities")]
    pub entities_url_file: Option<PathBuf>,
    /// Poll this URL (plain http://) for a bundle (`mspl bundle`) instead
    /// of reading files: `--policies`, `--schema` and `--entities` come
    /// from it. A URL with a credential (a password, a signed query) is
    /// better given by `--bundle-url-file` or MSPL_BUNDLE_URL: the command
    /// line is visible to every user of the machine.
    #[arg(long, value_name = "URL", conflicts_with = "bundle_url_file")]
    pub bundle: Option<String>,
    /// A file holding the bundle URL (as `--bundle`).
    #[arg(long, value_name = "FILE")]
    pub bundle_url_file: Option<PathBuf>,
    /// How often to ask for the bundle, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub bundle_interval: f64,
    /// An Ed25519 public key (PEM) whose signature a bundle must bear, as
    /// `FILE` (named by its fingerprint) or `KID=FILE`; repeat it to accept
    /// several during a rotation.
    #[arg(long, value_name = "[KID=]FILE")]
    pub verification_key: Vec<String>,
    /// Keep the highest bundle sequence loaded in FILE, so that a restart
    /// cannot be handed an older bundle either.
    #[arg(long, value_name = "FILE")]
    pub bundle_state: Option<PathBuf>,
    /// Mark the bundle stale (status, `mspl_bundle_stale`) when no newer
    /// sequence has come for this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub bundle_max_age: Option<f64>,
    /// Serve HTTPS with this certificate chain (PEM, the server's first);
    /// looked at again at each handshake, so a renewal needs no restart.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Verify client certificates against these roots (PEM); a verified
    /// one opens the decision endpoints as a client token does.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
    /// Whether a client certificate is required at the handshake.
    #[arg(long, value_enum, default_value_t = ClientAuthArg::Required, requires = "tls_client_ca")]
    pub tls_client_auth: ClientAuthArg,
    /// Verify an `https://` bundle URL against these roots (PEM) instead
    /// of the system's.
    #[arg(long, value_name = "FILE")]
    pub bundle_ca: Option<PathBuf>,
    /// The address to listen on (loopback unless told otherwise; port 0
    /// picks a free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:8180")]
    pub addr: SocketAddr,
    /// The base URL the AuthZEN metadata lists endpoints under [default:
    /// http:// and the listen address].
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Give each item of an AuthZEN `evaluations` answer its reasons
    /// (`context`: the decision's id, determining policies, errors and
    /// fixes), as `options.include_reasons: true` asks for one call.
    #[arg(long)]
    pub authzen_reasons: bool,
    /// A mapping of entity types to tables (`docs/filtering.md`): `POST
    /// /v1/plan` then answers SQL too.
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,
    /// The most requests in one batch (and evaluations in one AuthZEN call).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub max_batch: usize,
    /// The largest request body; a larger one is a 413.
    #[arg(long, value_name = "BYTES", default_value_t = 8 << 20)]
    pub max_body_bytes: usize,
    /// How long one request may take: reading its body, waiting for a
    /// decision thread and the decision work itself (a 408 past it, never a
    /// partial answer).
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub request_timeout_ms: u64,
    /// Threads that decide, off the threads that serve connections (so
    /// health probes are always answered) [default: the number of cores].
    #[arg(long, value_name = "N")]
    pub decision_threads: Option<usize>,
    /// Requests that may wait for a decision thread, per thread; past it a
    /// request gets 429 with `Retry-After: 1`.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub max_queued: usize,
    /// How long a request's head may take to arrive (an idle connection's
    /// next one included); past it the connection is closed.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub header_timeout_ms: u64,
    /// The most connections open at once; past it a new one gets a 503 and
    /// is closed [default: 1,024, or the descriptor limit less 64 when smaller].
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,
    /// How long the drain after SIGTERM may take; past it the connections
    /// left are cut (logged) and the server exits 0.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    pub drain_timeout_ms: u64,
    /// A file holding the bearer token of `POST /v1/reload` (or set
    /// MSPL_ADMIN_TOKEN); without one there is no reload endpoint.
    #[arg(long, value_name = "FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// A file of client bearer tokens, one a line (`#` starts a comment),
    /// or set MSPL_AUTH_TOKENS (one a line): the decision and AuthZEN
    /// endpoints, status and metrics then need one of them (or the admin
    /// token).
    #[arg(long, value_name = "FILE")]
    pub auth_token_file: Option<PathBuf>,
    /// Write one JSON line per decision to FILE (appended), or `-` for
    /// standard output.
    #[arg(long, value_name = "FILE")]
    pub decision_log: Option<PathBuf>,
    /// How file changes are noticed: `auto` (inotify, and a metadata poll
    /// where events do not arrive), `poll` (the poll only), `off` (only
    /// SIGHUP and POST /v1/reload).
    #[arg(long, value_enum, default_value_t = WatchArg::Auto)]
    pub watch: WatchArg,
    /// How often the metadata poll looks, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 500)]
    pub poll_interval_ms: u64,
    /// How long a reload waits after the last change event, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 50)]
    pub debounce_ms: u64,
    /// A change log of the entities: JSON lines, each a transaction
    /// applied after the base `--entities` file, tailed as it grows and
    /// written by `POST /v1/entities` (with the admin token). The base file
    /// is then not reloaded when it changes; `POST /v1/reload` takes a new one.
    #[arg(long, value_name = "FILE")]
    pub entity_changes: Option<PathBuf>,
    /// How long a request asking for an entity revision not yet served
    /// waits for it (`"consistency": {"at_least": TOKEN}`, or the
    /// `X-Mspl-At-Least` header), in milliseconds; then a 503.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub consistency_wait_ms: u64,
    /// With the entities in a database: the longest time between two looks
    /// at its change table (notifications wake the follower sooner).
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub entities_poll_ms: u64,
    /// With the entities in a database: do not LISTEN, only poll (behind a
    /// transaction pooler, where notifications do not arrive; a standby is
    /// found and polled on its own).
    #[arg(long)]
    pub entities_poll_only: bool,
    /// With the entities in a database: answer decisions 503 when the
    /// entities are older than this (the time since the follower last found
    /// the replica current), rather than decide from older data.
    #[arg(long, value_name = "MS")]
    pub max_staleness_ms: Option<u64>,
    /// How snapshots are built.
    #[command(flatten)]
    pub snapshot: SnapshotArgs,
}

/// How a snapshot is built, for `serve` and `bundle` alike.
#[derive(clap::Args, Debug)]
pub struct SnapshotArgs {
    /// Refuse a snapshot (at start: exit 1) or a bundle whose policies or
    /// entities fail validation.
    #[arg(long)]
    pub validate: bool,
    /// Cedar's semantics: erroring policies are skipped, ids are `policyN`.
    #[arg(long)]
    pub cedar: bool,
    /// The limits in force (loading, evaluation and request bodies).
    #[command(flatten)]
    pub limits: super::limit_args::LimitArgs,
}

/// `--watch`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchArg {
    /// inotify and the metadata poll.
    Auto,
    /// The metadata poll only.
    Poll,
    /// No watching.
    Off,
}

/// How `--cedar`, `--validate`, the formats and the limits build snapshots.
fn build(inputs: &super::policy_args::PolicyInputs, args: &SnapshotArgs) -> Build {
    Build {
        ids: IdScheme::cedar(args.cedar),
        options: Options {
            errors: ErrorMode::cedar(args.cedar),
            limits: args.limits.limits(),
            plain: false,
            deadline: None,
        },
        validate: args.validate,
        policy_format: inputs.policy_source(),
        schema_format: inputs.schema_source(),
    }
}

/// The admin token: from the file, else from MSPL_ADMIN_TOKEN; never
/// from the command line.
fn admin_token(args: &ServeArgs) -> Result<Option<String>, String> {
    let token = match &args.admin_token_file {
        Some(path) => {
            let text = crate::files::read_regular(path, 64 << 10, crate::files::TextKind::Data)
                .map_err(|e| {
                    format!(
                        "cannot read the admin token file {}: {}",
                        path.display(),
                        e.message
                    )
                })?;
            Some(text.trim().to_string())
        }
        None => std::env::var("MSPL_ADMIN_TOKEN")
            .ok()
            .map(|t| t.trim().to_string()),
    };
    match token {
        Some(t) if t.is_empty() => Err("the admin token is empty".into()),
        other => Ok(other),
    }
}

/// `--tls-client-auth`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ClientAuthArg {
    /// A client may present a certificate.
    Optional,
    /// A client must present one.
    Required,
}

/// The client tokens: from the file, else from MSPL_AUTH_TOKENS; one a
/// line, blank lines and `#` comments aside; never from the command line.
fn client_tokens(args: &ServeArgs) -> Result<Vec<String>, String> {
    let (text, from) = match &args.auth_token_file {
        Some(path) => (
            crate::files::read_regular(path, 1 << 20, crate::files::TextKind::Data).map_err(
                |e| {
                    format!(
                        "cannot read the token file {}: {}",
                        path.display(),
                        e.message
                    )
                },
            )?,
            path.display().to_string(),
        ),
        None => match std::env::var("MSPL_AUTH_TOKENS") {
            Ok(text) => (text, "MSPL_AUTH_TOKENS".to_string()),
            Err(_) => return Ok(Vec::new()),
        },
    };
    let tokens: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    if let Some(line) = tokens
        .iter()
        .position(|t| t.chars().any(char::is_whitespace))
    {
        return Err(format!(
            "{from}: token {} holds a space: one token a line",
            line + 1
        ));
    }
    if tokens.is_empty() {
        return Err(format!("{from} holds no token"));
    }
    Ok(tokens)
}

/// The text of the key file `path` (a PEM key is small).
fn read_key(path: &std::path::Path, what: &str) -> Result<String, String> {
    crate::files::read_regular(path, 64 << 10, crate::files::TextKind::Data)
        .map_err(|e| format!("cannot read the {what} {}: {}", path.display(), e.message))
}

/// The bundle's trust: the verification keys (`[KID=]FILE`), the state
/// file, the maximum age.
fn bundle_trust(args: &ServeArgs, url: &str) -> Result<serve::bundle_trust::BundleTrust, String> {
    let keys = if args.verification_key.is_empty() {
        None
    } else {
        let mut keys = serve::signing::VerificationKeys::default();
        for given in &args.verification_key {
            let (kid, path) = match given.split_once('=') {
                Some((kid, path)) if !kid.is_empty() && !kid.contains('/') => {
                    (Some(kid.to_string()), std::path::PathBuf::from(path))
                }
                _ => (None, std::path::PathBuf::from(given)),
            };
            let text = read_key(&path, "verification key")?;
            keys.add_pem(&text, kid, &path.display().to_string())?;
        }
        Some(keys)
    };
    let max_age = match args.bundle_max_age {
        Some(s) if s.is_finite() && s > 0.0 => Some(Duration::from_secs_f64(s)),
        Some(_) => return Err("--bundle-max-age must be a positive number of seconds".into()),
        None => None,
    };
    let tls = if url.starts_with("https://") {
        let roots = serve::tls::bundle_roots(args.bundle_ca.as_deref())?;
        Some(serve::tls::client_config(roots)?)
    } else if args.bundle_ca.is_some() {
        return Err("--bundle-ca is for an https:// bundle URL".into());
    } else {
        None
    };
    serve::bundle_trust::BundleTrust::new(keys, args.bundle_state.clone(), max_age, tls)
}

/// The bundle URL: `--bundle`, else the file of `--bundle-url-file`, else
/// MSPL_BUNDLE_URL when no `--policies` are given; a credential on the
/// command line draws a warning into `out`.
fn bundle_url(args: &ServeArgs, out: &mut Outcome) -> Result<Option<String>, String> {
    if let Some(url) = &args.bundle {
        if serve::bundle::has_credential(url) {
            out.stderr.push_str(&format!(
                "warning: the bundle URL on the command line holds a credential, which every user of this machine can read in its process list: give it with --bundle-url-file FILE or MSPL_BUNDLE_URL ({})\n",
                serve::bundle::redact_url(url)
            ));
        }
        return Ok(Some(url.clone()));
    }
    if let Some(path) = &args.bundle_url_file {
        let text = crate::files::read_regular(path, 64 << 10, crate::files::TextKind::Data)
            .map_err(|e| {
                format!(
                    "cannot read the bundle URL file {}: {}",
                    path.display(),
                    e.message
                )
            })?;
        let url = text.trim().to_string();
        if url.is_empty() {
            return Err(format!("the bundle URL file {} is empty", path.display()));
        }
        return Ok(Some(url));
    }
    if args.policies.is_empty() {
        if let Ok(url) = std::env::var("MSPL_BUNDLE_URL") {
            let url = url.trim().to_string();
            if !url.is_empty() {
                return Ok(Some(url));
            }
        }
    }
    Ok(None)
}

/// Runs `mspl serve` until SIGTERM: 0 drained, 1 inputs that do not load.
pub fn run(args: &ServeArgs) -> Outcome {
    let mut out = Outcome::default();
    let tokens = match admin_token(args).and_then(|admin| {
        Ok(serve::auth::Tokens {
            admin,
            clients: client_tokens(args)?,
            certificates: args.tls_client_ca.is_some(),
        })
    }) {
        Ok(t) => t,
        Err(m) => {
            out.stderr.push_str(&format!("error: {m}\n"));
            return out.exit(Exit::Failure);
        }
    };
    let url = match bundle_url(args, &mut out) {
        Ok(url) => url,
        Err(m) => {
            out.stderr.push_str(&format!("error: {m}\n"));
            return out.exit(Exit::Failure);
        }
    };
    if url.is_none() && args.policies.is_empty() {
        out.stderr.push_str(
            "error: nothing to serve: give --policies, or a bundle (--bundle, --bundle-url-file or MSPL_BUNDLE_URL)\n",
        );
        return out.exit(Exit::Failure);
    }
    let entities = match crate::entity_source::resolve(
        args.entities.as_deref(),
        args.entities_url_file.as_deref(),
    ) {
        Ok(e) => e,
        Err(m) => {
            out.stderr.push_str(&format!("error: {m}\n"));
            return out.exit(Exit::Failure);
        }
    };
    let database = entities
        .as_deref()
        .filter(|p| crate::entity_source::is_database(p));
    if database.is_some() && (args.entity_changes.is_some() || url.is_some()) {
        out.stderr.push_str(
            "error: entities from a database follow its change table: --entity-changes and a bundle do not apply\n",
        );
        return out.exit(Exit::Failure);
    }
    let entity_database = match database
        .map(|url| database_following(url, args))
        .transpose()
    {
        Ok(d) => d,
        Err(m) => {
            out.stderr.push_str(&format!("error: {m}\n"));
            return out.exit(Exit::Failure);
        }
    };
    let mapping = match &args.mapping {
        None => None,
        Some(path) => match crate::files::read::read_text(
            path,
            args.snapshot.limits.limits().max_data_file_bytes,
            crate::files::read::TextKind::Data,
        )
        .map_err(|e| e.message)
        .and_then(|text| {
            crate::sql_filter::mapping::Mapping::read(&path.display().to_string(), &text)
        }) {
            Ok(m) => Some(std::sync::Arc::new(m)),
            Err(m) => {
                out.stderr.push_str(&format!("error: {m}\n"));
                return out.exit(Exit::Failure);
            }
        },
    };
    if args.max_staleness_ms.is_some() && database.is_none() {
        out.stderr.push_str(
            "error: --max-staleness-ms applies to entities read from a database (--entities postgres://…)\n",
        );
        return out.exit(Exit::Failure);
    }
    if args.entity_changes.is_some() && (url.is_some() || entities.is_none()) {
        out.stderr.push_str(
            "error: --entity-changes applies to a base entity file: give --entities FILE (a bundle takes no change log)\n",
        );
        return out.exit(Exit::Failure);
    }
    let source = match url {
        Some(url) => {
            if !(args.bundle_interval.is_finite() && args.bundle_interval > 0.0) {
                out.stderr
                    .push_str("error: --bundle-interval must be a positive number of seconds\n");
                return out.exit(Exit::Failure);
            }
            let trust = match bundle_trust(args, &url) {
                Ok(t) => t,
                Err(m) => {
                    out.stderr.push_str(&format!("error: {m}\n"));
                    return out.exit(Exit::Failure);
                }
            };
            Source::Bundle {
                url,
                interval: Duration::from_secs_f64(args.bundle_interval),
                trust: std::sync::Arc::new(trust),
            }
        }
        None if !args.verification_key.is_empty()
            || args.bundle_state.is_some()
            || args.bundle_max_age.is_some() =>
        {
            out.stderr.push_str("error: --verification-key, --bundle-state and --bundle-max-age are for a bundle: give --bundle URL\n");
            return out.exit(Exit::Failure);
        }
        None => Source::Files(Inputs {
            policies: args.policies.clone(),
            schemas: args.schema.clone(),
            links: args.inputs.template_linked.clone(),
            entities: if database.is_some() {
                None
            } else {
                entities.clone()
            },
            policy_format: args.inputs.policy_source(),
            schema_format: args.inputs.schema_source(),
        }),
    };
    let decision_threads = args
        .decision_threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);
    let config = Config {
        source,
        tls: match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => Some(serve::tls::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: args.tls_client_ca.clone(),
                client_auth: match args.tls_client_auth {
                    ClientAuthArg::Optional => serve::tls::ClientAuth::Optional,
                    ClientAuthArg::Required => serve::tls::ClientAuth::Required,
                },
            }),
            _ => None,
        },
        build: build(&args.inputs, &args.snapshot),
        addr: args.addr,
        public_url: args.public_url.clone(),
        max_batch: args.max_batch,
        max_body_bytes: args.max_body_bytes,
        request_timeout: Duration::from_millis(args.request_timeout_ms.max(1)),
        decision_threads,
        max_queued: args.max_queued.max(1).saturating_mul(decision_threads),
        bounds: serve::transport::Bounds {
            max_connections: args
                .max_connections
                .unwrap_or_else(serve::transport::default_max_connections)
                .max(1),
            header_timeout: Duration::from_millis(args.header_timeout_ms.max(1)),
            drain_timeout: Duration::from_millis(args.drain_timeout_ms),
        },
        tokens,
        authzen_reasons: args.authzen_reasons,
        mapping,
        decision_log: args.decision_log.clone(),
        watch: match args.watch {
            WatchArg::Auto => Watch::Auto,
            WatchArg::Poll => Watch::Poll,
            WatchArg::Off => Watch::Off,
        },
        poll_interval: Duration::from_millis(args.poll_interval_ms.max(10)),
        debounce: Duration::from_millis(args.debounce_ms),
        entity_changes: args.entity_changes.clone(),
        consistency_wait: Duration::from_millis(args.consistency_wait_ms),
        #[cfg(feature = "postgres")]
        entity_database,
    };
    #[cfg(not(feature = "postgres"))]
    let _ = entity_database;
    // What was said so far is said now: the server runs until it is stopped.
    eprint!("{}", std::mem::take(&mut out.stderr));
    out.exit(serve::run(config))
}

/// How the server follows the database `url` names.
#[cfg(feature = "postgres")]
fn database_following(
    url: &std::path::Path,
    args: &ServeArgs,
) -> Result<serve::database::Following, String> {
    let (target, _) =
        crate::db::Target::parse(&url.to_string_lossy(), &|k| std::env::var(k).ok(), false)?;
    Ok(serve::database::Following {
        target,
        poll: Duration::from_millis(args.entities_poll_ms.max(10)),
        listen: !args.entities_poll_only,
        max_staleness: args.max_staleness_ms.map(Duration::from_millis),
    })
}

/// Without the `postgres` feature, a database is refused.
#[cfg(not(feature = "postgres"))]
fn database_following(_: &std::path::Path, _: &ServeArgs) -> Result<(), String> {
    Err("this mspl was built without the `postgres` feature: it reads entity files only".into())
}

/// Arguments of `mspl bundle`.
#[derive(clap::Args, Debug)]
pub struct BundleArgs {
    /// The folder: `policies/`, and optionally `schema/`, `entities.json`, `links.json`.
    pub dir: PathBuf,
    /// The bundle to write (`.tar.gz`), replaced atomically.
    #[arg(short = 'o', long)]
    pub out: PathBuf,
    /// The release's sequence number, in the manifest: a server refuses a
    /// bundle whose sequence is not above the highest it loaded.
    #[arg(long, value_name = "N")]
    pub sequence: Option<u64>,
    /// Sign the manifest with this Ed25519 private key (PEM, PKCS#8), as a
    /// JWS in `.signatures.json`; needs --sequence.
    #[arg(long, value_name = "FILE")]
    pub signing_key: Option<PathBuf>,
    /// The key's name (`kid`) in the signature [default: its fingerprint].
    #[arg(long, value_name = "KID", requires = "signing_key")]
    pub key_id: Option<String>,
    /// How the bundle is checked (as the server will build it).
    #[command(flatten)]
    pub snapshot: SnapshotArgs,
}

/// Runs `mspl bundle`: 0 written (its revision on stdout), 1 bad input.
pub fn run_bundle(args: &BundleArgs) -> Outcome {
    let mut out = Outcome::default();
    let inputs = super::policy_args::PolicyInputs::default();
    let build = build(&inputs, &args.snapshot);
    let signer = match &args.signing_key {
        Some(path) => {
            if args.sequence.is_none() {
                out.stderr.push_str("error: a signed bundle needs --sequence N (a server refuses one whose sequence is not above the highest it loaded)\n");
                return out.exit(Exit::Failure);
            }
            match read_key(path, "signing key").and_then(|text| {
                serve::signing::SigningKey::from_pem(
                    &text,
                    args.key_id.clone(),
                    &path.display().to_string(),
                )
            }) {
                Ok(key) => Some(key),
                Err(m) => {
                    out.stderr.push_str(&format!("error: {m}\n"));
                    return out.exit(Exit::Failure);
                }
            }
        }
        None => None,
    };
    let seal = serve::bundle::Seal {
        sequence: args.sequence,
        signer: signer.as_ref(),
    };
    match serve::bundle::make(&args.dir, &build, &seal) {
        Ok((bytes, revision)) => match crate::files::write_bytes(&args.out, &bytes) {
            Ok(()) => {
                out.stdout.push_str(&format!("{revision}\n"));
                out.stderr.push_str(&format!(
                    "wrote {} ({} bytes, revision {revision})\n",
                    args.out.display(),
                    bytes.len()
                ));
                out.exit(Exit::Success)
            }
            Err(e) => {
                out.stderr.push_str(&format!(
                    "error: cannot write {}: {}\n",
                    args.out.display(),
                    crate::files::read::io_message(&e)
                ));
                out.exit(Exit::Failure)
            }
        },
        Err(e) => {
            out.stderr.push_str(&e.rendered);
            out.stderr.push_str("error: nothing written\n");
            out.exit(Exit::Failure)
        }
    }
}
