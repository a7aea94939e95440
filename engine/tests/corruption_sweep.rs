//! Corruption sweep over a closed database (issue 10).
//!
//! One database is built on `FaultFs` with data in every kind of file: a
//! `Sync` table with a sort key, an LSI and three partitions, whose items were
//! flushed into SSTables (several levels after compaction), overwritten,
//! deleted and updated, with the newest writes only in the WAL; a second,
//! `Buffered` table; the catalog, every partition's manifest and `CURRENT`.
//! It is closed cleanly.
//!
//! Then, for every byte of every small file and for hundreds of offsets of
//! each large one, a copy of that closed database is damaged (one bit flipped,
//! or the file truncated), opened and read in full (scan, a get of every
//! expected key, a query of the LSI). Each trial must either read back exactly
//! what was written or report an error (from `open`, from a read, or as
//! damage named in the recovery report). Silently different data — a lost
//! item, an old version, a resurrected delete, a phantom — fails the test, as
//! does a panic. One class is undetectable by design and counted apart: a
//! clean cut of a partition's newest WAL segment at a record boundary, which
//! leaves a valid, shorter log (`docs/recovery.md`).
//!
//! `STRATA_SWEEP_OFFSETS=N` sets how many offsets of each large file are tried
//! (default 150); `STRATA_SWEEP_SMALL=N` the size up to which every byte of a
//! file is tried (default 2048).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use strata_engine::{
    Db, DbError, DbOptions, DeleteOptions, GetOptions, KeyConditionInput, LsiSpec, PutOptions,
    QueryOptions, ScanOptions, TableDurability, TableSpec, UpdateOptions,
};
use strata_fs::{FaultFs, FileSystem};
use strata_item::{AttributeValue, Item, KeySchema, KeyType, item};

const DB: &str = "/db";

