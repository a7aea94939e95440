//! Global secondary index benchmark (issue 11, Performance): GSI lag at a steady write
//! rate, base `put_item` throughput with 0, 1 and 5 GSIs, and the backfill rate of a GSI
//! added to a table that holds data.
//!
//! ```sh
//! cargo run --release -p strata-engine --example gsi_bench -- [options]
//! ```
//!
//! Options (defaults in brackets; the default run takes about two and a half minutes):
//!
//! - `--workloads LIST` [`lag,tput,backfill`]: which workloads run (comma-separated).
//! - `--dir DIR` [`strata-gsi-bench`]: where the databases go; emptied first and
//!   removed at the end. Put it on a real disk (not tmpfs) to measure `Sync` honestly.
//! - `--rate N` [5000]: target base writes per second of the lag workload (paced).
//! - `--lag-secs S` [10]: length of each lag run (`Buffered`, then `Sync`).
//! - `--sample N` [25]: every Nth write of the lag workload is probed.
//! - `--writers N` [4]: writer threads of the lag workload (sharing the target rate; a
//!   `Sync` table needs several to reach 5k writes/s through group commit).
//! - `--buffered-sync-ms MS` [100, the default]: the WAL's background sync interval of
//!   `Buffered` tables. The maintainer reads only durable base records, so this bounds
//!   how soon a `Buffered` write can reach an index.
//! - `--tput-secs S` [3]: length of each throughput run.
//! - `--item-size BYTES` [1024]: DynamoDB size of every item.
//! - `--projection all|keys` [all]: projection of every GSI.
//! - `--backfill-items N` [100000]: items in the table of the backfill workload.
//! - `--small-trees`: the backfill workload's database uses `DbOptions::small` (16 KB
//!   memtables and files, 2 background threads: what the engine's tests use), so the
//!   index trees flush and compact all the time.
//! - `--json`: also print the results as one JSON object on the last line.
//!
//! What is measured:
//!
//! 1. **Lag**: a table with one GSI; writer threads put new items at the target rate
//!    (each thread follows its own schedule and catches up after a stall, so bursts
//!    follow stalls). Every Nth write, once `put_item` has returned, is handed to a
//!    probe thread, which queries the GSI for that item's unique index key over and
//!    over (every pending sample in each round, about every 100 µs) until the entry is
//!    visible; the delay from the acknowledgement to the first query that sees it is
//!    recorded. Reported: p50, p99, max, the number of samples, and the achieved write
//!    rate (which is below the target when the table cannot keep up).
//! 2. **Throughput**: for `Buffered` and `Sync` tables, 0, 1 and 5 GSIs, and 1 and 4
//!    writer threads, a fresh database is written flat out for `--tput-secs` with new
//!    items. Reported: base `put_item` ops/s during that window; the time the GSIs then
//!    need to catch up (`wait_for_indexes`: the writes were acknowledged without them);
//!    the ops/s including that catch-up; the entries per GSI (`describe_table`, exact);
//!    and the write amplification: bytes the process wrote (`wchar` of
//!    `/proc/self/io`: WAL, flushes, compactions, index trees) from the start of the run
//!    through the catch-up and `close`, divided by the items' bytes. Compaction debt
//!    left at `close` is not counted.
//! 3. **Backfill**: a fresh `Buffered` table of 4 partitions is loaded with
//!    `--backfill-items` items (`batch_write_item`, 25 a call), then
//!    `Db::update_table` adds a GSI of 4 partitions on `a1` (997 distinct values), with
//!    the `ALL` and the `KEYS_ONLY` projection, each without and with a concurrent
//!    writer: one thread that, flat out for the whole backfill, overwrites random
//!    existing items with a new `a1` (so it keeps changing the indexed attribute).
//!    Reported: the load rate; the time from `update_table` returning to the index
//!    being `ACTIVE` (`wait_for_indexes` called right after `update_table`: its target
//!    is the snapshot, so it returns when the backfill is done), the backfill rate
//!    (items scanned per second of that time), the writer's writes per second meanwhile,
//!    the catch-up after the writer stops (applying the writes made during the
//!    backfill), and the index entries at the end.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use strata_engine::{
    Db, DbError, DbOptions, GsiSpec, IndexProjection, IndexStatus, PutOptions, QueryOptions, Table,
    TableDurability, TableSpec, TableUpdate, WriteRequest,
};
use strata_item::{Item, KeySchema, KeyType};

