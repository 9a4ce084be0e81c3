//! The OpenID AuthZEN Authorization API 1.0: access evaluation, access
//! evaluations (with `options.evaluations_semantic`), the search APIs and
//! the metadata document, translated to and from mspl's requests.
//!
//! - A subject or resource `{type, id}` is the entity `type::"id"`; an
//!   action `{name}` is `Action::"name"`, or `T::"name"` with `T` in
//!   `action.properties.type` (a namespaced action type).
//! - Unknown fields are ignored, as the specification requires; a missing
//!   required field is a 400.
//! - The response `context` holds the decision's `id`, `reason_admin`
//!   (`determining`, `errors`) and `reason_user` (`fixes`: the
//!   explanation's fix lines of a deny).
//! - Searches are answered by the audit engine's who-can and what-can over
//!   the snapshot's store: every result, asked as an evaluation with the
//!   same context, is allowed (transitively, through the hierarchy).

use super::decide::{parse_body, Asked};
use super::snapshot::Snapshot;
use super::{ApiError, Server};
use crate::audit::domain::Domain;
use crate::audit::{Auditor, Run};
use crate::authorize::{Decision, Response};
use crate::entities::json::{context_from_json, uid_from_parts, Request};
use crate::explain::{explain, Include};
use crate::syntax::ast::EntityUid;
use serde::Serialize;
use serde_json::{json, Map, Value as Json};
use std::borrow::Cow;

/// Search results per page when the request gives no `page.limit`.
pub const DEFAULT_PAGE: usize = 1000;

/// `GET /.well-known/authzen-configuration`, its endpoints under `base`.
pub fn configuration(base: &str) -> String {
    #[derive(Serialize)]
    struct Metadata {
        policy_decision_point: String,
        access_evaluation_endpoint: String,
        access_evaluations_endpoint: String,
        search_subject_endpoint: String,
        search_resource_endpoint: String,
        search_action_endpoint: String,
    }
    let base = base.trim_end_matches('/');
    let at = |path: &str| format!("{base}{path}");
    let metadata = Metadata {
        policy_decision_point: base.to_string(),
        access_evaluation_endpoint: at("/access/v1/evaluation"),
        access_evaluations_endpoint: at("/access/v1/evaluations"),
        search_subject_endpoint: at("/access/v1/search/subject"),
        search_resource_endpoint: at("/access/v1/search/resource"),
        search_action_endpoint: at("/access/v1/search/action"),
    };
    serde_json::to_string(&metadata).unwrap_or_default()
}

/// The object `value` must be, or a 400 naming `what`.
fn object<'v>(value: &'v Json, what: &str) -> Result<&'v Map<String, Json>, String> {
    match value {
        Json::Object(o) => Ok(o),
        _ => Err(format!("`{what}` must be a JSON object")),
    }
}

/// A string field of `object`.
fn string<'v>(object: &'v Map<String, Json>, field: &str, what: &str) -> Result<&'v str, String> {
    match object.get(field) {
        Some(Json::String(s)) => Ok(s),
        Some(_) => Err(format!("`{what}.{field}` must be a string")),
        None => Err(format!("`{what}` needs `{field}`")),
    }
}

/// A subject or resource `{type, id}` as an entity reference.
fn entity(value: Option<&Json>, what: &str) -> Result<EntityUid, String> {
    let value = value.ok_or_else(|| format!("the request needs `{what}`"))?;
    let o = object(value, what)?;
    let ty = string(o, "type", what)?;
    let id = string(o, "id", what)?;
    uid_from_parts(ty, id).map_err(|m| format!("in `{what}`: {m}"))
}

/// An entity type of a search (`{type}`; an `id` is ignored, as the
/// specification says).
fn entity_type(value: Option<&Json>, what: &str) -> Result<String, String> {
    let value = value.ok_or_else(|| format!("the request needs `{what}`"))?;
    let o = object(value, what)?;
    Ok(string(o, "type", what)?.to_string())
}

