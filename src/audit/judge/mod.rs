//! Judging an audit's requests, sharing work between them without changing
//! an answer.
//!
//! Each condition of a policy is evaluated by the plain interpreter with a
//! tracer that notes which request variables the evaluation read (the
//! resource possibly only for one attribute, `resource.workspace`). The
//! evaluation is deterministic, so its value and step count hold for every
//! request that agrees with it on those values: they are kept under
//! exactly those values (`Memo`, one per condition) and reused, and a
//! policy's outcome is composed from its conditions' as
//! `evaluate_conditions` would reach it. A rule call on the principal alone
//! is therefore evaluated once per principal (once per entity type and
//! value of an attribute where the rule read only those of it: the
//! tracer follows the principal into rule calls), an `unless` on the
//! resource alone once per resource, whatever the other variables. Reuse is exact,
//! limits included: a value is reused only when the steps it took fit the
//! policy's and the request's budget (a capped evaluation would have been
//! the same run), a value cut by a step limit is never kept, and where the
//! conditions together would pass the per-policy limit the policy is
//! evaluated whole. The decision itself is [`authorize::decide_by`], the
//! one place outcomes become a decision.
//!
//! More shortcuts, for queries that list only what is reported (see
//! [`Flags::reported`]), each taken only when the request's step budget
//! cannot run out on the candidates: permits are judged first, and a
//! request none of whose permits holds is not judged further (nothing about
//! it is reported, whatever its forbids do); a request a forbid denies by
//! what is kept alone (a forbid on the context and the resource, judged
//! once for every principal), with no forbid in error, is not judged
//! further either (denied with no error a permit could meet, it is not
//! reported whatever its permits do); when every permit that may
//! apply to a principal, action and context is not satisfied whatever the
//! resource, the context's resources are not judged one by one; and when the
//! permits read the resource only through one attribute, resources are
//! grouped by its value and a group whose first resource satisfies no
//! permit is skipped.

mod coverage;
mod evaluate;
mod forbids;
mod shortcuts;
mod versions;

use evaluate::cut_by_limit;

use super::domain::Domain;
pub use super::memo::Ids;
use super::memo::{own_uid, own_value, Interner, Memo};
use crate::authorize::{
    self, action_constraint, entity_constraint, Decision, Options, PolicyOutcome, PreparedSet,
    Response,
};
use crate::entities::json::Request;
use crate::entities::{Entities, FastHash};
use crate::eval::interp::Buffers;
use crate::eval::{EvalErrorKind, Value};
use crate::policy_set::PolicySet;
use crate::syntax::ast::{Effect, EntityUid};
pub use coverage::{Coverage, PolicyStats, Unseen};
use smol_str::SmolStr;
use std::collections::HashMap;
pub use versions::Versions;

/// What one request's policies gave, beyond the response.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    /// Some permit was satisfied.
    pub permit_satisfied: bool,
    /// Some forbid was satisfied without an error.
    pub forbid_satisfied: bool,
    /// Some permit raised an error.
    pub permit_error: bool,
    /// Some forbid raised an error.
    pub forbid_error: bool,
    /// The request's step budget ran out.
    pub spent: bool,
    /// The two versions of [`Versions`] decide it differently.
    pub flipped: bool,
}

impl Flags {
    /// Whether a request is reported by a query that lists what is
    /// allowed: it is allowed, or an error could have changed its decision
    /// (its step budget ran out; a satisfied permit met an erroring forbid;
    /// no forbid applied and a permit erred, which may have withheld an
    /// allow).
    pub fn reported(&self, response: &Response) -> bool {
        response.decision == Decision::Allow
            || self.spent
            || (self.permit_satisfied && self.forbid_error)
            || (!self.forbid_satisfied && self.permit_error)
    }
}

/// Which judged requests a query keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// Those [`Flags::reported`] says (the shortcut of the module's
    /// documentation is taken).
    Reported,
    /// Every request.
    Every,
    /// None: the pass is for its [`Coverage`] (the shortcuts of
    /// `Reported` are taken, so the permits' counts are exact and the
    /// forbids are left to [`Judge::forbids`]).
    Nothing,
    /// Those the two versions of the judge's [`Versions`] decide
    /// differently (the shortcuts of `Reported` are taken: a request on
    /// which no permit of either version holds is denied by both).
    Flips,
}

