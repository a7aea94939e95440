//! Adding and removing global secondary indexes on tables that hold data
//! (`Db::update_table`): backfill under concurrent writes, CREATING status and refused
//! reads, index key violations skipped and counted, backfill resumed after a reopen,
//! removal leaving no files, never-reused index directories, orphan index directories
//! removed at open.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata_engine::{
    Db, DbError, DbOptions, GsiSpec, IndexStatus, PressureBounds, PutOptions, QueryOptions, Table,
    TableDurability, TableSpec, TableUpdate, WriteRequest,
};
use strata_item::{Item, KeySchema, KeyType, item};

const WAIT: Duration = Duration::from_secs(60);

fn open(dir: &Path) -> Db {
    Db::open(dir, DbOptions::small(strata_fs::default_fs())).unwrap()
}

fn city_index() -> GsiSpec {
    GsiSpec::new(
        "by_city",
        KeySchema::composite("city", KeyType::S, "n", KeyType::N),
    )
    .partitions(3)
}

/// Item `n`: every 97th has a numeric `city` (an index key violation), every 13th no
/// `city` (sparse), the others one of 40 cities.
fn base_item(n: u64) -> Item {
    let mut it = item! { "id" => format!("i{n}"), "n" => n, "pad" => "x".repeat(40) };
    if n.is_multiple_of(97) {
        it.insert("city", n as i64);
    } else if !n.is_multiple_of(13) {
        it.insert("city", format!("city{}", n % 40));
    }
    it
}

/// A table "tbl" (Buffered, 4 partitions) holding items 0..count.
fn load(db: &Db, count: u64) {
    db.create_table(
        TableSpec::new("tbl", KeySchema::simple("id", KeyType::S))
            .partitions(4)
            .durability(TableDurability::Buffered),
    )
    .unwrap();
    let ids: Vec<u64> = (0..count).collect();
    for chunk in ids.chunks(25) {
        let reqs: Vec<WriteRequest> = chunk
            .iter()
            .map(|&n| WriteRequest::Put(base_item(n)))
            .collect();
        let out = db.batch_write_item([("tbl", reqs)]).unwrap();
        assert!(out.unprocessed_items.is_empty());
    }
}

/// A query of the CREATING index `by_city` fails with DynamoDB's message.
fn assert_read_refused(t: &Table) {
    let err = t
        .query(
            "city = :c",
            QueryOptions::default()
                .index("by_city")
                .value(":c", "city1"),
        )
        .unwrap_err();
    assert!(err.is_validation(), "{err}");
    assert!(
        err.to_string()
            .contains("Cannot read from backfilling global secondary index: by_city"),
        "{err}"
    );
}

/// Waits for the indexes, then `by_city` must verify clean.
fn wait_clean(db: &Db) {
    db.wait_for_indexes("tbl", WAIT).unwrap();
    let r = db.verify_index("tbl", "by_city").unwrap();
    assert!(r.is_clean(), "{r}");
}

fn violations(count: u64) -> u64 {
    (0..count).filter(|n| n % 97 == 0).count() as u64
}

