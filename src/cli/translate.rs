//! `mspl translate` and `mspl schema translate`: policies and declarations
//! between their text and Cedar's JSON formats, both ways. Also under the
//! Cedar CLI's names, `translate-policy` and `translate-schema`, with its
//! `--direction` and `-p`/`-s` flags.

use super::common::{finish_loading, Format, Outcome};
use crate::diag::{Diagnostic, Severity, Sources};
use crate::exit::Exit;
use crate::files::{read_stream, read_text, write_file, TextKind};
use crate::policy_set::json::policy_set_to_json;
use crate::policy_set::{links, IdScheme, Loader, SourceFormat};
use crate::syntax::ast::{Annotation, File, Item};
use crate::syntax::json::parse_json;
use crate::syntax::schema_json::{read_schema_json, schema_to_json};
use std::path::{Path, PathBuf};

/// The format translated to.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Cedar's JSON format.
    Json,
    /// Text: Cedar's policy or schema syntax.
    #[value(alias = "human", alias = "text")]
    Cedar,
}

/// Cedar CLI's `--direction` of `translate-policy` and `translate-schema`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Text to JSON.
    CedarToJson,
    /// JSON to text.
    JsonToCedar,
}

impl Direction {
    fn target(self) -> Target {
        match self {
            Direction::CedarToJson => Target::Json,
            Direction::JsonToCedar => Target::Cedar,
        }
    }
}

/// The format a translation writes, as mspl (`--to`) or Cedar's CLI
/// (`--direction`) says it.
#[derive(clap::Args, Debug)]
pub struct TargetArgs {
    /// The format to write.
    #[arg(long, value_enum, required_unless_present = "direction")]
    pub to: Option<Target>,
    /// Cedar CLI's name for `--to`.
    #[arg(long, value_enum, conflicts_with = "to")]
    pub direction: Option<Direction>,
}

impl TargetArgs {
    /// The format to write.
    fn target(&self) -> Target {
        self.to
            .or(self.direction.map(Direction::target))
            .unwrap_or(Target::Json)
    }
}

/// Arguments of `mspl translate` (`translate-policy`).
#[derive(clap::Args, Debug)]
pub struct TranslateArgs {
    /// The policy file to translate (`-`: standard input); its format is
    /// its name's (`*.json` is JSON) unless `--policy-format` says.
    #[arg(value_name = "FILE", required_unless_present = "policies")]
    pub file: Option<PathBuf>,
    /// The policy file (Cedar CLI's `-p`).
    #[arg(
        short = 'p',
        long = "policies",
        value_name = "FILE",
        conflicts_with = "file"
    )]
    pub policies: Option<PathBuf>,
    /// The format to write.
    #[command(flatten)]
    pub target: TargetArgs,
    /// The input's format, whatever its name.
    #[arg(long, value_enum)]
    pub policy_format: Option<super::policy_args::InputFormat>,
    /// Template links to translate with the policies (to JSON).
    #[arg(short = 'k', long = "template-linked", value_name = "FILE")]
    pub template_linked: Vec<PathBuf>,
    /// Where the links go when translating to text (which has no form for
    /// them): a linked-policies file, written atomically.
    #[arg(long, value_name = "FILE")]
    pub links_out: Option<PathBuf>,
    /// Output format of diagnostics.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Name text policies `policyN` whatever their `@id`, as Cedar's
    /// library does.
    #[arg(long)]
    pub cedar: bool,
    /// The limits in force.
    #[command(flatten)]
    pub limits: super::limit_args::LimitArgs,
}

/// Arguments of `mspl schema`.
#[derive(clap::Args, Debug)]
pub struct SchemaArgs {
    /// What to do with the declarations.
    #[command(subcommand)]
    pub command: SchemaCommand,
}

/// The subcommands of `mspl schema`.
#[derive(clap::Subcommand, Debug)]
pub enum SchemaCommand {
    /// Translate declarations between `.cedarschema` text and Cedar's JSON schema.
    Translate(SchemaTranslateArgs),
}

