//! Who may call what: bearer tokens (RFC 6750).
//!
//! - Client tokens (`--auth-token-file`, or `MSPL_AUTH_TOKENS`), when
//!   configured, open the decision and AuthZEN endpoints, status and
//!   metrics; without one of them (or the admin token) a request gets a
//!   401 with `WWW-Authenticate`.
//! - The admin token (`--admin-token-file`, or `MSPL_ADMIN_TOKEN`) opens
//!   everything, and alone opens `POST /v1/reload` and `POST /v1/entities`:
//!   a client token there gets a 403 (`insufficient_scope`).
//! - With a client CA (`--tls-client-ca`), a verified client certificate
//!   opens what a client token opens; without tokens, those endpoints
//!   then need one.
//! - Health and the AuthZEN metadata stay open.
//!
//! Tokens are compared in time that depends only on their lengths, and
//! never logged or shown.

use super::{ApiError, Server};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;

/// The bearer tokens a server accepts.
#[derive(Clone, Default)]
pub struct Tokens {
    /// The admin token: every endpoint.
    pub admin: Option<String>,
    /// The client tokens: every endpoint but the admin ones. None: those
    /// endpoints are open (unless `certificates`).
    pub clients: Vec<String>,
    /// Whether a client CA is configured: a verified client certificate
    /// then opens what a client token opens, and without tokens those
    /// endpoints need one.
    pub certificates: bool,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("admin", &self.admin.as_ref().map(|_| "…"))
            .field("clients", &self.clients.len())
            .field("certificates", &self.certificates)
            .finish()
    }
}

/// What an endpoint asks of its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    /// Anyone (health, the AuthZEN metadata).
    Open,
    /// A client token, when any is configured.
    Client,
    /// The admin token (checked by the endpoint itself, which does not
    /// exist without one).
    Admin,
}

fn access(path: &str) -> Access {
    match path {
        "/health/live" | "/health/ready" | "/.well-known/authzen-configuration" => Access::Open,
        "/v1/reload" | "/v1/entities" => Access::Admin,
        _ => Access::Client,
    }
}

/// The bearer token of `request`, if it has one.
fn presented(request: &Request) -> Option<&str> {
    request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
}

/// Compares two secrets in time that depends only on their lengths.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether `given` is one of `tokens`: every one compared, whichever
/// matches.
fn one_of(given: &str, tokens: &[String]) -> bool {
    tokens.iter().fold(false, |found, t| {
        same(given.as_bytes(), t.as_bytes()) | found
    })
}

impl Tokens {
    fn is_admin(&self, given: &str) -> bool {
        self.admin
            .as_ref()
            .is_some_and(|t| same(given.as_bytes(), t.as_bytes()))
    }

    /// Whether a client endpoint lets in a request bearing `given`, with
    /// a verified client certificate or not.
    fn opens_client(&self, given: Option<&str>, certified: bool) -> bool {
        (self.clients.is_empty() && !self.certificates)
            || (self.certificates && certified)
            || given.is_some_and(|g| one_of(g, &self.clients) | self.is_admin(g))
    }

    /// The answer to `request` on the admin endpoint `what` when it does
    /// not bear the admin token: a 404 without one configured, a 403 for a
    /// client token, a 401 otherwise (each with its challenge).
    pub fn refuse_admin(&self, request: &Request, what: &str) -> Option<Response> {
        let e = self.admin(request, what).err()?;
        let mut response = super::http::error(&e);
        if e.status == 401 || e.status == 403 {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                challenge(e.status, presented(request).is_some()),
            );
        }
        Some(response)
    }

    /// Whether `request` bears the admin token for `what`: a 404 without
    /// one configured, a 403 for a client token, a 401 otherwise.
    fn admin(&self, request: &Request, what: &str) -> Result<(), ApiError> {
        if self.admin.is_none() {
            return Err(ApiError::new(
                404,
                format!("{what} exists only with an admin token: start the server with --admin-token-file FILE (or MSPL_ADMIN_TOKEN set)"),
            ));
        }
        match presented(request) {
            Some(g) if self.is_admin(g) => Ok(()),
            Some(g) if one_of(g, &self.clients) => Err(ApiError::new(
                403,
                format!("{what} needs the admin token; a client token opens only the decision endpoints"),
            )),
            _ => Err(ApiError::new(
                401,
                format!("{what} needs `Authorization: Bearer <token>` with the admin token"),
            )),
        }
    }
}

/// The challenge of a 401 or 403 (RFC 6750, section 3).
pub fn challenge(status: u16, token_given: bool) -> HeaderValue {
    HeaderValue::from_static(match (status, token_given) {
        (403, _) => "Bearer realm=\"mspl\", error=\"insufficient_scope\"",
        (_, true) => "Bearer realm=\"mspl\", error=\"invalid_token\"",
        _ => "Bearer realm=\"mspl\"",
    })
}

/// Lets a request through to its endpoint when its token opens it.
pub async fn authenticate(
    State(server): State<Arc<Server>>,
    request: Request,
    next: Next,
) -> Response {
    let certified = request
        .extensions()
        .get::<super::tls::Peer>()
        .is_some_and(|p| p.subject.is_some());
    let given = presented(&request);
    if access(request.uri().path()) != Access::Client
        || server.tokens.opens_client(given, certified)
    {
        return next.run(request).await;
    }
    let given = given.is_some();
    let message = if given {
        "the bearer token is not one this server accepts"
    } else {
        "this endpoint needs `Authorization: Bearer <token>` or a client certificate the server trusts"
    };
    let mut response = super::http::error(&ApiError::new(401, message));
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, challenge(401, given));
    response
}
