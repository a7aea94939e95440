//! The scrub of one tree directory: `CURRENT` and the manifest (every
//! record), every SSTable the manifest names (completely, including the
//! whole-file checksum, and against the manifest's record of it), every WAL
//! segment (every record, LSN continuity, coverage of the replay start), and
//! the files nothing names. Read-only: nothing on disk changes.
//!
//! On an open tree ([`verify_tree`]) flush and compaction are paused while
//! the tree is checked, so its manifest and set of tables stay put; the
//! active WAL segment's incomplete tail is what is being written and is not
//! reported. The database-level scrub (`crate::verify`) calls this per
//! partition.

mod manifest_scan;
mod report;
mod tables;
mod wal_scan;

use std::io;
use std::path::Path;
use std::sync::Arc;

use strata_fs::FileSystem;

pub use report::{Problem, ProblemKind, Severity, VerifyReport};

use super::open::WAL_DIR;
use super::tree::Tree;

/// Whether the files belong to an open tree (which may be writing them) or
/// to a closed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The tree is open in this process: flush and compaction are paused,
    /// but the WAL's newest segment is being appended to.
    Live,
    /// Nothing is writing the files.
    Closed,
}

/// Checks the files of an open tree, pausing its flushes and compactions
/// (not its writes) meanwhile.
pub(crate) fn verify_tree(tree: &Tree, report: &mut VerifyReport) {
    let inner = &tree.inner;
    // The order `TreeInner::close` takes them in.
    let _compaction = inner.compaction_lock.lock();
    let _flush = inner.flush_lock.lock();
    verify_tree_dir(&inner.fs, &inner.dir, Mode::Live, report);
}

/// Checks every file of the tree directory `dir`.
pub(crate) fn verify_tree_dir(
    fs: &Arc<dyn FileSystem>,
    dir: &Path,
    mode: Mode,
    report: &mut VerifyReport,
) {
    let names = match fs.list(dir) {
        Ok(n) => n,
        Err(e) => {
            report.add(
                dir,
                None,
                io_kind(&e),
                format!("cannot list the tree directory: {e}"),
            );
            return;
        }
    };
    let manifest = manifest_scan::check(fs.as_ref(), dir, report);
    tables::check(fs, dir, &names, manifest.as_ref(), mode, report);
    let replay_from = manifest
        .as_ref()
        .and_then(|m| m.state.as_ref())
        .map(|s| s.flushed_lsn);
    wal_scan::check(fs.as_ref(), &dir.join(WAL_DIR), replay_from, mode, report);
}

/// Reads a whole file, counting it as checked; a missing or unreadable file
/// is reported and gives `None`.
pub(crate) fn read_whole(
    fs: &dyn FileSystem,
    path: &Path,
    report: &mut VerifyReport,
) -> Option<Vec<u8>> {
    match fs.read_all(path) {
        Ok(b) => {
            report.checked(b.len() as u64);
            Some(b)
        }
        Err(e) => {
            report.add(path, None, io_kind(&e), e.to_string());
            None
        }
    }
}

/// [`ProblemKind::Missing`] for a file that does not exist, else
/// [`ProblemKind::Io`].
pub(crate) fn io_kind(e: &io::Error) -> ProblemKind {
    if e.kind() == io::ErrorKind::NotFound {
        ProblemKind::Missing
    } else {
        ProblemKind::Io
    }
}

/// The first bytes of `b`, for messages.
pub(crate) fn short(b: &[u8]) -> &[u8] {
    b.get(..b.len().min(32)).unwrap_or(b)
}
