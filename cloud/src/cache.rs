//! A bounded least-recently-used cache of answers, keyed by the SHA-256 of the input's bytes, so
//! a repeated input (a sensor that sees the same scene) costs neither a device run nor a cloud call.

use std::collections::{BTreeMap, HashMap};

use sha2::{Digest, Sha256};

/// The cache key of an input: SHA-256 of its shape and its values' little-endian bytes.
pub type Key = [u8; 32];

pub fn key(shape: &[usize], data: &[f32]) -> Key {
    let mut h = Sha256::new();
    for &d in shape {
        h.update((d as u64).to_le_bytes());
    }
    for v in data {
        h.update(v.to_le_bytes());
    }
    h.finalize().into()
}

pub struct Cache<V> {
    capacity: usize,
    tick: u64,
    entries: HashMap<Key, (V, u64)>,
    /// Last use → key, oldest first.
    order: BTreeMap<u64, Key>,
}

impl<V: Clone> Cache<V> {
    /// A cache of at most `capacity` entries (0: caches nothing).
    pub fn new(capacity: usize) -> Cache<V> {
        Cache { capacity, tick: 0, entries: HashMap::new(), order: BTreeMap::new() }
    }

    pub fn get(&mut self, key: &Key) -> Option<V> {
        let (v, used) = self.entries.get_mut(key)?;
        self.order.remove(used);
        self.tick += 1;
        *used = self.tick;
        self.order.insert(self.tick, *key);
        Some(v.clone())
    }

    pub fn insert(&mut self, key: Key, value: V) {
        if self.capacity == 0 {
            return;
        }
        if let Some((_, used)) = self.entries.remove(&key) {
            self.order.remove(&used);
        }
        while self.entries.len() >= self.capacity {
            let Some((_, oldest)) = self.order.pop_first() else { break };
            self.entries.remove(&oldest);
        }
        self.tick += 1;
        self.entries.insert(key, (value, self.tick));
        self.order.insert(self.tick, key);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_least_recently_used() {
        let mut c = Cache::new(2);
        let (a, b, d) = (key(&[1], &[1.0]), key(&[1], &[2.0]), key(&[1], &[3.0]));
        c.insert(a, 1);
        c.insert(b, 2);
        assert_eq!(c.get(&a), Some(1));
        c.insert(d, 3);
        assert_eq!((c.get(&a), c.get(&b), c.get(&d)), (Some(1), None, Some(3)));
        assert_eq!(c.len(), 2);
        assert_ne!(key(&[1, 2], &[1.0, 2.0]), key(&[2, 1], &[1.0, 2.0]), "the shape is part of the key");
    }
}
