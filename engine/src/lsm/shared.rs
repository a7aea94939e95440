//! Resources many trees share: block cache, background pool and memtable
//! memory budget.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use strata_sstable::{BlockCache, MapBudget};
use strata_wal::WalSyncer;

use super::pool::BackgroundPool;

/// Something owning memtables charged to a [`WriteBufferManager`] (a tree).
pub(crate) trait BufferOwner: Send + Sync {
    /// Bytes in the owner's active memtable.
    fn active_bytes(&self) -> usize;
    /// Asks the owner to seal its active memtable and flush it soon.
    fn request_flush(&self);
}

/// A memtable memory budget across trees (RocksDB: `WriteBufferManager`).
///
/// Every memtable insert is charged; when the active (mutable) memtables of
/// all trees together exceed 7/8 of the budget, the tree with the largest
/// active memtable is asked to flush it, so idle trees do not pin memory (or
/// WAL segments) while busy ones keep writing.
pub struct WriteBufferManager {
    budget: usize,
    active: AtomicUsize,
    total: AtomicUsize,
    members: Mutex<Vec<Weak<dyn BufferOwner>>>,
}

impl std::fmt::Debug for WriteBufferManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteBufferManager")
            .field("budget", &self.budget)
            .field("active", &self.active.load(Ordering::Relaxed))
            .field("total", &self.total.load(Ordering::Relaxed))
            .finish()
    }
}

impl WriteBufferManager {
    /// A budget of `bytes` for all memtables of the trees sharing it
    /// (RocksDB: `db_write_buffer_size`).
    pub fn new(bytes: usize) -> WriteBufferManager {
        WriteBufferManager {
            budget: bytes.max(1),
            active: AtomicUsize::new(0),
            total: AtomicUsize::new(0),
            members: Mutex::new(Vec::new()),
        }
    }

    /// The budget in bytes.
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// Bytes of all memtables charged now (active and immutable).
    pub fn usage(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }

    pub(crate) fn register(&self, owner: Weak<dyn BufferOwner>) {
        let mut m = self.members.lock();
        m.retain(|w| w.strong_count() > 0);
        m.push(owner);
    }

    pub(crate) fn charge(&self, bytes: usize) {
        self.active.fetch_add(bytes, Ordering::Relaxed);
        self.total.fetch_add(bytes, Ordering::Relaxed);
    }

