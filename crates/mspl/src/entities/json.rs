//! Cedar's JSON formats for entities, requests and values, read with serde.
//!
//! Errors name the file, line and column. With declarations, attribute
//! values may leave out the `__entity` and `__extn` escapes where the
//! declared type says what they are, as Cedar allows with a schema.

use super::{Entities, EntityData};
use crate::limits::Limits;
use crate::schema::{AttrType, Schema, Type};
use crate::syntax::ast::EntityUid;
use crate::value::ext;
use crate::value::Value;
use serde_json::value::RawValue;
use serde_json::{Map, Value as Json};
use smol_str::SmolStr;
use std::collections::BTreeMap;

#[path = "strict.rs"]
pub mod strict;

#[path = "fast_request.rs"]
pub mod fast;

#[path = "fast_entity.rs"]
pub(crate) mod fast_entity;

/// A problem in a data file: where, and what.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct DataError {
    /// The file's name as given.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong, in Cedar's style (lowercase, no final period).
    pub message: String,
    /// How to fix it, where that helps.
    pub help: Option<String>,
}

/// Where a piece of JSON text sits, for error messages.
#[derive(Clone, Copy)]
pub struct Origin<'a> {
    /// The file's name.
    pub file: &'a str,
    /// The whole text of the file.
    pub text: &'a str,
    /// The byte offset of the piece being read.
    pub offset: usize,
}

impl Origin<'_> {
    fn error(&self, at: usize, message: impl Into<String>, help: Option<String>) -> DataError {
        let (line, column) = line_column(self.text, at);
        DataError {
            file: self.file.to_string(),
            line,
            column,
            message: message.into(),
            help,
        }
    }

    /// An error about the piece, pointing at `needle` inside it where found.
    pub(crate) fn error_near(&self, piece: &str, needle: &str, message: impl Into<String>) -> DataError {
        let at = piece
            .find(&format!("\"{needle}\""))
            .map(|i| self.offset + i)
            .unwrap_or(self.offset);
        self.error(at, message, None)
    }

    /// An error about the value of `key` in the piece: at the value, past
    /// the key and its colon, where the key is found.
    fn error_at_value(&self, piece: &str, key: &str, message: impl Into<String>) -> DataError {
        let at = piece.find(&format!("\"{key}\"")).map_or(self.offset, |i| {
            let rest = &piece[i + key.len() + 2..];
            let skipped = rest.len() - rest.trim_start().trim_start_matches(':').trim_start().len();
            self.offset + i + key.len() + 2 + skipped
        });
        self.error(at, message, None)
    }

    fn serde(&self, e: &serde_json::Error) -> DataError {
        self.serde_with(e, strict::SERDE_JSON_DEPTH)
    }

    /// A serde_json error as a [`DataError`]; `max_depth` is the nesting
    /// limit that was in force, for serde_json's own recursion error.
    fn serde_with(&self, e: &serde_json::Error, max_depth: usize) -> DataError {
        // serde_json counts lines and columns within the piece it was given.
        let (base_line, base_col) = line_column(self.text, self.offset);
        let line = base_line + e.line().saturating_sub(1);
        let column = if e.line() <= 1 {
            base_col + e.column().saturating_sub(1)
        } else {
            e.column()
        };
        let message = e.to_string();
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or(&message)
            .to_string();
        let (message, help) = if strict::is_recursion_limit(e) {
            (
                format!(
                    "JSON nests deeper than {} levels",
                    max_depth.min(strict::SERDE_JSON_DEPTH)
                ),
                Some("flatten the data: records and sets nest at most this deep".into()),
            )
        } else if e.is_data() {
            // Our own checks (duplicate keys, nesting) and type mismatches.
            let help = message
                .starts_with("duplicate key")
                .then(|| "each key may appear once in an object".to_string());
            (message, help)
        } else {
            (format!("invalid JSON: {message}"), None)
        };
        DataError {
            file: self.file.to_string(),
            line,
            column,
            message,
            help,
        }
    }
}

