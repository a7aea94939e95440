//! Item API benchmarks: `put_item` (Sync and Buffered durability), `get_item` and
//! `query` (a page of 100 items) on 1 KB items, from 1 and 2 threads. Reads run on
//! 20,000 loaded items (200 partition keys x 100), flushed to SSTables first.
//!
//! Each criterion iteration is one operation, so "thrpt" is operations per second.
//! Run with `cargo bench -p strata-engine --bench items`; the database lives under
//! `$STRATA_BENCH_DIR` (default: a temporary directory in the system temp dir) — point
//! it at the disk you want to measure. `strata bench putitem,getitem,query` reports
//! the same operations with latency percentiles (`docs/cli.md`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata_engine::{
    Db, DbOptions, GetOptions, PutOptions, QueryOptions, Table, TableDurability, TableSpec,
};
use strata_item::{Item, KeySchema, KeyType, item};

const PARTITION_KEYS: u64 = 200;
const PER_KEY: u64 = 100;

fn bench_dir() -> tempfile::TempDir {
    match std::env::var_os("STRATA_BENCH_DIR") {
        Some(d) => {
            std::fs::create_dir_all(&d).unwrap();
            tempfile::tempdir_in(d).unwrap()
        }
        None => tempfile::tempdir().unwrap(),
    }
}

/// A ~1 KB item.
fn make_item(pk: String, sk: u64) -> Item {
    item! { "pk" => pk, "sk" => sk as i64, "data" => "x".repeat(990) }
}

/// A database with a table of 4 partitions keyed by `pk` (S) and `sk` (N).
fn open(durability: TableDurability) -> (tempfile::TempDir, Db, Table) {
    let dir = bench_dir();
    let db = Db::open(dir.path(), DbOptions::default()).unwrap();
    db.create_table(
        TableSpec::new(
            "bench",
            KeySchema::composite("pk", KeyType::S, "sk", KeyType::N),
        )
        .partitions(4)
        .durability(durability),
    )
    .unwrap();
    let table = db.table("bench").unwrap();
    (dir, db, table)
}

/// Runs `op` `per_thread` times on each of `threads` threads; returns the wall time.
fn run<F>(threads: usize, per_thread: u64, op: F) -> Duration
where
    F: Fn(&mut StdRng) + Sync,
{
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let op = &op;
            s.spawn(move || {
                let mut rng = StdRng::seed_from_u64(t as u64 ^ 0x5eed);
                for _ in 0..per_thread {
                    op(&mut rng);
                }
            });
        }
    });
    start.elapsed()
}

fn items(c: &mut Criterion) {
    let mut g = c.benchmark_group("items");
    g.throughput(Throughput::Elements(1));
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(2));
    g.measurement_time(Duration::from_secs(6));

    for durability in [TableDurability::Sync, TableDurability::Buffered] {
        let (_dir, db, table) = open(durability);
        let next = AtomicU64::new(0);
        for threads in [1usize, 2] {
            g.bench_function(format!("put_item/{durability:?}/{threads}t"), |b| {
                b.iter_custom(|iters| {
                    run(threads, iters.div_ceil(threads as u64), |_| {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        let item = make_item(format!("w{:08}", n / PER_KEY), n % PER_KEY);
                        table.put_item(item, PutOptions::default()).unwrap();
                    })
                });
            });
        }
        db.close().unwrap();
    }

    let (_dir, db, table) = open(TableDurability::Buffered);
    for p in 0..PARTITION_KEYS {
        for s in 0..PER_KEY {
            table
                .put_item(make_item(format!("p{p:06}"), s), PutOptions::default())
                .unwrap();
        }
    }
    // Reads come from SSTables through the block cache, not from the memtable.
    table.flush().unwrap();
    for threads in [1usize, 2] {
        g.bench_function(format!("get_item/{threads}t"), |b| {
            b.iter_custom(|iters| {
                run(threads, iters.div_ceil(threads as u64), |rng| {
                    let key = item! {
                        "pk" => format!("p{:06}", rng.random_range(0..PARTITION_KEYS)),
                        "sk" => rng.random_range(0..PER_KEY) as i64,
                    };
                    let got = table.get_item(key, GetOptions::default()).unwrap();
                    assert!(got.item.is_some());
                })
            });
        });
        g.bench_function(format!("query_100/{threads}t"), |b| {
            b.iter_custom(|iters| {
                run(threads, iters.div_ceil(threads as u64), |rng| {
                    let p = rng.random_range(0..PARTITION_KEYS);
                    let page = table
                        .query(
                            "pk = :p",
                            QueryOptions::default()
                                .value(":p", format!("p{p:06}"))
                                .limit(PER_KEY as usize),
                        )
                        .unwrap();
                    assert_eq!(page.count as u64, PER_KEY);
                })
            });
        });
    }
    db.close().unwrap();
    g.finish();
}

criterion_group!(benches, items);
criterion_main!(benches);
