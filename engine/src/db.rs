//! [`Db`]: the handle embedders use. A directory holding a catalog of tables, each
//! table a set of hash partitions, each partition an LSM tree.
//!
//! ```text
//! <dir>/LOCK                      held while a Db has the directory open
//! <dir>/CATALOG                   the tables (docs/catalog-format.md), replaced atomically
//! <dir>/tables/t00000001/p0000/   partition 0 of table id 1: an LSM tree (WAL, manifest, SSTables)
//! <dir>/tables/t00000001/TAGS      the tags of table id 1, if any (docs/tags-format.md)
//! ```

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::{Mutex, RwLock};
use strata_fs::{FileLock, FileSystem};

use crate::capacity::registry::CapacityRegistry;
use crate::capacity::{CapacityOptions, CapacityStats, Clock, SystemClock};
use crate::catalog::{CATALOG_FILE, Catalog, TableEntry};
use crate::gsi::Waker;
use crate::gsi::backfill::BackfillPage;
use crate::gsi::service::GsiService;
use crate::lsm::{SharedResources, TreeOptions};
use crate::recovery_report::{DbRecoveryReport, PartitionRecovery};
use crate::table::core::{Existing, Hooks, OpenEnv, TableCore};
use crate::table::gate::Shut;
use crate::table::names::validate_table_name;
use crate::table::{
    BatchGetOutput, BatchGetRequest, BatchKind, BatchWriteOutput, CapacityMeter, ChangeSink,
    DbError, Table, TableDescription, TableSpec, UnmeteredCapacity, WriteRequest, batch_get,
    batch_write, check_batch_shape,
};

mod ensure;
mod lsi_verify;
mod memory;
mod tags;
pub use tags::Tags;
pub(crate) use tags::{TAGS_FILE, decode as decode_tags};
mod update;

pub use memory::IN_MEMORY_PATH;
pub use update::TableUpdate;

/// Name of the lock file.
pub(crate) const LOCK_FILE: &str = "LOCK";
/// Directory holding one subdirectory per table.
pub(crate) const TABLES_DIR: &str = "tables";

/// Options of [`Db::open`].
#[derive(Clone, Debug)]
pub struct DbOptions {
    /// The file system all I/O goes through (default: the OS's).
    pub fs: Arc<dyn FileSystem>,
    /// Create the database if the directory has none (default true).
    pub create_if_missing: bool,
    /// Options of every partition's tree (its `fs` and `shared` are replaced by the
    /// database's).
    pub tree: TreeOptions,
    /// Block cache, background pool and memtable budget shared by all trees. `None`:
    /// made from the three sizes below.
    pub shared: Option<SharedResources>,
    /// Block cache size in bytes (default 64 MiB).
    pub block_cache_bytes: usize,
    /// Background flush and compaction workers (default: the number of cores, at
    /// least 2).
    pub background_threads: usize,
    /// Memory budget for all memtables of all trees (default 256 MiB).
    pub memtable_budget_bytes: usize,
    /// Bound on the SSTable pages kept mapped into the process, counted in its RSS
    /// (default `None`: no bound), when data blocks are read through memory maps
    /// (`pread_data_blocks: false`); see [`SharedResources::with_max_mapped_bytes`].
    pub max_mapped_bytes: Option<u64>,
    /// The nice value the background flush and compaction workers run at
    /// (Linux; default `None`: the priority of the thread that opens the
    /// database; [`LOW_PRIORITY_NICE`](crate::lsm::LOW_PRIORITY_NICE) makes
    /// them yield to the threads serving reads and writes). On Linux the
    /// workers also run under `SCHED_BATCH` whatever this says (a waking
    /// worker never preempts a running thread). Not applied to a pool
    /// passed in `shared`; see
    /// [`BackgroundPool::set_nice`](crate::lsm::BackgroundPool::set_nice).
    pub background_nice: Option<i32>,
    /// Read SSTable data blocks with `pread` into the block cache (default true), so
    /// that the process's RSS is bounded by `block_cache_bytes`; `false` reads them
    /// through memory maps, faster, but every table page read then counts in RSS.
    /// See [`SharedResources::with_pread_data_blocks`].
    pub pread_data_blocks: bool,
    /// Receives every item change (none by default; see [`ChangeSink`]).
    pub change_sink: Option<Arc<dyn ChangeSink>>,
    /// Admits operations and is told what they consumed (default: admits everything).
    pub capacity_meter: Arc<dyn CapacityMeter>,
    /// Refuse to open (changing nothing on disk) when recovery would drop data that
    /// may have been acknowledged: in a `Sync` table anything but a torn WAL tail, in
    /// a `Buffered` table any dropped WAL byte (default false: open, and report what
    /// was dropped in [`Db::recovery_report`]). Corruption is an error either way
    /// unless `tree.wal_recovery_mode` salvages. See `docs/recovery.md`.
    pub refuse_open_on_loss: bool,
    /// When a global secondary index that falls behind its base table slows, then
    /// stops, writes to the base partition it lags in (default
    /// [`strata_index::PressureBounds::default`]: slow from 20,000 records or 64 MiB,
    /// stop at 200,000 records or 512 MiB). `CREATING` indexes are exempt.
    pub index_pressure: strata_index::PressureBounds,
    /// How long a stopped base write waits for the index to catch up before it fails
    /// with [`DbError::IndexBackpressure`] (default 10 s).
    pub index_pressure_wait: std::time::Duration,
    /// How much of a base partition one step of a GSI backfill copies (default 4096
    /// items or 4 MiB; [`DbOptions::small`]: 64 items or 64 KiB, so that tests cross
    /// many pages).
    pub index_backfill_page: BackfillPage,
    /// The clock the capacity token buckets read (default the real one; tests pass
    /// a [`crate::ManualClock`] to drive refill, bursts and on-demand peaks).
    pub clock: Arc<dyn Clock>,
    /// Capacity enforcement: partition limits, burst window, adaptive capacity,
    /// on-demand scaling (see `docs/capacity.md`).
    pub capacity: CapacityOptions,
    /// The most bytes one item collection (the items of one partition key value and
    /// their local secondary index entries, as stored) may take in a table with local
    /// secondary indexes; a write that would grow a collection beyond it fails with
    /// [`DbError::ItemCollectionSizeLimitExceeded`] (default 10 GiB, DynamoDB's
    /// limit). Tables without LSIs have no limit, as in DynamoDB.
    pub item_collection_limit_bytes: u64,
    /// How old the figures of [`Table::item_stats_cached`] (what a server's
    /// `DescribeTable` reports as `ItemCount` and `TableSizeBytes`) may be before a
    /// call counts again (default 60 s; DynamoDB refreshes them about every six
    /// hours). Measured by [`DbOptions::clock`].
    pub item_stats_max_age: std::time::Duration,
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions {
            fs: strata_fs::default_fs(),
            create_if_missing: true,
            tree: TreeOptions::default(),
            shared: None,
            block_cache_bytes: 64 << 20,
            background_threads: std::thread::available_parallelism().map_or(2, |n| n.get().max(2)),
            memtable_budget_bytes: 256 << 20,
            max_mapped_bytes: None,
            background_nice: None,
            pread_data_blocks: true,
            change_sink: None,
            capacity_meter: Arc::new(UnmeteredCapacity),
            refuse_open_on_loss: false,
            index_pressure: strata_index::PressureBounds::default(),
            index_pressure_wait: std::time::Duration::from_secs(10),
            index_backfill_page: BackfillPage::default(),
            clock: Arc::new(SystemClock::new()),
            capacity: CapacityOptions::default(),
            item_collection_limit_bytes: crate::table::DEFAULT_ITEM_COLLECTION_LIMIT,
            item_stats_max_age: std::time::Duration::from_secs(60),
        }
    }
}

