//! What differs between two versions of a policy set, and the one set that
//! holds both for judging.
//!
//! Policies are matched by their `@id` annotation where both versions have
//! it, else by their text (as `mspl fmt` prints it, annotations aside),
//! else by position. A matched policy is changed when its text differs or
//! it calls a changed rule; an unmatched one is added or removed. Rules are
//! matched by name; a rule is changed when its clauses (each as printed,
//! in any order: the order of clauses never changes a result) differ, it
//! is in one version only, or it calls a changed rule. Entities differ
//! when their data or parents do, or one store lacks them.

use crate::audit::judge::Versions;
use crate::entities::Entities;
use crate::policy_set::PolicySet;
use crate::syntax::ast::{
    annotation, CallTarget, EntityUid, Expr, ExprKind, File, Item, Name, Policy,
};
use std::collections::{BTreeMap, BTreeSet};

/// How a policy or a rule of one version stands in the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// The same in both.
    Unchanged,
    /// In both, its text differs.
    Changed,
    /// In both with the same text, but it calls a changed rule.
    CallsChanged,
    /// Only in the new version.
    Added,
    /// Only in the old version.
    Removed,
}

impl Status {
    /// How the text output says it.
    pub fn describe(self) -> &'static str {
        match self {
            Status::Unchanged => "unchanged",
            Status::Changed => "changed",
            Status::CallsChanged => "calls a changed rule",
            Status::Added => "added",
            Status::Removed => "removed",
        }
    }

    /// Whether the two versions may judge it differently.
    pub fn differs(self) -> bool {
        self != Status::Unchanged
    }
}

/// The differences between two versions.
#[derive(Clone, Debug, Default)]
pub struct Changes {
    /// Per old policy: the new policy it matches.
    pub old_match: Vec<Option<u32>>,
    /// Per new policy: the old policy it matches.
    pub new_match: Vec<Option<u32>>,
    /// Per old policy, how it stands.
    pub old_status: Vec<Status>,
    /// Per new policy, how it stands.
    pub new_status: Vec<Status>,
    /// Every rule that differs, by name, and how.
    pub rules: BTreeMap<Name, Status>,
    /// Per old policy: the rules it calls, directly or not ([`calls`]).
    pub old_calls: Vec<BTreeSet<Name>>,
    /// Per new policy, likewise.
    pub new_calls: Vec<BTreeSet<Name>>,
}

impl Changes {
    /// The differences between `old` and `new`.
    pub fn between(old: &PolicySet, new: &PolicySet) -> Changes {
        // Each policy printed once, for matching and for comparing.
        let texts = |set: &PolicySet| -> Vec<String> {
            set.policies.iter().map(|p| text(&p.policy)).collect()
        };
        let (old_texts, new_texts) = (texts(old), texts(new));
        let (old_match, new_match) = match_policies(old, new, &old_texts, &new_texts);
        let rules = changed_rules(old, new);
        let all_calls = |set: &PolicySet| -> Vec<BTreeSet<Name>> {
            set.policies.iter().map(|p| calls(set, &p.policy)).collect()
        };
        let (old_calls, new_calls) = (all_calls(old), all_calls(new));
        let calls_changed =
            |called: &BTreeSet<Name>| called.iter().any(|name| rules.contains_key(name));
        // A matched pair has one status, from both versions (a name may be
        // a rule in one and an extension function in the other).
        let pair = |o: usize, n: usize| {
            if old_texts[o] != new_texts[n] {
                Status::Changed
            } else if calls_changed(&old_calls[o]) || calls_changed(&new_calls[n]) {
                Status::CallsChanged
            } else {
                Status::Unchanged
            }
        };
        let old_status: Vec<Status> = (0..old.policies.len())
            .map(|o| old_match[o].map_or(Status::Removed, |n| pair(o, n as usize)))
            .collect();
        let new_status = (0..new.policies.len())
            .map(|n| new_match[n].map_or(Status::Added, |o| old_status[o as usize]))
            .collect();
        Changes {
            old_match,
            new_match,
            old_status,
            new_status,
            rules,
            old_calls,
            new_calls,
        }
    }

    /// Whether nothing differs.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
            && !self.old_status.iter().any(|s| s.differs())
            && !self.new_status.iter().any(|s| s.differs())
    }
}

