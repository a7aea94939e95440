//! The whole item API, run once on disk and once in memory (`Db::open` on a temporary
//! directory, and `DbOptions::in_memory()`): random puts, updates and deletes with
//! conditions (and `ReturnValues` / `ReturnValuesOnConditionCheckFailure`) against a
//! `BTreeMap` model, with a close and reopen in between; then queries (key conditions,
//! filters, limits, reverse order), an LSI, a GSI after `wait_for_indexes`, scans and
//! batch gets through the paginators, all compared with the model; batches across
//! tables; `ensure_table`; validation errors that write nothing. The scenarios are plain
//! functions of a `Backend`; `both!` makes a test of each for each backend.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata_engine::{
    BatchGetRequest, Db, DbError, DbOptions, DeleteOptions, GetOptions, GsiSpec, IN_MEMORY_PATH,
    LsiSpec, PutOptions, QueryOptions, ReturnValues, ReturnValuesOnConditionCheckFailure,
    ScanOptions, Table, TableSpec, UpdateOptions, WriteRequest,
};
use strata_item::{Item, KeySchema, KeyType, item};

const WAIT: Duration = Duration::from_secs(30);
const ALL_OLD: ReturnValuesOnConditionCheckFailure = ReturnValuesOnConditionCheckFailure::AllOld;

/// Where a scenario's database lives; `open` may be called again after a close (a
/// reopen finds everything, on disk and in memory alike).
enum Backend {
    Disk(tempfile::TempDir),
    Memory(Box<DbOptions>),
}

impl Backend {
    fn disk() -> Backend {
        Backend::Disk(tempfile::tempdir().unwrap())
    }

    fn memory() -> Backend {
        Backend::Memory(Box::new(DbOptions::in_memory()))
    }

    fn open(&self) -> Db {
        match self {
            Backend::Disk(dir) => Db::open(dir.path(), DbOptions::default()).unwrap(),
            Backend::Memory(opts) => Db::open(IN_MEMORY_PATH, (**opts).clone()).unwrap(),
        }
    }
}

/// A test per scenario per backend: `disk::name` and `memory::name`.
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod disk {
            $( #[test] fn $name() { super::$name(&super::Backend::disk()) } )*
        }
        mod memory {
            $( #[test] fn $name() { super::$name(&super::Backend::memory()) } )*
        }
    };
}

both!(
    random_writes_with_conditions_follow_the_model,
    batches_across_tables,
    ensure_table_creates_accepts_and_refuses,
    validation_errors_write_nothing,
);

// ---------------------------------------------------------------------------------
// The model scenario.

/// (partition number, sort key) -> the item.
type Model = BTreeMap<(usize, i64), Item>;

const PKS: usize = 4;

fn spec() -> TableSpec {
    TableSpec::new(
        "items",
        KeySchema::composite("pk", KeyType::S, "sk", KeyType::N),
    )
    .partitions(3)
    .lsi(LsiSpec::new("by_v", "v", KeyType::N))
    .gsi(GsiSpec::new(
        "by_g",
        KeySchema::composite("g", KeyType::S, "u", KeyType::N),
    ))
}

fn pk(p: usize) -> String {
    format!("p{p}")
}

/// An item of generation `gen`: `v` (the LSI key, distinct within a partition key) and
/// its copy `w` (filterable) only from generation 1 on, `g` (the GSI key) on three
/// quarters of the keys, `u` unique per key (the GSI's sort key).
fn make_item(p: usize, sk: i64, generation: i64, rng: &mut StdRng) -> Item {
    let mut it = item! { "pk" => pk(p), "sk" => sk, "u" => (p as i64) * 1000 + sk };
    if generation > 0 {
        let v = generation * 100 + sk;
        it.insert("v", v);
        it.insert("w", v);
    }
    if sk % 4 != 0 {
        let g = ["x", "y", "z"][rng.random_range(0..3)];
        it.insert("g", g);
    }
    it.insert("pad", "x".repeat(rng.random_range(0..200)));
    it
}

