//! `mspl test PATH…`: run policy test files, one line per case, a diff on
//! failure, and `N passed, M failed` at the end.

use super::common::Outcome;
use crate::testing::{self, coverage::Coverage, RunOptions};
use crate::Limits;
use std::path::{Path, PathBuf};

/// Arguments of `mspl test`.
#[derive(clap::Args, Debug)]
pub struct TestArgs {
    /// Test files (`*.json`) or directories searched for them.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Policies for test files that name none.
    #[arg(long, num_args = 1..)]
    pub policies: Vec<PathBuf>,
    /// Write the actual outputs as snapshots beside the test files.
    #[arg(long)]
    pub update: bool,
    /// Report which policies, condition parts and rule clauses ran.
    #[arg(long)]
    pub coverage: bool,
    /// Cedar's semantics: erroring policies are skipped, ids are `policyN`.
    #[arg(long)]
    pub cedar: bool,
}

/// Runs `mspl test`: 0 when every case passes, 1 on a failure or bad input.
pub fn run(args: &TestArgs) -> Outcome {
    let mut out = Outcome::default();
    let options = RunOptions { cedar: args.cedar };
    let mut files = Vec::new();
    for p in &args.paths {
        collect(p, &mut files);
    }
    files.sort();
    let (mut passed, mut failed) = (0usize, 0usize);
    let mut coverage = Coverage::default();
    for file in &files {
        let name = file.display().to_string();
        let suite = match testing::load(file, &args.policies, options) {
            Ok(s) => s,
            Err(problems) => {
                out.stdout.push_str(&format!("ERROR {name}\n"));
                out.stderr.push_str(&testing::render_problems(&problems));
                failed += 1;
                continue;
            }
        };
        let results = testing::run(&suite, options, |_, _| {});
        for r in &results {
            if r.differences.is_empty() {
                out.stdout.push_str(&format!("PASS {name}: {}\n", r.name));
                passed += 1;
            } else {
                out.stdout.push_str(&format!("FAIL {name}: {}\n", r.name));
                for d in &r.differences {
                    out.stdout.push_str(&format!("    {d}\n"));
                }
                failed += 1;
            }
        }
        let snapshot = testing::snapshot_text(&results);
        let snap_path = testing::snapshot_path(file);
        if args.update {
            if let Err(e) = std::fs::write(&snap_path, &snapshot) {
                out.stderr
                    .push_str(&format!("cannot write `{}`: {e}\n", snap_path.display()));
                failed += 1;
            } else {
                out.stdout
                    .push_str(&format!("UPDATED {}\n", snap_path.display()));
            }
        } else if let Ok(expected) = std::fs::read_to_string(&snap_path) {
            if expected == snapshot {
                out.stdout.push_str(&format!(
                    "PASS {}: output matches the snapshot\n",
                    snap_path.display()
                ));
                passed += 1;
            } else {
                out.stdout.push_str(&format!(
                    "FAIL {}: output differs from the snapshot (review, then accept with --update)\n",
                    snap_path.display()
                ));
                for line in testing::diff(&expected, &snapshot) {
                    out.stdout.push_str(&format!("    {line}\n"));
                }
                failed += 1;
            }
        }
        if args.coverage {
            coverage.register(&suite.set);
            coverage.observe(&suite, &Limits::default());
        }
    }
    if files.is_empty() {
        out.stderr.push_str("no test files found\n");
        return out.exit(1);
    }
    if args.coverage {
        out.stdout.push_str(&coverage.report());
    }
    out.stdout
        .push_str(&format!("{passed} passed, {failed} failed\n"));
    out.exit(i32::from(failed > 0))
}

/// Test files: `*.json` files, directories searched recursively. Files that
/// are not test files (entity data, say) are told apart by their content.
fn collect(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_file() {
        out.push(path.to_path_buf());
        return;
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        out.push(path.to_path_buf());
        return;
    };
    for entry in entries.flatten() {
        let p = entry.path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|e| e == "json") && is_test_file(&p) {
            out.push(p);
        }
    }
}

fn is_test_file(path: &Path) -> bool {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| v.get("requests").is_some_and(|r| r.is_array()))
}
