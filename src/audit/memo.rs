//! What an audit evaluation read, and the values kept under it: the tracer
//! that notes which request variables (or which one attribute of the
//! resource) an evaluation read, the shape of a memo table's key, the keys
//! themselves, and per-thread copies of uids and values.

use super::judge::Coverage;
use crate::authorize::PolicyOutcome;
use crate::entities::{Entities, FastHash};
use crate::eval::{EvalError, Tracer, Value};
use crate::syntax::ast::{EntityUid, Var};
use smol_str::SmolStr;
use std::collections::HashMap;

pub(super) const READ_PRINCIPAL: u8 = 1;
pub(super) const READ_ACTION: u8 = 2;
pub(super) const READ_RESOURCE: u8 = 4;
pub(super) const READ_CONTEXT: u8 = 8;

/// The tracer of the audit's evaluations: which request variables were
/// read (the resource possibly only for one attribute), and which rules
/// were called and which of their clauses held (for the findings).
#[derive(Default)]
pub(super) struct Reads<'c> {
    pub(super) vars: u8,
    /// The one attribute of the resource read in place, when the resource
    /// itself was not otherwise read.
    pub(super) resource_attr: Option<SmolStr>,
    pub(super) coverage: Option<&'c mut Coverage>,
}

impl Reads<'_> {
    /// What the evaluation read, as a memo table's key shape.
    pub(super) fn spec(&self) -> Spec {
        Spec {
            vars: self.vars,
            resource_attr: if self.vars & READ_RESOURCE != 0 {
                None
            } else {
                self.resource_attr.clone()
            },
        }
    }
}

impl Tracer for Reads<'_> {
    fn read_var(&mut self, var: Var) {
        self.vars |= match var {
            Var::Principal => READ_PRINCIPAL,
            Var::Action => READ_ACTION,
            Var::Resource => READ_RESOURCE,
            Var::Context => READ_CONTEXT,
        };
    }

    fn read_var_attr(&mut self, var: Var, attr: &str) {
        if var != Var::Resource {
            return self.read_var(var);
        }
        match &self.resource_attr {
            None => self.resource_attr = Some(attr.into()),
            Some(a) if a == attr => {}
            // Two attributes: keyed by the resource itself.
            Some(_) => self.vars |= READ_RESOURCE,
        }
    }

    fn rule_enter(&mut self, rule: u32, _args: &[Value], _span: crate::syntax::Span) {
        if let Some(slot) = self
            .coverage
            .as_deref_mut()
            .and_then(|c| c.entered.get_mut(rule as usize))
        {
            *slot = true;
        }
    }

    fn rule_clause(&mut self, rule: u32, clause: usize, result: &Result<Value, EvalError>) {
        if let (Some(coverage), Ok(Value::Bool(true))) = (self.coverage.as_deref_mut(), result) {
            if let Some(slot) = coverage
                .held
                .get_mut(rule as usize)
                .and_then(|c| c.get_mut(clause))
            {
                *slot = true;
            }
        }
    }
}

/// A request by numbers: store nodes of its principal, action and
/// resource, and its context's number in the [`Domain`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ids {
    /// The principal's node.
    pub principal: u32,
    /// The action's node.
    pub action: u32,
    /// The resource's node.
    pub resource: u32,
    /// The context's number.
    pub context: u32,
}

/// What an evaluation read: the request variables, and the one attribute of
/// the resource it looked up in place when it read no more of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Spec {
    pub(super) vars: u8,
    pub(super) resource_attr: Option<SmolStr>,
}

impl Spec {
    /// What was read by two evaluations, one after the other.
    pub(super) fn union(self, other: &Spec) -> Spec {
        let mut vars = self.vars | other.vars;
        let resource_attr = match (self.resource_attr, &other.resource_attr) {
            (a, None) => a,
            (None, b) => b.clone(),
            (Some(a), Some(b)) if a == *b => Some(a),
            // Two attributes: keyed by the resource itself.
            (Some(_), Some(_)) => {
                vars |= READ_RESOURCE;
                None
            }
        };
        Spec {
            vars,
            resource_attr: if vars & READ_RESOURCE != 0 {
                None
            } else {
                resource_attr
            },
        }
    }