const TABLE: &str = "bench";
const MAX_GSIS: usize = 5;
/// How long a probe waits for one entry before counting it as never seen.
const PROBE_GIVE_UP: Duration = Duration::from_secs(30);
/// How long the throughput runs wait for the GSIs to catch up.
const CATCH_UP: Duration = Duration::from_secs(300);

#[derive(Debug, Clone)]
struct Args {
    dir: PathBuf,
    rate: u64,
    lag_secs: f64,
    sample: u64,
    writers: usize,
    buffered_sync_ms: u64,
    tput_secs: f64,
    item_size: usize,
    projection_all: bool,
    workloads: Vec<String>,
    backfill_items: u64,
    small_trees: bool,
    json: bool,
}

const WORKLOADS: [&str; 3] = ["lag", "tput", "backfill"];

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        dir: PathBuf::from("strata-gsi-bench"),
        rate: 5000,
        lag_secs: 10.0,
        sample: 25,
        writers: 4,
        buffered_sync_ms: 100,
        tput_secs: 3.0,
        item_size: 1024,
        projection_all: true,
        workloads: WORKLOADS.iter().map(|w| (*w).to_owned()).collect(),
        backfill_items: 100_000,
        small_trees: false,
        json: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--json" {
            a.json = true;
            continue;
        }
        if flag == "--small-trees" {
            a.small_trees = true;
            continue;
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let num = |v: &str| v.parse::<f64>().map_err(|e| format!("{flag} {v}: {e}"));
        match flag.as_str() {
            "--dir" => a.dir = PathBuf::from(value),
            "--rate" => a.rate = num(&value)? as u64,
            "--lag-secs" => a.lag_secs = num(&value)?,
            "--sample" => a.sample = (num(&value)? as u64).max(1),
            "--writers" => a.writers = (num(&value)? as usize).max(1),
            "--buffered-sync-ms" => a.buffered_sync_ms = num(&value)? as u64,
            "--tput-secs" => a.tput_secs = num(&value)?,
            "--item-size" => a.item_size = num(&value)? as usize,
            "--backfill-items" => a.backfill_items = (num(&value)? as u64).max(1),
            "--workloads" => {
                a.workloads = value.split(',').map(|w| w.trim().to_owned()).collect();
                if let Some(w) = a
                    .workloads
                    .iter()
                    .find(|w| !WORKLOADS.contains(&w.as_str()))
                {
                    return Err(format!(
                        "--workloads: unknown workload {w} (lag, tput, backfill)"
                    ));
                }
            }
            "--projection" => {
                a.projection_all = match value.as_str() {
                    "all" => true,
                    "keys" => false,
                    other => return Err(format!("--projection {other}: all or keys")),
                }
            }
            other => return Err(format!("unknown option {other} (see the example's doc)")),
        }
    }
    if a.rate == 0 {
        return Err("--rate must be positive".into());
    }
    Ok(a)
}

