//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use strata_fs::{FaultFs, FileLock, FileSystem, MappedFile, RandomAccessFile, WritableFile};
use strata_wal::{Lsn, Wal, WalOptions};

pub const DIR: &str = "/db/wal";

pub fn dir() -> &'static Path {
    Path::new(DIR)
}

/// A FaultFs with a durable `/db`.
pub fn fault_fs() -> FaultFs {
    let fs = FaultFs::new();
    fs.create_dir_all(Path::new("/db")).unwrap();
    fs.sync_dir(Path::new("/")).unwrap();
    fs
}

/// Options on `fs`, with the background flusher off (tests sync explicitly).
pub fn opts_on(fs: Arc<dyn FileSystem>) -> WalOptions {
    WalOptions {
        fs,
        buffered_sync_interval: Duration::ZERO,
        // File sizes in these tests are what was written (plus the 8-byte
        // end marker); `recycle.rs` covers preallocation.
        preallocate: 0,
        ..WalOptions::default()
    }
}

pub fn opts(fs: &FaultFs) -> WalOptions {
    opts_on(Arc::new(fs.clone()))
}

/// The bytes of the end marker a writer keeps after its last record.
pub const MARKER: usize = 8;

/// A deterministic payload for record `i` of length `len`.
pub fn payload(i: u64, len: usize) -> Vec<u8> {
    let mut x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5555;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Every record of the log.
pub fn read_all(wal: &Wal) -> Vec<(Lsn, Vec<u8>)> {
    wal.iter_from(0)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

pub fn segment_files(fs: &dyn FileSystem, dir: &Path) -> Vec<PathBuf> {
    fs.list(dir)
        .unwrap()
        .into_iter()
        .filter(|n| n.ends_with(".wal"))
        .map(|n| dir.join(n))
        .collect()
}

/// What a wrapped file system does to writes and syncs.
#[derive(Debug, Default)]
pub struct Behaviour {
    /// Sleep in every file sync (to make group commit observable).
    pub sync_delay: Option<Duration>,
    /// When set, the next append writes the first half of its data and then fails.
    pub tear_next_append: AtomicBool,
}

/// A file system that delegates to another and changes writes per [`Behaviour`].
#[derive(Debug, Clone)]
pub struct Wrapped {
    pub inner: Arc<dyn FileSystem>,
    pub behaviour: Arc<Behaviour>,
}

#[derive(Debug)]
struct WrappedFile {
    inner: Box<dyn WritableFile>,
    behaviour: Arc<Behaviour>,
}

impl WritableFile for WrappedFile {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        if self
            .behaviour
            .tear_next_append
            .swap(false, Ordering::SeqCst)
        {
            self.inner.append(&data[..data.len() / 2])?;
            return Err(io::Error::other(
                "torn write: half of the data reached the file",
            ));
        }
        self.inner.append(data)
    }
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        if self
            .behaviour
            .tear_next_append
            .swap(false, Ordering::SeqCst)
        {
            self.inner.write_at(offset, &data[..data.len() / 2])?;
            return Err(io::Error::other(
                "torn write: half of the data reached the file",
            ));
        }
        self.inner.write_at(offset, data)
    }
    fn preallocate(&mut self, len: u64) -> io::Result<()> {
        self.inner.preallocate(len)
    }
    fn sync(&mut self) -> io::Result<()> {
        if let Some(d) = self.behaviour.sync_delay {
            std::thread::sleep(d);
        }
        self.inner.sync()
    }
    fn len(&self) -> u64 {
        self.inner.len()
    }
}

impl FileSystem for Wrapped {
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        Ok(Box::new(WrappedFile {
            inner: self.inner.create(path)?,
            behaviour: Arc::clone(&self.behaviour),
        }))
    }
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        Ok(Box::new(WrappedFile {
            inner: self.inner.open_append(path)?,
            behaviour: Arc::clone(&self.behaviour),
        }))
    }
    fn open_overwrite(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        Ok(Box::new(WrappedFile {
            inner: self.inner.open_overwrite(path)?,
            behaviour: Arc::clone(&self.behaviour),
        }))
    }
    fn open_read(&self, path: &Path) -> io::Result<Arc<dyn RandomAccessFile>> {
        self.inner.open_read(path)
    }
    fn map(&self, path: &Path) -> io::Result<Arc<dyn MappedFile>> {
        self.inner.map(path)
    }
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        self.inner.truncate(path, len)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.inner.rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.inner.remove_file(path)
    }
    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        self.inner.remove_dir_all(path)
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.inner.create_dir_all(path)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.inner.list(dir)
    }
    fn exists(&self, path: &Path) -> bool {
        self.inner.exists(path)
    }
    fn is_dir(&self, path: &Path) -> bool {
        self.inner.is_dir(path)
    }
    fn file_size(&self, path: &Path) -> io::Result<u64> {
        self.inner.file_size(path)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.inner.sync_dir(dir)
    }
    fn lock(&self, path: &Path) -> io::Result<Box<dyn FileLock>> {
        self.inner.lock(path)
    }
}
