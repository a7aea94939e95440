//! An in-memory, fault-injecting file system for power-loss and I/O-error tests.
//!
//! The model follows what POSIX promises (and no more):
//!
//! - A file's bytes are durable up to the length it had at its last
//!   [`WritableFile::sync`] (or [`FileSystem::truncate`], which syncs).
//! - A directory's entries (file creations, renames in or out, removals,
//!   subdirectory creations) are durable only as of the last
//!   [`FileSystem::sync_dir`] on that directory. A newly created directory is
//!   durably empty until it is synced itself.
//! - [`FaultFs::crash`] throws away everything else: unsynced appends (or,
//!   with [`FaultFs::set_torn_writes`], all but a random prefix of them),
//!   and every directory change not yet synced. Files whose entries vanish
//!   are gone; files removed without a directory sync come back.
//!
//! Crash points: every file sync, directory sync and rename is a *point*,
//! counted by [`FaultFs::points`]. [`FaultFs::crash_at_point`]`(k)` makes
//! the file system lose power just before point `k` (0-based) executes: from
//! then on every operation fails with an I/O error, and
//! [`FaultFs::recovered`] gives a fresh file system holding what survived.
//!
//! Injected errors: [`FaultFs::inject`] makes the n-th next operation of a kind
//! fail with `EIO` or `ENOSPC`; [`FaultFs::flip_byte`] corrupts stored bytes.
//!
//! ```
//! use std::path::Path;
//! use strata_fs::{FaultFs, FileSystem};
//!
//! let fs = FaultFs::new();
//! fs.create_dir_all(Path::new("/db")).unwrap();
//! fs.sync_dir(Path::new("/")).unwrap();
//! let mut f = fs.create(Path::new("/db/a")).unwrap();
//! f.append(b"synced").unwrap();
//! f.sync().unwrap();
//! fs.sync_dir(Path::new("/db")).unwrap();
//! f.append(b" lost").unwrap();
//! fs.crash();
//! assert_eq!(fs.read_all(Path::new("/db/a")).unwrap(), b"synced");
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use rand::{Rng, SeedableRng};

use crate::{FileLock, FileSystem, MappedFile, RandomAccessFile, WritableFile};

type InodeId = u64;
type DirId = u64;
const ROOT: DirId = 0;

/// The kind of operation a fault is injected into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultOp {
    /// [`WritableFile::append`].
    Write,
    /// [`WritableFile::sync`] and [`FileSystem::truncate`].
    Sync,
    /// [`FileSystem::sync_dir`].
    SyncDir,
    /// [`FileSystem::rename`].
    Rename,
    /// [`FileSystem::create`] and [`FileSystem::create_dir_all`].
    Create,
    /// Reads: [`RandomAccessFile::read_at`], [`FileSystem::map`], [`FileSystem::read_all`].
    Read,
    /// [`FileSystem::remove_file`] and [`FileSystem::remove_dir_all`].
    Remove,
}

/// The error an injected fault produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// `EIO`: an I/O error.
    Eio,
    /// `ENOSPC`: no space left on the device.
    Enospc,
}

impl FaultKind {
    fn to_error(self, op: FaultOp) -> io::Error {
        match self {
            FaultKind::Eio => io::Error::other(format!("injected EIO on {op:?}")),
            FaultKind::Enospc => io::Error::new(
                io::ErrorKind::StorageFull,
                format!("injected ENOSPC on {op:?}"),
            ),
        }
    }
}

/// A write not yet synced: where, how long, the bytes it replaced and the
/// file's length before it, so that a power loss can undo it.
#[derive(Debug, Clone)]
struct Unsynced {
    at: usize,
    len: usize,
    old: Vec<u8>,
    prev_len: usize,
}

#[derive(Debug, Clone, Default)]
struct Inode {
    data: Vec<u8>,
    synced_len: usize,
    /// Writes (appends, overwrites, preallocations) since the last sync, in
    /// order. A power loss keeps a prefix of them: none, or with torn writes
    /// a random number of whole writes and a byte prefix of the next one.
    unsynced: Vec<Unsynced>,
}

impl Inode {
    /// Writes `bytes` at `at`, extending with zeros as needed, and logs
    /// what it replaced.
    fn write_at(&mut self, at: usize, bytes: &[u8]) {
        let prev_len = self.data.len();
        let end = at + bytes.len();
        let old = self.data.get(at..end.min(prev_len)).unwrap_or(&[]).to_vec();
        self.unsynced.push(Unsynced {
            at,
            len: bytes.len(),
            old,
            prev_len,
        });
        if self.data.len() < end {
            self.data.resize(end, 0);
        }
        self.data[at..end].copy_from_slice(bytes);
    }

    /// Grows the file to `len` zero bytes (no-op when it is as long).
    fn grow(&mut self, len: usize) {
        let prev_len = self.data.len();
        if len > prev_len {
            self.unsynced.push(Unsynced {
                at: prev_len,
                len: len - prev_len,
                old: Vec::new(),
                prev_len,
            });
            self.data.resize(len, 0);
        }
    }

    fn synced(&mut self) {
        self.synced_len = self.data.len();
        self.unsynced.clear();
    }