impl Args {
    fn runs(&self, workload: &str) -> bool {
        self.workloads.iter().any(|w| w == workload)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let _ = std::fs::remove_dir_all(&args.dir);
    std::fs::create_dir_all(&args.dir)?;
    let nproc = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let projection = if args.projection_all {
        "ALL"
    } else {
        "KEYS_ONLY"
    };
    println!("# Strata GSI benchmark");
    println!(
        "# machine: {nproc} cores ({cpu}); data in {}",
        args.dir.display()
    );
    println!(
        "# items: {} B (DynamoDB size), new keys, table of 4 partitions; each GSI: 4 partitions, \
         one S key, projection {projection}",
        args.item_size
    );
    println!(
        "# Buffered tables: WAL background sync every {} ms",
        args.buffered_sync_ms
    );
    let lag_results = if args.runs("lag") {
        lag_section(&args)?
    } else {
        Vec::new()
    };
    let tput_results = if args.runs("tput") {
        tput_section(&args)?
    } else {
        Vec::new()
    };
    let backfill_results = if args.runs("backfill") {
        backfill_section(&args)?
    } else {
        Vec::new()
    };
    if args.json {
        println!(
            "{}",
            json(
                &args,
                nproc,
                &cpu,
                projection,
                &lag_results,
                &tput_results,
                &backfill_results
            )
        );
    }
    let _ = std::fs::remove_dir_all(&args.dir);
    Ok(())
}

type LagResults = Vec<(TableDurability, LagResult)>;
type TputResults = Vec<(TableDurability, usize, usize, TputResult)>;

fn lag_section(args: &Args) -> Result<LagResults, DbError> {
    println!();
    println!(
        "## GSI lag: acknowledged put_item -> visible in a GSI query; 1 GSI, target {} writes/s, \
         {} writer threads, {} s per table, every {}th write probed",
        args.rate, args.writers, args.lag_secs, args.sample
    );
    println!(
        "{:<9} {:>12} {:>8} {:>9} {:>9} {:>9} {:>7}",
        "table", "writes/s", "samples", "p50 ms", "p99 ms", "max ms", "unseen"
    );
    let mut lag_results = Vec::new();
    for durability in [TableDurability::Buffered, TableDurability::Sync] {
        let r = lag_run(args, durability)?;
        println!(
            "{:<9} {:>12.0} {:>8} {:>9.2} {:>9.2} {:>9.2} {:>7}",
            name(durability),
            r.achieved_rate,
            r.samples,
            ms(r.p50),
            ms(r.p99),
            ms(r.max),
            r.unseen
        );
        lag_results.push((durability, r));
    }
    Ok(lag_results)
}

fn tput_section(args: &Args) -> Result<TputResults, DbError> {
    println!();
    println!(
        "## put_item throughput: new {} B items, {} s per run, fresh database per run",
        args.item_size, args.tput_secs
    );
    println!(
        "{:<9} {:>4} {:>7} {:>10} {:>9} {:>12} {:>11} {:>10} {:>8}",
        "table",
        "gsis",
        "threads",
        "ops/s",
        "vs 0 GSI",
        "catch-up s",
        "ops/s incl",
        "entries",
        "w-amp"
    );
    let mut tput_results = Vec::new();
    for durability in [TableDurability::Buffered, TableDurability::Sync] {
        for threads in [1usize, 4] {
            let mut baseline = None;
            for gsis in [0usize, 1, MAX_GSIS] {
                let r = throughput_run(args, durability, gsis, threads)?;
                let base: f64 = *baseline.get_or_insert(r.ops_per_sec);
                let entries = if r.entries.is_empty() {
                    "-".to_owned()
                } else {
                    r.entries
                        .iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join("/")
                };
                let entries = if r.entries.iter().all(|&e| e == r.ops) && !r.entries.is_empty() {
                    format!("{} x{}", r.ops, r.entries.len())
                } else {
                    entries
                };
                println!(
                    "{:<9} {:>4} {:>7} {:>10.0} {:>8.0}% {:>12.2} {:>11.0} {:>10} {:>8.1}",
                    name(durability),
                    gsis,
                    threads,
                    r.ops_per_sec,
                    100.0 * r.ops_per_sec / base.max(1e-9),
                    r.catch_up.as_secs_f64(),
                    r.ops_per_sec_incl,
                    entries,
                    r.write_amp
                );
                tput_results.push((durability, gsis, threads, r));
            }
        }
    }
    println!();
    println!(
        "# vs 0 GSI: ops/s relative to the same table and thread count without GSIs. \
         catch-up: wait_for_indexes after the run. entries: per GSI (all items indexed = \
         'ops xN'). w-amp: bytes written by the process / item bytes."
    );
    Ok(tput_results)
}

fn name(d: TableDurability) -> &'static str {
    match d {
        TableDurability::Sync => "Sync",
        _ => "Buffered",
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn options(args: &Args) -> DbOptions {
    let mut o = DbOptions::default();
    o.tree.wal_buffered_sync_interval = Duration::from_millis(args.buffered_sync_ms);
    o
}

fn spec(args: &Args, durability: TableDurability, gsis: usize) -> TableSpec {
    let mut s = TableSpec::new(TABLE, KeySchema::simple("id", KeyType::S))
        .partitions(4)
        .durability(durability);
    for g in 0..gsis {
        let mut gsi = GsiSpec::new(format!("gsi{g}"), KeySchema::simple(attr(g), KeyType::S));
        if !args.projection_all {
            gsi = gsi.projection(IndexProjection::KeysOnly);
        }
        s = s.gsi(gsi);
    }
    s
}

fn attr(g: usize) -> String {
    format!("a{g}")
}

/// An item of `size` bytes with key `id`. Every item has all five index attributes
/// (whether or not the table indexes them), so items are the same across runs;
/// `a0` is unique per item (the lag probe looks an item up by it), the others repeat.
fn make_item(size: usize, id: &str, seq: u64) -> Item {
    let mut item = Item::new();
    item.insert("id", id);
    item.insert(attr(0), format!("u-{id}"));
    for g in 1..MAX_GSIS {
        item.insert(attr(g), format!("v{}", seq % 997));
    }
    let used = item.size() + "data".len();
    item.insert("data", "x".repeat(size.saturating_sub(used)));
    item
}

fn fresh_db(args: &Args, sub: &str) -> Result<(Db, PathBuf), DbError> {
    let dir = args.dir.join(sub);
    let _ = std::fs::remove_dir_all(&dir);
    let db = Db::open(&dir, options(args))?;
    Ok((db, dir))
}

#[derive(Debug, Clone)]
struct LagResult {
    achieved_rate: f64,
    writes: u64,
    samples: usize,
    unseen: usize,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn lag_run(args: &Args, durability: TableDurability) -> Result<LagResult, DbError> {
    let (db, dir) = fresh_db(args, &format!("lag-{}", name(durability)))?;
    db.create_table(spec(args, durability, 1))?;
    let table = db.table(TABLE)?;
    let (tx, rx) = mpsc::channel::<(String, Instant)>();
    let per_thread = args.rate as f64 / args.writers as f64;
    let deadline = Duration::from_secs_f64(args.lag_secs);
    let written = AtomicU64::new(0);
    let start = Instant::now();
    let (delays, unseen, elapsed) = std::thread::scope(|s| {
        let probe = {
            let table = table.clone();
            s.spawn(move || probe(&table, rx))
        };
        let writers: Vec<_> = (0..args.writers)
            .map(|w| {
                let table = table.clone();
                let tx = tx.clone();
                let written = &written;
                s.spawn(move || -> Result<(), DbError> {
                    let mut i: u64 = 0;
                    loop {
                        let due = Duration::from_secs_f64(i as f64 / per_thread);
                        if due >= deadline {
                            return Ok(());
                        }
                        let now = start.elapsed();
                        if due > now {
                            std::thread::sleep(due - now);
                        }
                        let seq = i * args.writers as u64 + w as u64;
                        let id = format!("w{w:02}-{i:010}");
                        table
                            .put_item(make_item(args.item_size, &id, seq), PutOptions::default())?;
                        let acked = Instant::now();
                        written.fetch_add(1, Ordering::Relaxed);
                        if seq.is_multiple_of(args.sample) {
                            let _ = tx.send((format!("u-{id}"), acked));
                        }
                        i += 1;
                    }
                })
            })
            .collect();
        drop(tx);
        let mut first_err = None;
        for h in writers {
            if let Err(e) = h.join().expect("writer thread") {
                first_err.get_or_insert(e);
            }
        }
        let elapsed = start.elapsed();
        let (delays, unseen) = probe.join().expect("probe thread");
        match first_err {
            Some(e) => Err(e),
            None => Ok((delays, unseen, elapsed)),
        }
    })?;
    db.close()?;
    drop(table);
    drop(db);
    let _ = std::fs::remove_dir_all(dir);
    let mut delays = delays;
    delays.sort();
    let writes = written.load(Ordering::Relaxed);
    Ok(LagResult {
        achieved_rate: writes as f64 / elapsed.as_secs_f64().max(1e-9),
        writes,
        samples: delays.len(),
        unseen,
        p50: percentile(&delays, 50.0),
        p99: percentile(&delays, 99.0),
        max: delays.last().copied().unwrap_or_default(),
    })
}

/// Polls the GSI for every pending sample until each is visible; returns the delays
/// and how many were never seen within [`PROBE_GIVE_UP`].
fn probe(table: &Table, rx: mpsc::Receiver<(String, Instant)>) -> (Vec<Duration>, usize) {
    let mut pending: Vec<(String, Instant)> = Vec::new();
    let mut delays = Vec::new();
    let mut unseen = 0;
    let mut open = true;
    loop {
        loop {
            match rx.try_recv() {
                Ok(s) => pending.push(s),
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        if pending.is_empty() {
            if !open {
                return (delays, unseen);
            }
            match rx.recv_timeout(Duration::from_millis(5)) {
                Ok(s) => pending.push(s),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => open = false,
            }
            continue;
        }
        pending.retain(|(key, acked)| {
            let page = table
                .query(
                    "a0 = :k",
                    QueryOptions::default()
                        .index("gsi0")
                        .value(":k", key.as_str()),
                )
                .expect("GSI query");
            let now = Instant::now();
            if page.count > 0 {
                delays.push(now - *acked);
                false
            } else if now - *acked > PROBE_GIVE_UP {
                unseen += 1;
                false
            } else {
                true
            }
        });
        std::thread::sleep(Duration::from_micros(100));
    }
}

#[derive(Debug, Clone)]
struct TputResult {
    ops: u64,
    ops_per_sec: f64,
    catch_up: Duration,
    ops_per_sec_incl: f64,
    entries: Vec<u64>,
    index_bytes: u64,
    write_amp: f64,
}

/// Bytes this process passed to write calls so far (`wchar`), if the OS says.
fn bytes_written() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/io").ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("wchar:"))
        .and_then(|v| v.trim().parse().ok())
}

fn throughput_run(
    args: &Args,
    durability: TableDurability,
    gsis: usize,
    threads: usize,
) -> Result<TputResult, DbError> {
    let (db, dir) = fresh_db(args, &format!("tput-{}-{gsis}-{threads}", name(durability)))?;
    db.create_table(spec(args, durability, gsis))?;
    let table = db.table(TABLE)?;
    let stop = AtomicBool::new(false);
    let window = Duration::from_secs_f64(args.tput_secs);
    let wrote_before = bytes_written();
    let start = Instant::now();
    let counts: Vec<Result<u64, DbError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let table = table.clone();
                let stop = &stop;
                s.spawn(move || -> Result<u64, DbError> {
                    let mut n: u64 = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let id = format!("t{t:02}-{n:010}");
                        let seq = n * threads as u64 + t as u64;
                        table
                            .put_item(make_item(args.item_size, &id, seq), PutOptions::default())?;
                        n += 1;
                    }
                    Ok(n)
                })
            })
            .collect();
        std::thread::sleep(window);
        stop.store(true, Ordering::Relaxed);
        handles
            .into_iter()
            .map(|h| h.join().expect("writer thread"))
            .collect()
    });
    let elapsed = start.elapsed();
    let mut ops = 0;
    for c in counts {
        ops += c?;
    }
    let caught = Instant::now();
    db.wait_for_indexes(TABLE, CATCH_UP)?;
    let catch_up = caught.elapsed();
    let desc = db.describe_table(TABLE)?;
    let entries: Vec<u64> = desc
        .global_secondary_indexes
        .iter()
        .map(|g| g.item_count)
        .collect();
    let index_bytes = desc
        .global_secondary_indexes
        .iter()
        .map(|g| g.size_bytes)
        .sum();
    db.close()?;
    drop(table);
    drop(db);
    let write_amp = match (wrote_before, bytes_written()) {
        (Some(a), Some(b)) => (b - a) as f64 / (ops as f64 * args.item_size as f64).max(1.0),
        _ => f64::NAN,
    };
    remove(&dir);
    Ok(TputResult {
        ops,
        ops_per_sec: ops as f64 / elapsed.as_secs_f64().max(1e-9),
        catch_up,
        ops_per_sec_incl: ops as f64 / (elapsed + catch_up).as_secs_f64().max(1e-9),
        entries,
        index_bytes,
        write_amp,
    })
}

