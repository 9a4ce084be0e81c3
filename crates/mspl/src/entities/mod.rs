//! The entity store: entities with attributes, tags and parents, and the
//! hierarchy that `in` walks.
//!
//! **Invariant:** the hierarchy is indexed once at load, as parent lists of
//! node numbers; `in` walks only the ancestors it needs, so memory stays
//! linear in the data (no transitive closure) and a 200,000-deep chain loads.

// Every index into the store is checked or a node number of the store's
// own, each such place saying so (ARCHITECTURE.md, "Lints").
#![deny(clippy::indexing_slicing)]

pub mod build;
pub mod changes;
pub mod json;
mod store;

use store::Store;

use crate::syntax::ast::EntityUid;
use crate::value::Value;
use smol_str::SmolStr;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// The hasher of the store's and the policy index's maps: fast, with a
/// per-process random seed. Nothing that reaches output depends on it.
pub type FastHash = foldhash::fast::RandomState;

/// The data of one entity.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EntityData {
    /// Attributes by name.
    pub attrs: BTreeMap<SmolStr, Value>,
    /// Tags by key.
    pub tags: BTreeMap<SmolStr, Value>,
}

/// One node of the hierarchy: an entity with data, or a uid that only
/// appears as a parent.
#[derive(Clone, Debug)]
struct Node {
    uid: EntityUid,
    data: Option<EntityData>,
    parents: Vec<u32>,
}

/// A request's own entities over a shared store (`mspl serve`'s
/// per-request `entities`): the nodes it replaces, by their number in the
/// store, and the nodes of uids the store lacks, numbered after the
/// store's. It costs what it adds, never a copy of the store.
#[derive(Clone, Debug, Default)]
struct Layer {
    replaced: HashMap<u32, Node, FastHash>,
    added: Vec<Node>,
    index: HashMap<EntityUid, u32, FastHash>,
}

/// A set of entities and their hierarchy: a shared [`Store`] (cloning an
/// `Entities` shares it) and, for a request that brings entities of its
/// own, a layer over it ([`Entities::overlay`]).
#[derive(Clone, Debug, Default)]
pub struct Entities {
    store: Arc<Store>,
    layer: Option<Arc<Layer>>,
}

/// Reusable buffers of the hierarchy walks, one set per thread, so that `in`
/// allocates nothing once they have grown (the decision path allocates
/// nothing per request beyond the response).
#[derive(Default)]
struct WalkScratch {
    stack: Vec<u32>,
    /// `stamps[n] == stamp` marks node `n` visited by the current walk.
    stamps: Vec<u32>,
    stamp: u32,
}

impl WalkScratch {
    /// Starts a walk over a store of `nodes` nodes: nothing visited yet.
    fn begin(&mut self, nodes: usize) {
        self.stack.clear();
        if self.stamps.len() < nodes {
            self.stamps.resize(nodes, 0);
        }
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.stamps.fill(0);
            self.stamp = 1;
        }
    }

    /// Marks `n` visited; `false` when it already was.
    #[expect(clippy::indexing_slicing, reason = "the stamps are sized to the store walked, whose node `n` is")]
    fn visit(&mut self, n: u32) -> bool {
        let local = &mut self.stamps[n as usize];
        if *local == self.stamp {
            return false;
        }
        *local = self.stamp;
        true
    }
}

thread_local! {
    static WALK: RefCell<WalkScratch> = RefCell::default();
}

/// Runs `f` with this thread's walk buffers (fresh ones when they are in use).
fn with_walk<R>(f: impl FnOnce(&mut WalkScratch) -> R) -> R {
    WALK.with(|cell| match cell.try_borrow_mut() {
        Ok(mut w) => f(&mut w),
        Err(_) => f(&mut WalkScratch::default()),
    })
}

impl Entities {
    /// An empty store.
    pub fn new() -> Entities {
        Entities::default()
    }

