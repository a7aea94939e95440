//! Crash test with real processes: this test binary re-executes itself as a
//! child that commits numbered batches and prints each acknowledged id; the
//! parent SIGKILLs it at random moments (small memtables make flushes and
//! compactions frequent, so kills land inside them too), reopens the tree and
//! checks the durability contract:
//!
//! - every acknowledged batch is present — for `Buffered` too: a SIGKILL keeps
//!   the page cache, and a `Buffered` write is acknowledged once handed to it;
//! - the recovered batches are a prefix of the written sequence (no holes),
//!   and none is partly applied;
//! - the reopen is done with the strictest loss policy that a kill allows
//!   (`RefuseUnlessTornTail` for `Sync`: must open; `RefuseAny` for `Buffered`:
//!   refuses exactly when the kill tore the WAL's tail, and then the tree is
//!   opened with `Report`), and the recovery report holds at most a torn tail
//!   or torn creation at the end of the newest WAL segment and a torn manifest
//!   append (see `kill_common` for why nothing else can be torn).
//!
//! `STRATA_CRASH_SEED` replays a run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod kill_common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::ops::Bound;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use kill_common::{KillOnDrop, Tally, check_tree_report, newest_segments, serial};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata_engine::TreeError as Error;
use strata_engine::lsm::{Durability, Tree, TreeOptions, WalLossPolicy, WriteBatch};

const CHILD_ENV: &str = "STRATA_CRASH_CHILD";

/// Tree options for values `scale` times the usual size (memtables, files
/// and WAL segments scaled alike).
fn options(scale: usize) -> TreeOptions {
    let mut o = TreeOptions::small_for_tests(strata_fs::default_fs());
    o.memtable_size = (24 << 10) * scale;
    o.target_file_size_base = (16 << 10) * scale as u64;
    o.max_bytes_for_level_base = (48 << 10) * scale as u64;
    o.wal_segment_size = (32 << 10) * scale as u64;
    o
}

fn batch_len(id: u64) -> u64 {
    1 + id % 7
}

fn key(id: u64, j: u64) -> Vec<u8> {
    format!("b{id:08}-{j}").into_bytes()
}

/// The child: writes batches from `start` until killed.
#[test]
#[ignore = "run by the tree_crash tests as a child process"]
fn crash_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return; // Not a child: nothing to do as a normal test.
    };
    let mut parts = spec.split(',');
    let dir = parts.next().unwrap().to_string();
    let durability = match parts.next().unwrap() {
        "sync" => Durability::Sync,
        _ => Durability::Buffered,
    };
    let start: u64 = parts.next().unwrap().parse().unwrap();
    let scale: usize = parts.next().unwrap().parse().unwrap();
    let tree = Tree::open(Path::new(&dir), options(scale)).unwrap();
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready").unwrap();
    out.flush().unwrap();
    for id in start.. {
        let mut b = WriteBatch::new();
        for j in 0..batch_len(id) {
            b.put(
                &key(id, j),
                &vec![(id % 251) as u8; (150 + (j as usize * 13) % 100) * scale],
            );
        }
        tree.write(b, durability).unwrap();
        writeln!(out, "{id}").unwrap();
        out.flush().unwrap();
    }
}

