//! `mspl db`: mspl's tables in PostgreSQL. `init` creates them (or prints
//! their SQL), `migrate` upgrades tables an older mspl made, `load`
//! imports an entity file (`COPY`, one transaction), `dump` exports the
//! store to one, `prune` removes old changes.
//!
//! The database is named by a URL (`postgres://…` or `postgresql://…`),
//! `--url-file FILE` (a file holding it, so that a password stays out of
//! the process list), or neither: the `PG*` variables alone.

use super::common::{load_policies_with, Format, Outcome};
use super::input::read_data;
use super::limit_args::LimitArgs;
use super::policy_args::PolicyInputs;
use crate::db::{load, read, schema, Target};
use crate::diag::{Diagnostic, Sources};
use crate::entities::build::build_entities_for;
use crate::exit::Exit;
use crate::policy_set::IdScheme;
use std::path::PathBuf;

/// `mspl db …`.
#[derive(clap::Args, Debug)]
pub struct DbArgs {
    /// What to do.
    #[command(subcommand)]
    pub verb: DbVerb,
}

/// Where the database is.
#[derive(clap::Args, Debug, Clone)]
pub struct DbTarget {
    /// The database: `postgres://USER@HOST:PORT/DB?sslmode=…` (none: the
    /// `PG*` variables).
    #[arg(value_name = "URL")]
    pub url: Option<String>,
    /// A file holding the URL (kept out of the process list).
    #[arg(long, value_name = "FILE", conflicts_with = "url")]
    pub url_file: Option<PathBuf>,
}

/// The verbs of `mspl db`.
#[derive(clap::Subcommand, Debug)]
pub enum DbVerb {
    /// Create mspl's tables, or print their SQL with `--print`.
    Init(InitArgs),
    /// Upgrade tables made by an older mspl (or print the SQL with `--print`).
    Migrate(MigrateArgs),
    /// Import an entity file into the tables, in one transaction.
    Load(LoadArgs),
    /// Export the store to an entity file, read at one snapshot.
    Dump(DumpArgs),
    /// Remove changes older than a given age.
    Prune(PruneArgs),
}

/// `mspl db init`.
#[derive(clap::Args, Debug)]
pub struct InitArgs {
    /// The database.
    #[command(flatten)]
    pub target: DbTarget,
    /// Print the SQL instead of running it (no connection is made).
    #[arg(long)]
    pub print: bool,
}

/// `mspl db migrate`.
#[derive(clap::Args, Debug)]
pub struct MigrateArgs {
    /// The database.
    #[command(flatten)]
    pub target: DbTarget,
    /// Print the SQL that would upgrade it instead of running it.
    #[arg(long)]
    pub print: bool,
}

