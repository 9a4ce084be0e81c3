//! Cedar's four extension types (`decimal`, `ipaddr`, `datetime`, `duration`) with Cedar 4.x semantics.
//!
//! The interpreter sees this module through a small API: [`is_function`] and
//! [`call_function`] for the constructors, [`is_method`] and [`call_method`]
//! for the methods, [`compare`] for `<`-style operators and [`from_extn_json`]
//! for Cedar's `__extn` JSON escape. Every error is an [`ExtError`] whose
//! message is complete (it names the failing function, as Cedar's do).

mod datetime;
mod decimal;
mod ipaddr;
#[cfg(test)]
mod tests;

pub use datetime::{Datetime, Duration};
pub use decimal::Decimal;
pub use ipaddr::IpAddr;

use crate::builtins::{self, Builtin, Implementation};
use std::cmp::Ordering;
use std::fmt;

/// A value of one of Cedar's extension types.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExtValue {
    /// A `decimal`: a fixed-point number with four fractional digits.
    Decimal(Decimal),
    /// An `ipaddr`: an IPv4 or IPv6 address with a prefix length.
    Ip(IpAddr),
    /// A `datetime`: milliseconds since the Unix epoch.
    Datetime(Datetime),
    /// A `duration`: a signed number of milliseconds.
    Duration(Duration),
}

impl ExtValue {
    /// Cedar's type name: "decimal", "ipaddr", "datetime", "duration".
    pub fn type_name(&self) -> &'static str {
        match self {
            ExtValue::Decimal(_) => "decimal",
            ExtValue::Ip(_) => "ipaddr",
            ExtValue::Datetime(_) => "datetime",
            ExtValue::Duration(_) => "duration",
        }
    }

    /// The inner object of Cedar's `{"__extn": ...}` JSON form of the value, which
    /// [`from_extn_json`] reads back to an equal value.
    pub fn to_extn_json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            ExtValue::Decimal(d) => json!({"fn": "decimal", "arg": d.to_string()}),
            ExtValue::Ip(ip) => json!({"fn": "ip", "arg": ip.to_string()}),
            ExtValue::Duration(d) => json!({"fn": "duration", "arg": d.to_string()}),
            ExtValue::Datetime(dt) => match dt.to_iso_string() {
                Some(s) => json!({"fn": "datetime", "arg": s}),
                None => json!({"fn": "offset", "args": [
                    {"__extn": {"fn": "datetime", "arg": datetime::EPOCH_STR}},
                    {"__extn": {"fn": "duration", "arg": format!("{}ms", dt.epoch_ms())}},
                ]}),
            },
        }
    }
}

/// Prints a Cedar expression that rebuilds the value: `decimal("1.2300")`,
/// `ip("10.0.0.0/24")`, `datetime("2024-10-15T11:38:02Z")`, `duration("1h30m")`.
/// A datetime outside years 0000–9999 prints as
/// `datetime("1970-01-01").offset(duration("…ms"))`, as Cedar writes it.
impl fmt::Display for ExtValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtValue::Decimal(d) => write!(f, "decimal(\"{d}\")"),
            ExtValue::Ip(ip) => write!(f, "ip(\"{ip}\")"),
            ExtValue::Duration(d) => write!(f, "duration(\"{d}\")"),
            ExtValue::Datetime(dt) => match dt.to_iso_string() {
                Some(s) => write!(f, "datetime(\"{s}\")"),
                None => write!(
                    f,
                    "datetime(\"{}\").offset(duration(\"{}ms\"))",
                    datetime::EPOCH_STR,
                    dt.epoch_ms()
                ),
            },
        }
    }
}

