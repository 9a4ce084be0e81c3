//! `mspl plan`: the policy set reduced for a known principal, action and
//! context and an unknown resource of a given type (partial evaluation,
//! `crate::residual`): "which resources may this principal see?" as a
//! residual policy set that decides every resource as the original does.

use super::common::Outcome;
use crate::exit::Exit;
use crate::repl::{eval, Config, Session};
use crate::residual::{reduce, Partial};
use crate::syntax::ast::Var;
use crate::value::Value;
use std::path::PathBuf;

/// Arguments of `mspl plan`.
#[derive(clap::Args, Debug)]
pub struct PlanArgs {
    /// Policy files or directories.
    #[arg(short = 'p', long, alias = "policy", num_args = 1.., required = true)]
    pub policies: Vec<PathBuf>,
    /// Declaration files.
    #[arg(short = 's', long, num_args = 1..)]
    pub schema: Vec<PathBuf>,
    /// Linked-policies files.
    #[arg(short = 'k', long, num_args = 1..)]
    pub links: Vec<PathBuf>,
    /// The entity file, or a database (`postgres://…`); none: an empty store.
    #[arg(long)]
    pub entities: Option<PathBuf>,
    /// A file holding the database URL to read the entities from.
    #[arg(long, value_name = "FILE", conflicts_with = "entities")]
    pub entities_url_file: Option<PathBuf>,
    /// The principal, as `Type::"id"`.
    #[arg(short = 'l', long)]
    pub principal: String,
    /// The action, as `Action::"id"`, or its bare id.
    #[arg(short = 'a', long)]
    pub action: String,
    /// The resource's entity type.
    #[arg(long, value_name = "TYPE")]
    pub resource_type: String,
    /// The context: inline JSON when it begins with `{`, a file path otherwise.
    #[arg(short = 'c', long)]
    pub context: Option<String>,
    /// `text`: the residual set in mspl syntax; `json`: each policy's
    /// residual, whether it is decided, and its tree in Cedar's JSON
    /// policy format where it has one; `sql`: a PostgreSQL query over the
    /// tables `--mapping` names, returning the allowed resources' ids.
    #[arg(long, value_enum, default_value = "text")]
    pub format: PlanFormat,
    /// The mapping of entity types to tables (JSON; `docs/filtering.md`),
    /// for `--format sql`.
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,
    /// With `--format sql`: `query` prints `{"query", "params"}`; `where`
    /// prints `{"where", "params", "joins"}`, the condition on the row `r`
    /// of the resource type's table, for an application's own query.
    #[arg(long, value_enum, default_value = "query")]
    pub sql_form: SqlForm,
    /// Cedar's policy naming (`policyN`) and error semantics.
    #[arg(long)]
    pub cedar: bool,
    /// The limits in force.
    #[command(flatten)]
    pub limits: super::limit_args::LimitArgs,
}

/// How `mspl plan` prints.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanFormat {
    /// The residual set in mspl syntax.
    Text,
    /// The residual policies as JSON.
    Json,
    /// A PostgreSQL query (needs `--mapping`).
    Sql,
}

/// What `--format sql` prints.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqlForm {
    /// A whole query: `{"query", "params"}`.
    Query,
    /// A condition: `{"where", "params", "joins"}`.
    Where,
}

