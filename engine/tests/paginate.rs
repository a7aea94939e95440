//! Paginators (`Table::query_iter`, `Table::scan_iter`, `.pages()`) against a model:
//! every combination of page limit, filter and order gives the model's items in the
//! model's order; pages add up (counts, scanned counts), an empty page is yielded by
//! `.pages()` and skipped by the item iterator; errors end the iteration.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata_engine::{
    Db, DbError, GsiSpec, LsiSpec, PutOptions, QueryOptions, ScanOptions, Table, TableSpec,
};
use strata_item::{Item, KeySchema, KeyType, item};

/// (pk, sk) -> (v, g): v is the LSI key (distinct within a pk; `w` holds the same
/// value), g the GSI key.
type Model = BTreeMap<(String, i64), (i64, String)>;

fn setup() -> (Db, Table, Model) {
    let db = Db::open_in_memory().unwrap();
    db.create_table(
        TableSpec::new(
            "tbl",
            KeySchema::composite("pk", KeyType::S, "sk", KeyType::N),
        )
        .partitions(3)
        .lsi(LsiSpec::new("by_v", "v", KeyType::N))
        .gsi(GsiSpec::new(
            "by_g",
            KeySchema::composite("g", KeyType::S, "sk", KeyType::N),
        )),
    )
    .unwrap();
    let t = db.table("tbl").unwrap();
    let mut rng = StdRng::seed_from_u64(15);
    let mut model = Model::new();
    for p in 0..4 {
        let pk = format!("p{p}");
        let n = [0, 1, 17, 40][p];
        let mut vs: Vec<i64> = (0..n).map(|i| i * 3).collect();
        for i in (1..vs.len()).rev() {
            vs.swap(i, rng.random_range(0..=i));
        }
        for (sk, v) in (0..).zip(vs) {
            let g = ["x", "y", "z"][rng.random_range(0..3)].to_string();
            t.put_item(
                item! { "pk" => pk.clone(), "sk" => sk, "v" => v, "w" => v, "g" => g.clone() },
                PutOptions::default(),
            )
            .unwrap();
            model.insert((pk.clone(), sk), (v, g));
        }
    }
    db.wait_for_indexes("tbl", Duration::from_secs(30)).unwrap();
    (db, t, model)
}

fn key_of(i: &Item) -> (String, i64) {
    (
        i.get("pk").unwrap().as_s().unwrap().to_owned(),
        i.get("sk")
            .unwrap()
            .as_n()
            .unwrap()
            .to_string()
            .parse()
            .unwrap(),
    )
}

fn passes(v: i64, filtered: bool) -> bool {
    !filtered || v % 5 == 0
}

/// The filter `passes` models, on `w` (a copy of `v`, which as the LSI's key cannot be
/// filtered on): v is a multiple of 3 below 120, so a multiple of 5 is one of these.
fn multiple_of_5(opts: QueryOptions) -> QueryOptions {
    let mut opts = opts.filter("w IN (:a, :b, :c, :d, :e, :f, :g, :h)");
    for (p, v) in ["a", "b", "c", "d", "e", "f", "g", "h"]
        .iter()
        .zip((0..).step_by(15))
    {
        opts = opts.value(format!(":{p}"), v);
    }
    opts
}

/// `opts` with the filter (`set`) when `filtered`, and the limit.
fn with<O>(
    opts: O,
    limit: Option<usize>,
    filtered: bool,
    set: impl Fn(O) -> O,
    lim: impl Fn(O, usize) -> O,
) -> O {
    let opts = if filtered { set(opts) } else { opts };
    match limit {
        Some(n) => lim(opts, n),
        None => opts,
    }
}

/// Checks the pages of one request against the expected items (in order), and that
/// the item iterator gives the same items. Returns how many empty pages there were.
fn check_pages(
    pages: Vec<strata_engine::QueryOutput>,
    items: Vec<Item>,
    expected: &[(String, i64)],
    limit: Option<usize>,
    read: usize,
) -> usize {
    let from_pages: Vec<(String, i64)> = pages
        .iter()
        .flat_map(|p| p.items.iter().map(key_of))
        .collect();
    assert_eq!(from_pages, expected);
    assert_eq!(items.iter().map(key_of).collect::<Vec<_>>(), expected);
    assert_eq!(pages.iter().map(|p| p.count).sum::<usize>(), expected.len());
    assert_eq!(pages.iter().map(|p| p.scanned_count).sum::<usize>(), read);
    let (last, rest) = pages.split_last().unwrap();
    assert!(last.last_evaluated_key.is_none() || last.scanned_count == 0);
    for p in rest {
        assert!(p.last_evaluated_key.is_some());
        if let Some(n) = limit {
            assert_eq!(p.scanned_count, n);
        }
    }
    for p in &pages {
        assert!(p.consumed_capacity.capacity_units > 0.0, "{p:?}");
    }
    pages.iter().filter(|p| p.items.is_empty()).count()
}

