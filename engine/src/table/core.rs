//! [`TableCore`]: one open table — its spec, its partitions, and the hooks (change
//! sink, capacity meter) it reports to. Shared by every [`crate::Table`] handle.

use std::path::Path;
use std::sync::Arc;

use parking_lot::{MappedRwLockReadGuard, RwLock, RwLockReadGuard};
use strata_fs::FileSystem;
use strata_wal::Durability;

use crate::lsm::{SharedResources, TreeOptions};

use super::capacity::{CapacityMeter, ConsumedCapacity, OpInfo, OpKind};
use super::error::DbError;
use super::feed::ChangeSink;
use super::partition::Partition;
use super::spec::{TableDurability, TableSpec};

/// What every table of a `Db` reports to.
#[derive(Debug, Clone)]
pub(crate) struct Hooks {
    /// Receives every item change (none by default).
    pub change_sink: Option<Arc<dyn ChangeSink>>,
    /// Admits operations and is told what they consumed.
    pub capacity: Arc<dyn CapacityMeter>,
}

#[derive(Debug)]
enum TableState {
    Open(Vec<Partition>),
    Deleted,
    Closed,
}

/// An open table.
#[derive(Debug)]
pub(crate) struct TableCore {
    pub id: u64,
    pub spec: TableSpec,
    pub durability: Durability,
    pub hooks: Hooks,
    state: RwLock<TableState>,
}

/// The directory name of a partition inside its table's directory.
pub(crate) fn partition_dir_name(index: u32) -> String {
    format!("p{index:04}")
}

impl TableCore {
    /// Opens (creating if needed) every partition tree of a table in `dir`.
    pub(crate) fn open(
        fs: &Arc<dyn FileSystem>,
        dir: &Path,
        id: u64,
        spec: TableSpec,
        tree_opts: &TreeOptions,
        shared: &SharedResources,
        hooks: Hooks,
    ) -> Result<TableCore, DbError> {
        fs.create_dir_all(dir).map_err(|e| DbError::io(dir, e))?;
        let mut parts = Vec::with_capacity(spec.partitions as usize);
        for p in 0..spec.partitions {
            let mut opts = tree_opts.clone();
            opts.fs = Arc::clone(fs);
            opts.shared = Some(shared.clone());
            let pdir = dir.join(partition_dir_name(p));
            match Partition::open(&pdir, p, opts) {
                Ok(part) => parts.push(part),
                Err(source) => {
                    for part in &parts {
                        if let Err(e) = part.tree.close() {
                            tracing::warn!(error = %e, "closing a partition after a failed open");
                        }
                    }
                    return Err(DbError::Storage {
                        table: spec.name.clone(),
                        partition: p,
                        source,
                    });
                }
            }
        }
        // Make the partition directories' entries durable.
        fs.sync_dir(dir).map_err(|e| DbError::io(dir, e))?;
        let durability = match spec.durability {
            TableDurability::Sync => Durability::Sync,
            TableDurability::Buffered => Durability::Buffered,
        };
        Ok(TableCore {
            id,
            spec,
            durability,
            hooks,
            state: RwLock::new(TableState::Open(parts)),
        })
    }

    /// The table's name.
    pub(crate) fn name(&self) -> &str {
        &self.spec.name
    }

    /// The partitions, held open (against `delete_table` and `close`) while the guard
    /// lives.
    pub(crate) fn partitions(&self) -> Result<MappedRwLockReadGuard<'_, [Partition]>, DbError> {
        // Recursive read: a batch may hold this table's guard while taking it again;
        // a waiting `delete_table` must not deadlock it.
        let guard = self.state.read_recursive();
        RwLockReadGuard::try_map(guard, |s| match s {
            TableState::Open(p) => Some(p.as_slice()),
            _ => None,
        })
        .map_err(|g| match &*g {
            TableState::Closed => DbError::Closed,
            _ => DbError::TableNotFound {
                table: self.spec.name.clone(),
            },
        })
    }

    /// Closes every partition; later operations fail with `TableNotFound` (`deleted`)
    /// or `Closed`. Waits for operations in flight.
    pub(crate) fn shutdown(&self, deleted: bool) -> Result<(), DbError> {
        let mut st = self.state.write();
        let next = if deleted {
            TableState::Deleted
        } else {
            TableState::Closed
        };
        let TableState::Open(parts) = std::mem::replace(&mut *st, next) else {
            return Ok(());
        };
        let mut first_err = None;
        for p in &parts {
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

    /// Asks the capacity meter whether the operation may run.
    pub(crate) fn admit(&self, partition: Option<u32>, kind: OpKind) -> Result<(), DbError> {
        self.hooks
            .capacity
            .admit(&self.op(partition, kind))
            .map_err(|reason| DbError::Throttled {
                table: self.spec.name.clone(),
                reason,
            })
    }

    /// Tells the capacity meter what the operation consumed.
    pub(crate) fn charge(&self, partition: Option<u32>, kind: OpKind, units: &ConsumedCapacity) {
        self.hooks
            .capacity
            .consumed(&self.op(partition, kind), units);
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