/// 1-based line and column of byte `at` in `text`.
pub fn line_column(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let before = text.as_bytes().get(..at).unwrap_or_default();
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = text[line_start..at].chars().count() + 1;
    (line, column)
}

/// Reads an entity file (a JSON array of entities) into `store`.
pub fn load_entities(
    text: &str,
    file: &str,
    schema: &Schema,
    store: &mut Entities,
) -> Result<(), DataError> {
    load_entities_with(text, file, schema, store, &Limits::default())
}

/// [`load_entities`] under `limits`: the data-file size and JSON nesting.
pub fn load_entities_with(
    text: &str,
    file: &str,
    schema: &Schema,
    store: &mut Entities,
    limits: &Limits,
) -> Result<(), DataError> {
    let whole = Origin {
        file,
        text,
        offset: 0,
    };
    check_size(&whole, text, limits)?;
    let raw: Vec<&RawValue> = serde_json::from_str(text).map_err(|e| {
        if e.is_data() {
            whole.error(0, "an entity file is a JSON array of entities", None)
        } else {
            whole.serde(&e)
        }
    })?;
    // Each entity read on its own, on every core for a large file; then
    // inserted in file order (the first problem in file order is the one
    // told, whatever the threads did).
    let read_piece = |piece: &&RawValue| {
        let offset = piece.get().as_ptr() as usize - text.as_ptr() as usize;
        if let Some(read) = fast_entity::entity(piece.get(), schema, limits.json_depth()) {
            return Ok((read, offset));
        }
        let origin = Origin { file, text, offset };
        let json = strict::parse(piece.get(), limits.json_depth())
            .map_err(|e| origin.serde_with(&e, limits.json_depth()))?;
        read_entity(&json, piece.get(), &origin, schema).map(|e| (e, offset))
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    let read: Vec<Result<_, DataError>> = if raw.len() < PARALLEL_FROM || threads < 2 {
        raw.iter().map(read_piece).collect()
    } else {
        let share = raw.len().div_ceil(threads);
        std::thread::scope(|s| {
            let parts: Vec<_> = raw
                .chunks(share)
                .map(|part| s.spawn(move || part.iter().map(read_piece).collect::<Vec<_>>()))
                .collect();
            parts
                .into_iter()
                .flat_map(|p| p.join().unwrap_or_default())
                .collect()
        })
    };
    if read.len() != raw.len() {
        return Err(whole.error(0, "the entity file could not be read whole", None));
    }
    for entity in read {
        let ((uid, data, parents), offset) = entity?;
        if !store.insert(uid.clone(), data, &parents) {
            let origin = Origin { file, text, offset };
            return Err(origin.error(
                offset,
                format!("duplicate entity {uid}"),
                Some("each uid may appear once in the entity data".into()),
            ));
        }
    }
    Ok(())
}

/// The number of entities from which a file is read on every core.
const PARALLEL_FROM: usize = 20_000;

/// Where the entity `uid` stands in an entity file's text (the start of
/// its object), for errors found after loading (a cycle of the hierarchy).
pub fn entity_offset(text: &str, uid: &EntityUid) -> Option<usize> {
    let raw: Vec<&RawValue> = serde_json::from_str(text).ok()?;
    raw.into_iter().find_map(|piece| {
        let json: Json = serde_json::from_str(piece.get()).ok()?;
        let found = entity_ref(json.get("uid")?).ok()?;
        (found == *uid).then(|| piece.get().as_ptr() as usize - text.as_ptr() as usize)
    })
}

/// An entity read from Cedar's entity JSON (`piece` its text, for errors
/// located in `origin`): its uid, its data and its parents, values read as
/// `schema` declares them.
pub fn read_entity(
    json: &Json,
    piece: &str,
    origin: &Origin,
    schema: &Schema,
) -> Result<(EntityUid, EntityData, Vec<EntityUid>), DataError> {
    let Json::Object(obj) = json else {
        return Err(origin.error(
            origin.offset,
            "an entity is a JSON object with `uid`, `attrs` and `parents`",
            None,
        ));
    };
    // The first unknown field by name, whatever order serde_json keeps.
    let unknown = obj
        .keys()
        .filter(|k| !matches!(k.as_str(), "uid" | "attrs" | "parents" | "tags"))
        .min();
    if let Some(key) = unknown {
        return Err(origin.error_near(
            piece,
            key,
            format!(
                "unknown field `{key}` in entity; expected `uid`, `attrs`, `parents` or `tags`"
            ),
        ));
    }
    let uid_json = obj
        .get("uid")
        .ok_or_else(|| origin.error(origin.offset, "entity has no `uid`", None))?;
    let uid = entity_ref(uid_json).map_err(|m| origin.error_near(piece, "uid", m))?;
    let entity_type = schema.entity_types.get(&uid.ty);
    let mut data = EntityData::default();
    match obj.get("attrs") {
        None | Some(Json::Null) => {}
        Some(Json::Object(attrs)) => {
            for (k, v) in attrs {
                let expected = entity_type
                    .and_then(|t| t.attrs.get(k.as_str()))
                    .map(|a| &a.ty);
                let value = value_from_json(v, expected, schema).map_err(|m| {
                    origin.error_near(piece, k, format!("in attribute `{k}` of {uid}: {m}"))
                })?;
                data.attrs.insert(k.as_str().into(), value);
            }
        }
        Some(_) => {
            return Err(origin.error_near(
                piece,
                "attrs",
                format!("`attrs` of {uid} must be an object"),
            ))
        }
    }
    match obj.get("tags") {
        None | Some(Json::Null) => {}
        Some(Json::Object(tags)) => {
            let expected = entity_type.and_then(|t| t.tags.as_ref());
            for (k, v) in tags {
                let value = value_from_json(v, expected, schema).map_err(|m| {
                    origin.error_near(piece, k, format!("in tag `{k}` of {uid}: {m}"))
                })?;
                data.tags.insert(k.as_str().into(), value);
            }
        }
        Some(_) => {
            return Err(origin.error_near(
                piece,
                "tags",
                format!("`tags` of {uid} must be an object"),
            ))
        }
    }
    let parents = match obj.get("parents") {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Array(items)) => items
            .iter()
            .map(entity_ref)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| {
                origin.error_near(piece, "parents", format!("in `parents` of {uid}: {m}"))
            })?,
        Some(_) => {
            return Err(origin.error_near(
                piece,
                "parents",
                format!("`parents` of {uid} must be an array"),
            ))
        }
    };
    Ok((uid, data, parents))
}

