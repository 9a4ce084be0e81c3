//! Transactions on an entity store: a change log's line, or a write to a
//! server. A transaction is a list of operations applied together or not
//! at all:
//!
//! ```json
//! {"ops": [{"op": "upsert", "entity": {"uid": …, "attrs": …, "parents": […]}},
//!          {"op": "delete", "uid": …},
//!          {"op": "add_parents", "uid": …, "parents": […]},
//!          {"op": "remove_parents", "uid": …, "parents": […]}],
//!  "if_revision": "42"}
//! ```
//!
//! A single operation object is a transaction of one. `if_revision` makes
//! it fail unless the store is at that revision (checked by the owner of
//! the revisions). Applying builds a new revision of the store that shares
//! all it does not touch ([`super::store`]); the revision it started from
//! is unchanged, so a refused transaction leaves nothing behind.

use super::build::Cycles;
use super::json::{self, entity_ref, read_entity, DataError, Origin};
use super::{Entities, EntityData};
use crate::limits::Limits;
use crate::schema::Schema;
use crate::syntax::ast::EntityUid;
use serde_json::Value as Json;

/// One operation of a transaction.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// The entity, its data and parents replaced whole (or added).
    Upsert {
        /// The entity.
        uid: EntityUid,
        /// Its attributes and tags.
        data: EntityData,
        /// Its parents.
        parents: Vec<EntityUid>,
    },
    /// The entity removed (a no-op, reported, when there is none).
    Delete {
        /// The entity.
        uid: EntityUid,
    },
    /// Parents added to the entity.
    AddParents {
        /// The entity.
        uid: EntityUid,
        /// The parents.
        parents: Vec<EntityUid>,
    },
    /// Parents removed from the entity.
    RemoveParents {
        /// The entity.
        uid: EntityUid,
        /// The parents.
        parents: Vec<EntityUid>,
    },
}

impl Op {
    /// The entity the operation is on.
    pub fn uid(&self) -> &EntityUid {
        match self {
            Op::Upsert { uid, .. }
            | Op::Delete { uid }
            | Op::AddParents { uid, .. }
            | Op::RemoveParents { uid, .. } => uid,
        }
    }
}

/// A transaction: operations applied together, on a revision if given.
#[derive(Clone, Debug, PartialEq)]
pub struct Transaction {
    /// The operations, in order.
    pub ops: Vec<Op>,
    /// The revision the store must be at, if any.
    pub if_revision: Option<String>,
}

/// Reads a transaction from `text` (one line of a change log, or a write's
/// body), values read as `schema` declares them; errors are located in
/// `origin` (its `file` names the log and `offset` the line's start).
pub fn read_transaction(
    text: &str,
    origin: &Origin,
    schema: &Schema,
    limits: &Limits,
) -> Result<Transaction, DataError> {
    json::check_size(origin, text, limits)?;
    let value = json::parse_json(origin, text, limits)?;
    let fail = |m: String| origin.error_near(text, "op", m);
    let Json::Object(obj) = &value else {
        return Err(fail(
            "a transaction is a JSON object: `{\"ops\": [...]}` or one operation".into(),
        ));
    };
    if obj.contains_key("op") {
        return Ok(Transaction {
            ops: vec![read_op(&value, text, origin, schema)?],
            if_revision: None,
        });
    }
    if let Some(key) = obj
        .keys()
        .filter(|k| !matches!(k.as_str(), "ops" | "if_revision"))
        .min()
    {
        return Err(origin.error_near(
            text,
            key,
            format!("unknown field `{key}` in a transaction; expected `ops` or `if_revision`"),
        ));
    }
    let Some(Json::Array(ops)) = obj.get("ops") else {
        return Err(fail("a transaction has `ops`, an array of operations".into()));
    };
    let if_revision = match obj.get("if_revision") {
        None | Some(Json::Null) => None,
        Some(Json::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(origin.error_near(
                text,
                "if_revision",
                format!("`if_revision` is a revision token (a string), found `{other}`"),
            ))
        }
    };
    let ops = ops
        .iter()
        .map(|op| read_op(op, text, origin, schema))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Transaction { ops, if_revision })
}

