//! What `describe_table` reports per GSI ([`GsiDescription`]) and how
//! `Db::wait_for_indexes` waits.

use std::ops::Bound;
use std::time::{Duration, Instant};

use strata_index::KeyRange;

use crate::table::DbError;
use crate::table::core::TableCore;

use super::service::TICK;

/// A GSI's state (DynamoDB's `IndexStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IndexStatus {
    /// Being backfilled after `Db::update_table` added it: maintained, but reads are
    /// refused until every base partition is indexed.
    Creating,
    /// Maintained and readable (indexes created with their table are ACTIVE at once).
    Active,
}

/// How far the backfill of a `CREATING` index is (from its progress records).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct BackfillStatus {
    /// Base partitions whose backfill is done.
    pub partitions_done: u32,
    /// Base partitions of the table.
    pub partitions: u32,
    /// Base items scanned so far.
    pub items_scanned: u64,
    /// Of those, items skipped because an index key attribute had the wrong type or
    /// size (index key violations; they have no entry, as in DynamoDB).
    pub items_skipped: u64,
}

/// One GSI as `describe_table` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GsiDescription {
    /// The index.
    pub name: String,
    /// Its status.
    pub status: IndexStatus,
    /// Entries in the index: exact, counted by a key scan of its partition trees when
    /// described (the cost grows with the index; DynamoDB's figure is approximate).
    pub item_count: u64,
    /// Approximate bytes on disk and in memtables of its partition trees (including
    /// metadata and not yet compacted versions).
    pub size_bytes: u64,
    /// Base WAL records not yet applied to the index, summed over base partitions (0:
    /// caught up with everything acknowledged).
    pub lag_records: u64,
    /// How long the oldest write the index has not applied has waited (to within a
    /// millisecond); `None` when caught up with every write made since the table was
    /// opened (writes from before the open are in `lag_records` only).
    pub oldest_unapplied_age: Option<std::time::Duration>,
    /// The last maintenance error, if the last round failed (it is retried).
    pub last_error: Option<String>,
    /// For an index added by `Db::update_table`: its backfill's progress (kept after
    /// it is done, with the final counts; `None` for an index created with its table).
    pub backfill: Option<BackfillStatus>,
}

/// Describes every GSI of an open table.
pub(crate) fn describe(core: &TableCore) -> Result<Vec<GsiDescription>, DbError> {
    let shards = core.shards()?;
    let written: Vec<u64> = shards
        .parts
        .iter()
        .map(|p| p.tree.wal_next_lsn().saturating_sub(1))
        .collect();
    let errors = core.gsi.errors.lock().clone();
    let all = KeyRange::all_entries();
    let mut out = Vec::with_capacity(shards.gsis.len());
    for (g, shadow) in shards.gsis.iter().enumerate() {
        let mut item_count = 0u64;
        let mut size_bytes = 0u64;
        for (gp, tree) in (0u32..).zip(&shadow.trees) {
            let stats = tree.stats();
            size_bytes += stats.live_sst_bytes + stats.memtable_bytes;
            let iter = tree
                .range(
                    Bound::Included(all.start.as_slice()),
                    Bound::Excluded(all.end.as_slice()),
                    None,
                )
                .map_err(|e| core.index_storage(g, gp, e))?;
            for kv in iter {
                kv.map_err(|e| core.index_storage(g, gp, e))?;
                item_count += 1;
            }
        }
        let status = if core.gsi.is_creating(g) {
            IndexStatus::Creating
        } else {
            IndexStatus::Active
        };
        out.push(GsiDescription {
            backfill: backfill_status(core, g, shadow)?,
            name: shadow.def.name.clone(),
            status,
            item_count,
            size_bytes,
            lag_records: lag(core, g, &written),
            oldest_unapplied_age: core.gsi.oldest_unapplied_age(g),
            last_error: errors.get(g).cloned().flatten(),
        });
    }
    Ok(out)
}

/// The backfill progress records of GSI `g`, summed (none: no backfill ever ran).
fn backfill_status(
    core: &TableCore,
    g: usize,
    shadow: &super::GsiShadow,
) -> Result<Option<BackfillStatus>, DbError> {
    let sink = super::ShadowSink::new(&shadow.trees);
    let mut out = BackfillStatus {
        partitions: core.spec.partitions,
        ..BackfillStatus::default()
    };
    let mut any = false;
    for p in 0..core.spec.partitions {
        let progress =
            strata_index::read_progress(&sink, p).map_err(|e| DbError::IndexMaintenance {
                table: core.name().to_owned(),
                index: shadow.def.name.clone(),
                reason: format!("backfill progress of base partition {p}: {e}"),
            })?;
        if let Some(pr) = progress {
            any = true;
            out.items_scanned += pr.items_done;
            out.items_skipped += pr.items_skipped;
            if !core.gsi.is_backfilling(g, p as usize) {
                out.partitions_done += 1;
            }
        }
    }
    Ok(any.then_some(out))
}

/// Records of `targets` (one LSN per base partition) GSI `g` has not applied.
fn lag(core: &TableCore, g: usize, targets: &[u64]) -> u64 {
    targets
        .iter()
        .enumerate()
        .map(|(p, &t)| t.saturating_sub(core.gsi.applied(g, p)))
        .sum()
}

/// Waits until every GSI of `core` has applied every base record acknowledged before
/// the call (after syncing the base WALs, so `Buffered` writes count too).
pub(crate) fn wait_caught_up(
    core: &TableCore,
    wake: &dyn Fn(),
    timeout: Duration,
) -> Result<(), DbError> {
    let start = Instant::now();
    let targets: Vec<u64> = {
        let parts = core.partitions()?;
        parts
            .iter()
            .map(|p| p.tree.sync_wal().map_err(|e| core.storage(p.index, e)))
            .collect::<Result<_, _>>()?
    };
    let gsis = &core.spec.global_secondary_indexes;
    loop {
        // A CREATING index is behind until its backfill is done (even with no
        // record to apply).
        let behind = (0..gsis.len())
            .map(|g| (g, lag(core, g, &targets), core.gsi.is_creating(g)))
            .find(|(_, l, creating)| *l > 0 || *creating)
            .map(|(g, l, _)| (g, l));
        let Some((g, behind)) = behind else {
            return Ok(());
        };
        let elapsed = start.elapsed();
        if elapsed >= timeout {
            if let Some(reason) = core.gsi.errors.lock().get(g).cloned().flatten() {
                return Err(DbError::IndexMaintenance {
                    table: core.name().to_owned(),
                    index: gsis[g].name.clone(),
                    reason,
                });
            }
            return Err(DbError::IndexWaitTimeout {
                table: core.name().to_owned(),
                index: gsis[g].name.clone(),
                timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                behind,
            });
        }
        // Fail at once if the table went away (deleted or closed).
        drop(core.partitions()?);
        wake();
        let mut l = core.gsi.progress_lock.lock();
        core.gsi
            .progress
            .wait_for(&mut l, (timeout - elapsed).min(TICK));
    }
}
