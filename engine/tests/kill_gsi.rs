//! Global secondary indexes under SIGKILL, with real processes: a child process (this
//! test binary, re-executed) opens a database on a real directory, holding one table of
//! three partitions with two GSIs, and runs three writer threads doing puts, updates and
//! deletes, printing each operation before it starts (`B`) and once it is acknowledged
//! (`A`). The maintainers run in the background all the while — and right after each
//! reopen they catch up on what the previous child left unapplied, so kills land in
//! writes, in maintenance, in flushes and compactions of base and index trees alike. The
//! parent kills the child with SIGKILL after a random delay and, twelve rounds on the
//! same directory per variant (`Sync` and `Buffered`, 24 kills), checks:
//!
//! - the killed directory scrubs clean, the reopen with `refuse_open_on_loss` succeeds
//!   (a `Buffered` table may refuse only for a torn WAL tail the scrub saw), recovery
//!   cut at most torn tails, `Db::verify` is clean (`kill_common`; torn files of the
//!   index trees are listed by `Db::recovery_report` too, and counted apart);
//! - the base table holds every acknowledged operation, plus at most each writer's one
//!   operation in flight (each writer owns its keys and does one operation at a time);
//! - after `Db::wait_for_indexes`, `Db::verify_index` finds every GSI equal to what the
//!   recovered base items derive (no missing, stale or duplicate entry), with exactly as
//!   many entries as the parent's own derivation from the base scan;
//! - a query of each GSI for every index partition key value returns, page by page and
//!   in order, exactly the projected entries the parent derives from the base scan.
//!
//! The GSIs: `by_state` (partition key `state`, `ALL`) is keyed by an attribute that
//! updates set, change and remove, so entries move between index keys and partitions
//! and vanish; `by_owner_rank` (`owner`, sort key `rank`, `INCLUDE note`) is sparse when
//! `rank` is absent, its entries move when `owner` or `rank` changes, and its projection
//! carries `note` only when the item has one.
//!
//! Online index changes: a fourth thread of the child adds and removes a third GSI,
//! `by_note` (`note`, `ALL`), with `Db::update_table` every 30 to 150 ms while the
//! writers run, so kills also land in backfills (of the table's data, resumed at the
//! reopen) and in removals. After each reopen: if the catalog has `by_note`, it verifies
//! clean once `wait_for_indexes` returns (which waits for its backfill); and the
//! table's `gsi/` directory holds exactly one directory per GSI the catalog names (an
//! interrupted addition or removal left no orphan).
//!
//! `STRATA_KILL_SEED` replays the parent's choices (the child's timing is not
//! reproducible).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod kill_common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::time::Duration;

use kill_common::{KillOnDrop, Tally, open_after_kill, serial};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata_engine::{
    Db, DbOptions, DeleteOptions, GsiSpec, IndexProjection, IndexStatus, PutOptions, QueryOptions,
    ScanOptions, Table, TableDurability, TableSpec, TableUpdate, UpdateOptions,
};
use strata_item::{AttributeValue, Item, KeySchema, KeyType, item};

/// `<dir>,sync` or `<dir>,buffered`: the child's database and its table's durability.
const CHILD_ENV: &str = "STRATA_KILL_GSI_CHILD";
const TABLE: &str = "killgsi";
const WRITERS: usize = 3;
const KEYS: u32 = 60;
const ROUNDS: usize = 12;
/// Values of `state` (`by_state`'s partition key) and of `owner` (`by_owner_rank`'s).
const STATES: i64 = 5;
const OWNERS: i64 = 3;
/// Generous, only to detect a hang.
const WAIT: Duration = Duration::from_secs(30);

fn opts() -> DbOptions {
    let mut o = DbOptions::small(strata_fs::default_fs());
    // Backfills cross several pages, so kills land between them.
    o.index_backfill_page = strata_engine::BackfillPage {
        items: 16,
        bytes: 1 << 20,
    };
    o
}

fn durability(name: &str) -> TableDurability {
    match name {
        "sync" => TableDurability::Sync,
        "buffered" => TableDurability::Buffered,
        other => panic!("unknown durability {other}"),
    }
}

