//! `strata verify DIR`: the file scrub (every checksum of every file, the
//! manifest against the files, orphans; `strata_engine::verify_dir`), then every
//! LSI and GSI against its base table. Exit code 1 when anything is wrong; each
//! problem names its file and byte offset.
//!
//! Step 1 reads only, under the database's lock (so no other process writes
//! meanwhile). Step 2 needs an open database: it runs only when step 1 found no
//! error (recovery must not run over damaged files), and opens the database as any
//! program does (recovery of a torn tail, close flushes). `--files-only` stops
//! after step 1.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args as ClapArgs;
use serde::Serialize;
use strata_engine::{Db, IndexVerifyReport, Severity, VerifyReport, verify_dir};
use strata_fs::{FileSystem, RealFs};

use crate::error::CliError;
use crate::output::{Text, open_db, print_json};

/// How long step 2 waits for each table's GSIs to catch up before comparing.
const INDEX_CATCH_UP: Duration = Duration::from_secs(120);

/// `strata verify`.
#[derive(Debug, ClapArgs)]
pub struct Args {
    /// The database directory.
    pub dir: PathBuf,
    /// Check the files only (read-only; skips the index checks, which open the
    /// database).
    #[arg(long)]
    pub files_only: bool,
    /// Print JSON (for programs) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Everything `strata verify` found.
#[derive(Debug, Serialize)]
struct Report {
    path: PathBuf,
    /// No error anywhere (warnings allowed).
    clean: bool,
    files_checked: u64,
    bytes_checked: u64,
    problems: Vec<ProblemOut>,
    /// Why the index checks did not run, when they did not.
    indexes_skipped: Option<String>,
    indexes: Vec<IndexOut>,
}

#[derive(Debug, Serialize)]
struct ProblemOut {
    path: PathBuf,
    offset: Option<u64>,
    severity: &'static str,
    kind: String,
    detail: String,
}

#[derive(Debug, Serialize)]
struct IndexOut {
    table: String,
    index: String,
    kind: &'static str,
    base_items: u64,
    skipped_items: u64,
    expected_entries: u64,
    found_entries: u64,
    difference_count: u64,
    differences: Vec<String>,
}

/// Runs `strata verify`: prints the report, and returns exit code 1 when anything
/// is wrong.
pub fn run(args: &Args) -> Result<ExitCode, CliError> {
    if !args.dir.is_dir() {
        return Err(CliError::bad_file(&args.dir, "not a directory"));
    }
    let files = scrub(&args.dir)?;
    let mut report = Report {
        path: args.dir.clone(),
        clean: files.is_clean(),
        files_checked: files.files_checked,
        bytes_checked: files.bytes_checked,
        problems: files
            .problems
            .iter()
            .map(|p| ProblemOut {
                path: p.path.clone(),
                offset: p.offset,
                severity: match p.severity() {
                    Severity::Error => "error",
                    _ => "warning",
                },
                kind: format!("{:?}", p.kind),
                detail: p.detail.clone(),
            })
            .collect(),
        indexes_skipped: None,
        indexes: Vec::new(),
    };
    if args.files_only {
        report.indexes_skipped = Some("--files-only".to_owned());
    } else if !files.is_clean() {
        report.indexes_skipped = Some(
            "the files are damaged (opening the database would run recovery over them)".to_owned(),
        );
    } else {
        let db = open_db(&args.dir)?;
        let checked = check_indexes(&db);
        let closed = db.close();
        report.indexes = checked?;
        closed?;
        if report.indexes.iter().any(|i| i.difference_count > 0) {
            report.clean = false;
        }
    }
    if args.json {
        print_json(&report)?;
    } else {
        print!("{}", render(&report));
    }
    Ok(if report.clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The file scrub, holding the database's lock so that no other process has it
/// open (its files being written would look damaged). A directory without a
/// `LOCK` file is scrubbed without one (nothing is created).
fn scrub(dir: &Path) -> Result<VerifyReport, CliError> {
    let fs: Arc<dyn FileSystem> = Arc::new(RealFs::new());
    let lock_path = dir.join("LOCK");
    let _lock = if lock_path.exists() {
        Some(fs.lock(&lock_path).map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock => CliError::Locked {
                dir: dir.to_path_buf(),
                lock: lock_path.clone(),
            },
            _ => CliError::io(&lock_path, e),
        })?)
    } else {
        None
    };
    Ok(verify_dir(dir, &fs)?)
}

/// Step 2: every LSI (exact, per partition snapshot) and every GSI (after it
/// caught up) against its base table.
fn check_indexes(db: &Db) -> Result<Vec<IndexOut>, CliError> {
    let mut out = Vec::new();
    for name in db.list_tables()? {
        let spec = db.describe_table(&name)?.spec;
        for l in &spec.local_secondary_indexes {
            let r = db.verify_local_index(&name, &l.name)?;
            out.push(index_out(&name, "LSI", &r));
        }
        if !spec.global_secondary_indexes.is_empty() {
            db.wait_for_indexes(&name, INDEX_CATCH_UP)?;
        }
        for g in &spec.global_secondary_indexes {
            let r = db.verify_index(&name, &g.name)?;
            out.push(index_out(&name, "GSI", &r));
        }
    }
    Ok(out)
}

fn index_out(table: &str, kind: &'static str, r: &IndexVerifyReport) -> IndexOut {
    IndexOut {
        table: table.to_owned(),
        index: r.index.clone(),
        kind,
        base_items: r.base_items,
        skipped_items: r.skipped_items,
        expected_entries: r.expected_entries,
        found_entries: r.found_entries,
        difference_count: r.difference_count,
        differences: r.differences.iter().map(|d| format!("{d:?}")).collect(),
    }
}

fn render(r: &Report) -> String {
    let mut out = Text::default();
    let errors = r.problems.iter().filter(|p| p.severity == "error").count();
    out.line(format!(
        "files: checked {} files ({} bytes) in {}: {errors} errors, {} warnings",
        r.files_checked,
        r.bytes_checked,
        r.path.display(),
        r.problems.len() - errors
    ));
    for p in &r.problems {
        let at = p
            .offset
            .map(|o| format!(" at offset {o}"))
            .unwrap_or_default();
        out.line(format!(
            "  {}: {}{at}: {}: {}",
            p.severity,
            p.path.display(),
            p.kind,
            p.detail
        ));
    }
    match &r.indexes_skipped {
        Some(why) => out.line(format!("indexes: not checked: {why}")),
        None if r.indexes.is_empty() => out.line("indexes: none"),
        None => {
            for i in &r.indexes {
                out.line(format!(
                    "{} {}.{}: {} base items ({} skipped), {} entries expected, {} found, {} differences",
                    i.kind,
                    i.table,
                    i.index,
                    i.base_items,
                    i.skipped_items,
                    i.expected_entries,
                    i.found_entries,
                    i.difference_count
                ));
                for d in &i.differences {
                    out.line(format!("  error: {d}"));
                }
            }
        }
    }
    out.line(if r.clean {
        "OK".to_owned()
    } else {
        "DAMAGED".to_owned()
    });
    out.into_string()
}
