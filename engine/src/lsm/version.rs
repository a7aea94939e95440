//! Versions: the set of live SSTables per level, changed by version edits.
//!
//! A [`Version`] is immutable and shared with `Arc`; readers hold one for as
//! long as they read, so compaction never blocks them. A table file whose
//! handle has been marked obsolete is deleted when the last version (or
//! iterator) holding it drops it.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use strata_fs::FileSystem;
use strata_sstable::Table;

use super::coding::{Reader, put_bytes, put_varint};
use super::ikey::{self, SeqNo};

/// Number of levels (L0..L6), as RocksDB's default `num_levels`.
pub const NUM_LEVELS: usize = 7;

/// What the manifest records about one table file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileMeta {
    pub number: u64,
    pub size: u64,
    pub entries: u64,
    /// Smallest and largest internal keys.
    pub smallest: Vec<u8>,
    pub largest: Vec<u8>,
    pub smallest_seq: SeqNo,
    pub largest_seq: SeqNo,
}

impl FileMeta {
    pub(crate) fn smallest_user(&self) -> &[u8] {
        ikey::escaped_part(&self.smallest)
    }
    pub(crate) fn largest_user(&self) -> &[u8] {
        ikey::escaped_part(&self.largest)
    }
    /// True when the escaped user-key range `[lo, hi]` overlaps this file.
    pub(crate) fn overlaps(&self, lo: &[u8], hi: &[u8]) -> bool {
        !(self.largest_user() < lo || self.smallest_user() > hi)
    }
}

/// A live table: its metadata, the open reader, and deferred deletion.
#[derive(Debug)]
pub(crate) struct TableHandle {
    pub meta: FileMeta,
    pub table: Arc<Table>,
    path: PathBuf,
    fs: Arc<dyn FileSystem>,
    obsolete: AtomicBool,
    /// Bytes of table files on disk, shared with the tree's statistics.
    disk_bytes: Arc<AtomicU64>,
}

impl TableHandle {
    pub(crate) fn new(
        meta: FileMeta,
        table: Arc<Table>,
        path: PathBuf,
        fs: Arc<dyn FileSystem>,
        disk_bytes: Arc<AtomicU64>,
    ) -> Self {
        disk_bytes.fetch_add(meta.size, Ordering::Relaxed);
        TableHandle {
            meta,
            table,
            path,
            fs,
            obsolete: AtomicBool::new(false),
            disk_bytes,
        }
    }

    /// Marks the file for deletion once no version or iterator holds it.
    pub(crate) fn mark_obsolete(&self) {
        self.obsolete.store(true, Ordering::Release);
    }
}

impl Drop for TableHandle {
    fn drop(&mut self) {
        self.disk_bytes.fetch_sub(self.meta.size, Ordering::Relaxed);
        if self.obsolete.load(Ordering::Acquire) {
            match self.fs.remove_file(&self.path) {
                Ok(()) => tracing::debug!(path = %self.path.display(), "deleted obsolete table"),
                Err(e) => tracing::warn!(path = %self.path.display(), error = %e,
                    "could not delete obsolete table; it will be removed on the next open"),
            }
        }
    }
}

/// The live tables of a tree at one moment. L0 is ordered newest first
/// (its files may overlap); L1.. are sorted by key and do not overlap, and no
/// user key spans two files of the same level.
#[derive(Debug, Clone, Default)]
pub(crate) struct Version {
    pub levels: [Vec<Arc<TableHandle>>; NUM_LEVELS],
}

impl Version {
    pub(crate) fn level_bytes(&self, level: usize) -> u64 {
        self.levels[level].iter().map(|t| t.meta.size).sum()
    }

    pub(crate) fn total_bytes(&self) -> u64 {
        (0..NUM_LEVELS).map(|l| self.level_bytes(l)).sum()
    }

    /// Files of `level` (>= 1) overlapping the escaped user-key range.
    pub(crate) fn overlapping(&self, level: usize, lo: &[u8], hi: &[u8]) -> Vec<Arc<TableHandle>> {
        self.levels[level]
            .iter()
            .filter(|t| t.meta.overlaps(lo, hi))
            .cloned()
            .collect()
    }

    /// The file of sorted level `level` (>= 1) that may hold the escaped
    /// user key, found by binary search.
    pub(crate) fn find_in_level(&self, level: usize, escaped: &[u8]) -> Option<&Arc<TableHandle>> {
        let files = &self.levels[level];
        let i = files.partition_point(|t| t.meta.largest_user() < escaped);
        files.get(i).filter(|t| t.meta.smallest_user() <= escaped)
    }

    /// A new version with `edit` applied (`new_files` hold the opened tables
    /// the edit adds, in the edit's order).
    pub(crate) fn apply(&self, edit: &VersionEdit, new_files: &[Arc<TableHandle>]) -> Version {
        let mut v = self.clone();
        for &(level, number) in &edit.deleted {
            if let Some(l) = v.levels.get_mut(level as usize) {
                l.retain(|t| t.meta.number != number);
            }
        }
        for (i, (level, _)) in edit.added.iter().enumerate() {
            if let (Some(l), Some(t)) = (v.levels.get_mut(*level as usize), new_files.get(i)) {
                l.push(Arc::clone(t));
            }
        }
        v.sort();
        v
    }

    fn sort(&mut self) {
        self.levels[0].sort_by_key(|t| std::cmp::Reverse(t.meta.number));
        for l in &mut self.levels[1..] {
            l.sort_by(|a, b| a.meta.smallest.cmp(&b.meta.smallest));
        }
    }
}

