//! `mspl evaluate EXPR`: the value of one expression for a request, as
//! Cedar CLI's `evaluate` (its `-l`, `-a`, `-r`, `-c`, `--request-json`,
//! `--entities` and `-s` flags), with the REPL's evaluator: policies'
//! rules may be called when `-p` loads them.

use super::common::Outcome;
use super::input::{read_context, read_data};
use crate::diag::Sources;
use crate::entities::json::{context_from_json, request_from_json};
use crate::exit::Exit;
use crate::repl::{eval, Config, Session};
use crate::syntax::ast::Var;
use crate::value::Value;
use std::path::PathBuf;

/// Arguments of `mspl evaluate`.
#[derive(clap::Args, Debug)]
pub struct EvaluateArgs {
    /// The expression.
    #[arg(value_name = "EXPRESSION")]
    pub expression: String,
    /// Policy files or directories whose rules the expression may call.
    #[arg(short = 'p', long, alias = "policy", num_args = 1..)]
    pub policies: Vec<PathBuf>,
    /// Declaration files.
    #[arg(short = 's', long, num_args = 1..)]
    pub schema: Vec<PathBuf>,
    /// The entity file, or a database (`postgres://…`); none: an empty store.
    #[arg(long)]
    pub entities: Option<PathBuf>,
    /// A file holding the database URL to read the entities from (as
    /// `--entities postgres://…`, without showing a password to `ps`).
    #[arg(long, value_name = "FILE", conflicts_with = "entities")]
    pub entities_url_file: Option<PathBuf>,
    /// The request as a JSON file.
    #[arg(long = "request-json", alias = "request", value_name = "FILE", conflicts_with_all = ["principal", "action", "resource", "context"])]
    pub request: Option<PathBuf>,
    /// The request on the command line.
    #[command(flatten)]
    pub vars: super::input::RequestVars,
    /// The limits in force.
    #[command(flatten)]
    pub limits: super::limit_args::LimitArgs,
}

/// Runs `mspl evaluate`: 0 with the value on standard output, 1 when an
/// input does not load or the expression raises an error.
pub fn run(args: &EvaluateArgs) -> Outcome {
    let mut out = Outcome::default();
    let limits = args.limits.limits();
    let entities = match crate::entity_source::resolve(
        args.entities.as_deref(),
        args.entities_url_file.as_deref(),
    ) {
        Ok(p) => p,
        Err(m) => {
            out.stderr.push_str(&format!("error: {m}\n"));
            return out.exit(Exit::Failure);
        }
    };
    let config = Config {
        policies: args.policies.clone(),
        schema: args.schema.clone(),
        entities,
        limits,
        ..Config::default()
    };
    let (mut session, reply) = Session::start(&config, false);
    if !reply.stderr.is_empty() {
        out.stderr.push_str(&reply.stderr);
        return out.exit(Exit::Failure);
    }
    if let Err(text) = bind(&mut session, args, &limits) {
        out.stderr.push_str(&text);
        return out.exit(Exit::Failure);
    }
    let reply = eval::expression(&session, &args.expression);
    out.stdout.push_str(&reply.stdout);
    out.stderr.push_str(&reply.stderr);
    let failed = !reply.stderr.is_empty();
    out.exit(Exit::failure_if(failed))
}

/// Binds the request variables the arguments give.
fn bind(
    session: &mut Session,
    args: &EvaluateArgs,
    limits: &crate::limits::Limits,
) -> Result<(), String> {
    let render = |ds: Vec<crate::diag::Diagnostic>| Sources::new().render(&ds, false);
    if let Some(path) = &args.request {
        let text = read_data(path, limits).map_err(render)?;
        let json: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| format!("error: {}: invalid JSON: {e}\n", path.display()))?;
        let request = request_from_json(&json, &session.set().schema)
            .map_err(|m| format!("error: {}: {m}\n", path.display()))?;
        session.bindings.principal = Some(request.principal);
        session.bindings.action = Some(request.action);
        session.bindings.resource = Some(request.resource);
        session.bindings.context = request.context;
        return Ok(());
    }
    for (var, text) in [
        (Var::Principal, &args.vars.principal),
        (Var::Action, &args.vars.action),
        (Var::Resource, &args.vars.resource),
    ] {
        let Some(text) = text else { continue };
        let Value::Entity(uid) = eval::binding(session, var, text)? else {
            return Err(format!("error: `{}` must be an entity\n", var.name()));
        };
        match var {
            Var::Principal => session.bindings.principal = Some(uid),
            Var::Action => session.bindings.action = Some(uid),
            _ => session.bindings.resource = Some(uid),
        }
    }
    if let Some(c) = &args.vars.context {
        let (_, json) = read_context(c, limits).map_err(render)?;
        let action = (session.bindings.action.clone())
            .unwrap_or_else(|| crate::syntax::ast::EntityUid::new("Action", ""));
        session.bindings.context = context_from_json(&json, &action, &session.set().schema)
            .map_err(|m| format!("error: in --context: {m}\n"))?;
    }
    Ok(())
}