fn key(p: usize, sk: i64) -> Item {
    item! { "pk" => pk(p), "sk" => sk }
}

fn num(i: &Item, name: &str) -> i64 {
    i.get_n::<i64>(name).unwrap()
}

fn cond_failed(r: Result<impl std::fmt::Debug, DbError>) -> Option<Item> {
    match r {
        Err(DbError::ConditionalCheckFailed { item, .. }) => item,
        other => panic!("expected ConditionalCheckFailed, got {other:?}"),
    }
}

/// One random operation, applied to the table and the model; every result is checked.
fn random_op(t: &Table, model: &mut Model, rng: &mut StdRng) {
    let (p, sk) = (rng.random_range(0..PKS), rng.random_range(0..30i64));
    let k = (p, sk);
    let old = model.get(&k).cloned();
    match rng.random_range(0..6) {
        0 | 1 => {
            let new = make_item(p, sk, rng.random_range(0..5), rng);
            let out = t
                .put_item(
                    new.clone(),
                    PutOptions::default().return_values(ReturnValues::AllOld),
                )
                .unwrap();
            assert_eq!(out.attributes, old);
            model.insert(k, new);
        }
        2 => {
            // Create only if absent; a failure returns the existing item.
            let new = make_item(p, sk, rng.random_range(0..5), rng);
            let r = t.put_item(
                new.clone(),
                PutOptions::default()
                    .condition("attribute_not_exists(pk)")
                    .return_values_on_condition_check_failure(ALL_OLD),
            );
            match &old {
                Some(o) => assert_eq!(cond_failed(r).as_ref(), Some(o)),
                None => {
                    r.unwrap();
                    model.insert(k, new);
                }
            }
        }
        3 => {
            // Update an existing item's LSI key and its copy.
            let v = rng.random_range(1..5) * 100 + sk;
            let r = t.update_item(
                key(p, sk),
                UpdateOptions::default()
                    .update("SET v = :v, w = :v")
                    .condition("attribute_exists(pk)")
                    .value(":v", v)
                    .return_values(ReturnValues::AllNew)
                    .return_values_on_condition_check_failure(ALL_OLD),
            );
            match old {
                Some(mut o) => {
                    o.insert("v", v);
                    o.insert("w", v);
                    assert_eq!(r.unwrap().attributes.as_ref(), Some(&o));
                    model.insert(k, o);
                }
                None => assert_eq!(cond_failed(r), None),
            }
        }
        4 => {
            // Delete only items of generation 0 (no `v`); others fail with the item.
            let r = t.delete_item(
                key(p, sk),
                DeleteOptions::default()
                    .condition("attribute_not_exists(v)")
                    .return_values(ReturnValues::AllOld)
                    .return_values_on_condition_check_failure(ALL_OLD),
            );
            match old {
                Some(o) if o.get("v").is_some() => assert_eq!(cond_failed(r), Some(o)),
                o => {
                    assert_eq!(r.unwrap().attributes, o);
                    model.remove(&k);
                }
            }
        }
        _ => {
            let got = t.get_item(key(p, sk), GetOptions::default()).unwrap();
            assert_eq!(got.item, old);
        }
    }
}

/// The query options of one check: a page limit, reverse order and a filter on `w`.
fn variant(opts: QueryOptions, limit: Option<usize>, reverse: bool, filter: bool) -> QueryOptions {
    let mut opts = opts;
    if let Some(n) = limit {
        opts = opts.limit(n);
    }
    if reverse {
        opts = opts.reverse();
    }
    if filter {
        opts = opts.filter("w > :min").value(":min", 250);
    }
    opts
}

fn passes(i: &Item, filter: bool) -> bool {
    !filter || i.get("w").is_some_and(|_| num(i, "w") > 250)
}

fn ordered(mut items: Vec<Item>, reverse: bool) -> Vec<Item> {
    if reverse {
        items.reverse();
    }
    items
}

