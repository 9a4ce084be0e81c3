//! The arguments every command that reads policies takes beside its
//! `--policies` and `--schema`: template links and the input formats
//! (Cedar CLI's names).

use crate::policy_set::SourceFormat;
use std::path::PathBuf;

/// Template links and input formats, flattened into each command's args.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct PolicyInputs {
    /// Template links: a JSON array of `{"template_id", "link_id", "args"}`
    /// (Cedar CLI's linked-policies file). May be given more than once.
    #[arg(short = 'k', long = "template-linked", value_name = "FILE")]
    pub template_linked: Vec<PathBuf>,
    /// The format of `--schema` files: `cedar` (`.cedarschema` syntax) or
    /// `json` (Cedar's JSON schema) [default: by name, `*.cedarschema.json`
    /// is JSON].
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub schema_format: Option<InputFormat>,
    /// The format of `--policies` files: `cedar` (text) or `json` (Cedar's
    /// JSON policy format) [default: by name, `*.cedar.json` is JSON].
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub policy_format: Option<InputFormat>,
}

/// A file format, as Cedar's CLI names them.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputFormat {
    /// Text: Cedar's (and mspl's) policy or schema syntax.
    #[value(alias = "human", alias = "text")]
    Cedar,
    /// Cedar's JSON formats.
    Json,
}

impl PolicyInputs {
    /// How `--policies` files are read (`None`: by name).
    pub fn policy_source(&self) -> Option<SourceFormat> {
        self.policy_format.map(|f| match f {
            InputFormat::Cedar => SourceFormat::Text,
            InputFormat::Json => SourceFormat::PoliciesJson,
        })
    }

    /// How `--schema` files are read (`None`: by name).
    pub fn schema_source(&self) -> Option<SourceFormat> {
        self.schema_format.map(|f| match f {
            InputFormat::Cedar => SourceFormat::Text,
            InputFormat::Json => SourceFormat::SchemaJson,
        })
    }
}
