//! `mspl serve`: a decision server over HTTP whose inputs change without a
//! restart.
//!
//! - [`snapshot`]: the inputs read once, hashed into a revision and built
//!   into a [`Snapshot`] (policy set, index, store, options).
//! - [`decide`]: mspl's endpoints (`/v1/is_authorized`, batches, explain)
//!   and the one place a decision is made, counted and logged; [`fast`]
//!   reads the common request shape without a JSON tree.
//! - [`authzen`]: the AuthZEN Authorization API 1.0 on the same decisions,
//!   its searches answered by the audit engine.
//! - [`http`]: the routes, bounded body reading, errors as JSON.
//! - [`reload`]: inotify (debounced), a metadata poll, `SIGHUP`, `POST
//!   /v1/reload` and bundle polling, all feeding one reloader that builds
//!   the next snapshot off the request path and swaps it in at once.
//! - [`bundle`]: `.tar.gz` bundles (`mspl bundle`, `--bundle URL`).
//! - [`log`], [`metrics`]: the decision log and Prometheus counters.
//!
//! The serving snapshot sits behind an atomic pointer (`arc-swap`): a
//! request takes the pointer once and decides on that snapshot to the
//! end, whatever is swapped in meanwhile; a snapshot that fails to load
//! never replaces the one serving.

// Every index is checked: a server never panics on what a client sends
// (ARCHITECTURE.md, "Lints").
#![deny(clippy::indexing_slicing)]

pub mod auth;
pub mod authzen;
pub mod bundle;
pub mod bundle_trust;
pub mod changes;
#[cfg(feature = "postgres")]
pub mod database;
pub mod decide;
pub mod http;
pub mod log;
pub mod metrics;
pub mod plan;
pub mod pool;
pub mod reload;
pub mod signing;
pub mod snapshot;
pub mod tls;
pub mod transport;

use crate::exit::Exit;
use crate::limits::Limits;
use arc_swap::ArcSwapOption;
use metrics::{Metrics, ReloadResult};
pub use snapshot::{Build, Inputs, Snapshot};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// Where the inputs come from.
#[derive(Clone, Debug)]
pub enum Source {
    /// Files and directories on this machine, watched for changes.
    Files(Inputs),
    /// A bundle polled over HTTP.
    Bundle {
        /// Its URL (`http://…`).
        url: String,
        /// How often to ask for it.
        interval: Duration,
        /// Whose signatures, which sequence, how old.
        trust: Arc<bundle_trust::BundleTrust>,
    },
}

/// How changes to files are noticed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Watch {
    /// inotify events, and a metadata poll for file systems without them.
    Auto,
    /// Only the metadata poll.
    Poll,
    /// Only `SIGHUP` and `POST /v1/reload`.
    Off,
}

/// Everything `mspl serve` was told.
#[derive(Clone, Debug)]
pub struct Config {
    /// The inputs.
    pub source: Source,
    /// TLS: the certificate, key and client CA (none: plain HTTP).
    pub tls: Option<tls::TlsFiles>,
    /// How snapshots are built.
    pub build: Build,
    /// The address to listen on.
    pub addr: SocketAddr,
    /// The base of the URLs the AuthZEN metadata lists (none: the listen
    /// address).
    pub public_url: Option<String>,
    /// The most requests in one batch.
    pub max_batch: usize,
    /// The largest request body.
    pub max_body_bytes: usize,
    /// How long one request may take: its body, its wait for a decision
    /// thread and its work (the evaluator looks at the deadline).
    pub request_timeout: Duration,
    /// Threads that decide (`--decision-threads`).
    pub decision_threads: usize,
    /// Requests that may wait for a decision thread (`--max-queued`); past
    /// it, a 429.
    pub max_queued: usize,
    /// Connections, heads and the drain.
    pub bounds: transport::Bounds,
    /// The bearer tokens: the admin's (none: no reload or write
    /// endpoint) and the clients' (none: the decision endpoints are open).
    pub tokens: auth::Tokens,
    /// Whether the items of AuthZEN `evaluations` carry their reasons (as
    /// `options.include_reasons` asks for one call).
    pub authzen_reasons: bool,
    /// The mapping `POST /v1/plan` writes SQL over (none: no SQL).
    pub mapping: Option<std::sync::Arc<crate::sql_filter::mapping::Mapping>>,
    /// The decision log: a file, `-` for standard output, none.
    pub decision_log: Option<std::path::PathBuf>,
    /// How file changes are noticed.
    pub watch: Watch,
    /// How often the metadata poll looks.
    pub poll_interval: Duration,
    /// How long after the last change event a reload waits.
    pub debounce: Duration,
    /// The change log of the entities (`--entity-changes`), if any.
    pub entity_changes: Option<std::path::PathBuf>,
    /// How long a request asking for a revision not yet here waits for it
    /// (`--consistency-wait-ms`).
    pub consistency_wait: Duration,
    /// The entities' database and how to follow it, if they come from one.
    #[cfg(feature = "postgres")]
    pub entity_database: Option<database::Following>,
}

