//! The shape of a test file, checked whole before anything runs: a field of
//! the wrong type must fail the file, never be skipped (a snapshot suite
//! that passes wrongly is worse than none). Every malformed field is
//! reported with its JSON path.
//!
//! Cedar's own test fields (`shouldValidate`, `validateRequest`,
//! `description`) are accepted as they are.

use serde_json::Value;

/// What a field must be.
#[derive(Clone, Copy)]
enum Want {
    /// A string.
    Str,
    /// A boolean.
    Bool,
    /// An array of strings.
    Strings,
    /// A string or an array of strings.
    StrOrStrings,
    /// An object.
    Object,
    /// An entity reference: a `T::"id"` string or `{"type", "id"}`.
    Uid,
    /// A string path or an inline array (entities).
    PathOrArray,
    /// An array of request objects.
    Requests,
}

impl Want {
    fn describe(self) -> &'static str {
        match self {
            Want::Str => "a string",
            Want::Bool => "a boolean",
            Want::Strings => "an array of strings",
            Want::StrOrStrings => "a string or an array of strings",
            Want::Object => "an object",
            Want::Uid => "an entity reference (`T::\"id\"` or {\"type\", \"id\"})",
            Want::PathOrArray => "a file name or an array of entities",
            Want::Requests => "an array of requests",
        }
    }

    fn accepts(self, v: &Value) -> bool {
        let strings = |v: &Value| v.as_array().is_some_and(|a| a.iter().all(Value::is_string));
        match self {
            Want::Str => v.is_string(),
            Want::Bool => v.is_boolean(),
            Want::Strings => strings(v),
            Want::StrOrStrings => v.is_string() || strings(v),
            Want::Object => v.is_object(),
            Want::Uid => {
                v.is_string()
                    || v.as_object().is_some_and(|o| {
                        o.len() == 2
                            && o.get("type").is_some_and(Value::is_string)
                            && o.get("id").is_some_and(Value::is_string)
                    })
            }
            Want::PathOrArray => v.is_string() || v.is_array(),
            Want::Requests => v.is_array(),
        }
    }
}

const FILE_FIELDS: &[(&str, Want)] = &[
    ("policies", Want::StrOrStrings),
    ("schema", Want::Str),
    ("links", Want::StrOrStrings),
    ("entities", Want::PathOrArray),
    ("shouldValidate", Want::Bool),
    ("requests", Want::Requests),
];

const CASE_FIELDS: &[(&str, Want)] = &[
    ("description", Want::Str),
    ("principal", Want::Uid),
    ("action", Want::Uid),
    ("resource", Want::Uid),
    ("context", Want::Object),
    ("validateRequest", Want::Bool),
    ("decision", Want::Str),
    ("reason", Want::Strings),
    ("errors", Want::Strings),
    ("kind", Want::Str),
    ("fix", Want::Str),
];

/// Every malformed or unknown field of a test file, as `at PATH: …`.
pub fn check(json: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let Some(file) = json.as_object() else {
        out.push("at `$`: a test file is a JSON object".to_string());
        return out;
    };
    fields(file, FILE_FIELDS, "$", &mut out);
    match file.get("requests") {
        None => out.push("at `$`: no `requests` array".into()),
        Some(Value::Array(requests)) => {
            for (i, r) in requests.iter().enumerate() {
                let at = format!("$.requests[{i}]");
                match r.as_object() {
                    Some(case) => {
                        fields(case, CASE_FIELDS, &at, &mut out);
                        if !case.contains_key("decision") {
                            out.push(format!("at `{at}`: no `decision` (`allow` or `deny`)"));
                        }
                        if let Some(k) = case.get("kind").and_then(Value::as_str) {
                            if !matches!(k, "forbidden" | "not_permitted") {
                                out.push(format!(
                                    "at `{at}.kind`: `{k}`; expected `forbidden` or `not_permitted`"
                                ));
                            }
                        }
                    }
                    None => out.push(format!("at `{at}`: a request is a JSON object")),
                }
            }
        }
        Some(_) => {}
    }
    out
}

fn fields(
    obj: &serde_json::Map<String, Value>,
    known: &[(&str, Want)],
    at: &str,
    out: &mut Vec<String>,
) {
    // In key order, whatever order serde_json keeps (its `preserve_order`
    // feature may be on in a workspace build).
    let mut keys: Vec<&String> = obj.keys().collect();
    keys.sort();
    for key in keys {
        let value = &obj[key];
        match known.iter().find(|(k, _)| k == key) {
            Some((_, want)) if !want.accepts(value) => out.push(format!(
                "at `{at}.{key}`: expected {}, found {}",
                want.describe(),
                kind(value)
            )),
            Some(_) => {}
            None => {
                let names = known.iter().map(|(k, _)| *k);
                let hint = crate::suggest::closest(key, names)
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                out.push(format!("at `{at}.{key}`: unknown field{hint}"));
            }
        }
    }
}

fn kind(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("the number `{n}`"),
        Value::String(_) => "a string".into(),
        Value::Array(a) => match a.iter().find(|x| !x.is_string()) {
            Some(x) => format!("an array holding {}", kind(x)),
            None => "an array".into(),
        },
        Value::Object(_) => "an object".into(),
    }
}
