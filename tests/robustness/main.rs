//! Robustness: every limit, the fail-closed guarantees, hostile data,
//! property tests, and the replay of the fuzzers' regression corpus.
//! ARCHITECTURE.md ("Limits and fail-closed guarantees") maps each promise
//! to the tests here that prove it.

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

#[path = "../support/harness.rs"]
mod harness;
#[path = "../support/skip.rs"]
mod skip;

mod fail_closed;
mod fuzz_regressions;
mod hostile;
mod hostile_files;
mod limits;
mod properties;

use mspl::__internal::authorize::{authorize, ErrorMode, Options, Response};
use mspl::__internal::diag::{Diagnostic, Severity};
use mspl::__internal::entities::build::build_entities_with;
use mspl::__internal::entities::json::{request_from_text_with, Origin};
use mspl::__internal::policy_set::{IdScheme, Loader, PolicySet};
use mspl::__internal::Limits;

/// The stack of the "any thread" tests: far less than a default thread's.
pub const SMALL_STACK: usize = 256 << 10;

/// Runs `f` in a thread with a 256 KiB stack and returns its result; a stack
/// overflow there aborts the whole test binary, so passing means none.
pub fn small_stack<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    std::thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("no panic")
}

/// Loads policy text; returns the set and its error diagnostics.
pub fn load(text: &str, limits: Limits) -> (PolicySet, Vec<Diagnostic>) {
    let mut loader = Loader::new(limits);
    loader.add_source("test.mspl".into(), text.into());
    let (set, diagnostics) = loader.finish(IdScheme::Annotated);
    let errors = diagnostics
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    (set, errors)
}

/// A request for `User::"alice"` to `Action::"read"` `Doc::"d"`.
pub const REQUEST: &str = r#"{"principal": {"type": "User", "id": "alice"}, "action": {"type": "Action", "id": "read"}, "resource": {"type": "Doc", "id": "d"}, "context": {}}"#;

/// Decides `request` against `policies` and `entities` (fail-closed).
pub fn decide(policies: &str, entities: &str, request: &str, limits: Limits) -> Response {
    decide_in(policies, entities, request, limits, ErrorMode::FailClosed)
}

/// [`decide`] in either error mode.
pub fn decide_in(
    policies: &str,
    entities: &str,
    request: &str,
    limits: Limits,
    errors: ErrorMode,
) -> Response {
    let (set, diagnostics) = load(policies, limits);
    assert!(
        diagnostics.is_empty(),
        "{}",
        set.sources.render(&diagnostics, false)
    );
    let store = build_entities_with(&set.schema, [("entities.json", entities)], &limits)
        .expect("entities load");
    let origin = Origin {
        file: "request.json",
        text: request,
        offset: 0,
    };
    let request =
        request_from_text_with(&origin, request, &set.schema, &limits).expect("request loads");
    authorize(
        &set,
        &store,
        &request,
        &Options {
            errors,
            limits,
            plain: false,
            deadline: None,
        },
    )
}

/// Runs the `mspl` command line in-process.
pub fn mspl(args: &[&str]) -> mspl_cli::cli::Outcome {
    mspl_cli::cli::execute(std::iter::once("mspl").chain(args.iter().copied()))
}
