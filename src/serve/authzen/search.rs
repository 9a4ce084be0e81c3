//! The search APIs: who may do an action on a resource, what a subject may
//! do an action on, what it may do to a resource. Answered by the audit
//! engine over the snapshot's store (with the given entities' properties
//! merged in), on a domain of exactly the request's context: every result,
//! asked as an evaluation with the same subject, action, resource,
//! properties and context, is `true`, and every such `true` is a result.
//!
//! A request whose shape is wrong (a missing member, an input entity
//! without its `id`) is a 400; one that names an entity, an action or a
//! type the store does not know finds nothing (`{"results": []}`), as the
//! evaluation of it would not allow it.
//!
//! Pages: a token holds the offset, the limit and a digest of the request
//! without its `page`, so a follow-up may send only the token (as the
//! specification's examples do); another request, or another limit, with a
//! token is a 400. `page.limit: 0` returns no results, the total, and a
//! token for the first result. `page` is left out of an answer that is
//! complete when the request had none.

use super::cache::{Recent, MAX_ANSWERS, MAX_DOMAINS, MAX_RESULTS};
use super::given::{self, object, Given};
use super::{ApiError, Server};
use crate::audit::domain::Domain;
use crate::audit::{Auditor, Run};
use crate::authorize::Decision;
use crate::entities::build::named_actions;
use crate::entities::Entities;
use crate::serve::decide::{parse_body, timed_out};
use crate::serve::snapshot::Snapshot;
use crate::syntax::ast::EntityUid;
use serde::Serialize;
use serde_json::{Map, Value as Json};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

/// The answers and domains a server keeps between searches
/// ([`super::cache`]).
pub struct SearchCache {
    answers: Recent<Vec<Found>>,
    domains: Recent<Domain>,
}

impl Default for SearchCache {
    fn default() -> SearchCache {
        SearchCache {
            answers: Recent::new(MAX_ANSWERS, MAX_RESULTS),
            domains: Recent::new(MAX_DOMAINS, MAX_DOMAINS),
        }
    }
}

/// The identity of a snapshot's store: equal for equal inputs and entity
/// revisions, new after any change.
fn snapshot_key(snapshot: &Snapshot) -> String {
    format!("{}:{}", snapshot.revision, snapshot.entity_revision)
}

/// Search results per page when the request gives no `page.limit`.
pub const DEFAULT_PAGE: usize = 1000;

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
    },
}

impl Found {
    fn entity(uid: &EntityUid) -> Found {
        Found::Entity {
            ty: uid.ty.to_string(),
            id: uid.id.to_string(),
        }
    }
}

/// A search as read: what is searched for, and the given side(s).
enum Query<'v> {
    Subjects {
        ty: &'v str,
        action: given::GivenAction<'v>,
        resource: Given<'v>,
    },
    Resources {
        subject: Given<'v>,
        action: given::GivenAction<'v>,
        ty: &'v str,
    },
    Actions {
        subject: Given<'v>,
        resource: Given<'v>,
    },
}

impl<'v> Query<'v> {
    /// Reads the request's shape: every required member, every input
    /// entity whole (a 400 otherwise).
    fn read(kind: Search, top: &'v Map<String, Json>) -> Result<Query<'v>, String> {
        Ok(match kind {
            Search::Subject => Query::Subjects {
                ty: given::entity_type(top.get("subject"), "subject")?,
                action: given::action(top.get("action"))?,
                resource: given::entity(top.get("resource"), "resource")?,
            },
            Search::Resource => Query::Resources {
                subject: given::entity(top.get("subject"), "subject")?,
                action: given::action(top.get("action"))?,
                ty: given::entity_type(top.get("resource"), "resource")?,
            },
            Search::Action => Query::Actions {
                subject: given::entity(top.get("subject"), "subject")?,
                resource: given::entity(top.get("resource"), "resource")?,
            },
        })
    }

    fn given(&self) -> Vec<&Given<'v>> {
        match self {
            Query::Subjects { resource, .. } => vec![resource],
            Query::Resources { subject, .. } => vec![subject],
            Query::Actions { subject, resource } => vec![subject, resource],
        }
    }

    fn action(&self) -> Option<&given::GivenAction<'v>> {
        match self {
            Query::Subjects { action, .. } | Query::Resources { action, .. } => Some(action),
            Query::Actions { .. } => None,
        }
    }
}

/// The page asked for.
struct Page {
    /// Where it starts (from the token).
    offset: usize,
    /// The limit the search was asked with (kept in its tokens).
    limit: usize,
    /// Results on this page: the limit, but a follow-up of a `limit: 0`
    /// answer takes the default.
    size: usize,
    /// The digest of the request without its `page`.
    digest: String,
    /// Whether the request had a `page`.
    asked: bool,
}

