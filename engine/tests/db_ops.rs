//! Integration tests per operation of the table API, including every validation error.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use parking_lot::Mutex;
use strata_engine::capacity::{OpInfo, OpKind};
use strata_engine::{
    BatchGetRequest, CapacityMeter, Change, ChangeSink, ConsumedCapacity, Db, DbError, DbOptions,
    DeleteOptions, GetOptions, IndexProjection, KeyConditionInput, LsiSpec, ProjectionInput,
    PutOptions, QueryOptions, ReturnValues, ScanOptions, Select, Table, TableDurability, TableSpec,
    UpdateOptions, WriteRequest,
};
use strata_item::expr::{AttributePath, Condition, SortKeyCondition};
use strata_item::{AttributeValue, Item, KeySchema, KeyType, PrimaryKey, item};

fn open(dir: &std::path::Path) -> Db {
    Db::open(dir, DbOptions::default()).unwrap()
}

/// A table with a string partition key, a number sort key and two LSIs.
fn music(db: &Db) -> Table {
    db.create_table(
        TableSpec::new(
            "music",
            KeySchema::composite("artist", KeyType::S, "n", KeyType::N),
        )
        .durability(TableDurability::Buffered)
        .lsi(LsiSpec::new("by_title", "title", KeyType::S))
        .lsi(
            LsiSpec::new("by_year", "year", KeyType::N)
                .projection(IndexProjection::Include(vec!["genre".into()])),
        ),
    )
    .unwrap();
    db.table("music").unwrap()
}

fn song(artist: &str, n: i64, title: &str, year: i64) -> Item {
    item! { "artist" => artist, "n" => n, "title" => title, "year" => year, "genre" => "rock", "len" => 200 + n }
}

fn key(artist: &str, n: i64) -> Item {
    item! { "artist" => artist, "n" => n }
}

fn get(t: &Table, k: Item) -> Option<Item> {
    t.get_item(k, GetOptions::default()).unwrap().item
}

fn ns(items: &[Item]) -> Vec<i64> {
    items
        .iter()
        .map(|i| i.get("n").unwrap().as_n().unwrap().to_i64().unwrap())
        .collect()
}

fn is_validation(e: &DbError) -> bool {
    e.is_validation()
}

#[test]
fn table_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    assert!(db.list_tables().unwrap().is_empty());
    let spec = TableSpec::new("users", KeySchema::simple("id", KeyType::S)).partitions(3);
    let d = db.create_table(spec.clone()).unwrap();
    assert_eq!(d.spec.partitions, 3);
    assert!(matches!(
        db.create_table(spec.clone()),
        Err(DbError::TableExists { .. })
    ));
    assert!(matches!(
        db.create_table(TableSpec::new("x", KeySchema::simple("id", KeyType::S))),
        Err(DbError::InvalidTableSpec { .. })
    ));
    assert!(matches!(
        db.table("nope"),
        Err(DbError::TableNotFound { .. })
    ));
    assert!(matches!(
        db.describe_table("nope"),
        Err(DbError::TableNotFound { .. })
    ));
    assert!(matches!(
        db.delete_table("nope"),
        Err(DbError::TableNotFound { .. })
    ));
    let users = db.table("users").unwrap();
    users
        .put_item(item! { "id" => "a", "v" => 1 }, PutOptions::default())
        .unwrap();
    assert_eq!(db.describe_table("users").unwrap().table_id, d.table_id);
    assert_eq!(db.list_tables().unwrap(), vec!["users"]);

    // Delete, then re-create: a new, empty table with a new id; old handles are dead.
    db.delete_table("users").unwrap();
    assert!(matches!(get_err(&users), DbError::TableNotFound { .. }));
    let d2 = db.create_table(spec).unwrap();
    assert!(d2.table_id > d.table_id);
    let users = db.table("users").unwrap();
    assert_eq!(get(&users, item! { "id" => "a" }), None);
    users
        .put_item(item! { "id" => "b" }, PutOptions::default())
        .unwrap();
    db.close().unwrap();
    assert!(matches!(db.list_tables(), Err(DbError::Closed)));
    assert!(matches!(get_err(&users), DbError::Closed));
    db.close().unwrap();

    // Reopen: the table and its item survived, with the same id and spec.
    let db = open(dir.path());
    assert_eq!(db.describe_table("users").unwrap().table_id, d2.table_id);
    assert_eq!(db.describe_table("users").unwrap().spec.partitions, 3);
    assert!(get(&db.table("users").unwrap(), item! { "id" => "b" }).is_some());
    // Only the live table's directory is left.
    let dirs: Vec<_> = std::fs::read_dir(dir.path().join("tables"))
        .unwrap()
        .collect();
    assert_eq!(dirs.len(), 1);
}

fn get_err(t: &Table) -> DbError {
    t.get_item(item! { "id" => "a" }, GetOptions::default())
        .unwrap_err()
}

#[test]
fn second_open_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let err = Db::open(dir.path(), DbOptions::default()).unwrap_err();
    assert!(matches!(err, DbError::Locked { .. }), "{err}");
    assert!(err.to_string().contains("in use"));
    db.close().unwrap();
    // After close the directory can be opened again.
    open(dir.path()).close().unwrap();
    let missing = dir.path().join("missing");
    let opts = DbOptions {
        create_if_missing: false,
        ..DbOptions::default()
    };
    assert!(matches!(
        Db::open(&missing, opts),
        Err(DbError::NotFound { .. })
    ));
}

#[test]
fn handles_keep_the_database_open() {
    let dir = tempfile::tempdir().unwrap();
    let table = {
        let db = open(dir.path());
        db.create_table(TableSpec::new("users", KeySchema::simple("id", KeyType::S)))
            .unwrap();
        db.table("users").unwrap()
    };
    // The Db clone inside the handle keeps it open.
    table
        .put_item(item! { "id" => "a" }, PutOptions::default())
        .unwrap();
    assert!(Db::open(dir.path(), DbOptions::default()).is_err());
    drop(table);
    let db = open(dir.path());
    assert!(get(&db.table("users").unwrap(), item! { "id" => "a" }).is_some());
}