#[test]
fn queries_follow_the_model_with_limits_filters_and_reverse_order() {
    let (_db, t, model) = setup();
    let mut empty_pages = 0;
    for pk in ["p0", "p1", "p2", "p3", "absent"] {
        for index in [None, Some("by_v")] {
            for limit in [None, Some(1), Some(2), Some(3), Some(7), Some(100)] {
                for filtered in [false, true] {
                    for reverse in [false, true] {
                        let mut rows: Vec<(i64, (String, i64))> = model
                            .iter()
                            .filter(|((p, _), _)| p == pk)
                            .map(|(k, (v, _))| (if index.is_some() { *v } else { k.1 }, k.clone()))
                            .collect();
                        rows.sort();
                        if reverse {
                            rows.reverse();
                        }
                        let read = rows.len();
                        let expected: Vec<(String, i64)> = rows
                            .into_iter()
                            .filter(|(_, k)| passes(model[k].0, filtered))
                            .map(|(_, k)| k)
                            .collect();
                        let mut opts = QueryOptions::default().value(":p", pk);
                        if let Some(i) = index {
                            opts = opts.index(i);
                        }
                        if reverse {
                            opts = opts.reverse();
                        }
                        let opts = with(opts, limit, filtered, multiple_of_5, QueryOptions::limit);
                        let pages: Vec<_> = t
                            .query_iter("pk = :p", opts.clone())
                            .pages()
                            .collect::<Result<_, _>>()
                            .unwrap();
                        let items: Vec<_> = t
                            .query_iter("pk = :p", opts)
                            .collect::<Result<_, _>>()
                            .unwrap();
                        empty_pages += check_pages(pages, items, &expected, limit, read);
                    }
                }
            }
        }
    }
    // Small limits with the filter do give empty pages (and they were checked).
    assert!(empty_pages > 0);
}

#[test]
fn scans_of_the_table_and_the_indexes_follow_the_model() {
    let (_db, t, model) = setup();
    for index in [None, Some("by_v"), Some("by_g")] {
        for limit in [None, Some(1), Some(4), Some(9)] {
            for filtered in [false, true] {
                let mut opts = ScanOptions::default();
                if let Some(i) = index {
                    opts = opts.index(i);
                }
                let opts = with(
                    opts,
                    limit,
                    filtered,
                    |o| o.filter("#g = :x").name("#g", "g").value(":x", "x"),
                    ScanOptions::limit,
                );
                let mut got: Vec<(String, i64)> = t
                    .scan_iter(opts.clone())
                    .map(|r| key_of(&r.unwrap()))
                    .collect();
                got.sort();
                let expected: Vec<(String, i64)> = model
                    .iter()
                    .filter(|(_, (_, g))| !filtered || g == "x")
                    .map(|(k, _)| k.clone())
                    .collect();
                assert_eq!(
                    got, expected,
                    "index {index:?} limit {limit:?} filtered {filtered}"
                );
                let pages: Vec<_> = t.scan_iter(opts).pages().collect::<Result<_, _>>().unwrap();
                assert_eq!(
                    pages.iter().map(|p| p.scanned_count).sum::<usize>(),
                    model.len()
                );
                if let Some(n) = limit {
                    assert!(pages.iter().all(|p| p.scanned_count <= n));
                }
            }
        }
    }
}

#[test]
fn a_gsi_query_pages_through_every_entry() {
    let (_db, t, model) = setup();
    for g in ["x", "y", "z"] {
        let mut expected: Vec<(i64, String)> = model
            .iter()
            .filter(|(_, (_, gg))| gg == g)
            .map(|((p, s), _)| (*s, p.clone()))
            .collect();
        expected.sort();
        let got: Vec<(i64, String)> = t
            .query_iter(
                "g = :g",
                QueryOptions::default()
                    .index("by_g")
                    .value(":g", g)
                    .limit(2),
            )
            .map(|r| {
                let (p, s) = key_of(&r.unwrap());
                (s, p)
            })
            .collect();
        // Within one sort key value the order of base keys is the index's; compare
        // the sort keys in order and the whole as sets.
        let sks: Vec<i64> = got.iter().map(|(s, _)| *s).collect();
        assert!(sks.windows(2).all(|w| w[0] <= w[1]), "{sks:?}");
        let mut sorted = got.clone();
        sorted.sort();
        assert_eq!(sorted, expected);
    }
}

#[test]
fn an_error_is_yielded_once_and_ends_the_iteration() {
    let (_db, t, _) = setup();
    let mut it = t.query_iter(
        "pk = :p",
        QueryOptions::default().index("nope").value(":p", "p3"),
    );
    assert!(matches!(
        it.next(),
        Some(Err(DbError::IndexNotFound { .. }))
    ));
    assert!(it.next().is_none());
    let mut pages = t.scan_iter(ScanOptions::default().limit(0)).pages();
    assert!(matches!(pages.next(), Some(Err(e)) if e.is_validation()));
    assert!(pages.next().is_none());
}

#[test]
fn a_start_key_and_take_work_as_with_query() {
    let (_db, t, model) = setup();
    let start = item! { "pk" => "p3", "sk" => 9 };
    let got: Vec<i64> = t
        .query_iter(
            "pk = :p",
            QueryOptions::default()
                .value(":p", "p3")
                .limit(4)
                .start_after(Some(start)),
        )
        .take(6)
        .map(|r| key_of(&r.unwrap()).1)
        .collect();
    assert_eq!(got, vec![10, 11, 12, 13, 14, 15]);
    assert!(model.contains_key(&("p3".to_string(), 15)));
}
