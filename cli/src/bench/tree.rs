//! The db_bench-style workloads on one LSM [`Tree`] (no items, no tables).
//!
//! Keys are key numbers `0..num` in zero-padded decimal (`--key-size` bytes), values
//! `--value-size` bytes of random letters (cut from a 1 MiB pool at an offset that
//! changes with each operation). The fill workloads start from an empty tree; the
//! others first make sure the tree holds all `num` keys (untimed: unless the last
//! workload left every key there — `fillseq`, `overwrite` and the reads do, as the
//! marker file `DIR/tree.complete` records — they write every key in order and
//! compact), so they run on a full tree.

use std::ops::Bound;
use std::path::Path;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata_engine::lsm::{Durability, TreeStats};
use strata_engine::{Tree, TreeOptions};

use super::BenchError;
use super::keys::{missing_key, thread_seed, tree_key};
use super::measure::{self, OpOutcome, Timed};
use super::options::{DurabilityArg, Plan, SEEK_NEXTS, Workload};
use super::progress;
use super::report::WorkloadReport;

/// Bytes of random letters values are cut from.
const VALUE_POOL: usize = 1 << 20;

/// Values of one size cut from a pool of random letters at an offset that depends on
/// the operation, so neighbouring keys hold different values (one shared value would
/// compress unrealistically well; random letters compress as text does, by about
/// 40 %).
#[derive(Debug)]
struct Values {
    pool: Vec<u8>,
    size: usize,
}

impl Values {
    fn new(seed: u64, size: usize) -> Values {
        let mut rng = StdRng::seed_from_u64(seed);
        let pool = (0..VALUE_POOL + size)
            .map(|_| rng.random_range(b'a'..=b'z'))
            .collect();
        Values { pool, size }
    }

    /// The value of operation `i`.
    fn get(&self, i: u64) -> &[u8] {
        let at = (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) % VALUE_POOL as u64) as usize;
        self.pool.get(at..at + self.size).unwrap_or_default()
    }
}

fn durability(d: DurabilityArg) -> Durability {
    match d {
        DurabilityArg::Sync => Durability::Sync,
        DurabilityArg::Buffered => Durability::Buffered,
    }
}

/// Runs tree workload `w` on the tree in `dir`.
///
/// # Errors
/// Tree errors, I/O errors on `dir`.
pub fn run(
    w: Workload,
    plan: &Plan,
    opts: &TreeOptions,
    dir: &Path,
) -> Result<WorkloadReport, BenchError> {
    let num = plan.num_for(w);
    let fresh = matches!(
        w,
        Workload::FillSeq | Workload::FillRandom | Workload::FillSync
    );
    if fresh {
        match std::fs::remove_dir_all(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(BenchError::io(dir, e)),
        }
    }
    let marker = dir.with_extension("complete");
    // Whether the tree holds every key 0..num; the fill workloads other than
    // fillseq and deleterandom leave holes.
    let complete = std::fs::read_to_string(&marker).ok() == Some(num.to_string());
    if fresh {
        remove_marker(&marker)?;
    }
    let tree = Tree::open(dir, opts.clone())?;
    if !fresh && !complete {
        fill_in_order(&tree, num, plan)?;
        std::fs::write(&marker, num.to_string()).map_err(|e| BenchError::io(&marker, e))?;
    }
    let before = tree.stats();
    let bar = progress::bar(w.name(), num);
    measure::reset_peak_memory();
    let timed = timed(w, &tree, num, plan, &bar)?;
    bar.finish_and_clear();
    match w {
        Workload::FillSeq => {
            std::fs::write(&marker, num.to_string()).map_err(|e| BenchError::io(&marker, e))?;
        }
        Workload::DeleteRandom => remove_marker(&marker)?,
        _ => {}
    }
    let writes = !matches!(
        w,
        Workload::ReadRandom | Workload::ReadMissing | Workload::SeekRandom | Workload::ReadSeq
    );
    if writes {
        // Let background work settle so that the amplification figures are final.
        tree.flush()?;
        wait_for_compactions(|| tree.stats().compactions);
    }
    let peak = measure::peak_memory();
    let after = tree.stats();
    let live = live_bytes(&tree)?;
    tree.close()?;
    drop(tree);
    let mut r = WorkloadReport::from_timed(w.name().to_string(), plan.threads, &timed);
    r.bytes_on_disk = measure::dir_bytes(dir)?;
    if writes {
        r.write_amplification = write_amplification(&[before], &[after]);
    }
    r.space_amplification = measure::space_amplification(r.bytes_on_disk, live);
    r.peak_memory_bytes = peak;
    Ok(r)
}

/// Write amplification between two readings of the same trees' statistics: bytes
/// written to disk (WAL records, flushed and compacted SSTables) per user byte.
pub fn write_amplification(before: &[TreeStats], after: &[TreeStats]) -> Option<f64> {
    let disk = |s: &[TreeStats]| -> u64 {
        s.iter()
            .map(|s| s.wal_bytes_written + s.flush_bytes_written + s.compaction_bytes_written)
            .sum()
    };
    let user = |s: &[TreeStats]| -> u64 { s.iter().map(|s| s.user_bytes_written).sum() };
    measure::write_amplification(
        disk(after).saturating_sub(disk(before)),
        user(after).saturating_sub(user(before)),
    )
}

