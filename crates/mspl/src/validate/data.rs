//! Entity files and requests against the declarations: declared types and
//! actions, required and undeclared attributes, value types, allowed parent
//! types, tags, and for requests the action's `appliesTo` and context. Every
//! problem names the JSON path of the value and points at its text.

use super::error::{Problem, ValidationError as E};
use super::json::{describe, locate, Path};
use super::types::{Attr, Ty};
use super::Declared;
use crate::entities::json::entity_ref;
use crate::policy_set::PolicySet;
use crate::schema::Type as SchemaType;
use crate::syntax::ast::EntityUid;
use crate::syntax::{FileId, Span};
use crate::value::ext;
use serde_json::value::RawValue;
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;

/// A data file that is not JSON (or not a JSON array of entities): where and why.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct Unreadable {
    /// Where, in the loaded source.
    pub span: Span,
    /// What serde said.
    pub message: String,
}

struct DataChecker<'a> {
    index: &'a Declared<'a>,
    file: FileId,
    /// The piece being checked, its offset in the file, and the path of
    /// its root in the file (`$`, or `$[3]` for the fourth entity).
    piece: &'a str,
    root: String,
    offset: usize,
    problems: Vec<Problem>,
}

impl DataChecker<'_> {
    fn report(&mut self, error: E, path: &Path) {
        let (start, end) = locate(self.piece, path);
        let span = Span::new(self.file, self.offset + start, self.offset + end);
        let mut p = Problem::new(error, span);
        p.note = Some(format!("at `{}{}`", self.root, path.suffix()));
        self.problems.push(p);
    }

    fn uid(&mut self, json: Option<&Json>, path: &Path, what: &str) -> Option<EntityUid> {
        let Some(json) = json else {
            self.report(
                E::Malformed {
                    message: format!("{what} is missing"),
                },
                path,
            );
            return None;
        };
        match entity_ref(json) {
            Ok(u) => Some(u),
            Err(message) => {
                self.report(E::Malformed { message }, path);
                None
            }
        }
    }

    /// Checks that `uid`'s type is declared (and its id, for an enumerated
    /// type); false when the type is unknown.
    fn known(&mut self, uid: &EntityUid, path: &Path) -> bool {
        let index = self.index;
        if let Some(e) = undeclared_name(index.schema, uid) {
            self.report(e, path);
            return false;
        }
        let Some(t) = index.schema.entity_types.get(&uid.ty) else {
            return true;
        };
        if let Some(ids) = &t.enum_ids {
            if !ids.contains(&uid.id) {
                self.report(
                    E::InvalidEnumEntity {
                        uid: uid.to_string(),
                        ty: uid.ty.to_string(),
                        choices: ids.iter().map(|i| i.to_string()).collect(),
                    },
                    path,
                );
            }
        }
        true
    }

    fn record(
        &mut self,
        of: &str,
        obj: &Map<String, Json>,
        attrs: &BTreeMap<smol_str::SmolStr, Attr>,
        path: &Path,
    ) {
        for (k, a) in attrs {
            if a.required && !obj.contains_key(k.as_str()) {
                self.report(
                    E::MissingAttribute {
                        of: of.to_string(),
                        attr: k.to_string(),
                    },
                    path,
                );
            }
        }
        for (k, v) in obj {
            match attrs.get(k.as_str()) {
                Some(a) => self.value(v, &a.ty, &path.key(k)),
                None => {
                    let suggestion = crate::suggest::closest(k, attrs.keys().map(|s| s.as_str()));
                    self.report(
                        E::UndeclaredAttribute {
                            of: of.to_string(),
                            attr: k.clone(),
                            suggestion,
                        },
                        &path.key(k),
                    );
                }
            }
        }
    }

    fn value(&mut self, v: &Json, ty: &Ty, path: &Path) {
        crate::limits::with_stack(|| self.value_inner(v, ty, path))
    }

    fn value_inner(&mut self, v: &Json, ty: &Ty, path: &Path) {
        let wrong = |me: &mut Self| {
            me.report(
                E::WrongValueType {
                    expected: ty.clone(),
                    found: describe(v),
                },
                path,
            )
        };
        match (ty, v) {
            (Ty::Bool | Ty::True | Ty::False, Json::Bool(_)) | (Ty::String, Json::String(_)) => {}
            (Ty::Long, Json::Number(n)) if n.is_i64() => {}
            (Ty::Set(t), Json::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    self.value(item, t, &path.index(i));
                }
            }
            (Ty::Entity(t), Json::Object(_) | Json::String(_)) => match entity_ref(v) {
                Ok(uid) if uid.ty == *t => {
                    self.known(&uid, path);
                }
                Ok(uid) => self.report(
                    E::WrongValueType {
                        expected: ty.clone(),
                        found: format!("an entity of type `{}`", uid.ty),
                    },
                    path,
                ),
                Err(_) => wrong(self),
            },
            (Ty::Record(attrs), Json::Object(obj))
                if !obj.contains_key("__entity") && !obj.contains_key("__extn") =>
            {
                self.record("record", obj, attrs, path)
            }
            (Ty::Ext(name), Json::String(s)) => {
                let f = if *name == "ipaddr" { "ip" } else { name };
                if let Err(e) = ext::call_function(f, &[ext::ExtArg::String(s)]) {
                    let why = e.detail();
                    self.report(
                        E::WrongValueType {
                            expected: ty.clone(),
                            found: format!("{}: {why}", describe(v)),
                        },
                        path,
                    );
                }
            }
            (Ty::Ext(name), Json::Object(obj)) => {
                let inner = obj.get("__extn").unwrap_or(v);
                match ext::from_extn_json(inner) {
                    Ok(x) if x.type_name() == *name => {}
                    Ok(x) => self.report(
                        E::WrongValueType {
                            expected: ty.clone(),
                            found: format!("a `{}` value", x.type_name()),
                        },
                        path,
                    ),
                    Err(_) => wrong(self),
                }
            }
            _ => wrong(self),
        }
    }

    fn entity(&mut self, json: &Json, path: &Path) {
        let Json::Object(obj) = json else {
            let message = "an entity is a JSON object with `uid`, `attrs` and `parents`".into();
            self.report(E::Malformed { message }, path);
            return;
        };
        // In name order, whatever order serde_json keeps.
        let mut keys: Vec<&String> = obj.keys().collect();
        keys.sort();
        for key in keys {
            if !matches!(key.as_str(), "uid" | "attrs" | "parents" | "tags") {
                let message = format!(
                    "unknown field `{key}` in entity; expected `uid`, `attrs`, `parents` or `tags`"
                );
                self.report(E::Malformed { message }, &path.key(key));
            }
        }
        let Some(uid) = self.uid(obj.get("uid"), &path.key("uid"), "`uid`") else {
            return;
        };
        if !self.known(&uid, &path.key("uid")) {
            return;
        }
        let index = self.index;
        let parents: Vec<(usize, EntityUid)> = match obj.get("parents") {
            None | Some(Json::Null) => Vec::new(),
            Some(Json::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, p)| {
                    let at = path.key("parents").index(i);
                    self.uid(Some(p), &at, "a parent").map(|u| (i, u))
                })
                .collect(),
            Some(_) => {
                let message = format!("`parents` of `{uid}` must be an array");
                self.report(E::Malformed { message }, &path.key("parents"));
                Vec::new()
            }
        };
        if index.is_action_type(&uid.ty) {
            let groups = index.action_groups_of(&uid);
            for (i, p) in parents {
                if !groups.contains(&p) {
                    let at = path.key("parents").index(i);
                    self.report(
                        E::ActionParentMismatch {
                            uid: uid.to_string(),
                            parent: p.to_string(),
                        },
                        &at,
                    );
                }
            }
            return;
        }
        let Some(t) = index.schema.entity_types.get(&uid.ty) else {
            return;
        };
        for (i, p) in parents {
            let at = path.key("parents").index(i);
            if !self.known(&p, &at) {
                continue;
            }
            if !t.parents.contains(&p.ty) {
                self.report(
                    E::InvalidParent {
                        uid: uid.to_string(),
                        parent: p.ty.to_string(),
                        allowed: t.parents.iter().map(|n| n.to_string()).collect(),
                    },
                    &at,
                );
            }
        }
        let attrs = match Ty::record_from_schema(&t.attrs) {
            Ty::Record(a) => a,
            _ => return,
        };
        match obj.get("attrs") {
            None | Some(Json::Null) => self.record(&uid.to_string(), &Map::new(), &attrs, path),
            Some(Json::Object(a)) => self.record(&uid.to_string(), a, &attrs, &path.key("attrs")),
            Some(_) => {
                let message = format!("`attrs` of `{uid}` must be an object");
                self.report(E::Malformed { message }, &path.key("attrs"));
            }
        }
        match (obj.get("tags"), &t.tags) {
            (None | Some(Json::Null), _) => {}
            (Some(Json::Object(tags)), _) if tags.is_empty() => {}
            (Some(Json::Object(tags)), Some(tag_type)) => {
                let tag_type = Ty::from_schema(tag_type);
                for (k, v) in tags {
                    self.value(v, &tag_type, &path.key("tags").key(k));
                }
            }
            (Some(Json::Object(_)), None) => self.report(
                E::TagsNotAllowed {
                    uid: uid.to_string(),
                    ty: uid.ty.to_string(),
                },
                &path.key("tags"),
            ),
            (Some(_), _) => {
                let message = format!("`tags` of `{uid}` must be an object");
                self.report(E::Malformed { message }, &path.key("tags"));
            }
        }
    }

    fn request(&mut self, json: &Json) {
        let root = Path::default();
        let Json::Object(obj) = json else {
            let message =
                "a request is a JSON object with `principal`, `action`, `resource` and `context`"
                    .into();
            self.report(E::Malformed { message }, &root);
            return;
        };
        let principal = self.uid(obj.get("principal"), &root.key("principal"), "`principal`");
        let action = self.uid(obj.get("action"), &root.key("action"), "`action`");
        let resource = self.uid(obj.get("resource"), &root.key("resource"), "`resource`");
        let Some(action) = action else { return };
        if !self.known(&action, &root.key("action")) {
            return;
        }
        let index = self.index;
        let Some(declared) = index.schema.actions.get(&action) else {
            return;
        };
        for (role, uid, allowed) in [
            ("principal", principal, &declared.principals),
            ("resource", resource, &declared.resources),
        ] {
            let Some(uid) = uid else { continue };
            let at = root.key(role);
            if !self.known(&uid, &at) {
                continue;
            }
            let allowed = allowed.as_deref().unwrap_or_default();
            if !allowed.contains(&uid.ty) {
                self.report(
                    E::RequestTypeNotApplicable {
                        action: action.to_string(),
                        role,
                        ty: uid.ty.to_string(),
                        allowed: allowed.iter().map(|n| n.to_string()).collect(),
                    },
                    &at,
                );
            }
        }
        let attrs = match &declared.context {
            Some(SchemaType::Record(a)) => match Ty::record_from_schema(a) {
                Ty::Record(r) => r,
                _ => return,
            },
            _ => Default::default(),
        };
        match obj.get("context") {
            None | Some(Json::Null) => self.record("context", &Map::new(), &attrs, &root),
            Some(Json::Object(c)) => self.record("context", c, &attrs, &root.key("context")),
            Some(other) => {
                let message = format!("`context` must be an object, found {}", describe(other));
                self.report(E::Malformed { message }, &root.key("context"));
            }
        }
    }
}

