//! The error type.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in the write-ahead log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WalError {
    /// An I/O operation on `path` failed. During an append or sync this also
    /// poisons the log (see [`WalError::Poisoned`]).
    #[error("WAL I/O error on {}: {source}", path.display())]
    Io {
        /// The file or directory the operation was on.
        path: PathBuf,
        /// The operating system's (or the fault injector's) error.
        #[source]
        source: io::Error,
    },
    /// Stored bytes failed a check: a checksum, a length, a fragment sequence,
    /// a header field, or LSN continuity between segments.
    #[error("WAL corruption in {} at offset {offset}: {reason}", segment.display())]
    Corruption {
        /// The segment file.
        segment: PathBuf,
        /// Byte offset in the segment file where the problem was found.
        offset: u64,
        /// What was expected and what was found.
        reason: String,
    },
    /// An earlier write or sync failed, so the log no longer knows what reached
    /// the disk. Every append and sync fails with this until the log is
    /// reopened (which recovers exactly what is on disk).
    #[error("WAL is poisoned by an earlier I/O error and must be reopened: {0}")]
    Poisoned(String),
    /// A record is larger than [`WalOptions::max_record_size`](crate::WalOptions::max_record_size).
    #[error("WAL record of {size} bytes exceeds the maximum of {max} bytes")]
    RecordTooLarge {
        /// The record's size.
        size: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The log was closed with [`Wal::close`](crate::Wal::close).
    #[error("WAL is closed")]
    Closed,
    /// The options cannot work (for example a segment size smaller than a header).
    #[error("invalid WAL options: {0}")]
    InvalidOptions(String),
}

impl WalError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        WalError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corruption(segment: impl Into<PathBuf>, offset: u64, reason: String) -> Self {
        WalError::Corruption {
            segment: segment.into(),
            offset,
            reason,
        }
    }
}