fn gsi_dirs(dir: &Path) -> Vec<String> {
    let tables = dir.join("tables");
    let t = std::fs::read_dir(&tables)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let g: PathBuf = t.join("gsi");
    if !g.exists() {
        return Vec::new();
    }
    let mut names: Vec<String> = std::fs::read_dir(g)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn backfill_under_concurrent_writes_ends_clean() {
    let dir = tempfile::tempdir().unwrap();
    // Trees 4 times larger than `DbOptions::small`'s: 100k items still make dozens of
    // flushes and multi-level compactions per tree during the backfill, without the
    // thousands of 16 KB files that would make this test slow in a debug build.
    let mut opts = DbOptions::small(strata_fs::default_fs());
    opts.tree.memtable_size = 64 << 10;
    opts.tree.target_file_size_base = 64 << 10;
    opts.tree.max_bytes_for_level_base = 256 << 10;
    opts.index_backfill_page = strata_engine::BackfillPage::default();
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    // The figure: a table of 100k items.
    let count = 100_000;
    load(&db, count);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let t = db.table("tbl").unwrap();
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut rng = StdRng::seed_from_u64(7);
            let mut writes = 0u64;
            while !stop.load(Ordering::Acquire) || writes < 2000 {
                let n = rng.random_range(0..count + 500);
                let mut it = item! { "id" => format!("i{n}"), "n" => n };
                match rng.random_range(0..10) {
                    0 => {
                        t.delete_item(item! { "id" => format!("i{n}") }, Default::default())
                            .unwrap();
                    }
                    1 => {
                        // No city: leaves the index.
                        t.put_item(it, PutOptions::default()).unwrap();
                    }
                    _ => {
                        it.insert("city", format!("city{}", rng.random_range(0..45)));
                        t.put_item(it, PutOptions::default()).unwrap();
                    }
                }
                writes += 1;
                // A steady load (at most 5k writes/s, the rate of the lag
                // figure) rather than flat out: during a CREATING index nothing slows
                // the base writes, and every one of them is applied once ACTIVE.
                std::thread::sleep(Duration::from_micros(200));
            }
            writes
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    let desc = db
        .update_table("tbl", TableUpdate::add_gsi(city_index()))
        .unwrap();
    assert_eq!(desc.global_secondary_indexes.len(), 1);
    let g = &desc.global_secondary_indexes[0];
    // Right after the call the backfill of 100k items has not finished.
    assert_eq!(g.status, IndexStatus::Creating);
    assert_eq!(g.backfill.unwrap().partitions, 4);
    {
        assert_read_refused(&db.table("tbl").unwrap());
    }
    // The writer keeps changing indexed attributes for the whole backfill.
    let start = std::time::Instant::now();
    loop {
        let g = db.describe_table("tbl").unwrap().global_secondary_indexes[0].clone();
        if g.status == IndexStatus::Active {
            break;
        }
        assert!(g.last_error.is_none(), "{:?}", g.last_error);
        assert!(start.elapsed() < WAIT, "the backfill did not end");
        std::thread::sleep(Duration::from_millis(250));
    }
    stop.store(true, Ordering::Release);
    let writes = writer.join().unwrap();
    assert!(writes >= 2000);
    db.wait_for_indexes("tbl", WAIT).unwrap();
    let desc = db.describe_table("tbl").unwrap();
    let g = &desc.global_secondary_indexes[0];
    assert_eq!(g.status, IndexStatus::Active);
    let bf = g.backfill.unwrap();
    assert_eq!(bf.partitions_done, 4);
    assert!(bf.items_scanned > 0);
    let r = db.verify_index("tbl", "by_city").unwrap();
    assert!(r.is_clean(), "{r}");
    assert_eq!(r.expected_entries, g.item_count);
    // Queries work once ACTIVE and agree with a filtered scan of the base table.
    let page = db
        .table("tbl")
        .unwrap()
        .query(
            "city = :c",
            QueryOptions::default()
                .index("by_city")
                .value(":c", "city3")
                .limit(1000),
        )
        .unwrap();
    assert!(
        page.items
            .iter()
            .all(|i| i.get("city") == Some(&"city3".into()))
    );
    db.close().unwrap();
    let db = Db::open(dir.path(), opts).unwrap();
    wait_clean(&db);
    assert_eq!(
        db.describe_table("tbl").unwrap().global_secondary_indexes[0].status,
        IndexStatus::Active
    );
}

#[test]
fn index_key_violations_are_skipped_and_counted_then_rejected_once_active() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let count = 3000;
    load(&db, count);
    db.update_table("tbl", TableUpdate::add_gsi(city_index()))
        .unwrap();
    db.wait_for_indexes("tbl", WAIT).unwrap();
    let desc = db.describe_table("tbl").unwrap();
    let g = &desc.global_secondary_indexes[0];
    assert_eq!(g.status, IndexStatus::Active);
    let bf = g.backfill.unwrap();
    assert_eq!(bf.items_scanned, count);
    assert_eq!(bf.items_skipped, violations(count));
    let r = db.verify_index("tbl", "by_city").unwrap();
    assert!(r.is_clean(), "{r}");
    assert_eq!(r.skipped_items, violations(count));
    let sparse = (0..count).filter(|n| n % 13 == 0 && n % 97 != 0).count() as u64;
    assert_eq!(g.item_count, count - violations(count) - sparse);
    // ACTIVE: a write with the wrong type is rejected, nothing written.
    let t = db.table("tbl").unwrap();
    let err = t
        .put_item(
            item! { "id" => "bad", "n" => 1, "city" => 5 },
            PutOptions::default(),
        )
        .unwrap_err();
    assert!(matches!(err, DbError::IndexKeyTypeMismatch { .. }), "{err}");
    assert!(
        t.get_item(item! { "id" => "bad" }, Default::default())
            .unwrap()
            .item
            .is_none()
    );
}

