//! Global secondary indexes through the `Db` API: creation with every projection,
//! sparse items, write-time type checks, queries and scans (pagination, duplicate
//! index keys, segments), key changes and deletes, capacity, `describe_table`,
//! `wait_for_indexes` + `verify_index` after reopens, and a model test with concurrent
//! writers. Every check waits for the index first: GSIs are eventually consistent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata_engine::{
    Db, DbError, DbOptions, DeleteOptions, GsiSpec, IndexProjection, IndexStatus, LsiSpec,
    PutOptions, QueryOptions, ScanOptions, Select, Table, TableDurability, TableSpec,
    UpdateOptions, WriteRequest,
};
use strata_item::{AttributeValue, Item, KeySchema, KeyType, item};

const WAIT: Duration = Duration::from_secs(30);

fn open(dir: &Path) -> Db {
    Db::open(dir, DbOptions::small(strata_fs::default_fs())).unwrap()
}

/// A table (pk S, sk N) with four GSIs: composite ALL, simple KEYS_ONLY, INCLUDE, and
/// one keyed by the table's own sort key (an inverted index).
fn spec(durability: TableDurability) -> TableSpec {
    TableSpec::new(
        "things",
        KeySchema::composite("pk", KeyType::S, "sk", KeyType::N),
    )
    .partitions(3)
    .durability(durability)
    .lsi(LsiSpec::new("by_l", "l", KeyType::N))
    .gsi(
        GsiSpec::new(
            "by_g_h",
            KeySchema::composite("g", KeyType::S, "h", KeyType::N),
        )
        .partitions(3),
    )
    .gsi(
        GsiSpec::new("by_g", KeySchema::simple("g", KeyType::S))
            .projection(IndexProjection::KeysOnly)
            .partitions(2),
    )
    .gsi(
        GsiSpec::new("by_c", KeySchema::simple("c", KeyType::B))
            .projection(IndexProjection::Include(vec!["t".into()]))
            .partitions(1),
    )
    .gsi(GsiSpec::new(
        "by_sk",
        KeySchema::composite("sk", KeyType::N, "pk", KeyType::S),
    ))
}

const GSIS: [&str; 4] = ["by_g_h", "by_g", "by_c", "by_sk"];

fn wait_and_verify(db: &Db, table: &str) {
    db.wait_for_indexes(table, WAIT).unwrap();
    let spec = db.describe_table(table).unwrap().spec;
    for g in &spec.global_secondary_indexes {
        let r = db.verify_index(table, &g.name).unwrap();
        assert!(r.is_clean(), "{r}");
    }
}

/// Every page of a GSI query.
fn query_all(t: &Table, kc: &str, opts: QueryOptions) -> Vec<Item> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = t.query(kc, opts.clone().start_after(start.take())).unwrap();
        out.extend(page.items);
        match page.last_evaluated_key {
            Some(k) => start = Some(k),
            None => return out,
        }
    }
}

/// Every page of every segment of a GSI scan.
fn scan_all(t: &Table, index: &str, total: u32, limit: usize) -> Vec<Item> {
    let mut out = Vec::new();
    for s in 0..total {
        let mut start = None;
        loop {
            let page = t
                .scan(
                    ScanOptions::default()
                        .index(index)
                        .segment(s, total)
                        .limit(limit)
                        .start_after(start.take()),
                )
                .unwrap();
            out.extend(page.items);
            match page.last_evaluated_key {
                Some(k) => start = Some(k),
                None => break,
            }
        }
    }
    out
}

fn sorted(mut v: Vec<Item>) -> Vec<Item> {
    v.sort_by_key(|i| format!("{i:?}"));
    v
}

