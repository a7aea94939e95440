//! Item collection sizes: how many bytes the items of one partition key value and
//! their local secondary index entries take, as stored (keys plus encoded values),
//! for DynamoDB's 10 GB item-collection limit on tables with LSIs.
//!
//! Each partition keeps a bounded map from partition key to collection size, changed
//! only under the partition's write lock. A collection is measured by one scan of its
//! key ranges on first touch (after an open, or after its entry was evicted), and then
//! kept up to date by each write's size delta, so a write checks the limit without
//! scanning. When the map holds more than its capacity, the least recently used half is
//! evicted (and measured again when next touched).

use std::collections::HashMap;
use std::ops::Bound;

use strata_item::{Item, codec};

use super::core::TableCore;
use super::error::DbError;
use super::layout::{HashedKey, Space, prefix_successor};
use super::lsi;
use super::partition::Partition;

/// The default limit: DynamoDB's 10 GB (10 GiB).
pub const DEFAULT_ITEM_COLLECTION_LIMIT: u64 = 10 << 30;

/// Collections remembered per partition before the least recently used half is
/// evicted.
const CAPACITY: usize = 4096;

/// Known collection sizes of one partition, by encoded partition key.
#[derive(Debug)]
pub(crate) struct CollectionSizes {
    sizes: HashMap<Vec<u8>, (u64, u64)>,
    clock: u64,
    capacity: usize,
}

impl Default for CollectionSizes {
    fn default() -> Self {
        CollectionSizes::with_capacity(CAPACITY)
    }
}

impl CollectionSizes {
    /// An empty map that keeps at most `capacity` collections (at least 2).
    pub(crate) fn with_capacity(capacity: usize) -> CollectionSizes {
        CollectionSizes {
            sizes: HashMap::new(),
            clock: 0,
            capacity: capacity.max(2),
        }
    }

    /// The known size of collection `pk`, marking it recently used.
    pub(crate) fn get(&mut self, pk: &[u8]) -> Option<u64> {
        self.clock += 1;
        let now = self.clock;
        self.sizes.get_mut(pk).map(|(bytes, used)| {
            *used = now;
            *bytes
        })
    }

    /// Records the size of collection `pk`, evicting the least recently used half
    /// when over capacity.
    pub(crate) fn set(&mut self, pk: &[u8], bytes: u64) {
        self.clock += 1;
        let now = self.clock;
        match self.sizes.get_mut(pk) {
            Some(e) => *e = (bytes, now),
            None => {
                self.sizes.insert(pk.to_vec(), (bytes, now));
            }
        }
        if self.sizes.len() > self.capacity {
            let mut stamps: Vec<u64> = self.sizes.values().map(|&(_, used)| used).collect();
            let keep = self.capacity / 2;
            let cut = stamps.len() - keep;
            stamps.select_nth_unstable(cut);
            let oldest_kept = stamps[cut];
            self.sizes.retain(|_, &mut (_, used)| used >= oldest_kept);
        }
    }

    /// Forgets everything (sizes are measured again when next touched).
    pub(crate) fn clear(&mut self) {
        self.sizes.clear();
    }

    /// How many collections are remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.sizes.len()
    }
}

/// The collection's size after a write that changes it by `old` → `new` bytes, or the
/// size it would have when that is over `limit` and the write grows it (a write that
/// does not grow a collection is always allowed, so an over-full collection can
/// shrink).
pub(crate) fn next_size(current: u64, old: u64, new: u64, limit: u64) -> Result<u64, u64> {
    let next = current.saturating_sub(old).saturating_add(new);
    if new > old && next > limit {
        Err(next)
    } else {
        Ok(next)
    }
}

/// The stored bytes `item` adds to its collection: the base item's key and encoded
/// value, and each of its LSI entries' (0 for no item).
pub(crate) fn footprint(
    core: &TableCore,
    hashed: &HashedKey,
    base_key: &[u8],
    item: Option<&Item>,
) -> Result<u64, DbError> {
    let Some(item) = item else {
        return Ok(0);
    };
    let mut bytes = (base_key.len() + codec::encode_item(item).len()) as u64;
    let schema = &core.spec.key_schema;
    for (i, spec) in core.spec.local_secondary_indexes.iter().enumerate() {
        let idx = u8::try_from(i).map_err(|_| DbError::invalid("too many indexes"))?;
        if let Some(e) = lsi::entry(schema, idx, spec, hashed, item)? {
            bytes += (e.key.len() + codec::encode_item(&e.item).len()) as u64;
        }
    }
    Ok(bytes)
}

/// Measures collection `hashed` of `part` by scanning its base and LSI key ranges at
/// the newest visible state.
pub(crate) fn measure(
    core: &TableCore,
    part: &Partition,
    hashed: &HashedKey,
) -> Result<u64, DbError> {
    let snapshot = part.tree.snapshot();
    let lsis = u8::try_from(core.spec.local_secondary_indexes.len()).unwrap_or(u8::MAX);
    let spaces = std::iter::once(Space::Base).chain((0..lsis).map(Space::Lsi));
    let mut bytes = 0u64;
    for space in spaces {
        let lo = space.partition_prefix(hashed);
        let Some(hi) = prefix_successor(&lo) else {
            continue;
        };
        let iter = part.range(
            core,
            Bound::Included(lo.as_slice()),
            Bound::Excluded(hi.as_slice()),
            Some(&snapshot),
        )?;
        for kv in iter {
            let (k, v) = kv.map_err(|e| core.storage(part.index, e))?;
            bytes += (k.len() + v.len()) as u64;
        }
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_over_the_limit_is_refused_shrinking_is_not() {
        assert_eq!(next_size(100, 0, 50, 200), Ok(150));
        assert_eq!(next_size(100, 0, 101, 200), Err(201));
        assert_eq!(next_size(100, 0, 100, 200), Ok(200));
        // Over the limit already: a write that shrinks or keeps the size passes.
        assert_eq!(next_size(300, 50, 10, 200), Ok(260));
        assert_eq!(next_size(300, 50, 50, 200), Ok(300));
        assert_eq!(next_size(300, 50, 51, 200), Err(301));
        assert_eq!(next_size(10, 10, 0, 0), Ok(0));
    }

    #[test]
    fn keeps_the_recently_used_half_when_full() {
        let mut m = CollectionSizes::with_capacity(4);
        for k in 0u8..4 {
            m.set(&[k], u64::from(k));
        }
        // Touch 0 and 1: 2 and 3 are the oldest.
        assert_eq!(m.get(&[0]), Some(0));
        assert_eq!(m.get(&[1]), Some(1));
        m.set(&[9], 9);
        assert!(m.len() <= 4);
        assert_eq!(m.get(&[9]), Some(9));
        assert_eq!(m.get(&[2]), None);
        assert_eq!(m.get(&[3]), None);
        m.clear();
        assert_eq!(m.get(&[9]), None);
    }
}
