//! Arbitrary bytes as an SSTable file: opening, iterating both ways, point
//! reads and verify must never panic (errors are fine).
//!
//! The first input byte picks a mode: even = the remaining bytes are the
//! whole file; odd = they are (position, xor) edits applied to a valid
//! table, read with data-block checksums off so that damaged blocks reach
//! the block decoder. Bit 2 of that byte reads the data blocks with `pread`
//! from a file (`ReaderOptions::pread_data_blocks`) instead of from a map,
//! with whatever block handles the input claims.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use strata_sstable::{
    BlockCache, Compression, MapBudget, ReaderOptions, Table, TableBuilder, TableOptions,
};

fn valid_table() -> &'static Vec<u8> {
    static T: OnceLock<Vec<u8>> = OnceLock::new();
    T.get_or_init(|| {
        let fs = strata_fs::FaultFs::new();
        let path = std::path::Path::new("/seed.sst");
        use strata_fs::FileSystem;
        let opts = TableOptions {
            block_size: 128,
            restart_interval: 3,
            compression: Compression::Zstd { level: 1 },
            ..TableOptions::default()
        };
        let mut b = TableBuilder::new(fs.create(path).unwrap(), path.to_path_buf(), opts);
        for i in 0..200u32 {
            let k = format!("key{:05}", i * 7);
            b.add(k.as_bytes(), &i.to_le_bytes().repeat(i as usize % 9))
                .unwrap();
        }
        b.finish().unwrap();
        fs.read_all(path).unwrap()
    })
}

fn exercise(bytes: Vec<u8>, verify_checksums: bool, pread: bool, probes: &[u8]) {
    let cache = BlockCache::new(1 << 20);
    // A one-window budget: every block read from the map goes through the
    // residency accounting, with whatever block handles the input claims.
    let ro = ReaderOptions {
        cache: Some(cache),
        verify_checksums,
        map_budget: Some(MapBudget::new(1)),
        pread_data_blocks: pread,
    };
    let opened = if pread {
        use strata_fs::FileSystem;
        let fs = strata_fs::FaultFs::new();
        let path = std::path::Path::new("/fuzz.sst");
        let Ok(mut f) = fs.create(path) else {
            return;
        };
        if f.append(&bytes).is_err() {
            return;
        }
        let fs: std::sync::Arc<dyn FileSystem> = std::sync::Arc::new(fs);
        Table::open(&fs, path, 1, ro)
    } else {
        Table::open_bytes(bytes, PathBuf::from("/fuzz.sst"), 1, ro)
    };
    let Ok(t) = opened else {
        return;
    };
    let _ = t.verify();
    let mut it = t.iter();
    let mut keys = Vec::new();
    if it.seek_to_first().is_ok() {
        let mut steps = 0;
        while it.valid() && steps < 10_000 {
            if keys.len() < 64 {
                keys.push(it.key().to_vec());
            }
            let _ = it.value();
            if it.next().is_err() {
                break;
            }
            steps += 1;
        }
    }
    if it.seek_to_last().is_ok() {
        let mut steps = 0;
        while it.valid() && steps < 10_000 {
            if it.prev().is_err() {
                break;
            }
            steps += 1;
        }
    }
    keys.push(probes.to_vec());
    for k in &keys {
        let _ = t.get(k);
        let _ = t.may_contain(k);
        let _ = it.seek(k);
        let _ = it.prev();
        let _ = it.seek_for_prev(k);
        let _ = it.next();
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        exercise(
            rest.to_vec(),
            mode % 4 == 0,
            mode & 4 != 0,
            rest.get(..8).unwrap_or(rest),
        );
    } else {
        let mut bytes = valid_table().clone();
        for edit in rest.chunks(3) {
            if let [hi, lo, x] = edit {
                let pos = (usize::from(*hi) << 8 | usize::from(*lo)) % bytes.len();
                bytes[pos] ^= *x;
            }
        }
        exercise(bytes, false, mode & 4 != 0, rest.get(..8).unwrap_or(rest));
    }
});
