//! Checking a whole segment for a scrub: the header, every record, and —
//! where the records stop — whether intact fragments follow the damage (so
//! that it cannot be a torn tail) or not.
//!
//! Read-only: tools (the engine's `Db::verify`, the CLI's `verify`) use it;
//! it classifies damage by the same rule as recovery (`reader::find_valid_fragment`).

use crate::Lsn;
use crate::format::SEGMENT_HEADER_SIZE;
use crate::reader::{HeaderState, ScanError, SegmentReader, find_valid_fragment, read_header};
use crate::segment::parse_segment_name;

/// What is wrong with a part of a segment, as [`scan_segment_bytes`] classifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SegmentDamageKind {
    /// The segment header is damaged (bad magic, checksum, version, ...).
    Header,
    /// The file is shorter than a header, or the header and everything after
    /// it are zero: the segment's creation was torn by a crash (no record can
    /// be in it).
    TornCreation,
    /// The records stop at bad or incomplete bytes and no intact fragment
    /// follows them: what a crash during an unsynced append leaves (or a
    /// damaged last fragment, which looks the same).
    TornTail,
    /// The records stop at bad bytes but an intact, checksummed fragment
    /// follows them: not something a crash can leave.
    Corruption {
        /// File offset of the first intact fragment after the damage.
        next_valid: u64,
    },
}

/// One problem found in a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentDamage {
    /// File offset of the damaged bytes (of the fragment, header field or
    /// padding byte).
    pub offset: u64,
    /// How the damage is classified.
    pub kind: SegmentDamageKind,
    /// What was wrong.
    pub reason: String,
}

/// The result of [`scan_segment_bytes`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SegmentScan {
    /// The first LSN, from the header (`None` when the header is damaged or
    /// incomplete).
    pub first_lsn: Option<Lsn>,
    /// Complete, checksummed records before the first damaged byte.
    pub records: u64,
    /// The end of the last good record (or of the header): where recovery
    /// would cut the segment.
    pub good_len: u64,
    /// The number of bytes scanned.
    pub len: u64,
    /// What is wrong, in file order: at most one header problem and one
    /// problem in the records. Empty for a clean segment.
    pub damage: Vec<SegmentDamage>,
    /// The format version, from a valid header.
    pub version: Option<u32>,
    /// The segment's tag (the low 32 bits of its number), from a valid
    /// version-2 or later header.
    pub tag: Option<u32>,
    /// The header says the segment before this one still had unsynced
    /// records when this one was started (version 3), so a power loss may
    /// have torn that segment's tail (see `docs/wal-format.md`).
    pub predecessor_unsynced: bool,
}

/// True when `bytes`, the start of segment `number`'s file, begin with what a
/// power loss leaves of a version-3 header written over a blank spare and
/// not yet synced: leading bytes of this segment's header, then zeros to the
/// end of the header. Recovery deletes such a segment when it is the newest
/// and follows a version-3 segment (a torn creation).
///
/// ```
/// let mut bytes = strata_wal::encode_segment_bytes(7, 1, &[b"x"]);
/// assert!(!strata_wal::segment_header_torn(&bytes, 7));
/// bytes[28..32].fill(0); // the checksum never written
/// assert!(strata_wal::segment_header_torn(&bytes, 7));
/// assert!(!strata_wal::segment_header_torn(&bytes, 8));
/// ```
pub fn segment_header_torn(bytes: &[u8], number: u64) -> bool {
    crate::recovery::torn_header(&bytes, number).unwrap_or(false)
}

/// The segment number in a segment file name (`000042.wal` is 42), or
/// `None` if `name` is not a segment's name.
///
/// ```
/// assert_eq!(strata_wal::segment_number("000042.wal"), Some(42));
/// assert_eq!(strata_wal::segment_number("wal.lock"), None);
/// ```
pub fn segment_number(name: &str) -> Option<u64> {
    parse_segment_name(name)
}

