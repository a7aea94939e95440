//! Appending, reading back, rotation, truncation and reopening.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use strata_fs::{FileSystem, RealFs};
use strata_wal::{
    BLOCK_SIZE, Durability, FRAGMENT_HEADER_SIZE, RecoveryMode, SEGMENT_HEADER_SIZE, Wal, WalError,
    WalOptions, read_segment_bytes,
};

#[test]
fn new_log_has_one_empty_segment() {
    let fs = fault_fs();
    let (wal, report) = Wal::open(dir(), opts(&fs)).unwrap();
    assert_eq!(report.records, 0);
    assert_eq!(report.last_lsn, None);
    assert!(report.is_clean());
    assert_eq!(wal.next_lsn(), 1);
    let segs = segment_files(&fs, dir());
    assert_eq!(segs, vec![dir().join("000001.wal")]);
    assert_eq!(
        fs.file_size(&segs[0]).unwrap(),
        (SEGMENT_HEADER_SIZE + MARKER) as u64
    );
    assert!(read_all(&wal).is_empty());
}

#[test]
fn records_of_every_interesting_size_roundtrip() {
    let fs = fault_fs();
    let first_room = BLOCK_SIZE - SEGMENT_HEADER_SIZE - FRAGMENT_HEADER_SIZE;
    let mut sizes = vec![0usize, 1, 2, 7, 8, 9, 100];
    // Exactly filling the first block, one less, one more.
    sizes.extend([first_room - 1, first_room, first_room + 1]);
    // Whole blocks and multi-block records.
    sizes.extend([
        BLOCK_SIZE - FRAGMENT_HEADER_SIZE,
        BLOCK_SIZE,
        2 * BLOCK_SIZE,
        3 * BLOCK_SIZE + 12_345,
        0,
        1,
    ]);
    let (wal, _) = Wal::open(dir(), opts(&fs)).unwrap();
    let mut expected = Vec::new();
    for (i, &len) in sizes.iter().enumerate() {
        let p = payload(i as u64, len);
        let d = [Durability::Sync, Durability::Buffered, Durability::None][i % 3];
        let lsn = wal.append(&p, d).unwrap();
        assert_eq!(lsn, i as u64 + 1);
        expected.push((lsn, p));
    }
    assert_eq!(read_all(&wal), expected);
    wal.close().unwrap();
    drop(wal);
    let (wal, report) = Wal::open(dir(), opts(&fs)).unwrap();
    assert!(report.is_clean());
    assert_eq!(report.records, sizes.len() as u64);
    assert_eq!(report.last_lsn, Some(sizes.len() as u64));
    assert_eq!(read_all(&wal), expected);
    // The file on disk parses the same way.
    let bytes = fs.read_all(&dir().join("000001.wal")).unwrap();
    let seg = read_segment_bytes(&bytes).unwrap();
    assert_eq!(seg.records.len(), sizes.len());
}

#[test]
fn records_ending_exactly_on_block_boundaries() {
    let fs = fault_fs();
    let (wal, _) = Wal::open(dir(), opts(&fs)).unwrap();
    let first_room = BLOCK_SIZE - SEGMENT_HEADER_SIZE - FRAGMENT_HEADER_SIZE;
    let recs = vec![
        payload(1, first_room),                                // ends at 32768
        payload(2, BLOCK_SIZE - FRAGMENT_HEADER_SIZE),         // fills block 1
        payload(3, BLOCK_SIZE - 2 * FRAGMENT_HEADER_SIZE - 3), // leaves 3 bytes: padding
        payload(4, 0),
        payload(5, BLOCK_SIZE * 2 - 2 * FRAGMENT_HEADER_SIZE), // FIRST + LAST, exact fill
        payload(6, 5),
    ];
    for r in &recs {
        wal.append(r, Durability::Buffered).unwrap();
    }
    wal.sync().unwrap();
    let len = fs.file_size(&dir().join("000001.wal")).unwrap();
    assert_eq!(
        len,
        (5 * BLOCK_SIZE + FRAGMENT_HEADER_SIZE + 5 + MARKER) as u64
    );
    let got: Vec<Vec<u8>> = read_all(&wal).into_iter().map(|(_, r)| r).collect();
    assert_eq!(got, recs);
}