/// `mspl db load`.
#[derive(clap::Args, Debug)]
pub struct LoadArgs {
    /// The database.
    #[command(flatten)]
    pub target: DbTarget,
    /// The entity file to import (Cedar's entity JSON).
    #[arg(long, value_name = "FILE")]
    pub entities: PathBuf,
    /// Replace the entities the tables hold (else they must be empty).
    #[arg(long)]
    pub replace: bool,
    /// Policies and declarations: the file read as they declare (undeclared
    /// types refused, values read as declared).
    #[arg(short = 'p', long, num_args = 1..)]
    pub policies: Vec<PathBuf>,
    /// Declaration files.
    #[arg(short = 's', long, num_args = 1..)]
    pub schema: Vec<PathBuf>,
    /// Template links and formats of the policies.
    #[command(flatten)]
    pub inputs: PolicyInputs,
    /// Limits.
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// `mspl db dump`.
#[derive(clap::Args, Debug)]
pub struct DumpArgs {
    /// The database.
    #[command(flatten)]
    pub target: DbTarget,
    /// The entity file to write (atomically).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// `mspl db prune`.
#[derive(clap::Args, Debug)]
pub struct PruneArgs {
    /// The database.
    #[command(flatten)]
    pub target: DbTarget,
    /// Remove changes older than this: `90s`, `30m`, `24h`, `7d`.
    #[arg(long, value_name = "AGE")]
    pub older_than: String,
}

/// Runs `mspl db`: 0 done, 1 when it could not be done (nothing changed).
pub fn run(args: &DbArgs) -> Outcome {
    let out = Outcome::default();
    let result = match &args.verb {
        DbVerb::Init(a) if a.print => Ok(schema::script(0)),
        DbVerb::Init(a) => connect(&a.target).and_then(|(t, mut c)| init(&t, &mut c)),
        DbVerb::Migrate(a) => {
            connect(&a.target).and_then(|(t, mut c)| migrate(&t, &mut c, a.print))
        }
        DbVerb::Load(a) => load_file(a),
        DbVerb::Dump(a) => connect(&a.target).and_then(|(t, mut c)| dump(&t, &mut c, a)),
        DbVerb::Prune(a) => connect(&a.target).and_then(|(t, mut c)| prune(&t, &mut c, a)),
    };
    finish(out, result)
}

/// What a verb did, or why it failed (a rendered message).
type Said = Result<String, Failed>;

/// Why a verb failed: a message, or rendered diagnostics.
enum Failed {
    Message(String),
    Rendered(String),
}

impl From<String> for Failed {
    fn from(message: String) -> Failed {
        Failed::Message(message)
    }
}

fn finish(mut out: Outcome, result: Said) -> Outcome {
    match result {
        Ok(text) => {
            out.stdout.push_str(&text);
            out.exit(Exit::Success)
        }
        Err(Failed::Message(m)) => {
            out.stderr.push_str(&format!("error: {m}\n"));
            out.exit(Exit::Failure)
        }
        Err(Failed::Rendered(r)) => {
            out.stderr.push_str(&r);
            out.exit(Exit::Failure)
        }
    }
}

/// Reads the target (warning of a password written inline) and connects.
fn connect(target: &DbTarget) -> Result<(Target, postgres::Client), Failed> {
    let target = parse_target(target)?;
    let client = target.connect()?;
    Ok((target, client))
}

/// The target the arguments name, completed from the environment.
pub fn parse_target(target: &DbTarget) -> Result<Target, String> {
    let (text, inline) = match (&target.url, &target.url_file) {
        (Some(url), _) => (url.clone(), true),
        (None, Some(file)) => (crate::entity_source::url_from_file(file)?, false),
        (None, None) => (String::new(), false),
    };
    let (target, warning) = Target::parse(&text, &|k| std::env::var(k).ok(), inline)?;
    if let Some(w) = warning {
        eprintln!("{w}");
    }
    Ok(target)
}

fn init(target: &Target, client: &mut postgres::Client) -> Said {
    match schema::version(client)? {
        None => {
            let (_, to) = schema::upgrade(client)?;
            Ok(format!(
                "{}: created mspl's tables (version {to})\n",
                target.shown()
            ))
        }
        Some(v) if v == schema::CURRENT => Ok(format!(
            "{}: mspl's tables are already there (version {v}); nothing to do\n",
            target.shown()
        )),
        Some(v) => Err(schema::refusal(Some(v), target.shown())
            .unwrap_or_default()
            .into()),
    }
}

fn migrate(target: &Target, client: &mut postgres::Client, print: bool) -> Said {
    let shown = target.shown();
    match schema::version(client)? {
        None => Err(schema::refusal(None, shown).unwrap_or_default().into()),
        Some(v) if v > schema::CURRENT => {
            Err(schema::refusal(Some(v), shown).unwrap_or_default().into())
        }
        Some(v) if v == schema::CURRENT => Ok(if print {
            format!("-- {shown} is at version {v}: nothing to upgrade\n")
        } else {
            format!("{shown}: mspl's tables are at version {v}; nothing to do\n")
        }),
        Some(v) if print => Ok(schema::script(v)),
        Some(_) => {
            let (from, to) = schema::upgrade(client)?;
            Ok(format!(
                "{shown}: upgraded mspl's tables from version {from} to {to}\n"
            ))
        }
    }
}

fn load_file(args: &LoadArgs) -> Said {
    let limits = args.limits.limits();
    let mut out = Outcome::default();
    let set = if args.policies.is_empty() && args.schema.is_empty() {
        crate::policy_set::PolicySet::default()
    } else {
        match load_policies_with(
            &args.policies,
            &args.schema,
            &args.inputs,
            IdScheme::Annotated,
            &limits,
            Format::Text,
            &mut out,
        ) {
            Some(set) => set,
            None => return Err(Failed::Rendered(out.stderr)),
        }
    };
    let name = args.entities.display().to_string();
    let text = read_data(&args.entities, &limits)
        .map_err(|ds| Failed::Rendered(Sources::new().render(&ds, false)))?;
    // Read as every command reads it: what does not read is not written.
    let rendered = |e: &crate::entities::json::DataError| {
        Failed::Rendered(Sources::new().render(&[Diagnostic::from(e)], false))
    };
    build_entities_for(
        &set.schema,
        [(name.as_str(), text.as_str())],
        &limits,
        crate::entities::build::Cycles::Allowed,
    )
    .map_err(|e| rendered(&e))?;
    let rows = load::rows(&text, &name).map_err(|e| rendered(&e))?;
    let (target, mut client) = connect(&args.target)?;
    let loaded = load::load(&mut client, target.shown(), &rows, args.replace)?;
    let replaced = if loaded.replaced > 0 {
        format!(", replacing {}", loaded.replaced)
    } else {
        String::new()
    };
    Ok(format!(
        "{}: loaded {} entities and {} parent links from {name}{replaced}\n",
        target.shown(),
        loaded.entities,
        loaded.parents
    ))
}

fn dump(target: &Target, client: &mut postgres::Client, args: &DumpArgs) -> Said {
    let store = read::read_store(client, target.shown())?;
    crate::files::write_file(&args.out, &store.text).map_err(|e| {
        format!(
            "cannot write {}: {}",
            args.out.display(),
            crate::files::read::io_message(&e)
        )
    })?;
    Ok(format!(
        "{}: dumped {} entities to {} (snapshot {})\n",
        target.shown(),
        store.count,
        args.out.display(),
        store.snapshot
    ))
}

fn prune(target: &Target, client: &mut postgres::Client, args: &PruneArgs) -> Said {
    let seconds = parse_age(&args.older_than)?;
    let removed = load::prune(client, target.shown(), seconds)?;
    Ok(format!(
        "{}: removed {removed} change(s) older than {}\n",
        target.shown(),
        args.older_than
    ))
}

/// `90s`, `30m`, `24h`, `7d` in seconds.
fn parse_age(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is no age: write 90s, 30m, 24h or 7d"))?;
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(format!("`{text}` is no age: write 90s, 30m, 24h or 7d")),
    };
    Ok(number.saturating_mul(unit))
}
