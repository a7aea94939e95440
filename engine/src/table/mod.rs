//! Tables on hash partitions: DynamoDB's item API over the LSM tree.
//!
//! Module map (one job each):
//!
//! | module | job |
//! |---|---|
//! | `spec` | [`TableSpec`], [`LsiSpec`], [`TableDescription`] and their validation |
//! | `names` | the naming rule of tables and indexes, checked before any lookup |
//! | `error` | [`DbError`] |
//! | `layout` | the partition hash and the key layout inside a partition's tree |
//! //! | `feed` | the per-partition change feed ([`ChangeSink`]) |
//! | `options` | per-operation options and results |
//! | `request` | parsing a request's expressions with shared placeholders |
//! | `gate` | admits operations until a table is deleted or closed; drains them |
//! | `core` | an open table: its partitions and hooks |
//! | `partition` | one partition's tree and its read-modify-write path |
//! | `lsi` | local secondary index entries |
//! | `write` / `read` | put, update, delete / get |
//! | `page`, `query`, `scan` | paged reads |
//! | `batch` | batch get and batch write |

mod batch;
pub(crate) mod collections;
pub(crate) mod core;
mod error;
mod feed;
pub(crate) mod gate;
pub(crate) mod layout;
mod lsi;
mod lsi_check;
pub(crate) mod names;
mod options;
pub(crate) mod page;
mod paginate;
pub(crate) mod partition;
pub(crate) mod query;
mod read;
pub(crate) mod request;
pub(crate) mod scan;
mod spec;
pub(crate) mod spec_diff;
mod stats;
mod write;

use std::sync::Arc;

use strata_item::Item;

pub use crate::capacity::{
    CapacityMeter, CapacityMode, ConsumedCapacity, OnDemandThroughput, OpInfo, OpKind,
    ProvisionedThroughput, UnmeteredCapacity,
};
pub(crate) use batch::{BatchKind, batch_get, batch_write, check_batch_shape};
pub use batch::{MAX_BATCH_GET_KEYS, MAX_BATCH_GET_RESPONSE_BYTES, MAX_BATCH_WRITE_REQUESTS};
pub use collections::DEFAULT_ITEM_COLLECTION_LIMIT;
pub use error::DbError;
pub use feed::{Change, ChangeSink};
pub(crate) use lsi_check::verify_lsi;
pub use names::{MAX_NAME_LEN, MIN_NAME_LEN};
pub use options::{
    BatchGetOutput, BatchGetRequest, BatchWriteOutput, ConditionInput, DeleteOptions, DeleteOutput,
    GetOptions, GetOutput, KeyConditionInput, KeyInput, ProjectionInput, PutOptions, PutOutput,
    QueryOptions, QueryOutput, ReturnValues, ReturnValuesOnConditionCheckFailure, ScanOptions,
    ScanOutput, Select, UpdateInput, UpdateOptions, UpdateOutput, WriteRequest,
};
pub use page::PAGE_CAP_BYTES;
pub use paginate::{ItemIter, PageIter};
pub use scan::MAX_TOTAL_SEGMENTS;
pub use spec::{
    DEFAULT_PARTITIONS, GsiSpec, IndexProjection, LsiSpec, MAX_LOCAL_SECONDARY_INDEXES,
    MAX_PARTITIONS, MAX_PROJECTED_ATTRIBUTES, TableDescription, TableDurability, TableSpec,
};
pub use stats::ItemStats;

use self::core::TableCore;
use crate::db::Db;

