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
/// Built only by [`super::PreparedSet`], which keeps it with its set.
#[derive(Debug)]
pub struct PolicyIndex {
    principal: Bucket,
    resource: Bucket,
    action: Bucket,
    /// Policies whose scope constrains nothing the index can key on.
    fallback: Vec<u32>,
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
    pub(super) fn new(set: &PolicySet) -> PolicyIndex {
        let mut index = PolicyIndex {
            principal: Bucket::default(),
            resource: Bucket::default(),
            action: Bucket::default(),
            fallback: Vec::new(),
        };
        for (i, entry) in set.policies.iter().enumerate() {
            #[expect(clippy::cast_possible_truncation, reason = "`Loader::finish` refuses a set of more than u32::MAX policies or rules")]
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

    /// Puts into `out` the numbers of the policies whose scope may match
    /// `request`, in load order, each once; `ancestors` is a buffer.
    pub(super) fn candidates_into(
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
    pub(super) fn principal_action_candidates_into(
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
    pub(super) fn resource_candidates_into(
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
    pub(super) fn files_by_resource(&self) -> bool {
        !self.resource.by_uid.is_empty() || !self.resource.by_type.is_empty()
    }
}
