//! Tree statistics: write and space amplification, stalls, cache use.

use std::sync::atomic::{AtomicU64, Ordering};

use super::version::NUM_LEVELS;

/// A snapshot of a tree's counters (RocksDB: `DB::GetProperty` /
/// `rocksdb.stats`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TreeStats {
    /// Bytes of keys and values the user wrote (puts and deletes).
    pub user_bytes_written: u64,
    /// Bytes of WAL records written.
    pub wal_bytes_written: u64,
    /// Bytes of SSTables written by flushes.
    pub flush_bytes_written: u64,
    /// Bytes of SSTables written by compactions.
    pub compaction_bytes_written: u64,
    /// Bytes of SSTables read by compactions.
    pub compaction_bytes_read: u64,
    /// Number of memtable flushes completed.
    pub flushes: u64,
    /// Number of compactions completed (trivial moves included).
    pub compactions: u64,
    /// Compactions that only moved a file to the next level.
    pub trivial_moves: u64,
    /// Highest level any compaction wrote to.
    pub max_compaction_output_level: u64,
    /// Bytes of live SSTables (in the current version).
    pub live_sst_bytes: u64,
    /// Bytes of all SSTable files on disk, including obsolete ones still
    /// held by readers.
    pub total_sst_bytes: u64,
    /// Number of files per level.
    pub files_per_level: [u64; NUM_LEVELS],
    /// Bytes per level.
    pub bytes_per_level: [u64; NUM_LEVELS],
    /// Writes that were delayed by the L0 slowdown trigger.
    pub slowdown_writes: u64,
    /// Writes that had to wait (memtable count or L0 stop trigger).
    pub stopped_writes: u64,
    /// Total microseconds writers spent delayed or stopped.
    pub stall_micros: u64,
    /// Block cache hits and misses (of the cache this tree uses, which may
    /// be shared).
    pub block_cache_hits: u64,
    /// See `block_cache_hits`.
    pub block_cache_misses: u64,
    /// Bytes of memtables (active and immutable).
    pub memtable_bytes: u64,
    /// Number of immutable memtables waiting to be flushed.
    pub immutable_memtables: u64,
    /// The last sequence number assigned.
    pub last_seq: u64,
    /// Live snapshots.
    pub live_snapshots: u64,
    /// WAL file fsyncs since the tree opened (group commits, background
    /// syncs, rotations): with concurrent `Sync` writers, well below one per
    /// write.
    pub wal_syncs: u64,
    /// WAL segments started since the tree opened (one per sealed memtable).
    pub wal_segments_created: u64,
    /// Of those, how many reused a retired segment's file
    /// ([`TreeOptions::wal_recycle_segments`](super::TreeOptions::wal_recycle_segments)).
    pub wal_segments_recycled: u64,
}

impl TreeStats {
    /// (flush + compaction bytes written) / user bytes written; 0 before
    /// any write.
    pub fn write_amplification(&self) -> f64 {
        if self.user_bytes_written == 0 {
            return 0.0;
        }
        (self.flush_bytes_written + self.compaction_bytes_written) as f64
            / self.user_bytes_written as f64
    }

    /// Total SST bytes on disk / bytes of the live version's last level
    /// (an estimate of the live data size, as RocksDB reports it); 0 when
    /// there is nothing on disk.
    pub fn space_amplification(&self) -> f64 {
        let last = self
            .bytes_per_level
            .iter()
            .rev()
            .find(|&&b| b > 0)
            .copied()
            .unwrap_or(0);
        if last == 0 {
            return 0.0;
        }
        self.total_sst_bytes as f64 / last as f64
    }
}

/// The live counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub user_bytes: AtomicU64,
    pub wal_bytes: AtomicU64,
    pub flush_bytes: AtomicU64,
    pub compaction_bytes: AtomicU64,
    pub compaction_read_bytes: AtomicU64,
    pub flushes: AtomicU64,
    pub compactions: AtomicU64,
    pub trivial_moves: AtomicU64,
    pub max_output_level: AtomicU64,
    pub slowdowns: AtomicU64,
    pub stops: AtomicU64,
    pub stall_micros: AtomicU64,
    /// Bytes of SST files on disk (added on create, subtracted on delete).
    pub sst_bytes_on_disk: std::sync::Arc<AtomicU64>,
}

impl Counters {
    pub(crate) fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }
}