/// A handle on one table of a [`Db`]: the item API.
///
/// Cheap to clone, `Send + Sync`; it keeps the database open while it lives. Every
/// operation validates its input first (a bad request is an error and nothing is
/// written) and reports the capacity units it consumed.
///
/// ```
/// use strata_engine::{Db, DbOptions, PutOptions, QueryOptions, TableSpec, UpdateOptions, ReturnValues};
/// use strata_item::{item, AttributeValue, KeySchema, KeyType};
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), DbOptions::default())?;
/// db.create_table(TableSpec::new("posts", KeySchema::composite("user", KeyType::S, "ts", KeyType::N)))?;
/// let posts = db.table("posts")?;
///
/// for ts in 1..=5 {
///     posts.put_item(item! { "user" => "ada", "ts" => ts, "text" => format!("post {ts}") }, PutOptions::default())?;
/// }
///
/// // Newest three posts of one user.
/// let page = posts.query("#u = :u", QueryOptions::default()
///     .name("#u", "user").value(":u", "ada").reverse().limit(3))?;
/// let ts: Vec<_> = page.items.iter().map(|i| i.get("ts").cloned().unwrap()).collect();
/// assert_eq!(ts, vec![AttributeValue::from(5), 4.into(), 3.into()]);
/// assert!(page.last_evaluated_key.is_some());
///
/// // Atomic counter.
/// let out = posts.update_item(item! { "user" => "ada", "ts" => 1 }, UpdateOptions::default()
///     .update("ADD likes :one").value(":one", 1).return_values(ReturnValues::UpdatedNew))?;
/// assert_eq!(out.attributes, Some(item! { "likes" => 1 }));
/// assert_eq!(out.consumed_capacity.write_capacity_units, 1.0);
/// db.close()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
/// A tree's directory and its live SSTables ([`Table::partition_files`]).
pub type TreeFiles = (std::path::PathBuf, Vec<crate::lsm::SstFileInfo>);

fn tree_files(tree: &crate::lsm::Tree) -> TreeFiles {
    (tree.dir().to_path_buf(), tree.sst_files())
}

#[derive(Debug, Clone)]
pub struct Table {
    db: Db,
    core: Arc<TableCore>,
}

impl Table {
    pub(crate) fn new(db: Db, core: Arc<TableCore>) -> Table {
        Table { db, core }
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        self.core.name()
    }

    /// The table's spec when this handle was obtained ([`Db::describe_table`] gives
    /// the current one: [`Db::update_table`] may have added or removed GSIs or changed
    /// the billing mode since; operations through the handle always use the current
    /// one).
    pub fn spec(&self) -> &TableSpec {
        &self.core.spec
    }

    /// The database this table belongs to.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Writes an item, replacing any item with the same key (DynamoDB's `PutItem`).
    ///
    /// With a condition, the write happens only if the condition holds for the
    /// existing item (evaluated against an empty item when there is none); otherwise
    /// [`DbError::ConditionalCheckFailed`]. The idempotency-key pattern:
    ///
    /// ```
    /// # use strata_engine::{Db, DbOptions, DbError, PutOptions, TableSpec};
    /// # use strata_item::{item, KeySchema, KeyType};
    /// # let dir = tempfile::tempdir()?;
    /// # let db = Db::open(dir.path(), DbOptions::default())?;
    /// # db.create_table(TableSpec::new("requests", KeySchema::simple("pk", KeyType::S)))?;
    /// let requests = db.table("requests")?;
    /// let once = || PutOptions::default().condition("attribute_not_exists(pk)");
    /// requests.put_item(item! { "pk" => "req-42", "amount" => 10 }, once())?;
    /// let again = requests.put_item(item! { "pk" => "req-42", "amount" => 10 }, once());
    /// assert!(matches!(again, Err(DbError::ConditionalCheckFailed { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// Validation errors (item rules, key schema, LSI key types, expressions,
    /// `ReturnValues` other than `NONE`/`ALL_OLD`), `ConditionalCheckFailed`, storage
    /// errors.
    pub fn put_item(&self, item: Item, opts: PutOptions) -> Result<PutOutput, DbError> {
        self.with_core(|c| write::put_item(c, item, opts))
    }

