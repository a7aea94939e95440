//! Append throughput on the real file system: Buffered and Sync durability,
//! 1 and 8 threads, 100-byte and 4 KiB records. Reports records/s (criterion's
//! element throughput) and, for concurrent Sync appends, how many fsyncs each
//! record cost (group commit). Runs in a temporary directory under the
//! target directory (on disk, not tmpfs).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use strata_wal::{Durability, Wal, WalOptions};

fn run(wal: &Arc<Wal>, threads: u64, iters: u64, record: &Arc<Vec<u8>>, d: Durability) -> Duration {
    let per_thread = iters.div_ceil(threads);
    let start = Instant::now();
    if threads == 1 {
        for _ in 0..iters {
            wal.append(record, d).unwrap();
        }
    } else {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let wal = Arc::clone(wal);
                let record = Arc::clone(record);
                std::thread::spawn(move || {
                    for _ in 0..per_thread {
                        wal.append(&record, d).unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    }
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(base).unwrap();
    let mut group = c.benchmark_group("wal_append");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    group.throughput(Throughput::Elements(1));
    for (dname, d) in [
        ("buffered", Durability::Buffered),
        ("sync", Durability::Sync),
    ] {
        for threads in [1u64, 8] {
            for size in [100usize, 4096] {
                let tmp = tempfile::Builder::new()
                    .prefix("wal-bench")
                    .tempdir_in(base)
                    .unwrap();
                let opts = WalOptions {
                    segment_size: 16 << 20,
                    ..WalOptions::default()
                };
                let (wal, _) = Wal::open(tmp.path(), opts).unwrap();
                let wal = Arc::new(wal);
                let record = Arc::new(vec![0xa5u8; size]);
                let before = wal.stats();
                group.bench_function(format!("{dname}/{threads}t/{size}B"), |b| {
                    b.iter_custom(|iters| {
                        let t = run(&wal, threads, iters, &record, d);
                        // Keep the disk footprint bounded.
                        wal.truncate_before(wal.next_lsn()).unwrap();
                        t
                    })
                });
                let after = wal.stats();
                let records = after.records - before.records;
                let syncs = after.syncs - before.syncs;
                let batches = after.batches - before.batches;
                eprintln!(
                    "wal_append/{dname}/{threads}t/{size}B: {records} records, {batches} write batches, {syncs} fsyncs, {:.4} fsyncs/record, {:.1} records/batch",
                    syncs as f64 / records.max(1) as f64,
                    records as f64 / batches.max(1) as f64,
                );
            }
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
