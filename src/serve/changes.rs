//! The change log (`--entity-changes FILE`): JSON lines, each a transaction
//! on the entity store (`entities::changes`), applied in order after the
//! base entity file, each making a new revision of the store. The log is
//! tailed (file events, and the poll for file systems without them) and
//! written by `POST /v1/entities`, which appends a transaction durably
//! before it is applied and acknowledged.
//!
//! A line that does not parse, or that the store refuses (an undeclared
//! type, an entity that does not fit the declarations under `--validate`,
//! a cycle under `--cedar`), stops application there: the server keeps
//! serving the last good revision, `/v1/status` and the metrics name the
//! line and why, and no later line is applied until that one is mended —
//! skipping could skip a revocation. A transaction whose `if_revision`
//! does not hold fails, and the log goes on.
//!
//! The revision token is the base's revision (the number in
//! `<base>.revision`, which `mspl entities compact` writes) plus the
//! transactions applied since.

use super::snapshot::Snapshot;
use super::{note, ApiError, Server};
use crate::entities::build::Cycles;
use crate::entities::changes::{apply, read_transaction, Transaction};
use crate::entities::json::Origin;
use crate::entities::Entities;
use crate::files::log::{AppendError, HeldLog};
use crate::limits::Limits;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a line without its newline waits before status tells of it.
const PENDING_TOLD_AFTER: Duration = Duration::from_secs(10);

/// The most bytes read from the log in one look.
const READ_AT_ONCE: u64 = 64 << 20;

/// The change log of one server: its path, the writer's lock, and how far
/// it has been applied.
pub struct ChangeLog {
    path: PathBuf,
    state: Mutex<LogState>,
    validate: bool,
    cycles: Cycles,
    limits: Limits,
}

/// Where application stands.
#[derive(Default)]
struct LogState {
    writer: Option<HeldLog>,
    /// Another process holds the log: this server only reads it.
    read_only: bool,
    /// The base store and its revision number.
    base: Option<(Entities, u64)>,
    /// The log's identity when last read, to notice it replaced.
    identity: Option<(u64, u64)>,
    /// Bytes of whole lines read (applied, failed or blank).
    offset: u64,
    /// Lines read.
    lines: u64,
    /// Transactions applied since the base.
    applied: u64,
    /// Transactions whose precondition did not hold.
    failed: u64,
    /// The line application stopped at, and why.
    stopped: Option<(u64, String)>,
    /// Bytes after the last newline, and since when.
    pending: Option<(u64, Instant)>,
    /// A write that could not be taken back out: no more writes.
    damaged: Option<String>,
}

/// What `/v1/status` shows of the log.
pub struct LogStatus {
    /// The log's path.
    pub path: String,
    /// Transactions applied since the base.
    pub applied: u64,
    /// Transactions whose precondition failed.
    pub failed: u64,
    /// Lines read.
    pub lines: u64,
    /// Where application stopped, and why.
    pub stopped: Option<(u64, String)>,
    /// Bytes waiting for their newline for more than 10 s.
    pub pending_bytes: Option<u64>,
    /// Why writes are refused until restart, if they are.
    pub damaged: Option<String>,
}

