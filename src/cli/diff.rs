//! `mspl diff`: what a policy or data change flips, and a CI gate for new
//! access (docs/diff.md).

use super::common::{finish_loading, load_policies_with, Format, Outcome};
use super::input::{load_store, read_fixed_context, read_log};
use crate::authorize::{ErrorMode, Options, PreparedSet};
use crate::diag::{Diagnostic, Sources};
use crate::diff::report::{flip_json, text, verdict};
use crate::diff::search::{search, Counterexample, Search, SearchError};
use crate::diff::{Diff, Flip};
use crate::exit::Exit;
use crate::generate::request_json;
use crate::limits::Limits;
use crate::policy_set::{IdScheme, Loader, PolicySet};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Arguments of `mspl diff`.
#[derive(clap::Args, Debug)]
pub struct DiffArgs {
    /// The old version: policy files or directories.
    #[arg(long, num_args = 1.., required_unless_present = "old_rev", conflicts_with = "old_rev")]
    pub old: Vec<PathBuf>,
    /// The new version: policy files or directories.
    #[arg(long, num_args = 1.., required = true)]
    pub new: Vec<PathBuf>,
    /// Take the old version of the --new paths from git revision REV
    /// (no checkout; the working tree is untouched).
    #[arg(long, value_name = "REV")]
    pub old_rev: Option<String>,
    /// Extra declaration files, for both versions.
    #[arg(short = 's', long, num_args = 1..)]
    pub schema: Vec<PathBuf>,
    /// Template links of the new version (`-k`, as Cedar's CLI).
    #[command(flatten)]
    pub inputs: super::policy_args::PolicyInputs,
    /// Template links of the old version [default: the new version's].
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub old_template_linked: Option<Vec<PathBuf>>,
    /// The entity file of both versions, or a database (`postgres://…`).
    #[arg(long)]
    pub entities: Option<PathBuf>,
    /// A file holding the database URL to read the entities from (as
    /// `--entities postgres://…`, without showing a password to `ps`).
    #[arg(long, value_name = "FILE", conflicts_with = "entities")]
    pub entities_url_file: Option<PathBuf>,
    /// The old version's entity file (a data change) [default: --entities].
    #[arg(long)]
    pub old_entities: Option<PathBuf>,
    /// The new version's entity file [default: --entities].
    #[arg(long)]
    pub new_entities: Option<PathBuf>,
    /// Compare on the requests of a log (JSON lines of requests, or of
    /// decision-log lines with the request under "request") instead of the
    /// store's whole domain.
    #[arg(long, value_name = "LOG.jsonl", conflicts_with = "context")]
    pub requests: Option<PathBuf>,
    /// Fixed context attributes for every action (inline JSON or a file).
    #[arg(long)]
    pub context: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Cedar's semantics: erroring policies are skipped, ids are `policyN`.
    #[arg(long)]
    pub cedar: bool,
    /// Judge on N threads [default: every core]; the answer is the same.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Exit 2 when a request is newly allowed (`new-access`) or changes
    /// its decision at all (`any`).
    #[arg(long, value_enum, value_name = "WHAT")]
    pub fail_on: Option<FailOn>,
    /// Also search N generated stores for a request the versions decide
    /// differently (a bounded search, not a proof).
    #[arg(long, value_name = "N")]
    pub worlds: Option<usize>,
    /// The seed of the generated stores.
    #[arg(long, value_name = "S", default_value_t = 0, requires = "worlds")]
    pub seed: u64,
    /// The most entities of a generated store.
    #[arg(long, value_name = "K", default_value_t = 16, requires = "worlds")]
    pub max_entities: usize,
    /// Write the counterexample found there, as entities.json and request.json.
    #[arg(long, value_name = "DIR", requires = "worlds")]
    pub counterexample_dir: Option<PathBuf>,
    /// Also prove it for every store the declarations and invariants allow
    /// (`mspl verify`: `no-new-access` with `--fail-on new-access`,
    /// `equivalent` otherwise); exit 3 where the proof is unknown.
    #[arg(long)]
    pub prove: bool,
    /// The SMT solver for `--prove` [default: as `mspl verify`].
    #[arg(long, value_name = "PATH", requires = "prove")]
    pub solver: Option<String>,
    /// Seconds per solver query for `--prove`.
    #[arg(long, value_name = "SECS", default_value_t = 30, requires = "prove")]
    pub solver_timeout: u64,
    /// The limits in force.
    #[command(flatten)]
    pub limits: super::limit_args::LimitArgs,
}

