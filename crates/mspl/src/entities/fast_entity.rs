//! The fast path of reading entities and values: the common shape read
//! from the text straight into the store's types, without a JSON tree
//! (whose building and freeing were most of an entity file's load).
//!
//! The common shape: an entity's `uid` and `parents` written as
//! `{"type", "id"}`; attribute and tag values that are booleans, integers,
//! strings, entity references (`{"__entity": {"type", "id"}}`, or
//! `{"type", "id"}` and `"T::\"i\""` where the declared type is an entity),
//! sets and records of these. Anything else (an `__extn` escape, a
//! duplicate or unknown key, a float, `null` as a value, a reference
//! written otherwise, a problem of any kind, nesting near the depth limit)
//! gives `None`, and the plain path (`read_entity` and `value_from_json`
//! over a strict JSON tree) reads the text and names any problem. So both
//! paths accept the same text and read it alike: the tests below check it
//! on cases at the edges and on every entity file of the repository, and
//! Cedar's conformance suite (`tests/decisions/`) loads its entities here.

use super::{construct_ext, uid_from_parts};
use crate::entities::EntityData;
use crate::schema::{AttrType, Schema, Type};
use crate::syntax::ast::EntityUid;
use crate::syntax::uid::parse_uid;
use crate::value::Value;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use smol_str::SmolStr;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

/// The deepest nesting the fast path reads itself (an entity object is
/// level 1); deeper text is left to the plain path, which bounds it.
const MAX_FAST_DEPTH: usize = 16;

/// One entity of the common shape (`piece`, one element of an entity
/// file's array), read; `None`: use the plain path. `max_depth` is the
/// plain path's JSON nesting limit.
pub(crate) fn entity(
    piece: &str,
    schema: &Schema,
    max_depth: usize,
) -> Option<(EntityUid, EntityData, Vec<EntityUid>)> {
    let seed = EntitySeed {
        schema,
        max: depth_cap(max_depth),
    };
    read_all(piece, seed)
}

/// One JSON value of the common shape read as `expected` (the declared
/// type, where one is known), as [`super::value_from_json`] reads it;
/// `None`: use the plain path.
pub(crate) fn value(
    text: &str,
    expected: Option<&Type>,
    schema: &Schema,
    max_depth: usize,
) -> Option<Value> {
    let seed = ValueSeed {
        expected,
        schema,
        depth: 0,
        max: depth_cap(max_depth),
    };
    read_all(text, seed)
}

/// The deepest level the fast path enters: one below the plain path's
/// limit, so that whatever the plain path would refuse for depth is left
/// to it.
fn depth_cap(max_depth: usize) -> usize {
    max_depth.saturating_sub(1).min(MAX_FAST_DEPTH)
}

fn read_all<'de, S: DeserializeSeed<'de>>(text: &'de str, seed: S) -> Option<S::Value> {
    let mut de = serde_json::Deserializer::from_str(text);
    let read = seed.deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(read)
}

/// Gives up: the plain path reads the text (the message is never shown).
fn refuse<T, E: de::Error>() -> Result<T, E> {
    Err(E::custom("left to the plain path"))
}

/// A string, borrowed from the text where it has no escapes.
struct Str<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Str<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct StrVisitor;
        impl<'de> Visitor<'de> for StrVisitor {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(s.to_owned())))
            }
        }
        d.deserialize_str(StrVisitor)
    }
}

/// `{"type": T, "id": i}`, nothing else (its strings borrowed from the
/// text where they have no escapes).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Uid<'a> {
    /// The type's name.
    #[serde(rename = "type", borrow)]
    pub(crate) ty: Cow<'a, str>,
    /// The id.
    #[serde(borrow)]
    pub(crate) id: Cow<'a, str>,
}

impl Uid<'_> {
    fn read<E: de::Error>(&self) -> Result<EntityUid, E> {
        uid_from_parts(&self.ty, &self.id).or_else(|_| refuse())
    }
}

