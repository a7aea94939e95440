//! `strata import DIR TABLE FILE`: loads a file in DynamoDB's export format
//! (`{"Item": {...}}` per line, plain or gzip) into a table, creating the table
//! (and the database) from a given schema when missing. Writes go in batches of
//! 25 (`batch_write_item`; unprocessed items are retried), and a checkpoint next
//! to the database records how far the durably acknowledged batches reached, so
//! an interrupted import resumes there (see `docs/cli.md` for the argument that
//! nothing is lost or duplicated).
//!
//! The whole file is read and checked once before anything is written: a bad
//! line is an error with its line number and nothing is created or written.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args as ClapArgs;
use strata_engine::{Db, DbError, TableDurability, TableSpec, WriteRequest};
use strata_item::{KeySchema, KeyType};

use crate::checkpoint::{Checkpoint, InputId, default_path};
use crate::error::CliError;
use crate::import_input::{Input, Line};
use crate::output::{open_or_create_db, progress};

/// Items per `batch_write_item` (DynamoDB's limit).
pub const BATCH: usize = 25;
/// Batches between two checkpoints.
const CHECKPOINT_EVERY: u64 = 8;
/// Longest wait between retries of unprocessed (throttled) items.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// `strata import`.
#[derive(Debug, ClapArgs)]
pub struct Args {
    /// The database directory (created if missing).
    pub dir: PathBuf,
    /// The table to import into.
    pub table: String,
    /// The input: DynamoDB export format, one `{"Item": {...}}` per line, plain or
    /// gzip (detected by its magic bytes).
    pub file: PathBuf,
    /// Create a missing table with this partition key, as NAME:TYPE (TYPE is S, N
    /// or B).
    #[arg(long, value_name = "NAME:TYPE", conflicts_with = "schema")]
    pub partition_key: Option<String>,
    /// The sort key of a table to create, as NAME:TYPE.
    #[arg(long, value_name = "NAME:TYPE", requires = "partition_key")]
    pub sort_key: Option<String>,
    /// Hash partitions of a table to create.
    #[arg(long, requires = "partition_key")]
    pub partitions: Option<u32>,
    /// Create a missing table from FILE: a DynamoDB CreateTable request in JSON
    /// (AttributeDefinitions, KeySchema, indexes, BillingMode, ...), as
    /// `aws dynamodb create-table --cli-input-json` takes it.
    #[arg(long, value_name = "FILE")]
    pub schema: Option<PathBuf>,
    /// The checkpoint file (default: `DIR.import-TABLE.checkpoint` next to the
    /// database directory).
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// Ignore an existing checkpoint and start from the first line.
    #[arg(long)]
    pub restart: bool,
    /// Write at most N items per second (to leave a table's capacity to others).
    #[arg(long, value_name = "N")]
    pub max_items_per_second: Option<u64>,
}

/// Runs `strata import`.
pub fn run(args: &Args) -> Result<(), CliError> {
    let given = given_spec(args)?;
    let input_id = InputId::of(&args.file)?;
    let cp_path = args
        .checkpoint
        .clone()
        .unwrap_or_else(|| default_path(&args.dir, &args.table));
    let loaded = if args.restart {
        None
    } else {
        Checkpoint::load(&cp_path)?
    };
    let cp = match loaded {
        Some(c) => {
            if c.table != args.table || c.input != input_id {
                return Err(CliError::bad_file(
                    &cp_path,
                    format!(
                        "this checkpoint is of an import of {} into table {}; remove it or pass --restart",
                        c.input.path.display(),
                        c.table
                    ),
                ));
            }
            eprintln!(
                "strata: resuming from {}: {} lines ({} items) already imported",
                cp_path.display(),
                c.lines_done,
                c.items_done
            );
            c
        }
        None => Checkpoint::start(&args.table, input_id),
    };
    // A new database is created only once the whole input proved good.
    if !args.dir.join("CATALOG").exists() {
        let spec = given.as_ref().ok_or_else(|| missing_schema(&args.table))?;
        count_items(&args.file, &spec.key_schema)?;
    }
    let db = open_or_create_db(&args.dir)?;
    let result = import(&db, args, given, cp, &cp_path);
    let closed = db.close();
    let done = result?;
    closed?;
    println!(
        "imported {} items into {} ({} lines read)",
        done.items_done, args.table, done.lines_done
    );
    Ok(())
}

