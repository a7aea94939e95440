//! Deeply nested and degenerate input through every entry point of the table API that
//! takes caller input, each on a thread with a 256 KiB stack: the answer is a clear
//! validation error (and nothing written: the table's content, read back in full, is
//! unchanged), never a stack overflow. `strata-item`'s own entry points are covered by
//! `item/tests/deep_inputs.rs`; this file covers what the engine adds around them (keys,
//! start keys, batches, shared placeholders, typed inputs given in options, items built
//! from DynamoDB JSON).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use strata_engine::{
    BatchGetRequest, ConditionInput, Db, DbError, DbOptions, DeleteOptions, GetOptions,
    KeyConditionInput, KeyInput, LsiSpec, ProjectionInput, PutOptions, QueryOptions, ScanOptions,
    Table, TableSpec, UpdateOptions, WriteRequest,
};
use strata_fs::FaultFs;
use strata_item::expr::{
    self, AttributePath, Comparator, Condition, ExprError, KeyCondition, Operand, Projection,
    SortKeyCondition,
};
use strata_item::{
    AttributeValue as AV, Item, KeyError, KeySchema, KeyType, PrimaryKey, ValidationError, item,
};

const SMALL_STACK: usize = 256 * 1024;
/// Longest message a rejection may carry: nothing echoes a whole deep or large input.
const MAX_MESSAGE: usize = 4096;
/// DynamoDB's words for a value nested too deeply.
const NESTING: &str = "Nesting Levels have exceeded supported limits";
const TABLE: &str = "deep";

/// Runs `f` on a thread with a 256 KiB stack; a stack overflow aborts the test process.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

/// `levels` lists and maps (alternating) around a number, built with a loop: with
/// DynamoDB's count the number sits at level `levels + 1`.
fn deep_value(levels: usize) -> AV {
    let mut v = AV::from(1);
    for i in 0..levels {
        v = if i % 2 == 0 {
            AV::L(vec![v])
        } else {
            AV::from(BTreeMap::from([("k".to_string(), v)]))
        };
    }
    v
}

/// A table keyed by `pk` (S) and `sk` (N) with an LSI on `tag` (S), holding three
/// items, one of them as deep as DynamoDB allows.
fn fixture() -> (Db, Table) {
    let db = Db::open("/db", DbOptions::small(Arc::new(FaultFs::new()))).unwrap();
    db.create_table(
        TableSpec::new(
            TABLE,
            KeySchema::composite("pk", KeyType::S, "sk", KeyType::N),
        )
        .lsi(LsiSpec::new("by_tag", "tag", KeyType::S)),
    )
    .unwrap();
    let t = db.table(TABLE).unwrap();
    for sk in 1..=3 {
        let mut it =
            item! { "pk" => "p", "sk" => sk, "tag" => format!("t{sk}"), "m" => item_map() };
        if sk == 1 {
            it.insert("d".to_string(), deep_value(31));
        }
        t.put_item(it, PutOptions::default()).unwrap();
    }
    (db, t)
}

/// A small map attribute (for updates of nested paths).
fn item_map() -> AV {
    AV::from(BTreeMap::from([("k".to_string(), AV::from(0))]))
}

/// Every item of the table and of its LSI, read page by page.
fn contents(t: &Table) -> (Vec<Item>, Vec<Item>) {
    let all = |index: Option<&str>| {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let mut opts = ScanOptions::default().limit(2).start_after(start);
            if let Some(i) = index {
                opts = opts.index(i);
            }
            let page = t.scan(opts).unwrap();
            items.extend(page.items);
            start = page.last_evaluated_key;
            if start.is_none() {
                return items;
            }
        }
    };
    (all(None), all(Some("by_tag")))
}

/// Checks that `r` is a validation error with a bounded message and that the table
/// still holds exactly `before`; returns the error.
#[track_caller]
fn rejected<T: std::fmt::Debug>(
    t: &Table,
    before: &(Vec<Item>, Vec<Item>),
    r: Result<T, DbError>,
) -> DbError {
    let e = match r {
        Ok(v) => panic!("accepted: {v:?}"),
        Err(e) => e,
    };
    assert!(e.is_validation(), "not a validation error: {e}");
    let msg = e.to_string();
    assert!(
        msg.len() <= MAX_MESSAGE,
        "message of {} bytes: {}…",
        msg.len(),
        msg.chars().take(200).collect::<String>()
    );
    assert!(contents(t) == *before, "the table changed after: {msg}");
    e
}

/// Checks that `e` says a value nests too deeply.
#[track_caller]
fn too_deep(e: &DbError) {
    assert!(e.to_string().contains(NESTING), "{e}");
}

fn values(pairs: &[(&str, AV)]) -> HashMap<String, AV> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn key(pk: AV, sk: AV) -> Item {
    let mut k = Item::new();
    k.insert("pk".to_string(), pk);
    k.insert("sk".to_string(), sk);
    k
}

/// The ways of giving a key that is invalid because of `bad` (in the partition key,
/// the sort key, or as an extra attribute), as maps and as [`PrimaryKey`]s.
fn bad_keys(bad: &AV) -> Vec<KeyInput> {
    let mut extra = key(AV::from("p"), AV::from(1));
    extra.insert("d".to_string(), bad.clone());
    vec![
        KeyInput::Map(key(bad.clone(), AV::from(1))),
        KeyInput::Map(key(AV::from("p"), bad.clone())),
        KeyInput::Map(extra),
        KeyInput::Key(PrimaryKey {
            partition: bad.clone(),
            sort: Some(AV::from(1)),
        }),
        KeyInput::Key(PrimaryKey {
            partition: AV::from("p"),
            sort: Some(bad.clone()),
        }),
    ]
}