    /// The bytes a power loss leaves when the first `kept` unsynced writes
    /// reached the disk, and `cut` bytes of the next one.
    fn survivor(&self, kept: usize, cut: usize) -> Vec<u8> {
        let mut data = self.data.clone();
        for (i, w) in self.unsynced.iter().enumerate().skip(kept).rev() {
            let from = if i == kept { cut.min(w.len) } else { 0 };
            if from < w.old.len() {
                data[w.at + from..w.at + w.old.len()].copy_from_slice(&w.old[from..]);
            }
            data.truncate(w.prev_len.max(w.at + from));
        }
        data
    }
}

/// One directory change (a rename is one change of two entries): each
/// `(directory, name, entry)` sets the name to the entry, or removes it.
type DirChange = Vec<(DirId, String, Option<Entry>)>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    File(InodeId),
    Dir(DirId),
}

#[derive(Debug, Clone)]
struct Pending {
    op: FaultOp,
    remaining: u64,
    kind: FaultKind,
}

#[derive(Debug, Default)]
struct State {
    inodes: HashMap<InodeId, Inode>,
    live: HashMap<DirId, BTreeMap<String, Entry>>,
    durable: HashMap<DirId, BTreeMap<String, Entry>>,
    next_id: u64,
    points: u64,
    crash_at: Option<u64>,
    /// Set once power was lost at a crash point; holds what survived.
    image: Option<Box<Image>>,
    faults: Vec<Pending>,
    torn_seed: Option<u64>,
    /// Directory changes not yet synced, in order (see
    /// [`FaultFs::set_dir_writeback`]).
    dir_log: Vec<DirChange>,
    dir_writeback_seed: Option<u64>,
    locks: HashSet<PathBuf>,
    op_counts: HashMap<FaultOp, u64>,
    /// How long each file sync takes (see [`FaultFs::set_sync_delay`]).
    sync_delay: std::time::Duration,
    /// File syncs running now, and the most that ever ran at once.
    syncs_in_flight: u64,
    max_syncs_in_flight: u64,
}

/// What survives a power loss.
#[derive(Debug, Clone)]
struct Image {
    inodes: HashMap<InodeId, Inode>,
    dirs: HashMap<DirId, BTreeMap<String, Entry>>,
    next_id: u64,
}

/// An in-memory file system that simulates power loss and injects faults.
/// Clones share the same state. See the `fault` module documentation.
#[derive(Debug, Clone)]
pub struct FaultFs {
    state: Arc<Mutex<State>>,
}

impl Default for FaultFs {
    fn default() -> Self {
        Self::new()
    }
}

fn err_not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{}: no such file or directory", path.display()),
    )
}

fn err_crashed() -> io::Error {
    io::Error::other("simulated power loss: the file system is gone")
}

fn components(path: &Path) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    for c in path.components() {
        match c {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "`..` is not supported by FaultFs",
                ));
            }
            Component::Normal(s) => out.push(s.to_string_lossy().into_owned()),
        }
    }
    Ok(out)
}

impl State {
    fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn lookup(&self, path: &Path) -> io::Result<Entry> {
        let comps = components(path)?;
        let mut cur = Entry::Dir(ROOT);
        for c in &comps {
            let Entry::Dir(d) = cur else {
                return Err(err_not_found(path));
            };
            cur = *self
                .live
                .get(&d)
                .and_then(|m| m.get(c))
                .ok_or_else(|| err_not_found(path))?;
        }
        Ok(cur)
    }

    /// The parent directory id and the final name of `path`.
    fn parent_of(&self, path: &Path) -> io::Result<(DirId, String)> {
        let mut comps = components(path)?;
        let name = comps
            .pop()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the root has no parent"))?;
        let mut dir = ROOT;
        for c in &comps {
            match self.live.get(&dir).and_then(|m| m.get(c)) {
                Some(Entry::Dir(d)) => dir = *d,
                _ => return Err(err_not_found(path)),
            }
        }
        Ok((dir, name))
    }

