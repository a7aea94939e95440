//! The one-pass cursor (`Table::iter_sequential`, a compaction's reader): the
//! same entries as a normal cursor, nothing added to the block cache, and the
//! mapped bytes behind it released as it goes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use common::*;
use strata_fs::MappedFile;
use strata_sstable::{BlockCache, ReaderOptions, Table, TableOptions};

/// Bytes in memory that record every release.
#[derive(Debug)]
struct Recording {
    bytes: Vec<u8>,
    released: Mutex<Vec<(usize, usize)>>,
}

impl MappedFile for Recording {
    fn bytes(&self) -> &[u8] {
        &self.bytes
    }
    fn release(&self, offset: usize, len: usize) {
        self.released.lock().unwrap().push((offset, len));
    }
}

fn entries(n: usize) -> Vec<Kv> {
    (0..n)
        .map(|i| (format!("key{i:08}").into_bytes(), vec![b'v'; 100]))
        .collect()
}

#[test]
fn sequential_cursor_reads_everything_releases_behind_and_leaves_the_cache_alone() {
    let kvs = entries(40_000); // about 4.6 MB of data blocks
    let bytes = table_bytes(&kvs, TableOptions::default());
    let map = Arc::new(Recording {
        bytes,
        released: Mutex::new(Vec::new()),
    });
    let cache = BlockCache::new(64 << 20);
    let opts = ReaderOptions {
        cache: Some(Arc::clone(&cache)),
        ..ReaderOptions::default()
    };
    let map_dyn: Arc<dyn MappedFile> = map.clone();
    let t = Table::open_mapped(map_dyn, PathBuf::from("/t.sst"), 1, opts).unwrap();

    let mut it = t.iter_sequential();
    it.seek_to_first().unwrap();
    let mut n = 0;
    while it.valid() {
        assert_eq!(it.key(), kvs[n].0.as_slice());
        assert_eq!(it.value(), kvs[n].1.as_slice());
        n += 1;
        it.next().unwrap();
    }
    assert_eq!(n, kvs.len());
    assert_eq!(cache.usage(), 0, "a one-pass read filled the cache");

    // Released in order, contiguous from the start, in steps of at least 1 MiB,
    // and only bytes already passed (the data region is about 4.6 MB).
    let released = map.released.lock().unwrap().clone();
    assert!(released.len() >= 3, "{released:?}");
    let mut end = 0;
    for &(off, len) in &released {
        assert_eq!(off, end, "{released:?}");
        assert!(len >= 1 << 20, "{released:?}");
        end = off + len;
    }
    assert!(end <= map.bytes.len());

    // Reading it again after the release still gives the same bytes.
    let mut it = t.iter_sequential();
    it.seek(b"key00000123").unwrap();
    assert_eq!(it.key(), b"key00000123");

    // A normal cursor fills the cache and releases nothing more.
    let before = map.released.lock().unwrap().len();
    let mut it = t.iter();
    it.seek_to_first().unwrap();
    while it.valid() {
        it.next().unwrap();
    }
    assert!(cache.usage() > 0);
    assert_eq!(map.released.lock().unwrap().len(), before);
}
