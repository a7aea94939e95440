//! Round trips of many table shapes, the builder's checks, the filter, the
//! shared cache.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::*;
use strata_fs::{FaultFs, FileSystem};
use strata_sstable::{
    BlockCache, Compression, ReaderOptions, SstError, Table, TableBuilder, TableOptions,
};

fn fault_fs() -> Arc<dyn FileSystem> {
    Arc::new(FaultFs::new())
}

fn option_sets() -> Vec<TableOptions> {
    vec![
        TableOptions::default(),
        TableOptions {
            compression: Compression::Zstd { level: 3 },
            ..TableOptions::default()
        },
        TableOptions {
            block_size: 64,
            restart_interval: 1,
            bloom_bits_per_key: 0,
            ..TableOptions::default()
        },
        TableOptions {
            block_size: 1,
            restart_interval: 3,
            compression: Compression::Zstd { level: 1 },
            ..TableOptions::default()
        },
        TableOptions {
            block_size: 300,
            restart_interval: 2,
            filter_ignore_suffix: 2,
            ..TableOptions::default()
        },
    ]
}

/// Builds, opens and checks every read path against `entries`.
fn check_round_trip(entries: &[Kv], opts: TableOptions) {
    let fs = fault_fs();
    let path = PathBuf::from("/db/t.sst");
    let info = build(&fs, &path, entries, opts.clone());
    assert_eq!(info.entries, entries.len() as u64);
    assert_eq!(info.file_size, fs.file_size(&path).unwrap());
    assert_eq!(info.smallest_seqno, 3);
    assert_eq!(info.largest_seqno, 99);
    for cache in [None, Some(BlockCache::new(1 << 20))] {
        let ro = ReaderOptions {
            cache,
            ..ReaderOptions::default()
        };
        let t = Table::open(&fs, &path, 9, ro).unwrap();
        t.verify().unwrap();
        let p = t.properties();
        assert_eq!(p.entries, entries.len() as u64);
        assert_eq!(p.file_checksum, info.checksum);
        assert_eq!(
            p.smallest_key,
            entries.first().map(|e| e.0.clone()).unwrap_or_default()
        );
        assert_eq!(
            p.largest_key,
            entries.last().map(|e| e.0.clone()).unwrap_or_default()
        );
        assert_eq!(info.smallest_key, p.smallest_key);
        assert_eq!(info.largest_key, p.largest_key);
        assert_eq!((p.smallest_seqno, p.largest_seqno), (3, 99));
        assert_eq!(t.file_size(), info.file_size);
        assert_eq!(t.path(), Path::new("/db/t.sst"));
        assert_eq!(scan(&t).unwrap(), entries);
        assert_eq!(scan_rev(&t).unwrap(), entries);
        for (k, v) in entries {
            assert_eq!(t.get(k).unwrap().as_ref(), Some(v), "get {k:?}");
            let fk = &k[..k.len().saturating_sub(opts.filter_ignore_suffix)];
            assert!(t.may_contain(fk));
            // A key just above k (k + 0x00) is absent unless it is the next key.
            let mut above = k.clone();
            above.push(0);
            if !entries.iter().any(|e| e.0 == above) {
                assert_eq!(t.get(&above).unwrap(), None);
            }
        }
        // Seeks to each key and between keys.
        let mut it = t.iter();
        for (i, (k, _)) in entries.iter().enumerate() {
            it.seek(k).unwrap();
            assert_eq!(it.key(), k.as_slice());
            it.seek_for_prev(k).unwrap();
            assert_eq!(it.key(), k.as_slice());
            let mut above = k.clone();
            above.push(0);
            it.seek(&above).unwrap();
            match entries.get(i + 1) {
                Some((next, _)) => assert_eq!(it.key(), next.as_slice()),
                None => assert!(!it.valid()),
            }
            it.seek_for_prev(&above).unwrap();
            assert_eq!(it.key(), k.as_slice());
        }
        it.seek(b"").unwrap();
        assert_eq!(it.valid(), !entries.is_empty());
        it.seek_for_prev(b"").unwrap();
        assert_eq!(it.valid(), entries.first().is_some_and(|e| e.0.is_empty()));
    }
}

