//! The decision path allocates nothing per request beyond the response: a
//! counting global allocator (this test binary's only) counts the
//! allocations made while deciding each Model Studio example, once the
//! thread's buffers have grown, and every one must be the response's own
//! vector of determining policies (or of errors).

// Test code: a failed expectation is a panic, and a test's own numbers
// are small. The lints that keep shipped code from panicking do not apply.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation,
    missing_docs
)]

use mspl::__internal::authorize::{authorize, Options, PreparedSet};
use mspl::__internal::entities::build::build_entities;
use mspl::__internal::entities::json::request_from_json;
use mspl::__internal::policy_set::{IdScheme, Loader};
use mspl::__internal::{Decision, Limits};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;

thread_local! {
    static CALLS: Cell<u64> = const { Cell::new(0) };
}

/// The system allocator, counting allocation calls per thread (other test
/// threads do not disturb the count).
struct Counting;

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counter is a thread-local cell that never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = CALLS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = CALLS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn calls() -> u64 {
    CALLS.with(Cell::get)
}

#[test]
fn deciding_allocates_only_the_response() {
    let mut loader = Loader::new(Limits::default());
    loader.add_path(Path::new("policies/model_studio"));
    let (set, diagnostics) = loader.finish(IdScheme::Annotated);
    assert!(diagnostics.is_empty());
    let examples = Path::new("policies/model_studio/examples");
    let text = std::fs::read_to_string(examples.join("entities.json")).expect("entities");
    let entities =
        build_entities(&set.schema, [("entities.json", text.as_str())]).expect("entities load");
    let requests: Vec<_> = std::fs::read_to_string(examples.join("requests.jsonl"))
        .expect("requests")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let json: serde_json::Value = serde_json::from_str(l).expect("request JSON");
            request_from_json(&json, &set.schema).expect("request")
        })
        .collect();
    let options = Options::default();
    let prepared = PreparedSet::new(set.clone(), options);
    for r in &requests {
        drop(prepared.authorize(&entities, r));
        drop(authorize(&set, &entities, r, &options));
    }
    let (mut allowed, mut denied) = (0, 0);
    for r in &requests {
        for indexed in [true, false] {
            let before = calls();
            let response = if indexed {
                prepared.authorize(&entities, r)
            } else {
                authorize(&set, &entities, r, &options)
            };
            let made = calls() - before;
            assert!(response.errors.is_empty(), "{r:?}");
            let own = u64::from(!response.determining.is_empty());
            assert_eq!(made, own, "allocations deciding {r:?} (indexed: {indexed})");
            if response.decision == Decision::Allow {
                allowed += 1;
            } else {
                denied += 1;
            }
        }
    }
    assert!(
        allowed > 20 && denied > 20,
        "{allowed} allowed, {denied} denied"
    );
}