/// Arguments of `mspl schema translate` (`translate-schema`).
#[derive(clap::Args, Debug)]
pub struct SchemaTranslateArgs {
    /// The schema file (`-`: standard input); `*.json` is JSON unless
    /// `--schema-format` says.
    #[arg(value_name = "FILE", required_unless_present = "schema")]
    pub file: Option<PathBuf>,
    /// The schema file (Cedar CLI's `-s`).
    #[arg(
        short = 's',
        long = "schema",
        value_name = "FILE",
        conflicts_with = "file"
    )]
    pub schema: Option<PathBuf>,
    /// The format to write.
    #[command(flatten)]
    pub target: TargetArgs,
    /// The input's format, whatever its name.
    #[arg(long, value_enum)]
    pub schema_format: Option<super::policy_args::InputFormat>,
    /// Output format of diagnostics.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// The limits in force.
    #[command(flatten)]
    pub limits: super::limit_args::LimitArgs,
}

/// Reads `path` (`-`: standard input) as text, or a diagnostic.
fn read_input(path: &Path, limit: usize) -> Result<(String, String), Box<Diagnostic>> {
    let name = path.display().to_string();
    let text = if name == "-" {
        read_stream(&mut std::io::stdin().lock(), limit, TextKind::Data)
    } else {
        read_text(path, limit, TextKind::Data)
    };
    text.map(|t| (name.clone(), t))
        .map_err(|e| Box::new(Diagnostic::unreadable(&name, &e)))
}

fn is_json(name: &str, format: Option<super::policy_args::InputFormat>) -> bool {
    match format {
        Some(f) => f == super::policy_args::InputFormat::Json,
        None => name.ends_with(".json"),
    }
}

/// Runs `mspl translate`: 0 with the translation on standard output, 1
/// when the input does not read or has no form in the target.
pub fn run(args: &TranslateArgs) -> Outcome {
    let mut out = Outcome::default();
    let Some(path) = args.file.as_ref().or(args.policies.as_ref()) else {
        return out.exit(Exit::Failure);
    };
    let target = args.target.target();
    let limits = args.limits.limits();
    let (name, text) = match read_input(path, limits.max_policy_file_bytes) {
        Ok(t) => t,
        Err(d) => {
            out.diagnostics(&Sources::new(), &[*d], args.format);
            return out.exit(Exit::Failure);
        }
    };
    let mut loader = Loader::new(limits);
    let json_in = is_json(&name, args.policy_format);
    let format = if json_in {
        SourceFormat::PoliciesJson
    } else {
        SourceFormat::Text
    };
    loader.add_source_as(name, text, format);
    for k in &args.template_linked {
        loader.add_links_path(k);
    }
    let Some(set) = finish_loading(loader, IdScheme::cedar(args.cedar), args.format, &mut out)
    else {
        return out.exit(Exit::Failure);
    };
    // What Cedar's policy formats have no room for.
    let refuse = |what: &str, span| {
        Diagnostic::error(
            format!("Cedar's policy formats have no form for {what}"),
            span,
            "not Cedar",
        )
        .with_help(Some("only policies, templates and links translate".into()))
    };
    let mut refused: Vec<Diagnostic> = set
        .rules
        .iter()
        .filter_map(|r| r.clauses.first())
        .map(|c| refuse(&format!("the rule `{}`", c.name), c.head))
        .collect();
    let declared = set.schema.entity_types.values().map(|t| t.span);
    if let Some(span) = declared
        .chain(set.schema.actions.values().map(|a| a.span))
        .next()
    {
        refused.push(refuse(
            "declarations (translate them with `mspl schema translate`)",
            span,
        ));
    }
    let json = policy_set_to_json(&set);
    if let Err(no) = &json {
        refused.extend(no.iter().map(Diagnostic::from));
    }
    if !refused.is_empty() {
        out.diagnostics(&set.sources, &refused, args.format);
        return out.exit(Exit::Failure);
    }
    match (target, json) {
        (Target::Json, Ok(json)) => {
            out.stdout
                .push_str(&serde_json::to_string_pretty(&json).unwrap_or_default());
            out.stdout.push('\n');
            out
        }
        (Target::Json, Err(_)) => out.exit(Exit::Failure),
        (Target::Cedar, _) => {
            let mut items = Vec::new();
            for entry in set
                .policies
                .iter()
                .filter(|p| p.link.is_none())
                .chain(&set.templates)
            {
                let mut policy = entry.policy.clone();
                // The id survives as `@id`, which mspl and Cedar's CLI read.
                if json_in && !policy.annotations.iter().any(|a| a.key == "id") {
                    policy.annotations.insert(
                        0,
                        Annotation {
                            key: "id".into(),
                            value: Some(entry.id.clone()),
                            span: policy.head,
                        },
                    );
                }
                policy.id = None;
                items.push(Item::Policy(policy));
            }
            let links: Vec<links::FileEntry> = set
                .policies
                .iter()
                .filter_map(|p| Some(p.link.as_deref()?.file_entry(&p.id)))
                .collect();
            if !links.is_empty() {
                let Some(dest) = &args.links_out else {
                    let d = Diagnostic::plain(format!(
                        "the policies have {} template links, which Cedar's text has no form for",
                        links.len()
                    ))
                    .with_help(Some(
                        "give `--links-out FILE` to write them as a linked-policies file".into(),
                    ));
                    out.diagnostics(&Sources::new(), &[d], args.format);
                    return out.exit(Exit::Failure);
                };
                let mut text = serde_json::to_string_pretty(&links).unwrap_or_default();
                text.push('\n');
                if let Err(e) = write_file(dest, &text) {
                    out.stderr
                        .push_str(&format!("error: cannot write `{}`: {e}\n", dest.display()));
                    return out.exit(Exit::Failure);
                }
            }
            out.stdout
                .push_str(&crate::fmt::print_file(&File { items }));
            out
        }
    }
}

