//! What a request can read of a store: the entities it reaches (for the
//! blame) and the entities that reach a changed one (a data change needs
//! judging only the requests that start from one of them).

use super::changes::Status;
use crate::entities::json::Request;
use crate::entities::Entities;
use crate::policy_set::PolicySet;
use crate::syntax::ast::{ActionConstraint, EntityUid, ExprKind, ScopeConstraint};
use crate::value::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Adds to `out` the entities `request` reaches in `store` (see the
/// module's documentation).
pub fn reach(store: &Entities, request: &Request, out: &mut BTreeSet<EntityUid>) {
    let mut first = vec![request.principal.clone(), request.resource.clone()];
    entities_in(&request.context, &mut first);
    let mut second = Vec::new();
    for uid in with_ancestors(store, &first) {
        if let Some(data) = store.get(&uid) {
            for v in data.attrs.values().chain(data.tags.values()) {
                entities_in(v, &mut second);
            }
        }
        out.insert(uid);
    }
    out.extend(with_ancestors(store, &second));
}

/// `uids` and all their ancestors in `store`.
fn with_ancestors(store: &Entities, uids: &[EntityUid]) -> Vec<EntityUid> {
    let mut out = uids.to_vec();
    let mut buffer = Vec::new();
    for uid in uids {
        if let Some(node) = store.node(uid) {
            buffer.clear();
            store.ancestors_into(node, &mut buffer);
            out.extend(buffer.iter().map(|&n| store.node_uid(n).clone()));
        }
    }
    out
}

/// Appends every entity `value` holds, however deep.
pub fn entities_in(value: &Value, out: &mut Vec<EntityUid>) {
    match value {
        Value::Entity(uid) => out.push(uid.clone()),
        Value::Set(items) => items.iter().for_each(|v| entities_in(v, out)),
        Value::Record(map) => map.values().for_each(|v| entities_in(v, out)),
        _ => {}
    }
}

/// Every entity from which a changed one can be read, in either store: the
/// changed entities, and those whose attributes, tags or parents name one
/// of these. A request whose principal, action, resource and context
/// entities are none of them reads the same data in both stores (every
/// entity it can read is reached from those, or from an entity a policy
/// names), and so is decided alike.
pub fn tainted(
    changed: &BTreeMap<EntityUid, Status>,
    stores: [&Entities; 2],
) -> HashSet<EntityUid> {
    // Who names whom: from each named entity to the entities naming it.
    let mut named_by: HashMap<EntityUid, Vec<EntityUid>> = HashMap::new();
    for store in stores {
        for (uid, data) in store.iter() {
            let mut names: Vec<EntityUid> = store.parents(uid).into_iter().cloned().collect();
            for v in data.attrs.values().chain(data.tags.values()) {
                entities_in(v, &mut names);
            }
            for n in names {
                named_by.entry(n).or_default().push(uid.clone());
            }
        }
    }
    let mut out: HashSet<EntityUid> = changed.keys().cloned().collect();
    let mut todo: Vec<EntityUid> = out.iter().cloned().collect();
    while let Some(uid) = todo.pop() {
        for by in named_by.get(&uid).into_iter().flatten() {
            if out.insert(by.clone()) {
                todo.push(by.clone());
            }
        }
    }
    out
}

/// Whether a policy or rule of `sets` names an entity of `uids` (then any
/// request may read it).
pub fn names_any(sets: [&PolicySet; 2], uids: &HashSet<EntityUid>) -> bool {
    let mut named: Vec<&EntityUid> = Vec::new();
    let mut in_expressions = false;
    for set in sets {
        for p in &set.policies {
            let policy = &p.policy;
            for c in [&policy.principal, &policy.resource] {
                if let ScopeConstraint::Eq(uid, _)
                | ScopeConstraint::In(uid, _)
                | ScopeConstraint::IsIn(_, uid, _) = c
                {
                    named.push(uid);
                }
            }
            match &policy.action {
                ActionConstraint::Any => {}
                ActionConstraint::Eq(uid, _) => named.push(uid),
                ActionConstraint::In(list, _) => named.extend(list),
            }
        }
        let bodies = set
            .policies
            .iter()
            .flat_map(|p| p.policy.conditions.iter().map(|c| &c.body))
            .chain(
                set.rules
                    .iter()
                    .flat_map(|r| r.clauses.iter().map(|c| &c.body)),
            );
        for body in bodies {
            crate::syntax::ast::visit(body, &mut |e| {
                if let ExprKind::Entity(uid) = &e.kind {
                    in_expressions |= uids.contains(uid);
                }
            });
        }
    }
    in_expressions || named.into_iter().any(|u| uids.contains(u))
}

/// Whether `value` holds an entity of `uids`.
pub fn holds_any(value: &Value, uids: &HashSet<EntityUid>) -> bool {
    let mut in_it = Vec::new();
    entities_in(value, &mut in_it);
    in_it.iter().any(|u| uids.contains(u))
}
