//! Reading the tree's durable log: the committed batches (puts, deletes and
//! log data) in WAL order, for consumers outside the tree such as global
//! secondary index maintainers.
//!
//! Positions are WAL LSNs ([`Lsn`]): every committed batch is one WAL record
//! with its own LSN, consecutive and never reused for a durable record, and
//! the same unit as [`TreeOptions::wal_retention_floor`](super::TreeOptions).
//! Only records that are durable (fsynced: a power loss cannot take them) are
//! returned. See `docs/wal-format.md` ("Reading the log back").

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use strata_wal::{Lsn, Wal, WalError, WalPosition};

use super::batch::{BatchOp, DecodedBatch};
use super::error::{Error, Result};
use super::ikey::{SeqNo, ValueKind};

/// Called with the new [`Tree::durable_lsn`](super::Tree::durable_lsn) when
/// it advances; see [`TreeOptions::on_durable`](super::TreeOptions::on_durable).
pub type DurableHook = Arc<dyn Fn(Lsn) + Send + Sync>;

/// One entry of a committed batch, as [`Tree::read_log`](super::Tree::read_log)
/// returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEntry {
    /// A put of `value` under `key`.
    Put {
        /// The user key.
        key: Vec<u8>,
        /// The value.
        value: Vec<u8>,
    },
    /// A delete of `key`.
    Delete {
        /// The user key.
        key: Vec<u8>,
    },
    /// A blob added with [`WriteBatch::log_data`](super::WriteBatch::log_data).
    LogData(Vec<u8>),
}

/// One committed batch read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// The batch's position in the log (its WAL LSN). Pass it as `after` to
    /// [`Tree::read_log`](super::Tree::read_log) to continue after it, and
    /// store it as a consumer's checkpoint.
    pub lsn: Lsn,
    /// The sequence number of the batch's first put or delete. Puts and
    /// deletes get `first_seq`, `first_seq + 1`, … in entry order; log data
    /// gets none (a batch of log data only consumes none, and its
    /// `first_seq` is the number the next write would get).
    pub first_seq: SeqNo,
    /// The entries in the order they were added to the batch.
    pub entries: Vec<LogEntry>,
}

impl LogRecord {
    /// The sequence number of the batch's last put or delete; `None` for a
    /// batch of log data only.
    pub fn last_seq(&self) -> Option<SeqNo> {
        let writes = self
            .entries
            .iter()
            .filter(|e| !matches!(e, LogEntry::LogData(_)))
            .count() as u64;
        (writes > 0).then(|| self.first_seq + writes - 1)
    }

    /// Decodes the batch record at `lsn`.
    pub(crate) fn decode(lsn: Lsn, bytes: &[u8]) -> std::result::Result<LogRecord, String> {
        let batch =
            DecodedBatch::decode(bytes).map_err(|(off, reason)| format!("byte {off}: {reason}"))?;
        let mut entries = Vec::with_capacity(batch.count as usize);
        for op in batch.ops() {
            entries.push(match op.map_err(str::to_owned)? {
                BatchOp::Write(ValueKind::Put, k, v) => LogEntry::Put {
                    key: k.to_vec(),
                    value: v.to_vec(),
                },
                BatchOp::Write(ValueKind::Delete, k, _) => LogEntry::Delete { key: k.to_vec() },
                BatchOp::LogData(d) => LogEntry::LogData(d.to_vec()),
            });
        }
        Ok(LogRecord {
            lsn,
            first_seq: batch.first_seq,
            entries,
        })
    }
}

/// Where reads of the log stopped, so that the next read from there starts at
/// the right byte offset instead of scanning its segment from the start.
/// A few consumers read each tree; the cache keeps the newest positions.
#[derive(Debug, Default)]
pub(crate) struct LogHints {
    positions: Mutex<Vec<WalPosition>>,
}

/// How many resume positions a tree remembers.
const MAX_HINTS: usize = 32;

impl LogHints {
    fn take(&self, lsn: Lsn) -> Option<WalPosition> {
        let mut p = self.positions.lock();
        let i = p.iter().position(|h| h.lsn() == lsn)?;
        Some(p.swap_remove(i))
    }

    fn put(&self, pos: WalPosition) {
        let mut p = self.positions.lock();
        if p.iter().any(|h| h.lsn() == pos.lsn()) {
            return;
        }
        if p.len() >= MAX_HINTS {
            p.remove(0);
        }
        p.push(pos);
    }
}

/// Tells the [`DurableHook`] when the durable position advances.
pub(crate) struct DurableNotifier {
    hook: Option<DurableHook>,
    /// The highest durable LSN reported so far.
    reported: AtomicU64,
}

impl std::fmt::Debug for DurableNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DurableNotifier")
            .field("hook", &self.hook.is_some())
            .field("reported", &self.reported.load(Ordering::Relaxed))
            .finish()
    }
}

impl DurableNotifier {
    pub(crate) fn new(hook: Option<DurableHook>) -> Self {
        DurableNotifier {
            hook,
            reported: AtomicU64::new(0),
        }
    }

    /// True when there is a hook to tell.
    pub(crate) fn enabled(&self) -> bool {
        self.hook.is_some()
    }

    /// Reports `synced_lsn - 1` (the highest durable LSN) if it is above
    /// what was reported. Call with no lock of the tree held.
    pub(crate) fn advance(&self, synced_lsn: Lsn) {
        let Some(hook) = &self.hook else {
            return;
        };
        let durable = synced_lsn.saturating_sub(1);
        if durable > 0 && self.reported.fetch_max(durable, Ordering::AcqRel) < durable {
            hook(durable);
        }
    }
}

