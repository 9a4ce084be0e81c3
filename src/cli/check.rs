//! `mspl check PATH…`: parse policy files and report every syntax error.

use super::common::{Format, Outcome};
use crate::diag::Severity;
use crate::exit::Exit;
use crate::policy_set::{IdScheme, Loader};
use std::path::PathBuf;

/// Arguments of `mspl check`.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// Policy files or directories (searched for *.mspl, *.cedar, *.cedarschema).
    #[arg(required_unless_present_any = ["policies", "schema"])]
    pub paths: Vec<PathBuf>,
    /// More policy files or directories (Cedar CLI's `-p`).
    #[arg(short = 'p', long, alias = "policy", num_args = 1..)]
    pub policies: Vec<PathBuf>,
    /// Declaration files (Cedar CLI's `-s`).
    #[arg(short = 's', long, num_args = 1..)]
    pub schema: Vec<PathBuf>,
    /// Template links and input formats (`-k`, as Cedar's CLI).
    #[command(flatten)]
    pub inputs: super::policy_args::PolicyInputs,
    /// An entity file that must read (Cedar CLI's `check-parse --entities`),
    /// or a database (`postgres://…`).
    #[arg(long, value_name = "FILE")]
    pub entities: Option<PathBuf>,
    /// A file holding the database URL to read the entities from (as
    /// `--entities postgres://…`, without showing a password to `ps`).
    #[arg(long, value_name = "FILE", conflicts_with = "entities")]
    pub entities_url_file: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// The limits in force.
    #[command(flatten)]
    pub limits: super::limit_args::LimitArgs,
}

/// Runs `mspl check`: 0 when everything parses and links, 1 otherwise.
pub fn run(args: &CheckArgs) -> Outcome {
    let mut out = Outcome::default();
    let mut loader = Loader::new(args.limits.limits());
    for p in args.paths.iter().chain(&args.policies) {
        loader.add_path_as(p, args.inputs.policy_source());
    }
    for p in &args.schema {
        loader.add_path_as(p, args.inputs.schema_source());
    }
    for k in &args.inputs.template_linked {
        loader.add_links_path(k);
    }
    let (set, mut diagnostics) = loader.finish(IdScheme::Annotated);
    let entities =
        crate::entity_source::resolve(args.entities.as_deref(), args.entities_url_file.as_deref());
    let entities = match entities {
        Ok(p) => p,
        Err(m) => {
            diagnostics.push(crate::diag::Diagnostic::plain(m));
            None
        }
    };
    if let Some(path) = &entities {
        if let Err(mut ds) = super::input::load_store(
            Some(path),
            &set,
            &crate::authorize::Options {
                limits: args.limits.limits(),
                ..Default::default()
            },
        ) {
            diagnostics.append(&mut ds);
        }
    }
    let failed = diagnostics.iter().any(|d| d.severity == Severity::Error);
    match args.format {
        Format::Json => out.diagnostics(&set.sources, &diagnostics, Format::Json),
        Format::Text => {
            if !diagnostics.is_empty() {
                out.diagnostics(&set.sources, &diagnostics, Format::Text);
            }
            let errors = diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .count();
            if failed {
                out.stderr.push_str(&format!("{errors} error(s)\n"));
            } else {
                // Templates and links only where there are any, so that
                // the line of a set without them stays as it was.
                let links = set.policies.iter().filter(|p| p.link.is_some()).count();
                let templates = match set.templates.len() {
                    0 => String::new(),
                    n => format!(" ({links} linked), {n} templates"),
                };
                out.stdout.push_str(&format!(
                    "ok: {} policies{templates}, {} rules, {} entity types, {} actions\n",
                    set.policies.len(),
                    set.rules.len(),
                    set.schema.entity_types.len(),
                    set.schema.actions.len()
                ));
            }
        }
    }
    out.exit(Exit::failure_if(failed))
}