/// An entity reference: `{"type": T, "id": i}`, `{"__entity": {…}}` or `"T::\"i\""`.
pub fn entity_ref(json: &Json) -> Result<EntityUid, String> {
    match json {
        Json::Object(obj) => object_ref(obj),
        Json::String(s) => parse_uid(s),
        other => Err(format!(
            "expected an entity reference, found `{}`",
            short(other)
        )),
    }
}

/// An entity reference written as an object (`{"type": T, "id": i}` or
/// `{"__entity": {…}}`), read where it stands (no copy of the object).
fn object_ref(obj: &Map<String, Json>) -> Result<EntityUid, String> {
    if let Some(inner) = obj.get("__entity") {
        if obj.len() != 1 {
            return Err("`__entity` must be the only key of its object".into());
        }
        return entity_ref(inner);
    }
    let ty = obj.get("type").and_then(Json::as_str);
    let id = obj.get("id").and_then(Json::as_str);
    match (ty, id) {
        (Some(ty), Some(id)) if obj.len() == 2 => uid_from_parts(ty, id),
        _ => Err(format!(
            "expected an entity reference `{{\"type\": \"T\", \"id\": \"i\"}}`, found `{}`",
            short(&Json::Object(obj.clone()))
        )),
    }
}

/// The entity `ty::"id"` of a reference's two parts, the type name checked.
pub fn uid_from_parts(ty: &str, id: &str) -> Result<EntityUid, String> {
    if is_type_name(ty) {
        Ok(EntityUid::new(ty, id))
    } else {
        Err(format!(
            "`{}` is not an entity type name (identifiers joined by `::`, no spaces)",
            crate::diag::printable(ty)
        ))
    }
}

