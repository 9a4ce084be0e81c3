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
/// read (the resource possibly only for one attribute; the principal,
/// followed into rule calls, possibly only for its type and one
/// attribute), and which rules were called and which of their clauses
/// held (for the findings).
#[derive(Default)]
pub(super) struct Reads<'c> {
    pub(super) vars: u8,
    /// The one attribute of the resource read in place, when the resource
    /// itself was not otherwise read.
    pub(super) resource_attr: Option<SmolStr>,
    /// What was read of the principal when it was not otherwise read.
    pub(super) principal: Projection,
    /// The node of the one entity the principal was tested `in` (what
    /// makes the spec's `principal.within`; `None` inside where it has no
    /// node).
    pub(super) within: Option<Option<u32>>,
    pub(super) coverage: Option<&'c mut Coverage>,
}

/// What an evaluation learnt of the principal without reading it whole:
/// its entity type, the value (or the absence) of one attribute, and
/// whether it is in one entity (which one is kept with each value: it is
/// the same wherever the rest of the key is).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Projection {
    pub(super) typed: bool,
    pub(super) attr: Option<SmolStr>,
    pub(super) within: bool,
}

impl Projection {
    fn is_empty(&self) -> bool {
        !self.typed && self.attr.is_none() && !self.within
    }

    /// The part read of the principal's own data: its type and attribute.
    fn of_data(&self) -> Projection {
        Projection {
            within: false,
            ..self.clone()
        }
    }
}

impl Reads<'_> {
    /// What the evaluation read, as a memo table's key shape.
    pub(super) fn spec(&self) -> Spec {
        let mut spec = Spec {
            vars: self.vars,
            resource_attr: self.resource_attr.clone(),
            principal: Projection {
                within: self.within.is_some(),
                ..self.principal.clone()
            },
        };
        spec.normalize();
        spec
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
        let (slot, whole) = match var {
            Var::Resource => (&mut self.resource_attr, READ_RESOURCE),
            Var::Principal => (&mut self.principal.attr, READ_PRINCIPAL),
            _ => return self.read_var(var),
        };
        read_one_attr(slot, attr, || attr.into(), &mut self.vars, whole);
    }

    fn read_var_type(&mut self, var: Var) {
        match var {
            Var::Principal => self.principal.typed = true,
            _ => self.read_var(var),
        }
    }

    fn read_principal_in(&mut self, target: Option<u32>) {
        match self.within {
            None => self.within = Some(target),
            Some(known) if known == target => {}
            // Tested against two entities: keyed by the principal itself.
            Some(_) => self.vars |= READ_PRINCIPAL,
        }
    }

    const FOLLOWS_PRINCIPAL: bool = true;

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

/// Notes that `attr` of an entity was read, where `slot` holds the one
/// attribute read of it so far (`owned` makes its copy when it is the
/// first): a second attribute keys by the entity itself (`whole`, its bit
/// in `vars`).
fn read_one_attr(
    slot: &mut Option<SmolStr>,
    attr: &str,
    owned: impl FnOnce() -> SmolStr,
    vars: &mut u8,
    whole: u8,
) {
    match slot {
        None => *slot = Some(owned()),
        Some(a) if a == attr => {}
        Some(_) => *vars |= whole,
    }
}

/// What an evaluation read: the request variables, the one attribute of
/// the resource it looked up in place when it read no more of it, and
/// what it learnt of the principal when it did not read it whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Spec {
    pub(super) vars: u8,
    pub(super) resource_attr: Option<SmolStr>,
    pub(super) principal: Projection,
}

impl Spec {
    /// Nothing read.
    pub(super) fn none() -> Spec {
        Spec {
            vars: 0,
            resource_attr: None,
            principal: Projection::default(),
        }
    }

