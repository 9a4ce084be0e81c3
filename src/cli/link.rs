//! `mspl link`: add a template-linked policy to a linked-policies file, as
//! Cedar's CLI does (`--template-id`, `-n`/`--new-id`, `-a`/`--arguments`),
//! after checking that the whole set, the new link included, loads.

use super::common::{finish_loading, Format, Outcome};
use crate::exit::Exit;
use crate::files::write_file;
use crate::policy_set::{links, IdScheme, Loader};
use std::path::PathBuf;

/// Arguments of `mspl link`.
#[derive(clap::Args, Debug)]
pub struct LinkArgs {
    /// Policy files or directories holding the template.
    #[arg(short = 'p', long, alias = "policy", num_args = 1.., required = true)]
    pub policies: Vec<PathBuf>,
    /// Extra declaration files.
    #[arg(short = 's', long, num_args = 1..)]
    pub schema: Vec<PathBuf>,
    /// The linked-policies file the link is added to (created when
    /// missing); without it the link is checked and shown, nothing written.
    #[arg(short = 'k', long = "template-linked", value_name = "FILE")]
    pub template_linked: Option<PathBuf>,
    /// The template: its `@id`, else its `policyN` id.
    #[arg(long, value_name = "ID")]
    pub template_id: String,
    /// The new policy's id.
    #[arg(short = 'n', long, value_name = "ID")]
    pub new_id: String,
    /// The slot values, as JSON: `{"?principal": "User::\"alice\""}`.
    #[arg(short = 'a', long, value_name = "JSON")]
    pub arguments: String,
    /// Output format of diagnostics.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// The limits in force.
    #[command(flatten)]
    pub limits: super::limit_args::LimitArgs,
}

/// Runs `mspl link`: 0 when the link was made (and written), 1 otherwise.
pub fn run(args: &LinkArgs) -> Outcome {
    let mut out = Outcome::default();
    let limits = args.limits.limits();
    let mut loader = Loader::new(limits);
    for p in args.policies.iter().chain(&args.schema) {
        loader.add_path(p);
    }
    if let Some(k) = args.template_linked.as_ref().filter(|k| k.exists()) {
        loader.add_links_path(k);
    }
    loader.add_link_arguments(
        &args.template_id,
        &args.new_id,
        "--arguments".into(),
        args.arguments.clone(),
    );
    let Some(set) = finish_loading(loader, IdScheme::Annotated, args.format, &mut out) else {
        return out.exit(Exit::Failure);
    };
    let Some((entry, link)) = set
        .policy(&args.new_id)
        .and_then(|e| Some((e, e.link.as_deref()?)))
    else {
        out.stderr.push_str("error: the new link was not made\n");
        return out.exit(Exit::Failure);
    };
    if let Some(path) = &args.template_linked {
        // The file's own links and the new one (not those of a JSON
        // policy file's `templateLinks`).
        let file_name = path.display().to_string();
        let specs: Vec<links::FileEntry> = set
            .policies
            .iter()
            .filter_map(|p| {
                let link = p.link.as_deref()?;
                let from = set.sources.name(link.span.file);
                (from == file_name || p.id == args.new_id).then(|| link.file_entry(&p.id))
            })
            .collect();
        let mut text = serde_json::to_string_pretty(&specs).unwrap_or_default();
        text.push('\n');
        if let Err(e) = write_file(path, &text) {
            out.stderr
                .push_str(&format!("error: cannot write `{}`: {e}\n", path.display()));
            return out.exit(Exit::Failure);
        }
    }
    out.stdout.push_str(&format!(
        "linked `{}`: {}\n{}",
        args.new_id,
        crate::explain::LinkTrace::new(link).text(),
        crate::fmt::print_file(&crate::syntax::ast::File {
            items: vec![crate::syntax::ast::Item::Policy(entry.policy.clone())],
        })
    ));
    out
}
