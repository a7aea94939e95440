//! The on-disk layout: segment header, block and fragment framing, checksums.
//!
//! The prose specification is `docs/wal-format.md`; this module is its code.

use crate::Lsn;

/// Size of a block. Fragments never cross a block boundary, so a reader can
/// always resynchronise at the next multiple of this offset.
pub const BLOCK_SIZE: usize = 32 * 1024;

/// Size of a fragment header: masked CRC (4), length (2), type (1), flags (1).
pub const FRAGMENT_HEADER_SIZE: usize = 8;

/// Size of the segment header at offset 0 of every segment file.
pub const SEGMENT_HEADER_SIZE: usize = 32;

/// The eight bytes every segment file starts with.
pub const SEGMENT_MAGIC: [u8; 8] = *b"STRATAWL";

/// The segment format version this crate writes. It reads this one and
/// versions 1 and 2 (see `docs/wal-format.md`).
pub const FORMAT_VERSION: u32 = 3;

/// Segment header flag (version 3): when this segment was created, the
/// segment before it held records not yet fsynced. Recovery may then find
/// that segment's tail torn by a power loss, and this one's records (none of
/// them acknowledged as durable) are dropped with it.
pub(crate) const FLAG_PREDECESSOR_UNSYNCED: u16 = 1;

/// Segment header flags this version understands.
const KNOWN_HEADER_FLAGS: u16 = FLAG_PREDECESSOR_UNSYNCED;

/// The oldest segment format version this crate reads.
pub(crate) const OLDEST_READ_VERSION: u32 = 1;

/// Fragment type: a whole record in one fragment.
pub(crate) const TYPE_FULL: u8 = 1;
/// Fragment type: the first piece of a record that continues in the next block.
pub(crate) const TYPE_FIRST: u8 = 2;
/// Fragment type: an inner piece of a record.
pub(crate) const TYPE_MIDDLE: u8 = 3;
/// Fragment type: the final piece of a record.
pub(crate) const TYPE_LAST: u8 = 4;

/// Flag bits this version understands. None are defined yet (bit 0 is
/// reserved for compression, bit 1 for encryption); any set bit is corruption.
pub(crate) const KNOWN_FLAGS: u8 = 0;

const MASK_DELTA: u32 = 0xa282_ead8;

/// Masks a CRC the way LevelDB does, so that a CRC computed over data that
/// itself contains CRCs stays strong.
#[inline]
pub(crate) fn mask_crc(crc: u32) -> u32 {
    crc.rotate_right(15).wrapping_add(MASK_DELTA)
}

/// Inverse of [`mask_crc`].
#[cfg(test)]
pub(crate) fn unmask_crc(masked: u32) -> u32 {
    masked.wrapping_sub(MASK_DELTA).rotate_left(15)
}

/// The tag of segment `number`: its low 32 bits. A version-2 segment's
/// header holds it, and it seeds the checksum of every fragment of the
/// segment, so that fragments left in a recycled file by the segment it was
/// before never pass as this segment's.
pub(crate) fn segment_tag(number: u64) -> u32 {
    (number & u64::from(u32::MAX)) as u32
}

/// What a valid segment header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SegmentHeader {
    /// The LSN of the segment's first record.
    pub(crate) first_lsn: Lsn,
    /// The format version, 1 or 2.
    pub(crate) version: u32,
    /// Version 2 and later: the segment's tag (checksum seed); version 1: none.
    pub(crate) seed: Option<u32>,
    /// Version 3 header flags ([`FLAG_PREDECESSOR_UNSYNCED`]); 0 before.
    pub(crate) flags: u16,
}

impl SegmentHeader {
    /// True when the segment before this one may have had an unsynced tail
    /// when this one was created (see [`FLAG_PREDECESSOR_UNSYNCED`]).
    pub(crate) fn predecessor_unsynced(&self) -> bool {
        self.flags & FLAG_PREDECESSOR_UNSYNCED != 0
    }
}