/// The placeholders of a request.
#[derive(Default)]
struct Placeholders {
    names: HashMap<String, String>,
    values: HashMap<String, AV>,
}

/// Runs every operation that takes a condition or a filter (conditional put, delete
/// and update; query and scan filters) with the condition `cond()` and the
/// placeholders `p`. The query's key condition is typed, so that it adds none.
fn every_condition(
    t: &Table,
    cond: &dyn Fn() -> ConditionInput,
    p: &Placeholders,
) -> Vec<Result<(), DbError>> {
    let k = || key("p".into(), 1.into());
    vec![
        t.put_item(
            item! { "pk" => "p", "sk" => 9 },
            PutOptions {
                condition: Some(cond()),
                names: p.names.clone(),
                values: p.values.clone(),
                ..PutOptions::default()
            },
        )
        .map(drop),
        t.delete_item(
            k(),
            DeleteOptions {
                condition: Some(cond()),
                names: p.names.clone(),
                values: p.values.clone(),
                ..DeleteOptions::default()
            },
        )
        .map(drop),
        t.update_item(
            k(),
            UpdateOptions {
                update: Some("REMOVE x".into()),
                condition: Some(cond()),
                names: p.names.clone(),
                values: p.values.clone(),
                ..UpdateOptions::default()
            },
        )
        .map(drop),
        t.query(
            KeyConditionInput::partition("p"),
            QueryOptions {
                filter: Some(cond()),
                names: p.names.clone(),
                values: p.values.clone(),
                ..QueryOptions::default()
            },
        )
        .map(drop),
        t.scan(ScanOptions {
            filter: Some(cond()),
            names: p.names.clone(),
            values: p.values.clone(),
            ..ScanOptions::default()
        })
        .map(drop),
    ]
}

#[test]
fn items_may_nest_31_levels_but_not_32() {
    let (db, t) = fixture();
    on_small_stack(move || {
        let before = contents(&t);
        // The fixture's item 1 holds a value at level 32; it reads back through every read.
        let one = t
            .get_item(key("p".into(), 1.into()), GetOptions::default())
            .unwrap()
            .item
            .unwrap();
        assert!(one.get("d") == Some(&deep_value(31)));
        assert!(before.0.contains(&one));
        assert!(before.1.contains(&one));
        let page = t
            .query("pk = :p", QueryOptions::default().value(":p", "p"))
            .unwrap();
        assert_eq!(page.count, 3);
        assert!(page.items[0] == one);
        let page = t
            .query(
                "pk = :p AND tag = :t",
                QueryOptions::default()
                    .index("by_tag")
                    .value(":p", "p")
                    .value(":t", "t1"),
            )
            .unwrap();
        assert!(page.items == vec![one.clone()]);
        let projected = t
            .get_item(
                key("p".into(), 1.into()),
                GetOptions::default().projection("d[0].k[0].k"),
            )
            .unwrap()
            .item
            .unwrap();
        assert_eq!(projected.len(), 1);

        // 32 wrappers: level 33.
        let e = rejected(
            &t,
            &before,
            t.put_item(
                item! { "pk" => "p", "sk" => 9, "d" => deep_value(32) },
                PutOptions::default(),
            ),
        );
        assert!(
            matches!(e, DbError::Validation(ValidationError::TooDeep { .. })),
            "{e}"
        );
        too_deep(&e);
        // Deep inside a wide item.
        let mut wide = item! { "pk" => "p", "sk" => 9 };
        for i in 0..100 {
            wide.insert(format!("a{i}"), deep_value(if i == 57 { 32 } else { 31 }));
        }
        too_deep(&rejected(
            &t,
            &before,
            t.put_item(wide.clone(), PutOptions::default()),
        ));
        wide.insert("a57".to_string(), deep_value(31));
        t.put_item(wide.clone(), PutOptions::default()).unwrap();
        assert!(
            t.get_item(key("p".into(), 9.into()), GetOptions::default())
                .unwrap()
                .item
                == Some(wide)
        );
        t.delete_item(key("p".into(), 9.into()), DeleteOptions::default())
            .unwrap();
        assert!(contents(&t) == before);

        // An update may write a value at level 32, but not place one deeper.
        let set = |path: &str, v: AV| {
            t.update_item(
                key("p".into(), 2.into()),
                UpdateOptions::default()
                    .update(format!("SET {path} = :v"))
                    .value(":v", v),
            )
        };
        too_deep(&rejected(&t, &before, set("m.k", deep_value(31))));
        too_deep(&rejected(&t, &before, set("d", deep_value(32))));
        set("d", deep_value(31)).unwrap();
        let two = t
            .get_item(key("p".into(), 2.into()), GetOptions::default())
            .unwrap()
            .item
            .unwrap();
        assert!(two.get("d") == Some(&deep_value(31)));
    });
    db.close().unwrap();
}

