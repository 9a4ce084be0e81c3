//! The authorization stage: a request against a policy set and an entity
//! store -> a [`Response`]: decision, kind, determining policies, errors.
//!
//! Deny unless at least one permit applies and no forbid applies. By default
//! errors fail closed: an erroring permit does not apply, an erroring forbid
//! does. In [`ErrorMode::Cedar`] every erroring policy is skipped.

// Every index into a set or a store is checked: an impossible number is
// an error that denies, never a panic (ARCHITECTURE.md, "Lints").
#![deny(clippy::indexing_slicing)]

mod index;
mod prepared;
#[cfg(test)]
mod type_test_tests;

pub use index::PolicyIndex;
pub use prepared::PreparedSet;

use crate::entities::json::Request;
use crate::entities::Entities;
use crate::eval::interp::Buffers;
use crate::eval::{EvalError, EvalErrorKind, Evaluator, NoTrace};
use crate::limits::Limits;
use crate::policy_set::PolicySet;
use crate::syntax::ast::{
    ActionConstraint, ConditionKind, Effect, EntityUid, Policy, ScopeConstraint,
};
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

impl Options {
    /// Whether entity stores judged under these options may have a cyclic
    /// hierarchy (Cedar's semantics refuse one).
    pub fn cycles(&self) -> crate::entities::build::Cycles {
        match self.errors {
            ErrorMode::Cedar => crate::entities::build::Cycles::Refused,
            ErrorMode::FailClosed => crate::entities::build::Cycles::Allowed,
        }
    }
}

impl ErrorMode {
    /// The mode of `--cedar` (`Cedar`) or of mspl (`FailClosed`).
    pub fn cedar(cedar: bool) -> ErrorMode {
        if cedar {
            ErrorMode::Cedar
        } else {
            ErrorMode::FailClosed
        }
    }
}

/// Options of one authorization.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// How errors count.
    pub errors: ErrorMode,
    /// The limits in force.
    pub limits: Limits,
    /// Judge with the plain evaluator, the in-place fast path off: the
    /// reference the fast path is checked against (`tests/decisions/index.rs`).
    pub plain: bool,
    /// When the request must be abandoned (`mspl serve`'s
    /// `--request-timeout-ms`): past it, judging stops and the response
    /// holds no decision ([`Response::deadline_reached`]). `None` on the
    /// command line.
    pub deadline: Option<std::time::Instant>,
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
}

