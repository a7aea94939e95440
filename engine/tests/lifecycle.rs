//! Table and database lifecycle under load: `delete_table` and `close` return
//! promptly while other threads write, scan and batch; what was acknowledged before a
//! close is there after reopening; later operations fail with a clear error. Plus
//! validation before lookup for every name-taking entry point, and opens that are
//! refused leave the directory as they found it.
//!
//! "Returns within a bound" uses a generous 30 s to detect a hang (the operations
//! take milliseconds); nothing here measures speed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::Duration;

use parking_lot::Mutex;
use strata_engine::capacity::OpInfo;
use strata_engine::lsm::Durability;
use strata_engine::{
    BatchGetRequest, CapacityMeter, Change, ChangeSink, Db, DbError, DbOptions, GetOptions,
    LsiSpec, PutOptions, QueryOptions, ScanOptions, Table, TableDurability, TableSpec, Tree,
    TreeOptions, WriteRequest,
};
use strata_item::{AttributeValue, Item, KeySchema, KeyType, item};

/// Generous bound to tell a hang from slowness.
const HANG: Duration = Duration::from_secs(30);
const WRITERS: usize = 4;

/// Runs `f` on its own thread; fails the test if it does not return within [`HANG`].
fn within_bound<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let start = std::time::Instant::now();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(HANG) {
        Ok(v) => {
            // Reported, never asserted (no timing thresholds in tests).
            eprintln!("{what} returned in {:?}", start.elapsed());
            v
        }
        Err(_) => panic!("{what} did not return within {HANG:?} (hang)"),
    }
}

fn spec(name: &str, durability: TableDurability) -> TableSpec {
    TableSpec::new(
        name,
        KeySchema::composite("pk", KeyType::S, "sk", KeyType::N),
    )
    .durability(durability)
    .partitions(4)
    .lsi(LsiSpec::new("by_v", "v", KeyType::N))
}

fn open(dir: &Path) -> Db {
    Db::open(dir, DbOptions::small(strata_fs::default_fs())).unwrap()
}

fn key(w: usize, i: u64) -> Item {
    item! { "pk" => format!("w{w}-{}", i % 7), "sk" => i }
}

fn value(w: usize, i: u64) -> i64 {
    i64::try_from(i).unwrap() * 10 + i64::try_from(w).unwrap()
}

fn row(w: usize, i: u64) -> Item {
    item! {
        "pk" => format!("w{w}-{}", i % 7),
        "sk" => i,
        "v" => value(w, i),
        "pad" => "x".repeat(200),
    }
}

/// What a writer saw.
#[derive(Debug, Default)]
struct Seen {
    /// Indexes whose put returned Ok.
    acked: Vec<u64>,
    /// Errors of puts that started after the lifecycle call returned.
    after: Vec<DbError>,
    /// Any other error (there must be none).
    unexpected: Vec<String>,
}

