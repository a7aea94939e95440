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
use std::time::Duration;

use parking_lot::Mutex;
use strata_index::StepOutcome;
use strata_index::meta::BackfillPhase;

use crate::lsm::Tree;
use crate::table::core::TableCore;

use super::{BaseSource, ShadowSink, Waker};

/// How often the maintainer looks for work without being woken.
pub(crate) const TICK: Duration = Duration::from_millis(20);
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

    /// Pauses (or resumes) every maintenance round.
    pub(crate) fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::Release);
        self.waker.wake();
    }

    fn run(&self) {
        while !self.stop.load(Ordering::Acquire) {
            if self.paused.load(Ordering::Acquire) {
                self.waker.wait(TICK);
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
            if !busy {
                self.waker.wait(TICK);
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
pub(crate) fn maintain_table(core: &TableCore) -> bool {
    let Ok(shards) = core.shards() else {
        return false;
    };
    let base: Vec<&Tree> = shards.parts.iter().map(|p| &p.tree).collect();
    let gsi = &core.gsi;
    let mut maintainers = gsi.maintainers.lock();
    let mut busy = false;
    for (g, shadow) in shards.gsis.iter().enumerate() {
        let Some(m) = maintainers.get_mut(g) else {
            continue;
        };
        let mut sink = ShadowSink::new(&shadow.trees);
        let mut source = BaseSource {
            trees: &base,
            def: &shadow.def,
            base: &core.spec.key_schema,
        };
        let mut error = None;
        // After a failed round, what it applied may not be synced: sync everything.
        let resync = gsi.errors.lock()[g].is_some();
        for p in 0..core.spec.partitions {
            let pi = p as usize;
            if gsi.is_backfilling(g, pi) {
                match backfill_partition(core, &shards.parts[pi], shadow, &mut sink) {
                    Ok(true) => {
                        // Live maintenance of `p` starts from the snapshot LSN now.
                        gsi.backfilling[g][pi].store(false, Ordering::Release);
                        m.reset();
                        tracing::info!(table = core.name(), index = %shadow.def.name,
                            partition = p, "backfill of a base partition done");
                    }
                    Ok(false) => {
                        busy = true;
                        continue;
                    }
                    Err(e) => {
                        error = Some(format!("backfill of base partition {p}: {e}"));
                        continue;
                    }
                }
            }
            // Nothing durable past the checkpoint: no step (and no log read) needed.
            let durable = base[p as usize].durable_lsn();
            if durable <= gsi.applied(g, p as usize) {
                continue;
            }
            for step in 0..MAX_STEPS {
                match m.step(&mut source, &mut sink, p, MAX_RECORDS) {
                    Ok(StepOutcome::Applied(stats)) => {
                        gsi.applied[g][p as usize].store(stats.applied_through, Ordering::Release);
                        if stats.caught_up {
                            break;
                        }
                        busy |= step + 1 == MAX_STEPS;
                    }
                    Ok(StepOutcome::Backfilling) => break,
                    Err(e) => {
                        m.reset();
                        error = Some(format!("base partition {p}: {e}"));
                        break;
                    }
                }
            }
        }
        // What is applied now becomes durable with the sync below.
        let applied: Vec<u64> = (0..base.len()).map(|p| gsi.applied(g, p)).collect();
        let written = if resync {
            (0..shadow.def.partitions).collect()
        } else {
            sink.take_written()
        };
        for gp in written {
            if let Err(e) = shadow.trees[gp as usize].sync_wal() {
                error.get_or_insert(format!("syncing index partition {gp}: {e}"));
            }
        }
        let mut errors = gsi.errors.lock();
        if let Some(e) = &error {
            if errors[g].as_ref() != Some(e) {
                tracing::warn!(table = core.name(), index = %shadow.def.name, error = %e,
                    "GSI maintenance failed; retrying");
            }
        } else {
            for (p, a) in applied.iter().enumerate() {
                gsi.durable[g][p].store(*a, Ordering::Release);
            }
        }
        errors[g] = error;
    }
    drop(maintainers);
    // Floors: the smallest durable checkpoint over all GSIs, plus 1.
    for (p, tree) in base.iter().enumerate() {
        let min = (0..shards.gsis.len())
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
