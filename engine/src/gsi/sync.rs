//! When the maintainer syncs: the base WALs of `Buffered` tables (so that their records
//! become readable by the maintainer soon after they are written) and the GSI
//! partitions it wrote (so that the base WAL floors may move). Only the maintainer
//! thread uses it, under the table's `TableGsi::sync` lock; the decisions are pure
//! functions of the clock passed in.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// A `Buffered` base partition's unsynced records are synced by the maintainer at most
/// this often (so a `Buffered` write reaches its indexes within about this time plus a
/// maintainer tick, instead of the WAL's background sync interval).
pub(crate) const BASE_SYNC_AFTER: Duration = Duration::from_millis(10);

/// The GSI partitions the maintainer wrote are synced at most this often. Nothing
/// waits for it but the release of base WAL segments: what is applied and not yet
/// synced is still covered by the base WAL, which the floors keep.
pub(crate) const SHADOW_SYNC_EVERY: Duration = Duration::from_millis(100);

/// The maintainer's sync bookkeeping of one table.
#[derive(Debug)]
pub(crate) struct SyncState {
    /// Per base partition: when the maintainer last synced its WAL.
    base_synced: Vec<Option<Instant>>,
    /// Per GSI: the partitions written since their last sync.
    unsynced: Vec<BTreeSet<u32>>,
    /// When the GSI partitions were last synced.
    shadow_synced: Option<Instant>,
}

impl SyncState {
    /// Nothing synced yet, for `base_partitions` partitions and `gsis` indexes.
    pub(crate) fn new(base_partitions: usize, gsis: usize) -> SyncState {
        SyncState {
            base_synced: vec![None; base_partitions],
            unsynced: vec![BTreeSet::new(); gsis],
            shadow_synced: None,
        }
    }

    /// Whether to sync base partition `p` now, when it has unsynced records
    /// (`pending`); notes the sync as done when it says yes.
    pub(crate) fn base_sync_due(&mut self, p: usize, pending: bool, now: Instant) -> bool {
        let Some(last) = self.base_synced.get_mut(p) else {
            return false;
        };
        if !pending || last.is_some_and(|t| now.saturating_duration_since(t) < BASE_SYNC_AFTER) {
            return false;
        }
        *last = Some(now);
        true
    }

    /// GSI `g` wrote `partitions`.
    pub(crate) fn note_written(&mut self, g: usize, partitions: impl IntoIterator<Item = u32>) {
        if let Some(set) = self.unsynced.get_mut(g) {
            set.extend(partitions);
        }
    }

    /// Takes the partitions of GSI `g` written since their last sync.
    pub(crate) fn take_unsynced(&mut self, g: usize) -> Vec<u32> {
        self.unsynced
            .get_mut(g)
            .map(|s| std::mem::take(s).into_iter().collect())
            .unwrap_or_default()
    }

    /// Whether the written GSI partitions are due for a sync: something is unsynced and
    /// the last sync is [`SHADOW_SYNC_EVERY`] old.
    pub(crate) fn shadow_sync_due(&self, now: Instant) -> bool {
        self.unsynced.iter().any(|s| !s.is_empty())
            && self
                .shadow_synced
                .is_none_or(|t| now.saturating_duration_since(t) >= SHADOW_SYNC_EVERY)
    }

    /// The GSI partitions were synced at `now`.
    pub(crate) fn shadow_synced(&mut self, now: Instant) {
        self.shadow_synced = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_syncs_are_spaced_and_only_when_pending() {
        let t0 = Instant::now();
        let mut s = SyncState::new(2, 1);
        assert!(!s.base_sync_due(0, false, t0));
        assert!(s.base_sync_due(0, true, t0));
        assert!(!s.base_sync_due(0, true, t0 + BASE_SYNC_AFTER / 2));
        assert!(s.base_sync_due(1, true, t0 + BASE_SYNC_AFTER / 2));
        assert!(s.base_sync_due(0, true, t0 + BASE_SYNC_AFTER));
        assert!(!s.base_sync_due(5, true, t0));
    }

    #[test]
    fn shadow_syncs_wait_for_writes_and_the_interval() {
        let t0 = Instant::now();
        let mut s = SyncState::new(1, 2);
        assert!(!s.shadow_sync_due(t0));
        s.note_written(1, [3, 1, 3]);
        assert!(s.shadow_sync_due(t0));
        assert_eq!(s.take_unsynced(1), vec![1, 3]);
        assert!(s.take_unsynced(0).is_empty());
        s.shadow_synced(t0);
        s.note_written(0, [0]);
        assert!(!s.shadow_sync_due(t0 + SHADOW_SYNC_EVERY / 2));
        assert!(s.shadow_sync_due(t0 + SHADOW_SYNC_EVERY));
        assert_eq!(s.take_unsynced(0), vec![0]);
    }
}
