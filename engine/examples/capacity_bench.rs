//! Capacity enforcement benchmark (issue 12, Performance): what the token buckets cost
//! on the hot path. `put_item` and `get_item` throughput of the same table under three
//! billing settings, all far above the offered load (nothing is ever throttled):
//!
//! - `on-demand`: the default (on-demand tables unbounded: the table buckets are
//!   unlimited, only counters are kept);
//! - `on-demand-peak`: on-demand with DynamoDB's previous-peak rule and partition
//!   limits, all set to 10^9 units per second (table and partition buckets, peak
//!   tracking);
//! - `provisioned`: provisioned at 10^9 RCU/WCU with partition limits of 10^9 (table
//!   and partition buckets).
//!
//! ```sh
//! cargo run --release -p strata-engine --example capacity_bench -- [options]
//! ```
//!
//! Options (defaults in brackets): `--dir DIR` [`strata-capacity-bench`], `--secs S`
//! [1] per run, `--rounds N` [7] (the three settings are run in turn, N times, each
//! round starting with the next setting, and the median of each is reported, so that
//! a noisy neighbour hits all of them alike),
//! `--items N` [50000] preloaded 100-byte items, `--threads LIST` [1,8].
//!
//! Then, to put the differences in proportion, the cost of the primitive itself: a
//! `SystemClock` read plus one `TokenBucket::try_take` on one bucket shared by 1 and 8
//! threads (a provisioned write does two of these, table and partition; a read two
//! `admit` loads and two `charge`s), in nanoseconds per call.
//!
//! For a repeatable figure on a noisy machine, `--ops N --setting NAME` runs exactly N
//! `put_item` and then N `get_item` calls on one thread in a function of its own
//! (`measured_ops`), to be counted under callgrind:
//!
//! ```sh
//! valgrind --tool=callgrind --toggle-collect='*measured_ops*' \
//!     target/release/examples/capacity_bench --ops 20000 --setting provisioned
//! ```
//!
//! The table is `Buffered` (acknowledged once the WAL record is handed to the OS), so
//! that `put_item` is CPU-bound and a per-write cost is visible, not hidden behind an
//! fsync. `get_item` reads preloaded keys uniformly at random (eventually consistent).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use strata_engine::capacity::{CapacityOptions, Clock, OnDemandScaling, SystemClock, TokenBucket};
use strata_engine::{
    CapacityMode, Db, DbOptions, GetOptions, PutOptions, Table, TableDurability, TableSpec,
};
use strata_item::{KeySchema, KeyType, item};

const BIG: u64 = 1_000_000_000;

#[derive(Clone, Copy)]
enum Setting {
    OnDemand,
    OnDemandPeak,
    Provisioned,
}

impl Setting {
    fn name(self) -> &'static str {
        match self {
            Setting::OnDemand => "on-demand",
            Setting::OnDemandPeak => "on-demand-peak",
            Setting::Provisioned => "provisioned",
        }
    }

    fn options(self) -> CapacityOptions {
        match self {
            Setting::OnDemand => CapacityOptions::default(),
            Setting::OnDemandPeak => CapacityOptions::default()
                .partition_limits(BIG, BIG)
                .on_demand(OnDemandScaling::PreviousPeak {
                    initial_read: BIG / 2,
                    initial_write: BIG / 2,
                    ramp: Duration::from_secs(1800),
                }),
            Setting::Provisioned => CapacityOptions::default().partition_limits(BIG, BIG),
        }
    }

    fn mode(self) -> CapacityMode {
        match self {
            Setting::Provisioned => CapacityMode::provisioned(BIG, BIG),
            _ => CapacityMode::OnDemand,
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Put,
    Get,
}

struct Args {
    dir: PathBuf,
    secs: f64,
    rounds: usize,
    items: u64,
    threads: Vec<usize>,
    /// `--ops N`: a fixed number of operations instead of timed runs.
    ops: Option<u64>,
    /// `--setting NAME`: only this setting.
    setting: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        dir: PathBuf::from("strata-capacity-bench"),
        secs: 1.0,
        rounds: 7,
        items: 50_000,
        threads: vec![1, 8],
        ops: None,
        setting: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--dir" => a.dir = PathBuf::from(v),
            "--secs" => a.secs = v.parse().expect("--secs"),
            "--rounds" => a.rounds = v.parse().expect("--rounds"),
            "--items" => a.items = v.parse().expect("--items"),
            "--ops" => a.ops = Some(v.parse().expect("--ops")),
            "--setting" => a.setting = Some(v),
            "--threads" => {
                a.threads = v
                    .split(',')
                    .map(|t| t.parse().expect("--threads"))
                    .collect();
            }
            other => panic!("unknown option {other}"),
        }
    }
    a
}

/// A small xorshift generator per thread (no shared state on the hot path).
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn run(table: &Table, op: Op, threads: usize, items: u64, secs: f64) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let table = table.clone();
            let stop = Arc::clone(&stop);
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ (t as u64 + 1);
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let k = next(&mut rng) % items;
                    match op {
                        Op::Put => put_one(&table, k),
                        Op::Get => get_one(&table, k),
                    }
                    n += 1;
                }
                done.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

