//! `mspl test`: output when suites pass, fail, are snapshotted with
//! `--update` and measured with `--coverage`; snapshots of the runner's own
//! output are in `tests/cases/test-runner/`. Also: the Model Studio suite
//! passes with full coverage, and Cedar's own hand-written tests run as they are.

use crate::shared_data;

use std::path::Path;
use std::process::Command;

fn mspl(args: &[&str], dir: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mspl"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("mspl runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn snapshot(name: &str, code: i32, text: &str) {
    insta::with_settings!({snapshot_path => "../cases/test-runner", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(name, format!("exit: {code}\n{text}"));
    });
}

const SUITE: &str = "tests/cases/test-runner/suite";

#[test]
fn a_passing_suite() {
    let (code, text) = mspl(&["test", &format!("{SUITE}/passing.json")], Path::new("."));
    assert_eq!(code, 0, "{text}");
    snapshot("passing", code, &text);
}

#[test]
fn a_failing_suite_shows_what_differs() {
    let (code, text) = mspl(&["test", &format!("{SUITE}/failing.json")], Path::new("."));
    assert_eq!(code, 1, "{text}");
    snapshot("failing", code, &text);
}

#[test]
fn coverage_names_what_never_ran() {
    let (code, text) = mspl(
        &["test", "--coverage", &format!("{SUITE}/passing.json")],
        Path::new("."),
    );
    assert_eq!(code, 0, "{text}");
    snapshot("coverage", code, &text);
}

#[test]
fn update_writes_snapshots_and_a_changed_output_fails_until_accepted() {
    let dir = tempfile::tempdir().expect("temp dir");
    for f in ["policies.mspl", "entities.json", "passing.json"] {
        std::fs::copy(Path::new(SUITE).join(f), dir.path().join(f)).expect("copy");
    }
    let (code, text) = mspl(&["test", "--update", "passing.json"], dir.path());
    assert_eq!(code, 0, "{text}");
    snapshot("update", code, &text);
    assert!(dir.path().join("passing.snap").exists());

    let (code, text) = mspl(&["test", "passing.json"], dir.path());
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("PASS passing.snap: output matches the snapshot"),
        "{text}"
    );

    // A reworded fix changes the output but no expectation: the snapshot catches it.
    let policies = std::fs::read_to_string(dir.path().join("policies.mspl")).expect("read");
    std::fs::write(
        dir.path().join("policies.mspl"),
        policies.replace("the Reader policy", "Reader"),
    )
    .expect("write");
    let (code, text) = mspl(&["test", "passing.json"], dir.path());
    assert_eq!(code, 1, "{text}");
    snapshot("snapshot-differs", code, &text);
}

#[test]
fn a_case_naming_an_undeclared_type_or_action_fails() {
    let (code, text) = mspl(
        &["test", "tests/cases/test-runner/declared/undeclared.json"],
        Path::new("."),
    );
    assert_eq!(code, 1, "{text}");
    snapshot("undeclared", code, &text);
}

#[test]
fn snapshots_survive_a_comment_a_reformat_and_another_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    for f in ["policies.mspl", "entities.json", "passing.json"] {
        std::fs::copy(Path::new(SUITE).join(f), dir.path().join(f)).expect("copy");
    }
    let (code, text) = mspl(&["test", "--update", "passing.json"], dir.path());
    assert_eq!(code, 0, "{text}");
    let snap = std::fs::read_to_string(dir.path().join("passing.snap")).expect("snapshot");
    assert!(
        !snap.contains("policies.mspl"),
        "a path in the snapshot: {snap}"
    );
    let passes =
        |text: &str| text.contains("output matches the snapshot") && !text.contains("FAIL");
    let policies = dir.path().join("policies.mspl");
    // A comment moves every policy down; another directory changes every
    // relative path; `mspl fmt` relays the text: none is a change.
    let text = std::fs::read_to_string(&policies).expect("read");
    std::fs::write(&policies, format!("// moved\n\n\n{text}")).expect("write");
    let test_file = dir.path().join("passing.json");
    let (code, text) = mspl(&["test", test_file.to_str().unwrap()], Path::new("/"));
    assert!(code == 0 && passes(&text), "{text}");
    let (code, text) = mspl(&["fmt", "policies.mspl"], dir.path());
    assert_eq!(code, 0, "{text}");
    let (code, text) = mspl(&["test", "passing.json"], dir.path());
    assert!(code == 0 && passes(&text), "{text}");
    // A real change fails, naming its case.
    let text = std::fs::read_to_string(&policies).expect("read");
    std::fs::write(&policies, text.replace("the Reader policy", "Reader")).expect("write");
    let (code, text) = mspl(&["test", "passing.json"], dir.path());
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains(
            "FAIL passing.snap: case `bob may not read, and is told to get Reader` differs"
        ),
        "{text}"
    );
    assert!(!text.contains("case `ann reads`"), "{text}");
}

#[test]
fn the_model_studio_suite_passes_with_full_coverage() {
    let (code, text) = mspl(
        &["test", "--coverage", "policies/model_studio/tests"],
        Path::new("."),
    );
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("policies: 15/15 matched by some request, 15/15 applied"),
        "{text}"
    );
    assert!(
        text.contains("rule clauses: 19/19 evaluated, 19/19 held"),
        "{text}"
    );
    assert!(!text.contains("\n  never "), "{text}");
}

#[test]
fn cedar_hand_written_tests_run_unchanged() {
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR"));
    let Some(root) = shared_data::cedar_suite(checkout, "Cedar's hand-written tests") else {
        return;
    };
    let (code, text) = mspl(&["test", "--cedar", "tests"], &root);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("\n74 passed, 0 failed\n"), "{text}");
    // The paths in a test file are the test file's, not the working
    // directory's: the same from anywhere else.
    let tests = root.join("tests");
    let (code, elsewhere) = mspl(
        &["test", "--cedar", tests.to_str().unwrap()],
        Path::new("/"),
    );
    assert_eq!(code, 0, "{elsewhere}");
    assert!(elsewhere.contains("\n74 passed, 0 failed\n"), "{elsewhere}");
}
