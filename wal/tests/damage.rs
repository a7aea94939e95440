//! Torn tail or corruption: damage followed by valid data is corruption (an
//! error, or skipped by salvage), damage with nothing valid after it at the end
//! of the last segment is a torn tail, and LSN gaps between segments are
//! errors. Each rule on a small log on the in-memory file system.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::PathBuf;

use common::*;
use strata_fs::{FaultFs, FileSystem};
use strata_wal::{
    DropKind, Durability, RecoveryMode, RecoveryReport, SEGMENT_HEADER_SIZE, Wal, WalError,
    WalOptions,
};

fn mode_opts(fs: &FaultFs, mode: RecoveryMode, segment_size: u64) -> WalOptions {
    WalOptions {
        recovery_mode: mode,
        segment_size,
        ..opts(fs)
    }
}

/// A log of `n` records of 100 bytes, closed cleanly.
fn build(n: u64, segment_size: u64) -> (FaultFs, Vec<Vec<u8>>) {
    let fs = fault_fs();
    let (wal, _) = Wal::open(
        dir(),
        mode_opts(&fs, RecoveryMode::TolerateCorruptedTail, segment_size),
    )
    .unwrap();
    let mut records = Vec::new();
    for i in 0..n {
        let p = payload(i, 100);
        wal.append(&p, Durability::Sync).unwrap();
        records.push(p);
    }
    drop(wal);
    (fs, records)
}

fn open(fs: &FaultFs, mode: RecoveryMode) -> Result<(Wal, RecoveryReport), WalError> {
    Wal::open(dir(), mode_opts(fs, mode, 1 << 20))
}

/// Offset of record `i` (0-based) in a one-segment log of 100-byte records.
fn record_offset(i: u64) -> u64 {
    SEGMENT_HEADER_SIZE as u64 + i * 108
}

fn snapshot(fs: &FaultFs) -> Vec<(PathBuf, Vec<u8>)> {
    segment_files(fs, dir())
        .into_iter()
        .map(|p| {
            let b = fs.read_all(&p).unwrap();
            (p, b)
        })
        .collect()
}

#[test]
fn a_flip_in_the_middle_of_the_last_segment_is_corruption_not_a_torn_tail() {
    let (fs, _) = build(10, 1 << 20);
    let seg = segment_files(&fs, dir()).pop().unwrap();
    // A payload byte of record 4 (LSN 5): records 6..10 follow it.
    let off = record_offset(4) + 50;
    fs.flip_byte(&seg, off, 0x04).unwrap();
    let before = snapshot(&fs);
    for mode in [
        RecoveryMode::TolerateCorruptedTail,
        RecoveryMode::AbsoluteConsistency,
    ] {
        match open(&fs, mode) {
            Err(WalError::Corruption {
                segment,
                offset,
                reason,
            }) => {
                assert_eq!(segment, seg);
                assert_eq!(offset, record_offset(4), "{reason}");
                assert!(reason.contains("not a torn tail"), "{reason}");
                assert!(reason.contains(&record_offset(5).to_string()), "{reason}");
            }
            other => panic!("{mode:?}: {other:?}"),
        }
        // Nothing on disk changed.
        assert_eq!(snapshot(&fs), before);
    }
}

#[test]
fn a_damaged_length_that_runs_past_the_end_is_corruption_when_records_follow() {
    // A length field flipped so that the fragment seems to run past the end
    // of the file looks like a torn write; the records after it give it away.
    let (fs, _) = build(10, 1 << 20);
    let seg = segment_files(&fs, dir()).pop().unwrap();
    fs.flip_byte(&seg, record_offset(2) + 5, 0x20).unwrap();
    assert!(matches!(
        open(&fs, RecoveryMode::TolerateCorruptedTail),
        Err(WalError::Corruption { .. })
    ));
}