/// A policy's text as `mspl fmt` prints it, without its annotations.
fn text(policy: &Policy) -> String {
    let mut bare = policy.clone();
    bare.annotations.clear();
    crate::fmt::print_file(&File {
        items: vec![Item::Policy(bare)],
    })
}

/// Pairs the policies of `old` and `new` (printed as `old_texts` and
/// `new_texts`): by `@id`, by text, by position.
fn match_policies(
    old: &PolicySet,
    new: &PolicySet,
    old_texts: &[String],
    new_texts: &[String],
) -> (Vec<Option<u32>>, Vec<Option<u32>>) {
    let mut old_match: Vec<Option<u32>> = vec![None; old.policies.len()];
    let mut new_match: Vec<Option<u32>> = vec![None; new.policies.len()];
    let pair =
        |o: usize, n: usize, old_match: &mut [Option<u32>], new_match: &mut [Option<u32>]| {
            old_match[o] = Some(crate::policy_set::number(n));
            new_match[n] = Some(crate::policy_set::number(o));
        };
    // By `@id`, then by text: each key's policies paired in load order.
    // A key of policy `i` of the old version (`true`) or the new one.
    let by_id = |is_old: bool, i: usize| {
        let set = if is_old { old } else { new };
        annotation(&set.policies[i].policy.annotations, "id")
            .and_then(|a| a.value.as_ref().map(|v| v.to_string()))
    };
    let by_text = |is_old: bool, i: usize| {
        let texts = if is_old { old_texts } else { new_texts };
        Some(texts[i].clone())
    };
    for key in [&by_id as &dyn Fn(bool, usize) -> Option<String>, &by_text] {
        let mut waiting: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for o in (0..old.policies.len()).rev() {
            if let (None, Some(k)) = (old_match[o], key(true, o)) {
                waiting.entry(k).or_default().push(o);
            }
        }
        for n in 0..new.policies.len() {
            if new_match[n].is_some() {
                continue;
            }
            if let Some(o) = key(false, n).and_then(|k| waiting.get_mut(&k)?.pop()) {
                pair(o, n, &mut old_match, &mut new_match);
            }
        }
    }
    // By position: what is left at the same place in both.
    for i in 0..old.policies.len().min(new.policies.len()) {
        if old_match[i].is_none() && new_match[i].is_none() {
            pair(i, i, &mut old_match, &mut new_match);
        }
    }
    (old_match, new_match)
}

/// The rules a policy's conditions call, directly or through other
/// rules, by name.
pub fn calls(set: &PolicySet, policy: &Policy) -> BTreeSet<Name> {
    let mut out = BTreeSet::new();
    for c in &policy.conditions {
        called(set, &c.body, &mut out);
    }
    let mut todo: Vec<Name> = out.iter().cloned().collect();
    while let Some(name) = todo.pop() {
        let Some((_, rule)) = set.rule(&name) else {
            continue;
        };
        let mut more = BTreeSet::new();
        for clause in &rule.clauses {
            called(set, &clause.body, &mut more);
        }
        for m in more {
            if out.insert(m.clone()) {
                todo.push(m);
            }
        }
    }
    out
}

/// Adds the rules `e` calls directly to `out`, by name.
fn called(set: &PolicySet, e: &Expr, out: &mut BTreeSet<Name>) {
    crate::syntax::ast::visit(e, &mut |e| {
        if let ExprKind::Call {
            target: CallTarget::Rule(i),
            ..
        } = &e.kind
        {
            if let Some(rule) = set.rules.get(*i as usize) {
                out.insert(rule.name.clone());
            }
        }
    });
}