/// The old segment number in the file name of a *spare* (`NNNNNN.spare`: a
/// retired segment kept for reuse, which recovery does not read), if `name`
/// is one.
///
/// ```
/// assert_eq!(strata_wal::spare_number("000007.spare"), Some(7));
/// assert_eq!(strata_wal::spare_number("000007.wal"), None);
/// ```
pub fn spare_number(name: &str) -> Option<u64> {
    crate::segment::parse_spare_name(name)
}

/// Checks every byte of a segment file: the header, then every record
/// (fragment checksums, structure, zero block padding) to the end. Where the
/// records stop before the end, searches the rest of the file for an intact
/// fragment, so that damage with valid data after it is told apart from a
/// torn tail. Never panics; does not modify anything.
///
/// ```
/// use strata_wal::{SegmentDamageKind, encode_segment_bytes, scan_segment_bytes};
///
/// let mut bytes = encode_segment_bytes(1, 5, &[b"one", b"two", b"three"]);
/// assert!(scan_segment_bytes(&bytes).damage.is_empty());
///
/// // A cut through the last record is a torn tail ...
/// let torn = scan_segment_bytes(&bytes[..bytes.len() - 2]);
/// assert_eq!(torn.records, 2);
/// assert_eq!(torn.damage[0].kind, SegmentDamageKind::TornTail);
///
/// // ... a flipped byte in the first record, which intact records follow, is not.
/// bytes[32 + 8] ^= 1;
/// let bad = scan_segment_bytes(&bytes);
/// assert_eq!(bad.first_lsn, Some(5));
/// assert_eq!(bad.records, 0);
/// assert_eq!(bad.damage[0].offset, 32);
/// assert!(matches!(bad.damage[0].kind, SegmentDamageKind::Corruption { .. }));
/// ```
pub fn scan_segment_bytes(bytes: &[u8]) -> SegmentScan {
    let len = bytes.len() as u64;
    let mut scan = SegmentScan {
        first_lsn: None,
        records: 0,
        good_len: (SEGMENT_HEADER_SIZE as u64).min(len),
        len,
        damage: Vec::new(),
        version: None,
        tag: None,
        predecessor_unsynced: false,
    };
    // With a damaged header, read on as its version field says (best effort).
    let mut seed = crate::reader::seed_guess(&bytes);
    let mut version = if seed.is_some() { 2 } else { 1 };
    match read_header(&bytes) {
        Ok(HeaderState::Valid(h)) => {
            scan.first_lsn = Some(h.first_lsn);
            version = h.version;
            seed = h.seed;
            scan.version = Some(h.version);
            scan.tag = h.seed;
            scan.predecessor_unsynced = h.predecessor_unsynced();
        }
        Ok(HeaderState::TornCreation) => {
            scan.good_len = 0;
            scan.damage.push(SegmentDamage {
                offset: 0,
                kind: SegmentDamageKind::TornCreation,
                reason: format!(
                    "incomplete segment header ({len} bytes, all zero or shorter than {SEGMENT_HEADER_SIZE})"
                ),
            });
            return scan;
        }
        Ok(HeaderState::Bad((offset, reason))) => scan.damage.push(SegmentDamage {
            offset,
            kind: SegmentDamageKind::Header,
            reason,
        }),
        // Reading a slice cannot fail; report it as damage all the same.
        Err(e) => scan.damage.push(SegmentDamage {
            offset: 0,
            kind: SegmentDamageKind::Header,
            reason: e.to_string(),
        }),
    }
    let mut reader = SegmentReader::new(bytes, version, seed);
    loop {
        match reader.next_record(None) {
            Ok(Some(end)) => {
                scan.records += 1;
                scan.good_len = end;
            }
            Ok(None) => return scan,
            Err(ScanError::Corrupt { offset, reason }) => {
                // The same rule recovery applies: intact data after the damage
                // is corruption, nothing intact after it a torn tail.
                let kind = match find_valid_fragment(&bytes, offset, false, seed) {
                    Ok(Some(next_valid)) => SegmentDamageKind::Corruption { next_valid },
                    Ok(None) | Err(_) => SegmentDamageKind::TornTail,
                };
                scan.damage.push(SegmentDamage {
                    offset,
                    kind,
                    reason,
                });
                return scan;
            }
            Err(ScanError::Io(e)) => {
                scan.damage.push(SegmentDamage {
                    offset: reader.file_len().min(scan.good_len),
                    kind: SegmentDamageKind::TornTail,
                    reason: e.to_string(),
                });
                return scan;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode_segment_bytes;
    use crate::format::BLOCK_SIZE;

    fn records(n: usize, size: usize) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| (0..size).map(|j| (i * 7 + j) as u8).collect())
            .collect()
    }

    fn segment(recs: &[Vec<u8>]) -> Vec<u8> {
        let refs: Vec<&[u8]> = recs.iter().map(|r| &r[..]).collect();
        encode_segment_bytes(1, 1, &refs)
    }

    #[test]
    fn clean_segments() {
        for recs in [records(0, 0), records(3, 10), records(4, BLOCK_SIZE + 100)] {
            let bytes = segment(&recs);
            let s = scan_segment_bytes(&bytes);
            assert_eq!(s.first_lsn, Some(1));
            assert_eq!(s.records, recs.len() as u64);
            assert_eq!(s.good_len, bytes.len() as u64);
            assert!(s.damage.is_empty(), "{:?}", s.damage);
        }
    }

    #[test]
    fn every_truncation_is_a_torn_tail_or_clean() {
        let bytes = segment(&records(5, 3000));
        for cut in SEGMENT_HEADER_SIZE..bytes.len() {
            let s = scan_segment_bytes(&bytes[..cut]);
            for d in &s.damage {
                assert_eq!(d.kind, SegmentDamageKind::TornTail, "cut {cut}: {d:?}");
                assert!(d.offset >= s.good_len && d.offset <= cut as u64);
            }
        }
        for cut in 0..SEGMENT_HEADER_SIZE {
            let s = scan_segment_bytes(&bytes[..cut]);
            assert_eq!(s.damage[0].kind, SegmentDamageKind::TornCreation);
        }
    }

    /// A flipped byte anywhere but the last record is corruption, with the
    /// offset of the damaged fragment (or header field) and the next intact
    /// fragment after it.
    #[test]
    fn flips_before_the_last_record_are_corruption() {
        let recs = records(12, 5000); // crosses blocks: FIRST/LAST fragments
        let bytes = segment(&recs);
        let last_start = {
            let head = segment(&recs[..recs.len() - 1]);
            head.len()
        };
        for pos in (0..last_start).step_by(7) {
            let mut bad = bytes.clone();
            bad[pos] ^= 0x10;
            let s = scan_segment_bytes(&bad);
            assert!(!s.damage.is_empty(), "flip at {pos} undetected");
            let d = &s.damage[0];
            if pos < SEGMENT_HEADER_SIZE {
                assert_eq!(d.kind, SegmentDamageKind::Header, "{pos}");
                continue;
            }
            match d.kind {
                SegmentDamageKind::Corruption { next_valid } => {
                    assert!(
                        d.offset <= pos as u64 && next_valid > d.offset,
                        "{pos}: {d:?}"
                    );
                }
                ref other => panic!("flip at {pos}: {other:?}"),
            }
            assert!(s.records < recs.len() as u64);
        }
    }

    #[test]
    fn header_damage_still_scans_the_records() {
        let mut bytes = segment(&records(3, 10));
        bytes[20] ^= 1; // first LSN
        let s = scan_segment_bytes(&bytes);
        assert_eq!(s.first_lsn, None);
        assert_eq!(s.records, 3);
        assert_eq!(s.damage.len(), 1);
        assert_eq!(s.damage[0].kind, SegmentDamageKind::Header);
    }
}
