//! `mspl verify` on the Model Studio set (docs/performance.md, "Proofs"):
//! each `@property` rule over the set's 66 slices, and the equivalence of
//! the whole set against mutants of `tests/cases/diff/mutants` and
//! `tests/cases/verify/mutants`, with z3 and with cvc5 (Debian's), each
//! timed whole (the solver processes included).
//!
//! ```sh
//! cargo bench -p mspl-peers --bench verify
//! ```

#[path = "../support/model_studio.rs"]
mod model_studio;

use mspl::__internal::authorize::ErrorMode;
use mspl::__internal::Limits;
use mspl_cli::verify::solver::Solver;
use mspl_cli::verify::{check_slice, property_rules, slices, Check, Property, Verdict};
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

/// The set with a mutant's edits, loaded.
fn mutant(file: &Path) -> mspl::__internal::PolicySet {
    let case: Value =
        serde_json::from_str(&std::fs::read_to_string(file).expect("a case")).expect("JSON");
    let dir = tempfile::tempdir().expect("a folder");
    for entry in std::fs::read_dir(model_studio::folder()).expect("the set") {
        let path = entry.expect("an entry").path();
        if path.is_file() {
            std::fs::copy(&path, dir.path().join(path.file_name().expect("a name")))
                .expect("copied");
        }
    }
    for e in case["edits"].as_array().expect("edits") {
        let path = dir.path().join(e["file"].as_str().expect("a file"));
        let text = std::fs::read_to_string(&path).expect("a policy file");
        let find = e["find"].as_str().expect("find");
        assert_eq!(text.matches(find).count(), 1, "{}", file.display());
        std::fs::write(
            &path,
            text.replacen(find, e["replace"].as_str().expect("replace"), 1),
        )
        .expect("written");
    }
    model_studio::load(dir.path())
}

/// Every slice of `property`: (time, proved, counterexamples, unknown).
fn run(
    check: &Check,
    property: &Property,
    main: &mspl::__internal::PolicySet,
    other: Option<&mspl::__internal::PolicySet>,
) -> (Duration, usize, usize, usize) {
    let started = Instant::now();
    let (mut proved, mut found, mut unknown) = (0, 0, 0);
    for slice in slices(main, None, None, None) {
        match check_slice(check, property, main, other, &slice) {
            Verdict::Proved => proved += 1,
            Verdict::Counterexample { .. } => found += 1,
            Verdict::Unknown(_) | Verdict::Vacuous(_) => unknown += 1,
        }
    }
    (started.elapsed(), proved, found, unknown)
}

fn main() {
    let set = model_studio::load(&model_studio::folder());
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let mutants = [
        root.join("tests/cases/diff/mutants/remove-cross-account-forbid.json"),
        root.join("tests/cases/diff/mutants/roles-are-not-identities.json"),
        root.join("tests/cases/verify/mutants/four-policies-grant-management.json"),
    ];
    println!(
        "| solver | check | slices: proved / counterexample / unknown | time |\n|---|---|---|---:|"
    );
    for name in ["z3", "cvc5"] {
        let solver = match Solver::find(name, Duration::from_secs(30), 2048) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("skipped {name}: {e}");
                continue;
            }
        };
        let check = Check {
            solver,
            depth: 12,
            mode: ErrorMode::FailClosed,
            limits: Limits::default(),
        };
        let version = check.solver.version.clone();
        for (rule, rule_name) in property_rules(&set) {
            let (t, p, c, u) = run(&check, &Property::Rule(rule, rule_name.clone()), &set, None);
            println!(
                "| {version} | property `{rule_name}` | {p} / {c} / {u} | {:.2} s |",
                t.as_secs_f64()
            );
        }
        let (t, p, c, u) = run(&check, &Property::NeverErrors, &set, None);
        println!(
            "| {version} | never-errors | {p} / {c} / {u} | {:.2} s |",
            t.as_secs_f64()
        );
        for m in &mutants {
            let new = mutant(m);
            let (t, p, c, u) = run(&check, &Property::Equivalent, &new, Some(&set));
            let stem = m.file_stem().expect("a name").to_string_lossy();
            println!(
                "| {version} | equivalent to `{stem}` | {p} / {c} / {u} | {:.2} s |",
                t.as_secs_f64()
            );
        }
    }
}