#[test]
fn batches_get_consecutive_lsns_and_size_limit_is_all_or_nothing() {
    let fs = fault_fs();
    let o = WalOptions {
        max_record_size: 1000,
        ..opts(&fs)
    };
    let (wal, _) = Wal::open(dir(), o).unwrap();
    assert_eq!(wal.append(b"a", Durability::Sync).unwrap(), 1);
    assert_eq!(
        wal.append_batch(&[b"b", b"c", b"d"], Durability::Sync)
            .unwrap(),
        2
    );
    assert_eq!(wal.append_batch(&[], Durability::Sync).unwrap(), 5);
    let big = vec![0u8; 1001];
    let err = wal
        .append_batch(&[b"e", &big], Durability::Sync)
        .unwrap_err();
    assert!(
        matches!(
            err,
            WalError::RecordTooLarge {
                size: 1001,
                max: 1000
            }
        ),
        "{err}"
    );
    assert_eq!(wal.next_lsn(), 5);
    assert_eq!(wal.append(&vec![1u8; 1000], Durability::Sync).unwrap(), 5);
    let got: Vec<u64> = read_all(&wal).into_iter().map(|(l, _)| l).collect();
    assert_eq!(got, vec![1, 2, 3, 4, 5]);
    let s = wal.stats();
    assert_eq!(s.records, 5);
    assert_eq!(s.bytes, 1 + 3 + 1000);
}

fn small_segments(fs: &strata_fs::FaultFs) -> WalOptions {
    WalOptions {
        segment_size: 4096,
        ..opts(fs)
    }
}

#[test]
fn rotation_numbers_segments_and_headers_carry_first_lsn() {
    let fs = fault_fs();
    let (wal, _) = Wal::open(dir(), small_segments(&fs)).unwrap();
    let mut expected = Vec::new();
    for i in 0..300u64 {
        let p = payload(i, 100);
        let lsn = wal.append(&p, Durability::Buffered).unwrap();
        expected.push((lsn, p));
    }
    wal.sync().unwrap();
    let segs = segment_files(&fs, dir());
    assert!(segs.len() >= 7, "{segs:?}");
    assert_eq!(wal.segment_count(), segs.len());
    let mut next = 1u64;
    for (i, seg) in segs.iter().enumerate() {
        assert_eq!(
            seg.file_name().unwrap().to_str().unwrap(),
            format!("{:06}.wal", i + 1)
        );
        let bytes = fs.read_all(seg).unwrap();
        let parsed = read_segment_bytes(&bytes).unwrap();
        assert_eq!(parsed.first_lsn, next);
        next += parsed.records.len() as u64;
        // Rotation happens once a segment reaches the size: it exceeds it
        // by less than one record.
        if i + 1 < segs.len() {
            assert!(
                bytes.len() >= 4096 + MARKER && bytes.len() < 4096 + 100 + 8 + MARKER,
                "{}",
                bytes.len()
            );
        }
    }
    assert_eq!(next, 301);
    assert_eq!(read_all(&wal), expected);
    for from in [0u64, 1, 2, 37, 38, 150, 299, 300, 301, 1000] {
        let got: Vec<_> = wal
            .iter_from(from)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let want: Vec<_> = expected
            .iter()
            .filter(|(l, _)| *l >= from)
            .cloned()
            .collect();
        assert_eq!(got, want, "from {from}");
    }
    drop(wal);
    let (wal, report) = Wal::open(dir(), small_segments(&fs)).unwrap();
    assert!(report.is_clean());
    assert_eq!(report.segments, segs.len());
    assert_eq!(read_all(&wal), expected);
    assert_eq!(wal.append(b"more", Durability::Sync).unwrap(), 301);
}

#[test]
fn truncate_before_deletes_whole_old_segments_durably() {
    let fs = fault_fs();
    let (wal, _) = Wal::open(dir(), small_segments(&fs)).unwrap();
    for i in 0..200u64 {
        wal.append(&payload(i, 100), Durability::Sync).unwrap();
    }
    let firsts: Vec<u64> = segment_files(&fs, dir())
        .iter()
        .map(|p| {
            read_segment_bytes(&fs.read_all(p).unwrap())
                .unwrap()
                .first_lsn
        })
        .collect();
    let n = firsts.len();
    assert!(n >= 4);
    // Nothing is below LSN 1; a cut inside segment 2 deletes only segment 1.
    assert_eq!(wal.truncate_before(1).unwrap(), 0);
    assert_eq!(wal.truncate_before(firsts[1] + 1).unwrap(), 1);
    assert_eq!(wal.truncate_before(firsts[1]).unwrap(), 0);
    assert_eq!(wal.truncate_before(firsts[3]).unwrap(), 2);
    assert_eq!(segment_files(&fs, dir()).len(), n - 3);
    let recs = read_all(&wal);
    assert_eq!(recs.first().unwrap().0, firsts[3]);
    assert_eq!(recs.last().unwrap().0, 200);
    // Iterating from a truncated LSN starts at the first record present.
    assert_eq!(
        wal.iter_from(2).unwrap().next().unwrap().unwrap().0,
        firsts[3]
    );
    // Everything before the end: all but the active segment go.
    assert_eq!(wal.truncate_before(u64::MAX).unwrap(), n - 4);
    assert_eq!(wal.segment_count(), 1);
    // The deletions survive a power loss, and LSNs continue after reopen.
    let after = fs.recovered();
    drop(wal);
    assert_eq!(segment_files(&after, dir()).len(), 1);
    let (wal, report) = Wal::open(dir(), small_segments(&after)).unwrap();
    assert!(report.is_clean());
    assert_eq!(report.first_lsn, Some(firsts[n - 1]));
    assert_eq!(report.last_lsn, Some(200));
    assert_eq!(wal.append(b"x", Durability::Sync).unwrap(), 201);
}

