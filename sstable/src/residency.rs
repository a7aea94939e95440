//! A bound on how much of the memory-mapped tables a process keeps resident.
//!
//! Tables are read through `mmap`, and the pages a read touches stay mapped
//! into the process (they count in its RSS as file-backed memory) until the
//! table is dropped. Worse, a fault maps not only the page read but the pages
//! around it already in the page cache (Linux's fault-around, 64 KiB by
//! default, whatever `madvise(MADV_RANDOM)` says), so scattered point reads,
//! even the 1 % of lookups a bloom filter lets through, soon map whole files.
//!
//! [`MapBudget`] counts, per table, each 64 KiB window of the file that a data
//! block read from the map touched since the last release (a bit per window),
//! and charges 64 KiB per newly touched window to a budget shared by the
//! tables. When the charges pass the budget, every table's map is released
//! (`madvise(MADV_DONTNEED)`: the process drops its page-table entries, the
//! page cache keeps the data, and the next read faults it back in) and the
//! count starts over. Blocks served from the block cache are not counted
//! again; filters and indexes, read from the map at every lookup, are not
//! counted (they are small, and come back at the next lookup).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use strata_fs::MappedFile;

/// Bytes per tracked window: Linux's default fault-around.
const WINDOW_SHIFT: u32 = 16;

/// A budget of mapped table bytes shared by many tables.
///
/// ```
/// use strata_sstable::MapBudget;
/// let budget = MapBudget::new(64 << 20);
/// assert_eq!(budget.limit(), 64 << 20);
/// assert_eq!(budget.releases(), 0);
/// ```
#[derive(Debug)]
pub struct MapBudget {
    limit: u64,
    charged: AtomicU64,
    releases: AtomicU64,
    tables: Mutex<Vec<Weak<Residency>>>,
}

impl MapBudget {
    /// A budget of `limit` bytes (at least one window, 64 KiB).
    pub fn new(limit: u64) -> Arc<MapBudget> {
        Arc::new(MapBudget {
            limit: limit.max(1 << WINDOW_SHIFT),
            charged: AtomicU64::new(0),
            releases: AtomicU64::new(0),
            tables: Mutex::new(Vec::new()),
        })
    }

    /// The budget in bytes.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// How many times every table's map was released.
    pub fn releases(&self) -> u64 {
        self.releases.load(Ordering::Relaxed)
    }

    /// Tracks a table's map under this budget.
    pub(crate) fn track(self: &Arc<Self>, map: Arc<dyn MappedFile>) -> Arc<Residency> {
        let windows = (map.bytes().len() >> WINDOW_SHIFT) + 1;
        let r = Arc::new(Residency {
            budget: Arc::clone(self),
            map,
            touched: (0..windows.div_ceil(64))
                .map(|_| AtomicU64::new(0))
                .collect(),
        });
        let mut tables = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        // Forget dropped tables now and then (amortized: when the list doubles).
        if tables.len() >= 64 && tables.len().is_power_of_two() {
            tables.retain(|w| w.strong_count() > 0);
        }
        tables.push(Arc::downgrade(&r));
        r
    }

    fn charge(&self, bytes: u64) {
        let now = self.charged.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if now > self.limit {
            self.release_all();
        }
    }

    /// Releases every tracked table's mapped pages and starts counting over.
    fn release_all(&self) {
        let mut tables = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        // Another thread may have released while this one waited.
        if self.charged.load(Ordering::Relaxed) <= self.limit {
            return;
        }
        self.charged.store(0, Ordering::Relaxed);
        self.releases.fetch_add(1, Ordering::Relaxed);
        tables.retain(|w| match w.upgrade() {
            Some(r) => {
                r.release();
                true
            }
            None => false,
        });
    }
}

/// One table's touched windows.
#[derive(Debug)]
pub(crate) struct Residency {
    budget: Arc<MapBudget>,
    map: Arc<dyn MappedFile>,
    touched: Box<[AtomicU64]>,
}

impl Residency {
    /// Notes a read of `len` bytes at `offset` of the map.
    #[inline]
    pub(crate) fn touch(&self, offset: u64, len: u64) {
        let first = offset >> WINDOW_SHIFT;
        let last = offset.saturating_add(len.max(1) - 1) >> WINDOW_SHIFT;
        for w in first..=last {
            let Some(word) = self.touched.get((w / 64) as usize) else {
                return;
            };
            let bit = 1u64 << (w % 64);
            // A plain load first: the common case (already touched) writes nothing.
            if word.load(Ordering::Relaxed) & bit == 0
                && word.fetch_or(bit, Ordering::Relaxed) & bit == 0
            {
                self.budget.charge(1 << WINDOW_SHIFT);
            }
        }
    }

    fn release(&self) {
        for w in self.touched.iter() {
            w.store(0, Ordering::Relaxed);
        }
        self.map.release(0, self.map.bytes().len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[derive(Debug)]
    struct CountingMap {
        bytes: Vec<u8>,
        released: AtomicUsize,
    }

    impl MappedFile for CountingMap {
        fn bytes(&self) -> &[u8] {
            &self.bytes
        }
        fn release(&self, _offset: usize, _len: usize) {
            self.released.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn releases_every_table_once_the_budget_is_passed() {
        let budget = MapBudget::new(4 << 16);
        let a = Arc::new(CountingMap {
            bytes: vec![0; 10 << 16],
            released: AtomicUsize::new(0),
        });
        let b = Arc::new(CountingMap {
            bytes: vec![0; 10 << 16],
            released: AtomicUsize::new(0),
        });
        let ra = budget.track(a.clone());
        let rb = budget.track(b.clone());
        // Touching the same window again charges nothing.
        for _ in 0..10 {
            ra.touch(0, 4096);
        }
        // A read spanning two windows charges both.
        rb.touch((1 << 16) - 10, 20);
        ra.touch(5 << 16, 100);
        assert_eq!(budget.releases(), 0);
        assert_eq!(a.released.load(Ordering::Relaxed), 0);
        // The fifth window passes the budget of four: both tables released.
        rb.touch(7 << 16, 1);
        assert_eq!(budget.releases(), 1);
        assert_eq!(a.released.load(Ordering::Relaxed), 1);
        assert_eq!(b.released.load(Ordering::Relaxed), 1);
        // Counting starts over: windows touched before count again.
        for w in 0..4 {
            ra.touch(w << 16, 1);
        }
        assert_eq!(budget.releases(), 1);
        ra.touch(9 << 16, 1);
        assert_eq!(budget.releases(), 2);
        // A dropped table is forgotten, not released.
        drop(rb);
        for w in 0..5 {
            ra.touch(w << 16, 1);
        }
        assert_eq!(budget.releases(), 3);
        assert_eq!(b.released.load(Ordering::Relaxed), 2);
        assert_eq!(a.released.load(Ordering::Relaxed), 3);
        // Offsets past the end are ignored rather than a panic.
        ra.touch(u64::MAX / 2, 1);
    }
}
