//! Decisions and their explanations.

use super::data::{Entities, Request};
use super::policies::PolicySet;
use crate::authorize;
use serde::Serialize;

/// What the authorizer decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Decision {
    /// Access granted: some permit applies and no forbid does.
    Allow,
    /// Access denied.
    Deny,
}

/// Why a request was denied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DenyKind {
    /// A forbid applies.
    Forbidden,
    /// No permit applies.
    NotPermitted,
}

/// An error one policy raised while it was judged (under mspl's default
/// semantics an erring permit does not apply and an erring forbid does;
/// under Cedar's the policy is skipped).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuthorizationError {
    policy: String,
    message: String,
    file: String,
    line: usize,
    column: usize,
}

impl AuthorizationError {
    /// The id of the policy that raised it.
    pub fn policy(&self) -> &str {
        &self.policy
    }

    /// What went wrong.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Where: the file of the expression that raised it, its 1-based line
    /// and column.
    pub fn location(&self) -> (&str, usize, usize) {
        (&self.file, self.line, self.column)
    }
}

/// The answer to one request. Serialises as the contract's response JSON:
/// `{"decision", "kind", "determining", "errors"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Response {
    decision: Decision,
    kind: Option<DenyKind>,
    determining: Vec<String>,
    errors: Vec<AuthorizationError>,
}

impl Response {
    fn of(response: &authorize::Response) -> Response {
        Response {
            decision: match response.decision {
                authorize::Decision::Allow => Decision::Allow,
                authorize::Decision::Deny => Decision::Deny,
            },
            kind: response.kind.map(|k| match k {
                authorize::DenyKind::Forbidden => DenyKind::Forbidden,
                authorize::DenyKind::NotPermitted => DenyKind::NotPermitted,
            }),
            determining: response.determining.iter().map(|p| p.to_string()).collect(),
            errors: response
                .errors
                .iter()
                .map(|e| AuthorizationError {
                    policy: e.policy.to_string(),
                    message: e.message.clone(),
                    file: e.file.clone(),
                    line: e.line,
                    column: e.column,
                })
                .collect(),
        }
    }

    /// Allow or deny.
    pub fn decision(&self) -> Decision {
        self.decision
    }

    /// On a deny, why; `None` on an allow.
    pub fn kind(&self) -> Option<DenyKind> {
        self.kind
    }

    /// The policies that decided, in load order: the permits that applied
    /// (allow), the forbids that applied (forbidden), none (not permitted).
    pub fn determining(&self) -> impl Iterator<Item = &str> {
        self.determining.iter().map(String::as_str)
    }

    /// Every policy whose evaluation raised an error, in load order.
    pub fn errors(&self) -> &[AuthorizationError] {
        &self.errors
    }
}

/// A decision with its explanation: for every policy, whether its scope
/// matched, each condition part's value, the rule calls that held or did
/// not and why, and the fixes that would change a deny.
#[derive(Clone, Debug)]
pub struct Explanation {
    response: Response,
    text: String,
    json: serde_json::Value,
    fixes: Vec<String>,
}

impl Explanation {
    /// The decision explained.
    pub fn response(&self) -> &Response {
        &self.response
    }

    /// What would change a deny, from the policies' `@fix` annotations
    /// with their placeholders filled; empty for an allow.
    pub fn fixes(&self) -> &[String] {
        &self.fixes
    }

    /// The explanation as `mspl explain` prints it: each policy's source
    /// with the value of every condition part labelled on it.
    pub fn to_text(&self) -> &str {
        &self.text
    }

    /// The explanation as `mspl explain --format json` prints it: the
    /// response's fields, then `explanation`.
    pub fn to_json(&self) -> &serde_json::Value {
        &self.json
    }
}

/// Answers requests against a policy set and entities.
#[derive(Clone, Copy, Debug, Default)]
pub struct Authorizer {
    _private: (),
}

impl Authorizer {
    /// An authorizer.
    pub fn new() -> Authorizer {
        Authorizer::default()
    }

    /// Decides `request`: allow when some permit applies and no forbid
    /// does, deny otherwise.
    pub fn is_authorized(
        &self,
        request: &Request,
        policies: &PolicySet,
        entities: &Entities,
    ) -> Response {
        Response::of(
            &policies
                .prepared()
                .authorize(entities.inner(), request.inner()),
        )
    }

    /// Decides `request` and explains the decision, every policy covered.
    pub fn explain(
        &self,
        request: &Request,
        policies: &PolicySet,
        entities: &Entities,
    ) -> Explanation {
        let prepared = policies.prepared();
        let set = prepared.set();
        let response = prepared.authorize(entities.inner(), request.inner());
        let explanation = crate::explain::explain(
            set,
            entities.inner(),
            request.inner(),
            &response,
            &prepared.options().limits,
            crate::explain::Include::All,
        );
        let explained = crate::explain::Explained {
            response: &response,
            explanation: Some(&explanation),
        };
        Explanation {
            response: Response::of(&response),
            text: crate::explain::render::trace(set, &response, &explanation, false),
            json: serde_json::to_value(&explained).unwrap_or(serde_json::Value::Null),
            fixes: explanation.fixes.clone(),
        }
    }
}
