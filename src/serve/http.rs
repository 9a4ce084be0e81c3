//! The routes: each handler reads its body within `--max-body-bytes` and
//! `--request-timeout-ms`, takes the serving snapshot once, and answers
//! JSON; every error is `{"error": {"message", "status", …}}` with a 4xx
//! (a 503 before the first snapshot), never a 500 for bad input.
//!
//! Every response echoes the request's `X-Request-ID` (AuthZEN's request
//! identifier); decision responses carry the deciding snapshot's revision
//! in `X-Mspl-Revision`.

use super::authzen::{self, Search};
use super::decide;
use super::pool::Full;
use super::reload::{Outcome, Trigger};
use super::snapshot::Snapshot;
use super::{ApiError, Server};
use crate::consistency::Token;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use http_body_util::BodyExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

type Shared = State<Arc<Server>>;

/// The server's routes.
pub fn router(server: Arc<Server>) -> Router {
    Router::new()
        .route("/v1/is_authorized", post(is_authorized))
        .route("/v1/batch_is_authorized", post(batch))
        .route("/v1/explain", post(explain))
        .route("/v1/plan", post(plan))
        .route("/v1/reload", post(reload))
        .route("/v1/entities", post(write_entities))
        .route("/v1/status", get(status))
        .route("/access/v1/evaluation", post(evaluation))
        .route("/access/v1/evaluations", post(evaluations))
        .route("/access/v1/search/subject", post(search_subject))
        .route("/access/v1/search/resource", post(search_resource))
        .route("/access/v1/search/action", post(search_action))
        .route("/.well-known/authzen-configuration", get(configuration))
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            server.clone(),
            super::auth::authenticate,
        ))
        .layer(middleware::from_fn_with_state(server.clone(), around))
        .with_state(server)
}

/// Counts every response by status and echoes `X-Request-ID`.
async fn around(State(server): Shared, request: Request, next: Next) -> Response {
    let id = request.headers().get("x-request-id").cloned();
    let mut response = next.run(request).await;
    server.metrics.response(response.status().as_u16());
    if let Some(id) = id {
        response.headers_mut().insert("x-request-id", id);
    }
    response
}

fn json(status: u16, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The JSON answer of `e`, with the bearer challenge on a 401 or 403.
pub(super) fn error(e: &ApiError) -> Response {
    let mut response = json(e.status, e.body());
    if e.status == 401 || e.status == 403 {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            super::auth::challenge(e.status, false),
        );
    }
    response
}

