//! In-memory databases (`Db::open_in_memory`, `DbOptions::in_memory`): the item API
//! works as on disk (put/get/update/delete with conditions, query, scan, batches, an
//! LSI, a GSI after `wait_for_indexes`), validation errors are the same, databases are
//! independent, and nothing is written to the real file system.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::Duration;

use strata_engine::{
    BatchGetRequest, Db, DbError, DbOptions, DeleteOptions, GetOptions, GsiSpec, IN_MEMORY_PATH,
    LsiSpec, PutOptions, QueryOptions, ReturnValues, ScanOptions, TableSpec, UpdateOptions,
    WriteRequest,
};
use strata_item::{Item, KeySchema, KeyType, item};

const WAIT: Duration = Duration::from_secs(30);

fn spec() -> TableSpec {
    TableSpec::new(
        "orders",
        KeySchema::composite("customer", KeyType::S, "id", KeyType::N),
    )
    .partitions(2)
    .lsi(LsiSpec::new("by_total", "total", KeyType::N))
    .gsi(GsiSpec::new(
        "by_status",
        KeySchema::composite("status", KeyType::S, "id", KeyType::N),
    ))
}

fn ids(items: &[Item]) -> Vec<i64> {
    items
        .iter()
        .map(|i| {
            i.get("id")
                .unwrap()
                .as_n()
                .unwrap()
                .to_string()
                .parse()
                .unwrap()
        })
        .collect()
}

/// A representative part of the item API; panics on any difference from what a
/// database on disk does.
fn exercise(db: &Db) {
    db.create_table(spec()).unwrap();
    let t = db.table("orders").unwrap();
    for id in 0..20 {
        let status = if id % 2 == 0 { "open" } else { "shipped" };
        t.put_item(
            item! { "customer" => format!("c{}", id % 3), "id" => id, "total" => 100 - id, "status" => status },
            PutOptions::default(),
        )
        .unwrap();
    }

    // Conditions and return values.
    let again = t.put_item(
        item! { "customer" => "c0", "id" => 0 },
        PutOptions::default().condition("attribute_not_exists(id)"),
    );
    assert!(
        matches!(again, Err(DbError::ConditionalCheckFailed { .. })),
        "{again:?}"
    );
    let up = t
        .update_item(
            item! { "customer" => "c0", "id" => 0 },
            UpdateOptions::default()
                .update("SET #t = #t + :d")
                .name("#t", "total")
                .value(":d", 5)
                .return_values(ReturnValues::AllNew),
        )
        .unwrap();
    assert_eq!(up.attributes.unwrap().get("total"), Some(&105.into()));
    let del = t
        .delete_item(
            item! { "customer" => "c1", "id" => 1 },
            DeleteOptions::default().return_values(ReturnValues::AllOld),
        )
        .unwrap();
    assert!(del.attributes.is_some());
    let gone = t
        .get_item(
            item! { "customer" => "c1", "id" => 1 },
            GetOptions::default(),
        )
        .unwrap();
    assert!(gone.item.is_none());

    // Same validation as on disk.
    let bad = t.put_item(item! { "customer" => "c0" }, PutOptions::default());
    assert!(bad.as_ref().is_err_and(DbError::is_validation), "{bad:?}");
    let missing = db.table("nope");
    assert!(
        matches!(missing, Err(DbError::TableNotFound { .. })),
        "{missing:?}"
    );

    // Query on the table (reverse, limit), on the LSI, scan.
    let q = t
        .query(
            "customer = :c AND id > :i",
            QueryOptions::default()
                .value(":c", "c0")
                .value(":i", 2)
                .reverse(),
        )
        .unwrap();
    assert_eq!(ids(&q.items), vec![18, 15, 12, 9, 6, 3]);
    let cheapest = t
        .query(
            "customer = :c",
            QueryOptions::default()
                .index("by_total")
                .value(":c", "c2")
                .limit(1),
        )
        .unwrap();
    assert_eq!(ids(&cheapest.items), vec![17]);
    let all = t.scan(ScanOptions::default()).unwrap();
    assert_eq!(all.count, 19);

    // Batches.
    let out = db
        .batch_write_item([(
            "orders",
            vec![
                WriteRequest::Put(item! { "customer" => "c9", "id" => 100, "status" => "open" }),
                WriteRequest::Delete(item! { "customer" => "c0", "id" => 3 }.into()),
            ],
        )])
        .unwrap();
    assert!(out.unprocessed_items.is_empty());
    let got = db
        .batch_get_item([(
            "orders",
            BatchGetRequest::keys([
                item! { "customer" => "c9", "id" => 100 },
                item! { "customer" => "c0", "id" => 3 },
            ]),
        )])
        .unwrap();
    assert_eq!(ids(&got.responses["orders"]), vec![100]);

    // The GSI, once caught up.
    db.wait_for_indexes("orders", WAIT).unwrap();
    let open = t
        .query(
            "#s = :s",
            QueryOptions::default()
                .index("by_status")
                .name("#s", "status")
                .value(":s", "open"),
        )
        .unwrap();
    assert_eq!(
        ids(&open.items),
        vec![0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 100]
    );
    let report = db.verify_index("orders", "by_status").unwrap();
    assert!(report.is_clean(), "{report:?}");

    drop(t);
    db.delete_table("orders").unwrap();
    assert!(db.list_tables().unwrap().is_empty());
}

