//! The memtable: a skip list of internal keys in an arena
//! ([`super::skiplist`]).
//!
//! Each entry is one node holding the internal key followed by the value.
//! Writers insert under the tree's write lock; readers never lock. The
//! arena's memory is unmapped when the memtable is dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering as AtOrd};

use super::cursor::Cursor;
use super::error::Result;
use super::ikey::{self, SeqNo, ValueKind};
use super::shared::WriteBufferManager;
use super::skiplist::{NodeRef, SkipList};

/// The result of a point lookup in one source.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// The newest visible version is a value.
    Found(Vec<u8>),
    /// The newest visible version is a tombstone.
    Deleted,
    /// This source has no visible version of the key.
    Absent,
}

/// An in-memory sorted buffer of recent writes.
#[derive(Debug)]
pub(crate) struct Memtable {
    list: SkipList,
    approx_bytes: AtomicUsize,
    id: u64,
    /// The WAL's next LSN when this memtable was sealed (made immutable):
    /// every record of this memtable has a smaller LSN. 0 while active.
    end_lsn: AtomicU64,
    /// Largest sequence number inserted (0 when empty).
    max_seq: AtomicU64,
    /// Smallest sequence number inserted (`u64::MAX` when empty).
    min_seq: AtomicU64,
    /// The shared memtable budget charged for this memtable's bytes.
    budget: Option<Arc<WriteBufferManager>>,
    sealed: std::sync::atomic::AtomicBool,
}

impl Drop for Memtable {
    fn drop(&mut self) {
        if let Some(b) = &self.budget {
            let n = self.approx_bytes.load(AtOrd::Relaxed);
            if !self.sealed.load(AtOrd::Relaxed) {
                b.sealed(n);
            }
            b.freed(n);
        }
    }
}

