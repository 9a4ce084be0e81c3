//! What an AuthZEN request gives: subjects, resources and actions with
//! their `properties`, and the context; turned into mspl's request and the
//! store it is judged on.
//!
//! - `subject.properties` and `resource.properties` are merged over the
//!   stored entity for that request: a property replaces the attribute of
//!   the same name, the stored parents and other attributes stay; with no
//!   stored entity the entity is its properties alone, without parents. A
//!   property of a declared attribute is read at its declared type (a 400
//!   naming `subject.properties.X` when it does not fit); an undeclared one
//!   is kept untyped. A `null` property says nothing and is skipped.
//!   Draft-00 clients wrote attributes beside `type` and `id`: those keys
//!   are read as properties too.
//! - `action.name` is the action's id (`Action::"name"`), or a whole
//!   namespaced action written in full (`NS::Action::"view"`);
//!   `action.properties` are the action's parameters, which policies read
//!   as the record `context.action` (`context.action.soft`).

use crate::entities::json::{uid_from_parts, value_from_json};
use crate::entities::{Entities, EntityData};
use crate::schema::{is_action_type, Schema};
use crate::syntax::ast::EntityUid;
use crate::value::Value;
use serde_json::{Map, Value as Json};
use smol_str::SmolStr;
use std::collections::BTreeMap;

/// The object `value` must be, or the message of a 400 naming `what`.
pub(super) fn object<'v>(value: &'v Json, what: &str) -> Result<&'v Map<String, Json>, String> {
    match value {
        Json::Object(o) => Ok(o),
        _ => Err(format!("`{what}` must be a JSON object")),
    }
}

/// A string field of `object`.
pub(super) fn string<'v>(
    object: &'v Map<String, Json>,
    field: &str,
    what: &str,
) -> Result<&'v str, String> {
    match object.get(field) {
        Some(Json::String(s)) => Ok(s),
        Some(_) => Err(format!("`{what}.{field}` must be a string")),
        None => Err(format!("`{what}` needs `{field}`")),
    }
}

/// A subject or resource as given: its uid and its properties.
#[derive(Clone, Debug)]
pub(super) struct Given<'v> {
    pub uid: EntityUid,
    /// `properties`, then (draft-00) the keys beside `type` and `id`.
    pub properties: Vec<(&'v str, &'v Json)>,
    /// `subject` or `resource`, for messages.
    pub what: &'static str,
}

/// The properties of an entity object: its `properties` object and any
/// key other than `type`, `id` and `properties`.
fn properties_of<'v>(
    o: &'v Map<String, Json>,
    what: &str,
) -> Result<Vec<(&'v str, &'v Json)>, String> {
    let mut out = Vec::new();
    match o.get("properties") {
        None | Some(Json::Null) => {}
        Some(Json::Object(p)) => out.extend(p.iter().map(|(k, v)| (k.as_str(), v))),
        Some(_) => return Err(format!("`{what}.properties` must be a JSON object")),
    }
    out.extend(
        o.iter()
            .filter(|(k, _)| !matches!(k.as_str(), "type" | "id" | "properties"))
            .map(|(k, v)| (k.as_str(), v)),
    );
    Ok(out)
}

/// A subject or resource `{type, id, properties?}`.
pub(super) fn entity<'v>(value: Option<&'v Json>, what: &'static str) -> Result<Given<'v>, String> {
    let value = value.ok_or_else(|| format!("the request needs `{what}`"))?;
    let o = object(value, what)?;
    let ty = string(o, "type", what)?;
    let id = string(o, "id", what)?;
    let uid = uid_from_parts(ty, id).map_err(|m| format!("in `{what}`: {m}"))?;
    Ok(Given {
        uid,
        properties: properties_of(o, what)?,
        what,
    })
}

/// The searched-for side of a search: its type (`{type}`; an `id` is
/// ignored, as the specification says).
pub(super) fn entity_type<'v>(value: Option<&'v Json>, what: &str) -> Result<&'v str, String> {
    let value = value.ok_or_else(|| format!("the request needs `{what}`"))?;
    string(object(value, what)?, "type", what)
}

/// An action `{name, properties?}`: its uid and its parameters.
pub(super) struct GivenAction<'v> {
    pub uid: EntityUid,
    pub properties: Option<&'v Map<String, Json>>,
}

