//! JSON reading that refuses what serde_json accepts silently.
//!
//! serde_json keeps the last of two equal keys in an object; for an
//! authorization engine that is a way to hide an attribute from review, so
//! [`parse`] reports the key instead. It also bounds nesting with mspl's own
//! limit, within serde_json's fixed recursion limit (127 levels), so that every
//! recursive walk over a data value later stays shallow. Errors are
//! serde_json errors, located by serde_json at the point of the problem.

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value as Json};
use std::fmt;

/// The deepest nesting serde_json reads at all; a larger
/// [`crate::limits::Limits::max_json_depth`] is capped to it.
pub const SERDE_JSON_DEPTH: usize = 127;

/// Parses `text` as one JSON value, refusing duplicate keys and arrays or
/// objects nested deeper than `max_depth` (at most [`SERDE_JSON_DEPTH`]).
pub fn parse(text: &str, max_depth: usize) -> Result<Json, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = Seed {
        depth: 0,
        max: max_depth.min(SERDE_JSON_DEPTH),
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// The message serde_json gives when its own recursion limit is reached.
pub(crate) fn is_recursion_limit(e: &serde_json::Error) -> bool {
    e.to_string().starts_with("recursion limit exceeded")
}

/// Reads one value whose enclosing arrays and objects number `depth`.
#[derive(Clone, Copy)]
struct Seed {
    depth: usize,
    max: usize,
}

impl Seed {
    fn enter<E: de::Error>(self) -> Result<Seed, E> {
        if self.depth >= self.max {
            return Err(E::custom(format_args!(
                "JSON nests deeper than {} levels",
                self.max
            )));
        }
        Ok(Seed {
            depth: self.depth + 1,
            max: self.max,
        })
    }
}

impl<'de> DeserializeSeed<'de> for Seed {
    type Value = Json;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
        Ok(Json::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Json, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Json, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Json, E> {
        Ok(Number::from_f64(n).map_or(Json::Null, Json::Number))
    }

    fn visit_str<E>(self, s: &str) -> Result<Json, E> {
        Ok(Json::String(s.to_string()))
    }

    fn visit_string<E>(self, s: String) -> Result<Json, E> {
        Ok(Json::String(s))
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let inner = self.enter()?;
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(v) = crate::limits::with_stack(|| seq.next_element_seed(inner))? {
            items.push(v);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let inner = self.enter()?;
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "duplicate key `{}` in a JSON object",
                    key.escape_debug()
                )));
            }
            let value = crate::limits::with_stack(|| map.next_value_seed(inner))?;
            object.insert(key, value);
        }
        Ok(Json::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_serde_json_reads() {
        let text = r#"{"a": [1, -2, 3.5, "x", true, null, {"b": {}}], "c": 18446744073709551615}"#;
        let ours = parse(text, 127).expect("valid");
        let theirs: Json = serde_json::from_str(text).expect("valid");
        assert_eq!(ours, theirs);
    }

    #[test]
    fn refuses_duplicate_keys_with_a_location() {
        let e = parse("{\"a\": 1,\n \"a\": 2}", 127).expect_err("duplicate");
        assert!(e.to_string().contains("duplicate key `a`"), "{e}");
        assert_eq!(e.line(), 2);
        // Keys of different objects may repeat.
        assert!(parse(r#"[{"a": 1}, {"a": 2}, {"a": {"a": 3}}]"#, 128).is_ok());
    }

    #[test]
    fn bounds_nesting() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(parse(&deep(4), 4).is_ok());
        let e = parse(&deep(5), 4).expect_err("too deep");
        assert!(e.to_string().contains("deeper than 4 levels"), "{e}");
        // serde_json's own ceiling, whatever the limit asks.
        assert!(parse(&deep(127), 1000).is_ok());
        let e = parse(&deep(128), 1000).expect_err("too deep");
        assert!(is_recursion_limit(&e), "{e}");
    }
}
