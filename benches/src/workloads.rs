//! The key-value workloads, after db_bench: 16-byte decimal keys, `value_size`-byte
//! values, a fixed random seed, one latency sample per operation.
//!
//! | name | set-up (not timed) | timed |
//! |---|---|---|
//! | `fillrandom` | — | `num` buffered puts of random keys (with repeats) |
//! | `overwrite` | `num` puts in key order | `ops` buffered puts of random existing keys |
//! | `readrandom` | `num` puts in key order, flush | `ops` gets of random existing keys |
//! | `readmissing` | as `readrandom` | `ops` gets of absent keys that sort among present ones |
//! | `fillsync` | — | `ops` (default 20,000) durable puts from `threads` threads |
//!
//! The reads run right after the load, before compaction settles: that is the state
//! most applications read in.

use std::sync::Mutex;
use std::time::Instant;

use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::engines::{BoxError, Kv};
use crate::{RunResult, Shape, syncs_per_op};

pub fn key(i: u64) -> [u8; 16] {
    let mut k = [b'0'; 16];
    let mut n = i;
    for b in k.iter_mut().rev() {
        *b = b'0' + (n % 10) as u8;
        n /= 10;
    }
    k
}

fn value(size: usize, i: u64) -> Vec<u8> {
    let mut v = vec![b'v'; size];
    for (j, b) in i.to_le_bytes().iter().enumerate().take(size) {
        v[j] = *b;
    }
    v
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).unwrap_or_else(|_| Histogram::new(3).unwrap())
}

pub fn run(kv: &dyn Kv, workload: &str, shape: &Shape) -> Result<RunResult, BoxError> {
    let num = shape.num;
    let ops = shape
        .ops
        .unwrap_or(if workload == "fillsync" { 20_000 } else { num });
    let v = shape.value_size;
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let mut hist = histogram();
    let mut found = 0u64;
    let load = |kv: &dyn Kv| -> Result<(), BoxError> {
        for i in 0..num {
            kv.put(&key(i), &value(v, i), false)?;
        }
        Ok(())
    };
    let syncs_before = kv.syncs();
    let start;
    match workload {
        "fillrandom" => {
            start = Instant::now();
            for _ in 0..num {
                let i = rng.random_range(0..num);
                let t = Instant::now();
                kv.put(&key(i), &value(v, i), false)?;
                record(&mut hist, t);
            }
        }
        "overwrite" => {
            load(kv)?;
            start = Instant::now();
            for _ in 0..ops {
                let i = rng.random_range(0..num);
                let t = Instant::now();
                kv.put(&key(i), &value(v, i + 1), false)?;
                record(&mut hist, t);
            }
        }
        "readrandom" | "readmissing" => {
            load(kv)?;
            kv.flush()?;
            let missing = workload == "readmissing";
            start = Instant::now();
            for _ in 0..ops {
                let i = rng.random_range(0..num);
                let t = Instant::now();
                let got = if missing {
                    let mut k = key(i).to_vec();
                    k.push(b'.');
                    kv.get(&k)?
                } else {
                    kv.get(&key(i))?
                };
                record(&mut hist, t);
                found += u64::from(got.is_some());
            }
        }
        "fillsync" => {
            start = Instant::now();
            hist = timed_threads(shape.threads, ops, |t, _| {
                let mut rng = StdRng::seed_from_u64(t);
                move |_| {
                    let i = rng.random_range(0..u64::MAX / 2) % 1_000_000_000;
                    kv.put(&key(i), &value(v, i), true)
                }
            })?;
        }
        other => return Err(format!("unknown workload {other}").into()),
    }
    let secs = start.elapsed().as_secs_f64();
    let done = hist.len();
    let syncs = match (syncs_before, kv.syncs()) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    Ok(finish(hist, done, secs, found, syncs_per_op(syncs, done)))
}

