//! Iterating records in LSN order across segments.

use std::sync::Arc;

use strata_fs::{FileSystem, RandomAccessFile};

use crate::format::SEGMENT_HEADER_SIZE;
use crate::reader::{HeaderState, ScanError, SegmentReader, read_header};
use crate::segment::SegmentMeta;
use crate::{Lsn, WalError};

/// An iterator over `(lsn, record)` pairs, from [`Wal::iter_from`](crate::Wal::iter_from).
///
/// It reads the segment files one block at a time. An `Err` item (I/O error
/// or corruption, naming the segment and offset) ends the iteration.
#[derive(Debug)]
pub struct WalIter {
    fs: Arc<dyn FileSystem>,
    segments: Vec<SegmentMeta>,
    /// Index of the segment to read next (or being read).
    idx: usize,
    from: Lsn,
    /// Exclusive upper bound: records appended after the iterator was made are not returned.
    end: Lsn,
    /// The LSN of the next record the reader returns.
    lsn: Lsn,
    reader: Option<SegmentReader<Arc<dyn RandomAccessFile>>>,
    /// Byte offset in segment `idx` of the record with LSN `lsn`, when the
    /// iterator resumes a [`WalPosition`] (used when that segment is opened).
    resume_offset: Option<u64>,
    done: bool,
}

/// Where a [`WalIter`] stopped: the LSN of the next record and, when known,
/// the segment and byte offset it starts at, so that
/// [`Wal::iter_at`](crate::Wal::iter_at) resumes there without re-reading the
/// segment from its start. Only meaningful for the [`Wal`](crate::Wal) whose
/// iterator produced it (its fields are private for that reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalPosition {
    pub(crate) lsn: Lsn,
    /// `(segment number, byte offset of the record with LSN `lsn`)`.
    pub(crate) at: Option<(u64, u64)>,
}

impl WalPosition {
    /// The LSN of the record at this position.
    pub fn lsn(&self) -> Lsn {
        self.lsn
    }
}

impl WalIter {
    pub(crate) fn new(
        fs: Arc<dyn FileSystem>,
        segments: Vec<SegmentMeta>,
        from: Lsn,
        end: Lsn,
    ) -> Self {
        // Start in the last segment whose first LSN is <= from.
        let idx = segments
            .iter()
            .rposition(|s| s.first_lsn <= from)
            .unwrap_or(0);
        let lsn = segments.get(idx).map_or(end, |s| s.first_lsn);
        let done = segments.is_empty() || from >= end;
        WalIter {
            fs,
            segments,
            idx,
            from,
            end,
            lsn,
            reader: None,
            resume_offset: None,
            done,
        }
    }

    /// An iterator that starts at `pos` (which must lie in `segments`, and
    /// `segments[idx].number == pos.at.0`).
    pub(crate) fn resume(
        fs: Arc<dyn FileSystem>,
        segments: Vec<SegmentMeta>,
        idx: usize,
        pos: WalPosition,
        end: Lsn,
    ) -> Self {
        let mut it = WalIter::new(fs, segments, pos.lsn, end);
        it.idx = idx;
        it.lsn = pos.lsn;
        it.resume_offset = pos.at.map(|(_, off)| off);
        it
    }

    /// Stops the iteration before `end` (never extends it).
    pub fn until(mut self, end: Lsn) -> Self {
        self.end = self.end.min(end);
        if self.from >= self.end {
            self.done = true;
        }
        self
    }

    /// The position of the next record this iterator would return (after the
    /// last one it returned). After an error item it is unspecified.
    pub fn position(&self) -> WalPosition {
        let lsn = self.lsn.max(self.from);
        let at = match (&self.reader, self.segments.get(self.idx)) {
            // Still skipping records below `from`: no byte offset for `from`.
            _ if self.lsn < self.from => None,
            (Some(r), Some(s)) => Some((s.number, r.pos())),
            (None, Some(s)) if self.resume_offset.is_none() && s.first_lsn == self.lsn => {
                Some((s.number, SEGMENT_HEADER_SIZE as u64))
            }
            (None, Some(s)) => self.resume_offset.map(|off| (s.number, off)),
            (_, None) => None,
        };
        WalPosition { lsn, at }
    }

    fn open_segment(&mut self) -> Result<(), WalError> {
        let Some(meta) = self.segments.get(self.idx) else {
            let (path, at) = match self.segments.last() {
                Some(s) => (s.path.clone(), self.fs.file_size(&s.path).unwrap_or(0)),
                None => (std::path::PathBuf::new(), 0),
            };
            return Err(WalError::corruption(
                path,
                at,
                format!(
                    "the log ends before LSN {}, but records up to LSN {} were written",
                    self.lsn,
                    self.end - 1
                ),
            ));
        };
        let src = self
            .fs
            .open_read(&meta.path)
            .map_err(|e| WalError::io(&meta.path, e))?;
        let header = match read_header(&src).map_err(|e| WalError::io(&meta.path, e))? {
            HeaderState::Valid(h)
                if h.first_lsn == meta.first_lsn
                    && (h.first_lsn == self.lsn
                        || (self.resume_offset.is_some() && h.first_lsn <= self.lsn)) =>
            {
                h
            }
            HeaderState::Valid(h) => {
                return Err(WalError::corruption(
                    &meta.path,
                    16,
                    format!(
                        "segment starts at LSN {}, expected {}",
                        h.first_lsn, self.lsn
                    ),
                ));
            }
            HeaderState::TornCreation => {
                return Err(WalError::corruption(
                    &meta.path,
                    0,
                    "incomplete segment header".to_owned(),
                ));
            }
            HeaderState::Bad((offset, reason)) => {
                return Err(WalError::corruption(&meta.path, offset, reason));
            }
        };
        let mut reader =
            SegmentReader::with_skips(src, meta.skips.clone(), header.version, header.seed);
        if let Some(off) = self.resume_offset.take() {
            reader.seek(off);
        }
        self.reader = Some(reader);
        Ok(())
    }

