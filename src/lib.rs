//! The tools of mspl, the Model Studio Policy Language, over the `mspl`
//! library: the command line ([`cli`]), the REPL, the access review
//! ([`audit`]), policy diffs ([`diff`]), generated worlds ([`generate`]),
//! policy tests ([`testing`]), the language server ([`lsp`]) and the
//! decision server ([`serve`]).
//!
//! The library's stages are reached through `mspl::__internal` (released
//! with these tools, version for version); they are re-exported here under
//! their own names so that every tool names a stage the same way.

// The library's stages, as `crate::syntax`, `crate::eval`, …
pub(crate) use mspl::__internal::*;

pub mod audit;
pub mod cli;
pub mod consistency;
#[cfg(feature = "postgres")]
pub mod db;
pub mod diff;
pub mod entity_source;
pub mod exit;
pub mod generate;
pub mod lsp;
pub mod repl;
#[cfg(feature = "serve")]
pub mod serve;
pub mod sql_filter;
pub mod testing;
pub mod verify;
