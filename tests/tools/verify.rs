//! `mspl verify` against real solvers (z3 and cvc5, as `.ci/run` installs
//! them; skipped visibly where absent, required under `CI=true`):
//!
//! - `tests/cases/verify/corpus/NAME/`: policy files and `args.txt`, one
//!   `mspl verify` command per line, run in that folder; `expected.txt`
//!   beside holds each command's exit code and every slice's verdict
//!   (`MSPL_UPDATE_VERIFY=1` rewrites it; review the diff). Every
//!   counterexample is replayed outside `verify` (`mspl validate
//!   --entities`, `mspl authorize`, `mspl evaluate`), every proof of two
//!   versions is searched by `mspl diff` in vain ([`SEARCH_WORLDS`]), and cvc5
//!   gives z3's verdict wherever both answer;
//! - the mutants of `tests/cases/diff/mutants`: each gets a counterexample
//!   from `verify equivalent` that replays; the rewrites of
//!   `tests/cases/diff/equivalent` are proved equivalent by both solvers;
//! - `tests/cases/verify/mutants`: changes `diff` misses (they need a set
//!   larger than the generator ever draws, so no number of worlds finds
//!   them; measured once at 2,000), which `verify` catches;
//! - the Model Studio set's own `@property` rules, proved by both solvers;
//! - solvers that crash, hang or answer nonsense: `unknown`, never `proved`.

use crate::diff_cli::{cases_in, mspl_in, workspace};
use crate::solvers;
use serde_json::Value as Json;
use std::path::Path;

/// The generated worlds `mspl diff` searches where a test checks that it
/// finds nothing (a debug build searches about 60 a second).
const SEARCH_WORLDS: &str = "500";

/// Both solvers, or `None` after saying why `what` is skipped.
pub(crate) fn both(what: &str) -> Option<(String, String)> {
    Some((solvers::find("z3", what)?, solvers::find("cvc5", what)?))
}

/// `mspl diff --old old --new new MORE` in `dir` (a `workspace`).
fn diff_old_new(dir: &Path, more: &[&str]) -> (i32, String, String) {
    let mut args = vec!["diff", "--old", "old", "--new", "new"];
    args.extend_from_slice(more);
    mspl_in(dir, &args)
}

