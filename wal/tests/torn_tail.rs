//! Torn tails: the last segment cut at every byte offset within its last
//! few records (block-spanning ones and trailer padding included), reopened in
//! each recovery mode.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use strata_fs::{FaultFs, FileSystem};
use strata_wal::{
    BLOCK_SIZE, Durability, FRAGMENT_HEADER_SIZE, RecoveryMode, SEGMENT_HEADER_SIZE, Wal, WalError,
    WalOptions, encode_segment_bytes,
};

const H: usize = FRAGMENT_HEADER_SIZE;

struct Log {
    fs: FaultFs,
    all: Vec<Vec<u8>>,
    /// LSN of the first record of the last segment.
    last_first_lsn: u64,
    last_path: std::path::PathBuf,
    /// Records of the last segment.
    last_records: Vec<Vec<u8>>,
    /// Index (in `last_records`) of the first record of the "last few".
    tail_start: usize,
}

fn build() -> Log {
    let fs = fault_fs();
    let mut all = Vec::new();
    // Phase 1: small segments, stopping right after a rotation so the last
    // segment starts with one known record.
    let (wal, _) = Wal::open(
        dir(),
        WalOptions {
            segment_size: 3000,
            ..opts(&fs)
        },
    )
    .unwrap();
    let mut i = 0u64;
    loop {
        let before = wal.segment_count();
        let p = payload(i, 300);
        wal.append(&p, Durability::Sync).unwrap();
        all.push(p);
        i += 1;
        if wal.segment_count() > before && before >= 3 {
            break;
        }
    }
    let last_first_lsn = wal.next_lsn() - 1;
    drop(wal);
    // Phase 2: no more rotation; a filler, then the last few records.
    let (wal, _) = Wal::open(
        dir(),
        WalOptions {
            segment_size: 1 << 30,
            ..opts(&fs)
        },
    )
    .unwrap();
    let mut last_records = vec![all.last().unwrap().clone()];
    let mut offset = SEGMENT_HEADER_SIZE + H + 300;
    let push = |len: usize, recs: &mut Vec<Vec<u8>>, all: &mut Vec<Vec<u8>>| {
        let p = payload(1000 + all.len() as u64, len);
        wal.append(&p, Durability::Buffered).unwrap();
        recs.push(p.clone());
        all.push(p);
    };
    // Filler: end 300 bytes before the end of block 0.
    let filler = BLOCK_SIZE - 300 - offset - H;
    push(filler, &mut last_records, &mut all);
    offset += H + filler;
    assert_eq!(offset, BLOCK_SIZE - 300);
    let tail_start = last_records.len();
    // T1: 200 bytes. T2: leaves 3 bytes of trailer padding. T3: 0 bytes at
    // the start of block 1.
    push(200, &mut last_records, &mut all);
    push(300 - 208 - H - 3, &mut last_records, &mut all);
    push(0, &mut last_records, &mut all);
    // T4: a FULL record ending 100 bytes before the end of block 1.
    push(BLOCK_SIZE - 2 * H - 100, &mut last_records, &mut all);
    // T5: FIRST (84 bytes) in block 1, MIDDLE filling block 2, LAST (50 bytes) in block 3.
    push(100 - H + (BLOCK_SIZE - H) + 50, &mut last_records, &mut all);
    // T6, T7: tiny.
    push(1, &mut last_records, &mut all);
    push(10, &mut last_records, &mut all);
    wal.sync().unwrap();
    drop(wal);
    let last_path = segment_files(&fs, dir()).pop().unwrap();
    Log {
        fs,
        all,
        last_first_lsn,
        last_path,
        last_records,
        tail_start,
    }
}

fn open_mode(
    fs: &FaultFs,
    mode: RecoveryMode,
) -> Result<(Wal, strata_wal::RecoveryReport), WalError> {
    Wal::open(
        dir(),
        WalOptions {
            recovery_mode: mode,
            ..opts(fs)
        },
    )
}

