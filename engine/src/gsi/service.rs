//! The Db's GSI maintainer: one background thread per `Db` that drives every table's
//! GSIs. It sleeps until a base tree reports that its durable log grew (the
//! `on_durable` hook) or a tick passes (for `Buffered` tables, whose records become
//! durable by the WAL's background sync), then, per table, per GSI, per base
//! partition, runs `strata_index::Maintainer::step` until caught up (a bounded number of
//! steps per round, so tables take turns). After a round it syncs the GSI partitions
//! it wrote, and only then moves the base partitions' WAL retention floors to the
//! checkpoints now durable and releases the WAL segments below them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use strata_index::StepOutcome;
use strata_index::meta::BackfillPhase;

use crate::lsm::Tree;
use crate::table::core::TableCore;

use super::sync::SyncState;
use super::{BaseLog, BaseSource, ShadowSink, Waker};
use crate::table::TableDurability;

/// How often the maintainer looks for work without being woken.
pub(crate) const TICK: Duration = Duration::from_millis(10);
/// The shortest time between the starts of two rounds that are not catching up.
const ROUND_GAP: Duration = Duration::from_millis(2);
/// Base records read per step.
const MAX_RECORDS: usize = 512;
/// Steps per (GSI, base partition) per round before other work gets a turn.
const MAX_STEPS: usize = 8;

/// The maintainer thread and the tables it maintains.
#[derive(Debug)]
pub(crate) struct GsiService {
    pub waker: Arc<Waker>,
    tables: Mutex<Vec<Arc<TableCore>>>,
    stop: AtomicBool,
    /// Rounds are skipped while set (a test hook: a deliberately stalled maintainer).
    paused: AtomicBool,
    /// Held for the length of each round (so a pause can wait for the round running).
    round: Mutex<()>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl GsiService {
    /// A service whose thread starts with [`GsiService::start`].
    pub(crate) fn new(waker: Arc<Waker>) -> Arc<GsiService> {
        Arc::new(GsiService {
            waker,
            tables: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            paused: AtomicBool::new(false),
            round: Mutex::new(()),
            thread: Mutex::new(None),
        })
    }

    /// Starts the maintainer thread.
    ///
    /// # Errors
    /// The OS refused to start a thread.
    pub(crate) fn start(self: &Arc<Self>) -> std::io::Result<()> {
        let me = Arc::clone(self);
        let handle = std::thread::Builder::new()
            .name("strata-gsi".into())
            .spawn(move || me.run())?;
        *self.thread.lock() = Some(handle);
        Ok(())
    }

    /// Maintains `core`'s GSIs from now on (nothing for a table without any).
    pub(crate) fn register(&self, core: &Arc<TableCore>) {
        if core.spec.global_secondary_indexes.is_empty() {
            return;
        }
        self.tables.lock().push(Arc::clone(core));
        self.waker.wake();
    }

    /// Stops maintaining table `id`. The thread may be in a step of it; the table's
    /// gate makes its shutdown wait for that step.
    pub(crate) fn unregister(&self, id: u64) {
        self.tables.lock().retain(|c| c.id != id);
    }

    /// Stops and joins the thread, and forgets every table.
    pub(crate) fn shutdown(&self) {
        self.stop.store(true, Ordering::Release);
        self.waker.wake();
        let handle = self.thread.lock().take();
        if let Some(h) = handle
            && h.join().is_err()
        {
            tracing::warn!("the GSI maintainer thread panicked");
        }
        self.tables.lock().clear();
    }

    /// Pauses (or resumes) every maintenance round. A pause returns once the round
    /// running (if any) has ended, so nothing is applied after it.
    pub(crate) fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::Release);
        if paused {
            drop(self.round.lock());
        }
        self.waker.wake();
    }

    fn run(&self) {
        while !self.stop.load(Ordering::Acquire) {
            if self.paused.load(Ordering::Acquire) {
                self.waker.wait(TICK);
                continue;
            }
            let started = Instant::now();
            let round = self.round.lock();
            if self.paused.load(Ordering::Acquire) {
                continue;
            }
            let tables = self.tables.lock().clone();
            let mut busy = false;
            for core in &tables {
                if self.stop.load(Ordering::Acquire) {
                    return;
                }
                busy |= maintain_table(core);
            }
            drop(tables);
            drop(round);
            if !busy {
                self.waker.wait(TICK);
                // Rounds at most every ROUND_GAP: a `Sync` table's writers wake the
                // thread at every commit, and a round costs a few system calls
                // whether it applies one record or a hundred.
                let since = started.elapsed();
                if since < ROUND_GAP && !self.stop.load(Ordering::Acquire) {
                    std::thread::sleep(ROUND_GAP - since);
                }
            }
        }
    }
}