#[test]
fn every_projection_and_sparse_items() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.create_table(spec(TableDurability::Sync)).unwrap();
    let t = db.table("things").unwrap();
    let full = item! { "pk" => "a", "sk" => 1, "g" => "x", "h" => 5, "c" => vec![1u8, 2], "t" => "tt", "o" => "other" };
    let no_h = item! { "pk" => "a", "sk" => 2, "g" => "x", "o" => 1 };
    let bare = item! { "pk" => "b", "sk" => 3 };
    for i in [&full, &no_h, &bare] {
        t.put_item(i.clone(), PutOptions::default()).unwrap();
    }
    db.wait_for_indexes("things", WAIT).unwrap();
    let q = |index: &str, kc: &str, v: AttributeValue| {
        query_all(&t, kc, QueryOptions::default().index(index).value(":v", v))
    };
    // ALL, composite: the item without `h` has no entry.
    assert_eq!(q("by_g_h", "g = :v", "x".into()), vec![full.clone()]);
    // KEYS_ONLY: table key + index key, both items with `g`.
    assert_eq!(
        q("by_g", "g = :v", "x".into()),
        vec![
            item! { "pk" => "a", "sk" => 1, "g" => "x" },
            item! { "pk" => "a", "sk" => 2, "g" => "x" }
        ]
    );
    // INCLUDE t.
    assert_eq!(
        q("by_c", "c = :v", AttributeValue::B(vec![1u8, 2])),
        vec![item! { "pk" => "a", "sk" => 1, "c" => vec![1u8, 2], "t" => "tt" }]
    );
    // Inverted: every item has sk and pk.
    assert_eq!(q("by_sk", "sk = :v", 3.into()), vec![bare.clone()]);
    let desc = db.describe_table("things").unwrap();
    let counts: Vec<(String, u64, u64)> = desc
        .global_secondary_indexes
        .iter()
        .map(|g| {
            assert_eq!(g.status, IndexStatus::Active);
            assert_eq!(g.last_error, None);
            assert_eq!(g.oldest_unapplied_age, None);
            (g.name.clone(), g.item_count, g.lag_records)
        })
        .collect();
    assert_eq!(
        counts,
        vec![
            ("by_g_h".into(), 1, 0),
            ("by_g".into(), 2, 0),
            ("by_c".into(), 1, 0),
            ("by_sk".into(), 3, 0)
        ]
    );
    wait_and_verify(&db, "things");
    // The scrub checks the GSI trees too, and finds nothing wrong or unknown.
    let r = db.verify().unwrap();
    assert!(r.is_clean() && r.warnings().count() == 0, "{r}");
    db.close().unwrap();
    let r = strata_engine::verify_dir(dir.path(), &strata_fs::default_fs()).unwrap();
    assert!(r.is_clean() && r.warnings().count() == 0, "{r}");
}

#[test]
fn wrong_typed_index_attributes_are_rejected_with_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.create_table(spec(TableDurability::Sync)).unwrap();
    let t = db.table("things").unwrap();
    let good = item! { "pk" => "a", "sk" => 1, "g" => "x", "h" => 1 };
    t.put_item(good.clone(), PutOptions::default()).unwrap();
    let err = t
        .put_item(
            item! { "pk" => "b", "sk" => 1, "g" => 7 },
            PutOptions::default(),
        )
        .unwrap_err();
    assert!(
        matches!(&err, DbError::IndexKeyTypeMismatch { index, attribute, .. } if index == "by_g_h" && attribute == "g"),
        "{err}"
    );
    assert!(err.is_validation());
    assert!(
        err.to_string()
            .contains("Type mismatch for Index Key g Expected: S Actual: N"),
        "{err}"
    );
    let err = t
        .put_item(
            item! { "pk" => "b", "sk" => 1, "g" => "" },
            PutOptions::default(),
        )
        .unwrap_err();
    assert!(matches!(err, DbError::IndexKeyInvalid { .. }), "{err}");
    let err = t
        .update_item(
            item! { "pk" => "a", "sk" => 1 },
            UpdateOptions::default()
                .update("SET h = :h")
                .value(":h", "str"),
        )
        .unwrap_err();
    assert!(matches!(err, DbError::IndexKeyTypeMismatch { .. }), "{err}");
    // A batch with one bad item writes nothing, in any partition.
    let mut reqs: Vec<WriteRequest> = (0..10)
        .map(|i| WriteRequest::Put(item! { "pk" => format!("p{i}"), "sk" => 1, "g" => "ok" }))
        .collect();
    reqs.push(WriteRequest::Put(
        item! { "pk" => "q", "sk" => 1, "c" => "not binary" },
    ));
    let err = db.batch_write_item([("things", reqs)]).unwrap_err();
    assert!(matches!(err, DbError::IndexKeyTypeMismatch { .. }), "{err}");
    let all = t.scan(ScanOptions::default()).unwrap();
    assert_eq!(all.items, vec![good.clone()]);
    wait_and_verify(&db, "things");
    assert_eq!(
        query_all(
            &t,
            "g = :g",
            QueryOptions::default().index("by_g_h").value(":g", "x")
        ),
        vec![good]
    );
    db.close().unwrap();
}