    fn file(&self, path: &Path) -> io::Result<InodeId> {
        match self.lookup(path)? {
            Entry::File(i) => Ok(i),
            Entry::Dir(_) => Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                format!("{} is a directory", path.display()),
            )),
        }
    }

    /// Checks for power loss and injected faults before an operation.
    fn check(&mut self, op: FaultOp) -> io::Result<()> {
        if self.image.is_some() {
            return Err(err_crashed());
        }
        *self.op_counts.entry(op).or_insert(0) += 1;
        let is_point = matches!(op, FaultOp::Sync | FaultOp::SyncDir | FaultOp::Rename);
        if is_point {
            let k = self.points;
            self.points += 1;
            if self.crash_at == Some(k) {
                self.image = Some(Box::new(self.survivors()));
                return Err(err_crashed());
            }
        }
        let mut fired = None;
        for (i, f) in self.faults.iter_mut().enumerate() {
            if f.op == op {
                f.remaining = f.remaining.saturating_sub(1);
                if f.remaining == 0 && fired.is_none() {
                    fired = Some(i);
                }
            }
        }
        if let Some(i) = fired {
            let f = self.faults.remove(i);
            return Err(f.kind.to_error(op));
        }
        Ok(())
    }

    /// What a power loss right now would leave behind.
    fn survivors(&self) -> Image {
        let mut rng = self.torn_seed.map(rand::rngs::StdRng::seed_from_u64);
        let mut inodes = HashMap::new();
        let mut ids: Vec<_> = self.inodes.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let Some(inode) = self.inodes.get(&id) else {
                continue;
            };
            let (mut kept, mut cut) = (0, 0);
            if let Some(rng) = rng.as_mut() {
                kept = rng.random_range(0..=inode.unsynced.len());
                if let Some(w) = inode.unsynced.get(kept) {
                    cut = rng.random_range(0..=w.len);
                }
            }
            let data = inode.survivor(kept, cut);
            let keep = data.len();
            inodes.insert(
                id,
                Inode {
                    data,
                    synced_len: keep,
                    unsynced: Vec::new(),
                },
            );
        }
        let mut dirs = self.durable.clone();
        if let Some(seed) = self.dir_writeback_seed {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ self.points);
            let kept = rng.random_range(0..=self.dir_log.len());
            for change in &self.dir_log[..kept] {
                for (dir, name, entry) in change {
                    let m = dirs.entry(*dir).or_default();
                    match entry {
                        Some(e) => {
                            m.insert(name.clone(), *e);
                        }
                        None => {
                            m.remove(name);
                        }
                    }
                }
            }
        }
        Image {
            inodes,
            dirs,
            next_id: self.next_id,
        }
    }

    fn restore(&mut self, image: Image) {
        self.inodes = image.inodes;
        self.live = image.dirs.clone();
        self.durable = image.dirs;
        self.live.entry(ROOT).or_default();
        self.durable.entry(ROOT).or_default();
        self.next_id = image.next_id;
        self.image = None;
        self.crash_at = None;
        self.faults.clear();
        self.locks.clear();
        self.dir_log.clear();
    }

    /// Logs a directory change for [`FaultFs::set_dir_writeback`].
    fn log_dir(&mut self, change: DirChange) {
        self.dir_log.push(change);
    }
}

impl FaultFs {
    /// An empty file system (only the root directory exists).
    pub fn new() -> Self {
        let mut state = State::default();
        state.live.insert(ROOT, BTreeMap::new());
        state.durable.insert(ROOT, BTreeMap::new());
        FaultFs {
            state: Arc::new(Mutex::new(state)),
        }
    }

    /// How many crash points (file syncs, directory syncs, renames) have
    /// been reached so far.
    pub fn points(&self) -> u64 {
        self.state.lock().points
    }

    /// How many operations of a kind have been attempted so far.
    pub fn op_count(&self, op: FaultOp) -> u64 {
        self.state.lock().op_counts.get(&op).copied().unwrap_or(0)
    }

    /// Loses power just before crash point `k` (0-based, counted from the
    /// creation of this file system) executes. Afterwards every operation
    /// fails; call [`FaultFs::recovered`] to continue on what survived.
    pub fn crash_at_point(&self, k: u64) {
        self.state.lock().crash_at = Some(k);
    }

    /// True once power was lost at the point set by [`FaultFs::crash_at_point`].
    pub fn has_crashed(&self) -> bool {
        self.state.lock().image.is_some()
    }

    /// When set, a crash keeps a random prefix (chosen by a generator seeded
    /// with `seed`) of each file's unsynced bytes instead of none of them.
    pub fn set_torn_writes(&self, seed: Option<u64>) {
        self.state.lock().torn_seed = seed;
    }

