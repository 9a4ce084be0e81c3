//! The OpenID AuthZEN Authorization API 1.0: access evaluation, access
//! evaluations (with `options.evaluations_semantic`), the search APIs and
//! the metadata document, translated to and from mspl's requests.
//!
//! - [`given`]: a subject or resource `{type, id, properties?}` is the
//!   entity `type::"id"` with its properties merged over its stored self
//!   for the request; an action `{name, properties?}` is `Action::"name"`
//!   (or a namespaced action written in full), its properties the record
//!   `context.action`.
//! - Unknown fields are ignored, as the specification requires; a missing
//!   required field is a 400.
//! - A single evaluation answers `{decision, context}`, the `context`
//!   holding the decision's `id`, `reason_admin` (`determining`, `errors`)
//!   and `reason_user` (`fixes`: the explanation's fix lines of a deny).
//!   The items of `evaluations` answer `{decision}` alone, as clients
//!   compare them, with that `context` only when asked
//!   (`options.include_reasons`, `serve --authzen-reasons`).
//! - [`search`]: the searches, answered by the audit engine's who-can and
//!   what-can over the snapshot's store: every result, asked as an
//!   evaluation with the same context and properties, is allowed.

pub mod cache;
mod given;
mod search;

pub use search::{search, Search, SearchCache, DEFAULT_PAGE};

use super::decide::{parse_body, timed_out, Asked, Judged};
use super::snapshot::Snapshot;
use super::{ApiError, Server};
use crate::authorize::{Decision, Response};
use crate::entities::json::{context_from_json, Request};
use crate::explain::{explain, Include};
use crate::syntax::ast::EntityUid;
use crate::value::Value;
use given::{object, Given, GivenAction};
use serde::Serialize;
use serde_json::{json, Map, Value as Json};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

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
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<DecisionContext<'a>>,
}

/// One evaluation as read: subject, action, resource, and the context's
/// JSON (`None`: none given).
struct Evaluation<'v> {
    subject: Given<'v>,
    action: GivenAction<'v>,
    resource: Given<'v>,
}

fn read_evaluation<'v>(field: impl Fn(&str) -> Option<&'v Json>) -> Result<Evaluation<'v>, String> {
    Ok(Evaluation {
        subject: given::entity(field("subject"), "subject")?,
        action: given::action(field("action"))?,
        resource: given::entity(field("resource"), "resource")?,
    })
}

/// The request of `e` with `context` (read for its action), and the store
/// it is judged on (the snapshot's, or a layer with the given properties).
fn asked<'s>(snapshot: &'s Snapshot, e: &Evaluation, context: Value) -> Result<Asked<'s>, String> {
    let schema = &snapshot.set().schema;
    let store = given::overlay(
        &snapshot.entities,
        snapshot.set(),
        &[&e.subject, &e.resource],
    )?;
    let context = given::with_action_properties(context, &e.action, schema)?;
    Ok(Asked {
        request: Request {
            principal: e.subject.uid.clone(),
            action: e.action.uid.clone(),
            resource: e.resource.uid.clone(),
            context,
        },
        store: match store {
            Some(s) => Cow::Owned(s),
            None => Cow::Borrowed(&snapshot.entities),
        },
    })
}

/// A context's JSON read for `action`'s declared context type.
fn read_context(
    snapshot: &Snapshot,
    json: Option<&Json>,
    action: &EntityUid,
) -> Result<Value, String> {
    let empty = json!({});
    context_from_json(json.unwrap_or(&empty), action, &snapshot.set().schema)
        .map_err(|m| format!("in `context`: {m}"))
}

/// What a deny's user may do about it: its explanation's fix lines
/// (none for an allow).
fn fixes_of(snapshot: &Snapshot, asked: &Asked, response: &Response) -> Vec<String> {
    if response.decision == Decision::Allow {
        return Vec::new();
    }
    explain(
        snapshot.set(),
        &asked.store,
        &asked.request,
        response,
        &snapshot.options().limits,
        Include::Relevant,
    )
    .fixes
}

/// One evaluation's answer: `{decision}`, with the `context` of its
/// reasons when `reasons` holds them (its decision recorded under `id`).
fn evaluation_json(
    snapshot: &Snapshot,
    response: &Response,
    reasons: Option<Vec<String>>,
    id: &str,
) -> String {
    let out = EvaluationJson {
        decision: response.decision == Decision::Allow,
        context: reasons.map(|fixes| DecisionContext {
            id,
            revision: &snapshot.revision,
            reason_admin: ReasonAdmin {
                determining: &response.determining,
                errors: &response.errors,
            },
            reason_user: ReasonUser { fixes },
        }),
    };
    serde_json::to_string(&out).unwrap_or_default()
}

/// `POST /access/v1/evaluation`: `{decision, context}`.
pub fn evaluation(
    server: &Server,
    snapshot: &Snapshot,
    body: &str,
    deadline: Instant,
) -> Result<String, ApiError> {
    let value = parse_body(server, body)?;
    let o = object(&value, "request").map_err(ApiError::bad_request)?;
    single(server, snapshot, o, deadline)
}

