//! The database scrub ([`crate::Db::verify`], [`verify_dir`]): every file of a
//! database read completely and checked, each problem reported with its file
//! and offset. Read-only. See `docs/verify.md`.
//!
//! The walk: `CATALOG` (checksum and structure), then `tables/`: for each
//! table the catalog names, every partition directory it must have, each
//! checked by the tree-level scrub (`lsm::verify`: `CURRENT`, manifest,
//! SSTables, WAL). Directories and files nothing names are reported as
//! orphans (warnings). When the catalog itself is damaged, every
//! `t<id>/p<n>` directory found is still checked, so one damaged file does
//! not hide the state of the others.

use std::path::Path;
use std::sync::Arc;

use strata_fs::FileSystem;

use crate::catalog::{CATALOG_FILE, Catalog};
use crate::db::{LOCK_FILE, TABLES_DIR, TAGS_FILE, parse_table_dir_name, table_dir_name};
use crate::gsi::{GSI_DIR, gsi_dir, gsi_dir_name};
use crate::lsm::verify::{Mode, io_kind, read_whole, verify_tree, verify_tree_dir};
use crate::lsm::{ProblemKind, VerifyReport};
use crate::table::DbError;
use crate::table::GsiSpec;
use crate::table::core::{TableCore, partition_dir_name};

/// Checks every file of the closed database in `path`, read through `fs`,
/// without opening it (no lock is taken, nothing is written, nothing is
/// recovered): the catalog, and for every partition of every table its
/// `CURRENT` and manifest (every record), every SSTable (open, every block
/// checksum, the whole-file checksum, key order, properties against the
/// manifest), every WAL segment (header, every record, LSN continuity) and
/// the files nothing names. A torn tail of a partition's newest WAL segment
/// or of a manifest is a warning: it is what a crash during an
/// unacknowledged write leaves, and recovery drops it.
///
/// Use [`crate::Db::verify`] for a database that is open; running this on a
/// directory another process has open may report its files being written as
/// damaged.
///
/// # Errors
/// [`DbError::NotFound`] if `path` is not a directory. Everything found in
/// the files is in the report, not an error.
///
/// ```
/// use std::sync::Arc;
/// use strata_engine::{Db, DbOptions, TableSpec, verify_dir};
/// use strata_fs::{FaultFs, FileSystem};
/// use strata_item::{KeySchema, KeyType};
///
/// let fs: Arc<dyn FileSystem> = Arc::new(FaultFs::new());
/// let db = Db::open("/db", DbOptions::default().fs(Arc::clone(&fs)))?;
/// db.create_table(TableSpec::new("users", KeySchema::simple("id", KeyType::S)))?;
/// db.close()?;
/// drop(db);
///
/// let report = verify_dir("/db", &fs)?;
/// assert!(report.is_clean(), "{report}");
/// assert!(report.files_checked > 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_dir(
    path: impl AsRef<Path>,
    fs: &Arc<dyn FileSystem>,
) -> Result<VerifyReport, DbError> {
    let path = path.as_ref();
    if !fs.is_dir(path) {
        return Err(DbError::NotFound {
            path: path.to_path_buf(),
        });
    }
    Ok(verify_open(path, fs, &[]))
}

