//! Damaged files: every flipped byte and every truncation is reported as an
//! error (from open, get, iteration or verify), never returned as data, never
//! a panic. Crashes and I/O errors while writing, through `FaultFs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::*;
use strata_fs::{FaultFs, FaultKind, FaultOp, FileSystem};
use strata_sstable::{Compression, ReaderOptions, SstError, Table, TableBuilder, TableOptions};

/// Where each region of a table file is (reconstructed from its properties).
struct Layout {
    data_end: usize,
    filter: Option<(usize, usize)>,
    index: (usize, usize),
    props: (usize, usize),
    footer: usize,
}

fn layout(bytes: &[u8]) -> Layout {
    let t = open_bytes(bytes.to_vec()).unwrap();
    let p = t.properties();
    let footer = bytes.len() - 76;
    let data_end = p.data_bytes as usize;
    let filter = (p.filter_bytes > 0).then(|| {
        let start = data_end.div_ceil(64) * 64;
        (start, start + p.filter_bytes as usize + 6)
    });
    let index_start = filter.map_or(data_end, |f| f.1);
    let index = (index_start, index_start + p.index_bytes as usize + 6);
    Layout {
        data_end,
        filter,
        index,
        props: (index.1, footer),
        footer,
    }
}

/// Opens and reads a damaged table: open fails, or every read returns the
/// right data or an error, and verify fails.
fn check_damaged(bytes: Vec<u8>, entries: &[Kv], what: &str) {
    let t = match open_bytes(bytes) {
        Err(e) => {
            assert!(
                e.to_string().contains("/t.sst"),
                "{what}: error lacks the path: {e}"
            );
            return;
        }
        Ok(t) => t,
    };
    // Point reads: the right value or an error, never a wrong answer.
    for (k, v) in entries {
        match t.get(k) {
            Ok(Some(got)) => assert_eq!(&got, v, "{what}: wrong value for {k:?}"),
            Ok(None) => panic!("{what}: present key {k:?} not found and no error"),
            Err(_) => {}
        }
    }
    // A forward scan: a prefix of the entries, then an error, or all of them.
    if let Ok(all) = scan(&t) {
        assert_eq!(all, entries, "{what}: scan returned wrong data");
    }
    if let Ok(all) = scan_rev(&t) {
        assert_eq!(all, entries, "{what}: reverse scan returned wrong data");
    }
    assert!(t.verify().is_err(), "{what}: verify passed a damaged file");
}

/// A table of `entries` in 256-byte blocks with a filter of `bloom_bits`
/// bits per key (0: none).
fn small_blocks(entries: &[Kv], bloom_bits: u32) -> Vec<u8> {
    table_bytes(
        entries,
        TableOptions {
            block_size: 256,
            bloom_bits_per_key: bloom_bits,
            ..TableOptions::default()
        },
    )
}

/// The offsets of the data-block problems among `errs`.
fn data_block_offsets(errs: &[SstError]) -> Vec<u64> {
    errs.iter()
        .filter_map(|e| match e {
            SstError::Corruption { offset, reason, .. } if reason.contains("data block") => {
                Some(*offset)
            }
            _ => None,
        })
        .collect()
}

fn test_entries() -> Vec<Kv> {
    numbered(120, 24)
}

fn option_sets() -> Vec<TableOptions> {
    vec![
        TableOptions {
            block_size: 256,
            ..TableOptions::default()
        },
        TableOptions {
            block_size: 256,
            compression: Compression::Zstd { level: 1 },
            restart_interval: 4,
            ..TableOptions::default()
        },
        TableOptions {
            block_size: 256,
            bloom_bits_per_key: 0,
            ..TableOptions::default()
        },
    ]
}

#[test]
fn every_flipped_byte_is_detected() {
    let entries = test_entries();
    for opts in option_sets() {
        let good = table_bytes(&entries, opts.clone());
        let l = layout(&good);
        assert!(l.data_end > 1000, "several data blocks");
        for pos in 0..good.len() {
            for mask in [0x01u8, 0x80] {
                let mut bad = good.clone();
                bad[pos] ^= mask;
                check_damaged(bad, &entries, &format!("{opts:?}: flip {mask:#x} at {pos}"));
            }
        }
    }
}

