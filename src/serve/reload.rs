//! Hot reload: what notices a change, and the one reloader that acts on it.
//!
//! Triggers (inotify events, debounced; a metadata poll for file systems
//! whose events do not arrive; `SIGHUP`; `POST /v1/reload`; the bundle
//! poll) all go to one task, so reloads never overlap. A reload reads and
//! hashes the inputs off the request path (a blocking thread); the same
//! revision as the serving one changes nothing; a new one is built and
//! swapped in at once, and a snapshot that does not load is refused while
//! the old one keeps serving, with the reason in `/v1/status`, the
//! metrics and the server's log.

use super::metrics::ReloadResult;
use super::snapshot::{self, Build, Inputs};
use super::{bundle, note, Config, ReloadStatus, Server, Source, Watch};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Why the reloader should look at the inputs.
pub enum Trigger {
    /// A change event (debounced).
    Changed,
    /// A poll found a change, or it is time to ask for the bundle.
    Poll,
    /// `SIGHUP`.
    Signal,
    /// `POST /v1/reload`, waiting for the outcome.
    Asked(oneshot::Sender<Outcome>),
}

/// How a reload ended.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// This revision now serves.
    Loaded(String),
    /// The inputs still have this revision.
    Unchanged(String),
    /// Refused, for this reason; the old snapshot serves on.
    Failed(String),
}

/// The reloader: the inputs, how to build them, the bundle's ETag.
pub struct Reloader {
    server: Arc<Server>,
    build: Build,
    debounce: Duration,
    etag: Mutex<Option<String>>,
    /// The last refused revision and why, so that it is reported once.
    refused: Mutex<Option<(String, String)>>,
    /// Kept alive for as long as the reloader runs.
    watcher: Mutex<Option<notify::RecommendedWatcher>>,
}

impl Reloader {
    /// A reloader for `server` as `config` says.
    pub fn new(server: Arc<Server>, config: &Config) -> Arc<Reloader> {
        Arc::new(Reloader {
            server,
            build: config.build.clone(),
            debounce: config.debounce,
            etag: Mutex::new(None),
            refused: Mutex::new(None),
            watcher: Mutex::new(None),
        })
    }

    /// The load at start: `Err(Exit::Failure)` (the diagnostics printed) when the
    /// files, or a fetched bundle, do not load. An unreachable bundle
    /// server is not an error: the server starts unready and keeps asking.
    pub async fn first_load(&self) -> Result<(), crate::exit::Exit> {
        let started = Instant::now();
        match self.attempt().await {
            Attempt::Loaded(revision) => {
                self.finish("start", Outcome::Loaded(revision), started);
                Ok(())
            }
            Attempt::Unchanged(revision) => {
                self.finish("start", Outcome::Unchanged(revision), started);
                Ok(())
            }
            Attempt::Unreachable(message) => {
                let what = if self.server.reads_database() {
                    "the entities' database"
                } else {
                    "the bundle"
                };
                note(&format!(
                    "{what} is not reachable yet ({message}); not ready until it loads"
                ));
                self.record_failure(&message);
                Ok(())
            }
            Attempt::Refused(e) => {
                eprint!("{}", e.rendered);
                eprintln!("error: the inputs did not load; nothing is served");
                Err(crate::exit::Exit::Failure)
            }
            Attempt::StillRefused(message) => {
                eprintln!("error: {message}");
                Err(crate::exit::Exit::Failure)
            }
        }
    }