#[test]
fn put_and_get() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = music(&db);
    let s = song("abba", 1, "Waterloo", 1974);
    let out = t.put_item(s.clone(), PutOptions::default()).unwrap();
    assert_eq!(out.attributes, None);
    // 1 table unit + 1 per LSI entry put.
    assert_eq!(out.consumed_capacity.table_capacity_units, 1.0);
    assert_eq!(out.consumed_capacity.local_secondary_indexes.len(), 2);
    assert_eq!(out.consumed_capacity.write_capacity_units, 3.0);
    assert_eq!(get(&t, key("abba", 1)), Some(s.clone()));

    // ALL_OLD returns the replaced item.
    let s2 = song("abba", 1, "Waterloo (live)", 1974);
    let out = t
        .put_item(
            s2.clone(),
            PutOptions::default().return_values(ReturnValues::AllOld),
        )
        .unwrap();
    assert_eq!(out.attributes, Some(s));
    // A PrimaryKey works as well as a key map.
    let got = t
        .get_item(PrimaryKey::with_sort("abba", 1), GetOptions::default())
        .unwrap();
    assert_eq!(got.item, Some(s2));
    // Eventually consistent reads cost half.
    assert_eq!(got.consumed_capacity.read_capacity_units, 0.5);
    let got = t
        .get_item(key("abba", 1), GetOptions::default().consistent_read(true))
        .unwrap();
    assert_eq!(got.consumed_capacity.read_capacity_units, 1.0);
    // A missing item still costs the minimum.
    let got = t
        .get_item(key("abba", 99), GetOptions::default().consistent_read(true))
        .unwrap();
    assert_eq!(
        (got.item, got.consumed_capacity.read_capacity_units),
        (None, 1.0)
    );
    // Projection.
    let got = t
        .get_item(
            key("abba", 1),
            GetOptions::default()
                .projection("title, #y")
                .name("#y", "year"),
        )
        .unwrap();
    assert_eq!(
        got.item,
        Some(item! { "title" => "Waterloo (live)", "year" => 1974 })
    );
    let got = t
        .get_item(
            key("abba", 1),
            GetOptions::default().projection(ProjectionInput::attributes(["len"])),
        )
        .unwrap();
    assert_eq!(got.item, Some(item! { "len" => 201 }));

    // A 9 KB item costs 9 write units and 3 (strong) read units.
    let big = item! { "artist" => "big", "n" => 1, "blob" => vec![7u8; 9 * 1024 - 20] };
    let out = t.put_item(big.clone(), PutOptions::default()).unwrap();
    assert_eq!(out.consumed_capacity.table_capacity_units, 9.0);
    let got = t
        .get_item(key("big", 1), GetOptions::default().consistent_read(true))
        .unwrap();
    assert_eq!(got.consumed_capacity.read_capacity_units, 3.0);
}

#[test]
fn put_validation_errors_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = music(&db);
    let cases: Vec<(Item, &str)> = vec![
        (item! { "n" => 1 }, "Missing the key artist"),
        (item! { "artist" => "a" }, "Missing the key n"),
        (
            item! { "artist" => 5, "n" => 1 },
            "Type mismatch for key artist",
        ),
        (
            item! { "artist" => "a", "n" => "1" },
            "Type mismatch for key n",
        ),
        (item! { "artist" => "", "n" => 1 }, "empty string value"),
        (
            item! { "artist" => "a", "n" => 1, "blob" => vec![0u8; 400 * 1024] },
            "maximum allowed size",
        ),
        (
            item! { "artist" => "a", "n" => 1, "s" => AttributeValue::Ss(BTreeSet::new()) },
            "may not be empty",
        ),
        (
            item! { "artist" => "a", "n" => 1, "title" => 5 },
            "Type mismatch for Index Key title",
        ),
        (
            item! { "artist" => "a", "n" => 1, "year" => "1999" },
            "Type mismatch for Index Key year",
        ),
        (
            item! { "artist" => "a", "n" => 1, "title" => "" },
            "secondary index key",
        ),
        // Fits 400 KB alone, not together with its ALL-projected by_title entry.
        (
            item! { "artist" => "a", "n" => 1, "title" => "t", "blob" => vec![0u8; 250 * 1024] },
            "index by_title",
        ),
    ];
    for (item, want) in cases {
        let err = t.put_item(item.clone(), PutOptions::default()).unwrap_err();
        assert!(is_validation(&err), "{err:?}");
        assert!(
            err.to_string().contains(want),
            "{err} should contain {want:?}"
        );
    }
    // Return values other than NONE / ALL_OLD.
    for rv in [
        ReturnValues::AllNew,
        ReturnValues::UpdatedOld,
        ReturnValues::UpdatedNew,
    ] {
        let err = t
            .put_item(
                song("a", 1, "t", 1),
                PutOptions::default().return_values(rv),
            )
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("Return values set to invalid value"),
            "{err}"
        );
    }
    // Expression errors.
    let err = t
        .put_item(
            song("a", 1, "t", 1),
            PutOptions::default().condition("attribute_not_exists("),
        )
        .unwrap_err();
    assert!(matches!(err, DbError::Expression(_)), "{err}");
    let err = t
        .put_item(
            song("a", 1, "t", 1),
            PutOptions::default().condition("n > :x"),
        )
        .unwrap_err();
    assert!(err.to_string().contains("not defined"), "{err}");
    let err = t
        .put_item(
            song("a", 1, "t", 1),
            PutOptions::default()
                .condition("n > :x")
                .value(":x", 1)
                .value(":y", 2),
        )
        .unwrap_err();
    assert!(err.to_string().contains("unused"), "{err}");
    // Nothing of the above was written.
    assert_eq!(t.scan(ScanOptions::default()).unwrap().count, 0);
    for idx in ["by_title", "by_year"] {
        assert_eq!(t.scan(ScanOptions::default().index(idx)).unwrap().count, 0);
    }
}

