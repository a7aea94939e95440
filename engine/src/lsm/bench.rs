//! db_bench-style workloads over a [`Tree`], shared by the criterion bench,
//! the CLI and the figures in reports.
//!
//! Keys are 16 bytes (`{:016}` of the key number), values `value_size`
//! bytes (100 by default). Read workloads first make sure the tree holds
//! `num` keys (filling sequentially and compacting if the last key is
//! missing), so the timed phase reads a compacted tree; run them on a
//! directory filled by `fillseq`, not `fillrandom` (which leaves holes).
//!
//! | name | what is timed |
//! |---|---|
//! | `fillseq` | `num` puts in key order |
//! | `fillrandom` | `num` puts of random keys (with repeats) |
//! | `overwrite` | `ops` puts of random existing keys |
//! | `readrandom` | `ops` gets of random existing keys |
//! | `readmissing` | `ops` gets of absent keys that sort among present ones |
//! | `seekrandom` / `seekrandom100` | `ops` seeks, each followed by 10 / 100 nexts |
//! | `readseq` | one full forward scan (`ops` = entries read) |
//! | `fillsync` / `fillsync8` | `ops` `Sync` puts from 1 / 8 threads |
//!
//! Puts use `Durability::Buffered` (written to the OS, not fsynced: db_bench's
//! default `sync=false`) except the `fillsync` workloads.
//!
//! ```no_run
//! use strata_engine::lsm::bench::{BenchOptions, run_workload};
//! let dir = std::path::Path::new("/work/bench-db");
//! let r = run_workload("fillseq", 1_000_000, dir, &BenchOptions::default()).unwrap();
//! println!("{}", r);
//! ```

use std::fmt;
use std::ops::Bound;
use std::path::Path;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata_wal::Durability;

use super::error::{Error, Result};
use super::options::TreeOptions;
use super::stats::TreeStats;
use super::tree::Tree;

/// Workload parameters.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Options of the tree (file system, sizes...).
    pub tree: TreeOptions,
    /// Bytes per value.
    pub value_size: usize,
    /// Operations of the timed phase for workloads that do not write every
    /// key (`None` = `num`, or `min(num, 10_000)` for `fillsync*`).
    pub ops: Option<u64>,
    /// Random seed.
    pub seed: u64,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            tree: TreeOptions::default(),
            value_size: 100,
            ops: None,
            seed: 0x5eed,
        }
    }
}

/// What one workload measured.
#[derive(Debug, Clone)]
pub struct WorkloadResult {
    /// The workload's name.
    pub name: String,
    /// Operations (or entries, for `readseq`) in the timed phase.
    pub ops: u64,
    /// Duration of the timed phase.
    pub elapsed: Duration,
    /// Operations that found their key (reads).
    pub found: u64,
    /// Tree statistics at the end (after background work settled for
    /// write workloads).
    pub stats: TreeStats,
}

impl WorkloadResult {
    /// Operations per second.
    pub fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl fmt::Display for WorkloadResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<14} {:>10} ops in {:>8.3} s = {:>12.0} ops/s (found {}), write amp {:.2}, space amp {:.2}, stalls {}/{} ({} ms)",
            self.name,
            self.ops,
            self.elapsed.as_secs_f64(),
            self.ops_per_sec(),
            self.found,
            self.stats.write_amplification(),
            self.stats.space_amplification(),
            self.stats.slowdown_writes,
            self.stats.stopped_writes,
            self.stats.stall_micros / 1000,
        )
    }
}

/// The 16-byte key of key number `i`.
pub fn key(i: u64) -> [u8; 16] {
    let mut k = [b'0'; 16];
    let mut n = i;
    for b in k.iter_mut().rev() {
        *b = b'0' + (n % 10) as u8;
        n /= 10;
    }
    k
}

/// A key that sorts right after key `i` and is never written (db_bench's
/// `readmissing`: the key plus a `.`).
fn missing_key(i: u64) -> [u8; 17] {
    let mut k = [b'.'; 17];
    k[..16].copy_from_slice(&key(i));
    k
}

fn value(rng: &mut StdRng, size: usize) -> Vec<u8> {
    (0..size).map(|_| rng.random_range(b'a'..=b'z')).collect()
}

/// Fills `num` keys in order unless the last one is already there, then
/// compacts everything.
fn ensure_filled(tree: &Tree, num: u64, opts: &BenchOptions) -> Result<()> {
    if num == 0 || tree.get(&key(num - 1), None)?.is_some() {
        return Ok(());
    }
    let mut rng = StdRng::seed_from_u64(opts.seed ^ 1);
    let v = value(&mut rng, opts.value_size);
    for i in 0..num {
        tree.put(&key(i), &v, Durability::None)?;
    }
    tree.compact_range(None, None)
}