    /// The node numbered `id` (a number of this store).
    #[inline]
    fn node_at(&self, id: u32) -> &Node {
        let store = &self.store;
        let found = match &self.layer {
            None => store.node(id as usize),
            Some(layer) => match (id as usize).checked_sub(store.len()) {
                Some(i) => layer.added.get(i),
                None => layer.replaced.get(&id).or_else(|| store.node(id as usize)),
            },
        };
        found.unwrap_or_else(|| no_node(id))
    }

    /// The node numbered `id` of the shared store, to change (the layer
    /// folded in first, so that the number is the store's).
    fn node_mut(&mut self, id: u32) -> &mut Node {
        match self.store_mut().node_mut(id as usize) {
            Some(node) => node,
            None => no_node_mut(id),
        }
    }

    /// The number of `uid`'s node, if it has one.
    #[inline]
    fn lookup(&self, uid: &EntityUid) -> Option<u32> {
        if let Some(layer) = &self.layer {
            if let Some(&id) = layer.index.get(uid) {
                return Some(id);
            }
        }
        self.store.id(uid)
    }

    /// The store to change, with no layer over it and shared with nobody
    /// (building a store; a layer is folded in and a shared store copied,
    /// which neither the decision path nor a served snapshot ever needs).
    fn store_mut(&mut self) -> &mut Store {
        if let Some(layer) = self.layer.take() {
            let store = Arc::make_mut(&mut self.store);
            // A layer replaces only nodes of its store.
            for (id, node) in &layer.replaced {
                if let Some(slot) = store.node_mut(*id as usize) {
                    *slot = node.clone();
                }
            }
            for node in &layer.added {
                // Layer nodes are numbered after the store's, in order.
                let id = node_number(store.push(node.clone()));
                store.index(node.uid.clone(), id);
            }
        }
        Arc::make_mut(&mut self.store)
    }

    fn node_id(&mut self, uid: &EntityUid) -> u32 {
        if let Some(id) = self.lookup(uid) {
            if self.layer.is_none() {
                return id;
            }
        }
        let store = self.store_mut();
        if let Some(id) = store.id(uid) {
            return id;
        }
        let id = node_number(store.push(Node {
            uid: uid.clone(),
            data: None,
            parents: Vec::new(),
        }));
        store.index(uid.clone(), id);
        id
    }

    /// Adds an entity. Returns `false` (and changes nothing) when an entity
    /// with this uid already has data.
    pub fn insert(&mut self, uid: EntityUid, data: EntityData, parents: &[EntityUid]) -> bool {
        let id = self.node_id(&uid);
        if self.node_at(id).data.is_some() {
            return false;
        }
        let parent_ids: Vec<u32> = parents.iter().map(|p| self.node_id(p)).collect();
        let node = self.node_mut(id);
        node.data = Some(data);
        push_unique(&mut node.parents, parent_ids);
        true
    }

    /// Makes `uid` the entity with `data` and exactly `parents`, whatever
    /// it had (a transaction's upsert).
    pub fn upsert(&mut self, uid: &EntityUid, data: EntityData, parents: &[EntityUid]) {
        let id = self.node_id(uid);
        let parent_ids: Vec<u32> = parents.iter().map(|p| self.node_id(p)).collect();
        let node = self.node_mut(id);
        node.data = Some(data);
        node.parents.clear();
        push_unique(&mut node.parents, parent_ids);
    }

    /// Removes the entity `uid`, its data and its parents (other entities
    /// naming it as a parent keep the edge, as Cedar keeps it); `false`
    /// when it was no entity.
    pub fn delete(&mut self, uid: &EntityUid) -> bool {
        let Some(id) = self.lookup(uid) else {
            return false;
        };
        if self.node_at(id).data.is_none() {
            return false;
        }
        let node = self.node_mut(id);
        node.data = None;
        node.parents.clear();
        true
    }

