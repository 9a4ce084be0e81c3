//! mspl, the Model Studio Policy Language: a Cedar/OPA-style authorization
//! language and its tools.
//!
//! The pipeline: text -> tokens / parse tree ([`syntax`]) -> AST -> linked
//! [`PolicySet`] ([`policy_set`], with declarations in [`schema`]) ->
//! evaluation ([`eval`]) against an [`Entities`] store -> decision
//! ([`authorize`]). [`diag`] renders every problem; [`cli`] is the binary.

pub mod audit;
pub mod authorize;
pub mod builtins;
#[cfg(feature = "cli")]
pub mod cli;
pub mod diag;
pub mod diff;
pub mod engine;
pub mod entities;
pub mod eval;
pub mod explain;
pub mod files;
pub mod fmt;
pub mod generate;
pub mod limits;
#[cfg(feature = "cli")]
pub mod lsp;
pub mod policy_set;
pub mod repl;
pub mod schema;
#[cfg(feature = "serve")]
pub mod serve;
pub mod span;
pub mod suggest;
pub mod syntax;
pub mod testing;
pub mod validate;
pub mod value;

pub use authorize::{Decision, DenyKind, ErrorMode, Options, PolicyError, Response};
pub use engine::{Engine, Error};
pub use entities::json::Request;
pub use entities::Entities;
pub use limits::Limits;
pub use policy_set::{IdScheme, Loader, PolicySet};
