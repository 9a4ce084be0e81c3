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

use super::decide::{parse_body, timed_out, Asked, Judged};
use super::snapshot::Snapshot;
use super::{ApiError, Server};
use crate::audit::domain::Domain;
use crate::audit::{Auditor, Run};
use crate::authorize::{Decision, Response};
use crate::entities::json::{context_from_json, uid_from_parts, Request};
use crate::explain::{explain, Include};
use crate::syntax::ast::EntityUid;
use crate::value::Value;
use serde::Serialize;
use serde_json::{json, Map, Value as Json};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

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

/// What a deny's user may do about it: its explanation's fix lines
/// (none for an allow).
fn fixes_of(snapshot: &Snapshot, asked: &Asked, response: &Response) -> Vec<String> {
    if response.decision == Decision::Allow {
        Vec::new()
    } else {
        fixes(snapshot, &asked.request, response)
    }
}

/// One evaluation's answer `{decision, context}`, its decision recorded
/// under `id`.
fn evaluation_json(
    snapshot: &Snapshot,
    response: &Response,
    fixes: Vec<String>,
    id: &str,
) -> String {
    let allowed = response.decision == Decision::Allow;
    let out = EvaluationJson {
        decision: allowed,
        context: DecisionContext {
            id,
            revision: &snapshot.revision,
            reason_admin: ReasonAdmin {
                determining: &response.determining,
                errors: &response.errors,
            },
            reason_user: ReasonUser { fixes },
        },
    };
    serde_json::to_string(&out).unwrap_or_default()
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

fn asked_of(snapshot: &Snapshot, request: Request) -> Asked<'_> {
    Asked {
        request,
        store: Cow::Borrowed(&snapshot.entities),
    }
}

/// `POST /access/v1/evaluation`.
pub fn evaluation(
    server: &Server,
    snapshot: &Snapshot,
    body: &str,
    deadline: Instant,
) -> Result<String, ApiError> {
    let value = parse_body(server, body)?;
    let o = object(&value, "request").map_err(ApiError::bad_request)?;
    let asked = asked_of(
        snapshot,
        request_of(snapshot, o).map_err(ApiError::bad_request)?,
    );
    let judged = server.judge(snapshot, &asked, deadline)?;
    let fixes = fixes_of(snapshot, &asked, &judged.response);
    if Instant::now() >= deadline {
        return Err(timed_out(server));
    }
    let id = server.record(snapshot, &asked, &judged, None, false);
    Ok(evaluation_json(snapshot, &judged.response, fixes, &id))
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

/// The top-level `context` of a batch of evaluations, read once for each
/// action its items name (its declared type depends on the action), never
/// once per item.
struct SharedContext<'v> {
    json: Option<&'v Json>,
    read: HashMap<EntityUid, Result<Value, String>>,
}

impl SharedContext<'_> {
    fn for_action(
        &mut self,
        action: &EntityUid,
        schema: &crate::schema::Schema,
    ) -> Result<Value, String> {
        let json = self.json;
        self.read
            .entry(action.clone())
            .or_insert_with(|| {
                let empty = json!({});
                context_from_json(json.unwrap_or(&empty), action, schema)
                    .map_err(|m| format!("in `context`: {m}"))
            })
            .clone()
    }
}

/// One item of a batch of evaluations: its own fields, else the top
/// level's; whether its context is the top level's.
fn item_request(
    snapshot: &Snapshot,
    top: &Map<String, Json>,
    own: &Map<String, Json>,
    shared: &mut SharedContext,
) -> Result<(Request, bool), String> {
    let field = |key: &str| own.get(key).or_else(|| top.get(key));
    let principal = entity(field("subject"), "subject")?;
    let action = action(field("action"))?;
    let resource = entity(field("resource"), "resource")?;
    let (context, shares) = match own.get("context") {
        Some(c) => (
            context_from_json(&context(Some(c))?, &action, &snapshot.set.schema)
                .map_err(|m| format!("in `context`: {m}"))?,
            false,
        ),
        None => (shared.for_action(&action, &snapshot.set.schema)?, true),
    };
    Ok((
        Request {
            principal,
            action,
            resource,
            context,
        },
        shares,
    ))
}

/// One judged item of a batch of evaluations: the request, its decision,
/// whether its context is the batch's, and its fixes.
type Item<'s> = (Asked<'s>, Judged, bool, Vec<String>);