    /// Starts the reloader and what feeds it: its tasks, to abort at
    /// shutdown.
    pub fn start(
        self: &Arc<Self>,
        receiver: mpsc::Receiver<Trigger>,
        config: &Config,
    ) -> Vec<JoinHandle<()>> {
        let mut tasks = vec![tokio::spawn(self.clone().reload_loop(receiver))];
        let sender = self.server.reloads.clone();
        tasks.push(tokio::spawn(on_sighup(sender.clone())));
        if let Some(changes) = &self.server.changes {
            tasks.extend(tail_log(self.server.clone(), changes.path(), config));
        }
        #[cfg(feature = "postgres")]
        if let Some(db) = &self.server.database {
            if let Err(e) = db.spawn(self.server.clone()) {
                note(&format!("cannot start the database follower: {e}"));
            }
        }
        match &config.source {
            Source::Files(inputs) => {
                // With a change log, the base entity file is not reloaded
                // when it changes: `POST /v1/reload` takes a new base.
                let mut inputs = inputs.clone();
                if self.server.changes.is_some() {
                    inputs.entities = None;
                }
                let inputs = &inputs;
                if config.watch == Watch::Auto {
                    match watch_files(inputs, sender.clone()) {
                        Ok(w) => {
                            if let Ok(mut slot) = self.watcher.lock() {
                                *slot = Some(w);
                            }
                        }
                        Err(e) => note(&format!(
                            "file events are not available ({e}); polling every {} ms",
                            config.poll_interval.as_millis()
                        )),
                    }
                }
                if config.watch != Watch::Off {
                    tasks.push(tokio::spawn(poll_files(
                        inputs.clone(),
                        config.poll_interval,
                        sender,
                    )));
                }
            }
            Source::Bundle { interval, .. } => {
                let interval = *interval;
                tasks.push(tokio::spawn(async move {
                    let mut tick = tokio::time::interval(interval);
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    tick.tick().await;
                    loop {
                        tick.tick().await;
                        let _ = sender.try_send(Trigger::Poll);
                    }
                }));
            }
        }
        tasks
    }

    async fn reload_loop(self: Arc<Self>, mut receiver: mpsc::Receiver<Trigger>) {
        while let Some(first) = receiver.recv().await {
            let mut waiters = Vec::new();
            let mut why = match first {
                Trigger::Changed => "a file changed",
                Trigger::Poll => "poll",
                Trigger::Signal => "SIGHUP",
                Trigger::Asked(w) => {
                    waiters.push(w);
                    "POST /v1/reload"
                }
            };
            if why == "a file changed" {
                // Wait until the events stop (an editor's save is several),
                // at most a few debounce periods.
                let until = Instant::now() + self.debounce * 8;
                loop {
                    let left = until
                        .saturating_duration_since(Instant::now())
                        .min(self.debounce);
                    match tokio::time::timeout(left, receiver.recv()).await {
                        Ok(Some(Trigger::Asked(w))) => waiters.push(w),
                        Ok(Some(_)) if Instant::now() < until => continue,
                        Ok(Some(_)) | Err(_) => break,
                        Ok(None) => return,
                    }
                }
            }
            while let Ok(more) = receiver.try_recv() {
                if let Trigger::Asked(w) = more {
                    waiters.push(w);
                    why = "POST /v1/reload";
                }
            }
            let started = Instant::now();
            let outcome = match self.attempt().await {
                Attempt::Loaded(r) => Outcome::Loaded(r),
                Attempt::Unchanged(r) => Outcome::Unchanged(r),
                Attempt::Unreachable(m) => Outcome::Failed(m),
                Attempt::Refused(e) => {
                    eprint!("{}", e.rendered);
                    Outcome::Failed(e.summary)
                }
                Attempt::StillRefused(message) => {
                    // Reported when it was first refused: counted as
                    // unchanged, but an asking client hears why.
                    self.server.metrics.reload(ReloadResult::Unchanged);
                    for w in waiters {
                        let _ = w.send(Outcome::Failed(message.clone()));
                    }
                    continue;
                }
            };
            self.finish(why, outcome.clone(), started);
            for w in waiters {
                let _ = w.send(outcome.clone());
            }
        }
    }

