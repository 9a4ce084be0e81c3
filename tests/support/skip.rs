//! A test that cannot run here (a tool missing, `../shared` absent, not
//! root) says so where it can be seen: on standard error, and as a line of
//! the skip log that `.ci/run` prints at its end (`MSPL_SKIP_LOG`, else
//! `skipped-tests.txt` in cargo's temporary folder for tests), so a green
//! run never hides what it did not check.

#![allow(dead_code)]

use std::io::Write;

/// Says that `what` is skipped, and why.
pub fn skip(what: &str, why: &str) {
    eprintln!("skipped {what}: {why}");
    let log = std::env::var_os("MSPL_SKIP_LOG")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("skipped-tests.txt")
        });
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
    {
        let _ = writeln!(f, "{what}: {why}");
    }
}