/// Nanoseconds per `clock.now()` + `try_take` with `threads` threads on one bucket.
fn bucket_ns(threads: usize) -> f64 {
    const CALLS: u64 = 2_000_000;
    let clock = Arc::new(SystemClock::new());
    let bucket = Arc::new(TokenBucket::new(1e12, 1e12, 1e12, clock.now()).unwrap());
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let clock = Arc::clone(&clock);
            let bucket = Arc::clone(&bucket);
            std::thread::spawn(move || {
                for _ in 0..CALLS {
                    bucket.try_take(1.0, clock.now()).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    // Wall time over all calls of all threads: the inverse of the throughput.
    start.elapsed().as_nanos() as f64 / (CALLS * threads as u64) as f64
}

/// Overwrites key `k` with a 100-byte item.
fn put_one(table: &Table, k: u64) {
    table
        .put_item(
            item! { "pk" => format!("key{k:08}"), "v" => "x".repeat(80) },
            PutOptions::default(),
        )
        .unwrap();
}

/// Reads key `k`, which exists.
fn get_one(table: &Table, k: u64) {
    let got = table
        .get_item(
            item! { "pk" => format!("key{k:08}") },
            GetOptions::default(),
        )
        .unwrap();
    assert!(got.item.is_some());
}

/// Exactly `n` puts then `n` gets of preloaded keys, on this thread.
#[inline(never)]
fn measured_ops(table: &Table, items: u64, n: u64) {
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..n {
        put_one(table, next(&mut rng) % items);
    }
    for _ in 0..n {
        get_one(table, next(&mut rng) % items);
    }
}

fn main() {
    let a = args();
    let settings: Vec<Setting> = [
        Setting::OnDemand,
        Setting::OnDemandPeak,
        Setting::Provisioned,
    ]
    .into_iter()
    .filter(|s| a.setting.as_deref().is_none_or(|n| n == s.name()))
    .collect();
    assert!(!settings.is_empty(), "unknown --setting");
    let _ = std::fs::remove_dir_all(&a.dir);
    let mut dbs = Vec::new();
    for &s in &settings {
        let db = Db::open(
            a.dir.join(s.name()),
            DbOptions::default().capacity(s.options()),
        )
        .unwrap();
        db.create_table(
            TableSpec::new("bench", KeySchema::simple("pk", KeyType::S))
                .partitions(8)
                .durability(TableDurability::Buffered)
                .capacity(s.mode()),
        )
        .unwrap();
        let t = db.table("bench").unwrap();
        for k in 0..a.items {
            put_one(&t, k);
        }
        if a.ops.is_none() {
            t.flush().unwrap();
        }
        dbs.push((s, db, t));
    }
    if let Some(n) = a.ops {
        for (s, db, t) in dbs {
            let start = Instant::now();
            measured_ops(&t, a.items, n);
            println!("{}: {n} puts + {n} gets in {:?}", s.name(), start.elapsed());
            db.close().unwrap();
        }
        let _ = std::fs::remove_dir_all(&a.dir);
        return;
    }
    println!(
        "capacity_bench: {} items, {} s per run, median of {} rounds, Buffered table of 8 partitions",
        a.items, a.secs, a.rounds
    );
    println!(
        "{:<8} {:>3}  {:>16} {:>16} {:>16}",
        "op", "thr", "on-demand", "on-demand-peak", "provisioned"
    );
    for op in [Op::Put, Op::Get] {
        for &threads in &a.threads {
            let mut samples: Vec<Vec<f64>> = vec![Vec::new(); settings.len()];
            for round in 0..a.rounds {
                for k in 0..dbs.len() {
                    let i = (round + k) % dbs.len();
                    samples[i].push(run(&dbs[i].2, op, threads, a.items, a.secs));
                }
            }
            let medians: Vec<f64> = samples
                .iter_mut()
                .map(|v| {
                    v.sort_by(f64::total_cmp);
                    v[v.len() / 2]
                })
                .collect();
            let base = medians[0];
            let cell = |m: f64| format!("{:>9.0} ({:+.1}%)", m, (m / base - 1.0) * 100.0);
            println!(
                "{:<8} {:>3}  {:>16} {:>16} {:>16}",
                if op == Op::Put {
                    "put_item"
                } else {
                    "get_item"
                },
                threads,
                format!("{base:.0}"),
                cell(medians[1]),
                cell(medians[2]),
            );
        }
    }
    for &threads in &a.threads {
        println!(
            "clock + try_take, {threads} thread(s) on one bucket: {:.1} ns of wall time per call (all threads together)",
            bucket_ns(threads)
        );
    }
    for (s, db, _) in &dbs {
        let stats = db.capacity_stats("bench").unwrap();
        assert_eq!(
            stats.read.throttled_requests + stats.write.throttled_requests,
            0,
            "{}",
            s.name()
        );
    }
    for (_, db, _) in dbs {
        db.close().unwrap();
    }
    let _ = std::fs::remove_dir_all(&a.dir);
}
