//! `mspl test --coverage`: which policies, condition parts and rule clauses
//! a suite exercised, and which never ran, from the tracing evaluator.

use super::Suite;
use crate::authorize::scope_matches;
use crate::eval::Evaluator;
use crate::explain::parts_of;
use crate::explain::trace::{CallRecord, Recorder};
use crate::limits::Limits;
use crate::policy_set::PolicySet;
use std::collections::BTreeMap;
use std::fmt::Write;

/// What one thing was seen to do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Seen {
    /// Evaluated to true (a clause: held).
    pub true_: bool,
    /// Evaluated to false.
    pub false_: bool,
    /// Raised an error.
    pub error: bool,
}

impl Seen {
    fn record(&mut self, r: &Result<bool, crate::eval::EvalError>) {
        match r {
            Ok(true) => self.true_ = true,
            Ok(false) => self.false_ = true,
            Err(_) => self.error = true,
        }
    }

    fn ran(&self) -> bool {
        self.true_ || self.false_ || self.error
    }
}

/// Coverage gathered over a run, keyed by source location so that several
/// test files over the same policies add up.
#[derive(Clone, Debug, Default)]
pub struct Coverage {
    /// Policy (file, line, id) -> (scope matched, applied).
    policies: BTreeMap<(String, usize, String), (bool, bool)>,
    /// Condition part (file, line, column, text) -> what it evaluated to.
    parts: BTreeMap<(String, usize, usize, String), Seen>,
    /// Rule clause (file, line, rule) -> whether it ran and held.
    clauses: BTreeMap<(String, usize, String), Seen>,
}

impl Coverage {
    /// Notes everything `suite` can reach, so that what never ran is listed.
    pub fn register(&mut self, set: &PolicySet) {
        for entry in &set.policies {
            let (line, _) = set.sources.line_column(entry.policy.head);
            let key = (
                set.sources.name(entry.policy.head.file).to_string(),
                line,
                entry.id.to_string(),
            );
            self.policies.entry(key).or_default();
            for c in &entry.policy.conditions {
                for part in parts_of(&c.body, c.kind) {
                    self.parts.entry(part_key(set, part)).or_default();
                }
            }
        }
        // Only the rules policies call: an audit finding's rules are
        // exercised by `mspl audit findings`, not by requests.
        let called = set.rules_called(false);
        for (rule, _) in set.rules.iter().zip(&called).filter(|(_, c)| **c) {
            for clause in &rule.clauses {
                self.clauses
                    .entry(clause_key(set, &rule.name, clause.head))
                    .or_default();
            }
        }
    }

    /// Runs the suite's requests through the tracing evaluator and records.
    pub fn observe(&mut self, suite: &Suite, limits: &Limits) {
        let set = &suite.set;
        for case in &suite.cases {
            for entry in &set.policies {
                let (line, _) = set.sources.line_column(entry.policy.head);
                let key = (
                    set.sources.name(entry.policy.head.file).to_string(),
                    line,
                    entry.id.to_string(),
                );
                let matched = scope_matches(&entry.policy, &case.request, &suite.entities);
                if !matched {
                    continue;
                }
                let mut applied = true;
                for c in &entry.policy.conditions {
                    for part in parts_of(&c.body, c.kind) {
                        let mut eval = Evaluator::with_tracer(
                            set,
                            &suite.entities,
                            &case.request,
                            limits,
                            Recorder::default(),
                        );
                        let result = eval.eval_bool(part, "a condition");
                        self.parts
                            .entry(part_key(set, part))
                            .or_default()
                            .record(&result);
                        let met = result.as_ref().ok()
                            == Some(&(c.kind == crate::syntax::ast::ConditionKind::When));
                        applied &= met;
                        for call in &eval.tracer.roots {
                            self.record_call(set, call);
                        }
                    }
                }
                let local = self.policies.entry(key).or_default();
                local.0 = true;
                local.1 |= applied;
            }
        }
    }

    fn record_call(&mut self, set: &PolicySet, call: &CallRecord) {
        let rule = &set.rules[call.rule as usize];
        for clause in &call.clauses {
            let head = rule.clauses[clause.index].head;
            self.clauses
                .entry(clause_key(set, &rule.name, head))
                .or_default()
                .record(&clause.result);
            for sub in &clause.calls {
                self.record_call(set, sub);
            }
        }
    }

    /// The report: totals, then what never ran or never went each way.
    pub fn report(&self) -> String {
        let mut out = String::new();
        let matched = self.policies.values().filter(|(m, _)| *m).count();
        let applied = self.policies.values().filter(|(_, a)| *a).count();
        let parts_both = self.parts.values().filter(|s| s.true_ && s.false_).count();
        let parts_ran = self.parts.values().filter(|s| s.ran()).count();
        let clauses_held = self.clauses.values().filter(|s| s.true_).count();
        let clauses_ran = self.clauses.values().filter(|s| s.ran()).count();
        let _ = writeln!(out, "coverage:");
        let _ = writeln!(
            out,
            "  policies: {matched}/{} matched by some request, {applied}/{} applied",
            self.policies.len(),
            self.policies.len()
        );
        let _ = writeln!(
            out,
            "  condition parts: {parts_ran}/{} evaluated, {parts_both}/{} seen both true and false",
            self.parts.len(),
            self.parts.len()
        );
        let _ = writeln!(
            out,
            "  rule clauses: {clauses_ran}/{} evaluated, {clauses_held}/{} held",
            self.clauses.len(),
            self.clauses.len()
        );
        for ((file, line, id), (m, a)) in &self.policies {
            if !m {
                let _ = writeln!(out, "  never matched: policy `{id}` ({file}:{line})");
            } else if !a {
                let _ = writeln!(out, "  never applied: policy `{id}` ({file}:{line})");
            }
        }
        for ((file, line, column, text), s) in &self.parts {
            let what = match (s.ran(), s.true_, s.false_) {
                (false, ..) => "never evaluated",
                (true, false, _) => "never true",
                (true, _, false) => "never false",
                _ => continue,
            };
            let _ = writeln!(out, "  {what}: `{text}` ({file}:{line}:{column})");
        }
        for ((file, line, rule), s) in &self.clauses {
            if !s.ran() {
                let _ = writeln!(
                    out,
                    "  never evaluated: a clause of rule `{rule}` ({file}:{line})"
                );
            } else if !s.true_ {
                let _ = writeln!(
                    out,
                    "  never held: a clause of rule `{rule}` ({file}:{line})"
                );
            }
        }
        out
    }
}

fn part_key(set: &PolicySet, part: &crate::syntax::ast::Expr) -> (String, usize, usize, String) {
    let (line, column) = set.sources.line_column(part.span);
    let text: String = set
        .sources
        .snippet(part.span)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    (
        set.sources.name(part.span.file).to_string(),
        line,
        column,
        text,
    )
}

fn clause_key(set: &PolicySet, name: &str, head: crate::syntax::Span) -> (String, usize, String) {
    let (line, _) = set.sources.line_column(head);
    (
        set.sources.name(head.file).to_string(),
        line,
        name.to_string(),
    )
}