impl DbOptions {
    /// Options with small memtables and files (flushes and compactions after a few
    /// kilobytes), for tests and examples that want to exercise the whole tree.
    pub fn small(fs: Arc<dyn FileSystem>) -> DbOptions {
        DbOptions {
            tree: TreeOptions::small_for_tests(Arc::clone(&fs)),
            fs,
            block_cache_bytes: 1 << 20,
            background_threads: 2,
            memtable_budget_bytes: 4 << 20,
            index_backfill_page: BackfillPage {
                items: 64,
                bytes: 64 << 10,
            },
            ..DbOptions::default()
        }
    }

    /// Sets the file system.
    #[must_use]
    pub fn fs(mut self, fs: Arc<dyn FileSystem>) -> DbOptions {
        self.fs = fs;
        self
    }

    /// Sets the change sink.
    #[must_use]
    pub fn change_sink(mut self, sink: Arc<dyn ChangeSink>) -> DbOptions {
        self.change_sink = Some(sink);
        self
    }

    /// Sets the capacity meter.
    #[must_use]
    pub fn capacity_meter(mut self, meter: Arc<dyn CapacityMeter>) -> DbOptions {
        self.capacity_meter = meter;
        self
    }

    /// Sets the clock of the capacity token buckets.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use strata_engine::{DbOptions, ManualClock};
    ///
    /// let clock = Arc::new(ManualClock::new());
    /// let opts = DbOptions::default().clock(clock.clone());
    /// # let _ = opts;
    /// ```
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> DbOptions {
        self.clock = clock;
        self
    }

    /// Sets the capacity enforcement options.
    #[must_use]
    pub fn capacity(mut self, capacity: CapacityOptions) -> DbOptions {
        self.capacity = capacity;
        self
    }
}

#[derive(Debug)]
struct DbState {
    closed: bool,
    catalog: Catalog,
    tables: BTreeMap<String, Arc<TableCore>>,
}

impl DbState {
    /// The catalog entry of table `name` of an open database (what DDL starts from).
    fn entry(&self, name: &str) -> Result<TableEntry, DbError> {
        if self.closed {
            return Err(DbError::Closed);
        }
        self.catalog
            .get(name)
            .cloned()
            .ok_or_else(|| DbError::TableNotFound {
                table: name.to_owned(),
            })
    }
}

#[derive(Debug)]
struct DbInner {
    path: PathBuf,
    fs: Arc<dyn FileSystem>,
    tree_opts: TreeOptions,
    shared: SharedResources,
    hooks: Hooks,
    /// The GSI maintainer thread.
    gsi: Arc<GsiService>,
    state: RwLock<DbState>,
    /// Serialises create_table and delete_table.
    ddl: Mutex<()>,
    lock: Mutex<Option<Box<dyn FileLock>>>,
    recovery: DbRecoveryReport,
}

/// An open database: a directory of tables.
///
/// `Db` is `Send + Sync` and cheap to clone (clones share one database). Only one `Db`
/// (in any process) can have a directory open at a time; a second [`Db::open`] fails
/// with [`DbError::Locked`]. The database stays open while any clone or [`Table`]
/// handle lives, or until [`Db::close`].
///
/// ```
/// use strata_engine::{Db, DbOptions, GetOptions, LsiSpec, PutOptions, QueryOptions, TableSpec};
/// use strata_item::{item, KeySchema, KeyType};
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), DbOptions::default())?;
/// db.create_table(
///     TableSpec::new("orders", KeySchema::composite("customer", KeyType::S, "id", KeyType::N))
///         .lsi(LsiSpec::new("by_total", "total", KeyType::N)),
/// )?;
/// let orders = db.table("orders")?;
/// orders.put_item(item! { "customer" => "c1", "id" => 1, "total" => 250 }, PutOptions::default())?;
/// orders.put_item(item! { "customer" => "c1", "id" => 2, "total" => 30 }, PutOptions::default())?;
///
/// let got = orders.get_item(item! { "customer" => "c1", "id" => 1 }, GetOptions::default())?;
/// assert_eq!(got.item.unwrap().get("total"), Some(&250.into()));
///
/// // The LSI orders the customer's orders by total.
/// let cheapest = orders.query("customer = :c", QueryOptions::default()
///     .index("by_total").value(":c", "c1").limit(1))?;
/// assert_eq!(cheapest.items[0].get("id"), Some(&2.into()));
///
/// assert_eq!(db.list_tables()?, vec!["orders".to_string()]);
/// db.close()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Db {
    inner: Arc<DbInner>,
}