impl Memtable {
    /// A memtable whose arena maps memory in chunks of about a sixteenth of
    /// `memtable_size` (between 64 KiB and 4 MiB): few mappings for a large
    /// memtable, little untouched address space for a small one.
    pub(crate) fn new(
        id: u64,
        memtable_size: usize,
        budget: Option<Arc<WriteBufferManager>>,
    ) -> Memtable {
        let chunk = (memtable_size / 16).clamp(64 << 10, 4 << 20);
        Memtable {
            list: SkipList::new(chunk, id.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            approx_bytes: AtomicUsize::new(0),
            id,
            end_lsn: AtomicU64::new(0),
            max_seq: AtomicU64::new(0),
            min_seq: AtomicU64::new(u64::MAX),
            budget,
            sealed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn approximate_size(&self) -> usize {
        self.approx_bytes.load(AtOrd::Relaxed)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Entries inserted (every version of every key; exact once sealed and
    /// every insert has returned, as when it is flushed).
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    pub(crate) fn seal(&self, end_lsn: u64) {
        self.end_lsn.store(end_lsn, AtOrd::Release);
        if !self.sealed.swap(true, AtOrd::Relaxed)
            && let Some(b) = &self.budget
        {
            b.sealed(self.approx_bytes.load(AtOrd::Relaxed));
        }
    }

    pub(crate) fn end_lsn(&self) -> u64 {
        self.end_lsn.load(AtOrd::Acquire)
    }

    pub(crate) fn seq_range(&self) -> (SeqNo, SeqNo) {
        (
            self.min_seq.load(AtOrd::Relaxed),
            self.max_seq.load(AtOrd::Relaxed),
        )
    }

    /// Inserts one entry. Returns the bytes charged: what its node takes in
    /// the arena.
    pub(crate) fn insert(
        &self,
        user_key: &[u8],
        seq: SeqNo,
        kind: ValueKind,
        value: &[u8],
    ) -> usize {
        let charged = self
            .list
            .insert(|buf| ikey::encode_into(user_key, seq, kind, buf), value);
        self.approx_bytes.fetch_add(charged, AtOrd::Relaxed);
        if let Some(b) = &self.budget {
            b.charge(charged);
        }
        self.max_seq.fetch_max(seq, AtOrd::Relaxed);
        self.min_seq.fetch_min(seq, AtOrd::Relaxed);
        charged
    }

    /// Looks up the newest version of the user key whose escaped form is
    /// `escaped` at or below the sequence number encoded in `seek_key`.
    pub(crate) fn get(&self, seek_key: &[u8], escaped: &[u8]) -> Lookup {
        let Some(n) = self.list.seek(seek_key) else {
            return Lookup::Absent;
        };
        match ikey::parse(self.list.key(n)) {
            Some(p) if p.escaped == escaped => match p.kind {
                ValueKind::Put => Lookup::Found(self.list.value(n).to_vec()),
                ValueKind::Delete => Lookup::Deleted,
            },
            _ => Lookup::Absent,
        }
    }

    /// Calls `f` with every entry (internal key, value) in order, faster than
    /// a cursor on a memtable much larger than the CPU caches (see
    /// `SkipList::for_each`); stops at `f`'s first error. For a flush.
    pub(crate) fn for_each<E>(
        &self,
        f: impl FnMut(&[u8], &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        self.list.for_each(f)
    }

    /// A cursor over all entries of this memtable.
    pub(crate) fn cursor(self: &Arc<Self>) -> MemCursor {
        MemCursor {
            entry: None,
            mem: Arc::clone(self),
        }
    }
}

/// A cursor over a memtable that keeps the memtable alive.
#[derive(Debug)]
pub(crate) struct MemCursor {
    /// A node of `mem`'s list, valid while `mem` lives.
    entry: Option<NodeRef>,
    mem: Arc<Memtable>,
}

impl Cursor for MemCursor {
    fn valid(&self) -> bool {
        self.entry.is_some()
    }
    fn key(&self) -> &[u8] {
        self.entry.map_or(&[][..], |n| self.mem.list.key(n))
    }
    fn value(&self) -> &[u8] {
        self.entry.map_or(&[][..], |n| self.mem.list.value(n))
    }
    fn seek_to_first(&mut self) -> Result<()> {
        self.entry = self.mem.list.first();
        Ok(())
    }
    fn seek_to_last(&mut self) -> Result<()> {
        self.entry = self.mem.list.last();
        Ok(())
    }
    fn seek(&mut self, key: &[u8]) -> Result<()> {
        self.entry = self.mem.list.seek(key);
        Ok(())
    }
    fn seek_for_prev(&mut self, key: &[u8]) -> Result<()> {
        self.entry = self.mem.list.seek_for_prev(key);
        Ok(())
    }
    fn next(&mut self) -> Result<()> {
        self.entry = self.entry.and_then(|n| self.mem.list.next(n));
        Ok(())
    }
    fn prev(&mut self) -> Result<()> {
        self.entry = self.entry.and_then(|n| self.mem.list.prev(n));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_respects_snapshot_and_tombstones() {
        let m = Memtable::new(1, 1 << 20, None);
        m.insert(b"a", 1, ValueKind::Put, b"v1");
        m.insert(b"a", 3, ValueKind::Delete, b"");
        m.insert(b"a", 5, ValueKind::Put, b"v5");
        m.insert(b"a\0", 2, ValueKind::Put, b"z");
        let look = |k: &[u8], s| {
            let mut seek = Vec::new();
            ikey::seek_key_into(k, s, &mut seek);
            let esc = ikey::escaped_part(&seek).to_vec();
            m.get(&seek, &esc)
        };
        assert_eq!(look(b"a", 0), Lookup::Absent);
        assert_eq!(look(b"a", 1), Lookup::Found(b"v1".to_vec()));
        assert_eq!(look(b"a", 2), Lookup::Found(b"v1".to_vec()));
        assert_eq!(look(b"a", 4), Lookup::Deleted);
        assert_eq!(look(b"a", 9), Lookup::Found(b"v5".to_vec()));
        assert_eq!(look(b"a\0", 9), Lookup::Found(b"z".to_vec()));
        assert_eq!(look(b"b", 9), Lookup::Absent);
        assert_eq!(look(b"", 9), Lookup::Absent);
    }

    #[test]
    fn cursor_walks_both_ways() {
        let m = Arc::new(Memtable::new(1, 1 << 20, None));
        for i in 0..100u32 {
            m.insert(&i.to_be_bytes(), u64::from(i), ValueKind::Put, b"x");
        }
        let mut c = m.cursor();
        c.seek_to_first().unwrap();
        let mut n = 0;
        while c.valid() {
            n += 1;
            c.next().unwrap();
        }
        assert_eq!(n, 100);
        c.seek_to_last().unwrap();
        let mut n = 0;
        while c.valid() {
            n += 1;
            c.prev().unwrap();
        }
        assert_eq!(n, 100);
        drop(m);
        c.seek_to_first().unwrap();
        assert!(c.valid());
    }
}
