//! `mspl diff` and `mspl generate` from the command line, tested from files:
//!
//! - `tests/cases/diff/mutants/NAME.json`: a change of the Model Studio set
//!   that changes what it allows (edits of its files); each is caught by
//!   `--worlds` with a fixed seed, and its counterexample reproduces under
//!   `mspl authorize` (the old version decides one way, the new the other);
//! - `tests/cases/diff/equivalent/NAME.json`: rewrites that change no
//!   decision; the search finds no difference;
//! - `tests/cases/diff/examples/NAME.json`: whole command lines run in a
//!   directory holding `old/` (the Model Studio set), `new/` (with a
//!   mutant's edits), `entities.json` (the shipped examples),
//!   `new-entities.json` (with the case's entity edits) and
//!   `requests.jsonl`; beside each, `NAME.out` with the exit code, stdout
//!   and stderr. `MSPL_UPDATE_DIFF=1` rewrites them (review the diff);
//! - every command of `docs/diff.md`, with the output shown there.

use crate::doc_examples;
use crate::skip;

use serde_json::Value as Json;
use std::path::{Path, PathBuf};
use std::process::Command;

const POLICIES: &str = "policies/model_studio";
/// The search every mutant must be caught by (and the budget it costs).
const WORLDS: &str = "200";
const SEED: &str = "1";

/// Runs the binary in `dir`: (exit code, stdout, stderr).
pub(crate) fn mspl_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mspl"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if path.is_dir() {
            continue; // examples/ and tests/ are not policies
        }
        std::fs::copy(&path, to.join(entry.file_name())).unwrap();
    }
}

/// Applies a case's `edits` (each `find` occurring once in its `file`)
/// below `dir`.
fn apply_edits(dir: &Path, edits: &Json, what: &str) {
    for e in edits.as_array().into_iter().flatten() {
        let path = dir.join(e["file"].as_str().unwrap());
        let text = std::fs::read_to_string(&path).unwrap();
        let find = e["find"].as_str().unwrap();
        assert_eq!(
            text.matches(find).count(),
            1,
            "{what}: `{find}` must occur once in {}",
            path.display()
        );
        std::fs::write(
            &path,
            text.replacen(find, e["replace"].as_str().unwrap(), 1),
        )
        .unwrap();
    }
}

/// A directory with `old/` and `new/` (the case applied) and the data.
pub(crate) fn workspace(case: &Json, what: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(Path::new(POLICIES), &dir.path().join("old"));
    copy_dir(Path::new(POLICIES), &dir.path().join("new"));
    apply_edits(&dir.path().join("new"), &case["edits"], what);
    if case["fmt"] == Json::Bool(true) {
        let (code, _, err) = mspl_in(dir.path(), &["fmt", "new"]);
        assert_eq!(code, 0, "{err}");
    }
    let examples = Path::new(POLICIES).join("examples");
    std::fs::copy(
        examples.join("entities.json"),
        dir.path().join("entities.json"),
    )
    .unwrap();
    std::fs::copy(
        examples.join("entities.json"),
        dir.path().join("new-entities.json"),
    )
    .unwrap();
    std::fs::copy(
        examples.join("requests.jsonl"),
        dir.path().join("requests.jsonl"),
    )
    .unwrap();
    apply_edits(dir.path(), &case["entity_edits"], what);
    dir
}

fn cases(kind: &str) -> Vec<(String, Json)> {
    cases_in(&format!("tests/cases/diff/{kind}"))
}