/// The recovery reports of every partition (base and GSI) where recovery did something.
fn collect_recovery(tables: &BTreeMap<String, Arc<TableCore>>) -> DbRecoveryReport {
    let mut report = DbRecoveryReport::default();
    for (name, core) in tables {
        if let Ok(shards) = core.shards() {
            for p in &shards.parts {
                let r = p.tree.recovery_report();
                if !r.is_clean() {
                    report.partitions.push(PartitionRecovery {
                        table: name.clone(),
                        partition: p.index,
                        index: None,
                        report: r,
                    });
                }
            }
            for g in &shards.gsis {
                for (gp, tree) in (0u32..).zip(&g.trees) {
                    let r = tree.recovery_report();
                    if !r.is_clean() {
                        report.partitions.push(PartitionRecovery {
                            table: name.clone(),
                            partition: gp,
                            index: Some(g.def.name.clone()),
                            report: r,
                        });
                    }
                }
            }
        }
    }
    report
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

pub(crate) fn table_dir_name(id: u64) -> String {
    format!("t{id:08}")
}

pub(crate) fn parse_table_dir_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix('t')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

impl Db {
    /// Opens the database in `path` (creating it if `create_if_missing`), recovering
    /// every table's partitions, and removing what an interrupted `create_table` or
    /// `delete_table` left behind.
    ///
    /// # Errors
    /// [`DbError::Locked`] if another `Db` has the directory open;
    /// [`DbError::NotFound`]; catalog corruption; storage errors of any partition.
    pub fn open(path: impl AsRef<Path>, opts: DbOptions) -> Result<Db, DbError> {
        opts.capacity.validate().map_err(DbError::invalid)?;
        let path = path.as_ref().to_path_buf();
        let fs = Arc::clone(&opts.fs);
        // A refused open leaves the directory as it found it: no directory, lock file
        // or catalog is created unless a database is to be created.
        if fs.exists(&path) && !fs.is_dir(&path) {
            return Err(DbError::io(
                &path,
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the path is a file, not a database directory",
                ),
            ));
        }
        let has_db = fs.is_dir(&path) && fs.exists(&path.join(CATALOG_FILE));
        if !has_db && !opts.create_if_missing {
            return Err(DbError::NotFound { path });
        }
        if !fs.is_dir(&path) {
            fs.create_dir_all(&path)
                .map_err(|e| DbError::io(&path, e))?;
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                fs.sync_dir(parent).map_err(|e| DbError::io(parent, e))?;
            }
        }
        let lock_path = path.join(LOCK_FILE);
        let lock_existed = fs.exists(&lock_path);
        let lock = fs.lock(&lock_path).map_err(|source| match source.kind() {
            io::ErrorKind::WouldBlock => DbError::Locked {
                path: lock_path.clone(),
                source,
            },
            _ => DbError::io(&lock_path, source),
        })?;
        let opened = open_locked(&path, &opts).and_then(|st| {
            let gsi = GsiService::new(Arc::clone(&st.hooks.gsi_waker));
            match gsi.start() {
                Ok(()) => Ok((st, gsi)),
                Err(e) => {
                    for c in st.tables.values() {
                        if let Err(e) = c.shutdown(Shut::Closed) {
                            tracing::warn!(error = %e, "closing a table after a failed open");
                        }
                    }
                    Err(DbError::io(&path, e))
                }
            }
        });
        match opened {
            Ok((st, gsi)) => {
                let recovery = collect_recovery(&st.tables);
                tracing::info!(path = %path.display(), tables = st.tables.len(), "database open");
                for core in st.tables.values() {
                    gsi.register(core);
                }
                let shared = st.shared;
                Ok(Db {
                    inner: Arc::new(DbInner {
                        path,
                        fs,
                        tree_opts: opts.tree,
                        shared,
                        hooks: st.hooks,
                        gsi,
                        state: RwLock::new(DbState {
                            closed: false,
                            catalog: st.catalog,
                            tables: st.tables,
                        }),
                        ddl: Mutex::new(()),
                        lock: Mutex::new(Some(lock)),
                        recovery,
                    }),
                })
            }
            Err(e) => {
                // Remove the lock file this call created (while still holding it).
                if !lock_existed && let Err(rm) = fs.remove_file(&lock_path) {
                    tracing::warn!(path = %lock_path.display(), error = %rm,
                        "could not remove the lock file of a refused open");
                }
                drop(lock);
                Err(e)
            }
        }
    }

    /// What recovery dropped, skipped or ignored when this `Db` opened, per table and
    /// partition: WAL segment, offset, bytes (and records, when countable) and why;
    /// a torn manifest append. Empty after a clean shutdown. See `docs/recovery.md`.
    pub fn recovery_report(&self) -> &DbRecoveryReport {
        &self.inner.recovery
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Scrubs the database: reads every file completely and checks it, and
    /// reports each problem with its file and byte offset. Nothing on disk
    /// changes, and the database stays usable meanwhile.
    ///
    /// Checked: the catalog; for every partition of every table, `CURRENT`
    /// and every manifest record; every SSTable the manifest names (it exists
    /// with the recorded size, opens, every block checksum, the whole-file
    /// XXH3 checksum, key order within and across blocks, the properties
    /// against the blocks and against the manifest); every WAL segment (the
    /// header, every record checksum, LSN continuity between segments, and
    /// that the WAL reaches back to where replay must start); and files
    /// nothing names (orphans, reported as warnings). See `docs/verify.md`.
    ///
    /// Concurrency: `create_table` and `delete_table` wait while the scrub
    /// runs, and each partition's flushes and compactions are paused while
    /// that partition is checked (writes continue; they stall only if the
    /// partition's memtables fill up meanwhile). The newest WAL segment is
    /// being appended to, so its incomplete tail is not reported.
    ///
    /// For a database that is not open, [`crate::verify_dir`] does the same
    /// without opening it.
    ///
    /// # Errors
    /// [`DbError::Closed`]. Problems found in the files are in the report.
    ///
    /// ```
    /// use strata_engine::{Db, DbOptions, PutOptions, TableSpec};
    /// use strata_item::{item, KeySchema, KeyType};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), DbOptions::default())?;
    /// db.create_table(TableSpec::new("users", KeySchema::simple("id", KeyType::S)))?;
    /// db.table("users")?.put_item(item! { "id" => "a" }, PutOptions::default())?;
    /// let report = db.verify()?;
    /// assert!(report.is_clean(), "{report}");
    /// for problem in report.warnings() {
    ///     println!("{problem}");
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify(&self) -> Result<crate::VerifyReport, DbError> {
        let _ddl = self.inner.ddl.lock();
        let tables: Vec<Arc<TableCore>> = {
            let st = self.inner.state.read();
            if st.closed {
                return Err(DbError::Closed);
            }
            st.tables.values().cloned().collect()
        };
        Ok(crate::verify::verify_open(
            &self.inner.path,
            &self.inner.fs,
            &tables,
        ))
    }

    /// The block cache, background pool and memtable budget all trees share.
    pub fn shared_resources(&self) -> &SharedResources {
        &self.inner.shared
    }

    fn tables_dir(&self) -> PathBuf {
        self.inner.path.join(TABLES_DIR)
    }

    /// Creates a table. The catalog write is the commit point: if the process dies
    /// during `create_table`, the table is either fully there or fully gone on the next
    /// open.
    ///
    /// # Errors
    /// [`DbError::InvalidTableSpec`], [`DbError::TableExists`], [`DbError::Closed`],
    /// I/O and storage errors (the table is then not created).
    pub fn create_table(&self, spec: TableSpec) -> Result<TableDescription, DbError> {
        spec.validate()?;
        self.check_not_in_callback("create_table")?;
        let inner = &self.inner;
        let _ddl = inner.ddl.lock();
        let (mut catalog, id) = {
            let mut st = inner.state.write();
            if st.closed {
                return Err(DbError::Closed);
            }
            if st.catalog.get(&spec.name).is_some() {
                return Err(DbError::TableExists {
                    table: spec.name.clone(),
                });
            }
            let id = st.catalog.next_table_id;
            // Ids are never reused, even when this create fails.
            st.catalog.next_table_id += 1;
            (st.catalog.clone(), id)
        };
        let created_at_ms = now_ms();
        let dir = self.tables_dir().join(table_dir_name(id));
        let fs = &inner.fs;
        let env = OpenEnv {
            fs,
            tree_opts: &inner.tree_opts,
            shared: &inner.shared,
            hooks: &inner.hooks,
        };
        let core =
            TableCore::open(&env, &dir, id, spec.clone(), &[], Existing::Create).and_then(|core| {
                fs.sync_dir(&self.tables_dir())
                    .map_err(|e| DbError::io(self.tables_dir(), e))?;
                catalog
                    .tables
                    .push(TableEntry::new(id, created_at_ms, spec.clone()));
                catalog.tables.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
                match catalog.store(fs.as_ref(), &inner.path.join(CATALOG_FILE)) {
                    Ok(()) => Ok(core),
                    Err(e) => {
                        if let Err(close) = core.shutdown(Shut::Closed) {
                            tracing::warn!(error = %close, "closing a table whose creation failed");
                        }
                        Err(e)
                    }
                }
            });
        let core = match core {
            Ok(c) => c,
            Err(e) => {
                if let Err(rm) = fs.remove_dir_all(&dir) {
                    tracing::warn!(dir = %dir.display(), error = %rm,
                        "could not remove the directory of a failed create_table; it is removed on the next open");
                }
                return Err(e);
            }
        };
        let core = Arc::new(core);
        inner.gsi.register(&core);
        let mut st = inner.state.write();
        st.catalog.tables = catalog.tables;
        st.tables.insert(spec.name.clone(), core);
        tracing::info!(table = %spec.name, id, partitions = spec.partitions, "table created");
        Ok(TableDescription {
            spec,
            table_id: id,
            created_at_ms,
            global_secondary_indexes: Vec::new(),
            capacity: None,
        })
    }

    /// Deletes a table and all its data (DynamoDB's `DeleteTable`).
    ///
    /// From the moment this is called every new operation on the table fails with
    /// [`DbError::TableNotFound`] (DynamoDB's table is `DELETING`); the operations
    /// already running finish (each is a bounded amount of work: one write, one batch,
    /// one page), so this returns promptly however busy the table is. The catalog
    /// write is the commit point; the directory is removed after it (or, after a
    /// crash, on the next open).
    ///
    /// # Errors
    /// A validation error ([`DbError::is_validation`]) for a name that breaks
    /// DynamoDB's naming rule, checked before anything is looked up;
    /// [`DbError::TableNotFound`]; [`DbError::Closed`]; [`DbError::InvalidRequest`]
    /// when called from a change sink or capacity meter callback of this database
    /// (it would wait for itself); I/O errors writing the catalog (the table is then
    /// closed in this process, and the next open finds it or not, as the catalog on
    /// disk says).
    pub fn delete_table(&self, name: &str) -> Result<TableDescription, DbError> {
        validate_table_name(name)?;
        self.check_not_in_callback("delete_table")?;
        let inner = &self.inner;
        let _ddl = inner.ddl.lock();
        let (catalog, entry, core) = {
            let st = inner.state.read();
            let entry = st.entry(name)?;
            let mut c = st.catalog.clone();
            c.tables.retain(|t| t.spec.name != name);
            (c, entry, st.tables.get(name).cloned())
        };
        // New operations fail from here on; wait for those in flight, so that no
        // write is acknowledged into the table once the catalog no longer has it.
        if let Some(core) = &core {
            core.stop(Shut::Deleted)?;
            inner.gsi.unregister(core.id);
        }
        let stored = catalog.store(inner.fs.as_ref(), &inner.path.join(CATALOG_FILE));
        {
            let mut st = inner.state.write();
            st.catalog.tables = catalog.tables;
            st.tables.remove(name);
        }
        // Whether or not the catalog write succeeded, the table is gone from this
        // process: if it failed, the new catalog may or may not be durable (the
        // rename may have happened before the directory sync failed); the next open
        // decides from the catalog on disk — the table is back with everything
        // written before this call, or its directory is removed as an orphan.
        if let Some(core) = &core
            && let Err(e) = core.shutdown(Shut::Deleted)
        {
            tracing::warn!(table = name, error = %e, "closing a deleted table's partitions");
        }
        stored?;
        let dir = self.tables_dir().join(table_dir_name(entry.id));
        let removed = inner
            .fs
            .remove_dir_all(&dir)
            .and_then(|()| inner.fs.sync_dir(&self.tables_dir()));
        if let Err(e) = removed {
            tracing::warn!(dir = %dir.display(), error = %e,
                "could not remove a deleted table's directory; it is removed on the next open");
        }
        inner.hooks.capacity_registry.remove(entry.id);
        tracing::info!(table = name, id = entry.id, "table deleted");
        Ok(TableDescription {
            spec: entry.spec,
            table_id: entry.id,
            created_at_ms: entry.created_at_ms,
            global_secondary_indexes: Vec::new(),
            capacity: None,
        })
    }

    /// Describes a table.
    ///
    /// # Errors
    /// A validation error for a name that breaks DynamoDB's naming rule;
    /// [`DbError::TableNotFound`]; [`DbError::Closed`].
    pub fn describe_table(&self, name: &str) -> Result<TableDescription, DbError> {
        validate_table_name(name)?;
        let (entry, core) = {
            let st = self.inner.state.read();
            if st.closed {
                return Err(DbError::Closed);
            }
            let t = st.catalog.get(name).ok_or_else(|| DbError::TableNotFound {
                table: name.to_owned(),
            })?;
            (t.clone(), st.tables.get(name).cloned())
        };
        let capacity = core.as_ref().map(|c| c.capacity.stats());
        let global_secondary_indexes = match core {
            Some(c) if !entry.spec.global_secondary_indexes.is_empty() => {
                match crate::gsi::status::describe(&c) {
                    // Caught in an update_table: describe the table after it.
                    Err(DbError::TableUpdating { .. }) => {
                        drop(self.inner.ddl.lock());
                        return self.describe_table(name);
                    }
                    r => r?,
                }
            }
            _ => Vec::new(),
        };
        Ok(TableDescription {
            spec: entry.spec,
            table_id: entry.id,
            created_at_ms: entry.created_at_ms,
            global_secondary_indexes,
            capacity,
        })
    }

    /// The table's capacity now: per table, partition and GSI, read and write, the
    /// units consumed and requests throttled since the `Db` opened and the tokens
    /// left, with the hottest partitions first in
    /// [`CapacityStats::hottest_partitions`].
    ///
    /// ```
    /// use strata_engine::{CapacityMode, Db, DbOptions, PutOptions, TableSpec};
    /// use strata_item::{item, KeySchema, KeyType};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), DbOptions::default())?;
    /// db.create_table(TableSpec::new("hits", KeySchema::simple("page", KeyType::S))
    ///     .capacity(CapacityMode::provisioned(100, 50)))?;
    /// db.table("hits")?.put_item(item! { "page" => "/" }, PutOptions::default())?;
    /// let stats = db.capacity_stats("hits")?;
    /// assert_eq!(stats.write.consumed_units, 1.0);
    /// assert_eq!(stats.write.units_per_second, 50.0);
    /// assert_eq!(stats.hottest_partitions[0].write.consumed_units, 1.0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// A validation error for a bad name; [`DbError::TableNotFound`];
    /// [`DbError::Closed`].
    pub fn capacity_stats(&self, name: &str) -> Result<CapacityStats, DbError> {
        validate_table_name(name)?;
        Ok(self.core(name)?.capacity.stats())
    }

    /// Blocks until every global secondary index of `table` has applied every write
    /// acknowledged before this call (GSIs are maintained asynchronously; reads of a
    /// GSI are eventually consistent). The base tables' WALs are synced first, so
    /// `Buffered` writes count too. A table without GSIs returns at once.
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata_engine::{Db, DbOptions, GsiSpec, PutOptions, QueryOptions, TableSpec};
    /// use strata_item::{item, KeySchema, KeyType};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), DbOptions::default())?;
    /// db.create_table(TableSpec::new("users", KeySchema::simple("id", KeyType::S))
    ///     .gsi(GsiSpec::new("by_city", KeySchema::simple("city", KeyType::S))))?;
    /// let users = db.table("users")?;
    /// users.put_item(item! { "id" => "u1", "city" => "Oslo" }, PutOptions::default())?;
    /// db.wait_for_indexes("users", Duration::from_secs(30))?;
    /// let page = users.query("city = :c", QueryOptions::default().index("by_city").value(":c", "Oslo"))?;
    /// assert_eq!(page.items, vec![item! { "id" => "u1", "city" => "Oslo" }]);
    /// assert!(db.verify_index("users", "by_city")?.is_clean());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`DbError::IndexWaitTimeout`] (or [`DbError::IndexMaintenance`] when the
    /// maintainer keeps failing) after `timeout`; [`DbError::TableNotFound`];
    /// [`DbError::Closed`]; storage errors syncing the base WALs.
    pub fn wait_for_indexes(
        &self,
        table: &str,
        timeout: std::time::Duration,
    ) -> Result<(), DbError> {
        let core = self.current_core(table)?;
        if core.spec.global_secondary_indexes.is_empty() {
            return Ok(());
        }
        let waker = Arc::clone(&self.inner.hooks.gsi_waker);
        crate::gsi::status::wait_caught_up(&core, &|| waker.wake(), timeout)
    }

    /// Derives global secondary index `index` of `table` from a scan of the table and
    /// compares it, entry by entry, with what the index holds: missing, unexpected
    /// (stale or duplicate) and differing entries. Meaningful once the index has caught
    /// up ([`Db::wait_for_indexes`]) and while no write runs (the two scans are not one
    /// snapshot). Holds the whole derived index in memory.
    ///
    /// # Errors
    /// [`DbError::IndexNotFound`] (also for a local secondary index),
    /// [`DbError::TableNotFound`], [`DbError::Closed`], storage errors.
    pub fn verify_index(
        &self,
        table: &str,
        index: &str,
    ) -> Result<crate::gsi::check::IndexVerifyReport, DbError> {
        let core = self.current_core(table)?;
        let ordinal = core
            .spec
            .global_secondary_indexes
            .iter()
            .position(|g| g.name == index)
            .ok_or_else(|| DbError::IndexNotFound {
                table: table.to_owned(),
                index: index.to_owned(),
            })?;
        crate::gsi::check::verify_index(&core, ordinal)
    }

    /// The names of all tables, sorted.
    ///
    /// # Errors
    /// [`DbError::Closed`].
    pub fn list_tables(&self) -> Result<Vec<String>, DbError> {
        let st = self.inner.state.read();
        if st.closed {
            return Err(DbError::Closed);
        }
        Ok(st
            .catalog
            .tables
            .iter()
            .map(|t| t.spec.name.clone())
            .collect())
    }

    /// A handle on a table.
    ///
    /// # Errors
    /// A validation error for a name that breaks DynamoDB's naming rule;
    /// [`DbError::TableNotFound`]; [`DbError::Closed`].
    pub fn table(&self, name: &str) -> Result<Table, DbError> {
        Ok(Table::new(self.clone(), self.core(name)?))
    }

    /// Fails when the calling thread is inside an operation on one of this
    /// database's tables (a change sink or capacity meter callback): `what` (a
    /// `create_table`, `delete_table` or `close`) could wait for that operation, which
    /// waits for the callback.
    fn check_not_in_callback(&self, what: &str) -> Result<(), DbError> {
        self.inner.check_not_in_callback(what).map(|_closed| ())
    }

    fn core(&self, name: &str) -> Result<Arc<TableCore>, DbError> {
        validate_table_name(name)?;
        let st = self.inner.state.read();
        if st.closed {
            return Err(DbError::Closed);
        }
        st.tables
            .get(name)
            .cloned()
            .ok_or_else(|| DbError::TableNotFound {
                table: name.to_owned(),
            })
    }

    /// Reads up to 100 items from one or more tables (DynamoDB's `BatchGetItem`).
    /// Everything is validated before anything is read. Items not found are absent
    /// from the response; when the response reaches 16 MB the remaining keys are
    /// returned in `unprocessed_keys`.
    ///
    /// ```
    /// # use strata_engine::{BatchGetRequest, Db, DbOptions, PutOptions, TableSpec};
    /// # use strata_item::{item, KeySchema, KeyType};
    /// # let dir = tempfile::tempdir()?;
    /// # let db = Db::open(dir.path(), DbOptions::default())?;
    /// # db.create_table(TableSpec::new("users", KeySchema::simple("id", KeyType::S)))?;
    /// let users = db.table("users")?;
    /// users.put_item(item! { "id" => "a", "name" => "Ada" }, PutOptions::default())?;
    /// let out = db.batch_get_item([("users", BatchGetRequest::keys([item! { "id" => "a" }, item! { "id" => "b" }]))])?;
    /// assert_eq!(out.responses["users"].len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`DbError::TooManyBatchItems`], [`DbError::DuplicateBatchKeys`],
    /// [`DbError::TableNotFound`], key and expression errors, storage errors.
    pub fn batch_get_item<I, S>(&self, requests: I) -> Result<BatchGetOutput, DbError>
    where
        I: IntoIterator<Item = (S, BatchGetRequest)>,
        S: Into<String>,
    {
        let requests: Vec<(String, BatchGetRequest)> =
            requests.into_iter().map(|(n, r)| (n.into(), r)).collect();
        check_batch_shape(
            BatchKind::Get,
            requests.iter().map(|(n, r)| (n.as_str(), r.keys.len())),
        )?;
        let tables = requests
            .into_iter()
            .map(|(name, req)| Ok((self.core(&name)?, req)))
            .collect::<Result<Vec<_>, DbError>>()?;
        batch_get(&tables)
    }

    /// Writes up to 25 puts and deletes across tables (DynamoDB's `BatchWriteItem`).
    /// Everything is validated before anything is written; the writes of one
    /// partition are one atomic batch, but the batch as a whole is not atomic.
    ///
    /// ```
    /// # use strata_engine::{Db, DbOptions, TableSpec, WriteRequest};
    /// # use strata_item::{item, KeySchema, KeyType};
    /// # let dir = tempfile::tempdir()?;
    /// # let db = Db::open(dir.path(), DbOptions::default())?;
    /// # db.create_table(TableSpec::new("users", KeySchema::simple("id", KeyType::S)))?;
    /// let out = db.batch_write_item([("users", vec![
    ///     WriteRequest::Put(item! { "id" => "a" }),
    ///     WriteRequest::Put(item! { "id" => "b" }),
    ///     WriteRequest::Delete(item! { "id" => "c" }.into()),
    /// ])])?;
    /// assert_eq!(out.consumed_capacity[0].write_capacity_units, 3.0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`DbError::TooManyBatchItems`], [`DbError::DuplicateBatchKeys`],
    /// [`DbError::TableNotFound`], validation errors, storage errors.
    pub fn batch_write_item<I, S>(&self, requests: I) -> Result<BatchWriteOutput, DbError>
    where
        I: IntoIterator<Item = (S, Vec<WriteRequest>)>,
        S: Into<String>,
    {
        let requests: Vec<(String, Vec<WriteRequest>)> =
            requests.into_iter().map(|(n, r)| (n.into(), r)).collect();
        check_batch_shape(
            BatchKind::Write,
            requests.iter().map(|(n, r)| (n.as_str(), r.len())),
        )?;
        let tables = requests
            .into_iter()
            .map(|(name, reqs)| Ok((self.core(&name)?, reqs)))
            .collect::<Result<Vec<_>, DbError>>()?;
        batch_write(tables)
    }

    /// Closes the database: flushes and closes every partition and releases the
    /// directory lock. Every clone and table handle fails with [`DbError::Closed`]
    /// afterwards. Closing twice is fine.
    ///
    /// Returns promptly however busy the tables are: from the moment this is called
    /// every new operation fails with [`DbError::Closed`]; operations already running
    /// finish (each a bounded amount of work) and what they acknowledged is flushed,
    /// also for [`TableDurability::Buffered`](crate::TableDurability::Buffered) tables.
    ///
    /// # Errors
    /// [`DbError::InvalidRequest`] when called from a change sink or capacity meter
    /// callback of this database (it would wait for itself; nothing is closed then);
    /// the first storage error closing a partition (the others are still closed).
    pub fn close(&self) -> Result<(), DbError> {
        self.inner.close()
    }
}

