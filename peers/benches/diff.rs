//! `mspl diff` on a Model Studio world against the full matrix, in one run
//! (docs/performance.md, "Diff", has the results and the machine).
//!
//! ```sh
//! cargo bench -p mspl-peers --bench diff -- --help
//! ```
//!
//! The world is the audit benchmark's (about 20,000 entities by default).
//! Measured after load: the full access matrix on every core (once), then
//! `mspl diff` over the whole domain for two policy changes: one that
//! touches one permit on one action (`rule-11-view-bills` asks for another
//! system policy; median of `--repeat` runs), one that touches every
//! request (the cross-account forbid, `rule-02-cross-account`, no longer
//! applies to RAM roles; median of `--repeat-whole` runs, as the matrix)
//! and a data change (a RAM user joins a workspace). Each diff is checked against
//! the prepared sets of both versions deciding on the requests of the
//! changed actions of a sample of principals.
//!
//! Run by `cargo test` (without `--bench`), it does a small smoke run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[path = "../support/model_studio.rs"]
mod model_studio;

use clap::Parser;
use mspl::__internal::authorize::PreparedSet;
use mspl::__internal::policy_set::{IdScheme, Loader, PolicySet};
use mspl::__internal::Request;
use mspl_cli::audit::{Auditor, Run};
use mspl_cli::diff::Diff;
use mspl_peers::world::{World, WorldArgs};

#[derive(Parser, Debug)]
struct Args {
    /// The world.
    #[command(flatten)]
    world: WorldArgs,
    /// Runs of the one-permit diff (the median is reported).
    #[arg(long, default_value_t = 5)]
    repeat: usize,
    /// Runs of the matrix and of the every-request diff (medians).
    #[arg(long, default_value_t = 3)]
    repeat_whole: usize,
    /// Principals whose requests brute force checks.
    #[arg(long, default_value_t = 100)]
    sample: usize,
    /// Threads [default: every core].
    #[arg(long)]
    threads: Option<usize>,
    /// Set by `cargo bench`.
    #[arg(long, hide = true)]
    bench: bool,
}

/// "median of N" or "once".
fn runs(n: usize) -> String {
    if n > 1 {
        format!("median of {n}")
    } else {
        "once".to_string()
    }
}