#[test]
fn salvage_skips_the_damaged_record_keeps_the_rest_and_reports_both() {
    let (fs, records) = build(10, 1 << 20);
    let seg = segment_files(&fs, dir()).pop().unwrap();
    fs.flip_byte(&seg, record_offset(4) + 50, 0x04).unwrap();
    let (wal, report) = open(&fs, RecoveryMode::SkipCorruptedRecords).unwrap();
    assert_eq!(report.dropped.len(), 1, "{report:?}");
    let d = &report.dropped[0];
    assert_eq!(d.segment, seg);
    assert_eq!(d.kind, DropKind::Corruption);
    assert_eq!((d.offset, d.bytes), (record_offset(4), 108));
    assert_eq!(report.salvaged_records, 5);
    assert_eq!(report.records, 9);
    assert!(report.has_corruption());
    let got: Vec<Vec<u8>> = read_all(&wal).into_iter().map(|(_, r)| r).collect();
    let mut expected = records.clone();
    expected.remove(4);
    assert_eq!(got, expected);
    // Appends go to a new segment, never after the damage.
    let lsn = wal.append(b"after", Durability::Sync).unwrap();
    assert_eq!(wal.segment_count(), 2);
    assert_eq!(read_all(&wal).last().unwrap(), &(lsn, b"after".to_vec()));
    drop(wal);

    // The damage is still on disk: the default mode refuses it, salvage reads
    // the same records again.
    assert!(matches!(
        open(&fs, RecoveryMode::TolerateCorruptedTail),
        Err(WalError::Corruption { .. })
    ));
    let (wal, again) = open(&fs, RecoveryMode::SkipCorruptedRecords).unwrap();
    assert_eq!(again.records, 10);
    let got: Vec<Vec<u8>> = read_all(&wal).into_iter().map(|(_, r)| r).collect();
    expected.push(b"after".to_vec());
    assert_eq!(got, expected);
    // Once the caller has moved the records elsewhere, truncate_before drops
    // the damaged segment and every mode opens cleanly.
    wal.truncate_before(wal.next_lsn()).unwrap();
    drop(wal);
    let (wal, clean) = open(&fs, RecoveryMode::TolerateCorruptedTail).unwrap();
    assert!(clean.is_clean(), "{clean:?}");
    assert_eq!(read_all(&wal).len(), 1);
}

#[test]
fn salvage_in_an_older_segment_counts_the_lost_records_and_keeps_later_lsns_exact() {
    let (fs, records) = build(30, 500);
    let segs = segment_files(&fs, dir());
    assert!(segs.len() >= 3, "{segs:?}");
    // The second record of the first segment (each holds 5 records).
    fs.flip_byte(&segs[0], record_offset(1) + 10, 0x01).unwrap();
    assert!(matches!(
        open(&fs, RecoveryMode::TolerateCorruptedTail),
        Err(WalError::Corruption { .. })
    ));
    let (wal, report) = Wal::open(
        dir(),
        mode_opts(&fs, RecoveryMode::SkipCorruptedRecords, 500),
    )
    .unwrap();
    assert_eq!(report.dropped.len(), 1, "{report:?}");
    assert_eq!(report.dropped[0].records, Some(1));
    assert_eq!(report.salvaged_records, 3);
    let got = read_all(&wal);
    assert_eq!(got.len(), 29);
    // Records of later segments keep their LSNs.
    for (lsn, r) in got.iter().skip(4) {
        assert_eq!(r, &records[*lsn as usize - 1], "LSN {lsn}");
    }
    assert_eq!(wal.next_lsn(), 31);
}

#[test]
fn a_garbage_tail_is_a_torn_tail_and_a_zeroed_one_the_end() {
    for garbage in [false, true] {
        let (fs, records) = build(10, 1 << 20);
        let seg = segment_files(&fs, dir()).pop().unwrap();
        // Replace the last two records with zeros or pseudo-random bytes.
        let data = fs.read_all(&seg).unwrap();
        let cut = record_offset(8) as usize;
        let mut damaged = data[..cut].to_vec();
        let tail: Vec<u8> = if garbage {
            payload(99, data.len() - cut + 300)
        } else {
            vec![0; data.len() - cut + 300]
        };
        damaged.extend(&tail);
        fs.remove_file(&seg).unwrap();
        let mut f = fs.create(&seg).unwrap();
        f.append(&damaged).unwrap();
        f.sync().unwrap();
        drop(f);

        let (wal, report) = open(&fs, RecoveryMode::TolerateCorruptedTail).unwrap();
        if !garbage {
            // Format version 2: zeros where a record would start are the end
            // of the records (the writer's end marker, or preallocated space
            // never written), not damage.
            assert!(report.is_clean(), "{report:?}");
            let got: Vec<Vec<u8>> = read_all(&wal).into_iter().map(|(_, r)| r).collect();
            assert_eq!(got, records[..8].to_vec());
            drop(wal);
            // A clean close cuts the unused zeros.
            assert_eq!(fs.file_size(&seg).unwrap(), cut as u64);
            continue;
        }
        assert_eq!(report.dropped.len(), 1, "{report:?}");
        let d = &report.dropped[0];
        assert_eq!(d.kind, DropKind::TornTail);
        assert_eq!((d.offset, d.bytes), (cut as u64, tail.len() as u64));
        assert!(report.has_torn_tail() && !report.has_corruption());
        let got: Vec<Vec<u8>> = read_all(&wal).into_iter().map(|(_, r)| r).collect();
        assert_eq!(got, records[..8].to_vec());
        drop(wal);
        assert_eq!(fs.file_size(&seg).unwrap(), cut as u64);
    }
}

