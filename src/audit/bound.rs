//! Who can be allowed at all, bounded through the hierarchy.
//!
//! A permit whose evaluation, for a principal, must pass `principal in E`
//! or `principal == E` (written in its scope, in a condition, or in a rule
//! it calls, with `E` not depending on the principal) is not satisfied,
//! and raises no error, for any principal outside `E`'s descendants: it
//! stops there with `false`. When that holds of every permit of an
//! action, a query that lists only what is reported ([`Keep::Reported`])
//! need judge only the principals below the values of `E` on each
//! resource and context: the others are denied, with no permit satisfied
//! or in error, so nothing about them is reported.
//!
//! The analysis is exact or gives up: everything a permit evaluates before
//! its `in` must either not depend on the principal (then it is evaluated
//! once per resource and context, and an error there, which every
//! principal would meet, means no bound) or be unable to raise an error
//! (`principal is T`, `==` of such values, `&&`, `||`, `!` of those, rules
//! made of them). An `||` bounds only where each side does. Anything else
//! (a quantifier, an attribute of the principal, a template slot, a
//! recursion deeper than [`MAX_DEPTH`], a policy that could spend its step
//! budget) leaves the action unbounded, and every principal is judged.
//!
//! [`Keep::Reported`]: super::judge::Keep::Reported

use crate::authorize::{action_constraint, entity_constraint, Options};
use crate::entities::json::Request;
use crate::entities::Entities;
use crate::eval::{EvalError, Evaluator, Value};
use crate::policy_set::PolicySet;
use crate::syntax::ast::{
    BinOp, CallTarget, ConditionKind, Effect, EntityUid, Expr, ExprKind, Literal, ScopeConstraint,
    Var,
};
use std::rc::Rc;

/// How deep rule calls are followed.
pub const MAX_DEPTH: usize = 16;

/// What a local of a rule clause stands for.
enum Arg {
    /// An argument that does not depend on the principal, in the caller's
    /// frame.
    Free(Expr),
    /// The principal itself.
    Principal,
    /// Anything else (it cannot raise an error).
    Other,
}

/// The locals of a rule clause being analyzed: the call's arguments.
struct Frame {
    parent: Option<Rc<Frame>>,
    args: Vec<Arg>,
}

type Scope = Option<Rc<Frame>>;

/// An expression that does not depend on the principal, with the frame
/// of its locals.
#[derive(Clone)]
struct Free {
    expr: Expr,
    scope: Scope,
}

/// What a way of satisfying a permit asks of the principal.
enum Target {
    /// `principal in E`.
    In(Free),
    /// `principal == E`.
    Eq(Free),
    /// Nothing: the way holds for every principal (no bound).
    Everyone,
}

/// Something evaluated before a target, the same for every principal.
#[derive(Clone)]
enum Check {
    /// Must be `true` for the way to go on (`false`: the way is closed).
    True(Free),
    /// Must be `false` for the way to go on.
    False(Free),
    /// Must evaluate without error (a rule's argument).
    Evaluates(Free),
}

/// One way a permit may hold: its checks in order, then its target.
struct Way {
    checks: Vec<Check>,
    target: Target,
}

/// A permit's bound: any principal it may hold for (or raise an error
/// for) meets the target of one of the ways whose checks pass.
struct PermitBound {
    policy: u32,
    ways: Vec<Way>,
}

/// The bound of one action's permits.
pub struct ActionBound {
    permits: Vec<PermitBound>,
}

/// The principals that may be reported for a resource and context: those
/// `in` one of `within`, or equal to one of `exactly`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Principals {
    /// Entities whose descendants (and themselves) may be reported.
    pub within: Vec<EntityUid>,
    /// Entities that may be reported.
    pub exactly: Vec<EntityUid>,
}

/// The analysis of one expression: how far it got.
struct Walk<'s> {
    set: &'s PolicySet,
    depth: usize,
    nodes: usize,
}

