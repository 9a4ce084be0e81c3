//! The data a decision is asked about: entity references, contexts,
//! requests and entity stores, from Cedar's JSON formats.

use super::error::DataError;
use super::policies::Schema;
use crate::diag::Diagnostic;
use crate::entities::json::{self, Origin, RequestJson};
use crate::limits::Limits;
use crate::value::Value;
use std::fmt;

/// A reference to an entity: its type (namespaces included) and its id,
/// written `Type::"id"`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntityUid(crate::syntax::ast::EntityUid);

impl EntityUid {
    /// The entity of type `type_name` (`Ns::Type`) with `id`.
    pub fn new(type_name: &str, id: &str) -> Result<EntityUid, DataError> {
        json::uid_from_parts(type_name, id)
            .map(EntityUid)
            .map_err(DataError::message)
    }

    /// Its type's full name.
    pub fn type_name(&self) -> String {
        self.0.ty.to_string()
    }

    /// Its id.
    pub fn id(&self) -> &str {
        &self.0.id
    }

    pub(crate) fn inner(&self) -> &crate::syntax::ast::EntityUid {
        &self.0
    }
}

impl std::str::FromStr for EntityUid {
    type Err = DataError;

    /// Reads `Type::"id"` (`Ns::Type::"id"`).
    fn from_str(text: &str) -> Result<EntityUid, DataError> {
        crate::syntax::uid::parse_uid(text)
            .map(EntityUid)
            .map_err(DataError::message)
    }
}

impl fmt::Display for EntityUid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for EntityUid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A request's context: a record of values.
#[derive(Clone, Debug, PartialEq)]
pub struct Context(Value);

impl Context {
    /// The empty record.
    pub fn empty() -> Context {
        Context(Value::empty_record())
    }

    /// A context from Cedar's JSON value form (entity references as
    /// `{"__entity": …}`, extension values as `{"__extn": …}`). With the
    /// declarations and the request's action, values are read as the
    /// action's declared context types say (a string where an `ipaddr` is
    /// declared is an IP address).
    pub fn from_json_str(
        text: &str,
        declared: Option<(&Schema, &EntityUid)>,
    ) -> Result<Context, DataError> {
        let origin = Origin {
            file: "<context>",
            text,
            offset: 0,
        };
        let limits = Limits::default();
        json::check_size(&origin, text, &limits).map_err(|e| DataError::of_data(&e))?;
        let value = json::parse_json(&origin, text, &limits).map_err(|e| DataError::of_data(&e))?;
        Context::from_json_value(&value, declared)
    }

    /// [`Context::from_json_str`] for a JSON value already parsed.
    pub fn from_json_value(
        value: &serde_json::Value,
        declared: Option<(&Schema, &EntityUid)>,
    ) -> Result<Context, DataError> {
        let empty = crate::schema::Schema::default();
        let (schema, action) = match declared {
            Some((schema, action)) => (&schema.decls().schema, Some(action.inner())),
            None => (&empty, None),
        };
        let read = match action {
            Some(action) => json::context_from_json(value, action, schema),
            None => match value {
                serde_json::Value::Object(_) => json::value_from_json(value, None, schema),
                _ => Err("a context is a JSON object".into()),
            },
        };
        read.map(Context).map_err(DataError::message)
    }
}

/// A request: who asks to do what to which, in which context.
#[derive(Clone, Debug, PartialEq)]
pub struct Request(json::Request);

impl Request {
    /// The request of `principal` to do `action` to `resource` in
    /// `context`. With declarations, it must fit them: its entity types and
    /// action declared, the principal and resource of types the action
    /// applies to, the context of the action's declared type (as Cedar's
    /// request validation).
    pub fn new(
        principal: EntityUid,
        action: EntityUid,
        resource: EntityUid,
        context: Context,
        schema: Option<&Schema>,
    ) -> Result<Request, DataError> {
        let request = Request(json::Request {
            principal: principal.0,
            action: action.0,
            resource: resource.0,
            context: context.0,
        });
        if let Some(schema) = schema {
            request.check(schema)?;
        }
        Ok(request)
    }

