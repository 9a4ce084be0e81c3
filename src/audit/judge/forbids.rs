//! The forbids' pass of the findings' coverage.
//!
//! The permits' pass ([`Keep::Nothing`](super::Keep::Nothing)) takes the
//! matrix's shortcuts: a request on which no permit holds is denied
//! whatever its forbids do, so its forbids are never evaluated. The permits'
//! counts and the rules they call are exact (every permit is evaluated
//! wherever the full pass would, through the same memo), but a forbid may
//! hold, and call rules, only on requests the shortcut skipped. This pass
//! evaluates the forbids alone on every request of their scope, as long as
//! one could still add something (see [`Unseen::wants`]): a forbid not
//! yet reached, or a rule it may call with a clause that never held.
//!
//! Its own shortcut is the memo's: an evaluation that did not read the
//! resource gives every resource the same outcome and the same rule
//! clauses, and one that read the resource only through one attribute
//! gives every resource with the same value of it the same. Where a
//! request's step budget could run out on its candidates, or the
//! candidates depend on the resource, the requests are judged whole, as
//! the full pass would.
//!
//! And across principals: a forbid's evaluations on every request of one
//! principal read that principal only as a projection (its type, one
//! attribute), so another principal projected alike would evaluate the
//! same way on every request, calling the same rule clauses; it is not
//! judged again for that forbid ([`Judged`]). The cross-account forbid of
//! Model Studio reads a RAM identity's type and account: its pass costs
//! two principals an account, not every identity.

use super::{Ids, Judge, Keep, Unseen};
use crate::audit::memo::{Interner, Spec, READ_RESOURCE};
use crate::authorize::{entity_constraint, PolicyOutcome};
use crate::entities::{Entities, FastHash};
use crate::syntax::ast::Effect;
use smol_str::SmolStr;
use std::collections::{HashMap, HashSet};

/// The classes of principals the forbids' pass has judged in full, per
/// action and forbid: what the evaluations of one principal read of it
/// (a projection: see [`Interner::principal_class`]) and its key part
/// under that. A principal of a class judged would evaluate the forbid as
/// its judged member did on every request, so it would see nothing new.
#[derive(Default)]
pub(crate) struct Judged {
    /// Per action and forbid, the projection caches of the classes judged.
    projections: HashMap<(usize, u32), Vec<Option<usize>>, FastHash>,
    /// The classes judged: action, forbid, projection cache, key part.
    classes: HashSet<(usize, u32, Option<usize>, u32), FastHash>,
}

impl Judged {
    /// Whether `principal` is of a class judged in full for forbid `f`
    /// of action `a`.
    fn covers(
        &self,
        a: usize,
        f: u32,
        principal: u32,
        interner: &mut Interner,
        entities: &Entities,
    ) -> bool {
        let Some(slots) = self.projections.get(&(a, f)) else {
            return false;
        };
        slots.iter().any(|&slot| {
            let part = interner.class_part(slot, entities, principal);
            self.classes.contains(&(a, f, slot, part))
        })
    }

    /// Notes that `principal` was judged in full for forbid `f` of action
    /// `a`, its evaluations having read `read` together.
    fn add(
        &mut self,
        a: usize,
        f: u32,
        principal: u32,
        read: &Spec,
        interner: &mut Interner,
        entities: &Entities,
    ) {
        if let Some((slot, part)) = interner.principal_class(read, entities, principal) {
            let slots = self.projections.entry((a, f)).or_default();
            if !slots.contains(&slot) {
                slots.push(slot);
            }
            self.classes.insert((a, f, slot, part));
        }
    }

    /// Forgets every class (the coverage they were judged into is gone).
    pub(crate) fn clear(&mut self) {
        self.projections.clear();
        self.classes.clear();
    }
}

/// How the resources of one forbid's evaluations differ.
enum Resources {
    /// Not probed yet.
    Unknown,
    /// The evaluation did not read the resource: one probe answers all.
    Alike,
    /// Only this attribute of the resource was read: one probe per value.
    ByAttribute(SmolStr),
    /// The resource was read: every one is probed.
    Each,
}

