//! The evaluation stage: values, the interpreter, rules, extension types.

pub mod error;
pub mod ext;
pub mod interp;
pub mod like;
pub mod value;

pub use error::{EvalError, EvalErrorKind};
pub use interp::{Evaluator, NoTrace, Tracer};
pub use value::Value;
