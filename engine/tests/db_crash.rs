//! Table-level crash test with real processes: a child process (this test binary,
//! re-executed) writes items from four threads, printing each operation before it
//! starts and once it is acknowledged; the parent kills it with SIGKILL at a random
//! moment and checks the killed directory and the recovery (see `kill_common`:
//! `verify_dir` finds no error, the reopen with `refuse_open_on_loss` succeeds for a
//! `Sync` table, the recovery report holds at most torn tails of the newest WAL
//! segments and torn manifest appends, `Db::verify` is clean). Then it checks that
//! every acknowledged write is there (an operation in flight may or may not be), and
//! that every LSI holds exactly the entries of the recovered base items. Ten rounds
//! on the same database, so recovery of a recovered database is tested too.
//!
//! Both durabilities: a SIGKILL keeps the page cache, so an acknowledged `Buffered`
//! write (handed to the OS) survives it as surely as a `Sync` one. Each writer
//! thread owns its keys and writes them one operation at a time, so "every
//! acknowledged operation, plus at most the one in flight per thread" is exactly a
//! prefix-consistent state that contains every acknowledged write.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod kill_common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};

use kill_common::{KillOnDrop, Tally, open_after_kill, serial};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata_engine::{
    Db, DbOptions, DeleteOptions, GetOptions, IndexProjection, LsiSpec, PutOptions, QueryOptions,
    Select, TableDurability, TableSpec, UpdateOptions,
};
use strata_item::{Item, KeySchema, KeyType, item};

/// `<dir>,sync` or `<dir>,buffered`: the child's database and its table's durability.
const DIR_ENV: &str = "STRATA_DB_CRASH_CHILD_DIR";
// Four writers over three partitions: at least two share a partition (and its
// group commit, gathering included).
const THREADS: usize = 4;
const KEYS: i64 = 60;

fn opts() -> DbOptions {
    DbOptions::small(strata_fs::default_fs())
}

fn durability(name: &str) -> TableDurability {
    match name {
        "sync" => TableDurability::Sync,
        "buffered" => TableDurability::Buffered,
        other => panic!("unknown durability {other}"),
    }
}

fn spec(durability: TableDurability) -> TableSpec {
    TableSpec::new(
        "crash",
        KeySchema::composite("pk", KeyType::S, "sk", KeyType::N),
    )
    .partitions(3)
    .durability(durability)
    .lsi(LsiSpec::new("by_lsk", "lsk", KeyType::N))
    .lsi(LsiSpec::new("by_v", "v", KeyType::N).projection(IndexProjection::KeysOnly))
}

fn pad(v: i64) -> String {
    "x".repeat((v % 1500) as usize)
}

/// One operation, as the child prints it: `P t sk v lsk`, `U t sk v lsk`, `D t sk`
/// (`lsk` is -1 for "absent").
#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Put { t: usize, sk: i64, v: i64, lsk: i64 },
    Update { t: usize, sk: i64, v: i64, lsk: i64 },
    Delete { t: usize, sk: i64 },
}

impl Op {
    fn key(self) -> (usize, i64) {
        match self {
            Op::Put { t, sk, .. } | Op::Update { t, sk, .. } | Op::Delete { t, sk } => (t, sk),
        }
    }

    fn line(self) -> String {
        match self {
            Op::Put { t, sk, v, lsk } => format!("P {t} {sk} {v} {lsk}"),
            Op::Update { t, sk, v, lsk } => format!("U {t} {sk} {v} {lsk}"),
            Op::Delete { t, sk } => format!("D {t} {sk}"),
        }
    }