/// Runs workload `name` with `num` keys on the tree in `dir` (created if
/// needed; read workloads reuse the data already there).
pub fn run_workload(
    name: &str,
    num: u64,
    dir: &Path,
    opts: &BenchOptions,
) -> Result<WorkloadResult> {
    let tree = Tree::open(dir, opts.tree.clone())?;
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let ops = opts.ops.unwrap_or(num);
    let mut found = 0u64;
    let v = value(&mut rng, opts.value_size);
    let (ops, elapsed) = match name {
        "fillseq" | "fillrandom" => {
            let start = Instant::now();
            for i in 0..num {
                let k = if name == "fillseq" {
                    i
                } else {
                    rng.random_range(0..num.max(1))
                };
                tree.put(&key(k), &v, Durability::Buffered)?;
            }
            (num, start.elapsed())
        }
        "overwrite" => {
            ensure_filled(&tree, num, opts)?;
            let start = Instant::now();
            for _ in 0..ops {
                tree.put(
                    &key(rng.random_range(0..num.max(1))),
                    &v,
                    Durability::Buffered,
                )?;
            }
            (ops, start.elapsed())
        }
        "readrandom" | "readmissing" => {
            ensure_filled(&tree, num, opts)?;
            let start = Instant::now();
            for _ in 0..ops {
                let i = rng.random_range(0..num.max(1));
                let (present, missing) = (key(i), missing_key(i));
                let k: &[u8] = if name == "readrandom" {
                    &present
                } else {
                    &missing
                };
                if tree.get(k, None)?.is_some() {
                    found += 1;
                }
            }
            (ops, start.elapsed())
        }
        "seekrandom" | "seekrandom100" => {
            ensure_filled(&tree, num, opts)?;
            let nexts = if name == "seekrandom" { 10 } else { 100 };
            let start = Instant::now();
            for _ in 0..ops {
                let k = key(rng.random_range(0..num.max(1)));
                let it = tree.range(Bound::Included(&k[..]), Bound::Unbounded, None)?;
                for kv in it.take(nexts + 1) {
                    kv?;
                }
                found += 1;
            }
            (ops, start.elapsed())
        }
        "readseq" => {
            ensure_filled(&tree, num, opts)?;
            let start = Instant::now();
            let mut n = 0u64;
            for kv in tree.range(Bound::Unbounded, Bound::Unbounded, None)? {
                kv?;
                n += 1;
            }
            found = n;
            (n, start.elapsed())
        }
        "fillsync" | "fillsync8" => {
            let ops = opts.ops.unwrap_or(num.min(10_000));
            let threads = if name == "fillsync" { 1 } else { 8 };
            let start = Instant::now();
            let res: Vec<Result<()>> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads)
                    .map(|t| {
                        let tree = tree.clone();
                        let v = v.clone();
                        s.spawn(move || -> Result<()> {
                            let mut rng = StdRng::seed_from_u64(opts.seed + t);
                            for _ in 0..ops / threads {
                                tree.put(
                                    &key(rng.random_range(0..num.max(1))),
                                    &v,
                                    Durability::Sync,
                                )?;
                            }
                            Ok(())
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join().unwrap_or_else(|_| {
                            Err(Error::InvalidArgument("bench thread panicked".into()))
                        })
                    })
                    .collect()
            });
            for r in res {
                r?;
            }
            (ops / threads * threads, start.elapsed())
        }
        other => {
            return Err(Error::InvalidArgument(format!(
                "unknown workload {other:?}"
            )));
        }
    };
    // Let background work settle so amplification figures are final.
    if name.starts_with("fill") || name == "overwrite" {
        tree.flush()?;
        wait_for_compactions(&tree);
    }
    let stats = tree.stats();
    tree.close()?;
    Ok(WorkloadResult {
        name: name.to_string(),
        ops,
        elapsed,
        found,
        stats,
    })
}

/// Waits (up to a minute) until no level is over its compaction target.
fn wait_for_compactions(tree: &Tree) {
    let start = Instant::now();
    let mut last = u64::MAX;
    let mut quiet = 0;
    while start.elapsed() < Duration::from_secs(60) {
        let c = tree.stats().compactions;
        if c == last {
            quiet += 1;
            if quiet >= 5 {
                return;
            }
        } else {
            quiet = 0;
            last = c;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_and_missing_keys_sit_between() {
        assert_eq!(&key(42), b"0000000000000042");
        assert!(key(41)[..] < missing_key(41)[..] && missing_key(41)[..] < key(42)[..]);
    }

    #[test]
    fn small_workloads_run() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut o = BenchOptions {
            ops: Some(200),
            ..BenchOptions::default()
        };
        o.tree = TreeOptions::small_for_tests(strata_fs::default_fs());
        let other = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let r =
            run_workload("fillrandom", 2000, other.path(), &o).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.ops, 2000);
        for w in [
            "readrandom",
            "readmissing",
            "seekrandom",
            "readseq",
            "overwrite",
            "fillsync8",
        ] {
            let r = run_workload(w, 2000, dir.path(), &o).unwrap_or_else(|e| panic!("{w}: {e}"));
            assert!(r.ops > 0, "{w}");
            match w {
                "readrandom" => assert_eq!(r.found, 200),
                "readmissing" => assert_eq!(r.found, 0),
                "readseq" => assert_eq!(r.found, 2000),
                _ => {}
            }
        }
    }
}
