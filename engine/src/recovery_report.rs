//! What recovery found when a [`Db`](crate::Db) opened, per table and
//! partition ([`Db::recovery_report`](crate::Db::recovery_report)), and how
//! `DbOptions::refuse_open_on_loss` maps to each partition's
//! [`WalLossPolicy`]. Rules: `docs/recovery.md`.

use crate::lsm::{TreeRecoveryReport, WalLossPolicy};
use crate::table::TableDurability;

/// What recovery dropped, skipped or ignored in one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PartitionRecovery {
    /// The table.
    pub table: String,
    /// The partition's number (of the table, or of the index when `index` is set).
    pub partition: u32,
    /// `None` for a base partition; the global secondary index's name for a partition
    /// of its shadow tree (what such a tree dropped is derived again from the base
    /// table's WAL, see `docs/gsi-format.md`).
    pub index: Option<String>,
    /// The partition tree's report: WAL segments, offsets, bytes and records
    /// dropped and why, a torn manifest append, where replay started.
    pub report: TreeRecoveryReport,
}

/// What recovery found when the database opened. Lists only the partitions
/// where recovery dropped, skipped or ignored something; empty after a clean
/// shutdown.
///
/// ```
/// use strata_engine::{Db, DbOptions};
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), DbOptions::default())?;
/// assert!(db.recovery_report().is_clean());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DbRecoveryReport {
    /// The partitions where recovery did something, in table-name and
    /// partition order.
    pub partitions: Vec<PartitionRecovery>,
}

impl DbRecoveryReport {
    /// True when recovery dropped and ignored nothing anywhere.
    pub fn is_clean(&self) -> bool {
        self.partitions.iter().all(|p| p.report.is_clean())
    }

    /// True when some partition dropped or skipped damaged WAL data that a
    /// crash cannot explain (only possible with a salvaging or point-in-time
    /// recovery mode; the default mode refuses to open instead).
    pub fn has_corruption(&self) -> bool {
        self.partitions.iter().any(|p| p.report.has_corruption())
    }

    /// WAL bytes dropped over all partitions.
    pub fn dropped_bytes(&self) -> u64 {
        self.partitions
            .iter()
            .map(|p| p.report.wal.dropped_bytes())
            .sum()
    }
}

/// The loss policy of a table's partitions: with `refuse_open_on_loss`, a
/// `Sync` table refuses anything but a torn tail (which holds no
/// acknowledged write), a `Buffered` table refuses any dropped byte (its torn
/// tail may hold acknowledged writes); otherwise the tree options' policy.
pub(crate) fn loss_policy(
    refuse_open_on_loss: bool,
    durability: TableDurability,
    configured: WalLossPolicy,
) -> WalLossPolicy {
    if !refuse_open_on_loss {
        return configured;
    }
    match durability {
        TableDurability::Sync if configured != WalLossPolicy::RefuseAny => {
            WalLossPolicy::RefuseUnlessTornTail
        }
        _ => WalLossPolicy::RefuseAny,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_per_durability() {
        use TableDurability::{Buffered, Sync};
        use WalLossPolicy::{RefuseAny, RefuseUnlessTornTail, Report};
        assert_eq!(loss_policy(false, Buffered, Report), Report);
        assert_eq!(loss_policy(false, Sync, RefuseAny), RefuseAny);
        assert_eq!(loss_policy(true, Sync, Report), RefuseUnlessTornTail);
        assert_eq!(loss_policy(true, Buffered, Report), RefuseAny);
        assert_eq!(loss_policy(true, Sync, RefuseAny), RefuseAny);
    }
}