    /// One look at the inputs: a new snapshot swapped in, or why not.
    /// Inputs with the serving revision change nothing; inputs with the
    /// last refused revision are refused again without being built (and
    /// without another report).
    async fn attempt(&self) -> Attempt {
        let current = self.server.current().map(|s| s.revision.clone());
        let build = self.build.clone();
        let read = match &self.server.source {
            Source::Files(inputs) => {
                let inputs = inputs.clone();
                let build = build.clone();
                tokio::task::spawn_blocking(move || snapshot::read(&inputs, &build)).await
            }
            Source::Bundle { url, trust, .. } => {
                let etag = self.etag.lock().ok().and_then(|e| e.clone());
                let fetched = match bundle::fetch(
                    url,
                    etag.as_deref(),
                    build.options.limits,
                    trust.tls.as_ref(),
                )
                .await
                {
                    Ok(f) => f,
                    Err(message) => return Attempt::Unreachable(message),
                };
                let bundle::Fetched::New { bytes, etag } = fetched else {
                    return Attempt::Unchanged(current.unwrap_or_default());
                };
                // A refused bundle is not fetched again until it changes.
                if let Ok(mut slot) = self.etag.lock() {
                    *slot = etag;
                }
                let limits = build.options.limits;
                let checker = trust.clone();
                let read = tokio::task::spawn_blocking(move || {
                    bundle::read(&bytes, &limits, checker.keys.as_ref())
                })
                .await;
                match read {
                    Ok(Ok(b)) => return self.admit(b, trust, current).await,
                    Ok(Err(e)) => Ok(Err(e)),
                    Err(e) => Err(e),
                }
            }
        };
        self.install(read, current).await
    }

    /// A bundle read and checked: refused when its sequence is not above
    /// the highest loaded; its content already serving changes nothing
    /// (but its sequence is recorded); else built and installed.
    async fn admit(
        &self,
        bundle: bundle::Bundle,
        trust: &std::sync::Arc<super::bundle_trust::BundleTrust>,
        current: Option<String>,
    ) -> Attempt {
        let (sequence, revision) = (bundle.sequence, bundle.revision.clone());
        if current.as_deref() == Some(revision.as_str()) {
            self.record_sequence(trust, sequence, &revision);
            return Attempt::Unchanged(revision);
        }
        if let Err(why) = trust.admit(sequence, &revision) {
            return Attempt::Refused(snapshot::LoadError::message(format!("bundle: {why}")));
        }
        let attempt = self
            .install(Ok(Ok((bundle.files, revision.clone()))), current)
            .await;
        if matches!(attempt, Attempt::Loaded(_)) {
            self.record_sequence(trust, sequence, &revision);
        }
        attempt
    }

    /// Records the sequence now serving; a state file that cannot be
    /// written is reported (and shown in status) but stops nothing.
    fn record_sequence(
        &self,
        trust: &super::bundle_trust::BundleTrust,
        sequence: Option<u64>,
        revision: &str,
    ) {
        if let Err(message) = trust.loaded(sequence, revision) {
            note(&format!("error: {message}"));
            self.record_failure(&message);
        }
    }