/// The range of a `Long`, as the messages about one say it.
const LONG_RANGE: &str = "a Long runs from -9223372036854775808 to 9223372036854775807";

/// Why a JSON number is no `Long`, echoing an integral number as an
/// integer (serde_json reads `-0` as the float `-0.0`).
fn not_a_long(n: &serde_json::Number) -> String {
    match n.as_f64() {
        Some(f) if f == 0.0 && f.is_sign_negative() => {
            "`-0` is a negative zero, which no 64-bit integer is; write `0`".into()
        }
        // Strictly inside the range: a number that rounds to ±2^63 in a
        // float was written past it (`-9223372036854775809`).
        Some(f)
            if f.fract() == 0.0
                && f > i64::MIN as f64
                && f < i64::MAX as f64
                && !n.is_i64()
                && !n.is_u64() =>
        {
            format!(
                "`{f:.0}` is written with a fraction or an exponent; a 64-bit integer is written without"
            )
        }
        // An integer written past the range reaches us as a float rounded
        // to 2^63 or beyond: its digits are gone, so none are made up.
        Some(f) if f.fract() == 0.0 && !n.is_i64() && !n.is_u64() => format!(
            "a number beyond the 64-bit range (about {f:e}) is not a 64-bit integer: {LONG_RANGE}"
        ),
        _ => format!("`{n}` is not a 64-bit integer: {LONG_RANGE}"),
    }
}

pub use crate::syntax::uid::{is_type_name, parse_uid};

fn short(json: &Json) -> String {
    let s = json.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

/// Converts a JSON value into a [`Value`]; `expected` is the declared type,
/// where one is known.
pub fn value_from_json(
    json: &Json,
    expected: Option<&Type>,
    schema: &Schema,
) -> Result<Value, String> {
    crate::limits::with_stack(|| value_from_json_inner(json, expected, schema))
}

fn value_from_json_inner(
    json: &Json,
    expected: Option<&Type>,
    schema: &Schema,
) -> Result<Value, String> {
    match json {
        Json::Null => Err("`null` is not a value".into()),
        Json::Bool(b) => Ok(Value::Bool(*b)),
        Json::Number(n) => n.as_i64().map(Value::Long).ok_or_else(|| not_a_long(n)),
        Json::String(s) => match expected {
            Some(Type::Extension(name)) => construct_ext(name, s),
            Some(Type::Entity(_)) if s.contains("::") => parse_uid(s).map(Value::Entity),
            _ => Ok(Value::String(s.as_str().into())),
        },
        Json::Array(items) => {
            let element = match expected {
                Some(Type::Set(t)) => Some(&**t),
                _ => None,
            };
            items
                .iter()
                .map(|v| value_from_json(v, element, schema))
                .collect::<Result<std::collections::BTreeSet<_>, _>>()
                .map(|s| Value::Set(std::sync::Arc::new(s)))
        }
        Json::Object(obj) => object_value(obj, expected, schema),
    }
}

fn object_value(
    obj: &Map<String, Json>,
    expected: Option<&Type>,
    schema: &Schema,
) -> Result<Value, String> {
    if obj.contains_key("__entity") {
        return object_ref(obj).map(Value::Entity);
    }
    if let Some(inner) = obj.get("__extn") {
        if obj.len() != 1 {
            return Err("`__extn` must be the only key of its object".into());
        }
        return ext::from_extn_json(inner)
            .map(|v| Value::Ext(std::sync::Arc::new(v)))
            .map_err(|e| e.message);
    }
    match expected {
        Some(Type::Entity(_)) => object_ref(obj).map(Value::Entity),
        Some(Type::Extension(_)) if obj.contains_key("fn") => {
            ext::from_extn_json(&Json::Object(obj.clone()))
                .map(|v| Value::Ext(std::sync::Arc::new(v)))
                .map_err(|e| e.message)
        }
        _ => {
            let attrs: Option<&BTreeMap<SmolStr, AttrType>> = match expected {
                Some(Type::Record(attrs)) => Some(attrs),
                _ => None,
            };
            let mut out = BTreeMap::new();
            for (k, v) in obj {
                let t = attrs.and_then(|a| a.get(k.as_str())).map(|a| &a.ty);
                let value = value_from_json(v, t, schema).map_err(|m| format!("in `{k}`: {m}"))?;
                out.insert(SmolStr::from(k.as_str()), value);
            }
            Ok(Value::Record(std::sync::Arc::new(out)))
        }
    }
}

fn construct_ext(name: &str, arg: &str) -> Result<Value, String> {
    let function = if name == "ipaddr" { "ip" } else { name };
    match ext::call_function(function, &[ext::ExtArg::String(arg)]) {
        Ok(ext::ExtOutput::Ext(v)) => Ok(Value::Ext(std::sync::Arc::new(v))),
        Ok(_) => Err(format!("`{arg}` is not a {name}")),
        Err(e) => Err(e.message),
    }
}

/// A request: who asks to do what to which, in which context.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// The principal.
    pub principal: EntityUid,
    /// The action.
    pub action: EntityUid,
    /// The resource.
    pub resource: EntityUid,
    /// The context record.
    pub context: Value,
}

