//! Injected I/O errors and power loss (FaultFs): errors reach the caller,
//! poison the log, and no acknowledged record is ever lost.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use common::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata_fs::{FaultFs, FaultKind, FaultOp, FileSystem};
use strata_wal::{Durability, Lsn, Wal, WalError, WalOptions};

/// Checks that the log on `fs` holds every acknowledged record, with the
/// right bytes, and that what it holds is a gap-free run of LSNs.
fn check_recovered(
    fs: &FaultFs,
    acked: &BTreeMap<Lsn, Vec<u8>>,
    attempted: &[Vec<u8>],
    min_lsn: Lsn,
) {
    let (wal, _report) = Wal::open(dir(), opts(fs)).unwrap();
    let got = read_all(&wal);
    for w in got.windows(2) {
        assert_eq!(w[0].0 + 1, w[1].0, "hole in recovered LSNs");
    }
    for (lsn, r) in &got {
        assert_eq!(
            r,
            &attempted[(*lsn - 1) as usize],
            "record {lsn} has other bytes"
        );
    }
    let present: BTreeMap<Lsn, &Vec<u8>> = got.iter().map(|(l, r)| (*l, r)).collect();
    for (lsn, r) in acked.range(min_lsn..) {
        assert_eq!(present.get(lsn), Some(&r), "acknowledged record {lsn} lost");
    }
    assert_eq!(
        wal.next_lsn(),
        got.last().map_or(wal.next_lsn(), |l| l.0 + 1)
    );
}

fn poisoned<T: std::fmt::Debug>(r: Result<T, WalError>) -> bool {
    matches!(r, Err(WalError::Poisoned(_)))
}

fn eio_poisons(op: FaultOp) {
    let fs = fault_fs();
    let (wal, _) = Wal::open(dir(), opts(&fs)).unwrap();
    let mut acked = BTreeMap::new();
    let mut attempted = Vec::new();
    for i in 0..20u64 {
        let p = payload(i, 64);
        attempted.push(p.clone());
        acked.insert(wal.append(&p, Durability::Sync).unwrap(), p);
    }
    fs.inject(op, 1, FaultKind::Eio);
    let p = payload(99, 64);
    attempted.push(p.clone());
    let err = wal.append(&p, Durability::Sync).unwrap_err();
    match &err {
        WalError::Io { path, source } => {
            assert_eq!(path, &dir().join("000001.wal"));
            assert!(source.to_string().contains("injected EIO"), "{source}");
        }
        other => panic!("{other:?}"),
    }
    let size = fs.file_size(&dir().join("000001.wal")).unwrap();
    // Poisoned: nothing else is written to the segment.
    assert!(poisoned(wal.append(b"later", Durability::Sync)));
    assert!(poisoned(wal.append(b"later", Durability::Buffered)));
    assert!(poisoned(wal.append(b"later", Durability::None)));
    assert!(poisoned(wal.append_batch(&[b"x"], Durability::Sync)));
    assert!(poisoned(wal.sync()));
    let msg = wal.sync().unwrap_err().to_string();
    assert!(
        msg.contains("poisoned") && msg.contains("injected EIO"),
        "{msg}"
    );
    assert!(poisoned(wal.close()));
    assert!(matches!(wal.sync(), Err(WalError::Closed)));
    assert_eq!(fs.file_size(&dir().join("000001.wal")).unwrap(), size);
    // Power loss, then reopen: every acknowledged record is there.
    check_recovered(&fs.recovered(), &acked, &attempted, 1);
    // A process restart (no power loss) too.
    drop(wal);
    check_recovered(&fs, &acked, &attempted, 1);
    let (wal, _) = Wal::open(dir(), opts(&fs)).unwrap();
    wal.append(b"works again", Durability::Sync).unwrap();
}

#[test]
fn eio_on_write_poisons_and_reopen_recovers() {
    eio_poisons(FaultOp::Write);
}

#[test]
fn eio_on_sync_poisons_and_reopen_recovers() {
    eio_poisons(FaultOp::Sync);
}