std::thread_local! {
    /// Tables below L0 at the last check: proves flush and compaction ran.
    static LEVEL_FILES: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Opens the killed tree with the strictest loss policy a kill allows for
/// `durability` and checks the recovery report (see the module documentation).
fn open_after_kill(dir: &Path, durability: &str, scale: usize, tally: &mut Tally) -> Tree {
    let newest = newest_segments(dir);
    let mut strict = options(scale);
    strict.wal_loss_policy = if durability == "sync" {
        WalLossPolicy::RefuseUnlessTornTail
    } else {
        WalLossPolicy::RefuseAny
    };
    let (tree, refused) = match Tree::open(dir, strict) {
        Ok(t) => (t, false),
        Err(Error::RecoveryRefused { reason, .. }) if durability == "buffered" => {
            assert!(reason.contains("TornTail"), "refused for {reason}");
            (Tree::open(dir, options(scale)).unwrap(), true)
        }
        Err(e) => panic!("reopening after a SIGKILL failed: {e}"),
    };
    let report = tree.recovery_report();
    let t = check_tree_report("tree", &report, &newest);
    if refused {
        assert!(t.torn_tails > 0, "refused, but no torn tail: {report:?}");
        tally.refused += 1;
    }
    tally.add(t);
    tree
}

/// Reads back which batches are present, checking none is partial.
fn present_batches(dir: &Path, durability: &str, scale: usize, tally: &mut Tally) -> Vec<u64> {
    let tree = open_after_kill(dir, durability, scale, tally);
    let mut counts: BTreeMap<u64, u64> = BTreeMap::new();
    for kv in tree
        .range(Bound::Unbounded, Bound::Unbounded, None)
        .unwrap()
    {
        let (k, v) = kv.unwrap();
        let s = std::str::from_utf8(&k).unwrap();
        let id: u64 = s[1..9].parse().unwrap();
        assert_eq!(v[0], (id % 251) as u8, "value of {s}");
        *counts.entry(id).or_default() += 1;
    }
    for (&id, &n) in &counts {
        assert_eq!(
            n,
            batch_len(id),
            "batch {id} is partly applied ({n} of {} keys)",
            batch_len(id)
        );
    }
    let s = tree.stats();
    LEVEL_FILES.with(|c| c.set(s.files_per_level[1..].iter().sum()));
    tree.close().unwrap();
    counts.into_keys().collect()
}

/// Returns what recovery cut over all kills.
fn run(durability: &str, kills: usize, seed: u64, scale: usize) -> Tally {
    let _serial = serial();
    eprintln!("tree_crash {durability}: seed {seed} (STRATA_CRASH_SEED to replay)");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut next = 1u64;
    let mut acked_total = 0usize;
    let mut tally = Tally::default();
    for round in 0..kills {
        let (mut child, stdout) = KillOnDrop::spawn(
            "crash_child",
            &[(
                CHILD_ENV,
                format!("{},{durability},{next},{scale}", dir.path().display()),
            )],
        );
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Wait until the child has opened the tree, then let it write.
        loop {
            match rx.recv_timeout(Duration::from_secs(60)) {
                // libtest prints "test crash_child ... " before our line.
                Ok(l) if l.ends_with("ready") => break,
                Ok(_) => {} // the test harness's own output
                Err(e) => panic!("child did not start: {e}"),
            }
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(20..300)));
        child.kill(); // SIGKILL
        reader.join().unwrap();
        let acked: Vec<u64> = rx
            .try_iter()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        acked_total += acked.len();
        let present = present_batches(dir.path(), durability, scale, &mut tally);
        let present_set: std::collections::HashSet<u64> = present.iter().copied().collect();
        for id in &acked {
            assert!(
                present_set.contains(id),
                "round {round}: acknowledged batch {id} lost"
            );
        }
        // No holes: batches 1..=max are all there.
        let max = present.last().copied().unwrap_or(0);
        assert_eq!(
            present.len() as u64,
            max,
            "round {round}: recovered batches are not a prefix: {present:?}"
        );
        next = max + 1;
    }
    eprintln!(
        "tree_crash {durability} (values x{scale}): {kills} kills, {acked_total} acknowledged batches, {} recovered; recovery: {tally:?}",
        next - 1
    );
    assert!(acked_total > 0, "the child acknowledged nothing");
    let deeper = LEVEL_FILES.with(|c| c.get());
    assert!(
        scale > 1 || deeper > 0,
        "no table reached L1 or below: flush/compaction never ran"
    );
    tally
}

fn seed() -> u64 {
    std::env::var("STRATA_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random)
}

#[test]
fn sigkill_sync_writes_keep_every_acknowledged_batch() {
    run("sync", 20, seed(), 1);
}

#[test]
fn sigkill_buffered_writes_keep_every_acknowledged_batch() {
    run("buffered", 12, seed(), 1);
}

/// Batches of up to half a megabyte, so that a kill often lands inside the
/// WAL's `write()` and tears the newest segment's tail: the torn tail must be
/// cut (and nothing else), every acknowledged batch must survive, and
/// `RefuseAny` must refuse exactly those opens.
#[test]
fn sigkill_large_buffered_batches_tear_only_the_newest_tail() {
    let tally = run("buffered", 12, seed(), 256);
    eprintln!("large batches: {tally:?}");
}
