//! The nodes of a store and the index of their uids, in pieces that
//! revisions share: nodes in chunks of [`CHUNK`], the index in [`SHARDS`]
//! shards by the uid's hash, each behind an `Arc`. Cloning a store clones
//! a few thousand pointers; changing a node copies its chunk, and adding a
//! uid its shard, only when another revision still holds them — so a
//! transaction costs what it touches, never the store (`mspl serve
//! --entity-changes`). A lookup hashes its uid once: the hash's high bits
//! pick the shard, its low bits the bucket within it.
//!
//! Why chunks and shards rather than a persistent map (`imbl`): the
//! decision path reads nodes by number thousands of times per request, and
//! a chunked vector keeps that read an indexing, where a tree pays a walk
//! of its levels. A request's own entities stay a layer over the store
//! (`Entities::overlay`): a request copies nothing, not even a chunk.

use super::{FastHash, Node};
use crate::syntax::ast::EntityUid;
use hashbrown::hash_table::{Entry, HashTable};
use std::hash::BuildHasher;
use std::sync::Arc;

/// Nodes per chunk: a chunk copied on write is about this many nodes.
pub(super) const CHUNK: usize = 1024;

/// Shards of the uid index: a shard copied on write is about the store's
/// size over this many entries.
pub(super) const SHARDS: usize = 256;

/// The nodes and the index of a store.
#[derive(Clone, Debug)]
pub(super) struct Store {
    chunks: Vec<Arc<Vec<Node>>>,
    len: usize,
    shards: Vec<Arc<HashTable<(EntityUid, u32)>>>,
    /// The hash of a uid: one seed for the store and its revisions.
    hasher: FastHash,
}

impl Default for Store {
    fn default() -> Store {
        Store {
            chunks: Vec::new(),
            len: 0,
            shards: (0..SHARDS).map(|_| Arc::default()).collect(),
            hasher: FastHash::default(),
        }
    }
}

impl Store {
    /// How many nodes.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Node `n`, if the store has it.
    #[inline]
    pub(super) fn node(&self, n: usize) -> Option<&Node> {
        self.chunks.get(n / CHUNK)?.get(n % CHUNK)
    }

    /// Node `n` to change: its chunk copied first if another revision holds it.
    pub(super) fn node_mut(&mut self, n: usize) -> Option<&mut Node> {
        let chunk = self.chunks.get_mut(n / CHUNK)?;
        Arc::make_mut(chunk).get_mut(n % CHUNK)
    }

    /// Appends `node` (its uid not yet indexed); its number.
    pub(super) fn push(&mut self, node: Node) -> usize {
        let n = self.len;
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK => Arc::make_mut(last).push(node),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(node);
                self.chunks.push(Arc::new(chunk));
            }
        }
        self.len += 1;
        n
    }

    /// `uid`'s hash and its shard (from the bits above those a shard's
    /// table reads for its buckets and tags).
    #[inline]
    fn hash(&self, uid: &EntityUid) -> (u64, usize) {
        let hash = self.hasher.hash_one(uid);
        (hash, ((hash >> 40) % SHARDS as u64) as usize)
    }

    /// The number of `uid`'s node.
    #[inline]
    pub(super) fn id(&self, uid: &EntityUid) -> Option<u32> {
        let (hash, shard) = self.hash(uid);
        let table = self.shards.get(shard)?;
        table.find(hash, |(u, _)| u == uid).map(|&(_, id)| id)
    }

    /// Indexes `uid` as node `id`.
    pub(super) fn index(&mut self, uid: EntityUid, id: u32) {
        let (hash, shard) = self.hash(&uid);
        let hasher = &self.hasher;
        if let Some(table) = self.shards.get_mut(shard) {
            let table = Arc::make_mut(table);
            match table.entry(hash, |(u, _)| *u == uid, |(u, _)| hasher.hash_one(u)) {
                Entry::Occupied(mut slot) => slot.get_mut().1 = id,
                Entry::Vacant(slot) => {
                    slot.insert((uid, id));
                }
            }
        }
    }
}
