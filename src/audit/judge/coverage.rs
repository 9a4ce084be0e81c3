//! What a pass over requests saw: per-policy counts and rule coverage
//! (for the findings).

use crate::policy_set::PolicySet;
use crate::syntax::ast::{CallTarget, Effect, ExprKind};

/// Per-policy counts over the requests judged (for the findings).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyStats {
    /// Whether some request matched its scope and satisfied its conditions.
    pub reached: bool,
    /// For a permit, the requests that satisfied it (forbids are not
    /// counted: the findings ask only whether one was reached).
    pub satisfied: u64,
    /// Requests allowed with this policy among the determining ones.
    pub allowed: u64,
}

/// What a pass over requests saw: per-policy counts, the rules called and
/// the clauses that held.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Per policy, in load order.
    pub stats: Vec<PolicyStats>,
    /// Per rule: whether it was called.
    pub entered: Vec<bool>,
    /// Per rule and clause: whether the clause held.
    pub held: Vec<Vec<bool>>,
}

impl Coverage {
    /// Nothing seen yet, for `set`.
    pub fn new(set: &PolicySet) -> Coverage {
        Coverage {
            stats: vec![PolicyStats::default(); set.policies.len()],
            entered: vec![false; set.rules.len()],
            held: set
                .rules
                .iter()
                .map(|r| vec![false; r.clauses.len()])
                .collect(),
        }
    }

    /// Notes that policy `i` (a permit when `permit`) was satisfied on one
    /// request.
    pub fn satisfied(&mut self, i: u32, permit: bool) {
        if let Some(stats) = self.stats.get_mut(i as usize) {
            stats.reached = true;
            stats.satisfied += u64::from(permit);
        }
    }

    /// Adds what `other` saw.
    pub fn merge(&mut self, other: &Coverage) {
        for (a, b) in self.stats.iter_mut().zip(&other.stats) {
            a.satisfied += b.satisfied;
            a.allowed += b.allowed;
        }
        self.merge_reach(other);
    }

    /// Adds what `other` saw, its counts aside: which policies were
    /// reached, which rules called and which clauses held.
    pub fn merge_reach(&mut self, other: &Coverage) {
        for (a, b) in self.stats.iter_mut().zip(&other.stats) {
            a.reached |= b.reached;
        }
        for (a, b) in self.entered.iter_mut().zip(&other.entered) {
            *a |= b;
        }
        for (a, b) in self.held.iter_mut().zip(&other.held) {
            for (x, y) in a.iter_mut().zip(b) {
                *x |= y;
            }
        }
    }
}

/// What the forbids' pass still has to learn: per forbid, the rules its
/// conditions call, directly or through other rules.
#[derive(Clone, Debug)]
pub struct Unseen {
    /// Per policy: `None` for a permit, else the rules it may call.
    calls: Vec<Option<Vec<u32>>>,
}

impl Unseen {
    /// The forbids of `set` and the rules each may call.
    pub fn new(set: &PolicySet) -> Unseen {
        let direct: Vec<Vec<u32>> = set
            .rules
            .iter()
            .map(|r| called(r.clauses.iter().map(|c| &c.body)))
            .collect();
        let calls = set
            .policies
            .iter()
            .map(|p| {
                (p.policy.effect == Effect::Forbid).then(|| {
                    let mut reached = called(p.policy.conditions.iter().map(|c| &c.body));
                    let mut next = 0;
                    while let Some(&r) = reached.get(next) {
                        next += 1;
                        for &s in direct.get(r as usize).into_iter().flatten() {
                            if !reached.contains(&s) {
                                reached.push(s);
                            }
                        }
                    }
                    reached.sort_unstable();
                    reached
                })
            })
            .collect();
        Unseen { calls }
    }

    /// Whether evaluating policy `i` could still add to `seen`: it is a
    /// forbid not yet reached, or one of the rules it may call was never
    /// called or has a clause that never held.
    pub fn wants(&self, seen: &Coverage, i: u32) -> bool {
        let Some(Some(rules)) = self.calls.get(i as usize) else {
            return false;
        };
        !seen.stats[i as usize].reached
            || rules
                .iter()
                .any(|&r| !seen.entered[r as usize] || seen.held[r as usize].iter().any(|h| !h))
    }

    /// Whether some forbid could still add to `seen`.
    pub fn any(&self, seen: &Coverage) -> bool {
        (0..self.calls.len()).any(|i| self.wants(seen, crate::policy_set::number(i)))
    }
}

/// The rules `bodies` call directly, each once.
fn called<'e>(bodies: impl Iterator<Item = &'e crate::syntax::ast::Expr>) -> Vec<u32> {
    let mut out = Vec::new();
    for body in bodies {
        crate::syntax::ast::visit(body, &mut |e| {
            if let ExprKind::Call {
                target: CallTarget::Rule(r),
                ..
            } = &e.kind
            {
                if !out.contains(r) {
                    out.push(*r);
                }
            }
        });
    }
    out
}