    /// Makes every file sync take `delay` (a slow disk), so that tests of what
    /// overlaps an fsync (group commit) do not depend on the machine's disk.
    /// The sleep happens outside the file system's lock; what was written when
    /// the sync began is durable. Default zero.
    ///
    /// ```
    /// use std::path::Path;
    /// use std::time::Duration;
    /// use strata_fs::{FaultFs, FileSystem};
    ///
    /// let fs = FaultFs::new();
    /// fs.set_sync_delay(Duration::from_millis(500));
    /// let (a, b) = (Path::new("/a"), Path::new("/b"));
    /// let mut fa = fs.create(a)?;
    /// let mut fb = fs.create(b)?;
    /// fa.append(b"x")?;
    /// fb.append(b"y")?;
    /// std::thread::scope(|s| {
    ///     let one = s.spawn(move || fa.sync());
    ///     // Wait until the first sync is inside its delay, then sync the other file.
    ///     while fs.syncs_in_flight() == 0 {
    ///         std::thread::yield_now();
    ///     }
    ///     fb.sync().unwrap();
    ///     one.join().unwrap().unwrap();
    /// });
    /// assert_eq!(fs.max_concurrent_syncs(), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_sync_delay(&self, delay: std::time::Duration) {
        self.state.lock().sync_delay = delay;
    }

    /// The most file syncs that ever ran at the same time (overlapping in their
    /// [`FaultFs::set_sync_delay`]): shows whether syncs of different files
    /// were issued in parallel.
    pub fn max_concurrent_syncs(&self) -> u64 {
        self.state.lock().max_syncs_in_flight
    }

    /// File syncs running now (inside their [`FaultFs::set_sync_delay`]).
    pub fn syncs_in_flight(&self) -> u64 {
        self.state.lock().syncs_in_flight
    }

    /// With `Some(seed)`, a power loss also keeps a random prefix (chosen
    /// from `seed`) of the directory changes not yet synced (creations,
    /// renames, removals, in the order they were made), as a journaling file
    /// system that commits metadata on its own, in order, would; a rename
    /// survives whole or not at all. File data is unaffected: an entry may
    /// survive while its file's unsynced data does not. `None` (the default):
    /// only synced directory changes survive.
    pub fn set_dir_writeback(&self, seed: Option<u64>) {
        self.state.lock().dir_writeback_seed = seed;
    }

    /// Simulates a power loss now: everything not durable is lost, open
    /// handles stay usable but refer to the surviving files (or to nothing).
    /// If power was already lost at a crash point, that image is restored.
    pub fn crash(&self) {
        let mut st = self.state.lock();
        let image = match st.image.take() {
            Some(img) => *img,
            None => st.survivors(),
        };
        st.restore(image);
    }

    /// Simulates the death of the process that holds the file locks: the
    /// locks are released, and everything written stays (in the page cache,
    /// durable or not), as after a SIGKILL. Handles the dead process leaked
    /// must not be used again.
    pub fn release_locks(&self) {
        self.state.lock().locks.clear();
    }

    /// A new, independent file system holding what survived the power loss
    /// (at the crash point if one was reached, otherwise now). This file
    /// system is left as it is, so threads still using it only see errors.
    pub fn recovered(&self) -> FaultFs {
        let st = self.state.lock();
        let image = match &st.image {
            Some(img) => (**img).clone(),
            None => st.survivors(),
        };
        let mut fresh = State::default();
        fresh.restore(image);
        FaultFs {
            state: Arc::new(Mutex::new(fresh)),
        }
    }

    /// Makes the `nth` next operation of kind `op` (1 = the very next one) fail
    /// with `kind`. Each injection fires once.
    pub fn inject(&self, op: FaultOp, nth: u64, kind: FaultKind) {
        self.state.lock().faults.push(Pending {
            op,
            remaining: nth.max(1),
            kind,
        });
    }

    /// Removes all pending injected faults.
    pub fn clear_faults(&self) {
        self.state.lock().faults.clear();
    }

    /// XORs the stored byte at `offset` of `path` with `mask` (both the live
    /// and the durable copy: the medium itself is damaged).
    pub fn flip_byte(&self, path: &Path, offset: u64, mask: u8) -> io::Result<()> {
        let mut st = self.state.lock();
        let id = st.file(path)?;
        let inode = st.inodes.get_mut(&id).ok_or_else(|| err_not_found(path))?;
        let off = usize::try_from(offset).unwrap_or(usize::MAX);
        let b = inode.data.get_mut(off).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "offset past the end of the file",
            )
        })?;
        *b ^= mask;
        Ok(())
    }

    /// Cuts the stored bytes of `path` to `len`, bypassing fault injection
    /// (for corruption tests).
    pub fn set_len_raw(&self, path: &Path, len: u64) -> io::Result<()> {
        let mut st = self.state.lock();
        let id = st.file(path)?;
        let inode = st.inodes.get_mut(&id).ok_or_else(|| err_not_found(path))?;
        let len = usize::try_from(len)
            .unwrap_or(usize::MAX)
            .min(inode.data.len());
        inode.data.truncate(len);
        inode.synced_len = inode.synced_len.min(len);
        inode.unsynced.clear();
        Ok(())
    }

    /// One line per file of `dir` (sorted by name): its name, its length and
    /// its first 16 bytes in hex, for test diagnostics (what a failed reopen
    /// found on disk). An unreadable directory gives an empty string.
    ///
    /// ```
    /// use std::path::Path;
    /// use strata_fs::{FaultFs, FileSystem};
    /// let fs = FaultFs::new();
    /// fs.create_dir_all(Path::new("/d")).unwrap();
    /// fs.create(Path::new("/d/a")).unwrap().append(b"\x01\x02").unwrap();
    /// assert_eq!(fs.describe_dir(Path::new("/d")), "a: 2 bytes, header [01, 02]");
    /// ```
    pub fn describe_dir(&self, dir: &Path) -> String {
        let mut names = self.list(dir).unwrap_or_default();
        names.sort();
        let lines: Vec<String> = names
            .iter()
            .map(|n| {
                let b = self.read_all(&dir.join(n)).unwrap_or_default();
                format!(
                    "{n}: {} bytes, header {:02x?}",
                    b.len(),
                    &b[..b.len().min(16)]
                )
            })
            .collect();
        lines.join("\n")
    }

    /// Every file path that currently exists, for test diagnostics.
    pub fn all_files(&self) -> Vec<PathBuf> {
        let st = self.state.lock();
        let mut out = Vec::new();
        let mut stack = vec![(ROOT, PathBuf::from("/"))];
        while let Some((dir, path)) = stack.pop() {
            if let Some(entries) = st.live.get(&dir) {
                for (name, e) in entries {
                    match e {
                        Entry::File(_) => out.push(path.join(name)),
                        Entry::Dir(d) => stack.push((*d, path.join(name))),
                    }
                }
            }
        }
        out.sort();
        out
    }
}