fn non_negative(value: &Json, what: &str) -> Result<usize, ApiError> {
    value
        .as_u64()
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
        .ok_or_else(|| ApiError::bad_request(format!("`{what}` must be a non-negative integer")))
}

impl Page {
    fn read(top: &Map<String, Json>) -> Result<Page, ApiError> {
        let page = match top.get("page") {
            None | Some(Json::Null) => None,
            Some(Json::Object(p)) => Some(p),
            Some(_) => return Err(ApiError::bad_request("`page` must be a JSON object")),
        };
        let mut rest = top.clone();
        rest.remove("page");
        let digest = digest(Json::Object(rest));
        let given_limit = match page.and_then(|p| p.get("limit")) {
            None | Some(Json::Null) => None,
            Some(n) => Some(non_negative(n, "page.limit")?),
        };
        let token = match page.and_then(|p| p.get("token")) {
            None | Some(Json::Null) => None,
            Some(Json::String(t)) if t.is_empty() => None,
            Some(Json::String(t)) => Some(t.as_str()),
            Some(_) => return Err(ApiError::bad_request("`page.token` must be a string")),
        };
        let (offset, limit, follow_up) = match token {
            None => (0, given_limit.unwrap_or(DEFAULT_PAGE), false),
            Some(t) => {
                let mut parts = t.splitn(3, '.');
                let parsed = (|| {
                    let offset = parts.next()?.parse::<usize>().ok()?;
                    let limit = parts.next()?.parse::<usize>().ok()?;
                    Some((offset, limit, parts.next()?))
                })();
                let Some((offset, limit, of)) = parsed else {
                    return Err(ApiError::bad_request(
                        "`page.token` is not a token this server gave",
                    ));
                };
                if of != digest {
                    return Err(ApiError::bad_request(
                        "`page.token` belongs to another search: the entities and the context must stay the same between pages",
                    ));
                }
                if given_limit.is_some_and(|l| l != limit) {
                    return Err(ApiError::bad_request(
                        "`page.limit` must stay the same between pages (it may be left out after the first)",
                    ));
                }
                (offset, limit, true)
            }
        };
        let size = if limit == 0 && follow_up {
            DEFAULT_PAGE
        } else {
            limit
        };
        Ok(Page {
            offset,
            limit,
            size,
            digest,
            asked: page.is_some(),
        })
    }
}

/// A short digest of a JSON value, its keys sorted.
fn digest(value: Json) -> String {
    use sha2::{Digest, Sha256};
    let text = crate::syntax::schema_json::sorted(value).to_string();
    let digest = Sha256::digest(text.as_bytes());
    crate::serve::snapshot::hex(digest.get(..8).unwrap_or_default())
}

/// `POST /access/v1/search/…`: `{"page"?: {next_token, count, total},
/// "results": […]}`.
pub fn search(
    server: &Server,
    snapshot: &Snapshot,
    kind: Search,
    body: &str,
    deadline: Instant,
) -> Result<String, ApiError> {
    let value = parse_body(server, body)?;
    let top = object(&value, "request").map_err(ApiError::bad_request)?;
    let query = Query::read(kind, top).map_err(ApiError::bad_request)?;
    let page = Page::read(top)?;
    let context = given::context_json(top.get("context")).map_err(ApiError::bad_request)?;
    let key = format!("{}|{kind:?}|{}", snapshot_key(snapshot), page.digest);
    let results = match server.search_cache.answers.get(&key) {
        Some(kept) => {
            server.metrics.search(true);
            kept
        }
        None => {
            let found =
                find(server, snapshot, &query, context, deadline).map_err(ApiError::bad_request)?;
            // A search cut by its deadline is no answer: what it found may
            // be short (and is not kept).
            if Instant::now() >= deadline {
                return Err(timed_out(server));
            }
            server.metrics.search(false);
            let found = Arc::new(found);
            let weight = found.len().max(1);
            server.search_cache.answers.put(key, found.clone(), weight);
            found
        }
    };
    let total = results.len();
    let from = page.offset.min(total);
    let to = from.saturating_add(page.size).min(total);
    let next_token = if to < total {
        format!("{to}.{}.{}", page.limit, page.digest)
    } else {
        String::new()
    };
    #[derive(Serialize)]
    struct PageJson {
        next_token: String,
        count: usize,
        total: usize,
    }
    #[derive(Serialize)]
    struct Results<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        page: Option<PageJson>,
        results: &'a [Found],
    }
    let complete = from == 0 && to == total;
    let found = Results {
        page: (page.asked || !complete).then_some(PageJson {
            next_token,
            count: to - from,
            total,
        }),
        results: results.get(from..to).unwrap_or_default(),
    };
    Ok(serde_json::to_string(&found).unwrap_or_default())
}

