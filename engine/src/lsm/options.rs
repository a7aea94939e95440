//! Tree options. Each is named after, and documented with, the RocksDB option
//! it corresponds to.

use std::fmt;
use std::sync::Arc;

use strata_fs::FileSystem;
use strata_sstable::TableOptions;
use strata_wal::RecoveryMode;

use super::ikey::TRAILER_LEN;
use super::recovery::WalLossPolicy;
use super::shared::SharedResources;

/// Supplies the smallest WAL LSN some consumer outside the tree still needs
/// (for example a global secondary index that has not yet applied the
/// changes): a consumer whose checkpoint is the [`LogRecord::lsn`] of the
/// last record it applied returns `checkpoint + 1`. LSNs are the positions
/// of [`Tree::read_log`], so the floor is in the same unit.
///
/// The tree never deletes a WAL segment holding a record at or above the
/// floor (nor one holding unflushed records), through flushes and reopens:
/// segments are only deleted by a flush or by [`Tree::apply_wal_retention`],
/// which call the floor first. Return `u64::MAX` when no consumer needs
/// anything; return 0 to keep everything. It is called from flush threads
/// (with the tree's flush lock held) and from `apply_wal_retention` callers:
/// it must be quick and must not call back into the tree.
///
/// [`LogRecord::lsn`]: super::LogRecord::lsn
/// [`Tree::read_log`]: super::Tree::read_log
/// [`Tree::apply_wal_retention`]: super::Tree::apply_wal_retention
pub type WalRetentionFloor = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Options for [`Tree::open`](super::Tree::open).
#[derive(Clone)]
pub struct TreeOptions {
    /// The file system all I/O goes through (RocksDB: `Env` / `FileSystem`).
    pub fs: Arc<dyn FileSystem>,
    /// Size at which the active memtable becomes immutable and is flushed
    /// (RocksDB: `write_buffer_size`). Default 64 MiB.
    pub memtable_size: usize,
    /// Maximum number of memtables, active plus immutable, before writes stop
    /// until a flush finishes (RocksDB: `max_write_buffer_number`). Default 2.
    pub max_write_buffer_number: usize,
    /// WAL segment size (RocksDB: none; closest is `max_log_file_size`).
    /// Default 64 MiB.
    pub wal_segment_size: u64,
    /// How a damaged WAL is handled on open (RocksDB: `wal_recovery_mode`).
    /// See `docs/recovery.md`.
    pub wal_recovery_mode: RecoveryMode,
    /// Whether open refuses (changing nothing on disk) when WAL recovery
    /// would drop bytes. Default [`WalLossPolicy::Report`]. RocksDB: none
    /// (closest is `wal_recovery_mode = kAbsoluteConsistency`).
    pub wal_loss_policy: WalLossPolicy,
    /// Interval of the WAL's background sync for `Buffered` writes (RocksDB:
    /// `wal_bytes_per_sync`, by time instead of bytes). Default 100 ms.
    pub wal_buffered_sync_interval: std::time::Duration,
    /// WAL segments grow in chunks of this many preallocated bytes (written as
    /// zeros; up to four chunks at a time once a segment is four chunks
    /// long), so that a `Sync` write's `fdatasync` need not commit a new file
    /// size or allocation; 0
    /// disables it ([`strata_wal::WalOptions::preallocate`]; RocksDB:
    /// `allow_fallocate`). Also the most a spare segment keeps. Default
    /// 256 KiB.
    pub wal_preallocate: u64,
    /// Retired WAL segments kept as spares to be reused as new segments
    /// ([`strata_wal::WalOptions::recycle_segments`]; RocksDB:
    /// `recycle_log_file_num`). Default 1.
    pub wal_recycle_segments: usize,
    /// The longest a `Sync` commit's group-commit leader waits for other writers
    /// already on their way to the WAL, so that one fsync covers them too;
    /// adaptive below this bound (at most half the recent fsync time), and never
    /// a wait when no other writer is in flight. `Duration::ZERO` disables it.
    /// Default 1 ms. See `WalOptions::group_commit_wait`.
    pub wal_group_commit_wait: std::time::Duration,
    /// Number of L0 files that triggers an L0 -> L1 compaction (RocksDB:
    /// `level0_file_num_compaction_trigger`). Default 4.
    pub l0_compaction_trigger: usize,
    /// Number of L0 files at which writes are slowed down (RocksDB:
    /// `level0_slowdown_writes_trigger`). Default 20.
    pub l0_slowdown_writes_trigger: usize,
    /// Number of L0 files at which writes stop until compaction catches up
    /// (RocksDB: `level0_stop_writes_trigger`). Default 36.
    pub l0_stop_writes_trigger: usize,
    /// Delay added to each write while slowed down (RocksDB: derived from
    /// `delayed_write_rate`). Default 1 ms.
    pub slowdown_delay: std::time::Duration,
    /// Target size of L1 (RocksDB: `max_bytes_for_level_base`). Default 64 MiB.
    pub max_bytes_for_level_base: u64,
    /// Growth factor of each level's target over the one above (RocksDB:
    /// `max_bytes_for_level_multiplier`). Default 10.
    pub max_bytes_for_level_multiplier: u64,
    /// Target size of compaction output files (RocksDB:
    /// `target_file_size_base`). Default 64 MiB.
    pub target_file_size_base: u64,
    /// SSTable format options (RocksDB: `BlockBasedTableOptions`).
    /// `filter_ignore_suffix` is always set to 8 by the tree.
    pub table: TableOptions,
    /// Compaction write rate limit in bytes per second (RocksDB:
    /// `rate_limiter`). `None` = unlimited.
    pub compaction_rate_limit: Option<u64>,
    /// Verify block checksums on every read (RocksDB:
    /// `ReadOptions::verify_checksums`). Default true.
    pub verify_checksums: bool,
    /// Shared block cache, background pool and memtable budget (RocksDB:
    /// `Env` thread pools + `block_cache` + `write_buffer_manager`). `None`
    /// gives the tree private ones.
    pub shared: Option<SharedResources>,
    /// Consumers that need WAL records kept (RocksDB: none; like
    /// `WAL_ttl_seconds` but driven by a consumer). See [`WalRetentionFloor`].
    pub wal_retention_floor: Option<WalRetentionFloor>,
    /// Called with the new [`Tree::durable_lsn`](super::Tree::durable_lsn)
    /// whenever the durable part of the log grows, so that log consumers
    /// need not poll [`Tree::read_log`](super::Tree::read_log) (RocksDB:
    /// none). `None` by default.
    ///
    /// Threading: it is called with no lock of the tree held, from the
    /// thread that made the log durable: a writer after its commit, a flush
    /// thread,
    /// a caller of [`Tree::sync_wal`](super::Tree::sync_wal), `read_log` or
    /// `close`, or the WAL's background sync thread. Calls may run
    /// concurrently and arrive out of order; every call reports a position
    /// higher than any earlier call has (an advance is reported once), so
    /// treat it as a wake-up and read the position again. It must be quick
    /// (set a flag, notify a condition variable, queue a job); it may call
    /// the tree's read methods but should not write to the tree.
    pub on_durable: Option<super::log_reader::DurableHook>,
}