/// Starts `WRITERS` threads putting distinct items into `table` until each has seen
/// `tail` attempts fail after `done` was set. `started` counts acknowledged writes.
fn start_writers(
    table: &Table,
    done: &Arc<AtomicBool>,
    started: &Arc<AtomicUsize>,
    tail: usize,
) -> Vec<thread::JoinHandle<Seen>> {
    (0..WRITERS)
        .map(|w| {
            let t = table.clone();
            let done = Arc::clone(done);
            let started = Arc::clone(started);
            thread::spawn(move || {
                let mut seen = Seen::default();
                let mut i = 0u64;
                while seen.after.len() < tail {
                    let was_done = done.load(Ordering::SeqCst);
                    match t.put_item(row(w, i), PutOptions::default()) {
                        Ok(_) => {
                            if was_done {
                                seen.unexpected
                                    .push(format!("put {i} acknowledged after the call returned"));
                            }
                            seen.acked.push(i);
                            started.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(e) if was_done => seen.after.push(e),
                        // In flight while the call ran: failing is allowed.
                        Err(DbError::TableNotFound { .. } | DbError::Closed) => {}
                        Err(e) => seen.unexpected.push(e.to_string()),
                    }
                    i += 1;
                }
                seen
            })
        })
        .collect()
}

fn wait_for(started: &AtomicUsize, n: usize) {
    let (tx, rx) = mpsc::channel::<()>();
    let start = std::time::Instant::now();
    while started.load(Ordering::SeqCst) < n {
        assert!(start.elapsed() < HANG, "writers made no progress");
        let _ = rx.recv_timeout(Duration::from_millis(2));
    }
    drop(tx);
}

fn delete_under_write_load(durability: TableDurability) {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.create_table(spec("busy", durability)).unwrap();
    db.create_table(spec("other", durability)).unwrap();
    let table = db.table("busy").unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicUsize::new(0));
    let writers = start_writers(&table, &done, &started, 50);
    wait_for(&started, 200);

    let desc = within_bound("delete_table", {
        let db = db.clone();
        let done = Arc::clone(&done);
        move || {
            let r = db.delete_table("busy");
            done.store(true, Ordering::SeqCst);
            r
        }
    })
    .unwrap();
    assert_eq!(desc.spec.name, "busy");

    for w in writers {
        let seen = w.join().unwrap();
        assert!(seen.unexpected.is_empty(), "{:?}", seen.unexpected);
        for e in &seen.after {
            assert!(
                matches!(e, DbError::TableNotFound { table } if table == "busy"),
                "a write after delete_table returned must fail with TableNotFound, got {e:?}"
            );
        }
    }
    // Every other way in says the same.
    assert!(matches!(
        db.table("busy"),
        Err(DbError::TableNotFound { .. })
    ));
    assert!(matches!(
        db.describe_table("busy"),
        Err(DbError::TableNotFound { .. })
    ));
    assert!(matches!(
        table.get_item(key(0, 0), GetOptions::default()),
        Err(DbError::TableNotFound { .. })
    ));
    assert!(matches!(
        table.scan(ScanOptions::default()),
        Err(DbError::TableNotFound { .. })
    ));
    assert!(matches!(table.flush(), Err(DbError::TableNotFound { .. })));
    assert_eq!(db.list_tables().unwrap(), vec!["other".to_string()]);
    // The name can be used again, and the new table is empty.
    db.create_table(spec("busy", durability)).unwrap();
    let again = db.table("busy").unwrap();
    assert_eq!(again.scan(ScanOptions::default()).unwrap().count, 0);
    // A handle on the deleted table does not reach the new one.
    assert!(matches!(
        table.put_item(row(0, 0), PutOptions::default()),
        Err(DbError::TableNotFound { .. })
    ));
    assert_eq!(again.scan(ScanOptions::default()).unwrap().count, 0);
    db.close().unwrap();
}

#[test]
fn delete_table_returns_promptly_under_sync_write_load() {
    delete_under_write_load(TableDurability::Sync);
}

#[test]
fn delete_table_returns_promptly_under_buffered_write_load() {
    delete_under_write_load(TableDurability::Buffered);
}

fn close_under_write_load(durability: TableDurability) {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.create_table(spec("busy", durability)).unwrap();
    let table = db.table("busy").unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicUsize::new(0));
    let writers = start_writers(&table, &done, &started, 50);
    wait_for(&started, 200);

    within_bound("Db::close", {
        let db = db.clone();
        let done = Arc::clone(&done);
        move || {
            let r = db.close();
            done.store(true, Ordering::SeqCst);
            r
        }
    })
    .unwrap();

    let mut acked: Vec<(usize, Vec<u64>)> = Vec::new();
    for (w, h) in writers.into_iter().enumerate() {
        let seen = h.join().unwrap();
        assert!(seen.unexpected.is_empty(), "{:?}", seen.unexpected);
        for e in &seen.after {
            assert!(
                matches!(e, DbError::Closed),
                "a write after close returned must fail with Closed, got {e:?}"
            );
        }
        acked.push((w, seen.acked));
    }
    assert!(matches!(db.table("busy"), Err(DbError::Closed)));
    drop(table);
    drop(db);

    // Every acknowledged write is there, with its value.
    let db = open(dir.path());
    let t = db.table("busy").unwrap();
    let mut total = 0;
    for (w, idx) in &acked {
        for &i in idx {
            let got = t
                .get_item(key(*w, i), GetOptions::default())
                .unwrap()
                .item
                .unwrap_or_else(|| panic!("acknowledged write w{w} #{i} is missing"));
            assert_eq!(got.get("v"), Some(&AttributeValue::from(value(*w, i))));
            total += 1;
        }
    }
    assert!(total >= 200);
    db.close().unwrap();
}

#[test]
fn close_returns_promptly_under_sync_write_load_and_keeps_acknowledged_writes() {
    close_under_write_load(TableDurability::Sync);
}

