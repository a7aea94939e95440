//! Strata's database engine: DynamoDB's data model on a log-structured merge tree, as a
//! library.
//!
//! - [`Db`] is the handle: it opens a directory (or [`Db::open_in_memory`] for tests),
//!   creates and describes tables ([`TableSpec`]: partition and sort key, partitions,
//!   local and global secondary indexes, durability, capacity), and hands out [`Table`]s.
//! - [`Table`] has the item operations: `put_item`, `get_item`, `update_item`,
//!   `delete_item`, `query`, `scan` (with paginators `query_iter` / `scan_iter`), and
//!   [`Db`] has the batches. Items are [`strata_item::Item`]s; conditions, updates,
//!   projections and filters are DynamoDB's expression language.
//! - Every table operation fails with [`DbError`] (also exported as [`Error`]), which
//!   says what to fix (DynamoDB's messages where DynamoDB has one). [`TreeError`] is
//!   the byte-keyed tree's error, for users of [`Tree`] directly.
//! - Each table is hash-partitioned; each partition is an LSM tree ([`lsm`]: WAL,
//!   memtable, leveled SSTables with bloom filters) in its own directory. GSIs are
//!   partitioned trees of their own, maintained asynchronously from the base tables' WALs.
//!   Capacity units are charged by DynamoDB's rules and enforced by token buckets
//!   ([`capacity`]).
//!
//! The on-disk formats and the crash-safety arguments are written down in the
//! repository's `docs/` (`docs/commit.md` for how a write becomes durable and visible).
//! Calls block (they may fsync); from async code, enable the cargo feature `tokio` and use
//! `AsyncDb` / `AsyncTable` (module `asynchronous`), which run each call on tokio's
//! blocking pool. Threads, memory, disk, `tracing` events and the change feed are
//! described in the repository's `docs/embedding.md`.

pub mod lsm;

/// The error of the byte-keyed LSM tree ([`Tree`]); a table operation reports it
/// inside [`DbError::Storage`]. (It was formerly exported as `Error`, which is now
/// [`DbError`].)
pub use lsm::Error as TreeError;
pub use lsm::{Problem, ProblemKind, Severity, Tree, TreeOptions, VerifyReport, WriteBatch};
/// The crate's error: everything a [`Db`] or [`Table`] operation reports (the same
/// type as [`DbError`]).
pub use table::DbError as Error;

#[cfg(feature = "tokio")]
pub mod asynchronous;
#[cfg(feature = "tokio")]
pub use asynchronous::{AsyncDb, AsyncItems, AsyncPages, AsyncTable};

pub mod capacity;
mod catalog;
mod db;
mod framed;
mod gsi;
mod recovery_report;
pub mod table;
mod verify;

pub use capacity::{
    CapacityOptions, CapacityStats, Clock, ManualClock, OnDemandScaling, OnDemandThroughput,
    ProvisionedThroughput,
};
pub use db::{Db, DbOptions, IN_MEMORY_PATH, TableUpdate, Tags};
pub use gsi::backfill::BackfillPage;
pub use gsi::check::{IndexDifference, IndexVerifyReport, MAX_LISTED_DIFFERENCES};
pub use gsi::status::{BackfillStatus, GsiDescription, IndexStatus};
pub use recovery_report::{DbRecoveryReport, PartitionRecovery};
pub use strata_index::PressureBounds;
pub use table::{
    BatchGetOutput, BatchGetRequest, BatchWriteOutput, CapacityMeter, CapacityMode, Change,
    ChangeSink, ConditionInput, ConsumedCapacity, DEFAULT_ITEM_COLLECTION_LIMIT, DbError,
    DeleteOptions, DeleteOutput, GetOptions, GetOutput, GsiSpec, IndexProjection, ItemIter,
    ItemStats, KeyConditionInput, KeyInput, LsiSpec, PageIter, ProjectionInput, PutOptions,
    PutOutput, QueryOptions, QueryOutput, ReturnValues, ReturnValuesOnConditionCheckFailure,
    ScanOptions, ScanOutput, Select, Table, TableDescription, TableDurability, TableSpec,
    UpdateInput, UpdateOptions, UpdateOutput, WriteRequest,
};
pub use verify::verify_dir;

/// The README's embedding example, compiled as a doctest so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeExample;