/// One evaluation read from `o`, judged and recorded: `{decision, context}`.
fn single(
    server: &Server,
    snapshot: &Snapshot,
    o: &Map<String, Json>,
    deadline: Instant,
) -> Result<String, ApiError> {
    let read = || -> Result<Asked, String> {
        let e = read_evaluation(|k| o.get(k))?;
        let context = read_context(
            snapshot,
            given::context_json(o.get("context"))?,
            &e.action.uid,
        )?;
        asked(snapshot, &e, context)
    };
    let asked = read().map_err(ApiError::bad_request)?;
    let judged = server.judge(snapshot, &asked, deadline)?;
    let fixes = fixes_of(snapshot, &asked, &judged.response);
    if Instant::now() >= deadline {
        return Err(timed_out(server));
    }
    let id = server.record(snapshot, &asked, &judged, None, false);
    Ok(evaluation_json(
        snapshot,
        &judged.response,
        Some(fixes),
        &id,
    ))
}

/// How a batch of evaluations runs (`options.evaluations_semantic`), and
/// whether its items carry their reasons (`options.include_reasons`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Semantic {
    ExecuteAll,
    DenyOnFirstDeny,
    PermitOnFirstPermit,
}

struct Options {
    semantic: Semantic,
    reasons: bool,
}

fn options(value: &Map<String, Json>, reasons: bool) -> Result<Options, String> {
    let Some(options) = value.get("options").filter(|o| !o.is_null()) else {
        return Ok(Options {
            semantic: Semantic::ExecuteAll,
            reasons,
        });
    };
    let options = object(options, "options")?;
    let semantic = match options.get("evaluations_semantic") {
        None | Some(Json::Null) => Semantic::ExecuteAll,
        Some(Json::String(s)) => match s.as_str() {
            "execute_all" => Semantic::ExecuteAll,
            "deny_on_first_deny" => Semantic::DenyOnFirstDeny,
            "permit_on_first_permit" => Semantic::PermitOnFirstPermit,
            other => return Err(format!(
                "unknown `options.evaluations_semantic` `{other}`; expected `execute_all`, `deny_on_first_deny` or `permit_on_first_permit`"
            )),
        },
        Some(_) => return Err("`options.evaluations_semantic` must be a string".into()),
    };
    let reasons = match options.get("include_reasons") {
        None | Some(Json::Null) => reasons,
        Some(Json::Bool(b)) => *b,
        Some(_) => return Err("`options.include_reasons` must be a boolean".into()),
    };
    Ok(Options { semantic, reasons })
}

/// The top-level `context` of a batch of evaluations, read once for each
/// action its items name (its declared type depends on the action), never
/// once per item.
struct SharedContext<'v> {
    json: Option<&'v Json>,
    read: HashMap<EntityUid, Result<Value, String>>,
}

impl SharedContext<'_> {
    fn for_action(&mut self, snapshot: &Snapshot, action: &EntityUid) -> Result<Value, String> {
        let json = self.json;
        self.read
            .entry(action.clone())
            .or_insert_with(|| read_context(snapshot, json, action))
            .clone()
    }
}

/// One item of a batch of evaluations: its own fields, else the top
/// level's (a whole entity replaced, never merged); whether its context
/// is the top level's.
fn item_asked<'s>(
    snapshot: &'s Snapshot,
    top: &Map<String, Json>,
    own: &Map<String, Json>,
    shared: &mut SharedContext,
) -> Result<(Asked<'s>, bool), String> {
    let e = read_evaluation(|key| own.get(key).or_else(|| top.get(key)))?;
    let (context, shares) = match own.get("context") {
        Some(c) => (
            read_context(snapshot, given::context_json(Some(c))?, &e.action.uid)?,
            false,
        ),
        None => (shared.for_action(snapshot, &e.action.uid)?, true),
    };
    Ok((asked(snapshot, &e, context)?, shares))
}

/// One judged item of a batch of evaluations: the request, its decision,
/// whether its context is the batch's, and its fixes when asked.
type Item<'s> = (Asked<'s>, Judged, bool, Option<Vec<String>>);

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
    let options = options(top, server.authzen_reasons).map_err(ApiError::bad_request)?;
    let items = match top.get("evaluations") {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Array(items)) => items.iter().collect(),
        Some(_) => return Err(ApiError::bad_request("`evaluations` must be an array")),
    };
    if items.is_empty() {
        return single(server, snapshot, top, deadline);
    }
    if items.len() > server.max_batch {
        return Err(ApiError::too_large(format!(
            "the request holds {} evaluations, more than the limit of {} (--max-batch)",
            items.len(),
            server.max_batch
        )));
    }
    let shared_json = given::context_json(top.get("context")).map_err(ApiError::bad_request)?;
    let mut shared = SharedContext {
        json: shared_json,
        read: HashMap::new(),
    };
    // Judged (and explained) first, recorded after: nothing is logged
    // unless the whole answer is given.
    let mut judged: Vec<Result<Item, String>> = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let read = match item {
            Json::Object(own) => item_asked(snapshot, top, own, &mut shared),
            _ => Err(format!("`evaluations[{i}]` must be a JSON object")),
        };
        let outcome = match read {
            Ok((asked, shares)) => {
                let j = server.judge(snapshot, &asked, deadline)?;
                let fixes = options
                    .reasons
                    .then(|| fixes_of(snapshot, &asked, &j.response));
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
        let stop = match options.semantic {
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