/// An action `{name, properties: {type}?}` as `Type::"name"`.
fn action(value: Option<&Json>) -> Result<EntityUid, String> {
    let value = value.ok_or("the request needs `action`")?;
    let o = object(value, "action")?;
    let name = string(o, "name", "action")?;
    let ty = match o.get("properties") {
        None | Some(Json::Null) => "Action",
        Some(Json::Object(p)) => match p.get("type") {
            None | Some(Json::Null) => "Action",
            Some(Json::String(t)) => t,
            Some(_) => return Err("`action.properties.type` must be a string".into()),
        },
        Some(_) => return Err("`action.properties` must be a JSON object".into()),
    };
    uid_from_parts(ty, name).map_err(|m| format!("in `action`: {m}"))
}

/// The context (none or `null`: empty).
fn context(value: Option<&Json>) -> Result<Json, String> {
    match value {
        None | Some(Json::Null) => Ok(json!({})),
        Some(c @ Json::Object(_)) => Ok(c.clone()),
        Some(_) => Err("`context` must be a JSON object".into()),
    }
}

/// One search result, its fields in the specification's order whatever
/// serde_json's map keeps.
#[derive(Serialize)]
#[serde(untagged)]
enum Found {
    Entity {
        #[serde(rename = "type")]
        ty: String,
        id: String,
    },
    Action {
        name: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        properties: Option<ActionType>,
    },
}

#[derive(Serialize)]
struct ActionType {
    #[serde(rename = "type")]
    ty: String,
}

impl Found {
    fn entity(uid: &EntityUid) -> Found {
        Found::Entity {
            ty: uid.ty.to_string(),
            id: uid.id.to_string(),
        }
    }
}

/// A per-item error of a batch of evaluations: a deny with the reason.
#[derive(Serialize)]
struct ItemError<'a> {
    decision: bool,
    context: ItemErrorContext<'a>,
}

#[derive(Serialize)]
struct ItemErrorContext<'a> {
    error: ItemErrorBody<'a>,
}

#[derive(Serialize)]
struct ItemErrorBody<'a> {
    status: u16,
    message: &'a str,
}

/// One evaluation (subject, action, resource, context) as mspl's request.
fn request_of(snapshot: &Snapshot, o: &Map<String, Json>) -> Result<Request, String> {
    let principal = entity(o.get("subject"), "subject")?;
    let action = action(o.get("action"))?;
    let resource = entity(o.get("resource"), "resource")?;
    let context = context_from_json(&context(o.get("context"))?, &action, &snapshot.set.schema)
        .map_err(|m| format!("in `context`: {m}"))?;
    Ok(Request {
        principal,
        action,
        resource,
        context,
    })
}

/// The response `context` of a decision.
#[derive(Serialize)]
struct DecisionContext<'a> {
    id: &'a str,
    revision: &'a str,
    reason_admin: ReasonAdmin<'a>,
    reason_user: ReasonUser,
}

#[derive(Serialize)]
struct ReasonAdmin<'a> {
    determining: &'a [smol_str::SmolStr],
    errors: &'a [crate::authorize::PolicyError],
}

#[derive(Serialize)]
struct ReasonUser {
    fixes: Vec<String>,
}

#[derive(Serialize)]
struct EvaluationJson<'a> {
    decision: bool,
    context: DecisionContext<'a>,
}

/// Decides one evaluation and writes its `{decision, context}`.
fn evaluate(server: &Server, snapshot: &Snapshot, request: Request) -> (bool, String) {
    let asked = Asked {
        request,
        store: Cow::Borrowed(&snapshot.entities),
    };
    let (response, id) = server.decide(snapshot, &asked, None);
    let allowed = response.decision == Decision::Allow;
    let fixes = if allowed {
        Vec::new()
    } else {
        fixes(snapshot, &asked.request, &response)
    };
    let out = EvaluationJson {
        decision: allowed,
        context: DecisionContext {
            id: &id,
            revision: &snapshot.revision,
            reason_admin: ReasonAdmin {
                determining: &response.determining,
                errors: &response.errors,
            },
            reason_user: ReasonUser { fixes },
        },
    };
    (allowed, serde_json::to_string(&out).unwrap_or_default())
}

