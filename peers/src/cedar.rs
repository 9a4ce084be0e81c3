//! Deciding Model Studio requests with Cedar, in process, through the
//! `cedar-policy` crate and the independent encoding in
//! `cedar_model_studio.cedar`.
//!
//! Worlds and requests are parsed *with* the schema, so an entity missing an
//! attribute of the spec, an attribute of the wrong type, or a request whose
//! resource does not fit its action is rejected rather than decided.

use std::str::FromStr;
use std::sync::OnceLock;

use cedar_policy::{
    Authorizer, Context, Decision, Effect, Entities, EntityUid, PolicySet, Request, Schema,
    ValidationMode, Validator,
};
use serde_json::Value;

use crate::spec::action_entities_json;

/// The Cedar policies: the 15 rules of the spec.
pub const CEDAR_POLICIES: &str = include_str!("cedar_model_studio.cedar");
/// The Cedar schema: entity types, actions and action groups of the spec.
pub const CEDAR_SCHEMA: &str = include_str!("cedar_model_studio.cedarschema");

/// The parsed Cedar encoding: policy set and schema.
pub struct CedarModel {
    policies: PolicySet,
    schema: Schema,
}

impl CedarModel {
    /// Parses the embedded policies and schema.
    pub fn parse() -> Result<CedarModel, String> {
        let policies = PolicySet::from_str(CEDAR_POLICIES).map_err(|e| format!("{e:?}"))?;
        let (schema, _warnings) =
            Schema::from_cedarschema_str(CEDAR_SCHEMA).map_err(|e| format!("{e:?}"))?;
        Ok(CedarModel { policies, schema })
    }

    /// The shared instance, parsed once.
    pub fn get() -> &'static CedarModel {
        static MODEL: OnceLock<CedarModel> = OnceLock::new();
        MODEL.get_or_init(|| CedarModel::parse().expect("the embedded Cedar encoding parses"))
    }

    /// Strict validation of the policies against the schema: every error and
    /// warning, rendered. Empty when the encoding is well typed.
    pub fn validate(&self) -> Vec<String> {
        let result =
            Validator::new(self.schema.clone()).validate(&self.policies, ValidationMode::Strict);
        result
            .validation_errors()
            .map(|e| format!("error: {e}"))
            .chain(
                result
                    .validation_warnings()
                    .map(|w| format!("warning: {w}")),
            )
            .collect()
    }

    /// The `@id`s of the policies, in file order.
    pub fn policy_names(&self) -> Vec<String> {
        self.policies
            .policies()
            .map(|p| self.policy_name(p.id()))
            .collect()
    }

    /// The `@id`s of the forbids, in file order.
    pub fn forbid_names(&self) -> Vec<String> {
        self.policies
            .policies()
            .filter(|p| p.effect() == Effect::Forbid)
            .map(|p| self.policy_name(p.id()))
            .collect()
    }

    /// A variant for sensitivity tests: the same encoding with only the
    /// policies whose `@id` satisfies `keep`.
    pub fn retain(&self, keep: impl Fn(&str) -> bool) -> CedarModel {
        let mut policies = PolicySet::new();
        for p in self.policies.policies() {
            if keep(&self.policy_name(p.id())) {
                policies.add(p.clone()).expect("ids stay unique");
            }
        }
        CedarModel {
            policies,
            schema: self.schema.clone(),
        }
    }

    /// Decides one request (Cedar request JSON) against a loaded world.
    /// Errors when the request does not parse or does not fit the schema.
    pub fn answer(&self, world: &CedarWorld, request: &Value) -> Result<CedarAnswer, String> {
        let uid = |field: &str| -> Result<EntityUid, String> {
            let v = request
                .get(field)
                .ok_or(format!("request has no `{field}`"))?;
            EntityUid::from_json(v.clone()).map_err(|e| format!("bad `{field}`: {e}"))
        };
        let (principal, action, resource) = (uid("principal")?, uid("action")?, uid("resource")?);
        let context_json = request
            .get("context")
            .cloned()
            .unwrap_or(Value::Object(Default::default()));
        let context = Context::from_json_value(context_json, Some((&self.schema, &action)))
            .map_err(|e| format!("bad context: {e}"))?;
        let request = Request::new(principal, action, resource, context, Some(&self.schema))
            .map_err(|e| format!("request rejected by the schema: {e}"))?;
        let response = Authorizer::new().is_authorized(&request, &self.policies, &world.entities);
        let mut determining: Vec<String> = response
            .diagnostics()
            .reason()
            .map(|id| self.policy_name(id))
            .collect();
        determining.sort();
        Ok(CedarAnswer {
            allow: response.decision() == Decision::Allow,
            determining,
            errors: response
                .diagnostics()
                .errors()
                .map(|e| e.to_string())
                .collect(),
        })
    }

    /// The schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The `@id` annotation of Cedar's policy `policyN`, or the id itself.
    pub fn policy_name(&self, id: &cedar_policy::PolicyId) -> String {
        self.policies
            .annotation(id, "id")
            .map(str::to_string)
            .unwrap_or_else(|| id.to_string())
    }
}

