//! [`TableCore`]: one open table — its spec, its partitions, and the hooks (change
//! sink, capacity meter) it reports to. Shared by every [`crate::Table`] handle.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use parking_lot::{MappedRwLockReadGuard, RwLock, RwLockReadGuard};
use strata_fs::FileSystem;
use strata_wal::Durability;

use crate::gsi::{GsiShadow, TableGsi, Waker, gsi_dir};
use crate::lsm::{SharedResources, TreeOptions};

use super::error::DbError;
use super::feed::ChangeSink;
use super::gate::{GateToken, OpGate, Shut};
use super::partition::Partition;
use super::spec::{TableDurability, TableSpec};
use crate::capacity::limiter::{BillingConfig, IndexBudgets, TableCapacity, Throttle};
use crate::capacity::registry::CapacityRegistry;
use crate::capacity::{Budget, CapacityMeter, ConsumedCapacity, OpInfo, OpKind};

/// What every table of a `Db` reports to.
#[derive(Debug, Clone)]
pub(crate) struct Hooks {
    /// Receives every item change (none by default).
    pub change_sink: Option<Arc<dyn ChangeSink>>,
    /// Admits operations and is told what they consumed.
    pub capacity: Arc<dyn CapacityMeter>,
    /// Every table's token buckets (the built-in enforcement).
    pub capacity_registry: Arc<CapacityRegistry>,
    /// Wakes the Db's GSI maintainer (base trees call it when their log grows).
    pub gsi_waker: Arc<Waker>,
    /// When a lagging GSI slows and stops base writes (`DbOptions::index_pressure`).
    pub index_pressure: strata_index::PressureBounds,
    /// How long a stopped base write waits before failing
    /// (`DbOptions::index_pressure_wait`).
    pub index_pressure_wait: std::time::Duration,
    /// The size of a GSI backfill page (`DbOptions::index_backfill_page`).
    pub index_backfill_page: crate::gsi::backfill::BackfillPage,
    /// The most bytes of one item collection (`DbOptions::item_collection_limit_bytes`).
    pub item_collection_limit: u64,
    /// The clock [`crate::Table::item_stats_cached`] ages its figures by (the
    /// capacity clock, `DbOptions::clock`).
    pub clock: Arc<dyn crate::capacity::Clock>,
    /// How old cached item statistics may be (`DbOptions::item_stats_max_age`).
    pub item_stats_max_age: std::time::Duration,
}

/// An open table.
///
/// Operations enter through `gate` (never blocking) and then read `parts`; a
/// shutdown shuts the gate, waits for the operations already admitted, and only then
/// takes `parts` (uncontended by then) to close and drop the partitions.
#[derive(Debug)]
pub(crate) struct TableCore {
    pub id: u64,
    pub spec: TableSpec,
    pub durability: Durability,
    pub hooks: Hooks,
    /// The GSIs' definitions, in spec order.
    pub gsi_defs: Vec<strata_index::GsiDef>,
    /// The GSIs' catalog ids (directory names), in spec order.
    pub gsi_ids: Vec<u32>,
    /// The GSIs' maintenance state (empty without GSIs).
    pub gsi: TableGsi,
    /// The table's token buckets (shared with the cores that replace this one).
    pub capacity: Arc<TableCapacity>,
    /// Each GSI's capacity budgets, in spec order.
    pub gsi_budgets: Vec<Arc<IndexBudgets>>,
    /// The last [`crate::Table::item_stats`] figures and when (by `hooks.clock`)
    /// they were counted.
    pub stats_cache: parking_lot::Mutex<Option<(std::time::Duration, super::ItemStats)>>,
    gate: OpGate,
    /// `None` once shut down.
    parts: RwLock<Option<Shards>>,
}

/// The trees of an open table: its partitions and its GSIs' shadow trees.
#[derive(Debug)]
pub(crate) struct Shards {
    pub parts: Vec<Partition>,
    /// In the order of `spec.global_secondary_indexes`.
    pub gsis: Vec<GsiShadow>,
}

/// All trees of an open table, held open like [`Partitions`].
pub(crate) struct ShardsGuard<'a> {
    shards: MappedRwLockReadGuard<'a, Shards>,
    _token: GateToken<'a>,
}

impl std::ops::Deref for ShardsGuard<'_> {
    type Target = Shards;

    fn deref(&self) -> &Shards {
        &self.shards
    }
}

/// The partitions of an open table, held open (against `delete_table` and `close`)
/// while this lives. Dereferences to the partitions.
pub(crate) struct Partitions<'a> {
    // Field order matters: the read guard is released before the gate token.
    parts: MappedRwLockReadGuard<'a, [Partition]>,
    _token: GateToken<'a>,
}