fn spec(durability: TableDurability) -> TableSpec {
    TableSpec::new(TABLE, KeySchema::simple("id", KeyType::S))
        .partitions(3)
        .durability(durability)
        .gsi(GsiSpec::new("by_state", KeySchema::simple("state", KeyType::S)).partitions(2))
        .gsi(
            GsiSpec::new(
                "by_owner_rank",
                KeySchema::composite("owner", KeyType::S, "rank", KeyType::N),
            )
            .projection(IndexProjection::Include(vec!["note".into()]))
            .partitions(3),
        )
}

/// The GSI the child adds and removes while it runs.
const LATE: &str = "by_note";

fn late_gsi() -> GsiSpec {
    GsiSpec::new(LATE, KeySchema::simple("note", KeyType::S)).partitions(2)
}

fn id(t: usize, k: u32) -> String {
    format!("{t}-{k}")
}

fn state(s: i64) -> String {
    format!("s{s}")
}

fn owner(o: i64) -> String {
    format!("o{o}")
}

/// One operation, as the child prints it: `P t k st rk n`, `U t k st rk n`, `D t k`
/// (`st`, `rk`: -1 for "absent"). `n` decides the padding, the note (absent when
/// `n % 3 == 0`) and, for an update, the new owner.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Put {
        t: usize,
        k: u32,
        st: i64,
        rk: i64,
        n: i64,
    },
    Update {
        t: usize,
        k: u32,
        st: i64,
        rk: i64,
        n: i64,
    },
    Delete {
        t: usize,
        k: u32,
    },
}

impl Op {
    fn key(self) -> (usize, u32) {
        match self {
            Op::Put { t, k, .. } | Op::Update { t, k, .. } | Op::Delete { t, k } => (t, k),
        }
    }

    fn line(self) -> String {
        match self {
            Op::Put { t, k, st, rk, n } => format!("P {t} {k} {st} {rk} {n}"),
            Op::Update { t, k, st, rk, n } => format!("U {t} {k} {st} {rk} {n}"),
            Op::Delete { t, k } => format!("D {t} {k}"),
        }
    }

    fn parse(s: &str) -> Op {
        let f: Vec<&str> = s.split(' ').collect();
        let n = |i: usize| -> i64 { f[i].parse().unwrap() };
        let (t, k) = (f[1].parse().unwrap(), f[2].parse().unwrap());
        match (f[0], f.len()) {
            ("P", 6) => Op::Put {
                t,
                k,
                st: n(3),
                rk: n(4),
                n: n(5),
            },
            ("U", 6) => Op::Update {
                t,
                k,
                st: n(3),
                rk: n(4),
                n: n(5),
            },
            ("D", 3) => Op::Delete { t, k },
            _ => panic!("bad operation line {s:?}"),
        }
    }

    /// The item after applying this operation to `old`.
    fn apply(self, old: Option<&Item>) -> Option<Item> {
        let (mut it, st, rk, n, own) = match self {
            Op::Put { t, k, st, rk, n } => {
                let it = item! {
                    "id" => id(t, k),
                    "n" => n,
                    "pad" => "x".repeat((n % 700) as usize),
                };
                (it, st, rk, n, i64::from(k) % OWNERS)
            }
            Op::Update { t, k, st, rk, n } => {
                let it = old.cloned().unwrap_or_else(|| item! { "id" => id(t, k) });
                (it, st, rk, n, (i64::from(k) + n) % OWNERS)
            }
            Op::Delete { .. } => return None,
        };
        it.insert("n", n);
        it.insert("owner", owner(own));
        match n % 3 {
            0 => it.remove("note"),
            _ => it.insert("note", format!("note{n}")),
        };
        match st {
            -1 => it.remove("state"),
            s => it.insert("state", state(s)),
        };
        match rk {
            -1 => it.remove("rank"),
            r => it.insert("rank", r),
        };
        Some(it)
    }

