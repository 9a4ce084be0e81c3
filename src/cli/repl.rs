//! `mspl repl`: the interactive session of [`crate::repl`].

use super::common::Outcome;
use crate::repl::{self, Config};
use std::path::PathBuf;

/// Arguments of `mspl repl`.
#[derive(clap::Args, Debug)]
pub struct ReplArgs {
    /// Policy files or directories to load at the start.
    #[arg(short = 'p', long, alias = "policy", num_args = 1..)]
    pub policies: Vec<PathBuf>,
    /// Extra declaration files.
    #[arg(short = 's', long, num_args = 1..)]
    pub schema: Vec<PathBuf>,
    /// Template links (`-k`, as Cedar's CLI).
    #[command(flatten)]
    pub inputs: super::policy_args::PolicyInputs,
    /// The entity file (Cedar's entity JSON), or a database (`postgres://…`).
    #[arg(long)]
    pub entities: Option<PathBuf>,
    /// A file holding the database URL to read the entities from (as
    /// `--entities postgres://…`, without showing a password to `ps`).
    #[arg(long, value_name = "FILE", conflicts_with = "entities")]
    pub entities_url_file: Option<PathBuf>,
    /// The history file of line editing [default: `$XDG_STATE_HOME/mspl/history`,
    /// else `~/.mspl_history`]; unused when stdin is not a terminal.
    #[arg(long, conflicts_with = "no_history")]
    pub history: Option<PathBuf>,
    /// Keep no history file.
    #[arg(long)]
    pub no_history: bool,
    /// Cedar's semantics: erroring policies are skipped, ids are `policyN`.
    #[arg(long)]
    pub cedar: bool,
    /// The limits in force.
    #[command(flatten)]
    pub limits: super::limit_args::LimitArgs,
}

/// Runs `mspl repl`. It talks to the terminal itself, so the outcome
/// carries only the exit code: 0, the session ended normally.
pub fn run(args: &ReplArgs) -> Outcome {
    let history = if args.no_history {
        None
    } else {
        args.history.clone().or_else(default_history)
    };
    let entities = match crate::entity_source::resolve(
        args.entities.as_deref(),
        args.entities_url_file.as_deref(),
    ) {
        Ok(p) => p,
        Err(m) => {
            let mut out = Outcome::default();
            out.stderr.push_str(&format!("error: {m}\n"));
            return out.exit(crate::exit::Exit::Failure);
        }
    };
    let config = Config {
        policies: args.policies.clone(),
        schema: args.schema.clone(),
        links: args.inputs.template_linked.clone(),
        entities,
        history,
        cedar: args.cedar,
        limits: args.limits.limits(),
    };
    Outcome::default().exit(repl::run(&config))
}

/// `$XDG_STATE_HOME/mspl/history`, else `~/.mspl_history`.
fn default_history() -> Option<PathBuf> {
    let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(state) = non_empty("XDG_STATE_HOME") {
        return Some(PathBuf::from(state).join("mspl").join("history"));
    }
    non_empty("HOME").map(|home| PathBuf::from(home).join(".mspl_history"))
}