/// An argument as the interpreter passes it.
#[derive(Clone, Copy, Debug)]
pub enum ExtArg<'a> {
    /// A `bool`.
    Bool(bool),
    /// A `long`.
    Long(i64),
    /// A `string`.
    String(&'a str),
    /// An extension value.
    Ext(&'a ExtValue),
    /// Any other value, by its type name (for messages).
    Other(&'static str),
}

impl<'a> ExtArg<'a> {
    /// A value as an argument.
    pub fn of(v: &'a crate::value::Value) -> ExtArg<'a> {
        use crate::value::Value;
        match v {
            Value::Bool(b) => ExtArg::Bool(*b),
            Value::Long(n) => ExtArg::Long(*n),
            Value::String(s) => ExtArg::String(s),
            Value::Ext(e) => ExtArg::Ext(e),
            other => ExtArg::Other(other.type_name()),
        }
    }

    /// The argument's type name, as messages name it.
    fn type_name(&self) -> &'static str {
        match self {
            ExtArg::Bool(_) => "bool",
            ExtArg::Long(_) => "long",
            ExtArg::String(_) => "string",
            ExtArg::Ext(v) => v.type_name(),
            ExtArg::Other(t) => t,
        }
    }
}

/// A result.
#[derive(Clone, Debug, PartialEq)]
pub enum ExtOutput {
    /// A `bool` result.
    Bool(bool),
    /// A `long` result.
    Long(i64),
    /// An extension value.
    Ext(ExtValue),
}

impl ExtOutput {
    /// The result as a value.
    pub fn into_value(self) -> crate::value::Value {
        use crate::value::Value;
        match self {
            ExtOutput::Bool(b) => Value::Bool(b),
            ExtOutput::Long(n) => Value::Long(n),
            ExtOutput::Ext(e) => Value::Ext(std::sync::Arc::new(e)),
        }
    }
}

/// An error: message in Cedar's style guide (lowercase, no final period, user input in backticks), optional help line.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ExtError {
    /// The complete message.
    pub message: String,
    /// For a failed application, what went wrong without the message's
    /// `error while evaluating …` head (empty otherwise): see [`ExtError::detail`].
    pub detail: String,
    /// An optional line of advice.
    pub help: Option<String>,
}

impl ExtError {
    /// What went wrong, without naming the function, for messages that name
    /// it themselves (the validator's).
    pub fn detail(&self) -> &str {
        if self.detail.is_empty() {
            &self.message
        } else {
            &self.detail
        }
    }

    /// A failure inside extension function `function` (Cedar's `FailedExtensionFunctionApplication`).
    fn failed(function: &str, msg: impl fmt::Display, help: Option<&str>) -> ExtError {
        ExtError {
            message: format!("error while evaluating `{function}` extension function: {msg}"),
            detail: msg.to_string(),
            help: help.map(str::to_string),
        }
    }

    /// A type error: `expected` wanted, `got` found.
    fn type_error(expected: &str, got: &ExtArg<'_>) -> ExtError {
        let help = match (got, expected) {
            (ExtArg::String(_), "ipaddr") => {
                Some("maybe you forgot to apply the `ip` constructor?".to_string())
            }
            (ExtArg::String(_), "decimal" | "datetime" | "duration") => Some(format!(
                "maybe you forgot to apply the `{expected}` constructor?"
            )),
            _ => None,
        };
        ExtError {
            detail: String::new(),
            message: format!("type error: expected {expected}, got {}", got.type_name()),
            help,
        }
    }

    /// Cedar's arity error; counts include a method's receiver, as Cedar's do.
    fn arity(function: &str, expected: usize, got: usize) -> ExtError {
        ExtError {
            detail: String::new(),
            message: format!(
                "wrong number of arguments provided to extension function `{function}`: expected {expected}, got {got}"
            ),
            help: None,
        }
    }

    /// A name that is no extension function.
    fn unknown(function: &str) -> ExtError {
        ExtError {
            detail: String::new(),
            message: format!("extension function `{function}` does not exist"),
            help: None,
        }
    }
}

/// Whether `name` is an extension function (constructor) called as `name(args)`: decimal, ip, datetime, duration.
pub fn is_function(name: &str) -> bool {
    extension(builtins::function(name)).is_some()
}

/// `b` if it is implemented here.
fn extension(b: Option<&'static Builtin>) -> Option<&'static Builtin> {
    b.filter(|b| b.implementation == Implementation::Extension)
}

/// Calls a constructor; wrong arity or argument type is an ExtError.
pub fn call_function(name: &str, args: &[ExtArg]) -> Result<ExtOutput, ExtError> {
    let b = extension(builtins::function(name)).ok_or_else(|| ExtError::unknown(name))?;
    apply(b, args)
}

/// Whether `name` is a method of some extension type (lessThan, isIpv4, isInRange, offset, toDate, toMilliseconds, ...).
pub fn is_method(name: &str) -> bool {
    extension(builtins::method(name)).is_some()
}

/// Calls method `name` on `receiver` with `args`; a receiver or argument of the wrong type is an ExtError naming the expected type.
pub fn call_method(name: &str, receiver: ExtArg, args: &[ExtArg]) -> Result<ExtOutput, ExtError> {
    let b = extension(builtins::method(name)).ok_or_else(|| ExtError::unknown(name))?;
    let mut all = Vec::with_capacity(args.len().saturating_add(1));
    all.push(receiver);
    all.extend_from_slice(args);
    apply(b, &all)
}

/// Cedar's `<`, `<=`, `>`, `>=` on extension values: `Some(ordering)` for two
/// datetimes or two durations (the only extension types whose values Cedar 4.x
/// compares with operators), `None` (a type error) for every other pair,
/// decimals included: they compare only through `lessThan` and friends.
pub fn compare(a: &ExtValue, b: &ExtValue) -> Option<Ordering> {
    match (a, b) {
        (ExtValue::Datetime(x), ExtValue::Datetime(y)) => Some(x.cmp(y)),
        (ExtValue::Duration(x), ExtValue::Duration(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// Reads Cedar's JSON escape `{"__extn": {"fn": "decimal", "arg": "1.23"}}` given
/// its inner object: `{"fn": name, "arg": value}` or `{"fn": name, "args": [values]}`.
/// `fn` may name any extension function, methods too (Cedar writes a computed
/// datetime as `offset` of a `datetime` and a `duration`); an argument is a
/// string, a long, a bool or a nested `{"__extn": ...}`. The call must yield
/// an extension value.
pub fn from_extn_json(inner: &serde_json::Value) -> Result<ExtValue, ExtError> {
    extn_json(inner, 0)
}

/// Nesting deeper than this in `__extn` arguments is refused.
const MAX_EXTN_DEPTH: usize = 32;

/// An argument decoded from JSON, owning what it holds.
enum JsonArg {
    /// A bool.
    Bool(bool),
    /// A long.
    Long(i64),
    /// A string.
    String(String),
    /// A nested extension value.
    Ext(ExtValue),
    /// Another kind of value, by type name.
    Other(&'static str),
}

/// [`from_extn_json`] at nesting `depth`.
fn extn_json(inner: &serde_json::Value, depth: usize) -> Result<ExtValue, ExtError> {
    let bad = |what: &str| ExtError {
        detail: String::new(),
        message: format!("invalid `__extn` escape: {what}"),
        help: Some(
            r#"write it as `{"__extn": {"fn": "decimal", "arg": "1.23"}}` or with `"args": [...]`"#
                .into(),
        ),
    };
    if depth > MAX_EXTN_DEPTH {
        return Err(bad("nested too deeply"));
    }
    let obj = inner.as_object().ok_or_else(|| bad("expected an object"))?;
    let name = match obj.get("fn") {
        Some(serde_json::Value::String(s)) => s.as_str(),
        Some(_) => return Err(bad("`fn` must be a string")),
        None => return Err(bad("missing `fn`")),
    };
    let raw: Vec<&serde_json::Value> = match (obj.get("arg"), obj.get("args")) {
        (Some(arg), _) => vec![arg],
        (None, Some(serde_json::Value::Array(items))) => items.iter().collect(),
        (None, Some(_)) => return Err(bad("`args` must be an array")),
        (None, None) => return Err(bad("missing `arg` or `args`")),
    };
    let b = extension(builtins::function(name))
        .or_else(|| extension(builtins::method(name)))
        .ok_or_else(|| ExtError::unknown(name))?;
    let decoded = raw
        .into_iter()
        .map(|v| json_arg(v, depth))
        .collect::<Result<Vec<_>, _>>()?;
    let args: Vec<ExtArg<'_>> = decoded
        .iter()
        .map(|a| match a {
            JsonArg::Bool(b) => ExtArg::Bool(*b),
            JsonArg::Long(n) => ExtArg::Long(*n),
            JsonArg::String(s) => ExtArg::String(s),
            JsonArg::Ext(v) => ExtArg::Ext(v),
            JsonArg::Other(t) => ExtArg::Other(t),
        })
        .collect();
    match apply(b, &args)? {
        ExtOutput::Ext(v) => Ok(v),
        ExtOutput::Bool(_) | ExtOutput::Long(_) => {
            Err(bad(&format!("`{name}` does not return an extension value")))
        }
    }
}

/// Decodes one JSON argument of an `__extn` call.
fn json_arg(v: &serde_json::Value, depth: usize) -> Result<JsonArg, ExtError> {
    use serde_json::Value as J;
    Ok(match v {
        J::Bool(b) => JsonArg::Bool(*b),
        J::String(s) => JsonArg::String(s.clone()),
        J::Number(n) => match n.as_i64() {
            Some(n) => JsonArg::Long(n),
            None => {
                return Err(ExtError {
                    detail: String::new(),
                    message: format!("invalid `__extn` escape: `{n}` is not a 64-bit integer"),
                    help: None,
                })
            }
        },
        J::Array(_) => JsonArg::Other("set"),
        J::Object(o) => match (o.get("__extn"), o.get("__entity")) {
            (Some(inner), _) => JsonArg::Ext(extn_json(inner, depth.saturating_add(1))?),
            (None, Some(_)) => JsonArg::Other("entity"),
            (None, None) => JsonArg::Other("record"),
        },
        J::Null => {
            return Err(ExtError {
                detail: String::new(),
                message: "invalid `__extn` escape: `null` is not a Cedar value".into(),
                help: None,
            })
        }
    })
}

/// Runs the extension built-in `b` (constructor or method; a method's
/// receiver is `args[0]`), looked up once by the caller.
fn apply(b: &Builtin, args: &[ExtArg]) -> Result<ExtOutput, ExtError> {
    let name = b.name;
    // Cedar counts a method's receiver among the arguments.
    let expected = b.params.len();
    if args.len() != expected {
        return Err(ExtError::arity(name, expected, args.len()));
    }
    let arg = |i: usize| {
        args.get(i)
            .copied()
            .ok_or_else(|| ExtError::arity(name, expected, args.len()))
    };
    let first = arg(0)?;
    match name {
        "decimal" => Ok(ExtOutput::Ext(ExtValue::Decimal(Decimal::parse(as_str(
            first,
        )?)?))),
        "ip" => Ok(ExtOutput::Ext(ExtValue::Ip(IpAddr::parse(as_str(first)?)?))),
        "datetime" => Ok(ExtOutput::Ext(ExtValue::Datetime(Datetime::parse(
            as_str(first)?,
        )?))),
        "duration" => Ok(ExtOutput::Ext(ExtValue::Duration(Duration::parse(
            as_str(first)?,
        )?))),
        "lessThan" | "lessThanOrEqual" | "greaterThan" | "greaterThanOrEqual" => {
            let a = as_decimal(first)?;
            let b = as_decimal(arg(1)?)?;
            let ord = a.cmp(&b);
            Ok(ExtOutput::Bool(match name {
                "lessThan" => ord == Ordering::Less,
                "lessThanOrEqual" => ord != Ordering::Greater,
                "greaterThan" => ord == Ordering::Greater,
                _ => ord != Ordering::Less,
            }))
        }
        "isIpv4" => Ok(ExtOutput::Bool(as_ip(first)?.is_ipv4())),
        "isIpv6" => Ok(ExtOutput::Bool(as_ip(first)?.is_ipv6())),
        "isLoopback" => Ok(ExtOutput::Bool(as_ip(first)?.is_loopback())),
        "isMulticast" => Ok(ExtOutput::Bool(as_ip(first)?.is_multicast())),
        "isInRange" => {
            let a = as_ip(first)?;
            let b = as_ip(arg(1)?)?;
            Ok(ExtOutput::Bool(a.is_in_range(&b)))
        }
        "offset" => {
            let dt = as_datetime(first)?;
            let d = as_duration(arg(1)?)?;
            dt.offset(d).map(|v| ExtOutput::Ext(ExtValue::Datetime(v)))
        }
        "durationSince" => {
            let a = as_datetime(first)?;
            let b = as_datetime(arg(1)?)?;
            a.duration_since(b)
                .map(|v| ExtOutput::Ext(ExtValue::Duration(v)))
        }
        "toDate" => as_datetime(first)?
            .to_date()
            .map(|v| ExtOutput::Ext(ExtValue::Datetime(v))),
        "toTime" => Ok(ExtOutput::Ext(ExtValue::Duration(
            as_datetime(first)?.to_time(),
        ))),
        "toMilliseconds" => Ok(ExtOutput::Long(as_duration(first)?.to_milliseconds())),
        "toSeconds" => Ok(ExtOutput::Long(as_duration(first)?.to_seconds())),
        "toMinutes" => Ok(ExtOutput::Long(as_duration(first)?.to_minutes())),
        "toHours" => Ok(ExtOutput::Long(as_duration(first)?.to_hours())),
        "toDays" => Ok(ExtOutput::Long(as_duration(first)?.to_days())),
        _ => Err(ExtError::unknown(name)),
    }
}

/// The argument as a string, or a type error.
fn as_str<'a>(arg: ExtArg<'a>) -> Result<&'a str, ExtError> {
    match arg {
        ExtArg::String(s) => Ok(s),
        other => Err(ExtError::type_error("string", &other)),
    }
}

/// The argument as a decimal, or a type error.
fn as_decimal(arg: ExtArg<'_>) -> Result<Decimal, ExtError> {
    match arg {
        ExtArg::Ext(ExtValue::Decimal(d)) => Ok(*d),
        other => Err(ExtError::type_error("decimal", &other)),
    }
}

/// The argument as an IP address, or a type error.
fn as_ip(arg: ExtArg<'_>) -> Result<IpAddr, ExtError> {
    match arg {
        ExtArg::Ext(ExtValue::Ip(ip)) => Ok(*ip),
        other => Err(ExtError::type_error("ipaddr", &other)),
    }
}

/// The argument as a datetime, or a type error.
fn as_datetime(arg: ExtArg<'_>) -> Result<Datetime, ExtError> {
    match arg {
        ExtArg::Ext(ExtValue::Datetime(d)) => Ok(*d),
        other => Err(ExtError::type_error("datetime", &other)),
    }
}

/// The argument as a duration, or a type error.
fn as_duration(arg: ExtArg<'_>) -> Result<Duration, ExtError> {
    match arg {
        ExtArg::Ext(ExtValue::Duration(d)) => Ok(*d),
        other => Err(ExtError::type_error("duration", &other)),
    }
}