#[test]
fn pagination_over_duplicate_index_keys_both_directions() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.create_table(spec(TableDurability::Buffered)).unwrap();
    let t = db.table("things").unwrap();
    let mut want = Vec::new();
    for i in 0..40i64 {
        let it = item! { "pk" => format!("p{:02}", i % 7), "sk" => i, "g" => "same", "h" => i % 4 };
        t.put_item(it.clone(), PutOptions::default()).unwrap();
        want.push(it);
    }
    // Index order: h, then base key (pk, sk).
    want.sort_by_key(|i| {
        (
            i.get("h").unwrap().as_n().unwrap().to_i64().unwrap(),
            i.get("pk").unwrap().as_s().unwrap().to_owned(),
            i.get("sk").unwrap().as_n().unwrap().to_i64().unwrap(),
        )
    });
    db.wait_for_indexes("things", WAIT).unwrap();
    for limit in [1usize, 3, 7, 100] {
        let opts = QueryOptions::default()
            .index("by_g_h")
            .value(":g", "same")
            .limit(limit);
        let fwd = query_all(&t, "g = :g", opts.clone());
        assert_eq!(fwd, want, "limit {limit}");
        let mut rev = query_all(&t, "g = :g", opts.reverse());
        rev.reverse();
        assert_eq!(rev, want, "limit {limit} reverse");
        // A sort-key condition.
        let some = query_all(
            &t,
            "g = :g AND h BETWEEN :a AND :b",
            QueryOptions::default()
                .index("by_g_h")
                .value(":g", "same")
                .value(":a", 1)
                .value(":b", 2)
                .limit(limit),
        );
        let expect: Vec<Item> = want
            .iter()
            .filter(|i| {
                let h = i.get("h").unwrap().as_n().unwrap().to_i64().unwrap();
                (1..=2).contains(&h)
            })
            .cloned()
            .collect();
        assert_eq!(some, expect);
    }
    // The page key carries the index key and the base key.
    let page = t
        .query(
            "g = :g",
            QueryOptions::default()
                .index("by_g_h")
                .value(":g", "same")
                .limit(2),
        )
        .unwrap();
    let lek = page.last_evaluated_key.unwrap();
    let mut names: Vec<&str> = lek.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, vec!["g", "h", "pk", "sk"]);
    // Scans of every GSI, segmented and paged, give every entry once.
    for total in [1u32, 4] {
        assert_eq!(
            sorted(scan_all(&t, "by_g_h", total, 3)),
            sorted(want.clone())
        );
        assert_eq!(scan_all(&t, "by_sk", total, 5).len(), 40);
    }
    wait_and_verify(&db, "things");
    db.close().unwrap();
}

#[test]
fn key_changes_and_deletes_leave_no_stale_entries() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.create_table(spec(TableDurability::Sync)).unwrap();
    let t = db.table("things").unwrap();
    let k = item! { "pk" => "a", "sk" => 1 };
    let g_of = |t: &Table, g: &str| {
        query_all(
            t,
            "g = :g",
            QueryOptions::default().index("by_g").value(":g", g),
        )
    };
    let cap = t
        .put_item(
            item! { "pk" => "a", "sk" => 1, "g" => "x", "h" => 1 },
            PutOptions::default(),
        )
        .unwrap()
        .consumed_capacity;
    // by_g_h, by_g, by_sk: one new entry each.
    assert_eq!(cap.global_secondary_indexes.get("by_g_h"), Some(&1.0));
    assert_eq!(cap.global_secondary_indexes.get("by_g"), Some(&1.0));
    assert_eq!(cap.global_secondary_indexes.get("by_sk"), Some(&1.0));
    assert_eq!(cap.global_secondary_indexes.get("by_c"), None);
    assert_eq!(cap.write_capacity_units, 4.0);
    // Key change: delete + put in the indexes keyed by g.
    let cap = t
        .update_item(
            k.clone(),
            UpdateOptions::default()
                .update("SET g = :g")
                .value(":g", "y"),
        )
        .unwrap()
        .consumed_capacity;
    assert_eq!(cap.global_secondary_indexes.get("by_g"), Some(&2.0));
    assert_eq!(cap.global_secondary_indexes.get("by_g_h"), Some(&2.0));
    assert_eq!(cap.global_secondary_indexes.get("by_sk"), Some(&1.0));
    db.wait_for_indexes("things", WAIT).unwrap();
    assert!(g_of(&t, "x").is_empty());
    assert_eq!(
        g_of(&t, "y"),
        vec![item! { "pk" => "a", "sk" => 1, "g" => "y" }]
    );
    // Removing the indexed attribute removes the entry.
    t.update_item(k.clone(), UpdateOptions::default().update("REMOVE g"))
        .unwrap();
    db.wait_for_indexes("things", WAIT).unwrap();
    assert!(g_of(&t, "y").is_empty());
    wait_and_verify(&db, "things");
    // Deleting the item removes every entry.
    t.put_item(
        item! { "pk" => "a", "sk" => 1, "g" => "z", "h" => 2 },
        PutOptions::default(),
    )
    .unwrap();
    let cap = t
        .delete_item(k, DeleteOptions::default())
        .unwrap()
        .consumed_capacity;
    assert_eq!(cap.global_secondary_indexes.get("by_g"), Some(&1.0));
    db.wait_for_indexes("things", WAIT).unwrap();
    assert!(g_of(&t, "z").is_empty());
    for g in GSIS {
        assert!(scan_all(&t, g, 1, 10).is_empty(), "{g}");
    }
    wait_and_verify(&db, "things");
    db.close().unwrap();
}