impl ActionBound {
    /// The bound of `action`'s permits in `set`, or `None` where one
    /// permit cannot be bounded (or the options could cut an evaluation
    /// short: a deadline, or step budgets the evaluations could reach).
    pub fn of(
        set: &PolicySet,
        entities: &Entities,
        action: &EntityUid,
        options: &Options,
    ) -> Option<ActionBound> {
        if options.deadline.is_some() {
            return None;
        }
        let limits = &options.limits;
        let applying: Vec<u32> = (0..u32::try_from(set.policies.len()).ok()?)
            .filter(|&i| {
                action_constraint(&set.policies[i as usize].policy.action, action, entities)
            })
            .collect();
        if (applying.len() as u64 + 1).saturating_mul(limits.max_steps.saturating_add(1))
            >= limits.max_request_steps
        {
            return None;
        }
        let mut permits = Vec::new();
        for i in applying {
            let policy = &set.policies[i as usize].policy;
            if policy.effect != Effect::Permit {
                continue;
            }
            let mut walk = Walk {
                set,
                depth: 0,
                nodes: 0,
            };
            let ways = walk.permit(policy)?;
            // Every node the analysis passed may cost a few steps.
            if (walk.nodes as u64).saturating_mul(4).saturating_add(16) >= limits.max_steps {
                return None;
            }
            permits.push(PermitBound { policy: i, ways });
        }
        Some(ActionBound { permits })
    }

    /// The principals that may be reported for `request` (its principal
    /// is ignored), or `None` when it cannot be bounded (something every
    /// principal evaluates raised an error, or a way holds for everyone).
    pub fn principals(
        &self,
        set: &PolicySet,
        entities: &Entities,
        request: &Request,
        options: &Options,
    ) -> Option<Principals> {
        let mut out = Principals::default();
        let mut eval = Evaluator::new(set, entities, request, &options.limits);
        for permit in &self.permits {
            let policy = &set.policies[permit.policy as usize].policy;
            if !entity_constraint(&policy.resource, &request.resource, entities) {
                continue;
            }
            for way in &permit.ways {
                let mut open = true;
                for check in &way.checks {
                    let (free, want) = match check {
                        Check::True(f) => (f, Some(true)),
                        Check::False(f) => (f, Some(false)),
                        Check::Evaluates(f) => (f, None),
                    };
                    match (value(&mut eval, free).ok()?, want) {
                        (_, None) => {}
                        (Value::Bool(b), Some(w)) if b == w => {}
                        (Value::Bool(_), Some(_)) => {
                            open = false;
                            break;
                        }
                        // Not a boolean: an error for every principal.
                        _ => return None,
                    }
                }
                if !open {
                    continue;
                }
                match &way.target {
                    Target::Everyone => return None,
                    Target::In(f) => match value(&mut eval, f).ok()? {
                        Value::Entity(u) => out.within.push(u),
                        Value::Set(items) => {
                            for v in items.iter() {
                                match v {
                                    Value::Entity(u) => out.within.push(u.clone()),
                                    // `in` on a set of something else: an
                                    // error for every principal.
                                    _ => return None,
                                }
                            }
                        }
                        _ => return None,
                    },
                    Target::Eq(f) => {
                        if let Value::Entity(u) = value(&mut eval, f).ok()? {
                            out.exactly.push(u);
                        }
                    }
                }
            }
        }
        Some(out)
    }
}

/// The value of a free expression: its frame's arguments first.
fn value(eval: &mut Evaluator<'_>, free: &Free) -> Result<Value, EvalError> {
    // Each evaluation as by a fresh evaluator, with its own step budget.
    eval.reset();
    let locals = locals(eval, &free.scope)?;
    eval.bind_locals(locals);
    eval.eval(&free.expr)
}

/// The values of a frame's locals (a local that is not free is never read
/// by a free expression: a placeholder).
fn locals(eval: &mut Evaluator<'_>, scope: &Scope) -> Result<Vec<Value>, EvalError> {
    let Some(frame) = scope else {
        return Ok(Vec::new());
    };
    let outer = locals(eval, &frame.parent)?;
    let mut out = Vec::with_capacity(frame.args.len());
    for a in &frame.args {
        out.push(match a {
            Arg::Free(e) => {
                eval.bind_locals(outer.clone());
                eval.eval(e)?
            }
            Arg::Principal | Arg::Other => Value::Bool(false),
        });
    }
    Ok(out)
}

