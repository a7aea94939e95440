//! Preallocated and recycled segments (format version 2): a retired segment's
//! file becomes a later segment; its old records are never read as new ones,
//! whatever moment a power loss hits; version-1 logs are still read.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;

use common::*;
use strata_fs::{FaultFs, FaultKind, FaultOp, FileSystem};
use strata_wal::{Durability, Lsn, SEGMENT_HEADER_SIZE, Wal, WalOptions};

fn recycling(fs: &FaultFs, preallocate: u64) -> WalOptions {
    WalOptions {
        segment_size: 2048,
        preallocate,
        recycle_segments: 2,
        ..opts(fs)
    }
}

/// Appends `n` records from `first`, retiring segments as it goes so that
/// later segments reuse earlier files; returns the acknowledged records.
/// Stops at the first error (a crash point).
fn churn(wal: &Wal, first: u64, n: u64, acked: &mut BTreeMap<Lsn, Vec<u8>>) -> bool {
    for i in first..first + n {
        // Sizes vary so that new records never line up with old ones.
        let p = payload(i, 40 + (i as usize * 37) % 400);
        match wal.append(&p, Durability::Sync) {
            Ok(lsn) => {
                acked.insert(lsn, p);
            }
            Err(_) => return false,
        }
        if i % 5 == 4 && wal.rotate().is_err() {
            return false;
        }
        // Keep only the newest segments: the rest become spares.
        if i % 7 == 6
            && wal
                .truncate_before(wal.next_lsn().saturating_sub(12))
                .is_err()
        {
            return false;
        }
    }
    true
}

/// Opens the log on `fs` and checks it holds a gap-free run of records that
/// were appended (with the right bytes), including every acknowledged one
/// still above the retention point.
fn check(acked: &BTreeMap<Lsn, Vec<u8>>, o: WalOptions, what: &str) -> Wal {
    let (wal, report) =
        Wal::open(dir(), o).unwrap_or_else(|e| panic!("{what}: reopen failed: {e}"));
    assert!(!report.has_corruption(), "{what}: {report:?}");
    let got = read_all(&wal);
    for w in got.windows(2) {
        assert_eq!(w[0].0 + 1, w[1].0, "{what}: hole in recovered LSNs");
    }
    let first = got.first().map_or(wal.next_lsn(), |r| r.0);
    for (lsn, r) in &got {
        if let Some(a) = acked.get(lsn) {
            assert_eq!(r, a, "{what}: record {lsn} has other bytes (stale data?)");
        }
    }
    let present: BTreeMap<Lsn, &Vec<u8>> = got.iter().map(|(l, r)| (*l, r)).collect();
    for (lsn, r) in acked.range(first..) {
        assert_eq!(
            present.get(lsn),
            Some(&r),
            "{what}: acknowledged {lsn} lost"
        );
    }
    // The last acknowledged record always survives.
    if let Some((last, _)) = acked.last_key_value() {
        assert!(wal.next_lsn() > *last, "{what}: log ends before {last}");
    }
    wal
}

/// Cuts the power under `wal` (dropped without a clean close), then checks
/// the recovered log as [`check`] does; returns the surviving file system
/// and the reopened log.
fn lose_power(
    fs: &FaultFs,
    wal: Wal,
    acked: &BTreeMap<Lsn, Vec<u8>>,
    preallocate: u64,
    what: &str,
) -> (FaultFs, Wal) {
    std::mem::forget(wal);
    let img = fs.recovered();
    let wal = check(acked, recycling(&img, preallocate), what);
    (img, wal)
}

#[test]
fn a_growing_segment_grows_in_chunks_of_up_to_four_preallocations() {
    let fs = fault_fs();
    let o = WalOptions {
        segment_size: 1 << 20,
        preallocate: 1024,
        ..opts(&fs)
    };
    let (wal, _) = Wal::open(dir(), o).unwrap();
    let mut sizes = Vec::new();
    for i in 0..400u64 {
        wal.append(&payload(i, 100), Durability::Buffered).unwrap();
        let size = fs
            .file_size(&segment_files(&fs, dir()).pop().unwrap())
            .unwrap();
        if sizes.last() != Some(&size) {
            sizes.push(size);
        }
    }
    assert_eq!(wal.stats().records, 400);
    // Every growth is a whole number of 1 KiB chunks: one at a time while the
    // segment is under 4 KiB, then a quarter of its size, at most 4 KiB.
    let steps: Vec<u64> = sizes.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(sizes.iter().all(|s| s % 1024 == 0), "{sizes:?}");
    assert!(steps.iter().all(|s| (1024..=4096).contains(s)), "{steps:?}");
    assert_eq!(steps.first(), Some(&1024), "{steps:?}");
    assert_eq!(steps.last(), Some(&4096), "{steps:?}");
    assert!(*sizes.last().unwrap() >= 40_000, "{sizes:?}");
    // What was written reads back.
    let got = read_all(&wal);
    assert_eq!(got.len(), 400);
    for (i, (_, r)) in got.iter().enumerate() {
        assert_eq!(r, &payload(i as u64, 100));
    }
}