#[test]
fn close_returns_promptly_under_buffered_write_load_and_keeps_acknowledged_writes() {
    close_under_write_load(TableDurability::Buffered);
}

/// Readers paging through scans and queries, and batch writers, do not hold a close
/// or a delete either; afterwards they fail with the clear error.
#[test]
fn close_and_delete_return_promptly_under_scans_queries_and_batches() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.create_table(spec("scanned", TableDurability::Buffered))
        .unwrap();
    db.create_table(spec("batched", TableDurability::Buffered))
        .unwrap();
    let t = db.table("scanned").unwrap();
    for i in 0..300 {
        t.put_item(row(0, i), PutOptions::default()).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let pages = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for r in 0..WRITERS {
        let t = t.clone();
        let stop = Arc::clone(&stop);
        let pages = Arc::clone(&pages);
        workers.push(thread::spawn(move || -> Option<DbError> {
            let mut start = None;
            while !stop.load(Ordering::SeqCst) {
                let page = if r % 2 == 0 {
                    t.scan(ScanOptions::default().limit(10).start_after(start))
                        .map(|p| p.last_evaluated_key)
                } else {
                    t.query(
                        "pk = :p",
                        QueryOptions::default()
                            .value(":p", "w0-3")
                            .index("by_v")
                            .limit(5)
                            .start_after(start),
                    )
                    .map(|p| p.last_evaluated_key)
                };
                match page {
                    Ok(next) => start = next,
                    Err(e) => return Some(e),
                }
                pages.fetch_add(1, Ordering::SeqCst);
            }
            None
        }));
    }
    for b in 0..2usize {
        let db = db.clone();
        let stop = Arc::clone(&stop);
        let pages = Arc::clone(&pages);
        workers.push(thread::spawn(move || -> Option<DbError> {
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let reqs = (0..5)
                    .map(|j| WriteRequest::Put(row(b + 1, i * 5 + j)))
                    .collect();
                if let Err(e) = db.batch_write_item([("batched", reqs)]) {
                    return Some(e);
                }
                i += 1;
                pages.fetch_add(1, Ordering::SeqCst);
            }
            None
        }));
    }
    wait_for(&pages, 40);
    within_bound("delete_table of the batched table", {
        let db = db.clone();
        move || db.delete_table("batched")
    })
    .unwrap();
    within_bound("Db::close", {
        let db = db.clone();
        move || db.close()
    })
    .unwrap();
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        // Readers end with Closed; batch writers with TableNotFound (or Closed, if
        // their last attempt raced the close); none may end otherwise.
        match w.join().unwrap() {
            None | Some(DbError::Closed | DbError::TableNotFound { .. }) => {}
            Some(e) => panic!("unexpected error {e:?}"),
        }
    }
}

/// A batch across two tables, one of them being deleted, is written whole or not at
/// all: it never writes one table's part and then finds the other gone.
#[test]
fn batch_write_across_a_table_being_deleted_is_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    // `keep` syncs (its part of a batch takes a while), so that a deletion of `gone`
    // often lands while a batch is between its two tables.
    db.create_table(spec("keep", TableDurability::Sync))
        .unwrap();
    db.create_table(spec("gone", TableDurability::Buffered))
        .unwrap();
    let started = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..WRITERS)
        .map(|w| {
            let db = db.clone();
            let started = Arc::clone(&started);
            thread::spawn(move || {
                let mut outcomes = Vec::new();
                let mut failures = 0;
                let mut i = 0u64;
                while failures < 20 {
                    let r = db.batch_write_item([
                        ("keep", vec![WriteRequest::Put(row(w, i))]),
                        ("gone", vec![WriteRequest::Put(row(w, i))]),
                    ]);
                    match &r {
                        Ok(_) => {
                            started.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(DbError::TableNotFound { table }) if table == "gone" => failures += 1,
                        Err(e) => panic!("unexpected error {e:?}"),
                    }
                    outcomes.push((i, r.is_ok()));
                    i += 1;
                }
                outcomes
            })
        })
        .collect();
    wait_for(&started, 100);
    within_bound("delete_table", {
        let db = db.clone();
        move || db.delete_table("gone")
    })
    .unwrap();
    let keep = db.table("keep").unwrap();
    for (w, h) in handles.into_iter().enumerate() {
        for (i, ok) in h.join().unwrap() {
            let there = keep
                .get_item(key(w, i), GetOptions::default())
                .unwrap()
                .item
                .is_some();
            assert_eq!(
                there, ok,
                "batch w{w} #{i}: written {there}, acknowledged {ok}"
            );
        }
    }
    db.close().unwrap();
}

