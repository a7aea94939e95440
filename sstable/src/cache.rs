//! The block cache shared by all tables of a process.
//!
//! A sharded CLOCK cache (second-chance FIFO) keyed by `(file id, block
//! offset)`, holding parsed blocks as `Arc<Block>` and bounded by the bytes
//! they hold. A hit sets the entry's reference bit; inserting into a full
//! shard sweeps the clock hand, clearing set bits and evicting the first
//! entry whose bit is clear. Compressed blocks are held decompressed;
//! uncompressed blocks point into the table's memory map (no copy) and are
//! charged their size, because they keep those pages (and the map) alive.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::block::Block;

type Key = (u64, u64);

/// A fast hasher for `(u64, u64)` keys (not DoS-resistant; keys are ours).
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        mix(self.0)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

#[inline]
fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x
}

/// A cached block. Lives in the hash map, so a hit touches one bucket.
struct Entry {
    block: Arc<Block>,
    charge: usize,
    referenced: bool,
    /// Position in the clock ring.
    slot: usize,
}

#[derive(Default)]
struct Shard {
    map: HashMap<Key, Entry, BuildHasherDefault<KeyHasher>>,
    /// The clock: keys in insertion slots; `None` marks a free slot.
    ring: Vec<Option<Key>>,
    free: Vec<usize>,
    hand: usize,
    usage: usize,
}

impl Shard {
    /// Removes `key`; returns the bytes freed.
    fn remove(&mut self, key: &Key) -> usize {
        match self.map.remove(key) {
            Some(e) => {
                if let Some(s) = self.ring.get_mut(e.slot) {
                    *s = None;
                }
                self.free.push(e.slot);
                self.usage -= e.charge;
                e.charge
            }
            None => 0,
        }
    }

    /// Evicts until `need` more bytes fit in `cap`; returns bytes freed.
    fn make_room(&mut self, need: usize, cap: usize) -> usize {
        let mut freed = 0;
        // Two full sweeps always suffice: the first clears reference bits.
        let mut steps = self.ring.len() * 2 + 1;
        while self.usage + need > cap && steps > 0 && !self.ring.is_empty() {
            steps -= 1;
            let i = self.hand % self.ring.len();
            self.hand = (i + 1) % self.ring.len();
            let Some(Some(key)) = self.ring.get(i).copied() else {
                continue;
            };
            let evict = match self.map.get_mut(&key) {
                Some(e) if e.referenced => {
                    e.referenced = false;
                    false
                }
                _ => true,
            };
            if evict {
                freed += self.remove(&key);
            }
        }
        freed
    }
}

/// A size-bounded cache of parsed blocks, shared (through `Arc`) by every
/// table of a process. Thread-safe; sharded to keep lock hold times short
/// under concurrency.
///
/// ```
/// use strata_sstable::BlockCache;
/// let cache = BlockCache::new(64 << 20);
/// assert_eq!(cache.capacity(), 64 << 20);
/// assert_eq!((cache.hits(), cache.misses(), cache.usage()), (0, 0, 0));
/// ```
pub struct BlockCache {
    shards: Box<[Mutex<Shard>]>,
    shard_capacity: usize,
    capacity: usize,
    hits: AtomicU64,
    misses: AtomicU64,
    usage: AtomicU64,
}

impl std::fmt::Debug for BlockCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockCache")
            .field("capacity", &self.capacity)
            .field("shards", &self.shards.len())
            .field("usage", &self.usage())
            .field("hits", &self.hits())
            .field("misses", &self.misses())
            .finish()
    }
}

impl BlockCache {
    /// A cache holding at most `capacity_bytes` of blocks (0 disables
    /// caching). Up to 16 shards, each with an equal share of the capacity
    /// and at least 1 MiB of it.
    pub fn new(capacity_bytes: usize) -> Arc<BlockCache> {
        let mut shards = 16usize;
        while shards > 1 && capacity_bytes / shards < (1 << 20) {
            shards /= 2;
        }
        Arc::new(BlockCache {
            shards: (0..shards).map(|_| Mutex::new(Shard::default())).collect(),
            shard_capacity: capacity_bytes / shards,
            capacity: capacity_bytes,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            usage: AtomicU64::new(0),
        })
    }

