//! An async face on the blocking API (cargo feature `tokio`): [`AsyncDb`] and
//! [`AsyncTable`] run each call on tokio's blocking pool
//! ([`tokio::task::spawn_blocking`]) and return the same types and the same
//! [`DbError`]s as [`Db`] and [`Table`].
//!
//! # Which calls block, and why
//!
//! Every call that may touch a file or wait for another thread blocks, so every such
//! call is `async` here:
//!
//! - writes (`put_item`, `update_item`, `delete_item`, `batch_write_item`) append to
//!   the partition's write-ahead log and, for a [`TableDurability::Sync`] table, wait
//!   for its `fsync` (shared with concurrent writers of the partition: group commit);
//!   a write may also wait for a memtable flush when the memtable budget is full
//!   (a write stall) or for a global secondary index that fell behind (back-pressure);
//! - reads (`get_item`, `query`, `scan`, `batch_get_item`, the paginators) read
//!   SSTable blocks (memory-mapped: a page fault is disk I/O);
//! - table management (`create_table`, `ensure_table`, `delete_table`,
//!   `update_table`) writes and fsyncs the catalog and creates or removes directories;
//!   `update_table` and `describe_table` wait for a concurrent `update_table`;
//! - [`AsyncDb::wait_for_indexes`] waits (up to its timeout) for the GSI maintainer;
//!   [`AsyncDb::close`] flushes every memtable; [`AsyncTable::flush`] flushes one
//!   table's; [`AsyncDb::open`] recovers every partition (reads every WAL).
//!
//! Calls that only read in-memory state do not block and are reached through
//! [`AsyncDb::sync`]: [`Db::path`], [`Db::list_tables`], [`Db::capacity_stats`],
//! [`Db::recovery_report`], [`Db::shared_resources`]; [`AsyncDb::table`] is not
//! `async` either.
//!
//! The blocking pool (512 threads by default) absorbs waits; the work itself is
//! bounded by the engine's own locks (one writer per partition under its lock, the
//! fsync shared). A call whose future is dropped before it finishes still runs to its
//! end on the pool (a write dropped that way may or may not have happened, as with a
//! request that timed out); a panic inside a call resumes in the awaiting task.
//!
//! ```
//! use strata_engine::{AsyncDb, PutOptions, QueryOptions, TableSpec};
//! use strata_item::{item, KeySchema, KeyType};
//!
//! # let rt = tokio::runtime::Builder::new_multi_thread().build()?;
//! # rt.block_on(async {
//! let db = AsyncDb::open_in_memory().await?;
//! db.create_table(TableSpec::new("log", KeySchema::composite("pk", KeyType::S, "seq", KeyType::N))).await?;
//! let log = db.table("log")?;
//! for seq in 0..5 {
//!     log.put_item(item! { "pk" => "a", "seq" => seq }, PutOptions::default()).await?;
//! }
//! let mut items = log.query_iter("pk = :a", QueryOptions::default().value(":a", "a").limit(2));
//! let mut n = 0;
//! while let Some(item) = items.next().await {
//!     assert_eq!(item?.get("seq"), Some(&n.into()));
//!     n += 1;
//! }
//! assert_eq!(n, 5);
//! db.close().await?;
//! # Ok::<(), strata_engine::DbError>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod pages;

use std::path::PathBuf;
use std::time::Duration;

use strata_item::Item;

#[cfg(doc)]
use crate::TableDurability;
pub use pages::{AsyncItems, AsyncPages};

use crate::gsi::check::IndexVerifyReport;
use crate::{
    BatchGetOutput, BatchGetRequest, BatchWriteOutput, Db, DbError, DbOptions, DeleteOptions,
    DeleteOutput, GetOptions, GetOutput, KeyConditionInput, KeyInput, PutOptions, PutOutput,
    QueryOptions, QueryOutput, ScanOptions, ScanOutput, Table, TableDescription, TableSpec,
    TableUpdate, UpdateOptions, UpdateOutput, VerifyReport, WriteRequest,
};

/// Runs `f` on tokio's blocking pool and waits for it without blocking the caller's
/// worker thread. A panic in `f` resumes here; a task the runtime dropped before it
/// started (the runtime shutting down) is [`DbError::RuntimeShutdown`]; polled outside
/// a tokio runtime (where there is no blocking pool) it is
/// [`DbError::InvalidRequest`], and `f` does not run.
async fn blocking<T, F>(f: F) -> Result<T, DbError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, DbError> + Send + 'static,
{
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return Err(DbError::invalid(
            "AsyncDb and AsyncTable run their calls on tokio's blocking pool: \
             use them inside a tokio runtime (or use Db and Table directly)",
        ));
    };
    match runtime.spawn_blocking(f).await {
        Ok(out) => out,
        Err(e) => match e.try_into_panic() {
            Ok(payload) => std::panic::resume_unwind(payload),
            Err(_cancelled) => Err(DbError::RuntimeShutdown),
        },
    }
}