type Model = BTreeMap<(String, i64), Item>;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn options(fs: &FaultFs) -> DbOptions {
    let mut o = DbOptions::small(Arc::new(fs.clone()));
    o.tree.memtable_size = 8 << 10;
    o.background_threads = 1;
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

fn side_spec() -> TableSpec {
    TableSpec::new("side", KeySchema::simple("id", KeyType::N))
        .partitions(1)
        .durability(TableDurability::Buffered)
}

fn num(v: &AttributeValue) -> i64 {
    match v {
        AttributeValue::N(n) => n.to_string().parse().unwrap(),
        other => panic!("not a number: {other:?}"),
    }
}

fn key_of(it: &Item) -> (String, i64) {
    (
        it.get("pk").and_then(|v| v.as_s()).unwrap().to_string(),
        num(it.get("sk").unwrap()),
    )
}

/// Builds the database and returns two copies of its files — as a power loss would
/// have left them just before the close (the newest writes only in the WAL), and
/// after a clean close — and what each table holds.
fn build() -> (FaultFs, FaultFs, Model, BTreeMap<i64, Item>) {
    let fs = FaultFs::new();
    let db = Db::open(DB, options(&fs)).unwrap();
    db.create_table(main_spec()).unwrap();
    db.create_table(side_spec()).unwrap();
    let t = db.table("main").unwrap();
    let side = db.table("side").unwrap();
    let mut model = Model::new();
    let mut side_model = BTreeMap::new();
    let mut rng = rand::rngs::StdRng::seed_from_u64(10);
    let put = |model: &mut Model, i: usize, round: usize| {
        let pk = format!("p{}", i % 7);
        let sk = (i / 7) as i64;
        let mut it = item! { "pk" => pk, "sk" => sk, "v" => (round * 1000 + i) as i64,
        "pad" => "z".repeat(20 + (i * 13) % 90) };
        if !i.is_multiple_of(3) {
            it.insert("x", ((i * 5) % 17) as i64);
        }
        t.put_item(it.clone(), PutOptions::default()).unwrap();
        model.insert(key_of(&it), it);
    };
    // Round 0: enough to flush several times and compact.
    for i in 0..600 {
        put(&mut model, i, 0);
    }
    t.flush().unwrap();
    // Round 1: overwrite a third, delete some, update some; flushed again.
    for i in (0..600).step_by(3) {
        put(&mut model, i, 1);
    }
    for i in (1..600).step_by(11) {
        let k = (format!("p{}", i % 7), (i / 7) as i64);
        t.delete_item(
            item! { "pk" => k.0.clone(), "sk" => k.1 },
            DeleteOptions::default(),
        )
        .unwrap();
        model.remove(&k);
    }
    t.flush().unwrap();
    for id in 0..40 {
        let it = item! { "id" => id, "w" => "x".repeat(30) };
        side.put_item(it.clone(), PutOptions::default()).unwrap();
        side_model.insert(id, it);
    }
    side.flush().unwrap();
    // Round 2: only in the WAL (never flushed): puts, updates, deletes.
    for _ in 0..120 {
        let i = rng.random_range(0..700);
        match rng.random_range(0..4) {
            0 | 1 => put(&mut model, i, 2),
            2 => {
                let k = (format!("p{}", i % 7), (i / 7) as i64);
                let opts = UpdateOptions::default()
                    .update("SET v = if_not_exists(v, :zero) + :one")
                    .value(":zero", 0)
                    .value(":one", 1);
                let out = t
                    .update_item(
                        item! { "pk" => k.0.clone(), "sk" => k.1 },
                        opts.return_values(strata_engine::ReturnValues::AllNew),
                    )
                    .unwrap();
                model.insert(k, out.attributes.unwrap());
            }
            _ => {
                let k = (format!("p{}", i % 7), (i / 7) as i64);
                t.delete_item(
                    item! { "pk" => k.0.clone(), "sk" => k.1 },
                    DeleteOptions::default(),
                )
                .unwrap();
                model.remove(&k);
            }
        }
    }
    for id in 40..50 {
        let it = item! { "id" => id, "w" => "late" };
        side.put_item(it.clone(), PutOptions::default()).unwrap();
        side_model.insert(id, it);
    }
    // The side table is `Buffered`: make its writes durable before the snapshot.
    side.flush().unwrap();
    let crashed = fs.recovered();
    db.close().unwrap();
    (crashed, fs.recovered(), model, side_model)
}

/// What one trial saw.
#[derive(Debug)]
enum Outcome {
    /// Everything read back exactly.
    Exact,
    /// An error was reported (where).
    Reported(&'static str),
    /// Different data without an error: the failure this test exists for.
    Silent(String),
}

fn scan_all(db: &Db, table: &str) -> Result<Vec<Item>, DbError> {
    let t = db.table(table)?;
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = t.scan(
            ScanOptions::default()
                .start_after(start.take())
                .consistent_read(true),
        )?;
        out.extend(page.items);
        match page.last_evaluated_key {
            Some(k) => start = Some(k),
            None => return Ok(out),
        }
    }
}

fn read_back(db: &Db, model: &Model, side_model: &BTreeMap<i64, Item>) -> Result<Outcome, DbError> {
    let mut tables = db.list_tables()?;
    tables.sort();
    if tables != ["main", "side"] {
        return Ok(Outcome::Silent(format!("tables {tables:?}")));
    }
    let got: Model = scan_all(db, "main")?
        .into_iter()
        .map(|it| (key_of(&it), it))
        .collect();
    if &got != model {
        let missing = model.keys().filter(|k| !got.contains_key(*k)).count();
        let extra = got.keys().filter(|k| !model.contains_key(*k)).count();
        let changed = model
            .iter()
            .filter(|(k, v)| got.get(*k).is_some_and(|g| g != *v))
            .count();
        return Ok(Outcome::Silent(format!(
            "main scan: {missing} missing, {extra} extra, {changed} changed"
        )));
    }
    let t = db.table("main")?;
    for (k, want) in model {
        let out = t.get_item(
            item! { "pk" => k.0.clone(), "sk" => k.1 },
            GetOptions::default().consistent_read(true),
        )?;
        if out.item.as_ref() != Some(want) {
            return Ok(Outcome::Silent(format!("get {k:?}: {:?}", out.item)));
        }
    }
    for p in 0..7 {
        let pk = format!("p{p}");
        let got: Vec<(i64, i64)> = t
            .query(
                KeyConditionInput::partition(pk.as_str()),
                QueryOptions::default().index("by_x").limit(10_000),
            )?
            .items
            .iter()
            .map(|it| (num(it.get("x").unwrap()), num(it.get("sk").unwrap())))
            .collect();
        let mut want: Vec<(i64, i64)> = model
            .iter()
            .filter(|((k, _), it)| *k == pk && it.contains_key("x"))
            .map(|((_, sk), it)| (num(it.get("x").unwrap()), *sk))
            .collect();
        want.sort();
        if got != want {
            return Ok(Outcome::Silent(format!("LSI of {pk} differs")));
        }
    }
    let side: BTreeMap<i64, Item> = scan_all(db, "side")?
        .into_iter()
        .map(|it| (num(it.get("id").unwrap()), it))
        .collect();
    if &side != side_model {
        return Ok(Outcome::Silent(format!(
            "side table: {} items, want {}",
            side.len(),
            side_model.len()
        )));
    }
    Ok(Outcome::Exact)
}

fn trial(fs: &FaultFs, model: &Model, side_model: &BTreeMap<i64, Item>) -> Outcome {
    let db = match Db::open(DB, options(fs)) {
        Ok(db) => db,
        Err(_) => return Outcome::Reported("open"),
    };
    let outcome = match read_back(&db, model, side_model) {
        Ok(o) => o,
        Err(_) => Outcome::Reported("read"),
    };
    // Damage recovery dropped is reported in the recovery report, not silent.
    let outcome = match outcome {
        Outcome::Silent(s) if !db.recovery_report().is_clean() => {
            let _ = s;
            Outcome::Reported("recovery report")
        }
        o => o,
    };
    let _ = db.close();
    outcome
}

#[derive(Debug, Default)]
struct Tally {
    trials: usize,
    /// Clean cuts of the newest WAL segment at a record boundary that lost
    /// data without a trace (undetectable by design).
    undetectable: usize,
    exact: usize,
    reported: BTreeMap<&'static str, usize>,
    silent: Vec<String>,
}

impl Tally {
    fn add(&mut self, what: String, o: Outcome) {
        self.trials += 1;
        match o {
            Outcome::Exact => self.exact += 1,
            Outcome::Reported(w) => *self.reported.entry(w).or_default() += 1,
            Outcome::Silent(s) => self.silent.push(format!("{what}: {s}")),
        }
    }
}

/// The offsets of a file to damage: all of a small file; otherwise its first
/// and last 96 bytes plus `n` spread at random over the rest.
fn offsets(len: u64, small: u64, n: usize, rng: &mut impl Rng) -> BTreeSet<u64> {
    if len <= small {
        return (0..len).collect();
    }
    let mut s: BTreeSet<u64> = (0..96).chain(len - 96..len).collect();
    while s.len() < 192 + n {
        s.insert(rng.random_range(0..len));
    }
    s
}

/// Whether `p` is the highest-numbered WAL segment of its directory.
fn is_newest_segment(fs: &FaultFs, p: &Path) -> bool {
    let dir = p.parent().unwrap();
    let name = p.file_name().unwrap().to_string_lossy().to_string();
    let newest = fs
        .list(dir)
        .unwrap()
        .into_iter()
        .filter_map(|n| strata_wal::segment_number(&n).map(|num| (num, n)))
        .max();
    newest.is_some_and(|(_, n)| n == name)
}

/// Whether cutting a segment's `bytes` to `cut` leaves a segment with an
/// intact header and only whole records (or block padding) after it.
fn clean_cut(bytes: &[u8], cut: u64) -> bool {
    let scan = strata_wal::scan_segment_bytes(&bytes[..cut as usize]);
    scan.first_lsn.is_some() && scan.damage.is_empty()
}

fn file_len(fs: &FaultFs, p: &Path) -> u64 {
    fs.file_size(p).unwrap()
}

fn kind_of(p: &Path) -> &'static str {
    let name = p.file_name().unwrap().to_string_lossy().to_string();
    if name.ends_with(".wal") {
        "wal"
    } else if name.ends_with(".sst") {
        "sst"
    } else if name.starts_with("MANIFEST") {
        "manifest"
    } else if name == "CURRENT" {
        "current"
    } else if name == "CATALOG" {
        "catalog"
    } else {
        "other"
    }
}

