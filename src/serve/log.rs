//! The decision log (`--decision-log FILE|-`): one JSON line per decision,
//! written by a thread of its own so that no request waits for the disk.
//!
//! A line is `{"decision_id", "time", "revision", "batch_id", "request":
//! {principal, action, resource, context}, "decision", "kind",
//! "determining", "errors", "latency_us"}`: the request under `"request"`
//! is what `--requests` of `authorize`, `diff` and `audit unused` read, so a
//! day's log replays as it is. A batch whose items share one context (an
//! AuthZEN `evaluations` call's top-level `context`) writes it once, in a
//! header line `{"batch_id", "context"}` before its items, which say
//! `"context_ref": batch_id` in its place; the readers resolve it. Over
//! TLS with a client certificate, a line also says its `"caller"` (the
//! certificate's subject). The
//! queue is bounded; when the writer falls that far behind, lines are
//! dropped and counted, never the request.

use crate::authorize::Response;
use crate::entities::json::Request;
use crate::entities::json::RequestJson;
use serde::Serialize;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::time::SystemTime;

/// Lines waiting to be written, at most.
const QUEUE: usize = 100_000;

/// One decision, as the request path hands it over.
pub struct Entry {
    /// The decision's id.
    pub decision_id: String,
    /// When it was decided.
    pub time: SystemTime,
    /// The snapshot that decided it.
    pub revision: Arc<str>,
    /// The batch it was part of.
    pub batch_id: Option<Arc<str>>,
    /// Whether its context is its batch's, written once in the batch's
    /// header line ([`DecisionLog::batch_context`]): the line then says
    /// `"context_ref": batch_id` instead.
    pub context_ref: bool,
    /// The request.
    pub request: Request,
    /// The answer.
    pub response: Response,
    /// How long the decision took.
    pub latency_us: u64,
    /// The subject of the caller's verified client certificate.
    pub caller: Option<Arc<str>>,
}

thread_local! {
    /// The caller of the request a decision thread is working on.
    static CALLER: std::cell::RefCell<Option<Arc<str>>> = const { std::cell::RefCell::new(None) };
}

/// Runs `work` (a request's, on a decision thread) with `caller` as the
/// caller its decisions are logged with.
pub fn as_caller<R>(caller: Option<Arc<str>>, work: impl FnOnce() -> R) -> R {
    let previous = CALLER.with(|c| c.replace(caller));
    let result = work();
    CALLER.with(|c| *c.borrow_mut() = previous);
    result
}

/// The caller of the work this thread is doing ([`as_caller`]).
pub fn caller() -> Option<Arc<str>> {
    CALLER.with(|c| c.borrow().clone())
}

#[derive(Serialize)]
struct Line<'a> {
    decision_id: &'a str,
    time: String,
    revision: &'a str,
    batch_id: Option<&'a str>,
    request: RequestJson<'a>,
    #[serde(flatten)]
    response: &'a Response,
    latency_us: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    caller: Option<&'a str>,
}

impl Entry {
    /// The entry's log line, without its newline.
    pub fn line(&self) -> String {
        let line = Line {
            decision_id: &self.decision_id,
            time: rfc3339(self.time),
            revision: &self.revision,
            batch_id: self.batch_id.as_deref(),
            request: match (&self.batch_id, self.context_ref) {
                (Some(batch), true) => RequestJson::referring(&self.request, batch),
                _ => RequestJson::of(&self.request),
            },
            response: &self.response,
            latency_us: self.latency_us,
            caller: self.caller.as_deref(),
        };
        serde_json::to_string(&line).unwrap_or_default()
    }
}

/// What the writer writes: a decision, or a batch's shared context.
enum Record {
    Decision(Box<Entry>),
    BatchContext { batch_id: Arc<str>, context: String },
}

impl Record {
    fn line(&self) -> String {
        match self {
            Record::Decision(entry) => entry.line(),
            Record::BatchContext { batch_id, context } => format!(
                "{{\"batch_id\":{},\"context\":{context}}}",
                serde_json::Value::from(&**batch_id)
            ),
        }
    }
}

