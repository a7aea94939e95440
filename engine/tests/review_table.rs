//! Review tests for the table layer: DynamoDB behaviours found missing or wrong.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use strata_engine::{
    Db, DbError, DbOptions, DeleteOptions, GetOptions, IndexProjection, LsiSpec, PutOptions,
    QueryOptions, ScanOptions, Table, TableDurability, TableSpec, UpdateOptions, WriteRequest,
};
use strata_item::{AttributeValue, Item, KeySchema, KeyType, item};

fn open(dir: &std::path::Path) -> Db {
    Db::open(dir, DbOptions::default()).unwrap()
}

fn with_lsi(db: &Db, name: &str) -> Table {
    db.create_table(
        TableSpec::new(
            name,
            KeySchema::composite("pk", KeyType::S, "sk", KeyType::N),
        )
        .durability(TableDurability::Buffered)
        .lsi(LsiSpec::new("by_d", "d", KeyType::S))
        .lsi(LsiSpec::new("by_e", "e", KeyType::N).projection(IndexProjection::KeysOnly)),
    )
    .unwrap();
    db.table(name).unwrap()
}

fn all_lsi(t: &Table, pk: &str, index: &str, forward: bool, limit: usize) -> Vec<Item> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let mut o = QueryOptions::default()
            .index(index)
            .name("#p", "pk")
            .value(":p", pk)
            .limit(limit)
            .start_after(start);
        if !forward {
            o = o.reverse();
        }
        let page = t.query("#p = :p", o).unwrap();
        out.extend(page.items);
        start = page.last_evaluated_key;
        if start.is_none() {
            return out;
        }
    }
}

/// A batch write whose item is too large only once its LSI entry is counted must be
/// rejected before anything is written, also in other tables of the batch.
#[test]
fn batch_write_item_too_large_with_index_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.create_table(TableSpec::new("plain", KeySchema::simple("id", KeyType::S)))
        .unwrap();
    let t = with_lsi(&db, "indexed");
    // 250 KB: fine alone, over 400 KB with its ALL-projected entry in by_d.
    let big = item! { "pk" => "big", "sk" => 1, "d" => "x", "blob" => vec![0u8; 250 * 1024] };
    let mut smalls = Vec::new();
    for i in 0..20 {
        smalls.push(WriteRequest::Put(
            item! { "pk" => format!("s{i}"), "sk" => 1 },
        ));
    }
    smalls.push(WriteRequest::Put(big));
    let r = db.batch_write_item([
        ("plain", vec![WriteRequest::Put(item! { "id" => "a" })]),
        ("indexed", smalls),
    ]);
    assert!(
        matches!(r, Err(DbError::ItemTooLargeWithIndex { .. })),
        "{r:?}"
    );
    let plain = db.table("plain").unwrap();
    assert_eq!(
        plain
            .get_item(item! { "id" => "a" }, GetOptions::default())
            .unwrap()
            .item,
        None,
        "a rejected batch wrote to another table"
    );
    let scanned = t.scan(ScanOptions::default()).unwrap();
    assert_eq!(scanned.count, 0, "a rejected batch wrote items");
}

/// Changing, removing and deleting LSI keys leaves no stale entries, in both
/// directions of paging.
#[test]
fn lsi_entries_follow_their_items() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = with_lsi(&db, "tbl");
    for sk in 0..10 {
        t.put_item(
            item! { "pk" => "a", "sk" => sk, "d" => format!("d{sk}"), "e" => sk, "x" => 1 },
            PutOptions::default(),
        )
        .unwrap();
    }
    // Put over existing with a new LSI key.
    t.put_item(
        item! { "pk" => "a", "sk" => 0, "d" => "zz", "e" => 100 },
        PutOptions::default(),
    )
    .unwrap();
    // Put over existing without the LSI keys.
    t.put_item(item! { "pk" => "a", "sk" => 1 }, PutOptions::default())
        .unwrap();
    // Update changing one key, removing the other.
    t.update_item(
        item! { "pk" => "a", "sk" => 2 },
        UpdateOptions::default()
            .update("SET d = :d REMOVE e")
            .value(":d", "aa"),
    )
    .unwrap();
    // Delete.
    t.delete_item(item! { "pk" => "a", "sk" => 3 }, DeleteOptions::default())
        .unwrap();
    let expect_d: Vec<(String, i64)> = vec![
        ("aa".into(), 2),
        ("d4".into(), 4),
        ("d5".into(), 5),
        ("d6".into(), 6),
        ("d7".into(), 7),
        ("d8".into(), 8),
        ("d9".into(), 9),
        ("zz".into(), 0),
    ];
    let sk_of = |i: &Item| match i.get("sk") {
        Some(AttributeValue::N(n)) => n.to_string().parse::<i64>().unwrap(),
        other => panic!("{other:?}"),
    };
    let d_of = |i: &Item| match i.get("d") {
        Some(AttributeValue::S(s)) => s.clone(),
        other => panic!("{other:?}"),
    };
    for limit in [1, 3, 100] {
        let fwd: Vec<_> = all_lsi(&t, "a", "by_d", true, limit)
            .iter()
            .map(|i| (d_of(i), sk_of(i)))
            .collect();
        assert_eq!(fwd, expect_d, "limit {limit}");
        let mut rev: Vec<_> = all_lsi(&t, "a", "by_d", false, limit)
            .iter()
            .map(|i| (d_of(i), sk_of(i)))
            .collect();
        rev.reverse();
        assert_eq!(rev, expect_d, "reverse, limit {limit}");
        let e: Vec<i64> = all_lsi(&t, "a", "by_e", true, limit)
            .iter()
            .map(sk_of)
            .collect();
        assert_eq!(e, vec![4, 5, 6, 7, 8, 9, 0], "by_e, limit {limit}");
    }
}

