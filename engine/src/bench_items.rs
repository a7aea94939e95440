//! Item workloads for benchmarks: `put_item`, `get_item` and `query` (a page of 100
//! items) on 1 KB items, from any number of threads. Used by the criterion bench
//! `engine/benches/items.rs` and by `strata bench`; the library never prints, the
//! caller reports the figures.
//!
//! ```
//! use strata_engine::bench_items::{ItemOp, ItemWorkload, WorkloadConfig};
//! use strata_engine::DbOptions;
//!
//! let dir = tempfile::tempdir()?;
//! let cfg = WorkloadConfig { partition_keys: 10, items_per_partition_key: 20, ..WorkloadConfig::default() };
//! let w = ItemWorkload::open(dir.path(), DbOptions::default(), cfg)?;
//! w.load()?;
//! let r = w.run(ItemOp::Query, 2, 50)?;
//! assert_eq!(r.ops, 100);
//! assert_eq!(r.items, 100 * 20);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata_item::{Item, KeySchema, KeyType};

use crate::{
    Db, DbError, DbOptions, GetOptions, PutOptions, QueryOptions, Table, TableDurability, TableSpec,
};

/// Name of the table the workloads use.
pub const TABLE: &str = "bench_items";

/// The shape of the data.
#[derive(Debug, Clone)]
pub struct WorkloadConfig {
    /// DynamoDB size of every item, in bytes (default 1024).
    pub item_size: usize,
    /// Distinct partition key values loaded (default 200).
    pub partition_keys: u64,
    /// Items per partition key loaded (default 100: one query page).
    pub items_per_partition_key: u64,
    /// Items a query returns (default 100).
    pub query_page: usize,
    /// Hash partitions of the table (default 4).
    pub partitions: u32,
    /// Durability of the table's writes (default `Sync`).
    pub durability: TableDurability,
}

impl Default for WorkloadConfig {
    fn default() -> Self {
        WorkloadConfig {
            item_size: 1024,
            partition_keys: 200,
            items_per_partition_key: 100,
            query_page: 100,
            partitions: 4,
            durability: TableDurability::Sync,
        }
    }
}

/// One benchmarked operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemOp {
    /// `put_item` of a new item.
    Put,
    /// `get_item` of a random loaded item.
    Get,
    /// `query` of one random loaded partition key, one page of `query_page` items.
    Query,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq)]
pub struct RunReport {
    /// Operations completed (over all threads).
    pub ops: u64,
    /// Items read or written.
    pub items: u64,
    /// Wall-clock time of the run.
    pub elapsed: Duration,
}

impl RunReport {
    /// Operations per second.
    pub fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// A database with the workload table.
#[derive(Debug)]
pub struct ItemWorkload {
    db: Db,
    table: Table,
    cfg: WorkloadConfig,
    next_put: AtomicU64,
}

fn sort_key(i: u64) -> i64 {
    i64::try_from(i).unwrap_or(i64::MAX)
}

impl ItemWorkload {
    /// Opens (or creates) the database in `dir` and the workload table.
    ///
    /// # Errors
    /// Any error of `Db::open` or `create_table`.
    pub fn open(dir: &Path, opts: DbOptions, cfg: WorkloadConfig) -> Result<ItemWorkload, DbError> {
        let db = Db::open(dir, opts)?;
        if db.describe_table(TABLE).is_err() {
            db.create_table(
                TableSpec::new(
                    TABLE,
                    KeySchema::composite("pk", KeyType::S, "sk", KeyType::N),
                )
                .partitions(cfg.partitions)
                .durability(cfg.durability),
            )?;
        }
        let table = db.table(TABLE)?;
        Ok(ItemWorkload {
            db,
            table,
            cfg,
            next_put: AtomicU64::new(0),
        })
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// An item of `item_size` bytes with this key.
    pub fn make_item(&self, pk: &str, sk: i64) -> Item {
        let mut item = Item::new();
        item.insert("pk", pk);
        item.insert("sk", sk);
        let base = item.size() + "data".len();
        item.insert("data", "x".repeat(self.cfg.item_size.saturating_sub(base)));
        item
    }

    /// Loads `partition_keys × items_per_partition_key` items (for `Get` and `Query`).
    ///
    /// # Errors
    /// Write errors.
    pub fn load(&self) -> Result<(), DbError> {
        for p in 0..self.cfg.partition_keys {
            let pk = format!("p{p:06}");
            for s in 0..self.cfg.items_per_partition_key {
                self.table
                    .put_item(self.make_item(&pk, sort_key(s)), PutOptions::default())?;
            }
        }
        Ok(())
    }

    /// Flushes the table's memtables, so that reads come from SSTables (through the
    /// block cache) rather than from memory.
    ///
    /// # Errors
    /// Storage errors.
    pub fn flush(&self) -> Result<(), DbError> {
        self.table.flush()
    }

    fn one(&self, op: ItemOp, rng: &mut StdRng) -> Result<u64, DbError> {
        match op {
            ItemOp::Put => {
                let i = self.next_put.fetch_add(1, Ordering::Relaxed);
                let pk = format!("w{:08}", i / 100);
                self.table.put_item(
                    self.make_item(&pk, sort_key(i % 100)),
                    PutOptions::default(),
                )?;
                Ok(1)
            }
            ItemOp::Get => {
                let p = rng.random_range(0..self.cfg.partition_keys.max(1));
                let s = rng.random_range(0..self.cfg.items_per_partition_key.max(1));
                let mut key = Item::new();
                key.insert("pk", format!("p{p:06}"));
                key.insert("sk", sort_key(s));
                let got = self.table.get_item(key, GetOptions::default())?;
                Ok(u64::from(got.item.is_some()))
            }
            ItemOp::Query => {
                let p = rng.random_range(0..self.cfg.partition_keys.max(1));
                let page = self.table.query(
                    "pk = :p",
                    QueryOptions::default()
                        .value(":p", format!("p{p:06}"))
                        .limit(self.cfg.query_page),
                )?;
                Ok(page.count as u64)
            }
        }
    }

    /// Runs `ops_per_thread` operations on each of `threads` threads.
    ///
    /// # Errors
    /// The first error of any operation.
    pub fn run(
        &self,
        op: ItemOp,
        threads: usize,
        ops_per_thread: u64,
    ) -> Result<RunReport, DbError> {
        let threads = threads.max(1);
        let start = Instant::now();
        let results: Vec<Result<u64, DbError>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    s.spawn(move || {
                        let mut rng = StdRng::seed_from_u64(t as u64 ^ 0x5eed);
                        let mut items = 0;
                        for _ in 0..ops_per_thread {
                            items += self.one(op, &mut rng)?;
                        }
                        Ok(items)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(DbError::invalid("a benchmark thread panicked")))
                })
                .collect()
        });
        let elapsed = start.elapsed();
        let mut items = 0;
        for r in results {
            items += r?;
        }
        Ok(RunReport {
            ops: ops_per_thread * threads as u64,
            items,
            elapsed,
        })
    }

    /// Closes the database.
    ///
    /// # Errors
    /// As [`Db::close`].
    pub fn close(&self) -> Result<(), DbError> {
        self.db.close()
    }
}