/// Encodes the (version 3) header of a segment tagged `tag` whose first
/// record has `first_lsn`, with header `flags`.
pub(crate) fn encode_segment_header(
    first_lsn: Lsn,
    tag: u32,
    flags: u16,
) -> [u8; SEGMENT_HEADER_SIZE] {
    let mut h = [0u8; SEGMENT_HEADER_SIZE];
    h[0..8].copy_from_slice(&SEGMENT_MAGIC);
    h[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h[12..14].copy_from_slice(&(BLOCK_SIZE as u16).to_le_bytes());
    h[14..16].copy_from_slice(&flags.to_le_bytes());
    h[16..24].copy_from_slice(&first_lsn.to_le_bytes());
    h[24..28].copy_from_slice(&tag.to_le_bytes());
    let crc = mask_crc(crc32fast::hash(&h[0..28]));
    h[28..32].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Encodes a version-1 header (for tests of reading old logs).
#[cfg(test)]
pub(crate) fn encode_segment_header_v1(first_lsn: Lsn) -> [u8; SEGMENT_HEADER_SIZE] {
    let mut h = encode_segment_header(first_lsn, 0, 0);
    h[8..12].copy_from_slice(&1u32.to_le_bytes());
    let crc = mask_crc(crc32fast::hash(&h[0..28]));
    h[28..32].copy_from_slice(&crc.to_le_bytes());
    h
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Why a segment header was rejected: `(offset within the header, reason)`.
pub(crate) type HeaderFault = (u64, String);

/// Decodes and verifies a segment header.
pub(crate) fn decode_segment_header(
    h: &[u8; SEGMENT_HEADER_SIZE],
) -> Result<SegmentHeader, HeaderFault> {
    let stored = u32_at(h, 28);
    let computed = mask_crc(crc32fast::hash(&h[0..28]));
    if stored != computed {
        return Err((
            28,
            format!(
                "segment header checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"
            ),
        ));
    }
    if h[0..8] != SEGMENT_MAGIC {
        return Err((
            0,
            format!(
                "bad magic number: expected {:02x?}, found {:02x?}",
                SEGMENT_MAGIC,
                &h[0..8]
            ),
        ));
    }
    let version = u32_at(h, 8);
    if !(OLDEST_READ_VERSION..=FORMAT_VERSION).contains(&version) {
        return Err((
            8,
            format!(
                "unsupported format version {version} (this reader knows {OLDEST_READ_VERSION} to {FORMAT_VERSION})"
            ),
        ));
    }
    // Versions 1 and 2 hold the block size as a `u32`; version 3 as a `u16`
    // followed by 16 bits of flags. 32768 fits both, so the two layouts
    // agree byte for byte when no flag is set.
    let block = u16::from_le_bytes([h[12], h[13]]);
    let flags = u16::from_le_bytes([h[14], h[15]]);
    if usize::from(block) != BLOCK_SIZE || (version < 3 && flags != 0) {
        let found = u32_at(h, 12);
        return Err((
            12,
            format!("unsupported block size {found} (expected {BLOCK_SIZE})"),
        ));
    }
    if flags & !KNOWN_HEADER_FLAGS != 0 {
        return Err((14, format!("unknown segment header flags {flags:#06x}")));
    }
    let tag = u32_at(h, 24);
    if version == 1 && tag != 0 {
        return Err((24, format!("reserved header field is {tag:#x}, expected 0")));
    }
    let first_lsn = u64_at(h, 16);
    if first_lsn == 0 {
        return Err((16, "first LSN is 0 (LSNs start at 1)".to_owned()));
    }
    Ok(SegmentHeader {
        first_lsn,
        version,
        seed: (version >= 2).then_some(tag),
        flags,
    })
}

/// Decodes a fragment header: `(masked crc, payload length, type, flags)`.
#[inline]
pub(crate) fn decode_fragment_header(h: &[u8]) -> (u32, usize, u8, u8) {
    let crc = u32_at(h, 0);
    let len = usize::from(u16::from_le_bytes([h[4], h[5]]));
    (crc, len, h[6], h[7])
}

/// The checksum stored in a fragment header: CRC32 (IEEE) over the
/// segment's tag (4 bytes, little-endian; version 2 only: `seed`), header
/// bytes 4..8 (length, type, flags) and the payload, masked.
#[inline]
pub(crate) fn fragment_crc(seed: Option<u32>, header_tail: &[u8], payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    if let Some(tag) = seed {
        h.update(&tag.to_le_bytes());
    }
    h.update(header_tail);
    h.update(payload);
    mask_crc(h.finalize())
}

const ZEROS: [u8; FRAGMENT_HEADER_SIZE] = [0; FRAGMENT_HEADER_SIZE];

/// Upper bound of the bytes [`frame_record`] appends for a payload of `len` bytes.
#[inline]
pub(crate) fn framed_size_bound(len: usize) -> usize {
    let per_block = BLOCK_SIZE - FRAGMENT_HEADER_SIZE;
    len + (len / per_block + 2) * (FRAGMENT_HEADER_SIZE * 2)
}

/// Frames one record into `out`, as it will appear at segment offset `*offset`
/// (which is advanced): zero padding when fewer than a header's bytes are left
/// in the block, then one FULL fragment or FIRST, MIDDLE…, LAST fragments.
/// Allocation-free when `out` has capacity.
pub(crate) fn frame_record(out: &mut Vec<u8>, offset: &mut u64, payload: &[u8], seed: Option<u32>) {
    out.reserve(framed_size_bound(payload.len()));
    let mut left = payload;
    let mut first = true;
    loop {
        let mut block_off = (*offset % BLOCK_SIZE as u64) as usize;
        let leftover = BLOCK_SIZE - block_off;
        if leftover < FRAGMENT_HEADER_SIZE {
            out.extend_from_slice(&ZEROS[..leftover]);
            *offset += leftover as u64;
            block_off = 0;
        }
        let avail = BLOCK_SIZE - block_off - FRAGMENT_HEADER_SIZE;
        let n = left.len().min(avail);
        let last = n == left.len();
        let kind = match (first, last) {
            (true, true) => TYPE_FULL,
            (true, false) => TYPE_FIRST,
            (false, true) => TYPE_LAST,
            (false, false) => TYPE_MIDDLE,
        };
        let start = out.len();
        // n <= BLOCK_SIZE - 8 < 65536, so it fits the 16-bit length field.
        let len16 = (n as u16).to_le_bytes();
        out.extend_from_slice(&[0, 0, 0, 0, len16[0], len16[1], kind, 0]);
        out.extend_from_slice(&left[..n]);
        let crc = fragment_crc(seed, &out[start + 4..start + 8], &out[start + 8..]);
        out[start..start + 4].copy_from_slice(&crc.to_le_bytes());
        *offset += (FRAGMENT_HEADER_SIZE + n) as u64;
        left = &left[n..];
        first = false;
        if last {
            break;
        }
    }
}

/// The length of the end marker a version-2 writer keeps after its last
/// record at segment offset `offset`: zeros up to the end of the next
/// fragment header (across the block trailer, when fewer than a header's
/// bytes are left in the block).
#[inline]
pub(crate) fn end_marker_len(offset: u64) -> usize {
    let leftover = BLOCK_SIZE - (offset % BLOCK_SIZE as u64) as usize;
    if leftover < FRAGMENT_HEADER_SIZE {
        leftover + FRAGMENT_HEADER_SIZE
    } else {
        FRAGMENT_HEADER_SIZE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_roundtrip_and_differs() {
        for crc in [0u32, 1, 0xdead_beef, u32::MAX, 0x8000_0000] {
            assert_eq!(unmask_crc(mask_crc(crc)), crc);
            assert_ne!(mask_crc(crc), crc);
            assert_ne!(mask_crc(mask_crc(crc)), mask_crc(crc));
        }
    }

    #[test]
    fn crc32_is_ieee() {
        // The standard check value of CRC-32/ISO-HDLC (IEEE 802.3).
        assert_eq!(crc32fast::hash(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn header_roundtrip_and_each_field_checked() {
        let h = encode_segment_header(42, 7, FLAG_PREDECESSOR_UNSYNCED);
        let want = SegmentHeader {
            first_lsn: 42,
            version: 3,
            seed: Some(7),
            flags: FLAG_PREDECESSOR_UNSYNCED,
        };
        assert_eq!(decode_segment_header(&h), Ok(want));
        assert!(want.predecessor_unsynced());
        let plain = decode_segment_header(&encode_segment_header(42, 7, 0)).unwrap();
        assert!(!plain.predecessor_unsynced());
        let v1 = encode_segment_header_v1(42);
        let want_v1 = SegmentHeader {
            first_lsn: 42,
            version: 1,
            seed: None,
            flags: 0,
        };
        assert_eq!(decode_segment_header(&v1), Ok(want_v1));
        for i in 0..SEGMENT_HEADER_SIZE {
            for bit in 0..8 {
                let mut bad = h;
                bad[i] ^= 1 << bit;
                assert!(decode_segment_header(&bad).is_err(), "byte {i} bit {bit}");
            }
        }
        let reseal = |mut b: [u8; SEGMENT_HEADER_SIZE]| {
            let crc = mask_crc(crc32fast::hash(&b[0..28]));
            b[28..32].copy_from_slice(&crc.to_le_bytes());
            b
        };
        // A header with a valid checksum but wrong fields is still rejected.
        let mut v4 = h;
        v4[8] = 4;
        let err = decode_segment_header(&reseal(v4)).unwrap_err();
        assert_eq!(err.0, 8);
        assert!(err.1.contains("version 4"), "{}", err.1);
        // Unknown flag bits.
        let mut unknown = h;
        unknown[14] = 0x02;
        assert_eq!(decode_segment_header(&reseal(unknown)).unwrap_err().0, 14);
        // A version-2 header is a version-3 one without flags, byte for
        // byte; with a flag bit set it is a wrong block size.
        let mut v2 = encode_segment_header(42, 7, 0);
        v2[8] = 2;
        let v2 = reseal(v2);
        assert_eq!(&v2[12..16], &32768u32.to_le_bytes());
        assert_eq!(decode_segment_header(&v2).unwrap().version, 2);
        let mut v2_flagged = v2;
        v2_flagged[14] = 1;
        assert_eq!(
            decode_segment_header(&reseal(v2_flagged)).unwrap_err().0,
            12
        );
        // Version 1 keeps bytes 24..28 reserved (zero).
        let mut v1 = encode_segment_header_v1(42);
        v1[24] = 1;
        assert_eq!(decode_segment_header(&reseal(v1)).unwrap_err().0, 24);
    }

    #[test]
    fn frame_small_record_layout() {
        let mut out = Vec::new();
        let mut off = SEGMENT_HEADER_SIZE as u64;
        frame_record(&mut out, &mut off, b"abc", Some(9));
        assert_eq!(out.len(), 8 + 3);
        assert_eq!(off, (SEGMENT_HEADER_SIZE + 11) as u64);
        let (crc, len, ty, flags) = decode_fragment_header(&out);
        assert_eq!((len, ty, flags), (3, TYPE_FULL, 0));
        assert_eq!(crc, fragment_crc(Some(9), &out[4..8], b"abc"));
        // The tag seeds the checksum: another segment's tag does not match.
        assert_ne!(crc, fragment_crc(Some(10), &out[4..8], b"abc"));
        assert_ne!(crc, fragment_crc(None, &out[4..8], b"abc"));
        assert_eq!(&out[8..], b"abc");
    }

    #[test]
    fn frame_pads_short_block_tail() {
        let mut out = Vec::new();
        let mut off = (BLOCK_SIZE - 5) as u64;
        frame_record(&mut out, &mut off, b"", None);
        assert_eq!(&out[..5], &[0; 5]);
        assert_eq!(out.len(), 5 + 8);
        assert_eq!(off, (BLOCK_SIZE + 8) as u64);
        // Exactly a header's room left: a zero-length FULL fragment fits.
        let mut out = Vec::new();
        let mut off = (BLOCK_SIZE - 8) as u64;
        frame_record(&mut out, &mut off, b"", None);
        assert_eq!(out.len(), 8);
        assert_eq!(out[6], TYPE_FULL);
        assert_eq!(off, BLOCK_SIZE as u64);
    }

    #[test]
    fn frame_spans_blocks() {
        let payload = vec![7u8; BLOCK_SIZE * 2 + 100];
        let mut out = Vec::new();
        let mut off = 0u64;
        frame_record(&mut out, &mut off, &payload, None);
        let per = BLOCK_SIZE - 8;
        // FIRST fills block 0, MIDDLE fills block 1, LAST holds the rest.
        assert_eq!(out[6], TYPE_FIRST);
        assert_eq!(out[BLOCK_SIZE + 6], TYPE_MIDDLE);
        assert_eq!(out[2 * BLOCK_SIZE + 6], TYPE_LAST);
        let (_, last_len, _, _) = decode_fragment_header(&out[2 * BLOCK_SIZE..]);
        assert_eq!(last_len, payload.len() - 2 * per);
        assert_eq!(out.len(), 2 * BLOCK_SIZE + 8 + last_len);
        assert!(out.len() <= framed_size_bound(payload.len()));
    }
}