/// What `--fail-on` gates.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOn {
    /// A request newly allowed.
    NewAccess,
    /// Any request that changes its decision.
    Any,
}

/// Runs `mspl diff`: 0 reported (or nothing changes), 1 bad input, 2
/// `--fail-on` tripped.
pub fn run(args: &DiffArgs) -> Outcome {
    let mut out = Outcome::default();
    let limits = args.limits.limits();
    let Some((old_version, new_version)) = load_versions(args, &limits, &mut out) else {
        return out.exit(Exit::Failure);
    };
    let options = Options {
        errors: ErrorMode::cedar(args.cedar),
        limits,
        plain: false,
        deadline: None,
    };
    let (old, new) = (
        PreparedSet::new(old_version, options),
        PreparedSet::new(new_version, options),
    );
    let (old_set, new_set) = (old.set(), new.set());
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let stored = args.entities.is_some()
        || args.entities_url_file.is_some()
        || args.old_entities.is_some()
        || args.new_entities.is_some();
    // A gate never passes on nothing: `judged` counts the requests some
    // version was asked about (the store's domain, the log's requests, the
    // generated stores).
    if args.fail_on.is_some()
        && !stored
        && args.requests.is_none()
        && args.worlds.is_none()
        && !args.prove
    {
        return no_requests(out, args, "");
    }
    let mut judged: u128 = 0;
    let mut flips: Vec<Flip> = Vec::new();
    if stored || args.requests.is_some() || args.worlds.is_none() {
        let both = match crate::entity_source::resolve(
            args.entities.as_deref(),
            args.entities_url_file.as_deref(),
        ) {
            Ok(p) => p,
            Err(m) => {
                out.stderr.push_str(&format!("error: {m}\n"));
                return out.exit(Exit::Failure);
            }
        };
        let store = |path: Option<&PathBuf>, set: &PolicySet| {
            load_store(path.or(both.as_ref()).map(PathBuf::as_path), set, &options)
        };
        let stores = store(args.old_entities.as_ref(), old_set)
            .and_then(|o| Ok((o, store(args.new_entities.as_ref(), new_set)?)));
        let (old_store, new_store) = match stores {
            Ok(s) => s,
            Err(d) => return bad(out, args, &d),
        };
        let diff = Diff::new(&old, old_store, &new, new_store);
        let found = match &args.requests {
            Some(log) => {
                // Read as the new version's declarations type it; where the
                // old ones differ, it must read under them too.
                let read = read_log(log, &new_set.schema, &limits).and_then(|requests| {
                    if old_set.schema != new_set.schema {
                        read_log(log, &old_set.schema, &limits)?;
                    }
                    Ok(requests)
                });
                match read {
                    Ok(requests) => {
                        judged += requests.len() as u128;
                        if args.fail_on.is_some()
                            && judged == 0
                            && args.worlds.is_none()
                            && !args.prove
                        {
                            return no_requests(out, args, " (the request log is empty)");
                        }
                        Ok(diff.over_requests(&requests))
                    }
                    Err(d) => return bad(out, args, &d),
                }
            }
            None => {
                let context = match read_fixed_context(args.context.as_deref(), &limits) {
                    Ok(c) => c,
                    Err(d) => return bad(out, args, &d),
                };
                if args.fail_on.is_some() {
                    match diff.domain_size(context.as_ref(), &|_| None) {
                        Ok(n) => judged += n,
                        Err(e) => return bad(out, args, &[Diagnostic::plain(e.to_string())]),
                    }
                    if judged == 0 && args.worlds.is_none() && !args.prove {
                        return no_requests(out, args, EMPTY_DOMAIN);
                    }
                }
                diff.over_domain(context.as_ref(), threads, &|_| None)
            }
        };
        flips = match found {
            Ok(f) => f,
            Err(e) => return bad(out, args, &[Diagnostic::plain(e.to_string())]),
        };
        match args.format {
            Format::Json => {
                for f in &flips {
                    out.stdout.push_str(&flip_json(f));
                    out.stdout.push('\n');
                }
            }
            Format::Text => out.stdout.push_str(&text(&diff, &flips)),
        }
        if !stored && args.requests.is_none() {
            out.stderr.push_str(
                "note: no entity file given, so the store is empty: give --entities, --requests or --worlds\n",
            );
        }
    }
    let mut counterexample = None;
    if let Some(worlds) = args.worlds {
        judged += worlds as u128;
        let wanted = Search {
            worlds,
            seed: args.seed,
            max_entities: args.max_entities,
            new_access_only: args.fail_on == Some(FailOn::NewAccess),
        };
        match search(&old, &new, wanted) {
            Ok(found) => counterexample = found,
            Err(SearchError::Invariants(d)) => {
                out.diagnostics(&new_set.sources, &d, args.format);
                return out.exit(Exit::Failure);
            }
            Err(e) => return bad(out, args, &[Diagnostic::plain(e.to_string())]),
        }
        if let (Some(c), Some(dir)) = (&counterexample, &args.counterexample_dir) {
            if let Err(e) = write_counterexample(dir, c) {
                out.stderr.push_str(&format!("error: {e}\n"));
                return out.exit(Exit::Failure);
            }
        }
        report_search(&mut out, args, worlds, counterexample.as_ref());
    }
    // The proof: every store, every request.
    let mut proof = Exit::Success;
    if args.prove {
        let property = if args.fail_on == Some(FailOn::NewAccess) {
            crate::verify::Property::NoNewAccess
        } else {
            crate::verify::Property::Equivalent
        };
        let proved = crate::verify::solver::Solver::choose(
            args.solver.as_deref(),
            std::time::Duration::from_secs(args.solver_timeout.max(1)),
            2048,
        )
        .and_then(|solver| {
            super::verify::prove_versions(
                new_set,
                old_set,
                property,
                solver,
                options.errors,
                limits,
                args.format,
            )
        });
        match proved {
            Ok((report, exit)) => {
                match args.format {
                    Format::Json => {
                        let slices: serde_json::Value =
                            serde_json::from_str(&report).unwrap_or_default();
                        out.stdout
                            .push_str(&serde_json::json!({ "proof": slices }).to_string());
                        out.stdout.push('\n');
                    }
                    Format::Text => out.stdout.push_str(&report),
                }
                proof = exit;
                judged += 1;
            }
            Err(m) => {
                out.stderr.push_str(&format!("error: --prove: {m}\n"));
                return out.exit(Exit::Failure);
            }
        }
    }
    if args.fail_on.is_some() && judged == 0 {
        let why = if args.worlds == Some(0) && !stored && args.requests.is_none() {
            " (--worlds 0 generates no store)"
        } else if args.requests.is_some() {
            " (the request log is empty, and --worlds 0 generates no store)"
        } else {
            " (the store's domain is empty, and --worlds 0 generates no store)"
        };
        return no_requests(out, args, why);
    }
    let newly_allowed = flips.iter().any(Flip::newly_allowed)
        || counterexample
            .as_ref()
            .is_some_and(|c| c.new.decision == crate::authorize::Decision::Allow);
    let any = !flips.is_empty() || counterexample.is_some();
    let tripped = match args.fail_on {
        Some(FailOn::NewAccess) => newly_allowed,
        Some(FailOn::Any) => any,
        None => false,
    } || (args.fail_on.is_some() && proof == Exit::Flagged);
    if tripped {
        return out.exit(Exit::Flagged);
    }
    // A proof that did not come out is no pass.
    out.exit(if proof == Exit::Refused {
        Exit::Refused
    } else {
        Exit::Success
    })
}

