//! Review tests for the LSM tree (engine/src/lsm).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use strata_engine::lsm::{Durability, Tree, TreeOptions};
use strata_fs::{FaultFs, FileSystem};

fn small(fs: &FaultFs) -> TreeOptions {
    let mut o = TreeOptions::small_for_tests(Arc::new(fs.clone()) as Arc<dyn FileSystem>);
    o.memtable_size = 1024;
    o.l0_compaction_trigger = 1;
    o.target_file_size_base = 1024;
    o.max_bytes_for_level_base = 2048;
    o.max_bytes_for_level_multiplier = 2;
    o
}

/// Keys are written once up front and then only overwritten, never deleted:
/// every read, at a snapshot or now, must find every key, and two reads at
/// one snapshot must agree, while flushes and compactions drop shadowed
/// versions underneath.
#[test]
fn reads_racing_compaction_never_lose_overwritten_keys() {
    let fs = FaultFs::new();
    let tree = Tree::open(Path::new("/db"), small(&fs)).unwrap();
    const KEYS: u32 = 8;
    for k in 0..KEYS {
        tree.put(&k.to_be_bytes(), b"initial", Durability::None)
            .unwrap();
    }
    tree.flush().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let tree = tree.clone();
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let k = (i as u32 % KEYS).to_be_bytes();
                tree.put(&k, &i.to_be_bytes(), Durability::None).unwrap();
                if i.is_multiple_of(64) {
                    tree.flush().unwrap();
                }
            }
        })
    };
    let readers: Vec<_> = (0..2)
        .map(|r| {
            let tree = tree.clone();
            std::thread::spawn(move || {
                let iters = std::env::var("REVIEW_ITERS")
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(20_000u32);
                for n in 0..iters {
                    let k = (n % KEYS).to_be_bytes();
                    if r == 0 {
                        assert!(tree.get(&k, None).unwrap().is_some(), "get lost {k:?}");
                    } else {
                        let s = tree.snapshot();
                        let a = tree.get(&k, Some(&s)).unwrap();
                        assert!(a.is_some(), "snapshot {} lost {k:?}", s.seq());
                        std::thread::yield_now();
                        let b = tree.get(&k, Some(&s)).unwrap();
                        assert_eq!(a, b, "two reads at snapshot {} differ", s.seq());
                    }
                }
            })
        })
        .collect();
    let mut failed = None;
    for r in readers {
        if let Err(e) = r.join() {
            failed = Some(e);
        }
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    let st = tree.stats();
    eprintln!("{st:?}");
    if let Some(e) = failed {
        std::panic::resume_unwind(e);
    }
    assert!(st.compactions > 0);
}

/// A write that returned is visible to the next read of the same thread,
/// even while another thread's `Sync` commit (earlier in sequence order) is
/// still waiting for its fsync.
#[test]
fn acknowledged_write_is_visible_to_the_writer_despite_inflight_sync() {
    let dir = tempfile::tempdir().unwrap();
    let tree = Tree::open(dir.path(), TreeOptions::default()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let syncer = {
        let tree = tree.clone();
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                tree.put(b"a", &i.to_be_bytes(), Durability::Sync).unwrap();
            }
        })
    };
    let mut stale = Vec::new();
    for durability in [Durability::None, Durability::Sync] {
        for i in 0..500u64 {
            let v = i.to_be_bytes();
            let seq = tree.put(b"b", &v, durability).unwrap();
            let got = tree.get(b"b", None).unwrap();
            if got.as_deref() != Some(&v[..]) {
                stale.push((durability, seq, tree.snapshot().seq()));
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    syncer.join().unwrap();
    assert!(
        stale.is_empty(),
        "{} acknowledged writes were not visible to the writer's next read, e.g. (durability, write seq, visible seq) {:?}",
        stale.len(),
        &stale[..stale.len().min(5)]
    );
}

/// Dropping the last handle without `close` (a simulated process crash) while
/// flushes and compactions run must leave the directory openable at once: a
/// background job's last reference to the tree must not hold the directory
/// lock (seen as a rare `Locked` on reopen in `tree_model`).
#[test]
fn reopen_right_after_dropping_a_busy_tree_is_never_locked() {
    let fs = FaultFs::new();
    let dir = Path::new("/db");
    for round in 0..400u32 {
        let tree = match Tree::open(dir, small(&fs)) {
            Ok(t) => t,
            Err(e) => panic!("round {round}: reopen failed: {e}"),
        };
        for i in 0..200u32 {
            let k = format!("k{:05}", (i * 7919 + round) % 3000);
            tree.put(k.as_bytes(), &[round as u8; 64], Durability::None)
                .unwrap();
        }
        if round % 3 == 0 {
            tree.flush().unwrap();
        }
        drop(tree);
    }
}
