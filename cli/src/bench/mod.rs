//! `strata bench`: a db_bench-like driver for Strata's LSM tree and item API.
//!
//! - [`options`]: the command line and its validation into a [`options::Plan`].
//! - [`keys`]: key formats, uniform and Zipfian key choice, YCSB mixes (pure).
//! - [`tree`]: the tree workloads (`fillseq` ... `fillsync`).
//! - [`items`]: the item workloads (`putitem` ... `mixed`).
//! - [`measure`]: timing on several threads into an HDR histogram, amplification,
//!   bytes on disk, peak memory.
//! - [`report`]: the figures of a workload as a table or JSON.
//!
//! Every workload runs `--num` operations (split over `--threads`) and reports
//! ops/s, MB/s, latency percentiles, write and space amplification, bytes on disk
//! and peak memory. `docs/cli.md` describes each workload.

pub mod items;
pub mod keys;
pub mod measure;
pub mod options;
pub mod progress;
pub mod report;
pub mod tree;

use std::path::{Path, PathBuf};

use serde::Serialize;
use strata_engine::{DbError, DbOptions, TreeError, TreeOptions};
use strata_sstable::Compression;

use options::{BenchArgs, CompressionArg, DurabilityArg, Plan};
use report::WorkloadReport;

/// Why `strata bench` failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// A bad option.
    #[error("{0}")]
    Options(String),
    /// The tree failed.
    #[error("tree: {0}")]
    Tree(#[from] TreeError),
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] DbError),
    /// A file or directory could not be used.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Something that should not happen (a panicked thread, a histogram error).
    #[error("internal error: {0}")]
    Internal(String),
}

impl BenchError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> BenchError {
        BenchError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// What a run prints with `--json`.
#[derive(Debug, Serialize)]
struct JsonOutput<'a> {
    threads: usize,
    key_size: usize,
    value_size: usize,
    item_data_size: usize,
    tree_durability: DurabilityArg,
    item_durability: DurabilityArg,
    partitions: u32,
    gsis: u32,
    compression: CompressionArg,
    records: u64,
    /// `--max-mapped-mib` in bytes (`null`: no bound).
    max_mapped_bytes: Option<u64>,
    /// Data blocks read with `pread` (`false`: `--mmap-data-blocks`).
    pread_data_blocks: bool,
    cpus: usize,
    results: &'a [WorkloadReport],
}

/// Tree options with `--compression`, `--max-mapped-mib` and `--mmap-data-blocks`.
fn tree_options(plan: &Plan) -> TreeOptions {
    let mut opts = TreeOptions::default();
    if plan.max_mapped_bytes.is_some() || !plan.pread_data_blocks {
        opts.shared = Some(
            strata_engine::lsm::SharedResources::with_defaults()
                .with_max_mapped_bytes(plan.max_mapped_bytes)
                .with_pread_data_blocks(plan.pread_data_blocks),
        );
    }
    opts.table.compression = match plan.compression {
        CompressionArg::None => Compression::None,
        CompressionArg::Zstd => Compression::Zstd { level: 3 },
    };
    opts
}

/// Runs `strata bench`.
///
/// # Errors
/// Bad options, engine and I/O errors.
pub fn run(args: BenchArgs) -> Result<(), BenchError> {
    let plan = Plan::from_args(args)?;
    // The temporary directory (if any) lives until the end of the run.
    let (root, _temp) = match &plan.db {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| BenchError::io(dir, e))?;
            (dir.clone(), None)
        }
        None => {
            let t = tempfile::Builder::new()
                .prefix("strata-bench-")
                .tempdir()
                .map_err(|e| BenchError::io(&std::env::temp_dir(), e))?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    if !plan.json {
        println!(
            "strata bench: {} thread(s), {} CPU(s); tree keys {} B, values {} B, {} writes; items ~{} B, {} partitions, {} GSIs, {} writes; compression {}; in {}",
            plan.threads,
            cpus,
            plan.key_size,
            plan.value_size,
            durability_name(plan.tree_durability),
            plan.item_data_size,
            plan.partitions,
            plan.gsis,
            durability_name(plan.item_durability),
            match plan.compression {
                CompressionArg::None => "none",
                CompressionArg::Zstd => "zstd",
            },
            root.display()
        );
    }
    let tree_opts = tree_options(&plan);
    let mut results = Vec::new();
    let mut items: Option<items::Items> = None;
    for &w in &plan.workloads {
        if w.is_item() {
            if items.is_none() {
                let db_opts = DbOptions {
                    tree: tree_opts.clone(),
                    max_mapped_bytes: plan.max_mapped_bytes,
                    pread_data_blocks: plan.pread_data_blocks,
                    ..DbOptions::default()
                };
                items = Some(items::Items::open(&root.join("items"), db_opts, &plan)?);
            }
            if let Some(items) = &items {
                for r in items.run(w, &plan)? {
                    print_progress_line(&plan, &r);
                    results.push(r);
                }
            }
        } else {
            let r = tree::run(w, &plan, &tree_opts, &root.join("tree"))?;
            print_progress_line(&plan, &r);
            results.push(r);
        }
    }
    if let Some(items) = items {
        items.close()?;
    }
    if plan.json {
        let out = JsonOutput {
            threads: plan.threads,
            key_size: plan.key_size,
            value_size: plan.value_size,
            item_data_size: plan.item_data_size,
            tree_durability: plan.tree_durability,
            item_durability: plan.item_durability,
            partitions: plan.partitions,
            gsis: plan.gsis,
            compression: plan.compression,
            records: plan.records,
            max_mapped_bytes: plan.max_mapped_bytes,
            pread_data_blocks: plan.pread_data_blocks,
            cpus,
            results: &results,
        };
        let text = serde_json::to_string_pretty(&out)
            .map_err(|e| BenchError::Internal(format!("JSON: {e}")))?;
        println!("{text}");
    } else {
        println!();
        print!("{}", report::table(&results));
    }
    Ok(())
}

fn durability_name(d: DurabilityArg) -> &'static str {
    match d {
        DurabilityArg::Sync => "sync",
        DurabilityArg::Buffered => "buffered",
    }
}

/// One line per finished workload on stderr (people see results as they come).
fn print_progress_line(plan: &Plan, r: &WorkloadReport) {
    if !plan.json {
        eprintln!(
            "{:<22} {:>10} ops {:>12.0} ops/s",
            r.workload, r.ops, r.ops_per_sec
        );
    }
}
