//! The authorization stage: a request against a policy set and an entity
//! store -> a [`Response`]: decision, kind, determining policies, errors.
//!
//! Deny unless at least one permit applies and no forbid applies. By default
//! errors fail closed: an erroring permit does not apply, an erroring forbid
//! does. In [`ErrorMode::Cedar`] every erroring policy is skipped.

use crate::entities::json::Request;
use crate::entities::Entities;
use crate::eval::{EvalError, Evaluator};
use crate::limits::Limits;
use crate::policy_set::PolicySet;
use crate::syntax::ast::{
    ActionConstraint, ConditionKind, Effect, EntityUid, Policy, ScopeConstraint,
};
use crate::syntax::Span;
use serde::Serialize;
use smol_str::SmolStr;

/// What the authorizer decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Access granted.
    Allow,
    /// Access denied.
    Deny,
}

/// Why a request was denied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DenyKind {
    /// A forbid applied.
    Forbidden,
    /// No permit applied.
    NotPermitted,
}

/// How evaluation errors count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ErrorMode {
    /// mspl's default: an erroring permit does not apply, an erroring forbid does.
    #[default]
    FailClosed,
    /// Cedar's: every erroring policy is skipped.
    Cedar,
}

/// Options of one authorization.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// How errors count.
    pub errors: ErrorMode,
    /// The limits in force.
    pub limits: Limits,
}

/// An error raised by one policy's evaluation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PolicyError {
    /// The policy's id.
    pub policy: SmolStr,
    /// What went wrong.
    pub message: String,
    /// The file of the expression that raised it.
    pub file: String,
    /// Its 1-based line.
    pub line: usize,
    /// Its 1-based column.
    pub column: usize,
    /// The error itself, for rendering with its source.
    #[serde(skip)]
    pub error: EvalError,
}

/// The answer to one request (contract, "JSON response").
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Response {
    /// Allow or deny.
    pub decision: Decision,
    /// On deny, why; `null` on allow.
    pub kind: Option<DenyKind>,
    /// The policies that decided, in load order.
    pub determining: Vec<SmolStr>,
    /// Every policy whose evaluation raised an error, in load order.
    pub errors: Vec<PolicyError>,
    /// The explanation, when one was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<serde_json::Value>,
}

/// What evaluating one policy gave.
#[derive(Clone, Debug, PartialEq)]
pub enum PolicyOutcome {
    /// The scope did not match the request.
    ScopeMismatch,
    /// The scope matched; the conditions were not all met.
    NotSatisfied,
    /// Scope and conditions matched.
    Satisfied,
    /// A condition raised an error.
    Error(EvalError),
}

/// Whether `policy`'s scope matches `request`.
pub fn scope_matches(policy: &Policy, request: &Request, entities: &Entities) -> bool {
    entity_constraint(&policy.principal, &request.principal, entities)
        && action_constraint(&policy.action, &request.action, entities)
        && entity_constraint(&policy.resource, &request.resource, entities)
}

fn entity_constraint(c: &ScopeConstraint, uid: &EntityUid, entities: &Entities) -> bool {
    match c {
        ScopeConstraint::Any => true,
        ScopeConstraint::Eq(target, _) => uid == target,
        ScopeConstraint::In(target, _) => entities.is_in(uid, target),
        ScopeConstraint::Is(ty, _) => uid.ty == *ty,
        ScopeConstraint::IsIn(ty, target, _) => uid.ty == *ty && entities.is_in(uid, target),
    }
}

fn action_constraint(c: &ActionConstraint, uid: &EntityUid, entities: &Entities) -> bool {
    match c {
        ActionConstraint::Any => true,
        ActionConstraint::Eq(target, _) => uid == target,
        ActionConstraint::In(targets, _) => targets.iter().any(|t| entities.is_in(uid, t)),
    }
}

/// Evaluates one policy against the request.
pub fn evaluate_policy<T: crate::eval::Tracer>(
    policy: &Policy,
    eval: &mut Evaluator<'_, T>,
) -> PolicyOutcome {
    if !scope_matches(policy, eval.request(), eval.entities()) {
        return PolicyOutcome::ScopeMismatch;
    }
    for c in &policy.conditions {
        let what = match c.kind {
            ConditionKind::When => "a `when` condition",
            ConditionKind::Unless => "an `unless` condition",
        };
        match eval.eval_bool(&c.body, what) {
            Ok(b) if b == (c.kind == ConditionKind::When) => {}
            Ok(_) => return PolicyOutcome::NotSatisfied,
            Err(e) => return PolicyOutcome::Error(e),
        }
    }
    PolicyOutcome::Satisfied
}

/// Decides `request`.
pub fn authorize(
    set: &PolicySet,
    entities: &Entities,
    request: &Request,
    options: &Options,
) -> Response {
    let mut permits = Vec::new();
    let mut forbids = Vec::new();
    let mut errors = Vec::new();
    for entry in &set.policies {
        let mut eval = Evaluator::new(set, entities, request, &options.limits);
        let outcome = evaluate_policy(&entry.policy, &mut eval);
        let effect = entry.policy.effect;
        match outcome {
            PolicyOutcome::Satisfied => match effect {
                Effect::Permit => permits.push(entry.id.clone()),
                Effect::Forbid => forbids.push(entry.id.clone()),
            },
            PolicyOutcome::Error(e) => {
                if effect == Effect::Forbid && options.errors == ErrorMode::FailClosed {
                    forbids.push(entry.id.clone());
                }
                errors.push(policy_error(set, &entry.id, e));
            }
            PolicyOutcome::ScopeMismatch | PolicyOutcome::NotSatisfied => {}
        }
    }
    let (decision, kind, determining) = if !forbids.is_empty() {
        (Decision::Deny, Some(DenyKind::Forbidden), forbids)
    } else if !permits.is_empty() {
        (Decision::Allow, None, permits)
    } else {
        (Decision::Deny, Some(DenyKind::NotPermitted), Vec::new())
    };
    Response {
        decision,
        kind,
        determining,
        errors,
        explanation: None,
    }
}

/// A [`PolicyError`] for `policy`, located in `set`'s sources.
pub fn policy_error(set: &PolicySet, policy: &SmolStr, error: EvalError) -> PolicyError {
    let (line, column) = set.sources.line_column(error.span);
    PolicyError {
        policy: policy.clone(),
        message: error.kind.to_string(),
        file: set.sources.name(error.span.file).to_string(),
        line,
        column,
        error,
    }
}

/// The span a determining policy is shown at.
pub fn policy_head(set: &PolicySet, id: &str) -> Option<Span> {
    set.policy(id).map(|p| p.policy.head)
}