/// The highest LSN whose record is durable (0 when none is).
pub(crate) fn durable_lsn(wal: &Wal) -> Lsn {
    wal.synced_lsn().saturating_sub(1)
}

/// Reads up to `max_records` durable records with LSN `> after`, in order.
pub(crate) fn read_log(
    wal: &Wal,
    hints: &LogHints,
    wal_dir: &std::path::Path,
    after: Lsn,
    max_records: usize,
) -> Result<Vec<LogRecord>> {
    let next = after.checked_add(1).ok_or_else(|| {
        Error::InvalidArgument(format!("log position {after} is beyond the end of the log"))
    })?;
    // Only what is fsynced: `synced_lsn` is read before the iterator is made,
    // so every record below it is in the segments the iterator lists.
    let end = wal.synced_lsn();
    if next > wal.next_lsn() {
        return Err(Error::InvalidArgument(format!(
            "log position {after} is beyond the end of the log (next LSN {})",
            wal.next_lsn()
        )));
    }
    if max_records == 0 || next >= end {
        return Ok(Vec::new());
    }
    let truncated = || Error::LogTruncated {
        requested: next,
        oldest: wal.first_lsn(),
    };
    if next < wal.first_lsn() {
        return Err(truncated());
    }
    // The oldest segment before the iterator lists them (read first, so that a
    // retirement during the listing shows as a change), and how many times the
    // segments may be listed again (below).
    let mut listed_first = wal.first_lsn();
    let iter = match hints.take(next) {
        Some(pos) => wal.iter_at(pos)?,
        None => wal.iter_from(next)?,
    };
    let mut iter = iter.until(end);
    let mut out = Vec::new();
    let mut relists = 3;
    while out.len() < max_records {
        let Some(item) = iter.next() else { break };
        let (lsn, bytes) = match item {
            Ok(r) => r,
            // A segment deleted by retention after the iterator listed it.
            Err(WalError::Io { .. }) if wal.first_lsn() > next => return Err(truncated()),
            // Retention retired segments after the iterator listed them (one
            // whose records all come before the one wanted, say, that a
            // position hint pointed at the end of), yet the wanted record is
            // still in the log: list the segments again. An error that
            // persists with the same segments is returned.
            Err(_) if relists > 0 && wal.first_lsn() != listed_first => {
                relists -= 1;
                listed_first = wal.first_lsn();
                iter = wal.iter_from(next + out.len() as u64)?.until(end);
                // (`listed_first` is read before this listing too.)
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let expected = next + out.len() as u64;
        if lsn != expected {
            if out.is_empty() && lsn > expected {
                // The iterator started at a later record: ours was deleted
                // between the check above and the listing of the segments.
                return Err(truncated());
            }
            return Err(Error::Corruption {
                path: wal_dir.to_path_buf(),
                offset: 0,
                reason: format!("the log skips from LSN {expected} to {lsn}"),
            });
        }
        let rec = LogRecord::decode(lsn, &bytes).map_err(|reason| Error::Corruption {
            path: wal_dir.to_path_buf(),
            offset: 0,
            reason: format!("WAL record {lsn} is not a valid write batch: {reason}"),
        })?;
        out.push(rec);
    }
    if !out.is_empty() {
        hints.put(iter.position());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::batch::WriteBatch;
    use super::*;

    #[test]
    fn decodes_every_entry_kind() {
        let mut b = WriteBatch::new();
        b.put(b"k", b"v").log_data(b"blob").delete(b"d");
        let rec = LogRecord::decode(7, b.seal(40)).unwrap();
        assert_eq!(rec.lsn, 7);
        assert_eq!(rec.first_seq, 40);
        assert_eq!(rec.last_seq(), Some(41));
        assert_eq!(
            rec.entries,
            vec![
                LogEntry::Put {
                    key: b"k".to_vec(),
                    value: b"v".to_vec()
                },
                LogEntry::LogData(b"blob".to_vec()),
                LogEntry::Delete { key: b"d".to_vec() },
            ]
        );
        let mut only = WriteBatch::new();
        only.log_data(b"m");
        let rec = LogRecord::decode(8, only.seal(42)).unwrap();
        assert_eq!(rec.last_seq(), None);
        assert!(LogRecord::decode(9, b"\x01garbage").is_err());
    }

    #[test]
    fn notifier_reports_only_advances() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = Arc::clone(&seen);
        let n = DurableNotifier::new(Some(Arc::new(move |l| s.lock().push(l))));
        for synced in [1, 5, 5, 3, 9] {
            n.advance(synced);
        }
        assert_eq!(*seen.lock(), vec![4, 8]);
    }

    #[test]
    fn hints_are_bounded() {
        let wal_dir = tempfile::tempdir().unwrap();
        let (wal, _) = Wal::open(wal_dir.path(), strata_wal::WalOptions::default()).unwrap();
        for _ in 0..3 {
            let mut b = WriteBatch::new();
            b.put(b"k", b"v");
            wal.append(b.seal(1), strata_wal::Durability::Sync).unwrap();
        }
        let hints = LogHints::default();
        for after in 0..3 {
            let got = read_log(&wal, &hints, wal_dir.path(), after, 1).unwrap();
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].lsn, after + 1);
        }
        assert!(hints.positions.lock().len() <= MAX_HINTS);
        assert!(
            hints.take(4).is_some(),
            "the last read left a hint for LSN 4"
        );
    }
}