    /// Reads an item by its key (DynamoDB's `GetItem`).
    ///
    /// # Errors
    /// A key not matching the schema, expression errors, storage errors.
    pub fn get_item(
        &self,
        key: impl Into<KeyInput>,
        opts: GetOptions,
    ) -> Result<GetOutput, DbError> {
        self.with_core(|c| read::get_item(c, key.into(), opts))
    }

    /// Updates (or creates) an item with an update expression (DynamoDB's
    /// `UpdateItem`). Key attributes cannot be updated.
    ///
    /// # Errors
    /// As [`Table::put_item`], plus errors applying the update to the item.
    pub fn update_item(
        &self,
        key: impl Into<KeyInput>,
        opts: UpdateOptions,
    ) -> Result<UpdateOutput, DbError> {
        self.with_core(|c| write::update_item(c, key.into(), opts))
    }

    /// Deletes an item (DynamoDB's `DeleteItem`); deleting an absent item is not an
    /// error.
    ///
    /// # Errors
    /// As [`Table::put_item`].
    pub fn delete_item(
        &self,
        key: impl Into<KeyInput>,
        opts: DeleteOptions,
    ) -> Result<DeleteOutput, DbError> {
        self.with_core(|c| write::delete_item(c, key.into(), opts))
    }

    /// Reads one page of the items (or LSI entries) with one partition key value, in
    /// sort-key order (DynamoDB's `Query`). Pass the page's `last_evaluated_key` as the
    /// next page's `exclusive_start_key`.
    ///
    /// # Errors
    /// Validation errors (key condition, filter, projection, select, start key),
    /// `IndexNotFound`, storage errors.
    pub fn query(
        &self,
        key_condition: impl Into<KeyConditionInput>,
        opts: QueryOptions,
    ) -> Result<QueryOutput, DbError> {
        self.with_core(|c| query::query(c, key_condition.into(), opts))
    }

    /// Reads one page of all items (or one segment of them) (DynamoDB's `Scan`).
    ///
    /// ```
    /// # use strata_engine::{Db, DbOptions, PutOptions, ScanOptions, TableSpec};
    /// # use strata_item::{item, KeySchema, KeyType};
    /// # let dir = tempfile::tempdir()?;
    /// # let db = Db::open(dir.path(), DbOptions::default())?;
    /// # db.create_table(TableSpec::new("things", KeySchema::simple("id", KeyType::N)))?;
    /// let things = db.table("things")?;
    /// for id in 0..100 {
    ///     things.put_item(item! { "id" => id }, PutOptions::default())?;
    /// }
    /// // Four workers, each scanning its own segment, together see everything once.
    /// let mut seen = 0;
    /// for segment in 0..4 {
    ///     let mut start = None;
    ///     loop {
    ///         let page = things.scan(ScanOptions::default().segment(segment, 4).limit(10).start_after(start))?;
    ///         seen += page.count;
    ///         start = page.last_evaluated_key;
    ///         if start.is_none() { break; }
    ///     }
    /// }
    /// assert_eq!(seen, 100);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// Validation errors (segments, filter, projection, select, start key),
    /// `IndexNotFound`, storage errors.
    pub fn scan(&self, opts: ScanOptions) -> Result<ScanOutput, DbError> {
        self.with_core(|c| scan::scan(c, opts))
    }

    /// Flushes every partition's memtables to SSTables (not needed for durability;
    /// useful before measuring or copying files).
    ///
    /// # Errors
    /// Storage errors.
    pub fn flush(&self) -> Result<(), DbError> {
        self.with_core(|core| {
            let parts = core.partitions()?;
            for p in parts.iter() {
                p.tree.flush().map_err(|e| core.storage(p.index, e))?;
            }
            Ok(())
        })
    }

