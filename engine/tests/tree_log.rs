//! The tree's durable log (issue 11): `WriteBatch::log_data`, `Tree::read_log`,
//! `Tree::durable_lsn`, the retention floor and the `on_durable` hook.
//!
//! - read_log returns exactly the batches written (puts, deletes, log data,
//!   mixed, log-data-only), in order, from any start, in chunks of any size,
//!   across WAL segment rotation, flushes, compactions and reopens;
//! - log data is never visible to get/range, after flush, compaction and
//!   reopen, and consumes no sequence number;
//! - only durable records are returned (`Buffered`/`None` after a sync);
//! - the retention floor keeps what a consumer needs, and reading below the
//!   retained start is `Error::LogTruncated`;
//! - the hook fires (from writers and from the WAL's background sync);
//! - a concurrent reader that checkpoints, advances its floor and applies
//!   retention sees every batch exactly once while writers and flushes run;
//! - power loss at every crash point (FaultFs): a record read before the
//!   crash is always there after recovery, and the recovered tree equals the
//!   recovered log applied in order.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use strata_engine::TreeError as Error;
use strata_engine::lsm::{
    Durability, LogEntry, LogRecord, Lsn, Tree, TreeOptions, WalLossPolicy, WriteBatch,
};
use strata_fs::{FaultFs, FileSystem};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// Small memtables and WAL segments: flushes and segment rotations happen
/// every few batches. Nothing is deleted from the WAL unless a test says so.
fn options(fs: Arc<dyn FileSystem>) -> TreeOptions {
    let mut o = TreeOptions::small_for_tests(fs);
    o.memtable_size = 4096;
    o.wal_segment_size = 4096;
    o.wal_retention_floor = Some(Arc::new(|| 0));
    o
}

/// Batch `i` of the workloads: every shape the log must carry.
fn batch_entries(i: usize) -> Vec<LogEntry> {
    let key = |k: usize| format!("key{:03}", k % 53).into_bytes();
    let val = |j: usize| format!("v{i}-{j}-{}", "x".repeat((i * 17 + j) % 90)).into_bytes();
    let data = |j: usize| format!("delta{i}-{j}-{}", "d".repeat(i % 40)).into_bytes();
    match i % 6 {
        0 => vec![LogEntry::Put {
            key: key(i),
            value: val(0),
        }],
        1 => vec![
            LogEntry::Put {
                key: key(i * 3),
                value: val(0),
            },
            LogEntry::Delete { key: key(i * 7) },
        ],
        2 => vec![LogEntry::Delete { key: key(i) }],
        3 => vec![
            LogEntry::Put {
                key: key(i * 5),
                value: val(0),
            },
            LogEntry::LogData(data(0)),
            LogEntry::Delete { key: key(i * 11) },
            LogEntry::LogData(data(1)),
        ],
        4 => vec![LogEntry::LogData(data(0))],
        _ => vec![
            LogEntry::LogData(data(0)),
            LogEntry::LogData(Vec::new()),
            LogEntry::Put {
                key: key(i * 13),
                value: val(1),
            },
        ],
    }
}

fn to_batch(entries: &[LogEntry]) -> WriteBatch {
    let mut b = WriteBatch::new();
    for e in entries {
        match e {
            LogEntry::Put { key, value } => b.put(key, value),
            LogEntry::Delete { key } => b.delete(key),
            LogEntry::LogData(d) => b.log_data(d),
        };
    }
    b
}

fn apply(model: &mut Model, entries: &[LogEntry]) {
    for e in entries {
        match e {
            LogEntry::Put { key, value } => {
                model.insert(key.clone(), value.clone());
            }
            LogEntry::Delete { key } => {
                model.remove(key);
            }
            LogEntry::LogData(_) => {}
        }
    }
}

fn read_all(tree: &Tree) -> Model {
    tree.range(Bound::Unbounded, Bound::Unbounded, None)
        .unwrap()
        .map(|kv| kv.unwrap())
        .collect()
}

