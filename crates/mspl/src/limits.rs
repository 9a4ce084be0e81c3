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

/// The deepest nesting the parser takes: past it pest's own recursion guard
/// would stop first, with a message that names no limit.
pub const MAX_NESTING_CEILING: usize = 1000;

/// The deepest expression tree any limit allows: every walk of a tree
/// (`Drop` included, which no limit can move to another stack) stays
/// within a 2 MiB thread stack in a debug build.
pub const MAX_EXPR_DEPTH_CEILING: usize = 1000;

/// The deepest chain of rule calls any limit allows (evaluation grows its
/// stack as it goes; this bounds the memory a chain may take).
pub const MAX_RULE_DEPTH_CEILING: usize = 100_000;

/// The largest file any limit allows: positions in a source are 32-bit.
pub const MAX_FILE_BYTES_CEILING: usize = u32::MAX as usize;

/// The deepest JSON any limit allows: serde_json's own ceiling, which both
/// JSON readers (data, and Cedar's JSON policy and schema formats) keep.
pub const MAX_JSON_DEPTH_CEILING: usize = 127;

/// A limit given a value outside what it can be.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{name}` is {value}, more than {ceiling}, the most it can be ({why})")]
pub struct LimitError {
    /// The limit, as its flag names it (`max-json-depth`).
    pub name: &'static str,
    /// The value given.
    pub value: u64,
    /// The most it can be.
    pub ceiling: u64,
    /// Why that is the most.
    pub why: &'static str,
}

impl Limits {
    /// These limits, when each is within what it can be; otherwise the
    /// first that is not. Every limit a command line or a caller gives is
    /// checked here before anything runs under it.
    pub fn checked(self) -> Result<Limits, LimitError> {
        let ceilings: [(&'static str, u64, usize, &'static str); 6] = [
            ("max-nesting", self.max_nesting as u64, MAX_NESTING_CEILING, "the parser's own recursion guard"),
            ("max-expr-depth", self.max_expr_depth as u64, MAX_EXPR_DEPTH_CEILING, "a tree's walks stay within a thread's stack"),
            ("max-rule-depth", self.max_rule_depth as u64, MAX_RULE_DEPTH_CEILING, "a chain of calls stays within memory"),
            ("max-policy-file-bytes", self.max_policy_file_bytes as u64, MAX_FILE_BYTES_CEILING, "positions in a source are 32-bit"),
            ("max-data-file-bytes", self.max_data_file_bytes as u64, MAX_FILE_BYTES_CEILING, "positions in a source are 32-bit"),
            ("max-json-depth", self.max_json_depth as u64, MAX_JSON_DEPTH_CEILING, "serde_json's own ceiling"),
        ];
        for (name, value, ceiling, why) in ceilings {
            if value > ceiling as u64 {
                return Err(LimitError {
                    name,
                    value,
                    ceiling: ceiling as u64,
                    why,
                });
            }
        }
        Ok(self)
    }

    /// The nesting limit in force: [`Limits::max_nesting`], at most
    /// [`MAX_NESTING_CEILING`] (limits built without [`Limits::checked`]
    /// are held to it too).
    pub fn nesting(&self) -> usize {
        self.max_nesting.min(MAX_NESTING_CEILING)
    }

    /// The expression depth in force, at most [`MAX_EXPR_DEPTH_CEILING`].
    pub fn expr_depth(&self) -> usize {
        self.max_expr_depth.min(MAX_EXPR_DEPTH_CEILING)
    }

    /// The JSON depth in force, at most [`MAX_JSON_DEPTH_CEILING`].
    pub fn json_depth(&self) -> usize {
        self.max_json_depth.min(MAX_JSON_DEPTH_CEILING)
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
pub fn with_stack<R>(f: impl FnOnce() -> R) -> R {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Each limit at its ceiling is accepted, one past it refused, naming it.
    #[test]
    fn each_limit_is_refused_past_its_ceiling() {
        type Setter = fn(&mut Limits, usize);
        let cases: [(&str, Setter, usize); 6] = [
            ("max-nesting", |l, v| l.max_nesting = v, MAX_NESTING_CEILING),
            ("max-expr-depth", |l, v| l.max_expr_depth = v, MAX_EXPR_DEPTH_CEILING),
            ("max-rule-depth", |l, v| l.max_rule_depth = v, MAX_RULE_DEPTH_CEILING),
            ("max-policy-file-bytes", |l, v| l.max_policy_file_bytes = v, MAX_FILE_BYTES_CEILING),
            ("max-data-file-bytes", |l, v| l.max_data_file_bytes = v, MAX_FILE_BYTES_CEILING),
            ("max-json-depth", |l, v| l.max_json_depth = v, MAX_JSON_DEPTH_CEILING),
        ];
        for (name, set, ceiling) in cases {
            let mut at = Limits::default();
            set(&mut at, ceiling);
            assert!(at.checked().is_ok(), "{name} at {ceiling}");
            let mut past = Limits::default();
            set(&mut past, ceiling + 1);
            let e = past.checked().unwrap_err();
            assert_eq!(e.name, name);
            assert!(e.to_string().contains(&(ceiling + 1).to_string()), "{e}");
        }
        // The step limits and the set size take any value; arithmetic on
        // them saturates.
        let most = Limits {
            max_steps: u64::MAX,
            max_request_steps: u64::MAX,
            max_set_size: usize::MAX,
            ..Limits::default()
        };
        assert!(most.checked().is_ok());
        assert!(Limits::default().checked().is_ok());
    }
}