impl fmt::Debug for TreeOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TreeOptions")
            .field("memtable_size", &self.memtable_size)
            .field("max_write_buffer_number", &self.max_write_buffer_number)
            .field("l0_compaction_trigger", &self.l0_compaction_trigger)
            .field(
                "l0_slowdown_writes_trigger",
                &self.l0_slowdown_writes_trigger,
            )
            .field("l0_stop_writes_trigger", &self.l0_stop_writes_trigger)
            .field("max_bytes_for_level_base", &self.max_bytes_for_level_base)
            .field(
                "max_bytes_for_level_multiplier",
                &self.max_bytes_for_level_multiplier,
            )
            .field("target_file_size_base", &self.target_file_size_base)
            .field("compaction_rate_limit", &self.compaction_rate_limit)
            .field("shared", &self.shared.is_some())
            .field("wal_retention_floor", &self.wal_retention_floor.is_some())
            .field("on_durable", &self.on_durable.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for TreeOptions {
    fn default() -> Self {
        TreeOptions {
            fs: strata_fs::default_fs(),
            memtable_size: 64 << 20,
            max_write_buffer_number: 2,
            wal_segment_size: 64 << 20,
            wal_recovery_mode: RecoveryMode::default(),
            wal_loss_policy: WalLossPolicy::default(),
            wal_buffered_sync_interval: std::time::Duration::from_millis(100),
            wal_preallocate: 256 << 10,
            wal_recycle_segments: 1,
            wal_group_commit_wait: std::time::Duration::from_millis(1),
            l0_compaction_trigger: 4,
            l0_slowdown_writes_trigger: 20,
            l0_stop_writes_trigger: 36,
            slowdown_delay: std::time::Duration::from_millis(1),
            max_bytes_for_level_base: 64 << 20,
            max_bytes_for_level_multiplier: 10,
            target_file_size_base: 64 << 20,
            table: TableOptions::default(),
            compaction_rate_limit: None,
            verify_checksums: true,
            shared: None,
            wal_retention_floor: None,
            on_durable: None,
        }
    }
}

impl TreeOptions {
    /// Options with everything scaled down for tests: tiny memtables, tables
    /// and level targets so that flushes and multi-level compactions happen
    /// after a few kilobytes.
    pub fn small_for_tests(fs: Arc<dyn FileSystem>) -> TreeOptions {
        TreeOptions {
            fs,
            memtable_size: 16 << 10,
            max_write_buffer_number: 2,
            wal_segment_size: 64 << 10,
            wal_preallocate: 16 << 10,
            l0_compaction_trigger: 2,
            l0_slowdown_writes_trigger: 4,
            l0_stop_writes_trigger: 6,
            slowdown_delay: std::time::Duration::from_micros(100),
            max_bytes_for_level_base: 64 << 10,
            max_bytes_for_level_multiplier: 4,
            target_file_size_base: 16 << 10,
            table: TableOptions {
                block_size: 1024,
                ..TableOptions::default()
            },
            ..TreeOptions::default()
        }
    }

    pub(crate) fn sanitized(mut self) -> TreeOptions {
        self.memtable_size = self.memtable_size.max(1024);
        self.max_write_buffer_number = self.max_write_buffer_number.max(2);
        self.l0_compaction_trigger = self.l0_compaction_trigger.max(1);
        self.l0_slowdown_writes_trigger = self
            .l0_slowdown_writes_trigger
            .max(self.l0_compaction_trigger);
        self.l0_stop_writes_trigger = self
            .l0_stop_writes_trigger
            .max(self.l0_slowdown_writes_trigger);
        self.max_bytes_for_level_base = self.max_bytes_for_level_base.max(1024);
        self.max_bytes_for_level_multiplier = self.max_bytes_for_level_multiplier.max(2);
        self.target_file_size_base = self.target_file_size_base.max(1024);
        self.table.filter_ignore_suffix = TRAILER_LEN;
        self
    }

    /// Target size in bytes of sorted level `level` (>= 1).
    pub(crate) fn level_target(&self, level: usize) -> u64 {
        let mut t = self.max_bytes_for_level_base;
        for _ in 1..level {
            t = t.saturating_mul(self.max_bytes_for_level_multiplier);
        }
        t
    }
}
