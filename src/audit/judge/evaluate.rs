//! Evaluating a policy or a condition on the request being built, with
//! the memo: kept outcomes reused while the budgets allow, fresh
//! evaluations traced for what they read.

use super::{Ids, Judge};
use crate::audit::memo::{
    key, Kept, Known, KnownCondition, Projection, Reads, Spec, Table, READ_PRINCIPAL,
};
use crate::authorize::{evaluate_condition, evaluate_conditions, PolicyOutcome};
use crate::eval::{EvalError, EvalErrorKind, Evaluator};
use crate::syntax::ast::ConditionKind;

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
        let mut depends = Depends(0);
        let known = self.probe_noting(i, ids, &mut depends);
        (known, depends.0)
    }

    /// [`Self::probe`], with the shape of what the evaluation read. Each
    /// condition's value is kept on its own, under what that condition
    /// read (a policy's `unless` on the resource alone is shared by every
    /// principal), and the policy's outcome is composed from them as
    /// [`evaluate_conditions`] would reach it; where the conditions
    /// together would pass the per-policy step limit, the policy is
    /// evaluated whole.
    pub(super) fn probe_spec(&mut self, i: u32, ids: Ids) -> (Known, Spec) {
        let mut spec = Spec::none();
        let known = self.probe_noting(i, ids, &mut spec);
        (known, spec)
    }

    /// [`Self::probe_spec`], noting what was read in `read`.
    fn probe_noting(&mut self, i: u32, ids: Ids, read: &mut impl Noted) -> Known {
        let composed = self.compose(i, |judge, k| {
            let (known, t) = judge.condition(i, k, ids)?;
            read.add(&judge.memo[i as usize][k].tables[t].spec);
            Some(known)
        });
        match composed {
            Some(known) => known,
            None => self.whole(i, read),
        }
    }

    /// Policy `i`'s outcome composed from its conditions' values as
    /// [`evaluate_conditions`] reaches it, each from `value` (called in
    /// order, as far as the outcome needs); `None` where a value is
    /// missing or the conditions together pass the per-policy step limit.
    fn compose(
        &mut self,
        i: u32,
        mut value: impl FnMut(&mut Self, usize) -> Option<KnownCondition>,
    ) -> Option<Known> {
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
            let known = value(self, k)?;
            steps += known.steps;
            if steps > budget {
                return None;
            }
            let outcome = match known.value {
                Ok(b) if b == (c.kind == ConditionKind::When) => continue,
                Ok(_) => PolicyOutcome::NotSatisfied,
                Err(e) => PolicyOutcome::Error(*e),
            };
            return Some(Known { outcome, steps });
        }
        Some(Known {
            outcome: PolicyOutcome::Satisfied,
            steps,
        })
    }

    /// Policy `i` evaluated whole with a full budget, what it read noted
    /// in `read` (in place of what was noted).
    fn whole(&mut self, i: u32, read: &mut impl Noted) -> Known {
        let (outcome, steps, spec) = self.evaluate(i, self.options.limits.max_request_steps);
        read.set(spec);
        Known { outcome, steps }
    }

    /// Condition `k` of policy `i` on `ids`: kept, or evaluated alone with
    /// a full budget (and kept); with the number of its memo table.
    /// `None` when a step limit cut it.
    fn condition(&mut self, i: u32, k: usize, ids: Ids) -> Option<(KnownCondition, usize)> {
        if let Some(kept) = self.kept_condition(i, k, ids) {
            return Some(kept);
        }
        let (value, steps, spec, within) = self.evaluate_condition(i, k);
        if value.as_ref().is_err_and(limit_error) {
            return None;
        }
        let known = KnownCondition {
            value: value.map_err(Box::new),
            steps,
        };
        let memo = &mut self.memo[i as usize][k];
        let t = match memo.tables.iter().position(|table| table.spec == spec) {
            Some(t) => t,
            None => {
                if spec.vars & READ_PRINCIPAL != 0 {
                    self.by_principal.push((i, k, memo.tables.len()));
                }
                let shape = self.interner.shape(&spec, self.entities);
                let kept = Kept::new(&spec);
                memo.tables.push(Table { spec, shape, kept });
                memo.tables.len() - 1
            }
        };
        let table = &mut memo.tables[t];
        let key = key(ids, &table.shape, &mut self.interner, self.entities);
        table.kept.insert(
            key,
            ids.principal,
            within,
            known.clone(),
            &mut self.interner,
            self.entities,
        );
        Some((known, t))
    }

    /// Condition `k` of policy `i` on `ids` when kept, and the number of
    /// the memo table it was kept in.
    fn kept_condition(&mut self, i: u32, k: usize, ids: Ids) -> Option<(KnownCondition, usize)> {
        let (memo, interner, entities) =
            (&self.memo[i as usize][k], &mut self.interner, self.entities);
        memo.tables.iter().enumerate().find_map(|(t, table)| {
            table
                .kept
                .get(
                    key(ids, &table.shape, interner, entities),
                    ids.principal,
                    interner,
                    entities,
                )
                .map(|known| (known.clone(), t))
        })
    }

    /// Policy `i`'s outcome on `ids` and its steps when the kept values of
    /// its conditions decide it as [`Self::probe_spec`] would, without
    /// evaluating anything; `None` when a condition it needs is not kept.
    pub(super) fn kept(&mut self, i: u32, ids: Ids) -> Option<Known> {
        self.compose(i, |judge, k| {
            judge.kept_condition(i, k, ids).map(|(known, _)| known)
        })
    }

    /// Evaluates condition `k` of policy `i` alone on the request being
    /// built, as a fresh evaluator with a full budget would.
    /// Also the node the principal was tested `in`, as [`Reads`] noted it.
    fn evaluate_condition(
        &mut self,
        i: u32,
        k: usize,
    ) -> (Result<bool, EvalError>, u64, Spec, Option<Option<u32>>) {
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
        let (outcome, steps, spec, _) = self.traced(left, |eval| evaluate_conditions(policy, eval));
        (outcome, steps, spec)
    }

    /// Runs `f` on a fresh evaluator of the request being built, with the
    /// audit's tracer, capped at `left` steps: what it gave, the steps it
    /// took, what it read and the node it tested the principal `in`.
    fn traced<R>(
        &mut self,
        left: u64,
        f: impl FnOnce(&mut Evaluator<'_, Reads<'_>>) -> R,
    ) -> (R, u64, Spec, Option<Option<u32>>) {
        let buffers = self.buffers.take().unwrap_or_default();
        let tracer = Reads {
            vars: 0,
            resource_attr: None,
            principal: Projection::default(),
            within: None,
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
        let within = eval.tracer.within;
        self.buffers = Some(eval.into_buffers());
        (result, steps, spec, within)
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

/// What a probe notes of what its evaluations read.
trait Noted {
    /// Adds what one condition's evaluation read.
    fn add(&mut self, read: &Spec);
    /// Replaces what was noted by what the policy's evaluation read.
    fn set(&mut self, read: Spec);
}

/// The whole shape.
impl Noted for Spec {
    fn add(&mut self, read: &Spec) {
        self.absorb(read);
    }
    fn set(&mut self, read: Spec) {
        *self = read;
    }
}

/// Only the variables the outcome depends on ([`Spec::depends`]: that of
/// two shapes together is the union of theirs).
struct Depends(u8);

impl Noted for Depends {
    fn add(&mut self, read: &Spec) {
        self.0 |= read.depends();
    }
    fn set(&mut self, read: Spec) {
        self.0 = read.depends();
    }
}