impl std::ops::Deref for Partitions<'_> {
    type Target = [Partition];

    fn deref(&self) -> &[Partition] {
        &self.parts
    }
}

/// What every table of a `Db` is opened with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OpenEnv<'a> {
    pub fs: &'a Arc<dyn FileSystem>,
    pub tree_opts: &'a TreeOptions,
    pub shared: &'a SharedResources,
    pub hooks: &'a Hooks,
}

/// Whether [`TableCore::open`] creates the table's directories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Existing {
    /// A table the catalog names: its directories were made durable before the
    /// catalog named it, so a missing one is damage, not something to recreate empty.
    MustExist,
    /// A table being created.
    Create,
}

/// The directory name of a partition inside its table's directory.
pub(crate) fn partition_dir_name(index: u32) -> String {
    format!("p{index:04}")
}

impl TableCore {
    /// Opens every partition tree of a table in `dir` (creating them for
    /// [`Existing::Create`]).
    pub(crate) fn open(
        env: &OpenEnv<'_>,
        dir: &Path,
        id: u64,
        spec: TableSpec,
        gsi_ids: &[u32],
        existing: Existing,
    ) -> Result<TableCore, DbError> {
        // A new table's GSIs get ids 0, 1, ... (as `TableEntry::new` gives them).
        let gsi_ids: Vec<u32> = match existing {
            Existing::Create => (0u32..).take(spec.global_secondary_indexes.len()).collect(),
            Existing::MustExist => gsi_ids.to_vec(),
        };
        if gsi_ids.len() != spec.global_secondary_indexes.len() {
            return Err(DbError::invalid(format!(
                "table {}: {} GSI ids for {} GSIs",
                spec.name,
                gsi_ids.len(),
                spec.global_secondary_indexes.len()
            )));
        }
        let capacity = env
            .hooks
            .capacity_registry
            .table(id, &spec.name, spec.partitions, &billing_config(&spec))
            .map_err(|reason| DbError::InvalidTableSpec {
                table: spec.name.clone(),
                reason,
            })?;
        let gsi_budgets = capacity.index_budgets(
            spec.global_secondary_indexes
                .iter()
                .map(|g| g.name.as_str()),
        );
        let fs = env.fs;
        match existing {
            Existing::Create => fs.create_dir_all(dir).map_err(|e| DbError::io(dir, e))?,
            Existing::MustExist => {
                for p in 0..spec.partitions {
                    let pdir = dir.join(partition_dir_name(p));
                    if !fs.is_dir(&pdir) {
                        return Err(DbError::Corruption {
                            table: spec.name.clone(),
                            partition: p,
                            reason: format!(
                                "the catalog names the table but its partition directory {} is missing",
                                pdir.display()
                            ),
                        });
                    }
                }
            }
        }
        let durability = match spec.durability {
            TableDurability::Sync => Durability::Sync,
            TableDurability::Buffered => Durability::Buffered,
        };
        let mut tree_opts = env.tree_opts.clone();
        tree_opts.fs = Arc::clone(fs);
        tree_opts.shared = Some(env.shared.clone());
        let gsis = open_gsis(env, dir, &spec, &gsi_ids, &tree_opts, existing)?;
        let gsi = match TableGsi::new(&spec, &gsis) {
            Ok(g) => g,
            Err(e) => {
                close_gsis(&gsis);
                return Err(e);
            }
        };
        let mut parts = Vec::with_capacity(spec.partitions as usize);
        for p in 0..spec.partitions {
            let mut opts = tree_opts.clone();
            if !gsis.is_empty() {
                let floors = Arc::clone(&gsi.floors);
                opts.wal_retention_floor = Some(Arc::new(move || {
                    floors
                        .get(p as usize)
                        .map_or(0, |f| f.load(Ordering::Acquire))
                }));
                let waker = Arc::clone(&env.hooks.gsi_waker);
                opts.on_durable = Some(Arc::new(move |_lsn| waker.wake()));
            }
            let pdir = dir.join(partition_dir_name(p));
            match Partition::open(&pdir, p, opts) {
                Ok(part) => parts.push(part),
                Err(source) => {
                    for part in &parts {
                        if let Err(e) = part.tree.close() {
                            tracing::warn!(error = %e, "closing a partition after a failed open");
                        }
                    }
                    close_gsis(&gsis);
                    return Err(DbError::Storage {
                        table: spec.name.clone(),
                        partition: p,
                        source,
                    });
                }
            }
        }
        // Make the partition directories' entries durable.
        if let Err(e) = fs.sync_dir(dir) {
            for part in &parts {
                if let Err(e) = part.tree.close() {
                    tracing::warn!(error = %e, "closing a partition after a failed open");
                }
            }
            close_gsis(&gsis);
            return Err(DbError::io(dir, e));
        }
        Ok(TableCore {
            id,
            gsi_defs: spec
                .global_secondary_indexes
                .iter()
                .map(|g| g.def())
                .collect(),
            gsi_ids,
            spec,
            durability,
            hooks: env.hooks.clone(),
            gsi,
            capacity,
            gsi_budgets,
            stats_cache: parking_lot::Mutex::new(None),
            gate: OpGate::default(),
            parts: RwLock::new(Some(Shards { parts, gsis })),
        })
    }

