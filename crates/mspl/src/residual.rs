//! Partial evaluation: the policy set reduced for a request whose
//! principal, action and context are known and whose resource is an
//! unknown entity of a given type.
//!
//! Each policy keeps its id and effect; its principal and action scope are
//! decided; its resource scope stays; each condition is reduced to what
//! depends on the resource. A subexpression that does not read the
//! resource is evaluated once: a value takes its place (as a literal), an
//! error leaves it as it was, so that it raises the same error wherever the
//! original would. `&&`, `||` and `if` fold only from the left, as they
//! evaluate, so a residual errs, short-circuits and decides exactly where
//! the original does, in both error modes: [`reduce`]'s result decides
//! every resource of the store as the original set does
//! (`tests/decisions/residual.rs` checks it on generated worlds).
//!
//! Rules stay as they are, and a call stays a call when an argument reads
//! the resource (or the rule itself does).

use crate::authorize::{action_constraint, entity_constraint};
use crate::entities::json::Request;
use crate::entities::Entities;
use crate::eval::Evaluator;
use crate::limits::Limits;
use crate::policy_set::PolicySet;
use crate::syntax::ast::{
    Annotation, CallTarget, Condition, ConditionKind, EntityUid, Expr, ExprKind, File, Item,
    Literal, Name, Policy, ScopeConstraint, Var,
};
use crate::value::Value;
use smol_str::SmolStr;

/// The request partial evaluation starts from.
#[derive(Clone, Debug)]
pub struct Partial {
    /// The principal.
    pub principal: EntityUid,
    /// The action.
    pub action: EntityUid,
    /// The resource's entity type.
    pub resource_type: Name,
    /// The context record.
    pub context: Value,
}

impl Partial {
    /// The request the known part makes, with a resource of the type that
    /// is never read (what evaluates the parts that do not depend on it).
    pub fn request(&self) -> Request {
        Request {
            principal: self.principal.clone(),
            action: self.action.clone(),
            resource: EntityUid::new(self.resource_type.clone(), ""),
            context: self.context.clone(),
        }
    }
}

/// One policy reduced.
#[derive(Clone, Debug)]
pub struct ResidualPolicy {
    /// The policy's id in the original set.
    pub id: SmolStr,
    /// The policy reduced: its scope on the resource, its conditions.
    pub policy: Policy,
    /// `Some(b)` when it is decided without the resource: whether it
    /// applies to every resource of the type (`true`) or to none (`false`).
    pub decided: Option<bool>,
}

/// The policy set reduced.
#[derive(Clone, Debug)]
pub struct Residual {
    /// Every policy of the original set, in load order.
    pub policies: Vec<ResidualPolicy>,
    /// The rules, as they are (a residual may call them).
    pub rules: Vec<crate::syntax::ast::RuleClause>,
}

impl Residual {
    /// The residual set in mspl syntax: each policy with an `@id` naming
    /// its original id, then the rules. Declarations are the original's.
    pub fn text(&self) -> String {
        let mut items: Vec<Item> = self
            .policies
            .iter()
            .map(|p| Item::Policy(p.policy.clone()))
            .collect();
        items.extend(self.rules.iter().cloned().map(Item::Rule));
        crate::fmt::print_file(&File { items })
    }
}

impl Residual {
    /// The residual as JSON: the known part of the request, and each
    /// policy's id, effect, whether it is decided (`true`: it applies to
    /// every resource of the type; `false`: to none; `null`: it depends on
    /// the resource), its residual text and its tree in Cedar's JSON
    /// policy format (`null` where that format has no form for it, as for
    /// a rule call).
    pub fn json(&self, partial: &Partial) -> serde_json::Value {
        let policies: Vec<serde_json::Value> = self
            .policies
            .iter()
            .map(|p| {
                let text = crate::fmt::print_file(&File {
                    items: vec![Item::Policy(p.policy.clone())],
                });
                serde_json::json!({
                    "id": p.id.as_str(),
                    "effect": match p.policy.effect {
                        crate::syntax::ast::Effect::Permit => "permit",
                        crate::syntax::ast::Effect::Forbid => "forbid",
                    },
                    "decided": p.decided,
                    "residual": text.trim_end(),
                    "tree": crate::policy_set::json::policy_to_json(&p.policy).ok(),
                })
            })
            .collect();
        serde_json::json!({
            "principal": partial.principal.to_string(),
            "action": partial.action.to_string(),
            "resource_type": partial.resource_type.as_str(),
            "policies": policies,
        })
    }
}