impl Response {
    /// Whether the request's deadline ([`Options::deadline`]) passed while
    /// it was judged: then this is no decision, only what was judged so far.
    pub fn deadline_reached(&self) -> bool {
        self.errors
            .iter()
            .any(|e| e.error.kind == EvalErrorKind::Deadline)
    }
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

/// Whether a principal or resource constraint matches `uid`.
pub fn entity_constraint(c: &ScopeConstraint, uid: &EntityUid, entities: &Entities) -> bool {
    match c {
        ScopeConstraint::Any => true,
        ScopeConstraint::Eq(target, _) => uid == target,
        ScopeConstraint::In(target, _) => entities.is_in(uid, target),
        ScopeConstraint::Is(ty, _) => uid.ty == *ty,
        ScopeConstraint::IsIn(ty, target, _) => uid.ty == *ty && entities.is_in(uid, target),
        // A template never applies by itself; its links name entities.
        ScopeConstraint::EqSlot(_) | ScopeConstraint::InSlot(_) | ScopeConstraint::IsInSlot(..) => {
            false
        }
    }
}

/// Whether an action constraint matches `uid`.
pub fn action_constraint(c: &ActionConstraint, uid: &EntityUid, entities: &Entities) -> bool {
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
    evaluate_conditions(policy, eval)
}

/// Evaluates `policy`'s conditions in order, its scope taken as matching:
/// `Satisfied`, `NotSatisfied` or `Error`, never `ScopeMismatch`.
pub fn evaluate_conditions<T: crate::eval::Tracer>(
    policy: &Policy,
    eval: &mut Evaluator<'_, T>,
) -> PolicyOutcome {
    for c in &policy.conditions {
        match evaluate_condition(c, eval) {
            Ok(b) if b == (c.kind == ConditionKind::When) => {}
            Ok(_) => return PolicyOutcome::NotSatisfied,
            Err(e) => return PolicyOutcome::Error(e),
        }
    }
    PolicyOutcome::Satisfied
}

/// The value of one condition's body (a boolean, or the error it raised):
/// [`evaluate_conditions`] evaluates a policy's conditions in order with
/// this, and the audit keeps each condition's value on its own.
pub fn evaluate_condition<T: crate::eval::Tracer>(
    c: &crate::syntax::ast::Condition,
    eval: &mut Evaluator<'_, T>,
) -> Result<bool, EvalError> {
    let what = match c.kind {
        ConditionKind::When => "a `when` condition",
        ConditionKind::Unless => "an `unless` condition",
    };
    eval.eval_bool(&c.body, what)
}

/// Decides `request`, judging every policy of `set` in load order: the
/// plain reference that [`PreparedSet::authorize`] must agree with.
pub fn authorize(
    set: &PolicySet,
    entities: &Entities,
    request: &Request,
    options: &Options,
) -> Response {
    with_scratch(|scratch| decide(set, entities, request, options, None, scratch))
}

/// The buffers one decision works in, kept per thread so that the decision
/// path allocates nothing per request beyond the response once they have
/// grown. They hold no value between decisions.
#[derive(Default)]
struct Scratch {
    eval: Buffers,
    permits: Vec<u32>,
    forbids: Vec<u32>,
    candidates: Vec<u32>,
    ancestors: Vec<u32>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

/// Runs `f` with this thread's scratch buffers, taken out for the duration
/// (a decision nested in another on one thread gets fresh ones).
fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    let mut scratch = SCRATCH.with(|cell| std::mem::take(&mut *cell.borrow_mut()));
    let result = f(&mut scratch);
    SCRATCH.with(|cell| *cell.borrow_mut() = scratch);
    result
}

/// Judges the policies numbered `only` (every policy when `None`), in load
/// order, each as by a fresh evaluator, and builds the response.
fn decide(
    set: &PolicySet,
    entities: &Entities,
    request: &Request,
    options: &Options,
    only: Option<&[u32]>,
    scratch: &mut Scratch,
) -> Response {
    let buffers = std::mem::take(&mut scratch.eval);
    let mut eval =
        Evaluator::with_buffers(set, entities, request, &options.limits, NoTrace, buffers);
    eval.set_in_place(!options.plain);
    eval.set_deadline(options.deadline);
    let judge = |i: u32, left: u64| {
        eval.reset();
        eval.cap_steps(left);
        let outcome = match set.policies.get(i as usize) {
            Some(entry) => evaluate_policy(&entry.policy, &mut eval),
            None => PolicyOutcome::Error(no_such_policy(i)),
        };
        (outcome, eval.steps())
    };
    let (permits, forbids) = (&mut scratch.permits, &mut scratch.forbids);
    let response = match only {
        Some(numbers) => combine(
            set,
            options,
            numbers.iter().copied(),
            judge,
            permits,
            forbids,
        ),
        None => combine(
            set,
            options,
            0..policy_count(set),
            judge,
            permits,
            forbids,
        ),
    };
    scratch.eval = eval.into_buffers();
    response
}

/// The number of policies of `set`, as policy numbers count them.
fn policy_count(set: &PolicySet) -> u32 {
    #[expect(clippy::cast_possible_truncation, reason = "`Loader::finish` refuses a set of more than u32::MAX policies or rules")]
    let count = set.policies.len() as u32;
    count
}

/// Decides a request whose policies numbered `candidates` (a superset of
/// those whose scope matches, in load order) are judged by `judge`: given a
/// policy's number and the steps the request's budget has left, it returns
/// the policy's outcome and the steps it took, exactly as a fresh
/// evaluator capped at those steps would ([`evaluate_policy`]). The one
/// place where outcomes become a decision, for [`authorize`], the index
/// and the audit's memoised judging alike.
pub fn decide_by(
    set: &PolicySet,
    options: &Options,
    candidates: &[u32],
    judge: impl FnMut(u32, u64) -> (PolicyOutcome, u64),
) -> Response {
    with_scratch(|scratch| {
        let (permits, forbids) = (&mut scratch.permits, &mut scratch.forbids);
        combine(
            set,
            options,
            candidates.iter().copied(),
            judge,
            permits,
            forbids,
        )
    })
}

/// [`decide_by`] with the caller's buffers for the satisfied policies.
fn combine(
    set: &PolicySet,
    options: &Options,
    candidates: impl IntoIterator<Item = u32>,
    mut judge: impl FnMut(u32, u64) -> (PolicyOutcome, u64),
    permits: &mut Vec<u32>,
    forbids: &mut Vec<u32>,
) -> Response {
    permits.clear();
    forbids.clear();
    let mut errors = Vec::new();
    // The request's step budget, spent by the conditions of the policies
    // whose scope matched (a scope costs no step, so the index changes
    // nothing). Spent, it denies the request in both error modes.
    let mut left = options.limits.max_request_steps;
    let mut spent = false;
    // Steps since the deadline was last looked at: many short policies
    // add up to what one long one would.
    let mut unchecked = 0u64;
    for i in candidates {
        // A number the set does not have is an impossible state: the
        // request is denied with the error, never judged without it.
        let Some(entry) = set.policies.get(i as usize) else {
            spent = true;
            let error = no_such_policy(i);
            errors.push(PolicyError {
                policy: format!("#{i}").into(),
                message: error.kind.to_string(),
                file: String::new(),
                line: 0,
                column: 0,
                error,
            });
            break;
        };
        let effect = entry.policy.effect;
        let (mut outcome, steps) = judge(i, left);
        left = left.saturating_sub(steps);
        unchecked = unchecked.saturating_add(steps.max(1));
        if let Some(deadline) = options.deadline {
            if unchecked >= crate::eval::DEADLINE_EVERY {
                unchecked = 0;
                if std::time::Instant::now() >= deadline {
                    outcome = PolicyOutcome::Error(EvalError {
                        kind: EvalErrorKind::Deadline,
                        span: entry.policy.head,
                    });
                }
            }
        }
        match outcome {
            PolicyOutcome::Error(e)
                if matches!(
                    e.kind,
                    EvalErrorKind::RequestStepLimit { .. } | EvalErrorKind::Deadline
                ) =>
            {
                spent = true;
                errors.push(policy_error(set, &entry.id, e));
                break;
            }
            PolicyOutcome::Satisfied => match effect {
                Effect::Permit => permits.push(i),
                Effect::Forbid => forbids.push(i),
            },
            PolicyOutcome::Error(e) => {
                if effect == Effect::Forbid && options.errors == ErrorMode::FailClosed {
                    forbids.push(i);
                }
                errors.push(policy_error(set, &entry.id, e));
            }
            PolicyOutcome::ScopeMismatch | PolicyOutcome::NotSatisfied => {}
        }
    }
    // Only numbers found above were pushed.
    let ids = |numbers: &[u32]| -> Vec<SmolStr> {
        numbers
            .iter()
            .filter_map(|&i| set.policies.get(i as usize).map(|p| p.id.clone()))
            .collect()
    };
    let (decision, kind, determining) = if spent {
        (Decision::Deny, Some(DenyKind::NotPermitted), Vec::new())
    } else if !forbids.is_empty() {
        (Decision::Deny, Some(DenyKind::Forbidden), ids(forbids))
    } else if !permits.is_empty() {
        (Decision::Allow, None, ids(permits))
    } else {
        (Decision::Deny, Some(DenyKind::NotPermitted), Vec::new())
    };
    Response {
        decision,
        kind,
        determining,
        errors,
    }
}

/// The error of a policy number that the set does not have.
fn no_such_policy(number: u32) -> EvalError {
    EvalError {
        kind: EvalErrorKind::Internal {
            what: format!("policy #{number} is not in the set"),
        },
        span: crate::span::Span::default(),
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
