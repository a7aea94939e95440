//! Crash-point enumeration at the database level (issue 7).
//!
//! A deterministic workload runs against `FaultFs`: a table with a sort key and
//! an LSI (`Sync`), puts, updates (`SET v = v + :one`), deletes, table flushes,
//! a second table created, written and deleted in the middle, and a close and
//! reopen. A first run counts the crash points (file syncs, directory syncs,
//! renames); then for every point the workload is run again with power lost
//! just before it, the database is reopened on what survived, and the contract
//! is checked:
//!
//! - every acknowledged write is present, the one in flight may or may not be,
//!   nothing else (the table equals the model after `acked` or `acked + 1`
//!   operations): no partial write, no resurrected delete;
//! - the LSI holds exactly the entries derived from the recovered items;
//! - the two GSIs (one keyed by the updated attribute `v`, so updates move its
//!   entries) catch up from their checkpoints (`wait_for_indexes`) and then
//!   equal the index derived from the recovered items (`verify_index`);
//! - a third GSI (`g_late`) is added with `update_table` on the loaded table (its
//!   backfill runs during the next operations and across the reopen) and removed
//!   later: it exists exactly when its addition was acknowledged and its removal
//!   was not, verifies clean after the wait, and a removed (or never committed) one
//!   leaves no directory;
//! - the catalog is consistent: the second table exists exactly when its
//!   creation was acknowledged and its deletion was not (in-flight ones may go
//!   either way), and a deleted table (with its GSI) leaves no files behind;
//! - the recovered database accepts writes, and a `Sync` write made then
//!   survives a second power loss.
//!
//! Every point is tried twice: with the unsynced bytes lost, and with a random
//! prefix of them kept (torn writes). Reopening refuses (`refuse_open_on_loss`)
//! if recovery would drop anything a power loss cannot explain.
//!
//! `STRATA_CRASH_SAMPLE=N` tries N random points instead of all of them, and
//! `STRATA_CRASH_OPS=N` sets the workload's length (default 90).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use strata_engine::{
    Db, DbError, DbOptions, DeleteOptions, GsiSpec, IndexProjection, KeyConditionInput, LsiSpec,
    PutOptions, QueryOptions, ScanOptions, TableSpec, TableUpdate, UpdateOptions,
};
use strata_fs::{FaultFs, FileSystem};
use strata_item::{AttributeValue, Item, KeySchema, KeyType, item};

const DB: &str = "/db";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn options(fs: &FaultFs) -> DbOptions {
    let mut o = DbOptions::small(Arc::new(fs.clone()));
    o.tree.memtable_size = 4096;
    // Backfills of a few dozen items cross several pages, so power losses land
    // between them.
    o.index_backfill_page = strata_engine::BackfillPage {
        items: 4,
        bytes: 1 << 20,
    };
    // A power loss never loses an acknowledged write, so recovery must never
    // need to drop one: open refuses if it would.
    o.refuse_open_on_loss = true;
    o
}

fn main_spec() -> TableSpec {
    TableSpec::new(
        "main",
        KeySchema::composite("pk", KeyType::S, "sk", KeyType::N),
    )
    .partitions(2)
    .lsi(LsiSpec::new("by_x", "x", KeyType::N))
    .gsi(GsiSpec::new("g_x", KeySchema::simple("x", KeyType::N)).partitions(2))
    .gsi(
        GsiSpec::new(
            "g_v",
            KeySchema::composite("v", KeyType::N, "pk", KeyType::S),
        )
        .projection(IndexProjection::KeysOnly)
        .partitions(3),
    )
}

fn side_spec() -> TableSpec {
    // A GSI: its directories are created with the table and removed with it.
    TableSpec::new("side", KeySchema::simple("id", KeyType::N))
        .partitions(2)
        .gsi(GsiSpec::new("side_w", KeySchema::simple("w", KeyType::S)).partitions(2))
}

/// One step of the workload.
#[derive(Debug, Clone)]
enum Op {
    Put(Item),
    Update {
        pk: String,
        sk: i64,
    },
    Delete {
        pk: String,
        sk: i64,
    },
    Flush,
    CreateSide,
    PutSide(i64),
    DeleteSide,
    Reopen,
    /// `update_table` adds GSI `g_late` (keyed by `pad`, empty in some items: index key
    /// violations the backfill skips); the backfill runs during the following ops.
    AddLateGsi,
    /// `update_table` removes `g_late`.
    RemoveLateGsi,
}

const LATE: &str = "g_late";