/// One operation.
fn read_op(value: &Json, text: &str, origin: &Origin, schema: &Schema) -> Result<Op, DataError> {
    let at = |key: &str, m: String| origin.error_near(text, key, m);
    let Json::Object(obj) = value else {
        return Err(at("op", "an operation is a JSON object with `op`".into()));
    };
    let kind = match obj.get("op") {
        Some(Json::String(s)) => s.as_str(),
        _ => return Err(at("op", "an operation names its `op`: `upsert`, `delete`, `add_parents` or `remove_parents`".into())),
    };
    let allowed: &[&str] = match kind {
        "upsert" => &["op", "entity"],
        "delete" => &["op", "uid"],
        "add_parents" | "remove_parents" => &["op", "uid", "parents"],
        other => {
            return Err(at(
                "op",
                format!("unknown operation `{other}`; expected `upsert`, `delete`, `add_parents` or `remove_parents`"),
            ))
        }
    };
    if let Some(key) = obj.keys().filter(|k| !allowed.contains(&k.as_str())).min() {
        return Err(at(
            key,
            format!("unknown field `{key}` in a `{kind}` operation; expected {}", allowed.join(", ")),
        ));
    }
    let uid = || -> Result<EntityUid, DataError> {
        let v = obj
            .get("uid")
            .ok_or_else(|| at("op", format!("a `{kind}` operation names its `uid`")))?;
        entity_ref(v).map_err(|m| at("uid", format!("in `uid`: {m}")))
    };
    let parents = || -> Result<Vec<EntityUid>, DataError> {
        match obj.get("parents") {
            Some(Json::Array(items)) => items
                .iter()
                .map(entity_ref)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|m| at("parents", format!("in `parents`: {m}"))),
            _ => Err(at("op", format!("a `{kind}` operation has `parents`, an array"))),
        }
    };
    Ok(match kind {
        "upsert" => {
            let entity = obj
                .get("entity")
                .ok_or_else(|| at("op", "an `upsert` operation has an `entity`".into()))?;
            let (uid, data, parents) = read_entity(entity, text, origin, schema)?;
            Op::Upsert { uid, data, parents }
        }
        "delete" => Op::Delete { uid: uid()? },
        "add_parents" => Op::AddParents {
            uid: uid()?,
            parents: parents()?,
        },
        _ => Op::RemoveParents {
            uid: uid()?,
            parents: parents()?,
        },
    })
}

/// A transaction applied: the new revision of the store, and what was
/// worth saying of operations that changed nothing (a delete of an entity
/// that is not there).
#[derive(Clone, Debug)]
pub struct Applied {
    /// The store after the transaction.
    pub entities: Entities,
    /// Operations that were no-ops, in words.
    pub notes: Vec<String>,
}

/// Applies `tx`'s operations to a new revision of `base`. An entity of a
/// type `schema` does not declare (when it declares any) refuses the
/// transaction; under `cycles`' refusal, so does a parent edge that closes
/// a cycle of the hierarchy (checked from the new edges alone). `base` is
/// never changed.
pub fn apply(
    base: &Entities,
    tx: &Transaction,
    schema: &Schema,
    cycles: Cycles,
) -> Result<Applied, String> {
    if !schema.entity_types.is_empty() {
        for op in &tx.ops {
            let named = std::iter::once(op.uid()).chain(match op {
                Op::Upsert { parents, .. }
                | Op::AddParents { parents, .. }
                | Op::RemoveParents { parents, .. } => parents.iter(),
                Op::Delete { .. } => [].iter(),
            });
            for uid in named {
                if !schema.entity_types.contains_key(&uid.ty) && !crate::schema::is_action_type(&uid.ty) {
                    return Err(format!(
                        "entity type `{}` of {uid} is not declared",
                        uid.ty
                    ));
                }
            }
        }
    }
    let mut next = base.clone();
    let mut notes = Vec::new();
    let mut edges: Vec<(&EntityUid, &EntityUid)> = Vec::new();
    for op in &tx.ops {
        match op {
            Op::Upsert { uid, data, parents } => {
                next.upsert(uid, data.clone(), parents);
                edges.extend(parents.iter().map(|p| (uid, p)));
            }
            Op::Delete { uid } => {
                if !next.delete(uid) {
                    notes.push(format!("delete of {uid}, which is not an entity: nothing to do"));
                }
            }
            Op::AddParents { uid, parents } => {
                if next.add_entity_parents(uid, parents) {
                    edges.extend(parents.iter().map(|p| (uid, p)));
                } else {
                    notes.push(format!("add_parents on {uid}, which is not an entity: nothing to do"));
                }
            }
            Op::RemoveParents { uid, parents } => {
                if !next.remove_parents(uid, parents) {
                    notes.push(format!("remove_parents on {uid}, which is not an entity: nothing to do"));
                }
            }
        }
    }
    if cycles == Cycles::Refused {
        // Only a new edge can close a cycle: child → parent closes one
        // when the parent reaches the child (an edge a later operation of
        // the transaction took away again closes none).
        let stands = |child: &EntityUid, parent: &EntityUid| {
            next.contains(child) && next.parents(child).contains(&parent)
        };
        if let Some((child, parent)) = edges
            .iter()
            .find(|(child, parent)| stands(child, parent) && next.is_in(parent, child))
        {
            return Err(format!(
                "the transaction would close a cycle of the hierarchy: {child} → {parent}, which is {child} or one of its descendants (Cedar refuses a cyclic hierarchy)"
            ));
        }
    }
    Ok(Applied {
        entities: next,
        notes,
    })
}

/// The revision a base entity file was compacted at: the number in
/// `<base>.revision` (`mspl entities compact` writes it), or 0 without one.
pub fn base_revision(base: &std::path::Path) -> Result<u64, String> {
    let mut name = base.as_os_str().to_owned();
    name.push(".revision");
    let path = std::path::PathBuf::from(name);
    if !path.exists() {
        return Ok(0);
    }
    let text = crate::files::read_text(&path, 64, crate::files::TextKind::Data)
        .map_err(|e| format!("{}: {}", path.display(), e.message))?;
    text.trim().parse().map_err(|_| {
        format!(
            "{}: `{}` is not a revision (a whole number)",
            path.display(),
            text.trim()
        )
    })
}
