//! The scrub (`Db::verify`, `verify_dir`): a clean database verifies clean,
//! open and closed, also while it is being written; damage to every kind of
//! file (SSTable data block, index, filter, padding, properties, footer; WAL
//! segment header and body; manifest; CURRENT; CATALOG) is reported with the
//! right file and an offset inside the damaged record or block; the scrub
//! changes nothing on disk.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use strata_engine::{
    Db, DbOptions, LsiSpec, Problem, ProblemKind, PutOptions, Severity, TableSpec, VerifyReport,
    verify_dir,
};
use strata_fs::{FaultFs, FileSystem};
use strata_item::{KeySchema, KeyType, item};
use strata_sstable::{ReaderOptions, Table};

const DB: &str = "/db";

fn options(fs: Arc<dyn FileSystem>) -> DbOptions {
    let mut o = DbOptions::small(fs);
    // Small segments: every partition has several, so damage can be put in
    // a segment that is not the newest.
    o.tree.wal_segment_size = 4096;
    o
}

fn main_spec() -> TableSpec {
    TableSpec::new(
        "main",
        KeySchema::composite("pk", KeyType::S, "sk", KeyType::N),
    )
    .partitions(3)
    .lsi(LsiSpec::new("by_x", "x", KeyType::N))
}

fn put_main(db: &Db, from: usize, to: usize) {
    let t = db.table("main").unwrap();
    for i in from..to {
        let payload = format!("{i:>6}").repeat(14);
        t.put_item(
            item! { "pk" => format!("u{}", i % 37), "sk" => i as i64, "x" => (i * 7 % 101) as i64, "p" => payload },
            PutOptions::default(),
        )
        .unwrap();
    }
}

/// Phase 1: two tables (one with three partitions and an LSI), enough
/// data for flushes and compactions, closed (which waits for them). Phase 2:
/// reopened with compaction and automatic flushes out of reach, one explicit
/// flush of `main` (a manifest edit per partition), then unflushed data in
/// several WAL segments per partition. Returns the open, quiescent database
/// (no background work runs until it is written to again).
fn build(fs: &Arc<dyn FileSystem>) -> Db {
    let db = Db::open(DB, options(Arc::clone(fs))).unwrap();
    db.create_table(main_spec()).unwrap();
    db.create_table(TableSpec::new("side", KeySchema::simple("id", KeyType::N)).partitions(2))
        .unwrap();
    put_main(&db, 0, 1500);
    db.table("main").unwrap().flush().unwrap();
    let side = db.table("side").unwrap();
    for i in 0..50i64 {
        side.put_item(item! { "id" => i, "v" => "side" }, PutOptions::default())
            .unwrap();
    }
    db.close().unwrap();
    drop((db, side));

    let mut quiet = options(Arc::clone(fs));
    quiet.tree.memtable_size = 4 << 20;
    quiet.tree.l0_compaction_trigger = 1000;
    quiet.tree.l0_slowdown_writes_trigger = 1000;
    quiet.tree.l0_stop_writes_trigger = 1000;
    quiet.tree.max_bytes_for_level_base = 1 << 40;
    let db = Db::open(DB, quiet).unwrap();
    put_main(&db, 1500, 1560);
    db.table("main").unwrap().flush().unwrap();
    put_main(&db, 1560, 1800);
    db
}

/// The files of a database killed after [`build`] (as by SIGKILL: what the
/// process wrote is kept), on a new file system nothing writes to.
fn closed_db() -> Arc<dyn FileSystem> {
    let fs: Arc<dyn FileSystem> = Arc::new(FaultFs::new());
    let db = build(&fs);
    let image = copy(&fs);
    db.close().unwrap();
    image
}

/// Every regular file under `dir` with its bytes.
fn snapshot(fs: &Arc<dyn FileSystem>, dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for name in fs.list(&d).unwrap() {
            let p = d.join(name);
            if fs.is_dir(&p) {
                stack.push(p);
            } else {
                out.insert(p.clone(), fs.read_all(&p).unwrap());
            }
        }
    }
    out
}

fn files_ending(fs: &Arc<dyn FileSystem>, suffix: &str) -> Vec<PathBuf> {
    snapshot(fs, Path::new(DB))
        .into_keys()
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect()
}