/// Every rule that differs between the versions, and how.
fn changed_rules(old: &PolicySet, new: &PolicySet) -> BTreeMap<Name, Status> {
    // Per name: the clauses' texts (sorted) and the rules called.
    let shape = |set: &PolicySet| -> BTreeMap<Name, (Vec<String>, BTreeSet<Name>)> {
        set.rules
            .iter()
            .map(|r| {
                let mut texts: Vec<String> = r
                    .clauses
                    .iter()
                    .map(|c| {
                        let mut bare = c.clone();
                        bare.annotations.clear();
                        crate::fmt::print_file(&File {
                            items: vec![Item::Rule(bare)],
                        })
                    })
                    .collect();
                texts.sort();
                let mut calls = BTreeSet::new();
                for c in &r.clauses {
                    called(set, &c.body, &mut calls);
                }
                (r.name.clone(), (texts, calls))
            })
            .collect()
    };
    let (before, after) = (shape(old), shape(new));
    let mut out: BTreeMap<Name, Status> = BTreeMap::new();
    for (name, (texts, _)) in &before {
        match after.get(name) {
            None => {
                out.insert(name.clone(), Status::Removed);
            }
            Some((t, _)) if t != texts => {
                out.insert(name.clone(), Status::Changed);
            }
            Some(_) => {}
        }
    }
    for name in after.keys() {
        if !before.contains_key(name) {
            out.insert(name.clone(), Status::Added);
        }
    }
    // A rule that calls a changed rule, in either version, is changed too.
    loop {
        let mut grew = false;
        for (name, (_, calls)) in before.iter().chain(&after) {
            if !out.contains_key(name) && calls.iter().any(|c| out.contains_key(c)) {
                out.insert(name.clone(), Status::CallsChanged);
                grew = true;
            }
        }
        if !grew {
            return out;
        }
    }
}

/// The policies of both versions in one set, and which version has which.
pub struct Merged {
    /// The new version's policies and rules, then the old version's
    /// policies that differ and the old version's rules (their calls
    /// renumbered).
    pub set: PolicySet,
    /// Which policy is in which version.
    pub versions: Versions,
}

/// `new` with the policies of `old` that differ appended (and `old`'s
/// rules for them to call), and which policy each version has.
pub fn merge(old: &PolicySet, new: &PolicySet, changes: &Changes) -> Merged {
    let offset = crate::policy_set::number(new.rules.len());
    let mut set = new.clone();
    let mut versions = Versions::default();
    for (n, status) in changes.new_status.iter().enumerate() {
        let shared = !status.differs();
        versions.new.push(true);
        versions.old.push(shared);
        versions.partner.push(None);
        if !shared {
            versions.changed.push(crate::policy_set::number(n));
        }
    }
    for rule in &old.rules {
        let mut rule = rule.clone();
        for clause in &mut rule.clauses {
            renumber(&mut clause.body, offset);
        }
        set.rules.push(rule);
    }
    for (o, status) in changes.old_status.iter().enumerate() {
        if !status.differs() {
            continue;
        }
        let mut entry = old.policies[o].clone();
        for c in &mut entry.policy.conditions {
            renumber(&mut c.body, offset);
        }
        let at = crate::policy_set::number(set.policies.len());
        versions.changed.push(at);
        set.policies.push(entry);
        versions.new.push(false);
        versions.old.push(true);
        // A changed policy and its old version are each other's partners.
        let partner = changes.old_match[o];
        versions.partner.push(partner);
        if let Some(n) = partner {
            versions.partner[n as usize] = Some(at);
        }
    }
    Merged { set, versions }
}

/// Adds `offset` to every rule number `e` calls.
fn renumber(e: &mut Expr, offset: u32) {
    crate::syntax::ast::visit_mut(e, &mut |e| {
        if let ExprKind::Call {
            target: CallTarget::Rule(i),
            ..
        } = &mut e.kind
        {
            *i += offset;
        }
    });
}

/// The entities whose data or parents differ between the stores, and how:
/// `Changed`, `Added` (only in `new`) or `Removed` (only in `old`).
pub fn changed_entities(old: &Entities, new: &Entities) -> BTreeMap<EntityUid, Status> {
    let mut out = BTreeMap::new();
    let parents = |store: &Entities, uid: &EntityUid| {
        let mut p: Vec<EntityUid> = store.parents(uid).into_iter().cloned().collect();
        p.sort();
        p
    };
    for (uid, data) in old.iter() {
        match new.get(uid) {
            None => {
                out.insert(uid.clone(), Status::Removed);
            }
            Some(other) if other != data || parents(old, uid) != parents(new, uid) => {
                out.insert(uid.clone(), Status::Changed);
            }
            Some(_) => {}
        }
    }
    for (uid, _) in new.iter() {
        if !old.contains(uid) {
            out.insert(uid.clone(), Status::Added);
        }
    }
    out
}