/// A change to the tree's persistent state: the unit of a manifest record.
/// Fields that are `None` are unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct VersionEdit {
    pub next_file_number: Option<u64>,
    pub last_seq: Option<SeqNo>,
    /// Every WAL record with an LSN below this is in SSTables.
    pub flushed_lsn: Option<u64>,
    /// Every entry with a sequence number at or below this is in SSTables.
    pub flushed_seq: Option<SeqNo>,
    pub added: Vec<(u8, FileMeta)>,
    pub deleted: Vec<(u8, u64)>,
    /// Round-robin compaction cursors: (level, largest internal key compacted).
    pub compact_pointers: Vec<(u8, Vec<u8>)>,
}

const TAG_NEXT_FILE: u8 = 1;
const TAG_LAST_SEQ: u8 = 2;
const TAG_FLUSHED_LSN: u8 = 3;
const TAG_ADD_FILE: u8 = 4;
const TAG_DELETE_FILE: u8 = 5;
const TAG_COMPACT_POINTER: u8 = 6;
const TAG_FLUSHED_SEQ: u8 = 7;

impl VersionEdit {
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        if let Some(n) = self.next_file_number {
            out.push(TAG_NEXT_FILE);
            put_varint(out, n);
        }
        if let Some(n) = self.last_seq {
            out.push(TAG_LAST_SEQ);
            put_varint(out, n);
        }
        if let Some(n) = self.flushed_lsn {
            out.push(TAG_FLUSHED_LSN);
            put_varint(out, n);
        }
        if let Some(n) = self.flushed_seq {
            out.push(TAG_FLUSHED_SEQ);
            put_varint(out, n);
        }
        for (level, number) in &self.deleted {
            out.push(TAG_DELETE_FILE);
            out.push(*level);
            put_varint(out, *number);
        }
        for (level, m) in &self.added {
            out.push(TAG_ADD_FILE);
            out.push(*level);
            put_varint(out, m.number);
            put_varint(out, m.size);
            put_varint(out, m.entries);
            put_varint(out, m.smallest_seq);
            put_varint(out, m.largest_seq);
            put_bytes(out, &m.smallest);
            put_bytes(out, &m.largest);
        }
        for (level, key) in &self.compact_pointers {
            out.push(TAG_COMPACT_POINTER);
            out.push(*level);
            put_bytes(out, key);
        }
    }

    /// Decodes an edit; the error is (offset within `buf`, reason).
    pub(crate) fn decode(buf: &[u8]) -> Result<VersionEdit, (usize, String)> {
        let mut r = Reader::new(buf);
        let mut e = VersionEdit::default();
        let level = |r: &mut Reader<'_>| -> Result<u8, &'static str> {
            let l = r.u8()?;
            if (l as usize) < NUM_LEVELS {
                Ok(l)
            } else {
                Err("level out of range")
            }
        };
        while !r.is_empty() {
            let at = r.pos();
            let res: Result<(), &'static str> = (|| {
                match r.u8()? {
                    TAG_NEXT_FILE => e.next_file_number = Some(r.varint()?),
                    TAG_LAST_SEQ => e.last_seq = Some(r.varint()?),
                    TAG_FLUSHED_LSN => e.flushed_lsn = Some(r.varint()?),
                    TAG_FLUSHED_SEQ => e.flushed_seq = Some(r.varint()?),
                    TAG_DELETE_FILE => {
                        let l = level(&mut r)?;
                        e.deleted.push((l, r.varint()?));
                    }
                    TAG_ADD_FILE => {
                        let l = level(&mut r)?;
                        let m = FileMeta {
                            number: r.varint()?,
                            size: r.varint()?,
                            entries: r.varint()?,
                            smallest_seq: r.varint()?,
                            largest_seq: r.varint()?,
                            smallest: r.bytes()?.to_vec(),
                            largest: r.bytes()?.to_vec(),
                        };
                        if ikey::parse(&m.smallest).is_none() || ikey::parse(&m.largest).is_none() {
                            return Err("file bounds are not internal keys");
                        }
                        e.added.push((l, m));
                    }
                    TAG_COMPACT_POINTER => {
                        let l = level(&mut r)?;
                        e.compact_pointers.push((l, r.bytes()?.to_vec()));
                    }
                    _ => return Err("unknown field tag"),
                }
                Ok(())
            })();
            res.map_err(|reason| (at, reason.to_string()))?;
        }
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lsm::ikey::ValueKind;

    #[test]
    fn edit_roundtrip() {
        let e = VersionEdit {
            next_file_number: Some(9),
            last_seq: Some(1000),
            flushed_lsn: Some(55),
            flushed_seq: Some(999),
            added: vec![(
                1,
                FileMeta {
                    number: 7,
                    size: 4096,
                    entries: 10,
                    smallest: ikey::encode(b"a", 5, ValueKind::Put),
                    largest: ikey::encode(b"z", 9, ValueKind::Delete),
                    smallest_seq: 5,
                    largest_seq: 9,
                },
            )],
            deleted: vec![(0, 3), (0, 4)],
            compact_pointers: vec![(2, b"k".to_vec())],
        };
        let mut buf = Vec::new();
        e.encode(&mut buf);
        assert_eq!(VersionEdit::decode(&buf).unwrap(), e);
        for cut in 1..buf.len() {
            // A cut may land on a field boundary; it must never panic and
            // must never produce the full edit.
            if let Ok(d) = VersionEdit::decode(&buf[..cut]) {
                assert_ne!(d, e);
            }
        }
        assert!(VersionEdit::decode(&[99]).is_err());
    }
}