/// Values at DynamoDB's depth limit, given and stored, are compared, copied and
/// returned by conditions, filters, updates and `ReturnValues` on a small stack.
#[test]
fn values_at_the_limit_are_evaluated_and_returned() {
    let (db, t) = fixture();
    on_small_stack(move || {
        let k = || key("p".into(), 1.into());
        let v = deep_value(31);
        let inner = match &v {
            AV::L(items) => items[0].clone(),
            other => panic!("{other:?}"),
        };
        let put = t
            .put_item(
                item! { "pk" => "p", "sk" => 1, "tag" => "t1", "d" => v.clone(), "m" => item_map() },
                PutOptions::default()
                    .condition("d = :v AND contains(d, :i) AND size(d) = :one")
                    .value(":v", v.clone())
                    .value(":i", inner.clone())
                    .value(":one", 1)
                    .return_values(strata_engine::ReturnValues::AllOld),
            )
            .unwrap();
        assert!(put.attributes.unwrap().get("d") == Some(&v));
        let page = t
            .query(
                "pk = :p",
                QueryOptions::default()
                    .value(":p", "p")
                    .filter("d IN (:x, :v) AND NOT d <> :v")
                    .value(":v", v.clone())
                    .value(":x", 1),
            )
            .unwrap();
        assert_eq!(page.count, 1);
        let out = t
            .update_item(
                k(),
                UpdateOptions::default()
                    .update("SET e = d, d = list_append(d, :l) REMOVE m")
                    .value(":l", AV::L(vec![inner.clone()]))
                    .return_values(strata_engine::ReturnValues::UpdatedNew),
            )
            .unwrap();
        let new = out.attributes.unwrap();
        assert!(new.get("e") == Some(&v));
        assert!(new.get("d") == Some(&AV::L(vec![inner.clone(), inner.clone()])));
        let out = t
            .delete_item(
                k(),
                DeleteOptions::default()
                    .condition("e = :v")
                    .value(":v", v.clone())
                    .return_values(strata_engine::ReturnValues::AllOld),
            )
            .unwrap();
        assert!(out.attributes.unwrap().get("e") == Some(&v));
    });
    db.close().unwrap();
}

#[test]
fn very_deep_items_are_rejected_by_every_write() {
    let (db, t) = fixture();
    on_small_stack(move || {
        let before = contents(&t);
        for levels in [32, 1_000, 100_000] {
            let deep = deep_value(levels);
            let item = item! { "pk" => "p", "sk" => 9, "d" => deep.clone() };
            too_deep(&rejected(
                &t,
                &before,
                t.put_item(item.clone(), PutOptions::default()),
            ));
            // As a key attribute, or as the LSI's key attribute.
            for (attr, what) in [("pk", "pk"), ("sk", "sk"), ("tag", "tag")] {
                let mut it = item! { "pk" => "p", "sk" => 9 };
                it.insert(attr.to_string(), deep.clone());
                let e = rejected(&t, &before, t.put_item(it, PutOptions::default()));
                assert!(e.to_string().contains(what), "{e}");
            }
            // In a batch, after valid puts to other partitions: nothing is written.
            let mut reqs: Vec<WriteRequest> = (10..20)
                .map(|sk| WriteRequest::Put(item! { "pk" => format!("q{sk}"), "sk" => sk }))
                .collect();
            reqs.push(WriteRequest::Put(item));
            too_deep(&rejected(
                &t,
                &before,
                t.db().batch_write_item([(TABLE, reqs)]),
            ));
        }
    });
    db.close().unwrap();
}

#[test]
fn deep_keys_are_rejected_by_every_keyed_operation() {
    let (db, t) = fixture();
    on_small_stack(move || {
        let before = contents(&t);
        for bad in [deep_value(31), deep_value(10_000), deep_value(100_000)] {
            for k in bad_keys(&bad) {
                let e = rejected(&t, &before, t.get_item(k.clone(), GetOptions::default()));
                assert!(matches!(e, DbError::Key(_)), "{e}");
                rejected(
                    &t,
                    &before,
                    t.delete_item(k.clone(), DeleteOptions::default()),
                );
                rejected(
                    &t,
                    &before,
                    t.update_item(
                        k.clone(),
                        UpdateOptions::default().update("SET x = :x").value(":x", 1),
                    ),
                );
                rejected(
                    &t,
                    &before,
                    t.db()
                        .batch_get_item([(TABLE, BatchGetRequest::keys([k.clone()]))]),
                );
                rejected(
                    &t,
                    &before,
                    t.db().batch_write_item([(
                        TABLE,
                        vec![
                            WriteRequest::Delete(key("p".into(), 2.into()).into()),
                            WriteRequest::Delete(k),
                        ],
                    )]),
                );
            }
        }
        // The key checks name the attribute, not its value.
        let e = rejected(
            &t,
            &before,
            t.get_item(key(deep_value(10_000), 1.into()), GetOptions::default()),
        );
        assert!(
            matches!(&e, DbError::Key(KeyError::TypeMismatch { name, .. }) if name == "pk"),
            "{e}"
        );
        assert!(e.to_string().len() < 200, "{e}");
    });
    db.close().unwrap();
}