#[test]
fn conditional_put_idempotency() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.create_table(TableSpec::new(
        "requests",
        KeySchema::simple("pk", KeyType::S),
    ))
    .unwrap();
    let t = db.table("requests").unwrap();
    let once = || PutOptions::default().condition("attribute_not_exists(pk)");
    t.put_item(item! { "pk" => "req-1", "amount" => 10 }, once())
        .unwrap();
    let err = t
        .put_item(item! { "pk" => "req-1", "amount" => 99 }, once())
        .unwrap_err();
    assert!(
        matches!(err, DbError::ConditionalCheckFailed { .. }),
        "{err}"
    );
    assert!(!err.is_validation());
    assert_eq!(
        get(&t, item! { "pk" => "req-1" }),
        Some(item! { "pk" => "req-1", "amount" => 10 })
    );
    // A typed condition works the same.
    let typed = Condition::AttributeNotExists(AttributePath::new("pk"));
    let err = t
        .put_item(
            item! { "pk" => "req-1" },
            PutOptions::default().condition(typed.clone()),
        )
        .unwrap_err();
    assert!(matches!(err, DbError::ConditionalCheckFailed { .. }));
    t.put_item(
        item! { "pk" => "req-2" },
        PutOptions::default().condition(typed),
    )
    .unwrap();
    // Optimistic locking with a version attribute.
    let v = |n: i64| {
        PutOptions::default()
            .condition("#v = :v")
            .name("#v", "version")
            .value(":v", n)
    };
    t.put_item(
        item! { "pk" => "req-1", "version" => 2 },
        PutOptions::default(),
    )
    .unwrap();
    assert!(
        t.put_item(item! { "pk" => "req-1", "version" => 3 }, v(1))
            .is_err()
    );
    t.put_item(item! { "pk" => "req-1", "version" => 3 }, v(2))
        .unwrap();
}

#[test]
fn update_item() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = music(&db);
    // Update of an absent item creates it.
    let out = t
        .update_item(
            key("abba", 1),
            UpdateOptions::default()
                .update("SET title = :t, plays = :zero")
                .value(":t", "SOS")
                .value(":zero", 0)
                .return_values(ReturnValues::AllNew),
        )
        .unwrap();
    let created = item! { "artist" => "abba", "n" => 1, "title" => "SOS", "plays" => 0 };
    assert_eq!(out.attributes, Some(created.clone()));
    // Return values.
    let upd = |rv| {
        UpdateOptions::default()
            .update("ADD plays :one")
            .value(":one", 1)
            .return_values(rv)
    };
    assert_eq!(
        t.update_item(key("abba", 1), upd(ReturnValues::None))
            .unwrap()
            .attributes,
        None
    );
    assert_eq!(
        t.update_item(key("abba", 1), upd(ReturnValues::UpdatedOld))
            .unwrap()
            .attributes,
        Some(item! { "plays" => 1 })
    );
    assert_eq!(
        t.update_item(key("abba", 1), upd(ReturnValues::UpdatedNew))
            .unwrap()
            .attributes,
        Some(item! { "plays" => 3 })
    );
    let all_old = t
        .update_item(key("abba", 1), upd(ReturnValues::AllOld))
        .unwrap()
        .attributes
        .unwrap();
    assert_eq!(all_old.get("plays"), Some(&3.into()));
    assert_eq!(
        get(&t, key("abba", 1)).unwrap().get("plays"),
        Some(&4.into())
    );
    // REMOVE, with a condition.
    t.update_item(
        key("abba", 1),
        UpdateOptions::default()
            .update("REMOVE plays")
            .condition("plays > :n")
            .value(":n", 3),
    )
    .unwrap();
    assert_eq!(
        get(&t, key("abba", 1)),
        Some(item! { "artist" => "abba", "n" => 1, "title" => "SOS" })
    );
    let err = t
        .update_item(
            key("abba", 1),
            UpdateOptions::default()
                .update("SET x = :n")
                .condition("attribute_exists(plays)")
                .value(":n", 3),
        )
        .unwrap_err();
    assert!(matches!(err, DbError::ConditionalCheckFailed { .. }));
    // No update expression: makes sure the item exists.
    t.update_item(key("abba", 2), UpdateOptions::default())
        .unwrap();
    assert_eq!(get(&t, key("abba", 2)), Some(key("abba", 2)));

    // Errors, nothing written.
    let before = get(&t, key("abba", 1));
    let cases: Vec<(UpdateOptions, &str)> = vec![
        (
            UpdateOptions::default()
                .update("SET artist = :v")
                .value(":v", "x"),
            "part of the key",
        ),
        (
            UpdateOptions::default().update("SET n = :v").value(":v", 3),
            "part of the key",
        ),
        (
            UpdateOptions::default()
                .update("SET title = :v")
                .value(":v", 3),
            "Type mismatch for Index Key title",
        ),
        (
            UpdateOptions::default()
                .update("SET #y = :v")
                .name("#y", "year")
                .value(":v", "x"),
            "Type mismatch for Index Key year",
        ),
        (
            UpdateOptions::default().update("SET a = b"),
            "does not exist in the item",
        ),
        (
            UpdateOptions::default()
                .update("SET title = title + :one")
                .value(":one", 1),
            "incorrect data type",
        ),
        (
            UpdateOptions::default()
                .update("SET big = :b")
                .value(":b", vec![0u8; 400 * 1024]),
            "maximum allowed size",
        ),
        (UpdateOptions::default().update("SET"), "Syntax error"),
    ];
    for (opts, want) in cases {
        let err = t.update_item(key("abba", 1), opts).unwrap_err();
        assert!(
            err.to_string().contains(want),
            "{err} should contain {want:?}"
        );
    }
    assert_eq!(get(&t, key("abba", 1)), before);
    // Keys must match the schema.
    for bad in [
        item! { "artist" => "abba" },
        item! { "artist" => "abba", "n" => 1, "x" => 1 },
        item! { "artist" => "abba", "n" => "1" },
    ] {
        assert!(is_validation(
            &t.update_item(bad, UpdateOptions::default()).unwrap_err()
        ));
    }
    assert!(is_validation(
        &t.get_item(PrimaryKey::partition_only("abba"), GetOptions::default())
            .unwrap_err()
    ));
}