/// Reads one request object: `{"principal", "action", "resource", "context"}`.
pub fn request_from_json(json: &Json, schema: &Schema) -> Result<Request, String> {
    let Json::Object(obj) = json else {
        return Err(
            "a request is a JSON object with `principal`, `action`, `resource` and `context`"
                .into(),
        );
    };
    // The first unknown field by name, whatever order serde_json keeps.
    let unknown = obj
        .keys()
        .filter(|k| !matches!(k.as_str(), "principal" | "action" | "resource" | "context"))
        .min();
    if let Some(key) = unknown {
        return Err(format!(
            "unknown field `{key}` in request; expected `principal`, `action`, `resource` or `context`"
        ));
    }
    let field = |name: &str| -> Result<EntityUid, String> {
        let v = obj
            .get(name)
            .ok_or_else(|| format!("request has no `{name}`"))?;
        entity_ref(v).map_err(|m| format!("in `{name}`: {m}"))
    };
    let principal = field("principal")?;
    let action = field("action")?;
    let resource = field("resource")?;
    let context_type = schema.actions.get(&action).and_then(|a| a.context.as_ref());
    let context = match obj.get("context") {
        None | Some(Json::Null) => Value::empty_record(),
        Some(c @ Json::Object(_)) => {
            value_from_json(c, context_type, schema).map_err(|m| format!("in `context`: {m}"))?
        }
        Some(other) => {
            return Err(format!(
                "`context` must be an object, found `{}`",
                short(other)
            ))
        }
    };
    Ok(Request {
        principal,
        action,
        resource,
        context,
    })
}

/// A request as JSON, what [`request_from_json`] reads back: entity
/// references as `{"id", "type"}` (keys in sorted order, so the text is the
/// same whatever serde_json's map keeps), the context in Cedar's JSON form.
#[derive(serde::Serialize)]
pub struct RequestJson<'a> {
    principal: UidJson<'a>,
    action: UidJson<'a>,
    resource: UidJson<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<Json>,
    /// In a decision log, the batch whose header line holds the context.
    #[serde(skip_serializing_if = "Option::is_none")]
    context_ref: Option<&'a str>,
}

