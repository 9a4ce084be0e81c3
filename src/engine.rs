//! [`Engine`]: the library's front door. A loaded policy set plus an entity
//! store, answering requests given as values or as JSON text.

use crate::authorize::{Options, PolicyIndex, Response};
use crate::diag::Diagnostic;
use crate::entities::json::{self, DataError, Origin, Request};
use crate::entities::Entities;
use crate::files::{read_text, TextKind};
use crate::policy_set::{IdScheme, Loader, PolicySet};
use crate::schema::Schema;
use std::fmt;
use std::path::{Path, PathBuf};

/// Problems that stopped a load, rendered for people.
#[derive(Clone, Debug)]
pub struct Error {
    /// The problems.
    pub diagnostics: Vec<Diagnostic>,
    rendered: String,
}

impl Error {
    /// An error from diagnostics, rendered against `set`'s sources.
    pub fn new(diagnostics: Vec<Diagnostic>, set: &PolicySet) -> Error {
        let rendered = set.sources.render(&diagnostics, false);
        Error {
            diagnostics,
            rendered,
        }
    }

    fn data(e: &DataError) -> Error {
        let d = Diagnostic::from(e);
        let rendered = format!(
            "error: {}\n  at {}:{}:{}\n",
            e.message, e.file, e.line, e.column
        );
        Error {
            diagnostics: vec![d],
            rendered,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rendered)
    }
}

impl std::error::Error for Error {}

/// A policy set and an entity store.
#[derive(Clone, Debug)]
pub struct Engine {
    /// The policies, rules and declarations: read with [`Engine::set`],
    /// changed with [`Engine::update_set`], which rebuilds the index, so
    /// that the index can never be stale.
    set: PolicySet,
    /// The entities (declared actions included).
    pub entities: Entities,
    /// How requests are judged.
    pub options: Options,
    /// The index of `set`'s policies, rebuilt whenever `set` changes.
    index: PolicyIndex,
}

/// Builds the entity store for `schema` from entity files' texts: the data,
/// then the declared actions and their groups merged in.
pub fn build_entities<'a>(
    schema: &Schema,
    files: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Entities, DataError> {
    build_entities_with(schema, files, &crate::limits::Limits::default())
}

/// [`build_entities`] under `limits` (data-file size, JSON nesting).
pub fn build_entities_with<'a>(
    schema: &Schema,
    files: impl IntoIterator<Item = (&'a str, &'a str)>,
    limits: &crate::limits::Limits,
) -> Result<Entities, DataError> {
    let mut store = Entities::new();
    for (name, text) in files {
        json::load_entities_with(text, name, schema, &mut store, limits)?;
    }
    merge_actions(schema, &mut store);
    Ok(store)
}

/// [`build_entities_with`] under `options`: its limits, and under Cedar's
/// semantics (`--cedar`) a cyclic hierarchy refused as Cedar refuses it,
/// naming the cycle, at the entity that starts it.
pub fn build_entities_for<'a>(
    schema: &Schema,
    files: impl IntoIterator<Item = (&'a str, &'a str)>,
    options: &Options,
) -> Result<Entities, DataError> {
    let files: Vec<(&str, &str)> = files.into_iter().collect();
    let store = build_entities_with(schema, files.iter().copied(), &options.limits)?;
    if options.errors == crate::authorize::ErrorMode::Cedar {
        if let Some(cycle) = store.find_cycle() {
            let names: Vec<String> = cycle.iter().map(|u| format!("`{u}`")).collect();
            let (file, text, at) = cycle
                .iter()
                .find_map(|u| {
                    files
                        .iter()
                        .find_map(|&(f, t)| json::entity_offset(t, u).map(|at| (f, t, at)))
                })
                .unwrap_or_else(|| files.first().map_or(("<none>", "", 0), |&(f, t)| (f, t, 0)));
            let (line, column) = json::line_column(text, at);
            return Err(DataError {
                file: file.to_string(),
                line,
                column,
                message: format!("the entity hierarchy has a cycle: {}", names.join(" → ")),
                help: Some("Cedar refuses a hierarchy in which an entity is its own ancestor: remove one of these parents".into()),
            });
        }
    }
    Ok(store)
}

/// Adds the declared actions, with their groups as parents, to `store`.
pub fn merge_actions(schema: &Schema, store: &mut Entities) {
    for (uid, action) in &schema.actions {
        store.add_parents(uid, &action.parents);
        store.ensure_exists(uid);
        for p in &action.parents {
            store.ensure_exists(p);
        }
    }
}

impl Engine {
    /// Loads policy files or directories and extra declaration files.
    pub fn load(policies: &[PathBuf], schemas: &[PathBuf]) -> Result<Engine, Error> {
        Engine::load_with(policies, schemas, IdScheme::Annotated, Options::default())
    }

    /// [`Engine::load`] with an id scheme and options.
    pub fn load_with(
        policies: &[PathBuf],
        schemas: &[PathBuf],
        ids: IdScheme,
        options: Options,
    ) -> Result<Engine, Error> {
        let mut loader = Loader::new(options.limits);
        for p in policies.iter().chain(schemas) {
            loader.add_path(p);
        }
        let (set, diagnostics) = loader.finish(ids);
        if diagnostics
            .iter()
            .any(|d| d.severity == crate::diag::Severity::Error)
        {
            return Err(Error::new(diagnostics, &set));
        }
        let mut entities = Entities::new();
        merge_actions(&set.schema, &mut entities);
        Ok(Engine {
            index: PolicyIndex::new(&set),
            set,
            entities,
            options,
        })
    }

    /// Replaces the entity store with the entities of `text` (Cedar's JSON).
    pub fn set_entities_json(&mut self, text: &str) -> Result<(), Error> {
        self.entities = build_entities_with(
            &self.set.schema,
            [("<entities>", text)],
            &self.options.limits,
        )
        .map_err(|e| Error::data(&e))?;
        Ok(())
    }

    /// Replaces the entity store with the entities of a file.
    pub fn load_entities_file(&mut self, path: &Path) -> Result<(), Error> {
        let limits = &self.options.limits;
        let name = path.display().to_string();
        let text = read_text(path, limits.max_data_file_bytes, TextKind::Data).map_err(|e| {
            let (line, column) = e.at.unwrap_or((1, 1));
            Error::data(&DataError {
                file: name.clone(),
                line,
                column,
                message: format!("cannot read file: {}", e.message),
                help: e.help,
            })
        })?;
        self.entities =
            build_entities_with(&self.set.schema, [(name.as_str(), text.as_str())], limits)
                .map_err(|e| Error::data(&e))?;
        Ok(())
    }

    /// Decides a request given as JSON text.
    pub fn authorize_json(&self, request: &str) -> Result<Response, Error> {
        let origin = Origin {
            file: "<request>",
            text: request,
            offset: 0,
        };
        let req =
            json::request_from_text_with(&origin, request, &self.set.schema, &self.options.limits)
                .map_err(|e| Error::data(&e))?;
        Ok(self.authorize(&req))
    }

    /// Decides a request.
    pub fn authorize(&self, request: &Request) -> Response {
        self.index
            .authorize(&self.set, &self.entities, request, &self.options)
    }

    /// The policies, rules and declarations.
    pub fn set(&self) -> &PolicySet {
        &self.set
    }

    /// Changes the policy set with `change`, then rebuilds the index from
    /// the changed set: the only way to change it, so that no decision
    /// ever uses an index of another set.
    pub fn update_set<R>(&mut self, change: impl FnOnce(&mut PolicySet) -> R) -> R {
        let result = change(&mut self.set);
        self.index = PolicyIndex::new(&self.set);
        result
    }
}