#[test]
fn deep_start_keys_are_rejected_by_query_and_scan() {
    let (db, t) = fixture();
    on_small_stack(move || {
        let before = contents(&t);
        for bad in [deep_value(31), deep_value(100_000)] {
            let mut starts: Vec<Item> = bad_keys(&bad)
                .into_iter()
                .filter_map(|k| match k {
                    KeyInput::Map(m) => Some(m),
                    KeyInput::Key(_) => None,
                })
                .collect();
            // An LSI start key with a deep index key.
            let mut lsi_start = key("p".into(), 1.into());
            lsi_start.insert("tag".to_string(), bad.clone());
            for start in starts.drain(..) {
                rejected(
                    &t,
                    &before,
                    t.query(
                        "pk = :p",
                        QueryOptions::default()
                            .value(":p", "p")
                            .start_after(Some(start.clone())),
                    ),
                );
                rejected(
                    &t,
                    &before,
                    t.scan(ScanOptions::default().start_after(Some(start.clone()))),
                );
                let mut with_tag = start;
                with_tag.insert("tag".to_string(), AV::from("t1"));
                rejected(
                    &t,
                    &before,
                    t.scan(
                        ScanOptions::default()
                            .index("by_tag")
                            .start_after(Some(with_tag)),
                    ),
                );
            }
            rejected(
                &t,
                &before,
                t.query(
                    "pk = :p",
                    QueryOptions::default()
                        .index("by_tag")
                        .value(":p", "p")
                        .start_after(Some(lsi_start.clone())),
                ),
            );
            rejected(
                &t,
                &before,
                t.scan(
                    ScanOptions::default()
                        .index("by_tag")
                        .start_after(Some(lsi_start)),
                ),
            );
        }
    });
    db.close().unwrap();
}

#[test]
fn deep_expression_attribute_values_are_rejected_by_every_operation() {
    let (db, t) = fixture();
    on_small_stack(move || {
        let before = contents(&t);
        for levels in [32, 10_000] {
            let v = deep_value(levels);
            let k = || key("p".into(), 1.into());
            let vals = values(&[(":v", v.clone())]);
            let p = Placeholders {
                values: vals.clone(),
                ..Placeholders::default()
            };
            let mut results = Vec::new();
            for cond in [
                "a = :v",
                "contains(a, :v)",
                "size(a) > :v",
                "a BETWEEN :v AND :v",
                // Unused: still checked, before anything else looks at it.
                "attribute_exists(a)",
            ] {
                results.extend(every_condition(&t, &|| cond.into(), &p));
            }
            for update in [
                "SET d = :v",
                "SET d = list_append(:v, d)",
                "SET d = if_not_exists(d, :v)",
                "ADD n :v",
                "DELETE s :v",
            ] {
                let opts = UpdateOptions {
                    values: vals.clone(),
                    ..UpdateOptions::default().update(update)
                };
                results.push(t.update_item(k(), opts).map(drop));
            }
            for kc in [
                "pk = :v",
                "pk = :p AND sk = :v",
                "pk = :p AND begins_with(sk, :v)",
            ] {
                let mut q = QueryOptions {
                    values: vals.clone(),
                    ..QueryOptions::default()
                };
                if kc.contains(":p") {
                    q = q.value(":p", "p");
                }
                results.push(t.query(kc, q).map(drop));
            }
            for r in results {
                let e = rejected(&t, &before, r);
                assert!(matches!(e, DbError::Expression(_)), "{e}");
                too_deep(&e);
                assert!(e.to_string().ends_with("for key :v"), "{e}");
            }
        }
    });
    db.close().unwrap();
}

/// `n` `NOT`s before `attribute_exists(a)`.
fn nots(n: usize) -> String {
    format!("{}attribute_exists(a)", "NOT ".repeat(n))
}

#[test]
fn long_operator_chains_in_strings_are_too_many_operators() {
    let (db, t) = fixture();
    on_small_stack(move || {
        let before = contents(&t);
        let k = || key("p".into(), 1.into());
        let ands = vec!["a < b"; 400].join(" AND ");
        let parens = format!("{}a < b{}", "(".repeat(1500), ")".repeat(1500));
        for src in [nots(1_000), ands, parens] {
            assert!(src.len() <= expr::MAX_EXPRESSION_BYTES);
            let mut results =
                every_condition(&t, &|| src.as_str().into(), &Placeholders::default());
            results.push(t.query(src.as_str(), QueryOptions::default()).map(drop));
            for r in results {
                let e = rejected(&t, &before, r);
                assert!(matches!(e, DbError::Expression(_)), "{e}");
            }
        }
        // Exactly 300 operators pass (297 NOTs, a function, AND, <>). No item has `a`,
        // so an odd number of NOTs holds for every item but the one excluded by `tag`.
        let three_hundred = nots(297);
        let out = t
            .query(
                "pk = :p",
                QueryOptions::default()
                    .value(":p", "p")
                    .filter(format!("{three_hundred} AND tag <> :t"))
                    .value(":t", "t2"),
            )
            .unwrap();
        assert_eq!(out.count, 2);
        let nested_updates = format!(
            "SET a = {}b{}",
            "list_append(".repeat(500),
            ", c)".repeat(500)
        );
        rejected(
            &t,
            &before,
            t.update_item(k(), UpdateOptions::default().update(nested_updates)),
        );
    });
    db.close().unwrap();
}

