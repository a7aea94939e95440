//! Damage to a closed database's WAL segments and manifests (issue 10): every
//! reopen either reads back exactly what was written, or fails with an error,
//! or reports in `Db::recovery_report` what it dropped — never a silent
//! rollback. Also the manifest whose last flush edit is cut off, WAL coverage
//! gaps, `refuse_open_on_loss` and salvage.
//!
//! The database lives on `FaultFs`; "closed" means the durable image
//! (`FaultFs::recovered`) after `Sync` writes, so that unflushed writes are
//! still in the WALs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use strata_engine::lsm::{DropKind, Error as TreeError, RecoveryMode};
use strata_engine::{
    Db, DbError, DbOptions, DeleteOptions, PutOptions, ScanOptions, TableDurability, TableSpec,
};
use strata_fs::{FaultFs, FileSystem};
use strata_item::{AttributeValue, Item, KeySchema, KeyType, item};

const DB: &str = "/db";

type Model = BTreeMap<String, BTreeMap<i64, Item>>;

fn options(fs: &FaultFs) -> DbOptions {
    let mut o = DbOptions::small(Arc::new(fs.clone()));
    // Flushes only when asked, no compaction, small WAL segments (so a flush
    // deletes some).
    o.tree.memtable_size = 1 << 20;
    o.tree.wal_segment_size = 512;
    o.tree.l0_compaction_trigger = 1000;
    o.tree.l0_slowdown_writes_trigger = 2000;
    o.tree.l0_stop_writes_trigger = 3000;
    o
}

fn num(v: &AttributeValue) -> i64 {
    match v {
        AttributeValue::N(n) => n.to_string().parse().unwrap(),
        other => panic!("not a number: {other:?}"),
    }
}

/// Writes puts, overwrites and deletes to two tables ("sync" with 3
/// partitions, "buffered" with 2), with a flush of each in the middle.
/// Returns the durable image (taken while
/// the database is open, as after a crash: the writes since the last flush
/// are only in the WALs) and what it holds: every write of "sync"; the
/// prefix of the writes to "buffered" that its background sync made
/// durable (read from an undamaged copy).
fn build() -> (FaultFs, Model) {
    let fs = FaultFs::new();
    let db = Db::open(DB, options(&fs)).unwrap();
    db.create_table(TableSpec::new("sync", KeySchema::simple("id", KeyType::N)).partitions(3))
        .unwrap();
    db.create_table(
        TableSpec::new("buffered", KeySchema::simple("id", KeyType::N))
            .partitions(2)
            .durability(TableDurability::Buffered),
    )
    .unwrap();
    let mut model = Model::new();
    for name in ["sync", "buffered"] {
        let t = db.table(name).unwrap();
        let m = model.entry(name.to_string()).or_default();
        for round in 0..3i64 {
            for id in 0..30i64 {
                if (id + round) % 7 == 0 {
                    t.delete_item(item! { "id" => id }, DeleteOptions::default())
                        .unwrap();
                    m.remove(&id);
                } else {
                    let it = item! { "id" => id, "v" => round * 100 + id, "pad" => "p".repeat((id % 5) as usize * 10) };
                    t.put_item(it.clone(), PutOptions::default()).unwrap();
                    m.insert(id, it);
                }
            }
            if round == 1 {
                t.flush().unwrap();
            }
        }
    }
    let image = fs.recovered();
    drop(db);
    let copy = image.recovered();
    let db = Db::open(DB, options(&copy)).unwrap();
    let got = read_all(&db).unwrap();
    assert_eq!(got["sync"], model["sync"], "a Sync write is missing");
    model.insert("buffered".into(), got["buffered"].clone());
    (image, model)
}

fn read_table(db: &Db, name: &str) -> Result<BTreeMap<i64, Item>, DbError> {
    let t = db.table(name)?;
    let mut out = BTreeMap::new();
    let mut start = None;
    loop {
        let page = t.scan(ScanOptions::default().start_after(start.take()))?;
        for it in page.items {
            out.insert(num(it.get("id").unwrap()), it);
        }
        match page.last_evaluated_key {
            Some(k) => start = Some(k),
            None => break,
        }
    }
    Ok(out)
}