/// A [`Db`] whose blocking calls are `async` (cargo feature `tokio`); see the
/// [module documentation](self) for which calls block. Cheap to clone; clones share
/// the database. Use it inside a tokio runtime (any flavour: the calls use
/// [`tokio::task::spawn_blocking`]); polled elsewhere, a call fails with
/// [`DbError::InvalidRequest`] without running.
///
/// Each call is the blocking call of the same name, run on the blocking pool:
///
/// ```
/// use std::time::Duration;
/// use strata_engine::{AsyncDb, BatchGetRequest, GsiSpec, TableSpec, TableUpdate, WriteRequest};
/// use strata_item::{item, KeySchema, KeyType};
///
/// # let rt = tokio::runtime::Builder::new_multi_thread().build()?;
/// # rt.block_on(async {
/// let db = AsyncDb::open_in_memory().await?;
/// let spec = TableSpec::new("users", KeySchema::simple("id", KeyType::S));
/// db.create_table(spec.clone()).await?;
/// db.ensure_table(spec).await?; // exists with this schema: fine
/// db.batch_write_item([(
///     "users",
///     vec![
///         WriteRequest::Put(item! { "id" => "u1", "team" => "red" }),
///         WriteRequest::Put(item! { "id" => "u2", "team" => "blue" }),
///     ],
/// )])
/// .await?;
/// let got = db
///     .batch_get_item([("users", BatchGetRequest::keys([item! { "id" => "u1" }, item! { "id" => "u2" }]))])
///     .await?;
/// assert_eq!(got.responses["users"].len(), 2);
/// db.update_table("users", TableUpdate::add_gsi(GsiSpec::new("by_team", KeySchema::simple("team", KeyType::S))))
///     .await?;
/// db.wait_for_indexes("users", Duration::from_secs(30)).await?;
/// assert!(db.verify_index("users", "by_team").await?.is_clean());
/// assert_eq!(db.describe_table("users").await?.spec.name, "users");
/// assert!(db.verify().await?.is_clean());
/// db.delete_table("users").await?;
/// db.close().await?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct AsyncDb {
    db: Db,
}

impl From<Db> for AsyncDb {
    fn from(db: Db) -> AsyncDb {
        AsyncDb { db }
    }
}

impl AsyncDb {
    /// [`Db::open`] on the blocking pool (it recovers every partition: reads every
    /// WAL, replays it into memtables).
    ///
    /// # Errors
    /// As [`Db::open`].
    pub async fn open(path: impl Into<PathBuf>, opts: DbOptions) -> Result<AsyncDb, DbError> {
        let path = path.into();
        blocking(move || Db::open(path, opts))
            .await
            .map(AsyncDb::from)
    }

    /// [`Db::open_in_memory`] on the blocking pool: a fresh database that lives in
    /// memory only, for tests.
    ///
    /// # Errors
    /// As [`Db::open_in_memory`].
    pub async fn open_in_memory() -> Result<AsyncDb, DbError> {
        blocking(Db::open_in_memory).await.map(AsyncDb::from)
    }

    /// The blocking handle, for the calls that do not block (see the module
    /// documentation) and for code that runs on its own threads.
    pub fn sync(&self) -> &Db {
        &self.db
    }

    /// The blocking handle, by value.
    pub fn into_sync(self) -> Db {
        self.db
    }

    /// A handle on a table ([`Db::table`]; in-memory state only, so not `async`).
    ///
    /// # Errors
    /// As [`Db::table`].
    pub fn table(&self, name: &str) -> Result<AsyncTable, DbError> {
        self.db.table(name).map(AsyncTable::from)
    }

    /// Runs `f` with a clone of the blocking handle on the blocking pool.
    async fn run<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(Db) -> Result<T, DbError> + Send + 'static,
    {
        let db = self.db.clone();
        blocking(move || f(db)).await
    }

    /// [`Db::create_table`] (writes and fsyncs the catalog, creates directories).
    ///
    /// # Errors
    /// As [`Db::create_table`].
    pub async fn create_table(&self, spec: TableSpec) -> Result<TableDescription, DbError> {
        self.run(move |db| db.create_table(spec)).await
    }

    /// [`Db::ensure_table`]: creates the table if missing, checks its spec otherwise.
    ///
    /// # Errors
    /// As [`Db::ensure_table`].
    pub async fn ensure_table(&self, spec: TableSpec) -> Result<TableDescription, DbError> {
        self.run(move |db| db.ensure_table(spec)).await
    }

