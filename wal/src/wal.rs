//! The log itself: appends with group commit, syncing, rotation, truncation.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, MutexGuard};
use strata_fs::{FileLock, FileSystem, WritableFile};

use crate::format::{
    FLAG_PREDECESSOR_UNSYNCED, SEGMENT_HEADER_SIZE, end_marker_len, frame_record, segment_tag,
};
use crate::iter::{WalIter, WalPosition};
use crate::recovery::{RecoveryReport, apply, plan};
use crate::segment::{
    NewSegment, SegmentMeta, SegmentSpec, create_segment, create_spare, spare_name,
};
use crate::syncer::{BackgroundSync, WalSyncer};
use crate::{Durability, Lsn, WalError, WalOptions};

/// Cuts a spare to `preallocate` bytes (when longer and `preallocate` is
/// not 0), so that spares take bounded space (a retired segment may be as
/// large as a memtable's records), and zeroes its header, synced: a rotation
/// that reuses it writes the new header without syncing (see [`Deferred`]),
/// and a power loss that tears that write leaves a prefix of the new header
/// followed by zeros, which recovery recognises (`docs/wal-format.md`).
fn blank_spare(fs: &dyn FileSystem, spare: &Path, preallocate: u64) -> std::io::Result<()> {
    if preallocate > 0 && fs.file_size(spare)? > preallocate {
        fs.truncate(spare, preallocate)?;
    }
    let mut f = fs.open_overwrite(spare)?;
    f.write_at(0, &[0u8; SEGMENT_HEADER_SIZE])?;
    f.sync()
}

/// How much a segment whose preallocated end is `alloc_end` grows by when the
/// records reach that end: `preallocate` while the segment is small, then a
/// quarter of its size, up to [`MAX_GROWTH_CHUNKS`] times `preallocate` (a
/// multiple of it).
///
/// Growing is a write of zeros by the appender that needs the room, and on
/// ext4 it waits for the file's block-map lock whenever the background sync is
/// writing the file back. A busy segment (a memtable's worth of records) grows
/// four times less often with 1 MiB chunks than with 256 KiB ones. Measured
/// on 1M buffered puts (2 cores, ext4, 3 runs each): p99.9 37–43 µs and worst
/// writes up to 5.8 ms with 256 KiB chunks; 21–28 µs and 0.45–1.4 ms with
/// 1 MiB; 18–27 µs and 0.9–2.7 ms with 4 MiB (each growth itself longer).
/// Small and idle logs keep small chunks, so that a database of many trees
/// does not hold megabytes of zeros per log.
///
/// Measured and dropped: growing the segment ahead of the appenders on the
/// background syncer (after each sync, by twice what was written since the
/// last, up to 16 MiB, through a second descriptor; the range claimed so no
/// record landed in it). With zeros written, the appender queued on the
/// inode's lock behind the syncer's writes, 2–4 ms whenever the syncer was
/// preempted inside one (worst of 1M buffered puts 4.6–7.5 ms, against
/// 0.5–1.2 ms without); with `fallocate`, the writeback of the unwritten
/// extents held pages the appender wrote into locked (worst writes in 6 runs
/// 0.5–4.4 ms, four over 2.8 ms; without, 0.5–4.1 ms, one over 1.2 ms).
/// 0 when `preallocate` is 0 (no preallocation).
pub(crate) fn growth_chunk(preallocate: u64, alloc_end: u64) -> u64 {
    let quarter = (alloc_end / 4).checked_div(preallocate).unwrap_or(0) * preallocate;
    quarter.clamp(preallocate, preallocate.saturating_mul(MAX_GROWTH_CHUNKS))
}

/// The largest growth of a segment, in `preallocate` chunks: see
/// [`growth_chunk`].
pub(crate) const MAX_GROWTH_CHUNKS: u64 = 4;

/// What [`Inner::write_out`] did.
struct Written {
    /// The active segment's checksum seed afterwards.
    seed: u32,
    /// Every record written (the batch's end) is fsynced now.
    synced: bool,
}

/// Told by the background syncer, after each sync it made, the new
/// [`Wal::synced_lsn`]; see [`Wal::set_sync_listener`].
pub type SyncListener = Arc<dyn Fn(Lsn) + Send + Sync>;

/// The name of the lock file that keeps two processes from opening one log.
pub const LOCK_FILE_NAME: &str = "wal.lock";

/// Counters of what the log has done since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WalStats {
    /// Records appended.
    pub records: u64,
    /// Payload bytes appended.
    pub bytes: u64,
    /// Bytes written to segment files (framing, padding and segment headers included).
    pub bytes_written: u64,
    /// Write calls that handed buffered records to the OS (one per group-commit batch).
    pub batches: u64,
    /// File fsyncs of segments (group commits, background syncs, rotations, creations).
    pub syncs: u64,
    /// Directory fsyncs.
    pub dir_syncs: u64,
    /// Segments created (including the first one of a new log), recycled
    /// ones included.
    pub segments_created: u64,
    /// Segments created by reusing a retired segment's file.
    pub segments_recycled: u64,
    /// Group commits whose leader waited for announced writers
    /// ([`Wal::intend`]) before syncing.
    pub gathers: u64,
    /// Of those, the waits that ended at their time bound with a writer still
    /// expected.
    pub gather_timeouts: u64,
}

#[derive(Debug, Default)]
struct Counters {
    records: AtomicU64,
    bytes: AtomicU64,
    bytes_written: AtomicU64,
    batches: AtomicU64,
    syncs: AtomicU64,
    dir_syncs: AtomicU64,
    segments_created: AtomicU64,
    segments_recycled: AtomicU64,
    gathers: AtomicU64,
    gather_timeouts: AtomicU64,
}

