//! A snapshot: everything one decision reads (the policy set, its index, the
//! entity store, the options), loaded from the input files in one pass, with
//! the revision of exactly the bytes it was built from.
//!
//! Loading reads every input once into [`SourceFile`]s, hashes them into the
//! revision, and builds from the same texts, so a file that changes while
//! it is read can never give a snapshot whose revision names other bytes.
//! Files given on the command line and the files of a bundle become the same
//! kind of list, under the same keys (`policies/…`, `schema/…`, `links/…`,
//! `entities/…`), so the same files give the same revision either way.

use crate::authorize::{Options, PreparedSet};
use crate::diag::{Diagnostic, Severity, Sources};
use crate::entities::build::build_entities_for;
use crate::entities::Entities;
use crate::files::{collect_files, read_regular, Collected, TextKind};
use crate::policy_set::{IdScheme, Loader, PolicySet, SourceFormat};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// What a source file is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Policies, rules and declarations (`--policies`, a bundle's `policies/`).
    Policies,
    /// Declarations (`--schema`, a bundle's `schema/`).
    Schema,
    /// Template links (`-k`, a bundle's `links.json`).
    Links,
    /// The entity file (`--entities`, a bundle's `entities.json`).
    Entities,
}

impl Role {
    /// The role's folder in revision keys and bundles.
    pub fn folder(self) -> &'static str {
        match self {
            Role::Policies => "policies",
            Role::Schema => "schema",
            Role::Links => "links",
            Role::Entities => "entities",
        }
    }
}

/// One input file, read.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// What it is for.
    pub role: Role,
    /// Its path relative to the root it was found under (a file given by
    /// name: its file name), with `/` between parts.
    pub key: String,
    /// The name diagnostics show (its path as given, or inside the bundle).
    pub name: String,
    /// Its text.
    pub text: String,
}

/// The files a server serves and how it reads them.
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    /// Policy files or directories.
    pub policies: Vec<PathBuf>,
    /// Extra declaration files.
    pub schemas: Vec<PathBuf>,
    /// Template-link files.
    pub links: Vec<PathBuf>,
    /// The entity file.
    pub entities: Option<PathBuf>,
    /// How policy files are read (`None`: by name).
    pub policy_format: Option<SourceFormat>,
    /// How schema files are read (`None`: by name).
    pub schema_format: Option<SourceFormat>,
}

impl Inputs {
    /// Every path to watch for changes: the roots as given.
    pub fn roots(&self) -> Vec<PathBuf> {
        let mut roots: Vec<PathBuf> = self
            .policies
            .iter()
            .chain(&self.schemas)
            .chain(&self.links)
            .chain(&self.entities)
            .cloned()
            .collect();
        roots.sort();
        roots.dedup();
        roots
    }

    /// Reads every input file (directories walked in sorted order), bounded
    /// by the limits; every problem when any file cannot be read.
    pub fn read(&self, options: &Options) -> Result<Vec<SourceFile>, Vec<Diagnostic>> {
        let limits = &options.limits;
        let mut files = Vec::new();
        let mut problems = Vec::new();
        let groups = [
            (Role::Policies, &self.policies),
            (Role::Schema, &self.schemas),
            (Role::Links, &self.links),
        ];
        for (role, roots) in groups {
            for root in roots {
                let mut found = Collected::new();
                if let Err(e) = collect_files(root, &mut found) {
                    problems.push(Diagnostic::unreadable(
                        &root.display().to_string(),
                        &e.into(),
                    ));
                    continue;
                }
                for path in found.files {
                    let text_kind = match (role, SourceFormat::of(&path.display().to_string())) {
                        (Role::Policies | Role::Schema, SourceFormat::Text) => TextKind::Policy,
                        _ => TextKind::Data,
                    };
                    let bound = match text_kind {
                        TextKind::Policy => limits.max_policy_file_bytes,
                        _ => limits.max_data_file_bytes,
                    };
                    match read_regular(&path, bound, text_kind) {
                        Ok(text) => files.push(SourceFile {
                            role,
                            key: key_under(root, &path),
                            name: path.display().to_string(),
                            text,
                        }),
                        Err(e) => {
                            problems.push(Diagnostic::unreadable(&path.display().to_string(), &e))
                        }
                    }
                }
            }
        }
        if let Some(path) = &self.entities {
            match read_regular(path, limits.max_data_file_bytes, TextKind::Data) {
                Ok(text) => files.push(SourceFile {
                    role: Role::Entities,
                    key: key_under(path, path),
                    name: path.display().to_string(),
                    text,
                }),
                Err(e) => problems.push(Diagnostic::unreadable(&path.display().to_string(), &e)),
            }
        }
        if problems.is_empty() {
            Ok(files)
        } else {
            Err(problems)
        }
    }
}