/// Typed conditions no string could express: chains of 10,000 and 100,000 operators,
/// 100,000 nested `size()`s, a 100,000-element path, a deep value, 10,000 `IN` operands.
fn deep_typed_conditions() -> Vec<(&'static str, Condition)> {
    let leaf = || Condition::AttributeExists(AttributePath::new("a"));
    let mut not = leaf();
    for _ in 0..10_000 {
        not = Condition::Not(Box::new(not));
    }
    let mut chain = leaf();
    for i in 0..100_000 {
        chain = if i % 2 == 0 {
            Condition::And(Box::new(chain), Box::new(leaf()))
        } else {
            Condition::Or(Box::new(leaf()), Box::new(chain))
        };
    }
    let mut size = Operand::Path(AttributePath::new("a"));
    for _ in 0..100_000 {
        size = Operand::Size(Box::new(size));
    }
    let mut path = AttributePath::new("a");
    for i in 0..100_000 {
        path = if i % 2 == 0 {
            path.key("b")
        } else {
            path.index(0)
        };
    }
    vec![
        ("10,000 NOTs", not),
        ("100,000 ANDs and ORs", chain),
        (
            "100,000 size()s",
            Condition::Compare {
                op: Comparator::Gt,
                left: size,
                right: Operand::Value(AV::from(1)),
            },
        ),
        ("a 100,001-element path", Condition::AttributeExists(path)),
        (
            "a value 10,000 levels deep",
            Condition::Compare {
                op: Comparator::Eq,
                left: Operand::Path(AttributePath::new("a")),
                right: Operand::Value(deep_value(10_000)),
            },
        ),
        (
            "a value 32 levels deep in IN",
            Condition::In {
                operand: Operand::Path(AttributePath::new("a")),
                list: vec![Operand::Value(AV::from(1)), Operand::Value(deep_value(32))],
            },
        ),
        (
            "10,000 IN operands",
            Condition::In {
                operand: Operand::Path(AttributePath::new("a")),
                list: (0..10_000).map(|i| Operand::Value(AV::from(i))).collect(),
            },
        ),
        (
            "an empty set",
            Condition::Contains {
                operand: Operand::Path(AttributePath::new("a")),
                value: Operand::Value(AV::Ss(BTreeSet::new())),
            },
        ),
        (
            "an empty name",
            Condition::AttributeExists(AttributePath::new("")),
        ),
    ]
}

#[test]
fn typed_conditions_and_filters_of_any_depth_are_rejected() {
    let (db, t) = fixture();
    on_small_stack(move || {
        let before = contents(&t);
        for (what, c) in deep_typed_conditions() {
            let results = every_condition(
                &t,
                &|| ConditionInput::Typed(copy_condition(&c)),
                &Placeholders::default(),
            );
            for r in results {
                let e = rejected(&t, &before, r);
                assert!(matches!(e, DbError::Expression(_)), "{what}: {e}");
            }
        }
    });
    db.close().unwrap();
}

/// Copies an operand with a loop over `size()` nesting (the derived `Clone` recurses
/// once per level: it is only for inputs that passed their checks).
fn copy_operand(o: &Operand) -> Operand {
    let mut sizes = 0;
    let mut o = o;
    while let Operand::Size(inner) = o {
        sizes += 1;
        o = inner;
    }
    let mut out = match o {
        Operand::Path(p) => Operand::Path(p.clone()),
        Operand::Value(v) => Operand::Value(v.clone()),
        Operand::Size(_) => unreachable!(),
    };
    for _ in 0..sizes {
        out = Operand::Size(Box::new(out));
    }
    out
}

/// Copies a condition whose `NOT`/`AND`/`OR` nodes form a chain (each has at most one
/// non-leaf child), as every condition of [`deep_typed_conditions`] does, with a loop:
/// one 100,000-level input can then be given to several operations.
fn copy_condition(c: &Condition) -> Condition {
    enum Step {
        Not,
        AndLeft(Condition),
        OrRight(Condition),
    }
    let mut steps = Vec::new();
    let mut c = c;
    let leaf = loop {
        match c {
            Condition::Not(x) => {
                steps.push(Step::Not);
                c = x;
            }
            Condition::And(a, b) => {
                steps.push(Step::AndLeft(copy_condition(b)));
                c = a;
            }
            Condition::Or(a, b) => {
                steps.push(Step::OrRight(copy_condition(a)));
                c = b;
            }
            Condition::Compare { op, left, right } => {
                break Condition::Compare {
                    op: *op,
                    left: copy_operand(left),
                    right: copy_operand(right),
                };
            }
            Condition::In { operand, list } => {
                break Condition::In {
                    operand: copy_operand(operand),
                    list: list.iter().map(copy_operand).collect(),
                };
            }
            Condition::Contains { operand, value } => {
                break Condition::Contains {
                    operand: copy_operand(operand),
                    value: copy_operand(value),
                };
            }
            Condition::AttributeExists(p) => break Condition::AttributeExists(p.clone()),
            other => panic!("not used here: {other:?}"),
        }
    };
    let mut out = leaf;
    while let Some(step) = steps.pop() {
        out = match step {
            Step::Not => Condition::Not(Box::new(out)),
            Step::AndLeft(b) => Condition::And(Box::new(out), Box::new(b)),
            Step::OrRight(a) => Condition::Or(Box::new(a), Box::new(out)),
        };
    }
    out
}