    /// Performs the operation on `table`.
    fn run(self, table: &Table) {
        let (t, k) = self.key();
        let key = item! { "id" => id(t, k) };
        match self {
            Op::Put { .. } => {
                table
                    .put_item(self.apply(None).unwrap(), PutOptions::default())
                    .unwrap();
            }
            Op::Update { k, st, rk, n, .. } => {
                // Every attribute by a name placeholder: `owner`, `state` and `rank`
                // are reserved words.
                let mut set = vec!["#n = :n", "#o = :o"];
                let mut remove = Vec::new();
                let mut upd = UpdateOptions::default()
                    .name("#n", "n")
                    .name("#o", "owner")
                    .name("#note", "note")
                    .name("#s", "state")
                    .name("#r", "rank")
                    .value(":n", n)
                    .value(":o", owner((i64::from(k) + n) % OWNERS));
                if n % 3 == 0 {
                    remove.push("#note");
                } else {
                    set.push("#note = :note");
                    upd = upd.value(":note", format!("note{n}"));
                }
                if st < 0 {
                    remove.push("#s");
                } else {
                    set.push("#s = :s");
                    upd = upd.value(":s", state(st));
                }
                if rk < 0 {
                    remove.push("#r");
                } else {
                    set.push("#r = :r");
                    upd = upd.value(":r", rk);
                }
                let mut expr = format!("SET {}", set.join(", "));
                if !remove.is_empty() {
                    expr.push_str(&format!(" REMOVE {}", remove.join(", ")));
                }
                table.update_item(key, upd.update(expr)).unwrap();
            }
            Op::Delete { .. } => {
                table.delete_item(key, DeleteOptions::default()).unwrap();
            }
        }
    }
}

fn random_op(rng: &mut StdRng, t: usize) -> Op {
    let k = rng.random_range(0..KEYS);
    let st = if rng.random_bool(0.75) {
        rng.random_range(0..STATES)
    } else {
        -1
    };
    let rk = if rng.random_bool(0.75) {
        rng.random_range(0..50i64)
    } else {
        -1
    };
    let n = rng.random_range(0..100_000i64);
    match rng.random_range(0..10) {
        0..=3 => Op::Put { t, k, st, rk, n },
        4..=7 => Op::Update { t, k, st, rk, n },
        _ => Op::Delete { t, k },
    }
}

/// The child: writes on three threads until killed.
#[test]
#[ignore = "run by the kill_gsi tests as a child process"]
fn kill_gsi_child() {
    let Ok(arg) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (dir, dur) = arg.rsplit_once(',').unwrap();
    let db = Db::open(dir, opts()).unwrap();
    if db.describe_table(TABLE).is_err() {
        db.create_table(spec(durability(dur))).unwrap();
    }
    let table = db.table(TABLE).unwrap();
    println!("READY");
    std::thread::scope(|s| {
        let db = &db;
        s.spawn(move || {
            let mut rng = StdRng::seed_from_u64(u64::from(std::process::id()));
            loop {
                std::thread::sleep(Duration::from_millis(rng.random_range(30..150)));
                let present = db
                    .describe_table(TABLE)
                    .unwrap()
                    .spec
                    .global_secondary_indexes
                    .iter()
                    .any(|g| g.name == LATE);
                let update = if present {
                    TableUpdate::remove_gsi(LATE)
                } else {
                    TableUpdate::add_gsi(late_gsi())
                };
                db.update_table(TABLE, update).unwrap();
            }
        });
        for t in 0..WRITERS {
            let table = table.clone();
            s.spawn(move || {
                let mut rng = StdRng::seed_from_u64(u64::from(std::process::id()) * 31 + t as u64);
                loop {
                    let op = random_op(&mut rng, t);
                    println!("B {}", op.line());
                    op.run(&table);
                    println!("A {}", op.line());
                }
            });
        }
    });
}

#[test]
fn kill_gsi_sync_indexes_equal_their_derivation_after_sigkill() {
    run("sync");
}

#[test]
fn kill_gsi_buffered_indexes_equal_their_derivation_after_sigkill() {
    run("buffered");
}

/// Starts the child, waits for it to be ready, sleeps `delay`, kills it; every complete
/// line it printed.
fn kill_round(dir: &std::path::Path, dur: &str, delay: Duration) -> Vec<String> {
    let (mut child, stdout) = KillOnDrop::spawn(
        "kill_gsi_child",
        &[(CHILD_ENV, format!("{},{dur}", dir.display()))],
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
    loop {
        let l = rx.recv_timeout(WAIT).expect("the child did not start");
        if l.ends_with("READY") {
            break;
        }
    }
    std::thread::sleep(delay);
    child.kill();
    reader.join().unwrap();
    rx.try_iter().collect()
}

/// Every page of a GSI query `#k = :v`, `#k` bound to `attr` (a reserved word), `:v`
/// to `v`.
fn query_all(table: &Table, index: &str, attr: &str, v: AttributeValue) -> Vec<Item> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = table
            .query(
                "#k = :v",
                QueryOptions::default()
                    .index(index)
                    .name("#k", attr)
                    .value(":v", v.clone())
                    .limit(7)
                    .start_after(start.take()),
            )
            .unwrap();
        out.extend(page.items);
        match page.last_evaluated_key {
            Some(k) => start = Some(k),
            None => return out,
        }
    }
}

