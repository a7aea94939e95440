//! Recovery: scanning every segment at open and handling damage per the
//! [`RecoveryMode`].
//!
//! Recovery is planned first ([`plan`]: reads only) and applied after
//! ([`apply`]: truncations and deletions), so a caller can inspect the
//! planned [`RecoveryReport`] and refuse to go on with nothing changed on
//! disk ([`Wal::open_checked`](crate::Wal::open_checked)).
//!
//! The rule that tells a torn tail from corruption: a crash can only tear the
//! *end* of the log, so damage followed by any valid fragment (a complete,
//! checksummed piece of a record) is corruption; damage with nothing valid
//! after it, at the end of the last segment, is a torn tail.

use std::path::{Path, PathBuf};

use strata_fs::FileSystem;

use crate::format::SEGMENT_HEADER_SIZE;
use crate::reader::{HeaderState, ScanError, SegmentReader, find_valid_fragment, read_header};
use crate::segment::{SegmentMeta, parse_segment_name, parse_spare_name};
use crate::{Lsn, RecoveryMode, WalError};

/// Why recovery dropped a range of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropKind {
    /// Incomplete or unreadable bytes at the end of the last segment with no
    /// valid fragment after them: what a crash during an unsynced write
    /// leaves. Holds only records whose write had not completed; with
    /// `Durability::Sync` none of them was acknowledged, with `Buffered` or
    /// `None` some may have been.
    TornTail,
    /// A segment file with an incomplete header (shorter than a header, or
    /// all zero), or the last segment still holding the header of the
    /// retired segment its file was recycled from (the rename reached the
    /// disk, the new header did not): a crash while the segment was created.
    /// Holds no record that was acknowledged as durable.
    TornCreation,
    /// Damaged bytes with valid data after them (or in a segment that is not
    /// the last): corruption, not a crash. The records in them are lost
    /// (`RecoveryMode::SkipCorruptedRecords` keeps what follows;
    /// `RecoveryMode::PointInTime` drops it too).
    Corruption,
    /// A whole segment, or the rest of one, dropped by
    /// `RecoveryMode::PointInTime` because it follows the first problem.
    AfterStop,
    /// The last segment, dropped because the segment before it has a torn
    /// tail and was not yet fsynced when this one was started (its header
    /// says so). What a power loss leaves when the OS wrote the newer
    /// segment's pages to disk before the older one's: every record in it
    /// was written after the torn ones, and none was acknowledged as durable
    /// (a `Sync` commit fsyncs the older segment first).
    AfterTornTail,
}

/// A range of bytes recovery dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DroppedRange {
    /// The segment file.
    pub segment: PathBuf,
    /// Where the dropped bytes start (the end of the last good record, or 0
    /// when the whole file was dropped).
    pub offset: u64,
    /// How many bytes were dropped.
    pub bytes: u64,
    /// How many records the bytes held, when that can be counted: for a
    /// skipped range in a segment that is not the last (from the next
    /// segment's first LSN). `None` when it cannot be known (a torn tail
    /// holds at most a part of a record per unsynced write; damaged bytes in
    /// the last segment may have held any number).
    pub records: Option<u64>,
    /// Torn tail, torn creation, corruption or dropped after a stop.
    pub kind: DropKind,
    /// Why, including where the damage was found.
    pub reason: String,
}

/// What [`Wal::open`](crate::Wal::open) found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecoveryReport {
    /// Records present in the log after recovery.
    pub records: u64,
    /// The LSN of the last record present, if any.
    pub last_lsn: Option<Lsn>,
    /// The LSN of the first record present, if any.
    pub first_lsn: Option<Lsn>,
    /// The oldest position the log covers: the first LSN of its first
    /// segment (even an empty one), or `next_lsn` when no segment survives.
    /// Every record from here to `next_lsn - 1` is present, except those in
    /// ranges of kind [`DropKind::Corruption`] skipped by salvage.
    pub start_lsn: Lsn,
    /// The LSN the next appended record gets.
    pub next_lsn: Lsn,
    /// Segment files present after recovery (before a new one is created).
    pub segments: usize,
    /// What was cut off, skipped or deleted, in log order. Empty after a
    /// clean shutdown.
    pub dropped: Vec<DroppedRange>,
    /// Records kept by `RecoveryMode::SkipCorruptedRecords` that follow
    /// skipped damage in their segment. When non-zero, the LSNs of the records
    /// after the first skipped range are positional over the records present
    /// and may be lower than the LSNs those records were appended with.
    pub salvaged_records: u64,
}