    fn parse(s: &str) -> Option<Op> {
        let f: Vec<&str> = s.split(' ').collect();
        let n = |i: usize| f.get(i)?.parse::<i64>().ok();
        let t = usize::try_from(n(1)?).ok()?;
        match *f.first()? {
            "P" if f.len() == 5 => Some(Op::Put {
                t,
                sk: n(2)?,
                v: n(3)?,
                lsk: n(4)?,
            }),
            "U" if f.len() == 5 => Some(Op::Update {
                t,
                sk: n(2)?,
                v: n(3)?,
                lsk: n(4)?,
            }),
            "D" if f.len() == 3 => Some(Op::Delete { t, sk: n(2)? }),
            _ => None,
        }
    }

    /// The item after applying this operation to `old`.
    fn apply(self, old: Option<&Item>) -> Option<Item> {
        match self {
            Op::Put { t, sk, v, lsk } => {
                let mut it =
                    item! { "pk" => format!("t{t}"), "sk" => sk, "v" => v, "pad" => pad(v) };
                if lsk >= 0 {
                    it.insert("lsk", lsk);
                }
                Some(it)
            }
            Op::Update { t, sk, v, lsk } => {
                let mut it = old
                    .cloned()
                    .unwrap_or_else(|| item! { "pk" => format!("t{t}"), "sk" => sk });
                it.insert("v", v);
                if lsk >= 0 {
                    it.insert("lsk", lsk);
                } else {
                    it.remove("lsk");
                }
                Some(it)
            }
            Op::Delete { .. } => None,
        }
    }
}

/// The child: writes until killed.
#[test]
#[ignore = "run by the db_crash tests as a child process"]
fn db_crash_child() {
    let Ok(arg) = std::env::var(DIR_ENV) else {
        return;
    };
    let (dir, dur) = arg.rsplit_once(',').unwrap();
    let db = Db::open(dir, opts()).unwrap();
    if db.describe_table("crash").is_err() {
        db.create_table(spec(durability(dur))).unwrap();
    }
    let table = db.table("crash").unwrap();
    println!("READY");
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let table = table.clone();
            s.spawn(move || {
                let mut rng = StdRng::seed_from_u64(std::process::id() as u64 * 31 + t as u64);
                loop {
                    let sk = rng.random_range(0..KEYS);
                    let v = rng.random_range(0..100_000i64);
                    let lsk = if rng.random_bool(0.7) {
                        rng.random_range(0..20i64)
                    } else {
                        -1
                    };
                    let op = match rng.random_range(0..10) {
                        0..=4 => Op::Put { t, sk, v, lsk },
                        5..=7 => Op::Update { t, sk, v, lsk },
                        _ => Op::Delete { t, sk },
                    };
                    println!("B {}", op.line());
                    let k = item! { "pk" => format!("t{t}"), "sk" => sk };
                    match op {
                        Op::Put { .. } => {
                            table
                                .put_item(op.apply(None).unwrap(), PutOptions::default())
                                .unwrap();
                        }
                        Op::Update { .. } => {
                            let upd = if lsk >= 0 {
                                UpdateOptions::default()
                                    .update("SET v = :v, lsk = :l")
                                    .value(":l", lsk)
                            } else {
                                UpdateOptions::default().update("SET v = :v REMOVE lsk")
                            };
                            table.update_item(k, upd.value(":v", v)).unwrap();
                        }
                        Op::Delete { .. } => {
                            table.delete_item(k, DeleteOptions::default()).unwrap();
                        }
                    }
                    println!("A {}", op.line());
                }
            });
        }
    });
}

#[test]
fn db_crash_acknowledged_items_survive() {
    run("sync", 7);
}

#[test]
fn db_crash_buffered_acknowledged_items_survive() {
    run("buffered", 8);
}