#[test]
fn lsns_continue_across_reopen_even_with_an_empty_active_segment() {
    let fs = fault_fs();
    let o = || small_segments(&fs);
    let (wal, _) = Wal::open(dir(), o()).unwrap();
    for i in 0..100u64 {
        wal.append(&payload(i, 50), Durability::Sync).unwrap();
    }
    drop(wal);
    for round in 0..3u64 {
        let (wal, report) = Wal::open(dir(), o()).unwrap();
        assert!(report.is_clean());
        let next = wal.next_lsn();
        assert_eq!(next, 101 + round * 60);
        // Fill the active segment past its size so the next append rotates,
        // then drop everything older.
        for i in 0..60 {
            assert_eq!(
                wal.append(&payload(i, 80), Durability::Sync).unwrap(),
                next + i
            );
        }
        wal.truncate_before(wal.next_lsn()).unwrap();
        drop(wal);
    }
    let (wal, report) = Wal::open(dir(), o()).unwrap();
    assert_eq!(wal.next_lsn(), 281);
    assert_eq!(report.last_lsn, Some(280));
    let recs = read_all(&wal);
    assert_eq!(recs.last().unwrap().0, 280);
}

#[test]
fn reopen_at_rotation_boundary_continues_in_a_new_segment() {
    let fs = fault_fs();
    let o = || WalOptions {
        segment_size: 1000,
        ..opts(&fs)
    };
    let (wal, _) = Wal::open(dir(), o()).unwrap();
    // 9 records of 108 framed bytes fill a segment to 1004 >= 1000: the
    // 18th record leaves the second segment full.
    for i in 0..18u64 {
        wal.append(&payload(i, 100), Durability::Sync).unwrap();
    }
    assert_eq!(wal.segment_count(), 2);
    drop(wal);
    let (wal, _) = Wal::open(dir(), o()).unwrap();
    let before = wal.segment_count();
    assert_eq!(before, 2);
    wal.append(b"z", Durability::Sync).unwrap();
    assert_eq!(wal.segment_count(), before + 1);
    assert_eq!(read_all(&wal).len(), 19);
}

#[test]
fn none_records_stay_in_memory_until_the_buffer_fills() {
    let fs = fault_fs();
    let o = WalOptions {
        write_buffer_size: 1000,
        ..opts(&fs)
    };
    let (wal, _) = Wal::open(dir(), o).unwrap();
    let seg = dir().join("000001.wal");
    for i in 0..5u64 {
        wal.append(&payload(i, 100), Durability::None).unwrap();
    }
    // Not written: a process crash now loses them.
    let empty = (SEGMENT_HEADER_SIZE + MARKER) as u64;
    assert_eq!(fs.file_size(&seg).unwrap(), empty);
    for i in 5..9u64 {
        wal.append(&payload(i, 100), Durability::None).unwrap();
    }
    assert_eq!(fs.file_size(&seg).unwrap(), empty);
    // The 9th framed record (9 * 108 = 972) is still below 1000; the 10th passes it.
    wal.append(&payload(9, 100), Durability::None).unwrap();
    assert_eq!(
        fs.file_size(&seg).unwrap(),
        (SEGMENT_HEADER_SIZE + 10 * 108 + MARKER) as u64
    );
    // Written but not synced: a power loss loses them.
    assert_eq!(wal.synced_lsn(), 1);
    wal.append(b"n", Durability::None).unwrap();
    // A Buffered append writes the None record queued before it.
    wal.append(b"b", Durability::Buffered).unwrap();
    assert_eq!(
        fs.file_size(&seg).unwrap(),
        (SEGMENT_HEADER_SIZE + 10 * 108 + 2 * 9 + MARKER) as u64
    );
    let after = fs.recovered();
    let (w2, report) = Wal::open(dir(), opts(&after)).unwrap();
    assert_eq!(report.records, 0);
    drop(w2);
    wal.sync().unwrap();
    let after = fs.recovered();
    let (w2, report) = Wal::open(dir(), opts(&after)).unwrap();
    assert_eq!(report.records, 12);
    drop(w2);
}

