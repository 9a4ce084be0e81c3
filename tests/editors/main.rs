//! The language server: in memory, over stdio, and driven by real editors.
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

#[path = "../support/lsp_wire.rs"]
mod lsp_wire;

#[path = "../support/skip.rs"]
mod skip;

mod editors;
mod lsp;
