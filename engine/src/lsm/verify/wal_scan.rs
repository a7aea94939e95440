//! Checking a partition's WAL: every segment's header and records, the LSN
//! continuity between segments, and that the oldest segment reaches back to
//! where replay must start (the manifest's flushed LSN).

use std::path::{Path, PathBuf};

use strata_fs::FileSystem;
use strata_wal::{
    LOCK_FILE_NAME, SegmentDamageKind, SegmentScan, scan_segment_bytes, segment_number,
    spare_number,
};

use super::report::{ProblemKind, VerifyReport};
use super::{Mode, io_kind};

/// Offset of the first-LSN field in a segment header.
const FIRST_LSN_OFFSET: u64 = 16;

/// A segment read and scanned.
struct Scanned {
    number: u64,
    path: PathBuf,
    scan: SegmentScan,
}

/// Checks the WAL in `wal_dir`. `replay_from` is the LSN the manifest says
/// replay starts at (its flushed LSN), when the manifest could be read.
pub(super) fn check(
    fs: &dyn FileSystem,
    wal_dir: &Path,
    replay_from: Option<u64>,
    mode: Mode,
    report: &mut VerifyReport,
) {
    let names = match fs.list(wal_dir) {
        Ok(n) => n,
        Err(e) => {
            report.add(
                wal_dir,
                None,
                io_kind(&e),
                format!("cannot list the WAL directory: {e}"),
            );
            return;
        }
    };
    let mut segments: Vec<(u64, &String)> = Vec::new();
    for name in &names {
        match segment_number(name) {
            Some(n) => segments.push((n, name)),
            // The lock, and retired segments kept for reuse (never read).
            None if name == LOCK_FILE_NAME || spare_number(name).is_some() => {}
            None => report.add(
                wal_dir.join(name),
                None,
                ProblemKind::Orphan,
                "not a WAL segment (the log ignores it)",
            ),
        }
    }
    segments.sort();
    if segments.is_empty() {
        report.add(
            wal_dir,
            None,
            ProblemKind::Missing,
            "the WAL directory holds no segment",
        );
        return;
    }
    let last_number = segments.last().map(|s| s.0);
    let mut prev: Option<Scanned> = None;
    for (i, &(number, name)) in segments.iter().enumerate() {
        let path = wal_dir.join(name);
        let bytes = match fs.read_all(&path) {
            Ok(b) => b,
            // On an open tree, a segment listed a moment ago may have been
            // deleted by WAL retention since: not a problem.
            Err(e) if mode == Mode::Live && e.kind() == std::io::ErrorKind::NotFound => {
                prev = None;
                continue;
            }
            Err(e) => {
                report.add(&path, None, io_kind(&e), e.to_string());
                prev = None;
                continue;
            }
        };
        report.checked(bytes.len() as u64);
        let cur = Scanned {
            number,
            path,
            scan: scan_segment_bytes(&bytes),
        };
        let is_last = Some(number) == last_number;
        report_damage(&cur, is_last, mode, report);
        if let Some(p) = &prev {
            check_continuity(p, &cur, report);
        } else if i == 0 {
            check_coverage(&cur, replay_from, report);
        }
        prev = Some(cur);
    }
}

fn report_damage(seg: &Scanned, is_last: bool, mode: Mode, report: &mut VerifyReport) {
    let s = &seg.scan;
    for d in &s.damage {
        let at = Some(d.offset);
        match d.kind {
            SegmentDamageKind::Header => report.add(
                &seg.path,
                at,
                ProblemKind::Corruption,
                format!("segment header: {}", d.reason),
            ),
            SegmentDamageKind::TornCreation | SegmentDamageKind::TornTail if !is_last => {
                report.add(
                    &seg.path,
                    at,
                    ProblemKind::Corruption,
                    format!(
                        "{} in a segment that is not the newest (it was synced before the next one was created): {} complete records end at offset {}",
                        d.reason, s.records, s.good_len
                    ),
                );
            }
            // The active segment of an open log: its tail is being written.
            SegmentDamageKind::TornCreation | SegmentDamageKind::TornTail
                if mode == Mode::Live => {}
            SegmentDamageKind::TornCreation => report.add(
                &seg.path,
                at,
                ProblemKind::TornTail,
                format!(
                    "{}: the newest segment's creation was torn; recovery deletes it",
                    d.reason
                ),
            ),
            SegmentDamageKind::TornTail => report.add(
                &seg.path,
                at,
                ProblemKind::TornTail,
                format!(
                    "{}: {} bytes after the last complete record (offset {}) are incomplete and nothing intact follows; recovery drops them",
                    d.reason,
                    s.len - s.good_len,
                    s.good_len
                ),
            ),
            SegmentDamageKind::Corruption { next_valid } => report.add(
                &seg.path,
                at,
                ProblemKind::Corruption,
                format!(
                    "{}; an intact fragment follows at offset {next_valid}, so this is damage, not a torn tail ({} records before it are intact)",
                    d.reason, s.records
                ),
            ),
            _ => report.add(&seg.path, at, ProblemKind::Corruption, d.reason.clone()),
        }
    }
}

/// Segment `cur` must continue the LSNs of `prev`, with no segment between.
fn check_continuity(prev: &Scanned, cur: &Scanned, report: &mut VerifyReport) {
    if cur.number != prev.number + 1 {
        report.add(
            &cur.path,
            None,
            ProblemKind::WalGap,
            format!(
                "segments {} to {} are missing between {} and this one",
                prev.number + 1,
                cur.number - 1,
                prev.path.display()
            ),
        );
        return;
    }
    // The record count of a damaged segment is not known.
    let complete = prev.scan.damage.is_empty();
    if let (Some(p), Some(c), true) = (prev.scan.first_lsn, cur.scan.first_lsn, complete) {
        let expected = p.saturating_add(prev.scan.records);
        if c != expected {
            report.add(
                &cur.path,
                Some(FIRST_LSN_OFFSET),
                ProblemKind::WalGap,
                format!(
                    "segment starts at LSN {c}, but the previous segment's {} records end before LSN {expected}",
                    prev.scan.records
                ),
            );
        }
    }
}

/// The oldest segment must start at or before the LSN replay starts from.
fn check_coverage(first: &Scanned, replay_from: Option<u64>, report: &mut VerifyReport) {
    if let (Some(from), Some(lsn)) = (replay_from, first.scan.first_lsn) {
        let from = from.max(1);
        if lsn > from {
            report.add(
                &first.path,
                Some(FIRST_LSN_OFFSET),
                ProblemKind::WalGap,
                format!(
                    "replay must start at LSN {from} (the manifest's flushed LSN), but the oldest segment starts at LSN {lsn}: records {from}..{lsn} are gone"
                ),
            );
        }
    }
}