    /// Adds what `other` read, as if one evaluation had read both: an
    /// entity read whole, or for two attributes, keys by itself.
    pub(super) fn absorb(&mut self, other: &Spec) {
        self.vars |= other.vars;
        if let Some(attr) = &other.resource_attr {
            read_one_attr(
                &mut self.resource_attr,
                attr,
                || attr.clone(),
                &mut self.vars,
                READ_RESOURCE,
            );
        }
        self.principal.typed |= other.principal.typed;
        // Tested `in` twice, perhaps against two entities: the principal
        // counts as read whole.
        if self.principal.within && other.principal.within {
            self.vars |= READ_PRINCIPAL;
        }
        self.principal.within |= other.principal.within;
        if let Some(attr) = &other.principal.attr {
            read_one_attr(
                &mut self.principal.attr,
                attr,
                || attr.clone(),
                &mut self.vars,
                READ_PRINCIPAL,
            );
        }
        self.normalize();
    }

    /// Forgets the part read of an entity that was also read whole.
    fn normalize(&mut self) {
        if self.vars & READ_RESOURCE != 0 {
            self.resource_attr = None;
        }
        if self.vars & READ_PRINCIPAL != 0 {
            self.principal = Projection::default();
        }
    }

    /// The variables the outcome depends on (the resource or the principal
    /// too when only part of it was read).
    pub(super) fn depends(&self) -> u8 {
        let mut vars = self.vars;
        if self.resource_attr.is_some() {
            vars |= READ_RESOURCE;
        }
        if !self.principal.is_empty() {
            vars |= READ_PRINCIPAL;
        }
        vars
    }
}

/// A memo table's key shape, with the per-node caches of its parts found
/// once: what [`key`] needs without comparing a name.
#[derive(Clone, Copy, Debug)]
pub(super) struct Shape {
    vars: u8,
    /// The cache of the one attribute of the resource read.
    resource: Option<usize>,
    /// The cache of the principal's type and attribute read.
    principal: Option<usize>,
}

/// The memo key of `ids` under `shape`: the values of the variables read;
/// for a resource read only for one attribute, that attribute's value
/// (interned, tagged with the top bit), or the resource itself when the
/// attribute or the entity is absent (the error then names it).
pub(super) fn key(ids: Ids, shape: &Shape, interner: &mut Interner, entities: &Entities) -> u128 {
    let part = |bit: u8, v: u32| -> u128 {
        if shape.vars & bit != 0 {
            v as u128
        } else {
            u32::MAX as u128
        }
    };
    let resource = match shape.resource {
        Some(slot) => interner.attr_key_at(slot, entities, ids.resource) as u128,
        None => part(READ_RESOURCE, ids.resource),
    };
    let principal = match shape.principal {
        Some(slot) => interner.projection_key_at(slot, entities, ids.principal) as u128,
        None => part(READ_PRINCIPAL, ids.principal),
    };
    principal
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
    /// Projections (an entity type, an attribute's key part) by number.
    projections: HashMap<(Option<SmolStr>, u32), u32, FastHash>,
    /// Per shape of projection: each node's key part, `u32::MAX` until
    /// computed.
    projected: Vec<(Projection, Vec<u32>)>,
    /// Whether the principal last asked about is in each node.
    within: WithinCache,
}

/// Whether one principal is in each entity, as asked ([`Kept::Within`]'s
/// lookups ask it for every request of a principal, against a few
/// entities): per node, the answer with the number of the principal's
/// turn it was found in, so that a new principal forgets them all at once.
#[derive(Default)]
struct WithinCache {
    principal: Option<u32>,
    turn: u32,
    /// Per node: `turn << 1 | answer`, or 0 (turns start at 1).
    cells: Vec<u32>,
}

impl WithinCache {
    /// Whether `principal` is in the entity of node `target` (none where
    /// it has no node: then it is not): 0 or 1.
    fn within(&mut self, target: Option<u32>, principal: u32, entities: &Entities) -> usize {
        let Some(target) = target else { return 0 };
        if self.principal != Some(principal) {
            self.principal = Some(principal);
            self.turn += 1;
            if self.turn >= 1 << 31 {
                self.turn = 1;
                self.cells.fill(0);
            }
        }
        let t = target as usize;
        if let Some(&cell) = self.cells.get(t) {
            if cell >> 1 == self.turn {
                return (cell & 1) as usize;
            }
        }
        let answer = entities.node_is_in(principal, target);
        if self.cells.len() <= t {
            self.cells
                .resize(entities.node_count().max(target + 1) as usize, 0);
        }
        self.cells[t] = self.turn << 1 | u32::from(answer);
        answer as usize
    }
}