/// An entity reference as `{"id", "type"}`.
#[derive(serde::Serialize)]
struct UidJson<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    ty: &'a str,
}

impl<'a> UidJson<'a> {
    fn of(uid: &'a EntityUid) -> UidJson<'a> {
        UidJson {
            id: uid.id.as_str(),
            ty: uid.ty.as_str(),
        }
    }
}

impl<'a> RequestJson<'a> {
    /// The JSON form of `request`.
    pub fn of(request: &'a Request) -> RequestJson<'a> {
        RequestJson {
            principal: UidJson::of(&request.principal),
            action: UidJson::of(&request.action),
            resource: UidJson::of(&request.resource),
            context: Some(request.context.to_json()),
            context_ref: None,
        }
    }

    /// The JSON form of `request` in a decision log whose batch `batch`
    /// wrote the context once in its header line: `"context_ref": batch`
    /// instead of the context.
    pub fn referring(request: &'a Request, batch: &'a str) -> RequestJson<'a> {
        RequestJson {
            principal: UidJson::of(&request.principal),
            action: UidJson::of(&request.action),
            resource: UidJson::of(&request.resource),
            context: None,
            context_ref: Some(batch),
        }
    }
}

/// Reads a context given as JSON text (for `--context`).
pub fn context_from_json(
    json: &Json,
    action: &EntityUid,
    schema: &Schema,
) -> Result<Value, String> {
    let context_type = schema.actions.get(action).and_then(|a| a.context.as_ref());
    match json {
        Json::Object(_) => value_from_json(json, context_type, schema),
        other => Err(format!(
            "a context is a JSON object, found `{}`",
            short(other)
        )),
    }
}

/// Reads one request from text, with errors located in `origin`.
pub fn request_from_text(
    origin: &Origin,
    text: &str,
    schema: &Schema,
) -> Result<Request, DataError> {
    request_from_text_with(origin, text, schema, &Limits::default())
}

/// [`request_from_text`] under `limits`: the data-file size and JSON nesting.
pub fn request_from_text_with(
    origin: &Origin,
    text: &str,
    schema: &Schema,
    limits: &Limits,
) -> Result<Request, DataError> {
    check_size(origin, text, limits)?;
    let json = parse_json(origin, text, limits)?;
    request_from_json(&json, schema).map_err(|m| {
        let key = ["principal", "action", "resource", "context"]
            .into_iter()
            .find(|k| m.starts_with(&format!("in `{k}`")) || m.starts_with(&format!("`{k}`")));
        match key {
            Some(k) => origin.error_at_value(text, k, m),
            None => origin.error(origin.offset, m, None),
        }
    })
}

/// Parses JSON text with duplicate keys refused and nesting bounded by
/// `limits`; errors are located in `origin`.
pub fn parse_json(origin: &Origin, text: &str, limits: &Limits) -> Result<Json, DataError> {
    strict::parse(text, limits.json_depth())
        .map_err(|e| origin.serde_with(&e, limits.json_depth()))
}

/// Refuses data text larger than [`Limits::max_data_file_bytes`].
pub fn check_size(origin: &Origin, text: &str, limits: &Limits) -> Result<(), DataError> {
    if text.len() > limits.max_data_file_bytes {
        return Err(origin.error(
            origin.offset,
            format!(
                "data of {} bytes is larger than the limit of {} bytes",
                text.len(),
                limits.max_data_file_bytes
            ),
            Some("raise the limit with `--max-data-file-bytes`".into()),
        ));
    }
    Ok(())
}

impl From<&DataError> for crate::diag::Diagnostic {
    fn from(e: &DataError) -> crate::diag::Diagnostic {
        let mut d = crate::diag::Diagnostic::plain(e.message.clone());
        d.file = Some(e.file.clone());
        d.line = Some(e.line);
        d.column = Some(e.column);
        d.help = e.help.clone();
        d
    }
}
