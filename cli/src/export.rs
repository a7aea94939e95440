//! `strata export DIR TABLE [--out FILE] [--gzip]`: every item of a table in
//! DynamoDB's export format (one `{"Item": {...}}` per line, attribute values in
//! DynamoDB JSON), optionally gzip-compressed. To stdout by default; with `--out`
//! to `FILE.partial`, renamed to `FILE` once complete and synced, so a `FILE` that
//! exists is always a whole export.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args as ClapArgs;
use flate2::Compression;
use flate2::write::GzEncoder;
use strata_engine::{DbError, ScanOptions, Table};
use strata_item::Item;

use crate::error::CliError;
use crate::output::{open_db, progress};

/// Longest wait between retries of a throttled scan page.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// `strata export`.
#[derive(Debug, ClapArgs)]
pub struct Args {
    /// The database directory.
    pub dir: PathBuf,
    /// The table to export.
    pub table: String,
    /// Write to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Compress the output with gzip.
    #[arg(long)]
    pub gzip: bool,
}

/// One line of the export format.
pub fn export_line(item: &Item) -> String {
    let mut obj = serde_json::Map::new();
    obj.insert("Item".to_owned(), item.to_dynamo_json());
    serde_json::Value::Object(obj).to_string()
}

/// Runs `strata export`.
pub fn run(args: &Args) -> Result<(), CliError> {
    let db = open_db(&args.dir)?;
    let result = export(&db.table(&args.table)?, args);
    let closed = db.close();
    let count = result?;
    closed?;
    tracing::info!(items = count, table = %args.table, "export finished");
    Ok(())
}

fn export(table: &Table, args: &Args) -> Result<u64, CliError> {
    match &args.out {
        None => {
            let stdout = std::io::stdout().lock();
            write_items(table, stdout, args.gzip, Path::new("<stdout>"))
        }
        Some(path) => {
            let mut partial = path.as_os_str().to_owned();
            partial.push(".partial");
            let partial = PathBuf::from(partial);
            let file = File::create(&partial).map_err(|e| CliError::io(&partial, e))?;
            let count = match write_items(table, &file, args.gzip, &partial) {
                Ok(n) => n,
                Err(e) => {
                    drop(file);
                    // Best effort: a partial export must not look like one.
                    if let Err(rm) = std::fs::remove_file(&partial) {
                        tracing::warn!(path = %partial.display(), error = %rm, "cannot remove the partial export");
                    }
                    return Err(e);
                }
            };
            file.sync_all().map_err(|e| CliError::io(&partial, e))?;
            drop(file);
            std::fs::rename(&partial, path).map_err(|e| CliError::io(path, e))?;
            Ok(count)
        }
    }
}

/// Writes every item, one line each, returning how many.
fn write_items(table: &Table, out: impl Write, gzip: bool, path: &Path) -> Result<u64, CliError> {
    let io = |e| CliError::io(path, e);
    if gzip {
        let mut enc = GzEncoder::new(BufWriter::new(out), Compression::default());
        let n = scan_into(table, &mut enc, path)?;
        enc.finish().map_err(io)?.flush().map_err(io)?;
        Ok(n)
    } else {
        let mut w = BufWriter::new(out);
        let n = scan_into(table, &mut w, path)?;
        w.flush().map_err(io)?;
        Ok(n)
    }
}

/// Scans the table page by page; a throttled page (a provisioned table's read
/// capacity) is retried after a wait, not skipped.
fn scan_into(table: &Table, out: &mut impl Write, path: &Path) -> Result<u64, CliError> {
    let total = table.item_stats()?.items;
    let bar = progress(Some(total), "export");
    let mut start: Option<Item> = None;
    let mut count = 0u64;
    let mut backoff = Duration::from_millis(10);
    loop {
        let page = match table.scan(ScanOptions::default().start_after(start.clone())) {
            Ok(p) => p,
            Err(DbError::Throttled { .. }) => {
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        backoff = Duration::from_millis(10);
        for item in &page.items {
            writeln!(out, "{}", export_line(item)).map_err(|e| CliError::io(path, e))?;
        }
        count += page.items.len() as u64;
        bar.inc(page.items.len() as u64);
        match page.last_evaluated_key {
            Some(k) => start = Some(k),
            None => break,
        }
    }
    bar.finish_and_clear();
    Ok(count)
}
