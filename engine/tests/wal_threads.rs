//! One background WAL sync thread per `Db` (issue 13): tables written with
//! `Sync` durability never start one; `Buffered` tables share a single one.
//! One test only, so that no other test's threads are counted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use strata_engine::{Db, DbOptions, PutOptions, TableDurability, TableSpec};
use strata_item::{KeySchema, KeyType, item};

/// Threads of this process named like the WAL syncer.
fn wal_sync_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim() == "strata-wal-sync")
        .count()
}

fn write_some(db: &Db, durability: TableDurability, prefix: &str) {
    for t in 0..3 {
        let name = format!("{prefix}{t}");
        db.create_table(
            TableSpec::new(&name, KeySchema::simple("pk", KeyType::S))
                .partitions(4)
                .durability(durability),
        )
        .unwrap();
        let table = db.table(&name).unwrap();
        for i in 0..64 {
            table
                .put_item(
                    item! { "pk" => format!("k{i}"), "v" => i },
                    PutOptions::default(),
                )
                .unwrap();
        }
    }
}

#[test]
fn sync_tables_run_no_wal_sync_thread_and_buffered_tables_share_one() {
    assert_eq!(wal_sync_threads(), 0);
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), DbOptions::default()).unwrap();
    write_some(&db, TableDurability::Sync, "sync");
    assert_eq!(wal_sync_threads(), 0);
    assert!(!db.shared_resources().wal_syncer().is_running());

    write_some(&db, TableDurability::Buffered, "buffered");
    assert_eq!(wal_sync_threads(), 1);
    assert_eq!(db.shared_resources().wal_syncer().registered(), 12);
    db.close().unwrap();
    drop(db);
    assert_eq!(wal_sync_threads(), 0, "the thread ends with the Db");
}
