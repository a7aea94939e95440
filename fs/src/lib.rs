//! The one small file-system interface all of Strata's file I/O goes through.
//!
//! `strata-wal`, `strata-sstable` and `strata-engine` never touch `std::fs`
//! directly: they take an `Arc<dyn FileSystem>` from their options. The default,
//! [`RealFs`], is a thin pass-through to the operating system. [`FaultFs`] is an
//! in-memory implementation for tests that remembers, per file and per directory,
//! what has been made durable, so that [`FaultFs::crash`] can simulate a power
//! loss (unsynced appends vanish, unsynced renames/creations/deletions are undone),
//! and that can inject `EIO`/`ENOSPC` and flipped bytes.
//!
//! The interface is deliberately append-only for writes: every Strata file is
//! written front to back once (WAL segments, SSTables, manifests), optionally
//! cut back with [`FileSystem::truncate`] during WAL recovery.
//!
//! ```
//! use std::sync::Arc;
//! use strata_fs::{FileSystem, RealFs};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let fs: Arc<dyn FileSystem> = Arc::new(RealFs::new());
//! let path = dir.path().join("hello.txt");
//! let mut f = fs.create(&path).unwrap();
//! f.append(b"hello").unwrap();
//! f.sync().unwrap();
//! fs.sync_dir(dir.path()).unwrap();
//! assert_eq!(&fs.read_all(&path).unwrap()[..], b"hello");
//! ```

mod fault;
mod real;

use std::fmt::Debug;
use std::io;
use std::path::Path;
use std::sync::Arc;

pub use fault::{FaultFs, FaultKind, FaultOp};
pub use real::RealFs;

/// A file open for appending. Writes go straight to the file system (no
/// buffering in this layer); callers buffer if they want to.
pub trait WritableFile: Send + Sync + Debug {
    /// Appends all of `data` at the end of the file.
    fn append(&mut self, data: &[u8]) -> io::Result<()>;
    /// Makes everything appended so far durable (`fdatasync`).
    fn sync(&mut self) -> io::Result<()>;
    /// Writes all of `data` at `offset`, over whatever bytes are there,
    /// extending the file if it runs past the end (a gap before `offset`
    /// reads as zeros). Durable after [`WritableFile::sync`], like appends;
    /// until then a power loss may leave the old bytes. Files opened with
    /// [`FileSystem::create`] or [`FileSystem::open_overwrite`] support it;
    /// the default (and files opened with [`FileSystem::open_append`]) fail
    /// with `Unsupported`.
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        let _ = (offset, data);
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "positional writes are not supported on this file",
        ))
    }
    /// Makes the file at least `len` bytes long, the new bytes zero, with
    /// their blocks allocated up front (written as zeros by the real file
    /// system, see its notes on `fallocate`), so that later writes into them
    /// need not change the file's size or allocation (and `fdatasync` need not
    /// commit metadata).
    /// The new length is durable after the next [`WritableFile::sync`]. Does
    /// nothing when the file is already as long. The default extends the
    /// file by writing zeros at its end.
    fn preallocate(&mut self, len: u64) -> io::Result<()> {
        let cur = self.len();
        if cur >= len {
            return Ok(());
        }
        let zeros = vec![
            0u8;
            usize::try_from(len - cur)
                .unwrap_or(usize::MAX)
                .min(1 << 20)
        ];
        let mut at = cur;
        while at < len {
            let n = usize::try_from(len - at)
                .unwrap_or(usize::MAX)
                .min(zeros.len());
            self.append(&zeros[..n])?;
            at += n as u64;
        }
        Ok(())
    }
    /// The current length of the file in bytes (including unsynced writes).
    fn len(&self) -> u64;
    /// True when the file is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// A handle that makes this file's data durable independently of this one
    /// (a duplicate of its descriptor), so that one thread can fsync while
    /// others keep writing through this handle: what a write-ahead log's
    /// background sync needs so that it holds up no appender. A sync through it
    /// covers every write that completed before the sync began. `None` (the
    /// default) when the file system has no such handle.
    ///
    /// ```
    /// use strata_fs::{FileSystem, RealFs};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let mut file = RealFs::new().create(&dir.path().join("log"))?;
    /// let syncer = file.sync_handle()?.expect("the real file system has one");
    /// file.append(b"record")?;
    /// std::thread::scope(|s| {
    ///     let sync = s.spawn(|| syncer.sync());
    ///     file.append(b"another")?; // goes on while the sync runs
    ///     sync.join().expect("no panic")
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn sync_handle(&self) -> io::Result<Option<Box<dyn FileSync>>> {
        Ok(None)
    }
}

/// Makes a file's data durable; see [`WritableFile::sync_handle`].
pub trait FileSync: Send + Sync + Debug {
    /// `fdatasync` of the file.
    fn sync(&self) -> io::Result<()>;
}

