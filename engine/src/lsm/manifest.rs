//! The manifest: an append-only, checksummed log of version edits, plus a
//! `CURRENT` file naming the live manifest. Specified in
//! `docs/manifest-format.md`.
//!
//! Every open writes a fresh manifest holding one snapshot edit of the whole
//! state, switches `CURRENT` to it atomically ([`strata_fs::write_atomic`]),
//! and deletes the old one; the same rewrite happens when the log grows past
//! a size limit. Each later edit is appended and fsynced before it takes
//! effect.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use strata_fs::{FileSystem, WritableFile};

use super::error::{Error, Result};
use super::ikey::SeqNo;
use super::recovery::ManifestTail;
use super::version::{FileMeta, NUM_LEVELS, VersionEdit};

/// The first 8 bytes of every manifest file.
pub const MANIFEST_MAGIC: [u8; 8] = *b"STRATAMF";
/// The manifest format version this code writes and reads.
pub const MANIFEST_VERSION: u32 = 1;
/// Manifest file header: magic, version, CRC.
pub(crate) const FILE_HEADER_LEN: usize = 16;
/// Record header: length, payload CRC, header CRC.
pub(crate) const RECORD_HEADER_LEN: usize = 12;
/// Largest record accepted when reading (a snapshot of a huge tree fits).
pub(crate) const MAX_RECORD: u32 = 1 << 30;

pub(crate) const CURRENT: &str = "CURRENT";

pub(crate) fn manifest_name(number: u64) -> String {
    format!("MANIFEST-{number:06}")
}

/// Parses `MANIFEST-NNNNNN` into its number.
pub(crate) fn parse_manifest_name(name: &str) -> Option<u64> {
    let n = name.strip_prefix("MANIFEST-")?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse().ok()
}

/// The persistent state a manifest describes.
#[derive(Debug, Clone, Default)]
pub(crate) struct ManifestState {
    pub levels: [Vec<FileMeta>; NUM_LEVELS],
    pub next_file_number: u64,
    pub last_seq: SeqNo,
    pub flushed_lsn: u64,
    pub flushed_seq: SeqNo,
    pub compact_pointers: [Vec<u8>; NUM_LEVELS],
}

impl ManifestState {
    pub(crate) fn apply(&mut self, e: &VersionEdit) {
        if let Some(n) = e.next_file_number {
            self.next_file_number = self.next_file_number.max(n);
        }
        if let Some(n) = e.last_seq {
            self.last_seq = self.last_seq.max(n);
        }
        if let Some(n) = e.flushed_lsn {
            self.flushed_lsn = self.flushed_lsn.max(n);
        }
        if let Some(n) = e.flushed_seq {
            self.flushed_seq = self.flushed_seq.max(n);
        }
        for &(level, number) in &e.deleted {
            self.levels[level as usize].retain(|m| m.number != number);
        }
        for (level, m) in &e.added {
            self.levels[*level as usize].push(m.clone());
        }
        for (level, k) in &e.compact_pointers {
            self.compact_pointers[*level as usize] = k.clone();
        }
    }

    /// One edit that recreates this whole state.
    pub(crate) fn snapshot_edit(&self) -> VersionEdit {
        let mut e = VersionEdit {
            next_file_number: Some(self.next_file_number),
            last_seq: Some(self.last_seq),
            flushed_lsn: Some(self.flushed_lsn),
            flushed_seq: Some(self.flushed_seq),
            ..VersionEdit::default()
        };
        for (l, files) in self.levels.iter().enumerate() {
            for m in files {
                e.added.push((l as u8, m.clone()));
            }
            if !self.compact_pointers[l].is_empty() {
                e.compact_pointers
                    .push((l as u8, self.compact_pointers[l].clone()));
            }
        }
        e
    }
}