/// One backfill page of one base partition (pages are large: one per round lets the
/// other partitions and tables take their turn); true once its backfill is done.
fn backfill_partition(
    core: &TableCore,
    part: &crate::table::partition::Partition,
    shadow: &super::GsiShadow,
    sink: &mut ShadowSink<'_>,
) -> Result<bool, String> {
    let progress = super::backfill::backfill_step(core, part, shadow, sink)?;
    Ok(progress.phase == BackfillPhase::Done)
}

/// One round over a table's GSIs; true when some GSI still has records to read.
///
/// Partition by partition, every GSI of the table steps over the same base records:
/// [`BaseLog`] reads them once and decodes each base item once for all of them. A
/// `Buffered` table's unsynced records are synced here once they have waited
/// [`BASE_SYNC_AFTER`](super::sync::BASE_SYNC_AFTER), so that they reach the indexes promptly. The GSI partitions
/// written are synced at most every [`SHADOW_SYNC_EVERY`](super::sync::SHADOW_SYNC_EVERY); only then do the base WAL
/// floors move.
pub(crate) fn maintain_table(core: &TableCore) -> bool {
    let Ok(shards) = core.shards() else {
        return false;
    };
    let base: Vec<&Tree> = shards.parts.iter().map(|p| &p.tree).collect();
    let gsi = &core.gsi;
    let mut maintainers = gsi.maintainers.lock();
    let mut sync = gsi.sync.lock();
    let now = Instant::now();
    if core.spec.durability == TableDurability::Buffered {
        sync_base_logs(core, &base, &mut sync, now);
    }
    let n = shards.gsis.len();
    let mut sinks: Vec<ShadowSink<'_>> = shards
        .gsis
        .iter()
        .map(|s| ShadowSink::new(&s.trees))
        .collect();
    let mut errors: Vec<Option<String>> = vec![None; n];
    // After a failed round, what it applied may not be synced: sync everything.
    let resync: Vec<bool> = gsi.errors.lock().iter().map(Option::is_some).collect();
    let mut log = BaseLog::new(&base, &core.spec.key_schema);
    let mut busy = false;
    for p in 0..core.spec.partitions {
        let pi = p as usize;
        // The GSIs with durable base records past their checkpoint.
        let mut live = Vec::with_capacity(n);
        for (g, shadow) in shards.gsis.iter().enumerate() {
            if g >= maintainers.len() {
                continue;
            }
            if gsi.is_backfilling(g, pi) {
                match backfill_partition(core, &shards.parts[pi], shadow, &mut sinks[g]) {
                    Ok(true) => {
                        // Live maintenance of `p` starts from the snapshot LSN now.
                        gsi.backfilling[g][pi].store(false, Ordering::Release);
                        maintainers[g].reset();
                        tracing::info!(table = core.name(), index = %shadow.def.name,
                            partition = p, "backfill of a base partition done");
                    }
                    Ok(false) => {
                        busy = true;
                        continue;
                    }
                    Err(e) => {
                        errors[g] = Some(format!("backfill of base partition {p}: {e}"));
                        continue;
                    }
                }
            }
            if base[pi].durable_lsn() > gsi.applied(g, pi) {
                live.push(g);
            }
        }
        // Step-major, so that GSIs at the same checkpoint share each read.
        for step in 0..MAX_STEPS {
            if live.is_empty() {
                break;
            }
            live.retain(|&g| {
                let mut source = BaseSource {
                    log: &mut log,
                    def: &shards.gsis[g].def,
                };
                match maintainers[g].step(&mut source, &mut sinks[g], p, MAX_RECORDS) {
                    Ok(StepOutcome::Applied(stats)) => {
                        gsi.applied[g][pi].store(stats.applied_through, Ordering::Release);
                        busy |= !stats.caught_up && step + 1 == MAX_STEPS;
                        !stats.caught_up
                    }
                    Ok(StepOutcome::Backfilling) => false,
                    Err(e) => {
                        maintainers[g].reset();
                        errors[g] = Some(format!("base partition {p}: {e}"));
                        false
                    }
                }
            });
        }
    }
    drop(log);
    for (g, sink) in sinks.iter_mut().enumerate() {
        sync.note_written(g, sink.take_written());
    }
    let sync_due = resync.iter().any(|&r| r) || sync.shadow_sync_due(now);
    for (g, shadow) in shards.gsis.iter().enumerate() {
        if !(sync_due && errors[g].is_none()) {
            continue;
        }
        // What is applied now becomes durable with the sync below.
        let applied: Vec<u64> = (0..base.len()).map(|p| gsi.applied(g, p)).collect();
        let written = if resync.get(g).copied().unwrap_or(false) {
            (0..shadow.def.partitions).collect()
        } else {
            sync.take_unsynced(g)
        };
        for gp in written {
            if let Err(e) = shadow.trees[gp as usize].sync_wal() {
                errors[g].get_or_insert(format!("syncing index partition {gp}: {e}"));
            }
        }
        if errors[g].is_none() {
            for (p, a) in applied.iter().enumerate() {
                gsi.durable[g][p].store(*a, Ordering::Release);
            }
        } else {
            // Try again next round.
            sync.note_written(g, 0..shadow.def.partitions);
        }
    }
    if sync_due {
        sync.shadow_synced(now);
    }
    {
        let mut stored = gsi.errors.lock();
        for (g, error) in errors.into_iter().enumerate() {
            if let Some(e) = &error
                && stored.get(g).and_then(Option::as_ref) != Some(e)
            {
                tracing::warn!(table = core.name(), index = %shards.gsis[g].def.name,
                    error = %e, "GSI maintenance failed; retrying");
            }
            if let Some(slot) = stored.get_mut(g) {
                *slot = error;
            }
        }
    }
    drop(sync);
    drop(maintainers);
    // Floors: the smallest durable checkpoint over all GSIs, plus 1.
    for (p, tree) in base.iter().enumerate() {
        let min = (0..n)
            .map(|g| gsi.durable[g][p].load(Ordering::Acquire))
            .min()
            .unwrap_or(0);
        let floor = min.saturating_add(1);
        if gsi.floors[p].swap(floor, Ordering::AcqRel) != floor
            && let Err(e) = tree.apply_wal_retention()
        {
            tracing::warn!(table = core.name(), partition = p, error = %e,
                "releasing WAL segments after a GSI checkpoint failed");
        }
    }
    gsi.prune_write_times();
    gsi.notify_progress();
    busy
}

/// Syncs the WAL of each base partition of a `Buffered` table whose oldest unsynced
/// record has waited [`BASE_SYNC_AFTER`](super::sync::BASE_SYNC_AFTER) (the maintainer reads durable records only;
/// without this a `Buffered` write would wait for the WAL's background sync).
fn sync_base_logs(core: &TableCore, base: &[&Tree], sync: &mut SyncState, now: Instant) {
    for (p, tree) in base.iter().enumerate() {
        let pending = tree.wal_next_lsn().saturating_sub(1) > tree.durable_lsn();
        if !sync.base_sync_due(p, pending, now) {
            continue;
        }
        if let Err(e) = tree.sync_wal() {
            tracing::warn!(table = core.name(), partition = p, error = %e,
                "syncing a base WAL for its GSIs failed");
        }
    }
}