/// Every item of the table.
fn scan_base(table: &Table) -> BTreeMap<String, Item> {
    let mut out = BTreeMap::new();
    let mut start = None;
    loop {
        let page = table
            .scan(ScanOptions::default().start_after(start.take()))
            .unwrap();
        for it in page.items {
            let id = it.get("id").unwrap().as_s().unwrap().to_owned();
            assert!(
                out.insert(id, it).is_none(),
                "the scan returned an id twice"
            );
        }
        match page.last_evaluated_key {
            Some(k) => start = Some(k),
            None => return out,
        }
    }
}

/// Checks each GSI's query results against the parent's derivation from `base`
/// (`id -> item`, in id order, which is the base key order); returns the number of
/// entries derived.
fn check_queries(table: &Table, base: &BTreeMap<String, Item>, round: usize) -> u64 {
    let mut entries = 0;
    // by_state, ALL: the whole item, in base key order within one state.
    for s in 0..STATES {
        let sv = state(s);
        let want: Vec<Item> = base
            .values()
            .filter(|i| i.get("state").and_then(AttributeValue::as_s) == Some(sv.as_str()))
            .cloned()
            .collect();
        let got = query_all(table, "by_state", "state", sv.as_str().into());
        assert_eq!(got, want, "round {round}: by_state query for {sv}");
        entries += want.len() as u64;
    }
    // by_owner_rank, INCLUDE note: table key, index key, note if present; in (rank,
    // base key) order within one owner.
    for o in 0..OWNERS {
        let ov = owner(o);
        let mut want: Vec<(&AttributeValue, &String, Item)> = base
            .iter()
            .filter(|(_, i)| {
                i.get("owner").and_then(AttributeValue::as_s) == Some(ov.as_str())
                    && i.contains_key("rank")
            })
            .map(|(id, i)| {
                let mut p = item! { "id" => id.as_str(), "owner" => ov.as_str() };
                p.insert("rank", i.get("rank").unwrap().clone());
                if let Some(note) = i.get("note") {
                    p.insert("note", note.clone());
                }
                (i.get("rank").unwrap(), id, p)
            })
            .collect();
        want.sort_by(|a, b| {
            let rank = |v: &AttributeValue| *v.as_n().unwrap();
            (rank(a.0), a.1).cmp(&(rank(b.0), b.1))
        });
        let want: Vec<Item> = want.into_iter().map(|(_, _, p)| p).collect();
        let got = query_all(table, "by_owner_rank", "owner", ov.as_str().into());
        assert_eq!(got, want, "round {round}: by_owner_rank query for {ov}");
        entries += want.len() as u64;
    }
    entries
}

