//! mspl's own endpoints: `/v1/is_authorized`, `/v1/batch_is_authorized`
//! and `/v1/explain`, and what every decision endpoint shares: reading a
//! JSON body under the limits, a request with its own entities, deciding
//! on one snapshot, counting and logging the decision.

use super::log::Entry;
use super::snapshot::Snapshot;
use super::{ApiError, Server};
use crate::authorize::Response;
use crate::entities::json::{self, Origin, Request};
use crate::entities::Entities;
use crate::explain::{explain, Explanation, Include};
use serde::Serialize;
use serde_json::Value as Json;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Parses a request body: strict JSON (duplicate keys refused), nesting
/// bounded by the limits, problems located by line and column.
pub fn parse_body(server: &Server, body: &str) -> Result<Json, ApiError> {
    let origin = Origin {
        file: "<body>",
        text: body,
        offset: 0,
    };
    json::parse_json(&origin, body, &server.limits)
        .map_err(|e| ApiError::bad_request(e.message).at(e.line, e.column))
}

/// One request read from JSON: the request and, when it brought entities
/// of its own, the store to judge it against.
pub struct Asked<'s> {
    /// The request.
    pub request: Request,
    /// The snapshot's store, or that store with the request's entities.
    pub store: Cow<'s, Entities>,
}

/// Reads `{"principal", "action", "resource", "context", "entities"?}`
/// against `snapshot`'s declarations; `at` names the request in errors.
pub fn read_request<'s>(
    server: &Server,
    snapshot: &'s Snapshot,
    value: &Json,
    at: &str,
) -> Result<Asked<'s>, ApiError> {
    let Json::Object(object) = value else {
        return Err(ApiError::bad_request(format!(
            "{at}a request is a JSON object with `principal`, `action`, `resource` and `context`"
        )));
    };
    let (request, extra) = if object.contains_key("entities") || object.contains_key("consistency")
    {
        let mut plain = object.clone();
        // Waited for before the request reached a decision thread.
        plain.remove("consistency");
        let extra = plain.remove("entities");
        (
            json::request_from_json(&Json::Object(plain), &snapshot.set().schema),
            extra,
        )
    } else {
        (json::request_from_json(value, &snapshot.set().schema), None)
    };
    let request = request.map_err(|m| ApiError::bad_request(format!("{at}{m}")))?;
    let store = match extra {
        None | Some(Json::Null) => Cow::Borrowed(&snapshot.entities),
        Some(entities) => Cow::Owned(overlay(server, snapshot, &entities, at)?),
    };
    Ok(Asked { request, store })
}

/// The snapshot's store with `entities` (Cedar's entity JSON) in place of
/// its entities of the same uid (cedar-agent's `additional_entities`).
pub fn overlay(
    server: &Server,
    snapshot: &Snapshot,
    entities: &Json,
    at: &str,
) -> Result<Entities, ApiError> {
    let text = entities.to_string();
    let mut extra = Entities::new();
    json::load_entities_with(
        &text,
        "<entities>",
        &snapshot.set().schema,
        &mut extra,
        &server.limits,
    )
    .map_err(|e| ApiError::bad_request(format!("{at}in `entities`: {}", e.message)))?;
    Ok(snapshot.entities.overlay(&extra))
}

/// A decision endpoint's answer for one request: the contract's response
/// fields in order, then the decision's id and the revision.
#[derive(Serialize)]
pub struct Answer<'a> {
    /// The decision.
    #[serde(flatten)]
    pub response: &'a Response,
    /// `/v1/explain` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<&'a Explanation>,
    /// The decision's id (its line in the decision log).
    pub decision_id: &'a str,
    /// The snapshot that decided: its policies' revision.
    pub revision: &'a str,
    /// Its entities' revision (a consistency token).
    pub entity_revision: String,
}

/// A decision judged on a snapshot, not yet counted or logged: a batch
/// is judged whole before any of it is, so that a deadline reached half
/// way leaves no decision behind.
pub struct Judged {
    /// The decision.
    pub response: Response,
    /// How long it took.
    pub took: Duration,
}

/// The 408 of a request whose deadline passed: never a decision.
pub fn timed_out(server: &Server) -> ApiError {
    ApiError::new(
        408,
        format!(
            "the request took longer than {} ms (--request-timeout-ms)",
            server.request_timeout.as_millis()
        ),
    )
}

impl Server {
    /// Judges `asked` on `snapshot`, its evaluation bounded by `deadline`
    /// (a 408 past it: the request is abandoned, whatever its policies
    /// said so far).
    pub fn judge(
        &self,
        snapshot: &Snapshot,
        asked: &Asked,
        deadline: Instant,
    ) -> Result<Judged, ApiError> {
        if Instant::now() >= deadline {
            return Err(timed_out(self));
        }
        let started = Instant::now();
        let response =
            snapshot
                .prepared
                .authorize_until(&asked.store, &asked.request, Some(deadline));
        if response.deadline_reached() {
            return Err(timed_out(self));
        }
        Ok(Judged {
            response,
            took: started.elapsed(),
        })
    }

    /// Counts and logs a judged decision (the log keeps copies of what it
    /// writes); the decision's id. With `context_ref`, its log line names
    /// its batch's context (written once in the batch's header line)
    /// instead of repeating it.
    pub fn record(
        &self,
        snapshot: &Snapshot,
        asked: &Asked,
        judged: &Judged,
        batch: Option<&Arc<str>>,
        context_ref: bool,
    ) -> String {
        self.metrics.decision(&judged.response, judged.took);
        let decision_id = self.ids.next();
        if self.log.enabled() {
            self.log.record(Entry {
                decision_id: decision_id.clone(),
                time: SystemTime::now(),
                revision: snapshot.revision.as_str().into(),
                batch_id: batch.cloned(),
                context_ref,
                request: asked.request.clone(),
                response: judged.response.clone(),
                latency_us: judged.took.as_micros().try_into().unwrap_or(u64::MAX),
                caller: super::log::caller(),
            });
        }
        decision_id
    }

