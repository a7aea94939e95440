//! The item workloads on one table of a [`Db`]: `putitem`, `getitem`, `query`,
//! `updateitem` and the YCSB mixes.
//!
//! The table `bench` has keys `pk` (S) and `sk` (N), `--partitions` hash partitions
//! and `--gsis` global secondary indexes (index `gsiN` keyed by the item's `gN` (S)
//! and `sk`, projecting all attributes). Items carry a `data` string of
//! `--value-size` bytes. Reads and updates run on `--records` loaded items, 100 per
//! partition key (`p000000`, `p000001`...), loaded untimed when missing and flushed
//! to SSTables; `putitem` writes new keys (`w00000000`...).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use rand::SeedableRng;
use rand::rngs::StdRng;
use strata_engine::lsm::TreeStats;
use strata_engine::{
    Db, DbError, DbOptions, GetOptions, GsiSpec, PutOptions, QueryOptions, Table, TableDurability,
    TableSpec, UpdateOptions, WriteRequest,
};
use strata_item::{Item, KeySchema, KeyType};

use super::BenchError;
use super::keys::{KeyChooser, KeyDistribution, Mix, thread_seed};
use super::measure::{self, OpOutcome, Timed};
use super::options::{DurabilityArg, Plan, Workload};
use super::progress;
use super::report::WorkloadReport;
use super::tree::{wait_for_compactions, write_amplification};

/// The table's name.
pub const TABLE: &str = "bench";
/// Loaded items per partition key (one query page).
pub const PER_KEY: u64 = 100;
/// Distinct values of each GSI key attribute.
const GSI_KEYS: u64 = 97;

/// The YCSB variants `mixed` runs, in order.
pub const MIXES: [(Mix, KeyDistribution); 4] = [
    (Mix::A, KeyDistribution::Uniform),
    (Mix::A, KeyDistribution::Zipfian),
    (Mix::B, KeyDistribution::Uniform),
    (Mix::B, KeyDistribution::Zipfian),
];

/// An open item benchmark database.
#[derive(Debug)]
pub struct Items {
    db: Db,
    table: Table,
    dir: std::path::PathBuf,
    data: String,
    gsis: u32,
    records: u64,
    next_put: AtomicU64,
}

fn spec(plan: &Plan) -> TableSpec {
    let mut spec = TableSpec::new(
        TABLE,
        KeySchema::composite("pk", KeyType::S, "sk", KeyType::N),
    )
    .partitions(plan.partitions)
    .durability(match plan.item_durability {
        DurabilityArg::Sync => TableDurability::Sync,
        DurabilityArg::Buffered => TableDurability::Buffered,
    });
    for g in 0..plan.gsis {
        spec = spec.gsi(GsiSpec::new(
            format!("gsi{g}"),
            KeySchema::composite(format!("g{g}"), KeyType::S, "sk", KeyType::N),
        ));
    }
    spec
}

/// The key of loaded record `r`.
fn record_key(r: u64) -> Item {
    let mut key = Item::new();
    key.insert("pk", format!("p{:06}", r / PER_KEY));
    key.insert("sk", sort_key(r % PER_KEY));
    key
}

fn sort_key(i: u64) -> i64 {
    i64::try_from(i).unwrap_or(i64::MAX)
}

impl Items {
    /// Opens (or creates) the database in `dir` with the workloads' table.
    ///
    /// # Errors
    /// Engine errors; [`BenchError::Options`] if `dir` holds a `bench` table of
    /// another shape.
    pub fn open(dir: &Path, db_opts: DbOptions, plan: &Plan) -> Result<Items, BenchError> {
        let db = Db::open(dir, db_opts)?;
        let want = spec(plan);
        match db.describe_table(TABLE) {
            Ok(d) => {
                let have = &d.spec;
                if have.partitions != want.partitions
                    || have.durability != want.durability
                    || have.global_secondary_indexes.len() != want.global_secondary_indexes.len()
                {
                    return Err(BenchError::Options(format!(
                        "{} already holds a table {TABLE:?} with {} partitions, {} GSIs and {:?} durability; give another --db or the same options",
                        dir.display(),
                        have.partitions,
                        have.global_secondary_indexes.len(),
                        have.durability
                    )));
                }
            }
            Err(DbError::TableNotFound { .. }) => {
                db.create_table(want)?;
            }
            Err(e) => return Err(e.into()),
        }
        let table = db.table(TABLE)?;
        Ok(Items {
            db,
            table,
            dir: dir.to_path_buf(),
            data: "x".repeat(plan.item_data_size),
            gsis: plan.gsis,
            records: plan.records,
            next_put: AtomicU64::new(0),
        })
    }

