//! Power loss (FaultFs) and on-disk corruption tests for the tree.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use strata_engine::lsm::{Durability, Error, Tree, TreeOptions, WriteBatch};
use strata_fs::{FaultFs, FileSystem};

fn options(fs: &FaultFs) -> TreeOptions {
    let mut o = TreeOptions::small_for_tests(Arc::new(fs.clone()) as Arc<dyn FileSystem>);
    o.memtable_size = 6 << 10;
    o.target_file_size_base = 6 << 10;
    o.max_bytes_for_level_base = 16 << 10;
    o.max_bytes_for_level_multiplier = 2;
    o
}

fn batch_len(id: u64) -> u64 {
    1 + id % 5
}

fn batch(id: u64) -> WriteBatch {
    let mut b = WriteBatch::new();
    for j in 0..batch_len(id) {
        b.put(format!("b{id:06}-{j}").as_bytes(), &[(id % 251) as u8; 90]);
    }
    b
}

/// Writes batches 1.. with flushes and compactions in between until the
/// file system dies or `n` batches are done. Returns the acknowledged ids.
fn workload(fs: &FaultFs, dir: &Path, n: u64, durability: Durability) -> Vec<u64> {
    let mut acked = Vec::new();
    let Ok(tree) = Tree::open(dir, options(fs)) else {
        return acked;
    };
    for id in 1..=n {
        if tree.write(batch(id), durability).is_err() {
            break;
        }
        acked.push(id);
        let r = match id % 50 {
            17 => tree.flush(),
            41 => tree.compact_range(None, None),
            _ => Ok(()),
        };
        if r.is_err() {
            break;
        }
    }
    let _ = tree.close();
    acked
}

/// Opens the recovered tree and returns the complete batch ids (asserting
/// none is partial).
fn recovered_batches(fs: &FaultFs, dir: &Path, ctx: &str) -> Vec<u64> {
    let tree = Tree::open(dir, options(fs)).unwrap_or_else(|e| panic!("{ctx}: reopen failed: {e}"));
    let mut counts: BTreeMap<u64, u64> = BTreeMap::new();
    for kv in tree
        .range(Bound::Unbounded, Bound::Unbounded, None)
        .unwrap()
    {
        let (k, v) = kv.unwrap_or_else(|e| panic!("{ctx}: scan failed: {e}"));
        let id: u64 = std::str::from_utf8(&k[1..7]).unwrap().parse().unwrap();
        assert_eq!(v, vec![(id % 251) as u8; 90], "{ctx}: value of batch {id}");
        *counts.entry(id).or_default() += 1;
    }
    for (&id, &n) in &counts {
        assert_eq!(n, batch_len(id), "{ctx}: batch {id} partly applied");
    }
    tree.close().unwrap();
    counts.into_keys().collect()
}

#[test]
fn power_loss_at_every_sampled_crash_point_keeps_acknowledged_sync_batches() {
    let dir = Path::new("/db");
    let total = {
        let fs = FaultFs::new();
        let acked = workload(&fs, dir, 300, Durability::Sync);
        assert_eq!(acked.len(), 300);
        fs.points()
    };
    assert!(total > 100, "the workload reaches {total} crash points");
    let step = (total / 120).max(1);
    let mut k = 0;
    let mut checked = 0;
    while k < total {
        let fs = FaultFs::new();
        fs.crash_at_point(k);
        let acked = workload(&fs, dir, 300, Durability::Sync);
        let rec = fs.recovered();
        let ctx = format!("crash point {k} of {total}");
        let present = recovered_batches(&rec, dir, &ctx);
        for id in &acked {
            assert!(
                present.binary_search(id).is_ok(),
                "{ctx}: acknowledged batch {id} lost"
            );
        }
        let max = present.last().copied().unwrap_or(0);
        assert_eq!(present.len() as u64, max, "{ctx}: holes in {present:?}");
        checked += 1;
        k += step;
    }
    eprintln!("checked {checked} crash points of {total}");
    assert!(checked > 50);
}

