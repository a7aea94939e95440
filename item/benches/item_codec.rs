//! Item codec and key encoding throughput.
//!
//! Workload: one ~1 KB item shaped like a typical application record (12 attributes:
//! strings, numbers, a binary, a boolean, a small list, a nested map and a string set),
//! encoded and decoded in a loop; primary keys of a string partition key and a numeric or
//! string sort key.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use strata_item::codec::{decode_item, encode_item, encode_item_into};
use strata_item::key::{decode_primary_key, encode_primary_key};
use strata_item::{AttributeValue, Item, Number, PrimaryKey, item};

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
    item! {
        "pk" => "customer#000123456",
        "sk" => "order#2024-06-01T12:34:56Z#8812",
        "status" => "SHIPPED",
        "total" => Number::parse("1234.56").unwrap(),
        "quantity" => 17,
        "created_at" => 1_717_245_296_i64,
        "gift" => false,
        "thumbnail" => vec![0xA5u8; 160],
        "notes" => "Leave at the door. ".repeat(27),
        "items" => (0..8).map(|i| AttributeValue::from(format!("sku-{i:06}"))).collect::<Vec<_>>(),
        "address" => address,
        "tags" => AttributeValue::string_set(["priority", "fragile", "international", "repeat-customer"]),
    }
}

fn codec(c: &mut Criterion) {
    let it = one_kb_item();
    let bytes = encode_item(&it);
    eprintln!(
        "item: DynamoDB size {} bytes, encoded {} bytes",
        it.size(),
        bytes.len()
    );
    let mut g = c.benchmark_group("item_codec");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("encode_1kb", |b| b.iter(|| encode_item(black_box(&it))));
    let mut buf = Vec::with_capacity(2048);
    g.bench_function("encode_1kb_reuse_buf", |b| {
        b.iter(|| {
            buf.clear();
            encode_item_into(black_box(&it), &mut buf);
            buf.len()
        })
    });
    g.bench_function("decode_1kb", |b| {
        b.iter(|| decode_item(black_box(&bytes)).unwrap())
    });
    g.bench_function("size_1kb", |b| b.iter(|| black_box(&it).size()));
    g.finish();
}

fn keys(c: &mut Criterion) {
    let s_key = PrimaryKey::with_sort("customer#000123456", "order#2024-06-01T12:34:56Z#8812");
    let n_key = PrimaryKey::with_sort("customer#000123456", Number::parse("-12345.6789").unwrap());
    let s_enc = encode_primary_key(&s_key).unwrap();
    let n_enc = encode_primary_key(&n_key).unwrap();
    let mut g = c.benchmark_group("key_encoding");
    g.bench_function("encode_s_s", |b| {
        b.iter(|| encode_primary_key(black_box(&s_key)).unwrap())
    });
    g.bench_function("encode_s_n", |b| {
        b.iter(|| encode_primary_key(black_box(&n_key)).unwrap())
    });
    g.bench_function("decode_s_s", |b| {
        b.iter(|| decode_primary_key(black_box(&s_enc)).unwrap())
    });
    g.bench_function("decode_s_n", |b| {
        b.iter(|| decode_primary_key(black_box(&n_enc)).unwrap())
    });
    g.bench_function("number_parse", |b| {
        b.iter(|| Number::parse(black_box("-12345.6789")).unwrap())
    });
    let (x, y) = (Number::from(41), Number::parse("0.5").unwrap());
    g.bench_function("number_add", |b| {
        b.iter(|| black_box(&x).checked_add(black_box(&y)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, codec, keys);
criterion_main!(benches);