impl DbInner {
    /// See [`Db::check_not_in_callback`]. `Ok(true)` when the database is closed.
    fn check_not_in_callback(&self, what: &str) -> Result<bool, DbError> {
        let st = self.state.read();
        if st.closed {
            return Ok(true);
        }
        if let Some(core) = st.tables.values().find(|c| c.check_not_inside().is_err()) {
            return Err(DbError::invalid(format!(
                "{what} cannot be called from inside an operation on table {} (a change sink or capacity meter callback): it would wait for that operation",
                core.name()
            )));
        }
        Ok(false)
    }

    fn close(&self) -> Result<(), DbError> {
        if self.check_not_in_callback("close")? {
            return Ok(());
        }
        let _ddl = self.ddl.lock();
        let tables = {
            let mut st = self.state.write();
            if st.closed {
                return Ok(());
            }
            st.closed = true;
            std::mem::take(&mut st.tables)
        };
        // The maintainer stops first (it holds no table open between rounds).
        self.gsi.shutdown();
        // Every table refuses new operations at once; then each drains and closes.
        for core in tables.values() {
            core.refuse_new(Shut::Closed);
        }
        let mut first_err = None;
        for core in tables.values() {
            if let Err(e) = core.shutdown(Shut::Closed) {
                tracing::warn!(table = core.name(), error = %e, "closing a table failed");
                first_err.get_or_insert(e);
            }
        }
        drop(tables);
        *self.lock.lock() = None;
        tracing::info!(path = %self.path.display(), "database closed");
        first_err.map_or(Ok(()), Err)
    }
}