/// An error answer: a status and `{"error": {"message", …}}`.
#[derive(Clone, Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// What is wrong.
    pub message: String,
    /// Where in the body, when known: line and column.
    pub at: Option<(usize, usize)>,
}

impl ApiError {
    /// A 400.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: 400,
            message: message.into(),
            at: None,
        }
    }

    /// A 413.
    pub fn too_large(message: impl Into<String>) -> ApiError {
        ApiError {
            status: 413,
            message: message.into(),
            at: None,
        }
    }

    /// Any status.
    pub fn new(status: u16, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            at: None,
        }
    }

    /// The same error located at `line`, `column` of the body.
    pub fn at(mut self, line: usize, column: usize) -> ApiError {
        self.at = Some((line, column));
        self
    }

    /// The body: `{"error": {"message", "status", "line"?, "column"?}}`.
    pub fn body(&self) -> String {
        #[derive(serde::Serialize)]
        struct Inner<'a> {
            message: &'a str,
            status: u16,
            #[serde(skip_serializing_if = "Option::is_none")]
            line: Option<usize>,
            #[serde(skip_serializing_if = "Option::is_none")]
            column: Option<usize>,
        }
        #[derive(serde::Serialize)]
        struct Outer<'a> {
            error: Inner<'a>,
        }
        let body = Outer {
            error: Inner {
                message: &self.message,
                status: self.status,
                line: self.at.map(|a| a.0),
                column: self.at.map(|a| a.1),
            },
        };
        serde_json::to_string(&body).unwrap_or_default()
    }
}

/// Unique decision and batch ids: a random prefix per process and a count.
#[derive(Debug)]
pub struct IdGen {
    prefix: String,
    next: AtomicU64,
}

impl IdGen {
    /// A generator with a fresh random prefix.
    pub fn new() -> IdGen {
        let random = crate::files::meta::random_bytes::<8>();
        let mut seed = random.as_ref().copied().unwrap_or_default();
        if random.is_err() {
            #[expect(
                clippy::cast_possible_truncation,
                reason = "the time's low bits are a seed"
            )]
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos() as u64;
            seed = (now ^ u64::from(std::process::id()).rotate_left(32)).to_le_bytes();
        }
        IdGen {
            prefix: snapshot::hex(&seed),
            next: AtomicU64::new(0),
        }
    }

    /// The next id.
    pub fn next(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!("{}-{n:012x}", self.prefix)
    }
}

impl Default for IdGen {
    fn default() -> IdGen {
        IdGen::new()
    }
}

/// The last reload's end, for `/v1/status`.
#[derive(Clone, Debug, Default)]
pub struct ReloadStatus {
    /// When the last reload ended and how.
    pub last: Option<(SystemTime, ReloadResult)>,
    /// The last refusal, until a later snapshot loads: when and why.
    pub error: Option<(SystemTime, String)>,
}

