//! The entities in PostgreSQL (`--entities postgres://…`): read whole at
//! one snapshot when the policies load, then followed. A follower thread
//! holds a connection, wakes on `NOTIFY mspl_changes` (or polls alone:
//! `--entities-poll-only`, a standby, a transaction pooler) and every
//! `--entities-poll-ms` regardless; each look reads, in one `REPEATABLE
//! READ` transaction, the entities the transactions committed since the
//! applied snapshot touched (`db::read::read_changes`) and applies them as
//! one revision. A transaction is never split across revisions, and one
//! that commits late with an early id is never skipped: what is read is
//! "visible now, not visible in the applied snapshot", not "past an id".
//!
//! An entity that does not read (or does not fit the declarations under
//! `--validate`, or would close a cycle under `--cedar`) stops application
//! there: the last good revision serves on, status, metrics and the log
//! say which entity and why, and the next look tries again from the same
//! snapshot — nothing after it is applied until it is mended. The database
//! going away leaves the last revision serving while the follower
//! reconnects with backoff; the staleness (the age since a look last found
//! the replica current) grows meanwhile, and past `--max-staleness-ms`
//! decisions answer 503.

use super::snapshot::Snapshot;
use super::{note, Server};
use crate::db::read::{read_changes, read_store, Changes};
use crate::db::Target;
use crate::entities::build::{build_entities_for, Cycles};
use crate::entities::changes::{apply, read_transaction};
use crate::entities::json::Origin;
use crate::limits::Limits;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// More entities than this changed at once are read as a full reload.
const MOST_AT_ONCE: usize = 50_000;

/// The longest wait between two connection attempts.
const MOST_BACKOFF: Duration = Duration::from_secs(5);

/// How the server follows the database.
#[derive(Clone, Debug)]
pub struct Following {
    /// The database.
    pub target: Target,
    /// The longest time between two looks (`--entities-poll-ms`).
    pub poll: Duration,
    /// Whether to wait for notifications (off: `--entities-poll-only`).
    pub listen: bool,
    /// Past this staleness, decisions answer 503 (`--max-staleness-ms`).
    pub max_staleness: Option<Duration>,
}

/// The follower of one server.
pub struct Follower {
    following: Following,
    state: Mutex<FollowState>,
    validate: bool,
    cycles: Cycles,
    limits: Limits,
    /// When the follower was made: the epoch of `confirmed_ms`.
    epoch: Instant,
    /// Milliseconds after `epoch` when a look last found the replica
    /// current, plus one (0: never).
    confirmed_ms: AtomicU64,
    /// Set to stop the follower thread.
    stop: AtomicBool,
}

/// Where application stands.
#[derive(Default)]
struct FollowState {
    /// The pruned watermark as of the applied snapshot.
    pruned_seen: u64,
    /// Revisions applied by following (not counting full reads).
    applied: u64,
    /// Full reads of the store.
    full_reads: u64,
    /// The entity application stopped at, and why.
    stopped: Option<(String, String)>,
    /// The last connection or query error, and when.
    trouble: Option<String>,
    /// Whether the follower's connection is up.
    connected: bool,
    /// Whether it listens for notifications.
    listening: bool,
    /// A full read is due (the store was replaced or pruned past us).
    reload_due: Option<String>,
    /// Policies loaded while the database was out of reach: the store is
    /// read into them as soon as it is back.
    waiting: Option<Snapshot>,
}

/// Why the store could not be read into new policies.
pub enum StartError {
    /// The database is out of reach: the policies wait for it (the
    /// follower reads the store into them when it is back).
    Unreachable(String),
    /// The store was refused (a schema version, an entity that does not
    /// read or fit): nothing changes.
    Refused(String),
}

/// What `/v1/status` shows of the database.
pub struct DatabaseStatus {
    /// The database, without its password.
    pub url: String,
    /// Whether the follower is connected.
    pub connected: bool,
    /// Whether it listens for notifications.
    pub listening: bool,
    /// Revisions applied by following.
    pub applied: u64,
    /// Full reads of the store.
    pub full_reads: u64,
    /// Where application stopped, and why.
    pub stopped: Option<(String, String)>,
    /// The last trouble with the database.
    pub trouble: Option<String>,
    /// The age of the serving entities, if ever current.
    pub staleness: Option<Duration>,
}

