//! Reading a segment: header, blocks, fragments, reassembled records.

use std::io;
use std::sync::Arc;

use strata_fs::RandomAccessFile;

use crate::Lsn;
use crate::format::{
    BLOCK_SIZE, FRAGMENT_HEADER_SIZE, HeaderFault, KNOWN_FLAGS, SEGMENT_HEADER_SIZE, SegmentHeader,
    TYPE_FIRST, TYPE_FULL, TYPE_LAST, TYPE_MIDDLE, decode_fragment_header, decode_segment_header,
    encode_segment_header, fragment_crc, frame_record,
};

/// Where segment bytes come from: a file or a byte slice.
pub(crate) trait Source {
    fn len(&self) -> u64;
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
}

impl Source for Arc<dyn RandomAccessFile> {
    fn len(&self) -> u64 {
        RandomAccessFile::len(&**self)
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        RandomAccessFile::read_exact_at(&**self, offset, buf)
    }
}

impl Source for &[u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let start = usize::try_from(offset)
            .map_err(|_| io::Error::new(io::ErrorKind::UnexpectedEof, "offset out of range"))?;
        let src = start
            .checked_add(buf.len())
            .and_then(|end| self.get(start..end))
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "read past the end"))?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// A problem found while reading a segment.
#[derive(Debug)]
pub(crate) enum ScanError {
    /// Reading failed.
    Io(io::Error),
    /// The bytes at `offset` are damaged or incomplete.
    Corrupt { offset: u64, reason: String },
}

/// What reading the segment header found.
#[derive(Debug)]
pub(crate) enum HeaderState {
    /// A valid header.
    Valid(SegmentHeader),
    /// The file is shorter than a header, or the header and everything after
    /// it are zero bytes: the segment's creation was torn by a crash.
    TornCreation,
    /// A damaged header.
    Bad(HeaderFault),
}

/// Reads and checks the segment header of `src`.
pub(crate) fn read_header<S: Source>(src: &S) -> Result<HeaderState, io::Error> {
    let len = src.len();
    if len < SEGMENT_HEADER_SIZE as u64 {
        return Ok(HeaderState::TornCreation);
    }
    let mut h = [0u8; SEGMENT_HEADER_SIZE];
    src.read_exact_at(0, &mut h)?;
    match decode_segment_header(&h) {
        Ok(h) => Ok(HeaderState::Valid(h)),
        Err(fault) => {
            if h.iter().all(|&b| b == 0) && all_zero_from(src, SEGMENT_HEADER_SIZE as u64)? {
                Ok(HeaderState::TornCreation)
            } else {
                Ok(HeaderState::Bad(fault))
            }
        }
    }
}

/// The checksum seed to read a segment with when its header is damaged: the
/// tag field if the version field says 2, else none (best effort, for tools
/// that list what follows a bad header).
pub(crate) fn seed_guess<S: Source>(src: &S) -> Option<u32> {
    let mut h = [0u8; SEGMENT_HEADER_SIZE];
    src.read_exact_at(0, &mut h).ok()?;
    let version = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
    (version >= 2).then(|| u32::from_le_bytes([h[24], h[25], h[26], h[27]]))
}

fn all_zero_from<S: Source>(src: &S, mut offset: u64) -> io::Result<bool> {
    let len = src.len();
    let mut buf = vec![0u8; BLOCK_SIZE];
    while offset < len {
        let n = usize::try_from((len - offset).min(BLOCK_SIZE as u64)).unwrap_or(BLOCK_SIZE);
        src.read_exact_at(offset, &mut buf[..n])?;
        if buf[..n].iter().any(|&b| b != 0) {
            return Ok(false);
        }
        offset += n as u64;
    }
    Ok(true)
}