/// A change sink that reads the table it is told about, from inside the write
/// (under the partition lock), and tries DDL from there.
#[derive(Debug, Default)]
struct ReentrantSink {
    db: OnceLock<Db>,
    reads: AtomicUsize,
    /// What DDL from inside the callback returned.
    ddl: Mutex<Vec<String>>,
}

impl ChangeSink for ReentrantSink {
    fn on_change(&self, change: &Change<'_>) {
        let Some(db) = self.db.get() else { return };
        // A nested operation on the same table: fine while it is open, an immediate
        // TableNotFound once it is being deleted — never a deadlock.
        if let Ok(t) = db.table(change.table) {
            match t.get_item(
                change.key.to_item(&t.spec().key_schema),
                GetOptions::default(),
            ) {
                Ok(_) | Err(DbError::TableNotFound { .. } | DbError::Closed) => {}
                Err(e) => panic!("nested read failed: {e:?}"),
            }
        }
        if self.reads.fetch_add(1, Ordering::SeqCst) == 10 {
            let mut ddl = self.ddl.lock();
            ddl.push(format!("{:?}", db.delete_table(change.table)));
            ddl.push(format!(
                "{:?}",
                db.create_table(spec("fromsink", TableDurability::Buffered))
            ));
            ddl.push(format!("{:?}", db.close()));
        }
    }
}

#[test]
fn callbacks_may_call_back_in_and_ddl_from_a_callback_is_refused_not_deadlocked() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(ReentrantSink::default());
    let opts = DbOptions::small(strata_fs::default_fs()).change_sink(sink.clone());
    let db = Db::open(dir.path(), opts).unwrap();
    sink.db.set(db.clone()).unwrap();
    db.create_table(spec("loop", TableDurability::Buffered))
        .unwrap();
    let table = db.table("loop").unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicUsize::new(0));
    let writers = start_writers(&table, &done, &started, 20);
    wait_for(&started, 100);
    within_bound("delete_table while callbacks read the table", {
        let db = db.clone();
        let done = Arc::clone(&done);
        move || {
            let r = db.delete_table("loop");
            done.store(true, Ordering::SeqCst);
            r
        }
    })
    .unwrap();
    for w in writers {
        let seen = w.join().unwrap();
        assert!(seen.unexpected.is_empty(), "{:?}", seen.unexpected);
    }
    let ddl = sink.ddl.lock().clone();
    assert_eq!(ddl.len(), 3, "{ddl:?}");
    for r in &ddl {
        assert!(
            r.contains("InvalidRequest") && r.contains("would wait"),
            "DDL from a callback must be refused: {r}"
        );
    }
    assert!(db.describe_table("fromsink").is_err());
    // The sink holds a clone of the Db (a cycle): close explicitly.
    within_bound("Db::close", move || db.close()).unwrap();
}

/// A capacity meter that reads the table it admits an operation on from `admit`
/// (with the table held open by the operation being admitted): the nested operation
/// must not block a close that waits for the outer one.
#[derive(Debug, Default)]
struct ReentrantMeter {
    db: OnceLock<Db>,
}

