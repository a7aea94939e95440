//! WAL footprint and durable-write figures (issue 13):
//!
//! - `disk`: three `Sync` tables of 4 partitions, each loaded with 10,000 items of
//!   1 KB and flushed; prints table-file bytes against WAL bytes (apparent size and
//!   allocated blocks) while open and after a clean close, then the time to open the
//!   database again (several rounds) and how many WAL records that open replayed.
//! - `fillsync`: the tree's durable writes (`Sync` puts of 100 B values, 16 B keys)
//!   from 1 and 8 threads, with `fsyncs/write`.
//! - `putitem`: put_item of new 1 KB items into a `Sync` table of 4 partitions from
//!   1 and 8 threads, with `fsyncs/write`.
//!
//! `GATHER_US` sets the group-commit leader's longest wait for announced writers
//! (`TreeOptions::wal_group_commit_wait`, microseconds; 0 disables gathering).
//!
//! ```sh
//! cargo run --release -p strata-engine --example wal_bench -- disk     [DIR]
//! cargo run --release -p strata-engine --example wal_bench -- fillsync [DIR] [OPS]
//! cargo run --release -p strata-engine --example wal_bench -- putitem  [DIR] [OPS]
//! ```
//!
//! DIR defaults to `./strata-wal-bench` and is emptied first and removed at the end;
//! put it on a real disk (not tmpfs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use strata_engine::lsm::Durability;
use strata_engine::{Db, DbOptions, PutOptions, TableSpec};
use strata_item::{KeySchema, KeyType, item};

const TABLES: usize = 3;
const ITEMS: usize = 10_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let what = args.first().map_or("disk", String::as_str).to_string();
    let dir = PathBuf::from(args.get(1).map_or("strata-wal-bench", String::as_str));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let r = match what.as_str() {
        "disk" => disk(&dir),
        "fillsync" => {
            let ops: u64 = args.get(2).map_or(Ok(20_000), |s| s.parse())?;
            fillsync(&dir, ops)
        }
        "putitem" => {
            let ops: u64 = args.get(2).map_or(Ok(20_000), |s| s.parse())?;
            putitem(&dir, ops)
        }
        other => Err(format!("unknown workload {other:?} (disk, fillsync or putitem)").into()),
    };
    let _ = std::fs::remove_dir_all(&dir);
    r
}

/// Bytes of files under `dir` matching `pick`: (apparent size, allocated blocks).
fn bytes(dir: &Path, pick: &dyn Fn(&Path) -> bool) -> (u64, u64) {
    let mut total = (0, 0);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return total;
    };
    for e in entries.flatten() {
        let p = e.path();
        let Ok(m) = e.metadata() else { continue };
        if m.is_dir() {
            let (a, b) = bytes(&p, pick);
            total = (total.0 + a, total.1 + b);
        } else if pick(&p) {
            total = (total.0 + m.len(), total.1 + m.blocks() * 512);
        }
    }
    total
}

fn has_ext(ext: &'static str) -> impl Fn(&Path) -> bool {
    move |p: &Path| p.extension().is_some_and(|x| x == ext)
}

fn report(dir: &Path, when: &str) {
    let (sst, sst_alloc) = bytes(dir, &has_ext("sst"));
    let (wal, wal_alloc) = bytes(dir, &|p: &Path| {
        p.parent().is_some_and(|d| d.ends_with("wal")) && !p.ends_with("wal.lock")
    });
    let (all, all_alloc) = bytes(dir, &|_| true);
    println!(
        "{when:>22}: tables {sst:>10} B ({sst_alloc:>10} allocated) | WAL {wal:>10} B ({wal_alloc:>10} allocated) | whole dir {all:>10} B = {:.3}x tables ({all_alloc:>10} allocated = {:.3}x)",
        all as f64 / sst.max(1) as f64,
        all_alloc as f64 / sst_alloc.max(1) as f64,
    );
}

fn disk(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "# {TABLES} tables x 4 partitions, Sync, {ITEMS} items of ~1 KB each, default options"
    );
    let db = Db::open(dir, DbOptions::default())?;
    let start = Instant::now();
    for t in 0..TABLES {
        let name = format!("table{t}");
        db.create_table(TableSpec::new(&name, KeySchema::simple("pk", KeyType::S)).partitions(4))?;
        let table = db.table(&name)?;
        for i in 0..ITEMS {
            table.put_item(
                item! { "pk" => format!("k{i:06}"), "v" => "x".repeat(1000) },
                PutOptions::default(),
            )?;
        }
    }
    println!("loaded in {:?}", start.elapsed());
    report(dir, "loaded, before flush");
    for t in 0..TABLES {
        db.table(&format!("table{t}"))?.flush()?;
    }
    report(dir, "flushed, open");
    db.close()?;
    drop(db);
    report(dir, "after clean close");
    let mut times = Vec::new();
    for _ in 0..7 {
        let start = Instant::now();
        let db = Db::open(dir, DbOptions::default())?;
        times.push(start.elapsed());
        assert!(db.recovery_report().is_clean());
        db.close()?;
    }
    times.sort();
    println!(
        "open after clean close ({TABLES} tables): median {:?}, min {:?}, max {:?} (7 rounds)",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1]
    );
    Ok(())
}

