//! The recording tracer: the same interpreter, remembering every rule call,
//! its arguments, each clause's result, and the calls made inside each clause.

use crate::eval::{EvalError, Tracer};
use crate::syntax::Span;
use crate::value::Value;

/// One rule call as it happened.
#[derive(Clone, Debug, PartialEq)]
pub struct CallRecord {
    /// The rule's index in the policy set.
    pub rule: u32,
    /// The argument values.
    pub args: Vec<Value>,
    /// The call expression.
    pub span: Span,
    /// Each clause evaluated, in order: its index, result and the calls made
    /// while evaluating it.
    pub clauses: Vec<ClauseRecord>,
    /// The call's result.
    pub result: Result<bool, EvalError>,
}

/// One clause of a call.
#[derive(Clone, Debug, PartialEq)]
pub struct ClauseRecord {
    /// The clause's index in the rule.
    pub index: usize,
    /// Its result.
    pub result: Result<bool, EvalError>,
    /// The calls made while evaluating it.
    pub calls: Vec<CallRecord>,
}

/// A [`Tracer`] that records the tree of rule calls.
#[derive(Clone, Debug, Default)]
pub struct Recorder {
    /// Finished top-level calls.
    pub roots: Vec<CallRecord>,
    /// Calls in progress, innermost last, with the calls made so far in the
    /// clause being evaluated.
    stack: Vec<(CallRecord, Vec<CallRecord>)>,
}

fn as_bool(r: &Result<Value, EvalError>) -> Result<bool, EvalError> {
    match r {
        Ok(Value::Bool(b)) => Ok(*b),
        Ok(_) => Ok(false),
        Err(e) => Err(e.clone()),
    }
}

impl Tracer for Recorder {
    fn rule_enter(&mut self, rule: u32, args: &[Value], span: Span) {
        self.stack.push((
            CallRecord {
                rule,
                args: args.to_vec(),
                span,
                clauses: Vec::new(),
                result: Ok(false),
            },
            Vec::new(),
        ));
    }

    fn rule_clause(&mut self, _rule: u32, clause: usize, result: &Result<Value, EvalError>) {
        if let Some((record, pending)) = self.stack.last_mut() {
            record.clauses.push(ClauseRecord {
                index: clause,
                result: as_bool(result),
                calls: std::mem::take(pending),
            });
        }
    }

    fn rule_exit(&mut self, _rule: u32, result: &Result<Value, EvalError>) {
        if let Some((mut record, _)) = self.stack.pop() {
            record.result = as_bool(result);
            match self.stack.last_mut() {
                Some((_, pending)) => pending.push(record),
                None => self.roots.push(record),
            }
        }
    }
}