#[test]
fn a_missing_or_emptied_middle_segment_is_an_lsn_gap() {
    let (fs, _) = build(30, 500);
    let segs = segment_files(&fs, dir());
    // Truncated to exactly its header: a valid, empty segment, but the next
    // one starts 5 LSNs later.
    fs.set_len_raw(&segs[1], SEGMENT_HEADER_SIZE as u64)
        .unwrap();
    for mode in [
        RecoveryMode::TolerateCorruptedTail,
        RecoveryMode::AbsoluteConsistency,
        RecoveryMode::SkipCorruptedRecords,
    ] {
        match Wal::open(dir(), mode_opts(&fs, mode, 500)) {
            Err(WalError::Corruption {
                segment,
                offset,
                reason,
            }) => {
                assert_eq!(segment, segs[2], "{mode:?}");
                assert_eq!(offset, 16);
                assert!(reason.contains("LSN"), "{reason}");
            }
            other => panic!("{mode:?}: {other:?}"),
        }
    }
    // PointInTime keeps what precedes the gap and reports the rest.
    let (wal, report) = Wal::open(dir(), mode_opts(&fs, RecoveryMode::PointInTime, 500)).unwrap();
    assert_eq!(read_all(&wal).len(), 5);
    assert_eq!(report.dropped[0].segment, segs[2]);
    assert!(report.has_corruption());
}

#[test]
fn the_last_segment_cut_at_a_record_boundary_is_undetectable_here() {
    // A clean truncation of the last segment at a record boundary (here: to
    // exactly its header) leaves a valid log: nothing in the WAL alone can
    // tell. The engine's coverage check catches it when the manifest says
    // records beyond the end were flushed; docs/recovery.md lists it as
    // undetectable otherwise.
    let (fs, _) = build(30, 500);
    let segs = segment_files(&fs, dir());
    let last = segs.last().unwrap();
    let first_lsn_of_last = {
        let b = fs.read_all(last).unwrap();
        u64::from_le_bytes(b[16..24].try_into().unwrap())
    };
    fs.set_len_raw(last, SEGMENT_HEADER_SIZE as u64).unwrap();
    let (wal, report) = Wal::open(
        dir(),
        mode_opts(&fs, RecoveryMode::TolerateCorruptedTail, 500),
    )
    .unwrap();
    assert!(report.is_clean());
    assert_eq!(report.next_lsn, first_lsn_of_last);
    assert_eq!(wal.next_lsn(), first_lsn_of_last);
}

#[test]
fn open_checked_sees_the_planned_report_and_a_refusal_changes_nothing() {
    let (fs, _) = build(10, 1 << 20);
    let seg = segment_files(&fs, dir()).pop().unwrap();
    // A torn tail: half of the last record.
    let len = fs.file_size(&seg).unwrap();
    fs.set_len_raw(&seg, len - 50).unwrap();
    let before = snapshot(&fs);
    let err = Wal::open_checked(
        dir(),
        mode_opts(&fs, RecoveryMode::TolerateCorruptedTail, 1 << 20),
        |r: &RecoveryReport| {
            assert!(r.has_torn_tail());
            assert_eq!((r.start_lsn, r.next_lsn), (1, 10));
            Err(WalError::InvalidOptions("refused".into()))
        },
    )
    .unwrap_err();
    assert!(matches!(err, WalError::InvalidOptions(_)), "{err:?}");
    assert_eq!(snapshot(&fs), before);
    // The lock was released: a plain open recovers.
    let (wal, report) = open(&fs, RecoveryMode::TolerateCorruptedTail).unwrap();
    assert!(report.has_torn_tail());
    assert_eq!(wal.next_lsn(), 10);
}

#[test]
fn start_lsn_follows_truncate_before() {
    let (fs, _) = build(30, 500);
    let (wal, _) = Wal::open(
        dir(),
        mode_opts(&fs, RecoveryMode::TolerateCorruptedTail, 500),
    )
    .unwrap();
    wal.truncate_before(12).unwrap();
    drop(wal);
    let (_, report) = Wal::open(
        dir(),
        mode_opts(&fs, RecoveryMode::TolerateCorruptedTail, 500),
    )
    .unwrap();
    assert_eq!(report.start_lsn, 11);
    assert_eq!(report.first_lsn, Some(11));
    assert_eq!(report.next_lsn, 31);
}

/// The fuzz target's property as a regular test: a one-segment log with
/// random records and random damage (flipped bytes, a zeroed range, a cut),
/// opened in every mode, agrees with the reader's verdict: a torn tail
/// (nothing valid after the damage) is cut with the records before it kept;
/// damage with a valid fragment after it is refused by the default mode, and
/// salvage keeps every record before it plus some after.
mod random_damage {
    use super::*;
    use proptest::prelude::*;
    use strata_wal::{SegmentEnd, encode_segment_bytes, read_segment_bytes};

