//! `strata inspect DIR`: tables (schema, indexes, billing), items, per partition
//! the levels and files with sizes, entry counts and key ranges, WAL segments, GSI
//! status and lag, capacity state. `strata inspect FILE`: see [`crate::inspect_file`].
//!
//! The engine has no read-only open: the database is opened as by any program
//! (recovery runs, a new WAL segment may start, close flushes the memtables), under
//! its lock; a database another process has open is refused with a clear error.

use std::path::{Path, PathBuf};

use clap::Args as ClapArgs;
use serde::Serialize;
use strata_engine::lsm::{SstFileInfo, TreeStats};
use strata_engine::table::TreeFiles;
use strata_engine::{
    CapacityMode, CapacityStats, Db, GsiDescription, IndexProjection, TableDescription,
};
use strata_item::KeySchema;

use crate::error::CliError;
use crate::inspect_file::{self, WalReport, lsn_range, wal_damage_lines};
use crate::output::{Text, full_hex, human_bytes, open_db, print_json, short_hex};

/// `strata inspect`.
#[derive(Debug, ClapArgs)]
pub struct Args {
    /// A database directory, or one SSTable (`*.sst`) or WAL segment (`*.wal`).
    pub path: PathBuf,
    /// Print JSON (for programs) instead of text.
    #[arg(long)]
    pub json: bool,
    /// For an SSTable: also list its first N entries (key in hex, value size).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub entries: usize,
}

/// Runs `strata inspect`.
pub fn run(args: &Args) -> Result<(), CliError> {
    if args.path.is_file() {
        return inspect_file::run(&args.path, args.json, args.entries);
    }
    if !args.path.is_dir() {
        return Err(CliError::bad_file(&args.path, "no such file or directory"));
    }
    let db = open_db(&args.path)?;
    let report = db_report(&db);
    let closed = db.close();
    let report = report?;
    closed?;
    if args.json {
        print_json(&report)
    } else {
        print!("{}", render(&report));
        Ok(())
    }
}

/// The whole database.
#[derive(Debug, Serialize)]
pub struct DbReport {
    path: PathBuf,
    tables: Vec<TableReport>,
}

#[derive(Debug, Serialize)]
struct TableReport {
    name: String,
    table_id: u64,
    created_at_ms: u64,
    partition_key: String,
    sort_key: Option<String>,
    partitions: u32,
    durability: String,
    billing: Billing,
    items: u64,
    item_bytes: u64,
    local_secondary_indexes: Vec<LsiReport>,
    global_secondary_indexes: Vec<GsiReport>,
    capacity: Option<CapacityReport>,
    partition_details: Vec<PartitionReport>,
}

#[derive(Debug, Serialize)]
struct Billing {
    mode: &'static str,
    read_capacity_units: Option<u64>,
    write_capacity_units: Option<u64>,
}

#[derive(Debug, Serialize)]
struct LsiReport {
    name: String,
    sort_key: String,
    projection: String,
    entries: u64,
    bytes: u64,
}

#[derive(Debug, Serialize)]
struct GsiReport {
    name: String,
    partition_key: String,
    sort_key: Option<String>,
    projection: String,
    partitions: u32,
    status: String,
    item_count: u64,
    size_bytes: u64,
    lag_records: u64,
    oldest_unapplied_age_ms: Option<u128>,
    last_error: Option<String>,
    backfill: Option<String>,
    partition_details: Vec<PartitionReport>,
}

#[derive(Debug, Serialize)]
struct CapacityReport {
    read: Budget,
    write: Budget,
}

#[derive(Debug, Serialize)]
struct Budget {
    units_per_second: f64,
    tokens: f64,
    consumed_units: f64,
    throttled_requests: u64,
}

#[derive(Debug, Serialize)]
struct PartitionReport {
    partition: u32,
    directory: PathBuf,
    memtable_bytes: Option<u64>,
    last_seq: Option<u64>,
    files: Vec<FileReport>,
    wal_segments: Vec<WalReport>,
}

#[derive(Debug, Serialize)]
struct FileReport {
    level: usize,
    file: String,
    size: u64,
    entries: u64,
    smallest_key: String,
    largest_key: String,
    smallest_seq: u64,
    largest_seq: u64,
    #[serde(skip)]
    smallest_raw: Vec<u8>,
    #[serde(skip)]
    largest_raw: Vec<u8>,
}

fn key_attr(schema: &KeySchema) -> (String, Option<String>) {
    (
        format!(
            "{}:{}",
            schema.partition_key.name, schema.partition_key.key_type
        ),
        schema
            .sort_key
            .as_ref()
            .map(|s| format!("{}:{}", s.name, s.key_type)),
    )
}

fn projection(p: &IndexProjection) -> String {
    match p {
        IndexProjection::All => "ALL".to_owned(),
        IndexProjection::KeysOnly => "KEYS_ONLY".to_owned(),
        IndexProjection::Include(a) => format!("INCLUDE {}", a.join(",")),
    }
}

