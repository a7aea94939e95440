//! Segment files: names, creation, metadata.

use std::path::{Path, PathBuf};

use strata_fs::{FileSystem, WritableFile};

use crate::format::{SEGMENT_HEADER_SIZE, encode_segment_header, end_marker_len, segment_tag};
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

/// The file name of a spare: a retired segment kept for reuse
/// (`NNNNNN.spare`, its old number). Recovery ignores spares.
pub(crate) fn spare_name(number: u64) -> String {
    format!("{number:06}.spare")
}

/// The old segment number in a spare's file name.
pub(crate) fn parse_spare_name(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".spare")?;
    if stem.len() < 6 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// A segment file open for writing.
pub(crate) struct NewSegment {
    pub(crate) file: Box<dyn WritableFile>,
    pub(crate) path: PathBuf,
    /// True when an old file (a spare) was reused.
    pub(crate) recycled: bool,
}

/// What a new segment is: its number, first LSN, header flags, and the
/// size its file is grown to.
pub(crate) struct SegmentSpec {
    pub(crate) number: u64,
    pub(crate) first_lsn: Lsn,
    pub(crate) flags: u16,
    pub(crate) preallocate: u64,
}

/// Creates segment `spec.number` in `dir` holding only its header and end
/// marker. When `durable`, the file is fsynced and then the directory, so
/// that the new file survives a power loss; else both are left to the
/// caller (see `Deferred` in `wal.rs`), which must pass a spare.
///
/// With `spare`, that retired segment's file is reused (its blocks are
/// allocated already, so writing over them changes no file size): the new
/// header and end marker are written over its start (and, when `durable`,
/// synced) *before* the file is renamed to its new name, so that a crash
/// leaves either a spare (ignored) or a segment with its new header, or (not
/// `durable`) one still holding the spare's old header, which recovery
/// tells by its tag (see `docs/wal-format.md`). Else a new file is created
/// and grown to `preallocate` bytes (zeros).
pub(crate) fn create_segment(
    fs: &dyn FileSystem,
    dir: &Path,
    spec: SegmentSpec,
    spare: Option<&Path>,
    durable: bool,
) -> Result<NewSegment, WalError> {
    let SegmentSpec {
        number,
        first_lsn,
        flags,
        preallocate,
    } = spec;
    let path = dir.join(segment_name(number));
    let mut head = encode_segment_header(first_lsn, segment_tag(number), flags).to_vec();
    head.resize(
        SEGMENT_HEADER_SIZE + end_marker_len(SEGMENT_HEADER_SIZE as u64),
        0,
    );
    let (file, recycled) = match spare {
        Some(old) => {
            let mut file = fs.open_overwrite(old).map_err(|e| WalError::io(old, e))?;
            file.write_at(0, &head).map_err(|e| WalError::io(old, e))?;
            file.preallocate(preallocate)
                .map_err(|e| WalError::io(old, e))?;
            if durable {
                file.sync().map_err(|e| WalError::io(old, e))?;
            }
            fs.rename(old, &path).map_err(|e| WalError::io(old, e))?;
            (file, true)
        }
        None => {
            let mut file = fs.create(&path).map_err(|e| WalError::io(&path, e))?;
            file.preallocate(preallocate)
                .map_err(|e| WalError::io(&path, e))?;
            file.write_at(0, &head)
                .map_err(|e| WalError::io(&path, e))?;
            file.sync().map_err(|e| WalError::io(&path, e))?;
            (file, false)
        }
    };
    if durable || !recycled {
        fs.sync_dir(dir).map_err(|e| WalError::io(dir, e))?;
    }
    tracing::debug!(segment = %path.display(), first_lsn, recycled, durable, "created WAL segment");
    Ok(NewSegment {
        file,
        path,
        recycled,
    })
}

/// Creates a spare file in `dir` for a later rotation to reuse (see
/// `Inner::prepare_spare` in `wal.rs`): `preallocate` zero bytes, fsynced,
/// its name made durable. Recovery ignores spares; a zero header never
/// passes as a segment's.
pub(crate) fn create_spare(
    fs: &dyn FileSystem,
    dir: &Path,
    number: u64,
    preallocate: u64,
) -> Result<PathBuf, WalError> {
    let path = dir.join(spare_name(number));
    let mut file = fs.create(&path).map_err(|e| WalError::io(&path, e))?;
    file.preallocate(preallocate.max(SEGMENT_HEADER_SIZE as u64))
        .map_err(|e| WalError::io(&path, e))?;
    file.sync().map_err(|e| WalError::io(&path, e))?;
    fs.sync_dir(dir).map_err(|e| WalError::io(dir, e))?;
    tracing::debug!(spare = %path.display(), "prepared a WAL spare");
    Ok(path)
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
        assert_eq!(spare_name(7), "000007.spare");
        assert_eq!(parse_spare_name(&spare_name(1_234_567)), Some(1_234_567));
        assert_eq!(parse_spare_name("000007.wal"), None);
        assert_eq!(parse_segment_name("000007.spare"), None);
    }
}