/// Finds the first offset `>= from` (and after the segment header) where a
/// fragment passes every check a reader applies to a single fragment: flags,
/// type, length within its block and the file, FIRST and MIDDLE filling their
/// block, and the checksum. MIDDLE and LAST fragments can only begin at a
/// block boundary (a FIRST fills the rest of its block), so they are looked
/// for only there; FULL and FIRST fragments at every offset. With
/// `record_starts_only`, only FULL and FIRST fragments count.
///
/// Recovery uses it to tell a torn tail (nothing valid after the damage)
/// from corruption (complete, checksummed data follows it, which a crash
/// cannot leave behind), and salvage to find where to resume. A match inside
/// the payload of a damaged record needs the payload to hold a complete
/// fragment with a valid 32-bit checksum.
///
/// `seed` is the segment's checksum seed (version 2: its tag): fragments of
/// an older segment left in a recycled file do not count.
pub(crate) fn find_valid_fragment<S: Source>(
    src: &S,
    from: u64,
    record_starts_only: bool,
    seed: Option<u32>,
) -> io::Result<Option<u64>> {
    let len = src.len();
    let h = FRAGMENT_HEADER_SIZE as u64;
    let mut p = from.max(SEGMENT_HEADER_SIZE as u64);
    let mut block = vec![0u8; BLOCK_SIZE];
    while p + h <= len {
        let block_start = p - p % BLOCK_SIZE as u64;
        let n = usize::try_from((len - block_start).min(BLOCK_SIZE as u64)).unwrap_or(BLOCK_SIZE);
        src.read_exact_at(block_start, &mut block[..n])?;
        let first = usize::try_from(p - block_start).unwrap_or(BLOCK_SIZE);
        let bytes = &block[..n];
        for i in first..n {
            if fragment_valid_at(bytes, i, record_starts_only, seed) {
                return Ok(Some(block_start + i as u64));
            }
        }
        p = block_start + BLOCK_SIZE as u64;
    }
    Ok(None)
}

/// Whether a fragment at offset `i` of a block (of which `block` is the
/// stored prefix) is valid on its own.
fn fragment_valid_at(block: &[u8], i: usize, record_starts_only: bool, seed: Option<u32>) -> bool {
    let leftover = BLOCK_SIZE - i;
    if leftover < FRAGMENT_HEADER_SIZE || i + FRAGMENT_HEADER_SIZE > block.len() {
        return false;
    }
    let header = &block[i..i + FRAGMENT_HEADER_SIZE];
    let (stored_crc, len, kind, flags) = decode_fragment_header(header);
    if flags & !KNOWN_FLAGS != 0 {
        return false;
    }
    let fills_block = FRAGMENT_HEADER_SIZE + len == leftover;
    let plausible = match kind {
        TYPE_FULL => true,
        TYPE_FIRST => fills_block,
        TYPE_MIDDLE => !record_starts_only && i == 0 && fills_block,
        TYPE_LAST => !record_starts_only && i == 0,
        _ => false,
    };
    if !plausible || FRAGMENT_HEADER_SIZE + len > leftover {
        return false;
    }
    let payload_at = i + FRAGMENT_HEADER_SIZE;
    let Some(payload) = block.get(payload_at..payload_at + len) else {
        return false;
    };
    fragment_crc(seed, &header[4..8], payload) == stored_crc
}

/// Reads the records of one segment after its header, one block at a time.
#[derive(Debug)]
pub(crate) struct SegmentReader<S> {
    src: S,
    len: u64,
    /// Absolute offset of the next byte to parse.
    pos: u64,
    /// The loaded block (`block_start .. block_start + block.len()`).
    block: Vec<u8>,
    block_start: u64,
    block_loaded: bool,
    /// Damaged ranges `(start, resume)` that salvage recovery decided to
    /// skip: when a record would start at `start`, reading resumes at `resume`.
    skips: Vec<(u64, u64)>,
    /// The segment's checksum seed (version 2), if any.
    seed: Option<u32>,
    /// Version 2: zeros where a record would start end the records.
    end_marker: bool,
}

impl<S: Source> SegmentReader<S> {
    /// A reader positioned after the header of a segment of format
    /// `version` (1 or 2) whose checksum seed is `seed`.
    pub(crate) fn new(src: S, version: u32, seed: Option<u32>) -> Self {
        Self::with_skips(src, Vec::new(), version, seed)
    }

    /// A reader that jumps over the damaged ranges in `skips` (sorted
    /// `(start, resume)` pairs found by salvage recovery).
    pub(crate) fn with_skips(
        src: S,
        skips: Vec<(u64, u64)>,
        version: u32,
        seed: Option<u32>,
    ) -> Self {
        let len = src.len();
        SegmentReader {
            src,
            len,
            pos: SEGMENT_HEADER_SIZE as u64,
            block: Vec::with_capacity(BLOCK_SIZE),
            block_start: 0,
            block_loaded: false,
            skips,
            seed,
            end_marker: version >= 2,
        }
    }

    /// The segment's checksum seed.
    pub(crate) fn seed(&self) -> Option<u32> {
        self.seed
    }

