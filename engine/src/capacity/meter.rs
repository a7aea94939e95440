//! The user-pluggable [`CapacityMeter`] hook: told about every operation before it
//! runs and what it consumed after. The built-in token buckets ([`super::TableCapacity`])
//! enforce capacity on their own; a meter sees the same operations on top of them.

use std::fmt::Debug;

use super::units::ConsumedCapacity;

/// Whether an operation reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// `get_item`, `query`, `scan`, `batch_get_item`.
    Read,
    /// `put_item`, `update_item`, `delete_item`, `batch_write_item`.
    Write,
}

/// What the meter is told about an operation.
#[derive(Debug, Clone, Copy)]
pub struct OpInfo<'a> {
    /// The table.
    pub table: &'a str,
    /// The table's id (stable for its life; a re-created table gets a new one).
    pub table_id: u64,
    /// The partition, for single-partition operations (`None` for scans).
    pub partition: Option<u32>,
    /// Read or write.
    pub kind: OpKind,
}

/// A user hook on the point where capacity is charged, in the read and the write paths.
///
/// The engine calls [`admit`](CapacityMeter::admit) before an operation touches
/// storage (an error rejects it, with nothing done) and
/// [`consumed`](CapacityMeter::consumed) once it knows the units (also when a
/// conditional write failed, which DynamoDB charges too). The default implementation
/// ([`UnmeteredCapacity`]) admits everything.
///
/// The table's own token buckets (its billing mode, see `docs/capacity.md`) are
/// enforced whatever the meter says: a meter can refuse more, never less. `admit` runs
/// before the built-in check; `consumed` only for operations the buckets let through
/// (a write they throttled consumed nothing).
///
/// Both are called inside the operation (the table is held open, and `consumed` of a
/// write runs under the partition lock): they must be quick. They may read tables;
/// `create_table`, `delete_table` and `Db::close` called from them fail with
/// [`DbError::InvalidRequest`](crate::DbError::InvalidRequest) instead of waiting for
/// the operation that calls them.
pub trait CapacityMeter: Send + Sync + Debug {
    /// May this operation run now?
    ///
    /// # Errors
    /// A reason to refuse it, reported to the caller as [`crate::DbError::Throttled`].
    fn admit(&self, op: &OpInfo<'_>) -> Result<(), String> {
        let _ = op;
        Ok(())
    }

    /// The operation consumed `units`.
    fn consumed(&self, op: &OpInfo<'_>, units: &ConsumedCapacity) {
        let _ = (op, units);
    }
}

/// A meter that admits everything and records nothing (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct UnmeteredCapacity;

impl CapacityMeter for UnmeteredCapacity {}
