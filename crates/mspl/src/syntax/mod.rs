//! The syntax stage: text -> tokens / parse tree -> AST.
//!
//! `crates/mspl/grammar/mspl.pest` is the one definition of the syntax; [`parser`] runs
//! it and lowers pest's pairs into [`ast`]; [`tokens`] is the logos view of
//! the same terminals for tools that must not wait for a full parse.

pub mod ast;
pub mod dump;
pub mod error;
pub mod json;
pub mod parser;
pub mod reparse;
pub mod schema_json;
pub mod split;
pub mod tokens;
pub mod uid;
pub mod unescape;

pub use error::ParseError;
pub use parser::{parse_expr, parse_file, Parsed};
pub use crate::span::{FileId, Span};
