//! Strata's database engine. For now: the byte-keyed LSM tree ([`lsm`]);
//! tables, queries and the `Db` handle build on it.

pub mod lsm;

pub use lsm::{Error, Problem, ProblemKind, Severity, Tree, TreeOptions, VerifyReport, WriteBatch};

pub mod bench_items;
pub mod capacity;
mod catalog;
mod db;
mod gsi;
mod recovery_report;
pub mod table;
mod verify;

pub use capacity::{
    CapacityOptions, CapacityStats, Clock, ManualClock, OnDemandScaling, OnDemandThroughput,
    ProvisionedThroughput,
};
pub use db::{Db, DbOptions, IN_MEMORY_PATH, TableUpdate};
pub use gsi::backfill::BackfillPage;
pub use gsi::check::{IndexDifference, IndexVerifyReport, MAX_LISTED_DIFFERENCES};
pub use gsi::status::{BackfillStatus, GsiDescription, IndexStatus};
pub use recovery_report::{DbRecoveryReport, PartitionRecovery};
pub use strata_index::PressureBounds;
pub use table::{
    BatchGetOutput, BatchGetRequest, BatchWriteOutput, CapacityMeter, CapacityMode, Change,
    ChangeSink, ConditionInput, ConsumedCapacity, DbError, DeleteOptions, DeleteOutput, GetOptions,
    GetOutput, GsiSpec, IndexProjection, ItemIter, KeyConditionInput, KeyInput, LsiSpec, PageIter,
    ProjectionInput, PutOptions, PutOutput, QueryOptions, QueryOutput, ReturnValues,
    ReturnValuesOnConditionCheckFailure, ScanOptions, ScanOutput, Select, Table, TableDescription,
    TableDurability, TableSpec, UpdateInput, UpdateOptions, UpdateOutput, WriteRequest,
};
pub use verify::verify_dir;

/// The README's embedding example, compiled as a doctest so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeExample;
