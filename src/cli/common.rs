//! What the subcommands share: loading with diagnostics, output formats.

use crate::diag::{Diagnostic, Severity, Sources};
use crate::limits::Limits;
use crate::policy_set::{IdScheme, Loader, PolicySet};
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

/// What a command wrote and its exit code, so that commands can run
/// in-process (tests, the conformance runner) exactly as from the shell.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The exit code.
    pub code: i32,
    /// What goes to standard output.
    pub stdout: String,
    /// What goes to standard error.
    pub stderr: String,
}

impl Outcome {
    /// Writes the outputs to the process's streams and returns the code:
    /// 1 when standard output could not be written (a batch job must not
    /// believe its output was written).
    pub fn emit(self) -> i32 {
        use std::io::Write;
        let written = crate::files::write_stdout(self.stdout.as_bytes());
        let _ = std::io::stderr().write_all(self.stderr.as_bytes());
        match written {
            Ok(()) => self.code,
            Err(e) => crate::exit::Exit::stdout_failure(&e).code(),
        }
    }

    /// Adds diagnostics: codespan text on stderr, or a JSON array on stdout.
    pub fn diagnostics(&mut self, sources: &Sources, diagnostics: &[Diagnostic], format: Format) {
        match format {
            Format::Text => self
                .stderr
                .push_str(&sources.render(diagnostics, std::io::stderr().is_terminal())),
            Format::Json => {
                let objects: Vec<_> = diagnostics.iter().map(|d| sources.to_json(d)).collect();
                self.stdout
                    .push_str(&serde_json::to_string(&objects).unwrap_or_else(|_| "[]".into()));
                self.stdout.push('\n');
            }
        }
    }

    /// One response (with its explanation, when given) as JSON text.
    pub fn json_text(
        response: &crate::authorize::Response,
        explanation: Option<&crate::explain::Explanation>,
    ) -> String {
        let line = crate::explain::Explained {
            response,
            explanation,
        };
        serde_json::to_string(&line).unwrap_or_default()
    }

    /// Adds one response (with its explanation, when given) as a JSON line.
    pub fn json_line(
        &mut self,
        response: &crate::authorize::Response,
        explanation: Option<&crate::explain::Explanation>,
    ) {
        self.stdout
            .push_str(&Outcome::json_text(response, explanation));
        self.stdout.push('\n');
    }

    /// Adds the text block of request `i`, blocks separated by a blank line.
    pub fn text_block(&mut self, i: usize, block: &str) {
        if i > 0 {
            self.stdout.push('\n');
        }
        self.stdout.push_str(block);
    }

    /// Ends with `exit`.
    pub fn exit(mut self, exit: crate::exit::Exit) -> Outcome {
        self.code = exit.code();
        self
    }
}

/// Loads policies and declarations under `limits`, reporting problems into `out`.
pub fn load_policies_with(
    paths: &[PathBuf],
    schemas: &[PathBuf],
    inputs: &super::policy_args::PolicyInputs,
    ids: IdScheme,
    limits: &Limits,
    format: Format,
    out: &mut Outcome,
) -> Option<PolicySet> {
    let mut loader = Loader::new(*limits);
    for p in paths {
        loader.add_path_as(p, inputs.policy_source());
    }
    for p in schemas {
        loader.add_path_as(p, inputs.schema_source());
    }
    for k in &inputs.template_linked {
        loader.add_links_path(k);
    }
    finish_loading(loader, ids, format, out)
}

/// Links what `loader` holds, reporting problems into `out` (warnings only
/// in text); the set, when nothing failed.
pub fn finish_loading(
    loader: Loader,
    ids: IdScheme,
    format: Format,
    out: &mut Outcome,
) -> Option<PolicySet> {
    let (set, diagnostics) = loader.finish(ids);
    let failed = diagnostics.iter().any(|d| d.severity == Severity::Error);
    if !diagnostics.is_empty() && (failed || format == Format::Text) {
        out.diagnostics(&set.sources, &diagnostics, format);
    }
    (!failed).then_some(set)
}
