//! A generated store as Cedar's entity JSON, and requests as batch lines.

use crate::entities::build::build_entities_with;
use crate::entities::json::{DataError, Request};
use crate::entities::Entities;
use crate::limits::Limits;
use crate::schema::Schema;
use crate::syntax::ast::EntityUid;
use serde_json::{json, Value as Json};
use smol_str::SmolStr;
use std::collections::BTreeMap;

/// One generated entity, in Cedar's entity JSON terms.
#[derive(Clone, Debug, PartialEq)]
pub struct Entity {
    /// Its uid.
    pub uid: EntityUid,
    /// Its attributes, as JSON values (escapes included).
    pub attrs: BTreeMap<SmolStr, Json>,
    /// Its tags, likewise.
    pub tags: BTreeMap<SmolStr, Json>,
    /// Its parents.
    pub parents: Vec<EntityUid>,
}

/// A generated store.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct World {
    /// The entities, in the order generated.
    pub entities: Vec<Entity>,
}

/// An entity reference's JSON, its keys written in sorted order so that
/// the text is the same whether or not serde_json keeps insertion order.
pub(super) fn uid_json(uid: &EntityUid) -> Json {
    json!({"id": uid.id.as_str(), "type": uid.ty.as_str()})
}

impl World {
    /// Cedar's entity JSON: an array, one entity a line.
    pub fn to_json(&self) -> String {
        let lines: Vec<String> = self
            .entities
            .iter()
            .map(|e| {
                let object = |m: &BTreeMap<SmolStr, Json>| {
                    Json::Object(m.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
                };
                // Keys in this order whatever serde_json's map.
                format!(
                    "  {{\"uid\": {}, \"attrs\": {}, \"parents\": {}{}}}",
                    uid_json(&e.uid),
                    object(&e.attrs),
                    Json::Array(e.parents.iter().map(uid_json).collect()),
                    if e.tags.is_empty() {
                        String::new()
                    } else {
                        format!(", \"tags\": {}", object(&e.tags))
                    }
                )
            })
            .collect();
        if lines.is_empty() {
            "[]\n".to_string()
        } else {
            format!("[\n{}\n]\n", lines.join(",\n"))
        }
    }

    /// The store, read from [`World::to_json`] with `schema`, as
    /// `mspl authorize --entities` would read it.
    pub fn store(&self, schema: &Schema, limits: &Limits) -> Result<Entities, DataError> {
        let text = self.to_json();
        build_entities_with(schema, [("generated entities.json", text.as_str())], limits)
    }
}

/// A request as one line of a batch file.
pub fn request_json(r: &Request) -> String {
    serde_json::to_string(&crate::entities::json::RequestJson::of(r)).unwrap_or_default()
}