/// One thread's judge: memo tables, buffers and the request being built.
pub struct Judge<'a> {
    /// The prepared set: its policies, index and options.
    prepared: &'a PreparedSet,
    set: &'a PolicySet,
    entities: &'a Entities,
    options: &'a Options,
    domain: &'a Domain,
    /// Per policy, per condition.
    memo: Vec<Vec<Memo>>,
    /// The memo tables keyed by the principal itself (policy, condition,
    /// table): forgotten at each new principal.
    by_principal: Vec<(u32, usize, usize)>,
    interner: Interner,
    /// This thread's own copies of the store's uids and the domain's
    /// contexts, by node and by number.
    uids: Vec<EntityUid>,
    contexts: Vec<Value>,
    buffers: Option<Buffers>,
    request: Request,
    principal: Option<u32>,
    base: Vec<u32>,
    extra: Vec<u32>,
    candidates: Vec<u32>,
    ancestors: Vec<u32>,
    /// Per group of resources (by attribute key) and permit, whether the
    /// permit may hold in it.
    groups: HashMap<(u32, u32), bool, FastHash>,
    /// Per action and policy, the first of the action's resources in the
    /// policy's scope (`None`: none is).
    first_in_scope: HashMap<(usize, u32), Option<u32>, FastHash>,
    /// What the requests judged so far saw, when recorded.
    pub coverage: Option<Coverage>,
    /// The classes of principals the forbids' pass judged into it.
    judged: forbids::Judged,
    /// The two versions, for [`Keep::Flips`].
    versions: Option<&'a Versions>,
    /// The candidates of each version.
    old_list: Vec<u32>,
    new_list: Vec<u32>,
    /// The outcomes already had for the request being judged, for its
    /// decision to reuse: those the shortcuts found kept or probed, or
    /// those the new version's decision gave, for the old version's.
    seen: Vec<(u32, PolicyOutcome, u64)>,
    /// The permits' outcomes, alike on every resource of their scope, in
    /// the context being judged (see [`shortcuts::Permits::Alike`]); used
    /// while `alike_known`.
    alike: Vec<(u32, PolicyOutcome, u64)>,
    alike_known: bool,
    /// Per policy, whether its resource constraint admits the resource
    /// `scope_of` (`None`: not asked yet).
    scope: Vec<Option<bool>>,
    scope_of: Option<u32>,
}

/// Whether a decision records the outcomes it gets (for the old version's
/// to reuse, on the policies both versions share), or reuses those
/// recorded (by the new version's decision, or by the shortcuts).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Reuse {
    Record,
    Replay,
}

/// One judged request of a query.
#[derive(Clone, Debug)]
pub struct Line {
    /// The request.
    pub ids: Ids,
    /// The action's number in [`Domain::actions`].
    pub action: usize,
    /// The decision.
    pub response: Response,
}