fn write(fs: &Arc<dyn FileSystem>, path: &Path, bytes: &[u8]) {
    strata_fs::write_atomic(fs.as_ref(), path, bytes).unwrap();
}

/// Where a WAL segment's records end (the file may go on: the end marker,
/// preallocated zeros).
fn records_end(fs: &Arc<dyn FileSystem>, path: &Path) -> usize {
    strata_wal::scan_segment_bytes(&fs.read_all(path).unwrap()).good_len as usize
}

fn flip(fs: &Arc<dyn FileSystem>, path: &Path, pos: usize) {
    let mut b = fs.read_all(path).unwrap();
    b[pos] ^= 0x10;
    write(fs, path, &b);
}

fn truncate(fs: &Arc<dyn FileSystem>, path: &Path, len: usize) {
    fs.truncate(path, len as u64).unwrap();
}

/// The errors of a report; panics if any problem concerns a file other than
/// `path` (every damage below is in one file).
fn errors_on(report: &VerifyReport, path: &Path) -> Vec<Problem> {
    for p in &report.problems {
        assert_eq!(p.path, path, "problem on another file: {p}\n{report}");
    }
    report.errors().cloned().collect()
}

/// Verifies the closed database and expects an error on `path` at an offset
/// within `range`.
fn expect_error_in(
    fs: &Arc<dyn FileSystem>,
    path: &Path,
    range: std::ops::Range<u64>,
) -> VerifyReport {
    let report = verify_dir(DB, fs).unwrap();
    let errors = errors_on(&report, path);
    assert!(
        !errors.is_empty(),
        "damage to {} not reported\n{report}",
        path.display()
    );
    assert!(
        errors
            .iter()
            .any(|e| e.offset.is_some_and(|o| range.contains(&o))),
        "no error on {} within {range:?}\n{report}",
        path.display()
    );
    report
}

#[test]
fn a_clean_database_verifies_clean_open_and_closed() {
    let fs: Arc<dyn FileSystem> = Arc::new(FaultFs::new());
    let db = build(&fs);
    let before = snapshot(&fs, Path::new(DB));
    let live = db.verify().unwrap();
    assert!(live.problems.is_empty(), "{live}");
    assert_eq!(snapshot(&fs, Path::new(DB)), before, "verify changed files");
    assert!(live.files_checked > 20, "{live}");

    let image = copy(&fs);
    let ssts = files_ending(&image, ".sst").len();
    let segments = files_ending(&image, ".wal").len();
    assert!(ssts >= 10, "{ssts} tables");
    assert!(segments >= 10, "{segments} WAL segments");

    let before = snapshot(&image, Path::new(DB));
    let closed = verify_dir(DB, &image).unwrap();
    assert!(closed.problems.is_empty(), "{closed}");
    assert_eq!(
        snapshot(&image, Path::new(DB)),
        before,
        "verify_dir changed files"
    );
    // Every file but the lock files is read completely.
    let files: Vec<&PathBuf> = before
        .keys()
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n != "LOCK" && n != "wal.lock"
        })
        .collect();
    let bytes: u64 = files.iter().map(|p| before[*p].len() as u64).sum();
    assert_eq!(closed.files_checked, files.len() as u64, "{closed}");
    assert_eq!(closed.bytes_checked, bytes);
    assert!(
        closed.to_string().contains("0 errors, 0 warnings"),
        "{closed}"
    );

    // The scrubbed image opens and holds everything.
    let db2 = Db::open(DB, options(Arc::clone(&image))).unwrap();
    let t = db2.table("main").unwrap();
    let mut n = 0;
    let mut opts = strata_engine::ScanOptions::default();
    loop {
        let page = t.scan(opts.clone()).unwrap();
        n += page.items.len();
        match page.last_evaluated_key {
            Some(k) => opts = opts.start_after(Some(k)),
            None => break,
        }
    }
    assert_eq!(n, 1800);
    db2.close().unwrap();
    db.close().unwrap();
}

