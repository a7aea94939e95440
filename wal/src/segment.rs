//! Segment files: names, creation, metadata.

use std::path::{Path, PathBuf};

use strata_fs::{FileSystem, WritableFile};

use crate::format::encode_segment_header;
use crate::{Lsn, WalError};

/// A segment of the log: its file number, path and first LSN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentMeta {
    pub(crate) number: u64,
    pub(crate) path: PathBuf,
    pub(crate) first_lsn: Lsn,
    /// Damaged ranges `(start, resume)` salvage recovery skips when reading.
    /// When non-empty, the next segment may start at a higher LSN than this
    /// one's records reach (the skipped ranges held the records in between).
    pub(crate) skips: Vec<(u64, u64)>,
}

/// The file name of segment `number`: six or more decimal digits and `.wal`.
pub(crate) fn segment_name(number: u64) -> String {
    format!("{number:06}.wal")
}

/// The segment number in a file name, if it is a segment's name.
pub(crate) fn parse_segment_name(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".wal")?;
    if stem.len() < 6 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// Creates segment `number` in `dir` holding only its header, fsyncs the file
/// and then the directory, so that the new file survives a power loss.
/// Returns the open file and the number of fsyncs done (file, directory).
pub(crate) fn create_segment(
    fs: &dyn FileSystem,
    dir: &Path,
    number: u64,
    first_lsn: Lsn,
) -> Result<(Box<dyn WritableFile>, PathBuf), WalError> {
    let path = dir.join(segment_name(number));
    let mut file = fs.create(&path).map_err(|e| WalError::io(&path, e))?;
    file.append(&encode_segment_header(first_lsn))
        .map_err(|e| WalError::io(&path, e))?;
    file.sync().map_err(|e| WalError::io(&path, e))?;
    fs.sync_dir(dir).map_err(|e| WalError::io(dir, e))?;
    tracing::debug!(segment = %path.display(), first_lsn, "created WAL segment");
    Ok((file, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_roundtrip() {
        assert_eq!(segment_name(1), "000001.wal");
        assert_eq!(segment_name(1_234_567), "1234567.wal");
        for n in [1, 42, 999_999, 1_000_000, u64::MAX] {
            assert_eq!(parse_segment_name(&segment_name(n)), Some(n));
        }
        for bad in [
            "1.wal",
            "00001.wal",
            "000001.wal.tmp",
            "wal.lock",
            "00000a.wal",
            "000001.WAL",
        ] {
            assert_eq!(parse_segment_name(bad), None, "{bad}");
        }
    }
}
