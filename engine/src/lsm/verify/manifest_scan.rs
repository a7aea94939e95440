//! Checking `CURRENT` and the manifest it names, record by record.
//!
//! Unlike recovery (`manifest::decode_manifest`), which stops at the first
//! damaged record, the scrub goes on past a record whose payload fails its
//! checksum (its length is protected by the record header's own checksum)
//! so that every damaged record is reported. The format is in
//! `docs/manifest-format.md`.

use std::path::Path;

use strata_fs::FileSystem;

use super::report::{ProblemKind, VerifyReport};
use super::{read_whole, short};
use crate::lsm::manifest::{
    CURRENT, FILE_HEADER_LEN, MAX_RECORD, ManifestState, RECORD_HEADER_LEN, parse_manifest_name,
};
use crate::lsm::version::VersionEdit;
use crate::lsm::{MANIFEST_MAGIC, MANIFEST_VERSION};

/// The live manifest as the scrub found it.
#[derive(Debug)]
pub(super) struct ScannedManifest {
    /// Its file number (from `CURRENT`).
    pub number: u64,
    /// The state its records describe, when every record could be applied.
    pub state: Option<ManifestState>,
}

/// Checks `CURRENT` and the manifest it names. `None` when `CURRENT` is
/// missing or unreadable (reported).
pub(super) fn check(
    fs: &dyn FileSystem,
    dir: &Path,
    report: &mut VerifyReport,
) -> Option<ScannedManifest> {
    let current = dir.join(CURRENT);
    let bytes = read_whole(fs, &current, report)?;
    let Some(name) = parse_current(&bytes) else {
        report.add(
            &current,
            Some(0),
            ProblemKind::Corruption,
            format!(
                "CURRENT must hold MANIFEST-<number> and a newline, found {:?}",
                short(&bytes)
            ),
        );
        return None;
    };
    let number = parse_manifest_name(name)?;
    let path = dir.join(name);
    let data = read_whole(fs, &path, report)?;
    let state = scan(&path, &data, report);
    Some(ScannedManifest { number, state })
}

/// The manifest name `CURRENT` holds, if it is well-formed.
fn parse_current(bytes: &[u8]) -> Option<&str> {
    let name = std::str::from_utf8(bytes).ok()?.strip_suffix('\n')?;
    parse_manifest_name(name).map(|_| name)
}

fn u32_at(data: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    if let Some(s) = data.get(at..at + 4) {
        b.copy_from_slice(s);
    }
    u32::from_le_bytes(b)
}

/// Checks every record of a manifest; returns the state it describes when
/// all of them are intact.
pub(super) fn scan(path: &Path, data: &[u8], report: &mut VerifyReport) -> Option<ManifestState> {
    let header = match data.get(..FILE_HEADER_LEN) {
        Some(h) if h[..8] == MANIFEST_MAGIC => h,
        _ => {
            report.add(
                path,
                Some(0),
                ProblemKind::Corruption,
                format!(
                    "bad manifest header ({} bytes, starting {:02x?})",
                    data.len(),
                    short(data)
                ),
            );
            return None;
        }
    };
    if crc32fast::hash(&header[..12]) != u32_at(header, 12) {
        report.add(
            path,
            Some(8),
            ProblemKind::Corruption,
            "manifest header checksum mismatch",
        );
        return None;
    }
    let version = u32_at(header, 8);
    if version != MANIFEST_VERSION {
        report.add(
            path,
            Some(8),
            ProblemKind::UnsupportedVersion,
            format!("manifest format version {version}, this build reads {MANIFEST_VERSION}"),
        );
        return None;
    }
    let mut state = Some(ManifestState::default());
    let mut pos = FILE_HEADER_LEN;
    let mut records = 0u64;
    while pos < data.len() {
        let left = data.len() - pos;
        if left < RECORD_HEADER_LEN {
            report.add(
                path,
                Some(pos as u64),
                ProblemKind::TornTail,
                format!("the manifest ends in {left} bytes of an incomplete record header (an unacknowledged append; recovery ignores it)"),
            );
            break;
        }
        let h = &data[pos..pos + RECORD_HEADER_LEN];
        if crc32fast::hash(&h[..8]) != u32_at(h, 8) {
            report.add(
                path,
                Some(pos as u64),
                ProblemKind::Corruption,
                format!(
                    "record header checksum mismatch; the {left} bytes from here cannot be read"
                ),
            );
            return None;
        }
        let len = u32_at(h, 0);
        if len > MAX_RECORD {
            report.add(
                path,
                Some(pos as u64),
                ProblemKind::Corruption,
                format!("record length {len} exceeds {MAX_RECORD}"),
            );
            return None;
        }
        let start = pos + RECORD_HEADER_LEN;
        let end = start + len as usize;
        let Some(payload) = data.get(start..end) else {
            report.add(
                path,
                Some(pos as u64),
                ProblemKind::TornTail,
                format!(
                    "the last record ({len} bytes) is cut off after {} bytes (an unacknowledged append; recovery ignores it)",
                    data.len() - start
                ),
            );
            break;
        };
        records += 1;
        if crc32fast::hash(payload) != u32_at(h, 4) {
            report.add(
                path,
                Some(pos as u64),
                ProblemKind::Corruption,
                format!("record {records} ({len} bytes): payload checksum mismatch"),
            );
            state = None;
        } else {
            match VersionEdit::decode(payload) {
                Err((off, reason)) => {
                    report.add(
                        path,
                        Some((start + off) as u64),
                        ProblemKind::Corruption,
                        format!("record {records}: bad version edit: {reason}"),
                    );
                    state = None;
                }
                Ok(edit) => {
                    if let Some(s) = state.as_mut() {
                        apply_checked(s, &edit, path, pos, report);
                    }
                }
            }
        }
        pos = end;
    }
    if records == 0 {
        report.add(
            path,
            Some(FILE_HEADER_LEN as u64),
            ProblemKind::Corruption,
            "the manifest holds no snapshot record",
        );
        return None;
    }
    state
}

/// Applies an edit, reporting deletions of tables that are not live.
fn apply_checked(
    state: &mut ManifestState,
    edit: &VersionEdit,
    path: &Path,
    pos: usize,
    report: &mut VerifyReport,
) {
    for &(level, number) in &edit.deleted {
        let live = state
            .levels
            .get(level as usize)
            .is_some_and(|l| l.iter().any(|m| m.number == number));
        if !live {
            report.add(
                path,
                Some(pos as u64),
                ProblemKind::Inconsistent,
                format!("edit deletes table {number}, which is not live at L{level}"),
            );
        }
    }
    state.apply(edit);
}
