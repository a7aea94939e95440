//! Group commit that gathers (`Wal::intend`, `WalOptions::group_commit_wait`): a
//! leader about to fsync waits for writers that announced a commit, so one fsync
//! covers them; a lone writer never waits; a writer that never comes only costs
//! the bound. The waits here are made deterministic by the test, never by timing:
//! the bound is long (a minute) where a test needs the leader to wait, and the
//! test waits for the leader to be gathering before it acts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use strata_fs::FaultFs;
use strata_wal::{Durability, Wal, WalOptions};

/// A log on a disk whose fsyncs take 200 ms: a leader's wait for one more
/// commit is worth up to a sync time, long enough for the test to act in.
fn open(wait: Duration) -> (FaultFs, Wal) {
    let fs = FaultFs::new();
    fs.set_sync_delay(Duration::from_millis(200));
    let opts = WalOptions {
        fs: std::sync::Arc::new(fs.clone()),
        group_commit_wait: wait,
        ..WalOptions::default()
    };
    let (wal, _) = Wal::open(std::path::Path::new("/wal"), opts).unwrap();
    // One sync first, so the log knows how long an fsync takes (it never
    // gathers before).
    wal.append(b"warm-up", Durability::Sync).unwrap();
    (fs, wal)
}

/// Polls `cond` until it holds; panics after 60 s (a hang, not a timing check).
fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "never happened: {what}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_lone_writer_never_waits() {
    let (fs, wal) = open(Duration::from_secs(60));
    fs.set_sync_delay(Duration::ZERO);
    let before = wal.stats();
    for i in 0..200u32 {
        wal.append(&i.to_le_bytes(), Durability::Sync).unwrap();
        // Announced, appended, then synced: the intent is gone before the sync.
        let intent = wal.intend();
        wal.queue_batch(&[&i.to_be_bytes()]).unwrap();
        drop(intent);
        wal.sync().unwrap();
    }
    let s = wal.stats();
    assert_eq!(s.gathers, 0, "{s:?}");
    assert_eq!(s.syncs - before.syncs, 400, "one fsync per commit: {s:?}");
}

#[test]
fn the_leader_waits_for_an_announced_writer_and_one_fsync_covers_both() {
    let (_fs, wal) = open(Duration::from_secs(60));
    let before = wal.stats();
    let intent = wal.intend();
    std::thread::scope(|s| {
        let leader = s.spawn(|| {
            wal.queue_batch(&[b"first"]).unwrap();
            wal.sync().unwrap();
        });
        wait_until("the leader gathers", || {
            wal.stats().gathers > before.gathers
        });
        // The leader waits for this writer: its record joins the same fsync.
        let lsn = wal.queue_batch(&[b"second"]).unwrap();
        drop(intent);
        leader.join().unwrap();
        assert!(
            wal.synced_lsn() > lsn,
            "the second record is synced with the first"
        );
    });
    wal.sync().unwrap(); // nothing left to sync
    let after = wal.stats();
    assert_eq!(after.syncs - before.syncs, 1, "{after:?}");
    assert_eq!(after.gather_timeouts, 0, "{after:?}");
}

#[test]
fn a_writer_that_gives_up_releases_the_leader() {
    let (_fs, wal) = open(Duration::from_secs(60));
    let before = wal.stats();
    let intent = wal.intend();
    std::thread::scope(|s| {
        let leader = s.spawn(|| {
            wal.queue_batch(&[b"mine"]).unwrap();
            wal.sync().unwrap();
        });
        wait_until("the leader gathers", || {
            wal.stats().gathers > before.gathers
        });
        // A failed condition, say: nothing appended, the intent withdrawn.
        drop(intent);
        leader.join().unwrap();
    });
    let after = wal.stats();
    assert_eq!(after.syncs - before.syncs, 1, "{after:?}");
}

#[test]
fn a_writer_that_never_comes_costs_at_most_the_bound() {
    let (_fs, wal) = open(Duration::from_millis(20));
    let _never = wal.intend();
    let lsn = wal.queue_batch(&[b"alone"]).unwrap();
    wal.sync().unwrap();
    assert!(wal.synced_lsn() > lsn);
    let s = wal.stats();
    assert!(s.gathers >= 1 && s.gather_timeouts >= 1, "{s:?}");
}

#[test]
fn gathering_disabled_never_waits() {
    let (_fs, wal) = open(Duration::ZERO);
    let _announced = wal.intend();
    wal.queue_batch(&[b"x"]).unwrap();
    wal.sync().unwrap();
    assert_eq!(wal.stats().gathers, 0);
}