/// Every durable record after `after`, read in chunks of `chunk`.
fn read_from(tree: &Tree, after: Lsn, chunk: usize) -> Vec<LogRecord> {
    let mut out: Vec<LogRecord> = Vec::new();
    let mut pos = after;
    loop {
        let got = tree.read_log(pos, chunk).unwrap();
        assert!(got.len() <= chunk);
        let Some(last) = got.last() else {
            return out;
        };
        pos = last.lsn;
        out.extend(got);
    }
}

/// The log holds exactly `expected` (entries per batch) from LSN `first`.
fn assert_log(records: &[LogRecord], expected: &[Vec<LogEntry>], first: Lsn, what: &str) {
    assert_eq!(records.len(), expected.len(), "{what}: record count");
    for (i, (r, e)) in records.iter().zip(expected).enumerate() {
        assert_eq!(r.lsn, first + i as u64, "{what}: LSN of batch {i}");
        assert_eq!(&r.entries, e, "{what}: entries of batch {i}");
    }
}

#[test]
fn read_log_returns_every_batch_in_order_across_rotation_flush_and_reopen() {
    let fs: Arc<dyn FileSystem> = Arc::new(FaultFs::new());
    let dir = Path::new("/t");
    let mut tree = Tree::open(dir, options(Arc::clone(&fs))).unwrap();
    let mut expected: Vec<Vec<LogEntry>> = Vec::new();
    let mut seqs = Vec::new();
    let n = 300;
    for i in 0..n {
        let e = batch_entries(i);
        let seq = tree.write(to_batch(&e), Durability::Sync).unwrap();
        seqs.push(seq);
        expected.push(e);
        if i % 40 == 39 {
            tree.compact_range(None, None).unwrap();
        }
        if i == n / 2 {
            tree.close().unwrap();
            drop(tree);
            tree = Tree::open(dir, options(Arc::clone(&fs))).unwrap();
        }
    }
    assert!(tree.stats().flushes > 0, "no flush happened");
    let all = read_from(&tree, 0, usize::MAX);
    assert_log(&all, &expected, 1, "full read");
    assert_eq!(tree.durable_lsn(), n as u64);
    // Sequence numbers: the record's last put/delete is what `write` returned;
    // a batch of log data only consumes none.
    for (i, r) in all.iter().enumerate() {
        match r.last_seq() {
            Some(last) => assert_eq!(last, seqs[i], "batch {i}"),
            None => assert_eq!(r.first_seq - 1, seqs[i], "log-only batch {i}"),
        }
    }
    // From every start position, in chunks of several sizes.
    for chunk in [1, 2, 7, 64] {
        for start in (0..=n).step_by(13) {
            let got = read_from(&tree, start as u64, chunk);
            assert_log(
                &got,
                &expected[start..],
                start as u64 + 1,
                &format!("from {start} in chunks of {chunk}"),
            );
        }
    }
    // After the last record: nothing; beyond the end of the log: an error.
    assert!(tree.read_log(n as u64, 10).unwrap().is_empty());
    assert!(tree.read_log(0, 0).unwrap().is_empty());
    assert!(matches!(
        tree.read_log(n as u64 + 5, 10),
        Err(Error::InvalidArgument(_))
    ));
    // The tree holds what the log says.
    let mut model = Model::new();
    for e in &expected {
        apply(&mut model, e);
    }
    assert_eq!(read_all(&tree), model);
    // Reopen and continue: old records still readable, new ones follow.
    tree.close().unwrap();
    drop(tree);
    let tree = Tree::open(dir, options(Arc::clone(&fs))).unwrap();
    let e = batch_entries(3);
    tree.write(to_batch(&e), Durability::Sync).unwrap();
    expected.push(e);
    assert_log(&read_from(&tree, 0, 50), &expected, 1, "after reopen");
    tree.close().unwrap();
}

