//! Runtime values: what expressions evaluate to.

pub mod ext;

use crate::syntax::ast::EntityUid;
use ext::ExtValue;
use smol_str::SmolStr;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

/// A set of values (ordered, so output never depends on hashing).
pub type SetValue = Arc<BTreeSet<Value>>;
/// A record: attribute names to values.
pub type RecordValue = Arc<BTreeMap<SmolStr, Value>>;

/// A value of mspl's (and Cedar's) data model.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Value {
    /// `true` / `false`.
    Bool(bool),
    /// A 64-bit signed integer.
    Long(i64),
    /// A string.
    String(SmolStr),
    /// A reference to an entity.
    Entity(EntityUid),
    /// A set.
    Set(SetValue),
    /// A record.
    Record(RecordValue),
    /// A value of an extension type (`decimal`, `ipaddr`, `datetime`, `duration`).
    Ext(Arc<ExtValue>),
}

impl Value {
    /// The value's type, as messages name it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Bool(_) => "bool",
            Value::Long(_) => "long",
            Value::String(_) => "string",
            Value::Entity(_) => "entity",
            Value::Set(_) => "set",
            Value::Record(_) => "record",
            Value::Ext(e) => e.type_name(),
        }
    }

    /// A set value from an iterator.
    pub fn set(items: impl IntoIterator<Item = Value>) -> Value {
        Value::Set(Arc::new(items.into_iter().collect()))
    }

    /// A record value from an iterator of entries.
    pub fn record(entries: impl IntoIterator<Item = (SmolStr, Value)>) -> Value {
        Value::Record(Arc::new(entries.into_iter().collect()))
    }

    /// The empty record.
    pub fn empty_record() -> Value {
        Value::Record(Arc::default())
    }

    /// Cedar's JSON form of the value (entities and extension values escaped).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Value::Bool(b) => json!(b),
            Value::Long(n) => json!(n),
            Value::String(s) => json!(s.as_str()),
            // Keys inserted in sorted order, so that the text is the same
            // whether or not serde_json keeps insertion order.
            Value::Entity(uid) => {
                json!({"__entity": {"id": uid.id.as_str(), "type": uid.ty.as_str()}})
            }
            Value::Set(items) => {
                serde_json::Value::Array(items.iter().map(Value::to_json).collect())
            }
            Value::Record(map) => serde_json::Value::Object(
                map.iter()
                    .map(|(k, v)| (k.to_string(), v.to_json()))
                    .collect(),
            ),
            Value::Ext(e) => json!({"__extn": sorted_keys(e.to_extn_json())}),
        }
    }
}

/// `json` with every object's keys in sorted order (what serde_json's map
/// gives without `preserve_order`, and the same with it).
fn sorted_keys(json: serde_json::Value) -> serde_json::Value {
    match json {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<_> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            serde_json::Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sorted_keys(v)))
                    .collect(),
            )
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(sorted_keys).collect())
        }
        other => other,
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Long(n)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.into())
    }
}

impl From<EntityUid> for Value {
    fn from(uid: EntityUid) -> Value {
        Value::Entity(uid)
    }
}

/// Writes `s` as a string literal with Cedar's escapes.
pub fn write_string_literal(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            '\0' => f.write_str("\\0")?,
            c if c.is_control() => write!(f, "\\u{{{:x}}}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

/// Values print as mspl expressions that evaluate to them.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Long(n) => write!(f, "{n}"),
            Value::String(s) => write_string_literal(f, s),
            Value::Entity(uid) => {
                write!(f, "{}::", uid.ty)?;
                write_string_literal(f, &uid.id)
            }
            Value::Set(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Record(map) => {
                if map.is_empty() {
                    return f.write_str("{}");
                }
                f.write_str("{")?;
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    f.write_str(" ")?;
                    if is_identifier(k) {
                        f.write_str(k)?;
                    } else {
                        write_string_literal(f, k)?;
                    }
                    write!(f, ": {v}")?;
                }
                f.write_str(" }")
            }
            Value::Ext(e) => write!(f, "{e}"),
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Whether `s` can be written as a bare identifier.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
