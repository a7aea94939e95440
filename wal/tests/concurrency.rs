//! Appenders with mixed durabilities, readers and truncation running at the
//! same time: every reader sees gap-free LSNs with the bytes their appenders
//! wrote, and nothing is lost.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::*;
use strata_wal::{Durability, Lsn, Wal, WalOptions};

#[test]
fn appends_reads_and_truncation_race_safely() {
    let fs = fault_fs();
    let o = WalOptions {
        segment_size: 16 * 1024,
        write_buffer_size: 4096,
        buffered_sync_interval: Duration::from_millis(1),
        ..opts(&fs)
    };
    let (wal, _) = Wal::open(dir(), o).unwrap();
    let wal = Arc::new(wal);
    let stop = Arc::new(AtomicBool::new(false));

    let appenders: Vec<_> = (0..6u64)
        .map(|t| {
            let wal = Arc::clone(&wal);
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                for i in 0..400u64 {
                    let p = payload(t * 100_000 + i, ((i * 37 + t) % 700) as usize);
                    let d = [Durability::Sync, Durability::Buffered, Durability::None]
                        [(i % 3) as usize];
                    if i % 10 == 9 {
                        let q = payload(t * 100_000 + i + 50_000, 5);
                        let first = wal.append_batch(&[&p, &q], d).unwrap();
                        mine.push((first, p));
                        mine.push((first + 1, q));
                    } else {
                        mine.push((wal.append(&p, d).unwrap(), p));
                    }
                }
                mine
            })
        })
        .collect();

    let readers: Vec<_> = (0..2u64)
        .map(|r| {
            let wal = Arc::clone(&wal);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut seen: Vec<(Lsn, Vec<u8>)> = Vec::new();
                let mut round = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    round += 1;
                    let from = wal.next_lsn().saturating_sub(50 + round % 100);
                    let mut prev: Option<Lsn> = None;
                    for item in wal.iter_from(from).unwrap() {
                        match item {
                            Ok((lsn, rec)) => {
                                assert!(lsn >= from);
                                if let Some(p) = prev {
                                    assert_eq!(lsn, p + 1, "reader {r}: LSN gap");
                                }
                                prev = Some(lsn);
                                if lsn % 7 == r {
                                    seen.push((lsn, rec));
                                }
                            }
                            // A segment deleted by truncate_before under the
                            // iterator: it may stop with an I/O error.
                            Err(strata_wal::WalError::Io { .. }) => break,
                            Err(e) => panic!("reader {r}: {e}"),
                        }
                    }
                    if r == 0 && round.is_multiple_of(5) {
                        wal.truncate_before(wal.next_lsn().saturating_sub(300))
                            .unwrap();
                    }
                }
                seen
            })
        })
        .collect();

    let mut written: BTreeMap<Lsn, Vec<u8>> = BTreeMap::new();
    for h in appenders {
        for (lsn, p) in h.join().unwrap() {
            assert!(
                written.insert(lsn, p).is_none(),
                "LSN {lsn} handed out twice"
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    let seen: Vec<(Lsn, Vec<u8>)> = readers
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert_eq!(written.len(), 6 * 440);
    assert_eq!(*written.keys().next().unwrap(), 1);
    assert_eq!(*written.keys().last().unwrap(), 6 * 440);
    for (lsn, rec) in &seen {
        assert_eq!(
            written.get(lsn),
            Some(rec),
            "reader saw other bytes at {lsn}"
        );
    }
    // After a power loss, everything appended before the final sync is there
    // (back to the first segment truncation left).
    wal.sync().unwrap();
    let after = fs.recovered();
    let (w2, report) = Wal::open(dir(), opts(&after)).unwrap();
    assert!(report.is_clean());
    let got = read_all(&w2);
    assert_eq!(got.last().unwrap().0, 6 * 440);
    for (lsn, rec) in &got {
        assert_eq!(written.get(lsn), Some(rec));
    }
}
