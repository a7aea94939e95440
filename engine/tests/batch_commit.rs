//! `batch_write_item` on a `Sync` table pays one fsync per partition touched, not
//! one per item, and the partitions' fsyncs run in parallel (each partition has its
//! own WAL); a power loss at any moment keeps every acknowledged batch whole.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use strata_engine::{Db, DbOptions, GetOptions, ScanOptions, TableSpec, WriteRequest};
use strata_fs::FaultFs;
use strata_item::{Item, KeySchema, KeyType, item};

const DB: &str = "/db";
const TABLE: &str = "batches";
const PARTITIONS: u32 = 4;

fn open(fs: &FaultFs) -> Db {
    let mut o = DbOptions::small(Arc::new(fs.clone()));
    o.refuse_open_on_loss = true;
    Db::open(Path::new(DB), o).unwrap()
}

fn create(db: &Db) {
    db.create_table(
        TableSpec::new(TABLE, KeySchema::simple("pk", KeyType::S)).partitions(PARTITIONS),
    )
    .unwrap();
}

fn batch_items(batch: usize, n: usize) -> Vec<Item> {
    (0..n)
        .map(|i| item! { "pk" => format!("b{batch}-{i:02}"), "batch" => batch as i64 })
        .collect()
}

fn write_batch(db: &Db, items: &[Item]) -> Result<(), strata_engine::DbError> {
    let reqs = items.iter().cloned().map(WriteRequest::Put).collect();
    let out = db.batch_write_item([(TABLE, reqs)])?;
    assert!(out.unprocessed_items.is_empty());
    Ok(())
}

#[test]
fn one_fsync_per_partition_touched() {
    let fs = FaultFs::new();
    let db = open(&fs);
    create(&db);
    let table = db.table(TABLE).unwrap();
    for batch in 0..4 {
        let before = table.partition_stats().unwrap();
        write_batch(&db, &batch_items(batch, 25)).unwrap();
        let after = table.partition_stats().unwrap();
        let mut touched = 0;
        for (b, a) in before.iter().zip(&after) {
            let syncs = a.wal_syncs - b.wal_syncs;
            let wrote = a.last_seq != b.last_seq;
            assert_eq!(
                syncs,
                u64::from(wrote),
                "one fsync per partition written: {b:?} -> {a:?}"
            );
            touched += usize::from(wrote);
        }
        // 25 items over 4 partitions touch more than one of them.
        assert!(touched > 1, "{touched}");
    }
}

#[test]
fn partitions_sync_in_parallel() {
    let fs = FaultFs::new();
    let db = open(&fs);
    create(&db);
    // Each fsync takes 200 ms: the partitions' fsyncs of one batch overlap when
    // they are issued together, and never when issued one after another.
    fs.set_sync_delay(Duration::from_millis(200));
    write_batch(&db, &batch_items(0, 25)).unwrap();
    fs.set_sync_delay(Duration::ZERO);
    assert!(
        fs.max_concurrent_syncs() >= 2,
        "{}",
        fs.max_concurrent_syncs()
    );
}

/// Runs the batches; returns how many were acknowledged (stops at the first error).
fn workload(fs: &FaultFs) -> usize {
    let mut o = DbOptions::small(Arc::new(fs.clone()));
    o.refuse_open_on_loss = true;
    let Ok(db) = Db::open(Path::new(DB), o) else {
        return 0;
    };
    let spec = TableSpec::new(TABLE, KeySchema::simple("pk", KeyType::S)).partitions(PARTITIONS);
    if db.create_table(spec).is_err() {
        return 0;
    }
    let mut acked = 0;
    for batch in 0..6 {
        if write_batch(&db, &batch_items(batch, 12)).is_err() {
            return acked;
        }
        acked += 1;
    }
    let _ = db.close();
    acked
}

#[test]
fn a_power_loss_keeps_every_acknowledged_batch() {
    let probe = FaultFs::new();
    let total = probe.points();
    let acked = workload(&probe);
    assert_eq!(acked, 6);
    let end = probe.points();
    assert!(end > total);
    // Every point twice: unsynced bytes lost, and a random prefix of them kept.
    for (k, torn) in (0..end).flat_map(|k| [(k, None), (k, Some(k))]) {
        let fs = FaultFs::new();
        fs.crash_at_point(k);
        fs.set_torn_writes(torn);
        let acked = workload(&fs);
        let fs = fs.recovered();
        let db = match Db::open(Path::new(DB), {
            let mut o = DbOptions::small(Arc::new(fs.clone()));
            o.refuse_open_on_loss = true;
            o
        }) {
            Ok(db) => db,
            Err(e) => panic!("point {k}: reopen failed: {e}"),
        };
        let Ok(table) = db.table(TABLE) else {
            // Lost before the table's creation was acknowledged.
            assert_eq!(acked, 0, "point {k}");
            continue;
        };
        let mut found: BTreeMap<String, i64> = BTreeMap::new();
        for item in table.scan_iter(ScanOptions::default()) {
            let item = item.unwrap();
            found.insert(
                item.get_s("pk").unwrap().to_string(),
                item.get_n::<i64>("batch").unwrap(),
            );
        }
        for batch in 0..6 {
            let present = batch_items(batch, 12)
                .iter()
                .filter(|i| found.contains_key(i.get_s("pk").unwrap()))
                .count();
            if batch < acked {
                assert_eq!(
                    present, 12,
                    "point {k}: acknowledged batch {batch} lost items"
                );
            } else if batch > acked {
                assert_eq!(present, 0, "point {k}: batch {batch} never began");
            }
        }
        // The recovered database takes writes again.
        write_batch(&db, &batch_items(9, 3)).unwrap();
        let got = table
            .get_item(item! { "pk" => "b9-00" }, GetOptions::default())
            .unwrap();
        assert!(got.item.is_some());
        db.close().unwrap();
    }
}
