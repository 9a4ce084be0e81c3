//! The `mspl` command line: one module per subcommand.

pub mod audit;
pub mod authorize;
pub mod check;
pub mod common;
#[cfg(feature = "postgres")]
pub mod db;
pub mod diff;
pub mod entities;
pub mod evaluate;
pub mod explain;
pub mod fmt;
pub mod generate;
pub mod input;
pub mod limit_args;
pub mod link;
pub mod lsp;
pub mod plan;
pub mod policy_args;
pub mod repl;
#[cfg(feature = "serve")]
pub mod serve;
pub mod test;
pub mod translate;
pub mod validate;
pub mod verify;

pub use common::Outcome;

use clap::{Parser, Subcommand};

/// The Model Studio Policy Language.
#[derive(Parser, Debug)]
#[command(
    name = "mspl",
    version,
    about = "The Model Studio Policy Language: check, judge and explain authorization policies"
)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Parse policy files and report every syntax error.
    #[command(alias = "check-parse")]
    Check(check::CheckArgs),
    /// Decide one request or a batch of requests.
    Authorize(authorize::AuthorizeArgs),
    /// Rewrite policy files in the canonical layout, keeping every comment.
    #[command(alias = "format")]
    Fmt(fmt::FmtArgs),
    /// Run policy test files: a line per case, `N passed, M failed` at the end.
    Test(test::TestArgs),
    /// Trace every policy for a request: scope, each condition, rule calls, errors.
    Explain(explain::ExplainArgs),
    /// An interactive session: evaluate expressions, bind a request, decide and explain it.
    Repl(repl::ReplArgs),
    /// Type-check policies and rules, and check entity data and requests, against the declarations.
    Validate(validate::ValidateArgs),
    /// Access review over the entity store: who-can, what-can, matrix, findings, unused.
    Audit(audit::AuditArgs),
    /// What a policy or data change flips: every request decided differently, and who is responsible.
    Diff(diff::DiffArgs),
    /// Translate policies between text and Cedar's JSON policy format.
    #[command(alias = "translate-policy")]
    Translate(translate::TranslateArgs),
    /// Work with entity data: `mspl entities compact` folds a change log
    /// into a new base.
    Entities(entities::EntitiesArgs),
    /// mspl's tables in PostgreSQL: init, migrate, load, dump, prune.
    #[cfg(feature = "postgres")]
    Db(db::DbArgs),
    /// Work with declarations: `mspl schema translate`.
    Schema(translate::SchemaArgs),
    /// Cedar CLI's `translate-schema`: `mspl schema translate`.
    #[command(name = "translate-schema", hide = true)]
    TranslateSchema(translate::SchemaTranslateArgs),
    /// A Language Server Protocol server over stdio, for editors.
    Lsp(lsp::LspArgs),
    /// The value of one expression for a request (Cedar CLI's `evaluate`).
    Evaluate(evaluate::EvaluateArgs),
    /// The policy set reduced for an unknown resource of a type: which
    /// resources a principal may act on, as a residual policy set.
    Plan(plan::PlanArgs),
    /// A property proved for every store and request the declarations and
    /// invariants allow, by an SMT solver, or a counterexample.
    Verify(verify::VerifyArgs),
    /// Add a template-linked policy to a linked-policies file (Cedar CLI's `link`).
    Link(link::LinkArgs),
    /// Generate an entity store and a batch of requests from a policy set's declarations.
    Generate(generate::GenerateArgs),
    /// A decision server over HTTP (mspl's API and AuthZEN 1.0), reloading its inputs as they change.
    #[cfg(feature = "serve")]
    Serve(Box<serve::ServeArgs>),
    /// Pack a folder (policies/, schema/, entities.json, links.json) into a bundle for `serve --bundle`.
    #[cfg(feature = "serve")]
    Bundle(serve::BundleArgs),
}

/// Runs the command line in-process: what it would print, and its exit code.
/// `args` starts with the program name, as `std::env::args_os` does.
pub fn execute<I, T>(args: I) -> Outcome
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let text = e.render().to_string();
            return if e.use_stderr() {
                Outcome {
                    code: 1,
                    stdout: String::new(),
                    stderr: text,
                }
            } else {
                Outcome {
                    code: 0,
                    stdout: text,
                    stderr: String::new(),
                }
            };
        }
    };
    match cli.command {
        Command::Check(a) => check::run(&a),
        Command::Authorize(a) => authorize::run(&a),
        Command::Explain(a) => explain::run(&a),
        Command::Repl(a) => repl::run(&a),
        Command::Fmt(a) => fmt::run(&a),
        Command::Test(a) => test::run(&a),
        Command::Validate(a) => validate::run(&a),
        Command::Audit(a) => audit::run(&a),
        Command::Diff(a) => diff::run(&a),
        Command::Generate(a) => generate::run(&a),
        Command::Link(a) => link::run(&a),
        Command::Evaluate(a) => evaluate::run(&a),
        Command::Plan(a) => plan::run(&a),
        Command::Verify(a) => verify::run(&a),
        Command::Lsp(a) => lsp::run(&a),
        #[cfg(feature = "serve")]
        Command::Serve(a) => serve::run(&a),
        #[cfg(feature = "serve")]
        Command::Bundle(a) => serve::run_bundle(&a),
        Command::Translate(a) => translate::run(&a),
        Command::Entities(a) => entities::run(&a),
        #[cfg(feature = "postgres")]
        Command::Db(a) => db::run(&a),
        Command::Schema(a) => translate::run_schema(&a),
        Command::TranslateSchema(a) => translate::run_schema_translate(&a),
    }
}

/// Runs the command line, writing to the process's streams; returns the exit code.
pub fn run(args: impl IntoIterator<Item = std::ffi::OsString>) -> i32 {
    execute(args).emit()
}