    /// The configured capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Lookups that found their block.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Lookups that did not.
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    /// Bytes currently charged to cached blocks.
    pub fn usage(&self) -> u64 {
        self.usage.load(Ordering::Relaxed)
    }

    #[inline]
    fn shard(&self, key: Key) -> &Mutex<Shard> {
        let h = mix(key.0.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ key.1);
        let i = (h >> 40) as usize % self.shards.len();
        // `i` is in range; `get` keeps the code free of indexing panics.
        self.shards.get(i).unwrap_or(&self.shards[0])
    }

    pub(crate) fn get(&self, file_id: u64, offset: u64) -> Option<Arc<Block>> {
        let key = (file_id, offset);
        let mut shard = self.shard(key).lock();
        let found = shard.map.get_mut(&key).map(|e| {
            e.referenced = true;
            Arc::clone(&e.block)
        });
        drop(shard);
        if found.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        } else {
            self.misses.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    pub(crate) fn insert(&self, file_id: u64, offset: u64, block: Arc<Block>) {
        let charge = block.charge();
        if charge > self.shard_capacity {
            return;
        }
        let key = (file_id, offset);
        let mut shard = self.shard(key).lock();
        let mut freed = shard.remove(&key);
        freed += shard.make_room(charge, self.shard_capacity);
        if shard.usage + charge <= self.shard_capacity {
            let slot = match shard.free.pop() {
                Some(i) => i,
                None => {
                    shard.ring.push(None);
                    shard.ring.len() - 1
                }
            };
            if let Some(s) = shard.ring.get_mut(slot) {
                *s = Some(key);
            }
            shard.map.insert(
                key,
                Entry {
                    block,
                    charge,
                    referenced: false,
                    slot,
                },
            );
            shard.usage += charge;
            self.usage.fetch_add(charge as u64, Ordering::Relaxed);
        }
        // Under the shard lock, so the total never transiently underflows.
        self.usage.fetch_sub(freed as u64, Ordering::Relaxed);
    }

    /// Drops the block of `file_id` at `offset`, if cached.
    pub(crate) fn erase(&self, file_id: u64, offset: u64) {
        let key = (file_id, offset);
        let mut shard = self.shard(key).lock();
        let freed = shard.remove(&key);
        if freed > 0 {
            self.usage.fetch_sub(freed as u64, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::BlockData;

    fn block(size: usize) -> Arc<Block> {
        let mut b = crate::block::BlockBuilder::new(16);
        b.add(b"k", &vec![7u8; size]);
        Arc::new(Block::new(BlockData::Owned(b.finish().to_vec()), false).unwrap())
    }

    #[test]
    fn hits_misses_and_bound() {
        let cache = BlockCache::new(1 << 20);
        assert!(cache.get(1, 0).is_none());
        cache.insert(1, 0, block(1000));
        assert!(cache.get(1, 0).is_some());
        assert_eq!((cache.hits(), cache.misses()), (1, 1));
        for i in 0..10_000u64 {
            cache.insert(2, i * 4096, block(4000));
            assert!(cache.usage() <= 1 << 20);
        }
        assert!(cache.usage() > (1 << 20) / 2, "usage {}", cache.usage());
        // Erase releases the charge.
        let before = cache.usage();
        cache.erase(2, 9_999 * 4096);
        assert!(cache.usage() < before);
        // Too large to ever fit: not inserted.
        cache.insert(3, 0, block(2 << 20));
        assert!(cache.get(3, 0).is_none());
        // Capacity zero caches nothing.
        let none = BlockCache::new(0);
        none.insert(1, 0, block(10));
        assert!(none.get(1, 0).is_none());
        assert_eq!(none.usage(), 0);
    }

    #[test]
    fn referenced_entries_survive_a_sweep() {
        let cache = BlockCache::new(1 << 20);
        cache.insert(1, 0, block(100_000));
        for i in 1..200u64 {
            assert!(cache.get(1, 0).is_some(), "hot block evicted at {i}");
            cache.insert(2, i, block(100_000));
        }
    }
}