fn bump(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

/// The segment being written. Only the current leader touches it.
#[derive(Debug)]
struct Active {
    file: Box<dyn WritableFile>,
    path: PathBuf,
    number: u64,
    /// Where the next batch is written: the end of the records written so
    /// far (the end marker follows).
    write_pos: u64,
    /// The file's length (preallocated or recycled bytes included).
    alloc_end: u64,
    /// The fsyncs this segment's rotation put off (see [`Deferred`]).
    deferred: Option<Deferred>,
}

/// What a rotation into a recycled file left unsynced, so that writers did
/// not wait for it: the segment it left, when that held unsynced records,
/// and the new segment's header and name. The next sync of the active
/// segment syncs these first (the old segment, then the directory), so a
/// record is never reported synced while a power loss could still tear the
/// records before it. Until then the new segment's header carries
/// `FLAG_PREDECESSOR_UNSYNCED`, which lets recovery take a torn tail in the
/// old segment for what it is (`docs/wal-format.md`).
#[derive(Debug)]
struct Deferred {
    old: Option<(Box<dyn WritableFile>, PathBuf)>,
}

impl Active {
    fn new(seg: NewSegment, number: u64, write_pos: u64) -> Active {
        let alloc_end = seg.file.len();
        Active {
            file: seg.file,
            path: seg.path,
            number,
            write_pos,
            alloc_end,
            deferred: None,
        }
    }
}

/// State shared by appenders, guarded by `Inner::state`.
struct State {
    /// Framed records not yet handed to the OS, in LSN order.
    pending: Vec<u8>,
    /// An empty buffer to swap with `pending` (double buffering, no allocation).
    spare: Vec<u8>,
    /// The LSN the next record gets.
    next_lsn: Lsn,
    /// Every record with a smaller LSN has been written to the OS.
    written_lsn: Lsn,
    /// Every record with a smaller LSN has been fsynced.
    synced_lsn: Lsn,
    /// The largest end LSN a waiting `Sync` appender needs synced.
    sync_wanted: Lsn,
    /// Logical length of the active segment, pending bytes included.
    seg_offset: u64,
    /// The first LSN of the active segment.
    seg_first_lsn: Lsn,
    /// The active segment's checksum seed (its tag).
    seg_seed: u32,
    /// True while a leader writes outside the lock (or gathers).
    leader: bool,
    /// Writers that announced a commit ([`Wal::intend`]) and have not yet
    /// appended (or given up).
    intents: usize,
    /// True while a leader waits for announced writers: an intent that ends
    /// or an append then wakes it.
    gathering: bool,
    /// Threads inside a wait for a sync ([`Goal::Synced`]), the leader included.
    sync_waiters: usize,
    /// Appends (commits) since a leader last took the pending records.
    commits_pending: usize,
    /// How many threads waited for the last completed sync, the leader
    /// included: the commits the next group may expect, as those writers come
    /// back with their next commit (see [`Inner::gather`]).
    expected_group: usize,
    /// [`Wal::rotate`] asked for a new segment before the next record.
    rotate_requested: bool,
    /// Set by the first failed write or sync; never cleared.
    poison: Option<String>,
    closed: bool,
}

/// What a caller of [`Inner::drive`] waits for.
#[derive(Debug, Clone, Copy)]
enum Goal {
    /// Records before this LSN are written to the OS.
    Written(Lsn),
    /// Records before this LSN are fsynced.
    Synced(Lsn),
    /// The active segment is small enough to take more records.
    Rotate,
}

struct Inner {
    dir: PathBuf,
    fs: Arc<dyn FileSystem>,
    segment_size: u64,
    write_buffer_size: usize,
    max_record_size: usize,
    sync_interval: Duration,
    state: Mutex<State>,
    cond: Condvar,
    /// Wakes a gathering leader (see [`Inner::gather`]) when a commit arrives or
    /// an intent ends: a condition variable of its own, so those wake-ups do not
    /// also wake every writer waiting for the sync.
    gather_cond: Condvar,
    active: Mutex<Active>,
    segments: Mutex<Vec<SegmentMeta>>,
    /// Retired segment files kept for reuse: `(old number, path)`.
    spares: Mutex<Vec<(u64, PathBuf)>>,
    preallocate: u64,
    recycle_segments: usize,
    stats: Counters,
    sync_listener: Mutex<Option<SyncListener>>,
    /// [`WalOptions::group_commit_wait`].
    group_commit_wait: Duration,
    /// Moving average of the time an fsync of a segment takes, in nanoseconds
    /// (0 until the first one): bounds how long a leader gathers.
    sync_nanos: AtomicU64,
    /// Preparing a spare failed since the last rotation (see `prepare_spare`).
    spare_failed: AtomicBool,
}

/// A segmented, checksummed write-ahead log with group commit.
///
/// Records are byte strings; each gets a [`Lsn`] (1 for the first record of
/// a new log, then consecutive). `Wal` is `Send + Sync`: share it with an
/// `Arc` and append from many threads; concurrent [`Durability::Sync`]
/// appends share one fsync. The format is specified in `docs/wal-format.md`.
///
/// ```
/// use std::sync::Arc;
/// use strata_wal::{Durability, Wal, WalOptions};
///
/// let dir = tempfile::tempdir().unwrap();
/// let (wal, report) = Wal::open(dir.path(), WalOptions::default()).unwrap();
/// assert_eq!(report.records, 0);
/// let a = wal.append(b"first", Durability::Sync).unwrap();
/// let b = wal.append_batch(&[b"second", b"third"], Durability::Buffered).unwrap();
/// assert_eq!((a, b), (1, 2));
/// wal.sync().unwrap();
/// wal.close().unwrap();
/// drop(wal);
///
/// // Reopen: recovery finds all three records and LSNs continue.
/// let (wal, report) = Wal::open(dir.path(), WalOptions::default()).unwrap();
/// assert_eq!(report.last_lsn, Some(3));
/// let records: Vec<(u64, Vec<u8>)> =
///     wal.iter_from(2).unwrap().collect::<Result<_, _>>().unwrap();
/// assert_eq!(records, vec![(2, b"second".to_vec()), (3, b"third".to_vec())]);
/// assert_eq!(wal.next_lsn(), 4);
/// ```
#[derive(Debug)]
pub struct Wal {
    inner: Arc<Inner>,
    /// Syncs this log in the background once it has non-`Sync` appends:
    /// the one from [`WalOptions::syncer`], or the log's own.
    syncer: Arc<WalSyncer>,
    /// Set once this log registered with `syncer`.
    registered: AtomicBool,
    /// Released by `close`, so the log can be reopened while this handle lives.
    dir_lock: Mutex<Option<Box<dyn FileLock>>>,
}

/// A writer's announcement that it will soon append to a [`Wal`] and wait
/// for a sync; see [`Wal::intend`]. Dropping it withdraws the announcement.
#[must_use = "an intent is withdrawn when dropped: keep it until the records are appended"]
pub struct CommitIntent {
    inner: Arc<Inner>,
}

impl Drop for CommitIntent {
    fn drop(&mut self) {
        let mut st = self.inner.state.lock();
        st.intents = st.intents.saturating_sub(1);
        if st.gathering {
            self.inner.gather_cond.notify_one();
        }
    }
}

impl std::fmt::Debug for CommitIntent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CommitIntent")
    }
}

/// Creates `dir` if needed and makes every new directory level durable.
fn create_dir_durably(fs: &dyn FileSystem, dir: &Path) -> Result<(), WalError> {
    if fs.is_dir(dir) {
        return Ok(());
    }
    let mut missing = Vec::new();
    let mut cur = Some(dir);
    while let Some(d) = cur {
        if d.as_os_str().is_empty() || fs.exists(d) {
            break;
        }
        missing.push(d.to_path_buf());
        cur = d.parent();
    }
    fs.create_dir_all(dir).map_err(|e| WalError::io(dir, e))?;
    // Sync each new directory's parent, outermost first.
    for d in missing.iter().rev() {
        let parent = d
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| Path::new("."));
        fs.sync_dir(parent).map_err(|e| WalError::io(parent, e))?;
    }
    Ok(())
}

impl Wal {
    /// Opens the log in `dir` (creating the directory if needed) and recovers
    /// it: every segment is scanned and checked, damage is handled per
    /// [`WalOptions::recovery_mode`], and the report says what was dropped.
    /// Appends go to the end of the last good segment, or to a new segment
    /// when there is none (or when salvage skipped damage in the last one).
    pub fn open(dir: &Path, opts: WalOptions) -> Result<(Wal, RecoveryReport), WalError> {
        Self::open_checked(dir, opts, |_| Ok(()))
    }