/// An entity: `uid` first (it says which declarations type the rest),
/// then `attrs`, `tags` and `parents` in any order, each at most once.
struct EntitySeed<'s> {
    schema: &'s Schema,
    max: usize,
}

impl<'de> DeserializeSeed<'de> for EntitySeed<'_> {
    type Value = (EntityUid, EntityData, Vec<EntityUid>);
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EntitySeed<'_> {
    type Value = (EntityUid, EntityData, Vec<EntityUid>);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an entity")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        if self.max < 2 {
            return refuse();
        }
        let Some(Str(first)) = map.next_key::<Str>()? else {
            return refuse();
        };
        if first != "uid" {
            return refuse();
        }
        let uid = map.next_value::<Uid>()?.read()?;
        let declared = self.schema.entity_types.get(&uid.ty);
        let mut data = EntityData::default();
        let mut parents = None;
        let (mut attrs, mut tags) = (false, false);
        while let Some(Str(key)) = map.next_key::<Str>()? {
            let members = |expect| Members {
                expect,
                schema: self.schema,
                max: self.max,
            };
            match &*key {
                "attrs" if !attrs => {
                    attrs = true;
                    data.attrs = map.next_value_seed(members(Expect::Attrs(
                        declared.map(|t| &*t.attrs),
                    )))?;
                }
                "tags" if !tags => {
                    tags = true;
                    let each = declared.and_then(|t| t.tags.as_ref());
                    data.tags = map.next_value_seed(members(Expect::Each(each)))?;
                }
                "parents" if parents.is_none() => {
                    let read: Option<Vec<Uid>> = map.next_value()?;
                    let read = read.unwrap_or_default();
                    parents = Some(read.iter().map(Uid::read).collect::<Result<_, _>>()?);
                }
                _ => return refuse(),
            }
        }
        Ok((uid, data, parents.unwrap_or_default()))
    }
}

/// What the values of an object of named members are expected to be.
#[derive(Clone, Copy)]
enum Expect<'s> {
    /// Each by its name, as declared (attributes, a record's fields).
    Attrs(Option<&'s BTreeMap<SmolStr, AttrType>>),
    /// All alike (tags).
    Each(Option<&'s Type>),
}

impl<'s> Expect<'s> {
    fn of(self, name: &str) -> Option<&'s Type> {
        match self {
            Expect::Attrs(attrs) => attrs.and_then(|a| a.get(name)).map(|a| &a.ty),
            Expect::Each(each) => each,
        }
    }
}

/// An entity's `attrs` or `tags` (`null`: none), at level 2.
struct Members<'s> {
    expect: Expect<'s>,
    schema: &'s Schema,
    max: usize,
}

impl<'de> DeserializeSeed<'de> for Members<'_> {
    type Value = BTreeMap<SmolStr, Value>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Members<'_> {
    type Value = BTreeMap<SmolStr, Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(BTreeMap::new())
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        read_members(map, self.expect, self.schema, 2, self.max)
    }
}

/// The members of an object at level `depth`, each read as `expect` says;
/// a duplicate name or an `__entity`/`__extn` escape is refused.
fn read_members<'de, A: MapAccess<'de>>(
    mut map: A,
    expect: Expect,
    schema: &Schema,
    depth: usize,
    max: usize,
) -> Result<BTreeMap<SmolStr, Value>, A::Error> {
    let mut out = BTreeMap::new();
    while let Some(Str(key)) = map.next_key::<Str>()? {
        if key == "__entity" || key == "__extn" || out.contains_key(&*key) {
            return refuse();
        }
        let seed = ValueSeed {
            expected: expect.of(&key),
            schema,
            depth,
            max,
        };
        let value = map.next_value_seed(seed)?;
        out.insert(SmolStr::from(&*key), value);
    }
    Ok(out)
}

/// The reference `uid`, where nothing follows it in its object.
fn only<'de, A: MapAccess<'de>>(mut map: A, uid: EntityUid) -> Result<Value, A::Error> {
    match map.next_key::<Str>()? {
        None => Ok(Value::Entity(uid)),
        Some(_) => refuse(),
    }
}