    /// Continues reading at `pos` (the start of a record).
    pub(crate) fn seek(&mut self, pos: u64) {
        self.pos = pos;
    }

    /// The offset of the next byte to parse (after the last record read).
    pub(crate) fn pos(&self) -> u64 {
        self.pos
    }

    /// The underlying source.
    pub(crate) fn source(&self) -> &S {
        &self.src
    }

    /// The length of the segment as seen by this reader.
    pub(crate) fn file_len(&self) -> u64 {
        self.len
    }

    fn ensure_block(&mut self) -> Result<(), ScanError> {
        let start = self.pos - self.pos % BLOCK_SIZE as u64;
        if self.block_loaded && self.block_start == start {
            return Ok(());
        }
        let n = usize::try_from((self.len - start).min(BLOCK_SIZE as u64)).unwrap_or(BLOCK_SIZE);
        self.block.resize(n, 0);
        self.src
            .read_exact_at(start, &mut self.block)
            .map_err(ScanError::Io)?;
        self.block_start = start;
        self.block_loaded = true;
        Ok(())
    }

    /// Reads the next record. With `out`, its payload replaces the contents
    /// of `out`; without, the record is only checked. Returns the record's
    /// end offset, or `None` at a clean end of the segment.
    pub(crate) fn next_record(
        &mut self,
        mut out: Option<&mut Vec<u8>>,
    ) -> Result<Option<u64>, ScanError> {
        if let Some(o) = out.as_deref_mut() {
            o.clear();
        }
        // Skips chain: a record that resumes reading after one damaged range
        // may itself start a later one.
        while let Some(&(_, resume)) = self.skips.iter().find(|(start, _)| *start == self.pos) {
            if resume <= self.pos {
                break;
            }
            self.pos = resume;
        }
        // Offset of the FIRST fragment of the record being assembled.
        let mut record_start: Option<u64> = None;
        loop {
            let pos = self.pos;
            if pos >= self.len {
                return match record_start {
                    None => Ok(None),
                    Some(rs) => Err(ScanError::Corrupt {
                        offset: pos,
                        reason: format!(
                            "segment ends inside a record whose first fragment is at offset {rs}"
                        ),
                    }),
                };
            }
            self.ensure_block()?;
            let in_block = (pos - self.block_start) as usize;
            let leftover = BLOCK_SIZE - in_block;
            if leftover < FRAGMENT_HEADER_SIZE {
                // Block trailer: zero padding the writer left because a
                // header did not fit. It must be zero.
                let end = (in_block + leftover).min(self.block.len());
                if let Some(i) = self.block[in_block..end].iter().position(|&b| b != 0) {
                    return Err(ScanError::Corrupt {
                        offset: pos + i as u64,
                        reason: "non-zero byte in block trailer padding".to_owned(),
                    });
                }
                self.pos += (end - in_block) as u64;
                continue;
            }
            let avail_in_file = self.block.len() - in_block;
            if self.end_marker && record_start.is_none() && avail_in_file >= FRAGMENT_HEADER_SIZE {
                let head = &self.block[in_block..in_block + FRAGMENT_HEADER_SIZE];
                if head.iter().all(|&b| b == 0) {
                    // The writer's end marker (or never-written preallocated
                    // space): the end of the records, unless this segment's
                    // data follows (a zeroed header: corruption).
                    return match find_valid_fragment(&self.src, pos, false, self.seed)
                        .map_err(ScanError::Io)?
                    {
                        None => Ok(None),
                        Some(v) => Err(ScanError::Corrupt {
                            offset: pos,
                            reason: format!(
                                "zero-filled fragment header, but a valid fragment of this segment follows at offset {v}"
                            ),
                        }),
                    };
                }
            }
            if self.end_marker
                && record_start.is_none()
                && avail_in_file < FRAGMENT_HEADER_SIZE
                && self.block[in_block..].iter().all(|&b| b == 0)
            {
                // A torn end marker: the writer's zeros after the last record, cut
                // short by a crash. No record starts here (a record's header can
                // begin with up to 7 zero bytes only if its checksum and length
                // both do; such a record was torn before it was synced anyway).
                return Ok(None);
            }
            if avail_in_file < FRAGMENT_HEADER_SIZE {
                return Err(ScanError::Corrupt {
                    offset: pos,
                    reason: format!(
                        "truncated fragment header: {avail_in_file} of {FRAGMENT_HEADER_SIZE} bytes before the end of the segment"
                    ),
                });
            }
            let header = &self.block[in_block..in_block + FRAGMENT_HEADER_SIZE];
            let (stored_crc, len, kind, flags) = decode_fragment_header(header);
            if header.iter().all(|&b| b == 0) {
                return Err(ScanError::Corrupt {
                    offset: pos,
                    reason: "zero-filled fragment header (preallocated or torn write)".to_owned(),
                });
            }
            if FRAGMENT_HEADER_SIZE + len > leftover {
                return Err(ScanError::Corrupt {
                    offset: pos,
                    reason: format!(
                        "fragment length {len} overruns its block ({} bytes left)",
                        leftover - FRAGMENT_HEADER_SIZE
                    ),
                });
            }
            if FRAGMENT_HEADER_SIZE + len > avail_in_file {
                return Err(ScanError::Corrupt {
                    offset: pos,
                    reason: format!(
                        "truncated fragment: {} payload bytes of {len} before the end of the segment",
                        avail_in_file - FRAGMENT_HEADER_SIZE
                    ),
                });
            }
            let payload_at = in_block + FRAGMENT_HEADER_SIZE;
            let payload = &self.block[payload_at..payload_at + len];
            let computed = fragment_crc(self.seed, &header[4..8], payload);
            if computed != stored_crc {
                return Err(ScanError::Corrupt {
                    offset: pos,
                    reason: format!(
                        "fragment checksum mismatch: stored {stored_crc:#010x}, computed {computed:#010x}"
                    ),
                });
            }
            if flags & !KNOWN_FLAGS != 0 {
                return Err(ScanError::Corrupt {
                    offset: pos + 7,
                    reason: format!("unknown fragment flags {flags:#04x}"),
                });
            }
            let fills_block = FRAGMENT_HEADER_SIZE + len == leftover;
            match kind {
                TYPE_FULL | TYPE_FIRST => {
                    if let Some(rs) = record_start {
                        return Err(ScanError::Corrupt {
                            offset: pos,
                            reason: format!(
                                "{} fragment while the record begun at offset {rs} is unfinished",
                                type_name(kind)
                            ),
                        });
                    }
                    if kind == TYPE_FIRST && !fills_block {
                        return Err(ScanError::Corrupt {
                            offset: pos,
                            reason: "FIRST fragment does not fill its block".to_owned(),
                        });
                    }
                    record_start = Some(pos);
                }
                TYPE_MIDDLE | TYPE_LAST => {
                    if record_start.is_none() {
                        return Err(ScanError::Corrupt {
                            offset: pos,
                            reason: format!(
                                "{} fragment without a FIRST fragment before it",
                                type_name(kind)
                            ),
                        });
                    }
                    if kind == TYPE_MIDDLE && !fills_block {
                        return Err(ScanError::Corrupt {
                            offset: pos,
                            reason: "MIDDLE fragment does not fill its block".to_owned(),
                        });
                    }
                }
                other => {
                    return Err(ScanError::Corrupt {
                        offset: pos + 6,
                        reason: format!("unknown fragment type {other}"),
                    });
                }
            }
            if let Some(o) = out.as_deref_mut() {
                o.extend_from_slice(payload);
            }
            self.pos = pos + (FRAGMENT_HEADER_SIZE + len) as u64;
            if kind == TYPE_FULL || kind == TYPE_LAST {
                return Ok(Some(self.pos));
            }
        }
    }
}