/// `path`'s key under `root`: relative to it, or its file name when it is
/// the root itself.
fn key_under(root: &Path, path: &Path) -> String {
    let relative = match path.strip_prefix(root) {
        Ok(rest) if !rest.as_os_str().is_empty() => rest.to_path_buf(),
        _ => PathBuf::from(path.file_name().unwrap_or(path.as_os_str())),
    };
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// The revision of `files`: the SHA-256, in hex, of each file's role folder
/// and key and its bytes, in sorted key order (each part length-prefixed,
/// so no two lists hash alike by moving bytes between names and texts).
pub fn revision(files: &[SourceFile]) -> String {
    let mut keyed: Vec<(String, &str)> = files
        .iter()
        .map(|f| (format!("{}/{}", f.role.folder(), f.key), f.text.as_str()))
        .collect();
    keyed.sort();
    let mut hash = Sha256::new();
    for (key, text) in keyed {
        hash.update((key.len() as u64).to_le_bytes());
        hash.update(key.as_bytes());
        hash.update((text.len() as u64).to_le_bytes());
        hash.update(text.as_bytes());
    }
    hex(&hash.finalize())
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How snapshots are built: the id scheme, the options, whether to validate.
#[derive(Clone, Debug)]
pub struct Build {
    /// Policy ids.
    pub ids: IdScheme,
    /// How requests are judged (and the limits of loading).
    pub options: Options,
    /// Refuse a snapshot whose policies or entities fail validation.
    pub validate: bool,
    /// How policy files are read (`None`: by name).
    pub policy_format: Option<SourceFormat>,
    /// How schema files are read (`None`: by name).
    pub schema_format: Option<SourceFormat>,
}

/// A loaded, ready snapshot. Cloning shares the set and the store: a new
/// revision of the entities is a clone with another store.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The policy set, indexed, with how requests are judged.
    pub prepared: PreparedSet,
    /// The entity store (declared actions included).
    pub entities: Entities,
    /// The SHA-256 of the inputs ([`revision`]).
    pub revision: String,
    /// When it was loaded.
    pub loaded_at: SystemTime,
    /// How many input files it was built from.
    pub files: usize,
    /// The entity revision: with a change log, the base's revision and the
    /// transactions applied since; with a database, the revisions applied;
    /// otherwise the count of snapshots loaded.
    pub entity_revision: u64,
    /// With a database, the snapshot the entities were read at.
    pub db_snapshot: Option<crate::consistency::DbSnapshot>,
}

impl Snapshot {
    /// The policy set.
    pub fn set(&self) -> &PolicySet {
        self.prepared.set()
    }

    /// How requests are judged.
    pub fn options(&self) -> &Options {
        self.prepared.options()
    }

    /// How far its entities have come.
    pub fn position(&self) -> crate::consistency::Position {
        crate::consistency::Position {
            revision: self.entity_revision,
            snapshot: self.db_snapshot.clone(),
        }
    }

    /// The consistency token answers carry: the database snapshot, or the
    /// entity revision.
    pub fn entity_token(&self) -> String {
        match &self.db_snapshot {
            Some(s) => s.to_string(),
            None => self.entity_revision.to_string(),
        }
    }
}

/// Why a snapshot was refused: its diagnostics, rendered for the log.
#[derive(Clone, Debug)]
pub struct LoadError {
    /// The problems, rendered as `mspl authorize` would print them.
    pub rendered: String,
    /// The first problem, in one line (for status and metrics).
    pub summary: String,
}

impl LoadError {
    fn new(sources: &Sources, diagnostics: &[Diagnostic]) -> LoadError {
        let first = diagnostics
            .iter()
            .find(|d| d.severity == Severity::Error)
            .or(diagnostics.first());
        let summary = match first {
            Some(d) => match (&d.file, d.line, d.column, d.span) {
                (Some(file), Some(line), Some(column), _) => {
                    format!("{file}:{line}:{column}: {}", d.message)
                }
                (_, _, _, Some(span)) => {
                    let (line, column) = sources.line_column(span);
                    format!("{}:{line}:{column}: {}", sources.name(span.file), d.message)
                }
                (Some(file), _, _, None) => format!("{file}: {}", d.message),
                _ => d.message.clone(),
            },
            None => "the inputs did not load".into(),
        };
        let more = diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        let summary = if more > 1 {
            format!("{summary} (and {} more error(s))", more - 1)
        } else {
            summary
        };
        LoadError {
            rendered: sources.render(diagnostics, false),
            summary,
        }
    }

    /// A refusal described by one message.
    pub fn message(message: impl Into<String>) -> LoadError {
        let message = message.into();
        LoadError {
            rendered: format!("error: {message}\n"),
            summary: message,
        }
    }
}

impl From<Vec<Diagnostic>> for LoadError {
    fn from(diagnostics: Vec<Diagnostic>) -> LoadError {
        LoadError::new(&Sources::new(), &diagnostics)
    }
}

impl Build {
    /// Builds a snapshot of `files` (revision `revision`), or says why not.
    pub fn snapshot(
        &self,
        files: Vec<SourceFile>,
        revision: String,
    ) -> Result<Snapshot, LoadError> {
        let limits = self.options.limits;
        let mut loader = Loader::new(limits);
        let count = files.len();
        let mut entity_file = None;
        for file in files {
            match file.role {
                Role::Policies | Role::Schema => {
                    let given = if file.role == Role::Policies {
                        self.policy_format
                    } else {
                        self.schema_format
                    };
                    let format = given.unwrap_or_else(|| SourceFormat::of(&file.name));
                    loader.add_source_as(file.name, file.text, format);
                }
                Role::Links => loader.add_links_source(file.name, file.text),
                Role::Entities => entity_file = Some(file),
            }
        }
        let (mut set, diagnostics) = loader.finish(self.ids);
        if diagnostics.iter().any(|d| d.severity == Severity::Error) {
            return Err(LoadError::new(&set.sources, &diagnostics));
        }
        let (name, text) = match &entity_file {
            Some(f) => (f.name.as_str(), f.text.as_str()),
            None => ("<none>", "[]"),
        };
        let entities = build_entities_for(
            &set.schema,
            [(name, text)],
            &self.options.limits,
            self.options.cycles(),
        )
        .map_err(|e| LoadError::from(vec![Diagnostic::from(&e)]))?;
        if self.validate {
            self.refuse_invalid(&mut set, entity_file.as_ref())?;
        }
        Ok(Snapshot {
            prepared: PreparedSet::new(set, self.options),
            entities,
            revision,
            loaded_at: SystemTime::now(),
            files: count,
            entity_revision: 0,
            db_snapshot: None,
        })
    }

    /// `--validate`: the policies and the entity file checked against the
    /// declarations; errors refuse the snapshot, warnings do not.
    fn refuse_invalid(
        &self,
        set: &mut PolicySet,
        entity_file: Option<&SourceFile>,
    ) -> Result<(), LoadError> {
        use crate::validate::{self, data};
        if set.schema.is_empty() {
            return Err(LoadError::message(
                "--validate: nothing to validate against: no entity types or actions are declared",
            ));
        }
        let mut problems = validate::validate_policies(set);
        if let Some(f) = entity_file {
            let file = set.sources.add(f.name.clone(), f.text.clone());
            match data::validate_entities(set, file, &f.text) {
                Ok(mut p) => problems.append(&mut p),
                Err(e) => {
                    let d = Diagnostic::error(e.message, e.span, "here");
                    return Err(LoadError::new(&set.sources, &[d]));
                }
            }
        }
        let errors: Vec<Diagnostic> = validate::tidy(problems)
            .iter()
            .filter(|p| !p.is_warning())
            .map(Diagnostic::from)
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(LoadError::new(&set.sources, &errors))
        }
    }
}

