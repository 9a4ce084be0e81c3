//! Deciding Model Studio requests with Regorus (Rego in Rust), in process,
//! through the independent encoding in `rego_model_studio.rego`.
//!
//! Cedar's entity JSON becomes one data document,
//! `{"entities": {type: {id: {"attrs": …, "parents": […]}}}}`, with every
//! `{"__entity": …}` escape unwrapped to a plain `{"type", "id"}`; a request
//! becomes the input the same way.

use serde_json::{json, Map, Value};

/// The Rego policy: the 15 rules of the spec.
pub const REGO_POLICY: &str = include_str!("rego_model_studio.rego");

/// The rule whose value is the decision.
pub const ALLOW_RULE: &str = "data.model_studio.allow";

/// `value` with every `{"__entity": ref}` replaced by `ref`.
pub fn unescape(value: &Value) -> Value {
    match value {
        Value::Object(obj) => match obj.get("__entity") {
            Some(inner) if obj.len() == 1 => inner.clone(),
            _ => Value::Object(obj.iter().map(|(k, v)| (k.clone(), unescape(v))).collect()),
        },
        Value::Array(items) => Value::Array(items.iter().map(unescape).collect()),
        other => other.clone(),
    }
}

/// The data document for a world's entity JSON array.
pub fn data_document(entities_json: &Value) -> Result<Value, String> {
    let mut by_type: Map<String, Value> = Map::new();
    for e in entities_json
        .as_array()
        .ok_or("the entities JSON is not an array")?
    {
        let uid = e.get("uid").ok_or("an entity has no `uid`")?;
        let (Some(ty), Some(id)) = (
            uid.get("type").and_then(Value::as_str),
            uid.get("id").and_then(Value::as_str),
        ) else {
            return Err(format!("bad uid {uid}"));
        };
        let entry = json!({
            "attrs": unescape(e.get("attrs").unwrap_or(&json!({}))),
            "parents": unescape(e.get("parents").unwrap_or(&json!([]))),
        });
        by_type
            .entry(ty.to_string())
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .expect("inserted as an object")
            .insert(id.to_string(), entry);
    }
    Ok(json!({ "entities": by_type }))
}

/// A Regorus engine loaded with the policy and one world.
#[derive(Clone)]
pub struct RegoWorld {
    engine: regorus::Engine,
}

impl RegoWorld {
    /// Loads the policy and a world's entity JSON array.
    pub fn new(entities_json: &Value) -> Result<RegoWorld, String> {
        let mut engine = regorus::Engine::new();
        engine
            .add_policy("model_studio.rego".into(), REGO_POLICY.into())
            .map_err(|e| format!("the Rego policy does not load: {e}"))?;
        let data = regorus::Value::from(data_document(entities_json)?);
        engine.add_data(data).map_err(|e| e.to_string())?;
        Ok(RegoWorld { engine })
    }

    /// The input for a Cedar request JSON.
    pub fn input(request: &Value) -> regorus::Value {
        regorus::Value::from(unescape(request))
    }

    /// Decides one request given as input ([`RegoWorld::input`]): `true`
    /// for allow.
    pub fn decide(&mut self, input: &regorus::Value) -> Result<bool, String> {
        self.engine.set_input(input.clone());
        let v = self
            .engine
            .eval_rule(ALLOW_RULE.into())
            .map_err(|e| e.to_string())?;
        v.as_bool()
            .copied()
            .map_err(|e| format!("`allow` is not a boolean: {e}"))
    }
}