#[test]
fn background_flusher_syncs_buffered_records() {
    let fs = fault_fs();
    let o = WalOptions {
        buffered_sync_interval: Duration::from_millis(5),
        ..opts(&fs)
    };
    let (wal, _) = Wal::open(dir(), o).unwrap();
    wal.append(b"buffered", Durability::Buffered).unwrap();
    wal.append(b"none", Durability::None).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while wal.synced_lsn() < 3 {
        assert!(Instant::now() < deadline, "background sync never happened");
        std::thread::sleep(Duration::from_millis(1));
    }
    let after = fs.recovered();
    let (w2, report) = Wal::open(dir(), opts(&after)).unwrap();
    assert_eq!(report.records, 2);
    assert_eq!(read_all(&w2)[1].1, b"none");
}

#[test]
fn close_syncs_and_refuses_later_appends() {
    let fs = fault_fs();
    let (wal, _) = Wal::open(dir(), opts(&fs)).unwrap();
    wal.append(b"x", Durability::None).unwrap();
    wal.close().unwrap();
    wal.close().unwrap();
    assert!(matches!(
        wal.append(b"y", Durability::Sync),
        Err(WalError::Closed)
    ));
    assert!(matches!(wal.sync(), Err(WalError::Closed)));
    let after = fs.recovered();
    let (w2, report) = Wal::open(dir(), opts(&after)).unwrap();
    assert_eq!(report.records, 1);
    drop(w2);
}

#[test]
fn a_second_open_of_the_same_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let o = || opts_on(Arc::new(RealFs::new()));
    let (wal, _) = Wal::open(tmp.path(), o()).unwrap();
    let err = Wal::open(tmp.path(), o()).unwrap_err();
    assert!(
        matches!(&err, WalError::Io { source, .. } if source.kind() == std::io::ErrorKind::WouldBlock),
        "{err}"
    );
    drop(wal);
    Wal::open(tmp.path(), o()).unwrap();
}

#[test]
fn a_sync_append_to_a_new_log_survives_power_loss() {
    // The directory and the first segment are created in the same open: both
    // directory entries must be fsynced for the record to survive.
    let fs = strata_fs::FaultFs::new();
    let deep = Path::new("/a/b/wal");
    let (wal, _) = Wal::open(deep, opts(&fs)).unwrap();
    wal.append(b"must survive", Durability::Sync).unwrap();
    let after = fs.recovered();
    drop(wal);
    let (wal, report) = Wal::open(deep, opts(&after)).unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(read_all(&wal), vec![(1, b"must survive".to_vec())]);
}

#[test]
fn a_sync_append_after_rotation_survives_power_loss() {
    let fs = fault_fs();
    let (wal, _) = Wal::open(dir(), small_segments(&fs)).unwrap();
    let mut last = 0;
    for i in 0..100u64 {
        last = wal.append(&payload(i, 100), Durability::Sync).unwrap();
    }
    assert!(wal.segment_count() > 2);
    let after = fs.recovered();
    drop(wal);
    let (wal, report) = Wal::open(dir(), small_segments(&after)).unwrap();
    assert!(report.is_clean());
    assert_eq!(report.last_lsn, Some(last));
    assert_eq!(read_all(&wal).len(), 100);
}