#[test]
fn many_shapes() {
    let long_prefix = |i: usize| {
        let mut k = vec![b'p'; 300];
        k.extend_from_slice(format!("{i:06}").as_bytes());
        k
    };
    let shapes: Vec<(&str, Vec<Kv>)> = vec![
        ("empty table", vec![]),
        ("single entry", vec![(b"only".to_vec(), b"one".to_vec())]),
        (
            "empty key",
            vec![(vec![], b"v".to_vec()), (b"a".to_vec(), vec![])],
        ),
        (
            "empty values",
            (0..100u8).map(|i| (vec![b'k', i], vec![])).collect(),
        ),
        (
            "1-byte keys",
            (0..=255u8).map(|i| (vec![i], vec![i; 3])).collect(),
        ),
        (
            "long shared prefixes",
            (0..500)
                .map(|i| (long_prefix(i), format!("{i}").into_bytes()))
                .collect(),
        ),
        (
            "values larger than a block",
            (0..20u8)
                .map(|i| (vec![b'b', i], vec![i; 10_000 + usize::from(i)]))
                .collect(),
        ),
        (
            "binary keys with 0xff",
            (0..300u32)
                .map(|i| {
                    (
                        (0xffff_0000u32 + i).to_be_bytes().to_vec(),
                        i.to_le_bytes().to_vec(),
                    )
                })
                .collect(),
        ),
        ("numbered", numbered(3000, 20)),
    ];
    for (name, entries) in shapes {
        for opts in option_sets() {
            eprintln!("{name}: {opts:?}");
            check_round_trip(&entries, opts);
        }
    }
}

/// A million entries (under a second in the workspace's debug profile).
#[test]
fn large_table() {
    let n = 1_000_000;
    let entries: Vec<Kv> = (0..n as u64)
        .map(|i| {
            let k = (i * 7919).to_be_bytes().to_vec();
            (k, i.to_le_bytes().repeat(3))
        })
        .collect();
    let fs = fault_fs();
    let path = PathBuf::from("/big.sst");
    let info = build(&fs, &path, &entries, TableOptions::default());
    assert_eq!(info.entries, n as u64);
    let t = Table::open(
        &fs,
        &path,
        1,
        ReaderOptions {
            cache: Some(BlockCache::new(8 << 20)),
            ..ReaderOptions::default()
        },
    )
    .unwrap();
    t.verify().unwrap();
    let mut it = t.iter();
    it.seek_to_first().unwrap();
    let mut count = 0;
    while it.valid() {
        let (k, v) = &entries[count];
        assert_eq!((it.key(), it.value()), (k.as_slice(), v.as_slice()));
        count += 1;
        it.next().unwrap();
    }
    assert_eq!(count, n);
    for (k, v) in entries.iter().step_by(97) {
        assert_eq!(t.get(k).unwrap().as_ref(), Some(v));
    }
}

#[test]
fn out_of_order_and_duplicate_keys_fail_and_leave_no_table() {
    for (first, second) in [(&b"b"[..], &b"a"[..]), (b"same", b"same"), (b"ab", b"a")] {
        let fs = fault_fs();
        let path = Path::new("/bad.sst");
        let mut b = TableBuilder::new(
            fs.create(path).unwrap(),
            path.to_path_buf(),
            TableOptions {
                block_size: 16,
                ..TableOptions::default()
            },
        );
        for i in 0..4000u32 {
            b.add(&[b"0", &i.to_be_bytes()[..]].concat(), &[7u8; 100])
                .unwrap();
        }
        b.add(first, b"1").unwrap();
        let e = b.add(second, b"2").unwrap_err();
        assert!(matches!(e, SstError::KeyOrder { .. }), "{e}");
        assert!(e.to_string().contains("/bad.sst"), "{e}");
        // The builder refuses to go on, and never writes a footer.
        assert!(matches!(
            b.add(b"zzz", b"3"),
            Err(SstError::BuilderFailed { .. })
        ));
        assert!(b.finish().is_err());
        let bytes = fs.read_all(path).unwrap();
        assert!(
            !bytes.is_empty(),
            "data blocks were written before the bad key"
        );
        let e = Table::open(&fs, path, 1, ReaderOptions::default()).unwrap_err();
        assert!(e.is_corruption(), "{e}");
    }
}

#[test]
fn nonempty_file_is_rejected() {
    let fs = fault_fs();
    let path = Path::new("/x.sst");
    let mut f = fs.create(path).unwrap();
    f.append(b"junk").unwrap();
    let mut b = TableBuilder::new(f, path.to_path_buf(), TableOptions::default());
    assert!(matches!(
        b.add(b"a", b"b"),
        Err(SstError::InvalidArgument { .. })
    ));
}