#[test]
fn delete_item() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = music(&db);
    let s = song("abba", 1, "SOS", 1975);
    t.put_item(s.clone(), PutOptions::default()).unwrap();
    let err = t
        .delete_item(
            key("abba", 1),
            DeleteOptions::default()
                .condition("#y < :y")
                .name("#y", "year")
                .value(":y", 1970),
        )
        .unwrap_err();
    assert!(matches!(err, DbError::ConditionalCheckFailed { .. }));
    assert!(
        t.delete_item(
            key("abba", 1),
            DeleteOptions::default().return_values(ReturnValues::AllNew)
        )
        .is_err()
    );
    let out = t
        .delete_item(
            key("abba", 1),
            DeleteOptions::default().return_values(ReturnValues::AllOld),
        )
        .unwrap();
    assert_eq!(out.attributes, Some(s));
    // Base item and both LSI entries deleted: 1 + 1 + 1 units.
    assert_eq!(out.consumed_capacity.write_capacity_units, 3.0);
    assert_eq!(get(&t, key("abba", 1)), None);
    for idx in ["by_title", "by_year"] {
        assert_eq!(t.scan(ScanOptions::default().index(idx)).unwrap().count, 0);
    }
    // Deleting an absent item is fine and costs one unit.
    let out = t
        .delete_item(key("abba", 1), DeleteOptions::default())
        .unwrap();
    assert_eq!(
        (out.attributes, out.consumed_capacity.write_capacity_units),
        (None, 1.0)
    );
}

fn fill(t: &Table, artist: &str, n: i64) {
    for i in 0..n {
        t.put_item(
            song(
                artist,
                i,
                &format!("title{:03}", (i * 7) % n),
                1960 + i % 10,
            ),
            PutOptions::default(),
        )
        .unwrap();
    }
}

#[test]
fn query_ranges_directions_and_pages() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = music(&db);
    fill(&t, "abba", 50);
    fill(&t, "beatles", 20);
    let q = |kc: &str, o: QueryOptions| t.query(kc, o.value(":a", "abba")).unwrap();
    assert_eq!(
        ns(&q("artist = :a", QueryOptions::default()).items),
        (0..50).collect::<Vec<_>>()
    );
    assert_eq!(
        ns(&q("artist = :a", QueryOptions::default().reverse()).items),
        (0..50).rev().collect::<Vec<_>>()
    );
    let r = q(
        "artist = :a AND n BETWEEN :lo AND :hi",
        QueryOptions::default().value(":lo", 10).value(":hi", 12),
    );
    assert_eq!(ns(&r.items), vec![10, 11, 12]);
    let r = q(
        "artist = :a AND n < :x",
        QueryOptions::default().value(":x", 3).reverse(),
    );
    assert_eq!(ns(&r.items), vec![2, 1, 0]);
    let r = q(
        "artist = :a AND n >= :x",
        QueryOptions::default().value(":x", 48),
    );
    assert_eq!(ns(&r.items), vec![48, 49]);
    // Typed key condition.
    let r = t
        .query(
            KeyConditionInput::with_sort("beatles", SortKeyCondition::Gt(17.into())),
            QueryOptions::default(),
        )
        .unwrap();
    assert_eq!(ns(&r.items), vec![18, 19]);
    assert_eq!(r.consumed_capacity.read_capacity_units, 0.5);
    // Pagination, both directions.
    for forward in [true, false] {
        let mut got = Vec::new();
        let mut start = None;
        let mut pages = 0;
        loop {
            let mut o = QueryOptions::default().limit(7).start_after(start.take());
            if !forward {
                o = o.reverse();
            }
            let page = q("artist = :a", o);
            pages += 1;
            assert!(page.count <= 7);
            got.extend(ns(&page.items));
            match page.last_evaluated_key {
                Some(k) => {
                    assert_eq!(k.len(), 2, "{k:?}");
                    start = Some(k);
                }
                None => break,
            }
        }
        let mut want: Vec<i64> = (0..50).collect();
        if !forward {
            want.reverse();
        }
        assert_eq!(got, want);
        assert_eq!(pages, 8);
    }
    // Filter: applied after limit; count vs scanned_count.
    let r = q(
        "artist = :a",
        QueryOptions::default()
            .filter("#y = :y")
            .name("#y", "year")
            .value(":y", 1961)
            .limit(20),
    );
    assert_eq!((r.count, r.scanned_count), (2, 20));
    assert!(r.last_evaluated_key.is_some());
    // Select::Count.
    let r = q("artist = :a", QueryOptions::default().select(Select::Count));
    assert_eq!(
        (r.count, r.items.len(), r.last_evaluated_key),
        (50, 0, None)
    );
    // Projection.
    let r = q(
        "artist = :a AND n = :n",
        QueryOptions::default().projection("len").value(":n", 5),
    );
    assert_eq!(r.items, vec![item! { "len" => 205 }]);
    // Unknown partition key: empty.
    let r = t
        .query("artist = :a", QueryOptions::default().value(":a", "nobody"))
        .unwrap();
    assert_eq!((r.count, r.last_evaluated_key), (0, None));
}

