//! A bounded search for a difference: generated stores ([`crate::generate`])
//! judged by the exact diff, the first difference found shrunk to a small
//! counterexample. Finding none is no proof: it says only that N stores of
//! up to K entities showed none.

use super::{Blamed, Diff, DiffError};
use crate::authorize::{PreparedSet, Response};
use crate::diag::Diagnostic;
use crate::entities::json::Request;
use crate::generate::{GenerateError, Generator, Pools, World};
use crate::policy_set::PolicySet;
use crate::schema::Schema;

/// What to search.
#[derive(Clone, Copy, Debug)]
pub struct Search {
    /// How many stores.
    pub worlds: usize,
    /// The seed of the first; each store has its own, derived from it.
    pub seed: u64,
    /// The most entities a store has; the first stores are smaller.
    pub max_entities: usize,
    /// Look only for a request the new version newly allows.
    pub new_access_only: bool,
}

/// A request two versions decide differently on a generated store.
#[derive(Clone, Debug)]
pub struct Counterexample {
    /// The number of the store it was found in (from 0).
    pub world: usize,
    /// How many entities that store had before shrinking.
    pub found_in: usize,
    /// The shrunk store.
    pub entities: World,
    /// The request.
    pub request: Request,
    /// The old version's response on the shrunk store.
    pub old: Response,
    /// The new version's.
    pub new: Response,
    /// Who is responsible.
    pub blame: Vec<Blamed>,
}

