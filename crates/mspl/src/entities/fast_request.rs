//! The fast path of reading request bodies: the common shape (entity
//! references as `{"type", "id"}`, a context, nothing else) deserialized
//! straight into borrowed fields, without building a JSON tree first.
//!
//! Anything else (references written as strings or `__entity`, a
//! request's own `entities`, an unknown or duplicate field, a context the
//! declarations refuse) gives `None`, and the plain path
//! (the server's `read_request`, the command line's request lines) reads
//! the body and names any problem, so both paths accept the same bodies
//! and read them to the same requests (the tests below,
//! `tests/serve/api.rs` and the batch's tests check it).

use crate::entities::json::fast_entity::{self, Uid};
use crate::entities::json::{strict, uid_from_parts, value_from_json, Request};
use crate::limits::Limits;
use crate::schema::Schema;
use crate::syntax::ast::EntityUid;
use crate::value::Value;
use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Shape<'a> {
    #[serde(borrow)]
    principal: Uid<'a>,
    #[serde(borrow)]
    action: Uid<'a>,
    #[serde(borrow)]
    resource: Uid<'a>,
    #[serde(borrow, default)]
    context: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchShape<'a> {
    #[serde(borrow)]
    requests: Vec<Shape<'a>>,
}

fn uid(u: &Uid) -> Option<EntityUid> {
    uid_from_parts(&u.ty, &u.id).ok()
}

fn convert(shape: &Shape, schema: &Schema, limits: &Limits) -> Option<Request> {
    let principal = uid(&shape.principal)?;
    let action = uid(&shape.action)?;
    let resource = uid(&shape.resource)?;
    let context = match shape.context.map(RawValue::get) {
        None | Some("null") | Some("{}") => Value::empty_record(),
        Some(raw) => {
            let declared = schema.actions.get(&action).and_then(|a| a.context.as_ref());
            match fast_entity::value(raw, declared, schema, limits.json_depth()) {
                Some(context @ Value::Record(_)) => context,
                Some(_) => return None,
                None => {
                    let json = strict::parse(raw, limits.json_depth()).ok()?;
                    if !json.is_object() {
                        return None;
                    }
                    value_from_json(&json, declared, schema).ok()?
                }
            }
        }
    };
    Some(Request {
        principal,
        action,
        resource,
        context,
    })
}

/// One request body of the common shape, read; `None`: use the plain path.
pub fn request(body: &str, schema: &Schema, limits: &Limits) -> Option<Request> {
    let shape: Shape = serde_json::from_str(body).ok()?;
    convert(&shape, schema, limits)
}

/// A batch body (`{"requests": […]}`) whose every request has the common
/// shape, read; `None`: use the plain path.
pub fn batch(body: &str, schema: &Schema, limits: &Limits) -> Option<Vec<Request>> {
    let shape: BatchShape = serde_json::from_str(body).ok()?;
    shape
        .requests
        .iter()
        .map(|s| convert(s, schema, limits))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entities::json::request_from_json;

    const SCHEMA: &str = "entity User; entity Doc { owner: User };\n\
        action view appliesTo { principal: User, resource: Doc, context: { ip: ipaddr, who: User, n: Long } };\n";

    fn schema() -> Schema {
        let mut loader = crate::policy_set::Loader::new(Limits::default());
        loader.add_source("s.cedarschema".into(), SCHEMA.into());
        loader
            .finish(crate::policy_set::IdScheme::Annotated)
            .0
            .schema
    }

    /// The plain path's reading of a body, `None` when it refuses it.
    fn plain(body: &str, schema: &Schema) -> Option<Request> {
        let json =
            crate::entities::json::strict::parse(body, Limits::default().json_depth()).ok()?;
        request_from_json(&json, schema).ok()
    }

    #[test]
    fn the_fast_path_reads_what_the_plain_path_reads_or_leaves_it_to_it() {
        let schema = schema();
        let limits = Limits::default();
        let u = r#"{"type": "User", "id": "alice"}"#;
        let d = r#"{"type": "Doc", "id": "d\"1\u00e9"}"#;
        let a = r#"{"type": "Action", "id": "view"}"#;
        let bodies = [
            format!(r#"{{"principal": {u}, "action": {a}, "resource": {d}}}"#),
            format!(r#"{{"principal": {u}, "action": {a}, "resource": {d}, "context": null}}"#),
            format!(r#"{{"principal": {u}, "action": {a}, "resource": {d}, "context": {{}}}}"#),
            format!(
                r#"{{"context": {{"ip": "10.0.0.1", "who": {u}, "n": 3}}, "resource": {d}, "action": {a}, "principal": {u}}}"#
            ),
            format!(
                r#"{{"principal": {u}, "action": {a}, "resource": {d}, "context": {{"ip": {{"__extn": {{"fn": "ip", "arg": "10.0.0.1"}}}}, "who": {{"__entity": {u}}}, "n": 3}}}}"#
            ),
            // Left to the plain path:
            format!(r#"{{"principal": "User::\"alice\"", "action": {a}, "resource": {d}}}"#),
            format!(r#"{{"principal": {{"__entity": {u}}}, "action": {a}, "resource": {d}}}"#),
            format!(r#"{{"principal": {u}, "principal": {u}, "action": {a}, "resource": {d}}}"#),
            format!(r#"{{"principal": {u}, "action": {a}, "resource": {d}, "extra": 1}}"#),
            format!(r#"{{"principal": {u}, "action": {a}, "resource": {d}, "context": []}}"#),
            format!(
                r#"{{"principal": {u}, "action": {a}, "resource": {d}, "context": {{"n": "three"}}}}"#
            ),
            format!(
                r#"{{"principal": {{"type": "Not A Type", "id": "x"}}, "action": {a}, "resource": {d}}}"#
            ),
            format!(
                r#"{{"principal": {{"type": "User", "id": "x", "z": 1}}, "action": {a}, "resource": {d}}}"#
            ),
            format!(r#"{{"principal": {u}, "action": {a}}}"#),
            format!(
                r#"{{"principal": {u}, "action": {a}, "resource": {d}, "context": {{"a": {{"a": {{"a": 1}}}}}}}}"#
            ),
        ];
        let mut fast = Vec::new();
        for (i, body) in bodies.iter().enumerate() {
            let read = request(body, &schema, &limits);
            if let Some(f) = &read {
                fast.push(i);
                assert_eq!(Some(f), plain(body, &schema).as_ref(), "{body}");
            }
        }
        // Context attributes are typed by the validator, not here: the
        // undeclared `a` and the string `n` read alike on both paths.
        assert_eq!(fast, [0, 1, 2, 3, 4, 10, 14]);
        let batch_body = format!("{{\"requests\": [{}, {}]}}", bodies[0], bodies[3]);
        let read = batch(&batch_body, &schema, &limits).unwrap();
        assert_eq!(
            read,
            vec![
                plain(&bodies[0], &schema).unwrap(),
                plain(&bodies[3], &schema).unwrap()
            ]
        );
        let mixed = format!("{{\"requests\": [{}, {}]}}", bodies[0], bodies[5]);
        assert!(batch(&mixed, &schema, &limits).is_none());
        assert!(batch("{\"requests\": [], \"x\": 1}", &schema, &limits).is_none());
    }
}
