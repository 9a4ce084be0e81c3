//! How many cases an expensive property suite runs: its own default, or
//! `MSPL_TEST_CASES` when set (`.ci/run` sets it, so CI's time is chosen
//! in one place; a developer hunting a bug sets it higher).

#![allow(dead_code)]

/// `MSPL_TEST_CASES`, or `default`.
pub fn cases(default: u32) -> u32 {
    std::env::var("MSPL_TEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