#[test]
fn log_data_is_never_visible_and_consumes_no_sequence_number() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = TreeOptions::small_for_tests(strata_fs::default_fs());
    opts.wal_retention_floor = Some(Arc::new(|| 0));
    let tree = Tree::open(dir.path(), opts.clone()).unwrap();
    let s1 = tree.put(b"a", b"1", Durability::Sync).unwrap();
    // Log data whose bytes look like keys and internal keys.
    let mut b = WriteBatch::new();
    b.log_data(b"a")
        .log_data(b"b")
        .log_data(b"a\x00\x01\x00\x00\x00\x00\x00\x00\x01\x01");
    let s2 = tree.write(b, Durability::Sync).unwrap();
    assert_eq!(s2, s1, "a log-data-only batch consumes no sequence number");
    let mut b = WriteBatch::new();
    b.log_data(b"c").put(b"d", b"4").log_data(b"e");
    let s3 = tree.write(b, Durability::Buffered).unwrap();
    assert_eq!(s3, s1 + 1);
    assert_eq!(tree.stats().last_seq, s3);
    let only: Model = [
        (b"a".to_vec(), b"1".to_vec()),
        (b"d".to_vec(), b"4".to_vec()),
    ]
    .into_iter()
    .collect();
    let check = |tree: &Tree, what: &str| {
        assert_eq!(read_all(tree), only, "{what}: range");
        for k in [&b"b"[..], b"c", b"e", b"", b"a\x00"] {
            assert_eq!(tree.get(k, None).unwrap(), None, "{what}: get {k:?}");
        }
        let back: Vec<_> = tree
            .range(Bound::Unbounded, Bound::Unbounded, None)
            .unwrap()
            .rev()
            .map(|kv| kv.unwrap().0)
            .collect();
        assert_eq!(back, vec![b"d".to_vec(), b"a".to_vec()], "{what}: reverse");
    };
    check(&tree, "memtable");
    tree.flush().unwrap();
    check(&tree, "after flush");
    tree.compact_range(None, None).unwrap();
    check(&tree, "after compaction");
    let files: u64 = tree.stats().files_per_level.iter().sum();
    assert!(files > 0);
    tree.close().unwrap();
    drop(tree);
    let tree = Tree::open(dir.path(), opts).unwrap();
    check(&tree, "after reopen");
    // Replay at open skipped the log data but the log still holds it.
    let recs = tree.read_log(0, 10).unwrap();
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[1].entries.len(), 3);
    assert!(
        recs[1]
            .entries
            .iter()
            .all(|e| matches!(e, LogEntry::LogData(_)))
    );
    // A write after reopen gets the next sequence number after s3.
    assert_eq!(tree.put(b"f", b"6", Durability::Sync).unwrap(), s3 + 1);
    tree.close().unwrap();
}

#[test]
fn only_durable_records_are_returned() {
    let fs: Arc<dyn FileSystem> = Arc::new(FaultFs::new());
    let mut opts = options(fs);
    // No background sync: only explicit syncs make Buffered writes durable.
    opts.wal_buffered_sync_interval = Duration::ZERO;
    opts.memtable_size = 1 << 20;
    let tree = Tree::open(Path::new("/t"), opts).unwrap();
    tree.put(b"s", b"1", Durability::Sync).unwrap();
    assert_eq!(tree.durable_lsn(), 1);
    for durability in [Durability::Buffered, Durability::None] {
        let before = tree.durable_lsn();
        let mut b = WriteBatch::new();
        b.put(b"k", b"v").log_data(b"x");
        tree.write(b, durability).unwrap();
        assert_eq!(tree.durable_lsn(), before, "{durability:?}");
        assert!(
            tree.read_log(before, 10).unwrap().is_empty(),
            "{durability:?}: a record not yet synced was returned"
        );
        // Visible to reads, but not durable: read_log must not return it.
        assert_eq!(tree.get(b"k", None).unwrap(), Some(b"v".to_vec()));
        assert_eq!(tree.sync_wal().unwrap(), before + 1);
        assert_eq!(tree.read_log(before, 10).unwrap().len(), 1);
    }
    // A flush makes them durable too.
    tree.put(b"f", b"1", Durability::Buffered).unwrap();
    assert_eq!(tree.durable_lsn(), 3);
    tree.flush().unwrap();
    assert_eq!(tree.durable_lsn(), 4);
    // A Sync write makes earlier Buffered ones durable (the WAL is ordered).
    tree.put(b"g", b"1", Durability::Buffered).unwrap();
    tree.put(b"h", b"1", Durability::Sync).unwrap();
    assert_eq!(tree.read_log(4, 10).unwrap().len(), 2);
    tree.close().unwrap();
}

