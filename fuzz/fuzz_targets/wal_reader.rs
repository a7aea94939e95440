//! Arbitrary bytes as a WAL segment file: the reader returns records or an
//! error, never panics. When it reads the bytes of a version-3 segment
//! without header flags as clean, encoding the records again gives back the
//! same bytes (the format is canonical), followed by zeros (block padding, or
//! the end marker and then anything). The same bytes as the only segment of
//! a log on the in-memory file system: `Wal::open` agrees with the reader in
//! every recovery mode (a torn tail is cut, damage followed by a valid
//! fragment is refused or salvaged), and never panics. The same bytes split
//! in two, as segments 1 and 2 (the rules between segments: a torn tail
//! before a segment whose header says its predecessor was not synced, a torn
//! or stale header of the newest): `Wal::open` never panics, and a log it
//! opens reads back.
#![no_main]

use std::path::Path;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use strata_fs::{FaultFs, FileSystem};
use strata_wal::{
    RecoveryMode, SegmentEnd, Wal, WalOptions, encode_segment_bytes, read_segment_bytes,
};

fn open(data: &[u8], mode: RecoveryMode) -> Option<Vec<Vec<u8>>> {
    let fs = FaultFs::new();
    let dir = Path::new("/w");
    fs.create_dir_all(dir).ok()?;
    let mut f = fs.create(&dir.join("000001.wal")).ok()?;
    f.append(data).ok()?;
    let opts = WalOptions {
        fs: Arc::new(fs),
        recovery_mode: mode,
        buffered_sync_interval: std::time::Duration::ZERO,
        ..WalOptions::default()
    };
    let (wal, _report) = Wal::open(dir, opts).ok()?;
    let records: Result<Vec<_>, _> = wal.iter_from(0).ok()?.map(|r| r.map(|(_, v)| v)).collect();
    Some(records.expect("a recovered log must read back"))
}

/// `first` and `second` as segments 1 and 2 of a log, opened in `mode`.
fn open_two(first: &[u8], second: &[u8], mode: RecoveryMode) {
    let fs = FaultFs::new();
    let dir = Path::new("/w");
    if fs.create_dir_all(dir).is_err() {
        return;
    }
    for (name, bytes) in [("000001.wal", first), ("000002.wal", second)] {
        let Ok(mut f) = fs.create(&dir.join(name)) else {
            return;
        };
        if f.append(bytes).is_err() {
            return;
        }
    }
    let opts = WalOptions {
        fs: Arc::new(fs),
        recovery_mode: mode,
        buffered_sync_interval: std::time::Duration::ZERO,
        ..WalOptions::default()
    };
    if let Ok((wal, report)) = Wal::open(dir, opts) {
        let records: Result<Vec<_>, _> = wal
            .iter_from(0)
            .expect("a recovered log can be read")
            .collect();
        let records = records.expect("a recovered log must read back");
        assert_eq!(records.len() as u64, report.records);
        for w in records.windows(2) {
            assert_eq!(w[0].0 + 1, w[1].0);
        }
        // A new record goes after them.
        let next = wal.next_lsn();
        assert_eq!(records.last().map_or(next, |r| r.0 + 1), next);
        if let Ok(lsn) = wal.append(b"after", strata_wal::Durability::Sync) {
            assert_eq!(lsn, next);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let parsed = read_segment_bytes(data);
    // Two segments: the first byte says where the second starts.
    if let Some((&cut, rest)) = data.split_first() {
        let at = (usize::from(cut) * 131) % (rest.len() + 1);
        let (first, second) = rest.split_at(at);
        for mode in [
            RecoveryMode::AbsoluteConsistency,
            RecoveryMode::TolerateCorruptedTail,
            RecoveryMode::PointInTime,
            RecoveryMode::SkipCorruptedRecords,
        ] {
            open_two(first, second, mode);
        }
    }
    // The canonical re-encoding is checked for version-3 segments without
    // header flags (what `encode_segment_bytes` writes); the tag in the
    // header is the low 32 bits of a number.
    let v3_tag = (data.len() >= 32 && data[8..12] == 3u32.to_le_bytes() && data[14..16] == [0, 0])
        .then(|| u32::from_le_bytes([data[24], data[25], data[26], data[27]]));
    if let (Ok(seg), Some(tag)) = (&parsed, v3_tag) {
        let refs: Vec<&[u8]> = seg.records.iter().map(|r| &r[..]).collect();
        let again = encode_segment_bytes(u64::from(tag), seg.first_lsn, &refs);
        match &seg.end {
            SegmentEnd::Clean => {
                assert!(data.len() >= again.len());
                assert_eq!(&data[..again.len()], &again[..]);
                // What follows the records starts with zeros: block padding
                // to the end of the file, or the end marker (8 zero bytes
                // where the next header would be); anything may follow it.
                let rest = &data[again.len()..];
                let left = 32768 - again.len() % 32768;
                let marker = if left < 8 { left + 8 } else { 8 };
                assert!(rest.iter().take(marker).all(|&b| b == 0));
            }
            SegmentEnd::Corrupt {
                good_len, offset, ..
            } => {
                assert_eq!(*good_len as usize, again.len());
                assert_eq!(&data[..again.len()], &again[..]);
                assert!(*offset as usize <= data.len());
                assert!(*offset >= *good_len);
            }
            _ => {}
        }
    }
    let absolute = open(data, RecoveryMode::AbsoluteConsistency);
    let tolerate = open(data, RecoveryMode::TolerateCorruptedTail);
    let point = open(data, RecoveryMode::PointInTime);
    let salvage = open(data, RecoveryMode::SkipCorruptedRecords);
    match &parsed {
        Ok(seg) => {
            let clean = seg.end == SegmentEnd::Clean;
            assert_eq!(absolute.is_some(), clean);
            if let Some(a) = &absolute {
                assert_eq!(a, &seg.records);
            }
            // The only segment is the last one: a torn tail (nothing valid
            // after the damage) is cut and the records kept; damage followed
            // by a valid fragment is corruption, which only PointInTime
            // (dropping what follows) and salvage (skipping it) accept.
            let torn = match &seg.end {
                SegmentEnd::Corrupt { valid_after, .. } => valid_after.is_none(),
                _ => true,
            };
            if torn {
                assert_eq!(tolerate.as_ref(), Some(&seg.records));
                assert_eq!(salvage.as_ref(), Some(&seg.records));
            } else {
                assert!(tolerate.is_none());
                // Salvage keeps at least the records before the damage.
                let s = salvage.expect("salvage opens a log with a good header");
                assert!(s.len() >= seg.records.len());
                assert_eq!(&s[..seg.records.len()], &seg.records[..]);
            }
            assert_eq!(point.as_ref(), Some(&seg.records));
        }
        Err(_) => {
            // A bad header: only a torn creation (all zero or too short) is
            // recovered, as an empty log.
            assert!(absolute.is_none());
            let torn = data.len() < 32 || data.iter().all(|&b| b == 0);
            assert_eq!(tolerate.is_some(), torn);
            assert_eq!(point.is_some(), torn);
            assert_eq!(salvage.is_some(), torn);
            if let Some(t) = tolerate {
                assert!(t.is_empty());
            }
        }
    }
});