/// A file open for positional reads.
pub trait RandomAccessFile: Send + Sync + Debug {
    /// Reads up to `buf.len()` bytes at `offset`; returns how many were read
    /// (fewer only at the end of the file).
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
    /// Reads exactly `buf.len()` bytes at `offset`, or fails with `UnexpectedEof`.
    fn read_exact_at(&self, mut offset: u64, mut buf: &mut [u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let n = self.read_at(offset, buf)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "read past the end of the file",
                ));
            }
            offset += n as u64;
            buf = &mut buf[n..];
        }
        Ok(())
    }
    /// The length of the file in bytes.
    fn len(&self) -> u64;
    /// True when the file is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The immutable bytes of a whole file, memory-mapped by [`RealFs`] and held in
/// memory by [`FaultFs`]. Used for SSTables, which never change once written.
pub trait MappedFile: Send + Sync + Debug {
    /// All bytes of the file.
    fn bytes(&self) -> &[u8];

    /// A hint that this process is done with `len` bytes from `offset` for now:
    /// a memory map drops the pages from the process (they stop counting toward
    /// its resident memory) while the bytes stay the same; a later read brings
    /// them back from the page cache or the disk. Used behind a one-pass reader
    /// such as a compaction. Does nothing by default (bytes held in memory).
    fn release(&self, offset: usize, len: usize) {
        let _ = (offset, len);
    }
}

/// A held advisory lock on a file; released when dropped.
pub trait FileLock: Send + Sync + Debug {}

/// The file-system interface. Paths are ordinary [`Path`]s; implementations
/// decide what they mean (the OS, or an in-memory tree).
pub trait FileSystem: Send + Sync + Debug + 'static {
    /// Creates `path` (truncating it if it exists) and opens it for appending.
    /// The new directory entry is durable only after [`FileSystem::sync_dir`]
    /// on the parent.
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>>;
    /// Opens an existing file for appending at its end.
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WritableFile>>;
    /// Opens an existing file for writing anywhere in it with
    /// [`WritableFile::write_at`], keeping its bytes (no truncation);
    /// [`WritableFile::append`] writes at its end. Used to reuse a file's
    /// allocated blocks (a recycled WAL segment).
    fn open_overwrite(&self, path: &Path) -> io::Result<Box<dyn WritableFile>>;
    /// Opens an existing file for positional reads.
    fn open_read(&self, path: &Path) -> io::Result<Arc<dyn RandomAccessFile>>;
    /// Maps an existing file's bytes for reading (a memory map on the real file
    /// system). The file must not change while mapped.
    fn map(&self, path: &Path) -> io::Result<Arc<dyn MappedFile>>;
    /// Reads a whole file into memory.
    fn read_all(&self, path: &Path) -> io::Result<Vec<u8>> {
        let f = self.open_read(path)?;
        let len = usize::try_from(f.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "file too large"))?;
        let mut buf = vec![0u8; len];
        f.read_exact_at(0, &mut buf)?;
        Ok(buf)
    }
    /// Cuts `path` to `len` bytes and makes the new length durable.
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()>;
    /// Atomically renames `from` to `to`, replacing `to`. Durable only after
    /// [`FileSystem::sync_dir`] on the parent directory (or directories).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file. Durable only after [`FileSystem::sync_dir`] on the parent.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Removes a directory and everything in it.
    fn remove_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Creates a directory and its missing parents. New directories are durable
    /// only after [`FileSystem::sync_dir`] on their parents.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Lists the names of the entries (files and directories) in `dir`, sorted.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// True when `path` exists (file or directory).
    fn exists(&self, path: &Path) -> bool;
    /// True when `path` exists and is a directory.
    fn is_dir(&self, path: &Path) -> bool;
    /// The size of a file in bytes.
    fn file_size(&self, path: &Path) -> io::Result<u64>;
    /// Makes the directory's entries (creations, renames, removals) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Takes an exclusive lock on `path` (creating it if needed). Fails with
    /// `WouldBlock` if another holder (another process, for [`RealFs`]) has it.
    fn lock(&self, path: &Path) -> io::Result<Box<dyn FileLock>>;
}

/// Writes `data` to `path` atomically: to `path.tmp`, fsync, rename over
/// `path`, fsync the directory. Used for small files that replace others
/// (catalogs, manifests snapshots, CURRENT pointers).
pub fn write_atomic(fs: &dyn FileSystem, path: &Path, data: &[u8]) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    {
        let mut f = fs.create(&tmp)?;
        f.append(data)?;
        f.sync()?;
    }
    fs.rename(&tmp, path)?;
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    fs.sync_dir(parent)
}

/// The default file system: the operating system's.
pub fn default_fs() -> Arc<dyn FileSystem> {
    Arc::new(RealFs::new())
}
