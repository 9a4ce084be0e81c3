//! `mspl audit`: who can, what can, the access matrix, least-privilege
//! findings and unused grants, over the entity store (docs/audit.md).

use super::common::{load_policies_with, Format, Outcome};
use super::input::{load_store, read_fixed_context, read_log};
use crate::audit::domain::DomainError;
use crate::audit::findings::{findings, Severity};
use crate::audit::unused::unused;
use crate::audit::{html, report, Answer, Auditor, Run};
use crate::authorize::{ErrorMode, Options};
use crate::diag::{Diagnostic, Sources};
use crate::entities::build::add_named_actions;
use crate::exit::Exit;
use crate::policy_set::IdScheme;
use std::path::PathBuf;

/// Arguments of `mspl audit`.
#[derive(clap::Args, Debug)]
pub struct AuditArgs {
    /// The question.
    #[command(subcommand)]
    pub verb: Verb,
}

/// The questions `mspl audit` answers.
#[derive(clap::Subcommand, Debug)]
pub enum Verb {
    /// Every principal allowed an action on a resource, with the policies that allow it.
    WhoCan(WhoCanArgs),
    /// Every allowed (action, resource, context) of one principal.
    WhatCan(WhatCanArgs),
    /// Every allowed (principal, action, resource, context) of the store.
    Matrix(MatrixArgs),
    /// Least-privilege findings: generic ones and those written beside the policies.
    Findings(FindingsArgs),
    /// The grants that no allowed request of a log needed.
    Unused(UnusedArgs),
}

/// What every verb takes.
#[derive(clap::Args, Debug)]
pub struct CommonArgs {
    /// Policy files or directories.
    #[arg(short = 'p', long, alias = "policy", num_args = 1.., required = true)]
    pub policies: Vec<PathBuf>,
    /// Extra declaration files.
    #[arg(short = 's', long, num_args = 1..)]
    pub schema: Vec<PathBuf>,
    /// Template links (`-k`, as Cedar's CLI).
    #[command(flatten)]
    pub inputs: super::policy_args::PolicyInputs,
    /// The entity file (Cedar's entity JSON), or a database
    /// (`postgres://…`); none: an empty store.
    #[arg(long)]
    pub entities: Option<PathBuf>,
    /// A file holding the database URL to read the entities from (as
    /// `--entities postgres://…`, without showing a password to `ps`).
    #[arg(long, value_name = "FILE", conflicts_with = "entities")]
    pub entities_url_file: Option<PathBuf>,
    /// Fixed context attributes for every action (inline JSON or a file);
    /// the enumerable ones it leaves out are still enumerated.
    #[arg(long)]
    pub context: Option<String>,
    /// Output format (csv and html: `matrix` only).
    #[arg(long, value_enum, default_value_t = AuditFormat::Text)]
    pub format: AuditFormat,
    /// Cedar's semantics: erroring policies are skipped, ids are `policyN`.
    #[arg(long)]
    pub cedar: bool,
    /// Judge on N threads [default: every core]; the answer is the same.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Stop after N results (exit 4, with a closing message, when more exist).
    #[arg(long, value_name = "N")]
    pub max_results: Option<usize>,
    /// The limits in force.
    #[command(flatten)]
    pub limits: super::limit_args::LimitArgs,
}

impl CommonArgs {
    /// The format of diagnostics: JSON with `--format json`, else text.
    fn diagnostics_format(&self) -> Format {
        match self.format {
            AuditFormat::Json => Format::Json,
            _ => Format::Text,
        }
    }

    /// How many of `total` results `--max-results` lets through.
    fn shown(&self, total: usize) -> usize {
        self.max_results.map_or(total, |n| n.min(total))
    }
}

/// Whether `shown` of `total` results is a cut; if so, says so on stderr.
fn cut_short(out: &mut Outcome, shown: usize, total: usize, what: &str) -> bool {
    if shown < total {
        out.stderr.push_str(&format!(
            "stopped after {shown} results (--max-results): {total} {what} in all\n"
        ));
    }
    shown < total
}

/// Output formats of `mspl audit`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditFormat {
    /// For people.
    Text,
    /// A JSON object per line.
    Json,
    /// Comma-separated values (matrix).
    Csv,
    /// One self-contained page (matrix, with --out).
    Html,
}

