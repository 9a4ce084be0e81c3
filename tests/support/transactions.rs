//! Random transactions on generated worlds' entities (`tests/support/worlds.rs`):
//! upserts that change attributes and parents (of entities that may not
//! exist yet), parent adds and removes, deletes (of entities that may not
//! be there), and the model each gives — the entities as JSON by uid —
//! to rebuild the store from scratch and compare.

#![allow(dead_code)]

use mspl::__internal::entities::build::{add_named_actions, build_entities_for, Cycles};
use mspl::__internal::{Entities, Limits, PolicySet};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The entities as JSON, by uid: the model the revisions are checked against.
pub type Model = BTreeMap<String, Value>;

pub fn key(uid: &Value) -> String {
    format!("{}::{}", uid["type"], uid["id"])
}

pub fn uid(ty: &str, id: String) -> Value {
    json!({"type": ty, "id": id})
}

/// A random transaction over `model`'s entities (and some that are not
/// there yet): its JSON, and the model it would give.
pub fn transaction(model: &Model, pick: &mut dyn FnMut(usize) -> usize) -> (Value, Model) {
    let mut next = model.clone();
    let uids: Vec<Value> = model.values().map(|e| e["uid"].clone()).collect();
    let groups = |pick: &mut dyn FnMut(usize) -> usize| uid("Group", format!("g{}", pick(5)));
    let mut ops = Vec::new();
    for _ in 0..1 + pick(5) {
        let target = uids
            .get(pick(uids.len().max(1)))
            .cloned()
            .unwrap_or_else(|| groups(pick));
        let k = key(&target);
        match pick(6) {
            // An upsert: new attributes (a level, a tag, readers), new
            // parents, possibly of an entity that did not exist.
            0 | 1 => {
                let ty = target["type"].as_str().unwrap_or("Group").to_string();
                let (target, k) = if pick(4) == 0 {
                    let fresh = uid(&ty, format!("n{}", pick(6)));
                    let k = key(&fresh);
                    (fresh, k)
                } else {
                    (target, k)
                };
                let mut attrs = serde_json::Map::new();
                if pick(2) == 0 {
                    attrs.insert("level".into(), json!(pick(7)));
                }
                if pick(3) == 0 {
                    attrs.insert(
                        "tag".into(),
                        json!(if pick(2) == 0 { "urgent" } else { "calm" }),
                    );
                }
                if pick(3) == 0 {
                    attrs.insert(
                        "readers".into(),
                        json!([uid("User", format!("u{}", pick(5)))]),
                    );
                }
                if ty == "Doc" && pick(2) == 0 {
                    attrs.insert("owner".into(), uid("User", format!("u{}", pick(5))));
                }
                attrs.insert("x".into(), json!(0));
                let parents: Vec<Value> = match ty.as_str() {
                    "User" | "Group" => (0..pick(3)).map(|_| groups(pick)).collect(),
                    "Doc" => (0..pick(2))
                        .map(|_| uid("Folder", format!("f{}", pick(3))))
                        .collect(),
                    _ => Vec::new(),
                };
                let entity = json!({"uid": target, "attrs": attrs, "parents": parents});
                next.insert(k, entity.clone());
                ops.push(json!({"op": "upsert", "entity": entity}));
            }
            2 => {
                next.remove(&k);
                ops.push(json!({"op": "delete", "uid": target}));
            }
            3 | 4 => {
                let ty = target["type"].as_str().unwrap_or("");
                let parent = match ty {
                    "Doc" => uid("Folder", format!("f{}", pick(3))),
                    _ => groups(pick),
                };
                let add = pick(2) == 0;
                if let Some(e) = next.get_mut(&k) {
                    let list = e["parents"].as_array_mut().expect("parents");
                    let same = |p: &Value| key(p) == key(&parent);
                    if add {
                        if !list.iter().any(same) {
                            list.push(parent.clone());
                        }
                    } else {
                        list.retain(|p| !same(p));
                    }
                }
                let op = if add { "add_parents" } else { "remove_parents" };
                ops.push(json!({"op": op, "uid": target, "parents": [parent]}));
            }
            _ => {
                // A delete of an entity that is not there: a no-op.
                let ghost = uid("User", format!("ghost{}", pick(3)));
                next.remove(&key(&ghost));
                ops.push(json!({"op": "delete", "uid": ghost}));
            }
        }
    }
    (json!({"ops": ops}), next)
}

/// The store rebuilt from scratch from `model`, as a fresh load builds it.
pub fn rebuilt(set: &PolicySet, model: &Model, cycles: Cycles) -> Option<Entities> {
    let text = Value::Array(model.values().cloned().collect()).to_string();
    let mut store = build_entities_for(
        &set.schema,
        [("model.json", text.as_str())],
        &Limits::default(),
        cycles,
    )
    .ok()?;
    add_named_actions(set, &mut store);
    Some(store)
}

/// Every request of the audit domain of `store` (every principal, action,
/// resource and context the declarations and the store allow).
pub fn domain_requests(
    prepared: &mspl::__internal::authorize::PreparedSet,
    store: &Entities,
    context: Option<&Value>,
) -> Vec<mspl::__internal::entities::json::Request> {
    let auditor = mspl_cli::audit::Auditor::new(prepared, store, context).expect("a domain");
    let d = &auditor.domain;
    let mut requests = Vec::new();
    for a in &d.actions {
        for &p in &a.principals {
            for &r in &a.resources {
                for &c in &a.contexts {
                    requests.push(mspl::__internal::entities::json::Request {
                        principal: store.node_uid(p).clone(),
                        action: a.action.clone(),
                        resource: store.node_uid(r).clone(),
                        context: d.contexts[c as usize].clone(),
                    });
                }
            }
        }
    }
    requests
}

/// The body of `POST /v1/batch_is_authorized` asking `requests` at least
/// at `token`.
pub fn batch_body(requests: &[mspl::__internal::entities::json::Request], token: &str) -> Value {
    json!({
        "requests": requests.iter().map(|r| json!({
            "principal": {"type": r.principal.ty.to_string(), "id": r.principal.id.as_str()},
            "action": {"type": r.action.ty.to_string(), "id": r.action.id.as_str()},
            "resource": {"type": r.resource.ty.to_string(), "id": r.resource.id.as_str()},
            "context": r.context.to_json(),
        })).collect::<Vec<_>>(),
        "consistency": {"at_least": token},
    })
}
