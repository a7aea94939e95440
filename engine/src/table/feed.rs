//! The change feed of a partition: a [`ChangeSink`] sees every item change of every
//! partition, in the order the partition applied them.
//!
//! This is the place where global secondary indexes (and streams) will attach. Nothing
//! in the engine consumes it yet; a `Db` without a sink pays nothing.

use std::fmt::Debug;

use strata_item::{Item, PrimaryKey};

/// One applied item change.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    /// The table.
    pub table: &'a str,
    /// The table's id.
    pub table_id: u64,
    /// The partition that applied the change.
    pub partition: u32,
    /// The sequence number the partition's tree gave the write batch holding the change
    /// (several changes of one `batch_write_item` share one).
    pub seqno: u64,
    /// The item's primary key.
    pub key: &'a PrimaryKey,
    /// The item before (`None`: it did not exist).
    pub old: Option<&'a Item>,
    /// The item after (`None`: deleted).
    pub new: Option<&'a Item>,
}

/// Receives item changes.
///
/// [`on_change`](ChangeSink::on_change) is called **under the partition's write lock**,
/// after the change is durable as the table's durability promises and visible to
/// readers, once per changed item, in the partition's write order. So for one
/// partition the calls are serialised and ordered by `seqno`; different partitions call
/// concurrently. The sink must be quick and must not call back into the same table's
/// write path (it would deadlock on the partition lock); a real consumer queues the
/// change and returns. Reads of any table from the sink are fine (they fail at once
/// with `TableNotFound` or `Closed` once the table is being deleted or the database
/// closed). `create_table`, `delete_table` and `Db::close` called from the sink fail
/// with [`DbError::InvalidRequest`](crate::DbError::InvalidRequest): they would wait
/// for the operation that is calling the sink.
/// Writes that change nothing (a failed condition) are not reported.
pub trait ChangeSink: Send + Sync + Debug {
    /// One change was applied.
    fn on_change(&self, change: &Change<'_>);
}