#[test]
fn enospc_while_rotating_poisons() {
    let fs = fault_fs();
    let o = || WalOptions {
        segment_size: 500,
        ..opts(&fs)
    };
    let (wal, _) = Wal::open(dir(), o()).unwrap();
    let mut acked = BTreeMap::new();
    let mut attempted = Vec::new();
    for i in 0..5u64 {
        let p = payload(i, 100);
        attempted.push(p.clone());
        acked.insert(wal.append(&p, Durability::Sync).unwrap(), p);
    }
    // The next append rotates; creating the new segment fails.
    fs.inject(FaultOp::Create, 1, FaultKind::Enospc);
    let err = wal.append(b"rotates", Durability::Sync).unwrap_err();
    match &err {
        WalError::Io { path, source } => {
            assert_eq!(path, &dir().join("000002.wal"));
            assert_eq!(source.kind(), std::io::ErrorKind::StorageFull);
        }
        other => panic!("{other:?}"),
    }
    assert!(poisoned(wal.append(b"x", Durability::Buffered)));
    drop(wal);
    check_recovered(&fs.recovered(), &acked, &attempted, 1);
    check_recovered(&fs, &acked, &attempted, 1);
}

#[test]
fn a_torn_failed_write_is_cut_at_reopen_and_never_followed() {
    let fs = fault_fs();
    let behaviour = Arc::new(Behaviour::default());
    let wrapped = Wrapped {
        inner: Arc::new(fs.clone()),
        behaviour: Arc::clone(&behaviour),
    };
    let (wal, _) = Wal::open(dir(), opts_on(Arc::new(wrapped))).unwrap();
    let mut acked = BTreeMap::new();
    let mut attempted = Vec::new();
    for i in 0..10u64 {
        let p = payload(i, 300);
        attempted.push(p.clone());
        acked.insert(wal.append(&p, Durability::Buffered).unwrap(), p);
    }
    behaviour.tear_next_append.store(true, Ordering::SeqCst);
    let batch: Vec<Vec<u8>> = (10..13u64).map(|i| payload(i, 300)).collect();
    attempted.extend(batch.iter().cloned());
    let refs: Vec<&[u8]> = batch.iter().map(|r| &r[..]).collect();
    assert!(matches!(
        wal.append_batch(&refs, Durability::Sync),
        Err(WalError::Io { .. })
    ));
    let seg = dir().join("000001.wal");
    let size = fs.file_size(&seg).unwrap();
    // Half of the batch (one record and a part of the second) reached the file.
    assert!(poisoned(wal.append(b"hidden?", Durability::Sync)));
    assert_eq!(
        fs.file_size(&seg).unwrap(),
        size,
        "a record followed a failed write"
    );
    drop(wal);
    let (wal, report) = Wal::open(dir(), opts(&fs)).unwrap();
    assert_eq!(report.records, 11);
    assert_eq!(report.dropped.len(), 1, "{report:?}");
    assert_eq!(report.dropped[0].segment, seg);
    drop(wal);
    check_recovered(&fs, &acked, &attempted, 1);
}

/// One step of the crash workload.
fn workload(
    wal: &Wal,
    rng: &mut StdRng,
    attempted: &mut Vec<Vec<u8>>,
    acked: &mut BTreeMap<Lsn, Vec<u8>>,
    durable_upto: &mut Lsn,
    truncated: &mut Lsn,
) -> Result<(), WalError> {
    let step = rng.random_range(0..100u32);
    let len = match rng.random_range(0..10u32) {
        0 => 0,
        1 => rng.random_range(1000..40_000),
        _ => rng.random_range(1..300),
    };
    let i = attempted.len() as u64;
    match step {
        0..50 => {
            let p = payload(i, len);
            attempted.push(p.clone());
            let lsn = wal.append(&p, Durability::Sync)?;
            acked.insert(lsn, p);
            *durable_upto = lsn + 1;
        }
        50..70 => {
            let a = payload(i, len);
            let b = payload(i + 1, 7);
            attempted.push(a.clone());
            attempted.push(b.clone());
            let d = if step < 60 {
                Durability::Buffered
            } else {
                Durability::None
            };
            wal.append_batch(&[&a, &b], d)?;
        }
        70..85 => {
            let p = payload(i, len);
            attempted.push(p.clone());
            wal.append(&p, Durability::None)?;
        }
        85..98 => {
            wal.sync()?;
            *durable_upto = wal.next_lsn();
        }
        _ => {
            let cut = wal.next_lsn().saturating_sub(50).max(1);
            *truncated = (*truncated).max(cut);
            wal.truncate_before(cut)?;
        }
    }
    Ok(())
}

