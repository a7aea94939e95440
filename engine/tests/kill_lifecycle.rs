//! Table lifecycle under SIGKILL: a child process (this test binary, re-executed)
//! runs four writer threads while its main thread, in a loop, deletes the oldest
//! table, creates a new one, closes the database and reopens it. It prints every
//! write before it starts (`B`), when it is acknowledged (`A`) or when it fails
//! because its table is being deleted or the database closed (`F`: nothing
//! written), and every DDL step before it starts and once it returned (`BDEL` /
//! `DEL`, `BCRE` / `CRE`, `BCLOSE` / `CLOSED`, `OPEN`). The parent SIGKILLs it at
//! a random moment — in the middle of a write, a delete, a create, a close or an
//! open — and, eight rounds on the same directory, checks:
//!
//! - the killed directory scrubs clean, the reopen with `refuse_open_on_loss`
//!   succeeds, recovery cut at most torn tails, `Db::verify` is clean (see
//!   `kill_common`);
//! - the catalog matches the acknowledged DDL: a table whose delete returned is
//!   gone, a table whose create returned exists, a table whose delete or create
//!   was in flight may be either (a created one is then empty);
//! - the table directories on disk are exactly the catalog's (a deleted or
//!   half-created table's directory was removed, at the latest by the open);
//! - every table that exists holds exactly its acknowledged writes, plus at most
//!   each writer's one write in flight; a write that failed left nothing.
//!
//! `STRATA_KILL_SEED` replays the parent's choices (the child's timing is not
//! reproducible).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod kill_common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::RwLock;
use std::time::Duration;

use kill_common::{KillOnDrop, Tally, open_after_kill};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata_engine::{Db, DbError, DbOptions, PutOptions, ScanOptions, TableDurability, TableSpec};
use strata_item::{KeySchema, KeyType, item};

/// `<dir>,<round>`.
const CHILD_ENV: &str = "STRATA_KILL_LIFECYCLE_CHILD";
const WRITERS: usize = 4;
const KEYS: u32 = 40;
/// Tables the child keeps (it deletes the oldest and creates one per loop).
const LIVE: usize = 3;
const ROUNDS: usize = 8;

fn opts() -> DbOptions {
    DbOptions::small(strata_fs::default_fs())
}

fn table_name(n: u32) -> String {
    format!("life{n:05}")
}

fn table_number(name: &str) -> u32 {
    name.strip_prefix("life").unwrap().parse().unwrap()
}

fn spec(name: &str) -> TableSpec {
    TableSpec::new(name, KeySchema::simple("id", KeyType::S)).partitions(2)
}

fn item_id(t: usize, k: u32) -> String {
    format!("{t}-{k}")
}

/// What the child's threads share: the current database (replaced after each
/// reopen) and the tables writers may pick.
struct Shared {
    db: RwLock<Db>,
    live: RwLock<Vec<String>>,
}