/// Opens a damaged table and reads it the way a database does (open, then
/// a full forward scan, a full reverse scan and a point read of every key;
/// no `verify`). Returns true when some step failed; panics if any step
/// returned data other than the original entries.
fn normal_reads_fail(bytes: Vec<u8>, entries: &[Kv], what: &str) -> bool {
    let t = match open_bytes(bytes) {
        Err(e) => {
            assert!(e.is_corruption(), "{what}: not a corruption error: {e}");
            return true;
        }
        Ok(t) => t,
    };
    let mut failed = false;
    match scan(&t) {
        Ok(all) => assert_eq!(all, entries, "{what}: scan returned wrong data"),
        Err(_) => failed = true,
    }
    match scan_rev(&t) {
        Ok(all) => assert_eq!(all, entries, "{what}: reverse scan returned wrong data"),
        Err(_) => failed = true,
    }
    for (k, v) in entries {
        match t.get(k) {
            Ok(Some(got)) => assert_eq!(&got, v, "{what}: wrong value for {k:?}"),
            Ok(None) => panic!("{what}: present key {k:?} not found and no error"),
            Err(_) => failed = true,
        }
    }
    failed
}

/// Every byte of a table is guarded by a check on the normal read path
/// (a block CRC, the footer CRC, the zero padding check, the layout checks):
/// a flipped bit anywhere — data blocks, trailers, padding, filter, index,
/// properties, footer — makes open or a full read fail, without `verify`
/// and its whole-file checksum. Every trial reads back exactly the original
/// entries where it reads at all.
#[test]
fn every_flipped_byte_fails_the_normal_read_path() {
    let entries = test_entries();
    let mut trials = 0usize;
    let mut padded = 0usize;
    for opts in option_sets() {
        let good = table_bytes(&entries, opts.clone());
        let l = layout(&good);
        if let Some((fstart, _)) = l.filter {
            padded += fstart - l.data_end;
        }
        assert!(!normal_reads_fail(good.clone(), &entries, "intact"));
        for pos in 0..good.len() {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut bad = good.clone();
                bad[pos] ^= mask;
                let what = format!("{opts:?}: flip {mask:#x} at {pos}");
                assert!(
                    normal_reads_fail(bad, &entries, &what),
                    "{what}: undetected"
                );
                trials += 1;
            }
        }
    }
    assert!(padded > 0, "the option sets must produce filter padding");
    assert!(trials > 10_000, "{trials} trials");
}

/// The padding before the filter block is checked at open, with the offset of
/// the damaged byte.
#[test]
fn damaged_filter_padding_is_reported_at_open() {
    let entries = test_entries();
    let good = small_blocks(&entries, 10);
    let l = layout(&good);
    let (fstart, _) = l.filter.unwrap();
    assert!(fstart > l.data_end, "this table has padding");
    for pos in l.data_end..fstart {
        let mut bad = good.clone();
        bad[pos] = 0x20;
        match open_bytes(bad).unwrap_err() {
            SstError::Corruption { offset, reason, .. } => {
                assert_eq!(offset, pos as u64);
                assert!(reason.contains("padding"), "{reason}");
            }
            other => panic!("{other}"),
        }
    }
}

/// `verify_all` reports every damaged data block, not only the first.
#[test]
fn verify_all_reports_each_damaged_block() {
    let entries = test_entries();
    let good = small_blocks(&entries, 0);
    let t = open_bytes(good.clone()).unwrap();
    assert!(t.verify_all().is_empty());
    let blocks = t.properties().data_blocks;
    assert!(blocks >= 4);
    // Damage two different data blocks, first one at a time (to learn
    // each block's offset from its error), then both together.
    let mut offsets = Vec::new();
    for pos in [300usize, 900] {
        let mut bad = good.clone();
        bad[pos] ^= 0x04;
        let t = open_bytes(bad).unwrap();
        let errs = t.verify_all();
        let block_errs = data_block_offsets(&errs);
        assert_eq!(block_errs.len(), 1, "{errs:?}");
        assert!(block_errs[0] <= pos as u64);
        assert!(errs.iter().any(|e| e.to_string().contains("whole-file")));
        offsets.push(block_errs[0]);
    }
    assert_ne!(offsets[0], offsets[1]);
    let mut bad = good.clone();
    bad[300] ^= 0x04;
    bad[900] ^= 0x04;
    let t = open_bytes(bad).unwrap();
    let errs = t.verify_all();
    assert_eq!(data_block_offsets(&errs), offsets, "{errs:?}");
}

