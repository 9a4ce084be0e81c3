//! `mspl lsp`: the language server of [`crate::lsp`] on stdin and stdout.

use super::common::Outcome;

/// Arguments of `mspl lsp`.
#[derive(clap::Args, Debug)]
pub struct LspArgs {
    /// Accepted for editors that pass it; stdio is the only transport.
    #[arg(long)]
    pub stdio: bool,
}

/// Runs `mspl lsp`: 0 for `exit` after `shutdown`, 1 otherwise.
pub fn run(_args: &LspArgs) -> Outcome {
    Outcome::default().exit(crate::lsp::run_stdio())
}
