//! Searches answered from memory. A search's whole answer is kept under
//! the serving snapshot's identity (its revision and entity revision), the
//! kind of search and the digest of the request without its `page`, so
//! the pages of one search read one computation; the audit domain of the
//! snapshot's store for one context and action is kept likewise, so a
//! search on a resource not searched before builds no domain. A new
//! snapshot (a reload, an entity change) has a new identity: nothing
//! computed on an older store is served. Both are small, most recently
//! used first, and bounded in entries and in the results they hold.

use std::sync::{Arc, Mutex};

/// The most answers kept.
pub const MAX_ANSWERS: usize = 64;
/// The most results kept over every answer.
pub const MAX_RESULTS: usize = 1_000_000;
/// The most domains kept.
pub const MAX_DOMAINS: usize = 8;

/// A small most-recently-used map: entries by key, each with a weight,
/// bounded in entries and in total weight.
pub struct Recent<V> {
    entries: Mutex<Vec<(String, Arc<V>, usize)>>,
    max_entries: usize,
    max_weight: usize,
}

impl<V> Recent<V> {
    /// An empty map of at most `max_entries` entries and `max_weight`
    /// weight.
    pub fn new(max_entries: usize, max_weight: usize) -> Recent<V> {
        Recent {
            entries: Mutex::new(Vec::new()),
            max_entries,
            max_weight,
        }
    }

    /// The value under `key`, now the most recent.
    pub fn get(&self, key: &str) -> Option<Arc<V>> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let i = entries.iter().position(|(k, _, _)| k == key)?;
        let entry = entries.remove(i);
        let value = entry.1.clone();
        entries.push(entry);
        Some(value)
    }

    /// Keeps `value` under `key` (a value heavier than the whole bound is
    /// not kept), dropping the least recent entries past the bounds.
    pub fn put(&self, key: String, value: Arc<V>, weight: usize) {
        if weight > self.max_weight {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|(k, _, _)| *k != key);
        entries.push((key, value, weight));
        let mut total: usize = entries.iter().map(|(_, _, w)| w).sum();
        while entries.len() > self.max_entries || total > self.max_weight {
            let (_, _, w) = entries.remove(0);
            total -= w;
        }
    }

    /// The entries kept.
    pub fn len(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.len())
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recent_goes_first_and_weight_is_bounded() {
        let r: Recent<u32> = Recent::new(2, 10);
        r.put("a".into(), Arc::new(1), 1);
        r.put("b".into(), Arc::new(2), 1);
        assert_eq!(r.get("a").as_deref(), Some(&1));
        r.put("c".into(), Arc::new(3), 1);
        assert!(r.get("b").is_none(), "b was the least recent");
        assert_eq!(r.get("a").as_deref(), Some(&1));
        r.put("d".into(), Arc::new(4), 10);
        assert_eq!(r.len(), 1, "the weight bound drops the rest");
        r.put("e".into(), Arc::new(5), 11);
        assert!(r.get("e").is_none(), "heavier than the bound: not kept");
    }
}
