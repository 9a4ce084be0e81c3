//! The shared data beside the checkout (`../shared`): Cedar's conformance
//! suite, the AuthZEN working group's interop files. Never copied into the
//! repository, read where it is.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The suite beside `checkout` (the repository's root), or `None` after
/// saying that `what` is skipped, where it is absent outside CI; with
/// `CI=true` it must be there.
pub fn cedar_suite(checkout: &Path, what: &str) -> Option<PathBuf> {
    shared(checkout, "cedar-integration-tests", what)
}

/// The folder `name` of `../shared` beside `checkout`, or `None` after
/// saying that `what` is skipped, where it is absent outside CI; with
/// `CI=true` it must be there.
pub fn shared(checkout: &Path, name: &str, what: &str) -> Option<PathBuf> {
    let dir = checkout.join("../shared").join(name);
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "`{}` is missing; CI must have the shared data",
            dir.display()
        );
    }
    super::skip::skip(what, &format!("`{}` is absent", dir.display()));
    None
}
