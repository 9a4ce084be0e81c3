//! Evaluating a policy or a condition on the request being built, with
//! the memo: kept outcomes reused while the budgets allow, fresh
//! evaluations traced for what they read.

use super::{Ids, Judge};
use crate::audit::memo::{key, Known, KnownCondition, Projection, Reads, Spec};
use crate::authorize::{evaluate_condition, evaluate_conditions, PolicyOutcome};
use crate::eval::{EvalError, EvalErrorKind, Evaluator};
use crate::syntax::ast::ConditionKind;
use std::collections::HashMap;

impl Judge<'_> {
    /// Policy `i`'s outcome on the request being built, with `left` steps
    /// left in the request's budget: kept, or evaluated (and kept).
    pub(super) fn outcome(&mut self, i: u32, ids: Ids, left: u64) -> (PolicyOutcome, u64) {
        let (known, _) = self.probe(i, ids);
        if known.steps <= left && !cut_by_limit(&known.outcome) {
            return (known.outcome, known.steps);
        }
        // The request's budget has less left than this evaluation took, or
        // a limit cut it: the run a plain decision would make.
        let (outcome, steps, _) = self.evaluate(i, left);
        (outcome, steps)
    }

    /// Policy `i`'s kept outcome for `ids` and the variables it depends on,
    /// evaluating it with a full budget when none is kept. An outcome cut
    /// by a limit is returned but not kept.
    pub(super) fn probe(&mut self, i: u32, ids: Ids) -> (Known, u8) {
        let (known, spec) = self.probe_spec(i, ids);
        (known, spec.depends())
    }

    /// [`Self::probe`], with the shape of what the evaluation read. Each
    /// condition's value is kept on its own, under what that condition
    /// read (a policy's `unless` on the resource alone is shared by every
    /// principal), and the policy's outcome is composed from them as
    /// [`evaluate_conditions`] would reach it; where the conditions
    /// together would pass the per-policy step limit, the policy is
    /// evaluated whole.
    pub(super) fn probe_spec(&mut self, i: u32, ids: Ids) -> (Known, Spec) {
        let set = self.set;
        let limits = &self.options.limits;
        let budget = limits.max_steps.min(limits.max_request_steps);
        let mut steps = 0u64;
        let mut spec = Spec {
            vars: 0,
            resource_attr: None,
            principal: Projection::default(),
        };
        for (k, c) in set.policies[i as usize]
            .policy
            .conditions
            .iter()
            .enumerate()
        {
            let Some((known, read)) = self.condition(i, k, ids) else {
                return self.whole(i);
            };
            spec = spec.union(&read);
            steps += known.steps;
            if steps > budget {
                return self.whole(i);
            }
            let outcome = match known.value {
                Ok(b) if b == (c.kind == ConditionKind::When) => continue,
                Ok(_) => PolicyOutcome::NotSatisfied,
                Err(e) => PolicyOutcome::Error(e),
            };
            return (Known { outcome, steps }, spec);
        }
        (
            Known {
                outcome: PolicyOutcome::Satisfied,
                steps,
            },
            spec,
        )
    }

    /// Policy `i` evaluated whole with a full budget, what it read.
    fn whole(&mut self, i: u32) -> (Known, Spec) {
        let (outcome, steps, spec) = self.evaluate(i, self.options.limits.max_request_steps);
        (Known { outcome, steps }, spec)
    }

    /// Condition `k` of policy `i` on `ids`: kept, or evaluated alone with
    /// a full budget (and kept); `None` when a step limit cut it.
    fn condition(&mut self, i: u32, k: usize, ids: Ids) -> Option<(KnownCondition, Spec)> {
        if let Some(kept) = self.kept_condition(i, k, ids) {
            return Some(kept);
        }
        let (value, steps, spec) = self.evaluate_condition(i, k);
        if value.as_ref().is_err_and(limit_error) {
            return None;
        }
        let known = KnownCondition { value, steps };
        let key = key(ids, &spec, &mut self.interner, self.entities);
        let memo = &mut self.memo[i as usize][k];
        let table = match memo.tables.iter().position(|(s, _)| *s == spec) {
            Some(t) => &mut memo.tables[t].1,
            None => {
                let t = memo.tables.len();
                memo.tables.push((spec.clone(), HashMap::default()));
                &mut memo.tables[t].1
            }
        };
        table.insert(key, known.clone());
        Some((known, spec))
    }

    /// Condition `k` of policy `i` on `ids` when kept, and the shape it was
    /// kept under.
    fn kept_condition(&mut self, i: u32, k: usize, ids: Ids) -> Option<(KnownCondition, Spec)> {
        let (memo, interner, entities) =
            (&self.memo[i as usize][k], &mut self.interner, self.entities);
        memo.tables.iter().find_map(|(spec, table)| {
            table
                .get(&key(ids, spec, interner, entities))
                .map(|known| (known.clone(), spec.clone()))
        })
    }

    /// Policy `i`'s outcome on `ids` when the kept values of its conditions
    /// decide it as [`Self::probe_spec`] would, without evaluating
    /// anything; `None` when a condition it needs is not kept.
    pub(super) fn kept(&mut self, i: u32, ids: Ids) -> Option<PolicyOutcome> {
        let set = self.set;
        let limits = &self.options.limits;
        let budget = limits.max_steps.min(limits.max_request_steps);
        let mut steps = 0u64;
        for (k, c) in set.policies[i as usize]
            .policy
            .conditions
            .iter()
            .enumerate()
        {
            let (known, _) = self.kept_condition(i, k, ids)?;
            steps += known.steps;
            if steps > budget {
                return None;
            }
            return match known.value {
                Ok(b) if b == (c.kind == ConditionKind::When) => continue,
                Ok(_) => Some(PolicyOutcome::NotSatisfied),
                Err(e) => Some(PolicyOutcome::Error(e)),
            };
        }
        Some(PolicyOutcome::Satisfied)
    }

    /// Evaluates condition `k` of policy `i` alone on the request being
    /// built, as a fresh evaluator with a full budget would.
    fn evaluate_condition(&mut self, i: u32, k: usize) -> (Result<bool, EvalError>, u64, Spec) {
        let set = self.set;
        let condition = &set.policies[i as usize].policy.conditions[k];
        self.traced(self.options.limits.max_request_steps, |eval| {
            evaluate_condition(condition, eval)
        })
    }

    /// Evaluates policy `i`'s conditions on the request being built, as a
    /// fresh evaluator capped at `left` steps would.
    fn evaluate(&mut self, i: u32, left: u64) -> (PolicyOutcome, u64, Spec) {
        let set = self.set;
        let policy = &set.policies[i as usize].policy;
        self.traced(left, |eval| evaluate_conditions(policy, eval))
    }

    /// Runs `f` on a fresh evaluator of the request being built, with the
    /// audit's tracer, capped at `left` steps: what it gave, the steps it
    /// took and what it read.
    fn traced<R>(
        &mut self,
        left: u64,
        f: impl FnOnce(&mut Evaluator<'_, Reads<'_>>) -> R,
    ) -> (R, u64, Spec) {
        let buffers = self.buffers.take().unwrap_or_default();
        let tracer = Reads {
            vars: 0,
            resource_attr: None,
            principal: Projection::default(),
            coverage: self.coverage.as_mut(),
        };
        let mut eval = Evaluator::with_buffers(
            self.set,
            self.entities,
            &self.request,
            &self.options.limits,
            tracer,
            buffers,
        );
        eval.set_in_place(!self.options.plain);
        eval.set_deadline(self.options.deadline);
        eval.cap_steps(left);
        let result = f(&mut eval);
        let steps = eval.steps();
        let spec = eval.tracer.spec();
        self.buffers = Some(eval.into_buffers());
        (result, steps, spec)
    }
}

/// Whether `e` is a step limit's (and so depends on the budget given).
pub(super) fn limit_error(e: &EvalError) -> bool {
    matches!(
        e.kind,
        EvalErrorKind::StepLimit { .. } | EvalErrorKind::RequestStepLimit { .. }
    )
}

/// Whether `outcome` was cut by a step limit (and so depends on the budget
/// it was given).
pub(super) fn cut_by_limit(outcome: &PolicyOutcome) -> bool {
    matches!(outcome, PolicyOutcome::Error(e) if limit_error(e))
}
