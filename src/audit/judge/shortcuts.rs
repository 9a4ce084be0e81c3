//! The shortcuts over an action's resources: where the permits' outcomes
//! do not depend on the resource, or only on one attribute of it, one
//! resource answers for many.
//!
//! Each permit is probed only on a resource in its own scope, so every
//! evaluation the memo keeps (and every rule clause the findings'
//! coverage records) is one a plain judgement of some request of the
//! domain would make.

use super::{Ids, Judge};
use crate::audit::memo::READ_RESOURCE;
use crate::authorize::{entity_constraint, PolicyOutcome};
use crate::syntax::ast::Effect;
use smol_str::SmolStr;

/// How an action's permits depend on the resource (see
/// [`Judge::permits_over`]).
pub(super) enum Permits {
    /// Not at all, and none holds.
    Fixed,
    /// Not at all, and some holds: each permit's outcome on every resource
    /// in its scope is the one probed ([`Judge::alike`]).
    Alike,
    /// Only through this attribute.
    ByAttribute(SmolStr),
    /// Otherwise.
    Each,
}

impl Judge<'_> {
    /// The first of `resources` (action `a`'s own) in the resource scope of
    /// policy `i`.
    fn first_in_scope(&mut self, a: usize, i: u32, resources: &[u32]) -> Option<u32> {
        if let Some(&known) = self.first_in_scope.get(&(a, i)) {
            return known;
        }
        let (set, entities) = (self.set, self.entities);
        let scope = &set.policies[i as usize].policy.resource;
        let first = resources
            .iter()
            .copied()
            .find(|&r| entity_constraint(scope, &self.uids[r as usize], entities));
        self.first_in_scope.insert((a, i), first);
        first
    }

    /// How the permits of `base` depend on which of `resources` (action
    /// `a`'s own) a request names, in the context of `ids`, each probed
    /// once on the first resource of its scope (a permit with no resource
    /// in scope is never a candidate):
    /// - `Fixed`: none was satisfied, none read the resource, so
    ///   none holds on any of them;
    /// - `Alike`: none read the resource, so each gives every resource of
    ///   its scope the outcome it gave (kept in [`Judge::alike`]);
    /// - `ByAttribute`: they read the resource only through one
    ///   attribute, so every resource with the same value of it gives each
    ///   permit the outcome it gave (its memo entry is keyed by that value);
    ///   see [`Self::group_interesting`];
    /// - `Each`: otherwise.
    pub(super) fn permits_over(
        &mut self,
        base: &[u32],
        a: usize,
        resources: &[u32],
        ids: impl Fn(u32) -> Ids,
    ) -> Permits {
        let set = self.set;
        let mut fixed = true;
        let mut attr: Option<SmolStr> = None;
        self.alike.clear();
        for &i in base {
            if set.policies[i as usize].policy.effect != Effect::Permit {
                continue;
            }
            let Some(r) = self.first_in_scope(a, i, resources) else {
                continue;
            };
            self.request.resource = self.uids[r as usize].clone();
            let (known, spec) = self.probe_spec(i, ids(r));
            if spec.vars & READ_RESOURCE != 0 {
                return Permits::Each;
            }
            fixed &= spec.resource_attr.is_none()
                && matches!(known.outcome, PolicyOutcome::NotSatisfied);
            match (&attr, spec.resource_attr) {
                (_, None) => {}
                (None, Some(a)) => attr = Some(a),
                (Some(b), Some(a)) if *b == a => {}
                (Some(_), Some(_)) => return Permits::Each,
            }
            self.alike.push((i, known.outcome, known.steps));
        }
        match attr {
            _ if fixed => Permits::Fixed,
            Some(attr) => Permits::ByAttribute(attr),
            None => Permits::Alike,
        }
    }

    /// Where the permits are [`Permits::Alike`] over the resources of the
    /// request being judged (numbered `ids`), whose candidates are the
    /// `base` they were probed from (no policy is filed by its resource):
    /// records for its decision the outcome of each permit whose scope
    /// admits its resource, as probed on another resource, and says
    /// whether one may hold (was satisfied or erred).
    pub(super) fn replay_alike(&mut self, ids: Ids) -> bool {
        let mut some = false;
        for j in 0..self.alike.len() {
            let (i, _, _) = self.alike[j];
            if !self.in_scope(i, ids.resource) {
                continue;
            }
            let (_, outcome, steps) = &self.alike[j];
            some |= !matches!(outcome, PolicyOutcome::NotSatisfied);
            self.seen.push((i, outcome.clone(), *steps));
        }
        some
    }

    /// Whether some permit of `base` in scope of the resource of `ids` may
    /// hold on it: per group of resources (their value of `attr`) and
    /// permit, the first resource of the group in the permit's scope is
    /// probed, and a permit not satisfied there, having read the resource
    /// only through `attr`, is not satisfied on any resource of the group.
    pub(super) fn group_interesting(&mut self, base: &[u32], attr: &SmolStr, ids: Ids) -> bool {
        let (set, entities) = (self.set, self.entities);
        let r = ids.resource;
        let group = self.interner.attr_key(entities, r, attr);
        self.request.resource = self.uids[r as usize].clone();
        for &i in base {
            let policy = &set.policies[i as usize].policy;
            if policy.effect != Effect::Permit
                || !entity_constraint(&policy.resource, &self.request.resource, entities)
            {
                continue;
            }
            let may_hold = match self.groups.get(&(group, i)) {
                Some(&known) => known,
                None => {
                    let (known, spec) = self.probe_spec(i, ids);
                    let may_hold = !matches!(known.outcome, PolicyOutcome::NotSatisfied)
                        || spec.vars & READ_RESOURCE != 0
                        || spec.resource_attr.as_ref().is_some_and(|a| a != attr);
                    self.groups.insert((group, i), may_hold);
                    may_hold
                }
            };
            if may_hold {
                return true;
            }
        }
        false
    }
}