#[test]
fn typed_key_conditions_with_deep_values_are_rejected() {
    let (db, t) = fixture();
    on_small_stack(move || {
        let before = contents(&t);
        let deep = || deep_value(10_000);
        let conds = vec![
            KeyCondition {
                partition: deep(),
                sort: None,
            },
            KeyCondition {
                partition: "p".into(),
                sort: Some(SortKeyCondition::Eq(deep())),
            },
            KeyCondition {
                partition: "p".into(),
                sort: Some(SortKeyCondition::BeginsWith(AV::L(vec![deep()]))),
            },
            KeyCondition {
                partition: "p".into(),
                sort: Some(SortKeyCondition::Between(deep(), deep())),
            },
            KeyCondition {
                partition: deep_value(32),
                sort: Some(SortKeyCondition::Lt(1.into())),
            },
        ];
        for kc in conds {
            too_deep(&rejected(&t, &before, t.query(kc, QueryOptions::default())));
        }
        // Scalars of the wrong type are a type error, not a crash either.
        let e = rejected(
            &t,
            &before,
            t.query(
                KeyCondition {
                    partition: deep_value(31),
                    sort: None,
                },
                QueryOptions::default(),
            ),
        );
        assert!(e.to_string().contains("type"), "{e}");
    });
    db.close().unwrap();
}

/// Makes the same projection input again for each operation.
type MakeProjection = Box<dyn Fn() -> ProjectionInput>;

#[test]
fn long_and_deep_projections_are_rejected() {
    let (db, t) = fixture();
    on_small_stack(move || {
        let before = contents(&t);
        let k = || key("p".into(), 1.into());
        let dotted = vec!["a"; 2_000].join(".");
        let indexed = format!("a{}", "[0]".repeat(1_300));
        let mut long = AttributePath::new("a");
        for i in 0..100_000 {
            long = if i % 2 == 0 {
                long.index(0)
            } else {
                long.key("b")
            };
        }
        let projections: Vec<(&str, MakeProjection)> = vec![
            (
                "a 2,000-name string path",
                Box::new(move || dotted.as_str().into()),
            ),
            (
                "a 1,301-element string path",
                Box::new(move || indexed.as_str().into()),
            ),
            (
                "a 100,001-element typed path",
                Box::new(move || ProjectionInput::Typed(Projection::new(vec![long.clone()]))),
            ),
            (
                "an empty typed projection",
                Box::new(|| ProjectionInput::Typed(Projection::new(Vec::new()))),
            ),
            (
                "overlapping typed paths",
                Box::new(|| {
                    let mut paths: Vec<AttributePath> = (0..5_000)
                        .map(|i| AttributePath::new(format!("a{i}")))
                        .collect();
                    paths.push(AttributePath::new("a4711").key("x"));
                    ProjectionInput::Typed(Projection::new(paths))
                }),
            ),
            (
                "an empty typed name",
                Box::new(|| ProjectionInput::attributes([""])),
            ),
        ];
        for (what, p) in projections {
            let results: Vec<Result<(), DbError>> = vec![
                t.get_item(k(), GetOptions::default().projection(p()))
                    .map(drop),
                t.query(
                    "pk = :p",
                    QueryOptions::default().value(":p", "p").projection(p()),
                )
                .map(drop),
                t.scan(ScanOptions::default().projection(p())).map(drop),
                t.db()
                    .batch_get_item([(
                        TABLE,
                        BatchGetRequest {
                            projection: Some(p()),
                            ..BatchGetRequest::keys([k()])
                        },
                    )])
                    .map(drop),
            ];
            for r in results {
                let e = rejected(&t, &before, r);
                assert!(matches!(e, DbError::Expression(_)), "{what}: {e}");
            }
        }
        // 100,000 distinct top-level paths are a valid projection; it applies to deep
        // items without recursing.
        let many = || {
            ProjectionInput::Typed(Projection::new(
                (0..100_000)
                    .map(|i| AttributePath::new(format!("a{i}")))
                    .chain([AttributePath::new("d")])
                    .collect(),
            ))
        };
        let got = t
            .get_item(k(), GetOptions::default().projection(many()))
            .unwrap()
            .item
            .unwrap();
        assert!(got == item! { "d" => deep_value(31) });
        let page = t.scan(ScanOptions::default().projection(many())).unwrap();
        assert_eq!(page.count, 3);
    });
    db.close().unwrap();
}

#[test]
fn empty_sets_and_empty_names_are_rejected_by_every_operation() {
    let (db, t) = fixture();
    on_small_stack(move || {
        let before = contents(&t);
        let k = || key("p".into(), 1.into());
        let empty_sets = [
            AV::Ss(BTreeSet::new()),
            AV::Ns(BTreeSet::new()),
            AV::Bs(BTreeSet::new()),
            AV::L(vec![AV::Ss(BTreeSet::new())]),
            AV::from(BTreeMap::from([("k".to_string(), AV::Ns(BTreeSet::new()))])),
        ];
        for set in empty_sets {
            let vals = values(&[(":s", set)]);
            let p = Placeholders {
                values: vals.clone(),
                ..Placeholders::default()
            };
            let mut results = Vec::new();
            for cond in ["contains(a, :s)", "a <> :s", "attribute_exists(a)"] {
                results.extend(every_condition(&t, &|| cond.into(), &p));
            }
            for update in ["ADD s :s", "DELETE s :s", "SET s = :s", "REMOVE s"] {
                let opts = UpdateOptions {
                    values: vals.clone(),
                    ..UpdateOptions::default().update(update)
                };
                results.push(t.update_item(k(), opts).map(drop));
            }
            for r in results {
                let e = rejected(&t, &before, r);
                assert!(matches!(e, DbError::Expression(_)), "{e}");
                let msg = e.to_string();
                assert!(msg.contains("may not be empty for key :s"), "{msg}");
            }
        }

        let want =
            "ExpressionAttributeNames contains invalid value: Empty attribute name for key #e";
        let empty_name = || HashMap::from([("#e".to_string(), String::new())]);
        let p = Placeholders {
            names: empty_name(),
            ..Placeholders::default()
        };
        let mut results = every_condition(&t, &|| "attribute_exists(#e)".into(), &p);
        results.extend([
            t.update_item(
                k(),
                UpdateOptions {
                    names: empty_name(),
                    ..UpdateOptions::default().update("REMOVE #e")
                },
            )
            .map(drop),
            t.get_item(
                k(),
                GetOptions {
                    names: empty_name(),
                    ..GetOptions::default().projection("#e")
                },
            )
            .map(drop),
            t.query(
                "pk = :p",
                QueryOptions {
                    names: empty_name(),
                    ..QueryOptions::default().value(":p", "p").projection("#e")
                },
            )
            .map(drop),
            t.query(
                "#e = :p",
                QueryOptions {
                    names: empty_name(),
                    ..QueryOptions::default().value(":p", "p")
                },
            )
            .map(drop),
            t.db()
                .batch_get_item([(
                    TABLE,
                    BatchGetRequest {
                        projection: Some("#e".into()),
                        names: empty_name(),
                        ..BatchGetRequest::keys([k()])
                    },
                )])
                .map(drop),
        ]);
        for r in results {
            let e = rejected(&t, &before, r);
            assert_eq!(e.to_string(), want);
        }
    });
    db.close().unwrap();
}