/// Segments of an LSI scan are disjoint and complete, with pagination and a filter.
#[test]
fn lsi_scan_segments_disjoint_and_complete() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = with_lsi(&db, "tbl");
    let mut expect = BTreeSet::new();
    for p in 0..30 {
        for sk in 0..3 {
            let mut it = item! { "pk" => format!("p{p}"), "sk" => sk, "x" => p % 2 };
            if (p + sk) % 4 != 0 {
                it.insert("d", AttributeValue::from(format!("d{sk}")));
                if p % 2 == 0 {
                    expect.insert((format!("p{p}"), sk));
                }
            }
            t.put_item(it, PutOptions::default()).unwrap();
        }
    }
    for total in [1u32, 3, 7] {
        let mut seen = BTreeSet::new();
        for seg in 0..total {
            let mut start = None;
            loop {
                let page = t
                    .scan(
                        ScanOptions::default()
                            .index("by_d")
                            .segment(seg, total)
                            .limit(4)
                            .filter("x = :z")
                            .value(":z", 0)
                            .start_after(start),
                    )
                    .unwrap();
                for i in &page.items {
                    let pk = match i.get("pk") {
                        Some(AttributeValue::S(s)) => s.clone(),
                        o => panic!("{o:?}"),
                    };
                    let sk = match i.get("sk") {
                        Some(AttributeValue::N(n)) => n.to_string().parse::<i64>().unwrap(),
                        o => panic!("{o:?}"),
                    };
                    assert!(seen.insert((pk, sk)), "seen twice");
                }
                start = page.last_evaluated_key;
                if start.is_none() {
                    break;
                }
            }
        }
        assert_eq!(seen, expect, "total {total}");
    }
}

/// DynamoDB's write units with LSIs: a changed index key costs a delete and a put.
#[test]
fn lsi_write_units() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = with_lsi(&db, "tbl");
    let out = t
        .put_item(
            item! { "pk" => "a", "sk" => 1, "d" => "x", "e" => 1 },
            PutOptions::default(),
        )
        .unwrap();
    assert_eq!(out.consumed_capacity.write_capacity_units, 3.0);
    let out = t
        .update_item(
            item! { "pk" => "a", "sk" => 1 },
            UpdateOptions::default()
                .update("SET d = :d")
                .value(":d", "y"),
        )
        .unwrap();
    // table 1, by_d: delete + put = 2, by_e: unchanged keys-only entry = 0.
    assert_eq!(out.consumed_capacity.write_capacity_units, 3.0);
    let out = t
        .delete_item(item! { "pk" => "a", "sk" => 1 }, DeleteOptions::default())
        .unwrap();
    assert_eq!(out.consumed_capacity.write_capacity_units, 3.0);
}

/// DynamoDB's Query: "A filter expression cannot contain partition key or sort key
/// attributes" (of the index queried); Scan allows them.
#[test]
fn query_filter_on_key_attributes_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = with_lsi(&db, "tbl");
    t.put_item(
        item! { "pk" => "a", "sk" => 1, "d" => "x", "e" => 1 },
        PutOptions::default(),
    )
    .unwrap();
    let q = |index: Option<&str>, filter: &str| {
        let mut o = QueryOptions::default()
            .name("#p", "pk")
            .value(":p", "a")
            .value(":v", 1)
            .filter(filter);
        if let Some(i) = index {
            o = o.index(i);
        }
        t.query("#p = :p", o)
    };
    for (index, filter) in [
        (None, "sk = :v"),
        (None, "#p = :v"),
        (Some("by_e"), "e = :v"),
        (Some("by_e"), "attribute_exists(#p) AND sk = :v OR e = :v"),
    ] {
        let r = q(index, filter);
        assert!(
            matches!(r, Err(DbError::InvalidRequest { .. })),
            "{index:?} {filter}: {r:?}"
        );
    }
    // Non-key attributes of the index are fine, as is a scan filter on keys.
    assert_eq!(q(None, "e = :v").unwrap().count, 1);
    assert_eq!(q(Some("by_e"), "sk = :v").unwrap().count, 1);
    let s = t
        .scan(ScanOptions::default().filter("sk = :v").value(":v", 1))
        .unwrap();
    assert_eq!(s.count, 1);
}
