//! Arbitrary entries (sorted and deduplicated) and options: the table built
//! from them reads back exactly, forwards, backwards and by point lookups,
//! and verifies.
#![no_main]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use strata_fs::{FaultFs, FileSystem};
use strata_sstable::{BlockCache, Compression, ReaderOptions, Table, TableBuilder, TableOptions};

fuzz_target!(|input: (u16, u8, u8, Vec<(Vec<u8>, Vec<u8>)>)| {
    let (block_size, restart, flags, raw) = input;
    let model: BTreeMap<Vec<u8>, Vec<u8>> = raw.into_iter().collect();
    let opts = TableOptions {
        block_size: usize::from(block_size % 8192) + 1,
        restart_interval: usize::from(restart % 32) + 1,
        compression: if flags & 1 == 1 {
            Compression::Zstd { level: 1 }
        } else {
            Compression::None
        },
        bloom_bits_per_key: if flags & 2 == 2 {
            0
        } else {
            u32::from(flags >> 4) + 1
        },
        filter_ignore_suffix: usize::from((flags >> 2) & 3),
    };
    let fs: Arc<dyn FileSystem> = Arc::new(FaultFs::new());
    let path = Path::new("/rt.sst");
    let mut b = TableBuilder::new(fs.create(path).unwrap(), path.to_path_buf(), opts);
    for (k, v) in &model {
        b.add(k, v).unwrap();
    }
    let info = b.finish().unwrap();
    assert_eq!(info.entries, model.len() as u64);
    let ro = ReaderOptions {
        cache: Some(BlockCache::new(1 << 20)),
        ..ReaderOptions::default()
    };
    let t = Table::open(&fs, path, 1, ro).unwrap();
    t.verify().unwrap();
    let mut it = t.iter();
    it.seek_to_first().unwrap();
    for (k, v) in &model {
        assert!(it.valid());
        assert_eq!((it.key(), it.value()), (k.as_slice(), v.as_slice()));
        it.next().unwrap();
    }
    assert!(!it.valid());
    it.seek_to_last().unwrap();
    for (k, _) in model.iter().rev() {
        assert_eq!(it.key(), k.as_slice());
        it.prev().unwrap();
    }
    assert!(!it.valid());
    for (k, v) in &model {
        assert_eq!(t.get(k).unwrap().as_ref(), Some(v));
        let mut above = k.clone();
        above.push(0);
        it.seek(&above).unwrap();
        let want = model.range(above.clone()..).next().map(|e| e.0.as_slice());
        assert_eq!(it.valid().then(|| it.key()), want);
        if !model.contains_key(&above) {
            assert_eq!(t.get(&above).unwrap(), None);
        }
    }
});
