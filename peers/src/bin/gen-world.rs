//! `gen-world`: writes a random Model Studio world as `entities.json` and
//! `requests.jsonl`, ready for
//! `mspl authorize --policies policies/model_studio --entities DIR/entities.json
//! --requests DIR/requests.jsonl --format json`.
//!
//! With `--cedar-decisions`, also writes `cedar-decisions.jsonl`: Cedar's
//! decision on each request, one `"allow"`/`"deny"` per line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use mspl_peers::{cedar_answer, write_world, CedarWorld, World, WorldParams};

/// Generate a random Model Studio world and requests.
#[derive(Parser, Debug)]
#[command(name = "gen-world", version)]
struct Args {
    /// Seed of the random generator; the same seed gives the same files.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Number of accounts.
    #[arg(long, default_value_t = 3)]
    accounts: usize,
    /// RAM users per account.
    #[arg(long, default_value_t = 4)]
    users: usize,
    /// RAM roles per account.
    #[arg(long, default_value_t = 2)]
    roles: usize,
    /// At most this many sub-workspaces per account (besides the default one).
    #[arg(long, default_value_t = 3)]
    workspaces: usize,
    /// Number of models.
    #[arg(long, default_value_t = 5)]
    models: usize,
    /// Number of requests.
    #[arg(long, default_value_t = 1000)]
    requests: usize,
    /// Output directory (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Also write Cedar's decisions to `cedar-decisions.jsonl`.
    #[arg(long)]
    cedar_decisions: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.accounts == 0 || args.models == 0 {
        eprintln!("gen-world: --accounts and --models must be at least 1");
        return ExitCode::from(2);
    }
    let params = WorldParams {
        accounts: args.accounts,
        min_sub_workspaces: 0,
        max_sub_workspaces: args.workspaces,
        users_per_account: args.users,
        roles_per_account: args.roles,
        models: args.models,
        requests: args.requests,
    };
    let world = World::generate(args.seed, &params);
    if let Err(e) = write_world(&world, &args.out) {
        eprintln!("gen-world: cannot write to {}: {e}", args.out.display());
        return ExitCode::FAILURE;
    }
    if args.cedar_decisions {
        let cedar = match CedarWorld::new(&world.entities_json()) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("gen-world: {e}");
                return ExitCode::FAILURE;
            }
        };
        let mut text = String::new();
        for request in world.requests_json() {
            match cedar_answer(&cedar, &request) {
                Ok(a) => text.push_str(if a.allow { "\"allow\"\n" } else { "\"deny\"\n" }),
                Err(e) => {
                    eprintln!("gen-world: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        if let Err(e) = std::fs::write(args.out.join("cedar-decisions.jsonl"), text) {
            eprintln!("gen-world: cannot write cedar-decisions.jsonl: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