/// The running server's state, shared by every request.
pub struct Server {
    snapshot: ArcSwapOption<Snapshot>,
    /// The counters.
    pub metrics: Metrics,
    /// The AuthZEN searches' kept answers and domains.
    pub search_cache: authzen::SearchCache,
    /// The decision log.
    pub log: log::DecisionLog,
    /// Decision and batch ids.
    pub ids: IdGen,
    /// The limits of request bodies (JSON nesting, data size).
    pub limits: Limits,
    /// The most requests in a batch.
    pub max_batch: usize,
    /// The largest body.
    pub max_body_bytes: usize,
    /// How long a request may take.
    pub request_timeout: Duration,
    /// The decision threads and their queue.
    pub pool: pool::Pool,
    /// The bearer tokens.
    pub tokens: auth::Tokens,
    /// Whether AuthZEN `evaluations` items carry their reasons by default.
    pub authzen_reasons: bool,
    /// The mapping `POST /v1/plan` writes SQL over.
    pub mapping: Option<std::sync::Arc<crate::sql_filter::mapping::Mapping>>,
    /// The base URL of the AuthZEN metadata.
    pub public_url: String,
    /// What the last reload did.
    pub status: Mutex<ReloadStatus>,
    /// Where reload requests go.
    pub reloads: tokio::sync::mpsc::Sender<reload::Trigger>,
    /// Where the inputs come from (for status).
    pub source: Source,
    /// The change log, with `--entity-changes`.
    pub changes: Option<Arc<changes::ChangeLog>>,
    /// The serving entity position, for requests that wait for one.
    pub revisions: tokio::sync::watch::Sender<crate::consistency::Position>,
    /// Snapshots loaded, the entity revision without a change log.
    pub loads: std::sync::atomic::AtomicU64,
    /// How long a request waits for the revision it asks for.
    pub consistency_wait: Duration,
    /// The follower of the entities' database, if they come from one.
    #[cfg(feature = "postgres")]
    pub database: Option<Arc<database::Follower>>,
}

impl Server {
    /// The serving snapshot, held for as long as the caller keeps it.
    pub fn current(&self) -> Option<Arc<Snapshot>> {
        self.snapshot.load_full()
    }

    /// Whether the entities come from a database (whose tokens are
    /// transaction ids and snapshots).
    pub fn reads_database(&self) -> bool {
        #[cfg(feature = "postgres")]
        return self.database.is_some();
        #[cfg(not(feature = "postgres"))]
        return false;
    }

    /// With a database and `--max-staleness-ms`: how old the entities are
    /// when that is past the bound (or they were never read).
    pub fn too_stale(&self) -> Option<Option<Duration>> {
        #[cfg(feature = "postgres")]
        if let Some(db) = &self.database {
            let max = db.max_staleness()?;
            let age = db.staleness();
            return match age {
                Some(age) if age <= max => None,
                _ => Some(age),
            };
        }
        None
    }

    /// Swaps `next` in: requests from now on decide on it, and requests
    /// waiting for its entity revision go on.
    pub fn install(&self, next: Snapshot) {
        self.metrics.entity_revision(next.entity_revision);
        let position = next.position();
        self.snapshot.store(Some(Arc::new(next)));
        self.revisions.send_replace(position);
    }
}

/// A timestamped line on standard error: the server's own log.
pub fn note(message: &str) {
    eprintln!("{} mspl serve: {message}", log::rfc3339(SystemTime::now()));
}

/// Runs the server until `SIGTERM` or `SIGINT`, then drains: 0 after a
/// clean drain, 1 when the inputs do not load at start or the address
/// cannot be bound.
pub fn run(config: Config) -> Exit {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the server's runtime: {e}");
            return Exit::Failure;
        }
    };
    runtime.block_on(async {
        let listener = match tokio::net::TcpListener::bind(config.addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!(
                    "error: cannot listen on {}: {}",
                    config.addr,
                    crate::files::read::io_message(&e)
                );
                return Exit::Failure;
            }
        };
        serve_on(config, listener, shutdown_signal()).await
    })
}

