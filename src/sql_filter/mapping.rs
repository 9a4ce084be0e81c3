//! The mapping file: where each entity type's rows, attributes, sets and
//! parents live in the application's database (`docs/filtering.md`).

use serde::Deserialize;
use std::collections::BTreeMap;

/// The whole mapping: one entry per entity type a query may touch.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// By entity type (`Document`, `Ns::Folder`).
    pub types: BTreeMap<String, TypeMap>,
}

/// One entity type's table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypeMap {
    /// Its table (a name, or `schema.table`).
    pub table: String,
    /// The column holding the entity's id (text).
    pub id: String,
    /// Its attributes.
    #[serde(default)]
    pub attributes: BTreeMap<String, AttrMap>,
    /// Its parents, if it has any.
    #[serde(default)]
    pub parents: Option<ParentsMap>,
    /// Every ancestor of each of its entities (the transitive closure of
    /// the parents, kept by the application): where given, `in` reads it
    /// instead of walking the parents tables.
    #[serde(default)]
    pub ancestors: Option<AncestorsMap>,
}

/// What an attribute's value is.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AttrKind {
    /// `text`.
    String,
    /// `bigint`.
    Long,
    /// `boolean`.
    Bool,
    /// The referenced entity's id (`text`), its type in `entity_type`.
    Entity,
}

/// One attribute: a nullable column (NULL: the attribute is absent), or a
/// set held as rows of another table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttrMap {
    /// The value's kind (for a set: its elements').
    #[serde(rename = "type")]
    pub kind: AttrKind,
    /// For `entity`: the referenced entity's type.
    #[serde(default)]
    pub entity_type: Option<String>,
    /// The column, for a single value.
    #[serde(default)]
    pub column: Option<String>,
    /// The table of (owner id, value) rows, for a set (always present; no
    /// rows is the empty set).
    #[serde(default)]
    pub set: Option<SetMap>,
}

/// A set-valued attribute's rows.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetMap {
    /// The table.
    pub table: String,
    /// The column holding the owning entity's id.
    pub owner: String,
    /// The column holding one element.
    pub value: String,
}

/// An entity type's parents: (child id, parent type, parent id) rows.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParentsMap {
    /// The table.
    pub table: String,
    /// The column holding the child's id.
    pub child: String,
    /// The column holding the parent's entity type.
    pub parent_type: String,
    /// The column holding the parent's id.
    pub parent_id: String,
}

/// An entity type's closure table: (entity id, ancestor type, ancestor
/// id) rows, one per ancestor at any distance, of any type.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AncestorsMap {
    /// The table.
    pub table: String,
    /// The column holding the entity's id.
    pub child: String,
    /// The column holding the ancestor's entity type.
    pub ancestor_type: String,
    /// The column holding the ancestor's id.
    pub ancestor_id: String,
}

impl Mapping {
    /// Reads a mapping from its JSON text; `name` names it in errors.
    pub fn read(name: &str, text: &str) -> Result<Mapping, String> {
        let mapping: Mapping = serde_json::from_str(text).map_err(|e| {
            format!(
                "{name}:{}:{}: the mapping does not read: {e}",
                e.line(),
                e.column()
            )
        })?;
        for (ty, map) in &mapping.types {
            for (attr, a) in &map.attributes {
                let at = format!("{name}: `{ty}.{attr}`");
                match (&a.column, &a.set) {
                    (Some(_), Some(_)) | (None, None) => {
                        return Err(format!("{at} needs exactly one of `column` and `set`"))
                    }
                    _ => {}
                }
                if (a.kind == AttrKind::Entity) != a.entity_type.is_some() {
                    return Err(format!(
                        "{at}: `entity_type` goes with `\"type\": \"entity\"` and only with it"
                    ));
                }
            }
        }
        Ok(mapping)
    }
}

/// `name` quoted as a SQL identifier (`schema.table` as two).
pub fn ident(name: &str) -> String {
    name.split('.')
        .map(|part| format!("\"{}\"", part.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(".")
}
