//! The enumeration domain of an audit: for each action, the principals,
//! resources and contexts of every request an answer must cover.
//!
//! With declarations, an action's principals and resources are the store's
//! entities of the types its `appliesTo` names (an action without
//! `appliesTo`, such as an action group, has no requests, as in Cedar); a
//! context attribute of an entity type ranges over the store's entities of
//! that type, a `Bool` over both values, and an optional one also takes
//! "absent". Any other attribute must be given (`--context`). Without
//! declarations every entity is a candidate principal and resource, and the
//! actions are those the policies' scopes name plus the store's `Action`
//! entities.

use crate::entities::build::named_actions;
use crate::entities::json::context_from_json;
use crate::entities::Entities;
use crate::policy_set::PolicySet;
use crate::schema::{is_action_type, AttrType, Type};
use crate::syntax::ast::{EntityUid, Name};
use crate::value::Value;
use serde_json::Value as Json;
use smol_str::SmolStr;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The most contexts one action may enumerate: a product of attribute
/// ranges past this is refused rather than ground through.
pub const MAX_CONTEXTS_PER_ACTION: usize = 1_000_000;

/// Why a domain could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// A context attribute that cannot be enumerated was not given.
    #[error("action `{action}` needs the context attribute `{attribute}` ({ty}), which cannot be enumerated: give it with --context")]
    NeedsContext {
        /// The action.
        action: String,
        /// The attribute.
        attribute: String,
        /// Its declared type.
        ty: String,
    },
    /// `--context` does not fit an action's context type.
    #[error("--context does not fit action `{action}`: {message}")]
    BadContext {
        /// The action.
        action: String,
        /// What is wrong.
        message: String,
    },
    /// The product of the attributes' ranges is too large.
    #[error("action `{action}` has more than {MAX_CONTEXTS_PER_ACTION} contexts to enumerate: fix more attributes with --context")]
    TooManyContexts {
        /// The action.
        action: String,
    },
    /// A name given to filter the domain is not in it.
    #[error("{what} `{name}` is not in the audit's domain{help}")]
    Unknown {
        /// "action", "principal", "resource", "principal type".
        what: &'static str,
        /// The name given.
        name: String,
        /// A did-you-mean, with its leading separator, or empty.
        help: String,
    },
}

/// Where a domain's contexts come from.
enum Contexts<'a> {
    /// Each declared attribute over its range, `given` ones fixed.
    Enumerate {
        given: Option<&'a Json>,
        choices: &'a dyn Fn(&Type) -> Option<Vec<Value>>,
    },
    /// Exactly this one for every action (an error only for `action`).
    Exactly {
        context: &'a Json,
        action: Option<&'a EntityUid>,
    },
}

/// The requests of one action.
#[derive(Clone, Debug)]
pub struct ActionDomain {
    /// The action.
    pub action: EntityUid,
    /// The action's node in the store.
    pub node: u32,
    /// Candidate principals, as store nodes, in the order of their names.
    pub principals: Vec<u32>,
    /// Candidate resources, likewise.
    pub resources: Vec<u32>,
    /// The contexts, as numbers into [`Domain::contexts`], in the order of
    /// their canonical JSON.
    pub contexts: Vec<u32>,
}

/// Every request an audit covers, by action.
#[derive(Clone, Debug, Default)]
pub struct Domain {
    /// The actions in the order of their names.
    pub actions: Vec<ActionDomain>,
    /// Every distinct context, each once.
    pub contexts: Vec<Value>,
    /// Each context's canonical JSON text (keys sorted).
    pub context_json: Vec<String>,
    /// `Type::"id"` of every store node, for sorting and output.
    names: Vec<String>,
    /// The principals under each of their ancestors (built on first use:
    /// who-can's hierarchy bound reads it).
    pub(super) below: std::sync::OnceLock<std::collections::HashMap<u32, Vec<u32>>>,
    /// The outcomes of conditions that read only the principal (who-can's
    /// bound computes each once a domain).
    pub(super) principal_outcomes: super::bound::PrincipalOutcomes,
}

