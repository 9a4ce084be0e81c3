//! Policies and rules against the declarations: names that must be declared
//! (entity types, actions, enumerated ids), scopes that some declared action
//! can satisfy, and the type of every condition in every request environment
//! (each declared action with each of its principal and resource types), as
//! Cedar's strict validator does. Rules are typed at their calls
//! ([`super::ops`]).

use super::error::{Problem, ValidationError as E};
use super::expr::{Ans, TypeChecker};
use super::types::Ty;
use super::Declared;
use crate::syntax::ast::visit;
use crate::syntax::ast::{
    ActionConstraint, BinOp, ConditionKind, EntityUid, Expr, ExprKind, Name, Policy,
    ScopeConstraint, Slot, Var,
};
use crate::syntax::Span;
use std::collections::{BTreeSet, HashMap};

/// Every problem of the policies and rules of `index.set`.
pub(crate) fn check(index: &Declared) -> Vec<Problem> {
    let set = index.set;
    let mut problems = Vec::new();
    // Policies with a name or scope error are not also called impossible.
    let mut flawed = vec![false; set.policies.len()];
    for (i, entry) in set.policies.iter().enumerate() {
        let before = problems.len();
        check_names(index, &entry.policy, &mut problems);
        // An unknown name already explains a scope that matches nothing.
        if problems.len() == before {
            if let Some(mut p) = check_application(index, &entry.policy) {
                p.span = whole(entry);
                problems.push(p);
            }
        }
        flawed[i] = problems.len() > before;
    }
    for rule in &set.rules {
        for clause in &rule.clauses {
            visit(&clause.body, &mut |e| {
                names_in_expr(index, e, &mut problems)
            });
        }
    }

    let prepared: Vec<(Vec<Expr>, Vec<Expr>)> = set
        .policies
        .iter()
        .map(|p| (scope_exprs(&p.policy), condition_exprs(&p.policy)))
        .collect();
    let mut relevant = vec![false; set.policies.len()];
    let mut in_results: HashMap<(usize, u32, u32), (bool, String, String)> = HashMap::new();
    for env in index.envs() {
        let mut checker = TypeChecker::new(index, &env);
        for (i, (scope, conditions)) in prepared.iter().enumerate() {
            checker.track_in = false;
            let mut acc = Ans::good(Ty::True);
            for part in scope {
                let (next, stop) = checker.and_step(&Vec::new(), acc, part);
                acc = next;
                if stop {
                    break;
                }
            }
            checker.track_in = true;
            for c in conditions {
                let (next, stop) = checker.and_step(&Vec::new(), acc, c);
                acc = next;
                if stop {
                    break;
                }
            }
            relevant[i] |= !acc.is_false();
        }
        problems.append(&mut checker.problems);
        for (k, (possible, l, r)) in checker.in_results {
            let entry = in_results.entry(k).or_insert((false, l, r));
            entry.0 |= possible;
        }
    }

    for ((entry, relevant), flawed) in set.policies.iter().zip(&relevant).zip(&flawed) {
        if !relevant && !flawed {
            problems.push(Problem::new(
                E::ImpossiblePolicy {
                    policy: entry.id.to_string(),
                },
                whole(entry),
            ));
        }
    }
    let mut always_false: Vec<_> = in_results.into_iter().filter(|(_, v)| !v.0).collect();
    always_false.sort_by_key(|a| a.0);
    for ((file, start, end), (_, lhs, rhs)) in always_false {
        problems.push(Problem::new(
            E::AlwaysFalseIn { lhs, rhs },
            Span::new(file, start as usize, end as usize),
        ));
    }
    for i in unused_rules(index) {
        let rule = &set.rules[i];
        if let Some(first) = rule.clauses.first() {
            problems.push(Problem::new(
                E::RuleNeverUsed {
                    rule: rule.name.to_string(),
                },
                first.head,
            ));
        }
    }
    problems
}

/// Where a problem of a whole policy points: its head, or for a
/// template-linked policy the slot values its link gave (in the links file).
fn whole(entry: &crate::policy_set::PolicyEntry) -> Span {
    match &entry.link {
        Some(link) => {
            let filled = |s: Slot| entry.policy.scope_of(s).span();
            link.values
                .iter()
                .map(|(s, _)| filled(*s))
                .reduce(|a, b| if a.file == b.file { a.to(b) } else { a })
                .unwrap_or(entry.policy.head)
        }
        None => entry.policy.head,
    }
}