    /// The variables the outcome depends on (the resource too when only one
    /// of its attributes was read).
    pub(super) fn depends(&self) -> u8 {
        match self.resource_attr {
            Some(_) => self.vars | READ_RESOURCE,
            None => self.vars,
        }
    }
}

/// The memo key of `ids` under `spec`: the values of the variables read;
/// for a resource read only for one attribute, that attribute's value
/// (interned, tagged with the top bit), or the resource itself when the
/// attribute or the entity is absent (the error then names it).
pub(super) fn key(ids: Ids, spec: &Spec, interner: &mut Interner, entities: &Entities) -> u128 {
    let part = |bit: u8, v: u32| -> u128 {
        if spec.vars & bit != 0 {
            v as u128
        } else {
            u32::MAX as u128
        }
    };
    let resource = match &spec.resource_attr {
        Some(attr) => interner.attr_key(entities, ids.resource, attr) as u128,
        None => part(READ_RESOURCE, ids.resource),
    };
    part(READ_PRINCIPAL, ids.principal)
        | part(READ_ACTION, ids.action) << 32
        | resource << 64
        | part(READ_CONTEXT, ids.context) << 96
}

/// Attribute values by number, for memo keys, with each store node's key
/// part cached per attribute (so that a lookup hashes no string).
#[derive(Default)]
pub(super) struct Interner {
    pub(super) values: HashMap<Value, u32, FastHash>,
    /// Per attribute: each node's key part, `u32::MAX` until computed.
    pub(super) cached: Vec<(SmolStr, Vec<u32>)>,
}

impl Interner {
    /// The key part of `node`'s attribute `attr`: its value's number with
    /// the top bit set, or the node itself when there is no such value.
    pub(super) fn attr_key(&mut self, entities: &Entities, node: u32, attr: &str) -> u32 {
        let slot = match self.cached.iter().position(|(a, _)| a == attr) {
            Some(slot) => slot,
            None => {
                let nodes = entities.node_count() as usize;
                self.cached.push((attr.into(), vec![u32::MAX; nodes]));
                self.cached.len() - 1
            }
        };
        if let Some(&known) = self.cached[slot].1.get(node as usize) {
            if known != u32::MAX {
                return known;
            }
        }
        let value = entities
            .get(entities.node_uid(node))
            .and_then(|d| d.attrs.get(attr));
        let part = match value {
            Some(v) => {
                // Saturated: at u32::MAX it is past the bound below anyway.
                let next = u32::try_from(self.values.len()).unwrap_or(u32::MAX);
                // Past 2^31 - 1 values, keyed by the resource itself (exact, slower).
                if next >= (1 << 31) - 1 {
                    node
                } else {
                    (1 << 31) | *self.values.entry(v.clone()).or_insert(next)
                }
            }
            None => node,
        };
        if let Some(cell) = self.cached[slot].1.get_mut(node as usize) {
            *cell = part;
        }
        part
    }
}

/// A copy of `uid` that shares no allocation with it, so that the threads
/// judging at once never touch one reference count.
pub(super) fn own_uid(uid: &EntityUid) -> EntityUid {
    EntityUid::new(SmolStr::new(uid.ty.as_str()), SmolStr::new(uid.id.as_str()))
}

/// A copy of `value` that shares no allocation with it (see [`own_uid`]).
pub(super) fn own_value(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(SmolStr::new(s.as_str())),
        Value::Entity(uid) => Value::Entity(own_uid(uid)),
        Value::Set(items) => Value::set(items.iter().map(own_value)),
        Value::Record(map) => Value::record(
            map.iter()
                .map(|(k, v)| (SmolStr::new(k.as_str()), own_value(v))),
        ),
        other => other.clone(),
    }
}

/// A kept outcome and the steps it took.
#[derive(Clone, Debug)]
pub(super) struct Known {
    pub(super) outcome: PolicyOutcome,
    pub(super) steps: u64,
}

/// A kept value of one condition's body and the steps it took.
#[derive(Clone, Debug)]
pub(super) struct KnownCondition {
    pub(super) value: Result<bool, EvalError>,
    pub(super) steps: u64,
}

/// One condition's kept values: a table per shape of what was read.
#[derive(Default)]
pub(super) struct Memo {
    pub(super) tables: Vec<(Spec, HashMap<u128, KnownCondition, FastHash>)>,
}