/// `POST /access/v1/evaluations`: each item's subject, action, resource
/// and context default to the top level's; with no `evaluations` (or an
/// empty array) it is one evaluation. A short-circuiting semantic stops
/// after the first deny (or permit), so the answer holds fewer results.
/// An item that is not a valid evaluation is a deny carrying its error.
/// Every item is judged before any is recorded: a deadline reached half
/// way is a 408 with no decision.
pub fn evaluations(
    server: &Server,
    snapshot: &Snapshot,
    body: &str,
    deadline: Instant,
) -> Result<String, ApiError> {
    let value = parse_body(server, body)?;
    let top = object(&value, "request").map_err(ApiError::bad_request)?;
    let semantic = semantic(top).map_err(ApiError::bad_request)?;
    let items = match top.get("evaluations") {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Array(items)) => items.iter().collect(),
        Some(_) => return Err(ApiError::bad_request("`evaluations` must be an array")),
    };
    if items.is_empty() {
        return evaluation(server, snapshot, body, deadline);
    }
    if items.len() > server.max_batch {
        return Err(ApiError::too_large(format!(
            "the request holds {} evaluations, more than the limit of {} (--max-batch)",
            items.len(),
            server.max_batch
        )));
    }
    let shared_json = match top.get("context") {
        None | Some(Json::Null) => None,
        Some(c @ Json::Object(_)) => Some(c),
        Some(_) => return Err(ApiError::bad_request("`context` must be a JSON object")),
    };
    let mut shared = SharedContext {
        json: shared_json,
        read: HashMap::new(),
    };
    // Judged (and explained) first, recorded after: nothing is logged
    // unless the whole answer is given.
    let mut judged: Vec<Result<Item, String>> = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let read = match item {
            Json::Object(own) => item_request(snapshot, top, own, &mut shared),
            _ => Err(format!("`evaluations[{i}]` must be a JSON object")),
        };
        let outcome = match read {
            Ok((request, shares)) => {
                let asked = asked_of(snapshot, request);
                let j = server.judge(snapshot, &asked, deadline)?;
                let fixes = fixes_of(snapshot, &asked, &j.response);
                if Instant::now() >= deadline {
                    return Err(timed_out(server));
                }
                Ok((asked, j, shares, fixes))
            }
            Err(message) => Err(message),
        };
        let allowed =
            matches!(&outcome, Ok((_, j, _, _)) if j.response.decision == Decision::Allow);
        judged.push(outcome);
        let stop = match semantic {
            Semantic::ExecuteAll => false,
            Semantic::DenyOnFirstDeny => !allowed,
            Semantic::PermitOnFirstPermit => allowed,
        };
        if stop {
            break;
        }
    }
    let batch_id: Arc<str> = server.ids.next().into();
    let shares = judged.iter().any(|j| matches!(j, Ok((_, _, true, _))));
    if shares && server.log.enabled() {
        let text = shared_json.map_or_else(|| "{}".to_string(), Json::to_string);
        server.log.batch_context(batch_id.clone(), text);
    }
    let mut out = String::from("{\"evaluations\":[");
    for (i, item) in judged.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match item {
            Ok((asked, j, shares, fixes)) => {
                let id = server.record(snapshot, &asked, &j, Some(&batch_id), shares);
                out.push_str(&evaluation_json(snapshot, &j.response, fixes, &id));
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
            }
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
    deadline: Instant,
) -> Result<String, ApiError> {
    let value = parse_body(server, body)?;
    let top = object(&value, "request").map_err(ApiError::bad_request)?;
    let (offset, limit, digest) = page(top)?;
    let results = search_all(snapshot, kind, top, deadline).map_err(ApiError::bad_request)?;
    // A search cut by its deadline is no answer: what it found may be short.
    if Instant::now() >= deadline {
        return Err(timed_out(server));
    }
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
    deadline: Instant,
) -> Result<Vec<Found>, String> {
    let context = context(top.get("context"))?;
    let asked = match kind {
        Search::Subject | Search::Resource => Some(action(top.get("action"))?),
        Search::Action => None,
    };
    let domain = Domain::build_exact(&snapshot.set, &snapshot.entities, &context, asked.as_ref())
        .map_err(|e| domain_message(&e))?;
    let options = crate::authorize::Options {
        deadline: Some(deadline),
        ..snapshot.options
    };
    let auditor = Auditor::with_domain(&snapshot.set, &snapshot.entities, &options, domain);
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
