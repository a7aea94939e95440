//! Strata side by side with its peers: the same workloads, sizes, compression and
//! durability against Strata's tree, fjall and RocksDB (key-value), and against
//! Dynoxide (items), each engine in a process of its own.
//!
//! ```sh
//! cd benches
//! cargo build --release --features rocksdb,dynoxide
//! target/release/peer-bench compare --dir /var/tmp/peers            # every workload, 3 repeats
//! target/release/peer-bench run --engine fjall --workload fillsync --threads 8 --dir /var/tmp/x
//! ```
//!
//! `run` measures one engine on one workload and prints one JSON line; `compare`
//! runs `run` in a fresh process per engine, workload and repeat, interleaving the
//! engines, and prints a table of medians with the ratio Strata / best peer.
//! See README.md for the workloads and the latest figures.

mod engines;
mod items;
mod workloads;

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::{Parser, Subcommand};
use serde::{Deserialize, Serialize};

#[derive(Parser, Debug)]
#[command(
    name = "peer-bench",
    about = "Strata side by side with fjall, RocksDB and Dynoxide"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// Parameters shared by `run` and `compare`.
#[derive(clap::Args, Debug, Clone)]
struct Shape {
    /// Keys loaded by the fill workloads (key-value workloads).
    #[arg(long, default_value_t = 1_000_000)]
    num: u64,
    /// Operations of the timed phase of `overwrite`, the reads and `fillsync`
    /// (default: `num`, and 20,000 for `fillsync` and the item writes).
    #[arg(long)]
    ops: Option<u64>,
    /// Bytes per value (key-value workloads); keys are 16 bytes.
    #[arg(long, default_value_t = 100)]
    value_size: usize,
    /// Bytes per item (item workloads).
    #[arg(long, default_value_t = 1024)]
    item_size: usize,
    /// Writer threads (`fillsync`, `putitem`).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Directory under which each run makes (and removes) a fresh database.
    #[arg(long, default_value = "peer-bench-db")]
    dir: PathBuf,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// One engine, one workload, in this process; prints one JSON line.
    Run {
        #[arg(long)]
        engine: String,
        #[arg(long)]
        workload: String,
        #[command(flatten)]
        shape: Shape,
    },
    /// Every engine built in, on each workload, `repeats` times, interleaved; each
    /// run in its own process. Prints a table of medians.
    Compare {
        /// Comma-separated workloads (default: all). A workload may carry a thread
        /// count: `fillsync:8`.
        #[arg(long)]
        workloads: Option<String>,
        /// Comma-separated engines (default: every one built in).
        #[arg(long)]
        engines: Option<String>,
        #[arg(long, default_value_t = 3)]
        repeats: usize,
        /// Also print every run's JSON line.
        #[arg(long)]
        verbose: bool,
        #[command(flatten)]
        shape: Shape,
    },
}

/// What one run measured.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct RunResult {
    pub engine: String,
    pub workload: String,
    pub threads: usize,
    pub ops: u64,
    pub secs: f64,
    pub ops_per_sec: f64,
    /// Latency of single operations, microseconds.
    pub p50_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
    /// Reads that found their key.
    pub found: u64,
    /// Peak resident set of the process (VmHWM), MiB.
    pub peak_rss_mib: f64,
    /// Bytes in the database directory at the end of the run, MiB.
    pub disk_mib: f64,
    /// fsync/fdatasync calls per operation, where the engine reports them.
    pub syncs_per_op: Option<f64>,
}

const KV_WORKLOADS: &[&str] = &[
    "fillrandom",
    "overwrite",
    "readrandom",
    "readmissing",
    "fillsync:1",
    "fillsync:8",
];
const ITEM_WORKLOADS: &[&str] = &["putitem:1", "putitem:8", "query"];