fn db_report(db: &Db) -> Result<DbReport, CliError> {
    let mut tables = Vec::new();
    for name in db.list_tables()? {
        let desc = db.describe_table(&name)?;
        tables.push(table_report(db, &desc)?);
    }
    Ok(DbReport {
        path: db.path().to_path_buf(),
        tables,
    })
}

fn table_report(db: &Db, desc: &TableDescription) -> Result<TableReport, CliError> {
    let spec = &desc.spec;
    let table = db.table(&spec.name)?;
    let stats = table.item_stats()?;
    let (partition_key, sort_key) = key_attr(&spec.key_schema);
    let local_secondary_indexes = spec
        .local_secondary_indexes
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let (entries, bytes) = stats
                .local_secondary_indexes
                .get(i)
                .copied()
                .unwrap_or_default();
            LsiReport {
                name: l.name.clone(),
                sort_key: format!("{}:{}", l.sort_key.name, l.sort_key.key_type),
                projection: projection(&l.projection),
                entries,
                bytes,
            }
        })
        .collect();
    let mut global_secondary_indexes = Vec::new();
    for g in &spec.global_secondary_indexes {
        let d = desc
            .global_secondary_indexes
            .iter()
            .find(|d| d.name == g.name);
        let (partition_key, sort_key) = key_attr(&g.key_schema);
        let mut r = gsi_report(g.name.clone(), partition_key, sort_key, g, d);
        r.partition_details = partitions(&table.gsi_partition_files(&g.name)?, &[]);
        global_secondary_indexes.push(r);
    }
    let partition_details = partitions(&table.partition_files()?, &table.partition_stats()?);
    Ok(TableReport {
        name: spec.name.clone(),
        table_id: desc.table_id,
        created_at_ms: desc.created_at_ms,
        partition_key,
        sort_key,
        partitions: spec.partitions,
        durability: format!("{:?}", spec.durability),
        billing: match spec.capacity {
            CapacityMode::Provisioned {
                read_capacity_units,
                write_capacity_units,
            } => Billing {
                mode: "PROVISIONED",
                read_capacity_units: Some(read_capacity_units),
                write_capacity_units: Some(write_capacity_units),
            },
            _ => Billing {
                mode: "PAY_PER_REQUEST",
                read_capacity_units: None,
                write_capacity_units: None,
            },
        },
        items: stats.items,
        item_bytes: stats.bytes,
        local_secondary_indexes,
        global_secondary_indexes,
        capacity: desc.capacity.as_ref().map(capacity_report),
        partition_details,
    })
}

fn gsi_report(
    name: String,
    partition_key: String,
    sort_key: Option<String>,
    g: &strata_engine::GsiSpec,
    d: Option<&GsiDescription>,
) -> GsiReport {
    GsiReport {
        name,
        partition_key,
        sort_key,
        projection: projection(&g.projection),
        partitions: g.partitions,
        status: d.map_or_else(|| "UNKNOWN".to_owned(), |d| format!("{:?}", d.status)),
        item_count: d.map_or(0, |d| d.item_count),
        size_bytes: d.map_or(0, |d| d.size_bytes),
        lag_records: d.map_or(0, |d| d.lag_records),
        oldest_unapplied_age_ms: d.and_then(|d| d.oldest_unapplied_age.map(|a| a.as_millis())),
        last_error: d.and_then(|d| d.last_error.clone()),
        backfill: d.and_then(|d| d.backfill.map(|b| format!("{b:?}"))),
        partition_details: Vec::new(),
    }
}

/// The partitions of one tree family (a table's or a GSI's): files, WAL
/// segments and (when given) memtable statistics.
fn partitions(trees: &[TreeFiles], stats: &[TreeStats]) -> Vec<PartitionReport> {
    (0u32..)
        .zip(trees)
        .map(|(p, (directory, files))| {
            let st = stats.get(p as usize);
            PartitionReport {
                partition: p,
                memtable_bytes: st.map(|s| s.memtable_bytes),
                last_seq: st.map(|s| s.last_seq),
                files: files.iter().map(file_report).collect(),
                wal_segments: wal_segments(&directory.join("wal")),
                directory: directory.clone(),
            }
        })
        .collect()
}

fn capacity_report(c: &CapacityStats) -> CapacityReport {
    let budget = |b: &strata_engine::capacity::BudgetStats| Budget {
        units_per_second: b.units_per_second,
        tokens: b.tokens,
        consumed_units: b.consumed_units,
        throttled_requests: b.throttled_requests,
    };
    CapacityReport {
        read: budget(&c.read),
        write: budget(&c.write),
    }
}