/// The problem with `uid` when its action or its entity type is not
/// declared in `schema`, with a did-you-mean.
fn undeclared_name(schema: &crate::schema::Schema, uid: &EntityUid) -> Option<E> {
    if crate::schema::is_action_type(&uid.ty) {
        if schema.actions.contains_key(uid) {
            return None;
        }
        let known: Vec<String> = schema.actions.keys().map(|a| a.to_string()).collect();
        let shown = uid.to_string();
        let suggestion = crate::suggest::closest(&shown, known.iter().map(|s| s.as_str()));
        return Some(E::DataUnknownAction {
            uid: shown,
            suggestion,
        });
    }
    if schema.entity_types.contains_key(&uid.ty) {
        return None;
    }
    let known = schema.entity_types.keys().map(|n| n.as_str());
    Some(E::DataUnknownEntityType {
        name: uid.ty.to_string(),
        suggestion: crate::suggest::closest(&uid.ty, known),
    })
}

/// The names of a request that its declarations do not know: its
/// principal's or resource's entity type, or its action, each with the
/// request's field (`principal`, `action`, `resource`) and a
/// did-you-mean. Empty when `schema` declares nothing (no names to know).
pub fn undeclared_in_request(
    schema: &crate::schema::Schema,
    request: &crate::entities::json::Request,
) -> Vec<(&'static str, E)> {
    if schema.entity_types.is_empty() && schema.actions.is_empty() {
        return Vec::new();
    }
    [
        ("principal", &request.principal),
        ("action", &request.action),
        ("resource", &request.resource),
    ]
    .into_iter()
    .filter_map(|(field, uid)| undeclared_name(schema, uid).map(|e| (field, e)))
    .collect()
}

