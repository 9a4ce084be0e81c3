//! Two versions of a policy set judged at once (`mspl diff`): which
//! requests need no judging, and both decisions of those that do.

use super::evaluate::cut_by_limit;
use super::{Flags, Ids, Judge, Reuse};
use crate::authorize::{self, entity_constraint, PolicyOutcome, Response};

/// Two versions of a policy set judged at once, for `mspl diff`: the
/// judge's set holds the policies of both, each in one version or in both
/// (unchanged), so that what the versions share is evaluated once.
///
/// A decision does not depend on the order its policies are judged in
/// (the request's budget is spent exactly when their steps together pass
/// it), so a request none of whose candidates is in only one version is
/// decided alike by both and is not judged.
#[derive(Clone, Debug, Default)]
pub struct Versions {
    /// Per policy of the set: whether the old version has it.
    pub old: Vec<bool>,
    /// Per policy: whether the new version has it.
    pub new: Vec<bool>,
    /// The policies in only one version, in order.
    pub changed: Vec<u32>,
    /// Per policy in only one version: its counterpart in the other (the
    /// same policy, changed), if it has one.
    pub partner: Vec<Option<u32>>,
}

impl Judge<'_> {
    /// Whether both versions decide the request being built alike without
    /// judging it: no changed policy of `candidates` applies to its
    /// resource.
    pub(super) fn untouched(&self, v: &Versions, candidates: &[u32]) -> bool {
        let (set, entities) = (self.set, self.entities);
        !candidates.iter().any(|&i| {
            !(v.old[i as usize] && v.new[i as usize])
                && entity_constraint(
                    &set.policies[i as usize].policy.resource,
                    &self.request.resource,
                    entities,
                )
        })
    }

    /// Whether every changed policy of `candidates` that applies to the
    /// request being built has a counterpart in the other version that
    /// gives the same outcome: the same effect, both applying, both not
    /// (scope or conditions) or both erring, in the same steps (or any
    /// steps where the budget cannot run out). Then the versions judge the
    /// same outcomes and decide alike.
    pub(super) fn pairs_agree(&mut self, v: &Versions, candidates: &[u32], ids: Ids) -> bool {
        /// What an outcome counts for in a decision.
        #[derive(PartialEq)]
        enum Counts {
            Applies,
            Not,
            Errs,
        }
        let set = self.set;
        let limits = &self.options.limits;
        let safe = ((candidates.len() + v.changed.len()) as u64 + 1)
            .saturating_mul(limits.max_steps.saturating_add(1))
            < limits.max_request_steps;
        let judged = |judge: &mut Self, i: u32| -> Option<(Counts, u64)> {
            let policy = &set.policies[i as usize].policy;
            if !authorize::scope_matches(policy, &judge.request, judge.entities) {
                return Some((Counts::Not, 0));
            }
            let (known, _) = judge.probe(i, ids);
            match known.outcome {
                _ if cut_by_limit(&known.outcome) => None,
                PolicyOutcome::Satisfied => Some((Counts::Applies, known.steps)),
                PolicyOutcome::Error(_) => Some((Counts::Errs, known.steps)),
                PolicyOutcome::ScopeMismatch | PolicyOutcome::NotSatisfied => {
                    Some((Counts::Not, known.steps))
                }
            }
        };
        for &c in candidates {
            if v.old[c as usize] && v.new[c as usize] {
                continue;
            }
            let Some(p) = v.partner[c as usize] else {
                return false;
            };
            let same_effect =
                set.policies[c as usize].policy.effect == set.policies[p as usize].policy.effect;
            let (Some(a), Some(b)) = (judged(self, c), judged(self, p)) else {
                return false;
            };
            if !same_effect && (a.0 != Counts::Not || b.0 != Counts::Not) {
                return false;
            }
            if a.0 != b.0 || (!safe && a.1 != b.1) {
                return false;
            }
        }
        true
    }

    /// Both versions' decisions of the request being built, whose
    /// candidates in the merged set are `candidates`; the response is the
    /// new version's.
    pub(super) fn judge_versions(
        &mut self,
        v: &Versions,
        candidates: &[u32],
        ids: Ids,
    ) -> (Response, Flags) {
        let mut old_list = std::mem::take(&mut self.old_list);
        let mut new_list = std::mem::take(&mut self.new_list);
        old_list.clear();
        new_list.clear();
        old_list.extend(candidates.iter().filter(|&&i| v.old[i as usize]));
        new_list.extend(candidates.iter().filter(|&&i| v.new[i as usize]));
        self.seen.clear();
        let (new, mut flags) = self.decide(&new_list, ids, Reuse::Record);
        let (old, _) = self.decide(&old_list, ids, Reuse::Replay);
        flags.flipped = old.decision != new.decision;
        self.old_list = old_list;
        self.new_list = new_list;
        (new, flags)
    }
}
