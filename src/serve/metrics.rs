//! The server's counters, and their Prometheus text exposition
//! (`GET /metrics`): decision latency histogram, decisions by outcome,
//! reloads by result, HTTP responses by status class, snapshot age.
//!
//! Every counter is an atomic, so the request path never takes a lock.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// The histogram's upper bounds, in microseconds.
const BUCKETS_US: [u64; 14] = [
    10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 100_000, 500_000, 1_000_000,
];

/// How a reload ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReloadResult {
    /// A new snapshot was swapped in.
    Loaded,
    /// The inputs had the serving revision: nothing to do.
    Unchanged,
    /// The new inputs were refused; the old snapshot keeps serving.
    Failed,
}

impl ReloadResult {
    const ALL: [ReloadResult; 3] = [
        ReloadResult::Loaded,
        ReloadResult::Unchanged,
        ReloadResult::Failed,
    ];

    /// Its name in metrics and the log.
    pub fn name(self) -> &'static str {
        match self {
            ReloadResult::Loaded => "loaded",
            ReloadResult::Unchanged => "unchanged",
            ReloadResult::Failed => "failed",
        }
    }
}

/// The counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Count of decisions per bucket of [`BUCKETS_US`], then the overflow.
    latency: [AtomicU64; BUCKETS_US.len() + 1],
    latency_sum_ns: AtomicU64,
    allow: AtomicU64,
    deny_forbidden: AtomicU64,
    deny_not_permitted: AtomicU64,
    decision_errors: AtomicU64,
    reloads: [AtomicU64; 3],
    /// HTTP responses by status class (2xx … 5xx).
    responses: [AtomicU64; 4],
    /// The serving entity revision.
    entity_revision: AtomicU64,
    /// AuthZEN searches computed, and answered from memory.
    search_computed: AtomicU64,
    search_kept: AtomicU64,
}