#[test]
fn each_region_fails_where_expected() {
    let entries = test_entries();
    let good = small_blocks(&entries, 10);
    let l = layout(&good);
    let (fstart, fend) = l.filter.unwrap();
    // Filter, index, properties and footer damage is caught at open.
    for pos in (fstart..fend)
        .chain(l.index.0..l.index.1)
        .chain(l.props.0..l.props.1)
        .chain(l.footer..good.len())
    {
        let mut bad = good.clone();
        bad[pos] ^= 0x10;
        let e = open_bytes(bad).unwrap_err();
        assert!(
            e.is_corruption() || matches!(e, SstError::UnsupportedVersion { .. }),
            "{pos}: {e}"
        );
    }
    // Data block damage: open succeeds, reading the block fails with the
    // file and an offset inside the damaged block.
    let pos = 300; // inside the second data block
    let mut bad = good.clone();
    bad[pos] ^= 0x10;
    let t = open_bytes(bad).unwrap();
    let e = scan(&t).unwrap_err();
    match &e {
        SstError::Corruption {
            path,
            offset,
            reason,
        } => {
            assert_eq!(path, Path::new("/t.sst"));
            assert!(*offset <= pos as u64 && pos as u64 - *offset < 300, "{e}");
            assert!(reason.contains("checksum"), "{e}");
        }
        other => panic!("{other}"),
    }
    assert!(t.verify().is_err());
}

#[test]
fn every_truncation_is_detected() {
    let entries = test_entries();
    for opts in option_sets() {
        let good = table_bytes(&entries, opts);
        for len in 0..good.len() {
            let e = open_bytes(good[..len].to_vec()).unwrap_err();
            assert!(e.is_corruption(), "len {len}: {e}");
        }
        // Extra bytes at the end also break the footer.
        let mut longer = good.clone();
        longer.push(0);
        assert!(open_bytes(longer).is_err());
    }
}

/// An intact block read from the wrong place fails: the CRC covers the
/// block's offset.
#[test]
fn a_valid_block_in_the_wrong_place_fails() {
    // Equal-sized entries give equal-sized blocks.
    let entries: Vec<Kv> = (0..64u32)
        .map(|i| (format!("k{i:04}").into_bytes(), vec![b'v'; 40]))
        .collect();
    let opts = TableOptions {
        block_size: 200,
        restart_interval: 1,
        ..TableOptions::default()
    };
    let good = table_bytes(&entries, opts);
    let t = open_bytes(good.clone()).unwrap();
    // Find two data blocks of the same stored size: blocks 0 and 1.
    let stored = t.properties().data_bytes as usize / t.properties().data_blocks as usize;
    let mut bad = good.clone();
    let (a, b) = (0..stored, stored..2 * stored);
    let copy = good[a].to_vec();
    bad[b].copy_from_slice(&copy);
    let t = open_bytes(bad).unwrap();
    // Keys of block 0 still read fine; keys of block 1 must fail, not read
    // block 0's entries as if they were block 1's.
    assert_eq!(t.get(&entries[0].0).unwrap().unwrap(), entries[0].1);
    let in_second = &entries[entries.len() / (t.properties().data_blocks as usize) + 1].0;
    let e = t.get(in_second).unwrap_err();
    assert!(e.to_string().contains("checksum"), "{e}");
}

