//! Item API benchmarks: `put_item` (Sync and Buffered durability), `get_item` and
//! `query` (a page of 100 items) on 1 KB items, from 1 and 2 threads. Reads run on
//! 20,000 loaded items (200 partition keys x 100), flushed to SSTables first.
//!
//! Each criterion iteration is one operation, so "thrpt" is operations per second.
//! Run with `cargo bench -p strata-engine --bench items`; the database lives under
//! `$STRATA_BENCH_DIR` (default: a temporary directory in the system temp dir) — point
//! it at the disk you want to measure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use strata_engine::bench_items::{ItemOp, ItemWorkload, WorkloadConfig};
use strata_engine::{DbOptions, TableDurability};

fn bench_dir() -> tempfile::TempDir {
    match std::env::var_os("STRATA_BENCH_DIR") {
        Some(d) => {
            std::fs::create_dir_all(&d).unwrap();
            tempfile::tempdir_in(d).unwrap()
        }
        None => tempfile::tempdir().unwrap(),
    }
}

fn items(c: &mut Criterion) {
    let mut g = c.benchmark_group("items");
    g.throughput(Throughput::Elements(1));
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(2));
    g.measurement_time(Duration::from_secs(6));

    for durability in [TableDurability::Sync, TableDurability::Buffered] {
        let dir = bench_dir();
        let cfg = WorkloadConfig {
            durability,
            ..WorkloadConfig::default()
        };
        let w = ItemWorkload::open(dir.path(), DbOptions::default(), cfg).unwrap();
        for threads in [1usize, 2] {
            g.bench_function(format!("put_item/{durability:?}/{threads}t"), |b| {
                b.iter_custom(|iters| {
                    w.run(ItemOp::Put, threads, iters.div_ceil(threads as u64))
                        .unwrap()
                        .elapsed
                });
            });
        }
        w.close().unwrap();
    }

    let dir = bench_dir();
    let cfg = WorkloadConfig {
        durability: TableDurability::Buffered,
        ..WorkloadConfig::default()
    };
    let w = ItemWorkload::open(dir.path(), DbOptions::default(), cfg).unwrap();
    w.load().unwrap();
    // Reads come from SSTables through the block cache, not from the memtable.
    w.flush().unwrap();
    for threads in [1usize, 2] {
        g.bench_function(format!("get_item/{threads}t"), |b| {
            b.iter_custom(|iters| {
                w.run(ItemOp::Get, threads, iters.div_ceil(threads as u64))
                    .unwrap()
                    .elapsed
            });
        });
        g.bench_function(format!("query_100/{threads}t"), |b| {
            b.iter_custom(|iters| {
                w.run(ItemOp::Query, threads, iters.div_ceil(threads as u64))
                    .unwrap()
                    .elapsed
            });
        });
    }
    w.close().unwrap();
    g.finish();
}

criterion_group!(benches, items);
criterion_main!(benches);
