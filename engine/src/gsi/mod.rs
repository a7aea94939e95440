//! Global secondary indexes, the engine's side: the shadow trees, the index deltas
//! written into the base WAL, the `strata_index` traits over trees and logs, the Db's
//! maintainer thread, and verification. The pure logic (derivation, entry keys,
//! checkpoints, the maintainer's step) is the `strata-index` crate's.
//!
//! | module | job |
//! |---|---|
//! | `delta` | the log-data encoding of an index delta in a base WAL batch |
//! | `shadow` | a GSI's partition trees and the `IndexSink` over them |
//! | `source` | the base partitions' logs, read once per round, and the `ChangeSource` over them |
//! | `sync` | when the maintainer syncs base WALs and the GSI partitions it wrote |
//! | `service` | the Db's maintainer thread: steps every table's GSIs, moves WAL floors |
//! | `status` | `describe_table`'s GSI figures, `wait_for_indexes` |
//! | `read` | query and scan of a GSI |
//! | `check` | `verify_index`: the index derived from a base scan vs the shadow trees |

pub(crate) mod backfill;
pub(crate) mod check;
pub(crate) mod delta;
pub(crate) mod pressure;
pub(crate) mod read;
pub(crate) mod service;
mod shadow;
mod source;
pub(crate) mod status;
mod sync;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use std::sync::atomic::AtomicBool;

use parking_lot::{Condvar, Mutex};
use strata_index::meta::BackfillPhase;
use strata_index::{Maintainer, load_checkpoints, read_progress};

pub(crate) use shadow::{GSI_DIR, GsiShadow, ShadowSink, gsi_dir, gsi_dir_name};
pub(crate) use source::{BaseLog, BaseSource};

use crate::table::{DbError, TableSpec};

/// A wake-up flag with a condition variable: base trees set it when their durable log
/// grows; the maintainer thread sleeps on it.
#[derive(Debug, Default)]
pub(crate) struct Waker {
    flag: Mutex<bool>,
    cv: Condvar,
}

impl Waker {
    /// Sets the flag and wakes the waiter.
    pub(crate) fn wake(&self) {
        *self.flag.lock() = true;
        self.cv.notify_all();
    }

    /// Waits until woken or `timeout` passed; clears the flag.
    pub(crate) fn wait(&self, timeout: Duration) {
        let mut f = self.flag.lock();
        if !*f {
            self.cv.wait_for(&mut f, timeout);
        }
        *f = false;
    }
}

/// Most write times remembered per base partition.
pub(crate) const MAX_WRITE_TIMES: usize = 4096;

/// The maintenance state of one table's GSIs.
#[derive(Debug)]
pub(crate) struct TableGsi {
    /// Per base partition: its WAL retention floor (the smallest *durable* checkpoint
    /// over every GSI partition, plus 1; 0 without GSIs).
    pub floors: Arc<Vec<AtomicU64>>,
    /// `applied[g][p]`: GSI `g` has applied base partition `p` through this LSN.
    pub applied: Vec<Vec<AtomicU64>>,
    /// `durable[g][p]`: the part of `applied[g][p]` known durable in GSI `g`'s trees
    /// (its WALs synced after it was applied); what the floors are made of.
    pub durable: Vec<Vec<AtomicU64>>,
    /// `backfilling[g][p]`: GSI `g` is still backfilling base partition `p` (its
    /// `applied` is then the snapshot LSN, which the floor holds the WAL from). A GSI
    /// with any is `CREATING`.
    pub backfilling: Vec<Vec<AtomicBool>>,
    /// Per base partition: records and bytes written since open (back-pressure's byte
    /// estimate).
    pub written: Vec<pressure::Written>,
    /// One maintainer per GSI (the maintainer thread holds the lock while it steps).
    pub maintainers: Mutex<Vec<Maintainer>>,
    /// The last maintenance error per GSI (cleared by a successful round).
    pub errors: Mutex<Vec<Option<String>>>,
    /// Per base partition: (LSN, time) of writes that carried index deltas, sampled
    /// (at most one a millisecond, at most [`MAX_WRITE_TIMES`]), oldest first; what
    /// every GSI has applied is pruned. For the age of the oldest unapplied write.
    pub write_times: Vec<Mutex<VecDeque<(u64, Instant)>>>,
    /// Notified after every maintenance round (wait_for_indexes sleeps on it).
    pub progress: Condvar,
    pub progress_lock: Mutex<()>,
    /// The maintainer's sync bookkeeping (base WALs of `Buffered` tables, GSI
    /// partitions written).
    pub sync: Mutex<sync::SyncState>,
}