fn read_all(db: &Db) -> Result<Model, DbError> {
    let mut m = Model::new();
    for name in ["sync", "buffered"] {
        m.insert(name.to_string(), read_table(db, name)?);
    }
    Ok(m)
}

/// Every file and its bytes.
fn snapshot(fs: &FaultFs, under: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fs.all_files()
        .into_iter()
        .filter(|p| p.starts_with(under))
        .map(|p| {
            let b = fs.read_all(&p).unwrap();
            (p, b)
        })
        .collect()
}

fn files_matching(fs: &FaultFs, pred: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs.all_files().into_iter().filter(|p| pred(p)).collect();
    v.sort();
    v
}

/// WAL segments of every partition, in order, grouped by partition directory.
fn wal_segments(fs: &FaultFs) -> BTreeMap<PathBuf, Vec<PathBuf>> {
    let mut out: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    for p in files_matching(fs, |p| p.extension().is_some_and(|e| e == "wal")) {
        let part = p.parent().unwrap().parent().unwrap().to_path_buf();
        out.entry(part).or_default().push(p);
    }
    out
}

/// The manifest CURRENT names in a partition directory.
fn manifest_of(fs: &FaultFs, part: &Path) -> PathBuf {
    let cur = String::from_utf8(fs.read_all(&part.join("CURRENT")).unwrap()).unwrap();
    part.join(cur.trim_end())
}

/// Start offsets of the records of a manifest file.
fn manifest_records(data: &[u8]) -> Vec<usize> {
    let mut pos = 16;
    let mut out = Vec::new();
    while pos + 12 <= data.len() {
        out.push(pos);
        let len = u32::from_le_bytes(data[pos..pos + 4].try_into().unwrap()) as usize;
        pos += 12 + len;
    }
    out
}

fn partition_name(part: &Path) -> (String, u32) {
    let p = part.file_name().unwrap().to_str().unwrap();
    let index: u32 = p.trim_start_matches('p').parse().unwrap();
    (part.parent().unwrap().display().to_string(), index)
}

/// Table ids are given in creation order from 1.
fn table_dir_of(table: &str) -> &'static str {
    match table {
        "sync" => "t00000001",
        "buffered" => "t00000002",
        other => panic!("unknown table {other}"),
    }
}

/// Appends bytes to a file, durably.
/// Where the records of a WAL segment end: the file may be longer (the end
/// marker, preallocated zeros, or a recycled file's old bytes).
fn records_end(fs: &FaultFs, path: &Path) -> u64 {
    strata_wal::scan_segment_bytes(&fs.read_all(path).unwrap()).good_len
}

/// Writes `bytes` over `path` at `at` (extending it if needed), durably.
fn write_bytes_at(fs: &FaultFs, path: &Path, at: u64, bytes: &[u8]) {
    let mut data = fs.read_all(path).unwrap();
    let at = at as usize;
    if data.len() < at + bytes.len() {
        data.resize(at + bytes.len(), 0);
    }
    data[at..at + bytes.len()].copy_from_slice(bytes);
    fs.remove_file(path).unwrap();
    let mut f = fs.create(path).unwrap();
    f.append(&data).unwrap();
    f.sync().unwrap();
    fs.sync_dir(path.parent().unwrap()).unwrap();
}

#[test]
fn a_clean_reopen_reads_everything_and_reports_nothing() {
    let (fs, model) = build();
    let segs = wal_segments(&fs);
    assert_eq!(segs.len(), 5, "{segs:?}");
    assert!(segs.keys().all(|p| {
        let s = p.to_string_lossy();
        s.contains(table_dir_of("sync")) || s.contains(table_dir_of("buffered"))
    }));
    let db = Db::open(DB, options(&fs)).unwrap();
    assert_eq!(read_all(&db).unwrap(), model);
    assert!(
        db.recovery_report().is_clean(),
        "{:?}",
        db.recovery_report()
    );
}

