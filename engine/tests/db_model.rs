//! Model test of the item API: random puts, conditional puts, updates, deletes,
//! queries (both directions, paginated, on the table and on an LSI) and segmented
//! scans on a table with a sort key and an LSI, checked against an in-memory model,
//! with the database closed or dropped and reopened in between. Small memtables make
//! flushes and compactions happen along the way.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata_engine::{
    Db, DbError, DbOptions, DeleteOptions, GetOptions, IndexProjection, LsiSpec, PutOptions,
    QueryOptions, ScanOptions, Table, TableDurability, TableSpec, UpdateOptions,
};
use strata_item::{AttributeValue, Item, KeySchema, KeyType, item};

type Model = BTreeMap<(String, i64), Item>;

const PKS: usize = 5;
const SKS: i64 = 40;

fn open(dir: &std::path::Path) -> Db {
    Db::open(dir, DbOptions::small(strata_fs::default_fs())).unwrap()
}

fn num(i: &Item, name: &str) -> Option<i64> {
    i.get(name).map(|v| v.as_n().unwrap().to_i64().unwrap())
}

fn random_item(rng: &mut StdRng, pk: &str, sk: i64) -> Item {
    let mut it = item! { "pk" => pk, "sk" => sk, "v" => rng.random_range(0..100i64) };
    if rng.random_bool(0.7) {
        it.insert("lsk", rng.random_range(0..10i64));
    }
    if rng.random_bool(0.5) {
        it.insert("tag", "x".repeat(rng.random_range(1..300usize)));
    }
    it
}

fn key(pk: &str, sk: i64) -> Item {
    item! { "pk" => pk, "sk" => sk }
}

/// Every page of a query, following `last_evaluated_key`.
fn query_all(t: &Table, pk: &str, opts: &QueryOptions, kc: &str) -> Vec<Item> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = t
            .query(kc, opts.clone().value(":pk", pk).start_after(start.take()))
            .unwrap();
        assert!(opts.limit.is_none_or(|l| page.scanned_count <= l));
        out.extend(page.items);
        match page.last_evaluated_key {
            Some(k) => start = Some(k),
            None => return out,
        }
    }
}

fn check_everything(t: &Table, model: &Model) {
    // Scan with a random-ish number of segments: disjoint and complete.
    for total in [1u32, 3] {
        let mut seen = BTreeMap::new();
        for s in 0..total {
            let mut start = None;
            loop {
                let page = t
                    .scan(
                        ScanOptions::default()
                            .segment(s, total)
                            .limit(17)
                            .start_after(start.take()),
                    )
                    .unwrap();
                for i in page.items {
                    let k = (
                        i.get("pk").unwrap().as_s().unwrap().to_owned(),
                        num(&i, "sk").unwrap(),
                    );
                    assert!(seen.insert(k, i).is_none(), "duplicate in segmented scan");
                }
                match page.last_evaluated_key {
                    Some(k) => start = Some(k),
                    None => break,
                }
            }
        }
        assert_eq!(
            &seen, model,
            "scan with {total} segments differs from the model"
        );
    }
    // The LSI holds exactly the items with an `lsk`.
    let lsi_count = t
        .scan(
            ScanOptions::default()
                .index("by_lsk")
                .select(strata_engine::Select::Count),
        )
        .unwrap();
    assert_eq!(
        lsi_count.count,
        model.values().filter(|i| i.contains_key("lsk")).count()
    );
}

