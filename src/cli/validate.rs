//! `mspl validate`: policies, rules, entity data and requests against the
//! declarations (contract, "Commands": 0 clean, warnings allowed; 1
//! unreadable input; 3 validation errors).

use super::common::{load_policies_with, Format, Outcome};
use crate::diag::{Diagnostic, Severity};
use crate::exit::Exit;
use crate::limits::Limits;
use crate::policy_set::{IdScheme, PolicySet};
use crate::validate::{self, data, Problem};
use std::path::{Path, PathBuf};

/// Arguments of `mspl validate`.
#[derive(clap::Args, Debug)]
pub struct ValidateArgs {
    /// Policy files or directories (searched for *.mspl, *.cedar, *.cedarschema).
    #[arg(short = 'p', long, alias = "policy", num_args = 1.., required = true)]
    pub policies: Vec<PathBuf>,
    /// Extra declaration files.
    #[arg(short = 's', long, num_args = 1..)]
    pub schema: Vec<PathBuf>,
    /// Template links (`-k`, as Cedar's CLI).
    #[command(flatten)]
    pub inputs: super::policy_args::PolicyInputs,
    /// An entity file (Cedar's entity JSON), or a database (`postgres://…`),
    /// to check against the declarations.
    #[arg(long)]
    pub entities: Option<PathBuf>,
    /// A file holding the database URL to read the entities from (as
    /// `--entities postgres://…`, without showing a password to `ps`).
    #[arg(long, value_name = "FILE", conflicts_with = "entities")]
    pub entities_url_file: Option<PathBuf>,
    /// One request (a JSON file) to check.
    #[arg(long, conflicts_with = "requests")]
    pub request: Option<PathBuf>,
    /// Requests to check, one JSON object per line.
    #[arg(long)]
    pub requests: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Fail (exit 3) on warnings too, as Cedar's CLI does.
    #[arg(long)]
    pub deny_warnings: bool,
    /// Cedar CLI's validation mode; mspl's validator is Cedar's strict one.
    #[arg(long, value_enum, default_value = "strict")]
    pub validation_mode: ValidationMode,
    /// The limits in force.
    #[command(flatten)]
    pub limits: super::limit_args::LimitArgs,
}

/// Cedar CLI's `--validation-mode`: only `strict` is mspl's.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValidationMode {
    /// Cedar's strict validation, the only mode mspl has.
    Strict,
}

/// The data files to check besides the policies.
#[derive(Clone, Debug, Default)]
pub struct DataFiles<'a> {
    /// An entity file.
    pub entities: Option<&'a Path>,
    /// One request.
    pub request: Option<&'a Path>,
    /// Requests, one per line.
    pub requests: Option<&'a Path>,
    /// A request given on the command line (`-l/-a/-r/-c`), as JSON text.
    pub inline: Option<String>,
    /// The limits in force (the data-file size among them).
    pub limits: Limits,
}

/// Validates the policies of `set` and the data files, which are added to
/// `set.sources` so that problems point into them. `Err` holds the
/// diagnostics of an input that could not be read at all, or of a set
/// without declarations.
pub fn problems(set: &mut PolicySet, files: DataFiles) -> Result<Vec<Problem>, Vec<Diagnostic>> {
    if set.schema.is_empty() {
        return Err(vec![Diagnostic::plain(
            "nothing to validate against: no entity types or actions are declared",
        )
        .with_help(Some(
            "add declarations (Cedar's schema syntax) to the policies, or pass them with `--schema FILE`".into(),
        ))]);
    }
    let mut problems = validate::validate_policies(set);
    let inputs = [(files.entities, 0), (files.request, 1), (files.requests, 2)];
    for (path, kind) in inputs {
        let Some(path) = path else { continue };
        let (name, text) = if kind == 0 {
            crate::entity_source::read(path, files.limits.max_data_file_bytes).map_err(|e| {
                vec![Diagnostic::unreadable(
                    &crate::entity_source::shown(path),
                    &e,
                )]
            })?
        } else {
            (
                path.display().to_string(),
                super::input::read_data(path, &files.limits)?,
            )
        };
        let file = set.sources.add(name, text.clone());
        let found = match kind {
            0 => data::validate_entities(set, file, &text),
            _ => data::validate_requests(set, file, &text, kind == 2),
        };
        match found {
            Ok(mut p) => problems.append(&mut p),
            Err(e) => return Err(vec![Diagnostic::error(e.message, e.span, "here")]),
        }
    }
    if let Some(text) = files.inline {
        let file = set
            .sources
            .add("the request on the command line", text.clone());
        match data::validate_requests(set, file, &text, false) {
            Ok(mut p) => problems.append(&mut p),
            Err(e) => return Err(vec![Diagnostic::error(e.message, e.span, "here")]),
        }
    }
    Ok(validate::tidy(problems))
}