#[test]
fn query_on_lsis() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = music(&db);
    fill(&t, "abba", 30);
    // An item without a title is absent from by_title (sparse).
    t.put_item(
        item! { "artist" => "abba", "n" => 100, "year" => 1999 },
        PutOptions::default(),
    )
    .unwrap();
    let titles = t
        .query(
            "artist = :a",
            QueryOptions::default()
                .index("by_title")
                .value(":a", "abba"),
        )
        .unwrap();
    assert_eq!(titles.count, 30);
    let got: Vec<String> = titles
        .items
        .iter()
        .map(|i| i.get("title").unwrap().as_s().unwrap().to_owned())
        .collect();
    let mut sorted = got.clone();
    sorted.sort();
    assert_eq!(got, sorted);
    // by_year projects keys + genre only.
    let r = t
        .query(
            "artist = :a AND #y = :y",
            QueryOptions::default()
                .index("by_year")
                .name("#y", "year")
                .value(":a", "abba")
                .value(":y", 1999),
        )
        .unwrap();
    assert_eq!(
        r.items,
        vec![item! { "artist" => "abba", "n" => 100, "year" => 1999 }]
    );
    let r = t
        .query(
            "artist = :a AND #y = :y",
            QueryOptions::default()
                .index("by_year")
                .name("#y", "year")
                .value(":a", "abba")
                .value(":y", 1961),
        )
        .unwrap();
    assert_eq!(r.count, 3);
    assert!(
        r.items
            .iter()
            .all(|i| i.len() == 4 && i.contains_key("genre"))
    );
    assert!(
        r.consumed_capacity
            .local_secondary_indexes
            .contains_key("by_year")
    );
    assert_eq!(r.consumed_capacity.table_capacity_units, 0.0);
    // ALL_ATTRIBUTES on a non-ALL index fetches the items (and charges the table).
    let r = t
        .query(
            "artist = :a AND #y = :y",
            QueryOptions::default()
                .index("by_year")
                .name("#y", "year")
                .value(":a", "abba")
                .value(":y", 1961)
                .select(Select::AllAttributes),
        )
        .unwrap();
    assert!(
        r.items
            .iter()
            .all(|i| i.contains_key("title") && i.contains_key("len"))
    );
    assert_eq!(r.consumed_capacity.table_capacity_units, 1.5);
    // A filter on a non-projected attribute fetches too.
    let r = t
        .query(
            "artist = :a",
            QueryOptions::default()
                .index("by_year")
                .value(":a", "abba")
                .filter("len > :l")
                .value(":l", 225),
        )
        .unwrap();
    assert_eq!(ns(&r.items), vec![26, 27, 28, 29]);
    // LSI pagination: the last evaluated key holds the index key too.
    let mut seen = Vec::new();
    let mut start = None;
    loop {
        let page = t
            .query(
                "artist = :a",
                QueryOptions::default()
                    .index("by_year")
                    .value(":a", "abba")
                    .limit(4)
                    .start_after(start.take()),
            )
            .unwrap();
        seen.extend(ns(&page.items));
        match page.last_evaluated_key {
            Some(k) => {
                assert!(k.contains_key("year") && k.len() == 3);
                start = Some(k);
            }
            None => break,
        }
    }
    seen.sort_unstable();
    let mut want: Vec<i64> = (0..30).collect();
    want.push(100);
    assert_eq!(seen, want);
    // Moving an item's LSI key moves its entry; removing it removes the entry.
    t.update_item(
        key("abba", 0),
        UpdateOptions::default()
            .update("SET title = :t")
            .value(":t", "zzz"),
    )
    .unwrap();
    let last = t
        .query(
            "artist = :a",
            QueryOptions::default()
                .index("by_title")
                .value(":a", "abba")
                .reverse()
                .limit(1),
        )
        .unwrap();
    assert_eq!(ns(&last.items), vec![0]);
    t.update_item(
        key("abba", 0),
        UpdateOptions::default().update("REMOVE title"),
    )
    .unwrap();
    let all = t
        .query(
            "artist = :a",
            QueryOptions::default()
                .index("by_title")
                .value(":a", "abba"),
        )
        .unwrap();
    assert_eq!(all.count, 29);
}

#[test]
fn query_validation_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = music(&db);
    fill(&t, "abba", 5);
    let q = |kc: &str, o: QueryOptions| t.query(kc, o).unwrap_err();
    let cases: Vec<(DbError, &str)> = vec![
        (
            q("artist = :a", QueryOptions::default().value(":a", 5)),
            "does not match schema type",
        ),
        (
            q(
                "artist = :a AND n = :n",
                QueryOptions::default().value(":a", "abba").value(":n", "x"),
            ),
            "does not match schema type",
        ),
        (
            q(
                "artist = :a AND begins_with(n, :n)",
                QueryOptions::default().value(":a", "abba").value(":n", 1),
            ),
            "begins_with",
        ),
        (
            q("n = :n", QueryOptions::default().value(":n", 1)),
            "missed key schema element",
        ),
        (
            q(
                "artist = :a",
                QueryOptions::default().value(":a", "abba").limit(0),
            ),
            "greater than or equal to 1",
        ),
        (
            q(
                "artist = :a",
                QueryOptions::default().value(":a", "abba").index("nope"),
            ),
            "does not have the specified index",
        ),
        (
            q(
                "artist = :a",
                QueryOptions::default()
                    .value(":a", "abba")
                    .select(Select::AllProjectedAttributes),
            ),
            "IndexName",
        ),
        (
            q(
                "artist = :a",
                QueryOptions::default()
                    .value(":a", "abba")
                    .select(Select::Count)
                    .projection("n"),
            ),
            "Cannot specify",
        ),
        (
            q(
                "artist = :a",
                QueryOptions::default()
                    .value(":a", "abba")
                    .select(Select::SpecificAttributes),
            ),
            "SPECIFIC_ATTRIBUTES",
        ),
        (
            q(
                "artist = :a",
                QueryOptions::default()
                    .value(":a", "abba")
                    .start_after(Some(item! { "artist" => "abba" })),
            ),
            "starting key is invalid",
        ),
        (
            q(
                "artist = :a",
                QueryOptions::default()
                    .value(":a", "abba")
                    .start_after(Some(key("other", 1))),
            ),
            "starting key is invalid",
        ),
        (
            q(
                "artist = :a AND n > :n",
                QueryOptions::default()
                    .value(":a", "abba")
                    .value(":n", 3)
                    .start_after(Some(key("abba", 1))),
            ),
            "range key predicate",
        ),
        (
            q(
                "artist = :a",
                QueryOptions::default().value(":a", "").value(":a", ""),
            ),
            "empty string",
        ),
        (
            q(
                "artist = :a",
                QueryOptions::default()
                    .value(":a", "abba")
                    .filter("#z = :a"),
            ),
            "not defined",
        ),
        (
            q(
                "artist = :a",
                QueryOptions::default()
                    .value(":a", "abba")
                    .index("by_year")
                    .start_after(Some(key("abba", 1))),
            ),
            "starting key is invalid",
        ),
    ];
    for (err, want) in cases {
        assert!(err.is_validation(), "{err:?}");
        assert!(
            err.to_string().contains(want),
            "{err} should contain {want:?}"
        );
    }
}