/// The spec given on the command line (`--partition-key` or `--schema`), if any.
fn given_spec(args: &Args) -> Result<Option<TableSpec>, CliError> {
    if let Some(path) = &args.schema {
        let text = std::fs::read(path).map_err(|e| CliError::io(path, e))?;
        let v: serde_json::Value = serde_json::from_slice(&text)
            .map_err(|e| CliError::bad_file(path, format!("not JSON: {e}")))?;
        let spec = strata_server::params::Params::root(&v)
            .and_then(|p| strata_server::describe::table_spec(&p, &args.table))
            .map_err(|e| CliError::bad_file(path, e.message))?;
        return Ok(Some(spec));
    }
    let Some(pk) = &args.partition_key else {
        return Ok(None);
    };
    let (pk_name, pk_type) = key_attr(pk)?;
    let schema = match &args.sort_key {
        Some(sk) => {
            let (sk_name, sk_type) = key_attr(sk)?;
            KeySchema::composite(pk_name, pk_type, sk_name, sk_type)
        }
        None => KeySchema::simple(pk_name, pk_type),
    };
    let mut spec = TableSpec::new(&args.table, schema);
    if let Some(n) = args.partitions {
        spec = spec.partitions(n);
    }
    Ok(Some(spec))
}

/// `NAME:TYPE`.
fn key_attr(s: &str) -> Result<(String, KeyType), CliError> {
    let (name, ty) = s.rsplit_once(':').ok_or_else(|| {
        CliError::Usage(format!("key {s:?}: expected NAME:TYPE (TYPE S, N or B)"))
    })?;
    let ty = match ty {
        "S" => KeyType::S,
        "N" => KeyType::N,
        "B" => KeyType::B,
        other => {
            return Err(CliError::Usage(format!(
                "key {s:?}: type {other:?} is not S, N or B"
            )));
        }
    };
    if name.is_empty() {
        return Err(CliError::Usage(format!("key {s:?}: the name is empty")));
    }
    Ok((name.to_owned(), ty))
}

fn missing_schema(table: &str) -> CliError {
    CliError::Usage(format!(
        "table {table} does not exist: give its schema (--partition-key NAME:TYPE [--sort-key NAME:TYPE], or --schema FILE)"
    ))
}

/// Reads the whole input, checking every line against `schema`; returns the
/// number of items.
fn count_items(file: &Path, schema: &KeySchema) -> Result<u64, CliError> {
    let mut total = 0u64;
    let mut input = Input::open(file)?;
    while input.next_line(schema)?.is_some() {
        total += 1;
    }
    Ok(total)
}

