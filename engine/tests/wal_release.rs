//! The WAL lets go of what is flushed (issue 13): a memtable seal starts a new
//! WAL segment, so a flush deletes the segment holding the flushed records at
//! once; after a flush and a clean close the WAL holds (almost) nothing and the
//! next open replays nothing. Disk use and open time are bounded by unflushed
//! data, not by history.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use strata_engine::lsm::{Durability, Tree, TreeOptions, WriteBatch};
use strata_engine::{Db, DbOptions, GetOptions, PutOptions, TableSpec};
use strata_item::{KeySchema, KeyType, item};

const ITEMS: usize = 10_000;
const VALUE: usize = 1024;

/// Over every WAL file under `dir` (segments `*.wal` and spares `*.spare`):
/// the bytes of the files, the bytes of the records the segments hold
/// (headers included; a segment file may be longer: preallocated, or a
/// recycled file's old bytes) and the number of segments.
fn wal_bytes(dir: &Path) -> (u64, u64, usize) {
    let mut total = (0, 0, 0);
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            let (f, r, n) = wal_bytes(&p);
            total = (total.0 + f, total.1 + r, total.2 + n);
        } else if p.extension().is_some_and(|x| x == "wal") {
            let bytes = std::fs::read(&p).unwrap();
            let records = strata_wal::scan_segment_bytes(&bytes).good_len;
            total = (total.0 + bytes.len() as u64, total.1 + records, total.2 + 1);
        } else if p.extension().is_some_and(|x| x == "spare") {
            total.0 += e.metadata().unwrap().len();
        }
    }
    total
}

fn load_tree(tree: &Tree) {
    for chunk in 0..ITEMS / 100 {
        let mut b = WriteBatch::new();
        for i in chunk * 100..(chunk + 1) * 100 {
            b.put(format!("key{i:06}").as_bytes(), &[b'v'; VALUE]);
        }
        tree.write(b, Durability::Sync).unwrap();
    }
}

#[test]
fn a_flush_deletes_the_flushed_segment_and_a_clean_close_leaves_nothing_to_replay() {
    let dir = tempfile::tempdir().unwrap();
    // Memtables larger than the load: the data reaches the tables only by
    // the explicit flush and the close.
    let opts = || TreeOptions {
        memtable_size: 64 << 20,
        ..TreeOptions::default()
    };
    let tree = Tree::open(dir.path(), opts()).unwrap();
    load_tree(&tree);
    let (_, before, _) = wal_bytes(dir.path());
    assert!(
        before > (ITEMS * VALUE) as u64,
        "the load is in the WAL: {before}"
    );
    tree.flush().unwrap();
    let (_, after_flush, segments) = wal_bytes(dir.path());
    // One fresh segment remains: its header, no record. (Its file is
    // preallocated, and the retired one may be kept as a spare.)
    assert_eq!(segments, 1);
    assert_eq!(after_flush, 32, "WAL records after flush");
    // Unflushed writes after the flush stay in the WAL until the close.
    tree.put(b"late", b"write", Durability::Sync).unwrap();
    tree.close().unwrap();
    drop(tree);
    // A clean close leaves one segment holding its header only: no spare,
    // no preallocated tail.
    let (files, records, segments) = wal_bytes(dir.path());
    assert_eq!(segments, 1);
    assert_eq!((files, records), (32, 32), "WAL after close");

    let tree = Tree::open(dir.path(), opts()).unwrap();
    let r = tree.recovery_report();
    assert_eq!(r.replayed_records, 0);
    assert_eq!(r.wal.records, 0);
    assert!(r.wal.is_clean());
    assert_eq!(tree.get(b"late", None).unwrap(), Some(b"write".to_vec()));
    assert_eq!(
        tree.get(b"key009999", None).unwrap(),
        Some(vec![b'v'; VALUE])
    );
}

#[test]
fn unflushed_records_survive_the_rotation_and_are_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let tree = Tree::open(
        dir.path(),
        TreeOptions::small_for_tests(strata_fs::default_fs()),
    )
    .unwrap();
    // Small memtables: many seals (and rotations) while writing.
    for i in 0..2_000u32 {
        tree.put(&i.to_be_bytes(), &[7u8; 100], Durability::Sync)
            .unwrap();
    }
    // Drop without close: whatever is not flushed must come back from the WAL.
    drop(tree);
    let tree = Tree::open(
        dir.path(),
        TreeOptions::small_for_tests(strata_fs::default_fs()),
    )
    .unwrap();
    for i in 0..2_000u32 {
        assert_eq!(
            tree.get(&i.to_be_bytes(), None).unwrap(),
            Some(vec![7u8; 100]),
            "key {i}"
        );
    }
}

#[test]
fn a_db_of_flushed_tables_holds_almost_no_wal() {
    let dir = tempfile::tempdir().unwrap();
    let spec = || TableSpec::new("items", KeySchema::simple("pk", KeyType::S)).partitions(4);
    {
        let db = Db::open(dir.path(), DbOptions::default()).unwrap();
        db.create_table(spec()).unwrap();
        let t = db.table("items").unwrap();
        for i in 0..ITEMS {
            t.put_item(
                item! { "pk" => format!("k{i:06}"), "v" => "x".repeat(VALUE) },
                PutOptions::default(),
            )
            .unwrap();
        }
        t.flush().unwrap();
        let (_, records, segments) = wal_bytes(dir.path());
        assert_eq!(segments, 4, "one fresh segment per partition");
        assert_eq!(records, 4 * 32, "WAL records after flush");
        db.close().unwrap();
    }
    let (files, _, _) = wal_bytes(dir.path());
    assert_eq!(files, 4 * 32, "WAL after close");
    let db = Db::open(dir.path(), DbOptions::default()).unwrap();
    assert!(db.recovery_report().is_clean());
    let t = db.table("items").unwrap();
    let got = t
        .get_item(item! { "pk" => "k000042" }, GetOptions::default())
        .unwrap();
    assert!(got.item.is_some());
}
