//! The memtable's skip list: one writer, lock-free readers, every node in an
//! arena of anonymous memory maps (LevelDB's `SkipList` + `Arena`).
//!
//! Why not `crossbeam-skiplist`, the crate the design names: it allocates every
//! node, and here every entry's bytes, from the global allocator. A flushed
//! 64 MiB memtable then returns its memory to glibc as some 700,000 small
//! chunks, which glibc keeps in the process (they are interleaved with
//! allocations that outlive them): in a 1M-key load followed by reads that was
//! 100 MiB of resident memory nobody used (`benches/README.md`). `malloc_trim`
//! gives it back but holds the allocator's lock for milliseconds, stalling
//! writers. Nodes here live in chunks mapped with `mmap` and unmapped when the
//! memtable is dropped, so the memory goes back to the kernel at once. The
//! memtable needs no concurrent writers (inserts happen under the tree's
//! write lock) nor removal, which is what makes the simple design safe; it also
//! saves two allocations per insert and the epoch pinning of every read.
//!
//! Node layout (8-byte aligned, in the arena):
//!
//! ```text
//! key_len u32 | value_len u32 | height u32 | pad u32
//! next[height]: AtomicPtr<Node> | key bytes | value bytes
//! ```
//!
//! A node is written whole before it is published: its level-0 link is stored
//! with `Release` after its own links and bytes are written, and readers load
//! links with `Acquire`. Nodes never move and are never freed before the list.

#![allow(unsafe_code)]

use std::cmp::Ordering;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering as AtOrd};

use memmap2::MmapMut;
use parking_lot::Mutex;
use strata_sstable::compare_keys;

/// Tallest tower (LevelDB: 12, for up to ~4^12 entries at 1 in 4 promotion).
const MAX_HEIGHT: usize = 12;

/// Promotion to the next level with probability 1 / `BRANCHING`.
const BRANCHING: u32 = 4;

/// [`SkipList::for_each`] cuts the bottom chain into pieces at the nodes of
/// this level (one node in `BRANCHING`³, 64)...
const SCAN_LEVEL: usize = 3;
/// ...and follows this many pieces side by side: about 2,000 nodes, under
/// 400 KiB of them for small entries, loaded at a time (which fits the L2
/// cache). Measured on 433k random entries of 124 bytes (2 cores, AMD EPYC):
/// a cursor 48–72 ms; level 2 with 4, 8, 16 lanes 33–42, 23–25, 14–15 ms;
/// level 3 with 16 and 32 lanes 18 and 12 ms.
const SCAN_LANES: usize = 32;

/// Asks the CPU to load the first 192 bytes of the node at `p` (the header,
/// the tower and, for small entries, the key and value) into its cache. A hint
/// only: nothing is read, so it cannot fault, and it is a no-op off x86-64.
#[inline(always)]
fn prefetch_node(p: *const Node) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let p = p.cast::<i8>();
        for line in 0..3 {
            // SAFETY: SSE is part of the x86-64 baseline, and a prefetch
            // reads nothing and never faults, whatever the address
            // (`wrapping_add` keeps even computing it free of assumptions).
            #[allow(unsafe_code)]
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(line * 64));
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

#[repr(C)]
struct Node {
    key_len: u32,
    value_len: u32,
    height: u32,
    _pad: u32,
    // next: [AtomicPtr<Node>; height], then the key, then the value.
}

const HEADER: usize = std::mem::size_of::<Node>();

impl Node {
    /// Bytes a node with this height and payload takes in the arena.
    fn size(height: usize, key_len: usize, value_len: usize) -> usize {
        (HEADER + height * 8 + key_len + value_len + 7) & !7
    }

    /// # Safety
    /// `level < self.height`.
    #[inline]
    unsafe fn next_slot(&self, level: usize) -> &AtomicPtr<Node> {
        // SAFETY: the tower follows the header, 8-byte aligned (the header
        // is 16 bytes and nodes are 8-byte aligned), and has `height` slots,
        // each initialized before the node was published.
        unsafe {
            &*((self as *const Node as *const u8).add(HEADER) as *const AtomicPtr<Node>).add(level)
        }
    }