    /// Like [`Wal::open`], but first shows `check` the [`RecoveryReport`]
    /// recovery *would* produce, before anything on disk is changed (no torn
    /// tail cut, no segment deleted). If `check` returns an error, the log is
    /// left exactly as it was and the error is returned. A caller uses it to
    /// refuse recovery that would lose data it cannot afford to lose, or to
    /// check that the log still covers the positions it needs.
    ///
    /// ```
    /// use strata_wal::{Durability, Wal, WalError, WalOptions};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let (wal, _) = Wal::open(dir.path(), WalOptions::default()).unwrap();
    /// wal.append(b"x", Durability::Sync).unwrap();
    /// wal.close().unwrap();
    /// drop(wal);
    /// // Refuse to open unless the log still holds LSN 1.
    /// let (wal, report) = Wal::open_checked(dir.path(), WalOptions::default(), |r| {
    ///     if r.start_lsn > 1 {
    ///         return Err(WalError::InvalidOptions("LSN 1 is gone".into()));
    ///     }
    ///     Ok(())
    /// })
    /// .unwrap();
    /// assert_eq!((report.start_lsn, report.next_lsn), (1, 2));
    /// # drop(wal);
    /// ```
    pub fn open_checked<E, F>(
        dir: &Path,
        opts: WalOptions,
        check: F,
    ) -> Result<(Wal, RecoveryReport), E>
    where
        E: From<WalError>,
        F: FnOnce(&RecoveryReport) -> Result<(), E>,
    {
        if opts.segment_size == 0 {
            return Err(WalError::InvalidOptions("segment_size must be > 0".into()).into());
        }
        if opts.max_record_size > u32::MAX as usize {
            return Err(
                WalError::InvalidOptions("max_record_size must be at most 4 GiB".into()).into(),
            );
        }
        let fs = Arc::clone(&opts.fs);
        create_dir_durably(&*fs, dir)?;
        let lock_path = dir.join(LOCK_FILE_NAME);
        let lock = fs
            .lock(&lock_path)
            .map_err(|e| WalError::io(&lock_path, e))?;
        let plan = plan(&*fs, dir, opts.recovery_mode)?;
        check(&plan.recovered.report)?;
        let rec = apply(&*fs, dir, plan)?;
        let stats = Counters::default();
        let mut segments = rec.segments;
        let next_lsn = rec.next_lsn;
        // Recovered records count as synced (`synced_lsn` starts at
        // `next_lsn`), so make that true: after a process crash the last
        // segment's tail may still sit unsynced in the OS cache, and so may
        // the one before it if the last one's header says it was started
        // before that one was synced (earlier segments were synced before a
        // later rotation). A last segment started by a rotation into a spare
        // may also have its name unsynced: with more than one segment, the
        // directory is synced too.
        let unsynced = if rec.last_flagged { 2 } else { 1 };
        for seg in segments.iter().rev().take(unsynced) {
            let mut f = fs
                .open_append(&seg.path)
                .map_err(|e| WalError::io(&seg.path, e))?;
            f.sync().map_err(|e| WalError::io(&seg.path, e))?;
            bump(&stats.syncs, 1);
        }
        if segments.len() > 1 {
            fs.sync_dir(dir).map_err(|e| WalError::io(dir, e))?;
            bump(&stats.dir_syncs, 1);
        }
        // Spares beyond the configured number are deleted; the others get a
        // blank header before they are reused.
        let mut spares = rec.spares;
        let extra = spares.len().saturating_sub(opts.recycle_segments);
        for (_, path) in spares.drain(..extra) {
            fs.remove_file(&path).map_err(|e| WalError::io(&path, e))?;
        }

        // The spares' names made durable before one is rewritten (a rename
        // to a spare whose directory sync failed may still be undoable).
        if extra > 0 || !spares.is_empty() {
            fs.sync_dir(dir).map_err(|e| WalError::io(dir, e))?;
            bump(&stats.dir_syncs, 1);
        }
        for (_, path) in &spares {
            blank_spare(&*fs, path, opts.preallocate).map_err(|e| WalError::io(path, e))?;
            bump(&stats.syncs, 1);
        }
        let reuse_last = if rec.rotate { None } else { segments.last() };
        let (active, seg_offset, seg_first_lsn) = match reuse_last {
            Some(last) => {
                let file = fs
                    .open_overwrite(&last.path)
                    .map_err(|e| WalError::io(&last.path, e))?;
                let seg = NewSegment {
                    file,
                    path: last.path.clone(),
                    recycled: false,
                };
                (
                    Active::new(seg, last.number, rec.last_end),
                    rec.last_end,
                    last.first_lsn,
                )
            }
            None => {
                let spare = spares.pop();
                let seg = create_segment(
                    &*fs,
                    dir,
                    SegmentSpec {
                        number: rec.next_number,
                        first_lsn: next_lsn,
                        flags: 0,
                        preallocate: opts.preallocate,
                    },
                    spare.as_ref().map(|(_, p)| p.as_path()),
                    true,
                )?;
                bump(&stats.syncs, 1);
                bump(&stats.dir_syncs, 1);
                bump(&stats.segments_created, 1);
                bump(&stats.segments_recycled, u64::from(seg.recycled));
                bump(&stats.bytes_written, SEGMENT_HEADER_SIZE as u64);
                segments.push(SegmentMeta {
                    number: rec.next_number,
                    path: seg.path.clone(),
                    first_lsn: next_lsn,
                    skips: Vec::new(),
                });
                (
                    Active::new(seg, rec.next_number, SEGMENT_HEADER_SIZE as u64),
                    SEGMENT_HEADER_SIZE as u64,
                    next_lsn,
                )
            }
        };
        tracing::info!(
            dir = %dir.display(),
            records = rec.report.records,
            next_lsn,
            dropped = rec.report.dropped.len(),
            "WAL opened"
        );
        let inner = Inner {
            dir: dir.to_path_buf(),
            fs,
            segment_size: opts.segment_size,
            write_buffer_size: opts.write_buffer_size,
            max_record_size: opts.max_record_size,
            sync_interval: opts.buffered_sync_interval,
            state: Mutex::new(State {
                pending: Vec::with_capacity(64 * 1024),
                spare: Vec::with_capacity(64 * 1024),
                next_lsn,
                written_lsn: next_lsn,
                synced_lsn: next_lsn,
                sync_wanted: next_lsn,
                seg_offset,
                seg_first_lsn,
                seg_seed: segment_tag(active.number),
                leader: false,
                intents: 0,
                gathering: false,
                sync_waiters: 0,
                commits_pending: 0,
                expected_group: 1,
                rotate_requested: false,
                poison: None,
                closed: false,
            }),
            cond: Condvar::new(),
            gather_cond: Condvar::new(),
            active: Mutex::new(active),
            segments: Mutex::new(segments),
            spares: Mutex::new(spares),
            preallocate: opts.preallocate,
            recycle_segments: opts.recycle_segments,
            stats,
            sync_listener: Mutex::new(None),
            group_commit_wait: opts.group_commit_wait,
            sync_nanos: AtomicU64::new(0),
            spare_failed: AtomicBool::new(false),
        };
        let wal = Wal {
            inner: Arc::new(inner),
            syncer: opts.syncer.unwrap_or_default(),
            registered: AtomicBool::new(false),
            dir_lock: Mutex::new(Some(lock)),
        };
        Ok((wal, rec.report))
    }

    /// Appends one record and returns its LSN once it is as durable as
    /// `durability` promises.
    pub fn append(&self, record: &[u8], durability: Durability) -> Result<Lsn, WalError> {
        self.append_batch(&[record], durability)
    }

    /// Appends records contiguously, with consecutive LSNs, in one write;
    /// returns the LSN of the first. An empty batch writes nothing and returns
    /// [`Wal::next_lsn`]. If any record is too large, nothing is appended.
    pub fn append_batch(&self, records: &[&[u8]], durability: Durability) -> Result<Lsn, WalError> {
        if durability != Durability::Sync {
            self.ensure_flusher()?;
        }
        self.append_inner(records, durability)
    }

    /// Announces that the caller will soon append records and then wait for
    /// them to be synced (a `Sync` commit that first decides under a lock of
    /// its own). Until the returned intent is dropped, a group-commit leader
    /// about to fsync may wait a short, bounded moment for it
    /// ([`WalOptions::group_commit_wait`]), so that one fsync covers both
    /// commits. Drop the intent right after appending (or when giving up);
    /// never hold it while waiting for a sync, or the leader waits in vain
    /// for its bound. A log without announced writers never delays a sync.
    ///
    /// ```
    /// use strata_wal::{Wal, WalOptions};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let (wal, _) = Wal::open(dir.path(), WalOptions::default()).unwrap();
    /// let intent = wal.intend();
    /// // ... decide under the caller's own lock ...
    /// wal.queue_batch(&[b"record"]).unwrap();
    /// drop(intent);
    /// wal.sync().unwrap(); // may share its fsync with other announced writers
    /// ```
    pub fn intend(&self) -> CommitIntent {
        self.inner.state.lock().intents += 1;
        CommitIntent {
            inner: Arc::clone(&self.inner),
        }
    }

    /// Appends records to the in-memory buffer, like [`Durability::None`],
    /// for a caller that will make them durable itself with [`Wal::sync`]
    /// (for example after releasing a lock of its own, so that concurrent
    /// committers share one fsync). Unlike `None` appends, these never start
    /// background syncing: a log written only this way and with
    /// [`Durability::Sync`] runs no background thread. Returns the LSN of
    /// the first record.
    ///
    /// ```
    /// use strata_wal::{Wal, WalOptions};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let (wal, _) = Wal::open(dir.path(), WalOptions::default()).unwrap();
    /// let lsn = wal.queue_batch(&[b"a", b"b"]).unwrap();
    /// assert_eq!(wal.synced_lsn(), lsn); // not durable yet
    /// wal.sync().unwrap();
    /// assert_eq!(wal.synced_lsn(), lsn + 2);
    /// ```
    pub fn queue_batch(&self, records: &[&[u8]]) -> Result<Lsn, WalError> {
        self.append_inner(records, Durability::None)
    }

