//! What the subcommands share: loading with diagnostics, output formats.

use crate::diag::{Diagnostic, Severity, Sources};
use crate::policy_set::{IdScheme, Loader, PolicySet};
use crate::Limits;
use std::io::IsTerminal;
use std::path::PathBuf;

/// Output format.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// For people.
    #[default]
    Text,
    /// For programs.
    Json,
}

/// Loads `paths` (and `schemas`) into a policy set; prints the diagnostics.
/// Returns `None` when there were errors.
pub fn load_policies(paths: &[PathBuf], schemas: &[PathBuf], ids: IdScheme, format: Format) -> Option<PolicySet> {
    let mut loader = Loader::new(Limits::default());
    for p in paths.iter().chain(schemas) {
        loader.add_path(p);
    }
    let (set, diagnostics) = loader.finish(ids);
    let failed = diagnostics.iter().any(|d| d.severity == Severity::Error);
    if !diagnostics.is_empty() && (failed || format == Format::Text) {
        print_diagnostics(&set.sources, &diagnostics, format);
    }
    (!failed).then_some(set)
}

/// Prints diagnostics: codespan text on stderr, or a JSON array on stdout.
pub fn print_diagnostics(sources: &Sources, diagnostics: &[Diagnostic], format: Format) {
    match format {
        Format::Text => eprint!("{}", sources.render(diagnostics, std::io::stderr().is_terminal())),
        Format::Json => {
            let objects: Vec<_> = diagnostics.iter().map(|d| sources.to_json(d)).collect();
            println!("{}", serde_json::to_string(&objects).unwrap_or_else(|_| "[]".into()));
        }
    }
}
