//! Grants: what an administrator gave an entity and can take away. A grant
//! of an entity is one of its parent edges, one element of one of its
//! set-valued attributes, or its entry in a set-valued attribute of another
//! entity (Model Studio: a membership, an attached system policy, an
//! `operations` entry, its place in a role's `trusted`).

use crate::entities::Entities;
use crate::syntax::ast::EntityUid;
use crate::value::Value;
use serde_json::Value as Json;
use smol_str::SmolStr;
use std::collections::BTreeMap;

/// One grant of an entity.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Grant {
    /// A parent edge: the entity is in `0`.
    Parent(EntityUid),
    /// An element of the entity's set-valued attribute.
    Element {
        /// The attribute.
        attribute: SmolStr,
        /// The element.
        value: Value,
    },
    /// The entity's entry in a set-valued attribute of another entity.
    In {
        /// The entity holding the set.
        holder: EntityUid,
        /// The attribute.
        attribute: SmolStr,
    },
}

impl Grant {
    /// The grant as the policy language sees it in a finding rule:
    /// `{parent: E}`, `{attribute: "a", value: V}` or `{"in": E, attribute: "a"}`.
    pub fn to_value(&self) -> Value {
        let entries: Vec<(SmolStr, Value)> = match self {
            Grant::Parent(uid) => vec![("parent".into(), Value::Entity(uid.clone()))],
            Grant::Element { attribute, value } => vec![
                ("attribute".into(), Value::String(attribute.clone())),
                ("value".into(), value.clone()),
            ],
            Grant::In { holder, attribute } => vec![
                ("in".into(), Value::Entity(holder.clone())),
                ("attribute".into(), Value::String(attribute.clone())),
            ],
        };
        Value::record(entries)
    }

    /// The grant in output: `{"parent": "T::\"id\""}`,
    /// `{"attribute": "a", "value": V}` (V as in entity JSON) or
    /// `{"in": "T::\"id\"", "attribute": "a"}`, keys in that order.
    pub fn to_json(&self) -> GrantJson {
        match self {
            Grant::Parent(uid) => GrantJson::Parent {
                parent: uid.to_string(),
            },
            Grant::Element { attribute, value } => GrantJson::Element {
                attribute: attribute.clone(),
                value: value.to_json(),
            },
            Grant::In { holder, attribute } => GrantJson::In {
                holder: holder.to_string(),
                attribute: attribute.clone(),
            },
        }
    }

    /// The grant in a sentence.
    pub fn describe(&self) -> String {
        match self {
            Grant::Parent(uid) => format!("its place in {uid}"),
            Grant::Element { attribute, value } => format!("{value} in its `{attribute}`"),
            Grant::In { holder, attribute } => {
                format!("its entry in the `{attribute}` of {holder}")
            }
        }
    }
}

/// A grant as output shows it (fields in a fixed order).
#[derive(Clone, Debug, serde::Serialize)]
#[serde(untagged)]
pub enum GrantJson {
    /// `{"parent": "T::\"id\""}`.
    Parent {
        /// The parent.
        parent: String,
    },
    /// `{"attribute": "a", "value": V}`.
    Element {
        /// The attribute.
        attribute: SmolStr,
        /// The element, as in entity JSON.
        value: Json,
    },
    /// `{"in": "T::\"id\"", "attribute": "a"}`.
    In {
        /// The entity holding the set.
        #[serde(rename = "in")]
        holder: String,
        /// The attribute.
        attribute: SmolStr,
    },
}

/// Every entity's grants, by entity, each list sorted.
pub fn all_grants(entities: &Entities) -> BTreeMap<EntityUid, Vec<Grant>> {
    let mut grants: BTreeMap<EntityUid, Vec<Grant>> = BTreeMap::new();
    for (uid, data) in entities.iter() {
        let own = grants.entry(uid.clone()).or_default();
        own.extend(
            entities
                .parents(uid)
                .into_iter()
                .cloned()
                .map(Grant::Parent),
        );
        for (attribute, value) in &data.attrs {
            if let Value::Set(items) = value {
                own.extend(items.iter().map(|v| Grant::Element {
                    attribute: attribute.clone(),
                    value: v.clone(),
                }));
            }
        }
        for (attribute, value) in &data.attrs {
            let Value::Set(items) = value else { continue };
            for item in items.iter() {
                if let Value::Entity(member) = item {
                    if entities.get(member).is_some() {
                        grants.entry(member.clone()).or_default().push(Grant::In {
                            holder: uid.clone(),
                            attribute: attribute.clone(),
                        });
                    }
                }
            }
        }
    }
    for list in grants.values_mut() {
        list.sort();
        list.dedup();
    }
    grants
}

/// Runs `f` on `store` with `grant` of `owner` taken away (the store an
/// administrator would have after removing it), then puts it back.
pub fn without<R>(
    store: &mut Entities,
    owner: &EntityUid,
    grant: &Grant,
    f: impl FnOnce(&Entities) -> R,
) -> R {
    match grant {
        Grant::Parent(parent) => {
            let at = store.remove_parent(owner, parent);
            let result = f(store);
            if let Some(at) = at {
                store.insert_parent(owner, parent, at);
            }
            result
        }
        Grant::Element { attribute, value } => without_element(store, owner, attribute, value, f),
        Grant::In { holder, attribute } => {
            without_element(store, holder, attribute, &Value::Entity(owner.clone()), f)
        }
    }
}

fn without_element<R>(
    store: &mut Entities,
    owner: &EntityUid,
    attribute: &str,
    value: &Value,
    f: impl FnOnce(&Entities) -> R,
) -> R {
    let old = store.attr_mut(owner, attribute).map(|slot| {
        let old = slot.clone();
        if let Value::Set(items) = slot {
            let mut fewer = (**items).clone();
            fewer.remove(value);
            *slot = Value::Set(fewer.into());
        }
        old
    });
    let result = f(store);
    if let (Some(old), Some(slot)) = (old, store.attr_mut(owner, attribute)) {
        *slot = old;
    }
    result
}