#[test]
fn verify_is_clean_while_writers_run() {
    let dir = tempfile::tempdir().unwrap();
    let fs = strata_fs::default_fs();
    let mut o = DbOptions::small(Arc::clone(&fs));
    o.tree.wal_segment_size = 8192;
    let db = Db::open(dir.path(), o).unwrap();
    db.create_table(main_spec()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let db = db.clone();
            let stop = Arc::clone(&stop);
            let written = Arc::clone(&written);
            std::thread::spawn(move || {
                let t = db.table("main").unwrap();
                let mut i = 0i64;
                while !stop.load(Ordering::Relaxed) {
                    t.put_item(
                        item! { "pk" => format!("w{w}-{}", i % 50), "sk" => i, "x" => i % 13, "p" => "y".repeat(60) },
                        PutOptions::default(),
                    )
                    .unwrap();
                    i += 1;
                    written.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    // Scrub until the writers have written enough for many flushes,
    // compactions and WAL segments to have happened meanwhile.
    let mut scrubs = 0;
    while scrubs < 5 || written.load(Ordering::Relaxed) < 6000 {
        let r = db.verify().unwrap();
        assert!(r.is_clean(), "{r}");
        scrubs += 1;
    }
    stop.store(true, Ordering::Relaxed);
    for h in writers {
        h.join().unwrap();
    }
    let r = db.verify().unwrap();
    assert!(r.is_clean(), "{r}");
    db.close().unwrap();
    let r = verify_dir(dir.path(), &fs).unwrap();
    assert!(r.problems.is_empty(), "{r}");
}

/// Where the parts of an SSTable are, from its footer and properties.
struct SstLayout {
    data_end: u64,
    filter: (u64, u64),
    index: (u64, u64),
    props: (u64, u64),
    footer: u64,
    first_block_end: u64,
}

fn sst_layout(bytes: &[u8]) -> SstLayout {
    let f = bytes.len() - 76;
    let u = |at: usize| u64::from_le_bytes(bytes[f + at..f + at + 8].try_into().unwrap());
    let t =
        Table::open_bytes(bytes.to_vec(), "/x.sst".into(), 1, ReaderOptions::default()).unwrap();
    let p = t.properties();
    SstLayout {
        data_end: p.data_bytes,
        filter: (u(0), u(0) + u(8) + 6),
        index: (u(16), u(16) + u(24) + 6),
        props: (u(32), u(32) + u(40) + 6),
        footer: f as u64,
        first_block_end: p.data_bytes / p.data_blocks,
    }
}

/// A table with padding before its filter and at least two data blocks.
fn padded_sst(fs: &Arc<dyn FileSystem>) -> (PathBuf, SstLayout) {
    for p in files_ending(fs, ".sst") {
        let l = sst_layout(&fs.read_all(&p).unwrap());
        if l.filter.0 > l.data_end && l.first_block_end < l.data_end {
            return (p, l);
        }
    }
    panic!("no table with filter padding");
}

#[test]
fn damaged_sstable_parts_are_reported_with_file_and_offset() {
    let base = closed_db();
    let (path, l) = padded_sst(&base);
    let good = base.read_all(&path).unwrap();
    // (what, position to flip, the offsets an error may name)
    let cases: Vec<(&str, u64, std::ops::Range<u64>)> = vec![
        ("data block", 5, 0..1),
        ("padding", l.data_end, l.data_end..l.data_end + 1),
        ("filter", l.filter.0 + 3, l.filter.0..l.filter.1),
        ("index", l.index.0 + 1, l.index.0..l.index.1),
        ("index trailer", l.index.1 - 2, l.index.0..l.index.1),
        ("properties", l.props.0 + 2, l.props.0..l.props.1),
        ("footer", l.footer + 50, l.footer..good.len() as u64),
        ("magic", good.len() as u64 - 1, l.footer..good.len() as u64),
    ];
    for (what, pos, range) in cases {
        let fs = copy(&base);
        flip(&fs, &path, pos as usize);
        let r = expect_error_in(&fs, &path, range.clone());
        assert!(
            r.errors().all(|e| e.kind == ProblemKind::Corruption),
            "{what}: {r}"
        );
    }
}

/// A copy of the closed database's files on a new file system.
fn copy(base: &Arc<dyn FileSystem>) -> Arc<dyn FileSystem> {
    let fs: Arc<dyn FileSystem> = Arc::new(FaultFs::new());
    for (p, b) in snapshot(base, Path::new(DB)) {
        fs.create_dir_all(p.parent().unwrap()).unwrap();
        write(&fs, &p, &b);
    }
    fs
}

#[test]
fn truncated_or_missing_sstables_are_reported() {
    let base = closed_db();
    let (path, l) = padded_sst(&base);
    let len = base.read_all(&path).unwrap().len();
    for cut in [len - 1, l.props.0 as usize + 3, l.data_end as usize, 10] {
        let fs = copy(&base);
        truncate(&fs, &path, cut);
        let r = verify_dir(DB, &fs).unwrap();
        let errors = errors_on(&r, &path);
        assert!(
            errors
                .iter()
                .any(|e| e.kind == ProblemKind::SizeMismatch && e.offset == Some(cut as u64)),
            "cut {cut}: {r}"
        );
        assert!(
            errors.iter().any(|e| e.kind == ProblemKind::Corruption),
            "cut {cut}: {r}"
        );
    }
    let fs = copy(&base);
    fs.remove_file(&path).unwrap();
    let r = verify_dir(DB, &fs).unwrap();
    let errors = errors_on(&r, &path);
    assert_eq!(errors.len(), 1, "{r}");
    assert_eq!(errors[0].kind, ProblemKind::Missing);
}

/// The WAL segments of one partition, oldest first.
fn segments_of(fs: &Arc<dyn FileSystem>, partition_dir: &Path) -> Vec<PathBuf> {
    let wal = partition_dir.join("wal");
    let mut v: Vec<PathBuf> = fs
        .list(&wal)
        .unwrap()
        .into_iter()
        .filter(|n| n.ends_with(".wal"))
        .map(|n| wal.join(n))
        .collect();
    v.sort();
    v
}

/// Checks that the scrub finds no error and one warning, a torn tail in
/// `path`, and returns it.
fn only_torn_tail(fs: &Arc<dyn FileSystem>, path: &Path) -> Problem {
    let r = verify_dir(DB, fs).unwrap();
    assert!(r.is_clean(), "{r}");
    let w: Vec<&Problem> = r.warnings().collect();
    assert_eq!(w.len(), 1, "{r}");
    assert_eq!(w[0].path, path);
    assert_eq!(w[0].kind, ProblemKind::TornTail);
    w[0].clone()
}

/// The WAL segments of the `main` partition that has the most (at least 3).
fn busiest_wal(base: &Arc<dyn FileSystem>) -> Vec<PathBuf> {
    let segs = (0..3)
        .map(|p| segments_of(base, &main_partition(p)))
        .max_by_key(Vec::len)
        .unwrap();
    assert!(segs.len() >= 3, "{segs:?}");
    segs
}

fn main_partition(p: u32) -> PathBuf {
    // `main` is the first table created: id 1.
    PathBuf::from(format!("{DB}/tables/t00000001/p{p:04}"))
}

#[test]
fn damaged_wal_segments_are_reported_with_file_and_offset() {
    let base = closed_db();
    let segs = busiest_wal(&base);
    let oldest = &segs[0];
    let newest = segs.last().unwrap();

    // Header of the oldest segment.
    for pos in [3usize, 17, 29] {
        let fs = copy(&base);
        flip(&fs, oldest, pos);
        expect_error_in(&fs, oldest, 0..32);
    }
    // Body of the oldest segment: a flipped byte in the second record.
    let fs = copy(&base);
    let olen = records_end(&fs, oldest);
    assert!(olen > 300, "oldest segment holds records ({olen} bytes)");
    let pos = olen / 2;
    flip(&fs, oldest, pos);
    let r = expect_error_in(&fs, oldest, 32..pos as u64 + 1);
    assert!(r.errors().all(|e| e.kind == ProblemKind::Corruption), "{r}");

    // Body of the newest segment, with intact records after the damage: an
    // error, not a torn tail (recovery must not take it for one either).
    let fs = copy(&base);
    let len = records_end(&fs, newest);
    assert!(
        len > 400,
        "newest segment holds several records ({len} bytes)"
    );
    flip(&fs, newest, 60);
    let r = expect_error_in(&fs, newest, 32..61);
    assert!(r.errors().all(|e| e.kind == ProblemKind::Corruption), "{r}");

    // Truncating the newest segment mid-record is a torn tail: a warning.
    let fs = copy(&base);
    truncate(&fs, newest, len - 5);
    let w = only_torn_tail(&fs, newest);
    assert!(w.offset.is_some_and(|o| o < len as u64));

    // Truncating a segment that is not the newest is an error.
    let fs = copy(&base);
    let mid = &segs[segs.len() - 2];
    let mlen = records_end(&fs, mid);
    truncate(&fs, mid, mlen - 5);
    expect_error_in(&fs, mid, 32..mlen as u64);

    // A deleted middle segment is a gap.
    let fs = copy(&base);
    fs.remove_file(mid).unwrap();
    let r = verify_dir(DB, &fs).unwrap();
    assert!(
        r.errors()
            .any(|e| e.kind == ProblemKind::WalGap && e.path == *newest),
        "{r}"
    );

    // Deleting the two oldest segments leaves the flushed position
    // uncovered (the oldest may be wholly flushed already, but the second
    // holds or follows the flushed LSN, so the third starts after it).
    let fs = copy(&base);
    fs.remove_file(oldest).unwrap();
    fs.remove_file(&segs[1]).unwrap();
    let r = verify_dir(DB, &fs).unwrap();
    let errors = errors_on(&r, &segs[2]);
    assert_eq!(errors.len(), 1, "{r}");
    assert_eq!(errors[0].kind, ProblemKind::WalGap, "{r}");
    assert_eq!(errors[0].offset, Some(16), "{r}");
}

fn manifest_of(fs: &Arc<dyn FileSystem>, partition_dir: &Path) -> PathBuf {
    let current = fs.read_all(&partition_dir.join("CURRENT")).unwrap();
    let name = String::from_utf8(current).unwrap();
    partition_dir.join(name.trim_end())
}

#[test]
fn damaged_manifests_and_current_are_reported() {
    let base = closed_db();
    let pdir = main_partition(0);
    let manifest = manifest_of(&base, &pdir);
    let len = base.read_all(&manifest).unwrap().len();
    // Header, the first record's header, and its payload.
    for (pos, range) in [(2usize, 0..16u64), (13, 0..16), (18, 16..17), (40, 16..17)] {
        let fs = copy(&base);
        flip(&fs, &manifest, pos);
        expect_error_in(&fs, &manifest, range);
    }
    // The last byte: inside the last record, which is reported by its start.
    let fs = copy(&base);
    flip(&fs, &manifest, len - 1);
    expect_error_in(&fs, &manifest, 16..len as u64);
    // A truncated last record: a torn tail (warning).
    let fs = copy(&base);
    truncate(&fs, &manifest, len - 1);
    let r = verify_dir(DB, &fs).unwrap();
    assert!(
        r.warnings()
            .any(|w| w.path == manifest && w.kind == ProblemKind::TornTail),
        "{r}"
    );
    // Without its last edit (the flush) the manifest starts replay at an
    // older position whose WAL segments the flush deleted: an error, and the
    // flush's tables are unnamed.
    assert!(r.errors().any(|e| e.kind == ProblemKind::WalGap), "{r}");
    assert!(r.warnings().any(|w| w.kind == ProblemKind::Orphan), "{r}");
    // CURRENT: flipped, truncated, naming a missing manifest.
    let current = pdir.join("CURRENT");
    let fs = copy(&base);
    flip(&fs, &current, 3);
    expect_error_in(&fs, &current, 0..1);
    let clen = fs.read_all(&current).unwrap().len();
    let fs = copy(&base);
    truncate(&fs, &current, clen - 1);
    expect_error_in(&fs, &current, 0..1);
    let fs = copy(&base);
    fs.remove_file(&manifest).unwrap();
    let r = verify_dir(DB, &fs).unwrap();
    assert!(
        r.errors()
            .any(|e| e.path == manifest && e.kind == ProblemKind::Missing),
        "{r}"
    );
}

#[test]
fn damaged_catalog_is_reported_and_the_rest_still_checked() {
    let base = closed_db();
    let catalog = PathBuf::from(format!("{DB}/CATALOG"));
    let len = base.read_all(&catalog).unwrap().len();
    for pos in [0usize, 9, 13, 30, len - 1] {
        let fs = copy(&base);
        flip(&fs, &catalog, pos);
        let r = expect_error_in(&fs, &catalog, 0..len as u64);
        // The tables' files are still all read.
        assert!(r.files_checked > 10, "{r}");
    }
    let fs = copy(&base);
    truncate(&fs, &catalog, len - 3);
    expect_error_in(&fs, &catalog, 0..len as u64);

    // On an open database too: the catalog on disk is what is checked.
    let fs: Arc<dyn FileSystem> = Arc::new(FaultFs::new());
    let db = build(&fs);
    flip(&fs, &catalog, 30);
    let r = db.verify().unwrap();
    let errors = errors_on(&r, &catalog);
    assert_eq!(errors.len(), 1, "{r}");
    assert_eq!(errors[0].severity(), Severity::Error);
    assert!(r.files_checked > 10, "{r}");
    db.close().unwrap();
}

#[test]
fn damage_under_an_open_database_is_reported() {
    let fs: Arc<dyn FileSystem> = Arc::new(FaultFs::new());
    let db = build(&fs);
    let (path, l) = padded_sst(&fs);
    flip(&fs, &path, l.data_end as usize);
    let r = db.verify().unwrap();
    let errors = errors_on(&r, &path);
    assert_eq!(errors.len(), 1, "{r}");
    assert_eq!(errors[0].offset, Some(l.data_end), "{r}");
    assert!(errors[0].detail.contains("padding"), "{r}");
    flip(&fs, &path, l.data_end as usize);
    assert!(db.verify().unwrap().problems.is_empty());
    // A data block of another table: the block's checksum and the
    // whole-file checksum.
    let path = files_ending(&fs, ".sst")
        .into_iter()
        .find(|p| *p != path)
        .unwrap();
    flip(&fs, &path, 3);
    let r = db.verify().unwrap();
    let errors = errors_on(&r, &path);
    assert_eq!(errors.len(), 2, "{r}");
    assert!(errors.iter().all(|e| e.offset == Some(0)), "{r}");
    assert!(
        errors.iter().any(|e| e.detail.contains("whole-file")),
        "{r}"
    );
    db.close().unwrap();
}

#[test]
fn orphans_are_warnings() {
    let base = closed_db();
    let fs = copy(&base);
    let pdir = main_partition(2);
    let junk = [
        pdir.join("000999.sst"),
        pdir.join("000998.sst.tmp"),
        pdir.join("MANIFEST-000001"),
        pdir.join("wal/notes.txt"),
        PathBuf::from(format!("{DB}/tables/t00000099/p0000/CURRENT")),
        PathBuf::from(format!("{DB}/CATALOG.tmp")),
    ];
    for p in &junk {
        fs.create_dir_all(p.parent().unwrap()).unwrap();
        write(&fs, p, b"junk");
    }
    let r = verify_dir(DB, &fs).unwrap();
    assert!(r.is_clean(), "{r}");
    let orphans: Vec<&PathBuf> = r
        .warnings()
        .filter(|w| w.kind == ProblemKind::Orphan)
        .map(|w| &w.path)
        .collect();
    for p in &junk[..4] {
        assert!(orphans.contains(&p), "{} not reported\n{r}", p.display());
    }
    let t99 = PathBuf::from(format!("{DB}/tables/t00000099"));
    assert!(orphans.contains(&&t99), "{r}");
    assert!(orphans.contains(&&junk[5]), "{r}");
    assert_eq!(orphans.len(), 6, "{r}");
}

#[test]
fn verify_dir_refuses_a_missing_directory_and_reports_a_missing_catalog() {
    let fs: Arc<dyn FileSystem> = Arc::new(FaultFs::new());
    assert!(verify_dir("/nowhere", &fs).is_err());
    fs.create_dir_all(Path::new("/empty")).unwrap();
    let r = verify_dir("/empty", &fs).unwrap();
    assert!(!r.is_clean());
    assert!(
        r.errors()
            .any(|e| e.path == Path::new("/empty/CATALOG") && e.kind == ProblemKind::Missing),
        "{r}"
    );
}

#[test]
fn verify_on_a_closed_db_is_an_error() {
    let fs: Arc<dyn FileSystem> = Arc::new(FaultFs::new());
    let db = Db::open(DB, options(Arc::clone(&fs))).unwrap();
    db.close().unwrap();
    assert!(matches!(db.verify(), Err(strata_engine::DbError::Closed)));
}

/// Sets header flag bits of the segment at `path` (resealing its checksum),
/// as a writer that started it by a deferred rotation would have.
fn set_header_flags(fs: &Arc<dyn FileSystem>, path: &Path, flags: u16) {
    let mut bytes = fs.read_all(path).unwrap();
    bytes[14..16].copy_from_slice(&flags.to_le_bytes());
    let crc = crc32fast::hash(&bytes[0..28]);
    let masked = crc.rotate_right(15).wrapping_add(0xa282_ead8);
    bytes[28..32].copy_from_slice(&masked.to_le_bytes());
    write(fs, path, &bytes);
}

#[test]
fn deferred_rotation_leftovers_are_torn_tails_not_corruption() {
    let base = closed_db();
    let segs = busiest_wal(&base);
    let newest = segs.last().unwrap();
    let mid = &segs[segs.len() - 2];

    // The newest segment was started before the one before it was synced,
    // and a crash tore that one: two warnings, no error.
    let fs = copy(&base);
    set_header_flags(&fs, newest, 1);
    let mlen = records_end(&fs, mid);
    truncate(&fs, mid, mlen - 5);
    let r = verify_dir(DB, &fs).unwrap();
    assert!(r.is_clean(), "{r}");
    let w: Vec<&Problem> = r.warnings().collect();
    assert_eq!(w.len(), 2, "{r}");
    assert!(w.iter().all(|p| p.kind == ProblemKind::TornTail), "{r}");
    assert_eq!(w[0].path, *mid);
    assert_eq!(w[1].path, *newest);
    // Recovery agrees: it opens (cutting the torn tail, deleting the
    // newest segment), and what it leaves verifies without a warning.
    let db = Db::open(DB, options(Arc::clone(&fs))).unwrap();
    db.close().unwrap();
    let r = verify_dir(DB, &fs).unwrap();
    assert!(r.is_clean() && r.warnings().count() == 0, "{r}");

    // The same tear without the flag is an error.
    let fs = copy(&base);
    truncate(&fs, mid, mlen - 5);
    expect_error_in(&fs, mid, 32..mlen as u64);

    // The tear at a record boundary: the newest starts past the end of the
    // one before (an LSN gap), explained by the flag.
    let fs = copy(&base);
    set_header_flags(&fs, newest, 1);
    let first = strata_wal::read_segment_bytes(&fs.read_all(mid).unwrap()).unwrap();
    assert!(first.records.len() >= 2);
    let keep = 32 + first.records[0].len() + 8;
    let mut bytes = fs.read_all(mid).unwrap();
    if first.records[0].len() + 8 + 32 <= 32768 {
        bytes.truncate(keep);
        write(&fs, mid, &bytes);
        let r = verify_dir(DB, &fs).unwrap();
        assert!(r.is_clean(), "{r}");
        assert!(
            r.warnings()
                .any(|p| p.path == *newest && p.kind == ProblemKind::TornTail),
            "{r}"
        );
    }

    // The newest segment's header torn (its checksum never written) after
    // a version-3 segment: a torn creation, a warning.
    let fs = copy(&base);
    let mut bytes = fs.read_all(newest).unwrap();
    bytes[28..32].fill(0);
    write(&fs, newest, &bytes);
    only_torn_tail(&fs, newest);
    // The same bytes in the segment before the newest are an error.
    let fs = copy(&base);
    let mut bytes = fs.read_all(mid).unwrap();
    bytes[28..32].fill(0);
    write(&fs, mid, &bytes);
    expect_error_in(&fs, mid, 0..32);
}