#[test]
fn dynamodb_read_rules_for_gsis() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.create_table(spec(TableDurability::Sync)).unwrap();
    let t = db.table("things").unwrap();
    let err = t
        .query(
            "g = :g",
            QueryOptions::default()
                .index("by_g")
                .value(":g", "x")
                .consistent_read(true),
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Consistent reads are not supported on global secondary indexes"
    );
    assert!(err.is_validation());
    let err = t
        .scan(ScanOptions::default().index("by_g").consistent_read(true))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("Consistent reads are not supported")
    );
    // KEYS_ONLY cannot return other attributes.
    let err = t
        .query(
            "g = :g",
            QueryOptions::default()
                .index("by_g")
                .value(":g", "x")
                .projection("o"),
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("does not project attribute o"),
        "{err}"
    );
    let err = t
        .query(
            "g = :g",
            QueryOptions::default()
                .index("by_g")
                .value(":g", "x")
                .select(Select::AllAttributes),
        )
        .unwrap_err();
    assert!(err.to_string().contains("ALL_ATTRIBUTES"), "{err}");
    // Projected attributes are fine; so is everything on an ALL index.
    t.query(
        "c = :g",
        QueryOptions::default()
            .index("by_c")
            .value(":g", vec![1u8])
            .projection("t, pk"),
    )
    .map(|_| ())
    .unwrap_or_else(|e| panic!("{e}"));
    // The key condition names the index's keys.
    assert!(
        t.query(
            "pk = :p",
            QueryOptions::default().index("by_g").value(":p", "a")
        )
        .is_err()
    );
    // A filter cannot name the index's key attributes.
    let err = t
        .query(
            "g = :g",
            QueryOptions::default()
                .index("by_g_h")
                .value(":g", "x")
                .filter("h > :z")
                .value(":z", 1),
        )
        .unwrap_err();
    assert!(err.to_string().contains("Filter Expression"), "{err}");
    assert!(matches!(
        t.query(
            "g = :g",
            QueryOptions::default().index("nope").value(":g", "x")
        ),
        Err(DbError::IndexNotFound { .. })
    ));
    assert!(matches!(
        db.verify_index("things", "by_l"),
        Err(DbError::IndexNotFound { .. })
    ));
    db.close().unwrap();
}

#[test]
fn filters_and_counts_on_a_gsi() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.create_table(spec(TableDurability::Sync)).unwrap();
    let t = db.table("things").unwrap();
    for i in 0..20i64 {
        t.put_item(
            item! { "pk" => "p", "sk" => i, "g" => "k", "h" => i, "v" => i % 2 },
            PutOptions::default(),
        )
        .unwrap();
    }
    db.wait_for_indexes("things", WAIT).unwrap();
    let page = t
        .query(
            "g = :g",
            QueryOptions::default()
                .index("by_g_h")
                .value(":g", "k")
                .filter("v = :one")
                .value(":one", 1)
                .select(Select::Count),
        )
        .unwrap();
    assert_eq!((page.count, page.scanned_count), (10, 20));
    assert!(page.items.is_empty());
    assert!(
        page.consumed_capacity
            .global_secondary_indexes
            .contains_key("by_g_h")
    );
    db.close().unwrap();
}

