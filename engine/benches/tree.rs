//! Criterion benches of the LSM tree: db_bench-style workloads at small sizes (16-byte
//! decimal keys, 100-byte values, buffered puts). The 1M-key figures come from
//! `strata bench` (`docs/cli.md`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::ops::Bound;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata_engine::lsm::Durability;
use strata_engine::{Tree, TreeOptions};

const NUM: u64 = 20_000;
const VALUE: [u8; 100] = [b'v'; 100];

fn key(i: u64) -> [u8; 16] {
    let mut k = [b'0'; 16];
    let mut n = i;
    for b in k.iter_mut().rev() {
        *b = b'0' + (n % 10) as u8;
        n /= 10;
    }
    k
}

/// A key that sorts right after key `i` and is never written.
fn missing_key(i: u64) -> [u8; 17] {
    let mut k = [b'.'; 17];
    k[..16].copy_from_slice(&key(i));
    k
}

/// Puts `NUM` keys (in order or random) into a fresh tree in `dir`; returns the time
/// the puts took.
fn fill(dir: &Path, random: bool) -> Duration {
    let tree = Tree::open(dir, TreeOptions::default()).unwrap();
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let start = Instant::now();
    for i in 0..NUM {
        let k = if random { rng.random_range(0..NUM) } else { i };
        tree.put(&key(k), &VALUE, Durability::Buffered).unwrap();
    }
    let elapsed = start.elapsed();
    tree.close().unwrap();
    elapsed
}

/// `ops` reads of one kind on `tree`; returns their time.
fn read(tree: &Tree, name: &str, ops: u64, seed: u64) -> Duration {
    let mut rng = StdRng::seed_from_u64(seed);
    let start = Instant::now();
    match name {
        "readrandom" => {
            for _ in 0..ops {
                assert!(
                    tree.get(&key(rng.random_range(0..NUM)), None)
                        .unwrap()
                        .is_some()
                );
            }
        }
        "readmissing" => {
            for _ in 0..ops {
                let k = missing_key(rng.random_range(0..NUM));
                assert!(tree.get(&k, None).unwrap().is_none());
            }
        }
        "seekrandom" | "seekrandom100" => {
            let nexts = if name == "seekrandom" { 10 } else { 100 };
            for _ in 0..ops {
                let k = key(rng.random_range(0..NUM));
                let it = tree
                    .range(Bound::Included(&k[..]), Bound::Unbounded, None)
                    .unwrap();
                for kv in it.take(nexts + 1) {
                    kv.unwrap();
                }
            }
        }
        "readseq" => assert_eq!(scan_all(tree), NUM),
        other => panic!("unknown workload {other}"),
    }
    start.elapsed()
}

/// Reads every entry of `tree` in order; returns how many there were.
fn scan_all(tree: &Tree) -> u64 {
    let mut n = 0u64;
    for kv in tree
        .range(Bound::Unbounded, Bound::Unbounded, None)
        .unwrap()
    {
        kv.unwrap();
        n += 1;
    }
    n
}

fn workloads(c: &mut Criterion) {
    let mut g = c.benchmark_group("tree");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(5));
    for (name, random) in [("fillseq", false), ("fillrandom", true)] {
        g.throughput(Throughput::Elements(NUM));
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| fill(tempfile::tempdir().unwrap().path(), random))
                    .sum()
            })
        });
    }
    // Read workloads share one tree filled in order and compacted.
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), false);
    let tree = Tree::open(dir.path(), TreeOptions::default()).unwrap();
    tree.compact_range(None, None).unwrap();
    for (name, ops) in [
        ("readrandom", NUM),
        ("readmissing", NUM),
        ("seekrandom", NUM / 10),
        ("seekrandom100", NUM / 50),
        ("readseq", NUM),
    ] {
        g.throughput(Throughput::Elements(ops));
        g.bench_function(name, |b| {
            b.iter_custom(|iters| (0..iters).map(|i| read(&tree, name, ops, i)).sum())
        });
    }
    tree.close().unwrap();

    // Inserts into a memtable much larger than the CPU caches, in random
    // order and without a log (`Durability::None`): each search down the skip
    // list misses the caches on its lower levels.
    const MEM_NUM: u64 = 300_000;
    let fill_memtable = |seed: u64| {
        let dir = tempfile::tempdir().unwrap();
        let tree = Tree::open(dir.path(), TreeOptions::default()).unwrap();
        let mut rng = StdRng::seed_from_u64(seed);
        let start = Instant::now();
        for _ in 0..MEM_NUM {
            let k = key(rng.random_range(0..u64::MAX / 2));
            tree.put(&k, &VALUE, Durability::None).unwrap();
        }
        let elapsed = start.elapsed();
        assert_eq!(tree.stats().flushes, 0, "the memtable was flushed");
        (dir, tree, elapsed)
    };
    g.throughput(Throughput::Elements(MEM_NUM));
    g.bench_function("memtable_insert", |b| {
        b.iter_custom(|iters| (0..iters).map(|i| fill_memtable(i).2).sum())
    });

    // A flush of such a memtable to a table file (written and fsynced).
    g.bench_function("memtable_flush", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|i| {
                    let (_dir, tree, _) = fill_memtable(i);
                    let start = Instant::now();
                    tree.flush().unwrap();
                    start.elapsed()
                })
                .sum()
        })
    });

    // A scan of that memtable through a cursor (a range read): each step is
    // a node elsewhere in the arena.
    let (_dir, tree, _) = fill_memtable(7);
    g.throughput(Throughput::Elements(MEM_NUM));
    g.bench_function("memtable_scan", |b| b.iter(|| scan_all(&tree)));

    // Point reads of that memtable's keys in an order unrelated to their
    // insertion: each a search from the top of the skip list.
    let mut keys: Vec<[u8; 16]> = {
        let mut rng = StdRng::seed_from_u64(7);
        (0..MEM_NUM)
            .map(|_| key(rng.random_range(0..u64::MAX / 2)))
            .collect()
    };
    keys.sort_unstable_by_key(|k| k.iter().rev().copied().collect::<Vec<u8>>());
    g.throughput(Throughput::Elements(MEM_NUM));
    g.bench_function("memtable_get", |b| {
        b.iter(|| {
            let found = keys
                .iter()
                .filter(|k| tree.get(&k[..], None).unwrap().is_some())
                .count();
            assert_eq!(found as u64, MEM_NUM);
        })
    });
    tree.close().unwrap();
    g.finish();
}

criterion_group!(benches, workloads);
criterion_main!(benches);
