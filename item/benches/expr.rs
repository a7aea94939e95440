//! Expression parsing and evaluation.
//!
//! Workload: one ~1 KB item (13 attributes: strings, numbers, a binary, a list, a
//! nested map, a string set). Condition
//! `attribute_exists(#a) AND #b > :x AND begins_with(#c, :p)` parsed with its
//! placeholders and evaluated; an update with SET (+, list_append), REMOVE and ADD
//! parsed and applied; a three-path projection applied.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use strata_item::expr::Substitutions;
use strata_item::{AttributeValue, Item};

fn one_kb_item() -> Item {
    let address = AttributeValue::from(BTreeMap::from([
        (
            "street".to_string(),
            AttributeValue::from("221B Baker Street"),
        ),
        ("city".to_string(), AttributeValue::from("London")),
        ("zip".to_string(), AttributeValue::from("NW1 6XE")),
        ("floor".to_string(), AttributeValue::from(2)),
    ]));
    let counters = AttributeValue::from(BTreeMap::from([
        ("hits".to_string(), AttributeValue::from(41)),
        ("misses".to_string(), AttributeValue::from(3)),
    ]));
    let item = Item::builder()
        .attr("pk", "customer#000123456")
        .attr("sk", "order#2024-06-01T12:34:56Z#8812")
        .attr("status", "SHIPPED")
        .attr("total", 1234)
        .attr("quantity", 17)
        .attr("gift", false)
        .attr("thumbnail", vec![0xA5u8; 160])
        .attr("notes", "Leave at the door. ".repeat(28))
        .attr(
            "items",
            (0..8)
                .map(|i| AttributeValue::from(format!("sku-{i:06}")))
                .collect::<Vec<_>>(),
        )
        .attr("address", address)
        .attr("counters", counters)
        .attr("tmp", "scratch")
        .attr(
            "tags",
            AttributeValue::string_set(["priority", "fragile", "international"]),
        )
        .build();
    assert!(item.size() > 900 && item.size() < 1200, "{}", item.size());
    item
}

fn bench(c: &mut Criterion) {
    let item = one_kb_item();
    let names = HashMap::from([
        ("#a".to_string(), "status".to_string()),
        ("#b".to_string(), "total".to_string()),
        ("#c".to_string(), "sk".to_string()),
    ]);
    let values = HashMap::from([
        (":x".to_string(), AttributeValue::from(1000)),
        (":p".to_string(), AttributeValue::from("order#2024-")),
    ]);
    let cond_src = "attribute_exists(#a) AND #b > :x AND begins_with(#c, :p)";

    let mut g = c.benchmark_group("expr");
    g.bench_function("condition_parse", |b| {
        b.iter(|| {
            let mut subs = Substitutions::new(&names, &values);
            let cond = subs.parse_condition(black_box(cond_src)).unwrap();
            subs.check_all_used().unwrap();
            cond
        })
    });
    let cond = Substitutions::new(&names, &values)
        .parse_condition(cond_src)
        .unwrap();
    assert!(cond.evaluate(&item).unwrap());
    g.bench_function("condition_evaluate", |b| {
        b.iter(|| cond.evaluate(black_box(&item)).unwrap())
    });
    g.bench_function("condition_parse_and_evaluate", |b| {
        b.iter(|| {
            let mut subs = Substitutions::new(&names, &values);
            let cond = subs.parse_condition(black_box(cond_src)).unwrap();
            cond.evaluate(black_box(&item)).unwrap()
        })
    });

    let unames = HashMap::from([
        ("#q".to_string(), "quantity".to_string()),
        ("#i".to_string(), "items".to_string()),
    ]);
    let uvalues = HashMap::from([
        (":one".to_string(), AttributeValue::from(1)),
        (
            ":more".to_string(),
            AttributeValue::L(vec![AttributeValue::from("sku-000099")]),
        ),
    ]);
    let update_src =
        "SET #q = #q + :one, #i = list_append(#i, :more) REMOVE tmp ADD counters.hits :one";
    g.bench_function("update_parse", |b| {
        b.iter(|| {
            Substitutions::new(&unames, &uvalues)
                .parse_update(black_box(update_src))
                .unwrap()
        })
    });
    let update = Substitutions::new(&unames, &uvalues)
        .parse_update(update_src)
        .unwrap();
    g.bench_function("update_apply", |b| {
        b.iter(|| update.apply(black_box(&item)).unwrap())
    });

    let projection = Substitutions::none()
        .parse_projection("pk, address.city, notes")
        .unwrap();
    g.bench_function("projection_apply", |b| {
        b.iter(|| projection.apply(black_box(&item)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
