//! The tree: write path, read path, lifecycle. Flush lives in `flush.rs`,
//! compaction in `compaction.rs`, opening and recovery in `open.rs`.

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, RwLock};
use strata_fs::{FileLock, FileSystem};
use strata_wal::{Durability, Lsn, Wal};

use super::batch::{BatchOp, WriteBatch};
use super::error::{Error, Result};
use super::ikey::{self, SeqNo};
use super::log_reader::{DurableNotifier, LogHints, LogRecord};
use super::manifest::{ManifestState, ManifestWriter};
use super::memtable::{Lookup, Memtable};
use super::options::TreeOptions;
use super::pool::Priority;
use super::rate_limiter::RateLimiter;
use super::shared::{BufferOwner, SharedResources};
use super::snapshot::{Snapshot, SnapshotList};
use super::stats::{Counters, TreeStats};
use super::super_version::SuperVersion;
use super::tree_iter::TreeIter;
use super::version::{NUM_LEVELS, TableHandle, VersionEdit};

/// Manifest size after which it is rewritten as a snapshot.
const MANIFEST_REWRITE_BYTES: u64 = 4 << 20;

/// A write appended by [`Tree::write_begin`], to be finished by
/// [`Tree::write_finish`].
#[derive(Debug)]
#[must_use = "a begun write must be finished by write_finish"]
pub(crate) struct PendingWrite {
    first: SeqNo,
    last: SeqNo,
    sealed: bool,
    durability: Durability,
    /// When the write first waited for a flush or compaction, if it did.
    stalled_since: Option<Instant>,
    /// 0 for an empty batch (nothing to finish).
    user_bytes: u64,
}

impl PendingWrite {
    fn empty(seq: SeqNo, durability: Durability) -> PendingWrite {
        PendingWrite {
            first: seq + 1,
            last: seq,
            sealed: false,
            durability,
            stalled_since: None,
            user_bytes: 0,
        }
    }
}

/// The writer-side state, guarded by the write lock: commits are serialized
/// through it so sequence order equals WAL order.
#[derive(Debug)]
pub(crate) struct WriterState {
    pub active: Arc<Memtable>,
    pub next_seq: SeqNo,
}

/// The manifest side, guarded by its own lock (held only by background jobs
/// and open, never by readers or writers).
#[derive(Debug)]
pub(crate) struct VersionSet {
    pub manifest: Option<ManifestWriter>,
    pub state: ManifestState,
}

/// Commits not yet visible, and the highest finished one.
#[derive(Debug, Default)]
pub(crate) struct Publish {
    /// First sequence numbers of `Sync` commits waiting for their fsync.
    pub inflight: std::collections::BTreeSet<SeqNo>,
    /// Highest last sequence number of a finished commit.
    pub done: SeqNo,
}

#[derive(Debug, Default)]
pub(crate) struct StallState {
    pub bg_error: Option<(&'static str, String)>,
}

/// A log-structured merge tree over byte keys and values: one WAL, a
/// memtable, and leveled SSTables, with background flush and compaction.
///
/// `Tree` is `Send + Sync` and cheap to clone; clones share the tree. When
/// the last clone is dropped, background work on it stops (the WAL keeps
/// what was not flushed). Call [`Tree::close`] to flush and stop cleanly.
///
/// ```
/// use std::ops::Bound;
/// use strata_engine::lsm::{Tree, TreeOptions, WriteBatch};
/// use strata_wal::Durability;
///
/// let dir = tempfile::tempdir().unwrap();
/// let tree = Tree::open(dir.path(), TreeOptions::default()).unwrap();
/// tree.put(b"apple", b"red", Durability::Sync).unwrap();
/// let mut batch = WriteBatch::new();
/// batch.put(b"banana", b"yellow").put(b"cherry", b"dark red").delete(b"apple");
/// tree.write(batch, Durability::Sync).unwrap();
///
/// assert_eq!(tree.get(b"banana", None).unwrap(), Some(b"yellow".to_vec()));
/// assert_eq!(tree.get(b"apple", None).unwrap(), None);
///
/// let snap = tree.snapshot();
/// tree.put(b"banana", b"green", Durability::Sync).unwrap();
/// assert_eq!(tree.get(b"banana", Some(&snap)).unwrap(), Some(b"yellow".to_vec()));
///
/// let keys: Vec<Vec<u8>> = tree
///     .range(Bound::Unbounded, Bound::Unbounded, None)
///     .unwrap()
///     .rev()
///     .map(|kv| kv.unwrap().0)
///     .collect();
/// assert_eq!(keys, vec![b"cherry".to_vec(), b"banana".to_vec()]);
/// tree.close().unwrap();
/// drop(tree); // the directory stays locked until the last handle is dropped
///
/// // Reopening finds everything.
/// let tree = Tree::open(dir.path(), TreeOptions::default()).unwrap();
/// assert_eq!(tree.get(b"banana", None).unwrap(), Some(b"green".to_vec()));
/// ```
#[derive(Clone)]
pub struct Tree {
    // Dropped first (fields drop in order): while the last handle's token runs, this
    // handle's `inner` still holds the tree, so the token always finds it and releases
    // the directory lock before `drop` returns. (Dropped after `inner`, the token could
    // find the tree gone while a background job's thread, holding the last
    // reference, was still in the middle of dropping it, lock included: an immediate
    // reopen then failed with `Locked`.)
    _handle: Arc<HandleToken>,
    pub(crate) inner: Arc<TreeInner>,
}

impl std::fmt::Debug for Tree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tree")
            .field("dir", &self.inner.dir)
            .finish_non_exhaustive()
    }
}