#[test]
fn concurrent_sync_appenders_share_fsyncs() {
    // A file system whose fsync takes 2 ms, like a real disk: while one
    // leader syncs, the other appenders queue up and share the next fsync.
    let fs = fault_fs();
    let wrapped = Wrapped {
        inner: Arc::new(fs.clone()),
        behaviour: Arc::new(Behaviour {
            sync_delay: Some(Duration::from_millis(2)),
            ..Behaviour::default()
        }),
    };
    let (wal, _) = Wal::open(dir(), opts_on(Arc::new(wrapped))).unwrap();
    let wal = Arc::new(wal);
    let before = wal.stats();
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let wal = Arc::clone(&wal);
            std::thread::spawn(move || {
                let mut lsns = Vec::new();
                for i in 0..40u64 {
                    let p = payload(t * 1000 + i, 100);
                    lsns.push((wal.append(&p, Durability::Sync).unwrap(), p));
                }
                lsns
            })
        })
        .collect();
    let mut all: Vec<(u64, Vec<u8>)> = threads
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    all.sort();
    let s = wal.stats();
    let records = s.records - before.records;
    let syncs = s.syncs - before.syncs;
    assert_eq!(records, 320);
    assert!(
        syncs * 2 < records,
        "group commit did not share fsyncs: {syncs} syncs for {records} records"
    );
    assert!(s.batches - before.batches <= syncs);
    // Every record is there with the LSN its appender got.
    assert_eq!(read_all(&wal), all);
    let lsns: Vec<u64> = all.iter().map(|(l, _)| *l).collect();
    assert_eq!(lsns, (1..=320).collect::<Vec<_>>());
}

#[test]
fn corruption_in_a_middle_segment_per_mode() {
    let fs = fault_fs();
    let (wal, _) = Wal::open(dir(), small_segments(&fs)).unwrap();
    for i in 0..150u64 {
        wal.append(&payload(i, 100), Durability::Sync).unwrap();
    }
    drop(wal);
    let segs = segment_files(&fs, dir());
    assert!(segs.len() >= 4);
    let victim = &segs[1];
    let first_of_victim = read_segment_bytes(&fs.read_all(victim).unwrap())
        .unwrap()
        .first_lsn;
    // Damage the third record of segment 2.
    let offset = (SEGMENT_HEADER_SIZE + 2 * 108 + 50) as u64;
    fs.flip_byte(victim, offset, 0x01).unwrap();

    for mode in [
        RecoveryMode::TolerateCorruptedTail,
        RecoveryMode::AbsoluteConsistency,
    ] {
        let o = WalOptions {
            recovery_mode: mode,
            ..small_segments(&fs)
        };
        match Wal::open(dir(), o) {
            Err(WalError::Corruption {
                segment,
                offset: at,
                reason,
            }) => {
                assert_eq!(&segment, victim);
                assert_eq!(at, (SEGMENT_HEADER_SIZE + 2 * 108) as u64, "{reason}");
                assert!(reason.contains("checksum"), "{reason}");
            }
            other => panic!("{mode:?}: expected corruption, got {other:?}"),
        }
    }
    // Nothing was changed by the failed opens.
    assert_eq!(segment_files(&fs, dir()), segs);

    let o = WalOptions {
        recovery_mode: RecoveryMode::PointInTime,
        ..small_segments(&fs)
    };
    let (wal, report) = Wal::open(dir(), o).unwrap();
    assert_eq!(report.last_lsn, Some(first_of_victim + 1));
    assert_eq!(report.dropped.len(), segs.len() - 1);
    assert_eq!(&report.dropped[0].segment, victim);
    assert_eq!(
        report.dropped[0].offset,
        (SEGMENT_HEADER_SIZE + 2 * 108) as u64
    );
    for (d, s) in report.dropped[1..].iter().zip(&segs[2..]) {
        assert_eq!(&d.segment, s);
        assert_eq!(d.offset, 0);
    }
    assert_eq!(segment_files(&fs, dir()), segs[..2].to_vec());
    let recs = read_all(&wal);
    assert_eq!(recs.len() as u64, first_of_victim + 1);
    for (lsn, r) in &recs {
        assert_eq!(r, &payload(lsn - 1, 100));
    }
    // New appends continue after the kept prefix and survive a reopen.
    let lsn = wal.append(b"after", Durability::Sync).unwrap();
    assert_eq!(lsn, first_of_victim + 2);
    drop(wal);
    let (wal, report) = Wal::open(dir(), small_segments(&fs)).unwrap();
    assert!(report.is_clean());
    assert_eq!(read_all(&wal).last().unwrap(), &(lsn, b"after".to_vec()));
}

#[test]
fn a_missing_middle_segment_is_detected() {
    let fs = fault_fs();
    let (wal, _) = Wal::open(dir(), small_segments(&fs)).unwrap();
    for i in 0..150u64 {
        wal.append(&payload(i, 100), Durability::Sync).unwrap();
    }
    drop(wal);
    let segs = segment_files(&fs, dir());
    fs.remove_file(&segs[1]).unwrap();
    let err = Wal::open(dir(), small_segments(&fs)).unwrap_err();
    match err {
        WalError::Corruption {
            segment, reason, ..
        } => {
            assert_eq!(segment, segs[2]);
            assert!(reason.contains("LSN"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}