fn type_name(kind: u8) -> &'static str {
    match kind {
        TYPE_FULL => "FULL",
        TYPE_FIRST => "FIRST",
        TYPE_MIDDLE => "MIDDLE",
        TYPE_LAST => "LAST",
        _ => "unknown",
    }
}

/// How a segment read with [`read_segment_bytes`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SegmentEnd {
    /// The bytes end after a complete record (or in the zero padding after one).
    Clean,
    /// Damaged or incomplete bytes follow the last good record.
    Corrupt {
        /// Where the problem was found.
        offset: u64,
        /// Where the good prefix ends (the end of the last good record, or
        /// the end of the header): recovery would truncate the segment here.
        good_len: u64,
        /// What was wrong.
        reason: String,
        /// The offset of the first valid fragment at or after `offset`, if
        /// any. `None`: nothing valid follows the damage, so in the last
        /// segment it is a torn tail; `Some`: complete, checksummed data
        /// follows, which only corruption leaves behind.
        valid_after: Option<u64>,
    },
}

/// The contents of one segment, as [`read_segment_bytes`] parsed them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentContents {
    /// The LSN of the first record (from the segment header).
    pub first_lsn: Lsn,
    /// The good records in order; record `i` has LSN `first_lsn + i`.
    pub records: Vec<Vec<u8>>,
    /// Whether the segment ended cleanly.
    pub end: SegmentEnd,
}