impl RecoveryReport {
    /// True when nothing was dropped.
    pub fn is_clean(&self) -> bool {
        self.dropped.is_empty()
    }

    /// Total bytes dropped.
    pub fn dropped_bytes(&self) -> u64 {
        self.dropped.iter().map(|d| d.bytes).sum()
    }

    /// True when something other than a torn tail or a torn segment creation
    /// was dropped: damage that a crash cannot explain, whose records may
    /// have been acknowledged whatever their durability.
    pub fn has_corruption(&self) -> bool {
        self.dropped
            .iter()
            .any(|d| matches!(d.kind, DropKind::Corruption | DropKind::AfterStop))
    }

    /// True when a torn tail with at least one byte was cut off.
    pub fn has_torn_tail(&self) -> bool {
        self.dropped
            .iter()
            .any(|d| d.kind == DropKind::TornTail && d.bytes > 0)
    }
}

/// The outcome of recovery, for the writer.
#[derive(Debug)]
pub(crate) struct Recovered {
    pub(crate) segments: Vec<SegmentMeta>,
    /// The LSN the next record gets.
    pub(crate) next_lsn: Lsn,
    /// The number a newly created segment gets.
    pub(crate) next_number: u64,
    /// Appends must go to a new segment: the last one has skipped damage,
    /// or is of format version 1.
    pub(crate) rotate: bool,
    /// Where the records of the last surviving segment end: where appends
    /// to it continue (its file may be longer: preallocated or recycled).
    pub(crate) last_end: u64,
    /// The last surviving segment's header says the segment before it was
    /// not yet synced when it was started.
    pub(crate) last_flagged: bool,
    /// Spare files (retired segments kept for reuse): `(old number, path)`.
    pub(crate) spares: Vec<(u64, PathBuf)>,
    pub(crate) report: RecoveryReport,
}

/// Recovery worked out but not yet applied to the disk.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) recovered: Recovered,
    /// Segment files to delete (in log order; deleted newest first).
    remove: Vec<PathBuf>,
    /// A segment to cut at a length.
    truncate: Option<(PathBuf, u64)>,
}

/// The segment files in `dir`, sorted by number.
pub(crate) fn list_segments(
    fs: &dyn FileSystem,
    dir: &Path,
) -> Result<Vec<(u64, PathBuf)>, WalError> {
    let names = fs.list(dir).map_err(|e| WalError::io(dir, e))?;
    let mut segs: Vec<(u64, PathBuf)> = names
        .iter()
        .filter_map(|n| parse_segment_name(n).map(|num| (num, dir.join(n))))
        .collect();
    segs.sort_by_key(|(num, _)| *num);
    Ok(segs)
}

/// The spare files in `dir` (retired segments kept for reuse), oldest first.
pub(crate) fn list_spares(
    fs: &dyn FileSystem,
    dir: &Path,
) -> Result<Vec<(u64, PathBuf)>, WalError> {
    let names = fs.list(dir).map_err(|e| WalError::io(dir, e))?;
    let mut spares: Vec<(u64, PathBuf)> = names
        .iter()
        .filter_map(|n| parse_spare_name(n).map(|num| (num, dir.join(n))))
        .collect();
    spares.sort_by_key(|(num, _)| *num);
    Ok(spares)
}

/// Where recovery stopped: drop segment `index` from `good_len` (`None`:
/// the whole file) and every later segment.
struct Stop {
    index: usize,
    good_len: Option<u64>,
    kind: DropKind,
    reason: String,
}

impl Stop {
    /// Drop segment `index` whole (and every later one).
    fn whole(index: usize, kind: DropKind, reason: String) -> Stop {
        Stop {
            index,
            good_len: None,
            kind,
            reason,
        }
    }
}

/// The outcome of scanning one segment's records.
struct Scan {
    count: u64,
    /// Skipped damaged ranges `(start, resume)` (salvage only).
    skips: Vec<(u64, u64)>,
    skip_reports: Vec<DroppedRange>,
    salvaged: u64,
    /// Damage that ends the segment: `(good_len, kind, reason)`.
    end: Option<(u64, DropKind, String)>,
    /// Where a clean end of the records was found.
    clean_end: u64,
}