/// The fix lines of a deny's explanation.
fn fixes(snapshot: &Snapshot, request: &Request, response: &Response) -> Vec<String> {
    explain(
        &snapshot.set,
        &snapshot.entities,
        request,
        response,
        &snapshot.options.limits,
        Include::Relevant,
    )
    .fixes
}

/// `POST /access/v1/evaluation`.
pub fn evaluation(server: &Server, snapshot: &Snapshot, body: &str) -> Result<String, ApiError> {
    let value = parse_body(server, body)?;
    let o = object(&value, "request").map_err(ApiError::bad_request)?;
    let request = request_of(snapshot, o).map_err(ApiError::bad_request)?;
    Ok(evaluate(server, snapshot, request).1)
}

/// How a batch of evaluations runs (`options.evaluations_semantic`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Semantic {
    ExecuteAll,
    DenyOnFirstDeny,
    PermitOnFirstPermit,
}

fn semantic(value: &Map<String, Json>) -> Result<Semantic, String> {
    let Some(options) = value.get("options") else {
        return Ok(Semantic::ExecuteAll);
    };
    let options = object(options, "options")?;
    match options.get("evaluations_semantic") {
        None | Some(Json::Null) => Ok(Semantic::ExecuteAll),
        Some(Json::String(s)) => match s.as_str() {
            "execute_all" => Ok(Semantic::ExecuteAll),
            "deny_on_first_deny" => Ok(Semantic::DenyOnFirstDeny),
            "permit_on_first_permit" => Ok(Semantic::PermitOnFirstPermit),
            other => Err(format!(
                "unknown `options.evaluations_semantic` `{other}`; expected `execute_all`, `deny_on_first_deny` or `permit_on_first_permit`"
            )),
        },
        Some(_) => Err("`options.evaluations_semantic` must be a string".into()),
    }
}

/// `POST /access/v1/evaluations`: each item's subject, action, resource
/// and context default to the top level's; with no `evaluations` (or an
/// empty array) it is one evaluation. A short-circuiting semantic stops
/// after the first deny (or permit), so the answer holds fewer results.
/// An item that is not a valid evaluation is a deny carrying its error.
pub fn evaluations(server: &Server, snapshot: &Snapshot, body: &str) -> Result<String, ApiError> {
    let value = parse_body(server, body)?;
    let top = object(&value, "request").map_err(ApiError::bad_request)?;
    let semantic = semantic(top).map_err(ApiError::bad_request)?;
    let items = match top.get("evaluations") {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Array(items)) => items.iter().collect(),
        Some(_) => return Err(ApiError::bad_request("`evaluations` must be an array")),
    };
    if items.is_empty() {
        let request = request_of(snapshot, top).map_err(ApiError::bad_request)?;
        return Ok(evaluate(server, snapshot, request).1);
    }
    if items.len() > server.max_batch {
        return Err(ApiError::too_large(format!(
            "the request holds {} evaluations, more than the limit of {} (--max-batch)",
            items.len(),
            server.max_batch
        )));
    }
    let mut out = String::from("{\"evaluations\":[");
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let merged = match item {
            Json::Object(own) => {
                let mut merged = Map::new();
                for key in ["subject", "action", "resource", "context"] {
                    if let Some(v) = own.get(key).or_else(|| top.get(key)) {
                        merged.insert(key.to_string(), v.clone());
                    }
                }
                Ok(merged)
            }
            _ => Err(format!("`evaluations[{i}]` must be a JSON object")),
        };
        let decided = merged.and_then(|m| request_of(snapshot, &m));
        let allowed = match decided {
            Ok(request) => {
                let (allowed, text) = evaluate(server, snapshot, request);
                out.push_str(&text);
                allowed
            }
            Err(message) => {
                let error = ItemError {
                    decision: false,
                    context: ItemErrorContext {
                        error: ItemErrorBody {
                            status: 400,
                            message: &message,
                        },
                    },
                };
                out.push_str(&serde_json::to_string(&error).unwrap_or_default());
                false
            }
        };
        let stop = match semantic {
            Semantic::ExecuteAll => false,
            Semantic::DenyOnFirstDeny => !allowed,
            Semantic::PermitOnFirstPermit => allowed,
        };
        if stop {
            break;
        }
    }
    out.push_str("]}");
    Ok(out)
}