    /// Checks the request against `schema`'s declarations with the one
    /// checker `mspl validate --request` uses.
    fn check(&self, schema: &Schema) -> Result<(), DataError> {
        let text = serde_json::to_string(&RequestJson::of(&self.0))
            .map_err(|e| DataError::message(e.to_string()))?;
        checked(schema, "<request>", &text, |decls, file| {
            crate::validate::data::validate_requests(decls, file, &text, false)
        })
    }

    /// The principal.
    pub fn principal(&self) -> EntityUid {
        EntityUid(self.0.principal.clone())
    }

    /// The action.
    pub fn action(&self) -> EntityUid {
        EntityUid(self.0.action.clone())
    }

    /// The resource.
    pub fn resource(&self) -> EntityUid {
        EntityUid(self.0.resource.clone())
    }

    /// The context, as Cedar's JSON value form.
    pub fn context_json(&self) -> serde_json::Value {
        self.0.context.to_json()
    }

    pub(crate) fn inner(&self) -> &json::Request {
        &self.0
    }
}

/// The contract's request JSON: `{"principal", "action", "resource",
/// "context"}`, references as `{"type", "id"}`.
impl serde::Serialize for Request {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        RequestJson::of(&self.0).serialize(serializer)
    }
}

/// Reads the contract's request JSON (references as `{"type", "id"}`,
/// `{"__entity": …}` or `"Type::\"id\""`); undeclared, so a context value
/// is read by its JSON form alone.
impl<'de> serde::Deserialize<'de> for Request {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Request, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        json::request_from_json(&value, &crate::schema::Schema::default())
            .map(Request)
            .map_err(serde::de::Error::custom)
    }
}

/// The entities a decision reads: their attributes, tags and parents.
/// Cheap to clone (shared).
#[derive(Clone, Debug, Default)]
pub struct Entities(crate::entities::Entities);

impl Entities {
    /// No entities.
    pub fn empty() -> Entities {
        Entities::default()
    }

    /// Entities in Cedar's entity JSON format (an array of `{"uid",
    /// "attrs", "parents", "tags"}`). With declarations, every entity must
    /// fit them (declared type, attributes of the declared types, parents
    /// of the declared types), values are read as declared, and the
    /// declared actions with their groups are added, so that `action in`
    /// sees them — give the declarations whenever the policies have some.
    pub fn from_json_str(text: &str, schema: Option<&Schema>) -> Result<Entities, DataError> {
        let empty = crate::schema::Schema::default();
        let decls = match schema {
            Some(schema) => {
                check_entities(schema, text)?;
                &schema.decls().schema
            }
            None => &empty,
        };
        crate::entities::build::build_entities(decls, [("<entities>", text)])
            .map(Entities)
            .map_err(|e| DataError::of_data(&e))
    }

    /// [`Entities::from_json_str`] for a JSON value already parsed.
    pub fn from_json_value(
        value: &serde_json::Value,
        schema: Option<&Schema>,
    ) -> Result<Entities, DataError> {
        Entities::from_json_str(&value.to_string(), schema)
    }

    /// How many entities it holds (uids named only as parents included).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn inner(&self) -> &crate::entities::Entities {
        &self.0
    }
}

/// Checks an entity text against the declarations of `schema` with the one
/// checker `mspl validate --entities` uses: errors refuse it.
fn check_entities(schema: &Schema, text: &str) -> Result<(), DataError> {
    checked(schema, "<entities>", text, |decls, file| {
        crate::validate::data::validate_entities(decls, file, text)
    })
}

/// Runs `check` on `text`, added as the source `name` beside `schema`'s
/// declarations: its errors (not its warnings) refuse it, located.
fn checked(
    schema: &Schema,
    name: &str,
    text: &str,
    check: impl FnOnce(
        &crate::policy_set::PolicySet,
        crate::span::FileId,
    ) -> Result<Vec<crate::validate::Problem>, crate::validate::data::Unreadable>,
) -> Result<(), DataError> {
    let mut decls = schema.decls().clone();
    let file = decls.sources.add(name, text.to_string());
    let problems = check(&decls, file).map_err(|e| {
        DataError::new(
            &decls.sources,
            &[Diagnostic::error(e.message, e.span, "here")],
        )
    })?;
    let errors: Vec<Diagnostic> = problems
        .iter()
        .filter(|p| !p.is_warning())
        .map(Diagnostic::from)
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(DataError::new(&decls.sources, &errors))
    }
}