/// The cases (`NAME.json`) of the folder `dir`, by name.
pub(crate) fn cases_in(dir: &str) -> Vec<(String, Json)> {
    let mut out: Vec<(String, Json)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            let case: Json = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            (name, case)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn search(dir: &Path, more: &[&str]) -> (i32, Json) {
    let mut args = vec![
        "diff", "--old", "old", "--new", "new", "--worlds", WORLDS, "--seed", SEED, "--format",
        "json",
    ];
    args.extend_from_slice(more);
    let (code, out, err) = mspl_in(dir, &args);
    let last = out
        .lines()
        .last()
        .unwrap_or_else(|| panic!("no output: {err}"));
    (code, serde_json::from_str(last).unwrap())
}

#[test]
fn every_mutant_is_caught_and_its_counterexample_reproduces() {
    let mutants = cases("mutants");
    assert!(
        mutants.len() >= 12,
        "the corpus has {} mutants",
        mutants.len()
    );
    for (name, case) in &mutants {
        let dir = workspace(case, name);
        let (code, found) = search(
            dir.path(),
            &["--fail-on", "any", "--counterexample-dir", "cex"],
        );
        assert_eq!(code, 2, "{name} ({}): not caught: {found}", case["what"]);
        let c = &found["counterexample"];
        // Reproduced by `mspl authorize` on both versions: exit 0 allows, 2 denies.
        let mut decisions = Vec::new();
        for version in ["old", "new"] {
            let (code, out, err) = mspl_in(
                dir.path(),
                &[
                    "authorize",
                    "--policies",
                    version,
                    "--entities",
                    "cex/entities.json",
                    "--request",
                    "cex/request.json",
                ],
            );
            assert!(code == 0 || code == 2, "{name}: {out}{err}");
            decisions.push(if code == 0 { "allow" } else { "deny" });
        }
        assert_ne!(
            decisions[0], decisions[1],
            "{name}: the counterexample does not reproduce"
        );
        assert_eq!(c["old"], decisions[0], "{name}");
        assert_eq!(c["new"], decisions[1], "{name}");
        // Shrunk: no bigger than the store it was found in.
        let size = c["entities"].as_array().unwrap().len();
        assert!(size as u64 <= c["found_in"].as_u64().unwrap(), "{name}");
        // And it satisfies the Model Studio invariants: the generated store
        // validates, and `mspl generate`'s checks hold (one default
        // workspace per account, among others).
        let (code, out, err) = mspl_in(
            dir.path(),
            &[
                "validate",
                "--policies",
                "new",
                "--entities",
                "cex/entities.json",
            ],
        );
        assert_eq!(code, 0, "{name}: {out}{err}");
    }
}

#[test]
fn semantics_preserving_rewrites_show_no_difference() {
    for (name, case) in cases("equivalent") {
        let dir = workspace(&case, &name);
        let (code, found) = search(dir.path(), &["--fail-on", "any"]);
        assert_eq!(code, 0, "{name} ({}): {found}", case["what"]);
        assert_eq!(found["no_difference"]["worlds"], 200, "{name}");
    }
}

/// Compares `actual` with the file at `path`, or writes it there with
/// `MSPL_UPDATE_DIFF=1`.
fn expect_file(path: &Path, actual: &str) {
    if std::env::var_os("MSPL_UPDATE_DIFF").is_some() {
        std::fs::write(path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path)
        .unwrap_or_else(|_| panic!("{} is missing: run with MSPL_UPDATE_DIFF=1", path.display()));
    assert_eq!(actual, expected, "{} differs", path.display());
}

#[test]
fn command_lines_print_and_exit_as_their_snapshots() {
    let examples = cases("examples");
    assert!(examples.len() >= 8);
    for (name, case) in examples {
        let mut case = case;
        if let Some(mutant) = case["mutant"].as_str() {
            let m: Json = serde_json::from_str(
                &std::fs::read_to_string(format!("tests/cases/diff/mutants/{mutant}.json"))
                    .unwrap(),
            )
            .unwrap();
            case["edits"] = m["edits"].clone();
        }
        let dir = workspace(&case, &name);
        let args: Vec<&str> = case["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        let (code, out, err) = mspl_in(dir.path(), &args);
        let got = format!("exit {code}\n--- stdout\n{out}--- stderr\n{err}");
        expect_file(
            &PathBuf::from(format!("tests/cases/diff/examples/{name}.out")),
            &got,
        );
    }
}

/// Runs `git` in `dir`, which must succeed.
fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn old_rev_reads_the_old_version_from_git_and_leaves_the_tree_alone() {
    if Command::new("git").arg("--version").output().is_err() {
        skip::skip("diff --old-rev", "git is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    git(repo, &["init", "-q"]);
    copy_dir(Path::new(POLICIES), &repo.join("policies"));
    std::fs::copy(
        Path::new(POLICIES).join("examples/entities.json"),
        repo.join("entities.json"),
    )
    .unwrap();
    git(repo, &["add", "."]);
    git(repo, &["commit", "-q", "-m", "policies"]);
    let billing = repo.join("policies/billing.mspl");
    let edited = std::fs::read_to_string(&billing).unwrap().replace(
        "holds(principal, \"AliyunBSSReadOnlyAccess\")",
        "holds(principal, \"AliyunBSSOrderAccess\")",
    );
    std::fs::write(&billing, &edited).unwrap();
    let args = [
        "diff",
        "--old-rev",
        "HEAD",
        "--new",
        "policies",
        "--entities",
        "entities.json",
        "--format",
        "json",
        "--fail-on",
        "new-access",
    ];
    let (code, out, err) = mspl_in(repo, &args);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        out.lines().count() >= 1 && out.contains("\"blame\":[\"rule-11-view-bills\"]"),
        "{out}"
    );
    // The working tree keeps its edit; nothing was checked out.
    assert_eq!(std::fs::read_to_string(&billing).unwrap(), edited);
    // From a subdirectory, and for one file.
    let (code, out, _) = mspl_in(
        &repo.join("policies"),
        &[
            "diff",
            "--old-rev",
            "HEAD",
            "--new",
            ".",
            "--entities",
            "../entities.json",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 0);
    assert!(out.contains("rule-11-view-bills"));
    // A revision that does not exist is bad input.
    let (code, _, err) = mspl_in(
        repo,
        &["diff", "--old-rev", "no-such-rev", "--new", "policies"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("no-such-rev"), "{err}");
}

#[test]
fn generate_is_deterministic_valid_and_keeps_the_invariants() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::env::current_dir().unwrap();
    let policies = root.join(POLICIES);
    let policies = policies.to_str().unwrap();
    for (seed, out) in [("7", "a"), ("7", "b"), ("8", "c")] {
        let (code, stdout, err) = mspl_in(
            dir.path(),
            &[
                "generate",
                "--policies",
                policies,
                "--seed",
                seed,
                "--max-entities",
                "20",
                "--out",
                out,
            ],
        );
        assert_eq!(code, 0, "{err}");
        assert!(
            stdout.starts_with(&format!("wrote {out}/entities.json")),
            "{stdout}"
        );
    }
    let read = |p: &str| std::fs::read_to_string(dir.path().join(p)).unwrap();
    assert_eq!(read("a/entities.json"), read("b/entities.json"));
    assert_eq!(read("a/requests.jsonl"), read("b/requests.jsonl"));
    assert_ne!(read("a/entities.json"), read("c/entities.json"));
    for out in ["a", "c"] {
        let entities: Json = serde_json::from_str(&read(&format!("{out}/entities.json"))).unwrap();
        let entities = entities.as_array().unwrap();
        assert!(entities.len() <= 20 && entities.len() >= 6);
        // One default workspace per account (an invariant of the set).
        for account in entities.iter().filter(|e| e["uid"]["type"] == "Account") {
            let defaults = entities
                .iter()
                .filter(|e| {
                    e["uid"]["type"] == "Workspace"
                        && e["attrs"]["account"]["__entity"]["id"] == account["uid"]["id"]
                        && e["attrs"]["is_default"] == true
                })
                .count();
            assert_eq!(defaults, 1, "{out}: {account}");
        }
        let (code, o, e) = mspl_in(
            dir.path(),
            &[
                "validate",
                "--policies",
                policies,
                "--entities",
                &format!("{out}/entities.json"),
            ],
        );
        assert_eq!(code, 0, "{o}{e}");
        let (code, o, e) = mspl_in(
            dir.path(),
            &[
                "authorize",
                "--policies",
                policies,
                "--entities",
                &format!("{out}/entities.json"),
                "--requests",
                &format!("{out}/requests.jsonl"),
                "--format",
                "json",
            ],
        );
        assert_eq!(code, 0, "{o}{e}");
        assert_eq!(
            o.lines().count(),
            read(&format!("{out}/requests.jsonl")).lines().count()
        );
    }
}

#[test]
fn every_example_of_docs_diff_runs_and_prints_what_it_shows() {
    let ran = doc_examples::check("docs/diff.md", "mspl ", |args| {
        let out = mspl_cli::cli::execute(std::iter::once("mspl").chain(args.iter().copied()));
        (out.code, out.stdout, out.stderr)
    });
    assert!(ran >= 5, "only {ran} commands in docs/diff.md");
}
