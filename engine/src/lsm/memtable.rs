//! The memtable: a concurrent skip list (crossbeam-skiplist) of internal keys.
//!
//! Each entry is one allocation holding the internal key followed by the
//! value. Writers insert under the tree's write lock; readers never lock.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering as AtOrd};

use crossbeam_skiplist::SkipSet;
use crossbeam_skiplist::set::Entry;

use super::cursor::Cursor;
use super::error::Result;
use super::ikey::{self, SeqNo, TRAILER_LEN, ValueKind};
use super::shared::WriteBufferManager;

/// Per-entry overhead counted against the memtable size (skip-list node,
/// pointers, allocation header): an estimate, like RocksDB's arena accounting.
const ENTRY_OVERHEAD: usize = 64;

/// How many leading key bytes each entry keeps inline in its skip-list node.
const HEAD_LEN: usize = 16;

/// The first [`HEAD_LEN`] bytes of a key, zero-padded, as two big-endian
/// numbers: comparing two heads as number pairs compares the padded
/// prefixes lexicographically. (Two `u64`s rather than one `u128`, whose
/// 16-byte alignment would pad every skip-list node.)
type Head = (u64, u64);

#[inline]
fn head_of(key: &[u8]) -> Head {
    let mut b = [0u8; HEAD_LEN];
    let n = key.len().min(HEAD_LEN);
    b[..n].copy_from_slice(&key[..n]);
    let (hi, lo) = b.split_at(8);
    let word = |w: &[u8]| {
        let mut a = [0u8; 8];
        a.copy_from_slice(w);
        u64::from_be_bytes(a)
    };
    (word(hi), word(lo))
}

/// Compares two keys given with their heads. Unequal heads decide the order
/// alone: where the padded prefixes first differ, either both keys have a
/// real byte (so that byte decides), or the shorter key ran out and its
/// padding 0 is below the other's byte (and a key that is a proper prefix of
/// another sorts first). Equal heads fall back to the whole keys. A skip-list
/// search thus reads most keys from the node itself, without a second cache
/// miss on the entry's heap buffer.
#[inline]
fn cmp_keys(a_head: Head, a: &[u8], b_head: Head, b: &[u8]) -> Ordering {
    match a_head.cmp(&b_head) {
        Ordering::Equal => a.cmp(b),
        o => o,
    }
}

/// One memtable entry: `internal key ++ value` in a single allocation, with
/// the key's head inline.
#[derive(Debug)]
pub(crate) struct MemEntry {
    head: Head,
    buf: Box<[u8]>,
    key_len: u32,
}

impl MemEntry {
    #[inline]
    pub(crate) fn key(&self) -> &[u8] {
        &self.buf[..self.key_len as usize]
    }
    #[inline]
    pub(crate) fn value(&self) -> &[u8] {
        &self.buf[self.key_len as usize..]
    }
}

/// A key as the skip list compares it: its head and its whole bytes. Both
/// stored entries and lookup probes are seen through this trait, so that a
/// lookup compares heads first too.
pub(crate) trait KeyView {
    fn head(&self) -> Head;
    fn bytes(&self) -> &[u8];
}

impl KeyView for MemEntry {
    #[inline]
    fn head(&self) -> Head {
        self.head
    }
    #[inline]
    fn bytes(&self) -> &[u8] {
        self.key()
    }
}

/// A lookup key for the skip list.
struct Probe<'a> {
    head: Head,
    key: &'a [u8],
}

impl<'a> Probe<'a> {
    fn new(key: &'a [u8]) -> Probe<'a> {
        Probe {
            head: head_of(key),
            key,
        }
    }
}

impl KeyView for Probe<'_> {
    #[inline]
    fn head(&self) -> Head {
        self.head
    }
    #[inline]
    fn bytes(&self) -> &[u8] {
        self.key
    }
}

impl PartialEq for dyn KeyView + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for dyn KeyView + '_ {}
impl PartialOrd for dyn KeyView + '_ {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for dyn KeyView + '_ {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_keys(self.head(), self.bytes(), other.head(), other.bytes())
    }
}