    /// A memtable of `bytes` stopped being active.
    pub(crate) fn sealed(&self, bytes: usize) {
        self.active.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// A memtable of `bytes` was freed.
    pub(crate) fn freed(&self, bytes: usize) {
        self.total.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// True when the active memtables are over 7/8 of the budget.
    pub(crate) fn should_flush(&self) -> bool {
        self.active.load(Ordering::Relaxed) > self.budget / 8 * 7
    }

    /// Asks the member with the largest active memtable to flush.
    pub(crate) fn flush_largest(&self) {
        let target = {
            let m = self.members.lock();
            m.iter()
                .filter_map(Weak::upgrade)
                .max_by_key(|o| o.active_bytes())
        };
        if let Some(t) = target {
            t.request_flush();
        }
    }
}

/// A block cache, a background worker pool, a memtable budget and a WAL
/// syncer that many trees share. Cheap to clone.
///
/// ```
/// use strata_engine::lsm::SharedResources;
/// let shared = SharedResources::new(8 << 20, 2, 32 << 20);
/// assert_eq!(shared.pool().threads(), 2);
/// ```
#[derive(Clone, Debug)]
pub struct SharedResources {
    cache: Arc<BlockCache>,
    pool: Arc<BackgroundPool>,
    buffers: Arc<WriteBufferManager>,
    wal_syncer: Arc<WalSyncer>,
    map_budget: Option<Arc<MapBudget>>,
    pread_data_blocks: bool,
}

impl SharedResources {
    /// A block cache of `cache_bytes` (RocksDB: `block_cache`), a pool of
    /// `threads` workers (RocksDB: `max_background_jobs`), and a memtable
    /// budget of `memtable_budget` bytes (RocksDB: `db_write_buffer_size`).
    pub fn new(cache_bytes: usize, threads: usize, memtable_budget: usize) -> SharedResources {
        SharedResources {
            cache: BlockCache::new(cache_bytes),
            pool: Arc::new(BackgroundPool::new(threads)),
            buffers: Arc::new(WriteBufferManager::new(memtable_budget)),
            wal_syncer: Arc::new(WalSyncer::new()),
            map_budget: None,
            pread_data_blocks: true,
        }
    }

    /// Bounds the SSTable pages the trees keep mapped into the process to
    /// about `bytes` (`None`: no bound, the default). It matters only when
    /// data blocks are read through the tables' memory maps
    /// ([`SharedResources::with_pread_data_blocks`]`(false)`): the pages
    /// reads touch then count in the process's RSS as file-backed memory
    /// until the table is dropped; past the bound they are released (the page
    /// cache keeps them, the next read maps them again). A bound below the
    /// data read often costs a page fault per read. See [`MapBudget`] and
    /// `docs/embedding.md`.
    ///
    /// ```
    /// use strata_engine::lsm::SharedResources;
    /// let shared = SharedResources::with_defaults().with_max_mapped_bytes(Some(32 << 20));
    /// assert_eq!(shared.map_budget().map(|b| b.limit()), Some(32 << 20));
    /// ```
    pub fn with_max_mapped_bytes(mut self, bytes: Option<u64>) -> SharedResources {
        self.map_budget = bytes.map(MapBudget::new);
        self
    }

    /// Whether the trees' SSTable data blocks are read with `pread` into the
    /// block cache (`true`, the default; RocksDB and fjall read this way) or
    /// through the tables' memory maps (`false`).
    ///
    /// With `pread` the process keeps no data page of the tables beyond the
    /// cache's bytes, so its RSS is bounded by the cache size, at the cost of
    /// a system call and a copy per block that misses the cache. Through the
    /// maps, a block that misses the cache costs no copy and reads are faster
    /// (1.6 times on `peer-bench readrandom`), but every page a read touches
    /// stays mapped and counts in the process's RSS, so a database read at
    /// random soon makes RSS as large as its tables (the page cache holds the
    /// same pages either way; only the accounting differs).
    /// [`SharedResources::with_max_mapped_bytes`] bounds that, at a high
    /// cost in reads. Filters and indexes are read through the map in both
    /// cases. Applies to tables opened afterwards. See
    /// [`ReaderOptions::pread_data_blocks`](strata_sstable::ReaderOptions::pread_data_blocks)
    /// and `docs/embedding.md`.
    ///
    /// ```
    /// use strata_engine::lsm::SharedResources;
    /// assert!(SharedResources::with_defaults().pread_data_blocks());
    /// let mapped = SharedResources::with_defaults().with_pread_data_blocks(false);
    /// assert!(!mapped.pread_data_blocks());
    /// ```
    pub fn with_pread_data_blocks(mut self, on: bool) -> SharedResources {
        self.pread_data_blocks = on;
        self
    }

    /// Whether data blocks are read with `pread` (see
    /// [`SharedResources::with_pread_data_blocks`]).
    pub fn pread_data_blocks(&self) -> bool {
        self.pread_data_blocks
    }

    /// The bound on mapped table pages, if any.
    pub fn map_budget(&self) -> Option<&Arc<MapBudget>> {
        self.map_budget.as_ref()
    }

    /// Defaults: 64 MiB cache, one worker per core (at least 2), 256 MiB of
    /// memtables.
    pub fn with_defaults() -> SharedResources {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self::new(64 << 20, threads, 256 << 20)
    }

    /// The shared block cache.
    pub fn cache(&self) -> &Arc<BlockCache> {
        &self.cache
    }

    /// The shared worker pool.
    pub fn pool(&self) -> &Arc<BackgroundPool> {
        &self.pool
    }

    /// The shared memtable budget.
    pub fn write_buffer_manager(&self) -> &Arc<WriteBufferManager> {
        &self.buffers
    }

    /// The one background thread that fsyncs the WALs of every tree sharing
    /// these resources that has `Buffered` (or `None`) writes, each at its
    /// [`TreeOptions::wal_buffered_sync_interval`](super::TreeOptions::wal_buffered_sync_interval).
    /// It starts with the first such write; trees written only with
    /// `Durability::Sync` never start it.
    pub fn wal_syncer(&self) -> &Arc<WalSyncer> {
        &self.wal_syncer
    }
}