    /// An item with this key.
    fn item(&self, pk: String, sk: u64) -> Item {
        let mut item = Item::new();
        item.insert("pk", pk);
        item.insert("sk", sort_key(sk));
        for g in 0..self.gsis {
            item.insert(
                format!("g{g}"),
                format!("g{}", (sk + u64::from(g)) % GSI_KEYS),
            );
        }
        item.insert("data", self.data.as_str());
        item
    }

    /// DynamoDB size of a loaded item.
    fn item_size(&self) -> usize {
        self.item("p000000".into(), 0).size()
    }

    /// Loads the records unless the last one is there (batches of 25, retrying
    /// unprocessed items), then flushes.
    fn ensure_loaded(&self) -> Result<(), BenchError> {
        let last = self.records - 1;
        if self
            .table
            .get_item(record_key(last), GetOptions::default())?
            .item
            .is_some()
        {
            return Ok(());
        }
        let bar = progress::bar("load", self.records);
        let mut r = 0;
        while r < self.records {
            let end = (r + 25).min(self.records);
            let mut batch: Vec<WriteRequest> = (r..end)
                .map(|i| WriteRequest::Put(self.item(format!("p{:06}", i / PER_KEY), i % PER_KEY)))
                .collect();
            while !batch.is_empty() {
                let out = self.db.batch_write_item([(TABLE, batch)])?;
                batch = out.unprocessed_items.into_values().flatten().collect();
            }
            bar.inc(end - r);
            r = end;
        }
        bar.set_message("load: flushing");
        self.table.flush()?;
        self.settle()?;
        bar.finish_and_clear();
        Ok(())
    }

