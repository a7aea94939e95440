//! Snapshots: pinned sequence numbers that reads can use and that compaction
//! must preserve.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;

use super::ikey::SeqNo;

/// The live snapshots of a tree.
#[derive(Debug, Default)]
pub(crate) struct SnapshotList {
    pinned: Mutex<BTreeMap<SeqNo, usize>>,
}

impl SnapshotList {
    /// Pins the sequence number `current()` returns, reading it under the
    /// list's lock so that a concurrent [`SnapshotList::smallest`] either
    /// sees the new snapshot or computed its bound from an older (smaller)
    /// sequence number.
    pub(crate) fn acquire(self: &Arc<Self>, current: impl FnOnce() -> SeqNo) -> Snapshot {
        let mut pinned = self.pinned.lock();
        let seq = current();
        *pinned.entry(seq).or_insert(0) += 1;
        drop(pinned);
        Snapshot {
            seq,
            list: Arc::clone(self),
        }
    }

    /// The smallest sequence number a reader may read at: the oldest pinned
    /// one, or `current()` (read under the lock, see [`SnapshotList::acquire`]).
    pub(crate) fn smallest(&self, current: impl FnOnce() -> SeqNo) -> SeqNo {
        let pinned = self.pinned.lock();
        let now = current();
        pinned.keys().next().map_or(now, |&s| s.min(now))
    }

    pub(crate) fn count(&self) -> usize {
        self.pinned.lock().values().sum()
    }

    fn release(&self, seq: SeqNo) {
        let mut p = self.pinned.lock();
        if let Some(n) = p.get_mut(&seq) {
            *n -= 1;
            if *n == 0 {
                p.remove(&seq);
            }
        }
    }
}

/// A consistent point-in-time view of a tree: reads at a snapshot see every
/// write acknowledged before it was taken and none after. Compaction keeps
/// the versions a live snapshot needs. Released when dropped (RocksDB:
/// `DB::GetSnapshot` / `ReleaseSnapshot`).
#[derive(Debug)]
pub struct Snapshot {
    seq: SeqNo,
    list: Arc<SnapshotList>,
}

impl Snapshot {
    /// The pinned sequence number.
    pub fn seq(&self) -> SeqNo {
        self.seq
    }

    pub(crate) fn belongs_to(&self, list: &Arc<SnapshotList>) -> bool {
        Arc::ptr_eq(&self.list, list)
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        self.list.release(self.seq);
    }
}
