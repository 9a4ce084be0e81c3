//! Entity stores generated from the declarations alone (`mspl generate`,
//! `mspl diff --worlds`): each declared entity type gets a few entities,
//! each attribute a value of its declared type, each entity parents of
//! the types its declaration allows; small (the small scope hypothesis)
//! and the same for a seed.
//!
//! Strings and numbers are drawn from the literals the policies use
//! ([`Pools`]), so that conditions comparing attributes with them can
//! hold. What the declarations cannot say is said by the policy set's
//! invariants ([`invariants`]): an entity is drawn again until the
//! invariants about it alone hold, and a store again until all hold.

pub mod invariants;
mod values;
mod world;

use values::extension_defaults;
pub use values::{Pools, Rng};
use world::uid_json;
pub use world::{request_json, Entity, World};

use crate::diag::Diagnostic;
use crate::entities::json::{value_from_json, Request};
use crate::entities::Entities;
use crate::limits::Limits;
use crate::policy_set::PolicySet;
use crate::schema::{is_action_type, AttrType, Schema, Type};
use crate::syntax::ast::{EntityUid, Name};
use crate::value::Value;
use invariants::{first_broken, Invariant, Param};
use serde_json::{json, Value as Json};
use smol_str::SmolStr;
use std::collections::{BTreeMap, BTreeSet};

/// How often an entity, then a whole store, is drawn again before the
/// invariants are given up on.
pub const ENTITY_ATTEMPTS: usize = 40;
/// See [`ENTITY_ATTEMPTS`].
pub const STORE_ATTEMPTS: usize = 2_000;

/// The most values of a record type a context attribute is given.
pub const MAX_RECORD_CHOICES: usize = 32;

/// Why no store could be generated.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// Nothing to generate from.
    #[error("no entity types are declared: stores are generated from the declarations (entity types, attributes, appliesTo)")]
    NoDeclarations,
    /// Fewer entities allowed than types declared.
    #[error("--max-entities {max} is fewer than the {types} declared entity types")]
    TooFewEntities {
        /// The limit given.
        max: usize,
        /// The types declared.
        types: usize,
    },
    /// The invariants held in no store drawn.
    #[error("no generated store satisfied the invariants in {STORE_ATTEMPTS} attempts; the last one broke {broken}")]
    Unsatisfiable {
        /// The invariant and the entities it broke on.
        broken: String,
    },
    /// A generated store did not load: a bug in the generator.
    #[error("internal error: a generated store does not load: {0}")]
    Load(String),
}

/// Generates stores for one policy set.
pub struct Generator<'a> {
    set: &'a PolicySet,
    pools: Pools,
    invariants: Vec<Invariant>,
    limits: Limits,
    /// The declared entity types, in the order their entities are drawn
    /// (a type after the types its attributes and parents name).
    order: Vec<Name>,
}

