//! The policy index: which policies' scopes can match a request, found
//! without looking at the others, so that the cost of a request grows with
//! the policies that can apply to it, not with all the policies loaded.
//!
//! Each policy is filed under one key of its scope, the most selective it
//! has: the entity its principal constraint names (`==`, `in`, `is … in`),
//! else the one its resource constraint names, else its actions (`==`, or
//! each entry of `in [ … ]`), else the type of an `is` constraint on the
//! principal, then on the resource; a policy with none of these (its scope
//! is `principal, action, resource`) goes to the fallback list. A request
//! looks up its principal, resource and action and, where policies were
//! filed under an `in`, each of their ancestors in the entity store (so
//! action groups and hierarchies declared in data count as they do for
//! `in`), and the type of its principal and resource.
//!
//! **Invariant:** the candidates are a superset of the policies whose scope
//! matches, in load order; each is then judged exactly as without the index
//! (scope included), and a policy judged on its own starts from a fresh
//! evaluator either way, so decisions, determining policies, errors and
//! explanations are the same with and without the index.

use super::{decide, with_scratch, Options, Response};
use crate::entities::json::Request;
use crate::entities::{Entities, FastHash};
use crate::policy_set::PolicySet;
use crate::syntax::ast::{ActionConstraint, EntityUid, Name, ScopeConstraint};
use std::collections::HashMap;

type Buckets<K> = HashMap<K, Vec<u32>, FastHash>;

/// The policies filed under one part of the scope.
#[derive(Clone, Debug, Default)]
struct Bucket {
    /// By the entity the constraint names.
    by_uid: Buckets<EntityUid>,
    /// By the entity type of an `is` constraint.
    by_type: Buckets<Name>,
    /// Whether some policy was filed under an `in`, so that a request's
    /// ancestors must be looked up too.
    through_ancestors: bool,
}

impl Bucket {
    fn file_uid(&mut self, uid: &EntityUid, policy: u32, hierarchy: bool) {
        let bucket = self.by_uid.entry(uid.clone()).or_default();
        // `action in [A, A]` files a policy once.
        if bucket.last() != Some(&policy) {
            bucket.push(policy);
        }
        self.through_ancestors |= hierarchy;
    }

    fn file_type(&mut self, ty: &Name, policy: u32) {
        self.by_type.entry(ty.clone()).or_default().push(policy);
    }

    /// Appends the policies filed under `uid`, its ancestors and its type.
    fn collect(
        &self,
        uid: &EntityUid,
        entities: &Entities,
        out: &mut Vec<u32>,
        ancestors: &mut Vec<u32>,
    ) {
        if !self.by_uid.is_empty() {
            if let Some(found) = self.by_uid.get(uid) {
                out.extend_from_slice(found);
            }
            if self.through_ancestors {
                if let Some(node) = entities.node(uid) {
                    ancestors.clear();
                    entities.ancestors_into(node, ancestors);
                    for &a in ancestors.iter() {
                        if let Some(found) = self.by_uid.get(entities.node_uid(a)) {
                            out.extend_from_slice(found);
                        }
                    }
                }
            }
        }
        if !self.by_type.is_empty() {
            if let Some(found) = self.by_type.get(&uid.ty) {
                out.extend_from_slice(found);
            }
        }
    }
}

/// An index of a policy set's scopes (see the module's documentation).
#[derive(Clone, Debug, Default)]
pub struct PolicyIndex {
    principal: Bucket,
    resource: Bucket,
    action: Bucket,
    /// Policies whose scope constrains nothing the index can key on.
    fallback: Vec<u32>,
    /// The number of policies of the set it was built from.
    policies: usize,
}

/// The entity a principal or resource constraint names, and whether the
/// hierarchy counts (`in`), if it names one.
fn named_entity(c: &ScopeConstraint) -> Option<(&EntityUid, bool)> {
    match c {
        ScopeConstraint::Eq(uid, _) => Some((uid, false)),
        ScopeConstraint::In(uid, _) | ScopeConstraint::IsIn(_, uid, _) => Some((uid, true)),
        // A template is never filed: only its links are policies.
        ScopeConstraint::Any
        | ScopeConstraint::Is(..)
        | ScopeConstraint::EqSlot(_)
        | ScopeConstraint::InSlot(_)
        | ScopeConstraint::IsInSlot(..) => None,
    }
}