/// Runs `ops` operations split over `threads` threads and returns the latency of
/// each. `make(t, per_thread)` gives thread `t` its operation, called with the
/// operation's index within the thread.
pub fn timed_threads<M, F>(threads: usize, ops: u64, make: M) -> Result<Histogram<u64>, BoxError>
where
    M: Fn(u64, u64) -> F + Sync,
    F: FnMut(u64) -> Result<(), BoxError>,
{
    let threads = threads.max(1) as u64;
    let per_thread = ops / threads;
    let shared = Mutex::new(histogram());
    std::thread::scope(|s| -> Result<(), BoxError> {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (shared, make) = (&shared, &make);
                s.spawn(move || -> Result<(), String> {
                    let mut h = histogram();
                    let mut op = make(t, per_thread);
                    for i in 0..per_thread {
                        let at = Instant::now();
                        op(i).map_err(|e| e.to_string())?;
                        record(&mut h, at);
                    }
                    shared
                        .lock()
                        .map_err(|e| e.to_string())?
                        .add(&h)
                        .map_err(|e| e.to_string())?;
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join().map_err(|_| "writer panicked")??;
        }
        Ok(())
    })?;
    Ok(shared.into_inner().map_err(|e| e.to_string())?)
}

/// The calling thread's voluntary and involuntary context switches, minor and
/// major page faults, and user and system CPU time in µs (`getrusage`).
fn rusage() -> [i64; 6] {
    // SAFETY: `rusage` is plain old data, and `getrusage` writes only into it.
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a `rusage`; a failure leaves it zeroed.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut r) };
    [
        r.ru_nvcsw,
        r.ru_nivcsw,
        r.ru_minflt,
        r.ru_majflt,
        r.ru_utime.tv_sec * 1_000_000 + r.ru_utime.tv_usec,
        r.ru_stime.tv_sec * 1_000_000 + r.ru_stime.tv_usec,
    ]
}

thread_local! {
    static LAST: std::cell::Cell<[i64; 6]> = const { std::cell::Cell::new([0; 6]) };
}

pub fn record(h: &mut Histogram<u64>, since: Instant) {
    let us = since.elapsed().as_micros() as u64;
    let _ = h.record(us.max(1));
    if slow_op_micros() != u64::MAX {
        // With PEER_BENCH_SLOW_US, what the thread did since its previous
        // operation ended (a `getrusage` per operation, so only then): whether
        // a slow operation slept (vcsw), was preempted (ivcsw), faulted, or ran
        // on a CPU the whole time, and when it ended on CLOCK_MONOTONIC (what
        // `perf record -k CLOCK_MONOTONIC` stamps samples with).
        let now = rusage();
        let last = LAST.with(|l| l.replace(now));
        if us >= slow_op_micros() {
            let d: Vec<i64> = now.iter().zip(last.iter()).map(|(a, b)| a - b).collect();
            // SAFETY: `timespec` is plain old data, written by `clock_gettime`.
            let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
            // SAFETY: a valid pointer to a `timespec`.
            unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
            eprintln!(
                "slow op rusage: vcsw {} ivcsw {} minflt {} majflt {} utime_us {} stime_us {} monotonic {}.{:09}",
                d[0], d[1], d[2], d[3], d[4], d[5], ts.tv_sec, ts.tv_nsec
            );
        }
    }
    if us >= slow_op_micros() {
        // PEER_BENCH_SLOW_US=N: say when each operation of N µs or more ended
        // (milliseconds since the process started), to line slow operations up
        // with an engine's log (RUST_LOG) when looking for what they waited for.
        eprintln!(
            "slow op: {us} µs, ended at {:.1} ms",
            process_start().elapsed().as_secs_f64() * 1e3
        );
    }
}

fn slow_op_micros() -> u64 {
    static SLOW: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *SLOW.get_or_init(|| {
        std::env::var("PEER_BENCH_SLOW_US")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(u64::MAX)
    })
}

/// The time of the first call (made early in `main`).
pub fn process_start() -> Instant {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *START.get_or_init(Instant::now)
}

pub fn new_histogram() -> Histogram<u64> {
    histogram()
}

pub fn finish(h: Histogram<u64>, ops: u64, secs: f64, found: u64, syncs: Option<f64>) -> RunResult {
    RunResult {
        engine: String::new(),
        workload: String::new(),
        threads: 0,
        ops,
        secs,
        ops_per_sec: ops as f64 / secs.max(1e-9),
        p50_us: h.value_at_quantile(0.5) as f64,
        p99_us: h.value_at_quantile(0.99) as f64,
        p999_us: h.value_at_quantile(0.999) as f64,
        max_us: h.max() as f64,
        found,
        peak_rss_mib: 0.0,
        disk_mib: 0.0,
        syncs_per_op: syncs,
    }
}
