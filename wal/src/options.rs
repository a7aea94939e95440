//! Options and the durability and recovery settings.

use std::sync::Arc;
use std::time::Duration;

use strata_fs::FileSystem;

use crate::WalSyncer;

/// How durable an append is when it returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Durability {
    /// Returns once the record is written and fsynced (`fdatasync`): it
    /// survives a power loss. Concurrent `Sync` appends share one fsync
    /// (group commit). RocksDB: `WriteOptions::sync = true`.
    #[default]
    Sync,
    /// Returns once the record is written to the operating system (it survives
    /// a crash of this process but not a power loss); a background thread
    /// fsyncs every [`WalOptions::buffered_sync_interval`]
    /// (see [`WalSyncer`]).
    /// RocksDB: `sync = false`, with `wal_bytes_per_sync`-like background syncing.
    Buffered,
    /// Returns once the record is in this process's in-memory write buffer.
    /// The buffer is handed to the operating system by the next append with
    /// `Buffered` or `Sync` durability, by [`Wal::sync`](crate::Wal::sync),
    /// [`Wal::close`](crate::Wal::close) or dropping the log, by the
    /// background syncer's next tick (every
    /// [`WalOptions::buffered_sync_interval`], which also fsyncs), by
    /// [`Wal::iter_from`](crate::Wal::iter_from), by a segment rotation, or by
    /// this very append when the buffer then holds at least
    /// [`WalOptions::write_buffer_size`] bytes. Until then a crash of the
    /// process loses it (and every `None` record after it, never one before).
    None,
}

/// What recovery does with damaged or incomplete data (RocksDB's
/// `WALRecoveryMode`, same names).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum RecoveryMode {
    /// A torn tail of the *last* segment (damaged or incomplete bytes after
    /// its last good record with no valid fragment after them) is cut off
    /// (the file is truncated) and reported in the
    /// [`RecoveryReport`](crate::RecoveryReport). Damage followed by valid
    /// data, and damage anywhere but the last segment's tail, is corruption:
    /// an error naming the segment and offset, nothing changed on disk. This
    /// is what a power loss during unsynced writes leaves.
    #[default]
    TolerateCorruptedTail,
    /// Any damage, including a torn tail, is an error; nothing is changed
    /// on disk.
    AbsoluteConsistency,
    /// Recovery stops at the first problem in any segment: everything
    /// before it is kept, the damaged segment is truncated there and every
    /// later segment is deleted. Each drop is reported.
    PointInTime,
    /// Salvage: damaged records are skipped and the records after them kept.
    /// Reading resumes at the next valid record start in the segment (or the
    /// next segment); each skipped range is reported as
    /// [`DropKind::Corruption`](crate::DropKind::Corruption) and the records
    /// kept after damage are counted in
    /// [`RecoveryReport::salvaged_records`](crate::RecoveryReport::salvaged_records).
    /// A torn tail is cut as in `TolerateCorruptedTail`. Damaged segment
    /// headers and LSN gaps between segments that no skipped range explains
    /// are still errors. The damaged bytes stay in their segment (appends go
    /// to a new segment), so until the caller has moved the records elsewhere
    /// and deleted the segment with [`Wal::truncate_before`](crate::Wal::truncate_before),
    /// every other mode refuses to open the log. RocksDB:
    /// `kSkipAnyCorruptedRecords`.
    SkipCorruptedRecords,
}

/// Options for [`Wal::open`](crate::Wal::open).
#[derive(Debug, Clone)]
pub struct WalOptions {
    /// The file system all I/O goes through. Default: the real one.
    pub fs: Arc<dyn FileSystem>,
    /// A segment is rotated (a new file started) before the next record once
    /// it holds at least this many bytes. Records never span segments, so a
    /// segment can exceed this by one record. Default 64 MiB.
    /// RocksDB: `max_log_file_size`.
    pub segment_size: u64,
    /// What recovery does with corruption. Default
    /// [`RecoveryMode::TolerateCorruptedTail`]. RocksDB: `wal_recovery_mode`.
    pub recovery_mode: RecoveryMode,
    /// How often the background thread fsyncs data written with
    /// [`Durability::Buffered`] (and writes and fsyncs data appended with
    /// [`Durability::None`]). `Duration::ZERO` disables the thread; the
    /// caller then syncs. The thread starts with the first such append.
    /// Each round fsyncs what is written when it starts; records another
    /// thread is writing out at that moment are left to the next round (the
    /// thread never waits for an appender), so a record is fsynced within
    /// about two intervals of its append. Default 100 ms.
    pub buffered_sync_interval: Duration,
    /// When a [`Durability::None`] append leaves at least this many framed
    /// bytes in the in-memory buffer, that append writes the buffer to the
    /// operating system before returning. Default 1 MiB.
    pub write_buffer_size: usize,
    /// Largest record accepted by `append`; larger ones fail with
    /// [`WalError::RecordTooLarge`](crate::WalError::RecordTooLarge).
    /// Default 64 MiB.
    pub max_record_size: usize,
    /// The background syncer that fsyncs this log every
    /// `buffered_sync_interval` once it has non-`Sync` appends. Share one
    /// among many logs so they use one thread between them; `None` (the
    /// default): the log makes its own, started on its first such append.
    pub syncer: Option<Arc<WalSyncer>>,
    /// A segment file is grown in chunks of this many bytes (zeros, written
    /// up front: not `fallocate`, whose unwritten extents make every later
    /// `fdatasync` commit metadata), so that appends write inside the file
    /// and an `fdatasync` need not also commit a new file size. Once a
    /// segment is four chunks long it grows by a quarter of its size, at most
    /// four chunks at a time (1 MiB by default), so that a busy log grows
    /// (a write of zeros by the appender) less often. 0 disables
    /// preallocation. A clean close cuts the unused tail. Also the most a
    /// spare keeps (see `recycle_segments`). Default 256 KiB. RocksDB: `allow_fallocate`
    /// (RocksDB preallocates WAL files in blocks of about the write buffer
    /// size).
    pub preallocate: u64,
    /// How many retired segments to keep as spares, to be reused (renamed
    /// and overwritten) as later segments instead of creating new files:
    /// writing over a file's allocated blocks changes no file size or
    /// allocation. A spare is cut to `preallocate` bytes (when that is not
    /// 0), so spares take bounded space; the part of a new segment beyond it
    /// is preallocated as usual. Spares are deleted at a clean close. 0
    /// disables recycling. Default 1. RocksDB: `recycle_log_file_num`.
    pub recycle_segments: usize,
    /// The longest a group-commit leader waits for writers that announced a
    /// commit ([`Wal::intend`](crate::Wal::intend)) but have not appended yet,
    /// so that one fsync covers them too. The wait is adaptive: at most half
    /// the recent fsync time (waiting longer than a sync takes cannot pay),
    /// never more than this, and none at all when no other writer is in flight,
    /// so a lone writer is never delayed. `Duration::ZERO` disables gathering.
    /// Default 1 ms. PostgreSQL: `commit_delay` with `commit_siblings`;
    /// RocksDB: the write group's leader waiting for followers.
    pub group_commit_wait: Duration,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            fs: strata_fs::default_fs(),
            segment_size: 64 << 20,
            recovery_mode: RecoveryMode::default(),
            buffered_sync_interval: Duration::from_millis(100),
            write_buffer_size: 1 << 20,
            max_record_size: 64 << 20,
            syncer: None,
            preallocate: 256 << 10,
            recycle_segments: 1,
            group_commit_wait: Duration::from_millis(1),
        }
    }
}
