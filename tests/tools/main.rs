//! The tools at the command line: golden commands, `mspl test`, the REPL, the audit, the diff, the pages' commands, the README, the codemap's rules.
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

#[path = "../support/doc_examples.rs"]
mod doc_examples;

#[path = "../support/gen.rs"]
#[allow(dead_code)]
mod gen;

#[path = "../support/shared_data.rs"]
mod shared_data;

#[path = "../support/skip.rs"]
mod skip;

#[path = "../support/solvers.rs"]
mod solvers;

#[path = "../support/worlds.rs"]
mod worlds;

mod architecture;
mod audit;
mod audit_cli;
mod audit_coverage;
mod cli;
mod diff;
mod diff_cli;
mod docs;
mod plan;
mod readme;
mod repl;
mod test_runner;
mod verify;
mod verify_laws;
