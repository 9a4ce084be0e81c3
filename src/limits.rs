//! Every limit mspl enforces, in one place.
//!
//! Limits are checked by mspl itself before deep recursion, so that the same
//! input gives the same answer in any thread and any build (contract,
//! "Semantics"). A limit reached is an error with a location, and an error
//! fails closed.

/// The limits in force for parsing, loading and evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting of brackets, `if`s and quantifiers in one item.
    pub max_nesting: usize,
    /// Deepest expression tree: brackets, and chains such as `1 + 1 + …`
    /// or `a.b.c.…`, which build one tree level per operator. The default
    /// keeps every walk of a tree (`Drop` included, which no limit can move
    /// to another stack) within a 256 KiB thread stack in a debug build.
    pub max_expr_depth: usize,
    /// Deepest chain of rule calls during one evaluation.
    pub max_rule_depth: usize,
    /// Most evaluation steps (expressions evaluated) for one policy and one
    /// request: each policy starts with the whole budget.
    pub max_steps: u64,
    /// Most evaluation steps for one request, across all the policies whose
    /// scope matched it. When it is spent the request is denied, in both
    /// error modes, with an error naming the policy being judged.
    pub max_request_steps: u64,
    /// Largest policy or declaration file, in bytes.
    pub max_policy_file_bytes: usize,
    /// Largest entity or request file, in bytes.
    pub max_data_file_bytes: usize,
    /// Largest set built during evaluation.
    pub max_set_size: usize,
    /// Deepest nesting of JSON arrays and objects in data; at most 127,
    /// serde_json's own ceiling.
    pub max_json_depth: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_nesting: 200,
            max_expr_depth: 256,
            max_rule_depth: 256,
            max_steps: 1_000_000,
            max_request_steps: 10_000_000,
            max_policy_file_bytes: 64 << 20,
            max_data_file_bytes: 1 << 30,
            max_set_size: 1_000_000,
            max_json_depth: 127,
        }
    }
}

/// The deepest nesting the parser takes whatever [`Limits::max_nesting`]
/// says: past it pest's own recursion guard would stop first, with a
/// message that names no limit.
pub const MAX_NESTING_CEILING: usize = 1000;

impl Limits {
    /// The nesting limit in force: [`Limits::max_nesting`], at most
    /// [`MAX_NESTING_CEILING`].
    pub fn nesting(&self) -> usize {
        self.max_nesting.min(MAX_NESTING_CEILING)
    }
}

/// The stack that recursive stages run on. Nesting and rule depth are
/// bounded by [`Limits`]; this size is what makes those bounds safe whatever
/// stack the caller's thread has.
pub(crate) const STACK_SIZE: usize = 256 << 20;
/// When less than this is left, the recursive stages move to a new stack.
pub(crate) const STACK_RED_ZONE: usize = 1 << 20;

/// Runs `f` with at least [`STACK_RED_ZONE`] of stack, growing it if needed.
#[inline]
pub(crate) fn with_stack<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(STACK_RED_ZONE, STACK_SIZE, f)
}

/// The stack size pest parses on: enough for [`Limits::max_nesting`] levels
/// of the grammar's recursion in any build.
const PARSE_STACK_SIZE: usize = 64 << 20;

/// Runs the parser `f` on a stack of its own, so that the nesting limit, not
/// the caller's thread, bounds what parses.
pub(crate) fn with_parse_stack<R>(f: impl FnOnce() -> R) -> R {
    stacker::grow(PARSE_STACK_SIZE, f)
}
