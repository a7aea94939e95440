//! Sizes of tables: the item-collection size limit of tables with local secondary
//! indexes (a write that would grow a collection over
//! `DbOptions::item_collection_limit_bytes` fails with `ItemCollectionSizeLimitExceeded`
//! and writes nothing; the tracked size equals a fresh measurement after a reopen),
//! and the cached item statistics of `Table::item_stats_cached`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use strata_engine::{
    Db, DbError, DbOptions, DeleteOptions, GetOptions, LsiSpec, PutOptions, TableSpec,
    UpdateOptions, WriteRequest,
};
use strata_item::{Item, KeySchema, KeyType, item};

const LIMIT: u64 = 4096;

fn options(fs_from: &DbOptions) -> DbOptions {
    DbOptions {
        item_collection_limit_bytes: LIMIT,
        ..fs_from.clone()
    }
}

fn spec(name: &str, lsi: bool) -> TableSpec {
    let s = TableSpec::new(
        name,
        KeySchema::composite("pk", KeyType::S, "sk", KeyType::N),
    )
    .partitions(2);
    if lsi {
        s.lsi(LsiSpec::new("by_x", "x", KeyType::S))
    } else {
        s
    }
}

fn row(pk: &str, sk: i64, pad: usize) -> Item {
    item! { "pk" => pk, "sk" => sk, "x" => "v", "fill" => "p".repeat(pad) }
}

fn over_limit(e: &DbError) -> bool {
    matches!(
        e,
        DbError::ItemCollectionSizeLimitExceeded { limit: LIMIT, .. }
    )
}

#[test]
fn writes_that_grow_a_full_collection_are_refused_and_write_nothing() {
    let base = DbOptions::in_memory();
    let db = Db::open(strata_engine::IN_MEMORY_PATH, options(&base)).unwrap();
    db.create_table(spec("tbl", true)).unwrap();
    db.create_table(spec("plain", false)).unwrap();
    let t = db.table("tbl").unwrap();

    // Fill collection "a" until a put is refused.
    let mut n = 0;
    let refused = loop {
        match t.put_item(row("a", n, 300), PutOptions::default()) {
            Ok(_) => n += 1,
            Err(e) => break e,
        }
        assert!(n < 100, "the limit never refused a put");
    };
    assert!(over_limit(&refused), "{refused:?}");
    assert!(!refused.is_validation());
    assert!(n >= 3, "{n} items fit");
    // Nothing of the refused put was written, and the size stays within the limit.
    assert!(
        t.get_item(item! { "pk" => "a", "sk" => n }, GetOptions::default())
            .unwrap()
            .item
            .is_none()
    );
    let full = t.item_collection_bytes(&"a".into()).unwrap();
    assert!(full <= LIMIT, "{full}");
    // Other collections are not affected; tables without LSIs have no limit.
    t.put_item(row("b", 0, 300), PutOptions::default()).unwrap();
    let plain = db.table("plain").unwrap();
    for i in 0..(n + 5) {
        plain
            .put_item(row("a", i, 300), PutOptions::default())
            .unwrap();
    }

    // An update that grows an item of the full collection is refused and changes
    // nothing; one that shrinks it passes.
    let grow = t
        .update_item(
            item! { "pk" => "a", "sk" => 0 },
            UpdateOptions::default()
                .update("SET fill = :p")
                .value(":p", "q".repeat(2000)),
        )
        .unwrap_err();
    assert!(over_limit(&grow), "{grow:?}");
    let got = t
        .get_item(item! { "pk" => "a", "sk" => 0 }, GetOptions::default())
        .unwrap()
        .item
        .unwrap();
    assert_eq!(got.get("fill"), Some(&"p".repeat(300).into()));
    t.update_item(
        item! { "pk" => "a", "sk" => 0 },
        UpdateOptions::default()
            .update("SET fill = :p")
            .value(":p", "s"),
    )
    .unwrap();
    assert!(t.item_collection_bytes(&"a".into()).unwrap() < full);

    // A delete makes room for a new item again.
    t.delete_item(item! { "pk" => "a", "sk" => 1 }, DeleteOptions::default())
        .unwrap();
    t.put_item(row("a", 1000, 300), PutOptions::default())
        .unwrap();

    // A batch that would take the collection over: refused, nothing of its
    // partition written.
    let before = t.item_collection_bytes(&"a".into()).unwrap();
    let err = db
        .batch_write_item([(
            "tbl",
            vec![
                WriteRequest::Put(row("a", 2000, 300)),
                WriteRequest::Put(row("a", 2001, 300)),
                WriteRequest::Put(row("a", 2002, 300)),
            ],
        )])
        .unwrap_err();
    assert!(over_limit(&err), "{err:?}");
    for sk in 2000..2003 {
        assert!(
            t.get_item(item! { "pk" => "a", "sk" => sk }, GetOptions::default())
                .unwrap()
                .item
                .is_none()
        );
    }
    assert_eq!(t.item_collection_bytes(&"a".into()).unwrap(), before);
    // A batch that fits is written.
    db.batch_write_item([(
        "tbl",
        vec![
            WriteRequest::Put(row("b", 1, 10)),
            WriteRequest::Delete(item! { "pk" => "a", "sk" => 2 }.into()),
        ],
    )])
    .unwrap();

    // The tracked sizes equal a fresh measurement after a reopen, and the limit
    // holds there too.
    let tracked_a = t.item_collection_bytes(&"a".into()).unwrap();
    let tracked_b = t.item_collection_bytes(&"b".into()).unwrap();
    drop(t);
    drop(plain);
    db.close().unwrap();
    let db = Db::open(strata_engine::IN_MEMORY_PATH, options(&base)).unwrap();
    let t = db.table("tbl").unwrap();
    assert_eq!(t.item_collection_bytes(&"a".into()).unwrap(), tracked_a);
    assert_eq!(t.item_collection_bytes(&"b".into()).unwrap(), tracked_b);
    let mut refused = false;
    for i in 0..100 {
        match t.put_item(row("a", 5000 + i, 300), PutOptions::default()) {
            Ok(_) => {}
            Err(e) => {
                assert!(over_limit(&e), "{e:?}");
                refused = true;
                break;
            }
        }
    }
    assert!(refused);
    assert!(t.item_collection_bytes(&"a".into()).unwrap() <= LIMIT);
}