/// Runs `mspl validate`.
pub fn run(args: &ValidateArgs) -> Outcome {
    let mut out = Outcome::default();
    let limits = args.limits.limits();
    let Some(mut set) = load_policies_with(
        &args.policies,
        &args.schema,
        &args.inputs,
        IdScheme::Annotated,
        &limits,
        args.format,
        &mut out,
    ) else {
        return out.exit(Exit::Failure);
    };
    let entities = match crate::entity_source::resolve(
        args.entities.as_deref(),
        args.entities_url_file.as_deref(),
    ) {
        Ok(p) => p,
        Err(m) => {
            out.diagnostics(&set.sources, &[Diagnostic::plain(m)], args.format);
            return out.exit(Exit::Failure);
        }
    };
    let files = DataFiles {
        entities: entities.as_deref(),
        request: args.request.as_deref(),
        requests: args.requests.as_deref(),
        inline: None,
        limits,
    };
    let found = match problems(&mut set, files) {
        Ok(p) => p,
        Err(d) => {
            out.diagnostics(&set.sources, &d, args.format);
            return out.exit(Exit::Failure);
        }
    };
    let diagnostics: Vec<Diagnostic> = found.iter().map(Diagnostic::from).collect();
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diagnostics.len() - errors;
    let failing = if args.deny_warnings {
        errors + warnings
    } else {
        errors
    };
    match args.format {
        Format::Json => out.diagnostics(&set.sources, &diagnostics, Format::Json),
        Format::Text => {
            if !diagnostics.is_empty() {
                out.diagnostics(&set.sources, &diagnostics, Format::Text);
            }
            if failing > 0 {
                out.stderr
                    .push_str(&format!("{errors} error(s), {warnings} warning(s)\n"));
            } else {
                out.stdout.push_str(&format!(
                    "ok: {} policies and {} rules validate against {} entity types and {} actions{}\n",
                    set.policies.len(),
                    set.rules.len(),
                    set.schema.entity_types.len(),
                    set.schema.actions.len(),
                    if warnings > 0 {
                        format!(" ({warnings} warning(s))")
                    } else {
                        String::new()
                    }
                ));
            }
        }
    }
    out.exit(Exit::success_unless(failing > 0, Exit::Refused))
}

/// For `authorize --validate`: validates the loaded policies, the entity
/// and request files named by `input`, and a request given on the command
/// line (`inline`); reports the problems into `out` and returns the exit
/// outcome that refuses the request (`Refused` for validation errors, `Failure` for
/// unreadable data), or `None` to go on.
pub fn refuse(
    set: &mut PolicySet,
    input: &super::input::RequestArgs,
    inline: Option<&crate::entities::json::Request>,
    out: &mut Outcome,
) -> Option<Exit> {
    let inline = inline
        .filter(|_| input.request.is_none() && input.requests.is_none())
        .map(|r| {
            serde_json::to_string_pretty(&crate::entities::json::RequestJson::of(r))
                .unwrap_or_default()
        });
    let files = DataFiles {
        entities: input.entities.as_deref(),
        request: input.request.as_deref(),
        requests: input.requests.as_deref(),
        inline,
        limits: input.limits.limits(),
    };
    let found = match problems(set, files) {
        Ok(p) => p,
        Err(d) => {
            out.diagnostics(&set.sources, &d, input.format);
            return Some(Exit::Failure);
        }
    };
    let errors: Vec<Diagnostic> = found
        .iter()
        .filter(|p| !p.is_warning())
        .map(Diagnostic::from)
        .collect();
    if errors.is_empty() {
        return None;
    }
    out.diagnostics(&set.sources, &errors, input.format);
    if input.format == Format::Text {
        out.stderr.push_str(&format!(
            "refused: {} validation error(s); see `mspl validate`\n",
            errors.len()
        ));
    }
    Some(Exit::Refused)
}