/// An environment variable's value, or `default`.
fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn fillsync(dir: &Path, ops: u64) -> Result<(), Box<dyn std::error::Error>> {
    // WAL_PREALLOC (bytes, 0 = off), WAL_RECYCLE (spares, 0 = off) and
    // MEMTABLE (bytes: small memtables rotate, retire and reuse segments
    // during the run) select the variant measured.
    let mut tree = strata_engine::lsm::TreeOptions::default();
    tree.wal_preallocate = env_or("WAL_PREALLOC", tree.wal_preallocate);
    tree.wal_recycle_segments = env_or("WAL_RECYCLE", tree.wal_recycle_segments as u64) as usize;
    tree.memtable_size = env_or("MEMTABLE", 512 << 10) as usize;
    tree.wal_group_commit_wait = gather_wait(tree.wal_group_commit_wait);
    println!(
        "# tree fillsync: {ops} Sync puts, 16 B keys, 100 B values; memtable {} B, WAL preallocate {} B, recycle {}, gather {:?}",
        tree.memtable_size,
        tree.wal_preallocate,
        tree.wal_recycle_segments,
        tree.wal_group_commit_wait
    );
    for threads in [1u64, 8, 1, 8] {
        let d = dir.join(format!("fillsync{threads}"));
        let _ = std::fs::remove_dir_all(&d);
        sync_puts(&d, &tree, threads, ops)?;
        let _ = std::fs::remove_dir_all(&d);
    }
    Ok(())
}

/// `ops` `Sync` puts of random keys (16 B, of a million) with 100 B values from
/// `threads` threads into a fresh tree in `dir`; prints writes/s and the WAL's
/// fsyncs per write.
fn sync_puts(
    dir: &Path,
    opts: &strata_engine::lsm::TreeOptions,
    threads: u64,
    ops: u64,
) -> Result<(), Box<dyn std::error::Error>> {
    let tree = strata_engine::lsm::Tree::open(dir, opts.clone())?;
    let per_thread = ops / threads;
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let tree = &tree;
            s.spawn(move || {
                let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ (t + 1);
                for _ in 0..per_thread {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let key = format!("{:016}", x % 1_000_000);
                    tree.put(key.as_bytes(), &[b'v'; 100], Durability::Sync)
                        .unwrap();
                }
            });
        }
    });
    let secs = start.elapsed().as_secs_f64();
    let done = per_thread * threads;
    let s = tree.stats();
    println!(
        "fillsync threads {threads}: {done} writes in {secs:.2} s = {:.0} writes/s; WAL fsyncs/write {:.3}, segments {} ({} recycled)",
        done as f64 / secs,
        s.wal_syncs as f64 / done.max(1) as f64,
        s.wal_segments_created,
        s.wal_segments_recycled
    );
    tree.close()?;
    Ok(())
}

/// `GATHER_US`, or `default`.
fn gather_wait(default: std::time::Duration) -> std::time::Duration {
    std::time::Duration::from_micros(env_or("GATHER_US", default.as_micros() as u64))
}

fn putitem(dir: &Path, ops: u64) -> Result<(), Box<dyn std::error::Error>> {
    let mut opts = DbOptions::default();
    opts.tree.wal_group_commit_wait = gather_wait(opts.tree.wal_group_commit_wait);
    println!(
        "# put_item: {ops} new items of ~1 KB, Sync table of 4 partitions; gather {:?}",
        opts.tree.wal_group_commit_wait
    );
    for threads in [1u64, 8, 1, 8] {
        let d = dir.join(format!("putitem{threads}"));
        let _ = std::fs::remove_dir_all(&d);
        let db = Db::open(&d, opts.clone())?;
        db.create_table(
            TableSpec::new(
                "bench",
                KeySchema::composite("pk", KeyType::S, "sk", KeyType::N),
            )
            .partitions(4),
        )?;
        let table = db.table("bench")?;
        let syncs = || -> u64 {
            let stats = table.partition_stats().unwrap();
            stats.iter().map(|s| s.wal_syncs).sum()
        };
        let before = syncs();
        let start = Instant::now();
        std::thread::scope(|s| {
            for t in 0..threads {
                let table = &table;
                s.spawn(move || {
                    for i in 0..ops / threads {
                        let n = t * (ops / threads) + i;
                        table
                            .put_item(
                                item! { "pk" => format!("w{:08}", n / 100), "sk" => (n % 100) as i64, "data" => "x".repeat(990) },
                                PutOptions::default(),
                            )
                            .unwrap();
                    }
                });
            }
        });
        let secs = start.elapsed().as_secs_f64();
        let after = syncs();
        println!(
            "putitem threads {threads}: {:.0} writes/s; WAL fsyncs/write {:.3}",
            ops as f64 / secs,
            (after - before) as f64 / ops as f64
        );
        db.close()?;
        drop(db);
        let _ = std::fs::remove_dir_all(&d);
    }
    Ok(())
}