/// Why `json` is no value of the declared type `ty` (the first problem),
/// or `None` when it is one: for values given one at a time, as an
/// AuthZEN property.
pub fn value_problem(set: &PolicySet, json: &Json, ty: &SchemaType) -> Option<String> {
    let index = Declared::new(set);
    let text = json.to_string();
    let mut c = DataChecker {
        index: &index,
        file: 0,
        piece: &text,
        root: String::new(),
        offset: 0,
        problems: Vec::new(),
    };
    c.value(json, &Ty::from_schema(ty), &Path::default());
    c.problems.first().map(|p| {
        let at = p
            .note
            .as_deref()
            .filter(|n| *n != "at ``")
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        format!("{}{at}", p.error)
    })
}

fn unreadable(file: FileId, text: &str, offset: usize, e: &serde_json::Error) -> Unreadable {
    let mut at = offset;
    let piece = &text[offset..];
    let mut line = 1;
    for (i, c) in piece.char_indices() {
        if line == e.line() {
            at = offset + i + e.column().saturating_sub(1);
            break;
        }
        if c == '\n' {
            line += 1;
        }
    }
    let at = at.min(text.len());
    let message = e.to_string();
    let message = message.split(" at line ").next().unwrap_or(&message);
    Unreadable {
        span: Span::new(file, at, (at + 1).min(text.len()).max(at)),
        message: format!("invalid JSON: {message}"),
    }
}