fn collect(iter: strata_engine::ItemIter) -> Vec<Item> {
    iter.collect::<Result<_, _>>().unwrap()
}

/// Every read path compared with the model.
fn check_reads(db: &Db, t: &Table, model: &Model, rng: &mut StdRng) {
    db.wait_for_indexes("items", WAIT).unwrap();
    for limit in [None, Some(1), Some(4), Some(11)] {
        for reverse in [false, true] {
            for filter in [false, true] {
                let v = |o| variant(o, limit, reverse, filter);
                for p in 0..PKS {
                    // The table, in sort-key order.
                    let want: Vec<Item> = model
                        .range((p, i64::MIN)..=(p, i64::MAX))
                        .map(|(_, i)| i.clone())
                        .filter(|i| passes(i, filter))
                        .collect();
                    let q = v(QueryOptions::default().value(":p", pk(p)));
                    assert_eq!(
                        collect(t.query_iter("pk = :p", q.clone())),
                        ordered(want.clone(), reverse)
                    );
                    // The pages add up: items, and items read before the filter.
                    let pages: Vec<_> = t
                        .query_iter("pk = :p", q)
                        .pages()
                        .collect::<Result<_, _>>()
                        .unwrap();
                    let all = model.range((p, i64::MIN)..=(p, i64::MAX)).count();
                    assert_eq!(pages.iter().map(|p| p.count).sum::<usize>(), want.len());
                    assert_eq!(pages.iter().map(|p| p.scanned_count).sum::<usize>(), all);
                    if let Some(n) = limit {
                        assert!(pages.iter().all(|p| p.scanned_count <= n));
                    }
                    // A sort-key range.
                    let (a, b) = (rng.random_range(0..30i64), rng.random_range(0..30i64));
                    let (a, b) = (a.min(b), a.max(b));
                    let want_range: Vec<Item> = want
                        .iter()
                        .filter(|i| (a..=b).contains(&num(i, "sk")))
                        .cloned()
                        .collect();
                    let q = v(QueryOptions::default()
                        .value(":p", pk(p))
                        .value(":a", a)
                        .value(":b", b));
                    assert_eq!(
                        collect(t.query_iter("pk = :p AND sk BETWEEN :a AND :b", q)),
                        ordered(want_range, reverse)
                    );
                    // The LSI: items with `v`, in `v` order.
                    let mut want_lsi: Vec<Item> = want
                        .iter()
                        .filter(|i| i.get("v").is_some())
                        .cloned()
                        .collect();
                    want_lsi.sort_by_key(|i| num(i, "v"));
                    let q = v(QueryOptions::default().index("by_v").value(":p", pk(p)));
                    assert_eq!(
                        collect(t.query_iter("pk = :p", q)),
                        ordered(want_lsi, reverse)
                    );
                }
                // The GSI: items with `g`, in `u` order.
                for g in ["x", "y", "z"] {
                    let mut want: Vec<Item> = model
                        .values()
                        .filter(|i| i.get_s("g").ok() == Some(g) && passes(i, filter))
                        .cloned()
                        .collect();
                    want.sort_by_key(|i| num(i, "u"));
                    let q = v(QueryOptions::default().index("by_g").value(":g", g));
                    assert_eq!(collect(t.query_iter("g = :g", q)), ordered(want, reverse));
                }
            }
        }
        // Scans (no order across partitions: compared by key), of the table and of
        // the LSI, with and without a filter.
        for filter in [false, true] {
            let mut opts = ScanOptions::default();
            if let Some(n) = limit {
                opts = opts.limit(n);
            }
            if filter {
                opts = opts.filter("w > :min").value(":min", 250);
            }
            let mut got = collect(t.scan_iter(opts.clone()));
            got.sort_by_key(|i| (i.get_s("pk").unwrap().to_owned(), num(i, "sk")));
            let want: Vec<Item> = model
                .values()
                .filter(|i| passes(i, filter))
                .cloned()
                .collect();
            assert_eq!(got, want);
            let lsi = collect(t.scan_iter(opts.index("by_v")));
            assert_eq!(
                lsi.len(),
                want.iter().filter(|i| i.get("v").is_some()).count()
            );
        }
    }
    // Batch gets of random keys, found and missing.
    let keys: Vec<(usize, i64)> = (0..40)
        .map(|_| (rng.random_range(0..PKS), rng.random_range(0..30i64)))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .take(100)
        .collect();
    let out = db
        .batch_get_item([(
            "items",
            BatchGetRequest::keys(keys.iter().map(|&(p, sk)| key(p, sk))),
        )])
        .unwrap();
    assert!(out.unprocessed_keys.is_empty());
    let mut got = out.responses["items"].clone();
    got.sort_by_key(|i| (i.get_s("pk").unwrap().to_owned(), num(i, "sk")));
    let want: Vec<Item> = keys.iter().filter_map(|k| model.get(k).cloned()).collect();
    assert_eq!(got, want);
}

