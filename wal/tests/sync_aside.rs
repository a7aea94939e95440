//! `Wal::sync_aside`, the background sync: it makes everything written durable
//! through a second handle to the segment, so appenders of `Buffered` records never
//! wait for its fsync; a failed sync poisons the log; a power loss after it keeps
//! everything it covered. Waits are made deterministic by a slow simulated disk
//! (`FaultFs::set_sync_delay`), never by timing the code under test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;
use strata_fs::{FaultKind, FaultOp};
use strata_wal::{Durability, Wal, WalOptions};

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
fn buffered_appends_go_on_while_the_background_sync_runs() {
    let fs = fault_fs();
    let (wal, _) = Wal::open(dir(), opts(&fs)).unwrap();
    wal.append(b"first", Durability::None).unwrap();
    // The sync takes 2 s: long enough that the appends below, which need the
    // log's leader to hand their records to the OS, finish inside it unless
    // they wait for it.
    fs.set_sync_delay(Duration::from_secs(2));
    let synced = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            wal.sync_aside().unwrap();
            synced.store(true, Ordering::SeqCst);
        });
        wait_until("the sync starts", || fs.syncs_in_flight() == 1);
        for i in 0..50u32 {
            wal.append(&i.to_le_bytes(), Durability::Buffered).unwrap();
        }
        assert!(
            !synced.load(Ordering::SeqCst) && fs.syncs_in_flight() == 1,
            "the appends waited for the sync"
        );
    });
    fs.set_sync_delay(Duration::ZERO);
    assert!(synced.load(Ordering::SeqCst));
}

#[test]
fn what_it_synced_survives_a_power_loss() {
    let fs = fault_fs();
    let (wal, _) = Wal::open(dir(), opts(&fs)).unwrap();
    let mut last = 0;
    for i in 0..200u64 {
        last = wal.append(&payload(i, 100), Durability::None).unwrap();
    }
    assert!(wal.sync_aside().unwrap() > last);
    // Not synced: may be lost.
    wal.append(b"after", Durability::None).unwrap();
    fs.crash();
    drop(wal);
    let fs = fs.recovered();
    let (wal, _) = Wal::open(dir(), opts(&fs)).unwrap();
    let got = read_all(&wal);
    assert!(got.len() >= 200, "{} records recovered", got.len());
    for (i, (lsn, r)) in got.iter().take(200).enumerate() {
        assert_eq!(*lsn, i as u64 + 1);
        assert_eq!(r, &payload(i as u64, 100));
    }
}

#[test]
fn a_failed_sync_poisons_the_log() {
    let fs = fault_fs();
    let (wal, _) = Wal::open(dir(), opts(&fs)).unwrap();
    wal.append(b"x", Durability::None).unwrap();
    fs.inject(FaultOp::Sync, 1, FaultKind::Eio);
    assert!(wal.sync_aside().is_err());
    assert!(wal.append(b"y", Durability::None).is_err(), "poisoned");
    assert!(wal.sync().is_err());
}

#[test]
fn nothing_written_means_no_sync() {
    let fs = fault_fs();
    let (wal, _) = Wal::open(dir(), WalOptions { ..opts(&fs) }).unwrap();
    wal.append(b"x", Durability::Sync).unwrap();
    let before = wal.stats().syncs;
    wal.sync_aside().unwrap();
    assert_eq!(wal.stats().syncs, before);
}
