//! Criterion benches of the LSM tree, through the db_bench-style workloads of
//! `strata_engine::lsm::bench` at small sizes (the 1M-key figures come from
//! running `run_workload` directly in release mode).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use strata_engine::lsm::bench::{BenchOptions, run_workload};

const NUM: u64 = 20_000;

fn workloads(c: &mut Criterion) {
    let mut g = c.benchmark_group("tree");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(5));
    let opts = BenchOptions {
        ops: Some(NUM),
        ..BenchOptions::default()
    };
    for name in ["fillseq", "fillrandom"] {
        g.throughput(Throughput::Elements(NUM));
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let dir = tempfile::tempdir().unwrap();
                    total += run_workload(name, NUM, dir.path(), &opts).unwrap().elapsed;
                }
                total
            })
        });
    }
    // Read workloads share one filled, compacted tree.
    let dir = tempfile::tempdir().unwrap();
    run_workload("fillseq", NUM, dir.path(), &opts).unwrap();
    for (name, ops) in [
        ("readrandom", NUM),
        ("readmissing", NUM),
        ("seekrandom", NUM / 10),
        ("seekrandom100", NUM / 50),
        ("readseq", NUM),
    ] {
        let o = BenchOptions {
            ops: Some(ops),
            ..opts.clone()
        };
        g.throughput(Throughput::Elements(ops));
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += run_workload(name, NUM, dir.path(), &o).unwrap().elapsed;
                }
                total
            })
        });
    }
    g.finish();
}

criterion_group!(benches, workloads);
criterion_main!(benches);