#[test]
fn backfill_interrupted_by_reopen_resumes_and_ends_clean() {
    let dir = tempfile::tempdir().unwrap();
    let count = 20_000;
    {
        let db = open(dir.path());
        load(&db, count);
        db.update_table("tbl", TableUpdate::add_gsi(city_index()))
            .unwrap();
        // Dropped without close at once: the backfill is cut off wherever it is.
        drop(db);
    }
    let db = open(dir.path());
    let g = &db.describe_table("tbl").unwrap().global_secondary_indexes[0];
    assert_eq!(g.name, "by_city");
    // Cut off: the backfill was not done when the Db was dropped.
    assert_eq!(g.status, IndexStatus::Creating);
    assert!(g.backfill.unwrap().items_scanned < count);
    db.wait_for_indexes("tbl", WAIT).unwrap();
    let g = db.describe_table("tbl").unwrap().global_secondary_indexes[0].clone();
    assert_eq!(g.status, IndexStatus::Active);
    let bf = g.backfill.unwrap();
    // Resumed from the stored progress: every item scanned exactly once in the count.
    assert_eq!(bf.items_scanned, count);
    assert_eq!(bf.items_skipped, violations(count));
    let r = db.verify_index("tbl", "by_city").unwrap();
    assert!(r.is_clean(), "{r}");
}

#[test]
fn remove_gsi_deletes_files_and_ids_are_never_reused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = open(dir.path());
        load(&db, 500);
        db.update_table("tbl", TableUpdate::add_gsi(city_index()))
            .unwrap();
        db.update_table(
            "tbl",
            TableUpdate::add_gsi(GsiSpec::new("by_n", KeySchema::simple("n", KeyType::N))),
        )
        .unwrap();
        assert_eq!(gsi_dirs(dir.path()), ["g00", "g01"]);
        db.wait_for_indexes("tbl", WAIT).unwrap();
        let desc = db
            .update_table("tbl", TableUpdate::remove_gsi("by_city"))
            .unwrap();
        let names: Vec<&str> = desc
            .global_secondary_indexes
            .iter()
            .map(|g| g.name.as_str())
            .collect();
        assert_eq!(names, ["by_n"]);
        assert_eq!(gsi_dirs(dir.path()), ["g01"]);
        // A query of the removed index: it does not exist.
        let err = db
            .table("tbl")
            .unwrap()
            .query(
                "city = :c",
                QueryOptions::default()
                    .index("by_city")
                    .value(":c", "city1"),
            )
            .unwrap_err();
        assert!(matches!(err, DbError::IndexNotFound { .. }), "{err}");
        let err = db
            .update_table("tbl", TableUpdate::remove_gsi("by_city"))
            .unwrap_err();
        assert!(matches!(err, DbError::IndexNotFound { .. }), "{err}");
        // The same name again gets a new directory.
        db.update_table("tbl", TableUpdate::add_gsi(city_index()))
            .unwrap();
        assert_eq!(gsi_dirs(dir.path()), ["g01", "g02"]);
        wait_clean(&db);
        db.update_table("tbl", TableUpdate::remove_gsi("by_n"))
            .unwrap();
        db.close().unwrap();
    }
    let db = open(dir.path());
    assert_eq!(gsi_dirs(dir.path()), ["g02"]);
    wait_clean(&db);
    db.update_table("tbl", TableUpdate::remove_gsi("by_city"))
        .unwrap();
    drop(db);
    let db = open(dir.path());
    assert!(gsi_dirs(dir.path()).is_empty());
    assert!(
        db.describe_table("tbl")
            .unwrap()
            .global_secondary_indexes
            .is_empty()
    );
}

#[test]
fn invalid_updates_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    load(&db, 10);
    // `id` is the table's S key: an index on it as N is a type conflict.
    let err = db
        .update_table(
            "tbl",
            TableUpdate::add_gsi(GsiSpec::new("bad", KeySchema::simple("id", KeyType::N))),
        )
        .unwrap_err();
    assert!(matches!(err, DbError::InvalidTableSpec { .. }), "{err}");
    let err = db
        .update_table("nope", TableUpdate::remove_gsi("x"))
        .unwrap_err();
    assert!(matches!(err, DbError::TableNotFound { .. }), "{err}");
    assert!(gsi_dirs(dir.path()).is_empty());
    // The table still works through an old handle after a successful update.
    let t = db.table("tbl").unwrap();
    db.update_table("tbl", TableUpdate::add_gsi(city_index()))
        .unwrap();
    t.put_item(base_item(11), PutOptions::default()).unwrap();
    wait_clean(&db);
}

#[test]
fn orphan_index_directories_are_removed_at_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = open(dir.path());
        load(&db, 10);
        db.update_table("tbl", TableUpdate::add_gsi(city_index()))
            .unwrap();
        db.close().unwrap();
    }
    let tables = dir.path().join("tables");
    let t = std::fs::read_dir(&tables)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    // What a crash of an add_gsi before its catalog write leaves.
    std::fs::create_dir_all(t.join("gsi").join("g07").join("p0000")).unwrap();
    std::fs::write(t.join("gsi").join("g07").join("p0000").join("x"), b"x").unwrap();
    let db = open(dir.path());
    assert_eq!(gsi_dirs(dir.path()), ["g00"]);
    wait_clean(&db);
}