/// A file sync in the simulated file system: counts as a crash point, makes the
/// inode's data durable, and takes the configured delay (outside the lock).
fn sync_inode(state: &Mutex<State>, inode: InodeId) -> io::Result<()> {
    // What is written when the sync begins becomes durable, not what later
    // writes add while it takes its time (a real fsync may or may not cover
    // those; the caller must not count on them).
    let delay = {
        let mut st = state.lock();
        st.check(FaultOp::Sync)?;
        if let Some(inode) = st.inodes.get_mut(&inode) {
            inode.synced();
        }
        st.syncs_in_flight += 1;
        st.max_syncs_in_flight = st.max_syncs_in_flight.max(st.syncs_in_flight);
        st.sync_delay
    };
    if !delay.is_zero() {
        std::thread::sleep(delay);
    }
    state.lock().syncs_in_flight -= 1;
    Ok(())
}

/// A second handle to a simulated file, for syncing it; see
/// [`crate::WritableFile::sync_handle`].
#[derive(Debug)]
struct FaultSync {
    state: Arc<Mutex<State>>,
    inode: InodeId,
}

impl crate::FileSync for FaultSync {
    fn sync(&self) -> io::Result<()> {
        sync_inode(&self.state, self.inode)
    }
}

#[derive(Debug)]
struct FaultWritable {
    state: Arc<Mutex<State>>,
    inode: InodeId,
}

impl WritableFile for FaultWritable {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        let mut st = self.state.lock();
        st.check(FaultOp::Write)?;
        if let Some(inode) = st.inodes.get_mut(&self.inode) {
            let at = inode.data.len();
            inode.write_at(at, data);
        }
        Ok(())
    }

    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut st = self.state.lock();
        st.check(FaultOp::Write)?;
        let at = usize::try_from(offset)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "offset too large"))?;
        if let Some(inode) = st.inodes.get_mut(&self.inode) {
            inode.write_at(at, data);
        }
        Ok(())
    }

    /// Extends with zeros (the in-memory model has no blocks to allocate);
    /// like appended bytes, they vanish in a power loss until synced.
    fn preallocate(&mut self, len: u64) -> io::Result<()> {
        let mut st = self.state.lock();
        st.check(FaultOp::Write)?;
        let len = usize::try_from(len)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "length too large"))?;
        if let Some(inode) = st.inodes.get_mut(&self.inode) {
            inode.grow(len);
        }
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        sync_inode(&self.state, self.inode)
    }

    fn sync_handle(&self) -> io::Result<Option<Box<dyn crate::FileSync>>> {
        Ok(Some(Box::new(FaultSync {
            state: Arc::clone(&self.state),
            inode: self.inode,
        })))
    }

    fn len(&self) -> u64 {
        let st = self.state.lock();
        st.inodes
            .get(&self.inode)
            .map_or(0, |i| i.data.len() as u64)
    }
}

#[derive(Debug)]
struct FaultReadable {
    state: Arc<Mutex<State>>,
    inode: InodeId,
}

impl RandomAccessFile for FaultReadable {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let mut st = self.state.lock();
        st.check(FaultOp::Read)?;
        let Some(inode) = st.inodes.get(&self.inode) else {
            return Ok(0);
        };
        let off = usize::try_from(offset).unwrap_or(usize::MAX);
        if off >= inode.data.len() {
            return Ok(0);
        }
        let n = buf.len().min(inode.data.len() - off);
        buf[..n].copy_from_slice(&inode.data[off..off + n]);
        Ok(n)
    }

    fn len(&self) -> u64 {
        let st = self.state.lock();
        st.inodes
            .get(&self.inode)
            .map_or(0, |i| i.data.len() as u64)
    }
}

#[derive(Debug)]
struct FaultMapped(Vec<u8>);

impl MappedFile for FaultMapped {
    fn bytes(&self) -> &[u8] {
        &self.0
    }
}

#[derive(Debug)]
struct FaultLock {
    state: Arc<Mutex<State>>,
    path: PathBuf,
}

impl FileLock for FaultLock {}

impl Drop for FaultLock {
    fn drop(&mut self) {
        self.state.lock().locks.remove(&self.path);
    }
}