/// Checks an entity file (loaded as source `file` with `text`) against the
/// declarations of `set`.
pub fn validate_entities(
    set: &PolicySet,
    file: FileId,
    text: &str,
) -> Result<Vec<Problem>, Unreadable> {
    let index = Declared::new(set);
    let pieces: Vec<&RawValue> = serde_json::from_str(text).map_err(|e| {
        if e.is_data() {
            Unreadable {
                span: Span::new(file, 0, text.len().min(1)),
                message: "an entity file is a JSON array of entities".into(),
            }
        } else {
            unreadable(file, text, 0, &e)
        }
    })?;
    let mut problems = Vec::new();
    for (i, raw) in pieces.iter().enumerate() {
        let offset = raw.get().as_ptr() as usize - text.as_ptr() as usize;
        let json: Json =
            serde_json::from_str(raw.get()).map_err(|e| unreadable(file, text, offset, &e))?;
        let mut c = DataChecker {
            index: &index,
            file,
            piece: raw.get(),
            root: format!("$[{i}]"),
            offset,
            problems: Vec::new(),
        };
        c.entity(&json, &Path::default());
        problems.append(&mut c.problems);
    }
    Ok(problems)
}

/// Checks requests against the declarations of `set`: one JSON object, or
/// JSON Lines when `lines` (problems then name the line).
pub fn validate_requests(
    set: &PolicySet,
    file: FileId,
    text: &str,
    lines: bool,
) -> Result<Vec<Problem>, Unreadable> {
    let index = Declared::new(set);
    let mut problems = Vec::new();
    let mut offset = 0;
    let pieces: Vec<&str> = if lines {
        text.split_inclusive('\n').collect()
    } else {
        vec![text]
    };
    for piece in pieces {
        let body = if lines {
            piece.trim_end_matches(['\n', '\r'])
        } else {
            piece
        };
        if !body.trim().is_empty() {
            let json: Json =
                serde_json::from_str(body).map_err(|e| unreadable(file, text, offset, &e))?;
            let mut c = DataChecker {
                index: &index,
                file,
                piece: body,
                root: "$".into(),
                offset,
                problems: Vec::new(),
            };
            c.request(&json);
            problems.append(&mut c.problems);
        }
        offset += piece.len();
    }
    Ok(problems)
}
