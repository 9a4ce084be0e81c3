//! Building an entity store: the data of entity files, then the declared
//! actions with their groups. The only way to a store for a policy set, so
//! that none is ever installed without its action groups.

use super::json::DataError;
use super::Entities;
use crate::limits::Limits;
use crate::policy_set::PolicySet;
use crate::schema::Schema;
use crate::syntax::ast::{ActionConstraint, EntityUid};
use std::collections::BTreeSet;

/// An empty store with the actions `schema` declares and their groups.
pub fn for_schema(schema: &Schema) -> Entities {
    with_declared_actions(schema, Entities::new())
}

/// `store` (built entity by entity, by a tool or a test) with the actions
/// `schema` declares and their groups added.
pub fn with_declared_actions(schema: &Schema, mut store: Entities) -> Entities {
    merge_actions(schema, &mut store);
    store
}

/// Builds the entity store for `schema` from entity files' texts: the data,
/// then the declared actions and their groups merged in.
pub fn build_entities<'a>(
    schema: &Schema,
    files: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Entities, DataError> {
    build_entities_with(schema, files, &Limits::default())
}

/// [`build_entities`] under `limits` (data-file size, JSON nesting).
pub fn build_entities_with<'a>(
    schema: &Schema,
    files: impl IntoIterator<Item = (&'a str, &'a str)>,
    limits: &Limits,
) -> Result<Entities, DataError> {
    let mut store = Entities::new();
    for (name, text) in files {
        super::json::load_entities_with(text, name, schema, &mut store, limits)?;
    }
    merge_actions(schema, &mut store);
    Ok(store)
}

/// Whether a hierarchy in which an entity is its own ancestor is accepted
/// (mspl's semantics: `in` still terminates) or refused (Cedar's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cycles {
    /// Accepted.
    Allowed,
    /// Refused, naming the cycle, at the entity that starts it.
    Refused,
}

/// [`build_entities_with`], with a cyclic hierarchy accepted or refused
/// as `cycles` says.
pub fn build_entities_for<'a>(
    schema: &Schema,
    files: impl IntoIterator<Item = (&'a str, &'a str)>,
    limits: &Limits,
    cycles: Cycles,
) -> Result<Entities, DataError> {
    let files: Vec<(&str, &str)> = files.into_iter().collect();
    let store = build_entities_with(schema, files.iter().copied(), limits)?;
    if cycles == Cycles::Refused {
        if let Some(cycle) = store.find_cycle() {
            let names: Vec<String> = cycle.iter().map(|u| format!("`{u}`")).collect();
            let (file, text, at) = cycle
                .iter()
                .find_map(|u| {
                    files
                        .iter()
                        .find_map(|&(f, t)| super::json::entity_offset(t, u).map(|at| (f, t, at)))
                })
                .unwrap_or_else(|| files.first().map_or(("<none>", "", 0), |&(f, t)| (f, t, 0)));
            let (line, column) = super::json::line_column(text, at);
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

/// Adds the declared actions, with their groups as parents, to `store`:
/// every store built here has them, so that `action in` always sees the
/// declared groups.
pub(crate) fn merge_actions(schema: &Schema, store: &mut Entities) {
    for (uid, action) in &schema.actions {
        store.add_parents(uid, &action.parents);
        store.ensure_exists(uid);
        for p in &action.parents {
            store.ensure_exists(p);
        }
    }
}

/// The actions the policies' scopes name.
pub fn named_actions(set: &PolicySet) -> BTreeSet<EntityUid> {
    let mut actions = BTreeSet::new();
    for entry in &set.policies {
        match &entry.policy.action {
            ActionConstraint::Any => {}
            ActionConstraint::Eq(uid, _) => {
                actions.insert(uid.clone());
            }
            ActionConstraint::In(uids, _) => actions.extend(uids.iter().cloned()),
        }
    }
    actions
}

/// Adds to `entities` every action the policies' scopes name and the store
/// lacks, so that a set without declarations has them in its domain (a
/// request's action needs a node of the store to be audited).
pub fn add_named_actions(set: &PolicySet, entities: &mut Entities) {
    for uid in named_actions(set) {
        entities.ensure_exists(&uid);
    }
}
