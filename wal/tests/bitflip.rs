//! Bit flips: every single-bit flip in a small log is detected (an error, or a
//! dropped tail in the recovery report) and never returned as a record with
//! different bytes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::PathBuf;

use common::*;
use strata_fs::{FaultFs, FileSystem};
use strata_wal::{BLOCK_SIZE, DropKind, Durability, RecoveryMode, Wal, WalError, WalOptions};

fn open_mode(
    fs: &FaultFs,
    mode: RecoveryMode,
) -> Result<(Wal, strata_wal::RecoveryReport), WalError> {
    Wal::open(
        dir(),
        WalOptions {
            recovery_mode: mode,
            segment_size: 200,
            ..opts(fs)
        },
    )
}

fn build(records: &[Vec<u8>], segment_size: u64) -> FaultFs {
    let fs = fault_fs();
    let (wal, _) = Wal::open(
        dir(),
        WalOptions {
            segment_size,
            ..opts(&fs)
        },
    )
    .unwrap();
    for r in records {
        wal.append(r, Durability::Sync).unwrap();
    }
    drop(wal);
    fs
}

/// Flips one bit and checks every recovery mode.
fn check_flip(base: &FaultFs, segs: &[PathBuf], si: usize, off: u64, bit: u8, records: &[Vec<u8>]) {
    let path = &segs[si];
    let is_last = si + 1 == segs.len();
    let what = format!("{} byte {off} bit {bit}", path.display());
    let img = base.recovered();
    img.flip_byte(path, off, 1 << bit).unwrap();
    let len = img.file_size(path).unwrap();

    // AbsoluteConsistency: always an error naming the damaged segment.
    match open_mode(&img, RecoveryMode::AbsoluteConsistency) {
        Err(WalError::Corruption {
            segment, offset, ..
        }) => {
            assert_eq!(&segment, path, "{what}");
            assert!(offset <= len, "{what}");
        }
        Ok(_) => panic!("{what}: AbsoluteConsistency accepted a flipped bit"),
        Err(e) => panic!("{what}: {e}"),
    }

    // TolerateCorruptedTail: only damage to the very last record (nothing
    // valid after it) is a torn tail; anything else is an error.
    let img = base.recovered();
    img.flip_byte(path, off, 1 << bit).unwrap();
    match open_mode(&img, RecoveryMode::TolerateCorruptedTail) {
        Ok((wal, report)) => {
            assert!(is_last, "{what}: damage in a non-last segment accepted");
            assert_eq!(report.dropped.len(), 1, "{what}: {report:?}");
            assert_eq!(report.dropped[0].kind, DropKind::TornTail, "{what}");
            assert_eq!(&report.dropped[0].segment, path, "{what}");
            let got = read_all(&wal);
            assert_eq!(
                got.len(),
                records.len() - 1,
                "{what}: a flip before the last record was taken for a torn tail"
            );
            for (i, (lsn, r)) in got.iter().enumerate() {
                assert_eq!(*lsn, i as u64 + 1, "{what}");
                assert_eq!(r, &records[i], "{what}: returned a changed record");
            }
        }
        Err(WalError::Corruption { segment, .. }) => {
            assert_eq!(&segment, path, "{what}");
        }
        Err(e) => panic!("{what}: {e}"),
    }

    // PointInTime: keeps the records before the damage.
    let img = base.recovered();
    img.flip_byte(path, off, 1 << bit).unwrap();
    match open_mode(&img, RecoveryMode::PointInTime) {
        Ok((wal, report)) => {
            assert!(!report.dropped.is_empty(), "{what}: flip not reported");
            assert_eq!(&report.dropped[0].segment, path, "{what}");
            let got = read_all(&wal);
            assert_eq!(got.len() as u64, report.records);
            for (i, (lsn, r)) in got.iter().enumerate() {
                assert_eq!(*lsn, i as u64 + 1, "{what}");
                assert_eq!(r, &records[i], "{what}: returned a changed record");
            }
        }
        Err(WalError::Corruption { segment, .. }) => {
            // Only when no segment with a readable header is left before the
            // damage.
            assert_eq!(&segment, path, "{what}");
            assert!(si == 0 && off < 32, "{what}");
        }
        Err(e) => panic!("{what}: PointInTime: {e}"),
    }

    // SkipCorruptedRecords: exactly the damaged record is lost; every other
    // record comes back unchanged and in order.
    let img = base.recovered();
    img.flip_byte(path, off, 1 << bit).unwrap();
    match open_mode(&img, RecoveryMode::SkipCorruptedRecords) {
        Ok((wal, report)) => {
            assert!(!report.dropped.is_empty(), "{what}: flip not reported");
            assert_eq!(&report.dropped[0].segment, path, "{what}");
            let got: Vec<Vec<u8>> = read_all(&wal).into_iter().map(|(_, r)| r).collect();
            assert_eq!(got.len() as u64, report.records, "{what}");
            if got.len() == records.len() {
                // Damage to trailer padding holds no record.
                assert_eq!(&got, records, "{what}");
                return;
            }
            assert_eq!(got.len(), records.len() - 1, "{what}: {report:?}");
            let missing = (0..records.len())
                .find(|&i| got.get(i) != Some(&records[i]))
                .unwrap();
            assert_eq!(&got[missing..], &records[missing + 1..], "{what}");
            if missing + 1 < records.len() && report.dropped[0].kind == DropKind::Corruption {
                assert!(
                    report.salvaged_records > 0 || !is_last,
                    "{what}: {report:?}"
                );
            }
            if !is_last {
                assert_eq!(report.dropped[0].records, Some(1), "{what}: {report:?}");
            }
        }
        Err(WalError::Corruption {
            segment, offset, ..
        }) => {
            // A damaged segment header is not salvageable.
            assert_eq!(&segment, path, "{what}");
            assert!(off < 32 && offset < 32, "{what}");
        }
        Err(e) => panic!("{what}: SkipCorruptedRecords: {e}"),
    }
}