#[test]
fn items_from_dynamodb_json_nest_as_deep_as_dynamodb_allows() {
    let (db, t) = fixture();
    on_small_stack(move || {
        let before = contents(&t);
        let json = |levels: usize| {
            format!(
                "{{\"pk\": {{\"S\": \"p\"}}, \"sk\": {{\"N\": \"9\"}}, \"d\": {}{{\"NULL\": true}}{}}}",
                "{\"L\": [".repeat(levels),
                "]}".repeat(levels)
            )
        };
        // Past DynamoDB's depth, and past serde_json's own recursion limit.
        for levels in [32, 10_000] {
            assert!(Item::from_dynamo_json_str(&json(levels)).is_err());
        }
        // At DynamoDB's depth: stored and read back.
        let item = Item::from_dynamo_json_str(&json(31)).unwrap();
        t.put_item(item.clone(), PutOptions::default()).unwrap();
        let got = t
            .get_item(key("p".into(), 9.into()), GetOptions::default())
            .unwrap()
            .item
            .unwrap();
        assert!(got == item);
        assert!(Item::from_dynamo_json_str(&got.to_dynamo_json().to_string()).unwrap() == item);
        t.delete_item(key("p".into(), 9.into()), DeleteOptions::default())
            .unwrap();
        assert!(contents(&t) == before);
    });
    db.close().unwrap();
}

/// Asserts that every result is a validation error, lists the ones whose message is
/// over [`MAX_MESSAGE`], and checks that the table is unchanged.
fn long_messages(
    t: &Table,
    before: &(Vec<Item>, Vec<Item>),
    results: Vec<(&str, Result<(), DbError>)>,
) -> Vec<String> {
    let mut long = Vec::new();
    for (what, r) in results {
        let e = match r {
            Ok(()) => panic!("{what}: accepted"),
            Err(e) => e,
        };
        assert!(e.is_validation(), "{what}: {e}");
        let n = e.to_string().len();
        if n > MAX_MESSAGE {
            long.push(format!("{what}: {n} bytes"));
        }
    }
    assert!(contents(t) == *before);
    long
}

#[test]
fn rejections_of_large_inputs_do_not_echo_them() {
    let (db, t) = fixture();
    on_small_stack(move || {
        let before = contents(&t);
        let huge = "x".repeat(100_000);
        let name = || AttributePath::new(huge.clone());
        let mut deep_path = name();
        for _ in 0..40 {
            deep_path = deep_path.key(huge.clone());
        }
        let results: Vec<(&str, Result<(), DbError>)> = vec![
            (
                "a 100 KB name with an empty set in a typed filter",
                t.scan(ScanOptions::default().filter(Condition::In {
                    operand: Operand::Path(name()),
                    list: vec![Operand::Value(AV::Ss(BTreeSet::new()))],
                }))
                .map(drop),
            ),
            (
                "a typed path of 41 100 KB names",
                t.scan(ScanOptions::default().filter(Condition::AttributeExists(deep_path)))
                    .map(drop),
            ),
            (
                "a 100 KB partition key",
                t.put_item(
                    item! { "pk" => huge.clone(), "sk" => 1 },
                    PutOptions::default(),
                )
                .map(drop),
            ),
            (
                "a 100 KB index name",
                t.query(
                    "pk = :p",
                    QueryOptions::default().value(":p", "p").index(huge.clone()),
                )
                .map(drop),
            ),
            (
                "a 100 KB partition key in a start key",
                t.scan(
                    ScanOptions::default().start_after(Some(key(AV::S(huge.clone()), 1.into()))),
                )
                .map(drop),
            ),
            (
                "a 100 KB table name in a batch",
                t.db()
                    .batch_get_item([(
                        huge.clone(),
                        BatchGetRequest::keys([key("p".into(), 1.into())]),
                    )])
                    .map(drop),
            ),
            ("a 100 KB table name", t.db().table(&huge).map(drop)),
            (
                "a 100 KB table name to describe",
                t.db().describe_table(&huge).map(drop),
            ),
            (
                "a 100 KB table name to delete",
                t.db().delete_table(&huge).map(drop),
            ),
            (
                "a 100 KB table name to create",
                t.db()
                    .create_table(TableSpec::new(
                        huge.clone(),
                        KeySchema::simple("pk", KeyType::S),
                    ))
                    .map(drop),
            ),
        ];
        let long = long_messages(&t, &before, results);
        assert!(long.is_empty(), "messages too long: {long:#?}");
    });
    db.close().unwrap();
}