    fn open_bytes(data: &[u8], mode: RecoveryMode) -> Option<Vec<Vec<u8>>> {
        let fs = fault_fs();
        fs.create_dir_all(dir()).unwrap();
        let mut f = fs.create(&dir().join("000001.wal")).unwrap();
        f.append(data).unwrap();
        f.sync().unwrap();
        drop(f);
        let (wal, _) = Wal::open(dir(), mode_opts(&fs, mode, 1 << 30)).ok()?;
        Some(read_all(&wal).into_iter().map(|(_, r)| r).collect())
    }

    /// A case proptest found: two damaged spots (a flipped byte, then a zeroed
    /// byte) in different blocks; salvage must skip both.
    #[test]
    fn salvage_skips_two_damaged_spots() {
        let lens = [
            582, 613, 1848, 2483, 1325, 1677, 2944, 552, 2468, 288, 2223, 1539, 936, 1079, 2543,
            84, 1407, 2207, 257, 1978, 2794, 1223, 2450, 834, 650, 802, 934, 2634, 2029, 1265,
            2579,
        ];
        let records: Vec<Vec<u8>> = lens
            .iter()
            .enumerate()
            .map(|(i, &n)| payload(i as u64, n))
            .collect();
        let refs: Vec<&[u8]> = records.iter().map(|r| &r[..]).collect();
        let mut data = encode_segment_bytes(1, 1, &refs);
        let body = |f: f64, len: usize| 32 + ((len - 32) as f64 * f) as usize;
        let i = body(0.6682114617103591, data.len()).min(data.len() - 1);
        data[i] ^= 1;
        let z = body(0.689434363246871, data.len()).min(data.len());
        let end = (z + 1).min(data.len());
        data[z..end].fill(0);
        let seg = read_segment_bytes(&data).unwrap();
        let salvage = open_bytes(&data, RecoveryMode::SkipCorruptedRecords).unwrap();
        // Everything before the first damage, then records that were written,
        // in order; the records whose fragments lie in neither damaged spot
        // come back.
        assert_eq!(&salvage[..seg.records.len()], &seg.records[..]);
        let mut next = seg.records.len();
        for r in &salvage[seg.records.len()..] {
            let at = records[next..].iter().position(|x| x == r);
            assert!(at.is_some(), "salvage returned a record never written");
            next += at.unwrap() + 1;
        }
        assert!(
            salvage.len() >= records.len() - 3,
            "salvage kept {} of {}",
            salvage.len(),
            records.len()
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn modes_agree_with_the_reader(
            lens in proptest::collection::vec(0usize..3000, 1..40),
            flips in proptest::collection::vec((0.0f64..1.0, 1u8..=255), 0..3),
            zero in proptest::option::of((0.0f64..1.0, 1usize..200)),
            cut in proptest::option::of(0.0f64..1.0),
        ) {
            let records: Vec<Vec<u8>> =
                lens.iter().enumerate().map(|(i, &n)| payload(i as u64, n)).collect();
            let refs: Vec<&[u8]> = records.iter().map(|r| &r[..]).collect();
            let mut data = encode_segment_bytes(1, 1, &refs);
            let body = |f: f64, len: usize| 32 + ((len - 32) as f64 * f) as usize;
            for (at, mask) in flips {
                let i = body(at, data.len()).min(data.len() - 1);
                data[i] ^= mask;
            }
            if let Some((at, n)) = zero {
                let i = body(at, data.len()).min(data.len());
                let end = (i + n).min(data.len());
                data[i..end].fill(0);
            }
            if let Some(at) = cut {
                let i = body(at, data.len());
                data.truncate(i);
            }
            let seg = read_segment_bytes(&data).unwrap();
            let tolerate = open_bytes(&data, RecoveryMode::TolerateCorruptedTail);
            let salvage = open_bytes(&data, RecoveryMode::SkipCorruptedRecords);
            let point = open_bytes(&data, RecoveryMode::PointInTime);
            prop_assert_eq!(point.as_ref(), Some(&seg.records));
            match &seg.end {
                SegmentEnd::Corrupt { valid_after: Some(_), .. } => {
                    prop_assert!(tolerate.is_none());
                    let s = salvage.unwrap();
                    prop_assert!(s.len() >= seg.records.len());
                    prop_assert_eq!(&s[..seg.records.len()], &seg.records[..]);
                    // Whatever salvage returns after the damage is a
                    // record that was written, in order.
                    let mut next = seg.records.len();
                    for r in &s[seg.records.len()..] {
                        let at = records[next..].iter().position(|x| x == r);
                        prop_assert!(at.is_some(), "salvage returned a record never written");
                        next += at.unwrap() + 1;
                    }
                }
                _ => {
                    prop_assert_eq!(tolerate.as_ref(), Some(&seg.records));
                    prop_assert_eq!(salvage.as_ref(), Some(&seg.records));
                }
            }
        }
    }
}