#[test]
fn retired_segments_become_new_ones_and_their_old_records_stay_old() {
    for preallocate in [0, 3000] {
        let fs = fault_fs();
        let o = recycling(&fs, preallocate);
        let (wal, _) = Wal::open(dir(), o.clone()).unwrap();
        let mut acked = BTreeMap::new();
        assert!(churn(&wal, 0, 300, &mut acked));
        let stats = wal.stats();
        assert!(stats.segments_recycled > 10, "{stats:?}");
        assert!(wal.spare_count() <= 2);
        let spares = fs
            .list(dir())
            .unwrap()
            .into_iter()
            .filter(|n| n.ends_with(".spare"))
            .count();
        assert_eq!(spares, wal.spare_count());
        let got = read_all(&wal);
        assert!(!got.is_empty());
        for (lsn, r) in &got {
            assert_eq!(Some(r), acked.get(lsn), "record {lsn}");
        }
        if preallocate > 0 {
            // The active segment is preallocated: longer than its records.
            let active = segment_files(&fs, dir()).pop().unwrap();
            assert!(fs.file_size(&active).unwrap() >= preallocate);
        }
        // Drop without a clean close: the recycled and preallocated bytes
        // stay, and recovery reads only the new records.
        let (img, wal) = lose_power(&fs, wal, &acked, preallocate, "reopen");
        assert_eq!(read_all(&wal), got);
        // A clean close deletes the spares and cuts the preallocated tail.
        wal.close().unwrap();
        drop(wal);
        let names = img.list(dir()).unwrap();
        assert!(!names.iter().any(|n| n.ends_with(".spare")), "{names:?}");
    }
}

#[test]
fn power_loss_at_every_crash_point_with_recycling_keeps_acknowledged_records_only() {
    // 256 bytes grows a 2 KiB segment in chunks of 256 and then 512 bytes
    // (`growth_chunk`): growth of every size is crashed into.
    for (preallocate, torn) in [
        (0, None),
        (3000, None),
        (256, None),
        (0, Some(7)),
        (3000, Some(11)),
        (256, Some(13)),
    ] {
        // Count the crash points of the whole workload.
        let fs = fault_fs();
        let (wal, _) = Wal::open(dir(), recycling(&fs, preallocate)).unwrap();
        let start = fs.points();
        assert!(churn(&wal, 0, 120, &mut BTreeMap::new()));
        let points = fs.points() - start;
        drop(wal);
        assert!(points > 100, "{points}");
        for k in 0..points {
            let fs = fault_fs();
            let (wal, _) = Wal::open(dir(), recycling(&fs, preallocate)).unwrap();
            fs.set_torn_writes(torn.map(|s| s + k));
            fs.crash_at_point(fs.points() + k);
            let mut acked = BTreeMap::new();
            churn(&wal, 0, 120, &mut acked);
            assert!(fs.has_crashed(), "point {k} of {points} not reached");
            let what = format!("prealloc {preallocate} torn {torn:?} point {k}");
            let (img, wal) = lose_power(&fs, wal, &acked, preallocate, &what);
            // The log takes appends after recovery and reopens with them.
            let next = wal.append(b"after", Durability::Sync).unwrap();
            drop(wal);
            let (wal, report) = Wal::open(dir(), recycling(&img, preallocate)).unwrap();
            assert!(report.is_clean(), "{what}: {report:?}");
            assert_eq!(read_all(&wal).last().unwrap(), &(next, b"after".to_vec()));
        }
    }
}