/// Which search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Search {
    /// `/access/v1/search/subject`: who may do the action on the resource.
    Subject,
    /// `/access/v1/search/resource`: what the subject may do the action on.
    Resource,
    /// `/access/v1/search/action`: what the subject may do to the resource.
    Action,
}

/// `POST /access/v1/search/…`: the results of one page, `{"page":
/// {next_token, count, total}, "results": […]}`. A page token is the
/// offset and a digest of the request it continues; a token given with
/// another request is a 400, as the specification asks.
pub fn search(
    server: &Server,
    snapshot: &Snapshot,
    kind: Search,
    body: &str,
) -> Result<String, ApiError> {
    let value = parse_body(server, body)?;
    let top = object(&value, "request").map_err(ApiError::bad_request)?;
    let (offset, limit, digest) = page(top)?;
    let results = search_all(snapshot, kind, top).map_err(ApiError::bad_request)?;
    let total = results.len();
    let from = offset.min(total);
    let to = from.saturating_add(limit).min(total);
    let next_token = if to < total {
        format!("{to}.{digest}")
    } else {
        String::new()
    };
    #[derive(Serialize)]
    struct Page {
        next_token: String,
        count: usize,
        total: usize,
    }
    #[derive(Serialize)]
    struct Results<'a> {
        page: Page,
        results: &'a [Found],
    }
    let found = Results {
        page: Page {
            next_token,
            count: to - from,
            total,
        },
        results: &results[from..to],
    };
    Ok(serde_json::to_string(&found).unwrap_or_default())
}

/// The page asked for: its offset (from `page.token`), its size, and the
/// digest of the request without its token.
fn page(top: &Map<String, Json>) -> Result<(usize, usize, String), ApiError> {
    let page = match top.get("page") {
        None | Some(Json::Null) => Map::new(),
        Some(Json::Object(p)) => p.clone(),
        Some(_) => return Err(ApiError::bad_request("`page` must be a JSON object")),
    };
    let limit = match page.get("limit") {
        None | Some(Json::Null) => DEFAULT_PAGE,
        Some(n) => match n.as_u64() {
            Some(0) | None => {
                return Err(ApiError::bad_request(
                    "`page.limit` must be a positive integer",
                ))
            }
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        },
    };
    let mut unpaged = top.clone();
    let mut page_without_token = page.clone();
    page_without_token.remove("token");
    unpaged.insert("page".into(), Json::Object(page_without_token));
    let digest = digest(Json::Object(unpaged));
    let offset = match page.get("token") {
        None | Some(Json::Null) => 0,
        Some(Json::String(t)) if t.is_empty() => 0,
        Some(Json::String(t)) => {
            let parsed = t
                .split_once('.')
                .and_then(|(n, d)| Some((n.parse::<usize>().ok()?, d)));
            match parsed {
                Some((n, d)) if d == digest => n,
                Some(_) => {
                    return Err(ApiError::bad_request(
                        "`page.token` belongs to another search: the entities and the page limit must stay the same between pages",
                    ))
                }
                None => return Err(ApiError::bad_request("`page.token` is not a token this server gave")),
            }
        }
        Some(_) => return Err(ApiError::bad_request("`page.token` must be a string")),
    };
    Ok((offset, limit, digest))
}

