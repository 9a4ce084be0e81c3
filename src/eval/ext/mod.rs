//! Cedar's extension types (placeholder until the full module lands).

use std::fmt;

/// A value of one of Cedar's extension types.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExtValue {
    /// Placeholder.
    Decimal(i64),
}
impl ExtValue {
    /// Cedar's type name.
    pub fn type_name(&self) -> &'static str {
        "decimal"
    }
}
impl fmt::Display for ExtValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtValue::Decimal(n) => write!(f, "decimal(\"{n}\")"),
        }
    }
}
/// An argument.
pub enum ExtArg<'a> {
    /// bool
    Bool(bool),
    /// long
    Long(i64),
    /// string
    String(&'a str),
    /// ext
    Ext(&'a ExtValue),
    /// other
    Other(&'static str),
}
/// A result.
#[derive(Clone, Debug, PartialEq)]
pub enum ExtOutput {
    /// bool
    Bool(bool),
    /// long
    Long(i64),
    /// ext
    Ext(ExtValue),
}
/// An error.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ExtError {
    /// message
    pub message: String,
    /// help
    pub help: Option<String>,
}
fn unsupported() -> ExtError {
    ExtError {
        message: "extension types are not supported yet".into(),
        help: None,
    }
}
/// Whether `name` is an extension function.
pub fn is_function(name: &str) -> bool {
    matches!(name, "decimal" | "ip" | "datetime" | "duration")
}
/// Calls a constructor.
pub fn call_function(_name: &str, _args: &[ExtArg]) -> Result<ExtOutput, ExtError> {
    Err(unsupported())
}
/// Whether `name` is a method.
pub fn is_method(_name: &str) -> bool {
    false
}
/// Calls a method.
pub fn call_method(
    _name: &str,
    _receiver: ExtArg,
    _args: &[ExtArg],
) -> Result<ExtOutput, ExtError> {
    Err(unsupported())
}
/// Compares.
pub fn compare(_a: &ExtValue, _b: &ExtValue) -> Option<std::cmp::Ordering> {
    None
}
/// Reads `__extn`.
pub fn from_extn_json(_inner: &serde_json::Value) -> Result<ExtValue, ExtError> {
    Err(unsupported())
}