impl Interner {
    /// The key shape of `spec`, its caches found (or made).
    pub(super) fn shape(&mut self, spec: &Spec, entities: &Entities) -> Shape {
        let resource = spec
            .resource_attr
            .as_ref()
            .map(|attr| node_cache(&mut self.cached, |a| a == attr, || attr.clone(), entities));
        let principal = self.projection_slot(&spec.principal, entities);
        Shape {
            vars: spec.vars,
            resource,
            principal,
        }
    }

    /// The class of the principal `node` under what `spec` read of it:
    /// its projection's cache (`None` where nothing of it was read) and
    /// its key part there. Two principals of one class read alike wherever
    /// `spec` is what an evaluation read, so that evaluation is the same
    /// for both. `None` where the principal was read whole or tested `in`
    /// an entity (which entity may differ from evaluation to evaluation).
    pub(super) fn principal_class(
        &mut self,
        spec: &Spec,
        entities: &Entities,
        node: u32,
    ) -> Option<(Option<usize>, u32)> {
        if spec.vars & READ_PRINCIPAL != 0 || spec.principal.within {
            return None;
        }
        let slot = self.projection_slot(&spec.principal, entities);
        Some((slot, self.class_part(slot, entities, node)))
    }

    /// The per-node cache of what `read` learnt of the principal's own
    /// data (its type and attribute), found or made; `None` where nothing.
    fn projection_slot(&mut self, read: &Projection, entities: &Entities) -> Option<usize> {
        let projection = read.of_data();
        (!projection.is_empty()).then(|| {
            node_cache(
                &mut self.projected,
                |p| *p == projection,
                || projection.clone(),
                entities,
            )
        })
    }

    /// The key part of the principal `node` in its class of projection
    /// cache `slot` ([`Self::principal_class`]).
    pub(super) fn class_part(
        &mut self,
        slot: Option<usize>,
        entities: &Entities,
        node: u32,
    ) -> u32 {
        match slot {
            Some(slot) => self.projection_key_at(slot, entities, node),
            None => 0,
        }
    }

    /// The key part of the principal `node` read as the projection of
    /// cache `slot`: a number (top bit set) shared by the nodes of one
    /// type and one value of the attribute, or the node itself where the
    /// attribute or the entity is absent (the error then names it).
    fn projection_key_at(&mut self, slot: usize, entities: &Entities, node: u32) -> u32 {
        if let Some(&known) = self.projected[slot].1.get(node as usize) {
            if known != u32::MAX {
                return known;
            }
        }
        let (typed, attr) = {
            let projection = &self.projected[slot].0;
            (projection.typed, projection.attr.clone())
        };
        let attr_part = match &attr {
            Some(a) => self.attr_key(entities, node, a),
            None => 0,
        };
        let part = if attr.is_some() && attr_part & (1 << 31) == 0 {
            node
        } else {
            let ty = typed.then(|| entities.node_uid(node).ty.clone());
            let next = u32::try_from(self.projections.len()).unwrap_or(u32::MAX);
            if next >= (1 << 31) - 1 {
                node
            } else {
                (1 << 31) | *self.projections.entry((ty, attr_part)).or_insert(next)
            }
        };
        if let Some(cell) = self.projected[slot].1.get_mut(node as usize) {
            *cell = part;
        }
        part
    }

    /// The key part of `node`'s attribute `attr`: its value's number with
    /// the top bit set, or the node itself when there is no such value.
    pub(super) fn attr_key(&mut self, entities: &Entities, node: u32, attr: &str) -> u32 {
        let slot = node_cache(&mut self.cached, |a| a == attr, || attr.into(), entities);
        self.attr_key_at(slot, entities, node)
    }