#[derive(Debug, Clone)]
struct BackfillResult {
    projection: &'static str,
    writer: bool,
    items: u64,
    load_rate: f64,
    to_active: Duration,
    items_scanned: u64,
    writer_writes: u64,
    catch_up: Duration,
    entries: u64,
}

impl BackfillResult {
    fn rate(&self) -> f64 {
        self.items_scanned as f64 / self.to_active.as_secs_f64().max(1e-9)
    }

    fn writer_rate(&self) -> f64 {
        self.writer_writes as f64 / self.to_active.as_secs_f64().max(1e-9)
    }
}

fn backfill_section(args: &Args) -> Result<Vec<BackfillResult>, DbError> {
    println!();
    println!(
        "## backfill: update_table adds a GSI (4 partitions, key a1) to a Buffered table of \
         {} items of {} B (4 partitions); fresh database per run; {} trees",
        args.backfill_items,
        args.item_size,
        if args.small_trees {
            "small (DbOptions::small)"
        } else {
            "default"
        }
    );
    println!(
        "{:<10} {:>6} {:>11} {:>11} {:>10} {:>11} {:>12} {:>9}",
        "projection",
        "writer",
        "load it/s",
        "to ACTIVE s",
        "items/s",
        "writes/s",
        "catch-up s",
        "entries"
    );
    let mut out = Vec::new();
    for projection_all in [true, false] {
        for writer in [false, true] {
            let r = backfill_run(args, projection_all, writer)?;
            println!(
                "{:<10} {:>6} {:>11.0} {:>11.2} {:>10.0} {:>11.0} {:>12.2} {:>9}",
                r.projection,
                if r.writer { "yes" } else { "no" },
                r.load_rate,
                r.to_active.as_secs_f64(),
                r.rate(),
                r.writer_rate(),
                r.catch_up.as_secs_f64(),
                r.entries
            );
            out.push(r);
        }
    }
    println!();
    println!(
        "# to ACTIVE: update_table returned -> wait_for_indexes returned (target: the \
         snapshot). items/s: base items scanned by the backfill / that time. writes/s: the \
         concurrent writer's overwrites (new a1) meanwhile. catch-up: wait_for_indexes after \
         the writer stopped."
    );
    Ok(out)
}

