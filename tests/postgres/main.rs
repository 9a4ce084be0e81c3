//! PostgreSQL as the entity source, against a real server
//! (`tests/support/postgres.rs`): the `db` commands and every reader of
//! entities; replicas following the change table (atomic transactions,
//! commits out of order, read-your-writes, a bad row, the database cut
//! off and restarted, prune, staleness); and the exactness property of
//! live data with every change written through SQL.
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

#[path = "../support/postgres.rs"]
mod postgres_cluster;

#[path = "../support/served.rs"]
mod served;

#[path = "../support/skip.rs"]
mod skip;

#[path = "../support/transactions.rs"]
mod transactions;

#[path = "../support/worlds.rs"]
#[allow(dead_code)]
mod worlds;

#[path = "../support/doc_examples.rs"]
#[allow(dead_code)]
mod doc_examples;

mod commands;
mod docs;
mod exact;
mod filtering;
mod follow;
mod proxy;