#[test]
fn power_loss_at_every_crash_point_keeps_acknowledged_records() {
    let mut k = 1u64;
    let mut completed = false;
    while !completed {
        for torn in [None, Some(k)] {
            let fs = fault_fs();
            fs.set_torn_writes(torn);
            fs.crash_at_point(k);
            let o = WalOptions {
                segment_size: 8 * 1024,
                ..opts(&fs)
            };
            let mut rng = StdRng::seed_from_u64(7);
            let mut attempted = Vec::new();
            let mut acked = BTreeMap::new();
            let mut durable_upto = 1;
            let mut truncated = 1;
            let mut finished = false;
            if let Ok((wal, _)) = Wal::open(dir(), o) {
                finished = true;
                for _ in 0..150 {
                    if workload(
                        &wal,
                        &mut rng,
                        &mut attempted,
                        &mut acked,
                        &mut durable_upto,
                        &mut truncated,
                    )
                    .is_err()
                    {
                        finished = false;
                        break;
                    }
                }
                if finished {
                    assert!(!fs.has_crashed());
                }
            }
            let after = fs.recovered();
            check_recovered(&after, &acked, &attempted, truncated);
            // Everything synced before the crash is there (a prefix, no holes).
            let (wal, _) = Wal::open(dir(), opts(&after)).unwrap();
            assert!(
                wal.next_lsn() >= durable_upto,
                "crash point {k}: synced records lost"
            );
            drop(wal);
            completed |= finished && torn.is_none();
        }
        k += 1;
    }
    assert!(k > 50, "only {k} crash points");
}

#[test]
fn buffered_and_none_appends_recover_to_a_prefix_after_power_loss() {
    for seed in 0..40u64 {
        let fs = fault_fs();
        fs.set_torn_writes(Some(seed));
        let o = WalOptions {
            segment_size: 4 * 1024,
            write_buffer_size: 2048,
            ..opts(&fs)
        };
        let (wal, _) = Wal::open(dir(), o).unwrap();
        let mut rng = StdRng::seed_from_u64(seed);
        let mut attempted = Vec::new();
        let n = rng.random_range(1..200);
        for i in 0..n {
            let p = payload(i, rng.random_range(0..500));
            let d = if rng.random_bool(0.5) {
                Durability::Buffered
            } else {
                Durability::None
            };
            wal.append(&p, d).unwrap();
            attempted.push(p);
        }
        let after = fs.recovered();
        drop(wal);
        let (wal, _) = Wal::open(dir(), opts(&after)).unwrap();
        let got = read_all(&wal);
        for (i, (lsn, r)) in got.iter().enumerate() {
            assert_eq!(*lsn, i as u64 + 1, "seed {seed}: not a prefix");
            assert_eq!(r, &attempted[i], "seed {seed}");
        }
        // Rotation syncs the old segment: all full segments survive.
        assert!(got.len() as u64 + 1 >= wal.next_lsn());
    }
}

#[test]
fn concurrent_sync_appenders_lose_nothing_at_power_loss() {
    for k in [20u64, 45, 80, 130] {
        let fs = fault_fs();
        fs.crash_at_point(k);
        let o = WalOptions {
            segment_size: 4 * 1024,
            ..opts(&fs)
        };
        let (wal, _) = Wal::open(dir(), o).unwrap();
        let wal = Arc::new(wal);
        let handles: Vec<_> = (0..4u64)
            .map(|t| {
                let wal = Arc::clone(&wal);
                std::thread::spawn(move || {
                    let mut acked = Vec::new();
                    for i in 0..200u64 {
                        let p = payload(t * 10_000 + i, 50 + (i as usize % 100));
                        match wal.append(&p, Durability::Sync) {
                            Ok(lsn) => acked.push((lsn, p)),
                            Err(_) => break,
                        }
                    }
                    acked
                })
            })
            .collect();
        let acked: Vec<(Lsn, Vec<u8>)> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        assert!(fs.has_crashed(), "crash point {k} never reached");
        let after = fs.recovered();
        let (w2, _) = Wal::open(dir(), opts(&after)).unwrap();
        let got: BTreeMap<Lsn, Vec<u8>> = read_all(&w2).into_iter().collect();
        for (lsn, p) in &acked {
            assert_eq!(
                got.get(lsn),
                Some(p),
                "crash point {k}: acknowledged record {lsn} lost"
            );
        }
    }
}
