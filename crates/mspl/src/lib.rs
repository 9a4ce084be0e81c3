#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
// Without `internals`, the stages are private: what only mspl's own tools
// use of them is unused here, and that is expected.
#![cfg_attr(not(feature = "internals"), allow(dead_code, unused_imports))]

/// Declares the stages of the pipeline: public (and hidden from the
/// documentation) with the `internals` feature, for mspl's own tools and
/// tests through [`__internal`]; private to the crate otherwise.
macro_rules! stages {
    ($($(#[$meta:meta])* $name:ident),* $(,)?) => {
        $(
            $(#[$meta])*
            #[cfg(feature = "internals")]
            #[doc(hidden)]
            pub mod $name;
            $(#[$meta])*
            #[cfg(not(feature = "internals"))]
            mod $name;
        )*
    };
}

stages! {
    /// Resource limits.
    limits,
    /// "Did you mean" suggestions.
    suggest,
    /// Source spans.
    span,
    /// Diagnostics and their rendering.
    diag,
    /// Every read and write of a file.
    files,
    /// Text to AST.
    syntax,
    /// The built-in functions and methods.
    builtins,
    /// Runtime values.
    value,
    /// Declarations.
    schema,
    /// Loading and linking a policy set.
    policy_set,
    /// The entity store and the JSON formats of data.
    entities,
    /// The interpreter.
    eval,
    /// Decisions.
    authorize,
    /// Explanations.
    explain,
    /// The validator.
    validate,
    /// The formatter.
    fmt,
    /// Partial evaluation: a policy set reduced for an unknown resource.
    residual,
}

mod api;
pub use api::*;

/// The stages behind the façade, for mspl's own tools, tests, peers and
/// fuzzers. **Not covered by the stability promise**: anything here may
/// change in any release.
///
/// Even here, a policy index is its set's own: only a [`PreparedSet`]
/// builds one, and decisions are asked of the prepared set, so no decision
/// can use the index of another set.
///
/// ```compile_fail
/// use mspl::__internal::{authorize::PolicyIndex, Options, PolicySet, PreparedSet};
/// let prepared = PreparedSet::new(PolicySet::default(), Options::default());
/// // An index built apart from its set does not compile.
/// let index = PolicyIndex::new(prepared.set());
/// ```
///
/// ```
/// use mspl::__internal::{authorize::PolicyIndex, Options, PolicySet, PreparedSet};
/// let prepared = PreparedSet::new(PolicySet::default(), Options::default());
/// // What compiles: a decision asked of the prepared set.
/// let _: Option<&PolicyIndex> = None;
/// assert!(prepared.set().policies.is_empty());
/// ```
#[cfg(feature = "internals")]
#[doc(hidden)]
pub mod __internal {
    pub use crate::authorize::{
        Decision, DenyKind, ErrorMode, Options, PolicyError, PreparedSet, Response,
    };
    pub use crate::entities::json::Request;
    pub use crate::entities::Entities;
    pub use crate::limits::Limits;
    pub use crate::policy_set::{IdScheme, Loader, PolicySet};
    pub use crate::{
        authorize, builtins, diag, entities, eval, explain, files, fmt, limits, policy_set,
        residual, schema, span, suggest, syntax, validate, value,
    };
}

/// The guide to the library, `docs/library.md`: each example there runs as
/// a test of the library.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/library.md")]
struct LibraryGuide;

/// The README's library section runs as a test of the library too.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct Readme;