#[test]
fn one_megabyte_page_cap_applies_before_the_filter() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.create_table(
        TableSpec::new(
            "blobs",
            KeySchema::composite("pk", KeyType::S, "sk", KeyType::N),
        )
        .durability(TableDurability::Buffered),
    )
    .unwrap();
    let t = db.table("blobs").unwrap();
    let blob = vec![1u8; 100 * 1024];
    let mut sizes = Vec::new();
    for i in 0..25 {
        let it = item! { "pk" => "p", "sk" => i, "blob" => blob.clone() };
        sizes.push(it.size());
        t.put_item(it, PutOptions::default()).unwrap();
    }
    // The page ends with the first item that brings the total to 1 MB.
    let mut total = 0;
    let expect = sizes
        .iter()
        .position(|s| {
            total += s;
            total >= 1 << 20
        })
        .unwrap()
        + 1;
    let page = t
        .query("pk = :p", QueryOptions::default().value(":p", "p"))
        .unwrap();
    assert_eq!(page.count, expect);
    assert_eq!(
        page.last_evaluated_key,
        Some(item! { "pk" => "p", "sk" => expect as i64 - 1 })
    );
    let bytes: usize = sizes[..expect].iter().sum();
    assert_eq!(
        page.consumed_capacity.read_capacity_units,
        bytes.div_ceil(4096) as f64 / 2.0
    );
    // With a filter that matches nothing, the cap still ends the page.
    let page = t
        .query(
            "pk = :p",
            QueryOptions::default()
                .value(":p", "p")
                .filter("attribute_exists(nothing)"),
        )
        .unwrap();
    assert_eq!((page.count, page.scanned_count), (0, expect));
    assert!(page.last_evaluated_key.is_some());
    // Scans have the same cap.
    let page = t.scan(ScanOptions::default()).unwrap();
    assert_eq!(page.scanned_count, expect);
    // Following the pages reads everything.
    let mut n = 0;
    let mut start = None;
    loop {
        let page = t
            .scan(
                ScanOptions::default()
                    .start_after(start.take())
                    .select(Select::Count),
            )
            .unwrap();
        n += page.count;
        match page.last_evaluated_key {
            Some(k) => start = Some(k),
            None => break,
        }
    }
    assert_eq!(n, 25);
}

#[test]
fn scan_segments_pages_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = music(&db);
    for a in 0..40 {
        fill(&t, &format!("artist{a}"), 3);
    }
    let all = t.scan(ScanOptions::default()).unwrap();
    assert_eq!((all.count, all.last_evaluated_key.is_none()), (120, true));
    for total in [1u32, 2, 3, 7, 200] {
        let mut seen = BTreeSet::new();
        for s in 0..total {
            let mut start = None;
            loop {
                let page = t
                    .scan(
                        ScanOptions::default()
                            .segment(s, total)
                            .limit(5)
                            .start_after(start.take()),
                    )
                    .unwrap();
                for i in &page.items {
                    let k = (
                        i.get("artist").unwrap().as_s().unwrap().to_owned(),
                        ns(std::slice::from_ref(i))[0],
                    );
                    assert!(seen.insert(k), "segment {s}/{total} returned a duplicate");
                }
                match page.last_evaluated_key {
                    Some(k) => start = Some(k),
                    None => break,
                }
            }
        }
        assert_eq!(seen.len(), 120, "total_segments {total}");
    }
    // Filter, projection, LSI scan.
    let r = t
        .scan(
            ScanOptions::default()
                .filter("n = :n")
                .value(":n", 2)
                .projection("artist"),
        )
        .unwrap();
    assert_eq!((r.count, r.scanned_count), (40, 120));
    assert!(r.items.iter().all(|i| i.len() == 1));
    let r = t
        .scan(
            ScanOptions::default()
                .index("by_title")
                .select(Select::Count),
        )
        .unwrap();
    assert_eq!(r.count, 120);
    // Errors.
    let cases: Vec<(ScanOptions, &str)> = vec![
        (
            ScanOptions {
                segment: Some(0),
                ..ScanOptions::default()
            },
            "TotalSegments parameter is required",
        ),
        (
            ScanOptions {
                total_segments: Some(2),
                ..ScanOptions::default()
            },
            "Segment parameter is required",
        ),
        (ScanOptions::default().segment(2, 2), "out of bounds"),
        (ScanOptions::default().segment(0, 0), "totalSegments"),
        (
            ScanOptions::default().segment(0, 1_000_001),
            "totalSegments",
        ),
        (
            ScanOptions::default().limit(0),
            "greater than or equal to 1",
        ),
        (ScanOptions::default().index("nope"), "specified index"),
        (
            ScanOptions::default().start_after(Some(item! { "artist" => "x" })),
            "starting key is invalid",
        ),
    ];
    for (o, want) in cases {
        let err = t.scan(o).unwrap_err();
        assert!(err.is_validation(), "{err:?}");
        assert!(
            err.to_string().contains(want),
            "{err} should contain {want:?}"
        );
    }
    // A start key from another segment.
    let first = t
        .scan(ScanOptions::default().segment(0, 2).limit(1))
        .unwrap();
    let k = first.last_evaluated_key.unwrap();
    let err = t
        .scan(ScanOptions::default().segment(1, 2).start_after(Some(k)))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("does not map to the provided segment"),
        "{err}"
    );
}

