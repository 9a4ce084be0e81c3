//! `mspl serve` on loopback: its API, AuthZEN, hostile clients, reloads and bundles.
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

#[path = "../support/served.rs"]
mod served;

#[path = "../support/shared_data.rs"]
mod shared_data;

#[path = "../support/skip.rs"]
mod skip;

#[path = "../support/transactions.rs"]
mod transactions;

#[path = "../support/worlds.rs"]
#[allow(dead_code)]
mod worlds;

mod api;
mod auth;
mod live;
mod plan;
mod reload;
mod signed_bundles;
mod tls;