/// The store a search runs on: the snapshot's (borrowed) or, with the
/// given entities' properties merged in and, without declarations, the
/// actions the policies name (as `mspl audit` has them), a new one.
fn store_for<'s>(snapshot: &'s Snapshot, query: &Query) -> Result<Cow<'s, Entities>, String> {
    let set = snapshot.set();
    let store = match given::overlay(&snapshot.entities, set, &query.given())? {
        Some(merged) => Cow::Owned(merged),
        None => Cow::Borrowed(&snapshot.entities),
    };
    if !set.schema.actions.is_empty() {
        return Ok(store);
    }
    let missing: Vec<EntityUid> = named_actions(set)
        .into_iter()
        .filter(|a| !store.contains(a))
        .collect();
    if missing.is_empty() {
        return Ok(store);
    }
    let mut actions = Entities::new();
    for a in &missing {
        actions.ensure_exists(a);
    }
    Ok(Cow::Owned(store.overlay(&actions)))
}

/// Every result of a search, in the audit's order.
fn find(
    server: &Server,
    snapshot: &Snapshot,
    query: &Query,
    context: Option<&Json>,
    deadline: Instant,
) -> Result<Vec<Found>, String> {
    let set = snapshot.set();
    let store = store_for(snapshot, query)?;
    let empty = serde_json::json!({});
    let mut context = context.unwrap_or(&empty).clone();
    // The action's parameters reach the policies as an evaluation's do.
    if let Some(action) = query.action() {
        let value = crate::entities::json::context_from_json(&context, &action.uid, &set.schema)
            .map_err(|m| format!("in `context`: {m}"))?;
        let value = given::with_action_properties(value, action, &set.schema)?;
        context = value.to_json();
    }
    let asked = query.action().map(|a| &a.uid);
    let build = || {
        Domain::build_exact(set, &store, &context, asked)
            .map(Arc::new)
            .map_err(|e| domain_message(&e))
    };
    // The snapshot's own store: its domain for this context and action is
    // kept (a store with given properties is this request's alone).
    let domain = match &store {
        Cow::Borrowed(_) => {
            let key = format!(
                "{}|{}|{}",
                snapshot_key(snapshot),
                crate::syntax::schema_json::sorted(context.clone()),
                asked.map(ToString::to_string).unwrap_or_default()
            );
            match server.search_cache.domains.get(&key) {
                Some(kept) => kept,
                None => {
                    let built = build()?;
                    server.search_cache.domains.put(key, built.clone(), 1);
                    built
                }
            }
        }
        Cow::Owned(_) => build()?,
    };
    let prepared = snapshot.prepared.with_options(crate::authorize::Options {
        deadline: Some(deadline),
        ..*snapshot.options()
    });
    let auditor = Auditor::with_domain(&prepared, &store, domain);
    // An entity of the store: a node with data.
    let node_of = |uid: &EntityUid| store.node(uid).filter(|_| store.contains(uid));
    let action_number =
        |uid: &EntityUid| auditor.domain.actions.iter().position(|a| a.action == *uid);
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
    match query {
        Query::Subjects {
            ty,
            action,
            resource,
        } => {
            let (Some(action), Some(resource)) =
                (action_number(&action.uid), node_of(&resource.uid))
            else {
                return Ok(results);
            };
            // A resource of a type the action does not apply to: nobody.
            let Ok(answer) = auditor.who_can(action, resource, run) else {
                return Ok(results);
            };
            for line in answer.lines.iter().filter(allowed) {
                let uid = store.node_uid(line.ids.principal);
                if uid.ty.as_str() == *ty && seen.insert(line.ids.principal) {
                    results.push(Found::entity(uid));
                }
            }
        }
        Query::Resources {
            subject,
            action,
            ty,
        } => {
            let (Some(principal), Some(action)) =
                (node_of(&subject.uid), action_number(&action.uid))
            else {
                return Ok(results);
            };
            let answer = auditor.what_can(principal, &[action], run);
            for line in answer.lines.iter().filter(allowed) {
                let uid = store.node_uid(line.ids.resource);
                if uid.ty.as_str() == *ty && seen.insert(line.ids.resource) {
                    results.push(Found::entity(uid));
                }
            }
        }
        Query::Actions { subject, resource } => {
            let (Some(principal), Some(resource)) = (node_of(&subject.uid), node_of(&resource.uid))
            else {
                return Ok(results);
            };
            let answer = auditor.what_can(principal, &[], run);
            for line in answer
                .lines
                .iter()
                .filter(|l| l.ids.resource == resource && allowed(l))
            {
                if seen.insert(line.ids.action) {
                    results.push(Found::Action {
                        name: given::action_name(store.node_uid(line.ids.action)),
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