#[test]
fn builder_reports_progress() {
    let fs = fault_fs();
    let path = Path::new("/p.sst");
    let mut b = TableBuilder::new(
        fs.create(path).unwrap(),
        path.to_path_buf(),
        TableOptions::default(),
    );
    let mut last = b.estimated_size();
    for (k, v) in numbered(5000, 50) {
        b.add(&k, &v).unwrap();
        assert!(b.estimated_size() >= last);
        last = b.estimated_size();
    }
    assert_eq!(b.entries(), 5000);
    assert!(last > 5000 * 50);
    let info = b.finish().unwrap();
    assert!(info.file_size >= last);
}

#[test]
fn bloom_has_no_false_negatives_and_a_low_false_positive_rate() {
    let n = 50_000u64;
    let entries: Vec<Kv> = (0..n)
        .map(|i| {
            // User key + an 8-byte trailer the filter ignores.
            let mut k = format!("user{:010}", i * 2).into_bytes();
            k.extend_from_slice(&(!i).to_be_bytes());
            (k, vec![1])
        })
        .collect();
    let opts = TableOptions {
        filter_ignore_suffix: 8,
        ..TableOptions::default()
    };
    let t = open_bytes(table_bytes(&entries, opts)).unwrap();
    for i in 0..n {
        assert!(t.may_contain(format!("user{:010}", i * 2).as_bytes()));
    }
    let absent = (0..n)
        .filter(|i| t.may_contain(format!("user{:010}", i * 2 + 1).as_bytes()))
        .count();
    let rate = absent as f64 / n as f64;
    eprintln!("false positive rate at 10 bits/key: {:.3} %", rate * 100.0);
    assert!(rate < 0.025, "{rate}");
    // get() strips the same suffix: a present user key with another trailer is
    // still found by the filter (and then not found in the block).
    let mut other = b"user0000000002".to_vec();
    other.extend_from_slice(&[0; 8]);
    assert!(t.may_contain(b"user0000000002"));
    assert_eq!(t.get(&other).unwrap(), None);
    // Without a filter everything "may" be there.
    let nf = open_bytes(table_bytes(
        &entries[..10],
        TableOptions {
            bloom_bits_per_key: 0,
            ..TableOptions::default()
        },
    ))
    .unwrap();
    assert!(nf.may_contain(b"nothing"));
}

#[test]
fn shared_cache_counts_and_serves_many_tables() {
    let fs = fault_fs();
    let cache = BlockCache::new(4 << 20);
    let entries = numbered(2000, 100);
    let mut tables = Vec::new();
    for id in 0..3u64 {
        let path = PathBuf::from(format!("/t{id}.sst"));
        let opts = TableOptions {
            compression: if id == 1 {
                Compression::Zstd { level: 1 }
            } else {
                Compression::None
            },
            ..TableOptions::default()
        };
        build(&fs, &path, &entries, opts);
        let ro = ReaderOptions {
            cache: Some(Arc::clone(&cache)),
            ..ReaderOptions::default()
        };
        tables.push(Table::open(&fs, &path, id, ro).unwrap());
    }
    for t in &tables {
        assert_eq!(t.get(b"key00000005").unwrap().unwrap(), entries[5].1);
    }
    let misses = cache.misses();
    assert!(misses >= 3);
    for t in &tables {
        assert_eq!(t.get(b"key00000006").unwrap().unwrap(), entries[6].1);
    }
    assert_eq!(cache.misses(), misses, "same blocks: all hits");
    assert!(cache.hits() >= 3);
    assert!(cache.usage() > 0);
    // Concurrent readers.
    std::thread::scope(|s| {
        for t in &tables {
            let entries = &entries;
            s.spawn(move || {
                for (k, v) in entries.iter().step_by(7) {
                    assert_eq!(t.get(k).unwrap().as_ref(), Some(v));
                }
                assert_eq!(&scan(t).unwrap(), entries);
            });
        }
    });
    assert!(cache.usage() <= 4 << 20);
    // Dropping the tables releases their blocks.
    drop(tables);
    assert_eq!(cache.usage(), 0);
}