impl Judge<'_> {
    /// Evaluates the forbids that `unseen` says may still add to this
    /// judge's coverage on every request of `principal` for the actions
    /// numbered `actions` (every resource of each, or only `resource`).
    /// The judge's coverage must be recorded, and should start from what
    /// the permits' pass saw.
    pub fn forbids(
        &mut self,
        principal: u32,
        actions: &[usize],
        resource: Option<u32>,
        unseen: &Unseen,
    ) {
        self.enter_principal(principal);
        for &a in actions {
            if !self.coverage.as_ref().is_some_and(|c| unseen.any(c)) {
                return;
            }
            self.forbids_of_action(principal, a, resource, unseen);
        }
    }

    fn forbids_of_action(
        &mut self,
        principal: u32,
        a: usize,
        resource: Option<u32>,
        unseen: &Unseen,
    ) {
        let (set, domain) = (self.set, self.domain);
        let ad = &domain.actions[a];
        self.request.action = self.uids[ad.node as usize].clone();
        self.fill_base();
        let single = resource.map(|r| [r]);
        let resources: &[u32] = match &single {
            Some(one) => one,
            None => &ad.resources,
        };
        let ids = |resource: u32, context: u32| Ids {
            principal,
            action: ad.node,
            resource,
            context,
        };
        let by_resource = self.prepared.files_by_resource();
        if by_resource || !self.budget_safe(self.base.len()) {
            // Judged whole: the forbids' outcomes depend on the order and
            // the resource's own candidates.
            for &c in &ad.contexts {
                self.request.context = self.contexts[c as usize].clone();
                for &r in resources {
                    self.request.resource = self.uids[r as usize].clone();
                    self.judge(ids(r, c), by_resource, Keep::Every);
                }
            }
            return;
        }
        let base = std::mem::take(&mut self.base);
        for &f in &base {
            if set.policies[f as usize].policy.effect != Effect::Forbid {
                continue;
            }
            // A class is judged over every resource of the action.
            let classed = resource.is_none();
            if classed
                && self
                    .judged
                    .covers(a, f, principal, &mut self.interner, self.entities)
            {
                continue;
            }
            let mut read = Spec::none();
            for &c in &ad.contexts {
                self.request.context = self.contexts[c as usize].clone();
                self.forbid_over(f, resources, |r| ids(r, c), unseen, &mut read);
            }
            if classed {
                self.judged
                    .add(a, f, principal, &read, &mut self.interner, self.entities);
            }
        }
        self.base = base;
    }

    /// Forbid `f` on the request being built, over each of `resources` in
    /// its scope, for as long as `unseen` wants it; what its evaluations
    /// read added to `read` (a resource not probed would read as the one
    /// probed for it).
    fn forbid_over(
        &mut self,
        f: u32,
        resources: &[u32],
        ids: impl Fn(u32) -> Ids,
        unseen: &Unseen,
        read: &mut Spec,
    ) {
        let (set, entities) = (self.set, self.entities);
        let scope = &set.policies[f as usize].policy.resource;
        let mut shape = Resources::Unknown;
        self.groups.clear();
        for &r in resources {
            if matches!(shape, Resources::Alike)
                || !self.coverage.as_ref().is_some_and(|c| unseen.wants(c, f))
            {
                return;
            }
            let uid = &self.uids[r as usize];
            if !entity_constraint(scope, uid, entities) {
                continue;
            }
            if let Resources::ByAttribute(attr) = &shape {
                let group = self.interner.attr_key(entities, r, attr);
                if self.groups.insert((group, f), true).is_some() {
                    continue;
                }
            }
            self.request.resource = uid.clone();
            let (known, spec) = self.probe_spec(f, ids(r));
            read.absorb(&spec);
            if let (Some(c), PolicyOutcome::Satisfied) = (self.coverage.as_mut(), &known.outcome) {
                c.satisfied(f, false);
            }
            shape = match (shape, spec.vars & READ_RESOURCE != 0, spec.resource_attr) {
                (_, true, _) | (Resources::Each, _, _) => Resources::Each,
                (Resources::Unknown, false, None) => Resources::Alike,
                (Resources::Unknown, false, Some(attr)) => {
                    let group = self.interner.attr_key(entities, r, &attr);
                    self.groups.insert((group, f), true);
                    Resources::ByAttribute(attr)
                }
                // Another value of the attribute that read nothing else of
                // the resource: the groups stand.
                (Resources::ByAttribute(a), false, None) => Resources::ByAttribute(a),
                (Resources::ByAttribute(a), false, Some(b)) if a == b => Resources::ByAttribute(a),
                (Resources::ByAttribute(_) | Resources::Alike, false, _) => Resources::Each,
            };
        }
    }
}
