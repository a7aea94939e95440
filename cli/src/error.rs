//! The error every subcommand reports: what went wrong and where (file, line).

use std::io;
use std::path::PathBuf;

use strata_engine::DbError;

/// Why a subcommand failed. Printed as `strata: <message>`, exit code 1.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// The database refused an operation.
    #[error("{0}")]
    Db(#[from] DbError),
    /// The database directory is held by another process.
    #[error(
        "the database in {dir} is open in another process (its lock file {lock} is held); stop that process first"
    )]
    Locked {
        /// The database directory.
        dir: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// A line of an import file is not a valid item.
    #[error("{path}: line {line}: {reason}")]
    Input {
        /// The input file.
        path: PathBuf,
        /// The line number (1-based, in the decompressed text).
        line: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A file is not what the command expected (not an SSTable or WAL segment, a
    /// damaged checkpoint, ...).
    #[error("{path}: {reason}")]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The command line asks for something that cannot be done.
    #[error("{0}")]
    Usage(String),
}

impl CliError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> CliError {
        CliError::Io {
            path: path.into(),
            source,
        }
    }

    /// A file that is not what was expected.
    pub fn bad_file(path: impl Into<PathBuf>, reason: impl Into<String>) -> CliError {
        CliError::BadFile {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