#[test]
fn real_fs_mmap_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let fs: Arc<dyn FileSystem> = Arc::new(strata_fs::RealFs::new());
    let tmp = dir.path().join("000001.sst.tmp");
    let path = dir.path().join("000001.sst");
    let entries = numbered(10_000, 64);
    build(
        &fs,
        &tmp,
        &entries,
        TableOptions {
            compression: Compression::Zstd { level: 3 },
            ..TableOptions::default()
        },
    );
    fs.rename(&tmp, &path).unwrap();
    fs.sync_dir(dir.path()).unwrap();
    let t = Table::open(&fs, &path, 1, ReaderOptions::default()).unwrap();
    t.verify().unwrap();
    assert_eq!(scan(&t).unwrap(), entries);
    let e = Table::open(
        &fs,
        &dir.path().join("missing.sst"),
        2,
        ReaderOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(e, SstError::Io { .. }), "{e}");
}

/// Data blocks read with `pread` (no data page mapped): the same entries,
/// point reads through the block cache, and a damaged data block reported
/// with the file and the block's offset, compressed or not, on the real file
/// system and on the fault-injecting one.
#[test]
fn pread_data_blocks_round_trip_and_detect_damage() {
    let dir = tempfile::tempdir().unwrap();
    let real: Arc<dyn FileSystem> = Arc::new(strata_fs::RealFs::new());
    let faulty = FaultFs::new();
    let model: Arc<dyn FileSystem> = Arc::new(faulty.clone());
    for (fs, base) in [
        (real, dir.path().to_path_buf()),
        (model, PathBuf::from("/")),
    ] {
        for (n, compression) in [Compression::None, Compression::Zstd { level: 3 }]
            .into_iter()
            .enumerate()
        {
            let path = base.join(format!("00000{n}.sst"));
            let entries = numbered(5_000, 80);
            build(
                &fs,
                &path,
                &entries,
                TableOptions {
                    compression,
                    ..TableOptions::default()
                },
            );
            let cache = BlockCache::new(1 << 20);
            let opts = ReaderOptions {
                cache: Some(cache.clone()),
                pread_data_blocks: true,
                ..ReaderOptions::default()
            };
            let t = Table::open(&fs, &path, 10 + n as u64, opts.clone()).unwrap();
            let reads = faulty.op_count(strata_fs::FaultOp::Read);
            assert_eq!(scan(&t).unwrap(), entries);
            if base == Path::new("/") {
                // Each data block was one positional read, not a map access.
                assert!(faulty.op_count(strata_fs::FaultOp::Read) > reads + 3);
            }
            for (k, v) in entries.iter().step_by(37) {
                assert_eq!(t.get(k).unwrap().as_deref(), Some(&v[..]));
            }
            assert!(
                cache.usage() > 0 && cache.hits() > 0,
                "blocks go through the cache"
            );
            t.verify().unwrap();
            drop(t);
            // A flipped byte inside the first data block.
            let mut bytes = fs.read_all(&path).unwrap();
            bytes[40] ^= 0x20;
            let bad = base.join(format!("bad{n}.sst"));
            let mut f = fs.create(&bad).unwrap();
            f.append(&bytes).unwrap();
            f.sync().unwrap();
            drop(f);
            let t = Table::open(&fs, &bad, 20 + n as u64, opts).unwrap();
            let e = t.get(&entries[0].0).unwrap_err();
            match &e {
                SstError::Corruption { path, offset, .. } => {
                    assert_eq!(path, &bad);
                    assert_eq!(*offset, 0, "{e}");
                }
                other => panic!("{other}"),
            }
        }
    }
}

#[test]
fn unchecked_reads_still_work() {
    let entries = numbered(500, 10);
    let bytes = table_bytes(&entries, TableOptions::default());
    let t = Table::open_bytes(
        bytes,
        PathBuf::from("/u.sst"),
        1,
        ReaderOptions {
            cache: None,
            verify_checksums: false,
            map_budget: None,
            pread_data_blocks: false,
        },
    )
    .unwrap();
    assert_eq!(scan(&t).unwrap(), entries);
}

#[test]
fn types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Table>();
    send_sync::<strata_sstable::TableIter>();
    send_sync::<BlockCache>();
    send_sync::<SstError>();
    send::<TableBuilder>();
}