    /// Adds `parents` to the entity `uid`; `false` when it is no entity.
    pub fn add_entity_parents(&mut self, uid: &EntityUid, parents: &[EntityUid]) -> bool {
        if !self.contains(uid) {
            return false;
        }
        self.add_parents(uid, parents);
        true
    }

    /// Removes `parents` from the entity `uid`; `false` when it is no entity.
    pub fn remove_parents(&mut self, uid: &EntityUid, parents: &[EntityUid]) -> bool {
        let Some(id) = self.lookup(uid).filter(|_| self.contains(uid)) else {
            return false;
        };
        let gone: Vec<u32> = parents.iter().filter_map(|p| self.lookup(p)).collect();
        self.node_mut(id).parents.retain(|p| !gone.contains(p));
        true
    }

    /// Adds parents to `uid` (creating the node if needed), without data.
    /// Used to merge declared action groups with action entities from data.
    pub fn add_parents(&mut self, uid: &EntityUid, parents: &[EntityUid]) {
        let id = self.node_id(uid);
        let parent_ids: Vec<u32> = parents.iter().map(|p| self.node_id(p)).collect();
        push_unique(&mut self.node_mut(id).parents, parent_ids);
    }

    /// Makes `uid` known to the store without data, as a uid that only
    /// appears as a parent is: it is still no entity of the store, so
    /// nothing any policy sees changes, but it has a node number.
    pub fn add_node(&mut self, uid: &EntityUid) -> u32 {
        self.node_id(uid)
    }

    /// Gives `uid` empty data if it has none, so that it exists as an entity.
    pub fn ensure_exists(&mut self, uid: &EntityUid) {
        let id = self.node_id(uid);
        if self.node_at(id).data.is_none() {
            self.node_mut(id).data = Some(EntityData::default());
        }
    }

    /// This store with the entities of `extra` in place of its own of the
    /// same uid (their data and parents replaced, not merged), and added
    /// where it has none: a request's own entities (`mspl serve`). The
    /// store is shared, not copied: the result costs what `extra` holds.
    pub fn overlay(&self, extra: &Entities) -> Entities {
        let mut layer = self.layer.as_deref().cloned().unwrap_or_default();
        let base = self.store.len();
        let number = |layer: &mut Layer, uid: &EntityUid| -> u32 {
            if let Some(id) = self.store.id(uid) {
                return id;
            }
            if let Some(&id) = layer.index.get(uid) {
                return id;
            }
            let id = node_number(base + layer.added.len());
            layer.added.push(Node {
                uid: uid.clone(),
                data: None,
                parents: Vec::new(),
            });
            layer.index.insert(uid.clone(), id);
            id
        };
        for n in 0..extra.node_count() {
            let node = extra.node_at(n);
            let id = number(&mut layer, &node.uid);
            let Some(data) = &node.data else {
                continue;
            };
            let parents: Vec<u32> = node
                .parents
                .iter()
                .map(|&p| number(&mut layer, &extra.node_at(p).uid))
                .collect();
            let replacement = Node {
                uid: node.uid.clone(),
                data: Some(data.clone()),
                parents,
            };
            match (id as usize)
                .checked_sub(base)
                .and_then(|i| layer.added.get_mut(i))
            {
                Some(added) => *added = replacement,
                None => {
                    layer.replaced.insert(id, replacement);
                }
            }
        }
        Entities {
            store: self.store.clone(),
            layer: Some(Arc::new(layer)),
        }
    }

    /// The data of `uid`, if the store has it.
    pub fn get(&self, uid: &EntityUid) -> Option<&EntityData> {
        let id = self.lookup(uid)?;
        self.node_at(id).data.as_ref()
    }

    /// Whether `uid` is an entity of the store (not just a parent reference).
    pub fn contains(&self, uid: &EntityUid) -> bool {
        self.get(uid).is_some()
    }

    /// The number of entities with data.
    pub fn len(&self) -> usize {
        (0..self.node_count())
            .filter(|&n| self.node_at(n).data.is_some())
            .count()
    }