impl Metrics {
    /// Counts one decision that took `took`.
    pub fn decision(&self, response: &crate::authorize::Response, took: Duration) {
        use crate::authorize::{Decision, DenyKind};
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let bucket = BUCKETS_US
            .iter()
            .position(|&b| us <= b)
            .unwrap_or(BUCKETS_US.len());
        if let Some(counter) = self.latency.get(bucket) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        self.latency_sum_ns.fetch_add(
            u64::try_from(took.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        let counter = match (response.decision, response.kind) {
            (Decision::Allow, _) => &self.allow,
            (Decision::Deny, Some(DenyKind::Forbidden)) => &self.deny_forbidden,
            (Decision::Deny, _) => &self.deny_not_permitted,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if !response.errors.is_empty() {
            self.decision_errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts one reload.
    pub fn reload(&self, result: ReloadResult) {
        let i = ReloadResult::ALL
            .iter()
            .position(|&r| r == result)
            .unwrap_or(0);
        if let Some(counter) = self.reloads.get(i) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts one AuthZEN search: answered from memory, or computed.
    pub fn search(&self, kept: bool) {
        let counter = if kept {
            &self.search_kept
        } else {
            &self.search_computed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Records the serving entity revision.
    pub fn entity_revision(&self, revision: u64) {
        self.entity_revision.store(revision, Ordering::Relaxed);
    }

    /// Counts one HTTP response.
    pub fn response(&self, status: u16) {
        let class = (status / 100).clamp(2, 5) - 2;
        if let Some(counter) = self.responses.get(usize::from(class)) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Reloads so far that ended with `result`.
    pub fn reloads(&self, result: ReloadResult) -> u64 {
        let i = ReloadResult::ALL
            .iter()
            .position(|&r| r == result)
            .unwrap_or(0);
        self.reloads.get(i).map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// The Prometheus text exposition; `snapshot` is the serving
    /// snapshot's revision and load time, `log` the decision log's lines
    /// dropped and failed.
    pub fn render(&self, snapshot: Option<(&str, SystemTime)>, log: (u64, u64)) -> String {
        let mut out = String::new();
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        out.push_str("# HELP mspl_decision_duration_seconds Time to decide one request.\n");
        out.push_str("# TYPE mspl_decision_duration_seconds histogram\n");
        let mut cumulative = 0;
        for (bound, counter) in BUCKETS_US.iter().zip(&self.latency) {
            cumulative += get(counter);
            let _ = writeln!(
                out,
                "mspl_decision_duration_seconds_bucket{{le=\"{}\"}} {cumulative}",
                *bound as f64 / 1e6
            );
        }
        cumulative += self.latency.get(BUCKETS_US.len()).map_or(0, get);
        let _ = writeln!(
            out,
            "mspl_decision_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
        );
        let _ = writeln!(
            out,
            "mspl_decision_duration_seconds_sum {}",
            get(&self.latency_sum_ns) as f64 / 1e9
        );
        let _ = writeln!(out, "mspl_decision_duration_seconds_count {cumulative}");
        out.push_str("# HELP mspl_decisions_total Decisions by outcome.\n");
        out.push_str("# TYPE mspl_decisions_total counter\n");
        for (decision, kind, counter) in [
            ("allow", "", &self.allow),
            ("deny", "forbidden", &self.deny_forbidden),
            ("deny", "not_permitted", &self.deny_not_permitted),
        ] {
            let _ = writeln!(
                out,
                "mspl_decisions_total{{decision=\"{decision}\",kind=\"{kind}\"}} {}",
                get(counter)
            );
        }
        out.push_str(
            "# HELP mspl_decisions_with_errors_total Decisions in which some policy raised an error.\n",
        );
        out.push_str("# TYPE mspl_decisions_with_errors_total counter\n");
        let _ = writeln!(
            out,
            "mspl_decisions_with_errors_total {}",
            get(&self.decision_errors)
        );
        out.push_str("# HELP mspl_reloads_total Reloads by result.\n");
        out.push_str("# TYPE mspl_reloads_total counter\n");
        for (result, counter) in ReloadResult::ALL.iter().zip(&self.reloads) {
            let _ = writeln!(
                out,
                "mspl_reloads_total{{result=\"{}\"}} {}",
                result.name(),
                get(counter)
            );
        }
        out.push_str("# HELP mspl_http_responses_total HTTP responses by status class.\n");
        out.push_str("# TYPE mspl_http_responses_total counter\n");
        for (class, counter) in ["2xx", "3xx", "4xx", "5xx"].iter().zip(&self.responses) {
            let _ = writeln!(
                out,
                "mspl_http_responses_total{{class=\"{class}\"}} {}",
                get(counter)
            );
        }
        out.push_str("# HELP mspl_search_answers_total AuthZEN search answers (pages) by where they came from.\n");
        out.push_str("# TYPE mspl_search_answers_total counter\n");
        for (source, counter) in [
            ("computed", &self.search_computed),
            ("kept", &self.search_kept),
        ] {
            let _ = writeln!(
                out,
                "mspl_search_answers_total{{source=\"{source}\"}} {}",
                get(counter)
            );
        }
        out.push_str("# HELP mspl_entity_revision The serving entity revision.\n");
        out.push_str("# TYPE mspl_entity_revision gauge\n");
        let _ = writeln!(out, "mspl_entity_revision {}", get(&self.entity_revision));
        let (dropped, failed) = log;
        out.push_str(
            "# HELP mspl_decision_log_dropped_total Log lines dropped because the writer fell behind.\n",
        );
        out.push_str("# TYPE mspl_decision_log_dropped_total counter\n");
        let _ = writeln!(out, "mspl_decision_log_dropped_total {dropped}");
        out.push_str("# HELP mspl_decision_log_failed_total Log lines the log file refused.\n");
        out.push_str("# TYPE mspl_decision_log_failed_total counter\n");
        let _ = writeln!(out, "mspl_decision_log_failed_total {failed}");
        if let Some((revision, loaded_at)) = snapshot {
            let age = SystemTime::now()
                .duration_since(loaded_at)
                .unwrap_or_default();
            out.push_str(
                "# HELP mspl_snapshot_age_seconds Time since the serving snapshot was loaded.\n",
            );
            out.push_str("# TYPE mspl_snapshot_age_seconds gauge\n");
            let _ = writeln!(out, "mspl_snapshot_age_seconds {:.3}", age.as_secs_f64());
            out.push_str("# HELP mspl_snapshot_info The serving snapshot's revision.\n");
            out.push_str("# TYPE mspl_snapshot_info gauge\n");
            let _ = writeln!(out, "mspl_snapshot_info{{revision=\"{revision}\"}} 1");
        }
        out
    }
}

/// The entity source's gauges: whether application is stopped at an
/// entry it refused (a change log's line, a database's entity), and with
/// a database the age of the serving entities (the time since the
/// follower last found the replica current; none before the first).
pub fn render_entity_source(out: &mut String, stopped: bool, age: Option<Option<Duration>>) {
    out.push_str(
        "# HELP mspl_entity_changes_stopped 1 while applying entity changes is stopped at one it refused.\n",
    );
    out.push_str("# TYPE mspl_entity_changes_stopped gauge\n");
    let _ = writeln!(out, "mspl_entity_changes_stopped {}", u8::from(stopped));
    if let Some(age) = age {
        out.push_str("# HELP mspl_entity_revision_age_seconds Time since the entities were last confirmed current with their database.\n");
        out.push_str("# TYPE mspl_entity_revision_age_seconds gauge\n");
        match age {
            Some(age) => {
                let _ = writeln!(
                    out,
                    "mspl_entity_revision_age_seconds {:.3}",
                    age.as_secs_f64()
                );
            }
            None => out.push_str("mspl_entity_revision_age_seconds +Inf\n"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authorize::{Decision, Response};

    #[test]
    fn histogram_is_cumulative_and_counts_match() {
        let m = Metrics::default();
        let allow = Response {
            decision: Decision::Allow,
            kind: None,
            determining: Vec::new(),
            errors: Vec::new(),
        };
        m.decision(&allow, Duration::from_micros(7));
        m.decision(&allow, Duration::from_micros(700));
        m.decision(&allow, Duration::from_secs(3));
        let text = m.render(None, (0, 0));
        assert!(text.contains("mspl_decision_duration_seconds_bucket{le=\"0.00001\"} 1\n"));
        assert!(text.contains("mspl_decision_duration_seconds_bucket{le=\"0.001\"} 2\n"));
        assert!(text.contains("mspl_decision_duration_seconds_bucket{le=\"1\"} 2\n"));
        assert!(text.contains("mspl_decision_duration_seconds_bucket{le=\"+Inf\"} 3\n"));
        assert!(text.contains("mspl_decision_duration_seconds_count 3\n"));
        assert!(text.contains("mspl_decisions_total{decision=\"allow\",kind=\"\"} 3\n"));
    }
}