fn describe(offset: u64, reason: &str, valid_after: Option<u64>) -> String {
    match valid_after {
        Some(v) => format!(
            "damage at offset {offset}: {reason}; a valid fragment follows at offset {v}, so this is corruption, not a torn tail"
        ),
        None => format!("damage at offset {offset}: {reason}; nothing valid follows it"),
    }
}

/// True when the header of segment `number` in `src` is what a power loss
/// leaves of a version-3 header written over a spare's blank (zeroed)
/// header and not yet synced: some leading bytes of that header, then zeros
/// to the end of the header, with at least the last byte missing. The
/// leading bytes must match the header's fixed fields (magic, version 3,
/// block size, a known flag, this segment's tag); the first LSN and the
/// checksum may hold anything. A fully written header whose checksum fails
/// is damage, not this.
pub(crate) fn torn_header<S: crate::reader::Source>(src: &S, number: u64) -> std::io::Result<bool> {
    if src.len() < SEGMENT_HEADER_SIZE as u64 {
        return Ok(false);
    }
    let mut h = [0u8; SEGMENT_HEADER_SIZE];
    src.read_exact_at(0, &mut h)?;
    let written = h.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    if written >= SEGMENT_HEADER_SIZE {
        return Ok(false);
    }
    let fixed = crate::format::encode_segment_header(1, crate::format::segment_tag(number), 0);
    Ok((0..written).all(|i| match i {
        14 => h[i] <= 1,
        16..24 | 28..32 => true,
        _ => h[i] == fixed[i],
    }))
}

/// Corruption at `offset` of segment `index` (`path`): an error, except in
/// `RecoveryMode::PointInTime`, where recovery stops there.
fn corruption_stop(
    mode: RecoveryMode,
    path: &Path,
    index: usize,
    offset: u64,
    reason: String,
) -> Result<Stop, WalError> {
    if mode != RecoveryMode::PointInTime {
        return Err(WalError::corruption(path, offset, reason));
    }
    Ok(Stop::whole(index, DropKind::Corruption, reason))
}

/// Why a valid header does not belong to segment `number`: its tag is
/// another segment's. A recycled file gets its new header before its new
/// name, but neither is synced before the first `Sync` commit into it, so a
/// power loss can keep the rename and lose the header: the file then still
/// holds the retired segment's header, and no durable record.
fn stale_reason(h: &crate::format::SegmentHeader, number: u64) -> Option<String> {
    let want = crate::format::segment_tag(number);
    let tag = h.seed?;
    (tag != want).then(|| {
        format!(
            "segment header is tagged {tag}, not {want}: the header of the retired segment this file was recycled from, never replaced durably"
        )
    })
}