impl Follower {
    /// A follower for `following`, its transactions read as `validate`,
    /// `cycles` and `limits` say.
    pub fn new(following: Following, validate: bool, cycles: Cycles, limits: Limits) -> Follower {
        Follower {
            following,
            state: Mutex::new(FollowState::default()),
            validate,
            cycles,
            limits,
            epoch: Instant::now(),
            confirmed_ms: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FollowState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The database's name, without its password.
    pub fn shown(&self) -> &str {
        self.following.target.shown()
    }

    /// The staleness past which decisions are refused.
    pub fn max_staleness(&self) -> Option<Duration> {
        self.following.max_staleness
    }

    /// How old the serving entities may be: the time since a look last
    /// found the replica current; `None` before the first.
    pub fn staleness(&self) -> Option<Duration> {
        let at = self.confirmed_ms.load(Ordering::Relaxed);
        (at > 0).then(|| {
            let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
            Duration::from_millis(now.saturating_sub(at - 1))
        })
    }

    /// Records that the replica was current at `at`.
    fn confirm(&self, at: Instant) {
        let ms = u64::try_from(at.duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX);
        self.confirmed_ms
            .fetch_max(ms.saturating_add(1), Ordering::Relaxed);
    }

    /// Takes `base` (a snapshot just built from the policy files), reads
    /// the whole store into it at one snapshot of the database and
    /// installs it. The error says why when the database cannot be read or
    /// the store is refused; the server keeps what it serves.
    pub fn start(&self, server: &Server, base: Snapshot) -> Result<(), StartError> {
        let mut state = self.lock();
        let looked = Instant::now();
        let mut client = match self.following.target.connect() {
            Ok(c) => c,
            Err(e) => {
                state.waiting = Some(base);
                return Err(StartError::Unreachable(e));
            }
        };
        match self.full_read(&mut state, &mut client, base.clone()) {
            Ok(next) => {
                server.install(next);
                state.waiting = None;
                state.stopped = None;
                drop(state);
                self.confirm(looked);
                Ok(())
            }
            Err(e) if client.is_closed() => {
                state.waiting = Some(base);
                Err(StartError::Unreachable(e))
            }
            Err(e) => Err(StartError::Refused(e)),
        }
    }

    /// Reads the whole store into `base`: the snapshot to install.
    fn full_read(
        &self,
        state: &mut FollowState,
        client: &mut postgres::Client,
        mut base: Snapshot,
    ) -> Result<Snapshot, String> {
        let store = read_store(client, self.shown())?;
        let name = self.shown().to_string();
        let entities = build_entities_for(
            &base.set().schema,
            [(name.as_str(), store.text.as_str())],
            &self.limits,
            self.cycles,
        )
        .map_err(|e| format!("{}: {}", shown_entity(&store.text, e.line), e.message))?;
        if self.validate {
            validate_store(&store.text, &base)?;
        }
        base.entities = entities;
        base.entity_revision += 1;
        base.db_snapshot = Some(store.snapshot);
        state.pruned_seen = store.pruned;
        state.full_reads += 1;
        state.reload_due = None;
        Ok(base)
    }

    /// One look: what was committed since the applied snapshot, applied as
    /// one revision (or the store read whole when that is due). An error
    /// is the database's trouble (the connection is then dropped).
    fn look(&self, server: &Server, client: &mut postgres::Client) -> Result<(), String> {
        let mut state = self.lock();
        let looked = Instant::now();
        if let Some(base) = state.waiting.take() {
            return match self.full_read(&mut state, client, base.clone()) {
                Ok(next) => {
                    note(&format!("{}: the store is read; serving", self.shown()));
                    server.install(next);
                    self.went_on(&mut state);
                    drop(state);
                    self.confirm(looked);
                    Ok(())
                }
                Err(reason) => {
                    state.waiting = Some(base);
                    Err(reason)
                }
            };
        }
        let Some(current) = server.current() else {
            return Ok(());
        };
        let since = match (&current.db_snapshot, &state.reload_due) {
            (Some(s), None) => s.clone(),
            (_, why) => {
                if let Some(why) = why {
                    note(&format!("{why}: reading the whole store again"));
                }
                let base = Snapshot::clone(&current);
                return match self.full_read(&mut state, client, base) {
                    Ok(next) => {
                        server.install(next);
                        self.went_on(&mut state);
                        drop(state);
                        self.confirm(looked);
                        Ok(())
                    }
                    Err(reason) if client.is_closed() => Err(reason),
                    Err(reason) => {
                        self.stop_at(&mut state, "the store".into(), reason, &current);
                        Ok(())
                    }
                };
            }
        };
        let changes = read_changes(
            client,
            self.shown(),
            &since,
            state.pruned_seen,
            MOST_AT_ONCE,
        )?;
        let (snapshot, touched, pruned) = match changes {
            Changes::Reload(why) => {
                state.reload_due = Some(why);
                drop(state);
                return self.look(server, client);
            }
            Changes::Entities {
                snapshot,
                touched,
                pruned,
            } => (snapshot, touched, pruned),
        };
        if snapshot == since {
            drop(state);
            self.confirm(looked);
            return Ok(());
        }
        let mut next = Snapshot::clone(&current);
        if !touched.is_empty() {
            match self.apply(&touched, &current) {
                Ok(entities) => {
                    next.entities = entities;
                    state.applied += 1;
                }
                Err((entity, reason)) => {
                    self.stop_at(&mut state, entity, reason, &current);
                    return Ok(());
                }
            }
        }
        next.entity_revision += u64::from(!touched.is_empty());
        next.db_snapshot = Some(snapshot);
        state.pruned_seen = pruned;
        server.install(next);
        self.went_on(&mut state);
        drop(state);
        self.confirm(looked);
        Ok(())
    }

    /// The store after the touched entities are applied, or the first
    /// entity refused and why.
    fn apply(
        &self,
        touched: &[((String, String), Option<String>)],
        current: &Snapshot,
    ) -> Result<crate::entities::Entities, (String, String)> {
        let ops: Vec<String> = touched
            .iter()
            .filter_map(|((ty, id), entity)| match entity {
                Some(json) => Some(format!("{{\"op\":\"upsert\",\"entity\":{json}}}")),
                None => {
                    let uid = crate::entities::json::uid_from_parts(ty, id).ok()?;
                    current.entities.contains(&uid).then(|| {
                        let mut op = String::from("{\"op\":\"delete\",\"uid\":");
                        crate::db::read::uid_json(&mut op, ty, id);
                        op.push('}');
                        op
                    })
                }
            })
            .collect();
        if ops.is_empty() {
            return Ok(current.entities.clone());
        }
        let text = format!("{{\"ops\":[{}]}}", ops.join(","));
        match self.apply_text(&text, current) {
            Ok(entities) => Ok(entities),
            Err(reason) => {
                // Name the first entity refused on its own; else the whole.
                for op in &ops {
                    let one = format!("{{\"ops\":[{op}]}}");
                    if let Err(why) = self.apply_text(&one, current) {
                        return Err((shown_op(op), why));
                    }
                }
                Err(("the transaction".into(), reason))
            }
        }
    }

    /// Reads and applies one transaction's text against `current`.
    fn apply_text(
        &self,
        text: &str,
        current: &Snapshot,
    ) -> Result<crate::entities::Entities, String> {
        let name = self.shown().to_string();
        let origin = Origin {
            file: &name,
            text,
            offset: 0,
        };
        let tx = read_transaction(text, &origin, &current.set().schema, &self.limits)
            .map_err(|e| e.message)?;
        if self.validate {
            super::changes::validate(text, current)?;
        }
        let applied = apply(&current.entities, &tx, &current.set().schema, self.cycles)?;
        Ok(applied.entities)
    }

    /// Stops application at `entity`, saying why once.
    fn stop_at(&self, state: &mut FollowState, entity: String, reason: String, current: &Snapshot) {
        let stop = Some((entity.clone(), reason.clone()));
        if state.stopped != stop {
            note(&format!(
                "{}: {entity} refused ({reason}); the entities stay at {}, and nothing after it is applied until it is mended",
                self.shown(),
                current.entity_token()
            ));
        }
        state.stopped = stop;
    }

    /// Clears a stop, saying so.
    fn went_on(&self, state: &mut FollowState) {
        if let Some((entity, _)) = state.stopped.take() {
            note(&format!(
                "{}: {entity} mended; applying again",
                self.shown()
            ));
        }
    }

    /// Starts the follower thread; it runs until [`Follower::halt`].
    pub fn spawn(self: &Arc<Self>, server: Arc<Server>) -> std::io::Result<()> {
        let follower = self.clone();
        std::thread::Builder::new()
            .name("mspl-entities-db".into())
            .spawn(move || follower.follow(&server))
            .map(|_| ())
    }

    /// Stops the follower thread at its next wake-up.
    pub fn halt(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// The follower's loop: connect (with backoff), listen, look, wait.
    fn follow(&self, server: &Server) {
        let mut backoff = Duration::from_millis(100);
        while !self.stop.load(Ordering::Relaxed) {
            let mut client = match self.following.target.connect() {
                Ok(c) => c,
                Err(e) => {
                    self.trouble(&e);
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(MOST_BACKOFF);
                    continue;
                }
            };
            backoff = Duration::from_millis(100);
            let listening = self.following.listen && listen(&mut client, self.shown());
            {
                let mut state = self.lock();
                state.connected = true;
                state.listening = listening;
                if state.trouble.take().is_some() {
                    note(&format!("{}: connected again", self.shown()));
                }
            }
            // The first look after a (re)connection catches up on what was
            // missed, from the change table.
            while !self.stop.load(Ordering::Relaxed) {
                if let Err(e) = self.look(server, &mut client) {
                    self.trouble(&e);
                    if client.is_closed() {
                        break;
                    }
                }
                if !self.wait(&mut client, listening) {
                    self.trouble("the connection was lost");
                    break;
                }
            }
            let mut state = self.lock();
            state.connected = false;
        }
    }

    /// Waits for a notification or the poll's end: false when the
    /// connection is lost.
    fn wait(&self, client: &mut postgres::Client, listening: bool) -> bool {
        if !listening {
            std::thread::sleep(self.following.poll);
            return !client.is_closed();
        }
        use postgres::fallible_iterator::FallibleIterator;
        let mut notes = client.notifications();
        if notes.timeout_iter(self.following.poll).next().is_err() {
            return false;
        }
        // Whatever else arrived meanwhile is covered by the same look.
        while let Ok(Some(_)) = notes.iter().next() {}
        drop(notes);
        !client.is_closed()
    }

    /// Records trouble with the database (said once until it changes).
    fn trouble(&self, message: &str) {
        let mut state = self.lock();
        if state.trouble.as_deref() != Some(message) {
            note(&format!(
                "{}: {message}; serving the last revision and trying again",
                self.shown()
            ));
        }
        state.trouble = Some(message.to_string());
    }

    /// What status shows.
    pub fn status(&self) -> DatabaseStatus {
        let state = self.lock();
        DatabaseStatus {
            url: self.shown().to_string(),
            connected: state.connected,
            listening: state.listening,
            applied: state.applied,
            full_reads: state.full_reads,
            stopped: state.stopped.clone(),
            trouble: state.trouble.clone(),
            staleness: self.staleness(),
        }
    }
}

/// `LISTEN`s for changes: false against a standby (where it cannot) or
/// when the server refuses.
fn listen(client: &mut postgres::Client, shown: &str) -> bool {
    let standby = client
        .query_one("SELECT pg_is_in_recovery()", &[])
        .map(|r| r.get::<_, bool>(0))
        .unwrap_or(false);
    if standby {
        note(&format!(
            "{shown} is a standby: notifications do not reach it; polling"
        ));
        return false;
    }
    match client.batch_execute("LISTEN mspl_changes") {
        Ok(()) => true,
        Err(e) => {
            note(&format!(
                "{shown}: LISTEN refused ({}); polling",
                crate::db::error_text(&e)
            ));
            false
        }
    }
}

/// `--validate` on the whole store read from the database.
fn validate_store(text: &str, snapshot: &Snapshot) -> Result<(), String> {
    let mut set = snapshot.set().clone();
    let file = set.sources.add("<database>", text.to_string());
    let problems =
        crate::validate::data::validate_entities(&set, file, text).map_err(|e| e.message)?;
    match problems.iter().find(|p| !p.is_warning()) {
        Some(p) => {
            let (line, _) = set.sources.line_column(p.span);
            Err(format!(
                "{} does not fit the declarations: {}",
                shown_entity(text, line),
                p.error
            ))
        }
        None => Ok(()),
    }
}

/// The entity on `line` of a store's text (one entity per line).
fn shown_entity(text: &str, line: usize) -> String {
    text.lines()
        .nth(line.saturating_sub(1))
        .and_then(|l| {
            let json: serde_json::Value = serde_json::from_str(l.trim_end_matches(',')).ok()?;
            let uid = crate::entities::json::entity_ref(json.get("uid")?).ok()?;
            Some(format!("entity {uid}"))
        })
        .unwrap_or_else(|| "the store".into())
}

/// The entity an operation is on, as `entity Type::"id"`.
fn shown_op(op: &str) -> String {
    let json: Option<serde_json::Value> = serde_json::from_str(op).ok();
    let uid = json.as_ref().and_then(|j| {
        let uid = j.get("uid").or_else(|| j.get("entity")?.get("uid"))?;
        let ty = uid.get("type")?.as_str()?;
        let id = uid.get("id")?.as_str()?;
        Some((ty.to_string(), id.to_string()))
    });
    match uid {
        Some((ty, id)) => match crate::entities::json::uid_from_parts(&ty, &id) {
            Ok(uid) => format!("entity {uid}"),
            Err(_) => format!("entity of type `{ty}` and id `{id}`"),
        },
        None => "an entity".into(),
    }
}
