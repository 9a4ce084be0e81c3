//! [`PreparedSet`]: a linked policy set with its index and the options it
//! is judged under — the one owner of an index. [`PolicyIndex`] has no
//! public constructor and no way to decide on its own: a decision is asked
//! of a prepared set, so it can never use the index of another set (a stale
//! index of the same size would silently miss policies, forbids included).
//! (`mspl::__internal`'s documentation shows it with a `compile_fail` test.)

use super::index::PolicyIndex;
use super::{decide, with_scratch, Options, Response};
use crate::entities::json::Request;
use crate::entities::Entities;
use crate::policy_set::PolicySet;
use crate::syntax::ast::EntityUid;
use std::sync::Arc;

/// A linked policy set, its index, and the options it is judged under.
/// Cloning shares the set and the index.
#[derive(Clone, Debug)]
pub struct PreparedSet {
    set: Arc<PolicySet>,
    index: Arc<PolicyIndex>,
    options: Options,
}

impl PreparedSet {
    /// Indexes `set`, to be judged under `options`.
    pub fn new(set: PolicySet, options: Options) -> PreparedSet {
        PreparedSet::shared(Arc::new(set), options)
    }

    /// [`PreparedSet::new`] for a set already shared.
    pub fn shared(set: Arc<PolicySet>, options: Options) -> PreparedSet {
        let index = Arc::new(PolicyIndex::new(&set));
        PreparedSet {
            set,
            index,
            options,
        }
    }

    /// The policies, rules and declarations.
    pub fn set(&self) -> &PolicySet {
        &self.set
    }

    /// The set, shared.
    pub fn shared_set(&self) -> &Arc<PolicySet> {
        &self.set
    }

    /// The options requests are judged under.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The same set and index under other options (the index does not
    /// depend on them).
    pub fn with_options(&self, options: Options) -> PreparedSet {
        PreparedSet {
            set: Arc::clone(&self.set),
            index: Arc::clone(&self.index),
            options,
        }
    }

    /// Changes the set with `change`, then indexes it again: the only way
    /// to change it.
    pub fn update<R>(&mut self, change: impl FnOnce(&mut PolicySet) -> R) -> R {
        let result = change(Arc::make_mut(&mut self.set));
        self.index = Arc::new(PolicyIndex::new(&self.set));
        result
    }

    /// Decides `request`, judging only the policies whose scope may match
    /// it: the same response as [`super::authorize`] over every policy.
    pub fn authorize(&self, entities: &Entities, request: &Request) -> Response {
        self.judge(entities, request, &self.options)
    }

    /// [`PreparedSet::authorize`], abandoned at `deadline` (a server's
    /// per-request time; see [`Options::deadline`]).
    pub fn authorize_until(
        &self,
        entities: &Entities,
        request: &Request,
        deadline: Option<std::time::Instant>,
    ) -> Response {
        let options = Options {
            deadline,
            ..self.options
        };
        self.judge(entities, request, &options)
    }

    fn judge(&self, entities: &Entities, request: &Request, options: &Options) -> Response {
        with_scratch(|scratch| {
            let mut candidates = std::mem::take(&mut scratch.candidates);
            self.index
                .candidates_into(entities, request, &mut candidates, &mut scratch.ancestors);
            let response = decide(
                &self.set,
                entities,
                request,
                options,
                Some(&candidates),
                scratch,
            );
            scratch.candidates = candidates;
            response
        })
    }

    /// The numbers of the policies whose scope may match `request`, in load
    /// order.
    pub fn candidates(&self, entities: &Entities, request: &Request) -> Vec<u32> {
        let mut out = Vec::new();
        self.index
            .candidates_into(entities, request, &mut out, &mut Vec::new());
        out
    }

    /// Puts into `out` the numbers of the policies filed under `principal`,
    /// `action` or no key, in load order, each once: with
    /// [`Self::resource_candidates_into`], the candidates of every request
    /// of this principal and action (the audit asks once per principal and
    /// action what does not depend on the resource). `ancestors` is a buffer.
    pub fn principal_action_candidates_into(
        &self,
        entities: &Entities,
        principal: &EntityUid,
        action: &EntityUid,
        out: &mut Vec<u32>,
        ancestors: &mut Vec<u32>,
    ) {
        self.index
            .principal_action_candidates_into(entities, principal, action, out, ancestors);
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
        self.index
            .resource_candidates_into(entities, resource, out, ancestors);
    }

    /// Whether some policy is filed under a resource key, so that a
    /// request's candidates depend on its resource.
    pub fn files_by_resource(&self) -> bool {
        self.index.files_by_resource()
    }
}

/// The prepared set is shared by a server's threads.
const _: () = {
    const fn shared_between_threads<T: Send + Sync>() {}
    shared_between_threads::<PreparedSet>();
};
