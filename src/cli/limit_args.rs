//! The limit flags of the commands that load policies or data: every field
//! of [`Limits`], with its default shown in `--help`.

use crate::limits::{
    Limits, MAX_EXPR_DEPTH_CEILING, MAX_FILE_BYTES_CEILING, MAX_JSON_DEPTH_CEILING,
    MAX_NESTING_CEILING, MAX_RULE_DEPTH_CEILING,
};

/// A flag's value, at most `ceiling` (the limit's own, from `limits`): a
/// value past it is refused with the flag's name, exit 1.
fn at_most(ceiling: usize) -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::<usize>::new().range(..=ceiling as u64)
}

/// `--max-nesting`, `--max-expr-depth`, … (see [`Limits`] for each).
#[derive(clap::Args, Clone, Debug)]
#[command(next_help_heading = "Limits")]
pub struct LimitArgs {
    /// Deepest nesting of brackets, `if`s and quantifiers in one item.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_nesting, value_parser = at_most(MAX_NESTING_CEILING))]
    pub max_nesting: usize,
    /// Deepest expression tree (chains such as `a + b + …` count one level per operator).
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_expr_depth, value_parser = at_most(MAX_EXPR_DEPTH_CEILING))]
    pub max_expr_depth: usize,
    /// Deepest chain of rule calls in one evaluation.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_rule_depth, value_parser = at_most(MAX_RULE_DEPTH_CEILING))]
    pub max_rule_depth: usize,
    /// Most evaluation steps for one policy and request.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_steps)]
    pub max_steps: u64,
    /// Most evaluation steps for one request, across its policies; when spent, the request is denied.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_request_steps)]
    pub max_request_steps: u64,
    /// Largest policy or declaration file, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_policy_file_bytes, value_parser = at_most(MAX_FILE_BYTES_CEILING))]
    pub max_policy_file_bytes: usize,
    /// Largest entity, request or context file, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_data_file_bytes, value_parser = at_most(MAX_FILE_BYTES_CEILING))]
    pub max_data_file_bytes: usize,
    /// Largest set built during evaluation.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_set_size)]
    pub max_set_size: usize,
    /// Deepest nesting of JSON arrays and objects in data (at most 127).
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_json_depth, value_parser = at_most(MAX_JSON_DEPTH_CEILING))]
    pub max_json_depth: usize,
}

impl LimitArgs {
    /// The limits the flags give.
    pub fn limits(&self) -> Limits {
        Limits {
            max_nesting: self.max_nesting,
            max_expr_depth: self.max_expr_depth,
            max_rule_depth: self.max_rule_depth,
            max_steps: self.max_steps,
            max_request_steps: self.max_request_steps,
            max_policy_file_bytes: self.max_policy_file_bytes,
            max_data_file_bytes: self.max_data_file_bytes,
            max_set_size: self.max_set_size,
            max_json_depth: self.max_json_depth,
        }
    }
}

/// The limits of parsing alone (`mspl fmt`, which evaluates nothing):
/// `--max-nesting`, `--max-expr-depth`, `--max-policy-file-bytes`.
#[derive(clap::Args, Clone, Debug)]
#[command(next_help_heading = "Limits")]
pub struct ParseLimitArgs {
    /// Deepest nesting of brackets, `if`s and quantifiers in one item.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_nesting, value_parser = at_most(MAX_NESTING_CEILING))]
    pub max_nesting: usize,
    /// Deepest expression tree (chains such as `a + b + …` count one level per operator).
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_expr_depth, value_parser = at_most(MAX_EXPR_DEPTH_CEILING))]
    pub max_expr_depth: usize,
    /// Largest policy or declaration file, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_policy_file_bytes, value_parser = at_most(MAX_FILE_BYTES_CEILING))]
    pub max_policy_file_bytes: usize,
}

impl ParseLimitArgs {
    /// The limits the flags give (the others at their defaults).
    pub fn limits(&self) -> Limits {
        Limits {
            max_nesting: self.max_nesting,
            max_expr_depth: self.max_expr_depth,
            max_policy_file_bytes: self.max_policy_file_bytes,
            ..Limits::default()
        }
    }
}