/// `mspl verify ARGS --solver S --format json` in `dir`: exit code and
/// the slices' objects.
pub(crate) fn verify_json(dir: &Path, args: &[&str], solver: &str) -> (i32, Vec<Json>, String) {
    let mut all = vec!["verify"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--solver", solver, "--format", "json"]);
    let (code, out, err) = mspl_in(dir, &all);
    let slices = serde_json::from_str::<Json>(&out)
        .ok()
        .and_then(|j| j.as_array().cloned())
        .unwrap_or_default();
    (code, slices, err)
}

/// A slice's name and verdict.
fn verdicts(slices: &[Json]) -> Vec<(String, String)> {
    slices
        .iter()
        .map(|s| {
            (
                format!(
                    "{} {} × {} × {}",
                    s["property"].as_str().unwrap_or_default(),
                    s["principal_type"].as_str().unwrap_or_default(),
                    s["action"].as_str().unwrap_or_default(),
                    s["resource_type"].as_str().unwrap_or_default()
                ),
                s["verdict"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Where both solvers answer, they agree; returns the slices cvc5 left
/// unknown that z3 answered, each named with `what` and z3's verdict.
fn agree(what: &str, z3: &[Json], cvc5: &[Json]) -> Vec<String> {
    let (a, b) = (verdicts(z3), verdicts(cvc5));
    assert_eq!(a.len(), b.len(), "{what}: the same slices");
    let mut cvc5_unknown = Vec::new();
    for ((slice, x), (_, y)) in a.iter().zip(&b) {
        let answered = |v: &str| v != "unknown";
        if answered(x) && answered(y) {
            assert_eq!(x, y, "{what}: {slice}: z3 and cvc5 disagree");
        } else if answered(x) {
            cvc5_unknown.push(format!("{what}: {slice}: z3 {x}"));
        }
    }
    cvc5_unknown
}

/// The flag after `name` in `args`.
fn flag<'a>(args: &[&'a str], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| *a == name)
        .and_then(|i| args.get(i + 1).copied())
}

/// `mspl authorize` of the counterexample in `cex` on `policies`: allowed,
/// and the JSON response.
fn authorize(dir: &Path, policies: &str, cex: &Path, cedar: bool) -> (bool, Json) {
    let (e, r) = (cex.join("entities.json"), cex.join("request.json"));
    let mut args = vec![
        "authorize",
        "-p",
        policies,
        "--entities",
        e.to_str().unwrap(),
        "--request",
        r.to_str().unwrap(),
        "--format",
        "json",
    ];
    if cedar {
        args.push("--cedar");
    }
    let (code, out, err) = mspl_in(dir, &args);
    assert!(code == 0 || code == 2, "{out}{err}");
    (code == 0, serde_json::from_str(out.trim()).unwrap())
}

/// Replays the counterexample in `cex` of `mspl verify ARGS` with the
/// other commands: the store validates, and the property is broken as
/// `authorize` (and, for a `@property` rule, `evaluate`) says.
fn replay(dir: &Path, args: &[&str], cex: &Path, rule: Option<&str>) {
    let what = format!("{args:?} {}", cex.display());
    let cedar = args.contains(&"--cedar");
    let main = flag(args, "-p")
        .or(flag(args, "--new"))
        .or(flag(args, "--left"))
        .unwrap();
    let e = cex.join("entities.json");
    let (code, out, err) = mspl_in(
        dir,
        &["validate", "-p", main, "--entities", e.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{what}: the store does not validate: {out}{err}");
    let (allowed, response) = authorize(dir, main, cex, cedar);
    let other = flag(args, "--old").or(flag(args, "--right"));
    let other = other.map(|o| authorize(dir, o, cex, cedar).0);
    let broken = match args[0] {
        "never-errors" => !response["errors"].as_array().unwrap().is_empty(),
        "always-allows" => !allowed,
        "always-denies" => allowed,
        "no-new-access" => allowed && other == Some(false),
        "equivalent" => Some(allowed) != other,
        "disjoint" => allowed && other == Some(true),
        "property" => {
            let r = cex.join("request.json");
            let (_, holds, _) = mspl_in(
                dir,
                &[
                    "evaluate",
                    "-p",
                    main,
                    "--entities",
                    e.to_str().unwrap(),
                    "--request-json",
                    r.to_str().unwrap(),
                    &format!("{}()", rule.unwrap()),
                ],
            );
            allowed && holds.trim() != "true"
        }
        other => panic!("{what}: no replay for `{other}`"),
    };
    assert!(broken, "{what}: does not replay: {response}");
}

#[test]
fn the_corpus_answers_as_its_snapshots_and_every_answer_is_checked() {
    let Some((z3, cvc5)) = both("the verify corpus") else {
        return;
    };
    let root = Path::new("tests/cases/verify/corpus");
    let mut names: Vec<String> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 10, "the corpus has {} cases", names.len());
    let per_case = two_at_a_time(&names, |name| {
        let (mut replayed, mut searched, mut cvc5_unknown) = (0, 0, Vec::new());
        let dir = root.join(name);
        let args_text = std::fs::read_to_string(dir.join("args.txt")).unwrap();
        let mut report = String::new();
        for line in args_text.lines().filter(|l| !l.trim().is_empty()) {
            let args: Vec<&str> = line.split_whitespace().collect();
            let out = tempfile::tempdir().unwrap();
            let mut with_out = args.clone();
            let out_dir = out.path().to_str().unwrap();
            with_out.extend_from_slice(&["--out", out_dir]);
            let (code, slices, err) = verify_json(&dir, &with_out, &z3);
            report.push_str(&format!("$ verify {line}\nexit {code}\n"));
            if code == 1 {
                report.push_str(&format!("{}\n", err.trim_end()));
            }
            for ((slice, verdict), s) in verdicts(&slices).into_iter().zip(&slices) {
                report.push_str(&format!("{verdict:<15} {slice}\n"));
                if let Some(why) = s["reason"].as_str() {
                    report.push_str(&format!("  {why}\n"));
                }
            }
            // Counterexamples, in the order they were written.
            let mut n = 0;
            for s in &slices {
                if s["verdict"] == "counterexample" {
                    n += 1;
                    let rule = s["property"]
                        .as_str()
                        .and_then(|p| p.strip_prefix("property "));
                    replay(&dir, &args, &out.path().join(n.to_string()), rule);
                    replayed += 1;
                }
            }
            // A proof of two versions: the generated stores find nothing.
            if code == 0 && matches!(args[0], "equivalent" | "no-new-access") {
                let fail_on = if args[0] == "equivalent" {
                    "any"
                } else {
                    "new-access"
                };
                let (old, new) = (flag(&args, "--old").unwrap(), flag(&args, "--new").unwrap());
                let (dcode, dout, derr) = mspl_in(
                    &dir,
                    &[
                        "diff",
                        "--old",
                        old,
                        "--new",
                        new,
                        "--worlds",
                        SEARCH_WORLDS,
                        "--seed",
                        "1",
                        "--fail-on",
                        fail_on,
                    ],
                );
                assert_eq!(
                    dcode, 0,
                    "{name}: {line}: proved, but diff finds {dout}{derr}"
                );
                searched += 1;
            }
            if code != 1 {
                let (_, other, _) = verify_json(&dir, &args, &cvc5);
                cvc5_unknown.extend(agree(&format!("{name}: {line}"), &slices, &other));
            }
        }
        let expected = dir.join("expected.txt");
        if std::env::var_os("MSPL_UPDATE_VERIFY").is_some() {
            std::fs::write(&expected, &report).unwrap();
        } else {
            let want = std::fs::read_to_string(&expected).unwrap_or_else(|_| {
                panic!(
                    "{} is missing: run with MSPL_UPDATE_VERIFY=1",
                    expected.display()
                )
            });
            assert_eq!(report, want, "{} differs", expected.display());
        }
        (replayed, searched, cvc5_unknown)
    });
    let replayed: usize = per_case.iter().map(|c| c.0).sum();
    let searched: usize = per_case.iter().map(|c| c.1).sum();
    let cvc5_unknown: Vec<String> = per_case.into_iter().flat_map(|c| c.2).collect();
    eprintln!(
        "{replayed} counterexamples replayed, {searched} proofs searched by diff --worlds {SEARCH_WORLDS}, \
         {} slices z3 answered and cvc5 left unknown:\n  {}",
        cvc5_unknown.len(),
        cvc5_unknown.join("\n  ")
    );
    assert!(replayed >= 10 && searched >= 3);
}

#[test]
fn every_mutant_gets_a_counterexample_and_every_rewrite_a_proof() {
    let Some((z3, cvc5)) = both("verify on the diff mutants") else {
        return;
    };
    let mutants = cases_in("tests/cases/diff/mutants");
    assert!(mutants.len() >= 14);
    // Two at a time: a solver's answer leaves the other core idle.
    let cvc5_unknown: Vec<String> = two_at_a_time(&mutants, |(name, case)| {
        let dir = workspace(case, name);
        let args = ["equivalent", "--old", "old", "--new", "new", "--out", "cex"];
        let (code, slices, err) = verify_json(dir.path(), &args, &z3);
        assert_eq!(
            code, 2,
            "{name} ({}): not caught: {slices:?}{err}",
            case["what"]
        );
        // The first counterexample replays (the corpus replays every one;
        // `verify` itself confirmed each with `authorize` already).
        replay(dir.path(), &args, &dir.path().join("cex/1"), None);
        assert!(
            slices.iter().all(|s| s["verdict"] != "unknown"),
            "{name}: z3 left a slice unknown: {slices:?}"
        );
        let (_, other, _) = verify_json(dir.path(), &args[..5], &cvc5);
        agree(name, &slices, &other)
    })
    .concat();
    for (name, case) in cases_in("tests/cases/diff/equivalent") {
        let dir = workspace(&case, &name);
        for solver in [&z3, &cvc5] {
            let (code, slices, err) = verify_json(
                dir.path(),
                &["equivalent", "--old", "old", "--new", "new"],
                solver,
            );
            assert_eq!(code, 0, "{name} ({solver}): {slices:?}{err}");
            assert_eq!(slices.len(), 66, "{name}: every slice of the set");
        }
        // One rewrite through the diff's gate.
        if name == "reordered-conjuncts" {
            let (code, out, err) = diff_old_new(
                dir.path(),
                &["--prove", "--fail-on", "any", "--solver", &z3],
            );
            assert_eq!(code, 0, "{name}: diff --prove: {out}{err}");
        }
    }
    eprintln!(
        "{} mutant slices z3 answered and cvc5 left unknown:\n  {}",
        cvc5_unknown.len(),
        cvc5_unknown.join("\n  ")
    );
}

/// `f` of each of `items` on two threads, the results in order.
fn two_at_a_time<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let half = items.len().div_ceil(2);
    std::thread::scope(|s| {
        let (first, second) = items.split_at(half);
        let f = &f;
        let other = s.spawn(move || second.iter().map(f).collect::<Vec<R>>());
        let mut out: Vec<R> = first.iter().map(f).collect();
        out.extend(other.join().expect("the second thread"));
        out
    })
}

#[test]
fn mutants_beyond_the_generator_are_caught() {
    let Some(z3) = solvers::find("z3", "mutants beyond the generator") else {
        return;
    };
    let mutants = cases_in("tests/cases/verify/mutants");
    assert!(mutants.len() >= 2);
    std::thread::scope(|s| {
        for (name, case) in &mutants {
            let z3 = &z3;
            s.spawn(move || {
                let dir = workspace(case, name);
                let (code, out, err) = diff_old_new(
                    dir.path(),
                    &["--worlds", SEARCH_WORLDS, "--seed", "1", "--fail-on", "any"],
                );
                assert_eq!(
                    code, 0,
                    "{name}: diff --worlds {SEARCH_WORLDS} finds it after all: {out}{err}"
                );
                let args = ["equivalent", "--old", "old", "--new", "new", "--out", "cex"];
                let (code, slices, err) = verify_json(dir.path(), &args, z3);
                assert_eq!(code, 2, "{name}: {slices:?}{err}");
                replay(dir.path(), &args, &dir.path().join("cex/1"), None);
                // The diff's gate with the proof trips where the search did not.
                let (code, out, err) = diff_old_new(
                    dir.path(),
                    &["--prove", "--fail-on", "new-access", "--solver", z3],
                );
                assert_eq!(code, 2, "{name}: diff --prove: {out}{err}");
                assert!(out.contains("no-new-access: counterexample"), "{out}");
            });
        }
    });
}

#[test]
fn the_model_studio_properties_are_proved() {
    let Some((z3, cvc5)) = both("the Model Studio properties") else {
        return;
    };
    for solver in [&z3, &cvc5] {
        let (code, slices, err) = verify_json(
            Path::new("."),
            &["property", "-p", "policies/model_studio"],
            solver,
        );
        assert_eq!(code, 0, "{solver}: {err}");
        // Three properties, each on the set's 66 slices.
        assert_eq!(slices.len(), 3 * 66);
        assert!(slices.iter().all(|s| s["verdict"] == "proved"));
    }
}

/// A fake solver: answers `--version` as z3 does, then runs `body`.
fn fake_solver(dir: &Path, name: &str, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'Z3 version 4.8.12 - 64 bit'; exit 0; fi\n{body}\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

/// `mspl verify disjoint --left left.mspl --right right.mspl --solver
/// SOLVER MORE` in `policies`.
fn verify_disjoint(policies: &Path, solver: &str, more: &[&str]) -> (i32, String, String) {
    let mut args = vec![
        "verify",
        "disjoint",
        "--left",
        "left.mspl",
        "--right",
        "right.mspl",
        "--solver",
        solver,
    ];
    args.extend_from_slice(more);
    mspl_in(policies, &args)
}

#[test]
fn a_solver_that_fails_gives_unknown_never_proved() {
    let dir = tempfile::tempdir().unwrap();
    let policies = Path::new("tests/cases/verify/corpus/disjoint");
    let solvers = [
        ("crashes", "kill -SEGV $$"),
        ("hangs", "exec sleep 600"),
        ("talks-nonsense", "while read l; do case \"$l\" in *check-sat*) echo banana;; esac; done"),
        // Claims a model it cannot show: the counterexample is never confirmed.
        (
            "lies",
            "while read l; do case \"$l\" in *check-sat*) echo sat;; *get-value*) echo '((x 1))';; esac; done",
        ),
    ];
    // The solvers mostly wait (on their timeouts): they run side by side.
    std::thread::scope(|s| {
        for (name, body) in solvers {
            let path = fake_solver(dir.path(), name, body);
            s.spawn(move || {
                let started = std::time::Instant::now();
                let (code, out, err) = verify_disjoint(policies, &path, &["--timeout", "1"]);
                assert_eq!(code, 3, "{name}: {out}{err}");
                assert!(
                    out.contains("unknown") && !out.contains("  proved"),
                    "{name}: {out}"
                );
                assert!(
                    started.elapsed().as_secs() < 30,
                    "{name}: took {:?}",
                    started.elapsed()
                );
            });
        }
        // `diff --prove` with a solver that hangs: exit 3, never a pass.
        let path = fake_solver(dir.path(), "hangs-again", "exec sleep 600");
        s.spawn(move || {
            let (code, out, err) = mspl_in(
                policies,
                &[
                    "diff",
                    "--old",
                    "left.mspl",
                    "--new",
                    "left.mspl",
                    "--prove",
                    "--fail-on",
                    "any",
                    "--solver",
                    &path,
                    "--solver-timeout",
                    "1",
                ],
            );
            assert_eq!(code, 3, "diff --prove: {out}{err}");
        });
    });
    // Not a solver at all: bad input.
    let path = dir.path().join("not-a-solver");
    std::fs::write(&path, "#!/bin/sh\necho hello\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let (code, _, err) = verify_disjoint(policies, path.to_str().unwrap(), &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("neither z3 nor cvc5"), "{err}");
}

#[test]
fn bad_input_is_refused_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bare.mspl"),
        "permit(principal, action, resource);\n",
    )
    .unwrap();
    let cases: [(&[&str], &str); 4] = [
        (
            &["verify", "never-errors", "-p", "bare.mspl"],
            "needs declarations",
        ),
        (
            &[
                "verify",
                "property",
                "-p",
                "policies/model_studio",
                "--name",
                "nope",
            ],
            "no rule `nope`",
        ),
        (
            &[
                "verify",
                "never-errors",
                "-p",
                "policies/model_studio",
                "--action",
                "nope",
            ],
            "nothing to prove",
        ),
        (
            &["verify", "equivalent", "--new", "bare.mspl"],
            "needs --old and --new",
        ),
    ];
    for (args, says) in cases {
        let here = if args.iter().any(|a| a.contains("policies/model_studio")) {
            Path::new(".")
        } else {
            dir.path()
        };
        let (code, out, err) = mspl_in(here, args);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
