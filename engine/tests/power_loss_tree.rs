//! Crash-point enumeration for the LSM tree (issue 7).
//!
//! A deterministic workload (batches of puts and deletes with `Sync` or
//! `Buffered` durability, explicit flushes, compactions and a reopen) runs
//! against [`FaultFs`]. A first run counts the crash points (file syncs,
//! directory syncs, renames). Then, for every point `k`, the workload runs
//! again on a fresh file system that loses power just before point `k`; the
//! tree is reopened on what survived and the durability contract is checked:
//!
//! - `Sync`: every acknowledged batch is present; the batch in flight may or
//!   may not be; nothing else (state == model after `acked` or `acked + 1`
//!   batches), so no partial batch and no resurrected delete.
//! - `Buffered`: the state is the model after some prefix of the batches, at
//!   least as long as the prefix made durable by the last successful flush.
//!
//! Set `STRATA_CRASH_SAMPLE=N` to try only N random points (for larger
//! workloads: `STRATA_CRASH_BATCHES=2000 STRATA_CRASH_SAMPLE=3000`), and
//! `STRATA_CRASH_SEED` to choose the sample.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use strata_engine::lsm::{Durability, Tree, TreeOptions, WalLossPolicy, WriteBatch};
use strata_fs::{FaultFs, FileSystem};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

const DIR: &str = "/db/tree";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn options(fs: &FaultFs) -> TreeOptions {
    let mut o = TreeOptions::small_for_tests(Arc::new(fs.clone()));
    // Tiny memtables so flushes happen inside the workload on their own too.
    o.memtable_size = 2048;
    o
}

/// Batch `i` of the workload: a few puts over a small key space (so keys are
/// overwritten) and, every third batch, a delete of an earlier key.
fn batch(i: usize) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    let mut ops = Vec::new();
    for j in 0..3 {
        let k = (i * 7 + j * 13) % 41;
        let key = format!("key{k:03}").into_bytes();
        let value = format!("value-{i}-{j}-{}", "x".repeat((i * 31 + j) % 60)).into_bytes();
        ops.push((key, Some(value)));
    }
    if i % 3 == 2 {
        let k = (i * 11) % 41;
        ops.push((format!("key{k:03}").into_bytes(), None));
    }
    ops
}

fn apply(model: &mut Model, i: usize) {
    for (k, v) in batch(i) {
        match v {
            Some(v) => {
                model.insert(k, v);
            }
            None => {
                model.remove(&k);
            }
        }
    }
}

fn model_after(n: usize) -> Model {
    let mut m = Model::new();
    for i in 0..n {
        apply(&mut m, i);
    }
    m
}

/// What the workload got done before it stopped.
#[derive(Debug, Default, Clone, Copy)]
struct Progress {
    /// Batches acknowledged (`write` returned `Ok`).
    acked: usize,
    /// Batches certainly durable: for `Buffered`, those before the last
    /// successful flush or close.
    durable: usize,
    /// WAL segments that reused a retired segment's file.
    recycled: u64,
}

fn run_workload(fs: &FaultFs, batches: usize, durability: Durability) -> (Progress, bool) {
    let mut p = Progress::default();
    let r = workload(fs, batches, durability, &mut p);
    if let Err(e) = &r
        && (std::env::var("STRATA_CRASH_VERBOSE").is_ok() || !fs.has_crashed())
    {
        eprintln!("workload stopped after {} batches: {e}", p.acked);
    }
    (p, r.is_ok())
}

fn workload(
    fs: &FaultFs,
    batches: usize,
    durability: Durability,
    p: &mut Progress,
) -> Result<(), Box<dyn std::error::Error>> {
    // The parent is made durable by the test; the tree creates its own
    // directory and must make that durable itself.
    fs.create_dir_all(Path::new("/db"))?;
    fs.sync_dir(Path::new("/"))?;
    let mut tree = Tree::open(Path::new(DIR), options(fs))?;
    for i in 0..batches {
        let mut b = WriteBatch::new();
        for (k, v) in batch(i) {
            match v {
                Some(v) => b.put(&k, &v),
                None => b.delete(&k),
            };
        }
        tree.write(b, durability)?;
        p.acked = i + 1;
        if durability == Durability::Sync {
            p.durable = p.acked;
        }
        if i % 10 == 9 {
            tree.flush()?;
            p.durable = p.acked;
        }
        if i % 25 == 24 {
            tree.compact_range(None, None)?;
        }
        p.recycled = p.recycled.max(tree.stats().wal_segments_recycled);
        if i == batches / 2 {
            tree.close()?;
            p.durable = p.acked;
            tree = Tree::open(Path::new(DIR), options(fs))?;
        }
    }
    tree.close()?;
    p.durable = p.acked;
    Ok(())
}