/// Dropped with the last user handle: stops background work on the tree.
#[derive(Debug)]
struct HandleToken {
    inner: Weak<TreeInner>,
}

impl Drop for HandleToken {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.upgrade() {
            inner.shutdown_background();
            if let Err(e) = inner.wal.close() {
                tracing::warn!(error = %e, "closing the WAL of a dropped tree failed");
            }
            // Without this, a background job finishing its last step still
            // holds the tree (and its directory lock) for a moment after the
            // last handle is gone, and an immediate reopen fails with `Locked`.
            inner.release_dir_lock();
        }
    }
}

pub(crate) struct TreeInner {
    pub dir: PathBuf,
    pub opts: TreeOptions,
    pub fs: Arc<dyn FileSystem>,
    pub tree_id: u64,
    pub wal: Wal,
    pub shared: SharedResources,
    pub rate_limiter: Option<RateLimiter>,
    pub writer: Mutex<WriterState>,
    pub sv: RwLock<Arc<SuperVersion>>,
    /// Highest sequence number visible to new reads.
    pub visible_seq: AtomicU64,
    /// Highest sequence number written to the memtable (visible or not yet: a
    /// commit waiting for its fsync). What [`Tree::get_latest`] reads at.
    pub written_seq: AtomicU64,
    /// Orders publication: a commit becomes visible only when every earlier
    /// commit has (a `Sync` commit after its fsync).
    pub publish: Mutex<Publish>,
    /// Signalled (under `publish`) when `visible_seq` advances or the tree
    /// is poisoned: writers wait on it until their commit is visible.
    pub publish_cv: Condvar,
    pub next_file: AtomicU64,
    pub next_mem_id: AtomicU64,
    pub versions: Mutex<VersionSet>,
    pub flush_lock: Mutex<()>,
    pub compaction_lock: Mutex<()>,
    pub flush_scheduled: AtomicBool,
    pub compaction_scheduled: AtomicBool,
    pub switch_requested: AtomicBool,
    pub stall: Mutex<StallState>,
    pub stall_cv: Condvar,
    pub poisoned: Mutex<Option<String>>,
    /// Set (after the message) once `poisoned` or `stall.bg_error` is set,
    /// never cleared: writers check it without taking either lock.
    pub failed: AtomicBool,
    pub closed: AtomicBool,
    pub snapshots: Arc<SnapshotList>,
    pub counters: Counters,
    /// Background jobs of this tree queued or running hold an entry here
    /// (before they upgrade their weak reference), so shutdown can wait
    /// until no job holds the tree.
    pub jobs: Arc<JobTracker>,
    pub weak: Weak<TreeInner>,
    /// The directory lock; released by `close` (or when the last handle
    /// drops), so the tree can be reopened in the same process.
    pub dir_lock: Mutex<Option<Box<dyn FileLock>>>,
    /// What recovery found when the tree opened.
    pub recovery: Mutex<super::recovery::TreeRecoveryReport>,
    /// Where log reads stopped (see [`Tree::read_log`]).
    pub log_hints: LogHints,
    /// Reports durable-position advances to [`TreeOptions::on_durable`].
    pub durable: Arc<DurableNotifier>,
}

impl std::fmt::Debug for TreeInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TreeInner")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// Table file name for `number`.
pub(crate) fn table_name(number: u64) -> String {
    format!("{number:06}.sst")
}

pub(crate) fn parse_table_name(name: &str) -> Option<u64> {
    let n = name.strip_suffix(".sst")?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse().ok()
}

/// Counts background jobs running on a tree; refuses new ones after
/// shutdown.
#[derive(Debug, Default)]
pub(crate) struct JobTracker {
    state: Mutex<(usize, bool)>,
    cv: Condvar,
}

/// A running job's entry in the [`JobTracker`].
pub(crate) struct JobGuard(Arc<JobTracker>);

impl Drop for JobGuard {
    fn drop(&mut self) {
        self.0.state.lock().0 -= 1;
        self.0.cv.notify_all();
    }
}

impl JobTracker {
    pub(crate) fn enter(self: &Arc<Self>) -> Option<JobGuard> {
        let mut st = self.state.lock();
        if st.1 {
            return None;
        }
        st.0 += 1;
        Some(JobGuard(Arc::clone(self)))
    }

    /// Refuses new jobs and waits for running ones.
    fn shutdown(&self) {
        let mut st = self.state.lock();
        st.1 = true;
        while st.0 > 0 {
            self.cv.wait_for(&mut st, Duration::from_millis(50));
        }
    }
}

/// Submits `f` to run on the tree in the background, unless it shuts down.
fn submit(inner: &TreeInner, priority: Priority, f: impl FnOnce(&TreeInner) + Send + 'static) {
    let weak = inner.weak.clone();
    let jobs = Arc::clone(&inner.jobs);
    inner.shared.pool().submit(
        priority,
        Box::new(move || {
            let Some(_guard) = jobs.enter() else {
                return;
            };
            if let Some(t) = weak.upgrade() {
                f(&t);
            }
        }),
    );
}

impl Tree {
    pub(crate) fn from_inner(inner: Arc<TreeInner>) -> Tree {
        let handle = Arc::new(HandleToken {
            inner: Arc::downgrade(&inner),
        });
        Tree {
            _handle: handle,
            inner,
        }
    }

    /// Opens (or creates) the tree in `dir`: reads the manifest, removes
    /// orphan files, and replays the WAL from the last flushed position.
    pub fn open(dir: &Path, opts: TreeOptions) -> Result<Tree> {
        super::open::open(dir, opts)
    }

