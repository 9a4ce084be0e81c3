//! Replays the fuzzers' regression corpus: every file under
//! `tests/cases/fuzz-regressions/<target>/` is an input that once crashed
//! (or hung) target `<target>`, run again through the same harness.

use super::harness;
use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new("tests/cases/fuzz-regressions").join(target);
    // A target with no finding yet has no folder (git keeps no empty one).
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let mut files: Vec<_> = entries
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_file() && !matches!(p.extension(), Some(e) if e == "md"))
        .collect();
    files.sort();
    for f in files {
        let data = std::fs::read(&f).expect("read");
        let name = f.display().to_string();
        // Each input in a small thread: a crash names its file.
        let result = std::thread::Builder::new()
            .stack_size(super::SMALL_STACK)
            .spawn(move || run(&data))
            .expect("spawn")
            .join();
        assert!(result.is_ok(), "{name} panicked again");
    }
}

#[test]
fn parse() {
    replay("parse", harness::parse);
}

#[test]
fn data() {
    replay("data", harness::data);
}

#[test]
fn authorize() {
    replay("authorize", |data| {
        harness::authorize_case(data);
    });
}

#[test]
fn fmt() {
    replay("fmt", harness::fmt);
}

#[test]
fn declarations() {
    replay("declarations", harness::declarations);
}
