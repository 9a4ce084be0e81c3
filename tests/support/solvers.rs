//! The SMT solvers `mspl verify` runs (z3, cvc5): found on the `PATH`, or
//! the test that needs one says it is skipped (`skip.rs`); with `CI=true`
//! they must be there (`.ci/run` installs Debian's).

#![allow(dead_code)]

/// The path of `name` (`z3`, `cvc5`), or `None` after saying that `what`
/// is skipped.
pub fn find(name: &str, what: &str) -> Option<String> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    if let Some(p) = found {
        return Some(p.display().to_string());
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("`{name}` is missing; CI must have it (.ci/run installs it)");
    }
    super::skip::skip(what, &format!("`{name}` is not on the PATH"));
    None
}