fn run(seed: u64, ops: usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut db = open(dir.path());
    db.create_table(
        TableSpec::new(
            "model",
            KeySchema::composite("pk", KeyType::S, "sk", KeyType::N),
        )
        .partitions(3)
        .durability(TableDurability::Buffered)
        .lsi(
            LsiSpec::new("by_lsk", "lsk", KeyType::N)
                .projection(IndexProjection::Include(vec!["v".into()])),
        ),
    )
    .unwrap();
    let mut t = db.table("model").unwrap();
    let mut model: Model = BTreeMap::new();
    for op in 0..ops {
        let pk = format!("p{}", rng.random_range(0..PKS));
        let sk = rng.random_range(0..SKS);
        let mk = (pk.clone(), sk);
        match rng.random_range(0..100) {
            0..=24 => {
                let it = random_item(&mut rng, &pk, sk);
                t.put_item(it.clone(), PutOptions::default()).unwrap();
                model.insert(mk, it);
            }
            25..=34 => {
                // Conditional put: create-only, or compare-and-set on v.
                let it = random_item(&mut rng, &pk, sk);
                let (opts, ok) = if rng.random_bool(0.5) {
                    (
                        PutOptions::default().condition("attribute_not_exists(pk)"),
                        !model.contains_key(&mk),
                    )
                } else {
                    let x = rng.random_range(0..100i64);
                    let ok = model.get(&mk).and_then(|i| num(i, "v")) == Some(x);
                    (PutOptions::default().condition("v = :x").value(":x", x), ok)
                };
                match t.put_item(it.clone(), opts) {
                    Ok(_) => {
                        assert!(ok, "op {op}: conditional put succeeded against the model");
                        model.insert(mk, it);
                    }
                    Err(DbError::ConditionalCheckFailed { .. }) => {
                        assert!(!ok, "op {op}: condition failed against the model")
                    }
                    Err(e) => panic!("{e}"),
                }
            }
            35..=54 => {
                // Update: bump v, set or remove the LSI key.
                let d = rng.random_range(1..5i64);
                let old = model.get(&mk).cloned();
                let mut new = old.clone().unwrap_or_else(|| key(&pk, sk));
                let v = old.as_ref().and_then(|i| num(i, "v")).unwrap_or(0) + d;
                new.insert("v", v);
                let opts = if rng.random_bool(0.3) {
                    new.remove("lsk");
                    UpdateOptions::default().update("SET v = if_not_exists(v, :z) + :d REMOVE lsk")
                } else {
                    let l = rng.random_range(0..10i64);
                    new.insert("lsk", l);
                    UpdateOptions::default()
                        .update("SET v = if_not_exists(v, :z) + :d, lsk = :l")
                        .value(":l", l)
                };
                let require_existing = rng.random_bool(0.3);
                let opts = opts.value(":z", 0).value(":d", d);
                let opts = if require_existing {
                    opts.condition("attribute_exists(pk)")
                } else {
                    opts
                };
                match t.update_item(
                    key(&pk, sk),
                    opts.return_values(strata_engine::ReturnValues::AllNew),
                ) {
                    Ok(out) => {
                        assert!(!require_existing || old.is_some());
                        assert_eq!(out.attributes.as_ref(), Some(&new), "op {op}");
                        model.insert(mk, new);
                    }
                    Err(DbError::ConditionalCheckFailed { .. }) => {
                        assert!(require_existing && old.is_none())
                    }
                    Err(e) => panic!("{e}"),
                }
            }
            55..=64 => {
                let conditional = rng.random_bool(0.3);
                let x = rng.random_range(0..100i64);
                let opts = if conditional {
                    DeleteOptions::default().condition("v < :x").value(":x", x)
                } else {
                    DeleteOptions::default()
                };
                let ok = !conditional
                    || model
                        .get(&mk)
                        .and_then(|i| num(i, "v"))
                        .is_some_and(|v| v < x);
                match t.delete_item(
                    key(&pk, sk),
                    opts.return_values(strata_engine::ReturnValues::AllOld),
                ) {
                    Ok(out) => {
                        assert!(ok, "op {op}");
                        assert_eq!(out.attributes, model.remove(&mk));
                    }
                    Err(DbError::ConditionalCheckFailed { .. }) => assert!(!ok),
                    Err(e) => panic!("{e}"),
                }
            }
            65..=74 => {
                let got = t
                    .get_item(key(&pk, sk), GetOptions::default())
                    .unwrap()
                    .item;
                assert_eq!(got.as_ref(), model.get(&mk), "op {op}: get");
            }
            75..=86 => {
                // Table query with a random sort condition, direction, limit and filter.
                let forward = rng.random_bool(0.5);
                let lo = rng.random_range(0..SKS);
                let hi = rng.random_range(lo..SKS);
                let (kc, pred): (&str, Box<dyn Fn(i64) -> bool>) = match rng.random_range(0..4) {
                    0 => ("pk = :pk", Box::new(|_| true)),
                    1 => (
                        "pk = :pk AND sk BETWEEN :lo AND :hi",
                        Box::new(move |s| s >= lo && s <= hi),
                    ),
                    2 => ("pk = :pk AND sk < :hi", Box::new(move |s| s < hi)),
                    _ => ("pk = :pk AND sk >= :lo", Box::new(move |s| s >= lo)),
                };
                let mut opts = QueryOptions::default();
                if kc.contains(":lo") {
                    opts = opts.value(":lo", lo);
                }
                if kc.contains(":hi") {
                    opts = opts.value(":hi", hi);
                }
                if !forward {
                    opts = opts.reverse();
                }
                if rng.random_bool(0.7) {
                    opts = opts.limit(rng.random_range(1..8));
                }
                let min_v = rng.random_range(0..100i64);
                let filtered = rng.random_bool(0.3);
                if filtered {
                    opts = opts.filter("v >= :mv").value(":mv", min_v);
                }
                let got = query_all(&t, &pk, &opts, kc);
                let mut want: Vec<Item> = model
                    .range((pk.clone(), i64::MIN)..=(pk.clone(), i64::MAX))
                    .filter(|((_, s), i)| pred(*s) && (!filtered || num(i, "v").unwrap() >= min_v))
                    .map(|(_, i)| i.clone())
                    .collect();
                if !forward {
                    want.reverse();
                }
                assert_eq!(got, want, "op {op}: query {kc} forward={forward}");
            }
            87..=95 => {
                // LSI query: entries ordered by (lsk, sk), projecting keys + v.
                let forward = rng.random_bool(0.5);
                let mut opts = QueryOptions::default().index("by_lsk");
                if !forward {
                    opts = opts.reverse();
                }
                if rng.random_bool(0.7) {
                    opts = opts.limit(rng.random_range(1..6));
                }
                let got = query_all(&t, &pk, &opts, "pk = :pk");
                let mut want: Vec<(i64, i64, Item)> = model
                    .range((pk.clone(), i64::MIN)..=(pk.clone(), i64::MAX))
                    .filter_map(|((_, s), i)| {
                        let l = num(i, "lsk")?;
                        let mut e = item! { "pk" => pk.as_str(), "sk" => *s, "lsk" => l };
                        e.insert("v", i.get("v").cloned().unwrap_or(AttributeValue::Null));
                        Some((l, *s, e))
                    })
                    .collect();
                want.sort_by_key(|(l, s, _)| (*l, *s));
                if !forward {
                    want.reverse();
                }
                let want: Vec<Item> = want.into_iter().map(|(_, _, e)| e).collect();
                assert_eq!(got, want, "op {op}: LSI query forward={forward}");
            }
            96..=97 => check_everything(&t, &model),
            _ => {
                // Reopen: either a clean close or just dropping every handle.
                if rng.random_bool(0.5) {
                    db.close().unwrap();
                }
                drop(t);
                drop(db);
                db = open(dir.path());
                t = db.table("model").unwrap();
            }
        }
    }
    check_everything(&t, &model);
    let keys: BTreeSet<_> = model.keys().cloned().collect();
    assert!(!keys.is_empty());
    db.close().unwrap();
}

#[test]
fn model_seed_1() {
    run(1, 2500);
}

#[test]
fn model_seed_2() {
    run(2, 2500);
}

#[test]
fn model_seed_3() {
    run(3, 2500);
}