    /// The directory of the tree.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Commits a batch atomically with the given durability and returns the
    /// sequence number of its last put or delete. `Sync` returns once the
    /// batch is on stable storage (concurrent `Sync` writers share fsyncs
    /// through the WAL's group commit). A batch of log data only consumes no
    /// sequence number and returns the last one given out before it.
    pub fn write(&self, batch: WriteBatch, durability: Durability) -> Result<SeqNo> {
        let intent = self.commit_intent(durability);
        let pending = self.inner.write_begin(batch, durability);
        drop(intent);
        self.inner.write_finish(pending?)
    }

    /// For a `Sync` write about to begin: announces it to the WAL, so that a
    /// group-commit leader about to fsync may wait a moment for it (see
    /// `WalOptions::group_commit_wait`). Drop it right after
    /// [`Tree::write_begin`], before [`Tree::write_finish`].
    pub(crate) fn commit_intent(&self, durability: Durability) -> Option<strata_wal::CommitIntent> {
        (durability == Durability::Sync).then(|| self.inner.wal.intend())
    }

    /// The first half of [`Tree::write`]: appends the batch to the WAL and the
    /// memtable, in WAL order, and returns without waiting for its fsync. The
    /// batch is not visible to readers yet; [`Tree::get_latest`] sees it.
    /// [`Tree::write_finish`] then waits until it is durable as `durability`
    /// promises and visible, and returns its sequence number.
    ///
    /// This lets a caller that serialises writes with a lock of its own (a
    /// table partition deciding conditional writes) release that lock before
    /// the fsync, so the next writer can join the same group commit. A caller
    /// that decides under its lock must read with [`Tree::get_latest`] there.
    /// The caller must finish every begun write: a `Sync` write left unfinished
    /// would keep every later one invisible. So this stays inside the crate.
    pub(crate) fn write_begin(
        &self,
        batch: WriteBatch,
        durability: Durability,
    ) -> Result<PendingWrite> {
        self.inner.write_begin(batch, durability)
    }

    /// The second half of [`Tree::write`] (see [`Tree::write_begin`]).
    pub(crate) fn write_finish(&self, pending: PendingWrite) -> Result<SeqNo> {
        self.inner.write_finish(pending)
    }

    /// Waits until everything written so far (what [`Tree::get_latest`] saw) is
    /// visible, so durable as its writers asked: for a caller that must not
    /// report anything based on a write that a crash could still take away.
    ///
    /// # Errors
    /// [`Error::Poisoned`] when an earlier write failed and never becomes visible.
    pub(crate) fn wait_written_visible(&self) -> Result<()> {
        let seq = self.inner.written_seq.load(Ordering::Acquire);
        self.inner.wait_visible(seq)
    }

    /// The newest value of `key` written, including writes begun with
    /// [`Tree::write_begin`] that are not durable or visible yet. For a
    /// caller that serialises its writers and decides under its own lock
    /// (never for answering readers: a crash may still take the value away).
    pub(crate) fn get_latest(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let sv = self.inner.current_sv();
        let seq = self.inner.written_seq.load(Ordering::Acquire);
        self.inner.get_in(&sv, key, seq)
    }

    /// Puts one key.
    pub fn put(&self, key: &[u8], value: &[u8], durability: Durability) -> Result<SeqNo> {
        let mut b = WriteBatch::with_capacity(key.len() + value.len() + 8);
        b.put(key, value);
        let pending = self.inner.write_begin(b, durability)?;
        self.inner.write_finish(pending)
    }

    /// Deletes one key.
    pub fn delete(&self, key: &[u8], durability: Durability) -> Result<SeqNo> {
        let mut b = WriteBatch::with_capacity(key.len() + 8);
        b.delete(key);
        let pending = self.inner.write_begin(b, durability)?;
        self.inner.write_finish(pending)
    }

    /// The value of `key` at `snapshot` (or now).
    pub fn get(&self, key: &[u8], snapshot: Option<&Snapshot>) -> Result<Option<Vec<u8>>> {
        // The view first, then the sequence number: a compaction installed
        // before the view was taken computed its bound from an older
        // sequence number, so it kept every version a read at `seq` needs.
        let sv = self.inner.current_sv();
        let seq = self.inner.read_seq(snapshot)?;
        self.inner.get_in(&sv, key, seq)
    }

    /// Pins the current sequence number until the snapshot is dropped.
    pub fn snapshot(&self) -> Snapshot {
        self.inner
            .snapshots
            .acquire(|| self.inner.visible_seq.load(Ordering::Acquire))
    }

    /// Iterates `[lower, upper]` (per the bounds) at `snapshot` (or now),
    /// forward with `next` and backward with `next_back`.
    pub fn range(
        &self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        snapshot: Option<&Snapshot>,
    ) -> Result<TreeIter> {
        // The view before the sequence number, as in `get`.
        let sv = self.inner.current_sv();
        let seq = self.inner.read_seq(snapshot)?;
        Ok(TreeIter::new(sv, seq, self.inner.dir.clone(), lower, upper))
    }

    /// Seals the active memtable (if not empty) and writes every memtable to
    /// an L0 table; returns when they are all on disk.
    pub fn flush(&self) -> Result<()> {
        self.inner.check_open()?;
        self.inner.flush_all()
    }

    /// Flushes, then compacts every file overlapping `[lower, upper]`
    /// (`None` = unbounded) down to the bottom level holding data (RocksDB:
    /// `CompactRange`). Waits for the work to finish.
    pub fn compact_range(&self, lower: Option<&[u8]>, upper: Option<&[u8]>) -> Result<()> {
        self.inner.check_open()?;
        self.inner.flush_all()?;
        self.inner.compact_range(lower, upper)
    }