/// Checks the input, creates the table if needed, and writes from the checkpoint
/// on. Returns the final checkpoint (the checkpoint file is removed).
fn import(
    db: &Db,
    args: &Args,
    given: Option<TableSpec>,
    mut cp: Checkpoint,
    cp_path: &Path,
) -> Result<Checkpoint, CliError> {
    let (spec, exists) = match db.describe_table(&args.table) {
        Ok(d) => {
            if let Some(g) = &given
                && g.key_schema != d.spec.key_schema
            {
                return Err(CliError::Usage(format!(
                    "table {} exists with another key schema ({:?}) than the one given",
                    args.table, d.spec.key_schema
                )));
            }
            (d.spec, true)
        }
        Err(DbError::TableNotFound { .. }) => match given {
            Some(s) => (s, false),
            None => return Err(missing_schema(&args.table)),
        },
        Err(e) => return Err(e.into()),
    };
    // Pass 1: every line must be an item of the table before anything is written.
    let total = count_items(&args.file, &spec.key_schema)?;
    if !exists {
        db.create_table(spec.clone())?;
    }
    let table = db.table(&args.table)?;
    let buffered = spec.durability == TableDurability::Buffered;
    // Makes what is acknowledged durable, then records it.
    let persist = |cp: &Checkpoint| -> Result<(), CliError> {
        if buffered {
            table.flush()?;
        }
        cp.store(cp_path)
    };

    // Pass 2: skip what the checkpoint covers, write the rest.
    let mut input = Input::open(&args.file)?;
    while input.lines_read() < cp.lines_done {
        if input.next_line(&spec.key_schema)?.is_none() {
            break;
        }
    }
    if input.lines_read() != cp.lines_done || input.offset() != cp.bytes_done {
        return Err(CliError::bad_file(
            cp_path,
            format!(
                "the checkpoint says line {} ends at byte {}, the input has line {} ending at byte {}; remove the checkpoint or pass --restart",
                cp.lines_done,
                cp.bytes_done,
                input.lines_read(),
                input.offset()
            ),
        ));
    }
    let bar = progress(Some(total), "import");
    bar.set_position(cp.items_done);
    let mut pacer = Pacer::new(args.max_items_per_second);
    let mut batch: Vec<Line> = Vec::with_capacity(BATCH);
    let mut since_checkpoint = 0u64;
    loop {
        let next = input.next_line(&spec.key_schema)?;
        // A batch may not hold one key twice: a repeated key ends the batch, so
        // the later line is written after the earlier one.
        let full = batch.len() == BATCH
            || next
                .as_ref()
                .is_some_and(|l| batch.iter().any(|b| b.key == l.key));
        if (full || next.is_none()) && !batch.is_empty() {
            pacer.wait(batch.len() as u64);
            write_batch(db, &args.table, &batch, &args.file)?;
            if let Some(last) = batch.last() {
                cp.lines_done = last.number;
                cp.bytes_done = last.end;
            }
            cp.items_done += batch.len() as u64;
            bar.inc(batch.len() as u64);
            batch.clear();
            since_checkpoint += 1;
            if since_checkpoint >= CHECKPOINT_EVERY {
                persist(&cp)?;
                since_checkpoint = 0;
            }
        }
        match next {
            Some(l) => batch.push(l),
            None => break,
        }
    }
    // Blank lines after the last item count as read.
    cp.lines_done = input.lines_read();
    cp.bytes_done = input.offset();
    if buffered {
        table.flush()?;
    }
    Checkpoint::remove(cp_path)?;
    bar.finish_and_clear();
    Ok(cp)
}

/// Writes one batch, retrying unprocessed (throttled) items until all are
/// written.
fn write_batch(db: &Db, table: &str, batch: &[Line], file: &Path) -> Result<(), CliError> {
    let mut requests: Vec<WriteRequest> = batch
        .iter()
        .map(|l| WriteRequest::Put(l.item.clone()))
        .collect();
    let mut backoff = Duration::from_millis(10);
    loop {
        let out = db
            .batch_write_item([(table, requests)])
            .map_err(|e| CliError::Input {
                path: file.to_path_buf(),
                line: batch.first().map_or(0, |l| l.number),
                reason: format!(
                    "the batch of lines {}-{} was refused, nothing of it written: {e}",
                    batch.first().map_or(0, |l| l.number),
                    batch.last().map_or(0, |l| l.number)
                ),
            })?;
        let mut left = out.unprocessed_items;
        match left.remove(table) {
            Some(r) if !r.is_empty() => {
                requests = r;
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            _ => return Ok(()),
        }
    }
}

/// Keeps the write rate at or below `--max-items-per-second`.
#[derive(Debug)]
struct Pacer {
    rate: Option<u64>,
    start: Instant,
    sent: u64,
}

impl Pacer {
    fn new(rate: Option<u64>) -> Pacer {
        Pacer {
            rate: rate.filter(|&r| r > 0),
            start: Instant::now(),
            sent: 0,
        }
    }

    /// Sleeps until `n` more items fit in the rate.
    fn wait(&mut self, n: u64) {
        let Some(rate) = self.rate else {
            return;
        };
        let due = Duration::from_secs_f64(self.sent as f64 / rate as f64);
        if let Some(sleep) = due.checked_sub(self.start.elapsed()) {
            std::thread::sleep(sleep);
        }
        self.sent += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_attributes_parse() {
        assert_eq!(key_attr("id:S").unwrap(), ("id".to_owned(), KeyType::S));
        assert_eq!(key_attr("a:b:N").unwrap(), ("a:b".to_owned(), KeyType::N));
        assert!(matches!(key_attr("id"), Err(CliError::Usage(_))));
        assert!(matches!(key_attr("id:X"), Err(CliError::Usage(_))));
        assert!(matches!(key_attr(":S"), Err(CliError::Usage(_))));
    }
}