/// Reduces every policy of `set` for `partial` over `entities`.
pub fn reduce(set: &PolicySet, entities: &Entities, partial: &Partial, limits: &Limits) -> Residual {
    let request = partial.request();
    let mut reducer = Reducer {
        eval: Evaluator::new(set, entities, &request, limits),
        reads_resource: rules_reading_resource(set),
    };
    let policies = set
        .policies
        .iter()
        .map(|entry| reducer.policy(&entry.id, &entry.policy, partial, entities))
        .collect();
    Residual {
        policies,
        rules: set.rules.iter().flat_map(|r| r.clauses.iter().cloned()).collect(),
    }
}

/// For each rule, whether its body (or a rule it calls) reads `resource`.
pub fn rules_reading_resource(set: &PolicySet) -> Vec<bool> {
    let mut reads = vec![false; set.rules.len()];
    // A fixpoint over the call graph: at most one pass per rule.
    for _ in 0..=set.rules.len() {
        let mut changed = false;
        for (i, rule) in set.rules.iter().enumerate() {
            if reads.get(i).copied().unwrap_or(true) {
                continue;
            }
            if rule.clauses.iter().any(|c| mentions(&c.body, &reads, &mut Vec::new(), true)) {
                if let Some(r) = reads.get_mut(i) {
                    *r = true;
                }
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    reads
}

/// Whether `e` reads the resource (directly or through a rule that does)
/// or, unless `locals_bound`, a local that no quantifier inside `e` binds.
pub fn mentions(e: &Expr, rules: &[bool], bound: &mut Vec<u32>, locals_bound: bool) -> bool {
    match &e.kind {
        ExprKind::Var(Var::Resource) => true,
        ExprKind::Local(l, _) => !locals_bound && !bound.contains(l),
        ExprKind::Call {
            target: CallTarget::Rule(r),
            args,
            ..
        } => {
            rules.get(*r as usize).copied().unwrap_or(true)
                || args.iter().any(|a| mentions(a, rules, bound, locals_bound))
        }
        ExprKind::Quantified {
            local, set, body, ..
        } => {
            if mentions(set, rules, bound, locals_bound) {
                return true;
            }
            bound.push(*local);
            let inside = mentions(body, rules, bound, locals_bound);
            bound.pop();
            inside
        }
        _ => {
            let mut any = false;
            e.for_each_child(&mut |c| any = any || mentions(c, rules, bound, locals_bound));
            any
        }
    }
}

/// An expression reduced: a value, or what is left to evaluate.
enum Reduced {
    Known(Value),
    Left(Expr),
}

struct Reducer<'a> {
    eval: Evaluator<'a>,
    reads_resource: Vec<bool>,
}

impl Reducer<'_> {
    fn policy(
        &mut self,
        id: &SmolStr,
        policy: &Policy,
        partial: &Partial,
        entities: &Entities,
    ) -> ResidualPolicy {
        let mut out = policy.clone();
        out.annotations.retain(|a| a.key != "id");
        out.annotations.insert(
            0,
            Annotation {
                key: "id".into(),
                value: Some(id.clone()),
                span: policy.head,
            },
        );
        out.principal = ScopeConstraint::Any;
        out.action = crate::syntax::ast::ActionConstraint::Any;
        let applies = entity_constraint(&policy.principal, &partial.principal, entities)
            && action_constraint(&policy.action, &partial.action, entities)
            && resource_type_may_match(&policy.resource, &partial.resource_type);
        if !applies {
            out.resource = ScopeConstraint::Any;
            out.conditions = vec![literal_condition(false, policy.head)];
            return ResidualPolicy {
                id: id.clone(),
                policy: out,
                decided: Some(false),
            };
        }
        // `resource is T` is decided by the type.
        out.resource = match &policy.resource {
            ScopeConstraint::Is(..) => ScopeConstraint::Any,
            ScopeConstraint::IsIn(_, target, span) => ScopeConstraint::In(target.clone(), *span),
            other => other.clone(),
        };
        let mut conditions = Vec::new();
        let mut decided = Some(true);
        for c in &policy.conditions {
            match self.reduce(&c.body) {
                Reduced::Known(Value::Bool(b)) => {
                    if b == (c.kind == ConditionKind::When) {
                        continue;
                    }
                    // Unsatisfied: what follows is never evaluated.
                    conditions.push(literal_condition(false, c.span));
                    if decided == Some(true) {
                        decided = Some(false);
                    }
                    break;
                }
                Reduced::Known(_) => {
                    // Not a boolean: the original raises its type error.
                    conditions.push(c.clone());
                    decided = None;
                }
                Reduced::Left(body) => {
                    conditions.push(Condition {
                        kind: c.kind,
                        body: condition_body(body),
                        span: c.span,
                    });
                    decided = None;
                }
            }
        }
        if !matches!(out.resource, ScopeConstraint::Any) && decided == Some(true) {
            decided = None;
        }
        out.conditions = conditions;
        ResidualPolicy {
            id: id.clone(),
            policy: out,
            decided,
        }
    }

    /// Reduces `e`.
    fn reduce(&mut self, e: &Expr) -> Reduced {
        if !mentions(e, &self.reads_resource, &mut Vec::new(), false) {
            self.eval.reset();
            return match self.eval.eval(e) {
                Ok(v) => Reduced::Known(v),
                // Left as it was: it raises the same error where evaluated.
                Err(_) => Reduced::Left(e.clone()),
            };
        }
        let span = e.span;
        let rebuild = |kind| Reduced::Left(Expr::new(kind, span));
        match &e.kind {
            ExprKind::And(items) | ExprKind::Or(items) => {
                let and = matches!(e.kind, ExprKind::And(_));
                let mut left = Vec::new();
                for item in items {
                    match self.reduce(item) {
                        // The neutral element: checked and skipped.
                        Reduced::Known(Value::Bool(b)) if b == and => {}
                        // The absorbing one: what follows is never evaluated.
                        Reduced::Known(Value::Bool(b)) => {
                            if left.is_empty() {
                                return Reduced::Known(Value::Bool(b));
                            }
                            left.push(bool_expr(b, item.span));
                            return rebuild(if and {
                                ExprKind::And(left)
                            } else {
                                ExprKind::Or(left)
                            });
                        }
                        other => left.push(self.to_expr(other, item)),
                    }
                }
                if left.is_empty() {
                    return Reduced::Known(Value::Bool(and));
                }
                // One operand alone still has its type checked.
                if left.len() == 1 {
                    left.push(bool_expr(and, span));
                }
                rebuild(if and {
                    ExprKind::And(left)
                } else {
                    ExprKind::Or(left)
                })
            }
            ExprKind::If(c, a, b) => match self.reduce(c) {
                Reduced::Known(Value::Bool(true)) => self.reduce(a),
                Reduced::Known(Value::Bool(false)) => self.reduce(b),
                other => {
                    let c = self.to_expr(other, c);
                    let a = self.reduced_expr(a);
                    let b = self.reduced_expr(b);
                    rebuild(ExprKind::If(Box::new(c), Box::new(a), Box::new(b)))
                }
            },
            ExprKind::Quantified {
                quantifier,
                var,
                local,
                set,
                body,
            } => {
                let set = self.reduced_expr(set);
                rebuild(ExprKind::Quantified {
                    quantifier: *quantifier,
                    var: var.clone(),
                    local: *local,
                    set: Box::new(set),
                    // The body reads its local: reduced in what does not.
                    body: Box::new(self.reduced_expr(body)),
                })
            }
            _ => {
                let mut out = e.clone();
                self.reduce_children(&mut out);
                Reduced::Left(out)
            }
        }
    }

    /// Replaces each direct child of `e` by its reduction.
    fn reduce_children(&mut self, e: &mut Expr) {
        let mut one = |x: &mut Expr| *x = self.reduced_expr(x);
        match &mut e.kind {
            ExprKind::Not(a)
            | ExprKind::Neg(a)
            | ExprKind::Has(a, _)
            | ExprKind::Like(a, _)
            | ExprKind::GetAttr(a, _) => one(a),
            ExprKind::Is(a, _, target) => {
                one(a);
                if let Some(t) = target {
                    one(t);
                }
            }
            ExprKind::Binary(_, a, b) => {
                one(a);
                one(b);
            }
            ExprKind::Method(a, _, args) => {
                one(a);
                args.iter_mut().for_each(one);
            }
            ExprKind::Call { args, .. } | ExprKind::Set(args) => args.iter_mut().for_each(one),
            ExprKind::Record(fields) => fields.iter_mut().for_each(|(_, x)| one(x)),
            // Handled by `reduce`, or leaves.
            _ => {}
        }
    }

    fn reduced_expr(&mut self, e: &Expr) -> Expr {
        let r = self.reduce(e);
        self.to_expr(r, e)
    }

    /// The expression for `r`: a value as a literal where it has one, else
    /// `original` (which evaluates to the same value).
    fn to_expr(&self, r: Reduced, original: &Expr) -> Expr {
        match r {
            Reduced::Left(e) => e,
            Reduced::Known(v) => value_expr(&v, original.span).unwrap_or_else(|| original.clone()),
        }
    }
}

/// Whether a resource scope may match an entity of type `ty`.
fn resource_type_may_match(c: &ScopeConstraint, ty: &Name) -> bool {
    match c {
        ScopeConstraint::Eq(uid, _) => uid.ty == *ty,
        ScopeConstraint::Is(t, _) | ScopeConstraint::IsIn(t, _, _) => t == ty,
        ScopeConstraint::EqSlot(_) | ScopeConstraint::InSlot(_) | ScopeConstraint::IsInSlot(..) => {
            false
        }
        ScopeConstraint::Any | ScopeConstraint::In(..) => true,
    }
}

/// A condition's body without a trailing `&& true` or `|| false`: a
/// condition checks that its value is a boolean as the operator would.
fn condition_body(body: Expr) -> Expr {
    let neutral = match &body.kind {
        ExprKind::And(items) if items.len() == 2 => Some((items, true)),
        ExprKind::Or(items) if items.len() == 2 => Some((items, false)),
        _ => None,
    };
    match neutral {
        Some((items, b))
            if matches!(items.last(), Some(e) if e.kind == ExprKind::Lit(Literal::Bool(b))) =>
        {
            items.first().cloned().unwrap_or(body)
        }
        _ => body,
    }
}

fn bool_expr(b: bool, span: crate::syntax::Span) -> Expr {
    Expr::new(ExprKind::Lit(Literal::Bool(b)), span)
}

fn literal_condition(b: bool, span: crate::syntax::Span) -> Condition {
    Condition {
        kind: ConditionKind::When,
        body: bool_expr(b, span),
        span,
    }
}

/// A literal expression of `v`, where the language writes one (not the
/// extension values, whose constructors the original keeps).
fn value_expr(v: &Value, span: crate::syntax::Span) -> Option<Expr> {
    let kind = match v {
        Value::Bool(b) => ExprKind::Lit(Literal::Bool(*b)),
        // The most negative long has no literal.
        Value::Long(n) if *n == i64::MIN => return None,
        Value::Long(n) => ExprKind::Lit(Literal::Long(*n)),
        Value::String(s) => ExprKind::Lit(Literal::String(s.clone())),
        Value::Entity(uid) => ExprKind::Entity(uid.clone()),
        Value::Set(items) => ExprKind::Set(
            items
                .iter()
                .map(|x| value_expr(x, span))
                .collect::<Option<Vec<_>>>()?,
        ),
        Value::Record(fields) => ExprKind::Record(
            fields
                .iter()
                .map(|(k, x)| Some((k.clone(), value_expr(x, span)?)))
                .collect::<Option<Vec<_>>>()?,
        ),
        Value::Ext(_) => return None,
    };
    Some(Expr::new(kind, span))
}