    /// Starts a new segment now, if the active one holds any record: the
    /// active segment's buffered records are written out, and the next
    /// record goes to a new segment. Returns whether a new segment was
    /// started. When a spare file is at hand (a retired segment, or one the
    /// background syncer prepared), nothing is fsynced here: the old
    /// segment's tail and the new segment's header are synced by the next
    /// sync (a `Sync` commit, [`Wal::sync`], the background syncer), so a
    /// rotation does not stall appenders for an fsync. Without a spare, the
    /// old segment is fsynced and the new file created durably first. A caller
    /// that knows everything appended so far will soon be obsolete (an LSM
    /// tree sealing its memtable) rotates so that [`Wal::truncate_before`]
    /// can delete the whole segment once it is (RocksDB starts a new log
    /// file per memtable the same way).
    ///
    /// ```
    /// use strata_wal::{Durability, Wal, WalOptions};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let (wal, _) = Wal::open(dir.path(), WalOptions::default()).unwrap();
    /// wal.append(b"a", Durability::Sync).unwrap();
    /// assert!(wal.rotate().unwrap());
    /// assert!(!wal.rotate().unwrap()); // the new segment is empty
    /// assert_eq!(wal.truncate_before(wal.next_lsn()).unwrap(), 1);
    /// assert_eq!(wal.segment_count(), 1);
    /// ```
    pub fn rotate(&self) -> Result<bool, WalError> {
        let inner = &*self.inner;
        let mut st = inner.state.lock();
        inner.check_usable(&st)?;
        if st.next_lsn == st.seg_first_lsn {
            return Ok(false);
        }
        st.rotate_requested = true;
        inner.drive(&mut st, Goal::Rotate)?;
        Ok(true)
    }

    fn append_inner(&self, records: &[&[u8]], durability: Durability) -> Result<Lsn, WalError> {
        let max = self.inner.max_record_size;
        let mut bytes = 0u64;
        for r in records {
            if r.len() > max {
                return Err(WalError::RecordTooLarge { size: r.len(), max });
            }
            bytes += r.len() as u64;
        }
        let inner = &*self.inner;
        let mut st = inner.state.lock();
        inner.check_usable(&st)?;
        if records.is_empty() {
            return Ok(st.next_lsn);
        }
        if inner.needs_rotation(&st) {
            inner.drive(&mut st, Goal::Rotate)?;
            inner.check_usable(&st)?;
        }
        let first = st.next_lsn;
        {
            let s = &mut *st;
            for r in records {
                frame_record(&mut s.pending, &mut s.seg_offset, r, Some(s.seg_seed));
            }
            s.next_lsn += records.len() as u64;
            s.commits_pending += 1;
            if s.gathering {
                inner.gather_cond.notify_one();
            }
        }
        let end = st.next_lsn;
        bump(&inner.stats.records, records.len() as u64);
        bump(&inner.stats.bytes, bytes);
        match durability {
            Durability::Sync => inner.drive(&mut st, Goal::Synced(end))?,
            Durability::Buffered => inner.drive(&mut st, Goal::Written(end))?,
            Durability::None => {
                if st.pending.len() >= inner.write_buffer_size {
                    inner.drive(&mut st, Goal::Written(end))?;
                }
            }
        }
        Ok(first)
    }

    /// Writes everything buffered and fsyncs the active segment.
    pub fn sync(&self) -> Result<(), WalError> {
        let inner = &*self.inner;
        let mut st = inner.state.lock();
        inner.check_usable(&st)?;
        let end = st.next_lsn;
        inner.drive(&mut st, Goal::Synced(end))
    }

    /// Writes out what is buffered and makes it durable without holding up
    /// appenders: the fsync runs through a second handle to the active segment
    /// (`WritableFile::sync_handle`) while other threads keep appending (and
    /// leading group commits), instead of as a leader whom every appender would
    /// wait for. For background syncs of `Buffered`/`None` appends, whose writers
    /// should never wait for an fsync. Returns [`Wal::synced_lsn`] afterwards.
    /// Falls back to [`Wal::sync`] where the file system has no sync handle.
    ///
    /// ```
    /// use strata_wal::{Durability, Wal, WalOptions};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let (wal, _) = Wal::open(dir.path(), WalOptions::default()).unwrap();
    /// let lsn = wal.append(b"buffered", Durability::None).unwrap();
    /// assert!(wal.sync_aside().unwrap() > lsn);
    /// ```
    pub fn sync_aside(&self) -> Result<Lsn, WalError> {
        self.inner.sync_aside_inner(true)
    }

    /// The LSN the next appended record will get.
    pub fn next_lsn(&self) -> Lsn {
        self.inner.state.lock().next_lsn
    }

    /// Every record with an LSN below this one is fsynced.
    pub fn synced_lsn(&self) -> Lsn {
        self.inner.state.lock().synced_lsn
    }

    /// The LSN of the oldest record still in the log (the first LSN of the
    /// oldest segment; equal to [`Wal::next_lsn`] when the log holds no
    /// record). Records below it were deleted by [`Wal::truncate_before`]
    /// (or never existed).
    pub fn first_lsn(&self) -> Lsn {
        let first = self.inner.segments.lock().first().map(|s| s.first_lsn);
        first.unwrap_or_else(|| self.next_lsn())
    }

    /// Registers `listener`, called by the background syncer ([`WalSyncer`]) after
    /// each of its successful syncs with the new [`Wal::synced_lsn`], with no
    /// lock of the log held. Syncs made by callers of [`Wal::append`],
    /// [`Wal::sync`] or [`Wal::close`] are not reported (those callers can
    /// read [`Wal::synced_lsn`] when they return). The listener must be
    /// quick: the next background sync waits for it. Replaces an earlier
    /// listener.
    pub fn set_sync_listener(&self, listener: SyncListener) {
        *self.inner.sync_listener.lock() = Some(listener);
    }

    /// The directory holding the segments.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Counters since open: records, bytes, write batches, fsyncs. With many
    /// concurrent `Sync` appenders `syncs / records` is well below 1.
    pub fn stats(&self) -> WalStats {
        let c = &self.inner.stats;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        WalStats {
            records: get(&c.records),
            bytes: get(&c.bytes),
            bytes_written: get(&c.bytes_written),
            batches: get(&c.batches),
            syncs: get(&c.syncs),
            dir_syncs: get(&c.dir_syncs),
            segments_created: get(&c.segments_created),
            segments_recycled: get(&c.segments_recycled),
            gathers: get(&c.gathers),
            gather_timeouts: get(&c.gather_timeouts),
        }
    }

    /// The number of segment files the log currently has.
    pub fn segment_count(&self) -> usize {
        self.inner.segments.lock().len()
    }

    /// Iterates the records with LSN `>= from` in order: every record recovered
    /// at open or appended before this call (records still in the in-memory
    /// buffer are first written to the OS). If `from` is below the first
    /// record still present (see [`Wal::truncate_before`]), iteration starts at
    /// that record. Records are read from the segment files; damage found
    /// while reading is returned as an error item, after which the iterator
    /// ends; so is an I/O error when [`Wal::truncate_before`] deleted a
    /// segment the iterator had not opened yet.
    pub fn iter_from(&self, from: Lsn) -> Result<WalIter, WalError> {
        let inner = &*self.inner;
        let end = self.write_out_buffered()?;
        let segments = inner.segments.lock().clone();
        Ok(WalIter::new(Arc::clone(&inner.fs), segments, from, end))
    }