impl PolicyIndex {
    /// Indexes the policies of `set`.
    pub fn new(set: &PolicySet) -> PolicyIndex {
        let mut index = PolicyIndex {
            policies: set.policies.len(),
            ..PolicyIndex::default()
        };
        for (i, entry) in set.policies.iter().enumerate() {
            // INVARIANT: the policy-file size limit keeps the count far below u32::MAX.
            let i = i as u32;
            let p = &entry.policy;
            if let Some((uid, hierarchy)) = named_entity(&p.principal) {
                index.principal.file_uid(uid, i, hierarchy);
            } else if let Some((uid, hierarchy)) = named_entity(&p.resource) {
                index.resource.file_uid(uid, i, hierarchy);
            } else if let ActionConstraint::Eq(uid, _) = &p.action {
                index.action.file_uid(uid, i, false);
            } else if let ActionConstraint::In(groups, _) = &p.action {
                // `action in []` matches no request: filed nowhere.
                for g in groups {
                    index.action.file_uid(g, i, true);
                }
            } else if let ScopeConstraint::Is(ty, _) = &p.principal {
                index.principal.file_type(ty, i);
            } else if let ScopeConstraint::Is(ty, _) = &p.resource {
                index.resource.file_type(ty, i);
            } else {
                index.fallback.push(i);
            }
        }
        index
    }

    /// Whether this index was built from a set with as many policies as
    /// `set` (a cheap guard against using it with another set).
    pub fn fits(&self, set: &PolicySet) -> bool {
        self.policies == set.policies.len()
    }

    /// Puts into `out` the numbers of the policies whose scope may match
    /// `request`, in load order, each once; `ancestors` is a buffer.
    pub fn candidates_into(
        &self,
        entities: &Entities,
        request: &Request,
        out: &mut Vec<u32>,
        ancestors: &mut Vec<u32>,
    ) {
        let keys = [
            (&self.principal, &request.principal),
            (&self.resource, &request.resource),
            (&self.action, &request.action),
        ];
        self.collect_into(&keys, true, entities, out, ancestors);
    }

    /// Puts into `out` the numbers of the policies filed under `principal`,
    /// `action` or the fallback list, in load order, each once: with
    /// [`Self::resource_candidates_into`], the candidates of every request
    /// of this principal and action, for the audit, which asks once per
    /// (principal, action) what does not depend on the resource.
    pub fn principal_action_candidates_into(
        &self,
        entities: &Entities,
        principal: &EntityUid,
        action: &EntityUid,
        out: &mut Vec<u32>,
        ancestors: &mut Vec<u32>,
    ) {
        let keys = [(&self.principal, principal), (&self.action, action)];
        self.collect_into(&keys, true, entities, out, ancestors);
    }

    /// Puts into `out` the numbers of the policies filed under `resource`
    /// (its ancestors and its type), in load order, each once.
    pub fn resource_candidates_into(
        &self,
        entities: &Entities,
        resource: &EntityUid,
        out: &mut Vec<u32>,
        ancestors: &mut Vec<u32>,
    ) {
        self.collect_into(
            &[(&self.resource, resource)],
            false,
            entities,
            out,
            ancestors,
        );
    }

    /// The policies filed under each (bucket, uid) of `keys`, and the
    /// fallback list with `fallback`, into `out` in load order, each once.
    fn collect_into(
        &self,
        keys: &[(&Bucket, &EntityUid)],
        fallback: bool,
        entities: &Entities,
        out: &mut Vec<u32>,
        ancestors: &mut Vec<u32>,
    ) {
        out.clear();
        for (bucket, uid) in keys {
            bucket.collect(uid, entities, out, ancestors);
        }
        if fallback {
            out.extend_from_slice(&self.fallback);
        }
        out.sort_unstable();
        out.dedup();
    }

    /// Whether some policy is filed under a resource key, so that a
    /// request's candidates depend on its resource.
    pub fn files_by_resource(&self) -> bool {
        !self.resource.by_uid.is_empty() || !self.resource.by_type.is_empty()
    }

    /// The numbers of the policies whose scope may match `request`, in load
    /// order.
    pub fn candidates(&self, entities: &Entities, request: &Request) -> Vec<u32> {
        let mut out = Vec::new();
        self.candidates_into(entities, request, &mut out, &mut Vec::new());
        out
    }

    /// Decides `request`, judging only the candidates: the same response as
    /// [`super::authorize`]. Falls back to judging every policy when `set`
    /// is not the set the index was built from.
    pub fn authorize(
        &self,
        set: &PolicySet,
        entities: &Entities,
        request: &Request,
        options: &Options,
    ) -> Response {
        if !self.fits(set) {
            return super::authorize(set, entities, request, options);
        }
        with_scratch(|scratch| {
            let mut candidates = std::mem::take(&mut scratch.candidates);
            self.candidates_into(entities, request, &mut candidates, &mut scratch.ancestors);
            let response = decide(set, entities, request, options, Some(&candidates), scratch);
            scratch.candidates = candidates;
            response
        })
    }
}
