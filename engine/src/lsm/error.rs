//! The engine's error type.

use std::io;
use std::path::PathBuf;

use strata_sstable::SstError;
use strata_wal::WalError;

/// Everything that can go wrong in the LSM tree.
///
/// Corruption is always reported with the file and the byte offset where it
/// was found; corrupt bytes are never returned as data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O error on a file of the tree (not the WAL or an SSTable, which
    /// have their own variants).
    #[error("I/O error while {context} ({path}): {source}")]
    Io {
        /// What the tree was doing.
        context: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// An error from the write-ahead log.
    #[error("write-ahead log: {0}")]
    Wal(#[from] WalError),
    /// An error from an SSTable.
    #[error("sstable: {0}")]
    Sst(#[from] SstError),
    /// A file of the tree (manifest, CURRENT, a WAL record's payload, an
    /// SSTable's entry) does not hold what it must.
    #[error("corruption in {path} at offset {offset}: {reason}")]
    Corruption {
        /// The damaged file.
        path: PathBuf,
        /// Byte offset of the damaged record (or of the entry's block when the
        /// exact offset is not known).
        offset: u64,
        /// What was wrong: expected versus found.
        reason: String,
    },
    /// The WAL does not hold every record replay needs: its oldest segment
    /// starts after the manifest's flushed position, or it ends before it.
    /// Nothing on disk was changed.
    #[error("WAL in {} does not cover replay: expected LSN {expected}, found {found}: {reason}", dir.display())]
    WalGap {
        /// The WAL directory.
        dir: PathBuf,
        /// The position replay must start from (the manifest's flushed LSN).
        expected: u64,
        /// The WAL's first LSN (or its end, when it ends too early).
        found: u64,
        /// What is missing.
        reason: String,
    },
    /// Recovery would drop data that the options say must not be lost
    /// ([`WalLossPolicy`](super::WalLossPolicy)). Nothing on disk was changed.
    #[error("refusing to open {}: {reason}", dir.display())]
    RecoveryRefused {
        /// The directory whose recovery was refused.
        dir: PathBuf,
        /// What would have been dropped.
        reason: String,
    },
    /// The tree's WAL failed earlier; the tree refuses further writes rather
    /// than risk losing an acknowledged one. Reopen the tree to recover.
    #[error("the tree is poisoned for writes after a WAL failure: {0}")]
    Poisoned(String),
    /// A background flush or compaction failed; writes are refused (and
    /// stalled writers are woken with this error). Reopen the tree to recover.
    #[error("background {job} failed: {message}")]
    Background {
        /// `"flush"` or `"compaction"`.
        job: &'static str,
        /// The failure, rendered.
        message: String,
    },
    /// The tree was closed.
    #[error("the tree is closed")]
    Closed,
    /// Another process (or another `Tree` in this process) holds the tree's
    /// directory.
    #[error("the tree at {0} is already open (LOCK is held)")]
    Locked(PathBuf),
    /// [`Tree::read_log`](super::Tree::read_log) was asked for records that
    /// the WAL no longer holds: segments below the retention floor and the
    /// flushed position were deleted. The consumer must rebuild from the
    /// tree's contents instead.
    #[error("the log no longer holds LSN {requested}: its oldest record is LSN {oldest}")]
    LogTruncated {
        /// The first LSN the read needed.
        requested: u64,
        /// The oldest LSN the log still holds.
        oldest: u64,
    },
    /// A caller-supplied argument is out of range (e.g. a key too large).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl Error {
    pub(crate) fn io(context: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            context,
            path: path.into(),
            source,
        }
    }

    /// True when the error reports damaged data (in the tree's own files, the
    /// WAL or an SSTable).
    pub fn is_corruption(&self) -> bool {
        match self {
            Error::Corruption { .. } | Error::WalGap { .. } => true,
            Error::Wal(e) => matches!(e, WalError::Corruption { .. }),
            Error::Sst(e) => matches!(e, SstError::Corruption { .. }),
            _ => false,
        }
    }
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
