//! [`DbError`]: everything the table layer and the `Db` handle report.
//!
//! Validation errors (a bad item, key, expression or request) are reported before
//! anything is written. Their `Display` follows DynamoDB's `ValidationException`
//! wording where DynamoDB has one, so that a server can pass it through.

use std::io;
use std::path::PathBuf;

use strata_item::expr::ExprError;
use strata_item::{Item, KeyError, KeyType, ValidationError};

/// Errors of the table layer and the [`crate::Db`] handle.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// The item breaks DynamoDB's item rules, or its key does not fit the table's key
    /// schema (missing, wrongly typed, empty or too large key attributes; items over
    /// 400 KB; empty sets; nesting deeper than 32 levels).
    #[error(transparent)]
    Validation(#[from] ValidationError),

    /// A key given on its own (`get_item`, `delete_item`, `update_item`, an exclusive
    /// start key) does not fit the key schema.
    #[error(transparent)]
    Key(#[from] KeyError),

    /// An expression failed to parse or check, or an update could not be applied to
    /// the item (DynamoDB's message).
    #[error(transparent)]
    Expression(#[from] ExprError),

    /// A secondary index's key attribute has the wrong type (DynamoDB's message, written
    /// once, in [`strata_index::DeriveError`]).
    #[error("{}", strata_index::DeriveError::IndexKeyTypeMismatch {
        index: index.clone(),
        attribute: attribute.clone(),
        expected: *expected,
        actual,
    })]
    IndexKeyTypeMismatch {
        /// The index.
        index: String,
        /// The index's sort key attribute.
        attribute: String,
        /// The type it is declared with.
        expected: KeyType,
        /// The type the item has.
        actual: &'static str,
    },

    /// A secondary index's key attribute is an empty string or binary, or too long
    /// (DynamoDB's message, written once, in [`strata_index::DeriveError`]).
    #[error("{}", strata_index::DeriveError::IndexKeyInvalid {
        index: index.clone(),
        attribute: attribute.clone(),
        reason: reason.clone(),
    })]
    IndexKeyInvalid {
        /// The index.
        index: String,
        /// The index's sort key attribute.
        attribute: String,
        /// What is wrong with the value.
        reason: String,
    },

    /// The item plus its entry in a local secondary index is over 400 KB.
    #[error(
        "Item size to update has exceeded the maximum allowed size: the item ({item_size} bytes) plus its entry in index {index} ({entry_size} bytes) exceeds 409600 bytes"
    )]
    ItemTooLargeWithIndex {
        /// The index.
        index: String,
        /// The item's size.
        item_size: usize,
        /// The index entry's size.
        entry_size: usize,
    },

    /// A request that DynamoDB would reject with a `ValidationException` not covered
    /// by the variants above (an exclusive start key outside the query, `Limit` of 0,
    /// a segment outside `total_segments`, `ReturnValues` not allowed here, an update
    /// of a key attribute, ...).
    #[error("{message}")]
    InvalidRequest {
        /// DynamoDB's message.
        message: String,
    },

    /// A batch has more requests than DynamoDB allows.
    #[error(
        "Too many items requested for the {operation} call: {count} given, at most {max} allowed"
    )]
    TooManyBatchItems {
        /// `BatchGetItem` or `BatchWriteItem`.
        operation: &'static str,
        /// How many were given.
        count: usize,
        /// The limit.
        max: usize,
    },

    /// A batch names the same item twice.
    #[error("Provided list of item keys contains duplicates (table {table})")]
    DuplicateBatchKeys {
        /// The table.
        table: String,
    },

    /// The write would take an item collection (the items of one partition key
    /// value and their local secondary index entries) of a table with local
    /// secondary indexes over its size limit. Nothing was written.
    #[error(
        "Item collection size limit exceeded: the collection of a partition key of table {table} would take {would_be} bytes, over the limit of {limit} bytes"
    )]
    ItemCollectionSizeLimitExceeded {
        /// The table.
        table: String,
        /// The collection's size the write would have made, in stored bytes.
        would_be: u64,
        /// The limit ([`crate::DbOptions::item_collection_limit_bytes`]).
        limit: u64,
    },

    /// The condition of a conditional write was false; nothing was written.
    #[error("The conditional request failed (table {table})")]
    ConditionalCheckFailed {
        /// The table.
        table: String,
        /// The item as it was when the condition failed, when the write asked for it
        /// with `return_values_on_condition_check_failure(AllOld)` and there was one
        /// (DynamoDB's `Item` of a `ConditionalCheckFailedException`).
        item: Option<Item>,
    },

    /// [`crate::Db::ensure_table`] found the table with a different schema than the
    /// spec; nothing was changed.
    #[error("Table {table} exists with a different schema: {}", differences.join("; "))]
    TableSpecMismatch {
        /// The table.
        table: String,
        /// Every difference, one sentence each ("partitions: the table has 4, the
        /// spec 8").
        differences: Vec<String>,
    },

    /// No such table.
    #[error("Requested resource not found: Table: {table} not found")]
    TableNotFound {
        /// The name asked for.
        table: String,
    },

    /// `create_table` of a name that exists.
    #[error("Table already exists: {table}")]
    TableExists {
        /// The name.
        table: String,
    },

    /// A query names an index the table does not have.
    #[error("The table does not have the specified index: {index} (table {table})")]
    IndexNotFound {
        /// The table.
        table: String,
        /// The index asked for.
        index: String,
    },

    /// `create_table` was given a spec DynamoDB would refuse. The message shows at
    /// most 255 characters of the name (a name breaking the rule may be any length).
    #[error("invalid table spec for {:?}: {reason}", super::names::shown(.table))]
    InvalidTableSpec {
        /// The table's name as given.
        table: String,
        /// What is wrong.
        reason: String,
    },

    /// The operation exceeded a capacity budget of the table — its own, a partition's
    /// or a global secondary index's; read or write (DynamoDB's
    /// `ProvisionedThroughputExceededException` / `ThrottlingException`) — or the
    /// user's [`crate::CapacityMeter`] refused it. Nothing was written; retry after
    /// `retry_after` (see `docs/capacity.md`).
    #[error("throughput exceeded on table {table}: {reason}")]
    Throttled {
        /// The table.
        table: String,
        /// The budget that refused the operation.
        budget: crate::capacity::Budget,
        /// Whether it was the read or the write budget.
        kind: crate::capacity::OpKind,
        /// How long until the budget would admit the operation (at its current
        /// rate, with nothing else competing); zero when a meter refused.
        retry_after: std::time::Duration,
        /// What was exceeded, in words.
        reason: String,
    },

    /// The table's GSIs were being changed by [`crate::Db::update_table`] when the
    /// operation started (DynamoDB's `ResourceInUseException`); nothing was done, and
    /// the operation can be retried. [`crate::Table`] handles wait for the change
    /// instead; only operations that looked the table up just before it started can
    /// see this.
    #[error("table {table} is being updated; retry the operation")]
    TableUpdating {
        /// The table.
        table: String,
    },

    /// Base writes to a partition are stopped because a global secondary index has
    /// fallen too far behind (`DbOptions::index_pressure`'s stop bounds) and did not
    /// catch up within the bounded wait; nothing was written. DynamoDB throttles base
    /// writes the same way for a GSI that cannot keep up. Retry later.
    #[error(
        "writes to table {table} partition {partition} are throttled: index {index} is {lag_records} records ({lag_bytes} bytes) behind"
    )]
    IndexBackpressure {
        /// The table.
        table: String,
        /// The base partition.
        partition: u32,
        /// The index that is behind.
        index: String,
        /// Its unapplied records in that partition.
        lag_records: u64,
        /// Its unapplied bytes in that partition.
        lag_bytes: u64,
    },

    /// Another `Db` (in this process or another) has the directory open.
    #[error(
        "the database is in use by another process or Db handle (its lock file {path} is held): {source}"
    )]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// What the file system said.
        source: io::Error,
    },

    /// The directory has no database and `create_if_missing` is false.
    #[error("no database at {path} (no CATALOG file) and create_if_missing is false")]
    NotFound {
        /// The directory.
        path: PathBuf,
    },

    /// The `Db` was closed.
    #[error("the database is closed")]
    Closed,

    /// The catalog file is damaged: bad magic, checksum, or structure.
    #[error("catalog {path} is corrupt at offset {offset}: {reason}")]
    CatalogCorrupt {
        /// The catalog file.
        path: PathBuf,
        /// Byte offset of the problem.
        offset: u64,
        /// What is wrong.
        reason: String,
    },

    /// A table's tags file (`TAGS`, `docs/tags-format.md`) is damaged: bad magic,
    /// version, checksum or structure.
    #[error("tags file {path} is corrupt at offset {offset}: {reason}")]
    TagsCorrupt {
        /// The tags file.
        path: PathBuf,
        /// Byte offset of the problem.
        offset: u64,
        /// What is wrong.
        reason: String,
    },

    /// The catalog was written by a newer (or unknown) format version.
    #[error("catalog {path} has format version {found}; this build reads version {supported}")]
    CatalogVersion {
        /// The catalog file.
        path: PathBuf,
        /// Version in the file.
        found: u32,
        /// Version this build understands.
        supported: u32,
    },

    /// A stored item or index entry could not be decoded.
    #[error("corrupt data in table {table} partition {partition}: {reason}")]
    Corruption {
        /// The table.
        table: String,
        /// The partition.
        partition: u32,
        /// What is wrong (with the key, hex-encoded, where known).
        reason: String,
    },

    /// The partition's LSM tree failed (I/O, corruption, a poisoned WAL, ...).
    #[error("storage error in table {table} partition {partition}: {source}")]
    Storage {
        /// The table.
        table: String,
        /// The partition.
        partition: u32,
        /// The tree's error.
        source: crate::lsm::Error,
    },

    /// A global secondary index's partition tree failed.
    #[error(
        "storage error in index {index} of table {table}, index partition {partition}: {source}"
    )]
    IndexStorage {
        /// The table.
        table: String,
        /// The index.
        index: String,
        /// The index partition.
        partition: u32,
        /// The tree's error (boxed: keeps `DbError` small).
        source: Box<crate::lsm::Error>,
    },

    /// Maintaining a global secondary index failed (reading the base log, decoding a
    /// delta, writing the index).
    #[error("maintaining index {index} of table {table}: {reason}")]
    IndexMaintenance {
        /// The table.
        table: String,
        /// The index.
        index: String,
        /// What failed.
        reason: String,
    },

    /// [`crate::Db::wait_for_indexes`] gave up: an index had not caught up in time.
    #[error(
        "index {index} of table {table} did not catch up within {timeout_ms} ms: {behind} base records not applied yet"
    )]
    IndexWaitTimeout {
        /// The table.
        table: String,
        /// The first index found behind.
        index: String,
        /// The timeout.
        timeout_ms: u64,
        /// Base records (summed over base partitions) it had not applied.
        behind: u64,
    },

    /// An async call (`AsyncDb`/`AsyncTable`, cargo feature `tokio`) did not run: the
    /// tokio runtime shut down before its blocking task started. Nothing was read or
    /// written.
    #[error("the operation did not run: the tokio runtime shut down before it started")]
    RuntimeShutdown,

    /// A file-system operation of the table layer failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

impl DbError {
    /// An [`DbError::InvalidRequest`] with DynamoDB's message.
    pub(crate) fn invalid(message: impl Into<String>) -> DbError {
        DbError::InvalidRequest {
            message: message.into(),
        }
    }

    /// An [`DbError::Io`] on `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> DbError {
        DbError::Io {
            path: path.into(),
            source,
        }
    }

    /// True for errors that mean "the request is wrong" (DynamoDB's
    /// `ValidationException`), as opposed to conditions of the data or the system.
    pub fn is_validation(&self) -> bool {
        matches!(
            self,
            DbError::Validation(_)
                | DbError::Key(_)
                | DbError::Expression(_)
                | DbError::IndexKeyTypeMismatch { .. }
                | DbError::IndexKeyInvalid { .. }
                | DbError::ItemTooLargeWithIndex { .. }
                | DbError::InvalidRequest { .. }
                | DbError::TooManyBatchItems { .. }
                | DbError::DuplicateBatchKeys { .. }
                | DbError::IndexNotFound { .. }
                | DbError::InvalidTableSpec { .. }
        )
    }
}
