//! Runs the db_bench-style tree workloads and the item workloads and prints
//! one line per workload (what `strata bench` will run once the CLI exists).
//!
//! ```sh
//! cargo run --release -p strata-engine --example bench -- tree  [DIR] [NUM]   # default NUM 1000000
//! cargo run --release -p strata-engine --example bench -- items [DIR]
//! ```
//!
//! DIR defaults to `./strata-bench` and is emptied first: put it on a real
//! disk (not tmpfs) to measure durable writes honestly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use strata_engine::DbOptions;
use strata_engine::bench_items::{ItemOp, ItemWorkload, WorkloadConfig};
use strata_engine::lsm::bench::{BenchOptions, run_workload};
use strata_engine::lsm::{Durability, Tree, TreeOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let what = args.first().map_or("tree", String::as_str).to_string();
    let dir = PathBuf::from(args.get(1).map_or("strata-bench", String::as_str));
    let num: u64 = args.get(2).map_or(Ok(1_000_000), |s| s.parse())?;
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    match what.as_str() {
        "tree" => tree(&dir, num),
        "items" => items(&dir),
        other => Err(format!("unknown workload set {other:?} (tree or items)").into()),
    }
}

fn tree(dir: &std::path::Path, num: u64) -> Result<(), Box<dyn std::error::Error>> {
    println!("# tree workloads: {num} keys of 16 B, 100 B values, default options");
    let fresh = |name: &str| {
        let d = dir.join(name);
        let _ = std::fs::remove_dir_all(&d);
        d
    };
    let base = BenchOptions::default();
    for name in ["fillseq", "fillrandom"] {
        let r = run_workload(name, num, &fresh(name), &base)?;
        report(&r);
    }
    // Overwrite and the reads run on one tree filled in order and compacted.
    let shared = dir.join("filled");
    let fill = run_workload("fillseq", num, &shared, &base)?;
    report(&fill);
    {
        let t = Tree::open(&shared, TreeOptions::default())?;
        let start = Instant::now();
        t.compact_range(None, None)?;
        let s = t.stats();
        println!(
            "compact_range  {:.2} s; files per level {:?}",
            start.elapsed().as_secs_f64(),
            s.files_per_level
        );
        t.close()?;
    }
    let with_ops = |ops: u64| BenchOptions {
        ops: Some(ops),
        ..BenchOptions::default()
    };
    for (name, ops) in [
        ("readrandom", num / 2),
        ("readmissing", num),
        ("seekrandom", num / 10),
        ("seekrandom100", num / 50),
        ("readseq", num),
        ("overwrite", num / 5),
    ] {
        let r = run_workload(name, num, &shared, &with_ops(ops))?;
        report(&r);
    }
    for (name, ops) in [("fillsync", 3000), ("fillsync8", 20_000)] {
        let r = run_workload(name, num, &fresh(name), &with_ops(ops))?;
        report(&r);
    }
    worst_write(&fresh("latency"), num)?;
    Ok(())
}

/// The worst latency of a single `Buffered` put while filling `num` random
/// keys (flushes and compactions run in the background meanwhile).
fn worst_write(dir: &std::path::Path, num: u64) -> Result<(), Box<dyn std::error::Error>> {
    let t = Tree::open(dir, TreeOptions::default())?;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let value = [b'v'; 100];
    let mut worst = Duration::ZERO;
    let mut over_10ms = 0u64;
    let all = Instant::now();
    for _ in 0..num {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let key = format!("{:016}", x % num);
        let start = Instant::now();
        t.put(key.as_bytes(), &value, Durability::Buffered)?;
        let d = start.elapsed();
        if d > Duration::from_millis(10) {
            over_10ms += 1;
        }
        worst = worst.max(d);
    }
    let secs = all.elapsed().as_secs_f64();
    println!(
        "worst buffered write {:.2} ms over {num} random puts ({over_10ms} took > 10 ms; {:.0} ops/s)",
        worst.as_secs_f64() * 1e3,
        num as f64 / secs
    );
    t.close()?;
    Ok(())
}

fn report(r: &strata_engine::lsm::bench::WorkloadResult) {
    let secs = r.elapsed.as_secs_f64().max(1e-9);
    let s = &r.stats;
    println!(
        "{:<14} {:>10.0} ops/s  ({} ops in {:.2} s, found {})  {:?}",
        r.name,
        r.ops as f64 / secs,
        r.ops,
        secs,
        r.found,
        s
    );
}

fn items(dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    println!("# item workloads: 1 KB items, 4 partitions, 200 partition keys x 100 items");
    let w = ItemWorkload::open(dir, DbOptions::default(), WorkloadConfig::default())?;
    for threads in [1, 2] {
        let r = w.run(ItemOp::Put, threads, 2000)?;
        println!(
            "put_item (Sync)   threads={threads}  {:>9.0} ops/s",
            r.ops_per_sec()
        );
    }
    w.load()?;
    w.flush()?;
    for threads in [1, 2] {
        let r = w.run(ItemOp::Get, threads, 100_000)?;
        println!(
            "get_item          threads={threads}  {:>9.0} ops/s",
            r.ops_per_sec()
        );
        let r = w.run(ItemOp::Query, threads, 5_000)?;
        println!(
            "query (100 items) threads={threads}  {:>9.0} ops/s",
            r.ops_per_sec()
        );
    }
    w.close()?;
    Ok(())
}