impl Domain {
    /// The domain of `set` over `entities`, with `given` (a JSON object)
    /// fixing context attributes of every action.
    pub fn build(
        set: &PolicySet,
        entities: &Entities,
        given: Option<&Json>,
    ) -> Result<Domain, DomainError> {
        Domain::build_with(set, entities, given, &|_| None)
    }

    /// [`Domain::build`], with `choices` giving the values of a context
    /// attribute whose type cannot be enumerated (`None`: it must be given).
    pub fn build_with(
        set: &PolicySet,
        entities: &Entities,
        given: Option<&Json>,
        choices: &dyn Fn(&Type) -> Option<Vec<Value>>,
    ) -> Result<Domain, DomainError> {
        Domain::build_contexts(set, entities, Contexts::Enumerate { given, choices })
    }

    /// The domain of `set` over `entities` in which every action has the
    /// one context `context` (a JSON object) and nothing is enumerated: the
    /// requests an AuthZEN search asks about, each exactly as an evaluation
    /// with that context would decide it. An action whose context type
    /// `context` does not fit is left out, but for `action`, for which that
    /// is an error (the evaluation would refuse it).
    pub fn build_exact(
        set: &PolicySet,
        entities: &Entities,
        context: &Json,
        action: Option<&EntityUid>,
    ) -> Result<Domain, DomainError> {
        Domain::build_contexts(set, entities, Contexts::Exactly { context, action })
    }

    fn build_contexts(
        set: &PolicySet,
        entities: &Entities,
        mode: Contexts,
    ) -> Result<Domain, DomainError> {
        let mut domain = Domain {
            names: (0..entities.node_count())
                .map(|n| entities.node_uid(n).to_string())
                .collect(),
            ..Domain::default()
        };
        let mut by_type: BTreeMap<&Name, Vec<u32>> = BTreeMap::new();
        let mut everything = Vec::new();
        for (uid, _) in entities.iter() {
            let Some(node) = entities.node(uid) else {
                continue;
            };
            by_type.entry(&uid.ty).or_default().push(node);
            if !is_action_type(&uid.ty) {
                everything.push(node);
            }
        }
        for nodes in by_type.values_mut() {
            domain.sort_nodes(nodes);
        }
        domain.sort_nodes(&mut everything);
        let of_types = |types: &[Name]| -> Vec<u32> {
            let mut nodes: Vec<u32> = types
                .iter()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .flat_map(|t| by_type.get(t).into_iter().flatten().copied())
                .collect();
            nodes.dedup();
            nodes
        };
        let mut interned: HashMap<String, u32> = HashMap::new();
        let declared = !set.schema.actions.is_empty();
        let actions: Vec<EntityUid> = if declared {
            set.schema.actions.keys().cloned().collect()
        } else {
            undeclared_actions(set, entities)
        };
        for action in actions {
            let (principals, resources, context_type) = if declared {
                let decl = &set.schema.actions[&action];
                match (&decl.principals, &decl.resources) {
                    (Some(p), Some(r)) => {
                        let (mut p, mut r) = (of_types(p), of_types(r));
                        domain.sort_nodes(&mut p);
                        domain.sort_nodes(&mut r);
                        (p, r, decl.context.as_ref())
                    }
                    // No `appliesTo`: no request has this action.
                    _ => continue,
                }
            } else {
                (everything.clone(), everything.clone(), None)
            };
            let Some(node) = entities.node(&action) else {
                continue;
            };
            let read = |json: &Json| {
                context_from_json(json, &action, &set.schema).map_err(|message| {
                    DomainError::BadContext {
                        action: action.to_string(),
                        message,
                    }
                })
            };
            let contexts = match &mode {
                Contexts::Enumerate { given, choices } => {
                    let fixed = given.map(read).transpose()?;
                    enumerate_contexts(&action, context_type, fixed, &by_type, entities, *choices)?
                }
                Contexts::Exactly {
                    context,
                    action: asked,
                } => match read(context) {
                    Ok(c) => vec![c],
                    Err(e) if *asked == Some(&action) => return Err(e),
                    Err(_) => continue,
                },
            };
            let mut numbers: Vec<u32> = contexts
                .into_iter()
                .map(|c| {
                    let text = serde_json::to_string(&c.to_json()).unwrap_or_default();
                    *interned.entry(text.clone()).or_insert_with(|| {
                        domain.contexts.push(c);
                        domain.context_json.push(text);
                        context_number(domain.contexts.len() - 1)
                    })
                })
                .collect();
            numbers.sort_by(|a, b| {
                domain.context_json[*a as usize].cmp(&domain.context_json[*b as usize])
            });
            numbers.dedup();
            domain.actions.push(ActionDomain {
                action,
                node,
                principals,
                resources,
                contexts: numbers,
            });
        }
        let names = &domain.names;
        domain
            .actions
            .sort_by(|a, b| names[a.node as usize].cmp(&names[b.node as usize]));
        Ok(domain)
    }