    /// [`Db::delete_table`] (waits for the table's operations, removes its files).
    ///
    /// # Errors
    /// As [`Db::delete_table`].
    pub async fn delete_table(&self, name: &str) -> Result<TableDescription, DbError> {
        let name = name.to_owned();
        self.run(move |db| db.delete_table(&name)).await
    }

    /// [`Db::update_table`] (closes and reopens the table's trees).
    ///
    /// # Errors
    /// As [`Db::update_table`].
    pub async fn update_table(
        &self,
        name: &str,
        update: TableUpdate,
    ) -> Result<TableDescription, DbError> {
        let name = name.to_owned();
        self.run(move |db| db.update_table(&name, update)).await
    }

    /// [`Db::describe_table`] (may wait for an `update_table` in progress).
    ///
    /// # Errors
    /// As [`Db::describe_table`].
    pub async fn describe_table(&self, name: &str) -> Result<TableDescription, DbError> {
        let name = name.to_owned();
        self.run(move |db| db.describe_table(&name)).await
    }

    /// [`Db::wait_for_indexes`]: waits until every GSI of `table` has applied every
    /// write acknowledged before the call, or `timeout` passes.
    ///
    /// # Errors
    /// As [`Db::wait_for_indexes`].
    pub async fn wait_for_indexes(&self, table: &str, timeout: Duration) -> Result<(), DbError> {
        let table = table.to_owned();
        self.run(move |db| db.wait_for_indexes(&table, timeout))
            .await
    }

    /// [`Db::verify_index`] (two scans).
    ///
    /// # Errors
    /// As [`Db::verify_index`].
    pub async fn verify_index(
        &self,
        table: &str,
        index: &str,
    ) -> Result<IndexVerifyReport, DbError> {
        let (table, index) = (table.to_owned(), index.to_owned());
        self.run(move |db| db.verify_index(&table, &index)).await
    }

    /// [`Db::verify_local_index`] (a scan of each partition).
    ///
    /// # Errors
    /// As [`Db::verify_local_index`].
    pub async fn verify_local_index(
        &self,
        table: &str,
        index: &str,
    ) -> Result<IndexVerifyReport, DbError> {
        let (table, index) = (table.to_owned(), index.to_owned());
        self.run(move |db| db.verify_local_index(&table, &index))
            .await
    }

    /// [`Db::verify`]: checks every file of the database.
    ///
    /// # Errors
    /// As [`Db::verify`].
    pub async fn verify(&self) -> Result<VerifyReport, DbError> {
        self.run(|db| db.verify()).await
    }

    /// [`Db::batch_get_item`].
    ///
    /// # Errors
    /// As [`Db::batch_get_item`].
    pub async fn batch_get_item<I, S>(&self, requests: I) -> Result<BatchGetOutput, DbError>
    where
        I: IntoIterator<Item = (S, BatchGetRequest)>,
        S: Into<String>,
    {
        let requests: Vec<(String, BatchGetRequest)> =
            requests.into_iter().map(|(n, r)| (n.into(), r)).collect();
        self.run(move |db| db.batch_get_item(requests)).await
    }

    /// [`Db::batch_write_item`].
    ///
    /// # Errors
    /// As [`Db::batch_write_item`].
    pub async fn batch_write_item<I, S>(&self, requests: I) -> Result<BatchWriteOutput, DbError>
    where
        I: IntoIterator<Item = (S, Vec<WriteRequest>)>,
        S: Into<String>,
    {
        let requests: Vec<(String, Vec<WriteRequest>)> =
            requests.into_iter().map(|(n, r)| (n.into(), r)).collect();
        self.run(move |db| db.batch_write_item(requests)).await
    }

    /// [`Db::close`] (flushes every memtable, releases the directory lock).
    ///
    /// # Errors
    /// As [`Db::close`].
    pub async fn close(&self) -> Result<(), DbError> {
        self.run(|db| db.close()).await
    }
}

