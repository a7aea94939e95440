//! Rotations into a spare put their fsyncs off (format version 3): the
//! segment left behind and the new one's header and name are synced by the
//! next sync. Recovery then takes a torn tail in the segment before the last,
//! or a torn or stale header in the last, for what a power loss leaves, and
//! still calls the same damage corruption where no deferred rotation explains
//! it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata_fs::{FaultFs, FaultOp, RealFs};
use strata_wal::{DropKind, Durability, Lsn, SEGMENT_HEADER_SIZE, Wal, WalError, WalOptions};

fn recycling(fs: &FaultFs) -> WalOptions {
    WalOptions {
        recycle_segments: 1,
        ..opts(fs)
    }
}

fn real_opts() -> WalOptions {
    WalOptions {
        recycle_segments: 1,
        ..opts_on(Arc::new(RealFs))
    }
}

fn seg(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:06}.wal"))
}

/// Fills segment 1, rotates, retires it (a spare), fills segment 2 with
/// `Buffered` records, rotates into the spare (deferred: segment 3), and
/// appends `Buffered` records to segment 3. Returns the records by LSN.
fn two_live_segments(wal: &Wal, sync_before_rotation: bool) -> BTreeMap<Lsn, Vec<u8>> {
    let mut all = BTreeMap::new();
    for i in 0..5 {
        let p = payload(i, 300);
        all.insert(wal.append(&p, Durability::Sync).unwrap(), p);
    }
    assert!(wal.rotate().unwrap());
    assert_eq!(wal.truncate_before(wal.next_lsn()).unwrap(), 1);
    assert_eq!(wal.spare_count(), 1);
    for i in 5..10 {
        let p = payload(i, 300);
        all.insert(wal.append(&p, Durability::Buffered).unwrap(), p);
    }
    if sync_before_rotation {
        wal.sync().unwrap();
    }
    assert!(wal.rotate().unwrap());
    assert_eq!(wal.spare_count(), 0, "the rotation reused the spare");
    for i in 10..14 {
        let p = payload(i, 300);
        all.insert(wal.append(&p, Durability::Buffered).unwrap(), p);
    }
    all
}

/// A log in a temporary directory holding [`two_live_segments`], left as a
/// killed process leaves it (the OS keeps everything).
fn killed_log(sync_before_rotation: bool) -> (tempfile::TempDir, BTreeMap<Lsn, Vec<u8>>) {
    let tmp = tempfile::tempdir().unwrap();
    let (wal, _) = Wal::open(tmp.path(), real_opts()).unwrap();
    let all = two_live_segments(&wal, sync_before_rotation);
    drop(wal);
    (tmp, all)
}

/// Cuts segment `n` of the log in `dir` 100 bytes before the end of its
/// records (the zeros after them are preallocated or the end marker): a
/// tear inside its last record. Returns where the records ended.
fn tear_last_record(dir: &Path, n: u64) -> u64 {
    let path = seg(dir, n);
    let bytes = std::fs::read(&path).unwrap();
    let end = bytes.iter().rposition(|&b| b != 0).unwrap() as u64 + 1;
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(end - 100).unwrap();
    end
}

#[test]
fn a_rotation_into_a_spare_waits_for_no_fsync() {
    let fs = fault_fs();
    let (wal, _) = Wal::open(dir(), recycling(&fs)).unwrap();
    wal.append(b"a", Durability::Sync).unwrap();
    wal.rotate().unwrap();
    wal.truncate_before(wal.next_lsn()).unwrap();
    wal.append(b"b", Durability::Buffered).unwrap();
    let (syncs, dir_syncs) = (fs.op_count(FaultOp::Sync), fs.op_count(FaultOp::SyncDir));
    assert!(wal.rotate().unwrap());
    assert_eq!(fs.op_count(FaultOp::Sync), syncs, "no file fsync");
    assert_eq!(
        fs.op_count(FaultOp::SyncDir),
        dir_syncs,
        "no directory fsync"
    );
    wal.append(b"c", Durability::Buffered).unwrap();
    // The next sync owes the old segment, the directory and the new one.
    wal.sync().unwrap();
    assert_eq!(fs.op_count(FaultOp::Sync), syncs + 2);
    assert_eq!(fs.op_count(FaultOp::SyncDir), dir_syncs + 1);
    // After a power loss now, everything is there.
    let after = fs.recovered();
    let (wal2, report) = Wal::open(dir(), recycling(&after)).unwrap();
    assert!(report.is_clean(), "{report:?}");
    let got: Vec<Vec<u8>> = read_all(&wal2).into_iter().map(|(_, r)| r).collect();
    assert_eq!(got, vec![b"b".to_vec(), b"c".to_vec()]);
}