/// One table with one partition: 40 items, a flush, 40 more, a flush, 5
/// more; WAL segments of `segment_size` bytes. Returns the durable image, the
/// items and the partition directory.
/// `keep_wal`: a retention floor of 0 keeps every WAL segment (else a
/// flush deletes the segments it covers: every memtable seal starts one).
fn build_flushed(segment_size: u64, keep_wal: bool) -> (FaultFs, BTreeMap<i64, Item>, PathBuf) {
    let fs = FaultFs::new();
    let mut o = options(&fs);
    o.tree.wal_segment_size = segment_size;
    if keep_wal {
        o.tree.wal_retention_floor = Some(Arc::new(|| 0));
    }
    let db = Db::open(DB, o).unwrap();
    db.create_table(TableSpec::new("one", KeySchema::simple("id", KeyType::N)).partitions(1))
        .unwrap();
    let t = db.table("one").unwrap();
    let mut want = BTreeMap::new();
    for id in 0..85i64 {
        let it = item! { "id" => id % 50, "v" => id * 3, "pad" => "q".repeat(40) };
        t.put_item(it.clone(), PutOptions::default()).unwrap();
        want.insert(id % 50, it);
        if id == 39 || id == 79 {
            t.flush().unwrap();
        }
    }
    let image = fs.recovered();
    drop(t);
    drop(db);
    let part = Path::new(DB).join("tables").join("t00000001").join("p0000");
    (image, want, part)
}

fn open_with_segments(fs: &FaultFs, segment_size: u64) -> Result<Db, DbError> {
    let mut o = options(fs);
    o.tree.wal_segment_size = segment_size;
    Db::open(DB, o)
}

/// Cuts the manifest of `part` inside its last record; returns where that
/// record started.
fn cut_last_manifest_edit(fs: &FaultFs, part: &Path) -> usize {
    let manifest = manifest_of(fs, part);
    let data = fs.read_all(&manifest).unwrap();
    let records = manifest_records(&data);
    assert!(records.len() >= 2, "{records:?}");
    let last = *records.last().unwrap();
    // Exactly what a torn append would look like.
    fs.set_len_raw(&manifest, (last + 12 + 3) as u64).unwrap();
    last
}