impl<'a> Generator<'a> {
    /// A generator from `set`'s declarations and invariants, drawing
    /// literals from `pools`.
    pub fn new(
        set: &'a PolicySet,
        pools: Pools,
        limits: Limits,
    ) -> Result<Generator<'a>, Vec<Diagnostic>> {
        let invariants = invariants::invariants(set)?;
        Ok(Generator {
            order: draw_order(&set.schema),
            set,
            pools,
            invariants,
            limits,
        })
    }

    /// The declarations stores are generated from.
    pub fn schema(&self) -> &Schema {
        &self.set.schema
    }

    /// A store of at most `max_entities` entities for `seed`.
    pub fn world(&self, seed: u64, max_entities: usize) -> Result<World, GenerateError> {
        let types = self.order.len();
        if types == 0 {
            return Err(GenerateError::NoDeclarations);
        }
        let fixed: usize = self
            .order
            .iter()
            .filter_map(|t| {
                self.schema().entity_types[t]
                    .enum_ids
                    .as_ref()
                    .map(Vec::len)
            })
            .sum();
        let free = self
            .order
            .iter()
            .filter(|t| self.schema().entity_types[*t].enum_ids.is_none())
            .count();
        if max_entities < fixed + free {
            return Err(GenerateError::TooFewEntities {
                max: max_entities,
                types: fixed + free,
            });
        }
        let mut rng = Rng::new(seed);
        let mut broken = String::new();
        for _ in 0..STORE_ATTEMPTS {
            let world = self.draw(&mut rng, max_entities - fixed - free)?;
            let store = world
                .store(self.schema(), &self.limits)
                .map_err(|e| GenerateError::Load(e.to_string()))?;
            match first_broken(self.set, &self.invariants, &store, &self.limits, None) {
                None => return Ok(world),
                Some(b) => broken = b,
            }
        }
        Err(GenerateError::Unsatisfiable { broken })
    }

    /// Whether `world` satisfies every invariant.
    pub fn satisfies(&self, store: &Entities) -> bool {
        first_broken(self.set, &self.invariants, store, &self.limits, None).is_none()
    }

    /// One draw: the counts, then each entity in [`Self::order`], drawn
    /// again while an invariant about it alone fails.
    fn draw(&self, rng: &mut Rng, extra: usize) -> Result<World, GenerateError> {
        let schema = self.schema();
        // One entity of each type, then up to `extra` more spread at random.
        let mut counts: BTreeMap<&Name, usize> = self.order.iter().map(|t| (t, 1)).collect();
        let free: Vec<&Name> = self
            .order
            .iter()
            .filter(|t| schema.entity_types[*t].enum_ids.is_none())
            .collect();
        if !free.is_empty() {
            for _ in 0..rng.below(extra + 1) {
                let t = free[rng.below(free.len())];
                *counts.entry(t).or_default() += 1;
            }
        }
        let mut ids: BTreeMap<Name, Vec<EntityUid>> = BTreeMap::new();
        for t in &self.order {
            let uids = match &schema.entity_types[t].enum_ids {
                Some(enum_ids) => enum_ids
                    .iter()
                    .map(|id| EntityUid::new(t.as_str(), id.as_str()))
                    .collect(),
                None => (0..counts[t])
                    .map(|i| EntityUid::new(t.as_str(), format!("{}{i}", short_name(t)).as_str()))
                    .collect(),
            };
            ids.insert(t.clone(), uids);
        }
        let mut world = World::default();
        for t in &self.order {
            for (k, uid) in ids[t].iter().enumerate() {
                let mut attempt = 0;
                loop {
                    let entity = self.entity(rng, t, uid, k, &ids);
                    world.entities.push(entity);
                    attempt += 1;
                    if attempt >= ENTITY_ATTEMPTS || self.local_ok(&world, uid)? {
                        break;
                    }
                    world.entities.pop();
                }
            }
        }
        Ok(world)
    }

    /// Whether the invariants about `uid` alone (its type's entity
    /// parameter, sets only of types already drawn) hold in `world`.
    fn local_ok(&self, world: &World, uid: &EntityUid) -> Result<bool, GenerateError> {
        let position = |t: &Name| self.order.iter().position(|o| o == t);
        let mine = position(&uid.ty);
        let local: Vec<Invariant> = self
            .invariants
            .iter()
            .filter(|inv| {
                inv.params
                    .iter()
                    .filter(|p| matches!(p, Param::Each(_)))
                    .count()
                    == 1
                    && inv.params.iter().all(|p| match p {
                        Param::Each(t) => *t == uid.ty,
                        Param::All(t) => position(t) < mine,
                    })
            })
            .cloned()
            .collect();
        if local.is_empty() {
            return Ok(true);
        }
        let store = world
            .store(self.schema(), &self.limits)
            .map_err(|e| GenerateError::Load(e.to_string()))?;
        Ok(first_broken(self.set, &local, &store, &self.limits, Some(uid)).is_none())
    }

    /// Entity number `k` of type `t`.
    fn entity(
        &self,
        rng: &mut Rng,
        t: &Name,
        uid: &EntityUid,
        k: usize,
        ids: &BTreeMap<Name, Vec<EntityUid>>,
    ) -> Entity {
        let decl = &self.schema().entity_types[t];
        let mut attrs = BTreeMap::new();
        for (name, attr) in decl.attrs.iter() {
            if let Some(v) = self.attr(rng, attr, ids) {
                attrs.insert(name.clone(), v);
            }
        }
        let mut tags = BTreeMap::new();
        if let Some(ty) = &decl.tags {
            for _ in 0..rng.below(3) {
                let key = self.pools.strings[rng.below(self.pools.strings.len())].clone();
                tags.insert(key, self.value(rng, ty, ids, 0));
            }
        }
        let mut parents = Vec::new();
        for p in &decl.parents {
            let candidates = ids.get(p).map_or(&[][..], |v| &v[..]);
            // Of its own type, only earlier entities: no cycles.
            let candidates = if p == t { &candidates[..k] } else { candidates };
            for c in candidates {
                if rng.one_in(2) {
                    parents.push(c.clone());
                }
            }
        }
        Entity {
            uid: uid.clone(),
            attrs,
            tags,
            parents,
        }
    }

    /// A value for an attribute of type `attr`, `None` (absent) one time
    /// in three when it is optional.
    fn attr(
        &self,
        rng: &mut Rng,
        attr: &AttrType,
        ids: &BTreeMap<Name, Vec<EntityUid>>,
    ) -> Option<Json> {
        if attr.optional && rng.one_in(3) {
            return None;
        }
        Some(self.value(rng, &attr.ty, ids, 0))
    }

    /// A value of type `ty`, as entity JSON.
    fn value(
        &self,
        rng: &mut Rng,
        ty: &Type,
        ids: &BTreeMap<Name, Vec<EntityUid>>,
        depth: usize,
    ) -> Json {
        let pools = &self.pools;
        match ty {
            Type::Bool => json!(rng.one_in(2)),
            Type::Long => json!(pools.longs[rng.below(pools.longs.len())]),
            Type::String => json!(pools.strings[rng.below(pools.strings.len())].as_str()),
            Type::Entity(t) => match ids.get(t) {
                Some(uids) if !uids.is_empty() => {
                    json!({"__entity": uid_json(&uids[rng.below(uids.len())])})
                }
                _ => json!({"__entity": {"id": "none", "type": t.as_str()}}),
            },
            Type::Set(element) => {
                let mut items: Vec<Json> = Vec::new();
                if depth < 4 {
                    for _ in 0..rng.below(4) {
                        let v = self.value(rng, element, ids, depth + 1);
                        if !items.contains(&v) {
                            items.push(v);
                        }
                    }
                }
                Json::Array(items)
            }
            Type::Record(attrs) => {
                let mut out = serde_json::Map::new();
                for (name, a) in attrs.iter() {
                    if depth < 4 {
                        if let Some(v) = self.attr(rng, a, ids) {
                            out.insert(name.to_string(), v);
                        }
                    }
                }
                Json::Object(out)
            }
            Type::Extension(name) => {
                let (function, defaults) = extension_defaults(name);
                let mut args: Vec<&str> = defaults.to_vec();
                if let Some(found) = pools.extensions.get(function) {
                    args.extend(found.iter().map(SmolStr::as_str));
                }
                json!({"__extn": {"arg": args[rng.below(args.len())], "fn": function}})
            }
        }
    }

    /// The values of a context attribute of type `ty` that an audit
    /// domain cannot enumerate: the pools' strings and numbers (at most
    /// four of each), the extension types' defaults, records of those
    /// (at most [`MAX_RECORD_CHOICES`], spread over every combination),
    /// or `None` for other types.
    pub fn choices(&self, ty: &Type) -> Option<Vec<Value>> {
        match ty {
            Type::Bool => Some(vec![Value::Bool(false), Value::Bool(true)]),
            Type::Record(fields) => {
                let mut options: Vec<(&SmolStr, Vec<Option<Value>>)> = Vec::new();
                for (name, attr) in fields.iter() {
                    let mut values: Vec<Option<Value>> =
                        self.choices(&attr.ty)?.into_iter().map(Some).collect();
                    if attr.optional {
                        values.push(None);
                    }
                    options.push((name, values));
                }
                let total = options
                    .iter()
                    .try_fold(1usize, |n, (_, v)| n.checked_mul(v.len()))
                    .unwrap_or(usize::MAX);
                // Every combination, or a spread of them: the `j`th pick is
                // combination `j * PRIME mod total`, read in mixed radix.
                const PRIME: usize = 1_000_003;
                let picks: Vec<usize> = if total <= MAX_RECORD_CHOICES {
                    (0..total).collect()
                } else {
                    (0..MAX_RECORD_CHOICES)
                        .map(|j| ((j as u128 * PRIME as u128) % total as u128) as usize)
                        .collect()
                };
                let records = picks.into_iter().map(|mut k| {
                    let mut record = BTreeMap::new();
                    for (name, values) in options.iter().rev() {
                        if let Some(v) = &values[k % values.len()] {
                            record.insert((*name).clone(), v.clone());
                        }
                        k /= values.len();
                    }
                    Value::record(record)
                });
                Some(records.collect())
            }
            Type::String => Some(
                self.pools
                    .strings
                    .iter()
                    .take(4)
                    .map(|s| Value::String(s.clone()))
                    .collect(),
            ),
            Type::Long => Some(
                self.pools
                    .longs
                    .iter()
                    .take(4)
                    .map(|n| Value::Long(*n))
                    .collect(),
            ),
            Type::Extension(name) => {
                let (function, defaults) = extension_defaults(name);
                let values = defaults
                    .iter()
                    .filter_map(|arg| {
                        let j = json!({"__extn": {"arg": arg, "fn": function}});
                        value_from_json(&j, Some(ty), self.schema()).ok()
                    })
                    .collect();
                Some(values)
            }
            _ => None,
        }
    }

    /// Up to `count` requests over `store` (every request of its domain
    /// when there are no more, else a sample for `seed`), in the domain's
    /// order.
    pub fn requests(
        &self,
        store: &Entities,
        seed: u64,
        count: usize,
    ) -> Result<Vec<Request>, crate::audit::domain::DomainError> {
        let domain =
            crate::audit::domain::Domain::build_with(self.set, store, None, &|t| self.choices(t))?;
        let mut all = Vec::new();
        for a in &domain.actions {
            for &p in &a.principals {
                for &r in &a.resources {
                    for &c in &a.contexts {
                        all.push((p, a.node, r, c));
                    }
                }
            }
        }
        if all.len() > count {
            let mut rng = Rng::new(seed ^ 0xA5A5);
            let mut keep: Vec<usize> = Vec::with_capacity(count);
            // Reservoir sampling, then the kept ones in order.
            for i in 0..all.len() {
                if keep.len() < count {
                    keep.push(i);
                } else {
                    let j = rng.below(i + 1);
                    if j < count {
                        keep[j] = i;
                    }
                }
            }
            keep.sort_unstable();
            all = keep.into_iter().map(|i| all[i]).collect();
        }
        Ok(all
            .into_iter()
            .map(|(p, a, r, c)| Request {
                principal: store.node_uid(p).clone(),
                action: store.node_uid(a).clone(),
                resource: store.node_uid(r).clone(),
                context: domain.contexts[c as usize].clone(),
            })
            .collect())
    }
}