/// Runs `mspl schema`.
pub fn run_schema(args: &SchemaArgs) -> Outcome {
    match &args.command {
        SchemaCommand::Translate(a) => run_schema_translate(a),
    }
}

/// Runs `mspl schema translate`: 0 with the translation on standard
/// output, 1 when the input does not read.
pub fn run_schema_translate(args: &SchemaTranslateArgs) -> Outcome {
    let mut out = Outcome::default();
    let Some(path) = args.file.as_ref().or(args.schema.as_ref()) else {
        return out.exit(Exit::Failure);
    };
    let target = args.target.target();
    let limits = args.limits.limits();
    let (name, text) = match read_input(path, limits.max_policy_file_bytes) {
        Ok(t) => t,
        Err(d) => {
            out.diagnostics(&Sources::new(), &[*d], args.format);
            return out.exit(Exit::Failure);
        }
    };
    let mut sources = Sources::new();
    let file = sources.next_id();
    let (items, mut problems) = if is_json(&name, args.schema_format) {
        match parse_json(&text, file, limits.json_depth()) {
            Ok(json) => read_schema_json(&json),
            Err(d) => (Vec::new(), vec![*d]),
        }
    } else {
        let parsed = crate::syntax::parse_file(&text, file, &limits);
        let problems: Vec<Diagnostic> = parsed.errors.iter().map(Diagnostic::from).collect();
        (parsed.file.items, problems)
    };
    sources.add(name, text);
    for item in &items {
        match item {
            Item::Policy(p) => problems.push(
                Diagnostic::error(
                    "a schema holds declarations, not policies",
                    p.head,
                    "a policy",
                )
                .with_help(Some("translate policies with `mspl translate`".into())),
            ),
            Item::Rule(r) => problems.push(
                Diagnostic::error(
                    format!(
                        "Cedar's schema formats have no form for the rule `{}`",
                        r.name
                    ),
                    r.head,
                    "not Cedar",
                )
                .with_help(Some(
                    "a schema holds entity types, actions and common types".into(),
                )),
            ),
            Item::Decl(_) | Item::Namespace(_) => {}
        }
    }
    let (_, schema_errors) = crate::schema::Schema::build(items.iter());
    problems.extend(schema_errors.iter().map(Diagnostic::from));
    if problems.iter().any(|d| d.severity == Severity::Error) {
        out.diagnostics(&sources, &problems, args.format);
        return out.exit(Exit::Failure);
    }
    match target {
        Target::Json => {
            out.stdout.push_str(
                &serde_json::to_string_pretty(&schema_to_json(&items)).unwrap_or_default(),
            );
            out.stdout.push('\n');
        }
        Target::Cedar => {
            let mut items = items;
            crate::syntax::schema_json::plain_builtin_names(&mut items);
            out.stdout
                .push_str(&crate::fmt::print_file(&File { items }))
        }
    }
    out
}
