//! Recovery: scanning every segment at open and handling damage per the
//! [`RecoveryMode`].

use std::path::{Path, PathBuf};

use strata_fs::FileSystem;

use crate::format::SEGMENT_HEADER_SIZE;
use crate::reader::{HeaderState, ScanError, SegmentReader, read_header};
use crate::segment::{SegmentMeta, parse_segment_name};
use crate::{Lsn, RecoveryMode, WalError};

/// A range of bytes recovery dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedRange {
    /// The segment file.
    pub segment: PathBuf,
    /// Where the dropped bytes start (the end of the last good record, or 0
    /// when the whole file was dropped).
    pub offset: u64,
    /// How many bytes were dropped.
    pub bytes: u64,
    /// Why, including where the damage was found.
    pub reason: String,
}

/// What [`Wal::open`](crate::Wal::open) found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Records present in the log after recovery.
    pub records: u64,
    /// The LSN of the last record present, if any.
    pub last_lsn: Option<Lsn>,
    /// The LSN of the first record present, if any.
    pub first_lsn: Option<Lsn>,
    /// Segment files present after recovery (before a new one is created).
    pub segments: usize,
    /// What was cut off or deleted, in log order. Empty after a clean shutdown.
    pub dropped: Vec<DroppedRange>,
}

impl RecoveryReport {
    /// True when nothing was dropped.
    pub fn is_clean(&self) -> bool {
        self.dropped.is_empty()
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
    pub(crate) report: RecoveryReport,
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

/// What to do when a problem is found.
enum Stop {
    /// Drop the bytes of this segment from `good_len` on, and every later segment.
    At {
        good_len: Option<u64>,
        reason: String,
    },
}

/// Scans and repairs the log in `dir`.
pub(crate) fn recover(
    fs: &dyn FileSystem,
    dir: &Path,
    mode: RecoveryMode,
) -> Result<Recovered, WalError> {
    let files = list_segments(fs, dir)?;
    let mut survivors: Vec<SegmentMeta> = Vec::new();
    let mut report = RecoveryReport::default();
    let mut expected: Option<Lsn> = None;
    // Set when recovery stops early: (index of the damaged segment, what to keep of it).
    let mut stop: Option<(usize, Stop)> = None;
    let mut torn_first_creation = false;
    let n = files.len();

    for (i, (number, path)) in files.iter().enumerate() {
        let is_last = i + 1 == n;
        let src = fs.open_read(path).map_err(|e| WalError::io(path, e))?;
        let header = read_header(&src).map_err(|e| WalError::io(path, e))?;
        let first_lsn = match header {
            HeaderState::Valid(lsn) => lsn,
            HeaderState::TornCreation => {
                let reason = format!(
                    "incomplete segment header ({} bytes, shorter than {SEGMENT_HEADER_SIZE} or all zero): a torn segment creation",
                    crate::reader::Source::len(&src)
                );
                if mode == RecoveryMode::AbsoluteConsistency
                    || (mode == RecoveryMode::TolerateCorruptedTail && !is_last)
                {
                    return Err(WalError::corruption(path, 0, reason));
                }
                torn_first_creation = i == 0 && *number == 1;
                stop = Some((
                    i,
                    Stop::At {
                        good_len: None,
                        reason,
                    },
                ));
                break;
            }
            HeaderState::Bad((offset, reason)) => {
                if mode != RecoveryMode::PointInTime {
                    return Err(WalError::corruption(path, offset, reason));
                }
                let reason = format!("segment header at offset {offset}: {reason}");
                stop = Some((
                    i,
                    Stop::At {
                        good_len: None,
                        reason,
                    },
                ));
                break;
            }
        };
        if let Some(exp) = expected
            && first_lsn != exp
        {
            let reason = format!(
                "segment starts at LSN {first_lsn} but the previous segment ends before LSN {exp} (missing or foreign segment)"
            );
            if mode != RecoveryMode::PointInTime {
                return Err(WalError::corruption(path, 16, reason));
            }
            stop = Some((
                i,
                Stop::At {
                    good_len: None,
                    reason,
                },
            ));
            break;
        }
        let mut reader = SegmentReader::new(src);
        let mut count: u64 = 0;
        let mut good_len = SEGMENT_HEADER_SIZE as u64;
        let mut damage = None;
        loop {
            match reader.next_record(None) {
                Ok(Some(end)) => {
                    count += 1;
                    good_len = end;
                }
                Ok(None) => break,
                Err(ScanError::Io(e)) => return Err(WalError::io(path, e)),
                Err(ScanError::Corrupt { offset, reason }) => {
                    damage = Some((offset, reason));
                    break;
                }
            }
        }
        survivors.push(SegmentMeta {
            number: *number,
            path: path.clone(),
            first_lsn,
        });
        expected = Some(first_lsn + count);
        report.records += count;
        if let Some((offset, reason)) = damage {
            let tolerated = match mode {
                RecoveryMode::AbsoluteConsistency => false,
                RecoveryMode::TolerateCorruptedTail => is_last,
                RecoveryMode::PointInTime => true,
            };
            if !tolerated {
                return Err(WalError::corruption(path, offset, reason));
            }
            let reason = format!("damage at offset {offset}: {reason}");
            stop = Some((
                i,
                Stop::At {
                    good_len: Some(good_len),
                    reason,
                },
            ));
            break;
        }
    }

    // Work out what to cut before changing anything on disk.
    let mut remove: Vec<PathBuf> = Vec::new();
    let mut truncate: Option<(PathBuf, u64)> = None;
    if let Some((i, Stop::At { good_len, reason })) = stop {
        let (_, path) = &files[i];
        let len = fs.file_size(path).map_err(|e| WalError::io(path, e))?;
        match good_len {
            Some(good) => {
                report.dropped.push(DroppedRange {
                    segment: path.clone(),
                    offset: good,
                    bytes: len.saturating_sub(good),
                    reason: reason.clone(),
                });
                truncate = Some((path.clone(), good));
            }
            None => {
                report.dropped.push(DroppedRange {
                    segment: path.clone(),
                    offset: 0,
                    bytes: len,
                    reason: reason.clone(),
                });
                remove.push(path.clone());
            }
        }
        for (_, later) in &files[i + 1..] {
            let len = fs.file_size(later).map_err(|e| WalError::io(later, e))?;
            report.dropped.push(DroppedRange {
                segment: later.clone(),
                offset: 0,
                bytes: len,
                reason: format!(
                    "follows the point where recovery stopped ({}: {reason})",
                    path.display()
                ),
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

    for d in &report.dropped {
        tracing::warn!(
            segment = %d.segment.display(),
            offset = d.offset,
            bytes = d.bytes,
            reason = %d.reason,
            "WAL recovery dropped data"
        );
    }
    // Delete later segments first (newest first), then cut the damaged one:
    // a crash in between leaves a log that recovers the same way.
    for path in remove.iter().rev() {
        fs.remove_file(path).map_err(|e| WalError::io(path, e))?;
    }
    if !remove.is_empty() {
        fs.sync_dir(dir).map_err(|e| WalError::io(dir, e))?;
    }
    if let Some((path, len)) = truncate {
        fs.truncate(&path, len)
            .map_err(|e| WalError::io(&path, e))?;
    }

    let next_number = survivors
        .last()
        .map(|s| s.number + 1)
        .or_else(|| files.first().map(|(n, _)| *n))
        .unwrap_or(1);
    report.segments = survivors.len();
    if report.records > 0 {
        report.last_lsn = Some(next_lsn - 1);
        report.first_lsn = Some(next_lsn - report.records);
    }
    Ok(Recovered {
        segments: survivors,
        next_lsn,
        next_number,
        report,
    })
}