impl Drop for DbInner {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            tracing::warn!(path = %self.path.display(), error = %e, "closing the database on drop failed");
        }
    }
}

/// What [`open_locked`] opened.
struct Opened {
    catalog: Catalog,
    tables: BTreeMap<String, Arc<TableCore>>,
    shared: SharedResources,
    hooks: Hooks,
}

/// The part of [`Db::open`] under the directory lock: loads (or creates) the catalog,
/// opens every table, and only then removes what an interrupted `create_table`,
/// `delete_table` or catalog write left behind — a refused open (a damaged catalog
/// or partition, a missing table directory) changes nothing but what the partitions'
/// own recovery changes.
fn open_locked(path: &Path, opts: &DbOptions) -> Result<Opened, DbError> {
    let fs = &opts.fs;
    let catalog_path = path.join(CATALOG_FILE);
    let catalog = if fs.exists(&catalog_path) {
        Catalog::load(fs.as_ref(), &catalog_path)?
    } else if opts.create_if_missing {
        let c = Catalog::default();
        c.store(fs.as_ref(), &catalog_path)?;
        tracing::info!(path = %path.display(), "created a new database");
        c
    } else {
        return Err(DbError::NotFound {
            path: path.to_path_buf(),
        });
    };
    let shared = opts.shared.clone().unwrap_or_else(|| {
        let shared = SharedResources::new(
            opts.block_cache_bytes,
            opts.background_threads.max(1),
            opts.memtable_budget_bytes,
        )
        .with_max_mapped_bytes(opts.max_mapped_bytes)
        .with_pread_data_blocks(opts.pread_data_blocks);
        shared.pool().set_nice(opts.background_nice);
        shared
    });
    let hooks = Hooks {
        change_sink: opts.change_sink.clone(),
        capacity: opts.capacity_meter.clone(),
        capacity_registry: Arc::new(CapacityRegistry::new(
            Arc::clone(&opts.clock),
            opts.capacity,
        )),
        gsi_waker: Arc::new(Waker::default()),
        index_pressure: opts.index_pressure,
        index_pressure_wait: opts.index_pressure_wait,
        index_backfill_page: opts.index_backfill_page,
        item_collection_limit: opts.item_collection_limit_bytes,
        clock: Arc::clone(&opts.clock),
        item_stats_max_age: opts.item_stats_max_age,
    };
    let tables_dir = path.join(TABLES_DIR);
    let mut tables: BTreeMap<String, Arc<TableCore>> = BTreeMap::new();
    for t in &catalog.tables {
        let mut tree_opts = opts.tree.clone();
        tree_opts.wal_loss_policy = crate::recovery_report::loss_policy(
            opts.refuse_open_on_loss,
            t.spec.durability,
            opts.tree.wal_loss_policy,
        );
        let env = OpenEnv {
            fs,
            tree_opts: &tree_opts,
            shared: &shared,
            hooks: &hooks,
        };
        let core = TableCore::open(
            &env,
            &tables_dir.join(table_dir_name(t.id)),
            t.id,
            t.spec.clone(),
            &t.gsi_ids,
            Existing::MustExist,
        );
        match core {
            Ok(c) => {
                tables.insert(t.spec.name.clone(), Arc::new(c));
            }
            Err(e) => {
                for c in tables.values() {
                    if let Err(e) = c.shutdown(Shut::Closed) {
                        tracing::warn!(error = %e, "closing a table after a failed open");
                    }
                }
                return Err(e);
            }
        }
    }
    let cleaned = clean_up(fs.as_ref(), path, &catalog);
    if let Err(e) = cleaned {
        for c in tables.values() {
            if let Err(e) = c.shutdown(Shut::Closed) {
                tracing::warn!(error = %e, "closing a table after a failed open");
            }
        }
        return Err(e);
    }
    Ok(Opened {
        catalog,
        tables,
        shared,
        hooks,
    })
}