/// Serves on `listener` until `shutdown` resolves, then drains: the
/// server of [`run`] for callers with their own runtime, listener and
/// stop (benchmarks, embedding). 0 after a clean drain, 1 when the inputs
/// do not load.
pub async fn serve_on(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Exit {
    let (sender, receiver) = tokio::sync::mpsc::channel(64);
    let log = match &config.decision_log {
        None => log::DecisionLog::off(),
        Some(path) if path.as_os_str() == "-" => log::DecisionLog::to(Box::new(std::io::stdout())),
        Some(path) => match crate::files::open_append(path) {
            Ok(f) => log::DecisionLog::to(Box::new(f)),
            Err(e) => {
                eprintln!(
                    "error: cannot open the decision log {}: {}",
                    path.display(),
                    crate::files::read::io_message(&e)
                );
                return Exit::Failure;
            }
        },
    };
    let tls = match config.tls.as_ref().map(tls::acceptor).transpose() {
        Ok(tls) => tls,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Failure;
        }
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let local = listener.local_addr().unwrap_or(config.addr);
    let server = Arc::new(Server {
        snapshot: ArcSwapOption::empty(),
        metrics: Metrics::default(),
        search_cache: authzen::SearchCache::default(),
        log,
        ids: IdGen::new(),
        limits: config.build.options.limits,
        max_batch: config.max_batch,
        max_body_bytes: config.max_body_bytes,
        request_timeout: config.request_timeout,
        pool: pool::Pool::new(config.decision_threads, config.max_queued),
        tokens: config.tokens.clone(),
        authzen_reasons: config.authzen_reasons,
        mapping: config.mapping.clone(),
        public_url: config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("{scheme}://{local}")),
        status: Mutex::new(ReloadStatus::default()),
        reloads: sender,
        source: config.source.clone(),
        changes: config.entity_changes.as_ref().map(|path| {
            Arc::new(changes::ChangeLog::new(
                path,
                config.build.validate,
                config.build.options.cycles(),
                config.build.options.limits,
            ))
        }),
        revisions: tokio::sync::watch::channel(crate::consistency::Position::default()).0,
        loads: std::sync::atomic::AtomicU64::new(0),
        consistency_wait: config.consistency_wait,
        #[cfg(feature = "postgres")]
        database: config.entity_database.clone().map(|following| {
            Arc::new(database::Follower::new(
                following,
                config.build.validate,
                config.build.options.cycles(),
                config.build.options.limits,
            ))
        }),
    });
    let reloader = reload::Reloader::new(server.clone(), &config);
    if let Err(code) = reloader.first_load().await {
        return code;
    }
    let tasks = reloader.start(receiver, &config);
    note(&format!("listening on {scheme}://{local}"));
    let app = http::router(server.clone());
    let cut = transport::serve(listener, app, config.bounds, tls, shutdown).await;
    for task in tasks {
        task.abort();
    }
    #[cfg(feature = "postgres")]
    if let Some(db) = &server.database {
        db.halt();
    }
    server.pool.close();
    server.log.close();
    if cut > 0 {
        note(&format!(
            "the drain took longer than {} ms (--drain-timeout-ms): {cut} connection(s) cut",
            config.bounds.drain_timeout.as_millis()
        ));
    }
    note("drained; stopped");
    Exit::Success
}

/// Resolves at the first `SIGTERM` or `SIGINT`. The handlers are
/// installed when this is called, not when the future is first polled, so
/// a signal that arrives before the server first waits for one still
/// drains rather than kills.
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    async move {
        match (term, int) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => std::future::pending::<()>().await,
        }
        note("shutting down: draining requests in flight");
    }
}