impl<'s> Walk<'s> {
    /// The ways of a permit: its principal scope, then its conditions in
    /// order until one bounds it.
    fn permit(&mut self, policy: &crate::syntax::ast::Policy) -> Option<Vec<Way>> {
        let literal = |u: &EntityUid| Free {
            expr: Expr {
                kind: ExprKind::Entity(u.clone()),
                span: Default::default(),
            },
            scope: None,
        };
        match &policy.principal {
            ScopeConstraint::In(u, _) | ScopeConstraint::IsIn(_, u, _) => {
                return Some(vec![Way {
                    checks: Vec::new(),
                    target: Target::In(literal(u)),
                }])
            }
            ScopeConstraint::Eq(u, _) => {
                return Some(vec![Way {
                    checks: Vec::new(),
                    target: Target::Eq(literal(u)),
                }])
            }
            ScopeConstraint::Any | ScopeConstraint::Is(..) => {}
            _ => return None,
        }
        let mut checks = Vec::new();
        for c in &policy.conditions {
            let when = c.kind == ConditionKind::When;
            if !self.reads_principal(&c.body, &None) {
                let free = Free {
                    expr: c.body.clone(),
                    scope: None,
                };
                checks.push(if when {
                    Check::True(free)
                } else {
                    Check::False(free)
                });
                continue;
            }
            if when {
                if let Some(ways) = self.guard(&c.body, &None) {
                    // The conditions before it come first in every way.
                    return Some(prefixed(checks, ways));
                }
            }
            if !self.infallible_bool(&c.body, &None) {
                return None;
            }
        }
        None
    }