/// Errors of `strata-item` that quote caller input (placeholder keys, the lists of
/// unused placeholders, item paths made of long attribute names, overlapping paths)
/// quote it cut to a fixed size (`strata_item::echo`).
#[test]
fn item_errors_do_not_echo_large_inputs() {
    let (db, t) = fixture();
    on_small_stack(move || {
        let before = contents(&t);
        let k = || key("p".into(), 1.into());
        let huge = "x".repeat(100_000);
        let mut unused_values = UpdateOptions::default().update("SET x = :x").value(":x", 1);
        let mut unused_names = QueryOptions::default().value(":p", "p");
        for i in 0..10_000 {
            let long = "y".repeat(50);
            unused_values = unused_values.value(format!(":unused{i}_{long}"), i);
            unused_names = unused_names.name(format!("#unused{i}_{long}"), "a");
        }
        let mut too_deep = AV::from(1);
        for i in 0..40 {
            too_deep = AV::from(BTreeMap::from([(
                format!("{i}{}", "n".repeat(60_000)),
                too_deep,
            )]));
        }
        let empty_set = AV::from(BTreeMap::from([(
            "n".repeat(60_000),
            AV::from(BTreeMap::from([(
                "m".repeat(60_000),
                AV::Ss(BTreeSet::new()),
            )])),
        )]));
        let name = || AttributePath::new(huge.clone());
        let results: Vec<(&str, Result<(), DbError>)> = vec![
            (
                "a 100 KB value placeholder",
                t.put_item(
                    item! { "pk" => "p", "sk" => 9 },
                    PutOptions::default().value(format!(":{huge}-"), 1),
                )
                .map(drop),
            ),
            (
                "a 100 KB name placeholder",
                t.get_item(k(), GetOptions::default().name(format!("#{huge}-"), "a"))
                    .map(drop),
            ),
            (
                "10,000 unused values",
                t.update_item(k(), unused_values).map(drop),
            ),
            (
                "10,000 unused names",
                t.query("pk = :p", unused_names).map(drop),
            ),
            (
                "a too-deep value under 60 KB names",
                t.put_item(
                    item! { "pk" => "p", "sk" => 9, "d" => too_deep },
                    PutOptions::default(),
                )
                .map(drop),
            ),
            (
                "an empty set under 60 KB names",
                t.put_item(
                    item! { "pk" => "p", "sk" => 9, "d" => empty_set },
                    PutOptions::default(),
                )
                .map(drop),
            ),
            (
                "overlapping 100 KB names in a typed projection",
                t.get_item(
                    k(),
                    GetOptions::default().projection(ProjectionInput::Typed(Projection::new(
                        vec![name(), name().key("b")],
                    ))),
                )
                .map(drop),
            ),
            (
                "overlapping 100 KB names in an update",
                t.update_item(
                    k(),
                    UpdateOptions::default()
                        .update("SET #a = :x, #a.b = :x")
                        .name("#a", huge.clone())
                        .value(":x", 1),
                )
                .map(drop),
            ),
        ];
        let long = long_messages(&t, &before, results);
        assert!(long.is_empty(), "messages too long: {long:#?}");
    });
    db.close().unwrap();
}

/// A condition given as a string and the same condition built in Rust get the same
/// answer from a write (both evaluated, neither merely parsed).
#[test]
fn typed_and_string_conditions_are_rejected_alike() {
    let (db, t) = fixture();
    on_small_stack(move || {
        let before = contents(&t);
        let none = HashMap::new();
        let no_values = HashMap::new();
        for src in [nots(300), nots(299), "a IN (a, a)".to_string()] {
            let parsed = expr::parse_condition(&src, &none, &no_values);
            let string = t.put_item(
                item! { "pk" => "p", "sk" => 1 },
                PutOptions::default().condition(src.as_str()),
            );
            match parsed {
                Ok(c) => {
                    let typed = t.put_item(
                        item! { "pk" => "p", "sk" => 1 },
                        PutOptions::default().condition(c),
                    );
                    assert_eq!(
                        string.as_ref().map(drop).map_err(ToString::to_string),
                        typed.as_ref().map(drop).map_err(ToString::to_string),
                        "{src}"
                    );
                }
                Err(pe) => {
                    let e = rejected(&t, &before, string);
                    assert_eq!(e.to_string(), pe.to_string());
                    // 300 NOTs around a leaf are 300 operators in Rust too.
                    if let ExprError::TooManyOperators { .. } = pe {
                        let mut c = Condition::AttributeExists(AttributePath::new("a"));
                        for _ in 0..300 {
                            c = Condition::Not(Box::new(c));
                        }
                        let typed = rejected(
                            &t,
                            &before,
                            t.put_item(
                                item! { "pk" => "p", "sk" => 1 },
                                PutOptions::default().condition(c),
                            ),
                        );
                        assert_eq!(typed.to_string(), e.to_string());
                    }
                }
            }
        }
    });
    db.close().unwrap();
}