/// A world loaded into Cedar: its entities plus the `Action` entities with
/// their groups (built from [`crate::spec::ACTIONS`]).
pub struct CedarWorld {
    entities: Entities,
}

impl CedarWorld {
    /// Loads a world's entity JSON array (without `Action` entities),
    /// checking it against the schema.
    pub fn new(entities_json: &Value) -> Result<CedarWorld, String> {
        let model = CedarModel::get();
        let mut all = entities_json
            .as_array()
            .ok_or("the entities JSON is not an array")?
            .clone();
        all.extend(
            action_entities_json()
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
        let entities = Entities::from_json_value(Value::Array(all), Some(model.schema()))
            .map_err(|e| format!("entities rejected by the schema: {e:?}"))?;
        Ok(CedarWorld { entities })
    }
}

/// Cedar's full answer to one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CedarAnswer {
    /// Allow or deny.
    pub allow: bool,
    /// The `@id`s of the determining policies.
    pub determining: Vec<String>,
    /// Evaluation errors, rendered (empty for a complete world).
    pub errors: Vec<String>,
}

/// Decides one request (Cedar request JSON) against a loaded world with the
/// shared [`CedarModel`]. Errors when the request does not fit the schema.
pub fn cedar_answer(world: &CedarWorld, request: &Value) -> Result<CedarAnswer, String> {
    CedarModel::get().answer(world, request)
}

/// Cedar's decision on one request: `true` for allow.
///
/// Panics when the request is malformed or evaluation raised an error, which
/// never happens for a complete generated world.
pub fn cedar_decide(world: &CedarWorld, request: &Value) -> bool {
    let answer = cedar_answer(world, request).unwrap_or_else(|e| panic!("{e}\nrequest: {request}"));
    assert!(
        answer.errors.is_empty(),
        "Cedar evaluation errors {:?} on request {request}",
        answer.errors
    );
    answer.allow
}

/// Links every entry of a linked-policies file (Cedar CLI's format, a JSON
/// array of `{"template_id", "link_id", "args"}`) into `set`; `template`
/// maps a link's `template_id` to the template's id in `set` (Cedar's
/// library names a text's policies `policyN` whatever their `@id`).
pub fn link_all(
    set: &mut cedar_policy::PolicySet,
    links: &Value,
    template: impl Fn(&str) -> String,
) -> Result<(), String> {
    use cedar_policy::{EntityUid, PolicyId, SlotId};
    for l in links.as_array().ok_or("the links are not an array")? {
        let mut values = std::collections::HashMap::new();
        for (k, v) in l["args"].as_object().ok_or("a link without `args`")? {
            let slot = match k.as_str() {
                "?principal" => SlotId::principal(),
                "?resource" => SlotId::resource(),
                other => return Err(format!("`{other}` is not a slot")),
            };
            let uid = EntityUid::from_str(v.as_str().ok_or("a slot value is not a string")?)
                .map_err(|e| format!("{e}"))?;
            values.insert(slot, uid);
        }
        let id = |key: &str| {
            l[key]
                .as_str()
                .map(String::from)
                .ok_or(format!("a link without `{key}`"))
        };
        set.link(
            PolicyId::new(template(&id("template_id")?)),
            PolicyId::new(id("link_id")?),
            values,
        )
        .map_err(|e| format!("{e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `(principal is RamUser || principal is RamRole) && …` guard must
    /// not hide mistakes behind it from the validator.
    #[test]
    fn validator_sees_behind_the_ram_guard() {
        let model = CedarModel::get();
        let text = r#"permit (principal, action == Action::"bill.view", resource)
            when { (principal is RamUser || principal is RamRole) && principal.ATTR.contains("x") };"#;
        let passes = |attr: &str| {
            let policies = PolicySet::from_str(&text.replace("ATTR", attr)).expect("parses");
            Validator::new(model.schema().clone())
                .validate(&policies, ValidationMode::Strict)
                .validation_passed()
        };
        assert!(passes("policies"));
        assert!(!passes("polices"));
    }

    #[test]
    fn encoding_is_valid() {
        assert_eq!(CedarModel::get().validate(), Vec::<String>::new());
    }
}