#[test]
fn a_lagging_index_slows_then_stops_base_writes_until_it_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = DbOptions::small(strata_fs::default_fs());
    opts.index_pressure = PressureBounds {
        slow_records: 50,
        stop_records: 200,
        slow_bytes: u64::MAX - 1,
        stop_bytes: u64::MAX,
        min_delay: Duration::from_micros(100),
        max_delay: Duration::from_millis(1),
    };
    opts.index_pressure_wait = Duration::from_millis(300);
    let db = Db::open(dir.path(), opts).unwrap();
    db.create_table(
        TableSpec::new("tbl", KeySchema::simple("id", KeyType::S))
            .partitions(1)
            .durability(TableDurability::Buffered)
            .gsi(city_index()),
    )
    .unwrap();
    let t = db.table("tbl").unwrap();
    // A stalled maintainer (test hook): the index falls behind every write.
    db.pause_index_maintenance(true);
    let mut acknowledged = 0u64;
    let err = loop {
        match t.put_item(valid_item(acknowledged + 1), PutOptions::default()) {
            Ok(_) => acknowledged += 1,
            Err(e) => break e,
        }
        assert!(acknowledged < 10_000, "writes were never stopped");
    };
    match &err {
        DbError::IndexBackpressure {
            table,
            partition,
            index,
            lag_records,
            ..
        } => {
            assert_eq!(
                (table.as_str(), *partition, index.as_str()),
                ("tbl", 0, "by_city")
            );
            assert!(*lag_records >= 200, "{err}");
        }
        other => panic!("{other}"),
    }
    // Stopped at the bound: the unapplied records (what the index holds back) never
    // grew past it.
    assert!((200..=201).contains(&acknowledged), "{acknowledged}");
    let lag = db.describe_table("tbl").unwrap().global_secondary_indexes[0].lag_records;
    assert!(lag <= 201, "{lag}");
    // The refused write wrote nothing.
    assert!(
        t.get_item(
            item! { "id" => format!("i{}", acknowledged + 1) },
            Default::default()
        )
        .unwrap()
        .item
        .is_none()
    );
    // Once the index catches up, writes go through again.
    db.pause_index_maintenance(false);
    db.wait_for_indexes("tbl", WAIT).unwrap();
    t.put_item(valid_item(acknowledged + 1), PutOptions::default())
        .unwrap();
    wait_clean(&db);
}

fn valid_item(n: u64) -> Item {
    item! { "id" => format!("i{n}"), "n" => n, "city" => format!("city{}", n % 7) }
}

#[test]
fn creating_index_refuses_reads_accepts_violating_writes_and_exerts_no_pressure() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = DbOptions::small(strata_fs::default_fs());
    opts.index_pressure = PressureBounds {
        slow_records: 5,
        stop_records: 10,
        ..PressureBounds::default()
    };
    opts.index_pressure_wait = Duration::from_millis(100);
    let db = Db::open(dir.path(), opts).unwrap();
    load(&db, 300);
    // A stalled maintainer keeps the new index CREATING as long as this test needs.
    db.pause_index_maintenance(true);
    let desc = db
        .update_table("tbl", TableUpdate::add_gsi(city_index()))
        .unwrap();
    let g = &desc.global_secondary_indexes[0];
    assert_eq!(g.status, IndexStatus::Creating);
    let bf = g.backfill.unwrap();
    assert_eq!(
        (bf.partitions_done, bf.partitions, bf.items_scanned),
        (0, 4, 0)
    );
    let t = db.table("tbl").unwrap();
    assert_read_refused(&t);
    // Far past the stop bound, but a CREATING index exerts no back-pressure.
    for n in 1000..1100 {
        t.put_item(valid_item(n), PutOptions::default()).unwrap();
    }
    // DynamoDB rejects index key violations only once the backfill is done.
    t.put_item(
        item! { "id" => "late", "n" => 1, "city" => 42 },
        PutOptions::default(),
    )
    .unwrap();
    db.pause_index_maintenance(false);
    db.wait_for_indexes("tbl", WAIT).unwrap();
    let g = db.describe_table("tbl").unwrap().global_secondary_indexes[0].clone();
    assert_eq!(g.status, IndexStatus::Active);
    let r = db.verify_index("tbl", "by_city").unwrap();
    assert!(r.is_clean(), "{r}");
    // The 300 loaded items' violations plus the late one.
    assert_eq!(r.skipped_items, violations(300) + 1);
    let err = t
        .put_item(
            item! { "id" => "later", "n" => 1, "city" => 42 },
            PutOptions::default(),
        )
        .unwrap_err();
    assert!(matches!(err, DbError::IndexKeyTypeMismatch { .. }), "{err}");
}