/// Removes a catalog temp file and the table directories the catalog does not name,
/// and makes sure the tables directory exists.
fn clean_up(fs: &dyn FileSystem, path: &Path, catalog: &Catalog) -> Result<(), DbError> {
    let tmp = path.join(format!("{CATALOG_FILE}.tmp"));
    if fs.exists(&tmp) {
        fs.remove_file(&tmp).map_err(|e| DbError::io(&tmp, e))?;
    }
    let tables_dir = path.join(TABLES_DIR);
    fs.create_dir_all(&tables_dir)
        .map_err(|e| DbError::io(&tables_dir, e))?;
    fs.sync_dir(path).map_err(|e| DbError::io(path, e))?;
    remove_orphans(fs, &tables_dir, catalog)
}

/// Removes table directories the catalog does not name: what a crash during
/// `create_table` (before the catalog write) or `delete_table` (after it) left.
fn remove_orphans(
    fs: &dyn FileSystem,
    tables_dir: &Path,
    catalog: &Catalog,
) -> Result<(), DbError> {
    remove_unnamed(fs, tables_dir, "table", |name| {
        parse_table_dir_name(name).is_some_and(|id| catalog.tables.iter().any(|t| t.id == id))
    })?;
    for t in &catalog.tables {
        remove_orphan_indexes(fs, &tables_dir.join(table_dir_name(t.id)), &t.gsi_ids)?;
    }
    Ok(())
}