fn main() -> Result<(), engines::BoxError> {
    workloads::process_start();
    // RUST_LOG=strata_engine=debug shows the engine's flushes, compactions, stalls and
    // WAL segments, timed from the start (compare with PEER_BENCH_SLOW_US).
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_timer(tracing_subscriber::fmt::time::Uptime::default())
            .with_writer(std::io::stderr)
            .init();
    }
    match Cli::parse().cmd {
        Cmd::Run {
            engine,
            workload,
            shape,
        } => {
            let dir = shape
                .dir
                .join(format!("{engine}-{workload}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir)?;
            let result = run_one(&engine, &workload, &shape, &dir);
            let _ = std::fs::remove_dir_all(&dir);
            println!("{}", serde_json::to_string(&result?)?);
            Ok(())
        }
        Cmd::Compare {
            workloads,
            engines,
            repeats,
            verbose,
            shape,
        } => compare(workloads, engines, repeats, verbose, &shape),
    }
}

fn run_one(
    engine: &str,
    workload: &str,
    shape: &Shape,
    dir: &Path,
) -> Result<RunResult, crate::engines::BoxError> {
    let mut r = if ITEM_WORKLOADS
        .iter()
        .any(|w| w.split(':').next() == Some(workload))
    {
        items::run(engine, workload, shape, dir)?
    } else {
        let kv = engines::open(engine, dir, workload == "fillsync")?;
        workloads::run(kv.as_ref(), workload, shape)?
    };
    r.engine = engine.to_string();
    r.workload = workload.to_string();
    r.threads = shape.threads;
    r.peak_rss_mib = peak_rss_mib();
    r.disk_mib = dir_bytes(dir) as f64 / (1 << 20) as f64;
    Ok(r)
}

fn compare(
    workloads: Option<String>,
    engines: Option<String>,
    repeats: usize,
    verbose: bool,
    shape: &Shape,
) -> Result<(), engines::BoxError> {
    let all: Vec<&str> = KV_WORKLOADS.iter().chain(ITEM_WORKLOADS).copied().collect();
    let workloads: Vec<String> = match workloads {
        Some(w) => w.split(',').map(str::to_string).collect(),
        None => all.iter().map(|s| s.to_string()).collect(),
    };
    let engines: Vec<String> = match engines {
        Some(e) => e.split(',').map(str::to_string).collect(),
        None => engines::built_in().iter().map(|s| s.to_string()).collect(),
    };
    let exe = std::env::current_exe()?;
    println!(
        "# {} repeats, medians; num {}, value {} B, item {} B; each run in its own process",
        repeats, shape.num, shape.value_size, shape.item_size
    );
    println!(
        "{:<14} {:<9} {:>12} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>9}",
        "workload",
        "engine",
        "ops/s",
        "p50 µs",
        "p99 µs",
        "p99.9 µs",
        "max µs",
        "RSS MiB",
        "disk MiB",
        "syncs/op"
    );
    for w in &workloads {
        let (name, threads) = match w.split_once(':') {
            Some((n, t)) => (n.to_string(), t.parse::<usize>()?),
            None => (w.clone(), shape.threads),
        };
        let is_item = ITEM_WORKLOADS
            .iter()
            .any(|i| i.split(':').next() == Some(name.as_str()));
        let these: Vec<&String> = engines
            .iter()
            .filter(|e| engines::supports(e, is_item))
            .collect();
        let mut results: Vec<Vec<RunResult>> = vec![Vec::new(); these.len()];
        for _ in 0..repeats {
            for (i, e) in these.iter().enumerate() {
                let out = Command::new(&exe)
                    .args(["run", "--engine", e, "--workload", &name])
                    .args(["--num", &shape.num.to_string()])
                    .args(["--value-size", &shape.value_size.to_string()])
                    .args(["--item-size", &shape.item_size.to_string()])
                    .args(["--threads", &threads.to_string()])
                    .args(["--dir", &shape.dir.display().to_string()])
                    .args(
                        shape
                            .ops
                            .map(|o| vec!["--ops".to_string(), o.to_string()])
                            .unwrap_or_default(),
                    )
                    .output()?;
                if !out.status.success() {
                    return Err(
                        format!("{e} {name}: {}", String::from_utf8_lossy(&out.stderr)).into(),
                    );
                }
                let line = String::from_utf8_lossy(&out.stdout);
                if verbose {
                    eprint!("{line}");
                }
                results[i].push(serde_json::from_str(line.trim())?);
            }
        }
        let medians: Vec<RunResult> = results.iter().map(|r| median(r)).collect();
        let strata = medians
            .iter()
            .find(|m| m.engine == "strata")
            .map(|m| m.ops_per_sec);
        let best_peer = medians
            .iter()
            .filter(|m| m.engine != "strata")
            .map(|m| m.ops_per_sec)
            .fold(None, |a: Option<f64>, b| Some(a.map_or(b, |a| a.max(b))));
        for m in &medians {
            println!(
                "{:<14} {:<9} {:>12.0} {:>9.1} {:>9.1} {:>9.1} {:>9.0} {:>8.0} {:>8.1} {:>9}",
                w,
                m.engine,
                m.ops_per_sec,
                m.p50_us,
                m.p99_us,
                m.p999_us,
                m.max_us,
                m.peak_rss_mib,
                m.disk_mib,
                m.syncs_per_op
                    .map_or("-".to_string(), |s| format!("{s:.2}"))
            );
        }
        if let (Some(s), Some(p)) = (strata, best_peer) {
            println!("{:<14} strata / best peer: {:.2}×", w, s / p);
        }
        // The median run's tail and peak are one sample each: every run's.
        if repeats > 1 {
            for runs in &results {
                let list = |f: fn(&RunResult) -> f64, prec: usize| {
                    runs.iter()
                        .map(|r| format!("{:.prec$}", f(r)))
                        .collect::<Vec<_>>()
                        .join(" ")
                };
                if let Some(first) = runs.first() {
                    println!(
                        "{:<14} {:<9} every run: max µs {}; p99.9 µs {}; RSS MiB {}",
                        w,
                        first.engine,
                        list(|r| r.max_us, 0),
                        list(|r| r.p999_us, 0),
                        list(|r| r.peak_rss_mib, 1)
                    );
                }
            }
        }
    }
    Ok(())
}

/// The run with the median throughput (its other figures come with it).
fn median(runs: &[RunResult]) -> RunResult {
    let mut v = runs.to_vec();
    v.sort_by(|a, b| a.ops_per_sec.total_cmp(&b.ops_per_sec));
    v[v.len() / 2].clone()
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Syncs per operation, from a count the engine keeps itself.
pub fn syncs_per_op(count: Option<u64>, ops: u64) -> Option<f64> {
    count.map(|c| c as f64 / ops.max(1) as f64)
}