#[test]
fn every_bit_flip_in_a_small_log_is_detected() {
    let records: Vec<Vec<u8>> = [0usize, 1, 20, 50, 3, 90, 0, 7, 64]
        .iter()
        .enumerate()
        .map(|(i, &n)| payload(i as u64, n))
        .collect();
    let base = build(&records, 200);
    let segs = segment_files(&base, dir());
    assert!(segs.len() >= 2, "{segs:?}");
    let mut flips = 0;
    for si in 0..segs.len() {
        let len = base.file_size(&segs[si]).unwrap();
        for off in 0..len {
            for bit in 0..8 {
                check_flip(&base, &segs, si, off, bit, &records);
                flips += 1;
            }
        }
    }
    assert!(flips > 2000, "{flips}");
}

#[test]
fn bit_flips_in_block_spanning_records_and_padding_are_detected() {
    // One segment: a small record, a record spanning blocks 0-2 (FIRST,
    // MIDDLE, LAST), then one that leaves trailer padding, then small ones.
    let first = payload(1, 100);
    let big = payload(2, 2 * BLOCK_SIZE);
    // After `big` ends, fill to 3 bytes before the next block boundary.
    let end_big = {
        let bytes = strata_wal::encode_segment_bytes(1, 1, &[&first, &big]);
        bytes.len()
    };
    let pad = BLOCK_SIZE - end_big % BLOCK_SIZE - 8 - 3;
    let records = vec![first, big, payload(3, pad), payload(4, 0), payload(5, 33)];
    let base = build(&records, 1 << 30);
    let segs = segment_files(&base, dir());
    assert_eq!(segs.len(), 1);
    let len = base.file_size(&segs[0]).unwrap() as usize;
    let mut offsets: Vec<usize> = (0..64).collect();
    for k in 1..=len / BLOCK_SIZE {
        let b = k * BLOCK_SIZE;
        offsets.extend(b.saturating_sub(16)..(b + 16).min(len));
    }
    offsets.extend((0..len).step_by(97));
    offsets.extend(len.saturating_sub(60)..len);
    offsets.sort_unstable();
    offsets.dedup();
    for off in offsets {
        for bit in 0..8 {
            check_flip(&base, &segs, 0, off as u64, bit, &records);
        }
    }
}