    /// Flushes, lets compactions and GSI maintenance catch up (up to a minute each).
    fn settle(&self) -> Result<(), BenchError> {
        self.table.flush()?;
        let table = &self.table;
        wait_for_compactions(|| {
            table
                .partition_stats()
                .map(|s| s.iter().map(|s| s.compactions).sum())
                .unwrap_or(0)
        });
        let start = Instant::now();
        while self.gsis > 0 && start.elapsed() < Duration::from_secs(60) {
            let d = self.db.describe_table(TABLE)?;
            if d.global_secondary_indexes
                .iter()
                .all(|g| g.lag_records == 0)
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    fn stats(&self) -> Result<Vec<TreeStats>, BenchError> {
        Ok(self.table.partition_stats()?)
    }

    /// Runs item workload `w` (for `mixed`, the four YCSB variants).
    ///
    /// # Errors
    /// Engine errors.
    pub fn run(&self, w: Workload, plan: &Plan) -> Result<Vec<WorkloadReport>, BenchError> {
        if w != Workload::PutItem {
            self.ensure_loaded()?;
        }
        match w {
            Workload::Mixed => MIXES
                .iter()
                .map(|&(mix, dist)| {
                    let name = format!("mixed-{}-{}", mix.name(), dist.name());
                    self.measure(&name, w, true, plan, |bar| self.mixed(mix, dist, plan, bar))
                })
                .collect(),
            Workload::PutItem | Workload::UpdateItem => {
                let r = self.measure(w.name(), w, true, plan, |bar| self.timed(w, plan, bar))?;
                Ok(vec![r])
            }
            _ => {
                let r = self.measure(w.name(), w, false, plan, |bar| self.timed(w, plan, bar))?;
                Ok(vec![r])
            }
        }
    }

    fn measure(
        &self,
        name: &str,
        w: Workload,
        writes: bool,
        plan: &Plan,
        phase: impl FnOnce(&ProgressBar) -> Result<Timed, BenchError>,
    ) -> Result<WorkloadReport, BenchError> {
        let before = self.stats()?;
        let bar = progress::bar(name, plan.num_for(w));
        measure::reset_peak_memory();
        let timed = phase(&bar)?;
        bar.finish_and_clear();
        if writes {
            self.settle()?;
        }
        let peak = measure::peak_memory();
        let after = self.stats()?;
        let mut r = WorkloadReport::from_timed(name.to_string(), plan.threads, &timed);
        if writes {
            r.write_amplification = write_amplification(&before, &after);
        }
        r.bytes_on_disk = measure::dir_bytes(&self.dir)?;
        let live = self.table.item_stats()?.bytes;
        r.space_amplification = measure::space_amplification(r.bytes_on_disk, live);
        r.peak_memory_bytes = peak;
        Ok(r)
    }

    fn timed(&self, w: Workload, plan: &Plan, bar: &ProgressBar) -> Result<Timed, BenchError> {
        let num = plan.num_for(w);
        let size = self.item_size();
        let records = KeyChooser::new(KeyDistribution::Uniform, self.records);
        let pks = KeyChooser::new(KeyDistribution::Uniform, self.records.div_ceil(PER_KEY));
        let rng_of = |t: usize| StdRng::seed_from_u64(thread_seed(plan.seed, w.name(), t));
        let (records, pks) = (&records, &pks);
        match w {
            Workload::PutItem => measure::timed_threads(plan.threads, num, bar, |_, _| {
                Ok(move |_| {
                    let n = self.next_put.fetch_add(1, Ordering::Relaxed);
                    self.table.put_item(
                        self.item(format!("w{:08}", n / PER_KEY), n % PER_KEY),
                        PutOptions::default(),
                    )?;
                    Ok(OpOutcome::hit(size))
                })
            }),
            Workload::GetItem => measure::timed_threads(plan.threads, num, bar, |t, _| {
                let mut rng = rng_of(t);
                Ok(move |_| self.get(records.next(&mut rng), size))
            }),
            Workload::UpdateItem => measure::timed_threads(plan.threads, num, bar, |t, _| {
                let mut rng = rng_of(t);
                Ok(move |_| self.update(records.next(&mut rng), size))
            }),
            Workload::Query => measure::timed_threads(plan.threads, num, bar, |t, _| {
                let mut rng = rng_of(t);
                Ok(move |_| {
                    let p = pks.next(&mut rng);
                    let page = self.table.query(
                        "pk = :p",
                        QueryOptions::default()
                            .value(":p", format!("p{p:06}"))
                            .limit(PER_KEY as usize),
                    )?;
                    Ok(OpOutcome {
                        bytes: (page.count * size) as u64,
                        found: page.count > 0,
                    })
                })
            }),
            other => Err(BenchError::Internal(format!(
                "{other} is not a single item workload"
            ))),
        }
    }

    fn get(&self, record: u64, size: usize) -> Result<OpOutcome, BenchError> {
        let got = self
            .table
            .get_item(record_key(record), GetOptions::default())?;
        Ok(if got.item.is_some() {
            OpOutcome::hit(size)
        } else {
            OpOutcome::miss()
        })
    }

    fn update(&self, record: u64, size: usize) -> Result<OpOutcome, BenchError> {
        self.table.update_item(
            record_key(record),
            UpdateOptions::default()
                .update("ADD hits :one")
                .value(":one", 1),
        )?;
        Ok(OpOutcome::hit(size))
    }

    fn mixed(
        &self,
        mix: Mix,
        dist: KeyDistribution,
        plan: &Plan,
        bar: &ProgressBar,
    ) -> Result<Timed, BenchError> {
        let size = self.item_size();
        let records = KeyChooser::new(dist, self.records);
        let records = &records;
        measure::timed_threads(plan.threads, plan.num_for(Workload::Mixed), bar, |t, _| {
            let tag = format!("mixed-{}-{}", mix.name(), dist.name());
            let mut rng = StdRng::seed_from_u64(thread_seed(plan.seed, &tag, t));
            Ok(move |_| {
                let r = records.next(&mut rng);
                if mix.next_is_read(&mut rng) {
                    self.get(r, size)
                } else {
                    self.update(r, size)
                }
            })
        })
    }

    /// Closes the database.
    ///
    /// # Errors
    /// As [`Db::close`].
    pub fn close(self) -> Result<(), BenchError> {
        drop(self.table);
        self.db.close()?;
        Ok(())
    }
}
