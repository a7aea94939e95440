//! What recovery found when a tree opened, and the checks that decide whether
//! it may open at all. The checks are pure functions of the WAL's planned
//! recovery report and the manifest's flushed position; `open` runs them
//! before anything on disk is changed. Rules: `docs/recovery.md`.

use std::path::{Path, PathBuf};

use strata_wal::{DropKind, RecoveryReport};

use super::error::{Error, Result};

/// When a tree refuses to open because WAL recovery would drop bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WalLossPolicy {
    /// Open and report what was dropped in [`TreeRecoveryReport`] (default).
    /// Corruption is still an error unless the recovery mode salvages it.
    #[default]
    Report,
    /// Refuse to open when recovery would drop anything but a torn tail or a
    /// torn segment creation: damage skipped by
    /// [`RecoveryMode::SkipCorruptedRecords`](strata_wal::RecoveryMode::SkipCorruptedRecords)
    /// or segments dropped by `PointInTime`. Right for trees whose writes
    /// are acknowledged only once fsynced (`Durability::Sync`): a torn tail
    /// then holds no acknowledged write.
    RefuseUnlessTornTail,
    /// Refuse to open when recovery would drop any byte that may hold a
    /// record, a torn tail included. Right for trees whose writes may be
    /// acknowledged before they are fsynced (`Durability::Buffered` /
    /// `None`): a torn tail may hold acknowledged writes.
    RefuseAny,
}

/// The end of a manifest that recovery ignored as a torn append.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ManifestTail {
    /// The manifest file.
    pub path: PathBuf,
    /// Where the ignored bytes start.
    pub offset: u64,
    /// How many bytes were ignored.
    pub bytes: u64,
    /// Why they were taken for a torn append.
    pub reason: String,
}

/// What recovery found and did when a tree opened
/// ([`Tree::recovery_report`](super::Tree::recovery_report)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TreeRecoveryReport {
    /// The WAL's recovery: what was cut, skipped or deleted, per segment.
    pub wal: RecoveryReport,
    /// A torn append at the end of the manifest that was ignored (an edit
    /// whose write never completed; the WAL coverage check makes sure the
    /// records it would have covered are still in the WAL).
    pub manifest_tail: Option<ManifestTail>,
    /// The LSN replay started at.
    pub replay_from: u64,
    /// WAL records replayed into memtables (records whose entries were all
    /// in tables already included).
    pub replayed_records: u64,
    /// True when salvage skipped damaged WAL records: the tree replayed the
    /// whole WAL and flushed it to tables, and the damaged segments were
    /// deleted (unless a retention floor still holds them).
    pub salvaged: bool,
}

impl TreeRecoveryReport {
    /// True when recovery dropped nothing and ignored nothing.
    pub fn is_clean(&self) -> bool {
        self.wal.is_clean() && self.manifest_tail.is_none()
    }

    /// True when recovery dropped data that a crash cannot explain
    /// (corruption skipped or cut), which may have held acknowledged writes
    /// whatever their durability.
    pub fn has_corruption(&self) -> bool {
        self.wal.has_corruption()
    }
}

/// Checks, before anything changes on disk, that the WAL still covers every
/// position replay must start from, and that recovery drops nothing `policy`
/// forbids.
///
/// Replay needs every record from `max(flushed_lsn, 1)` on: the first
/// surviving segment must start at or before it (segments are deleted only
/// when a flush recorded in the manifest covers them, so a later start means
/// the manifest lost a flush or segments were deleted), and the log must
/// reach it (a flush syncs the WAL before the manifest records its position,
/// so the log cannot legitimately end before it). When salvage skipped
/// damaged records, LSNs after them are positional and may be lower than
/// before, so only the start is checked (replay then starts at the first
/// record).
pub(crate) fn check_wal(
    wal_dir: &Path,
    report: &RecoveryReport,
    flushed_lsn: u64,
    salvaged: bool,
    policy: WalLossPolicy,
) -> Result<()> {
    let need = flushed_lsn.max(1);
    if report.start_lsn > need {
        return Err(Error::WalGap {
            dir: wal_dir.to_path_buf(),
            expected: need,
            found: report.start_lsn,
            reason: format!(
                "replay must start at LSN {need} (the manifest's flushed position) but the oldest WAL segment starts at LSN {}: records {need}..{} are missing (WAL segments deleted after a flush the manifest does not record?)",
                report.start_lsn,
                report.start_lsn - 1
            ),
        });
    }
    if !salvaged && report.next_lsn < need {
        return Err(Error::WalGap {
            dir: wal_dir.to_path_buf(),
            expected: need,
            found: report.next_lsn,
            reason: format!(
                "the manifest says records below LSN {need} were flushed, but the WAL ends before LSN {}: synced records are missing and new records would be numbered below the flushed position",
                report.next_lsn
            ),
        });
    }
    let refused: Vec<String> = report
        .dropped
        .iter()
        .filter(|d| match policy {
            WalLossPolicy::Report => false,
            WalLossPolicy::RefuseUnlessTornTail => {
                matches!(d.kind, DropKind::Corruption | DropKind::AfterStop)
            }
            WalLossPolicy::RefuseAny => d.kind != DropKind::TornCreation && d.bytes > 0,
        })
        .map(|d| {
            format!(
                "{} bytes at offset {} of {} ({:?}: {})",
                d.bytes,
                d.offset,
                d.segment.display(),
                d.kind,
                d.reason
            )
        })
        .collect();
    if !refused.is_empty() {
        return Err(Error::RecoveryRefused {
            dir: wal_dir.to_path_buf(),
            reason: format!(
                "WAL recovery would drop data that may have been acknowledged: {}",
                refused.join("; ")
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(start: u64, next: u64) -> RecoveryReport {
        let mut r = RecoveryReport::default();
        r.start_lsn = start;
        r.next_lsn = next;
        r
    }

    fn gap(r: Result<()>) -> (u64, u64) {
        match r {
            Err(Error::WalGap {
                expected, found, ..
            }) => (expected, found),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn coverage() {
        let dir = Path::new("/w");
        let p = WalLossPolicy::Report;
        // Fresh tree, fresh log.
        check_wal(dir, &report(1, 1), 0, false, p).unwrap();
        // Everything flushed, empty newest segment starting at the flushed LSN.
        check_wal(dir, &report(50, 50), 50, false, p).unwrap();
        // Older segments kept (retention floor): fine.
        check_wal(dir, &report(10, 80), 50, false, p).unwrap();
        // Segments the replay needs are gone.
        assert_eq!(gap(check_wal(dir, &report(60, 80), 50, false, p)), (50, 60));
        // The log ends before the flushed position (lost or replaced).
        assert_eq!(gap(check_wal(dir, &report(1, 1), 50, false, p)), (50, 1));
        // Salvage: positional LSNs may end lower; the start still counts.
        check_wal(dir, &report(1, 40), 50, true, p).unwrap();
        assert_eq!(gap(check_wal(dir, &report(60, 80), 50, true, p)), (50, 60));
    }
}