/// Reads the body: at most `max_body_bytes` (a 413 past it, told by
/// `Content-Length` or found while reading), UTF-8 (a 400 otherwise).
async fn body_text(server: &Server, request: Request) -> Result<String, ApiError> {
    let limit = server.max_body_bytes;
    let too_large = || {
        ApiError::too_large(format!(
            "the body is larger than the limit of {limit} bytes (--max-body-bytes)"
        ))
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let limited = http_body_util::Limited::new(request.into_body(), limit);
    let bytes: Bytes = match limited.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return Err(too_large()),
        Err(e) => return Err(ApiError::bad_request(format!("cannot read the body: {e}"))),
    };
    // Without a copy where the bytes are not shared.
    String::from_utf8(Vec::from(bytes)).map_err(|e| {
        ApiError::bad_request(format!(
            "the body is not UTF-8 (at byte {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// A decision endpoint: the body read on the async workers, then
/// `answer` run on the serving snapshot by the decision pool, the revision
/// in a header. One deadline bounds it all: the body, the wait for a
/// decision thread and the work itself (the evaluator looks at it), and
/// past it the answer is a 408, never a partial one. A full queue is a 429
/// at once.
async fn decision(
    server: Arc<Server>,
    request: Request,
    answer: impl FnOnce(&Server, &Snapshot, &str, Instant) -> Result<String, ApiError> + Send + 'static,
) -> Response {
    let deadline = Instant::now() + server.request_timeout;
    let timeout_at = tokio::time::Instant::from_std(deadline);
    let headers = request.headers().clone();
    let caller = request
        .extensions()
        .get::<super::tls::Peer>()
        .and_then(|p| p.subject.clone());
    let read = tokio::time::timeout_at(timeout_at, body_text(&server, request)).await;
    let text = match read {
        Ok(Ok(text)) => text,
        Ok(Err(e)) => return error(&e),
        Err(_) => return error(&decide::timed_out(&server)),
    };
    // Read your writes: a request asking for an entity revision waits
    // for it (no decision thread held), or is refused; never answered
    // from an older one.
    if let Err(e) = wait_for_revision(&server, &headers, &text, timeout_at).await {
        return e;
    }
    // Never a decision from entities older than the operator allows.
    if let Some(age) = server.too_stale() {
        let age = age.map_or_else(
            || "have not been read yet".to_string(),
            |a| format!("were last confirmed current {} ms ago", a.as_millis()),
        );
        let mut response = error(&ApiError::new(
            503,
            format!("the entities {age}, past --max-staleness-ms: not deciding from them"),
        ));
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    }
    let Some(snapshot) = server.current() else {
        return error(&ApiError::new(503, "no snapshot is loaded yet"));
    };
    let revision = snapshot.revision.clone();
    let entity_revision = snapshot.entity_token();
    let work = {
        let server = server.clone();
        move || super::log::as_caller(caller, || answer(&server, &snapshot, &text, deadline))
    };
    let told = match server.pool.submit(work) {
        Ok(told) => told,
        Err(Full) => {
            let mut response = error(&ApiError::new(
                429,
                format!(
                    "every decision thread is busy and {} requests are waiting (--max-queued): try again",
                    server.pool.capacity()
                ),
            ));
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return response;
        }
    };
    match tokio::time::timeout_at(timeout_at, told).await {
        Ok(Ok(Ok(body))) => {
            let mut response = json(200, body);
            if let Ok(v) = HeaderValue::from_str(&revision) {
                response.headers_mut().insert("x-mspl-revision", v);
            }
            if let Ok(v) = HeaderValue::from_str(&entity_revision) {
                response.headers_mut().insert("x-mspl-entity-revision", v);
            }
            response
        }
        Ok(Ok(Err(e))) => error(&e),
        Ok(Err(_)) => error(&ApiError::new(500, "the decision stopped unexpectedly")),
        Err(_) => error(&decide::timed_out(&server)),
    }
}

async fn is_authorized(State(server): Shared, request: Request) -> Response {
    decision(server, request, decide::is_authorized).await
}

async fn batch(State(server): Shared, request: Request) -> Response {
    decision(server, request, decide::batch).await
}

async fn explain(State(server): Shared, request: Request) -> Response {
    decision(server, request, decide::explain_request).await
}

async fn plan(State(server): Shared, request: Request) -> Response {
    decision(server, request, super::plan::plan_request).await
}

/// AuthZEN's transport: a request body is `application/json` (its media
/// type, whatever its parameters), else a 400 (the certification's
/// c-2-4-3).
fn json_only(request: &Request) -> Result<(), ApiError> {
    let media = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    match media.as_deref() {
        Some("application/json") => Ok(()),
        Some(other) => Err(ApiError::bad_request(format!(
            "the request's Content-Type is `{other}`; the AuthZEN API takes `application/json`"
        ))),
        None => Err(ApiError::bad_request(
            "the request has no Content-Type; the AuthZEN API takes `application/json`",
        )),
    }
}

async fn evaluation(State(server): Shared, request: Request) -> Response {
    if let Err(refused) = json_only(&request) {
        return error(&refused);
    }
    decision(server, request, authzen::evaluation).await
}

async fn evaluations(State(server): Shared, request: Request) -> Response {
    if let Err(refused) = json_only(&request) {
        return error(&refused);
    }
    decision(server, request, authzen::evaluations).await
}

async fn search_subject(State(server): Shared, request: Request) -> Response {
    if let Err(refused) = json_only(&request) {
        return error(&refused);
    }
    let search = |s: &Server, snap: &Snapshot, body: &str, deadline: Instant| {
        authzen::search(s, snap, Search::Subject, body, deadline)
    };
    decision(server, request, search).await
}

async fn search_resource(State(server): Shared, request: Request) -> Response {
    if let Err(refused) = json_only(&request) {
        return error(&refused);
    }
    let search = |s: &Server, snap: &Snapshot, body: &str, deadline: Instant| {
        authzen::search(s, snap, Search::Resource, body, deadline)
    };
    decision(server, request, search).await
}

async fn search_action(State(server): Shared, request: Request) -> Response {
    if let Err(refused) = json_only(&request) {
        return error(&refused);
    }
    let search = |s: &Server, snap: &Snapshot, body: &str, deadline: Instant| {
        authzen::search(s, snap, Search::Action, body, deadline)
    };
    decision(server, request, search).await
}

async fn configuration(State(server): Shared) -> Response {
    json(200, authzen::configuration(&server.public_url))
}

async fn live() -> Response {
    json(200, "{\"status\":\"live\"}".into())
}

async fn ready(State(server): Shared) -> Response {
    match server.current() {
        Some(s) => json(
            200,
            serde_json::json!({"revision": s.revision, "status": "ready"}).to_string(),
        ),
        None => error(&ApiError::new(503, "no snapshot is loaded yet")),
    }
}

/// Whether applying entity changes is stopped, and with a database the
/// entities' age.
fn entity_source_gauges(server: &Server) -> (bool, Option<Option<Duration>>) {
    #[cfg(feature = "postgres")]
    if let Some(db) = &server.database {
        let status = db.status();
        return (status.stopped.is_some(), Some(status.staleness));
    }
    let stopped = server
        .changes
        .as_ref()
        .is_some_and(|c| c.status().stopped.is_some());
    (stopped, None)
}

async fn metrics(State(server): Shared) -> Response {
    let snapshot = server.current();
    let log = &server.log;
    let mut text = server.metrics.render(
        snapshot
            .as_ref()
            .map(|s| (s.revision.as_str(), s.loaded_at)),
        (
            log.dropped.load(std::sync::atomic::Ordering::Relaxed),
            log.failed.load(std::sync::atomic::Ordering::Relaxed),
        ),
    );
    let (stopped, age) = entity_source_gauges(&server);
    super::metrics::render_entity_source(&mut text, stopped, age);
    if let super::Source::Bundle { trust, .. } = &server.source {
        trust.render(&mut text);
    }
    let mut response = Response::new(Body::from(text));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response
}

async fn status(State(server): Shared) -> Response {
    json(200, super::reload::status_json(&server))
}

/// `POST /v1/reload`: only with an admin token, which the request must
/// bear; answers when the reload has ended.
async fn reload(State(server): Shared, request: Request) -> Response {
    if let Some(refused) = server.tokens.refuse_admin(&request, "POST /v1/reload") {
        return refused;
    }
    let (tell, told) = tokio::sync::oneshot::channel();
    if server.reloads.send(Trigger::Asked(tell)).await.is_err() {
        return error(&ApiError::new(503, "the reloader has stopped"));
    }
    match told.await {
        Ok(Outcome::Loaded(revision)) => json(
            200,
            serde_json::json!({"result": "loaded", "revision": revision}).to_string(),
        ),
        Ok(Outcome::Unchanged(revision)) => json(
            200,
            serde_json::json!({"result": "unchanged", "revision": revision}).to_string(),
        ),
        Ok(Outcome::Failed(message)) => error(&ApiError::new(
            422,
            format!("the new inputs were refused; the old snapshot keeps serving: {message}"),
        )),
        Err(_) => error(&ApiError::new(503, "the reloader has stopped")),
    }
}

/// The entity revision a request asks for: `X-Mspl-At-Least`, or the
/// body's `"consistency": {"at_least": TOKEN}`.
fn asked_revision(
    headers: &axum::http::HeaderMap,
    body: &str,
    database: bool,
) -> Result<Option<Token>, ApiError> {
    let token = match headers.get("x-mspl-at-least") {
        Some(v) => Some(v.to_str().unwrap_or("").to_string()),
        // Only a body that names it is parsed for it.
        None if body.contains("\"consistency\"") => serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| {
                v.get("consistency").map(|c| {
                    c.get("at_least")
                        .map(|t| match t {
                            serde_json::Value::Number(n) => n.to_string(),
                            t => t.as_str().unwrap_or("").to_string(),
                        })
                        .unwrap_or_default()
                })
            }),
        None => None,
    };
    match token {
        None => Ok(None),
        Some(t) => Token::read(&t, database)
            .map(Some)
            .map_err(ApiError::bad_request),
    }
}

/// Waits until the serving entity revision is at least the one the request
/// asks for, at most `--consistency-wait-ms` and never past the request's
/// deadline; a 503 with `Retry-After` when it does not come.
async fn wait_for_revision(
    server: &Server,
    headers: &axum::http::HeaderMap,
    body: &str,
    deadline: tokio::time::Instant,
) -> Result<(), Response> {
    let wanted = asked_revision(headers, body, server.reads_database()).map_err(|e| error(&e))?;
    let Some(wanted) = wanted else {
        return Ok(());
    };
    let mut revisions = server.revisions.subscribe();
    let until = deadline.min(tokio::time::Instant::now() + server.consistency_wait);
    let reached = tokio::time::timeout_at(until, revisions.wait_for(|p| p.reached(&wanted))).await;
    match reached {
        Ok(Ok(_)) => Ok(()),
        _ => {
            let serving = server.revisions.borrow().token();
            let wanted = match &wanted {
                Token::Number(n) => n.to_string(),
                Token::Snapshot(s) => s.to_string(),
            };
            let mut response = error(&ApiError::new(
                503,
                format!(
                    "the entities are at revision {serving}, not yet at {wanted}, after {} ms (--consistency-wait-ms): try again",
                    server.consistency_wait.as_millis()
                ),
            ));
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            Err(response)
        }
    }
}

/// `POST /v1/entities`: a transaction, with the admin token, appended to
/// the change log durably, then applied; `{"revision": TOKEN}`.
async fn write_entities(State(server): Shared, request: Request) -> Response {
    let Some(changes) = server.changes.clone() else {
        return error(&ApiError::new(
            404,
            "POST /v1/entities exists only with a change log: start the server with --entity-changes FILE (and an admin token)",
        ));
    };
    if let Some(refused) = server.tokens.refuse_admin(&request, "POST /v1/entities") {
        return refused;
    }
    let body = match body_text(&server, request).await {
        Ok(b) => b,
        Err(e) => return error(&e),
    };
    let written = tokio::task::spawn_blocking(move || changes.write(&server, &body)).await;
    match written {
        Ok(Ok(token)) => {
            let mut response = json(200, serde_json::json!({"revision": token}).to_string());
            if let Ok(v) = HeaderValue::from_str(&token) {
                response.headers_mut().insert("x-mspl-entity-revision", v);
            }
            response
        }
        Ok(Err(e)) => error(&e),
        Err(_) => error(&ApiError::new(500, "the write stopped unexpectedly")),
    }
}

async fn not_found() -> Response {
    error(&ApiError::new(404, "no such endpoint"))
}

async fn method_not_allowed() -> Response {
    error(&ApiError::new(
        405,
        "this endpoint does not take that method",
    ))
}