    /// Like [`Wal::iter_from`]`(pos.lsn())`, but starts reading at the byte
    /// offset recorded in `pos` (from [`WalIter::position`] of an iterator of
    /// this log) instead of scanning its segment from the start. When that
    /// segment is gone or unknown it falls back to [`Wal::iter_from`].
    pub fn iter_at(&self, pos: WalPosition) -> Result<WalIter, WalError> {
        let Some((number, _)) = pos.at else {
            return self.iter_from(pos.lsn);
        };
        let inner = &*self.inner;
        let end = self.write_out_buffered()?;
        let segments = inner.segments.lock().clone();
        let found = segments
            .iter()
            .position(|s| s.number == number && s.first_lsn <= pos.lsn);
        match found {
            Some(idx) => Ok(WalIter::resume(
                Arc::clone(&inner.fs),
                segments,
                idx,
                pos,
                end,
            )),
            None => Ok(WalIter::new(Arc::clone(&inner.fs), segments, pos.lsn, end)),
        }
    }

    /// Hands buffered records to the OS (unless the log is closed or
    /// poisoned) and returns the end of what was written: the bound of a new
    /// iterator.
    fn write_out_buffered(&self) -> Result<Lsn, WalError> {
        let inner = &*self.inner;
        let mut st = inner.state.lock();
        if st.poison.is_none() && !st.closed && st.written_lsn < st.next_lsn {
            let target = st.next_lsn;
            inner.drive(&mut st, Goal::Written(target))?;
        }
        Ok(st.written_lsn)
    }

    /// Retires, oldest first, the segments all of whose records have LSNs
    /// below `lsn` (the active segment is never retired), then fsyncs the
    /// directory. A retired segment is deleted, or kept as a spare (renamed
    /// `NNNNNN.spare`) to become a later segment while fewer than
    /// [`WalOptions::recycle_segments`] spares are kept. Returns how many
    /// segments were retired.
    pub fn truncate_before(&self, lsn: Lsn) -> Result<usize, WalError> {
        let inner = &*self.inner;
        // A deferred rotation is settled first: once the segment before the
        // active one is gone, nothing could explain a torn header in the
        // active one, and the directory sync below could make its name
        // durable before its header.
        if inner.active.lock().deferred.is_some() {
            inner.sync_aside_inner(true)?;
        }
        let mut segs = inner.segments.lock();
        let mut deleted = 0;
        let mut spared: Vec<(u64, PathBuf)> = Vec::new();
        let mut result = Ok(());
        while segs.len() > 1 && segs[1].first_lsn <= lsn {
            let path = segs[0].path.clone();
            match inner.retire(&segs[0], spared.len()) {
                Ok(spare) => spared.extend(spare),
                Err(e) => {
                    result = Err(WalError::io(&path, e));
                    break;
                }
            }
            segs.remove(0);
            deleted += 1;
        }
        if deleted > 0 {
            inner
                .fs
                .sync_dir(&inner.dir)
                .map_err(|e| WalError::io(&inner.dir, e))?;
            bump(&inner.stats.dir_syncs, 1);
            tracing::debug!(deleted, before_lsn = lsn, "WAL segments retired");
        }
        // Only once the renames are durable is a spare cut (a cut file under
        // a segment's name would read as a damaged segment) and offered for
        // reuse: a rotation that rewrote a spare whose rename a power loss
        // can still undo would leave the new segment's header under the old
        // segment's name, ahead of the segments that followed it.
        for (number, spare) in spared {
            if inner.ready_spare(&spare) {
                inner.spares.lock().push((number, spare));
            }
        }
        result.map(|()| deleted)
    }

    /// The number of spare files (retired segments kept for reuse).
    pub fn spare_count(&self) -> usize {
        self.inner.spares.lock().len()
    }

    /// Writes and fsyncs everything buffered; the background syncer forgets
    /// the log. Later appends fail with [`WalError::Closed`]. Calling it again
    /// does nothing. Dropping the log does the same, ignoring errors.
    pub fn close(&self) -> Result<(), WalError> {
        let inner = &*self.inner;
        let result = {
            let mut st = inner.state.lock();
            if st.closed {
                return Ok(());
            }
            let r = match &st.poison {
                Some(p) => Err(WalError::Poisoned(p.clone())),
                None => {
                    let end = st.next_lsn;
                    inner
                        .drive(&mut st, Goal::Synced(end))
                        .and_then(|()| inner.settle_active())
                        .and_then(|()| inner.release_space())
                }
            };
            st.closed = true;
            r
        };
        drop(self.dir_lock.lock().take());
        result
    }

    /// Registers the log with its syncer on the first non-`Sync` append.
    fn ensure_flusher(&self) -> Result<(), WalError> {
        if self.inner.sync_interval.is_zero() || self.registered.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let inner: Arc<dyn BackgroundSync> = self.inner.clone();
        let weak = Arc::downgrade(&inner);
        drop(inner);
        self.syncer
            .register(weak, self.inner.sync_interval)
            .map_err(|e| {
                self.registered.store(false, Ordering::Release);
                WalError::io(&self.inner.dir, e)
            })
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            tracing::warn!(error = %e, "closing the WAL on drop failed");
        }
    }
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("pending_bytes", &self.pending.len())
            .field("next_lsn", &self.next_lsn)
            .field("written_lsn", &self.written_lsn)
            .field("synced_lsn", &self.synced_lsn)
            .field("seg_offset", &self.seg_offset)
            .field("poison", &self.poison)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // try_lock: formatting must never block or deadlock.
        let mut d = f.debug_struct("Wal");
        d.field("dir", &self.dir)
            .field("segment_size", &self.segment_size);
        match self.state.try_lock() {
            Some(st) => d.field("state", &*st),
            None => d.field("state", &"<locked>"),
        };
        match self.segments.try_lock() {
            Some(segs) => d.field("segments", &segs.len()),
            None => d.field("segments", &"<locked>"),
        };
        d.finish_non_exhaustive()
    }
}

impl Inner {
    fn check_usable(&self, st: &State) -> Result<(), WalError> {
        if st.closed {
            return Err(WalError::Closed);
        }
        if let Some(p) = &st.poison {
            return Err(WalError::Poisoned(p.clone()));
        }
        Ok(())
    }

    fn needs_rotation(&self, st: &State) -> bool {
        (st.seg_offset >= self.segment_size || st.rotate_requested)
            && st.next_lsn > st.seg_first_lsn
    }

    /// Waits until `goal` holds, leading write batches when no one else is.
    ///
    /// The leader takes every framed record (`pending`), releases the lock,
    /// writes them in one call, fsyncs if any waiter needs it, then wakes
    /// everyone: appenders that queued meanwhile form the next batch.
    fn drive(&self, st: &mut MutexGuard<'_, State>, goal: Goal) -> Result<(), WalError> {
        let synced = matches!(goal, Goal::Synced(_));
        st.sync_waiters += usize::from(synced);
        let r = self.drive_inner(st, goal);
        st.sync_waiters -= usize::from(synced);
        r
    }