/// A process crash right after a deferred rotation, a restart, then a power
/// loss: the restart synced both segments the rotation left unsynced (and
/// the directory), so every record is there.
#[test]
fn reopening_after_a_process_crash_syncs_what_a_deferred_rotation_owed() {
    let fs = fault_fs();
    let (wal, _) = Wal::open(dir(), recycling(&fs)).unwrap();
    let all = two_live_segments(&wal, false);
    std::mem::forget(wal);
    fs.release_locks();
    let (wal, report) = Wal::open(dir(), recycling(&fs)).unwrap();
    assert!(report.is_clean(), "{report:?}");
    drop(wal);
    let after = fs.recovered();
    let (wal, report) = Wal::open(dir(), recycling(&after)).unwrap();
    assert!(report.is_clean(), "{report:?}");
    // Segment 1 (LSNs 1..=5) was retired; segments 2 and 3 hold the rest.
    let got: BTreeMap<Lsn, Vec<u8>> = read_all(&wal).into_iter().collect();
    let want: BTreeMap<Lsn, Vec<u8>> = all.into_iter().filter(|(l, _)| *l > 5).collect();
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    assert!(got == want, "records with other bytes");
}

#[test]
fn without_a_spare_a_rotation_syncs_first() {
    let fs = fault_fs();
    let (wal, _) = Wal::open(dir(), recycling(&fs)).unwrap();
    wal.append(b"a", Durability::Buffered).unwrap();
    let syncs = fs.op_count(FaultOp::Sync);
    wal.rotate().unwrap();
    // The old segment, then the new file.
    assert_eq!(fs.op_count(FaultOp::Sync), syncs + 2);
    assert_eq!(wal.synced_lsn(), 2);
}

#[test]
fn a_torn_tail_before_a_deferred_rotation_drops_the_newer_segment() {
    // A process crash (the OS keeps everything), then segment 2 cut in its
    // last record, as a power loss that wrote segment 3's pages but not
    // segment 2's last ones would.
    let (tmp, all) = killed_log(false);
    let dir = tmp.path();
    tear_last_record(dir, 2);

    let (wal, report) = Wal::open(dir, real_opts()).unwrap();
    assert!(!report.has_corruption(), "{report:?}");
    let kinds: Vec<DropKind> = report.dropped.iter().map(|d| d.kind).collect();
    assert_eq!(kinds, vec![DropKind::TornTail, DropKind::AfterTornTail]);
    assert_eq!(report.dropped[1].segment, seg(dir, 3));
    assert!(!seg(dir, 3).exists());
    // A prefix: segment 2's first four records, nothing of segment 3.
    let got = read_all(&wal);
    assert_eq!(got.len(), 4);
    for (lsn, r) in &got {
        assert_eq!(Some(r), all.get(lsn));
    }
    assert_eq!(wal.next_lsn(), got.last().unwrap().0 + 1);
    // Appends go on from there.
    let lsn = wal.append(b"after", Durability::Sync).unwrap();
    assert_eq!(lsn, got.last().unwrap().0 + 1);
}

#[test]
fn a_tail_lost_at_a_record_boundary_before_a_deferred_rotation_drops_the_newer_segment() {
    let (tmp, all) = killed_log(false);
    let dir = tmp.path();
    // Segment 2 keeps its first three records and the zeros after them:
    // it ends cleanly, but short of segment 3's first LSN.
    let keep = SEGMENT_HEADER_SIZE + 3 * (8 + 300);
    let mut bytes = std::fs::read(seg(dir, 2)).unwrap();
    bytes[keep..].fill(0);
    std::fs::write(seg(dir, 2), &bytes).unwrap();
    let (wal, report) = Wal::open(dir, real_opts()).unwrap();
    assert!(!report.has_corruption(), "{report:?}");
    let kinds: Vec<DropKind> = report.dropped.iter().map(|d| d.kind).collect();
    assert_eq!(kinds, vec![DropKind::AfterTornTail], "{report:?}");
    assert_eq!(report.dropped[0].segment, seg(dir, 3));
    let got = read_all(&wal);
    assert_eq!(got.len(), 3);
    for (lsn, r) in &got {
        assert_eq!(Some(r), all.get(lsn));
    }
    drop(wal);
    // Without the flag (segment 2 synced before the rotation), the same
    // gap is corruption.
    let (tmp, _) = killed_log(true);
    let dir = tmp.path();
    let mut bytes = std::fs::read(seg(dir, 2)).unwrap();
    bytes[keep..].fill(0);
    std::fs::write(seg(dir, 2), &bytes).unwrap();
    assert!(matches!(
        Wal::open(dir, real_opts()),
        Err(WalError::Corruption { .. })
    ));
}