#[test]
fn retention_floor_keeps_what_is_needed_and_older_reads_are_typed_errors() {
    let fs: Arc<dyn FileSystem> = Arc::new(FaultFs::new());
    let floor = Arc::new(AtomicU64::new(0));
    let opts = |fs: &Arc<dyn FileSystem>| {
        let mut o = options(Arc::clone(fs));
        let f = Arc::clone(&floor);
        o.wal_retention_floor = Some(Arc::new(move || f.load(Ordering::Acquire)));
        o
    };
    let dir = Path::new("/t");
    let tree = Tree::open(dir, opts(&fs)).unwrap();
    let mut expected = Vec::new();
    let write = |tree: &Tree, expected: &mut Vec<Vec<LogEntry>>, from: usize, to: usize| {
        for i in from..to {
            let e = batch_entries(i);
            tree.write(to_batch(&e), Durability::Sync).unwrap();
            expected.push(e);
        }
        tree.flush().unwrap();
    };
    write(&tree, &mut expected, 0, 200);
    // Floor 0: everything is kept through the flushes.
    assert_eq!(tree.log_start_lsn(), 1);
    assert_log(&read_from(&tree, 0, 1000), &expected, 1, "floor 0");

    // A consumer at checkpoint 120 needs LSN 121 on.
    floor.store(121, Ordering::Release);
    tree.apply_wal_retention().unwrap();
    let start = tree.log_start_lsn();
    assert!(start > 1, "nothing was released");
    assert!(start <= 121, "a needed segment was deleted (start {start})");
    assert_log(
        &read_from(&tree, 120, 7),
        &expected[120..],
        121,
        "after retention",
    );
    match tree.read_log(0, 10) {
        Err(Error::LogTruncated { requested, oldest }) => {
            assert_eq!((requested, oldest), (1, start));
        }
        other => panic!("expected LogTruncated, got {other:?}"),
    }
    assert!(matches!(
        tree.read_log(start - 2, 10),
        Err(Error::LogTruncated { .. })
    ));
    assert_eq!(tree.read_log(start - 1, 1).unwrap()[0].lsn, start);

    // More writes and flushes keep the floor; so does a reopen.
    write(&tree, &mut expected, 200, 260);
    assert!(tree.log_start_lsn() <= 121);
    tree.close().unwrap();
    drop(tree);
    let tree = Tree::open(dir, opts(&fs)).unwrap();
    write(&tree, &mut expected, 260, 300);
    assert!(tree.log_start_lsn() <= 121);
    assert_log(
        &read_from(&tree, 120, 33),
        &expected[120..],
        121,
        "after reopen",
    );
    // Advancing the floor past everything releases all but the newest segment.
    floor.store(u64::MAX, Ordering::Release);
    tree.apply_wal_retention().unwrap();
    assert!(tree.log_start_lsn() > 250);
    tree.close().unwrap();
}