/// Runs `mspl plan`: 0 with the residual set on standard output, 1 when
/// an input does not load.
pub fn run(args: &PlanArgs) -> Outcome {
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
        links: args.links.clone(),
        entities,
        cedar: args.cedar,
        limits,
        ..Config::default()
    };
    let (session, reply) = Session::start(&config, false);
    if !reply.stderr.is_empty() {
        out.stderr.push_str(&reply.stderr);
        return out.exit(Exit::Failure);
    }
    let mapping = match (&args.format, &args.mapping) {
        (PlanFormat::Sql, None) => {
            out.stderr
                .push_str("error: --format sql needs --mapping FILE (docs/filtering.md)\n");
            return out.exit(Exit::Failure);
        }
        (PlanFormat::Sql, Some(path)) => match read_mapping(path, &limits) {
            Ok(m) => Some(m),
            Err(m) => {
                out.stderr.push_str(&format!("error: {m}\n"));
                return out.exit(Exit::Failure);
            }
        },
        _ => None,
    };
    let partial = match partial(&session, args, &limits) {
        Ok(p) => p,
        Err(text) => {
            out.stderr.push_str(&text);
            return out.exit(Exit::Failure);
        }
    };
    let residual = reduce(session.set(), &session.entities, &partial, &limits);
    match args.format {
        PlanFormat::Text => out.stdout.push_str(&residual.text()),
        PlanFormat::Json => out.stdout.push_str(&format!(
            "{}\n",
            serde_json::to_string_pretty(&residual.json(&partial)).unwrap_or_default()
        )),
        PlanFormat::Sql => {
            let Some(mapping) = &mapping else {
                return out.exit(Exit::Failure);
            };
            let request = partial.request();
            let planned = crate::sql_filter::plan_sql(
                &residual,
                session.set(),
                &session.entities,
                &request,
                mapping,
                &partial.resource_type,
                session.options().errors,
                &limits,
            );
            match planned {
                Ok(p) => {
                    let doc = match args.sql_form {
                        SqlForm::Query => serde_json::json!({"query": p.query, "params": p.params}),
                        SqlForm::Where => serde_json::json!({
                            "where": p.condition, "params": p.params, "joins": [],
                        }),
                    };
                    out.stdout.push_str(&format!("{doc}\n"));
                }
                Err(refused) => {
                    let message = format!("no exact SQL for this plan: {}", refused.what);
                    let text = if refused.span.end > 0 {
                        session.set().sources.render(
                            &[crate::diag::Diagnostic::error(
                                message,
                                refused.span,
                                "here",
                            )],
                            false,
                        )
                    } else {
                        format!("error: {message}\n")
                    };
                    out.stderr.push_str(&text);
                    return out.exit(Exit::Failure);
                }
            }
        }
    }
    out
}

/// Reads the mapping file.
fn read_mapping(
    path: &std::path::Path,
    limits: &crate::limits::Limits,
) -> Result<crate::sql_filter::mapping::Mapping, String> {
    let text = super::input::read_data(path, limits).map_err(|ds| {
        ds.iter()
            .map(|d| d.message.clone())
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    crate::sql_filter::mapping::Mapping::read(&path.display().to_string(), &text)
}

/// The known part of the request, read as `mspl evaluate` reads it.
fn partial(
    session: &Session,
    args: &PlanArgs,
    limits: &crate::limits::Limits,
) -> Result<Partial, String> {
    let entity = |var: Var, text: &str| match eval::binding(session, var, text)? {
        Value::Entity(uid) => Ok(uid),
        _ => Err(format!("error: `{}` must be an entity\n", var.name())),
    };
    let principal = entity(Var::Principal, &args.principal)?;
    // `-a read` is `Action::"read"`, as in `authorize` and `audit`.
    let action = crate::syntax::uid::parse_action(&args.action)
        .map_err(|m| format!("error: in --action: {m}\n"))?;
    let resource_type = args.resource_type.trim();
    let declared = &session.set().schema;
    if !declared.is_empty() && !declared.entity_types.contains_key(resource_type) {
        return Err(format!(
            "error: --resource-type `{resource_type}` is not a declared entity type\n"
        ));
    }
    let context = match &args.context {
        None => Value::Record(Default::default()),
        Some(c) => {
            let render =
                |ds: Vec<crate::diag::Diagnostic>| crate::diag::Sources::new().render(&ds, false);
            let (_, json) = super::input::read_context(c, limits).map_err(render)?;
            crate::entities::json::context_from_json(&json, &action, declared)
                .map_err(|m| format!("error: in --context: {m}\n"))?
        }
    };
    Ok(Partial {
        principal,
        action,
        resource_type: resource_type.into(),
        context,
    })
}
