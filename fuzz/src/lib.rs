//! The fuzz targets' bodies, shared with `tests/fuzz_regressions.rs`.

#[path = "../../tests/support/harness.rs"]
pub mod harness;
