//! The `mspl` command line: one module per subcommand.

pub mod authorize;
pub mod check;
mod common;

use clap::{Parser, Subcommand};

/// The Model Studio Policy Language.
#[derive(Parser, Debug)]
#[command(name = "mspl", version, about = "The Model Studio Policy Language: check, judge and explain authorization policies")]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Parse policy files and report every syntax error.
    Check(check::CheckArgs),
    /// Decide one request or a batch of requests.
    Authorize(authorize::AuthorizeArgs),
}

/// Runs the command line; returns the process exit code.
pub fn run(args: impl IntoIterator<Item = std::ffi::OsString>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    match cli.command {
        Command::Check(a) => check::run(&a),
        Command::Authorize(a) => authorize::run(&a),
    }
}
