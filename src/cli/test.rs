//! `mspl test PATH…`: run policy test files, one line per case, a diff on
//! failure, and `N passed, M failed` at the end.

use super::common::Outcome;
use crate::diag::printable;
use crate::exit::Exit;
use crate::files::read::io_message;
use crate::files::walk::collect_with;
use crate::files::{read_text, write_file, Collected, TextKind};
use crate::limits::Limits;
use crate::testing::{self, coverage::Coverage, RunOptions};
use std::path::{Path, PathBuf};

/// Arguments of `mspl test`.
#[derive(clap::Args, Debug)]
pub struct TestArgs {
    /// Test files (`*.json`) or directories searched for them.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Policies for test files that name none.
    #[arg(short = 'p', long, alias = "policy", num_args = 1..)]
    pub policies: Vec<PathBuf>,
    /// Declaration files for test files that name no `schema`.
    #[arg(short = 's', long, num_args = 1..)]
    pub schema: Vec<PathBuf>,
    /// Template links for test files that name none (`-k`, as Cedar's CLI).
    #[command(flatten)]
    pub inputs: super::policy_args::PolicyInputs,
    /// Write the actual outputs as snapshots beside the test files.
    #[arg(long)]
    pub update: bool,
    /// Report which policies, condition parts and rule clauses ran.
    #[arg(long)]
    pub coverage: bool,
    /// Cedar's semantics: erroring policies are skipped, ids are `policyN`.
    #[arg(long)]
    pub cedar: bool,
    /// The limits in force.
    #[command(flatten)]
    pub limits: super::limit_args::LimitArgs,
}

/// Runs `mspl test`: 0 when every case passes, 1 on a failure or bad input.
pub fn run(args: &TestArgs) -> Outcome {
    let mut out = Outcome::default();
    let options = RunOptions {
        cedar: args.cedar,
        limits: args.limits.limits(),
    };
    let mut files = Vec::new();
    let mut warnings = Vec::new();
    for p in &args.paths {
        collect(p, &options.limits, &mut files, &mut warnings);
    }
    for w in warnings {
        out.stderr.push_str(&format!("warning: {w}\n"));
    }
    files.sort();
    let (mut passed, mut failed) = (0usize, 0usize);
    let mut coverage = Coverage::default();
    for file in &files {
        // File and case names are user strings: escaped, so that none can
        // forge a line of the report.
        let name = printable(&file.display().to_string()).into_owned();
        let defaults = testing::Defaults {
            policies: args.policies.clone(),
            schemas: args.schema.clone(),
            links: args.inputs.template_linked.clone(),
        };
        let suite = match testing::load(file, &defaults, options) {
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
            for w in &r.warnings {
                out.stderr.push_str(&format!(
                    "warning: {name}: {}: {}\n",
                    printable(&r.name),
                    printable(w)
                ));
            }
            if r.differences.is_empty() {
                out.stdout
                    .push_str(&format!("PASS {name}: {}\n", printable(&r.name)));
                passed += 1;
            } else {
                out.stdout
                    .push_str(&format!("FAIL {name}: {}\n", printable(&r.name)));
                for d in &r.differences {
                    out.stdout.push_str(&format!("    {d}\n"));
                }
                failed += 1;
            }
        }
        let snapshot = testing::snapshot_text(&results);
        let snap_path = testing::snapshot_path(file);
        if args.update {
            if let Err(e) = write_file(&snap_path, &snapshot) {
                out.stderr.push_str(&format!(
                    "cannot write `{}`: {}\n",
                    printable(&snap_path.display().to_string()),
                    io_message(&e)
                ));
                failed += 1;
            } else {
                out.stdout.push_str(&format!(
                    "UPDATED {}\n",
                    printable(&snap_path.display().to_string())
                ));
            }
        } else if let Ok(expected) = read_text(
            &snap_path,
            options.limits.max_data_file_bytes,
            TextKind::Data,
        ) {
            let differences = testing::snapshot_differences(&expected, &results);
            let snap_name = printable(&snap_path.display().to_string()).into_owned();
            if differences.is_empty() {
                out.stdout
                    .push_str(&format!("PASS {snap_name}: output matches the snapshot\n"));
                passed += 1;
            } else {
                for (what, lines) in differences {
                    out.stdout.push_str(&format!(
                        "FAIL {snap_name}: {} (review, then accept with --update)\n",
                        printable(&what)
                    ));
                    for line in lines {
                        out.stdout.push_str(&format!("    {}\n", printable(&line)));
                    }
                }
                failed += 1;
            }
        }
        if args.coverage {
            coverage.register(&suite.set);
            coverage.observe(&suite, &options.limits);
        }
    }
    if files.is_empty() {
        out.stderr.push_str("no test files found\n");
        return out.exit(Exit::Failure);
    }
    if args.coverage {
        out.stdout.push_str(&coverage.report());
    }
    out.stdout
        .push_str(&format!("{passed} passed, {failed} failed\n"));
    out.exit(Exit::failure_if(failed > 0))
}

/// Test files: `*.json` files, directories searched recursively (each
/// file once, links followed without cycles). Files that are not test files
/// (entity data, say) are told apart by their content.
fn collect(path: &Path, limits: &Limits, out: &mut Vec<PathBuf>, warnings: &mut Vec<String>) {
    if !path.is_dir() {
        out.push(path.to_path_buf());
        return;
    }
    let mut found = Collected::new();
    if collect_with(path, &["json"], &mut found).is_err() {
        out.push(path.to_path_buf());
        return;
    }
    warnings.append(&mut found.warnings);
    out.extend(found.files.into_iter().filter(|p| is_test_file(p, limits)));
}

fn is_test_file(path: &Path, limits: &Limits) -> bool {
    read_text(path, limits.max_data_file_bytes, TextKind::Data)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| v.get("requests").is_some_and(|r| r.is_array()))
}