thread_local! {
    static IN_METER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl CapacityMeter for ReentrantMeter {
    fn admit(&self, op: &OpInfo<'_>) -> Result<(), String> {
        let Some(db) = self.db.get() else {
            return Ok(());
        };
        if IN_METER.with(std::cell::Cell::get) {
            return Ok(());
        }
        IN_METER.with(|c| c.set(true));
        let r = db
            .table(op.table)
            .and_then(|t| t.get_item(key(0, 0), GetOptions::default()));
        IN_METER.with(|c| c.set(false));
        match r {
            Ok(_) | Err(DbError::Closed | DbError::TableNotFound { .. }) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }
}

#[test]
fn close_returns_while_a_capacity_meter_calls_back_in() {
    let dir = tempfile::tempdir().unwrap();
    let meter = Arc::new(ReentrantMeter::default());
    let opts = DbOptions::small(strata_fs::default_fs()).capacity_meter(meter.clone());
    let db = Db::open(dir.path(), opts).unwrap();
    meter.db.set(db.clone()).unwrap();
    db.create_table(spec("meter", TableDurability::Sync))
        .unwrap();
    let table = db.table("meter").unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicUsize::new(0));
    let writers = start_writers(&table, &done, &started, 20);
    wait_for(&started, 100);
    within_bound("Db::close", {
        let db = db.clone();
        let done = Arc::clone(&done);
        move || {
            let r = db.close();
            done.store(true, Ordering::SeqCst);
            r
        }
    })
    .unwrap();
    for w in writers {
        let seen = w.join().unwrap();
        assert!(seen.unexpected.is_empty(), "{:?}", seen.unexpected);
        assert!(seen.after.iter().all(|e| matches!(e, DbError::Closed)));
    }
}

/// The tree's own close under concurrent writers: returns, later writes fail with
/// `Closed`, and every acknowledged write is there after reopening.
fn tree_close_under_write_load(durability: Durability) {
    let dir = tempfile::tempdir().unwrap();
    let opts = || TreeOptions::small_for_tests(strata_fs::default_fs());
    let tree = Tree::open(dir.path(), opts()).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let tree = tree.clone();
            let done = Arc::clone(&done);
            let started = Arc::clone(&started);
            thread::spawn(move || {
                let mut acked = Vec::new();
                let mut after = 0;
                let mut i = 0u64;
                while after < 50 {
                    let was_done = done.load(Ordering::SeqCst);
                    let k = format!("w{w}-{i:08}");
                    match tree.put(k.as_bytes(), format!("v{i}").as_bytes(), durability) {
                        Ok(_) => {
                            assert!(!was_done, "put acknowledged after close returned");
                            acked.push(k);
                            started.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(e) => {
                            assert!(
                                matches!(e, strata_engine::TreeError::Closed) || !was_done,
                                "after close: {e:?}"
                            );
                            if was_done {
                                after += 1;
                            }
                        }
                    }
                    i += 1;
                }
                acked
            })
        })
        .collect();
    wait_for(&started, 400);
    within_bound("Tree::close", {
        let tree = tree.clone();
        let done = Arc::clone(&done);
        move || {
            let r = tree.close();
            done.store(true, Ordering::SeqCst);
            r
        }
    })
    .unwrap();
    let acked: Vec<String> = writers
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    drop(tree);
    let tree = Tree::open(dir.path(), opts()).unwrap();
    for k in &acked {
        let (_, i) = k.split_once('-').unwrap();
        let i: u64 = i.parse().unwrap();
        assert_eq!(
            tree.get(k.as_bytes(), None).unwrap(),
            Some(format!("v{i}").into_bytes()),
            "acknowledged {k} lost"
        );
    }
    tree.close().unwrap();
}

#[test]
fn tree_close_returns_under_sync_write_load_and_keeps_acknowledged_writes() {
    tree_close_under_write_load(Durability::Sync);
}

#[test]
fn tree_close_returns_under_buffered_write_load_and_keeps_acknowledged_writes() {
    tree_close_under_write_load(Durability::Buffered);
}

// ---- validation before lookup ----

/// Names DynamoDB rejects, each for another rule.
fn bad_names() -> Vec<String> {
    vec![
        String::new(),
        "ab".into(),
        "a b".into(),
        "tab/le".into(),
        "ünï".into(),
        "x".repeat(256),
    ]
}

fn assert_validation<T: std::fmt::Debug>(what: &str, name: &str, r: Result<T, DbError>) {
    match r {
        Err(e) if e.is_validation() => {}
        other => panic!("{what}({name:?}): expected a validation error, got {other:?}"),
    }
}