    /// `Type::"id"` of store node `node`.
    pub fn name(&self, node: u32) -> &str {
        &self.names[node as usize]
    }

    /// Sorts store nodes by their names.
    fn sort_nodes(&self, nodes: &mut [u32]) {
        nodes.sort_by(|a, b| self.names[*a as usize].cmp(&self.names[*b as usize]));
    }

    /// Every principal of some action, each once, in the order of their
    /// names.
    pub fn principals(&self) -> Vec<u32> {
        let mut all: Vec<u32> = self
            .actions
            .iter()
            .flat_map(|a| a.principals.iter().copied())
            .collect();
        all.sort_unstable();
        all.dedup();
        self.sort_nodes(&mut all);
        all
    }

    /// The actions (of `only`, or all), by number, whose principals include
    /// `principal`.
    pub fn actions_of(&self, principal: u32, only: &[usize]) -> Vec<usize> {
        (0..self.actions.len())
            .filter(|i| only.is_empty() || only.contains(i))
            .filter(|&i| {
                self.actions[i]
                    .principals
                    .binary_search_by(|p| self.name(*p).cmp(self.name(principal)))
                    .is_ok()
            })
            .collect()
    }

    /// Every request of this domain (over `store`) and of `other` (over
    /// `other_store`), as nodes of `store`, which must know every uid of
    /// `other_store` ([`Entities::add_node`]): actions, principals,
    /// resources and contexts joined by name. Two stores that know each
    /// other's uids give the two unions the same requests in the same
    /// order.
    pub fn union(&self, store: &Entities, other: &Domain, other_store: &Entities) -> Domain {
        let mut out = Domain {
            names: (0..store.node_count())
                .map(|n| store.node_uid(n).to_string())
                .collect(),
            ..Domain::default()
        };
        let mut interned: HashMap<String, u32> = HashMap::new();
        let mut actions: BTreeMap<String, ActionDomain> = BTreeMap::new();
        for (domain, from) in [(self, store), (other, other_store)] {
            let node = |n: u32| store.node(from.node_uid(n));
            for a in &domain.actions {
                let Some(action_node) = node(a.node) else {
                    continue;
                };
                let entry = actions
                    .entry(out.names[action_node as usize].clone())
                    .or_insert_with(|| ActionDomain {
                        action: a.action.clone(),
                        node: action_node,
                        principals: Vec::new(),
                        resources: Vec::new(),
                        contexts: Vec::new(),
                    });
                entry
                    .principals
                    .extend(a.principals.iter().filter_map(|&p| node(p)));
                entry
                    .resources
                    .extend(a.resources.iter().filter_map(|&r| node(r)));
                for &c in &a.contexts {
                    let text = &domain.context_json[c as usize];
                    let number = *interned.entry(text.clone()).or_insert_with(|| {
                        out.contexts.push(domain.contexts[c as usize].clone());
                        out.context_json.push(text.clone());
                        context_number(out.contexts.len() - 1)
                    });
                    entry.contexts.push(number);
                }
            }
        }
        for (_, mut a) in actions {
            for nodes in [&mut a.principals, &mut a.resources] {
                nodes.sort_unstable();
                nodes.dedup();
                out.sort_nodes(nodes);
            }
            let json = &out.context_json;
            a.contexts.sort_unstable();
            a.contexts.dedup();
            a.contexts
                .sort_by(|x, y| json[*x as usize].cmp(&json[*y as usize]));
            out.actions.push(a);
        }
        out
    }