#[test]
fn the_same_tear_is_corruption_when_the_segment_was_synced_before_rotation() {
    let (tmp, _) = killed_log(true);
    let dir = tmp.path();
    tear_last_record(dir, 2);
    match Wal::open(dir, real_opts()) {
        Err(WalError::Corruption { segment, .. }) => assert_eq!(segment, seg(dir, 2)),
        other => panic!("expected corruption, got {other:?}"),
    }
    // Nothing was changed on disk.
    assert!(seg(dir, 3).exists());
}

#[test]
fn a_torn_header_of_a_recycled_segment_is_a_torn_creation() {
    let (tmp, all) = killed_log(true);
    let dir = tmp.path();
    let path = seg(dir, 3);
    let original = std::fs::read(&path).unwrap();
    for written in [0usize, 5, 13, 20, 27, 31] {
        // The header written over the spare's blank one, torn after
        // `written` bytes; the records after it made it to the disk.
        let mut bytes = original.clone();
        bytes[written..SEGMENT_HEADER_SIZE].fill(0);
        std::fs::write(&path, &bytes).unwrap();
        let copy = tempfile::tempdir().unwrap();
        for name in ["000002.wal", "000003.wal"] {
            std::fs::copy(dir.join(name), copy.path().join(name)).unwrap();
        }
        let (wal, report) = Wal::open(copy.path(), real_opts()).unwrap();
        assert!(!report.has_corruption(), "{written}: {report:?}");
        assert_eq!(report.dropped.len(), 1, "{written}: {report:?}");
        assert_eq!(report.dropped[0].kind, DropKind::TornCreation);
        let got = read_all(&wal);
        assert_eq!(got.len(), 5, "segment 2's records stay");
        for (lsn, r) in &got {
            assert_eq!(Some(r), all.get(lsn));
        }
    }
    // A whole header with one flipped bit is damage, not a torn write.
    let mut bytes = original.clone();
    bytes[20] ^= 0x10;
    std::fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        Wal::open(dir, real_opts()),
        Err(WalError::Corruption { .. })
    ));
    // So is a torn-looking header whose leading bytes are not this
    // segment's (another tag).
    let mut bytes = original.clone();
    bytes[24] ^= 0x01;
    bytes[28..SEGMENT_HEADER_SIZE].fill(0);
    std::fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        Wal::open(dir, real_opts()),
        Err(WalError::Corruption { .. })
    ));
}

#[test]
fn a_stale_header_under_the_new_name_is_a_torn_creation() {
    let (tmp, _) = killed_log(true);
    let dir = tmp.path();
    // Segment 3 still carrying a valid header of another segment (tag 1):
    // the rename reached the disk, the header rewrite did not.
    let stale = strata_wal::encode_segment_bytes(1, 1, &[b"old record"]);
    let mut bytes = std::fs::read(seg(dir, 3)).unwrap();
    bytes[..stale.len()].copy_from_slice(&stale);
    std::fs::write(seg(dir, 3), &bytes).unwrap();
    let (wal, report) = Wal::open(dir, real_opts()).unwrap();
    assert_eq!(report.dropped.len(), 1, "{report:?}");
    assert_eq!(report.dropped[0].kind, DropKind::TornCreation);
    assert!(report.dropped[0].reason.contains("tagged 1"), "{report:?}");
    assert_eq!(read_all(&wal).len(), 5);
}