/// One value inside a container at level `depth`, read as `expected`.
#[derive(Clone, Copy)]
struct ValueSeed<'s> {
    expected: Option<&'s Type>,
    schema: &'s Schema,
    depth: usize,
    max: usize,
}

impl ValueSeed<'_> {
    /// The level a container read here stands at, or a refusal past the cap.
    fn enter<E: de::Error>(self) -> Result<usize, E> {
        if self.depth + 1 > self.max {
            return refuse();
        }
        Ok(self.depth + 1)
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Long(n))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Value, E> {
        i64::try_from(n).map(Value::Long).or_else(|_| refuse())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Value, E> {
        refuse()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        refuse()
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        match self.expected {
            Some(Type::Extension(name)) => construct_ext(name, s).or_else(|_| refuse()),
            Some(Type::Entity(_)) if s.contains("::") => {
                parse_uid(s).map(Value::Entity).or_else(|_| refuse())
            }
            _ => Ok(Value::String(s.into())),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let depth = self.enter()?;
        let element = ValueSeed {
            expected: match self.expected {
                Some(Type::Set(t)) => Some(&**t),
                _ => None,
            },
            depth,
            ..self
        };
        let mut set = BTreeSet::new();
        while let Some(v) = seq.next_element_seed(element)? {
            set.insert(v);
        }
        Ok(Value::Set(Arc::new(set)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let depth = self.enter()?;
        match self.expected {
            // `{"type", "id"}` or `{"__entity": …}`; nothing else.
            Some(Type::Entity(_)) => {
                let Some(Str(first)) = map.next_key::<Str>()? else {
                    return refuse();
                };
                let uid = match &*first {
                    "__entity" => map.next_value::<Uid>()?.read()?,
                    "type" | "id" => {
                        let Str(one) = map.next_value::<Str>()?;
                        let Some(Str(second)) = map.next_key::<Str>()? else {
                            return refuse();
                        };
                        if second == first || !matches!(&*second, "type" | "id") {
                            return refuse();
                        }
                        let Str(other) = map.next_value::<Str>()?;
                        let (ty, id) = if first == "type" {
                            (one, other)
                        } else {
                            (other, one)
                        };
                        uid_from_parts(&ty, &id).or_else(|_| refuse())?
                    }
                    _ => return refuse(),
                };
                only(map, uid)
            }
            Some(Type::Extension(_)) => refuse(),
            _ => {
                let Some(Str(first)) = map.next_key::<Str>()? else {
                    return Ok(Value::empty_record());
                };
                if first == "__entity" {
                    let uid = map.next_value::<Uid>()?.read()?;
                    return only(map, uid);
                }
                let fields = match self.expected {
                    Some(Type::Record(attrs)) => Expect::Attrs(Some(&**attrs)),
                    _ => Expect::Attrs(None),
                };
                if first == "__extn" {
                    return refuse();
                }
                let seed = ValueSeed {
                    expected: fields.of(&first),
                    depth,
                    ..self
                };
                let value = map.next_value_seed(seed)?;
                let mut rest = read_members(map, fields, self.schema, depth, self.max)?;
                if rest.contains_key(&*first) {
                    return refuse();
                }
                rest.insert(SmolStr::from(&*first), value);
                Ok(Value::Record(Arc::new(rest)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entities::json::{read_entity, strict, value_from_json, Origin};
    use crate::limits::Limits;
    use serde_json::value::RawValue;

    const SCHEMA: &str = "entity Team;\n\
        entity User in [Team] { team: Team, n: Long, ip: ipaddr, users: Set<User>, \
        rec: { who: User, k: Long }, flag?: Bool } tags String;\n";

    fn schema(text: &str) -> Schema {
        let mut loader = crate::policy_set::Loader::new(Limits::default());
        loader.add_source("s.cedarschema".into(), text.into());
        loader
            .finish(crate::policy_set::IdScheme::Annotated)
            .0
            .schema
    }

    type Read = (EntityUid, EntityData, Vec<EntityUid>);

    /// The plain path's reading of one entity, `None` where it refuses it.
    fn plain(piece: &str, schema: &Schema, depth: usize) -> Option<Read> {
        let json = strict::parse(piece, depth).ok()?;
        let origin = Origin {
            file: "e.json",
            text: piece,
            offset: 0,
        };
        read_entity(&json, piece, &origin, schema).ok()
    }

    /// Whether the fast path read `piece`; where it did, it read what the
    /// plain path reads.
    fn check(piece: &str, schema: &Schema, depth: usize) -> bool {
        let fast = entity(piece, schema, depth);
        if let Some(read) = &fast {
            assert_eq!(Some(read), plain(piece, schema, depth).as_ref(), "{piece}");
        }
        fast.is_some()
    }

    #[test]
    fn the_fast_path_reads_what_the_plain_path_reads_or_leaves_it_to_it() {
        let schema = schema(SCHEMA);
        let uid = r#""uid": {"type": "User", "id": "a"}"#;
        let pieces = [
            format!(
                r#"{{{uid}, "attrs": {{"team": {{"type": "Team", "id": "t"}}, "n": 3, "users": [{{"__entity": {{"type": "User", "id": "b"}}}}, "User::\"c\""], "rec": {{"who": {{"type": "User", "id": "d"}}, "k": -4}}}}, "parents": [{{"type": "Team", "id": "t"}}]}}"#
            ),
            format!(r#"{{{uid}, "attrs": null, "parents": null, "tags": null}}"#),
            format!(r#"{{{uid}, "attrs": {{"ip": "10.0.0.1/8"}}}}"#),
            r#"{"uid": {"type": "User", "id": "a\"b\u00e9"}, "parents": []}"#.to_string(),
            format!(r#"{{{uid}, "attrs": {{"other": {{"type": "Team", "id": "t"}}, "empty": {{}}}}}}"#),
            format!(r#"{{{uid}, "tags": {{"k": "v", "w": "x"}}}}"#),
            format!(r#"{{{uid}, "attrs": {{"team": {{"id": "t", "type": "Team"}}}}}}"#),
            format!(r#"{{{uid}, "attrs": {{"team": "Team::\"t\"", "flag": true}}}}"#),
            format!(r#"{{{uid}, "attrs": {{"n": 9223372036854775807, "users": []}}}}"#),
            // Left to the plain path:
            r#"{"uid": "User::\"a\""}"#.to_string(),
            format!(r#"{{"attrs": {{}}, {uid}}}"#),
            format!(r#"{{{uid}, "attrs": {{"n": 1, "n": 2}}}}"#),
            format!(r#"{{{uid}, "attrs": {{"n": 1.5}}}}"#),
            format!(r#"{{{uid}, "attrs": {{"n": 9223372036854775808}}}}"#),
            format!(r#"{{{uid}, "attrs": {{"n": -0}}}}"#),
            format!(
                r#"{{{uid}, "attrs": {{"ip": {{"__extn": {{"fn": "ip", "arg": "10.0.0.1"}}}}}}}}"#
            ),
            format!(r#"{{{uid}, "attrs": {{"team": {{"type": "Team", "id": "t", "x": 1}}}}}}"#),
            format!(r#"{{{uid}, "foo": 1}}"#),
            format!(r#"{{{uid}, "attrs": {{"flag": null}}}}"#),
            format!(r#"{{{uid}, "attrs": {{"ip": "not an address"}}}}"#),
            format!(r#"{{{uid}, "parents": [{{"type": "Not A Type", "id": "x"}}]}}"#),
            format!(
                r#"{{{uid}, "attrs": {{"x": {{"__entity": {{"type": "Team", "id": "t"}}, "y": 1}}}}}}"#
            ),
            format!(r#"{{{uid}, "attrs": {{"x": {{"a": 1, "__extn": {{}}}}}}}}"#),
            format!(
                r#"{{{uid}, "attrs": {{"x": {{"__extn": {{"fn": "ip", "arg": "10.0.0.1"}}}}}}}}"#
            ),
            format!(r#"{{{uid}, "attrs": {{"x": {}1{}}}}}"#, "[".repeat(20), "]".repeat(20)),
            format!(r#"{{{uid}, "parents": [], "parents": []}}"#),
            format!(r#"{{{uid}, "parents": ["Team::\"t\""]}}"#),
            format!(r#"{{{uid}, "attrs": {{"team": {{"__entity": "Team::\"t\""}}}}}}"#),
            format!(r#"{{{uid}, "attrs": {{"team": {{"type": "Team", "type": "Team"}}}}}}"#),
        ];
        let depth = Limits::default().json_depth();
        let read: Vec<usize> = (0..pieces.len())
            .filter(|&i| check(&pieces[i], &schema, depth))
            .collect();
        assert_eq!(read, (0..9).collect::<Vec<_>>());
        // Near the depth limit the plain path decides.
        assert!(check(&pieces[0], &schema, 5));
        assert!(!check(&pieces[0], &schema, 4));
        assert!(!check(&pieces[1], &schema, 2));
        for depth in 0..6 {
            for piece in &pieces {
                check(piece, &schema, depth);
            }
        }
    }

    #[test]
    fn values_read_as_the_plain_path_reads_them() {
        let schema = schema(SCHEMA);
        let team = Type::Entity("Team".into());
        let ip = Type::Extension("ipaddr");
        let cases: [(&str, Option<&Type>); 8] = [
            (r#"{"workspace": {"type": "Team", "id": "t"}, "n": 1}"#, None),
            (r#"{"type": "Team", "id": "t"}"#, Some(&team)),
            (r#""Team::\"t\"""#, Some(&team)),
            (r#""no colons""#, Some(&team)),
            (r#""10.0.0.1""#, Some(&ip)),
            (r#"[1, [2, "x"], {"a": true}]"#, None),
            (r#"{"__entity": {"type": "Team", "id": "t"}}"#, None),
            (r#"{}"#, None),
        ];
        for (text, expected) in cases {
            let depth = Limits::default().json_depth();
            let fast = value(text, expected, &schema, depth);
            let json = strict::parse(text, depth).unwrap();
            assert_eq!(fast, value_from_json(&json, expected, &schema).ok(), "{text}");
            assert!(fast.is_some(), "{text}");
        }
    }

    /// Every entity file of the repository, with and without the Model
    /// Studio declarations: what the fast path reads, it reads as the
    /// plain path does; and it reads the Model Studio examples whole.
    #[test]
    fn the_repositorys_entity_files_read_alike_on_both_paths() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let read = |p: &std::path::Path| {
            crate::files::read_text(&root.join(p), 1 << 26, crate::files::TextKind::Data).unwrap()
        };
        let model_studio = schema(&read("policies/model_studio/schema.mspl".as_ref()));
        let schemas = [Schema::default(), model_studio];
        let mut found = crate::files::walk::Collected::new();
        for dir in ["policies", "tests/cases", "docs"] {
            crate::files::walk::collect_with(&root.join(dir), &["json"], &mut found).unwrap();
        }
        let depth = Limits::default().json_depth();
        let (mut pieces, mut fast) = (0, 0);
        for file in &found.files {
            let Ok(text) = crate::files::read_text(file, 1 << 26, crate::files::TextKind::Data) else {
                continue;
            };
            let Ok(array) = serde_json::from_str::<Vec<&RawValue>>(&text) else {
                continue;
            };
            for piece in array.iter().filter(|p| p.get().contains("\"uid\"")) {
                for schema in &schemas {
                    pieces += 1;
                    fast += usize::from(check(piece.get(), schema, depth));
                }
            }
        }
        assert!(pieces > 1_000 && fast * 10 > pieces * 9, "{fast} of {pieces}");
        let examples = read("policies/model_studio/examples/entities.json".as_ref());
        let array: Vec<&RawValue> = serde_json::from_str(&examples).unwrap();
        for piece in array {
            assert!(entity(piece.get(), &schemas[1], depth).is_some(), "{piece}");
        }
    }
}