/// The timed phase of `w`.
fn timed(
    w: Workload,
    tree: &Tree,
    num: u64,
    plan: &Plan,
    bar: &ProgressBar,
) -> Result<Timed, BenchError> {
    let (ks, seed) = (plan.key_size, plan.seed);
    let values = Values::new(seed, plan.value_size);
    let put_durability = durability(plan.tree_durability);
    let rng_of = |t: usize| StdRng::seed_from_u64(thread_seed(seed, w.name(), t));
    let kv_bytes = ks + plan.value_size;
    let values = &values;
    match w {
        Workload::FillSeq => measure::timed_threads(plan.threads, num, bar, |_, _| {
            Ok(move |i| {
                tree.put(&tree_key(i, ks), values.get(i), put_durability)?;
                Ok(OpOutcome::hit(kv_bytes))
            })
        }),
        Workload::FillRandom | Workload::Overwrite | Workload::FillSync => {
            let d = if w == Workload::FillSync {
                Durability::Sync
            } else {
                put_durability
            };
            measure::timed_threads(plan.threads, num, bar, |t, _| {
                let mut rng = rng_of(t);
                Ok(move |i| {
                    tree.put(&tree_key(rng.random_range(0..num), ks), values.get(i), d)?;
                    Ok(OpOutcome::hit(kv_bytes))
                })
            })
        }
        Workload::DeleteRandom => measure::timed_threads(plan.threads, num, bar, |t, _| {
            let mut rng = rng_of(t);
            Ok(move |_| {
                tree.delete(&tree_key(rng.random_range(0..num), ks), put_durability)?;
                Ok(OpOutcome::hit(ks))
            })
        }),
        Workload::ReadRandom | Workload::ReadMissing => {
            let missing = w == Workload::ReadMissing;
            measure::timed_threads(plan.threads, num, bar, |t, _| {
                let mut rng = rng_of(t);
                Ok(move |_| {
                    let i = rng.random_range(0..num);
                    let k = if missing {
                        missing_key(i, ks)
                    } else {
                        tree_key(i, ks)
                    };
                    Ok(match tree.get(&k, None)? {
                        Some(v) => OpOutcome::hit(k.len() + v.len()),
                        None => OpOutcome::miss(),
                    })
                })
            })
        }
        Workload::SeekRandom => measure::timed_threads(plan.threads, num, bar, |t, _| {
            let mut rng = rng_of(t);
            Ok(move |_| {
                let k = tree_key(rng.random_range(0..num), ks);
                let mut bytes = 0;
                for kv in tree
                    .range(Bound::Included(&k[..]), Bound::Unbounded, None)?
                    .take(SEEK_NEXTS + 1)
                {
                    let (k, v) = kv?;
                    bytes += k.len() + v.len();
                }
                Ok(OpOutcome {
                    bytes: bytes as u64,
                    found: bytes > 0,
                })
            })
        }),
        Workload::ReadSeq => measure::timed_threads(plan.threads, num, bar, |_, slice| {
            // Each thread scans its own stretch of the key space.
            let from = tree_key(slice.start, ks);
            let mut it = tree.range(Bound::Included(&from[..]), Bound::Unbounded, None)?;
            Ok(move |_| {
                Ok(match it.next() {
                    Some(kv) => {
                        let (k, v) = kv?;
                        OpOutcome::hit(k.len() + v.len())
                    }
                    None => OpOutcome::miss(),
                })
            })
        }),
        other => Err(BenchError::Internal(format!(
            "{other} is not a tree workload"
        ))),
    }
}

/// Removes the marker saying the tree holds every key.
fn remove_marker(marker: &Path) -> Result<(), BenchError> {
    match std::fs::remove_file(marker) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(BenchError::io(marker, e)),
    }
}

/// Writes keys `0..num` in order, then compacts, with a progress bar.
fn fill_in_order(tree: &Tree, num: u64, plan: &Plan) -> Result<(), BenchError> {
    let bar = progress::bar("load", num);
    let values = Values::new(plan.seed ^ 1, plan.value_size);
    for i in 0..num {
        tree.put(&tree_key(i, plan.key_size), values.get(i), Durability::None)?;
        if i % 4096 == 4095 {
            bar.inc(4096);
        }
    }
    bar.set_message("load: compacting");
    tree.compact_range(None, None)?;
    bar.finish_and_clear();
    Ok(())
}

/// Bytes of the live keys and values (one full scan).
fn live_bytes(tree: &Tree) -> Result<u64, BenchError> {
    let mut total = 0u64;
    for kv in tree.range(Bound::Unbounded, Bound::Unbounded, None)? {
        let (k, v) = kv?;
        total += (k.len() + v.len()) as u64;
    }
    Ok(total)
}

/// Waits (up to a minute) until the compaction counter has stood still for half a
/// second.
pub fn wait_for_compactions(compactions: impl Fn() -> u64) {
    let start = Instant::now();
    let mut last = u64::MAX;
    let mut quiet = 0;
    while start.elapsed() < Duration::from_secs(60) {
        let c = compactions();
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
    fn values_have_their_size_and_differ_between_operations() {
        let v = Values::new(1, 100);
        assert!((0..1000).all(|i| v.get(i).len() == 100));
        assert!(v.get(0).iter().all(u8::is_ascii_lowercase));
        assert_ne!(v.get(0), v.get(1));
        assert_eq!(v.get(5), Values::new(1, 100).get(5));
        assert!(Values::new(1, 0).get(3).is_empty());
    }
}