    /// The tree's statistics.
    pub fn stats(&self) -> TreeStats {
        self.inner.stats()
    }

    /// What recovery found and did when this tree opened: WAL bytes cut,
    /// skipped or deleted (per segment, with offsets and reasons), a torn
    /// manifest append that was ignored, where replay started. See
    /// `docs/recovery.md`.
    pub fn recovery_report(&self) -> super::recovery::TreeRecoveryReport {
        self.inner.recovery.lock().clone()
    }

    /// The WAL's next LSN (for consumers that track WAL positions, such as
    /// the retention floor).
    pub fn wal_next_lsn(&self) -> u64 {
        self.inner.wal.next_lsn()
    }

    /// Deletes WAL segments that are fully flushed and below the
    /// [`TreeOptions::wal_retention_floor`] now. Flushes do this on their
    /// own; a log consumer calls it after advancing its checkpoint (and so
    /// its floor), so that segments it no longer needs are released without
    /// waiting for the next flush. Safe to call from any thread at any time,
    /// concurrently with writes, flushes and [`Tree::read_log`].
    pub fn apply_wal_retention(&self) -> Result<()> {
        self.inner.check_open()?;
        let flushed = self.inner.versions.lock().state.flushed_lsn;
        self.inner.truncate_wal(flushed);
        Ok(())
    }

    /// Reads up to `max_records` committed batches from the log, oldest
    /// first: those with LSN greater than `after` (pass 0 to start at the
    /// oldest record the log holds, or a [`LogRecord::lsn`] to continue
    /// after it). Every returned record is durable: a crash or power loss
    /// cannot remove it (`Sync` writes are durable when they return;
    /// `Buffered` and `None` writes once a later WAL sync covers them: the
    /// WAL's background sync, a flush, a `Sync` write, or
    /// [`Tree::sync_wal`]). Records reach up to [`Tree::durable_lsn`]; an
    /// empty result means nothing durable follows `after` yet.
    ///
    /// Works concurrently with writers, flushes, compactions and WAL segment
    /// deletion, and across reopens: LSNs are stable, and segments at or
    /// above the [`TreeOptions::wal_retention_floor`] are kept. Sequential
    /// reads resume at the byte offset where the previous read stopped.
    ///
    /// Errors: [`Error::LogTruncated`] when the log no longer holds the
    /// record after `after` (its segment was deleted); [`Error::InvalidArgument`]
    /// when `after` lies beyond the end of the log; corruption with the WAL
    /// path when a record does not decode.
    ///
    /// ```
    /// use strata_engine::lsm::{Durability, LogEntry, Tree, TreeOptions, WriteBatch};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let tree = Tree::open(dir.path(), TreeOptions::default()).unwrap();
    /// let mut b = WriteBatch::new();
    /// b.put(b"k", b"v").log_data(b"index delta");
    /// tree.write(b, Durability::Sync).unwrap();
    /// let recs = tree.read_log(0, 100).unwrap();
    /// assert_eq!(recs.len(), 1);
    /// assert_eq!(recs[0].entries[1], LogEntry::LogData(b"index delta".to_vec()));
    /// // Log data is never visible to reads.
    /// assert_eq!(tree.get(b"k", None).unwrap(), Some(b"v".to_vec()));
    /// // Continue after the last record read: nothing new yet.
    /// assert!(tree.read_log(recs[0].lsn, 100).unwrap().is_empty());
    /// ```
    pub fn read_log(&self, after: Lsn, max_records: usize) -> Result<Vec<LogRecord>> {
        self.inner.check_open()?;
        let wal_dir = self.inner.dir.join(super::open::WAL_DIR);
        let r = super::log_reader::read_log(
            &self.inner.wal,
            &self.inner.log_hints,
            &wal_dir,
            after,
            max_records,
        );
        // Reading writes buffered records to the OS, and may sync them.
        self.inner.notify_durable();
        r
    }

    /// The highest LSN whose record is durable (0 when the log holds none):
    /// [`Tree::read_log`] returns records up to it.
    pub fn durable_lsn(&self) -> Lsn {
        super::log_reader::durable_lsn(&self.inner.wal)
    }

    /// The LSN of the oldest record the log still holds; [`Tree::read_log`]
    /// with `after` below `log_start_lsn() - 1` fails with
    /// [`Error::LogTruncated`].
    pub fn log_start_lsn(&self) -> Lsn {
        self.inner.wal.first_lsn()
    }

    /// Writes and fsyncs everything appended to the WAL so far, making every
    /// acknowledged write durable; returns the new [`Tree::durable_lsn`].
    pub fn sync_wal(&self) -> Result<Lsn> {
        self.inner.check_open()?;
        // Aside: writers appending meanwhile do not wait for this fsync.
        self.inner
            .wal
            .sync_aside()
            .map_err(|e| self.inner.poison(e))?;
        self.inner.notify_durable();
        Ok(self.durable_lsn())
    }

    /// Flushes memtables, stops background work and closes the WAL. Later
    /// calls on any clone fail with [`Error::Closed`]. Reopening replays
    /// nothing. The directory lock is released when the last clone is
    /// dropped.
    pub fn close(&self) -> Result<()> {
        self.inner.close()
    }
}

impl TreeInner {
    /// Tells the [`TreeOptions::on_durable`] hook if the durable position
    /// advanced. Call with no lock of the tree held.
    pub(crate) fn notify_durable(&self) {
        if self.durable.enabled() {
            self.durable.advance(self.wal.synced_lsn());
        }
    }