    fn drive_inner(&self, st: &mut MutexGuard<'_, State>, goal: Goal) -> Result<(), WalError> {
        if let Goal::Synced(l) = goal {
            st.sync_wanted = st.sync_wanted.max(l);
        }
        loop {
            let done = match goal {
                Goal::Written(l) => st.written_lsn >= l,
                Goal::Synced(l) => st.synced_lsn >= l,
                Goal::Rotate => !self.needs_rotation(st),
            };
            if done {
                return Ok(());
            }
            if let Some(p) = &st.poison {
                return Err(WalError::Poisoned(p.clone()));
            }
            if st.leader {
                self.cond.wait(st);
                continue;
            }
            st.leader = true;
            if matches!(goal, Goal::Synced(_)) && (st.intents > 0 || st.expected_group > 1) {
                self.gather(st);
            }
            st.commits_pending = 0;
            let mut buf = std::mem::take(&mut st.spare);
            std::mem::swap(&mut buf, &mut st.pending);
            let end = st.next_lsn;
            let rotate = matches!(goal, Goal::Rotate);
            let sync = st.sync_wanted > st.synced_lsn;
            let unsynced = end > st.synced_lsn;
            let result = MutexGuard::unlocked(st, || {
                // Only a sync is timed (no clock read for a buffered append).
                let started = (sync && !rotate).then(Instant::now);
                let r = self.write_out(&mut buf, sync, rotate.then_some(unsynced), end);
                if let Some(started) = started {
                    self.note_sync_time(started.elapsed());
                }
                r
            });
            buf.clear();
            if buf.capacity() > self.write_buffer_size.max(1 << 20) * 4 {
                buf = Vec::with_capacity(64 * 1024);
            }
            st.spare = buf;
            st.leader = false;
            match result {
                Ok(Written { seed, synced }) => {
                    st.written_lsn = end;
                    if synced && end > st.synced_lsn {
                        st.synced_lsn = end;
                    }
                    if sync {
                        // Everyone waiting now will be back with a commit soon.
                        st.expected_group = st.sync_waiters.max(1);
                    }
                    if rotate {
                        st.seg_offset = SEGMENT_HEADER_SIZE as u64;
                        st.seg_first_lsn = end;
                        st.seg_seed = seed;
                        st.rotate_requested = false;
                    }
                    self.cond.notify_all();
                }
                Err(e) => {
                    tracing::error!(error = %e, "WAL write failed; the log is poisoned");
                    st.poison = Some(e.to_string());
                    self.cond.notify_all();
                    return Err(e);
                }
            }
        }
    }

    /// See [`Wal::sync_aside`]. With `all`, first writes out everything
    /// appended so far (waiting for a leader writing some of it); without
    /// (the background syncer), syncs what is written and takes the pending
    /// records only when no leader is at work: the next round covers the rest.
    ///
    /// Does not park on the log's mutexes (see [`lock_unparked`]), and waits
    /// for a leader by polling rather than on the condition variable (whose
    /// waiters are requeued onto the mutex and then handed it).
    fn sync_aside_inner(&self, all: bool) -> Result<Lsn, WalError> {
        let inner = self;
        let mut st = lock_unparked(&inner.state);
        inner.check_usable(&st)?;
        let target = st.next_lsn;
        let mut backoff = Backoff::new();
        while st.written_lsn < target {
            if !st.leader {
                // Leading costs an appender nothing: it queues behind this
                // write as it would behind another appender's.
                inner.drive(&mut st, Goal::Written(target))?;
            } else if all {
                drop(st);
                backoff.sleep();
                st = lock_unparked(&inner.state);
                inner.check_usable(&st)?;
            } else {
                break;
            }
        }
        let end = st.written_lsn;
        let synced = st.synced_lsn;
        drop(st);
        if synced >= end && lock_unparked(&inner.active).deferred.is_none() {
            return Ok(synced);
        }
        // Every record below `end` is in the active segment, in the segment
        // a deferred rotation left unsynced, or in an earlier one (synced
        // before that rotation): syncing the first two covers them all.
        let handles = {
            let a = lock_unparked(&inner.active);
            let active = a.file.sync_handle().map_err(|e| WalError::io(&a.path, e))?;
            let old = match a.deferred.as_ref().and_then(|d| d.old.as_ref()) {
                Some((f, p)) => Some((f.sync_handle().map_err(|e| WalError::io(p, e))?, p.clone())),
                None => None,
            };
            match (active, old) {
                (Some(h), None) => Some((h, None, a.deferred.is_some(), a.path.clone(), a.number)),
                (Some(h), Some((Some(o), op))) => {
                    Some((h, Some((o, op)), true, a.path.clone(), a.number))
                }
                _ => None,
            }
        };
        let Some((handle, old, deferred, path, number)) = handles else {
            // No second handle: sync in line (the leader settles a deferred
            // rotation first), and settle one that no record needed synced.
            let mut st = inner.state.lock();
            inner.drive(&mut st, Goal::Synced(end))?;
            drop(st);
            inner.settle_active()?;
            return Ok(inner.state.lock().synced_lsn);
        };
        let started = Instant::now();
        let mut synced = Ok(());
        let mut failed = path.clone();
        if let Some((o, op)) = &old {
            synced = o.sync();
            failed.clone_from(op);
            bump(&inner.stats.syncs, u64::from(synced.is_ok()));
        }
        if deferred && synced.is_ok() {
            synced = inner.fs.sync_dir(&inner.dir);
            failed.clone_from(&inner.dir);
            bump(&inner.stats.dir_syncs, u64::from(synced.is_ok()));
        }
        if synced.is_ok() {
            synced = handle.sync();
            failed.clone_from(&path);
        }
        if synced.is_ok() && deferred {
            let mut a = lock_unparked(&inner.active);
            if a.number == number {
                a.deferred = None;
            }
        }
        let path = failed;
        let mut st = lock_unparked(&inner.state);
        if let Err(e) = synced {
            // Written records may not be durable and never will be: as a failed
            // leader's sync, this poisons the log.
            let e = WalError::io(&path, e);
            tracing::error!(error = %e, "WAL sync failed; the log is poisoned");
            st.poison = Some(e.to_string());
            inner.cond.notify_all();
            return Err(e);
        }
        bump(&inner.stats.syncs, 1);
        inner.note_sync_time(started.elapsed());
        if end > st.synced_lsn {
            st.synced_lsn = end;
            inner.cond.notify_all();
        }
        Ok(st.synced_lsn)
    }

    /// Group commit that gathers: the leader, about to fsync, waits while
    /// writers are on their way, so that one fsync covers their records too:
    /// while announced writers ([`Wal::intend`]) have not appended yet, and
    /// while fewer commits are pending than threads waited for the last sync
    /// (writers that get their sync back come back with their next commit: two
    /// writers of one log would otherwise settle into taking turns, each fsync
    /// covering one commit while the other writer's is appended during it).
    ///
    /// The wait is adaptive: with `g` commits pending, the next one is worth
    /// waiting for only if it comes within `(sync time + wait so far) / g` (only
    /// then does it raise the group's commits per unit of time), so on a busy
    /// machine, where writers come back slowly, the leader soon stops waiting.
    /// Never longer than `group_commit_wait` in all; a lone writer (no intents,
    /// last group of one) never waits. Called with `st.leader` set, so appenders meanwhile queue behind
    /// this leader rather than start a sync of their own.
    fn gather(&self, st: &mut MutexGuard<'_, State>) {
        let sync_time = Duration::from_nanos(self.sync_nanos.load(Ordering::Relaxed));
        if sync_time.is_zero() || self.group_commit_wait.is_zero() {
            return;
        }
        bump(&self.stats.gathers, 1);
        let start = Instant::now();
        let deadline = start + self.group_commit_wait;
        let mut last_arrival = start;
        let mut seen = st.commits_pending;
        st.gathering = true;
        loop {
            if st.poison.is_some() || st.closed {
                break;
            }
            if st.commits_pending != seen {
                seen = st.commits_pending;
                last_arrival = Instant::now();
            }
            let Some(until) = crate::gather::wait_until(&crate::gather::Gathering {
                sync_time,
                start,
                deadline,
                last_arrival,
                pending: st.commits_pending,
                expected: st.expected_group,
                intents: st.intents,
            }) else {
                break;
            };
            if self.gather_cond.wait_until(st, until).timed_out() && st.commits_pending == seen {
                bump(&self.stats.gather_timeouts, 1);
                // Those writers did not come in time: expect no more than came.
                st.expected_group = st.commits_pending.max(1);
                break;
            }
        }
        st.gathering = false;
    }

    /// Folds one fsync's duration into the moving average (weight 1/8).
    fn note_sync_time(&self, took: Duration) {
        let took = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let old = self.sync_nanos.load(Ordering::Relaxed);
        let new = if old == 0 {
            took
        } else {
            old - old / 8 + took / 8
        };
        self.sync_nanos.store(new, Ordering::Relaxed);
    }