fn frame(payload: &[u8], out: &mut Vec<u8>) {
    let len = (payload.len() as u32).to_le_bytes();
    let crc = crc32fast::hash(payload).to_le_bytes();
    let mut h = crc32fast::Hasher::new();
    h.update(&len);
    h.update(&crc);
    out.extend_from_slice(&len);
    out.extend_from_slice(&crc);
    out.extend_from_slice(&h.finalize().to_le_bytes());
    out.extend_from_slice(payload);
}

fn file_header() -> [u8; FILE_HEADER_LEN] {
    let mut h = [0u8; FILE_HEADER_LEN];
    h[..8].copy_from_slice(&MANIFEST_MAGIC);
    h[8..12].copy_from_slice(&MANIFEST_VERSION.to_le_bytes());
    let crc = crc32fast::hash(&h[..12]);
    h[12..].copy_from_slice(&crc.to_le_bytes());
    h
}

/// An open manifest being appended to.
#[derive(Debug)]
pub(crate) struct ManifestWriter {
    file: Box<dyn WritableFile>,
    path: PathBuf,
    number: u64,
    buf: Vec<u8>,
}

impl ManifestWriter {
    /// Creates manifest `number` in `dir` holding a snapshot of `state`,
    /// makes it durable and points `CURRENT` at it.
    pub(crate) fn create(
        fs: &Arc<dyn FileSystem>,
        dir: &Path,
        number: u64,
        state: &ManifestState,
    ) -> Result<ManifestWriter> {
        let path = dir.join(manifest_name(number));
        let mut file = fs
            .create(&path)
            .map_err(|e| Error::io("creating the manifest", &path, e))?;
        let mut buf = file_header().to_vec();
        let mut payload = Vec::new();
        state.snapshot_edit().encode(&mut payload);
        frame(&payload, &mut buf);
        file.append(&buf)
            .and_then(|()| file.sync())
            .map_err(|e| Error::io("writing the manifest", &path, e))?;
        fs.sync_dir(dir)
            .map_err(|e| Error::io("syncing the tree directory", dir, e))?;
        let current = dir.join(CURRENT);
        strata_fs::write_atomic(
            fs.as_ref(),
            &current,
            format!("{}\n", manifest_name(number)).as_bytes(),
        )
        .map_err(|e| Error::io("switching CURRENT to the new manifest", &current, e))?;
        Ok(ManifestWriter {
            file,
            path,
            number,
            buf: Vec::new(),
        })
    }

    pub(crate) fn number(&self) -> u64 {
        self.number
    }

    pub(crate) fn size(&self) -> u64 {
        self.file.len()
    }

    /// Appends one edit and fsyncs it. When this fails the manifest's tail
    /// is unknown: the caller must stop using this writer.
    pub(crate) fn append(&mut self, edit: &VersionEdit) -> Result<()> {
        let mut payload = Vec::new();
        edit.encode(&mut payload);
        self.buf.clear();
        frame(&payload, &mut self.buf);
        let path = &self.path;
        self.file
            .append(&self.buf)
            .and_then(|()| self.file.sync())
            .map_err(|e| Error::io("appending to the manifest", path, e))
    }
}

/// A recovered manifest: its number, the state it describes, and the torn
/// append at its end that was ignored, if any.
pub(crate) type Recovered = (u64, ManifestState, Option<ManifestTail>);

/// Reads `CURRENT` and the manifest it names. `Ok(None)` when there is no
/// `CURRENT` (a new tree). Reads only.
pub(crate) fn recover(fs: &Arc<dyn FileSystem>, dir: &Path) -> Result<Option<Recovered>> {
    let current = dir.join(CURRENT);
    if !fs.exists(&current) {
        return Ok(None);
    }
    let bytes = fs
        .read_all(&current)
        .map_err(|e| Error::io("reading CURRENT", &current, e))?;
    let corrupt = |reason: String| Error::Corruption {
        path: current.clone(),
        offset: 0,
        reason,
    };
    let text = std::str::from_utf8(&bytes).map_err(|_| corrupt("CURRENT is not UTF-8".into()))?;
    let name = text
        .strip_suffix('\n')
        .ok_or_else(|| corrupt(format!("CURRENT does not end with a newline: {text:?}")))?;
    let number = parse_manifest_name(name).ok_or_else(|| {
        corrupt(format!(
            "CURRENT names {name:?}, expected MANIFEST-<number>"
        ))
    })?;
    let path = dir.join(name);
    let data = fs
        .read_all(&path)
        .map_err(|e| Error::io("reading the manifest named by CURRENT", &path, e))?;
    let (state, tail) = decode_manifest(&path, &data)?;
    Ok(Some((number, state, tail)))
}