#[test]
fn tracked_sizes_match_a_measurement_after_random_writes() {
    let base = DbOptions::in_memory();
    let opts = DbOptions {
        item_collection_limit_bytes: 1 << 40,
        ..base.clone()
    };
    let db = Db::open(strata_engine::IN_MEMORY_PATH, opts.clone()).unwrap();
    db.create_table(spec("tbl", true)).unwrap();
    let t = db.table("tbl").unwrap();
    let mut seed = 7u64;
    let mut next = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize
    };
    for _ in 0..400 {
        let pk = format!("k{}", next() % 5);
        let sk = (next() % 20) as i64;
        match next() % 4 {
            0 => {
                t.delete_item(
                    item! { "pk" => pk.as_str(), "sk" => sk },
                    DeleteOptions::default(),
                )
                .unwrap();
            }
            1 => {
                // Without the LSI's attribute: no index entry.
                t.put_item(
                    item! { "pk" => pk.as_str(), "sk" => sk, "fill" => "z".repeat(next() % 50) },
                    PutOptions::default(),
                )
                .unwrap();
            }
            2 => {
                t.update_item(
                    item! { "pk" => pk.as_str(), "sk" => sk },
                    UpdateOptions::default()
                        .update("SET x = :x")
                        .value(":x", "y".repeat(1 + next() % 30)),
                )
                .unwrap();
            }
            _ => {
                t.put_item(row(&pk, sk, next() % 100), PutOptions::default())
                    .unwrap();
            }
        }
    }
    let tracked: Vec<u64> = (0..5)
        .map(|i| t.item_collection_bytes(&format!("k{i}").into()).unwrap())
        .collect();
    drop(t);
    db.close().unwrap();
    let db = Db::open(strata_engine::IN_MEMORY_PATH, opts).unwrap();
    let t = db.table("tbl").unwrap();
    let measured: Vec<u64> = (0..5)
        .map(|i| t.item_collection_bytes(&format!("k{i}").into()).unwrap())
        .collect();
    assert_eq!(tracked, measured);
}

#[test]
fn cached_item_stats_are_counted_at_most_once_per_period() {
    use std::sync::Arc;
    use std::time::Duration;
    let clock = Arc::new(strata_engine::capacity::ManualClock::new());
    let opts = DbOptions {
        item_stats_max_age: Duration::from_secs(60),
        ..DbOptions::in_memory()
    }
    .clock(clock.clone());
    let db = Db::open(strata_engine::IN_MEMORY_PATH, opts).unwrap();
    db.create_table(spec("tbl", true)).unwrap();
    let t = db.table("tbl").unwrap();
    for i in 0..300 {
        t.put_item(row(&format!("k{}", i % 7), i, 20), PutOptions::default())
            .unwrap();
    }
    let first = t.item_stats_cached().unwrap();
    assert_eq!(first, t.item_stats().unwrap());
    assert_eq!(first.items, 300);
    // Within the period the figures are the cached ones: 100 more items are not
    // counted, so the table was not scanned.
    for i in 300..400 {
        t.put_item(row("k0", i, 20), PutOptions::default()).unwrap();
    }
    clock.advance(Duration::from_secs(59));
    assert_eq!(t.item_stats_cached().unwrap(), first);
    // Once the period is over, a call counts again.
    clock.advance(Duration::from_secs(1));
    let second = t.item_stats_cached().unwrap();
    assert_eq!(second.items, 400);
    assert_eq!(second, t.item_stats().unwrap());
    assert!(second.bytes > first.bytes);
}
