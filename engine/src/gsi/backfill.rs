//! Backfill of a GSI added to a table that holds data: one page of a base partition's
//! items at a time, from the progress record in the index's home partition, through
//! `strata_index::backfill_page` (see `docs/gsi-format.md`, "Backfill").
//!
//! The pages scan the base partition as it is now, not as it was at the snapshot LSN:
//! every change after the snapshot LSN carries its index delta in the base WAL and is
//! applied after the backfill of the partition ends (its live changes wait until then),
//! and each delta deletes the entry of the item version it replaces. So an entry a page
//! puts for a version newer than the snapshot is either the item's current one or is
//! removed by the delta of the next version; the end state is the derived index.

use std::ops::Bound;

use strata_index::meta::{BackfillPhase, BackfillProgress, HOME_PARTITION, base_scan_key};
use strata_index::{IndexSink, SinkOp, backfill_page, read_progress};

use crate::table::DbError;
use crate::table::core::TableCore;
use crate::table::layout::{BASE_TAG, Space};
use crate::table::partition::Partition;

use super::{GsiShadow, ShadowSink};

/// How much of a base partition one step of a GSI backfill copies
/// ([`crate::DbOptions::index_backfill_page`]).
///
/// The default pages are large on purpose: each page costs a write batch per index partition and a
/// WAL sync of every partition but the home one (see `OthersDurableFirst` in this module), and each
/// batch goes into the partition's memtable in one piece. With small pages (256 items)
/// a backfill of 100k items in trees with small memtables spent most of its time
/// stalled in index-tree writes (L0 stop trigger, full memtables) behind hundreds of
/// tiny flushes and their compactions; a batch of a whole page makes one larger flush
/// instead of several.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackfillPage {
    /// Most items per page (at least one is always taken).
    pub items: usize,
    /// Most stored base bytes per page, so a page of large items stays bounded in
    /// memory (at least one item is always taken).
    pub bytes: usize,
}

impl Default for BackfillPage {
    /// 4096 items or 4 MiB.
    fn default() -> Self {
        BackfillPage {
            items: 4096,
            bytes: 4 << 20,
        }
    }
}

/// Runs one backfill page (up to `core.hooks.index_backfill_page`) of base partition
/// `part` into `shadow`; the progress after it (`Done` once the partition is indexed).
pub(crate) fn backfill_step(
    core: &TableCore,
    part: &Partition,
    shadow: &GsiShadow,
    sink: &mut ShadowSink<'_>,
) -> Result<BackfillProgress, String> {
    let p = part.index;
    let progress = read_progress(&*sink, p)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no backfill progress for base partition {p}"))?;
    if progress.phase == BackfillPhase::Done {
        return Ok(progress);
    }
    let (start, hi) = Space::Base.segment_range(0, 1);
    let after = match &progress.last_key {
        Some(k) => {
            let mut key = vec![BASE_TAG];
            key.extend_from_slice(&base_scan_key(k).map_err(|e| e.to_string())?);
            Some(key)
        }
        None => None,
    };
    let lower = match &after {
        Some(k) => Bound::Excluded(k.as_slice()),
        None => Bound::Included(start.as_slice()),
    };
    let iter = part
        .range(core, lower, Bound::Excluded(hi.as_slice()), None)
        .map_err(|e| e.to_string())?;
    let mut page = Vec::new();
    let mut bytes = 0usize;
    let mut end = true;
    for kv in iter {
        let (k, v) = kv.map_err(|e| core.storage(p, e).to_string())?;
        let limit = &core.hooks.index_backfill_page;
        if page.len() >= limit.items.max(1) || bytes >= limit.bytes {
            end = false;
            break;
        }
        bytes += k.len() + v.len();
        page.push(
            part.decode(core, &k, &v)
                .map_err(|e: DbError| e.to_string())?,
        );
    }
    let batch = backfill_page(&shadow.def, &core.spec.key_schema, p, &progress, &page, end)
        .map_err(|e| e.to_string())?;
    batch
        .apply(&mut OthersDurableFirst(sink))
        .map_err(|e| e.to_string())?;
    Ok(batch.progress)
}

/// The sink of a backfill page: the index trees are written `Buffered`, and a power
/// loss may keep one partition's WAL and not another's; so every partition but the
/// home one is synced right after its batch, before the home partition's batch (with
/// the progress record, and on the last page the checkpoint that ends the backfill)
/// is written. Otherwise the stored progress could survive a page (or the final
/// checkpoints) that another partition lost.
struct OthersDurableFirst<'s, 'a>(&'s mut ShadowSink<'a>);

impl IndexSink for OthersDurableFirst<'_, '_> {
    type Error = crate::lsm::Error;

    fn get(&self, partition: u32, key: &[u8]) -> Result<Option<Vec<u8>>, Self::Error> {
        self.0.get(partition, key)
    }

    fn apply(&mut self, partition: u32, ops: &[SinkOp]) -> Result<(), Self::Error> {
        self.0.apply(partition, ops)?;
        if partition != HOME_PARTITION {
            self.0.tree(partition)?.sync_wal()?;
        }
        Ok(())
    }
}
