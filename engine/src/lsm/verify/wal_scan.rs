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
    let mut scanned: Vec<Option<Scanned>> = Vec::with_capacity(segments.len());
    let mut last_header_torn = false;
    for (i, &(number, name)) in segments.iter().enumerate() {
        let path = wal_dir.join(name);
        let bytes = match fs.read_all(&path) {
            Ok(b) => b,
            // On an open tree, a segment listed a moment ago may have been
            // deleted by WAL retention since: not a problem.
            Err(e) if mode == Mode::Live && e.kind() == std::io::ErrorKind::NotFound => {
                scanned.push(None);
                continue;
            }
            Err(e) => {
                report.add(&path, None, io_kind(&e), e.to_string());
                scanned.push(None);
                continue;
            }
        };
        report.checked(bytes.len() as u64);
        if i + 1 == segments.len() {
            last_header_torn = strata_wal::segment_header_torn(&bytes, number);
        }
        scanned.push(Some(Scanned {
            number,
            path,
            scan: scan_segment_bytes(&bytes),
        }));
    }
    // The newest segment may have been started by a rotation that put off
    // its fsyncs (format version 3): then a power loss may have torn the
    // segment before it, or its own header (see `docs/wal-format.md`).
    let n = scanned.len();
    let prev_v3 = n >= 2 && matches!(&scanned[n - 2], Some(p) if p.scan.version >= Some(3));
    let newest_half_made = match scanned.last() {
        Some(Some(l)) => half_made(l, last_header_torn),
        _ => None,
    }
    .filter(|_| prev_v3);
    let newest_deferred = matches!(scanned.last(), Some(Some(l)) if l.scan.predecessor_unsynced);
    let prev_may_tear = prev_v3 && (newest_deferred || newest_half_made.is_some());
    let mut prev: Option<&Scanned> = None;
    let mut prev_torn = false;
    for (i, cur) in scanned.iter().enumerate() {
        let Some(cur) = cur else {
            prev = None;
            continue;
        };
        let is_last = i + 1 == n;
        if is_last && let Some(why) = &newest_half_made {
            if mode != Mode::Live {
                report.add(
                    &cur.path,
                    Some(0),
                    ProblemKind::TornTail,
                    format!("{why}: the newest segment's creation was torn; recovery deletes it"),
                );
            }
            break;
        }
        if is_last && prev_torn {
            report.add(
                &cur.path,
                None,
                ProblemKind::TornTail,
                "the newest segment was started before the segment before it was synced, and that segment's tail is torn: recovery deletes this one (none of its records was acknowledged as durable)",
            );
            break;
        }
        let may_tear = is_last || (i + 2 == n && prev_may_tear);
        report_damage(cur, may_tear, mode, report);
        prev_torn = may_tear
            && !is_last
            && cur
                .scan
                .damage
                .iter()
                .any(|d| d.kind == SegmentDamageKind::TornTail);
        if let Some(p) = prev {
            if is_last && prev_may_tear && lost_tail(p, cur) {
                if mode != Mode::Live {
                    report.add(
                        &cur.path,
                        Some(FIRST_LSN_OFFSET),
                        ProblemKind::TornTail,
                        "the segment before this one ends short of this one's first LSN, and was not yet synced when this one was started: a crash lost its tail; recovery deletes this segment (none of its records was acknowledged as durable)",
                    );
                }
                break;
            }
            check_continuity(p, cur, report);
        } else if i == 0 {
            check_coverage(cur, replay_from, report);
        }
        prev = Some(cur);
    }
}

/// Why the newest segment `l` reads as half created by a rotation that put
/// off its fsyncs: its header is torn (a prefix, then zeros) or is still
/// another segment's (a recycled file whose new header never reached the
/// disk). `None` when it is neither.
fn half_made(l: &Scanned, header_torn: bool) -> Option<String> {
    let want = (l.number & u64::from(u32::MAX)) as u32;
    if let Some(tag) = l.scan.tag
        && tag != want
    {
        return Some(format!(
            "its header is tagged {tag}, not {want}: a recycled file's old header"
        ));
    }
    let header_damaged = l
        .scan
        .damage
        .iter()
        .any(|d| d.kind == SegmentDamageKind::Header);
    (header_damaged && header_torn)
        .then(|| "its header is a prefix of its own followed by zeros".to_owned())
}

fn report_damage(seg: &Scanned, may_tear: bool, mode: Mode, report: &mut VerifyReport) {
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
            SegmentDamageKind::TornCreation | SegmentDamageKind::TornTail if !may_tear => {
                report.add(
                    &seg.path,
                    at,
                    ProblemKind::Corruption,
                    format!(
                        "{} in a segment that is not the newest (it was synced before the next one was started): {} complete records end at offset {}",
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

/// True when `cur` directly follows `prev` but starts past the LSN where
/// `prev`'s intact records end.
fn lost_tail(prev: &Scanned, cur: &Scanned) -> bool {
    cur.number == prev.number + 1
        && matches!((prev.scan.first_lsn, cur.scan.first_lsn),
            (Some(p), Some(c)) if c > p.saturating_add(prev.scan.records))
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