#[test]
fn every_damage_is_read_back_exactly_or_reported() {
    let (crashed, closed, model, side_model) = build();
    let mut total = 0;
    let mut silent = Vec::new();
    for (state, base) in [("power loss", &crashed), ("clean close", &closed)] {
        let (t, s) = sweep(state, base, &model, &side_model);
        total += t;
        silent.extend(s);
    }
    assert!(
        silent.is_empty(),
        "{} of {total} trials returned different data without an error:\n{}",
        silent.len(),
        silent
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Damages copies of `base` every way and returns the number of trials and the
/// silent ones.
fn sweep(
    state: &str,
    base: &FaultFs,
    model: &Model,
    side_model: &BTreeMap<i64, Item>,
) -> (usize, Vec<String>) {
    let small = env_usize("STRATA_SWEEP_SMALL", 2048) as u64;
    let n = env_usize("STRATA_SWEEP_OFFSETS", 150);
    let files: Vec<PathBuf> = base
        .all_files()
        .into_iter()
        .filter(|p| kind_of(p) != "other" || !p.ends_with("LOCK"))
        .collect();
    let kinds: BTreeSet<&str> = files.iter().map(|p| kind_of(p)).collect();
    for k in ["sst", "manifest", "current", "catalog"] {
        assert!(kinds.contains(k), "{state}: no {k} file in {files:?}");
    }
    if state == "power loss" {
        assert!(
            kinds.contains("wal"),
            "{state}: no WAL segment in {files:?}"
        );
    }
    // The undamaged copy reads back exactly.
    let clean = trial(&base.recovered(), model, side_model);
    assert!(
        matches!(clean, Outcome::Exact),
        "{state}: undamaged copy: {clean:?}"
    );

    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    let mut per_kind: BTreeMap<&str, Tally> = BTreeMap::new();
    for path in &files {
        if path.ends_with("LOCK") {
            continue;
        }
        let len = file_len(base, path);
        let kind = kind_of(path);
        let tally = per_kind.entry(kind).or_default();
        for off in offsets(len, small, n, &mut rng) {
            let fs = base.recovered();
            let mask = 1u8 << rng.random_range(0..8);
            fs.flip_byte(path, off, mask).unwrap();
            let o = trial(&fs, model, side_model);
            tally.add(
                format!("{state}: {} flip {off} ^{mask:#04x}", path.display()),
                o,
            );
        }
        // Truncations: every length of a small file, a sample of a large one.
        let cuts: BTreeSet<u64> = if len <= small {
            (0..len).collect()
        } else {
            offsets(len, small, n / 3, &mut rng)
        };
        let newest_wal = kind == "wal" && is_newest_segment(base, path);
        let bytes = base.read_all(path).unwrap();
        for cut in cuts {
            let fs = base.recovered();
            fs.set_len_raw(path, cut).unwrap();
            let o = match trial(&fs, model, side_model) {
                // A clean cut of the newest WAL segment at a record boundary
                // leaves a valid, shorter log: nothing in the files can tell
                // it from a log that was never longer (docs/recovery.md, "What
                // cannot be detected"). Counted, not failed; any other silent
                // outcome is a failure.
                Outcome::Silent(_) if newest_wal && clean_cut(&bytes, cut) => {
                    tally.undetectable += 1;
                    continue;
                }
                o => o,
            };
            tally.add(format!("{state}: {} truncated to {cut}", path.display()), o);
        }
    }
    let mut total = 0;
    let mut silent = Vec::new();
    for (kind, t) in &per_kind {
        eprintln!(
            "{state:>11} {kind:>8}: {:>6} trials, {:>6} exact, reported {:?}, {} silent, \
             {} undetectable clean cuts",
            t.trials + t.undetectable,
            t.exact,
            t.reported,
            t.silent.len(),
            t.undetectable
        );
        total += t.trials + t.undetectable;
        silent.extend(t.silent.iter().cloned());
    }
    eprintln!("{state}: {total} trials over {} files", files.len());
    (total, silent)
}
