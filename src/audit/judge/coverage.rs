//! What a pass over requests saw: per-policy counts and rule coverage
//! (for the findings).

use crate::policy_set::PolicySet;

/// Per-policy counts over the requests judged (for the findings).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyStats {
    /// Requests whose scope matched and whose conditions held.
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

    /// Adds what `other` saw.
    pub fn merge(&mut self, other: &Coverage) {
        for (a, b) in self.stats.iter_mut().zip(&other.stats) {
            a.satisfied += b.satisfied;
            a.allowed += b.allowed;
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
