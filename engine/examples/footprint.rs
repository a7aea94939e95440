//! Threads, memory and disk of a `Db` as tables are added and filled: the figures
//! behind `docs/embedding.md`'s footprint table (Linux only: reads `/proc/self`).
//!
//! ```sh
//! cargo run --release -p strata-engine --example footprint [TABLES] [ITEMS_PER_TABLE] [GSI]
//! ```
//!
//! Defaults: 10 tables of 4 partitions, 20,000 items of ~200 bytes each, no GSI
//! (`gsi` as the third argument adds one GSI of 4 partitions per table). Tables are
//! `Buffered` so that filling them does not wait for an fsync per item.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use strata_engine::{Db, DbOptions, GsiSpec, TableDurability, TableSpec, WriteRequest};
use strata_item::{KeySchema, KeyType, item};

/// Threads of this process, by name with digits removed (`strata-bg-3` -> `strata-bg-`).
fn threads() -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for t in dir.flatten() {
            let name = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
            let name: String = name
                .trim()
                .chars()
                .filter(|c| !c.is_ascii_digit())
                .collect();
            *out.entry(name).or_default() += 1;
        }
    }
    out
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn disk_bytes(p: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(p) else {
        return 0;
    };
    if meta.is_dir() {
        std::fs::read_dir(p)
            .map(|d| d.flatten().map(|e| disk_bytes(&e.path())).sum())
            .unwrap_or(0)
    } else {
        meta.len()
    }
}

fn report(what: &str, dir: &Path) {
    let t = threads();
    let total: usize = t.values().sum();
    println!(
        "{what:<34} threads {total:>3} {t:?}  RSS {:>7.1} MiB  disk {:>7.1} MiB",
        rss_mib(),
        disk_bytes(dir) as f64 / (1 << 20) as f64
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let tables: usize = args.get(1).map_or(Ok(10), |a| a.parse())?;
    let items: usize = args.get(2).map_or(Ok(20_000), |a| a.parse())?;
    let gsi = args.get(3).is_some_and(|a| a == "gsi");
    let dir = std::env::temp_dir().join(format!("strata-footprint-{}", std::process::id()));
    println!(
        "{} cores; {tables} tables x {items} items, gsi: {gsi}",
        std::thread::available_parallelism()?
    );
    report("before open", &dir);
    let db = Db::open(&dir, DbOptions::default())?;
    report("open, no table", &dir);
    let names: Vec<String> = (0..tables).map(|i| format!("table{i:03}")).collect();
    for (i, name) in names.iter().enumerate() {
        let mut spec = TableSpec::new(name.as_str(), KeySchema::simple("id", KeyType::N))
            .durability(TableDurability::Buffered);
        if gsi {
            spec = spec.gsi(GsiSpec::new("by_g", KeySchema::simple("g", KeyType::N)));
        }
        db.create_table(spec)?;
        if i == 0 {
            report("1 empty table", &dir);
        }
    }
    report(&format!("{tables} empty tables"), &dir);
    let pad = "x".repeat(160);
    for name in &names {
        for chunk in (0..items).collect::<Vec<_>>().chunks(25) {
            let reqs: Vec<WriteRequest> = chunk
                .iter()
                .map(|&i| {
                    WriteRequest::Put(item! { "id" => i, "g" => i % 100, "pad" => pad.clone() })
                })
                .collect();
            db.batch_write_item([(name.as_str(), reqs)])?;
        }
    }
    if gsi {
        for name in &names {
            db.wait_for_indexes(name, Duration::from_secs(300))?;
        }
    }
    report(&format!("{tables} tables filled"), &dir);
    for name in &names {
        db.table(name)?.flush()?;
    }
    report("after flush", &dir);
    db.close()?;
    drop(db);
    report("closed and dropped", &dir);
    let db = Db::open(&dir, DbOptions::default())?;
    report("reopened", &dir);
    db.close()?;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