/// Waits (up to 20 s) for `cond`.
fn wait_for(cond: impl Fn() -> bool) -> bool {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::time::Instant::now() < until {
        if cond() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    cond()
}

/// The background syncer prepares a spare once the active segment has grown,
/// named after the segment the next rotation starts; the rotation reuses it.
/// When the spare cannot be created, writes go on and the rotation creates
/// its file durably.
#[test]
fn the_background_syncer_prepares_a_spare() {
    for fail in [false, true] {
        let fs = fault_fs();
        let o = WalOptions {
            buffered_sync_interval: std::time::Duration::from_millis(1),
            preallocate: 64 << 10,
            ..recycling(&fs)
        };
        let (wal, _) = Wal::open(dir(), o).unwrap();
        let created = fs.op_count(FaultOp::Create);
        if fail {
            // The next file created is the spare.
            fs.inject(FaultOp::Create, 1, strata_fs::FaultKind::Eio);
        }
        let mut n = 0u64;
        while n < 200 {
            wal.append(&payload(n, 1000), Durability::Buffered).unwrap();
            n += 1;
        }
        let spare = dir().join("000002.spare");
        if fail {
            // The syncer tried (and logged the error); no spare.
            assert!(wait_for(|| fs.op_count(FaultOp::Create) > created));
            std::thread::sleep(std::time::Duration::from_millis(20));
            assert_eq!(wal.spare_count(), 0);
            assert!(!strata_fs::FileSystem::exists(&fs, &spare));
        } else {
            assert!(wait_for(|| wal.spare_count() == 1), "no spare prepared");
            assert!(strata_fs::FileSystem::exists(&fs, &spare));
        }
        let syncs = fs.op_count(FaultOp::Sync);
        wal.rotate().unwrap();
        let stats = wal.stats();
        assert_eq!(stats.segments_recycled, u64::from(!fail), "fail {fail}");
        if !fail {
            assert_eq!(fs.op_count(FaultOp::Sync), syncs, "a deferred rotation");
        }
        wal.append(b"next", Durability::Sync).unwrap();
        wal.close().unwrap();
        drop(wal);
        let (wal, report) = Wal::open(dir(), recycling(&fs.recovered())).unwrap();
        assert!(report.is_clean(), "{report:?}");
        assert_eq!(read_all(&wal).len(), 201);
    }
}

/// `Buffered` appends, rotations into spares and retention, with a power
/// loss at a random moment (torn writes: each file keeps a random prefix of
/// its unsynced writes, independently of the others, and the directory a
/// random prefix of its unsynced changes). What survives is a
/// prefix of what was appended, holding every record synced before the
/// crash, and recovery finds no corruption.
#[test]
fn power_loss_with_deferred_rotations_leaves_a_prefix() {
    let mut deferred_tears = 0;
    for seed in 0..2000u64 {
        let fs = fault_fs();
        fs.set_torn_writes(Some(seed));
        // Unsynced renames may reach the disk before the data they name.
        fs.set_dir_writeback(Some(seed));
        let mut rng = StdRng::seed_from_u64(seed);
        fs.crash_at_point(rng.random_range(5..120));
        if seed % 3 == 0 {
            // An fsync fails first: the log is poisoned, and retention (a
            // flush thread) may still run before the power goes.
            let kind = strata_fs::FaultKind::Eio;
            fs.inject(FaultOp::Sync, rng.random_range(1..30), kind);
        }
        let o = || WalOptions {
            segment_size: 1 << 30,
            recycle_segments: rng_free_spares(seed),
            ..opts(&fs)
        };
        let mut attempted: Vec<Vec<u8>> = Vec::new();
        let mut synced_upto = 1;
        let mut retained_from = 1;
        if let Ok((wal, _)) = Wal::open(dir(), o()) {
            for i in 0..400u64 {
                let p = payload(i, rng.random_range(1..900));
                let before = wal.next_lsn();
                let r = match rng.random_range(0..100) {
                    0..70 => wal.append(&p, Durability::Buffered).map(|_| ()),
                    70..80 => wal.append(&p, Durability::Sync).map(|_| ()),
                    80..90 => wal.rotate().map(|_| ()),
                    90..95 => {
                        let cut = wal.synced_lsn();
                        // Retention may have started even if it fails.
                        retained_from = retained_from.max(cut);
                        wal.truncate_before(cut).map(|_| ())
                    }
                    _ => wal.sync(),
                };
                if wal.next_lsn() > before {
                    attempted.push(p);
                }
                match r {
                    Ok(()) => synced_upto = synced_upto.max(wal.synced_lsn()),
                    Err(_) => {
                        let cut = wal.synced_lsn();
                        retained_from = retained_from.max(cut);
                        let _ = wal.truncate_before(cut);
                        break;
                    }
                }
            }
        }
        let after = fs.recovered();
        let (wal, report) = Wal::open(dir(), recycling(&after)).unwrap_or_else(|e| {
            let files = after.describe_dir(dir());
            panic!("seed {seed}: reopen failed: {e}\n{files}")
        });
        assert!(!report.has_corruption(), "seed {seed}: {report:?}");
        if report
            .dropped
            .iter()
            .any(|d| d.kind == DropKind::AfterTornTail)
        {
            deferred_tears += 1;
        }
        let got = read_all(&wal);
        for w in got.windows(2) {
            assert_eq!(w[0].0 + 1, w[1].0, "seed {seed}: hole");
        }
        for (lsn, r) in &got {
            assert_eq!(
                r,
                &attempted[(*lsn - 1) as usize],
                "seed {seed}: record {lsn}"
            );
        }
        let next = got.last().map_or(wal.next_lsn(), |l| l.0 + 1);
        assert!(
            next >= synced_upto,
            "seed {seed}: synced records lost (log ends at {next}, synced to {synced_upto})"
        );
        assert!(
            got.first().is_none_or(|f| f.0 <= retained_from),
            "seed {seed}: retained records lost"
        );
    }
    // The case this format version is for did come up.
    assert!(
        deferred_tears > 0,
        "no crash tore a segment before a deferred rotation"
    );
}

fn rng_free_spares(seed: u64) -> usize {
    1 + (seed % 2) as usize
}
