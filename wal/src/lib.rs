//! `strata-wal`: Strata's write-ahead log.
//!
//! Records (byte strings) are framed with a length, a type and a masked
//! CRC32 in 32 KiB blocks, LevelDB style, so a reader can resynchronise after
//! a damaged block and a record of any size spans blocks in FIRST/MIDDLE/LAST
//! fragments. Records live in numbered segment files (`000001.wal`, …) that
//! rotate at a configurable size; each segment starts with a checksummed
//! header holding a magic number, the format version and the LSN of its first
//! record. The format is specified in `docs/wal-format.md`.
//!
//! - [`Wal::append`] / [`Wal::append_batch`] with a [`Durability`]:
//!   `Sync` (fsynced), `Buffered` (written to the OS, fsynced by a background
//!   thread) or `None` (held in memory until the next write). Concurrent
//!   `Sync` appends share one fsync (group commit); see [`Wal::stats`].
//! - [`Wal::iter_from`] reads records back (and [`Wal::iter_at`] resumes
//!   where an earlier iterator stopped, see [`WalIter::position`]);
//!   [`Wal::truncate_before`] deletes segments that are no longer needed.
//! - [`Wal::synced_lsn`] says what is durable; [`Wal::set_sync_listener`]
//!   is told when the background syncer ([`WalSyncer`]) makes more durable.
//! - [`Wal::open`] recovers per the [`RecoveryMode`] and returns a
//!   [`RecoveryReport`] of what was dropped and why ([`DropKind`]): a torn
//!   tail (damage at the end of the last segment with nothing valid after
//!   it) is cut; damage followed by valid data is corruption (an error, or
//!   skipped by [`RecoveryMode::SkipCorruptedRecords`]).
//!   [`Wal::open_checked`] lets the caller veto recovery before anything on
//!   disk changes.
//! - An I/O error during an append or sync poisons the log: every later append
//!   and sync fails with [`WalError::Poisoned`] until it is reopened, so an
//!   acknowledged record is never silently lost.
//!
//! All file I/O goes through [`strata_fs::FileSystem`], so tests can simulate
//! power loss with [`strata_fs::FaultFs`].
//!
//! See [`Wal`] for an example.

mod error;
mod format;
mod gather;
mod iter;
mod options;
mod reader;
mod recovery;
mod scan;
mod segment;
mod syncer;
mod wal;

/// A log sequence number: the position of a record in the log. The first
/// record of a new log has LSN 1; LSNs are consecutive and never reused
/// while the records exist.
pub type Lsn = u64;

pub use error::WalError;
pub use format::{
    BLOCK_SIZE, FORMAT_VERSION, FRAGMENT_HEADER_SIZE, SEGMENT_HEADER_SIZE, SEGMENT_MAGIC,
};
pub use iter::{WalIter, WalPosition};
pub use options::{Durability, RecoveryMode, WalOptions};
pub use reader::{SegmentContents, SegmentEnd, encode_segment_bytes, read_segment_bytes};
pub use recovery::{DropKind, DroppedRange, RecoveryReport};
pub use scan::{
    SegmentDamage, SegmentDamageKind, SegmentScan, scan_segment_bytes, segment_header_torn,
    segment_number, spare_number,
};
pub use syncer::WalSyncer;
pub use wal::{CommitIntent, LOCK_FILE_NAME, SyncListener, Wal, WalStats};