impl ChangeLog {
    /// The change log at `path`, applied as `validate` and `cycles` say.
    pub fn new(path: &Path, validate: bool, cycles: Cycles, limits: Limits) -> ChangeLog {
        ChangeLog {
            path: path.to_path_buf(),
            state: Mutex::new(LogState::default()),
            validate,
            cycles,
            limits,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes `base` (a snapshot just built from the base files), applies
    /// the log from its start and installs the result on `server` (under
    /// the log's lock, so that no tailer applies a line to the snapshot it
    /// replaces). The writer's lock is taken the first time; another
    /// process holding it is an error (one writer per log).
    pub fn start(
        &self,
        server: &Server,
        base: Snapshot,
        base_file: Option<&Path>,
    ) -> Result<(), String> {
        let mut state = self.lock();
        if state.writer.is_none() && !state.read_only {
            // Another server holding the log makes this one a reader: it
            // tails the log, and its writes answer 503.
            match HeldLog::open(&self.path) {
                Ok(held) => state.writer = Some(held),
                Err(e) => {
                    note(&format!(
                        "the change log {} is not held for writing here ({}): reading it only; POST /v1/entities answers 503",
                        self.path.display(),
                        crate::files::read::io_message(&e)
                    ));
                    state.read_only = true;
                }
            }
        }
        let base_revision = base_file.map_or(Ok(0), crate::entities::changes::base_revision)?;
        let damaged = state.damaged.take();
        *state = LogState {
            writer: state.writer.take(),
            read_only: state.read_only,
            base: Some((base.entities.clone(), base_revision)),
            damaged,
            ..LogState::default()
        };
        let mut snapshot = base;
        snapshot.entity_revision = base_revision;
        let next = self
            .advance(&mut state, snapshot.clone())
            .unwrap_or(snapshot);
        server.install(next);
        Ok(())
    }

    /// Applies what was added to the log since it was last read, on
    /// `server`'s serving snapshot; installs the new revision, if any.
    pub fn catch_up(&self, server: &Server) {
        let mut state = self.lock();
        let Some(current) = server.current() else {
            return;
        };
        if let Some(next) = self.advance(&mut state, Snapshot::clone(&current)) {
            server.install(next);
        }
    }

    /// Reads the log past the offset and applies its whole lines to
    /// `snapshot`: the new snapshot when some transaction applied.
    fn advance(&self, state: &mut LogState, snapshot: Snapshot) -> Option<Snapshot> {
        let read = match crate::files::log::read_from(&self.path, state.offset, READ_AT_ONCE) {
            Ok(read) => read,
            Err(e) => {
                let reason = format!(
                    "cannot read the change log: {}",
                    crate::files::read::io_message(&e)
                );
                if state.stopped.as_ref().map(|s| &s.1) != Some(&reason) {
                    note(&reason);
                }
                state.stopped = Some((state.lines + 1, reason));
                return None;
            }
        };
        // A log replaced (compacted, restarted) or cut shorter: applied
        // again from the base.
        let replaced =
            state.identity.is_some_and(|id| id != read.identity) || read.len < state.offset;
        state.identity = Some(read.identity);
        let mut snapshot = snapshot;
        if replaced {
            let (base, base_revision) = state.base.clone()?;
            note("the change log was replaced or cut: applying it again from the base");
            snapshot.entities = base;
            snapshot.entity_revision = base_revision;
            state.offset = 0;
            state.lines = 0;
            state.applied = 0;
            state.failed = 0;
            state.stopped = None;
            let again = crate::files::log::read_from(&self.path, 0, READ_AT_ONCE).ok()?;
            return self.apply_lines(state, snapshot, &again.bytes, true);
        }
        self.apply_lines(state, snapshot, &read.bytes, false)
    }

    /// Applies the whole lines of `bytes` (read from the offset) to
    /// `snapshot`, stopping at a refused one.
    fn apply_lines(
        &self,
        state: &mut LogState,
        mut snapshot: Snapshot,
        bytes: &[u8],
        changed: bool,
    ) -> Option<Snapshot> {
        let mut changed = changed;
        let mut at = 0usize;
        let was_stopped = state.stopped.take();
        while let Some(end) = bytes
            .get(at..)
            .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
        {
            let line = bytes.get(at..at + end).unwrap_or_default();
            let number = state.lines + 1;
            let text = match std::str::from_utf8(line) {
                Ok(t) => t,
                Err(e) => {
                    self.stop(
                        state,
                        &was_stopped,
                        number,
                        format!("not UTF-8 (at byte {})", e.valid_up_to()),
                    );
                    return changed.then_some(snapshot);
                }
            };
            if !text.trim().is_empty() {
                match self.transaction(text, number, &snapshot) {
                    Ok(tx) => match self.check_and_apply(&tx, &snapshot) {
                        Ok(Some(entities)) => {
                            snapshot.entities = entities;
                            snapshot.entity_revision += 1;
                            state.applied += 1;
                            changed = true;
                        }
                        Ok(None) => state.failed += 1,
                        Err(reason) => {
                            self.stop(state, &was_stopped, number, reason);
                            return changed.then_some(snapshot);
                        }
                    },
                    Err(reason) => {
                        self.stop(state, &was_stopped, number, reason);
                        return changed.then_some(snapshot);
                    }
                }
            }
            state.lines = number;
            state.offset += (end + 1) as u64;
            at += end + 1;
        }
        let rest = bytes.len() - at;
        state.pending = match (rest, state.pending) {
            (0, _) => None,
            (n, Some((_, since))) => Some((n as u64, since)),
            (n, None) => Some((n as u64, Instant::now())),
        };
        if was_stopped.is_some() && state.stopped.is_none() {
            note(&format!("the change log goes on past line {}", state.lines));
        }
        changed.then_some(snapshot)
    }

    /// Stops application at line `number`, saying why once.
    fn stop(&self, state: &mut LogState, was: &Option<(u64, String)>, number: u64, reason: String) {
        if was.as_ref() != Some(&(number, reason.clone())) {
            note(&format!(
                "{} line {number} refused ({reason}); the entities stay at revision {}, and no later line is applied until it is mended",
                self.path.display(),
                state.base.as_ref().map_or(0, |b| b.1) + state.applied
            ));
        }
        state.stopped = Some((number, reason));
    }

    /// Reads line `number`'s transaction against `snapshot`'s declarations.
    fn transaction(
        &self,
        text: &str,
        number: u64,
        snapshot: &Snapshot,
    ) -> Result<Transaction, String> {
        let name = format!("{} line {number}", self.path.display());
        let origin = Origin {
            file: &name,
            text,
            offset: 0,
        };
        let tx = read_transaction(text, &origin, &snapshot.set().schema, &self.limits)
            .map_err(|e| format!("{} (column {})", e.message, e.column))?;
        if self.validate {
            validate(text, snapshot)?;
        }
        Ok(tx)
    }

    /// The store after `tx`, `None` when its precondition does not hold,
    /// or why it is refused.
    fn check_and_apply(
        &self,
        tx: &Transaction,
        snapshot: &Snapshot,
    ) -> Result<Option<Entities>, String> {
        if let Some(wanted) = &tx.if_revision {
            if *wanted != snapshot.entity_revision.to_string() {
                return Ok(None);
            }
        }
        let applied = apply(&snapshot.entities, tx, &snapshot.set().schema, self.cycles)?;
        for n in &applied.notes {
            note(&format!("{}: {n}", self.path.display()));
        }
        Ok(Some(applied.entities))
    }

    /// `POST /v1/entities`: `body`, a transaction, checked against the
    /// serving revision, appended to the log and synced, then applied; the
    /// new revision's token.
    pub fn write(&self, server: &Server, body: &str) -> Result<String, ApiError> {
        let mut state = self.lock();
        if let Some(reason) = &state.damaged {
            return Err(ApiError::new(
                503,
                format!("writes are refused until the server restarts: {reason}"),
            ));
        }
        // Whatever another writer appended is applied first.
        if let Some(current) = server.current() {
            if let Some(next) = self.advance(&mut state, Snapshot::clone(&current)) {
                server.install(next);
            }
        }
        if let Some((line, reason)) = &state.stopped {
            return Err(ApiError::new(
                409,
                format!(
                    "the change log is stopped at line {line} ({reason}): no write is applied until it is mended"
                ),
            ));
        }
        let Some(current) = server.current() else {
            return Err(ApiError::new(503, "no snapshot is loaded yet"));
        };
        let line_text: String = body.lines().map(str::trim).collect::<Vec<_>>().join(" ");
        let tx = self
            .transaction(&line_text, state.lines + 1, &current)
            .map_err(ApiError::bad_request)?;
        let entities = match self.check_and_apply(&tx, &current) {
            Ok(Some(entities)) => entities,
            Ok(None) => {
                return Err(ApiError::new(
                    412,
                    format!(
                        "the entities are at revision {}, not {}: nothing was written",
                        current.entity_revision,
                        tx.if_revision.unwrap_or_default()
                    ),
                ))
            }
            Err(reason) => return Err(ApiError::new(422, format!("refused: {reason}"))),
        };
        let Some(writer) = state.writer.as_mut() else {
            return Err(ApiError::new(
                503,
                "another server holds the change log for writing: write there",
            ));
        };
        let line = format!("{line_text}\n");
        match writer.append(line.as_bytes()) {
            Ok(()) => {}
            Err(AppendError::NotWritten(e)) => {
                return Err(ApiError::new(
                    503,
                    format!(
                        "the transaction could not be made durable ({}); nothing was applied",
                        crate::files::read::io_message(&e)
                    ),
                ))
            }
            Err(AppendError::Damaged(e)) => {
                let reason =
                    format!("the change log could not be restored after a failed write: {e}");
                note(&reason);
                state.damaged = Some(reason.clone());
                return Err(ApiError::new(503, reason));
            }
        }
        state.offset += line.len() as u64;
        state.lines += 1;
        state.applied += 1;
        let mut next = Snapshot::clone(&current);
        next.entities = entities;
        next.entity_revision += 1;
        let token = next.entity_revision.to_string();
        server.install(next);
        Ok(token)
    }

    /// What status shows.
    pub fn status(&self) -> LogStatus {
        let state = self.lock();
        LogStatus {
            path: self.path.display().to_string(),
            applied: state.applied,
            failed: state.failed,
            lines: state.lines,
            stopped: state.stopped.clone(),
            pending_bytes: state
                .pending
                .filter(|(_, since)| since.elapsed() >= PENDING_TOLD_AFTER)
                .map(|(n, _)| n),
            damaged: state.damaged.clone(),
        }
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `--validate`: each upserted entity of the transaction checked against
/// the declarations by the checker of `mspl validate --entities`.
pub(crate) fn validate(text: &str, snapshot: &Snapshot) -> Result<(), String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    let ops = match &value {
        serde_json::Value::Object(o) if o.contains_key("op") => vec![value.clone()],
        serde_json::Value::Object(o) => o
            .get("ops")
            .and_then(|v| v.as_array())
            .cloned()
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let entities: Vec<&serde_json::Value> = ops.iter().filter_map(|op| op.get("entity")).collect();
    if entities.is_empty() {
        return Ok(());
    }
    let array = serde_json::Value::Array(entities.into_iter().cloned().collect()).to_string();
    let mut set = snapshot.set().clone();
    let file = set.sources.add("<transaction>", array.clone());
    let problems =
        crate::validate::data::validate_entities(&set, file, &array).map_err(|e| e.message)?;
    match problems.iter().find(|p| !p.is_warning()) {
        Some(p) => Err(format!("does not fit the declarations: {}", p.error)),
        None => Ok(()),
    }
}