fn backfill_run(
    args: &Args,
    projection_all: bool,
    writer: bool,
) -> Result<BackfillResult, DbError> {
    let projection = if projection_all { "ALL" } else { "KEYS_ONLY" };
    let dir = args.dir.join(format!("backfill-{projection}-{writer}"));
    remove(&dir);
    let db = if args.small_trees {
        let mut o = DbOptions::small(strata_fs::default_fs());
        o.tree.wal_buffered_sync_interval = Duration::from_millis(args.buffered_sync_ms);
        Db::open(&dir, o)?
    } else {
        Db::open(&dir, options(args))?
    };
    db.create_table(spec(args, TableDurability::Buffered, 0))?;
    let n = args.backfill_items;
    let loaded = Instant::now();
    let mut next = 0u64;
    while next < n {
        let end = (next + 25).min(n);
        let reqs: Vec<WriteRequest> = (next..end)
            .map(|i| WriteRequest::Put(make_item(args.item_size, &format!("b{i:010}"), i)))
            .collect();
        let out = db.batch_write_item([(TABLE, reqs)])?;
        assert!(out.unprocessed_items.is_empty());
        next = end;
    }
    let load_rate = n as f64 / loaded.elapsed().as_secs_f64().max(1e-9);
    let mut gsi = GsiSpec::new("gsi1", KeySchema::simple(attr(1), KeyType::S));
    if !projection_all {
        gsi = gsi.projection(IndexProjection::KeysOnly);
    }
    let table = db.table(TABLE)?;
    let stop = AtomicBool::new(false);
    let writer_started = AtomicBool::new(!writer);
    let (to_active, writer_writes) = std::thread::scope(|s| -> Result<_, DbError> {
        let handle = writer.then(|| {
            let table = table.clone();
            let (stop, started) = (&stop, &writer_started);
            s.spawn(move || -> Result<u64, DbError> {
                // xorshift: no dependency, a different item each time.
                let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
                let mut writes = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let i = x % n;
                    table.put_item(
                        make_item(args.item_size, &format!("b{i:010}"), x >> 20),
                        PutOptions::default(),
                    )?;
                    writes += 1;
                    started.store(true, Ordering::Relaxed);
                }
                Ok(writes)
            })
        });
        while !writer_started.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(1));
        }
        let result = db
            .update_table(TABLE, TableUpdate::add_gsi(gsi))
            .and_then(|_| {
                let start = Instant::now();
                db.wait_for_indexes(TABLE, CATCH_UP)?;
                Ok(start.elapsed())
            });
        stop.store(true, Ordering::Relaxed);
        let writes = match handle {
            Some(h) => h.join().expect("writer thread")?,
            None => 0,
        };
        Ok((result?, writes))
    })?;
    let caught = Instant::now();
    db.wait_for_indexes(TABLE, CATCH_UP)?;
    let catch_up = caught.elapsed();
    let desc = db.describe_table(TABLE)?;
    let g = &desc.global_secondary_indexes[0];
    assert_eq!(g.status, IndexStatus::Active);
    let items_scanned = g.backfill.map_or(0, |b| b.items_scanned);
    let entries = g.item_count;
    db.close()?;
    drop(table);
    drop(db);
    remove(&dir);
    Ok(BackfillResult {
        projection,
        writer,
        items: n,
        load_rate,
        to_active,
        items_scanned,
        writer_writes,
        catch_up,
        entries,
    })
}