    /// The number of requests in the domain.
    pub fn size(&self) -> u128 {
        self.actions
            .iter()
            .map(|a| {
                a.principals.len() as u128 * a.resources.len() as u128 * a.contexts.len() as u128
            })
            .sum()
    }
}

/// The actions of a set without declarations: those its scopes name and
/// the store's `Action` entities, sorted. Only those with a node in the
/// store are judged ([`add_named_actions`](crate::entities::build::add_named_actions) adds the others).
fn undeclared_actions(set: &PolicySet, entities: &Entities) -> Vec<EntityUid> {
    let mut actions = named_actions(set);
    for (uid, _) in entities.iter() {
        if is_action_type(&uid.ty) {
            actions.insert(uid.clone());
        }
    }
    actions.into_iter().collect()
}

/// Every context of `action`: each declared attribute over its range, the
/// given ones fixed, the product of the ranges.
fn enumerate_contexts(
    action: &EntityUid,
    ty: Option<&Type>,
    fixed: Option<Value>,
    by_type: &BTreeMap<&Name, Vec<u32>>,
    entities: &Entities,
    choices: &dyn Fn(&Type) -> Option<Vec<Value>>,
) -> Result<Vec<Value>, DomainError> {
    let fixed: BTreeMap<SmolStr, Value> = match fixed {
        Some(Value::Record(map)) => (*map).clone(),
        _ => BTreeMap::new(),
    };
    let declared: &BTreeMap<SmolStr, AttrType> = match ty {
        Some(Type::Record(attrs)) => attrs,
        _ => &BTreeMap::new(),
    };
    // Each enumerated attribute's choices (`None`: absent).
    let mut ranges: Vec<(&SmolStr, Vec<Option<Value>>)> = Vec::new();
    for (name, attr) in declared {
        if fixed.contains_key(name) {
            continue;
        }
        let mut choices: Vec<Option<Value>> = match &attr.ty {
            Type::Bool => vec![Some(Value::Bool(false)), Some(Value::Bool(true))],
            Type::Entity(t) => by_type
                .get(t)
                .into_iter()
                .flatten()
                .map(|&n| Some(Value::Entity(entities.node_uid(n).clone())))
                .collect(),
            other => match choices(other) {
                Some(values) => values.into_iter().map(Some).collect(),
                None => {
                    return Err(DomainError::NeedsContext {
                        action: action.to_string(),
                        attribute: name.to_string(),
                        ty: type_name(other),
                    })
                }
            },
        };
        if attr.optional {
            choices.push(None);
        }
        ranges.push((name, choices));
    }
    let count = ranges
        .iter()
        .try_fold(1usize, |n, (_, c)| n.checked_mul(c.len()))
        .filter(|&n| n <= MAX_CONTEXTS_PER_ACTION)
        .ok_or_else(|| DomainError::TooManyContexts {
            action: action.to_string(),
        })?;
    let mut contexts = Vec::with_capacity(count);
    let mut picks = vec![0usize; ranges.len()];
    for _ in 0..count {
        let mut record = fixed.clone();
        for ((name, choices), &k) in ranges.iter().zip(&picks) {
            if let Some(v) = &choices[k] {
                record.insert((*name).clone(), v.clone());
            }
        }
        contexts.push(Value::Record(record.into()));
        // The next combination, the last attribute fastest.
        for (slot, (_, choices)) in picks.iter_mut().zip(&ranges).rev() {
            *slot += 1;
            if *slot < choices.len() {
                break;
            }
            *slot = 0;
        }
    }
    Ok(contexts)
}

/// A declared type as the schema syntax writes it, for messages.
fn type_name(ty: &Type) -> String {
    match ty {
        Type::Bool => "Bool".into(),
        Type::Long => "Long".into(),
        Type::String => "String".into(),
        Type::Entity(name) => name.to_string(),
        Type::Set(element) => format!("Set<{}>", type_name(element)),
        Type::Record(_) => "a record".into(),
        Type::Extension(name) => name.to_string(),
    }
}

/// The number of the context at `index` of a domain's contexts.
fn context_number(index: usize) -> u32 {
    #[expect(
        clippy::cast_possible_truncation,
        reason = "a domain holds at most MAX_CONTEXTS_PER_ACTION contexts per action, of two domains at most"
    )]
    let number = index as u32;
    number
}