fn writer(t: usize, round: usize, shared: &Shared) {
    let mut rng = StdRng::seed_from_u64(u64::from(std::process::id()) * 31 + t as u64);
    for seq in 0u64.. {
        let name = {
            let live = shared.live.read().unwrap();
            live[rng.random_range(0..live.len())].clone()
        };
        let db = shared.db.read().unwrap().clone();
        let table = match db.table(&name) {
            Ok(table) => table,
            Err(DbError::TableNotFound { .. } | DbError::Closed) => {
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            Err(e) => panic!("writer {t}: table {name}: {e}"),
        };
        let k = rng.random_range(0..KEYS);
        let v = format!("{round}.{seq}");
        println!("B {t} {name} {k} {v}");
        let put = table.put_item(
            item! { "id" => item_id(t, k), "v" => v.as_str(), "pad" => "p".repeat(rng.random_range(0..600)) },
            PutOptions::default(),
        );
        match put {
            Ok(_) => println!("A {t} {name} {k} {v}"),
            Err(DbError::TableNotFound { .. } | DbError::Closed) => {
                println!("F {t} {name} {k} {v}");
            }
            Err(e) => panic!("writer {t}: put into {name}: {e}"),
        }
    }
}

/// The child: writes on four threads and cycles the tables and the database
/// until killed.
#[test]
#[ignore = "run by kill_lifecycle_ddl_and_writes_survive_sigkill as a child process"]
fn lifecycle_child() {
    let Ok(arg) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (dir, round) = arg.rsplit_once(',').unwrap();
    let round: usize = round.parse().unwrap();
    let db = Db::open(dir, opts()).unwrap();
    let mut live = db.list_tables().unwrap();
    live.sort_by_key(|n| table_number(n));
    let mut next = live.last().map_or(0, |n| table_number(n) + 1);
    let create = |db: &Db, name: &str| {
        println!("BCRE {name}");
        db.create_table(spec(name)).unwrap();
        println!("CRE {name}");
    };
    while live.len() < LIVE {
        let name = table_name(next);
        next += 1;
        create(&db, &name);
        live.push(name);
    }
    let shared = Shared {
        db: RwLock::new(db),
        live: RwLock::new(live),
    };
    println!("READY");
    std::thread::scope(|s| {
        for t in 0..WRITERS {
            let shared = &shared;
            s.spawn(move || writer(t, round, shared));
        }
        loop {
            let db = shared.db.read().unwrap().clone();
            let victim = shared.live.read().unwrap()[0].clone();
            println!("BDEL {victim}");
            db.delete_table(&victim).unwrap();
            println!("DEL {victim}");
            let name = table_name(next);
            next += 1;
            create(&db, &name);
            {
                let mut live = shared.live.write().unwrap();
                live.retain(|n| *n != victim);
                live.push(name);
            }
            println!("BCLOSE");
            db.close().unwrap();
            println!("CLOSED");
            *shared.db.write().unwrap() = Db::open(dir, opts()).unwrap();
            println!("OPEN");
        }
    });
}

/// The parent's model of the database: the tables that exist and, per table,
/// every item's value (`(writer, key) -> v`).
type Model = BTreeMap<String, BTreeMap<(usize, u32), String>>;

/// A write line: `t table k v`.
fn parse_write(rest: &str) -> (usize, String, u32, String) {
    let f: Vec<&str> = rest.split(' ').collect();
    assert_eq!(f.len(), 4, "bad write line {rest:?}");
    (
        f[0].parse().unwrap(),
        f[1].to_owned(),
        f[2].parse().unwrap(),
        f[3].to_owned(),
    )
}

/// What one round's output says happened.
#[derive(Default)]
struct Round {
    /// Deletes and creates that started but did not return.
    deleting: BTreeSet<String>,
    creating: BTreeSet<String>,
    /// Per writer, its write in flight: `(table, key, v)`.
    pending: BTreeMap<usize, (String, u32, String)>,
    acked: usize,
    failed: usize,
    deletes: usize,
    creates: usize,
    reopens: usize,
    /// The last DDL line the child printed: where in its loop it was killed.
    last_ddl: String,
}

/// Applies the child's output to `model`.
fn apply(lines: &[String], model: &mut Model) -> Round {
    let mut r = Round::default();
    let mut deleted = BTreeSet::new();
    for l in lines {
        let (tag, rest) = l.split_once(' ').unwrap_or((l.as_str(), ""));
        if matches!(
            tag,
            "BDEL" | "DEL" | "BCRE" | "CRE" | "BCLOSE" | "CLOSED" | "OPEN"
        ) {
            r.last_ddl.clone_from(l);
        }
        match tag {
            "BDEL" => {
                r.deleting.insert(rest.to_owned());
            }
            "DEL" => {
                assert!(model.remove(rest).is_some(), "deleted unknown table {rest}");
                r.deleting.remove(rest);
                deleted.insert(rest.to_owned());
                r.deletes += 1;
            }
            "BCRE" => {
                r.creating.insert(rest.to_owned());
            }
            "CRE" => {
                assert!(model.insert(rest.to_owned(), BTreeMap::new()).is_none());
                r.creating.remove(rest);
                r.creates += 1;
            }
            "B" => {
                let (t, name, k, v) = parse_write(rest);
                r.pending.insert(t, (name, k, v));
            }
            "A" | "F" => {
                let (t, name, k, v) = parse_write(rest);
                assert_eq!(r.pending.remove(&t), Some((name.clone(), k, v.clone())));
                if tag == "F" {
                    r.failed += 1;
                    continue;
                }
                r.acked += 1;
                // An acknowledgement printed after the table's delete returned
                // is of a write that finished before the delete shut the table.
                if let Some(items) = model.get_mut(&name) {
                    items.insert((t, k), v);
                } else {
                    assert!(deleted.contains(&name), "write to unknown table {name}");
                }
            }
            "OPEN" => r.reopens += 1,
            // "BCLOSE", "CLOSED", "READY" and the test harness's own output.
            _ => {}
        }
    }
    r
}

/// Checks the reopened database against the model and the round's output,
/// and brings the model up to the recovered state.
fn check(db: &Db, dir: &Path, model: &mut Model, r: &Round, round: usize) {
    let present: BTreeSet<String> = db.list_tables().unwrap().into_iter().collect();
    for name in model.keys() {
        assert!(
            present.contains(name) || r.deleting.contains(name),
            "round {round}: table {name} (created, delete not started or not in flight) is gone; present: {present:?}"
        );
    }
    for name in &present {
        assert!(
            model.contains_key(name) || r.creating.contains(name),
            "round {round}: table {name} exists but its create never started or its delete returned"
        );
    }
    // An interrupted delete happened or not; an interrupted create too.
    model.retain(|name, _| present.contains(name));
    for name in &present {
        model.entry(name.clone()).or_default();
    }
    // The table directories are exactly the catalog's.
    let want_dirs: BTreeSet<String> = present
        .iter()
        .map(|n| format!("t{:08}", db.describe_table(n).unwrap().table_id))
        .collect();
    let dirs: BTreeSet<String> = std::fs::read_dir(dir.join("tables"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        dirs, want_dirs,
        "round {round}: table directories vs catalog"
    );
    // Every table holds its acknowledged writes, plus at most the write in flight.
    for (name, items) in model.iter_mut() {
        let out = db
            .table(name)
            .unwrap()
            .scan(ScanOptions::default())
            .unwrap();
        assert!(out.last_evaluated_key.is_none());
        let mut got = BTreeMap::new();
        for it in out.items {
            let id = it.get("id").unwrap().as_s().unwrap();
            let (t, k) = id.split_once('-').unwrap();
            let v = it.get("v").unwrap().as_s().unwrap().to_owned();
            got.insert((t.parse::<usize>().unwrap(), k.parse::<u32>().unwrap()), v);
        }
        let keys: BTreeSet<(usize, u32)> = got.keys().chain(items.keys()).copied().collect();
        for key in keys {
            let want = items.get(&key);
            let have = got.get(&key);
            let in_flight = r
                .pending
                .get(&key.0)
                .filter(|(n, k, _)| n == name && *k == key.1)
                .map(|(_, _, v)| v);
            assert!(
                have == want || (have.is_some() && have == in_flight),
                "round {round}: table {name} item {key:?}: recovered {have:?}, acknowledged {want:?}, in flight {in_flight:?}"
            );
        }
        *items = got;
    }
}

#[test]
fn kill_lifecycle_ddl_and_writes_survive_sigkill() {
    let seed = std::env::var("STRATA_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("kill_lifecycle: seed {seed} (STRATA_KILL_SEED to replay)");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut model = Model::new();
    let mut tally = Tally::default();
    let mut totals = Round::default();
    for round in 0..ROUNDS {
        let (mut child, stdout) = KillOnDrop::spawn(
            "lifecycle_child",
            &[(CHILD_ENV, format!("{},{round}", dir.path().display()))],
        );
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut buf = String::new();
            // Only complete lines: the child may die in the middle of one.
            while matches!(reader.read_line(&mut buf), Ok(n) if n > 0) && buf.ends_with('\n') {
                if tx.send(buf.trim_end().to_owned()).is_err() {
                    break;
                }
                buf.clear();
            }
        });
        let mut lines = Vec::new();
        loop {
            let l = rx
                .recv_timeout(Duration::from_secs(60))
                .expect("the child did not start");
            let ready = l.ends_with("READY");
            lines.push(l);
            if ready {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(0..1200)));
        child.kill();
        reader.join().unwrap();
        lines.extend(rx.try_iter());

        let r = apply(&lines, &mut model);
        eprintln!(
            "kill_lifecycle: round {round}: {} acknowledged writes, {} refused, {} deletes, {} creates, {} reopens; killed after {:?}",
            r.acked, r.failed, r.deletes, r.creates, r.reopens, r.last_ddl
        );
        let (db, t) = open_after_kill(dir.path(), &opts(), TableDurability::Sync);
        tally.add(t);
        check(&db, dir.path(), &mut model, &r, round);
        db.close().unwrap();
        totals.acked += r.acked;
        totals.failed += r.failed;
        totals.deletes += r.deletes;
        totals.creates += r.creates;
        totals.reopens += r.reopens;
    }
    eprintln!(
        "kill_lifecycle: {ROUNDS} kills, {} acknowledged writes, {} refused writes, {} deletes, {} creates, {} reopens; recovery: {tally:?}",
        totals.acked, totals.failed, totals.deletes, totals.creates, totals.reopens
    );
    assert!(totals.acked > 0, "no write was acknowledged");
    assert!(
        totals.deletes > 0 && totals.creates > 0 && totals.reopens > 0,
        "the child completed no delete, create or reopen"
    );
}
