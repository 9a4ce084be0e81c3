//! The evaluation stage: the interpreter and rules, over the values of
//! [`crate::value`].

// Every index into the stack, the rules or a set is checked: an impossible
// number is an internal error that fails closed, never a panic.
#![deny(clippy::indexing_slicing)]

pub mod error;
pub mod interp;
pub mod like;

pub use error::{EvalError, EvalErrorKind};
pub use interp::{Evaluator, NoTrace, Tracer, DEADLINE_EVERY};
// Values live in `crate::value`, below evaluation and the entity store.
pub use crate::value::Value;

use crate::syntax::ast::{CallTarget, Expr, ExprKind, Name};
use crate::syntax::Span;

/// The expression `name(local 0, local 1, …)` calling rule number `rule`
/// with `arity` arguments: evaluated after [`Evaluator::bind_locals`], it
/// calls a rule with values a tool chose (the audit's findings, the
/// generator's invariants).
pub fn rule_call(name: &Name, rule: u32, arity: usize) -> Expr {
    let span = Span::default();
    let args = (0..arity)
        .map(|i| {
            #[expect(clippy::cast_possible_truncation, reason = "a rule's arity is its parameters in a source of at most u32::MAX bytes")]
            let local = i as u32;
            Expr::new(ExprKind::Local(local, "arg".into()), span)
        })
        .collect();
    Expr::new(
        ExprKind::Call {
            name: name.clone(),
            args,
            target: CallTarget::Rule(rule),
        },
        span,
    )
}