#[test]
fn a_spare_left_by_a_crash_is_ignored_and_its_number_never_reused() {
    let fs = fault_fs();
    let o = recycling(&fs, 0);
    let (wal, _) = Wal::open(dir(), o.clone()).unwrap();
    let mut acked = BTreeMap::new();
    assert!(churn(&wal, 0, 56, &mut acked));
    let spare_numbers: Vec<u64> = fs
        .list(dir())
        .unwrap()
        .iter()
        .filter_map(|n| n.strip_suffix(".spare").map(|s| s.parse().unwrap()))
        .collect();
    assert!(!spare_numbers.is_empty());
    drop(wal);
    // The clean close deleted the spares; put one back (as a crash between
    // retiring a segment and reusing it would leave it), holding a copy of
    // the newest segment's records under an old number.
    let newest = segment_files(&fs, dir()).pop().unwrap();
    let bytes = fs.read_all(&newest).unwrap();
    let spare = dir().join(format!("{:06}.spare", spare_numbers[0]));
    let mut f = fs.create(&spare).unwrap();
    f.append(&bytes).unwrap();
    f.sync().unwrap();
    fs.sync_dir(dir()).unwrap();
    drop(f);
    let wal = check(&acked, o.clone(), "with a spare");
    assert_eq!(wal.spare_count(), 1);
    let before = read_all(&wal);
    // Reusing it: the copied records (seeded with the newest segment's tag)
    // do not belong to the segment it becomes.
    wal.rotate().unwrap();
    wal.append(b"x", Durability::Sync).unwrap();
    wal.rotate().unwrap();
    assert!(wal.stats().segments_recycled >= 1);
    std::mem::forget(wal);
    let img = fs.recovered();
    let (wal, report) = Wal::open(dir(), recycling(&img, 0)).unwrap();
    assert!(report.is_clean(), "{report:?}");
    let after = read_all(&wal);
    assert_eq!(&after[..before.len()], &before[..]);
    assert_eq!(after[before.len()].1, b"x");
    assert_eq!(after.len(), before.len() + 1);
}

/// A retired segment becomes a spare only once its rename is durable. Here
/// the directory sync after the rename fails, then a rotation needs a new
/// segment and a power loss follows before that rotation's rename: had the
/// rotation rewritten the spare's file, the new segment's header would now
/// sit under the old segment's name, ahead of the segment that followed it,
/// and the log would not open.
#[test]
fn a_spare_whose_rename_is_not_durable_is_never_reused() {
    let fs = fault_fs();
    let (wal, _) = Wal::open(dir(), recycling(&fs, 0)).unwrap();
    let mut acked = BTreeMap::new();
    for i in 0..3u64 {
        let p = payload(i, 60);
        acked.insert(wal.append(&p, Durability::Sync).unwrap(), p);
        wal.rotate().unwrap();
    }
    // Segments 1..=4; retiring those below the last record's LSN renames
    // segment 1 (and 2) to spares, and the directory sync fails.
    fs.inject(FaultOp::SyncDir, 1, FaultKind::Eio);
    assert!(wal.truncate_before(wal.next_lsn() - 1).is_err());
    assert_eq!(
        wal.spare_count(),
        0,
        "a spare offered before its rename is durable"
    );
    // The next rotation's rename fails; the power goes out.
    fs.inject(FaultOp::Rename, 1, FaultKind::Eio);
    let p = payload(9, 60);
    acked.insert(wal.append(&p, Durability::Sync).unwrap(), p);
    let _ = wal.rotate();
    lose_power(&fs, wal, &acked, 0, "after the failed directory sync");
}

/// Appends (rotating often) on one thread while another retires segments, as
/// a tree's writers and its flushes do; stops at the first error.
fn churn_concurrently(wal: &Wal, n: u64) -> BTreeMap<Lsn, Vec<u8>> {
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(std::sync::atomic::Ordering::Acquire) {
                if wal
                    .truncate_before(wal.next_lsn().saturating_sub(3))
                    .is_err()
                {
                    break;
                }
                std::thread::yield_now();
            }
        });
        let mut acked = BTreeMap::new();
        for i in 0..n {
            let p = payload(i, 40 + (i as usize * 37) % 400);
            match wal.append(&p, Durability::Sync) {
                Ok(lsn) => {
                    acked.insert(lsn, p);
                }
                Err(_) => break,
            }
            if i % 3 == 2 && wal.rotate().is_err() {
                break;
            }
        }
        done.store(true, std::sync::atomic::Ordering::Release);
        acked
    })
}