impl<'a> Judge<'a> {
    /// A judge of requests of `domain`.
    pub fn new(prepared: &'a PreparedSet, entities: &'a Entities, domain: &'a Domain) -> Judge<'a> {
        let placeholder = crate::syntax::ast::EntityUid::new("", "");
        let set = prepared.set();
        Judge {
            prepared,
            set,
            entities,
            options: prepared.options(),
            domain,
            memo: set
                .policies
                .iter()
                .map(|p| {
                    p.policy
                        .conditions
                        .iter()
                        .map(|_| Memo::default())
                        .collect()
                })
                .collect(),
            by_principal: Vec::new(),
            interner: Interner::default(),
            uids: (0..entities.node_count())
                .map(|n| own_uid(entities.node_uid(n)))
                .collect(),
            contexts: domain.contexts.iter().map(own_value).collect(),
            buffers: Some(Buffers::default()),
            request: Request {
                principal: placeholder.clone(),
                action: placeholder.clone(),
                resource: placeholder,
                context: Value::empty_record(),
            },
            principal: None,
            base: Vec::new(),
            extra: Vec::new(),
            candidates: Vec::new(),
            ancestors: Vec::new(),
            groups: HashMap::default(),
            first_in_scope: HashMap::default(),
            coverage: None,
            judged: forbids::Judged::default(),
            versions: None,
            old_list: Vec::new(),
            new_list: Vec::new(),
            seen: Vec::new(),
            alike: Vec::new(),
            alike_known: false,
            scope: Vec::new(),
            scope_of: None,
        }
    }

    /// Judges the set as two versions: every query of this judge keeps
    /// [`Keep::Flips`].
    pub fn set_versions(&mut self, versions: &'a Versions) {
        self.versions = Some(versions);
    }

    /// Records per-policy counts and rule coverage from now on.
    pub fn record_coverage(&mut self) {
        self.coverage = Some(Coverage::new(self.set));
        self.judged.clear();
    }

    /// Records from now on into `seen`, which must hold what this judge's
    /// coverage holds (the merge of every thread's, between the passes).
    /// The forbids' classes judged into the old one are forgotten: a class
    /// stands only for a coverage that holds what its judged member saw.
    pub fn resume_coverage(&mut self, seen: Coverage) {
        self.coverage = Some(seen);
        self.judged.clear();
    }

    /// Judges the requests of `principal` for the actions numbered
    /// `actions` (into [`Domain::actions`]), every resource of each or only
    /// `resource`, appending to `out` the requests `keep` keeps, sorted by
    /// action, resource and context.
    pub fn principal(
        &mut self,
        principal: u32,
        actions: &[usize],
        resource: Option<u32>,
        keep: Keep,
        out: &mut Vec<Line>,
    ) {
        self.principal_within(principal, actions, resource, None, keep, out);
    }

    /// [`Self::principal`], judging only the contexts numbered `contexts`
    /// (each once, of the action's) where given: the caller knows the
    /// others are not kept.
    pub fn principal_within(
        &mut self,
        principal: u32,
        actions: &[usize],
        resource: Option<u32>,
        contexts: Option<&[u32]>,
        keep: Keep,
        out: &mut Vec<Line>,
    ) {
        self.enter_principal(principal);
        // Room for a line per context given (who-can's bound: most are kept).
        out.reserve(contexts.map_or(0, <[u32]>::len));
        for &a in actions {
            let from = out.len();
            self.action(principal, a, resource, contexts, keep, out);
            let domain = self.domain;
            out[from..].sort_by(|x, y| {
                (
                    domain.name(x.ids.resource),
                    &domain.context_json[x.ids.context as usize],
                )
                    .cmp(&(
                        domain.name(y.ids.resource),
                        &domain.context_json[y.ids.context as usize],
                    ))
            });
        }
    }

    /// Forgets the outcomes that depend on the previous principal.
    fn enter_principal(&mut self, principal: u32) {
        if self.principal == Some(principal) {
            return;
        }
        self.principal = Some(principal);
        self.request.principal = self.uids[principal as usize].clone();
        for &(i, k, t) in &self.by_principal {
            if let Some(table) = self.memo[i as usize][k].tables.get_mut(t) {
                table.kept.clear();
            }
        }
    }

    fn action(
        &mut self,
        principal: u32,
        a: usize,
        resource: Option<u32>,
        contexts: Option<&[u32]>,
        keep: Keep,
        out: &mut Vec<Line>,
    ) {
        let shortcut = matches!(keep, Keep::Reported | Keep::Flips | Keep::Nothing);
        let (set, entities, domain) = (self.set, self.entities, self.domain);
        let ad = &domain.actions[a];
        self.request.action = self.uids[ad.node as usize].clone();
        if let Some(v) = self.versions {
            // No changed policy can apply to a request of this principal
            // and action: both versions judge the same policies alike.
            let request = &self.request;
            let touched = v.changed.iter().any(|&i| {
                let p = &set.policies[i as usize].policy;
                entity_constraint(&p.principal, &request.principal, entities)
                    && action_constraint(&p.action, &request.action, entities)
            });
            if !touched {
                return;
            }
        }
        self.fill_base();
        let by_resource = self.prepared.files_by_resource();
        let is_permit = |i: &u32| set.policies[*i as usize].policy.effect == Effect::Permit;
        if shortcut && !by_resource && !self.base.iter().any(is_permit) {
            return;
        }
        let single = resource.map(|r| [r]);
        let resources: &[u32] = match &single {
            Some(one) => one,
            None => &ad.resources,
        };
        if resources.is_empty() {
            return;
        }
        let budget_safe = self.budget_safe(self.base.len());
        // The contexts to judge: all, or only those given (the lines are
        // sorted afterwards, so the order of judging does not show).
        let all_contexts: &[u32] = &ad.contexts;
        for &c in contexts.unwrap_or(all_contexts) {
            let mut grouped: Option<SmolStr> = None;
            let mut alike = false;
            self.request.context = self.contexts[c as usize].clone();
            let ids = |resource: u32| Ids {
                principal,
                action: ad.node,
                resource,
                context: c,
            };
            if shortcut && !by_resource && budget_safe && resources.len() > 1 {
                let base = std::mem::take(&mut self.base);
                let permits = self.permits_over(&base, a, resources, ids);
                self.base = base;
                match permits {
                    shortcuts::Permits::Fixed => continue,
                    // Resources with one value of the attribute share their
                    // permits' outcomes.
                    shortcuts::Permits::ByAttribute(attr) => grouped = Some(attr),
                    shortcuts::Permits::Alike => alike = true,
                    shortcuts::Permits::Each => {}
                }
            }
            // Two versions judge their own permits.
            self.alike_known = alike && self.versions.is_none();
            self.groups.clear();
            for &r in resources {
                if let Some(attr) = &grouped {
                    let base = std::mem::take(&mut self.base);
                    let interesting = self.group_interesting(&base, attr, ids(r));
                    self.base = base;
                    if !interesting {
                        continue;
                    }
                }
                self.request.resource = self.uids[r as usize].clone();
                let Some((response, flags)) = self.judge(ids(r), by_resource, keep) else {
                    continue;
                };
                let kept = match keep {
                    Keep::Every => true,
                    Keep::Reported => flags.reported(&response),
                    Keep::Nothing => false,
                    Keep::Flips => flags.flipped,
                };
                if kept {
                    out.push(Line {
                        ids: ids(r),
                        action: a,
                        response,
                    });
                }
            }
            self.alike_known = false;
        }
    }

    /// Fills `base` with the policies whose principal and action
    /// constraints match the request being built: the candidates of every
    /// request of its principal and action, the resource constraint still
    /// to check.
    fn fill_base(&mut self) {
        let (set, entities) = (self.set, self.entities);
        self.prepared.principal_action_candidates_into(
            entities,
            &self.request.principal,
            &self.request.action,
            &mut self.base,
            &mut self.ancestors,
        );
        let (request, base) = (&self.request, &mut self.base);
        base.retain(|&i| {
            let p = &set.policies[i as usize].policy;
            entity_constraint(&p.principal, &request.principal, entities)
                && action_constraint(&p.action, &request.action, entities)
        });
    }

    /// Whether no request whose candidates are `base` can run out of its
    /// step budget, so that the order of judging changes no outcome.
    fn budget_safe(&self, candidates: usize) -> bool {
        let limits = &self.options.limits;
        (candidates as u64 + 1).saturating_mul(limits.max_steps.saturating_add(1))
            < limits.max_request_steps
    }

    /// Judges the request being built (`self.request`, numbered `ids`) for
    /// a query that keeps `keep`. Where it takes the shortcuts, returns
    /// `None`, judging only the permits, when no permit is satisfied or
    /// erred: such a request is denied whatever its forbids do and not
    /// reported; for [`Keep::Reported`], also when a forbid's kept outcome
    /// is satisfied and no forbid errs, judging only the forbids (denied,
    /// and not reported whatever its permits do); for [`Keep::Nothing`],
    /// when a permit may hold and a forbid denies so, the permits are
    /// counted without a decision. Both are taken only when
    /// the request's budget cannot run out on its candidates, so that the
    /// order of judging changes no outcome.
    fn judge(&mut self, ids: Ids, by_resource: bool, keep: Keep) -> Option<(Response, Flags)> {
        let shortcut = matches!(keep, Keep::Reported | Keep::Flips | Keep::Nothing);
        let mut candidates = std::mem::take(&mut self.candidates);
        candidates.clear();
        if by_resource {
            self.prepared.resource_candidates_into(
                self.entities,
                &self.request.resource,
                &mut self.extra,
                &mut self.ancestors,
            );
            let (set, entities, request) = (self.set, self.entities, &self.request);
            self.extra.retain(|&i| {
                let p = &set.policies[i as usize].policy;
                entity_constraint(&p.principal, &request.principal, entities)
                    && action_constraint(&p.action, &request.action, entities)
            });
            merge_sorted(&self.base, &self.extra, &mut candidates);
        } else {
            candidates.extend_from_slice(&self.base);
        }
        if self
            .versions
            .is_some_and(|v| self.untouched(v, &candidates))
        {
            self.candidates = candidates;
            return None;
        }
        let set = self.set;
        self.seen.clear();
        if shortcut && self.budget_safe(candidates.len()) {
            if keep == Keep::Reported && self.forbidden_unreported(&candidates, ids) {
                self.candidates = candidates;
                return None;
            }
            let some_permit = if self.alike_known {
                self.replay_alike(ids)
            } else {
                candidates.iter().any(|&i| {
                    let policy = &set.policies[i as usize].policy;
                    policy.effect == Effect::Permit
                        && self.in_scope(i, ids.resource)
                        && !matches!(self.probe_seen(i, ids), PolicyOutcome::NotSatisfied)
                })
            };
            if !some_permit {
                self.candidates = candidates;
                return None;
            }
            // The findings' coverage needs the permits' counts of a request
            // a kept forbid denies, not its decision.
            if keep == Keep::Nothing && self.forbidden_unreported(&candidates, ids) {
                self.count_denied(&candidates, ids);
                self.candidates = candidates;
                return None;
            }
        }
        if let Some(v) = self.versions {
            // Past the permits: a request on which every changed policy
            // agrees with its counterpart is decided alike.
            let result = (!self.pairs_agree(v, &candidates, ids))
                .then(|| self.judge_versions(v, &candidates, ids));
            self.candidates = candidates;
            return result;
        }
        // The outcomes probed above are those `outcome` would find again.
        let (response, flags) = self.decide(&candidates, ids, Reuse::Replay);
        self.candidates = candidates;
        Some((response, flags))
    }

    /// Policy `i`'s kept (or evaluated and kept) outcome, recorded for the
    /// decision of the request being judged to replay: a recorded outcome
    /// is replayed only where [`Self::outcome`] would return it.
    fn probe_seen(&mut self, i: u32, ids: Ids) -> PolicyOutcome {
        let (known, _) = self.probe(i, ids);
        self.seen.push((i, known.outcome.clone(), known.steps));
        known.outcome
    }

    /// Whether policy `i`'s resource constraint admits the request being
    /// built, whose resource is node `resource`: asked once per policy
    /// while the resource stays the same.
    fn in_scope(&mut self, i: u32, resource: u32) -> bool {
        if self.scope_of != Some(resource) {
            self.scope_of = Some(resource);
            self.scope.clear();
            self.scope.resize(self.set.policies.len(), None);
        }
        if let Some(Some(known)) = self.scope.get(i as usize) {
            return *known;
        }
        let policy = &self.set.policies[i as usize].policy;
        let admits = entity_constraint(&policy.resource, &self.request.resource, self.entities);
        if let Some(slot) = self.scope.get_mut(i as usize) {
            *slot = Some(admits);
        }
        admits
    }

    /// Whether a forbid among `candidates` is satisfied by what is kept
    /// (nothing evaluated) and no forbid in scope errs: the request is
    /// denied without an error a permit could meet, so
    /// [`Flags::reported`] is false whatever its permits give (the budget
    /// cannot run out: the caller checked).
    fn forbidden_unreported(&mut self, candidates: &[u32], ids: Ids) -> bool {
        let applies = |judge: &mut Self, i: u32| {
            judge.set.policies[i as usize].policy.effect == Effect::Forbid
                && judge.in_scope(i, ids.resource)
        };
        let mut satisfied = false;
        for &i in candidates {
            if !applies(self, i) {
                continue;
            }
            if let Some(known) = self.kept(i, ids) {
                satisfied = matches!(known.outcome, PolicyOutcome::Satisfied);
                self.seen.push((i, known.outcome, known.steps));
                if satisfied {
                    break;
                }
            }
        }
        satisfied
            && candidates.iter().all(|&i| {
                !applies(self, i) || !matches!(self.seen_or_probe(i, ids), PolicyOutcome::Error(_))
            })
    }

    /// Records in the coverage what deciding the request being judged
    /// would, where [`Self::forbidden_unreported`] found it denied (every
    /// forbid in scope probed, none erring): the policies satisfied, each
    /// permit satisfied counted. Nothing is allowed, so no decision is
    /// needed.
    fn count_denied(&mut self, candidates: &[u32], ids: Ids) {
        for &i in candidates {
            if !self.in_scope(i, ids.resource) {
                continue;
            }
            let permit = self.set.policies[i as usize].policy.effect == Effect::Permit;
            if let (PolicyOutcome::Satisfied, Some(c)) =
                (self.seen_or_probe(i, ids), self.coverage.as_mut())
            {
                c.satisfied(i, permit);
            }
        }
    }

    /// Policy `i`'s outcome as recorded for the request being judged, or
    /// probed (and recorded) when it is not.
    fn seen_or_probe(&mut self, i: u32, ids: Ids) -> PolicyOutcome {
        match self.seen.iter().find(|(j, _, _)| *j == i) {
            Some((_, outcome, _)) => outcome.clone(),
            None => self.probe_seen(i, ids),
        }
    }

    /// Decides the request being built on the policies numbered
    /// `candidates`, in that order, with what the policies gave; `reuse`
    /// records each outcome, or takes a recorded one where it fits the
    /// budget left (the run a capped evaluation would make).
    pub(super) fn decide(
        &mut self,
        candidates: &[u32],
        ids: Ids,
        reuse: Reuse,
    ) -> (Response, Flags) {
        let set = self.set;
        let mut flags = Flags::default();
        let mut seen = std::mem::take(&mut self.seen);
        let response = authorize::decide_by(set, self.options, candidates, |i, left| {
            let policy = &set.policies[i as usize].policy;
            if !self.in_scope(i, ids.resource) {
                return (PolicyOutcome::ScopeMismatch, 0);
            }
            // The test of `outcome`: a recorded run is the one an
            // evaluation capped at `left` would make when it fit.
            let recorded = seen
                .iter()
                .find(|(j, o, steps)| *j == i && *steps <= left && !cut_by_limit(o))
                .filter(|_| reuse == Reuse::Replay)
                .map(|(_, o, steps)| (o.clone(), *steps));
            let (outcome, steps) = match recorded {
                Some(known) => known,
                None => self.outcome(i, ids, left),
            };
            if reuse == Reuse::Record {
                seen.push((i, outcome.clone(), steps));
            }
            let permit = policy.effect == Effect::Permit;
            match &outcome {
                PolicyOutcome::Satisfied if permit => flags.permit_satisfied = true,
                PolicyOutcome::Satisfied => flags.forbid_satisfied = true,
                PolicyOutcome::Error(_) if permit => flags.permit_error = true,
                PolicyOutcome::Error(_) => flags.forbid_error = true,
                PolicyOutcome::ScopeMismatch | PolicyOutcome::NotSatisfied => {}
            }
            if let (Some(c), PolicyOutcome::Satisfied) = (self.coverage.as_mut(), &outcome) {
                c.satisfied(i, permit);
            }
            (outcome, steps)
        });
        self.seen = seen;
        flags.spent = response
            .errors
            .iter()
            .any(|e| matches!(e.error.kind, EvalErrorKind::RequestStepLimit { .. }));
        if let (Some(c), Decision::Allow) = (self.coverage.as_mut(), response.decision) {
            // The determining permits are the satisfied candidates, in order.
            for id in &response.determining {
                if let Some(&i) = candidates
                    .iter()
                    .find(|&&i| &set.policies[i as usize].id == id)
                {
                    c.stats[i as usize].allowed += 1;
                }
            }
        }
        (response, flags)
    }
}

/// Merges two sorted lists of policy numbers into `out`, each once.
fn merge_sorted(a: &[u32], b: &[u32], out: &mut Vec<u32>) {
    out.clear();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let next = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) if x == y => {
                i += 1;
                j += 1;
                x
            }
            (Some(&x), Some(&y)) if x < y => {
                i += 1;
                x
            }
            (Some(_), Some(&y)) | (None, Some(&y)) => {
                j += 1;
                y
            }
            (Some(&x), None) => {
                i += 1;
                x
            }
            (None, None) => break,
        };
        out.push(next);
    }
}