    /// Files read (or why not): refused, unchanged, or built and swapped
    /// in.
    async fn install(
        &self,
        read: Result<
            Result<(Vec<snapshot::SourceFile>, String), snapshot::LoadError>,
            tokio::task::JoinError,
        >,
        current: Option<String>,
    ) -> Attempt {
        let build = self.build.clone();
        let (files, revision) = match read {
            Ok(Ok(read)) => read,
            Ok(Err(e)) => return Attempt::Refused(e),
            Err(_) => {
                return Attempt::Refused(snapshot::LoadError::message(
                    "the read stopped unexpectedly",
                ))
            }
        };
        if current.as_deref() == Some(revision.as_str()) {
            return Attempt::Unchanged(revision);
        }
        let refused = self.refused.lock().ok().and_then(|r| r.clone());
        if let Some((bad, summary)) = refused {
            if bad == revision {
                return Attempt::StillRefused(summary);
            }
        }
        let built = {
            let revision = revision.clone();
            tokio::task::spawn_blocking(move || build.snapshot(files, revision)).await
        };
        match built {
            Ok(Ok(mut next)) => {
                match &self.server.changes {
                    // The base, then the change log applied from its start.
                    Some(changes) => {
                        let changes = changes.clone();
                        let server = self.server.clone();
                        let base_file = match &self.server.source {
                            Source::Files(inputs) => inputs.entities.clone(),
                            Source::Bundle { .. } => None,
                        };
                        let started = tokio::task::spawn_blocking(move || {
                            changes.start(&server, next, base_file.as_deref())
                        })
                        .await;
                        match started {
                            Ok(Ok(())) => {}
                            Ok(Err(message)) => {
                                return Attempt::Refused(snapshot::LoadError::message(&message))
                            }
                            Err(_) => {
                                return Attempt::Refused(snapshot::LoadError::message(
                                    "the change log stopped unexpectedly",
                                ))
                            }
                        }
                    }
                    #[cfg(feature = "postgres")]
                    None if self.server.database.is_some() => {
                        if let Some(refused) = self.read_database(next).await {
                            return refused;
                        }
                    }
                    None => {
                        let loads = &self.server.loads;
                        next.entity_revision =
                            loads.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                        self.server.install(next);
                    }
                }
                if let Ok(mut r) = self.refused.lock() {
                    *r = None;
                }
                Attempt::Loaded(revision)
            }
            Ok(Err(e)) => {
                if let Ok(mut r) = self.refused.lock() {
                    *r = Some((revision, e.summary.clone()));
                }
                Attempt::Refused(e)
            }
            Err(_) => Attempt::Refused(snapshot::LoadError::message(
                "the load stopped unexpectedly",
            )),
        }
    }

    /// The store read from the database into the new policies `next` and
    /// installed; the attempt's end when it cannot be. A database out of
    /// reach is no refusal at start: the server is unready until the
    /// follower reads the store.
    #[cfg(feature = "postgres")]
    async fn read_database(&self, next: snapshot::Snapshot) -> Option<Attempt> {
        use super::database::StartError;
        let db = self.server.database.clone()?;
        let server = self.server.clone();
        let read = tokio::task::spawn_blocking(move || db.start(&server, next)).await;
        match read {
            Ok(Ok(())) => None,
            Ok(Err(StartError::Refused(message))) => {
                Some(Attempt::Refused(snapshot::LoadError::message(message)))
            }
            Ok(Err(StartError::Unreachable(message))) if self.server.current().is_none() => {
                Some(Attempt::Unreachable(message))
            }
            Ok(Err(StartError::Unreachable(message))) => {
                Some(Attempt::Refused(snapshot::LoadError::message(format!(
                    "{message}; the new policies are used once the entities can be read"
                ))))
            }
            Err(_) => Some(Attempt::Refused(snapshot::LoadError::message(
                "the read stopped unexpectedly",
            ))),
        }
    }

    /// Counts and reports how a reload ended.
    fn finish(&self, why: &str, outcome: Outcome, started: Instant) {
        let took = started.elapsed().as_millis();
        let result = match &outcome {
            Outcome::Loaded(revision) => {
                let files = self.server.current().map_or(0, |s| s.files);
                note(&format!(
                    "{why}: loaded revision {revision} ({files} file(s)) in {took} ms"
                ));
                ReloadResult::Loaded
            }
            Outcome::Unchanged(_) => ReloadResult::Unchanged,
            Outcome::Failed(message) => {
                let serving = self.server.current().map_or_else(
                    || "nothing".to_string(),
                    |s| format!("revision {}", s.revision),
                );
                note(&format!(
                    "{why}: refused the new inputs ({message}); still serving {serving}"
                ));
                self.record_failure(message);
                ReloadResult::Failed
            }
        };
        self.server.metrics.reload(result);
        if let Ok(mut status) = self.server.status.lock() {
            status.last = Some((SystemTime::now(), result));
            if result == ReloadResult::Loaded {
                status.error = None;
            }
        }
    }

    fn record_failure(&self, message: &str) {
        if let Ok(mut status) = self.server.status.lock() {
            status.error = Some((SystemTime::now(), message.to_string()));
        }
    }
}

/// What one look at the inputs found.
enum Attempt {
    Loaded(String),
    Unchanged(String),
    /// The bundle server did not answer (or not with a bundle).
    Unreachable(String),
    Refused(snapshot::LoadError),
    /// The inputs are the ones refused last, for this reason.
    StillRefused(String),
}