#[test]
fn power_loss_with_torn_writes_recovers_a_prefix_of_buffered_batches() {
    let dir = Path::new("/db");
    for seed in 0..25u64 {
        // A clean run closes the tree: everything is durable.
        let fs = FaultFs::new();
        fs.set_torn_writes(Some(seed));
        let acked = workload(&fs, dir, 40 + seed * 7, Durability::Buffered);
        let present = recovered_batches(&fs.recovered(), dir, &format!("torn seed {seed}"));
        assert_eq!(
            present.last(),
            acked.last(),
            "torn seed {seed}: closed tree lost data"
        );
        let total = fs.points();
        // Power loss in the middle, keeping a random prefix of unsynced bytes.
        for k in [total / 5, total / 2, total * 4 / 5] {
            let fs = FaultFs::new();
            fs.set_torn_writes(Some(seed));
            fs.crash_at_point(k);
            let acked = workload(&fs, dir, 40 + seed * 7, Durability::Buffered);
            let ctx = format!("torn seed {seed}, crash point {k} of {total}");
            let present = recovered_batches(&fs.recovered(), dir, &ctx);
            let max = present.last().copied().unwrap_or(0);
            assert_eq!(present.len() as u64, max, "{ctx}: holes in {present:?}");
            assert!(
                max <= acked.last().copied().unwrap_or(0) + 1,
                "{ctx}: more than was written"
            );
        }
    }
}

#[test]
fn power_loss_without_close_keeps_synced_batches_only() {
    let dir = Path::new("/db");
    let fs = FaultFs::new();
    let tree = Tree::open(dir, options(&fs)).unwrap();
    for id in 1..=200 {
        let d = if id <= 150 {
            Durability::Sync
        } else {
            Durability::None
        };
        tree.write(batch(id), d).unwrap();
        if id == 60 {
            tree.flush().unwrap();
        }
        if id == 120 {
            tree.compact_range(None, None).unwrap();
        }
    }
    let rec = fs.recovered();
    drop(tree);
    let present = recovered_batches(&rec, dir, "no close");
    assert!(
        present.len() >= 150,
        "synced batches lost: {}",
        present.len()
    );
    assert_eq!(present.len() as u64, *present.last().unwrap());
}

fn files_with(fs: &FaultFs, dir: &Path, pred: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    fs.list(dir)
        .unwrap()
        .into_iter()
        .filter(|n| pred(n))
        .map(|n| dir.join(n))
        .collect()
}

#[test]
fn corrupt_sstable_is_reported_with_file_and_never_returned_as_data() {
    let dir = Path::new("/db");
    let fs = FaultFs::new();
    let tree = Tree::open(dir, options(&fs)).unwrap();
    for id in 1..=100 {
        tree.write(batch(id), Durability::None).unwrap();
    }
    tree.compact_range(None, None).unwrap();
    tree.close().unwrap();
    drop(tree);
    let tables = files_with(&fs, dir, |n| n.ends_with(".sst"));
    assert!(!tables.is_empty());
    // Damage the first data block of every table.
    for t in &tables {
        fs.flip_byte(t, 40, 0x5a).unwrap();
    }
    let tree = match Tree::open(dir, options(&fs)) {
        Ok(t) => t,
        Err(e) => {
            assert!(e.is_corruption(), "open error is not corruption: {e}");
            return;
        }
    };
    let mut errors = 0;
    for id in 1..=100u64 {
        for j in 0..batch_len(id) {
            match tree.get(format!("b{id:06}-{j}").as_bytes(), None) {
                Ok(Some(v)) => assert_eq!(v, vec![(id % 251) as u8; 90], "wrong data for {id}"),
                Ok(None) => {}
                Err(e) => {
                    assert!(e.is_corruption(), "{e}");
                    let msg = e.to_string();
                    assert!(msg.contains(".sst"), "error names the file: {msg}");
                    errors += 1;
                }
            }
        }
    }
    assert!(errors > 0, "the damage was never detected");
    let scan: Vec<_> = tree
        .range(Bound::Unbounded, Bound::Unbounded, None)
        .unwrap()
        .collect();
    assert!(
        scan.iter().any(|r| r.is_err()),
        "the scan did not report the damage"
    );
}