/// Checks the files of the database in `path`. The tables in `open` are
/// open in this process: their partitions are checked through their trees
/// (flush and compaction paused per partition, the active WAL segment's tail
/// tolerated); everything else as closed files.
pub(crate) fn verify_open(
    path: &Path,
    fs: &Arc<dyn FileSystem>,
    open: &[Arc<TableCore>],
) -> VerifyReport {
    let mut report = VerifyReport::default();
    let catalog_path = path.join(CATALOG_FILE);
    let catalog = read_whole(fs.as_ref(), &catalog_path, &mut report).and_then(|bytes| {
        Catalog::decode(&bytes, &catalog_path)
            .map_err(|e| add_catalog_error(&mut report, &catalog_path, e))
            .ok()
    });
    match fs.list(path) {
        Ok(names) => {
            for name in names {
                if name != LOCK_FILE && name != CATALOG_FILE && name != TABLES_DIR {
                    report.add(
                        path.join(&name),
                        None,
                        ProblemKind::Orphan,
                        "not a file of the database (the next open removes CATALOG.tmp)",
                    );
                }
            }
        }
        Err(e) => report.add(path, None, io_kind(&e), e.to_string()),
    }
    let tables_dir = path.join(TABLES_DIR);
    let names = match fs.list(&tables_dir) {
        Ok(n) => n,
        Err(e) => {
            report.add(&tables_dir, None, io_kind(&e), e.to_string());
            return report;
        }
    };
    if let Some(c) = &catalog {
        for t in &c.tables {
            if !names.contains(&table_dir_name(t.id)) {
                report.add(
                    tables_dir.join(table_dir_name(t.id)),
                    None,
                    ProblemKind::Missing,
                    format!("the catalog names table {:?} (id {})", t.spec.name, t.id),
                );
            }
        }
    }
    for name in &names {
        let dir = tables_dir.join(name);
        let id = parse_table_dir_name(name);
        let core = id.and_then(|id| open.iter().find(|c| c.id == id));
        let partitions = match (&catalog, id) {
            (Some(c), Some(id)) => match c.tables.iter().find(|t| t.id == id) {
                Some(t) => Some((
                    t.spec.partitions,
                    t.spec
                        .global_secondary_indexes
                        .iter()
                        .cloned()
                        .zip(t.gsi_ids.iter().copied())
                        .collect::<Vec<_>>(),
                )),
                None => {
                    report.add(
                        &dir,
                        None,
                        ProblemKind::Orphan,
                        "table directory the catalog does not name (the next open removes it)",
                    );
                    continue;
                }
            },
            // The catalog is unreadable: an open table knows its partition
            // count; otherwise check whatever partitions there are.
            (None, Some(_)) => core.map(|c| {
                (
                    c.spec.partitions,
                    c.spec
                        .global_secondary_indexes
                        .iter()
                        .cloned()
                        .zip(c.gsi_ids.iter().copied())
                        .collect(),
                )
            }),
            (_, None) => {
                report.add(
                    &dir,
                    None,
                    ProblemKind::Orphan,
                    "not a table directory (the next open removes it)",
                );
                continue;
            }
        };
        let (partitions, gsis) = match partitions {
            Some((n, g)) => (Some(n), Some(g)),
            None => (None, None),
        };
        check_table_dir(fs, &dir, partitions, core.map(|c| &**c), &mut report);
        check_gsi_dirs(fs, &dir, gsis.as_deref(), core.map(|c| &**c), &mut report);
    }
    report
}

/// Checks the partition directories of one table: `partitions` of them when
/// the catalog is known, else every `p<n>` directory there is.
///
/// (Also checks the table's tags file, `docs/tags-format.md`.)
fn check_table_dir(
    fs: &Arc<dyn FileSystem>,
    dir: &Path,
    partitions: Option<u32>,
    core: Option<&TableCore>,
    report: &mut VerifyReport,
) {
    let names = match fs.list(dir) {
        Ok(n) => n,
        Err(e) => {
            report.add(dir, None, io_kind(&e), e.to_string());
            return;
        }
    };
    let expected: Vec<String> = match partitions {
        Some(n) => (0..n).map(partition_dir_name).collect(),
        None => {
            let mut found: Vec<String> = names
                .iter()
                .filter(|n| is_partition_dir_name(n))
                .cloned()
                .collect();
            found.sort();
            found
        }
    };
    for name in &names {
        if name == TAGS_FILE {
            check_tags(fs.as_ref(), &dir.join(name), report);
            continue;
        }
        if !expected.contains(name) && name != GSI_DIR {
            report.add(
                dir.join(name),
                None,
                ProblemKind::Orphan,
                "not a partition of the table",
            );
        }
    }
    let live = core.and_then(|c| c.partitions().ok());
    for (p, name) in expected.iter().enumerate() {
        let pdir = dir.join(name);
        if !names.contains(name) {
            report.add(
                &pdir,
                None,
                ProblemKind::Missing,
                format!("partition {p} of the table is missing"),
            );
            continue;
        }
        match live.as_ref().and_then(|parts| parts.get(p)) {
            Some(part) if partitions.is_some() => verify_tree(&part.tree, report),
            _ => verify_tree_dir(fs, &pdir, Mode::Closed, report),
        }
    }
}

