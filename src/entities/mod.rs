//! The entity store: entities with attributes, tags and parents, and the
//! hierarchy that `in` walks.
//!
//! **Invariant:** the hierarchy is indexed once at load, as parent lists of
//! node numbers; `in` walks only the ancestors it needs, so memory stays
//! linear in the data (no transitive closure) and a 200,000-deep chain loads.

pub mod json;

use crate::eval::value::Value;
use crate::syntax::ast::EntityUid;
use smol_str::SmolStr;
use std::collections::{BTreeMap, HashMap};

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

/// A set of entities and their hierarchy.
#[derive(Clone, Debug, Default)]
pub struct Entities {
    nodes: Vec<Node>,
    index: HashMap<EntityUid, u32>,
}

impl Entities {
    /// An empty store.
    pub fn new() -> Entities {
        Entities::default()
    }

    fn node_id(&mut self, uid: &EntityUid) -> u32 {
        if let Some(&id) = self.index.get(uid) {
            return id;
        }
        // INVARIANT: the data-file size limit keeps the count far below u32::MAX.
        let id = self.nodes.len() as u32;
        self.nodes.push(Node {
            uid: uid.clone(),
            data: None,
            parents: Vec::new(),
        });
        self.index.insert(uid.clone(), id);
        id
    }

    /// Adds an entity. Returns `false` (and changes nothing) when an entity
    /// with this uid already has data.
    pub fn insert(&mut self, uid: EntityUid, data: EntityData, parents: &[EntityUid]) -> bool {
        let id = self.node_id(&uid);
        if self.nodes[id as usize].data.is_some() {
            return false;
        }
        let parent_ids: Vec<u32> = parents.iter().map(|p| self.node_id(p)).collect();
        let node = &mut self.nodes[id as usize];
        node.data = Some(data);
        for p in parent_ids {
            if !node.parents.contains(&p) {
                node.parents.push(p);
            }
        }
        true
    }

    /// Adds parents to `uid` (creating the node if needed), without data.
    /// Used to merge declared action groups with action entities from data.
    pub fn add_parents(&mut self, uid: &EntityUid, parents: &[EntityUid]) {
        let id = self.node_id(uid);
        let parent_ids: Vec<u32> = parents.iter().map(|p| self.node_id(p)).collect();
        let node = &mut self.nodes[id as usize];
        for p in parent_ids {
            if !node.parents.contains(&p) {
                node.parents.push(p);
            }
        }
    }

    /// Gives `uid` empty data if it has none, so that it exists as an entity.
    pub fn ensure_exists(&mut self, uid: &EntityUid) {
        let id = self.node_id(uid);
        let node = &mut self.nodes[id as usize];
        if node.data.is_none() {
            node.data = Some(EntityData::default());
        }
    }

    /// The data of `uid`, if the store has it.
    pub fn get(&self, uid: &EntityUid) -> Option<&EntityData> {
        let id = *self.index.get(uid)?;
        self.nodes[id as usize].data.as_ref()
    }

    /// Whether `uid` is an entity of the store (not just a parent reference).
    pub fn contains(&self, uid: &EntityUid) -> bool {
        self.get(uid).is_some()
    }

    /// The number of entities with data.
    pub fn len(&self) -> usize {
        self.nodes.iter().filter(|n| n.data.is_some()).count()
    }

    /// Whether the store has no entities.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every entity with data, in uid order.
    pub fn iter(&self) -> impl Iterator<Item = (&EntityUid, &EntityData)> {
        let mut all: Vec<(&EntityUid, &EntityData)> = self
            .nodes
            .iter()
            .filter_map(|n| n.data.as_ref().map(|d| (&n.uid, d)))
            .collect();
        all.sort_by(|a, b| a.0.cmp(b.0));
        all.into_iter()
    }

    /// The direct parents of `uid`, in the order given.
    pub fn parents(&self, uid: &EntityUid) -> Vec<&EntityUid> {
        match self.index.get(uid) {
            Some(&id) => self.nodes[id as usize]
                .parents
                .iter()
                .map(|&p| &self.nodes[p as usize].uid)
                .collect(),
            None => Vec::new(),
        }
    }

    /// Cedar's `child in ancestor`: equal, or `ancestor` reachable through
    /// parents. Costs time in the ancestors visited, never more.
    pub fn is_in(&self, child: &EntityUid, ancestor: &EntityUid) -> bool {
        if child == ancestor {
            return true;
        }
        let (Some(&from), Some(&target)) = (self.index.get(child), self.index.get(ancestor)) else {
            return false;
        };
        let first = &self.nodes[from as usize].parents;
        if first.contains(&target) {
            return true;
        }
        if first.is_empty() {
            return false;
        }
        let mut seen = std::collections::HashSet::new();
        let mut stack: Vec<u32> = first.clone();
        seen.insert(from);
        while let Some(n) = stack.pop() {
            if n == target {
                return true;
            }
            if !seen.insert(n) {
                continue;
            }
            stack.extend(
                self.nodes[n as usize]
                    .parents
                    .iter()
                    .copied()
                    .filter(|p| !seen.contains(p)),
            );
        }
        false
    }
}