#[test]
fn corrupt_manifest_fails_open_with_file_and_offset() {
    let dir = Path::new("/db");
    let fs = FaultFs::new();
    {
        let tree = Tree::open(dir, options(&fs)).unwrap();
        for id in 1..=60 {
            tree.write(batch(id), Durability::None).unwrap();
        }
        tree.flush().unwrap();
        tree.close().unwrap();
    }
    let manifests = files_with(&fs, dir, |n| n.starts_with("MANIFEST-"));
    assert_eq!(manifests.len(), 1, "{manifests:?}");
    let m = &manifests[0];
    let len = fs.file_size(m).unwrap();
    for off in [0u64, 9, 20, len / 2, len - 1] {
        let copy = fs.recovered();
        copy.flip_byte(m, off, 0x01).unwrap();
        match Tree::open(dir, options(&copy)) {
            Err(Error::Corruption {
                path,
                offset,
                reason,
            }) => {
                assert_eq!(&path, m, "{reason}");
                assert!(
                    offset <= off,
                    "offset {offset} past the damage at {off}: {reason}"
                );
            }
            Err(e) => panic!("flip at {off}: unexpected error {e}"),
            Ok(_) => panic!("flip at {off}: damaged manifest was accepted"),
        }
    }
    // A damaged CURRENT is reported too.
    let copy = fs.recovered();
    strata_fs::write_atomic(&copy, &dir.join("CURRENT"), b"MANIFEST-zz\n").unwrap();
    assert!(matches!(
        Tree::open(dir, options(&copy)),
        Err(Error::Corruption { .. })
    ));
    // A missing table listed in the manifest is reported, not ignored.
    // (Remove them all: deletions of obsolete tables are not made durable,
    // so the recovered copy may also hold tables the manifest dropped.)
    let copy = fs.recovered();
    let t = files_with(&copy, dir, |n| n.ends_with(".sst"));
    for p in &t {
        copy.remove_file(p).unwrap();
    }
    let r = Tree::open(dir, options(&copy));
    assert!(matches!(r, Err(Error::Corruption { .. })), "{t:?}: {r:?}");
}

#[test]
fn orphan_files_are_removed_on_open() {
    let dir = Path::new("/db");
    let fs = FaultFs::new();
    {
        let tree = Tree::open(dir, options(&fs)).unwrap();
        tree.put(b"k", b"v", Durability::Sync).unwrap();
        tree.close().unwrap();
    }
    for name in ["999999.sst", "000123.sst.tmp", "MANIFEST-999998"] {
        let mut f = fs.create(&dir.join(name)).unwrap();
        f.append(b"junk").unwrap();
    }
    let tree = Tree::open(dir, options(&fs)).unwrap();
    assert_eq!(tree.get(b"k", None).unwrap(), Some(b"v".to_vec()));
    for name in ["999999.sst", "000123.sst.tmp", "MANIFEST-999998"] {
        assert!(!fs.exists(&dir.join(name)), "{name} not removed");
    }
    tree.close().unwrap();
}