#[test]
fn unknown_block_flags_are_rejected() {
    // Rewrite the first data block's trailer with flags = 1 and a matching CRC.
    let entries = test_entries();
    let good = small_blocks(&entries, 10);
    // Parse block 0's size from the index via a clean open: the first block
    // ends where its trailer starts; find it by scanning candidate sizes.
    let mut found = false;
    for size in 4..1000usize {
        let trailer = &good[size..size + 6];
        let mut h = crc32fast::Hasher::new();
        h.update(&good[..size]);
        h.update(&trailer[..2]);
        h.update(&0u64.to_le_bytes());
        let c = h.finalize();
        let masked = c.rotate_right(15).wrapping_add(0xa282_ead8);
        if trailer[0] == 0 && trailer[1] == 0 && trailer[2..6] == masked.to_le_bytes() {
            let mut bad = good.clone();
            bad[size + 1] = 1;
            let mut h = crc32fast::Hasher::new();
            h.update(&good[..size]);
            h.update(&[0, 1]);
            h.update(&0u64.to_le_bytes());
            let masked = h.finalize().rotate_right(15).wrapping_add(0xa282_ead8);
            bad[size + 2..size + 6].copy_from_slice(&masked.to_le_bytes());
            let t = open_bytes(bad).unwrap();
            let e = t.get(&entries[0].0).unwrap_err();
            assert!(
                matches!(
                    e,
                    SstError::UnsupportedFlags {
                        flags: 1,
                        offset: 0,
                        ..
                    }
                ),
                "{e}"
            );
            found = true;
            break;
        }
    }
    assert!(found);
}

fn setup_fs() -> FaultFs {
    let fs = FaultFs::new();
    fs.create_dir_all(Path::new("/db")).unwrap();
    fs.sync_dir(Path::new("/")).unwrap();
    fs.sync_dir(Path::new("/db")).unwrap();
    fs
}

/// Writes a table the way the engine will: temp name, finish (fsync),
/// rename, sync the directory. Returns the error, if any.
fn write_table(fs: &FaultFs, entries: &[Kv]) -> Result<(), String> {
    let tmp = Path::new("/db/000005.sst.tmp");
    let path = Path::new("/db/000005.sst");
    let file = fs.create(tmp).map_err(|e| e.to_string())?;
    let mut b = TableBuilder::new(file, tmp.to_path_buf(), TableOptions::default());
    for (k, v) in entries {
        b.add(k, v).map_err(|e| e.to_string())?;
    }
    b.finish().map_err(|e| e.to_string())?;
    fs.rename(tmp, path).map_err(|e| e.to_string())?;
    fs.sync_dir(Path::new("/db")).map_err(|e| e.to_string())?;
    Ok(())
}

/// After a power loss at any point while writing, the table is absent, or
/// reading it fails clearly, or it is complete and correct.
#[test]
fn crash_at_every_point_while_writing() {
    let entries = numbered(3000, 100);
    let total = {
        let fs = setup_fs();
        let before = fs.points();
        write_table(&fs, &entries).unwrap();
        fs.points() - before
    };
    assert!(total >= 3);
    for torn in [None, Some(7u64)] {
        for k in 0..=total {
            let fs = setup_fs();
            fs.set_torn_writes(torn);
            fs.crash_at_point(fs.points() + k);
            let result = write_table(&fs, &entries);
            let after = fs.recovered();
            let any_fs: Arc<dyn FileSystem> = Arc::new(after.clone());
            for name in ["/db/000005.sst", "/db/000005.sst.tmp"] {
                let p = Path::new(name);
                if !after.exists(p) {
                    continue;
                }
                match Table::open(&any_fs, p, 1, ReaderOptions::default()) {
                    Err(e) => assert!(e.is_corruption(), "point {k}: {e}"),
                    Ok(t) => {
                        t.verify().unwrap();
                        assert_eq!(scan(&t).unwrap(), entries);
                    }
                }
            }
            if result.is_ok() {
                assert!(
                    after.exists(Path::new("/db/000005.sst")),
                    "acknowledged table lost"
                );
            }
        }
    }
}

