//! The log-structured merge tree: a byte-keyed, crash-safe key-value store
//! that knows nothing of items or tables.
//!
//! - [`Tree`]: open, write ([`WriteBatch`]), get, range scans (both
//!   directions), snapshots, flush, compaction, statistics, close.
//! - The durable log: [`Tree::read_log`] returns committed batches
//!   ([`LogRecord`]: puts, deletes and WAL-only log data) by WAL position,
//!   for consumers such as secondary-index maintainers.
//! - Internal keys (`ikey`) order versions newest first inside bytewise
//!   SSTables (`docs/internal-keys.md`); the manifest (`docs/manifest-format.md`)
//!   records the live tables.
//! - [`SharedResources`]: a block cache, background pool and memtable budget
//!   that many trees share.

mod batch;
mod coding;
mod compaction;
mod cursor;
mod error;
mod flush;
mod ikey;
mod levels;
mod log_reader;
mod manifest;
mod memtable;
mod open;
mod options;
mod pool;
mod rate_limiter;
mod recovery;
mod shared;
mod skiplist;
mod snapshot;
mod stats;
mod super_version;
mod table_cursor;
mod thread_priority;
mod tree;
mod tree_iter;
pub(crate) mod verify;
mod version;

pub use batch::{MAX_KEY_LEN, MAX_VALUE_LEN, WriteBatch};
pub use error::{Error, Result};
pub use ikey::{MAX_SEQNO, SeqNo, ValueKind};
pub use levels::SstFileInfo;
pub use log_reader::{DurableHook, LogEntry, LogRecord};
pub use manifest::{MANIFEST_MAGIC, MANIFEST_VERSION};
pub use options::{TreeOptions, WalRetentionFloor};
pub use pool::{BackgroundPool, LOW_PRIORITY_NICE};
pub use rate_limiter::RateLimiter;
pub use recovery::{ManifestTail, TreeRecoveryReport, WalLossPolicy};
pub use shared::{SharedResources, WriteBufferManager};
pub use snapshot::Snapshot;
pub use stats::TreeStats;
pub use strata_wal::{DropKind, DroppedRange, Durability, Lsn, RecoveryMode, RecoveryReport};
pub(crate) use tree::PendingWrite;
pub use tree::Tree;
pub use tree_iter::TreeIter;
pub use verify::{Problem, ProblemKind, Severity, VerifyReport};
pub use version::NUM_LEVELS;