#[test]
fn batch_get_and_write() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = music(&db);
    db.create_table(TableSpec::new("users", KeySchema::simple("id", KeyType::S)))
        .unwrap();
    let users = db.table("users").unwrap();
    let out = db
        .batch_write_item([
            (
                "music",
                (0..10)
                    .map(|i| WriteRequest::Put(song("abba", i, "t", 1970)))
                    .collect::<Vec<_>>(),
            ),
            (
                "users",
                vec![
                    WriteRequest::Put(item! { "id" => "u1" }),
                    WriteRequest::Put(item! { "id" => "u2" }),
                ],
            ),
        ])
        .unwrap();
    assert!(out.unprocessed_items.is_empty());
    assert_eq!(out.consumed_capacity.len(), 2);
    assert_eq!(out.consumed_capacity[0].write_capacity_units, 30.0);
    assert_eq!(t.scan(ScanOptions::default()).unwrap().count, 10);
    assert_eq!(
        t.scan(ScanOptions::default().index("by_year"))
            .unwrap()
            .count,
        10
    );
    db.batch_write_item([(
        "music",
        vec![
            WriteRequest::Delete(key("abba", 0).into()),
            WriteRequest::Delete(key("abba", 1).into()),
        ],
    )])
    .unwrap();
    assert_eq!(
        t.scan(ScanOptions::default().index("by_title"))
            .unwrap()
            .count,
        8
    );

    let out = db
        .batch_get_item([
            (
                "music",
                BatchGetRequest::keys([key("abba", 1), key("abba", 2), key("abba", 3)]),
            ),
            (
                "users",
                BatchGetRequest {
                    consistent_read: true,
                    ..BatchGetRequest::keys([item! { "id" => "u1" }])
                },
            ),
        ])
        .unwrap();
    assert_eq!(ns(&out.responses["music"]), vec![2, 3]);
    assert_eq!(out.responses["users"].len(), 1);
    assert_eq!(out.consumed_capacity[0].read_capacity_units, 1.5);
    assert_eq!(out.consumed_capacity[1].read_capacity_units, 1.0);
    assert!(out.unprocessed_keys.is_empty());
    let out = db
        .batch_get_item([(
            "music",
            BatchGetRequest {
                projection: Some("title".into()),
                ..BatchGetRequest::keys([key("abba", 2)])
            },
        )])
        .unwrap();
    assert_eq!(out.responses["music"], vec![item! { "title" => "t" }]);

    // Errors, nothing written.
    let too_many: Vec<WriteRequest> = (0..26)
        .map(|i| WriteRequest::Put(item! { "id" => format!("x{i}") }))
        .collect();
    assert!(matches!(
        db.batch_write_item([("users", too_many)]),
        Err(DbError::TooManyBatchItems {
            count: 26,
            max: 25,
            ..
        })
    ));
    assert!(matches!(
        db.batch_write_item([(
            "users",
            vec![
                WriteRequest::Put(item! { "id" => "d" }),
                WriteRequest::Delete(item! { "id" => "d" }.into())
            ]
        )]),
        Err(DbError::DuplicateBatchKeys { .. })
    ));
    assert!(matches!(
        db.batch_write_item([("nope", vec![WriteRequest::Put(item! { "id" => "z" })])]),
        Err(DbError::TableNotFound { .. })
    ));
    let err = db
        .batch_write_item([(
            "users",
            vec![
                WriteRequest::Put(item! { "id" => "ok" }),
                WriteRequest::Put(item! { "id" => 5 }),
            ],
        )])
        .unwrap_err();
    assert!(err.is_validation());
    let err = db
        .batch_write_item([(
            "music",
            vec![WriteRequest::Put(
                item! { "artist" => "a", "n" => 1, "title" => 1 },
            )],
        )])
        .unwrap_err();
    assert!(matches!(err, DbError::IndexKeyTypeMismatch { .. }));
    assert!(
        db.batch_write_item(Vec::<(String, Vec<WriteRequest>)>::new())
            .is_err()
    );
    assert_eq!(get(&users, item! { "id" => "ok" }), None);
    assert_eq!(users.scan(ScanOptions::default()).unwrap().count, 2);
    let keys: Vec<Item> = (0..101)
        .map(|i| item! { "id" => format!("k{i}") })
        .collect();
    assert!(matches!(
        db.batch_get_item([("users", BatchGetRequest::keys(keys))]),
        Err(DbError::TooManyBatchItems { count: 101, .. })
    ));
    assert!(matches!(
        db.batch_get_item([(
            "users",
            BatchGetRequest::keys([item! { "id" => "a" }, item! { "id" => "a" }])
        )]),
        Err(DbError::DuplicateBatchKeys { .. })
    ));
    assert!(
        db.batch_get_item([("users", BatchGetRequest::keys([item! { "idx" => "a" }]))])
            .unwrap_err()
            .is_validation()
    );
    assert!(matches!(
        db.batch_get_item([("nope", BatchGetRequest::keys([item! { "id" => "a" }]))]),
        Err(DbError::TableNotFound { .. })
    ));
}

#[test]
fn batch_get_response_limit_returns_unprocessed_keys() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.create_table(
        TableSpec::new("blobs", KeySchema::simple("id", KeyType::N))
            .durability(TableDurability::Buffered),
    )
    .unwrap();
    let t = db.table("blobs").unwrap();
    for i in 0..45 {
        t.put_item(
            item! { "id" => i, "blob" => vec![0u8; 399 * 1024] },
            PutOptions::default(),
        )
        .unwrap();
    }
    let keys: Vec<Item> = (0..45).map(|i| item! { "id" => i }).collect();
    let out = db
        .batch_get_item([("blobs", BatchGetRequest::keys(keys))])
        .unwrap();
    let got = out.responses["blobs"].len();
    let left = out.unprocessed_keys["blobs"].keys.len();
    assert_eq!(got + left, 45);
    assert!(got < 45 && got * 399 * 1024 >= 16 << 20, "{got}");
}

/// Partition, old item, new item.
type Recorded = (u32, Option<Item>, Option<Item>);

#[derive(Debug, Default)]
struct RecordingSink {
    changes: Mutex<Vec<Recorded>>,
}

impl ChangeSink for RecordingSink {
    fn on_change(&self, c: &Change<'_>) {
        assert_eq!(c.table, "users");
        self.changes
            .lock()
            .push((c.partition, c.old.cloned(), c.new.cloned()));
    }
}