/// Why the search stopped without an answer.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The invariants do not check.
    #[error("the invariants do not check")]
    Invariants(Vec<Diagnostic>),
    /// No store could be generated.
    #[error(transparent)]
    Generate(#[from] GenerateError),
    /// A store could not be judged.
    #[error(transparent)]
    Diff(#[from] DiffError),
}

/// The declarations stores are generated from: the new version's, or
/// the old one's where the new one declares no entity type.
fn source<'a>(old: &'a PolicySet, new: &'a PolicySet) -> &'a PolicySet {
    if new.schema.entity_types.is_empty() {
        old
    } else {
        new
    }
}

/// Searches `search.worlds` generated stores for a request `old` and `new`
/// decide differently (newly allowed only, with `new_access_only`); the
/// first found is shrunk. `None`: no difference in any store.
pub fn search(
    old_prepared: &PreparedSet,
    new_prepared: &PreparedSet,
    search: Search,
) -> Result<Option<Counterexample>, SearchError> {
    let (old, new, options) = (
        old_prepared.set(),
        new_prepared.set(),
        old_prepared.options(),
    );
    let from = source(old, new);
    let generator = Generator::new(from, Pools::of(&[old, new]), options.limits)
        .map_err(SearchError::Invariants)?;
    // The other version's invariants hold too.
    let other = if std::ptr::eq(from, new) { old } else { new };
    let checker =
        Generator::new(other, Pools::default(), options.limits).map_err(SearchError::Invariants)?;
    let invariants_hold = |n: &crate::entities::Entities, o: &crate::entities::Entities| {
        let (mine, theirs) = if std::ptr::eq(from, new) {
            (n, o)
        } else {
            (o, n)
        };
        generator.satisfies(mine) && checker.satisfies(theirs)
    };
    let types = generator
        .schema()
        .entity_types
        .keys()
        .filter(|t| !crate::schema::is_action_type(t))
        .count();
    let limits = &options.limits;
    if search.max_entities < types {
        return Err(GenerateError::TooFewEntities {
            max: search.max_entities,
            types,
        }
        .into());
    }
    for w in 0..search.worlds {
        // Small stores first: the cap grows from one entity per type to
        // `max_entities` over the search.
        let room = search.max_entities.saturating_sub(types);
        let cap = types + (room * (w + 1)).div_ceil(search.worlds.max(1));
        let seed = search
            .seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(w as u64);
        let world = generator.world(seed, cap)?;
        let (old_store, new_store) = (
            load_world(&world, &old.schema, limits)?,
            load_world(&world, &new.schema, limits)?,
        );
        if !invariants_hold(&new_store, &old_store) {
            continue;
        }
        let diff = Diff::new(old_prepared, old_store, new_prepared, new_store);
        let flips = diff.over_domain(None, 1, &|t| generator.choices(t))?;
        let Some(flip) = flips
            .into_iter()
            .find(|f| !search.new_access_only || f.newly_allowed())
        else {
            continue;
        };
        let found_in = world.entities.len();
        let allowed = flip.newly_allowed();
        let entities = shrink(
            &invariants_hold,
            old_prepared,
            new_prepared,
            world,
            &flip.request,
            allowed,
        )?;
        let diff = Diff::new(
            old_prepared,
            load_world(&entities, &old.schema, limits)?,
            new_prepared,
            load_world(&entities, &new.schema, limits)?,
        );
        let (old_r, new_r) = decide(&diff, &flip.request);
        let blame = super::blame::blame(&diff, &flip.request, &old_r, &new_r);
        return Ok(Some(Counterexample {
            world: w,
            found_in,
            entities,
            request: flip.request,
            old: old_r,
            new: new_r,
            blame,
        }));
    }
    Ok(None)
}

/// The store `world` is for the declarations `schema`.
fn load_world(
    world: &World,
    schema: &Schema,
    limits: &crate::limits::Limits,
) -> Result<crate::entities::Entities, GenerateError> {
    world
        .store(schema, limits)
        .map_err(|e| GenerateError::Load(e.to_string()))
}

/// Both versions' responses to `request`.
fn decide(diff: &Diff, request: &Request) -> (Response, Response) {
    let old = diff.old.authorize(&diff.old_entities, request);
    let new = diff.new.authorize(&diff.new_entities, request);
    (old, new)
}

/// `world` made as small as it goes while `request` still flips the same
/// way and the invariants still hold: entities no other one refers to,
/// parent edges, optional attributes and set elements are dropped one at
/// a time until none can be.
fn shrink(
    invariants: &dyn Fn(&crate::entities::Entities, &crate::entities::Entities) -> bool,
    old_prepared: &PreparedSet,
    new_prepared: &PreparedSet,
    mut world: World,
    request: &Request,
    allowed: bool,
) -> Result<World, GenerateError> {
    let (old, new) = (old_prepared.set(), new_prepared.set());
    let limits = &old_prepared.options().limits;
    let still = |w: &World| -> Result<bool, GenerateError> {
        let (o, n) = (
            load_world(w, &old.schema, limits)?,
            load_world(w, &new.schema, limits)?,
        );
        if !invariants(&n, &o) {
            return Ok(false);
        }
        let before = old_prepared.authorize(&o, request).decision;
        let after = new_prepared.authorize(&n, request).decision;
        Ok(before != after && (after == crate::authorize::Decision::Allow) == allowed)
    };
    let named = |uid: &crate::syntax::ast::EntityUid| {
        *uid == request.principal || *uid == request.resource || {
            let mut in_context = Vec::new();
            entities_of(&request.context.to_json(), &mut in_context);
            in_context.iter().any(|u| u == uid)
        }
    };
    loop {
        let mut smaller = None;
        for candidate in reductions(&world, &source(old, new).schema, &named) {
            if still(&candidate)? {
                smaller = Some(candidate);
                break;
            }
        }
        match smaller {
            Some(w) => world = w,
            None => return Ok(world),
        }
    }
}

/// Every store one step smaller than `world`.
fn reductions(
    world: &World,
    schema: &Schema,
    named: &dyn Fn(&crate::syntax::ast::EntityUid) -> bool,
) -> Vec<World> {
    let mut out = Vec::new();
    // An entity nothing refers to and the request does not name.
    for (i, e) in world.entities.iter().enumerate() {
        if named(&e.uid) {
            continue;
        }
        let referred = world.entities.iter().any(|other| {
            other.uid != e.uid
                && (other.parents.contains(&e.uid) || {
                    let mut refs = Vec::new();
                    for v in other.attrs.values().chain(other.tags.values()) {
                        entities_of(v, &mut refs);
                    }
                    refs.contains(&e.uid)
                })
        });
        if !referred {
            let mut w = world.clone();
            w.entities.remove(i);
            out.push(w);
        }
    }
    for (i, e) in world.entities.iter().enumerate() {
        for p in 0..e.parents.len() {
            let mut w = world.clone();
            w.entities[i].parents.remove(p);
            out.push(w);
        }
        let decl = schema.entity_types.get(&e.uid.ty);
        for (name, value) in &e.attrs {
            let optional = decl
                .and_then(|d| d.attrs.get(name))
                .is_some_and(|a| a.optional);
            if optional {
                let mut w = world.clone();
                w.entities[i].attrs.remove(name);
                out.push(w);
            }
            if let serde_json::Value::Array(items) = value {
                for k in 0..items.len() {
                    let mut w = world.clone();
                    if let Some(serde_json::Value::Array(items)) = w.entities[i].attrs.get_mut(name)
                    {
                        items.remove(k);
                    }
                    out.push(w);
                }
            }
        }
        for name in e.tags.keys() {
            let mut w = world.clone();
            w.entities[i].tags.remove(name);
            out.push(w);
        }
    }
    out
}

/// The entities an entity-JSON value refers to (`__entity` escapes).
fn entities_of(value: &serde_json::Value, out: &mut Vec<crate::syntax::ast::EntityUid>) {
    match value {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::Object(e)) = map.get("__entity") {
                if let (Some(t), Some(id)) = (
                    e.get("type").and_then(|t| t.as_str()),
                    e.get("id").and_then(|i| i.as_str()),
                ) {
                    out.push(crate::syntax::ast::EntityUid::new(t, id));
                }
                return;
            }
            map.values().for_each(|v| entities_of(v, out));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| entities_of(v, out)),
        _ => {}
    }
}