/// Reads one segment's records, handling damage per `mode`. A tail with no
/// valid fragment after the damage is torn when `may_tear` (the last
/// segment, or the one before it when the last was started before it was
/// synced), else corruption.
fn scan_segment(
    reader: &mut SegmentReader<std::sync::Arc<dyn strata_fs::RandomAccessFile>>,
    path: &Path,
    mode: RecoveryMode,
    is_last: bool,
    may_tear: bool,
) -> Result<Scan, WalError> {
    let mut scan = Scan {
        count: 0,
        skips: Vec::new(),
        skip_reports: Vec::new(),
        salvaged: 0,
        end: None,
        clean_end: SEGMENT_HEADER_SIZE as u64,
    };
    let mut good_len = SEGMENT_HEADER_SIZE as u64;
    loop {
        match reader.next_record(None) {
            Ok(Some(end)) => {
                scan.count += 1;
                if !scan.skips.is_empty() {
                    scan.salvaged += 1;
                }
                good_len = end;
            }
            Ok(None) => {
                scan.clean_end = reader.pos().min(reader.file_len());
                return Ok(scan);
            }
            Err(ScanError::Io(e)) => return Err(WalError::io(path, e)),
            Err(ScanError::Corrupt { offset, reason }) => {
                let seed = reader.seed();
                let valid_after = find_valid_fragment(reader.source(), offset, false, seed)
                    .map_err(|e| WalError::io(path, e))?;
                let what = describe(offset, &reason, valid_after);
                let torn = may_tear && valid_after.is_none();
                match mode {
                    RecoveryMode::AbsoluteConsistency => {
                        return Err(WalError::corruption(path, offset, what));
                    }
                    RecoveryMode::TolerateCorruptedTail => {
                        if !torn {
                            return Err(WalError::corruption(path, offset, what));
                        }
                        scan.end = Some((good_len, DropKind::TornTail, what));
                        return Ok(scan);
                    }
                    RecoveryMode::PointInTime => {
                        let kind = if torn {
                            DropKind::TornTail
                        } else {
                            DropKind::Corruption
                        };
                        scan.end = Some((good_len, kind, what));
                        return Ok(scan);
                    }
                    RecoveryMode::SkipCorruptedRecords => {
                        if torn {
                            scan.end = Some((good_len, DropKind::TornTail, what));
                            return Ok(scan);
                        }
                        let resume = find_valid_fragment(reader.source(), offset, true, seed)
                            .map_err(|e| WalError::io(path, e))?
                            .filter(|&r| r > good_len);
                        let file_len = reader.file_len();
                        match resume {
                            Some(r) => {
                                scan.skips.push((good_len, r));
                                scan.skip_reports.push(DroppedRange {
                                    segment: path.to_path_buf(),
                                    offset: good_len,
                                    bytes: r - good_len,
                                    records: None,
                                    kind: DropKind::Corruption,
                                    reason: format!(
                                        "{what}; skipped, reading resumes at offset {r}"
                                    ),
                                });
                                reader.seek(r);
                                // The next record starts at `r`: later damage
                                // is skipped from there (a skip is looked up by
                                // where a record would start).
                                good_len = r;
                            }
                            None if is_last => {
                                // Valid fragments follow but no record starts:
                                // nothing to keep, cut the segment here.
                                scan.end = Some((good_len, DropKind::Corruption, what));
                                return Ok(scan);
                            }
                            None => {
                                scan.skips.push((good_len, file_len));
                                scan.skip_reports.push(DroppedRange {
                                    segment: path.to_path_buf(),
                                    offset: good_len,
                                    bytes: file_len - good_len,
                                    records: None,
                                    kind: DropKind::Corruption,
                                    reason: format!("{what}; skipped to the end of the segment"),
                                });
                                reader.seek(file_len);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Scans the log in `dir` and works out what recovery must do, changing
/// nothing on disk.
pub(crate) fn plan(fs: &dyn FileSystem, dir: &Path, mode: RecoveryMode) -> Result<Plan, WalError> {
    let files = list_segments(fs, dir)?;
    let mut survivors: Vec<SegmentMeta> = Vec::new();
    let mut report = RecoveryReport::default();
    let mut expected: Option<Lsn> = None;
    let mut stop: Option<Stop> = None;
    let mut torn_first_creation = false;
    let mut last_end = SEGMENT_HEADER_SIZE as u64;
    let mut last_version = crate::format::FORMAT_VERSION;
    let mut last_flagged = false;
    let n = files.len();
    // May the segment before the last have a torn tail? Only if the last
    // one was started before it was synced: the last segment's header says
    // so, or is still a recycled file's old header (see `stale_reason`).
    let predecessor_may_tear = match files.last() {
        Some((number, path)) if n >= 2 => {
            let src = fs.open_read(path).map_err(|e| WalError::io(path, e))?;
            match read_header(&src).map_err(|e| WalError::io(path, e))? {
                HeaderState::Valid(h) => {
                    h.predecessor_unsynced() || stale_reason(&h, *number).is_some()
                }
                HeaderState::TornCreation => true,
                HeaderState::Bad(_) => {
                    torn_header(&src, *number).map_err(|e| WalError::io(path, e))?
                }
            }
        }
        _ => false,
    };

    for (i, (number, path)) in files.iter().enumerate() {
        let is_last = i + 1 == n;
        let src = fs.open_read(path).map_err(|e| WalError::io(path, e))?;
        let header = read_header(&src).map_err(|e| WalError::io(path, e))?;
        let header = match header {
            // A header tagged for another segment: the newest segment still
            // holding a recycled file's old header (a torn creation, after a
            // version-3 segment), else corruption. The first segment is not
            // checked (nothing before it could have started it).
            HeaderState::Valid(h) => match stale_reason(&h, *number).filter(|_| i > 0) {
                Some(reason) if is_last && last_version >= 3 => {
                    if mode == RecoveryMode::AbsoluteConsistency {
                        return Err(WalError::corruption(path, 24, reason));
                    }
                    stop = Some(Stop::whole(i, DropKind::TornCreation, reason));
                    break;
                }
                Some(reason) => {
                    stop = Some(corruption_stop(mode, path, i, 24, reason)?);
                    break;
                }
                None => h,
            },
            HeaderState::TornCreation => {
                let reason = format!(
                    "incomplete segment header ({} bytes, shorter than {SEGMENT_HEADER_SIZE} or all zero): a torn segment creation",
                    crate::reader::Source::len(&src)
                );
                if mode == RecoveryMode::AbsoluteConsistency
                    || (mode != RecoveryMode::PointInTime && !is_last)
                {
                    return Err(WalError::corruption(path, 0, reason));
                }
                torn_first_creation = i == 0 && *number == 1;
                stop = Some(Stop::whole(i, DropKind::TornCreation, reason));
                break;
            }
            HeaderState::Bad((offset, reason))
                if is_last
                    && i > 0
                    && last_version >= 3
                    && mode != RecoveryMode::AbsoluteConsistency
                    && torn_header(&src, *number).map_err(|e| WalError::io(path, e))? =>
            {
                stop = Some(Stop::whole(
                    i,
                    DropKind::TornCreation,
                    format!(
                        "segment header at offset {offset}: {reason}; it is a prefix of this segment's header followed by zeros: the header written over a blank spare when the segment was started, torn by a crash before it was synced"
                    ),
                ));
                break;
            }
            HeaderState::Bad((offset, reason)) => {
                if mode != RecoveryMode::PointInTime {
                    return Err(WalError::corruption(path, offset, reason));
                }
                stop = Some(Stop::whole(
                    i,
                    DropKind::Corruption,
                    format!("segment header at offset {offset}: {reason}"),
                ));
                break;
            }
        };
        let first_lsn = header.first_lsn;
        if let Some(exp) = expected
            && first_lsn != exp
        {
            let prev_skipped = survivors.last().is_some_and(|s| !s.skips.is_empty());
            if prev_skipped && first_lsn > exp {
                // Salvage skipped damage in the previous segment: this header
                // says how many records the skipped ranges held.
                let lost = first_lsn - exp;
                let prev_ranges: Vec<&mut DroppedRange> = report
                    .dropped
                    .iter_mut()
                    .filter(|d| survivors.last().is_some_and(|s| s.path == d.segment))
                    .collect();
                let count = prev_ranges.len();
                for d in prev_ranges {
                    if count == 1 {
                        d.records = Some(lost);
                    }
                    d.reason
                        .push_str(&format!(" ({lost} records lost in this segment in all)"));
                }
            } else if is_last
                && predecessor_may_tear
                && last_version >= 3
                && first_lsn > exp
                && mode != RecoveryMode::AbsoluteConsistency
            {
                // The segment before ends cleanly, but short: a power loss
                // kept its records up to a write boundary and lost the rest,
                // which were not yet synced when this segment was started.
                stop = Some(Stop::whole(
                    i,
                    DropKind::AfterTornTail,
                    format!(
                        "segment starts at LSN {first_lsn} but the segment before it ends before LSN {exp}: records {exp}..{first_lsn} of that segment, not yet synced when this one was started, were lost by a crash"
                    ),
                ));
                break;
            } else {
                let reason = format!(
                    "segment starts at LSN {first_lsn} but the previous segment ends before LSN {exp} (missing or foreign segment)"
                );
                stop = Some(corruption_stop(mode, path, i, 16, reason)?);
                break;
            }
        }
        let mut reader = SegmentReader::new(src, header.version, header.seed);
        // The segment before the last may be torn when the last one was
        // started before it was synced; only version 3 writers do that.
        let may_tear = is_last || (i + 2 == n && predecessor_may_tear && header.version >= 3);
        let scan = scan_segment(&mut reader, path, mode, is_last, may_tear)?;
        last_end = scan
            .end
            .as_ref()
            .map_or(scan.clean_end, |(good, _, _)| *good);
        last_version = header.version;
        last_flagged = header.predecessor_unsynced();
        survivors.push(SegmentMeta {
            number: *number,
            path: path.clone(),
            first_lsn,
            skips: scan.skips,
        });
        expected = Some(first_lsn + scan.count);
        if scan.count > 0 && report.first_lsn.is_none() {
            report.first_lsn = Some(first_lsn);
        }
        report.records += scan.count;
        report.salvaged_records += scan.salvaged;
        report.dropped.extend(scan.skip_reports);
        if let Some((good_len, kind, reason)) = scan.end {
            stop = Some(Stop {
                index: i,
                good_len: Some(good_len),
                kind,
                reason,
            });
            break;
        }
    }

    // Work out what to cut before changing anything on disk.
    let mut remove: Vec<PathBuf> = Vec::new();
    let mut truncate: Option<(PathBuf, u64)> = None;
    if let Some(Stop {
        index,
        good_len,
        kind,
        reason,
    }) = stop
    {
        let (_, path) = &files[index];
        let len = fs.file_size(path).map_err(|e| WalError::io(path, e))?;
        let offset = good_len.unwrap_or(0);
        report.dropped.push(DroppedRange {
            segment: path.clone(),
            offset,
            bytes: len.saturating_sub(offset),
            records: None,
            kind,
            reason: reason.clone(),
        });
        match good_len {
            Some(good) => truncate = Some((path.clone(), good)),
            None => remove.push(path.clone()),
        }
        for (_, later) in &files[index + 1..] {
            let len = fs.file_size(later).map_err(|e| WalError::io(later, e))?;
            let (later_kind, why) = if kind == DropKind::TornTail {
                (
                    DropKind::AfterTornTail,
                    "started before the segment before it was synced, whose tail a crash tore",
                )
            } else {
                (
                    DropKind::AfterStop,
                    "follows the point where recovery stopped",
                )
            };
            report.dropped.push(DroppedRange {
                segment: later.clone(),
                offset: 0,
                bytes: len,
                records: None,
                kind: later_kind,
                reason: format!("{why} ({}: {reason})", path.display()),
            });
            remove.push(later.clone());
        }
    }

    let next_lsn = match expected {
        Some(lsn) => lsn,
        None => {
            // No segment survived. That is a fresh log only if nothing was
            // there, or the only file was segment 1 with a torn creation.
            let fresh = files.is_empty() || (files.len() == 1 && torn_first_creation);
            if !fresh {
                let (_, path) = &files[0];
                return Err(WalError::corruption(
                    path,
                    0,
                    "no segment with a readable header survives, so the next LSN is unknown"
                        .to_owned(),
                ));
            }
            1
        }
    };

    // A spare's old number is never given again: its old fragments are
    // seeded with it (see `segment_tag`).
    let spares = list_spares(fs, dir)?;
    let next_number = survivors
        .last()
        .map(|s| s.number + 1)
        .or_else(|| files.first().map(|(n, _)| *n))
        .unwrap_or(1)
        .max(spares.iter().map(|(n, _)| n + 1).max().unwrap_or(1));
    // Never write version-2 records into a version-1 segment.
    let rotate = survivors.last().is_some_and(|s| !s.skips.is_empty())
        || (!survivors.is_empty() && last_version < crate::format::FORMAT_VERSION);
    report.segments = survivors.len();
    report.next_lsn = next_lsn;
    report.start_lsn = survivors.first().map_or(next_lsn, |s| s.first_lsn);
    if report.records > 0 {
        report.last_lsn = Some(next_lsn - 1);
    }
    Ok(Plan {
        recovered: Recovered {
            segments: survivors,
            next_lsn,
            next_number,
            rotate,
            last_end,
            last_flagged,
            spares,
            report,
        },
        remove,
        truncate,
    })
}

/// Carries out a [`plan`]: deletes the dropped segments and cuts the damaged
/// one.
pub(crate) fn apply(fs: &dyn FileSystem, dir: &Path, plan: Plan) -> Result<Recovered, WalError> {
    for d in &plan.recovered.report.dropped {
        tracing::warn!(
            segment = %d.segment.display(),
            offset = d.offset,
            bytes = d.bytes,
            kind = ?d.kind,
            reason = %d.reason,
            "WAL recovery dropped data"
        );
    }
    // Delete later segments first (newest first), then cut the damaged one:
    // a crash in between leaves a log that recovers the same way.
    for path in plan.remove.iter().rev() {
        fs.remove_file(path).map_err(|e| WalError::io(path, e))?;
    }
    if !plan.remove.is_empty() {
        fs.sync_dir(dir).map_err(|e| WalError::io(dir, e))?;
    }
    if let Some((path, len)) = plan.truncate {
        fs.truncate(&path, len)
            .map_err(|e| WalError::io(&path, e))?;
    }
    Ok(plan.recovered)
}