    fn step(&mut self) -> Result<Option<(Lsn, Vec<u8>)>, WalError> {
        loop {
            if self.lsn >= self.end {
                return Ok(None);
            }
            // Every record of this segment has been read when the next one
            // starts here: move on without reading to this one's end (which,
            // preallocated or recycled, may be long).
            if let (Some(cur), Some(next)) =
                (self.segments.get(self.idx), self.segments.get(self.idx + 1))
                && cur.skips.is_empty()
                && next.first_lsn == self.lsn
                && self.resume_offset.is_none()
                && (self.reader.is_some() || cur.first_lsn < self.lsn)
            {
                self.reader = None;
                self.idx += 1;
            }
            if self.reader.is_none() {
                self.open_segment()?;
            }
            let path = &self.segments[self.idx].path;
            let Some(reader) = self.reader.as_mut() else {
                continue;
            };
            let wanted = self.lsn >= self.from;
            let mut out = Vec::new();
            match reader.next_record(wanted.then_some(&mut out)) {
                Ok(Some(_)) => {
                    let lsn = self.lsn;
                    self.lsn += 1;
                    if wanted {
                        return Ok(Some((lsn, out)));
                    }
                }
                Ok(None) => {
                    let len = reader.file_len();
                    let path = path.clone();
                    let skipped = !self.segments[self.idx].skips.is_empty();
                    self.reader = None;
                    self.idx += 1;
                    if let Some(next) = self.segments.get(self.idx)
                        && skipped
                        && next.first_lsn > self.lsn
                    {
                        // Salvage skipped damaged records in this segment; the
                        // next segment's header says where the LSNs resume.
                        self.lsn = next.first_lsn;
                    }
                    if let Some(next) = self.segments.get(self.idx)
                        && next.first_lsn != self.lsn
                    {
                        return Err(WalError::corruption(
                            path,
                            len,
                            format!(
                                "segment ends before LSN {} but the next one starts at LSN {}",
                                self.lsn, next.first_lsn
                            ),
                        ));
                    }
                }
                Err(ScanError::Corrupt { offset, reason }) => {
                    return Err(WalError::corruption(path, offset, reason));
                }
                Err(ScanError::Io(e)) => return Err(WalError::io(path, e)),
            }
        }
    }
}

impl Iterator for WalIter {
    type Item = Result<(Lsn, Vec<u8>), WalError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.step() {
            Ok(Some(item)) => Some(Ok(item)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl std::iter::FusedIterator for WalIter {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::{Durability, Wal, WalOptions};

    /// `iter_at` resumes at the recorded byte offset (within a segment, at a
    /// segment's end, across rotation) and yields exactly what `iter_from`
    /// does; `until` bounds an iterator.
    #[test]
    fn resume_at_position_matches_iter_from() {
        let dir = tempfile::tempdir().unwrap();
        let opts = WalOptions {
            segment_size: 300,
            ..WalOptions::default()
        };
        let (wal, _) = Wal::open(dir.path(), opts).unwrap();
        let recs: Vec<Vec<u8>> = (0..60u8).map(|i| vec![i; usize::from(i) * 3]).collect();
        for r in &recs {
            wal.append(r, Durability::Sync).unwrap();
        }
        assert!(wal.segment_count() > 3);
        for start in 1..=60u64 {
            for step in [1usize, 4, 17] {
                let mut it = wal.iter_from(start).unwrap().until(start + step as u64);
                let got: Vec<_> = it.by_ref().map(|r| r.unwrap()).collect();
                assert_eq!(got.len(), step.min(61 - start as usize));
                let pos = it.position();
                assert_eq!(pos.lsn(), start + got.len() as u64);
                assert!(
                    pos.at.is_some(),
                    "no byte offset after reading from {start}"
                );
                let resumed: Vec<_> = wal.iter_at(pos).unwrap().map(|r| r.unwrap()).collect();
                let fresh: Vec<_> = wal
                    .iter_from(pos.lsn())
                    .unwrap()
                    .map(|r| r.unwrap())
                    .collect();
                assert_eq!(resumed, fresh, "resume from {start} + {step}");
            }
        }
        // A position in a deleted segment falls back to iter_from.
        let mut it = wal.iter_from(2).unwrap().until(3);
        assert_eq!(it.next().unwrap().unwrap().0, 2);
        let pos = it.position();
        wal.truncate_before(40).unwrap();
        let first = wal.first_lsn();
        assert!(first > 3);
        let got: Vec<_> = wal.iter_at(pos).unwrap().map(|r| r.unwrap().0).collect();
        assert_eq!(got.first(), Some(&first));
    }
}