#[test]
fn the_item_api_works_in_memory() {
    let db = Db::open_in_memory().unwrap();
    exercise(&db);
    // Twice in one database: a deleted table leaves nothing behind.
    exercise(&db);
    db.close().unwrap();
}

#[test]
fn in_memory_databases_are_independent() {
    let a = Db::open_in_memory().unwrap();
    let b = Db::open_in_memory().unwrap();
    a.create_table(TableSpec::new("tbl", KeySchema::simple("pk", KeyType::S)))
        .unwrap();
    assert_eq!(a.list_tables().unwrap(), vec!["tbl".to_string()]);
    assert!(b.list_tables().unwrap().is_empty());
    assert_eq!(a.path(), Path::new(IN_MEMORY_PATH));
    // Two on the same options share one in-memory file system, hence one lock.
    let opts = DbOptions::in_memory();
    let first = Db::open("/x", opts.clone()).unwrap();
    let second = Db::open("/x", opts);
    assert!(matches!(second, Err(DbError::Locked { .. })), "{second:?}");
    drop(first);
}

#[test]
fn an_in_memory_database_keeps_its_data_across_handles_until_closed() {
    let db = Db::open_in_memory().unwrap();
    db.create_table(TableSpec::new("tbl", KeySchema::simple("pk", KeyType::S)))
        .unwrap();
    let t = db.table("tbl").unwrap();
    t.put_item(item! { "pk" => "a", "v" => 1 }, PutOptions::default())
        .unwrap();
    t.flush().unwrap();
    let clone = db.clone();
    drop(db);
    let got = clone
        .table("tbl")
        .unwrap()
        .get_item(item! { "pk" => "a" }, GetOptions::default())
        .unwrap();
    assert_eq!(got.item.unwrap().get("v"), Some(&1.into()));
    clone.close().unwrap();
    assert!(matches!(
        t.get_item(item! { "pk" => "a" }, GetOptions::default()),
        Err(DbError::Closed)
    ));
}

#[test]
fn clones_of_the_options_reopen_the_same_in_memory_database() {
    let opts = DbOptions::in_memory();
    let db = Db::open("/app/db", opts.clone()).unwrap();
    db.create_table(spec()).unwrap();
    db.table("orders")
        .unwrap()
        .put_item(
            item! { "customer" => "c", "id" => 1, "total" => 3, "status" => "open" },
            PutOptions::default(),
        )
        .unwrap();
    db.close().unwrap();
    drop(db);

    let db = Db::open("/app/db", opts.clone()).unwrap();
    assert!(db.recovery_report().partitions.is_empty());
    let t = db.table("orders").unwrap();
    let got = t
        .get_item(
            item! { "customer" => "c", "id" => 1 },
            GetOptions::default(),
        )
        .unwrap();
    assert_eq!(got.item.unwrap().get("total"), Some(&3.into()));
    db.wait_for_indexes("orders", WAIT).unwrap();
    let open = t
        .query(
            "#s = :s",
            QueryOptions::default()
                .index("by_status")
                .name("#s", "status")
                .value(":s", "open"),
        )
        .unwrap();
    assert_eq!(ids(&open.items), vec![1]);
    // A fresh in-memory database does not see it.
    let other = Db::open("/app/db", DbOptions::in_memory()).unwrap();
    assert!(other.list_tables().unwrap().is_empty());
}

const CHILD_ENV: &str = "STRATA_IN_MEMORY_CHILD";

/// Run by `nothing_is_written_to_disk` in a child process whose current directory and
/// temporary directory are an empty directory.
#[test]
#[ignore = "run by nothing_is_written_to_disk in a child process"]
fn child_workload() {
    assert_eq!(std::env::var(CHILD_ENV).as_deref(), Ok("1"));
    let db = Db::open_in_memory().unwrap();
    exercise(&db);
    db.close().unwrap();
    let db = Db::open("relative/dir", DbOptions::in_memory()).unwrap();
    exercise(&db);
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn nothing_is_written_to_disk() {
    let scratch = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_workload", "--ignored", "--test-threads=1"])
        .current_dir(scratch.path())
        .env(CHILD_ENV, "1")
        .env("TMPDIR", scratch.path())
        .env("TMP", scratch.path())
        .env("TEMP", scratch.path())
        .status()
        .unwrap();
    assert!(status.success(), "the child workload failed: {status}");
    assert_eq!(entries(scratch.path()), Vec::<String>::new());
    assert!(!Path::new(IN_MEMORY_PATH).exists());
}