/// Cedar's scope as expressions: `principal == E`, `action in [A, B]`, …
fn scope_exprs(p: &Policy) -> Vec<Expr> {
    let var = |v: Var, span: Span| Expr::new(ExprKind::Var(v), span);
    let uid = |u: &EntityUid, span: Span| Expr::new(ExprKind::Entity(u.clone()), span);
    let bin = |op: BinOp, a: Expr, b: Expr, span: Span| {
        Expr::new(ExprKind::Binary(op, Box::new(a), Box::new(b)), span)
    };
    let entity = |c: &ScopeConstraint, v: Var| -> Option<Expr> {
        Some(match c {
            ScopeConstraint::Any => return None,
            ScopeConstraint::Eq(u, s) => bin(BinOp::Eq, var(v, *s), uid(u, *s), *s),
            ScopeConstraint::In(u, s) => bin(BinOp::In, var(v, *s), uid(u, *s), *s),
            ScopeConstraint::Is(t, s) => {
                Expr::new(ExprKind::Is(Box::new(var(v, *s)), t.clone(), None), *s)
            }
            ScopeConstraint::IsIn(t, u, s) => Expr::new(
                ExprKind::Is(Box::new(var(v, *s)), t.clone(), Some(Box::new(uid(u, *s)))),
                *s,
            ),
            // A template is checked through its instances (`templates.rs`);
            // unfilled, it applies to nothing.
            ScopeConstraint::EqSlot(s)
            | ScopeConstraint::InSlot(s)
            | ScopeConstraint::IsInSlot(_, s) => {
                Expr::new(ExprKind::Lit(crate::syntax::ast::Literal::Bool(false)), *s)
            }
        })
    };
    let action = match &p.action {
        ActionConstraint::Any => None,
        ActionConstraint::Eq(u, s) => Some(bin(BinOp::Eq, var(Var::Action, *s), uid(u, *s), *s)),
        ActionConstraint::In(list, s) => {
            let items = list.iter().map(|u| uid(u, *s)).collect();
            let set = Expr::new(ExprKind::Set(items), *s);
            Some(bin(BinOp::In, var(Var::Action, *s), set, *s))
        }
    };
    [
        entity(&p.principal, Var::Principal),
        action,
        entity(&p.resource, Var::Resource),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The conditions as booleans that must all hold: `when { e }` is `e`,
/// `unless { e }` is `!e`.
fn condition_exprs(p: &Policy) -> Vec<Expr> {
    p.conditions
        .iter()
        .map(|c| match c.kind {
            ConditionKind::When => c.body.clone(),
            ConditionKind::Unless => {
                Expr::new(ExprKind::Not(Box::new(c.body.clone())), c.body.span)
            }
        })
        .collect()
}

fn check_names(index: &Declared, p: &Policy, out: &mut Vec<Problem>) {
    for c in [&p.principal, &p.resource] {
        match c {
            ScopeConstraint::Any | ScopeConstraint::EqSlot(_) | ScopeConstraint::InSlot(_) => {}
            ScopeConstraint::IsInSlot(t, s) => check_type(index, t, *s, out),
            ScopeConstraint::Eq(u, s) | ScopeConstraint::In(u, s) => check_uid(index, u, *s, out),
            ScopeConstraint::Is(t, s) => check_type(index, t, *s, out),
            ScopeConstraint::IsIn(t, u, s) => {
                check_type(index, t, *s, out);
                check_uid(index, u, *s, out);
            }
        }
    }
    match &p.action {
        ActionConstraint::Any => {}
        ActionConstraint::Eq(u, s) => check_uid(index, u, *s, out),
        ActionConstraint::In(list, s) => list.iter().for_each(|u| check_uid(index, u, *s, out)),
    }
    for c in &p.conditions {
        visit(&c.body, &mut |e| names_in_expr(index, e, out));
    }
}

fn names_in_expr(index: &Declared, e: &Expr, out: &mut Vec<Problem>) {
    match &e.kind {
        ExprKind::Entity(u) => check_uid(index, u, e.span, out),
        ExprKind::Is(_, t, _) => check_type(index, t, e.span, out),
        _ => {}
    }
}

fn check_type(index: &Declared, t: &Name, span: Span, out: &mut Vec<Problem>) {
    if !index.is_known_type(t) {
        let known: Vec<&str> = index
            .schema
            .entity_types
            .keys()
            .map(|n| n.as_str())
            .collect();
        out.push(Problem::new(
            E::UnknownEntityType {
                name: t.to_string(),
                suggestion: crate::suggest::closest(t, known),
            },
            span,
        ));
    }
}

fn check_uid(index: &Declared, u: &EntityUid, span: Span, out: &mut Vec<Problem>) {
    if index.is_action_type(&u.ty) {
        if !index.schema.actions.contains_key(u) {
            let shown = u.to_string();
            let known: Vec<String> = index.schema.actions.keys().map(|a| a.to_string()).collect();
            out.push(Problem::new(
                E::UnknownAction {
                    suggestion: crate::suggest::closest(&shown, known.iter().map(|s| s.as_str())),
                    uid: shown,
                },
                span,
            ));
        }
        return;
    }
    check_type(index, &u.ty, span, out);
    if let Some(ids) = index
        .schema
        .entity_types
        .get(&u.ty)
        .and_then(|t| t.enum_ids.as_ref())
    {
        if !ids.contains(&u.id) {
            out.push(Problem::new(
                E::InvalidEnumEntity {
                    uid: u.to_string(),
                    ty: u.ty.to_string(),
                    choices: ids.iter().map(|i| i.to_string()).collect(),
                },
                span,
            ));
        }
    }
}

/// Cedar's action application check: some action the scope allows applies
/// to some principal type and some resource type the scope allows.
fn check_application(index: &Declared, p: &Policy) -> Option<Problem> {
    let schema = index.schema;
    let actions: Vec<&EntityUid> = match &p.action {
        ActionConstraint::Any => schema.actions.keys().collect(),
        ActionConstraint::Eq(u, _) => vec![u],
        ActionConstraint::In(list, _) => {
            let all = index.actions_in(list.iter())?;
            schema.actions.keys().filter(|a| all.contains(*a)).collect()
        }
    };
    if actions.iter().any(|a| !schema.actions.contains_key(*a)) {
        // Reported as an unknown action already.
        return None;
    }
    let allowed = |c: &ScopeConstraint| -> BTreeSet<Name> {
        match c {
            ScopeConstraint::Any => schema.entity_types.keys().cloned().collect(),
            ScopeConstraint::Eq(u, _) => BTreeSet::from([u.ty.clone()]),
            ScopeConstraint::In(u, _) => index.types_in(&u.ty),
            ScopeConstraint::Is(t, _) if index.is_known_type(t) => BTreeSet::from([t.clone()]),
            ScopeConstraint::Is(..) => BTreeSet::new(),
            ScopeConstraint::IsIn(t, u, _) => index
                .types_in(&u.ty)
                .into_iter()
                .filter(|x| x == t)
                .collect(),
            ScopeConstraint::EqSlot(_)
            | ScopeConstraint::InSlot(_)
            | ScopeConstraint::IsInSlot(..) => BTreeSet::new(),
        }
    };
    let principals = allowed(&p.principal);
    let resources = allowed(&p.resource);
    let mut applies = Vec::new();
    for a in &actions {
        let action = &schema.actions[*a];
        let ps = action.principals.as_deref().unwrap_or_default();
        let rs = action.resources.as_deref().unwrap_or_default();
        if ps.iter().any(|t| principals.contains(t)) && rs.iter().any(|t| resources.contains(t)) {
            return None;
        }
        let names = |l: &[Name]| {
            l.iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if applies.len() < 3 {
            applies.push(if ps.is_empty() || rs.is_empty() {
                format!("`{a}` applies to no request")
            } else {
                format!(
                    "`{a}` applies to principals {} and resources {}",
                    names(ps),
                    names(rs)
                )
            });
        }
    }
    let applies = (!applies.is_empty()).then(|| applies.join("; "));
    Some(Problem::new(E::ImpossibleScope { applies }, p.head))
}

/// Rules that neither a policy nor an audit finding calls, directly or
/// through other rules.
fn unused_rules(index: &Declared) -> Vec<usize> {
    let called = index.set.rules_called(true);
    (0..called.len()).filter(|i| !called[*i]).collect()
}
