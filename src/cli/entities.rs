//! `mspl entities compact`: a base entity file and its change log folded
//! into a new base, as `mspl serve --entity-changes` applies them (the same
//! transactions, read and applied by the same code), written atomically
//! with the revision it folded in beside it (`NEW.revision`); the log then
//! starts again, empty, after it.

use super::common::{load_policies_with, Format, Outcome};
use super::input::read_data;
use super::limit_args::LimitArgs;
use super::policy_args::PolicyInputs;
use crate::authorize::ErrorMode;
use crate::entities::build::{build_entities_for, Cycles};
use crate::entities::changes::{apply, read_transaction};
use crate::entities::json::Origin;
use crate::entities::Entities;
use crate::exit::Exit;
use crate::policy_set::IdScheme;
use serde_json::{json, Value as Json};
use std::path::{Path, PathBuf};

/// `mspl entities …`.
#[derive(clap::Args, Debug)]
pub struct EntitiesArgs {
    /// What to do.
    #[command(subcommand)]
    pub verb: EntitiesVerb,
}

/// The verbs of `mspl entities`.
#[derive(clap::Subcommand, Debug)]
pub enum EntitiesVerb {
    /// Fold a change log into a new base entity file.
    Compact(CompactArgs),
}

/// `mspl entities compact`.
#[derive(clap::Args, Debug)]
pub struct CompactArgs {
    /// The base entity file (Cedar's entity JSON).
    #[arg(long, value_name = "FILE")]
    pub entities: PathBuf,
    /// The change log applied after it.
    #[arg(long, value_name = "FILE")]
    pub changes: PathBuf,
    /// The new base to write (atomically); its revision goes to `OUT.revision`.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Policies and declarations, to read and check the transactions as the
    /// server does (declared types, values read as declared).
    #[arg(long, num_args = 1..)]
    pub policies: Vec<PathBuf>,
    /// Declaration files.
    #[arg(long, num_args = 1..)]
    pub schema: Vec<PathBuf>,
    /// Cedar's semantics: a transaction closing a cycle is refused.
    #[arg(long)]
    pub cedar: bool,
    /// Template links and formats of the policies.
    #[command(flatten)]
    pub inputs: PolicyInputs,
    /// Limits.
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// Runs `mspl entities`: 0 written, 1 bad input (nothing written).
pub fn run(args: &EntitiesArgs) -> Outcome {
    match &args.verb {
        EntitiesVerb::Compact(a) => compact(a),
    }
}

fn compact(args: &CompactArgs) -> Outcome {
    let mut out = Outcome::default();
    let limits = args.limits.limits();
    let fail = |mut out: Outcome, message: String| {
        out.stderr.push_str(&format!("error: {message}\n"));
        out.exit(Exit::Failure)
    };
    let set = if args.policies.is_empty() && args.schema.is_empty() {
        crate::policy_set::PolicySet::default()
    } else {
        let Some(set) = load_policies_with(
            &args.policies,
            &args.schema,
            &args.inputs,
            IdScheme::cedar(args.cedar),
            &limits,
            Format::Text,
            &mut out,
        ) else {
            return out.exit(Exit::Failure);
        };
        set
    };
    let cycles = match ErrorMode::cedar(args.cedar) {
        ErrorMode::Cedar => Cycles::Refused,
        ErrorMode::FailClosed => Cycles::Allowed,
    };
    let read = |path: &Path| {
        read_data(path, &limits).map_err(|d| {
            d.iter()
                .map(|d| d.message.clone())
                .collect::<Vec<_>>()
                .join("; ")
        })
    };
    let base_text = match read(&args.entities) {
        Ok(t) => t,
        Err(m) => return fail(out, format!("{}: {m}", args.entities.display())),
    };
    let log = match read(&args.changes) {
        Ok(t) => t,
        Err(m) => return fail(out, format!("{}: {m}", args.changes.display())),
    };
    let base_name = args.entities.display().to_string();
    let mut entities: Entities = match build_entities_for(
        &set.schema,
        [(base_name.as_str(), base_text.as_str())],
        &limits,
        cycles,
    ) {
        Ok(e) => e,
        Err(e) => {
            return fail(
                out,
                format!("{}:{}:{}: {}", e.file, e.line, e.column, e.message),
            )
        }
    };
    let mut revision = match crate::entities::changes::base_revision(&args.entities) {
        Ok(r) => r,
        Err(m) => return fail(out, m),
    };
    let (mut applied, mut failed) = (0u64, 0u64);
    let log_name = args.changes.display().to_string();
    if !log.is_empty() && !log.ends_with('\n') {
        return fail(
            out,
            format!("{log_name}: its last line has no newline: a transaction still being written; compact when it is whole"),
        );
    }
    for (i, line) in log.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = format!("{log_name} line {}", i + 1);
        let origin = Origin {
            file: &at,
            text: line,
            offset: 0,
        };
        let tx = match read_transaction(line, &origin, &set.schema, &limits) {
            Ok(tx) => tx,
            Err(e) => return fail(out, format!("{at}:{}: {}", e.column, e.message)),
        };
        if tx
            .if_revision
            .as_deref()
            .is_some_and(|r| r != revision.to_string())
        {
            failed += 1;
            continue;
        }
        match apply(&entities, &tx, &set.schema, cycles) {
            Ok(next) => {
                entities = next.entities;
                revision += 1;
                applied += 1;
            }
            Err(m) => return fail(out, format!("{at}: refused: {m}; nothing was written")),
        }
    }
    let text = entities_json(&entities);
    if let Err(e) = crate::files::write_file(&args.out, &text) {
        return fail(
            out,
            format!(
                "cannot write {}: {}",
                args.out.display(),
                crate::files::read::io_message(&e)
            ),
        );
    }
    let mut name = args.out.as_os_str().to_owned();
    name.push(".revision");
    if let Err(e) = crate::files::write_file(Path::new(&name), &format!("{revision}\n")) {
        return fail(
            out,
            format!(
                "cannot write {}: {}",
                Path::new(&name).display(),
                crate::files::read::io_message(&e)
            ),
        );
    }
    out.stderr.push_str(&format!(
        "compacted {applied} transaction(s) ({failed} whose precondition failed) into {}: revision {revision}; start the change log again, empty\n",
        args.out.display()
    ));
    out.exit(Exit::Success)
}

/// The store as Cedar's entity JSON, one entity a line, in uid order.
fn entities_json(entities: &Entities) -> String {
    let mut out = String::from("[\n");
    let mut first = true;
    for (uid, data) in entities.iter() {
        let entity = json!({
            "uid": {"type": uid.ty.to_string(), "id": uid.id.as_str()},
            "attrs": data.attrs.iter().map(|(k, v)| (k.to_string(), v.to_json())).collect::<serde_json::Map<String, Json>>(),
            "parents": entities.parents(uid).iter().map(|p| json!({"type": p.ty.to_string(), "id": p.id.as_str()})).collect::<Vec<_>>(),
            "tags": data.tags.iter().map(|(k, v)| (k.to_string(), v.to_json())).collect::<serde_json::Map<String, Json>>(),
        });
        if !first {
            out.push_str(",\n");
        }
        first = false;
        out.push_str(&entity.to_string());
    }
    out.push_str("\n]\n");
    out
}