fn read_all(tree: &Tree) -> Model {
    let mut m = Model::new();
    for kv in tree
        .range(Bound::Unbounded, Bound::Unbounded, None)
        .unwrap()
    {
        let (k, v) = kv.unwrap();
        m.insert(k, v);
    }
    m
}

/// Reopens on what survived and checks the contract; returns which prefix
/// of the batches the state equals.
fn check_recovered(fs: &FaultFs, p: Progress, batches: usize, what: &str) -> usize {
    if !fs.exists(Path::new(DIR)) {
        // Power was lost before the tree's directory was durable: nothing can
        // have been acknowledged.
        assert_eq!(p.durable, 0, "{what}: directory lost after durable writes");
        return 0;
    }
    // A power loss is never corruption: even a policy that refuses anything
    // but a torn tail opens, and the report holds no corruption.
    let mut strict = options(fs);
    strict.wal_loss_policy = WalLossPolicy::RefuseUnlessTornTail;
    let tree = Tree::open(Path::new(DIR), strict).unwrap_or_else(|e| {
        let files = fs.describe_dir(&Path::new(DIR).join("wal"));
        panic!("{what}: reopen failed: {e}\n{files}")
    });
    let report = tree.recovery_report();
    assert!(
        !report.has_corruption(),
        "{what}: a power loss was reported as corruption: {report:?}"
    );
    assert!(!report.salvaged, "{what}: {report:?}");
    let state = read_all(&tree);
    // Point reads must agree with the scan.
    for (k, v) in &state {
        assert_eq!(
            tree.get(k, None).unwrap().as_ref(),
            Some(v),
            "{what}: get {k:?}"
        );
    }
    let mut model = model_after(p.durable);
    let mut n = p.durable;
    loop {
        if model == state {
            break;
        }
        if n >= batches || n > p.acked {
            panic!(
                "{what}: recovered state is not the model after any allowed prefix \
                 (durable {} acked {}): {} keys recovered",
                p.durable,
                p.acked,
                state.len()
            );
        }
        apply(&mut model, n);
        n += 1;
    }
    // The recovered tree must accept writes, and a Sync write made now must
    // survive another power loss (this catches a recovered WAL handing out
    // sequence numbers that the manifest already counts as flushed).
    tree.put(b"after-recovery", b"1", Durability::Sync).unwrap();
    let again = fs.recovered();
    drop(tree);
    let tree = Tree::open(Path::new(DIR), options(&again)).unwrap();
    assert_eq!(
        tree.get(b"after-recovery", None).unwrap().as_deref(),
        Some(&b"1"[..]),
        "{what}: a Sync write after recovery was lost by a second power loss"
    );
    let mut expected = model.clone();
    expected.insert(b"after-recovery".to_vec(), b"1".to_vec());
    assert_eq!(
        read_all(&tree),
        expected,
        "{what}: state after second power loss"
    );
    tree.close().unwrap();
    n
}

fn enumerate(durability: Durability, batches: usize) {
    // Counting run.
    let fs = FaultFs::new();
    let (p, ok) = run_workload(&fs, batches, durability);
    assert!(ok, "the workload fails without faults");
    assert_eq!(p.acked, batches);
    let total = fs.points();
    eprintln!("{durability:?}: {batches} batches, {total} crash points");
    // Crash points fall after WAL segments were recycled, too: power loss
    // with a retired segment's old records in the file being written.
    assert!(p.recycled > 0, "the workload recycled no WAL segment");
    check_recovered(&fs.recovered(), p, batches, "no crash");

    let sample = env_usize("STRATA_CRASH_SAMPLE", 0);
    let seed = env_usize("STRATA_CRASH_SEED", 1) as u64;
    let points: Vec<u64> = if sample == 0 || sample as u64 >= total {
        (0..total + 2).collect()
    } else {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        (0..sample)
            .map(|_| rng.random_range(0..total + 2))
            .collect()
    };
    let mut crashed = 0;
    for &k in &points {
        let fs = FaultFs::new();
        fs.crash_at_point(k);
        let (p, _) = run_workload(&fs, batches, durability);
        if fs.has_crashed() {
            crashed += 1;
        }
        let after = fs.recovered();
        check_recovered(
            &after,
            p,
            batches,
            &format!("{durability:?} crash at point {k}/{total}"),
        );
    }
    // Background work makes the point count vary a little from run to run,
    // but nearly every chosen point must have been reached.
    assert!(
        crashed * 10 >= points.len() * 8,
        "only {crashed} of {} points crashed",
        points.len()
    );
}

