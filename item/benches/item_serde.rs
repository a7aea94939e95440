//! The serde mapping: `to_item` / `from_item` of an application struct.
//!
//! Workload: an order record with 8 fields (strings, a decimal as `Number`, integers, an
//! `Option`, a string set) and a nested list of 5 line structs (3 fields each), about
//! 400 bytes as an item; mapped to an `Item` and back in a loop.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use serde::{Deserialize, Serialize};
use strata_item::{Number, from_item, to_item};

#[derive(Clone, Serialize, Deserialize)]
struct Line {
    sku: String,
    quantity: u32,
    price: Number,
}

#[derive(Clone, Serialize, Deserialize)]
struct Order {
    pk: String,
    sk: String,
    status: String,
    total: Number,
    created_at: i64,
    coupon: Option<String>,
    #[serde(with = "strata_item::sets::string_set", default)]
    tags: BTreeSet<String>,
    lines: Vec<Line>,
}

fn order() -> Order {
    Order {
        pk: "customer#000123456".into(),
        sk: "order#2024-06-01T12:34:56Z#8812".into(),
        status: "SHIPPED".into(),
        total: Number::parse("1234.56").unwrap(),
        created_at: 1_717_245_296,
        coupon: Some("SUMMER".into()),
        tags: ["priority".to_string(), "fragile".to_string()].into(),
        lines: (0..5)
            .map(|i| Line {
                sku: format!("sku-{i:06}"),
                quantity: i + 1,
                price: Number::parse("19.99").unwrap(),
            })
            .collect(),
    }
}

fn bench(c: &mut Criterion) {
    let o = order();
    let it = to_item(&o).unwrap();
    c.bench_function("serde/to_item order (8 fields, 5 lines)", |b| {
        b.iter(|| to_item(black_box(&o)).unwrap())
    });
    c.bench_function("serde/from_item order (8 fields, 5 lines)", |b| {
        b.iter(|| from_item::<Order>(black_box(it.clone())).unwrap())
    });
    c.bench_function("serde/clone of the item (baseline for from_item)", |b| {
        b.iter(|| black_box(&it).clone())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