/// A [`Table`] whose calls are `async` (cargo feature `tokio`), from
/// [`AsyncDb::table`] or `AsyncTable::from(table)`. Cheap to clone. Each call is
/// the blocking call of the same name (whose documentation has the details), run
/// on tokio's blocking pool:
///
/// ```
/// use strata_engine::{
///     AsyncDb, DeleteOptions, GetOptions, PutOptions, QueryOptions, ScanOptions, TableSpec,
///     UpdateOptions,
/// };
/// use strata_item::{item, KeySchema, KeyType};
///
/// # let rt = tokio::runtime::Builder::new_multi_thread().build()?;
/// # rt.block_on(async {
/// let db = AsyncDb::open_in_memory().await?;
/// db.create_table(TableSpec::new("carts", KeySchema::composite("cart", KeyType::S, "sku", KeyType::S))).await?;
/// let carts = db.table("carts")?;
/// carts.put_item(item! { "cart" => "u1", "sku" => "a", "n" => 1 }, PutOptions::default()).await?;
/// carts.put_item(item! { "cart" => "u1", "sku" => "b", "n" => 2 }, PutOptions::default()).await?;
/// carts
///     .update_item(
///         item! { "cart" => "u1", "sku" => "a" },
///         UpdateOptions::default().update("SET n = n + :one").value(":one", 1),
///     )
///     .await?;
/// let got = carts.get_item(item! { "cart" => "u1", "sku" => "a" }, GetOptions::default()).await?;
/// assert_eq!(got.item.unwrap().get_n::<i64>("n")?, 2);
/// let page = carts.query("cart = :u", QueryOptions::default().value(":u", "u1")).await?;
/// assert_eq!(page.count, 2);
/// carts.delete_item(item! { "cart" => "u1", "sku" => "b" }, DeleteOptions::default()).await?;
/// assert_eq!(carts.scan(ScanOptions::default()).await?.count, 1);
/// let mut all = carts.scan_iter(ScanOptions::default());
/// while let Some(item) = all.next().await {
///     assert_eq!(item?.get_s("sku")?, "a");
/// }
/// carts.flush().await?;
/// db.close().await?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct AsyncTable {
    table: Table,
}

impl From<Table> for AsyncTable {
    fn from(table: Table) -> AsyncTable {
        AsyncTable { table }
    }
}

impl AsyncTable {
    /// The blocking handle.
    pub fn sync(&self) -> &Table {
        &self.table
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        self.table.name()
    }

    /// Runs `f` with a clone of the blocking handle on the blocking pool.
    async fn run<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(Table) -> Result<T, DbError> + Send + 'static,
    {
        let table = self.table.clone();
        blocking(move || f(table)).await
    }

    /// [`Table::put_item`].
    ///
    /// # Errors
    /// As [`Table::put_item`].
    pub async fn put_item(&self, item: Item, opts: PutOptions) -> Result<PutOutput, DbError> {
        self.run(move |t| t.put_item(item, opts)).await
    }

    /// [`Table::get_item`].
    ///
    /// # Errors
    /// As [`Table::get_item`].
    pub async fn get_item(
        &self,
        key: impl Into<KeyInput>,
        opts: GetOptions,
    ) -> Result<GetOutput, DbError> {
        let key = key.into();
        self.run(move |t| t.get_item(key, opts)).await
    }

    /// [`Table::update_item`].
    ///
    /// # Errors
    /// As [`Table::update_item`].
    pub async fn update_item(
        &self,
        key: impl Into<KeyInput>,
        opts: UpdateOptions,
    ) -> Result<UpdateOutput, DbError> {
        let key = key.into();
        self.run(move |t| t.update_item(key, opts)).await
    }

    /// [`Table::delete_item`].
    ///
    /// # Errors
    /// As [`Table::delete_item`].
    pub async fn delete_item(
        &self,
        key: impl Into<KeyInput>,
        opts: DeleteOptions,
    ) -> Result<DeleteOutput, DbError> {
        let key = key.into();
        self.run(move |t| t.delete_item(key, opts)).await
    }

    /// [`Table::query`]: one page.
    ///
    /// # Errors
    /// As [`Table::query`].
    pub async fn query(
        &self,
        key_condition: impl Into<KeyConditionInput>,
        opts: QueryOptions,
    ) -> Result<QueryOutput, DbError> {
        let kc = key_condition.into();
        self.run(move |t| t.query(kc, opts)).await
    }

    /// [`Table::scan`]: one page.
    ///
    /// # Errors
    /// As [`Table::scan`].
    pub async fn scan(&self, opts: ScanOptions) -> Result<ScanOutput, DbError> {
        self.run(move |t| t.scan(opts)).await
    }

    /// [`Table::flush`] (writes every memtable of the table to SSTables).
    ///
    /// # Errors
    /// As [`Table::flush`].
    pub async fn flush(&self) -> Result<(), DbError> {
        self.run(|t| t.flush()).await
    }

    /// Every item a query matches, across all pages, as [`Table::query_iter`]; each
    /// page is read on the blocking pool when the items before it are used up.
    pub fn query_iter(
        &self,
        key_condition: impl Into<KeyConditionInput>,
        opts: QueryOptions,
    ) -> AsyncItems {
        AsyncItems::new(self.table.query_iter(key_condition, opts).pages())
    }

    /// Every item a scan reads, across all pages, as [`Table::scan_iter`].
    pub fn scan_iter(&self, opts: ScanOptions) -> AsyncItems {
        AsyncItems::new(self.table.scan_iter(opts).pages())
    }
}