    pub(crate) fn current_sv(&self) -> Arc<SuperVersion> {
        Arc::clone(&self.sv.read())
    }

    pub(crate) fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        Ok(())
    }

    fn read_seq(&self, snapshot: Option<&Snapshot>) -> Result<SeqNo> {
        self.check_open()?;
        match snapshot {
            Some(s) if !s.belongs_to(&self.snapshots) => Err(Error::InvalidArgument(
                "the snapshot belongs to another tree".into(),
            )),
            Some(s) => Ok(s.seq()),
            None => Ok(self.visible_seq.load(Ordering::Acquire)),
        }
    }

    fn check_writable(&self) -> Result<()> {
        self.check_open()?;
        if !self.failed.load(Ordering::Acquire) {
            return Ok(());
        }
        if let Some(p) = self.poisoned.lock().as_ref() {
            return Err(Error::Poisoned(p.clone()));
        }
        if let Some((job, msg)) = &self.stall.lock().bg_error {
            return Err(Error::Background {
                job,
                message: msg.clone(),
            });
        }
        Ok(())
    }

    fn poison(&self, e: strata_wal::WalError) -> Error {
        let msg = e.to_string();
        tracing::error!(dir = %self.dir.display(), error = %msg, "WAL failure: the tree is poisoned for writes");
        *self.poisoned.lock() = Some(msg);
        self.failed.store(true, Ordering::Release);
        self.stall_cv.notify_all();
        {
            let _p = self.publish.lock();
            self.publish_cv.notify_all();
        }
        Error::Wal(e)
    }

    pub(crate) fn set_bg_error(&self, job: &'static str, e: &Error) {
        tracing::error!(dir = %self.dir.display(), job, error = %e, "background job failed");
        let mut st = self.stall.lock();
        if st.bg_error.is_none() {
            st.bg_error = Some((job, e.to_string()));
        }
        self.failed.store(true, Ordering::Release);
        drop(st);
        self.stall_cv.notify_all();
    }

    /// Wakes writers waiting for background progress.
    pub(crate) fn wake_writers(&self) {
        let _g = self.stall.lock();
        self.stall_cv.notify_all();
    }

    /// Waits (bounded) for a flush or compaction to make progress.
    fn wait_for_background(&self) {
        let mut st = self.stall.lock();
        if st.bg_error.is_none() && !self.closed.load(Ordering::Acquire) {
            self.stall_cv.wait_for(&mut st, Duration::from_millis(20));
        }
    }

    /// Applies the L0 slowdown and stop triggers (RocksDB's write controller).
    /// Returns whether the writer was delayed or stopped.
    fn throttle_l0(
        &self,
        slowed: &mut bool,
        stopped: &mut bool,
        since: &mut Option<Instant>,
    ) -> Result<()> {
        loop {
            self.check_writable()?;
            let l0 = self.sv.read().version.levels[0].len();
            if l0 >= self.opts.l0_stop_writes_trigger {
                if !*stopped {
                    since.get_or_insert_with(Instant::now);
                    *stopped = true;
                    Counters::add(&self.counters.stops, 1);
                    tracing::debug!(l0, "write stall: L0 stop trigger");
                }
                self.maybe_schedule_compaction();
                self.wait_for_background();
                continue;
            }
            if l0 >= self.opts.l0_slowdown_writes_trigger && !*slowed {
                since.get_or_insert_with(Instant::now);
                *slowed = true;
                Counters::add(&self.counters.slowdowns, 1);
                self.maybe_schedule_compaction();
                std::thread::sleep(self.opts.slowdown_delay);
            }
            return Ok(());
        }
    }

    pub(crate) fn write_begin(
        &self,
        mut batch: WriteBatch,
        durability: Durability,
    ) -> Result<PendingWrite> {
        self.check_writable()?;
        if batch.is_empty() {
            let seq = self.visible_seq.load(Ordering::Acquire);
            return Ok(PendingWrite::empty(seq, durability));
        }
        batch.validate().map_err(Error::InvalidArgument)?;
        let (mut slowed, mut stopped) = (false, false);
        // When the write first had to wait for a flush or a compaction (no clock
        // read on the common path).
        let mut stalled_since = None;
        let user_bytes = batch.approximate_size() as u64;
        let (first, last, sealed) = loop {
            self.throttle_l0(&mut slowed, &mut stopped, &mut stalled_since)?;
            let mut w = self.writer.lock();
            let mut sealed = false;
            if w.active.approximate_size() >= self.opts.memtable_size {
                let imms = self.sv.read().imms.len();
                if imms + 1 < self.opts.max_write_buffer_number {
                    self.switch_memtable(&mut w)?;
                    sealed = true;
                } else {
                    drop(w);
                    if !stopped {
                        stalled_since.get_or_insert_with(Instant::now);
                        stopped = true;
                        Counters::add(&self.counters.stops, 1);
                        tracing::debug!("write stall: too many immutable memtables");
                    }
                    self.schedule_flush();
                    self.wait_for_background();
                    continue;
                }
            }
            // Re-check under the write lock. `close` marks the tree closed before it
            // takes this lock to seal the memtable it flushes: a writer that gets the
            // lock after that would add to a memtable nobody flushes.
            self.check_open()?;
            // A WAL failure poisons the tree.
            if self.failed.load(Ordering::Acquire)
                && let Some(p) = self.poisoned.lock().as_ref()
            {
                return Err(Error::Poisoned(p.clone()));
            }
            let first = w.next_seq;
            // Only puts and deletes consume sequence numbers; log data does not.
            let count = batch.write_count() as u64;
            let rec = batch.seal(first);
            // The record is appended under the write lock (so WAL order is
            // sequence order). A `Sync` commit only queues it there and syncs
            // in `write_finish`, outside the lock: the WAL's leader writes and
            // fsyncs everything queued meanwhile in one go (group commit).
            let appended = match durability {
                Durability::Sync => self.wal.queue_batch(&[rec]),
                d => self.wal.append(rec, d),
            };
            appended.map_err(|e| self.poison(e))?;
            Counters::add(&self.counters.wal_bytes, rec.len() as u64);
            let mem = &w.active;
            let mut seq = first;
            for op in batch.ops() {
                // Log data goes to the WAL only (see `WriteBatch::log_data`).
                if let BatchOp::Write(kind, k, v) =
                    op.map_err(|e| Error::InvalidArgument(e.to_string()))?
                {
                    mem.insert(k, seq, kind, v);
                    seq += 1;
                }
            }
            if count == 0 {
                // Log data only: nothing becomes visible, no sequence number
                // is used; the record is ordered in the WAL like any other.
                break (first, first - 1, sealed);
            }
            w.next_seq = first + count;
            let last = first + count - 1;
            self.written_seq.store(last, Ordering::Release);
            if durability == Durability::Sync {
                self.publish.lock().inflight.insert(first);
            } else {
                self.published(None, last);
            }
            break (first, last, sealed);
        };
        Ok(PendingWrite {
            first,
            last,
            sealed,
            durability,
            stalled_since,
            user_bytes,
        })
    }

    pub(crate) fn write_finish(&self, p: PendingWrite) -> Result<SeqNo> {
        let PendingWrite {
            first,
            last,
            sealed,
            durability,
            stalled_since,
            user_bytes,
        } = p;
        if user_bytes == 0 {
            // An empty batch.
            return Ok(last);
        }
        let writes = last >= first;
        if durability == Durability::Sync {
            // On failure the commit stays in flight: nothing at or after it
            // becomes visible (the tree is poisoned; reopen to recover).
            self.wal.sync().map_err(|e| self.poison(e))?;
            if writes {
                self.published(Some(first), last);
            }
        }
        // An earlier commit may still wait for its fsync: return only once
        // this one is visible, so the caller reads its own write.
        if writes {
            self.wait_visible(last)?;
        }
        // The append or sync above may have made more of the log durable
        // (also other writers' records, in a group commit).
        self.notify_durable();
        Counters::add(&self.counters.user_bytes, user_bytes);
        if let Some(since) = stalled_since {
            Counters::add(
                &self.counters.stall_micros,
                since.elapsed().as_micros() as u64,
            );
        }
        if sealed {
            self.schedule_flush();
        }
        let wbm = self.shared.write_buffer_manager();
        if wbm.should_flush() {
            wbm.flush_largest();
        }
        Ok(last)
    }

    /// Records a finished commit and advances the visible sequence number
    /// up to (not past) the oldest commit still waiting for its fsync, so a
    /// reader never sees a `Sync` write before it is durable, nor a later
    /// write before an earlier one.
    fn published(&self, inflight_first: Option<SeqNo>, last: SeqNo) {
        let mut p = self.publish.lock();
        if let Some(f) = inflight_first {
            p.inflight.remove(&f);
        }
        p.done = p.done.max(last);
        let visible = match p.inflight.first() {
            Some(&f) => p.done.min(f - 1),
            None => p.done,
        };
        // Wake the waiters only when visibility moved: a commit that finishes
        // while an earlier one is still in flight changes nothing they wait for
        // (with 8 writers in one group, waking them at every publish cost more
        // context switches than the fsync they shared).
        let before = self.visible_seq.fetch_max(visible, Ordering::AcqRel);
        if visible > before {
            self.publish_cv.notify_all();
        }
    }

    /// Waits until `visible_seq >= last`. Fails when the tree is poisoned
    /// meanwhile: an earlier commit then never becomes visible, nor this one.
    fn wait_visible(&self, last: SeqNo) -> Result<()> {
        if self.visible_seq.load(Ordering::Acquire) >= last {
            return Ok(());
        }
        let mut p = self.publish.lock();
        while self.visible_seq.load(Ordering::Acquire) < last {
            if let Some(msg) = self.poisoned.lock().as_ref() {
                return Err(Error::Poisoned(msg.clone()));
            }
            self.publish_cv.wait_for(&mut p, Duration::from_millis(50));
        }
        Ok(())
    }

    /// Makes the active memtable immutable and starts a fresh one, and a
    /// new WAL segment with it, so that the segment holding the sealed
    /// memtable's records can be deleted as soon as it is flushed (unless
    /// the retention floor keeps it). Caller holds the write lock. A failed
    /// rotation poisons the tree and leaves the memtable active.
    pub(crate) fn switch_memtable(&self, w: &mut WriterState) -> Result<()> {
        self.wal.rotate().map_err(|e| self.poison(e))?;
        let id = self.next_mem_id.fetch_add(1, Ordering::Relaxed);
        let fresh = Arc::new(Memtable::new(
            id,
            self.opts.memtable_size,
            Some(Arc::clone(self.shared.write_buffer_manager())),
        ));
        let old = std::mem::replace(&mut w.active, Arc::clone(&fresh));
        old.seal(self.wal.next_lsn());
        let mut sv = self.sv.write();
        let mut imms = Vec::with_capacity(sv.imms.len() + 1);
        imms.push(old);
        imms.extend(sv.imms.iter().cloned());
        *sv = Arc::new(SuperVersion {
            mem: fresh,
            imms,
            version: Arc::clone(&sv.version),
        });
        Ok(())
    }

    pub(crate) fn get_in(
        &self,
        sv: &SuperVersion,
        key: &[u8],
        seq: SeqNo,
    ) -> Result<Option<Vec<u8>>> {
        let mut seek = Vec::with_capacity(ikey::escaped_len(key) + ikey::TRAILER_LEN);
        ikey::seek_key_into(key, seq, &mut seek);
        let escaped = ikey::escaped_part(&seek);
        let found = |l: Lookup| match l {
            Lookup::Found(v) => Some(Some(v)),
            Lookup::Deleted => Some(None),
            Lookup::Absent => None,
        };
        if let Some(r) = found(sv.mem.get(&seek, escaped)) {
            return Ok(r);
        }
        for m in &sv.imms {
            if let Some(r) = found(m.get(&seek, escaped)) {
                return Ok(r);
            }
        }
        for t in &sv.version.levels[0] {
            if t.meta.smallest_user() <= escaped
                && escaped <= t.meta.largest_user()
                && let Some(r) = found(table_get(t, &seek, escaped)?)
            {
                return Ok(r);
            }
        }
        for level in 1..NUM_LEVELS {
            if let Some(t) = sv.version.find_in_level(level, escaped)
                && let Some(r) = found(table_get(t, &seek, escaped)?)
            {
                return Ok(r);
            }
        }
        Ok(None)
    }

    pub(crate) fn stats(&self) -> TreeStats {
        let c = &self.counters;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let sv = self.current_sv();
        let wal = self.wal.stats();
        let mut s = TreeStats {
            user_bytes_written: l(&c.user_bytes),
            wal_bytes_written: l(&c.wal_bytes),
            flush_bytes_written: l(&c.flush_bytes),
            compaction_bytes_written: l(&c.compaction_bytes),
            compaction_bytes_read: l(&c.compaction_read_bytes),
            flushes: l(&c.flushes),
            compactions: l(&c.compactions),
            trivial_moves: l(&c.trivial_moves),
            max_compaction_output_level: l(&c.max_output_level),
            live_sst_bytes: sv.version.total_bytes(),
            total_sst_bytes: l(&c.sst_bytes_on_disk),
            slowdown_writes: l(&c.slowdowns),
            stopped_writes: l(&c.stops),
            stall_micros: l(&c.stall_micros),
            block_cache_hits: self.shared.cache().hits(),
            block_cache_misses: self.shared.cache().misses(),
            memtable_bytes: (sv.mem.approximate_size()
                + sv.imms.iter().map(|m| m.approximate_size()).sum::<usize>())
                as u64,
            immutable_memtables: sv.imms.len() as u64,
            last_seq: self.visible_seq.load(Ordering::Acquire),
            live_snapshots: self.snapshots.count() as u64,
            wal_syncs: wal.syncs,
            wal_segments_created: wal.segments_created,
            wal_segments_recycled: wal.segments_recycled,
            ..TreeStats::default()
        };
        for lvl in 0..NUM_LEVELS {
            s.files_per_level[lvl] = sv.version.levels[lvl].len() as u64;
            s.bytes_per_level[lvl] = sv.version.level_bytes(lvl);
        }
        s
    }

    pub(crate) fn schedule_flush(&self) {
        if self.flush_scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        submit(self, Priority::High, |t| {
            t.flush_scheduled.store(false, Ordering::Release);
            t.background_flush();
        });
    }

    pub(crate) fn maybe_schedule_compaction(&self) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        if self.stall.lock().bg_error.is_some() {
            return;
        }
        let needed = {
            let sv = self.sv.read();
            let vs_ptrs = self
                .versions
                .try_lock()
                .map(|vs| vs.state.compact_pointers.clone());
            let ptrs = vs_ptrs.unwrap_or_default();
            super::compaction::pick(&sv.version, &self.opts, &ptrs).is_some()
        };
        if !needed || self.compaction_scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        submit(self, Priority::Low, |t| {
            t.compaction_scheduled.store(false, Ordering::Release);
            t.background_compaction();
        });
    }

    fn background_flush(&self) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        let flushed = self.flush_imms();
        // A flush syncs the WAL first.
        self.notify_durable();
        if let Err(e) = flushed {
            self.set_bg_error("flush", &e);
            return;
        }
        self.maybe_schedule_compaction();
    }

    fn background_compaction(&self) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        let ran = match self.compact_once() {
            Ok(ran) => ran,
            Err(Error::Closed) => return,
            Err(e) => {
                self.set_bg_error("compaction", &e);
                return;
            }
        };
        if ran {
            self.maybe_schedule_compaction();
        }
    }

    /// Seals the active memtable if it holds anything and flushes all
    /// immutable memtables in the calling thread.
    pub(crate) fn flush_all(&self) -> Result<()> {
        {
            let mut w = self.writer.lock();
            if !w.active.is_empty() {
                self.switch_memtable(&mut w)?;
            }
        }
        let flushed = self.flush_imms();
        // A flush syncs the WAL first.
        self.notify_durable();
        flushed?;
        self.maybe_schedule_compaction();
        Ok(())
    }

    /// Stops background jobs of this tree and waits for running ones.
    pub(crate) fn shutdown_background(&self) {
        self.closed.store(true, Ordering::Release);
        self.wake_writers();
        self.jobs.shutdown();
    }

    pub(crate) fn close(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Ok(());
        }
        // Wait for running jobs, then flush here: nothing is left to replay.
        self.shutdown_background();
        let flushed = if self.poisoned.lock().is_none() && self.stall.lock().bg_error.is_none() {
            let mut w = self.writer.lock();
            let switched = if w.active.is_empty() {
                Ok(())
            } else {
                self.switch_memtable(&mut w)
            };
            drop(w);
            switched.and_then(|()| self.flush_imms())
        } else {
            Ok(())
        };
        let closed = self.wal.close().map_err(Error::from);
        self.notify_durable();
        self.release_dir_lock();
        flushed.and(closed)
    }

    /// Releases the directory lock once nothing of this instance can write any
    /// more. Call after [`shutdown_background`](Self::shutdown_background) and
    /// the WAL's close.
    fn release_dir_lock(&self) {
        // A `compact_range` or `flush` running on another clone's thread sees
        // `closed` and stops; wait for it, so that nothing of this instance
        // touches the manifest or table files once the lock is released.
        let compaction_done = self.compaction_lock.lock();
        let flush_done = self.flush_lock.lock();
        // Let the directory be opened again, even while stale handles of this
        // one (iterators, snapshots, a background job's last reference) are
        // alive.
        drop(self.dir_lock.lock().take());
        drop((flush_done, compaction_done));
    }

    /// Applies `edit` durably (manifest append or rewrite) and installs the
    /// resulting version; `added` are the opened handles of `edit.added`.
    /// `flushed_mem` is removed from the immutable list in the same step.
    pub(crate) fn log_and_apply(
        &self,
        vs: &mut VersionSet,
        mut edit: VersionEdit,
        added: &[Arc<TableHandle>],
        flushed_mem: Option<u64>,
    ) -> Result<()> {
        edit.next_file_number = Some(self.next_file.load(Ordering::Acquire));
        edit.last_seq = Some(self.visible_seq.load(Ordering::Acquire));
        let mut new_state = vs.state.clone();
        new_state.apply(&edit);
        let rewrite = vs
            .manifest
            .as_ref()
            .is_none_or(|m| m.size() > MANIFEST_REWRITE_BYTES);
        if rewrite {
            let number = self.next_file.fetch_add(1, Ordering::AcqRel);
            new_state.next_file_number = self.next_file.load(Ordering::Acquire);
            let w = ManifestWriter::create(&self.fs, &self.dir, number, &new_state)?;
            if let Some(old) = vs.manifest.replace(w) {
                let p = self.dir.join(super::manifest::manifest_name(old.number()));
                if let Err(e) = self.fs.remove_file(&p) {
                    tracing::warn!(path = %p.display(), error = %e, "could not delete the old manifest");
                }
            }
        } else if let Some(m) = vs.manifest.as_mut()
            && let Err(e) = m.append(&edit)
        {
            // The manifest's tail is unknown now: the next edit rewrites it.
            vs.manifest = None;
            return Err(e);
        }
        vs.state = new_state;
        let mut sv = self.sv.write();
        let old_version = Arc::clone(&sv.version);
        let version = Arc::new(old_version.apply(&edit, added));
        let imms = match flushed_mem {
            Some(id) => sv.imms.iter().filter(|m| m.id() != id).cloned().collect(),
            None => sv.imms.clone(),
        };
        *sv = Arc::new(SuperVersion {
            mem: Arc::clone(&sv.mem),
            imms,
            version,
        });
        drop(sv);
        let readded: Vec<u64> = edit.added.iter().map(|(_, m)| m.number).collect();
        for &(level, number) in &edit.deleted {
            if readded.contains(&number) {
                continue;
            }
            if let Some(t) = old_version.levels[level as usize]
                .iter()
                .find(|t| t.meta.number == number)
            {
                t.mark_obsolete();
            }
        }
        Ok(())
    }

    /// The smallest sequence number a reader may still read at.
    pub(crate) fn smallest_snapshot(&self) -> SeqNo {
        self.snapshots
            .smallest(|| self.visible_seq.load(Ordering::Acquire))
    }
}