#[test]
fn every_name_taking_entry_point_validates_the_name_before_looking_it_up() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.create_table(spec("real", TableDurability::Buffered))
        .unwrap();
    let t = db.table("real").unwrap();
    t.put_item(row(0, 1), PutOptions::default()).unwrap();
    for name in bad_names() {
        let n = name.as_str();
        assert_validation("table", n, db.table(n));
        assert_validation("describe_table", n, db.describe_table(n));
        assert_validation("delete_table", n, db.delete_table(n));
        assert_validation(
            "create_table",
            n,
            db.create_table(TableSpec::new(n, KeySchema::simple("pk", KeyType::S))),
        );
        assert_validation(
            "batch_get_item",
            n,
            db.batch_get_item([(n, BatchGetRequest::keys([key(0, 1)]))]),
        );
        // A bad name next to a good one: nothing of the good one is written.
        assert_validation(
            "batch_write_item",
            n,
            db.batch_write_item([
                ("real", vec![WriteRequest::Put(row(9, 9))]),
                (n, vec![WriteRequest::Put(row(9, 9))]),
            ]),
        );
        assert_validation(
            "query index",
            n,
            t.query(
                "pk = :p",
                QueryOptions::default()
                    .value(":p", "w0-1")
                    .index(n.to_owned()),
            ),
        );
        assert_validation("scan index", n, t.scan(ScanOptions::default().index(n)));
    }
    assert!(
        t.get_item(key(9, 9), GetOptions::default())
            .unwrap()
            .item
            .is_none()
    );
    // Well-formed names that do not exist are "not found", as before.
    assert!(matches!(
        db.delete_table("nope"),
        Err(DbError::TableNotFound { .. })
    ));
    assert!(matches!(
        db.table("nope"),
        Err(DbError::TableNotFound { .. })
    ));
    assert!(matches!(
        db.describe_table("nope"),
        Err(DbError::TableNotFound { .. })
    ));
    assert!(matches!(
        t.scan(ScanOptions::default().index("nope")),
        Err(DbError::IndexNotFound { .. })
    ));
    // The name is checked first even on a closed database.
    db.close().unwrap();
    assert_validation("table (closed)", "", db.table(""));
    assert!(matches!(db.table("real"), Err(DbError::Closed)));
}

#[test]
fn batches_check_their_whole_shape_before_looking_up_any_table() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.create_table(spec("real", TableDurability::Buffered))
        .unwrap();
    // Too many requests, even though the table does not exist.
    let many: Vec<WriteRequest> = (0..26).map(|i| WriteRequest::Put(row(0, i))).collect();
    assert!(matches!(
        db.batch_write_item([("missing", many)]),
        Err(DbError::TooManyBatchItems { .. })
    ));
    let keys: Vec<Item> = (0..101).map(|i| key(0, i)).collect();
    assert!(matches!(
        db.batch_get_item([("missing", BatchGetRequest::keys(keys))]),
        Err(DbError::TooManyBatchItems { .. })
    ));
    // An empty list for a missing table.
    assert_validation(
        "batch_write_item",
        "missing",
        db.batch_write_item([
            ("real", vec![WriteRequest::Put(row(0, 1))]),
            ("missing", vec![]),
        ]),
    );
    // A table listed twice after a missing one.
    assert_validation(
        "batch_get_item",
        "missing",
        db.batch_get_item([
            ("missing", BatchGetRequest::keys([key(0, 1)])),
            ("real", BatchGetRequest::keys([key(0, 1)])),
            ("real", BatchGetRequest::keys([key(0, 2)])),
        ]),
    );
    // A well-formed batch naming a missing table: not found, and nothing written.
    assert!(matches!(
        db.batch_write_item([
            ("real", vec![WriteRequest::Put(row(0, 1))]),
            ("missing", vec![WriteRequest::Put(row(0, 1))]),
        ]),
        Err(DbError::TableNotFound { table }) if table == "missing"
    ));
    let t = db.table("real").unwrap();
    assert!(
        t.get_item(key(0, 1), GetOptions::default())
            .unwrap()
            .item
            .is_none()
    );
    // Query and scan check a limit of 0 before the index is looked up.
    assert_validation(
        "query",
        "nope",
        t.query(
            "pk = :p",
            QueryOptions::default()
                .value(":p", "a")
                .index("nope")
                .limit(0),
        )
        .map_err(|e| {
            assert!(!matches!(e, DbError::IndexNotFound { .. }), "{e:?}");
            e
        }),
    );
    assert!(
        t.scan(ScanOptions::default().index("nope").segment(5, 2))
            .is_err_and(|e| e.is_validation() && !matches!(e, DbError::IndexNotFound { .. }))
    );
    db.close().unwrap();
}

// ---- refused opens leave the directory alone ----

/// Every path under `dir` with its size (directories: `None`).
fn listing(dir: &Path) -> BTreeMap<PathBuf, Option<u64>> {
    let mut out = BTreeMap::new();
    if !dir.exists() {
        return out;
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                out.insert(p.clone(), None);
                stack.push(p);
            } else {
                out.insert(p, Some(e.metadata().unwrap().len()));
            }
        }
    }
    out
}