/// Checks the partition trees of a table's GSIs (`gsi/g<k>/p<n>`): those the spec
/// names when it is known (the open trees through their handles), else every
/// directory there is, as closed trees.
fn check_gsi_dirs(
    fs: &Arc<dyn FileSystem>,
    dir: &Path,
    gsis: Option<&[(GsiSpec, u32)]>,
    core: Option<&TableCore>,
    report: &mut VerifyReport,
) {
    let root = dir.join(GSI_DIR);
    let present = fs.is_dir(&root);
    let Some(gsis) = gsis else {
        if present && let Ok(names) = fs.list(&root) {
            for name in names {
                check_table_dir(fs, &root.join(name), None, None, report);
            }
        }
        return;
    };
    if !present {
        if !gsis.is_empty() {
            report.add(
                &root,
                None,
                ProblemKind::Missing,
                "the table's GSI directory is missing",
            );
        }
        return;
    }
    let names = fs.list(&root).unwrap_or_default();
    let expected: Vec<String> = gsis.iter().map(|(_, id)| gsi_dir_name(*id)).collect();
    for name in &names {
        if !expected.contains(name) {
            report.add(
                root.join(name),
                None,
                ProblemKind::Orphan,
                "not a GSI of the table",
            );
        }
    }
    let shards = core.and_then(|c| c.shards().ok());
    for (k, (g, id)) in gsis.iter().enumerate() {
        let gdir = gsi_dir(dir, *id);
        if !names.contains(&expected[k]) {
            report.add(
                &gdir,
                None,
                ProblemKind::Missing,
                format!("GSI {} is missing", g.name),
            );
            continue;
        }
        let live = shards.as_ref().and_then(|s| s.gsis.get(k));
        for n in 0..g.partitions {
            let pdir = gdir.join(partition_dir_name(n));
            match live.and_then(|s| s.trees.get(n as usize)) {
                Some(tree) => verify_tree(tree, report),
                None if fs.is_dir(&pdir) => verify_tree_dir(fs, &pdir, Mode::Closed, report),
                None => report.add(
                    &pdir,
                    None,
                    ProblemKind::Missing,
                    format!("partition {n} of GSI {} is missing", g.name),
                ),
            }
        }
    }
}

/// `p` and at least four digits, as [`partition_dir_name`] writes them.
fn is_partition_dir_name(name: &str) -> bool {
    name.strip_prefix('p')
        .is_some_and(|d| d.len() >= 4 && d.bytes().all(|b| b.is_ascii_digit()))
}

fn add_catalog_error(report: &mut VerifyReport, path: &Path, e: DbError) {
    match e {
        DbError::CatalogCorrupt { offset, reason, .. } => {
            report.add(path, Some(offset), ProblemKind::Corruption, reason);
        }
        DbError::CatalogVersion {
            found, supported, ..
        } => report.add(
            path,
            Some(8),
            ProblemKind::UnsupportedVersion,
            format!("catalog format version {found}, this build reads {supported}"),
        ),
        other => report.add(path, None, ProblemKind::Io, other.to_string()),
    }
}

/// Checks a table's tags file (`docs/tags-format.md`).
fn check_tags(fs: &dyn FileSystem, path: &Path, report: &mut VerifyReport) {
    match fs.read_all(path) {
        Err(e) => report.add(path, None, io_kind(&e), e.to_string()),
        Ok(bytes) => {
            if let Err(DbError::TagsCorrupt { offset, reason, .. }) =
                crate::db::decode_tags(&bytes, path)
            {
                report.add(path, Some(offset), ProblemKind::Corruption, reason);
            }
        }
    }
}