#[test]
fn on_durable_hook_fires() {
    let seen = Arc::new(Mutex::new(Vec::<Lsn>::new()));
    let mk = |interval: Duration| {
        let mut o = options(Arc::new(FaultFs::new()));
        o.wal_buffered_sync_interval = interval;
        let s = Arc::clone(&seen);
        o.on_durable = Some(Arc::new(move |l| s.lock().unwrap().push(l)));
        o
    };
    // Sync writes: the hook has reported each one when the write returns
    // (a single writer, so no other thread can be reporting it).
    let tree = Tree::open(Path::new("/t"), mk(Duration::ZERO)).unwrap();
    for i in 1..=20u64 {
        tree.put(b"k", b"v", Durability::Sync).unwrap();
        assert_eq!(seen.lock().unwrap().last().copied(), Some(i));
    }
    // Buffered: reported by sync_wal.
    tree.put(b"k", b"v", Durability::Buffered).unwrap();
    assert_eq!(seen.lock().unwrap().last().copied(), Some(20));
    tree.sync_wal().unwrap();
    assert_eq!(seen.lock().unwrap().last().copied(), Some(21));
    let calls = seen.lock().unwrap().clone();
    assert!(calls.windows(2).all(|w| w[0] < w[1]), "{calls:?}");
    tree.close().unwrap();
    drop(tree);

    // Buffered with the WAL's background sync: reported from its thread.
    seen.lock().unwrap().clear();
    let tree = Tree::open(Path::new("/u"), mk(Duration::from_millis(5))).unwrap();
    let mut b = WriteBatch::new();
    b.log_data(b"wake me");
    tree.write(b, Durability::Buffered).unwrap();
    let lsn = tree.wal_next_lsn() - 1;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !seen.lock().unwrap().contains(&lsn) {
        assert!(Instant::now() < deadline, "the hook never reported {lsn}");
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(tree.read_log(0, 10).unwrap().len(), 1);
    tree.close().unwrap();
}

/// A consumer thread reads the log while writers commit, flushes run and it
/// releases segments as its checkpoint advances: it sees every batch exactly
/// once, in commit order, and never hits a truncated log.
#[test]
fn concurrent_reader_sees_every_batch_once() {
    let checkpoint = Arc::new(AtomicU64::new(0));
    let mut opts = options(Arc::new(FaultFs::new()));
    let c = Arc::clone(&checkpoint);
    opts.wal_retention_floor = Some(Arc::new(move || c.load(Ordering::Acquire) + 1));
    opts.wal_buffered_sync_interval = Duration::from_millis(2);
    let wake = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
    let w = Arc::clone(&wake);
    opts.on_durable = Some(Arc::new(move |_| {
        *w.0.lock().unwrap() = true;
        w.1.notify_all();
    }));
    let tree = Tree::open(Path::new("/t"), opts).unwrap();
    let writers = 3;
    let per_writer = 400;
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let tree = tree.clone();
        let (checkpoint, done, wake) = (checkpoint.clone(), done.clone(), wake.clone());
        std::thread::spawn(move || {
            let mut got: Vec<LogRecord> = Vec::new();
            loop {
                let finished = done.load(Ordering::Acquire);
                let pos = checkpoint.load(Ordering::Acquire);
                let recs = tree.read_log(pos, 16).unwrap();
                if let Some(last) = recs.last() {
                    checkpoint.store(last.lsn, Ordering::Release);
                    tree.apply_wal_retention().unwrap();
                    got.extend(recs);
                    continue;
                }
                if finished {
                    return got;
                }
                let mut flag = wake.0.lock().unwrap();
                if !*flag {
                    flag = wake
                        .1
                        .wait_timeout(flag, Duration::from_millis(20))
                        .unwrap()
                        .0;
                }
                *flag = false;
            }
        })
    };
    let handles: Vec<_> = (0..writers)
        .map(|t| {
            let tree = tree.clone();
            std::thread::spawn(move || {
                for i in 0..per_writer {
                    let mut b = WriteBatch::new();
                    b.put(format!("w{t}-{}", i % 10).as_bytes(), &[b'x'; 50]);
                    b.log_data(format!("{t}:{i}").as_bytes());
                    let d = if i % 2 == 0 {
                        Durability::Sync
                    } else {
                        Durability::Buffered
                    };
                    tree.write(b, d).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    tree.sync_wal().unwrap();
    done.store(true, Ordering::Release);
    let got = reader.join().unwrap();
    assert_eq!(got.len(), writers * per_writer);
    let mut next = vec![0usize; writers];
    for (i, r) in got.iter().enumerate() {
        assert_eq!(r.lsn, i as u64 + 1);
        let Some(LogEntry::LogData(d)) = r.entries.get(1) else {
            panic!("record {i}: {:?}", r.entries);
        };
        let s = String::from_utf8(d.clone()).unwrap();
        let (t, n) = s.split_once(':').unwrap();
        let (t, n): (usize, usize) = (t.parse().unwrap(), n.parse().unwrap());
        assert_eq!(n, next[t], "writer {t}'s batches out of order");
        next[t] += 1;
    }
    assert!(tree.stats().flushes > 0);
    assert!(
        tree.log_start_lsn() > 1,
        "the reader's retention released nothing"
    );
    tree.close().unwrap();
}

// ---------------------------------------------------------------------------
// Power loss at every crash point.

const DIR: &str = "/db/tree";

fn crash_options(fs: &FaultFs) -> TreeOptions {
    let mut o = options(Arc::new(fs.clone()));
    o.memtable_size = 2048;
    // Deterministic: Buffered writes become durable by explicit syncs and
    // flushes only.
    o.wal_buffered_sync_interval = Duration::ZERO;
    o
}

/// Writes batches, reading the log after each; returns what was read before
/// the workload stopped (crash or end).
fn crash_workload(fs: &FaultFs, batches: usize, durability: Durability, read: &mut Vec<LogRecord>) {
    let r = (|| -> Result<(), Box<dyn std::error::Error>> {
        fs.create_dir_all(Path::new("/db"))?;
        fs.sync_dir(Path::new("/"))?;
        let mut tree = Tree::open(Path::new(DIR), crash_options(fs))?;
        for i in 0..batches {
            tree.write(to_batch(&batch_entries(i)), durability)?;
            if i % 7 == 6 {
                tree.sync_wal()?;
            }
            if i % 19 == 18 {
                tree.compact_range(None, None)?;
            }
            if i == batches / 2 {
                tree.close()?;
                drop(tree);
                tree = Tree::open(Path::new(DIR), crash_options(fs))?;
            }
            let after = read.last().map_or(0, |r| r.lsn);
            read.extend(tree.read_log(after, usize::MAX)?);
        }
        tree.close()?;
        Ok(())
    })();
    if let Err(e) = r {
        assert!(fs.has_crashed(), "the workload failed without a crash: {e}");
    }
}

fn check_after_power_loss(fs: &FaultFs, read: &[LogRecord], what: &str) {
    if !fs.exists(Path::new(DIR)) {
        assert!(
            read.is_empty(),
            "{what}: directory lost after records were read"
        );
        return;
    }
    let mut o = crash_options(fs);
    o.wal_loss_policy = WalLossPolicy::RefuseUnlessTornTail;
    let tree = Tree::open(Path::new(DIR), o).unwrap_or_else(|e| panic!("{what}: reopen: {e}"));
    let log = read_from(&tree, 0, 64);
    assert!(
        log.len() >= read.len(),
        "{what}: {} records were read before the crash, {} survived",
        read.len(),
        log.len()
    );
    assert_eq!(
        &log[..read.len()],
        read,
        "{what}: a record read before the crash changed or vanished"
    );
    // The tree holds exactly what its log says: a consumer that applies the
    // log (a secondary index) ends up consistent with the tree.
    let mut model = Model::new();
    for r in &log {
        apply(&mut model, &r.entries);
    }
    assert_eq!(read_all(&tree), model, "{what}: tree differs from its log");
    for (i, r) in log.iter().enumerate() {
        assert_eq!(r.entries, batch_entries(i), "{what}: record {i}");
    }
    tree.close().unwrap();
}

fn enumerate_crashes(durability: Durability) {
    let batches = 60;
    let fs = FaultFs::new();
    let mut read = Vec::new();
    crash_workload(&fs, batches, durability, &mut read);
    // Buffered records written after the last sync were not durable when
    // read (close made them so afterwards).
    assert!(read.len() > batches - 7 && read.len() <= batches);
    let after = fs.recovered();
    check_after_power_loss(&after, &read, "no crash");
    let tree = Tree::open(Path::new(DIR), crash_options(&after)).unwrap();
    assert_eq!(
        read_from(&tree, 0, 100).len(),
        batches,
        "no crash: closed log"
    );
    tree.close().unwrap();
    drop(tree);
    let total = fs.points();
    eprintln!("{durability:?}: {total} crash points");
    let mut crashed = 0;
    for k in 0..total + 2 {
        let fs = FaultFs::new();
        fs.crash_at_point(k);
        let mut read = Vec::new();
        crash_workload(&fs, batches, durability, &mut read);
        crashed += usize::from(fs.has_crashed());
        check_after_power_loss(
            &fs.recovered(),
            &read,
            &format!("{durability:?} crash at point {k}/{total}"),
        );
    }
    assert!(
        crashed as u64 >= total * 8 / 10,
        "only {crashed} of {total} points crashed"
    );
}

#[test]
fn power_loss_never_loses_a_record_that_was_read_sync() {
    enumerate_crashes(Durability::Sync);
}

#[test]
fn power_loss_never_loses_a_record_that_was_read_buffered() {
    enumerate_crashes(Durability::Buffered);
}