impl TableGsi {
    /// Loads every GSI's checkpoints from its shadow trees.
    pub(crate) fn new(spec: &TableSpec, gsis: &[GsiShadow]) -> Result<TableGsi, DbError> {
        let n = spec.partitions as usize;
        let mut applied = Vec::with_capacity(gsis.len());
        let mut backfilling = Vec::with_capacity(gsis.len());
        let mut floor = vec![u64::MAX; n];
        for g in gsis {
            let sink = ShadowSink::new(&g.trees);
            let mut per = Vec::with_capacity(n);
            let mut filling = Vec::with_capacity(n);
            for p in 0..spec.partitions {
                let corrupt = |reason: String| DbError::Corruption {
                    table: spec.name.clone(),
                    partition: p,
                    reason: format!("index {}: {reason}", g.def.name),
                };
                let cps = load_checkpoints(&g.def, &sink, p)
                    .map_err(|e| corrupt(format!("checkpoints do not load: {e}")))?;
                // No checkpoint: the partition is being backfilled (load_checkpoints
                // checked the progress record says so); live changes start after its
                // snapshot LSN, so the WAL is kept from there.
                let (min, filling_p) = match cps {
                    Some(c) => (c.into_iter().min(), false),
                    None => {
                        let progress = read_progress(&sink, p)
                            .map_err(|e| corrupt(format!("backfill progress: {e}")))?;
                        match progress {
                            Some(pr) if pr.phase == BackfillPhase::Scanning => {
                                (Some(pr.snapshot_lsn), true)
                            }
                            _ => (None, false),
                        }
                    }
                };
                let min =
                    min.ok_or_else(|| corrupt("no checkpoint for this base partition".into()))?;
                floor[p as usize] = floor[p as usize].min(min);
                per.push(AtomicU64::new(min));
                filling.push(AtomicBool::new(filling_p));
            }
            applied.push(per);
            backfilling.push(filling);
        }
        let floors = floor
            .into_iter()
            .map(|f| {
                AtomicU64::new(if gsis.is_empty() {
                    0
                } else {
                    f.saturating_add(1)
                })
            })
            .collect();
        let maintainers = gsis
            .iter()
            .map(|g| Maintainer::new(g.def.clone(), spec.key_schema.clone(), spec.partitions))
            .collect();
        let durable = applied
            .iter()
            .map(|per: &Vec<AtomicU64>| {
                per.iter()
                    .map(|a| AtomicU64::new(a.load(Ordering::Relaxed)))
                    .collect()
            })
            .collect();
        Ok(TableGsi {
            floors: Arc::new(floors),
            applied,
            durable,
            backfilling,
            written: (0..n).map(|_| pressure::Written::default()).collect(),
            maintainers: Mutex::new(maintainers),
            errors: Mutex::new(vec![None; gsis.len()]),
            write_times: (0..n).map(|_| Mutex::new(VecDeque::new())).collect(),
            progress: Condvar::new(),
            progress_lock: Mutex::new(()),
            sync: Mutex::new(sync::SyncState::new(n, gsis.len())),
        })
    }

    /// GSI `g`'s applied checkpoint for base partition `p`.
    pub(crate) fn applied(&self, g: usize, p: usize) -> u64 {
        self.applied
            .get(g)
            .and_then(|v| v.get(p))
            .map_or(0, |a| a.load(Ordering::Acquire))
    }

    /// Whether GSI `g` is still backfilling base partition `p`.
    pub(crate) fn is_backfilling(&self, g: usize, p: usize) -> bool {
        self.backfilling
            .get(g)
            .and_then(|v| v.get(p))
            .is_some_and(|b| b.load(Ordering::Acquire))
    }

    /// Whether GSI `g` is `CREATING` (backfilling some base partition).
    pub(crate) fn is_creating(&self, g: usize) -> bool {
        self.backfilling
            .get(g)
            .is_some_and(|v| v.iter().any(|b| b.load(Ordering::Acquire)))
    }

    /// Notes that base partition `p` committed record `lsn` with index deltas now.
    pub(crate) fn note_write(&self, p: u32, lsn: u64) {
        let Some(q) = self.write_times.get(p as usize) else {
            return;
        };
        let mut q = q.lock();
        let now = Instant::now();
        let recent = q
            .back()
            .is_some_and(|(_, t)| now.duration_since(*t) < Duration::from_millis(1));
        if !recent && q.len() < MAX_WRITE_TIMES {
            q.push_back((lsn, now));
        }
    }

    /// Forgets the write times every GSI has applied.
    pub(crate) fn prune_write_times(&self) {
        for (p, q) in self.write_times.iter().enumerate() {
            let done = (0..self.applied.len())
                .map(|g| self.applied(g, p))
                .min()
                .unwrap_or(u64::MAX);
            let mut q = q.lock();
            while q.front().is_some_and(|(lsn, _)| *lsn <= done) {
                q.pop_front();
            }
        }
    }

    /// How long the oldest write GSI `g` has not applied has waited (to within a
    /// millisecond), if known: `None` when it applied everything noted (writes before
    /// the table was opened are not noted).
    pub(crate) fn oldest_unapplied_age(&self, g: usize) -> Option<Duration> {
        self.write_times
            .iter()
            .enumerate()
            .filter_map(|(p, q)| {
                let applied = self.applied(g, p);
                q.lock()
                    .iter()
                    .find(|(lsn, _)| *lsn > applied)
                    .map(|(_, t)| t.elapsed())
            })
            .max()
    }

    /// Tells waiters that a round ended.
    pub(crate) fn notify_progress(&self) {
        let _l = self.progress_lock.lock();
        self.progress.notify_all();
    }
}