/// The sending end of the log, shared by every request.
pub struct DecisionLog {
    sender: arc_swap::ArcSwapOption<SyncSender<Record>>,
    writer: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Lines dropped because the writer fell behind.
    pub dropped: AtomicU64,
    /// Lines that could not be written (the file's error).
    pub failed: Arc<AtomicU64>,
}

impl DecisionLog {
    /// No log.
    pub fn off() -> DecisionLog {
        DecisionLog {
            sender: arc_swap::ArcSwapOption::empty(),
            writer: std::sync::Mutex::new(None),
            dropped: AtomicU64::new(0),
            failed: Arc::default(),
        }
    }

    /// A log written to `out` by a thread of its own.
    pub fn to(out: Box<dyn Write + Send>) -> DecisionLog {
        let (sender, receiver) = sync_channel(QUEUE);
        let failed = Arc::new(AtomicU64::new(0));
        let count = failed.clone();
        let writer = std::thread::Builder::new()
            .name("decision-log".into())
            .spawn(move || write_lines(receiver, out, &count))
            .ok();
        DecisionLog {
            sender: arc_swap::ArcSwapOption::from_pointee(sender),
            writer: std::sync::Mutex::new(writer),
            dropped: AtomicU64::new(0),
            failed,
        }
    }

    /// Whether decisions are logged (so the caller keeps what a line needs).
    pub fn enabled(&self) -> bool {
        self.sender.load().is_some()
    }

    /// Queues one decision; never blocks.
    pub fn record(&self, entry: Entry) {
        self.send(Record::Decision(Box::new(entry)));
    }

    /// Queues a batch's header line: the context its items refer to
    /// (`context`, JSON text in Cedar's form).
    pub fn batch_context(&self, batch_id: Arc<str>, context: String) {
        self.send(Record::BatchContext { batch_id, context });
    }

    fn send(&self, record: Record) {
        let guard = self.sender.load();
        let Some(sender) = guard.as_ref() else { return };
        match sender.try_send(record) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Writes what is queued and stops the writer (at shutdown); later
    /// decisions are not logged.
    pub fn close(&self) {
        self.sender.store(None);
        let writer = match self.writer.lock() {
            Ok(mut w) => w.take(),
            Err(_) => None,
        };
        if let Some(writer) = writer {
            let _ = writer.join();
        }
    }
}

impl Drop for DecisionLog {
    fn drop(&mut self) {
        self.close();
    }
}

/// The writer thread: each entry a line; a flush whenever the queue runs
/// dry, so a quiet server's log is complete on disk.
fn write_lines(receiver: Receiver<Record>, out: Box<dyn Write + Send>, failed: &AtomicU64) {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
    let write = |out: &mut std::io::BufWriter<_>, entry: Record| {
        let mut line = entry.line();
        line.push('\n');
        if out.write_all(line.as_bytes()).is_err() {
            failed.fetch_add(1, Ordering::Relaxed);
        }
    };
    while let Ok(entry) = receiver.recv() {
        write(&mut out, entry);
        loop {
            match receiver.try_recv() {
                Ok(entry) => write(&mut out, entry),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    let _ = out.flush();
                    return;
                }
            }
        }
        if out.flush().is_err() {
            failed.fetch_add(1, Ordering::Relaxed);
        }
    }
    let _ = out.flush();
}

/// `time` in RFC 3339, UTC, to the millisecond (`2026-12-01T20:56:32.120Z`).
pub fn rfc3339(time: SystemTime) -> String {
    let since = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60,
        since.subsec_millis()
    )
}

/// The Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
#[expect(
    clippy::cast_possible_truncation,
    reason = "a day of the month is 1 to 31 and a month 1 to 12"
)]
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339_dates() {
        let at = |s: u64, ms: u64| {
            rfc3339(SystemTime::UNIX_EPOCH + Duration::from_secs(s) + Duration::from_millis(ms))
        };
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(at(1_796_158_592, 120), "2026-12-01T20:56:32.120Z");
        assert_eq!(at(4_102_444_799, 999), "2099-12-31T23:59:59.999Z");
    }
}