    /// Whether the store has no entities.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every entity with data, in uid order.
    pub fn iter(&self) -> impl Iterator<Item = (&EntityUid, &EntityData)> {
        let mut all: Vec<(&EntityUid, &EntityData)> = (0..self.node_count())
            .map(|n| self.node_at(n))
            .filter_map(|n| n.data.as_ref().map(|d| (&n.uid, d)))
            .collect();
        all.sort_by(|a, b| a.0.cmp(b.0));
        all.into_iter()
    }

    /// The direct parents of `uid`, in the order given.
    pub fn parents(&self, uid: &EntityUid) -> Vec<&EntityUid> {
        match self.lookup(uid) {
            Some(id) => self
                .node_at(id)
                .parents
                .iter()
                .map(|&p| &self.node_at(p).uid)
                .collect(),
            None => Vec::new(),
        }
    }

    /// Cedar's `child in ancestor`: equal, or `ancestor` reachable through
    /// parents. Costs time in the ancestors visited, never more, and
    /// allocates nothing once this thread's walk buffers have grown.
    pub fn is_in(&self, child: &EntityUid, ancestor: &EntityUid) -> bool {
        if child == ancestor {
            return true;
        }
        let (Some(from), Some(target)) = (self.lookup(child), self.lookup(ancestor)) else {
            return false;
        };
        self.node_is_in(from, target)
    }

    /// [`Self::is_in`] of two nodes: the same node, or `target` reachable
    /// from `from` through parents.
    pub fn node_is_in(&self, from: u32, target: u32) -> bool {
        if from == target {
            return true;
        }
        let first = &self.node_at(from).parents;
        if first.contains(&target) {
            return true;
        }
        if first.is_empty() {
            return false;
        }
        with_walk(|w| {
            w.begin(self.node_count() as usize);
            w.visit(from);
            w.stack.extend_from_slice(first);
            while let Some(n) = w.stack.pop() {
                if n == target {
                    return true;
                }
                if !w.visit(n) {
                    continue;
                }
                w.stack.extend_from_slice(&self.node_at(n).parents);
            }
            false
        })
    }

    /// The number of nodes: entities with data and uids that only appear
    /// as parents. Node numbers are `0..node_count()`.
    pub fn node_count(&self) -> u32 {
        let added = self.layer.as_ref().map_or(0, |l| l.added.len());
        node_number(self.store.len() + added)
    }

    /// Removes the parent edge `uid` → `parent`; returns where it stood.
    pub fn remove_parent(&mut self, uid: &EntityUid, parent: &EntityUid) -> Option<usize> {
        let (child, p) = (self.lookup(uid)?, self.lookup(parent)?);
        let at = self.node_at(child).parents.iter().position(|&x| x == p)?;
        self.node_mut(child).parents.remove(at);
        Some(at)
    }

    /// Puts the parent edge `uid` → `parent` back at position `at` (after
    /// [`Self::remove_parent`]).
    pub fn insert_parent(&mut self, uid: &EntityUid, parent: &EntityUid, at: usize) {
        if let (Some(child), Some(p)) = (self.lookup(uid), self.lookup(parent)) {
            let parents = &mut self.node_mut(child).parents;
            parents.insert(at.min(parents.len()), p);
        }
    }

    /// The attribute `name` of `uid`, to change in place.
    pub fn attr_mut(&mut self, uid: &EntityUid, name: &str) -> Option<&mut Value> {
        let n = self.lookup(uid)?;
        self.node_at(n).data.as_ref()?.attrs.get(name)?;
        self.node_mut(n).data.as_mut()?.attrs.get_mut(name)
    }

    /// The node number of `uid` in this store (valid for this store only).
    pub fn node(&self, uid: &EntityUid) -> Option<u32> {
        self.lookup(uid)
    }

    /// The uid of node `node` of this store.
    pub fn node_uid(&self, node: u32) -> &EntityUid {
        &self.node_at(node).uid
    }