/// Power loss at every crash point while segments are retired and reused
/// concurrently with appends and rotations: whatever the interleaving, the
/// log opens with every acknowledged record still above the retention point.
#[test]
fn power_loss_while_segments_are_retired_concurrently() {
    for round in 0..4u64 {
        let fs = fault_fs();
        let (wal, _) = Wal::open(dir(), recycling(&fs, 0)).unwrap();
        let start = fs.points();
        churn_concurrently(&wal, 60);
        let points = fs.points() - start;
        drop(wal);
        for k in 0..points {
            let fs = fault_fs();
            let (wal, _) = Wal::open(dir(), recycling(&fs, 0)).unwrap();
            fs.set_torn_writes((round % 2 == 1).then_some(round + k));
            fs.crash_at_point(fs.points() + k);
            let acked = churn_concurrently(&wal, 60);
            lose_power(&fs, wal, &acked, 0, &format!("round {round} point {k}"));
        }
    }
}

/// A version-1 segment as older writers left it: no checksum seed, no end
/// marker, the reserved header field zero.
fn v1_segment(first_lsn: u64, records: &[Vec<u8>]) -> Vec<u8> {
    let mask = |crc: u32| crc.rotate_right(15).wrapping_add(0xa282_ead8);
    let mut out = Vec::new();
    out.extend_from_slice(b"STRATAWL");
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&32768u32.to_le_bytes());
    out.extend_from_slice(&first_lsn.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    let crc = mask(crc32fast::hash(&out));
    out.extend_from_slice(&crc.to_le_bytes());
    assert_eq!(out.len(), SEGMENT_HEADER_SIZE);
    for r in records {
        assert!(r.len() < 1000); // FULL fragments inside block 0 only
        let len = (r.len() as u16).to_le_bytes();
        let mut frag = vec![0, 0, 0, 0, len[0], len[1], 1, 0];
        frag.extend_from_slice(r);
        let crc = mask(crc32fast::hash(&frag[4..]));
        frag[0..4].copy_from_slice(&crc.to_le_bytes());
        out.extend(frag);
    }
    out
}

#[test]
fn a_version_1_log_is_read_and_continued_in_a_version_2_segment() {
    let fs = fault_fs();
    fs.create_dir_all(dir()).unwrap();
    fs.sync_dir(dir().parent().unwrap()).unwrap();
    let old: Vec<Vec<u8>> = (0..20).map(|i| payload(i, 50 + i as usize)).collect();
    let path = dir().join("000003.wal");
    let mut f = fs.create(&path).unwrap();
    f.append(&v1_segment(1, &old)).unwrap();
    f.sync().unwrap();
    fs.sync_dir(dir()).unwrap();
    drop(f);
    let (wal, report) = Wal::open(dir(), opts(&fs)).unwrap();
    assert!(report.is_clean());
    assert_eq!(report.records, 20);
    let lsn = wal.append(b"new", Durability::Sync).unwrap();
    assert_eq!(lsn, 21);
    // The version-1 segment is left as it was; the new record is in a new
    // (version-2) segment.
    assert_eq!(fs.read_all(&path).unwrap(), v1_segment(1, &old));
    assert_eq!(segment_files(&fs, dir()).len(), 2);
    drop(wal);
    let (wal, report) = Wal::open(dir(), opts(&fs)).unwrap();
    assert!(report.is_clean());
    let got = read_all(&wal);
    assert_eq!(got.len(), 21);
    for (lsn, r) in &got[..20] {
        assert_eq!(r, &old[(*lsn - 1) as usize]);
    }
    assert_eq!(got[20], (21, b"new".to_vec()));
    // Retiring the version-1 segment recycles its file safely.
    assert_eq!(wal.truncate_before(21).unwrap(), 1);
    assert_eq!(wal.spare_count(), 1);
    wal.rotate().unwrap();
    assert_eq!(wal.stats().segments_recycled, 1);
    wal.append(b"newer", Durability::Sync).unwrap();
    wal.rotate().unwrap();
    wal.append(b"newest", Durability::Sync).unwrap();
    std::mem::forget(wal);
    let fs = fs.recovered();
    let (wal, report) = Wal::open(dir(), opts(&fs)).unwrap();
    assert!(report.is_clean(), "{report:?}");
    let tail: Vec<Vec<u8>> = read_all(&wal).into_iter().map(|(_, r)| r).collect();
    assert_eq!(
        tail,
        vec![b"new".to_vec(), b"newer".to_vec(), b"newest".to_vec()]
    );
}