/// Reads `inputs`: the files and their revision (the start and every
/// reload; the reloader then decides whether to build them).
pub fn read(inputs: &Inputs, build: &Build) -> Result<(Vec<SourceFile>, String), LoadError> {
    let files = inputs.read(&build.options)?;
    let revision = revision(&files);
    Ok((files, revision))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(role: Role, key: &str, text: &str) -> SourceFile {
        SourceFile {
            role,
            key: key.into(),
            name: format!("/somewhere/{key}"),
            text: text.into(),
        }
    }

    #[test]
    fn revision_ignores_order_and_names_shown_but_not_keys_or_bytes() {
        let a = file(
            Role::Policies,
            "a.cedar",
            "permit(principal, action, resource);",
        );
        let b = file(Role::Entities, "entities.json", "[]");
        let one = revision(&[a.clone(), b.clone()]);
        assert_eq!(one, revision(&[b.clone(), a.clone()]));
        let mut elsewhere = a.clone();
        elsewhere.name = "/other/place/a.cedar".into();
        assert_eq!(one, revision(&[elsewhere, b.clone()]));
        let mut renamed = a.clone();
        renamed.key = "b.cedar".into();
        assert_ne!(one, revision(&[renamed, b.clone()]));
        let mut edited = a.clone();
        edited.text.push(' ');
        assert_ne!(one, revision(&[edited, b.clone()]));
        // Bytes moved from a key into a text change the revision.
        let x = file(Role::Policies, "ab", "c");
        let y = file(Role::Policies, "a", "bc");
        assert_ne!(revision(&[x]), revision(&[y]));
        assert_eq!(one.len(), 64);
    }

    #[test]
    fn keys_are_relative_to_their_root() {
        let root = Path::new("/srv/policies");
        assert_eq!(
            key_under(root, Path::new("/srv/policies/a/b.cedar")),
            "a/b.cedar"
        );
        assert_eq!(
            key_under(Path::new("/srv/x.cedar"), Path::new("/srv/x.cedar")),
            "x.cedar"
        );
    }
}