/// Both versions' policy sets, or `None` with the diagnostics in `out`.
fn load_versions(
    args: &DiffArgs,
    limits: &Limits,
    out: &mut Outcome,
) -> Option<(PolicySet, PolicySet)> {
    let ids = IdScheme::cedar(args.cedar);
    let old_inputs = match &args.old_template_linked {
        Some(files) => super::policy_args::PolicyInputs {
            template_linked: files.clone(),
            ..args.inputs.clone()
        },
        None => args.inputs.clone(),
    };
    let new = load_policies_with(
        &args.new,
        &args.schema,
        &args.inputs,
        ids,
        limits,
        args.format,
        out,
    )?;
    let old = match &args.old_rev {
        None => load_policies_with(
            &args.old,
            &args.schema,
            &old_inputs,
            ids,
            limits,
            args.format,
            out,
        )?,
        Some(rev) => {
            let mut loader = Loader::new(*limits);
            for path in &args.new {
                let files = match crate::files::git::files_at_revision(
                    path,
                    rev,
                    limits.max_policy_file_bytes as u64,
                ) {
                    Ok(f) => f,
                    Err(message) => {
                        let d = Diagnostic::plain(format!("--old-rev: {message}"));
                        out.diagnostics(&Sources::new(), &[d], args.format);
                        return None;
                    }
                };
                for (name, text) in files {
                    loader.add_source(name, text);
                }
            }
            for path in &args.schema {
                loader.add_path_as(path, args.inputs.schema_source());
            }
            for k in &old_inputs.template_linked {
                loader.add_links_path(k);
            }
            finish_loading(loader, ids, args.format, out)?
        }
    };
    Some((old, new))
}