    /// The storage statistics of each hash partition's tree, in partition order:
    /// memtable and table-file bytes, files per level, flushes and compactions,
    /// write stalls, WAL fsyncs and segments. GSI shadow trees are not included.
    ///
    /// ```
    /// use strata_engine::{Db, PutOptions, TableSpec};
    /// use strata_item::{KeySchema, KeyType, item};
    ///
    /// let db = Db::open_in_memory()?;
    /// db.create_table(TableSpec::new("items", KeySchema::simple("id", KeyType::S)).partitions(2))?;
    /// let t = db.table("items")?;
    /// t.put_item(item! { "id" => "a" }, PutOptions::default())?;
    /// let stats = t.partition_stats()?;
    /// assert_eq!(stats.len(), 2);
    /// assert!(stats.iter().map(|s| s.wal_syncs).sum::<u64>() >= 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`DbError::Closed`], [`DbError::TableNotFound`] when the table is gone.
    pub fn partition_stats(&self) -> Result<Vec<crate::lsm::TreeStats>, DbError> {
        self.with_core(|core| Ok(core.partitions()?.iter().map(|p| p.tree.stats()).collect()))
    }

    /// Each hash partition's tree directory and its live SSTables, in partition
    /// order, level by level: file name, size, entries, key range (the partition
    /// tree's byte keys, `docs/table-layout.md`) and sequence numbers. GSI shadow
    /// trees are not included ([`Table::gsi_partition_files`]). For tools
    /// (`strata inspect`).
    ///
    /// ```
    /// use strata_engine::{Db, PutOptions, TableSpec};
    /// use strata_item::{KeySchema, KeyType, item};
    ///
    /// let db = Db::open_in_memory()?;
    /// db.create_table(TableSpec::new("items", KeySchema::simple("id", KeyType::S)).partitions(1))?;
    /// let t = db.table("items")?;
    /// t.put_item(item! { "id" => "a" }, PutOptions::default())?;
    /// t.flush()?;
    /// let files = t.partition_files()?;
    /// assert_eq!(files.len(), 1);
    /// assert!(files[0].0.ends_with("p0000"));
    /// assert_eq!(files[0].1.len(), 1);
    /// assert_eq!(files[0].1[0].entries, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`DbError::Closed`], [`DbError::TableNotFound`] when the table is gone.
    pub fn partition_files(&self) -> Result<Vec<TreeFiles>, DbError> {
        self.with_core(|core| {
            Ok(core
                .partitions()?
                .iter()
                .map(|p| tree_files(&p.tree))
                .collect())
        })
    }

    /// Each partition of global secondary index `index`: its shadow tree's
    /// directory and live SSTables, as [`Table::partition_files`] lists them for
    /// the base table (keys: `docs/gsi-format.md`).
    ///
    /// # Errors
    /// [`DbError::IndexNotFound`] when the table has no GSI `index`;
    /// [`DbError::Closed`], [`DbError::TableNotFound`] when the table is gone.
    pub fn gsi_partition_files(&self, index: &str) -> Result<Vec<TreeFiles>, DbError> {
        self.with_core(|core| {
            let shards = core.shards()?;
            let shadow = shards
                .gsis
                .iter()
                .find(|g| g.def.name == index)
                .ok_or_else(|| DbError::IndexNotFound {
                    table: core.name().to_owned(),
                    index: index.to_owned(),
                })?;
            Ok(shadow.trees.iter().map(tree_files).collect())
        })
    }

    /// Runs `f` on the table's current core, inside an operation of it: if
    /// [`Db::update_table`] replaced the core this handle knew (or is replacing it),
    /// waits for it and uses the new one.
    fn with_core<T>(&self, f: impl FnOnce(&TableCore) -> Result<T, DbError>) -> Result<T, DbError> {
        let mut core = Arc::clone(&self.core);
        loop {
            let why = match core.enter() {
                Ok(token) => {
                    let out = f(&core);
                    drop(token);
                    return out;
                }
                Err(why) => why,
            };
            match why {
                gate::Shut::Replaced => core = self.db.replacement_of(&core)?,
                why => return Err(core.shut_error(why)),
            }
        }
    }
}