fn late_gsi() -> GsiSpec {
    GsiSpec::new(LATE, KeySchema::simple("pad", KeyType::S)).partitions(2)
}

fn op(i: usize, n: usize) -> Op {
    if i == n / 3 {
        return Op::CreateSide;
    }
    if i > n / 3 && i < n / 3 + 5 {
        return Op::PutSide(i as i64);
    }
    if i == 2 * n / 3 {
        return Op::DeleteSide;
    }
    if i == n / 2 {
        return Op::Reopen;
    }
    if i == n / 4 {
        return Op::AddLateGsi;
    }
    if i == 3 * n / 4 {
        return Op::RemoveLateGsi;
    }
    let pk = format!("p{}", i % 4);
    let sk = ((i * 7) % 11) as i64;
    match i % 9 {
        0..=4 => {
            let mut it = item! { "pk" => pk, "sk" => sk, "v" => i as i64,
            "pad" => "y".repeat(i % 50) };
            // Every third item has no LSI key (sparse index).
            if !i.is_multiple_of(3) {
                it.insert("x", ((i * 5) % 13) as i64);
            }
            Op::Put(it)
        }
        5 | 6 => Op::Update { pk, sk },
        7 => Op::Delete { pk, sk },
        _ => Op::Flush,
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Model {
    t: BTreeMap<(String, i64), Item>,
    side: Option<BTreeMap<i64, Item>>,
}

impl Model {
    fn apply(&mut self, o: &Op) {
        match o {
            Op::Put(it) => {
                let pk = it.get("pk").and_then(|v| v.as_s()).unwrap().to_string();
                let sk = num(it.get("sk").unwrap());
                self.t.insert((pk, sk), it.clone());
            }
            Op::Update { pk, sk } => {
                let it = self
                    .t
                    .entry((pk.clone(), *sk))
                    .or_insert_with(|| item! { "pk" => pk.clone(), "sk" => *sk });
                let v = it.get("v").map_or(0, num);
                it.insert("v", v + 1);
            }
            Op::Delete { pk, sk } => {
                self.t.remove(&(pk.clone(), *sk));
            }
            Op::CreateSide => self.side = Some(BTreeMap::new()),
            Op::PutSide(id) => {
                if let Some(s) = self.side.as_mut() {
                    s.insert(*id, item! { "id" => *id, "w" => "side" });
                }
            }
            Op::DeleteSide => self.side = None,
            Op::Flush | Op::Reopen | Op::AddLateGsi | Op::RemoveLateGsi => {}
        }
    }
}

fn num(v: &AttributeValue) -> i64 {
    match v {
        AttributeValue::N(n) => n.to_string().parse().unwrap(),
        other => panic!("not a number: {other:?}"),
    }
}

fn model_after(n: usize, total: usize) -> Model {
    let mut m = Model::default();
    for i in 0..n {
        m.apply(&op(i, total));
    }
    m
}

fn execute(db: &mut Db, fs: &FaultFs, o: &Op) -> Result<(), DbError> {
    match o {
        Op::Put(it) => {
            db.table("main")?
                .put_item(it.clone(), PutOptions::default())?;
        }
        Op::Update { pk, sk } => {
            let opts = UpdateOptions::default()
                .update("SET v = if_not_exists(v, :zero) + :one")
                .value(":zero", 0)
                .value(":one", 1);
            db.table("main")?
                .update_item(item! { "pk" => pk.clone(), "sk" => *sk }, opts)?;
        }
        Op::Delete { pk, sk } => {
            db.table("main")?.delete_item(
                item! { "pk" => pk.clone(), "sk" => *sk },
                DeleteOptions::default(),
            )?;
        }
        Op::Flush => db.table("main")?.flush()?,
        Op::CreateSide => {
            db.create_table(side_spec())?;
        }
        Op::PutSide(id) => {
            db.table("side")?
                .put_item(item! { "id" => *id, "w" => "side" }, PutOptions::default())?;
        }
        Op::DeleteSide => {
            db.delete_table("side")?;
        }
        Op::Reopen => {
            db.close()?;
            *db = Db::open(DB, options(fs))?;
        }
        Op::AddLateGsi => {
            db.update_table("main", TableUpdate::add_gsi(late_gsi()))?;
        }
        Op::RemoveLateGsi => {
            db.update_table("main", TableUpdate::remove_gsi(LATE))?;
        }
    }
    Ok(())
}

/// Runs the workload until it ends or fails; returns how many operations
/// were acknowledged.
fn run(fs: &FaultFs, total: usize) -> (usize, Option<DbError>) {
    let mut acked = 0;
    let result = (|| {
        let mut db = Db::open(DB, options(fs))?;
        db.create_table(main_spec())?;
        acked = 0;
        for i in 0..total {
            execute(&mut db, fs, &op(i, total))?;
            acked = i + 1;
        }
        db.close()?;
        Ok::<(), DbError>(())
    })();
    (acked, result.err())
}

fn read_table(db: &Db) -> BTreeMap<(String, i64), Item> {
    let t = db.table("main").unwrap();
    let mut out = BTreeMap::new();
    let mut start = None;
    loop {
        let page = t
            .scan(ScanOptions::default().start_after(start.take()))
            .unwrap();
        for it in page.items {
            let pk = it.get("pk").and_then(|v| v.as_s()).unwrap().to_string();
            let sk = num(it.get("sk").unwrap());
            out.insert((pk, sk), it);
        }
        match page.last_evaluated_key {
            Some(k) => start = Some(k),
            None => break,
        }
    }
    out
}

/// The LSI must hold exactly the recovered items that have `x`, in `x` order.
fn check_lsi(db: &Db, items: &BTreeMap<(String, i64), Item>, what: &str) {
    let t = db.table("main").unwrap();
    for p in 0..4 {
        let pk = format!("p{p}");
        let got: Vec<(i64, i64)> = t
            .query(
                KeyConditionInput::partition(pk.as_str()),
                QueryOptions::default().index("by_x"),
            )
            .unwrap()
            .items
            .iter()
            .map(|it| (num(it.get("x").unwrap()), num(it.get("sk").unwrap())))
            .collect();
        let mut want: Vec<(i64, i64)> = items
            .iter()
            .filter(|((k, _), it)| *k == pk && it.contains_key("x"))
            .map(|((_, sk), it)| (num(it.get("x").unwrap()), *sk))
            .collect();
        want.sort();
        assert_eq!(got, want, "{what}: LSI entries of {pk}");
    }
}

fn check(fs: &FaultFs, acked: usize, total: usize, what: &str) {
    // A power loss never loses an acknowledged `Sync` write, so refusing to
    // open on loss must not refuse, and nothing is reported as corruption.
    let mut strict = options(fs);
    strict.refuse_open_on_loss = true;
    let db = match Db::open(DB, strict) {
        Ok(db) => db,
        Err(e) => panic!("{what}: reopen failed: {e}"),
    };
    assert!(
        !db.recovery_report().has_corruption(),
        "{what}: a power loss was reported as corruption: {:?}",
        db.recovery_report()
    );
    if db.list_tables().unwrap().is_empty() {
        assert_eq!(acked, 0, "{what}: the main table vanished");
        return;
    }
    let items = read_table(&db);
    let side = if db.list_tables().unwrap().iter().any(|n| n == "side") {
        let t = db.table("side").unwrap();
        let mut m = BTreeMap::new();
        for it in t.scan(ScanOptions::default()).unwrap().items {
            m.insert(num(it.get("id").unwrap()), it);
        }
        db.wait_for_indexes("side", std::time::Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("{what}: waiting for the side GSI: {e}"));
        let r = db.verify_index("side", "side_w").unwrap();
        assert!(r.is_clean(), "{what}: {r}");
        Some(m)
    } else {
        None
    };
    let got = Model {
        t: items.clone(),
        side,
    };
    let a = model_after(acked, total);
    let mut b = a.clone();
    if acked < total {
        b.apply(&op(acked, total));
    }
    assert!(
        got == a || got == b,
        "{what}: recovered state is neither the model after {acked} operations nor after {}\n\
         got {} items, side {:?}; want {} or {} items",
        acked + 1,
        got.t.len(),
        got.side.as_ref().map(BTreeMap::len),
        a.t.len(),
        b.t.len()
    );
    check_lsi(&db, &items, what);
    // The GSIs catch up from their checkpoints and equal what the items derive
    // (`g_v`'s key changes with every update: no stale entry may survive).
    db.wait_for_indexes("main", std::time::Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{what}: waiting for the GSIs: {e}"));
    for index in ["g_x", "g_v"] {
        let r = db.verify_index("main", index).unwrap();
        assert!(r.is_clean(), "{what}: {r}");
    }
    // The late GSI exists exactly when its addition was acknowledged and its removal
    // was not (an update in flight may go either way); if it exists its backfill (and
    // any resumed after the crash) ends clean; its directory exists exactly then.
    let late = db
        .describe_table("main")
        .unwrap()
        .spec
        .global_secondary_indexes
        .iter()
        .any(|g| g.name == LATE);
    let (add, remove) = (total / 4, 3 * total / 4);
    let must = acked > add && acked < remove;
    let may = must || acked == add || acked == remove;
    assert!(
        late == must || (may && late),
        "{what}: late GSI present {late} after {acked} acknowledged operations"
    );
    if late {
        let r = db.verify_index("main", LATE).unwrap();
        assert!(r.is_clean(), "{what}: {r}");
    }
    let main_id = db.describe_table("main").unwrap().table_id;
    let main_dir = Path::new(DB).join("tables").join(format!("t{main_id:08}"));
    let gsi_dirs = fs.list(&main_dir.join("gsi")).unwrap();
    assert_eq!(
        gsi_dirs.len(),
        2 + usize::from(late),
        "{what}: index directories {gsi_dirs:?}"
    );
    // A deleted table leaves no files behind (after the reopen's cleanup).
    let table_dirs = fs.list(&Path::new(DB).join("tables")).unwrap_or_default();
    assert_eq!(
        table_dirs.len(),
        db.list_tables().unwrap().len(),
        "{what}: table directories {table_dirs:?} vs catalog {:?}",
        db.list_tables().unwrap()
    );
    // A Sync write after recovery survives a second power loss.
    db.table("main")
        .unwrap()
        .put_item(item! { "pk" => "after", "sk" => 1 }, PutOptions::default())
        .unwrap();
    let again = fs.recovered();
    drop(db);
    let db = Db::open(DB, options(&again)).unwrap();
    let got = db
        .table("main")
        .unwrap()
        .get_item(item! { "pk" => "after", "sk" => 1 }, Default::default())
        .unwrap()
        .item;
    assert!(got.is_some(), "{what}: Sync write after recovery lost");
    db.close().unwrap();
}

#[test]
fn every_crash_point_of_an_item_workload() {
    let total = env_usize("STRATA_CRASH_OPS", 90);
    let fs = FaultFs::new();
    let (acked, err) = run(&fs, total);
    assert!(err.is_none(), "workload fails without faults: {err:?}");
    assert_eq!(acked, total);
    let points = fs.points();
    eprintln!("{total} operations, {points} crash points");
    check(&fs.recovered(), acked, total, "no crash");

    let sample = env_usize("STRATA_CRASH_SAMPLE", 0);
    let chosen: Vec<u64> = if sample == 0 {
        (0..points + 2).collect()
    } else {
        let mut rng = rand::rngs::StdRng::seed_from_u64(env_usize("STRATA_CRASH_SEED", 1) as u64);
        (0..sample)
            .map(|_| rng.random_range(0..points + 2))
            .collect()
    };
    for k in chosen {
        // Each point twice: unsynced bytes lost whole, and torn (a random
        // prefix of them kept, which recovery must take for a torn tail, never
        // for corruption, and a random prefix of the unsynced directory
        // changes kept too).
        for torn in [false, true] {
            let fs = FaultFs::new();
            if torn {
                fs.set_torn_writes(Some(k));
                fs.set_dir_writeback(Some(k));
            }
            fs.crash_at_point(k);
            let (acked, _) = run(&fs, total);
            check(
                &fs.recovered(),
                acked,
                total,
                &format!("crash at point {k}/{points} (torn writes: {torn})"),
            );
        }
    }
}

#[test]
fn injected_io_errors_at_the_database_level() {
    use strata_fs::{FaultKind, FaultOp};
    let total = 60;
    let fs = FaultFs::new();
    let (acked, err) = run(&fs, total);
    assert!(err.is_none() && acked == total);
    let mut surfaced = 0;
    for op in [
        FaultOp::Write,
        FaultOp::Sync,
        FaultOp::SyncDir,
        FaultOp::Rename,
        FaultOp::Create,
    ] {
        let count = fs.op_count(op);
        let step = (count / 25).max(1);
        for n in (1..=count).step_by(step as usize) {
            let fs = FaultFs::new();
            fs.inject(op, n, FaultKind::Eio);
            let (acked, err) = run(&fs, total);
            if err.is_some() {
                surfaced += 1;
            }
            check(
                &fs.recovered(),
                acked,
                total,
                &format!("EIO on {op:?} #{n}"),
            );
        }
    }
    assert!(surfaced > 0, "no injected error reached the caller");
}