/// Parses the bytes of a whole segment file (for tools and fuzzing).
///
/// A damaged or incomplete header is an error ([`WalError::Corruption`](crate::WalError::Corruption)
/// with the path `<memory>`); damage after the header ends the record list
/// and is described in [`SegmentContents::end`]. Never panics.
///
/// ```
/// let bytes = strata_wal::encode_segment_bytes(1, 7, &[b"a", b"bc"]);
/// let seg = strata_wal::read_segment_bytes(&bytes).unwrap();
/// assert_eq!(seg.first_lsn, 7);
/// assert_eq!(seg.records, vec![b"a".to_vec(), b"bc".to_vec()]);
/// assert_eq!(seg.end, strata_wal::SegmentEnd::Clean);
/// ```
pub fn read_segment_bytes(bytes: &[u8]) -> Result<SegmentContents, crate::WalError> {
    let memory = std::path::Path::new("<memory>");
    let header = match read_header(&bytes).map_err(|e| crate::WalError::io(memory, e))? {
        HeaderState::Valid(h) => h,
        HeaderState::TornCreation => {
            return Err(crate::WalError::corruption(
                memory,
                0,
                format!(
                    "incomplete segment header ({} bytes, all zero or shorter than {SEGMENT_HEADER_SIZE})",
                    bytes.len()
                ),
            ));
        }
        HeaderState::Bad((offset, reason)) => {
            return Err(crate::WalError::corruption(memory, offset, reason));
        }
    };
    let first_lsn = header.first_lsn;
    let mut reader = SegmentReader::new(bytes, header.version, header.seed);
    let mut records = Vec::new();
    let mut good_len = SEGMENT_HEADER_SIZE as u64;
    let mut buf = Vec::new();
    loop {
        match reader.next_record(Some(&mut buf)) {
            Ok(Some(end)) => {
                records.push(std::mem::take(&mut buf));
                good_len = end;
            }
            Ok(None) => {
                return Ok(SegmentContents {
                    first_lsn,
                    records,
                    end: SegmentEnd::Clean,
                });
            }
            Err(ScanError::Corrupt { offset, reason }) => {
                let valid_after = find_valid_fragment(&bytes, offset, false, header.seed)
                    .map_err(|e| crate::WalError::io(memory, e))?;
                return Ok(SegmentContents {
                    first_lsn,
                    records,
                    end: SegmentEnd::Corrupt {
                        offset,
                        good_len,
                        reason,
                        valid_after,
                    },
                });
            }
            Err(ScanError::Io(e)) => return Err(crate::WalError::io(memory, e)),
        }
    }
}

