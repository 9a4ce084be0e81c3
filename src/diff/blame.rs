//! Who is responsible for a flip: the policies that decide or erred in
//! either version and differ between them, the rules those call whose
//! text changed (or that one version lacks),
//! and the changed entities the request reaches.
//!
//! A policy that did not change and calls no rule that changed is never
//! blamed. Where no deciding policy differs (a step budget spent sooner,
//! say), the differing policies whose scope matches the request are named
//! instead. The entities a request reaches are its principal, resource and
//! the entities of its context, their ancestors, and the entities their
//! attributes name with those entities' ancestors, in either store.

use super::changes::Status;
use super::reach::reach;
use super::{Blamed, Diff};
use crate::authorize::{scope_matches, Response};
use crate::entities::json::Request;
use std::collections::{BTreeMap, BTreeSet};

/// The blame of `request`, decided `old` and `new` by the two versions:
/// policies, then rules (`rule:NAME`), then entities, each sorted.
pub fn blame(diff: &Diff, request: &Request, old: &Response, new: &Response) -> Vec<Blamed> {
    let mut policies: BTreeMap<String, Status> = BTreeMap::new();
    let mut rules: BTreeMap<String, String> = BTreeMap::new();
    let deciding = |r: &Response| -> Vec<smol_str::SmolStr> {
        r.determining
            .iter()
            .cloned()
            .chain(r.errors.iter().map(|e| e.policy.clone()))
            .collect()
    };
    let changes = &diff.changes;
    let mut note_rules = |old: bool, i: u32| {
        for b in diff.rules_of(old, i) {
            rules.insert(b.id.clone(), b.what.clone());
        }
    };
    for id in deciding(old) {
        let Some(o) = diff.old_policy(&id) else {
            continue;
        };
        let status = changes.old_status[o as usize];
        if status.differs() {
            policies.insert(old_name(diff, o), status);
            note_rules(true, o);
        }
    }
    for id in deciding(new) {
        let Some(n) = diff.new_policy(&id) else {
            continue;
        };
        let status = changes.new_status[n as usize];
        if status.differs() {
            policies.insert(id.to_string(), status);
            note_rules(false, n);
        }
    }
    if policies.is_empty() && diff.entity_changes.is_empty() {
        // No deciding policy differs: name those that apply and differ.
        for (o, status) in changes.old_status.iter().enumerate() {
            let p = &diff.old_set.policies[o].policy;
            if status.differs() && scope_matches(p, request, &diff.old_entities) {
                policies.insert(old_name(diff, crate::policy_set::number(o)), *status);
            }
        }
        for (n, status) in changes.new_status.iter().enumerate() {
            let entry = &diff.new_set.policies[n];
            if status.differs() && scope_matches(&entry.policy, request, &diff.new_entities) {
                policies.insert(entry.id.to_string(), *status);
            }
        }
    }
    let mut out: Vec<Blamed> = policies
        .into_iter()
        .map(|(id, status)| Blamed {
            id,
            what: status.describe().to_string(),
        })
        .chain(rules.into_iter().map(|(id, what)| Blamed { id, what }))
        .collect();
    if !diff.entity_changes.is_empty() {
        let mut reached = BTreeSet::new();
        for store in [&diff.old_entities, &diff.new_entities] {
            reach(store, request, &mut reached);
        }
        for uid in reached {
            if let Some(status) = diff.entity_changes.get(&uid) {
                out.push(Blamed {
                    id: uid.to_string(),
                    what: format!("entity {}", status.describe()),
                });
            }
        }
    }
    out
}

/// The name of old policy `o`: its new id where it is matched, so that a
/// changed policy is named once.
fn old_name(diff: &Diff, o: u32) -> String {
    match diff.changes.old_match[o as usize] {
        Some(n) => diff.new_set.policies[n as usize].id.to_string(),
        None => diff.old_set.policies[o as usize].id.to_string(),
    }
}
