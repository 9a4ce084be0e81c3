//! The analysis of a permit: its steps, the guards and the ways they
//! hold, and what can raise no error ([`super`]'s documentation).

use super::{Arg, Check, Frame, Free, Scope, Step, Target, Walk, Way};
use super::{ACTION, CONTEXT, MAX_DEPTH, PRINCIPAL, RESOURCE};
use crate::policy_set::PolicySet;
use crate::syntax::ast::{
    BinOp, CallTarget, ConditionKind, EntityUid, Expr, ExprKind, Literal, ScopeConstraint, Var,
};
use std::rc::Rc;

/// The request variables each rule reads, directly or through the rules
/// it calls.
pub(super) fn rule_vars(set: &PolicySet) -> Vec<u8> {
    let mut vars = vec![0u8; set.rules.len()];
    loop {
        let mut changed = false;
        for (i, rule) in set.rules.iter().enumerate() {
            let mut v = vars[i];
            for clause in &rule.clauses {
                v |= direct_vars(&clause.body, &vars);
            }
            if v != vars[i] {
                vars[i] = v;
                changed = true;
            }
        }
        if !changed {
            return vars;
        }
    }
}

/// The request variables `e` reads itself or through a rule (its locals
/// aside).
fn direct_vars(e: &Expr, rule_vars: &[u8]) -> u8 {
    let mut v = match &e.kind {
        ExprKind::Var(Var::Principal) => PRINCIPAL,
        ExprKind::Var(Var::Action) => ACTION,
        ExprKind::Var(Var::Resource) => RESOURCE,
        ExprKind::Var(Var::Context) => CONTEXT,
        ExprKind::Call {
            target: CallTarget::Rule(r),
            ..
        } => rule_vars.get(*r as usize).copied().unwrap_or(0xff),
        _ => 0,
    };
    e.for_each_child(&mut |c| v |= direct_vars(c, rule_vars));
    v
}

impl<'s> Walk<'s> {
    /// The steps of a permit: its principal scope, then its conditions in
    /// order.
    pub(super) fn permit(&mut self, policy: &crate::syntax::ast::Policy) -> Option<Vec<Step>> {
        let literal = |u: &EntityUid| Free {
            expr: Expr {
                kind: ExprKind::Entity(u.clone()),
                span: Default::default(),
            },
            scope: None,
        };
        let guard = |target: Target| {
            vec![Step::Guard(vec![Way {
                checks: Vec::new(),
                target,
            }])]
        };
        match &policy.principal {
            ScopeConstraint::In(u, _) | ScopeConstraint::IsIn(_, u, _) => {
                return Some(guard(Target::In(literal(u))))
            }
            ScopeConstraint::Eq(u, _) => return Some(guard(Target::Eq(literal(u)))),
            ScopeConstraint::Any | ScopeConstraint::Is(..) => {}
            _ => return None,
        }
        let mut steps = Vec::new();
        for (k, c) in policy.conditions.iter().enumerate() {
            let when = c.kind == ConditionKind::When;
            let vars = self.vars(&c.body, &None);
            if vars & PRINCIPAL == 0 {
                let free = Free {
                    expr: c.body.clone(),
                    scope: None,
                };
                steps.push(Step::Free(free, when));
                continue;
            }
            if when {
                if let Some(ways) = self.guard(&c.body, &None) {
                    steps.push(Step::Guard(ways));
                    return Some(steps);
                }
            }
            if self.infallible_bool(&c.body, &None) {
                steps.push(Step::Pass);
            } else if vars & (RESOURCE | CONTEXT) == 0 {
                steps.push(Step::Principal(k, when));
            } else {
                steps.push(Step::Stop);
                return Some(steps);
            }
        }
        Some(steps)
    }

    /// The ways `e` (a boolean that reads the principal) may be true or
    /// raise an error, or `None` where it is not bounded.
    fn guard(&mut self, e: &Expr, scope: &Scope) -> Option<Vec<Way>> {
        self.nodes += 1;
        let one = |target: Target| {
            vec![Way {
                checks: Vec::new(),
                target,
            }]
        };
        match &e.kind {
            ExprKind::Binary(BinOp::In, a, b) if self.is_principal(a, scope) => {
                self.free(b, scope).map(|f| one(Target::In(f)))
            }
            ExprKind::Is(a, _, Some(b)) if self.is_principal(a, scope) => {
                self.free(b, scope).map(|f| one(Target::In(f)))
            }
            ExprKind::Binary(BinOp::Eq, a, b) => {
                let other = if self.is_principal(a, scope) {
                    b
                } else if self.is_principal(b, scope) {
                    a
                } else {
                    return None;
                };
                self.free(other, scope).map(|f| one(Target::Eq(f)))
            }
            ExprKind::And(items) => {
                let mut checks = Vec::new();
                for item in items {
                    if let Some(f) = self.free(item, scope) {
                        checks.push(Check::True(f));
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
                    if let Some(f) = self.free(item, scope) {
                        // True for every principal where it holds.
                        ways.push(Way {
                            checks: vec![Check::True(f)],
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
                    if let Some(f) = self.free(&clause.body, &frame) {
                        ways.push(Way {
                            checks: vec![Check::True(f)],
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
            if let Some(f) = self.free(a, scope) {
                checks.push(Check::Evaluates(f));
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

    /// `e` as a free expression, where it does not read the principal.
    fn free(&self, e: &Expr, scope: &Scope) -> Option<Free> {
        (self.vars(e, scope) & PRINCIPAL == 0).then(|| Free {
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

    /// The request variables `e` may read, in its frame: a local that is
    /// (or may hold) the principal reads it, and a rule reads what its
    /// clauses do.
    fn vars(&self, e: &Expr, scope: &Scope) -> u8 {
        let mut v = match &e.kind {
            ExprKind::Local(i, _) => match scope.as_ref().and_then(|f| f.args.get(*i as usize)) {
                Some(Arg::Principal | Arg::Other) => PRINCIPAL,
                // A free argument was checked free where it was written; a
                // quantifier's own local (past the frame) ranges over a set
                // read with the rest of the expression.
                Some(Arg::Free(_)) | None => 0,
            },
            ExprKind::Var(Var::Principal) => PRINCIPAL,
            ExprKind::Var(Var::Action) => ACTION,
            ExprKind::Var(Var::Resource) => RESOURCE,
            ExprKind::Var(Var::Context) => CONTEXT,
            ExprKind::Call {
                target: CallTarget::Rule(r),
                ..
            } => self.rule_vars.get(*r as usize).copied().unwrap_or(0xff),
            _ => 0,
        };
        e.for_each_child(&mut |c| v |= self.vars(c, scope));
        v
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