/// Replays a whole manifest file.
///
/// A torn append — a record cut short by the end of the file, or a tail of
/// zero bytes (allocated but never written) — ends the log and is returned
/// as a [`ManifestTail`]: nothing valid can follow it. Any other damage
/// (a checksum mismatch with non-zero bytes, an edit that does not decode)
/// is an error naming the offset, even in the last record: every edit is
/// fsynced before it takes effect, so a complete record is never torn.
pub(crate) fn decode_manifest(
    path: &Path,
    data: &[u8],
) -> Result<(ManifestState, Option<ManifestTail>)> {
    let corrupt = |offset: usize, reason: String| Error::Corruption {
        path: path.to_path_buf(),
        offset: offset as u64,
        reason,
    };
    if data.len() < FILE_HEADER_LEN {
        return Err(corrupt(
            0,
            format!("file of {} bytes is shorter than the header", data.len()),
        ));
    }
    if data[..8] != MANIFEST_MAGIC {
        return Err(corrupt(
            0,
            format!(
                "bad magic {:02x?}, expected {:02x?}",
                &data[..8],
                MANIFEST_MAGIC
            ),
        ));
    }
    let hcrc = u32::from_le_bytes([data[12], data[13], data[14], data[15]]);
    if crc32fast::hash(&data[..12]) != hcrc {
        return Err(corrupt(8, "header checksum mismatch".into()));
    }
    let version = u32::from_le_bytes([data[8], data[9], data[10], data[11]]);
    if version != MANIFEST_VERSION {
        return Err(corrupt(
            8,
            format!("format version {version}, this build reads {MANIFEST_VERSION}"),
        ));
    }
    let mut state = ManifestState::default();
    let mut pos = FILE_HEADER_LEN;
    let mut records = 0u64;
    let mut tail = None;
    let torn = |pos: usize, reason: &str| {
        tracing::warn!(path = %path.display(), offset = pos, reason, "manifest ends in a torn append; ignoring it");
        Some(ManifestTail {
            path: path.to_path_buf(),
            offset: pos as u64,
            bytes: (data.len() - pos) as u64,
            reason: reason.to_owned(),
        })
    };
    while pos < data.len() {
        if data[pos..].iter().all(|&b| b == 0) {
            tail = torn(
                pos,
                "the file ends in zero bytes where a record would start",
            );
            break;
        }
        if data.len() - pos < RECORD_HEADER_LEN {
            tail = torn(pos, "the file ends inside a record header");
            break;
        }
        let h = &data[pos..pos + RECORD_HEADER_LEN];
        let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let crc = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
        let hcrc = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
        if crc32fast::hash(&h[..8]) != hcrc {
            return Err(corrupt(pos, "record header checksum mismatch".into()));
        }
        if len > MAX_RECORD {
            return Err(corrupt(
                pos,
                format!("record length {len} exceeds {MAX_RECORD}"),
            ));
        }
        let start = pos + RECORD_HEADER_LEN;
        let end = start + len as usize;
        if end > data.len() {
            tail = torn(pos, "the file ends inside a record's payload");
            break;
        }
        let payload = &data[start..end];
        if crc32fast::hash(payload) != crc {
            return Err(corrupt(
                pos,
                format!("record checksum mismatch (record of {len} bytes)"),
            ));
        }
        let edit = VersionEdit::decode(payload)
            .map_err(|(off, reason)| corrupt(start + off, format!("bad version edit: {reason}")))?;
        for &(level, number) in &edit.deleted {
            if !state.levels[level as usize]
                .iter()
                .any(|m| m.number == number)
            {
                return Err(corrupt(
                    pos,
                    format!("edit deletes table {number} not live at L{level}"),
                ));
            }
        }
        state.apply(&edit);
        records += 1;
        pos = end;
    }
    if records == 0 {
        return Err(corrupt(
            FILE_HEADER_LEN,
            "manifest holds no snapshot record".into(),
        ));
    }
    Ok((state, tail))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lsm::ikey::{self, ValueKind};
    use strata_fs::FaultFs;

    fn meta(n: u64) -> FileMeta {
        FileMeta {
            number: n,
            size: 100,
            entries: 1,
            smallest: ikey::encode(b"a", 1, ValueKind::Put),
            largest: ikey::encode(b"b", 1, ValueKind::Put),
            smallest_seq: 1,
            largest_seq: 1,
        }
    }

    #[test]
    fn create_append_recover_and_torn_tail() {
        let fs: Arc<dyn FileSystem> = Arc::new(FaultFs::new());
        let dir = Path::new("/t");
        fs.create_dir_all(dir).unwrap();
        let mut st = ManifestState {
            next_file_number: 5,
            ..Default::default()
        };
        st.levels[0].push(meta(3));
        let mut w = ManifestWriter::create(&fs, dir, 4, &st).unwrap();
        let e = VersionEdit {
            added: vec![(1, meta(6))],
            deleted: vec![(0, 3)],
            next_file_number: Some(7),
            last_seq: Some(42),
            ..Default::default()
        };
        w.append(&e).unwrap();
        let (n, got, tail) = recover(&fs, dir).unwrap().unwrap();
        assert_eq!(tail, None);
        assert_eq!(n, 4);
        assert!(got.levels[0].is_empty());
        assert_eq!(got.levels[1][0].number, 6);
        assert_eq!(got.last_seq, 42);
        assert_eq!(got.next_file_number, 7);

        let path = dir.join(manifest_name(4));
        let data = fs.read_all(&path).unwrap();
        // Every truncation inside the last record is a torn tail: the state
        // before that edit.
        let last_start = data.len() - {
            let mut p = Vec::new();
            e.encode(&mut p);
            p.len() + RECORD_HEADER_LEN
        };
        for cut in last_start..data.len() {
            let (s, tail) = decode_manifest(&path, &data[..cut]).unwrap();
            assert_eq!(s.levels[0][0].number, 3, "cut {cut}");
            if cut > last_start {
                let t = tail.unwrap();
                assert_eq!(
                    (t.offset, t.bytes),
                    (last_start as u64, (cut - last_start) as u64)
                );
            }
        }
        // Zero bytes after the last record (allocated, never written): torn.
        let mut z = data.clone();
        z.extend([0u8; 40]);
        let (s, tail) = decode_manifest(&path, &z).unwrap();
        assert!(s.levels[0].is_empty());
        assert_eq!(tail.unwrap().offset, data.len() as u64);
        // Every flipped byte is detected.
        for off in 0..data.len() {
            let mut d = data.clone();
            d[off] ^= 0x10;
            match decode_manifest(&path, &d) {
                Err(Error::Corruption { offset, .. }) => assert!(offset <= off as u64),
                other => panic!("flip at {off} not detected: {other:?}"),
            }
        }
    }

    #[test]
    fn bad_current() {
        let fs: Arc<dyn FileSystem> = Arc::new(FaultFs::new());
        let dir = Path::new("/t");
        fs.create_dir_all(dir).unwrap();
        strata_fs::write_atomic(fs.as_ref(), &dir.join(CURRENT), b"garbage").unwrap();
        assert!(matches!(recover(&fs, dir), Err(Error::Corruption { .. })));
        assert_eq!(parse_manifest_name("MANIFEST-000012"), Some(12));
        assert_eq!(parse_manifest_name("MANIFEST-x"), None);
    }
}
