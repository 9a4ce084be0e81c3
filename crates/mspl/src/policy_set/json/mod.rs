//! Cedar's JSON policy format (the "EST"), both ways: a `*.cedar.json`
//! file (`staticPolicies`, `templates`, `templateLinks`, or one policy)
//! read into the same AST as the equivalent text, every node's span
//! pointing into the JSON; and policies written as that JSON (`mspl
//! translate --to json`), refusing what Cedar has no form for.

mod read;
mod write;

pub use read::{read_policy_set_json, ReadPolicies};
pub use write::{policy_set_to_json, policy_to_json, NoJsonForm};
