//! The language: parsing and its diagnostics, incremental reparsing, the formatter, the validator and its soundness, the evaluator's corpus.
//! One test binary (each links the whole crate); a module per area.

// Test code: a failed expectation is a panic, and a test's own numbers
// are small. The lints that keep shipped code from panicking do not apply.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation,
    missing_docs
)]

#[path = "../support/cases.rs"]
mod cases;

mod diagnostics;
mod eval;
mod fmt;
mod reparse;
mod syntax;
mod validate;
mod validate_soundness;