/// A short digest of a JSON value, its keys sorted.
fn digest(value: Json) -> String {
    use sha2::{Digest, Sha256};
    let text = crate::syntax::schema_json::sorted(value).to_string();
    super::snapshot::hex(&Sha256::digest(text.as_bytes())[..8])
}

/// Every result of a search, in the audit's order: exactly the requests
/// that an evaluation with the same subject, action, resource and context
/// (none: `{}`) allows (the specification's Search Semantics), nothing
/// enumerated, nothing denied with an error.
fn search_all(
    snapshot: &Snapshot,
    kind: Search,
    top: &Map<String, Json>,
) -> Result<Vec<Found>, String> {
    let context = context(top.get("context"))?;
    let asked = match kind {
        Search::Subject | Search::Resource => Some(action(top.get("action"))?),
        Search::Action => None,
    };
    let domain = Domain::build_exact(&snapshot.set, &snapshot.entities, &context, asked.as_ref())
        .map_err(|e| domain_message(&e))?;
    let auditor =
        Auditor::with_domain(&snapshot.set, &snapshot.entities, &snapshot.options, domain);
    let node_of = |uid: &EntityUid, what: &str| {
        snapshot
            .entities
            .node(uid)
            .filter(|_| snapshot.entities.contains(uid))
            .ok_or_else(|| format!("`{what}` {uid} is not an entity of the store"))
    };
    let action_number = |uid: &EntityUid| {
        auditor
            .action(&uid.to_string())
            .map_err(|e| domain_message(&e))
    };
    let run = Run {
        threads: 1,
        max_results: None,
        all: false,
    };
    // The audit also reports denials an error may have caused; a search
    // returns only what the evaluation allows.
    let allowed = |l: &&crate::audit::judge::Line| l.response.decision == Decision::Allow;
    let mut seen = std::collections::HashSet::new();
    let mut results = Vec::new();
    match kind {
        Search::Subject => {
            let ty = entity_type(top.get("subject"), "subject")?;
            let action = action_number(&action(top.get("action"))?)?;
            let resource = node_of(&entity(top.get("resource"), "resource")?, "resource")?;
            let answer = auditor
                .who_can(action, resource, run)
                .map_err(|e| domain_message(&e))?;
            for line in answer.lines.iter().filter(|l| allowed(l)) {
                let uid = snapshot.entities.node_uid(line.ids.principal);
                if uid.ty.as_str() == ty && seen.insert(line.ids.principal) {
                    results.push(Found::entity(uid));
                }
            }
        }
        Search::Resource => {
            let principal = node_of(&entity(top.get("subject"), "subject")?, "subject")?;
            let action = action_number(&action(top.get("action"))?)?;
            let ty = entity_type(top.get("resource"), "resource")?;
            let answer = auditor.what_can(principal, &[action], run);
            for line in answer.lines.iter().filter(|l| allowed(l)) {
                let uid = snapshot.entities.node_uid(line.ids.resource);
                if uid.ty.as_str() == ty && seen.insert(line.ids.resource) {
                    results.push(Found::entity(uid));
                }
            }
        }
        Search::Action => {
            let principal = node_of(&entity(top.get("subject"), "subject")?, "subject")?;
            let resource = node_of(&entity(top.get("resource"), "resource")?, "resource")?;
            let answer = auditor.what_can(principal, &[], run);
            for line in answer
                .lines
                .iter()
                .filter(|l| l.ids.resource == resource && allowed(l))
            {
                let uid = snapshot.entities.node_uid(line.ids.action);
                if seen.insert(line.ids.action) {
                    results.push(Found::Action {
                        name: uid.id.to_string(),
                        properties: (uid.ty.as_str() != "Action").then(|| ActionType {
                            ty: uid.ty.to_string(),
                        }),
                    });
                }
            }
        }
    }
    Ok(results)
}

/// An audit domain's problem in the words of this API.
fn domain_message(e: &crate::audit::domain::DomainError) -> String {
    e.to_string()
        .replace("--context", "the request's `context`")
}