    #[inline]
    fn next(&self, level: usize) -> *mut Node {
        debug_assert!(level < self.height as usize);
        // SAFETY: callers stay below the height (the head is MAX_HEIGHT tall,
        // and a search only descends through nodes at levels they reach).
        unsafe { self.next_slot(level) }.load(AtOrd::Acquire)
    }

    #[inline]
    fn data(&self) -> *const u8 {
        // SAFETY: the payload follows the tower inside the node's allocation.
        unsafe { (self as *const Node as *const u8).add(HEADER + self.height as usize * 8) }
    }

    #[inline]
    fn key(&self) -> &[u8] {
        // SAFETY: `key_len` bytes were written after the tower before the
        // node was published, and are never written again.
        unsafe { std::slice::from_raw_parts(self.data(), self.key_len as usize) }
    }

    #[inline]
    fn value(&self) -> &[u8] {
        // SAFETY: as for `key`, the value follows the key.
        unsafe {
            std::slice::from_raw_parts(
                self.data().add(self.key_len as usize),
                self.value_len as usize,
            )
        }
    }
}

/// Anonymous memory in chunks, handed out by bumping an offset.
struct Arena {
    /// Chunks of `chunk_size`; the last is the one being filled.
    chunks: Vec<MmapMut>,
    /// Mappings of one large node each.
    large: Vec<MmapMut>,
    /// Bytes used in the last chunk.
    used: usize,
    chunk_size: usize,
}

impl Arena {
    fn new(chunk_size: usize) -> Arena {
        Arena {
            chunks: Vec::new(),
            large: Vec::new(),
            used: 0,
            chunk_size,
        }
    }

    fn map(size: usize) -> MmapMut {
        match MmapMut::map_anon(size) {
            Ok(m) => m,
            // Out of address space or memory: what the global allocator does.
            Err(_) => std::alloc::handle_alloc_error(
                std::alloc::Layout::from_size_align(size, 8)
                    .unwrap_or(std::alloc::Layout::new::<u64>()),
            ),
        }
    }

    /// `size` bytes (a multiple of 8), 8-byte aligned, zeroed, never moved
    /// or reused while the arena lives.
    fn alloc(&mut self, size: usize) -> *mut u8 {
        debug_assert_eq!(size % 8, 0);
        if size > self.chunk_size / 4 {
            // A large node gets a mapping of its own, so that it does not
            // waste the rest of the current chunk.
            let mut m = Self::map(size);
            let p = m.as_mut_ptr();
            self.large.push(m);
            return p;
        }
        if self.chunks.is_empty() || self.used + size > self.chunk_size {
            self.chunks.push(Self::map(self.chunk_size));
            self.used = 0;
        }
        let last = self.chunks.len() - 1;
        // SAFETY: `used + size <= chunk_size`, the chunk's length.
        let p = unsafe { self.chunks[last].as_mut_ptr().add(self.used) };
        self.used += size;
        p
    }
}

/// The most memory [`Arena`]'s drop releases at once: see its `Drop`.
#[cfg(unix)]
const RELEASE_STEP: usize = 1 << 20;

#[cfg(unix)]
impl Drop for Arena {
    /// Gives the pages back a mebibyte at a time before unmapping.
    ///
    /// Unmapping a region frees its pages while holding the process's memory
    /// map lock, which `mmap` needs too: freeing a 64 MiB memtable's
    /// chunks one `munmap` after another kept a writer that was mapping a
    /// chunk for the next memtable waiting up to 6 ms (traced on 2 cores).
    /// `madvise(MADV_DONTNEED)` frees pages under the shared side of that
    /// lock, and a waiting `mmap` goes before the next step; the `munmap`
    /// of an emptied region is then quick.
    fn drop(&mut self) {
        for m in self.chunks.iter().chain(&self.large) {
            let mut off = 0;
            while off < m.len() {
                let len = RELEASE_STEP.min(m.len() - off);
                // SAFETY: the arena is being dropped, so no node in it is
                // referenced any more (the list and every cursor borrow
                // it), and the zero pages `DONTNEED` leaves are never read.
                // Failure only leaves the pages to the `munmap`.
                let _ = unsafe {
                    m.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, off, len)
                };
                off += len;
            }
        }
    }
}

