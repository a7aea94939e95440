//! The error type of this crate.

use std::io;
use std::path::PathBuf;

/// Errors from building or reading an SSTable.
///
/// Every variant that concerns a file names it; corruption also names the
/// file offset (of the block or entry) and what was wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SstError {
    /// An I/O error from the file system.
    #[error("{}: I/O error: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The file's bytes are not a valid table (bad magic, checksum, lengths,
    /// varints, offsets, ...).
    #[error("{}: corruption at offset {offset}: {reason}", path.display())]
    Corruption {
        /// The file.
        path: PathBuf,
        /// The file offset of the damaged block, entry or footer.
        offset: u64,
        /// What was expected and what was found.
        reason: String,
    },
    /// The file was written by a newer, unknown format version.
    #[error("{}: unsupported format version {found} (this build reads version {supported})", path.display())]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version found in the footer.
        found: u32,
        /// The version this build understands.
        supported: u32,
    },
    /// A block carries flags this build does not understand (reserved for
    /// encryption).
    #[error("{}: block at offset {offset} has unsupported flags {flags:#04x}", path.display())]
    UnsupportedFlags {
        /// The file.
        path: PathBuf,
        /// The block's file offset.
        offset: u64,
        /// The flags byte found.
        flags: u8,
    },
    /// The table uses (or the options ask for) a compression this build lacks:
    /// `strata-sstable` (or `strata-engine`) was built without its default `zstd`
    /// feature. Not corruption: the same file reads in a build with the feature.
    #[error(
        "{}: block at offset {offset} needs {compression} compression, but this build of \
         strata-sstable has no `{compression}` cargo feature (enable the default features \
         of strata-sstable / strata-engine, or write tables with Compression::None)",
        path.display()
    )]
    CompressionUnavailable {
        /// The file.
        path: PathBuf,
        /// The block's file offset (when building: where the block would go).
        offset: u64,
        /// The compression (`"zstd"`).
        compression: &'static str,
    },
    /// [`TableBuilder::add`](crate::TableBuilder::add) was given a key that is
    /// not strictly greater than the previous one.
    #[error("{}: keys must strictly increase: {} after {}", path.display(), show(key), show(previous))]
    KeyOrder {
        /// The file being built.
        path: PathBuf,
        /// The previous key.
        previous: Vec<u8>,
        /// The offending key.
        key: Vec<u8>,
    },
    /// An entry or option the format cannot hold (e.g. a value of 4 GiB).
    #[error("{}: invalid argument: {reason}", path.display())]
    InvalidArgument {
        /// The file being built.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// The builder failed earlier (an I/O error or a rejected key) and will
    /// not write a table; the file it wrote so far is not a valid table.
    #[error("{}: the table builder failed earlier and cannot continue", path.display())]
    BuilderFailed {
        /// The file being built.
        path: PathBuf,
    },
}

/// Shows a key for an error message: printable ASCII as is, other bytes
/// escaped, long keys cut.
fn show(key: &[u8]) -> String {
    const MAX: usize = 64;
    let mut s = String::from("\"");
    for &b in key.iter().take(MAX) {
        s.extend(std::ascii::escape_default(b).map(char::from));
    }
    s.push('"');
    if key.len() > MAX {
        s.push_str(&format!("... ({} bytes)", key.len()));
    }
    s
}

impl SstError {
    /// True for [`SstError::Corruption`] and the other variants that mean the
    /// file's bytes are bad.
    pub fn is_corruption(&self) -> bool {
        matches!(
            self,
            SstError::Corruption { .. }
                | SstError::UnsupportedVersion { .. }
                | SstError::UnsupportedFlags { .. }
        )
    }
}