/// Bytes of a table of `entries` whose builder was told `hint` keys before
/// the first add (`None`: not told), and whether it was told after.
fn bytes_with_hint(entries: &[Kv], opts: TableOptions, hint: Option<u64>, late: bool) -> Vec<u8> {
    let fs = fault_fs();
    let path = PathBuf::from("/h.sst");
    let mut b = TableBuilder::new(fs.create(&path).unwrap(), path.clone(), opts);
    b.set_seqno_range(3, 99);
    b.set_creation_time(1);
    if let Some(n) = hint.filter(|_| !late) {
        b.expect_keys(n);
    }
    for (i, (k, v)) in entries.iter().enumerate() {
        b.add(k, v).unwrap();
        if i == 0
            && let Some(n) = hint.filter(|_| late)
        {
            b.expect_keys(n);
        }
    }
    b.finish().unwrap();
    fs.read_all(&path).unwrap()
}

#[test]
fn a_filter_sized_up_front_is_the_filter_built_at_the_end() {
    let entries: Vec<Kv> = (0..5000u32)
        .map(|i| (format!("key{i:06}").into_bytes(), vec![b'v'; 20]))
        .collect();
    for opts in option_sets() {
        // Distinct filter keys: the keys without their ignored suffix.
        let mut filter_keys: Vec<&[u8]> = entries
            .iter()
            .map(|(k, _)| &k[..k.len() - opts.filter_ignore_suffix])
            .collect();
        filter_keys.dedup();
        let distinct = filter_keys.len() as u64;
        let plain = bytes_with_hint(&entries, opts.clone(), None, false);
        // Told the exact count: the same filter, so the same bytes.
        let exact = bytes_with_hint(&entries, opts.clone(), Some(distinct), false);
        assert!(plain == exact, "{opts:?}: told {distinct} keys");
        // Told after the first add, or an absurd count: ignored.
        let late = bytes_with_hint(&entries, opts.clone(), Some(distinct), true);
        assert!(plain == late, "{opts:?}: told late");
        let absurd = bytes_with_hint(&entries, opts.clone(), Some(u64::MAX), false);
        assert!(plain == absurd, "{opts:?}: told u64::MAX");
        // A filter of more than 64 MiB (60M keys at 10 bits) is not made up front.
        let huge = bytes_with_hint(&entries, opts.clone(), Some(60_000_000), false);
        assert!(plain == huge, "{opts:?}: told 60M keys");
    }
    // With `filter_ignore_suffix`, distinct filter keys are fewer than entries:
    // told the entry count, the filter is larger, never wrong.
    let opts = TableOptions {
        filter_ignore_suffix: 2,
        ..TableOptions::default()
    };
    let suffixed: Vec<Kv> = (0..3000u32)
        .map(|i| {
            (
                format!("key{:06}{:02}", i / 3, i % 3).into_bytes(),
                b"v".to_vec(),
            )
        })
        .collect();
    let bytes = bytes_with_hint(&suffixed, opts, Some(3000), false);
    let t = open_bytes(bytes).unwrap();
    assert_eq!(t.properties().filter_keys, 1000);
    for (k, v) in &suffixed {
        assert_eq!(t.get(k).unwrap().as_ref(), Some(v));
    }
}

#[test]
fn a_wrong_key_count_costs_false_positives_never_a_missing_key() {
    let entries: Vec<Kv> = (0..20_000u32)
        .map(|i| (format!("key{i:06}").into_bytes(), b"v".to_vec()))
        .collect();
    let absent: Vec<Vec<u8>> = (0..20_000u32)
        .map(|i| format!("nokey{i:06}").into_bytes())
        .collect();
    let mut false_positives = Vec::new();
    for hint in [10, 20_000, 200_000] {
        let t = open_bytes(bytes_with_hint(
            &entries,
            TableOptions::default(),
            Some(hint),
            false,
        ))
        .unwrap();
        assert_eq!(t.properties().filter_keys, 20_000, "hint {hint}");
        for (k, _) in &entries {
            assert!(t.may_contain(k), "hint {hint}: a key the filter rules out");
        }
        false_positives.push(absent.iter().filter(|k| t.may_contain(k)).count());
    }
    // Too small a filter lets nearly everything through; the right size about 1 %;
    // ten times the size almost nothing.
    assert!(false_positives[0] > 15_000, "{false_positives:?}");
    assert!(
        false_positives[1] > 50 && false_positives[1] < 400,
        "{false_positives:?}"
    );
    assert!(
        false_positives[2] < false_positives[1],
        "{false_positives:?}"
    );
}