/// Encodes segment `number` holding `records`, the first with LSN
/// `first_lsn`, exactly as a cleanly closed log leaves it: the header and
/// the records (for tools and tests). An open log also keeps an end marker
/// (zeros) after its last record, and its file may be longer (preallocated
/// zeros, or a recycled file's old bytes).
///
/// ```
/// let bytes = strata_wal::encode_segment_bytes(3, 10, &[b"x"]);
/// // Header (32), one fragment (8 + 1).
/// assert_eq!(bytes.len(), 32 + 9);
/// ```
pub fn encode_segment_bytes(number: u64, first_lsn: Lsn, records: &[&[u8]]) -> Vec<u8> {
    let seed = crate::format::segment_tag(number);
    let mut out = encode_segment_header(first_lsn, seed, 0).to_vec();
    let mut offset = SEGMENT_HEADER_SIZE as u64;
    for r in records {
        frame_record(&mut out, &mut offset, r, Some(seed));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::FRAGMENT_HEADER_SIZE as H;

    /// A version-1 segment (no checksum seed, no end marker), as older
    /// writers left them.
    fn v1_segment(records: &[&[u8]]) -> Vec<u8> {
        let mut out = crate::format::encode_segment_header_v1(1).to_vec();
        let mut offset = SEGMENT_HEADER_SIZE as u64;
        for r in records {
            frame_record(&mut out, &mut offset, r, None);
        }
        out
    }

    fn roundtrip(records: &[Vec<u8>]) {
        let refs: Vec<&[u8]> = records.iter().map(|r| &r[..]).collect();
        for bytes in [v1_segment(&refs), encode_segment_bytes(77, 1, &refs)] {
            let seg = read_segment_bytes(&bytes).unwrap();
            assert_eq!(seg.end, SegmentEnd::Clean);
            assert_eq!(seg.records.len(), records.len());
            for (a, b) in seg.records.iter().zip(records) {
                assert_eq!(a, b);
            }
        }
    }

    fn numbered(n: usize, len: usize, salt: u8) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| (0..len).map(|j| (i * 7 + j) as u8 ^ salt).collect())
            .collect()
    }

    /// `bytes` with the end marker an open log keeps after its records.
    fn with_marker(mut bytes: Vec<u8>) -> Vec<u8> {
        let n = crate::format::end_marker_len(bytes.len() as u64);
        bytes.resize(bytes.len() + n, 0);
        bytes
    }

    /// Segment `new` written over the bytes of an older segment (a recycled
    /// file): the old records after the new ones never count.
    fn overlay(old: &[u8], new: &[u8]) -> Vec<u8> {
        let mut b = old.to_vec();
        if b.len() < new.len() {
            b.resize(new.len(), 0);
        }
        b[..new.len()].copy_from_slice(new);
        b
    }

    #[test]
    fn a_recycled_segment_ends_at_its_own_records() {
        for (count, len) in [(40usize, 100usize), (3, BLOCK_SIZE + 5), (1, 0)] {
            let old_recs = numbered(400, 333, 0x55);
            let old_refs: Vec<&[u8]> = old_recs.iter().map(|r| &r[..]).collect();
            let old = encode_segment_bytes(4, 1, &old_refs);
            let new_recs = numbered(count, len, 0xaa);
            let new_refs: Vec<&[u8]> = new_recs.iter().map(|r| &r[..]).collect();
            let new = with_marker(encode_segment_bytes(9, 500, &new_refs));
            let bytes = overlay(&old, &new);
            let seg = read_segment_bytes(&bytes).unwrap();
            assert_eq!(seg.end, SegmentEnd::Clean, "{count} x {len}");
            assert_eq!(seg.records, new_recs);
            // A crash that tore the last new record (its end marker never
            // written): a torn tail, with no old fragment taken for valid data.
            let torn = overlay(&old, &new[..new.len() - 12]);
            let seg = read_segment_bytes(&torn).unwrap();
            assert_eq!(seg.records.len(), count - 1);
            match seg.end {
                SegmentEnd::Corrupt { valid_after, .. } => assert_eq!(valid_after, None),
                SegmentEnd::Clean => panic!("a torn record read as clean"),
            }
            // A crash that tore the end marker after the last record: clean.
            let records_end = new.len()
                - crate::format::end_marker_len(
                    encode_segment_bytes(9, 500, &new_refs).len() as u64
                );
            for cut in records_end..new.len() {
                let seg = read_segment_bytes(&new[..cut]).unwrap();
                assert_eq!(seg.end, SegmentEnd::Clean, "marker cut at {cut}");
                assert_eq!(seg.records, new_recs);
            }
            // The same segment number again would see the old records: the
            // writer never reuses a number.
            let same = with_marker(encode_segment_bytes(4, 500, &new_refs));
            let seg = read_segment_bytes(&overlay(&old, &same)).unwrap();
            assert!(matches!(
                seg.end,
                SegmentEnd::Corrupt {
                    valid_after: Some(_),
                    ..
                }
            ));
        }
    }

    #[test]
    fn preallocated_zeros_end_a_segment_and_a_zeroed_header_before_data_is_corruption() {
        let recs = numbered(30, 700, 1);
        let refs: Vec<&[u8]> = recs.iter().map(|r| &r[..]).collect();
        let mut bytes = encode_segment_bytes(2, 1, &refs);
        let end = bytes.len();
        bytes.resize(256 << 10, 0);
        let seg = read_segment_bytes(&bytes).unwrap();
        assert_eq!(seg.end, SegmentEnd::Clean);
        assert_eq!(seg.records.len(), 30);
        // Cut at the end of the records, or after a whole zero header: clean.
        for cut in [end, end + 8, end + 9, 100 << 10] {
            let seg = read_segment_bytes(&bytes[..cut]).unwrap();
            assert_eq!(seg.end, SegmentEnd::Clean, "cut {cut}");
        }
        // Zeroing the header of record 10 hides 20 good records: corruption.
        let mut off = SEGMENT_HEADER_SIZE as u64;
        let mut scratch = Vec::new();
        for r in &refs[..10] {
            frame_record(&mut scratch, &mut off, r, Some(2));
        }
        let at = usize::try_from(off).unwrap();
        bytes[at..at + 8].fill(0);
        let seg = read_segment_bytes(&bytes).unwrap();
        assert_eq!(seg.records.len(), 10);
        match seg.end {
            SegmentEnd::Corrupt {
                offset,
                valid_after,
                ..
            } => {
                assert_eq!(offset, off);
                assert!(valid_after.is_some());
            }
            SegmentEnd::Clean => panic!("zeroed header accepted as the end"),
        }
    }

    #[test]
    fn empty_and_tiny_records() {
        roundtrip(&[]);
        roundtrip(&[vec![]]);
        roundtrip(&[vec![1]]);
        roundtrip(&[vec![], vec![], vec![9], vec![]]);
    }

    #[test]
    fn records_at_block_boundaries() {
        let first_room = BLOCK_SIZE - SEGMENT_HEADER_SIZE - H;
        for delta in [-9i64, -8, -7, -1, 0, 1, 7, 8, 9] {
            let n = (first_room as i64 + delta) as usize;
            // One record around the first block's capacity, then small ones
            // that land in the trailer region or at a block start.
            roundtrip(&[vec![0xab; n], vec![], vec![1, 2, 3]]);
            roundtrip(&[vec![0xcd; n], vec![0xef; BLOCK_SIZE - H]]);
        }
        roundtrip(&vec![vec![5; BLOCK_SIZE - H]; 4]);
        roundtrip(&vec![vec![6; BLOCK_SIZE]; 3]);
    }

    #[test]
    fn multi_block_records() {
        let big: Vec<u8> = (0..(BLOCK_SIZE * 3 + 17))
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        roundtrip(&[vec![1; 10], big.clone(), vec![], big]);
    }

    #[test]
    fn exact_fill_leaves_no_padding() {
        let first_room = BLOCK_SIZE - SEGMENT_HEADER_SIZE - H;
        let bytes = v1_segment(&[&vec![0; first_room], b"x"]);
        assert_eq!(bytes.len(), BLOCK_SIZE + H + 1);
        assert_eq!(bytes[BLOCK_SIZE + 6], TYPE_FULL);
    }

    #[test]
    fn trailer_padding_must_be_zero() {
        let first_room = BLOCK_SIZE - SEGMENT_HEADER_SIZE - H;
        let mut bytes = v1_segment(&[&vec![0; first_room - 3], b"y"]);
        // 3 bytes of padding at BLOCK_SIZE-3.
        assert_eq!(&bytes[BLOCK_SIZE - 3..BLOCK_SIZE], &[0, 0, 0]);
        bytes[BLOCK_SIZE - 2] = 1;
        let seg = read_segment_bytes(&bytes).unwrap();
        assert_eq!(seg.records.len(), 1);
        match seg.end {
            SegmentEnd::Corrupt {
                offset, good_len, ..
            } => {
                assert_eq!(offset, (BLOCK_SIZE - 2) as u64);
                assert_eq!(good_len, (BLOCK_SIZE - 3) as u64);
            }
            SegmentEnd::Clean => panic!("padding damage not detected"),
        }
    }

    #[test]
    fn partial_padding_at_end_is_clean() {
        let first_room = BLOCK_SIZE - SEGMENT_HEADER_SIZE - H;
        let bytes = v1_segment(&[&vec![0; first_room - 3], b"y"]);
        for cut in BLOCK_SIZE - 3..=BLOCK_SIZE {
            let seg = read_segment_bytes(&bytes[..cut]).unwrap();
            assert_eq!(seg.end, SegmentEnd::Clean, "cut {cut}");
            assert_eq!(seg.records.len(), 1);
        }
    }

    #[test]
    fn unknown_flags_and_types_are_corruption() {
        for (at, value, what) in [(7usize, 1u8, "flags"), (6, 9, "type"), (6, 0, "type")] {
            let mut bytes = v1_segment(&[b"hello"]);
            let start = SEGMENT_HEADER_SIZE;
            bytes[start + at] = value;
            // Recompute the checksum so only the field check can catch it.
            let crc = fragment_crc(
                None,
                &bytes[start + 4..start + 8],
                &bytes[start + 8..start + 13],
            );
            bytes[start..start + 4].copy_from_slice(&crc.to_le_bytes());
            let seg = read_segment_bytes(&bytes).unwrap();
            assert!(seg.records.is_empty());
            match seg.end {
                SegmentEnd::Corrupt { reason, .. } => assert!(reason.contains(what), "{reason}"),
                SegmentEnd::Clean => panic!("{what} not rejected"),
            }
        }
    }

    /// A fragment with a valid checksum.
    fn fragment(kind: u8, payload: &[u8]) -> Vec<u8> {
        let len = (payload.len() as u16).to_le_bytes();
        let mut f = vec![0, 0, 0, 0, len[0], len[1], kind, 0];
        f.extend_from_slice(payload);
        let crc = fragment_crc(None, &f[4..8], payload);
        f[0..4].copy_from_slice(&crc.to_le_bytes());
        f
    }

    fn expect_corrupt(bytes: &[u8], records: usize, what: &str) {
        let seg = read_segment_bytes(bytes).unwrap();
        assert_eq!(seg.records.len(), records, "{what}");
        match seg.end {
            SegmentEnd::Corrupt { reason, .. } => assert!(reason.contains(what), "{reason}"),
            SegmentEnd::Clean => panic!("{what}: accepted"),
        }
    }

    #[test]
    fn bad_fragment_sequences_are_corruption() {
        let base = v1_segment(&[b"a"]);
        let mut b = base.clone();
        b.extend(fragment(TYPE_LAST, b"tail"));
        expect_corrupt(&b, 1, "LAST fragment without a FIRST");
        let mut b = base.clone();
        b.extend(fragment(TYPE_MIDDLE, b"mid"));
        expect_corrupt(&b, 1, "MIDDLE fragment without a FIRST");
        // A FIRST that does not fill its block.
        let mut b = base.clone();
        b.extend(fragment(TYPE_FIRST, b"head"));
        expect_corrupt(&b, 1, "does not fill its block");
        // A FIRST filling block 0, then FULL where a MIDDLE/LAST belongs.
        let mut b = v1_segment(&[]);
        b.extend(fragment(
            TYPE_FIRST,
            &vec![1; BLOCK_SIZE - SEGMENT_HEADER_SIZE - H],
        ));
        b.extend(fragment(TYPE_FULL, b"x"));
        expect_corrupt(&b, 0, "unfinished");
        // ... or a MIDDLE that does not fill block 1.
        let mut b = v1_segment(&[]);
        b.extend(fragment(
            TYPE_FIRST,
            &vec![1; BLOCK_SIZE - SEGMENT_HEADER_SIZE - H],
        ));
        b.extend(fragment(TYPE_MIDDLE, b"x"));
        expect_corrupt(&b, 0, "MIDDLE fragment does not fill");
        // ... and the same with a proper LAST is a good record.
        let mut b = v1_segment(&[]);
        b.extend(fragment(
            TYPE_FIRST,
            &vec![1; BLOCK_SIZE - SEGMENT_HEADER_SIZE - H],
        ));
        b.extend(fragment(TYPE_LAST, b"x"));
        let seg = read_segment_bytes(&b).unwrap();
        assert_eq!(seg.end, SegmentEnd::Clean);
        assert_eq!(
            seg.records[0].len(),
            BLOCK_SIZE - SEGMENT_HEADER_SIZE - H + 1
        );
        // A length that overruns the block.
        let mut b = base.clone();
        let mut f = fragment(TYPE_FULL, b"z");
        f[4..6].copy_from_slice(&(BLOCK_SIZE as u16 - 8).to_le_bytes());
        b.extend(f);
        expect_corrupt(&b, 1, "overruns");
        // A zero-filled tail.
        let mut b = base;
        b.extend([0u8; 20]);
        expect_corrupt(&b, 1, "zero-filled");
    }

    #[test]
    fn header_problems_are_errors() {
        assert!(read_segment_bytes(&[]).is_err());
        assert!(read_segment_bytes(&[0u8; 40]).is_err());
        let mut b = v1_segment(&[b"x"]);
        b[3] ^= 0x40;
        let e = read_segment_bytes(&b).unwrap_err();
        assert!(e.to_string().contains("checksum"), "{e}");
    }
}