/// `Ns::Type` as a short id prefix: `type`.
fn short_name(t: &Name) -> String {
    t.as_str().rsplit("::").next().unwrap_or("e").to_lowercase()
}

/// The declared entity types, each after the types its attributes and
/// parents name (a cycle broken in name order).
fn draw_order(schema: &Schema) -> Vec<Name> {
    let types: Vec<&Name> = schema
        .entity_types
        .keys()
        .filter(|t| !is_action_type(t))
        .collect();
    let mut needs: BTreeMap<&Name, BTreeSet<Name>> = BTreeMap::new();
    for t in &types {
        let decl = &schema.entity_types[*t];
        let mut named = BTreeSet::new();
        for a in decl.attrs.values() {
            entity_types_in(&a.ty, &mut named);
        }
        named.extend(decl.parents.iter().cloned());
        named.remove(*t);
        named.retain(|n| schema.entity_types.contains_key(n));
        needs.insert(t, named);
    }
    let mut order: Vec<Name> = Vec::new();
    while order.len() < types.len() {
        let ready = types
            .iter()
            .find(|t| !order.contains(t) && needs[*t].iter().all(|n| order.contains(n)))
            .or_else(|| types.iter().find(|t| !order.contains(t)));
        match ready {
            Some(t) => order.push((*t).clone()),
            None => break,
        }
    }
    order
}

fn entity_types_in(ty: &Type, out: &mut BTreeSet<Name>) {
    match ty {
        Type::Entity(n) => {
            out.insert(n.clone());
        }
        Type::Set(e) => entity_types_in(e, out),
        Type::Record(attrs) => attrs.values().for_each(|a| entity_types_in(&a.ty, out)),
        _ => {}
    }
}