    /// Appends to `out` every proper ancestor of node `node`, each once, in
    /// no particular order (the policy index looks each one up).
    pub fn ancestors_into(&self, node: u32, out: &mut Vec<u32>) {
        let first = &self.node_at(node).parents;
        if first.is_empty() {
            return;
        }
        with_walk(|w| {
            w.begin(self.node_count() as usize);
            w.visit(node);
            w.stack.extend_from_slice(first);
            while let Some(n) = w.stack.pop() {
                if w.visit(n) {
                    out.push(n);
                    w.stack.extend_from_slice(&self.node_at(n).parents);
                }
            }
        })
    }
}

impl Entities {
    /// A cycle of the hierarchy, if it has one: the uids along it, the
    /// first repeated at the end (`a → b → a`; a self-parent is `a → a`).
    /// Found by a depth-first walk from each node in node order, so the
    /// same store always names the same cycle. Cedar refuses such data.
    pub fn find_cycle(&self) -> Option<Vec<EntityUid>> {
        // 0: not seen, 1: on the current path, 2: done.
        let count = self.node_count() as usize;
        let mut state = vec![0u8; count];
        let mut path: Vec<(u32, usize)> = Vec::new();
        let mark = |state: &mut Vec<u8>, n: u32, to: u8| {
            if let Some(s) = state.get_mut(n as usize) {
                *s = to;
            }
        };
        for start in 0..self.node_count() {
            if state.get(start as usize) != Some(&0) {
                continue;
            }
            path.push((start, 0));
            mark(&mut state, start, 1);
            while let Some(&mut (n, ref mut next)) = path.last_mut() {
                let parents = &self.node_at(n).parents;
                if let Some(&p) = parents.get(*next) {
                    *next += 1;
                    match state.get(p as usize) {
                        Some(0) => {
                            mark(&mut state, p, 1);
                            path.push((p, 0));
                        }
                        Some(1) => {
                            let from = path.iter().position(|&(x, _)| x == p).unwrap_or(0);
                            let mut cycle: Vec<EntityUid> = path
                                .iter()
                                .skip(from)
                                .map(|&(x, _)| self.node_at(x).uid.clone())
                                .collect();
                            cycle.push(self.node_at(p).uid.clone());
                            return Some(cycle);
                        }
                        _ => {}
                    }
                } else {
                    mark(&mut state, n, 2);
                    path.pop();
                }
            }
        }
        None
    }
}

/// Appends the parents not yet in `list`, in order, in linear time (an
/// entity may have a million parents).
fn push_unique(list: &mut Vec<u32>, new: Vec<u32>) {
    let mut seen: std::collections::HashSet<u32> = list.iter().copied().collect();
    for p in new {
        if seen.insert(p) {
            list.push(p);
        }
    }
}

/// The number of the node at `index` of a store (or of its layer).
fn node_number(index: usize) -> u32 {
    #[expect(
        clippy::cast_possible_truncation,
        reason = "a store's entities come from data of at most u32::MAX bytes (`limits::MAX_FILE_BYTES_CEILING`), several bytes each, or from a tool's generator bounded likewise"
    )]
    let number = index as u32;
    number
}

/// A node number the store does not have: an impossible state (numbers are
/// handed out by `node_id` and `lookup`, never taken from input). Stopping
/// is the only answer that cannot be wrong: a walk that went on without the
/// node could miss an ancestor a forbid names.
#[expect(clippy::panic, reason = "an impossible state; going on could decide without a forbid")]
#[cold]
fn no_node(id: u32) -> &'static Node {
    panic!("entity store: node {id} does not exist")
}

/// [`no_node`], to change.
#[expect(clippy::panic, reason = "an impossible state; going on could decide without a forbid")]
#[cold]
fn no_node_mut(id: u32) -> &'static mut Node {
    panic!("entity store: node {id} does not exist")
}