fn file_report(f: &SstFileInfo) -> FileReport {
    FileReport {
        level: f.level,
        file: f.file_name.clone(),
        size: f.size,
        entries: f.entries,
        smallest_key: full_hex(&f.smallest_key),
        largest_key: full_hex(&f.largest_key),
        smallest_seq: f.smallest_seq,
        largest_seq: f.largest_seq,
        smallest_raw: f.smallest_key.clone(),
        largest_raw: f.largest_key.clone(),
    }
}

/// Every `*.wal` segment in `dir`, by number, each scanned (read-only).
fn wal_segments(dir: &Path) -> Vec<WalReport> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<(u64, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name();
            let n = strata_wal::segment_number(name.to_str()?)?;
            Some((n, e.path()))
        })
        .collect();
    names.sort();
    names
        .into_iter()
        .filter_map(|(_, p)| {
            let bytes = std::fs::read(&p).ok()?;
            Some(inspect_file::wal_report(&p, &bytes))
        })
        .collect()
}

fn render(r: &DbReport) -> String {
    let mut out = Text::default();
    out.line(format!(
        "database {} ({} tables)",
        r.path.display(),
        r.tables.len()
    ));
    for t in &r.tables {
        out.line(String::new());
        out.line(format!("table {} (id {})", t.name, t.table_id));
        let key = match &t.sort_key {
            Some(s) => format!("{}, {}", t.partition_key, s),
            None => t.partition_key.clone(),
        };
        out.line(format!(
            "  key {key}; {} partitions; durability {}",
            t.partitions, t.durability
        ));
        match (
            t.billing.read_capacity_units,
            t.billing.write_capacity_units,
        ) {
            (Some(r), Some(w)) => out.line(format!("  billing PROVISIONED: {r} RCU, {w} WCU")),
            _ => out.line("  billing PAY_PER_REQUEST"),
        }
        out.line(format!(
            "  items: {} ({} stored)",
            t.items,
            human_bytes(t.item_bytes)
        ));
        for l in &t.local_secondary_indexes {
            out.line(format!(
                "  LSI {}: sort key {}, projection {}, {} entries ({})",
                l.name,
                l.sort_key,
                l.projection,
                l.entries,
                human_bytes(l.bytes)
            ));
        }
        for g in &t.global_secondary_indexes {
            let key = match &g.sort_key {
                Some(s) => format!("{}, {}", g.partition_key, s),
                None => g.partition_key.clone(),
            };
            out.line(format!(
                "  GSI {}: key {key}, projection {}, {} partitions: {}, {} items ({}), lag {} records{}",
                g.name,
                g.projection,
                g.partitions,
                g.status,
                g.item_count,
                human_bytes(g.size_bytes),
                g.lag_records,
                g.last_error
                    .as_ref()
                    .map(|e| format!(", last error: {e}"))
                    .unwrap_or_default()
            ));
        }
        if let Some(c) = &t.capacity {
            for (what, b) in [("read", &c.read), ("write", &c.write)] {
                if b.units_per_second.is_finite() {
                    out.line(format!(
                        "  capacity {what}: {:.0} units/s, {:.1} tokens left, {:.1} units consumed, {} requests throttled",
                        b.units_per_second, b.tokens, b.consumed_units, b.throttled_requests
                    ));
                } else {
                    out.line(format!(
                        "  capacity {what}: unlimited, {:.1} units consumed, {} requests throttled",
                        b.consumed_units, b.throttled_requests
                    ));
                }
            }
        }
        render_partitions(&mut out, "  partition", &t.partition_details);
        for g in &t.global_secondary_indexes {
            render_partitions(
                &mut out,
                &format!("  GSI {} partition", g.name),
                &g.partition_details,
            );
        }
    }
    out.into_string()
}

/// The partitions of one tree family (a table's, or a GSI's), each headed by
/// `label <n>`.
fn render_partitions(out: &mut Text, label: &str, parts: &[PartitionReport]) {
    for p in parts {
        let memtable = match (p.memtable_bytes, p.last_seq) {
            (Some(m), Some(s)) => format!(": memtable {}, last seq {s}", human_bytes(m)),
            _ => String::new(),
        };
        out.line(format!(
            "{label} {} ({}){memtable}",
            p.partition,
            p.directory.display()
        ));
        for f in &p.files {
            out.line(format!(
                "    L{} {} {} {} entries, keys {} .. {}, seq {}..={}",
                f.level,
                f.file,
                human_bytes(f.size),
                f.entries,
                short_hex(&f.smallest_raw),
                short_hex(&f.largest_raw),
                f.smallest_seq,
                f.largest_seq
            ));
        }
        for w in &p.wal_segments {
            let name = w
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.line(format!(
                "    wal {name} {} {}",
                human_bytes(w.file_size),
                lsn_range(w)
            ));
            for d in wal_damage_lines(w) {
                out.line(format!("      {d}"));
            }
        }
    }
}