#[test]
fn torn_tail_at_every_byte_of_the_last_records() {
    let log = build();
    let refs: Vec<&[u8]> = log.last_records.iter().map(|r| &r[..]).collect();
    let full = log.fs.read_all(&log.last_path).unwrap();
    let name = log.last_path.file_name().unwrap().to_str().unwrap();
    let number = strata_wal::segment_number(name).unwrap();
    assert_eq!(
        full,
        encode_segment_bytes(number, log.last_first_lsn, &refs)
    );
    let n = refs.len();
    // ends[k]: end offset of record k; starts[k]: offset of its first fragment.
    let ends: Vec<usize> = (0..n)
        .map(|k| encode_segment_bytes(number, log.last_first_lsn, &refs[..=k]).len())
        .collect();
    let starts: Vec<usize> = (0..n)
        .map(|k| {
            let prev = if k == 0 {
                SEGMENT_HEADER_SIZE
            } else {
                ends[k - 1]
            };
            if BLOCK_SIZE - prev % BLOCK_SIZE < H {
                prev + (BLOCK_SIZE - prev % BLOCK_SIZE)
            } else {
                prev
            }
        })
        .collect();
    // The layout has what the test promises: a trailer, a MIDDLE fragment.
    assert_eq!(starts[log.tail_start + 2], BLOCK_SIZE);
    assert_eq!(ends[log.tail_start + 1], BLOCK_SIZE - 3);
    assert!(ends[log.tail_start + 4] > 3 * BLOCK_SIZE);
    let before_last = log.last_first_lsn - 1;
    let from = starts[log.tail_start];
    let mut checked = 0;
    for cut in from..=full.len() {
        let complete = ends.iter().filter(|&&e| e <= cut).count();
        let good_end = if complete == 0 {
            SEGMENT_HEADER_SIZE
        } else {
            ends[complete - 1]
        };
        let boundary = if complete == n {
            cut == full.len()
        } else {
            cut <= starts[complete]
        };
        let want_records = before_last + complete as u64;

        let img = log.fs.recovered();
        img.set_len_raw(&log.last_path, cut as u64).unwrap();

        // AbsoluteConsistency: an error unless the cut is on a record boundary.
        match open_mode(&img, RecoveryMode::AbsoluteConsistency) {
            Ok((wal, report)) => {
                assert!(boundary, "cut {cut}: torn tail accepted");
                assert!(report.is_clean());
                assert_eq!(report.records, want_records, "cut {cut}");
                drop(wal);
            }
            Err(WalError::Corruption {
                segment, offset, ..
            }) => {
                assert!(!boundary, "cut {cut}: clean log rejected");
                assert_eq!(segment, log.last_path);
                assert!(
                    offset as usize >= good_end && offset as usize <= cut,
                    "cut {cut}: offset {offset}"
                );
            }
            Err(e) => panic!("cut {cut}: {e}"),
        }
        assert_eq!(img.file_size(&log.last_path).unwrap(), cut as u64);

        for mode in [
            RecoveryMode::TolerateCorruptedTail,
            RecoveryMode::PointInTime,
        ] {
            let img = if mode == RecoveryMode::TolerateCorruptedTail {
                img.clone()
            } else {
                let i2 = log.fs.recovered();
                i2.set_len_raw(&log.last_path, cut as u64).unwrap();
                i2
            };
            let (wal, report) =
                open_mode(&img, mode).unwrap_or_else(|e| panic!("cut {cut} {mode:?}: {e}"));
            assert_eq!(report.records, want_records, "cut {cut} {mode:?}");
            assert_eq!(report.last_lsn, Some(want_records));
            if boundary {
                assert!(report.is_clean(), "cut {cut}: {report:?}");
                assert_eq!(img.file_size(&log.last_path).unwrap(), cut as u64);
            } else {
                assert_eq!(report.dropped.len(), 1, "cut {cut}");
                let d = &report.dropped[0];
                assert_eq!(d.segment, log.last_path);
                assert_eq!(d.offset as usize, good_end, "cut {cut}");
                assert_eq!(d.bytes as usize, cut - good_end);
                assert_eq!(img.file_size(&log.last_path).unwrap(), good_end as u64);
            }
            // The records of the last segment are exactly the complete ones.
            let got: Vec<(u64, Vec<u8>)> = wal
                .iter_from(log.last_first_lsn)
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(got.len(), complete, "cut {cut}");
            for (j, (lsn, r)) in got.iter().enumerate() {
                assert_eq!(*lsn, log.last_first_lsn + j as u64);
                if j + 1 == got.len() || j >= log.tail_start {
                    assert_eq!(r, &log.last_records[j], "cut {cut} record {j}");
                }
            }
            // Sometimes: append after recovery and check the log reopens cleanly.
            if cut % 499 == 0 {
                let lsn = wal.append(b"after", Durability::Sync).unwrap();
                assert_eq!(lsn, want_records + 1);
                drop(wal);
                let (wal, report) = open_mode(&img, RecoveryMode::AbsoluteConsistency).unwrap();
                assert_eq!(report.records, want_records + 1);
                let all = read_all(&wal);
                assert_eq!(all.len() as u64, want_records + 1);
                for (lsn, r) in &all[..all.len() - 1] {
                    assert_eq!(r, &log.all[(*lsn - 1) as usize]);
                }
                assert_eq!(all.last().unwrap().1, b"after");
            }
            checked += 1;
        }
    }
    assert!(checked > 2 * 60_000, "{checked}");
}