    /// [`Self::attr_key`] of the attribute of cache `slot`.
    fn attr_key_at(&mut self, slot: usize, entities: &Entities, node: u32) -> u32 {
        let (attr, cells) = &self.cached[slot];
        if let Some(&known) = cells.get(node as usize) {
            if known != u32::MAX {
                return known;
            }
        }
        let value = entities
            .get(entities.node_uid(node))
            .and_then(|d| d.attrs.get(attr.as_str()));
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

/// The slot of a shape's per-node cache in `caches` (each node's key
/// part, `u32::MAX` until computed): the one `is` finds, or a new one
/// for `make()`.
fn node_cache<K>(
    caches: &mut Vec<(K, Vec<u32>)>,
    is: impl Fn(&K) -> bool,
    make: impl FnOnce() -> K,
    entities: &Entities,
) -> usize {
    match caches.iter().position(|(k, _)| is(k)) {
        Some(slot) => slot,
        None => {
            caches.push((make(), vec![u32::MAX; entities.node_count() as usize]));
            caches.len() - 1
        }
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
    /// Boxed where an error: a kept value is copied on every reuse.
    pub(super) value: Result<bool, Box<EvalError>>,
    pub(super) steps: u64,
}

/// The kept values of one condition under one shape of what was read.
pub(super) struct Table {
    pub(super) spec: Spec,
    pub(super) shape: Shape,
    pub(super) kept: Kept,
}

/// A table's values by [`key`].
pub(super) enum Kept {
    /// One value a key.
    Values(HashMap<u128, KnownCondition, FastHash>),
    /// Where the principal was tested `in` one entity ([`Projection`]'s
    /// `within`): under the key of the rest of what was read, that
    /// entity's node (the same for every request of the key: the
    /// evaluation had read no more when it met the test) and a value for
    /// each answer, `[not in, in]`.
    Within(HashMap<u128, Branches, FastHash>),
}

/// The values kept under one key where the principal was tested `in`
/// one entity ([`Kept::Within`]).
pub(super) struct Branches {
    target: Option<u32>,
    values: [Option<KnownCondition>; 2],
}

impl Kept {
    /// No values, for what `spec` read.
    pub(super) fn new(spec: &Spec) -> Kept {
        if spec.principal.within {
            Kept::Within(HashMap::default())
        } else {
            Kept::Values(HashMap::default())
        }
    }

    /// The value kept for the request of `principal` (a node) under `key`.
    pub(super) fn get(
        &self,
        key: u128,
        principal: u32,
        interner: &mut Interner,
        entities: &Entities,
    ) -> Option<&KnownCondition> {
        match self {
            Kept::Values(values) => values.get(&key),
            Kept::Within(branches) => {
                let kept = branches.get(&key)?;
                let answer = interner.within.within(kept.target, principal, entities);
                kept.values[answer].as_ref()
            }
        }
    }

    /// Forgets every value.
    pub(super) fn clear(&mut self) {
        match self {
            Kept::Values(values) => values.clear(),
            Kept::Within(branches) => branches.clear(),
        }
    }

    /// Keeps `known` for the request of `principal` under `key`, where the
    /// evaluation tested the principal `in` the entity of node `target`
    /// (`within`, as [`Reads`] noted it) when this table keeps that.
    pub(super) fn insert(
        &mut self,
        key: u128,
        principal: u32,
        within: Option<Option<u32>>,
        known: KnownCondition,
        interner: &mut Interner,
        entities: &Entities,
    ) {
        match self {
            Kept::Values(values) => {
                values.insert(key, known);
            }
            Kept::Within(all) => {
                // A table keyed so was made for what the evaluation read.
                let Some(target) = within else { return };
                let kept = all.entry(key).or_insert(Branches {
                    target,
                    values: [None, None],
                });
                if kept.target == target {
                    let answer = interner.within.within(target, principal, entities);
                    kept.values[answer] = Some(known);
                }
            }
        }
    }
}

/// One condition's kept values: a table per shape of what was read.
#[derive(Default)]
pub(super) struct Memo {
    pub(super) tables: Vec<Table>,
}