/// The action a name stands for: `NS::Action::"view"` written in full, or
/// `Action::"name"`.
pub(super) fn action_uid(name: &str) -> Result<EntityUid, String> {
    if name.ends_with('"') && name.contains("::\"") {
        if let Ok(uid) = crate::syntax::uid::parse_uid(name) {
            if is_action_type(&uid.ty) {
                return Ok(uid);
            }
        }
    }
    uid_from_parts("Action", name).map_err(|m| format!("in `action`: {m}"))
}

/// How an action is named in AuthZEN: its id, or in full when its type is
/// namespaced (`NS::Action::"view"`), so that the name reads back to it.
pub(super) fn action_name(uid: &EntityUid) -> String {
    if uid.ty.as_str() == "Action" {
        uid.id.to_string()
    } else {
        uid.to_string()
    }
}

pub(super) fn action(value: Option<&Json>) -> Result<GivenAction<'_>, String> {
    let value = value.ok_or("the request needs `action`")?;
    let o = object(value, "action")?;
    let uid = action_uid(string(o, "name", "action")?)?;
    let properties = match o.get("properties") {
        None | Some(Json::Null) => None,
        Some(Json::Object(p)) if p.is_empty() => None,
        Some(Json::Object(p)) => Some(p),
        Some(_) => return Err("`action.properties` must be a JSON object".into()),
    };
    Ok(GivenAction { uid, properties })
}

/// A context object (none or `null`: empty).
pub(super) fn context_json(value: Option<&Json>) -> Result<Option<&Json>, String> {
    match value {
        None | Some(Json::Null) => Ok(None),
        Some(c @ Json::Object(_)) => Ok(Some(c)),
        Some(_) => Err("`context` must be a JSON object".into()),
    }
}

/// `context` with the action's parameters as its record `action` (a 400
/// when the context has an `action` of its own).
pub(super) fn with_action_properties(
    context: Value,
    action: &GivenAction,
    schema: &Schema,
) -> Result<Value, String> {
    let Some(properties) = action.properties else {
        return Ok(context);
    };
    let Value::Record(record) = context else {
        return Ok(context);
    };
    if record.contains_key("action") {
        return Err(
            "`context.action` is where the action's properties go: the context may not have one of its own"
                .into(),
        );
    }
    let mut fields = BTreeMap::new();
    for (k, v) in properties {
        if v.is_null() {
            continue;
        }
        let value = value_from_json(v, None, schema)
            .map_err(|m| format!("`action.properties.{k}`: {m}"))?;
        fields.insert(SmolStr::from(k.as_str()), value);
    }
    let mut record = (*record).clone();
    record.insert("action".into(), Value::Record(fields.into()));
    Ok(Value::Record(record.into()))
}

/// The store to judge a request on: `store`, or a layer over it with
/// each given entity's properties merged over its stored self (`None`
/// when no entity brings any).
pub(super) fn overlay(
    store: &Entities,
    set: &crate::policy_set::PolicySet,
    given: &[&Given],
) -> Result<Option<Entities>, String> {
    let schema = &set.schema;
    if given.iter().all(|g| g.properties.is_empty()) {
        return Ok(None);
    }
    // Each uid once: a subject that is also the resource takes both.
    let mut merged: BTreeMap<&EntityUid, (EntityData, Vec<EntityUid>)> = BTreeMap::new();
    for g in given.iter().filter(|g| !g.properties.is_empty()) {
        let entry = merged.entry(&g.uid).or_insert_with(|| {
            let data = store.get(&g.uid).cloned().unwrap_or_default();
            let parents = store.parents(&g.uid).into_iter().cloned().collect();
            (data, parents)
        });
        let declared = schema.entity_types.get(&g.uid.ty);
        for (name, value) in &g.properties {
            if value.is_null() {
                continue;
            }
            let ty = declared.and_then(|t| t.attrs.get(*name)).map(|a| &a.ty);
            let problem = |m: String| format!("`{}.properties.{name}`: {m}", g.what);
            if let Some(m) = ty.and_then(|t| crate::validate::data::value_problem(set, value, t)) {
                return Err(problem(m));
            }
            let value = value_from_json(value, ty, schema).map_err(problem)?;
            entry.0.attrs.insert(SmolStr::from(*name), value);
        }
    }
    let mut extra = Entities::new();
    for (uid, (data, parents)) in merged {
        extra.insert(uid.clone(), data, &parents);
    }
    Ok(Some(store.overlay(&extra)))
}