fn no_create() -> DbOptions {
    DbOptions {
        create_if_missing: false,
        ..DbOptions::small(strata_fs::default_fs())
    }
}

#[test]
fn open_without_create_if_missing_leaves_an_empty_or_missing_directory_alone() {
    let root = tempfile::tempdir().unwrap();
    let empty = root.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert!(matches!(
        Db::open(&empty, no_create()),
        Err(DbError::NotFound { .. })
    ));
    assert!(listing(&empty).is_empty(), "{:?}", listing(&empty));

    let missing = root.path().join("missing");
    assert!(matches!(
        Db::open(&missing, no_create()),
        Err(DbError::NotFound { .. })
    ));
    assert!(!missing.exists());

    // A directory with other files but no database.
    let other = root.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("notes.txt"), b"hello").unwrap();
    let before = listing(&other);
    assert!(matches!(
        Db::open(&other, no_create()),
        Err(DbError::NotFound { .. })
    ));
    assert_eq!(listing(&other), before);
}

/// A database with one table and data, closed.
fn closed_db(dir: &Path) {
    let db = open(dir);
    db.create_table(spec("data", TableDurability::Sync))
        .unwrap();
    let t = db.table("data").unwrap();
    for i in 0..20 {
        t.put_item(row(0, i), PutOptions::default()).unwrap();
    }
    db.close().unwrap();
}

#[test]
fn a_refused_open_of_a_damaged_or_locked_database_changes_nothing() {
    let root = tempfile::tempdir().unwrap();

    // Damaged catalog, no LOCK file (a copied database): no LOCK, no tables/ change.
    let bad_catalog = root.path().join("bad_catalog");
    closed_db(&bad_catalog);
    std::fs::remove_file(bad_catalog.join("LOCK")).unwrap();
    let mut cat = std::fs::read(bad_catalog.join("CATALOG")).unwrap();
    let mid = cat.len() / 2;
    cat[mid] ^= 0x40;
    std::fs::write(bad_catalog.join("CATALOG"), &cat).unwrap();
    std::fs::write(bad_catalog.join("CATALOG.tmp"), b"left by a crash").unwrap();
    let before = listing(&bad_catalog);
    assert!(matches!(
        Db::open(&bad_catalog, no_create()),
        Err(DbError::CatalogCorrupt { .. })
    ));
    assert!(matches!(
        Db::open(&bad_catalog, DbOptions::small(strata_fs::default_fs())),
        Err(DbError::CatalogCorrupt { .. })
    ));
    assert_eq!(listing(&bad_catalog), before);

    // Locked by another Db.
    let locked = root.path().join("locked");
    closed_db(&locked);
    let holder = open(&locked);
    let before = listing(&locked);
    assert!(matches!(
        Db::open(&locked, DbOptions::small(strata_fs::default_fs())),
        Err(DbError::Locked { .. })
    ));
    assert_eq!(listing(&locked), before);
    holder.close().unwrap();

    // A partition directory of a table the catalog names is missing: reported as
    // damage, not recreated empty, and nothing else is touched.
    let missing_part = root.path().join("missing_part");
    closed_db(&missing_part);
    let tables = missing_part.join("tables");
    let table_dir = std::fs::read_dir(&tables)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::remove_dir_all(table_dir.join("p0002")).unwrap();
    std::fs::create_dir(tables.join("t99999999")).unwrap();
    let before = listing(&missing_part);
    match Db::open(&missing_part, DbOptions::small(strata_fs::default_fs())) {
        Err(DbError::Corruption {
            table, partition, ..
        }) => {
            assert_eq!((table.as_str(), partition), ("data", 2));
        }
        other => panic!("expected Corruption, got {other:?}"),
    }
    assert_eq!(listing(&missing_part), before);
}

#[test]
fn a_successful_open_still_cleans_up_what_an_interrupted_operation_left() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("db");
    closed_db(&dir);
    std::fs::write(dir.join("CATALOG.tmp"), b"left by a crash").unwrap();
    std::fs::create_dir(dir.join("tables").join("t99999999")).unwrap();
    let db = open(&dir);
    assert!(!dir.join("CATALOG.tmp").exists());
    assert!(!dir.join("tables").join("t99999999").exists());
    let t = db.table("data").unwrap();
    assert_eq!(t.scan(ScanOptions::default()).unwrap().count, 20);
    db.close().unwrap();
}