/// The writer's state: the arena, the height generator and a buffer for
/// encoding keys.
struct Writer {
    arena: Arena,
    rng: u64,
    scratch: Vec<u8>,
}

impl Writer {
    fn random_height(&mut self) -> usize {
        let mut h = 1;
        while h < MAX_HEIGHT {
            // xorshift64
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            if !((self.rng >> 32) as u32).is_multiple_of(BRANCHING) {
                break;
            }
            h += 1;
        }
        h
    }
}

/// A sorted set of (key, value) byte pairs: inserts only, one writer at a
/// time (serialized by an internal lock), readers without locks.
pub(crate) struct SkipList {
    head: NonNull<Node>,
    max_height: AtomicUsize,
    writer: Mutex<Writer>,
    len: AtomicUsize,
}

// SAFETY: nodes are immutable after publication except their links, which are
// atomics; the arena they live in is owned by the list and only touched
// under the writer lock. `head` points into that arena.
unsafe impl Send for SkipList {}
// SAFETY: as above; readers only follow `Acquire`-loaded links to fully
// written nodes.
unsafe impl Sync for SkipList {}

/// A position in a [`SkipList`]: a node, valid while the list lives.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NodeRef(NonNull<Node>);

// SAFETY: a `NodeRef` is only dereferenced through the `SkipList` it came
// from (whose lifetime the holder guarantees), and nodes are immutable apart
// from their atomic links.
unsafe impl Send for NodeRef {}
// SAFETY: as above.
unsafe impl Sync for NodeRef {}

impl std::fmt::Debug for SkipList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SkipList")
            .field("len", &self.len.load(AtOrd::Relaxed))
            .finish()
    }
}

impl SkipList {
    /// An empty list whose arena maps `chunk_size` bytes at a time (rounded
    /// up to a multiple of 8 and at least 4 KiB).
    pub(crate) fn new(chunk_size: usize, seed: u64) -> SkipList {
        let chunk_size = (chunk_size.max(4096) + 7) & !7;
        let mut arena = Arena::new(chunk_size);
        let size = Node::size(MAX_HEIGHT, 0, 0);
        let p = arena.alloc(size) as *mut Node;
        // SAFETY: `p` is a fresh, zeroed, aligned allocation of `size` bytes:
        // zero links are null pointers.
        unsafe {
            ptr::write(
                p,
                Node {
                    key_len: 0,
                    value_len: 0,
                    height: MAX_HEIGHT as u32,
                    _pad: 0,
                },
            );
        }
        SkipList {
            // SAFETY: mmap never returns null on success.
            head: unsafe { NonNull::new_unchecked(p) },
            max_height: AtomicUsize::new(1),
            writer: Mutex::new(Writer {
                arena,
                rng: seed | 1,
                scratch: Vec::new(),
            }),
            len: AtomicUsize::new(0),
        }
    }

    fn head(&self) -> &Node {
        // SAFETY: the head node lives as long as the arena, that is `self`.
        unsafe { self.head.as_ref() }
    }

    /// Entries inserted (once every insert has returned).
    pub(crate) fn len(&self) -> usize {
        self.len.load(AtOrd::Relaxed)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len.load(AtOrd::Relaxed) == 0
    }

    /// The key of a node of this list.
    pub(crate) fn key(&self, n: NodeRef) -> &[u8] {
        // SAFETY: `n` came from this list, whose nodes live as long as it.
        unsafe { n.0.as_ref() }.key()
    }

    /// The value of a node of this list.
    pub(crate) fn value(&self, n: NodeRef) -> &[u8] {
        // SAFETY: as for `key`.
        unsafe { n.0.as_ref() }.value()
    }