    /// The leader's I/O: one write of the batch (followed by the end
    /// marker, which the next batch overwrites), an fsync if wanted (after
    /// the fsyncs a deferred rotation owes), and a segment rotation if asked
    /// (`rotate`: whether records not yet synced precede it). Returns the
    /// active segment's checksum seed afterwards, and whether every record
    /// written is now synced.
    fn write_out(
        &self,
        buf: &mut Vec<u8>,
        sync: bool,
        rotate: Option<bool>,
        end: Lsn,
    ) -> Result<Written, WalError> {
        let mut active = self.active.lock();
        let a = &mut *active;
        if !buf.is_empty() {
            let records = buf.len();
            let records_end = a.write_pos + records as u64;
            let marker = end_marker_len(records_end);
            let needed = records_end + marker as u64;
            if self.preallocate > 0 && needed > a.alloc_end {
                // Grow in whole chunks: the file size changes once per chunk,
                // not with every write.
                let chunk = growth_chunk(self.preallocate, a.alloc_end);
                let target = needed.div_ceil(chunk).saturating_mul(chunk);
                a.file
                    .preallocate(target)
                    .map_err(|e| WalError::io(&a.path, e))?;
                a.alloc_end = target;
            }
            buf.resize(records + marker, 0);
            let written = a.file.write_at(a.write_pos, buf);
            buf.truncate(records);
            written.map_err(|e| WalError::io(&a.path, e))?;
            a.write_pos = records_end;
            a.alloc_end = a.alloc_end.max(needed);
            bump(&self.stats.batches, 1);
            bump(&self.stats.bytes_written, records as u64);
        }
        let mut synced = false;
        if sync {
            self.sync_active(a)?;
            synced = true;
        }
        if let Some(unsynced) = rotate {
            // One deferred rotation at a time: recovery takes a torn tail
            // only in the segment before the last, and a torn header only in
            // the last, so one still owed is settled first, the header of
            // the segment it started included.
            if a.deferred.is_some() {
                self.sync_active(a)?;
                synced = true;
            }
            let unsynced = unsynced && !synced;
            let number = a.number + 1;
            self.spare_failed.store(false, Ordering::Relaxed);
            let spare = self.spares.lock().pop();
            let deferring = spare.is_some();
            if unsynced && !deferring {
                // A new file is created durably, after the old one's tail.
                a.file.sync().map_err(|e| WalError::io(&a.path, e))?;
                bump(&self.stats.syncs, 1);
                synced = true;
            }
            let flags = if unsynced && deferring {
                FLAG_PREDECESSOR_UNSYNCED
            } else {
                0
            };
            let seg = create_segment(
                &*self.fs,
                &self.dir,
                SegmentSpec {
                    number,
                    first_lsn: end,
                    flags,
                    preallocate: self.preallocate,
                },
                spare.as_ref().map(|(_, p)| p.as_path()),
                !deferring,
            )?;
            if !deferring {
                bump(&self.stats.syncs, 1);
                bump(&self.stats.dir_syncs, 1);
            }
            bump(&self.stats.segments_created, 1);
            bump(&self.stats.segments_recycled, u64::from(seg.recycled));
            bump(&self.stats.bytes_written, SEGMENT_HEADER_SIZE as u64);
            self.segments.lock().push(SegmentMeta {
                number,
                path: seg.path.clone(),
                first_lsn: end,
                skips: Vec::new(),
            });
            let old = std::mem::replace(a, Active::new(seg, number, SEGMENT_HEADER_SIZE as u64));
            if deferring {
                a.deferred = Some(Deferred {
                    old: (flags != 0).then_some((old.file, old.path)),
                });
            }
        }
        Ok(Written {
            seed: segment_tag(a.number),
            synced,
        })
    }

    /// Settles a deferred rotation the last sync did not (the new segment
    /// holds no record yet): syncs what it owes and the active segment.
    fn settle_active(&self) -> Result<(), WalError> {
        let mut a = self.active.lock();
        if a.deferred.is_some() {
            self.sync_active(&mut a)?;
        }
        Ok(())
    }

    /// Fsyncs the active segment `a`, after what a deferred rotation into it
    /// put off: the old segment's tail, then the directory (the new
    /// segment's name). The rotation counts as settled only once all three
    /// succeeded: until then retention keeps the segment before `a`
    /// (`truncate_before` settles first).
    fn sync_active(&self, a: &mut Active) -> Result<(), WalError> {
        if let Some(d) = a.deferred.as_mut() {
            if let Some((file, path)) = d.old.as_mut() {
                file.sync().map_err(|e| WalError::io(&*path, e))?;
                bump(&self.stats.syncs, 1);
                d.old = None;
            }
            self.fs
                .sync_dir(&self.dir)
                .map_err(|e| WalError::io(&self.dir, e))?;
            bump(&self.stats.dir_syncs, 1);
        }
        a.file.sync().map_err(|e| WalError::io(&a.path, e))?;
        bump(&self.stats.syncs, 1);
        a.deferred = None;
        Ok(())
    }

    /// Deletes a retired segment, or renames it as a spare (returning its
    /// old number and new path) while fewer than `recycle_segments` spares
    /// exist, counting `pending` ones renamed but not yet offered. The caller
    /// syncs the directory, then offers the spare (see `truncate_before`).
    fn retire(&self, seg: &SegmentMeta, pending: usize) -> std::io::Result<Option<(u64, PathBuf)>> {
        let spare = self.dir.join(spare_name(seg.number));
        let (kept, taken) = {
            let spares = self.spares.lock();
            (
                spares.len() + pending,
                spares.iter().any(|(_, p)| *p == spare),
            )
        };
        // A segment salvage skipped damage in is not reused, nor one whose
        // spare name a prepared spare holds (see `prepare_spare`).
        if kept < self.recycle_segments && seg.skips.is_empty() && !taken {
            self.fs.rename(&seg.path, &spare)?;
            return Ok(Some((seg.number, spare)));
        }
        self.fs.remove_file(&seg.path)?;
        Ok(None)
    }

    /// Readies a retired segment's file as a spare (see [`blank_spare`]).
    /// Returns false, having deleted the file (or left it, unoffered), when
    /// that fails.
    fn ready_spare(&self, spare: &Path) -> bool {
        match blank_spare(&*self.fs, spare, self.preallocate) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(spare = %spare.display(), error = %e, "could not ready a WAL spare; deleting it");
                if let Err(e) = self.fs.remove_file(spare) {
                    tracing::warn!(spare = %spare.display(), error = %e, "could not delete a WAL spare");
                }
                false
            }
        }
    }

    /// At a clean close: deletes the spares and cuts the active segment's
    /// preallocated tail, so a closed log takes only the space its records
    /// need.
    fn release_space(&self) -> Result<(), WalError> {
        let spares = std::mem::take(&mut *self.spares.lock());
        for (_, path) in &spares {
            self.fs
                .remove_file(path)
                .map_err(|e| WalError::io(path, e))?;
        }
        if !spares.is_empty() {
            self.fs
                .sync_dir(&self.dir)
                .map_err(|e| WalError::io(&self.dir, e))?;
            bump(&self.stats.dir_syncs, 1);
        }
        let mut a = self.active.lock();
        if a.alloc_end > a.write_pos {
            let (path, len) = (a.path.clone(), a.write_pos);
            self.fs
                .truncate(&path, len)
                .map_err(|e| WalError::io(&path, e))?;
            a.alloc_end = len;
        }
        Ok(())
    }
}

/// Takes `m` without parking on it while it can, for threads in the
/// background of appenders (the syncer; a flush settling a deferred rotation
/// or syncing aside): spins, then yields, then sleeps from 20 µs up to 1 ms
/// between attempts, and parks only after [`UNPARKED_SLEEPS`] of them. Not
/// for appenders or other foreground callers, whom a sleep between attempts
/// would delay.
///
/// `parking_lot` hands a mutex straight to a parked waiter when it is unlocked
/// once the waiter's fairness timer ran out (after half a millisecond on
/// average, so nearly always for a mutex that is rarely contended). A
/// background thread parked on a log's mutex would be handed it while it was
/// not running, and the appender's next lock, microseconds later, would wait
/// until that thread was scheduled again: a time slice, milliseconds, when
/// both cores are busy (an appender and a flush on two cores). Measured with
/// `perf`: the writer of a buffered fill parked on these mutexes about every
/// 100 ms (the syncer's period), for up to 2.5 ms.
fn lock_unparked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    lock_unparked_within(m, UNPARKED_SLEEPS).0
}