fn secs(d: Duration) -> String {
    if d.as_secs_f64() < 1.0 {
        format!("{:.1} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// The Model Studio set with `find` replaced by `replace` in `file`.
fn changed(policies: &std::path::Path, file: &str, find: &str, replace: &str) -> PolicySet {
    let mut loader = Loader::new(mspl::__internal::Limits::default());
    let mut paths: Vec<PathBuf> = std::fs::read_dir(policies)
        .expect("the policies")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "mspl"))
        .collect();
    paths.sort();
    for path in paths {
        let mut text = std::fs::read_to_string(&path).expect("a policy file");
        if path.file_name().is_some_and(|n| n == file) {
            assert_eq!(text.matches(find).count(), 1, "{find} in {file}");
            text = text.replace(find, replace);
        }
        loader.add_source(path.display().to_string(), text);
    }
    let (set, diagnostics) = loader.finish(IdScheme::Annotated);
    assert!(
        diagnostics
            .iter()
            .all(|d| d.severity != mspl::__internal::diag::Severity::Error),
        "{diagnostics:?}"
    );
    set
}

/// The world's entity JSON with a RAM user joined to a workspace of its
/// account that it had not joined: that user's uid, and the text.
fn member_added(entities: &serde_json::Value) -> (String, String) {
    let mut entities = entities.clone();
    let list = entities.as_array_mut().expect("an array of entities");
    let workspaces: Vec<serde_json::Value> = list
        .iter()
        .filter(|e| e["uid"]["type"] == "Workspace")
        .cloned()
        .collect();
    // The first RAM user with a workspace of its account still to join.
    let unjoined = |e: &serde_json::Value| {
        let parents = e["parents"].as_array().cloned().unwrap_or_default();
        workspaces
            .iter()
            .find(|w| {
                w["attrs"]["account"] == e["attrs"]["account"] && !parents.contains(&w["uid"])
            })
            .map(|w| w["uid"].clone())
    };
    let (user, joined) = list
        .iter_mut()
        .filter(|e| e["uid"]["type"] == "RamUser")
        .find_map(|e| unjoined(e).map(|w| (e, w)))
        .expect("a RAM user with a workspace to join");
    user["parents"]
        .as_array_mut()
        .expect("parents")
        .push(joined);
    let uid = format!(
        "RamUser::\"{}\"",
        user["uid"]["id"].as_str().unwrap_or_default()
    );
    (uid, entities.to_string())
}

fn main() -> ExitCode {
    let mut args = Args::parse();
    if !args.bench {
        // `cargo test`: a smoke run.
        args.world.shrink_for_smoke();
        args.repeat = 1;
        args.repeat_whole = 1;
        args.sample = 10;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = args.threads.unwrap_or(cores).max(1);
    let world = World::generate(args.world.seed, &args.world.params());
    let policies = model_studio::folder();
    let options = mspl::__internal::Options::default();
    let old_prepared = model_studio::prepared(options);
    let old = old_prepared.set();
    let store = model_studio::store(old, &world.entities_json().to_string());
    let entities = &store;
    let auditor = Auditor::new(&old_prepared, entities, None).expect("a domain");
    println!(
        "# mspl diff on a Model Studio world (seed {}, {threads} threads of {cores} cores)\n",
        args.world.seed
    );
    println!(
        "world: {} entities, {} requests in the domain\n",
        entities.len(),
        auditor.domain.size()
    );
    let run = Run {
        threads,
        max_results: None,
        all: false,
    };
    // The matrix and the every-request diff take about as long as each
    // other and vary by a few percent from run to run: both are medians of
    // `--repeat-whole` runs.
    let mut matrix_times = Vec::new();
    let mut matrix = None;
    for _ in 0..args.repeat_whole.max(1) {
        let started = Instant::now();
        matrix = Some(auditor.matrix(&[], &[], run));
        matrix_times.push(started.elapsed());
    }
    let matrix = matrix.expect("at least one run");
    matrix_times.sort();
    let matrix_time = matrix_times[matrix_times.len() / 2];
    println!("| query | time | flips | against the matrix | goal |");
    println!("|---|---:|---:|---:|---|");
    println!(
        "| matrix ({} lines) | {} ({}) | | 1.00x | |",
        matrix.lines.len(),
        secs(matrix_time),
        runs(matrix_times.len())
    );

    // A data change: the first RAM user joins one more workspace of its
    // account.
    let (joined, member_added) = member_added(&world.entities_json());
    let joined_store = mspl::__internal::entities::build::build_entities(
        &old.schema,
        [("joined.json", member_added.as_str())],
    )
    .expect("the changed world loads");
    let cases = [
        (
            "one permit on one action: `rule-11-view-bills` asks for AliyunBSSOrderAccess"
                .to_string(),
            changed(
                &policies,
                "billing.mspl",
                "holds(principal, \"AliyunBSSReadOnlyAccess\")",
                "holds(principal, \"AliyunBSSOrderAccess\")",
            ),
            entities.clone(),
            args.repeat,
            0.1,
        ),
        (
            "every request: `rule-02-cross-account` no longer binds RAM roles".to_string(),
            changed(
                &policies,
                "accounts_and_ram.mspl",
                "when { ram_identity(principal) && !same_account(principal, resource) };",
                "when { principal is RamUser && !same_account(principal, resource) };",
            ),
            entities.clone(),
            args.repeat_whole,
            1.0,
        ),
        (
            format!("a data change: {joined} joins a workspace"),
            old.clone(),
            joined_store,
            args.repeat,
            f64::INFINITY,
        ),
    ];
    let principals = auditor.domain.principals();
    let step = (principals.len() / args.sample.max(1)).max(1);
    for (label, new, new_store, repeat, goal) in cases {
        let new = PreparedSet::new(new, options);
        let diff = Diff::new(&old_prepared, entities.clone(), &new, new_store.clone());
        let mut times = Vec::new();
        let mut flips = Vec::new();
        for _ in 0..repeat.max(1) {
            let started = Instant::now();
            flips = diff.over_domain(None, threads, &|_| None).expect("a diff");
            times.push(started.elapsed());
        }
        times.sort();
        let median = times[times.len() / 2];
        // Brute force on a sample: every request of the sampled
        // principals, both versions, one by one.
        let d = &auditor.domain;
        let mut expected = Vec::new();
        // The sample, and the principal the data change is about.
        let mut sample: Vec<u32> = principals.iter().copied().step_by(step).collect();
        sample.extend(
            principals
                .iter()
                .copied()
                .filter(|&p| entities.node_uid(p).to_string() == joined),
        );
        for &p in &sample {
            for a in &d.actions {
                if !a.principals.contains(&p) {
                    continue;
                }
                for &r in &a.resources {
                    for &c in &a.contexts {
                        let request = Request {
                            principal: entities.node_uid(p).clone(),
                            action: a.action.clone(),
                            resource: entities.node_uid(r).clone(),
                            context: d.contexts[c as usize].clone(),
                        };
                        let before = old_prepared.authorize(entities, &request);
                        let after = new.authorize(&new_store, &request);
                        if before.decision != after.decision {
                            expected.push(format!(
                                "{} {} {} {}",
                                request.principal,
                                request.action,
                                request.resource,
                                d.context_json[c as usize]
                            ));
                        }
                    }
                }
            }
        }
        let sampled: std::collections::BTreeSet<String> = sample
            .iter()
            .map(|&p| entities.node_uid(p).to_string())
            .collect();
        let got: Vec<String> = flips
            .iter()
            .filter(|f| sampled.contains(&f.request.principal.to_string()))
            .map(|f| {
                format!(
                    "{} {} {} {}",
                    f.request.principal, f.request.action, f.request.resource, f.context_json
                )
            })
            .collect();
        expected.sort();
        let mut got_sorted = got.clone();
        got_sorted.sort();
        assert_eq!(
            got_sorted, expected,
            "{label}: the diff differs from brute force on the sample"
        );
        let ratio = median.as_secs_f64() / matrix_time.as_secs_f64();
        println!(
            "| diff, {label} | {} ({}) | {} | {ratio:.3}x | {} |",
            secs(median),
            runs(repeat),
            flips.len(),
            if goal.is_infinite() {
                "no goal".to_string()
            } else if ratio <= goal {
                format!("<= {goal}x: met")
            } else {
                format!("<= {goal}x: NOT met")
            }
        );
    }
    ExitCode::SUCCESS
}
