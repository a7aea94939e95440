//! In-memory databases: the same [`Db`] on a file system that lives in memory, for
//! tests and examples that use Strata as a test double.

use std::sync::Arc;

use strata_fs::{FaultFs, FileSystem};

use super::{Db, DbOptions};
use crate::lsm::TreeOptions;
use crate::table::DbError;

/// The path an in-memory database reports from [`Db::path`]. It names a directory of
/// the database's own in-memory file system, never one on disk.
pub const IN_MEMORY_PATH: &str = "/strata-in-memory";

impl DbOptions {
    /// Options of a database that keeps everything in memory: a fresh in-memory file
    /// system of its own ([`strata_fs::FaultFs`] with no faults injected), so nothing
    /// is written to disk and every `fsync` is free. Tables, validation, conditions,
    /// indexes, capacity and errors behave exactly as on disk; what is lost is only the
    /// data, when the last handle of the database is dropped.
    ///
    /// Tuned for small data sets: no WAL preallocation, a 1 MiB block cache (the
    /// "files" are already in memory), one background worker. Every other option can
    /// be changed as usual (a [`crate::ManualClock`], capacity, a change sink); a
    /// different [`DbOptions::fs`] makes it an ordinary database again.
    ///
    /// Clones of the returned options share one in-memory file system: closing the
    /// database and opening the same path with a clone finds everything again, as a
    /// reopen on disk does (handy to test code that reopens its database). Two
    /// databases open at once on the same path of one such file system fail with
    /// [`DbError::Locked`], as on disk.
    ///
    /// ```
    /// use strata_engine::{Db, DbOptions, PutOptions, TableSpec};
    /// use strata_item::{item, KeySchema, KeyType};
    ///
    /// let db = Db::open("/any/name", DbOptions::in_memory())?;
    /// db.create_table(TableSpec::new("tbl", KeySchema::simple("pk", KeyType::S)))?;
    /// db.table("tbl")?.put_item(item! { "pk" => "a" }, PutOptions::default())?;
    /// # Ok::<(), strata_engine::DbError>(())
    /// ```
    pub fn in_memory() -> DbOptions {
        let fs: Arc<dyn FileSystem> = Arc::new(FaultFs::new());
        DbOptions {
            tree: TreeOptions {
                fs: Arc::clone(&fs),
                wal_preallocate: 0,
                wal_recycle_segments: 0,
                ..TreeOptions::default()
            },
            fs,
            block_cache_bytes: 1 << 20,
            background_threads: 1,
            // The tables are in memory already: reading their blocks in place
            // costs nothing, a copy into the cache would.
            pread_data_blocks: false,
            ..DbOptions::default()
        }
    }
}

impl Db {
    /// Opens a new, empty database that lives in memory: the way to use Strata as a
    /// test double. It has the same API and the same validation as a database on
    /// disk (same errors for a bad key, a failed condition, a missing table or index,
    /// a throttled request), writes nothing to disk, and costs a few hundred
    /// microseconds to open. Each call gives an independent database; it disappears
    /// with its last [`Db`] or [`crate::Table`] handle (or at [`Db::close`]).
    ///
    /// Equivalent to `Db::open(IN_MEMORY_PATH, DbOptions::in_memory())`; use
    /// [`DbOptions::in_memory`] to change other options.
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata_engine::{Db, GetOptions, GsiSpec, PutOptions, QueryOptions, TableSpec};
    /// use strata_item::{item, KeySchema, KeyType};
    ///
    /// let db = Db::open_in_memory()?;
    /// db.create_table(
    ///     TableSpec::new("users", KeySchema::simple("id", KeyType::S))
    ///         .gsi(GsiSpec::new("by_email", KeySchema::simple("email", KeyType::S))),
    /// )?;
    /// let users = db.table("users")?;
    /// users.put_item(item! { "id" => "u1", "email" => "a@example.com" }, PutOptions::default())?;
    /// let got = users.get_item(item! { "id" => "u1" }, GetOptions::default())?;
    /// assert!(got.item.is_some());
    ///
    /// // Global secondary indexes are eventually consistent, in memory as on disk.
    /// db.wait_for_indexes("users", Duration::from_secs(30))?;
    /// let found = users.query("email = :e", QueryOptions::default()
    ///     .index("by_email").value(":e", "a@example.com"))?;
    /// assert_eq!(found.items.len(), 1);
    /// # Ok::<(), strata_engine::DbError>(())
    /// ```
    ///
    /// # Errors
    /// Only if a background thread cannot be started.
    pub fn open_in_memory() -> Result<Db, DbError> {
        Db::open(IN_MEMORY_PATH, DbOptions::in_memory())
    }
}