async fn on_sighup(sender: mpsc::Sender<Trigger>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        return;
    };
    while hup.recv().await.is_some() {
        let _ = sender.send(Trigger::Signal).await;
    }
}

/// Watches the inputs' roots with inotify: a directory recursively, a
/// file through its folder (so that an editor's replace-by-rename is
/// seen). Only events on inputs count: a policy file below a watched
/// directory, or a file given by name (not, say, the decision log written
/// beside the entity file); reads (access events) are no change, or a
/// reload's own reading would trigger the next.
fn watch_files(
    inputs: &Inputs,
    sender: mpsc::Sender<Trigger>,
) -> notify::Result<notify::RecommendedWatcher> {
    use notify::{EventKind, RecursiveMode, Watcher};
    let roots = inputs.roots();
    let dirs: Vec<PathBuf> = roots
        .iter()
        .filter(|r| r.is_dir())
        .map(|r| plain(r))
        .collect();
    let files: Vec<PathBuf> = roots
        .iter()
        .filter(|r| !r.is_dir())
        .map(|r| plain(r))
        .collect();
    let is_input = move |path: &Path| {
        let path = plain(path);
        files.contains(&path)
            || (dirs.iter().any(|d| path.starts_with(d))
                && crate::files::walk::has_extension(&path, crate::files::walk::POLICY_EXTENSIONS))
    };
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let relevant = match &event {
            Ok(e) => {
                !matches!(e.kind, EventKind::Access(_))
                    && (e.paths.is_empty() || e.paths.iter().any(|p| is_input(p)))
            }
            Err(_) => true,
        };
        if relevant {
            let _ = sender.try_send(Trigger::Changed);
        }
    })?;
    for root in &roots {
        if root.is_dir() {
            watcher.watch(root, RecursiveMode::Recursive)?;
        } else {
            let folder = match root.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            watcher.watch(&folder, RecursiveMode::NonRecursive)?;
        }
    }
    Ok(watcher)
}

/// `path` without `.` components, so that `./a` and `a` compare equal.
fn plain(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}

/// The change log's tailer: file events on the log (each applied at once,
/// no debounce: a change is in effect as soon as its line is whole) and the
/// poll every `--poll-interval-ms`, for file systems without events; also
/// how a stopped log notices its line mended.
fn tail_log(server: Arc<Server>, path: &Path, config: &Config) -> Vec<JoinHandle<()>> {
    use notify::{RecursiveMode, Watcher};
    let (tell, mut told) = mpsc::channel::<()>(1);
    let watcher = if config.watch == Watch::Auto {
        let tell = tell.clone();
        let watched = notify::recommended_watcher(move |_: notify::Result<notify::Event>| {
            let _ = tell.try_send(());
        })
        .and_then(|mut w| {
            // The folder: the log may be replaced (compacted) by a rename.
            let folder = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            w.watch(folder, RecursiveMode::NonRecursive).map(|()| w)
        });
        match watched {
            Ok(w) => Some(w),
            Err(e) => {
                note(&format!(
                    "change log events are not available ({e}); polling"
                ));
                None
            }
        }
    } else {
        None
    };
    let interval = config.poll_interval;
    let poll = tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let _ = tell.try_send(());
        }
    });
    let apply = tokio::spawn(async move {
        // Kept alive for as long as the tailer runs.
        let _watcher = watcher;
        while told.recv().await.is_some() {
            let server = server.clone();
            let _ = tokio::task::spawn_blocking(move || {
                if let Some(changes) = &server.changes {
                    changes.catch_up(&server);
                }
            })
            .await;
        }
    });
    vec![poll, apply]
}

