//! Crash test with real processes: this test binary re-executes itself as a
//! child that commits numbered batches and prints each acknowledged id; the
//! parent SIGKILLs it at random moments (small memtables make flushes and
//! compactions frequent, so kills land inside them too), reopens the tree and
//! checks the durability contract:
//!
//! - `Sync`: every acknowledged batch is present, no batch is partly applied.
//! - `Buffered`: the recovered batches are a prefix of the written sequence
//!   (no holes), and none is partly applied.
//!
//! `STRATA_CRASH_SEED` replays a run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::ops::Bound;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata_engine::lsm::{Durability, Tree, TreeOptions, WriteBatch};

const CHILD_ENV: &str = "STRATA_CRASH_CHILD";

fn options() -> TreeOptions {
    let mut o = TreeOptions::small_for_tests(strata_fs::default_fs());
    o.memtable_size = 24 << 10;
    o.target_file_size_base = 16 << 10;
    o.max_bytes_for_level_base = 48 << 10;
    o.wal_segment_size = 32 << 10;
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
    let tree = Tree::open(Path::new(&dir), options()).unwrap();
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready").unwrap();
    out.flush().unwrap();
    for id in start.. {
        let mut b = WriteBatch::new();
        for j in 0..batch_len(id) {
            b.put(
                &key(id, j),
                &vec![(id % 251) as u8; 150 + (j as usize * 13) % 100],
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

/// Reads back which batches are present, checking none is partial.
fn present_batches(dir: &Path) -> Vec<u64> {
    let tree = Tree::open(dir, options()).unwrap();
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

/// Kills the child if the parent panics.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run(durability: &str, kills: usize, seed: u64) {
    eprintln!("tree_crash {durability}: seed {seed} (STRATA_CRASH_SEED to replay)");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut next = 1u64;
    let mut acked_total = 0usize;
    for round in 0..kills {
        let child = Command::new(&exe)
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(
                CHILD_ENV,
                format!("{},{durability},{next}", dir.path().display()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut child = KillOnDrop(child);
        let stdout = child.0.stdout.take().unwrap();
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
        child.0.kill().unwrap(); // SIGKILL
        child.0.wait().unwrap();
        reader.join().unwrap();
        let acked: Vec<u64> = rx
            .try_iter()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        acked_total += acked.len();
        let present = present_batches(dir.path());
        let present_set: std::collections::HashSet<u64> = present.iter().copied().collect();
        if durability == "sync" {
            for id in &acked {
                assert!(
                    present_set.contains(id),
                    "round {round}: acknowledged batch {id} lost"
                );
            }
        }
        // No holes: batches 1..=max are all there.
        let max = present.last().copied().unwrap_or(0);
        assert_eq!(
            present.len() as u64,
            max,
            "round {round}: recovered batches are not a prefix: {present:?}"
        );
        next = max + 1;
        if durability == "sync" {
            next = next.max(acked.last().map_or(0, |a| a + 1));
        }
    }
    eprintln!(
        "tree_crash {durability}: {kills} kills, {acked_total} acknowledged batches, {} recovered",
        next - 1
    );
    assert!(acked_total > 0, "the child acknowledged nothing");
    let deeper = LEVEL_FILES.with(|c| c.get());
    assert!(
        deeper > 0,
        "no table reached L1 or below: flush/compaction never ran"
    );
}

fn seed() -> u64 {
    std::env::var("STRATA_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random)
}

#[test]
fn sigkill_sync_writes_keep_every_acknowledged_batch() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    run("sync", 20, seed());
}

#[test]
fn sigkill_buffered_writes_recover_a_prefix() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    run("buffered", 12, seed());
}
