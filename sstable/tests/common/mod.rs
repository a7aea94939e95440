//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use strata_fs::{FaultFs, FileSystem};
use strata_sstable::{ReaderOptions, SstError, Table, TableBuilder, TableInfo, TableOptions};

pub type Kv = (Vec<u8>, Vec<u8>);

/// Builds a table of `entries` (sorted, unique) at `path` on `fs`.
pub fn build(
    fs: &Arc<dyn FileSystem>,
    path: &Path,
    entries: &[Kv],
    opts: TableOptions,
) -> TableInfo {
    build_hinted(fs, path, entries, opts, None)
}

/// As [`build`], telling the builder `hint` keys up front when given
/// (`TableBuilder::expect_keys`).
pub fn build_hinted(
    fs: &Arc<dyn FileSystem>,
    path: &Path,
    entries: &[Kv],
    opts: TableOptions,
    hint: Option<u64>,
) -> TableInfo {
    if let Some(parent) = path.parent() {
        fs.create_dir_all(parent).unwrap();
    }
    let mut b = TableBuilder::new(fs.create(path).unwrap(), path.to_path_buf(), opts);
    b.set_seqno_range(3, 99);
    if let Some(n) = hint {
        b.expect_keys(n);
    }
    for (k, v) in entries {
        b.add(k, v).unwrap();
    }
    b.finish().unwrap()
}

/// A fresh in-memory file system and the bytes of a table built on it.
pub fn table_bytes(entries: &[Kv], opts: TableOptions) -> Vec<u8> {
    table_bytes_hinted(entries, opts, None)
}

/// As [`table_bytes`], telling the builder `hint` keys up front when given.
pub fn table_bytes_hinted(entries: &[Kv], opts: TableOptions, hint: Option<u64>) -> Vec<u8> {
    let fs: Arc<dyn FileSystem> = Arc::new(FaultFs::new());
    let path = PathBuf::from("/t.sst");
    build_hinted(&fs, &path, entries, opts, hint);
    fs.read_all(&path).unwrap()
}

pub fn open_bytes(bytes: Vec<u8>) -> Result<Arc<Table>, SstError> {
    Table::open_bytes(bytes, PathBuf::from("/t.sst"), 1, ReaderOptions::default())
}

/// All entries by forward iteration.
pub fn scan(t: &Arc<Table>) -> Result<Vec<Kv>, SstError> {
    let mut out = Vec::new();
    let mut it = t.iter();
    it.seek_to_first()?;
    while it.valid() {
        out.push((it.key().to_vec(), it.value().to_vec()));
        it.next()?;
    }
    Ok(out)
}

/// All entries by backward iteration (returned in forward order).
pub fn scan_rev(t: &Arc<Table>) -> Result<Vec<Kv>, SstError> {
    let mut out = Vec::new();
    let mut it = t.iter();
    it.seek_to_last()?;
    while it.valid() {
        out.push((it.key().to_vec(), it.value().to_vec()));
        it.prev()?;
    }
    out.reverse();
    Ok(out)
}

/// Entries with keys `key{i:08}` and values of `vlen` bytes derived from `i`.
pub fn numbered(n: usize, vlen: usize) -> Vec<Kv> {
    (0..n)
        .map(|i| {
            let k = format!("key{i:08}").into_bytes();
            let v = (0..vlen).map(|j| (i * 31 + j) as u8).collect();
            (k, v)
        })
        .collect()
}