/// Point lookup in one table with the filter check first.
fn table_get(t: &Arc<TableHandle>, seek: &[u8], escaped: &[u8]) -> Result<Lookup> {
    if !t.table.may_contain(escaped) {
        return Ok(Lookup::Absent);
    }
    let mut it = t.table.iter();
    it.seek(seek)?;
    if !it.valid() {
        return Ok(Lookup::Absent);
    }
    match ikey::parse(it.key()) {
        Some(p) if p.escaped == escaped => Ok(match p.kind {
            ikey::ValueKind::Put => Lookup::Found(it.value().to_vec()),
            ikey::ValueKind::Delete => Lookup::Deleted,
        }),
        Some(_) => Ok(Lookup::Absent),
        None => Err(Error::Corruption {
            path: t.table.path().to_path_buf(),
            offset: 0,
            reason: "malformed internal key in table".into(),
        }),
    }
}

impl BufferOwner for TreeInner {
    fn active_bytes(&self) -> usize {
        self.sv.read().mem.approximate_size()
    }

    fn request_flush(&self) {
        if self.closed.load(Ordering::Acquire) || self.switch_requested.swap(true, Ordering::AcqRel)
        {
            return;
        }
        submit(self, Priority::High, |t| {
            {
                let mut w = t.writer.lock();
                let imms = t.sv.read().imms.len();
                if !w.active.is_empty()
                    && imms + 1 < t.opts.max_write_buffer_number
                    && let Err(e) = t.switch_memtable(&mut w)
                {
                    tracing::warn!(dir = %t.dir.display(), error = %e, "sealing a memtable failed");
                }
            }
            t.switch_requested.store(false, Ordering::Release);
            t.schedule_flush();
        });
    }
}