fn remove(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_num(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.3}")
    } else {
        "null".into()
    }
}

fn json(
    args: &Args,
    nproc: usize,
    cpu: &str,
    projection: &str,
    lag: &[(TableDurability, LagResult)],
    tput: &[(TableDurability, usize, usize, TputResult)],
    backfill: &[BackfillResult],
) -> String {
    let lag: Vec<String> = lag
        .iter()
        .map(|(d, r)| {
            format!(
                "{{\"table\":{},\"target_rate\":{},\"achieved_rate\":{},\"writes\":{},\"samples\":{},\"unseen\":{},\"p50_ms\":{},\"p99_ms\":{},\"max_ms\":{}}}",
                json_str(name(*d)),
                args.rate,
                json_num(r.achieved_rate),
                r.writes,
                r.samples,
                r.unseen,
                json_num(ms(r.p50)),
                json_num(ms(r.p99)),
                json_num(ms(r.max))
            )
        })
        .collect();
    let tput: Vec<String> = tput
        .iter()
        .map(|(d, g, t, r)| {
            let entries: Vec<String> = r.entries.iter().map(u64::to_string).collect();
            format!(
                "{{\"table\":{},\"gsis\":{g},\"threads\":{t},\"ops\":{},\"ops_per_sec\":{},\"catch_up_s\":{},\"ops_per_sec_incl_catch_up\":{},\"entries\":[{}],\"index_bytes\":{},\"write_amp\":{}}}",
                json_str(name(*d)),
                r.ops,
                json_num(r.ops_per_sec),
                json_num(r.catch_up.as_secs_f64()),
                json_num(r.ops_per_sec_incl),
                entries.join(","),
                r.index_bytes,
                json_num(r.write_amp)
            )
        })
        .collect();
    let backfill: Vec<String> = backfill
        .iter()
        .map(|r| {
            format!(
                "{{\"projection\":{},\"writer\":{},\"items\":{},\"load_items_per_sec\":{},\"to_active_s\":{},\"items_scanned\":{},\"items_per_sec\":{},\"writer_writes_per_sec\":{},\"catch_up_s\":{},\"entries\":{}}}",
                json_str(r.projection),
                r.writer,
                r.items,
                json_num(r.load_rate),
                json_num(r.to_active.as_secs_f64()),
                r.items_scanned,
                json_num(r.rate()),
                json_num(r.writer_rate()),
                json_num(r.catch_up.as_secs_f64()),
                r.entries
            )
        })
        .collect();
    format!(
        "{{\"nproc\":{nproc},\"cpu\":{},\"item_size\":{},\"projection\":{},\"buffered_sync_ms\":{},\"lag\":[{}],\"throughput\":[{}],\"backfill\":[{}]}}",
        json_str(cpu),
        args.item_size,
        json_str(projection),
        args.buffered_sync_ms,
        lag.join(","),
        tput.join(","),
        backfill.join(",")
    )
}