impl FileSystem for FaultFs {
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let mut st = self.state.lock();
        st.check(FaultOp::Create)?;
        let (dir, name) = st.parent_of(path)?;
        if let Some(Entry::Dir(_)) = st.live.get(&dir).and_then(|m| m.get(&name)) {
            return Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                format!("{} is a directory", path.display()),
            ));
        }
        let id = st.new_id();
        st.inodes.insert(id, Inode::default());
        st.live
            .entry(dir)
            .or_default()
            .insert(name.clone(), Entry::File(id));
        st.log_dir(vec![(dir, name, Some(Entry::File(id)))]);
        Ok(Box::new(FaultWritable {
            state: Arc::clone(&self.state),
            inode: id,
        }))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let st = self.state.lock();
        if st.image.is_some() {
            return Err(err_crashed());
        }
        let id = st.file(path)?;
        Ok(Box::new(FaultWritable {
            state: Arc::clone(&self.state),
            inode: id,
        }))
    }

    fn open_overwrite(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        // The model's files take positional writes however they were opened.
        self.open_append(path)
    }

    fn open_read(&self, path: &Path) -> io::Result<Arc<dyn RandomAccessFile>> {
        let mut st = self.state.lock();
        st.check(FaultOp::Read)?;
        let id = st.file(path)?;
        Ok(Arc::new(FaultReadable {
            state: Arc::clone(&self.state),
            inode: id,
        }))
    }

    fn map(&self, path: &Path) -> io::Result<Arc<dyn MappedFile>> {
        let mut st = self.state.lock();
        st.check(FaultOp::Read)?;
        let id = st.file(path)?;
        let data = st
            .inodes
            .get(&id)
            .map(|i| i.data.clone())
            .unwrap_or_default();
        Ok(Arc::new(FaultMapped(data)))
    }

    fn read_all(&self, path: &Path) -> io::Result<Vec<u8>> {
        let mut st = self.state.lock();
        st.check(FaultOp::Read)?;
        let id = st.file(path)?;
        Ok(st
            .inodes
            .get(&id)
            .map(|i| i.data.clone())
            .unwrap_or_default())
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let mut st = self.state.lock();
        st.check(FaultOp::Sync)?;
        let id = st.file(path)?;
        if let Some(inode) = st.inodes.get_mut(&id) {
            let len = usize::try_from(len).unwrap_or(usize::MAX);
            inode.data.resize(len, 0);
            inode.synced();
        }
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut st = self.state.lock();
        st.check(FaultOp::Rename)?;
        let (fdir, fname) = st.parent_of(from)?;
        let (tdir, tname) = st.parent_of(to)?;
        let entry = st
            .live
            .get_mut(&fdir)
            .and_then(|m| m.remove(&fname))
            .ok_or_else(|| err_not_found(from))?;
        st.live
            .entry(tdir)
            .or_default()
            .insert(tname.clone(), entry);
        st.log_dir(vec![(fdir, fname, None), (tdir, tname, Some(entry))]);
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut st = self.state.lock();
        st.check(FaultOp::Remove)?;
        st.file(path)?;
        let (dir, name) = st.parent_of(path)?;
        if let Some(m) = st.live.get_mut(&dir) {
            m.remove(&name);
        }
        st.log_dir(vec![(dir, name, None)]);
        Ok(())
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut st = self.state.lock();
        st.check(FaultOp::Remove)?;
        match st.lookup(path)? {
            Entry::Dir(_) => {}
            Entry::File(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::NotADirectory,
                    format!("{} is not a directory", path.display()),
                ));
            }
        }
        let (dir, name) = st.parent_of(path)?;
        if let Some(m) = st.live.get_mut(&dir) {
            m.remove(&name);
        }
        st.log_dir(vec![(dir, name, None)]);
        Ok(())
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut st = self.state.lock();
        st.check(FaultOp::Create)?;
        let comps = components(path)?;
        let mut dir = ROOT;
        for c in comps {
            let existing = st.live.get(&dir).and_then(|m| m.get(&c)).copied();
            dir = match existing {
                Some(Entry::Dir(d)) => d,
                Some(Entry::File(_)) => {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!("{} exists and is a file", path.display()),
                    ));
                }
                None => {
                    let d = st.new_id();
                    st.live.insert(d, BTreeMap::new());
                    st.durable.insert(d, BTreeMap::new());
                    st.live
                        .entry(dir)
                        .or_default()
                        .insert(c.clone(), Entry::Dir(d));
                    st.log_dir(vec![(dir, c, Some(Entry::Dir(d)))]);
                    d
                }
            };
        }
        Ok(())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut st = self.state.lock();
        st.check(FaultOp::Read)?;
        match st.lookup(dir)? {
            Entry::Dir(d) => Ok(st
                .live
                .get(&d)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default()),
            Entry::File(_) => Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", dir.display()),
            )),
        }
    }

    fn exists(&self, path: &Path) -> bool {
        self.state.lock().lookup(path).is_ok()
    }

    fn is_dir(&self, path: &Path) -> bool {
        matches!(self.state.lock().lookup(path), Ok(Entry::Dir(_)))
    }

    fn file_size(&self, path: &Path) -> io::Result<u64> {
        let st = self.state.lock();
        let id = st.file(path)?;
        Ok(st.inodes.get(&id).map_or(0, |i| i.data.len() as u64))
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut st = self.state.lock();
        st.check(FaultOp::SyncDir)?;
        match st.lookup(dir)? {
            Entry::Dir(d) => {
                let entries = st.live.get(&d).cloned().unwrap_or_default();
                st.durable.insert(d, entries);
                for change in &mut st.dir_log {
                    change.retain(|(dir, _, _)| *dir != d);
                }
                st.dir_log.retain(|c| !c.is_empty());
                Ok(())
            }
            Entry::File(_) => Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", dir.display()),
            )),
        }
    }

    fn lock(&self, path: &Path) -> io::Result<Box<dyn FileLock>> {
        let mut st = self.state.lock();
        if st.image.is_some() {
            return Err(err_crashed());
        }
        let key = PathBuf::from(components(path)?.join("/"));
        if !st.locks.insert(key.clone()) {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!("{} is locked", path.display()),
            ));
        }
        Ok(Box::new(FaultLock {
            state: Arc::clone(&self.state),
            path: key,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> &Path {
        Path::new(s)
    }

    fn setup() -> FaultFs {
        let fs = FaultFs::new();
        fs.create_dir_all(p("/db")).unwrap();
        fs.sync_dir(p("/")).unwrap();
        fs
    }

    #[test]
    fn unsynced_appends_are_lost() {
        let fs = setup();
        let mut f = fs.create(p("/db/a")).unwrap();
        f.append(b"one").unwrap();
        f.sync().unwrap();
        f.append(b"two").unwrap();
        fs.sync_dir(p("/db")).unwrap();
        assert_eq!(fs.read_all(p("/db/a")).unwrap(), b"onetwo");
        fs.crash();
        assert_eq!(fs.read_all(p("/db/a")).unwrap(), b"one");
    }

    #[test]
    fn creation_without_dir_sync_is_lost() {
        let fs = setup();
        let mut f = fs.create(p("/db/a")).unwrap();
        f.append(b"x").unwrap();
        f.sync().unwrap();
        fs.crash();
        assert!(!fs.exists(p("/db/a")));
        assert!(fs.exists(p("/db")));
    }

    #[test]
    fn new_directory_needs_parent_sync() {
        let fs = FaultFs::new();
        fs.create_dir_all(p("/x/y")).unwrap();
        fs.sync_dir(p("/x")).unwrap();
        fs.crash();
        assert!(!fs.exists(p("/x")));
    }

    #[test]
    fn rename_without_dir_sync_is_undone() {
        let fs = setup();
        let mut f = fs.create(p("/db/a.tmp")).unwrap();
        f.append(b"new").unwrap();
        f.sync().unwrap();
        fs.sync_dir(p("/db")).unwrap();
        fs.rename(p("/db/a.tmp"), p("/db/a")).unwrap();
        assert!(fs.exists(p("/db/a")));
        fs.crash();
        assert!(!fs.exists(p("/db/a")));
        assert!(fs.exists(p("/db/a.tmp")));
    }

    #[test]
    fn dir_writeback_keeps_a_prefix_of_unsynced_changes() {
        // Three unsynced changes: create b, rename b -> c, remove a. Over
        // many seeds every prefix shows up, and nothing else.
        let mut seen = HashSet::new();
        for seed in 0..64 {
            let fs = setup();
            let mut f = fs.create(p("/db/a")).unwrap();
            f.append(b"a").unwrap();
            f.sync().unwrap();
            fs.sync_dir(p("/db")).unwrap();
            fs.set_dir_writeback(Some(seed));
            let mut g = fs.create(p("/db/b")).unwrap();
            g.append(b"unsynced").unwrap();
            fs.rename(p("/db/b"), p("/db/c")).unwrap();
            fs.remove_file(p("/db/a")).unwrap();
            fs.crash();
            let state = (
                fs.exists(p("/db/a")),
                fs.exists(p("/db/b")),
                fs.exists(p("/db/c")),
            );
            let prefixes = [
                (true, false, false),
                (true, true, false),
                (true, false, true),
                (false, false, true),
            ];
            assert!(prefixes.contains(&state), "seed {seed}: {state:?}");
            seen.insert(state);
            // An entry survives without its file's unsynced data.
            for name in ["/db/b", "/db/c"] {
                if fs.exists(p(name)) {
                    assert_eq!(fs.read_all(p(name)).unwrap(), b"");
                }
            }
        }
        assert_eq!(seen.len(), 4, "{seen:?}");
        // A synced directory's changes are no longer in the log.
        let fs = setup();
        fs.set_dir_writeback(Some(1));
        fs.create(p("/db/x")).unwrap();
        fs.sync_dir(p("/db")).unwrap();
        fs.remove_file(p("/db/x")).unwrap();
        fs.sync_dir(p("/db")).unwrap();
        fs.crash();
        assert!(!fs.exists(p("/db/x")));
    }

    #[test]
    fn removal_without_dir_sync_comes_back() {
        let fs = setup();
        let mut f = fs.create(p("/db/a")).unwrap();
        f.append(b"keep").unwrap();
        f.sync().unwrap();
        fs.sync_dir(p("/db")).unwrap();
        fs.remove_file(p("/db/a")).unwrap();
        assert!(!fs.exists(p("/db/a")));
        fs.crash();
        assert_eq!(fs.read_all(p("/db/a")).unwrap(), b"keep");
        fs.remove_file(p("/db/a")).unwrap();
        fs.sync_dir(p("/db")).unwrap();
        fs.crash();
        assert!(!fs.exists(p("/db/a")));
    }

    #[test]
    fn unsynced_overwrites_are_undone_and_synced_ones_kept() {
        let fs = setup();
        let mut f = fs.create(p("/db/r")).unwrap();
        f.append(b"old bytes here").unwrap();
        f.sync().unwrap();
        fs.sync_dir(p("/db")).unwrap();
        drop(f);
        let mut f = fs.open_overwrite(p("/db/r")).unwrap();
        f.write_at(0, b"NEW").unwrap();
        f.write_at(12, b"XXXX").unwrap(); // overwrites 2 bytes, extends by 2
        assert_eq!(fs.read_all(p("/db/r")).unwrap(), b"NEW bytes heXXXX");
        fs.crash();
        assert_eq!(fs.read_all(p("/db/r")).unwrap(), b"old bytes here");
        let mut f = fs.open_overwrite(p("/db/r")).unwrap();
        f.write_at(4, b"BYTES").unwrap();
        f.sync().unwrap();
        f.write_at(0, b"lost").unwrap();
        fs.crash();
        assert_eq!(fs.read_all(p("/db/r")).unwrap(), b"old BYTES here");
    }

    #[test]
    fn torn_overwrites_keep_a_prefix_of_the_writes() {
        for seed in 0..40 {
            let fs = setup();
            let mut f = fs.create(p("/db/r")).unwrap();
            f.append(b"aaaa").unwrap();
            f.sync().unwrap();
            fs.sync_dir(p("/db")).unwrap();
            f.write_at(0, b"b").unwrap();
            f.write_at(3, b"cdd").unwrap(); // overwrites 1 byte, extends by 2
            fs.set_torn_writes(Some(seed));
            fs.crash();
            let got = fs.read_all(p("/db/r")).unwrap();
            // Writes persist in order: never the second without the first,
            // never an extension without the overwrite before it.
            assert!(
                [&b"aaaa"[..], b"baaa", b"baac", b"baacd", b"baacdd"].contains(&&got[..]),
                "seed {seed}: {got:?}"
            );
        }
    }

    #[test]
    fn preallocated_zeros_need_a_sync() {
        let fs = setup();
        let mut f = fs.create(p("/db/z")).unwrap();
        f.append(b"head").unwrap();
        f.preallocate(10).unwrap();
        f.preallocate(6).unwrap(); // never shrinks
        assert_eq!(f.len(), 10);
        f.sync().unwrap();
        fs.sync_dir(p("/db")).unwrap();
        f.preallocate(20).unwrap();
        fs.crash();
        assert_eq!(fs.read_all(p("/db/z")).unwrap(), b"head\0\0\0\0\0\0");
    }

    #[test]
    fn crash_points_freeze_and_recover() {
        let fs = setup();
        assert_eq!(fs.points(), 1);
        fs.crash_at_point(3);
        let mut f = fs.create(p("/db/a")).unwrap();
        f.append(b"1").unwrap();
        f.sync().unwrap(); // point 1
        fs.sync_dir(p("/db")).unwrap(); // point 2
        f.append(b"2").unwrap();
        assert!(f.sync().is_err()); // point 3: power lost
        assert!(fs.has_crashed());
        assert!(f.append(b"3").is_err());
        let after = fs.recovered();
        assert_eq!(after.read_all(p("/db/a")).unwrap(), b"1");
    }

    #[test]
    fn torn_writes_keep_a_prefix() {
        let fs = setup();
        fs.set_torn_writes(Some(7));
        let mut f = fs.create(p("/db/a")).unwrap();
        f.sync().unwrap();
        fs.sync_dir(p("/db")).unwrap();
        f.append(&[9u8; 1000]).unwrap();
        fs.crash();
        let data = fs.read_all(p("/db/a")).unwrap();
        assert!(data.len() <= 1000);
        assert!(data.iter().all(|&b| b == 9));
    }

    #[test]
    fn injected_faults_fire_once() {
        let fs = setup();
        let mut f = fs.create(p("/db/a")).unwrap();
        fs.inject(FaultOp::Write, 2, FaultKind::Enospc);
        f.append(b"a").unwrap();
        let e = f.append(b"b").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::StorageFull);
        f.append(b"c").unwrap();
        fs.inject(FaultOp::Sync, 1, FaultKind::Eio);
        assert!(f.sync().is_err());
        f.sync().unwrap();
        assert_eq!(fs.read_all(p("/db/a")).unwrap(), b"ac");
    }

    #[test]
    fn flipped_bytes_read_back_flipped() {
        let fs = setup();
        let mut f = fs.create(p("/db/a")).unwrap();
        f.append(&[0u8; 4]).unwrap();
        fs.flip_byte(p("/db/a"), 2, 0x10).unwrap();
        assert_eq!(fs.read_all(p("/db/a")).unwrap(), vec![0, 0, 0x10, 0]);
        let r = fs.open_read(p("/db/a")).unwrap();
        let mut b = [0u8; 1];
        r.read_exact_at(2, &mut b).unwrap();
        assert_eq!(b[0], 0x10);
    }

    #[test]
    fn locks_are_exclusive_until_dropped() {
        let fs = setup();
        let l = fs.lock(p("/db/LOCK")).unwrap();
        assert_eq!(
            fs.lock(p("/db/LOCK")).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        drop(l);
        fs.lock(p("/db/LOCK")).unwrap();
    }

    #[test]
    fn list_and_remove_dir() {
        let fs = setup();
        fs.create_dir_all(p("/db/t/p0")).unwrap();
        fs.create(p("/db/t/b")).unwrap();
        fs.create(p("/db/t/a")).unwrap();
        assert_eq!(fs.list(p("/db/t")).unwrap(), vec!["a", "b", "p0"]);
        fs.remove_dir_all(p("/db/t")).unwrap();
        assert!(!fs.exists(p("/db/t/a")));
        assert!(fs.list(p("/db/t")).is_err());
    }

    #[test]
    fn write_atomic_survives_crash_only_when_complete() {
        let fs = setup();
        crate::write_atomic(&fs, p("/db/CATALOG"), b"v1").unwrap();
        fs.crash();
        assert_eq!(fs.read_all(p("/db/CATALOG")).unwrap(), b"v1");
        // Crash at each point of a second write: old or new, never partial.
        for k in 0..3 {
            let f2 = fs.recovered();
            f2.crash_at_point(k);
            let _ = crate::write_atomic(&f2, p("/db/CATALOG"), b"version2");
            let got = f2.recovered().read_all(p("/db/CATALOG")).unwrap();
            assert!(got == b"v1" || got == b"version2", "{got:?}");
        }
    }
}
