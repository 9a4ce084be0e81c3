//! `mspl generate`: a store and a batch of requests generated from a
//! policy set's declarations, to test one's own policies on.

use super::common::{load_policies_with, Format, Outcome};
use crate::diag::{Diagnostic, Sources};
use crate::exit::Exit;
use crate::generate::{request_json, Generator, Pools};
use crate::policy_set::IdScheme;
use std::path::PathBuf;

/// Arguments of `mspl generate`.
#[derive(clap::Args, Debug)]
pub struct GenerateArgs {
    /// Policy files or directories (their declarations, literals and invariants).
    #[arg(short = 'p', long, alias = "policy", num_args = 1.., required = true)]
    pub policies: Vec<PathBuf>,
    /// Extra declaration files.
    #[arg(short = 's', long, num_args = 1..)]
    pub schema: Vec<PathBuf>,
    /// Template links (`-k`, as Cedar's CLI).
    #[command(flatten)]
    pub inputs: super::policy_args::PolicyInputs,
    /// The seed: the same seed, the same store.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// The most entities of the store.
    #[arg(long, value_name = "K", default_value_t = 16)]
    pub max_entities: usize,
    /// The most requests of the batch (every request of the store's domain
    /// when it has no more, else a sample).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub requests: usize,
    /// The directory to write entities.json and requests.jsonl to.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The limits in force.
    #[command(flatten)]
    pub limits: super::limit_args::LimitArgs,
}

/// Runs `mspl generate`: 0 written, 1 bad input.
pub fn run(args: &GenerateArgs) -> Outcome {
    let mut out = Outcome::default();
    let limits = args.limits.limits();
    let Some(set) = load_policies_with(
        &args.policies,
        &args.schema,
        &args.inputs,
        IdScheme::Annotated,
        &limits,
        Format::Text,
        &mut out,
    ) else {
        return out.exit(Exit::Failure);
    };
    let generator = match Generator::new(&set, Pools::of(&[&set]), limits) {
        Ok(g) => g,
        Err(d) => {
            out.diagnostics(&set.sources, &d, Format::Text);
            return out.exit(Exit::Failure);
        }
    };
    let fail = |mut out: Outcome, message: String| {
        out.diagnostics(&Sources::new(), &[Diagnostic::plain(message)], Format::Text);
        out.exit(Exit::Failure)
    };
    let world = match generator.world(args.seed, args.max_entities) {
        Ok(w) => w,
        Err(e) => return fail(out, e.to_string()),
    };
    let store = match world.store(&set.schema, &limits) {
        Ok(s) => s,
        Err(e) => {
            return fail(
                out,
                format!("internal error: a generated store does not load: {e}"),
            )
        }
    };
    let requests = match generator.requests(&store, args.seed, args.requests) {
        Ok(r) => r,
        Err(e) => return fail(out, e.to_string()),
    };
    let batch: String = requests.iter().map(|r| request_json(r) + "\n").collect();
    if let Err(e) = crate::files::meta::create_dir_all(&args.out) {
        return fail(out, format!("cannot create {}: {e}", args.out.display()));
    }
    for (name, text) in [
        ("entities.json", world.to_json()),
        ("requests.jsonl", batch),
    ] {
        let path = args.out.join(name);
        if let Err(e) = crate::files::write_file(&path, &text) {
            return fail(out, format!("cannot write {}: {e}", path.display()));
        }
    }
    out.stdout.push_str(&format!(
        "wrote {0}/entities.json ({1} entities) and {0}/requests.jsonl ({2} requests)\n",
        args.out.display(),
        world.entities.len(),
        requests.len()
    ));
    out.exit(Exit::Success)
}
