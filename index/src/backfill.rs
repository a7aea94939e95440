//! Backfill: indexing what a base partition held when an index was added, page by page
//! from a snapshot scan, resumable after a crash.
//!
//! While base partition `p` is backfilled, its live changes wait (the maintainer's
//! step reports [`crate::StepOutcome::Backfilling`]); the snapshot holds every record
//! with LSN `<= snapshot_lsn`, and live maintenance starts right after it. So backfill
//! and live changes never race on one base key: a backfill page only *puts* entries of
//! the snapshot, and replaying a page after a crash puts the same entries again.

use std::collections::BTreeMap;

use strata_item::{Item, KeySchema};

use crate::def::GsiDef;
use crate::derive::lenient_entry;
use crate::maintain::MaintainError;
use crate::meta::{
    BackfillPhase, BackfillProgress, Checkpoint, HOME_PARTITION, base_scan_key, checkpoint_key,
    progress_key,
};
use crate::sink::{IndexSink, SinkOp};

/// The writes of one backfill page: entries per GSI partition, and the progress record
/// after the page (applied last, in [`HOME_PARTITION`], by [`BackfillBatch::apply`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackfillBatch {
    /// The base partition being backfilled.
    pub base_partition: u32,
    /// Entry puts (and, on the last page, checkpoints) per GSI partition.
    pub groups: BTreeMap<u32, Vec<SinkOp>>,
    /// The progress once this batch is applied.
    pub progress: BackfillProgress,
}

impl BackfillBatch {
    /// Applies the groups, the home partition's last with the progress record, so the
    /// stored progress never runs ahead of the entries.
    ///
    /// # Errors
    /// [`MaintainError::Sink`] or [`MaintainError::Meta`]; the page is then redone from
    /// the stored progress, which is idempotent.
    pub fn apply<K: IndexSink + ?Sized>(&self, sink: &mut K) -> Result<(), MaintainError> {
        for (&g, ops) in self.groups.iter().filter(|(g, _)| **g != HOME_PARTITION) {
            sink.apply(g, ops).map_err(|e| MaintainError::Sink {
                partition: g,
                source: Box::new(e),
            })?;
        }
        let mut home = self
            .groups
            .get(&HOME_PARTITION)
            .cloned()
            .unwrap_or_default();
        let value = self
            .progress
            .encode()
            .map_err(|source| MaintainError::Meta {
                partition: HOME_PARTITION,
                source,
            })?;
        home.push(SinkOp::Put {
            key: progress_key(self.base_partition),
            value,
        });
        sink.apply(HOME_PARTITION, &home)
            .map_err(|e| MaintainError::Sink {
                partition: HOME_PARTITION,
                source: Box::new(e),
            })
    }
}

/// Turns one page of a base partition's snapshot scan into index writes.
///
/// `page` holds the next base items after `progress.last_key`, in the base partition's
/// scan order ([`base_scan_key`]); `end_of_scan` says the scan has nothing after them.
/// Items whose index key attributes are missing have no entry; items with an invalid
/// one are skipped and counted, as DynamoDB's backfill does. On the last page every GSI
/// partition also gets its checkpoint for this base partition (the snapshot LSN) and
/// the progress becomes [`BackfillPhase::Done`].
///
/// ```
/// use strata_index::meta::{BackfillPhase, BackfillProgress};
/// use strata_index::{backfill_page, GsiDef};
/// use strata_item::{item, KeySchema, KeyType};
///
/// let base = KeySchema::simple("id", KeyType::S);
/// let def = GsiDef::new("by_city", KeySchema::simple("city", KeyType::S)).partitions(1);
/// let page = [item! { "id" => "u1", "city" => "Oslo" }, item! { "id" => "u2", "city" => 5 }];
/// let mut page = page.to_vec();
/// page.sort_by_key(|it| strata_index::meta::base_scan_key(&base.extract_key(it).unwrap()).unwrap());
/// let batch = backfill_page(&def, &base, 0, &BackfillProgress::start(10), &page, true)?;
/// assert_eq!(batch.progress.phase, BackfillPhase::Done);
/// assert_eq!((batch.progress.items_done, batch.progress.items_skipped), (2, 1));
/// # Ok::<(), strata_index::MaintainError>(())
/// ```
///
/// # Errors
/// [`MaintainError::PageOrder`] when the page is not in scan order after the last key;
/// [`MaintainError::Derive`] for an item without a valid base key.
pub fn backfill_page(
    def: &GsiDef,
    base: &KeySchema,
    base_partition: u32,
    progress: &BackfillProgress,
    page: &[Item],
    end_of_scan: bool,
) -> Result<BackfillBatch, MaintainError> {
    let mut next = progress.clone();
    let mut groups: BTreeMap<u32, Vec<SinkOp>> = BTreeMap::new();
    if progress.phase == BackfillPhase::Done {
        return Ok(BackfillBatch {
            base_partition,
            groups,
            progress: next,
        });
    }
    let derive_err = |source| MaintainError::Derive {
        base_partition,
        lsn: progress.snapshot_lsn,
        source,
    };
    let order_err = || MaintainError::PageOrder { base_partition };
    let mut last_scan = match &progress.last_key {
        Some(k) => Some(base_scan_key(k).map_err(|_| order_err())?),
        None => None,
    };
    for item in page {
        let key = base
            .extract_key(item)
            .map_err(|e| derive_err(crate::DeriveError::BaseKey(e)))?;
        let scan = base_scan_key(&key).map_err(|_| order_err())?;
        if last_scan.as_ref().is_some_and(|l| scan <= *l) {
            return Err(order_err());
        }
        last_scan = Some(scan);
        let (entry, skipped) = lenient_entry(def, base, item).map_err(derive_err)?;
        next.items_done += 1;
        next.items_skipped += u64::from(skipped);
        if let Some(e) = entry {
            groups.entry(e.at.partition).or_default().push(SinkOp::Put {
                value: e.value(),
                key: e.at.bytes,
            });
        }
        next.last_key = Some(key);
    }
    if end_of_scan {
        next.phase = BackfillPhase::Done;
        let cp = Checkpoint {
            applied_through: progress.snapshot_lsn,
        }
        .encode();
        for g in 0..def.partitions {
            groups.entry(g).or_default().push(SinkOp::Put {
                key: checkpoint_key(base_partition),
                value: cp.clone(),
            });
        }
    }
    Ok(BackfillBatch {
        base_partition,
        groups,
        progress: next,
    })
}
