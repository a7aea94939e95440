//! Checking a partition's SSTables against its manifest, and the files of
//! the partition directory that nothing names.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use strata_fs::FileSystem;
use strata_sstable::{ReaderOptions, SstError, Table};

use super::manifest_scan::ScannedManifest;
use super::report::{ProblemKind, VerifyReport};
use super::{Mode, io_kind};
use crate::lsm::manifest::{CURRENT, parse_manifest_name};
use crate::lsm::open::WAL_DIR;
use crate::lsm::tree::{parse_table_name, table_name};
use crate::lsm::version::FileMeta;

/// Checks every table the manifest names (or, when the manifest could not be
/// read, every table in the directory) and reports the files nothing names.
pub(super) fn check(
    fs: &Arc<dyn FileSystem>,
    dir: &Path,
    names: &[String],
    manifest: Option<&ScannedManifest>,
    mode: Mode,
    report: &mut VerifyReport,
) {
    let state = manifest.and_then(|m| m.state.as_ref());
    let mut named = HashSet::new();
    if let Some(state) = state {
        for (level, files) in state.levels.iter().enumerate() {
            for meta in files {
                named.insert(meta.number);
                check_table(fs, dir, Some((level, meta)), meta.number, report);
            }
        }
    }
    for name in names {
        if name == CURRENT || name == "LOCK" || name == WAL_DIR {
            continue;
        }
        if let Some(n) = parse_table_name(name) {
            if named.contains(&n) {
                continue;
            }
            match (state, mode) {
                // The manifest is unreadable: check every table there is.
                (None, _) => check_table(fs, dir, None, n, report),
                (Some(_), Mode::Closed) => report.add(
                    dir.join(name),
                    None,
                    ProblemKind::Orphan,
                    "table not named by the manifest (left by a crash; the next open removes it)",
                ),
                // On an open tree (flush and compaction paused), an unnamed
                // table is an obsolete one a reader still holds; it is
                // deleted when the reader lets go.
                (Some(_), Mode::Live) => {}
            }
            continue;
        }
        if let Some(n) = parse_manifest_name(name) {
            match manifest {
                Some(m) if m.number == n => continue,
                Some(_) => {}
                // `CURRENT` is unreadable: which manifest is live is unknown.
                None => continue,
            }
        }
        report.add(
            dir.join(name),
            None,
            ProblemKind::Orphan,
            "file not named by CURRENT or the manifest (the next open removes temp files, unnamed tables and stale manifests)",
        );
    }
}

/// Checks one table completely: it exists with the recorded size, opens,
/// every block and the whole-file checksum verify, and its properties agree
/// with the manifest's record of it.
fn check_table(
    fs: &Arc<dyn FileSystem>,
    dir: &Path,
    meta: Option<(usize, &FileMeta)>,
    number: u64,
    report: &mut VerifyReport,
) {
    let path = dir.join(table_name(number));
    let size = match fs.file_size(&path) {
        Ok(s) => s,
        Err(e) => {
            let what = match meta {
                Some((level, _)) => format!("the manifest names this L{level} table: {e}"),
                None => e.to_string(),
            };
            report.add(&path, None, io_kind(&e), what);
            return;
        }
    };
    if let Some((_, m)) = meta
        && m.size != size
    {
        report.add(
            &path,
            Some(size.min(m.size)),
            ProblemKind::SizeMismatch,
            format!("table is {size} bytes, the manifest says {}", m.size),
        );
    }
    let opts = ReaderOptions {
        cache: None,
        verify_checksums: true,
        map_budget: None,
        pread_data_blocks: false,
    };
    let table = match Table::open(fs, &path, number, opts) {
        Ok(t) => t,
        Err(e) => {
            add_sst_error(report, &path, e);
            return;
        }
    };
    report.checked(size);
    for e in table.verify_all() {
        add_sst_error(report, &path, e);
    }
    if let Some((_, m)) = meta {
        compare_properties(&table, m, &path, report);
    }
}

/// The manifest's record of a table against the table's own properties.
fn compare_properties(table: &Table, m: &FileMeta, path: &Path, report: &mut VerifyReport) {
    let p = table.properties();
    let mut differ = |what: &str, manifest: String, table: String| {
        report.add(
            path,
            None,
            ProblemKind::Inconsistent,
            format!("the manifest records {what} {manifest}, the table's properties say {table}"),
        );
    };
    if m.entries != p.entries {
        differ("entries", m.entries.to_string(), p.entries.to_string());
    }
    if m.smallest != p.smallest_key {
        differ("smallest key", hex(&m.smallest), hex(&p.smallest_key));
    }
    if m.largest != p.largest_key {
        differ("largest key", hex(&m.largest), hex(&p.largest_key));
    }
    if (m.smallest_seq, m.largest_seq) != (p.smallest_seqno, p.largest_seqno) {
        differ(
            "sequence numbers",
            format!("{}..={}", m.smallest_seq, m.largest_seq),
            format!("{}..={}", p.smallest_seqno, p.largest_seqno),
        );
    }
}

fn hex(b: &[u8]) -> String {
    const MAX: usize = 48;
    let mut s: String = b.iter().take(MAX).map(|x| format!("{x:02x}")).collect();
    if b.len() > MAX {
        s.push_str("...");
    }
    s
}

/// Turns an SSTable error into a problem on `path`.
fn add_sst_error(report: &mut VerifyReport, path: &Path, e: SstError) {
    match e {
        SstError::Corruption { offset, reason, .. } => {
            report.add(path, Some(offset), ProblemKind::Corruption, reason);
        }
        SstError::UnsupportedFlags { offset, flags, .. } => report.add(
            path,
            Some(offset),
            ProblemKind::Corruption,
            format!("block has unsupported flags {flags:#04x}"),
        ),
        SstError::UnsupportedVersion {
            found, supported, ..
        } => report.add(
            path,
            None,
            ProblemKind::UnsupportedVersion,
            format!("table format version {found}, this build reads {supported}"),
        ),
        SstError::Io { source, .. } => {
            report.add(path, None, io_kind(&source), source.to_string());
        }
        other => report.add(path, None, ProblemKind::Io, other.to_string()),
    }
}