const EMPTY_DOMAIN: &str =
    " (no request of any action has its principal and resource in the store)";

/// Exit 1: `--fail-on` had nothing to judge (`why` says what was empty).
fn no_requests(out: Outcome, args: &DiffArgs, why: &str) -> Outcome {
    let d = Diagnostic::plain(format!(
        "--fail-on has no requests to judge{why}; give --entities, --requests or --worlds"
    ));
    bad(out, args, &[d])
}

/// Exit 1 with `diagnostics`.
fn bad(mut out: Outcome, args: &DiffArgs, diagnostics: &[Diagnostic]) -> Outcome {
    out.diagnostics(&Sources::new(), diagnostics, args.format);
    out.exit(Exit::Failure)
}

/// The counterexample's files: `entities.json` and `request.json`.
fn write_counterexample(dir: &Path, c: &Counterexample) -> Result<(), String> {
    crate::files::meta::create_dir_all(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for (name, text) in [
        ("entities.json", c.entities.to_json()),
        ("request.json", format!("{}\n", request_json(&c.request))),
    ] {
        let path = dir.join(name);
        crate::files::write_file(&path, &text)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

/// What the search found, as text or a JSON line.
fn report_search(
    out: &mut Outcome,
    args: &DiffArgs,
    worlds: usize,
    found: Option<&Counterexample>,
) {
    let k = args.max_entities;
    match (args.format, found) {
        (Format::Json, None) => {
            let line = serde_json::json!({"no_difference": {"worlds": worlds, "max_entities": k}});
            let _ = writeln!(out.stdout, "{line}");
        }
        (Format::Json, Some(c)) => {
            #[derive(serde::Serialize)]
            struct Found<'a> {
                world: usize,
                found_in: usize,
                entities: serde_json::Value,
                request: serde_json::Value,
                old: &'a str,
                new: &'a str,
                blame: Vec<&'a str>,
            }
            let found = Found {
                world: c.world,
                found_in: c.found_in,
                entities: serde_json::from_str(&c.entities.to_json()).unwrap_or_default(),
                request: serde_json::from_str(&request_json(&c.request)).unwrap_or_default(),
                old: decision_word(&c.old),
                new: decision_word(&c.new),
                blame: c.blame.iter().map(|b| b.id.as_str()).collect(),
            };
            let line = serde_json::to_string(&serde_json::json!({ "counterexample": found }))
                .unwrap_or_default();
            let _ = writeln!(out.stdout, "{line}");
        }
        (Format::Text, None) => {
            let _ = writeln!(
                out.stdout,
                "no difference in {worlds} generated stores of up to {k} entities (a bounded search, not a proof)"
            );
        }
        (Format::Text, Some(c)) => {
            let r = &c.request;
            let _ = writeln!(
                out.stdout,
                "counterexample in generated store {} of {worlds} (shrunk from {} to {} entities):",
                c.world + 1,
                c.found_in,
                c.entities.entities.len()
            );
            let _ = writeln!(
                out.stdout,
                "  request: {} {} {} with context {}",
                r.principal, r.action, r.resource, r.context
            );
            let _ = writeln!(out.stdout, "  old: {}", verdict(&c.old));
            let _ = writeln!(out.stdout, "  new: {}", verdict(&c.new));
            if !c.blame.is_empty() {
                let blame: Vec<String> = c
                    .blame
                    .iter()
                    .map(|b| format!("{} ({})", b.id, b.what))
                    .collect();
                let _ = writeln!(out.stdout, "  because of {}", blame.join(", "));
            }
            let _ = writeln!(out.stdout, "  entities:");
            for line in c.entities.to_json().lines() {
                let _ = writeln!(out.stdout, "    {line}");
            }
            if let Some(dir) = &args.counterexample_dir {
                let _ = writeln!(
                    out.stdout,
                    "  written to {0}/entities.json and {0}/request.json",
                    dir.display()
                );
            }
        }
    }
}

fn decision_word(r: &crate::authorize::Response) -> &'static str {
    match r.decision {
        crate::authorize::Decision::Allow => "allow",
        crate::authorize::Decision::Deny => "deny",
    }
}