fn random_writes_with_conditions_follow_the_model(b: &Backend) {
    let mut rng = StdRng::seed_from_u64(0x5_7a7a);
    let mut model = Model::new();
    let db = b.open();
    db.create_table(spec()).unwrap();
    let t = db.table("items").unwrap();
    for _ in 0..400 {
        random_op(&t, &mut model, &mut rng);
    }
    check_reads(&db, &t, &model, &mut rng);
    // Flushed to SSTables, then more writes on top (reads merge both).
    t.flush().unwrap();
    for _ in 0..200 {
        random_op(&t, &mut model, &mut rng);
    }
    check_reads(&db, &t, &model, &mut rng);
    // Closed and reopened: everything is still there, and writes go on.
    db.close().unwrap();
    drop(t);
    let db = b.open();
    let t = db.table("items").unwrap();
    check_reads(&db, &t, &model, &mut rng);
    for _ in 0..200 {
        random_op(&t, &mut model, &mut rng);
    }
    check_reads(&db, &t, &model, &mut rng);
    assert!(db.verify_index("items", "by_g").unwrap().is_clean());
    db.close().unwrap();
}

// ---------------------------------------------------------------------------------
// Batches.

fn batches_across_tables(b: &Backend) {
    let db = b.open();
    db.create_table(TableSpec::new("users", KeySchema::simple("id", KeyType::S)))
        .unwrap();
    db.create_table(spec()).unwrap();
    let puts: Vec<WriteRequest> = (0..20)
        .map(|i| WriteRequest::Put(item! { "id" => format!("u{i}"), "n" => i }))
        .collect();
    let other = vec![
        WriteRequest::Put(item! { "pk" => "p0", "sk" => 1, "u" => 1 }),
        WriteRequest::Put(item! { "pk" => "p0", "sk" => 2, "u" => 2 }),
    ];
    let out = db
        .batch_write_item([("users", puts), ("items", other)])
        .unwrap();
    assert!(out.unprocessed_items.is_empty());
    // Deletes in a batch; a 26th request and a duplicate key are refused whole.
    db.batch_write_item([(
        "users",
        vec![WriteRequest::Delete(item! { "id" => "u0" }.into())],
    )])
    .unwrap();
    let too_many: Vec<WriteRequest> = (0..26)
        .map(|i| WriteRequest::Put(item! { "id" => format!("x{i}") }))
        .collect();
    assert!(matches!(
        db.batch_write_item([("users", too_many)]),
        Err(DbError::TooManyBatchItems { .. })
    ));
    let dup = vec![
        WriteRequest::Put(item! { "id" => "d" }),
        WriteRequest::Delete(item! { "id" => "d" }.into()),
    ];
    assert!(matches!(
        db.batch_write_item([("users", dup)]),
        Err(DbError::DuplicateBatchKeys { .. })
    ));
    assert!(matches!(
        db.batch_write_item([("missing", vec![WriteRequest::Put(item! { "id" => "m" })])]),
        Err(DbError::TableNotFound { .. })
    ));
    // Reads across both tables, with missing keys.
    let out = db
        .batch_get_item([
            (
                "users",
                BatchGetRequest::keys((0..25).map(|i| item! { "id" => format!("u{i}") })),
            ),
            (
                "items",
                BatchGetRequest::keys([
                    item! { "pk" => "p0", "sk" => 1 },
                    item! { "pk" => "p0", "sk" => 3 },
                ]),
            ),
        ])
        .unwrap();
    let mut ns: Vec<i64> = out.responses["users"].iter().map(|i| num(i, "n")).collect();
    ns.sort_unstable();
    assert_eq!(ns, (1..20).collect::<Vec<_>>());
    assert_eq!(out.responses["items"].len(), 1);
    // Nothing of the refused batches was written.
    let users = db.table("users").unwrap();
    assert_eq!(
        collect(users.scan_iter(ScanOptions::default().limit(7))).len(),
        19
    );
    db.close().unwrap();
}