#[test]
fn reopen_clean_and_dropped_then_wait_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    for durability in [TableDurability::Sync, TableDurability::Buffered] {
        let db = open(dir.path());
        if db.list_tables().unwrap().is_empty() {
            db.create_table(spec(durability)).unwrap();
        }
        for round in 0..4 {
            let t = db.table("things").unwrap();
            for _ in 0..200 {
                let it = random_item(&mut rng);
                t.put_item(it, PutOptions::default()).unwrap();
            }
            if round % 2 == 0 {
                wait_and_verify(&db, "things");
            }
        }
        drop(db);
        let db = open(dir.path());
        wait_and_verify(&db, "things");
        db.close().unwrap();
        let db = open(dir.path());
        wait_and_verify(&db, "things");
        db.delete_table("things").unwrap();
        db.close().unwrap();
    }
}

fn random_item(rng: &mut StdRng) -> Item {
    let mut it = item! {
        "pk" => format!("p{}", rng.random_range(0..12)),
        "sk" => rng.random_range(0..20i64),
    };
    if rng.random_bool(0.8) {
        it.insert("g", format!("g{}", rng.random_range(0..5)));
    }
    if rng.random_bool(0.7) {
        it.insert("h", rng.random_range(0..4i64));
    }
    if rng.random_bool(0.3) {
        it.insert("c", AttributeValue::B(vec![rng.random_range(0..3u8)]));
    }
    if rng.random_bool(0.5) {
        it.insert("t", "x".repeat(rng.random_range(1..200usize)));
    }
    it.insert("o", rng.random_range(0..1000i64));
    it
}

/// Four writer threads over every partition, random puts, updates and deletes, with
/// reopens in between; after each phase every GSI equals what the model derives.
#[test]
fn model_concurrent_writers_with_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = open(dir.path());
    db.create_table(spec(TableDurability::Buffered)).unwrap();
    let model: Arc<parking_lot::Mutex<BTreeMap<(String, i64), Item>>> = Arc::default();
    for phase in 0..3u64 {
        let t = db.table("things").unwrap();
        std::thread::scope(|s| {
            for w in 0..4u64 {
                let t = t.clone();
                let model = Arc::clone(&model);
                s.spawn(move || {
                    let mut rng = StdRng::seed_from_u64(phase * 10 + w);
                    for _ in 0..300 {
                        // Each writer owns the partition keys p{w}, p{w+4}, p{w+8}.
                        let pk = format!("p{}", w + 4 * rng.random_range(0..3u64));
                        let sk = rng.random_range(0..20i64);
                        if rng.random_bool(0.2) {
                            t.delete_item(
                                item! { "pk" => pk.as_str(), "sk" => sk },
                                DeleteOptions::default(),
                            )
                            .unwrap();
                            model.lock().remove(&(pk, sk));
                        } else {
                            let mut it = random_item(&mut rng);
                            it.insert("pk", pk.as_str());
                            it.insert("sk", sk);
                            t.put_item(it.clone(), PutOptions::default()).unwrap();
                            model.lock().insert((pk, sk), it);
                        }
                    }
                });
            }
        });
        db.wait_for_indexes("things", WAIT).unwrap();
        // The index equals the model's derivation (query by every g value).
        let m = model.lock().clone();
        for g in 0..5 {
            let gv = format!("g{g}");
            let got = query_all(
                &t,
                "g = :g",
                QueryOptions::default()
                    .index("by_g_h")
                    .value(":g", gv.as_str())
                    .limit(9),
            );
            let want: Vec<Item> = m
                .values()
                .filter(|i| {
                    i.get("g").and_then(|v| v.as_s()) == Some(gv.as_str()) && i.contains_key("h")
                })
                .cloned()
                .collect();
            assert_eq!(sorted(got), sorted(want), "phase {phase} g {gv}");
        }
        wait_and_verify(&db, "things");
        if phase % 2 == 0 {
            db.close().unwrap();
        }
        drop(t);
        drop(db);
        db = open(dir.path());
        wait_and_verify(&db, "things");
    }
    db.close().unwrap();
}

