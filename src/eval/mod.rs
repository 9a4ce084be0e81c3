//! The evaluation stage: the interpreter and rules, over the values of
//! [`crate::value`].

pub mod error;
pub mod interp;
pub mod like;

pub use error::{EvalError, EvalErrorKind};
pub use interp::{Evaluator, NoTrace, Tracer};
// Values live in `crate::value`, below evaluation and the entity store.
pub use crate::value::Value;
