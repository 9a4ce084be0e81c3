//! What a server trusts of the bundles it fetches: whose signatures
//! (`--verification-key`, checked by [`super::bundle::read`]), which
//! sequence (never below the highest loaded, nor a second bundle under
//! one sequence, remembered in `--bundle-state` across restarts), and how
//! old (`--bundle-max-age`: a bundle that stopped changing may be a store
//! frozen by someone on the path, so status and metrics say so).

use super::signing::VerificationKeys;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The highest sequence loaded: its revision, and when it was first
/// loaded (seconds since the epoch).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Seen {
    sequence: u64,
    revision: String,
    since: u64,
}

/// A server's trust in its bundles.
#[derive(Debug)]
pub struct BundleTrust {
    /// The keys a bundle must be signed by (none: signatures not checked).
    pub keys: Option<VerificationKeys>,
    /// Where the highest sequence is kept.
    state_file: Option<PathBuf>,
    /// Past this age without a new bundle, the bundle is stale.
    pub max_age: Option<Duration>,
    /// How an `https://` bundle server is verified.
    pub tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    seen: Mutex<Option<Seen>>,
    /// Why the state file could not be written, last time.
    state_error: Mutex<Option<String>>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl BundleTrust {
    /// The trust of a server started with these flags: the state file read
    /// when it exists (a state file that cannot be read is an error, never
    /// a fresh start that would admit any old bundle).
    pub fn new(
        keys: Option<VerificationKeys>,
        state_file: Option<PathBuf>,
        max_age: Option<Duration>,
        tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    ) -> Result<BundleTrust, String> {
        let seen = match &state_file {
            Some(path) if path.exists() => {
                let text = crate::files::read_regular(path, 64 << 10, crate::files::TextKind::Data)
                    .map_err(|e| {
                        format!(
                            "cannot read the bundle state {}: {}",
                            path.display(),
                            e.message
                        )
                    })?;
                Some(serde_json::from_str::<Seen>(&text).map_err(|e| {
                    format!(
                        "the bundle state {} is not mspl's ({e}); remove it only if no older bundle can reach this server",
                        path.display()
                    )
                })?)
            }
            _ => None,
        };
        Ok(BundleTrust {
            keys,
            state_file,
            max_age,
            tls,
            seen: Mutex::new(seen),
            state_error: Mutex::new(None),
        })
    }

    fn seen(&self) -> Option<Seen> {
        self.seen.lock().ok().and_then(|s| s.clone())
    }

    /// Whether a bundle of `sequence` and `revision` may replace what
    /// serves: its sequence above the highest loaded, or that very bundle
    /// again; a bundle without a sequence only before any had one.
    pub fn admit(&self, sequence: Option<u64>, revision: &str) -> Result<(), String> {
        let Some(seen) = self.seen() else {
            return Ok(());
        };
        match sequence {
            None => Err(format!(
                "it has no sequence, and sequence {} has been loaded (a bundle made without `mspl bundle --sequence`, or an old one replayed)",
                seen.sequence
            )),
            Some(n) if n < seen.sequence => Err(format!(
                "its sequence {n} is below {}, the highest loaded: an old bundle replayed",
                seen.sequence
            )),
            Some(n) if n == seen.sequence && revision != seen.revision => Err(format!(
                "its sequence {n} is the one of revision {}, already loaded: each release needs a new sequence",
                seen.revision
            )),
            Some(_) => Ok(()),
        }
    }

    /// Records that the bundle of `sequence` and `revision` serves (or
    /// that its content already did): kept in the state file, written
    /// atomically. `Err` says why the file could not be written (also
    /// shown in status until a write succeeds).
    pub fn loaded(&self, sequence: Option<u64>, revision: &str) -> Result<(), String> {
        let Some(sequence) = sequence else {
            return Ok(());
        };
        let next = {
            let Ok(mut seen) = self.seen.lock() else {
                return Err("the bundle state is unavailable".into());
            };
            if seen.as_ref().is_some_and(|s| s.sequence >= sequence) {
                return Ok(());
            }
            let next = Seen {
                sequence,
                revision: revision.to_string(),
                since: now(),
            };
            *seen = Some(next.clone());
            next
        };
        let Some(path) = &self.state_file else {
            return Ok(());
        };
        let text = serde_json::to_string(&next).unwrap_or_default() + "\n";
        let written = crate::files::write_file(path, &text).map_err(|e| {
            format!(
                "cannot write the bundle state {}: {}",
                path.display(),
                crate::files::read::io_message(&e)
            )
        });
        if let Ok(mut slot) = self.state_error.lock() {
            *slot = written.as_ref().err().cloned();
        }
        written
    }

    /// How long the highest sequence has served without a newer one.
    pub fn age(&self) -> Option<Duration> {
        self.seen()
            .map(|s| Duration::from_secs(now().saturating_sub(s.since)))
    }

    /// Whether the bundle is older than `--bundle-max-age`.
    pub fn stale(&self) -> bool {
        matches!((self.age(), self.max_age), (Some(age), Some(max)) if age > max)
    }

    /// The trust as status shows it.
    pub fn status(&self) -> serde_json::Value {
        let seen = self.seen();
        serde_json::json!({
            "sequence": seen.as_ref().map(|s| s.sequence),
            "verification_keys": self.keys.as_ref().map(VerificationKeys::kids),
            "age_seconds": self.age().map(|a| a.as_secs()),
            "max_age_seconds": self.max_age.map(|a| a.as_secs()),
            "stale": self.stale(),
            "state_error": self.state_error.lock().ok().and_then(|e| e.clone()),
        })
    }

    /// The trust's gauges, in Prometheus's text format.
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write as _;
        if let Some(seen) = self.seen() {
            out.push_str(
                "# HELP mspl_bundle_sequence The sequence of the highest bundle loaded.\n",
            );
            out.push_str("# TYPE mspl_bundle_sequence gauge\n");
            let _ = writeln!(out, "mspl_bundle_sequence {}", seen.sequence);
        }
        if let Some(age) = self.age() {
            out.push_str("# HELP mspl_bundle_age_seconds Time since a bundle of a new sequence was last loaded.\n");
            out.push_str("# TYPE mspl_bundle_age_seconds gauge\n");
            let _ = writeln!(out, "mspl_bundle_age_seconds {}", age.as_secs());
        }
        out.push_str(
            "# HELP mspl_bundle_stale 1 while the bundle is older than --bundle-max-age.\n",
        );
        out.push_str("# TYPE mspl_bundle_stale gauge\n");
        let _ = writeln!(out, "mspl_bundle_stale {}", u8::from(self.stale()));
    }
}