/// `mspl audit who-can`.
#[derive(clap::Args, Debug)]
pub struct WhoCanArgs {
    /// The action, as `Action::"id"` (or just its id).
    #[arg(long)]
    pub action: String,
    /// The resource, as `Type::"id"`.
    #[arg(long)]
    pub resource: String,
    /// List the denied principals too.
    #[arg(long)]
    pub denied: bool,
    /// Inputs and output.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `mspl audit what-can`.
#[derive(clap::Args, Debug)]
pub struct WhatCanArgs {
    /// The principal, as `Type::"id"`.
    #[arg(long)]
    pub principal: String,
    /// Only these actions.
    #[arg(long, num_args = 1..)]
    pub action: Vec<String>,
    /// Inputs and output.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `mspl audit matrix`.
#[derive(clap::Args, Debug)]
pub struct MatrixArgs {
    /// Only principals of these types.
    #[arg(long, num_args = 1..)]
    pub principal_type: Vec<String>,
    /// Only these actions.
    #[arg(long, num_args = 1..)]
    pub action: Vec<String>,
    /// The file the HTML report goes to (with --format html).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Inputs and output.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `mspl audit findings`.
#[derive(clap::Args, Debug)]
pub struct FindingsArgs {
    /// Exit 2 when a finding of this severity or worse exists.
    #[arg(long, value_name = "SEVERITY", value_parser = ["error", "security_warning", "warning", "suggestion"])]
    pub fail_on: Option<String>,
    /// Only these findings (ids such as `administrator-access`).
    #[arg(long, num_args = 1..)]
    pub finding: Vec<String>,
    /// Also the findings about the policy set itself, judged over the
    /// store's whole domain (`unreachable-policy`, `overridden-permit`,
    /// `dead-rule-clause`), as suggestions.
    #[arg(long)]
    pub policy_set: bool,
    /// Inputs and output.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `mspl audit unused`.
#[derive(clap::Args, Debug)]
pub struct UnusedArgs {
    /// The log: JSON lines of requests, or of decision-log lines with the
    /// request under "request".
    #[arg(long, value_name = "LOG.jsonl")]
    pub requests: PathBuf,
    /// Inputs and output.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// A loaded audit's parts, owned.
struct Loaded {
    prepared: crate::authorize::PreparedSet,
    entities: crate::entities::Entities,
    context: Option<serde_json::Value>,
}

/// Runs `mspl audit`: 0 a complete answer, 1 bad input, 2 `--fail-on`
/// tripped, 4 cut by `--max-results`.
pub fn run(args: &AuditArgs) -> Outcome {
    let common = match &args.verb {
        Verb::WhoCan(a) => &a.common,
        Verb::WhatCan(a) => &a.common,
        Verb::Matrix(a) => &a.common,
        Verb::Findings(a) => &a.common,
        Verb::Unused(a) => &a.common,
    };
    let mut out = Outcome::default();
    let matrix = matches!(args.verb, Verb::Matrix(_));
    if !matrix && matches!(common.format, AuditFormat::Csv | AuditFormat::Html) {
        out.stderr
            .push_str("error: --format csv and --format html are for `mspl audit matrix`\n");
        return out.exit(Exit::Failure);
    }
    let Some(loaded) = load(common, &mut out) else {
        return out.exit(Exit::Failure);
    };
    let auditor = match Auditor::new(&loaded.prepared, &loaded.entities, loaded.context.as_ref()) {
        Ok(a) => a,
        Err(e) => return fail(out, common, &e),
    };
    let run = Run {
        threads: common
            .threads
            .unwrap_or_else(|| Run::default().threads)
            .max(1),
        max_results: common.max_results,
        all: false,
    };
    match &args.verb {
        Verb::WhoCan(a) => {
            let answer = auditor
                .action(&a.action)
                .and_then(|act| Ok((act, auditor.entity("resource", &a.resource)?)))
                .and_then(|(act, r)| {
                    auditor.who_can(
                        act,
                        r,
                        Run {
                            all: a.denied,
                            ..run
                        },
                    )
                });
            match answer {
                Ok(answer) => answer_out(out, common, &auditor, &answer),
                Err(e) => fail(out, common, &e),
            }
        }
        Verb::WhatCan(a) => {
            let answer = auditor.entity("principal", &a.principal).and_then(|p| {
                let actions = actions(&auditor, &a.action)?;
                Ok(auditor.what_can(p, &actions, run))
            });
            match answer {
                Ok(answer) => answer_out(out, common, &auditor, &answer),
                Err(e) => fail(out, common, &e),
            }
        }
        Verb::Matrix(a) => {
            let answer = actions(&auditor, &a.action).and_then(|actions| {
                let types = principal_types(&auditor, &a.principal_type)?;
                Ok(auditor.matrix(&types, &actions, run))
            });
            let answer = match answer {
                Ok(answer) => answer,
                Err(e) => return fail(out, common, &e),
            };
            match (common.format, &a.out) {
                (AuditFormat::Html, Some(path)) => {
                    // The summary's findings: the policy language's, over every
                    // entity and grant (the policy set's own are a separate
                    // command's, over the whole domain).
                    let found = crate::audit::findings::findings(&auditor, run.threads, &[], false)
                        .unwrap_or_default();
                    let page = html::page(&auditor, &answer.lines, &found);
                    if let Err(e) = crate::files::write_file(path, &page) {
                        out.stderr
                            .push_str(&format!("error: cannot write {}: {e}\n", path.display()));
                        return out.exit(Exit::Failure);
                    }
                    closing(out, common, &answer)
                }
                (AuditFormat::Html, None) => {
                    out.stderr
                        .push_str("error: --format html needs --out FILE\n");
                    out.exit(Exit::Failure)
                }
                (AuditFormat::Csv, _) => {
                    out.stdout
                        .push_str(&report::csv(&auditor.domain, &answer.lines));
                    closing(out, common, &answer)
                }
                _ => answer_out(out, common, &auditor, &answer),
            }
        }
        Verb::Findings(a) => findings_out(out, common, &auditor, a, run.threads),
        Verb::Unused(a) => unused_out(out, common, &auditor, a),
    }
}

fn load(common: &CommonArgs, out: &mut Outcome) -> Option<Loaded> {
    let limits = common.limits.limits();
    let format = common.diagnostics_format();
    let ids = IdScheme::cedar(common.cedar);
    let set = load_policies_with(
        &common.policies,
        &common.schema,
        &common.inputs,
        ids,
        &limits,
        format,
        out,
    )?;
    let options = Options {
        errors: ErrorMode::cedar(common.cedar),
        limits,
        plain: false,
        deadline: None,
    };
    let path = match crate::entity_source::resolve(
        common.entities.as_deref(),
        common.entities_url_file.as_deref(),
    ) {
        Ok(p) => p,
        Err(m) => {
            out.diagnostics(&Sources::new(), &[Diagnostic::plain(m)], format);
            return None;
        }
    };
    let mut entities = match load_store(path.as_deref(), &set, &options) {
        Ok(e) => e,
        Err(d) => {
            out.diagnostics(&Sources::new(), &d, format);
            return None;
        }
    };
    add_named_actions(&set, &mut entities);
    let context = match read_fixed_context(common.context.as_deref(), &limits) {
        Ok(c) => c,
        Err(d) => {
            out.diagnostics(&Sources::new(), &d, format);
            return None;
        }
    };
    Some(Loaded {
        prepared: crate::authorize::PreparedSet::new(set, options),
        entities,
        context,
    })
}

/// The domain's numbers of the actions named.
fn actions(auditor: &Auditor, names: &[String]) -> Result<Vec<usize>, DomainError> {
    names.iter().map(|n| auditor.action(n)).collect()
}

/// The principal types named, each one of the domain's.
fn principal_types(
    auditor: &Auditor,
    names: &[String],
) -> Result<Vec<crate::syntax::ast::Name>, DomainError> {
    let known: std::collections::BTreeSet<String> = auditor
        .domain
        .principals()
        .into_iter()
        .map(|p| auditor.entities.node_uid(p).ty.to_string())
        .collect();
    names
        .iter()
        .map(|name| {
            if known.contains(name) {
                return Ok(name.as_str().into());
            }
            let help = crate::suggest::closest(name, known.iter().map(String::as_str))
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            Err(DomainError::Unknown {
                what: "principal type",
                name: name.clone(),
                help,
            })
        })
        .collect()
}

fn fail(mut out: Outcome, common: &CommonArgs, e: &DomainError) -> Outcome {
    let d = Diagnostic::plain(e.to_string());
    let format = common.diagnostics_format();
    out.diagnostics(&Sources::new(), &[d], format);
    out.exit(Exit::Failure)
}

fn answer_out(
    mut out: Outcome,
    common: &CommonArgs,
    auditor: &Auditor,
    answer: &Answer,
) -> Outcome {
    match common.format {
        AuditFormat::Json => out
            .stdout
            .push_str(&report::json_lines(&auditor.domain, &answer.lines)),
        _ => {
            let text = report::text(&auditor.domain, &answer.lines);
            if text.is_empty() {
                out.stdout.push_str("no request of the domain is allowed\n");
            } else {
                out.stdout.push_str(&text);
            }
        }
    }
    closing(out, common, answer)
}

/// Exit 0 for a complete answer; 4, with a message, for one cut short.
fn closing(mut out: Outcome, common: &CommonArgs, answer: &Answer) -> Outcome {
    if answer.complete {
        return out.exit(Exit::Success);
    }
    out.stderr.push_str(&format!(
        "stopped after {} results (--max-results): the answer is incomplete\n",
        common.max_results.unwrap_or(0)
    ));
    out.exit(Exit::Cut)
}

fn findings_out(
    mut out: Outcome,
    common: &CommonArgs,
    auditor: &Auditor,
    a: &FindingsArgs,
    threads: usize,
) -> Outcome {
    // A gate never passes on nothing: a store without one entity to judge
    // (no --entities, say) has no findings because it has nothing.
    if a.fail_on.is_some()
        && !auditor
            .entities
            .iter()
            .any(|(uid, _)| !crate::schema::is_action_type(&uid.ty))
    {
        let d = Diagnostic::plain(
            "--fail-on has nothing to judge: the store holds no entity; give --entities",
        );
        out.diagnostics(&Sources::new(), &[d], common.diagnostics_format());
        return out.exit(Exit::Failure);
    }
    let found = match findings(auditor, threads, &a.finding, a.policy_set) {
        Ok(f) => f,
        Err(diagnostics) => {
            let format = common.diagnostics_format();
            out.diagnostics(&auditor.set.sources, &diagnostics, format);
            return out.exit(Exit::Failure);
        }
    };
    let shown = common.shown(found.len());
    match common.format {
        AuditFormat::Json => {
            for f in &found[..shown] {
                out.stdout.push_str(&f.to_json());
                out.stdout.push('\n');
            }
        }
        _ => {
            if found.is_empty() {
                out.stdout.push_str("no findings\n");
            }
            let mut severity = None;
            for f in &found[..shown] {
                if severity != Some(f.severity) {
                    if severity.is_some() {
                        out.stdout.push('\n');
                    }
                    severity = Some(f.severity);
                    out.stdout.push_str(&format!("{}:\n", f.severity.name()));
                }
                let about = match (&f.entity, &f.grant) {
                    (Some(e), Some(g)) => format!(" {e}, {}", g.describe()),
                    (Some(e), None) => format!(" {e}"),
                    (None, _) => f
                        .location
                        .as_ref()
                        .map(|l| format!(" {l}"))
                        .unwrap_or_default(),
                };
                out.stdout.push_str(&format!(
                    "  [{}]{about}\n    {}\n    why: {}\n    fix: {}\n",
                    f.finding, f.message, f.reason, f.fix
                ));
            }
            if !found.is_empty() {
                let count = |s: Severity| found.iter().filter(|f| f.severity == s).count();
                out.stdout.push_str(&format!(
                    "\n{} findings: {} error, {} security_warning, {} warning, {} suggestion\n",
                    found.len(),
                    count(Severity::Error),
                    count(Severity::SecurityWarning),
                    count(Severity::Warning),
                    count(Severity::Suggestion)
                ));
            }
        }
    }
    if cut_short(&mut out, shown, found.len(), "findings") {
        return out.exit(Exit::Cut);
    }
    let tripped = a
        .fail_on
        .as_deref()
        .and_then(Severity::parse)
        .is_some_and(|limit| found.iter().any(|f| f.severity <= limit));
    out.exit(Exit::success_unless(tripped, Exit::Flagged))
}

fn unused_out(mut out: Outcome, common: &CommonArgs, auditor: &Auditor, a: &UnusedArgs) -> Outcome {
    let requests = match read_log(&a.requests, &auditor.set.schema, &common.limits.limits()) {
        Ok(r) => r,
        Err(d) => {
            let format = common.diagnostics_format();
            out.diagnostics(&Sources::new(), &d, format);
            return out.exit(Exit::Failure);
        }
    };
    let found = unused(auditor, &requests);
    let shown = common.shown(found.len());
    match common.format {
        AuditFormat::Json => {
            for u in &found[..shown] {
                out.stdout.push_str(&u.to_json());
                out.stdout.push('\n');
            }
        }
        _ => {
            let mut principal = None;
            for u in &found[..shown] {
                if principal != Some(&u.principal) {
                    principal = Some(&u.principal);
                    out.stdout
                        .push_str(&format!("{}: {}\n", u.principal, u.message));
                }
                out.stdout
                    .push_str(&format!("  unused: {}\n", u.grant.describe()));
            }
            if found.is_empty() {
                out.stdout
                    .push_str("every grant is needed by an allowed request of the log\n");
            } else {
                out.stdout.push_str(
                    "\nEach grant above is unused on its own: removing several together may still \
                     cut access (a user holding both AdministratorAccess and AliyunBailianFullAccess \
                     needs one of them). Remove one, audit again.\n",
                );
            }
        }
    }
    if cut_short(&mut out, shown, found.len(), "unused grants") {
        return out.exit(Exit::Cut);
    }
    out.exit(Exit::Success)
}