// ---------------------------------------------------------------------------------
// ensure_table.

fn ensure_table_creates_accepts_and_refuses(b: &Backend) {
    let db = b.open();
    db.ensure_table(spec()).unwrap();
    db.table("items")
        .unwrap()
        .put_item(
            item! { "pk" => "a", "sk" => 1, "v" => 5 },
            PutOptions::default(),
        )
        .unwrap();
    db.close().unwrap();
    let db = b.open();
    // The same spec after a reopen: no change, the data is there.
    db.ensure_table(spec()).unwrap();
    let t = db.table("items").unwrap();
    let q = QueryOptions::default().index("by_v").value(":p", "a");
    assert_eq!(collect(t.query_iter("pk = :p", q)).len(), 1);
    // An LSI more: refused, naming it; the table is unchanged.
    let wider = spec().lsi(LsiSpec::new("by_w", "w", KeyType::N));
    match db.ensure_table(wider) {
        Err(DbError::TableSpecMismatch { differences, .. }) => {
            assert!(
                differences.iter().any(|d| d.contains("by_w")),
                "{differences:?}"
            );
        }
        other => panic!("expected TableSpecMismatch, got {other:?}"),
    }
    assert_eq!(db.describe_table("items").unwrap().spec, spec());
    db.close().unwrap();
}

// ---------------------------------------------------------------------------------
// Validation.

fn validation_errors_write_nothing(b: &Backend) {
    let db = b.open();
    db.create_table(spec()).unwrap();
    let t = db.table("items").unwrap();
    let bad: Vec<Item> = vec![
        item! { "pk" => "a" },                                   // no sort key
        item! { "pk" => "a", "sk" => "one" },                    // wrong type
        item! { "pk" => "a", "sk" => 1, "v" => "not a number" }, // LSI key type
        item! { "pk" => "a", "sk" => 1, "g" => 7 },              // GSI key type
        item! { "pk" => "a", "sk" => 1, "big" => "x".repeat(401 * 1024) },
    ];
    for it in bad {
        let e = t.put_item(it.clone(), PutOptions::default()).unwrap_err();
        assert!(e.is_validation(), "{it:?}: {e}");
    }
    let e = t
        .update_item(
            item! { "pk" => "a", "sk" => 1 },
            UpdateOptions::default()
                .update("SET pk = :x")
                .value(":x", "b"),
        )
        .unwrap_err();
    assert!(e.is_validation(), "{e}");
    let e = t
        .query(
            "pk = :p",
            QueryOptions::default().index("nope").value(":p", "a"),
        )
        .unwrap_err();
    assert!(matches!(e, DbError::IndexNotFound { .. }), "{e}");
    assert_eq!(
        collect(t.scan_iter(ScanOptions::default())),
        Vec::<Item>::new()
    );
    db.close().unwrap();
}