#[test]
fn every_crash_point_sync() {
    enumerate(Durability::Sync, env_usize("STRATA_CRASH_BATCHES", 150));
}

#[test]
fn every_crash_point_buffered() {
    enumerate(Durability::Buffered, env_usize("STRATA_CRASH_BATCHES", 150));
}

#[test]
fn torn_writes_keep_the_contract() {
    torn_writes(Durability::Sync, 3);
}

/// With `Buffered` batches a crash leaves many unsynced bytes, so the torn
/// prefix often ends inside a record: a torn tail, never corruption.
#[test]
fn torn_buffered_writes_are_torn_tails_not_corruption() {
    let torn = torn_writes(Durability::Buffered, 1);
    assert!(torn > 0, "no crash point left a torn WAL tail");
}

/// Crashes at every `step`-th point with torn writes (and a random prefix of
/// the unsynced directory changes kept); returns how many recoveries cut a
/// torn WAL tail.
fn torn_writes(durability: Durability, step: usize) -> usize {
    let batches = 40;
    let fs = FaultFs::new();
    let (_, ok) = run_workload(&fs, batches, durability);
    assert!(ok);
    let total = fs.points();
    let mut torn_tails = 0;
    for k in (0..total).step_by(step) {
        let fs = FaultFs::new();
        fs.set_torn_writes(Some(k));
        fs.set_dir_writeback(Some(k));
        fs.crash_at_point(k);
        let (p, _) = run_workload(&fs, batches, durability);
        let after = fs.recovered();
        if after.exists(Path::new(DIR)) {
            let probe = after.recovered();
            if let Ok(tree) = Tree::open(Path::new(DIR), options(&probe)) {
                if tree.recovery_report().wal.has_torn_tail() {
                    torn_tails += 1;
                }
                drop(tree);
            }
        }
        check_recovered(
            &after,
            p,
            batches,
            &format!("{durability:?} torn crash at {k}"),
        );
    }
    torn_tails
}

/// Injected `EIO`/`ENOSPC` on the n-th write, sync, directory sync or rename:
/// the error reaches the caller as a typed error (the workload stops) or is
/// absorbed by a retry, and after a power loss the contract still holds.
#[test]
fn injected_io_errors_keep_the_contract() {
    use strata_fs::{FaultKind, FaultOp};
    let batches = 40;
    let fs = FaultFs::new();
    let (_, ok) = run_workload(&fs, batches, Durability::Sync);
    assert!(ok);
    let counts = [
        (FaultOp::Write, fs.op_count(FaultOp::Write)),
        (FaultOp::Sync, fs.op_count(FaultOp::Sync)),
        (FaultOp::SyncDir, fs.op_count(FaultOp::SyncDir)),
        (FaultOp::Rename, fs.op_count(FaultOp::Rename)),
        (FaultOp::Create, fs.op_count(FaultOp::Create)),
    ];
    let mut failures = 0;
    for (op, count) in counts {
        let step = (count / 40).max(1);
        for n in (1..=count).step_by(step as usize) {
            for kind in [FaultKind::Eio, FaultKind::Enospc] {
                let fs = FaultFs::new();
                fs.inject(op, n, kind);
                let (p, ok) = run_workload(&fs, batches, Durability::Sync);
                if !ok {
                    failures += 1;
                }
                let after = fs.recovered();
                check_recovered(&after, p, batches, &format!("{kind:?} on {op:?} #{n}"));
            }
        }
    }
    assert!(failures > 0, "no injected error ever reached the caller");
}

/// Regression (found by this enumeration): `close()` kept the directory
/// locked until every handle was dropped, so closing and reopening a tree
/// while the old handle was still in scope failed with `Locked`.
#[test]
fn close_releases_the_directory_lock() {
    let fs = FaultFs::new();
    let tree = Tree::open(Path::new(DIR), options(&fs)).unwrap();
    tree.put(b"k", b"v", Durability::Sync).unwrap();
    tree.close().unwrap();
    let again = Tree::open(Path::new(DIR), options(&fs)).unwrap();
    assert_eq!(again.get(b"k", None).unwrap().as_deref(), Some(&b"v"[..]));
    // The stale handle refuses work instead of writing behind the new one.
    assert!(tree.put(b"x", b"y", Durability::Sync).is_err());
    again.close().unwrap();
}
