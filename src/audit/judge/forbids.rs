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

use super::{Ids, Judge, Keep, Unseen};
use crate::audit::memo::READ_RESOURCE;
use crate::authorize::{entity_constraint, PolicyOutcome};
use crate::syntax::ast::Effect;
use smol_str::SmolStr;

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
        for &c in &ad.contexts {
            self.request.context = self.contexts[c as usize].clone();
            for &f in &base {
                if set.policies[f as usize].policy.effect == Effect::Forbid {
                    self.forbid_over(f, resources, |r| ids(r, c), unseen);
                }
            }
        }
        self.base = base;
    }

    /// Forbid `f` on the request being built, over each of `resources` in
    /// its scope, for as long as `unseen` wants it.
    fn forbid_over(
        &mut self,
        f: u32,
        resources: &[u32],
        ids: impl Fn(u32) -> Ids,
        unseen: &Unseen,
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
            if let (Some(c), PolicyOutcome::Satisfied) = (self.coverage.as_mut(), &known.outcome) {
                c.stats[f as usize].reached = true;
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