/// How many sleeps [`lock_unparked`] makes before it parks after all: about
/// 40 ms of a mutex never found free (a log saturated by appenders, whose
/// unlocks hand it from one parked appender to the next). Parking then
/// bounds how long a background sync waits, as a plain `lock` would.
const UNPARKED_SLEEPS: u32 = 48;

/// [`lock_unparked`] with at most `sleeps` sleeps; also returns whether it
/// parked in the end.
fn lock_unparked_within<T>(m: &Mutex<T>, sleeps: u32) -> (MutexGuard<'_, T>, bool) {
    let mut backoff = Backoff::new();
    let mut attempt = 0u32;
    loop {
        if let Some(g) = m.try_lock() {
            return (g, false);
        }
        attempt += 1;
        if attempt < 64 {
            std::hint::spin_loop();
        } else if attempt < 80 {
            std::thread::yield_now();
        } else if attempt < 80 + sleeps {
            backoff.sleep();
        } else {
            return (m.lock(), true);
        }
    }
}

/// Sleeps between polls of a background thread: 20 µs, doubling up to 1 ms.
struct Backoff(Duration);

impl Backoff {
    fn new() -> Backoff {
        Backoff(Duration::from_micros(20))
    }

    fn sleep(&mut self) {
        std::thread::sleep(self.0);
        self.0 = (self.0 * 2).min(Duration::from_millis(1));
    }
}

impl BackgroundSync for Inner {
    fn background_sync(&self) -> bool {
        let st = lock_unparked(&self.state);
        if st.closed {
            return false;
        }
        if st.poison.is_some() {
            return true;
        }
        if st.pending.is_empty() && st.written_lsn <= st.synced_lsn {
            return true;
        }
        drop(st);
        // Aside: appenders of `Buffered` tables never wait for this fsync.
        let synced = match self.sync_aside_inner(false) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "WAL background sync failed");
                return true;
            }
        };
        let listener = self.sync_listener.lock().clone();
        if let Some(l) = listener {
            l(synced);
        }
        self.prepare_spare();
        true
    }
}

impl Inner {
    /// Prepares a spare for the next rotation when none is kept and the
    /// active segment has grown past twice the preallocation chunk (a log
    /// that writes that much will rotate), so that the rotation reuses a
    /// file instead of creating one, and needs no fsync (see `Deferred`).
    /// Runs on the background syncer; a failure only leaves no spare.
    ///
    /// The spare is named after the segment the next rotation creates. If
    /// a retired segment's spare is used first, that name stays taken until
    /// this spare is used, and `retire` deletes that segment rather than
    /// rename it over this one.
    fn prepare_spare(&self) {
        if self.recycle_segments == 0
            || self.spare_failed.load(Ordering::Relaxed)
            || !self.spares.lock().is_empty()
        {
            return;
        }
        let next = {
            let a = lock_unparked(&self.active);
            if a.write_pos < 2 * self.preallocate.max(64 << 10) {
                return;
            }
            a.number + 1
        };
        match create_spare(&*self.fs, &self.dir, next, self.preallocate) {
            Ok(path) => {
                bump(&self.stats.syncs, 1);
                bump(&self.stats.dir_syncs, 1);
                self.spares.lock().push((next, path));
            }
            Err(e) => {
                // Not again before the next rotation (no warning per sync).
                self.spare_failed.store(true, Ordering::Relaxed);
                tracing::warn!(error = %e, "could not prepare a WAL spare");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A background sync (`all == false`) syncs what is written and returns
    /// while a leader still writes a record; a full one (`Wal::sync_aside`)
    /// waits for that record and syncs it too.
    #[test]
    fn a_background_sync_leaves_a_leader_alone_and_a_full_one_waits_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let (wal, _) = Wal::open(dir.path(), WalOptions::default()).unwrap();
        let first = wal.append(b"written", Durability::Buffered).unwrap();
        // A leader takes a framed record and writes it outside the lock, as
        // `drive` does.
        let (mut buf, end) = {
            let mut st = wal.inner.state.lock();
            let s = &mut *st;
            frame_record(&mut s.pending, &mut s.seg_offset, b"late", Some(s.seg_seed));
            s.next_lsn += 1;
            s.leader = true;
            (std::mem::take(&mut s.pending), s.next_lsn)
        };
        let (bg_tx, bg_rx) = std::sync::mpsc::channel();
        let (tx, rx) = std::sync::mpsc::channel();
        let (background, early) = std::thread::scope(|scope| {
            scope.spawn(|| bg_tx.send(wal.inner.sync_aside_inner(false)).unwrap());
            scope.spawn(|| tx.send(wal.sync_aside()).unwrap());
            // The background sync returns while the leader is at work (a
            // generous bound, for a loaded machine: it takes one fsync)...
            let background = bg_rx.recv_timeout(Duration::from_secs(60)).ok();
            // ...the full one is still waiting a while later.
            std::thread::sleep(Duration::from_millis(50));
            let seen = (background, rx.try_recv().ok());
            // The leader finishes before any assertion (a sync waiting for it,
            // or the log's close, would wait forever).
            wal.inner.write_out(&mut buf, false, None, end).unwrap();
            let mut st = wal.inner.state.lock();
            st.written_lsn = end;
            st.leader = false;
            seen
        });
        let background = background.expect("the background sync waited for the leader");
        assert_eq!(background.unwrap(), first + 1);
        assert!(
            early.is_none(),
            "the full sync returned before the leader wrote: {early:?}"
        );
        assert_eq!(rx.recv().unwrap().unwrap(), end);
        assert_eq!(wal.synced_lsn(), end);
    }

    /// A mutex held throughout is taken by parking once the sleeps ran out;
    /// a free one at once, without parking.
    #[test]
    fn lock_unparked_parks_only_after_its_sleeps() {
        let m = Mutex::new(0u32);
        let (held_tx, held_rx) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let mut g = m.lock();
                held_tx.send(()).unwrap();
                // Held far past three sleeps (at most 20 + 40 + 80 µs).
                std::thread::sleep(Duration::from_secs(1));
                *g += 1;
            });
            held_rx.recv().unwrap();
            let (g, parked) = lock_unparked_within(&m, 3);
            assert!(parked, "three sleeps cannot outlast a 1 s hold");
            assert_eq!(*g, 1, "taken once the holder released it");
        });
        let (mut g, parked) = lock_unparked_within(&m, 3);
        assert!(!parked, "a free mutex is taken at once");
        *g += 1;
        assert_eq!(*g, 2);
    }

    #[test]
    fn growth_chunks_grow_with_the_segment_up_to_four_preallocations() {
        const K: u64 = 1024;
        let p = 256 * K;
        for (alloc_end, want) in [
            (0, p),
            (p, p),
            (1024 * K, p),
            (2048 * K, 512 * K),
            (3 * 1024 * K, 768 * K),
            (4 * 1024 * K, 1024 * K),
            (5 * 1024 * K + 1, 1024 * K),
            (64 * 1024 * K, 1024 * K),
            (u64::MAX, 1024 * K),
        ] {
            assert_eq!(growth_chunk(p, alloc_end), want, "alloc_end {alloc_end}");
        }
        // Always a multiple of `preallocate`, never below it.
        for p in [1, 7, 3000, 256 * K] {
            for end in [0, 1, p, 5 * p + 3, 17 * p, 1 << 40] {
                let c = growth_chunk(p, end);
                assert_eq!(c % p, 0, "p {p} end {end}");
                assert!((p..=MAX_GROWTH_CHUNKS * p).contains(&c), "p {p} end {end}");
            }
        }
        assert_eq!(growth_chunk(u64::MAX, u64::MAX), u64::MAX);
        assert_eq!(growth_chunk(0, 1 << 20), 0, "no preallocation");
    }
}