/// The metadata poll: every `interval`, the inputs' paths, sizes, inodes
/// and modification times; a difference triggers a reload (which then
/// compares contents).
async fn poll_files(inputs: Inputs, interval: Duration, sender: mpsc::Sender<Trigger>) {
    let look = Arc::new(move || fingerprint(&inputs));
    // None at first, so the first look triggers a check: a change between
    // the first load and this task's start is not missed.
    let mut last = None;
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let look = look.clone();
        let now = tokio::task::spawn_blocking(move || look()).await.ok();
        if now.is_some() && now != last {
            last = now;
            let _ = sender.try_send(Trigger::Poll);
        }
    }
}

/// The inputs' metadata in one value: equal while no file changed.
fn fingerprint(inputs: &Inputs) -> Vec<(std::path::PathBuf, u64, u64, i64, i64)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    for root in inputs.roots() {
        let mut found = crate::files::Collected::new();
        if crate::files::collect_files(&root, &mut found).is_err() {
            out.push((root.clone(), u64::MAX, 0, 0, 0));
            continue;
        }
        for file in found.files {
            let entry = match crate::files::meta::metadata(&file) {
                Ok(m) => (file, m.len(), m.ino(), m.mtime(), m.mtime_nsec()),
                Err(_) => (file, u64::MAX, 0, 0, 0),
            };
            out.push(entry);
        }
    }
    out
}

/// `GET /v1/status`.
pub fn status_json(server: &Server) -> String {
    use super::log::rfc3339;
    use serde_json::json;
    let snapshot = server.current();
    let status: ReloadStatus = server.status.lock().map(|s| s.clone()).unwrap_or_default();
    let source = match &server.source {
        Source::Files(inputs) => {
            json!({"files": inputs.roots().iter().map(|p| p.display().to_string()).collect::<Vec<_>>()})
        }
        Source::Bundle {
            url,
            interval,
            trust,
        } => {
            json!({"bundle": bundle::redact_url(url), "interval_ms": u64::try_from(interval.as_millis()).unwrap_or(u64::MAX), "trust": trust.status()})
        }
    };
    let counts = snapshot.as_ref().map(|s| {
        json!({
            "entities": s.entities.len(),
            "files": s.files,
            "policies": s.set().policies.len(),
            "rules": s.set().rules.len(),
            "templates": s.set().templates.len(),
        })
    });
    let metrics = &server.metrics;
    let changes = server.changes.as_ref().map(|c| {
        let s = c.status();
        json!({
            "log": s.path,
            "applied": s.applied,
            "failed_preconditions": s.failed,
            "lines": s.lines,
            "stopped": s.stopped.map(|(line, reason)| json!({"line": line, "reason": reason})),
            "pending_bytes": s.pending_bytes,
            "writes_refused": s.damaged,
        })
    });
    #[cfg(feature = "postgres")]
    let database = server.database.as_ref().map(|db| {
        let s = db.status();
        json!({
            "url": s.url,
            "connected": s.connected,
            "listening": s.listening,
            "applied": s.applied,
            "full_reads": s.full_reads,
            "stopped": s.stopped.map(|(entity, reason)| json!({"entity": entity, "reason": reason})),
            "trouble": s.trouble,
            "staleness_ms": s.staleness.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        })
    });
    #[cfg(not(feature = "postgres"))]
    let database: Option<serde_json::Value> = None;
    let value = json!({
        "entity_changes": changes,
        "entity_database": database,
        "entity_revision": snapshot.as_ref().map(|s| s.entity_token()),
        "counts": counts,
        "last_error": status.error.map(|(at, message)| json!({"message": message, "time": rfc3339(at)})),
        "last_reload": status.last.map(|(at, result)| json!({"result": result.name(), "time": rfc3339(at)})),
        "loaded_at": snapshot.as_ref().map(|s| rfc3339(s.loaded_at)),
        "ready": snapshot.is_some(),
        "reloads": {
            "failed": metrics.reloads(ReloadResult::Failed),
            "loaded": metrics.reloads(ReloadResult::Loaded),
            "unchanged": metrics.reloads(ReloadResult::Unchanged),
        },
        "revision": snapshot.as_ref().map(|s| s.revision.clone()),
        "source": source,
    });
    crate::syntax::schema_json::sorted(value).to_string()
}