    /// The table's name.
    pub(crate) fn name(&self) -> &str {
        &self.spec.name
    }

    pub(crate) fn shut_error(&self, why: Shut) -> DbError {
        match why {
            Shut::Closed => DbError::Closed,
            Shut::Replaced => DbError::TableUpdating {
                table: self.spec.name.clone(),
            },
            Shut::Deleted => DbError::TableNotFound {
                table: self.spec.name.clone(),
            },
        }
    }

    /// The partitions, held open (against `delete_table` and `close`) while the
    /// guard lives. Never blocks: once the table is being deleted (closed) this fails
    /// at once with `TableNotFound` (`Closed`). A callback of an operation (change
    /// sink, capacity meter) may take it again.
    pub(crate) fn partitions(&self) -> Result<Partitions<'_>, DbError> {
        let token = self.gate.enter().map_err(|why| self.shut_error(why))?;
        // Admitted: no shutdown takes the write lock before the token is dropped.
        let guard = self.parts.read_recursive();
        let parts = RwLockReadGuard::try_map(guard, |p| p.as_ref().map(|s| s.parts.as_slice()))
            .map_err(|_| self.shut_error(Shut::Closed))?;
        Ok(Partitions {
            parts,
            _token: token,
        })
    }

    /// Enters an operation on the table: while the token lives, the table's trees stay
    /// open and nested [`TableCore::partitions`] calls of this thread succeed.
    pub(crate) fn enter(&self) -> Result<GateToken<'_>, Shut> {
        self.gate.enter()
    }

    /// Each base partition's last LSN, with its WAL synced (so every record up to it
    /// is durable). For a stopped table (no write runs), the snapshot LSNs of a
    /// backfill.
    ///
    /// # Errors
    /// Storage errors syncing; [`DbError::Closed`] once the trees are closed.
    pub(crate) fn last_lsns(&self) -> Result<Vec<u64>, DbError> {
        let guard = self.parts.read();
        let shards = guard.as_ref().ok_or(DbError::Closed)?;
        shards
            .parts
            .iter()
            .map(|p| p.tree.sync_wal().map_err(|e| self.storage(p.index, e)))
            .collect()
    }

    /// All trees of the table (partitions and GSI shadow trees), held open like
    /// [`TableCore::partitions`].
    pub(crate) fn shards(&self) -> Result<ShardsGuard<'_>, DbError> {
        let token = self.gate.enter().map_err(|why| self.shut_error(why))?;
        let guard = self.parts.read_recursive();
        let shards = RwLockReadGuard::try_map(guard, |p| p.as_ref())
            .map_err(|_| self.shut_error(Shut::Closed))?;
        Ok(ShardsGuard {
            shards,
            _token: token,
        })
    }

    /// Refuses every later operation (they fail with `TableNotFound` if `why` is
    /// `Deleted`, else `Closed`) and waits for the operations in flight, which are
    /// bounded: a page of a query or scan, a batch, one write. Idempotent (the first
    /// reason stays).
    ///
    /// # Errors
    /// [`DbError::InvalidRequest`] when called from inside an operation on this table
    /// (a change sink or capacity meter callback): it would wait for itself. Nothing
    /// is changed then.
    pub(crate) fn stop(&self, why: Shut) -> Result<(), DbError> {
        self.check_not_inside()?;
        self.gate.shut(why);
        self.gate.wait_idle();
        Ok(())
    }

    /// Refuses every later operation (see [`TableCore::stop`]) without waiting for
    /// those in flight.
    pub(crate) fn refuse_new(&self, why: Shut) {
        self.gate.shut(why);
    }

    /// Fails if the calling thread is inside an operation on this table.
    pub(crate) fn check_not_inside(&self) -> Result<(), DbError> {
        if self.gate.held_by_current_thread() {
            return Err(DbError::invalid(format!(
                "table {} cannot be deleted or closed from inside one of its own operations (a change sink or capacity meter callback): it would wait for itself",
                self.spec.name
            )));
        }
        Ok(())
    }

    /// Stops the table (see [`TableCore::stop`]) and closes every partition, which
    /// flushes its memtables (so `Buffered` writes acknowledged before survive) and
    /// releases its files. Later calls do nothing.
    ///
    /// # Errors
    /// As [`TableCore::stop`]; the first partition that fails to close (the others are
    /// still closed).
    pub(crate) fn shutdown(&self, why: Shut) -> Result<(), DbError> {
        self.stop(why)?;
        // Uncontended: every admitted operation has left and no new one reads `parts`.
        let Some(shards) = self.parts.write().take() else {
            return Ok(());
        };
        let mut first_err = None;
        for (g, shadow) in shards.gsis.iter().enumerate() {
            if let Err((partition, source)) = shadow.close() {
                tracing::warn!(table = self.spec.name, index = %shadow.def.name, partition,
                    error = %source, "closing an index partition failed");
                if first_err.is_none() {
                    first_err = Some(self.index_storage(g, partition, source));
                }
            }
        }
        for p in &shards.parts {
            if let Err(source) = p.tree.close()
                && first_err.is_none()
            {
                first_err = Some(DbError::Storage {
                    table: self.spec.name.clone(),
                    partition: p.index,
                    source,
                });
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    fn op(&self, partition: Option<u32>, kind: OpKind) -> OpInfo<'_> {
        OpInfo {
            table: &self.spec.name,
            table_id: self.id,
            partition,
            kind,
        }
    }

    /// The error of a refused operation.
    fn throttled(&self, t: Throttle) -> DbError {
        DbError::Throttled {
            table: self.spec.name.clone(),
            budget: t.budget,
            kind: t.kind,
            retry_after: t.retry_after,
            reason: t.reason,
        }
    }

    /// Asks the user's capacity meter whether the operation may run.
    pub(crate) fn meter_admit(&self, partition: Option<u32>, kind: OpKind) -> Result<(), DbError> {
        self.hooks
            .capacity
            .admit(&self.op(partition, kind))
            .map_err(|reason| DbError::Throttled {
                table: self.spec.name.clone(),
                budget: Budget::Meter,
                kind,
                retry_after: std::time::Duration::ZERO,
                reason,
            })
    }

    /// Asks the capacity meter whether the operation may run and, for a read of the
    /// table (of `partition`, or a scan for `None`), whether the table's read buckets
    /// are out of debt. Writes are checked with [`TableCore::take_write`], once their
    /// units are known.
    pub(crate) fn admit(&self, partition: Option<u32>, kind: OpKind) -> Result<(), DbError> {
        self.meter_admit(partition, kind)?;
        if kind == OpKind::Read {
            self.admit_read_buckets(partition)?;
        }
        Ok(())
    }

    /// Whether the table's (and `partition`'s) read buckets admit a read now.
    pub(crate) fn admit_read_buckets(&self, partition: Option<u32>) -> Result<(), DbError> {
        self.capacity
            .admit_read(partition)
            .map_err(|t| self.throttled(t))
    }

    /// Charges a read's units to the table's (and `partition`'s) read buckets, and
    /// each GSI's for what it read of that index.
    pub(crate) fn charge_read_buckets(&self, partition: Option<u32>, units: &ConsumedCapacity) {
        self.capacity
            .charge_read(partition, units, &self.gsi_budgets);
    }

    /// Tells the user's capacity meter what the operation consumed.
    pub(crate) fn meter_consumed(
        &self,
        partition: Option<u32>,
        kind: OpKind,
        units: &ConsumedCapacity,
    ) {
        self.hooks
            .capacity
            .consumed(&self.op(partition, kind), units);
    }

    /// As [`TableCore::admit`] for a read of the GSI at `ordinal` (its own read
    /// bucket, not the table's).
    pub(crate) fn admit_index_read(&self, ordinal: usize) -> Result<(), DbError> {
        self.meter_admit(None, OpKind::Read)?;
        match self.gsi_budgets.get(ordinal) {
            Some(b) => self
                .capacity
                .admit_index_read(b)
                .map_err(|t| self.throttled(t)),
            None => Ok(()),
        }
    }

    /// The one point where a write's capacity is enforced: takes its units (the table
    /// and LSI units from the table's and `partition`'s buckets, each GSI's from that
    /// index's) all or nothing, before anything is written.
    ///
    /// # Errors
    /// [`DbError::Throttled`] naming the budget that cannot absorb its share.
    pub(crate) fn take_write(
        &self,
        partition: u32,
        units: &ConsumedCapacity,
    ) -> Result<(), DbError> {
        self.capacity
            .take_write(partition, units, &self.gsi_budgets)
            .map_err(|t| self.throttled(t))
    }

    /// Gives back the units [`TableCore::take_write`] took for a write that was not
    /// committed after all.
    pub(crate) fn give_back_write(&self, partition: u32, units: &ConsumedCapacity) {
        self.capacity
            .give_back_write(partition, units, &self.gsi_budgets);
    }

    /// Tells the capacity meter what the operation consumed; a read is charged to the
    /// buckets here (its units are known only now).
    pub(crate) fn charge(&self, partition: Option<u32>, kind: OpKind, units: &ConsumedCapacity) {
        if kind == OpKind::Read {
            self.charge_read_buckets(partition, units);
        }
        self.meter_consumed(partition, kind, units);
    }

    /// Maps a tree error of partition `partition` of the GSI at `ordinal`.
    pub(crate) fn index_storage(
        &self,
        ordinal: usize,
        partition: u32,
        source: crate::lsm::Error,
    ) -> DbError {
        let index = self
            .spec
            .global_secondary_indexes
            .get(ordinal)
            .map_or("?", |g| g.name.as_str());
        DbError::IndexStorage {
            table: self.spec.name.clone(),
            index: index.to_owned(),
            partition,
            source: Box::new(source),
        }
    }

    /// Maps a tree error of partition `p`.
    pub(crate) fn storage(&self, partition: u32, source: crate::lsm::Error) -> DbError {
        DbError::Storage {
            table: self.spec.name.clone(),
            partition,
            source,
        }
    }
}

/// The billing settings of `spec`, as the capacity limiter takes them.
pub(crate) fn billing_config(spec: &TableSpec) -> BillingConfig {
    BillingConfig {
        mode: spec.capacity,
        on_demand: spec.on_demand_throughput,
        gsis: spec
            .global_secondary_indexes
            .iter()
            .map(|g| (g.name.clone(), g.provisioned_throughput))
            .collect(),
    }
}

/// Opens (or creates) the shadow trees of every GSI of `spec`.
fn open_gsis(
    env: &OpenEnv<'_>,
    dir: &Path,
    spec: &TableSpec,
    ids: &[u32],
    tree_opts: &TreeOptions,
    existing: Existing,
) -> Result<Vec<GsiShadow>, DbError> {
    let mut out: Vec<GsiShadow> = Vec::with_capacity(spec.global_secondary_indexes.len());
    let create = existing == Existing::Create;
    // An index's torn WAL tail holds nothing that cannot be derived again from the
    // base WAL (from the durable checkpoint): never refuse to open for one.
    let mut tree_opts = tree_opts.clone();
    if tree_opts.wal_loss_policy == crate::lsm::WalLossPolicy::RefuseAny {
        tree_opts.wal_loss_policy = crate::lsm::WalLossPolicy::RefuseUnlessTornTail;
    }
    let tree_opts = &tree_opts;
    for (g, &id) in spec.global_secondary_indexes.iter().zip(ids) {
        let gdir = gsi_dir(dir, id);
        if create {
            let made = env
                .fs
                .create_dir_all(&gdir)
                .map_err(|e| DbError::io(&gdir, e));
            if let Err(e) = made {
                close_gsis(&out);
                return Err(e);
            }
        }
        let start = create.then_some(&strata_index::IndexStart::Empty);
        match GsiShadow::open(env.fs, &gdir, g.def(), spec.partitions, tree_opts, start) {
            Ok(s) => out.push(s),
            Err((partition, source)) => {
                close_gsis(&out);
                return Err(DbError::IndexStorage {
                    table: spec.name.clone(),
                    index: g.name.clone(),
                    partition,
                    source: Box::new(source),
                });
            }
        }
        if create {
            // The index's partition directories are durable before the catalog names it.
            let synced = env
                .fs
                .sync_dir(&gdir)
                .and_then(|()| env.fs.sync_dir(gdir.parent().unwrap_or(dir)))
                .map_err(|e| DbError::io(&gdir, e));
            if let Err(e) = synced {
                close_gsis(&out);
                return Err(e);
            }
        }
    }
    Ok(out)
}

fn close_gsis(gsis: &[GsiShadow]) {
    for g in gsis {
        if let Err((p, e)) = g.close() {
            tracing::warn!(index = %g.def.name, partition = p, error = %e,
                "closing an index partition after a failed open");
        }
    }
}
