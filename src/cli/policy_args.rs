//! The arguments every command that reads policies takes beside its
//! `--policies` and `--schema` (Cedar CLI's names).

use std::path::PathBuf;

/// Template links, flattened into each command's args.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct PolicyInputs {
    /// Template links: a JSON array of `{"template_id", "link_id", "args"}`
    /// (Cedar CLI's linked-policies file). May be given more than once.
    #[arg(short = 'k', long = "template-linked", value_name = "FILE")]
    pub template_linked: Vec<PathBuf>,
}