#[test]
fn wal_failure_poisons_writes_and_reads_still_work() {
    let dir = Path::new("/db");
    let fs = FaultFs::new();
    let tree = Tree::open(dir, options(&fs)).unwrap();
    tree.put(b"a", b"1", Durability::Sync).unwrap();
    fs.inject(strata_fs::FaultOp::Sync, 1, strata_fs::FaultKind::Eio);
    assert!(tree.put(b"b", b"2", Durability::Sync).is_err());
    let e = tree.put(b"c", b"3", Durability::Sync).unwrap_err();
    assert!(matches!(e, Error::Poisoned(_) | Error::Wal(_)), "{e}");
    assert_eq!(tree.get(b"a", None).unwrap(), Some(b"1".to_vec()));
    drop(tree);
    let tree = Tree::open(dir, options(&fs)).unwrap();
    assert_eq!(tree.get(b"a", None).unwrap(), Some(b"1".to_vec()));
    tree.put(b"d", b"4", Durability::Sync).unwrap();
    tree.close().unwrap();
}

#[test]
fn background_flush_failure_wakes_writers_with_an_error() {
    let dir = Path::new("/db");
    let fs = FaultFs::new();
    let mut o = options(&fs);
    o.memtable_size = 2 << 10;
    let tree = Tree::open(dir, o).unwrap();
    // The next rename (a flush renaming its finished table) fails.
    fs.inject(strata_fs::FaultOp::Rename, 1, strata_fs::FaultKind::Eio);
    let mut err = None;
    for i in 0..100_000u32 {
        if let Err(e) = tree.put(&i.to_be_bytes(), &[7; 100], Durability::None) {
            err = Some(e);
            break;
        }
    }
    let e = err.expect("writes never failed after the flush failed");
    assert!(matches!(e, Error::Background { .. }), "{e}");
    // Reads still work; a reopen recovers every acknowledged write.
    assert_eq!(
        tree.get(&0u32.to_be_bytes(), None).unwrap(),
        Some(vec![7; 100])
    );
    drop(tree);
    let tree = Tree::open(dir, options(&fs)).unwrap();
    assert_eq!(
        tree.get(&0u32.to_be_bytes(), None).unwrap(),
        Some(vec![7; 100])
    );
    tree.close().unwrap();
}

#[test]
fn clean_close_leaves_nothing_to_replay() {
    let dir = Path::new("/db");
    let fs = FaultFs::new();
    let tree = Tree::open(dir, options(&fs)).unwrap();
    for id in 1..=30 {
        tree.write(batch(id), Durability::Buffered).unwrap();
    }
    tree.close().unwrap();
    drop(tree);
    let tree = Tree::open(dir, options(&fs)).unwrap();
    let s = tree.stats();
    assert_eq!(
        s.memtable_bytes, 0,
        "a clean close left WAL records to replay: {s:?}"
    );
    assert_eq!(recovered_batches_of(&tree).len(), 30);
    tree.close().unwrap();
}

fn recovered_batches_of(tree: &Tree) -> Vec<Vec<u8>> {
    tree.range(Bound::Unbounded, Bound::Unbounded, None)
        .unwrap()
        .map(|kv| kv.unwrap().0[..7].to_vec())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

#[test]
fn wal_retention_floor_holds_segments_until_released() {
    use std::sync::atomic::{AtomicU64, Ordering};
    let dir = Path::new("/db");
    let fs = FaultFs::new();
    let floor = Arc::new(AtomicU64::new(1));
    let mut o = options(&fs);
    o.wal_segment_size = 8 << 10;
    let f = Arc::clone(&floor);
    o.wal_retention_floor = Some(Arc::new(move || f.load(Ordering::SeqCst)));
    let tree = Tree::open(dir, o).unwrap();
    for id in 1..=200 {
        tree.write(batch(id), Durability::None).unwrap();
    }
    tree.flush().unwrap();
    let segments = || {
        fs.list(&dir.join("wal"))
            .unwrap()
            .iter()
            .filter(|n| n.ends_with(".wal"))
            .count()
    };
    let held = segments();
    assert!(held > 3, "the floor keeps every segment: {held}");
    floor.store(tree.wal_next_lsn(), Ordering::SeqCst);
    tree.apply_wal_retention().unwrap();
    let after = segments();
    assert!(
        after < held,
        "releasing the floor deletes flushed segments: {held} -> {after}"
    );
    tree.close().unwrap();
}
