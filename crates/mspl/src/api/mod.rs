//! The façade: what a service embedding mspl calls, and what stays stable
//! (`docs/library.md`). Opaque types with constructors and accessors; every
//! error says where, and renders as `mspl` prints it.
//!
//! ```
//! use mspl::{Authorizer, Context, Decision, Entities, EntityUid, PolicySet, Request};
//!
//! let policies: PolicySet = r#"
//!     permit (principal, action == Action::"view", resource)
//!     when { resource.owner == principal };
//! "#.parse()?;
//! let entities = Entities::from_json_str(
//!     r#"[{"uid": {"type": "Doc", "id": "d"}, "attrs": {"owner": {"__entity": {"type": "User", "id": "ann"}}}, "parents": []}]"#,
//!     None,
//! )?;
//! let request = Request::new(
//!     "User::\"ann\"".parse()?,
//!     "Action::\"view\"".parse()?,
//!     EntityUid::new("Doc", "d")?,
//!     Context::empty(),
//!     None,
//! )?;
//! let response = Authorizer::new().is_authorized(&request, &policies, &entities);
//! assert_eq!(response.decision(), Decision::Allow);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod data;
mod decide;
mod error;
mod policies;

pub use data::{Context, Entities, EntityUid, Request};
pub use decide::{AuthorizationError, Authorizer, Decision, DenyKind, Explanation, Response};
pub use error::{DataError, LimitError, LoadError, Problem};
pub use policies::{Limits, PolicySet, PolicySetBuilder, Schema, ValidationReport};

/// A prepared policy set is shared between a service's threads.
const _: () = {
    const fn shared_between_threads<T: Send + Sync>() {}
    shared_between_threads::<PolicySet>();
    shared_between_threads::<Entities>();
    shared_between_threads::<Schema>();
    shared_between_threads::<Authorizer>();
};