    /// [`Server::judge`] then [`Server::record`]: one request on its own.
    pub fn decide(
        &self,
        snapshot: &Snapshot,
        asked: &Asked,
        deadline: Instant,
    ) -> Result<(Response, String), ApiError> {
        let judged = self.judge(snapshot, asked, deadline)?;
        let id = self.record(snapshot, asked, &judged, None, false);
        Ok((judged.response, id))
    }
}

/// `POST /v1/is_authorized`.
pub fn is_authorized(
    server: &Server,
    snapshot: &Snapshot,
    body: &str,
    deadline: Instant,
) -> Result<String, ApiError> {
    let asked =
        match crate::entities::json::fast::request(body, &snapshot.set().schema, &server.limits) {
            Some(request) => Asked {
                request,
                store: Cow::Borrowed(&snapshot.entities),
            },
            None => read_request(server, snapshot, &parse_body(server, body)?, "")?,
        };
    let (response, id) = server.decide(snapshot, &asked, deadline)?;
    Ok(answer_json(&response, None, &id, snapshot))
}

/// `POST /v1/explain`: the decision with `mspl explain`'s explanation of
/// every policy.
pub fn explain_request(
    server: &Server,
    snapshot: &Snapshot,
    body: &str,
    deadline: Instant,
) -> Result<String, ApiError> {
    let value = parse_body(server, body)?;
    let asked = read_request(server, snapshot, &value, "")?;
    let (response, id) = server.decide(snapshot, &asked, deadline)?;
    let explanation = explain(
        snapshot.set(),
        &asked.store,
        &asked.request,
        &response,
        &snapshot.options().limits,
        Include::All,
    );
    if Instant::now() >= deadline {
        return Err(timed_out(server));
    }
    Ok(answer_json(&response, Some(&explanation), &id, snapshot))
}

/// `POST /v1/batch_is_authorized`: `{"requests": […]}` →
/// `{"batch_id", "revision", "results": […]}`, in order, every request
/// judged on the same snapshot, one at a time; a deadline reached before
/// the last is a 408 for the whole batch.
pub fn batch(
    server: &Server,
    snapshot: &Snapshot,
    body: &str,
    deadline: Instant,
) -> Result<String, ApiError> {
    let asked =
        match crate::entities::json::fast::batch(body, &snapshot.set().schema, &server.limits) {
            Some(requests) => requests
                .into_iter()
                .map(|request| Asked {
                    request,
                    store: Cow::Borrowed(&snapshot.entities),
                })
                .collect(),
            None => read_batch(server, snapshot, body)?,
        };
    if asked.len() > server.max_batch {
        return Err(too_many(asked.len(), server.max_batch));
    }
    let judged = asked
        .iter()
        .map(|a| server.judge(snapshot, a, deadline))
        .collect::<Result<Vec<_>, _>>()?;
    let batch_id: Arc<str> = server.ids.next().into();
    let mut out = String::with_capacity(64 + asked.len() * 96);
    out.push_str("{\"batch_id\":");
    out.push_str(&Json::from(&*batch_id).to_string());
    out.push_str(",\"revision\":");
    out.push_str(&Json::from(snapshot.revision.as_str()).to_string());
    out.push_str(",\"entity_revision\":");
    out.push_str(&Json::from(snapshot.entity_token()).to_string());
    out.push_str(",\"results\":[");
    for (i, (a, j)) in asked.iter().zip(&judged).enumerate() {
        if i > 0 {
            out.push(',');
        }
        let id = server.record(snapshot, a, j, Some(&batch_id), false);
        out.push_str(&answer_json(&j.response, None, &id, snapshot));
    }
    out.push_str("]}");
    Ok(out)
}

/// A batch's requests by the plain path, every problem named with the
/// request's index.
fn read_batch<'s>(
    server: &Server,
    snapshot: &'s Snapshot,
    body: &str,
) -> Result<Vec<Asked<'s>>, ApiError> {
    let value = parse_body(server, body)?;
    let Json::Object(object) = &value else {
        return Err(ApiError::bad_request(
            "a batch is a JSON object `{\"requests\": [...]}`",
        ));
    };
    if let Some(key) = object
        .keys()
        .filter(|k| *k != "requests" && *k != "consistency")
        .min()
    {
        return Err(ApiError::bad_request(format!(
            "unknown field `{key}` in batch; expected `requests` or `consistency`"
        )));
    }
    let Some(Json::Array(requests)) = object.get("requests") else {
        return Err(ApiError::bad_request(
            "a batch needs `requests`, an array of requests",
        ));
    };
    if requests.len() > server.max_batch {
        return Err(too_many(requests.len(), server.max_batch));
    }
    // Read them all first: a bad request refuses the batch before any is
    // decided or logged.
    requests
        .iter()
        .enumerate()
        .map(|(i, r)| read_request(server, snapshot, r, &format!("requests[{i}]: ")))
        .collect()
}

fn too_many(count: usize, limit: usize) -> ApiError {
    ApiError::too_large(format!(
        "the batch holds {count} requests, more than the limit of {limit} (--max-batch)"
    ))
}

/// One answer as JSON text.
pub fn answer_json(
    response: &Response,
    explanation: Option<&Explanation>,
    decision_id: &str,
    snapshot: &Snapshot,
) -> String {
    let answer = Answer {
        response,
        explanation,
        decision_id,
        revision: &snapshot.revision,
        entity_revision: snapshot.entity_token(),
    };
    serde_json::to_string(&answer).unwrap_or_default()
}