fn run(dur: &str, seed: u64) {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut tally = Tally::default();
    // The verified state of every key before the round.
    let mut state: BTreeMap<(usize, i64), Item> = BTreeMap::new();
    for round in 0..10 {
        let (mut child, stdout) = KillOnDrop::spawn(
            "db_crash_child",
            &[(DIR_ENV, format!("{},{dur}", dir.path().display()))],
        );
        let target = rng.random_range(150..600usize);
        let mut lines = Vec::new();
        let mut acks = 0;
        let mut reader = BufReader::new(stdout);
        let mut buf = String::new();
        while acks < target {
            buf.clear();
            if reader.read_line(&mut buf).unwrap() == 0 {
                panic!("child exited early after {acks} acknowledgements: {lines:?}");
            }
            if buf.starts_with("A ") {
                acks += 1;
            }
            lines.push(buf.trim_end().to_owned());
        }
        child.kill();
        // Whatever the child printed before dying counts too.
        loop {
            buf.clear();
            match reader.read_line(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) if buf.ends_with('\n') => lines.push(buf.trim_end().to_owned()),
                Ok(_) => break,
            }
        }

        // Per key: the acknowledged state, and the operation in flight, if any.
        let mut acked = state
            .iter()
            .map(|(k, v)| (*k, Some(v.clone())))
            .collect::<BTreeMap<_, _>>();
        let mut pending: BTreeMap<usize, Op> = BTreeMap::new();
        for l in &lines {
            if let Some(rest) = l.strip_prefix("B ") {
                let op = Op::parse(rest).unwrap();
                pending.insert(op.key().0, op);
            } else if let Some(rest) = l.strip_prefix("A ") {
                let op = Op::parse(rest).unwrap();
                let k = op.key();
                let old = acked.get(&k).cloned().flatten();
                acked.insert(k, op.apply(old.as_ref()));
                pending.remove(&k.0);
            }
        }

        eprintln!("db_crash {dur}: round {round}");
        let (db, t) = open_after_kill(dir.path(), &opts(), durability(dur));
        tally.add(t);
        let table = db.table("crash").unwrap();
        let mut recovered = BTreeMap::new();
        for t in 0..THREADS {
            for sk in 0..KEYS {
                let k = (t, sk);
                let got = table
                    .get_item(
                        item! { "pk" => format!("t{t}"), "sk" => sk },
                        GetOptions::default(),
                    )
                    .unwrap()
                    .item;
                let want = acked.get(&k).cloned().flatten();
                let in_flight = pending
                    .get(&t)
                    .filter(|op| op.key() == k)
                    .map(|op| op.apply(want.as_ref()));
                assert!(
                    got == want || in_flight.as_ref() == Some(&got),
                    "round {round}, key {k:?}: recovered {got:?}, acknowledged {want:?}, in flight {in_flight:?}"
                );
                if let Some(g) = got {
                    recovered.insert(k, g);
                }
            }
            // Each LSI holds exactly the recovered base items' entries.
            let pk = format!("t{t}");
            let base: Vec<&Item> = recovered
                .range((t, i64::MIN)..=(t, i64::MAX))
                .map(|(_, i)| i)
                .collect();
            for (index, attr) in [("by_lsk", "lsk"), ("by_v", "v")] {
                let entries = table
                    .query(
                        "pk = :p",
                        QueryOptions::default()
                            .index(index)
                            .value(":p", pk.as_str())
                            .select(Select::AllAttributes),
                    )
                    .unwrap();
                assert!(entries.last_evaluated_key.is_none());
                let mut want: Vec<Item> = base
                    .iter()
                    .filter(|i| i.contains_key(attr))
                    .map(|i| (*i).clone())
                    .collect();
                want.sort_by(|a, b| {
                    let k = |i: &Item| {
                        (
                            *i.get(attr).unwrap().as_n().unwrap(),
                            *i.get("sk").unwrap().as_n().unwrap(),
                        )
                    };
                    k(a).cmp(&k(b))
                });
                assert_eq!(entries.items, want, "round {round}: index {index} of {pk}");
            }
        }
        let lines_acked = lines.iter().filter(|l| l.starts_with("A ")).count();
        assert!(lines_acked >= target);
        state = recovered;
        db.close().unwrap();
    }
    eprintln!("db_crash {dur}: recovery over 10 kills: {tally:?}");
}