/// Removes the GSI directories of a table that its catalog entry does not name: what a
/// crash during `update_table` left (an index being added before the catalog write,
/// or one being removed after it).
pub(crate) fn remove_orphan_indexes(
    fs: &dyn FileSystem,
    table_dir: &Path,
    ids: &[u32],
) -> Result<(), DbError> {
    let gdir = table_dir.join(crate::gsi::GSI_DIR);
    if !fs.is_dir(&gdir) {
        return Ok(());
    }
    remove_unnamed(fs, &gdir, "index", |name| {
        ids.iter().any(|&id| crate::gsi::gsi_dir_name(id) == name)
    })
}

/// Removes every entry of `dir` that `named` refuses (what the catalog does not name),
/// then syncs `dir` if anything was removed.
fn remove_unnamed(
    fs: &dyn FileSystem,
    dir: &Path,
    what: &str,
    named: impl Fn(&str) -> bool,
) -> Result<(), DbError> {
    let names = fs.list(dir).map_err(|e| DbError::io(dir, e))?;
    let mut removed = false;
    for name in names.iter().filter(|n| !named(n)) {
        let p = dir.join(name);
        tracing::info!(path = %p.display(), what, "removing a directory the catalog does not name");
        let r = if fs.is_dir(&p) {
            fs.remove_dir_all(&p)
        } else {
            fs.remove_file(&p)
        };
        r.map_err(|e| DbError::io(&p, e))?;
        removed = true;
    }
    if removed {
        fs.sync_dir(dir).map_err(|e| DbError::io(dir, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_dir_names() {
        assert_eq!(table_dir_name(7), "t00000007");
        assert_eq!(parse_table_dir_name("t00000007"), Some(7));
        assert_eq!(parse_table_dir_name("t"), None);
        assert_eq!(parse_table_dir_name("x1"), None);
        assert_eq!(parse_table_dir_name("t1a"), None);
    }
}