impl PartialEq for MemEntry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for MemEntry {}
impl PartialOrd for MemEntry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for MemEntry {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_keys(self.head, self.key(), other.head, other.key())
    }
}
impl<'a> Borrow<dyn KeyView + 'a> for MemEntry {
    fn borrow(&self) -> &(dyn KeyView + 'a) {
        self
    }
}

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
    set: SkipSet<MemEntry>,
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
    pub(crate) fn new(id: u64, budget: Option<Arc<WriteBufferManager>>) -> Memtable {
        Memtable {
            set: SkipSet::new(),
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
        self.set.is_empty()
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

    /// Inserts one entry. Returns the bytes charged.
    pub(crate) fn insert(
        &self,
        user_key: &[u8],
        seq: SeqNo,
        kind: ValueKind,
        value: &[u8],
    ) -> usize {
        let klen = ikey::escaped_len(user_key) + TRAILER_LEN;
        let mut buf = Vec::with_capacity(klen + value.len());
        ikey::encode_into(user_key, seq, kind, &mut buf);
        buf.extend_from_slice(value);
        let charged = buf.len() + ENTRY_OVERHEAD;
        self.set.insert(MemEntry {
            head: head_of(&buf[..klen]),
            buf: buf.into_boxed_slice(),
            key_len: klen as u32,
        });
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
        let probe = Probe::new(seek_key);
        let Some(e) = self
            .set
            .lower_bound(Bound::Included(&probe as &dyn KeyView))
        else {
            return Lookup::Absent;
        };
        let entry = e.value();
        match ikey::parse(entry.key()) {
            Some(p) if p.escaped == escaped => match p.kind {
                ValueKind::Put => Lookup::Found(entry.value().to_vec()),
                ValueKind::Delete => Lookup::Deleted,
            },
            _ => Lookup::Absent,
        }
    }

    /// A cursor over all entries of this memtable.
    pub(crate) fn cursor(self: &Arc<Self>) -> MemCursor {
        MemCursor {
            entry: None,
            _mem: Arc::clone(self),
        }
    }
}

/// A cursor over a memtable that keeps the memtable alive.
pub(crate) struct MemCursor {
    // Field order matters: `entry` borrows the skip list inside `_mem` and
    // must be dropped before it (fields drop in declaration order).
    entry: Option<Entry<'static, MemEntry>>,
    _mem: Arc<Memtable>,
}

impl std::fmt::Debug for MemCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemCursor")
            .field("valid", &self.entry.is_some())
            .finish()
    }
}

impl MemCursor {
    /// The skip list with a lifetime tied to the cursor's `Arc`.
    ///
    /// The returned reference is `'static` in type only: it stays valid as
    /// long as `self._mem` is alive, which outlives every `Entry` stored in
    /// `self.entry` (see the field order).
    #[allow(unsafe_code)]
    fn set(&self) -> &'static SkipSet<MemEntry> {
        let set: *const SkipSet<MemEntry> = &self._mem.set;
        // SAFETY: the skip list lives inside an `Arc<Memtable>` owned by this
        // cursor, so its address is stable and it is not dropped while the
        // cursor exists. Entries derived from this reference are stored only
        // in `self.entry`, which is declared before `_mem` and therefore
        // dropped first; they never escape the cursor (key()/value() return
        // borrows tied to `&self`).
        unsafe { &*set }
    }
}

impl Cursor for MemCursor {
    fn valid(&self) -> bool {
        self.entry.is_some()
    }
    fn key(&self) -> &[u8] {
        self.entry.as_ref().map_or(&[][..], |e| e.value().key())
    }
    fn value(&self) -> &[u8] {
        self.entry.as_ref().map_or(&[][..], |e| e.value().value())
    }
    fn seek_to_first(&mut self) -> Result<()> {
        self.entry = self.set().front();
        Ok(())
    }
    fn seek_to_last(&mut self) -> Result<()> {
        self.entry = self.set().back();
        Ok(())
    }
    fn seek(&mut self, key: &[u8]) -> Result<()> {
        let probe = Probe::new(key);
        self.entry = self
            .set()
            .lower_bound(Bound::Included(&probe as &dyn KeyView));
        Ok(())
    }
    fn seek_for_prev(&mut self, key: &[u8]) -> Result<()> {
        let probe = Probe::new(key);
        self.entry = self
            .set()
            .upper_bound(Bound::Included(&probe as &dyn KeyView));
        Ok(())
    }
    fn next(&mut self) -> Result<()> {
        self.entry = self.entry.as_ref().and_then(|e| e.next());
        Ok(())
    }
    fn prev(&mut self) -> Result<()> {
        self.entry = self.entry.as_ref().and_then(|e| e.prev());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_comparison_orders_as_the_bytes() {
        // Keys around the head's length, with zero bytes (the padding value)
        // and shared prefixes, compared pairwise both ways.
        let mut keys: Vec<Vec<u8>> = vec![Vec::new()];
        for len in [1usize, 2, 15, 16, 17, 24, 40] {
            for fill in [0u8, 1, 0x7f, 0xff] {
                let mut k = vec![b'k'; len];
                keys.push(k.clone());
                k[len - 1] = fill;
                keys.push(k.clone());
                k[0] = fill;
                keys.push(k);
            }
        }
        keys.push(vec![0; 16]);
        keys.push(vec![0; 17]);
        for a in &keys {
            for b in &keys {
                assert_eq!(
                    cmp_keys(head_of(a), a, head_of(b), b),
                    a.as_slice().cmp(b.as_slice()),
                    "{a:?} vs {b:?}"
                );
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn head_comparison_matches_bytes_for_random_keys(
            a in proptest::collection::vec(0u8..4, 0..34),
            b in proptest::collection::vec(0u8..4, 0..34),
        ) {
            proptest::prop_assert_eq!(
                cmp_keys(head_of(&a), &a, head_of(&b), &b),
                a.as_slice().cmp(b.as_slice())
            );
        }
    }

    #[test]
    fn get_respects_snapshot_and_tombstones() {
        let m = Memtable::new(1, None);
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
        let m = Arc::new(Memtable::new(1, None));
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