#[test]
fn delete_table_removes_the_index_files_and_a_new_table_starts_empty() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let id = db
        .create_table(spec(TableDurability::Sync))
        .unwrap()
        .table_id;
    let t = db.table("things").unwrap();
    t.put_item(
        item! { "pk" => "a", "sk" => 1, "g" => "x", "h" => 1 },
        PutOptions::default(),
    )
    .unwrap();
    let table_dir = dir.path().join("tables").join(format!("t{id:08}"));
    assert!(table_dir.join("gsi").join("g00").join("p0002").is_dir());
    assert!(table_dir.join("gsi").join("g03").join("p0003").is_dir());
    db.delete_table("things").unwrap();
    assert!(!table_dir.exists());
    db.create_table(spec(TableDurability::Sync)).unwrap();
    wait_and_verify(&db, "things");
    let t = db.table("things").unwrap();
    assert!(scan_all(&t, "by_g", 1, 10).is_empty());
    db.close().unwrap();
    // The catalog keeps the GSIs across a reopen.
    let db = open(dir.path());
    let d = db.describe_table("things").unwrap();
    assert_eq!(d.spec, spec(TableDurability::Sync));
    assert_eq!(d.global_secondary_indexes.len(), 4);
    db.close().unwrap();
}

/// Base WAL segments are released once the GSIs have applied them (the retention floor
/// moves with the durable checkpoints), without waiting for another flush. (That they
/// are *kept* while an index is behind is what the reopen tests above and the
/// power-loss enumeration rely on: without the floor, maintenance fails with a
/// truncated log.)
#[test]
fn base_wal_segments_are_released_once_the_index_passed_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let id = db
        .create_table(
            TableSpec::new("logs", KeySchema::simple("id", KeyType::N))
                .partitions(1)
                .gsi(GsiSpec::new("by_g", KeySchema::simple("g", KeyType::S)).partitions(2)),
        )
        .unwrap()
        .table_id;
    let t = db.table("logs").unwrap();
    let wal_dir = dir
        .path()
        .join("tables")
        .join(format!("t{id:08}"))
        .join("p0000")
        .join("wal");
    // Segment files (`*.wal`); a retired segment may stay as a `*.spare` for reuse.
    let segments = || {
        std::fs::read_dir(&wal_dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "wal"))
            })
            .count()
    };
    for i in 0..3000i64 {
        t.put_item(
            item! { "id" => i, "g" => format!("g{}", i % 10), "pad" => "z".repeat(100) },
            PutOptions::default(),
        )
        .unwrap();
    }
    db.wait_for_indexes("logs", WAIT).unwrap();
    t.flush().unwrap();
    // The floor moves after the round that applied the records; a generous bound only
    // to detect a hang.
    let deadline = std::time::Instant::now() + WAIT;
    while segments() > 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "WAL segments never released: {}",
            segments()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    wait_and_verify(&db, "logs");
    db.close().unwrap();
    let db = open(dir.path());
    wait_and_verify(&db, "logs");
    db.close().unwrap();
}

/// Power loss at random moments of a `Buffered` table's life (its base WALs and the
/// index trees lose what was not synced): the reopened indexes resume from their
/// recovered checkpoints and equal what the recovered items derive.
#[test]
fn buffered_table_power_loss_at_random_moments() {
    let mut entries = 0;
    for seed in 0..8u64 {
        let fs = strata_fs::FaultFs::new();
        let opts = || DbOptions::small(Arc::new(fs.clone()));
        let db = Db::open("/db", opts()).unwrap();
        db.create_table(spec(TableDurability::Buffered)).unwrap();
        let t = db.table("things").unwrap();
        let mut rng = StdRng::seed_from_u64(seed);
        for _ in 0..rng.random_range(50..600) {
            let it = random_item(&mut rng);
            if rng.random_bool(0.15) {
                let k = item! { "pk" => it.get("pk").unwrap().clone(), "sk" => it.get("sk").unwrap().clone() };
                t.delete_item(k, DeleteOptions::default()).unwrap();
            } else {
                t.put_item(it, PutOptions::default()).unwrap();
            }
            if rng.random_bool(0.01) {
                t.flush().unwrap();
            }
        }
        // Power is lost now, while the maintainer may be anywhere.
        let lost = fs.recovered();
        drop(t);
        drop(db);
        let db = Db::open("/db", DbOptions::small(Arc::new(lost))).unwrap();
        wait_and_verify(&db, "things");
        entries += db.verify_index("things", "by_sk").unwrap().found_entries;
        db.close().unwrap();
    }
    // Something survived (the WAL's background sync, flushes): the check had data.
    assert!(entries > 0);
}

