//! `POST /v1/plan`: the policy set reduced for a known principal, action
//! and context and an unknown resource of a type (`crate::residual`), on
//! the serving snapshot: `{"principal", "action", "resource_type",
//! "context"?}` → `{"revision", "entity_revision", "residual", "tree"}`,
//! the residual set's text and its policies as JSON (`mspl plan`'s two
//! formats).

use super::decide::{parse_body, read_request};
use super::snapshot::Snapshot;
use super::{ApiError, Server};
use crate::residual::{reduce, Partial};
use serde_json::Value as Json;
use std::time::Instant;

/// Answers one plan request.
pub fn plan_request(
    server: &Server,
    snapshot: &Snapshot,
    body: &str,
    deadline: Instant,
) -> Result<String, ApiError> {
    let mut value = parse_body(server, body)?;
    let Json::Object(object) = &mut value else {
        return Err(ApiError::bad_request(
            "a plan request is a JSON object with `principal`, `action`, `resource_type` and `context`",
        ));
    };
    for key in object.keys() {
        if !["principal", "action", "resource_type", "context"].contains(&key.as_str()) {
            return Err(ApiError::bad_request(format!(
                "a plan request has no `{key}`: it takes `principal`, `action`, `resource_type` and `context`"
            )));
        }
    }
    let Some(Json::String(resource_type)) = object.remove("resource_type") else {
        return Err(ApiError::bad_request(
            "`resource_type` is missing or not a string (an entity type, as `Document`)",
        ));
    };
    let declared = &snapshot.set().schema;
    if !declared.is_empty() && !declared.entity_types.contains_key(resource_type.as_str()) {
        return Err(ApiError::bad_request(format!(
            "`resource_type` `{resource_type}` is not a declared entity type"
        )));
    }
    // The request as a decision reads it, with a resource never looked at.
    object.insert(
        "resource".into(),
        serde_json::json!({"type": resource_type, "id": ""}),
    );
    object
        .entry("context")
        .or_insert_with(|| Json::Object(Default::default()));
    let asked = read_request(server, snapshot, &value, "")?;
    let partial = Partial {
        principal: asked.request.principal.clone(),
        action: asked.request.action.clone(),
        resource_type: resource_type.into(),
        context: asked.request.context.clone(),
    };
    let residual = reduce(
        snapshot.set(),
        &asked.store,
        &partial,
        &snapshot.options().limits,
    );
    if Instant::now() >= deadline {
        return Err(super::decide::timed_out(server));
    }
    let sql = server.mapping.as_ref().map(|mapping| {
        let planned = crate::sql_filter::plan_sql(
            &residual,
            snapshot.set(),
            &asked.store,
            &asked.request,
            mapping,
            &partial.resource_type,
            snapshot.options().errors,
            &snapshot.options().limits,
        );
        match planned {
            Ok(p) => {
                serde_json::json!({"query": p.query, "where": p.condition, "params": p.params})
            }
            Err(refused) => serde_json::json!({"refused": refused.what}),
        }
    });
    let mut answer = serde_json::Map::new();
    answer.insert("revision".into(), Json::from(snapshot.revision.as_str()));
    answer.insert(
        "entity_revision".into(),
        Json::from(snapshot.entity_token()),
    );
    answer.insert("residual".into(), Json::from(residual.text()));
    answer.insert("tree".into(), residual.json(&partial));
    if let Some(sql) = sql {
        answer.insert("sql".into(), sql);
    }
    let answer = Json::Object(answer);
    Ok(answer.to_string())
}