    /// The ways `e` (a boolean that reads the principal) may be true or
    /// raise an error, or `None` where it is not bounded.
    fn guard(&mut self, e: &Expr, scope: &Scope) -> Option<Vec<Way>> {
        self.nodes += 1;
        match &e.kind {
            ExprKind::Binary(BinOp::In, a, b) if self.is_principal(a, scope) => {
                self.free(b, scope).map(|f| {
                    vec![Way {
                        checks: Vec::new(),
                        target: Target::In(f),
                    }]
                })
            }
            ExprKind::Is(a, _, Some(b)) if self.is_principal(a, scope) => {
                self.free(b, scope).map(|f| {
                    vec![Way {
                        checks: Vec::new(),
                        target: Target::In(f),
                    }]
                })
            }
            ExprKind::Binary(BinOp::Eq, a, b) => {
                let other = if self.is_principal(a, scope) {
                    b
                } else if self.is_principal(b, scope) {
                    a
                } else {
                    return None;
                };
                self.free(other, scope).map(|f| {
                    vec![Way {
                        checks: Vec::new(),
                        target: Target::Eq(f),
                    }]
                })
            }
            ExprKind::And(items) => {
                let mut checks = Vec::new();
                for item in items {
                    if !self.reads_principal(item, scope) {
                        checks.push(Check::True(Free {
                            expr: item.clone(),
                            scope: scope.clone(),
                        }));
                        continue;
                    }
                    if let Some(ways) = self.guard(item, scope) {
                        return Some(prefixed(checks, ways));
                    }
                    if !self.infallible_bool(item, scope) {
                        return None;
                    }
                }
                None
            }
            ExprKind::Or(items) => {
                let mut ways = Vec::new();
                for item in items {
                    if !self.reads_principal(item, scope) {
                        // True for every principal where it holds.
                        ways.push(Way {
                            checks: vec![Check::True(Free {
                                expr: item.clone(),
                                scope: scope.clone(),
                            })],
                            target: Target::Everyone,
                        });
                        continue;
                    }
                    ways.extend(self.guard(item, scope)?);
                }
                Some(ways)
            }
            ExprKind::Call {
                target: CallTarget::Rule(rule),
                args,
                ..
            } => {
                let (frame, checks) = self.call_frame(args, scope)?;
                let def = self.set.rules.get(*rule as usize)?;
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return None;
                }
                let mut ways = Vec::new();
                for clause in &def.clauses {
                    if clause.params.len() != args.len() {
                        continue;
                    }
                    if !self.reads_principal(&clause.body, &frame) {
                        ways.push(Way {
                            checks: vec![Check::True(Free {
                                expr: clause.body.clone(),
                                scope: frame.clone(),
                            })],
                            target: Target::Everyone,
                        });
                        continue;
                    }
                    ways.extend(self.guard(&clause.body, &frame)?);
                }
                self.depth -= 1;
                Some(prefixed(checks, ways))
            }
            _ => None,
        }
    }

    /// The frame of a call's arguments, and the checks that they evaluate
    /// (a free argument's error is every principal's).
    fn call_frame(&mut self, args: &[Expr], scope: &Scope) -> Option<(Scope, Vec<Check>)> {
        let mut kinds = Vec::with_capacity(args.len());
        let mut checks = Vec::new();
        for a in args {
            self.nodes += 1;
            if !self.reads_principal(a, scope) {
                checks.push(Check::Evaluates(Free {
                    expr: a.clone(),
                    scope: scope.clone(),
                }));
                kinds.push(Arg::Free(a.clone()));
            } else if self.is_principal(a, scope) {
                kinds.push(Arg::Principal);
            } else if self.infallible(a, scope) {
                kinds.push(Arg::Other);
            } else {
                return None;
            }
        }
        let frame = Rc::new(Frame {
            parent: scope.clone(),
            args: kinds,
        });
        Some((Some(frame), checks))
    }

    /// `e` as a free expression, where it is one.
    fn free(&self, e: &Expr, scope: &Scope) -> Option<Free> {
        (!self.reads_principal(e, scope)).then(|| Free {
            expr: e.clone(),
            scope: scope.clone(),
        })
    }

    /// Whether `e` is the principal.
    fn is_principal(&self, e: &Expr, scope: &Scope) -> bool {
        match &e.kind {
            ExprKind::Var(Var::Principal) => true,
            ExprKind::Local(i, _) => matches!(
                scope.as_ref().and_then(|f| f.args.get(*i as usize)),
                Some(Arg::Principal)
            ),
            _ => false,
        }
    }

    /// Whether `e` may depend on the principal.
    fn reads_principal(&self, e: &Expr, scope: &Scope) -> bool {
        any_inside(e, &mut |x: &Expr| match &x.kind {
            ExprKind::Var(Var::Principal) => true,
            // A quantifier's own local (past the frame) ranges over a set
            // that is checked with the rest of the expression.
            ExprKind::Local(i, _) => !matches!(
                scope.as_ref().and_then(|f| f.args.get(*i as usize)),
                Some(Arg::Free(_)) | None
            ),
            _ => false,
        })
    }

    /// Whether evaluating `e` can never raise an error (nor spend more
    /// than a few steps a node), whatever the principal.
    fn infallible(&mut self, e: &Expr, scope: &Scope) -> bool {
        self.nodes += 1;
        match &e.kind {
            ExprKind::Lit(_) | ExprKind::Var(_) | ExprKind::Local(..) | ExprKind::Entity(_) => true,
            _ => self.infallible_bool(e, scope),
        }
    }

    /// Whether `e` is a boolean whose evaluation can never raise an error.
    fn infallible_bool(&mut self, e: &Expr, scope: &Scope) -> bool {
        self.nodes += 1;
        match &e.kind {
            ExprKind::Lit(Literal::Bool(_)) => true,
            // On an entity, `is` and `has` cannot fail.
            ExprKind::Is(a, _, None) => self.is_principal(a, scope),
            ExprKind::Has(a, path) => path.len() == 1 && self.is_principal(a, scope),
            ExprKind::Binary(BinOp::Eq | BinOp::Ne, a, b) => {
                self.infallible(a, scope) && self.infallible(b, scope)
            }
            ExprKind::And(items) | ExprKind::Or(items) => {
                items.iter().all(|i| self.infallible_bool(i, scope))
            }
            ExprKind::Not(a) => self.infallible_bool(a, scope),
            ExprKind::If(c, a, b) => {
                self.infallible_bool(c, scope)
                    && self.infallible_bool(a, scope)
                    && self.infallible_bool(b, scope)
            }
            ExprKind::Call {
                target: CallTarget::Rule(rule),
                args,
                ..
            } => {
                if args.iter().any(|a| !self.infallible(a, scope)) {
                    return false;
                }
                let Some(def) = self.set.rules.get(*rule as usize) else {
                    return false;
                };
                let frame = Some(Rc::new(Frame {
                    parent: scope.clone(),
                    args: args
                        .iter()
                        .map(|a| {
                            if self.is_principal(a, scope) {
                                Arg::Principal
                            } else {
                                Arg::Other
                            }
                        })
                        .collect(),
                }));
                self.depth += 1;
                let ok = self.depth <= MAX_DEPTH
                    && def
                        .clauses
                        .iter()
                        .filter(|c| c.params.len() == args.len())
                        .all(|c| self.infallible_bool(&c.body, &frame));
                self.depth -= 1;
                ok
            }
            _ => false,
        }
    }
}

/// `checks`, then each way's own.
fn prefixed(checks: Vec<Check>, ways: Vec<Way>) -> Vec<Way> {
    if checks.is_empty() {
        return ways;
    }
    ways.into_iter()
        .map(|w| {
            let mut all = checks.clone();
            all.extend(w.checks);
            Way {
                checks: all,
                target: w.target,
            }
        })
        .collect()
}

/// Whether `f` holds of `e` or of an expression inside it.
fn any_inside(e: &Expr, f: &mut dyn FnMut(&Expr) -> bool) -> bool {
    if f(e) {
        return true;
    }
    let mut found = false;
    e.for_each_child(&mut |c| {
        if !found {
            found = any_inside(c, f);
        }
    });
    found
}