    /// Inserts `key` (built by `encode_key` into an empty buffer) with
    /// `value`. Returns the bytes the node takes in the arena. An equal key
    /// already present stays, and the new node goes after it. Lengths are
    /// stored in 32 bits: callers keep keys and values within the batch limits
    /// (1 MiB and 1 GiB), which writes and WAL decoding both check.
    pub(crate) fn insert(&self, encode_key: impl FnOnce(&mut Vec<u8>), value: &[u8]) -> usize {
        let mut w = self.writer.lock();
        let mut key = std::mem::take(&mut w.scratch);
        key.clear();
        encode_key(&mut key);
        let height = w.random_height();
        let size = Node::size(height, key.len(), value.len());
        let p = w.arena.alloc(size) as *mut Node;
        // SAFETY: `p` is a fresh zeroed allocation of `size` bytes, 8-byte
        // aligned, large enough for the header, `height` links (zero, that is
        // null) and the payload. Nothing else can see it yet.
        let node = unsafe {
            ptr::write(
                p,
                Node {
                    key_len: key.len() as u32,
                    value_len: value.len() as u32,
                    height: height as u32,
                    _pad: 0,
                },
            );
            let data = (p as *mut u8).add(HEADER + height * 8);
            ptr::copy_nonoverlapping(key.as_ptr(), data, key.len());
            ptr::copy_nonoverlapping(value.as_ptr(), data.add(key.len()), value.len());
            &*p
        };
        // Predecessors at each level: the last node whose key is <= the new one.
        let mut prev = [self.head.as_ptr() as *const Node; MAX_HEIGHT];
        let top = self.max_height.load(AtOrd::Relaxed);
        let mut x = self.head();
        // The node that ended the search one level up (known greater): met
        // again one level down, it needs no second comparison.
        let mut bigger: *mut Node = ptr::null_mut();
        for level in (0..top).rev() {
            loop {
                let nx = x.next(level);
                if nx == bigger {
                    break;
                }
                if level > 0 {
                    // The node the search goes to if it descends here: its
                    // load overlaps this level's comparison (a cache miss
                    // each, in a list larger than the cache).
                    prefetch_node(x.next(level - 1));
                }
                // SAFETY: published nodes are valid while the list lives.
                match unsafe { nx.as_ref() } {
                    Some(n) if compare_keys(n.key(), node.key()) != Ordering::Greater => x = n,
                    _ => {
                        bigger = nx;
                        break;
                    }
                }
            }
            prev[level] = x;
        }
        if height > top {
            // Readers that see the new height before the links find null
            // links in the head at those levels and move down: harmless.
            self.max_height.store(height, AtOrd::Relaxed);
        }
        for (level, &pv) in prev.iter().enumerate().take(height) {
            // SAFETY: `pv` is the head or a published node of height > level;
            // `node` has `height` slots.
            unsafe {
                let pv = &*pv;
                node.next_slot(level).store(pv.next(level), AtOrd::Relaxed);
                // Publish: the node's bytes and its own link happen before.
                pv.next_slot(level).store(p, AtOrd::Release);
            }
        }
        self.len.fetch_add(1, AtOrd::Relaxed);
        w.scratch = key;
        size
    }

    /// The last node whose key is `< key`, or `<= key` with `or_equal` (the
    /// head if there is none), and the link after it as the search saw it:
    /// the first node past the bound. (Loading that link again could see a
    /// node inserted since, itself before the bound.)
    fn find_last_before(&self, key: &[u8], or_equal: bool) -> (&Node, *mut Node) {
        let mut x = self.head();
        let mut level = self.max_height.load(AtOrd::Relaxed) - 1;
        // As in `insert`: the node that stopped the search a level up, and
        // the descent's node loaded while this level's is compared.
        let mut stop: *mut Node = ptr::null_mut();
        loop {
            let nx = x.next(level);
            if level > 0 && nx != stop {
                prefetch_node(x.next(level - 1));
            }
            // SAFETY: published nodes are valid while the list lives.
            let advance = nx != stop
                && match unsafe { nx.as_ref() } {
                    Some(n) => match compare_keys(n.key(), key) {
                        Ordering::Less => true,
                        Ordering::Equal => or_equal,
                        Ordering::Greater => false,
                    },
                    None => false,
                };
            if advance {
                // SAFETY: `advance` implies non-null.
                x = unsafe { &*nx };
            } else if level == 0 {
                return (x, nx);
            } else {
                stop = nx;
                level -= 1;
            }
        }
    }