/// The case from issue 10: the manifest's last edit (a flush, after which
/// the WAL segments it covered were deleted) is cut off. Replay would start
/// at the older flushed position, but the WAL no longer holds it.
#[test]
fn manifest_with_its_last_flush_edit_cut_off_fails_clearly_and_changes_nothing() {
    let (fs, want, part) = build_flushed(512, false);
    // Undamaged, everything is there.
    let db = open_with_segments(&fs.recovered(), 512).unwrap();
    assert_eq!(read_table(&db, "one").unwrap(), want);
    drop(db);
    let first_segment = wal_segments(&fs)[&part][0].clone();
    assert!(
        !first_segment.ends_with("000001.wal"),
        "no segment was deleted"
    );
    cut_last_manifest_edit(&fs, &part);
    let before = snapshot(&fs, Path::new(DB));
    let err = open_with_segments(&fs, 512).unwrap_err();
    match &err {
        DbError::Storage {
            table,
            partition,
            source: TreeError::WalGap {
                expected, found, ..
            },
        } => {
            assert_eq!(table, "one");
            assert_eq!(*partition, 0);
            assert!(found > expected, "{err}");
        }
        other => panic!("expected a WAL gap error, got {other}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("table one partition 0") && msg.contains("expected LSN"),
        "{msg}"
    );
    // The failed open changed nothing: the flushed table (an orphan for the
    // cut manifest) and the WAL are still there.
    assert_eq!(snapshot(&fs, Path::new(DB)), before);
}

#[test]
fn manifest_with_its_last_flush_edit_cut_off_but_wal_intact_replays_and_reports() {
    // The same cut, with the WAL segments the flushes covered kept (by a
    // retention floor): replay from the older position restores everything.
    let (fs, want, part) = build_flushed(1 << 20, true);
    let last = cut_last_manifest_edit(&fs, &part);
    let db = open_with_segments(&fs, 1 << 20).unwrap();
    assert_eq!(read_table(&db, "one").unwrap(), want);
    let report = db.recovery_report();
    assert_eq!(report.partitions.len(), 1, "{report:?}");
    let tail = report.partitions[0].report.manifest_tail.as_ref().unwrap();
    assert_eq!(tail.offset, last as u64);
    assert!(report.partitions[0].report.wal.is_clean());
}

#[test]
fn a_flip_in_the_body_of_the_last_wal_segment_is_never_a_silent_rollback() {
    let (base, model) = build();
    let segs = wal_segments(&base);
    let mut trials = 0;
    let mut errors = 0;
    let mut reported = 0;
    for (part, files) in &segs {
        let last = files.last().unwrap();
        // Flips in the records and the end marker after them; what follows
        // (preallocated zeros) holds no data.
        let len = records_end(&base, last) + 8;
        let step = (len / 40).max(1);
        for off in (0..len).step_by(step as usize) {
            trials += 1;
            let img = base.recovered();
            img.flip_byte(last, off, 0x08).unwrap();
            let what = format!("{} offset {off}", last.display());
            match Db::open(DB, options(&img)) {
                Err(e) => {
                    errors += 1;
                    let msg = e.to_string();
                    assert!(msg.contains(&last.display().to_string()), "{what}: {msg}");
                }
                Ok(db) => {
                    let got = read_all(&db).unwrap();
                    if got != model {
                        // Only the last record can be taken for a torn tail;
                        // then the report names it.
                        reported += 1;
                        let (table_dir, index) = partition_name(part);
                        let entry = db
                            .recovery_report()
                            .partitions
                            .iter()
                            .find(|p| {
                                p.partition == index && table_dir.ends_with(table_dir_of(&p.table))
                            })
                            .unwrap_or_else(|| panic!("{what}: data lost without a report"));
                        let d = &entry.report.wal.dropped[0];
                        assert_eq!(d.kind, DropKind::TornTail, "{what}");
                        assert_eq!(&d.segment, last, "{what}");
                        assert!(d.offset <= off, "{what}");
                    }
                }
            }
        }
    }
    eprintln!("{trials} flips: {errors} errors, {reported} torn tails reported");
    assert!(errors > trials / 2, "{errors} of {trials}");
}

#[test]
fn salvage_keeps_the_records_after_a_flip_reports_it_and_leaves_a_clean_log() {
    let (base, model) = build();
    let segs = wal_segments(&base);
    // The "sync" partition with the largest last segment.
    let (part, last) = segs
        .iter()
        .filter(|(p, _)| p.to_string_lossy().contains(table_dir_of("sync")))
        .map(|(p, f)| (p, f.last().unwrap()))
        .max_by_key(|(_, l)| base.file_size(l).unwrap())
        .unwrap();
    let len = base.file_size(last).unwrap();
    let mut salvaged_trials = 0;
    for off in (40..len).step_by(23) {
        let img = base.recovered();
        img.flip_byte(last, off, 0x01).unwrap();
        // The default refuses, unless the flip hit the last record (a torn
        // tail, covered by the test above).
        if Db::open(DB, options(&img.recovered())).is_ok() {
            continue;
        }
        let mut o = options(&img);
        o.tree.wal_recovery_mode = RecoveryMode::SkipCorruptedRecords;
        let db = Db::open(DB, o).unwrap();
        let got = read_all(&db).unwrap();
        let report = db.recovery_report().clone();
        assert!(report.has_corruption(), "offset {off}: {report:?}");
        let entry = &report.partitions[0];
        assert_eq!(entry.table, "sync");
        assert_eq!(entry.partition, partition_name(part).1);
        assert!(entry.report.salvaged, "{report:?}");
        assert!(entry.report.wal.salvaged_records > 0, "{report:?}");
        let skipped = &entry.report.wal.dropped[0];
        assert_eq!(skipped.kind, DropKind::Corruption);
        assert!(skipped.offset <= off && off < skipped.offset + skipped.bytes);
        // Other tables and partitions are intact.
        assert_eq!(got["buffered"], model["buffered"]);
        salvaged_trials += 1;
        db.close().unwrap();
        drop(db);
        // Salvage flushed what it kept and dropped the damaged segments: a
        // default open is clean and reads the same.
        let db = Db::open(DB, options(&img)).unwrap();
        assert!(
            db.recovery_report().is_clean(),
            "{:?}",
            db.recovery_report()
        );
        assert_eq!(read_all(&db).unwrap(), got);
    }
    assert!(salvaged_trials > 3);
}

#[test]
fn garbage_after_the_last_record_is_a_reported_torn_tail_and_zeros_its_end() {
    for garbage in [false, true] {
        let (fs, model) = build();
        let segs = wal_segments(&fs);
        let last = segs.values().next().unwrap().last().unwrap().clone();
        let end = records_end(&fs, &last);
        let tail: Vec<u8> = (0..500u32)
            .map(|i| if garbage { (i * 37 % 251) as u8 } else { 0 })
            .collect();
        write_bytes_at(&fs, &last, end, &tail);
        let len = fs.file_size(&last).unwrap();
        let db = Db::open(DB, options(&fs)).unwrap();
        assert_eq!(read_all(&db).unwrap(), model);
        let report = db.recovery_report();
        if !garbage {
            // WAL format 2: zeros where a record would start end the records
            // (the writer's end marker, preallocated space).
            assert!(report.is_clean(), "{report:?}");
            continue;
        }
        assert_eq!(report.partitions.len(), 1, "{report:?}");
        let d = &report.partitions[0].report.wal.dropped[0];
        assert_eq!(d.kind, DropKind::TornTail);
        assert_eq!((d.offset, d.bytes), (end, len - end));
        assert!(!report.has_corruption());
    }
}

#[test]
fn wal_gaps_and_truncations_to_the_header_are_errors() {
    let (base, _) = build();
    let segs = wal_segments(&base);
    let (part, files) = segs.iter().find(|(_, f)| f.len() >= 3).unwrap();
    // A middle segment deleted, or truncated to exactly its header.
    for truncate in [false, true] {
        let img = base.recovered();
        if truncate {
            img.set_len_raw(&files[1], 32).unwrap();
        } else {
            img.remove_file(&files[1]).unwrap();
        }
        let before = snapshot(&img, part);
        let err = Db::open(DB, options(&img)).unwrap_err();
        assert!(err.to_string().contains("LSN"), "{err}");
        assert_eq!(snapshot(&img, part), before);
    }
    // The segments after a flushed one gone, and that one truncated to its
    // header: the WAL ends before the flushed position.
    let (base, _, part) = build_flushed(1 << 20, true);
    let files = &wal_segments(&base)[&part];
    assert!(files.len() >= 3, "{files:?}");
    let flushed = &files[files.len() - 2];
    assert!(records_end(&base, flushed) > 32);
    base.remove_file(files.last().unwrap()).unwrap();
    base.set_len_raw(flushed, 32).unwrap();
    let before = snapshot(&base, &part);
    match open_with_segments(&base, 1 << 20).unwrap_err() {
        DbError::Storage {
            source: TreeError::WalGap {
                expected, found, ..
            },
            ..
        } => assert!(found < expected),
        other => panic!("{other}"),
    }
    assert_eq!(snapshot(&base, &part), before);
}

#[test]
fn refuse_open_on_loss_refuses_a_torn_tail_only_where_it_may_hold_acknowledged_writes() {
    let (base, model) = build();
    let segs = wal_segments(&base);
    for table_id in ["t00000001", "t00000002"] {
        let (part, files) = segs
            .iter()
            .find(|(p, _)| p.to_string_lossy().contains(table_id))
            .unwrap();
        let last = files.last().unwrap();
        let img = base.recovered();
        let end = records_end(&img, last);
        write_bytes_at(&img, last, end, &[0x5a; 300]);
        let len = img.file_size(last).unwrap();
        let before = snapshot(&img, part);
        let pristine = img.recovered();
        let mut strict = options(&img);
        strict.refuse_open_on_loss = true;
        match Db::open(DB, strict) {
            // "buffered": a torn tail may hold acknowledged writes.
            Err(DbError::Storage {
                table,
                source: TreeError::RecoveryRefused { reason, .. },
                ..
            }) => {
                assert_eq!(table, "buffered");
                assert!(reason.contains("TornTail"), "{reason}");
                assert_eq!(snapshot(&img, part), before);
            }
            // "sync": a torn tail holds no acknowledged write.
            Ok(db) => {
                assert_eq!(table_id, "t00000001");
                assert!(!db.recovery_report().is_clean());
            }
            Err(e) => panic!("{table_id}: {e}"),
        }
        // Without the option both open, and report the cut.
        let db = Db::open(DB, options(&pristine)).unwrap();
        let report = db.recovery_report();
        assert_eq!(report.partitions.len(), 1);
        assert!(report.partitions[0].report.wal.has_torn_tail());
        let d = &report.partitions[0].report.wal.dropped[0];
        assert_eq!((d.offset, d.bytes), (end, len - end));
        assert_eq!(report.dropped_bytes(), len - end);
        assert_eq!(read_all(&db).unwrap(), model);
    }
}