/// Items at the 400 KB limit: the ALL indexes hold the whole item, and the write units
/// count each started KB of the projected entry.
#[test]
fn items_at_the_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.create_table(spec(TableDurability::Sync)).unwrap();
    let t = db.table("things").unwrap();
    let mut big =
        item! { "pk" => "big", "sk" => 1, "g" => "x", "h" => 1, "c" => vec![9u8], "t" => "small" };
    let room = 400 * 1024 - big.size() - "o".len() - 8;
    big.insert("o", "w".repeat(room));
    let size = big.size();
    assert!(size <= 400 * 1024 && size > 399 * 1024, "{size}");
    let cap = t
        .put_item(big.clone(), PutOptions::default())
        .unwrap()
        .consumed_capacity;
    let units = size.div_ceil(1024) as f64;
    assert_eq!(cap.global_secondary_indexes.get("by_g_h"), Some(&units));
    assert_eq!(cap.global_secondary_indexes.get("by_sk"), Some(&units));
    assert_eq!(cap.global_secondary_indexes.get("by_g"), Some(&1.0));
    assert_eq!(cap.global_secondary_indexes.get("by_c"), Some(&1.0));
    db.wait_for_indexes("things", WAIT).unwrap();
    assert_eq!(
        query_all(
            &t,
            "g = :g",
            QueryOptions::default().index("by_g_h").value(":g", "x")
        ),
        vec![big]
    );
    wait_and_verify(&db, "things");
    db.close().unwrap();
    let db = open(dir.path());
    wait_and_verify(&db, "things");
    db.close().unwrap();
}

/// Lag you can see: `Buffered` writes that no WAL sync has made durable yet cannot be
/// applied (the maintainer reads only durable records), so `describe_table` shows them
/// as lag with an age; `wait_for_indexes` syncs the base WALs and waits them away.
#[test]
fn describe_table_shows_lag_until_the_index_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = DbOptions::default();
    opts.tree.wal_buffered_sync_interval = Duration::from_secs(3600);
    let db = Db::open(dir.path(), opts).unwrap();
    db.create_table(
        TableSpec::new("slow", KeySchema::simple("id", KeyType::N))
            .partitions(1)
            .durability(TableDurability::Buffered)
            .gsi(GsiSpec::new("by_g", KeySchema::simple("g", KeyType::S))),
    )
    .unwrap();
    let t = db.table("slow").unwrap();
    db.pause_index_maintenance(true);
    for i in 0..10i64 {
        t.put_item(item! { "id" => i, "g" => "x" }, PutOptions::default())
            .unwrap();
    }
    let d = &db.describe_table("slow").unwrap().global_secondary_indexes[0];
    assert_eq!(d.lag_records, 10);
    assert!(d.oldest_unapplied_age.is_some());
    assert_eq!(d.item_count, 0);
    db.pause_index_maintenance(false);
    db.wait_for_indexes("slow", WAIT).unwrap();
    let d = &db.describe_table("slow").unwrap().global_secondary_indexes[0];
    assert_eq!(
        (d.lag_records, d.oldest_unapplied_age, d.item_count),
        (0, None, 10)
    );
    db.close().unwrap();
}

/// A `Buffered` write reaches its index without waiting for the WAL's background sync
/// (here an hour away): the maintainer syncs the base WAL itself. `wait_for_indexes`
/// would sync too, so the test polls the index instead.
#[test]
fn buffered_writes_reach_the_index_without_the_background_sync() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = DbOptions::default();
    opts.tree.wal_buffered_sync_interval = Duration::from_secs(3600);
    let db = Db::open(dir.path(), opts).unwrap();
    db.create_table(
        TableSpec::new("prompt", KeySchema::simple("id", KeyType::N))
            .partitions(2)
            .durability(TableDurability::Buffered)
            .gsi(GsiSpec::new("by_g", KeySchema::simple("g", KeyType::S))),
    )
    .unwrap();
    let t = db.table("prompt").unwrap();
    for i in 0..20i64 {
        t.put_item(item! { "id" => i, "g" => "x" }, PutOptions::default())
            .unwrap();
    }
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let opts = QueryOptions::default().index("by_g").value(":g", "x");
        let found = query_all(&t, "g = :g", opts).len();
        if found == 20 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "only {found} of 20 entries after {WAIT:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    db.close().unwrap();
}