/// The table is written and fsynced, but the caller crashes before syncing
/// the directory: the file is gone (both names) — never a half table.
#[test]
fn crash_before_directory_sync() {
    let fs = setup_fs();
    let tmp = Path::new("/db/000009.sst.tmp");
    let path = Path::new("/db/000009.sst");
    let mut b = TableBuilder::new(
        fs.create(tmp).unwrap(),
        tmp.to_path_buf(),
        TableOptions::default(),
    );
    for (k, v) in numbered(1000, 50) {
        b.add(&k, &v).unwrap();
    }
    b.finish().unwrap();
    fs.rename(tmp, path).unwrap();
    fs.crash();
    let any_fs: Arc<dyn FileSystem> = Arc::new(fs.clone());
    for p in [tmp, path] {
        let e = Table::open(&any_fs, p, 1, ReaderOptions::default()).unwrap_err();
        match e {
            SstError::Io {
                path: ref ep,
                ref source,
            } => {
                assert_eq!(ep, p);
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("{other}"),
        }
    }
}

#[test]
fn io_errors_while_building_are_reported() {
    let entries = numbered(5000, 100);
    // EIO on the final fsync, on an append during finish, and on an append
    // while adding entries (the write buffer flushes every 256 KiB).
    for (op, nth) in [
        (FaultOp::Sync, 1u64),
        (FaultOp::Write, 1),
        (FaultOp::Write, 2),
        (FaultOp::Write, 3),
    ] {
        let fs = setup_fs();
        let path = Path::new("/db/e.sst");
        let mut b = TableBuilder::new(
            fs.create(path).unwrap(),
            PathBuf::from(path),
            TableOptions::default(),
        );
        fs.inject(op, nth, FaultKind::Eio);
        let mut failed = None;
        for (k, v) in &entries {
            if let Err(e) = b.add(k, v) {
                failed = Some(e);
                break;
            }
        }
        let err = match failed {
            Some(e) => {
                assert!(matches!(
                    b.add(b"zzzz", b""),
                    Err(SstError::BuilderFailed { .. })
                ));
                e
            }
            None => b.finish().unwrap_err(),
        };
        assert!(matches!(err, SstError::Io { .. }), "{op:?} {nth}: {err}");
        assert!(err.to_string().contains("/db/e.sst"), "{err}");
        assert!(err.to_string().contains("injected"), "{err}");
    }
    // ENOSPC likewise.
    let fs = setup_fs();
    let path = Path::new("/db/f.sst");
    let mut b = TableBuilder::new(
        fs.create(path).unwrap(),
        PathBuf::from(path),
        TableOptions::default(),
    );
    b.add(b"a", b"b").unwrap();
    fs.inject(FaultOp::Write, 1, FaultKind::Enospc);
    let e = b.finish().unwrap_err();
    assert!(
        matches!(e, SstError::Io { ref source, .. } if source.kind() == std::io::ErrorKind::StorageFull),
        "{e}"
    );
}

#[test]
fn read_errors_are_io_errors() {
    let fs = setup_fs();
    let path = Path::new("/db/r.sst");
    let any: Arc<dyn FileSystem> = Arc::new(fs.clone());
    build(&any, path, &numbered(10, 1), TableOptions::default());
    fs.inject(FaultOp::Read, 1, FaultKind::Eio);
    let e = Table::open(&any, path, 1, ReaderOptions::default()).unwrap_err();
    assert!(matches!(e, SstError::Io { .. }), "{e}");
    assert!(Table::open(&any, path, 1, ReaderOptions::default()).is_ok());
}

/// With data-block checksums off, damaged blocks reach the block decoder:
/// bad varints, lengths and restart offsets must come back as errors (or,
/// for damaged key or value bytes, as data), never as a panic.
#[test]
fn damaged_blocks_without_checksums_never_panic() {
    let entries = test_entries();
    for opts in option_sets() {
        let good = table_bytes(&entries, opts);
        let data_end = layout(&good).data_end;
        let mut errors = 0;
        for pos in 0..data_end {
            for mask in [0x01u8, 0xff] {
                let mut bad = good.clone();
                bad[pos] ^= mask;
                let ro = ReaderOptions {
                    verify_checksums: false,
                    ..ReaderOptions::default()
                };
                let t = Table::open_bytes(bad, PathBuf::from("/t.sst"), 1, ro).unwrap();
                for (k, _) in entries.iter().step_by(20) {
                    errors += usize::from(t.get(k).is_err());
                    let mut it = t.iter();
                    let _ = it.seek(k);
                    let _ = it.prev();
                    let _ = it.seek_for_prev(k);
                    let _ = it.next();
                }
                errors += usize::from(scan(&t).is_err());
                errors += usize::from(scan_rev(&t).is_err());
                assert!(
                    t.verify().is_err(),
                    "verify always checks checksums ({pos})"
                );
            }
        }
        assert!(errors > 0, "some damage must be visible to the decoder");
    }
}