    fn not_head(&self, x: &Node) -> Option<NodeRef> {
        if ptr::eq(x, self.head.as_ptr()) {
            None
        } else {
            Some(NodeRef(NonNull::from(x)))
        }
    }

    /// The first node with a key `>= key`.
    pub(crate) fn seek(&self, key: &[u8]) -> Option<NodeRef> {
        let (_, after) = self.find_last_before(key, false);
        NonNull::new(after).map(NodeRef)
    }

    /// The last node with a key `<= key`.
    pub(crate) fn seek_for_prev(&self, key: &[u8]) -> Option<NodeRef> {
        self.not_head(self.find_last_before(key, true).0)
    }

    /// Calls `f` with the key and value of every entry, in order, and stops
    /// at its first error.
    ///
    /// Faster than a cursor on a list much larger than the CPU caches. A
    /// cursor waits for each node in turn (each is a cache miss: nodes lie in
    /// the arena in insertion order), so a flush spends most of its time
    /// waiting. This splits the bottom chain at the nodes of level
    /// [`SCAN_LEVEL`] (one node in 64) into pieces, follows
    /// [`SCAN_LANES`] consecutive pieces side by side, so that that many
    /// loads are in flight at once, and then hands their entries to `f` in
    /// order while they are still in the cache.
    ///
    /// Meant for a list no longer written (a sealed memtable being flushed).
    /// During inserts it is still safe and sees every entry inserted before
    /// it started; an entry inserted meanwhile may or may not be seen.
    pub(crate) fn for_each<E>(
        &self,
        mut f: impl FnMut(&[u8], &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let level = SCAN_LEVEL.min(self.max_height.load(AtOrd::Relaxed) - 1);
        let mut lanes: [Vec<*const Node>; SCAN_LANES] = Default::default();
        // The next piece starts at `start`; `mark` is the first node of
        // level `level` at or after it (null if none).
        let mut start = self.head().next(0).cast_const();
        let mut mark = self.head().next(level).cast_const();
        while !start.is_null() {
            let mut cur = [ptr::null::<Node>(); SCAN_LANES];
            let mut end = [ptr::null::<Node>(); SCAN_LANES];
            let mut pieces = 0;
            while pieces < SCAN_LANES && !start.is_null() {
                let stop = if ptr::eq(mark, start) {
                    // SAFETY: `mark` is a published node of height > `level`.
                    unsafe { &*mark }.next(level).cast_const()
                } else {
                    mark
                };
                cur[pieces] = start;
                end[pieces] = stop;
                pieces += 1;
                start = stop;
                mark = stop;
            }
            // Follow the pieces side by side, one node of each per round.
            let mut moving = true;
            while moving {
                moving = false;
                for lane in 0..pieces {
                    let n = cur[lane];
                    if n.is_null() || ptr::eq(n, end[lane]) {
                        continue;
                    }
                    lanes[lane].push(n);
                    // SAFETY: `n` is a published node of this list.
                    let next = unsafe { &*n }.next(0);
                    if !next.is_null() {
                        prefetch_node(next);
                    }
                    cur[lane] = next;
                    moving = true;
                }
            }
            for lane in lanes.iter_mut().take(pieces) {
                for &n in lane.iter() {
                    // SAFETY: as above; nodes live as long as the list.
                    let n = unsafe { &*n };
                    f(n.key(), n.value())?;
                }
                lane.clear();
            }
        }
        Ok(())
    }

    pub(crate) fn first(&self) -> Option<NodeRef> {
        NonNull::new(self.head().next(0)).map(NodeRef)
    }

    pub(crate) fn last(&self) -> Option<NodeRef> {
        let mut x = self.head();
        let mut level = self.max_height.load(AtOrd::Relaxed) - 1;
        loop {
            let nx = x.next(level);
            if !nx.is_null() {
                // SAFETY: non-null links point to published nodes.
                x = unsafe { &*nx };
            } else if level == 0 {
                return self.not_head(x);
            } else {
                level -= 1;
            }
        }
    }

    /// The node after `n` (of this list).
    ///
    /// Also starts loading the node after that one into the CPU cache: nodes
    /// lie in the arena in insertion order, so in key order each is a cache
    /// miss, and a flush or a scan that waits for every one in turn spends
    /// most of its time waiting. Loading one node ahead overlaps each miss
    /// with the work on the node before.
    #[inline]
    pub(crate) fn next(&self, n: NodeRef) -> Option<NodeRef> {
        // SAFETY: `n` came from this list.
        let m = NonNull::new(unsafe { n.0.as_ref() }.next(0))?;
        // SAFETY: non-null links point to published nodes of this list.
        let after = unsafe { m.as_ref() }.next(0);
        if !after.is_null() {
            prefetch_node(after);
        }
        Some(NodeRef(m))
    }

    /// The node before `n` (of this list): a search, as in LevelDB.
    pub(crate) fn prev(&self, n: NodeRef) -> Option<NodeRef> {
        // SAFETY: `n` came from this list.
        let node = unsafe { n.0.as_ref() };
        self.not_head(self.find_last_before(node.key(), false).0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::sync::Arc;

    /// Every entry of `l` in order, through `for_each`.
    fn by_for_each(l: &SkipList) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        l.for_each(|k, v| -> Result<(), ()> {
            assert_eq!(v, k, "the value put with the key");
            out.push(k.to_vec());
            Ok(())
        })
        .unwrap();
        out
    }

    proptest::proptest! {
        /// `for_each` yields exactly what a cursor does, in the same order,
        /// for lists from empty to tall enough to be cut into many pieces.
        #[test]
        fn for_each_is_the_cursor_order(
            keys in proptest::collection::btree_set(
                proptest::collection::vec(0u8..=255, 0..12), 0..3000),
            seed in 1u64..1000,
        ) {
            let l = SkipList::new(1 << 16, seed);
            for k in &keys {
                l.insert(|b| b.extend_from_slice(k), k);
            }
            let want: Vec<Vec<u8>> = keys.iter().cloned().collect();
            proptest::prop_assert_eq!(all(&l), want.clone());
            proptest::prop_assert_eq!(by_for_each(&l), want);
        }
    }

    #[test]
    fn for_each_stops_at_the_first_error() {
        let l = SkipList::new(1 << 16, 5);
        for i in 0..5000u32 {
            let k = i.to_be_bytes();
            l.insert(|b| b.extend_from_slice(&k), &k);
        }
        let mut seen = 0u32;
        let r = l.for_each(|k, _| {
            if k == 1234u32.to_be_bytes() {
                return Err(k.to_vec());
            }
            seen += 1;
            Ok(())
        });
        assert_eq!(r, Err(1234u32.to_be_bytes().to_vec()));
        assert_eq!(seen, 1234, "stops there, having seen every key before");
    }

    fn put(l: &SkipList, k: &[u8]) {
        l.insert(|b| b.extend_from_slice(k), &[k.len() as u8; 3]);
    }

    /// Every entry of `l` in order, through a cursor.
    fn all(l: &SkipList) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut n = l.first();
        while let Some(x) = n {
            out.push(l.key(x).to_vec());
            n = l.next(x);
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn matches_a_sorted_set(
            keys in proptest::collection::vec(proptest::collection::vec(0u8..3, 0..20), 0..200),
            probes in proptest::collection::vec(proptest::collection::vec(0u8..3, 0..20), 0..20),
        ) {
            // A tiny chunk size: most nodes span chunk boundaries or take a
            // mapping of their own.
            let l = SkipList::new(64, 7);
            let mut model = BTreeSet::new();
            for k in &keys {
                if model.insert(k.clone()) {
                    put(&l, k);
                }
            }
            let sorted: Vec<Vec<u8>> = model.iter().cloned().collect();
            proptest::prop_assert_eq!(all(&l), sorted.clone());
            // Backwards.
            let mut back = Vec::new();
            let mut n = l.last();
            while let Some(x) = n {
                back.push(l.key(x).to_vec());
                proptest::prop_assert_eq!(l.value(x), &[x_len(&l, x); 3][..]);
                n = l.prev(x);
            }
            back.reverse();
            proptest::prop_assert_eq!(back, sorted);
            for p in &probes {
                let ge = model.range(p.clone()..).next();
                let got = l.seek(p).map(|n| l.key(n).to_vec());
                proptest::prop_assert_eq!(got.as_ref(), ge);
                let le = model.range(..=p.clone()).next_back();
                let got = l.seek_for_prev(p).map(|n| l.key(n).to_vec());
                proptest::prop_assert_eq!(got.as_ref(), le);
            }
        }
    }

    fn x_len(l: &SkipList, n: NodeRef) -> u8 {
        l.key(n).len() as u8
    }

    #[test]
    fn empty_list_has_no_positions() {
        let l = SkipList::new(4096, 1);
        assert!(l.is_empty());
        assert!(l.first().is_none());
        assert!(l.last().is_none());
        assert!(l.seek(b"a").is_none());
        assert!(l.seek_for_prev(b"a").is_none());
    }

    #[test]
    fn large_values_and_equal_keys() {
        let l = SkipList::new(4096, 3);
        let big = vec![9u8; 100_000];
        l.insert(|b| b.extend_from_slice(b"m"), &big);
        l.insert(|b| b.extend_from_slice(b"a"), b"x");
        l.insert(|b| b.extend_from_slice(b"m"), b"second");
        l.insert(|b| b.extend_from_slice(b"z"), &big[..5000]);
        assert_eq!(
            all(&l),
            vec![b"a".to_vec(), b"m".to_vec(), b"m".to_vec(), b"z".to_vec()]
        );
        let m = l.seek(b"m").unwrap();
        assert_eq!(l.value(m), &big[..]);
        assert_eq!(l.value(l.next(m).unwrap()), b"second");
        assert_eq!(l.value(l.last().unwrap()), &big[..5000]);
    }

    #[test]
    fn readers_see_a_consistent_list_during_inserts() {
        // One writer inserts ascending and descending keys while readers walk
        // the list and seek: every walk is sorted, every seek lands on a key
        // at or after the probe, and a key seen once stays visible.
        let l = Arc::new(SkipList::new(1 << 16, 11));
        let n = 20_000u32;
        std::thread::scope(|s| {
            for r in 0..2u32 {
                let l = Arc::clone(&l);
                s.spawn(move || {
                    let mut last_len = 0;
                    for round in 0..100u32 {
                        let keys = all(&l);
                        assert!(keys.windows(2).all(|w| w[0] < w[1]));
                        assert!(keys.len() >= last_len);
                        last_len = keys.len();
                        // Seeks race with inserts landing right next to them:
                        // the writer inserts around both ends of the key space.
                        for j in 0..400u32 {
                            let probe = ((round * 7919 + j * 104_729 + r) % (2 * n)).to_be_bytes();
                            if let Some(x) = l.seek(&probe) {
                                assert!(l.key(x) >= &probe[..]);
                            }
                            if let Some(x) = l.seek_for_prev(&probe) {
                                assert!(l.key(x) <= &probe[..]);
                                if let Some(p) = l.prev(x) {
                                    assert!(l.key(p) < l.key(x));
                                }
                            }
                        }
                    }
                });
            }
            for i in 0..n {
                let k = if i % 2 == 0 { i } else { 2 * n - i };
                put(&l, &k.to_be_bytes());
            }
        });
        assert_eq!(all(&l).len(), n as usize);
    }
}