fn run(dur: &str) {
    let _serial = serial();
    let seed = std::env::var("STRATA_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("kill_gsi {dur}: seed {seed} (STRATA_KILL_SEED to replay)");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut tally = Tally::default();
    let mut total_acked = 0;
    let mut total_entries = 0;
    // Rounds whose reopen found the indexes behind.
    let mut behind = 0;
    // Rounds that found the added GSI (after its backfill, resumed if it was cut).
    let mut late_rounds = 0;
    // Rounds whose reopen found the added GSI still CREATING (a kill in its backfill).
    let mut creating = 0;
    // The verified state of every key before the round.
    let mut state: BTreeMap<(usize, u32), Item> = BTreeMap::new();
    for round in 0..ROUNDS {
        let delay = Duration::from_millis(rng.random_range(0..700));
        let lines = kill_round(dir.path(), dur, delay);

        // Per key: the acknowledged state; per writer: its operation in flight.
        let mut acked: BTreeMap<(usize, u32), Option<Item>> =
            state.iter().map(|(k, v)| (*k, Some(v.clone()))).collect();
        let mut pending: BTreeMap<usize, Op> = BTreeMap::new();
        let mut round_acked = 0;
        for l in &lines {
            if let Some(rest) = l.strip_prefix("B ") {
                let op = Op::parse(rest);
                assert!(pending.insert(op.key().0, op).is_none());
            } else if let Some(rest) = l.strip_prefix("A ") {
                let op = Op::parse(rest);
                let k = op.key();
                let old = acked.get(&k).cloned().flatten();
                acked.insert(k, op.apply(old.as_ref()));
                assert_eq!(pending.remove(&k.0), Some(op));
                round_acked += 1;
            }
        }
        total_acked += round_acked;

        let (db, t) = open_after_kill(dir.path(), &opts(), durability(dur));
        tally.add(t);
        let table = db.table(TABLE).unwrap();
        // What the indexes had not applied when the child died (less what the new
        // maintainers applied since the open): shows that kills land in maintenance.
        let lag: u64 = db
            .describe_table(TABLE)
            .unwrap()
            .global_secondary_indexes
            .iter()
            .map(|g| g.lag_records)
            .sum();
        if lag > 0 {
            behind += 1;
        }
        if db
            .describe_table(TABLE)
            .unwrap()
            .global_secondary_indexes
            .iter()
            .any(|g| g.status == IndexStatus::Creating)
        {
            creating += 1;
        }
        eprintln!(
            "kill_gsi {dur}: round {round}: killed after {delay:?}, {round_acked} acknowledged, {lag} records unapplied at reopen"
        );

        // The base table: every acknowledged operation, plus at most the one in flight.
        let base = scan_base(&table);
        let mut recovered = BTreeMap::new();
        for t in 0..WRITERS {
            for k in 0..KEYS {
                let got = base.get(&id(t, k)).cloned();
                let want = acked.get(&(t, k)).cloned().flatten();
                let in_flight = pending
                    .get(&t)
                    .filter(|op| op.key() == (t, k))
                    .map(|op| op.apply(want.as_ref()));
                assert!(
                    got == want || in_flight.as_ref() == Some(&got),
                    "round {round}, key {:?}: recovered {got:?}, acknowledged {want:?}, in flight {in_flight:?}",
                    (t, k)
                );
                if let Some(g) = got {
                    recovered.insert((t, k), g);
                }
            }
        }
        assert_eq!(
            base.len(),
            recovered.len(),
            "round {round}: items no writer wrote"
        );

        // The GSIs, once caught up: equal to the derivation, entry by entry.
        db.wait_for_indexes(TABLE, WAIT).unwrap();
        let derived = check_queries(&table, &base, round);
        let mut found = 0;
        for index in ["by_state", "by_owner_rank"] {
            let r = db.verify_index(TABLE, index).unwrap();
            assert!(r.is_clean(), "round {round}: {r}");
            assert_eq!(r.base_items, base.len() as u64, "round {round}: {r}");
            assert_eq!(r.skipped_items, 0, "round {round}: {r}");
            found += r.found_entries;
        }
        assert_eq!(
            found, derived,
            "round {round}: the indexes hold a different number of entries than derived"
        );
        let desc = db.describe_table(TABLE).unwrap();
        let gsis = &desc.spec.global_secondary_indexes;
        if gsis.iter().any(|g| g.name == LATE) {
            let r = db.verify_index(TABLE, LATE).unwrap();
            assert!(r.is_clean(), "round {round}: {r}");
            assert_eq!(r.base_items, base.len() as u64, "round {round}: {r}");
            late_rounds += 1;
        }
        let gsi_dirs = std::fs::read_dir(
            dir.path()
                .join("tables")
                .join(format!("t{:08}", desc.table_id))
                .join("gsi"),
        )
        .unwrap()
        .count();
        assert_eq!(gsi_dirs, gsis.len(), "round {round}: index directories");
        total_entries += found;
        state = recovered;
        drop(table);
        db.close().unwrap();
    }
    eprintln!(
        "kill_gsi {dur}: {ROUNDS} kills ({behind} with the indexes behind at reopen, {creating} in a backfill, {late_rounds} with the added GSI), {total_acked} acknowledged operations, {total_entries} GSI entries verified; recovery: {tally:?}"
    );
    assert!(total_acked > 0, "no operation was acknowledged");
    assert!(total_entries > 0, "no GSI entry was verified");
}