#[derive(Debug, Default)]
struct Meter {
    refuse: AtomicBool,
    writes: AtomicUsize,
    consumed: Mutex<f64>,
}

impl CapacityMeter for Meter {
    fn admit(&self, op: &OpInfo<'_>) -> Result<(), String> {
        if op.kind == OpKind::Write && self.refuse.load(Ordering::SeqCst) {
            return Err("bucket empty".into());
        }
        Ok(())
    }
    fn consumed(&self, op: &OpInfo<'_>, units: &ConsumedCapacity) {
        if op.kind == OpKind::Write {
            self.writes.fetch_add(1, Ordering::SeqCst);
        }
        *self.consumed.lock() += units.capacity_units;
    }
}

#[test]
fn change_feed_and_capacity_hooks() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(RecordingSink::default());
    let meter = Arc::new(Meter::default());
    let db = Db::open(
        dir.path(),
        DbOptions::default()
            .change_sink(sink.clone())
            .capacity_meter(meter.clone()),
    )
    .unwrap();
    db.create_table(TableSpec::new("users", KeySchema::simple("id", KeyType::S)))
        .unwrap();
    let t = db.table("users").unwrap();
    t.put_item(item! { "id" => "a", "v" => 1 }, PutOptions::default())
        .unwrap();
    t.update_item(
        item! { "id" => "a" },
        UpdateOptions::default().update("SET v = :v").value(":v", 2),
    )
    .unwrap();
    // A failed condition changes nothing and is not reported, but is charged.
    let _ = t.put_item(
        item! { "id" => "a" },
        PutOptions::default().condition("attribute_not_exists(id)"),
    );
    t.delete_item(item! { "id" => "a" }, DeleteOptions::default())
        .unwrap();
    t.delete_item(item! { "id" => "a" }, DeleteOptions::default())
        .unwrap();
    let changes = sink.changes.lock().clone();
    assert_eq!(changes.len(), 3);
    assert_eq!(changes[0].1, None);
    assert_eq!(changes[1].1, Some(item! { "id" => "a", "v" => 1 }));
    assert_eq!(changes[1].2, Some(item! { "id" => "a", "v" => 2 }));
    assert_eq!(changes[2].2, None);
    assert_eq!(meter.writes.load(Ordering::SeqCst), 5);
    t.get_item(item! { "id" => "a" }, GetOptions::default())
        .unwrap();
    assert_eq!(*meter.consumed.lock(), 5.5);
    // A refusing meter throttles writes with nothing written.
    meter.refuse.store(true, Ordering::SeqCst);
    let err = t
        .put_item(item! { "id" => "b" }, PutOptions::default())
        .unwrap_err();
    assert!(matches!(err, DbError::Throttled { .. }), "{err}");
    meter.refuse.store(false, Ordering::SeqCst);
    assert_eq!(get(&t, item! { "id" => "b" }), None);
}

#[test]
fn items_survive_flushes_compactions_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let opts = || DbOptions::small(strata_fs::default_fs());
    {
        let db = Db::open(dir.path(), opts()).unwrap();
        let t = music(&db);
        for i in 0..600 {
            t.put_item(
                song("abba", i, &format!("t{}", i % 50), 1960 + i % 30),
                PutOptions::default(),
            )
            .unwrap();
        }
        for i in (0..600).step_by(3) {
            t.delete_item(key("abba", i), DeleteOptions::default())
                .unwrap();
        }
        t.flush().unwrap();
        db.close().unwrap();
    }
    let db = Db::open(dir.path(), opts()).unwrap();
    let t = db.table("music").unwrap();
    let mut n = 0;
    let mut start = None;
    loop {
        let page = t
            .query(
                "artist = :a",
                QueryOptions::default()
                    .value(":a", "abba")
                    .start_after(start.take()),
            )
            .unwrap();
        assert!(
            page.items
                .iter()
                .all(|i| ns(std::slice::from_ref(i))[0] % 3 != 0)
        );
        n += page.count;
        match page.last_evaluated_key {
            Some(k) => start = Some(k),
            None => break,
        }
    }
    assert_eq!(n, 400);
    let idx = t
        .query(
            "artist = :a",
            QueryOptions::default()
                .index("by_year")
                .value(":a", "abba")
                .select(Select::Count),
        )
        .unwrap();
    assert_eq!(idx.count, 400);
}

#[test]
fn handles_are_send_sync_and_writers_serialise_per_item() {
    fn send_sync<T: Send + Sync + Clone>() {}
    send_sync::<Db>();
    send_sync::<Table>();
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.create_table(
        TableSpec::new("counters", KeySchema::simple("id", KeyType::S))
            .durability(TableDurability::Buffered),
    )
    .unwrap();
    let t = db.table("counters").unwrap();
    // Optimistic read-modify-write from 4 threads: read the counter, write it back + 1
    // only if it is unchanged. The partition lock makes check-and-write atomic, so no
    // increment is lost.
    std::thread::scope(|s| {
        for _ in 0..4 {
            let t = t.clone();
            s.spawn(move || {
                let mut done = 0;
                while done < 100 {
                    let cur = t
                        .get_item(item! { "id" => "c" }, GetOptions::default())
                        .unwrap()
                        .item
                        .and_then(|i| i.get("n").and_then(|v| v.as_n()).and_then(|n| n.to_i64()))
                        .unwrap_or(0);
                    let cond = if cur == 0 {
                        PutOptions::default().condition("attribute_not_exists(n)")
                    } else {
                        PutOptions::default()
                            .condition("n = :cur")
                            .value(":cur", cur)
                    };
                    match t.put_item(item! { "id" => "c", "n" => cur + 1 }, cond) {
                        Ok(_) => done += 1,
                        Err(DbError::ConditionalCheckFailed { .. }) => {}
                        Err(e) => panic!("{e}"),
                    }
                }
            });
        }
    });
    let n = get(&t, item! { "id" => "c" }).unwrap();
    assert_eq!(n.get("n"), Some(&400.into()));
}
